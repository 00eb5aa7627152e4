/*
 * caresync fuzzing: the invariants of cs_ingest() that hold for every kind
 * of body (src/cs_ingest.h).  A harness fills an fz_ingest_spec_t and
 * calls fz_ingest_run(); the checks that depend on the kind (the 200/202
 * answer, the job's content) go in spec->check_ok.
 *
 * Checked for every input:
 *   - cs_ingest() returns CS_OK (the fuzzer never runs out of memory);
 *   - status is 200, 202 or 400, reason set iff 400, job empty unless
 *     enqueue, enqueue only with a 2xx;
 *   - body is valid JSON (duplicate keys rejected), an object, and exactly
 *     jansson's compact dump of itself (spec/inbound.md: compact answers);
 *   - the job, when queued, is valid JSON with v, id, type, received_at,
 *     idempotency_key as passed in / reported, and "raw" iff keep_raw and
 *     the compact input is within max_raw, equal (as JSON) to the input;
 *     with keep_raw and a longer input, "raw_omitted":"too_large" instead
 *     and raw_omitted its length;
 *   - 400: {"errorMessage":"…"} plus at most "data" with the one id key
 *     the spec allows, whose value is that id as sent; the message, the
 *     reason and the notes are made only of the core's own literals
 *     (field paths, fixed texts) and numbers: no input string of 6 bytes
 *     or more appears in them unless it is itself such a piece;
 *   - body-level verdicts agree with jansson: input jansson rejects is a
 *     400 bad_json/bad_utf8/nul/duplicate_key/too_deep/too_many_values;
 *     input it accepts within the depth and value limits is never one of
 *     those; a 2xx body is never deeper than the limit and never has more
 *     values;
 *   - same input, same answer: again on the same (reused) cs_ingest_t,
 *     also after another body, and on the compact copy cs_json_scan()
 *     makes of the input.
 */

#ifndef CS_FUZZ_INGEST_COMMON_H
#define CS_FUZZ_INGEST_COMMON_H

#include "cs_ingest.h"
#include "cs_json_scan.h"
#include "cs_normalize.h"
#include "cs_time.h"
#include "fuzz_common.h"

#include <openssl/evp.h>

#define FZ_JOB_ID   "01FDQ0Y5R2K8ZQ3G4V6W7X8Y9Z"
#define FZ_NOW_MS   1629708325123ULL            /* 2021-08-23T08:45:25.123Z */

typedef struct fz_ingest_s  fz_ingest_t;

typedef struct {
    cs_webhook_t       kind;
    cs_ingest_conf_t   conf;
    uint64_t           now_ms;

    /* 400 "data": its one allowed key (NULL: no "data" at all, or an
       empty one), and where the value comes from in the input: the
       string under key id_key in an object that is itself under
       id_parent (NULL: the top level). */
    const char        *data_key;
    const char        *id_key;
    const char        *id_parent;
    int                data_required;   /* "data" present even if empty */

    /* 1: "raw" in the job iff keep_raw; 0: never; -1: not checked */
    int                raw;

    /* kind-specific checks of a 2xx; input is the parsed body */
    void             (*check_ok)(const fz_ingest_t *fz, json_t *input,
                                 json_t *body, json_t *job);
} fz_ingest_spec_t;

struct fz_ingest_s {
    const fz_ingest_spec_t  *spec;
    const unsigned char     *in;
    size_t                   in_len;
    cs_ingest_t             *out;
};


/* ---- input strings: leaks, allowed ids ------------------------------- */

typedef struct {
    const char  *text;            /* the message or notes under test */
    size_t       text_len;
    const char  *what;
} fz_leak_ctx_t;


static void
fz_leak_cb(void *ctx, const char *parent_key, const char *key,
    const char *s, size_t n, int is_key)
{
    fz_leak_ctx_t  *lc = ctx;

    (void) parent_key;
    (void) key;
    (void) is_key;

    if (n < 6 || fz_memmem(lc->text, lc->text_len, s, n) == NULL) {
        return;
    }

    FZ_CHECK(fz_vocab_piece(s, n),
             "%s quotes input string \"%s\": %s", lc->what, fz_show(s, n),
             fz_show(lc->text, lc->text_len));
}


