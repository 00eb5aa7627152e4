/*
 * caresync-worker: erasing a patient (cw_ops_erase.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cs_id.h"
#include "cs_seal.h"
#include "engine/cw_audit.h"
#include "engine/cw_crypto.h"
#include "engine/cw_jobs.h"
#include "engine/cw_queue.h"
#include "engine/cw_status.h"
#include "engine/cw_trace.h"
#include "engine/cw_util.h"
#include "ops/cw_ops.h"
#include "ops/cw_ops_erase.h"

#define CW_ERASE_PAGE  200
#define CW_ERASE_KEY   512
#define CW_ERASE_IDS   8       /* the id and the ones its jobs linked */
#define CW_ERASE_SHUT  2       /* sealed, not openable, not known */

static const char  *cw_erase_kinds[] = {
    "queued", "retrying", "parked", "archived", "dead", "dedupe",
    "status", "timeline", "batch", "keys", "log"
};

/* the patient keys an id can be (cw_lock.h) */
static const char  *cw_erase_whats[] = { "ha", "hint", "crm" };

typedef struct {
    cw_redis_t        *r;
    const cw_conf_t   *c;
    char              *ids[CW_ERASE_IDS];
    int                nids;
    cw_patient_t       names[3 * CW_ERASE_IDS];
    int                nnames;
    char             **jobs;       /* ids of the jobs about the patient */
    size_t             njobs, cjobs;
    cw_erase_res_t    *res;
    const char        *key;        /* the stream being walked */
    cw_erase_kind_e    kind;
    int                ack;
} cw_erase_t;


const char *
cw_erase_kind_name(cw_erase_kind_e k)
{
    return k < CW_ERASE_NKINDS ? cw_erase_kinds[k] : "?";
}


