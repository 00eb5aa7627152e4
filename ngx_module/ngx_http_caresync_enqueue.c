/*
 * The job's way into Redis: one transaction, one round trip.
 *
 * A webhook's job is deduplicated and queued atomically, in a group with
 * the other jobs of the same turn of the event loop (command.c): the
 * dedupe mark is set only together with the XADD, so a repeated delivery
 * can never find a mark without its job.  An action's job is queued
 * together with its first status record, so that its status URL answers
 * from the start.
 * The stream is never trimmed here: only the worker knows what it has
 * acknowledged.
 */


#include "ngx_http_caresync.h"

#include <openssl/sha.h>

#include "cs_id.h"
#include "cs_record.h"


static ngx_int_t ngx_http_caresync_marks(ngx_http_request_t *r,
    ngx_http_caresync_ctx_t *ctx, cs_ingest_t *in, ngx_str_t *keys,
    ngx_msec_t *ttls);
static ngx_int_t ngx_http_caresync_mark_key(ngx_http_request_t *r,
    const char *kind, cs_str_t *parts, ngx_uint_t nparts, ngx_str_t *key);
static ngx_int_t ngx_http_caresync_enqueue_reply(ngx_http_request_t *r,
    redisReply *reply);
static ngx_int_t ngx_http_caresync_repeated(ngx_http_request_t *r,
    redisReply *reply);


/*
 * The webhooks' jobs, a group at a time (command.c, group commit): their
 * XADDs come first in the same transaction, and this script, run after
 * them, decides.  A job is queued unless its message mark exists or its
 * mark cannot be set (NX): then it is a repeat, and its entry, the last
 * but so many of the stream, is deleted before anyone can read it.  The
 * jobs' own bytes never pass through Lua, which would intern (hash) them
 * only to hand them on.  The type check comes first: a key of another
 * type refused the XADDs, and no mark may be set for them.
 * KEYS[1] the stream, then per job its mark and, if it has one, its
 * message mark; ARGV per job: its id, its mark's life in ms, its message
 * mark's life in ms ("0": none).  One integer per job: 1 queued, 0 a
 * repeat.
 */

static ngx_http_caresync_script_t  ngx_http_caresync_group_script = {
    ngx_string(
        "if redis.call('TYPE', KEYS[1]).ok ~= 'stream' then "
        "return redis.error_reply('WRONGTYPE the jobs key is no stream') "
        "end "
        "local r, d, k, n = {}, {}, 2, #ARGV / 3 "
        "for i = 1, n do "
        "local id, m = ARGV[3 * i - 2], nil "
        "if ARGV[3 * i] ~= '0' then m = KEYS[k + 1] end "
        "if not (m and redis.call('EXISTS', m) == 1) "
        "and redis.call('SET', KEYS[k], id, 'NX', 'PX', ARGV[3 * i - 1]) "
        "then "
        "if m then redis.call('SET', m, id, 'PX', ARGV[3 * i]) end "
        "r[i] = 1 "
        "else "
        "r[i] = 0 d[#d + 1] = i "
        "end "
        "k = k + (m and 2 or 1) "
        "end "
        "if #d > 0 then "
        "local e = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', "
        "n + 1 - d[1]) "
        "for _, i in ipairs(d) do "
        "redis.call('XDEL', KEYS[1], e[n + 1 - i][1]) "
        "end "
        "end "
        "return r"),
    { 0 }
};


/*
 * KEYS[1] the status record, KEYS[2] the jobs stream, KEYS[3…] (optional)
 * the marks of a signed message id and of an Idempotency-Key;
 * ARGV[1] the job, ARGV[2] the value the marks hold ("<job id> <digest of
 * the body>"), ARGV[3…] the life in ms of each mark (ARGV[i] for KEYS[i]),
 * then field/value pairs of the queued record.
 * 1: queued; a mark's value: the request was made before, nothing queued.
 */

static ngx_http_caresync_script_t  ngx_http_caresync_action_script = {
    ngx_string(
        "for i = 3, #KEYS do "
        "local v = redis.call('GET', KEYS[i]) "
        "if v then return v end "
        "end "
        "for i = 3, #KEYS do "
        "redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[i]) "
        "end "
        "redis.call('HSET', KEYS[1], unpack(ARGV, #KEYS + 1)) "
        "redis.call('XADD', KEYS[2], '*', 'job', ARGV[1]) "
        "return 1"),
    { 0 }
};


