-- wrk script: POSTs the seed's enrollment payload, each request a distinct
-- delivery (its own patient id), so that every 200 must be one new job.
--   wrk -s bench/enrollment.lua <url> -- <payload.json>
-- On exit it prints "status <code> <count>" lines for the caller to check.
-- The loop is closed (each connection sends as soon as its answer comes):
-- the load at a fixed rate is bench/openloop.c's.

local threads = {}
local counter = 1

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1] or "../shared/fixtures/helparound/enrollment.json", "rb"))
  local body = f:read("*a")
  f:close()
  -- the id appears once as "id": "ha…"; everything before and after stays
  head, tail = body:match('^(.-"id": ")ha61236024160af(".*)$')
  assert(head, "patient id not found in the payload")
  n = 0
  statuses = {}
  -- distinct from every earlier run too: a repeated id would be a dedupe
  local seed = tonumber(os.getenv("CARESYNC_RUN") or "") or os.time()
  run = string.format("%04d", seed % 10000)
  math.randomseed(seed * 100 + tid)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  n = n + 1
  -- 15 characters like the seed's id: run (4), thread (2), sequence (8)
  local id = string.format("h%s%02d%08d", run, tid, n)
  return wrk.format(nil, nil, nil, head .. id .. tail)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    for code, c in pairs(s) do
      total[code] = (total[code] or 0) + c
    end
  end
  for code, c in pairs(total) do
    io.write(string.format("status %d %d\n", code, c))
  end
  io.write(string.format("latency_mean_us %d\n", latency.mean))
  io.write(string.format("latency_p50_us %d\n", latency:percentile(50)))
  io.write(string.format("latency_p99_us %d\n", latency:percentile(99)))
  io.write(string.format("requests %d\n", summary.requests))
  io.write(string.format("duration_us %d\n", summary.duration))
end
