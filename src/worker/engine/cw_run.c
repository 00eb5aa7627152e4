/*
 * caresync-worker: `run`, the loop.
 *
 * One thread.  Each turn: move due retries back into the stream, take
 * over idle entries of dead workers, read as many new entries as there
 * are free slots, then let libcurl run until something completes.  Redis
 * is polled (XREADGROUP with a short BLOCK only when nothing is in
 * flight), which keeps one synchronous connection and no second event
 * loop.  SIGTERM/SIGINT: stop reading, let in-flight jobs finish until
 * the deadline, then drop the rest unacknowledged; XAUTOCLAIM on another
 * worker finishes them.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cw_audit.h"
#include "engine/cw_crypto.h"
#include "engine/cw_jobs.h"
#include "engine/cw_log.h"
#include "engine/cw_metrics.h"
#include "engine/cw_retain.h"
#include "engine/cw_trace.h"
#include "crm/cw_salesforce.h"
#include "engine/cw_util.h"
#include "cw_worker.h"

/* entries taken per read: bounded so that one turn stays short */
#define CW_READ_MAX  256

static volatile sig_atomic_t  cw_stop_signal;


static void
cw_on_signal(int sig)
{
    cw_stop_signal = sig;
}


typedef struct {
    cw_entry_t  *entries;
    int          n;
    int          cap;
} cw_batch_t;


static void
cw_collect(void *data, const char *stream_id, const char *order,
    const char *job, size_t len)
{
    cw_batch_t  *b = data;
    cw_entry_t  *e;

    if (b->n == b->cap) {
        return;
    }

    e = &b->entries[b->n++];
    snprintf(e->stream_id, sizeof(e->stream_id), "%s", stream_id);

    /* a job put back keeps its place; else its place is its stream id */
    if (cw_order_ok(order)) {
        memcpy(e->order, order, CW_ORDER_LEN);

    } else if (cw_order_of(stream_id, e->order) != 0) {
        /* not a stream id (cannot be): first in line, never blocked */
        memset(e->order, '0', CW_ORDER_DIGITS);
        e->order[CW_ORDER_DIGITS] = '\0';
    }

    e->job = cw_strndup(job, len);
    e->len = len;
}


static void
cw_take(cw_worker_t *w, int reclaim, int count, long block_ms)
{
    int          i;
    cw_entry_t   entries[CW_READ_MAX];
    cw_batch_t   b;

    if (count > CW_READ_MAX) {
        count = CW_READ_MAX;
    }

    b.entries = entries;
    b.n = 0;
    b.cap = count;

    if (reclaim) {
        (void) cw_queue_reclaim(&w->queue, count, cw_collect, &b);
    } else {
        (void) cw_queue_read(&w->queue, count, block_ms, cw_collect, &b);
    }

    cw_jobs_start(w, entries, b.n);

    for (i = 0; i < b.n; i++) {
        free(entries[i].job);
    }
}


/* Keeps our pending entries from looking idle to other workers. */
static void
cw_touch(cw_worker_t *w)
{
    int          n = 0, i;
    cw_job_t    *job;
    const char **ids;

    if (w->njobs == 0) {
        return;
    }

    ids = cw_calloc((size_t) w->njobs, sizeof(char *));

    for (job = w->jobs; job; job = job->next) {
        ids[n++] = job->stream_id;

        /* the patient keys live as long as the entry stays ours */
        for (i = 0; i < job->nlocks; i++) {
            cw_lock_touch(&w->redis, w->conf, job->locks[i], job->order);
        }
    }

    cw_queue_touch(&w->queue, ids, n);
    free(ids);
}


