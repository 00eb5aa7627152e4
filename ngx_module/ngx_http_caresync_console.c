/*
 * The console of a `caresync_console` location (docs/operations.md, "The
 * console"), for the people who review syncs.  The location is an
 * actions API location too (api.c), with the same bearer tokens:
 *
 *   GET  <location>                the page; console.js, console.css its
 *                                  script and style: no token, no data
 *   GET  <location>api/dlq         the dead letters, newest first
 *   GET  <location>api/batches     the newest batches' ids
 *   GET  <location>api/batches/<id>           a batch's counters
 *   GET  <location>api/batches/<id>/results   a page of its results
 *                                  (?cursor=N, HSCAN's)
 *   POST <location>api/batches/<id>/abort     its abort flag (cw_batch.h)
 *   GET  <location>api/lookup?contact=<CRM contact id>|patient=<id>
 *                                  the newest 20 jobs about it (their
 *                                  ids; the worker's index, cw_status.h)
 *   GET  <location>api/timeline/<job id>      the job's attempts and
 *                                  their vendor calls (cw_trace.h)
 *   GET  <location>api/log         the sync log, newest first
 *                                  (?level=debug|error|exception,
 *                                  ?since=<epoch ms>)
 *   …    <location>api/jobs/<id>, api/actions/<name>, api/hint/patients:
 *                                  the actions API (api.c)
 *
 * Every answer of the location carries strict security headers; every
 * JSON answer names only ids, statuses, counters and the worker's
 * messages (which hold no PHI, spec/job.md): never a job's envelope.
 */


#include "ngx_http_caresync.h"

#include "cs_action.h"
#include "cs_json.h"
#include "cs_time.h"


/* what one answer holds at most: each call's cost is bounded */
#define NGX_HTTP_CARESYNC_CONSOLE_DLQ       "50"
#define NGX_HTTP_CARESYNC_CONSOLE_BATCHES   "19"    /* the last index */
#define NGX_HTTP_CARESYNC_CONSOLE_RESULTS   "100"   /* HSCAN's hint */
#define NGX_HTTP_CARESYNC_CONSOLE_LOG       "200"
#define NGX_HTTP_CARESYNC_CONSOLE_ATTEMPTS  "-32"   /* CW_TRACE_ATTEMPTS */

#define ngx_http_caresync_console_arg(cmd, s)                                \
    ngx_http_caresync_cmd_arg(cmd, s, sizeof(s) - 1)


typedef struct {
    ngx_str_t     name;
    ngx_str_t     type;
    ngx_str_t    *body;
} ngx_http_caresync_asset_t;


static ngx_int_t ngx_http_caresync_console_asset(ngx_http_request_t *r,
    ngx_str_t *rest);
static ngx_int_t ngx_http_caresync_console_route(ngx_http_request_t *r,
    ngx_str_t *path);
static ngx_int_t ngx_http_caresync_console_key(ngx_http_request_t *r,
    const char *fmt, ngx_str_t *id);
static ngx_int_t ngx_http_caresync_console_json(ngx_http_request_t *r,
    cs_buf_t *b);
static void ngx_http_caresync_console_num(cs_buf_t *b, const char *key,
    redisReply *v);
static redisReply *ngx_http_caresync_console_field(redisReply *fv,
    const char *name);
static void ngx_http_caresync_console_member(cs_buf_t *b, const char *key,
    redisReply *v);
