/*
 * Requests' commands to Redis.
 *
 * A webhook's job is not sent alone: the jobs made ready in one turn of
 * the event loop go as one transaction (group commit), built when the
 * turn ends (a posted event, so that a request alone waits for nothing):
 *
 *     MULTI
 *     XADD <stream> * job <job>          one per job, the job's bytes as
 *     ...                                 they are: no script sees them
 *     EVAL <group script> <marks, ids, lives>
 *     EXEC
 *
 * The script sets each job's marks and deletes the entry of every job
 * that turns out to be a repeat (a mark already there, from an earlier
 * job or from one before it in the same group); EXEC runs it all at once,
 * so no reader ever sees a repeat, and a mark never exists without its
 * job.  It is sent whole (EVAL, never EVALSHA): a script missing at EXEC
 * would leave the XADDs done and nothing marked, so it must never be
 * missing.  Each request gets its own answer from EXEC's: its XADD's and
 * its element of the script's.  Redis's fixed cost of a script call, and
 * the interning of its arguments by Lua, is paid once per group and never
 * for the jobs themselves.
 *
 * Other commands (an action's script, a status read) go one per request.
 * A script is sent as EVALSHA; a NOSCRIPT answer (a flushed or
 * failed-over Redis) is retried once as EVAL, which loads it again.
 * Only a real reply reaches the request's callback: a timeout, an error
 * reply or a lost connection is a 503, so a success answer always means
 * Redis did the work.
 *
 * Commands are written in RESP here, and their large arguments (a job)
 * copied once, straight into the connection's output buffer.
 *
 * A pending command may outlive its request (client gone, timeout), so
 * its bookkeeping lives outside the request pool, in a per-worker free
 * list; the request's cleanup handler detaches it, and the reply
 * callback, which always comes (redis.c calls it with NULL on
 * disconnect), returns it to the list.  A job whose request goes before
 * its group is sent is left out of the group.
 *
 * A connection lost between sending and the reply leaves the outcome
 * unknown: Redis may have run the command.  An idempotent command (a job,
 * whose mark witnesses it) then waits, within the request's own timeout,
 * for the connection to come back and is sent again; its answer is the
 * true one.  Others are answered 503.
 *
 * What waits for Redis is bounded per worker (caresync_redis_queue): a
 * command is admitted only while the commands not yet done with Redis,
 * and the bytes they hold, stay within the limits; past them the request
 * is answered 503 at once.  A command holds its copy in the connection's
 * output buffer until its reply comes or its connection goes, and, while its
 * request lives, the request's body and its own copy of the arguments
 * (the request stays only because it waits for Redis).  Replies come
 * in order, so the oldest command awaiting one tells whether Redis still
 * answers: once it is overdue by the command timeout the connection is
 * dropped, which answers everything on it as a lost connection does and
 * frees what it held, and a new one is made.
 */


#include "ngx_http_caresync.h"

#include <openssl/sha.h>


/* jobs per transaction: bounds the script's run and EXEC's reply */
#define NGX_HTTP_CARESYNC_GROUP_MAX  128

/* "$<len>\r\n" of any argument, "*<n>\r\n" of any command */
#define NGX_HTTP_CARESYNC_RESP_HDR   (1 + NGX_SIZE_T_LEN + 2)

/* the headers of a job's XADD */
#define NGX_HTTP_CARESYNC_XADD_HDR                                            \
    (sizeof("*5\r\n$4\r\nXADD\r\n\r\n$1\r\n*\r\n$3\r\njob\r\n")             \
     + 2 * NGX_HTTP_CARESYNC_RESP_HDR)

/* what an argument of this size or more is sent from where it lies */
#define NGX_HTTP_CARESYNC_RESP_COPY  256


typedef struct ngx_http_caresync_group_s  ngx_http_caresync_group_t;


struct ngx_http_caresync_pending_s {
    ngx_http_request_t           *r;        /* NULL once detached */
    ngx_http_caresync_ctx_t      *ctx;
    ngx_event_t                   timer;
    ngx_queue_t                   queue;    /* waiting for a connection,
                                               or for the turn's group */
    ngx_queue_t                   sent;     /* awaiting its reply */
    ngx_msec_t                    sent_at;
    size_t                        obuf;     /* its copy in redis.c */
    size_t                        held;     /* the request's copy */
    ngx_http_caresync_pending_t  *next;     /* free list */
    unsigned                      retried:1;    /* EVAL after NOSCRIPT */
    unsigned                      in_redis:1;   /* a reply is due */
    unsigned                      waiting:1;    /* in the queue */
    unsigned                      grouping:1;   /* in the turn's group */
    unsigned                      counted:1;    /* in the backlog */
};


/* One transaction of jobs, from MULTI to EXEC's reply. */
struct ngx_http_caresync_group_s {
    ngx_uint_t                    n;
    size_t                        obuf;     /* MULTI, the script, EXEC */
    ngx_http_caresync_group_t    *next;     /* free list */
    ngx_http_caresync_pending_t  *jobs[NGX_HTTP_CARESYNC_GROUP_MAX];
};


