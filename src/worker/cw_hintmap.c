/*
 * caresync-worker: the Hint patient <-> CRM contact mapping table.
 */

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "cw_crm.h"
#include "cw_hintmap.h"
#include "cw_map.h"
#include "cw_salesforce.h"
#include "cw_util.h"

/*
 * The table, in cw_map's format (issue 5's engine does the Hint -> CRM
 * direction; the reverse below follows the same paths).  Paths are into
 * the patient as cw_hm_canon() leaves it: Hint's own keys, phone types
 * lower-cased, `sex` falling back to `gender`, and the consent facts
 * under fixed names whatever [hint] field_* calls them.
 */
static const cw_map_entry_t  cw_hm_entries[] = {
    { "prefix", "title", "Salutation", CW_MAP_STR },
    { "first_name", "first_name", "FirstName", CW_MAP_STR },
    { "middle_name", "middle_name", "MiddleName", CW_MAP_STR },
    { "last_name", "last_name", "LastName", CW_MAP_STR },
    { "dob", "dob", "Birthdate", CW_MAP_DATE },
    { "gender", "sex", "GenderIdentity", CW_MAP_GENDER },
    { "email", "email", "Email", CW_MAP_STR },
    { "mobile_phone", "phones[type=mobile].number", "MobilePhone",
      CW_MAP_STR },
    { "home_phone", "phones[type=home].number", "HomePhone", CW_MAP_STR },
    { "office_phone", "phones[type=office].number", "Phone", CW_MAP_STR },
    { "street", "address_line1+address_line2", "MailingStreet", CW_MAP_STR },
    { "city", "address_city", "MailingCity", CW_MAP_STR },
    { "state", "address_state", "MailingState", CW_MAP_STR },
    { "zip", "address_zip", "MailingPostalCode", CW_MAP_STR },
    { "country", "address_country", "MailingCountry", CW_MAP_STR },

    /* Hint -> CRM only (read-only in the CRM): never written to Hint */
    { "practitioner", "practitioner.name", "Hint_Practitioner__c",
      CW_MAP_STR },
    { "insurance_payer", "health_insurance_payer_name", "Insurance_Payer__c",
      CW_MAP_STR },
    { "insurance_group_id", "health_insurance_group_id",
      "Insurance_Group_Id__c", CW_MAP_STR },
    { "insurance_member_id", "health_insurance_member_id",
      "Insurance_Member_Id__c", CW_MAP_STR },
    { "contract_accepted", "_contract", "Member_Contract_Accepted__c",
      CW_MAP_BOOL },
    { "contract_accepted_at", "_contract_at",
      "Member_Contract_Accepted_At__c", CW_MAP_DATETIME },
    { "hipaa_accepted", "_hipaa", "HIPAA_Authorization_Accepted__c",
      CW_MAP_BOOL },
    { "hipaa_accepted_at", "_hipaa_at",
      "HIPAA_Authorization_Accepted_At__c", CW_MAP_DATETIME },
};

#define CW_HM_N        (sizeof(cw_hm_entries) / sizeof(cw_hm_entries[0]))
#define CW_HM_TWO_WAY  15           /* the first 15 entries */

/*
 * One configuration per process: the map is resolved once, on the first
 * job, and kept (cw_hm_state: 0 not yet, 1 ready, -1 refused).
 */
static cw_map_t     cw_hm_map;
static int          cw_hm_state;
static char         cw_hm_err[256];
static const char  *cw_hm_read[CW_HM_N + 6];


static const cw_map_t *
cw_hm(void)
{
    return &cw_hm_map;
}


/* "entry=Field" for an override string; an empty field turns it off */
static void
cw_hm_override(cs_buf_t *o, const char *entry, const char *field)
{
    if (o->len) {
        cs_buf_putc(o, ',');
    }

    cs_buf_puts(o, entry);
    cs_buf_putc(o, '=');
    cs_buf_puts(o, field ? field : "");
}


