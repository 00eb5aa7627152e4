-- The same work done the OpenResty way, for `make bench`: decode the body,
-- check the required fields of spec/inbound.md §1, XADD, answer the spec's
-- body.  Debian's libnginx-mod-http-lua, lua-nginx-redis, lua-cjson.

local cjson = require "cjson.safe"
local redis = require "nginx.redis"

redis.add_commands("xadd")

local function answer(status, t)
    ngx.status = status
    ngx.header["Content-Type"] = "application/json"
    ngx.print(cjson.encode(t))
end

local function bad(msg, pid)
    return answer(400, { errorMessage = msg, data = { patientId = pid } })
end

local function str(v)
    return type(v) == "string" and v ~= ""
end

ngx.req.read_body()

local body = ngx.req.get_body_data()
local doc = body and cjson.decode(body)

if type(doc) ~= "table" or type(doc.event) ~= "table" then
    return bad("body is not valid JSON")
end

local ev = doc.event
local p = type(ev.patient) == "table" and ev.patient or {}

if not str(ev.supportProgramId) then
    return bad("event.supportProgramId is required", p.id)
end
if not str(ev.sendDate)
   or not ev.sendDate:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%d")
then
    return bad("event.sendDate must be an ISO-8601 UTC date-time", p.id)
end
for _, f in ipairs({ "id", "phoneNumber", "firstName", "lastName" }) do
    if not str(p[f]) then
        return bad("event.patient." .. f .. " is required", p.id)
    end
end
if ev.eventName ~= "HelpAround.Patient.CompleteEnrollment" then
    return bad("event.eventName must be HelpAround.Patient.CompleteEnrollment",
               p.id)
end

local external = nil
if type(p.externalIds) == "table" and type(p.externalIds[1]) == "table" then
    external = p.externalIds[1].sourceId
end

local r = redis:new()
-- as caresync_redis timeout=10s in t/lib/Caresync/Bench/Servers.pm
r:set_timeout(10000)

-- "127.0.0.1:<port>" or "unix:<path>", as caresync's caresync_redis
local addr = ngx.var.caresync_redis
local ok
if addr:sub(1, 5) == "unix:" then
    ok = r:connect(addr)
else
    local host, port = addr:match("^(.*):(%d+)$")
    ok = r:connect(host, tonumber(port))
end
if not ok then
    return answer(503, { errorMessage = "temporarily unavailable" })
end

-- a stream of its own, so that caresync's accounting stays exact
local id = r:xadd("{bench}:openresty", "*", "job", body)
if not id then
    return answer(503, { errorMessage = "temporarily unavailable" })
end

r:set_keepalive(10000, 128)

answer(200, { success = true, data = {
    supportProgramId = ev.supportProgramId,
    patientId = p.id,
    externalId = external } })
