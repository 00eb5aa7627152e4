/*
 * caresync-worker: the HealthSherpa client (see cw_healthsherpa.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "clients/cw_healthsherpa.h"
#include "engine/cw_log.h"
#include "engine/cw_util.h"

#define CW_HS_SCOPE      "partner_api_v2"
#define CW_HS_STATE_TTL  600
#define CW_HS_IV         12
#define CW_HS_TAG        16

typedef struct cw_hs_agent_s  cw_hs_agent_t;

struct cw_hs_agent_s {
    cw_hs_t        *hs;
    char           *agent;
    cw_auth_t       auth;
    unsigned char   last[SHA256_DIGEST_LENGTH];  /* token handed out */
    int             have_last;
    cw_hs_agent_t  *next;
};

struct cw_hs_s {
    const cw_conf_t  *conf;
    cw_http_t        *http;
    cw_redis_t       *redis;
    cw_target_t       target;       /* the API */
    cw_target_t       oauth;        /* the token endpoint */
    unsigned char     key[32];
    int               have_key;
    char             *search_path;
    cw_hs_agent_t    *agents;
    size_t            nagents;
};

typedef struct {
    cw_call_t        c;             /* the client, the caller's data */
    cw_hs_agent_t   *ag;            /* token calls */
    cw_hs_done_pt    done;
} cw_hs_call_t;


/* A call of the client; `done` gets its answer (NULL: an internal one). */
static cw_hs_call_t *
cw_hs_call(cw_hs_t *hs, cw_hs_done_pt done, void *data)
{
    cw_hs_call_t  *call;

    call = cw_call_new(sizeof(*call), hs, 0, data);
    call->done = done;
    return call;
}


/* ---- token sealing: AES-256-GCM, the agent as additional data ---- */

int
cw_hs_parse_key(const char *s, unsigned char key[32])
{
    int            n, pad;
    size_t         i, len = strlen(s);
    unsigned char  tmp[64];

    if (len == 64) {
        for (i = 0; i < 32; i++) {
            unsigned int  v;

            if (sscanf(s + 2 * i, "%2x", &v) != 1) {
                return -1;
            }
            key[i] = (unsigned char) v;
        }
        return 0;
    }

    if (len != 44) {
        return -1;
    }

    n = EVP_DecodeBlock(tmp, (const unsigned char *) s, 44);
    pad = (s[43] == '=') + (s[42] == '=');

    if (n - pad != 32) {
        return -1;
    }

    memcpy(key, tmp, 32);
    OPENSSL_cleanse(tmp, sizeof(tmp));
    return 0;
}


/* The end of a GCM pass: the context freed, the working copy wiped. */
static int
cw_hs_gcm_end(EVP_CIPHER_CTX *ctx, unsigned char *buf, size_t size, int rc)
{
    EVP_CIPHER_CTX_free(ctx);
    OPENSSL_cleanse(buf, size);
    free(buf);
    return rc;
}


int
cw_hs_seal(const unsigned char key[32], const char *agent, const char *plain,
    size_t len, cs_buf_t *out)
{
    int              n, rc = -1;
    unsigned char    iv[CW_HS_IV], tag[CW_HS_TAG], *ct;
    EVP_CIPHER_CTX  *ctx;

    ct = cw_calloc(1, len + 16);

    if (RAND_bytes(iv, sizeof(iv)) != 1
        || (ctx = EVP_CIPHER_CTX_new()) == NULL)
    {
        free(ct);
        return -1;
    }

    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, iv) == 1
        && EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *) agent,
                             (int) strlen(agent)) == 1
        && EVP_EncryptUpdate(ctx, ct, &n, (const unsigned char *) plain,
                             (int) len) == 1
        && EVP_EncryptFinal_ex(ctx, ct + n, &n) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CW_HS_TAG, tag) == 1)
    {
        /* "1" (format version), iv, tag, ciphertext */
        cs_buf_putc(out, '1');
        cs_buf_put(out, iv, sizeof(iv));
        cs_buf_put(out, tag, sizeof(tag));
        cs_buf_put(out, ct, len);
        rc = 0;
    }

    return cw_hs_gcm_end(ctx, ct, len + 16, rc);
}