/* What waits for Redis in this worker. */
typedef struct {
    ngx_uint_t                    commands;
    size_t                        bytes;
    ngx_queue_t                   sent;     /* oldest first */
    ngx_event_t                   overdue;
    ngx_http_caresync_redis_conf_t  *conf;
} ngx_http_caresync_backlog_t;


/* A command as RESP pieces: headers and small arguments in buf. */
typedef struct {
    ngx_str_t                     parts[2 * NGX_HTTP_CARESYNC_MAX_ARGS + 8];
                                            /* a piece, then two per
                                               large argument */
    ngx_uint_t                    n;
    u_char                       *last;     /* free space in buf */
    size_t                        len;
    u_char                        buf[(NGX_HTTP_CARESYNC_MAX_ARGS + 3)
                                      * (NGX_HTTP_CARESYNC_RESP_HDR
                                         + NGX_HTTP_CARESYNC_RESP_COPY + 2)
                                      + NGX_HTTP_CARESYNC_RESP_HDR + 1];
} ngx_http_caresync_resp_t;


static ngx_int_t ngx_http_caresync_send(ngx_http_caresync_redis_t *rd,
    ngx_http_caresync_pending_t *p, ngx_uint_t eval);
static void ngx_http_caresync_reply_handler(ngx_http_caresync_redis_t *rd,
    void *reply, void *data);
static void ngx_http_caresync_timeout_handler(ngx_event_t *ev);
static void ngx_http_caresync_overdue_handler(ngx_event_t *ev);
static ngx_uint_t ngx_http_caresync_argv(ngx_http_caresync_cmd_t *cmd,
    ngx_uint_t eval, u_char *nkeys, const char **argv, size_t *lens);
static size_t ngx_http_caresync_resp_len(ngx_uint_t n, size_t *lens);
static u_char *ngx_http_caresync_resp_hdr(u_char *p, u_char type, size_t n);
static void ngx_http_caresync_resp_arg(ngx_http_caresync_resp_t *rs,
    const u_char *data, size_t len);
static u_char *ngx_http_caresync_resp_str(u_char *p, const u_char *data,
    size_t len);
static void ngx_http_caresync_sent(ngx_http_caresync_pending_t *p,
    size_t obuf);
static void ngx_http_caresync_received(ngx_http_caresync_pending_t *p);
static size_t ngx_http_caresync_job_len(ngx_http_caresync_job_t *job);
static size_t ngx_http_caresync_job_xadd(ngx_http_caresync_job_t *job,
    u_char *h, ngx_str_t *parts);
static void ngx_http_caresync_group_add(ngx_http_caresync_pending_t *p);
static void ngx_http_caresync_group_flush(ngx_event_t *ev);
static ngx_int_t ngx_http_caresync_group_send(ngx_http_caresync_redis_t *rd,
    ngx_http_caresync_group_t *g);
static u_char *ngx_http_caresync_group_eval(ngx_http_caresync_group_t *g,
    size_t *len);
static void ngx_http_caresync_group_queued(ngx_http_caresync_redis_t *rd,
    void *reply, void *data);
static void ngx_http_caresync_group_reply(ngx_http_caresync_redis_t *rd,
    void *reply, void *data);
static void ngx_http_caresync_group_answer(ngx_http_caresync_group_t *g,
    redisReply *rr);
static void ngx_http_caresync_lost(ngx_http_caresync_pending_t *p);
static void ngx_http_caresync_request_cleanup(void *data);
static void ngx_http_caresync_finish(ngx_http_caresync_pending_t *p,
    redisReply *reply);
static void ngx_http_caresync_pending_detach(ngx_http_caresync_pending_t *p);
static ngx_http_caresync_pending_t *ngx_http_caresync_pending_get(void);
static void ngx_http_caresync_pending_put(ngx_http_caresync_pending_t *p);
static void ngx_http_caresync_command_reconnected(
    ngx_http_caresync_redis_t *rd);


static ngx_http_caresync_pending_t  *ngx_http_caresync_free;
static ngx_http_caresync_group_t    *ngx_http_caresync_groups_free;
static ngx_queue_t                   ngx_http_caresync_waiting;
static ngx_queue_t                   ngx_http_caresync_grouping;
static ngx_event_t                   ngx_http_caresync_flush;
static ngx_http_caresync_backlog_t   ngx_http_caresync_backlog;

/* the group's EVAL, reused from one turn to the next */
static u_char                       *ngx_http_caresync_eval;
static size_t                        ngx_http_caresync_eval_size;


void
ngx_http_caresync_command_init(ngx_cycle_t *cycle,
    ngx_http_caresync_redis_conf_t *rcf)
{
    ngx_http_caresync_backlog_t  *bl = &ngx_http_caresync_backlog;

    ngx_http_caresync_redis_hooks(ngx_http_caresync_command_reconnected,
                                  ngx_http_caresync_metrics_redis);

    ngx_queue_init(&ngx_http_caresync_waiting);
    ngx_queue_init(&ngx_http_caresync_grouping);

    ngx_memzero(&ngx_http_caresync_flush, sizeof(ngx_event_t));
    ngx_http_caresync_flush.handler = ngx_http_caresync_group_flush;
    ngx_http_caresync_flush.log = cycle->log;

    ngx_memzero(bl, sizeof(ngx_http_caresync_backlog_t));
    ngx_queue_init(&bl->sent);

    bl->conf = rcf;
    bl->overdue.handler = ngx_http_caresync_overdue_handler;
    bl->overdue.data = bl;
    bl->overdue.log = cycle->log;
    bl->overdue.cancelable = 1;
}


