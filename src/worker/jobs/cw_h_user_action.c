/*
 * caresync-worker: helparound.user_action (sync-rules.md §A, viewed
 * tracker).
 *
 * Find the contact as for an enrollment (cw_hacontact.c), without
 * creating one: by the patient's externalId when it is a CRM contact id,
 * else by the partner external-id field when one is configured, else by
 * the HelpAround patient id field; nothing found: `no_match`; a contact
 * linked to another HelpAround patient: `skipped`.  Then set the
 * tracker-view time when it differs.
 */

#include <stdlib.h>
#include <string.h>

#include "cs_time.h"
#include "jobs/cw_hacontact.h"
#include "engine/cw_jobs.h"
#include "engine/cw_log.h"
#include "engine/cw_util.h"

typedef struct {
    cw_hac_t      find;
    char          at[CS_TIME_ISO_LEN + 1];
    const char   *fields[3];
} cw_ua_t;


static void
cw_ua_free(cw_job_t *job)
{
    cw_ua_t  *ua = job->hdata;

    cw_hac_free(&ua->find);
    free(ua);
    job->hdata = NULL;
}


static void
cw_ua_task_done(void *data, cw_crm_res_t *res)
{
    cw_job_t  *job = data;

    /*
     * The view is recorded; the Task is a courtesy.  Failing (or retrying)
     * the job for it would either lose it anyway (the retry finds the time
     * already set) or duplicate it, so it is logged and said, not retried.
     */
    if (res->err.cls != CW_ERR_NONE) {
        cw_error("user_action", "task not created job_id=%s contact=%s "
                 "code=%s http_status=%ld", job->id, job->crm_contact_id,
                 cw_err_name(&res->err), res->err.http_status);
        cw_job_done(job, "updated", "Tracker view recorded on the contact; "
                    "the activity (Task) could not be created");
        return;
    }

    cw_job_done(job, "updated", "Tracker view recorded on the contact, "
                "with an activity");
}


static void
cw_ua_updated(void *data, cw_crm_res_t *res)
{
    char              date[CS_TIME_DATE_LEN + 1];
    int64_t           ms;
    json_t           *task;
    cw_job_t         *job = data;
    cw_ua_t          *ua = job->hdata;
    const cw_conf_t  *c = job->w->conf;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(job, &res->err);
        return;
    }

    if (!c->sf.tracker_view_task) {
        cw_job_done(job, "updated", "Tracker view recorded on the contact");
        return;
    }

    (void) cw_parse_datetime(ua->at, &ms);
    cs_time_format_date(ms, date);

    task = json_pack("{s:s,s:s,s:s,s:s}", "Subject",
                     c->sf.tracker_view_task_subject, "Status", "Completed",
                     "WhoId", job->crm_contact_id, "ActivityDate", date);
    job->w->crm->create_record(job->w->crm, "Task", task, cw_ua_task_done,
                               job);
    json_decref(task);
}


/* One contact found (its id in the job): the time unless it is there. */
static void
cw_ua_compare(cw_job_t *job, json_t *record)
{
    json_t      *want, *diff;
    cw_ua_t     *ua = job->hdata;
    const char  *field = job->w->conf->sf.field_tracker_view;

    want = json_pack("{s:s}", field, ua->at);
    diff = cw_crm_diff(record, want);
    json_decref(want);

    if (diff == NULL) {
        cw_job_done(job, "skipped", "Tracker view already recorded");
        return;
    }

    job->w->crm->update_contact(job->w->crm, job->crm_contact_id, diff,
                                cw_ua_updated, job);
    json_decref(diff);
}


/* Never guess between duplicates. */
static void
cw_ua_ambiguous(cw_job_t *job, json_t *found, const char *field)
{
    cw_job_failf(job, CW_ERR_PERMANENT, CW_E_AMBIGUOUS,
                 "%zu CRM contacts match this patient (%s): merge the "
                 "duplicates, then replay the job",
                 json_array_size(found), field);
}


static void
cw_ua_none(cw_job_t *job)
{
    cw_job_done(job, "no_match",
                "No matching CRM contact found for this patient");
}


static const cw_hac_then_t  cw_ua_then = {
    cw_ua_compare, cw_ua_ambiguous, cw_ua_none
};


static void
cw_ua_start(cw_job_t *job)
{
    int64_t           ms;
    cw_ua_t          *ua;
    const char       *at, *external_id, *source_id;
    const cs_json_t  *patient, *action;

    if (job->w->crm == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_NOT_CONFIGURED,
                     "no CRM is configured ([salesforce] login_url)");
        return;
    }

    ua = cw_calloc(1, sizeof(*ua));
    job->hdata = ua;
    job->hfree = cw_ua_free;

    patient = cw_env_get(job->env.root, "patient");
    action = cw_env_get(job->env.root, "action");

    external_id = cw_env_str(patient, "external_id");
    source_id = cw_env_str(patient, "source_id");
    ua->fields[0] = "Id";
    ua->fields[1] = job->w->conf->sf.field_tracker_view;
    ua->fields[2] = NULL;

    /* the time of the view; the time it reached us when it has none */
    at = cw_env_str(action, "at");
    if (at == NULL || cw_parse_datetime(at, &ms) != 0) {
        at = cw_env_str(job->env.root, "received_at");
    }

    if (at == NULL || cw_parse_datetime(at, &ms) != 0) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                     "the job has no valid action.at or received_at time");
        return;
    }

    cs_time_format_iso(ms, ua->at);

    if (external_id == NULL && source_id == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                     "the job's patient has neither external_id nor "
                     "source_id");
        return;
    }

    cw_hac_find(&ua->find, job, "user_action", external_id, source_id,
                ua->fields, &cw_ua_then);
}


/* The HelpAround patient; the newest view is the one that counts. */
static int
cw_ua_patient(cw_job_t *job, cw_patient_t *p)
{
    p->kind = "helparound.user_action";
    return cw_job_patient_at(job, p, "ha", "patient", "source_id");
}


const cw_handler_t  cw_h_user_action[] = {
    { "helparound.user_action", cw_ua_start, cw_ua_patient },
    { NULL, NULL, NULL }
};
