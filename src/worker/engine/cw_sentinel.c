/*
 * caresync-worker: asking the Redis Sentinels for the primary.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "engine/cw_sentinel.h"


/* one sentinel: 0 with the address, -1 with the reason in why */
static int
cw_sentinel_ask(const cw_conf_t *c, cw_rio_tls_t *tls, int i, char *host,
    size_t hostlen, int *port, char *why, size_t n)
{
    int          rc = -1;
    long         t;
    cw_rio_t    *io;
    const char  *argv[3];
    redisReply  *rep;

    t = c->redis.timeout_ms < CW_SENTINEL_TIMEOUT_MS ? c->redis.timeout_ms
                                                     : CW_SENTINEL_TIMEOUT_MS;

    io = cw_rio_open(c->redis.sentinel_host[i], c->redis.sentinel_port[i],
                     tls, c->redis.tls_server_name, t, NULL, why, n);
    if (io == NULL) {
        return -1;
    }

    if (c->redis.sentinel_password) {
        argv[0] = "AUTH";
        argv[1] = c->redis.sentinel_password;
        rep = cw_rio_call(io, 2, argv);

        if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
            snprintf(why, n, "AUTH: %s", rep ? rep->str : cw_rio_error(io));
            goto done;
        }

        freeReplyObject(rep);
    }

    argv[0] = "SENTINEL";
    argv[1] = "get-master-addr-by-name";
    argv[2] = c->redis.master_name;
    rep = cw_rio_call(io, 3, argv);

    if (rep == NULL) {
        snprintf(why, n, "%s", cw_rio_error(io));
        goto done;
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

done:

    if (rep) {
        freeReplyObject(rep);
    }

    cw_rio_close(io);
    return rc;
}


int
cw_sentinel_primary(const cw_conf_t *c, cw_rio_tls_t *tls, int *next,
    char *host, size_t hostlen, int *port, char *err, size_t errlen)
{
    int     k, i, ns = c->redis.nsentinels;
    char    why[256];
    size_t  len;

    snprintf(err, errlen, "no sentinel knows the primary of \"%s\":",
             c->redis.master_name);

    for (k = 0; k < ns; k++) {
        i = (*next + k) % ns;

        if (cw_sentinel_ask(c, tls, i, host, hostlen, port, why,
                            sizeof(why)) == 0)
        {
            *next = i;
            return 0;
        }

        len = strlen(err);
        snprintf(err + len, errlen - len, " sentinel %s:%d: %s;",
                 c->redis.sentinel_host[i], c->redis.sentinel_port[i], why);
    }

    return -1;
}
