/*
 * caresync-worker: the configuration file, its defaults and overrides.
 */

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/cw_cluster.h"
#include "engine/cw_config.h"
#include "engine/cw_crypto.h"
#include "engine/cw_log.h"
#include "engine/cw_metrics.h"
#include "engine/cw_util.h"


typedef enum { CW_STR, CW_INT, CW_BOOL, CW_CHOICE } cw_type_e;

/* the words of a CW_CHOICE key, in the order of its enum, then NULL */
static const char  *cw_log_levels[] = { "debug", "error", "exception", NULL };
static const char  *cw_sf_auths[] = {
    "client_credentials", "refresh_token", "jwt", NULL
};

typedef struct {
    const char          *section;
    const char          *key;
    cw_type_e            type;
    size_t               off;
    const char          *def;
    int                  secret;
    long                 min;
    long                 max;
} cw_key_t;

#define S(f)  offsetof(cw_conf_t, f)

static const cw_key_t  cw_keys[] = {
    { "redis", "host", CW_STR, S(redis.host), "127.0.0.1", 0, 0, 0 },
    { "redis", "port", CW_INT, S(redis.port), "6379", 0, 1, 65535 },
    { "redis", "password", CW_STR, S(redis.password), NULL, 1, 0, 0 },
    { "redis", "db", CW_INT, S(redis.db), "0", 0, 0, 1000 },
    { "redis", "timeout_ms", CW_INT, S(redis.timeout_ms), "5000", 0,
      10, 600000 },
    { "redis", "prefix", CW_STR, S(redis.prefix), "{caresync}", 0, 0, 0 },
    { "redis", "sentinels", CW_STR, S(redis.sentinels), NULL, 0, 0, 0 },
    { "redis", "master_name", CW_STR, S(redis.master_name), NULL, 0, 0, 0 },
    { "redis", "sentinel_password", CW_STR, S(redis.sentinel_password),
      NULL, 1, 0, 0 },
    { "redis", "tls", CW_BOOL, S(redis.tls), "off", 0, 0, 1 },
    { "redis", "tls_ca", CW_STR, S(redis.tls_ca), NULL, 0, 0, 0 },
    { "redis", "tls_cert", CW_STR, S(redis.tls_cert), NULL, 0, 0, 0 },
    { "redis", "tls_key", CW_STR, S(redis.tls_key), NULL, 0, 0, 0 },
    { "redis", "tls_server_name", CW_STR, S(redis.tls_server_name), NULL, 0,
      0, 0 },
    { "redis", "cluster", CW_BOOL, S(redis.cluster), "off", 0, 0, 1 },
    /* a bound: more replicas than this is a typo */
    { "redis", "replicas", CW_INT, S(redis.replicas), "0", 0, 0, 16 },

    { "worker", "concurrency", CW_INT, S(worker.concurrency), "16", 0, 1,
      4096 },
    { "worker", "max_attempts", CW_INT, S(worker.max_attempts), "8", 0, 1,
      100 },
    { "worker", "backoff_base_ms", CW_INT, S(worker.backoff_base_ms), "1000", 0,
      1, 3600000 },
    { "worker", "backoff_max_ms", CW_INT, S(worker.backoff_max_ms), "600000", 0,
      1, 86400000 },
    { "worker", "claim_idle_ms", CW_INT, S(worker.claim_idle_ms), "60000", 0,
      100, 86400000 },
    { "worker", "reclaim_interval_ms", CW_INT, S(worker.reclaim_interval_ms),
      "5000", 0, 10, 3600000 },
    { "worker", "poll_ms", CW_INT, S(worker.poll_ms), "1000", 0, 1, 60000 },
    { "worker", "shutdown_deadline_ms", CW_INT, S(worker.shutdown_deadline_ms),
      "20000", 0, 0, 3600000 },
    { "worker", "status_ttl_s", CW_INT, S(worker.status_ttl_s), "2592000", 0,
      1, 315360000 },
    { "worker", "consumer", CW_STR, S(worker.consumer), NULL, 0, 0, 0 },
    { "worker", "log_level", CW_CHOICE, S(worker.log_level), "debug", 0, 0,
      0 },
    { "worker", "log_maxlen", CW_INT, S(worker.log_maxlen), "100000", 0,
      100, 100000000 },

    /* a week of processed jobs to replay; dead letters and the trail
       longer (HIPAA keeps audit records six years) */
    { "retention", "archive_s", CW_INT, S(retain.archive_s), "604800", 0,
      0, 315360000 },
    { "retention", "archive_max", CW_INT, S(retain.archive_max), "100000",
      0, 0, 100000000 },
    { "retention", "dead_s", CW_INT, S(retain.dead_s), "2592000", 0,
      60, 315360000 },
    { "retention", "dead_max", CW_INT, S(retain.dead_max), "100000", 0,
      10, 100000000 },
    { "retention", "audit_s", CW_INT, S(retain.audit_s), "189216000", 0,
      60, 631152000 },
    { "retention", "audit_max", CW_INT, S(retain.audit_max), "10000000",
      0, 1000, 1000000000 },
    { "retention", "prune_interval_ms", CW_INT, S(retain.prune_interval_ms),
      "60000", 0, 100, 86400000 },

    { "http", "timeout_ms", CW_INT, S(http.timeout_ms), "30000", 0,
      10, 600000 },
    { "http", "connect_timeout_ms", CW_INT, S(http.connect_timeout_ms),
      "5000", 0, 10, 600000 },
    { "http", "verify_tls", CW_BOOL, S(http.verify_tls), "on", 0, 0, 1 },
    { "http", "ca_file", CW_STR, S(http.ca_file), NULL, 0, 0, 0 },

    { "metrics", "listen", CW_STR, S(metrics.listen), NULL, 0, 0, 0 },
    { "metrics", "allow_remote", CW_BOOL, S(metrics.allow_remote), "off", 0,
      0, 1 },

    { "tracing", "otlp_endpoint", CW_STR, S(tracing.otlp_endpoint), NULL, 0,
      0, 0 },
    { "tracing", "service_name", CW_STR, S(tracing.service_name),
      "caresync-worker", 0, 0, 0 },
    { "tracing", "otlp_timeout_ms", CW_INT, S(tracing.otlp_timeout_ms),
      "2000", 0, 100, 60000 },
    { "tracing", "otlp_max_spans", CW_INT, S(tracing.otlp_max_spans),
      "2048", 0, 16, 100000 },

    { "salesforce", "login_url", CW_STR, S(sf.login_url), NULL, 0, 0, 0 },
    { "salesforce", "token_url", CW_STR, S(sf.token_url), NULL, 0, 0, 0 },
    { "salesforce", "auth", CW_CHOICE, S(sf.auth), "client_credentials", 0,
      0, 0 },
    { "salesforce", "client_id", CW_STR, S(sf.client_id), NULL, 0, 0, 0 },
    { "salesforce", "client_secret", CW_STR, S(sf.client_secret), NULL, 1,
      0, 0 },
    { "salesforce", "refresh_token", CW_STR, S(sf.refresh_token), NULL, 1,
      0, 0 },
    { "salesforce", "username", CW_STR, S(sf.username), NULL, 0, 0, 0 },
    { "salesforce", "private_key_file", CW_STR, S(sf.private_key_file),
      NULL, 0, 0, 0 },
    { "salesforce", "audience", CW_STR, S(sf.audience), NULL, 0, 0, 0 },
    /* the token goes to instance_url: only https on Salesforce's hosts */
    { "salesforce", "instance_domains", CW_STR, S(sf.instance_domains),
      "salesforce.com, force.com", 0, 0, 0 },
    { "salesforce", "api_version", CW_STR, S(sf.api_version), "v60.0", 0,
      0, 0 },
    { "salesforce", "max_concurrency", CW_INT, S(sf.max_concurrency), "25",
      0, 1, 4096 },
    { "salesforce", "rps", CW_INT, S(sf.rps), "0", 0, 0, 100000 },
    { "salesforce", "field_helparound_patient_id", CW_STR,
      S(sf.field_helparound_id), "HelpAround_Patient_Id__c", 0, 0, 0 },
    { "salesforce", "field_last_tracker_view_at", CW_STR,
      S(sf.field_tracker_view), "Last_Tracker_View_At__c", 0, 0, 0 },
    { "salesforce", "partner_external_id_field", CW_STR,
      S(sf.field_partner_external_id), NULL, 0, 0, 0 },
    { "salesforce", "tracker_view_task", CW_BOOL, S(sf.tracker_view_task),
      "off", 0, 0, 1 },
    { "salesforce", "tracker_view_task_subject", CW_STR,
      S(sf.tracker_view_task_subject), "Patient viewed tracker", 0, 0, 0 },

    { "hint", "base_url", CW_STR, S(hint.base_url), NULL, 0, 0, 0 },
    { "hint", "api_key", CW_STR, S(hint.api_key), NULL, 1, 0, 0 },
    { "hint", "max_concurrency", CW_INT, S(hint.max_concurrency), "10", 0,
      1, 4096 },
    { "hint", "rps", CW_INT, S(hint.rps), "20", 0, 0, 100000 },
    { "hint", "create_contacts", CW_BOOL, S(hint.create_contacts), "off",
      0, 0, 1 },
    { "hint", "batch_create_contacts", CW_BOOL,
      S(hint.batch_create_contacts), "off", 0, 0, 1 },
    { "hint", "default_account_id", CW_STR, S(hint.default_account_id),
      NULL, 0, 0, 0 },
    /* Hint's membership_status values are unconfirmed: configurable */
    { "hint", "inactive_statuses", CW_STR, S(hint.inactive_statuses),
      "inactive,ended", 0, 0, 0 },
    { "hint", "field_member_contract_accepted", CW_STR,
      S(hint.field_contract), "member_contract_accepted", 0, 0, 0 },
    { "hint", "field_member_contract_accepted_at", CW_STR,
      S(hint.field_contract_at), "member_contract_accepted_at", 0, 0, 0 },
    { "hint", "field_hipaa_authorization_accepted", CW_STR,
      S(hint.field_hipaa), "hipaa_authorization_accepted", 0, 0, 0 },
    { "hint", "field_hipaa_authorization_accepted_at", CW_STR,
      S(hint.field_hipaa_at), "hipaa_authorization_accepted_at", 0, 0, 0 },

    { "healthsherpa", "base_url", CW_STR, S(hs.base_url), NULL, 0, 0, 0 },
    { "healthsherpa", "api_key", CW_STR, S(hs.api_key), NULL, 1, 0, 0 },
    { "healthsherpa", "agent_email", CW_STR, S(hs.agent_email), NULL, 0,
      0, 0 },
    /* an action naming an agent that is not one of these is refused */
    { "healthsherpa", "agents", CW_STR, S(hs.agents), NULL, 0, 0, 0 },
    { "healthsherpa", "max_concurrency", CW_INT, S(hs.max_concurrency),
      "10", 0, 1, 4096 },
    { "healthsherpa", "rps", CW_INT, S(hs.rps), "0", 0, 0, 100000 },

    /* enrollments (cw_h_enrollment.c, cw_media.c, cw_map.c) */
    { "helparound", "media_url_template", CW_STR, S(ha.media_url_template),
      NULL, 0, 0, 0 },
    { "helparound", "api_key", CW_STR, S(ha.api_key), NULL, 1, 0, 0 },
    { "helparound", "api_key_header", CW_STR, S(ha.api_key_header),
      "X-API-Key", 0, 0, 0 },
    { "helparound", "max_concurrency", CW_INT, S(ha.max_concurrency), "4",
      0, 1, 4096 },
    { "helparound", "rps", CW_INT, S(ha.rps), "0", 0, 0, 100000 },
    { "helparound", "enrich_with_healthsherpa", CW_BOOL,
      S(ha.enrich_with_healthsherpa), "off", 0, 0, 1 },
    { "salesforce", "helparound_fields", CW_STR, S(sf.helparound_fields),
      NULL, 0, 0, 0 },
    /* HealthSherpa (cw_healthsherpa.c, cw_h_healthsherpa.c) */
    { "healthsherpa", "version", CW_INT, S(hs.version), "1", 0, 1, 2 },
    { "healthsherpa", "search_path", CW_STR, S(hs.search_path), NULL, 0,
      0, 0 },
    { "healthsherpa", "birth_date_key", CW_STR, S(hs.birth_date_key),
      "birth_date", 0, 0, 0 },
    { "healthsherpa", "authorize_url", CW_STR, S(hs.authorize_url),
      "https://medicare.healthsherpa.com/oauth/authorize", 0, 0, 0 },
    { "healthsherpa", "token_url", CW_STR, S(hs.token_url),
      "https://medicare.healthsherpa.com/oauth/token", 0, 0, 0 },
    { "healthsherpa", "client_id", CW_STR, S(hs.client_id), NULL, 0, 0, 0 },
    { "healthsherpa", "client_secret", CW_STR, S(hs.client_secret), NULL, 1,
      0, 0 },
    { "healthsherpa", "redirect_uri", CW_STR, S(hs.redirect_uri), NULL, 0,
      0, 0 },
    { "healthsherpa", "token_key", CW_STR, S(hs.token_key), NULL, 1, 0, 0 },
    { "healthsherpa", "map", CW_STR, S(hs.map), NULL, 0, 0, 0 },
    { "healthsherpa", "field_contact_id", CW_STR, S(hs.field_contact_id),
      "HealthSherpa_Contact_Id__c", 0, 0, 0 },
    { "healthsherpa", "field_medicare_number", CW_STR,
      S(hs.field_medicare_number), "Medicare_Number__c", 0, 0, 0 },
    { "salesforce", "field_last_batch_sync_id", CW_STR,
      S(sf.field_last_batch), "Last_Batch_Sync_Id__c", 0, 0, 0 },
    { "crypto", "keys", CW_STR, S(crypto.keys), NULL, 0, 0, 0 },
    { "crypto", "allow_clear", CW_BOOL, S(crypto.allow_clear), "off", 0, 0,
      1 },
    /* external-apis.md: the integration fields' API names are configuration */
    { "salesforce", "field_hint_patient_id", CW_STR,
      S(sf.field_hint_patient_id), "Hint_Patient_Id__c", 0, 0, 0 },
    { "salesforce", "field_synced_to_hint", CW_STR, S(sf.field_synced),
      "Synced_To_Hint__c", 0, 0, 0 },
    { "salesforce", "field_hint_practitioner", CW_STR,
      S(sf.field_practitioner), "Hint_Practitioner__c", 0, 0, 0 },
    { "salesforce", "field_insurance_payer", CW_STR,
      S(sf.field_insurance_payer), "Insurance_Payer__c", 0, 0, 0 },
    { "salesforce", "field_insurance_group_id", CW_STR,
      S(sf.field_insurance_group), "Insurance_Group_Id__c", 0, 0, 0 },
    { "salesforce", "field_insurance_member_id", CW_STR,
      S(sf.field_insurance_member), "Insurance_Member_Id__c", 0, 0, 0 },
    { "salesforce", "field_member_contract_accepted", CW_STR,
      S(sf.field_contract), "Member_Contract_Accepted__c", 0, 0, 0 },
    { "salesforce", "field_member_contract_accepted_at", CW_STR,
      S(sf.field_contract_at), "Member_Contract_Accepted_At__c", 0, 0, 0 },
    { "salesforce", "field_hipaa_authorization_accepted", CW_STR,
      S(sf.field_hipaa), "HIPAA_Authorization_Accepted__c", 0, 0, 0 },
    { "salesforce", "field_hipaa_authorization_accepted_at", CW_STR,
      S(sf.field_hipaa_at), "HIPAA_Authorization_Accepted_At__c", 0, 0, 0 },
};

