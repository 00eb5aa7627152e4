/*
 * caresync-worker: hint.unlink, "Unlink Patient" (sync-rules.md §C.4):
 * the link fields of the contact are cleared; nothing is deleted on
 * either side.  Unlinking is only done from the CRM side.
 */

#include "engine/cw_util.h"
#include "jobs/cw_hint_job.h"

typedef enum {
    HU_CONTACT = 0,             /* the contact read */
    HU_END                      /* unlinked */
} cw_hu_step_e;


static void
cw_hu_run(cw_job_t *job)
{
    cw_hh_t          *hh = job->hdata;
    const char       *id;
    const cw_conf_t  *c = job->w->conf;

    if ((cw_hu_step_e) hh->step == HU_END) {
        cw_hh_end(job);
        return;
    }

    if (hh->contact == NULL) {
        cw_hh_done(job, CW_HO_NO_MATCH, "The CRM contact was not found");
        return;
    }

    id = cw_json_str(hh->contact, c->sf.field_hint_patient_id);
    if (!json_is_true(json_object_get(hh->contact, c->sf.field_synced))
        && id == NULL)
    {
        cw_hh_done(job, CW_HO_SKIPPED, "The contact is not linked");
        return;
    }

    if (id && cw_hint_id_ok(id)) {
        cw_hh_pid(job, id);
    }

    hh->wrote = 1;
    hh->final = CW_HO_UNLINKED;
    cw_hh_unlink(job, hh->contact_id, HU_END);
}


static void
cw_hu_start(cw_job_t *job)
{
    if (cw_hh_new_contact(job, cw_hu_run) != NULL) {
        cw_hh_get_contact(job, HU_CONTACT);
    }
}


const cw_handler_t  cw_h_hint_unlink[] = {
    { "hint.unlink", cw_hu_start, cw_hh_contact_key },
    { NULL, NULL, NULL }
};