/* The connection is back: send again what lost its reply. */

static void
ngx_http_caresync_command_reconnected(ngx_http_caresync_redis_t *rd)
{
    ngx_queue_t                  *q;
    ngx_http_caresync_pending_t  *p;

    while (!ngx_queue_empty(&ngx_http_caresync_waiting)) {
        q = ngx_queue_head(&ngx_http_caresync_waiting);
        ngx_queue_remove(q);

        p = ngx_queue_data(q, ngx_http_caresync_pending_t, queue);
        p->waiting = 0;

        ngx_log_error(NGX_LOG_INFO, p->r->connection->log, 0,
                      "caresync: redis is back, sending job %V again",
                      &p->ctx->job_id);

        if (p->ctx->cmd.job) {
            ngx_http_caresync_group_add(p);
            continue;
        }

        if (ngx_http_caresync_send(rd, p, 0) != NGX_OK) {
            ngx_http_caresync_finish(p, NULL);
        }
    }
}


ngx_int_t
ngx_http_caresync_script_init(ngx_http_caresync_script_t *script)
{
    u_char  digest[SHA_DIGEST_LENGTH];

    SHA1(script->text.data, script->text.len, digest);
    ngx_hex_dump(script->sha1, digest, SHA_DIGEST_LENGTH);

    return NGX_OK;
}


void
ngx_http_caresync_cmd_arg(ngx_http_caresync_cmd_t *cmd, void *data,
    size_t len)
{
    if (cmd->argc < NGX_HTTP_CARESYNC_MAX_ARGS) {
        cmd->argv[cmd->argc] = data;
        cmd->lens[cmd->argc] = len;
    }

    cmd->argc++;
}


/*
 * The same for a request whose body was not read (a GET, a body
 * discarded): nothing holds the request yet, so the wait does.
 */

ngx_int_t
ngx_http_caresync_command_held(ngx_http_request_t *r,
    ngx_http_caresync_ctx_t *ctx)
{
    ngx_int_t  rc;

    rc = ngx_http_caresync_command(r, ctx);

    if (rc == NGX_DONE) {
        r->main->count++;
    }

    return rc;
}


/* Sends ctx->cmd; NGX_DONE while the reply is awaited, or an HTTP code. */

ngx_int_t
ngx_http_caresync_command(ngx_http_request_t *r, ngx_http_caresync_ctx_t *ctx)
{
    u_char                          nkeys[NGX_INT_T_LEN];
    size_t                          held, size;
    size_t                          lens[NGX_HTTP_CARESYNC_MAX_ARGS + 3];
    ngx_uint_t                      i, n;
    const char                     *argv[NGX_HTTP_CARESYNC_MAX_ARGS + 3];
    ngx_http_caresync_redis_t      *rd;
    ngx_http_cleanup_t             *cln;
    ngx_http_caresync_cmd_t        *cmd = &ctx->cmd;
    ngx_http_caresync_pending_t    *p;
    ngx_http_caresync_backlog_t    *bl = &ngx_http_caresync_backlog;
    ngx_http_caresync_main_conf_t  *cmcf;

    if (cmd->argc > NGX_HTTP_CARESYNC_MAX_ARGS) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "caresync: too many command arguments");
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd = ngx_http_caresync_redis_get();
    if (rd == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "caresync: redis not connected");
        return ngx_http_caresync_reply_unavailable(r);
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_caresync_module);

    /* the request's body and arguments, and their copy as sent */

    held = sizeof(ngx_http_caresync_pending_t) + ctx->body.len;

    if (cmd->job) {
        held += cmd->job->job.len;
        size = held + ngx_http_caresync_job_len(cmd->job);

    } else {
        for (i = 0; i < cmd->argc; i++) {
            held += cmd->lens[i];
        }

        n = ngx_http_caresync_argv(cmd, 0, nkeys, argv, lens);
        size = held + ngx_http_caresync_resp_len(n, lens);
    }

    if (bl->commands >= cmcf->redis.queue_commands
        || bl->bytes + size > cmcf->redis.queue_bytes)
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "caresync: redis queue full: %ui commands, %uz bytes "
                      "waiting, this one %uz", bl->commands, bl->bytes, size);
        ngx_http_caresync_metrics_reject(r, CS_REASON_REDIS_QUEUE_FULL);
        return ngx_http_caresync_reply_unavailable(r);
    }

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_http_caresync_pending_get();
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p->r = r;
    p->ctx = ctx;
    p->held = held;
    p->counted = 1;

    bl->commands++;
    bl->bytes += held;

    if (cmd->job) {
        ngx_http_caresync_group_add(p);

    } else if (ngx_http_caresync_send(rd, p, 0) != NGX_OK) {
        ngx_http_caresync_pending_detach(p);
        return ngx_http_caresync_reply_unavailable(r);
    }

    ctx->pending = p;
    cln->handler = ngx_http_caresync_request_cleanup;
    cln->data = ctx;

    ngx_add_timer(&p->timer, cmcf->redis.timeout);

    ngx_http_caresync_metrics_command_start(r);

    /* notice a client that goes away while we wait */
    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;
}


