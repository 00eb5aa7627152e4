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
    const char  *argv[20];

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
cw_status_index(cw_redis_t *r, const char *prefix, const char *what,
    const char *id, const char *job_id, long ttl_s)
{
    char    key[CW_STATUS_KEY_MAX], now[24], ttl[24], keep[24];
    size_t  i, n;

    n = id ? strlen(id) : 0;

    if (n == 0 || n > 64) {
        return;
    }

    for (i = 0; i < n; i++) {
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= 'A' && id[i] <= 'Z')
              || (id[i] >= '0' && id[i] <= '9') || strchr("_.-", id[i])))
        {
            return;
        }
    }

    snprintf(key, sizeof(key), "%s:jobs_by:%s:%s", prefix, what, id);
    snprintf(now, sizeof(now), "%llu", (unsigned long long) cw_now_ms());
    snprintf(ttl, sizeof(ttl), "%ld", ttl_s);
    snprintf(keep, sizeof(keep), "%d", -(CW_STATUS_INDEX_MAX + 1));

    cw_redis_args(r, 4, "ZADD", key, now, job_id);
    cw_redis_args(r, 4, "ZREMRANGEBYRANK", key, "0", keep);
    cw_redis_args(r, 3, "EXPIRE", key, ttl);
}


void
cw_status_requeued(cw_redis_t *r, const char *key)
{
    char  now[CS_TIME_ISO_LEN + 1];

    cw_status_now(now);

    cw_redis_append(r, "HSET %s status queued attempts 0 updated_at %s",
                    key, now);
    cw_redis_append(r, "PERSIST %s", key);
}