#define CW_NKEYS  (sizeof(cw_keys) / sizeof(cw_keys[0]))

/* the words of each CW_CHOICE key */
static const struct {
    size_t               off;
    const char *const   *words;
} cw_choices[] = {
    { S(worker.log_level), cw_log_levels },
    { S(sf.auth), cw_sf_auths },
};


static const char *const *
cw_conf_choices(const cw_key_t *k)
{
    size_t  i;

    for (i = 0; i < sizeof(cw_choices) / sizeof(cw_choices[0]); i++) {
        if (cw_choices[i].off == k->off) {
            return cw_choices[i].words;
        }
    }

    return NULL;
}


void
cw_conf_err(char *err, size_t errlen, const char *fmt, ...)
{
    size_t   n = strlen(err);
    va_list  ap;

    if (n + 2 >= errlen) {
        return;
    }

    va_start(ap, fmt);
    vsnprintf(err + n, errlen - n - 1, fmt, ap);
    va_end(ap);

    n = strlen(err);
    err[n] = '\n';
    err[n + 1] = '\0';
}


static const cw_key_t *
cw_conf_find(const char *section, const char *key)
{
    size_t  i;

    for (i = 0; i < CW_NKEYS; i++) {
        if (strcmp(cw_keys[i].section, section) == 0
            && strcmp(cw_keys[i].key, key) == 0)
        {
            return &cw_keys[i];
        }
    }

    return NULL;
}


