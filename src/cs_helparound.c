/*
 * caresync core: HelpAround field rules (see cs_helparound.h).
 *
 * Static checks return 0, or -1 once `ck` holds the problem; the order of
 * the calls is the order of the seed's tables, which is what makes the
 * message the first problem in document order.
 */

#include <stddef.h>
#include <string.h>

#include "cs_helparound.h"
#include "cs_normalize.h"

#define CS_TRY(rc)  do { if ((rc) != 0) return -1; } while (0)

#define CS_HA_ACTION_MAX  64


/* Where a member lives: under "event", or at the top level (§2). */
typedef struct {
    const cs_json_t  *parent;
    const char       *path;
} cs_ha_place_t;


static int
cs_ha_eq(cs_str_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.data, lit, s.len) == 0;
}


/* An optional text field, trimmed; blank counts as absent. */
static int
cs_ha_text(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, cs_str_t *out)
{
    CS_TRY(cs_field_string(ck, obj, path, key, CS_FIELD_OPTIONAL, out));

    *out = cs_norm_trim(*out);

    return 0;
}


/*
 * An optional media id.  The worker puts it into the media URL's path, so
 * it is one segment or nothing: up to 128 letters, digits, - and _ (what
 * the worker sends, cw_http_url_id(); HelpAround's ids are UUIDs).
 */
