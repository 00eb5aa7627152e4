/*
 * caresync-worker: one synchronous Redis connection with a pipeline.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

#include <openssl/evp.h>

#include "engine/cw_log.h"
#include "engine/cw_redis.h"
#include "engine/cw_util.h"


void
cw_redis_init(cw_redis_t *r, const char *host, int port,
    const char *password, long db, long timeout_ms)
{
    memset(r, 0, sizeof(*r));
    r->host = cw_strdup(host);
    r->port = port;
    r->password = cw_strdup(password);
    r->db = db;
    r->timeout_ms = timeout_ms;
}


void
cw_redis_close(cw_redis_t *r)
{
    if (r->ctx) {
        redisFree(r->ctx);
        r->ctx = NULL;
    }

    r->pending = 0;
}


static int
cw_redis_ok(redisReply *rep, cw_err_t *err, const char *what)
{
    int  ok = rep && rep->type != REDIS_REPLY_ERROR;

    if (rep == NULL) {
        cw_err_set(err, CW_ERR_TRANSIENT, CW_E_REDIS_CONNECT,
                   "%s failed: connection lost", what);

    } else if (!ok) {
        cw_err_set(err, CW_ERR_PERMANENT, CW_E_REDIS_REFUSED,
                   "%s failed: %s", what, rep->str);
    }

    if (rep) {
        freeReplyObject(rep);
    }

    return ok ? 0 : -1;
}


/* every connection of the process has its own number (cw_script_t.gen) */
static unsigned  cw_redis_gens;


void
cw_redis_script(cw_redis_t *r, cw_script_t *s, const char **argv,
    size_t *lens)
{
    static const char  hex[] = "0123456789abcdef";
    unsigned char      md[EVP_MAX_MD_SIZE];
    unsigned int       n = 0, i;

    if (s->sha[0] == '\0') {
        (void) EVP_Digest(s->src, strlen(s->src), md, &n, EVP_sha1(), NULL);
        for (i = 0; i < n && i < 20; i++) {
            s->sha[2 * i] = hex[md[i] >> 4];
            s->sha[2 * i + 1] = hex[md[i] & 15];
        }
        s->sha[40] = '\0';
    }

    if (r->ctx && s->gen == r->gen) {
        argv[0] = "EVALSHA";
        lens[0] = 7;
        argv[1] = s->sha;
        lens[1] = 40;
        return;
    }

    /* the first on this connection: whole, which caches it in Redis */
    s->gen = r->ctx ? r->gen : 0;
    argv[0] = "EVAL";
    lens[0] = 4;
    argv[1] = s->src;
    lens[1] = strlen(s->src);
}


int
cw_redis_connect(cw_redis_t *r, cw_err_t *err)
{
    struct timeval  tv;

    cw_redis_close(r);

    tv.tv_sec = r->timeout_ms / 1000;
    tv.tv_usec = (r->timeout_ms % 1000) * 1000;

    r->ctx = redisConnectWithTimeout(r->host, r->port, tv);
    if (r->ctx == NULL || r->ctx->err) {
        cw_err_set(err, CW_ERR_TRANSIENT, CW_E_REDIS_CONNECT,
                   "cannot connect to Redis at %s:%d: %s", r->host, r->port,
                   r->ctx ? r->ctx->errstr : "out of memory");
        cw_redis_close(r);
        return -1;
    }

    r->gen = ++cw_redis_gens;

    /* also the read timeout: a hung Redis must not hang the worker */
    (void) redisSetTimeout(r->ctx, tv);

    if (r->password
        && cw_redis_ok(redisCommand(r->ctx, "AUTH %s", r->password),
                       err, "Redis AUTH") != 0)
    {
        cw_redis_close(r);
        return -1;
    }

    if (r->db
        && cw_redis_ok(redisCommand(r->ctx, "SELECT %ld", r->db),
                       err, "Redis SELECT") != 0)
    {
        cw_redis_close(r);
        return -1;
    }

    return 0;
}


/*
 * Reconnects at most every 500 ms while Redis is down, and says so once
 * when it goes down, every minute while it stays down, and when it is
 * back: no reconnect storm, no log storm.
 */