/* Stores `value` into the field of `k`; `where` names it in errors. */
static int
cw_conf_set(cw_conf_t *c, const cw_key_t *k, const char *value,
    const char *where, char *err, size_t errlen)
{
    int                 i;
    char              **sp, *end;
    long                v, *lp;
    cs_buf_t            words;
    const char *const  *w;

    if (k->type == CW_STR) {
        sp = (char **) ((char *) c + k->off);
        free(*sp);
        *sp = (value && *value) ? cw_strdup(value) : NULL;
        return 0;
    }

    if (k->type == CW_CHOICE) {
        w = cw_conf_choices(k);

        for (i = 0; w[i]; i++) {
            if (strcmp(value, w[i]) == 0) {
                /* an enum of the choices' order (int-sized, small) */
                *(int *) ((char *) c + k->off) = i;
                return 0;
            }
        }

        cs_buf_init(&words);
        for (i = 0; w[i]; i++) {
            cs_buf_puts(&words, i == 0 ? "" : w[i + 1] ? ", " : " or ");
            cs_buf_puts(&words, w[i]);
        }
        cs_buf_putc(&words, '\0');

        cw_conf_err(err, errlen, "%s: %s.%s must be %s", where, k->section,
                    k->key, words.data ? words.data : "");
        cs_buf_free(&words);
        return -1;
    }

    lp = (long *) ((char *) c + k->off);

    if (k->type == CW_BOOL) {
        if (strcmp(value, "on") == 0 || strcmp(value, "true") == 0
            || strcmp(value, "yes") == 0 || strcmp(value, "1") == 0)
        {
            *lp = 1;
            return 0;
        }

        if (strcmp(value, "off") == 0 || strcmp(value, "false") == 0
            || strcmp(value, "no") == 0 || strcmp(value, "0") == 0)
        {
            *lp = 0;
            return 0;
        }

        cw_conf_err(err, errlen, "%s: %s.%s must be on or off", where,
                    k->section, k->key);
        return -1;
    }

    errno = 0;
    v = strtol(value, &end, 10);

    if (errno || end == value || *end != '\0' || v < k->min || v > k->max) {
        cw_conf_err(err, errlen, "%s: %s.%s must be an integer in %ld..%ld",
                    where, k->section, k->key, k->min, k->max);
        return -1;
    }

    *lp = v;
    return 0;
}


