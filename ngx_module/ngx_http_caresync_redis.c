/*
 * The per-worker Redis connection, on nginx's own connection layer.
 *
 * nginx owns the socket: ngx_event_connect_peer() connects it, its
 * send/recv (or its SSL layer's, with caresync_redis_tls) move the
 * bytes, and before every connect the node is found again: by nginx's
 * resolver for a host name, by the sentinels (sentinel.c) with
 * caresync_redis_sentinel.  hiredis is used for the protocol only: its
 * reader parses the replies, within bounds set here; commands are bytes
 * the layers above write.  Writes are deferred to a posted event so that
 * the commands of every request handled in one loop iteration leave in a
 * single write (pipelining).  When the connection goes away it is
 * re-established with backoff; its timers are cancelable so that they
 * never hold a quitting worker.
 */


#include "ngx_http_caresync.h"


#define NGX_HTTP_CARESYNC_BACKOFF_MIN   50
#define NGX_HTTP_CARESYNC_BACKOFF_MAX   1000

/* a reply larger than any the module asks for is a broken peer */
#define NGX_HTTP_CARESYNC_REPLY_MAX     (8 * 1024 * 1024)
#define NGX_HTTP_CARESYNC_REPLY_ITEMS   65536
#define NGX_HTTP_CARESYNC_REPLY_DEPTH   4

/* the output buffer kept between writes; a larger one is freed */
#define NGX_HTTP_CARESYNC_OUT_KEEP      (64 * 1024)


typedef struct {
    ngx_http_caresync_redis_reply_pt  fn;
    void                             *data;
} ngx_http_caresync_redis_wait_t;


struct ngx_http_caresync_redis_s {
    ngx_connection_t                 *c;
    ngx_http_caresync_redis_conf_t   *conf;
    ngx_peer_connection_t             pc;
    ngx_sockaddr_t                    sockaddr;
    socklen_t                         socklen;
    ngx_resolver_ctx_t               *resolving;
    redisReader                      *reader;
    size_t                            reply_size;   /* of the one parsed */

    /* what is written next: out[sent..len] */
    u_char                           *out;
    size_t                            len;
    size_t                            sent;
    size_t                            size;

    /* callbacks of the replies due, a ring: head..head+n */
    ngx_http_caresync_redis_wait_t   *wait;
    ngx_uint_t                        head;
    ngx_uint_t                        n;
    ngx_uint_t                        nalloc;

    ngx_event_t                       reconnect;
    ngx_event_t                       setup_timer;
    ngx_msec_t                        backoff;
    ngx_log_t                        *log;
    ngx_uint_t                        generation;
    ngx_uint_t                        setup;    /* AUTH/SELECT/PING due */
    const char                       *step;     /* of the setup, for logs */
    ngx_str_t                         name;     /* the node's, for logs */
    u_char                            text[NGX_SOCKADDR_STRLEN];
    unsigned                          open:1;   /* c may carry bytes */
    unsigned                          exiting:1;
    unsigned                          connected_once:1;
    unsigned                          ready:1;
    unsigned                          asking:1;  /* the sentinels */
};


static void ngx_http_caresync_redis_connect(ngx_event_t *ev);
static void ngx_http_caresync_redis_resolved(ngx_resolver_ctx_t *ctx);
static void ngx_http_caresync_redis_primary(ngx_int_t rc,
    struct sockaddr *sockaddr, socklen_t socklen, void *data);
static void ngx_http_caresync_redis_connect_peer(
    ngx_http_caresync_redis_t *rd);
static ngx_uint_t ngx_http_caresync_redis_demoted(redisReply *rr);
static void ngx_http_caresync_redis_connected(ngx_event_t *wev);
static void ngx_http_caresync_redis_open(ngx_http_caresync_redis_t *rd);
#if (NGX_HTTP_SSL)
static void ngx_http_caresync_redis_handshaked(ngx_connection_t *c);
static ngx_int_t ngx_http_caresync_redis_check_name(ngx_connection_t *c,
    ngx_http_caresync_redis_conf_t *rcf);
#endif
static void ngx_http_caresync_redis_setup_timeout(ngx_event_t *ev);
static void ngx_http_caresync_redis_fail(ngx_http_caresync_redis_t *rd);
static void ngx_http_caresync_redis_close(ngx_http_caresync_redis_t *rd);
static void ngx_http_caresync_redis_schedule(ngx_http_caresync_redis_t *rd);
static void ngx_http_caresync_redis_read_handler(ngx_event_t *rev);
static void ngx_http_caresync_redis_write_handler(ngx_event_t *wev);
static void ngx_http_caresync_redis_flush(ngx_http_caresync_redis_t *rd);
static void ngx_http_caresync_redis_post(ngx_http_caresync_redis_t *rd);
static ngx_int_t ngx_http_caresync_redis_queue(ngx_http_caresync_redis_t *rd,
    ngx_http_caresync_redis_reply_pt fn, void *data);
