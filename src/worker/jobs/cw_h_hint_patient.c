/*
 * caresync-worker: hint.patient (sync-rules.md §C.1, Hint wins) and
 * hint.batch_patient, one patient of `batch hint-to-crm` (§C.5).
 *
 * The contacts holding the patient's id first; then by the event:
 *
 *   patient.updated    the one linked contact gets the differing fields
 *   patient.created    linked already: as updated; else (create_contacts
 *                      on) the exact match is linked, or a contact created
 *   patient.destroyed  confirmed with Hint, then every linked contact is
 *                      unlinked (the contact stays)
 *   a batch item       as created, the patient's blanks filled from the
 *                      contact, whatever create_contacts says
 *
 * The patient is read from Hint in every case: the event may be stale or
 * out of order, and anyone who can post the webhook can name a patient.
 */

#include <string.h>

#include "engine/cw_log.h"
#include "engine/cw_util.h"
#include "jobs/cw_hint_job.h"

typedef enum {
    CW_HE_UPDATED = 0,
    CW_HE_CREATED,
    CW_HE_DESTROYED,
    CW_HE_BATCH,                /* hint.batch_patient */
    CW_HE_OTHER
} cw_he_e;

typedef enum {
    HP_LINKED = 0,              /* contacts carrying the patient id */
    HP_UPDATE,                  /* linked: patient read */
    HP_CREATED,                 /* not linked, patient read: match */
    HP_MATCHED,                 /* candidates by last name */
    HP_GONE,                    /* patient.destroyed: the patient read */
    HP_DESTROY,                 /* unlink the next linked contact */
    HP_END
} cw_hp_step_e;


static void cw_hp_run(cw_job_t *job);


static cw_he_e
cw_hp_event(const char *ev)
{
    static const char  *names[] = {
        "patient.updated", "patient.created", "patient.destroyed"
    };
    size_t              i;

    for (i = 0; ev && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(ev, names[i]) == 0) {
            return (cw_he_e) i;
        }
    }

    return CW_HE_OTHER;
}


/* No contact linked, the patient read: the exact match, or a new one. */
static void
cw_hp_matched(cw_job_t *job)
{
    size_t            n;
    json_t           *m, *f, *flat;
    cw_hh_t          *hh = job->hdata;
    const char       *other;
    const cw_conf_t  *c = job->w->conf;

    m = cw_hh_matches(hh->records, hh->patient);
    n = json_array_size(m);

    if (n > 1) {
        json_decref(m);
        cw_hh_skip(job, "several_matches", "Several CRM contacts match this "
                   "patient exactly: link one with Sync to Hint");
        return;
    }

    if (n == 1) {
        cw_hh_set(&hh->contact, json_array_get(m, 0));
        json_decref(m);
        cw_hh_contact_id(job, hh->contact);
        if (!cw_hh_take_contact(job)) {
            return;
        }
        other = json_string_value(json_object_get(hh->contact,
                                            c->sf.field_hint_patient_id));

        /*
         * Synced, or holding another patient's id (not synced, but its
         * link would be overwritten): another patient's contact.
         */
        if (json_is_true(json_object_get(hh->contact, c->sf.field_synced))
            || (other && *other && strcmp(other, hh->patient_id) != 0))
        {
            cw_hh_skip(job, "match_linked_elsewhere", "The matching CRM "
                       "contact is already synced to another Hint patient");
            return;
        }

        /* patient overwrites, its blanks come from the contact */
        hh->mode = CW_HM_PATIENT_WINS | CW_HM_FILL;
        hh->link = 1;
        hh->final = CW_HO_LINKED;
        cw_hh_merge(job);
        return;
    }

    json_decref(m);

    if (!hh->create_contacts) {
        cw_hh_done(job, CW_HO_NO_MATCH, "No matching CRM contact; creating "
                   "contacts when there is no match is off");
        return;
    }

    flat = cw_hintmap_flatten(c, hh->patient);
    f = json_pack("{s:b,s:s}", c->sf.field_synced, 1,
                  c->sf.field_hint_patient_id, hh->patient_id);
    json_object_update(f, flat);
    json_decref(flat);

    if (c->hint.default_account_id) {
        json_object_set_new(f, "AccountId",
                            json_string(c->hint.default_account_id));
    }

    if (hh->batch_id) {
        json_object_set_new(f, c->sf.field_last_batch,
                            json_string(hh->batch_id));
    }

    hh->final = CW_HO_CREATED;
    cw_hh_create_contact(job, f, HP_END);
    json_decref(f);
}


/* The contacts linked to the patient: what the event does with them. */
static void
cw_hp_linked(cw_job_t *job)
{
    size_t    n;
    cw_hh_t  *hh = job->hdata;

    n = json_array_size(hh->records);

    if (hh->event == CW_HE_DESTROYED) {
        if (n == 0) {
            cw_hh_done(job, CW_HO_NO_MATCH, "No CRM contact is linked to "
                       "this patient");
            return;
        }
        /* anyone who can post the webhook can name a patient: ask Hint */
        hh->final = CW_HO_UNLINKED;
        cw_hh_get_patient(job, HP_GONE);
        return;
    }

    if (n > 1) {
        cw_hh_skip(job, "several_linked", "Several CRM contacts are linked "
                   "to this patient: unlink all but one");
        return;
    }

    if (n == 1) {
        cw_hh_set(&hh->contact, json_array_get(hh->records, 0));
        cw_hh_contact_id(job, hh->contact);
        if (!cw_hh_take_contact(job)) {
            return;
        }
        hh->final = CW_HO_UPDATED;
        cw_hh_get_patient(job, HP_UPDATE);
        return;
    }

    if (hh->event == CW_HE_BATCH) {
        /* hint-to-crm: every patient is matched */
        cw_hh_get_patient(job, HP_CREATED);
        return;
    }

    if (hh->event != CW_HE_CREATED) {
        cw_hh_done(job, CW_HO_SKIPPED, "No CRM contact is linked to this "
                   "patient");
        return;
    }

    if (!job->w->conf->hint.create_contacts) {
        cw_hh_done(job, CW_HO_SKIPPED, "Creating contacts for new patients "
                   "is off");
        return;
    }

    cw_hh_get_patient(job, HP_CREATED);
}


