/*
 * caresync-worker: what the Hint <-> CRM jobs share (see cw_hint_job.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/cw_log.h"
#include "engine/cw_util.h"
#include "jobs/cw_hint_job.h"

static const char  *cw_ho_words[] = {
    "updated", "linked", "created", "unlinked", "skipped", "no_match"
};


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


cw_hh_t *
cw_hh_new(cw_job_t *job, cw_hh_run_pt run)
{
    char      msg[256];
    cw_hh_t  *hh;

    if (job->w->crm == NULL || cw_hint(job->w) == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_NOT_CONFIGURED,
                     "Hint sync needs [salesforce] login_url and [hint] "
                     "base_url and api_key");
        return NULL;
    }

    if (cw_hintmap_init(job->w->conf, msg, sizeof(msg)) != 0) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_CONFIG, "%s", msg);
        return NULL;
    }

    hh = cw_calloc(1, sizeof(*hh));
    job->hdata = hh;
    job->hfree = cw_hh_free;
    hh->run = run;
    hh->final = CW_HO_UPDATED;
    hh->batch_id = cw_env_str(cw_env_get(job->env.root, "action"),
                               "batch_id");

    return hh;
}


int
cw_hh_contact_key(cw_job_t *job, cw_patient_t *p)
{
    return cw_job_patient_at(job, p, "crm", "action", "contact_id");
}


cw_hh_t *
cw_hh_new_contact(cw_job_t *job, cw_hh_run_pt run)
{
    cw_hh_t          *hh = cw_hh_new(job, run);
    const char       *cid;
    const cs_json_t  *action = cw_env_get(job->env.root, "action");

    if (hh == NULL) {
        return NULL;
    }

    cid = cw_env_str(action, "contact_id");
    if (cid == NULL || !job->w->crm->is_contact_id(cid)) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                     "the job's action has no valid contact_id");
        return NULL;
    }

    cw_hh_cid(job, cid);
    hh->create = cs_json_is_true(cw_env_get(action, "create"));
    return hh;
}


/*
 * The patient the job is about, also in the status record's
 * hint_patient_id: a CRM user or an operator can go from the job to the
 * patient without reading the message.
 */
/* an id in the handler's state and in the job's record, alike */
static void
cw_hh_keep(char *own, char *record, const char *id)
{
    snprintf(own, CW_JOB_REF_LEN, "%s", id ? id : "");
    snprintf(record, CW_JOB_REF_LEN, "%s", own);
}


void
cw_hh_pid(cw_job_t *job, const char *id)
{
    cw_hh_t  *hh = job->hdata;

    cw_hh_keep(hh->patient_id, job->hint_patient_id, id);
}


void
cw_hh_cid(cw_job_t *job, const char *id)
{
    cw_hh_t  *hh = job->hdata;

    cw_hh_keep(hh->contact_id, job->crm_contact_id, id);
}


void
cw_hh_contact_id(cw_job_t *job, json_t *contact)
{
    cw_hh_cid(job, json_string_value(json_object_get(contact, "Id")));
}


void
cw_hh_set(json_t **slot, json_t *v)
{
    json_decref(*slot);
    *slot = v ? json_incref(v) : NULL;
}


static void
cw_hh_resume(cw_job_t *job)
{
    cw_hh_t  *hh = job->hdata;

    hh->step = hh->after;
    hh->run(job);
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
                                        job->w->conf->sf.field_hint_patient_id,
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

    cw_hh_resume(job);
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

    cw_hh_resume(job);
}


void
cw_hh_get_contact(cw_job_t *job, int after)
{
    cw_hh_t  *hh = job->hdata;

    hh->after = after;
    job->w->crm->get_contact(job->w->crm, hh->contact_id,
                             cw_hintmap_contact_fields(), cw_hh_contact_done,
                             job);
}


void
cw_hh_find(cw_job_t *job, const char *field, const char *value, int after)
{
    cw_hh_t  *hh = job->hdata;

    hh->after = after;
    hh->exact = strcmp(field, job->w->conf->sf.field_hint_patient_id) == 0
                ? value : NULL;
    json_decref(hh->records);
    hh->records = NULL;
    job->w->crm->find_contacts(job->w->crm, field, value,
                               cw_hintmap_contact_fields(), cw_hh_crm_done,
                               job);
}


