/*
 * caresync-worker: Hint <-> CRM jobs (sync-rules.md §C 1-4).
 *
 *   hint.patient         patient.updated / created / destroyed (Hint wins)
 *   crm.contact_changed  the linked patient follows the contact
 *   hint.sync            "Sync to Hint": a chosen patient or an exact match
 *   hint.unlink          "Unlink Patient": clear the link, delete nothing
 *   hint.batch_patient   one patient of `batch hint-to-crm` (§C.5)
 *   hint.batch_contact   one contact of `batch crm-to-hint` (§C.6)
 *
 * The batch items run under issue 6's batch.item (cw_batch.c): the item
 * type is action.item and action.contact_id is the item's id (a patient
 * id for hint-to-crm).  Every contact a batch touches gets the batch id in
 * Last_Batch_Sync_Id__c: in the same write when the contact is written,
 * else alone, when it differs (cw_hh_done).
 *
 * Every job is one small state machine: each remote call records the
 * step to resume at (`after`) and its completion stores what came back
 * and calls cw_hh_run().  Both sides are always read before anything is
 * written and only differing fields are written (cw_hintmap_merge), so a
 * change we made that comes back as the other side's event writes
 * nothing: no ping-pong.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cw_hint.h"
#include "cw_hintmap.h"
#include "cw_jobs.h"
#include "cw_log.h"
#include "cw_util.h"

typedef enum {
    HH_START = 0,

    /* hint.patient */
    HH_P_LINKED,                /* contacts carrying the patient id */
    HH_P_UPDATE,                /* linked: patient read */
    HH_P_CREATED,               /* not linked, patient read: match */
    HH_P_MATCHED,               /* candidates by last name */
    HH_P_GONE,                  /* patient.destroyed: the patient read */
    HH_P_DESTROY,

    /* crm.contact_changed */
    HH_C_CONTACT,
    HH_C_PATIENT,

    /* hint.sync */
    HH_S_CONTACT,
    HH_S_PATIENT,               /* the chosen patient read */
    HH_S_LISTED,                /* exact-match candidates in Hint */
    HH_S_OTHERS,                /* contacts linked to that patient */
    HH_S_CREATED,               /* new patient */

    /* hint.unlink */
    HH_U_CONTACT,

    /* hint.batch_contact */
    HH_B_CONTACT,
    HH_B_LISTED,
    HH_B_OTHERS,                /* the match linked to another contact? */

    HH_MERGE,                   /* contact + patient: write what differs */
    HH_MERGE_PATIENT,
    HH_MARKED,                  /* a batch's mark written: end as decided */
    HH_END
} cw_hh_step_e;

typedef struct {
    cw_hh_step_e   step;
    cw_hh_step_e   after;
    const char    *event;       /* hint.patient: patient.updated … */
    char           patient_id[64];
    char           contact_id[64];
    int            create;      /* hint.sync: action.create */
    int            mode;        /* cw_hintmap_merge mode */
    int            link;        /* set the link fields in the merge */
    int            wrote;
    int            new_patient; /* hint.sync created the patient */
    int            create_contacts;   /* no match: create a contact */
    const char    *batch_id;    /* in job->env */
    size_t         next;        /* HH_S_OTHERS: next record to look at */
    const char    *final;       /* status when something was written */
    const char    *end_status;  /* HH_MARKED: the status decided before */
    int            marked;      /* the batch mark is written or not due */
    json_t        *contact;
    json_t        *patient;
    json_t        *records;     /* the last CRM search or Hint list */
    const char    *exact;       /* the Hint id that search was by */
    json_t        *to_patient;
    char           msg[400];
} cw_hh_t;


static void cw_hh_run(cw_job_t *job);


/*
 * The patient the job is about, also in the status record's
 * hint_patient_id: a CRM user or an operator can go from the job to the
 * patient without reading the message.
 */
static void
cw_hh_pid(cw_job_t *job, const char *id)
{
    cw_hh_t  *hh = job->hdata;

    snprintf(hh->patient_id, sizeof(hh->patient_id), "%s", id ? id : "");
    snprintf(job->hint_patient_id, sizeof(job->hint_patient_id), "%s",
             hh->patient_id);
}


