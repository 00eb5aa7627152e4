/*
 * caresync-worker: the CRM contact of a HelpAround patient.
 */

#include <stdlib.h>
#include <string.h>

#include "jobs/cw_hacontact.h"
#include "engine/cw_log.h"
#include "engine/cw_util.h"

typedef enum {
    CW_HAC_BY_ID = 0,
    CW_HAC_BY_PARTNER,
    CW_HAC_BY_SOURCE,
    CW_HAC_END
} cw_hac_step_e;


static void cw_hac_next(cw_hac_t *hac);


void
cw_hac_free(cw_hac_t *hac)
{
    free(hac->fields);
    hac->fields = NULL;
}


/*
 * 1 when the contact may be written for the job's patient: its link field
 * is empty (null or "") or holds exactly the job's patient id.  Anything
 * else, the field missing from the answer included, is another patient's
 * contact (`*linked`: what it holds, when it is a string).
 */
static int
cw_hac_ours(cw_hac_t *hac, json_t *record, const char **linked)
{
    json_t      *v;
    const char  *s;

    v = json_object_get(record, hac->job->w->conf->sf.field_helparound_id);
    *linked = NULL;

    if (json_is_null(v)) {
        return 1;
    }

    s = json_string_value(v);
    if (s == NULL) {
        return 0;
    }

    if (*s == '\0') {
        return 1;
    }

    *linked = s;
    return hac->source_id != NULL && strcmp(s, hac->source_id) == 0;
}


/* Another patient's contact: `skipped`, ids only, nothing written. */
static void
cw_hac_conflict(cw_hac_t *hac, const char *contact, const char *linked)
{
    char              msg[512];
    cw_job_t         *job = hac->job;
    const char       *cid, *lid, *pid;
    const cw_conf_t  *c = job->w->conf;

    cid = cw_log_id(contact);
    lid = linked ? cw_log_id(linked) : "(not readable)";
    pid = hac->source_id ? cw_log_id(hac->source_id) : "(none)";

    snprintf(msg, sizeof(msg), "CRM contact %s is linked to HelpAround "
             "patient %s, not to this job's patient %s: nothing written; "
             "check the contact's %s and the externalId the patient was "
             "sent with", cid, lid, pid, c->sf.field_helparound_id);

    cw_error(hac->component, "skipped job_id=%s reason=linked_elsewhere "
             "contact=%s linked_patient=%s patient=%s", job->id, cid, lid,
             pid);

    cw_job_done(job, "skipped", msg);
}


/* One contact found by a step: the job's, or the job ends here. */
static void
cw_hac_one(cw_hac_t *hac, json_t *record)
{
    cw_job_t    *job = hac->job;
    const char  *id, *linked;

    id = json_string_value(json_object_get(record, "Id"));

    if (id == NULL || *id == '\0') {
        cw_job_failf(job, CW_ERR_TRANSIENT, CW_E_BAD_RESPONSE,
                     "the CRM returned a contact without an Id");
        return;
    }

    if (!cw_hac_ours(hac, record, &linked)) {
        cw_hac_conflict(hac, id, linked);
        return;
    }

    snprintf(job->crm_contact_id, sizeof(job->crm_contact_id), "%s", id);
    hac->then->found(job, record);
}


static void
cw_hac_got(void *data, cw_crm_res_t *res)
{
    cw_hac_t  *hac = data;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(hac->job, &res->err);
        return;
    }

    if (res->record == NULL) {
        /* the id is stale (merged, deleted): look the patient up instead */
        cw_debug(hac->component, "contact id not found job_id=%s contact=%s",
                 hac->job->id, hac->external_id);
        hac->step = CW_HAC_BY_PARTNER;
        cw_hac_next(hac);
        return;
    }

    cw_hac_one(hac, res->record);
}


static void
cw_hac_found(void *data, cw_crm_res_t *res)
{
    size_t            n;
    cw_hac_t         *hac = data;
    const cw_conf_t  *c = hac->job->w->conf;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(hac->job, &res->err);
        return;
    }

    n = json_array_size(res->records);

    if (n == 1) {
        cw_hac_one(hac, json_array_get(res->records, 0));
        return;
    }

    if (n == 0) {
        hac->step++;
        cw_hac_next(hac);
        return;
    }

    /* never guess between duplicates: the caller says so */
    hac->then->several(hac->job, res->records,
                       hac->step == CW_HAC_BY_PARTNER
                       ? c->sf.field_partner_external_id
                       : c->sf.field_helparound_id);
}


static void
cw_hac_next(cw_hac_t *hac)
{
    cw_crm_t         *crm = hac->job->w->crm;
    const cw_conf_t  *c = hac->job->w->conf;
    const char      **f = hac->fields;

    for (;;) {
        switch (hac->step) {

        case CW_HAC_BY_ID:
            if (hac->external_id && crm->is_contact_id(hac->external_id)) {
                crm->get_contact(crm, hac->external_id, f, cw_hac_got, hac);
                return;
            }
            hac->step++;
            break;

        case CW_HAC_BY_PARTNER:
            if (hac->external_id && c->sf.field_partner_external_id) {
                crm->find_contacts(crm, c->sf.field_partner_external_id,
                                   hac->external_id, f, cw_hac_found, hac);
                return;
            }
            hac->step++;
            break;

        case CW_HAC_BY_SOURCE:
            if (hac->source_id) {
                crm->find_contacts(crm, c->sf.field_helparound_id,
                                   hac->source_id, f, cw_hac_found, hac);
                return;
            }
            hac->step++;
            break;

        default:
            hac->then->none(hac->job);
            return;
        }
    }
}


void
cw_hac_find(cw_hac_t *hac, cw_job_t *job, const char *component,
    const char *external_id, const char *source_id,
    const char *const *fields, const cw_hac_then_t *then)
{
    size_t       n, k;
    const char  *link = job->w->conf->sf.field_helparound_id;

    for (n = 0; fields[n]; n++) {
        /* void */
    }

    hac->job = job;
    hac->component = component;
    hac->external_id = external_id;
    hac->source_id = source_id;
    hac->then = then;
    hac->step = CW_HAC_BY_ID;

    /* the caller's fields, then the link field unless they name it */
    hac->fields = cw_calloc(n + 2, sizeof(char *));

    for (k = 0; k < n; k++) {
        hac->fields[k] = fields[k];
        if (link && strcmp(fields[k], link) == 0) {
            link = NULL;
        }
    }

    hac->fields[k++] = link;
    hac->fields[k] = NULL;

    cw_hac_next(hac);
}
