/*
 * caresync-worker: the mapping engine and the mapping tables.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crm/cw_crm.h"          /* cw_crm_field_ok: API names are checked
                                    before they reach a URL or a query */
#include "engine/cw_util.h"
#include "maps/cw_map.h"


/*
 * HelpAround enrollment -> Contact (sync-rules.md §A step 2).  Standard
 * fields and the custom fields external-apis.md names keep those names;
 * the others are ours, prefixed HelpAround_ (docs/worker.md lists them).
 * salesforce.helparound_fields renames or turns off any entry.
 */
const cw_map_entry_t  cw_map_helparound[] = {
    { "patient_id", "source_id", "HelpAround_Patient_Id__c", CW_MAP_STR },
    { "first_name", "first_name", "FirstName", CW_MAP_STR },
    { "last_name", "last_name", "LastName", CW_MAP_STR },
    { "birthdate", "dob", "Birthdate", CW_MAP_DATE },
    { "gender", "gender", "GenderIdentity", CW_MAP_GENDER },
    { "email", "email", "Email", CW_MAP_STR },
    { "mobile_phone", "phones[type=mobile].number", "MobilePhone",
      CW_MAP_STR },
    { "street", "address.line1+address.line2", "MailingStreet", CW_MAP_STR },
    { "city", "address.city", "MailingCity", CW_MAP_STR },
    { "state", "address.state", "MailingState", CW_MAP_STR },
    { "zip", "address.zip", "MailingPostalCode", CW_MAP_STR },
    { "country", "address.country", "MailingCountry", CW_MAP_STR },
    { "language", "language", "HelpAround_Language__c", CW_MAP_STR },
    { "contact_method", "contact_method", "HelpAround_Contact_Method__c",
      CW_MAP_STR },
    { "call_time", "call_time", "HelpAround_Call_Time__c", CW_MAP_STR },
    { "caregiver_name", "caregiver.name", "HelpAround_Caregiver_Name__c",
      CW_MAP_STR },
    { "caregiver_relationship", "caregiver.relationship",
      "HelpAround_Caregiver_Relationship__c", CW_MAP_STR },
    { "caregiver_phone", "caregiver.phone", "HelpAround_Caregiver_Phone__c",
      CW_MAP_STR },
    { "caregiver_email", "caregiver.email", "HelpAround_Caregiver_Email__c",
      CW_MAP_STR },
    { "insurance_carrier", "insurance.primary.carrier", "Insurance_Payer__c",
      CW_MAP_STR },
    { "insurance_member_id", "insurance.primary.member_id",
      "Insurance_Member_Id__c", CW_MAP_STR },
    { "insurance_group_id", "insurance.primary.group_num",
      "Insurance_Group_Id__c", CW_MAP_STR },
    { "insurance_card_name", "insurance.primary.card_name",
      "HelpAround_Insurance_Card_Name__c", CW_MAP_STR },
    { "insurance_card_dob", "insurance.primary.card_dob",
      "HelpAround_Insurance_Card_Birthdate__c", CW_MAP_DATE },
    { "insurance_front_id", "insurance.primary.front_image_id",
      "HelpAround_Insurance_Front_Id__c", CW_MAP_STR },
    { "insurance_back_id", "insurance.primary.back_image_id",
      "HelpAround_Insurance_Back_Id__c", CW_MAP_STR },
    { "secondary_status", "insurance.secondary.status",
      "HelpAround_Secondary_Status__c", CW_MAP_STR },
    { "secondary_carrier", "insurance.secondary.carrier",
      "HelpAround_Secondary_Payer__c", CW_MAP_STR },
    { "secondary_member_id", "insurance.secondary.member_id",
      "HelpAround_Secondary_Member_Id__c", CW_MAP_STR },
    { "secondary_group_id", "insurance.secondary.group_num",
      "HelpAround_Secondary_Group_Id__c", CW_MAP_STR },
    { "secondary_card_name", "insurance.secondary.card_name",
      "HelpAround_Secondary_Card_Name__c", CW_MAP_STR },
    { "secondary_card_dob", "insurance.secondary.card_dob",
      "HelpAround_Secondary_Card_Birthdate__c", CW_MAP_DATE },
    { "secondary_front_id", "insurance.secondary.front_image_id",
      "HelpAround_Secondary_Front_Id__c", CW_MAP_STR },
    { "secondary_back_id", "insurance.secondary.back_image_id",
      "HelpAround_Secondary_Back_Id__c", CW_MAP_STR },
    { "consent_communication", "consents[name=communication].value",
      "HelpAround_Consent_Communication__c", CW_MAP_BOOL },
    { "consent_communication_at", "consents[name=communication].at",
      "HelpAround_Consent_Communication_At__c", CW_MAP_DATETIME },
    { "consent_share_phi", "consents[name=sharePHI].value",
      "HelpAround_Consent_Share_PHI__c", CW_MAP_BOOL },
    { "consent_share_phi_at", "consents[name=sharePHI].at",
      "HelpAround_Consent_Share_PHI_At__c", CW_MAP_DATETIME },
    { "signature_at", "signature.at", "HelpAround_Signature_At__c",
      CW_MAP_DATETIME },
    { "signature_id", "signature.image_id", "HelpAround_Signature_Id__c",
      CW_MAP_STR },
};

