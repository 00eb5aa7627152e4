/*
 * caresync-worker: helparound.enrollment (sync-rules.md §A).
 *
 * 1. Find the contact (cw_hacontact.c): by the patient's externalId when
 *    it is a CRM contact id, else by the partner external-id field when
 *    configured, else by the HelpAround patient id field; a contact linked
 *    to another HelpAround patient ends the job `skipped` there.  None:
 *    upsert by that field, which creates it (and cannot create a second
 *    one when two workers race: the loser's upsert updates the winner's
 *    contact).
 * 2. Map the normalized patient through cw_map_helparound, compare with
 *    what the contact says, write only the differing, non-empty fields.
 * 3. Attach the media files once (cw_media.c); queue a healthsherpa.sync
 *    when enrich_with_healthsherpa is on.
 * Several contacts for one patient end `skipped` with their ids: a
 * person merges them, the worker does not guess.
 */

#include <stdlib.h>
#include <string.h>

#include "cs_time.h"
#include "jobs/cw_hacontact.h"
#include "engine/cw_jobs.h"
#include "engine/cw_log.h"
#include "maps/cw_map.h"
#include "clients/cw_media.h"
#include "engine/cw_util.h"

typedef struct {
    cw_hac_t      find;
    const char   *source_id;
    json_t       *want;         /* the mapped fields */
    json_t       *media;        /* [{kind, id}] */
    int           created;
    int           wrote;
} cw_en_t;

/* resolved once per process from the configuration */
static cw_map_t  cw_en_map;
static int       cw_en_map_state;   /* 0 not yet, 1 ok, -1 bad */
static char      cw_en_map_err[256];


static void
cw_en_free(cw_job_t *job)
{
    cw_en_t  *en = job->hdata;

    cw_hac_free(&en->find);

    if (en->want) {
        json_decref(en->want);
    }
    if (en->media) {
        json_decref(en->media);
    }

    free(en);
    job->hdata = NULL;
}


static int
cw_en_map_ready(const cw_conf_t *c)
{
    cs_buf_t  o;

    if (cw_en_map_state != 0) {
        return cw_en_map_state;
    }

    /* salesforce.field_helparound_patient_id names the key field too */
    cs_buf_init(&o);
    cs_buf_puts(&o, "patient_id=");
    cs_buf_puts(&o, c->sf.field_helparound_id);
    if (c->sf.helparound_fields) {
        cs_buf_putc(&o, ',');
        cs_buf_puts(&o, c->sf.helparound_fields);
    }
    cs_buf_putc(&o, '\0');

    cw_en_map_state = cw_map_init(&cw_en_map, cw_map_helparound,
                                  cw_map_helparound_n, o.data, cw_en_map_err,
                                  sizeof(cw_en_map_err)) == 0 ? 1 : -1;
    cs_buf_free(&o);
    return cw_en_map_state;
}


/* healthsherpa.sync for the contact, in the envelope of job.md */
static void
cw_en_enrich(cw_job_t *job)
{
    char          id[160], now[CS_TIME_ISO_LEN + 1];
    char         *s;
    json_t       *env;
    cw_worker_t  *w = job->w;

    snprintf(id, sizeof(id), "%s-hs", job->id);
    cs_time_format_iso((int64_t) cw_now_ms(), now);

    env = json_pack("{s:i,s:s,s:s,s:s,s:s,s:{s:s,s:s,s:s},s:{s:s}}",
                    "v", 1, "id", id, "type", "healthsherpa.sync",
                    "received_at", now, "idempotency_key", id,
                    "source", "system", "crm", "event",
                    "helparound.enrollment", "event_id", job->id,
                    "action", "contact_id", job->crm_contact_id);
    s = json_dumps(env, JSON_COMPACT);
    json_decref(env);

    /* flushed with the job's end, one round trip */
    cw_redis_append(&w->redis, "XADD %s * job %s", w->conf->key.jobs, s);
    free(s);

    cw_debug("enrollment", "healthsherpa.sync queued job_id=%s contact=%s",
             id, job->crm_contact_id);
}