void
cw_hh_get_patient(cw_job_t *job, int after)
{
    cw_hh_t  *hh = job->hdata;

    hh->after = after;
    cw_hint_get_patient(cw_hint(job->w), hh->patient_id, cw_hh_hint_done,
                        job);
}


void
cw_hh_list_matches(cw_job_t *job, int after)
{
    json_t   *q;
    cw_hh_t  *hh = job->hdata;

    q = cw_hintmap_match_filters(hh->contact);
    hh->after = after;
    cw_hint_list_patients(cw_hint(job->w), CW_HINT_PAGE, 0, q,
                          cw_hh_hint_done, job);
    json_decref(q);
}


void
cw_hh_unlink(cw_job_t *job, const char *contact_id, int after)
{
    json_t           *f;
    cw_hh_t          *hh = job->hdata;
    const cw_conf_t  *c = job->w->conf;

    hh->after = after;
    f = json_pack("{s:b,s:n}", c->sf.field_synced, 0,
                  c->sf.field_hint_patient_id);
    job->w->crm->update_contact(job->w->crm, contact_id, f, cw_hh_crm_done,
                                job);
    json_decref(f);
}


void
cw_hh_create_patient(cw_job_t *job, json_t *body, int after)
{
    cw_hh_t  *hh = job->hdata;

    hh->after = after;
    hh->wrote = 1;
    cw_hint_create_patient(cw_hint(job->w), body, cw_hh_hint_done, job);
}


void
cw_hh_create_contact(cw_job_t *job, json_t *fields, int after)
{
    cw_hh_t  *hh = job->hdata;

    hh->after = after;
    hh->wrote = 1;
    job->w->crm->create_contact(job->w->crm, fields, cw_hh_crm_done, job);
}


int
cw_hh_take_contact(cw_job_t *job)
{
    cw_hh_t       *hh = job->hdata;
    cw_patient_t   p;

    memset(&p, 0, sizeof(p));
    if (cw_patient_key(&p, "crm", hh->contact_id) != 0) {
        return 1;               /* no usable id: nothing is written to it */
    }

    return cw_job_lock(job, &p);
}


json_t *
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


/* ---- the batch mark and the end ---- */

static void
cw_hh_marked(void *data, cw_crm_res_t *res)
{
    cw_job_t  *job = data;
    cw_hh_t   *hh = job->hdata;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(job, &res->err);
        return;
    }

    cw_job_done(job, cw_ho_words[hh->end_status], hh->msg);
}


/*
 * A batch's mark alone, for a contact the batch touched without writing
 * it (§C.7: "set on every contact the batch touched"): a skipped or
 * no_match item whose contact exists, or a linked one whose data already
 * agreed.  Only when it differs, so a rerun of the same batch writes
 * nothing.  1: the write is under way and `done` follows.
 */
static int
cw_hh_mark(cw_job_t *job, cw_crm_done_pt done)
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
                                             c->sf.field_last_batch));

    if (id == NULL || *id == '\0'
        || (have && strcmp(have, hh->batch_id) == 0))
    {
        return 0;
    }

    cw_debug("hint", "batch mark job_id=%s contact=%s", job->id, id);

    f = json_pack("{s:s}", c->sf.field_last_batch, hh->batch_id);
    job->w->crm->update_contact(job->w->crm, id, f, done, job);
    json_decref(f);
    return 1;
}


void
cw_hh_done(cw_job_t *job, cw_ho_e outcome, const char *message)
{
    cw_hh_t  *hh = job->hdata;

    if (outcome == CW_HO_SKIPPED || outcome == CW_HO_NO_MATCH) {
        if (message != hh->msg) {
            snprintf(hh->msg, sizeof(hh->msg), "%s", message);
        }
        hh->end_status = outcome;
        if (cw_hh_mark(job, cw_hh_marked)) {
            return;
        }
    }

    cw_job_done(job, cw_ho_words[outcome], message);
}