static int
cw_erase_has(char **v, size_t n, const char *s)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (strcmp(v[i], s) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
cw_erase_add(char ***v, size_t *n, size_t *cap, const char *s)
{
    if (s && *s && !cw_erase_has(*v, *n, s)) {
        cw_strs_push(v, n, cap, s);
    }
}


/* A key id whose jobs could not be opened, once, for the message */
static void
cw_erase_shut(cw_erase_t *e, const char *job, size_t len)
{
    char    kid[CS_SEAL_KID_MAX + 1];
    size_t  n = strlen(e->res->shut_kids), k;

    e->res->unreadable++;

    if (cs_seal_kid((const unsigned char *) job, len, kid) == CS_SEAL_PLAIN
        || kid[0] == '\0')
    {
        snprintf(kid, sizeof(kid), "?");
    }

    k = strlen(kid);

    if (cw_list_has(e->res->shut_kids, kid)
        || n + k + 2 >= sizeof(e->res->shut_kids))
    {
        return;
    }

    snprintf(e->res->shut_kids + n, sizeof(e->res->shut_kids) - n, "%s%s",
             n ? " " : "", kid);
}


/*
 * Whether a stored job (its id as stored, and its envelope) is about the
 * patient: 1 (its id is added to what goes), 0, or CW_ERASE_SHUT when it
 * is sealed, cannot be opened, and nothing readable of it names the
 * patient (it may be the patient's: kept, and counted).  A job known by
 * its readable id is not opened; another sealed job is opened with the
 * key ring as a job's start opens it (cw_jobs.c), its
 * opened text wiped once parsed and the parse's copy wiped when freed:
 * the patient ids are compared, nothing of it is printed or kept.
 */
static int
cw_erase_about(cw_erase_t *e, const char *job_id, const char *job,
    size_t len)
{
    int               i, hit = 0;
    char             *text, *refused = NULL, kid[CS_SEAL_KID_MAX + 1];
    size_t            text_len;
    cw_env_t          env;
    const char       *v;
    cw_patient_t      p;
    const cs_json_t  *action;

    /* known by its readable id: nothing to open */
    if (job_id && cw_erase_has(e->jobs, e->njobs, job_id)) {
        return 1;
    }

    memset(&env, 0, sizeof(env));
    if (job) {
        refused = cw_crypto_open(e->c, (char *) job, len, &text, &text_len);
        (void) cw_env_parse(&env, text, text_len);
        cw_crypto_close(text, text_len, job);
    }

    if (job_id == NULL) {
        job_id = cw_env_str(env.root, "id");
    }

    if (job_id && cw_erase_has(e->jobs, e->njobs, job_id)) {
        hit = 1;
    }

    /* refused in the clear (PHI and no seal) is read all the same */
    if (!hit && env.root && cw_jobs_patient_of(&env, &p) == 0) {
        for (i = 0; i < e->nnames; i++) {
            if (strcmp(p.name, e->names[i].name) == 0) {
                hit = 1;
            }
        }
    }

    /* an action's ids are readable in every envelope */
    action = cw_env_get(env.root, "action");
    for (i = 0; !hit && i < e->nids; i++) {
        if (((v = cw_env_str(action, "contact_id")) != NULL
             && strcmp(v, e->ids[i]) == 0)
            || ((v = cw_env_str(action, "patient_id")) != NULL
                && strcmp(v, e->ids[i]) == 0))
        {
            hit = 1;
        }
    }

    if (hit) {
        cw_erase_add(&e->jobs, &e->njobs, &e->cjobs, job_id);

    } else if (refused && cs_seal_kid((const unsigned char *) job, len,
                                      kid) != CS_SEAL_PLAIN)
    {
        hit = CW_ERASE_SHUT;
    }

    free(refused);
    cw_env_free(&env);

    return hit;
}


/* DEL of one key: 1 when it was there, 0 when not, -1 Redis */
static int
cw_erase_del(cw_erase_t *e, const char *key)
{
    int          n = -1;
    redisReply  *rep;

    rep = cw_redis_cmd(e->r, "DEL %s", key);
    if (rep && rep->type == REDIS_REPLY_INTEGER) {
        n = (int) rep->integer;
    }
    if (rep) {
        freeReplyObject(rep);
    }

    return n;
}


/* One entry of a stream: deleted (acknowledged first) when it is about it */
static int
cw_erase_entry(void *data, redisReply *x)
{
    int           hit;
    redisReply   *fv = x->element[1];
    const char   *job = cw_ops_field(fv, "job");
    cw_erase_t   *e = data;

    hit = cw_erase_about(e, cw_ops_field(fv, "job_id"), job,
                         job ? strlen(job) : 0);
    if (hit == CW_ERASE_SHUT) {
        cw_erase_shut(e, job, strlen(job));
    }
    if (hit != 1) {
        return 0;
    }

    if (e->ack) {
        cw_redis_append(e->r, "XACK %s %s %s", e->key, CW_QUEUE_GROUP,
                        x->element[0]->str);
    }
    cw_redis_append(e->r, "XDEL %s %s", e->key, x->element[0]->str);
    e->res->n[e->kind]++;
    return 0;
}


/* A stream's entries about the patient go (acknowledged first: `ack`) */
static int
cw_erase_stream(cw_erase_t *e, const char *key, cw_erase_kind_e kind,
    int ack)
{
    e->key = key;
    e->kind = kind;
    e->ack = ack;

    return cw_ops_xrange(e->r, key, "-", "+", CW_ERASE_PAGE, cw_erase_entry,
                         e);
}


/* A page of the retry set: [member, score, ...], "<order>\t<envelope>" */
static int
cw_erase_retry_page(void *data, redisReply *list)
{
    int          hit;
    size_t       i;
    const char  *m, *tab;
    cw_erase_t  *e = data;

    for (i = 0; i + 1 < list->elements; i += 2) {
        m = list->element[i]->str;
        tab = strchr(m, '\t');
        tab = tab ? tab + 1 : m;

        hit = cw_erase_about(e, NULL, tab, strlen(tab));
        if (hit == CW_ERASE_SHUT) {
            cw_erase_shut(e, tab, strlen(tab));
        }
        if (hit == 1) {
            cw_redis_append(e->r, "ZREM %s %b", e->c->key.retry, m,
                            list->element[i]->len);
            e->res->n[CW_ERASE_RETRYING]++;
        }
    }

    return 0;
}


/* Jobs parked behind the patient's keys: "<order>\t<kind>\t<id>\t<env>" */
static int
cw_erase_parked(cw_erase_t *e, const char *wait)
{
    size_t       i;
    char         id[132];
    const char  *m, *a, *b, *env;
    redisReply  *rep;

    rep = cw_redis_cmd(e->r, "ZRANGE %s 0 -1", wait);
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        if (rep) {
            freeReplyObject(rep);
        }
        return -1;
    }

    for (i = 0; i < rep->elements; i++) {
        m = rep->element[i]->str;
        a = strchr(m, '\t');
        a = a ? strchr(a + 1, '\t') : NULL;
        b = a ? strchr(a + 1, '\t') : NULL;
        if (b == NULL) {
            continue;
        }

        env = b + 1;
        snprintf(id, sizeof(id), "%.*s", (int) (b - a - 1), a + 1);
        cw_erase_add(&e->jobs, &e->njobs, &e->cjobs, id);
        (void) cw_erase_about(e, id, env, strlen(env));
        e->res->n[CW_ERASE_PARKED]++;
    }

    freeReplyObject(rep);
    return 0;
}


