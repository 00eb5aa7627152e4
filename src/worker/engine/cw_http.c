/*
 * caresync-worker: the HTTP client layer on libcurl's multi interface.
 */

/* strptime() for HTTP dates in Retry-After */
#define _XOPEN_SOURCE 700

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/epoll.h>

#include "engine/cw_http.h"
#include "engine/cw_log.h"
#include "engine/cw_util.h"

/* A body larger than this is an error, not a reason to run out of memory */
#define CW_HTTP_MAX_BODY  (16 * 1024 * 1024)
#define CW_HTTP_POOL      256
/* the parser's buffers kept between answers */
#define CW_HTTP_KEEP      (256 * 1024)


struct cw_http_s {
    CURLM           *multi;
    cw_http_conf_t   conf;
    int              running;       /* handles in the multi */
    int              queued;        /* waiting for a slot or a token */
    cw_http_req_t   *done_head, *done_tail;
    CURL            *pool[CW_HTTP_POOL];
    int              npool;
    cw_target_t    **targets;
    int              ntargets;
    cw_auth_t      **auths;
    int              nauths;
    cw_http_req_t   *inflight;      /* for cw_http_cancel_all() */
    int              epfd;
    unsigned char   *fds;           /* per fd: CW_FD_* (what epoll has) */
    int              nfds;
    int              timer_set;
    uint64_t         timer_due;     /* monotonic ms, curl's next timeout */
    cs_buf_t         url;           /* the URL being set (curl copies it) */
    cs_json_doc_t    doc;           /* answers are parsed into it */
    const cw_http_observer_t  *obs;
    cw_http_write_pt  on_write;     /* cw_http_on_write() */
    void            *on_write_data;
};


int
cw_http_id_ok(const char *s)
{
    size_t  n;

    if (s == NULL) {
        return 0;
    }

    for (n = 0; s[n]; n++) {
        if (n == CW_HTTP_ID_MAX
            || !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')
                 || (s[n] >= '0' && s[n] <= '9') || s[n] == '-'
                 || s[n] == '_'))
        {
            return 0;
        }
    }

    return n > 0;
}


int
cw_http_url_id(cs_buf_t *url, const char *id, const char *what,
    cw_err_t *err)
{
    if (cw_http_id_ok(id)) {
        cs_buf_puts(url, id);
        return 0;
    }

    cw_err_set(err, CW_ERR_PERMANENT, CW_E_BAD_ID,
               "%s is not a usable id (1 to %d letters, digits, - or _): "
               "nothing was sent", what, CW_HTTP_ID_MAX);
    return -1;
}


static int cw_http_socket_cb(CURL *e, curl_socket_t s, int what, void *data,
    void *sockp);
static int cw_http_close_cb(void *data, curl_socket_t s);

/*
 * What epoll has of each socket, so that a request on a kept connection
 * costs no epoll_ctl at all: curl asks for IN, then says REMOVE when the
 * transfer is done, and the next transfer on it asks for IN again.  A
 * socket curl no longer watches stays registered until it says something
 * (the server closed it: it is taken out then) or curl closes it.
 */
#define CW_FD_REG    0x01           /* registered */
#define CW_FD_IN     0x02           /* ... for EPOLLIN */
#define CW_FD_OUT    0x04           /* ... for EPOLLOUT */
#define CW_FD_WANT   0x08           /* curl watches it */
#define CW_FD_MAX    65536
static int cw_http_timer_cb(CURLM *multi, long timeout_ms, void *data);


cw_http_t *
cw_http_create(const cw_http_conf_t *conf)
{
    cw_http_t  *h;

    h = cw_calloc(1, sizeof(*h));
    h->conf = *conf;
    cs_json_init(&h->doc);
    h->multi = curl_multi_init();
    h->epfd = epoll_create1(EPOLL_CLOEXEC);

    if (h->multi == NULL || h->epfd < 0) {
        if (h->multi) {
            curl_multi_cleanup(h->multi);
        }
        free(h);
        return NULL;
    }

    /*
     * The socket interface: epoll tells which of the connections is ready,
     * so a turn costs what is ready, not what is open.
     */
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, cw_http_socket_cb);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, cw_http_timer_cb);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);

    /* keep every connection: a reconnect costs more than the job itself */
    curl_multi_setopt(h->multi, CURLMOPT_MAXCONNECTS,
                      (long) (conf->max_total ? conf->max_total : 256));

    return h;
}


void
cw_http_destroy(cw_http_t *h)
{
    int  i;

    if (h == NULL) {
        return;
    }

    for (i = 0; i < h->npool; i++) {
        curl_easy_cleanup(h->pool[i]);
    }

    curl_multi_cleanup(h->multi);
    cs_buf_free(&h->url);
    cs_json_free(&h->doc);
    close(h->epfd);
    free(h->fds);
    free(h->targets);
    free(h->auths);
    free(h);
}


