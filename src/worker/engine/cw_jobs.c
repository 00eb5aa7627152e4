/*
 * caresync-worker: jobs, their handlers, and how a job ends.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_time.h"
#include "engine/cw_jobs.h"
#include "engine/cw_log.h"
#include "engine/cw_status.h"
#include "engine/cw_util.h"

#define CW_MAX_HANDLERS  32

static const cw_handler_t  *cw_handlers[CW_MAX_HANDLERS];
static int                  cw_nhandlers;


void
cw_jobs_register(const cw_handler_t *h)
{
    if (cw_nhandlers < CW_MAX_HANDLERS) {
        cw_handlers[cw_nhandlers++] = h;
    }
}


void
cw_jobs_init(void)
{
    if (cw_nhandlers == 0) {
        cw_h_user_action_register();
        cw_h_enrollment_register();
        cw_h_hint_register();
        cw_h_healthsherpa_register();
        cw_batch_register();
    }
}


const cw_handler_t *
cw_jobs_find(const char *type)
{
    int  i;

    for (i = 0; type && i < cw_nhandlers; i++) {
        if (strcmp(cw_handlers[i]->type, type) == 0) {
            return cw_handlers[i];
        }
    }

    return NULL;
}


/* Ids go into key names and log lines: a safe alphabet, bounded length */
static int
cw_job_id_ok(const char *s)
{
    size_t  n = 0;

    for (; *s; s++, n++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'
              || *s == '.' || *s == ':'))
        {
            return 0;
        }
    }

    return n > 0 && n < 129;
}


static cw_job_t *
cw_job_new(cw_worker_t *w, cw_entry_t *e)
{
    cw_job_t     *job;
    const char   *id;

    job = cw_calloc(1, sizeof(*job));
    job->w = w;
    snprintf(job->stream_id, sizeof(job->stream_id), "%s", e->stream_id);
    job->raw = e->job;
    job->raw_len = e->len;
    e->job = NULL;
    job->started_ms = cw_mono_ms();

    job->env = json_loadb(job->raw, job->raw_len, 0, NULL);
    id = job->env ? json_string_value(json_object_get(job->env, "id")) : NULL;
    job->type = job->env
                ? json_string_value(json_object_get(job->env, "type")) : NULL;

    /* without a usable id the stream id names the job */
    snprintf(job->id, sizeof(job->id), "%s",
             id && cw_job_id_ok(id) ? id : job->stream_id);

    job->next = w->jobs;
    if (w->jobs) {
        w->jobs->prev = job;
    }
    w->jobs = job;
    w->njobs++;
    w->started++;

    return job;
}


static void
cw_job_free(cw_job_t *job)
{
    cw_worker_t  *w = job->w;

    if (job->prev) {
        job->prev->next = job->next;
    } else {
        w->jobs = job->next;
    }

    if (job->next) {
        job->next->prev = job->prev;
    }

    w->njobs--;

    if (job->hfree) {
        job->hfree(job);
    }

    if (job->env) {
        json_decref(job->env);
    }

    free(job->raw);
    free(job);
}


static void
cw_job_key(cw_job_t *job, char *key, size_t n)
{
    cw_status_key(job->w->conf->prefix, job->id, key, n);
}


static const char *
cw_job_type(cw_job_t *job)
{
    return job->type ? job->type : "unknown";
}


/* Status, then the queue operation, then XACK/XDEL: all or nothing. */
static void
cw_job_end(cw_job_t *job, const cw_status_t *st, int dead, const char *err,
    long long retry_due)
{
    char          key[CW_STATUS_KEY_MAX];
    cw_worker_t  *w = job->w;

    cw_job_key(job, key, sizeof(key));

    cw_redis_append(&w->redis, "MULTI");
    cw_status_write(&w->redis, key, st);

    if (retry_due) {
        cw_queue_retry(&w->queue, job->raw, job->raw_len, retry_due);
    }

    if (dead) {
        cw_queue_dead(&w->queue, job->raw, job->raw_len, job->id,
                      cw_job_type(job), err, job->attempts);
    }

    cw_queue_ack(&w->queue, job->stream_id);
    cw_redis_append(&w->redis, "EXEC");
}