static ngx_http_caresync_redis_wait_t ngx_http_caresync_redis_dequeue(
    ngx_http_caresync_redis_t *rd);
static ngx_int_t ngx_http_caresync_redis_setup_command(
    ngx_http_caresync_redis_t *rd, const char *name, ngx_str_t *arg);
static void ngx_http_caresync_redis_setup_reply(ngx_http_caresync_redis_t *rd,
    void *reply, void *data);
static void ngx_http_caresync_redis_ready(ngx_http_caresync_redis_t *rd);
static void *ngx_http_caresync_reply_string(const redisReadTask *task,
    char *str, size_t len);
static void *ngx_http_caresync_reply_array(const redisReadTask *task,
    int elements);
static void *ngx_http_caresync_reply_integer(const redisReadTask *task,
    long long value);
static void *ngx_http_caresync_reply_nil(const redisReadTask *task);
static ngx_int_t ngx_http_caresync_reply_count(const redisReadTask *task,
    size_t size);


static ngx_http_caresync_redis_t  ngx_http_caresync_redis;

/* what a command gets for a reply the reader refused */
static redisReply  ngx_http_caresync_redis_unreadable = {
    REDIS_REPLY_ERROR, 0, sizeof("ERR unreadable reply") - 1,
    "ERR unreadable reply", 0, NULL
};

/* apart from the connection's state, which init clears */
static ngx_http_caresync_redis_ready_pt  ngx_http_caresync_redis_on_ready;
static ngx_http_caresync_redis_event_pt  ngx_http_caresync_redis_on_event;

/* hiredis's own reply objects, counted against the bounds above */
static redisReplyObjectFunctions  *ngx_http_caresync_reply_default;
static redisReplyObjectFunctions   ngx_http_caresync_reply_functions = {
    ngx_http_caresync_reply_string,
    ngx_http_caresync_reply_array,
    ngx_http_caresync_reply_integer,
    ngx_http_caresync_reply_nil,
    NULL
};


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

    rd->setup_timer.handler = ngx_http_caresync_redis_setup_timeout;
    rd->setup_timer.data = rd;
    rd->setup_timer.log = cycle->log;
    rd->setup_timer.cancelable = 1;

    if (rcf->naddr.socklen) {
        ngx_memcpy(&rd->sockaddr, rcf->naddr.sockaddr, rcf->naddr.socklen);
        rd->socklen = rcf->naddr.socklen;
    }

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

    /* answers whatever is still pending with NULL */
    ngx_http_caresync_redis_close(rd);

    ngx_free(rd->out);
    ngx_free(rd->wait);
    rd->out = NULL;
    rd->wait = NULL;
}


/*
 * The connection to send a command on, or NULL while there is none.  A
 * connection that is still connecting takes commands: they leave, after
 * AUTH and SELECT, once it is up.
 */

ngx_http_caresync_redis_t *
ngx_http_caresync_redis_get(void)
{
    ngx_http_caresync_redis_t  *rd = &ngx_http_caresync_redis;

    return rd->c ? rd : NULL;
}


/*
 * Queues one command that the caller wrote in RESP, as pieces that are
 * copied once, into the buffer that is written to the socket; a large
 * argument is never formatted or copied twice.  fn gets the command's
 * reply, or NULL when the connection goes first.
 *
 * ngx_http_caresync_redis_reserve() makes room for several commands that
 * must go together (a transaction): once it succeeded, the sends that
 * fit in it cannot fail half-way.
 */

ngx_int_t
ngx_http_caresync_redis_reserve(ngx_http_caresync_redis_t *rd, size_t size)
{
    u_char  *out;
    size_t   want;

    if (rd->c == NULL) {
        return NGX_ERROR;
    }

    if (rd->sent && rd->sent == rd->len) {
        rd->sent = 0;
        rd->len = 0;
    }

    if (rd->len + size <= rd->size) {
        return NGX_OK;
    }

    want = ngx_max(rd->size * 2, rd->len + size);
    want = ngx_max(want, 4096);

    out = ngx_alloc(want, rd->log);
    if (out == NULL) {
        return NGX_ERROR;       /* the buffer is as it was */
    }

    /* the bytes a TLS write may retry stay at the same offsets */
    if (rd->len) {
        ngx_memcpy(out, rd->out, rd->len);
    }

    ngx_free(rd->out);

    rd->out = out;
    rd->size = want;

    return NGX_OK;
}