int
cw_hs_open(const unsigned char key[32], const char *agent, const char *sealed,
    size_t len, cs_buf_t *out)
{
    int              n, rc = -1;
    size_t           clen;
    unsigned char   *pt;
    EVP_CIPHER_CTX  *ctx;
    const unsigned char  *p = (const unsigned char *) sealed;

    if (len < 1 + CW_HS_IV + CW_HS_TAG || p[0] != '1') {
        return -1;
    }

    clen = len - 1 - CW_HS_IV - CW_HS_TAG;
    pt = cw_calloc(1, clen + 16);

    ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL) {
        free(pt);
        return -1;
    }

    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, p + 1) == 1
        && EVP_DecryptUpdate(ctx, NULL, &n, (const unsigned char *) agent,
                             (int) strlen(agent)) == 1
        && EVP_DecryptUpdate(ctx, pt, &n, p + 1 + CW_HS_IV + CW_HS_TAG,
                             (int) clen) == 1
        && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CW_HS_TAG,
                               (void *) (p + 1 + CW_HS_IV)) == 1
        && EVP_DecryptFinal_ex(ctx, pt + n, &n) == 1)
    {
        cs_buf_put(out, pt, clen);
        rc = 0;
    }

    return cw_hs_gcm_end(ctx, pt, clen + 16, rc);
}


/* ---- the stored pairs ---- */

static void
cw_hs_token_key(cw_hs_t *hs, const char *agent, char *out, size_t n)
{
    snprintf(out, n, "%s:hs:token:%s", hs->conf->redis.prefix, agent);
}


/* 1 found (rec set), 0 none, -1 Redis down, -2 cannot be decrypted */
static int
cw_hs_load(cw_hs_t *hs, const char *agent, json_t **rec)
{
    int          rc;
    char         key[512];
    cs_buf_t     plain;
    redisReply  *rep;

    cw_hs_token_key(hs, agent, key, sizeof(key));
    rep = cw_redis_cmd(hs->redis, "GET %s", key);

    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        if (rep) {
            freeReplyObject(rep);
        }
        return -1;
    }

    if (rep->type != REDIS_REPLY_STRING) {
        freeReplyObject(rep);
        return 0;
    }

    cs_buf_init(&plain);
    rc = cw_hs_open(hs->key, agent, rep->str, rep->len, &plain);
    freeReplyObject(rep);

    *rec = rc == 0 ? json_loadb(plain.data, plain.len, 0, NULL) : NULL;

    if (plain.data) {
        OPENSSL_cleanse(plain.data, plain.len);
    }
    cs_buf_free(&plain);

    return *rec ? 1 : -2;
}


static int
cw_hs_store(cw_hs_t *hs, const char *agent, json_t *rec)
{
    int          rc = -1;
    char         key[512], *plain;
    cs_buf_t     sealed;
    redisReply  *rep;

    plain = json_dumps(rec, JSON_COMPACT);
    if (plain == NULL) {
        return -1;
    }

    cs_buf_init(&sealed);

    if (cw_hs_seal(hs->key, agent, plain, strlen(plain), &sealed) == 0) {
        cw_hs_token_key(hs, agent, key, sizeof(key));
        rep = cw_redis_cmd(hs->redis, "SET %s %b", key, sealed.data,
                           sealed.len);
        rc = (rep && rep->type == REDIS_REPLY_STATUS) ? 0 : -1;
        if (rep) {
            freeReplyObject(rep);
        }
    }

    OPENSSL_cleanse(plain, strlen(plain));
    free(plain);
    cs_buf_free(&sealed);
    return rc;
}


/* ---- OAuth ---- */