static int
cw_setup(cw_worker_t *w, const cw_conf_t *conf)
{
    char            err[512];
    cw_log_level_e  lvl = CW_LOG_DEBUG;
    cw_http_conf_t  hc;

    memset(w, 0, sizeof(*w));
    w->conf = conf;

    if (cw_redis_init(&w->redis, conf, err, sizeof(err)) != 0) {
        cw_exception("worker", "%s", err);
        return -1;
    }

    cw_queue_init(&w->queue, &w->redis, conf);

    lvl = conf->worker.log_level;
    cw_log_setup(lvl, &w->redis, conf->key.log, conf->worker.log_maxlen);

    memset(&hc, 0, sizeof(hc));
    hc.timeout_ms = conf->http.timeout_ms;
    hc.connect_timeout_ms = conf->http.connect_timeout_ms;
    hc.verify_tls = (int) conf->http.verify_tls;
    hc.ca_file = conf->http.ca_file;
    hc.max_total = (int) conf->worker.concurrency * 2 + 16;

    w->http = cw_http_create(&hc);
    if (w->http == NULL) {
        cw_exception("worker", "cannot initialise libcurl");
        return -1;
    }

    cw_trace_install(w->http, conf);

    if (cw_metrics_open(conf, err, sizeof(err)) != 0) {
        cw_exception("worker", "%s", err);
        return -1;
    }

    if (conf->sf.login_url) {
        w->crm = cw_salesforce_create(w->http, conf, err, sizeof(err));
        if (w->crm == NULL) {
            cw_exception("worker", "%s", err);
            return -1;
        }
    }

    if (conf->http.verify_tls == 0) {
        cw_error("worker", "TLS verification is off (http.verify_tls)");
    }

    /* every CRM or vendor write a job makes goes to the audit trail */
    w->audit.redis = &w->redis;
    w->audit.conf = conf;
    cw_http_on_write(w->http, cw_audit_write, &w->audit);

    return 0;
}


static void
cw_teardown(cw_worker_t *w)
{
    cw_job_t  *job;

    /* whatever is still in flight is dropped, unacknowledged */
    w->abandon = 1;
    cw_http_cancel_all(w->http);

    while ((job = w->jobs) != NULL) {
        /* a handler that was waiting on nothing (cannot happen) */
        cw_job_done(job, "running", NULL);
    }

    (void) cw_audit_flush(&w->redis, w->conf);
    (void) cw_redis_flush(&w->redis);
    cw_log_setup(CW_LOG_DEBUG, NULL, NULL, 0);

    if (w->crm) {
        w->crm->destroy(w->crm);
    }

    cw_http_destroy(w->http);
    cw_metrics_close();
    cw_redis_close(&w->redis);
    cw_redis_free(&w->redis);
}


/*
 * Redis may start after us (compose, boot order): wait for it, saying so
 * once and then every minute, rather than exit.  A refusal that is not
 * about reaching it (AUTH, a key of the wrong type) is fatal.  -1: Redis
 * is there; else the exit status (1 refused, 0 stopped while waiting).
 */
static int
cw_wait_for_redis(cw_worker_t *w)
{
    int       attempt;
    cw_err_t  err;

    for (attempt = 0; ; attempt++) {
        if (cw_redis_connect(&w->redis, &err) == 0
            && cw_queue_ensure_group(&w->queue, &err) == 0)
        {
            return -1;
        }

        if (err.code != CW_E_REDIS_CONNECT) {
            cw_exception("worker", "%s", err.message);
            return 1;
        }

        if (attempt % 60 == 0) {
            cw_error("worker", "waiting for Redis: %s", err.message);
        }

        if (cw_stop_signal) {
            return 0;
        }

        /* scrapes meanwhile say so: caresync_worker_redis_up 0 */
        cw_metrics_serve(&w->redis, w->conf, 0);
        (void) cw_http_poll(w->http, 1000);
    }
}