ngx_int_t
ngx_http_caresync_redis_send(ngx_http_caresync_redis_t *rd,
    ngx_http_caresync_redis_reply_pt fn, void *data, ngx_str_t *parts,
    ngx_uint_t n)
{
    size_t      size;
    ngx_uint_t  i;

    size = 0;

    for (i = 0; i < n; i++) {
        size += parts[i].len;
    }

    if (ngx_http_caresync_redis_reserve(rd, size) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_caresync_redis_queue(rd, fn, data) != NGX_OK) {
        return NGX_ERROR;
    }

    /* with the room made, no append can fail */

    for (i = 0; i < n; i++) {
        if (parts[i].len) {
            ngx_memcpy(rd->out + rd->len, parts[i].data, parts[i].len);
            rd->len += parts[i].len;
        }
    }

    ngx_http_caresync_redis_post(rd);

    return NGX_OK;
}


/*
 * Gives the connection up: every command on it is answered as lost
 * (NULL), and a new connection follows.
 */

void
ngx_http_caresync_redis_drop(void)
{
    ngx_http_caresync_redis_close(&ngx_http_caresync_redis);
}


static ngx_int_t
ngx_http_caresync_redis_queue(ngx_http_caresync_redis_t *rd,
    ngx_http_caresync_redis_reply_pt fn, void *data)
{
    ngx_uint_t                       i, nalloc;
    ngx_http_caresync_redis_wait_t  *wait;

    if (rd->n == rd->nalloc) {
        nalloc = rd->nalloc ? rd->nalloc * 2 : 64;

        wait = ngx_alloc(nalloc * sizeof(ngx_http_caresync_redis_wait_t),
                         rd->log);
        if (wait == NULL) {
            return NGX_ERROR;
        }

        for (i = 0; i < rd->n; i++) {
            wait[i] = rd->wait[(rd->head + i) % rd->nalloc];
        }

        ngx_free(rd->wait);

        rd->wait = wait;
        rd->head = 0;
        rd->nalloc = nalloc;
    }

    wait = &rd->wait[(rd->head + rd->n) % rd->nalloc];
    wait->fn = fn;
    wait->data = data;
    rd->n++;

    return NGX_OK;
}


/* The oldest command waiting: Redis answers in the order it was sent. */

static ngx_http_caresync_redis_wait_t
ngx_http_caresync_redis_dequeue(ngx_http_caresync_redis_t *rd)
{
    ngx_http_caresync_redis_wait_t  w;

    w = rd->wait[rd->head];
    rd->head = (rd->head + 1) % rd->nalloc;
    rd->n--;

    return w;
}


static void
ngx_http_caresync_redis_connect(ngx_event_t *ev)
{
    ngx_http_caresync_redis_t  *rd = ev->data;

    ngx_resolver_ctx_t              *ctx;
    ngx_http_caresync_redis_conf_t  *rcf;

    rcf = rd->conf;

    if (rd->exiting || ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    if (rcf->sentinels) {
        rd->asking = 1;
        ngx_http_caresync_sentinel_ask(rcf, rd->log,
                                       ngx_http_caresync_redis_primary, rd);
        return;
    }

    if (rcf->resolver == NULL) {
        ngx_http_caresync_redis_connect_peer(rd);
        return;
    }

    /* a name: asked again on every connect, so that a DNS failover is
     * followed without a reload */

    ctx = ngx_resolve_start(rcf->resolver, NULL);
    if (ctx == NULL || ctx == NGX_NO_RESOLVER) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis: cannot resolve \"%V\"", &rcf->host);
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    ctx->name = rcf->host;
    ctx->handler = ngx_http_caresync_redis_resolved;
    ctx->data = rd;
    ctx->timeout = rcf->resolver_timeout;
    ctx->cancelable = 1;

    rd->resolving = ctx;

    if (ngx_resolve_name(ctx) != NGX_OK) {
        rd->resolving = NULL;
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis: cannot resolve \"%V\"", &rcf->host);
        ngx_http_caresync_redis_fail(rd);
    }
}


static void
ngx_http_caresync_redis_resolved(ngx_resolver_ctx_t *ctx)
{
    ngx_http_caresync_redis_t  *rd = ctx->data;

    ngx_uint_t  i;

    rd->resolving = NULL;

    if (ctx->state || ctx->naddrs == 0) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis: \"%V\" could not be resolved "
                      "(%i: %s)", &ctx->name, ctx->state,
                      ngx_resolver_strerror(ctx->state));
        ngx_resolve_name_done(ctx);
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    /* the first IPv4 answer if there is one: loopback tests and managed
     * endpoints publish A records; else the first */

    for (i = 0; i < ctx->naddrs; i++) {
        if (ctx->addrs[i].sockaddr->sa_family == AF_INET) {
            break;
        }
    }

    if (i == ctx->naddrs) {
        i = 0;
    }

    ngx_memcpy(&rd->sockaddr, ctx->addrs[i].sockaddr, ctx->addrs[i].socklen);
    rd->socklen = ctx->addrs[i].socklen;
    ngx_inet_set_port(&rd->sockaddr.sockaddr, (in_port_t) rd->conf->port);

    ngx_resolve_name_done(ctx);

    ngx_http_caresync_redis_connect_peer(rd);
}