int
cw_hs_login_url(cw_hs_t *hs, const char *agent, char *out, size_t n,
    char *err, size_t errlen)
{
    char             state[33], key[256];
    size_t           i;
    cs_buf_t         q;
    redisReply      *rep;
    unsigned char    rnd[16];
    const cw_conf_t  *c = hs->conf;

    if (c->hs.client_id == NULL || c->hs.redirect_uri == NULL) {
        snprintf(err, errlen, "healthsherpa.client_id and "
                 "healthsherpa.redirect_uri are required for the login");
        return -1;
    }

    if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
        snprintf(err, errlen, "no randomness for the OAuth state");
        return -1;
    }

    for (i = 0; i < sizeof(rnd); i++) {
        snprintf(state + 2 * i, 3, "%02x", rnd[i]);
    }

    /* the callback checks the state and learns whose code it is */
    snprintf(key, sizeof(key), "%s:hs:state:%s", c->redis.prefix, state);
    rep = cw_redis_cmd(hs->redis, "SET %s %s EX %d", key, agent,
                       CW_HS_STATE_TTL);
    if (rep == NULL || rep->type != REDIS_REPLY_STATUS) {
        if (rep) {
            freeReplyObject(rep);
        }
        snprintf(err, errlen, "cannot store the OAuth state in Redis");
        return -1;
    }
    freeReplyObject(rep);

    cs_buf_init(&q);
    cw_form_add(&q, "client_id", c->hs.client_id);
    cw_form_add(&q, "redirect_uri", c->hs.redirect_uri);
    cw_form_add(&q, "response_type", "code");
    cw_form_add(&q, "scope", CW_HS_SCOPE);
    cw_form_add(&q, "state", state);
    cs_buf_putc(&q, '\0');

    snprintf(out, n, "%s%c%s", c->hs.authorize_url,
             strchr(c->hs.authorize_url, '?') ? '&' : '?', q.data);
    cs_buf_free(&q);

    return 0;
}


int
cw_hs_state_agent(cw_hs_t *hs, const char *state, char *out, size_t n)
{
    int          rc = 0;
    char         key[256];
    size_t       i;
    redisReply  *rep;

    for (i = 0; state[i] && i < 32; i++) {
        if (!((state[i] >= '0' && state[i] <= '9')
              || (state[i] >= 'a' && state[i] <= 'f')))
        {
            return 0;
        }
    }

    if (i != 32 || state[i] != '\0') {
        return 0;
    }

    snprintf(key, sizeof(key), "%s:hs:state:%s", hs->conf->redis.prefix, state);
    rep = cw_redis_cmd(hs->redis, "GET %s", key);

    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        rc = -1;

    } else if (rep->type == REDIS_REPLY_STRING && rep->len < n) {
        memcpy(out, rep->str, rep->len + 1);
        rc = 1;
    }

    if (rep) {
        freeReplyObject(rep);
    }

    return rc;
}


/* GET and DEL at once: a state works once, even with two callbacks */
static const char  cw_hs_take_lua[] =
    "local v = redis.call('GET', KEYS[1])\n"
    "if v then redis.call('DEL', KEYS[1]) end\n"
    "return v\n";


/*
 * The state of a login: one that `url` issued (32 hex digits), not used
 * yet, not older than CW_HS_STATE_TTL, and for this agent.  It is gone
 * after this call whatever the outcome.  0, or -1 with the reason.
 */