static void
cw_hh_free(cw_job_t *job)
{
    cw_hh_t  *hh = job->hdata;

    json_decref(hh->contact);
    json_decref(hh->patient);
    json_decref(hh->records);
    json_decref(hh->to_patient);
    free(hh);
    job->hdata = NULL;
}


static void
cw_hh_set(json_t **slot, json_t *v)
{
    json_decref(*slot);
    *slot = v ? json_incref(v) : NULL;
}


static void
cw_hh_crm_done(void *data, cw_crm_res_t *res)
{
    cw_job_t  *job = data;
    cw_hh_t   *hh = job->hdata;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(job, &res->err);
        return;
    }

    if (res->records && hh->exact) {
        /*
         * By a Hint patient id: only the contacts holding exactly that id
         * are that patient's.  The query's `=` ignores case, and Hint's
         * ids are mixed-case: another patient's contact can be among them.
         */
        json_decref(hh->records);
        hh->records = cw_crm_only_equal(res->records,
                                        job->w->conf->sf_field_hint_patient_id,
                                        hh->exact);
        if (json_array_size(hh->records) != json_array_size(res->records)) {
            cw_debug("hint", "not this patient's job_id=%s patient=%s "
                     "dropped=%zu", job->id, hh->exact,
                     json_array_size(res->records)
                     - json_array_size(hh->records));
        }

    } else if (res->records) {
        cw_hh_set(&hh->records, res->records);
    }

    if (res->id) {
        snprintf(hh->contact_id, sizeof(hh->contact_id), "%s", res->id);
    }

    hh->step = hh->after;
    cw_hh_run(job);
}


static void
cw_hh_contact_done(void *data, cw_crm_res_t *res)
{
    cw_job_t  *job = data;
    cw_hh_t   *hh = job->hdata;

    if (res->err.cls == CW_ERR_NONE) {
        cw_hh_set(&hh->contact, res->record);
    }

    cw_hh_crm_done(data, res);
}


static void
cw_hh_hint_done(void *data, cw_hint_res_t *res)
{
    cw_job_t  *job = data;
    cw_hh_t   *hh = job->hdata;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(job, &res->err);
        return;
    }

    if (res->patients) {
        cw_hh_set(&hh->records, res->patients);

    } else {
        cw_hh_set(&hh->patient, res->patient);
    }

    hh->step = hh->after;
    cw_hh_run(job);
}


static void
cw_hh_get_contact(cw_job_t *job, cw_hh_step_e after)
{
    cw_hh_t  *hh = job->hdata;

    hh->after = after;
    job->w->crm->get_contact(job->w->crm, hh->contact_id,
                             cw_hintmap_contact_fields(), cw_hh_contact_done,
                             job);
}


static void
cw_hh_find(cw_job_t *job, const char *field, const char *value,
    cw_hh_step_e after)
{
    cw_hh_t  *hh = job->hdata;

    hh->after = after;
    hh->exact = strcmp(field, job->w->conf->sf_field_hint_patient_id) == 0
                ? value : NULL;
    json_decref(hh->records);
    hh->records = NULL;
    job->w->crm->find_contacts(job->w->crm, field, value,
                               cw_hintmap_contact_fields(), cw_hh_crm_done,
                               job);
}


static void
cw_hh_get_patient(cw_job_t *job, cw_hh_step_e after)
{
    cw_hh_t  *hh = job->hdata;

    hh->after = after;
    cw_hint_get_patient(cw_hint(job->w), hh->patient_id, cw_hh_hint_done,
                        job);
}


/* The Hint patients of the contact's first and last name and birth date. */
static void
cw_hh_list_matches(cw_job_t *job, cw_hh_step_e after)
{
    json_t   *q;
    cw_hh_t  *hh = job->hdata;

    q = json_pack("{s:O,s:O,s:O}", "first_name",
                  json_object_get(hh->contact, "FirstName"), "last_name",
                  json_object_get(hh->contact, "LastName"), "dob",
                  json_object_get(hh->contact, "Birthdate"));
    hh->after = after;
    cw_hint_list_patients(cw_hint(job->w), CW_HINT_PAGE, 0, q,
                          cw_hh_hint_done, job);
    json_decref(q);
}


