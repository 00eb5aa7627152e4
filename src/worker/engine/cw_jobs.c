/*
 * caresync-worker: jobs, their handlers, and how a job ends.
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_time.h"
#include "engine/cw_crypto.h"
#include "engine/cw_jobs.h"
#include "engine/cw_log.h"
#include "engine/cw_metrics.h"
#include "engine/cw_retain.h"
#include "engine/cw_status.h"
#include "engine/cw_trace.h"
#include "engine/cw_util.h"

#define CW_JOB_ID_MAX    128

/*
 * A job that found its second key busy tries again this soon; it keeps
 * its order, so it still goes before what was queued after it.
 */
#define CW_JOB_PARK_MS   200

static const cw_handler_t  *const cw_handler_tables[] = {
    cw_h_user_action,
    cw_h_enrollment,
    cw_h_hint_patient,
    cw_h_contact_changed,
    cw_h_hint_sync,
    cw_h_hint_unlink,
    cw_h_healthsherpa,
    cw_h_batch_item,
    cw_h_ops,
};


const cw_handler_t *
cw_jobs_find(const char *type)
{
    size_t               i;
    const cw_handler_t  *h;

    if (type == NULL) {
        return NULL;
    }

    for (i = 0; i < sizeof(cw_handler_tables) / sizeof(cw_handler_tables[0]);
         i++)
    {
        for (h = cw_handler_tables[i]; h->type; h++) {
            if (strcmp(h->type, type) == 0) {
                return h;
            }
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
    char         *text;
    size_t        text_len;
    cw_job_t     *job;
    const char   *id;

    job = cw_calloc(1, sizeof(*job));
    job->w = w;
    snprintf(job->stream_id, sizeof(job->stream_id), "%s", e->stream_id);
    memcpy(job->order, e->order, sizeof(job->order));
    job->raw = e->job;
    job->raw_len = e->len;
    e->job = NULL;
    job->started_ms = cw_mono_ms();

    /*
     * Sealed PHI opened for the handler, and parsed into the envelope's
     * own copy: the opened text is wiped at once, so one copy in the
     * clear lives for the job, wiped with it.  job->raw stays as queued.
     */
    job->refused = cw_crypto_open(w->conf, job->raw, job->raw_len,
                                  &text, &text_len);
    (void) cw_env_parse(&job->env, text, text_len);
    cw_crypto_close(text, text_len, job->raw);
    id = cw_env_str(job->env.root, "id");
    job->type = cw_env_str(job->env.root, "type");

    /* without a usable id the stream id names the job */
    snprintf(job->id, sizeof(job->id), "%s",
             id && cw_job_id_ok(id) ? id : job->stream_id);

    /* the edge's trace, checked again (anything can XADD a job) */
    job->trace = cw_trace_new(cw_env_str(job->env.root, "traceparent"),
                              job->id, job->type);
    job->received_at = cw_env_str(job->env.root, "received_at");

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

    cw_env_free(&job->env);

    free(job->refused);
    cw_trace_drop(job->trace);
    free(job->raw);
    free(job);
}


static void
cw_job_key(cw_job_t *job, char *key, size_t n)
{
    cw_status_key(job->w->conf->redis.prefix, job->id, key, n);
}


static const char *
cw_job_type(cw_job_t *job)
{
    return job->type ? job->type : "unknown";
}


/*
 * The patient keys: to the next parked job, or kept `keep_ms` more for
 * this one (a retry keeps its turn).
 */
static void
cw_job_unlock(cw_job_t *job, long long keep_ms)
{
    int  i;

    for (i = 0; i < job->nlocks; i++) {
        cw_lock_release(&job->w->redis, job->w->conf, job->locks[i],
                        job->order, keep_ms);
    }

    job->nlocks = 0;
}


/* The patient index (cw_status.h): a key the job held, or an id it linked */
static void
cw_job_index(cw_job_t *job, const char *what, const char *id)
{
    cw_patient_t  p;

    if (id == NULL || cw_patient_key(&p, what, id) != 0) {
        return;
    }

    cw_status_index(&job->w->redis, job->w->conf->redis.prefix, p.name,
                    job->id, cw_retain_longest(job->w->conf));
}


/* Status, then the queue operation, then XACK/XDEL: all or nothing. */
static void
cw_job_end(cw_job_t *job, cw_status_t *st, int dead, const char *err,
    long long retry_due, const cw_err_t *cause)
{
    char            key[CW_STATUS_KEY_MAX];
    cw_worker_t    *w = job->w;
    cw_trace_end_t  te;

    cw_job_key(job, key, sizeof(key));
    st->trace_id = cw_trace_id(job->trace);

    cw_redis_args(&w->redis, 1, "MULTI");
    cw_status_write(&w->redis, key, st);

    te.attempt = job->attempts;
    te.status = st->status;
    te.err = cause;
    te.stream_id = job->stream_id;
    te.received_at = job->received_at;
    te.ttl_s = w->conf->worker.status_ttl_s;
    cw_trace_end(job->trace, &w->redis, w->conf, job->id, &te);

    if (retry_due) {
        cw_queue_retry(&w->queue, job->order, job->raw, job->raw_len,
                       retry_due);
    }

    cw_job_unlock(job, retry_due ? retry_due - (long long) cw_now_ms()
                                   + w->conf->worker.claim_idle_ms
                                 : 0);

    if (dead) {
        cw_queue_dead(&w->queue, job->raw, job->raw_len, job->id,
                      cw_job_type(job), err, job->attempts);

    } else if (!retry_due) {
        /* processed: kept, as queued, for replay (cw_retain.h) */
        cw_retain_archive(&w->redis, w->conf, job->id, cw_job_type(job),
                          st->status, job->raw, job->raw_len);
    }

    /* the ids it linked find it at erasure too */
    if (job->crm_contact_id[0]) {
        cw_job_index(job, "crm", job->crm_contact_id);
    }
    if (job->hint_patient_id[0]) {
        cw_job_index(job, "hint", job->hint_patient_id);
    }

    cw_queue_ack(&w->queue, job->stream_id);
    cw_redis_args(&w->redis, 1, "EXEC");
    cw_redis_wait(&w->redis, job->id);
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
    st.ttl_s = job->w->conf->worker.status_ttl_s;

    cw_job_end(job, &st, 0, NULL, 0, NULL);
    cw_metrics_job_end(cw_job_type(job), status,
                       cw_mono_ms() - job->started_ms, job->hend != NULL);

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

    d = c->worker.backoff_base_ms;
    for (i = 1; i < attempts && d < c->worker.backoff_max_ms; i++) {
        d *= 2;
    }

    if (d > c->worker.backoff_max_ms) {
        d = c->worker.backoff_max_ms;
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

    if (err->cls == CW_ERR_TRANSIENT
        && job->attempts < c->worker.max_attempts)
    {
        delay = cw_job_backoff(c, job->attempts, err->retry_after_ms);
        cs_time_format_iso((int64_t) (cw_now_ms() + (uint64_t) delay), next);

        st.status = "retrying";
        st.message = "Sync delayed: the remote system is busy or "
                     "unreachable, it will be retried automatically";
        st.next_attempt_at = next;

        cw_job_end(job, &st, 0, NULL,
                   (long long) cw_now_ms() + delay, err);
        cw_metrics_retry(cw_job_type(job));

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
    st.ttl_s = c->worker.status_ttl_s;

    if (job->hend) {
        job->hend(job, "failed", st.message);
    }

    /*
     * Permanent failures go to the dead-letter queue too: once the cause
     * is fixed (a field, a credential), `dlq replay` runs them again.
     */
    cw_job_end(job, &st, 1, st.last_error, 0, err);
    cw_metrics_job_end(cw_job_type(job), "failed",
                       cw_mono_ms() - job->started_ms, job->hend != NULL);
    cw_metrics_dead(cw_job_type(job));

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


/*
 * The patient key of a job, when its handler names one.  Jobs that cannot
 * run (not JSON, no handler) have none and fail at once in cw_job_run().
 */
static int
cw_job_patient(cw_job_t *job, cw_patient_t *p)
{
    memset(p, 0, sizeof(*p));

    if (job->refused || job->env.root == NULL) {
        return -1;
    }

    job->handler = cw_jobs_find(job->type);

    if (job->handler == NULL || job->handler->patient == NULL) {
        return -1;
    }

    return job->handler->patient(job, p);
}


int
cw_jobs_patient_of(const cw_env_t *env, cw_patient_t *p)
{
    cw_job_t  job;

    /* what the handlers' `patient` read: the envelope and its type */
    memset(&job, 0, sizeof(job));
    job.env = *env;
    job.type = cw_env_str(env->root, "type");

    return cw_job_patient(&job, p);
}


static void
cw_job_run(cw_job_t *job)
{
    cw_worker_t  *w = job->w;

    if (job->refused) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_SEALED, "%s", job->refused);
        return;
    }

    if (job->env.root == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_ENVELOPE,
                     "the queued job is not a JSON object (stream entry "
                     "%s): it cannot be processed", job->stream_id);
        return;
    }

    if (job->handler == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_UNKNOWN_TYPE,
                     "no handler for job type `%.64s`: deploy a worker "
                     "that knows it, then replay the job",
                     cw_job_type(job));
        return;
    }

    if (job->attempts > w->conf->worker.max_attempts) {
        /* a job that keeps killing its workers stops here */
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_TOO_MANY_ATTEMPTS,
                     "started %ld times without finishing (workers "
                     "crashed or were stopped)", job->attempts - 1);
        return;
    }

    cw_debug("job", "start job_id=%s type=%s attempt=%ld", job->id,
             job->type, job->attempts);

    job->handler->start(job);
}


