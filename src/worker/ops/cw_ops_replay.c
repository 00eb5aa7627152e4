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


/* One stream: XRANGE by pages, each page's matches queued in one flush. */
static int
cw_replay_stream(cw_redis_t *r, const cw_conf_t *c, const cw_replay_spec_t *s,
    const char *key, const char *what, int dead, cw_replay_each_pt each,
    void *data, cw_replay_res_t *res, long limit)
{
    int          last_page = 0;
    size_t       i, n;
    char         start[64], end[32], cnt[16], from[96];
    char         skey[CW_STATUS_KEY_MAX];
    redisReply  *rep, *e, *fv;
    const char  *job_id, *job;

    snprintf(start, sizeof(start), "%lld", s->since_ms);
    if (s->until_ms > 0) {
        snprintf(end, sizeof(end), "%lld", s->until_ms);
    } else {
        strcpy(end, "+");
    }
    snprintf(cnt, sizeof(cnt), "%d", CW_REPLAY_PAGE);

    while (!last_page) {
        rep = cw_redis_cmd(r, "XRANGE %s %s %s COUNT %s", key, start, end,
                           cnt);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
            if (rep) {
                freeReplyObject(rep);
            }
            return -1;
        }

        n = rep->elements;
        last_page = n < CW_REPLAY_PAGE;

        for (i = 0; i < n; i++) {
            e = rep->element[i];
            fv = e->element[1];
            job_id = cw_ops_field(fv, "job_id");
            job = cw_ops_field(fv, "job");

            if (job == NULL || job_id == NULL || !cw_replay_match(s, fv)) {
                continue;
            }

            if (res->queued == limit) {
                res->more = 1;
                snprintf(res->next, sizeof(res->next), "%s",
                         e->element[0]->str);
                last_page = 1;
                break;
            }

            snprintf(from, sizeof(from), "%s:%s", what, e->element[0]->str);

            if (!s->dry_run) {
                /* back on the queue, as it was queued, with its link */
                cw_status_key(c->redis.prefix, job_id, skey, sizeof(skey));
                cw_redis_append(r, "MULTI");
                cw_redis_append(r, "XADD %s * job %s replay_of %s",
                                c->key.jobs, job, from);
                cw_status_requeued(r, skey, from);
                if (dead) {
                    cw_redis_append(r, "XDEL %s %s", key, e->element[0]->str);
                }
                cw_redis_append(r, "EXEC");
            }

            res->queued++;

            if (each) {
                each(data, job_id, from);
            }
        }

        if (n) {
            snprintf(start, sizeof(start), "(%s",
                     rep->element[n - 1]->element[0]->str);
        }

        freeReplyObject(rep);

        if (cw_redis_flush(r) != 0) {
            return -1;
        }
    }

    return 0;
}


int
cw_replay(cw_redis_t *r, const cw_conf_t *c, const cw_replay_spec_t *s,
    cw_replay_each_pt each, void *data, cw_replay_res_t *res)
{
    int    rc = 0;
    long   limit = s->limit > 0 ? s->limit : CW_REPLAY_LIMIT;
    char   count[24], t0[CS_TIME_ISO_LEN + 1], t1[CS_TIME_ISO_LEN + 1];

    memset(res, 0, sizeof(*res));

    if (s->archive
        && cw_replay_stream(r, c, s, c->key.archive, "archive", 0, each,
                            data, res, limit) != 0)
    {
        rc = -1;
    }

    if (rc == 0 && s->dead && !res->more
        && cw_replay_stream(r, c, s, c->key.dead, "dead", 1, each, data,
                            res, limit) != 0)
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