/* The sentinels have named the primary, or none of them could. */

static void
ngx_http_caresync_redis_primary(ngx_int_t rc, struct sockaddr *sockaddr,
    socklen_t socklen, void *data)
{
    ngx_http_caresync_redis_t  *rd = data;

    rd->asking = 0;

    if (rc != NGX_OK) {
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    ngx_memcpy(&rd->sockaddr, sockaddr, socklen);
    rd->socklen = socklen;

    ngx_http_caresync_redis_connect_peer(rd);
}


static void
ngx_http_caresync_redis_connect_peer(ngx_http_caresync_redis_t *rd)
{
    u_char                           buf[NGX_INT_T_LEN];
    ngx_int_t                        rc;
    ngx_str_t                        db;
    ngx_connection_t                *c;
    ngx_http_caresync_redis_conf_t  *rcf;

    rcf = rd->conf;

    ngx_memzero(&rd->pc, sizeof(ngx_peer_connection_t));

    rd->pc.sockaddr = &rd->sockaddr.sockaddr;
    rd->pc.socklen = rd->socklen;

    if (rcf->resolver || rcf->sentinels) {
        /* the address this connect found, in its log lines */
        rd->name.data = rd->text;
        rd->name.len = ngx_sock_ntop(&rd->sockaddr.sockaddr, rd->socklen,
                                     rd->text, NGX_SOCKADDR_STRLEN, 1);
    } else {
        rd->name = rcf->name;
    }

    rc = ngx_http_caresync_redis_peer(&rd->pc, &rd->name, rd->log, rd,
                                      ngx_http_caresync_redis_read_handler,
                                      ngx_http_caresync_redis_connected);

    if (rc == NGX_ERROR) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis connect to %V failed", &rd->name);
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    c = rd->pc.connection;
    rd->c = c;

    /* nginx's SSL layer keeps its state in the connection's pool */
    c->pool = ngx_create_pool(1024, rd->log);
    if (c->pool == NULL) {
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    rd->generation++;
    rd->ready = 0;
    rd->open = 0;
    rd->sent = 0;
    rd->len = 0;
    rd->reply_size = 0;

    rd->reader = ngx_http_caresync_redis_reader(&rd->reply_size);
    if (rd->reader == NULL) {
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    /* queued first, before any command of the layers above */

    rd->setup = 0;

    if (rcf->password.len
        && ngx_http_caresync_redis_setup_command(rd, "AUTH", &rcf->password)
           != NGX_OK)
    {
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    if (rcf->db) {
        db.data = buf;
        db.len = ngx_sprintf(buf, "%i", rcf->db) - buf;

        if (ngx_http_caresync_redis_setup_command(rd, "SELECT", &db)
            != NGX_OK)
        {
            ngx_http_caresync_redis_fail(rd);
            return;
        }
    }

    /* a sentinel may name a node that is no primary (yet, or any more) */
    if (rcf->sentinels && ngx_http_caresync_redis_setup_command(rd, "ROLE",
                                                                NULL)
                          != NGX_OK)
    {
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    /*
     * With TLS, a server that wants a client certificate says so after
     * TLS 1.3's handshake has ended: a PING turns that into a refusal
     * here, not a lost first command.
     */
    if (rcf->ssl && ngx_http_caresync_redis_setup_command(rd, "PING", NULL)
                    != NGX_OK)
    {
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    /* connect, handshake, AUTH and SELECT, bounded together */
    rd->step = "connect";
    ngx_add_timer(&rd->setup_timer, rcf->connect_timeout);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->log, 0,
                   "caresync: redis connecting, fd:%d", c->fd);

    if (rc == NGX_OK) {
        ngx_http_caresync_redis_connected(c->write);
    }
}


/*
 * A non-blocking connect on nginx's peer connection, for the node and for
 * the sentinels: NGX_OK (connected), NGX_AGAIN (the write handler says
 * when), or NGX_ERROR, with nothing left open.  pc has the address.
 */

ngx_int_t
ngx_http_caresync_redis_peer(ngx_peer_connection_t *pc, ngx_str_t *name,
    ngx_log_t *log, void *data, ngx_event_handler_pt read,
    ngx_event_handler_pt write)
{
    ngx_int_t          rc;
    ngx_connection_t  *c;

    pc->name = name;
    pc->get = ngx_event_get_peer;
    pc->log = log;
    pc->log_error = NGX_ERROR_ERR;
    pc->tries = 1;

    rc = ngx_event_connect_peer(pc);

    if (rc != NGX_OK && rc != NGX_AGAIN) {
        if (pc->connection) {
            ngx_close_connection(pc->connection);
            pc->connection = NULL;
        }

        return NGX_ERROR;
    }

    c = pc->connection;
    c->data = data;
    c->log = log;
    c->read->log = log;
    c->write->log = log;
    c->read->handler = read;
    c->write->handler = write;

    return rc;
}


/* What connect(2) ended with: 0, or the error. */

ngx_err_t
ngx_http_caresync_redis_connect_error(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    return err;
}


/* connect(2) has ended, one way or the other */

static void
ngx_http_caresync_redis_connected(ngx_event_t *wev)
{
    ngx_connection_t           *c = wev->data;
    ngx_http_caresync_redis_t  *rd = c->data;

    ngx_err_t  err;

    err = ngx_http_caresync_redis_connect_error(c);

    if (err) {
        ngx_log_error(NGX_LOG_ERR, rd->log, err,
                      "caresync: redis connect to %V failed",
                      &rd->name);
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    c->write->handler = ngx_http_caresync_redis_write_handler;

    /*
     * A group leaves in one write, often while the previous one's reply
     * is still due: with Nagle's algorithm on, the kernel would hold it
     * until that ACK came back, a wait every pipelined group would pay.
     * hiredis set this on its own socket; now the socket is nginx's.
     */

    if (rd->pc.sockaddr->sa_family != AF_UNIX) {
        if (ngx_tcp_nodelay(c) != NGX_OK) {
            ngx_http_caresync_redis_fail(rd);
            return;
        }

    } else {
        c->tcp_nodelay = NGX_TCP_NODELAY_DISABLED;
    }

#if (NGX_HTTP_SSL)

    if (rd->conf->ssl) {
        ngx_int_t  rc;

        if (ngx_ssl_create_connection(rd->conf->ssl, c, NGX_SSL_BUFFER
                                                        |NGX_SSL_CLIENT)
            != NGX_OK)
        {
            ngx_http_caresync_redis_fail(rd);
            return;
        }

        /* SNI carries names only, never an address */
        if (!rd->conf->tls_ip
            && SSL_set_tlsext_host_name(c->ssl->connection,
                                        (char *) rd->conf->tls_name.data)
               == 0)
        {
            ngx_ssl_error(NGX_LOG_ERR, rd->log, 0,
                          "caresync: redis: SSL_set_tlsext_host_name "
                          "failed");
            ngx_http_caresync_redis_fail(rd);
            return;
        }

        rd->step = "TLS handshake";

        rc = ngx_ssl_handshake(c);

        if (rc == NGX_AGAIN) {
            c->ssl->handler = ngx_http_caresync_redis_handshaked;
            return;
        }

        ngx_http_caresync_redis_handshaked(c);
        return;
    }

#endif

    ngx_http_caresync_redis_open(rd);
}


#if (NGX_HTTP_SSL)

/*
 * The handshake has ended: the certificate must chain to the trusted CA
 * and name the host (or caresync_redis_tls_name); anything else is
 * refused, never carried on in the clear.
 */

static void
ngx_http_caresync_redis_handshaked(ngx_connection_t *c)
{
    ngx_http_caresync_redis_t  *rd = c->data;

    long  rc;

    if (!c->ssl->handshaked) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis TLS handshake with %V failed",
                      &rd->name);
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis TLS: certificate of %V refused: "
                      "(%l:%s)", &rd->name, rc,
                      X509_verify_cert_error_string(rc));
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    if (ngx_http_caresync_redis_check_name(c, rd->conf) != NGX_OK) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis TLS: certificate of %V does not "
                      "name \"%V\"", &rd->name, &rd->conf->tls_name);
        ngx_http_caresync_redis_fail(rd);
        return;
    }

    c->read->handler = ngx_http_caresync_redis_read_handler;
    c->write->handler = ngx_http_caresync_redis_write_handler;

    ngx_http_caresync_redis_open(rd);
}



/*
 * nginx's check is for host names; a Redis named by its address has a
 * certificate that names that address (an IP subjectAltName).
 */

static ngx_int_t
ngx_http_caresync_redis_check_name(ngx_connection_t *c,
    ngx_http_caresync_redis_conf_t *rcf)
{
    int    rc;
    X509  *cert;

    if (!rcf->tls_ip) {
        return ngx_ssl_check_host(c, &rcf->tls_name);
    }

#if (OPENSSL_VERSION_NUMBER >= 0x30000000L)
    cert = SSL_get1_peer_certificate(c->ssl->connection);
#else
    cert = SSL_get_peer_certificate(c->ssl->connection);
#endif

    if (cert == NULL) {
        return NGX_ERROR;
    }

    rc = X509_check_ip_asc(cert, (char *) rcf->tls_name.data, 0);

    X509_free(cert);

    return rc == 1 ? NGX_OK : NGX_ERROR;
}

#endif


/* the connection may carry bytes: AUTH, SELECT and what waits leave */

static void
ngx_http_caresync_redis_open(ngx_http_caresync_redis_t *rd)
{
    rd->open = 1;
    rd->step = "AUTH/SELECT";

    if (rd->connected_once && ngx_http_caresync_redis_on_event) {
        ngx_http_caresync_redis_on_event(1);
    }

    rd->connected_once = 1;

    if (rd->setup == 0) {
        ngx_http_caresync_redis_ready(rd);

        if (rd->c == NULL) {
            return;
        }
    }

    ngx_http_caresync_redis_flush(rd);

    if (rd->c && rd->c->read->ready) {
        ngx_http_caresync_redis_read_handler(rd->c->read);
    }
}


static void
ngx_http_caresync_redis_setup_timeout(ngx_event_t *ev)
{
    ngx_http_caresync_redis_t  *rd = ev->data;

    ngx_log_error(NGX_LOG_ERR, rd->log, NGX_ETIMEDOUT,
                  "caresync: redis %s with %V timed out", rd->step,
                  &rd->name);

    ngx_http_caresync_redis_fail(rd);
}


/* A connection could not be made: say so, and try again later. */

static void
ngx_http_caresync_redis_fail(ngx_http_caresync_redis_t *rd)
{
    if (ngx_http_caresync_redis_on_event) {
        ngx_http_caresync_redis_on_event(0);
    }

    if (rd->c) {
        ngx_http_caresync_redis_close(rd);
        return;
    }

    ngx_http_caresync_redis_schedule(rd);
}


static void
ngx_http_caresync_redis_close(ngx_http_caresync_redis_t *rd)
{
    ngx_connection_t                *c;
    ngx_http_caresync_redis_wait_t   w;

    if (rd->resolving) {
        ngx_resolve_name_done(rd->resolving);
        rd->resolving = NULL;
    }

    if (rd->asking) {
        ngx_http_caresync_sentinel_cancel();
        rd->asking = 0;
    }

    if (rd->setup_timer.timer_set) {
        ngx_del_timer(&rd->setup_timer);
    }

    c = rd->c;

    if (c == NULL) {
        return;
    }

    rd->c = NULL;
    rd->open = 0;
    rd->ready = 0;
    rd->generation++;

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
#endif

    if (c->pool) {
        ngx_destroy_pool(c->pool);
        c->pool = NULL;
    }

    ngx_close_connection(c);

    if (rd->reader) {
        redisReaderFree(rd->reader);
        rd->reader = NULL;
    }

    /* what was not sent may hold AUTH's password */
    if (rd->len) {
        ngx_explicit_memzero(rd->out, rd->len);
    }

    rd->sent = 0;
    rd->len = 0;

    /* the layers above hear of every command lost, in order; one may
     * send again: get() says there is no connection */

    while (rd->n) {
        w = ngx_http_caresync_redis_dequeue(rd);

        w.fn(rd, NULL, w.data);
    }

    ngx_http_caresync_redis_schedule(rd);
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

    void                            *reply;
    ssize_t                          n;
    ngx_uint_t                       generation, demoted;
    ngx_http_caresync_redis_wait_t   w;

    static u_char                    buf[16384];

    if (!rd->open) {
        return;                 /* the handshake reads for itself */
    }

    generation = rd->generation;

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "caresync: redis connection lost: %s",
                          n == 0 ? "closed by the server" : "read error");
            ngx_http_caresync_redis_close(rd);
            return;
        }

        if (redisReaderFeed(rd->reader, (char *) buf, n) != REDIS_OK) {
            goto broken;
        }

        for ( ;; ) {
            reply = NULL;

            if (redisReaderGetReply(rd->reader, &reply) != REDIS_OK) {
                goto broken;
            }

            if (reply == NULL) {
                break;
            }

            rd->reply_size = 0;

            if (rd->n == 0) {
                freeReplyObject(reply);
                ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                              "caresync: redis sent a reply nothing "
                              "asked for");
                ngx_http_caresync_redis_close(rd);
                return;
            }

            w = ngx_http_caresync_redis_dequeue(rd);

            demoted = ngx_http_caresync_redis_demoted(reply);

            w.fn(rd, reply, w.data);

            freeReplyObject(reply);

            if (rd->generation != generation) {
                return;         /* the connection was given up meanwhile */
            }

            if (demoted) {
                /* a failover: find the primary again (name, sentinels) */
                ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                              "caresync: redis %V is no primary now "
                              "(READONLY, LOADING or MASTERDOWN): "
                              "reconnecting", &rd->name);
                ngx_http_caresync_redis_close(rd);
                return;
            }
        }

        /* a reply still incomplete may not grow past the bound either */
        if (rd->reader->len - rd->reader->pos > NGX_HTTP_CARESYNC_REPLY_MAX) {
            rd->reply_size = NGX_HTTP_CARESYNC_REPLY_MAX + 1;
            goto broken;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_caresync_redis_close(rd);
    }

    return;

