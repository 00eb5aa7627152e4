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
    char   *sf_instance_domains;        /* where instance_url may point */
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
    /* issue 7: Hint <-> Salesforce (cw_h_hint.c, cw_hintmap.c) */
    long    hint_create_contacts;       /* patient.created, no match */
    long    hint_batch_create_contacts; /* batch hint-to-crm, no match */
    char   *hint_default_account_id;
    char   *hint_inactive_statuses;     /* membership_status values */
    char   *hint_field_contract;        /* Hint-side names: unconfirmed */
    char   *hint_field_contract_at;
    char   *hint_field_hipaa;
    char   *hint_field_hipaa_at;
    char   *hs_base_url;
    char   *hs_api_key;
    char   *hs_agent_email;
    char   *hs_agents;                  /* the other agents actions may name */
    long    hs_max_concurrency;
    long    hs_rps;

    /* [helparound] and the enrollment mapping (issue 5, cw_h_enrollment.c) */
    char   *ha_media_url_template;
    char   *ha_api_key;
    char   *ha_api_key_header;
    long    ha_max_concurrency;
    long    ha_rps;
    long    ha_enrich_with_healthsherpa;
    char   *sf_helparound_fields;
    /* issue 6: HealthSherpa (cw_healthsherpa.c, cw_h_healthsherpa.c) */
    long    hs_version;                 /* 1: API key, 2: OAuth */
    char   *hs_search_path;             /* default /v1|/v2/contacts/search */
    char   *hs_birth_date_key;          /* birth_date (live v1) */
    char   *hs_authorize_url;
    char   *hs_token_url;
    char   *hs_client_id;
    char   *hs_client_secret;
    char   *hs_redirect_uri;
    char   *hs_token_key;               /* AES-256-GCM key of stored tokens */
    char   *hs_map;                     /* "hs_field:CrmField,..." */
    char   *hs_field_contact_id;
    char   *hs_field_medicare_number;
    char   *sf_field_last_batch;        /* Last_Batch_Sync_Id__c */
    /* issue 7: the Hint integration fields' API names (cw_hintmap.c) */
    char   *sf_field_hint_patient_id;
    char   *sf_field_synced;
    char   *sf_field_practitioner;
    char   *sf_field_insurance_payer;
    char   *sf_field_insurance_group;
    char   *sf_field_insurance_member;
    char   *sf_field_contract;
    char   *sf_field_contract_at;
    char   *sf_field_hipaa;
    char   *sf_field_hipaa_at;

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
