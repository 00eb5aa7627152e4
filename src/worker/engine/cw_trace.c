/*
 * caresync-worker: traces, the job's timeline, OTLP export.
 */

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_id.h"
#include "cs_time.h"
#include "cs_trace.h"
#include "engine/cw_log.h"
#include "engine/cw_metrics.h"
#include "engine/cw_trace.h"
#include "engine/cw_util.h"

/* spans go out at least this often while some are buffered */
#define CW_OTLP_EVERY_MS  1000
#define CW_OTLP_BATCH     256       /* spans per POST at most */

typedef struct {
    char           method[8];
    char           where[CW_TRACE_WHERE];
    char           vendor[24];
    long           status;          /* 0: no answer */
    uint64_t       at_ms;           /* wall clock */
    uint64_t       ms;
    unsigned char  span_id[8];
} cw_trace_call_t;

struct cw_trace_s {
    int              refs;
    cs_trace_t       tc;            /* trace id, the edge's span, flags */
    int              has_parent;    /* tc.span_id is the edge's */
    unsigned char    span_id[8];    /* this attempt's */
    char             trace_hex[CS_TRACE_ID_HEX + 1];
    char             job_id[130];
    char             type[48];
    uint64_t         start_ms;      /* wall clock */
    int              ncalls;
    int              dropped;
    cw_trace_call_t  calls[CW_TRACE_CALLS];
};

static cw_trace_t  *cw_trace_cur;

static struct {
    cw_http_t         *http;
    const cw_conf_t   *conf;
    cw_target_t        target;
    cs_buf_t           spans;       /* span objects, comma-separated */
    long               nspans;
    long               in_flight;   /* spans of the POST out, 0: none */
    uint64_t           last_ms;
    uint64_t           failed_logged;
} cw_otlp;


/* ---- the trace and the current one ---- */

/*
 * A job queued without a trace (a batch item, an operator's command): its
 * trace id is derived from its id, so that every attempt of it, in any
 * worker, is in the same trace.
 */
static int
cw_trace_of_job(const char *job_id, cs_trace_t *tc)
{
    char      hex[CS_ID_SHA256_LEN + 1], tp[CS_TRACE_LEN + 1];
    cs_str_t  parts[2];

    parts[0].data = "caresync trace\n";
    parts[0].len = sizeof("caresync trace\n") - 1;
    parts[1].data = job_id;
    parts[1].len = strlen(job_id);

    if (cs_id_sha256_hex(parts, 2, hex) != 0) {
        return -1;
    }

    /* the digest's first half as a trace id; the span is the caller's */
    snprintf(tp, sizeof(tp), "00-%.32s-0000000000000001-01", hex);

    if (cs_trace_parse((const unsigned char *) tp, CS_TRACE_LEN, tc) != 0) {
        return cs_trace_start(tc);      /* an all-zero half: 2^-128 */
    }

    return 0;
}


cw_trace_t *
cw_trace_new(const char *traceparent, const char *job_id, const char *type)
{
    cw_trace_t  *t;

    /* calls[] is written before ncalls counts it: only the head is zeroed */
    t = cw_malloc(sizeof(*t));
    memset(t, 0, offsetof(cw_trace_t, calls));
    t->refs = 1;

    if (traceparent
        && cs_trace_parse((const unsigned char *) traceparent,
                          strlen(traceparent), &t->tc) == 0)
    {
        t->has_parent = 1;

    } else if (cw_trace_of_job(job_id, &t->tc) != 0) {
        free(t);
        return NULL;
    }

    if (cs_id_random(t->span_id, sizeof(t->span_id)) != 0) {
        free(t);
        return NULL;
    }
    t->span_id[0] |= 0x01;          /* never all zeros */

    cs_trace_id_hex(&t->tc, t->trace_hex);
    snprintf(t->job_id, sizeof(t->job_id), "%s", job_id);
    snprintf(t->type, sizeof(t->type), "%s", type ? type : "unknown");
    t->start_ms = cw_now_ms();

    return t;
}


void
cw_trace_drop(cw_trace_t *t)
{
    if (t && --t->refs == 0) {
        if (cw_trace_cur == t) {
            /* cannot happen: the current one is held */
            cw_trace_cur = NULL;
            cw_log_trace(NULL);
        }
        free(t);
    }
}


