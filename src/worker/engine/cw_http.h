/*
 * caresync-worker: the one HTTP client layer, on libcurl's multi
 * interface (its socket API, driven by epoll).
 *
 * A request is a small object with a completion callback; many are in
 * flight at once on one thread, and a job's state machine advances from
 * those callbacks.  The layer owns what every target needs the same way:
 * timeouts, TLS verification (on by default), per-target caps on
 * concurrency and requests per second, the transient/permanent
 * classification of failures with Retry-After, JSON bodies (jansson), and
 * the OAuth token cache: requests wait while a token is fetched, and a
 * 401 makes the layer refresh the token once and send the request again;
 * a second 401 is the caller's failure.
 */
#ifndef CW_HTTP_H
#define CW_HTTP_H

#include <stdint.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cs_buf.h"
#include "engine/cw_err.h"


/* header lines of the layer's own a request (Accept, Expect,
 * Content-Type, the observer's, Authorization) */
#define CW_HTTP_HDRS  5

typedef struct cw_http_s      cw_http_t;
typedef struct cw_http_req_s  cw_http_req_t;
typedef struct cw_target_s    cw_target_t;
typedef struct cw_auth_s      cw_auth_t;

typedef void (*cw_http_done_pt)(cw_http_req_t *req);
typedef void (*cw_auth_fetch_pt)(cw_auth_t *auth);

/* A remote API: its base URL and its caps. */
struct cw_target_s {
    const char     *name;
    char           *base_url;
    int             max_conc;
    double          rps;            /* 0: no cap */
    int             inflight;
    double          tokens;
    uint64_t        refill_ms;
    cw_http_req_t  *head, *tail;    /* waiting for a slot */
    uint64_t        requests, throttled;
    char            limit_info[64]; /* Sforce-Limit-Info, last seen */
};

/* A cached bearer token; `fetch` is the client's way of getting one. */
struct cw_auth_s {
    cw_http_t        *http;
    const char       *name;
    char             *token;
    char             *base_url;     /* Salesforce: instance_url */
    unsigned          gen;
    int               fetching;
    uint64_t          expires_ms;   /* monotonic; 0: until a 401 */
    cw_auth_fetch_pt  fetch;
    void             *data;
    cw_http_req_t    *head, *tail;  /* waiting for a token */
    uint64_t          fetches;
};

struct cw_http_req_s {
    /* set by the caller */
    const char       *method;
    char             *url;          /* absolute, or "/path" on the base */
    cs_buf_t          body;
    const char       *content_type;
    cw_target_t      *target;
    cw_auth_t        *auth;
    cw_http_done_pt   done;
    void             *data;
    long              timeout_ms;   /* 0: the layer's default */
    struct curl_slist  *extra;      /* cw_http_req_header() */
    int               raw;          /* the answer is not JSON (media):
                                       kept in resp, never parsed */

    /* the outcome, valid in `done` */
    long              status;
    cs_buf_t          resp;
    json_t           *json;         /* parsed body, or NULL */
    cw_err_t          err;          /* cls NONE on success */
    int               auth_failed;  /* err is the token fetch's */

    /* the layer's */
    cw_http_t        *http;
    CURL             *easy;
    /*
     * The header lines curl sends: nodes of the request's own, the last
     * one linked to `extra`, so no list is allocated per request; the
     * text of the lines that vary (a token) is in hdrtext, wiped.
     */
    struct curl_slist  hdrs[CW_HTTP_HDRS];
    cs_buf_t          hdrtext;
    unsigned          auth_gen;
    int               auth_retried;
    long              retry_after_ms; /* the answer's Retry-After, -1 */
    char             *audit_what;   /* a write (cw_http_req_audit()) */
    char             *audit_record;
    char             *audit_fields;
    cw_http_req_t    *next;         /* in a queue */
    cw_http_req_t    *iprev, *inext;  /* in flight */

    /* the observer's (cw_http_observer_t) */
    void             *ctx;          /* what it belongs to, held */
    uint64_t          sent_ms;      /* monotonic, this try */
    unsigned char     span_id[8];   /* this try's span */
};

/*
 * What watches the requests (engine/cw_trace.c: the trace, the job's
 * timeline and the metrics), without the layer knowing any of it.  A
 * request holds the context that was current when it was made (`take`),
 * and that context is current again while its `done` runs (`enter`,
 * `leave`), so that follow-up requests and log lines belong to the same
 * job.  `launch` may add one header line per try; `end` sees every try
 * that reached the network, classified, before `done`.
 */
