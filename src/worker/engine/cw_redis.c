/*
 * caresync-worker: one synchronous Redis connection with a pipeline.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "engine/cw_cluster.h"
#include "engine/cw_log.h"
#include "engine/cw_redis.h"
#include "engine/cw_sentinel.h"
#include "engine/cw_util.h"


int
cw_redis_init(cw_redis_t *r, const cw_conf_t *c, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->conf = c;
    snprintf(r->host, sizeof(r->host), "%s", c->redis.host);
    r->port = (int) c->redis.port;
    r->timeout_ms = c->redis.timeout_ms;
    r->slot = cw_cluster_slot(c->redis.prefix, strlen(c->redis.prefix));

    if (c->redis.tls) {
        r->tls = cw_rio_tls_create(c->redis.tls_ca, c->redis.tls_cert,
                                   c->redis.tls_key, err, errlen);
        if (r->tls == NULL) {
            return -1;
        }
    }

    return 0;
}


void
cw_redis_free(cw_redis_t *r)
{
    cw_sentinel_close(&r->sentinel);
    cw_rio_tls_free(r->tls);
    r->tls = NULL;
}


void
cw_redis_close(cw_redis_t *r)
{
    if (r->ctx) {
        cw_rio_close(r->ctx);
        r->ctx = NULL;
    }

    r->pending = 0;
    r->nsent = 0;
    r->nread = 0;
    r->nwaits = 0;
    r->wait_head = 0;
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


/* a hand-shake command on a connection not yet in use */
static int
cw_redis_hello(cw_rio_t *io, int argc, const char **argv, cw_err_t *err,
    const char *what)
{
    redisReply  *rep = cw_rio_call(io, argc, argv);

    if (rep == NULL) {
        cw_err_set(err, CW_ERR_TRANSIENT, CW_E_REDIS_CONNECT,
                   "%s failed: %s", what, cw_rio_error(io));
        return -1;
    }

    return cw_redis_ok(rep, err, what);
}


/* With sentinels: the node must say it is the primary (ROLE). */
static int
cw_redis_primary(cw_redis_t *r, cw_rio_t *io, cw_err_t *err)
{
    int          ok;
    const char  *argv[1] = { "ROLE" };
    redisReply  *rep = cw_rio_call(io, 1, argv);

    if (rep == NULL) {
        cw_err_set(err, CW_ERR_TRANSIENT, CW_E_REDIS_CONNECT,
                   "ROLE at %s:%d failed: %s", r->host, r->port,
                   cw_rio_error(io));
        return -1;
    }

    ok = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0
         && rep->element[0]->type == REDIS_REPLY_STRING
         && strcmp(rep->element[0]->str, "master") == 0;

    if (!ok) {
        /* the sentinels have not caught up yet: ask again, soon */
        cw_err_set(err, CW_ERR_TRANSIENT, CW_E_REDIS_CONNECT,
                   "Redis at %s:%d is not the primary of \"%s\" (role %s)",
                   r->host, r->port, r->conf->redis.master_name,
                   rep->type == REDIS_REPLY_ARRAY && rep->elements > 0
                   && rep->element[0]->type == REDIS_REPLY_STRING
                   ? rep->element[0]->str : "unknown");
    }

    freeReplyObject(rep);
    return ok ? 0 : -1;
}


/*
 * A node, ready for commands: connected (TCP or TLS), authenticated, its
 * database selected.  NULL with the reason in err.
 */
