/*
 * caresync core: the normalized patient's JSON (see cs_patient.h).
 *
 * Written straight into the job buffer, members in spec order.  An object
 * whose members are all empty is rolled back rather than checked twice.
 */

#include <stddef.h>
#include <string.h>

#include "cs_patient.h"

/* One JSON object being written: how many members it has so far. */
typedef struct {
    cs_buf_t  *b;
    size_t     mark;                  /* where its key started */
    int        n;
} cs_pw_t;


void
cs_patient_init(cs_patient_t *p)
{
    memset(p, 0, offsetof(cs_patient_t, external_ids));
    memcpy(p->address.country, "US", 3);
}


static void
cs_pw_key(cs_pw_t *o, const char *key)
{
    if (o->n++) {
        cs_buf_putc(o->b, ',');
    }

    cs_buf_json_key(o->b, key);
}


static void
cs_pw_str(cs_pw_t *o, const char *key, cs_str_t v)
{
    if (v.len) {
        cs_pw_key(o, key);
        cs_buf_json_str(o->b, v.data, v.len);
    }
}


static void
cs_pw_name(cs_pw_t *o, const char *key, cs_str_t v)
{
    if (v.len) {
        cs_pw_key(o, key);
        cs_norm_put_name(o->b, v);
    }
}


static void
cs_pw_cstr(cs_pw_t *o, const char *key, const char *v)
{
    if (v && *v) {
        cs_pw_key(o, key);
        cs_buf_json_str(o->b, v, strlen(v));
    }
}


/* Opens `"key":{` (or `{` for an array element) inside `parent`. */
static void
cs_pw_open(cs_pw_t *o, cs_pw_t *parent, const char *key, char brace)
{
    o->b = parent->b;
    o->mark = o->b->len;
    o->n = 0;

    if (key) {
        cs_pw_key(parent, key);
    } else if (parent->n++) {
        cs_buf_putc(o->b, ',');
    }

    cs_buf_putc(o->b, brace);
}


/* Closes it, or takes it back entirely when it got no member. */
static void
cs_pw_close(cs_pw_t *o, cs_pw_t *parent, char brace)
{
    if (o->n == 0) {
        if (!o->b->oom) {
            o->b->len = o->mark;
        }
        parent->n--;
        return;
    }

    cs_buf_putc(o->b, brace);
}


static void
cs_pw_insurance(cs_pw_t *parent, const char *key,
    const cs_patient_insurance_t *ins)
{
    cs_pw_t  o;

    cs_pw_open(&o, parent, key, '{');
    cs_pw_str(&o, "carrier", ins->carrier);
    cs_pw_str(&o, "member_id", ins->member_id);
    cs_pw_str(&o, "group_num", ins->group_num);
    cs_pw_name(&o, "card_name", ins->card_name);
    cs_pw_cstr(&o, "card_dob", ins->card_dob);
    cs_pw_str(&o, "front_image_id", ins->front_image_id);
    cs_pw_str(&o, "back_image_id", ins->back_image_id);
    cs_pw_str(&o, "status", ins->status);
    cs_pw_close(&o, parent, '}');
}


static void
cs_pw_address(cs_pw_t *parent, const cs_patient_address_t *a)
{
    cs_pw_t  o;

    /* a country alone is not an address */
    if (a->line1.len == 0 && a->line2.len == 0 && a->city.len == 0
        && a->state[0] == '\0' && a->zip[0] == '\0')
    {
        return;
    }

    cs_pw_open(&o, parent, "address", '{');
    cs_pw_str(&o, "line1", a->line1);
    cs_pw_str(&o, "line2", a->line2);
    cs_pw_str(&o, "city", a->city);
    cs_pw_cstr(&o, "state", a->state);
    cs_pw_cstr(&o, "zip", a->zip);
    cs_pw_cstr(&o, "country", a->country);
    cs_pw_close(&o, parent, '}');
}