/* Clears the link on `contact_id`; the contact and the patient stay. */
static void
cw_hh_unlink(cw_job_t *job, const char *contact_id, cw_hh_step_e after)
{
    json_t           *f;
    cw_hh_t          *hh = job->hdata;
    const cw_conf_t  *c = job->w->conf;

    hh->after = after;
    f = json_pack("{s:b,s:n}", c->sf_field_synced, 0,
                  c->sf_field_hint_patient_id);
    job->w->crm->update_contact(job->w->crm, contact_id, f, cw_hh_crm_done,
                                job);
    json_decref(f);
}


static void
cw_hh_contact_id(cw_job_t *job, json_t *contact)
{
    cw_hh_t     *hh = job->hdata;
    const char  *id = json_string_value(json_object_get(contact, "Id"));

    snprintf(hh->contact_id, sizeof(hh->contact_id), "%s", id ? id : "");
    snprintf(job->crm_contact_id, sizeof(job->crm_contact_id), "%s",
             hh->contact_id);
}


/*
 * A batch's mark alone, for a contact the batch touched without writing
 * it (§C.7: "set on every contact the batch touched"): a skipped or
 * no_match item whose contact exists, or a linked one whose data already
 * agreed.  Only when it differs, so a rerun of the same batch writes
 * nothing.  1: the write is under way and resumes at `after`.
 */
static int
cw_hh_mark(cw_job_t *job, cw_hh_step_e after)
{
    json_t           *f;
    cw_hh_t          *hh = job->hdata;
    const char       *id, *have;
    const cw_conf_t  *c = job->w->conf;

    if (hh->marked || hh->batch_id == NULL || hh->contact == NULL) {
        return 0;
    }

    hh->marked = 1;
    id = json_string_value(json_object_get(hh->contact, "Id"));
    have = json_string_value(json_object_get(hh->contact,
                                             c->sf_field_last_batch));

    if (id == NULL || *id == '\0'
        || (have && strcmp(have, hh->batch_id) == 0))
    {
        return 0;
    }

    cw_debug("hint", "batch mark job_id=%s contact=%s", job->id, id);

    f = json_pack("{s:s}", c->sf_field_last_batch, hh->batch_id);
    hh->after = after;
    job->w->crm->update_contact(job->w->crm, id, f, cw_hh_crm_done, job);
    json_decref(f);
    return 1;
}


/*
 * Every end of a Hint job: a batch item first marks the contact it
 * touched, then ends with the status decided here.
 */
static void
cw_hh_done(cw_job_t *job, const char *status, const char *message)
{
    cw_hh_t  *hh = job->hdata;

    if (strcmp(status, "skipped") == 0 || strcmp(status, "no_match") == 0) {
        if (message != hh->msg) {
            snprintf(hh->msg, sizeof(hh->msg), "%s", message);
        }
        hh->end_status = status;
        if (cw_hh_mark(job, HH_MARKED)) {
            return;
        }
    }

    cw_job_done(job, status, message);
}


/* A skip a person should know about: logged at `error`, ids only. */
static void
cw_hh_skip(cw_job_t *job, const char *why, const char *message)
{
    cw_hh_t  *hh = job->hdata;

    cw_error("hint", "skipped job_id=%s reason=%s patient=%s contact=%s",
             job->id, why, hh->patient_id[0] ? hh->patient_id : "-",
             hh->contact_id[0] ? hh->contact_id : "-");
    cw_hh_done(job, "skipped", message);
}


/* Contacts of `hh->records` that exactly match the patient. */
static json_t *
cw_hh_matches(json_t *records, json_t *patient)
{
    size_t   i;
    json_t  *out, *r;

    out = json_array();

    json_array_foreach(records, i, r) {
        if (cw_hintmap_same_person(r, patient)) {
            json_array_append(out, r);
        }
    }

    return out;
}