broken:

    if (rd->reply_size > NGX_HTTP_CARESYNC_REPLY_MAX) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis reply past the bounds (%uz bytes, "
                      "%ui items, %ui levels): dropping the connection",
                      (size_t) NGX_HTTP_CARESYNC_REPLY_MAX,
                      (ngx_uint_t) NGX_HTTP_CARESYNC_REPLY_ITEMS,
                      (ngx_uint_t) NGX_HTTP_CARESYNC_REPLY_DEPTH);

    } else {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis protocol error: %s",
                      rd->reader->errstr);
    }

    /*
     * The command whose reply this was gets an error, not a lost
     * connection: sent again, it would only get the same reply.
     */

    if (rd->n) {
        w = ngx_http_caresync_redis_dequeue(rd);

        w.fn(rd, &ngx_http_caresync_redis_unreadable, w.data);

        if (rd->generation != generation) {
            return;
        }
    }

    ngx_http_caresync_redis_close(rd);
}


static void
ngx_http_caresync_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t           *c = wev->data;
    ngx_http_caresync_redis_t  *rd = c->data;

    ngx_http_caresync_redis_flush(rd);
}


static void
ngx_http_caresync_redis_flush(ngx_http_caresync_redis_t *rd)
{
    ssize_t            n;
    ngx_connection_t  *c;

    c = rd->c;

    if (c == NULL || !rd->open) {
        return;
    }

    while (rd->sent < rd->len) {
        n = c->send(c, rd->out + rd->sent, rd->len - rd->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(c->write, 0) != NGX_OK) {
                ngx_http_caresync_redis_close(rd);
            }
            return;
        }

        if (n == NGX_ERROR) {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "caresync: redis connection lost: write error");
            ngx_http_caresync_redis_close(rd);
            return;
        }

        rd->sent += n;
    }

    if (!rd->ready && rd->len) {
        /* what left during the setup held AUTH's password */
        ngx_explicit_memzero(rd->out, rd->len);
    }

    rd->sent = 0;
    rd->len = 0;

    /* a burst's buffer is not kept at rest */
    if (rd->size > NGX_HTTP_CARESYNC_OUT_KEEP) {
        ngx_free(rd->out);
        rd->out = NULL;
        rd->size = 0;
    }

    if (!(ngx_event_flags & NGX_USE_CLEAR_EVENT) && c->write->active) {
        /* level-triggered methods would report writability forever */
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/*
 * A command has been queued: flush after this loop iteration, so that
 * commands from every request handled meanwhile share one write.
 */

static void
ngx_http_caresync_redis_post(ngx_http_caresync_redis_t *rd)
{
    ngx_event_t  *wev;

    if (!rd->open) {
        return;                 /* the connect or the handshake flushes */
    }

    wev = rd->c->write;

    if (wev->ready && !wev->posted) {
        ngx_post_event(wev, &ngx_posted_events);
    }
}


static ngx_int_t
ngx_http_caresync_redis_setup_command(ngx_http_caresync_redis_t *rd,
    const char *name, ngx_str_t *arg)
{
    u_char     *p;
    size_t      len;
    ngx_int_t   rc;
    ngx_str_t   part;

    len = ngx_strlen(name);

    p = ngx_alloc(sizeof("*2\r\n$20\r\n\r\n$20\r\n\r\n") + len
                  + (arg ? arg->len : 0), rd->log);
    if (p == NULL) {
        return NGX_ERROR;
    }

    part.data = p;

    if (arg) {
        p = ngx_sprintf(p, "*2\r\n$%uz\r\n%s\r\n$%uz\r\n", len, name,
                        arg->len);
        p = ngx_cpymem(p, arg->data, arg->len);
        *p++ = CR; *p++ = LF;

    } else {
        p = ngx_sprintf(p, "*1\r\n$%uz\r\n%s\r\n", len, name);
    }

    part.len = p - part.data;

    rd->setup++;

    rc = ngx_http_caresync_redis_send(rd, ngx_http_caresync_redis_setup_reply,
                                      (void *) name, &part, 1);

    /* it may hold the password */
    ngx_explicit_memzero(part.data, part.len);
    ngx_free(part.data);

    return rc;
}


static void
ngx_http_caresync_redis_setup_reply(ngx_http_caresync_redis_t *rd,
    void *reply, void *data)
{
    redisReply  *rr = reply;

    if (rr == NULL) {
        return;
    }

    if (rr->type == REDIS_REPLY_ARRAY && ngx_strcmp(data, "ROLE") == 0
        && (rr->elements == 0
            || rr->element[0]->type != REDIS_REPLY_STRING
            || rr->element[0]->len != 6
            || ngx_strncmp(rr->element[0]->str, "master", 6) != 0))
    {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "caresync: redis %V is no primary: asking the "
                      "sentinels again", &rd->name);
        ngx_http_caresync_redis_fail(rd);
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
                  "caresync: redis %s failed: %*s", (char *) data,
                  (size_t) rr->len, rr->str);

    ngx_http_caresync_redis_fail(rd);
}


