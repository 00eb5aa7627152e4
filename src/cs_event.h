/*
 * caresync core: what a validated inbound event boils down to.
 *
 * A source's rules (cs_helparound.c, …) fill it from the parsed body;
 * cs_ingest.c turns it into the answers and the job envelope.  Views
 * point into the parsed body and live as long as it does.
 */

#ifndef CS_EVENT_H
#define CS_EVENT_H

#include "cs_id.h"
#include "cs_patient.h"
#include "cs_str.h"

typedef struct {
    const char   *type;               /* job type, static */
    const char   *system;             /* "helparound", static */
    cs_str_t      name;               /* the sender's event name */
    cs_str_t      program_id;
    cs_str_t      sent_at;            /* as sent */
    cs_str_t      patient_id;         /* as sent; set as soon as readable */
    cs_str_t      user_action;        /* action events only */
    char          idem_key[CS_ID_SHA256_LEN + 1];
    char          uuid[CS_ID_UUID_LEN + 1];   /* a derived external id */
    cs_patient_t  patient;
} cs_event_t;

#endif /* CS_EVENT_H */
