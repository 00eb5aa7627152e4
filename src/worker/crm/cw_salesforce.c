/*
 * caresync-worker: the Salesforce REST client.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/pem.h>

#include "engine/cw_log.h"
#include "crm/cw_salesforce.h"
#include "engine/cw_util.h"

/* a query that matches more is an operator's problem, not a page loop */
#define CW_SF_MAX_RECORDS  2000


typedef struct {
    cw_crm_t          crm;          /* first: the CRM interface */
    const cw_conf_t  *conf;
    cw_http_t        *http;
    cw_target_t       target;
    cw_auth_t         auth;
    char             *token_url;
    char             *audience;
    char             *data_path;    /* /services/data/v60.0 */
    EVP_PKEY         *key;
} cw_sf_t;

typedef enum {
    CW_SF_GET,
    CW_SF_QUERY,
    CW_SF_UPDATE,
    CW_SF_UPSERT,
    CW_SF_CREATE,
    CW_SF_COLLECTION,
    CW_SF_PING
} cw_sf_op_e;

static const char  *cw_sf_op_names[] = {
    "read", "query", "update", "upsert", "create", "collection upsert",
    "limits check"
};

typedef struct {
    cw_call_t        c;             /* the client, op, the caller's data */
    cw_crm_done_pt   done;
    json_t          *records;       /* query: the pages so far */
    size_t           max;           /* query: cap, 0: CW_SF_MAX_RECORDS */
} cw_sf_call_t;


/* ---- SOQL ---- */

void
cw_soql_escape(cs_buf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '\n': cs_buf_puts(b, "\\n"); break;
        case '\r': cs_buf_puts(b, "\\r"); break;
        case '\t': cs_buf_puts(b, "\\t"); break;
        case '\b': cs_buf_puts(b, "\\b"); break;
        case '\f': cs_buf_puts(b, "\\f"); break;
        case '"':  cs_buf_puts(b, "\\\""); break;
        case '\'': cs_buf_puts(b, "\\'"); break;
        case '\\': cs_buf_puts(b, "\\\\"); break;
        default:   cs_buf_putc(b, *s); break;
        }
    }
}


static int
cw_sf_is_contact_id(const char *s)
{
    size_t       n;
    const char  *p;

    /* 15 or 18 case-sensitive alphanumerics, key prefix 003 = Contact */
    n = s ? strlen(s) : 0;
    if ((n != 15 && n != 18) || strncmp(s, "003", 3) != 0) {
        return 0;
    }

    for (p = s; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9')))
        {
            return 0;
        }
    }

    return 1;
}


/* ---- where the token may go ---- */

/* the host, lower-cased, is `dom` or ends with "." + `dom` */
static int
cw_sf_host_in(const char *host, size_t n, const char *dom, size_t dn)
{
    return dn && (n == dn || (n > dn && host[n - dn - 1] == '.'))
           && strncasecmp(host + n - dn, dom, dn) == 0;
}


int
cw_sf_instance_ok(const char *url, const char *domains)
{
    int          tls;
    size_t       n, dn, pn;
    const char  *host, *p, *d, *e;

    if (url == NULL || domains == NULL) {
        return 0;
    }

    if (strncasecmp(url, "https://", 8) == 0) {
        tls = 1;
        host = url + 8;

    } else if (strncasecmp(url, "http://", 7) == 0) {
        tls = 0;
        host = url + 7;

    } else {
        return 0;
    }

    /* a DNS name or an IPv4 address: no user info, no [v6], nothing odd */
    for (n = 0; (host[n] >= 'a' && host[n] <= 'z')
                || (host[n] >= 'A' && host[n] <= 'Z')
                || (host[n] >= '0' && host[n] <= '9')
                || host[n] == '-' || host[n] == '.'; n++)
    {
        /* void */
    }

    if (n == 0 || n > 253 || host[0] == '.' || host[n - 1] == '.') {
        return 0;
    }

    p = host + n;

    if (*p == ':') {
        for (pn = 1; p[pn] >= '0' && p[pn] <= '9'; pn++) {
            /* void */
        }

        if (pn == 1 || pn > 6) {
            return 0;
        }

        p += pn;
    }

    if (!(p[0] == '\0' || (p[0] == '/' && p[1] == '\0'))) {
        return 0;
    }

    e = domains;

    while ((d = cw_list_next(&e, &dn)) != NULL) {
        if (dn > 7 && strncasecmp(d, "http://", 7) == 0) {
            if (cw_sf_host_in(host, n, d + 7, dn - 7)) {
                return 1;
            }
            continue;
        }

        if (dn > 8 && strncasecmp(d, "https://", 8) == 0) {
            d += 8;
            dn -= 8;
        }

        if (dn > 2 && d[0] == '*' && d[1] == '.') {
            d += 2;
            dn -= 2;
        }

        if (tls && cw_sf_host_in(host, n, d, dn)) {
            return 1;
        }
    }

    return 0;
}


