#!/usr/bin/env python3
"""Fakes of the three APIs the worker calls (spec/external-apis.md).

One process serves three apps, told apart by path:

  salesforce    /services/oauth2/token, /services/data/vXX.X/...
  hint          /api/provider/...
  healthsherpa  /v1/..., /v2/..., /oauth/token

They follow the documented protocol, errors included, so that the worker
is tested against the real shapes: Salesforce's error arrays, 401
INVALID_SESSION_ID, 403 REQUEST_LIMIT_EXCEEDED, Sforce-Limit-Info, upsert
201/200/300, query paging through nextRecordsUrl.

Control endpoints (for tests), JSON in and out:

  POST /__fake/reset                      forget state, rules, requests
  POST /__fake/inject  {rule}             fail matching requests, see below
  GET  /__fake/requests[?app=A]           what was received, oldest first
  GET  /__fake/stats                      most requests in flight at once
  POST /__fake/salesforce/contacts [..]   add contacts (Id assigned if none)
  GET  /__fake/salesforce/contacts        every contact
  GET  /__fake/salesforce/tasks           every Task created
  GET  /__fake/salesforce/content_versions  every File (ContentVersion)
  POST /__fake/salesforce/revoke          every issued token becomes invalid
  POST /__fake/config  {key: value}       latency_ms, sf_page_size,
                                          sf_case_insensitive, ...
  POST /__fake/hint/patients [..], POST /__fake/healthsherpa/contacts [..]

A rule: {"app": "salesforce", "method": "PATCH", "path": "regex",
"times": 1, "status": 503, "json": [...] | "body": "raw text",
"headers": {"Retry-After": "1"}, "latency_ms": 0, "truncate": false,
"close": false}.  Matching requests (app, method and path regex all
optional) get that answer instead, `times` times (-1: forever).

Usage: fake_apis.py --port 0 --port-file F [--latency-ms N] [--procs N]
[--bench] [--tls-cert PEM].  --procs forks N processes on one SO_REUSEPORT socket (state is
per process: for the benchmark).  --bench answers any contact id and any
query with a synthesized contact, so a benchmark needs no seeding.
Python 3 standard library only.
"""

import argparse
import json
import os
import re
import secrets
import socket
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import fake_healthsherpa  # issue 6 (same directory)

LOCK = threading.RLock()

SF_CLIENT_ID = "fake-client-id"
SF_CLIENT_SECRET = "fake-client-secret"
SF_REFRESH_TOKEN = "fake-refresh-token"
SF_USERNAME = "integration@example.org"
HINT_KEY = "fake-hint-key"
HS_KEY = "fake-hs-key"

SF_FIELDS = {
    "Id", "FirstName", "LastName", "MiddleName", "Suffix", "Salutation",
    "Birthdate", "Email", "Phone", "MobilePhone", "HomePhone", "OtherPhone",
    "MailingStreet", "MailingCity", "MailingState", "MailingPostalCode",
    "MailingCountry", "GenderIdentity", "AccountId",
    "Hint_Patient_Id__c", "Synced_To_Hint__c", "HealthSherpa_Contact_Id__c",
    "Medicare_Number__c", "HelpAround_Patient_Id__c",
    "Last_Batch_Sync_Id__c", "Hint_Practitioner__c", "Insurance_Payer__c",
    "Insurance_Group_Id__c", "Insurance_Member_Id__c",
    "Member_Contract_Accepted__c", "Member_Contract_Accepted_At__c",
    "HIPAA_Authorization_Accepted__c",
    "HIPAA_Authorization_Accepted_At__c", "Last_Tracker_View_At__c",
    "Partner_External_Id__c",
}
# issue 6: the HealthSherpa mapping's custom fields (cw_h_healthsherpa.c)
SF_FIELDS |= {
    "Medicare_Part_A_Effective_Date__c", "Medicare_Part_B_Effective_Date__c",
    "Medicaid_Eligible__c", "Medicaid_Number__c",
}
# issue 5: the HelpAround enrollment fields (docs/worker.md, cw_map.c)
SF_FIELDS |= {
    "HelpAround_Language__c", "HelpAround_Contact_Method__c",
    "HelpAround_Call_Time__c", "HelpAround_Caregiver_Name__c",
    "HelpAround_Caregiver_Relationship__c", "HelpAround_Caregiver_Phone__c",
    "HelpAround_Caregiver_Email__c", "HelpAround_Insurance_Card_Name__c",
    "HelpAround_Insurance_Card_Birthdate__c",
    "HelpAround_Insurance_Front_Id__c", "HelpAround_Insurance_Back_Id__c",
    "HelpAround_Secondary_Status__c", "HelpAround_Secondary_Payer__c",
    "HelpAround_Secondary_Member_Id__c", "HelpAround_Secondary_Group_Id__c",
    "HelpAround_Secondary_Card_Name__c",
    "HelpAround_Secondary_Card_Birthdate__c",
    "HelpAround_Secondary_Front_Id__c", "HelpAround_Secondary_Back_Id__c",
    "HelpAround_Consent_Communication__c",
    "HelpAround_Consent_Communication_At__c",
    "HelpAround_Consent_Share_PHI__c", "HelpAround_Consent_Share_PHI_At__c",
    "HelpAround_Signature_At__c", "HelpAround_Signature_Id__c",
}
# HelpAround media (issue 5): GET /helparound/media/<id> with X-API-Key
HA_MEDIA_KEY = "fake-ha-key"
SF_EXTERNAL_ID_FIELDS = {
    "HelpAround_Patient_Id__c", "Hint_Patient_Id__c",
    "HealthSherpa_Contact_Id__c", "Medicare_Number__c",
    "Partner_External_Id__c",
}
SF_CI_FIELDS = {"FirstName", "LastName"}   # issue 7: exact-match search
# issue 7: an org whose integration fields have other API names
# (POST /__fake/salesforce/fields {"Default__c": "Renamed__c", ...}; {}
# restores the defaults)
SF_FIELDS_DEFAULT = frozenset(SF_FIELDS)
ISO_DT = re.compile(
    r"^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})$")


