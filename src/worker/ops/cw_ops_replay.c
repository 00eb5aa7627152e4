/*
 * caresync-worker: replaying processed and dead jobs (cw_ops_replay.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cs_time.h"
#include "engine/cw_audit.h"
#include "engine/cw_status.h"
#include "engine/cw_util.h"
#include "ops/cw_ops.h"
#include "ops/cw_ops_replay.h"


/* whether a stored entry passes the filters */
static int
cw_replay_match(const cw_replay_spec_t *s, redisReply *fv)
{
    int          ok = 1;
    json_t      *env;
    const char  *v, *job;

    if (s->job_id && ((v = cw_ops_field(fv, "job_id")) == NULL
                      || strcmp(v, s->job_id) != 0))
    {
        return 0;
    }

    if (s->type && ((v = cw_ops_field(fv, "type")) == NULL
                    || strcmp(v, s->type) != 0))
    {
        return 0;
    }

    if (s->source) {
        /* source.system is a readable part of the envelope (spec/job.md) */
        job = cw_ops_field(fv, "job");
        env = job ? json_loads(job, 0, NULL) : NULL;
        v = cw_json_str(json_object_get(env, "source"), "system");
        ok = v && strcmp(v, s->source) == 0;
        if (env) {
            json_decref(env);
        }
    }

    return ok;
}


typedef struct {
    cw_redis_t              *r;
    const cw_conf_t         *c;
    const cw_replay_spec_t  *s;
    const char              *key;
    const char              *what;      /* "archive", "dead" */
    int                      dead;
    cw_replay_each_pt        each;
    void                    *data;
    cw_replay_res_t         *res;
    long                     limit;
} cw_replay_walk_t;


/* One stored job: queued again (appended; flushed a page at a time) */
static int
cw_replay_entry(void *data, redisReply *e)
{
    char               from[96], skey[CW_STATUS_KEY_MAX];
    redisReply        *fv = e->element[1];
    const char        *job_id, *job;
    cw_replay_walk_t  *w = data;

    job_id = cw_ops_field(fv, "job_id");
    job = cw_ops_field(fv, "job");

    if (job == NULL || job_id == NULL || !cw_replay_match(w->s, fv)) {
        return 0;
    }

    if (w->res->queued == w->limit) {
        w->res->more = 1;
        snprintf(w->res->next, sizeof(w->res->next), "%s",
                 e->element[0]->str);
        return 1;
    }

    snprintf(from, sizeof(from), "%s:%s", w->what, e->element[0]->str);

    if (!w->s->dry_run) {
        /* back on the queue, as it was queued, with its link */
        cw_status_key(w->c->redis.prefix, job_id, skey, sizeof(skey));
        cw_redis_append(w->r, "MULTI");
        cw_redis_append(w->r, "XADD %s * job %s replay_of %s",
                        w->c->key.jobs, job, from);
        cw_status_requeued(w->r, skey, from);
        if (w->dead) {
            cw_redis_append(w->r, "XDEL %s %s", w->key, e->element[0]->str);
        }
        cw_redis_append(w->r, "EXEC");
    }

    w->res->queued++;

    if (w->each) {
        w->each(w->data, job_id, from);
    }

    return 0;
}


/* One stream, by pages of CW_REPLAY_PAGE, each page's jobs in one flush */
static int
cw_replay_stream(cw_replay_walk_t *w, const char *key, const char *what,
    int dead)
{
    char  start[32], end[32];

    w->key = key;
    w->what = what;
    w->dead = dead;

    snprintf(start, sizeof(start), "%lld", w->s->since_ms);
    if (w->s->until_ms > 0) {
        snprintf(end, sizeof(end), "%lld", w->s->until_ms);
    } else {
        strcpy(end, "+");
    }

    return cw_ops_xrange(w->r, key, start, end, CW_REPLAY_PAGE,
                         cw_replay_entry, w) < 0 ? -1 : 0;
}


