/*
 * caresync-worker: the operator commands.
 */

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_time.h"
#include "engine/cw_http.h"
#include "engine/cw_log.h"
#include "ops/cw_ops.h"
#include "engine/cw_queue.h"
#include "engine/cw_redis.h"
#include "crm/cw_salesforce.h"
#include "engine/cw_status.h"
#include "engine/cw_util.h"


int
cw_ops_connect(const cw_conf_t *c, cw_redis_t *r)
{
    cw_err_t  err;

    cw_redis_init(r, c->redis.host, (int) c->redis.port, c->redis.password,
                  c->redis.db, c->redis.timeout_ms);

    if (cw_redis_connect(r, &err) != 0) {
        fprintf(stderr, "caresync-worker: %s\n"
                "Is Redis running there? Check [redis] host, port and "
                "password in the configuration (`caresync-worker check`).\n",
                err.message);
        free(r->host);
        free(r->password);
        return -1;
    }

    return 0;
}


void
cw_ops_close(cw_redis_t *r)
{
    (void) cw_redis_flush(r);
    cw_redis_close(r);
    free(r->host);
    free(r->password);
}


int
cw_ops_queue_batch(const cw_conf_t *c, const cw_batch_spec_t *spec,
    char **ids, size_t n, char id[CW_BATCH_ID_LEN])
{
    int         rc;
    cw_redis_t  r;

    if (cw_ops_connect(c, &r) != 0) {
        return -1;
    }

    rc = cw_batch_create(&r, c, spec, ids, n, id);
    cw_ops_close(&r);

    if (rc == -2) {
        fprintf(stderr, "caresync-worker: no randomness for the batch id "
                "(OpenSSL's CSPRNG failed): nothing was queued\n");
        return -1;
    }

    if (rc != 0) {
        fprintf(stderr, "caresync-worker: Redis failed while queueing batch "
                "%s; part of it may be queued and will run (`caresync-worker "
                "batch status %s`, or `batch abort %s`). Check Redis "
                "(`caresync-worker check`) before running the command "
                "again\n", id, id, id);
        return -1;
    }

    return 0;
}


void
cw_ops_http_conf(const cw_conf_t *c, int max_total, cw_http_conf_t *hc)
{
    memset(hc, 0, sizeof(*hc));
    hc->timeout_ms = c->http.timeout_ms;
    hc->connect_timeout_ms = c->http.connect_timeout_ms;
    hc->verify_tls = (int) c->http.verify_tls;
    hc->ca_file = c->http.ca_file;
    hc->max_total = max_total;
}


int
cw_ops_csv_ids(const char *csv, cw_csv_ids_t *ids)
{
    int     rc;
    char   *data;
    size_t  len;

    data = cw_read_file(csv, &len);
    if (data == NULL) {
        memset(ids, 0, sizeof(*ids));
        fprintf(stderr, "caresync-worker: cannot read %s: %s\n", csv,
                strerror(errno));
        return 1;
    }

    rc = cw_csv_sf_ids(data, len, ids);
    free(data);

    if (rc != 0) {
        fprintf(stderr, "caresync-worker: %s ends inside a quoted field: "
                "is the file cut?\n", csv);
        cw_csv_ids_free(ids);
        return 1;
    }

    return 0;
}


/* the value of `field` in a stream entry's [f, v, f, v ...] */
static const char *
cw_ops_field(redisReply *fv, const char *field)
{
    size_t  i;

    for (i = 0; fv && i + 1 < fv->elements; i += 2) {
        if (fv->element[i]->type == REDIS_REPLY_STRING
            && strcmp(fv->element[i]->str, field) == 0)
        {
            return fv->element[i + 1]->str;
        }
    }

    return NULL;
}


/* ---- jobs show ---- */

