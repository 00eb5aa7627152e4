/*
 * caresync-worker: healthsherpa.sync, "Sync from HealthSherpa" for one
 * CRM contact (sync-rules.md §B, seed 000 §3); also the item of a
 * HealthSherpa batch (batch.item with action.item = healthsherpa.sync).
 *
 *   1. read the contact;
 *   2. build the search: medicare_number alone, else first/last name plus
 *      every one of birth date, email and phone the contact has; none
 *      possible -> failed, and HealthSherpa is not called;
 *   3. search as the agent (v1 key + agent_email, v2 the agent's token);
 *   4. a match is mapped onto the contact through the mapping table and
 *      only the differing fields are written, with the HealthSherpa id
 *      (and the batch id for a batch); no match leaves the contact as it
 *      is.  Errors that cannot succeed later (parameters, authentication,
 *      unknown agent) fail at once with their own message.
 *
 * And the console's login of an agent (seed 000, Agent Authentication),
 * with the client's own OAuth code (cw_healthsherpa.c):
 *
 *   ops.hs_login     {"agent"}: the authorize URL, with a fresh `state`
 *                    bound to the agent, as the job's message;
 *   ops.hs_exchange  {"state","code"} from the callback location: the
 *                    code traded for the agent's tokens.
 */

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "clients/cw_healthsherpa.h"
#include "engine/cw_jobs.h"
#include "engine/cw_log.h"
#include "maps/cw_map.h"
#include "engine/cw_status.h"
#include "engine/cw_util.h"

/*
 * HealthSherpa contact -> CRM contact (external-apis.md "Contact
 * fields"), in the mapping engine (cw_map.h): rename or turn off
 * entries with healthsherpa.map = "name=Field,name=" .  The Part A/B,
 * Medicaid and Medicare fields are custom fields of the org.
 */
static const cw_map_entry_t  cw_map_healthsherpa[] = {
    { "address", "address_1+address_2", "MailingStreet", CW_MAP_STR },
    { "city", "city", "MailingCity", CW_MAP_STR },
    { "state", "state", "MailingState", CW_MAP_STR },
    { "zip", "zip", "MailingPostalCode", CW_MAP_STR },
    { "phone", "phone", "Phone", CW_MAP_STR },
    { "email", "email", "Email", CW_MAP_STR },
    { "birth_date", "birth_date", "Birthdate", CW_MAP_DATE },
    { "sex", "sex", "GenderIdentity", CW_MAP_GENDER },
    { "medicare_number", "medicare_number", "Medicare_Number__c",
      CW_MAP_STR },
    { "medicare_part_a_effective_date", "medicare_part_a_effective_date",
      "Medicare_Part_A_Effective_Date__c", CW_MAP_DATE },
    { "medicare_part_b_effective_date", "medicare_part_b_effective_date",
      "Medicare_Part_B_Effective_Date__c", CW_MAP_DATE },
    { "medicaid_eligible", "medicaid_eligible", "Medicaid_Eligible__c",
      CW_MAP_BOOL },
    { "medicaid_number", "medicaid_number", "Medicaid_Number__c",
      CW_MAP_STR },
};

#define CW_HS_NMAP                                                           \
    (sizeof(cw_map_healthsherpa) / sizeof(cw_map_healthsherpa[0]))

typedef struct {
    const char   *agent;
    const char   *batch_id;         /* NULL for one contact */
    const char   *fields[CW_HS_NMAP + 12];
    json_t       *contact;          /* the CRM contact */
    cw_map_t      map;
} cw_hss_t;

static cw_hs_t  *cw_hs_client;      /* one per process, made on first use */



/* MM/DD/YYYY, MM-DD-YYYY, YYYY/MM/DD, YYYY-MM-DD -> YYYY-MM-DD */
static int
cw_hs_date(const char *s, char out[11])
{
    unsigned  a, b, c;
    char      s1, s2;

    if (sscanf(s, "%4u%c%2u%c%2u", &a, &s1, &b, &s2, &c) == 5
        && strlen(s) == 10 && a > 1000 && (s1 == '-' || s1 == '/'))
    {
        snprintf(out, 11, "%04u-%02u-%02u", a % 10000, b % 100, c % 100);
        return 0;
    }

    if (sscanf(s, "%2u%c%2u%c%4u", &a, &s1, &b, &s2, &c) == 5
        && strlen(s) == 10 && (s1 == '-' || s1 == '/'))
    {
        snprintf(out, 11, "%04u-%02u-%02u", c % 10000, a % 100, b % 100);
        return 0;
    }

    return -1;
}