static cw_rio_t *
cw_redis_node(cw_redis_t *r, const char *host, int port, cw_err_t *err)
{
    int               refused;
    char              why[512], db[24];
    cw_rio_t         *io;
    const char       *argv[2];
    redisReply       *rep;
    const cw_conf_t  *c = r->conf;

    io = cw_rio_open(host, port, r->tls, c->redis.tls_server_name,
                     r->timeout_ms, &refused, why, sizeof(why));
    if (io == NULL) {
        /* never a plaintext retry: TLS or nothing */
        cw_err_set(err, refused ? CW_ERR_PERMANENT : CW_ERR_TRANSIENT,
                   refused ? CW_E_REDIS_REFUSED : CW_E_REDIS_CONNECT,
                   "cannot connect to Redis at %s:%d%s: %s", host, port,
                   r->tls ? " (TLS)" : "", why);
        return NULL;
    }

    /*
     * TLS 1.3 says that the server refused our certificate only on the
     * first read: a PING makes that a refusal here, not a lost link later
     * (its answer may be NOAUTH: AUTH follows).
     */
    if (r->tls) {
        argv[0] = "PING";
        rep = cw_rio_call(io, 1, argv);
        if (rep == NULL) {
            cw_err_set(err, CW_ERR_PERMANENT, CW_E_REDIS_REFUSED,
                       "Redis at %s:%d refused the TLS session: %s", host,
                       port, cw_rio_error(io));
            goto failed;
        }
        freeReplyObject(rep);
    }

    if (c->redis.password) {
        argv[0] = "AUTH";
        argv[1] = c->redis.password;
        if (cw_redis_hello(io, 2, argv, err, "Redis AUTH") != 0) {
            goto failed;
        }
    }

    if (c->redis.db) {
        snprintf(db, sizeof(db), "%ld", c->redis.db);
        argv[0] = "SELECT";
        argv[1] = db;
        if (cw_redis_hello(io, 2, argv, err, "Redis SELECT") != 0) {
            goto failed;
        }
    }

    return io;

failed:

    cw_rio_close(io);
    return NULL;
}


/* the owner of our slot as node chost:cport says; NULL: ask the next */
static cw_rio_t *
cw_redis_slot_owner(cw_redis_t *r, const char *chost, int cport,
    cw_err_t *err)
{
    int          port;
    char         host[sizeof(r->host)];
    size_t       n;
    cw_rio_t    *io;
    const char  *argv[2] = { "CLUSTER", "SLOTS" };
    redisReply  *rep;

    io = cw_redis_node(r, chost, cport, err);
    if (io == NULL) {
        return NULL;
    }

    rep = cw_rio_call(io, 2, argv);

    if (rep == NULL || rep->type == REDIS_REPLY_ERROR
        || cw_cluster_owner(rep, r->slot, host, sizeof(host), &port) != 0)
    {
        /* not a Cluster node (or no owner yet): a person must look */
        cw_err_set(err, rep ? CW_ERR_PERMANENT : CW_ERR_TRANSIENT,
                   rep ? CW_E_REDIS_REFUSED : CW_E_REDIS_CONNECT,
                   "Redis at %s:%d has no primary for slot %u of %s "
                   "(redis.cluster = on): %s", chost, cport, r->slot,
                   r->conf->redis.prefix,
                   rep == NULL ? cw_rio_error(io)
                   : rep->type == REDIS_REPLY_ERROR ? rep->str
                   : "not in its slot map");
        if (rep) {
            freeReplyObject(rep);
        }
        cw_rio_close(io);
        return NULL;
    }

    freeReplyObject(rep);

    /* "" or "?": the node does not know its own name; the one we used */
    if (host[0] == '\0' || strcmp(host, "?") == 0) {
        n = strnlen(chost, sizeof(host) - 1);
        memcpy(host, chost, n);
        host[n] = '\0';
    }

    if (strcmp(host, chost) != 0 || port != cport) {
        cw_rio_close(io);
        io = cw_redis_node(r, host, port, err);
        if (io == NULL) {
            return NULL;
        }
    }

    if (strcmp(host, r->host) != 0 || port != r->port) {
        cw_error("redis", "cluster: slot %u of %s is on %s:%d (was %s:%d)",
                 r->slot, r->conf->redis.prefix, host, port, r->host,
                 r->port);
        memcpy(r->host, host, sizeof(host));
        r->port = port;
    }

    return io;
}


/*
 * With cluster = on: the primary of the prefix's slot, asked of the node
 * a MOVED named, then of the last one, then of the configured one (a
 * configuration endpoint).  Bounded: three nodes, each with the timeout.
 */
static cw_rio_t *
cw_redis_cluster(cw_redis_t *r, cw_err_t *err)
{
    int               k, n = 0;
    cw_rio_t         *io;
    const cw_conf_t  *c = r->conf;
    struct {
        char          host[sizeof(r->host)];
        int           port;
    }                 cand[3];

    if (r->moved_port) {
        memcpy(cand[n].host, r->moved_host, sizeof(cand[n].host));
        cand[n++].port = r->moved_port;
        r->moved_port = 0;
    }

    memcpy(cand[n].host, r->host, sizeof(cand[n].host));
    cand[n++].port = r->port;

    if (strcmp(c->redis.host, r->host) != 0 || c->redis.port != r->port) {
        snprintf(cand[n].host, sizeof(cand[n].host), "%s", c->redis.host);
        cand[n++].port = (int) c->redis.port;
    }

    for (k = 0; k < n; k++) {
        io = cw_redis_slot_owner(r, cand[k].host, cand[k].port, err);
        if (io) {
            return io;
        }

        if (err->code == CW_E_REDIS_REFUSED) {
            break;
        }
    }

    return NULL;
}


