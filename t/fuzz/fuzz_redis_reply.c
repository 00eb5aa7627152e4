/*
 * The worker's readers of what Redis answers: hiredis's reply parser with
 * the worker's bounded reply objects (cw_rio_reader(), cw_redis_io.h),
 * then the slot map (CLUSTER SLOTS) and MOVED redirects (cw_cluster.h),
 * as the bytes arrive on the wire.
 *
 * Input: RESP bytes, fed to the reader in two pieces (the first byte
 * chooses where it is cut); every complete reply, at most 64, is given to
 * cw_cluster_owner() for three slots and, when it is an error or status
 * line, to cw_cluster_moved().  The input is also a key for
 * cw_cluster_slot().
 *
 * Invariants:
 *   - no array is allocated for more than CW_RIO_MAX_ELEMENTS elements
 *     (libFuzzer's malloc limit would report it), and every reply frees;
 *   - cw_cluster_owner() accepts only what an entry of the reply covering
 *     the slot says (found again here), with a NUL-terminated host that
 *     fits and a port in 1..65535; refused, it writes nothing;
 *   - cw_cluster_moved() accepts only "MOVED <slot> <host>:<digits>": the
 *     host is the text between the second space and the last colon, the
 *     port in 1..65535;
 *   - slots are < 16384 and a key's slot is its hash tag's.
 */

#include <string.h>

#include <hiredis/hiredis.h>

#include "engine/cw_cluster.h"
#include "engine/cw_redis_io.h"
#include "fuzz_common.h"


static void
check_owner(const redisReply *rep, unsigned slot)
{
    int                port = -7;
    char               host[32];
    size_t             i;
    const redisReply  *e, *node;

    memset(host, 'X', sizeof(host));

    if (cw_cluster_owner(rep, slot, host, sizeof(host), &port) != 0) {
        FZ_CHECK(port == -7 && host[0] == 'X', "refused but wrote");
        return;
    }

    FZ_CHECK(port >= 1 && port <= 65535, "port %d", port);
    FZ_CHECK(memchr(host, '\0', sizeof(host)) != NULL, "host not terminated");

    /* the first entry covering the slot says exactly that */
    for (i = 0; i < rep->elements; i++) {
        e = rep->element[i];
        if (e->type == REDIS_REPLY_ARRAY && e->elements >= 3
            && e->element[0]->type == REDIS_REPLY_INTEGER
            && e->element[1]->type == REDIS_REPLY_INTEGER
            && (long long) slot >= e->element[0]->integer
            && (long long) slot <= e->element[1]->integer)
        {
            node = e->element[2];
            FZ_CHECK(node->type == REDIS_REPLY_ARRAY
                     && node->element[0]->type == REDIS_REPLY_STRING
                     && strcmp(node->element[0]->str, host) == 0
                     && node->element[1]->integer == port,
                     "owner is not the entry's");
            return;
        }
    }

    FZ_CHECK(0, "an owner without an entry for slot %u", slot);
}


static void
check_moved(const char *s)
{
    int          port = -7;
    char         host[32];
    const char  *sp, *colon;

    memset(host, 'X', sizeof(host));

    if (cw_cluster_moved(s, host, sizeof(host), &port) != 0) {
        FZ_CHECK(port == -7 && host[0] == 'X', "refused but wrote");
        return;
    }

    FZ_CHECK(strncmp(s, "MOVED ", 6) == 0, "not a MOVED");
    FZ_CHECK(port >= 1 && port <= 65535, "port %d", port);
    sp = strchr(s + 6, ' ');
    colon = strrchr(s, ':');
    FZ_CHECK(sp && colon && colon > sp + 1
             && strlen(host) == (size_t) (colon - sp - 1)
             && memcmp(host, sp + 1, strlen(host)) == 0, "host misread");
    FZ_CHECK(strspn(colon + 1, "0123456789") == strlen(colon + 1),
             "port not digits");
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            n;
    char          *tag;
    void          *p;
    size_t         cut;
    unsigned       slot;
    const char    *open, *close;
    redisReader   *rd;
    redisReply    *rep;

    if (size == 0) {
        return 0;
    }

    slot = cw_cluster_slot((const char *) data, size);
    FZ_CHECK(slot < 16384, "slot %u", slot);

    /* a key's slot is its tag's ({tag} hashed alone) */
    open = memchr(data, '{', size);
    close = open ? memchr(open + 1, '}', size - (size_t) (open + 1
                                                 - (const char *) data))
                 : NULL;
    if (open && close && close > open + 1) {
        tag = malloc((size_t) (close - open - 1));
        memcpy(tag, open + 1, (size_t) (close - open - 1));
        FZ_CHECK(cw_cluster_slot(tag, (size_t) (close - open - 1)) == slot
                 || memchr(tag, '{', (size_t) (close - open - 1)) != NULL,
                 "tag's slot differs");
        free(tag);
    }

    rd = cw_rio_reader();
    if (rd == NULL) {
        return 0;
    }

    cut = data[0] % size;
    if (redisReaderFeed(rd, (const char *) data + 1, cut ? cut - 1 : 0)
            != REDIS_OK
        || redisReaderFeed(rd, (const char *) data + (cut ? cut : 1),
                           size - (cut ? cut : 1)) != REDIS_OK)
    {
        redisReaderFree(rd);
        return 0;
    }

    for (n = 0; n < 64; n++) {
        if (redisReaderGetReply(rd, &p) != REDIS_OK || p == NULL) {
            break;
        }

        rep = p;

        if (rep->type == REDIS_REPLY_ARRAY) {
            check_owner(rep, slot);
            check_owner(rep, 0);
            check_owner(rep, 16383);

        } else if (rep->type == REDIS_REPLY_ERROR
                   || rep->type == REDIS_REPLY_STATUS)
        {
            check_moved(rep->str);
        }

        freeReplyObject(rep);
    }

    redisReaderFree(rd);
    return 0;
}