static int
cs_ha_media_id(cs_check_t *ck, const cs_json_t *obj, const char *path,
    const char *key, cs_str_t *out)
{
    size_t  i;

    /* letters, digits, - and _: a table, the ids are read on every body */
    static const unsigned char  ok[256] = {
        ['-'] = 1, ['_'] = 1,
        ['0'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
        ['A'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1, 1, 1,
        ['a'] = 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
                1, 1, 1, 1, 1, 1,
    };

    CS_TRY(cs_ha_text(ck, obj, path, key, out));

    for (i = 0; i < out->len; i++) {
        if (i == 128 || !ok[(unsigned char) out->data[i]]) {
            return cs_field_fail(ck, "bad_value", path, key,
                                 "must be a media id (letters, digits, - "
                                 "and _)");
        }
    }

    return 0;
}


/* The patient id for a 400 answer, read without judging anything else. */
static void
cs_ha_peek_id(const cs_json_t *patient, cs_event_t *ev)
{
    const cs_json_t  *v;
    cs_str_t          s;

    v = cs_json_is_object(patient) ? cs_field_get(patient, "id") : NULL;

    if (!cs_json_is_string(v)) {
        return;
    }

    s = cs_json_str(v);

    if (s.len <= CS_FIELD_STR_MAX && cs_norm_trim(s).len) {
        ev->patient_id = s;
    }
}


/* The member under "event" wins; when neither exists, name "event.". */
static void
cs_ha_place(const cs_json_t *root, const cs_json_t *event, const char *key,
    cs_ha_place_t *pl)
{
    const cs_json_t  *e;

    e = cs_json_is_object(event) ? cs_field_get(event, key) : NULL;

    if (e != NULL || cs_field_get(root, key) == NULL) {
        pl->parent = cs_json_is_object(event) ? event : NULL;
        pl->path = "event";

    } else {
        pl->parent = root;
        pl->path = "";
    }
}


static void
cs_ha_event_init(cs_event_t *ev, const char *type)
{
    memset(ev, 0, offsetof(cs_event_t, patient));
    cs_patient_init(&ev->patient);

    ev->system = "helparound";
    ev->type = type;
}


static int
cs_ha_send_date(cs_check_t *ck, const cs_json_t *event, cs_event_t *ev)
{
    CS_TRY(cs_field_string(ck, event, "event", "sendDate",
                           CS_FIELD_REQUIRED, &ev->sent_at));

    if (cs_time_parse_utc(ev->sent_at.data, ev->sent_at.len, NULL) != 0) {
        return cs_field_fail(ck, "bad_value", "event", "sendDate",
                             "must be an ISO-8601 UTC date-time");
    }

    return 0;
}


/* patient.id and patient.phoneNumber, required by both webhooks. */
static int
cs_ha_patient_ids(cs_check_t *ck, const cs_json_t *patient, const char *path,
    cs_patient_t *p)
{
    cs_str_t  s;

    CS_TRY(cs_field_string(ck, patient, path, "id", CS_FIELD_REQUIRED,
                           &p->source_id));

    CS_TRY(cs_field_string(ck, patient, path, "phoneNumber",
                           CS_FIELD_REQUIRED, &s));

    if (cs_norm_phone(s.data, s.len, p->phones[0].number) != 0) {
        return cs_field_fail(ck, "bad_value", path, "phoneNumber",
                             "must be a phone number with country code");
    }

    p->phones[0].type = "mobile";
    p->n_phones = 1;

    return 0;
}


static int
cs_ha_caregiver(cs_check_t *ck, const cs_json_t *patient, const char *ppath,
    cs_patient_caregiver_t *cg)
{
    const cs_json_t  *o;
    const char       *path = "event.patient.caregiver";

    CS_TRY(cs_field_object(ck, patient, ppath, "caregiver", &o));

    CS_TRY(cs_ha_text(ck, o, path, "name", &cg->name));
    CS_TRY(cs_ha_text(ck, o, path, "relationship", &cg->relationship));
    CS_TRY(cs_field_norm(ck, o, path, "phone", cs_norm_phone, cg->phone,
                         "not a phone number"));
    CS_TRY(cs_field_norm(ck, o, path, "email", cs_norm_email, cg->email,
                         "not an email address"));

    return 0;
}


static int
cs_ha_address(cs_check_t *ck, const cs_json_t *patient, const char *ppath,
    cs_patient_address_t *a)
{
    const cs_json_t  *o, *v;
    cs_str_t          s;
    const char       *path = "event.patient.address";

    CS_TRY(cs_field_object(ck, patient, ppath, "address", &o));

    CS_TRY(cs_ha_text(ck, o, path, "street", &a->line1));

    /* the seed's table says "apartment", its example "apt" */
    CS_TRY(cs_ha_text(ck, o, path,
                      cs_field_get(o, "apartment") ? "apartment" : "apt",
                      &a->line2));

    CS_TRY(cs_ha_text(ck, o, path, "city", &a->city));

    CS_TRY(cs_field_norm(ck, o, path, "state", cs_norm_state, a->state,
                         "not a US state"));
    CS_TRY(cs_field_norm(ck, o, path, "zip", cs_norm_zip, a->zip,
                         "not a ZIP code"));

    /* not in the seed's table: kept when usable, else "US" stays */
    v = cs_field_get(o, "country");
    if (cs_json_is_string(v)) {
        s = cs_json_str(v);
        (void) cs_norm_country(s.data, s.len, a->country);
    }

    return 0;
}


static int
cs_ha_card(cs_check_t *ck, const cs_json_t *ins, const char *key, int secondary,
    cs_patient_insurance_t *c)
{
    char              path[CS_FIELD_PATH_MAX];
    const cs_json_t  *o;
    cs_date_t         d;

    CS_TRY(cs_field_object(ck, ins, "event.patient.insurance", key, &o));

    cs_field_path(path, "event.patient.insurance", key);

    if (secondary) {
        CS_TRY(cs_ha_text(ck, o, path, "status", &c->status));
    }

    CS_TRY(cs_ha_text(ck, o, path, "carrier", &c->carrier));
    CS_TRY(cs_ha_text(ck, o, path, "member_id", &c->member_id));
    CS_TRY(cs_ha_text(ck, o, path, "group_num", &c->group_num));
    CS_TRY(cs_ha_text(ck, o, path, "cardname", &c->card_name));

    CS_TRY(cs_field_date(ck, o, path, "card_dob", &d));
    if (d.set) {
        memcpy(c->card_dob, d.date, sizeof(d.date));
    }

    CS_TRY(cs_ha_media_id(ck, o, path, "front_picture_image",
                          &c->front_image_id));
    CS_TRY(cs_ha_media_id(ck, o, path, "back_picture_image",
                          &c->back_image_id));

    return 0;
}


static int
cs_ha_insurance(cs_check_t *ck, const cs_json_t *patient, const char *ppath,
    cs_patient_t *p)
{
    const cs_json_t  *o;

    CS_TRY(cs_field_object(ck, patient, ppath, "insurance", &o));

    CS_TRY(cs_ha_card(ck, o, "primaryInsurance", 0, &p->primary));
    CS_TRY(cs_ha_card(ck, o, "secondaryInsurance", 1, &p->secondary));

    return 0;
}


static int
cs_ha_signature(cs_check_t *ck, const cs_json_t *patient, const char *ppath,
    cs_patient_t *p)
{
    const cs_json_t  *o;
    cs_date_t         d;
    const char       *path = "event.patient.signature";

    CS_TRY(cs_field_object(ck, patient, ppath, "signature", &o));

    CS_TRY(cs_field_date(ck, o, path, "timestamp", &d));
    if (d.set) {
        cs_time_format_iso(d.ms, p->signature_at);
    }

    CS_TRY(cs_ha_media_id(ck, o, path, "image", &p->signature_image_id));

    return 0;
}


static int
cs_ha_consents(cs_check_t *ck, const cs_json_t *patient, const char *ppath,
    cs_patient_t *p)
{
    char                   path[CS_FIELD_PATH_MAX];
    size_t                 i;
    const cs_json_t       *a, *el;
    cs_date_t              d;
    const char            *key;
    cs_patient_consent_t  *c;

    /* the seed's table says "consent", its example "consents" */
    key = cs_field_get(patient, "consents") ? "consents" : "consent";

    CS_TRY(cs_field_array(ck, patient, ppath, key, &a));

    cs_json_array_foreach(a, i, el) {
        cs_field_index(path, ppath, key, i);

        if (!cs_json_is_object(el)) {
            return cs_field_fail(ck, "wrong_type", path, NULL,
                                 "must be an object");
        }

        c = &p->consents[p->n_consents++];
        memset(c, 0, sizeof(cs_patient_consent_t));

        CS_TRY(cs_ha_text(ck, el, path, "name", &c->name));
        CS_TRY(cs_field_bool(ck, el, path, "value", &c->value));
        CS_TRY(cs_field_date(ck, el, path, "timestamp", &d));

        if (d.set) {
            cs_time_format_iso(d.ms, c->at);
        }
    }

    return 0;
}


static int
cs_ha_external_ids(cs_check_t *ck, const cs_json_t *patient, const char *ppath,
    cs_patient_t *p)
{
    char              path[CS_FIELD_PATH_MAX];
    size_t            i;
    const cs_json_t  *a, *el;
    cs_patient_xid_t  x;

    CS_TRY(cs_field_array(ck, patient, ppath, "externalIds", &a));

    cs_json_array_foreach(a, i, el) {
        cs_field_index(path, ppath, "externalIds", i);

        if (!cs_json_is_object(el)) {
            return cs_field_fail(ck, "wrong_type", path, NULL,
                                 "must be an object");
        }

        CS_TRY(cs_ha_text(ck, el, path, "source", &x.source));
        CS_TRY(cs_ha_text(ck, el, path, "sourceId", &x.id));

        /* an entry without an id identifies nothing */
        if (x.id.len) {
            p->external_ids[p->n_external_ids++] = x;
        }
    }

    return 0;
}


/*
 * The partner's entry, else the first one, else a UUIDv5 that the same
 * program and patient always get.
 */
static int
cs_ha_external_id(const cs_ingest_conf_t *conf, cs_event_t *ev)
{
    size_t             i;
    cs_str_t           partner;
    cs_patient_t      *p;
    cs_patient_xid_t  *x;

    p = &ev->patient;

    partner.data = conf->partner_source;
    partner.len = conf->partner_source_len;

    if (partner.data == NULL || partner.len == 0) {
        partner.data = CS_HA_PARTNER_SOURCE;
        partner.len = sizeof(CS_HA_PARTNER_SOURCE) - 1;
    }

    partner = cs_norm_trim(partner);

    for (i = 0; i < p->n_external_ids; i++) {
        x = &p->external_ids[i];

        if (cs_norm_ci_eq(x->source.data, x->source.len,
                          partner.data, partner.len))
        {
            p->external_id = x->id;
            return CS_OK;
        }
    }

    if (p->n_external_ids) {
        p->external_id = p->external_ids[0].id;
        return CS_OK;
    }

    {
        cs_str_t  name[] = {
            ev->program_id, cs_str_lit(":"), p->source_id
        };

        if (cs_id_uuid5(cs_id_ns_helparound, name, 3, ev->uuid) != 0) {
            return CS_ERROR;
        }
    }

    p->external_id.data = ev->uuid;
    p->external_id.len = CS_ID_UUID_LEN;

    return CS_OK;
}


/* The dedupe key of §1: the four strings as sent. */
static int
cs_ha_idem_key(cs_event_t *ev)
{
    cs_str_t  parts[] = {
        ev->name, cs_str_lit("\n"), ev->program_id, cs_str_lit("\n"),
        ev->patient.source_id, cs_str_lit("\n"), ev->sent_at
    };

    return cs_id_sha256_hex(parts, 7, ev->idem_key) == 0 ? CS_OK : CS_ERROR;
}


static int
cs_ha_finish(cs_check_t *ck, const cs_ingest_conf_t *conf, cs_event_t *ev)
{
    if (ck->reason) {
        return CS_OK;
    }

    if (cs_ha_external_id(conf, ev) != CS_OK) {
        return CS_ERROR;
    }

    return cs_ha_idem_key(ev);
}


/* Enrollment: the whole table of §1. */
static int
cs_ha_enrollment(cs_check_t *ck, const cs_json_t *root, cs_event_t *ev)
{
    const cs_json_t  *event, *patient;
    cs_str_t          s;
    cs_date_t         d;
    cs_patient_t     *p;
    const char       *pp = "event.patient";

    p = &ev->patient;

    /* required, in the order of the spec's table */

    CS_TRY(cs_field_object(ck, root, "", "event", &event));
    CS_TRY(cs_field_string(ck, event, "event", "supportProgramId",
                           CS_FIELD_REQUIRED, &ev->program_id));
    CS_TRY(cs_ha_send_date(ck, event, ev));

    CS_TRY(cs_field_object(ck, event, "event", "patient", &patient));
    CS_TRY(cs_ha_patient_ids(ck, patient, pp, p));

    CS_TRY(cs_field_string(ck, patient, pp, "firstName", CS_FIELD_REQUIRED,
                           &p->first_name));
    CS_TRY(cs_field_string(ck, patient, pp, "lastName", CS_FIELD_REQUIRED,
                           &p->last_name));
    p->first_name = cs_norm_trim(p->first_name);
    p->last_name = cs_norm_trim(p->last_name);

    CS_TRY(cs_field_string(ck, event, "event", "eventName",
                           CS_FIELD_REQUIRED, &ev->name));
    if (!cs_ha_eq(ev->name, CS_HA_ENROLLMENT_EVENT)) {
        return cs_field_fail(ck, "bad_value", "event", "eventName",
                             "must be " CS_HA_ENROLLMENT_EVENT);
    }

    /* optional, in the order of the seed's table */

    CS_TRY(cs_field_string(ck, event, "event", "message",
                           CS_FIELD_OPTIONAL, &s));
    CS_TRY(cs_field_string(ck, event, "event", "status",
                           CS_FIELD_OPTIONAL, &s));

    CS_TRY(cs_field_date(ck, patient, pp, "dob", &d));
    if (d.set) {
        memcpy(p->dob, d.date, sizeof(d.date));
    }

    CS_TRY(cs_ha_text(ck, patient, pp, "gender", &s));
    p->gender = s.len ? cs_norm_gender(s.data, s.len) : NULL;

    CS_TRY(cs_ha_text(ck, patient, pp, "contact_method", &p->contact_method));
    CS_TRY(cs_ha_text(ck, patient, pp, "pref_language", &p->language));
    CS_TRY(cs_field_norm(ck, patient, pp, "email", cs_norm_email, p->email,
                         "not an email address"));
    CS_TRY(cs_ha_text(ck, patient, pp, "call_time", &p->call_time));

    CS_TRY(cs_ha_caregiver(ck, patient, pp, &p->caregiver));
    CS_TRY(cs_ha_address(ck, patient, pp, &p->address));
    CS_TRY(cs_ha_insurance(ck, patient, pp, p));
    CS_TRY(cs_ha_signature(ck, patient, pp, p));
    CS_TRY(cs_ha_consents(ck, patient, pp, p));
    CS_TRY(cs_ha_external_ids(ck, patient, pp, p));

    CS_TRY(cs_field_string(ck, event, "event", "sourceName",
                           CS_FIELD_OPTIONAL, &s));

    return 0;
}


int
cs_helparound_enrollment(cs_check_t *ck, const cs_json_t *root,
    const cs_ingest_conf_t *conf, cs_event_t *ev)
{
    const cs_json_t  *event;

    cs_ha_event_init(ev, "helparound.enrollment");

    event = cs_field_get(root, "event");
    cs_ha_peek_id(cs_json_is_object(event) ? cs_field_get(event, "patient")
                                        : NULL,
                  ev);

    (void) cs_ha_enrollment(ck, root, ev);

    return cs_ha_finish(ck, conf, ev);
}


/* [A-Za-z0-9_.-]{1,64}: safe as a job type suffix and in logs. */
static int
cs_ha_action_name(cs_str_t s)
{
    size_t  i;
    char    c;

    if (s.len < 1 || s.len > CS_HA_ACTION_MAX) {
        return 0;
    }

    for (i = 0; i < s.len; i++) {
        c = s.data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-'))
        {
            return 0;
        }
    }

    return 1;
}


/* User action: the table of §2, with either placement of patient etc. */
static int
cs_ha_user_action(cs_check_t *ck, const cs_json_t *root, cs_event_t *ev)
{
    int               viewed;
    char              ppath[CS_FIELD_PATH_MAX];
    const cs_json_t  *event, *data, *patient;
    cs_str_t          s;
    cs_ha_place_t     pat, name, src;

    CS_TRY(cs_field_object(ck, root, "", "event", &event));

    cs_ha_place(root, event, "patient", &pat);
    cs_ha_place(root, event, "eventName", &name);
    cs_ha_place(root, event, "sourceName", &src);

    cs_field_path(ppath, pat.path, "patient");

    /* required, in the order of the spec's list */

    CS_TRY(cs_field_string(ck, event, "event", "supportProgramId",
                           CS_FIELD_REQUIRED, &ev->program_id));
    CS_TRY(cs_ha_send_date(ck, event, ev));

    CS_TRY(cs_field_object(ck, event, "event", "data", &data));

    CS_TRY(cs_field_string(ck, data, "event.data", "key", CS_FIELD_REQUIRED,
                           &s));
    if (!cs_ha_eq(s, "userAction")) {
        return cs_field_fail(ck, "bad_value", "event.data", "key",
                             "must be userAction");
    }

    CS_TRY(cs_field_string(ck, data, "event.data", "value",
                           CS_FIELD_REQUIRED, &ev->user_action));

    viewed = cs_ha_eq(ev->user_action, "viewedTracker");

    if (!viewed && !cs_ha_action_name(ev->user_action)) {
        return cs_field_fail(ck, "bad_value", "event.data", "value",
                             "must be a user action name");
    }

    CS_TRY(cs_field_object(ck, pat.parent, pat.path, "patient", &patient));
    CS_TRY(cs_ha_patient_ids(ck, patient, ppath, &ev->patient));

    CS_TRY(cs_field_string(ck, name.parent, name.path, "eventName",
                           CS_FIELD_REQUIRED, &ev->name));

    if (viewed) {
        if (!cs_ha_eq(ev->name, CS_HA_VIEWED_EVENT)) {
            return cs_field_fail(ck, "bad_value", name.path, "eventName",
                                 "must be " CS_HA_VIEWED_EVENT);
        }

    } else {
        ev->type = "helparound.user_action.other";

        if (ev->name.len <= sizeof(CS_HA_ACTION_PREFIX) - 1
            || memcmp(ev->name.data, CS_HA_ACTION_PREFIX,
                      sizeof(CS_HA_ACTION_PREFIX) - 1) != 0)
        {
            return cs_field_fail(ck, "bad_value", name.path, "eventName",
                                 "must start with " CS_HA_ACTION_PREFIX);
        }
    }

    /* optional, in the order of the seed's table */

    CS_TRY(cs_field_string(ck, event, "event", "message",
                           CS_FIELD_OPTIONAL, &s));
    CS_TRY(cs_field_string(ck, event, "event", "status",
                           CS_FIELD_OPTIONAL, &s));
    CS_TRY(cs_ha_external_ids(ck, patient, ppath, &ev->patient));
    CS_TRY(cs_field_string(ck, src.parent, src.path, "sourceName",
                           CS_FIELD_OPTIONAL, &s));

    return 0;
}


int
cs_helparound_user_action(cs_check_t *ck, const cs_json_t *root,
    const cs_ingest_conf_t *conf, cs_event_t *ev)
{
    const cs_json_t  *event;
    cs_ha_place_t     pat;

    cs_ha_event_init(ev, "helparound.user_action");

    event = cs_field_get(root, "event");
    cs_ha_place(root, event, "patient", &pat);
    cs_ha_peek_id(cs_field_get(pat.parent, "patient"), ev);

    (void) cs_ha_user_action(ck, root, ev);

    return cs_ha_finish(ck, conf, ev);
}