const char *
cw_trace_id(const cw_trace_t *t)
{
    return t ? t->trace_hex : NULL;
}


cw_trace_t *
cw_trace_enter(cw_trace_t *t)
{
    cw_trace_t  *prev = cw_trace_cur;

    if (t) {
        t->refs++;
    }

    cw_trace_cur = t;
    cw_log_trace(t ? t->trace_hex : NULL);
    return prev;
}


void
cw_trace_leave(cw_trace_t *prev)
{
    cw_trace_t  *t = cw_trace_cur;

    cw_trace_cur = prev;
    cw_log_trace(prev ? prev->trace_hex : NULL);
    cw_trace_drop(t);
}


/* ---- the HTTP layer's observer ---- */

static void *
cw_obs_take(void)
{
    if (cw_trace_cur) {
        cw_trace_cur->refs++;
    }

    return cw_trace_cur;
}


static void
cw_obs_drop(void *ctx)
{
    cw_trace_drop(ctx);
}


static void *
cw_obs_enter(void *ctx)
{
    return cw_trace_enter(ctx);
}


static void
cw_obs_leave(void *prev)
{
    cw_trace_leave(prev);
}


static void
cw_obs_launch(cw_http_req_t *r, char *line, size_t n)
{
    char         tp[CS_TRACE_LEN + 1];
    cs_trace_t   c;
    cw_trace_t  *t = r->ctx;

    if (t == NULL) {
        return;
    }

    /* a span of its own for each try: the attempt's child */
    c = t->tc;
    if (cs_trace_child(&c) != 0) {
        return;
    }

    memcpy(r->span_id, c.span_id, sizeof(r->span_id));
    cs_trace_format(&c, tp);
    snprintf(line, n, "traceparent: %s", tp);
}


/* Host and path, each segment that could be an id replaced: see .h */
static int
cw_trace_word(const char *s, size_t n)
{
    size_t  i;

    if (n == 0 || n > 40) {
        return 0;
    }

    /* an API version: v1, v60.0 */
    if (s[0] == 'v' && n > 1) {
        for (i = 1; i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '.');
             i++)
        {
            /* digits and dots */
        }
        if (i == n) {
            return 1;
        }
    }

    /* a word, maybe with one digit at its end (oauth2); ids have more */
    for (i = 0; i < n; i++) {
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
              || s[i] == '_' || s[i] == '-' || s[i] == '.'
              || (i == n - 1 && i > 0 && s[i] >= '0' && s[i] <= '9')))
        {
            return 0;
        }
    }

    return 1;
}


void
cw_trace_where(const char *base, const char *url, char *out, size_t n)
{
    size_t       k;
    const char  *p, *at, *end;
    cs_buf_t     full, b;

    cs_buf_init(&full);
    cs_buf_init(&b);

    /* the URL as sent: "/path" goes on the base (cw_http_launch) */
    url = url ? url : "";
    if (url[0] == '/' && base) {
        cs_buf_puts(&full, base);
        if (full.len && full.data[full.len - 1] == '/') {
            full.len--;
        }
    }
    cs_buf_puts(&full, url);
    cs_buf_putc(&full, '\0');

    p = full.data ? full.data : "";
    at = strstr(p, "://");
    p = at ? at + 3 : p;

    /* the host, never userinfo */
    k = strcspn(p, "/?#");
    at = memchr(p, '@', k);
    if (at) {
        k -= (size_t) (at + 1 - p);
        p = at + 1;
    }
    cs_buf_put(&b, p, k);
    p += k;

    /* the path, segment by segment; the query and fragment are cut */
    end = p + strcspn(p, "?#");

    while (p < end) {
        p++;                        /* the '/' */
        k = strcspn(p, "/?#");
        if (p + k > end) {
            k = (size_t) (end - p);
        }
        cs_buf_putc(&b, '/');
        if (cw_trace_word(p, k)) {
            cs_buf_put(&b, p, k);
        } else if (k) {
            cs_buf_puts(&b, "{id}");
        }
        p += k;
    }

    snprintf(out, n, "%.*s", (int) b.len, b.data ? b.data : "");
    cs_buf_free(&b);
    cs_buf_free(&full);
}