static int
cw_hs_state_take(cw_hs_t *hs, const char *agent, const char *state,
    cw_err_t *err)
{
    int          rc = -1;
    char         key[256];
    size_t       i, n = strlen(agent);
    redisReply  *rep;

    for (i = 0; state[i]; i++) {
        if (i == 32 || !((state[i] >= '0' && state[i] <= '9')
                         || (state[i] >= 'a' && state[i] <= 'f')))
        {
            break;
        }
    }

    if (i != 32 || state[i] != '\0') {
        cw_err_set(err, CW_ERR_PERMANENT, CW_E_OAUTH_STATE,
                   "the OAuth state is not one this worker issued (32 hex "
                   "digits, the `state` of the redirect): run `oauth "
                   "healthsherpa url` for the agent again");
        return -1;
    }

    snprintf(key, sizeof(key), "%s:hs:state:%s", hs->conf->redis.prefix, state);
    rep = cw_redis_cmd(hs->redis, "EVAL %s 1 %s", cw_hs_take_lua, key);

    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        cw_err_set(err, CW_ERR_TRANSIENT, CW_E_REDIS,
                   "cannot read the OAuth state in Redis");

    } else if (rep->type != REDIS_REPLY_STRING) {
        cw_err_set(err, CW_ERR_PERMANENT, CW_E_OAUTH_STATE,
                   "the OAuth state is unknown, expired (it lasts %d "
                   "minutes) or already used: run `oauth healthsherpa url` "
                   "for the agent again", CW_HS_STATE_TTL / 60);

    } else if (rep->len != n
               || CRYPTO_memcmp(rep->str, agent, n) != 0)
    {
        cw_err_set(err, CW_ERR_PERMANENT, CW_E_OAUTH_STATE,
                   "the OAuth state was issued for another agent: the "
                   "agent who logged in must be the one named; run `oauth "
                   "healthsherpa url` for the agent again");

    } else {
        rc = 0;
    }

    if (rep) {
        freeReplyObject(rep);
    }

    return rc;
}


static void
cw_hs_no_token(cw_hs_t *hs, const char *agent, cw_err_t *err)
{
    char  url[1024], why[256];

    if (cw_hs_login_url(hs, agent, url, sizeof(url), why, sizeof(why)) != 0)
    {
        snprintf(url, sizeof(url), "caresync-worker oauth healthsherpa url "
                 "<agent>");
    }

    cw_err_set(err, CW_ERR_PERMANENT, CW_E_HS_NO_TOKEN,
               "Log in to HealthSherpa first: %s", url);
}


/*
 * A token answer: stored, then the caller's done (or the auth's), with
 * the access token and its lifetime when `access` is not NULL.
 */
static int
cw_hs_token_answer(cw_hs_call_t *call, cw_http_req_t *r, json_t *old,
    cw_err_t *err, const char **access, long *expires_in)
{
    json_t       *rec, *v;
    const char   *at, *rt;
    json_int_t    ttl;

    if (r->err.cls != CW_ERR_NONE) {
        *err = r->err;

        if (r->status == 400 || r->status == 401 || r->status == 403) {
            v = json_object_get(r->json, "error");
            cw_err_set(err, CW_ERR_PERMANENT, CW_E_HS_AUTH,
                       "HealthSherpa authentication failed: %s (HTTP %ld): "
                       "log in to HealthSherpa again",
                       json_is_string(v) ? json_string_value(v)
                                         : "token refused", r->status);
            err->http_status = r->status;
        }
        return -1;
    }

    at = json_string_value(json_object_get(r->json, "access_token"));
    rt = json_string_value(json_object_get(r->json, "refresh_token"));
    ttl = json_integer_value(json_object_get(r->json, "expires_in"));

    if (at == NULL || *at == '\0') {
        cw_err_set(err, CW_ERR_TRANSIENT, CW_E_BAD_RESPONSE,
                   "HealthSherpa token answer has no access_token");
        return -1;
    }

    /* a refresh may keep the old refresh token */
    if (rt == NULL && old) {
        rt = json_string_value(json_object_get(old, "refresh_token"));
    }

    rec = json_pack("{s:s,s:s?,s:I}", "access_token", at,
                    "refresh_token", rt, "expires_at",
                    (json_int_t) (ttl > 0 ? cw_now_ms() + (uint64_t) ttl * 1000
                                          : 0));

    if (cw_hs_store(call->c.client, call->ag->agent, rec) != 0) {
        json_decref(rec);
        cw_err_set(err, CW_ERR_TRANSIENT, CW_E_REDIS,
                   "cannot store the HealthSherpa tokens in Redis");
        return -1;
    }

    json_decref(rec);

    if (access) {
        *access = at;
        *expires_in = (long) ttl;
    }

    return 0;
}