int
cw_hintmap_init(const cw_conf_t *c, char *err, size_t errlen)
{
    int          rc;
    size_t       i, n = 0;
    cs_buf_t     o;

    if (cw_hm_state == 0) {
        cw_hm_state = -1;

        if (!cw_soql_field_ok(c->sf_field_synced)
            || !cw_soql_field_ok(c->sf_field_hint_patient_id)
            || (c->sf_field_last_batch
                && !cw_soql_field_ok(c->sf_field_last_batch)))
        {
            /* the link cannot be turned off: it is what a sync is */
            snprintf(cw_hm_err, sizeof(cw_hm_err), "salesforce."
                     "field_synced_to_hint and field_hint_patient_id must "
                     "be contact field API names (and "
                     "field_last_batch_sync_id empty or one)");
            goto done;
        }

        cs_buf_init(&o);
        cw_hm_override(&o, "practitioner", c->sf_field_practitioner);
        cw_hm_override(&o, "insurance_payer", c->sf_field_insurance_payer);
        cw_hm_override(&o, "insurance_group_id", c->sf_field_insurance_group);
        cw_hm_override(&o, "insurance_member_id",
                       c->sf_field_insurance_member);
        cw_hm_override(&o, "contract_accepted", c->sf_field_contract);
        cw_hm_override(&o, "contract_accepted_at", c->sf_field_contract_at);
        cw_hm_override(&o, "hipaa_accepted", c->sf_field_hipaa);
        cw_hm_override(&o, "hipaa_accepted_at", c->sf_field_hipaa_at);
        cs_buf_putc(&o, '\0');

        rc = cw_map_init(&cw_hm_map, cw_hm_entries, CW_HM_N, o.data,
                         cw_hm_err, sizeof(cw_hm_err));
        cs_buf_free(&o);

        if (rc != 0) {
            goto done;
        }

        cw_hm_read[n++] = "Id";
        cw_hm_read[n++] = "AccountId";
        cw_hm_read[n++] = c->sf_field_synced;
        cw_hm_read[n++] = c->sf_field_hint_patient_id;
        if (c->sf_field_last_batch) {
            cw_hm_read[n++] = c->sf_field_last_batch;
        }
        for (i = 0; i < CW_HM_N; i++) {
            if (cw_hm_map.fields[i]) {
                cw_hm_read[n++] = cw_hm_map.fields[i];
            }
        }
        cw_hm_read[n] = NULL;
        cw_hm_state = 1;
    }

done:

    if (cw_hm_state < 0) {
        snprintf(err, errlen, "%s", cw_hm_err);
        return -1;
    }

    return 0;
}


const char *const *
cw_hintmap_contact_fields(void)
{
    return cw_hm_read;
}


static int
cw_hm_empty(json_t *v)
{
    return v == NULL || json_is_null(v)
           || (json_is_string(v) && json_string_length(v) == 0);
}


/* The table index of a contact field, -1 when it is not mapped. */
static int
cw_hm_index(const char *contact)
{
    size_t           i;
    const cw_map_t  *m = cw_hm();

    for (i = 0; i < CW_HM_N; i++) {
        if (m->fields[i] && strcmp(m->fields[i], contact) == 0) {
            return (int) i;
        }
    }

    return -1;
}


static void
cw_hm_alias(json_t *out, json_t *patient, const char *from, const char *to)
{
    json_t  *v;

    v = from ? json_object_get(patient, from) : NULL;
    if (v) {
        json_object_set(out, to, v);
    }
}


/* A copy of the patient in the shape the table's paths expect. */
static json_t *
cw_hm_canon(const cw_conf_t *c, json_t *patient)
{
    char     type[16];
    size_t   i, k;
    json_t  *out, *ph, *t;

    out = json_deep_copy(patient);
    if (!json_is_object(out)) {
        json_decref(out);
        return json_object();
    }

    /* Hint sends "Home" as well as "home" */
    json_array_foreach(json_object_get(out, "phones"), i, ph) {
        t = json_object_get(ph, "type");
        if (json_is_string(t)) {
            snprintf(type, sizeof(type), "%s", json_string_value(t));
            for (k = 0; type[k]; k++) {
                type[k] = (char) tolower((unsigned char) type[k]);
            }
            json_object_set_new(ph, "type", json_string(type));
        }
    }

    if (cw_hm_empty(json_object_get(out, "sex"))) {
        cw_hm_alias(out, out, "gender", "sex");
    }

    cw_hm_alias(out, patient, c->hint_field_contract, "_contract");
    cw_hm_alias(out, patient, c->hint_field_contract_at, "_contract_at");
    cw_hm_alias(out, patient, c->hint_field_hipaa, "_hipaa");
    cw_hm_alias(out, patient, c->hint_field_hipaa_at, "_hipaa_at");

    return out;
}


