/*
 * One request's command to Redis.
 *
 * A script is sent as EVALSHA; a NOSCRIPT answer (a flushed or
 * failed-over Redis) is retried once as EVAL, which loads it again.
 * Only a real reply reaches the request's callback: a timeout, an error
 * reply or a lost connection is a 503, so a success answer always means
 * Redis did the work.
 *
 * A pending command may outlive its request (client gone, timeout), so
 * its bookkeeping lives outside the request pool, in a per-worker free
 * list; the request's cleanup handler detaches it, and the reply
 * callback, which always comes (hiredis calls it with NULL on
 * disconnect), returns it to the list.
 *
 * A connection lost between sending and the reply leaves the outcome
 * unknown: Redis may have run the command.  An idempotent command (the
 * webhook script, whose dedupe mark witnesses the job) then waits, within
 * the request's own timeout, for the connection to come back and is sent
 * again; its answer is the true one.  Others are answered 503.
 *
 * What waits for Redis is bounded per worker (caresync_redis_queue): a
 * command is admitted only while the commands not yet done with Redis,
 * and the bytes they hold, stay within the limits; past them the request
 * is answered 503 at once.  A command holds its copy in hiredis's output
 * buffer until its reply comes or its connection goes, and, while its
 * request lives, the request's body and its own copy of the arguments
 * (the request stays only because it waits for Redis).  Replies come
 * in order, so the oldest command awaiting one tells whether Redis still
 * answers: once it is overdue by the command timeout the connection is
 * dropped, which answers everything on it as a lost connection does and
 * frees what it held, and a new one is made.
 */


#include "ngx_http_caresync.h"

#include <openssl/sha.h>


struct ngx_http_caresync_pending_s {
    ngx_http_request_t           *r;        /* NULL once detached */
    ngx_http_caresync_ctx_t      *ctx;
    ngx_event_t                   timer;
    ngx_queue_t                   queue;    /* waiting for a connection */
    ngx_queue_t                   sent;     /* awaiting its reply */
    ngx_msec_t                    sent_at;
    size_t                        obuf;     /* its copy in hiredis */
    size_t                        held;     /* the request's copy */
    ngx_http_caresync_pending_t  *next;     /* free list */
    unsigned                      retried:1;    /* EVAL after NOSCRIPT */
    unsigned                      in_redis:1;   /* a reply is due */
    unsigned                      waiting:1;    /* in the queue */
    unsigned                      counted:1;    /* in the backlog */
};


/* What waits for Redis in this worker. */
typedef struct {
    ngx_uint_t                    commands;
    size_t                        bytes;
    ngx_queue_t                   sent;     /* oldest first */
    ngx_event_t                   overdue;
    ngx_http_caresync_redis_conf_t  *conf;
} ngx_http_caresync_backlog_t;


static ngx_int_t ngx_http_caresync_send(redisAsyncContext *ac,
    ngx_http_caresync_pending_t *p, ngx_uint_t eval);
static ngx_int_t ngx_http_caresync_send_argv(redisAsyncContext *ac,
    ngx_http_caresync_pending_t *p, ngx_uint_t n, const char **argv,
    size_t *lens);
static void ngx_http_caresync_reply_handler(redisAsyncContext *ac,
    void *reply, void *data);
static void ngx_http_caresync_timeout_handler(ngx_event_t *ev);
static void ngx_http_caresync_overdue_handler(ngx_event_t *ev);
static ngx_uint_t ngx_http_caresync_argv(ngx_http_caresync_cmd_t *cmd,
    ngx_uint_t eval, u_char *nkeys, const char **argv, size_t *lens);
static size_t ngx_http_caresync_resp_len(ngx_uint_t n, size_t *lens);
static void ngx_http_caresync_request_cleanup(void *data);
static void ngx_http_caresync_finish(ngx_http_caresync_pending_t *p,
    redisReply *reply);
static void ngx_http_caresync_pending_detach(ngx_http_caresync_pending_t *p);
static ngx_http_caresync_pending_t *ngx_http_caresync_pending_get(void);
static void ngx_http_caresync_pending_put(ngx_http_caresync_pending_t *p);
static void ngx_http_caresync_command_reconnected(redisAsyncContext *ac);


static ngx_http_caresync_pending_t  *ngx_http_caresync_free;
static ngx_queue_t                   ngx_http_caresync_waiting;
static ngx_http_caresync_backlog_t   ngx_http_caresync_backlog;