static ngx_int_t ngx_http_caresync_console_dlq(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_http_caresync_console_batches(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_http_caresync_console_batch(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_http_caresync_console_results(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_http_caresync_console_abort(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_http_caresync_console_timeline(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_http_caresync_console_log(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_http_caresync_console_level(ngx_str_t *s);
static ngx_int_t ngx_http_caresync_console_lookup(ngx_http_request_t *r,
    const char **refusal);
static ngx_int_t ngx_http_caresync_console_jobs(ngx_http_request_t *r,
    redisReply *reply);


/* console_assets.c, made from ngx_module/console/ at build time */
extern ngx_str_t  ngx_http_caresync_console_html;
extern ngx_str_t  ngx_http_caresync_console_js;
extern ngx_str_t  ngx_http_caresync_console_css;


static ngx_http_caresync_asset_t  ngx_http_caresync_assets[] = {
    { ngx_string(""), ngx_string("text/html; charset=utf-8"),
      &ngx_http_caresync_console_html },
    { ngx_string("index.html"), ngx_string("text/html; charset=utf-8"),
      &ngx_http_caresync_console_html },
    { ngx_string("console.js"),
      ngx_string("text/javascript; charset=utf-8"),
      &ngx_http_caresync_console_js },
    { ngx_string("console.css"), ngx_string("text/css; charset=utf-8"),
      &ngx_http_caresync_console_css },
};


/*
 * Script, style, pictures and calls from this origin only, no inline
 * script or style, never in a frame, no referrer, nothing cached: the
 * answers are about patients' syncs.
 */

static struct {
    ngx_str_t  key;
    ngx_str_t  value;
} ngx_http_caresync_console_security[] = {
    { ngx_string("Content-Security-Policy"),
      ngx_string("default-src 'self'; script-src 'self'; style-src 'self'; "
                 "img-src 'self'; connect-src 'self'; object-src 'none'; "
                 "base-uri 'none'; form-action 'none'; "
                 "frame-ancestors 'none'") },
    { ngx_string("X-Frame-Options"), ngx_string("DENY") },
    { ngx_string("X-Content-Type-Options"), ngx_string("nosniff") },
    { ngx_string("Referrer-Policy"), ngx_string("no-referrer") },
    { ngx_string("Cross-Origin-Resource-Policy"), ngx_string("same-origin") },
    { ngx_string("Cache-Control"), ngx_string("no-store") },
};


/*
 * KEYS[1] the batch; the flag is only set on a batch that exists, so
 * that an id typed wrong leaves no key behind.  1: set; 0: no batch.
 */

static ngx_http_caresync_script_t  ngx_http_caresync_abort_script = {
    ngx_string(
        "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
        "redis.call('HSET', KEYS[1], 'aborted', '1') "
        "return 1"),
    { 0 }
};


ngx_int_t
ngx_http_caresync_console_init(ngx_cycle_t *cycle)
{
    return ngx_http_caresync_script_init(&ngx_http_caresync_abort_script);
}


ngx_int_t
ngx_http_caresync_console_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  rest;
    ngx_http_core_loc_conf_t  *core;

    if (ngx_http_caresync_security_headers(r) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a prefix location ending in "/" (checked by nginx -t) */

    core = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->uri.len < core->name.len) {
        ngx_str_null(&rest);

    } else {
        rest.data = r->uri.data + core->name.len;
        rest.len = r->uri.len - core->name.len;
    }

    if (rest.len >= sizeof("api/") - 1
        && ngx_strncmp(rest.data, "api/", sizeof("api/") - 1) == 0)
    {
        rest.data += sizeof("api/") - 1;
        rest.len -= sizeof("api/") - 1;

        rc = ngx_http_caresync_console_route(r, &rest);

        if (rc != NGX_DECLINED) {
            return rc;
        }

        /* jobs, actions, the search box: the actions API's own */
        return ngx_http_caresync_api_handler(r);
    }

    if (ngx_http_caresync_ctx_create(r) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_caresync_console_asset(r, &rest);
}


ngx_int_t
ngx_http_caresync_security_headers(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_table_elt_t  *h;

    for (i = 0; i < sizeof(ngx_http_caresync_console_security)
                    / sizeof(ngx_http_caresync_console_security[0]); i++)
    {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        h->hash = 1;
        h->key = ngx_http_caresync_console_security[i].key;
        h->value = ngx_http_caresync_console_security[i].value;
    }

    return NGX_OK;
}


/*
 * The page and its files hold no data and no secret: they are served
 * without a token, which the page then asks for; every JSON call sends it.
 */

static ngx_int_t
ngx_http_caresync_console_asset(ngx_http_request_t *r, ngx_str_t *rest)
{
    ngx_int_t                   rc;
    ngx_uint_t                  i;
    ngx_http_caresync_asset_t  *a;

    for (i = 0; i < sizeof(ngx_http_caresync_assets)
                    / sizeof(ngx_http_caresync_assets[0]); i++)
    {
        a = &ngx_http_caresync_assets[i];

        if (a->name.len != rest->len
            || ngx_strncmp(a->name.data, rest->data, rest->len) != 0)
        {
            continue;
        }

        if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
            return ngx_http_caresync_reply_not_allowed(r, "GET");
        }

        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        r->headers_out.status = NGX_HTTP_OK;
        r->headers_out.content_type = a->type;
        r->headers_out.content_type_len = a->type.len;

        return ngx_http_caresync_reply_raw(r, a->body);
    }

    return ngx_http_caresync_reply_not_found(r);
}


/*
 * The console's own calls, after the token is checked; NGX_DECLINED: not
 * one of them (the actions API's, or a 404 of its).
 */

static ngx_int_t
ngx_http_caresync_console_route(ngx_http_request_t *r, ngx_str_t *path)
{
    u_char                   *slash;
    ngx_int_t                 rc, level;
    ngx_str_t                 id, tail, arg;
    ngx_uint_t                post;
    const char               *refusal;
    ngx_http_caresync_cmd_t  *cmd;
    ngx_http_caresync_ctx_t  *ctx;

    enum {
        console_dlq, console_batches, console_batch, console_results,
        console_abort, console_log, console_lookup, console_timeline
    } what;

    ngx_str_null(&id);
    ngx_str_null(&tail);
    post = 0;

    if (path->len == 3 && ngx_strncmp(path->data, "dlq", 3) == 0) {
        what = console_dlq;

    } else if (path->len == 3 && ngx_strncmp(path->data, "log", 3) == 0) {
        what = console_log;

    } else if (path->len == 6 && ngx_strncmp(path->data, "lookup", 6) == 0) {
        what = console_lookup;

    } else if (path->len > 9
               && ngx_strncmp(path->data, "timeline/", 9) == 0)
    {
        what = console_timeline;
        tail.data = path->data + 9;
        tail.len = path->len - 9;

    } else if (path->len == 7
               && ngx_strncmp(path->data, "batches", 7) == 0)
    {
        what = console_batches;

    } else if (path->len > 8
               && ngx_strncmp(path->data, "batches/", 8) == 0)
    {
        id.data = path->data + 8;
        id.len = path->len - 8;

        slash = ngx_strlchr(id.data, id.data + id.len, '/');

        if (slash) {
            tail.data = slash + 1;
            tail.len = id.data + id.len - tail.data;
            id.len = slash - id.data;
        }

        if (tail.data == NULL) {
            what = console_batch;

        } else if (tail.len == 7
                   && ngx_strncmp(tail.data, "results", 7) == 0)
        {
            what = console_results;

        } else if (tail.len == 5 && ngx_strncmp(tail.data, "abort", 5) == 0) {
            what = console_abort;
            post = 1;

        } else {
            return NGX_DECLINED;
        }

    } else {
        return NGX_DECLINED;
    }

    ctx = ngx_http_caresync_ctx_create(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rc = ngx_http_caresync_auth_headers(r);

    if (rc == NGX_DECLINED) {
        return ngx_http_caresync_reply_refused(r);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (post && r->method != NGX_HTTP_POST) {
        return ngx_http_caresync_reply_not_allowed(r, "POST");
    }

    if (!post && !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_caresync_reply_not_allowed(r, "GET");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    /* a batch id has one shape; anything else names no key */

    if (id.data && !ngx_http_caresync_batch_id(&id)) {
        ngx_http_caresync_metrics_reject(r, CS_REASON_NOT_FOUND);
        return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND,
                                             "unknown batch");
    }

    if (what == console_timeline && !ngx_http_caresync_job_id(&tail)) {
        ngx_http_caresync_metrics_reject(r, CS_REASON_NOT_FOUND);
        return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND,
                                             "unknown job");
    }

    cmd = &ctx->cmd;
    cmd->idempotent = 1;

    switch (what) {

    case console_timeline:
        cmd->handler = ngx_http_caresync_console_timeline;
        ngx_http_caresync_cmd_arg(cmd, "LRANGE", 6);
        rc = ngx_http_caresync_console_key(r, "%V:timeline:%V", &tail);
        ngx_http_caresync_console_arg(cmd,
                                      NGX_HTTP_CARESYNC_CONSOLE_ATTEMPTS);
        ngx_http_caresync_cmd_arg(cmd, "-1", 2);
        break;

    case console_dlq:
        cmd->handler = ngx_http_caresync_console_dlq;
        ngx_http_caresync_cmd_arg(cmd, "XREVRANGE", 9);
        rc = ngx_http_caresync_console_key(r, "%V:dead", NULL);
        ngx_http_caresync_cmd_arg(cmd, "+", 1);
        ngx_http_caresync_cmd_arg(cmd, "-", 1);
        ngx_http_caresync_cmd_arg(cmd, "COUNT", 5);
        ngx_http_caresync_console_arg(cmd, NGX_HTTP_CARESYNC_CONSOLE_DLQ);
        break;

    case console_batches:
        cmd->handler = ngx_http_caresync_console_batches;
        ngx_http_caresync_cmd_arg(cmd, "ZREVRANGE", 9);
        rc = ngx_http_caresync_console_key(r, "%V:batches", NULL);
        ngx_http_caresync_cmd_arg(cmd, "0", 1);
        ngx_http_caresync_console_arg(cmd,
                                      NGX_HTTP_CARESYNC_CONSOLE_BATCHES);
        break;

    case console_batch:
        cmd->handler = ngx_http_caresync_console_batch;
        ngx_http_caresync_cmd_arg(cmd, "HGETALL", 7);
        rc = ngx_http_caresync_console_key(r, "%V:batch:%V", &id);
        break;

    case console_results:
        /* HSCAN's cursor: digits, or the start */
        if (ngx_http_arg(r, (u_char *) "cursor", 6, &arg) != NGX_OK) {
            ngx_str_set(&arg, "0");
        }

        if (arg.len == 0 || arg.len > 20
            || ngx_atoi(arg.data, arg.len) == NGX_ERROR)
        {
            return ngx_http_caresync_reply_error(r, NGX_HTTP_BAD_REQUEST,
                                                 "cursor must be a number");
        }

        cmd->handler = ngx_http_caresync_console_results;
        ngx_http_caresync_cmd_arg(cmd, "HSCAN", 5);
        rc = ngx_http_caresync_console_key(r, "%V:batch:%V:results", &id);
        ngx_http_caresync_cmd_arg(cmd, arg.data, arg.len);
        ngx_http_caresync_cmd_arg(cmd, "COUNT", 5);
        ngx_http_caresync_console_arg(cmd,
                                      NGX_HTTP_CARESYNC_CONSOLE_RESULTS);
        break;

    case console_abort:
        cmd->handler = ngx_http_caresync_console_abort;
        cmd->script = &ngx_http_caresync_abort_script;
        cmd->nkeys = 1;
        rc = ngx_http_caresync_console_key(r, "%V:batch:%V", &id);
        break;

    case console_lookup:
        rc = ngx_http_caresync_console_lookup(r, &refusal);

        if (rc == NGX_DECLINED) {
            return ngx_http_caresync_reply_error(r, NGX_HTTP_BAD_REQUEST,
                                                 refusal);
        }

        break;

    default: /* console_log */
        level = 0;

        if (ngx_http_arg(r, (u_char *) "level", 5, &arg) == NGX_OK) {
            level = ngx_http_caresync_console_level(&arg);

            if (level == NGX_ERROR) {
                return ngx_http_caresync_reply_error(r, NGX_HTTP_BAD_REQUEST,
                                      "level must be debug, error or "
                                      "exception");
            }
        }

        /* since: epoch ms; stream ids start with the ms they were added */
        if (ngx_http_arg(r, (u_char *) "since", 5, &arg) != NGX_OK) {
            ngx_str_set(&arg, "-");

        } else if (arg.len == 0 || arg.len > 15
                   || ngx_atoi(arg.data, arg.len) == NGX_ERROR)
        {
            return ngx_http_caresync_reply_error(r, NGX_HTTP_BAD_REQUEST,
                                      "since must be a time in ms");
        }

        ctx->kind = level;
        cmd->handler = ngx_http_caresync_console_log;
        ngx_http_caresync_cmd_arg(cmd, "XREVRANGE", 9);
        rc = ngx_http_caresync_console_key(r, "%V:log", NULL);
        ngx_http_caresync_cmd_arg(cmd, "+", 1);
        ngx_http_caresync_cmd_arg(cmd, arg.data, arg.len);
        ngx_http_caresync_cmd_arg(cmd, "COUNT", 5);
        ngx_http_caresync_console_arg(cmd, NGX_HTTP_CARESYNC_CONSOLE_LOG);
        break;
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_caresync_command_held(r, ctx);
}


/* A key of the location's prefix, as the command's next argument. */

static ngx_int_t
ngx_http_caresync_console_key(ngx_http_request_t *r, const char *fmt,
    ngx_str_t *id)
{
    u_char                        *p, *last;
    size_t                         len;
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);
    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    len = clcf->prefix.len + ngx_strlen(fmt) + (id ? id->len : 0);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = id ? ngx_snprintf(p, len, fmt, &clcf->prefix, id)
              : ngx_snprintf(p, len, fmt, &clcf->prefix);

    ngx_http_caresync_cmd_arg(&ctx->cmd, p, last - p);

    return NGX_OK;
}


/*
 * ?contact=<id> (15 or 18 letters and digits, a Salesforce id) or
 * ?patient=<id> (1 to 64 of [A-Za-z0-9_.-]: "ha…", "pat-…"): the
 * worker's index of the jobs about it, {prefix}:patient:<key> (a set of
 * job ids, cw_status.h: "crm:<contact>", "hint:<pat-…>", "ha:<id>").  NGX_OK: the command is set up;
 * NGX_DECLINED: refused, why in *refusal (a 400); NGX_ERROR.
 */

static ngx_int_t
ngx_http_caresync_console_lookup(ngx_http_request_t *r, const char **refusal)
{
    u_char                   *p;
    ngx_str_t                 id;
    ngx_uint_t                i, contact, ok;
    const char               *fmt;
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    contact = (ngx_http_arg(r, (u_char *) "contact", 7, &id) == NGX_OK);

    if (!contact && ngx_http_arg(r, (u_char *) "patient", 7, &id) != NGX_OK) {
        *refusal = "give contact= or patient=";
        return NGX_DECLINED;
    }

    ok = contact ? (id.len == 15 || id.len == 18)
                 : (id.len > 0 && id.len <= 64);

    for (i = 0; ok && i < id.len; i++) {
        p = &id.data[i];
        ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
             || (*p >= '0' && *p <= '9')
             || (!contact && (*p == '_' || *p == '.' || *p == '-'));
    }

    if (!ok) {
        *refusal = contact ? "contact must be a 15- or 18-character "
                             "Salesforce id"
                           : "patient must be a patient id";
        return NGX_DECLINED;
    }

    /* the worker's names of the keys a job held (cw_lock.h) */
    fmt = contact ? "%V:patient:crm:%V"
          : (id.len > 4 && ngx_strncmp(id.data, "pat-", 4) == 0)
            ? "%V:patient:hint:%V" : "%V:patient:ha:%V";

    /* job ids sort by time: the newest first, at most 20 */
    ctx->cmd.handler = ngx_http_caresync_console_jobs;
    ngx_http_caresync_cmd_arg(&ctx->cmd, "SORT", 4);

    if (ngx_http_caresync_console_key(r, fmt, &id) != NGX_OK) {
        return NGX_ERROR;
    }

    ngx_http_caresync_cmd_arg(&ctx->cmd, "ALPHA", 5);
    ngx_http_caresync_cmd_arg(&ctx->cmd, "DESC", 4);
    ngx_http_caresync_cmd_arg(&ctx->cmd, "LIMIT", 5);
    ngx_http_caresync_cmd_arg(&ctx->cmd, "0", 1);
    ngx_http_caresync_cmd_arg(&ctx->cmd, "20", 2);

    return NGX_OK;
}


/* "b" + yyyymmddHHMMSS + 6 hex digits (cw_batch.h) */

ngx_uint_t
ngx_http_caresync_batch_id(ngx_str_t *id)
{
    ngx_uint_t  i;
    u_char      c;

    if (id->len != 21 || id->data[0] != 'b') {
        return 0;
    }

    for (i = 1; i < 21; i++) {
        c = id->data[i];

        if (!((c >= '0' && c <= '9') || (i > 14 && c >= 'a' && c <= 'f'))) {
            return 0;
        }
    }

    return 1;
}


/* a batch item's job id: "<batch id>-" + 6 digits (cw_batch.h) */

ngx_uint_t
ngx_http_caresync_batch_item_id(ngx_str_t *id)
{
    ngx_str_t   batch;
    ngx_uint_t  i;

    if (id->len != 28 || id->data[21] != '-') {
        return 0;
    }

    for (i = 22; i < 28; i++) {
        if (id->data[i] < '0' || id->data[i] > '9') {
            return 0;
        }
    }

    batch.data = id->data;
    batch.len = 21;

    return ngx_http_caresync_batch_id(&batch);
}


static ngx_int_t
ngx_http_caresync_console_level(ngx_str_t *s)
{
    static ngx_str_t  levels[] = {
        ngx_string("debug"), ngx_string("error"), ngx_string("exception")
    };

    ngx_uint_t  i;

    for (i = 0; i < 3; i++) {
        if (s->len == levels[i].len
            && ngx_strncmp(s->data, levels[i].data, s->len) == 0)
        {
            return i;
        }
    }

    return NGX_ERROR;
}


/* The value of a field of a stream entry's or a hash's [f, v, …]. */

static redisReply *
ngx_http_caresync_console_field(redisReply *fv, const char *name)
{
    size_t  i, len;

    if (fv == NULL || fv->type != REDIS_REPLY_ARRAY) {
        return NULL;
    }

    len = ngx_strlen(name);

    for (i = 0; i + 1 < fv->elements; i += 2) {
        if (fv->element[i]->type == REDIS_REPLY_STRING
            && fv->element[i]->len == len
            && ngx_strncmp(fv->element[i]->str, name, len) == 0
            && fv->element[i + 1]->type == REDIS_REPLY_STRING)
        {
            return fv->element[i + 1];
        }
    }

    return NULL;
}


/* `"key":"value"` (a JSON string, escaped), or null when absent; a comma
 * before it */

static void
ngx_http_caresync_console_member(cs_buf_t *b, const char *key, redisReply *v)
{
    cs_buf_putc(b, ',');
    cs_buf_json_key(b, key);

    if (v == NULL || v->type != REDIS_REPLY_STRING) {
        cs_buf_puts(b, "null");
        return;
    }

    cs_buf_json_str(b, v->str, v->len);
}


/* `,"key":N` for a counter; 0 when absent or not a number */

static void
ngx_http_caresync_console_num(cs_buf_t *b, const char *key, redisReply *v)
{
    ngx_int_t  n;
    u_char     num[NGX_INT64_LEN];

    n = 0;

    if (v && v->type == REDIS_REPLY_STRING && v->len) {
        n = ngx_atoi((u_char *) v->str, v->len);

        if (n == NGX_ERROR) {
            n = 0;
        }
    }

    cs_buf_putc(b, ',');
    cs_buf_json_key(b, key);
    cs_buf_put(b, num, ngx_sprintf(num, "%i", n) - num);
}


static ngx_int_t
ngx_http_caresync_console_json(ngx_http_request_t *r, cs_buf_t *b)
{
    return ngx_http_caresync_reply_buf(r, NGX_HTTP_OK, b);
}


/*
 * A stream's entries (XREVRANGE's answer) as {"entries":[…]}: `entry`
 * writes one entry's members after its "id", or returns 0 to leave the
 * entry out.
 */

typedef ngx_uint_t (*ngx_http_caresync_entry_pt)(ngx_http_request_t *r,
    cs_buf_t *b, redisReply *fv);

static ngx_int_t
ngx_http_caresync_console_stream(ngx_http_request_t *r, redisReply *reply,
    ngx_http_caresync_entry_pt entry)
{
    size_t       i, n, mark;
    cs_buf_t     b;
    redisReply  *e;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return ngx_http_caresync_reply_unavailable(r);
    }

    cs_buf_init(&b);
    cs_buf_puts(&b, "{\"entries\":[");

    for (i = 0, n = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2
            || e->element[0]->type != REDIS_REPLY_STRING
            || e->element[1]->type != REDIS_REPLY_ARRAY)
        {
            continue;
        }

        mark = b.len;

        cs_buf_puts(&b, n ? ",{" : "{");
        cs_buf_json_key(&b, "id");
        cs_buf_json_str(&b, e->element[0]->str, e->element[0]->len);

        if (!entry(r, &b, e->element[1])) {
            b.len = b.oom ? b.len : mark;
            continue;
        }

        cs_buf_putc(&b, '}');
        n++;
    }

    cs_buf_puts(&b, "]}");

    return ngx_http_caresync_console_json(r, &b);
}


/*
 * A dead letter: what a person decides a replay on.  The envelope
 * (`job`) holds the patient: it is never answered.
 */

static ngx_uint_t
ngx_http_caresync_console_dead(ngx_http_request_t *r, cs_buf_t *b,
    redisReply *fv)
{
    char         at[CS_TIME_ISO_LEN + 1];
    int64_t      ms;
    ngx_int_t    t;
    redisReply  *v;

    ngx_http_caresync_console_member(b, "job_id",
                       ngx_http_caresync_console_field(fv, "job_id"));
    ngx_http_caresync_console_member(b, "type",
                       ngx_http_caresync_console_field(fv, "type"));
    ngx_http_caresync_console_num(b, "attempts",
                       ngx_http_caresync_console_field(fv, "attempts"));

    v = ngx_http_caresync_console_field(fv, "failed_at");
    t = v ? ngx_atoi((u_char *) v->str, v->len) : NGX_ERROR;
    ms = (t == NGX_ERROR) ? 0 : (int64_t) t;
    cs_time_format_iso(cs_time_ms_valid(ms) ? ms : 0, at);

    cs_buf_putc(b, ',');
    cs_buf_json_key(b, "failed_at");
    cs_buf_json_str(b, at, CS_TIME_ISO_LEN);

    ngx_http_caresync_console_member(b, "error",
                       ngx_http_caresync_console_field(fv, "error"));

    return 1;
}


static ngx_int_t
ngx_http_caresync_console_dlq(ngx_http_request_t *r, redisReply *reply)
{
    return ngx_http_caresync_console_stream(r, reply,
                                            ngx_http_caresync_console_dead);
}


static ngx_int_t
ngx_http_caresync_console_batches(ngx_http_request_t *r, redisReply *reply)
{
    size_t     i, n;
    cs_buf_t   b;
    ngx_str_t  id;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return ngx_http_caresync_reply_unavailable(r);
    }

    cs_buf_init(&b);
    cs_buf_puts(&b, "{\"batches\":[");

    for (i = 0, n = 0; i < reply->elements; i++) {
        if (reply->element[i]->type != REDIS_REPLY_STRING) {
            continue;
        }

        id.data = (u_char *) reply->element[i]->str;
        id.len = reply->element[i]->len;

        /* only what the worker writes: the page builds URLs of them */
        if (!ngx_http_caresync_batch_id(&id)) {
            continue;
        }

        if (n++) {
            cs_buf_putc(&b, ',');
        }

        cs_buf_json_str(&b, (char *) id.data, id.len);
    }

    cs_buf_puts(&b, "]}");

    return ngx_http_caresync_console_json(r, &b);
}


/*
 * A job's timeline: the worker's entries, one per attempt (cw_trace.h:
 * times, outcome, its vendor calls as method, host and path template),
 * as {"timeline":[…]}.  Each is passed on only when it parses as a JSON
 * object, re-written without white space; the list holds no value of the
 * job by the worker's rule, and nothing else is read.
 */

static ngx_int_t
ngx_http_caresync_console_timeline(ngx_http_request_t *r, redisReply *reply)
{
    size_t          i, n;
    cs_buf_t        b;
    redisReply     *e;
    cs_json_doc_t   doc;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return ngx_http_caresync_reply_unavailable(r);
    }

    cs_buf_init(&b);
    cs_json_init(&doc);
    cs_buf_puts(&b, "{\"timeline\":[");

    for (i = 0, n = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_STRING
            || cs_json_parse(&doc, (const unsigned char *) e->str, e->len,
                             8, 4096) != CS_JSON_OK
            || !cs_json_is(cs_json_root(&doc), CS_JSON_OBJECT))
        {
            continue;
        }

        if (n++) {
            cs_buf_putc(&b, ',');
        }

        cs_json_compact(&doc, &b);
    }

    cs_json_free(&doc);
    cs_buf_puts(&b, "]}");

    return ngx_http_caresync_console_json(r, &b);
}


/*
 * A batch's counters (cw_batch.h).  Its agent is left out: the console
 * answers ids and counts.
 */

static ngx_int_t
ngx_http_caresync_console_batch(ngx_http_request_t *r, redisReply *reply)
{
    ngx_uint_t  i;
    cs_buf_t    b;

    static const char  *counters[] = {
        "total", "pending", "ignored", "matched", "no_match", "created",
        "updated", "linked", "unlinked", "skipped", "failed", NULL
    };

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2) {
        return ngx_http_caresync_reply_unavailable(r);
    }

    if (reply->elements == 0) {
        ngx_http_caresync_metrics_reject(r, CS_REASON_NOT_FOUND);
        return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND,
                                             "unknown batch");
    }

    cs_buf_init(&b);
    cs_buf_putc(&b, '{');
    cs_buf_json_key(&b, "kind");
    {
        redisReply  *v = ngx_http_caresync_console_field(reply, "kind");

        if (v) {
            cs_buf_json_str(&b, v->str, v->len);

        } else {
            cs_buf_puts(&b, "null");
        }
    }

    ngx_http_caresync_console_member(&b, "created_at",
                       ngx_http_caresync_console_field(reply, "created_at"));

    for (i = 0; counters[i]; i++) {
        ngx_http_caresync_console_num(&b, counters[i],
                       ngx_http_caresync_console_field(reply, counters[i]));
    }

    ngx_http_caresync_console_num(&b, "aborted",
                       ngx_http_caresync_console_field(reply, "aborted"));

    cs_buf_putc(&b, '}');

    return ngx_http_caresync_console_json(r, &b);
}