/* The reply of a start without a patient key: HSET, PERSIST, HINCRBY. */
static long
cw_job_started(cw_redis_t *r)
{
    int          i;
    long         attempts = 0;
    redisReply  *rep;

    for (i = 0; i < 3; i++) {
        rep = cw_redis_next(r);
        if (i == 2 && rep && rep->type == REDIS_REPLY_INTEGER) {
            attempts = (long) rep->integer;
        }
        if (rep) {
            freeReplyObject(rep);
        }
    }

    return attempts;
}


static void cw_jobs_turn(cw_worker_t *w, cw_job_t *job, cw_turn_e turn,
    const cw_patient_t *pat, const char *by);


void
cw_jobs_start(cw_worker_t *w, cw_entry_t *entries, int n)
{
    int             i, old;
    char            key[CW_STATUS_KEY_MAX];
    char          (*by)[CW_JOB_ID_MAX + 1];
    cw_job_t      **jobs;
    cw_turn_e       turn, *turns;
    redisReply     *rep;
    cw_patient_t   *pat;
    cw_lock_start_t  ls;

    if (n == 0) {
        return;
    }

    jobs = cw_calloc((size_t) n, sizeof(*jobs));
    pat = cw_calloc((size_t) n, sizeof(*pat));
    turns = cw_calloc((size_t) n, sizeof(*turns));
    by = cw_calloc((size_t) n, sizeof(*by));

    /*
     * One round trip for the whole batch, with whatever was pending: each
     * job takes its patient and is marked running (or is parked), in one
     * script.
     */
    old = w->redis.ctx ? w->redis.pending : 0;

    for (i = 0; i < n; i++) {
        jobs[i] = cw_job_new(w, &entries[i]);
        cw_job_key(jobs[i], key, sizeof(key));

        if (cw_job_patient(jobs[i], &pat[i]) != 0) {
            pat[i].name[0] = '\0';
            cw_status_running(&w->redis, key, cw_job_type(jobs[i]));
            continue;
        }

        ls.status_key = key;
        ls.type = cw_job_type(jobs[i]);
        ls.job_id = jobs[i]->id;
        ls.order = jobs[i]->order;
        ls.stream_id = jobs[i]->stream_id;
        ls.env = jobs[i]->raw;
        ls.env_len = jobs[i]->raw_len;
        ls.patient = &pat[i];
        cw_lock_start(&w->redis, w->conf, &ls);
    }

    /* every reply first: a handler's own Redis call would flush them */
    cw_redis_skip(&w->redis, old);

    for (i = 0; i < n; i++) {
        if (pat[i].name[0] == '\0') {
            jobs[i]->attempts = cw_job_started(&w->redis);
            turn = CW_TURN_OURS;

        } else {
            rep = cw_redis_next(&w->redis);
            turn = cw_lock_start_reply(rep, &jobs[i]->attempts, by[i],
                                       sizeof(by[i]));
            if (rep) {
                freeReplyObject(rep);
            }
        }

        turns[i] = turn;
    }

    for (i = 0; i < n; i++) {
        if (pat[i].name[0] && turns[i] != CW_TURN_ERROR
            && jobs[i]->attempts > 0)
        {
            cw_status_index(&w->redis, w->conf->redis.prefix, pat[i].name,
                            jobs[i]->id, cw_retain_longest(w->conf));
        }
    }

    for (i = 0; i < n; i++) {
        cw_job_t    *job = jobs[i];
        cw_trace_t  *prev;

        /* what the job does from here, and logs, is under its trace */
        prev = cw_trace_enter(job->trace);
        cw_jobs_turn(w, job, turns[i], &pat[i], by[i]);
        cw_trace_leave(prev);
    }

    free(by);
    free(turns);
    free(pat);
    free(jobs);
}


