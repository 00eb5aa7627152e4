#!/usr/bin/env python3
"""The payload half of `make run` (.ci/run-local starts the processes).

Seeds the local stand-ins (t/fakes/fake_apis.py) with a few fixture
records, posts the seed's payloads to nginx one after the other, follows
each job to its final status, and prints what happened: the HTTP answer,
the job, its final status, the resulting contact in the fake Salesforce.
Then how to try more by hand.

Exit status: 0 when every payload ended as expected, 1 otherwise.
Python 3 standard library only.
"""

import argparse
import hashlib
import hmac
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

FINAL_WAIT_S = 30
NOT_FINAL = {"queued", "running", "retrying", ""}

# The demo values of docs/example/nginx.conf (published: demo only).
API_TOKEN = "demo-crm-token"
CONSOLE_TOKEN = "demo-console-token"
HINT_SIGNING_KEY = "demo-hint-signing-key"
# the shared secret HelpAround sends (docs/example/nginx.conf)
HELPAROUND_HEADER = "X-HelpAround-Secret"
HELPAROUND_SECRET = "demo-helparound-secret"


class Redis:
    """Just enough RESP for SCAN, GET and HGETALL."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.f = self.s.makefile("rb")

    def cmd(self, *args):
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = str(a).encode() if not isinstance(a, bytes) else a
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.s.sendall(out)
        return self.reply()

    def reply(self):
        line = self.f.readline().rstrip(b"\r\n")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            raise RuntimeError("redis: " + rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.f.read(n + 2)[:-2]
            return data.decode("utf-8", "replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("redis: bad reply %r" % line)

    def keys(self, pattern):
        cur, found = "0", set()
        while True:
            cur, batch = self.cmd("SCAN", cur, "MATCH", pattern, "COUNT", 1000)
            found.update(batch)
            if cur == "0":
                return found

    def hgetall(self, key):
        l = self.cmd("HGETALL", key) or []
        return dict(zip(l[::2], l[1::2]))


def http(method, url, body=None, headers=None):
    """(status, text) — any status, no exception."""
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def metric_values(text, name):
    """The values of every sample of metric `name` in Prometheus text."""
    return [float(m) for m in re.findall(
        r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M)]


def read_text(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def fake(args, path, data=None):
    body = None if data is None else json.dumps(data).encode()
    st, text = http("POST" if body else "GET", args.fake + path, body,
                    {"Content-Type": "application/json"})
    if st != 200:
        raise RuntimeError("fake %s: %d %s" % (path, st, text))
    return json.loads(text)


def fixture(args, rel):
    with open(os.path.join(args.fixtures, rel), "rb") as f:
        return f.read()


# ---- seeding the stand-ins -------------------------------------------

def seed(args):
    """Fixture records in the fakes; returns the ids the payloads need."""
    hs = json.loads(fixture(args, "healthsherpa/search-match.json"))
    hs_contact = hs["data"]["contact"]
    hint_event = json.loads(fixture(args, "hint/patient.updated.json"))
    patient = {k: v for k, v in hint_event["object"].items() if v is not None}

    fake(args, "/__fake/healthsherpa/contacts", [hs_contact])
    fake(args, "/__fake/hint/patients", [patient])
    ids = fake(args, "/__fake/salesforce/contacts", [
        # linked to the Hint patient, with an older e-mail and no phone
        {"FirstName": "Maria", "LastName": "Lopez", "Birthdate": "1958-04-12",
         "Email": "maria.old@example.org", "Synced_To_Hint__c": True,
         "Hint_Patient_Id__c": patient["id"]},
        # the contact HealthSherpa knows (its external_id), not yet synced
        {"Id": hs_contact["external_id"], "FirstName": "John",
         "LastName": "Doe", "Birthdate": hs_contact["birth_date"]},
    ])
    return {"maria": ids[0], "john_hs": ids[1], "hint_patient": patient["id"]}


# ---- following a job --------------------------------------------------

def new_job_id(r, before):
    """The job a webhook just queued: the dedupe mark it set holds its id."""
    new = r.keys("{caresync}:dedupe:*") - before
    if not new:
        return None
    return r.cmd("GET", new.pop())


def wait_final(r, job_id):
    end = time.time() + FINAL_WAIT_S
    st = {}
    while time.time() < end:
        st = r.hgetall("{caresync}:job:" + job_id)
        if st.get("status", "") not in NOT_FINAL:
            return st
        time.sleep(0.1)
    return st


def contact(args, cid):
    for c in fake(args, "/__fake/salesforce/contacts"):
        if c.get("Id") == cid:
            return c
    return None


def show_contact(c, fields):
    if not c:
        return "not found in the fake Salesforce"
    name = " ".join(x for x in (c.get("FirstName"), c.get("LastName")) if x)
    parts = ["%s %s" % (c["Id"], name)]
    for f in fields:
        if c.get(f) not in (None, ""):
            parts.append("%s=%s" % (f, c[f]))
    return ", ".join(parts)


# ---- the payloads -----------------------------------------------------

class Demo:
    def __init__(self, args):
        self.args = args
        self.r = Redis(args.redis_port)
        self.ok = True
        self.n = 0
        self.last_job = "<job id>"

    def head(self, title, what):
        self.n += 1
        print("\n%d. %s" % (self.n, title))
        print("   %s" % what)

    def line(self, label, text):
        print("   %-8s %s" % (label, text))

    def expect(self, cond, what):
        if not cond:
            self.ok = False
            self.line("!!", "expected " + what)

    def webhook(self, title, path, body, headers, fixture_name,
                want_http, want_status):
        self.head(title, "POST %s  (%s)" % (path, fixture_name))
        before = self.r.keys("{caresync}:dedupe:*")
        hdrs = {"Content-Type": "application/json"}
        hdrs.update(headers)
        code, text = http("POST", self.args.nginx + path, body, hdrs)
        self.line("answer", "%d %s" % (code, text.strip()))
        self.expect(code == want_http, "HTTP %d" % want_http)
        job = new_job_id(self.r, before) if code == 200 else None
        if not job:
            self.line("job", "none queued (a repeat within the dedupe "
                      "window is answered 200 and not queued again)")
            self.expect(False, "a new job")
            return None
        return self.follow(job, want_status)

    def follow(self, job, want_status):
        self.last_job = job
        st = wait_final(self.r, job)
        self.line("job", "%s  %s" % (job, st.get("type", "")))
        msg = st.get("message") or st.get("last_error") or ""
        self.line("status", "%s%s  (attempts %s)" % (
            st.get("status", "?"), " — " + msg if msg else "",
            st.get("attempts", "?")))
        self.expect(st.get("status") == want_status, "status %s" % want_status)
        return st

    def run(self, ids):
        a = self.args
        fx = "fixtures/"

        # 1. HelpAround enrollment -> a new contact, media as Files
        body = fixture(a, "helparound/enrollment.json")
        helparound = {HELPAROUND_HEADER: HELPAROUND_SECRET}
        st = self.webhook("HelpAround enrollment", "/webhook/user-enrollment",
                          body, helparound, fx + "helparound/enrollment.json",
                          200, "created")
        enrolled = st and st.get("crm_contact_id")
        if st:
            c = contact(a, enrolled)
            files = [v for v in fake(a, "/__fake/salesforce/content_versions")
                     if v.get("FirstPublishLocationId") == enrolled]
            self.line("contact", show_contact(c, [
                "Birthdate", "Email", "MailingCity",
                "HelpAround_Patient_Id__c"]) + "; %d files attached"
                % len(files))
            self.expect(c and c.get("HelpAround_Patient_Id__c")
                        == "ha61236024160af", "the contact created")

        # 2. the viewed-tracker action -> the same contact
        body = fixture(a, "helparound/user-action.json")
        st = self.webhook("HelpAround user action (viewed tracker)",
                          "/webhook/user-action", body, helparound,
                          fx + "helparound/user-action.json",
                          200, "updated")
        if st:
            c = contact(a, st.get("crm_contact_id"))
            self.line("contact", show_contact(c, ["Last_Tracker_View_At__c"]))
            self.expect(c and c.get("Id") == enrolled
                        and c.get("Last_Tracker_View_At__c"),
                        "Last_Tracker_View_At__c on the enrolled contact")

        # 3. a signed Hint patient.updated -> the linked contact
        body = fixture(a, "hint/patient.updated.json")
        sig = hmac.new(HINT_SIGNING_KEY.encode(), body,
                       hashlib.sha256).hexdigest()
        st = self.webhook("Hint patient.updated, signed", "/webhook/hint",
                          body, {"X-Hint-Signature": "sha256=" + sig},
                          fx + "hint/patient.updated.json", 200, "updated")
        if st:
            c = contact(a, st.get("crm_contact_id") or ids["maria"])
            self.line("contact", show_contact(c, [
                "Email", "MobilePhone", "MailingCity", "Hint_Patient_Id__c"]))
            self.expect(c and c.get("Id") == ids["maria"]
                        and c.get("Email") == "maria.lopez@example.org",
                        "the linked contact updated from Hint")

        # 4. the CRM's "Sync from HealthSherpa" button, through the API
        path = "/caresync/actions/healthsherpa-sync"
        self.head("CRM \"Sync from HealthSherpa\" (actions API)",
                  "POST %s  {\"contact_id\": \"%s\", ...}"
                  % (path, ids["john_hs"]))
        code, text = http("POST", a.nginx + path, json.dumps({
            "contact_id": ids["john_hs"], "agent": "agent@example.org"}).encode(),
            {"Content-Type": "application/json",
             "Authorization": "Bearer " + API_TOKEN})
        self.line("answer", "%d %s" % (code, text.strip()))
        self.expect(code == 202, "HTTP 202")
        try:
            doc = json.loads(text)
        except ValueError:
            doc = {}
        if doc.get("job_id"):
            # what the CRM's button does: poll the status URL
            end, st = time.time() + FINAL_WAIT_S, {}
            while time.time() < end:
                c2, t2 = http("GET", a.nginx + doc["status_url"], None,
                              {"Authorization": "Bearer " + API_TOKEN})
                st = json.loads(t2) if c2 == 200 else {}
                if st.get("status", "") not in NOT_FINAL:
                    break
                time.sleep(0.1)
            self.line("polled", "GET %s" % doc["status_url"])
            self.follow(doc["job_id"], "matched")
            c = contact(a, ids["john_hs"])
            self.line("contact", show_contact(c, [
                "Birthdate", "MailingCity", "Phone",
                "HealthSherpa_Contact_Id__c"]))
            self.expect(c and c.get("HealthSherpa_Contact_Id__c"),
                        "the contact synced from HealthSherpa")

        # 5. the CRM's "Sync to Hint" search box: the name in the body
        self.search(ids)
        # 6. the console: its page, and one of its calls with its token
        self.console()
        # 7. the worker's and the edge's metrics, and a job's trace
        self.observe(4)
        return ids

    def observe(self, jobs):
        a = self.args
        self.head("Metrics and a trace",
                  "GET %s, GET %s/metrics, caresync-worker jobs show"
                  % (a.worker_metrics, a.nginx))
        # the worker counts a job when it has written its final status
        end, done, code, text = time.time() + 5, 0, 0, ""
        while time.time() < end:
            code, text = http("GET", a.worker_metrics)
            done = sum(metric_values(text, "caresync_worker_jobs_total"))
            if code == 200 and done >= jobs:
                break
            time.sleep(0.1)
        sent = sum(metric_values(text,
                                 "caresync_worker_vendor_requests_total"))
        self.line("worker", "%d, %d metrics; %d jobs finished, %d vendor "
                  "calls" % (code, text.count("# TYPE "), done, sent))
        self.expect(code == 200 and done >= jobs,
                    "the worker's metrics count the %d jobs" % jobs)
        code, text = http("GET", a.nginx + "/metrics")
        self.line("edge", "%d, %d metrics; %d requests" % (
            code, text.count("# TYPE "),
            sum(metric_values(text, "caresync_requests_total"))))
        self.expect(code == 200 and "caresync_requests_total" in text,
                    "the edge's metrics")
        out = subprocess.run([a.worker, "jobs", "show", self.last_job,
                              "--config", a.worker_conf],
                             capture_output=True, text=True).stdout
        trace = re.search(r"^trace_id: ([0-9a-f]{32})$", out, re.M)
        calls = re.findall(r"^  \S+Z    [A-Z]+ \S+ -> \d+", out, re.M)
        self.line("trace", "%s: %s, %d vendor calls in its timeline" % (
            trace.group(1) if trace else "?", self.last_job, len(calls)))
        self.expect(trace and calls, "the job's trace id and timeline")

    def console(self):
        a = self.args
        self.head("The console (a browser on %s/console/)" % a.nginx,
                  "GET /console/, then GET /console/api/dlq with the token")
        code, text = http("GET", a.nginx + "/console/")
        self.line("page", "%d %s" % (code, "caresync console"
                                     if "<title>caresync console</title>"
                                     in text else "?"))
        self.expect(code == 200 and "console.js" in text, "the page")
        code, text = http("GET", a.nginx + "/console/api/dlq")
        self.line("no token", "%d" % code)
        self.expect(code == 401, "401 without the token")
        code, text = http("GET", a.nginx + "/console/api/dlq", None,
                          {"Authorization": "Bearer " + CONSOLE_TOKEN})
        self.line("dlq", "%d %s" % (code, text.strip()))
        self.expect(code == 200 and text.startswith('{"entries":'),
                    "the dead letters, with the token")

    def search(self, ids):
        a = self.args
        path = "/caresync/hint/patients"
        self.head("CRM \"Sync to Hint\" search box (actions API)",
                  "POST %s  {\"q\": \"Lopez\"}" % path)
        code, text = http("POST", a.nginx + path,
                          json.dumps({"q": "Lopez"}).encode(),
                          {"Content-Type": "application/json",
                           "Authorization": "Bearer " + API_TOKEN})
        self.line("answer", "%d %s" % (code, text.strip()))
        self.expect(code == 200, "HTTP 200")
        try:
            found = json.loads(text)
        except ValueError:
            found = None
        self.expect(isinstance(found, list)
                    and [p.get("id") for p in found] == [ids["hint_patient"]]
                    and all(set(p) <= {"id", "first_name", "last_name",
                                       "dob"} for p in found),
                    "the Hint patient, with id, names and birth date only")

        # nginx writes the access log line when it closes the request
        logs = {f: os.path.join(a.nginx_logs, f)
                for f in ("error.log", "access.log")}
        end = time.time() + 5
        while time.time() < end and path not in read_text(logs["access.log"]):
            time.sleep(0.05)
        leaked = [f for f in sorted(logs) if "Lopez" in read_text(logs[f])]
        self.line("logs", "the name is in neither of nginx's logs"
                  if not leaked else "the name is in " + ", ".join(leaked))
        self.expect(path in read_text(logs["access.log"]) and not leaked,
                    "the search in the access log, the name in no log")

    def hints(self, ids):
        a = self.args
        fxd = a.fixtures
        print("""
