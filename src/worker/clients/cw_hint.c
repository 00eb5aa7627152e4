/*
 * caresync-worker: the Hint Health API client.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clients/cw_hint.h"
#include "engine/cw_log.h"
#include "engine/cw_util.h"

typedef enum {
    CW_HINT_GET = 0,
    CW_HINT_UPDATE,
    CW_HINT_CREATE,
    CW_HINT_LIST
} cw_hint_op_e;

static const char  *cw_hint_op_names[] = {
    "read", "update", "create", "list"
};

struct cw_hint_s {
    cw_http_t    *http;
    cw_target_t   target;
    char         *auth;             /* "Authorization: Bearer …" */
};

typedef struct {
    cw_call_t         c;            /* the client, op, the caller's data */
    cw_hint_done_pt   done;
} cw_hint_call_t;


/*
 * One client per process, made on first use, so that the worker's
 * start-up code needs no Hint knowledge.  It
 * lives as long as the process: the pointer keeps it reachable.
 */
static cw_hint_t  *cw_hint_one;


cw_hint_t *
cw_hint(cw_worker_t *w)
{
    cs_buf_t          b;
    const cw_conf_t  *c = w->conf;

    if (cw_hint_one) {
        return cw_hint_one;
    }

    if (c->hint.base_url == NULL || c->hint.api_key == NULL) {
        return NULL;
    }

    cw_hint_one = cw_calloc(1, sizeof(cw_hint_t));
    cw_hint_one->http = w->http;
    cw_target_init(&cw_hint_one->target, "Hint", c->hint.base_url,
                   (int) c->hint.max_concurrency, (double) c->hint.rps);

    cs_buf_init(&b);
    cs_buf_puts(&b, "Authorization: Bearer ");
    cs_buf_puts(&b, c->hint.api_key);
    cs_buf_putc(&b, '\0');
    cw_hint_one->auth = b.data;

    return cw_hint_one;
}


int
cw_hint_id_ok(const char *s)
{
    return s && strncmp(s, "pat-", 4) == 0 && s[4] != '\0'
           && strlen(s) < 64 && cw_http_id_ok(s);
}


static void
cw_hint_done(cw_http_req_t *r)
{
    cw_hint_res_t    res;
    cw_hint_call_t  *call = r->data;

    memset(&res, 0, sizeof(res));
    res.err = r->err;
    res.status = r->status;
    res.total = -1;

    if (r->err.cls == CW_ERR_NONE) {
        if (call->c.op == CW_HINT_LIST) {
            res.patients = json_is_array(r->json) ? r->json : NULL;
        } else {
            res.patient = json_is_object(r->json) ? r->json : NULL;
        }

        if (res.patients == NULL && res.patient == NULL) {
            cw_err_set(&res.err, CW_ERR_TRANSIENT, CW_E_BAD_RESPONSE,
                       "Hint answered the patient %s with an unexpected "
                       "body", cw_hint_op_names[call->c.op]);
        }

    } else if (call->c.op == CW_HINT_GET
               && (r->status == 404 || r->status == 410))
    {
        /* not found (or gone) is an answer: the patient was deleted */
        cw_err_clear(&res.err);

    } else if (r->err.cls == CW_ERR_PERMANENT && r->status) {
        /*
         * {"status":422,"message":"Validation failed: …"}: the message may
         * quote what was sent, so only the status is kept.
         */
        /*
         * Hint does not say reliably which field it refused (a 422 may be
         * about any field written), so no field is named here.
         */
        cw_err_set(&res.err, CW_ERR_PERMANENT, CW_E_HINT_REJECTED,
                   "Hint refused the patient's data (%ld) on a patient "
                   "%s: check the fields written and the practice API key",
                   r->status, cw_hint_op_names[call->c.op]);
        res.err.http_status = r->status;
    }

    call->done(call->c.data, &res);
    free(call);
    cw_http_req_free(r);
}


/* A request whose completion is the call's (`done` gets the answer). */
static cw_http_req_t *
cw_hint_req(cw_hint_t *h, cw_hint_op_e op, const char *method,
    cw_hint_done_pt done, void *data)
{
    cw_hint_call_t  *call;

    call = cw_call_new(sizeof(*call), h, op, data);
    call->done = done;

    return cw_http_req_new(h->http, method, &h->target, NULL, cw_hint_done,
                           call);
}


static void
cw_hint_send(cw_hint_t *h, cw_hint_op_e op, const char *method,
    const char *path, json_t *body, cw_hint_done_pt done, void *data)
{
    cw_http_req_t  *r;

    r = cw_hint_req(h, op, method, done, data);
    cw_http_req_url(r, path);
    cw_http_req_header(r, h->auth);

    if (body) {
        cw_http_req_json(r, body);
    }

    /* every write to Hint passes here: the audit trail's hook */
    if (strcmp(method, "GET") != 0) {
        cw_http_req_audit(r, "patient",
                          op == CW_HINT_UPDATE ? strrchr(path, '/') + 1
                                               : NULL, body);
    }

    cw_http_send(r);
}


/* One patient's path, or the call ends with the error, nothing sent. */
static void
cw_hint_patient(cw_hint_t *h, cw_hint_op_e op, const char *method,
    const char *id, json_t *fields, cw_hint_done_pt done, void *data)
{
    cs_buf_t        p;
    cw_err_t        err;
    cw_http_req_t  *r;

    cs_buf_init(&p);
    cs_buf_puts(&p, "/api/provider/patients/");

    if (cw_http_url_id(&p, id, "the Hint patient id", &err) == 0) {
        cs_buf_putc(&p, '\0');
        cw_hint_send(h, op, method, p.data, fields, done, data);
        cs_buf_free(&p);
        return;
    }

    cs_buf_free(&p);

    /* still asynchronous: `done` never runs inside the caller */
    r = cw_hint_req(h, op, method, done, data);
    r->err = err;
    cw_http_fail_later(r);
}


void
cw_hint_get_patient(cw_hint_t *h, const char *id, cw_hint_done_pt done,
    void *data)
{
    cw_hint_patient(h, CW_HINT_GET, "GET", id, NULL, done, data);
}


void
cw_hint_update_patient(cw_hint_t *h, const char *id, json_t *fields,
    cw_hint_done_pt done, void *data)
{
    cw_hint_patient(h, CW_HINT_UPDATE, "PATCH", id, fields, done, data);
}


void
cw_hint_create_patient(cw_hint_t *h, json_t *fields, cw_hint_done_pt done,
    void *data)
{
    cw_hint_send(h, CW_HINT_CREATE, "POST", "/api/provider/patients", fields,
                 done, data);
}


void
cw_hint_list_patients(cw_hint_t *h, long limit, long offset,
    json_t *filters, cw_hint_done_pt done, void *data)
{
    char         q[96];
    json_t      *v;
    cs_buf_t     b;
    const char  *k;

    snprintf(q, sizeof(q), "/api/provider/patients?limit=%ld&offset=%ld",
             limit, offset);
    cs_buf_init(&b);
    cs_buf_puts(&b, q);

    /* the filters' names are ours (cw_hintmap_match_filters) */
    json_object_foreach(filters, k, v) {
        cw_form_add(&b, k, json_string_value(v));
    }

    cs_buf_putc(&b, '\0');
    cw_hint_send(h, CW_HINT_LIST, "GET", b.data, NULL, done, data);
    cs_buf_free(&b);
}