/*
 * Only a connection that took our AUTH and SELECT resets the backoff: a
 * wrong password must not turn into a reconnect every few milliseconds.
 */

static void
ngx_http_caresync_redis_ready(ngx_http_caresync_redis_t *rd)
{
    rd->backoff = NGX_HTTP_CARESYNC_BACKOFF_MIN;
    rd->ready = 1;

    if (rd->setup_timer.timer_set) {
        ngx_del_timer(&rd->setup_timer);
    }

    ngx_log_error(NGX_LOG_INFO, rd->log, 0, "caresync: redis connected");

    if (ngx_http_caresync_redis_on_ready) {
        ngx_http_caresync_redis_on_ready(rd);
    }
}


/*
 * A reply that says the node is no primary any more: a replica refuses
 * writes (READONLY, or MASTERDOWN when it serves nothing stale), a node
 * loading its data refuses everything (LOADING); inside a transaction the
 * error is one of EXEC's.
 */

static ngx_uint_t
ngx_http_caresync_redis_demoted(redisReply *rr)
{
    size_t       i;
    redisReply  *e;

    for (i = 0; i < (rr->type == REDIS_REPLY_ARRAY ? rr->elements : 1); i++) {
        e = (rr->type == REDIS_REPLY_ARRAY) ? rr->element[i] : rr;

        if (e->type == REDIS_REPLY_ERROR
            && ((e->len >= 8 && ngx_strncmp(e->str, "READONLY", 8) == 0)
                || (e->len >= 7 && ngx_strncmp(e->str, "LOADING", 7) == 0)
                || (e->len >= 10
                    && ngx_strncmp(e->str, "MASTERDOWN", 10) == 0)))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * A reader of replies whose objects are hiredis's own, counted first, so
 * that a reply is refused once it is deeper, longer or larger than any
 * the module asks for, before anything is allocated for it.  *size counts
 * the reply being read; its owner sets it to 0 after each reply.
 */

redisReader *
ngx_http_caresync_redis_reader(size_t *size)
{
    redisReader  *reader;

    reader = redisReaderCreate();
    if (reader == NULL) {
        return NULL;
    }

    if (ngx_http_caresync_reply_default == NULL) {
        ngx_http_caresync_reply_default = reader->fn;
        ngx_http_caresync_reply_functions.freeObject = reader->fn->freeObject;
    }

    reader->fn = &ngx_http_caresync_reply_functions;
    reader->privdata = size;
    *size = 0;

    return reader;
}


static ngx_int_t
ngx_http_caresync_reply_count(const redisReadTask *task, size_t size)
{
    size_t               *total = task->privdata;

    ngx_uint_t            depth;
    const redisReadTask  *t;

    depth = 0;

    for (t = task->parent; t; t = t->parent) {
        depth++;
    }

    *total += size + sizeof(redisReply);

    if (depth > NGX_HTTP_CARESYNC_REPLY_DEPTH
        || *total > NGX_HTTP_CARESYNC_REPLY_MAX)
    {
        /* past the bound whatever the reason: the owner says so */
        *total = NGX_HTTP_CARESYNC_REPLY_MAX + 1;
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void *
ngx_http_caresync_reply_string(const redisReadTask *task, char *str,
    size_t len)
{
    if (ngx_http_caresync_reply_count(task, len) != NGX_OK) {
        return NULL;
    }

    return ngx_http_caresync_reply_default->createString(task, str, len);
}


static void *
ngx_http_caresync_reply_array(const redisReadTask *task, int elements)
{
    size_t  *total = task->privdata;

    if (elements > NGX_HTTP_CARESYNC_REPLY_ITEMS) {
        *total = NGX_HTTP_CARESYNC_REPLY_MAX + 1;
        return NULL;
    }

    if (ngx_http_caresync_reply_count(task, elements * sizeof(redisReply *))
        != NGX_OK)
    {
        return NULL;
    }

    return ngx_http_caresync_reply_default->createArray(task, elements);
}


static void *
ngx_http_caresync_reply_integer(const redisReadTask *task, long long value)
{
    if (ngx_http_caresync_reply_count(task, 0) != NGX_OK) {
        return NULL;
    }

    return ngx_http_caresync_reply_default->createInteger(task, value);
}


static void *
ngx_http_caresync_reply_nil(const redisReadTask *task)
{
    if (ngx_http_caresync_reply_count(task, 0) != NGX_OK) {
        return NULL;
    }

    return ngx_http_caresync_reply_default->createNil(task);
}
