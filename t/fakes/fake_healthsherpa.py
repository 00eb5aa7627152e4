"""The HealthSherpa Medicare partner API, as fake_apis.py serves it
(spec/external-apis.md "HealthSherpa"; issue 6).

Behaves like the documented API, including what the public clients
report about the live one:

  POST /v1/contacts/search  X-API-Key, {"agent_email", "params"}
  POST /v2/contacts/search  Authorization: Bearer, {"params"}
  GET  /oauth/authorize     the login page: straight back to redirect_uri
  POST /oauth/token         authorization_code / refresh_token (rotating)

  - `birth_date` is the date key; `date_of_birth` is rejected with 422
    (the live v1 behaviour one client reports); dates in the four
    documented formats; phone 10 digits.
  - medicare_number alone, or first_name/last_name plus one of
    birth_date, email, phone; anything else is 422
    invalid_search_parameters (fixtures/healthsherpa/search-invalid-422).
  - no match in the form chosen by config `hs_nomatch`: "200" (contact
    null, the default), "404", "422" (resource_not_found), "422nf"
    (not_found).
  - v1: bad key 401; an agent_email not in `agents` 404 "Agent not found
    for the authenticated user".
  - v2: access tokens expire after config `hs_token_ttl_s` (7200);
    expired or revoked -> 401 invalid_token; refresh tokens rotate.
    Authorization codes are "fake-code-<agent>".

Control: POST /__fake/healthsherpa/contacts [..] (in fake_apis.py),
POST /__fake/healthsherpa/agents [emails], POST /__fake/healthsherpa/revoke
(every access token becomes invalid), GET /__fake/healthsherpa/tokens.
"""

import re
import secrets
import time
import urllib.parse

HS_KEY = "fake-hs-key"
CLIENT_ID = "fake-hs-client"
CLIENT_SECRET = "fake-hs-secret"
PARAMS = {"medicare_number", "first_name", "last_name", "birth_date",
          "email", "phone"}


def state(st):
    if getattr(st, "hs_fake", None) is None:
        st.hs_fake = {"agents": {"agent@example.org", "agent2@example.org"},
                      "access": {}, "refresh": {}}
    return st.hs_fake


def invalid(h, msg):
    return h.send(422, {"error": {"code": "invalid_search_parameters",
                                  "message": msg}})


def norm_date(v):
    for rx, order in ((r"^(\d{4})[-/](\d{2})[-/](\d{2})$", (1, 2, 3)),
                      (r"^(\d{2})[-/](\d{2})[-/](\d{4})$", (3, 1, 2))):
        m = re.match(rx, v or "")
        if m:
            return "%s-%s-%s" % tuple(m.group(i) for i in order)
    return None


def control(h, st, lock):
    """True when answered (the caller answers 404 otherwise)."""
    s = state(st)
    p = h.upath
    body = h.jbody if hasattr(h, "jbody") else None
    with lock:
        if p == "/__fake/healthsherpa/agents":
            if isinstance(body, list):
                s["agents"] = set(body)
            h.send(200, sorted(s["agents"]))
            return True
        if p == "/__fake/healthsherpa/revoke":
            s["access"].clear()
            h.send(200, {"ok": True})
            return True
        if p == "/__fake/healthsherpa/tokens":
            h.send(200, {"access": len(s["access"]),
                         "refresh": len(s["refresh"])})
            return True
    return False


def issue(st, agent):
    s = state(st)
    at = "hs-at-" + secrets.token_hex(8)
    rt = "hs-rt-" + secrets.token_hex(8)
    ttl = int(st.config.get("hs_token_ttl_s", 7200))
    s["access"][at] = (agent, time.time() + ttl)
    s["refresh"][rt] = agent
    return {"access_token": at, "token_type": "Bearer", "expires_in": ttl,
            "refresh_token": rt, "scope": "partner_api_v2",
            "created_at": int(time.time())}


def token(h, st, lock):
    f = urllib.parse.parse_qs(h.raw_body.decode())
    g = lambda k: (f.get(k) or [None])[0]
    if g("client_id") != CLIENT_ID or g("client_secret") != CLIENT_SECRET:
        return h.send(401, {"error": "invalid_client",
                            "error_description": "Client authentication "
                            "failed"})
    s = state(st)
    with lock:
        if g("grant_type") == "authorization_code":
            code = g("code") or ""
            if not code.startswith("fake-code-"):
                return h.send(400, {"error": "invalid_grant",
                                    "error_description": "The provided "
                                    "authorization grant is invalid"})
            return h.send(200, issue(st, code[len("fake-code-"):]))
        if g("grant_type") == "refresh_token":
            agent = s["refresh"].pop(g("refresh_token") or "", None)
            if agent is None:
                return h.send(400, {"error": "invalid_grant",
                                    "error_description": "The refresh "
                                    "token is invalid"})
            return h.send(200, issue(st, agent))
    return h.send(400, {"error": "unsupported_grant_type"})


