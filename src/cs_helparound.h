/*
 * caresync core: the HelpAround webhooks (spec/inbound.md §1, §2).
 *
 * Each function checks a parsed body against its field table, in table
 * order (required fields first, then the optional ones), and fills `ev`.
 * The first problem found is left in `ck`; `ev->patient_id` is set
 * whenever the patient id was readable, for the 400 answer.  They return
 * CS_OK, or CS_ERROR when out of memory.
 */

#ifndef CS_HELPAROUND_H
#define CS_HELPAROUND_H

#include "cs_event.h"
#include "cs_field.h"
#include "cs_ingest.h"

#define CS_HA_ENROLLMENT_EVENT  "HelpAround.Patient.CompleteEnrollment"
#define CS_HA_VIEWED_EVENT      "HelpAround.Patient.UserAction.ViewedTracker"
#define CS_HA_ACTION_PREFIX     "HelpAround.Patient.UserAction."
#define CS_HA_PARTNER_SOURCE    "Partner"

int cs_helparound_enrollment(cs_check_t *ck, const cs_json_t *root,
    const cs_ingest_conf_t *conf, cs_event_t *ev);

int cs_helparound_user_action(cs_check_t *ck, const cs_json_t *root,
    const cs_ingest_conf_t *conf, cs_event_t *ev);

#endif /* CS_HELPAROUND_H */