int
cw_redis_connect(cw_redis_t *r, cw_err_t *err)
{
    int               port;
    char              why[1024], host[sizeof(r->host)];
    cw_rio_t         *io;
    const cw_conf_t  *c = r->conf;

    cw_redis_close(r);

    if (c->redis.nsentinels) {
        if (cw_sentinel_primary(c, r->tls, &r->sentinel, 0, host,
                                sizeof(host), &port, why, sizeof(why)) != 0)
        {
            cw_err_set(err, CW_ERR_TRANSIENT, CW_E_REDIS_CONNECT, "%s", why);
            return -1;
        }

        if (strcmp(host, r->host) != 0 || port != r->port) {
            cw_error("redis", "primary of \"%s\" is %s:%d (was %s:%d), "
                     "from sentinel %s:%d", c->redis.master_name, host, port,
                     r->host, r->port,
                     c->redis.sentinel_host[r->sentinel.next],
                     c->redis.sentinel_port[r->sentinel.next]);
            memcpy(r->host, host, sizeof(host));
            r->port = port;
        }
    }

    io = c->redis.cluster ? cw_redis_cluster(r, err)
                          : cw_redis_node(r, r->host, r->port, err);
    if (io == NULL) {
        return -1;
    }

    if (c->redis.nsentinels && cw_redis_primary(r, io, err) != 0) {
        cw_rio_close(io);
        return -1;
    }

    /* ready: from here on, the log may append to it */
    r->ctx = io;
    r->gen = ++cw_redis_gens;
    return 0;
}


/*
 * WAITs that found fewer replicas than wanted: said between two turns
 * (cw_redis_check()), never while a caller counts its replies.
 */