/*
 * The command as it goes out: EVALSHA (or EVAL) with the script and its
 * number of keys, then the arguments; `nkeys` holds the number's digits.
 */

static ngx_uint_t
ngx_http_caresync_argv(ngx_http_caresync_cmd_t *cmd, ngx_uint_t eval,
    u_char *nkeys, const char **argv, size_t *lens)
{
    ngx_uint_t  i, n;

    n = 0;

    if (cmd->script) {
        if (eval) {
            argv[n] = "EVAL";
            lens[n++] = 4;
            argv[n] = (const char *) cmd->script->text.data;
            lens[n++] = cmd->script->text.len;

        } else {
            argv[n] = "EVALSHA";
            lens[n++] = 7;
            argv[n] = (const char *) cmd->script->sha1;
            lens[n++] = sizeof(cmd->script->sha1);
        }

        argv[n] = (const char *) nkeys;
        lens[n++] = ngx_sprintf(nkeys, "%ui", cmd->nkeys) - nkeys;
    }

    for (i = 0; i < cmd->argc; i++) {
        argv[n] = cmd->argv[i];
        lens[n++] = cmd->lens[i];
    }

    return n;
}


/* One request's command, in RESP, its large arguments from where they are. */

static ngx_int_t
ngx_http_caresync_send(ngx_http_caresync_redis_t *rd,
    ngx_http_caresync_pending_t *p, ngx_uint_t eval)
{
    u_char                     nkeys[NGX_INT_T_LEN];
    size_t                     lens[NGX_HTTP_CARESYNC_MAX_ARGS + 3];
    ngx_uint_t                 i, n;
    const char                *argv[NGX_HTTP_CARESYNC_MAX_ARGS + 3];
    ngx_http_caresync_resp_t   rs;

    n = ngx_http_caresync_argv(&p->ctx->cmd, eval, nkeys, argv, lens);

    rs.n = 0;
    rs.len = 0;
    rs.parts[0].data = rs.buf;
    rs.last = ngx_http_caresync_resp_hdr(rs.buf, '*', n);

    for (i = 0; i < n; i++) {
        ngx_http_caresync_resp_arg(&rs, (u_char *) argv[i], lens[i]);
    }

    /* the last piece of headers */
    if (rs.last > rs.parts[rs.n].data) {
        rs.parts[rs.n].len = rs.last - rs.parts[rs.n].data;
        rs.len += rs.parts[rs.n].len;
        rs.n++;
    }

    if (ngx_http_caresync_redis_send(rd, ngx_http_caresync_reply_handler, p,
                                     rs.parts, rs.n)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_caresync_sent(p, rs.len);

    return NGX_OK;
}


static u_char *
ngx_http_caresync_resp_hdr(u_char *p, u_char type, size_t n)
{
    *p++ = type;
    p = ngx_sprintf(p, "%uz", n);
    *p++ = CR; *p++ = LF;

    return p;
}


/* "$<len>\r\n<data>\r\n" */

static u_char *
ngx_http_caresync_resp_str(u_char *p, const u_char *data, size_t len)
{
    p = ngx_http_caresync_resp_hdr(p, '$', len);
    p = ngx_cpymem(p, data, len);
    *p++ = CR; *p++ = LF;

    return p;
}


/*
 * Appends an argument: a small one is copied with the headers, a large
 * one becomes a piece of its own, so that it is copied once, by redis.c.
 */

static void
ngx_http_caresync_resp_arg(ngx_http_caresync_resp_t *rs, const u_char *data,
    size_t len)
{
    ngx_str_t  *part;

    rs->last = ngx_http_caresync_resp_hdr(rs->last, '$', len);

    part = &rs->parts[rs->n];

    if (len < NGX_HTTP_CARESYNC_RESP_COPY) {
        rs->last = ngx_cpymem(rs->last, data, len);
        *rs->last++ = CR; *rs->last++ = LF;
        return;
    }

    part->len = rs->last - part->data;
    rs->len += part->len;

    part[1].data = (u_char *) data;
    part[1].len = len;
    rs->len += len;

    part[2].data = rs->last;
    rs->n += 2;

    *rs->last++ = CR; *rs->last++ = LF;
}


/* A command has been handed to redis.c: its reply is now due. */

static void
ngx_http_caresync_sent(ngx_http_caresync_pending_t *p, size_t obuf)
{
    ngx_http_caresync_backlog_t  *bl = &ngx_http_caresync_backlog;

    p->in_redis = 1;
    p->obuf = obuf;
    p->sent_at = ngx_current_msec;

    bl->bytes += p->obuf;
    ngx_queue_insert_tail(&bl->sent, &p->sent);

    if (!bl->overdue.timer_set) {
        ngx_add_timer(&bl->overdue, bl->conf->timeout);
    }
}


/* Its reply came, or its connection went: redis.c is done with its copy. */

static void
ngx_http_caresync_received(ngx_http_caresync_pending_t *p)
{
    p->in_redis = 0;
    ngx_queue_remove(&p->sent);
    ngx_http_caresync_backlog.bytes -= p->obuf;
    p->obuf = 0;
}


/* The length of a command in RESP: "*n" then "$len" data. */

static size_t
ngx_http_caresync_resp_len(ngx_uint_t n, size_t *lens)
{
    size_t      len, v;
    ngx_uint_t  i;

    len = sizeof("*\r\n") - 1;

    for (v = n; v; v /= 10) {
        len++;
    }

    for (i = 0; i < n; i++) {
        len += sizeof("$0\r\n\r\n") - 1 + lens[i];

        for (v = lens[i] / 10; v; v /= 10) {
            len++;
        }
    }

    return len;
}


/*
 * A job's share of its group: its XADD, and its keys and arguments in
 * the group's EVAL (digits counted at their largest).
 */

static size_t
ngx_http_caresync_job_len(ngx_http_caresync_job_t *job)
{
    size_t  lens[5];

    lens[0] = 4;
    lens[1] = job->stream.len;
    lens[2] = 1;
    lens[3] = 3;
    lens[4] = job->job.len;

    return ngx_http_caresync_resp_len(5, lens)
           + 5 * NGX_HTTP_CARESYNC_RESP_HDR + job->mark.len
           + job->message.len + job->id.len + 2 * NGX_INT64_LEN;
}


/*
 * A job's XADD as five pieces: the stream's name and the job are sent
 * from where they are, the headers around them written into h (two
 * headers' worth, NGX_HTTP_CARESYNC_XADD_HDR).
 */

static size_t
ngx_http_caresync_job_xadd(ngx_http_caresync_job_t *job, u_char *h,
    ngx_str_t *parts)
{
    u_char  *p;

    static ngx_str_t  crlf = ngx_string("\r\n");

    p = ngx_cpymem(h, "*5\r\n$4\r\nXADD\r\n",
                   sizeof("*5\r\n$4\r\nXADD\r\n") - 1);
    p = ngx_http_caresync_resp_hdr(p, '$', job->stream.len);

    parts[0].data = h;
    parts[0].len = p - h;

    parts[1] = job->stream;

    h = p;
    p = ngx_cpymem(h, "\r\n$1\r\n*\r\n$3\r\njob\r\n",
                   sizeof("\r\n$1\r\n*\r\n$3\r\njob\r\n") - 1);
    p = ngx_http_caresync_resp_hdr(p, '$', job->job.len);

    parts[2].data = h;
    parts[2].len = p - h;

    parts[3] = job->job;
    parts[4] = crlf;

    return parts[0].len + parts[1].len + parts[2].len + parts[3].len
           + parts[4].len;
}


/* A job waits for the end of the turn, with the others made ready in it. */

static void
ngx_http_caresync_group_add(ngx_http_caresync_pending_t *p)
{
    ngx_queue_insert_tail(&ngx_http_caresync_grouping, &p->queue);
    p->grouping = 1;

    if (!ngx_http_caresync_flush.posted) {
        ngx_post_event(&ngx_http_caresync_flush, &ngx_posted_events);
    }
}


/*
 * The turn is over: its jobs go, as few transactions as their streams
 * allow (one per stream, in order, at most GROUP_MAX jobs each).
 */

static void
ngx_http_caresync_group_flush(ngx_event_t *ev)
{
    ngx_uint_t                    i;
    ngx_queue_t                  *q;
    ngx_str_t                    *stream;
    ngx_http_caresync_redis_t    *rd;
    ngx_http_caresync_group_t    *g;
    ngx_http_caresync_pending_t  *p;

    while (!ngx_queue_empty(&ngx_http_caresync_grouping)) {

        g = ngx_http_caresync_groups_free;

        if (g) {
            ngx_http_caresync_groups_free = g->next;

        } else {
            g = ngx_alloc(sizeof(ngx_http_caresync_group_t), ev->log);
        }

        rd = ngx_http_caresync_redis_get();

        if (g == NULL || rd == NULL) {
            /* nothing of them was sent: they are known not queued */
            if (rd == NULL) {
                ngx_log_error(NGX_LOG_WARN, ev->log, 0,
                              "caresync: redis not connected");
            }

            if (g) {
                g->next = ngx_http_caresync_groups_free;
                ngx_http_caresync_groups_free = g;
            }

            q = ngx_queue_head(&ngx_http_caresync_grouping);
            ngx_http_caresync_finish(ngx_queue_data(q,
                                          ngx_http_caresync_pending_t, queue),
                                     NULL);
            continue;
        }

        g->n = 0;
        stream = NULL;

        while (!ngx_queue_empty(&ngx_http_caresync_grouping)
               && g->n < NGX_HTTP_CARESYNC_GROUP_MAX)
        {
            q = ngx_queue_head(&ngx_http_caresync_grouping);
            p = ngx_queue_data(q, ngx_http_caresync_pending_t, queue);

            if (stream
                && (stream->len != p->ctx->cmd.job->stream.len
                    || ngx_memcmp(stream->data, p->ctx->cmd.job->stream.data,
                                  stream->len)
                       != 0))
            {
                break;
            }

            stream = &p->ctx->cmd.job->stream;

            ngx_queue_remove(q);
            p->grouping = 0;
            g->jobs[g->n++] = p;
        }

        if (ngx_http_caresync_group_send(rd, g) == NGX_OK) {
            continue;
        }

        /* the connection may hold part of it: it cannot be used on */

        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "caresync: a group of %ui jobs could not be sent",
                      g->n);

        ngx_http_caresync_redis_drop();

        /* as if sent and lost: see ngx_http_caresync_group_answer() */

        for (i = 0; i < g->n; i++) {
            ngx_http_caresync_sent(g->jobs[i], 0);
        }

        ngx_http_caresync_group_answer(g, NULL);

        g->next = ngx_http_caresync_groups_free;
        ngx_http_caresync_groups_free = g;
    }
}