int
cw_sf_next_ok(const char *path)
{
    const char  *p;

    if (path == NULL || strncmp(path, "/services/data/", 15) != 0
        || strstr(path, "//") != NULL || strstr(path, "..") != NULL)
    {
        return 0;
    }

    /* what Salesforce writes: "/services/data/v60.0/query/01g…-2000" */
    for (p = path; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '/' || *p == '.'
              || *p == '-' || *p == '_'))
        {
            return 0;
        }
    }

    return 1;
}


/* ---- OAuth ---- */

static void
cw_b64url(cs_buf_t *b, const unsigned char *p, size_t n)
{
    static const char  tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t             i;
    unsigned           v;

    for (i = 0; i + 2 < n; i += 3) {
        v = (unsigned) p[i] << 16 | (unsigned) p[i + 1] << 8 | p[i + 2];
        cs_buf_putc(b, tab[v >> 18 & 63]);
        cs_buf_putc(b, tab[v >> 12 & 63]);
        cs_buf_putc(b, tab[v >> 6 & 63]);
        cs_buf_putc(b, tab[v & 63]);
    }

    if (n - i == 1) {
        v = (unsigned) p[i] << 16;
        cs_buf_putc(b, tab[v >> 18 & 63]);
        cs_buf_putc(b, tab[v >> 12 & 63]);

    } else if (n - i == 2) {
        v = (unsigned) p[i] << 16 | (unsigned) p[i + 1] << 8;
        cs_buf_putc(b, tab[v >> 18 & 63]);
        cs_buf_putc(b, tab[v >> 12 & 63]);
        cs_buf_putc(b, tab[v >> 6 & 63]);
    }
}


/* header.claims.signature, RS256; -1 when OpenSSL fails */
static int
cw_sf_jwt(cw_sf_t *sf, cs_buf_t *out)
{
    int          rc = -1;
    char         claims[1024];
    size_t       siglen = 0;
    EVP_MD_CTX  *md;
    unsigned char  *sig = NULL;
    static const char  hdr[] = "{\"alg\":\"RS256\",\"typ\":\"JWT\"}";
    cs_buf_t     tmp;

    cs_buf_init(&tmp);
    cs_buf_puts(&tmp, "{\"iss\":");
    cs_buf_json_str(&tmp, sf->conf->sf.client_id,
                    strlen(sf->conf->sf.client_id));
    cs_buf_puts(&tmp, ",\"sub\":");
    cs_buf_json_str(&tmp, sf->conf->sf.username,
                    strlen(sf->conf->sf.username));
    cs_buf_puts(&tmp, ",\"aud\":");
    cs_buf_json_str(&tmp, sf->audience, strlen(sf->audience));
    /* short-lived: Salesforce allows at most 3 minutes */
    snprintf(claims, sizeof(claims), ",\"exp\":%lld}",
             (long long) time(NULL) + 180);
    cs_buf_puts(&tmp, claims);

    cw_b64url(out, (const unsigned char *) hdr, sizeof(hdr) - 1);
    cs_buf_putc(out, '.');
    cw_b64url(out, (const unsigned char *) tmp.data, tmp.len);
    cs_buf_free(&tmp);

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return -1;
    }

    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, sf->key) != 1
        || EVP_DigestSign(md, NULL, &siglen, (unsigned char *) out->data,
                          out->len) != 1)
    {
        goto done;
    }

    sig = malloc(siglen);
    if (sig == NULL
        || EVP_DigestSign(md, sig, &siglen, (unsigned char *) out->data,
                          out->len) != 1)
    {
        goto done;
    }

    cs_buf_putc(out, '.');
    cw_b64url(out, sig, siglen);
    rc = out->oom ? -1 : 0;

done:

    free(sig);
    EVP_MD_CTX_free(md);
    return rc;
}