/* The jobs about a contact or a patient: job ids, which the page reads */

static ngx_int_t
ngx_http_caresync_console_jobs(ngx_http_request_t *r, redisReply *reply)
{
    size_t       i, j, n;
    cs_buf_t     b;
    redisReply  *e;

    if (reply->type != REDIS_REPLY_ARRAY) {
        return ngx_http_caresync_reply_unavailable(r);
    }

    cs_buf_init(&b);
    cs_buf_puts(&b, "{\"jobs\":[");

    for (i = 0, n = 0; i < reply->elements; i++) {
        e = reply->element[i];

        if (e->type != REDIS_REPLY_STRING || e->len == 0 || e->len > 64) {
            continue;
        }

        /* job ids: ULIDs, or a batch item's "<batch>-<n>" */
        for (j = 0; j < e->len; j++) {
            if (!((e->str[j] >= '0' && e->str[j] <= '9')
                  || (e->str[j] >= 'A' && e->str[j] <= 'Z')
                  || (e->str[j] >= 'a' && e->str[j] <= 'z')
                  || e->str[j] == '-'))
            {
                break;
            }
        }

        if (j != e->len) {
            continue;
        }

        if (n++) {
            cs_buf_putc(&b, ',');
        }

        cs_buf_json_str(&b, e->str, e->len);
    }

    cs_buf_puts(&b, "]}");

    return ngx_http_caresync_console_json(r, &b);
}