static void
cw_redis_wait_log(cw_redis_t *r)
{
    uint64_t  n = r->wait_short;

    if (n == 0) {
        return;
    }

    r->wait_short = 0;
    cw_error("redis", "replicas confirmed=%lld wanted=%ld jobs=%llu "
             "job_id=%s: the job's end is on the primary only, until its "
             "replicas catch up", r->wait_got, r->conf->redis.replicas,
             (unsigned long long) n, r->wait_job);
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

    /* never between MULTI and EXEC: the rest would run outside it */
    if (r->ctx && r->noscript && !r->tx) {
        /* a new connection sends every script whole again */
        r->noscript = 0;
        cw_redis_close(r);
        cw_error("redis", "scripts gone from Redis (NOSCRIPT): reconnected");
    }

    if (r->ctx && r->stale && !r->tx) {
        /* not a primary any more (or not ready): ask again, paced */
        r->stale = 0;
        cw_redis_close(r);
        r->retry_at = cw_mono_ms() + 200;
        cw_error("redis", "Redis at %s:%d cannot take writes now: "
                 "reconnecting", r->host, r->port);
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
    cw_error("redis", "connection lost error=\"%s\"", cw_rio_error(r->ctx));
    cw_redis_close(r);
}


/* the pipeline is gone: said on stderr (the log would append to it) */
static void
cw_redis_broken(cw_redis_t *r)
{
    fprintf(stderr, "caresync-worker: redis pipeline lost: %s\n",
            cw_rio_error(r->ctx));
    cw_redis_close(r);
    r->failed_flushes++;
}


/*
 * Every reply read goes through here: NOSCRIPT (Redis lost our scripts),
 * READONLY / LOADING / MASTERDOWN (not a primary that takes writes: a
 * failover), MOVED / ASK / TRYAGAIN / CLUSTERDOWN (our slot moved or is
 * moving), and the answers of our WAITs.
 */
static void
cw_redis_got(cw_redis_t *r, redisReply *rep)
{
    int  i;

    r->pending--;
    r->nread++;

    if (r->nwaits && r->waits[r->wait_head].n == r->nread) {
        i = r->wait_head;
        r->wait_head = (r->wait_head + 1) % CW_REDIS_WAITS;
        r->nwaits--;

        if (rep->type == REDIS_REPLY_INTEGER
            && rep->integer < r->conf->redis.replicas)
        {
            r->wait_short++;
            r->wait_shortfalls++;
            r->wait_got = rep->integer;
            memcpy(r->wait_job, r->waits[i].job, sizeof(r->wait_job));
        }
    }

    if (rep->type != REDIS_REPLY_ERROR) {
        return;
    }

    if (strncmp(rep->str, "NOSCRIPT", 8) == 0) {
        r->noscript = 1;

    } else if (strncmp(rep->str, "READONLY", 8) == 0
               || strncmp(rep->str, "LOADING", 7) == 0
               || strncmp(rep->str, "MASTERDOWN", 10) == 0
               || strncmp(rep->str, "ASK ", 4) == 0
               || strncmp(rep->str, "TRYAGAIN", 8) == 0
               || strncmp(rep->str, "CLUSTERDOWN", 11) == 0)
    {
        r->stale = 1;

    } else if (strncmp(rep->str, "MOVED ", 6) == 0) {
        /* the next connect asks the node it names first */
        r->stale = 1;
        r->moved_port = 0;
        (void) cw_cluster_moved(rep->str, r->moved_host,
                                sizeof(r->moved_host), &r->moved_port);
    }
}


/* An error reply is said on stderr (the log would append to Redis). */
static int
cw_redis_error_reply(redisReply *rep)
{
    if (rep->type != REDIS_REPLY_ERROR) {
        return 0;
    }

    fprintf(stderr, "caresync-worker: redis error reply: %s\n", rep->str);
    return 1;
}


/* 1 MULTI, 2 EXEC, else 0 */
static int
cw_redis_tx_word(const char *w, size_t n)
{
    return n == 5 && memcmp(w, "MULTI", 5) == 0 ? 1
           : n == 4 && memcmp(w, "EXEC", 4) == 0 ? 2 : 0;
}


/*
 * 1: drop the command.  A transaction whose MULTI did not go to this
 * connection (lost, reconnected in between) is dropped whole, EXEC
 * included: its commands must not run one by one.  The job then ends
 * nowhere and is reclaimed (cw_queue.h).
 */
static int
cw_redis_tx(cw_redis_t *r, int word)
{
    int  drop;

    if (word == 1) {
        r->tx = 1;
        r->tx_gen = r->ctx ? r->gen : 0;
        return r->ctx == NULL;
    }

    if (!r->tx) {
        return 0;
    }

    drop = r->ctx == NULL || r->tx_gen == 0 || r->tx_gen != r->gen;

    if (word == 2) {
        r->tx = 0;
    }

    return drop;
}


/* Bytes of one command onto the pipeline. */
static void
cw_redis_put(cw_redis_t *r, const char *cmd, size_t len)
{
    if (cw_rio_put(r->ctx, cmd, len) == 0) {
        r->pending++;
        r->nsent++;
    }
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

        if (cw_rio_send(r->ctx) != 0) {
            cw_redis_broken(r);
            return -1;
        }
    }

    while (r->pending > 0) {
        if (cw_rio_reply(r->ctx, &p, 1) != 0) {
            cw_redis_broken(r);
            return -1;
        }

        rep = p;
        cw_redis_got(r, rep);

        if (last && r->pending == 0) {
            *last = rep;
            break;
        }

        if (cw_redis_error_reply(rep)) {
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
    if (r->ctx == NULL || r->pending == 0) {
        return 0;
    }

    if (cw_rio_send(r->ctx) != 0) {
        cw_redis_broken(r);
        return -1;
    }

    return 0;
}


int
cw_redis_drain(cw_redis_t *r)
{
    void        *p;
    redisReply  *rep;

    while (r->ctx && r->pending > 0) {
        /* only what has arrived: never waits */
        if (cw_rio_reply(r->ctx, &p, 0) != 0) {
            cw_redis_broken(r);
            return -1;
        }

        if (p == NULL) {
            break;
        }

        rep = p;
        cw_redis_got(r, rep);
        (void) cw_redis_error_reply(rep);
        freeReplyObject(rep);
    }

    return 0;
}


void
cw_redis_skip(cw_redis_t *r, int n)
{
    redisReply  *rep;

    while (n-- > 0 && (rep = cw_redis_next(r)) != NULL) {
        (void) cw_redis_error_reply(rep);
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

    if (cw_rio_send(r->ctx) != 0 || cw_rio_reply(r->ctx, &p, 1) != 0) {
        cw_redis_broken(r);
        return NULL;
    }

    cw_redis_got(r, p);
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
    int  before;

    if (cw_redis_ensure(r) != 0) {
        return NULL;
    }

    before = r->pending;
    cw_redis_appendv(r, argc, argv, lens);
    return cw_redis_through(r, before);
}


/* hiredis's formatter, for the format-string callers */
static void
cw_redis_vappend(cw_redis_t *r, const char *fmt, va_list ap)
{
    int    n;
    char  *cmd;

    n = redisvFormatCommand(&cmd, fmt, ap);
    if (n < 0) {
        return;
    }

    cw_redis_put(r, cmd, (size_t) n);
    redisFreeCommand(cmd);
}


redisReply *
cw_redis_cmd(cw_redis_t *r, const char *fmt, ...)
{
    int      before;
    va_list  ap;

    if (cw_redis_ensure(r) != 0) {
        return NULL;
    }

    before = r->pending;

    va_start(ap, fmt);
    cw_redis_vappend(r, fmt, ap);
    va_end(ap);

    return cw_redis_through(r, before);
}


void
cw_redis_append(cw_redis_t *r, const char *fmt, ...)
{
    int      rc;
    va_list  ap;

    rc = cw_redis_ensure(r);
    if (cw_redis_tx(r, cw_redis_tx_word(fmt, strlen(fmt))) || rc != 0) {
        return;
    }

    va_start(ap, fmt);
    cw_redis_vappend(r, fmt, ap);
    va_end(ap);
}


void
cw_redis_wait(cw_redis_t *r, const char *job_id)
{
    int       i;
    char      n[8], ms[24];
    long      replicas = r->conf->redis.replicas;
    uint64_t  before;

    if (replicas == 0 || cw_redis_ensure(r) != 0) {
        return;
    }

    if (r->nwaits == CW_REDIS_WAITS) {
        /*
         * Bounded: replies this far behind are not read in the middle of
         * a job's commands; this end is counted unconfirmed.
         */
        r->wait_short++;
        r->wait_shortfalls++;
        r->wait_got = 0;
        snprintf(r->wait_job, sizeof(r->wait_job), "%s", job_id);
        return;
    }

    snprintf(n, sizeof(n), "%ld", replicas);
    snprintf(ms, sizeof(ms), "%ld", r->timeout_ms / 2 ? r->timeout_ms / 2
                                                      : 1);
    before = r->nsent;
    cw_redis_args(r, 3, "WAIT", n, ms);

    if (r->ctx == NULL || r->nsent == before) {
        return;                     /* not appended */
    }

    i = (r->wait_head + r->nwaits) % CW_REDIS_WAITS;
    r->waits[i].n = r->nsent;
    snprintf(r->waits[i].job, sizeof(r->waits[i].job), "%s", job_id);
    r->nwaits++;
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
    int              i, rc;
    size_t           n;
    static cs_buf_t  out;           /* one thread: reused, never shrunk */

    rc = cw_redis_ensure(r);
    if (cw_redis_tx(r, argc == 1 ? cw_redis_tx_word(argv[0], lens ? lens[0]
                                                    : strlen(argv[0]))
                               : 0)
        || rc != 0)
    {
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

    cw_redis_put(r, out.data, out.len);
}


void
cw_redis_check(cw_redis_t *r)
{
    int               port;
    char              why[1024], host[sizeof(r->host)];
    uint64_t          now;
    const cw_conf_t  *c = r->conf;

    if (r->tx) {
        return;
    }

    /* a safe point: the log's XADD is not inside a job's commands */
    cw_redis_wait_log(r);

    if (c->redis.nsentinels == 0 || r->ctx == NULL) {
        return;
    }

    now = cw_mono_ms();
    if (now < r->check_at) {
        return;
    }

    r->check_at = now + CW_SENTINEL_CHECK_MS;

    /* no sentinel answering is no news: keep the primary we have */
    if (cw_sentinel_primary(c, r->tls, &r->sentinel, 1, host, sizeof(host),
                            &port, why, sizeof(why)) != 0
        || (strcmp(host, r->host) == 0 && port == r->port))
    {
        return;
    }

    cw_error("redis", "the sentinels name %s:%d the primary of \"%s\" now: "
             "leaving %s:%d", host, port, c->redis.master_name, r->host,
             r->port);
    cw_redis_close(r);
}