void
cs_patient_write(cs_buf_t *b, const cs_patient_t *p)
{
    size_t   i;
    cs_pw_t  top, o, list, el;

    top.b = b;
    top.mark = b->len;
    top.n = 0;

    cs_buf_putc(b, '{');

    cs_pw_str(&top, "source_id", p->source_id);
    cs_pw_str(&top, "external_id", p->external_id);

    cs_pw_open(&list, &top, "external_ids", '[');
    for (i = 0; i < p->n_external_ids; i++) {
        cs_pw_open(&el, &list, NULL, '{');
        cs_pw_str(&el, "source", p->external_ids[i].source);
        cs_pw_str(&el, "id", p->external_ids[i].id);
        cs_pw_close(&el, &list, '}');
    }
    cs_pw_close(&list, &top, ']');

    cs_pw_name(&top, "first_name", p->first_name);
    cs_pw_name(&top, "middle_name", p->middle_name);
    cs_pw_name(&top, "last_name", p->last_name);
    cs_pw_name(&top, "prefix", p->prefix);
    cs_pw_name(&top, "suffix", p->suffix);
    cs_pw_cstr(&top, "dob", p->dob);
    cs_pw_cstr(&top, "gender", p->gender);
    cs_pw_cstr(&top, "email", p->email);

    cs_pw_open(&list, &top, "phones", '[');
    for (i = 0; i < p->n_phones; i++) {
        cs_pw_open(&el, &list, NULL, '{');
        cs_pw_cstr(&el, "type", p->phones[i].type);
        cs_pw_cstr(&el, "number", p->phones[i].number);
        cs_pw_close(&el, &list, '}');
    }
    cs_pw_close(&list, &top, ']');

    cs_pw_address(&top, &p->address);

    cs_pw_str(&top, "language", p->language);
    cs_pw_str(&top, "contact_method", p->contact_method);
    cs_pw_str(&top, "call_time", p->call_time);

    cs_pw_open(&o, &top, "caregiver", '{');
    cs_pw_name(&o, "name", p->caregiver.name);
    cs_pw_str(&o, "relationship", p->caregiver.relationship);
    cs_pw_cstr(&o, "phone", p->caregiver.phone);
    cs_pw_cstr(&o, "email", p->caregiver.email);
    cs_pw_close(&o, &top, '}');

    cs_pw_open(&o, &top, "insurance", '{');
    cs_pw_insurance(&o, "primary", &p->primary);
    cs_pw_insurance(&o, "secondary", &p->secondary);
    cs_pw_close(&o, &top, '}');

    cs_pw_open(&list, &top, "consents", '[');
    for (i = 0; i < p->n_consents; i++) {
        cs_pw_open(&el, &list, NULL, '{');
        cs_pw_str(&el, "name", p->consents[i].name);
        if (p->consents[i].value >= 0) {
            cs_pw_key(&el, "value");
            cs_buf_puts(b, p->consents[i].value ? "true" : "false");
        }
        cs_pw_cstr(&el, "at", p->consents[i].at);
        cs_pw_close(&el, &list, '}');
    }
    cs_pw_close(&list, &top, ']');

    cs_pw_open(&o, &top, "signature", '{');
    cs_pw_cstr(&o, "at", p->signature_at);
    cs_pw_str(&o, "image_id", p->signature_image_id);
    cs_pw_close(&o, &top, '}');

    cs_pw_open(&o, &top, "practitioner", '{');
    cs_pw_str(&o, "id", p->practitioner_id);
    cs_pw_name(&o, "name", p->practitioner_name);
    cs_pw_close(&o, &top, '}');

    cs_pw_str(&top, "payer_name", p->payer_name);
    cs_pw_str(&top, "payer_id", p->payer_id);
    cs_pw_str(&top, "membership_status", p->membership_status);
    cs_pw_str(&top, "external_link_id", p->external_link_id);

    cs_buf_putc(b, '}');
}