Try more by hand
  # an enrollment (a repeat of the same event within 24 h is answered 200
  # and not queued again: change "sendDate" to make a new one)
  curl -s -H 'Content-Type: application/json' -H '{hh}: {hs}' \\
       --data-binary @{fx}/helparound/enrollment.json \\
       {n}/webhook/user-enrollment
  # a Hint event, signed with the demo key
  sig=$(openssl dgst -sha256 -hmac {hk} -r {fx}/hint/patient.created.json | cut -d' ' -f1)
  curl -s -H 'Content-Type: application/json' -H "X-Hint-Signature: sha256=$sig" \\
       --data-binary @{fx}/hint/patient.created.json {n}/webhook/hint
  # a CRM button, then its status URL
  curl -s -H 'Authorization: Bearer {tok}' -H 'Content-Type: application/json' \\
       -d '{{"contact_id":"{maria}"}}' {n}/caresync/actions/crm-contact-changed
  curl -s -H 'Authorization: Bearer {tok}' {n}/caresync/jobs/{job}
  # the "Sync to Hint" search box (the name in the body: URLs are logged)
  curl -s -H 'Authorization: Bearer {tok}' -H 'Content-Type: application/json' \\
       -d '{{"q":"Lopez"}}' {n}/caresync/hint/patients
  # the console: open it in a browser, token {ct}
  #   {n}/console/
  # the worker's view
  {w} jobs show {job} --config {c}
  {w} log --since 10m --config {c}
  {w} dlq list --config {c}
  # Redis, the stand-ins, the edge's and the worker's metrics
  redis-cli -p {rp} XINFO GROUPS '{{caresync}}:jobs'
  redis-cli -p {rp} HGETALL '{{caresync}}:job:{job}'
  curl -s {f}/__fake/salesforce/contacts
  curl -s {n}/metrics
  curl -s {wm}