static void
cw_sf_token_done(cw_http_req_t *r)
{
    cw_sf_t     *sf = r->data;
    cw_err_t     err;
    json_t      *tok, *url;
    const char  *e, *d;
    const char  *grant = cw_conf_sf_auth_name(sf->conf->sf.auth);

    if (r->err.cls == CW_ERR_NONE) {
        tok = json_object_get(r->json, "access_token");
        url = json_object_get(r->json, "instance_url");

        if (json_is_string(tok) && json_is_string(url)
            && !cw_sf_instance_ok(json_string_value(url),
                                  sf->conf->sf.instance_domains))
        {
            /* the token would go there: it is dropped, not used */
            cw_err_set(&err, CW_ERR_PERMANENT, CW_E_BAD_INSTANCE_URL,
                       "Salesforce answered an instance_url that is not "
                       "https on a host of salesforce.instance_domains "
                       "(%.120s): the token is not used; check "
                       "salesforce.login_url, or add the org's domain",
                       sf->conf->sf.instance_domains);
            err.http_status = r->status;
            cw_error("salesforce", "token refused grant=%s "
                     "code=bad_instance_url", grant);
            cw_auth_fail(&sf->auth, &err);
            cw_http_req_free(r);
            return;
        }

        if (json_is_string(tok) && json_is_string(url)) {
            cw_debug("salesforce", "token obtained grant=%s", grant);
            cw_auth_set(&sf->auth, json_string_value(tok),
                        json_string_value(url), 0);
            cw_http_req_free(r);
            return;
        }

        cw_err_set(&r->err, CW_ERR_TRANSIENT, CW_E_BAD_TOKEN_RESPONSE,
                   "Salesforce token response has no access_token or "
                   "instance_url");
    }

    err = r->err;

    if (r->status >= 400 && r->status < 500) {
        /* {"error":"invalid_grant","error_description":"..."} */
        e = json_string_value(json_object_get(r->json, "error"));
        d = json_string_value(json_object_get(r->json, "error_description"));

        cw_err_set(&err, CW_ERR_PERMANENT, CW_E_OAUTH,
                   "Salesforce OAuth (%s) refused: HTTP %ld %s%s%s: check "
                   "salesforce.client_id and the %s credentials",
                   grant, r->status, e ? e : "", d ? " - " : "", d ? d : "",
                   grant);
        cw_err_vendor(&err, e);
        err.http_status = r->status;
    }

    cw_error("salesforce", "token request failed grant=%s code=%s "
             "status=%ld", grant, cw_err_name(&err), r->status);

    cw_auth_fail(&sf->auth, &err);
    cw_http_req_free(r);
}


static void
cw_sf_token_fetch(cw_auth_t *a)
{
    cw_sf_t        *sf = a->data;
    cs_buf_t        jwt;
    cw_err_t        err;
    cw_http_req_t  *r;
    const cw_conf_t  *c = sf->conf;

    r = cw_http_req_new(sf->http, "POST", &sf->target, NULL,
                        cw_sf_token_done, sf);
    cw_http_req_url(r, sf->token_url);
    r->content_type = "application/x-www-form-urlencoded";

    if (c->sf.auth == CW_SF_AUTH_CLIENT_CREDENTIALS) {
        cw_form_add(&r->body, "grant_type", "client_credentials");
        cw_form_add(&r->body, "client_id", c->sf.client_id);
        cw_form_add(&r->body, "client_secret", c->sf.client_secret);

    } else if (c->sf.auth == CW_SF_AUTH_REFRESH_TOKEN) {
        cw_form_add(&r->body, "grant_type", "refresh_token");
        cw_form_add(&r->body, "client_id", c->sf.client_id);
        if (c->sf.client_secret) {
            cw_form_add(&r->body, "client_secret", c->sf.client_secret);
        }
        cw_form_add(&r->body, "refresh_token", c->sf.refresh_token);

    } else {
        cs_buf_init(&jwt);

        if (cw_sf_jwt(sf, &jwt) != 0) {
            cs_buf_free(&jwt);
            cw_http_req_free(r);
            cw_err_set(&err, CW_ERR_PERMANENT, CW_E_JWT_SIGN,
                       "cannot sign the Salesforce JWT assertion: check "
                       "salesforce.private_key_file");
            cw_auth_fail(a, &err);
            return;
        }

        cs_buf_putc(&jwt, '\0');
        cw_form_add(&r->body, "grant_type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer");
        cw_form_add(&r->body, "assertion", jwt.data);
        cs_buf_free(&jwt);
    }

    cw_http_send(r);
}