/* `<key>_env = VAR` and `<key>_file = PATH` for secrets */
static int
cw_conf_indirect(cw_conf_t *c, const char *section, char *key,
    const char *value, const char *where, char *err, size_t errlen)
{
    size_t           n = strlen(key);
    char            *data;
    const char      *v;
    const cw_key_t  *k;

    if (n > 4 && strcmp(key + n - 4, "_env") == 0) {
        key[n - 4] = '\0';
        k = cw_conf_find(section, key);
        if (k == NULL || k->type != CW_STR) {
            return 1;
        }

        v = getenv(value);
        if (v == NULL) {
            cw_conf_err(err, errlen, "%s: %s.%s_env names %s, which is not "
                        "set in the environment", where, section, key, value);
            return -1;
        }

        return cw_conf_set(c, k, v, where, err, errlen);
    }

    if (n > 5 && strcmp(key + n - 5, "_file") == 0) {
        key[n - 5] = '\0';
        k = cw_conf_find(section, key);
        if (k == NULL || k->type != CW_STR) {
            key[n - 5] = '_';
            return 1;
        }

        data = cw_read_file(value, NULL);
        if (data == NULL) {
            cw_conf_err(err, errlen, "%s: %s.%s_file: cannot read %s: %s",
                        where, section, key, value, strerror(errno));
            return -1;
        }

        /* a trailing newline is not part of the secret */
        n = strlen(data);
        while (n && (data[n - 1] == '\n' || data[n - 1] == '\r')) {
            data[--n] = '\0';
        }

        n = (size_t) cw_conf_set(c, k, data, where, err, errlen);
        explicit_bzero(data, strlen(data));
        free(data);
        return (int) n;
    }

    return 1;
}


