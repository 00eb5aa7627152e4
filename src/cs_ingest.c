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
 *   too_many_values  more JSON values than the configured number
 *   not_object     valid JSON, but not an object at the top
 */

#include <stdio.h>
#include <string.h>

#include "cs_action.h"
#include "cs_event.h"
#include "cs_field.h"
#include "cs_helparound.h"
#include "cs_hint.h"
#include "cs_ingest.h"
#include "cs_json.h"
#include "cs_time.h"

#define CS_DEFAULT_DEPTH   32

/*
 * The largest fixture, the enrollment, has 64 values; one that fills both
 * of its arrays to the 100 entries the rules allow has about 760.  10000
 * leaves room for fields we do not read while bounding the parser's work
 * to under a megabyte of tree.
 */
#define CS_DEFAULT_VALUES  10000

/* the fixtures' bodies are 1-3 KB; a raw copy this size is never one */
#define CS_DEFAULT_RAW     65536

/* room for the normalized patient, whatever the body's size */
#define CS_JOB_ROOM        65536

/*
 * The parse of one body lives as long as cs_ingest(); its buffers are
 * kept for the next one, up to this size (a larger body's are freed).
 */
#define CS_INGEST_KEEP     (256 * 1024)

static const cs_ingest_conf_t  cs_ingest_defaults;
static cs_json_doc_t           cs_ingest_doc;


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


/*
 * {"errorMessage":"…","data":{"<data_key>":"…"}}, nothing else; "data"
 * is left out altogether for the action kinds (data_key NULL).
 */
static void
cs_ingest_400(cs_ingest_t *out, const char *data_key, const char *reason,
    const char *msg, cs_str_t id)
{
    cs_buf_t  *b = &out->body;

    out->status = 400;
    out->enqueue = 0;
    out->reason = reason;
    out->job_type = NULL;
    out->idem_key[0] = '\0';

    cs_buf_reset(b);
    cs_buf_reset(&out->job);
    cs_buf_reset(&out->notes);

    cs_buf_puts(b, "{\"errorMessage\":");
    cs_buf_json_str(b, msg, strlen(msg));

    if (data_key) {
        cs_buf_puts(b, ",\"data\":{");

        if (id.len) {
            cs_buf_json_key(b, data_key);
            cs_buf_json_str(b, id.data, id.len);
        }

        cs_buf_putc(b, '}');
    }

    cs_buf_putc(b, '}');
}


static int
cs_ingest_is(const cs_event_t *ev, const char *system)
{
    return strcmp(ev->system, system) == 0;
}