/* ---- calls ---- */

/* The array error format: [{"message","errorCode","fields"}] */
static void
cw_sf_error(cw_sf_call_t *call, cw_http_req_t *r, cw_crm_res_t *res)
{
    size_t       i;
    json_t      *e, *f, *fields;
    cs_buf_t     fl;
    cw_sf_t     *sf = call->c.client;
    const char  *code = NULL, *op = cw_sf_op_names[call->c.op];

    res->err = r->err;

    if (r->auth_failed) {
        return;
    }

    e = json_is_array(r->json) ? json_array_get(r->json, 0) : NULL;
    if (e) {
        code = json_string_value(json_object_get(e, "errorCode"));
    }

    if (code == NULL && r->err.http_status == 0) {
        /* no answer at all: the layer's message says it */
        return;
    }

    cs_buf_init(&fl);
    fields = e ? json_object_get(e, "fields") : NULL;

    json_array_foreach(fields, i, f) {
        if (json_is_string(f) && cw_crm_field_ok(json_string_value(f))) {
            cs_buf_puts(&fl, fl.len ? "," : " on ");
            cs_buf_puts(&fl, json_string_value(f));
        }
    }

    cs_buf_putc(&fl, '\0');

    if (code && strcmp(code, "REQUEST_LIMIT_EXCEEDED") == 0) {
        cw_err_set(&res->err, CW_ERR_TRANSIENT, CW_E_THROTTLED,
                   "Salesforce API limit reached (%s), backing off%s%s",
                   code, sf->target.limit_info[0] ? ": " : "",
                   sf->target.limit_info);

    } else if (r->status == 401) {
        /* cw_http refreshed once already */
        cw_err_set(&res->err, CW_ERR_PERMANENT, CW_E_UNAUTHORIZED,
                   "Salesforce refused the session after a token refresh "
                   "(%s): check the connected app's policies and the "
                   "integration user", code ? code : "HTTP 401");

    } else if (r->err.cls == CW_ERR_TRANSIENT && code == NULL) {
        /* the layer's words: timeout, not JSON, HTTP 503 */

    } else if (r->err.cls == CW_ERR_TRANSIENT) {
        cw_err_set(&res->err, CW_ERR_TRANSIENT, CW_E_REJECTED,
                   "Salesforce %s failed with HTTP %ld%s%s", op, r->status,
                   code ? " " : "", code ? code : "");

    } else {
        /*
         * The message may quote the values sent (PHI): the code and the
         * field names are what a person needs to fix it.
         */
        cw_err_set(&res->err, CW_ERR_PERMANENT,
                   code ? CW_E_REJECTED : r->err.code,
                   "Salesforce rejected the contact %s: HTTP %ld %s%s: "
                   "check the field mapping and the integration user's "
                   "field access", op, r->status, code ? code : "",
                   fl.data ? fl.data : "");
    }

    cw_err_vendor(&res->err, code);
    res->err.http_status = r->status;
    res->err.retry_after_ms = r->err.retry_after_ms;
    cs_buf_free(&fl);
}


static void cw_sf_call_done(cw_http_req_t *r);


/*
 * The object and record a write's path names: /sobjects/<object>/<id>
 * for an update; a create's or an upsert's id is the answer's.
 */
static void
cw_sf_audit(cw_http_req_t *r, cw_sf_op_e op, const char *path, json_t *body)
{
    char         obj[96];
    size_t       n;
    const char  *p, *id = NULL;

    p = strstr(path, "/sobjects/");
    if (p == NULL) {
        snprintf(obj, sizeof(obj), "unknown");

    } else {
        p += sizeof("/sobjects/") - 1;
        n = strcspn(p, "/?");
        snprintf(obj, sizeof(obj), "%.*s", (int) n, p);

        if (op == CW_SF_UPDATE && p[n] == '/') {
            id = p + n + 1;
        }
    }

    cw_http_req_audit(r, obj, id, body);
}