static cw_http_req_t *
cw_hs_token_req(cw_hs_t *hs, cw_hs_call_t *call, cw_http_done_pt done)
{
    cw_http_req_t  *r;

    r = cw_http_req_new(hs->http, "POST", &hs->oauth, NULL, done, call);
    cw_http_req_url(r, hs->conf->hs.token_url);
    r->content_type = "application/x-www-form-urlencoded";
    return r;
}


static void
cw_hs_remember(cw_hs_agent_t *ag, const char *token)
{
    SHA256((const unsigned char *) token, strlen(token), ag->last);
    ag->have_last = 1;
}


static void
cw_hs_refreshed(cw_http_req_t *r)
{
    long           ttl;
    cw_err_t       err;
    const char    *at;
    cw_hs_call_t  *call = r->data;
    cw_hs_agent_t *ag = call->ag;

    cw_err_clear(&err);

    if (cw_hs_token_answer(call, r, NULL, &err, &at, &ttl) != 0) {
        cw_error("healthsherpa", "token refresh failed code=%s "
                 "http_status=%ld", cw_err_name(&err), err.http_status);
        cw_auth_fail(&ag->auth, &err);

    } else {
        cw_debug("healthsherpa", "token refreshed");
        cw_hs_remember(ag, at);
        cw_auth_set(&ag->auth, at, NULL, ttl);
    }

    free(call);
    cw_http_req_free(r);
}


/* cw_http asks for a token: the stored one, or a refreshed one. */
static void
cw_hs_fetch(cw_auth_t *a)
{
    int             rc;
    json_t         *rec = NULL;
    cw_err_t        err;
    uint64_t        now = cw_now_ms();
    json_int_t      exp;
    const char     *at, *rt;
    cw_hs_agent_t  *ag = a->data;
    cw_hs_t        *hs = ag->hs;
    cw_hs_call_t   *call;
    cw_http_req_t  *r;
    unsigned char   h[SHA256_DIGEST_LENGTH];

    cw_err_clear(&err);

    rc = cw_hs_load(hs, ag->agent, &rec);

    if (rc == -1) {
        cw_err_set(&err, CW_ERR_TRANSIENT, CW_E_REDIS,
                   "cannot read the agent's HealthSherpa tokens (Redis)");
        cw_auth_fail(a, &err);
        return;
    }

    if (rc == -2) {
        cw_err_set(&err, CW_ERR_PERMANENT, CW_E_HS_AUTH,
                   "HealthSherpa authentication failed: the stored tokens "
                   "cannot be decrypted with healthsherpa.token_key; log in "
                   "to HealthSherpa again");
        cw_auth_fail(a, &err);
        return;
    }

    if (rc == 0) {
        cw_hs_no_token(hs, ag->agent, &err);
        cw_auth_fail(a, &err);
        return;
    }

    at = json_string_value(json_object_get(rec, "access_token"));
    rt = json_string_value(json_object_get(rec, "refresh_token"));
    exp = json_integer_value(json_object_get(rec, "expires_at"));

    if (at) {
        SHA256((const unsigned char *) at, strlen(at), h);
    }

    /*
     * The stored token is used unless it is about to expire or is the one
     * this process already had dropped (expired or refused with a 401):
     * another worker may have refreshed it meanwhile, and refresh tokens
     * can rotate, so the store is the truth.
     */
    if (at && (exp == 0 || (uint64_t) exp > now + 60000)
        && !(ag->have_last && memcmp(h, ag->last, sizeof(h)) == 0))
    {
        cw_hs_remember(ag, at);
        cw_auth_set(a, at, NULL,
                    exp ? (long) (((uint64_t) exp - now) / 1000) : 0);
        json_decref(rec);
        return;
    }

    if (rt == NULL || hs->conf->hs.client_id == NULL) {
        json_decref(rec);
        cw_hs_no_token(hs, ag->agent, &err);
        cw_auth_fail(a, &err);
        return;
    }

    call = cw_hs_call(hs, NULL, NULL);
    call->ag = ag;

    r = cw_hs_token_req(hs, call, cw_hs_refreshed);
    cw_form_add(&r->body, "grant_type", "refresh_token");
    cw_form_add(&r->body, "refresh_token", rt);
    cw_form_add(&r->body, "client_id", hs->conf->hs.client_id);
    cw_form_add(&r->body, "client_secret", hs->conf->hs.client_secret);
    json_decref(rec);

    cw_http_send(r);
}