static void
cs_ingest_200_helparound(cs_buf_t *b, const cs_event_t *ev)
{
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


void
cs_ingest_answer_202(cs_buf_t *b, const char *status_base,
    size_t status_base_len, const char *job_id, size_t job_id_len)
{
    cs_buf_t  url;

    cs_buf_init(&url);
    if (status_base_len) {
        cs_buf_put(&url, status_base, status_base_len);
    }
    cs_buf_put(&url, job_id, job_id_len);

    cs_buf_puts(b, "{\"job_id\":");
    cs_buf_json_str(b, job_id, job_id_len);
    cs_buf_puts(b, ",\"status_url\":");
    cs_buf_json_str(b, url.data, url.len);
    cs_buf_putc(b, '}');

    if (url.oom) {
        b->oom = 1;
    }

    cs_buf_free(&url);
}


static void
cs_ingest_answer(cs_ingest_t *out, const cs_ingest_conf_t *conf,
    const cs_event_t *ev)
{
    cs_buf_t  *b = &out->body;

    out->status = 200;
    out->enqueue = !ev->ignored;
    out->reason = NULL;
    out->job_type = ev->type;
    memcpy(out->idem_key, ev->idem_key, sizeof(out->idem_key));

    if (cs_ingest_is(ev, "hint")) {
        cs_buf_puts(b, "{\"received\":true,");
        cs_buf_json_key(b, "id");
        cs_buf_json_str(b, ev->event_id.data, ev->event_id.len);
        cs_buf_putc(b, '}');

    } else if (cs_ingest_is(ev, "crm")) {
        out->status = 202;
        cs_ingest_answer_202(b, conf->status_base, conf->status_base_len,
                             out->job_id,
                             strnlen(out->job_id, sizeof(out->job_id)));

        /* the edge checks it against the token's agents */
        if (ev->action.agent.data
            && ev->action.agent.len <= CS_INGEST_AGENT_MAX)
        {
            memcpy(out->agent, ev->action.agent.data, ev->action.agent.len);
            out->agent_len = ev->action.agent.len;
            out->agent[out->agent_len] = '\0';
        }

    } else {
        cs_ingest_200_helparound(b, ev);
    }
}


/* `,"key":"value"` when the value is there. */
static void
cs_ingest_member(cs_buf_t *b, const char *key, cs_str_t v)
{
    if (v.data) {
        cs_buf_putc(b, ',');
        cs_buf_json_key(b, key);
        cs_buf_json_str(b, v.data, v.len);
    }
}


/* "action":{…}: a HelpAround user action, or a CRM action's parameters. */
static void
cs_ingest_action(cs_buf_t *b, const cs_event_t *ev)
{
    const cs_event_action_t  *a = &ev->action;

    if (ev->user_action.data) {
        cs_buf_puts(b, ",\"action\":{");
        cs_buf_json_key(b, "user_action");
        cs_buf_json_str(b, ev->user_action.data, ev->user_action.len);
        cs_ingest_member(b, "at", ev->sent_at);
        cs_buf_putc(b, '}');
        return;
    }

    if (!cs_ingest_is(ev, "crm")) {
        return;
    }

    cs_buf_puts(b, ",\"action\":{");

    if (a->contact_id.data == NULL) {
        /* an operator's action: what it acts on, and who asked */
        size_t  i, n;
        const struct {
            const char  *key;
            cs_str_t     v;
        } m[] = {
            { "dead_id", a->dead_id }, { "agent", a->agent },
            { "state", a->state }, { "code", a->code },
            { "actor", a->actor }
        };

        for (i = 0, n = 0; i < sizeof(m) / sizeof(m[0]); i++) {
            if (m[i].v.data) {
                if (n++) {
                    cs_buf_putc(b, ',');
                }
                cs_buf_json_key(b, m[i].key);
                cs_buf_json_str(b, m[i].v.data, m[i].v.len);
            }
        }

        cs_buf_putc(b, '}');
        return;
    }

    cs_buf_json_key(b, "contact_id");
    cs_buf_json_str(b, a->contact_id.data, a->contact_id.len);
    cs_ingest_member(b, "agent", a->agent);
    cs_ingest_member(b, "patient_id", a->patient_id);

    if (a->create >= 0) {
        cs_buf_puts(b, a->create ? ",\"create\":true" : ",\"create\":false");
    }

    cs_buf_putc(b, '}');
}


/*
 * The envelope of spec/job.md, keys in its order but for "action" and
 * "raw_omitted", which go before "patient": the readable head (ids,
 * type, times, the idempotency key, the source, the action's ids and
 * whether the raw copy was left out) comes first, the PHI
 * ("patient", "raw") after it, so that it can be sealed as one piece.
 */
static void
cs_ingest_job(cs_ingest_t *out, const cs_ingest_conf_t *conf,
    const cs_event_t *ev, const cs_json_doc_t *doc)
{
    int        keep_raw;
    char       at[CS_TIME_ISO_LEN + 1];
    size_t     max_raw, raw_len, room, split;
    cs_buf_t  *b = &out->job;

    raw_len = doc->compact_len;
    max_raw = conf->max_raw ? conf->max_raw : CS_DEFAULT_RAW;
    keep_raw = conf->keep_raw && raw_len <= max_raw;
    out->raw_omitted = (conf->keep_raw && !keep_raw) ? raw_len : 0;

    cs_time_format_iso(cs_time_ms_valid((int64_t) out->now_ms)
                       ? (int64_t) out->now_ms : 0, at);

    /*
     * One allocation: the normalized patient is never much longer than
     * the body it came from, and the raw copy is the body itself.  A body
     * much larger than any patient is mostly what we do not read: the
     * job lives as long as its request waits for Redis, so it is not
     * given room for it (and grows in the rare case it needs to).
     */
    room = (keep_raw ? raw_len : 0)
           + (raw_len < CS_JOB_ROOM ? raw_len : CS_JOB_ROOM);

    /* sealed, the PHI is written again as base64: 4 bytes for 3 */
    (void) cs_buf_reserve(b, (conf->seal ? room / 3 * 4 : room) + 1024);

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

    /* readable like the ids: the worker logs and propagates it */
    if (out->traceparent[0]) {
        cs_buf_putc(b, ',');
        cs_buf_json_key(b, "traceparent");
        cs_buf_json_str(b, out->traceparent,
                        strnlen(out->traceparent, sizeof(out->traceparent)));
    }

    /* each source has its own members; absent ones are left out */
    cs_buf_puts(b, ",\"source\":{");
    cs_buf_json_key(b, "system");
    cs_buf_json_str(b, ev->system, strlen(ev->system));
    cs_ingest_member(b, "event", ev->name);
    cs_ingest_member(b, "event_id", ev->event_id);
    cs_ingest_member(b, "program_id", ev->program_id);
    cs_ingest_member(b, "practice_id", ev->practice_id);
    cs_ingest_member(b, "sent_at", ev->sent_at);
    cs_ingest_member(b, "created_at", ev->created_at);
    cs_buf_putc(b, '}');

    cs_ingest_action(b, ev);

    if (out->raw_omitted) {
        /* so that a copy left out reads apart from one never asked for */
        cs_buf_puts(b, ",\"raw_omitted\":\"too_large\"");
    }

    /* ids only up to here: the readable head ends, what follows is PHI */
    split = b->len;

    if (!cs_ingest_is(ev, "crm")) {
        cs_buf_putc(b, ',');
        cs_buf_json_key(b, "patient");
        cs_patient_write(b, &ev->patient);
    }

    if (keep_raw) {
        cs_buf_putc(b, ',');
        cs_buf_json_key(b, "raw");
        cs_json_compact(doc, b);
    }

    cs_buf_putc(b, '}');

    if (conf->seal && cs_seal_job(conf->seal, b, split) != CS_SEAL_OK) {
        b->oom = 1;
    }
}


/* The 400's "data" member: keyed by the id the sender knows, or none. */
static const char *
cs_ingest_data_key(cs_webhook_t kind)
{
    switch (kind) {
    case CS_WEBHOOK_HELPAROUND_ENROLLMENT:
    case CS_WEBHOOK_HELPAROUND_USER_ACTION:
        return "patientId";
    case CS_WEBHOOK_HINT:
        return "id";
    default:
        return NULL;
    }
}


/* A problem with the body as a whole: no id has been read yet. */
static void
cs_ingest_body_400(cs_ingest_t *out, const char *dk, const char *reason,
    const char *msg)
{
    const cs_str_t  none = cs_str_null;

    cs_ingest_400(out, dk, reason, msg, none);
}


static void
cs_ingest_too_deep(cs_ingest_t *out, const char *dk, unsigned depth)
{
    char  msg[64];

    snprintf(msg, sizeof(msg), "body is nested deeper than %u levels",
             depth);
    cs_ingest_body_400(out, dk, "too_deep", msg);
}


static void
cs_ingest_too_many(cs_ingest_t *out, const char *dk, size_t values)
{
    char  msg[64];

    snprintf(msg, sizeof(msg), "body has more than %zu values", values);
    cs_ingest_body_400(out, dk, "too_many_values", msg);
}


/* The source's rules for `kind`. */
static int
cs_ingest_rules(cs_webhook_t kind, cs_check_t *ck, const cs_json_t *root,
    const cs_ingest_conf_t *conf, const cs_ingest_t *out, cs_event_t *ev)
{
    switch (kind) {

    case CS_WEBHOOK_HELPAROUND_ENROLLMENT:
        return cs_helparound_enrollment(ck, root, conf, ev);

    case CS_WEBHOOK_HELPAROUND_USER_ACTION:
        return cs_helparound_user_action(ck, root, conf, ev);

    case CS_WEBHOOK_HINT:
        return cs_hint_event(ck, root, conf, ev);

    default:
        if (cs_action_event(ck, root, kind, out->job_id, ev) != CS_OK) {
            return CS_ERROR;
        }

        if (cs_action_ops(kind) && conf->actor) {
            ev->action.actor.data = conf->actor;
            ev->action.actor.len = conf->actor_len;
        }

        return CS_OK;
    }
}


int
cs_ingest(cs_webhook_t kind, const cs_ingest_conf_t *conf,
    const unsigned char *body, size_t len, cs_ingest_t *out)
{
    int                rc;
    size_t             max_values;
    unsigned           depth;
    cs_check_t         ck;
    cs_event_t         ev;
    const char        *dk;
    cs_json_doc_t     *doc;
    const cs_json_t   *root;

    if (conf == NULL) {
        conf = &cs_ingest_defaults;
    }

    out->status = 0;
    out->enqueue = 0;
    out->reason = NULL;
    out->job_type = NULL;
    out->idem_key[0] = '\0';
    out->raw_omitted = 0;
    out->agent[0] = '\0';
    out->agent_len = 0;
    cs_buf_reset(&out->body);
    cs_buf_reset(&out->job);
    cs_buf_reset(&out->notes);

    dk = cs_ingest_data_key(kind);
    depth = conf->max_depth ? conf->max_depth : CS_DEFAULT_DEPTH;
    max_values = conf->max_values ? conf->max_values : CS_DEFAULT_VALUES;
    doc = &cs_ingest_doc;
    rc = CS_OK;

    switch (cs_json_parse(doc, body, len, depth, max_values)) {

    case CS_JSON_OK:
        break;

    case CS_JSON_NUL:
        cs_ingest_body_400(out, dk, "nul", "body contains a NUL character");
        goto done;

    case CS_JSON_TOO_DEEP:
        cs_ingest_too_deep(out, dk, depth);
        goto done;

    case CS_JSON_TOO_MANY:
        cs_ingest_too_many(out, dk, max_values);
        goto done;

    case CS_JSON_BAD_UTF8:
        cs_ingest_body_400(out, dk, "bad_utf8", "body is not valid UTF-8");
        goto done;

    case CS_JSON_DUPLICATE:
        cs_ingest_body_400(out, dk, "duplicate_key",
                           "body has a duplicate key");
        goto done;

    case CS_JSON_SYNTAX:
        cs_ingest_body_400(out, dk, "bad_json", "body is not valid JSON");
        goto done;

    default:
        rc = CS_ERROR;
        goto done;
    }

    root = cs_json_root(doc);

    if (!cs_json_is_object(root)) {
        cs_ingest_body_400(out, dk, "not_object",
                           "body must be a JSON object");
        goto done;
    }

    cs_check_init(&ck, &out->notes);

    rc = cs_ingest_rules(kind, &ck, root, conf, out, &ev);

    if (rc != CS_OK) {
        goto done;
    }

    if (ck.reason) {
        cs_ingest_400(out, dk, ck.reason, ck.msg,
                      kind == CS_WEBHOOK_HINT ? ev.event_id : ev.patient_id);
        goto done;
    }

    cs_ingest_answer(out, conf, &ev);

    if (out->enqueue) {
        cs_ingest_job(out, conf, &ev, doc);
    }

done:

    cs_json_trim(doc, CS_INGEST_KEEP);

    if (rc == CS_OK
        && (out->body.oom || out->job.oom || out->notes.oom))
    {
        rc = CS_ERROR;
    }

    return rc;
}