static int
cw_conf_file(cw_conf_t *c, const char *path, char *err, size_t errlen)
{
    int              rc = 0, r;
    FILE            *f;
    char             line[4096], section[64] = "", where[512], *p, *eq;
    char            *key, *value;
    unsigned         lineno = 0;
    const cw_key_t  *k;

    f = fopen(path, "r");
    if (f == NULL) {
        cw_conf_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }

    while (fgets(line, sizeof(line), f)) {
        lineno++;
        snprintf(where, sizeof(where), "%s:%u", path, lineno);

        p = cw_trim(line);
        if (*p == '\0' || *p == '#' || *p == ';') {
            continue;
        }

        if (*p == '[') {
            eq = strchr(p, ']');
            if (eq == NULL || eq[1] != '\0' || eq - p - 1 >= 63) {
                cw_conf_err(err, errlen, "%s: bad section header", where);
                rc = -1;
                continue;
            }

            *eq = '\0';
            snprintf(section, sizeof(section), "%s", cw_trim(p + 1));
            continue;
        }

        eq = strchr(p, '=');
        if (eq == NULL) {
            cw_conf_err(err, errlen, "%s: expected `key = value`", where);
            rc = -1;
            continue;
        }

        *eq = '\0';
        key = cw_trim(p);
        value = cw_trim(eq + 1);

        k = cw_conf_find(section, key);
        if (k) {
            if (cw_conf_set(c, k, value, where, err, errlen) != 0) {
                rc = -1;
            }
            continue;
        }

        r = cw_conf_indirect(c, section, key, value, where, err, errlen);
        if (r < 0) {
            rc = -1;

        } else if (r > 0) {
            cw_conf_err(err, errlen, "%s: unknown key `%s` in [%s]", where,
                        key, section);
            rc = -1;
        }
    }

    fclose(f);
    return rc;
}