/* patient.created, no contact linked: the exact match, or a new one. */
static void
cw_hh_created_matched(cw_job_t *job)
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
        other = json_string_value(json_object_get(hh->contact,
                                            c->sf_field_hint_patient_id));

        /*
         * Synced, or holding another patient's id (not synced, but its
         * link would be overwritten): another patient's contact.
         */
        if (json_is_true(json_object_get(hh->contact, c->sf_field_synced))
            || (other && *other && strcmp(other, hh->patient_id) != 0))
        {
            cw_hh_skip(job, "match_linked_elsewhere", "The matching CRM "
                       "contact is already synced to another Hint patient");
            return;
        }

        /* patient overwrites, its blanks come from the contact */
        hh->mode = CW_HM_PATIENT_WINS | CW_HM_FILL;
        hh->link = 1;
        hh->final = "linked";
        hh->step = HH_MERGE;
        cw_hh_run(job);
        return;
    }

    json_decref(m);

    if (!hh->create_contacts) {
        cw_hh_done(job, "no_match", "No matching CRM contact; creating "
                   "contacts when there is no match is off");
        return;
    }

    flat = cw_hintmap_flatten(c, hh->patient);
    f = json_pack("{s:b,s:s}", c->sf_field_synced, 1,
                  c->sf_field_hint_patient_id, hh->patient_id);
    json_object_update(f, flat);
    json_decref(flat);

    if (c->hint_default_account_id) {
        json_object_set_new(f, "AccountId",
                            json_string(c->hint_default_account_id));
    }

    if (hh->batch_id) {
        json_object_set_new(f, c->sf_field_last_batch,
                            json_string(hh->batch_id));
    }

    hh->after = HH_END;
    hh->wrote = 1;
    hh->final = "created";
    job->w->crm->create_contact(job->w->crm, f, cw_hh_crm_done, job);
    json_decref(f);
}


/* hint.sync: the candidate Hint patients of an exact match. */
static void
cw_hh_sync_listed(cw_job_t *job)
{
    size_t       i, n = 0;
    json_t      *p, *one = NULL, *body;
    cw_hh_t     *hh = job->hdata;
    const char  *id;
    size_t       len;

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
        hh->final = "linked";
        hh->next = 0;
        cw_hh_find(job, job->w->conf->sf_field_hint_patient_id,
                   hh->patient_id,
                   hh->step == HH_B_LISTED ? HH_B_OTHERS : HH_S_OTHERS);
        return;
    }

    if (!hh->create) {
        cw_hh_done(job, "no_match", "No matching Hint patient found");
        return;
    }

    body = cw_hintmap_to_hint(hh->contact, NULL);
    hh->after = HH_S_CREATED;
    hh->wrote = 1;
    cw_hint_create_patient(cw_hint(job->w), body, cw_hh_hint_done, job);
    json_decref(body);
}


/*
 * The fields of `want` that differ from the contact, added to what the
 * merge writes (`want` is consumed; NULL: nothing to write yet).
 */
static json_t *
cw_hh_add_diff(cw_hh_t *hh, json_t *to_contact, json_t *want)
{
    json_t  *d;

    d = cw_crm_diff(hh->contact, want);
    json_decref(want);

    if (d == NULL) {
        return to_contact;
    }

    if (to_contact == NULL) {
        return d;
    }

    json_object_update(to_contact, d);
    json_decref(d);
    return to_contact;
}


/* The link fields when the merge links, added to what differs. */
static json_t *
cw_hh_link_fields(cw_job_t *job, json_t *to_contact)
{
    cw_hh_t          *hh = job->hdata;
    const cw_conf_t  *c = job->w->conf;

    return cw_hh_add_diff(hh, to_contact,
                          json_pack("{s:b,s:s}", c->sf_field_synced, 1,
                                    c->sf_field_hint_patient_id,
                                    hh->patient_id));
}


/* A batch marks every contact it writes, in that same write. */
static json_t *
cw_hh_batch_field(cw_job_t *job, json_t *to_contact)
{
    cw_hh_t  *hh = job->hdata;

    if (hh->batch_id == NULL || to_contact == NULL) {
        return to_contact;
    }

    return cw_hh_add_diff(hh, to_contact,
                          json_pack("{s:s}", job->w->conf->sf_field_last_batch,
                                    hh->batch_id));
}


