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

typedef struct {
    /* [redis] */
    char   *redis_host;
    long    redis_port;
    char   *redis_password;
    long    redis_db;
    long    redis_timeout_ms;
    char   *prefix;

    /* [worker] */
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
    char   *log_level;
    long    log_maxlen;

    /* [http] */
    long    http_timeout_ms;
    long    http_connect_timeout_ms;
    long    http_verify_tls;
    char   *http_ca_file;

    /* [salesforce] */
    char   *sf_login_url;
    char   *sf_token_url;
    char   *sf_auth;
    char   *sf_client_id;
    char   *sf_client_secret;
    char   *sf_refresh_token;
    char   *sf_username;
    char   *sf_private_key_file;
    char   *sf_audience;
    char   *sf_api_version;
    long    sf_max_concurrency;
    long    sf_rps;
    char   *sf_field_helparound_id;
    char   *sf_field_tracker_view;
    char   *sf_field_partner_external_id;
    long    sf_tracker_view_task;
    char   *sf_tracker_view_task_subject;

    /* [hint], [healthsherpa]: used by later handlers; `check` pings them */
    char   *hint_base_url;
    char   *hint_api_key;
    long    hint_max_concurrency;
    long    hint_rps;
    char   *hs_base_url;
    char   *hs_api_key;
    char   *hs_agent_email;
    long    hs_max_concurrency;
    long    hs_rps;

    /* derived */
    char   *key_jobs;
    char   *key_retry;
    char   *key_dead;
    char   *key_log;
} cw_conf_t;

/*
 * Defaults, then the file (may be NULL), then the environment.  Errors
 * go to `err` (one line each, all of them) and the result is -1.
 */
int cw_conf_load(cw_conf_t *c, const char *path, char *err, size_t errlen);
void cw_conf_free(cw_conf_t *c);

#endif /* CW_CONFIG_H */