int
cw_ops_jobs(const cw_conf_t *c, int argc, char **argv)
{
    int          rc = 0;
    size_t       i, j;
    char         key[CW_STATUS_KEY_MAX];
    cw_redis_t   r;
    redisReply  *rep, *ttl;
    static const char  *order[] = {
        "status", "type", "attempts", "message", "last_error",
        "crm_contact_id", "healthsherpa_contact_id", "hint_patient_id",
        "next_attempt_at", "updated_at", NULL
    };

    if (argc != 2 || strcmp(argv[0], "show") != 0) {
        fprintf(stderr, "usage: caresync-worker jobs show <job-id>\n"
                "`caresync-worker jobs --help` for details\n");
        return 2;
    }

    if (cw_ops_connect(c, &r) != 0) {
        return 1;
    }

    cw_status_key(c->redis.prefix, argv[1], key, sizeof(key));
    rep = cw_redis_cmd(&r, "HGETALL %s", key);

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "caresync-worker: cannot read %s: %s\n", key,
                rep && rep->type == REDIS_REPLY_ERROR ? rep->str
                                                      : "Redis did not answer");
        rc = 1;

    } else if (rep->elements == 0) {
        fprintf(stderr, "caresync-worker: no status record for job %s: "
                "check the id (an action's `job_id`, or from `log` or "
                "`dlq list`) and that redis.prefix is the module's "
                "caresync_prefix (%s); records expire worker.status_ttl_s "
                "after the job ends\n", argv[1], c->redis.prefix);
        rc = 1;

    } else {
        printf("job: %s\n", argv[1]);

        /* the known fields in a stable order, then any others */
        for (j = 0; order[j]; j++) {
            for (i = 0; i + 1 < rep->elements; i += 2) {
                if (strcmp(rep->element[i]->str, order[j]) == 0) {
                    printf("%s: %s\n", order[j], rep->element[i + 1]->str);
                }
            }
        }

        for (i = 0; i + 1 < rep->elements; i += 2) {
            for (j = 0; order[j]; j++) {
                if (strcmp(rep->element[i]->str, order[j]) == 0) {
                    break;
                }
            }
            if (order[j] == NULL) {
                printf("%s: %s\n", rep->element[i]->str,
                       rep->element[i + 1]->str);
            }
        }

        ttl = cw_redis_cmd(&r, "TTL %s", key);
        if (ttl && ttl->type == REDIS_REPLY_INTEGER && ttl->integer > 0) {
            printf("expires_in: %llds\n", ttl->integer);
        }
        if (ttl) {
            freeReplyObject(ttl);
        }
    }

    if (rep) {
        freeReplyObject(rep);
    }

    cw_ops_close(&r);
    return rc;
}


/* ---- dlq ---- */

static void
cw_ops_ms_iso(const char *ms, char out[CS_TIME_ISO_LEN + 1])
{
    long long  v = ms ? atoll(ms) : 0;

    cs_time_format_iso(cs_time_ms_valid(v) ? v : 0, out);
}