void
cw_target_init(cw_target_t *t, const char *name, const char *base_url,
    int max_conc, double rps)
{
    memset(t, 0, sizeof(*t));
    t->name = name;
    t->base_url = cw_strdup(base_url);
    t->max_conc = max_conc > 0 ? max_conc : 1;
    t->rps = rps;
    t->tokens = rps > 0 ? (rps < 1 ? 1 : rps) : 0;
    t->refill_ms = cw_mono_ms();
}


/* `p` added once to the array *v of *n pointers */
static void
cw_http_remember(void ***v, int *n, void *p)
{
    int  i;

    for (i = 0; i < *n; i++) {
        if ((*v)[i] == p) {
            return;
        }
    }

    *v = realloc(*v, sizeof(**v) * (size_t) (*n + 1));
    if (*v == NULL) {
        abort();
    }

    (*v)[(*n)++] = p;
}


static void
cw_http_register(cw_http_t *h, cw_target_t *t)
{
    cw_http_remember((void ***) &h->targets, &h->ntargets, t);
}


static void
cw_http_register_auth(cw_http_t *h, cw_auth_t *a)
{
    cw_http_remember((void ***) &h->auths, &h->nauths, a);
}


void
cw_auth_init(cw_auth_t *a, cw_http_t *http, const char *name,
    cw_auth_fetch_pt fetch, void *data)
{
    memset(a, 0, sizeof(*a));
    a->http = http;
    a->name = name;
    a->fetch = fetch;
    a->data = data;
}


static void
cw_auth_drop(cw_auth_t *a)
{
    if (a->token) {
        explicit_bzero(a->token, strlen(a->token));
        free(a->token);
        a->token = NULL;
    }
}


void
cw_auth_free(cw_auth_t *a)
{
    cw_auth_drop(a);
    free(a->base_url);
    a->base_url = NULL;
}


cw_http_req_t *
cw_http_req_new(cw_http_t *http, const char *method, cw_target_t *target,
    cw_auth_t *auth, cw_http_done_pt done, void *data)
{
    cw_http_req_t  *r;

    r = cw_calloc(1, sizeof(*r));
    r->http = http;
    r->method = method;
    r->target = target;
    r->auth = auth;
    r->done = done;
    r->data = data;
    r->retry_after_ms = -1;
    cw_err_clear(&r->err);
    cs_buf_init(&r->body);
    cs_buf_init(&r->resp);
    cs_buf_init(&r->hdrtext);

    cw_http_register(http, target);
    if (auth) {
        cw_http_register_auth(http, auth);
    }

    r->ctx = http->obs ? http->obs->take() : NULL;

    return r;
}


void
cw_http_observe(cw_http_t *h, const cw_http_observer_t *o)
{
    h->obs = o;
}


/*
 * The one end of every request: a write that succeeded is audited first
 * (once: a resend after a 401 ends here only once), then `done` runs with
 * the request's context current.
 */
static void
cw_http_done(cw_http_req_t *r)
{
    void                      *prev;
    char                       target[96], *p;
    const char                *record, *job;
    cw_http_t                 *h = r->http;
    const cw_http_observer_t  *o = h->obs;

    if (r->audit_fields && r->err.cls == CW_ERR_NONE && h->on_write) {
        record = r->audit_record;
        if (record == NULL) {
            record = json_string_value(json_object_get(r->json, "id"));
        }

        job = o && o->job && r->ctx ? o->job(r->ctx) : NULL;
        snprintf(target, sizeof(target), "%s/%s", r->target->name,
                 r->audit_what);

        /* the system as the trail names it: lower case ("hint/patient") */
        for (p = target; *p && *p != '/'; p++) {
            *p = (char) tolower((unsigned char) *p);
        }
        h->on_write(h->on_write_data, job, target, record, r->audit_fields);
    }

    if (o == NULL) {
        r->done(r);
        return;
    }

    prev = o->enter(r->ctx);
    r->done(r);
    o->leave(prev);
}


/* header lists may hold credentials: wipe before freeing */
static void
cw_http_slist_wipe(struct curl_slist *l)
{
    struct curl_slist  *p;

    for (p = l; p; p = p->next) {
        explicit_bzero(p->data, strlen(p->data));
    }

    curl_slist_free_all(l);
}


/* the text of the header lines may hold a token: wipe before reuse */
static void
cw_http_hdrtext_wipe(cw_http_req_t *r)
{
    if (r->hdrtext.data) {
        explicit_bzero(r->hdrtext.data, r->hdrtext.cap);
    }

    cs_buf_reset(&r->hdrtext);
}


void
cw_http_req_header(cw_http_req_t *r, const char *line)
{
    r->extra = curl_slist_append(r->extra, line);
}