static int
cw_conf_env(cw_conf_t *c, char *err, size_t errlen)
{
    int          rc = 0;
    char         name[128], *q;
    size_t       i;
    const char  *v, *p;

    for (i = 0; i < CW_NKEYS; i++) {
        q = name + snprintf(name, sizeof(name), "CARESYNC_");

        for (p = cw_keys[i].section; *p; p++) {
            *q++ = (char) toupper((unsigned char) *p);
        }

        *q++ = '_';

        for (p = cw_keys[i].key; *p; p++) {
            *q++ = (char) toupper((unsigned char) *p);
        }

        *q = '\0';

        v = getenv(name);
        if (v && cw_conf_set(c, &cw_keys[i], v, name, err, errlen) != 0) {
            rc = -1;
        }
    }

    return rc;
}


/*
 * What each salesforce.auth flow needs: these keys set (a secret may come
 * from <key>_env or <key>_file).
 */
static const struct {
    cw_sf_auth_e   auth;
    size_t         off[2];
    const char    *what;
} cw_sf_needs[] = {
    { CW_SF_AUTH_CLIENT_CREDENTIALS, { S(sf.client_secret), 0 },
      "salesforce.client_secret is required for auth = client_credentials "
      "(or client_secret_env / client_secret_file)" },
    { CW_SF_AUTH_REFRESH_TOKEN, { S(sf.refresh_token), 0 },
      "salesforce.refresh_token is required for auth = refresh_token (or "
      "refresh_token_env / refresh_token_file)" },
    { CW_SF_AUTH_JWT, { S(sf.username), S(sf.private_key_file) },
      "salesforce.username and salesforce.private_key_file are required "
      "for auth = jwt" },
};


static int
cw_conf_sf_needs(cw_conf_t *c, char *err, size_t errlen)
{
    size_t  i, j;

    for (i = 0; i < sizeof(cw_sf_needs) / sizeof(cw_sf_needs[0]); i++) {
        if (cw_sf_needs[i].auth != c->sf.auth) {
            continue;
        }

        for (j = 0; j < 2 && cw_sf_needs[i].off[j]; j++) {
            if (*(char **) ((char *) c + cw_sf_needs[i].off[j]) == NULL) {
                cw_conf_err(err, errlen, "%s", cw_sf_needs[i].what);
                return -1;
            }
        }
    }

    return 0;
}


/*
 * The metrics carry no PHI, but they tell a job's volume and vendors'
 * errors: served on loopback (a local Prometheus or an agent) unless
 * metrics.allow_remote says otherwise, knowingly.
 */
