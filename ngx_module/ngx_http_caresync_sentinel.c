/*
 * Which node is the primary, asked of Redis Sentinel (caresync_redis_
 * sentinel), non-blocking, before every connect of redis.c.
 *
 * The sentinels are asked in turn, starting with the one that answered
 * last, each on a connection of its own bounded by min(connect_timeout,
 * 1 s): "SENTINEL get-master-addr-by-name <master>".  The first to name an
 * address wins; redis.c then checks with ROLE that the node is a primary
 * (a sentinel may be behind) and asks again whenever the connection is
 * lost or the node answers READONLY or LOADING.
 */


#include "ngx_http_caresync.h"


#define NGX_HTTP_CARESYNC_SENTINEL_TIMEOUT  1000
#define NGX_HTTP_CARESYNC_SENTINEL_REPLY    1024


typedef struct {
    ngx_http_caresync_redis_conf_t     *conf;
    ngx_http_caresync_sentinel_pt       handler;
    void                               *data;
    ngx_log_t                          *log;
    ngx_peer_connection_t               pc;
    ngx_connection_t                   *c;
    redisReader                        *reader;
    ngx_event_t                         timer;
    ngx_uint_t                          current;  /* the one asked */
    ngx_uint_t                          tried;    /* this round */
    size_t                              reply_size;
    size_t                              sent;
    u_char                              request[256 + NGX_INT_T_LEN * 3];
    size_t                              len;
} ngx_http_caresync_sentinel_t;


static void ngx_http_caresync_sentinel_next(
    ngx_http_caresync_sentinel_t *st);
static void ngx_http_caresync_sentinel_failed(
    ngx_http_caresync_sentinel_t *st, const char *why);
static void ngx_http_caresync_sentinel_close(
    ngx_http_caresync_sentinel_t *st);
static void ngx_http_caresync_sentinel_write(ngx_event_t *wev);
static void ngx_http_caresync_sentinel_read(ngx_event_t *rev);
static void ngx_http_caresync_sentinel_timeout(ngx_event_t *ev);
static ngx_int_t ngx_http_caresync_sentinel_answer(
    ngx_http_caresync_sentinel_t *st, redisReply *rr);


static ngx_http_caresync_sentinel_t  ngx_http_caresync_sentinel;


/*
 * Asks for the primary; handler gets NGX_OK and the address, or
 * NGX_ERROR once every sentinel was asked in vain.  One question at a
 * time: the per-worker connection asks before each connect.
 */

void
ngx_http_caresync_sentinel_ask(ngx_http_caresync_redis_conf_t *rcf,
    ngx_log_t *log, ngx_http_caresync_sentinel_pt handler, void *data)
{
    u_char                        *p;
    ngx_http_caresync_sentinel_t  *st = &ngx_http_caresync_sentinel;

    if (st->conf != rcf) {
        ngx_memzero(st, sizeof(ngx_http_caresync_sentinel_t));
        st->conf = rcf;
    }

    st->handler = handler;
    st->data = data;
    st->log = log;
    st->tried = 0;

    st->timer.handler = ngx_http_caresync_sentinel_timeout;
    st->timer.data = st;
    st->timer.log = log;
    st->timer.cancelable = 1;

    /* the master's name is bounded at configuration time */
    p = ngx_sprintf(st->request,
                    "*3\r\n$8\r\nSENTINEL\r\n$23\r\nget-master-addr-by-name"
                    "\r\n$%uz\r\n%V\r\n", rcf->master.len, &rcf->master);
    st->len = p - st->request;

    ngx_http_caresync_sentinel_next(st);
}


void
ngx_http_caresync_sentinel_cancel(void)
{
    ngx_http_caresync_sentinel_t  *st = &ngx_http_caresync_sentinel;

    ngx_http_caresync_sentinel_close(st);
    st->handler = NULL;
}


static void
ngx_http_caresync_sentinel_next(ngx_http_caresync_sentinel_t *st)
{
    ngx_int_t          rc;
    ngx_addr_t        *addr;
    ngx_connection_t  *c;

    addr = st->conf->sentinels->elts;
    addr = &addr[st->current];

    ngx_memzero(&st->pc, sizeof(ngx_peer_connection_t));

    st->pc.sockaddr = addr->sockaddr;
    st->pc.socklen = addr->socklen;

    rc = ngx_http_caresync_redis_peer(&st->pc, &addr->name, st->log, st,
                                      ngx_http_caresync_sentinel_read,
                                      ngx_http_caresync_sentinel_write);

    if (rc == NGX_ERROR) {
        ngx_http_caresync_sentinel_failed(st, "cannot connect");
        return;
    }

    c = st->pc.connection;
    st->c = c;
    st->sent = 0;

    st->reader = ngx_http_caresync_redis_reader(&st->reply_size);
    if (st->reader == NULL) {
        ngx_http_caresync_sentinel_failed(st, "out of memory");
        return;
    }

    ngx_add_timer(&st->timer, ngx_min(st->conf->connect_timeout,
                                      NGX_HTTP_CARESYNC_SENTINEL_TIMEOUT));

    if (rc == NGX_OK) {
        ngx_http_caresync_sentinel_write(c->write);
    }
}


