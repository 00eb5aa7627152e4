/*
 * ngx_http_caresync_module: the nginx side of caresync.
 *
 *   handler.c      method, content type, body; hands the body to the core
 *   enqueue.c      the job's way into Redis: dedupe + XADD in one script
 *   command.c      requests' commands to Redis: jobs grouped per turn, send,
 *                  time out, detach
 *   redis.c        the per-worker Redis connection: nginx's I/O, resolver
 *                  and SSL, hiredis's reply parser
 *   redis_conf.c   its configuration: resolver, sentinels, TLS context
 *   sentinel.c     the primary's address, asked of Redis Sentinel
 *   api.c          the actions API: routing, bearer tokens, job status
 *   status.c       GET of a job's status record
 *   console.c      the console: its page, its calls, security headers
 *   console_assets.c  the page's files, made from console/ at build time
 *   oauth.c        the OAuth callback of "Login to HealthSherpa"
 *   search.c       the "Sync to Hint" search box, trimmed to what it needs
 *   auth.c         shared secrets, HMAC signatures, Standard Webhooks
 *   seal.c         the job key ring (caresync_job_key)
 *   metrics.c      counters in shared memory, Prometheus text
 *   reply.c        writing JSON answers
 *   error_filter.c nginx's own error pages (413, …) as JSON
 *   module.c       directives, configuration, process hooks
 *
 * Validation and normalization live in ../src (cs_*), which knows
 * nothing of nginx.
 */

#ifndef _NGX_HTTP_CARESYNC_H_INCLUDED_
#define _NGX_HTTP_CARESYNC_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <hiredis/hiredis.h>

#include "cs_ingest.h"
#include "cs_names.h"
#include "cs_seal.h"
#include "cs_sig.h"


typedef struct {
    ngx_str_t                   name;        /* as written, for logs */
    ngx_str_t                   host;        /* without the port */
    ngx_int_t                   port;
    ngx_addr_t                  naddr;       /* an address as written;
                                                socklen 0: a host name */
    ngx_resolver_t             *resolver;    /* a host name's, per connect */
    ngx_array_t                *sentinels;   /* ngx_addr_t; NULL: none */
    ngx_uint_t                  by_sentinel; /* "caresync_redis sentinel" */
    ngx_str_t                   master;      /* the sentinels' name for it */
    ngx_msec_t                  resolver_timeout;
    ngx_flag_t                  tls;         /* caresync_redis_tls */
    ngx_str_t                   tls_trusted;
    ngx_str_t                   tls_certificate;
    ngx_str_t                   tls_key;     /* the key itself, read at
                                                configuration time */
    ngx_str_t                   tls_name;    /* verified; default: host */
    ngx_uint_t                  tls_ip;      /* tls_name is an address */
#if (NGX_HTTP_SSL)
    ngx_ssl_t                  *ssl;         /* NULL: in the clear */
#else
    void                       *ssl;
#endif
    ngx_str_t                   password;
    ngx_int_t                   db;
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;
    ngx_uint_t                  queue_commands;  /* caresync_redis_queue */
    size_t                      queue_bytes;
    ngx_uint_t                  configured;  /* unsigned */
} ngx_http_caresync_redis_conf_t;


typedef struct {
    ngx_http_caresync_redis_conf_t  redis;
    ngx_uint_t                      used;    /* some location enqueues */
    ngx_uint_t                      metrics; /* a caresync_metrics location */
    cs_seal_ring_t                 *ring;    /* caresync_job_key, NULL: none */
    ngx_uint_t                      clear;   /* "caresync_job_key off" */
} ngx_http_caresync_main_conf_t;


/*
 * A bearer token of the actions API, and the agents it may act for
 * (SHA-256 digests of their normalized text, see auth.c); agents NULL:
 * any agent.
 */
typedef struct {
    ngx_str_t                   secret;
    ngx_array_t                *agents;     /* u_char[32] */
} ngx_http_caresync_token_t;