/* A job of the batch, once its start was recorded: run it, or not. */
static void
cw_jobs_turn(cw_worker_t *w, cw_job_t *job, cw_turn_e turn,
    const cw_patient_t *pat, const char *by)
{
    char  msg[CW_JOB_ID_MAX + 64];

    if (turn == CW_TURN_OURS || turn == CW_TURN_SUPERSEDED_HELD) {
        if (pat->name[0]) {
            memcpy(job->locks[job->nlocks++], pat->name, sizeof(pat->name));
        }
    }

    if (turn == CW_TURN_ERROR || job->attempts == 0) {
        /* Redis went away: leave the entry pending for a reclaim */
        cw_error("job", "cannot record the start, leaving it pending "
                 "job_id=%s", job->id);
        w->started--;
        job->nlocks = 0;
        cw_job_free(job);
        return;
    }

    if (turn == CW_TURN_PARKED) {
        cw_debug("job", "parked job_id=%s type=%s patient=%s", job->id,
                 cw_job_type(job), pat->name);
        w->started--;
        w->parked++;
        cw_job_free(job);
        return;
    }

    cw_metrics_attempt(cw_job_type(job));

    if (turn != CW_TURN_OURS) {
        /* the newer job reads, or has read, what this one would */
        snprintf(msg, sizeof(msg), "superseded by job %s", by);
        cw_debug("job", "superseded job_id=%s type=%s by=%s", job->id,
                 cw_job_type(job), by);
        cw_job_done(job, "skipped", msg);
        return;
    }

    cw_job_run(job);
}