/* The integer reply of a command now, 0 when there is none */
static long long
cw_erase_count(cw_erase_t *e, const char *cmd, const char *key,
    const char *arg)
{
    long long    n = 0;
    redisReply  *x;

    x = strcmp(cmd, "LREM") == 0
        ? cw_redis_cmd(e->r, "LREM %s 0 %s", key, arg)
        : cw_redis_cmd(e->r, "%s %s %s", cmd, key, arg);

    if (x && x->type == REDIS_REPLY_INTEGER) {
        n = x->integer;
    }
    if (x) {
        freeReplyObject(x);
    }

    return n;
}


/* A page of batches' result keys: the rows, and the items, naming an id */
static int
cw_erase_batch_page(void *data, redisReply *keys)
{
    int          k;
    size_t       i;
    char         items[CW_ERASE_KEY], *sfx;
    cw_erase_t  *e = data;

    for (i = 0; i < keys->elements; i++) {
        /* the batch's input list, :items beside :results */
        snprintf(items, sizeof(items), "%s", keys->element[i]->str);
        sfx = strrchr(items, ':');
        if (sfx == NULL || strcmp(sfx, ":results") != 0) {
            continue;
        }
        strcpy(sfx, ":items");

        for (k = 0; k < e->nids; k++) {
            e->res->n[CW_ERASE_BATCH] +=
                cw_erase_count(e, "HDEL", keys->element[i]->str, e->ids[k])
                + cw_erase_count(e, "LREM", items, e->ids[k]);
        }
    }

    return 0;
}


/* A key of the patient's: {prefix}:<what>:<name> */
static void
cw_erase_pkey(cw_erase_t *e, const char *what, const char *name, char *out)
{
    snprintf(out, CW_ERASE_KEY, "%s:%s:%s", e->c->redis.prefix, what, name);
}


/* One more id of the patient's, with its three keys; -1: not an id */
static int
cw_erase_add_id(cw_erase_t *e, const char *id)
{
    int  i;

    for (i = 0; i < e->nids; i++) {
        if (strcmp(e->ids[i], id) == 0) {
            return 0;
        }
    }

    if (e->nids == CW_ERASE_IDS) {
        return 0;
    }

    for (i = 0; i < 3; i++) {
        if (cw_patient_key(&e->names[e->nnames + i], cw_erase_whats[i], id)
            != 0)
        {
            return -1;
        }
    }

    e->nnames += 3;
    e->ids[e->nids++] = cw_strdup(id);
    return 0;
}


/*
 * The jobs of the index, the ids they linked and those ids' jobs, and
 * whether one of them runs (then: refuse); 0, 1 refused, -1 Redis.
 */