typedef struct {
    cs_endpoint_t               endpoint;   /* also the metrics' index */
    ngx_uint_t                  webhook;    /* cs_webhook_t */
    ngx_uint_t                  api;        /* unsigned: caresync_api */
    ngx_uint_t                  console;    /* unsigned: caresync_console,
                                               an api location too */
    ngx_uint_t                  oauth_callback;  /* unsigned */
    ngx_str_t                   prefix;
    ngx_str_t                   partner_source;
    ngx_msec_t                  dedupe_ttl;
    ngx_flag_t                  keep_raw;
    size_t                      max_raw;
    ngx_int_t                   max_depth;
    ngx_int_t                   max_values;
    time_t                      retry_after;

    /*
     * authentication, see auth.c: a webhook location needs one of the
     * sender checks and an API location bearer tokens, unless it says
     * "caresync_auth off"
     */
    ngx_flag_t                  auth;            /* caresync_auth */
    ngx_str_t                   auth_header;     /* name */
    ngx_str_t                   auth_secret;
    ngx_str_t                   auth_secret2;    /* while rotating */
    ngx_array_t                *api_tokens;      /* tokens, see above */
    ngx_array_t                *hmac_keys;       /* cs_sig_key_t */
    ngx_str_t                   hmac_header;
    ngx_str_t                   hmac_prefix;
    ngx_uint_t                  hmac_base64;
    ngx_array_t                *sw_keys;         /* cs_sig_key_t */
    time_t                      sw_tolerance;

    /* the "Sync to Hint" search box; see search.c */
    ngx_str_t                   hint_search;     /* internal location */
    ngx_str_t                   hint_search_param;
    ngx_uint_t                  hint_search_limit;
} ngx_http_caresync_loc_conf_t;


typedef struct ngx_http_caresync_pending_s  ngx_http_caresync_pending_t;

/*
 * What a reply means for the request: the callback answers the client and
 * returns the code to finalize with.  It is only called with a reply that
 * is not an error: errors, timeouts and lost connections are 503s.
 */
typedef ngx_int_t (*ngx_http_caresync_reply_pt)(ngx_http_request_t *r,
    redisReply *reply);


typedef struct {
    ngx_str_t                   text;
    u_char                      sha1[40];   /* hex, for EVALSHA */
} ngx_http_caresync_script_t;


#define NGX_HTTP_CARESYNC_MAX_ARGS  24


/*
 * A webhook's job, sent together with the other jobs of the same event
 * loop turn (command.c: group commit).  The group's script is enqueue.c's
 * and reads, after the jobs' XADDs:
 *   KEYS[1] the stream, then per job its mark and, if it has one, its
 *   message mark;
 *   ARGV per job: the job id, the mark's life in ms, the message mark's
 *   life in ms ("0": none);
 * it returns one integer per job, 1 queued, 0 a repeat.
 */
typedef struct {
    ngx_http_caresync_script_t  *script;
    ngx_str_t                    stream;
    ngx_str_t                    mark;
    ngx_str_t                    message;   /* len 0: none */
    ngx_str_t                    id;
    ngx_str_t                    job;
    ngx_msec_t                   mark_ttl;
    ngx_msec_t                   message_ttl;
} ngx_http_caresync_job_t;


/* One command of one request; argv stays valid for the NOSCRIPT retry. */
typedef struct {
    ngx_http_caresync_job_t     *job;       /* a job, sent grouped */
    ngx_http_caresync_script_t  *script;    /* NULL: a plain command */
    ngx_uint_t                   nkeys;     /* for scripts */
    ngx_uint_t                   argc;
    const char                  *argv[NGX_HTTP_CARESYNC_MAX_ARGS];
    size_t                       lens[NGX_HTTP_CARESYNC_MAX_ARGS];
    ngx_http_caresync_reply_pt   handler;
    unsigned                     idempotent:1;  /* safe to send again */
} ngx_http_caresync_cmd_t;


/* Per-request state, in the request pool. */
typedef struct {
    ngx_http_caresync_pending_t  *pending;   /* in flight to Redis */
    ngx_http_caresync_cmd_t       cmd;

    ngx_str_t                     job_id;
    ngx_str_t                     answer;    /* the success body */
    ngx_str_t                     message_id; /* verified, Standard
                                                 Webhooks */
    ngx_msec_t                    started;   /* the command, for metrics */
    ngx_uint_t                    kind;      /* api: the action */
    ngx_str_t                     status_base;
    ngx_http_caresync_token_t    *token;     /* api: the one that matched */
    ngx_str_t                     idempotency_key;  /* api: the header */
    ngx_str_t                     body;      /* as received; held while
                                                 the request waits */
    ngx_str_t                     mark;      /* api: what its marks hold */

    unsigned                      own_response:1;  /* we wrote it */
    unsigned                      replace_body:1;  /* error filter */
    unsigned                      body_sent:1;
    ngx_str_t                     error_body;
    const char                   *refusal;   /* why a 401 */
    ngx_uint_t                    search_status;
    ngx_str_t                     search_body;
    ngx_log_t                    *quiet_log; /* ngx_http_caresync_quiet() */
    ngx_uint_t                    quiet_level;
    unsigned                      quiet:1;
} ngx_http_caresync_ctx_t;


/*
 * redis.c: one connection per worker process.  The connection knows
 * nothing of the layers above it: they register what is to happen when a
 * connection is ready (AUTH and SELECT done) and when a connection fails
 * (reconnect 0) or comes back (reconnect 1).  A command is RESP the
 * caller wrote; its reply (a hiredis redisReply, or NULL when the
 * connection went first) goes to the callback given with it, and is freed
 * when the callback returns.
 */