typedef struct {
    void   *(*take)(void);
    void    (*drop)(void *ctx);
    void   *(*enter)(void *ctx);
    void    (*leave)(void *prev);
    void    (*launch)(cw_http_req_t *req, char *line, size_t n);
    void    (*end)(cw_http_req_t *req);
    void    (*auth)(cw_auth_t *a, int ok);    /* a token fetch ended */
    /* the id of the job a context is for (the audit of a write), or NULL */
    const char  *(*job)(void *ctx);
} cw_http_observer_t;

void cw_http_observe(cw_http_t *http, const cw_http_observer_t *o);

typedef struct {
    long         timeout_ms;
    long         connect_timeout_ms;
    int          verify_tls;
    const char  *ca_file;
    int          max_total;         /* connections kept */
} cw_http_conf_t;

cw_http_t *cw_http_create(const cw_http_conf_t *conf);
void cw_http_destroy(cw_http_t *http);

void cw_target_init(cw_target_t *t, const char *name, const char *base_url,
    int max_conc, double rps);
void cw_auth_init(cw_auth_t *a, cw_http_t *http, const char *name,
    cw_auth_fetch_pt fetch, void *data);
void cw_auth_free(cw_auth_t *a);
/* The client's fetch ends with one of these; waiting requests go on. */
void cw_auth_set(cw_auth_t *a, const char *token, const char *base_url,
    long expires_in_s);
void cw_auth_fail(cw_auth_t *a, const cw_err_t *err);

cw_http_req_t *cw_http_req_new(cw_http_t *http, const char *method,
    cw_target_t *target, cw_auth_t *auth, cw_http_done_pt done, void *data);
void cw_http_req_free(cw_http_req_t *req);
void cw_http_req_url(cw_http_req_t *req, const char *url);
/* One more "Name: value" header line (copied; wiped when freed). */
void cw_http_req_header(cw_http_req_t *req, const char *line);
/* The body as compact JSON (the reference is not taken). */
void cw_http_req_json(cw_http_req_t *req, json_t *body);
/*
 * Marks the request as a write to audit once it succeeds: `what` is the
 * object written ("Contact", "patient"), `record` its id when known (else
 * the answer's `id`), and the NAMES of the fields come from `body` (its
 * keys; a collection's: every record's), never a value.  The hook set by
 * cw_http_on_write() gets them with the job the request is for.
 */
void cw_http_req_audit(cw_http_req_t *req, const char *what,
    const char *record, json_t *body);
typedef void (*cw_http_write_pt)(void *data, const char *job,
    const char *target, const char *record, const char *fields);
void cw_http_on_write(cw_http_t *http, cw_http_write_pt fn, void *data);
/* Queues the request; `done` is always called later, never from here. */
void cw_http_send(cw_http_req_t *req);
/* Completes the request on the next turn with the error already in err. */
void cw_http_fail_later(cw_http_req_t *req);
/*
 * Completes every queued and in-flight request now with a transient
 * "shutdown" error, so that their owners free what they hold.
 */
void cw_http_cancel_all(cw_http_t *http);

/*
 * One turn: waits up to `timeout_ms` for network activity (less when a
 * throttled request becomes due), then runs completions.  Returns the
 * number of requests still queued or in flight.
 */
int cw_http_poll(cw_http_t *http, long timeout_ms);
int cw_http_active(cw_http_t *http);
uint64_t cw_http_requests(cw_http_t *http);

/*
 * An id taken from a job or from an answer and put into a URL path (a
 * HelpAround media id, a Salesforce contact id or upsert value, a Hint
 * patient id): 1 to CW_HTTP_ID_MAX of [A-Za-z0-9_-], which every id of
 * spec/external-apis.md and the fixtures is.  Such an id is one path
 * segment that needs no escaping and is never `.` or `..`, so a sender
 * cannot steer a request carrying a key to another path.
 *
 * cw_http_url_id() appends the id to the URL being built, or appends
 * nothing, sets a permanent error in `err` naming `what` (never the
 * value: it may be anything a sender typed) and returns -1.  Every URL
 * builder goes through it.
 */
#define CW_HTTP_ID_MAX  128
int cw_http_id_ok(const char *s);
int cw_http_url_id(cs_buf_t *url, const char *id, const char *what,
    cw_err_t *err);

/*
 * What every client keeps of one call while its request is out: the
 * client, which of its operations it is (for messages) and the caller's
 * argument.  A client's call type begins with it and adds the caller's
 * completion, typed by that client's answer (cw_hint.c, cw_salesforce.c,
 * cw_healthsherpa.c).  cw_call_new() makes one: `size` bytes of the
 * client's type, zeroed, the head set.
 */
typedef struct {
    void  *client;
    int    op;
    void  *data;
} cw_call_t;

void *cw_call_new(size_t size, void *client, int op, void *data);

/* "Retry-After: 120" or an HTTP date; ms from now, -1 when unparsable. */
long cw_http_retry_after(const char *v, size_t len);

#endif /* CW_HTTP_H */