/* MULTI, an XADD per job, the script, EXEC: handed to redis.c together. */

static ngx_int_t
ngx_http_caresync_group_send(ngx_http_caresync_redis_t *rd,
    ngx_http_caresync_group_t *g)
{
    u_char                       *eval, head[NGX_HTTP_CARESYNC_XADD_HDR];
    size_t                        size, elen;
    ngx_str_t                     parts[5];
    ngx_uint_t                    i;

    static ngx_str_t  multi = ngx_string("*1\r\n$5\r\nMULTI\r\n");
    static ngx_str_t  exec = ngx_string("*1\r\n$4\r\nEXEC\r\n");

    eval = ngx_http_caresync_group_eval(g, &elen);
    if (eval == NULL) {
        return NGX_ERROR;
    }

    /* room for all of it at once: it must not stop half-way */

    size = multi.len + elen + exec.len;

    for (i = 0; i < g->n; i++) {
        size += ngx_http_caresync_job_xadd(g->jobs[i]->ctx->cmd.job, head,
                                           parts);
    }

    if (ngx_http_caresync_redis_reserve(rd, size) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_caresync_redis_send(rd, ngx_http_caresync_group_queued,
                                     NULL, &multi, 1)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < g->n; i++) {
        (void) ngx_http_caresync_job_xadd(g->jobs[i]->ctx->cmd.job, head,
                                          parts);

        if (ngx_http_caresync_redis_send(rd, ngx_http_caresync_group_queued,
                                         NULL, parts, 5)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    parts[0].data = eval;
    parts[0].len = elen;

    if (ngx_http_caresync_redis_send(rd, ngx_http_caresync_group_queued,
                                     NULL, parts, 1)
        != NGX_OK
        || ngx_http_caresync_redis_send(rd, ngx_http_caresync_group_reply, g,
                                        &exec, 1)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    /* each its XADD and its share of the EVAL, counted at its largest */

    for (i = 0; i < g->n; i++) {
        ngx_http_caresync_sent(g->jobs[i],
                           ngx_http_caresync_job_len(g->jobs[i]->ctx->cmd.job));
    }

    g->obuf = multi.len + exec.len
              + g->jobs[0]->ctx->cmd.job->script->text.len;
    ngx_http_caresync_backlog.bytes += g->obuf;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, ngx_cycle->log, 0,
                   "caresync: a group of %ui jobs sent", g->n);

    return NGX_OK;
}


/*
 * The group's EVAL: the script, KEYS (the stream, then each job's mark
 * and message mark) and ARGV (each job's id and marks' lives), written
 * into one buffer that grows to the largest group and stays.
 */

static u_char *
ngx_http_caresync_group_eval(ngx_http_caresync_group_t *g, size_t *len)
{
    u_char                   *b, n[NGX_INT64_LEN];
    size_t                    size;
    ngx_uint_t                i, nkeys;
    ngx_http_caresync_job_t  *job, *first;

    first = g->jobs[0]->ctx->cmd.job;

    size = 4 * NGX_HTTP_CARESYNC_RESP_HDR + sizeof("$4\r\nEVAL\r\n")
           + first->script->text.len + NGX_INT_T_LEN + first->stream.len
           + 3 * 2 + 1;
    nkeys = 1;

    for (i = 0; i < g->n; i++) {
        job = g->jobs[i]->ctx->cmd.job;

        size += 5 * (NGX_HTTP_CARESYNC_RESP_HDR + 2) + job->mark.len
                + job->message.len + job->id.len + 2 * NGX_INT64_LEN;
        nkeys += job->message.len ? 2 : 1;
    }

    if (size > ngx_http_caresync_eval_size) {
        b = ngx_alloc(size, ngx_cycle->log);
        if (b == NULL) {
            return NULL;
        }

        if (ngx_http_caresync_eval) {
            ngx_free(ngx_http_caresync_eval);
        }

        ngx_http_caresync_eval = b;
        ngx_http_caresync_eval_size = size;
    }

    b = ngx_http_caresync_eval;

    b = ngx_http_caresync_resp_hdr(b, '*', 3 + nkeys + 3 * g->n);
    b = ngx_cpymem(b, "$4\r\nEVAL\r\n", sizeof("$4\r\nEVAL\r\n") - 1);
    b = ngx_http_caresync_resp_str(b, first->script->text.data,
                                   first->script->text.len);
    b = ngx_http_caresync_resp_str(b, n, ngx_sprintf(n, "%ui", nkeys) - n);
    b = ngx_http_caresync_resp_str(b, first->stream.data, first->stream.len);

    for (i = 0; i < g->n; i++) {
        job = g->jobs[i]->ctx->cmd.job;

        b = ngx_http_caresync_resp_str(b, job->mark.data, job->mark.len);

        if (job->message.len) {
            b = ngx_http_caresync_resp_str(b, job->message.data,
                                           job->message.len);
        }
    }

    for (i = 0; i < g->n; i++) {
        job = g->jobs[i]->ctx->cmd.job;

        b = ngx_http_caresync_resp_str(b, job->id.data, job->id.len);
        b = ngx_http_caresync_resp_str(b, n,
                                    ngx_sprintf(n, "%M", job->mark_ttl) - n);
        b = ngx_http_caresync_resp_str(b, n,
                                       ngx_sprintf(n, "%M", job->message.len
                                                   ? job->message_ttl : 0)
                                       - n);
    }

    *len = b - ngx_http_caresync_eval;

    return ngx_http_caresync_eval;
}


/*
 * MULTI's +OK and the +QUEUED of each command: a refusal here makes EXEC
 * refuse the whole transaction, and EXEC's reply tells every job.
 */

static void
ngx_http_caresync_group_queued(ngx_http_caresync_redis_t *rd, void *reply,
    void *data)
{
    redisReply  *rr = reply;

    if (rr && rr->type == REDIS_REPLY_ERROR) {
        /* Redis's own text: it names commands and keys, never values */
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "caresync: redis refused a part of a group: %*s",
                      (size_t) rr->len, rr->str);
    }
}


static void
ngx_http_caresync_group_reply(ngx_http_caresync_redis_t *rd, void *reply,
    void *data)
{
    ngx_http_caresync_group_t  *g = data;

    redisReply  *rr = reply;

    ngx_http_caresync_backlog.bytes -= g->obuf;

    ngx_http_caresync_group_answer(g, rr);

    g->next = ngx_http_caresync_groups_free;
    ngx_http_caresync_groups_free = g;
}


/*
 * EXEC's reply: an XADD's id per job, then the script's array of one
 * integer per job.  A job's answer is its own: its XADD refused, or the
 * script refused, is a 503 for whom it concerns.
 */

static void
ngx_http_caresync_group_answer(ngx_http_caresync_group_t *g, redisReply *rr)
{
    ngx_uint_t                    i;
    redisReply                   *x, *s;
    ngx_http_caresync_pending_t  *p;

    s = NULL;

    if (rr && rr->type == REDIS_REPLY_ARRAY && rr->elements == g->n + 1) {
        s = rr->element[g->n];

        if (s->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "caresync: redis error in a group's script: %*s",
                          (size_t) s->len, s->str);
            s = NULL;

        } else if (s->type != REDIS_REPLY_ARRAY || s->elements != g->n) {
            ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                          "caresync: unexpected reply of a group's script");
            s = NULL;
        }

    } else if (rr && rr->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "caresync: redis error: %*s", (size_t) rr->len,
                      rr->str);

    } else if (rr) {
        ngx_log_error(NGX_LOG_ERR, ngx_cycle->log, 0,
                      "caresync: unexpected reply to a group of %ui jobs",
                      g->n);
    }

    for (i = 0; i < g->n; i++) {
        p = g->jobs[i];

        /*
         * Each is done with Redis only now: answering one request may end
         * others of the group (streams of one HTTP/2 connection), whose
         * records must then stay for this loop to return.
         */
        ngx_http_caresync_received(p);

        if (p->r == NULL) {
            /* the request is gone; its job may still have been queued */
            ngx_http_caresync_pending_put(p);
            continue;
        }

        if (rr == NULL) {
            ngx_http_caresync_lost(p);
            continue;
        }

        if (s == NULL) {
            ngx_http_caresync_finish(p, NULL);
            continue;
        }

        x = rr->element[i];

        if (x->type == REDIS_REPLY_ERROR) {
            ngx_log_error(NGX_LOG_ERR, p->r->connection->log, 0,
                          "caresync: redis error: %*s", (size_t) x->len,
                          x->str);
            ngx_http_caresync_finish(p, NULL);
            continue;
        }

        ngx_http_caresync_finish(p, s->element[i]);
    }
}


