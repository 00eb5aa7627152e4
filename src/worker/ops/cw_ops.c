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
#include "engine/cw_audit.h"
#include "ops/cw_ops.h"
#include "ops/cw_ops_replay.h"
#include "engine/cw_queue.h"
#include "engine/cw_redis.h"
#include "crm/cw_salesforce.h"
#include "engine/cw_status.h"
#include "engine/cw_trace.h"
#include "engine/cw_util.h"


int
cw_ops_connect(const cw_conf_t *c, cw_redis_t *r)
{
    char      why[512];
    cw_err_t  err;

    if (cw_redis_init(r, c, why, sizeof(why)) != 0) {
        fprintf(stderr, "caresync-worker: %s\n", why);
        return -1;
    }

    if (cw_redis_connect(r, &err) != 0) {
        fprintf(stderr, "caresync-worker: %s\n"
                "Is Redis running there? Check [redis] host, port and "
                "password in the configuration (`caresync-worker check`).\n",
                err.message);
        cw_redis_free(r);
        return -1;
    }

    return 0;
}


void
cw_ops_close(cw_redis_t *r)
{
    (void) cw_redis_flush(r);
    cw_redis_close(r);
    cw_redis_free(r);
}


int
cw_ops_queue_batch(const cw_conf_t *c, const cw_batch_spec_t *spec,
    char **ids, size_t n, char id[CW_BATCH_ID_LEN])
{
    int         rc;
    char        count[24];
    cw_redis_t  r;

    if (cw_ops_connect(c, &r) != 0) {
        return -1;
    }

    rc = cw_batch_create(&r, c, spec, ids, n, id);

    if (rc == 0) {
        snprintf(count, sizeof(count), "%zu", n);
        if (cw_audit_op(&r, c, NULL, "batch start", "batch", id, "batch_kind",
                        spec->kind, "item", spec->item, "agent", spec->agent,
                        "count", count, NULL) != 0)
        {
            fprintf(stderr, "caresync-worker: batch %s is queued but not "
                    "in the audit trail: Redis refused the entry\n", id);
        }
    }

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


const char *
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


int
cw_ops_xrange(cw_redis_t *r, const char *key, const char *start,
    const char *end, int page, cw_ops_entry_pt each, void *data)
{
    int          rc = 0, last = 0;
    char         from[64], cnt[16];
    size_t       i, n;
    redisReply  *rep;

    snprintf(from, sizeof(from), "%s", start);
    snprintf(cnt, sizeof(cnt), "%d", page);

    while (!last && rc == 0) {
        rep = cw_redis_cmd(r, "XRANGE %s %s %s COUNT %s", key, from, end,
                           cnt);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
            if (rep) {
                freeReplyObject(rep);
            }
            return -1;
        }

        n = rep->elements;
        last = n < (size_t) page;

        for (i = 0; i < n && rc == 0; i++) {
            rc = each(data, rep->element[i]);
        }

        if (n) {
            snprintf(from, sizeof(from), "(%s",
                     rep->element[n - 1]->element[0]->str);
        }

        freeReplyObject(rep);

        if (cw_redis_flush(r) != 0) {
            return -1;
        }
    }

    return rc;
}


int
cw_ops_scan(cw_redis_t *r, const char *key, const char *match,
    cw_ops_page_pt each, void *data)
{
    int          rc = 0;
    char         cursor[32];
    redisReply  *rep;

    strcpy(cursor, "0");

    do {
        rep = key ? cw_redis_cmd(r, "ZSCAN %s %s COUNT 500", key, cursor)
                  : cw_redis_cmd(r, "SCAN %s MATCH %s COUNT 500", cursor,
                                 match);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY
            || rep->elements != 2
            || rep->element[0]->type != REDIS_REPLY_STRING)
        {
            if (rep) {
                freeReplyObject(rep);
            }
            return -1;
        }

        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        rc = each(data, rep->element[1]);
        freeReplyObject(rep);

        if (cw_redis_flush(r) != 0) {
            return -1;
        }

    } while (rc == 0 && strcmp(cursor, "0") != 0);

    return rc;
}