int
cw_ops_dlq(const cw_conf_t *c, int argc, char **argv)
{
    int          rc = 0, all, found = 0;
    size_t       i;
    char         at[CS_TIME_ISO_LEN + 1];
    cw_redis_t   r;
    redisReply  *rep, *e, *fv, *x;
    const char  *job_id, *job;

    if (argc < 1 || (strcmp(argv[0], "list") == 0 && argc != 1)
        || (strcmp(argv[0], "replay") == 0 && argc != 2)
        || (strcmp(argv[0], "list") != 0 && strcmp(argv[0], "replay") != 0))
    {
        fprintf(stderr, "usage: caresync-worker dlq list\n"
                "       caresync-worker dlq replay <job-id> | --all\n"
                "`caresync-worker dlq --help` for details\n");
        return 2;
    }

    if (cw_ops_connect(c, &r) != 0) {
        return 1;
    }

    rep = cw_redis_cmd(&r, "XRANGE %s - +", c->key.dead);
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "caresync-worker: cannot read %s\n", c->key.dead);
        if (rep) {
            freeReplyObject(rep);
        }
        cw_ops_close(&r);
        return 1;
    }

    all = argc == 2 && strcmp(argv[1], "--all") == 0;

    for (i = 0; i < rep->elements; i++) {
        e = rep->element[i];
        fv = e->element[1];
        job_id = cw_ops_field(fv, "job_id");
        job = cw_ops_field(fv, "job");

        if (strcmp(argv[0], "list") == 0) {
            cw_ops_ms_iso(cw_ops_field(fv, "failed_at"), at);
            printf("%s %s type=%s attempts=%s failed_at=%s error=\"%s\"\n",
                   e->element[0]->str, job_id ? job_id : "-",
                   cw_ops_field(fv, "type") ? cw_ops_field(fv, "type") : "-",
                   cw_ops_field(fv, "attempts")
                   ? cw_ops_field(fv, "attempts") : "-", at,
                   cw_ops_field(fv, "error") ? cw_ops_field(fv, "error")
                                             : "");
            found++;
            continue;
        }

        if (job == NULL || job_id == NULL
            || (!all && strcmp(job_id, argv[1]) != 0))
        {
            continue;
        }

        cw_queue_replay(&r, c, e->element[0]->str, job_id, job);

        if (cw_redis_flush(&r) != 0) {
            fprintf(stderr, "caresync-worker: replay of %s failed: "
                    "Redis did not confirm it. `caresync-worker dlq list` "
                    "shows whether the job is still dead; check Redis "
                    "(`caresync-worker check`) and replay again\n", job_id);
            rc = 1;
            break;
        }

        printf("replayed %s\n", job_id);
        found++;
    }

    if (strcmp(argv[0], "list") == 0) {
        x = cw_redis_cmd(&r, "ZCARD %s", c->key.retry);
        if (x && x->type == REDIS_REPLY_INTEGER) {
            fprintf(stderr, "%d dead job(s); %lld waiting for a retry\n",
                    found, x->integer);
        }
        if (x) {
            freeReplyObject(x);
        }

    } else if (found == 0 && rc == 0) {
        if (all) {
            printf("the dead-letter queue is empty\n");
        } else {
            fprintf(stderr, "caresync-worker: job %s is not in the "
                    "dead-letter queue (`caresync-worker dlq list` lists "
                    "the dead jobs; `jobs show %s` shows this one's "
                    "status)\n", argv[1], argv[1]);
            rc = 1;
        }
    }

    freeReplyObject(rep);
    cw_ops_close(&r);
    return rc;
}


/* ---- log ---- */

/* ISO-8601 or 90s / 15m / 2h / 1d back from now, to epoch ms */
static int
cw_ops_since(const char *s, long long *ms)
{
    char      *end;
    int64_t    t;
    long long  v;

    if (cw_parse_datetime(s, &t) == 0) {
        *ms = t;
        return 0;
    }

    v = strtoll(s, &end, 10);
    if (end == s || v < 0 || end[0] == '\0' || end[1] != '\0') {
        return -1;
    }

    switch (*end) {
    case 's': v *= 1000; break;
    case 'm': v *= 60000; break;
    case 'h': v *= 3600000; break;
    case 'd': v *= 86400000; break;
    default: return -1;
    }

    *ms = (long long) cw_now_ms() - v;
    return 0;
}


