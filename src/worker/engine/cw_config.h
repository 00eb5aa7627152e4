/*
 * caresync-worker: the configuration file.
 *
 * Format: `key = value` lines under `[section]` headers, `#` comments.
 * Every key may be overridden by the environment variable
 * CARESYNC_<SECTION>_<KEY> (upper-cased), and every secret may instead be
 * given as `<key>_env = VAR` or `<key>_file = /path` so that no secret
 * has to live in the file.  The table in cw_config.c is the reference;
 * docs/worker.md mirrors it.
 */
#ifndef CW_CONFIG_H
#define CW_CONFIG_H

#include "cs_seal.h"
#include "engine/cw_log.h"

/* redis.sentinels: at most this many (each is tried in turn, bounded) */
#define CW_SENTINELS_MAX  16

/* salesforce.auth: the OAuth 2.0 flow (cw_conf_sf_auth_name() for logs) */
typedef enum {
    CW_SF_AUTH_CLIENT_CREDENTIALS = 0,
    CW_SF_AUTH_REFRESH_TOKEN,
    CW_SF_AUTH_JWT
} cw_sf_auth_e;

typedef struct {
    /* [redis] */
    struct {
        char   *host;
        long    port;
        char   *password;
        long    db;
        long    timeout_ms;
        char   *prefix;
        /* Sentinel: the primary is asked of these (cw_sentinel.h) */
        char   *sentinels;           /* "host:port host:port ..." */
        char   *master_name;
        char   *sentinel_password;
        /* TLS (cw_redis_io.h): verification is always on */
        long    tls;
        char   *tls_ca;
        char   *tls_cert;
        char   *tls_key;
        char   *tls_server_name;
        long    replicas;            /* WAIT for these after a job's end */
        long    cluster;             /* a Cluster client (cw_cluster.h) */
        /* derived: `sentinels` parsed */
        int     nsentinels;
        char   *sentinel_host[CW_SENTINELS_MAX];
        int     sentinel_port[CW_SENTINELS_MAX];
    } redis;

    /* [worker] */
    struct {
        long    concurrency;
        long    max_attempts;
        long    backoff_base_ms;
        long    backoff_max_ms;
        long    claim_idle_ms;
        long    reclaim_interval_ms;
        long    poll_ms;
        long    shutdown_deadline_ms;
        long    status_ttl_s;
        char   *consumer;
        cw_log_level_e  log_level;    /* lines below it are dropped */
        long    log_maxlen;
    } worker;

    /* [http]: every target */
    struct {
        long    timeout_ms;
        long    connect_timeout_ms;
        long    verify_tls;
        char   *ca_file;
    } http;

    /* [salesforce]: the CRM and its field names */
    struct {
        char   *login_url;
        char   *token_url;
        cw_sf_auth_e  auth;           /* the OAuth 2.0 flow */
        char   *client_id;
        char   *client_secret;
        char   *refresh_token;
        char   *username;
        char   *private_key_file;
        char   *audience;
        char   *instance_domains;    /* where instance_url may point */
        char   *api_version;
        long    max_concurrency;
        long    rps;
        char   *field_helparound_id;
        char   *field_tracker_view;
        char   *field_partner_external_id;
        long    tracker_view_task;
        char   *tracker_view_task_subject;
        char   *helparound_fields;
        char   *field_last_batch;    /* Last_Batch_Sync_Id__c */
        char   *field_hint_patient_id;
        char   *field_synced;
        char   *field_practitioner;
        char   *field_insurance_payer;
        char   *field_insurance_group;
        char   *field_insurance_member;
        char   *field_contract;
        char   *field_contract_at;
        char   *field_hipaa;
        char   *field_hipaa_at;
    } sf;

    /* [hint] */
    struct {
        char   *base_url;
        char   *api_key;
        long    max_concurrency;
        long    rps;
        long    create_contacts;     /* patient.created, no match */
        long    batch_create_contacts; /* batch hint-to-crm, no match */
        char   *default_account_id;
        char   *inactive_statuses;   /* membership_status values */
        char   *field_contract;      /* Hint-side names: unconfirmed */
        char   *field_contract_at;
        char   *field_hipaa;
        char   *field_hipaa_at;
    } hint;

    /* [healthsherpa] */
    struct {
        char   *base_url;
        char   *api_key;
        char   *agent_email;
        char   *agents;              /* other agents actions may name */
        long    max_concurrency;
        long    rps;
        long    version;             /* 1: API key, 2: OAuth */
        char   *search_path;         /* default /v1|/v2/contacts/search */
        char   *birth_date_key;      /* birth_date (live v1) */
        char   *authorize_url;
        char   *token_url;
        char   *client_id;
        char   *client_secret;
        char   *redirect_uri;
        char   *token_key;           /* AES-256-GCM key of stored tokens */
        char   *map;                 /* "hs_field:CrmField,..." */
        char   *field_contact_id;
        char   *field_medicare_number;
    } hs;

    /* [helparound]: enrollment media */
    struct {
        char   *media_url_template;
        char   *api_key;
        char   *api_key_header;
        long    max_concurrency;
        long    rps;
        long    enrich_with_healthsherpa;
    } ha;

    /* [crypto]: the job key ring (cw_crypto.h) */
    struct {
        char   *keys;                /* "id:/path ...", the last seals */
        long    allow_clear;         /* PHI in the clear gets through */
        cs_seal_ring_t  *ring;       /* derived: the keys, read at load */
    } crypto;

    /* [retention]: how long what a job leaves behind is kept (s), and
       how many entries at most (docs/phi-and-retention.md) */
    struct {
        long    archive_s;           /* processed jobs, {prefix}:archive */
        long    archive_max;
        long    dead_s;              /* dead letters, {prefix}:dead */
        long    dead_max;
        long    audit_s;             /* the audit trail, {prefix}:audit */
        long    audit_max;
        long    prune_interval_ms;   /* how often `run` prunes */
    } retain;

    /* [metrics]: Prometheus text of `run` (engine/cw_metrics.h) */
    struct {
        char   *listen;              /* "127.0.0.1:9187"; NULL: off */
        long    allow_remote;        /* a non-loopback address, knowingly */
    } metrics;

    /* [tracing]: OTLP/HTTP export of the jobs' spans (cw_trace.h) */
    struct {
        char   *otlp_endpoint;       /* ".../v1/traces"; NULL: off */
        char   *service_name;
        long    otlp_timeout_ms;
        long    otlp_max_spans;      /* buffered at most; more: dropped */
    } tracing;

    /* derived: the Redis keys under the prefix */
    struct {
        char   *jobs;
        char   *retry;
        char   *dead;
        char   *log;
        char   *archive;
        char   *audit;
    } key;
} cw_conf_t;

/* "client_credentials", "refresh_token", "jwt": as configured, for logs */
const char *cw_conf_sf_auth_name(cw_sf_auth_e auth);

/*
 * Defaults, then the file (may be NULL), then the environment.  Errors
 * go to `err` (one line each, all of them) and the result is -1.
 */
int cw_conf_load(cw_conf_t *c, const char *path, char *err, size_t errlen);

/* Appends one line to the errors of a load (cw_crypto.c adds its own). */
void cw_conf_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cw_conf_free(cw_conf_t *c);

#endif /* CW_CONFIG_H */