/* ---- jobs show ---- */

static const char *
cw_ops_jstr(json_t *o, const char *k)
{
    const char  *v = json_string_value(json_object_get(o, k));

    return v ? v : "-";
}


/* One attempt of the timeline (cw_trace.h), as a person reads it */
static void
cw_ops_attempt(json_t *e, int first)
{
    long         attempt;
    size_t       i;
    json_t      *calls, *call;

    attempt = (long) json_integer_value(json_object_get(e, "attempt"));

    if (first && json_object_get(e, "received_at")) {
        printf("  %s  received by the edge\n",
               cw_ops_jstr(e, "received_at"));
    }

    if (json_object_get(e, "queued_at")) {
        printf("  %s  queued%s\n", cw_ops_jstr(e, "queued_at"),
               attempt > 1 ? " again" : "");
    }

    printf("  %s  attempt %ld started\n", cw_ops_jstr(e, "started_at"),
           attempt);

    calls = json_object_get(e, "calls");
    json_array_foreach(calls, i, call) {
        printf("  %s    %s %s -> %lld (%lld ms)\n", cw_ops_jstr(call, "at"),
               cw_ops_jstr(call, "method"), cw_ops_jstr(call, "url"),
               (long long) json_integer_value(json_object_get(call,
                                                              "status")),
               (long long) json_integer_value(json_object_get(call, "ms")));
    }

    if (json_integer_value(json_object_get(e, "calls_dropped")) > 0) {
        printf("  %*s    ... and %lld more calls\n", CS_TIME_ISO_LEN, "",
               (long long) json_integer_value(json_object_get(
                   e, "calls_dropped")));
    }

    printf("  %s  attempt %ld ended: %s", cw_ops_jstr(e, "ended_at"),
           attempt, cw_ops_jstr(e, "status"));
    if (json_object_get(e, "error")) {
        printf(" (%s", cw_ops_jstr(e, "error"));
        if (json_object_get(e, "http_status")) {
            printf(", HTTP %lld", (long long) json_integer_value(
                                      json_object_get(e, "http_status")));
        }
        printf(")");
    }
    printf("\n");
}


static void
cw_ops_timeline(const cw_conf_t *c, cw_redis_t *r, const char *id)
{
    size_t       i;
    char         key[CW_STATUS_KEY_MAX];
    json_t      *e;
    redisReply  *rep;

    cw_trace_key(c->redis.prefix, id, key, sizeof(key));
    rep = cw_redis_cmd(r, "LRANGE %s 0 -1", key);

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements == 0)
    {
        printf("timeline: (none: the job has not ended an attempt yet, or "
               "it expired)\n");

    } else {
        printf("timeline:\n");

        for (i = 0; i < rep->elements; i++) {
            e = json_loadb(rep->element[i]->str, rep->element[i]->len, 0,
                           NULL);
            if (e) {
                cw_ops_attempt(e, i == 0);
                json_decref(e);
            }
        }
    }

    if (rep) {
        freeReplyObject(rep);
    }
}


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
        "next_attempt_at", "updated_at", "trace_id", NULL
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

        cw_ops_timeline(c, &r, argv[1]);
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


static void
cw_ops_dlq_replayed(void *data, const char *job_id, const char *from)
{
    printf("replayed %s\n", job_id);
}


/* dlq list: one dead job a line */
static int
cw_ops_dlq_line(void *data, redisReply *e)
{
    char         at[CS_TIME_ISO_LEN + 1];
    redisReply  *fv = e->element[1];
    const char  *job_id = cw_ops_field(fv, "job_id");

    cw_ops_ms_iso(cw_ops_field(fv, "failed_at"), at);
    printf("%s %s type=%s attempts=%s failed_at=%s error=\"%s\"\n",
           e->element[0]->str, job_id ? job_id : "-",
           cw_ops_field(fv, "type") ? cw_ops_field(fv, "type") : "-",
           cw_ops_field(fv, "attempts") ? cw_ops_field(fv, "attempts") : "-",
           at, cw_ops_field(fv, "error") ? cw_ops_field(fv, "error") : "");

    (*(int *) data)++;
    return 0;
}