void
cw_http_req_free(cw_http_req_t *r)
{
    if (r == NULL) {
        return;
    }

    free(r->url);
    free(r->audit_what);
    free(r->audit_record);
    free(r->audit_fields);
    cs_buf_free(&r->body);
    cs_buf_free(&r->resp);

    if (r->json) {
        json_decref(r->json);
    }

    cw_http_hdrtext_wipe(r);
    cs_buf_free(&r->hdrtext);
    cw_http_slist_wipe(r->extra);

    if (r->ctx) {
        r->http->obs->drop(r->ctx);
    }

    free(r);
}


void
cw_http_on_write(cw_http_t *http, cw_http_write_pt fn, void *data)
{
    http->on_write = fn;
    http->on_write_data = data;
}


/* whether "a,b,c" in `b` holds the name k (n bytes) */
static int
cw_http_has_name(const cs_buf_t *b, const char *k, size_t n)
{
    const char  *p, *c, *end;

    if (b->data == NULL) {
        return 0;
    }

    end = b->data + b->len;

    for (p = b->data; p < end; p = c + 1) {
        c = memchr(p, ',', (size_t) (end - p));
        if (c == NULL) {
            c = end;
        }

        if ((size_t) (c - p) == n && memcmp(p, k, n) == 0) {
            return 1;
        }
    }

    return 0;
}


/* the keys of an object, once each, appended to `b` as "a,b,c" */
static void
cw_http_names(cs_buf_t *b, json_t *o)
{
    const char  *k;
    json_t      *v;
    size_t       n;

    json_object_foreach(o, k, v) {
        n = strlen(k);

        /* Salesforce's record metadata, not a field */
        if (strcmp(k, "attributes") == 0 || cw_http_has_name(b, k, n)) {
            continue;
        }

        if (b->len) {
            cs_buf_putc(b, ',');
        }
        cs_buf_put(b, k, n);
    }
}


void
cw_http_req_audit(cw_http_req_t *r, const char *what, const char *record,
    json_t *body)
{
    size_t    i;
    json_t   *recs;
    cs_buf_t  b;
    char      n[32];

    cs_buf_init(&b);
    recs = json_object_get(body, "records");

    if (json_is_array(recs)) {
        for (i = 0; i < json_array_size(recs); i++) {
            cw_http_names(&b, json_array_get(recs, i));
        }
        snprintf(n, sizeof(n), "%zu records", json_array_size(recs));
        record = n;

    } else if (json_is_object(body)) {
        cw_http_names(&b, body);
    }

    free(r->audit_what);
    free(r->audit_record);
    free(r->audit_fields);
    r->audit_what = cw_strdup(what);
    r->audit_record = record ? cw_strdup(record) : NULL;
    r->audit_fields = b.oom ? cw_strdup("?")
                            : cw_strndup(b.data ? b.data : "", b.len);
    cs_buf_free(&b);
}


void
cw_http_req_url(cw_http_req_t *r, const char *url)
{
    free(r->url);
    r->url = cw_strdup(url);
}


static int
cw_http_dump_cb(const char *buf, size_t n, void *data)
{
    cs_buf_put(data, buf, n);
    return 0;
}


void
cw_http_req_json(cw_http_req_t *r, json_t *body)
{
    cs_buf_reset(&r->body);
    (void) json_dump_callback(body, cw_http_dump_cb, &r->body, JSON_COMPACT);
    r->content_type = "application/json";
}


/* the done list, a target's queue and a token's waiters are FIFOs */
static void
cw_http_append(cw_http_req_t **head, cw_http_req_t **tail, cw_http_req_t *r)
{
    r->next = NULL;

    if (*tail) {
        (*tail)->next = r;
    } else {
        *head = r;
    }

    *tail = r;
}


/* Completed without the network: `done` runs on the next turn. */
static void
cw_http_complete_later(cw_http_req_t *r)
{
    cw_http_append(&r->http->done_head, &r->http->done_tail, r);
}


void
cw_http_fail_later(cw_http_req_t *r)
{
    if (r->err.cls == CW_ERR_NONE) {
        r->err.cls = CW_ERR_PERMANENT;
    }

    cw_http_complete_later(r);
}


static void
cw_http_enqueue(cw_http_req_t *r)
{
    cw_http_append(&r->target->head, &r->target->tail, r);
    r->http->queued++;
}


void
cw_http_send(cw_http_req_t *r)
{
    cw_auth_t  *a = r->auth;

    r->status = 0;
    r->auth_failed = 0;
    r->retry_after_ms = -1;
    cw_err_clear(&r->err);
    cs_buf_reset(&r->resp);

    if (r->json) {
        json_decref(r->json);
        r->json = NULL;
    }

    if (a && (a->token == NULL
              || (a->expires_ms && cw_mono_ms() >= a->expires_ms)))
    {
        /* wait for the token with everyone else who needs it */
        cw_http_append(&a->head, &a->tail, r);
        r->http->queued++;

        if (!a->fetching) {
            cw_auth_drop(a);
            a->fetching = 1;
            a->fetches++;
            a->fetch(a);
        }

        return;
    }

    cw_http_enqueue(r);
}