static void
fz_no_leak(json_t *input, const char *what, const char *text, size_t n)
{
    size_t          bad_n;
    const char     *bad;
    fz_leak_ctx_t   lc = { text, n, what };

    if (input) {
        fz_json_strings(input, NULL, NULL, fz_leak_cb, &lc);
    }

    bad = fz_vocab_text(text, n, &bad_n);

    FZ_CHECK(bad == NULL, "%s has a word that is not a literal of the core: "
             "\"%s\" in %s", what, fz_show(bad, bad_n), fz_show(text, n));
}


typedef struct {
    const char  *parent;          /* NULL: top level */
    const char  *key;
    const char  *want;
    size_t       want_len;
    int          found;
    int          top;             /* this call is for the top object */
} fz_find_ctx_t;


static void
fz_find_cb(void *ctx, const char *parent_key, const char *key,
    const char *s, size_t n, int is_key)
{
    fz_find_ctx_t  *fc = ctx;

    if (is_key || key == NULL || strcmp(key, fc->key) != 0) {
        return;
    }

    if (fc->parent ? (parent_key == NULL || strcmp(parent_key, fc->parent))
                   : parent_key != NULL)
    {
        return;
    }

    if (n == fc->want_len && memcmp(s, fc->want, n) == 0) {
        fc->found = 1;
    }
}


/*
 * Is `want` the string value under `key` (in an object under `parent`, or
 * at the top when parent is NULL) somewhere in the input?  Array elements
 * count as under the array's key, which is what "patient" etc. need.
 */
static FZ_UNUSED int
fz_input_has(json_t *input, const char *parent, const char *key,
    const char *want, size_t want_len)
{
    fz_find_ctx_t  fc = { parent, key, want, want_len, 0, 0 };

    if (input == NULL) {
        return 0;
    }

    if (parent == NULL) {
        json_t  *v = json_object_get(input, key);

        return json_is_string(v) && json_string_length(v) == want_len
               && memcmp(json_string_value(v), want, want_len) == 0;
    }

    fz_json_strings(input, NULL, NULL, fz_find_cb, &fc);

    return fc.found;
}


/* ---- the checks -------------------------------------------------------- */

static FZ_UNUSED json_t *
fz_parse(const cs_buf_t *b, json_error_t *err)
{
    return json_loadb(b->data ? b->data : "", b->len,
                      JSON_REJECT_DUPLICATES, err);
}


static json_t *
fz_parse_answer(const char *what, const cs_buf_t *b)
{
    json_t        *v;
    json_error_t   err;

    FZ_CHECK(!b->oom, "%s: oom flag set", what);

    v = fz_parse(b, &err);

    FZ_CHECK(v != NULL, "%s is not valid JSON (%s at %d): %s", what,
             err.text, err.position, fz_show(b->data, b->len));
    FZ_CHECK(json_is_object(v), "%s is not an object: %s", what,
             fz_show(b->data, b->len));

    return v;
}


/*
 * The bytes are jansson's own compact rendering of what they parse to,
 * but for the hex digits of a \u escape: the core writes them in lower
 * case, jansson in upper case, and both are the same JSON.
 */
static void
fz_is_compact(const char *what, json_t *v, const cs_buf_t *b)
{
    char    *d, *got;
    size_t   i, k;

    d = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);

    got = malloc(b->len + 1);
    FZ_CHECK(got != NULL, "%s", "out of memory");
    if (b->len) {
        memcpy(got, b->data, b->len);
    }

    for (i = 0; i + 5 < b->len; i++) {
        if (got[i] == '\\' && got[i + 1] == '\\') {
            i++;                        /* an escaped backslash */
            continue;
        }

        if (got[i] == '\\' && got[i + 1] == 'u') {
            for (k = i + 2; k < i + 6; k++) {
                if (got[k] >= 'a' && got[k] <= 'f') {
                    got[k] = (char) (got[k] - 'a' + 'A');
                }
            }
            i += 5;
        }
    }

    FZ_CHECK(d && strlen(d) == b->len && memcmp(d, got, b->len) == 0,
             "%s is not compact canonical JSON:\n    got  %s\n    want %s",
             what, fz_show(b->data, b->len), d ? d : "(null)");

    free(got);
    free(d);
}