/* dlq replay <job-id> | --all: cw_replay() on the dead-letter queue */
static int
cw_ops_dlq_replay(const cw_conf_t *c, cw_redis_t *r, const char *which)
{
    int               rc, all = strcmp(which, "--all") == 0;
    cw_replay_res_t   res;
    cw_replay_spec_t  s;

    memset(&s, 0, sizeof(s));
    s.dead = 1;
    s.job_id = all ? NULL : which;
    s.limit = all ? 1000000 : 1;

    s.action = "dlq replay";
    rc = cw_replay(r, c, &s, cw_ops_dlq_replayed, NULL, &res);

    if (rc == -1) {
        fprintf(stderr, "caresync-worker: replay failed: Redis did not "
                "confirm it. `caresync-worker dlq list` shows which jobs "
                "are still dead; check Redis (`caresync-worker check`) and "
                "replay again\n");
        return 1;
    }

    if (rc == -2) {
        fprintf(stderr, "caresync-worker: the replay is not in the audit "
                "trail: Redis refused the entry\n");
        return 1;
    }

    if (res.queued) {
        return 0;
    }

    if (all) {
        printf("the dead-letter queue is empty\n");
        return 0;
    }

    fprintf(stderr, "caresync-worker: job %s is not in the dead-letter queue "
            "(`caresync-worker dlq list` lists the dead jobs; `jobs show %s` "
            "shows this one's status)\n", which, which);
    return 1;
}


int
cw_ops_dlq(const cw_conf_t *c, int argc, char **argv)
{
    int          rc = 0, found = 0;
    cw_redis_t   r;
    redisReply  *x;

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

    if (strcmp(argv[0], "replay") == 0) {
        rc = cw_ops_dlq_replay(c, &r, argv[1]);
        cw_ops_close(&r);
        return rc;
    }

    /* a page at a time: the queue holds up to retention.dead_max */
    if (cw_ops_xrange(&r, c->key.dead, "-", "+", 500, cw_ops_dlq_line,
                      &found) != 0)
    {
        fprintf(stderr, "caresync-worker: cannot read %s\n", c->key.dead);
        cw_ops_close(&r);
        return 1;
    }

    x = cw_redis_cmd(&r, "ZCARD %s", c->key.retry);
    if (x && x->type == REDIS_REPLY_INTEGER) {
        fprintf(stderr, "%d dead job(s); %lld waiting for a retry\n",
                found, x->integer);
    }
    if (x) {
        freeReplyObject(x);
    }

    cw_ops_close(&r);
    return rc;
}


/* ---- log ---- */

int
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

    if (cw_redis_init(&r, c, rerr.message, sizeof(rerr.message)) != 0) {
        printf("redis: FAIL %s\n", rerr.message);
        rc = 1;

    } else if (cw_redis_connect(&r, &rerr) != 0) {
        printf("redis: FAIL %s\n", rerr.message);
        rc = 1;

    } else {
        rep = cw_redis_cmd(&r, "XINFO GROUPS %s", c->key.jobs);
        if (rep == NULL) {
            printf("redis: FAIL %s:%d: connection lost\n", r.host, r.port);
            rc = 1;

        } else if (rep->type == REDIS_REPLY_ARRAY) {
            printf("redis: ok %s:%d, stream %s has %zu consumer group(s)\n",
                   r.host, r.port, c->key.jobs,
                   rep->elements);
        } else {
            printf("redis: ok %s:%d, stream %s not created yet (`run` "
                   "creates it and the group `%s`)\n", r.host, r.port,
                   c->key.jobs, CW_QUEUE_GROUP);
        }
        if (rep) {
            freeReplyObject(rep);
        }
    }

    cw_redis_close(&r);
    cw_redis_free(&r);

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