void
ngx_http_caresync_command_init(ngx_cycle_t *cycle,
    ngx_http_caresync_redis_conf_t *rcf)
{
    ngx_http_caresync_backlog_t  *bl = &ngx_http_caresync_backlog;

    ngx_http_caresync_redis_hooks(ngx_http_caresync_command_reconnected,
                                  ngx_http_caresync_metrics_redis);

    ngx_queue_init(&ngx_http_caresync_waiting);

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
ngx_http_caresync_command_reconnected(redisAsyncContext *ac)
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

        if (ngx_http_caresync_send(ac, p, 0) != NGX_OK) {
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
    redisAsyncContext              *ac;
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

    ac = ngx_http_caresync_redis_get();
    if (ac == NULL) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "caresync: redis not connected");
        return ngx_http_caresync_reply_unavailable(r);
    }

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_caresync_module);

    /* the request's body and arguments, and their copy as EVALSHA */

    held = sizeof(ngx_http_caresync_pending_t) + ctx->body.len;

    for (i = 0; i < cmd->argc; i++) {
        held += cmd->lens[i];
    }

    n = ngx_http_caresync_argv(cmd, 0, nkeys, argv, lens);
    size = held + ngx_http_caresync_resp_len(n, lens);

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

    /* the vector sized above is the one sent: built once */

    if (ngx_http_caresync_send_argv(ac, p, n, argv, lens) != NGX_OK) {
        ngx_http_caresync_pending_detach(p);
        return ngx_http_caresync_reply_unavailable(r);
    }

    ctx->pending = p;
    cln->handler = ngx_http_caresync_request_cleanup;
    cln->data = ctx;

    cmcf = ngx_http_get_module_main_conf(r, ngx_http_caresync_module);
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


static ngx_int_t
ngx_http_caresync_send(redisAsyncContext *ac, ngx_http_caresync_pending_t *p,
    ngx_uint_t eval)
{
    u_char       nkeys[NGX_INT_T_LEN];
    size_t       lens[NGX_HTTP_CARESYNC_MAX_ARGS + 3];
    ngx_uint_t   n;
    const char  *argv[NGX_HTTP_CARESYNC_MAX_ARGS + 3];

    n = ngx_http_caresync_argv(&p->ctx->cmd, eval, nkeys, argv, lens);

    return ngx_http_caresync_send_argv(ac, p, n, argv, lens);
}


static ngx_int_t
ngx_http_caresync_send_argv(redisAsyncContext *ac,
    ngx_http_caresync_pending_t *p, ngx_uint_t n, const char **argv,
    size_t *lens)
{
    ngx_http_caresync_backlog_t  *bl = &ngx_http_caresync_backlog;

    /* hiredis copies the arguments into its output buffer right away */

    if (redisAsyncCommandArgv(ac, ngx_http_caresync_reply_handler, p,
                              (int) n, argv, lens)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    p->in_redis = 1;
    p->obuf = ngx_http_caresync_resp_len(n, lens);
    p->sent_at = ngx_current_msec;

    bl->bytes += p->obuf;
    ngx_queue_insert_tail(&bl->sent, &p->sent);

    if (!bl->overdue.timer_set) {
        ngx_add_timer(&bl->overdue, bl->conf->timeout);
    }

    return NGX_OK;
}


/* The length of the command as hiredis writes it: "*n" then "$len" data. */

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
ngx_http_caresync_reply_handler(redisAsyncContext *ac, void *reply,
    void *data)
{
    ngx_http_caresync_pending_t  *p = data;

    redisReply                   *rr = reply;
    ngx_http_request_t           *r = p->r;
    ngx_http_caresync_backlog_t  *bl = &ngx_http_caresync_backlog;

    /* hiredis is done with its copy */

    p->in_redis = 0;
    ngx_queue_remove(&p->sent);
    bl->bytes -= p->obuf;
    p->obuf = 0;

    if (r == NULL) {
        /* the request is gone; the command may still have been done */
        ngx_http_caresync_pending_put(p);
        return;
    }

    if (rr == NULL) {
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

            if (ngx_http_caresync_send(ac, p, 1) == NGX_OK) {
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

    if (p->waiting) {
        ngx_queue_remove(&p->queue);
        p->waiting = 0;
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