/* the 10 digits of a US phone number, or -1 */
static int
cw_hs_phone(const char *s, char out[11])
{
    size_t  n = 0;
    char    d[32];

    for (; s && *s && n < sizeof(d) - 1; s++) {
        if (isdigit((unsigned char) *s)) {
            d[n++] = *s;
        }
    }
    d[n] = '\0';

    if (n == 11 && d[0] == '1') {
        memmove(d, d + 1, 11);
        n = 10;
    }

    if (n != 10) {
        return -1;
    }

    memcpy(out, d, 11);
    return 0;
}


/*
 * HealthSherpa's values in the shapes the mapping engine takes: dates in
 * any of its four formats -> YYYY-MM-DD, sex M/F -> male/female, phone ->
 * 10 digits.  A copy: the answer itself is left as it came.
 */
static json_t *
cw_hs_normalize(json_t *hc)
{
    char         buf[16];
    json_t      *out, *v;
    const char  *k, *s;

    out = json_deep_copy(hc);

    json_object_foreach(out, k, v) {
        s = json_string_value(v);
        if (s == NULL) {
            continue;
        }

        if (strstr(k, "date") && cw_hs_date(s, buf) == 0) {
            json_object_set_new(out, k, json_string(buf));

        } else if (strcmp(k, "phone") == 0) {
            if (cw_hs_phone(s, buf) == 0) {
                json_object_set_new(out, k, json_string(buf));
            } else {
                json_object_del(out, k);
            }

        } else if (strcmp(k, "sex") == 0) {
            json_object_set_new(out, k, json_string(
                strcasecmp(s, "m") == 0 || strcasecmp(s, "male") == 0
                ? "male" : strcasecmp(s, "f") == 0
                           || strcasecmp(s, "female") == 0
                ? "female" : ""));
        }
    }

    return out;
}


static void
cw_hss_free(cw_job_t *job)
{
    cw_hss_t  *hss = job->hdata;

    if (hss->contact) {
        json_decref(hss->contact);
    }
    cw_map_free(&hss->map);
    free(hss);
    job->hdata = NULL;
}


static void
cw_hss_updated(void *data, cw_crm_res_t *res)
{
    cw_job_t  *job = data;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(job, &res->err);
        return;
    }

    cw_job_done(job, "matched", "Synced from HealthSherpa");
}


static void
cw_hss_found(void *data, cw_hs_res_t *res)
{
    char              key[CW_STATUS_KEY_MAX];
    json_t           *want, *diff, *norm;
    cw_job_t         *job = data;
    cw_hss_t         *hss = job->hdata;
    const char       *hs_id;
    const cw_conf_t  *c = job->w->conf;

    if (res->err.cls != CW_ERR_NONE) {
        /* permanent ones (auth, parameters, agent) carry their message */
        cw_job_fail(job, &res->err);
        return;
    }

    if (res->contact == NULL) {
        /* the seed: leave the CRM contact unchanged */
        cw_job_done(job, "no_match", "No matching HealthSherpa contact found");
        return;
    }

    hs_id = cw_json_str(res->contact, "id");
    if (hs_id == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_RESPONSE,
                     "HealthSherpa returned a contact without an id");
        return;
    }

    norm = cw_hs_normalize(res->contact);
    want = cw_map_apply(&hss->map, norm);
    json_decref(norm);

    json_object_set_new(want, c->hs.field_contact_id, json_string(hs_id));

    if (hss->batch_id) {
        json_object_set_new(want, c->sf.field_last_batch,
                            json_string(hss->batch_id));
    }

    /* the id is worth showing even when nothing else changes */
    cw_status_key(c->redis.prefix, job->id, key, sizeof(key));
    cw_redis_append(&job->w->redis, "HSET %s healthsherpa_contact_id %s",
                    key, hs_id);

    diff = cw_crm_diff(hss->contact, want);
    json_decref(want);

    cw_debug("healthsherpa", "match job_id=%s contact=%s fields=%zu",
             job->id, job->crm_contact_id, diff ? json_object_size(diff) : 0);

    if (diff == NULL) {
        cw_job_done(job, "skipped", "Synced from HealthSherpa: the contact "
                    "already had every value");
        return;
    }

    job->w->crm->update_contact(job->w->crm, job->crm_contact_id, diff,
                                cw_hss_updated, job);
    json_decref(diff);
}