static void
cw_sf_send(cw_sf_call_t *call, const char *method, const char *path,
    json_t *body)
{
    cw_sf_t        *sf = call->c.client;
    cw_http_req_t  *r;

    r = cw_http_req_new(sf->http, method, &sf->target, &sf->auth,
                        cw_sf_call_done, call);
    cw_http_req_url(r, path);

    if (body) {
        cw_http_req_json(r, body);
    }

    /* every write to Salesforce passes here: the audit trail's hook */
    if (strcmp(method, "GET") != 0) {
        cw_sf_audit(r, call->c.op, path, body);
    }

    cw_http_send(r);
}


static cw_sf_call_t *
cw_sf_call(cw_sf_t *sf, cw_sf_op_e op, cw_crm_done_pt done, void *data)
{
    cw_sf_call_t  *call;

    call = cw_call_new(sizeof(*call), sf, op, data);
    call->done = done;
    return call;
}


static void
cw_sf_call_done(cw_http_req_t *r)
{
    json_t        *recs, *next, *rec;
    size_t         i;
    cw_crm_res_t   res;
    cw_sf_call_t  *call = r->data;

    memset(&res, 0, sizeof(res));
    cw_err_clear(&res.err);
    res.status = r->status;

    if (r->err.cls != CW_ERR_NONE) {
        if (call->c.op == CW_SF_GET && r->status == 404) {
            /* not found is an answer, not a failure */
            goto done;
        }

        cw_sf_error(call, r, &res);
        goto done;
    }

    switch (call->c.op) {

    case CW_SF_GET:
        res.record = r->json;
        break;

    case CW_SF_QUERY:
        recs = json_object_get(r->json, "records");
        if (!json_is_array(recs)) {
            cw_err_set(&res.err, CW_ERR_TRANSIENT, CW_E_BAD_RESPONSE,
                       "Salesforce query answer has no records array");
            break;
        }

        if (call->records == NULL) {
            call->records = json_array();
        }

        json_array_foreach(recs, i, rec) {
            json_array_append(call->records, rec);
        }

        next = json_object_get(r->json, "nextRecordsUrl");

        if (!json_is_true(json_object_get(r->json, "done"))
            && json_is_string(next))
        {
            if (json_array_size(call->records)
                >= (call->max ? call->max : CW_SF_MAX_RECORDS))
            {
                cw_err_set(&res.err, CW_ERR_PERMANENT, CW_E_TOO_MANY_RECORDS,
                           "Salesforce query matched more than %zu "
                           "contacts", call->max ? call->max
                                                 : CW_SF_MAX_RECORDS);
                break;
            }

            if (!cw_sf_next_ok(json_string_value(next))) {
                /* an absolute URL would take the token elsewhere */
                cw_err_set(&res.err, CW_ERR_PERMANENT, CW_E_BAD_NEXT_URL,
                           "Salesforce answered a nextRecordsUrl that is "
                           "not a /services/data/ path on the instance: "
                           "not followed");
                break;
            }

            /* the next page, same call */
            cw_sf_send(call, "GET", json_string_value(next), NULL);
            cw_http_req_free(r);
            return;
        }

        res.records = call->records;
        break;

    case CW_SF_UPSERT:
        /* 201 created, 200 updated (v46+), 204 updated (before v46) */
        res.created = r->status == 201;
        res.record = r->json;
        res.id = json_string_value(json_object_get(r->json, "id"));
        break;

    case CW_SF_CREATE:
        res.created = 1;
        res.record = r->json;
        res.id = json_string_value(json_object_get(r->json, "id"));
        break;

    case CW_SF_COLLECTION:
        res.records = r->json;
        break;

    case CW_SF_UPDATE:
    case CW_SF_PING:
        break;
    }

done:

    if (call->c.op == CW_SF_UPSERT && r->status == 300) {
        /* several records have that external id: a person must merge */
        cw_err_set(&res.err, CW_ERR_PERMANENT, CW_E_MULTIPLE_CHOICES,
                   "several Salesforce contacts have the same external id: "
                   "merge the duplicates, then replay the job");
        res.err.http_status = 300;
        /* the body lists the candidates' URLs: the caller names them */
        res.records = json_is_array(r->json) ? r->json : NULL;
    }

    call->done(call->c.data, &res);

    if (call->records) {
        json_decref(call->records);
    }

    free(call);
    cw_http_req_free(r);
}


static void
cw_sf_fields(cs_buf_t *b, const char *const *fields)
{
    int  first = 1;

    for (; fields && *fields; fields++) {
        if (!first) {
            cs_buf_putc(b, ',');
        }
        cs_buf_puts(b, *fields);
        first = 0;
    }
}