static void
cw_obs_end(cw_http_req_t *r)
{
    uint64_t          ms;
    const char       *base;
    cw_trace_t       *t = r->ctx;
    cw_trace_call_t  *c;

    if (r->target == &cw_otlp.target) {
        return;                     /* the exporter is not a vendor */
    }

    ms = cw_mono_ms() - r->sent_ms;
    cw_metrics_call(r->target->name, r->status, ms, r->retry_after_ms);

    if (t == NULL) {
        return;
    }

    if (t->ncalls == CW_TRACE_CALLS) {
        t->dropped++;
        return;
    }

    c = &t->calls[t->ncalls++];
    snprintf(c->method, sizeof(c->method), "%s", r->method);
    snprintf(c->vendor, sizeof(c->vendor), "%s", r->target->name);
    base = (r->auth && r->auth->base_url) ? r->auth->base_url
                                          : r->target->base_url;
    cw_trace_where(base, r->url, c->where, sizeof(c->where));
    c->status = r->status;
    c->ms = ms;
    c->at_ms = cw_now_ms() - ms;
    memcpy(c->span_id, r->span_id, sizeof(c->span_id));
}


static void
cw_obs_auth(cw_auth_t *a, int ok)
{
    cw_metrics_oauth(a->name, ok);
}


/* the job a request is for: its audit entry names it */
static const char *
cw_obs_job(void *ctx)
{
    cw_trace_t  *t = ctx;

    return t && t->job_id[0] ? t->job_id : NULL;
}


static const cw_http_observer_t  cw_trace_observer = {
    cw_obs_take, cw_obs_drop, cw_obs_enter, cw_obs_leave, cw_obs_launch,
    cw_obs_end, cw_obs_auth, cw_obs_job
};


void
cw_trace_install(cw_http_t *http, const cw_conf_t *conf)
{
    cw_http_observe(http, &cw_trace_observer);

    cw_otlp.http = http;
    cw_otlp.conf = conf;
    cs_buf_init(&cw_otlp.spans);

    if (conf->tracing.otlp_endpoint) {
        cw_target_init(&cw_otlp.target, "otlp", conf->tracing.otlp_endpoint,
                       1, 0);
    }
}


/* ---- the timeline ---- */

void
cw_trace_key(const char *prefix, const char *id, char *out, size_t n)
{
    snprintf(out, n, "%s:timeline:%s", prefix, id);
}


static void
cw_trace_iso(cs_buf_t *b, const char *key, uint64_t ms)
{
    char  at[CS_TIME_ISO_LEN + 1];

    cs_time_format_iso((int64_t) ms, at);
    cs_buf_putc(b, ',');
    cs_buf_json_key(b, key);
    cs_buf_json_str(b, at, CS_TIME_ISO_LEN);
}


static void cw_otlp_spans(cw_trace_t *t, const cw_trace_end_t *e,
    uint64_t end_ms);