static void
cw_hh_merge(cw_job_t *job)
{
    json_t   *to_contact;
    cw_hh_t  *hh = job->hdata;

    cw_hintmap_merge(job->w->conf, hh->contact, hh->patient, hh->mode,
                     &to_contact, &hh->to_patient);

    if (hh->link) {
        to_contact = cw_hh_link_fields(job, to_contact);
    }

    to_contact = cw_hh_batch_field(job, to_contact);

    if (to_contact == NULL) {
        /* not a data write: the job may still end `skipped` */
        if (cw_hh_mark(job, HH_MERGE_PATIENT)) {
            return;
        }
        hh->step = HH_MERGE_PATIENT;
        cw_hh_run(job);
        return;
    }

    cw_debug("hint", "contact write job_id=%s contact=%s patient=%s "
             "fields=%zu", job->id, hh->contact_id, hh->patient_id,
             json_object_size(to_contact));

    hh->after = HH_MERGE_PATIENT;
    hh->wrote = 1;
    hh->marked = 1;             /* in this write when it differed */
    job->w->crm->update_contact(job->w->crm, hh->contact_id, to_contact,
                                cw_hh_crm_done, job);
    json_decref(to_contact);
}


static void
cw_hh_end(cw_job_t *job)
{
    cw_hh_t  *hh = job->hdata;

    if (!hh->wrote) {
        cw_hh_done(job, "skipped", "Already in sync: nothing to write");
        return;
    }

    if (strcmp(hh->final, "linked") == 0 || strcmp(hh->final, "created") == 0)
    {
        snprintf(hh->msg, sizeof(hh->msg), "%s Hint patient %s",
                 strcmp(hh->final, "linked") == 0 ? "Linked to"
                 : hh->new_patient ? "Linked to the new"
                 : "New contact linked to", hh->patient_id);
        if (hh->contact_id[0]) {
            snprintf(job->crm_contact_id, sizeof(job->crm_contact_id), "%s",
                     hh->contact_id);
        }
        cw_hh_done(job, hh->final, hh->msg);
        return;
    }

    cw_hh_done(job, hh->final, strcmp(hh->final, "unlinked") == 0
               ? "Unlinked from the Hint patient (nothing deleted)"
               : "Synced with Hint");
}


