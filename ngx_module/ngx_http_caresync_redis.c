/*
 * The per-worker Redis connection: hiredis's async context driven by
 * nginx's event loop.
 *
 * hiredis owns the socket and the protocol; nginx owns readiness and
 * time.  The socket is registered once (edge-triggered where the event
 * method allows), reads are drained until EAGAIN, and writes are
 * deferred to a posted event so that the commands of every request
 * handled in one loop iteration leave in a single write (pipelining).
 * When the connection goes away it is re-established with backoff; its
 * timers are cancelable so that they never hold a quitting worker.
 */


#include "ngx_http_caresync.h"

#include <hiredis/sds.h>


#define NGX_HTTP_CARESYNC_BACKOFF_MIN   50
#define NGX_HTTP_CARESYNC_BACKOFF_MAX   1000


typedef struct {
    redisAsyncContext               *ac;
    ngx_connection_t                *c;
    ngx_http_caresync_redis_conf_t  *conf;
    ngx_event_t                      reconnect;
    ngx_msec_t                       backoff;
    ngx_log_t                       *log;
    unsigned                         writing:1;
    unsigned                         exiting:1;
    unsigned                         connected_once:1;
    ngx_uint_t                       setup;   /* AUTH/SELECT replies due */
} ngx_http_caresync_redis_t;


static void ngx_http_caresync_redis_connect(ngx_event_t *ev);
static void ngx_http_caresync_redis_schedule(ngx_http_caresync_redis_t *rd);
static void ngx_http_caresync_redis_read_handler(ngx_event_t *rev);
static void ngx_http_caresync_redis_write_handler(ngx_event_t *wev);
static void ngx_http_caresync_redis_add_write(void *data);
static void ngx_http_caresync_redis_noop(void *data);
static void ngx_http_caresync_redis_cleanup(void *data);
static void ngx_http_caresync_redis_on_connect(const redisAsyncContext *ac,
    int status);
static void ngx_http_caresync_redis_on_disconnect(const redisAsyncContext *ac,
    int status);
