/*
 * caresync core: one webhook body in, an answer and a job out
 * (see cs_ingest.h).
 *
 * Body-level reasons, beside the field ones of cs_field.h:
 *   bad_json       not JSON (syntax, trailing bytes, number overflow)
 *   bad_utf8       invalid UTF-8
 *   nul            a raw NUL byte or an escaped \u0000
 *   duplicate_key  an object with the same key twice
 *   too_deep       nested deeper than the configured depth
 *   not_object     valid JSON, but not an object at the top
 */

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "cs_event.h"
#include "cs_field.h"
#include "cs_helparound.h"
#include "cs_ingest.h"
#include "cs_json_scan.h"
#include "cs_time.h"

#define CS_DEFAULT_DEPTH  32

static const cs_ingest_conf_t  cs_ingest_defaults;


void
cs_ingest_init(cs_ingest_t *in)
{
    memset(in, 0, sizeof(cs_ingest_t));

    cs_buf_init(&in->body);
    cs_buf_init(&in->job);
    cs_buf_init(&in->notes);
}


void
cs_ingest_free(cs_ingest_t *in)
{
    cs_buf_free(&in->body);
    cs_buf_free(&in->job);
    cs_buf_free(&in->notes);
}


/* {"errorMessage":"…","data":{"patientId":"…"}}, nothing else. */
static void
cs_ingest_400(cs_ingest_t *out, const char *reason, const char *msg,
    cs_str_t patient_id)
{
    cs_buf_t  *b = &out->body;

    out->status = 400;
    out->reason = reason;
    out->job_type = NULL;
    out->idem_key[0] = '\0';

    cs_buf_reset(b);
    cs_buf_reset(&out->job);
    cs_buf_reset(&out->notes);

    cs_buf_puts(b, "{\"errorMessage\":");
    cs_buf_json_str(b, msg, strlen(msg));
    cs_buf_puts(b, ",\"data\":{");

    if (patient_id.len) {
        cs_buf_json_key(b, "patientId");
        cs_buf_json_str(b, patient_id.data, patient_id.len);
    }

    cs_buf_puts(b, "}}");
}


static void
cs_ingest_200(cs_ingest_t *out, const cs_event_t *ev)
{
    cs_buf_t  *b = &out->body;

    out->status = 200;
    out->reason = NULL;
    out->job_type = ev->type;
    memcpy(out->idem_key, ev->idem_key, sizeof(out->idem_key));

    cs_buf_puts(b, "{\"success\":true,\"data\":{");
    cs_buf_json_key(b, "supportProgramId");
    cs_buf_json_str(b, ev->program_id.data, ev->program_id.len);
    cs_buf_putc(b, ',');
    cs_buf_json_key(b, "patientId");
    cs_buf_json_str(b, ev->patient.source_id.data, ev->patient.source_id.len);
    cs_buf_putc(b, ',');
    cs_buf_json_key(b, "externalId");
    cs_buf_json_str(b, ev->patient.external_id.data,
                    ev->patient.external_id.len);
    cs_buf_puts(b, "}}");
}


/* The envelope of spec/job.md, keys in its order. */
static void
cs_ingest_job(cs_ingest_t *out, const cs_ingest_conf_t *conf,
    const cs_event_t *ev, const cs_buf_t *raw)
{
    char       at[CS_TIME_ISO_LEN + 1];
    cs_buf_t  *b = &out->job;

    cs_time_format_iso(cs_time_ms_valid((int64_t) out->now_ms)
                       ? (int64_t) out->now_ms : 0, at);

    cs_buf_puts(b, "{\"v\":1,");
    cs_buf_json_key(b, "id");
    cs_buf_json_str(b, out->job_id, strnlen(out->job_id,
                                            sizeof(out->job_id)));
    cs_buf_putc(b, ',');
    cs_buf_json_key(b, "type");
    cs_buf_json_str(b, ev->type, strlen(ev->type));
    cs_buf_putc(b, ',');
    cs_buf_json_key(b, "received_at");
    cs_buf_json_str(b, at, CS_TIME_ISO_LEN);
    cs_buf_putc(b, ',');
    cs_buf_json_key(b, "idempotency_key");
    cs_buf_json_str(b, ev->idem_key, CS_ID_SHA256_LEN);

    cs_buf_puts(b, ",\"source\":{");
    cs_buf_json_key(b, "system");
    cs_buf_json_str(b, ev->system, strlen(ev->system));
    cs_buf_putc(b, ',');
    cs_buf_json_key(b, "event");
    cs_buf_json_str(b, ev->name.data, ev->name.len);
    cs_buf_putc(b, ',');
    cs_buf_json_key(b, "program_id");
    cs_buf_json_str(b, ev->program_id.data, ev->program_id.len);
    cs_buf_putc(b, ',');
    cs_buf_json_key(b, "sent_at");
    cs_buf_json_str(b, ev->sent_at.data, ev->sent_at.len);
    cs_buf_putc(b, '}');

    cs_buf_putc(b, ',');
    cs_buf_json_key(b, "patient");
    cs_patient_write(b, &ev->patient);

    if (ev->user_action.data) {
        cs_buf_puts(b, ",\"action\":{");
        cs_buf_json_key(b, "user_action");
        cs_buf_json_str(b, ev->user_action.data, ev->user_action.len);
        cs_buf_putc(b, ',');
        cs_buf_json_key(b, "at");
        cs_buf_json_str(b, ev->sent_at.data, ev->sent_at.len);
        cs_buf_putc(b, '}');
    }

    if (conf->keep_raw) {
        cs_buf_putc(b, ',');
        cs_buf_json_key(b, "raw");
        cs_buf_put(b, raw->data, raw->len);
    }

    cs_buf_putc(b, '}');
}