/* Ends a call with `err` without sending anything. */
static void
cw_sf_fail_err(cw_sf_t *sf, cw_sf_op_e op, cw_crm_done_pt done, void *data,
    const cw_err_t *err)
{
    cw_sf_call_t    *call;
    cw_http_req_t   *r;

    /* still asynchronous: `done` never runs inside the caller */
    call = cw_sf_call(sf, op, done, data);
    r = cw_http_req_new(sf->http, "GET", &sf->target, NULL,
                        cw_sf_call_done, call);
    r->err = *err;
    cw_http_fail_later(r);
}


static void
cw_sf_fail_now(cw_sf_t *sf, cw_sf_op_e op, cw_crm_done_pt done, void *data,
    const char *fmt, const char *arg)
{
    cw_err_t  err;

    cw_err_set(&err, CW_ERR_PERMANENT, CW_E_BAD_FIELD, fmt, arg);
    cw_sf_fail_err(sf, op, done, data, &err);
}


/* a REST path: the versioned data path, then `what` (more may follow) */
static void
cw_sf_path(cw_sf_t *sf, cs_buf_t *p, const char *what)
{
    cs_buf_init(p);
    cs_buf_puts(p, sf->data_path);
    cs_buf_puts(p, what);
}


/* Sends a call to the path and frees the path; `max` caps a query. */
static void
cw_sf_request(cw_sf_t *sf, cw_sf_op_e op, const char *method, cs_buf_t *p,
    json_t *body, size_t max, cw_crm_done_pt done, void *data)
{
    cw_sf_call_t  *call;

    cs_buf_putc(p, '\0');

    call = cw_sf_call(sf, op, done, data);
    call->max = max;
    cw_sf_send(call, method, p->data, body);
    cs_buf_free(p);
}


/* A SOQL query (it is freed), every page up to `max` records. */
static void
cw_sf_query(cw_sf_t *sf, cs_buf_t *q, size_t max, cw_crm_done_pt done,
    void *data)
{
    cs_buf_t  p;

    cs_buf_putc(q, '\0');

    cw_sf_path(sf, &p, "/query?q=");
    cw_url_escape(&p, q->data);
    cw_sf_request(sf, CW_SF_QUERY, "GET", &p, NULL, max, done, data);

    cs_buf_free(q);
}


/*
 * The path of one contact; -1 when the id is not one (the call has ended
 * with that error, nothing sent, the path freed).
 */
static int
cw_sf_contact_path(cw_sf_t *sf, cs_buf_t *p, const char *id, cw_sf_op_e op,
    cw_crm_done_pt done, void *data)
{
    cw_err_t  err;

    cw_sf_path(sf, p, "/sobjects/Contact/");
    if (cw_http_url_id(p, id, "the Salesforce contact id", &err) != 0) {
        cs_buf_free(p);
        cw_sf_fail_err(sf, op, done, data, &err);
        return -1;
    }

    return 0;
}


static void
cw_sf_get_contact(cw_crm_t *crm, const char *id, const char *const *fields,
    cw_crm_done_pt done, void *data)
{
    cw_sf_t   *sf = (cw_sf_t *) crm;
    cs_buf_t   p;

    if (cw_sf_contact_path(sf, &p, id, CW_SF_GET, done, data) != 0) {
        return;
    }

    if (fields && *fields) {
        cs_buf_puts(&p, "?fields=");
        cw_sf_fields(&p, fields);
    }

    cw_sf_request(sf, CW_SF_GET, "GET", &p, NULL, 0, done, data);
}


static void
cw_sf_find_contacts(cw_crm_t *crm, const char *field, const char *value,
    const char *const *fields, cw_crm_done_pt done, void *data)
{
    cw_sf_t   *sf = (cw_sf_t *) crm;
    cs_buf_t   q;
    const char *const  *f;

    for (f = fields; f && *f; f++) {
        if (!cw_crm_field_ok(*f)) {
            cw_sf_fail_now(sf, CW_SF_QUERY, done, data,
                           "bad Salesforce field name `%s` in the "
                           "configuration", *f);
            return;
        }
    }

    if (!cw_crm_field_ok(field)) {
        cw_sf_fail_now(sf, CW_SF_QUERY, done, data,
                       "bad Salesforce field name `%s` in the configuration",
                       field);
        return;
    }

    cs_buf_init(&q);
    cs_buf_puts(&q, "SELECT Id");

    for (f = fields; f && *f; f++) {
        if (strcmp(*f, "Id") != 0) {
            cs_buf_putc(&q, ',');
            cs_buf_puts(&q, *f);
        }
    }

    cs_buf_puts(&q, " FROM Contact WHERE ");
    cs_buf_puts(&q, field);
    cs_buf_puts(&q, " = '");
    cw_soql_escape(&q, value);
    cs_buf_puts(&q, "'");

    cw_sf_query(sf, &q, 0, done, data);
}