ngx_int_t
ngx_http_caresync_enqueue_init(ngx_cycle_t *cycle)
{
    ngx_http_caresync_script_init(&ngx_http_caresync_group_script);
    ngx_http_caresync_script_init(&ngx_http_caresync_action_script);

    return NGX_OK;
}


ngx_int_t
ngx_http_caresync_enqueue(ngx_http_request_t *r, ngx_http_caresync_ctx_t *ctx,
    cs_ingest_t *in)
{
    u_char                        *p, *last;
    size_t                         len;
    ngx_int_t                      nmarks;
    ngx_str_t                      marks[2];
    ngx_msec_t                     ttls[2];
    ngx_uint_t                     i, n;
    ngx_http_caresync_cmd_t       *cmd;
    ngx_http_caresync_job_t       *job;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);
    cmd = &ctx->cmd;

    ctx->answer.data = (u_char *) in->body.data;
    ctx->answer.len = in->body.len;
    ctx->job_id.data = (u_char *) in->job_id;
    ctx->job_id.len = ngx_strlen(in->job_id);

    nmarks = ngx_http_caresync_marks(r, ctx, in, marks, ttls);
    if (nmarks == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = 2 * clcf->prefix.len + sizeof(":dedupe:") - 1
          + sizeof(in->idem_key) + sizeof(":jobs") - 1
          + sizeof(":job:") - 1 + ctx->job_id.len + 4 * NGX_INT64_LEN;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    last = p + len;

    cmd->nkeys = 2 + nmarks;
    cmd->handler = ngx_http_caresync_enqueue_reply;

    if (clcf->api) {
        cmd->script = &ngx_http_caresync_action_script;

        /* a mark witnesses the job: a second run answers for the first */
        cmd->idempotent = (nmarks > 0);

        n = ngx_snprintf(p, last - p, "%V:job:%V", &clcf->prefix,
                         &ctx->job_id) - p;
        ngx_http_caresync_cmd_arg(cmd, p, n);
        p += n;

        n = ngx_snprintf(p, last - p, "%V:jobs", &clcf->prefix) - p;
        ngx_http_caresync_cmd_arg(cmd, p, n);
        p += n;

        for (i = 0; i < (ngx_uint_t) nmarks; i++) {
            ngx_http_caresync_cmd_arg(cmd, marks[i].data, marks[i].len);
        }

        ngx_http_caresync_cmd_arg(cmd, in->job.data, in->job.len);
        ngx_http_caresync_cmd_arg(cmd, ctx->mark.data, ctx->mark.len);

        for (i = 0; i < (ngx_uint_t) nmarks; i++) {
            n = ngx_snprintf(p, last - p, "%M", ttls[i]) - p;
            ngx_http_caresync_cmd_arg(cmd, p, n);
            p += n;
        }

        if (ngx_http_caresync_enqueue_record(r, cmd, in) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_caresync_command(r, ctx);
    }

    /* a webhook's job goes with the others of this turn */

    job = ngx_pcalloc(r->pool, sizeof(ngx_http_caresync_job_t));
    if (job == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    job->script = &ngx_http_caresync_group_script;

    /* its mark makes a second run answer for the first */
    cmd->job = job;
    cmd->idempotent = 1;

    job->mark.data = p;
    job->mark.len = ngx_snprintf(p, last - p, "%V:dedupe:%s", &clcf->prefix,
                                 in->idem_key) - p;
    p += job->mark.len;

    job->stream.data = p;
    job->stream.len = ngx_snprintf(p, last - p, "%V:jobs", &clcf->prefix)
                      - p;

    if (nmarks) {
        job->message = marks[0];
        job->message_ttl = ttls[0];
    }

    job->mark_ttl = clcf->dedupe_ttl;
    job->id = ctx->job_id;
    job->job.data = (u_char *) in->job.data;
    job->job.len = in->job.len;

    return ngx_http_caresync_command(r, ctx);
}


/*
 * The job's first status record (`queued`), as the command's next
 * field/value arguments; in the pool: they must stay for a NOSCRIPT retry.
 */

ngx_int_t
ngx_http_caresync_enqueue_record(ngx_http_request_t *r,
    ngx_http_caresync_cmd_t *cmd, cs_ingest_t *in)
{
    cs_str_t      id;
    ngx_uint_t    i;
    cs_record_t  *rec;

    rec = ngx_palloc(r->pool, sizeof(cs_record_t));
    if (rec == NULL) {
        return NGX_ERROR;
    }

    id.data = in->job_id;
    id.len = ngx_strlen(in->job_id);
    cs_record_queued(rec, id, in->job_type, in->now_ms);

    for (i = 0; i < rec->n; i++) {
        ngx_http_caresync_cmd_arg(cmd, (void *) rec->fields[i].data,
                                  rec->fields[i].len);
        ngx_http_caresync_cmd_arg(cmd, (void *) rec->values[i].data,
                                  rec->values[i].len);
    }

    return NGX_OK;
}


/*
 * The marks that make a repeated request answer for its first job,
 * their keys and their lives:
 *
 *   <prefix>:message:<sha256 of job type, "\n", webhook-id>
 *       a verified Standard Webhooks message id, webhooks and actions.
 *       It lives as long as the message could be accepted: the timestamp
 *       is good for the tolerance on either side of nginx's clock, so a
 *       message first seen at the earliest could come back twice the
 *       tolerance later (and a second more: the clock is whole seconds).
 *       The dedupe window, if longer, still applies.
 *   <prefix>:idempotency:<sha256 of the token's SHA-256, job type, "\n",
 *       Idempotency-Key>
 *       an action's Idempotency-Key, per token and action, for the dedupe
 *       window.
 *
 * For an action the marks hold ctx->mark, "<job id> <sha256 of the body>",
 * so that a repeat is answered for the first job, and one with another
 * body is told so.  Returns how many, or NGX_ERROR.
 */

static ngx_int_t
ngx_http_caresync_marks(ngx_http_request_t *r, ngx_http_caresync_ctx_t *ctx,
    cs_ingest_t *in, ngx_str_t *keys, ngx_msec_t *ttls)
{
    u_char                        *p, token[SHA256_DIGEST_LENGTH];
    char                           hex[CS_ID_SHA256_LEN + 1];
    cs_str_t                       parts[5];
    ngx_msec_t                     ttl;
    ngx_uint_t                     n;
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);
    n = 0;

    parts[1].data = in->job_type;
    parts[1].len = ngx_strlen(in->job_type);
    parts[2].data = "\n";
    parts[2].len = 1;

    if (ctx->message_id.len) {
        /* per job type: two endpoints may see the same sender's ids */
        parts[3].data = (const char *) ctx->message_id.data;
        parts[3].len = ctx->message_id.len;

        if (ngx_http_caresync_mark_key(r, "message", &parts[1], 3,
                                       &keys[n])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ttl = 2 * (ngx_msec_t) clcf->sw_tolerance * 1000 + 1000;
        ttls[n++] = ngx_max(clcf->dedupe_ttl, ttl);
    }

    if (!clcf->api) {
        return n;
    }

    if (ctx->idempotency_key.len) {
        /* per token: one caller's keys say nothing of another's jobs */
        if (ctx->token) {
            SHA256(ctx->token->secret.data, ctx->token->secret.len, token);
            parts[0].data = (const char *) token;
            parts[0].len = SHA256_DIGEST_LENGTH;

        } else {
            parts[0].data = "";
            parts[0].len = 0;
        }

        parts[3].data = (const char *) ctx->idempotency_key.data;
        parts[3].len = ctx->idempotency_key.len;

        /* the digest has a fixed length: no separator needed after it */
        if (ngx_http_caresync_mark_key(r, "idempotency", parts, 4, &keys[n])
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        ttls[n++] = clcf->dedupe_ttl;
    }

    /* "<job id> <sha256 of the body>" */

    parts[0].data = (const char *) ctx->body.data;
    parts[0].len = ctx->body.len;

    if (cs_id_sha256_hex(parts, 1, hex) != 0) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, ctx->job_id.len + 1 + CS_ID_SHA256_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->mark.data = p;
    ctx->mark.len = ngx_sprintf(p, "%V %s", &ctx->job_id, hex) - p;

    return n;
}


/* <prefix>:<kind>:<sha256 of the parts>, in the request pool. */

static ngx_int_t
ngx_http_caresync_mark_key(ngx_http_request_t *r, const char *kind,
    cs_str_t *parts, ngx_uint_t nparts, ngx_str_t *key)
{
    char                           hex[CS_ID_SHA256_LEN + 1];
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    if (cs_id_sha256_hex(parts, nparts, hex) != 0) {
        return NGX_ERROR;
    }

    key->data = ngx_pnalloc(r->pool, clcf->prefix.len + 1 + ngx_strlen(kind)
                                     + 1 + CS_ID_SHA256_LEN);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    key->len = ngx_sprintf(key->data, "%V:%s:%s", &clcf->prefix, kind, hex)
               - key->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_caresync_enqueue_reply(ngx_http_request_t *r, redisReply *reply)
{
    ngx_http_caresync_ctx_t       *ctx;
    ngx_http_caresync_loc_conf_t  *clcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);
    clcf = ngx_http_get_module_loc_conf(r, ngx_http_caresync_module);

    if (clcf->api && reply->type == REDIS_REPLY_STRING) {
        return ngx_http_caresync_repeated(r, reply);
    }

    if (reply->type != REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "caresync: unexpected redis reply type %d",
                      reply->type);
        return ngx_http_caresync_reply_unavailable(r);
    }

    if (reply->integer == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "caresync: duplicate delivery, job %V not queued",
                      &ctx->job_id);
        ngx_http_caresync_metrics_dedupe(r);

    } else {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "caresync: job %V queued", &ctx->job_id);
    }

    return ngx_http_caresync_reply(r, clcf->api ? NGX_HTTP_ACCEPTED
                                                : NGX_HTTP_OK,
                                   &ctx->answer);
}