int
cw_ops_log(const cw_conf_t *c, int argc, char **argv)
{
    int              i, n = 0;
    long             count = 0;
    size_t           j;
    char             start[48], page[24];
    long long        since = 0;
    cw_redis_t       r;
    redisReply      *rep, *e;
    cw_log_level_e   min = CW_LOG_DEBUG, lvl;
    char            *end;
    const char      *level;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--level") == 0 && i + 1 < argc) {
            if (cw_log_level_parse(argv[++i], &min) != 0) {
                fprintf(stderr, "caresync-worker: --level is debug, error "
                        "or exception\n");
                return 2;
            }

        } else if (strcmp(argv[i], "--since") == 0 && i + 1 < argc) {
            if (cw_ops_since(argv[++i], &since) != 0) {
                fprintf(stderr, "caresync-worker: --since takes ISO-8601 or "
                        "a duration such as 15m, 2h, 1d\n");
                return 2;
            }

        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = strtol(argv[++i], &end, 10);
            if (end == argv[i] || *end != '\0' || count < 1) {
                fprintf(stderr, "caresync-worker: --count takes a number "
                        "of entries, 1 or more\n");
                return 2;
            }

        } else {
            fprintf(stderr, "usage: caresync-worker log [--level L] "
                    "[--since T] [--count N]\n"
                    "`caresync-worker log --help` for details\n");
            return 2;
        }
    }

    if (cw_ops_connect(c, &r) != 0) {
        return 1;
    }

    /* stream ids start with the ms they were added at */
    snprintf(start, sizeof(start), "%lld-0", since > 0 ? since : 0);
    snprintf(page, sizeof(page), "%d", 1000);

    for ( ;; ) {
        rep = cw_redis_cmd(&r, "XRANGE %s %s + COUNT %s", c->key.log, start,
                           page);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
            fprintf(stderr, "caresync-worker: cannot read %s\n", c->key.log);
            if (rep) {
                freeReplyObject(rep);
            }
            cw_ops_close(&r);
            return 1;
        }

        for (j = 0; j < rep->elements; j++) {
            e = rep->element[j];
            level = cw_ops_field(e->element[1], "level");

            if (level == NULL || cw_log_level_parse(level, &lvl) != 0
                || lvl < min)
            {
                continue;
            }

            printf("%s %s %s %s\n", cw_ops_field(e->element[1], "ts"),
                   level, cw_ops_field(e->element[1], "component"),
                   cw_ops_field(e->element[1], "msg"));

            if (count && ++n >= count) {
                break;
            }
        }

        if (rep->elements < 1000 || (count && n >= count)) {
            freeReplyObject(rep);
            break;
        }

        /* exclusive start after the last id */
        snprintf(start, sizeof(start), "(%s",
                 rep->element[rep->elements - 1]->element[0]->str);
        freeReplyObject(rep);
    }

    cw_ops_close(&r);
    return 0;
}


/* ---- check ---- */

typedef struct {
    const char  *name;
    int          done;
    int          ok;
    char         msg[512];
} cw_probe_t;


static void
cw_ops_crm_done(void *data, cw_crm_res_t *res)
{
    cw_probe_t  *p = data;

    p->done = 1;
    p->ok = res->err.cls == CW_ERR_NONE;
    snprintf(p->msg, sizeof(p->msg), "%s", p->ok ? "authenticated, API "
             "reachable" : res->err.message);
}


static void
cw_ops_http_done(cw_http_req_t *r)
{
    cw_probe_t  *p = r->data;

    p->done = 1;

    if (r->status == 401 || r->status == 403) {
        snprintf(p->msg, sizeof(p->msg), "%s refused the API key (HTTP "
                 "%ld): check %s.api_key", p->name, r->status, p->name);

    } else if (r->status == 0 || r->status >= 500) {
        snprintf(p->msg, sizeof(p->msg), "%s", r->err.message);

    } else {
        /* 2xx, or a 4xx about the probe's empty search: key accepted */
        p->ok = 1;
        snprintf(p->msg, sizeof(p->msg), "API key accepted (HTTP %ld)",
                 r->status);
    }

    cw_http_req_free(r);
}