static int
cw_erase_check(cw_erase_t *e)
{
    int          i, retrying = 0, locked = 0, names = 0;
    size_t       j, jobs = 0;
    char         key[CW_ERASE_KEY];
    redisReply  *rep;

    while (names < e->nnames) {
        for (i = names; i < e->nnames; i++) {
            cw_status_index_key(e->c->redis.prefix, e->names[i].name, key,
                                sizeof(key));
            rep = cw_redis_cmd(e->r, "SMEMBERS %s", key);
            if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
                if (rep) {
                    freeReplyObject(rep);
                }
                return -1;
            }

            for (j = 0; j < rep->elements; j++) {
                cw_erase_add(&e->jobs, &e->njobs, &e->cjobs,
                             rep->element[j]->str);
            }
            freeReplyObject(rep);

            cw_erase_pkey(e, "lock", e->names[i].name, key);
            rep = cw_redis_cmd(e->r, "EXISTS %s", key);
            if (rep && rep->type == REDIS_REPLY_INTEGER && rep->integer > 0) {
                locked = 1;
            }
            if (rep) {
                freeReplyObject(rep);
            }
        }

        names = e->nnames;

        for (j = jobs; j < e->njobs; j++) {
            cw_status_key(e->c->redis.prefix, e->jobs[j], key, sizeof(key));
            rep = cw_redis_cmd(e->r, "HMGET %s status crm_contact_id "
                               "hint_patient_id", key);
            if (rep == NULL || rep->type != REDIS_REPLY_ARRAY
                || rep->elements != 3)
            {
                if (rep) {
                    freeReplyObject(rep);
                }
                return -1;
            }

            if (rep->element[0]->type == REDIS_REPLY_STRING) {
                if (strcmp(rep->element[0]->str, "running") == 0) {
                    snprintf(e->res->running, sizeof(e->res->running), "%s",
                             e->jobs[j]);
                    freeReplyObject(rep);
                    return 1;
                }
                retrying |= strcmp(rep->element[0]->str, "retrying") == 0;
            }

            /* the contact, the Hint patient: the same person */
            for (i = 1; i < 3; i++) {
                if (rep->element[i]->type == REDIS_REPLY_STRING) {
                    (void) cw_erase_add_id(e, rep->element[i]->str);
                }
            }

            freeReplyObject(rep);
        }

        jobs = e->njobs;
    }

    /* a turn held by no job we know of: one is starting right now */
    if (locked && !retrying) {
        e->res->running[0] = '\0';
        return 1;
    }

    return 0;
}


/* `s` names `id` as a whole word of the id alphabet */
static int
cw_erase_names(const char *s, const char *id)
{
    size_t       n = strlen(id);
    const char  *p;

#define CW_ID_CHAR(c)                                                         \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')                 \
     || ((c) >= '0' && (c) <= '9') || (c) == '-' || (c) == '_' || (c) == '.')

    for (p = strstr(s, id); p; p = strstr(p + 1, id)) {
        if ((p == s || !CW_ID_CHAR(p[-1])) && !CW_ID_CHAR(p[n])) {
            return 1;
        }
    }

#undef CW_ID_CHAR

    return 0;
}


/* A line of the sync log: deleted when it names an id or a job of it */
static int
cw_erase_log_line(void *data, redisReply *x)
{
    int          i, hit = 0;
    size_t       k;
    const char  *msg = cw_ops_field(x->element[1], "msg");
    cw_erase_t  *e = data;

    for (i = 0; msg && !hit && i < e->nids; i++) {
        hit = cw_erase_names(msg, e->ids[i]);
    }
    for (k = 0; msg && !hit && k < e->njobs; k++) {
        hit = cw_erase_names(msg, e->jobs[k]);
    }

    if (hit) {
        cw_redis_append(e->r, "XDEL %s %s", e->c->key.log,
                        x->element[0]->str);
        e->res->n[CW_ERASE_LOG]++;
    }

    return 0;
}


static int
cw_erase_keys(cw_erase_t *e)
{
    int          i, n;
    size_t       j;
    char         key[CW_ERASE_KEY], waiting[CW_ERASE_KEY];
    static const char  *per[] = { "lock", "last", "wait" };

    snprintf(waiting, sizeof(waiting), "%s:waiting", e->c->redis.prefix);

    for (i = 0; i < e->nnames; i++) {
        cw_erase_pkey(e, "wait", e->names[i].name, key);
        if (cw_erase_parked(e, key) != 0) {
            return -1;
        }

        for (j = 0; j < sizeof(per) / sizeof(per[0]); j++) {
            cw_erase_pkey(e, per[j], e->names[i].name, key);
            if ((n = cw_erase_del(e, key)) < 0) {
                return -1;
            }
            e->res->n[CW_ERASE_KEYS] += n;
        }

        cw_status_index_key(e->c->redis.prefix, e->names[i].name, key,
                            sizeof(key));
        if ((n = cw_erase_del(e, key)) < 0) {
            return -1;
        }
        e->res->n[CW_ERASE_KEYS] += n;

        cw_redis_append(e->r, "SREM %s %s", waiting, e->names[i].name);
    }

    /* a contact's attached media (digests of its card images' ids) */
    for (i = 0; i < e->nids; i++) {
        cw_erase_pkey(e, "media", e->ids[i], key);
        if ((n = cw_erase_del(e, key)) < 0) {
            return -1;
        }
        e->res->n[CW_ERASE_KEYS] += n;
    }

    return cw_redis_flush(e->r);
}