class State:
    def __init__(self):
        self.reset()

    def reset(self):
        self.rules = []
        self.requests = []
        self.inflight = {}
        self.max_inflight = {}
        self.contacts = {}        # Salesforce, by Id
        self.tasks = []
        self.content_versions = []  # Salesforce Files (issue 5)
        self.tokens = set()
        self.cursors = {}
        self.hint_patients = {}
        self.hs_contacts = {}
        self.hs_fake = None       # issue 6: fake_healthsherpa.py
        self.api_usage = 0
        self.seq = 0
        self.config = {
            "latency_ms": ARGS.latency_ms if ARGS else 0,
            "sf_page_size": 2000,
            "sf_api_limit": 15000,
            "token_ttl_s": 0,
            # SOQL `=` and upsert by external id ignore case on every
            # text field not marked case-sensitive, as Salesforce does
            # (names always do: SF_CI_FIELDS)
            "sf_case_insensitive": False,
        }


STATE = None
ARGS = None


def sf_id(prefix="003"):
    with LOCK:
        STATE.seq += 1
        n = STATE.seq
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    s = ""
    v = n + 1000000 * os.getpid()
    for _ in range(12):
        s = alphabet[v % 62] + s
        v //= 62
    return prefix + s + "AAA"


def sf_datetime(v):
    """Salesforce stores date-times and returns them as ...+0000."""
    if not isinstance(v, str):
        return v
    m = ISO_DT.match(v)
    if not m:
        return v
    # normalize to UTC the simple way: only Z / +00:00 offsets are used here
    frac = (m.group(3) or ".000")[:4].ljust(4, "0")
    off = m.group(4)
    if off not in ("Z", "+00:00", "+0000", "-00:00"):
        import datetime as dt
        t = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
        t = t.astimezone(dt.timezone.utc)
        return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03d+0000" % (
            t.microsecond // 1000)
    return "%sT%s%s+0000" % (m.group(1), m.group(2), frac)


def sf_err(code, message, fields=None):
    return [{"message": message, "errorCode": code, "fields": fields or []}]


