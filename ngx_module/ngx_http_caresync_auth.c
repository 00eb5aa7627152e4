/*
 * Who may post: a shared-secret header, bearer tokens (the actions API),
 * an HMAC of the raw body (Hint), and Standard Webhooks signatures.
 *
 * Every comparison is constant-time.  Signatures are checked over the
 * raw bytes before anything parses them.  Secrets come from the
 * configuration, inline or from a file that only the master (which
 * reads the configuration) may read, never empty; they are never
 * logged, and a refusal never says which secret was tried.  A bearer
 * token may be bound to the agents it acts for (spec/inbound.md §4).
 */


#include "ngx_http_caresync.h"

#include <openssl/sha.h>


static ngx_uint_t ngx_http_caresync_secret_equal(ngx_str_t *given,
    ngx_str_t *secret);
static ngx_int_t ngx_http_caresync_unauthorized(ngx_http_request_t *r,
    cs_reason_t reason, const char *message);
static ngx_int_t ngx_http_caresync_refused(ngx_http_request_t *r,
    cs_sig_result_t rc);
static void ngx_http_caresync_agent_digest(u_char *agent, size_t len,
    u_char *out);
static void ngx_http_caresync_conf_error(ngx_conf_t *cf, ngx_uint_t param,
    const char *what, ngx_str_t *path);


/*
 * The checks that need only the headers, before the body is read.
 * NGX_OK: passed; NGX_DECLINED: refused (answer with
 * ngx_http_caresync_reply_refused()); NGX_ERROR.
 */

ngx_int_t
ngx_http_caresync_auth_headers(ngx_http_request_t *r)
{
    u_char                        *p;
    ngx_str_t                      given;
    ngx_uint_t                     i, m, ok, sel;
    ngx_table_elt_t               *h;
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_token_t     *token;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    if (clcf->auth_header.len) {
        h = ngx_http_caresync_header(r, &clcf->auth_header);

        ok = 0;

        if (h) {
            ok = ngx_http_caresync_secret_equal(&h->value, &clcf->auth_secret);

            if (clcf->auth_secret2.len) {
                ok |= ngx_http_caresync_secret_equal(&h->value,
                                                     &clcf->auth_secret2);
            }
        }

        if (!ok) {
            return ngx_http_caresync_unauthorized(r, CS_REASON_AUTH,
                                        "missing or invalid credentials");
        }
    }

    /* bearer tokens guard the actions API; senders use the other checks */

    if (clcf->api && clcf->api_tokens) {
        ngx_str_null(&given);

        h = r->headers_in.authorization;

        if (h && h->value.len > sizeof("Bearer ") - 1
            && ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                               sizeof("Bearer ") - 1) == 0)
        {
            p = h->value.data + sizeof("Bearer ") - 1;

            while (p < h->value.data + h->value.len && *p == ' ') {
                p++;
            }

            given.data = p;
            given.len = h->value.data + h->value.len - p;
        }

        /*
         * try every token, so the time taken says nothing of which; the
         * one that matched is picked without a branch (nginx -t refuses
         * a token given twice, so at most one matches)
         */

        ok = 0;
        sel = 0;
        token = clcf->api_tokens->elts;

        for (i = 0; i < clcf->api_tokens->nelts; i++) {
            m = ngx_http_caresync_secret_equal(&given, &token[i].secret);
            ok |= m;
            sel |= (0 - m) & i;
        }

        if (!ok || given.len == 0) {
            h = ngx_list_push(&r->headers_out.headers);
            if (h == NULL) {
                return NGX_ERROR;
            }

            h->hash = 1;
            ngx_str_set(&h->key, "WWW-Authenticate");
            ngx_str_set(&h->value, "Bearer");

            return ngx_http_caresync_unauthorized(r, CS_REASON_AUTH,
                                        "missing or invalid bearer token");
        }

        ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);
        ctx->token = &token[sel];
    }

    return NGX_OK;
}


/*
 * A token bound to agents (caresync_api_token … agents=) may act for
 * those only: an action that names another agent is refused (403, the
 * caller answers with ctx->refusal).  Every agent of every token is
 * compared and only the matched token's count, so the time taken says
 * nothing of which token matched or of how many agents it has.  An
 * action that names no agent acts for none: there is nothing to check.
 * Returns NGX_OK, or NGX_DECLINED.
 */

