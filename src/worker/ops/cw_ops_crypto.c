/*
 * caresync-worker: `crypto status` and `crypto rotate`.
 *
 * Every place a job's envelope is kept in Redis is read, in pages (a
 * bounded reply each), and each envelope is counted by the key id it is
 * sealed with (cs_seal_kid(): the key id only, nothing is opened):
 *
 *   jobs     {prefix}:jobs, the stream (field job)
 *   retry    {prefix}:retry, "<order>\t<envelope>" members
 *   parked   {prefix}:wait:<key> of each key in {prefix}:waiting
 *   dead     {prefix}:dead, the stream (field job)
 *   archive  {prefix}:archive, when it exists: a stream, sorted set, set,
 *            list or hash, each value whose envelope starts at its first {
 *
 * One line per key id: the counts, their total, and whether the key is
 * the one that seals (current), another in crypto.keys (ring), or missing
 * from it (MISSING: what it protects cannot be opened).  Envelopes in the
 * clear are counted under `clear`, ones whose sealed part is malformed
 * under `malformed`.  A key whose total is 0 can be dropped.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_seal.h"
#include "engine/cw_crypto.h"
#include "engine/cw_redis.h"
#include "engine/cw_util.h"
#include "ops/cw_ops.h"
#include "ops/cw_ops_crypto.h"

#define CW_CRYPTO_PAGE   500
#define CW_CRYPTO_KIDS   64         /* distinct ids counted, then "other" */

typedef enum {
    CW_WHERE_JOBS = 0, CW_WHERE_RETRY, CW_WHERE_PARKED, CW_WHERE_DEAD,
    CW_WHERE_ARCHIVE, CW_WHERE_N
} cw_where_e;

static const char  *cw_where_names[CW_WHERE_N] = {
    "jobs", "retry", "parked", "dead", "archive"
};

typedef struct {
    char           kid[CS_SEAL_KID_MAX + 1];
    unsigned long  n[CW_WHERE_N];
} cw_kid_count_t;

typedef struct {
    cw_kid_count_t  kids[CW_CRYPTO_KIDS + 3];   /* + clear, malformed,
                                                   other */
    size_t          nkids;
} cw_census_t;


static cw_kid_count_t *
cw_census_slot(cw_census_t *c, const char *kid)
{
    size_t  i;

    for (i = 0; i < c->nkids; i++) {
        if (strcmp(c->kids[i].kid, kid) == 0) {
            return &c->kids[i];
        }
    }

    if (c->nkids == CW_CRYPTO_KIDS) {
        kid = "other";
        for (i = 0; i < c->nkids; i++) {
            if (strcmp(c->kids[i].kid, kid) == 0) {
                return &c->kids[i];
            }
        }
    }

    snprintf(c->kids[c->nkids].kid, sizeof(c->kids[0].kid), "%s", kid);
    return &c->kids[c->nkids++];
}


/* One stored value: its envelope starts at its first "{". */
static void
cw_census_add(cw_census_t *c, cw_where_e where, const char *s, size_t n)
{
    char         kid[CS_SEAL_KID_MAX + 1];
    const char  *p;

    p = memchr(s, '{', n);
    if (p == NULL) {
        return;
    }

    switch (cs_seal_kid((const unsigned char *) p, n - (size_t) (p - s),
                        kid))
    {
    case CS_SEAL_OK:
        cw_census_slot(c, kid)->n[where]++;
        break;

    case CS_SEAL_PLAIN:
        cw_census_slot(c, "clear")->n[where]++;
        break;

    default:
        cw_census_slot(c, "malformed")->n[where]++;
        break;
    }
}