static void ngx_http_caresync_redis_setup_reply(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_caresync_redis_ready(ngx_http_caresync_redis_t *rd);


static ngx_http_caresync_redis_t  ngx_http_caresync_redis;

/* apart from the connection's state, which init clears */
static ngx_http_caresync_redis_ready_pt  ngx_http_caresync_redis_on_ready;
static ngx_http_caresync_redis_event_pt  ngx_http_caresync_redis_on_event;


void
ngx_http_caresync_redis_hooks(ngx_http_caresync_redis_ready_pt ready,
    ngx_http_caresync_redis_event_pt event)
{
    ngx_http_caresync_redis_on_ready = ready;
    ngx_http_caresync_redis_on_event = event;
}


ngx_int_t
ngx_http_caresync_redis_init(ngx_cycle_t *cycle,
    ngx_http_caresync_redis_conf_t *rcf)
{
    ngx_http_caresync_redis_t  *rd = &ngx_http_caresync_redis;

    ngx_memzero(rd, sizeof(ngx_http_caresync_redis_t));

    rd->conf = rcf;
    rd->log = cycle->log;
    rd->backoff = NGX_HTTP_CARESYNC_BACKOFF_MIN;

    rd->reconnect.handler = ngx_http_caresync_redis_connect;
    rd->reconnect.data = rd;
    rd->reconnect.log = cycle->log;
    rd->reconnect.cancelable = 1;

    ngx_http_caresync_redis_connect(&rd->reconnect);

    return NGX_OK;
}


void
ngx_http_caresync_redis_exit(void)
{
    ngx_http_caresync_redis_t  *rd = &ngx_http_caresync_redis;

    rd->exiting = 1;

    if (rd->reconnect.timer_set) {
        ngx_del_timer(&rd->reconnect);
    }

    if (rd->ac) {
        /* answers whatever is still pending with NULL, then cleans up */
        redisAsyncFree(rd->ac);
    }
}


/* The context to send a command on, or NULL while there is none. */

redisAsyncContext *
ngx_http_caresync_redis_get(void)
{
    redisAsyncContext  *ac = ngx_http_caresync_redis.ac;

    if (ac == NULL
        || (ac->c.flags & (REDIS_DISCONNECTING|REDIS_FREEING)))
    {
        return NULL;
    }

    return ac;
}


/*
 * Queues one command that the caller wrote in RESP, as pieces: parts[0]
 * holds at least the command's name and its "\r\n" (hiredis reads the
 * name to tell subscriptions apart, and one byte after it, which must be
 * readable), the others follow it as they are.  Every byte is copied
 * once, into the buffer that is written to the socket; a large argument
 * is never formatted or copied twice.  fn gets the command's reply, or
 * NULL when the connection goes first.
 *
 * ngx_http_caresync_redis_reserve() makes room for several commands that
 * must go together (a transaction): once it succeeded, the sends that
 * fit in it cannot fail half-way.
 */

ngx_int_t
ngx_http_caresync_redis_reserve(redisAsyncContext *ac, size_t size)
{
    sds  obuf;

    if (ac->c.flags & (REDIS_DISCONNECTING|REDIS_FREEING)) {
        return NGX_ERROR;
    }

    obuf = sdsMakeRoomFor(ac->c.obuf, size);
    if (obuf == NULL) {
        return NGX_ERROR;       /* the buffer is as it was */
    }

    ac->c.obuf = obuf;

    return NGX_OK;
}


ngx_int_t
ngx_http_caresync_redis_send(redisAsyncContext *ac, redisCallbackFn *fn,
    void *data, ngx_str_t *parts, ngx_uint_t n)
{
    size_t      size;
    ngx_uint_t  i;

    size = 0;

    for (i = 0; i < n; i++) {
        size += parts[i].len;
    }

    if (ngx_http_caresync_redis_reserve(ac, size) != NGX_OK) {
        return NGX_ERROR;
    }

    /* with the room made, neither append can fail */

    if (redisAsyncFormattedCommand(ac, fn, data, (char *) parts[0].data,
                                   parts[0].len)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    for (i = 1; i < n; i++) {
        ac->c.obuf = sdscatlen(ac->c.obuf, parts[i].data, parts[i].len);
    }

    return NGX_OK;
}


/*
 * Gives the connection up: hiredis answers every command on it as lost
 * (NULL), frees its buffers, and a new connection follows.
 */

void
ngx_http_caresync_redis_drop(void)
{
    if (ngx_http_caresync_redis.ac) {
        redisAsyncFree(ngx_http_caresync_redis.ac);
    }
}


static void
ngx_http_caresync_redis_connect(ngx_event_t *ev)
{
    ngx_http_caresync_redis_t  *rd = ev->data;

    ngx_int_t                        event;
    ngx_connection_t                *c;
    redisAsyncContext               *ac;
    ngx_http_caresync_redis_conf_t  *rcf;

    rcf = rd->conf;

    if (rd->exiting || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rcf->unix_path.len) {
        ac = redisAsyncConnectUnix((char *) rcf->unix_path.data);

    } else {
        ac = redisAsyncConnect((char *) rcf->host.data, (int) rcf->port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis connect: out of memory");
        ngx_http_caresync_redis_schedule(rd);
        return;
    }

    if (ac->err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis connect failed: %s", ac->errstr);
        redisAsyncFree(ac);
        ngx_http_caresync_redis_schedule(rd);
        return;
    }

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        ngx_http_caresync_redis_schedule(rd);
        return;
    }

    c->data = rd;
    c->read->handler = ngx_http_caresync_redis_read_handler;
    c->write->handler = ngx_http_caresync_redis_write_handler;
    c->read->log = rd->log;
    c->write->log = rd->log;
    c->log = rd->log;

    rd->ac = ac;
    rd->c = c;

    ac->ev.data = rd;
    ac->ev.addRead = ngx_http_caresync_redis_noop;
    ac->ev.delRead = ngx_http_caresync_redis_noop;
    ac->ev.addWrite = ngx_http_caresync_redis_add_write;
    ac->ev.delWrite = ngx_http_caresync_redis_noop;
    ac->ev.cleanup = ngx_http_caresync_redis_cleanup;

    redisAsyncSetConnectCallback(ac, ngx_http_caresync_redis_on_connect);
    redisAsyncSetDisconnectCallback(ac,
                                    ngx_http_caresync_redis_on_disconnect);

    if (ngx_add_conn) {
        if (ngx_add_conn(c) == NGX_ERROR) {
            redisAsyncFree(ac);
            return;
        }

    } else {
        event = (ngx_event_flags & NGX_USE_CLEAR_EVENT) ? NGX_CLEAR_EVENT
                                                        : NGX_LEVEL_EVENT;

        if (ngx_add_event(c->read, NGX_READ_EVENT, event) != NGX_OK
            || ngx_add_event(c->write, NGX_WRITE_EVENT, event) != NGX_OK)
        {
            redisAsyncFree(ac);
            return;
        }
    }

    /* the connect timer; the same event later carries no timer at all */
    c->write->cancelable = 1;
    ngx_add_timer(c->write, rcf->connect_timeout);

    /* queued now, sent as soon as the socket is connected */

    rd->setup = (rcf->password.len ? 1 : 0) + (rcf->db ? 1 : 0);

    if (rcf->password.len) {
        redisAsyncCommand(ac, ngx_http_caresync_redis_setup_reply, "AUTH",
                          "AUTH %b", rcf->password.data,
                          rcf->password.len);
    }

    if (rcf->db) {
        redisAsyncCommand(ac, ngx_http_caresync_redis_setup_reply, "SELECT",
                          "SELECT %d", (int) rcf->db);
    }

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "caresync: redis connecting, fd:%d", c->fd);
}


static void
ngx_http_caresync_redis_schedule(ngx_http_caresync_redis_t *rd)
{
    if (rd->exiting || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (!rd->reconnect.timer_set) {
        ngx_add_timer(&rd->reconnect, rd->backoff);
    }

    rd->backoff = ngx_min(rd->backoff * 2, NGX_HTTP_CARESYNC_BACKOFF_MAX);
}


static void
ngx_http_caresync_redis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t           *c = rev->data;
    ngx_http_caresync_redis_t  *rd = c->data;

    u_char   ch;
    ssize_t  n;

    /*
     * hiredis reads at most 16 KB a call; with edge-triggered events
     * whatever it leaves in the socket would wait for the next edge,
     * so keep reading while a peek still finds bytes.
     */

    for ( ;; ) {
        redisAsyncHandleRead(rd->ac);

        if (rd->c != c) {
            return;             /* the context was freed meanwhile */
        }

        n = recv(c->fd, &ch, 1, MSG_PEEK);

        if (n > 0) {
            continue;
        }

        if (n == -1 && (ngx_socket_errno == NGX_EAGAIN
                        || ngx_socket_errno == NGX_EINTR))
        {
            break;
        }

        /* EOF or an error: let hiredis see it and tear down */
        redisAsyncHandleRead(rd->ac);
        return;
    }

    rev->ready = 0;

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        redisAsyncFree(rd->ac);
    }
}