/* A page of results: item -> "status\tjob id\tmessage" (cw_batch.h) */

static ngx_int_t
ngx_http_caresync_console_results(ngx_http_request_t *r, redisReply *reply)
{
    u_char      *p, *last, *t1, *t2;
    size_t       i, n;
    cs_buf_t     b;
    redisReply  *kv, *k, *v;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING
        || reply->element[1]->type != REDIS_REPLY_ARRAY)
    {
        return ngx_http_caresync_reply_unavailable(r);
    }

    kv = reply->element[1];

    cs_buf_init(&b);
    cs_buf_putc(&b, '{');
    cs_buf_json_key(&b, "cursor");
    cs_buf_json_str(&b, reply->element[0]->str, reply->element[0]->len);
    cs_buf_puts(&b, ",\"results\":[");

    for (i = 0, n = 0; i + 1 < kv->elements; i += 2) {
        k = kv->element[i];
        v = kv->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            continue;
        }

        p = (u_char *) v->str;
        last = p + v->len;
        t1 = ngx_strlchr(p, last, '\t');
        t2 = t1 ? ngx_strlchr(t1 + 1, last, '\t') : NULL;

        if (t2 == NULL) {
            continue;
        }

        cs_buf_puts(&b, n++ ? ",{" : "{");
        cs_buf_json_key(&b, "item");
        cs_buf_json_str(&b, k->str, k->len);
        cs_buf_putc(&b, ',');
        cs_buf_json_key(&b, "status");
        cs_buf_json_str(&b, (char *) p, t1 - p);
        cs_buf_putc(&b, ',');
        cs_buf_json_key(&b, "job_id");
        cs_buf_json_str(&b, (char *) t1 + 1, t2 - t1 - 1);
        cs_buf_putc(&b, ',');
        cs_buf_json_key(&b, "message");
        cs_buf_json_str(&b, (char *) t2 + 1, last - t2 - 1);
        cs_buf_putc(&b, '}');
    }

    cs_buf_puts(&b, "]}");

    return ngx_http_caresync_console_json(r, &b);
}