ngx_int_t
ngx_http_caresync_auth_agent(ngx_http_request_t *r, cs_ingest_t *in)
{
    u_char                        *a, d[SHA256_DIGEST_LENGTH];
    ngx_uint_t                     i, j, mine, bound, ok;
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_token_t     *token;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    if (ctx->token == NULL || in->agent_len == 0) {
        return NGX_OK;
    }

    ngx_http_caresync_agent_digest((u_char *) in->agent, in->agent_len, d);

    bound = 0;
    ok = 0;
    token = clcf->api_tokens->elts;

    for (i = 0; i < clcf->api_tokens->nelts; i++) {
        if (token[i].agents == NULL) {
            continue;
        }

        mine = (&token[i] == ctx->token);
        bound |= mine;
        a = token[i].agents->elts;

        for (j = 0; j < token[i].agents->nelts; j++) {
            ok |= mine & cs_sig_equal(d, a + j * SHA256_DIGEST_LENGTH,
                                      SHA256_DIGEST_LENGTH);
        }
    }

    if (!bound || ok) {
        return NGX_OK;
    }

    /* the agent is an e-mail address: it is never logged nor echoed */
    return ngx_http_caresync_unauthorized(r, CS_REASON_AGENT,
                                     "this token may not act for that agent");
}


/*
 * Agents are e-mail addresses, compared in any case, or CRM user ids,
 * compared exactly (Salesforce ids are case-sensitive); only a digest of
 * the text so normalized is kept and compared.
 */

static void
ngx_http_caresync_agent_digest(u_char *agent, size_t len, u_char *out)
{
    u_char  buf[CS_INGEST_AGENT_MAX];

    if (len > CS_INGEST_AGENT_MAX
        || ngx_strlchr(agent, agent + len, '@') == NULL)
    {
        SHA256(agent, len, out);
        return;
    }

    ngx_strlow(buf, agent, len);
    SHA256(buf, len, out);
}


/*
 * The checks over the raw body.  A verified Standard Webhooks message id
 * is returned in `idem`: the sender's id for the message, the same on
 * every retry; it is marked in Redis with the job, so that a replayed
 * message queues nothing (the event's own dedupe key still applies).
 * Returns as ngx_http_caresync_auth_headers() does.
 */

ngx_int_t
ngx_http_caresync_auth_body(ngx_http_request_t *r, ngx_str_t *body,
    ngx_str_t *idem)
{
    ngx_table_elt_t               *sig, *id, *ts;
    cs_sig_stdwh_t                 h;
    cs_sig_result_t                rc;
    cs_sig_hmac_conf_t             hc;
    ngx_http_caresync_loc_conf_t  *clcf;

    static ngx_str_t  wh_id = ngx_string("webhook-id");
    static ngx_str_t  wh_ts = ngx_string("webhook-timestamp");
    static ngx_str_t  wh_sig = ngx_string("webhook-signature");

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    if (clcf->hmac_keys) {
        hc.keys = clcf->hmac_keys->elts;
        hc.nkeys = clcf->hmac_keys->nelts;
        hc.prefix = (const char *) clcf->hmac_prefix.data;
        hc.prefix_len = clcf->hmac_prefix.len;
        hc.encoding = clcf->hmac_base64 ? CS_SIG_BASE64 : CS_SIG_HEX;

        sig = ngx_http_caresync_header(r, &clcf->hmac_header);

        rc = cs_sig_hmac_verify(&hc,
                                sig ? (const char *) sig->value.data : NULL,
                                sig ? sig->value.len : 0,
                                body->data, body->len);

        if (rc != CS_SIG_OK) {
            return ngx_http_caresync_refused(r, rc);
        }
    }

    if (clcf->sw_keys) {
        id = ngx_http_caresync_header(r, &wh_id);
        ts = ngx_http_caresync_header(r, &wh_ts);
        sig = ngx_http_caresync_header(r, &wh_sig);

        ngx_memzero(&h, sizeof(cs_sig_stdwh_t));

        if (id) {
            h.id.data = (const char *) id->value.data;
            h.id.len = id->value.len;
        }

        if (ts) {
            h.timestamp.data = (const char *) ts->value.data;
            h.timestamp.len = ts->value.len;
        }

        if (sig) {
            h.signature.data = (const char *) sig->value.data;
            h.signature.len = sig->value.len;
        }

        rc = cs_sig_stdwh_verify(clcf->sw_keys->elts, clcf->sw_keys->nelts,
                                 &h, body->data, body->len,
                                 (int64_t) ngx_time(),
                                 (int64_t) clcf->sw_tolerance);

        if (rc != CS_SIG_OK) {
            return ngx_http_caresync_refused(r, rc);
        }

        *idem = id->value;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_caresync_refused(ngx_http_request_t *r, cs_sig_result_t rc)
{
    switch (rc) {

    case CS_SIG_MISSING:
        return ngx_http_caresync_unauthorized(r, CS_REASON_SIGNATURE,
                                              "missing signature");

    case CS_SIG_STALE:
        return ngx_http_caresync_unauthorized(r, CS_REASON_STALE_SIGNATURE,
                                     "signature timestamp out of tolerance");

    case CS_SIG_ERROR:
        return NGX_ERROR;

    default:
        return ngx_http_caresync_unauthorized(r, CS_REASON_SIGNATURE,
                                              "invalid signature");
    }
}


/*
 * Refusals are answered by the caller (ngx_http_caresync_reply_refused()):
 * here they are only recorded, so that "passed" and "answered" can never
 * be mistaken for each other.
 */

static ngx_int_t
ngx_http_caresync_unauthorized(ngx_http_request_t *r, cs_reason_t reason,
    const char *message)
{
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);
    ctx->refusal = message;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "caresync: request refused: %s", message);

    ngx_http_caresync_metrics_reject(r, reason);

    return NGX_DECLINED;
}


