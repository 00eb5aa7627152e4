/*
 * caresync-worker: the CRM as the job handlers see it.
 *
 * Handlers talk to this small interface, never to Salesforce directly,
 * so that another CRM is one more implementation.  Every operation is
 * asynchronous: `done` runs later from the HTTP loop with the result.
 * Contacts are jansson objects keyed by the CRM's field names.
 */
#ifndef CW_CRM_H
#define CW_CRM_H

#include <jansson.h>

#include "cw_http.h"

typedef struct {
    cw_err_t     err;          /* cls NONE on success */
    long         status;       /* the HTTP status of the last response */
    json_t      *record;       /* get: the contact, NULL when not found */
    json_t      *records;      /* find: every match; collections: results;
                                  upsert 300: the candidates' URLs */
    const char  *id;           /* upsert / create: the contact id */
    int          created;      /* upsert: 1 created, 0 updated */
} cw_crm_res_t;

typedef void (*cw_crm_done_pt)(void *data, cw_crm_res_t *res);

typedef struct cw_crm_s  cw_crm_t;

struct cw_crm_s {
    const char  *name;

    /* `fields` is a NULL-terminated list of the fields to read */
    void (*get_contact)(cw_crm_t *crm, const char *id,
        const char *const *fields, cw_crm_done_pt done, void *data);
    /* every contact whose `field` equals `value` */
    void (*find_contacts)(cw_crm_t *crm, const char *field,
        const char *value, const char *const *fields, cw_crm_done_pt done,
        void *data);
    void (*update_contact)(cw_crm_t *crm, const char *id, json_t *fields,
        cw_crm_done_pt done, void *data);
    void (*upsert_contact)(cw_crm_t *crm, const char *ext_field,
        const char *value, json_t *fields, cw_crm_done_pt done, void *data);
    void (*create_contact)(cw_crm_t *crm, json_t *fields,
        cw_crm_done_pt done, void *data);
    /* any other record (`sobject` e.g. "Task"); res->id is its id */
    void (*create_record)(cw_crm_t *crm, const char *sobject, json_t *fields,
        cw_crm_done_pt done, void *data);
    /* up to 200 contacts by external id; res->records: per-item results */
    void (*upsert_contacts)(cw_crm_t *crm, const char *ext_field,
        json_t *records, cw_crm_done_pt done, void *data);
    /* auth and one cheap authenticated call, for `check` */
    void (*ping)(cw_crm_t *crm, cw_crm_done_pt done, void *data);
    /* whether `s` has the shape of this CRM's contact ids */
    int (*is_contact_id)(const char *s);
    void (*destroy)(cw_crm_t *crm);
    /*
     * issue 6: the ids of every contact matching an operator's condition
     * (`batch … --where`), all pages, up to 50000; res->records: [{Id}].
     */
    void (*select_ids)(cw_crm_t *crm, const char *where,
        cw_crm_done_pt done, void *data);
};

/*
 * The fields of `want` that differ from `have`, as a new object (NULL
 * when nothing differs).  Empty or null values in `want` never count:
 * an empty source value does not blank the CRM (sync-rules, general
 * rules).  Two date-times are equal when they are the same instant.
 */
json_t *cw_crm_diff(json_t *have, json_t *want);

/*
 * The records whose `field` is the string `value` byte for byte, as a new
 * array.  A query's `=` ignores case on most text fields (Salesforce's
 * does, unless the field is marked case-sensitive), so a record found by
 * an id is checked with this before the id lets it be written.
 */
json_t *cw_crm_only_equal(json_t *records, const char *field,
    const char *value);

#endif /* CW_CRM_H */
