/*
 * caresync-worker: the status record.
 */

#include <stdio.h>
#include <string.h>

#include "cs_time.h"
#include "engine/cw_status.h"
#include "engine/cw_util.h"


void
cw_status_key(const char *prefix, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s:job:%s", prefix, id);
}


static void
cw_status_now(char out[CS_TIME_ISO_LEN + 1])
{
    cs_time_format_iso((int64_t) cw_now_ms(), out);
}


void
cw_status_running(cw_redis_t *r, const char *key, const char *type)
{
    char  now[CS_TIME_ISO_LEN + 1];

    cw_status_now(now);

    /* a replayed job may still carry the expiry of its earlier end */
    cw_redis_args(r, 8, "HSET", key, "status", "running", "type", type,
                  "updated_at", now);
    cw_redis_args(r, 2, "PERSIST", key);
    cw_redis_args(r, 4, "HINCRBY", key, "attempts", "1");
}


void
cw_status_write(cw_redis_t *r, const char *key, const cw_status_t *st)
{
    int          argc = 0;
    char         now[CS_TIME_ISO_LEN + 1], ttl[24];
    const char  *argv[24];

    cw_status_now(now);

    argv[argc++] = "HSET";
    argv[argc++] = key;
    argv[argc++] = "status";
    argv[argc++] = st->status;
    argv[argc++] = "updated_at";
    argv[argc++] = now;

#define CW_ST_FIELD(name, v)                                                  \
    if (v) {                                                                  \
        argv[argc++] = name;                                                  \
        argv[argc++] = v;                                                     \
    }

    CW_ST_FIELD("message", st->message);
    CW_ST_FIELD("last_error", st->last_error);
    CW_ST_FIELD("crm_contact_id", st->crm_contact_id);
    CW_ST_FIELD("hint_patient_id", st->hint_patient_id);
    CW_ST_FIELD("next_attempt_at", st->next_attempt_at);
    CW_ST_FIELD("trace_id", st->trace_id);

#undef CW_ST_FIELD

    cw_redis_appendv(r, argc, argv, NULL);

    if (st->next_attempt_at == NULL && st->retried) {
        cw_redis_args(r, 3, "HDEL", key, "next_attempt_at");
    }

    if (st->ttl_s > 0) {
        snprintf(ttl, sizeof(ttl), "%ld", st->ttl_s);
        cw_redis_args(r, 3, "EXPIRE", key, ttl);
    }
}


void
cw_status_requeued(cw_redis_t *r, const char *key, const char *from)
{
    char  now[CS_TIME_ISO_LEN + 1];

    cw_status_now(now);

    cw_redis_append(r, "HSET %s status queued attempts 0 updated_at %s",
                    key, now);
    if (from) {
        cw_redis_append(r, "HSET %s replay_of %s", key, from);
        cw_redis_append(r, "HINCRBY %s replays 1", key);
    }
    cw_redis_append(r, "PERSIST %s", key);
}


void
cw_status_index_key(const char *prefix, const char *name, char *out,
    size_t n)
{
    snprintf(out, n, "%s:patient:%s", prefix, name);
}


void
cw_status_index(cw_redis_t *r, const char *prefix, const char *name,
    const char *job_id, long ttl_s)
{
    char  key[CW_STATUS_KEY_MAX + 160], ttl[24];

    cw_status_index_key(prefix, name, key, sizeof(key));
    snprintf(ttl, sizeof(ttl), "%ld", ttl_s);

    cw_redis_args(r, 3, "SADD", key, job_id);
    cw_redis_args(r, 3, "EXPIRE", key, ttl);
}