/*
 * The connection went before the reply: a job may have been done.  An
 * idempotent command waits for the connection to come back.
 */

static void
ngx_http_caresync_lost(ngx_http_caresync_pending_t *p)
{
    ngx_http_request_t  *r = p->r;

    if (r == NULL) {
        ngx_http_caresync_pending_put(p);
        return;
    }

    if (p->ctx->cmd.idempotent && !ngx_exiting && !ngx_terminate) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "caresync: redis connection lost before the "
                      "reply; job %V waits for it to come back",
                      &p->ctx->job_id);

        ngx_queue_insert_tail(&ngx_http_caresync_waiting, &p->queue);
        p->waiting = 1;
        return;
    }

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "caresync: redis connection lost before the reply");
    ngx_http_caresync_finish(p, NULL);
}


/*
 * The oldest command awaiting a reply is overdue: Redis is stopped,
 * stuck or unreachable without the socket saying so, and everything
 * queued behind it would wait as long.
 */

static void
ngx_http_caresync_overdue_handler(ngx_event_t *ev)
{
    ngx_http_caresync_backlog_t  *bl = ev->data;

    ngx_msec_t                    age;
    ngx_http_caresync_pending_t  *p;

    if (ngx_queue_empty(&bl->sent)) {
        return;
    }

    p = ngx_queue_data(ngx_queue_head(&bl->sent),
                       ngx_http_caresync_pending_t, sent);

    age = ngx_current_msec - p->sent_at;

    if (age < bl->conf->timeout) {
        ngx_add_timer(ev, bl->conf->timeout - age);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                  "caresync: no redis reply for %M ms, %ui commands and "
                  "%uz bytes waiting: dropping the connection",
                  age, bl->commands, bl->bytes);

    ngx_http_caresync_metrics_redis(0);
    ngx_http_caresync_redis_drop();
}