static int
cw_conf_metrics(cw_conf_t *c, char *err, size_t errlen)
{
    int   port;
    char  host[64];

    if (cw_metrics_parse_listen(c->metrics.listen, host, sizeof(host),
                                &port) != 0)
    {
        cw_conf_err(err, errlen, "metrics.listen must be address:port "
                    "(e.g. 127.0.0.1:9187)");
        return -1;
    }

    if (strncmp(host, "127.", 4) != 0 && !c->metrics.allow_remote) {
        cw_conf_err(err, errlen, "metrics.listen %s is not a loopback "
                    "address: set metrics.allow_remote = on to serve it "
                    "there (and restrict it by firewall)", host);
        return -1;
    }

    return 0;
}


const char *
cw_conf_sf_auth_name(cw_sf_auth_e auth)
{
    return (unsigned) auth < 3 ? cw_sf_auths[auth] : "?";
}


/* "host:port" or "[v6]:port" into c->redis.sentinel_*[] */
static int
cw_conf_sentinel(cw_conf_t *c, const char *w, char *err, size_t errlen)
{
    int          i;
    long         port;
    char        *end;
    size_t       n;
    const char  *colon, *h;

    if (c->redis.nsentinels == CW_SENTINELS_MAX) {
        cw_conf_err(err, errlen, "redis.sentinels: at most %d",
                    CW_SENTINELS_MAX);
        return -1;
    }

    colon = strrchr(w, ':');
    h = w;
    n = colon ? (size_t) (colon - w) : 0;

    if (n >= 2 && w[0] == '[' && w[n - 1] == ']') {
        h = w + 1;
        n -= 2;
    }

    errno = 0;
    port = colon ? strtol(colon + 1, &end, 10) : 0;

    if (colon == NULL || n == 0 || errno || *end != '\0' || port < 1
        || port > 65535)
    {
        cw_conf_err(err, errlen, "redis.sentinels: `%s` is not host:port", w);
        return -1;
    }

    i = c->redis.nsentinels++;
    c->redis.sentinel_host[i] = cw_strndup(h, n);
    c->redis.sentinel_port[i] = (int) port;
    return 0;
}


/*
 * The [redis] keys that go together.  TLS fails closed: a TLS file named
 * while tls is off is refused rather than ignored (the operator meant
 * TLS), and the client key must be the worker's alone.
 */
static int
cw_conf_redis(cw_conf_t *c, char *err, size_t errlen)
{
    int    rc = 0;
    char  *list, *w, *save, why[160];

    if ((c->redis.sentinels == NULL) != (c->redis.master_name == NULL)) {
        cw_conf_err(err, errlen, "redis.sentinels and redis.master_name go "
                    "together: set both, or neither");
        rc = -1;
    }

    if (c->redis.sentinels) {
        list = cw_strdup(c->redis.sentinels);

        for (w = strtok_r(list, " \t,", &save); w;
             w = strtok_r(NULL, " \t,", &save))
        {
            if (cw_conf_sentinel(c, w, err, errlen) != 0) {
                rc = -1;
                break;
            }
        }

        free(list);

        if (rc == 0 && c->redis.nsentinels == 0) {
            cw_conf_err(err, errlen, "redis.sentinels: no host:port");
            rc = -1;
        }
    }

    if (c->redis.cluster && c->redis.sentinels) {
        cw_conf_err(err, errlen, "redis.cluster and redis.sentinels: a "
                    "Cluster has no sentinels; choose one");
        rc = -1;
    }

    /* a Cluster has database 0 only, and multi-key commands need one slot */
    if (c->redis.cluster && c->redis.db != 0) {
        cw_conf_err(err, errlen, "redis.cluster = on needs redis.db = 0");
        rc = -1;
    }

    if (c->redis.cluster && c->redis.prefix
        && !cw_cluster_tagged(c->redis.prefix))
    {
        cw_conf_err(err, errlen, "redis.cluster = on needs a prefix with a "
                    "hash tag, e.g. {caresync}: every key in one slot");
        rc = -1;
    }

    if (!c->redis.tls
        && (c->redis.tls_ca || c->redis.tls_cert || c->redis.tls_key
            || c->redis.tls_server_name))
    {
        cw_conf_err(err, errlen, "redis.tls_* is set but redis.tls is off: "
                    "set tls = on (the worker does not fall back to "
                    "plaintext)");
        rc = -1;
    }

    if ((c->redis.tls_cert == NULL) != (c->redis.tls_key == NULL)) {
        cw_conf_err(err, errlen, "redis.tls_cert and redis.tls_key go "
                    "together");
        rc = -1;
    }

    if (c->redis.tls_key
        && cw_file_private(c->redis.tls_key, why, sizeof(why)) != 0)
    {
        cw_conf_err(err, errlen, "redis.tls_key: %s", why);
        rc = -1;
    }

    return rc;
}