const size_t  cw_map_helparound_n =
    sizeof(cw_map_helparound) / sizeof(cw_map_helparound[0]);


/* One path segment: "key" or "key[k=v]". */
static json_t *
cw_map_step(json_t *cur, const char *seg, size_t len)
{
    char         key[64], k[64], v[128];
    size_t       i;
    json_t      *el;
    const char  *br, *eq;

    br = memchr(seg, '[', len);

    snprintf(key, sizeof(key), "%.*s", (int) (br ? br - seg : (long) len),
             seg);
    cur = json_object_get(cur, key);

    if (br == NULL || cur == NULL) {
        return cur;
    }

    eq = memchr(br, '=', len - (size_t) (br - seg));
    if (eq == NULL || seg[len - 1] != ']' || !json_is_array(cur)) {
        return NULL;
    }

    snprintf(k, sizeof(k), "%.*s", (int) (eq - br - 1), br + 1);
    snprintf(v, sizeof(v), "%.*s", (int) (seg + len - 1 - eq - 1), eq + 1);

    json_array_foreach(cur, i, el) {
        const char  *s = json_string_value(json_object_get(el, k));

        if (s && strcmp(s, v) == 0) {
            return el;
        }
    }

    return NULL;
}


json_t *
cw_map_get(json_t *src, const char *path)
{
    int     in;
    size_t  n;

    while (src && *path) {
        /* the segment ends at a dot outside [k=v] */
        for (n = 0, in = 0; path[n] && (in || path[n] != '.'); n++) {
            if (path[n] == '[') {
                in = 1;

            } else if (path[n] == ']') {
                in = 0;
            }
        }

        src = cw_map_step(src, path, n);
        path += n;
        if (*path == '.') {
            path++;
        }
    }

    return src;
}


static int
cw_map_empty(json_t *v)
{
    return v == NULL || json_is_null(v)
           || (json_is_string(v) && json_string_length(v) == 0);
}


/* "a+b": the non-empty strings, one per line */
static json_t *
cw_map_join(json_t *src, const char *path)
{
    char         one[128];
    json_t      *v;
    cs_buf_t     b;
    const char  *p, *plus;

    cs_buf_init(&b);

    for (p = path; *p; p = plus ? plus + 1 : p + strlen(p)) {
        plus = strchr(p, '+');
        snprintf(one, sizeof(one), "%.*s",
                 (int) (plus ? plus - p : (long) strlen(p)), p);

        v = cw_map_get(src, one);
        if (json_is_string(v) && json_string_length(v)) {
            if (b.len) {
                cs_buf_putc(&b, '\n');
            }
            cs_buf_puts(&b, json_string_value(v));
        }
    }

    v = b.len ? json_stringn(b.data, b.len) : NULL;
    cs_buf_free(&b);
    return v;
}


static json_t *
cw_map_conv(json_t *v, cw_map_conv_e conv)
{
    int64_t      ms;
    const char  *s = json_string_value(v);

    switch (conv) {

    case CW_MAP_BOOL:
        return json_is_boolean(v) ? json_incref(v) : NULL;

    case CW_MAP_DATE:
        /* YYYY-MM-DD as the normalizer writes it; anything else dropped */
        return (s && strlen(s) == 10 && s[4] == '-' && s[7] == '-')
               ? json_incref(v) : NULL;

    case CW_MAP_DATETIME:
        return (s && cw_parse_datetime(s, &ms) == 0) ? json_incref(v)
                                                     : NULL;

    case CW_MAP_GENDER:
        /* Salesforce's GenderIdentity picklist; `unknown` says nothing */
        if (s == NULL) {
            return NULL;
        }
        if (strcmp(s, "male") == 0) {
            return json_string("Male");
        }
        if (strcmp(s, "female") == 0) {
            return json_string("Female");
        }
        if (strcmp(s, "other") == 0) {
            return json_string("Not Listed");
        }
        return NULL;

    case CW_MAP_STR:
    default:
        return json_is_string(v) ? json_incref(v) : NULL;
    }
}


