/*
 * caresync-worker: retention and pruning (see cw_retain.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cw_audit.h"
#include "engine/cw_log.h"
#include "engine/cw_retain.h"
#include "engine/cw_util.h"

/* the audit entries one pass removes past audit_max, at most */
#define CW_RETAIN_AUDIT_PAGE  10000
/* how often the audit trail is pruned, at most */
#define CW_RETAIN_AUDIT_EVERY_MS  3600000


void
cw_retain_archive(cw_redis_t *r, const cw_conf_t *c, const char *job_id,
    const char *type, const char *status, const char *job, size_t len)
{
    int          i;
    char         max[24];
    size_t       lens[13];
    const char  *argv[13];

    if (c->retain.archive_s == 0 || c->retain.archive_max == 0) {
        return;
    }

    snprintf(max, sizeof(max), "%ld", c->retain.archive_max);

    /* argv, not a format: hiredis's formatter would cost a job ~30 k
       instructions here (callgrind) */
    argv[0] = "XADD";
    argv[1] = c->key.archive;
    argv[2] = "MAXLEN";
    argv[3] = max;
    argv[4] = "*";
    argv[5] = "job_id";
    argv[6] = job_id;
    argv[7] = "type";
    argv[8] = type;
    argv[9] = "status";
    argv[10] = status;
    argv[11] = "job";
    argv[12] = job;

    for (i = 0; i < 12; i++) {
        lens[i] = strlen(argv[i]);
    }
    lens[12] = len;

    cw_redis_appendv(r, 13, argv, lens);
}


long
cw_retain_longest(const cw_conf_t *c)
{
    long  s = c->worker.status_ttl_s;

    if (c->retain.archive_s > s) {
        s = c->retain.archive_s;
    }
    if (c->retain.dead_s > s) {
        s = c->retain.dead_s;
    }

    return s;
}


/* XTRIM by age then by length; the entries removed, -1 on a failure */
static long long
cw_retain_trim(cw_redis_t *r, const char *key, long age_s, long max)
{
    char         minid[32], len[24];
    long long    n = 0;
    redisReply  *rep;

    snprintf(minid, sizeof(minid), "%llu",
             (unsigned long long) (cw_now_ms() - (uint64_t) age_s * 1000));
    snprintf(len, sizeof(len), "%ld", max);

    rep = cw_redis_cmd(r, "XTRIM %s MINID %s", key, minid);
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
        goto failed;
    }
    n += rep->integer;
    freeReplyObject(rep);

    rep = cw_redis_cmd(r, "XTRIM %s MAXLEN %s", key, len);
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
        goto failed;
    }
    n += rep->integer;
    freeReplyObject(rep);

    return n;

failed:

    cw_error("retain", "cannot prune %s error=\"%s\"", key,
             rep && rep->type == REDIS_REPLY_ERROR ? rep->str : "no answer");
    if (rep) {
        freeReplyObject(rep);
    }
    return -1;
}


static int cw_retain_turn(cw_redis_t *r, const cw_conf_t *c,
    const char *what, long ms);


/* stream ids "ms-seq" in the stream's order: <0, 0, >0 */
static int
cw_retain_id_cmp(const char *a, const char *b)
{
    unsigned long long  am, as = 0, bm, bs = 0;

    am = strtoull(a, NULL, 10);
    bm = strtoull(b, NULL, 10);
    if (strchr(a, '-')) {
        as = strtoull(strchr(a, '-') + 1, NULL, 10);
    }
    if (strchr(b, '-')) {
        bs = strtoull(strchr(b, '-') + 1, NULL, 10);
    }

    if (am != bm) {
        return am < bm ? -1 : 1;
    }

    return as < bs ? -1 : as > bs;
}


