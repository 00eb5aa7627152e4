/*
 * caresync-worker: the bytes of one Redis connection (TCP or TLS).
 *
 * The socket is non-blocking; every wait is a poll(2) bounded by the
 * timeout, which is what makes a hung or black-holed Redis an error
 * after `timeout_ms` rather than a hung worker, with TLS as without.
 */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <hiredis/hiredis.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "cs_buf.h"
#include "engine/cw_redis_io.h"
#include "engine/cw_util.h"

/* sent bytes are dropped from the buffer; a big one is not kept */
#define CW_RIO_KEEP  (1024 * 1024)

struct cw_rio_tls_s {
    SSL_CTX      *ctx;
};

struct cw_rio_s {
    int           fd;
    SSL          *ssl;
    redisReader  *reader;
    cs_buf_t      out;
    int           timeout_ms;
    char          err[256];
};


/*
 * The reply objects, as hiredis's own (freeReplyObject() frees them), but
 * an array's count is checked before its table is allocated.
 */
static redisReply *
cw_rio_obj(const redisReadTask *task, int type)
{
    redisReply  *r, *parent;

    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }

    r->type = type;

    if (task->parent) {
        parent = task->parent->obj;
        parent->element[task->idx] = r;
    }

    return r;
}


static void *
cw_rio_string(const redisReadTask *task, char *str, size_t len)
{
    char        *copy;
    redisReply  *r;

    copy = malloc(len + 1);
    if (copy == NULL) {
        return NULL;
    }

    r = cw_rio_obj(task, task->type);
    if (r == NULL) {
        free(copy);
        return NULL;
    }

    memcpy(copy, str, len);
    copy[len] = '\0';
    r->str = copy;
    r->len = len;
    return r;
}


static void *
cw_rio_array(const redisReadTask *task, int elements)
{
    redisReply  *r;

    /* a NULL is the reader's "out of memory": the link is dropped */
    if (elements < 0 || elements > CW_RIO_MAX_ELEMENTS) {
        return NULL;
    }

    r = cw_rio_obj(task, REDIS_REPLY_ARRAY);
    if (r == NULL) {
        return NULL;
    }

    if (elements > 0) {
        r->element = calloc((size_t) elements, sizeof(redisReply *));
        if (r->element == NULL) {
            if (task->parent) {
                ((redisReply *) task->parent->obj)->element[task->idx] = NULL;
            }
            free(r);
            return NULL;
        }
    }

    r->elements = (size_t) elements;
    return r;
}


static void *
cw_rio_integer(const redisReadTask *task, long long value)
{
    redisReply  *r = cw_rio_obj(task, REDIS_REPLY_INTEGER);

    if (r) {
        r->integer = value;
    }

    return r;
}


static void *
cw_rio_nil(const redisReadTask *task)
{
    return cw_rio_obj(task, REDIS_REPLY_NIL);
}


static void
cw_rio_free_obj(void *p)
{
    freeReplyObject(p);
}


static redisReplyObjectFunctions  cw_rio_fns = {
    cw_rio_string, cw_rio_array, cw_rio_integer, cw_rio_nil, cw_rio_free_obj
};


redisReader *
cw_rio_reader(void)
{
    return redisReaderCreateWithFunctions(&cw_rio_fns);
}


/* the first error of OpenSSL's queue, or `what` */
static const char *
cw_rio_ssl_reason(char *buf, size_t n, const char *what)
{
    unsigned long  e = ERR_get_error();

    if (e == 0) {
        snprintf(buf, n, "%s", what);
        return buf;
    }

    ERR_error_string_n(e, buf, n);
    ERR_clear_error();
    return buf;
}