def search(h, st, lock, agent):
    body = h.jbody if isinstance(h.jbody, dict) else {}
    params = body.get("params")
    if not isinstance(params, dict) or not params:
        return invalid(h, "search params are required")
    if "date_of_birth" in params:
        return invalid(h, "date_of_birth is not permitted: use birth_date")
    bad = [k for k in params if k not in PARAMS]
    if bad:
        return invalid(h, "unknown parameter %s" % bad[0])
    if "medicare_number" in params:
        if len(params) != 1:
            return invalid(h, "medicare_number must be used alone")
    else:
        if not (params.get("first_name") or params.get("last_name")):
            return invalid(h, "first_name or last_name is required")
        if not any(params.get(k) for k in ("birth_date", "email", "phone")):
            return invalid(h, "birth_date, email, or phone is required")
        if "phone" in params and not re.match(r"^\d{10}$",
                                              str(params["phone"])):
            return invalid(h, "phone must be 10 digits")
        if "birth_date" in params and not norm_date(params["birth_date"]):
            return invalid(h, "birth_date is not a date")

    def same(k, a, b):
        if k == "birth_date":
            return norm_date(str(a)) == norm_date(str(b))
        return str(a or "").lower() == str(b).lower()

    with lock:
        for c in st.hs_contacts.values():
            if all(same(k, c.get(k), v) for k, v in params.items()):
                return h.send(200, {"data": {
                    "contact": c, "redirect_url":
                    "https://medicare.healthsherpa.com/agents/contacts/"
                    + c["id"]}})
        form = str(st.config.get("hs_nomatch", "200"))
    if form == "404":
        return h.send(404, {"error": {"code": "not_found",
                                      "message": "Contact not found"}})
    if form == "422":
        return h.send(422, {"error": {"code": "resource_not_found",
                                      "message": "Contact not found"}})
    if form == "422nf":
        return h.send(422, {"error": {"code": "not_found",
                                      "message": "Contact not found"}})
    return h.send(200, {"data": {"contact": None, "redirect_url": None}})


def authorize(h, st):
    """The login page, as if the agent of config `hs_login_agent` (default
    agent@example.org) signed in and approved: back to redirect_uri with
    the code and the state, or error=access_denied when config
    `hs_login_deny` is set."""
    q = lambda k: (h.query.get(k) or [""])[0]
    if q("response_type") != "code" or not q("redirect_uri") \
            or q("scope") != "partner_api_v2":
        return h.send(400, {"error": "invalid_request"})
    if st.config.get("hs_login_deny"):
        back = {"error": "access_denied", "state": q("state")}
    else:
        agent = st.config.get("hs_login_agent", "agent@example.org")
        back = {"code": "fake-code-" + agent, "state": q("state")}
    sep = "&" if "?" in q("redirect_uri") else "?"
    return h.send(302, raw="", headers={
        "Location": q("redirect_uri") + sep + urllib.parse.urlencode(back)})


def handle(h, st, lock):
    p = h.upath
    s = state(st)
    if p == "/oauth/token" and h.method == "POST":
        return token(h, st, lock)
    if p == "/oauth/authorize" and h.method == "GET":
        return authorize(h, st)
    if p.startswith("/v1/"):
        if h.headers.get("X-API-Key") != HS_KEY:
            return h.send(401, {"error": {"code": "unauthorized",
                                          "message": "Invalid API key"}})
        agent = ((h.jbody or {}) if isinstance(h.jbody, dict)
                 else {}).get("agent_email")
        if agent not in s["agents"]:
            return h.send(404, {"error": {
                "code": "not_found",
                "message": "Agent not found for the authenticated user"}})
    elif p.startswith("/v2/"):
        auth = h.headers.get("Authorization") or ""
        with lock:
            got = s["access"].get(auth[7:]) if auth.startswith(
                "Bearer ") else None
        if got is None or got[1] < time.time():
            return h.send(401, {"error": "invalid_token",
                                "error_description": "The access token "
                                "expired"})
        agent = got[0]
        if isinstance(h.jbody, dict) and "agent_email" in h.jbody:
            return invalid(h, "agent_email is not used with OAuth")
    else:
        agent = None
    if p in ("/v1/contacts/search", "/v2/contacts/search") \
            and h.method == "POST":
        return search(h, st, lock, agent)
    return h.send(404, {"error": {"code": "not_found",
                                  "message": "Not found"}})
