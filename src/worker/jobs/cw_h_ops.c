/*
 * caresync-worker: the operators' jobs that the console queues (see
 * docs/operations.md, "The console"), run by the worker so that each
 * operation has one implementation, the one the command line uses too:
 *
 *   ops.dlq_replay  {"dead_id":"<stream id of {prefix}:dead>","actor":…}
 *                   the dead letter back on the queue (cw_queue_replay)
 *
 * `actor` is the edge's name for the bearer token that asked (never a
 * person's data); it goes to the sync log, for the audit trail.
 */

#include <stdio.h>
#include <string.h>

#include "engine/cw_jobs.h"
#include "engine/cw_log.h"
#include "engine/cw_queue.h"
#include "engine/cw_util.h"


/* "<ms>-<seq>": what the edge let through; anything else is no entry */
static int
cw_ops_stream_id_ok(const char *s)
{
    size_t  i, dash = 0, n = s ? strlen(s) : 0;

    if (n < 3 || n > 41) {
        return 0;
    }

    for (i = 0; i < n; i++) {
        if (s[i] == '-') {
            if (dash || i == 0 || i == n - 1) {
                return 0;
            }
            dash = i;

        } else if (s[i] < '0' || s[i] > '9') {
            return 0;
        }
    }

    return dash != 0;
}


static void
cw_h_dlq_replay_start(cw_job_t *job)
{
    int          rc;
    char         id[130], msg[256];
    json_t      *action = json_object_get(job->env, "action");
    const char  *dead, *actor;

    dead = json_string_value(json_object_get(action, "dead_id"));
    actor = json_string_value(json_object_get(action, "actor"));

    if (!cw_ops_stream_id_ok(dead)) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB, "an ops.dlq_replay "
                     "job needs action.dead_id, a dead letter's stream id");
        return;
    }

    rc = cw_queue_replay_id(&job->w->redis, job->w->conf, dead, id,
                            sizeof(id));

    if (rc < 0) {
        cw_job_failf(job, CW_ERR_TRANSIENT, CW_E_REDIS, "the dead letter "
                     "%s could not be read from Redis", dead);
        return;
    }

    if (rc == 0) {
        cw_job_done(job, "skipped", "That dead letter is no longer in the "
                    "queue: it was replayed already");
        return;
    }

    cw_debug("ops", "dlq replay job_id=%s dead_id=%s by=%s (console)", id,
             dead, actor ? actor : "-");

    snprintf(msg, sizeof(msg), "Job %s is queued again", id);
    cw_job_done(job, "updated", msg);
}


/* one replay of an entry at a time: a second one finds it gone */
static int
cw_h_dlq_replay_key(cw_job_t *job, cw_patient_t *p)
{
    return cw_job_patient_at(job, p, "dlq", "action", "dead_id");
}


static const cw_handler_t  cw_h_dlq_replay = {
    "ops.dlq_replay", cw_h_dlq_replay_start, cw_h_dlq_replay_key
};


void
cw_h_ops_register(void)
{
    cw_jobs_register(&cw_h_dlq_replay);
}