static void
cw_sf_update_contact(cw_crm_t *crm, const char *id, json_t *fields,
    cw_crm_done_pt done, void *data)
{
    cw_sf_t   *sf = (cw_sf_t *) crm;
    cs_buf_t   p;

    if (cw_sf_contact_path(sf, &p, id, CW_SF_UPDATE, done, data) != 0) {
        return;
    }

    cw_sf_request(sf, CW_SF_UPDATE, "PATCH", &p, fields, 0, done, data);
}


static void
cw_sf_upsert_contact(cw_crm_t *crm, const char *ext_field, const char *value,
    json_t *fields, cw_crm_done_pt done, void *data)
{
    char       what[128];
    cw_sf_t   *sf = (cw_sf_t *) crm;
    cs_buf_t   p;
    cw_err_t   err;

    if (!cw_crm_field_ok(ext_field)) {
        cw_sf_fail_now(sf, CW_SF_UPSERT, done, data,
                       "bad Salesforce field name `%s` in the configuration",
                       ext_field);
        return;
    }

    cw_sf_path(sf, &p, "/sobjects/Contact/");
    cs_buf_puts(&p, ext_field);
    cs_buf_putc(&p, '/');

    snprintf(what, sizeof(what), "the upsert value of %s", ext_field);
    if (cw_http_url_id(&p, value, what, &err) != 0) {
        cs_buf_free(&p);
        cw_sf_fail_err(sf, CW_SF_UPSERT, done, data, &err);
        return;
    }

    cw_sf_request(sf, CW_SF_UPSERT, "PATCH", &p, fields, 0, done, data);
}


static void
cw_sf_create_contact(cw_crm_t *crm, json_t *fields, cw_crm_done_pt done,
    void *data)
{
    cw_sf_t   *sf = (cw_sf_t *) crm;
    cs_buf_t   p;

    cw_sf_path(sf, &p, "/sobjects/Contact/");
    cw_sf_request(sf, CW_SF_CREATE, "POST", &p, fields, 0, done, data);
}


static void
cw_sf_create_record(cw_crm_t *crm, const char *sobject, json_t *fields,
    cw_crm_done_pt done, void *data)
{
    cw_sf_t   *sf = (cw_sf_t *) crm;
    cs_buf_t   p;

    if (!cw_crm_field_ok(sobject)) {
        cw_sf_fail_now(sf, CW_SF_CREATE, done, data,
                       "bad Salesforce object name `%s`", sobject);
        return;
    }

    cw_sf_path(sf, &p, "/sobjects/");
    cs_buf_puts(&p, sobject);
    cs_buf_puts(&p, "/");
    cw_sf_request(sf, CW_SF_CREATE, "POST", &p, fields, 0, done, data);
}


static void
cw_sf_upsert_contacts(cw_crm_t *crm, const char *ext_field, json_t *records,
    cw_crm_done_pt done, void *data)
{
    size_t     i;
    json_t    *body, *list, *rec, *copy;
    cs_buf_t   p;
    cw_sf_t   *sf = (cw_sf_t *) crm;

    if (!cw_crm_field_ok(ext_field) || json_array_size(records) > 200) {
        cw_sf_fail_now(sf, CW_SF_COLLECTION, done, data,
                       "collection upsert needs a valid external id field "
                       "and at most 200 records (field `%s`)", ext_field);
        return;
    }

    list = json_array();

    json_array_foreach(records, i, rec) {
        copy = json_copy(rec);
        json_object_set_new(copy, "attributes",
                            json_pack("{s:s}", "type", "Contact"));
        json_array_append_new(list, copy);
    }

    /* allOrNone false: one bad contact must not fail the other 199 */
    body = json_pack("{s:b,s:o}", "allOrNone", 0, "records", list);

    cw_sf_path(sf, &p, "/composite/sobjects/Contact/");
    cs_buf_puts(&p, ext_field);
    cw_sf_request(sf, CW_SF_COLLECTION, "PATCH", &p, body, 0, done, data);

    json_decref(body);
}