/*
 * The requests that waited for the token go on: queued for a slot with
 * it, or (err) completed with the fetch's error.
 */
static void
cw_auth_release(cw_auth_t *a, const cw_err_t *err)
{
    cw_http_req_t  *r, *next;

    a->fetching = 0;
    r = a->head;
    a->head = a->tail = NULL;

    for (; r; r = next) {
        next = r->next;
        r->http->queued--;

        if (err == NULL) {
            cw_http_enqueue(r);
            continue;
        }

        r->err = *err;
        r->status = 0;
        r->auth_failed = 1;
        cw_http_complete_later(r);
    }
}


void
cw_auth_set(cw_auth_t *a, const char *token, const char *base_url,
    long expires_in_s)
{
    cw_auth_drop(a);
    a->token = cw_strdup(token);

    if (base_url) {
        free(a->base_url);
        a->base_url = cw_strdup(base_url);
    }

    /* a minute early, so that no request leaves with a dying token */
    a->expires_ms = expires_in_s > 0
                    ? cw_mono_ms() + (uint64_t) (expires_in_s > 120
                                                 ? expires_in_s - 60
                                                 : expires_in_s) * 1000
                    : 0;
    a->gen++;
    cw_auth_release(a, NULL);

    if (a->http->obs) {
        a->http->obs->auth(a, 1);
    }
}


void
cw_auth_fail(cw_auth_t *a, const cw_err_t *err)
{
    cw_auth_release(a, err);

    if (a->http->obs) {
        a->http->obs->auth(a, 0);
    }
}


static size_t
cw_http_write_cb(char *p, size_t size, size_t n, void *data)
{
    cw_http_req_t  *r = data;

    if (r->resp.len + n > CW_HTTP_MAX_BODY) {
        return 0;
    }

    cs_buf_put(&r->resp, p, n);
    return r->resp.oom ? 0 : n;
}


static int
cw_hdr_is(const char *p, size_t n, const char *name, size_t nlen)
{
    return n > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0;
}


static size_t
cw_http_header_cb(char *p, size_t size, size_t n, void *data)
{
    size_t          len = size * n, vlen;
    const char     *v;
    cw_http_req_t  *r = data;

    /* a new status line (after 100 Continue, a redirect) resets them */
    if (len > 5 && strncmp(p, "HTTP/", 5) == 0) {
        r->retry_after_ms = -1;
        return len;
    }

    if (cw_hdr_is(p, len, "retry-after", 11)) {
        v = p + 12;
        vlen = len - 12;
        r->retry_after_ms = cw_http_retry_after(v, vlen);

    } else if (cw_hdr_is(p, len, "sforce-limit-info", 17)) {
        v = p + 18;
        vlen = len - 18;

        while (vlen && (*v == ' ' || *v == '\t')) {
            v++;
            vlen--;
        }

        while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n')) {
            vlen--;
        }

        if (vlen >= sizeof(r->target->limit_info)) {
            vlen = sizeof(r->target->limit_info) - 1;
        }

        memcpy(r->target->limit_info, v, vlen);
        r->target->limit_info[vlen] = '\0';
    }

    return len;
}


long
cw_http_retry_after(const char *v, size_t len)
{
    char        buf[64];
    long        s;
    char       *end;
    time_t      t;
    struct tm   tm;

    cw_trim_span(&v, &len);

    if (len == 0 || len >= sizeof(buf)) {
        return -1;
    }

    memcpy(buf, v, len);
    buf[len] = '\0';

    if (isdigit((unsigned char) buf[0])) {
        s = strtol(buf, &end, 10);
        if (*end != '\0' || s < 0 || s > 86400 * 7) {
            return -1;
        }
        return s * 1000;
    }

    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    memset(&tm, 0, sizeof(tm));
    end = strptime(buf, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (end == NULL || *end != '\0') {
        return -1;
    }

    t = timegm(&tm);
    s = (long) (t - time(NULL));

    return s > 0 ? s * 1000 : 0;
}


/*
 * A new easy handle with what is the same for every request; what varies
 * is set by cw_http_launch() each time.  Handles are kept and reused
 * without curl_easy_reset(): the connections live in the multi handle's
 * cache, and a reset would only make these options be set again.
 */
static CURL *
cw_http_handle(cw_http_t *h)
{
    CURL  *e;

    if (h->npool) {
        return h->pool[--h->npool];
    }

    e = curl_easy_init();
    if (e == NULL) {
        return NULL;
    }

    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, cw_http_close_cb);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cw_http_write_cb);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, cw_http_header_cb);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS,
                     h->conf.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, h->conf.verify_tls ? 1L : 0L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, h->conf.verify_tls ? 2L : 0L);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");

    if (h->conf.ca_file) {
        curl_easy_setopt(e, CURLOPT_CAINFO, h->conf.ca_file);
    }

    return e;
}