static cw_hs_agent_t *
cw_hs_agent(cw_hs_t *hs, const char *agent)
{
    cw_hs_agent_t  *ag;

    for (ag = hs->agents; ag; ag = ag->next) {
        if (strcmp(ag->agent, agent) == 0) {
            return ag;
        }
    }

    ag = cw_calloc(1, sizeof(*ag));
    ag->hs = hs;
    ag->agent = cw_strdup(agent);
    cw_auth_init(&ag->auth, hs->http, "healthsherpa", cw_hs_fetch, ag);
    ag->next = hs->agents;
    hs->agents = ag;

    /* one per known agent, for the process's life: the count says so */
    cw_debug("healthsherpa", "agent token cache added agents=%zu",
             ++hs->nagents);
    return ag;
}


static void
cw_hs_exchanged(cw_http_req_t *r)
{
    cw_hs_res_t    res;
    cw_hs_call_t  *call = r->data;

    memset(&res, 0, sizeof(res));
    cw_err_clear(&res.err);

    if (cw_hs_token_answer(call, r, NULL, &res.err, NULL, NULL) == 0) {
        /* the next request of this process uses the new pair */
        cw_auth_free(&call->ag->auth);
        call->ag->have_last = 0;
    }

    call->done(call->c.data, &res);
    free(call);
    cw_http_req_free(r);
}


void
cw_hs_exchange(cw_hs_t *hs, const char *agent, const char *state,
    const char *code, cw_hs_done_pt done, void *data)
{
    cw_hs_call_t   *call;
    cw_http_req_t  *r;

    /* call->ag is set once the checks pass: a failure needs none */
    call = cw_hs_call(hs, done, data);

    r = cw_hs_token_req(hs, call, cw_hs_exchanged);

    if (hs->conf->hs.client_id == NULL) {
        cw_err_set(&r->err, CW_ERR_PERMANENT, CW_E_CONFIG,
                   "healthsherpa.client_id is required for the login");
        cw_http_fail_later(r);
        return;
    }

    /* a code is traded only with the state its login was given */
    if (cw_hs_state_take(hs, agent, state, &r->err) != 0) {
        cw_http_fail_later(r);
        return;
    }

    call->ag = cw_hs_agent(hs, agent);

    cw_form_add(&r->body, "grant_type", "authorization_code");
    cw_form_add(&r->body, "code", code);
    cw_form_add(&r->body, "redirect_uri", hs->conf->hs.redirect_uri);
    cw_form_add(&r->body, "client_id", hs->conf->hs.client_id);
    cw_form_add(&r->body, "client_secret", hs->conf->hs.client_secret);

    cw_http_send(r);
}


/* ---- search ---- */

static const char *
cw_hs_error_code(json_t *body)
{
    json_t  *e = json_object_get(body, "error");

    if (json_is_string(e)) {
        return json_string_value(e);            /* OAuth's shape */
    }

    return json_string_value(json_object_get(e, "code"));
}


