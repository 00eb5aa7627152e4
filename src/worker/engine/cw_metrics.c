/*
 * caresync-worker: Prometheus metrics and their tiny responder.
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "engine/cw_jobs.h"
#include "engine/cw_log.h"
#include "engine/cw_metrics.h"
#include "engine/cw_redis.h"
#include "engine/cw_util.h"

#define CW_M_TYPES     24
#define CW_M_VENDORS   8
#define CW_M_NAME      40
#define CW_M_TIMEOUT   2000         /* ms a connection may take */
#define CW_M_GAUGE_MS  1000         /* Redis is read at most this often */

/* spec/job.md's final statuses; anything else counts as "other" */
static const char  *cw_m_statuses[] = {
    "matched", "no_match", "created", "updated", "linked", "unlinked",
    "skipped", "failed", "other"
};
#define CW_M_STATUSES  (sizeof(cw_m_statuses) / sizeof(cw_m_statuses[0]))

static const char  *cw_m_classes[] = { "2xx", "3xx", "4xx", "5xx", "error" };
#define CW_M_CLASSES   5

static const double  cw_m_job_le[] = {
    0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120
};
static const double  cw_m_call_le[] = {
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30
};
#define CW_M_LE  11

typedef struct {
    uint64_t  bucket[CW_M_LE];
    uint64_t  count;
    double    sum;
} cw_m_hist_t;

typedef struct {
    char         name[CW_M_NAME];
    uint64_t     jobs[CW_M_STATUSES];
    uint64_t     attempts, retries, dead;
    cw_m_hist_t  duration;
} cw_m_type_t;

typedef struct {
    char         name[CW_M_NAME];
    uint64_t     calls[CW_M_CLASSES];
    uint64_t     throttled, retry_after;
    double       retry_after_s;
    uint64_t     oauth_ok, oauth_failed;
    cw_m_hist_t  duration;
} cw_m_vendor_t;

typedef struct {
    int          fd;
    size_t       len;               /* request bytes read */
    char         req[CW_METRICS_REQ_MAX];
    cs_buf_t     out;
    size_t       off;               /* answer bytes written */
    uint64_t     deadline;
} cw_m_conn_t;

static struct {
    cw_m_type_t    types[CW_M_TYPES];
    int            ntypes;
    cw_m_vendor_t  vendors[CW_M_VENDORS];
    int            nvendors;
    uint64_t       batch_items[CW_M_STATUSES];
    uint64_t       otlp_exported, otlp_dropped, otlp_failed;

    /* read from Redis when scraped */
    uint64_t       gauges_at;
    int            redis_up;
    long long      lag, pending, retry, dead_len;

    int            lfd;
    cw_m_conn_t    conns[CW_METRICS_CONNS];
    uint64_t       scrapes, refused;
} cw_m = { .lfd = -1 };


/* ---- the registry ---- */

static int
cw_m_status(const char *status)
{
    size_t  i;

    for (i = 0; status && i < CW_M_STATUSES - 1; i++) {
        if (strcmp(status, cw_m_statuses[i]) == 0) {
            return (int) i;
        }
    }

    return (int) CW_M_STATUSES - 1;
}


/*
 * The entry of `name` in a table whose entries begin with their name
 * (cw_m_type_t, cw_m_vendor_t), added when new; a full table gives its
 * last entry (more names than slots cannot happen: the sets are ours).
 */
static void *
cw_m_intern(void *table, size_t size, int *n, int cap, const char *name)
{
    int    i;
    char  *e = table;

    for (i = 0; i < *n; i++, e += size) {
        if (strcmp(e, name) == 0) {
            return e;
        }
    }

    if (*n == cap) {
        return e - size;
    }

    snprintf(e, CW_M_NAME, "%s", name);
    (*n)++;
    return e;
}


/* A type a handler is registered for, else "unknown": never a sender's */
static cw_m_type_t *
cw_m_type(const char *type)
{
    if (type == NULL || cw_jobs_find(type) == NULL) {
        type = "unknown";
    }

    return cw_m_intern(cw_m.types, sizeof(cw_m_type_t), &cw_m.ntypes,
                       CW_M_TYPES, type);
}