void
cw_hh_skip(cw_job_t *job, const char *why, const char *message)
{
    cw_hh_t  *hh = job->hdata;

    cw_error("hint", "skipped job_id=%s reason=%s patient=%s contact=%s",
             job->id, why, hh->patient_id[0] ? hh->patient_id : "-",
             hh->contact_id[0] ? hh->contact_id : "-");
    cw_hh_done(job, CW_HO_SKIPPED, message);
}


void
cw_hh_end(cw_job_t *job)
{
    cw_hh_t     *hh = job->hdata;
    const char  *what;

    if (!hh->wrote) {
        cw_hh_done(job, CW_HO_SKIPPED, "Already in sync: nothing to write");
        return;
    }

    switch (hh->final) {

    case CW_HO_LINKED:
    case CW_HO_CREATED:
        what = hh->final == CW_HO_LINKED ? "Linked to"
               : hh->new_patient ? "Linked to the new"
               : "New contact linked to";
        snprintf(hh->msg, sizeof(hh->msg), "%s Hint patient %s", what,
                 hh->patient_id);
        if (hh->contact_id[0]) {
            snprintf(job->crm_contact_id, sizeof(job->crm_contact_id), "%s",
                     hh->contact_id);
        }
        cw_hh_done(job, hh->final, hh->msg);
        return;

    case CW_HO_UNLINKED:
        cw_hh_done(job, hh->final, "Unlinked from the Hint patient (nothing "
                   "deleted)");
        return;

    default:
        cw_hh_done(job, hh->final, "Synced with Hint");
        return;
    }
}


/* ---- the merge ---- */

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


static void
cw_hh_merged_patient(void *data, cw_hint_res_t *res)
{
    cw_job_t  *job = data;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(job, &res->err);
        return;
    }

    cw_hh_end(job);
}


/* What the merge writes to Hint, after the contact. */
static void
cw_hh_merge_patient(cw_job_t *job)
{
    cw_hh_t  *hh = job->hdata;

    if (hh->to_patient == NULL) {
        cw_hh_end(job);
        return;
    }

    cw_debug("hint", "patient write job_id=%s contact=%s patient=%s "
             "fields=%zu", job->id, hh->contact_id, hh->patient_id,
             json_object_size(hh->to_patient));
    hh->wrote = 1;
    cw_hint_update_patient(cw_hint(job->w), hh->patient_id, hh->to_patient,
                           cw_hh_merged_patient, job);
}


static void
cw_hh_merged_contact(void *data, cw_crm_res_t *res)
{
    cw_job_t  *job = data;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(job, &res->err);
        return;
    }

    cw_hh_merge_patient(job);
}


void
cw_hh_merge(cw_job_t *job)
{
    json_t           *to_contact;
    cw_hh_t          *hh = job->hdata;
    const cw_conf_t  *c = job->w->conf;

    cw_hintmap_merge(c, hh->contact, hh->patient, hh->mode, &to_contact,
                     &hh->to_patient);

    if (hh->link) {
        to_contact = cw_hh_add_diff(hh, to_contact,
                                    json_pack("{s:b,s:s}", c->sf.field_synced,
                                              1, c->sf.field_hint_patient_id,
                                              hh->patient_id));
    }

    /* a batch marks every contact it writes, in that same write */
    if (hh->batch_id && to_contact) {
        to_contact = cw_hh_add_diff(hh, to_contact,
                                    json_pack("{s:s}", c->sf.field_last_batch,
                                              hh->batch_id));
    }

    if (to_contact == NULL) {
        /* not a data write: the job may still end `skipped` */
        if (cw_hh_mark(job, cw_hh_merged_contact)) {
            return;
        }
        cw_hh_merge_patient(job);
        return;
    }

    cw_debug("hint", "contact write job_id=%s contact=%s patient=%s "
             "fields=%zu", job->id, hh->contact_id, hh->patient_id,
             json_object_size(to_contact));

    hh->wrote = 1;
    hh->marked = 1;             /* in this write when it differed */
    job->w->crm->update_contact(job->w->crm, hh->contact_id, to_contact,
                                cw_hh_merged_contact, job);
    json_decref(to_contact);
}