void
cw_job_done(cw_job_t *job, const char *status, const char *message)
{
    cw_status_t  st;

    if (job->w->abandon) {
        cw_job_free(job);
        return;
    }

    if (job->hend) {
        job->hend(job, status, message);
    }

    memset(&st, 0, sizeof(st));
    st.retried = job->attempts > 1;
    st.status = status;
    st.message = message;
    st.crm_contact_id = job->crm_contact_id[0] ? job->crm_contact_id : NULL;
    st.hint_patient_id = job->hint_patient_id[0] ? job->hint_patient_id
                                                 : NULL;
    st.ttl_s = job->w->conf->status_ttl_s;

    cw_job_end(job, &st, 0, NULL, 0);

    cw_debug("job", "done job_id=%s type=%s status=%s attempts=%ld ms=%llu",
             job->id, cw_job_type(job), status, job->attempts,
             (unsigned long long) (cw_mono_ms() - job->started_ms));

    job->w->finished++;
    cw_job_free(job);
}


/* Exponential with "equal jitter": half fixed, half random. */
static long long
cw_job_backoff(const cw_conf_t *c, long attempts, long retry_after_ms)
{
    long long  d;
    long       i;

    d = c->backoff_base_ms;
    for (i = 1; i < attempts && d < c->backoff_max_ms; i++) {
        d *= 2;
    }

    if (d > c->backoff_max_ms) {
        d = c->backoff_max_ms;
    }

    d = d / 2 + (long long) cw_rand((uint64_t) (d / 2 + 1));

    /* the server knows best, up to an hour */
    if (retry_after_ms > d) {
        d = retry_after_ms > 3600000 ? 3600000 : retry_after_ms;
    }

    return d;
}


void
cw_job_fail(cw_job_t *job, const cw_err_t *err)
{
    char              next[CS_TIME_ISO_LEN + 1], msg[512];
    long long         delay;
    cw_status_t       st;
    cw_worker_t      *w = job->w;
    const cw_conf_t  *c = w->conf;

    if (w->abandon) {
        /* shutting down past the deadline: the entry stays pending */
        cw_job_free(job);
        return;
    }

    memset(&st, 0, sizeof(st));
    st.retried = job->attempts > 1;
    st.crm_contact_id = job->crm_contact_id[0] ? job->crm_contact_id : NULL;
    st.hint_patient_id = job->hint_patient_id[0] ? job->hint_patient_id
                                                 : NULL;
    st.last_error = err->message;

    if (err->cls == CW_ERR_TRANSIENT && job->attempts < c->max_attempts) {
        delay = cw_job_backoff(c, job->attempts, err->retry_after_ms);
        cs_time_format_iso((int64_t) (cw_now_ms() + (uint64_t) delay), next);

        st.status = "retrying";
        st.message = "Sync delayed: the remote system is busy or "
                     "unreachable, it will be retried automatically";
        st.next_attempt_at = next;

        cw_job_end(job, &st, 0, NULL,
                   (long long) cw_now_ms() + delay);

        cw_error("job", "retrying job_id=%s type=%s attempts=%ld "
                 "delay_ms=%lld code=%s http_status=%ld error=\"%s\"",
                 job->id, cw_job_type(job), job->attempts, delay,
                 cw_err_name(err), err->http_status, err->message);

        w->retried++;
        cw_job_free(job);
        return;
    }

    if (err->cls == CW_ERR_TRANSIENT) {
        snprintf(msg, sizeof(msg), "gave up after %ld attempts: %s",
                 job->attempts, err->message);
        st.last_error = msg;
        st.message = "Sync failed after repeated attempts; an operator can "
                     "replay it from the dead-letter queue";

    } else {
        /* the person reading the CRM or the status sees what to fix */
        st.message = err->message;
    }

    st.status = "failed";
    st.ttl_s = c->status_ttl_s;

    if (job->hend) {
        job->hend(job, "failed", st.message);
    }

    /*
     * Permanent failures go to the dead-letter queue too: once the cause
     * is fixed (a field, a credential), `dlq replay` runs them again.
     */
    cw_job_end(job, &st, 1, st.last_error, 0);

    cw_log(err->cls == CW_ERR_TRANSIENT ? CW_LOG_ERROR : CW_LOG_EXCEPTION,
           "job", "failed job_id=%s type=%s attempts=%ld code=%s "
           "http_status=%ld error=\"%s\"", job->id, cw_job_type(job),
           job->attempts, cw_err_name(err), err->http_status, st.last_error);

    w->dead++;
    w->finished++;
    cw_job_free(job);
}


