/*
 * The OAuth callback of a `caresync_oauth_callback` location: where
 * HealthSherpa sends an agent back after "Login to HealthSherpa" (seed
 * 000, Agent Authentication; docs/operations.md):
 *
 *   GET <location>?code=…&state=…   checks the state is one waiting (the
 *                                   worker issued it, bound to the agent,
 *                                   for ten minutes), marks it used, and
 *                                   queues ops.hs_exchange for the worker
 *                                   to trade the code; answers a page that
 *                                   follows that job
 *   GET <location>?error=…          the agent did not log in: said so
 *   GET <location>status?job=<id>   that job's status and message, for
 *                                   the page (an ops.hs_exchange job only)
 *   GET <location>oauth.js          the page's script
 *
 * No bearer token: the state is the credential, and it works once.  The
 * worker takes it again when it trades the code (GET and DEL) and checks
 * it was issued for the agent, in constant time (cw_healthsherpa.c).
 */


#include "ngx_http_caresync.h"

#include "cs_action.h"
#include "cs_id.h"


static ngx_int_t ngx_http_caresync_oauth_page(ngx_http_request_t *r,
    ngx_uint_t status, const char *message, ngx_str_t *job);
static ngx_int_t ngx_http_caresync_oauth_queue(ngx_http_request_t *r);
static ngx_int_t ngx_http_caresync_oauth_queued(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_http_caresync_oauth_status(ngx_http_request_t *r);
static ngx_int_t ngx_http_caresync_oauth_status_reply(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_http_caresync_oauth_arg(ngx_http_request_t *r,
    char *name, size_t max, ngx_str_t *out);
static void ngx_http_caresync_oauth_cleanup(void *data);


/* console_assets.c */
extern ngx_str_t  ngx_http_caresync_console_oauth;


/*
 * KEYS[1] the state the worker issued, KEYS[2] its "used" mark, KEYS[3]
 * the job's status record, KEYS[4] the jobs stream; ARGV[1] the job,
 * ARGV[2] the mark's life in s, then the record's field/value pairs.
 * 1 queued; -1 used already (by a callback: the worker may have taken
 * the state since); 0 no such state (expired, unknown).
 */

static ngx_http_caresync_script_t  ngx_http_caresync_oauth_script = {
    ngx_string(
        "if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end "
        "if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
        "redis.call('SET', KEYS[2], '1', 'EX', ARGV[2]) "
        "redis.call('HSET', KEYS[3], unpack(ARGV, 3)) "
        "redis.call('XADD', KEYS[4], '*', 'job', ARGV[1]) "
        "return 1"),
    { 0 }
};


ngx_int_t
ngx_http_caresync_oauth_init(ngx_cycle_t *cycle)
{
    return ngx_http_caresync_script_init(&ngx_http_caresync_oauth_script);
}


ngx_int_t
ngx_http_caresync_oauth_handler(ngx_http_request_t *r)
{
    ngx_int_t                  rc;
    ngx_str_t                  rest, error;
    ngx_uint_t                 i;
    ngx_http_core_loc_conf_t  *core;

    if (ngx_http_caresync_ctx_create(r) == NULL
        || ngx_http_caresync_security_headers(r) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return ngx_http_caresync_reply_not_allowed(r, "GET");
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    core = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    rest.data = r->uri.data + core->name.len;
    rest.len = r->uri.len >= core->name.len ? r->uri.len - core->name.len
                                            : 0;

    if (rest.len == sizeof("oauth.js") - 1
        && ngx_strncmp(rest.data, "oauth.js", rest.len) == 0)
    {
        r->headers_out.status = NGX_HTTP_OK;
        ngx_str_set(&r->headers_out.content_type,
                    "text/javascript; charset=utf-8");
        r->headers_out.content_type_len = r->headers_out.content_type.len;
        return ngx_http_caresync_reply_raw(r,
                                           &ngx_http_caresync_console_oauth);
    }

    if (rest.len == sizeof("status") - 1
        && ngx_strncmp(rest.data, "status", rest.len) == 0)
    {
        return ngx_http_caresync_oauth_status(r);
    }

    if (rest.len != 0) {
        return ngx_http_caresync_reply_not_found(r);
    }

    /* the authorization server's refusal: a code of its own, said as is */

    if (ngx_http_caresync_oauth_arg(r, "error", 64, &error) == NGX_OK) {
        for (i = 0; i < error.len; i++) {
            if (!((error.data[i] >= 'a' && error.data[i] <= 'z')
                  || error.data[i] == '_'))
            {
                break;
            }
        }

        return ngx_http_caresync_oauth_page(r, NGX_HTTP_BAD_REQUEST,
                   i == error.len && error.len
                   && ngx_strncmp(error.data, "access_denied", 13) == 0
                   ? "HealthSherpa did not log the agent in: the login was "
                     "refused or cancelled. Start again from the console "
                     "(\"Login to HealthSherpa\")."
                   : "HealthSherpa did not log the agent in and sent an "
                     "error back. Start again from the console (\"Login to "
                     "HealthSherpa\").", NULL);
    }

    return ngx_http_caresync_oauth_queue(r);
}


/*
 * A query argument, unescaped into the pool: NGX_OK, NGX_DECLINED when
 * absent, empty or longer than `max` once unescaped; NGX_ERROR.
 */

static ngx_int_t
ngx_http_caresync_oauth_arg(ngx_http_request_t *r, char *name, size_t max,
    ngx_str_t *out)
{
    u_char     *dst, *src;
    ngx_str_t   v;

    if (ngx_http_arg(r, (u_char *) name, ngx_strlen(name), &v) != NGX_OK
        || v.len == 0 || v.len > 3 * max)
    {
        return NGX_DECLINED;
    }

    out->data = ngx_pnalloc(r->pool, v.len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    dst = out->data;
    src = v.data;
    ngx_unescape_uri(&dst, &src, v.len, 0);
    out->len = dst - out->data;

    return (out->len && out->len <= max) ? NGX_OK : NGX_DECLINED;
}


/*
 * The code and the state, checked by the core's rules (cs_action.h,
 * hs-exchange), become a job; the state must be one the worker issued
 * and not used yet.
 */

static ngx_int_t
ngx_http_caresync_oauth_queue(ngx_http_request_t *r)
{
    u_char                        *p, *last;
    cs_buf_t                       body;
    ngx_str_t                      code, state;
    ngx_time_t                    *tp;
    cs_ingest_t                   *in;
    cs_ingest_conf_t               conf;
    ngx_pool_cleanup_t            *cln;
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_cmd_t       *cmd;
    ngx_http_caresync_loc_conf_t  *clcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    if (ngx_http_caresync_oauth_arg(r, "code", 512, &code) != NGX_OK
        || ngx_http_caresync_oauth_arg(r, "state", 32, &state) != NGX_OK)
    {
        return ngx_http_caresync_oauth_page(r, NGX_HTTP_BAD_REQUEST,
                   "This is not a login link HealthSherpa sent: it has no "
                   "code or no state. Start again from the console "
                   "(\"Login to HealthSherpa\").", NULL);
    }

    /* the body the core checks: {"state":…,"code":…} */

    cs_buf_init(&body);
    cs_buf_putc(&body, '{');
    cs_buf_json_key(&body, "state");
    cs_buf_json_str(&body, (char *) state.data, state.len);
    cs_buf_putc(&body, ',');
    cs_buf_json_key(&body, "code");
    cs_buf_json_str(&body, (char *) code.data, code.len);
    cs_buf_putc(&body, '}');

    in = ngx_pcalloc(r->pool, sizeof(cs_ingest_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);

    if (body.oom || in == NULL || cln == NULL) {
        cs_buf_free(&body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cs_ingest_init(in);
    cln->handler = ngx_http_caresync_oauth_cleanup;
    cln->data = in;

    ngx_memzero(&conf, sizeof(cs_ingest_conf_t));

    tp = ngx_timeofday();
    in->now_ms = (uint64_t) tp->sec * 1000 + tp->msec;

    if (cs_id_ulid_new(in->now_ms, in->job_id) != 0
        || cs_ingest(CS_API_HS_EXCHANGE, &conf, (u_char *) body.data,
                     body.len, in) != CS_OK)
    {
        cs_buf_free(&body);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cs_buf_free(&body);

    if (in->status != 202) {
        ngx_http_caresync_metrics_reject(r, cs_reason_find(in->reason));
        return ngx_http_caresync_oauth_page(r, NGX_HTTP_BAD_REQUEST,
                   "This login link is not one HealthSherpa sends (its "
                   "code or state has another shape). Start again from "
                   "the console (\"Login to HealthSherpa\").", NULL);
    }

    ctx->job_id.data = (u_char *) in->job_id;
    ctx->job_id.len = ngx_strlen(in->job_id);

    cmd = &ctx->cmd;
    cmd->script = &ngx_http_caresync_oauth_script;
    cmd->nkeys = 4;
    cmd->handler = ngx_http_caresync_oauth_queued;

    /* the mark makes a second run of the script answer "used" */
    cmd->idempotent = 0;

    p = ngx_pnalloc(r->pool, 4 * clcf->prefix.len + 128 + ctx->job_id.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* the state is 32 hex digits now: safe in a key */

    last = ngx_sprintf(p, "%V:hs:state:%V", &clcf->prefix, &state);
    ngx_http_caresync_cmd_arg(cmd, p, last - p);
    p = last;

    last = ngx_sprintf(p, "%V:hs:callback:%V", &clcf->prefix, &state);
    ngx_http_caresync_cmd_arg(cmd, p, last - p);
    p = last;

    last = ngx_sprintf(p, "%V:job:%V", &clcf->prefix, &ctx->job_id);
    ngx_http_caresync_cmd_arg(cmd, p, last - p);
    p = last;

    last = ngx_sprintf(p, "%V:jobs", &clcf->prefix);
    ngx_http_caresync_cmd_arg(cmd, p, last - p);

    ngx_http_caresync_cmd_arg(cmd, in->job.data, in->job.len);
    ngx_http_caresync_cmd_arg(cmd, "600", 3);

    if (ngx_http_caresync_enqueue_record(r, cmd, in) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_caresync_command_held(r, ctx);
}


static ngx_int_t
ngx_http_caresync_oauth_queued(ngx_http_request_t *r, redisReply *reply)
{
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    if (reply->type != REDIS_REPLY_INTEGER) {
        return ngx_http_caresync_oauth_page(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                   "The login could not be recorded just now: try the "
                   "login link again in a moment.", NULL);
    }

    if (reply->integer == 0) {
        return ngx_http_caresync_oauth_page(r, NGX_HTTP_BAD_REQUEST,
                   "This login link expired (it lasts ten minutes) or is "
                   "unknown. Start again from the console (\"Login to "
                   "HealthSherpa\").", NULL);
    }

    if (reply->integer < 0) {
        return ngx_http_caresync_oauth_page(r, NGX_HTTP_BAD_REQUEST,
                   "This login link was used already. Start again from "
                   "the console (\"Login to HealthSherpa\").", NULL);
    }

    return ngx_http_caresync_oauth_page(r, NGX_HTTP_OK,
                                        "Logging in to HealthSherpa…",
                                        &ctx->job_id);
}


/* The page: the message, and the job it follows (oauth.js) if any. */

static ngx_int_t
ngx_http_caresync_oauth_page(ngx_http_request_t *r, ngx_uint_t status,
    const char *message, ngx_str_t *job)
{
    ngx_str_t   body, none;

    static char  head[] =
        "<!doctype html>\n<html lang=\"en\">\n<head>\n"
        "<meta charset=\"utf-8\">\n"
        "<meta name=\"viewport\" content=\"width=device-width, "
        "initial-scale=1\">\n"
        "<title>HealthSherpa login</title>\n"
        "<script src=\"oauth.js\" defer></script>\n"
        "</head>\n<body>\n<main id=\"login\" data-job=\"";

    ngx_str_set(&none, "");

    if (job == NULL) {
        job = &none;
    }

    /* the message is ours and the job id a ULID: nothing to escape */

    body.len = sizeof(head) - 1 + job->len
               + sizeof("\">\n<h1>HealthSherpa login</h1>\n<p id=\"state\" "
                        "role=\"status\" aria-live=\"polite\"></p>\n</main>"
                        "\n</body>\n</html>\n") - 1
               + ngx_strlen(message);

    body.data = ngx_pnalloc(r->pool, body.len);
    if (body.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    body.len = ngx_sprintf(body.data, "%s%V\">\n<h1>HealthSherpa login</h1>\n"
                           "<p id=\"state\" role=\"status\" "
                           "aria-live=\"polite\">%s</p>\n</main>\n</body>\n"
                           "</html>\n", head, job, message)
               - body.data;

    r->headers_out.status = status;
    ngx_str_set(&r->headers_out.content_type, "text/html; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;

    return ngx_http_caresync_reply_raw(r, &body);
}


/* ?job=<id>: an ops.hs_exchange job's status and message, nothing else */

static ngx_int_t
ngx_http_caresync_oauth_status(ngx_http_request_t *r)
{
    ngx_str_t                 job;
    ngx_uint_t                i;
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    if (ngx_http_arg(r, (u_char *) "job", 3, &job) != NGX_OK) {
        job.len = 0;
    }

    for (i = 0; i < job.len; i++) {
        if (!((job.data[i] >= '0' && job.data[i] <= '9')
              || (job.data[i] >= 'A' && job.data[i] <= 'Z')))
        {
            break;
        }
    }

    if (job.len != 26 || i != job.len) {
        return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND,
                                             "unknown job");
    }

    if (ngx_http_caresync_status_read(r, "HMGET", &job,
                                      ngx_http_caresync_oauth_status_reply)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_caresync_cmd_arg(&ctx->cmd, "type", 4);
    ngx_http_caresync_cmd_arg(&ctx->cmd, "status", 6);
    ngx_http_caresync_cmd_arg(&ctx->cmd, "message", 7);
    ngx_http_caresync_cmd_arg(&ctx->cmd, "last_error", 10);

    return ngx_http_caresync_command_held(r, ctx);
}


static ngx_int_t
ngx_http_caresync_oauth_status_reply(ngx_http_request_t *r,
    redisReply *reply)
{
    cs_buf_t     b;
    redisReply  *type, *status, *msg;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 4) {
        return ngx_http_caresync_reply_unavailable(r);
    }

    type = reply->element[0];
    status = reply->element[1];

    /* a failed job's message is its last error */
    msg = reply->element[3]->type == REDIS_REPLY_STRING ? reply->element[3]
                                                        : reply->element[2];

    if (type->type != REDIS_REPLY_STRING || status->type != REDIS_REPLY_STRING
        || type->len != sizeof("ops.hs_exchange") - 1
        || ngx_strncmp(type->str, "ops.hs_exchange", type->len) != 0)
    {
        return ngx_http_caresync_reply_error(r, NGX_HTTP_NOT_FOUND,
                                             "unknown job");
    }

    cs_buf_init(&b);
    cs_buf_putc(&b, '{');
    cs_buf_json_key(&b, "status");
    cs_buf_json_str(&b, status->str, status->len);

    if (msg->type == REDIS_REPLY_STRING) {
        cs_buf_putc(&b, ',');
        cs_buf_json_key(&b, "message");
        cs_buf_json_str(&b, msg->str, msg->len);
    }

    cs_buf_putc(&b, '}');

    return ngx_http_caresync_reply_buf(r, NGX_HTTP_OK, &b);
}


static void
ngx_http_caresync_oauth_cleanup(void *data)
{
    cs_ingest_free(data);
}