static void
ngx_http_caresync_reply_handler(ngx_http_caresync_redis_t *rd, void *reply,
    void *data)
{
    ngx_http_caresync_pending_t  *p = data;

    redisReply                   *rr = reply;
    ngx_http_request_t           *r = p->r;

    ngx_http_caresync_received(p);

    if (r == NULL) {
        /* the request is gone; the command may still have been done */
        ngx_http_caresync_pending_put(p);
        return;
    }

    if (rr == NULL) {
        ngx_http_caresync_lost(p);
        return;
    }

    if (rr->type == REDIS_REPLY_ERROR) {

        if (!p->retried
            && p->ctx->cmd.script
            && rr->len >= 8
            && ngx_strncmp(rr->str, "NOSCRIPT", 8) == 0)
        {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "caresync: script not cached, sending EVAL");

            p->retried = 1;

            if (ngx_http_caresync_send(rd, p, 1) == NGX_OK) {
                return;
            }
        }

        /* Redis's own text: it names commands and keys, never values */
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "caresync: redis error: %*s", (size_t) rr->len,
                      rr->str);
        ngx_http_caresync_finish(p, NULL);
        return;
    }

    ngx_http_caresync_finish(p, rr);
}


static void
ngx_http_caresync_timeout_handler(ngx_event_t *ev)
{
    ngx_http_caresync_pending_t  *p = ev->data;

    ngx_log_error(NGX_LOG_ERR, p->r->connection->log, NGX_ETIMEDOUT,
                  "caresync: redis timed out, job %V may not be queued",
                  &p->ctx->job_id);

    ngx_http_caresync_finish(p, NULL);
}


