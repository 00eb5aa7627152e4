/*
 * caresync-worker: Redis Cluster's slots.
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cw_cluster.h"


/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial 0), as Redis Cluster */
static unsigned
cw_cluster_crc16(const char *p, size_t n)
{
    int       b;
    unsigned  crc = 0;

    while (n--) {
        crc ^= (unsigned) (unsigned char) *p++ << 8;

        for (b = 0; b < 8; b++) {
            crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff
                               : (crc << 1) & 0xffff;
        }
    }

    return crc;
}


/* the part hashed: inside the first `{...}` when not empty, else all */
static void
cw_cluster_tag(const char *key, size_t len, const char **p, size_t *n)
{
    const char  *open, *close;

    *p = key;
    *n = len;

    open = memchr(key, '{', len);
    if (open == NULL) {
        return;
    }

    close = memchr(open + 1, '}', len - (size_t) (open + 1 - key));
    if (close == NULL || close == open + 1) {
        return;
    }

    *p = open + 1;
    *n = (size_t) (close - open - 1);
}


unsigned
cw_cluster_slot(const char *key, size_t len)
{
    size_t       n;
    const char  *p;

    cw_cluster_tag(key, len, &p, &n);
    return cw_cluster_crc16(p, n) % 16384;
}


int
cw_cluster_tagged(const char *key)
{
    size_t       n, len = strlen(key);
    const char  *p;

    cw_cluster_tag(key, len, &p, &n);
    return p != key || n != len;
}


int
cw_cluster_owner(const redisReply *slots, unsigned slot, char *host,
    size_t hostlen, int *port)
{
    size_t             i;
    const redisReply  *e, *node;

    if (slots == NULL || slots->type != REDIS_REPLY_ARRAY) {
        return -1;
    }

    /* [[start, end, [ip, port, id, ...], replicas ...], ...] */
    for (i = 0; i < slots->elements; i++) {
        e = slots->element[i];

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3
            || e->element[0]->type != REDIS_REPLY_INTEGER
            || e->element[1]->type != REDIS_REPLY_INTEGER
            || (long long) slot < e->element[0]->integer
            || (long long) slot > e->element[1]->integer)
        {
            continue;
        }

        node = e->element[2];

        if (node->type != REDIS_REPLY_ARRAY || node->elements < 2
            || node->element[0]->type != REDIS_REPLY_STRING
            || node->element[1]->type != REDIS_REPLY_INTEGER
            || node->element[0]->len >= hostlen
            || node->element[1]->integer < 1
            || node->element[1]->integer > 65535)
        {
            return -1;
        }

        memcpy(host, node->element[0]->str, node->element[0]->len + 1);
        *port = (int) node->element[1]->integer;
        return 0;
    }

    return -1;
}


int
cw_cluster_moved(const char *err, char *host, size_t hostlen, int *port)
{
    long         p;
    char        *end;
    size_t       n;
    const char  *sp, *colon;

    if (strncmp(err, "MOVED ", 6) != 0) {
        return -1;
    }

    sp = strchr(err + 6, ' ');
    colon = strrchr(err, ':');

    if (sp == NULL || colon == NULL || colon <= sp + 1) {
        return -1;
    }

    n = (size_t) (colon - sp - 1);
    if (n >= hostlen) {
        return -1;
    }

    /* digits only: strtol() would take a sign or spaces too */
    if (colon[1] < '0' || colon[1] > '9') {
        return -1;
    }

    errno = 0;
    p = strtol(colon + 1, &end, 10);
    if (errno || *end != '\0' || p < 1 || p > 65535) {
        return -1;
    }

    memcpy(host, sp + 1, n);
    host[n] = '\0';
    *port = (int) p;
    return 0;
}