/* Target names are ours (cw_target_init): a fixed, small set */
static cw_m_vendor_t *
cw_m_vendor(const char *name)
{
    return cw_m_intern(cw_m.vendors, sizeof(cw_m_vendor_t), &cw_m.nvendors,
                       CW_M_VENDORS, name);
}


static void
cw_m_observe(cw_m_hist_t *h, const double *le, double v)
{
    int  i;

    for (i = 0; i < CW_M_LE; i++) {
        if (v <= le[i]) {
            h->bucket[i]++;
        }
    }

    h->count++;
    h->sum += v;
}


void
cw_metrics_attempt(const char *type)
{
    cw_m_type(type)->attempts++;
}


void
cw_metrics_job_end(const char *type, const char *status, uint64_t ms,
    int batch_item)
{
    cw_m_type_t  *t = cw_m_type(type);

    t->jobs[cw_m_status(status)]++;
    cw_m_observe(&t->duration, cw_m_job_le, (double) ms / 1000.0);

    if (batch_item) {
        cw_m.batch_items[cw_m_status(status)]++;
    }
}


void
cw_metrics_retry(const char *type)
{
    cw_m_type(type)->retries++;
}


void
cw_metrics_dead(const char *type)
{
    cw_m_type(type)->dead++;
}


void
cw_metrics_call(const char *vendor, long status, uint64_t ms,
    long retry_after_ms)
{
    int             c;
    cw_m_vendor_t  *v = cw_m_vendor(vendor);

    c = status >= 200 && status < 600 ? (int) (status / 100) - 2 : 4;
    if (c < 0) {
        c = 4;                      /* 1xx as a final answer: an error */
    }

    v->calls[c]++;
    cw_m_observe(&v->duration, cw_m_call_le, (double) ms / 1000.0);

    if (status == 429) {
        v->throttled++;
    }

    if (retry_after_ms >= 0 && status >= 400) {
        v->retry_after++;
        v->retry_after_s += (double) retry_after_ms / 1000.0;
    }
}


void
cw_metrics_oauth(const char *vendor, int ok)
{
    cw_m_vendor_t  *v = cw_m_vendor(vendor);

    if (ok) {
        v->oauth_ok++;
    } else {
        v->oauth_failed++;
    }
}


void
cw_metrics_otlp(const char *result, uint64_t spans)
{
    if (strcmp(result, "exported") == 0) {
        cw_m.otlp_exported += spans;
    } else if (strcmp(result, "dropped") == 0) {
        cw_m.otlp_dropped += spans;
    } else {
        cw_m.otlp_failed += spans;
    }
}


/* ---- the exposition ---- */

static void
cw_m_head(cs_buf_t *b, const char *name, const char *type, const char *help)
{
    cw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}


static void
cw_m_hist(cs_buf_t *b, const char *name, const char *label, const char *v,
    const cw_m_hist_t *h, const double *le)
{
    int  i;

    for (i = 0; i < CW_M_LE; i++) {
        cw_buf_printf(b, "%s_bucket{%s=\"%s\",le=\"%g\"} %llu\n", name,
                      label, v, le[i], (unsigned long long) h->bucket[i]);
    }

    cw_buf_printf(b, "%s_bucket{%s=\"%s\",le=\"+Inf\"} %llu\n", name, label,
                  v, (unsigned long long) h->count);
    cw_buf_printf(b, "%s_sum{%s=\"%s\"} %.6f\n", name, label, v, h->sum);
    cw_buf_printf(b, "%s_count{%s=\"%s\"} %llu\n", name, label, v,
                  (unsigned long long) h->count);
}


#define CW_M_PER(b, metric, arr, n, label, field)                             \
    do {                                                                      \
        int  i_;                                                              \
        for (i_ = 0; i_ < (n); i_++) {                                        \
            cw_buf_printf(b, "%s{%s=\"%s\"} %llu\n", metric, label,           \
                          (arr)[i_].name,                                     \
                          (unsigned long long) (arr)[i_].field);              \
        }                                                                     \
    } while (0)