typedef struct ngx_http_caresync_redis_s  ngx_http_caresync_redis_t;

typedef void (*ngx_http_caresync_redis_reply_pt)(ngx_http_caresync_redis_t *rd,
    void *reply, void *data);
typedef void (*ngx_http_caresync_redis_ready_pt)(ngx_http_caresync_redis_t *rd);
typedef void (*ngx_http_caresync_redis_event_pt)(ngx_uint_t reconnect);

void ngx_http_caresync_redis_hooks(ngx_http_caresync_redis_ready_pt ready,
    ngx_http_caresync_redis_event_pt event);
ngx_int_t ngx_http_caresync_redis_init(ngx_cycle_t *cycle,
    ngx_http_caresync_redis_conf_t *rcf);
void ngx_http_caresync_redis_exit(void);
ngx_http_caresync_redis_t *ngx_http_caresync_redis_get(void);
ngx_int_t ngx_http_caresync_redis_reserve(ngx_http_caresync_redis_t *rd,
    size_t size);
ngx_int_t ngx_http_caresync_redis_send(ngx_http_caresync_redis_t *rd,
    ngx_http_caresync_redis_reply_pt fn, void *data, ngx_str_t *parts,
    ngx_uint_t n);
void ngx_http_caresync_redis_drop(void);
ngx_int_t ngx_http_caresync_redis_peer(ngx_peer_connection_t *pc,
    ngx_str_t *name, ngx_log_t *log, void *data, ngx_event_handler_pt read,
    ngx_event_handler_pt write);
ngx_err_t ngx_http_caresync_redis_connect_error(ngx_connection_t *c);
redisReader *ngx_http_caresync_redis_reader(size_t *size);

/* redis_conf.c */
char *ngx_http_caresync_redis_conf(ngx_conf_t *cf,
    ngx_http_caresync_redis_conf_t *rcf);
char *ngx_http_caresync_redis_tls_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* sentinel.c */
typedef void (*ngx_http_caresync_sentinel_pt)(ngx_int_t rc,
    struct sockaddr *sockaddr, socklen_t socklen, void *data);

char *ngx_http_caresync_sentinel_conf(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_caresync_sentinel_ask(ngx_http_caresync_redis_conf_t *rcf,
    ngx_log_t *log, ngx_http_caresync_sentinel_pt handler, void *data);
void ngx_http_caresync_sentinel_cancel(void);
ngx_int_t ngx_http_caresync_sentinel_addr(ngx_sockaddr_t *sa,
    socklen_t *socklen, u_char *text, size_t len);

/* command.c */
void ngx_http_caresync_command_init(ngx_cycle_t *cycle,
    ngx_http_caresync_redis_conf_t *rcf);
ngx_int_t ngx_http_caresync_command(ngx_http_request_t *r,
    ngx_http_caresync_ctx_t *ctx);
ngx_int_t ngx_http_caresync_command_held(ngx_http_request_t *r,
    ngx_http_caresync_ctx_t *ctx);
void ngx_http_caresync_cmd_arg(ngx_http_caresync_cmd_t *cmd, void *data,
    size_t len);
ngx_int_t ngx_http_caresync_script_init(ngx_http_caresync_script_t *script);

/* enqueue.c */
ngx_int_t ngx_http_caresync_enqueue(ngx_http_request_t *r,
    ngx_http_caresync_ctx_t *ctx, cs_ingest_t *in);
ngx_int_t ngx_http_caresync_enqueue_init(ngx_cycle_t *cycle);
ngx_int_t ngx_http_caresync_enqueue_record(ngx_http_request_t *r,
    ngx_http_caresync_cmd_t *cmd, cs_ingest_t *in);

/* reply.c */
ngx_int_t ngx_http_caresync_reply(ngx_http_request_t *r, ngx_uint_t status,
    ngx_str_t *body);
ngx_int_t ngx_http_caresync_reply_raw(ngx_http_request_t *r, ngx_str_t *body);
ngx_int_t ngx_http_caresync_reply_buf(ngx_http_request_t *r,
    ngx_uint_t status, cs_buf_t *b);
ngx_int_t ngx_http_caresync_reply_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *message);
ngx_int_t ngx_http_caresync_reply_unavailable(ngx_http_request_t *r);
ngx_int_t ngx_http_caresync_reply_not_allowed(ngx_http_request_t *r,
    char *allow);
ngx_int_t ngx_http_caresync_reply_not_found(ngx_http_request_t *r);

/* handler.c */
ngx_int_t ngx_http_caresync_handler(ngx_http_request_t *r);
ngx_http_caresync_ctx_t *ngx_http_caresync_ctx_create(ngx_http_request_t *r);
ngx_int_t ngx_http_caresync_quiet(ngx_http_request_t *r,
    ngx_http_caresync_ctx_t *ctx);