/* A stream, page by page: the `job` field of every entry. */
static int
cw_census_stream(cw_redis_t *r, const char *key, cw_census_t *c,
    cw_where_e where, const char *field)
{
    char          start[80], page[16];
    size_t        i, j;
    redisReply   *rep, *e, *fv;

    snprintf(start, sizeof(start), "-");
    snprintf(page, sizeof(page), "%d", CW_CRYPTO_PAGE);

    for ( ;; ) {
        rep = cw_redis_cmd(r, "XRANGE %s %s + COUNT %s", key, start, page);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "caresync-worker: cannot read %s%s%s\n", key,
                    rep && rep->type == REDIS_REPLY_ERROR ? ": " : "",
                    rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "");
            if (rep) {
                freeReplyObject(rep);
            }
            return -1;
        }

        for (i = 0; i < rep->elements; i++) {
            e = rep->element[i];
            if (e->type != REDIS_REPLY_ARRAY || e->elements < 2) {
                continue;
            }

            fv = e->element[1];

            for (j = 0; fv->type == REDIS_REPLY_ARRAY
                        && j + 1 < fv->elements; j += 2)
            {
                if (fv->element[j]->type == REDIS_REPLY_STRING
                    && fv->element[j + 1]->type == REDIS_REPLY_STRING
                    && (field == NULL
                        || strcmp(fv->element[j]->str, field) == 0))
                {
                    cw_census_add(c, where, fv->element[j + 1]->str,
                                  fv->element[j + 1]->len);
                }
            }

            /* the next page starts after this entry */
            snprintf(start, sizeof(start), "(%s", e->element[0]->str);
        }

        i = rep->elements;
        freeReplyObject(rep);

        if (i < CW_CRYPTO_PAGE) {
            return 0;
        }
    }
}


/*
 * ZSCAN, SSCAN or HSCAN: every member (ZSCAN: not the scores; HSCAN: the
 * values), or with `names` the members as strings handed to `each`.
 */
static int
cw_census_scan(cw_redis_t *r, const char *cmd, const char *key,
    cw_census_t *c, cw_where_e where, int stride,
    void (*each)(cw_redis_t *, const char *, cw_census_t *, void *),
    void *data)
{
    char         cursor[32];
    size_t       i;
    redisReply  *rep, *items;

    snprintf(cursor, sizeof(cursor), "0");

    do {
        rep = cw_redis_cmd(r, "%s %s %s COUNT %d", cmd, key, cursor,
                           CW_CRYPTO_PAGE);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY
            || rep->elements != 2
            || rep->element[0]->type != REDIS_REPLY_STRING
            || rep->element[1]->type != REDIS_REPLY_ARRAY)
        {
            fprintf(stderr, "caresync-worker: cannot read %s\n", key);
            if (rep) {
                freeReplyObject(rep);
            }
            return -1;
        }

        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        items = rep->element[1];

        /* ZSCAN: member, score; HSCAN: field, value; SSCAN: member */
        for (i = stride == 2 && strcmp(cmd, "HSCAN") == 0 ? 1 : 0;
             i < items->elements; i += (size_t) stride)
        {
            if (items->element[i]->type != REDIS_REPLY_STRING) {
                continue;
            }

            if (each) {
                each(r, items->element[i]->str, c, data);
            } else {
                cw_census_add(c, where, items->element[i]->str,
                              items->element[i]->len);
            }
        }

        freeReplyObject(rep);

    } while (strcmp(cursor, "0") != 0);

    return 0;
}


/* A list, page by page. */
static int
cw_census_list(cw_redis_t *r, const char *key, cw_census_t *c,
    cw_where_e where)
{
    long         from;
    size_t       i, got;
    redisReply  *rep;

    for (from = 0; ; from += CW_CRYPTO_PAGE) {
        rep = cw_redis_cmd(r, "LRANGE %s %ld %ld", key, from,
                           from + CW_CRYPTO_PAGE - 1);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
            if (rep) {
                freeReplyObject(rep);
            }
            return -1;
        }

        for (i = 0; i < rep->elements; i++) {
            if (rep->element[i]->type == REDIS_REPLY_STRING) {
                cw_census_add(c, where, rep->element[i]->str,
                              rep->element[i]->len);
            }
        }

        got = rep->elements;
        freeReplyObject(rep);

        if (got < CW_CRYPTO_PAGE) {
            return 0;
        }
    }
}


typedef struct {
    const char  *prefix;
    int          rc;
} cw_parked_t;


/* One name of {prefix}:waiting: its {prefix}:wait:<name> sorted set. */
static void
cw_census_wait(cw_redis_t *r, const char *name, cw_census_t *c, void *data)
{
    char          key[512];
    cw_parked_t  *pk = data;

    snprintf(key, sizeof(key), "%s:wait:%s", pk->prefix, name);

    if (cw_census_scan(r, "ZSCAN", key, c, CW_WHERE_PARKED, 2, NULL, NULL)
        != 0)
    {
        pk->rc = -1;
    }
}