static void
ngx_http_caresync_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t           *c = wev->data;
    ngx_http_caresync_redis_t  *rd = c->data;

    redisAsyncContext  *ac = rd->ac;

    if (wev->timedout) {
        ngx_log_error(NGX_LOG_ERR, rd->log, NGX_ETIMEDOUT,
                      "caresync: redis connect timed out");
        redisAsyncFree(ac);
        return;
    }

    rd->writing = 1;

    for ( ;; ) {
        ngx_set_socket_errno(0);

        redisAsyncHandleWrite(ac);

        if (rd->c != c) {
            return;
        }

        if (!(ac->c.flags & REDIS_CONNECTED)) {
            break;              /* connect(2) still in progress */
        }

        if (sdslen(ac->c.obuf) == 0) {
            break;
        }

        if (ngx_socket_errno == NGX_EAGAIN) {
            wev->ready = 0;
            break;
        }
    }

    rd->writing = 0;

    if (!(ngx_event_flags & NGX_USE_CLEAR_EVENT)
        && (ac->c.flags & REDIS_CONNECTED)
        && sdslen(ac->c.obuf) == 0
        && wev->active)
    {
        /* level-triggered methods would report writability forever */
        ngx_del_event(wev, NGX_WRITE_EVENT, 0);
    }
}


/*
 * hiredis has queued a command: flush after this loop iteration, so that
 * commands from every request handled meanwhile share one write.
 */