static ngx_int_t
ngx_http_caresync_console_abort(ngx_http_request_t *r, redisReply *reply)
{
    static ngx_str_t  aborting = ngx_string("{\"aborted\":true}");

    if (reply->type != REDIS_REPLY_INTEGER) {
        return ngx_http_caresync_reply_unavailable(r);
    }

    if (reply->integer == 0) {
        ngx_http_caresync_metrics_reject(r, CS_REASON_NOT_FOUND);
        return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND,
                                             "unknown batch");
    }

    return ngx_http_caresync_reply(r, NGX_HTTP_OK, &aborting);
}


/* A sync log line at or above the level asked for (ctx->kind). */

static ngx_uint_t
ngx_http_caresync_console_line(ngx_http_request_t *r, cs_buf_t *b,
    redisReply *fv)
{
    ngx_str_t                 lv;
    ngx_int_t                 level;
    redisReply               *v;
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    v = ngx_http_caresync_console_field(fv, "level");

    if (v == NULL) {
        return 0;
    }

    lv.data = (u_char *) v->str;
    lv.len = v->len;
    level = ngx_http_caresync_console_level(&lv);

    if (level == NGX_ERROR || level < (ngx_int_t) ctx->kind) {
        return 0;
    }

    ngx_http_caresync_console_member(b, "ts",
                       ngx_http_caresync_console_field(fv, "ts"));
    ngx_http_caresync_console_member(b, "level", v);
    ngx_http_caresync_console_member(b, "component",
                       ngx_http_caresync_console_field(fv, "component"));
    ngx_http_caresync_console_member(b, "msg",
                       ngx_http_caresync_console_field(fv, "msg"));

    return 1;
}


static ngx_int_t
ngx_http_caresync_console_log(ngx_http_request_t *r, redisReply *reply)
{
    return ngx_http_caresync_console_stream(r, reply,
                                            ngx_http_caresync_console_line);
}