/* One of the request's header lines: its text at `off` in hdrtext. */
static void
cw_http_hdr(cw_http_req_t *r, size_t *off, int *n, const char *name,
    const char *value)
{
    off[(*n)++] = r->hdrtext.len;
    cs_buf_puts(&r->hdrtext, name);
    if (value) {
        cs_buf_puts(&r->hdrtext, value);
    }
    cs_buf_putc(&r->hdrtext, '\0');
}


/* The header lines of this send, ending with the caller's `extra`. */
static void
cw_http_headers(cw_http_req_t *r)
{
    int     i, n = 0;
    char    line[256];
    size_t  off[CW_HTTP_HDRS];

    cw_http_hdrtext_wipe(r);

    cw_http_hdr(r, off, &n, r->raw ? "Accept: */*"
                                   : "Accept: application/json", NULL);
    /* no "Expect: 100-continue" round trip for bodies */
    cw_http_hdr(r, off, &n, "Expect:", NULL);

    if (r->content_type) {
        cw_http_hdr(r, off, &n, "Content-Type: ", r->content_type);
    }

    /* the observer's line (the trace context) */
    if (r->http->obs) {
        line[0] = '\0';
        r->http->obs->launch(r, line, sizeof(line));
        if (line[0]) {
            cw_http_hdr(r, off, &n, line, NULL);
        }
    }

    if (r->auth && r->auth->token) {
        cw_http_hdr(r, off, &n, "Authorization: Bearer ", r->auth->token);
        r->auth_gen = r->auth->gen;
    }

    if (r->hdrtext.oom) {
        abort();
    }

    for (i = 0; i < n; i++) {
        r->hdrs[i].data = r->hdrtext.data + off[i];
        r->hdrs[i].next = i + 1 < n ? &r->hdrs[i + 1] : r->extra;
    }
}


static void
cw_http_launch(cw_http_t *h, cw_http_req_t *r)
{
    CURL         *e;
    cs_buf_t     *url = &h->url;
    const char   *base;
    cw_target_t  *t = r->target;

    e = cw_http_handle(h);
    if (e == NULL) {
        cw_err_set(&r->err, CW_ERR_TRANSIENT, CW_E_OUT_OF_MEMORY,
                   "cannot create an HTTP handle");
        cw_http_complete_later(r);
        return;
    }

    r->easy = e;
    cs_buf_reset(url);

    base = (r->auth && r->auth->base_url) ? r->auth->base_url : t->base_url;

    if (r->url && r->url[0] == '/' && base) {
        cs_buf_puts(url, base);
        /* "https://x/" + "/path": one slash */
        if (url->len && url->data[url->len - 1] == '/') {
            url->len--;
        }
    }

    cs_buf_puts(url, r->url ? r->url : "");
    cs_buf_putc(url, '\0');

    if (url->oom) {
        abort();
    }

    curl_easy_setopt(e, CURLOPT_URL, url->data);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS,
                     r->timeout_ms ? r->timeout_ms : h->conf.timeout_ms);

    r->sent_ms = cw_mono_ms();
    cw_http_headers(r);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);

    /* the handle may come from a request of another method */
    if (strcmp(r->method, "GET") == 0) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, NULL);
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, NULL);
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);

    } else {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST,
                         strcmp(r->method, "POST") != 0 ? r->method : NULL);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS,
                         r->body.data ? r->body.data : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long) r->body.len);
    }

    t->inflight++;
    t->requests++;
    h->running++;

    r->iprev = NULL;
    r->inext = h->inflight;
    if (h->inflight) {
        h->inflight->iprev = r;
    }
    h->inflight = r;

    curl_multi_add_handle(h->multi, e);
}


/* Starts what the caps allow; returns ms until a throttled one may go. */
static long
cw_http_dispatch(cw_http_t *h)
{
    int             i;
    long            wait = -1, w;
    uint64_t        now;
    cw_target_t    *t;
    cw_http_req_t  *r;

    now = cw_mono_ms();

    for (i = 0; i < h->ntargets; i++) {
        t = h->targets[i];

        if (t->rps > 0) {
            t->tokens += (double) (now - t->refill_ms) * t->rps / 1000.0;
            if (t->tokens > (t->rps < 1 ? 1 : t->rps)) {
                t->tokens = t->rps < 1 ? 1 : t->rps;
            }
            t->refill_ms = now;
        }

        while (t->head && t->inflight < t->max_conc) {
            if (t->rps > 0) {
                if (t->tokens < 1) {
                    w = (long) ((1 - t->tokens) * 1000.0 / t->rps) + 1;
                    wait = (wait < 0 || w < wait) ? w : wait;
                    t->throttled++;
                    break;
                }
                t->tokens -= 1;
            }

            r = t->head;
            t->head = r->next;
            if (t->head == NULL) {
                t->tail = NULL;
            }

            r->next = NULL;
            h->queued--;
            cw_http_launch(h, r);
        }
    }

    return wait;
}


