/*
 * Who may post: a shared-secret header, bearer tokens (the actions API),
 * an HMAC of the raw body (Hint), and Standard Webhooks signatures.
 *
 * Every comparison is constant-time.  Signatures are checked over the
 * raw bytes before anything parses them.  Secrets come from the
 * configuration, inline or from a file that only the master (which
 * reads the configuration) needs to be able to read; they are never
 * logged, and a refusal never says which secret was tried.
 */


#include "ngx_http_caresync.h"

#include <openssl/sha.h>


static ngx_table_elt_t *ngx_http_caresync_header(ngx_http_request_t *r,
    ngx_str_t *name);
static ngx_uint_t ngx_http_caresync_secret_equal(ngx_str_t *given,
    ngx_str_t *secret);
static ngx_int_t ngx_http_caresync_unauthorized(ngx_http_request_t *r,
    const char *reason, const char *message);
static ngx_int_t ngx_http_caresync_refused(ngx_http_request_t *r,
    cs_sig_result_t rc);


/*
 * The checks that need only the headers, before the body is read.
 * NGX_OK: passed; NGX_DECLINED: refused (answer with
 * ngx_http_caresync_reply_refused()); NGX_ERROR.
 */

ngx_int_t
ngx_http_caresync_auth_headers(ngx_http_request_t *r)
{
    u_char                        *p;
    ngx_str_t                      given, *token;
    ngx_uint_t                     i, ok;
    ngx_table_elt_t               *h;
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
            return ngx_http_caresync_unauthorized(r, "auth",
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

        /* try every token, so the time taken says nothing of which */

        ok = 0;
        token = clcf->api_tokens->elts;

        for (i = 0; i < clcf->api_tokens->nelts; i++) {
            ok |= ngx_http_caresync_secret_equal(&given, &token[i]);
        }

        if (!ok || given.len == 0) {
            h = ngx_list_push(&r->headers_out.headers);
            if (h == NULL) {
                return NGX_ERROR;
            }

            h->hash = 1;
            ngx_str_set(&h->key, "WWW-Authenticate");
            ngx_str_set(&h->value, "Bearer");

            return ngx_http_caresync_unauthorized(r, "auth",
                                        "missing or invalid bearer token");
        }
    }

    return NGX_OK;
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
        return ngx_http_caresync_unauthorized(r, "signature",
                                              "missing signature");

    case CS_SIG_STALE:
        return ngx_http_caresync_unauthorized(r, "stale_signature",
                                     "signature timestamp out of tolerance");

    case CS_SIG_ERROR:
        return NGX_ERROR;

    default:
        return ngx_http_caresync_unauthorized(r, "signature",
                                              "invalid signature");
    }
}


/*
 * Refusals are answered by the caller (ngx_http_caresync_reply_refused()):
 * here they are only recorded, so that "passed" and "answered" can never
 * be mistaken for each other.
 */

static ngx_int_t
ngx_http_caresync_unauthorized(ngx_http_request_t *r, const char *reason,
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


static ngx_table_elt_t *
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


/* A signing key as configured ("hex:", "base64:", "whsec_", or text). */

char *
ngx_http_caresync_conf_key(ngx_conf_t *cf, ngx_str_t *text, cs_sig_key_t *key,
    ngx_uint_t whsec)
{
    int      rc;
    u_char  *p;

    p = ngx_pnalloc(cf->pool, text->len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    key->data = p;

    /* Standard Webhooks secrets are base64, with or without "whsec_" */

    rc = whsec ? cs_sig_whsec_decode((const char *) text->data, text->len,
                                     p, &key->len)
               : cs_sig_key_decode((const char *) text->data, text->len, p,
                                   &key->len);

    if (rc != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a signing key does not decode");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* A secret written inline, or "file:/path" read now, by the master. */

char *
ngx_http_caresync_conf_secret(ngx_conf_t *cf, ngx_str_t *value,
    ngx_str_t *out)
{
    u_char           *p;
    ssize_t           n;
    ngx_fd_t          fd;
    ngx_str_t         path;
    ngx_file_info_t   fi;

    if (ngx_strncmp(value->data, "file:", 5) != 0) {
        *out = *value;
        return NGX_CONF_OK;
    }

    path.data = value->data + 5;
    path.len = value->len - 5;

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    fd = ngx_open_file(path.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR
        || ngx_file_size(&fi) > 4096)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" is unreadable or too large",
                           &path);
        (void) ngx_close_file(fd);
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
                           "reading secret file \"%V\" failed", &path);
        return NGX_CONF_ERROR;
    }

    /* the newline an editor leaves is not part of the secret */

    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'
                     || p[n - 1] == ' ' || p[n - 1] == '\t'))
    {
        n--;
    }

    if (n == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "secret file \"%V\" is empty", &path);
        return NGX_CONF_ERROR;
    }

    out->data = p;
    out->len = n;

    return NGX_CONF_OK;
}