def soql_unescape(s):
    out, i = [], 0
    esc = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f",
           '"': '"', "'": "'", "\\": "\\"}
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            out.append(esc.get(s[i + 1], s[i + 1]))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>[\w\s,]+?)\s+FROM\s+Contact"
    r"(?:\s+WHERE\s+(?P<field>\w+)\s*=\s*'(?P<value>(?:[^'\\]|\\.)*)')?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$", re.I | re.S)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # headers and body are two writes: without this, Nagle + delayed ACK
    # add 40 ms to every answer
    disable_nagle_algorithm = True
    server_version = "fake-apis/1"

    def log_message(self, fmt, *args):
        if os.environ.get("FAKE_VERBOSE"):
            sys.stderr.write("fake: " + (fmt % args) + "\n")

    # ---- plumbing ----

    def _body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def send(self, status, obj=None, raw=None, headers=None, ctype=None):
        if raw is None:
            raw = b"" if obj is None else json.dumps(obj).encode()
            ctype = ctype or "application/json;charset=UTF-8"
        elif isinstance(raw, str):
            raw = raw.encode()
        self.send_response(status)
        if raw or status not in (204, 304):
            self.send_header("Content-Type", ctype or "text/plain")
        for k, v in (headers or {}).items():
            self.send_header(k, str(v))
        if self.app == "salesforce":
            with LOCK:
                STATE.api_usage += 1
                usage = STATE.api_usage
            self.send_header("Sforce-Limit-Info", "api-usage=%d/%d" % (
                usage, STATE.config["sf_api_limit"]))
        if status == 204:
            self.end_headers()
            return
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def handle_any(self, method):
        self.method = method
        url = urllib.parse.urlsplit(self.path)
        self.upath = url.path
        self.query = urllib.parse.parse_qs(url.query)
        self.raw_body = self._body()
        self.app = self.which_app(self.upath)

        if self.upath.startswith("/__fake/"):
            return self.control()

        try:
            body = json.loads(self.raw_body) if self.raw_body else None
        except ValueError:
            body = None
        self.jbody = body

        with LOCK:
            STATE.inflight[self.app] = STATE.inflight.get(self.app, 0) + 1
            STATE.max_inflight[self.app] = max(
                STATE.max_inflight.get(self.app, 0), STATE.inflight[self.app])
        try:
            return self.handle_app(method, url, body)
        finally:
            with LOCK:
                STATE.inflight[self.app] -= 1

    def handle_app(self, method, url, body):
        with LOCK:
            STATE.requests.append({
                "app": self.app, "method": method, "path": self.upath,
                "query": url.query, "body": self.raw_body.decode("utf-8",
                                                                 "replace"),
                "authorization": self.headers.get("Authorization"),
                "api_key": self.headers.get("X-API-Key"),
                "content_type": self.headers.get("Content-Type"),
                "host": self.headers.get("Host"),
                "traceparent": self.headers.get_all("traceparent"),
                "t": time.time(),
            })
            rule = self.match_rule()
            latency = STATE.config["latency_ms"]

        if rule and rule.get("latency_ms"):
            time.sleep(rule["latency_ms"] / 1000.0)
        elif latency:
            time.sleep(latency / 1000.0)

        if rule and rule.get("status"):
            return self.answer_rule(rule)

        try:
            if self.app == "salesforce":
                return self.salesforce()
            if self.app == "hint":
                return self.hint()
            if self.app == "healthsherpa":
                return self.healthsherpa()
            if self.app == "helparound":
                return self.helparound()
            return self.send(404, {"error": "no such app"})
        except Exception as e:  # a fake must never hang the client
            sys.stderr.write("fake: %r\n" % (e,))
            return self.send(500, sf_err("UNKNOWN_EXCEPTION", "fake: %s" % e))

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    @staticmethod
    def which_app(p):
        if p.startswith("/services/"):
            return "salesforce"
        if p.startswith("/api/provider/"):
            return "hint"
        if p.startswith(("/v1/", "/v2/", "/oauth/")):
            return "healthsherpa"
        if p.startswith("/helparound/"):
            return "helparound"
        return "control"

    def match_rule(self):
        for r in STATE.rules:
            if r.get("times", 1) == 0:
                continue
            if r.get("app") and r["app"] != self.app:
                continue
            if r.get("method") and r["method"] != self.method:
                continue
            # issue 6: "match_body": a substring the request body must hold
            if r.get("match_body") and r["match_body"] not in \
                    self.raw_body.decode("utf-8", "replace"):
                continue
            if r.get("path") and not re.search(r["path"], self.upath + (
                    "?" + urllib.parse.urlencode(self.query, doseq=True)
                    if self.query else "")):
                continue
            if r.get("times", 1) > 0:
                r["times"] = r.get("times", 1) - 1
            r["hits"] = r.get("hits", 0) + 1
            return dict(r)
        return None

    def answer_rule(self, r):
        if "json" in r:
            raw = json.dumps(r["json"]).encode()
            ctype = "application/json;charset=UTF-8"
        else:
            raw = r.get("body", "").encode()
            ctype = r.get("content_type", "text/html")
        if r.get("close"):
            self.close_connection = True
            self.wfile.write(b"")
            return
        if r.get("truncate"):
            # announce more than is sent, then hang up
            self.send_response(r["status"])
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(raw) + 100))
            for k, v in r.get("headers", {}).items():
                self.send_header(k, str(v))
            self.end_headers()
            self.wfile.write(raw[: max(1, len(raw) // 2)])
            self.wfile.flush()
            self.close_connection = True
            return
        self.send(r["status"], raw=raw, headers=r.get("headers"),
                  ctype=ctype)

    # ---- control ----

    def control(self):
        p, body = self.upath, None
        if self.raw_body:
            body = json.loads(self.raw_body)
        with LOCK:
            if p == "/__fake/reset":
                STATE.reset()
                return self.send(200, {"ok": True})
            if p == "/__fake/inject":
                rules = body if isinstance(body, list) else [body]
                STATE.rules.extend(rules)
                return self.send(200, {"ok": True})
            if p == "/__fake/stats":
                return self.send(200, {"max_inflight": STATE.max_inflight,
                                       "inflight": STATE.inflight})
            if p == "/__fake/rules":
                return self.send(200, STATE.rules)
            if p == "/__fake/requests":
                app = (self.query.get("app") or [None])[0]
                return self.send(200, [r for r in STATE.requests
                                       if app is None or r["app"] == app])
            if p == "/__fake/config":
                if body:
                    STATE.config.update(body)
                return self.send(200, STATE.config)
            if p == "/__fake/salesforce/contacts":
                if self.method == "POST":
                    out = []
                    for c in (body if isinstance(body, list) else [body]):
                        c = dict(c)
                        c.setdefault("Id", sf_id())
                        for k in list(c):
                            c[k] = sf_datetime(c[k])
                        STATE.contacts[c["Id"]] = c
                        out.append(c["Id"])
                    return self.send(200, out)
                return self.send(200, list(STATE.contacts.values()))
            if p == "/__fake/salesforce/fields":
                if self.method == "POST":
                    SF_FIELDS.clear()
                    SF_FIELDS.update(SF_FIELDS_DEFAULT - set(body or {}))
                    SF_FIELDS.update((body or {}).values())
                return self.send(200, sorted(SF_FIELDS))
            if p == "/__fake/salesforce/content_versions":
                return self.send(200, STATE.content_versions)
            if p == "/__fake/salesforce/tasks":
                return self.send(200, STATE.tasks)
            if p == "/__fake/salesforce/revoke":
                STATE.tokens.clear()
                return self.send(200, {"ok": True})
            if p == "/__fake/hint/patients":
                if self.method == "POST":
                    for c in (body if isinstance(body, list) else [body]):
                        c.setdefault("id", "pat-" + secrets.token_hex(6))
                        STATE.hint_patients[c["id"]] = c
                return self.send(200, list(STATE.hint_patients.values()))
            if p.startswith("/__fake/healthsherpa/") and \
                    p != "/__fake/healthsherpa/contacts":  # issue 6
                self.jbody = body
                return fake_healthsherpa.control(self, STATE, LOCK) or \
                    self.send(404, {"error": "unknown control endpoint"})
            if p == "/__fake/healthsherpa/contacts":
                if self.method == "POST":
                    for c in (body if isinstance(body, list) else [body]):
                        c.setdefault("id", secrets.token_hex(16))
                        STATE.hs_contacts[c["id"]] = c
                return self.send(200, list(STATE.hs_contacts.values()))
        return self.send(404, {"error": "unknown control endpoint"})

    # ---- Salesforce ----

    def sf_base(self):
        import ssl
        host = self.headers.get("Host") or "127.0.0.1"
        tls = isinstance(self.connection, ssl.SSLSocket)
        return ("https://" if tls else "http://") + host

    def salesforce(self):
        p = self.upath
        if p == "/services/oauth2/token" and self.method == "POST":
            return self.sf_token()

        # the org's daily allowance (config sf_api_limit) is spent; a
        # benchmark's rounds send more than one day's worth
        with LOCK:
            spent = (STATE.api_usage >= STATE.config["sf_api_limit"]
                     and not ARGS.bench)
        if spent:
            return self.send(403, sf_err("REQUEST_LIMIT_EXCEEDED",
                                         "TotalRequests Limit exceeded."))

        auth = self.headers.get("Authorization") or ""
        tok = auth[7:] if auth.startswith("Bearer ") else None
        if ARGS.bench:
            tok_ok = tok is not None
        else:
            with LOCK:
                tok_ok = tok in STATE.tokens
        if not tok_ok:
            return self.send(401, sf_err("INVALID_SESSION_ID",
                                         "Session expired or invalid"))

        m = re.match(r"^/services/data/(v\d+\.\d)(/.*)?$", p)
        if not m:
            return self.send(404, sf_err("NOT_FOUND",
                                         "The requested resource does not "
                                         "exist"))
        ver, rest = m.group(1), m.group(2) or "/"
        self.sf_ver = ver

        if rest == "/limits" and self.method == "GET":
            return self.send(200, {"DailyApiRequests": {
                "Max": STATE.config["sf_api_limit"],
                "Remaining": STATE.config["sf_api_limit"] - STATE.api_usage}})
        if rest == "/query" and self.method == "GET":
            return self.sf_query((self.query.get("q") or [""])[0])
        m = re.match(r"^/query/([\w-]+)$", rest)
        if m and self.method == "GET":
            return self.sf_query_more(m.group(1))
        m = re.match(r"^/sobjects/Contact/?$", rest)
        if m and self.method == "POST":
            return self.sf_create()
        m = re.match(r"^/sobjects/ContentVersion/?$", rest)
        if m and self.method == "POST":
            return self.sf_create_content_version()
        m = re.match(r"^/sobjects/Task/?$", rest)
        if m and self.method == "POST":
            return self.sf_create_task()
        m = re.match(r"^/sobjects/Contact/(\w+)/([^/]+)$", rest)
        if m and self.method == "PATCH":
            return self.sf_upsert(m.group(1),
                                  urllib.parse.unquote(m.group(2)))
        m = re.match(r"^/sobjects/Contact/(\w+)$", rest)
        if m and self.method == "GET":
            return self.sf_get(m.group(1))
        if m and self.method == "PATCH":
            return self.sf_update(m.group(1))
        m = re.match(r"^/composite/sobjects/Contact/(\w+)$", rest)
        if m and self.method == "PATCH":
            return self.sf_collection_upsert(m.group(1))
        return self.send(404, sf_err("NOT_FOUND",
                                     "The requested resource does not exist"))

    def sf_token(self):
        form = urllib.parse.parse_qs(self.raw_body.decode())
        g = (form.get("grant_type") or [""])[0]
        f = lambda k: (form.get(k) or [None])[0]
        bad = lambda d: self.send(400, {"error": "invalid_grant",
                                        "error_description": d})
        if g == "client_credentials":
            if f("client_id") != SF_CLIENT_ID:
                return self.send(400, {"error": "invalid_client_id",
                                       "error_description":
                                       "client identifier invalid"})
            if f("client_secret") != SF_CLIENT_SECRET:
                return self.send(400, {"error": "invalid_client",
                                       "error_description":
                                       "invalid client credentials"})
        elif g == "refresh_token":
            if f("client_id") != SF_CLIENT_ID:
                return self.send(400, {"error": "invalid_client_id",
                                       "error_description":
                                       "client identifier invalid"})
            if f("refresh_token") != SF_REFRESH_TOKEN:
                return bad("expired access/refresh token")
        elif g == "urn:ietf:params:oauth:grant-type:jwt-bearer":
            a = f("assertion") or ""
            parts = a.split(".")
            if len(parts) != 3:
                return bad("invalid assertion")
            try:
                pad = lambda s: s + "=" * (-len(s) % 4)
                import base64
                hdr = json.loads(base64.urlsafe_b64decode(pad(parts[0])))
                cl = json.loads(base64.urlsafe_b64decode(pad(parts[1])))
                sig = base64.urlsafe_b64decode(pad(parts[2]))
            except ValueError:
                return bad("invalid assertion")
            if hdr.get("alg") != "RS256" or not sig:
                return bad("invalid assertion algorithm")
            if cl.get("iss") != SF_CLIENT_ID:
                return self.send(400, {"error": "invalid_client_id",
                                       "error_description":
                                       "client identifier invalid"})
            if cl.get("sub") != SF_USERNAME:
                return bad("user hasn't approved this consumer")
            if not isinstance(cl.get("exp"), int) or cl["exp"] < time.time():
                return bad("expired authorization code")
            with LOCK:
                STATE.last_jwt = a
        else:
            return self.send(400, {"error": "unsupported_grant_type",
                                   "error_description":
                                   "grant type not supported"})
        tok = "00Dfake!" + secrets.token_urlsafe(24)
        with LOCK:
            STATE.tokens.add(tok)
        return self.send(200, {
            "access_token": tok, "instance_url": self.sf_base(),
            "id": "https://login.salesforce.com/id/00Dxx0000001gPLEAY/"
                  "005xx000001SwiUAAS",
            "token_type": "Bearer", "issued_at": str(int(time.time() * 1000)),
            "signature": "fakeSignature="})

    def sf_record(self, c, fields=None):
        out = {"attributes": {"type": "Contact",
                              "url": "/services/data/%s/sobjects/Contact/%s"
                                     % (self.sf_ver, c["Id"])}}
        for k in (fields or sorted(SF_FIELDS)):
            out[k] = c.get(k)
        return out

    def sf_bench_contact(self, cid=None, field=None, value=None):
        c = {"Id": cid or "003" + "B" * 15, "LastName": "Bench",
             "Last_Tracker_View_At__c": "2026-01-01T00:00:00.000+0000"}
        if field:
            c[field] = value
        return c

    def sf_check_fields(self, fields):
        bad = [k for k in fields if k not in SF_FIELDS or k == "Id"]
        if bad:
            self.send(400, sf_err("INVALID_FIELD",
                                  "No such column '%s' on sobject of type "
                                  "Contact" % bad[0], bad))
            return False
        return True

    def sf_get(self, cid):
        fields = None
        if self.query.get("fields"):
            fields = [f.strip() for f in self.query["fields"][0].split(",")]
            unknown = [f for f in fields if f not in SF_FIELDS]
            if unknown:
                return self.send(400, sf_err(
                    "INVALID_FIELD", "No such column '%s' on entity "
                    "'Contact'" % unknown[0]))
        with LOCK:
            c = STATE.contacts.get(cid)
        if c is None and ARGS.bench:
            c = self.sf_bench_contact(cid)
        if c is None:
            return self.send(404, sf_err("NOT_FOUND", "The requested "
                                         "resource does not exist"))
        return self.send(200, self.sf_record(c, fields))

    def sf_apply(self, c, body):
        for k, v in body.items():
            c[k] = sf_datetime(v)

    def sf_update(self, cid):
        if not isinstance(self.jbody, dict):
            return self.send(400, sf_err("JSON_PARSER_ERROR",
                                         "The request body is not JSON"))
        if not self.sf_check_fields(self.jbody):
            return
        if ARGS.bench:
            return self.send(204)
        with LOCK:
            c = STATE.contacts.get(cid)
            if c is None:
                return self.send(404, sf_err("NOT_FOUND", "The requested "
                                             "resource does not exist"))
            if "LastName" in self.jbody and not self.jbody["LastName"]:
                return self.send(400, sf_err(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [LastName]", ["LastName"]))
            self.sf_apply(c, self.jbody)
        return self.send(204)

    def sf_create(self):
        if not isinstance(self.jbody, dict):
            return self.send(400, sf_err("JSON_PARSER_ERROR",
                                         "The request body is not JSON"))
        if not self.sf_check_fields(self.jbody):
            return
        if not self.jbody.get("LastName"):
            return self.send(400, sf_err(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [LastName]", ["LastName"]))
        c = {"Id": sf_id()}
        self.sf_apply(c, self.jbody)
        with LOCK:
            STATE.contacts[c["Id"]] = c
        return self.send(201, {"id": c["Id"], "success": True, "errors": []})

    def sf_create_task(self):
        b = self.jbody
        if not isinstance(b, dict):
            return self.send(400, sf_err("JSON_PARSER_ERROR",
                                         "The request body is not JSON"))
        allowed = {"Subject", "Status", "WhoId", "WhatId", "ActivityDate",
                   "Description", "Priority", "TaskSubtype", "OwnerId"}
        bad = [k for k in b if k not in allowed]
        if bad:
            return self.send(400, sf_err("INVALID_FIELD", "No such column "
                                         "'%s' on sobject of type Task"
                                         % bad[0], bad))
        with LOCK:
            if b.get("WhoId") and b["WhoId"] not in STATE.contacts \
                    and not ARGS.bench:
                return self.send(400, sf_err(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id", ["WhoId"]))
            t = dict(b, Id=sf_id("00T"))
            STATE.tasks.append(t)
        return self.send(201, {"id": t["Id"], "success": True, "errors": []})

    def sf_create_content_version(self):
        """A File: VersionData base64 in JSON, linked to its first
        publish location (the contact) as Salesforce does."""
        import base64
        import binascii
        b = self.jbody
        if not isinstance(b, dict):
            return self.send(400, sf_err("JSON_PARSER_ERROR",
                                         "The request body is not JSON"))
        allowed = {"Title", "PathOnClient", "VersionData", "Description",
                   "FirstPublishLocationId", "ContentLocation", "OwnerId"}
        bad = [k for k in b if k not in allowed]
        if bad:
            return self.send(400, sf_err("INVALID_FIELD", "No such column "
                                         "'%s' on sobject of type "
                                         "ContentVersion" % bad[0], bad))
        missing = [k for k in ("PathOnClient", "VersionData") if not b.get(k)]
        if missing:
            return self.send(400, sf_err(
                "REQUIRED_FIELD_MISSING", "Required fields are missing: "
                "[%s]" % ", ".join(missing), missing))
        try:
            data = base64.b64decode(b["VersionData"], validate=True)
        except (binascii.Error, ValueError):
            return self.send(400, sf_err("INVALID_FIELD_FOR_INSERT_UPDATE",
                                         "VersionData is not base64",
                                         ["VersionData"]))
        with LOCK:
            loc = b.get("FirstPublishLocationId")
            if loc and loc not in STATE.contacts:
                return self.send(400, sf_err(
                    "INVALID_CROSS_REFERENCE_KEY",
                    "invalid cross reference id",
                    ["FirstPublishLocationId"]))
            cv = {"Id": sf_id("068"), "ContentDocumentId": sf_id("069"),
                  "Title": b.get("Title") or b["PathOnClient"],
                  "PathOnClient": b["PathOnClient"],
                  "FirstPublishLocationId": loc,
                  "size": len(data),
                  "data": data.decode("latin-1")}
            STATE.content_versions.append(cv)
        return self.send(201, {"id": cv["Id"], "success": True, "errors": []})

    # ---- HelpAround media (issue 5) ----

    def helparound(self):
        m = re.match(r"^/helparound/media/([\w.-]+)$", self.upath)
        if not m or self.method != "GET":
            return self.send(404, {"error": "not found"})
        if self.headers.get("X-API-Key") != HA_MEDIA_KEY:
            return self.send(401, {"error": "invalid api key"})
        mid = m.group(1)
        if mid.startswith("missing"):
            return self.send(404, {"error": "media not found"})
        # a PNG signature then the id: enough to check what arrived
        return self.send(200, raw=b"\x89PNG\r\n\x1a\n" + mid.encode(),
                         ctype="image/png")

    def sf_matches(self, field, value):
        if field in SF_CI_FIELDS or STATE.config["sf_case_insensitive"]:
            # issue 7: SOQL `=` on names ignores case, as Salesforce does
            return [c for c in STATE.contacts.values()
                    if str(c.get(field) or "").lower() == value.lower()]
        return [c for c in STATE.contacts.values() if c.get(field) == value]

    def sf_upsert_one(self, field, value, body):
        """(status, result) for one upsert by external id."""
        with LOCK:
            found = self.sf_matches(field, value)
            if len(found) > 1:
                return 300, [self.sf_record(c, ["Id"])["attributes"]["url"]
                             for c in found]
            if found:
                self.sf_apply(found[0], body)
                created, cid = False, found[0]["Id"]
            else:
                if not body.get("LastName"):
                    return 400, sf_err("REQUIRED_FIELD_MISSING",
                                       "Required fields are missing: "
                                       "[LastName]", ["LastName"])
                c = {"Id": sf_id(), field: value}
                self.sf_apply(c, body)
                STATE.contacts[c["Id"]] = c
                created, cid = True, c["Id"]
        return (201 if created else 200), {"id": cid, "success": True,
                                           "errors": [], "created": created}

    def sf_upsert(self, field, value):
        if field not in SF_EXTERNAL_ID_FIELDS and field != "Id":
            return self.send(404, sf_err(
                "NOT_FOUND", "Provided external ID field does not exist or "
                "is not accessible: %s" % field))
        if not isinstance(self.jbody, dict):
            return self.send(400, sf_err("JSON_PARSER_ERROR",
                                         "The request body is not JSON"))
        if not self.sf_check_fields(self.jbody):
            return
        status, res = self.sf_upsert_one(field, value, self.jbody)
        # before v46 an update answered 204 with no body
        if status == 200 and float(self.sf_ver[1:]) < 46:
            return self.send(204)
        return self.send(status, res)

    def sf_collection_upsert(self, field):
        b = self.jbody or {}
        recs = b.get("records")
        if not isinstance(recs, list) or len(recs) > 200:
            return self.send(400, sf_err(
                "INVALID_FIELD", "records must be a list of at most 200"))
        out = []
        for r in recs:
            r = dict(r)
            r.pop("attributes", None)
            value = r.get(field)
            bad = [k for k in r if k not in SF_FIELDS]
            if value is None:
                out.append({"success": False, "errors": [{
                    "statusCode": "MISSING_ARGUMENT",
                    "message": "%s not specified" % field, "fields": []}]})
                continue
            if bad:
                out.append({"success": False, "errors": [{
                    "statusCode": "INVALID_FIELD",
                    "message": "No such column", "fields": bad}]})
                continue
            status, res = self.sf_upsert_one(field, value, r)
            if status in (200, 201):
                out.append(res)
            else:
                out.append({"success": False, "errors": [{
                    "statusCode": "DUPLICATE_EXTERNAL_ID" if status == 300
                    else res[0]["errorCode"], "message": "failed",
                    "fields": [field]}]})
        return self.send(200, out)

    def sf_query(self, q):
        m = SOQL.match(q)
        if not m:
            return self.send(400, sf_err("MALFORMED_QUERY",
                                         "unexpected token in query"))
        fields = [f.strip() for f in m.group("fields").split(",")]
        unknown = [f for f in fields if f not in SF_FIELDS]
        if unknown or (m.group("field") and m.group("field") not in SF_FIELDS):
            return self.send(400, sf_err(
                "INVALID_FIELD", "No such column '%s' on entity 'Contact'"
                % (unknown[0] if unknown else m.group("field"))))
        with LOCK:
            if m.group("field"):
                value = soql_unescape(m.group("value"))
                recs = self.sf_matches(m.group("field"), value)
                if ARGS.bench and not recs:
                    recs = [self.sf_bench_contact(None, m.group("field"),
                                                  value)]
            else:
                recs = list(STATE.contacts.values())
            if m.group("limit"):
                recs = recs[:int(m.group("limit"))]
            recs = [self.sf_record(c, fields) for c in recs]
        return self.sf_page(recs, 0)

    def sf_page(self, recs, start):
        size = int(STATE.config["sf_page_size"])
        page = recs[start:start + size]
        out = {"totalSize": len(recs), "done": start + size >= len(recs),
               "records": page}
        if not out["done"]:
            cur = "01gFAKE%s-%d" % (secrets.token_hex(4), start + size)
            with LOCK:
                STATE.cursors[cur] = recs
            out["nextRecordsUrl"] = "/services/data/%s/query/%s" % (
                self.sf_ver, cur)
        return self.send(200, out)

    def sf_query_more(self, cur):
        with LOCK:
            recs = STATE.cursors.get(cur)
        if recs is None:
            return self.send(400, sf_err("INVALID_QUERY_LOCATOR",
                                         "invalid query locator"))
        return self.sf_page(recs, int(cur.rsplit("-", 1)[1]))

    # ---- Hint (minimal: patients) ----

    def hint(self):
        if self.headers.get("Authorization") != "Bearer " + HINT_KEY:
            return self.send(401, {"status": 401,
                                   "message": "Invalid API key"})
        p = self.upath.rstrip("/")
        with LOCK:
            if p == "/api/provider/patients" and self.method == "GET":
                pts = list(STATE.hint_patients.values())
                for k, v in self.query.items():
                    if k in ("limit", "offset"):
                        continue
                    pts = [x for x in pts
                           if str(x.get(k, "")).lower() == v[0].lower()]
                off = int((self.query.get("offset") or [0])[0])
                lim = int((self.query.get("limit") or [10])[0])
                if not 1 <= lim <= 100:
                    return self.send(422, {"status": 422, "message":
                                           "Validation failed: limit"})
                return self.send(200, pts[off:off + lim],
                                 headers={"X-Total-Count": len(pts)})
            if p == "/api/provider/patients" and self.method == "POST":
                b = self.jbody or {}
                if not b.get("first_name") or not b.get("last_name"):
                    return self.send(422, {"status": 422, "message":
                                           "Validation failed: first_name "
                                           "and last_name are required"})
                b["id"] = "pat-" + secrets.token_hex(6)
                STATE.hint_patients[b["id"]] = b
                return self.send(201, b)
            if p == "/api/provider/patients/matching":
                b = self.jbody or {}
                if not b.get("first_name") or not b.get("last_name"):
                    return self.send(422, {"status": 422, "message":
                                           "Validation failed"})
                return self.send(200, [
                    x for x in STATE.hint_patients.values()
                    if x.get("first_name", "").lower()
                    == b["first_name"].lower()
                    and x.get("last_name", "").lower()
                    == b["last_name"].lower()
                    and (not b.get("dob") or x.get("dob") == b["dob"])])
            m = re.match(r"^/api/provider/patients/([\w-]+)$", p)
            if m:
                x = STATE.hint_patients.get(m.group(1))
                if x is None:
                    return self.send(404, {"status": 404,
                                           "message": "Not found"})
                if self.method == "GET":
                    return self.send(200, x)
                if self.method == "PATCH":
                    # issue 7: names cannot be blanked, as in Hint
                    b = self.jbody or {}
                    for k in ("first_name", "last_name"):
                        if k in b and not b[k]:
                            return self.send(422, {
                                "status": 422, "message":
                                "Validation failed: %s can't be blank" % k})
                    x.update(b)
                    return self.send(200, x)
                if self.method == "DELETE":
                    del STATE.hint_patients[m.group(1)]
                    return self.send(200, x)
        return self.send(404, {"status": 404, "message": "Not found"})

    # ---- HealthSherpa ----

    def healthsherpa(self):
        # issue 6: the documented API lives in fake_healthsherpa.py
        return fake_healthsherpa.handle(self, STATE, LOCK)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def server_bind(self):
        if ARGS.procs > 1:
            self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def main():
    global ARGS, STATE
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--port-file")
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--procs", type=int, default=1)
    ap.add_argument("--bench", action="store_true")
    ap.add_argument("--tls-cert", help="also serve HTTPS with this PEM "
                    "cert+key, on the port written to <port-file>.tls")
    ARGS = ap.parse_args()
    STATE = State()

    srv = Server(("127.0.0.1", ARGS.port), Handler)
    port = srv.server_address[1]

    kids = []
    if ARGS.procs > 1:
        # the others bind the same port; the kernel spreads connections
        for _ in range(ARGS.procs - 1):
            pid = os.fork()
            if pid == 0:
                STATE = State()
                s2 = Server(("127.0.0.1", port), Handler)
                s2.serve_forever()
                os._exit(0)
            kids.append(pid)

    if ARGS.tls_cert:
        # same state, second port, TLS: for the certificate checks
        import ssl
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.tls_cert)
        tsrv = Server(("127.0.0.1", 0), Handler)
        tsrv.socket = ctx.wrap_socket(tsrv.socket, server_side=True)
        threading.Thread(target=tsrv.serve_forever, daemon=True).start()
        if ARGS.port_file:
            with open(ARGS.port_file + ".tls.tmp", "w") as f:
                f.write("%d\n" % tsrv.server_address[1])
            os.rename(ARGS.port_file + ".tls.tmp", ARGS.port_file + ".tls")

    if ARGS.port_file:
        tmp = ARGS.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write("%d\n" % port)
        os.rename(tmp, ARGS.port_file)

    import signal

    def stop(*_):
        for k in kids:
            try:
                os.kill(k, signal.SIGTERM)
            except OSError:
                pass
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.serve_forever()


if __name__ == "__main__":
    main()
