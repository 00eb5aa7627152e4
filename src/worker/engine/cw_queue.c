/*
 * caresync-worker: the Redis side of the queue.
 */

#include <stdio.h>
#include <string.h>

#include "engine/cw_log.h"
#include "engine/cw_queue.h"
#include "engine/cw_util.h"


/* Due retries back into the stream: ZREM and XADD together or not at all */
static const char  cw_queue_promote_lua[] =
    "local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], "
    "'LIMIT', 0, tonumber(ARGV[2])) "
    "for _, m in ipairs(due) do "
    "redis.call('ZREM', KEYS[1], m) "
    "local o, j = string.match(m, '^(%d+)\t(.*)$') "
    "if o then redis.call('XADD', KEYS[2], '*', 'job', j, 'order', o) "
    "else redis.call('XADD', KEYS[2], '*', 'job', m) end "
    "end "
    "return #due";


void
cw_queue_init(cw_queue_t *q, cw_redis_t *redis, const cw_conf_t *conf)
{
    q->redis = redis;
    q->conf = conf;
    strcpy(q->claim_cursor, "0-0");
}


int
cw_queue_ensure_group(cw_queue_t *q, cw_err_t *err)
{
    int          rc = 0;
    redisReply  *rep;

    /*
     * From id 0, not $: jobs queued before the first worker ever ran are
     * work too.
     */
    rep = cw_redis_cmd(q->redis, "XGROUP CREATE %s %s 0 MKSTREAM",
                       q->conf->key.jobs, CW_QUEUE_GROUP);
    if (rep == NULL) {
        cw_err_set(err, CW_ERR_TRANSIENT, CW_E_REDIS_CONNECT,
                   "cannot reach Redis at %s:%d", q->redis->host,
                   q->redis->port);
        return -1;
    }

    if (rep->type == REDIS_REPLY_ERROR) {
        if (strncmp(rep->str, "BUSYGROUP", 9) != 0) {
            cw_err_set(err, CW_ERR_PERMANENT, CW_E_REDIS_REFUSED,
                       "XGROUP CREATE %s failed: %s", q->conf->key.jobs,
                       rep->str);
            rc = -1;
        }

    } else {
        cw_debug("queue", "consumer group created stream=%s group=%s",
                 q->conf->key.jobs, CW_QUEUE_GROUP);
    }

    freeReplyObject(rep);
    return rc;
}


/* [[id, [field, value, ...]], ...] */
static int
cw_queue_entries(redisReply *list, cw_queue_entry_pt cb, void *data)
{
    int          n = 0;
    size_t       i, j;
    redisReply  *e, *fv, *job, *order;

    if (list == NULL || list->type != REDIS_REPLY_ARRAY) {
        return 0;
    }

    for (i = 0; i < list->elements; i++) {
        e = list->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 2
            || e->element[0]->type != REDIS_REPLY_STRING)
        {
            continue;
        }

        fv = e->element[1];
        job = NULL;
        order = NULL;

        if (fv->type == REDIS_REPLY_ARRAY) {
            for (j = 0; j + 1 < fv->elements; j += 2) {
                if (fv->element[j]->type != REDIS_REPLY_STRING
                    || fv->element[j + 1]->type != REDIS_REPLY_STRING)
                {
                    continue;
                }

                if (strcmp(fv->element[j]->str, "job") == 0) {
                    job = fv->element[j + 1];

                } else if (strcmp(fv->element[j]->str, "order") == 0) {
                    order = fv->element[j + 1];
                }
            }
        }

        /* an entry without `job` still reaches the caller: it dead-letters */
        cb(data, e->element[0]->str, order ? order->str : NULL,
           job ? job->str : "", job ? job->len : 0);
        n++;
    }

    return n;
}


int
cw_queue_read(cw_queue_t *q, int count, long block_ms,
    cw_queue_entry_pt cb, void *data)
{
    int          n;
    char         cnt[16], blk[24];
    redisReply  *rep;

    snprintf(cnt, sizeof(cnt), "%d", count);
    snprintf(blk, sizeof(blk), "%ld", block_ms);

    if (block_ms > 0) {
        rep = cw_redis_cmd(q->redis, "XREADGROUP GROUP %s %s COUNT %s "
                           "BLOCK %s STREAMS %s >", CW_QUEUE_GROUP,
                           q->conf->worker.consumer, cnt, blk,
                           q->conf->key.jobs);
    } else {
        rep = cw_redis_cmd(q->redis, "XREADGROUP GROUP %s %s COUNT %s "
                           "STREAMS %s >", CW_QUEUE_GROUP,
                           q->conf->worker.consumer, cnt, q->conf->key.jobs);
    }

    if (rep == NULL) {
        return -1;
    }

    if (rep->type == REDIS_REPLY_ERROR) {
        /* the group vanished (FLUSHALL, a new Redis): make it again */
        if (strncmp(rep->str, "NOGROUP", 7) == 0) {
            cw_err_t  err;

            if (cw_queue_ensure_group(q, &err) != 0) {
                cw_error("queue", "%s", err.message);
            }

        } else {
            cw_error("queue", "XREADGROUP failed error=\"%s\"", rep->str);
        }

        freeReplyObject(rep);
        return -1;
    }

    n = 0;

    /* nil on timeout; else [[stream, [[id, fields], ...]]] */
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0
        && rep->element[0]->type == REDIS_REPLY_ARRAY
        && rep->element[0]->elements == 2)
    {
        n = cw_queue_entries(rep->element[0]->element[1], cb, data);
    }

    freeReplyObject(rep);
    return n;
}