json_t *
cw_hintmap_flatten(const cw_conf_t *c, json_t *patient)
{
    json_t  *canon, *out;

    canon = cw_hm_canon(c, patient);
    out = cw_map_apply(cw_hm(), canon);
    json_decref(canon);

    return out;
}


static void
cw_hm_set_phone(json_t *phones, const char *type, json_t *number)
{
    size_t   i;
    json_t  *ph, *t;

    json_array_foreach(phones, i, ph) {
        t = json_object_get(ph, "type");
        if (json_is_string(t) && strcasecmp(json_string_value(t), type) == 0)
        {
            json_object_set(ph, "number", number);
            return;
        }
    }

    json_array_append_new(phones, json_pack("{s:O,s:s}", "number", number,
                                            "type", type));
}


/* GenderIdentity back to Hint's sex; other picklist values say nothing */
static json_t *
cw_hm_sex(json_t *v)
{
    const char  *s = json_string_value(v);

    if (s && strcasecmp(s, "male") == 0) {
        return json_string("male");
    }

    if (s && strcasecmp(s, "female") == 0) {
        return json_string("female");
    }

    return NULL;
}


json_t *
cw_hintmap_to_hint(json_t *fields, json_t *patient)
{
    int                    i;
    char                   type[16];
    void                  *tmp;
    json_t                *out, *v, *phones = NULL, *sex;
    const char            *k, *s, *nl, *path;

    out = json_object();

    json_object_foreach(fields, k, v) {
        i = cw_hm_index(k);

        /* read-only in the CRM: never written to Hint */
        if (i < 0 || i >= CW_HM_TWO_WAY || cw_hm_empty(v)) {
            continue;
        }

        path = cw_hm_entries[i].path;

        if (strncmp(path, "phones[type=", 12) == 0) {
            snprintf(type, sizeof(type), "%.*s",
                     (int) strcspn(path + 12, "]"), path + 12);
            if (phones == NULL) {
                /* Hint replaces the array: send the numbers that stay */
                phones = json_deep_copy(json_object_get(patient, "phones"));
                if (!json_is_array(phones)) {
                    json_decref(phones);
                    phones = json_array();
                }
            }
            cw_hm_set_phone(phones, type, v);

        } else if (strchr(path, '+')) {
            /* one multi-line street: line 1, then line 2 */
            s = json_string_value(v);
            nl = s ? strchr(s, '\n') : NULL;
            if (nl == NULL) {
                json_object_set(out, "address_line1", v);
                continue;
            }
            json_object_set_new(out, "address_line1",
                                json_stringn(s, (size_t) (nl - s)));
            if (nl[1]) {
                json_object_set_new(out, "address_line2",
                                    json_string(nl + 1));
            }

        } else if (cw_hm_entries[i].conv == CW_MAP_GENDER) {
            sex = cw_hm_sex(v);
            if (sex) {
                json_object_set_new(out, path, sex);
            }

        } else {
            json_object_set(out, path, v);
        }
    }

    if (phones) {
        json_object_set_new(out, "phones", phones);
    }

    /*
     * A differing street may leave line 1 as it is, a differing phone the
     * array as it is: what Hint already has is not sent again.
     */
    json_object_foreach_safe(out, tmp, k, v) {
        if (json_equal(v, json_object_get(patient, k))) {
            json_object_del(out, k);
        }
    }

    if (json_object_size(out) == 0) {
        json_decref(out);
        return NULL;
    }

    return out;
}


/* The fields of `from` that `two_way` selects (1 two-way, 0 read-only). */
static json_t *
cw_hm_select(json_t *from, int two_way)
{
    size_t       i;
    json_t      *out, *v;
    const char  *f;

    out = json_object();

    for (i = 0; i < CW_HM_N; i++) {
        f = cw_hm()->fields[i];
        v = f ? json_object_get(from, f) : NULL;
        if ((i < CW_HM_TWO_WAY) == two_way && !cw_hm_empty(v)) {
            json_object_set(out, f, v);
        }
    }

    return out;
}


/* Two-way fields blank in `have` and set in `from`. */
static json_t *
cw_hm_blanks(json_t *have, json_t *from)
{
    size_t       i;
    json_t      *out = NULL, *v;
    const char  *f;

    for (i = 0; i < CW_HM_TWO_WAY; i++) {
        f = cw_hm()->fields[i];
        v = f ? json_object_get(from, f) : NULL;
        if (!cw_hm_empty(v) && cw_hm_empty(json_object_get(have, f))) {
            if (out == NULL) {
                out = json_object();
            }
            json_object_set(out, f, v);
        }
    }

    return out;
}