void
cw_metrics_render(cs_buf_t *b, int in_flight)
{
    int     i;
    size_t  s;

    cw_m_head(b, "caresync_worker_jobs_total", "counter",
              "Jobs that ended, by type and final status.");
    for (i = 0; i < cw_m.ntypes; i++) {
        for (s = 0; s < CW_M_STATUSES; s++) {
            cw_buf_printf(b, "caresync_worker_jobs_total{type=\"%s\","
                          "status=\"%s\"} %llu\n", cw_m.types[i].name,
                          cw_m_statuses[s],
                          (unsigned long long) cw_m.types[i].jobs[s]);
        }
    }

    cw_m_head(b, "caresync_worker_job_duration_seconds", "histogram",
              "Time of the attempt that ended a job, by type.");
    for (i = 0; i < cw_m.ntypes; i++) {
        cw_m_hist(b, "caresync_worker_job_duration_seconds", "type",
                  cw_m.types[i].name, &cw_m.types[i].duration, cw_m_job_le);
    }

    cw_m_head(b, "caresync_worker_attempts_total", "counter",
              "Attempts started, by job type.");
    CW_M_PER(b, "caresync_worker_attempts_total", cw_m.types, cw_m.ntypes,
             "type", attempts);
    cw_m_head(b, "caresync_worker_retries_total", "counter",
              "Attempts that ended in a retry, by job type.");
    CW_M_PER(b, "caresync_worker_retries_total", cw_m.types, cw_m.ntypes,
             "type", retries);
    cw_m_head(b, "caresync_worker_dead_letters_total", "counter",
              "Jobs put in the dead-letter queue, by job type.");
    CW_M_PER(b, "caresync_worker_dead_letters_total", cw_m.types,
             cw_m.ntypes, "type", dead);

    cw_m_head(b, "caresync_worker_jobs_in_flight", "gauge",
              "Jobs this worker runs now.");
    cw_buf_printf(b, "caresync_worker_jobs_in_flight %d\n", in_flight);

    cw_m_head(b, "caresync_worker_batch_items_total", "counter",
              "Batch items that ended, by final status.");
    for (s = 0; s < CW_M_STATUSES; s++) {
        cw_buf_printf(b, "caresync_worker_batch_items_total{status=\"%s\"} "
                      "%llu\n", cw_m_statuses[s],
                      (unsigned long long) cw_m.batch_items[s]);
    }

    cw_m_head(b, "caresync_worker_vendor_requests_total", "counter",
              "Requests to each vendor, by status class (error: no "
              "answer).");
    for (i = 0; i < cw_m.nvendors; i++) {
        for (s = 0; s < CW_M_CLASSES; s++) {
            cw_buf_printf(b, "caresync_worker_vendor_requests_total{vendor="
                          "\"%s\",class=\"%s\"} %llu\n",
                          cw_m.vendors[i].name, cw_m_classes[s],
                          (unsigned long long) cw_m.vendors[i].calls[s]);
        }
    }

    cw_m_head(b, "caresync_worker_vendor_request_duration_seconds",
              "histogram", "Latency of vendor requests.");
    for (i = 0; i < cw_m.nvendors; i++) {
        cw_m_hist(b, "caresync_worker_vendor_request_duration_seconds",
                  "vendor", cw_m.vendors[i].name, &cw_m.vendors[i].duration,
                  cw_m_call_le);
    }

    cw_m_head(b, "caresync_worker_vendor_throttled_total", "counter",
              "HTTP 429 answers, by vendor.");
    CW_M_PER(b, "caresync_worker_vendor_throttled_total", cw_m.vendors,
             cw_m.nvendors, "vendor", throttled);
    cw_m_head(b, "caresync_worker_vendor_retry_after_total", "counter",
              "Error answers that carried a Retry-After, by vendor.");
    CW_M_PER(b, "caresync_worker_vendor_retry_after_total", cw_m.vendors,
             cw_m.nvendors, "vendor", retry_after);

    cw_m_head(b, "caresync_worker_vendor_retry_after_seconds_total",
              "counter", "The waits those Retry-After asked for, summed.");
    for (i = 0; i < cw_m.nvendors; i++) {
        cw_buf_printf(b, "caresync_worker_vendor_retry_after_seconds_total"
                      "{vendor=\"%s\"} %.3f\n", cw_m.vendors[i].name,
                      cw_m.vendors[i].retry_after_s);
    }

    cw_m_head(b, "caresync_worker_oauth_refreshes_total", "counter",
              "OAuth token fetches, by vendor and result.");
    for (i = 0; i < cw_m.nvendors; i++) {
        cw_buf_printf(b, "caresync_worker_oauth_refreshes_total{vendor="
                      "\"%s\",result=\"ok\"} %llu\n"
                      "caresync_worker_oauth_refreshes_total{vendor="
                      "\"%s\",result=\"failed\"} %llu\n",
                      cw_m.vendors[i].name,
                      (unsigned long long) cw_m.vendors[i].oauth_ok,
                      cw_m.vendors[i].name,
                      (unsigned long long) cw_m.vendors[i].oauth_failed);
    }

    cw_m_head(b, "caresync_worker_otlp_spans_total", "counter",
              "Spans for the OTLP collector, by result.");
    cw_buf_printf(b, "caresync_worker_otlp_spans_total{result=\"exported\"} "
                  "%llu\ncaresync_worker_otlp_spans_total{result="
                  "\"dropped\"} %llu\ncaresync_worker_otlp_spans_total"
                  "{result=\"failed\"} %llu\n",
                  (unsigned long long) cw_m.otlp_exported,
                  (unsigned long long) cw_m.otlp_dropped,
                  (unsigned long long) cw_m.otlp_failed);

    cw_m_head(b, "caresync_worker_redis_up", "gauge",
              "1 when the last read of the queue's figures succeeded.");
    cw_buf_printf(b, "caresync_worker_redis_up %d\n", cw_m.redis_up);

    if (cw_m.redis_up) {
        cw_m_head(b, "caresync_worker_stream_lag", "gauge",
                  "Entries of the stream not yet read by the group.");
        cw_buf_printf(b, "caresync_worker_stream_lag{shard=\"0\"} %lld\n",
                      cw_m.lag);
        cw_m_head(b, "caresync_worker_stream_pending", "gauge",
                  "Entries read and not yet acknowledged.");
        cw_buf_printf(b, "caresync_worker_stream_pending{shard=\"0\"} %lld\n",
                      cw_m.pending);
        cw_m_head(b, "caresync_worker_retry_set_size", "gauge",
                  "Jobs waiting for a retry.");
        cw_buf_printf(b, "caresync_worker_retry_set_size %lld\n",
                      cw_m.retry);
        cw_m_head(b, "caresync_worker_dead_letter_queue_length", "gauge",
                  "Entries in the dead-letter queue.");
        cw_buf_printf(b, "caresync_worker_dead_letter_queue_length %lld\n",
                      cw_m.dead_len);
    }
}