static const char *
cw_http_host(const char *url, char *out, size_t n)
{
    const char  *p, *e;

    p = strstr(url ? url : "", "://");
    p = p ? p + 3 : (url ? url : "");
    e = p + strcspn(p, "/?#");

    snprintf(out, n, "%.*s", (int) (e - p), p);
    return out;
}


/*
 * An answer's body as jansson values, NULL when it is not JSON.  It is
 * read with the core's parser, the edge's: one pass into a tape reused
 * from one answer to the next, then copied into the values the clients
 * read.  Strict as the edge is: a name twice or a \u0000 make an answer
 * that is not JSON (which value would count? a C string ends at a NUL).
 */
static json_t *
cw_http_parse(cw_http_t *h, const cs_buf_t *body)
{
    int      rc;
    json_t  *j;

    rc = cs_json_parse(&h->doc, (const unsigned char *) body->data,
                       body->len, CS_JSON_MAX_NESTING, SIZE_MAX);
    if (rc == CS_JSON_NOMEM) {
        abort();
    }

    j = rc == CS_JSON_OK ? cw_json_from_tape(cs_json_root(&h->doc)) : NULL;

    /* a large answer (a page of Hint patients) does not stay allocated */
    cs_json_trim(&h->doc, CW_HTTP_KEEP);

    return j;
}


static void
cw_http_classify_rc(cw_http_req_t *r, CURLcode rc)
{
    char         host[256];
    const char  *url = NULL;

    if (rc != CURLE_OK) {
        curl_easy_getinfo(r->easy, CURLINFO_EFFECTIVE_URL, &url);
        cw_http_host(url, host, sizeof(host));

        switch (rc) {

        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_CERTPROBLEM:
            cw_err_set(&r->err, CW_ERR_PERMANENT, CW_E_TLS_VERIFY,
                       "TLS certificate of %s not trusted: check "
                       "http.ca_file or the server's certificate", host);
            break;

        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
            cw_err_set(&r->err, CW_ERR_PERMANENT, CW_E_BAD_URL,
                       "bad URL for %s: check its base_url",
                       r->target->name);
            break;

        case CURLE_OPERATION_TIMEDOUT:
            cw_err_set(&r->err, CW_ERR_TRANSIENT, CW_E_TIMEOUT,
                       "%s (%s) did not answer in time", r->target->name,
                       host);
            break;

        case CURLE_WRITE_ERROR:
            cw_err_set(&r->err, CW_ERR_TRANSIENT, CW_E_BODY_TOO_LARGE,
                       "%s sent a response body over %d bytes",
                       r->target->name, CW_HTTP_MAX_BODY);
            break;

        default:
            cw_err_set(&r->err, CW_ERR_TRANSIENT, CW_E_CONNECTION,
                       "%s (%s): %s", r->target->name, host,
                       curl_easy_strerror(rc));
            break;
        }

        return;
    }

    curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);

    if (r->resp.len && !r->raw) {
        r->json = cw_http_parse(r->http, &r->resp);
    }

    if (r->status >= 200 && r->status < 300) {
        if (r->resp.len && r->json == NULL && !r->raw) {
            /* a cut or garbled answer: the next try usually is whole */
            cw_err_set(&r->err, CW_ERR_TRANSIENT, CW_E_BAD_JSON,
                       "%s answered %ld with a body that is not JSON",
                       r->target->name, r->status);
        }
        return;
    }

    if (r->status == 429 || r->status == 408 || r->status >= 500) {
        cw_err_set(&r->err, CW_ERR_TRANSIENT, CW_E_HTTP_STATUS,
                   "%s answered HTTP %ld", r->target->name, r->status);
        return;
    }

    cw_err_set(&r->err, CW_ERR_PERMANENT, CW_E_HTTP_STATUS,
               "%s answered HTTP %ld", r->target->name, r->status);
}


/* The class and code, then what the answer said beside: status, Retry-After */
static void
cw_http_classify(cw_http_req_t *r, CURLcode rc)
{
    cw_err_clear(&r->err);
    cw_http_classify_rc(r, rc);
    r->err.http_status = rc == CURLE_OK ? r->status : 0;
    r->err.retry_after_ms = r->retry_after_ms;
}


static void
cw_http_unlink(cw_http_t *h, cw_http_req_t *r)
{
    if (r->iprev) {
        r->iprev->inext = r->inext;
    } else {
        h->inflight = r->inext;
    }

    if (r->inext) {
        r->inext->iprev = r->iprev;
    }

    r->iprev = r->inext = NULL;
}