int
cw_ops_check(const cw_conf_t *c)
{
    int             rc = 0, i, np = 0;
    char            err[512], hdr[512];
    cw_err_t        rerr;
    uint64_t        deadline;
    cw_redis_t      r;
    cw_http_t      *http;
    cw_crm_t       *crm = NULL;
    cw_probe_t      probes[3];
    cw_target_t     t_hint, t_hs;
    cw_http_conf_t  hc;
    cw_http_req_t  *req;
    redisReply     *rep;

    printf("config: ok\n");

    cw_redis_init(&r, c->redis.host, (int) c->redis.port, c->redis.password,
                  c->redis.db, c->redis.timeout_ms);

    if (cw_redis_connect(&r, &rerr) != 0) {
        printf("redis: FAIL %s\n", rerr.message);
        rc = 1;

    } else {
        rep = cw_redis_cmd(&r, "XINFO GROUPS %s", c->key.jobs);
        if (rep && rep->type == REDIS_REPLY_ARRAY) {
            printf("redis: ok %s:%d, stream %s has %zu consumer group(s)\n",
                   c->redis.host, (int) c->redis.port, c->key.jobs,
                   rep->elements);
        } else {
            printf("redis: ok %s:%d, stream %s not created yet (`run` "
                   "creates it and the group `%s`)\n", c->redis.host,
                   (int) c->redis.port, c->key.jobs, CW_QUEUE_GROUP);
        }
        if (rep) {
            freeReplyObject(rep);
        }
    }

    cw_redis_close(&r);
    free(r.host);
    free(r.password);

    cw_ops_http_conf(c, 0, &hc);

    http = cw_http_create(&hc);
    memset(probes, 0, sizeof(probes));

    if (c->sf.login_url) {
        probes[np].name = "salesforce";
        crm = cw_salesforce_create(http, c, err, sizeof(err));

        if (crm == NULL) {
            probes[np].done = 1;
            snprintf(probes[np].msg, sizeof(probes[np].msg), "%s", err);
        } else {
            crm->ping(crm, cw_ops_crm_done, &probes[np]);
        }

        np++;

    } else {
        printf("salesforce: not configured ([salesforce] login_url)\n");
    }

    if (c->hint.base_url) {
        probes[np].name = "hint";
        cw_target_init(&t_hint, "hint", c->hint.base_url,
                       (int) c->hint.max_concurrency, 0);
        req = cw_http_req_new(http, "GET", &t_hint, NULL, cw_ops_http_done,
                              &probes[np]);
        cw_http_req_url(req, "/api/provider/patients?limit=1");
        /* the practice key is a bearer token with no expiry */
        snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s",
                 c->hint.api_key ? c->hint.api_key : "");
        cw_http_req_header(req, hdr);
        explicit_bzero(hdr, sizeof(hdr));
        cw_http_send(req);
        np++;
    }

    if (c->hs.base_url) {
        probes[np].name = "healthsherpa";
        cw_target_init(&t_hs, "healthsherpa", c->hs.base_url,
                       (int) c->hs.max_concurrency, 0);
        req = cw_http_req_new(http, "POST", &t_hs, NULL, cw_ops_http_done,
                              &probes[np]);
        cw_http_req_url(req, "/v1/contacts/search");
        {
            json_t  *b = json_pack("{s:s,s:{}}", "agent_email",
                                   c->hs.agent_email ? c->hs.agent_email : "",
                                   "params");
            cw_http_req_json(req, b);
            json_decref(b);
        }
        snprintf(hdr, sizeof(hdr), "X-API-Key: %s",
                 c->hs.api_key ? c->hs.api_key : "");
        cw_http_req_header(req, hdr);
        explicit_bzero(hdr, sizeof(hdr));
        cw_http_send(req);
        np++;
    }

    deadline = cw_mono_ms() + (uint64_t) c->http.timeout_ms + 1000;

    while (cw_http_active(http) && cw_mono_ms() < deadline) {
        (void) cw_http_poll(http, 100);
    }

    for (i = 0; i < np; i++) {
        printf("%s: %s %s\n", probes[i].name, probes[i].ok ? "ok" : "FAIL",
               probes[i].done ? probes[i].msg : "no answer in time");
        if (!probes[i].ok) {
            rc = 1;
        }
    }

    cw_http_cancel_all(http);

    if (crm) {
        crm->destroy(crm);
    }

    if (c->hint.base_url) {
        free(t_hint.base_url);
    }

    if (c->hs.base_url) {
        free(t_hs.base_url);
    }

    cw_http_destroy(http);
    return rc;
}