""".format(fx=fxd, n=a.nginx, hk=HINT_SIGNING_KEY, tok=API_TOKEN,
           ct=CONSOLE_TOKEN,
           hh=HELPAROUND_HEADER, hs=HELPAROUND_SECRET,
           maria=ids["maria"], w=a.worker, c=a.worker_conf, rp=a.redis_port,
           f=a.fake, job=self.last_job, wm=a.worker_metrics))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nginx", required=True)
    ap.add_argument("--fake", required=True)
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--fixtures", required=True)
    ap.add_argument("--worker", required=True)
    ap.add_argument("--worker-conf", required=True)
    ap.add_argument("--worker-metrics", required=True,
                    help="the worker's metrics URL ([metrics] listen)")
    ap.add_argument("--nginx-logs", required=True,
                    help="nginx's logs directory (error.log, access.log)")
    args = ap.parse_args()

    demo = Demo(args)
    ids = seed(args)
    print("Seeded the stand-ins: Salesforce contacts %s (Maria Lopez, linked "
          "to Hint patient %s) and %s (John Doe, known to HealthSherpa)."
          % (ids["maria"], ids["hint_patient"], ids["john_hs"]))
    demo.run(ids)
    demo.hints(ids)
    print("Every payload ended as expected." if demo.ok
          else "Some payloads did not end as expected (see !! above).")
    sys.stdout.flush()
    return 0 if demo.ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:     # Ctrl-C: run-local stops everything
        sys.exit(130)