json_t *
cw_map_apply(const cw_map_t *m, json_t *src)
{
    size_t   i;
    json_t  *out, *v, *c;

    out = json_object();

    for (i = 0; i < m->n; i++) {
        if (m->fields[i] == NULL) {
            continue;
        }

        if (strchr(m->entries[i].path, '+')) {
            c = cw_map_join(src, m->entries[i].path);

        } else {
            v = cw_map_get(src, m->entries[i].path);
            c = cw_map_empty(v) ? NULL : cw_map_conv(v, m->entries[i].conv);
        }

        if (c && !cw_map_empty(c)) {
            json_object_set(out, m->fields[i], c);
        }

        if (c) {
            json_decref(c);
        }
    }

    return out;
}


const char *
cw_map_field(const cw_map_t *m, const char *name)
{
    size_t  i;

    for (i = 0; i < m->n; i++) {
        if (strcmp(m->entries[i].name, name) == 0) {
            return m->fields[i];
        }
    }

    return NULL;
}


static int
cw_map_override(cw_map_t *m, const char *pair, size_t len, char *err,
    size_t errlen)
{
    char         name[64], field[128];
    size_t       i;
    const char  *eq;

    while (len && (*pair == ' ' || *pair == '\t')) {
        pair++;
        len--;
    }
    while (len && (pair[len - 1] == ' ' || pair[len - 1] == '\t')) {
        len--;
    }

    if (len == 0) {
        return 0;
    }

    eq = memchr(pair, '=', len);
    if (eq == NULL || eq == pair || (size_t) (eq - pair) >= sizeof(name)
        || len - (size_t) (eq - pair) > sizeof(field))
    {
        snprintf(err, errlen, "expected `name=Field` pairs, got `%.*s`",
                 (int) len, pair);
        return -1;
    }

    snprintf(name, sizeof(name), "%.*s", (int) (eq - pair), pair);
    while (name[0] && name[strlen(name) - 1] == ' ') {
        name[strlen(name) - 1] = '\0';
    }

    eq++;
    while (eq < pair + len && *eq == ' ') {
        eq++;
    }
    snprintf(field, sizeof(field), "%.*s", (int) (pair + len - eq), eq);

    for (i = 0; i < m->n; i++) {
        if (strcmp(m->entries[i].name, name) != 0) {
            continue;
        }

        if (field[0] && !cw_crm_field_ok(field)) {
            snprintf(err, errlen, "`%s`: `%s` is not a field API name",
                     name, field);
            return -1;
        }

        free(m->fields[i]);
        m->fields[i] = field[0] ? cw_strdup(field) : NULL;
        return 0;
    }

    snprintf(err, errlen, "unknown mapping entry `%s`", name);
    return -1;
}


int
cw_map_init(cw_map_t *m, const cw_map_entry_t *entries, size_t n,
    const char *overrides, char *err, size_t errlen)
{
    size_t       i, k;
    const char  *p, *comma;

    memset(m, 0, sizeof(*m));
    m->entries = entries;
    m->n = n;
    m->fields = cw_calloc(n, sizeof(char *));
    m->read = cw_calloc(n + 2, sizeof(char *));

    for (i = 0; i < n; i++) {
        m->fields[i] = cw_strdup(entries[i].field);
    }

    for (p = overrides; p && *p; p = comma ? comma + 1 : p + strlen(p)) {
        comma = strchr(p, ',');
        if (cw_map_override(m, p, comma ? (size_t) (comma - p) : strlen(p),
                            err, errlen) != 0)
        {
            return -1;
        }
    }

    k = 0;
    m->read[k++] = "Id";
    for (i = 0; i < n; i++) {
        if (m->fields[i]) {
            m->read[k++] = m->fields[i];
        }
    }
    m->read[k] = NULL;

    return 0;
}


void
cw_map_free(cw_map_t *m)
{
    size_t  i;

    for (i = 0; m->fields && i < m->n; i++) {
        free(m->fields[i]);
    }

    free(m->fields);
    free(m->read);
    memset(m, 0, sizeof(*m));
}