/* case-insensitive substring (strcasestr is a GNU extension) */
static int
cw_hs_contains(const char *s, const char *w)
{
    size_t  n = strlen(w);

    for (; *s; s++) {
        if (strncasecmp(s, w, n) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
cw_hs_agent_missing(json_t *body)
{
    json_t      *e = json_object_get(body, "error");
    const char  *code, *msg;

    code = cw_hs_error_code(body);
    msg = json_string_value(json_is_object(e)
                            ? json_object_get(e, "message")
                            : json_object_get(body, "error_description"));
    if (msg == NULL) {
        msg = json_string_value(json_object_get(body, "message"));
    }

    return (code && strcasecmp(code, "agent_not_found") == 0)
           || (msg && cw_hs_contains(msg, "agent not found"));
}


static void
cw_hs_classify(cw_hs_t *hs, cw_http_req_t *r, cw_hs_res_t *res)
{
    json_t      *data;
    const char  *code = cw_hs_error_code(r->json);

    if (r->auth_failed) {
        res->err = r->err;                       /* no token, or refused */
        return;
    }

    if (r->err.cls == CW_ERR_NONE) {
        data = json_object_get(r->json, "data");

        if (!json_is_object(data)) {
            cw_err_set(&res->err, CW_ERR_TRANSIENT, CW_E_BAD_RESPONSE,
                       "HealthSherpa search answer has no data object");
            return;
        }

        /* 200 with contact null is the first form of "no match" */
        if (json_is_object(json_object_get(data, "contact"))) {
            res->contact = json_object_get(data, "contact");
        }
        return;
    }

    switch (r->status) {

    case 404:
        if (cw_hs_agent_missing(r->json)) {
            cw_err_set(&res->err, CW_ERR_PERMANENT, CW_E_HS_NO_AGENT,
                       "HealthSherpa agent not found: the agent's email "
                       "must match their HealthSherpa account");
            break;
        }
        return;                                  /* no match, second form */

    case 422:
        if (code && (strcmp(code, "resource_not_found") == 0
                     || strcmp(code, "not_found") == 0))
        {
            return;                              /* no match, third form */
        }

        cw_err_set(&res->err, CW_ERR_PERMANENT, CW_E_HS_INVALID_PARAMS,
                   "Invalid search parameters: HealthSherpa answered %.60s",
                   code ? code : "422");
        break;

    case 401:
    case 403:
        cw_err_set(&res->err, CW_ERR_PERMANENT, CW_E_HS_AUTH,
                   "HealthSherpa authentication failed: %.60s (HTTP %ld): %s",
                   code ? code : "unauthorized", r->status,
                   hs->conf->hs.version == 1
                   ? "check healthsherpa.api_key and that the agent's email "
                     "matches their HealthSherpa account"
                   : "log in to HealthSherpa again");
        break;

    default:
        res->err = r->err;                       /* 429/5xx transient */
        if (r->err.cls == CW_ERR_PERMANENT && code) {
            cw_err_vendor(&res->err, code);
        }
        return;
    }

    res->err.http_status = r->status;
}


static void
cw_hs_searched(cw_http_req_t *r)
{
    cw_hs_res_t    res;
    cw_hs_call_t  *call = r->data;

    memset(&res, 0, sizeof(res));
    res.err.retry_after_ms = r->err.retry_after_ms;

    cw_hs_classify(call->c.client, r, &res);

    call->done(call->c.data, &res);
    free(call);
    cw_http_req_free(r);
}


int
cw_hs_agent_known(cw_hs_t *hs, const char *agent, cw_err_t *err)
{
    char              key[512];
    redisReply       *rep;
    const cw_conf_t  *c = hs->conf;

    cw_err_clear(err);

    /* an e-mail address is at most 254 characters */
    if (agent == NULL || *agent == '\0' || strlen(agent) > 254) {
        goto unknown;
    }

    if ((c->hs.agent_email && strcmp(agent, c->hs.agent_email) == 0)
        || cw_list_has(c->hs.agents, agent))
    {
        return 1;
    }

    if (c->hs.version == 2) {
        /* logged in by an operator: `oauth healthsherpa exchange` */
        cw_hs_token_key(hs, agent, key, sizeof(key));
        rep = cw_redis_cmd(hs->redis, "EXISTS %s", key);

        if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
            if (rep) {
                freeReplyObject(rep);
            }
            cw_err_set(err, CW_ERR_TRANSIENT, CW_E_REDIS,
                       "cannot read the agent's HealthSherpa tokens "
                       "(Redis)");
            return -1;
        }

        if (rep->integer == 1) {
            freeReplyObject(rep);
            return 1;
        }

        freeReplyObject(rep);
    }

unknown:

    /* the name is not repeated: it is whatever the caller sent */
    cw_err_set(err, CW_ERR_PERMANENT, CW_E_HS_UNKNOWN_AGENT,
               "Not a known HealthSherpa agent: list the agent in "
               "healthsherpa.agents%s",
               c->hs.version == 2 ? ", or log them in with `caresync-worker "
                                    "oauth healthsherpa url <agent>`" : "");
    return 0;
}


void
cw_hs_search(cw_hs_t *hs, const char *agent, json_t *params,
    cw_hs_done_pt done, void *data)
{
    char            hdr[512];
    json_t         *body;
    cw_err_t        err;
    cw_hs_call_t   *call;
    cw_http_req_t  *r;

    call = cw_hs_call(hs, done, data);

    if (cw_hs_agent_known(hs, agent, &err) != 1) {
        /* before anything is kept for the agent */
        r = cw_http_req_new(hs->http, "POST", &hs->target, NULL,
                            cw_hs_searched, call);
        r->err = err;
        cw_http_fail_later(r);
        return;
    }

    if (hs->conf->hs.version == 2) {
        call->ag = cw_hs_agent(hs, agent);
        r = cw_http_req_new(hs->http, "POST", &hs->target, &call->ag->auth,
                            cw_hs_searched, call);
        body = json_pack("{s:O}", "params", params);

    } else {
        r = cw_http_req_new(hs->http, "POST", &hs->target, NULL,
                            cw_hs_searched, call);
        snprintf(hdr, sizeof(hdr), "X-API-Key: %s",
                 hs->conf->hs.api_key ? hs->conf->hs.api_key : "");
        cw_http_req_header(r, hdr);
        OPENSSL_cleanse(hdr, sizeof(hdr));
        body = json_pack("{s:s,s:O}", "agent_email", agent, "params",
                         params);
    }

    cw_http_req_url(r, hs->search_path);
    cw_http_req_json(r, body);
    json_decref(body);

    cw_http_send(r);
}


/* ---- life ---- */

cw_hs_t *
cw_hs_create(cw_http_t *http, cw_redis_t *redis, const cw_conf_t *conf,
    char *err, size_t errlen)
{
    cw_hs_t  *hs;

    if (conf->hs.base_url == NULL) {
        snprintf(err, errlen, "healthsherpa.base_url is not set");
        return NULL;
    }

    hs = cw_calloc(1, sizeof(*hs));
    hs->conf = conf;
    hs->http = http;
    hs->redis = redis;

    if (conf->hs.version == 2) {
        if (conf->hs.token_key == NULL
            || cw_hs_parse_key(conf->hs.token_key, hs->key) != 0)
        {
            snprintf(err, errlen, "healthsherpa.token_key must be 32 bytes "
                     "as 64 hex digits or base64 (version 2 keeps the "
                     "agents' tokens encrypted with it)");
            free(hs);
            return NULL;
        }
        hs->have_key = 1;
    }

    hs->search_path = cw_strdup(conf->hs.search_path
                                ? conf->hs.search_path
                                : conf->hs.version == 2
                                  ? "/v2/contacts/search"
                                  : "/v1/contacts/search");

    cw_target_init(&hs->target, "healthsherpa", conf->hs.base_url,
                   (int) conf->hs.max_concurrency, (double) conf->hs.rps);
    /* the token endpoint is another host; requests there are rare */
    cw_target_init(&hs->oauth, "healthsherpa-oauth", conf->hs.token_url, 4,
                   0);

    return hs;
}


void
cw_hs_destroy(cw_hs_t *hs)
{
    cw_hs_agent_t  *ag, *next;

    for (ag = hs->agents; ag; ag = next) {
        next = ag->next;
        cw_auth_free(&ag->auth);
        free(ag->agent);
        free(ag);
    }

    OPENSSL_cleanse(hs->key, sizeof(hs->key));
    free(hs->target.base_url);
    free(hs->oauth.base_url);
    free(hs->search_path);
    free(hs);
}