/*
 * Who asked for an operator's action: a short digest of the token, never
 * the token; an operator finds which with
 * `printf %s "$token" | sha256sum | cut -c1-12`.
 */

size_t
ngx_http_caresync_auth_actor(ngx_http_request_t *r, u_char *out)
{
    u_char                    d[SHA256_DIGEST_LENGTH];
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    if (ctx == NULL || ctx->token == NULL) {
        return ngx_cpymem(out, "token-none", sizeof("token-none") - 1) - out;
    }

    SHA256(ctx->token->secret.data, ctx->token->secret.len, d);

    return ngx_hex_dump(ngx_cpymem(out, "token-", sizeof("token-") - 1), d, 6)
           - out;
}


/* The 401 for a refusal recorded by the checks above. */

ngx_int_t
ngx_http_caresync_reply_refused(ngx_http_request_t *r)
{
    ngx_int_t                 rc;
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    if (r->request_body == NULL) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return ngx_http_caresync_reply_error(r, NGX_HTTP_UNAUTHORIZED,
                                         ctx->refusal);
}


/* The first request header of that name, in any case, or NULL. */

ngx_table_elt_t *
ngx_http_caresync_header(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            return &h[i];
        }
    }
}


/* Digests first: equal lengths, so that the time says nothing of either. */

static ngx_uint_t
ngx_http_caresync_secret_equal(ngx_str_t *given, ngx_str_t *secret)
{
    u_char  a[SHA256_DIGEST_LENGTH], b[SHA256_DIGEST_LENGTH];

    SHA256(given->data ? given->data : (u_char *) "", given->len, a);
    SHA256(secret->data, secret->len, b);

    return cs_sig_equal(a, b, SHA256_DIGEST_LENGTH);
}


/*
 * Configuration errors name the directive and the parameter by its
 * position, never by its text, which may be the secret itself.
 */

static void
ngx_http_caresync_conf_error(ngx_conf_t *cf, ngx_uint_t param,
    const char *what, ngx_str_t *path)
{
    ngx_str_t  *name;

    name = cf->args->elts;

    if (path) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" parameter #%ui: file \"%V\" %s",
                           &name[0], param, path, what);
        return;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" parameter #%ui %s",
                       &name[0], param, what);
}


/* A signing key as configured ("hex:", "base64:", "whsec_", or text). */

