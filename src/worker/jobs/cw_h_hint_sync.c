/*
 * caresync-worker: hint.sync, "Sync to Hint" (sync-rules.md §C.3), and
 * hint.batch_contact, one contact of `batch crm-to-hint` (§C.6).
 *
 * The contact is read; hint.sync with action.patient_id links that
 * patient, else both look for the exact match among Hint's patients: one
 * is linked, several are listed for a person to choose, none is a new
 * patient when hint.sync asks (`action.create`).  The merge: the contact
 * overwrites the patient where both have data, its blanks (and the
 * read-only fields) are filled from the patient, the link is set.
 */

#include <stdio.h>
#include <string.h>

#include "engine/cw_log.h"
#include "engine/cw_util.h"
#include "jobs/cw_hint_job.h"

typedef enum {
    HS_CONTACT = 0,             /* hint.sync: the contact read */
    HS_PATIENT,                 /* the chosen patient read */
    HS_LISTED,                  /* exact-match candidates in Hint */
    HS_OTHERS,                  /* contacts linked to that patient */
    HS_CREATED,                 /* a new patient */
    HB_CONTACT,                 /* hint.batch_contact: the contact read */
    HB_LISTED,
    HB_OTHERS                   /* the match linked to another contact? */
} cw_hs_step_e;


static void cw_hs_run(cw_job_t *job);


/* The candidate Hint patients of an exact match. */
static void
cw_hs_listed(cw_job_t *job)
{
    size_t       i, n = 0, len;
    json_t      *p, *one = NULL, *body;
    cw_hh_t     *hh = job->hdata;
    const char  *id;

    len = (size_t) snprintf(hh->msg, sizeof(hh->msg), "Several Hint patients "
                            "match this contact; choose one:");

    json_array_foreach(hh->records, i, p) {
        if (!cw_hintmap_same_person(hh->contact, p)) {
            continue;
        }

        n++;
        one = p;
        id = json_string_value(json_object_get(p, "id"));

        if (id && cw_hint_id_ok(id) && len + strlen(id) + 2 < sizeof(hh->msg))
        {
            len += (size_t) snprintf(hh->msg + len, sizeof(hh->msg) - len,
                                     "%s %s", n > 1 ? "," : "", id);
        }
    }

    if (n > 1) {
        cw_hh_skip(job, "several_matches", hh->msg);
        return;
    }

    if (n == 1) {
        cw_hh_set(&hh->patient, one);
        id = json_string_value(json_object_get(one, "id"));
        cw_hh_pid(job, id && cw_hint_id_ok(id) ? id : "");
        hh->final = CW_HO_LINKED;
        hh->next = 0;
        cw_hh_find(job, job->w->conf->sf.field_hint_patient_id,
                   hh->patient_id,
                   hh->step == HB_LISTED ? HB_OTHERS : HS_OTHERS);
        return;
    }

    if (!hh->create) {
        cw_hh_done(job, CW_HO_NO_MATCH, "No matching Hint patient found");
        return;
    }

    body = cw_hintmap_to_hint(hh->contact, NULL);
    cw_hh_create_patient(job, body, HS_CREATED);
    json_decref(body);
}


/* hint.sync: the contact read; the chosen patient, or the exact match. */
static void
cw_hs_contact(cw_job_t *job)
{
    cw_hh_t  *hh = job->hdata;

    if (hh->contact == NULL) {
        cw_hh_done(job, CW_HO_NO_MATCH, "The CRM contact was not found");
        return;
    }

    if (hh->patient_id[0]) {
        cw_hh_get_patient(job, HS_PATIENT);
        return;
    }

    if (!cw_hintmap_matchable(hh->contact)) {
        cw_hh_done(job, CW_HO_NO_MATCH, "The contact needs a first name, "
                   "last name and birth date to be matched; choose the "
                   "patient instead");
        return;
    }

    cw_hh_list_matches(job, HS_LISTED);
}