/* The archive, whatever its type (another part of the worker owns it). */
static int
cw_census_archive(cw_redis_t *r, const char *prefix, cw_census_t *c)
{
    int          rc = 0;
    char         key[256], type[16];
    redisReply  *rep;

    snprintf(key, sizeof(key), "%s:archive", prefix);

    rep = cw_redis_cmd(r, "TYPE %s", key);
    if (rep == NULL || rep->type != REDIS_REPLY_STATUS) {
        if (rep) {
            freeReplyObject(rep);
        }
        return -1;
    }

    snprintf(type, sizeof(type), "%s", rep->str);
    freeReplyObject(rep);

    if (strcmp(type, "stream") == 0) {
        rc = cw_census_stream(r, key, c, CW_WHERE_ARCHIVE, NULL);
    } else if (strcmp(type, "zset") == 0) {
        rc = cw_census_scan(r, "ZSCAN", key, c, CW_WHERE_ARCHIVE, 2, NULL,
                            NULL);
    } else if (strcmp(type, "set") == 0) {
        rc = cw_census_scan(r, "SSCAN", key, c, CW_WHERE_ARCHIVE, 1, NULL,
                            NULL);
    } else if (strcmp(type, "hash") == 0) {
        rc = cw_census_scan(r, "HSCAN", key, c, CW_WHERE_ARCHIVE, 2, NULL,
                            NULL);
    } else if (strcmp(type, "list") == 0) {
        rc = cw_census_list(r, key, c, CW_WHERE_ARCHIVE);
    }

    return rc;
}


static const char *
cw_census_state(const cw_conf_t *conf, const char *kid)
{
    size_t                 i;
    const cs_seal_ring_t  *ring = conf->crypto.ring;

    if (strcmp(kid, "clear") == 0 || strcmp(kid, "malformed") == 0
        || strcmp(kid, "other") == 0)
    {
        return "-";
    }

    for (i = 0; ring && i < ring->n; i++) {
        if (strcmp(ring->keys[i].id, kid) == 0) {
            return i + 1 == ring->n ? "current" : "ring";
        }
    }

    return "MISSING";
}


/* Every place a job is kept, counted by key id; 0, or -1 Redis failed */
static int
cw_census_take(cw_redis_t *r, const cw_conf_t *c, cw_census_t *cen)
{
    char         waiting[256];
    size_t       i;
    cw_parked_t  pk;

    /* the ring's keys first, in their order, even when they protect none */
    for (i = 0; c->crypto.ring && i < c->crypto.ring->n; i++) {
        (void) cw_census_slot(cen, c->crypto.ring->keys[i].id);
    }

    pk.prefix = c->redis.prefix;
    pk.rc = 0;
    snprintf(waiting, sizeof(waiting), "%s:waiting", c->redis.prefix);

    if (cw_census_stream(r, c->key.jobs, cen, CW_WHERE_JOBS, "job") != 0
        || cw_census_scan(r, "ZSCAN", c->key.retry, cen, CW_WHERE_RETRY, 2,
                          NULL, NULL) != 0
        || cw_census_scan(r, "SSCAN", waiting, cen, CW_WHERE_PARKED, 1,
                          cw_census_wait, &pk) != 0
        || pk.rc != 0
        || cw_census_stream(r, c->key.dead, cen, CW_WHERE_DEAD, "job") != 0
        || cw_census_archive(r, c->redis.prefix, cen) != 0)
    {
        return -1;
    }

    return 0;
}


static unsigned long
cw_census_total(const cw_kid_count_t *k)
{
    size_t         j;
    unsigned long  total = 0;

    for (j = 0; j < CW_WHERE_N; j++) {
        total += k->n[j];
    }

    return total;
}