/*
 * A page of the edge's marks of an event already queued
 * ({prefix}:dedupe:<key>, {prefix}:message:<digest>): each holds the id of
 * the job it queued; those of the patient's jobs go.
 */
static int
cw_erase_mark_page(void *data, redisReply *keys)
{
    size_t        i, n = keys->elements;
    const char  **argv;
    redisReply   *vals;
    cw_erase_t   *e = data;

    if (n == 0) {
        return 0;
    }

    argv = cw_calloc(n + 1, sizeof(char *));
    argv[0] = "MGET";
    for (i = 0; i < n; i++) {
        argv[i + 1] = keys->element[i]->str;
    }
    vals = cw_redis_cmdv(e->r, (int) n + 1, argv, NULL);
    free(argv);

    if (vals == NULL || vals->type != REDIS_REPLY_ARRAY
        || vals->elements != n)
    {
        if (vals) {
            freeReplyObject(vals);
        }
        return -1;
    }

    for (i = 0; i < n; i++) {
        if (vals->element[i]->type == REDIS_REPLY_STRING
            && cw_erase_has(e->jobs, e->njobs, vals->element[i]->str))
        {
            cw_redis_append(e->r, "DEL %s", keys->element[i]->str);
            e->res->n[CW_ERASE_DEDUPE]++;
        }
    }

    freeReplyObject(vals);
    return 0;
}


/* SCAN of one kind of key, `{prefix}:<what>:*`, a page at a time */
static int
cw_erase_scan(cw_erase_t *e, const char *what, cw_ops_page_pt page)
{
    char  match[CW_ERASE_KEY];

    snprintf(match, sizeof(match), "%s:%s:*", e->c->redis.prefix, what);
    return cw_ops_scan(e->r, NULL, match, page, e);
}


/* The trail says that it happened, and what went, not whom it was about */
static int
cw_erase_audit(cw_erase_t *e, const char *actor, int rc)
{
    int       k;
    char      digest[CS_ID_SHA256_LEN + 1], counts[256], shut[24];
    size_t    off = 0;
    cs_str_t  part;

    for (k = 0; k < CW_ERASE_NKINDS; k++) {
        off += (size_t) snprintf(counts + off, sizeof(counts) - off,
                                 "%s%s=%lld", k ? "," : "",
                                 cw_erase_kind_name(k), e->res->n[k]);
        if (off >= sizeof(counts)) {
            off = sizeof(counts) - 1;
        }
    }

    part.data = e->ids[0];
    part.len = strlen(e->ids[0]);
    if (cs_id_sha256_hex(&part, 1, digest) != 0) {
        strcpy(digest, "-");
    }

    snprintf(shut, sizeof(shut), "%lld", e->res->unreadable);

    return cw_audit_op(e->r, e->c, actor, "erase", "patient_sha256", digest,
                       "result", rc != 0 ? "partial"
                                 : e->res->unreadable ? "unreadable kept"
                                 : "done",
                       "removed", counts, "unreadable", shut, NULL);
}


