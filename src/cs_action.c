/*
 * caresync core: CRM action rules (see cs_action.h).
 */

#include <stddef.h>
#include <string.h>

#include "cs_action.h"
#include "cs_normalize.h"

#define CS_TRY(rc)  do { if ((rc) != 0) return -1; } while (0)

#define cs_alnum(c)                                                       \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')               \
     || ((c) >= '0' && (c) <= '9'))


static const struct {
    cs_webhook_t   kind;
    const char    *name;              /* the path's last segment */
    const char    *type;              /* the job type */
} cs_actions[] = {
    { CS_API_HEALTHSHERPA_SYNC, "healthsherpa-sync", "healthsherpa.sync" },
    { CS_API_HINT_SYNC, "hint-sync", "hint.sync" },
    { CS_API_HINT_UNLINK, "hint-unlink", "hint.unlink" },
    { CS_API_CRM_CONTACT_CHANGED, "crm-contact-changed",
      "crm.contact_changed" },
    { CS_API_DLQ_REPLAY, "dlq-replay", "ops.dlq_replay" },
    { CS_API_HS_LOGIN, "hs-login", "ops.hs_login" },
    { CS_API_HS_EXCHANGE, "hs-exchange", "ops.hs_exchange" },
};


int
cs_action_ops(cs_webhook_t kind)
{
    return kind == CS_API_DLQ_REPLAY || kind == CS_API_HS_LOGIN
           || kind == CS_API_HS_EXCHANGE;
}


int
cs_action_kind(cs_webhook_t kind)
{
    size_t  i;

    for (i = 0; i < sizeof(cs_actions) / sizeof(cs_actions[0]); i++) {
        if (cs_actions[i].kind == kind) {
            return 1;
        }
    }

    return 0;
}


cs_webhook_t
cs_action_find(const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < sizeof(cs_actions) / sizeof(cs_actions[0]); i++) {
        if (strlen(cs_actions[i].name) == len
            && memcmp(cs_actions[i].name, name, len) == 0)
        {
            return cs_actions[i].kind;
        }
    }

    return (cs_webhook_t) 0;
}


/* Salesforce ids: 15 characters, or 18 with the case-safe suffix. */
static int
cs_action_sf_id(cs_str_t s)
{
    size_t  i;

    if (s.len != 15 && s.len != 18) {
        return 0;
    }

    for (i = 0; i < s.len; i++) {
        if (!cs_alnum(s.data[i])) {
            return 0;
        }
    }

    return 1;
}


/* "pat-" and [A-Za-z0-9_-]: safe in a URL path and in logs. */
static int
cs_action_hint_id(cs_str_t s)
{
    size_t  i;
    char    c;

    if (s.len <= 4 || s.len > CS_ACTION_PATIENT_ID_MAX
        || memcmp(s.data, "pat-", 4) != 0)
    {
        return 0;
    }

    for (i = 4; i < s.len; i++) {
        c = s.data[i];

        if (!cs_alnum(c) && c != '_' && c != '-') {
            return 0;
        }
    }

    return 1;
}


/* the agent an action acts for: required, trimmed, bounded */
static int
cs_action_agent(cs_check_t *ck, const cs_json_t *root, cs_event_action_t *a)
{
    CS_TRY(cs_field_string(ck, root, "", "agent", CS_FIELD_REQUIRED,
                           &a->agent));

    a->agent = cs_norm_trim(a->agent);

    if (a->agent.len > CS_ACTION_AGENT_MAX) {
        return cs_field_fail(ck, "too_long", "", "agent", "is too long");
    }

    return 0;
}


/* "<ms>-<seq>", as Redis writes a stream entry's id */
static int
cs_action_stream_id(cs_str_t s)
{
    size_t  i, dash = 0;

    if (s.len < 3 || s.len > 41) {
        return 0;
    }

    for (i = 0; i < s.len; i++) {
        if (s.data[i] == '-' && dash == 0 && i > 0 && i < s.len - 1) {
            dash = i;

        } else if (s.data[i] < '0' || s.data[i] > '9') {
            return 0;
        }
    }

    return dash != 0;
}