char *
ngx_http_caresync_conf_key(ngx_conf_t *cf, ngx_str_t *text, ngx_uint_t param,
    cs_sig_key_t *key, ngx_uint_t whsec)
{
    int      rc;
    u_char  *p;

    p = ngx_pnalloc(cf->pool, text->len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    key->data = p;

    /*
     * Standard Webhooks secrets are base64, with or without "whsec_";
     * a key that decodes to no bytes at all ("hex:", "whsec_") is
     * refused with the ones that do not decode: anyone could sign with it
     */

    rc = whsec ? cs_sig_whsec_decode((const char *) text->data, text->len,
                                     p, &key->len)
               : cs_sig_key_decode((const char *) text->data, text->len, p,
                                   &key->len);

    if (rc != 0) {
        ngx_http_caresync_conf_error(cf, param,
                                     "does not decode as a signing key, "
                                     "or decodes to nothing", NULL);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * A secret written inline, or "file:/path" read now, by the master.
 * Empty is refused either way: an empty secret would match an empty
 * header.  The file must be a regular file that neither group nor others
 * may open: the master reads it, so no one else needs to.  The mode is
 * checked on the file opened, so a symbolic link is followed as open()
 * follows it and its own mode does not matter.
 */

char *
ngx_http_caresync_conf_secret(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t param, ngx_str_t *out)
{
    u_char           *p, mode[5];
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t         path;
    ngx_uint_t        i, m;
    ngx_file_info_t   fi;

    if (value->len < 5 || ngx_strncmp(value->data, "file:", 5) != 0) {
        if (value->len == 0) {
            ngx_http_caresync_conf_error(cf, param, "is empty", NULL);
            return NGX_CONF_ERROR;
        }

        *out = *value;
        return NGX_CONF_OK;
    }

    path.data = value->data + 5;
    path.len = value->len - 5;

    if (path.len == 0) {
        ngx_http_caresync_conf_error(cf, param,
                                     "has \"file:\" with no path", NULL);
        return NGX_CONF_ERROR;
    }

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY|NGX_FILE_NONBLOCK,
                       NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || !ngx_is_file(&fi)
        || ngx_file_size(&fi) > 4096)
    {
        ngx_http_caresync_conf_error(cf, param,
                                     "is not a regular file of at most "
                                     "4096 bytes", &path);
        (void) ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    m = ngx_file_access(&fi);

    if (m & 077) {
        (void) ngx_close_file(fd);

        for (i = 0; i < 4; i++) {
            mode[i] = (u_char) ('0' + ((m >> (9 - 3 * i)) & 7));
        }

        mode[4] = '\0';

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" parameter #%ui: file \"%V\" may be read "
                           "or written by group or others (mode %s): "
                           "chmod 600 it (or 400), owned by the user "
                           "nginx's master process runs as",
                           &((ngx_str_t *) cf->args->elts)[0], param, &path,
                           mode);
        return NGX_CONF_ERROR;
    }

    p = ngx_pnalloc(cf->pool, ngx_file_size(&fi) + 1);
    if (p == NULL) {
        (void) ngx_close_file(fd);
        return NGX_CONF_ERROR;
    }

    n = ngx_read_fd(fd, p, ngx_file_size(&fi));
    (void) ngx_close_file(fd);

    if (n < 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "reading file \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    /* the newline an editor leaves is not part of the secret */

    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'
                     || p[n - 1] == ' ' || p[n - 1] == '\t'))
    {
        n--;
    }

    if (n == 0) {
        ngx_http_caresync_conf_error(cf, param, "is empty", &path);
        return NGX_CONF_ERROR;
    }

    out->data = p;
    out->len = n;

    return NGX_CONF_OK;
}


/*
 * agents=a@example.org,b@example.org | agents=file:/path: the agents a
 * bearer token may act for, separated by commas or white space (a file
 * may hold one a line).  The list is read as a secret is, and is kept
 * only as digests (see ngx_http_caresync_agent_digest()).
 */

char *
ngx_http_caresync_conf_agents(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t param, ngx_array_t **agents)
{
    u_char     *p, *last, *start, *d;
    ngx_str_t   list;

    if (ngx_http_caresync_conf_secret(cf, value, param, &list)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    *agents = ngx_array_create(cf->pool, 4, SHA256_DIGEST_LENGTH);
    if (*agents == NULL) {
        return NGX_CONF_ERROR;
    }

    p = list.data;
    last = list.data + list.len;

    while (p < last) {
        if (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r'
            || *p == '\n')
        {
            p++;
            continue;
        }

        start = p;

        while (p < last && *p != ',' && *p != ' ' && *p != '\t'
               && *p != '\r' && *p != '\n')
        {
            p++;
        }

        if (p - start > CS_INGEST_AGENT_MAX) {
            ngx_http_caresync_conf_error(cf, param, "names an agent longer "
                                         "than 254 bytes", NULL);
            return NGX_CONF_ERROR;
        }

        d = ngx_array_push(*agents);
        if (d == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_http_caresync_agent_digest(start, p - start, d);
    }

    if ((*agents)->nelts == 0) {
        ngx_http_caresync_conf_error(cf, param, "names no agent", NULL);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}