static void
cw_census_print(const cw_conf_t *c, const cw_census_t *cen)
{
    size_t  i, j;

    printf("%-32s %-8s %8s", "key", "state", "total");
    for (j = 0; j < CW_WHERE_N; j++) {
        printf(" %8s", cw_where_names[j]);
    }
    printf("\n");

    for (i = 0; i < cen->nkids; i++) {
        printf("%-32s %-8s %8lu", cen->kids[i].kid,
               cw_census_state(c, cen->kids[i].kid),
               cw_census_total(&cen->kids[i]));
        for (j = 0; j < CW_WHERE_N; j++) {
            printf(" %8lu", cen->kids[i].n[j]);
        }
        printf("\n");
    }
}


/*
 * `crypto rotate`: the ring of this configuration recorded as a rotation,
 * by the operator, with what each key still protects; refused while a key
 * it drops still protects a job (that job would be dead-lettered, sealed,
 * until the key came back).
 */
static int
cw_crypto_rotate(cw_redis_t *r, const cw_conf_t *c, const cw_census_t *cen)
{
    int          rc;
    char         ids[CW_CRYPTO_IDS], old[CW_CRYPTO_IDS];
    char         retired[CW_CRYPTO_IDS], added[CW_CRYPTO_IDS];
    char         protects[CW_CRYPTO_KIDS * (CS_SEAL_KID_MAX + 24)];
    size_t       i, off = 0;
    unsigned long  n;

    if (cw_crypto_recorded(r, c, old, sizeof(old)) != 0) {
        fprintf(stderr, "caresync-worker: cannot read the recorded key "
                "ring from Redis\n");
        return 1;
    }

    cw_crypto_ids(c, ids, sizeof(ids));

    if (strcmp(old, ids) == 0) {
        printf("the key ring is the one recorded (%s): nothing to record\n",
               ids[0] ? ids : "no keys");
        return 0;
    }

    cw_crypto_minus(old, ids, retired, sizeof(retired));
    cw_crypto_minus(ids, old, added, sizeof(added));
    protects[0] = '\0';

    for (i = 0; i < cen->nkids; i++) {
        n = cw_census_total(&cen->kids[i]);

        if (n && cw_list_has(retired, cen->kids[i].kid)) {
            fprintf(stderr, "caresync-worker: refused: key `%s`, which "
                    "this configuration drops, still protects %lu job%s "
                    "(above): keep it in crypto.keys until it protects "
                    "none; nothing was recorded\n", cen->kids[i].kid, n,
                    n == 1 ? "" : "s");
            return 1;
        }

        off += (size_t) snprintf(protects + off, sizeof(protects) - off,
                                 "%s%s:%lu", off ? "," : "",
                                 cen->kids[i].kid, n);
        if (off >= sizeof(protects)) {
            off = sizeof(protects) - 1;
        }
    }

    rc = cw_crypto_record(r, c, NULL, "crypto rotate",
                          protects[0] ? protects : "-");

    if (rc < 0) {
        fprintf(stderr, "caresync-worker: the rotation is not in the audit "
                "trail: Redis refused it; run it again\n");
        return 1;
    }

    if (rc == 0) {
        printf("the key ring is the one recorded (%s): nothing to record\n",
               ids[0] ? ids : "no keys");
        return 0;
    }

    printf("recorded: keys %s, added %s, retired %s\n",
           ids[0] ? ids : "-", added[0] ? added : "-",
           retired[0] ? retired : "-");
    return 0;
}


int
cw_ops_crypto(const cw_conf_t *c, int argc, char **argv)
{
    int           rc = 0, rotate;
    cw_redis_t    r;
    cw_census_t  *cen;

    if (argc != 1 || (strcmp(argv[0], "status") != 0
                      && strcmp(argv[0], "rotate") != 0))
    {
        fprintf(stderr, "usage: caresync-worker crypto status | rotate\n"
                "`caresync-worker crypto --help` for details\n");
        return 2;
    }

    rotate = strcmp(argv[0], "rotate") == 0;

    if (cw_ops_connect(c, &r) != 0) {
        return 1;
    }

    cen = calloc(1, sizeof(cw_census_t));
    if (cen == NULL) {
        cw_ops_close(&r);
        return 1;
    }

    if (cw_census_take(&r, c, cen) != 0) {
        rc = 1;

    } else {
        cw_census_print(c, cen);

        if (rotate) {
            rc = cw_crypto_rotate(&r, c, cen);
        }
    }

    free(cen);
    cw_ops_close(&r);
    return rc;
}