static void
fz_check_400(const fz_ingest_t *fz, json_t *input, json_t *body)
{
    size_t                   n, pn;
    json_t                  *data, *v;
    const char              *msg, *key, *pid;
    const cs_ingest_t       *out = fz->out;
    const fz_ingest_spec_t  *spec = fz->spec;

    FZ_CHECK(out->reason && *out->reason, "400 without a reason");
    FZ_CHECK(!out->enqueue, "400 with enqueue set");
    FZ_CHECK(out->job.len == 0, "400 with a job: %s",
             fz_show(out->job.data, out->job.len));
    FZ_CHECK(out->idem_key[0] == '\0', "400 with an idem_key");

    msg = fz_json_str(body, "errorMessage", &n);
    FZ_CHECK(msg && n > 0, "400 without an errorMessage");

    fz_no_leak(input, "errorMessage", msg, n);
    fz_no_leak(input, "reason", out->reason, strlen(out->reason));

    json_object_foreach(body, key, v) {
        FZ_CHECK(strcmp(key, "errorMessage") == 0
                 || strcmp(key, "data") == 0,
                 "400 body has a key \"%s\"", key);
    }

    data = json_object_get(body, "data");

    if (spec->data_key == NULL) {
        FZ_CHECK(data == NULL || (json_is_object(data)
                                  && json_object_size(data) == 0),
                 "400 body with data: %s",
                 fz_show(out->body.data, out->body.len));
        return;
    }

    FZ_CHECK(data != NULL || !spec->data_required, "400 body without data");

    if (data == NULL) {
        return;
    }

    FZ_CHECK(json_is_object(data), "400 data is not an object");

    json_object_foreach(data, key, v) {
        FZ_CHECK(strcmp(key, spec->data_key) == 0,
                 "400 data has a key \"%s\"", key);

        pid = json_is_string(v) ? json_string_value(v) : NULL;
        pn = json_is_string(v) ? json_string_length(v) : 0;

        FZ_CHECK(pid && pn, "400 data.%s is not a non-empty string", key);
        FZ_CHECK(fz_input_has(input, spec->id_parent, spec->id_key, pid, pn),
                 "400 data.%s \"%s\" is not the input's %s.%s", key,
                 fz_show(pid, pn), spec->id_parent ? spec->id_parent : "",
                 spec->id_key);
    }
}


static void
fz_check_job(const fz_ingest_t *fz, json_t *input, json_t *job)
{
    size_t                   n, max_raw;
    json_t                  *raw, *omitted, *v;
    cs_buf_t                 compact;
    const char              *s;
    char                     at[CS_TIME_ISO_LEN + 1];
    const cs_ingest_t       *out = fz->out;
    const fz_ingest_spec_t  *spec = fz->spec;

    v = json_object_get(job, "v");
    FZ_CHECK(json_is_integer(v) && json_integer_value(v) == 1,
             "job.v is not 1");

    s = fz_json_str(job, "id", &n);
    FZ_CHECK(s && n == strlen(out->job_id) && memcmp(s, out->job_id, n) == 0,
             "job.id is not the job id");

    s = fz_json_str(job, "type", &n);
    FZ_CHECK(s && out->job_type && strcmp(s, out->job_type) == 0,
             "job.type \"%s\" is not job_type \"%s\"", s ? s : "(none)",
             out->job_type ? out->job_type : "(null)");

    cs_time_format_iso(cs_time_ms_valid((int64_t) out->now_ms)
                       ? (int64_t) out->now_ms : 0, at);
    s = fz_json_str(job, "received_at", &n);
    FZ_CHECK(s && strcmp(s, at) == 0, "job.received_at \"%s\", want %s",
             s ? s : "(none)", at);

    FZ_CHECK(strlen(out->idem_key) == 64 && fz_hex(out->idem_key, 64),
             "idem_key \"%s\" is not 64 lower-case hex", out->idem_key);
    s = fz_json_str(job, "idempotency_key", &n);
    FZ_CHECK(s && strcmp(s, out->idem_key) == 0,
             "job.idempotency_key is not idem_key");

    raw = json_object_get(job, "raw");
    omitted = json_object_get(job, "raw_omitted");

    cs_buf_init(&compact);
    FZ_CHECK(cs_json_scan(fz->in, fz->in_len, 1u << 30, SIZE_MAX, NULL,
                          &compact) == CS_SCAN_OK,
             "a queued body does not scan");
    max_raw = spec->conf.max_raw ? spec->conf.max_raw : 65536;

    if (spec->raw == 1 && spec->conf.keep_raw && compact.len <= max_raw) {
        FZ_CHECK(raw != NULL, "keep_raw, but no job.raw");
        FZ_CHECK(json_equal(raw, input), "job.raw is not the input");
        FZ_CHECK(omitted == NULL && out->raw_omitted == 0,
                 "job.raw and raw_omitted");

    } else if (spec->raw == 1 && spec->conf.keep_raw) {
        FZ_CHECK(raw == NULL, "job.raw of %zu bytes, max_raw %zu",
                 compact.len, max_raw);
        FZ_CHECK(json_is_string(omitted)
                 && strcmp(json_string_value(omitted), "too_large") == 0,
                 "no raw_omitted \"too_large\" for %zu bytes, max_raw %zu",
                 compact.len, max_raw);
        FZ_CHECK(out->raw_omitted == compact.len, "raw_omitted %zu, the "
                 "copy is %zu bytes", out->raw_omitted, compact.len);

    } else if (spec->raw >= 0) {
        FZ_CHECK(raw == NULL, "job.raw without keep_raw");
        FZ_CHECK(omitted == NULL && out->raw_omitted == 0,
                 "raw_omitted without keep_raw");
    }

    cs_buf_free(&compact);

    if (raw == NULL) {
        fz_is_compact("job", job, &out->job);
    }
}