static void
cw_hh_run(cw_job_t *job)
{
    json_t      *r;
    cw_hh_t     *hh = job->hdata;
    const char  *id, *linked;
    size_t       n;

    switch (hh->step) {

    case HH_P_LINKED:
        n = json_array_size(hh->records);

        if (strcmp(hh->event, "patient.destroyed") == 0) {
            if (n == 0) {
                cw_hh_done(job, "no_match", "No CRM contact is linked to "
                           "this patient");
                return;
            }
            /* anyone who can post the webhook can name a patient: ask Hint */
            hh->final = "unlinked";
            cw_hh_get_patient(job, HH_P_GONE);
            return;
        }

        if (n > 1) {
            cw_hh_skip(job, "several_linked", "Several CRM contacts are "
                       "linked to this patient: unlink all but one");
            return;
        }

        if (n == 1) {
            cw_hh_set(&hh->contact, json_array_get(hh->records, 0));
            cw_hh_contact_id(job, hh->contact);
            hh->final = "updated";
            cw_hh_get_patient(job, HH_P_UPDATE);
            return;
        }

        if (strcmp(hh->event, "batch") == 0) {
            /* hint-to-crm: every patient is matched */
            cw_hh_get_patient(job, HH_P_CREATED);
            return;
        }

        if (strcmp(hh->event, "patient.created") != 0) {
            cw_hh_done(job, "skipped", "No CRM contact is linked to this "
                       "patient");
            return;
        }

        if (!job->w->conf->hint_create_contacts) {
            cw_hh_done(job, "skipped", "Creating contacts for new patients "
                       "is off");
            return;
        }

        cw_hh_get_patient(job, HH_P_CREATED);
        return;

    case HH_P_UPDATE:
        if (hh->patient == NULL) {
            cw_hh_done(job, "skipped", "The patient is no longer in Hint");
            return;
        }
        hh->mode = CW_HM_PATIENT_WINS;
        if (strcmp(hh->event, "batch") == 0) {
            /* a batch links and syncs: the patient's blanks are filled */
            hh->mode |= CW_HM_FILL;
        }
        hh->step = HH_MERGE;
        cw_hh_run(job);
        return;

    case HH_P_CREATED:
        if (hh->patient == NULL) {
            cw_hh_done(job, "skipped", "The patient is no longer in Hint");
            return;
        }
        id = json_string_value(json_object_get(hh->patient, "last_name"));
        if (id == NULL || *id == '\0') {
            cw_hh_skip(job, "no_last_name", "The patient has no last name");
            return;
        }
        cw_hh_find(job, "LastName", id, HH_P_MATCHED);
        return;

    case HH_P_MATCHED:
        cw_hh_created_matched(job);
        return;

    case HH_P_GONE:
        /* unlinked only when Hint confirms: not found, or inactive */
        if (hh->patient && !cw_hintmap_inactive(job->w->conf, hh->patient)) {
            cw_hh_skip(job, "patient_active", "Hint still has this patient "
                       "and it is not inactive: the patient.destroyed event "
                       "is not confirmed, nothing unlinked");
            return;
        }
        hh->next = 0;
        hh->step = HH_P_DESTROY;
        cw_hh_run(job);
        return;

    case HH_P_DESTROY:
        r = json_array_get(hh->records, hh->next++);
        if (r == NULL) {
            cw_hh_end(job);
            return;
        }
        cw_hh_contact_id(job, r);
        hh->wrote = 1;
        cw_hh_unlink(job, hh->contact_id, HH_P_DESTROY);
        return;

    case HH_C_CONTACT:
        if (hh->contact == NULL) {
            cw_hh_done(job, "no_match", "The CRM contact was not found");
            return;
        }
        linked = cw_hintmap_linked(job->w->conf, hh->contact);
        if (linked == NULL || !cw_hint_id_ok(linked)) {
            cw_hh_done(job, "skipped", "The contact is not linked to a "
                       "Hint patient");
            return;
        }
        cw_hh_pid(job, linked);
        hh->final = "updated";
        cw_hh_get_patient(job, HH_C_PATIENT);
        return;

    case HH_C_PATIENT:
        if (hh->patient == NULL) {
            cw_hh_skip(job, "patient_gone", "The linked Hint patient was not "
                       "found: unlink the contact or sync it again");
            return;
        }
        hh->mode = CW_HM_CONTACT_WINS;
        hh->step = HH_MERGE;
        cw_hh_run(job);
        return;

    case HH_S_CONTACT:
        if (hh->contact == NULL) {
            cw_hh_done(job, "no_match", "The CRM contact was not found");
            return;
        }
        hh->mode = CW_HM_CONTACT_WINS | CW_HM_FILL;
        hh->link = 1;

        if (hh->patient_id[0]) {
            cw_hh_get_patient(job, HH_S_PATIENT);
            return;
        }

        if (!cw_hintmap_matchable(hh->contact)) {
            cw_hh_done(job, "no_match", "The contact needs a first name, "
                       "last name and birth date to be matched; choose the "
                       "patient instead");
            return;
        }

        cw_hh_list_matches(job, HH_S_LISTED);
        return;

    case HH_S_PATIENT:
        if (hh->patient == NULL) {
            cw_hh_done(job, "no_match", "The chosen Hint patient was not "
                       "found");
            return;
        }
        hh->final = "linked";
        hh->next = 0;
        cw_hh_find(job, job->w->conf->sf_field_hint_patient_id,
                   hh->patient_id, HH_S_OTHERS);
        return;

    case HH_S_LISTED:
        cw_hh_sync_listed(job);
        return;

    case HH_S_OTHERS:
        /* the patient linked to another contact: that link goes first */
        while ((r = json_array_get(hh->records, hh->next++)) != NULL) {
            id = json_string_value(json_object_get(r, "Id"));
            if (id && strcmp(id, hh->contact_id) != 0) {
                cw_debug("hint", "unlink previous job_id=%s contact=%s "
                         "patient=%s", job->id, id, hh->patient_id);
                hh->wrote = 1;
                cw_hh_unlink(job, id, HH_S_OTHERS);
                return;
            }
        }
        hh->step = HH_MERGE;
        cw_hh_run(job);
        return;

    case HH_S_CREATED:
        id = json_string_value(json_object_get(hh->patient, "id"));
        if (!cw_hint_id_ok(id)) {
            cw_err_t  err;

            memset(&err, 0, sizeof(err));
            cw_err_set(&err, CW_ERR_PERMANENT, "bad_response",
                       "Hint created a patient without a usable id");
            err.retry_after_ms = -1;
            cw_job_fail(job, &err);
            return;
        }
        cw_hh_pid(job, id);
        hh->final = "created";
        hh->new_patient = 1;
        hh->step = HH_MERGE;
        cw_hh_run(job);
        return;

    case HH_U_CONTACT:
        if (hh->contact == NULL) {
            cw_hh_done(job, "no_match", "The CRM contact was not found");
            return;
        }
        id = json_string_value(json_object_get(hh->contact,
                                   job->w->conf->sf_field_hint_patient_id));
        if (!json_is_true(json_object_get(hh->contact,
                                          job->w->conf->sf_field_synced))
            && (id == NULL || *id == '\0'))
        {
            cw_hh_done(job, "skipped", "The contact is not linked");
            return;
        }
        if (id && cw_hint_id_ok(id)) {
            cw_hh_pid(job, id);
        }
        hh->wrote = 1;
        hh->final = "unlinked";
        cw_hh_unlink(job, hh->contact_id, HH_END);
        return;

    case HH_B_CONTACT:
        if (hh->contact == NULL) {
            cw_hh_done(job, "no_match", "The CRM contact was not found");
            return;
        }
        if (json_is_true(json_object_get(hh->contact,
                                         job->w->conf->sf_field_synced)))
        {
            linked = cw_hintmap_linked(job->w->conf, hh->contact);
            if (linked && cw_hint_id_ok(linked)) {
                cw_hh_pid(job, linked);
            }
            cw_hh_done(job, "skipped", "The contact is already linked to "
                       "a Hint patient");
            return;
        }
        if (!cw_hintmap_matchable(hh->contact)) {
            cw_hh_done(job, "no_match", "The contact has no first name, "
                       "last name and birth date to match on");
            return;
        }
        cw_hh_list_matches(job, HH_B_LISTED);
        return;

    case HH_B_LISTED:
        cw_hh_sync_listed(job);
        return;

    case HH_B_OTHERS:
        json_array_foreach(hh->records, n, r) {
            id = json_string_value(json_object_get(r, "Id"));
            if (id && strcmp(id, hh->contact_id) != 0) {
                cw_hh_skip(job, "patient_linked_elsewhere", "The matching "
                           "Hint patient is already linked to another "
                           "contact");
                return;
            }
        }
        hh->step = HH_MERGE;
        cw_hh_run(job);
        return;

    case HH_MERGE:
        cw_hh_merge(job);
        return;

    case HH_MERGE_PATIENT:
        if (hh->to_patient == NULL) {
            cw_hh_end(job);
            return;
        }
        cw_debug("hint", "patient write job_id=%s contact=%s patient=%s "
                 "fields=%zu", job->id, hh->contact_id, hh->patient_id,
                 json_object_size(hh->to_patient));
        hh->wrote = 1;
        hh->after = HH_END;
        cw_hint_update_patient(cw_hint(job->w), hh->patient_id,
                               hh->to_patient, cw_hh_hint_done, job);
        return;

    case HH_MARKED:
        cw_job_done(job, hh->end_status, hh->msg);
        return;

    case HH_END:
    default:
        cw_hh_end(job);
        return;
    }
}