static char *
cw_conf_key(const char *prefix, const char *suffix)
{
    size_t  n = strlen(prefix) + strlen(suffix) + 2;
    char   *s = cw_calloc(1, n);

    snprintf(s, n, "%s:%s", prefix, suffix);
    return s;
}


int
cw_conf_load(cw_conf_t *c, const char *path, char *err, size_t errlen)
{
    int              rc = 0;
    size_t           i;
    char             host[128], buf[256];

    memset(c, 0, sizeof(*c));
    err[0] = '\0';

    for (i = 0; i < CW_NKEYS; i++) {
        if (cw_keys[i].def) {
            (void) cw_conf_set(c, &cw_keys[i], cw_keys[i].def, "default",
                               err, errlen);
        }
    }

    if (path && cw_conf_file(c, path, err, errlen) != 0) {
        rc = -1;
    }

    if (cw_conf_env(c, err, errlen) != 0) {
        rc = -1;
    }

    if (c->redis.prefix == NULL) {
        cw_conf_err(err, errlen, "redis.prefix must not be empty");
        rc = -1;
        c->redis.prefix = cw_strdup("{caresync}");
    }

    if (c->worker.consumer == NULL) {
        if (gethostname(host, sizeof(host)) != 0) {
            strcpy(host, "worker");
        }

        host[sizeof(host) - 1] = '\0';
        snprintf(buf, sizeof(buf), "%s-%ld", host, (long) getpid());
        c->worker.consumer = cw_strdup(buf);
    }

    if (c->sf.login_url) {
        if (c->sf.client_id == NULL) {
            cw_conf_err(err, errlen, "salesforce.client_id is required");
            rc = -1;
        }

        if (cw_conf_sf_needs(c, err, errlen) != 0) {
            rc = -1;
        }
    }

    if (cw_conf_redis(c, err, errlen) != 0) {
        rc = -1;
    }

    if (c->metrics.listen && cw_conf_metrics(c, err, errlen) != 0) {
        rc = -1;
    }

    if (c->tracing.otlp_endpoint
        && strncmp(c->tracing.otlp_endpoint, "http://", 7) != 0
        && strncmp(c->tracing.otlp_endpoint, "https://", 8) != 0)
    {
        cw_conf_err(err, errlen, "tracing.otlp_endpoint must be an http:// "
                    "or https:// URL (the collector's /v1/traces)");
        rc = -1;
    }

    if (c->worker.backoff_max_ms < c->worker.backoff_base_ms) {
        c->worker.backoff_max_ms = c->worker.backoff_base_ms;
    }

    if (cw_crypto_load(c, err, errlen) != 0) {
        rc = -1;
    }

    c->key.jobs = cw_conf_key(c->redis.prefix, "jobs");
    c->key.retry = cw_conf_key(c->redis.prefix, "retry");
    c->key.dead = cw_conf_key(c->redis.prefix, "dead");
    c->key.log = cw_conf_key(c->redis.prefix, "log");
    c->key.archive = cw_conf_key(c->redis.prefix, "archive");
    c->key.audit = cw_conf_key(c->redis.prefix, "audit");

    return rc;
}


void
cw_conf_free(cw_conf_t *c)
{
    size_t   i;
    char   **sp;

    for (i = 0; i < CW_NKEYS; i++) {
        if (cw_keys[i].type == CW_STR) {
            sp = (char **) ((char *) c + cw_keys[i].off);
            if (*sp && cw_keys[i].secret) {
                explicit_bzero(*sp, strlen(*sp));
            }
            free(*sp);
        }
    }

    for (i = 0; i < (size_t) c->redis.nsentinels; i++) {
        free(c->redis.sentinel_host[i]);
    }

    cw_crypto_free(c);
    free(c->key.jobs);
    free(c->key.retry);
    free(c->key.dead);
    free(c->key.log);
    free(c->key.archive);
    free(c->key.audit);
}