/* The id of the first audit entry to keep, "" when all stay. */
static int
cw_retain_audit_first(cw_redis_t *r, const cw_conf_t *c, char *first,
    size_t n)
{
    char         cut[32], cnt[24];
    long long    len, excess;
    redisReply  *rep;

    first[0] = '\0';

    rep = cw_redis_cmd(r, "XLEN %s", c->key.audit);
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
        goto failed;
    }
    len = rep->integer;
    freeReplyObject(rep);

    if (len < 2) {
        return 0;
    }

    /* by age: the first entry at or after the cut, else the newest */
    snprintf(cut, sizeof(cut), "%llu",
             (unsigned long long) (cw_now_ms()
                                   - (uint64_t) c->retain.audit_s * 1000));
    rep = cw_redis_cmd(r, "XRANGE %s %s + COUNT 1", c->key.audit, cut);
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        goto failed;
    }

    if (rep->elements == 0) {
        freeReplyObject(rep);
        rep = cw_redis_cmd(r, "XREVRANGE %s + - COUNT 1", c->key.audit);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY
            || rep->elements == 0)
        {
            goto failed;
        }
    }

    snprintf(first, n, "%s", rep->element[0]->element[0]->str);
    freeReplyObject(rep);

    /* by length: one page past audit_max a pass */
    excess = len - c->retain.audit_max;
    if (excess > 0) {
        if (excess > CW_RETAIN_AUDIT_PAGE) {
            excess = CW_RETAIN_AUDIT_PAGE;
        }

        snprintf(cnt, sizeof(cnt), "%lld", excess + 1);
        rep = cw_redis_cmd(r, "XRANGE %s - + COUNT %s", c->key.audit, cnt);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY
            || rep->elements < (size_t) excess + 1)
        {
            goto failed;
        }

        /* the later of the two: stream ids compare as (ms, seq) */
        if (cw_retain_id_cmp(rep->element[excess]->element[0]->str, first)
            > 0)
        {
            snprintf(first, n, "%s", rep->element[excess]->element[0]->str);
        }
        freeReplyObject(rep);
    }

    return 0;

failed:

    if (rep) {
        freeReplyObject(rep);
    }
    first[0] = '\0';
    return -1;
}


int
cw_retain_prune(cw_redis_t *r, const cw_conf_t *c, cw_retain_pruned_t *out)
{
    int        rc = 0;
    char       first[48];
    long long  n;

    memset(out, 0, sizeof(*out));

    n = cw_retain_trim(r, c->key.archive, c->retain.archive_s,
                       c->retain.archive_max);
    if (n < 0) {
        rc = -1;
    } else {
        out->archive = n;
    }

    n = cw_retain_trim(r, c->key.dead, c->retain.dead_s, c->retain.dead_max);
    if (n < 0) {
        rc = -1;
    } else {
        out->dead = n;
    }

    /* the trail at most hourly: each prune of it is one anchor entry */
    if (!cw_retain_turn(r, c, "prune:audit", CW_RETAIN_AUDIT_EVERY_MS)) {
        first[0] = '\0';

    } else if (cw_retain_audit_first(r, c, first, sizeof(first)) != 0) {
        return -1;
    }

    if (first[0]) {
        n = cw_audit_prune(r, c, first);
        if (n < 0) {
            rc = -1;
        } else {
            out->audit = n;
        }
    }

    if (out->archive || out->dead || out->audit) {
        cw_debug("retain", "pruned archive=%lld dead=%lld audit=%lld",
                 out->archive, out->dead, out->audit);
    }

    return rc;
}


/* 1 when this worker takes the turn {prefix}:<what> for `ms` (SET NX PX) */
static int
cw_retain_turn(cw_redis_t *r, const cw_conf_t *c, const char *what, long ms)
{
    int          ours;
    char         key[320], px[24];
    redisReply  *rep;

    snprintf(key, sizeof(key), "%s:%s", c->redis.prefix, what);
    snprintf(px, sizeof(px), "%ld", ms);

    rep = cw_redis_cmd(r, "SET %s %s NX PX %s", key, c->worker.consumer, px);

    /* nil: another worker's turn; NULL: Redis is away */
    ours = rep && rep->type == REDIS_REPLY_STATUS;
    if (rep) {
        freeReplyObject(rep);
    }

    return ours;
}


void
cw_retain_tick(cw_redis_t *r, const cw_conf_t *c)
{
    cw_retain_pruned_t  p;

    if (cw_retain_turn(r, c, "prune", c->retain.prune_interval_ms)) {
        (void) cw_retain_prune(r, c, &p);
    }
}