int
cw_queue_reclaim(cw_queue_t *q, int count, cw_queue_entry_pt cb,
    void *data)
{
    int          n;
    char         idle[24], cnt[16];
    redisReply  *rep;

    snprintf(idle, sizeof(idle), "%ld", q->conf->worker.claim_idle_ms);
    snprintf(cnt, sizeof(cnt), "%d", count);

    rep = cw_redis_cmd(q->redis, "XAUTOCLAIM %s %s %s %s %s COUNT %s",
                       q->conf->key.jobs, CW_QUEUE_GROUP,
                       q->conf->worker.consumer, idle, q->claim_cursor, cnt);
    if (rep == NULL) {
        return -1;
    }

    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2) {
        cw_error("queue", "XAUTOCLAIM failed error=\"%s\"",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "bad reply");
        freeReplyObject(rep);
        return -1;
    }

    /* [next cursor, entries, deleted ids]; the cursor wraps to 0-0 */
    if (rep->element[0]->type == REDIS_REPLY_STRING
        && rep->element[0]->len < sizeof(q->claim_cursor))
    {
        memcpy(q->claim_cursor, rep->element[0]->str,
               rep->element[0]->len + 1);
    }

    n = cw_queue_entries(rep->element[1], cb, data);

    if (n) {
        cw_debug("queue", "reclaimed idle jobs count=%d", n);
    }

    freeReplyObject(rep);
    return n;
}


void
cw_queue_touch(cw_queue_t *q, const char **ids, int n)
{
    int           i, argc;
    const char  **argv;

    if (n == 0) {
        return;
    }

    /* XCLAIM to ourselves with min-idle 0 resets the idle clock */
    argv = cw_calloc((size_t) n + 7, sizeof(char *));
    argc = 0;
    argv[argc++] = "XCLAIM";
    argv[argc++] = q->conf->key.jobs;
    argv[argc++] = CW_QUEUE_GROUP;
    argv[argc++] = q->conf->worker.consumer;
    argv[argc++] = "0";

    for (i = 0; i < n; i++) {
        argv[argc++] = ids[i];
    }

    argv[argc++] = "JUSTID";

    cw_redis_appendv(q->redis, argc, argv, NULL);
    free(argv);
}


int
cw_queue_promote(cw_queue_t *q, int max)
{
    int          n;
    char         now[24], cnt[16];
    redisReply  *rep;

    snprintf(now, sizeof(now), "%llu", (unsigned long long) cw_now_ms());
    snprintf(cnt, sizeof(cnt), "%d", max);

    rep = cw_redis_cmd(q->redis, "EVAL %s 2 %s %s %s %s",
                       cw_queue_promote_lua, q->conf->key.retry,
                       q->conf->key.jobs, now, cnt);
    if (rep == NULL) {
        return -1;
    }

    if (rep->type != REDIS_REPLY_INTEGER) {
        cw_error("queue", "retry promotion failed error=\"%s\"",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "bad reply");
        freeReplyObject(rep);
        return -1;
    }

    n = (int) rep->integer;
    freeReplyObject(rep);

    if (n) {
        cw_debug("queue", "retries due moved to the stream count=%d", n);
    }

    return n;
}


void
cw_queue_ack(cw_queue_t *q, const char *stream_id)
{
    cw_redis_args(q->redis, 4, "XACK", q->conf->key.jobs, CW_QUEUE_GROUP,
                  stream_id);
    cw_redis_args(q->redis, 3, "XDEL", q->conf->key.jobs, stream_id);
}


void
cw_queue_retry(cw_queue_t *q, const char *order, const char *job,
    size_t len, long long due_ms)
{
    char  due[24];

    snprintf(due, sizeof(due), "%lld", due_ms);
    cw_redis_append(q->redis, "ZADD %s %s %s\t%b", q->conf->key.retry, due,
                    order, job, len);
}


void
cw_queue_dead(cw_queue_t *q, const char *job, size_t len,
    const char *job_id, const char *type, const char *error, long attempts)
{
    char  att[24], at[24];

    snprintf(att, sizeof(att), "%ld", attempts);
    snprintf(at, sizeof(at), "%llu", (unsigned long long) cw_now_ms());

    cw_redis_append(q->redis, "XADD %s * job_id %s type %s error %s "
                    "attempts %s failed_at %s job %b", q->conf->key.dead,
                    job_id, type, error, att, at, job, len);
}
