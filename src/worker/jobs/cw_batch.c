/*
 * caresync-worker: batches and the batch.item handler (see cw_batch.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "cs_id.h"
#include "cs_time.h"
#include "jobs/cw_batch.h"
#include "engine/cw_jobs.h"
#include "engine/cw_log.h"
#include "engine/cw_util.h"

/* entries per pipeline flush while queueing a big batch */
#define CW_BATCH_CHUNK  500

/*
 * An item's result, idempotently: a job run twice (reclaimed after a
 * crash, or replayed from the dead-letter queue) moves its count from the
 * old status to the new one instead of counting twice.
 */
static cw_script_t  cw_batch_lua = {
    "local old = redis.call('HGET', KEYS[2], ARGV[1])\n"
    "redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])\n"
    "if old then\n"
    "  redis.call('HINCRBY', KEYS[1], string.match(old, '^[^\\t]*'), -1)\n"
    "else\n"
    "  redis.call('HINCRBY', KEYS[1], 'pending', -1)\n"
    "end\n"
    "redis.call('HINCRBY', KEYS[1], ARGV[2], 1)\n"
    "local ttl = redis.call('TTL', KEYS[1])\n"
    "if ttl > 0 and redis.call('TTL', KEYS[2]) < 0 then\n"
    "  redis.call('EXPIRE', KEYS[2], ttl)\n"
    "end\n"
    "return 1\n",
    "", 0
};


void
cw_batch_key(const cw_conf_t *conf, const char *id, const char *sfx,
    char *out, size_t n)
{
    snprintf(out, n, "%s:batch:%s%s%s", conf->redis.prefix, id, sfx ? ":" : "",
             sfx ? sfx : "");
}


int
cw_batch_new_id(char id[CW_BATCH_ID_LEN])
{
    time_t         t = time(NULL);
    struct tm      tm;
    unsigned char  rnd[3];

    if (cs_id_random(rnd, sizeof(rnd)) != 0) {
        return -1;
    }

    gmtime_r(&t, &tm);
    snprintf(id, CW_BATCH_ID_LEN, "b%04d%02d%02d%02d%02d%02d%02x%02x%02x",
             (tm.tm_year + 1900) % 10000, (tm.tm_mon + 1) % 100,
             tm.tm_mday % 100, tm.tm_hour % 100, tm.tm_min % 100,
             tm.tm_sec % 100, rnd[0], rnd[1], rnd[2]);
    return 0;
}


void
cw_batch_item_id(const char *id, size_t i, char *out, size_t n)
{
    snprintf(out, n, "%s-%06zu", id, i + 1);
}


static int
cw_batch_flush(cw_redis_t *r)
{
    return cw_redis_flush(r);
}


int
cw_batch_create(cw_redis_t *r, const cw_conf_t *conf,
    const cw_batch_spec_t *spec, char **ids, size_t n,
    char id[CW_BATCH_ID_LEN])
{
    char        key[256], items[256], jid[64], at[CS_TIME_ISO_LEN + 1];
    char        total[32], ignored[32], idem[160], list[256], score[32];
    char       *job;
    uint64_t    now;
    size_t      i;
    json_t     *env;

    if (cw_batch_new_id(id) != 0) {
        return -2;
    }

    cw_batch_key(conf, id, NULL, key, sizeof(key));
    cw_batch_key(conf, id, "items", items, sizeof(items));
    cs_time_format_iso((int64_t) cw_now_ms(), at);

    snprintf(total, sizeof(total), "%zu", n);
    snprintf(ignored, sizeof(ignored), "%zu", spec->ignored);

    /* the record first: a status command sees the batch at once */
    cw_redis_append(r, "HSET %s kind %s item %s agent %s total %s "
                    "pending %s ignored %s matched 0 no_match 0 failed 0 "
                    "skipped 0 aborted 0 created_at %s", key, spec->kind,
                    spec->item, spec->agent ? spec->agent : "", total,
                    total, ignored, at);

    /* a batch lives as long as its items' status records */
    cw_redis_append(r, "EXPIRE %s %ld", key, conf->worker.status_ttl_s);

    /*
     * The list the console shows, newest first: bounded by age (a batch
     * past its life is gone anyway) and by count.
     */
    now = cw_now_ms();
    snprintf(list, sizeof(list), "%s:batches", conf->redis.prefix);
    snprintf(score, sizeof(score), "%llu", (unsigned long long) now);
    cw_redis_append(r, "ZADD %s %s %s", list, score, id);
    snprintf(score, sizeof(score), "(%llu", (unsigned long long)
             (now - (uint64_t) conf->worker.status_ttl_s * 1000));
    cw_redis_append(r, "ZREMRANGEBYSCORE %s -inf %s", list, score);
    cw_redis_append(r, "ZREMRANGEBYRANK %s 0 %d", list,
                    -(CW_BATCH_LIST_MAX + 1));
    cw_redis_append(r, "EXPIRE %s %ld", list, conf->worker.status_ttl_s);

    snprintf(total, sizeof(total), "%zu", n);
    snprintf(ignored, sizeof(ignored), "%zu", spec->ignored);

    for (i = 0; i < n; i++) {
        cw_batch_item_id(id, i, jid, sizeof(jid));
        snprintf(idem, sizeof(idem), "%s:%s", id, ids[i]);

        env = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s},"
                        "s:{s:s,s:s,s:s,s:s?}}",
                        "v", 1, "id", jid, "type", "batch.item",
                        "received_at", at, "idempotency_key", idem,
                        "source", "system", "crm", "event", "batch",
                        "event_id", id,
                        "action", "contact_id", ids[i], "batch_id", id,
                        "item", spec->item, "agent", spec->agent);
        job = json_dumps(env, JSON_COMPACT);
        json_decref(env);

        cw_redis_append(r, "RPUSH %s %s", items, ids[i]);
        cw_redis_append(r, "HSET %s:job:%s status queued type batch.item",
                        conf->redis.prefix, jid);
        cw_redis_append(r, "XADD %s * job %s", conf->key.jobs, job);
        free(job);

        if ((i + 1) % CW_BATCH_CHUNK == 0 && cw_batch_flush(r) != 0) {
            return -1;
        }
    }

    cw_redis_append(r, "EXPIRE %s %ld", items, conf->worker.status_ttl_s);

    return cw_batch_flush(r);
}