static void
cw_en_finish(cw_job_t *job)
{
    cw_en_t  *en = job->hdata;

    if (en->created || en->wrote) {
        if (job->w->conf->ha.enrich_with_healthsherpa) {
            cw_en_enrich(job);
        }

        cw_job_done(job, en->created ? "created" : "updated",
                    en->created ? "Contact created from the HelpAround "
                                  "enrollment"
                                : "Contact updated from the HelpAround "
                                  "enrollment");
        return;
    }

    cw_job_done(job, "skipped", "The contact already has every enrollment "
                "field; nothing written");
}


static void
cw_en_media_done(void *data, const cw_err_t *err, int attached)
{
    cw_job_t  *job = data;
    cw_en_t   *en = job->hdata;

    if (attached) {
        en->wrote = 1;
    }

    if (err) {
        /*
         * The contact is written; the retry finds it up to date and
         * attaches only the media still missing.
         */
        cw_job_fail(job, err);
        return;
    }

    cw_en_finish(job);
}


static void
cw_en_media(cw_job_t *job)
{
    cw_en_t  *en = job->hdata;

    if (!cw_media_enabled(job->w->conf)
        || json_array_size(en->media) == 0)
    {
        cw_en_finish(job);
        return;
    }

    cw_media_attach(job->w, job->crm_contact_id, en->media, cw_en_media_done,
                    job);
}


static void
cw_en_updated(void *data, cw_crm_res_t *res)
{
    cw_job_t  *job = data;
    cw_en_t   *en = job->hdata;

    if (res->err.cls != CW_ERR_NONE) {
        cw_job_fail(job, &res->err);
        return;
    }

    en->wrote = 1;
    cw_en_media(job);
}


static int
cw_en_set_id(cw_job_t *job, const char *id)
{
    if (id == NULL || *id == '\0') {
        cw_job_failf(job, CW_ERR_TRANSIENT, CW_E_BAD_RESPONSE,
                     "the CRM returned a contact without an Id");
        return -1;
    }

    snprintf(job->crm_contact_id, sizeof(job->crm_contact_id), "%s", id);
    return 0;
}


/* One contact found (its id in the job): write what differs. */
static void
cw_en_compare(cw_job_t *job, json_t *record)
{
    json_t   *diff;
    cw_en_t  *en = job->hdata;

    diff = cw_crm_diff(record, en->want);

    if (diff == NULL) {
        cw_en_media(job);
        return;
    }

    cw_debug("enrollment", "update job_id=%s contact=%s fields=%zu",
             job->id, job->crm_contact_id, json_object_size(diff));

    job->w->crm->update_contact(job->w->crm, job->crm_contact_id, diff,
                                cw_en_updated, job);
    json_decref(diff);
}


/* Several contacts: `skipped`, naming them (ids only) for the merge. */
static void
cw_en_ambiguous(cw_job_t *job, json_t *list, const char *field)
{
    char         msg[512];
    size_t       i, n;
    json_t      *v;
    cs_buf_t     ids;
    const char  *s, *slash;

    cs_buf_init(&ids);
    n = json_array_size(list);

    json_array_foreach(list, i, v) {
        /* a record {Id}, or an upsert 300's "/services/…/Contact/003…" */
        s = json_is_string(v) ? json_string_value(v)
                              : json_string_value(json_object_get(v, "Id"));
        if (s == NULL) {
            continue;
        }

        slash = strrchr(s, '/');
        s = slash ? slash + 1 : s;

        if (i == 10) {
            cs_buf_puts(&ids, ", ...");
            break;
        }

        if (ids.len) {
            cs_buf_puts(&ids, ", ");
        }
        cs_buf_puts(&ids, s);
    }

    cs_buf_putc(&ids, '\0');

    snprintf(msg, sizeof(msg), "%zu CRM contacts match this patient (%s): "
             "%s; merge the duplicates: the next enrollment of this "
             "patient then updates the merged contact", n, field,
             ids.data ? ids.data : "");

    cw_error("enrollment", "several contacts job_id=%s count=%zu ids=%s",
             job->id, n, ids.data ? ids.data : "");
    cs_buf_free(&ids);

    cw_job_done(job, "skipped", msg);
}


