/*
 * caresync-worker: crm.contact_changed (sync-rules.md §C.2): the linked
 * patient follows the contact (contact wins); read-only fields are never
 * written to Hint.
 */

#include "engine/cw_util.h"
#include "jobs/cw_hint_job.h"

typedef enum {
    HC_CONTACT = 0,             /* the contact read */
    HC_PATIENT                  /* its linked patient read */
} cw_hc_step_e;


static void
cw_hc_run(cw_job_t *job)
{
    cw_hh_t     *hh = job->hdata;
    const char  *linked;

    switch ((cw_hc_step_e) hh->step) {

    case HC_CONTACT:
        if (hh->contact == NULL) {
            cw_hh_done(job, CW_HO_NO_MATCH, "The CRM contact was not found");
            return;
        }
        linked = cw_hintmap_linked(job->w->conf, hh->contact);
        if (linked == NULL || !cw_hint_id_ok(linked)) {
            cw_hh_done(job, CW_HO_SKIPPED, "The contact is not linked to a "
                       "Hint patient");
            return;
        }
        cw_hh_pid(job, linked);
        hh->final = CW_HO_UPDATED;
        cw_hh_get_patient(job, HC_PATIENT);
        return;

    case HC_PATIENT:
    default:
        if (hh->patient == NULL) {
            cw_hh_skip(job, "patient_gone", "The linked Hint patient was not "
                       "found: unlink the contact or sync it again");
            return;
        }
        hh->mode = CW_HM_CONTACT_WINS;
        cw_hh_merge(job);
        return;
    }
}


static void
cw_hc_start(cw_job_t *job)
{
    if (cw_hh_new_contact(job, cw_hc_run) != NULL) {
        cw_hh_get_contact(job, HC_CONTACT);
    }
}


/* The contact's key; it reads the contact: only the newest change counts */
static int
cw_hc_patient(cw_job_t *job, cw_patient_t *p)
{
    p->kind = "crm.contact_changed";
    return cw_hh_contact_key(job, p);
}


const cw_handler_t  cw_h_contact_changed[] = {
    { "crm.contact_changed", cw_hc_start, cw_hc_patient },
    { NULL, NULL, NULL }
};