static int
cw_redis_ensure(cw_redis_t *r)
{
    cw_err_t  err;
    uint64_t  now;

    if (r->ctx && r->noscript) {
        /* a new connection sends every script whole again */
        r->noscript = 0;
        cw_redis_close(r);
        cw_error("redis", "scripts gone from Redis (NOSCRIPT): reconnected");
    }

    if (r->ctx) {
        return 0;
    }

    now = cw_mono_ms();
    if (now < r->retry_at) {
        return -1;
    }

    if (cw_redis_connect(r, &err) != 0) {
        r->retry_at = now + 500;

        if (!r->down || now - r->down_logged >= 60000) {
            cw_error("redis", "%s", err.message);
            r->down_logged = now;
        }

        r->down = 1;
        return -1;
    }

    if (r->down) {
        cw_error("redis", "reconnected host=%s port=%d", r->host, r->port);
        r->down = 0;
    }

    return 0;
}


static void
cw_redis_lost(cw_redis_t *r)
{
    cw_error("redis", "connection lost error=\"%s\"",
             r->ctx ? r->ctx->errstr : "");
    cw_redis_close(r);
}


/* Redis lost our scripts: the next command reconnects (cw_script_t) */
static void
cw_redis_note(cw_redis_t *r, redisReply *rep)
{
    if (rep->type == REDIS_REPLY_ERROR && strncmp(rep->str, "NOSCRIPT", 8) == 0)
    {
        r->noscript = 1;
    }
}


/* An error reply is said on stderr (the log would append to Redis). */
static int
cw_redis_error_reply(cw_redis_t *r, redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    fprintf(stderr, "caresync-worker: redis error reply: %s\n", rep->str);
    cw_redis_note(r, rep);
    return 1;
}


/*
 * Sends the pipeline and reads every reply; an error reply is reported
 * (and makes the result -1).  With `last`, the last reply is kept for the
 * caller instead (*last, NULL when the link was lost).
 */
static int
cw_redis_read(cw_redis_t *r, redisReply **last)
{
    int          rc = 0;
    void        *p;
    redisReply  *rep;

    if (last) {
        *last = NULL;
    }

    if (r->pending > 0) {
        r->roundtrips++;
    }

    while (r->pending > 0) {
        if (redisGetReply(r->ctx, &p) != REDIS_OK) {
            /* the log would append to the pipeline we are dropping */
            fprintf(stderr, "caresync-worker: redis pipeline lost: %s\n",
                    r->ctx->errstr);
            cw_redis_close(r);
            r->failed_flushes++;
            return -1;
        }

        r->pending--;
        rep = p;

        if (last && r->pending == 0) {
            *last = rep;
            break;
        }

        if (cw_redis_error_reply(r, rep)) {
            rc = -1;
        }

        freeReplyObject(rep);
    }

    return rc;
}


int
cw_redis_flush(cw_redis_t *r)
{
    return cw_redis_read(r, NULL);
}


int
cw_redis_send(cw_redis_t *r)
{
    int  done = 0;

    if (r->ctx == NULL || r->pending == 0) {
        return 0;
    }

    while (!done) {
        if (redisBufferWrite(r->ctx, &done) != REDIS_OK) {
            fprintf(stderr, "caresync-worker: redis pipeline lost: %s\n",
                    r->ctx->errstr);
            cw_redis_close(r);
            r->failed_flushes++;
            return -1;
        }
    }

    return 0;
}


int
cw_redis_drain(cw_redis_t *r)
{
    int          n;
    void        *p;
    redisReply  *rep;

    while (r->ctx && r->pending > 0) {
        if (redisGetReplyFromReader(r->ctx, &p) != REDIS_OK) {
            goto lost;
        }

        if (p == NULL) {
            /* read only what has arrived: the socket itself blocks */
            if (ioctl(r->ctx->fd, FIONREAD, &n) != 0 || n <= 0) {
                break;
            }

            if (redisBufferRead(r->ctx) != REDIS_OK) {
                goto lost;
            }

            continue;
        }

        r->pending--;
        rep = p;

        (void) cw_redis_error_reply(r, rep);
        freeReplyObject(rep);
    }

    return 0;

lost:

    fprintf(stderr, "caresync-worker: redis pipeline lost: %s\n",
            r->ctx->errstr);
    cw_redis_close(r);
    r->failed_flushes++;
    return -1;
}


