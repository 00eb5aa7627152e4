/*
 * caresync-worker: one synchronous Redis connection with a pipeline.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/time.h>

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


int
cw_redis_flush(cw_redis_t *r)
{
    int          rc = 0;
    void        *p;
    redisReply  *rep;

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

        if (rep->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "caresync-worker: redis error reply: %s\n",
                    rep->str);
            rc = -1;
        }

        freeReplyObject(rep);
    }

    return rc;
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

        if (rep->type == REDIS_REPLY_ERROR) {
            fprintf(stderr, "caresync-worker: redis error reply: %s\n",
                    rep->str);
        }

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
    return p;
}


redisReply *
cw_redis_cmdv(cw_redis_t *r, int argc, const char **argv, const size_t *lens)
{
    redisReply  *rep;

    if (r->ctx && r->pending) {
        (void) cw_redis_flush(r);
    }

    if (cw_redis_ensure(r) != 0) {
        return NULL;
    }

    r->roundtrips++;
    rep = redisCommandArgv(r->ctx, argc, argv, lens);
    if (rep == NULL) {
        cw_redis_lost(r);
    }

    return rep;
}


redisReply *
cw_redis_cmd(cw_redis_t *r, const char *fmt, ...)
{
    va_list      ap;
    redisReply  *rep;

    if (r->ctx && r->pending) {
        (void) cw_redis_flush(r);
    }

    if (cw_redis_ensure(r) != 0) {
        return NULL;
    }

    r->roundtrips++;
    va_start(ap, fmt);
    rep = redisvCommand(r->ctx, fmt, ap);
    va_end(ap);

    if (rep == NULL) {
        cw_redis_lost(r);
    }

    return rep;
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
cw_redis_appendv(cw_redis_t *r, int argc, const char **argv,
    const size_t *lens)
{
    if (cw_redis_ensure(r) != 0) {
        return;
    }

    if (redisAppendCommandArgv(r->ctx, argc, argv, lens) == REDIS_OK) {
        r->pending++;
    }
}