/*
 * An action whose message id or Idempotency-Key is marked: nothing was
 * queued.  The same body is answered as the first request was, with the
 * first job's id; another body is refused (422), since the caller meant
 * something else than the job it would be pointed at.
 */

static ngx_int_t
ngx_http_caresync_repeated(ngx_http_request_t *r, redisReply *reply)
{
    u_char                   *sp;
    size_t                    len, i;
    cs_buf_t                  b;
    ngx_str_t                 answer;
    ngx_http_caresync_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_caresync_module);

    /* "<job id> <sha256 of the body>", as ngx_http_caresync_marks() wrote */

    sp = ngx_strlchr((u_char *) reply->str, (u_char *) reply->str + reply->len,
                     ' ');
    len = sp ? (size_t) (sp - (u_char *) reply->str) : 0;

    for (i = 0; i < len; i++) {
        if (!((reply->str[i] >= '0' && reply->str[i] <= '9')
              || (reply->str[i] >= 'A' && reply->str[i] <= 'Z')))
        {
            break;
        }
    }

    if (len == 0 || len > 64 || i != len) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "caresync: a request mark in redis is not ours");
        return ngx_http_caresync_reply_unavailable(r);
    }

    if (reply->len - len != ctx->mark.len - ctx->job_id.len
        || ngx_memcmp(sp, ctx->mark.data + ctx->job_id.len,
                      reply->len - len) != 0)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "caresync: a repeated request with another body, "
                      "job %V not queued", &ctx->job_id);
        ngx_http_caresync_metrics_reject(r, CS_REASON_IDEMPOTENCY_KEY);

        return ngx_http_caresync_reply_error(r, 422,
                         "this idempotency key was used with another body");
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "caresync: repeated request, job %*s not queued again",
                  len, reply->str);
    ngx_http_caresync_metrics_dedupe(r);

    cs_buf_init(&b);
    cs_ingest_answer_202(&b, (const char *) ctx->status_base.data,
                         ctx->status_base.len, reply->str, len);

    answer.len = b.len;
    answer.data = b.oom ? NULL : ngx_pnalloc(r->pool, b.len);

    if (answer.data == NULL) {
        cs_buf_free(&b);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(answer.data, b.data, b.len);
    cs_buf_free(&b);

    return ngx_http_caresync_reply(r, NGX_HTTP_ACCEPTED, &answer);
}