void
cw_job_failf(cw_job_t *job, cw_err_class_e cls, cw_err_e code,
    const char *fmt, ...)
{
    va_list   ap;
    cw_err_t  err;

    cw_err_set(&err, cls, code, "%s", "");

    va_start(ap, fmt);
    vsnprintf(err.message, sizeof(err.message), fmt, ap);
    va_end(ap);

    cw_job_fail(job, &err);
}


void
cw_jobs_start(cw_worker_t *w, cw_entry_t *entries, int n)
{
    int           i;
    char          key[CW_STATUS_KEY_MAX];
    cw_job_t    **jobs;
    redisReply   *rep;

    if (n == 0) {
        return;
    }

    jobs = cw_calloc((size_t) n, sizeof(*jobs));

    /* one round trip for the whole batch: running + attempts */
    (void) cw_redis_flush(&w->redis);

    for (i = 0; i < n; i++) {
        jobs[i] = cw_job_new(w, &entries[i]);
        cw_job_key(jobs[i], key, sizeof(key));
        cw_status_running(&w->redis, key, cw_job_type(jobs[i]));
    }

    for (i = 0; i < n; i++) {
        /* HSET, PERSIST, HINCRBY */
        rep = cw_redis_next(&w->redis);
        if (rep) {
            freeReplyObject(rep);
        }
        rep = cw_redis_next(&w->redis);
        if (rep) {
            freeReplyObject(rep);
        }
        rep = cw_redis_next(&w->redis);

        if (rep && rep->type == REDIS_REPLY_INTEGER) {
            jobs[i]->attempts = (long) rep->integer;
        }

        if (rep) {
            freeReplyObject(rep);
        }
    }

    for (i = 0; i < n; i++) {
        cw_job_t  *job = jobs[i];

        if (job->attempts == 0) {
            /* Redis went away: leave the entry pending for a reclaim */
            cw_error("job", "cannot record the start, leaving it pending "
                     "job_id=%s", job->id);
            w->started--;
            cw_job_free(job);
            continue;
        }

        if (job->env == NULL || !json_is_object(job->env)) {
            cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_ENVELOPE,
                         "the queued job is not a JSON object (stream entry "
                         "%s): it cannot be processed", job->stream_id);
            continue;
        }

        job->handler = cw_jobs_find(job->type);

        if (job->handler == NULL) {
            cw_job_failf(job, CW_ERR_PERMANENT, CW_E_UNKNOWN_TYPE,
                         "no handler for job type `%.64s`: deploy a worker "
                         "that knows it, then replay the job",
                         cw_job_type(job));
            continue;
        }

        if (job->attempts > w->conf->max_attempts) {
            /* a job that keeps killing its workers stops here */
            cw_job_failf(job, CW_ERR_PERMANENT, CW_E_TOO_MANY_ATTEMPTS,
                         "started %ld times without finishing (workers "
                         "crashed or were stopped)", job->attempts - 1);
            continue;
        }

        cw_debug("job", "start job_id=%s type=%s attempt=%ld", job->id,
                 job->type, job->attempts);

        job->handler->start(job);
    }

    free(jobs);
}