static void
cw_http_finish(cw_http_t *h, CURL *e, CURLcode rc)
{
    cw_http_req_t  *r = NULL;
    cw_auth_t      *a;

    curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **) &r);
    curl_multi_remove_handle(h->multi, e);
    cw_http_unlink(h, r);

    h->running--;
    r->target->inflight--;

    cw_http_classify(r, rc);

    if (h->obs) {
        h->obs->end(r);
    }

    if (h->npool < CW_HTTP_POOL) {
        h->pool[h->npool++] = e;
    } else {
        curl_easy_cleanup(e);
    }
    r->easy = NULL;

    a = r->auth;

    if (a && r->status == 401 && !r->auth_retried) {
        /* the token expired or was revoked: fetch one, once, and resend */
        r->auth_retried = 1;

        if (r->auth_gen == a->gen && !a->fetching) {
            cw_debug("http", "token rejected, refreshing target=%s",
                     a->name);
            cw_auth_drop(a);
        }

        cw_http_send(r);
        return;
    }

    cw_http_done(r);
}


uint64_t
cw_http_requests(cw_http_t *h)
{
    int       i;
    uint64_t  n = 0;

    for (i = 0; i < h->ntargets; i++) {
        n += h->targets[i]->requests;
    }

    return n;
}


int
cw_http_active(cw_http_t *h)
{
    return h->running + h->queued + (h->done_head != NULL);
}


static void
cw_http_completions(cw_http_t *h)
{
    int             n;
    CURLMsg        *m;
    cw_http_req_t  *r;

    while ((m = curl_multi_info_read(h->multi, &n)) != NULL) {
        if (m->msg == CURLMSG_DONE) {
            cw_http_finish(h, m->easy_handle, m->data.result);
        }
    }

    /* the ones that never reached the network */
    while (h->done_head) {
        r = h->done_head;
        h->done_head = r->next;
        if (h->done_head == NULL) {
            h->done_tail = NULL;
        }
        r->next = NULL;
        cw_http_done(r);
    }
}


/* The state of fd s, the table grown to hold it; NULL past CW_FD_MAX. */
static unsigned char *
cw_http_fd(cw_http_t *h, curl_socket_t s)
{
    int             n;
    unsigned char  *p;

    if (s < 0 || s >= CW_FD_MAX) {
        return NULL;
    }

    if (s >= h->nfds) {
        n = h->nfds ? h->nfds : 64;
        while (n <= s) {
            n *= 2;
        }

        p = realloc(h->fds, (size_t) n);
        if (p == NULL) {
            abort();
        }

        memset(p + h->nfds, 0, (size_t) (n - h->nfds));
        h->fds = p;
        h->nfds = n;
    }

    return &h->fds[s];
}


/* curl tells which sockets to watch for what: mirrored into epoll */
static int
cw_http_socket_cb(CURL *e, curl_socket_t s, int what, void *data,
    void *sockp)
{
    int                  want;
    cw_http_t           *h = data;
    unsigned char       *st;
    struct epoll_event   ev;

    st = cw_http_fd(h, s);

    if (what == CURL_POLL_REMOVE) {
        if (st) {
            *st &= (unsigned char) ~CW_FD_WANT;    /* registered: stays */
            return 0;
        }
        /* may already be closed, which removed it: errors don't matter */
        (void) epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL);
        return 0;
    }

    want = (what & CURL_POLL_IN ? CW_FD_IN : 0)
           | (what & CURL_POLL_OUT ? CW_FD_OUT : 0);

    memset(&ev, 0, sizeof(ev));
    ev.data.fd = s;
    ev.events = (want & CW_FD_IN ? EPOLLIN : 0)
                | (want & CW_FD_OUT ? EPOLLOUT : 0);

    if (st && (*st & CW_FD_REG)
        && (*st & (CW_FD_IN | CW_FD_OUT)) == want)
    {
        *st |= CW_FD_WANT;
        return 0;
    }

    if (st == NULL || (*st & CW_FD_REG)) {
        if (epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev) != 0) {
            (void) epoll_ctl(h->epfd, EPOLL_CTL_ADD, s, &ev);
        }

    } else if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, s, &ev) != 0) {
        (void) epoll_ctl(h->epfd, EPOLL_CTL_MOD, s, &ev);
    }

    if (st) {
        *st = (unsigned char) (CW_FD_REG | CW_FD_WANT | want);
    }

    return 0;
}


/* curl closes a socket: closing takes it out of epoll */
static int
cw_http_close_cb(void *data, curl_socket_t s)
{
    unsigned char  *st = cw_http_fd(data, s);

    if (st) {
        *st = 0;
    }

    return close(s);
}