/* ---- the batch.item handler ---- */

static void
cw_batch_item_end(cw_job_t *job, const char *status, const char *message)
{
    int          i;
    char         key[256], res[256], val[600];
    size_t       lens[8];
    const char  *batch = job->hend_data;
    const char  *cid, *argv[8];

    /*
     * Keyed by the item's id as queued (what the report looks up), not
     * by the contact the handler found: Hint's hint-to-crm items are
     * patient ids.
     */
    cid = cw_env_str(cw_env_get(job->env.root, "action"), "contact_id");

    cw_batch_key(job->w->conf, batch, NULL, key, sizeof(key));
    cw_batch_key(job->w->conf, batch, "results", res, sizeof(res));

    /* tabs separate the parts; a message never carries one */
    snprintf(val, sizeof(val), "%s\t%s\t%s", status, job->id,
             message ? message : "");

    argv[2] = "2";
    argv[3] = key;
    argv[4] = res;
    argv[5] = cid ? cid : "?";
    argv[6] = status;
    argv[7] = val;
    for (i = 2; i < 8; i++) {
        lens[i] = strlen(argv[i]);
    }

    cw_redis_script(&job->w->redis, &cw_batch_lua, argv, lens);
    cw_redis_appendv(&job->w->redis, 8, argv, lens);
}


static void
cw_batch_start(cw_job_t *job)
{
    char                key[256];
    const cs_json_t    *action = cw_env_get(job->env.root, "action");
    redisReply         *rep;
    const char         *batch, *item, *cid;
    const cw_handler_t *h;

    batch = cw_env_str(action, "batch_id");
    item = cw_env_str(action, "item");
    cid = cw_env_str(action, "contact_id");

    if (batch == NULL || item == NULL || cid == NULL
        || strcmp(item, "batch.item") == 0)
    {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB, "a batch.item job "
                     "needs action.batch_id, action.item and "
                     "action.contact_id");
        return;
    }

    /* from here on every end of the job is an item result */
    job->hend = cw_batch_item_end;
    job->hend_data = (void *) batch;            /* lives in job->env */
    snprintf(job->crm_contact_id, sizeof(job->crm_contact_id), "%s", cid);

    /* the abort flag, between items: a read costs far less than the item */
    cw_batch_key(job->w->conf, batch, NULL, key, sizeof(key));
    rep = cw_redis_cmd(&job->w->redis, "HGET %s aborted", key);

    if (rep && rep->type == REDIS_REPLY_STRING && strcmp(rep->str, "1") == 0)
    {
        freeReplyObject(rep);
        cw_job_done(job, "skipped", "Batch aborted before this contact");
        return;
    }

    if (rep) {
        freeReplyObject(rep);
    }

    h = cw_jobs_find(item);
    if (h == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_UNKNOWN_TYPE,
                     "no handler for batch item type `%.64s`", item);
        return;
    }

    /* the item's handler owns hdata and hfree as for any job */
    h->start(job);
}


/* The item's patient, as its own handler names it. */
static int
cw_batch_patient(cw_job_t *job, cw_patient_t *p)
{
    const char          *item;
    const cw_handler_t  *h;

    item = cw_env_str(cw_env_get(job->env.root, "action"), "item");
    h = item && strcmp(item, "batch.item") != 0 ? cw_jobs_find(item) : NULL;

    return h && h->patient ? h->patient(job, p) : -1;
}


const cw_handler_t  cw_h_batch_item[] = {
    { "batch.item", cw_batch_start, cw_batch_patient },
    { NULL, NULL, NULL }
};