static int
fz_buf_eq(const cs_buf_t *a, const cs_buf_t *b)
{
    return a->len == b->len
           && (a->len == 0 || memcmp(a->data, b->data, a->len) == 0);
}


static void
fz_same(const char *what, const cs_ingest_t *a, const cs_ingest_t *b)
{
    FZ_CHECK(a->status == b->status, "%s: status %d vs %d", what, a->status,
             b->status);
    FZ_CHECK(a->enqueue == b->enqueue, "%s: enqueue differs", what);
    FZ_CHECK((a->reason == NULL) == (b->reason == NULL)
             && (a->reason == NULL || strcmp(a->reason, b->reason) == 0),
             "%s: reason %s vs %s", what, a->reason ? a->reason : "-",
             b->reason ? b->reason : "-");
    FZ_CHECK((a->job_type == NULL) == (b->job_type == NULL)
             && (a->job_type == NULL || strcmp(a->job_type, b->job_type) == 0),
             "%s: job_type differs", what);
    FZ_CHECK(strcmp(a->idem_key, b->idem_key) == 0, "%s: idem_key differs",
             what);
    FZ_CHECK(fz_buf_eq(&a->body, &b->body), "%s: body differs:\n    %s",
             what, fz_show(a->body.data, a->body.len));
    FZ_CHECK(fz_buf_eq(&a->job, &b->job), "%s: job differs", what);
    FZ_CHECK(fz_buf_eq(&a->notes, &b->notes), "%s: notes differ", what);
}