static void
cw_en_upserted(void *data, cw_crm_res_t *res)
{
    cw_job_t  *job = data;
    cw_en_t   *en = job->hdata;

    if (res->err.cls != CW_ERR_NONE) {
        if (res->status == 300) {
            cw_en_ambiguous(job, res->records,
                            job->w->conf->sf.field_helparound_id);
            return;
        }

        cw_job_fail(job, &res->err);
        return;
    }

    if (cw_en_set_id(job, res->id) != 0) {
        return;
    }

    /* 200/204: another worker created it since our query; we updated it */
    en->created = res->created;
    en->wrote = 1;
    cw_en_media(job);
}


static void
cw_en_upsert(cw_job_t *job)
{
    json_t           *body;
    cw_en_t          *en = job->hdata;
    const cw_conf_t  *c = job->w->conf;

    /* the key is in the URL; the body must not repeat it */
    body = json_copy(en->want);
    json_object_del(body, c->sf.field_helparound_id);

    job->w->crm->upsert_contact(job->w->crm, c->sf.field_helparound_id,
                                en->source_id, body, cw_en_upserted, job);
    json_decref(body);
}


/* none found: the upsert by the HelpAround id creates it */
static const cw_hac_then_t  cw_en_then = {
    cw_en_compare, cw_en_ambiguous, cw_en_upsert
};


/* The media ids of the patient, each once, named by what they show. */
static json_t *
cw_en_media_list(json_t *patient)
{
    size_t   i, j;
    json_t  *list, *v, *it;

    static const char  *paths[][2] = {
        { "insurance_front", "insurance.primary.front_image_id" },
        { "insurance_back", "insurance.primary.back_image_id" },
        { "secondary_front", "insurance.secondary.front_image_id" },
        { "secondary_back", "insurance.secondary.back_image_id" },
        { "signature", "signature.image_id" },
    };

    list = json_array();

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        v = cw_map_get(patient, paths[i][1]);
        if (!json_is_string(v) || json_string_length(v) == 0) {
            continue;
        }

        json_array_foreach(list, j, it) {
            if (json_equal(json_object_get(it, "id"), v)) {
                break;
            }
        }

        if (j == json_array_size(list)) {
            json_array_append_new(list, json_pack("{s:s,s:O}", "kind",
                                                  paths[i][0], "id", v));
        }
    }

    return list;
}



static void
cw_en_start(cw_job_t *job)
{
    json_t           *pj;
    cw_en_t          *en;
    const cs_json_t  *patient;

    if (job->w->crm == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_NOT_CONFIGURED,
                     "no CRM is configured ([salesforce] login_url)");
        return;
    }

    if (cw_en_map_ready(job->w->conf) < 0) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_CONFIG,
                     "salesforce.helparound_fields: %s", cw_en_map_err);
        return;
    }

    patient = cw_env_get(job->env.root, "patient");

    en = cw_calloc(1, sizeof(*en));
    job->hdata = en;
    job->hfree = cw_en_free;

    en->source_id = cw_env_str(patient, "source_id");

    if (!cs_json_is_object(patient) || en->source_id == NULL) {
        cw_job_failf(job, CW_ERR_PERMANENT, CW_E_BAD_JOB,
                     "the enrollment job has no patient.source_id");
        return;
    }

    /* the mapping engine reads jansson values */
    pj = cw_json_from_tape(patient);
    en->want = cw_map_apply(&cw_en_map, pj);
    en->media = cw_en_media_list(pj);
    json_decref(pj);

    cw_hac_find(&en->find, job, "enrollment",
                cw_env_str(patient, "external_id"), en->source_id,
                cw_en_map.read, &cw_en_then);
}


/*
 * The HelpAround patient.  No kind: an enrollment writes what it carries
 * (media ids, consents), which a newer one may not repeat.
 */
static int
cw_en_patient(cw_job_t *job, cw_patient_t *p)
{
    return cw_job_patient_at(job, p, "ha", "patient", "source_id");
}


const cw_handler_t  cw_h_enrollment[] = {
    { "helparound.enrollment", cw_en_start, cw_en_patient },
    { NULL, NULL, NULL }
};