void
cw_hintmap_merge(const cw_conf_t *c, json_t *contact, json_t *patient,
    int mode, json_t **to_contact, json_t **to_patient)
{
    json_t  *flat, *sel, *d, *blanks;

    *to_contact = NULL;
    *to_patient = NULL;

    flat = cw_hintmap_flatten(c, patient);

    if (mode & CW_HM_PATIENT_WINS) {
        *to_contact = cw_crm_diff(contact, flat);

        if (mode & CW_HM_FILL) {
            blanks = cw_hm_blanks(flat, contact);
            if (blanks) {
                *to_patient = cw_hintmap_to_hint(blanks, patient);
                json_decref(blanks);
            }
        }

    } else {
        sel = cw_hm_select(contact, 1);
        d = cw_crm_diff(flat, sel);
        json_decref(sel);

        if (d) {
            *to_patient = cw_hintmap_to_hint(d, patient);
            json_decref(d);
        }

        if (mode & CW_HM_FILL) {
            /* read-only fields are Hint's; blank two-way ones are filled */
            sel = cw_hm_select(flat, 0);
            blanks = cw_hm_blanks(contact, flat);
            if (blanks) {
                json_object_update(sel, blanks);
                json_decref(blanks);
            }
            *to_contact = cw_crm_diff(contact, sel);
            json_decref(sel);
        }
    }

    json_decref(flat);
}


/* Trimmed, case-insensitive equality of two strings. */
static int
cw_hm_same_name(json_t *a, json_t *b)
{
    size_t       la, lb;
    const char  *sa = json_string_value(a), *sb = json_string_value(b);

    if (sa == NULL || sb == NULL) {
        return 0;
    }

    while (isspace((unsigned char) *sa)) {
        sa++;
    }
    while (isspace((unsigned char) *sb)) {
        sb++;
    }

    la = strlen(sa);
    lb = strlen(sb);

    while (la && isspace((unsigned char) sa[la - 1])) {
        la--;
    }
    while (lb && isspace((unsigned char) sb[lb - 1])) {
        lb--;
    }

    return la > 0 && la == lb && strncasecmp(sa, sb, la) == 0;
}


int
cw_hintmap_same_person(json_t *contact, json_t *patient)
{
    const char  *d1, *d2;

    d1 = json_string_value(json_object_get(contact, "Birthdate"));
    d2 = json_string_value(json_object_get(patient, "dob"));

    return d1 && d2 && strcmp(d1, d2) == 0
           && cw_hm_same_name(json_object_get(contact, "FirstName"),
                              json_object_get(patient, "first_name"))
           && cw_hm_same_name(json_object_get(contact, "LastName"),
                              json_object_get(patient, "last_name"));
}


int
cw_hintmap_matchable(json_t *contact)
{
    return !cw_hm_empty(json_object_get(contact, "FirstName"))
           && !cw_hm_empty(json_object_get(contact, "LastName"))
           && !cw_hm_empty(json_object_get(contact, "Birthdate"));
}


const char *
cw_hintmap_linked(const cw_conf_t *c, json_t *contact)
{
    const char  *id;

    id = json_string_value(json_object_get(contact,
                                           c->sf_field_hint_patient_id));

    if (!json_is_true(json_object_get(contact, c->sf_field_synced))
        || id == NULL || *id == '\0')
    {
        return NULL;
    }

    return id;
}


int
cw_hintmap_inactive(const cw_conf_t *c, json_t *patient)
{
    size_t       n, len;
    const char  *st, *p, *end;

    st = json_string_value(json_object_get(patient, "membership_status"));
    if (st == NULL || *st == '\0' || c->hint_inactive_statuses == NULL) {
        return 0;
    }

    len = strlen(st);

    for (p = c->hint_inactive_statuses; *p; p = *end ? end + 1 : end) {
        end = strchr(p, ',');
        if (end == NULL) {
            end = p + strlen(p);
        }

        while (p < end && (*p == ' ' || *p == '\t')) {
            p++;
        }

        n = (size_t) (end - p);
        while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) {
            n--;
        }

        if (n == len && strncasecmp(p, st, n) == 0) {
            return 1;
        }
    }

    return 0;
}
