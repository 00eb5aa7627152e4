/*
 * caresync core: Hint Health webhook rules (see cs_hint.h).
 *
 * Static checks return 0, or -1 once `ck` holds the problem; their order
 * is the order of the documented fields, so the message names the first
 * problem.
 */

#include <stddef.h>
#include <string.h>

#include "cs_hint.h"
#include "cs_normalize.h"

#define CS_TRY(rc)  do { if ((rc) != 0) return -1; } while (0)

#define CS_HINT_PATIENT  "patient."


/* The patient events this deployment syncs; other types are answered. */
static const char  *cs_hint_synced[] = {
    "patient.created", "patient.updated", "patient.destroyed",
    "patient.inactive"
};


static int
cs_hint_prefixed(cs_str_t s, const char *prefix)
{
    size_t  n = strlen(prefix);

    return s.len >= n && memcmp(s.data, prefix, n) == 0;
}


static int
cs_hint_is_synced(cs_str_t type)
{
    size_t  i;

    for (i = 0; i < sizeof(cs_hint_synced) / sizeof(cs_hint_synced[0]); i++) {
        if (type.len == strlen(cs_hint_synced[i])
            && memcmp(type.data, cs_hint_synced[i], type.len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* The event id for a 400 answer, read without judging anything else. */
static void
cs_hint_peek_id(const cs_json_t *root, cs_event_t *ev)
{
    const cs_json_t  *v;
    cs_str_t          s;

    v = cs_field_get(root, "id");

    if (!cs_json_is_string(v)) {
        return;
    }

    s = cs_json_str(v);

    if (s.len <= CS_FIELD_STR_MAX && cs_norm_trim(s).len) {
        ev->event_id = s;
    }
}


/* Hint's phone types, any case; anything else is "other". */
static const char *
cs_hint_phone_type(cs_str_t t)
{
    size_t             i;
    static const char  *types[] = { "mobile", "home", "office" };

    for (i = 0; t.len && i < sizeof(types) / sizeof(types[0]); i++) {
        if (cs_norm_ci_eq(t.data, t.len, types[i], strlen(types[i]))) {
            return types[i];
        }
    }

    return "other";
}


static int
cs_hint_phones(cs_check_t *ck, const cs_json_t *obj, const char *path,
    cs_patient_t *p)
{
    char                 ep[CS_FIELD_PATH_MAX];
    size_t               i;
    const cs_json_t     *a, *el;
    cs_str_t             num, type;
    cs_patient_phone_t  *ph;

    CS_TRY(cs_field_array(ck, obj, path, "phones", &a));

    cs_json_array_foreach(a, i, el) {
        cs_field_index(ep, path, "phones", i);

        if (!cs_json_is_object(el)) {
            return cs_field_fail(ck, "wrong_type", ep, NULL,
                                 "must be an object");
        }

        CS_TRY(cs_field_text(ck, el, ep, "number", &num));
        CS_TRY(cs_field_text(ck, el, ep, "type", &type));

        if (num.len == 0) {
            continue;
        }

        if (p->n_phones == CS_PATIENT_PHONES) {
            cs_field_note(ck, ep, "number", "too many phones");
            continue;
        }

        ph = &p->phones[p->n_phones];

        if (cs_norm_phone(num.data, num.len, ph->number) != 0) {
            ph->number[0] = '\0';
            cs_field_note(ck, ep, "number", "not a phone number");
            continue;
        }

        ph->type = cs_hint_phone_type(type);
        p->n_phones++;
    }

    return 0;
}


static int
cs_hint_address(cs_check_t *ck, const cs_json_t *obj, const char *path,
    cs_patient_address_t *a)
{
    CS_TRY(cs_field_text(ck, obj, path, "address_line1", &a->line1));
    CS_TRY(cs_field_text(ck, obj, path, "address_line2", &a->line2));
    CS_TRY(cs_field_text(ck, obj, path, "address_city", &a->city));
    CS_TRY(cs_field_norm(ck, obj, path, "address_state", cs_norm_state,
                         a->state, "not a US state"));
    CS_TRY(cs_field_norm(ck, obj, path, "address_zip", cs_norm_zip, a->zip,
                         "not a ZIP code"));
    /* absent: "US" stays; unusable: dropped rather than guessed */
    CS_TRY(cs_field_norm(ck, obj, path, "address_country", cs_norm_country,
                         a->country, "not an ISO country"));

    return 0;
}


/* Hint's patient fields, in the order of spec/external-apis.md. */
static int
cs_hint_patient(cs_check_t *ck, const cs_json_t *o, cs_patient_t *p)
{
    const cs_json_t  *pr;
    cs_str_t          sex, gender;
    cs_date_t         d;
    const char       *path = "object";

    CS_TRY(cs_field_text(ck, o, path, "first_name", &p->first_name));
    CS_TRY(cs_field_text(ck, o, path, "middle_name", &p->middle_name));
    CS_TRY(cs_field_text(ck, o, path, "last_name", &p->last_name));
    CS_TRY(cs_field_text(ck, o, path, "title", &p->prefix));
    CS_TRY(cs_field_text(ck, o, path, "suffix", &p->suffix));

    CS_TRY(cs_field_date(ck, o, path, "dob", &d));
    if (d.set) {
        memcpy(p->dob, d.date, sizeof(d.date));
    }

    /* sex is the clinical field; gender only when sex is not given */
    CS_TRY(cs_field_text(ck, o, path, "sex", &sex));
    CS_TRY(cs_field_text(ck, o, path, "gender", &gender));

    if (sex.len) {
        p->gender = cs_norm_gender(sex.data, sex.len);
    } else if (gender.len) {
        p->gender = cs_norm_gender(gender.data, gender.len);
    }

    CS_TRY(cs_field_email(ck, o, path, "email", p->email));
    CS_TRY(cs_hint_phones(ck, o, path, p));
    CS_TRY(cs_hint_address(ck, o, path, &p->address));

    CS_TRY(cs_field_object(ck, o, path, "practitioner", &pr));
    CS_TRY(cs_field_text(ck, pr, "object.practitioner", "id",
                         &p->practitioner_id));
    CS_TRY(cs_field_text(ck, pr, "object.practitioner", "name",
                         &p->practitioner_name));

    CS_TRY(cs_field_text(ck, o, path, "health_insurance_payer_name",
                         &p->payer_name));
    CS_TRY(cs_field_text(ck, o, path, "health_insurance_payer_id",
                         &p->payer_id));
    CS_TRY(cs_field_text(ck, o, path, "health_insurance_group_id",
                         &p->primary.group_num));
    CS_TRY(cs_field_text(ck, o, path, "health_insurance_member_id",
                         &p->primary.member_id));

    CS_TRY(cs_field_text(ck, o, path, "membership_status",
                         &p->membership_status));
    CS_TRY(cs_field_text(ck, o, path, "external_link_id",
                         &p->external_link_id));

    return 0;
}


static int
cs_hint_check(cs_check_t *ck, const cs_json_t *root, cs_event_t *ev)
{
    int               patient;
    const cs_json_t  *obj;
    cs_str_t          s;
    char              date[CS_TIME_DATE_LEN + 1];

    /* required */

    CS_TRY(cs_field_string(ck, root, "", "id", CS_FIELD_REQUIRED,
                           &ev->event_id));
    CS_TRY(cs_field_string(ck, root, "", "type", CS_FIELD_REQUIRED,
                           &ev->name));

    CS_TRY(cs_field_object(ck, root, "", "object", &obj));
    if (obj == NULL) {
        return cs_field_fail(ck, "missing_field", "", "object",
                             "is required");
    }

    patient = cs_hint_prefixed(ev->name, CS_HINT_PATIENT);

    if (patient) {
        CS_TRY(cs_field_string(ck, obj, "object", "id", CS_FIELD_REQUIRED,
                               &ev->patient.source_id));
    }

    /* optional envelope members */

    CS_TRY(cs_field_text(ck, root, "", "created_at", &s));
    if (s.len) {
        if (cs_time_parse_date(s.data, s.len, NULL, date) == 0) {
            ev->created_at = s;
        } else {
            cs_field_note(ck, "", "created_at", "not a date-time");
        }
    }

    CS_TRY(cs_field_text(ck, root, "", "practice_id", &ev->practice_id));

    if (!patient || !cs_hint_is_synced(ev->name)) {
        ev->ignored = 1;
        return 0;
    }

    return cs_hint_patient(ck, obj, &ev->patient);
}


int
cs_hint_event(cs_check_t *ck, const cs_json_t *root,
    const cs_ingest_conf_t *conf, cs_event_t *ev)
{
    memset(ev, 0, offsetof(cs_event_t, patient));
    cs_patient_init(&ev->patient);

    ev->system = "hint";
    ev->type = CS_HINT_JOB_TYPE;

    cs_hint_peek_id(root, ev);

    (void) cs_hint_check(ck, root, ev);

    if (ck->reason) {
        return CS_OK;
    }

    if (ev->ignored) {
        ev->type = CS_HINT_IGNORED;
    }

    {
        /* the dedupe key of §3 is the event id, namespaced by sender */
        cs_str_t  parts[] = { cs_str_lit("hint\n"), ev->event_id };

        if (cs_id_sha256_hex(parts, 2, ev->idem_key) != 0) {
            return CS_ERROR;
        }
    }

    return CS_OK;
}
