/*
 * caresync-worker: the operators' jobs that the console queues (see
 * docs/operations.md, "The console"), run by the worker so that each
 * operation has one implementation, the one the command line uses too:
 *
 *   ops.dlq_replay  {"dead_id":"<stream id of {prefix}:dead>","actor":…}
 *                   the dead letter back on the queue (cw_replay(), the
 *                   code of `dlq replay`, which audits it)
 *
 * `actor` is the edge's name for the bearer token that asked (never a
 * person's data); it goes to the audit trail.
 */

#include <stdio.h>
#include <string.h>

#include "engine/cw_jobs.h"
#include "engine/cw_log.h"
#include "engine/cw_util.h"
#include "ops/cw_ops_replay.h"


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


/* the job id of the dead letter `dead`: 1, 0 none, -1 Redis */
static int
cw_h_dlq_job_id(cw_job_t *job, const char *dead, char *out, size_t n)
{
    int          rc = 0;
    size_t       i;
    redisReply  *rep, *fv;

    rep = cw_redis_cmd(&job->w->redis, "XRANGE %s %s %s",
                       job->w->conf->key.dead, dead, dead);

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        rc = -1;

    } else if (rep->elements == 1) {
        fv = rep->element[0]->element[1];

        for (i = 0; fv && i + 1 < fv->elements; i += 2) {
            if (strcmp(fv->element[i]->str, "job_id") == 0
                && fv->element[i + 1]->len < n)
            {
                snprintf(out, n, "%s", fv->element[i + 1]->str);
                rc = 1;
            }
        }
    }

    if (rep) {
        freeReplyObject(rep);
    }

    return rc;
}


static void
cw_h_dlq_replay_start(cw_job_t *job)
{
    int                rc;
    char               id[130], msg[256];
    const cs_json_t   *action = cw_env_get(job->env.root, "action");
    const char        *dead, *actor;
    cw_replay_res_t    res;
    cw_replay_spec_t   s;

    dead = cw_env_str(action, "dead_id");
    actor = cw_env_str(action, "actor");

    if (!cw_ops_stream_id_ok(dead)) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB, "an ops.dlq_replay "
                     "job needs action.dead_id, a dead letter's stream id");
        return;
    }

    rc = cw_h_dlq_job_id(job, dead, id, sizeof(id));

    if (rc == 0) {
        cw_job_done(job, "skipped", "That dead letter is no longer in the "
                    "queue: it was replayed already");
        return;
    }

    memset(&s, 0, sizeof(s));
    s.dead = 1;
    s.job_id = id;
    s.limit = 1;
    s.action = "dlq replay";
    s.actor = actor ? actor : "console";

    if (rc < 0 || cw_replay(&job->w->redis, job->w->conf, &s, NULL, NULL,
                            &res) == -1)
    {
        cw_job_failf(job, CW_ERR_TRANSIENT, CW_E_REDIS, "the dead letter "
                     "%s could not be replayed: Redis did not confirm it",
                     dead);
        return;
    }

    if (res.queued == 0) {
        cw_job_done(job, "skipped", "That dead letter is no longer in the "
                    "queue: it was replayed already");
        return;
    }

    cw_debug("ops", "dlq replay job_id=%s dead_id=%s by=%s (console)", id,
             dead, s.actor);

    snprintf(msg, sizeof(msg), "Job %s is queued again", id);
    cw_job_done(job, "updated", msg);
}


/* one replay of an entry at a time: a second one finds it gone */
static int
cw_h_dlq_replay_key(cw_job_t *job, cw_patient_t *p)
{
    return cw_job_patient_at(job, p, "dlq", "action", "dead_id");
}


const cw_handler_t  cw_h_ops[] = {
    { "ops.dlq_replay", cw_h_dlq_replay_start, cw_h_dlq_replay_key },
    { NULL, NULL, NULL }
};