cw_rio_tls_t *
cw_rio_tls_create(const char *ca, const char *cert, const char *key,
    char *err, size_t errlen)
{
    char           why[200];
    cw_rio_tls_t  *t = cw_calloc(1, sizeof(*t));

    t->ctx = SSL_CTX_new(TLS_client_method());
    if (t->ctx == NULL) {
        snprintf(err, errlen, "redis TLS: %s",
                 cw_rio_ssl_reason(why, sizeof(why), "no TLS context"));
        goto failed;
    }

    (void) SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE
                             | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if (ca ? SSL_CTX_load_verify_locations(t->ctx, ca, NULL) != 1
           : SSL_CTX_set_default_verify_paths(t->ctx) != 1)
    {
        snprintf(err, errlen, "redis.tls_ca: cannot load %s: %s",
                 ca ? ca : "the system's CA store",
                 cw_rio_ssl_reason(why, sizeof(why), "unreadable"));
        goto failed;
    }

    if (cert
        && SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1)
    {
        snprintf(err, errlen, "redis.tls_cert: cannot load %s: %s", cert,
                 cw_rio_ssl_reason(why, sizeof(why), "unreadable"));
        goto failed;
    }

    if (key
        && (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(t->ctx) != 1))
    {
        snprintf(err, errlen, "redis.tls_key: cannot use %s: %s", key,
                 cw_rio_ssl_reason(why, sizeof(why),
                                   "not the key of tls_cert"));
        goto failed;
    }

    return t;

failed:

    cw_rio_tls_free(t);
    return NULL;
}


void
cw_rio_tls_free(cw_rio_tls_t *t)
{
    if (t) {
        SSL_CTX_free(t->ctx);
        free(t);
    }
}


/* 1 ready, 0 timed out, -1 error */
static int
cw_rio_wait(int fd, short events, int timeout_ms)
{
    int            n;
    struct pollfd  p;

    p.fd = fd;
    p.events = events;

    do {
        p.revents = 0;
        n = poll(&p, 1, timeout_ms);
    } while (n < 0 && errno == EINTR);

    return n < 0 ? -1 : n;
}


static int
cw_rio_tcp(cw_rio_t *io, const char *host, int port)
{
    int               fd = -1, rc, one = 1, soerr;
    char              portstr[16];
    socklen_t         len;
    struct addrinfo   hints, *res, *ai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    snprintf(portstr, sizeof(portstr), "%d", port);

    /* resolved on every open: a moved name is followed */
    rc = getaddrinfo(host, portstr, &hints, &res);
    if (rc != 0) {
        snprintf(io->err, sizeof(io->err), "cannot resolve %s: %s", host,
                 gai_strerror(rc));
        return -1;
    }

    snprintf(io->err, sizeof(io->err), "no address");

    for (ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK
                                   | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0) {
            snprintf(io->err, sizeof(io->err), "socket: %s",
                     strerror(errno));
            continue;
        }

        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            break;
        }

        if (errno == EINPROGRESS) {
            rc = cw_rio_wait(fd, POLLOUT, io->timeout_ms);
            soerr = 0;
            len = sizeof(soerr);

            if (rc > 0
                && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0
                && soerr == 0)
            {
                break;
            }

            snprintf(io->err, sizeof(io->err), "%s",
                     rc == 0 ? "connect timed out"
                             : strerror(soerr ? soerr : errno));
        } else {
            snprintf(io->err, sizeof(io->err), "%s", strerror(errno));
        }

        close(fd);
        fd = -1;
    }

    freeaddrinfo(res);

    if (fd < 0) {
        return -1;
    }

    (void) setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    io->fd = fd;
    return 0;
}


/* 1: the name is an IP address (the certificate must carry it as such) */
static int
cw_rio_is_ip(const char *name)
{
    unsigned char  a[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, name, a) == 1
           || inet_pton(AF_INET6, name, a) == 1;
}