/* sync-rules §B.1; NULL when neither form can be built */
static json_t *
cw_hss_params(cw_job_t *job, json_t *ct)
{
    char              date[11], phone[11];
    json_t           *p, *first, *last;
    const char       *s;
    const cw_conf_t  *c = job->w->conf;
    int               extra = 0;

    s = cw_json_str(ct, c->hs.field_medicare_number);
    if (s) {
        return json_pack("{s:s}", "medicare_number", s);
    }

    /* names as they are compared: trimmed */
    first = cw_json_trimmed(json_object_get(ct, "FirstName"));
    last = cw_json_trimmed(json_object_get(ct, "LastName"));
    if (first == NULL && last == NULL) {
        return NULL;
    }

    p = json_object();
    if (first) {
        json_object_set_new(p, "first_name", first);
    }
    if (last) {
        json_object_set_new(p, "last_name", last);
    }

    s = cw_json_str(ct, "Birthdate");
    if (s && cw_hs_date(s, date) == 0) {
        json_object_set_new(p, c->hs.birth_date_key, json_string(date));
        extra++;
    }

    s = cw_json_str(ct, "Email");
    if (s) {
        json_object_set_new(p, "email", json_string(s));
        extra++;
    }

    if (cw_hs_phone(cw_json_str(ct, "Phone"), phone) == 0
        || cw_hs_phone(cw_json_str(ct, "MobilePhone"), phone) == 0)
    {
        json_object_set_new(p, "phone", json_string(phone));
        extra++;
    }

    if (extra == 0) {
        json_decref(p);
        return NULL;
    }

    return p;
}


static void
cw_hss_got(void *data, cw_crm_res_t *res)
{
    json_t    *params;
    cw_job_t  *job = data;
    cw_hss_t  *hss = job->hdata;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(job, &res->err);
        return;
    }

    if (res->record == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_NOT_FOUND,
                     "The CRM contact was not found (deleted or merged)");
        return;
    }

    hss->contact = json_incref(res->record);

    params = cw_hss_params(job, res->record);
    if (params == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_HS_INVALID_PARAMS,
                     "Invalid search parameters: a Medicare number, or a "
                     "name with a date of birth, email or phone, is "
                     "required");
        return;
    }

    cw_hs_search(cw_hs_client, hss->agent, params, cw_hss_found, job);
    json_decref(params);
}


static void
cw_hss_fields(cw_job_t *job, cw_hss_t *hss)
{
    int               i, j, n = 0;
    const cw_conf_t  *c = job->w->conf;
    static const char *base[] = {
        "Id", "FirstName", "LastName", "Birthdate", "Email", "Phone",
        "MobilePhone", NULL
    };

    for (i = 0; base[i]; i++) {
        hss->fields[n++] = base[i];
    }

    hss->fields[n++] = c->hs.field_medicare_number;
    hss->fields[n++] = c->hs.field_contact_id;
    if (hss->batch_id) {
        hss->fields[n++] = c->sf.field_last_batch;
    }

    /* the mapped fields too (map.read starts with Id): compare first */
    for (i = 1; hss->map.read[i]; i++) {
        for (j = 0; j < n; j++) {
            if (strcmp(hss->fields[j], hss->map.read[i]) == 0) {
                break;
            }
        }
        if (j == n) {
            hss->fields[n++] = hss->map.read[i];
        }
    }

    hss->fields[n] = NULL;
}


static void
cw_hss_start(cw_job_t *job)
{
    char              err[256];
    const cs_json_t  *action = cw_env_get(job->env.root, "action");
    cw_err_t          aerr;
    cw_hss_t         *hss;
    const char       *cid;
    const cw_conf_t  *c = job->w->conf;

    if (job->w->crm == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_NOT_CONFIGURED,
                     "no CRM is configured ([salesforce] login_url)");
        return;
    }

    if (cw_hs_client == NULL) {
        cw_hs_client = cw_hs_create(job->w->http, &job->w->redis, c, err,
                                    sizeof(err));
        if (cw_hs_client == NULL) {
            cw_job_failf(job, CW_ERR_PERMANENT, CW_E_CONFIG, "%s", err);
            return;
        }
    }

    cid = cw_env_str(action, "contact_id");
    if (cid == NULL || !job->w->crm->is_contact_id(cid)) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                     "the job has no valid action.contact_id");
        return;
    }

    snprintf(job->crm_contact_id, sizeof(job->crm_contact_id), "%s", cid);

    hss = cw_calloc(1, sizeof(*hss));
    job->hdata = hss;
    job->hfree = cw_hss_free;

    hss->batch_id = cw_env_str(action, "batch_id");

    /*
     * v1 needs the agent's HealthSherpa email: a CRM user id cannot be
     * sent, so the configured agent stands in for it.
     */
    hss->agent = cw_env_str(action, "agent");
    if (hss->agent == NULL
        || (c->hs.version == 1 && strchr(hss->agent, '@') == NULL))
    {
        hss->agent = c->hs.agent_email;
    }

    if (hss->agent == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_HS_NO_AGENT_SET,
                     "No HealthSherpa agent: the action names none and "
                     "healthsherpa.agent_email is not set");
        return;
    }

    /* before the CRM is read: an unknown agent's job does nothing */
    if (cw_hs_agent_known(cw_hs_client, hss->agent, &aerr) != 1) {
        cw_job_fail(job, &aerr);
        return;
    }

    if (cw_map_init(&hss->map, cw_map_healthsherpa, CW_HS_NMAP, c->hs.map,
                    err, sizeof(err)) != 0)
    {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_CONFIG, "%s", err);
        return;
    }

    cw_hss_fields(job, hss);
    job->w->crm->get_contact(job->w->crm, cid, hss->fields, cw_hss_got, job);
}