/* This sentinel did not say: the next one, or give up for this round. */

static void
ngx_http_caresync_sentinel_failed(ngx_http_caresync_sentinel_t *st,
    const char *why)
{
    ngx_addr_t                     *addr;
    ngx_http_caresync_sentinel_pt   handler;

    addr = st->conf->sentinels->elts;

    ngx_log_error(NGX_LOG_WARN, st->log, 0,
                  "caresync: redis sentinel %V: %s",
                  &addr[st->current].name, why);

    ngx_http_caresync_sentinel_close(st);

    st->current = (st->current + 1) % st->conf->sentinels->nelts;

    if (++st->tried < st->conf->sentinels->nelts) {
        ngx_http_caresync_sentinel_next(st);
        return;
    }

    ngx_log_error(NGX_LOG_ERR, st->log, 0,
                  "caresync: redis: no sentinel named a primary for "
                  "\"%V\"", &st->conf->master);

    handler = st->handler;
    st->handler = NULL;

    if (handler) {
        handler(NGX_ERROR, NULL, 0, st->data);
    }
}


static void
ngx_http_caresync_sentinel_close(ngx_http_caresync_sentinel_t *st)
{
    if (st->timer.timer_set) {
        ngx_del_timer(&st->timer);
    }

    if (st->c) {
        ngx_close_connection(st->c);
        st->c = NULL;
    }

    if (st->reader) {
        redisReaderFree(st->reader);
        st->reader = NULL;
    }
}


static void
ngx_http_caresync_sentinel_write(ngx_event_t *wev)
{
    ngx_connection_t              *c = wev->data;
    ngx_http_caresync_sentinel_t  *st = c->data;

    ssize_t  n;

    if (st->sent == 0 && ngx_http_caresync_redis_connect_error(c)) {
        ngx_http_caresync_sentinel_failed(st, "cannot connect");
        return;
    }

    while (st->sent < st->len) {
        n = c->send(c, st->request + st->sent, st->len - st->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_caresync_sentinel_failed(st, "write event failed");
            }
            return;
        }

        if (n == NGX_ERROR) {
            ngx_http_caresync_sentinel_failed(st, "write error");
            return;
        }

        st->sent += n;
    }

    if (c->read->ready) {
        ngx_http_caresync_sentinel_read(c->read);
    }
}


static void
ngx_http_caresync_sentinel_read(ngx_event_t *rev)
{
    ngx_connection_t              *c = rev->data;
    ngx_http_caresync_sentinel_t  *st = c->data;

    void     *reply;
    u_char    buf[NGX_HTTP_CARESYNC_SENTINEL_REPLY];
    ssize_t   n;

    if (st->sent < st->len) {
        return;
    }

    for ( ;; ) {
        n = c->recv(c, buf, sizeof(buf));

        if (n == NGX_AGAIN) {
            break;
        }

        if (n == 0 || n == NGX_ERROR) {
            ngx_http_caresync_sentinel_failed(st, "connection lost");
            return;
        }

        if (redisReaderFeed(st->reader, (char *) buf, n) != REDIS_OK) {
            ngx_http_caresync_sentinel_failed(st, "protocol error");
            return;
        }

        reply = NULL;

        if (redisReaderGetReply(st->reader, &reply) != REDIS_OK) {
            ngx_http_caresync_sentinel_failed(st, "protocol error");
            return;
        }

        if (reply) {
            n = ngx_http_caresync_sentinel_answer(st, reply);
            freeReplyObject(reply);

            if (n != NGX_OK) {
                ngx_http_caresync_sentinel_failed(st, "named no primary");
            }

            return;
        }

        /* the answer is two short strings: more is no sentinel's */
        if (st->reader->len > NGX_HTTP_CARESYNC_SENTINEL_REPLY) {
            ngx_http_caresync_sentinel_failed(st, "answer too long");
            return;
        }
    }

    if (ngx_handle_read_event(rev, 0) != NGX_OK) {
        ngx_http_caresync_sentinel_failed(st, "read event failed");
    }
}