static void
cs_ingest_too_deep(cs_ingest_t *out, unsigned depth)
{
    char            msg[64];
    const cs_str_t  none = cs_str_null;

    snprintf(msg, sizeof(msg), "body is nested deeper than %u levels",
             depth);
    cs_ingest_400(out, "too_deep", msg, none);
}


/* jansson's failure as one of our messages; its text may quote bytes. */
static void
cs_ingest_parse_error(cs_ingest_t *out, const json_error_t *err,
    unsigned depth)
{
    const cs_str_t  none = cs_str_null;

    switch (json_error_code(err)) {

    case json_error_invalid_utf8:
        cs_ingest_400(out, "bad_utf8", "body is not valid UTF-8", none);
        break;

    case json_error_duplicate_key:
        cs_ingest_400(out, "duplicate_key", "body has a duplicate key", none);
        break;

    case json_error_null_character:
    case json_error_null_byte_in_key:
        cs_ingest_400(out, "nul", "body contains a NUL character", none);
        break;

    case json_error_stack_overflow:
        /* only when max_depth is above jansson's own limit */
        cs_ingest_too_deep(out, depth);
        break;

    default:
        cs_ingest_400(out, "bad_json", "body is not valid JSON", none);
    }
}


int
cs_ingest(cs_webhook_t kind, const cs_ingest_conf_t *conf,
    const unsigned char *body, size_t len, cs_ingest_t *out)
{
    int                rc;
    json_t            *root;
    unsigned           depth;
    cs_buf_t           compact;
    cs_check_t         ck;
    cs_event_t         ev;
    json_error_t       err;
    const cs_str_t     none = cs_str_null;

    if (conf == NULL) {
        conf = &cs_ingest_defaults;
    }

    out->status = 0;
    out->reason = NULL;
    out->job_type = NULL;
    out->idem_key[0] = '\0';
    cs_buf_reset(&out->body);
    cs_buf_reset(&out->job);
    cs_buf_reset(&out->notes);

    depth = conf->max_depth ? conf->max_depth : CS_DEFAULT_DEPTH;
    root = NULL;
    rc = CS_OK;

    cs_buf_init(&compact);

    switch (cs_json_scan(body, len, depth, &compact)) {

    case CS_SCAN_OK:
        break;

    case CS_SCAN_NUL:
        cs_ingest_400(out, "nul", "body contains a NUL character", none);
        goto done;

    case CS_SCAN_TOO_DEEP:
        cs_ingest_too_deep(out, depth);
        goto done;

    default:
        rc = CS_ERROR;
        goto done;
    }

    /* DECODE_ANY: a bare scalar is JSON, just not an object */
    root = json_loadb(compact.data ? compact.data : "", compact.len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);

    if (root == NULL) {
        if (json_error_code(&err) == json_error_out_of_memory) {
            rc = CS_ERROR;
            goto done;
        }

        cs_ingest_parse_error(out, &err, depth);
        goto done;
    }

    if (!json_is_object(root)) {
        cs_ingest_400(out, "not_object", "body must be a JSON object", none);
        goto done;
    }

    cs_check_init(&ck, &out->notes);

    switch (kind) {
    case CS_WEBHOOK_HELPAROUND_ENROLLMENT:
        rc = cs_helparound_enrollment(&ck, root, conf, &ev);
        break;
    default:
        rc = cs_helparound_user_action(&ck, root, conf, &ev);
    }

    if (rc != CS_OK) {
        goto done;
    }

    if (ck.reason) {
        cs_ingest_400(out, ck.reason, ck.msg, ev.patient_id);
        goto done;
    }

    cs_ingest_200(out, &ev);
    cs_ingest_job(out, conf, &ev, &compact);

done:

    json_decref(root);
    cs_buf_free(&compact);

    if (rc == CS_OK
        && (out->body.oom || out->job.oom || out->notes.oom))
    {
        rc = CS_ERROR;
    }

    return rc;
}