static int
cw_rio_handshake(cw_rio_t *io, cw_rio_tls_t *tls, const char *name)
{
    int    rc, e;
    char   why[200];
    long   vr;

    io->ssl = SSL_new(tls->ctx);
    if (io->ssl == NULL || SSL_set_fd(io->ssl, io->fd) != 1) {
        snprintf(io->err, sizeof(io->err), "TLS: %s",
                 cw_rio_ssl_reason(why, sizeof(why), "out of memory"));
        return -1;
    }

    /* the certificate must name what we asked for: a name or an address */
    if (cw_rio_is_ip(name)) {
        rc = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(io->ssl), name);

    } else {
        rc = SSL_set_tlsext_host_name(io->ssl, name) == 1
             && SSL_set1_host(io->ssl, name) == 1;
    }

    if (rc != 1) {
        snprintf(io->err, sizeof(io->err), "TLS: bad server name");
        return -1;
    }

    for ( ;; ) {
        rc = SSL_connect(io->ssl);
        if (rc == 1) {
            return 0;
        }

        e = SSL_get_error(io->ssl, rc);

        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            rc = cw_rio_wait(io->fd, e == SSL_ERROR_WANT_READ ? POLLIN
                                                              : POLLOUT,
                             io->timeout_ms);
            if (rc > 0) {
                continue;
            }

            snprintf(io->err, sizeof(io->err), "TLS handshake %s",
                     rc == 0 ? "timed out (is it a TLS port?)"
                             : strerror(errno));
            return -1;
        }

        vr = SSL_get_verify_result(io->ssl);

        if (vr != X509_V_OK) {
            snprintf(io->err, sizeof(io->err), "TLS certificate refused "
                     "(server name \"%s\"): %s", name,
                     X509_verify_cert_error_string(vr));
        } else {
            snprintf(io->err, sizeof(io->err), "TLS handshake failed: %s",
                     cw_rio_ssl_reason(why, sizeof(why),
                                       "connection closed (is it a TLS "
                                       "port?)"));
        }

        ERR_clear_error();
        return -1;
    }
}


cw_rio_t *
cw_rio_open(const char *host, int port, cw_rio_tls_t *tls,
    const char *server_name, long timeout_ms, int *refused, char *err,
    size_t errlen)
{
    cw_rio_t  *io = cw_calloc(1, sizeof(*io));

    io->fd = -1;
    io->timeout_ms = (int) timeout_ms;
    cs_buf_init(&io->out);

    if (refused) {
        *refused = 0;
    }

    if (cw_rio_tcp(io, host, port) != 0) {
        goto failed;
    }

    if (tls && cw_rio_handshake(io, tls, server_name ? server_name
                                                     : host) != 0)
    {
        /* a time-out is an outage; any other failure is a refusal */
        if (refused && strstr(io->err, "timed out") == NULL) {
            *refused = 1;
        }
        goto failed;
    }

    io->reader = cw_rio_reader();
    if (io->reader == NULL) {
        snprintf(io->err, sizeof(io->err), "out of memory");
        goto failed;
    }

    return io;

failed:

    snprintf(err, errlen, "%s", io->err);
    cw_rio_close(io);
    return NULL;
}


void
cw_rio_close(cw_rio_t *io)
{
    if (io == NULL) {
        return;
    }

    if (io->ssl) {
        /* no close_notify wait: the peer may be gone */
        SSL_set_quiet_shutdown(io->ssl, 1);
        SSL_free(io->ssl);
    }

    if (io->fd >= 0) {
        close(io->fd);
    }

    if (io->reader) {
        redisReaderFree(io->reader);
    }

    cs_buf_free(&io->out);
    free(io);
}


const char *
cw_rio_error(cw_rio_t *io)
{
    return io ? io->err : "not connected";
}


int
cw_rio_put(cw_rio_t *io, const char *buf, size_t len)
{
    cs_buf_put(&io->out, buf, len);
    return io->out.oom ? -1 : 0;
}


/*
 * One read or write: >0 bytes, 0 would block (*want: the poll events),
 * -1 error (io->err).
 */