int
cw_replay(cw_redis_t *r, const cw_conf_t *c, const cw_replay_spec_t *s,
    cw_replay_each_pt each, void *data, cw_replay_res_t *res)
{
    int               rc = 0;
    char              count[24], t0[CS_TIME_ISO_LEN + 1];
    char              t1[CS_TIME_ISO_LEN + 1];
    cw_replay_walk_t  w;

    memset(res, 0, sizeof(*res));

    w.r = r;
    w.c = c;
    w.s = s;
    w.each = each;
    w.data = data;
    w.res = res;
    w.limit = s->limit > 0 ? s->limit : CW_REPLAY_LIMIT;

    if (s->archive && cw_replay_stream(&w, c->key.archive, "archive", 0)) {
        rc = -1;
    }

    if (rc == 0 && s->dead && !res->more
        && cw_replay_stream(&w, c->key.dead, "dead", 1) != 0)
    {
        rc = -1;
    }

    if (s->dry_run) {
        return rc;
    }

    /* what was queued, also when Redis failed half way */
    snprintf(count, sizeof(count), "%ld", res->queued);
    cs_time_format_iso(s->since_ms, t0);
    cs_time_format_iso(s->until_ms ? s->until_ms : (long long) cw_now_ms(),
                       t1);

    if (cw_audit_op(r, c, s->actor, s->action ? s->action : "replay",
                    "since", s->since_ms ? t0 : NULL,
                    "until", s->since_ms ? t1 : NULL,
                    "type", s->type, "source", s->source, "job", s->job_id,
                    "count", count, "result", rc == 0 ? "done" : "partial",
                    NULL) != 0 && rc == 0)
    {
        rc = -2;
    }

    return rc;
}


static void
cw_replay_print(void *data, const char *job_id, const char *from)
{
    printf("%s %s %s\n", (const char *) data, job_id, from);
}


static int
cw_replay_usage(void)
{
    fprintf(stderr, "usage: caresync-worker replay --since T [--until T] "
            "[--type T] [--source S] [--dry-run] [--limit N] "
            "[--actor NAME]\n"
            "`caresync-worker replay --help` for details\n");
    return 2;
}


int
cw_ops_replay(const cw_conf_t *c, int argc, char **argv)
{
    int               i, rc, since = 0;
    char             *end;
    cw_redis_t        r;
    cw_replay_res_t   res;
    cw_replay_spec_t  s;

    memset(&s, 0, sizeof(s));
    s.archive = 1;
    s.dead = 1;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            s.dry_run = 1;

        } else if (i + 1 >= argc) {
            return cw_replay_usage();

        } else if (strcmp(argv[i], "--since") == 0) {
            if (cw_ops_since(argv[++i], &s.since_ms) != 0) {
                fprintf(stderr, "caresync-worker: --since wants ISO-8601 "
                        "(2026-11-21T10:00:00Z) or a duration (90s, 15m, "
                        "2h, 1d)\n");
                return 2;
            }
            since = 1;

        } else if (strcmp(argv[i], "--until") == 0) {
            if (cw_ops_since(argv[++i], &s.until_ms) != 0) {
                fprintf(stderr, "caresync-worker: --until wants ISO-8601 "
                        "or a duration back from now\n");
                return 2;
            }

        } else if (strcmp(argv[i], "--type") == 0) {
            s.type = argv[++i];

        } else if (strcmp(argv[i], "--source") == 0) {
            s.source = argv[++i];

        } else if (strcmp(argv[i], "--limit") == 0) {
            s.limit = strtol(argv[++i], &end, 10);
            if (*end || s.limit < 1 || s.limit > 1000000) {
                fprintf(stderr, "caresync-worker: --limit wants 1 to "
                        "1000000\n");
                return 2;
            }

        } else {
            return cw_replay_usage();
        }
    }

    /* a replay of everything is a decision: say from when */
    if (!since) {
        return cw_replay_usage();
    }

    if (cw_ops_connect(c, &r) != 0) {
        return 1;
    }

    rc = cw_replay(&r, c, &s, cw_replay_print,
                   s.dry_run ? "would replay" : "replayed", &res);

    if (rc == -1) {
        fprintf(stderr, "caresync-worker: Redis failed during the replay; "
                "the jobs printed above were queued. Check Redis "
                "(`caresync-worker check`) and run it again with --since "
                "after the last one\n");
    }

    printf("%s %ld job(s)\n", s.dry_run ? "would replay" : "replayed",
           res.queued);

    if (res.more) {
        printf("stopped at the limit; more match from stream id %s on\n",
               res.next);
    }

    if (rc == -2) {
        fprintf(stderr, "caresync-worker: the replay is not in the audit "
                "trail: Redis refused the entry\n");
    }

    rc = rc ? 1 : 0;
    cw_ops_close(&r);
    return rc;
}