/* the OAuth `state` of a login (32 hex digits) and the vendor's `code` */
static int
cs_action_oauth(cs_check_t *ck, const cs_json_t *root, cs_event_action_t *a)
{
    size_t  i;
    char    c;

    CS_TRY(cs_field_string(ck, root, "", "state", CS_FIELD_REQUIRED,
                           &a->state));

    for (i = 0; i < a->state.len; i++) {
        c = a->state.data[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
            break;
        }
    }

    if (a->state.len != 32 || i != 32) {
        return cs_field_fail(ck, "bad_value", "", "state",
                             "must be a login's state");
    }

    CS_TRY(cs_field_string(ck, root, "", "code", CS_FIELD_REQUIRED,
                           &a->code));

    for (i = 0; i < a->code.len; i++) {
        c = a->code.data[i];

        if (c == '\0' || (!cs_alnum(c) && !strchr("._~+/=@-", c))) {
            break;
        }
    }

    if (a->code.len > 512 || i != a->code.len) {
        return cs_field_fail(ck, "bad_value", "", "code",
                             "must be an authorization code");
    }

    return 0;
}


static int
cs_action_check(cs_check_t *ck, const cs_json_t *root, cs_webhook_t kind,
    cs_event_action_t *a)
{
    if (kind == CS_API_HS_EXCHANGE) {
        return cs_action_oauth(ck, root, a);
    }

    if (kind == CS_API_DLQ_REPLAY) {
        CS_TRY(cs_field_string(ck, root, "", "dead_id", CS_FIELD_REQUIRED,
                               &a->dead_id));

        a->dead_id = cs_norm_trim(a->dead_id);

        if (!cs_action_stream_id(a->dead_id)) {
            return cs_field_fail(ck, "bad_value", "", "dead_id",
                                 "must be a dead letter's id");
        }

        return 0;
    }

    if (kind == CS_API_HS_LOGIN) {
        return cs_action_agent(ck, root, a);
    }

    CS_TRY(cs_field_string(ck, root, "", "contact_id", CS_FIELD_REQUIRED,
                           &a->contact_id));

    a->contact_id = cs_norm_trim(a->contact_id);

    if (!cs_action_sf_id(a->contact_id)) {
        return cs_field_fail(ck, "bad_value", "", "contact_id",
                             "must be a 15- or 18-character Salesforce id");
    }

    switch (kind) {

    case CS_API_HEALTHSHERPA_SYNC:
        return cs_action_agent(ck, root, a);

    case CS_API_HINT_SYNC:
        CS_TRY(cs_field_text(ck, root, "", "patient_id", &a->patient_id));

        if (a->patient_id.len && !cs_action_hint_id(a->patient_id)) {
            return cs_field_fail(ck, "bad_value", "", "patient_id",
                                 "must be a Hint patient id");
        }

        CS_TRY(cs_field_bool(ck, root, "", "create", &a->create));
        break;

    default:
        break;
    }

    return 0;
}


int
cs_action_event(cs_check_t *ck, const cs_json_t *root, cs_webhook_t kind,
    const char *job_id, cs_event_t *ev)
{
    size_t  i;

    memset(ev, 0, offsetof(cs_event_t, patient));
    cs_patient_init(&ev->patient);

    ev->system = "crm";
    ev->action.create = -1;

    for (i = 0; i < sizeof(cs_actions) / sizeof(cs_actions[0]); i++) {
        if (cs_actions[i].kind == kind) {
            ev->type = cs_actions[i].type;
            ev->action.name = cs_actions[i].name;
            ev->name.data = cs_actions[i].name;
            ev->name.len = strlen(cs_actions[i].name);
        }
    }

    if (ev->type == NULL) {
        /* the caller's mistake, not the sender's */
        (void) cs_field_fail(ck, "bad_kind", "", "action", "is unknown");
        return CS_OK;
    }

    (void) cs_action_check(ck, root, kind, &ev->action);

    if (ck->reason) {
        return CS_OK;
    }

    {
        cs_str_t  parts[] = { { job_id, strnlen(job_id, CS_ID_ULID_LEN) } };

        if (cs_id_sha256_hex(parts, 1, ev->idem_key) != 0) {
            return CS_ERROR;
        }
    }

    return CS_OK;
}