/* ---- the queue's figures, from Redis ---- */

static long long
cw_m_int(redisReply *rep)
{
    if (rep && rep->type == REDIS_REPLY_INTEGER) {
        return rep->integer;
    }

    return -1;
}


/* the value of `key` in a [key, value, ...] reply, or NULL */
static redisReply *
cw_m_field(redisReply *kv, const char *key)
{
    size_t  j;

    for (j = 0; kv->type == REDIS_REPLY_ARRAY && j + 1 < kv->elements;
         j += 2)
    {
        if (kv->element[j]->type == REDIS_REPLY_STRING
            && strcmp(kv->element[j]->str, key) == 0)
        {
            return kv->element[j + 1];
        }
    }

    return NULL;
}


/* XINFO GROUPS: the `workers` group's lag (Redis 7) and pending */
static int
cw_m_group(redisReply *rep, long long *lag, long long *pending)
{
    size_t       i;
    redisReply  *name, *v;

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        return -1;
    }

    for (i = 0; i < rep->elements; i++) {
        name = cw_m_field(rep->element[i], "name");

        if (name == NULL || name->type != REDIS_REPLY_STRING
            || strcmp(name->str, CW_QUEUE_GROUP) != 0)
        {
            continue;
        }

        *pending = cw_m_int(cw_m_field(rep->element[i], "pending"));

        /* nil when Redis cannot tell (after deletions): 0 */
        v = cw_m_field(rep->element[i], "lag");
        *lag = v && v->type == REDIS_REPLY_INTEGER ? v->integer : 0;

        return 0;
    }

    return -1;
}