static const char *
cw_hh_str(json_t *o, const char *k)
{
    const char  *s = json_string_value(json_object_get(o, k));

    return (s && *s) ? s : NULL;
}


static void
cw_hh_start(cw_job_t *job)
{
    char         msg[256];
    json_t      *action;
    cw_hh_t     *hh;
    cw_err_t     err;
    const char  *pid, *cid, *type = job->type;

    memset(&err, 0, sizeof(err));
    err.retry_after_ms = -1;

    if (job->w->crm == NULL || cw_hint(job->w) == NULL) {
        cw_err_set(&err, CW_ERR_PERMANENT, "not_configured",
                   "Hint sync needs [salesforce] login_url and [hint] "
                   "base_url and api_key");
        cw_job_fail(job, &err);
        return;
    }

    if (cw_hintmap_init(job->w->conf, msg, sizeof(msg)) != 0) {
        cw_err_set(&err, CW_ERR_PERMANENT, "config", "%s", msg);
        cw_job_fail(job, &err);
        return;
    }

    hh = cw_calloc(1, sizeof(*hh));
    job->hdata = hh;
    job->hfree = cw_hh_free;
    hh->final = "updated";

    action = json_object_get(job->env, "action");
    cid = cw_hh_str(action, "contact_id");
    pid = cw_hh_str(action, "patient_id");

    if (strcmp(type, "batch.item") == 0) {
        /* run by cw_batch.c: the real type is the item's */
        type = cw_hh_str(action, "item");
        hh->batch_id = cw_hh_str(action, "batch_id");
    }

    if (strcmp(type, "hint.patient") == 0) {
        pid = cw_hh_str(json_object_get(job->env, "patient"), "source_id");
        hh->event = cw_hh_str(json_object_get(job->env, "source"), "event");
        if (hh->event == NULL) {
            hh->event = "";
        }
        hh->create_contacts = strcmp(hh->event, "patient.created") == 0
                              && job->w->conf->hint_create_contacts;
        cid = NULL;

    } else if (strcmp(type, "hint.batch_patient") == 0) {
        /*
         * The item's id is the patient's (the batch keys its results by
         * the item id); the record's crm_contact_id is the contact found.
         */
        pid = cid;
        cid = NULL;
        hh->event = "batch";
        job->crm_contact_id[0] = '\0';
        hh->create_contacts = (int) job->w->conf->hint_batch_create_contacts;
    }

    if (pid && !cw_hint_id_ok(pid)) {
        cw_err_set(&err, CW_ERR_PERMANENT, "bad_job",
                   "the job's Hint patient id is not a pat- id");
        cw_job_fail(job, &err);
        return;
    }

    if (pid) {
        cw_hh_pid(job, pid);
    }

    if (hh->event) {
        if (pid == NULL) {
            cw_err_set(&err, CW_ERR_PERMANENT, "bad_job",
                       "the job has no Hint patient id");
            cw_job_fail(job, &err);
            return;
        }
        cw_hh_find(job, job->w->conf->sf_field_hint_patient_id,
                   hh->patient_id, HH_P_LINKED);
        return;
    }

    if (cid == NULL || !job->w->crm->is_contact_id(cid)) {
        cw_err_set(&err, CW_ERR_PERMANENT, "bad_job",
                   "the job's action has no valid contact_id");
        cw_job_fail(job, &err);
        return;
    }

    snprintf(hh->contact_id, sizeof(hh->contact_id), "%s", cid);
    snprintf(job->crm_contact_id, sizeof(job->crm_contact_id), "%s", cid);
    hh->create = json_is_true(json_object_get(action, "create"));

    if (strcmp(type, "crm.contact_changed") == 0) {
        cw_hh_get_contact(job, HH_C_CONTACT);

    } else if (strcmp(type, "hint.sync") == 0) {
        cw_hh_get_contact(job, HH_S_CONTACT);

    } else if (strcmp(type, "hint.batch_contact") == 0) {
        /* contact wins, its blanks are filled from the patient */
        hh->mode = CW_HM_CONTACT_WINS | CW_HM_FILL;
        hh->link = 1;
        cw_hh_get_contact(job, HH_B_CONTACT);

    } else {
        cw_hh_get_contact(job, HH_U_CONTACT);
    }
}


static const cw_handler_t  cw_h_hint[] = {
    { "hint.patient", cw_hh_start },
    { "crm.contact_changed", cw_hh_start },
    { "hint.sync", cw_hh_start },
    { "hint.unlink", cw_hh_start },
    { "hint.batch_patient", cw_hh_start },
    { "hint.batch_contact", cw_hh_start },
};


void
cw_h_hint_register(void)
{
    size_t  i;

    for (i = 0; i < sizeof(cw_h_hint) / sizeof(cw_h_hint[0]); i++) {
        cw_jobs_register(&cw_h_hint[i]);
    }
}
