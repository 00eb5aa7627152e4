/*
 * caresync-worker: the one mapping between a Hint patient and a CRM
 * contact (sync-rules.md §C).
 *
 * A table of contact fields, each with where it lives in Hint's patient
 * and whether it is synced both ways or only from Hint (read-only in the
 * CRM: practitioner, insurance, consents).  Every comparison happens in
 * contact terms: the patient is first "flattened" into contact fields,
 * so that cw_crm_diff() decides what differs for both directions and a
 * value written one way compares equal when it echoes back.
 *
 * The Hint names of the consent facts are unconfirmed, hence the
 * [hint] field_* configuration keys.  The CRM side's integration fields
 * (the link and the Hint -> CRM fields) have configured API names too,
 * the salesforce.field_* keys (external-apis.md): the table's names are
 * the defaults, resolved once per process by cw_hintmap_init().
 */
#ifndef CW_HINTMAP_H
#define CW_HINTMAP_H

#include <jansson.h>

#include "cw_config.h"

/* merge modes */
#define CW_HM_PATIENT_WINS  0x01    /* Hint events, batch hint-to-crm */
#define CW_HM_CONTACT_WINS  0x02    /* CRM changes, manual sync, crm-to-hint */
#define CW_HM_FILL          0x04    /* the winner's blanks are filled from
                                       the other side */

/*
 * Resolves the configured field names; 0, or -1 with what to fix in err
 * (a bad API name, or an empty link field).  Every function below needs
 * it to have succeeded.  An empty Hint -> CRM field turns that entry off
 * (an org without the field).
 */
int cw_hintmap_init(const cw_conf_t *c, char *err, size_t errlen);

/* NULL-terminated contact fields to read (Id, AccountId, link, mapped) */
const char *const *cw_hintmap_contact_fields(void);

/* The patient as contact fields; empty values left out. */
json_t *cw_hintmap_flatten(const cw_conf_t *c, json_t *patient);

/*
 * A Hint PATCH/POST body from contact-keyed `fields`: two-way fields
 * only, whatever `fields` holds (read-only ones are never written to
 * Hint).  `patient` (may be NULL) supplies the phones that stay.
 */
json_t *cw_hintmap_to_hint(json_t *fields, json_t *patient);

/*
 * What to write where.  *to_contact: contact fields; *to_patient: a Hint
 * body; either NULL when nothing differs.  Empty values never blank the
 * other side.
 */
void cw_hintmap_merge(const cw_conf_t *c, json_t *contact, json_t *patient,
    int mode, json_t **to_contact, json_t **to_patient);

/* Same first name, last name (trimmed, any case) and date of birth. */
int cw_hintmap_same_person(json_t *contact, json_t *patient);

/* Whether the contact has what an exact match needs. */
int cw_hintmap_matchable(json_t *contact);

/* The linked patient id, or NULL when the contact is not linked. */
const char *cw_hintmap_linked(const cw_conf_t *c, json_t *contact);

/*
 * Whether Hint says the patient is inactive: its membership_status is one
 * of hint.inactive_statuses (comma-separated, any case).  A patient
 * without one is not inactive.
 */
int cw_hintmap_inactive(const cw_conf_t *c, json_t *patient);

#endif /* CW_HINTMAP_H */