/* hint.batch_contact: the contact read; not linked yet, matchable. */
static void
cw_hs_batch_contact(cw_job_t *job)
{
    cw_hh_t     *hh = job->hdata;
    const char  *linked;

    if (hh->contact == NULL) {
        cw_hh_done(job, CW_HO_NO_MATCH, "The CRM contact was not found");
        return;
    }

    if (json_is_true(json_object_get(hh->contact,
                                     job->w->conf->sf.field_synced)))
    {
        linked = cw_hintmap_linked(job->w->conf, hh->contact);
        if (linked && cw_hint_id_ok(linked)) {
            cw_hh_pid(job, linked);
        }
        cw_hh_done(job, CW_HO_SKIPPED, "The contact is already linked to a "
                   "Hint patient");
        return;
    }

    if (!cw_hintmap_matchable(hh->contact)) {
        cw_hh_done(job, CW_HO_NO_MATCH, "The contact has no first name, last "
                   "name and birth date to match on");
        return;
    }

    cw_hh_list_matches(job, HB_LISTED);
}


static void
cw_hs_run(cw_job_t *job)
{
    json_t      *r;
    size_t       i;
    cw_hh_t     *hh = job->hdata;
    const char  *id;

    switch ((cw_hs_step_e) hh->step) {

    case HS_CONTACT:
        cw_hs_contact(job);
        return;

    case HB_CONTACT:
        cw_hs_batch_contact(job);
        return;

    case HS_PATIENT:
        if (hh->patient == NULL) {
            cw_hh_done(job, CW_HO_NO_MATCH, "The chosen Hint patient was not "
                       "found");
            return;
        }
        hh->final = CW_HO_LINKED;
        hh->next = 0;
        cw_hh_find(job, job->w->conf->sf.field_hint_patient_id,
                   hh->patient_id, HS_OTHERS);
        return;

    case HS_LISTED:
    case HB_LISTED:
        cw_hs_listed(job);
        return;

    case HS_OTHERS:
        /* the patient linked to another contact: that link goes first */
        while ((r = json_array_get(hh->records, hh->next++)) != NULL) {
            id = json_string_value(json_object_get(r, "Id"));
            if (id && strcmp(id, hh->contact_id) != 0) {
                cw_debug("hint", "unlink previous job_id=%s contact=%s "
                         "patient=%s", job->id, id, hh->patient_id);
                hh->wrote = 1;
                cw_hh_unlink(job, id, HS_OTHERS);
                return;
            }
        }
        cw_hh_merge(job);
        return;

    case HB_OTHERS:
        json_array_foreach(hh->records, i, r) {
            id = json_string_value(json_object_get(r, "Id"));
            if (id && strcmp(id, hh->contact_id) != 0) {
                cw_hh_skip(job, "patient_linked_elsewhere", "The matching "
                           "Hint patient is already linked to another "
                           "contact");
                return;
            }
        }
        cw_hh_merge(job);
        return;

    case HS_CREATED:
    default:
        id = json_string_value(json_object_get(hh->patient, "id"));
        if (!cw_hint_id_ok(id)) {
            cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_RESPONSE,
                         "Hint created a patient without a usable id");
            return;
        }
        cw_hh_pid(job, id);
        hh->final = CW_HO_CREATED;
        hh->new_patient = 1;
        cw_hh_merge(job);
        return;
    }
}


/* Both: contact wins, its blanks are filled from the patient; linked. */
static cw_hh_t *
cw_hs_new(cw_job_t *job)
{
    cw_hh_t  *hh = cw_hh_new_contact(job, cw_hs_run);

    if (hh) {
        hh->mode = CW_HM_CONTACT_WINS | CW_HM_FILL;
        hh->link = 1;
    }

    return hh;
}


static void
cw_hs_start(cw_job_t *job)
{
    cw_hh_t     *hh;
    const char  *pid;

    pid = cw_env_str(cw_env_get(job->env.root, "action"), "patient_id");

    if (pid && !cw_hint_id_ok(pid)) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                     "the job's Hint patient id is not a pat- id");
        return;
    }

    hh = cw_hs_new(job);
    if (hh == NULL) {
        return;
    }

    if (pid) {
        cw_hh_pid(job, pid);
    }

    cw_hh_get_contact(job, HS_CONTACT);
}


static void
cw_hs_batch_start(cw_job_t *job)
{
    if (cw_hs_new(job) != NULL) {
        cw_hh_get_contact(job, HB_CONTACT);
    }
}


const cw_handler_t  cw_h_hint_sync[] = {
    { "hint.sync", cw_hs_start, cw_hh_contact_key },
    { "hint.batch_contact", cw_hs_batch_start, cw_hh_contact_key },
    { NULL, NULL, NULL }
};
