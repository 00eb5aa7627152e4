/*
 * caresync-worker: the Hint Health API client (spec/external-apis.md).
 *
 * The practice key is a bearer token without expiry, so there is no token
 * cache: every request carries it.  Patients are jansson objects in
 * Hint's own shape; cw_hintmap.c turns them into contact fields.  A 404
 * (or 410) on a patient is an answer (res->patient NULL), not an error;
 * 429 and 5xx are transient (cw_http honours Retry-After); 422 is
 * permanent and its text is not kept, as it may quote the values sent.
 */
#ifndef CW_HINT_H
#define CW_HINT_H

#include <jansson.h>

#include "cw_http.h"
#include "cw_worker.h"

#define CW_HINT_PAGE  100           /* Hint's largest page */

typedef struct {
    cw_err_t     err;               /* cls NONE on success */
    long         status;
    json_t      *patient;           /* get, update, create */
    json_t      *patients;          /* list */
    long         total;             /* list: X-Total-Count, -1 unknown */
} cw_hint_res_t;

typedef void (*cw_hint_done_pt)(void *data, cw_hint_res_t *res);

typedef struct cw_hint_s  cw_hint_t;

/* The process's client, made on first use; NULL when not configured. */
cw_hint_t *cw_hint(cw_worker_t *w);

void cw_hint_get_patient(cw_hint_t *h, const char *id, cw_hint_done_pt done,
    void *data);
void cw_hint_update_patient(cw_hint_t *h, const char *id, json_t *fields,
    cw_hint_done_pt done, void *data);
void cw_hint_create_patient(cw_hint_t *h, json_t *fields,
    cw_hint_done_pt done, void *data);
/* `filters`: exact, case-insensitive field filters (may be NULL) */
void cw_hint_list_patients(cw_hint_t *h, long limit, long offset,
    json_t *filters, cw_hint_done_pt done, void *data);

/* A Hint patient id: "pat-" and [A-Za-z0-9_-], safe in paths and logs. */
int cw_hint_id_ok(const char *s);

#endif /* CW_HINT_H */
