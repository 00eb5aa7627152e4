/*
 * caresync core: the Hint Health webhook (spec/inbound.md §3).
 *
 * Body {"id","created_at","type","practice_id","object"}.  Required: `id`
 * and `type` (non-empty strings), `object` (an object); for `patient.*`
 * types also `object.id`.  Then the optional envelope members, then, for
 * the patient types that are synced, Hint's patient fields in the order
 * of spec/external-apis.md, mapped as cs_patient.h documents.  Unknown
 * members are ignored, null is absent, a wrong type is a 400.
 *
 * Other types (membership.*, invoice.*, unknown patient.* actions) are
 * checked up to the required members and marked `ev->ignored`: answered
 * 200, not queued.  `ev->event_id` is set as soon as the id is readable,
 * for the 400 answer.  Returns CS_OK, or CS_ERROR when out of memory.
 */

#ifndef CS_HINT_H
#define CS_HINT_H

#include "cs_event.h"
#include "cs_field.h"
#include "cs_ingest.h"

#define CS_HINT_JOB_TYPE     "hint.patient"
#define CS_HINT_IGNORED      "hint.ignored"   /* job_type label only */

int cs_hint_event(cs_check_t *ck, const cs_json_t *root,
    const cs_ingest_conf_t *conf, cs_event_t *ev);

#endif /* CS_HINT_H */