static int
fz_body_reason(const char *r)
{
    static const char  *const rs[] = {
        "bad_json", "bad_utf8", "nul", "duplicate_key", "too_deep",
        "too_many_values", NULL
    };
    size_t  i;

    for (i = 0; r && rs[i]; i++) {
        if (strcmp(r, rs[i]) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
fz_ingest_call(const fz_ingest_spec_t *spec, const unsigned char *p,
    size_t n, cs_ingest_t *out)
{
    int  rc;

    out->now_ms = spec->now_ms;
    memcpy(out->job_id, FZ_JOB_ID, sizeof(FZ_JOB_ID));

    rc = cs_ingest(spec->kind, &spec->conf, p, n, out);

    FZ_CHECK(rc == CS_OK, "cs_ingest returned %d", rc);
}


static FZ_UNUSED void
fz_ingest_run(const fz_ingest_spec_t *spec, const unsigned char *p, size_t n)
{
    size_t        depth, limit, values, vlimit;
    json_t       *input, *body, *job;
    cs_buf_t      compact;
    cs_ingest_t   out, again;
    fz_ingest_t   fz;
    json_error_t  err;

    fz_vocab_init();

    cs_ingest_init(&out);
    fz_ingest_call(spec, p, n, &out);

    fz.spec = spec;
    fz.in = p;
    fz.in_len = n;
    fz.out = &out;

    FZ_CHECK(out.status == 200 || out.status == 202 || out.status == 400,
             "status %d", out.status);

    /* FZ_VERBOSE=1 $(BUILD)/fuzz/<h> -runs=0 corpus/<h>: what was reached */
    {
        static int  verbose = -1;

        if (verbose < 0) {
            verbose = getenv("FZ_VERBOSE") != NULL;
        }

        if (verbose) {
            fprintf(stderr, "FZ %d %s %s enqueue=%d\n", out.status,
                    out.reason ? out.reason : "-",
                    out.job_type ? out.job_type : "-", out.enqueue);
        }
    }

    body = fz_parse_answer("body", &out.body);
    fz_is_compact("body", body, &out.body);

    /* the input as jansson sees it, with the depth limit lifted */
    input = json_loadb((const char *) p, n,
                       JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &err);
    depth = input ? fz_json_depth(input) : 0;
    limit = spec->conf.max_depth ? spec->conf.max_depth : 32;
    values = input ? fz_json_count(input) : 0;
    vlimit = spec->conf.max_values ? spec->conf.max_values : 10000;

    if (memchr(p, 0, n) != NULL) {
        /* jansson would stop at a raw NUL; the pre-scan never lets one in */
        FZ_CHECK(out.status == 400 && out.reason
                 && (strcmp(out.reason, "nul") == 0
                     || strcmp(out.reason, "too_deep") == 0
                     || strcmp(out.reason, "too_many_values") == 0),
                 "a raw NUL byte answered %d reason %s", out.status,
                 out.reason ? out.reason : "-");

    } else if (input == NULL) {
        FZ_CHECK(out.status == 400 && fz_body_reason(out.reason),
                 "jansson rejects the input (%s), yet status %d reason %s",
                 err.text, out.status, out.reason ? out.reason : "-");

    } else if (depth <= limit && values <= vlimit) {
        FZ_CHECK(!fz_body_reason(out.reason),
                 "jansson accepts the input (depth %zu <= %zu, %zu values "
                 "<= %zu), yet reason %s", depth, limit, values, vlimit,
                 out.reason);

        if (!json_is_object(input)) {
            FZ_CHECK(out.reason && strcmp(out.reason, "not_object") == 0,
                     "a non-object input is not a not_object 400");
        }

    } else {
        FZ_CHECK(out.status == 400, "depth %zu (limit %zu), %zu values "
                 "(limit %zu) answered %d", depth, limit, values, vlimit,
                 out.status);
    }

    fz_no_leak(input, "notes", out.notes.data ? out.notes.data : "",
               out.notes.len);

    if (out.status == 400) {
        fz_check_400(&fz, input, body);

    } else {
        FZ_CHECK(input && json_is_object(input), "2xx for a non-object");
        FZ_CHECK(out.reason == NULL, "2xx with reason %s", out.reason);
        FZ_CHECK(out.job_type && *out.job_type, "2xx without a job_type");

        job = NULL;

        if (out.enqueue) {
            job = fz_parse_answer("job", &out.job);
            fz_check_job(&fz, input, job);

        } else {
            FZ_CHECK(out.job.len == 0, "a job that is not to be queued");
        }

        if (spec->check_ok) {
            spec->check_ok(&fz, input, body, job);
        }

        json_decref(job);
    }

    /*
     * The same call again, on buffers already used: right after itself,
     * and after another body (a prefix of this one, usually answered
     * otherwise), so that nothing of an earlier answer survives.
     */
    again = out;
    cs_ingest_init(&out);
    fz.out = &again;
    fz_ingest_call(spec, p, n, &again);
    fz_ingest_call(spec, p, n, &out);
    fz_same("reused cs_ingest_t", &out, &again);
    fz_ingest_call(spec, p, n / 2, &again);
    fz_ingest_call(spec, p, n, &again);
    fz_same("cs_ingest_t reused after another body", &out, &again);

    /* the compact copy gives the same answer and job */
    cs_buf_init(&compact);

    if (cs_json_scan(p, n, 1u << 30, SIZE_MAX, NULL, &compact)
        == CS_SCAN_OK)
    {
        fz_ingest_call(spec, (const unsigned char *) compact.data,
                       compact.len, &again);
        fz_same("compact copy of the input", &out, &again);
    }

    cs_buf_free(&compact);
    cs_ingest_free(&out);
    cs_ingest_free(&again);
    json_decref(body);
    json_decref(input);
}

/* ---- shared by the harnesses whose jobs carry a patient --------------- */

/* "+" and 8-15 digits. */
static FZ_UNUSED int
fz_e164(const char *s)
{
    size_t  n = s ? strlen(s) : 0;

    return n >= 9 && n <= 16 && s[0] == '+' && fz_digits(s + 1, n - 1);
}


static FZ_UNUSED void
fz_check_date_member(json_t *o, const char *key, int iso)
{
    size_t       n;
    int64_t      ms;
    const char  *s;

    if (o == NULL || json_object_get(o, key) == NULL) {
        return;
    }

    s = fz_json_str(o, key, &n);

    FZ_CHECK(s, "job: %s is not a string", key);

    if (iso) {
        FZ_CHECK(n == CS_TIME_ISO_LEN && cs_time_parse_utc(s, n, &ms) == 0,
                 "job: %s \"%s\" is not YYYY-MM-DDThh:mm:ss.sssZ", key, s);
    } else {
        FZ_CHECK(n == CS_TIME_DATE_LEN
                 && cs_time_parse_date(s, n, &ms, NULL) == 0,
                 "job: %s \"%s\" is not YYYY-MM-DD", key, s);
    }
}


static FZ_UNUSED void
fz_check_patient(json_t *p)
{
    size_t       i, n;
    json_t      *el, *o;
    const char  *s;

    FZ_CHECK(json_is_object(p), "job.patient is not an object");

    json_array_foreach(json_object_get(p, "phones"), i, el) {
        s = fz_json_str(el, "number", NULL);
        FZ_CHECK(fz_e164(s), "job: phone \"%s\" is not E.164", s ? s : "-");
    }

    fz_check_date_member(p, "dob", 0);

    s = fz_json_str(p, "gender", NULL);
    FZ_CHECK(s == NULL || strcmp(s, "male") == 0 || strcmp(s, "female") == 0
             || strcmp(s, "other") == 0 || strcmp(s, "unknown") == 0,
             "job: gender \"%s\"", s);

    s = fz_json_str(p, "email", &n);
    FZ_CHECK(json_object_get(p, "email") == NULL
             || (s && n <= CS_EMAIL_MAX && memchr(s, '@', n)),
             "job: email is not an address");

    o = json_object_get(p, "address");
    if (o) {
        s = fz_json_str(o, "state", &n);
        FZ_CHECK(s == NULL || (n == 2 && s[0] >= 'A' && s[0] <= 'Z'
                               && s[1] >= 'A' && s[1] <= 'Z'),
                 "job: state \"%s\"", s);
        s = fz_json_str(o, "zip", &n);
        FZ_CHECK(s == NULL
                 || (n == 5 && fz_digits(s, 5))
                 || (n == 10 && fz_digits(s, 5) && s[5] == '-'
                     && fz_digits(s + 6, 4)),
                 "job: zip \"%s\"", s);
        s = fz_json_str(o, "country", &n);
        FZ_CHECK(s == NULL || (n == 2 && s[0] >= 'A' && s[0] <= 'Z'
                               && s[1] >= 'A' && s[1] <= 'Z'),
                 "job: country \"%s\"", s);
    }

    o = json_object_get(p, "caregiver");
    if (o) {
        s = fz_json_str(o, "phone", NULL);
        FZ_CHECK(s == NULL || fz_e164(s), "job: caregiver phone \"%s\"", s);
    }

    o = json_object_get(p, "insurance");
    if (o) {
        fz_check_date_member(json_object_get(o, "primary"), "card_dob", 0);
        fz_check_date_member(json_object_get(o, "secondary"), "card_dob", 0);
    }

    json_array_foreach(json_object_get(p, "consents"), i, el) {
        fz_check_date_member(el, "at", 1);
    }

    fz_check_date_member(json_object_get(p, "signature"), "at", 1);

    /* names: collapsed, so no leading/trailing/double blanks */
    static const char *const  names[] = {
        "first_name", "middle_name", "last_name", NULL
    };

    for (i = 0; names[i]; i++) {
        s = fz_json_str(p, names[i], &n);
        if (s) {
            FZ_CHECK(n > 0 && s[0] != ' ' && s[n - 1] != ' '
                     && fz_memmem(s, n, "  ", 2) == NULL,
                     "job: %s \"%s\" is not collapsed", names[i],
                     fz_show(s, n));
        }
    }
}



/* Hex SHA-256 of the concatenated pieces (NULL-terminated list). */
static FZ_UNUSED void
fz_sha256_hex(char out[65], const char *const *parts, const size_t *lens)
{
    size_t         i;
    unsigned int   n;
    unsigned char  md[32];
    EVP_MD_CTX    *ctx;

    ctx = EVP_MD_CTX_new();
    FZ_CHECK(ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), "EVP");

    for (i = 0; parts[i]; i++) {
        EVP_DigestUpdate(ctx, parts[i], lens[i]);
    }

    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);

    for (i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

#endif /* CS_FUZZ_INGEST_COMMON_H */