/* The contact it writes. */
static int
cw_hss_patient(cw_job_t *job, cw_patient_t *p)
{
    return cw_job_patient_at(job, p, "crm", "action", "contact_id");
}




/* ---- the console's login ---- */

static int
cw_hsl_client(cw_job_t *job)
{
    char  err[512];

    if (job->w->conf->hs.version != 2) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_CONFIG, "HealthSherpa "
                     "logins are for healthsherpa.version = 2 (OAuth); "
                     "version 1 uses healthsherpa.api_key");
        return -1;
    }

    if (cw_hs_client == NULL) {
        cw_hs_client = cw_hs_create(job->w->http, &job->w->redis,
                                    job->w->conf, err, sizeof(err));
        if (cw_hs_client == NULL) {
            cw_job_failf(job, CW_ERR_PERMANENT, CW_E_CONFIG, "%s", err);
            return -1;
        }
    }

    return 0;
}


static void
cw_hsl_start(cw_job_t *job)
{
    char         url[1024], err[256];
    const char  *agent;

    agent = cw_env_str(cw_env_get(job->env.root, "action"), "agent");

    if (agent == NULL || cw_hsl_client(job) != 0) {
        if (agent == NULL) {
            cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                         "an ops.hs_login job needs action.agent");
        }
        return;
    }

    if (cw_hs_login_url(cw_hs_client, agent, url, sizeof(url), err,
                        sizeof(err)) != 0)
    {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_OAUTH, "%s", err);
        return;
    }

    /* the page opens it; the state in it works once, for ten minutes */
    cw_job_done(job, "updated", url);
}


static void
cw_hsx_done(void *data, cw_hs_res_t *res)
{
    cw_job_t  *job = data;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(job, &res->err);
        return;
    }

    cw_job_done(job, "updated", "Logged in to HealthSherpa");
}


static void
cw_hsx_start(cw_job_t *job)
{
    int          rc;
    char         agent[256];
    const cs_json_t  *action = cw_env_get(job->env.root, "action");
    const char  *state, *code;

    state = cw_env_str(action, "state");
    code = cw_env_str(action, "code");

    if (state == NULL || code == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                     "an ops.hs_exchange job needs action.state and "
                     "action.code");
        return;
    }

    if (cw_hsl_client(job) != 0) {
        return;
    }

    rc = cw_hs_state_agent(cw_hs_client, state, agent, sizeof(agent));

    if (rc < 0) {
        cw_job_failf(job, CW_ERR_TRANSIENT, CW_E_REDIS,
                     "cannot read the login's state in Redis");
        return;
    }

    if (rc == 0) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_OAUTH_STATE,
                     "This login link expired (it lasts ten minutes) or "
                     "was used already: click \"Login to HealthSherpa\" "
                     "again");
        return;
    }

    /* the client takes the state (once) and checks it is this agent's */
    cw_hs_exchange(cw_hs_client, agent, state, code, cw_hsx_done, job);
}


/* one login of an agent at a time; a callback's job, one per state */
static int
cw_hsl_key(cw_job_t *job, cw_patient_t *p)
{
    return cw_job_patient_at(job, p, "hslogin", "action", "agent");
}


static int
cw_hsx_key(cw_job_t *job, cw_patient_t *p)
{
    return cw_job_patient_at(job, p, "hsstate", "action", "state");
}



const cw_handler_t  cw_h_healthsherpa[] = {
    { "healthsherpa.sync", cw_hss_start, cw_hss_patient },
    { "ops.hs_login", cw_hsl_start, cw_hsl_key },
    { "ops.hs_exchange", cw_hsx_start, cw_hsx_key },
    { NULL, NULL, NULL }
};