void
cw_trace_end(cw_trace_t *t, cw_redis_t *r, const cw_conf_t *conf,
    const char *job_id, const cw_trace_end_t *e)
{
    int               i;
    char              key[300], ttl[24], max[24];
    uint64_t          now = cw_now_ms(), q;
    cs_buf_t          b;
    cw_trace_call_t  *c;

    if (t == NULL) {
        return;
    }

    cs_buf_init(&b);
    cw_buf_printf(&b, "{\"attempt\":%ld", e->attempt);

    /* a stream id is "<ms>-<seq>": when this attempt was queued */
    q = e->stream_id ? strtoull(e->stream_id, NULL, 10) : 0;
    if (q) {
        cw_trace_iso(&b, "queued_at", q);
    }
    if (e->received_at && strlen(e->received_at) == CS_TIME_ISO_LEN) {
        cs_buf_puts(&b, ",\"received_at\":");
        cs_buf_json_str(&b, e->received_at, CS_TIME_ISO_LEN);
    }
    cw_trace_iso(&b, "started_at", t->start_ms);
    cw_trace_iso(&b, "ended_at", now);
    cs_buf_puts(&b, ",\"status\":");
    cs_buf_json_str(&b, e->status, strlen(e->status));
    if (e->err) {
        cs_buf_puts(&b, ",\"error\":");
        cs_buf_json_str(&b, cw_err_name(e->err), strlen(cw_err_name(e->err)));
        if (e->err->http_status) {
            cw_buf_printf(&b, ",\"http_status\":%ld", e->err->http_status);
        }
    }
    cw_buf_printf(&b, ",\"trace_id\":\"%s\",\"calls\":[", t->trace_hex);

    for (i = 0; i < t->ncalls; i++) {
        c = &t->calls[i];
        cs_buf_puts(&b, i ? ",{" : "{");
        cs_buf_json_key(&b, "method");
        cs_buf_json_str(&b, c->method, strlen(c->method));
        cs_buf_puts(&b, ",\"url\":");
        cs_buf_json_str(&b, c->where, strlen(c->where));
        cw_buf_printf(&b, ",\"status\":%ld,\"ms\":%llu", c->status,
                      (unsigned long long) c->ms);
        cw_trace_iso(&b, "at", c->at_ms);
        cs_buf_putc(&b, '}');
    }

    cw_buf_printf(&b, "],\"calls_dropped\":%d}", t->dropped);

    cw_trace_key(conf->redis.prefix, job_id, key, sizeof(key));
    snprintf(ttl, sizeof(ttl), "%ld", e->ttl_s > 0 ? e->ttl_s
                                                    : conf->worker.status_ttl_s);
    snprintf(max, sizeof(max), "%d", -CW_TRACE_ATTEMPTS);

    if (!b.oom) {
        const char  *argv[3] = { "RPUSH", key, b.data };
        size_t       lens[3] = { 5, strlen(key), b.len };

        cw_redis_appendv(r, 3, argv, lens);
        cw_redis_args(r, 4, "LTRIM", key, max, "-1");
        cw_redis_args(r, 3, "EXPIRE", key, ttl);
    }

    cs_buf_free(&b);

    if (cw_otlp.conf && cw_otlp.conf->tracing.otlp_endpoint) {
        cw_otlp_spans(t, e, now);
    }

    /* the next attempt (a park, in this process) starts afresh */
    t->ncalls = 0;
    t->dropped = 0;
}


/* ---- OTLP/HTTP, JSON encoding ---- */

static void
cw_otlp_attr(cs_buf_t *b, int first, const char *k, const char *v)
{
    cw_buf_printf(b, "%s{\"key\":\"%s\",\"value\":{\"stringValue\":",
                  first ? "" : ",", k);
    cs_buf_json_str(b, v, strlen(v));
    cs_buf_puts(b, "}}");
}


static void
cw_otlp_span(cs_buf_t *b, const cw_trace_t *t, const unsigned char *span,
    const unsigned char *parent, const char *name, int kind,
    uint64_t start_ms, uint64_t end_ms, int error)
{
    char  hex[33];

    if (b->len) {
        cs_buf_putc(b, ',');
    }

    cw_buf_printf(b, "{\"traceId\":\"%s\"", t->trace_hex);
    cs_id_hex(span, 8, hex);
    cw_buf_printf(b, ",\"spanId\":\"%s\"", hex);
    if (parent) {
        cs_id_hex(parent, 8, hex);
        cw_buf_printf(b, ",\"parentSpanId\":\"%s\"", hex);
    }
    cs_buf_puts(b, ",\"name\":");
    cs_buf_json_str(b, name, strlen(name));
    cw_buf_printf(b, ",\"kind\":%d,\"startTimeUnixNano\":\"%llu000000\","
                  "\"endTimeUnixNano\":\"%llu000000\",\"status\":{\"code\":"
                  "%d},\"attributes\":[", kind,
                  (unsigned long long) start_ms,
                  (unsigned long long) end_ms, error ? 2 : 1);
}


