/*
 * caresync core: the CRM's action bodies (spec/inbound.md §4).
 *
 *   healthsherpa-sync    {"contact_id","agent"}
 *   hint-sync            {"contact_id","patient_id"?,"create"?}
 *   hint-unlink          {"contact_id"}
 *   crm-contact-changed  {"contact_id"}
 *   dlq-replay           {"dead_id"}: an operator's, the console's only
 *                        (ops.dlq_replay; the worker replays the entry)
 *   hs-login             {"agent"}: the console's "Login to HealthSherpa"
 *                        (ops.hs_login; the worker issues the URL)
 *   hs-exchange          {"state","code"}: made by the OAuth callback
 *                        location from its query, never posted
 *                        (ops.hs_exchange)
 *
 * `contact_id` is a 15- or 18-character Salesforce id ([A-Za-z0-9]);
 * `agent` a non-empty string of at most 254 bytes (an e-mail or a CRM
 * user id); `patient_id` a Hint patient id (`pat-` and [A-Za-z0-9_-]);
 * `create` a boolean; `dead_id` a Redis stream id, digits "-" digits, at
 * most 41 bytes; `state` 32 lower-case hex digits; `code` 1 to 512 of
 * [A-Za-z0-9._~+/=@-].  Strings are trimmed; unknown members are ignored,
 * null is absent.  Every accepted click is its own job: the idempotency
 * key is the digest of the job id, so nothing is ever deduplicated.
 * Returns CS_OK, or CS_ERROR when out of memory.
 */

#ifndef CS_ACTION_H
#define CS_ACTION_H

#include "cs_event.h"
#include "cs_field.h"
#include "cs_ingest.h"

#define CS_ACTION_AGENT_MAX       CS_INGEST_AGENT_MAX
#define CS_ACTION_PATIENT_ID_MAX  64

/* 1 for the CS_API_* kinds. */
int cs_action_kind(cs_webhook_t kind);

/* 1 for an operator's action (a `caresync_console` location's only). */
int cs_action_ops(cs_webhook_t kind);

/* The kind of an action by its name (the path's last segment), 0: none. */
cs_webhook_t cs_action_find(const char *name, size_t len);

int cs_action_event(cs_check_t *ck, const cs_json_t *root, cs_webhook_t kind,
    const char *job_id, cs_event_t *ev);

#endif /* CS_ACTION_H */