/* Answer the request and detach it from the pending command. */

static void
ngx_http_caresync_finish(ngx_http_caresync_pending_t *p, redisReply *reply)
{
    ngx_int_t                 rc;
    ngx_connection_t         *c;
    ngx_http_request_t       *r = p->r;
    ngx_http_caresync_ctx_t  *ctx = p->ctx;

    if (p->timer.timer_set) {
        ngx_del_timer(&p->timer);
    }

    ngx_http_caresync_pending_detach(p);
    ctx->pending = NULL;

    ngx_http_caresync_metrics_command_done(r, reply != NULL);

    if (reply) {
        rc = ctx->cmd.handler(r, reply);

    } else {
        rc = ngx_http_caresync_reply_unavailable(r);
    }

    /*
     * We run from a Redis event, not from nginx's request handler: a
     * subrequest (auth_request) that ends here posts its parent, and
     * nothing else would run it.
     */
    c = r->connection;
    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}


static void
ngx_http_caresync_request_cleanup(void *data)
{
    ngx_http_caresync_ctx_t  *ctx = data;

    ngx_http_caresync_pending_t  *p = ctx->pending;

    if (p == NULL) {
        return;
    }

    /* the client went away: the reply callback will find nobody */

    if (p->timer.timer_set) {
        ngx_del_timer(&p->timer);
    }

    ngx_http_caresync_pending_detach(p);
    ctx->pending = NULL;
}


/* Part from the request; p goes back to the list unless a reply is due. */

static void
ngx_http_caresync_pending_detach(ngx_http_caresync_pending_t *p)
{
    /* the request's memory goes with it */
    ngx_http_caresync_backlog.bytes -= p->held;
    p->held = 0;

    p->r = NULL;
    p->ctx = NULL;

    if (p->waiting || p->grouping) {
        /* not sent (yet): it is left out */
        ngx_queue_remove(&p->queue);
        p->waiting = 0;
        p->grouping = 0;
    }

    if (!p->in_redis) {
        ngx_http_caresync_pending_put(p);
    }
}


static ngx_http_caresync_pending_t *
ngx_http_caresync_pending_get(void)
{
    ngx_http_caresync_pending_t  *p = ngx_http_caresync_free;

    if (p) {
        ngx_http_caresync_free = p->next;

    } else {
        p = ngx_alloc(sizeof(ngx_http_caresync_pending_t), ngx_cycle->log);
        if (p == NULL) {
            return NULL;
        }
    }

    ngx_memzero(p, sizeof(ngx_http_caresync_pending_t));

    p->timer.handler = ngx_http_caresync_timeout_handler;
    p->timer.data = p;
    p->timer.log = ngx_cycle->log;

    return p;
}


static void
ngx_http_caresync_pending_put(ngx_http_caresync_pending_t *p)
{
    if (p->counted) {
        ngx_http_caresync_backlog.commands--;
        p->counted = 0;
    }

    p->next = ngx_http_caresync_free;
    ngx_http_caresync_free = p;
}