static void
ngx_http_caresync_sentinel_timeout(ngx_event_t *ev)
{
    ngx_http_caresync_sentinel_failed(ev->data, "timed out");
}


/* ["ip", "port"]: the primary, as an address (never a name to resolve) */

static ngx_int_t
ngx_http_caresync_sentinel_answer(ngx_http_caresync_sentinel_t *st,
    redisReply *rr)
{
    ngx_int_t                       port;
    socklen_t                       socklen;
    ngx_sockaddr_t                  sa;
    ngx_http_caresync_sentinel_pt   handler;

    if (rr->type != REDIS_REPLY_ARRAY || rr->elements != 2
        || rr->element[0]->type != REDIS_REPLY_STRING
        || rr->element[1]->type != REDIS_REPLY_STRING)
    {
        return NGX_ERROR;
    }

    port = ngx_atoi((u_char *) rr->element[1]->str, rr->element[1]->len);

    if (port < 1 || port > 65535) {
        return NGX_ERROR;
    }

    if (ngx_http_caresync_sentinel_addr(&sa, &socklen,
                                        (u_char *) rr->element[0]->str,
                                        rr->element[0]->len)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_inet_set_port(&sa.sockaddr, (in_port_t) port);

    ngx_http_caresync_sentinel_close(st);

    handler = st->handler;
    st->handler = NULL;

    if (handler) {
        handler(NGX_OK, &sa.sockaddr, socklen, st->data);
    }

    return NGX_OK;
}


/* an IP address's text into a socket address, with no allocation */

ngx_int_t
ngx_http_caresync_sentinel_addr(ngx_sockaddr_t *sa, socklen_t *socklen,
    u_char *text, size_t len)
{
    in_addr_t  inaddr;

    ngx_memzero(sa, sizeof(ngx_sockaddr_t));

    inaddr = ngx_inet_addr(text, len);

    if (inaddr != INADDR_NONE) {
        sa->sockaddr_in.sin_family = AF_INET;
        sa->sockaddr_in.sin_addr.s_addr = inaddr;
        *socklen = sizeof(struct sockaddr_in);
        return NGX_OK;
    }

#if (NGX_HAVE_INET6)
    if (ngx_inet6_addr(text, len, sa->sockaddr_in6.sin6_addr.s6_addr)
        == NGX_OK)
    {
        sa->sockaddr_in6.sin6_family = AF_INET6;
        *socklen = sizeof(struct sockaddr_in6);
        return NGX_OK;
    }
#endif

    return NGX_ERROR;
}


/*
 * caresync_redis_sentinel address:port ... master=name;
 *
 * Addresses only: a sentinel is what finds the primary, it cannot itself
 * wait for a resolver.
 */

char *
ngx_http_caresync_sentinel_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_caresync_main_conf_t  *cmcf = conf;

    u_char                          *p, *last;
    ngx_str_t                       *value;
    ngx_uint_t                       i;
    ngx_addr_t                      *addr;
    ngx_http_caresync_redis_conf_t  *rcf;

    rcf = &cmcf->redis;

    if (rcf->sentinels) {
        return "is duplicate";
    }

    rcf->sentinels = ngx_array_create(cf->pool, 4, sizeof(ngx_addr_t));
    if (rcf->sentinels == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "master=", 7) == 0) {
            rcf->master.data = value[i].data + 7;
            rcf->master.len = value[i].len - 7;

            /* what Sentinel accepts as a name, and short enough to ask */
            if (rcf->master.len == 0 || rcf->master.len > 200) {
                goto invalid;
            }

            last = rcf->master.data + rcf->master.len;

            for (p = rcf->master.data; p < last; p++) {
                if (!(isalnum(*p) || *p == '-' || *p == '_'
                      || *p == '.'))
                {
                    goto invalid;
                }
            }

            continue;
        }

        if (rcf->sentinels->nelts == 16) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "caresync_redis_sentinel: at most 16 "
                               "sentinels");
            return NGX_CONF_ERROR;
        }

        addr = ngx_array_push(rcf->sentinels);
        if (addr == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_parse_addr_port(cf->pool, addr, value[i].data, value[i].len)
            != NGX_OK
            || ngx_inet_get_port(addr->sockaddr) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "caresync_redis_sentinel: \"%V\" is not an "
                               "IP address and port", &value[i]);
            return NGX_CONF_ERROR;
        }

        addr->name = value[i];
    }

    if (rcf->sentinels->nelts == 0 || rcf->master.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "caresync_redis_sentinel needs at least one "
                           "sentinel and \"master=\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "caresync_redis_sentinel: invalid \"%V\"", &value[i]);
    return NGX_CONF_ERROR;
}