/*
 * An event on a socket curl no longer watches (a kept connection that
 * the server closed): out of epoll, until curl asks for it again.
 */
static int
cw_http_unwatched(cw_http_t *h, curl_socket_t s)
{
    unsigned char  *st = cw_http_fd(h, s);

    if (st == NULL || (*st & CW_FD_WANT)) {
        return 0;
    }

    (void) epoll_ctl(h->epfd, EPOLL_CTL_DEL, s, NULL);
    *st = 0;
    return 1;
}


static int
cw_http_timer_cb(CURLM *multi, long timeout_ms, void *data)
{
    cw_http_t  *h = data;

    h->timer_due = timeout_ms < 0 ? 0 : cw_mono_ms() + (uint64_t) timeout_ms;
    h->timer_set = timeout_ms >= 0;
    return 0;
}


int
cw_http_poll(cw_http_t *h, long timeout_ms)
{
    int                 i, n, still, flags;
    long                wait;
    uint64_t            now;
    struct epoll_event  evs[64];

    wait = cw_http_dispatch(h);

    if (h->done_head) {
        timeout_ms = 0;
    }

    if (wait >= 0 && wait < timeout_ms) {
        timeout_ms = wait;
    }

    now = cw_mono_ms();

    if (h->timer_set) {
        wait = h->timer_due > now ? (long) (h->timer_due - now) : 0;
        if (wait < timeout_ms) {
            timeout_ms = wait;
        }
    }

    n = epoll_wait(h->epfd, evs, 64, (int) (timeout_ms > 0 ? timeout_ms : 0));

    if (n > 0 && n < 8 && h->running >= 32) {
        /*
         * Busy: let a few more answers arrive and take them in the same
         * turn.  Half a millisecond on 50 ms answers costs 1 % of latency
         * and saves most of the wake-ups, which are the CPU here.
         */
        struct timespec  ts = { 0, 500000 };
        int              more;

        nanosleep(&ts, NULL);
        more = epoll_wait(h->epfd, evs + n, 64 - n, 0);
        if (more > 0) {
            n += more;
        }
    }

    for (i = 0; i < n; i++) {
        if (cw_http_unwatched(h, evs[i].data.fd)) {
            continue;
        }

        flags = (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0)
                | (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0)
                | (evs[i].events & (EPOLLERR | EPOLLHUP)
                   ? CURL_CSELECT_ERR : 0);
        curl_multi_socket_action(h->multi, evs[i].data.fd, flags, &still);
    }

    if (h->timer_set && cw_mono_ms() >= h->timer_due) {
        h->timer_set = 0;
        curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    }

    cw_http_completions(h);

    /*
     * Completions queue follow-up requests: start them this turn (adding
     * a handle sets a 0 ms timer, which kicks it off).
     */
    (void) cw_http_dispatch(h);

    if (h->timer_set && cw_mono_ms() >= h->timer_due) {
        h->timer_set = 0;
        curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &still);
        cw_http_completions(h);
    }

    return cw_http_active(h);
}


static void
cw_http_cancel(cw_http_req_t *r)
{
    cw_err_set(&r->err, CW_ERR_TRANSIENT, CW_E_SHUTDOWN,
               "the worker stopped before %s answered", r->target->name);
    r->status = 0;
    cw_http_done(r);
}


void
cw_http_cancel_all(cw_http_t *h)
{
    int             i;
    cw_auth_t      *a;
    cw_http_req_t  *r;

    /* callbacks may queue more requests: loop until nothing is left */
    while (cw_http_active(h)) {
        while ((r = h->inflight) != NULL) {
            cw_http_unlink(h, r);
            curl_multi_remove_handle(h->multi, r->easy);
            curl_easy_cleanup(r->easy);
            r->easy = NULL;
            h->running--;
            r->target->inflight--;
            cw_http_cancel(r);
        }

        for (i = 0; i < h->ntargets; i++) {
            while ((r = h->targets[i]->head) != NULL) {
                h->targets[i]->head = r->next;
                if (h->targets[i]->head == NULL) {
                    h->targets[i]->tail = NULL;
                }
                h->queued--;
                cw_http_cancel(r);
            }
        }

        for (i = 0; i < h->nauths; i++) {
            a = h->auths[i];
            while ((r = a->head) != NULL) {
                a->head = r->next;
                if (a->head == NULL) {
                    a->tail = NULL;
                }
                h->queued--;
                cw_http_cancel(r);
            }
            a->fetching = 0;
        }

        while ((r = h->done_head) != NULL) {
            h->done_head = r->next;
            if (h->done_head == NULL) {
                h->done_tail = NULL;
            }
            cw_http_done(r);
        }
    }
}


void *
cw_call_new(size_t size, void *client, int op, void *data)
{
    cw_call_t  *c = cw_calloc(1, size);

    c->client = client;
    c->op = op;
    c->data = data;

    return c;
}