void ngx_http_caresync_loud(ngx_http_caresync_ctx_t *ctx);
ngx_int_t ngx_http_caresync_check_json(ngx_http_request_t *r);
ngx_int_t ngx_http_caresync_reply_not_json(ngx_http_request_t *r);
ngx_int_t ngx_http_caresync_read_body(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt handler);
ngx_int_t ngx_http_caresync_body(ngx_http_request_t *r, ngx_str_t *body);
ngx_int_t ngx_http_caresync_ingest(ngx_http_request_t *r,
    ngx_http_caresync_ctx_t *ctx, cs_webhook_t kind, ngx_str_t *status_base);

/* api.c */
ngx_int_t ngx_http_caresync_api_handler(ngx_http_request_t *r);

/* search.c */
ngx_int_t ngx_http_caresync_search(ngx_http_request_t *r);

/* console.c */
ngx_int_t ngx_http_caresync_console_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_caresync_console_init(ngx_cycle_t *cycle);
/* the console's strict headers, on every answer of its locations */
ngx_int_t ngx_http_caresync_security_headers(ngx_http_request_t *r);
/* the shapes of a batch's id and of its items' job ids (cw_batch.h) */
ngx_uint_t ngx_http_caresync_batch_id(ngx_str_t *id);
ngx_uint_t ngx_http_caresync_batch_item_id(ngx_str_t *id);

/* oauth.c */
ngx_int_t ngx_http_caresync_oauth_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_caresync_oauth_init(ngx_cycle_t *cycle);

/* status.c */
ngx_int_t ngx_http_caresync_status(ngx_http_request_t *r, ngx_str_t *job_id);
ngx_uint_t ngx_http_caresync_job_id(ngx_str_t *job_id);
ngx_int_t ngx_http_caresync_status_read(ngx_http_request_t *r,
    const char *cmd, ngx_str_t *job_id, ngx_http_caresync_reply_pt handler);

/* auth.c */
ngx_int_t ngx_http_caresync_auth_headers(ngx_http_request_t *r);
ngx_int_t ngx_http_caresync_auth_body(ngx_http_request_t *r, ngx_str_t *body,
    ngx_str_t *idem);
ngx_int_t ngx_http_caresync_reply_refused(ngx_http_request_t *r);
ngx_table_elt_t *ngx_http_caresync_header(ngx_http_request_t *r,
    ngx_str_t *name);
ngx_int_t ngx_http_caresync_auth_agent(ngx_http_request_t *r,
    cs_ingest_t *in);
/* "token-" and 12 hex digits of the SHA-256 of the request's bearer token
 * (none: "token-none"); returns the length */
#define NGX_HTTP_CARESYNC_ACTOR_LEN  (sizeof("token-") - 1 + 12)
size_t ngx_http_caresync_auth_actor(ngx_http_request_t *r, u_char *out);
char *ngx_http_caresync_conf_secret(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t param, ngx_str_t *out);
char *ngx_http_caresync_conf_key(ngx_conf_t *cf, ngx_str_t *text,
    ngx_uint_t param, cs_sig_key_t *key, ngx_uint_t whsec);
char *ngx_http_caresync_conf_agents(ngx_conf_t *cf, ngx_str_t *value,
    ngx_uint_t param, ngx_array_t **agents);

/* seal.c */
char *ngx_http_caresync_job_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_caresync_check_job_key(ngx_conf_t *cf,
    ngx_http_caresync_main_conf_t *cmcf);

/* metrics.c */
ngx_int_t ngx_http_caresync_metrics_init_conf(ngx_conf_t *cf);
ngx_int_t ngx_http_caresync_metrics_handler(ngx_http_request_t *r);
void ngx_http_caresync_metrics_request(ngx_http_request_t *r,
    ngx_uint_t status);
void ngx_http_caresync_metrics_reject(ngx_http_request_t *r,
    cs_reason_t reason);
void ngx_http_caresync_metrics_dedupe(ngx_http_request_t *r);
void ngx_http_caresync_metrics_not_synced(ngx_http_request_t *r);
void ngx_http_caresync_metrics_redis(ngx_uint_t reconnect);
void ngx_http_caresync_metrics_command_start(ngx_http_request_t *r);
void ngx_http_caresync_metrics_command_done(ngx_http_request_t *r,
    ngx_uint_t ok);

/* error_filter.c */
ngx_int_t ngx_http_caresync_error_filter_init(ngx_conf_t *cf);


extern ngx_module_t  ngx_http_caresync_module;


#endif /* _NGX_HTTP_CARESYNC_H_INCLUDED_ */