static void
cw_sf_ping(cw_crm_t *crm, cw_crm_done_pt done, void *data)
{
    cw_sf_t   *sf = (cw_sf_t *) crm;
    cs_buf_t   p;

    cw_sf_path(sf, &p, "/limits");
    cw_sf_request(sf, CW_SF_PING, "GET", &p, NULL, 0, done, data);
}


/* an operator's batch condition (§B Bulk); the operator owns the SOQL */
static void
cw_sf_select_ids(cw_crm_t *crm, const char *where, cw_crm_done_pt done,
    void *data)
{
    cs_buf_t  q;

    cs_buf_init(&q);
    cs_buf_puts(&q, "SELECT Id FROM Contact WHERE ");
    cs_buf_puts(&q, where);

    cw_sf_query((cw_sf_t *) crm, &q, 50000, done, data);
}


static void
cw_sf_destroy(cw_crm_t *crm)
{
    cw_sf_t  *sf = (cw_sf_t *) crm;

    cw_auth_free(&sf->auth);
    free(sf->target.base_url);
    free(sf->token_url);
    free(sf->audience);
    free(sf->data_path);

    if (sf->key) {
        EVP_PKEY_free(sf->key);
    }

    free(sf);
}


/* Salesforce behind the CRM interface */
static const cw_crm_t  cw_sf_crm = {
    .name = "salesforce",
    .get_contact = cw_sf_get_contact,
    .find_contacts = cw_sf_find_contacts,
    .update_contact = cw_sf_update_contact,
    .upsert_contact = cw_sf_upsert_contact,
    .create_contact = cw_sf_create_contact,
    .create_record = cw_sf_create_record,
    .upsert_contacts = cw_sf_upsert_contacts,
    .ping = cw_sf_ping,
    .is_contact_id = cw_sf_is_contact_id,
    .destroy = cw_sf_destroy,
    .select_ids = cw_sf_select_ids,
};


cw_crm_t *
cw_salesforce_create(cw_http_t *http, const cw_conf_t *conf, char *err,
    size_t errlen)
{
    FILE      *f;
    size_t     n;
    cw_sf_t   *sf;
    cs_buf_t   b;

    if (conf->sf.login_url == NULL) {
        snprintf(err, errlen, "salesforce.login_url is not set");
        return NULL;
    }

    sf = cw_calloc(1, sizeof(*sf));
    sf->conf = conf;
    sf->http = http;

    cw_target_init(&sf->target, "salesforce", conf->sf.login_url,
                   (int) conf->sf.max_concurrency, (double) conf->sf.rps);
    cw_auth_init(&sf->auth, http, "salesforce", cw_sf_token_fetch, sf);

    n = strlen(conf->sf.login_url);
    while (n && conf->sf.login_url[n - 1] == '/') {
        n--;
    }

    cs_buf_init(&b);
    if (conf->sf.token_url) {
        cs_buf_puts(&b, conf->sf.token_url);
    } else {
        cs_buf_put(&b, conf->sf.login_url, n);
        cs_buf_puts(&b, "/services/oauth2/token");
    }
    cs_buf_putc(&b, '\0');
    sf->token_url = b.data;

    sf->audience = conf->sf.audience ? cw_strdup(conf->sf.audience)
                                     : cw_strndup(conf->sf.login_url, n);

    cs_buf_init(&b);
    cs_buf_puts(&b, "/services/data/");
    cs_buf_puts(&b, conf->sf.api_version);
    cs_buf_putc(&b, '\0');
    sf->data_path = b.data;

    if (conf->sf.auth == CW_SF_AUTH_JWT) {
        f = fopen(conf->sf.private_key_file, "r");
        if (f) {
            sf->key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
            fclose(f);
        }

        if (sf->key == NULL) {
            snprintf(err, errlen, "salesforce.private_key_file %s: cannot "
                     "read a PEM private key", conf->sf.private_key_file);
            cw_sf_destroy(&sf->crm);
            return NULL;
        }
    }

    sf->crm = cw_sf_crm;

    return &sf->crm;
}
