/*
 * caresync-worker: asking the Redis Sentinels for the primary.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "engine/cw_sentinel.h"


/* the answer of a connected sentinel: 0 with the address, -1 with why */
static int
cw_sentinel_ask(const cw_conf_t *c, cw_rio_t *io, char *host,
    size_t hostlen, int *port, char *why, size_t n)
{
    int          rc = -1;
    const char  *argv[3];
    redisReply  *rep;

    argv[0] = "SENTINEL";
    argv[1] = "get-master-addr-by-name";
    argv[2] = c->redis.master_name;
    rep = cw_rio_call(io, 3, argv);

    if (rep == NULL) {
        snprintf(why, n, "%s", cw_rio_error(io));
        return -1;
    }

    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2
        && rep->element[0]->type == REDIS_REPLY_STRING
        && rep->element[1]->type == REDIS_REPLY_STRING
        && rep->element[0]->len < hostlen)
    {
        *port = atoi(rep->element[1]->str);
        memcpy(host, rep->element[0]->str, rep->element[0]->len + 1);
        rc = *port > 0 && *port <= 65535 ? 0 : -1;
        if (rc != 0) {
            snprintf(why, n, "bad port in its answer");
        }

    } else if (rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, n, "%s", rep->str);

    } else {
        snprintf(why, n, "does not know master \"%s\"", c->redis.master_name);
    }

    freeReplyObject(rep);
    return rc;
}


/* a connection to sentinel i, authenticated; NULL with why */
static cw_rio_t *
cw_sentinel_open(const cw_conf_t *c, cw_rio_tls_t *tls, int i, char *why,
    size_t n)
{
    long         t;
    cw_rio_t    *io;
    const char  *argv[2];
    redisReply  *rep;

    t = c->redis.timeout_ms < CW_SENTINEL_TIMEOUT_MS ? c->redis.timeout_ms
                                                     : CW_SENTINEL_TIMEOUT_MS;

    io = cw_rio_open(c->redis.sentinel_host[i], c->redis.sentinel_port[i],
                     tls, c->redis.tls_server_name, t, NULL, why, n);
    if (io == NULL || c->redis.sentinel_password == NULL) {
        return io;
    }

    argv[0] = "AUTH";
    argv[1] = c->redis.sentinel_password;
    rep = cw_rio_call(io, 2, argv);

    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        snprintf(why, n, "AUTH: %s", rep ? rep->str : cw_rio_error(io));
        if (rep) {
            freeReplyObject(rep);
        }
        cw_rio_close(io);
        return NULL;
    }

    freeReplyObject(rep);
    return io;
}


void
cw_sentinel_close(cw_sentinel_t *s)
{
    cw_rio_close(s->io);
    s->io = NULL;
}


int
cw_sentinel_primary(const cw_conf_t *c, cw_rio_tls_t *tls,
    cw_sentinel_t *s, int one, char *host, size_t hostlen, int *port,
    char *err, size_t errlen)
{
    int     k, i, ns = c->redis.nsentinels;
    char    why[256];
    size_t  len;

    snprintf(err, errlen, "no sentinel knows the primary of \"%s\":",
             c->redis.master_name);

    /* the one kept: one round trip */
    if (s->io) {
        if (cw_sentinel_ask(c, s->io, host, hostlen, port, why,
                            sizeof(why)) == 0)
        {
            return 0;
        }

        cw_sentinel_close(s);

        if (one) {
            s->next = (s->next + 1) % ns;
            return -1;
        }
    }

    for (k = 0; k < (one ? 1 : ns); k++) {
        i = (s->next + k) % ns;

        s->io = cw_sentinel_open(c, tls, i, why, sizeof(why));

        if (s->io
            && cw_sentinel_ask(c, s->io, host, hostlen, port, why,
                               sizeof(why)) == 0)
        {
            s->next = i;
            return 0;
        }

        cw_sentinel_close(s);

        len = strlen(err);
        snprintf(err + len, errlen - len, " sentinel %s:%d: %s;",
                 c->redis.sentinel_host[i], c->redis.sentinel_port[i], why);
    }

    /* next time, start after the first that failed */
    s->next = (s->next + 1) % ns;
    return -1;
}