static void
cw_otlp_spans(cw_trace_t *t, const cw_trace_end_t *e, uint64_t end_ms)
{
    int               i, n = 1 + t->ncalls;
    char              name[160], num[24];
    cs_buf_t         *b = &cw_otlp.spans;
    cw_trace_call_t  *c;

    if (cw_otlp.nspans + n > cw_otlp.conf->tracing.otlp_max_spans) {
        cw_metrics_otlp("dropped", (uint64_t) n);
        return;
    }

    snprintf(name, sizeof(name), "%s attempt", t->type);
    cw_otlp_span(b, t, t->span_id, t->has_parent ? t->tc.span_id : NULL,
                 name, 5 /* CONSUMER */, t->start_ms, end_ms,
                 e->err != NULL);
    cw_otlp_attr(b, 1, "caresync.job.id", t->job_id);
    cw_otlp_attr(b, 0, "caresync.job.type", t->type);
    cw_otlp_attr(b, 0, "caresync.job.status", e->status);
    snprintf(num, sizeof(num), "%ld", e->attempt);
    cw_otlp_attr(b, 0, "caresync.job.attempt", num);
    cs_buf_puts(b, "]}");

    for (i = 0; i < t->ncalls; i++) {
        c = &t->calls[i];
        snprintf(name, sizeof(name), "%s %s", c->method, c->where);
        cw_otlp_span(b, t, c->span_id, t->span_id, name, 3 /* CLIENT */,
                     c->at_ms, c->at_ms + c->ms,
                     c->status == 0 || c->status >= 500);
        cw_otlp_attr(b, 1, "http.request.method", c->method);
        cw_otlp_attr(b, 0, "url.template", c->where);
        cw_otlp_attr(b, 0, "caresync.vendor", c->vendor);
        cw_buf_printf(b, ",{\"key\":\"http.response.status_code\","
                      "\"value\":{\"intValue\":\"%ld\"}}]}", c->status);
    }

    cw_otlp.nspans += n;
}


static void
cw_otlp_done(cw_http_req_t *r)
{
    uint64_t  now = cw_mono_ms();

    if (r->err.cls == CW_ERR_NONE) {
        cw_metrics_otlp("exported", (uint64_t) cw_otlp.in_flight);

    } else {
        cw_metrics_otlp("failed", (uint64_t) cw_otlp.in_flight);

        /* once a minute at most: the collector may be down for long */
        if (cw_otlp.failed_logged == 0
            || now - cw_otlp.failed_logged >= 60000)
        {
            cw_error("trace", "OTLP export failed, spans dropped "
                     "code=%s http_status=%ld", cw_err_name(&r->err),
                     r->err.http_status);
            cw_otlp.failed_logged = now;
        }
    }

    cw_otlp.in_flight = 0;
    cw_http_req_free(r);
}


void
cw_trace_tick(int final)
{
    void           *prev;
    cs_buf_t        body;
    uint64_t        now;
    cw_http_req_t  *r;

    if (cw_otlp.conf == NULL || cw_otlp.conf->tracing.otlp_endpoint == NULL
        || cw_otlp.nspans == 0 || cw_otlp.in_flight)
    {
        return;
    }

    now = cw_mono_ms();
    if (!final && cw_otlp.nspans < CW_OTLP_BATCH
        && now - cw_otlp.last_ms < CW_OTLP_EVERY_MS)
    {
        return;
    }

    cw_otlp.last_ms = now;

    cs_buf_init(&body);
    cs_buf_puts(&body, "{\"resourceSpans\":[{\"resource\":{\"attributes\":[");
    cw_otlp_attr(&body, 1, "service.name",
                 cw_otlp.conf->tracing.service_name);
    cs_buf_puts(&body, "]},\"scopeSpans\":[{\"scope\":{\"name\":"
                "\"caresync-worker\"},\"spans\":[");
    cs_buf_put(&body, cw_otlp.spans.data, cw_otlp.spans.len);
    cs_buf_puts(&body, "]}]}]}");

    /* the export belongs to no job: no trace of its own, no header */
    prev = cw_trace_enter(NULL);
    r = cw_http_req_new(cw_otlp.http, "POST", &cw_otlp.target, NULL,
                        cw_otlp_done, NULL);
    cw_trace_leave(prev);

    cw_http_req_url(r, cw_otlp.conf->tracing.otlp_endpoint);
    r->timeout_ms = cw_otlp.conf->tracing.otlp_timeout_ms;
    r->content_type = "application/json";
    cs_buf_put(&r->body, body.data, body.len);
    cs_buf_free(&body);

    cw_otlp.in_flight = cw_otlp.nspans;
    cw_otlp.nspans = 0;
    cs_buf_reset(&cw_otlp.spans);

    cw_http_send(r);
}


int
cw_trace_exporting(void)
{
    return cw_otlp.in_flight != 0 || cw_otlp.nspans != 0;
}