int
cw_run(const cw_conf_t *conf)
{
    int               free_slots, idle, rc;
    long              wait;
    uint64_t          now, last_promote = 0, last_reclaim = 0, last_prune = 0;
    int               batch;
    uint64_t          last_touch, deadline = 0, cpu0, t0, last_read = 0;
    cw_worker_t       w;
    struct sigaction  sa;

    if (cw_setup(&w, conf) != 0) {
        cw_teardown(&w);
        return 1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = cw_on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);

    rc = cw_wait_for_redis(&w);
    if (rc >= 0) {
        cw_teardown(&w);
        return rc;
    }

    cw_debug("worker", "started consumer=%s concurrency=%ld stream=%s",
             conf->worker.consumer, conf->worker.concurrency, conf->key.jobs);

    /*
     * Keys change with a restart: a ring no `crypto rotate` recorded is a
     * rotation all the same, in the trail by the user the worker runs as.
     * Redis failing here is logged, and retried at the next start.
     */
    (void) cw_crypto_record(&w.redis, conf, NULL, "worker start", NULL);

    batch = (int) (conf->worker.concurrency / 8);
    if (batch > 16) {
        batch = 16;
    }
    if (batch < 1) {
        batch = 1;
    }

    cpu0 = cw_cpu_us();
    t0 = cw_mono_ms();
    last_touch = t0;

    for ( ;; ) {
        now = cw_mono_ms();
        w.turns++;

        if (cw_stop_signal && !w.stopping) {
            w.stopping = 1;
            deadline = now + (uint64_t) conf->worker.shutdown_deadline_ms;
            cw_debug("worker", "stopping signal=%d in_flight=%d",
                     (int) cw_stop_signal, w.njobs);
        }

        if (w.stopping && (w.njobs == 0 || now >= deadline)) {
            /* the last spans, bounded by the export's own timeout */
            cw_trace_tick(1);
            while (cw_trace_exporting() && cw_http_poll(w.http, 50) > 0) {
                /* until it is answered or times out */
            }
            break;
        }

        if (!w.stopping) {
            if (now - last_promote >= 250) {
                (void) cw_queue_promote(&w.queue, 1000);
                last_promote = now;
            }

            if (now - last_prune
                >= (uint64_t) conf->retain.prune_interval_ms)
            {
                cw_retain_tick(&w.redis, conf);
                last_prune = now;
            }

            free_slots = (int) conf->worker.concurrency - w.njobs;

            if (free_slots > 0
                && now - last_reclaim
                   >= (uint64_t) conf->worker.reclaim_interval_ms)
            {
                cw_take(&w, 1, free_slots, 0);
                (void) cw_lock_sweep(&w.redis, conf, 16);
                last_reclaim = now;
            }

            if (now - last_touch >= (uint64_t) conf->worker.claim_idle_ms / 3) {
                cw_touch(&w);
                last_touch = now;
            }

            free_slots = (int) conf->worker.concurrency - w.njobs;

            /*
             * Read in batches: one XREADGROUP for an eighth of the slots
             * (or after 2 ms), not one per finished job.
             */
            if (free_slots > 0
                && (free_slots >= batch || w.njobs == 0
                    || now - last_read >= 2))
            {
                last_read = now;
                /*
                 * Nothing in flight: block in Redis (short, to see signals
                 * and retries); else just look, and let curl wait.
                 */
                idle = w.njobs == 0 && !cw_http_active(w.http);
                wait = conf->worker.poll_ms < 250 ? conf->worker.poll_ms : 250;
                cw_take(&w, 0, free_slots, idle ? wait : 0);
            }
        }

        /* statuses and acks go out now; their replies are read later */
        (void) cw_redis_send(&w.redis);

        /* with free slots, come back soon to look for more work */
        wait = w.njobs < conf->worker.concurrency && !w.stopping ? 5 : 100;
        if (w.njobs == 0 && !w.stopping) {
            /* XREADGROUP blocked already; without Redis, don't spin */
            wait = w.redis.ctx ? 0 : 200;
        }

        (void) cw_http_poll(w.http, wait);
        /* the turn's writes, in one append to the audit trail */
        (void) cw_audit_flush(&w.redis, conf);
        (void) cw_redis_send(&w.redis);
        (void) cw_redis_drain(&w.redis);
        cw_redis_check(&w.redis);

        /* a scrape and an export wait at most one turn, jobs never */
        cw_metrics_serve(&w.redis, conf, w.njobs);
        cw_trace_tick(0);
    }

    if (w.njobs) {
        cw_error("worker", "shutdown deadline passed, leaving jobs for "
                 "reclaim in_flight=%d", w.njobs);
    }

    cw_error("worker", "stopped started=%llu finished=%llu retried=%llu "
             "dead=%llu parked=%llu turns=%llu redis_roundtrips=%llu "
             "redis_wait_shortfalls=%llu http_requests=%llu cpu_us=%llu "
             "wall_ms=%llu",
             (unsigned long long) w.started,
             (unsigned long long) w.finished,
             (unsigned long long) w.retried, (unsigned long long) w.dead,
             (unsigned long long) w.parked,
             (unsigned long long) w.turns,
             (unsigned long long) w.redis.roundtrips,
             (unsigned long long) w.redis.wait_shortfalls,
             (unsigned long long) cw_http_requests(w.http),
             (unsigned long long) (cw_cpu_us() - cpu0),
             (unsigned long long) (cw_mono_ms() - t0));

    cw_teardown(&w);
    return 0;
}