void
cw_redis_skip(cw_redis_t *r, int n)
{
    redisReply  *rep;

    while (n-- > 0 && (rep = cw_redis_next(r)) != NULL) {
        (void) cw_redis_error_reply(r, rep);
        freeReplyObject(rep);
    }
}


redisReply *
cw_redis_next(cw_redis_t *r)
{
    void  *p;

    if (r->ctx == NULL || r->pending == 0) {
        return NULL;
    }

    if (redisGetReply(r->ctx, &p) != REDIS_OK) {
        fprintf(stderr, "caresync-worker: redis pipeline lost: %s\n",
                r->ctx->errstr);
        cw_redis_close(r);
        return NULL;
    }

    r->pending--;
    cw_redis_note(r, p);
    return p;
}


/*
 * A command's reply, in the same round trip as what is pending: the
 * command goes last on the pipeline and the replies before it are read
 * as a flush reads them.
 */
static redisReply *
cw_redis_through(cw_redis_t *r, int before)
{
    redisReply  *rep;

    if (r->ctx == NULL || r->pending <= before) {
        return NULL;                /* not appended: no connection */
    }

    (void) cw_redis_read(r, &rep);

    if (rep == NULL && r->ctx) {
        cw_redis_lost(r);
    }

    return rep;
}


redisReply *
cw_redis_cmdv(cw_redis_t *r, int argc, const char **argv, const size_t *lens)
{
    int  before = r->ctx ? r->pending : 0;

    cw_redis_appendv(r, argc, argv, lens);
    return cw_redis_through(r, before);
}


redisReply *
cw_redis_cmd(cw_redis_t *r, const char *fmt, ...)
{
    int      before = r->ctx ? r->pending : 0;
    va_list  ap;

    if (cw_redis_ensure(r) != 0) {
        return NULL;
    }

    va_start(ap, fmt);
    if (redisvAppendCommand(r->ctx, fmt, ap) == REDIS_OK) {
        r->pending++;
    }
    va_end(ap);

    return cw_redis_through(r, before);
}


void
cw_redis_append(cw_redis_t *r, const char *fmt, ...)
{
    va_list  ap;

    if (cw_redis_ensure(r) != 0) {
        return;
    }

    va_start(ap, fmt);
    if (redisvAppendCommand(r->ctx, fmt, ap) == REDIS_OK) {
        r->pending++;
    }
    va_end(ap);
}


void
cw_redis_args(cw_redis_t *r, int n, ...)
{
    int          i;
    size_t       lens[16];
    va_list      ap;
    const char  *argv[16];

    if (n > 16) {
        n = 16;
    }

    va_start(ap, n);
    for (i = 0; i < n; i++) {
        argv[i] = va_arg(ap, const char *);
        lens[i] = strlen(argv[i]);
    }
    va_end(ap);

    cw_redis_appendv(r, n, argv, lens);
}


/* "<c><n>\r\n" */
static void
cw_redis_resp_len(cs_buf_t *b, char c, size_t n)
{
    char  num[24];
    int   i = (int) sizeof(num);

    num[--i] = '\n';
    num[--i] = '\r';

    do {
        num[--i] = (char) ('0' + n % 10);
        n /= 10;
    } while (n);

    num[--i] = c;
    cs_buf_put(b, num + i, sizeof(num) - (size_t) i);
}


void
cw_redis_appendv(cw_redis_t *r, int argc, const char **argv,
    const size_t *lens)
{
    int              i;
    size_t           n;
    static cs_buf_t  out;           /* one thread: reused, never shrunk */

    if (cw_redis_ensure(r) != 0) {
        return;
    }

    /*
     * The RESP bytes written here, not by hiredis's formatter, which
     * costs about a thousand instructions an argument: a job's commands
     * have some fifty.
     */
    cs_buf_reset(&out);
    cw_redis_resp_len(&out, '*', (size_t) argc);

    for (i = 0; i < argc; i++) {
        n = lens ? lens[i] : strlen(argv[i]);
        cw_redis_resp_len(&out, '$', n);
        cs_buf_put(&out, argv[i], n);
        cs_buf_put(&out, "\r\n", 2);
    }

    if (out.oom) {
        return;
    }

    if (redisAppendFormattedCommand(r->ctx, out.data, out.len) == REDIS_OK) {
        r->pending++;
    }
}
