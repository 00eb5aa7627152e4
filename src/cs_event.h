/*
 * caresync core: what a validated inbound event boils down to.
 *
 * A source's rules (cs_helparound.c, cs_hint.c, cs_action.c) fill it from
 * the parsed body; cs_ingest.c turns it into the answers and the job
 * envelope.  Views point into the parsed body and live as long as it does.
 * `system` tells the answer's shape: "helparound", "hint" or "crm" (an
 * action: no patient, an "action" object instead).
 */

#ifndef CS_EVENT_H
#define CS_EVENT_H

#include "cs_id.h"
#include "cs_patient.h"
#include "cs_str.h"

/* The parameters of a CRM action (spec/inbound.md §4). */
typedef struct {
    const char   *name;               /* "hint-sync" …, static */
    cs_str_t      contact_id;
    cs_str_t      patient_id;         /* a Hint patient id */
    cs_str_t      agent;
    int           create;             /* 1, 0, or -1 when absent */
    cs_str_t      dead_id;            /* dlq-replay: a stream entry id */
    cs_str_t      state;              /* hs-exchange: the login's */
    cs_str_t      code;               /* hs-exchange: the vendor's */
    cs_str_t      actor;              /* operator actions: the edge's */
} cs_event_action_t;

typedef struct {
    const char   *type;               /* job type, static */
    const char   *system;             /* "helparound" …, static */
    cs_str_t      name;               /* the sender's event name */
    cs_str_t      program_id;
    cs_str_t      sent_at;            /* as sent */
    cs_str_t      patient_id;         /* as sent; set as soon as readable */
    cs_str_t      user_action;        /* action events only */
    char          idem_key[CS_ID_SHA256_LEN + 1];
    char          uuid[CS_ID_UUID_LEN + 1];   /* a derived external id */
    cs_str_t      event_id;           /* hint: the event id, as sent */
    cs_str_t      practice_id;        /* hint */
    cs_str_t      created_at;         /* hint: as sent, when a date */
    int           ignored;            /* answered, not queued (hint) */
    cs_event_action_t  action;        /* crm actions */
    cs_patient_t  patient;
} cs_event_t;

#endif /* CS_EVENT_H */