int
cw_erase(cw_redis_t *r, const cw_conf_t *c, const char *id,
    const char *actor, cw_erase_res_t *res)
{
    int          rc;
    size_t       i, j;
    char         key[CW_ERASE_KEY];
    cw_erase_t   e;

    memset(res, 0, sizeof(*res));
    memset(&e, 0, sizeof(e));
    e.r = r;
    e.c = c;
    e.res = res;

    if (cw_erase_add_id(&e, id) != 0) {
        return -2;
    }

    rc = cw_erase_check(&e);

    /* the parked jobs first: their ids name their status records */
    if (rc == 0) {
        rc = cw_erase_keys(&e) != 0
             || cw_erase_stream(&e, c->key.jobs, CW_ERASE_QUEUED, 1) != 0
             || cw_ops_scan(r, c->key.retry, NULL, cw_erase_retry_page, &e)
                != 0
             || cw_erase_stream(&e, c->key.archive, CW_ERASE_ARCHIVED, 0)
                != 0
             || cw_erase_stream(&e, c->key.dead, CW_ERASE_DEAD, 0) != 0
             || cw_erase_scan(&e, "batch", cw_erase_batch_page) != 0
             ? -1 : 0;
    }

    for (j = 0; rc == 0 && j < e.njobs; j++) {
        cw_status_key(c->redis.prefix, e.jobs[j], key, sizeof(key));
        if ((i = (size_t) cw_erase_del(&e, key)) == (size_t) -1) {
            rc = -1;
        } else {
            res->n[CW_ERASE_STATUS] += (long long) i;
        }

        cw_trace_key(c->redis.prefix, e.jobs[j], key, sizeof(key));
        if (rc == 0 && (i = (size_t) cw_erase_del(&e, key)) == (size_t) -1) {
            rc = -1;
        } else if (rc == 0) {
            res->n[CW_ERASE_TIMELINE] += (long long) i;
        }
    }

    if (rc == 0 && (cw_erase_scan(&e, "dedupe", cw_erase_mark_page) != 0
                    || cw_erase_scan(&e, "message", cw_erase_mark_page) != 0))
    {
        rc = -1;
    }

    /* last: the log's lines of every job found */
    if (rc == 0 && cw_ops_xrange(r, c->key.log, "-", "+", CW_ERASE_PAGE * 5,
                                 cw_erase_log_line, &e) != 0)
    {
        rc = -1;
    }

    if (rc == 0 || rc == -1) {
        if (cw_erase_audit(&e, actor, rc) != 0 && rc == 0) {
            rc = -3;
        }
    }

    if (rc == 0 && res->unreadable) {
        rc = -4;
    }

    for (j = 0; j < e.njobs; j++) {
        free(e.jobs[j]);
    }
    for (j = 0; j < (size_t) e.nids; j++) {
        free(e.ids[j]);
    }
    free(e.jobs);

    return rc;
}


int
cw_ops_erase(const cw_conf_t *c, int argc, char **argv)
{
    int             rc, k;
    cw_redis_t      r;
    cw_erase_res_t  res;

    if (argc != 2 || strcmp(argv[0], "--patient") != 0) {
        fprintf(stderr, "usage: caresync-worker erase --patient "
                "<source patient id | CRM contact id> [--actor NAME]\n"
                "`caresync-worker erase --help` for details\n");
        return 2;
    }

    if (cw_ops_connect(c, &r) != 0) {
        return 1;
    }

    rc = cw_erase(&r, c, argv[1], NULL, &res);

    if (rc == -2) {
        fprintf(stderr, "caresync-worker: `%.64s` is not a patient id: ids "
                "are letters, digits and - _ . : (at most 128)\n", argv[1]);
        cw_ops_close(&r);
        return 2;
    }

    if (rc == 1 && res.running[0]) {
        fprintf(stderr, "caresync-worker: refused: job %s for this patient "
                "is running; nothing was removed. Run erase again when it "
                "has ended (`caresync-worker jobs show %s`)\n", res.running,
                res.running);
    } else if (rc == 1) {
        fprintf(stderr, "caresync-worker: refused: a job for this patient "
                "is starting (it holds the patient's turn); nothing was "
                "removed. Run erase again in a moment\n");
    }

    if (rc == 1) {
        cw_ops_close(&r);
        return 1;
    }

    for (k = 0; k < CW_ERASE_NKINDS; k++) {
        printf("removed %s %lld\n", cw_erase_kind_name(k), res.n[k]);
    }
    printf("kept unreadable %lld\n", res.unreadable);

    if (rc == -4) {
        fprintf(stderr, "caresync-worker: %lld sealed job%s could not be "
                "opened (key id %s) and %s kept: %s may be about this "
                "patient. Put the key back in crypto.keys (`caresync-worker "
                "crypto status` lists it MISSING) and run erase again\n",
                res.unreadable, res.unreadable == 1 ? "" : "s",
                res.shut_kids, res.unreadable == 1 ? "was" : "were",
                res.unreadable == 1 ? "it" : "they");
        cw_ops_close(&r);
        return 3;
    }

    if (rc == -3) {
        fprintf(stderr, "caresync-worker: the erasure is not in the audit "
                "trail: Redis refused the entry\n");
        cw_ops_close(&r);
        return 1;
    }

    if (rc != 0) {
        fprintf(stderr, "caresync-worker: Redis failed during the erasure; "
                "part may remain. Check Redis (`caresync-worker check`) and "
                "run it again\n");
        cw_ops_close(&r);
        return 1;
    }

    cw_ops_close(&r);
    return 0;
}