static void
cw_m_gauges(cw_redis_t *r, const cw_conf_t *c)
{
    redisReply  *rep;
    uint64_t     now = cw_mono_ms();

    if (cw_m.gauges_at && now - cw_m.gauges_at < CW_M_GAUGE_MS) {
        return;
    }

    cw_m.gauges_at = now;
    cw_m.redis_up = 0;

    /* never connect from here: the loop does, and says so */
    if (r->ctx == NULL) {
        return;
    }

    cw_m.lag = cw_m.pending = 0;
    rep = cw_redis_cmd(r, "XINFO GROUPS %s", c->key.jobs);
    if (cw_m_group(rep, &cw_m.lag, &cw_m.pending) != 0) {
        if (rep) {
            freeReplyObject(rep);
        }
        return;
    }
    freeReplyObject(rep);

    rep = cw_redis_cmd(r, "ZCARD %s", c->key.retry);
    cw_m.retry = cw_m_int(rep);
    if (rep) {
        freeReplyObject(rep);
    }

    rep = cw_redis_cmd(r, "XLEN %s", c->key.dead);
    cw_m.dead_len = cw_m_int(rep);
    if (rep) {
        freeReplyObject(rep);
    }

    cw_m.redis_up = cw_m.retry >= 0 && cw_m.dead_len >= 0;
}


/* ---- the responder ---- */

int
cw_metrics_parse_listen(const char *s, char *host, size_t n, int *port)
{
    char         *end;
    long          p;
    const char   *colon;

    colon = s ? strrchr(s, ':') : NULL;
    if (colon == NULL || colon == s || (size_t) (colon - s) >= n) {
        return -1;
    }

    p = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || p < 1 || p > 65535) {
        return -1;
    }

    memcpy(host, s, (size_t) (colon - s));
    host[colon - s] = '\0';
    *port = (int) p;
    return 0;
}


int
cw_metrics_open(const cw_conf_t *c, char *err, size_t n)
{
    int                 fd, one = 1, port;
    char                host[64];
    struct sockaddr_in  sa;

    if (c->metrics.listen == NULL) {
        return 0;
    }

    if (cw_metrics_parse_listen(c->metrics.listen, host, sizeof(host),
                                &port) != 0)
    {
        snprintf(err, n, "metrics.listen must be address:port, an IPv4 "
                 "address (e.g. 127.0.0.1:9187)");
        return -1;
    }

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t) port);

    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(err, n, "metrics.listen: %s is not an IPv4 address", host);
        return -1;
    }

    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, n, "metrics.listen: socket(): %s", strerror(errno));
        return -1;
    }

    (void) setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));

    if (bind(fd, (struct sockaddr *) &sa, sizeof(sa)) != 0
        || listen(fd, 16) != 0)
    {
        snprintf(err, n, "metrics.listen %s: %s (another worker on this "
                 "host needs a port of its own)", c->metrics.listen,
                 strerror(errno));
        close(fd);
        return -1;
    }

    cw_m.lfd = fd;
    cw_debug("metrics", "listening on %s", c->metrics.listen);
    return 0;
}


static void
cw_m_conn_close(cw_m_conn_t *k)
{
    close(k->fd);
    cs_buf_free(&k->out);
    memset(k, 0, sizeof(*k));
    k->fd = -1;
}


static void
cw_m_answer(cw_m_conn_t *k, int status, const char *reason,
    const char *ctype, const cs_buf_t *body)
{
    cs_buf_reset(&k->out);
    cw_buf_printf(&k->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
                  "Content-Length: %zu\r\nConnection: close\r\n"
                  "Cache-Control: no-store\r\n%s\r\n", status, reason, ctype,
                  body ? body->len : 0,
                  status == 405 ? "Allow: GET, HEAD\r\n" : "");
    if (body && body->len) {
        cs_buf_put(&k->out, body->data, body->len);
    }
    k->off = 0;
}