static void
ngx_http_caresync_redis_add_write(void *data)
{
    ngx_http_caresync_redis_t  *rd = data;

    ngx_event_t  *wev;

    if (rd->c == NULL || rd->writing) {
        return;
    }

    wev = rd->c->write;

    if (!(rd->ac->c.flags & REDIS_CONNECTED)) {
        return;                 /* the connect edge will flush */
    }

    if (wev->ready) {
        if (!wev->posted) {
            ngx_post_event(wev, &ngx_posted_events);
        }
        return;
    }

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis write event failed");
    }
}


static void
ngx_http_caresync_redis_noop(void *data)
{
}


/* hiredis is freeing the context: release our side of the socket. */

static void
ngx_http_caresync_redis_cleanup(void *data)
{
    ngx_http_caresync_redis_t  *rd = data;

    ngx_connection_t  *c = rd->c;

    if (c) {
        if (c->read->timer_set) {
            ngx_del_timer(c->read);
        }

        if (c->write->timer_set) {
            ngx_del_timer(c->write);
        }

        if (c->read->posted) {
            ngx_delete_posted_event(c->read);
        }

        if (c->write->posted) {
            ngx_delete_posted_event(c->write);
        }

        /* hiredis closes the descriptor itself, right after this */

        if (ngx_del_conn) {
            ngx_del_conn(c, NGX_CLOSE_EVENT);

        } else {
            if (c->read->active || c->read->disabled) {
                ngx_del_event(c->read, NGX_READ_EVENT, NGX_CLOSE_EVENT);
            }

            if (c->write->active || c->write->disabled) {
                ngx_del_event(c->write, NGX_WRITE_EVENT, NGX_CLOSE_EVENT);
            }
        }

        ngx_free_connection(c);
        c->fd = (ngx_socket_t) -1;
    }

    rd->c = NULL;
    rd->ac = NULL;

    ngx_http_caresync_redis_schedule(rd);
}


static void
ngx_http_caresync_redis_on_connect(const redisAsyncContext *ac, int status)
{
    ngx_http_caresync_redis_t  *rd = ac->ev.data;

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis connect failed: %s",
                      ac->errstr ? ac->errstr : "unknown error");

        if (ngx_http_caresync_redis_on_event) {
            ngx_http_caresync_redis_on_event(0);
        }

        return;                 /* hiredis frees the context next */
    }

    if (rd->c && rd->c->write->timer_set) {
        ngx_del_timer(rd->c->write);
    }

    if (rd->connected_once && ngx_http_caresync_redis_on_event) {
        ngx_http_caresync_redis_on_event(1);
    }

    rd->connected_once = 1;

    if (rd->setup == 0) {
        ngx_http_caresync_redis_ready(rd);
    }
}


/*
 * Only a connection that took our AUTH and SELECT resets the backoff: a
 * wrong password must not turn into a reconnect every few milliseconds.
 */

static void
ngx_http_caresync_redis_ready(ngx_http_caresync_redis_t *rd)
{
    rd->backoff = NGX_HTTP_CARESYNC_BACKOFF_MIN;

    ngx_log_error(NGX_LOG_INFO, rd->log, 0, "caresync: redis connected");

    if (ngx_http_caresync_redis_on_ready) {
        ngx_http_caresync_redis_on_ready(rd->ac);
    }
}


static void
ngx_http_caresync_redis_on_disconnect(const redisAsyncContext *ac,
    int status)
{
    ngx_http_caresync_redis_t  *rd = ac->ev.data;

    if (status != REDIS_OK) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis connection lost: %s",
                      ac->errstr ? ac->errstr : "unknown error");
    }
}


static void
ngx_http_caresync_redis_setup_reply(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    ngx_http_caresync_redis_t  *rd = ac->ev.data;

    redisReply  *rr = reply;

    if (rr == NULL) {
        return;
    }

    if (rr->type != REDIS_REPLY_ERROR) {
        if (--rd->setup == 0) {
            ngx_http_caresync_redis_ready(rd);
        }

        return;
    }

    /* the reply text is Redis's, never ours: it holds no secret */
    ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                  "caresync: redis %s failed: %*s", (char *) privdata,
                  (size_t) rr->len, rr->str);

    redisAsyncDisconnect(ac);
}