/* Back to wait for a busy key: retried soon, in its order, uncounted. */
static void
cw_job_park(cw_job_t *job, const char *name)
{
    char          key[CW_STATUS_KEY_MAX];
    cw_status_t   st;
    cw_worker_t  *w = job->w;

    cw_job_key(job, key, sizeof(key));

    memset(&st, 0, sizeof(st));
    st.status = "queued";
    st.message = "Waiting for an earlier job about the same patient";

    cw_redis_args(&w->redis, 1, "MULTI");
    cw_status_write(&w->redis, key, &st);
    cw_redis_args(&w->redis, 4, "HINCRBY", key, "attempts", "-1");
    cw_queue_retry(&w->queue, job->order, job->raw, job->raw_len,
                   (long long) cw_now_ms() + CW_JOB_PARK_MS);
    cw_job_unlock(job, 0);
    cw_queue_ack(&w->queue, job->stream_id);
    cw_redis_args(&w->redis, 1, "EXEC");

    cw_debug("job", "parked job_id=%s type=%s patient=%s", job->id,
             cw_job_type(job), name);

    w->started--;
    w->parked++;
    cw_job_free(job);
}


int
cw_job_patient_at(cw_job_t *job, cw_patient_t *p, const char *what,
    const char *obj, const char *key)
{
    return cw_patient_key(p, what, cw_env_str(cw_env_get(job->env.root, obj),
                                              key));
}


int
cw_job_lock(cw_job_t *job, const cw_patient_t *p)
{
    int  i, rc;

    for (i = 0; i < job->nlocks; i++) {
        if (strcmp(job->locks[i], p->name) == 0) {
            return 1;
        }
    }

    if (job->nlocks == CW_LOCK_MAX) {
        /* a handler asking for more is a bug: fail closed */
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                     "a job may hold at most %d patient keys", CW_LOCK_MAX);
        return 0;
    }

    rc = cw_lock_take(&job->w->redis, job->w->conf, p->name, job->order);

    if (rc < 0) {
        cw_job_failf(job, CW_ERR_TRANSIENT, CW_E_REDIS,
                     "cannot take the patient's turn in Redis");
        return 0;
    }

    if (rc == 0) {
        cw_job_park(job, p->name);
        return 0;
    }

    snprintf(job->locks[job->nlocks++], CW_LOCK_NAME_MAX, "%s", p->name);
    cw_status_index(&job->w->redis, job->w->conf->redis.prefix, p->name,
                    job->id, cw_retain_longest(job->w->conf));
    return 1;
}