/* The request is whole: its answer, by its first line only */
static void
cw_m_request(cw_m_conn_t *k, cw_redis_t *r, const cw_conf_t *c,
    int in_flight)
{
    cs_buf_t  body;
    size_t    n;

    n = strcspn(k->req, "\r\n");

    if (n >= 4 && memcmp(k->req, "GET ", 4) != 0
        && !(n >= 5 && memcmp(k->req, "HEAD ", 5) == 0))
    {
        cw_m_answer(k, 405, "Method Not Allowed", "text/plain", NULL);
        return;
    }

    if (!((n >= 13 && memcmp(k->req, "GET /metrics ", 13) == 0)
          || (n >= 14 && memcmp(k->req, "HEAD /metrics ", 14) == 0)))
    {
        cw_m_answer(k, 404, "Not Found", "text/plain", NULL);
        return;
    }

    cw_m_gauges(r, c);

    cs_buf_init(&body);
    cw_metrics_render(&body, in_flight);
    cw_m_answer(k, 200, "OK", "text/plain; version=0.0.4", &body);

    if (k->req[0] == 'H') {
        /* the head's Content-Length, without the body */
        k->out.len -= body.len;
    }

    cs_buf_free(&body);
    cw_m.scrapes++;
}


static void
cw_m_read(cw_m_conn_t *k, cw_redis_t *r, const cw_conf_t *c, int in_flight)
{
    ssize_t  got;

    for ( ;; ) {
        got = read(k->fd, k->req + k->len, sizeof(k->req) - 1 - k->len);

        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
            cw_m_conn_close(k);
            return;
        }

        if (got < 0) {
            return;                 /* the rest next turn */
        }

        k->len += (size_t) got;
        k->req[k->len] = '\0';

        if (strstr(k->req, "\r\n\r\n") || strstr(k->req, "\n\n")) {
            cw_m_request(k, r, c, in_flight);
            return;
        }

        if (k->len == sizeof(k->req) - 1) {
            cw_m_answer(k, 431, "Request Header Fields Too Large",
                        "text/plain", NULL);
            return;
        }
    }
}


static void
cw_m_write(cw_m_conn_t *k)
{
    ssize_t  put;

    while (k->off < k->out.len) {
        put = send(k->fd, k->out.data + k->off, k->out.len - k->off,
                   MSG_NOSIGNAL);
        if (put < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                return;
            }
            break;
        }
        k->off += (size_t) put;
    }

    cw_m_conn_close(k);
}


void
cw_metrics_serve(cw_redis_t *r, const cw_conf_t *c, int in_flight)
{
    int           i, fd;
    uint64_t      now;
    cw_m_conn_t  *k;

    if (cw_m.lfd < 0) {
        return;
    }

    now = cw_mono_ms();

    for (i = 0; i < CW_METRICS_CONNS; i++) {
        k = &cw_m.conns[i];

        if (k->deadline == 0) {
            /* a free slot: the next connection waiting, if any */
            fd = accept(cw_m.lfd, NULL, NULL);
            if (fd < 0) {
                continue;
            }

            (void) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
            (void) fcntl(fd, F_SETFD, FD_CLOEXEC);

            memset(k, 0, sizeof(*k));
            k->fd = fd;
            k->deadline = now + CW_M_TIMEOUT;
            cs_buf_init(&k->out);
        }

        if (now > k->deadline) {
            cw_m_conn_close(k);
            continue;
        }

        if (k->out.len == 0) {
            cw_m_read(k, r, c, in_flight);
        }

        if (k->deadline && k->out.len) {
            cw_m_write(k);
        }
    }
}


void
cw_metrics_close(void)
{
    int  i;

    for (i = 0; i < CW_METRICS_CONNS; i++) {
        if (cw_m.conns[i].deadline) {
            cw_m_conn_close(&cw_m.conns[i]);
        }
    }

    if (cw_m.lfd >= 0) {
        close(cw_m.lfd);
        cw_m.lfd = -1;
    }
}