static ssize_t
cw_rio_io(cw_rio_t *io, int writing, char *buf, size_t len, short *want)
{
    int      e;
    char     why[200];
    ssize_t  n;

    if (io->ssl) {
        ERR_clear_error();
        n = writing ? SSL_write(io->ssl, buf, (int) len)
                    : SSL_read(io->ssl, buf, (int) len);
        if (n > 0) {
            return n;
        }

        e = SSL_get_error(io->ssl, (int) n);

        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            *want = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
            return 0;
        }

        if (e == SSL_ERROR_SSL) {
            /* OpenSSL's reason: an alert of the server (a refused cert) */
            snprintf(io->err, sizeof(io->err), "TLS error: %s",
                     cw_rio_ssl_reason(why, sizeof(why), "unknown"));
        } else {
            snprintf(io->err, sizeof(io->err), "%s",
                     e == SSL_ERROR_ZERO_RETURN ? "connection closed"
                     : e == SSL_ERROR_SYSCALL && errno ? strerror(errno)
                     : "connection closed");
        }
        ERR_clear_error();
        return -1;
    }

    for ( ;; ) {
        n = writing ? send(io->fd, buf, len, MSG_NOSIGNAL)
                    : recv(io->fd, buf, len, 0);
        if (n > 0) {
            return n;
        }

        if (n < 0 && errno == EINTR) {
            continue;
        }

        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            *want = writing ? POLLOUT : POLLIN;
            return 0;
        }

        snprintf(io->err, sizeof(io->err), "%s",
                 n == 0 ? "connection closed" : strerror(errno));
        return -1;
    }
}


int
cw_rio_send(cw_rio_t *io)
{
    int      rc;
    short    want;
    size_t   sent = 0;
    ssize_t  n;

    while (sent < io->out.len) {
        n = cw_rio_io(io, 1, io->out.data + sent, io->out.len - sent, &want);

        if (n < 0) {
            return -1;
        }

        if (n > 0) {
            sent += (size_t) n;
            continue;
        }

        rc = cw_rio_wait(io->fd, want, io->timeout_ms);
        if (rc <= 0) {
            snprintf(io->err, sizeof(io->err), "write %s",
                     rc == 0 ? "timed out" : strerror(errno));
            return -1;
        }
    }

    if (io->out.cap > CW_RIO_KEEP) {
        cs_buf_free(&io->out);
        cs_buf_init(&io->out);

    } else {
        cs_buf_reset(&io->out);
    }

    return 0;
}


/* 1 bytes fed to the reader, 0 none yet (not waiting), -1 error */
static int
cw_rio_fill(cw_rio_t *io, int wait)
{
    int      rc;
    char     buf[16384];
    short    want;
    ssize_t  n;

    for ( ;; ) {
        n = cw_rio_io(io, 0, buf, sizeof(buf), &want);

        if (n < 0) {
            return -1;
        }

        if (n > 0) {
            if (io->reader->len - io->reader->pos > CW_RIO_MAX_BUFFER) {
                snprintf(io->err, sizeof(io->err), "a reply of more than "
                         "%d MiB", CW_RIO_MAX_BUFFER >> 20);
                return -1;
            }

            if (redisReaderFeed(io->reader, buf, (size_t) n) != REDIS_OK) {
                snprintf(io->err, sizeof(io->err), "out of memory");
                return -1;
            }
            return 1;
        }

        if (!wait) {
            return 0;
        }

        rc = cw_rio_wait(io->fd, want, io->timeout_ms);
        if (rc <= 0) {
            snprintf(io->err, sizeof(io->err), "read %s",
                     rc == 0 ? "timed out" : strerror(errno));
            return -1;
        }
    }
}


int
cw_rio_reply(cw_rio_t *io, void **reply, int wait)
{
    int  rc;

    *reply = NULL;

    for ( ;; ) {
        if (redisReaderGetReply(io->reader, reply) != REDIS_OK) {
            snprintf(io->err, sizeof(io->err), "protocol error: %s",
                     io->reader->errstr);
            return -1;
        }

        if (*reply) {
            return 0;
        }

        rc = cw_rio_fill(io, wait);
        if (rc <= 0) {
            return rc;
        }
    }
}


struct redisReply *
cw_rio_call(cw_rio_t *io, int argc, const char **argv)
{
    int    n;
    char  *cmd;
    void  *rep;

    n = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    if (n < 0) {
        snprintf(io->err, sizeof(io->err), "out of memory");
        return NULL;
    }

    n = cw_rio_put(io, cmd, (size_t) n);
    redisFreeCommand(cmd);

    if (n != 0 || cw_rio_send(io) != 0 || cw_rio_reply(io, &rep, 1) != 0) {
        return NULL;
    }

    return rep;
}
