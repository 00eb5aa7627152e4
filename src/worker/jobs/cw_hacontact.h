/*
 * caresync-worker: the CRM contact of a HelpAround patient (sync-rules.md
 * §A step 1), for helparound.enrollment and helparound.user_action.
 *
 * The steps, in order: by the patient's externalId when it is a CRM
 * contact id (a stale id falls through to the next step), by the partner
 * external-id field when one is configured, by the HelpAround patient id
 * field (salesforce.field_helparound_patient_id) = patient.source_id.
 *
 * Both ids are the sender's: whoever can post an enrollment can name any
 * contact.  So a contact found by any step is used only when its
 * HelpAround patient id field is empty or equal, byte for byte, to the
 * job's patient id.  A contact linked to another patient ends the job
 * `skipped`, with the contact id, the linked patient id and the job's
 * patient id in `message` and in an `error` line of the log, and nothing
 * is written.
 */
#ifndef CW_HACONTACT_H
#define CW_HACONTACT_H

#include <jansson.h>

#include "engine/cw_jobs.h"

/*
 * What the caller does with each outcome of the lookup (the values are
 * borrowed for the call):
 *   found    one contact, not linked to another patient (its Id is in
 *            job->crm_contact_id);
 *   several  one step found several: the candidates and the field they
 *            share (never guess between them);
 *   none     no step found a contact.
 */
typedef struct {
    void   (*found)(cw_job_t *job, json_t *contact);
    void   (*several)(cw_job_t *job, json_t *candidates, const char *field);
    void   (*none)(cw_job_t *job);
} cw_hac_then_t;

typedef struct {
    cw_job_t             *job;
    const char           *component;    /* of the log lines: "enrollment" */
    const char           *external_id;  /* NULL: none */
    const char           *source_id;    /* NULL: none */
    const char          **fields;       /* the caller's + the link field */
    const cw_hac_then_t  *then;
    int                   step;
} cw_hac_t;

/*
 * Runs the steps; one of `then` is called once, unless the job ends here
 * (a CRM error, a contact without an Id, a contact linked to another
 * patient).
 * `fields` (NULL-terminated) is what the caller needs of the contact; the
 * link field is read too.  `hac` lives in the handler's state until the
 * job ends; cw_hac_free() releases what it holds.
 */
void cw_hac_find(cw_hac_t *hac, cw_job_t *job, const char *component,
    const char *external_id, const char *source_id,
    const char *const *fields, const cw_hac_then_t *then);
void cw_hac_free(cw_hac_t *hac);

#endif /* CW_HACONTACT_H */
