#!/usr/bin/env python3
"""A stand-in for an OpenTelemetry collector: OTLP/HTTP with the JSON
encoding, POST /v1/traces (opentelemetry-proto's ExportTraceServiceRequest
in its JSON mapping).  Stdlib only.

Each POST is checked as a collector would read it; what arrived, and
whether it was well-formed, is kept for the test:

  GET  /__stub/received        [{"ok": bool, "problems": [...],
                                 "spans": [...], "content_type": ...}]
  POST /__stub/mode {"status": 500, "delay_ms": 3000}
                               how the next POSTs are answered

Usage: otlp_stub.py --port-file FILE  (the port it bound on 127.0.0.1)
"""

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()
RECEIVED = []
MODE = {"status": 200, "delay_ms": 0}
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")
NANOS = re.compile(r"^[0-9]{19}$")


def check(doc):
    """The problems of an ExportTraceServiceRequest, and its spans."""
    problems, spans = [], []
    rs = doc.get("resourceSpans") if isinstance(doc, dict) else None
    if not isinstance(rs, list) or not rs:
        return ["no resourceSpans"], spans
    for r in rs:
        attrs = r.get("resource", {}).get("attributes", [])
        if not any(a.get("key") == "service.name" for a in attrs):
            problems.append("resource without service.name")
        for ss in r.get("scopeSpans", []):
            for s in ss.get("spans", []):
                spans.append(s)
                if not HEX32.match(s.get("traceId", "")):
                    problems.append("traceId not 32 hex")
                if not HEX16.match(s.get("spanId", "")):
                    problems.append("spanId not 16 hex")
                if "parentSpanId" in s and not HEX16.match(s["parentSpanId"]):
                    problems.append("parentSpanId not 16 hex")
                for k in ("startTimeUnixNano", "endTimeUnixNano"):
                    if not NANOS.match(str(s.get(k, ""))):
                        problems.append(k + " not ns as a string")
                if int(s.get("endTimeUnixNano", 0)) < int(
                        s.get("startTimeUnixNano", 0)):
                    problems.append("ends before it starts")
                if s.get("kind") not in (1, 2, 3, 4, 5):
                    problems.append("bad kind")
                if not s.get("name"):
                    problems.append("no name")
                for a in s.get("attributes", []):
                    v = a.get("value", {})
                    if not ("stringValue" in v or "intValue" in v):
                        problems.append("attribute without a value")
    return problems, spans


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        if self.path == "/__stub/received":
            with LOCK:
                return self.reply(200, RECEIVED)
        self.reply(404, {})

    def do_POST(self):
        raw = self.body()
        if self.path == "/__stub/mode":
            with LOCK:
                MODE.update(json.loads(raw or b"{}"))
            return self.reply(200, MODE)
        if self.path != "/v1/traces":
            return self.reply(404, {})
        with LOCK:
            mode = dict(MODE)
        try:
            doc = json.loads(raw)
            problems, spans = check(doc)
        except ValueError:
            problems, spans = ["not JSON"], []
        ctype = self.headers.get("Content-Type")
        if ctype != "application/json":
            problems.append("content type " + str(ctype))
        with LOCK:
            RECEIVED.append({"ok": not problems, "problems": problems,
                             "spans": spans, "content_type": ctype,
                             "traceparent": self.headers.get("traceparent"),
                             "t": time.time()})
        if mode.get("delay_ms"):
            time.sleep(mode["delay_ms"] / 1000.0)
        self.reply(mode.get("status", 200), {})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    args = ap.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(args.port_file + ".tmp", "w") as f:
        f.write("%d\n" % srv.server_address[1])
    import os
    os.rename(args.port_file + ".tmp", args.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