static void
cw_hp_run(cw_job_t *job)
{
    json_t   *r;
    cw_hh_t  *hh = job->hdata;

    switch ((cw_hp_step_e) hh->step) {

    case HP_LINKED:
        cw_hp_linked(job);
        return;

    case HP_UPDATE:
        if (hh->patient == NULL) {
            cw_hh_done(job, CW_HO_SKIPPED, "The patient is no longer in "
                       "Hint");
            return;
        }
        hh->mode = CW_HM_PATIENT_WINS;
        if (hh->event == CW_HE_BATCH) {
            /* a batch links and syncs: the patient's blanks are filled */
            hh->mode |= CW_HM_FILL;
        }
        cw_hh_merge(job);
        return;

    case HP_CREATED:
        if (hh->patient == NULL) {
            cw_hh_done(job, CW_HO_SKIPPED, "The patient is no longer in "
                       "Hint");
            return;
        }
        r = cw_hintmap_match_last_name(hh->patient);
        if (r == NULL) {
            cw_hh_skip(job, "no_last_name", "The patient has no last name");
            return;
        }
        cw_hh_find(job, "LastName", json_string_value(r), HP_MATCHED);
        json_decref(r);
        return;

    case HP_MATCHED:
        cw_hp_matched(job);
        return;

    case HP_GONE:
        /* unlinked only when Hint confirms: not found, or inactive */
        if (hh->patient && !cw_hintmap_inactive(job->w->conf, hh->patient)) {
            cw_hh_skip(job, "patient_active", "Hint still has this patient "
                       "and it is not inactive: the patient.destroyed event "
                       "is not confirmed, nothing unlinked");
            return;
        }
        hh->next = 0;
        hh->step = HP_DESTROY;
        cw_hp_run(job);
        return;

    case HP_DESTROY:
        r = json_array_get(hh->records, hh->next++);
        if (r == NULL) {
            cw_hh_end(job);
            return;
        }
        cw_hh_contact_id(job, r);
        hh->wrote = 1;
        cw_hh_unlink(job, hh->contact_id, HP_DESTROY);
        return;

    case HP_END:
    default:
        cw_hh_end(job);
        return;
    }
}


/* Both types from here on: the patient id and what the event is. */
static void
cw_hp_begin(cw_job_t *job, cw_hh_t *hh, const char *pid)
{
    if (pid == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                     "the job has no Hint patient id");
        return;
    }

    if (!cw_hint_id_ok(pid)) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                     "the job's Hint patient id is not a pat- id");
        return;
    }

    cw_hh_pid(job, pid);
    cw_hh_find(job, job->w->conf->sf.field_hint_patient_id, hh->patient_id,
               HP_LINKED);
}


static void
cw_hp_start(cw_job_t *job)
{
    cw_hh_t  *hh = cw_hh_new(job, cw_hp_run);

    if (hh == NULL) {
        return;
    }

    hh->event = cw_hp_event(cw_env_str(cw_env_get(job->env.root, "source"),
                                        "event"));
    hh->create_contacts = hh->event == CW_HE_CREATED
                          && job->w->conf->hint.create_contacts;

    cw_hp_begin(job, hh, cw_env_str(cw_env_get(job->env.root, "patient"),
                                     "source_id"));
}


static void
cw_hp_batch_start(cw_job_t *job)
{
    cw_hh_t  *hh = cw_hh_new(job, cw_hp_run);

    if (hh == NULL) {
        return;
    }

    /*
     * The item's id is the patient's (the batch keys its results by the
     * item id); the record's crm_contact_id is the contact found.
     */
    hh->event = CW_HE_BATCH;
    hh->create_contacts = (int) job->w->conf->hint.batch_create_contacts;
    job->crm_contact_id[0] = '\0';

    cw_hp_begin(job, hh, cw_env_str(cw_env_get(job->env.root, "action"),
                                     "contact_id"));
}


/*
 * The patient's key (cw_lock.h); the linked contact's is taken once
 * found (cw_hh_take_contact).  An update reads the patient: only the
 * newest one counts.
 */
static int
cw_hp_patient(cw_job_t *job, cw_patient_t *p)
{
    const char  *ev;

    ev = cw_env_str(cw_env_get(job->env.root, "source"), "event");
    p->kind = cw_hp_event(ev) == CW_HE_UPDATED ? "hint.patient.updated"
                                                : NULL;
    return cw_job_patient_at(job, p, "hint", "patient", "source_id");
}


/* hint-to-crm: the item's id is the patient's */
static int
cw_hp_batch_patient(cw_job_t *job, cw_patient_t *p)
{
    return cw_job_patient_at(job, p, "hint", "action", "contact_id");
}


const cw_handler_t  cw_h_hint_patient[] = {
    { "hint.patient", cw_hp_start, cw_hp_patient },
    { "hint.batch_patient", cw_hp_batch_start, cw_hp_batch_patient },
    { NULL, NULL, NULL }
};
