/*
 * caresync-worker: one job at a time per patient (see cw_lock.h).
 */

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cs_time.h"
#include "engine/cw_lock.h"
#include "engine/cw_log.h"
#include "engine/cw_queue.h"
#include "engine/cw_util.h"

/*
 * KEYS: status, lock, wait, waiting, last, jobs.  ARGV: type, now, order,
 * kind, job id, px, stream id, group, name, envelope, ttl of `last`.
 */
static cw_script_t  cw_lock_start_lua = {
    "local function running()\n"
    "  redis.call('HSET', KEYS[1], 'status', 'running', 'type', ARGV[1],\n"
    "             'updated_at', ARGV[2])\n"
    "  redis.call('PERSIST', KEYS[1])\n"
    "  return redis.call('HINCRBY', KEYS[1], 'attempts', 1)\n"
    "end\n"
    "local holder = redis.call('GET', KEYS[2])\n"
    "if holder ~= ARGV[3] then\n"
    "  if ARGV[4] ~= '' then\n"
    "    local last = redis.call('HGET', KEYS[5], ARGV[4])\n"
    "    if last and string.sub(last, 1, 40) > ARGV[3] then\n"
    "      return {2, running(), string.sub(last, 42)}\n"
    "    end\n"
    "  end\n"
    "  local first = redis.call('ZRANGE', KEYS[3], 0, 0)[1]\n"
    "  if holder or (first and string.sub(first, 1, 40) < ARGV[3]) then\n"
    "    redis.call('ZADD', KEYS[3], 0, ARGV[3] .. '\\t' .. ARGV[4] .. '\\t'\n"
    "               .. ARGV[5] .. '\\t' .. ARGV[10])\n"
    "    redis.call('SADD', KEYS[4], ARGV[9])\n"
    "    redis.call('XACK', KEYS[6], ARGV[8], ARGV[7])\n"
    "    redis.call('XDEL', KEYS[6], ARGV[7])\n"
    "    redis.call('HSET', KEYS[1], 'status', 'queued', 'type', ARGV[1],\n"
    "               'updated_at', ARGV[2], 'message',\n"
    "               'Waiting for an earlier job about the same patient')\n"
    "    redis.call('PERSIST', KEYS[1])\n"
    "    return {0}\n"
    "  end\n"
    "end\n"
    "redis.call('SET', KEYS[2], ARGV[3], 'PX', ARGV[6])\n"
    "if ARGV[4] ~= '' then\n"
    "  for _, m in ipairs(redis.call('ZRANGE', KEYS[3], 0, 99)) do\n"
    "    local kind, id = string.match(m, '^%d+\\t([^\\t]*)\\t([^\\t]*)\\t')\n"
    "    if kind == ARGV[4] then return {3, running(), id} end\n"
    "  end\n"
    "  redis.call('HSET', KEYS[5], ARGV[4], ARGV[3] .. '\\t' .. ARGV[5])\n"
    "  redis.call('EXPIRE', KEYS[5], ARGV[11])\n"
    "end\n"
    "return {1, running()}\n",
    "", 0
};

/* KEYS: lock, wait.  ARGV: order, px. */
static cw_script_t  cw_lock_take_lua = {
    "local holder = redis.call('GET', KEYS[1])\n"
    "if holder == ARGV[1] then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "if holder then return 0 end\n"
    "local first = redis.call('ZRANGE', KEYS[2], 0, 0)[1]\n"
    "if first and string.sub(first, 1, 40) < ARGV[1] then return 0 end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "return 1\n",
    "", 0
};

/*
 * KEYS: lock, wait, waiting, jobs.  ARGV: order ("" for the sweep: only a
 * key nobody holds), px, name, keep ms.
 */
static cw_script_t  cw_lock_release_lua = {
    "local holder = redis.call('GET', KEYS[1])\n"
    "if ARGV[1] == '' then\n"
    "  if holder then return 0 end\n"
    "elseif holder ~= ARGV[1] then\n"
    "  return 0\n"
    "elseif tonumber(ARGV[4]) > 0 then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[4])\n"
    "  return 1\n"
    "end\n"
    "local m = redis.call('ZRANGE', KEYS[2], 0, 0)[1]\n"
    "if not m then\n"
    "  if holder then redis.call('DEL', KEYS[1]) end\n"
    "  redis.call('SREM', KEYS[3], ARGV[3])\n"
    "  return 1\n"
    "end\n"
    "redis.call('ZREM', KEYS[2], m)\n"
    "local o, env = string.match(m, '^(%d+)\\t[^\\t]*\\t[^\\t]*\\t(.*)$')\n"
    "redis.call('SET', KEYS[1], o, 'PX', ARGV[2])\n"
    "redis.call('XADD', KEYS[4], '*', 'job', env, 'order', o)\n"
    "if redis.call('ZCARD', KEYS[2]) == 0 then\n"
    "  redis.call('SREM', KEYS[3], ARGV[3])\n"
    "end\n"
    "return 2\n",
    "", 0
};

/* KEYS: lock.  ARGV: order, px. */
static cw_script_t  cw_lock_touch_lua = {
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  return redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "end\n"
    "return 0\n",
    "", 0
};


#define CW_LOCK_PREFIX_MAX  320
#define CW_LOCK_KEY_MAX     (CW_LOCK_PREFIX_MAX + CW_LOCK_NAME_MAX + 16)

typedef struct {
    char  lock[CW_LOCK_KEY_MAX];
    char  wait[CW_LOCK_KEY_MAX];
    char  last[CW_LOCK_KEY_MAX];
    char  waiting[CW_LOCK_KEY_MAX];
    char  px[24];
} cw_lock_keys_t;


/*
 * A key name: prefix ":" what ":" name, in CW_LOCK_KEY_MAX (a prefix past
 * CW_LOCK_PREFIX_MAX, which no deployment has, is cut: the keys stay the
 * worker's own and distinct)
 */
static void
cw_lock_key(char *out, const char *prefix, const char *what,
    const char *name)
{
    size_t  p = strlen(prefix), w = strlen(what), n = strlen(name);

    /* the prefix is bounded by the configuration, the name by cw_patient */
    if (p > CW_LOCK_PREFIX_MAX) {
        p = CW_LOCK_PREFIX_MAX;
    }

    memcpy(out, prefix, p);
    out[p] = ':';
    memcpy(out + p + 1, what, w);
    out[p + 1 + w] = ':';
    memcpy(out + p + 2 + w, name, n + 1);
}


static void
cw_lock_keys(const cw_conf_t *c, const char *name, cw_lock_keys_t *k)
{
    cw_lock_key(k->lock, c->redis.prefix, "lock", name);
    cw_lock_key(k->wait, c->redis.prefix, "wait", name);
    cw_lock_key(k->last, c->redis.prefix, "last", name);
    snprintf(k->waiting, sizeof(k->waiting), "%.*s:waiting",
             CW_LOCK_PREFIX_MAX, c->redis.prefix);
    snprintf(k->px, sizeof(k->px), "%ld", c->worker.claim_idle_ms);
}


int
cw_patient_key(cw_patient_t *p, const char *what, const char *id)
{
    size_t       n;
    const char  *s;

    if (id == NULL || *id == '\0') {
        return -1;
    }

    /* the alphabet of job ids: nothing that could split a key or a member */
    for (s = id, n = 0; *s; s++, n++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
              || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_'
              || *s == '.' || *s == ':')
            || n > 128)
        {
            return -1;
        }
    }

    snprintf(p->name, sizeof(p->name), "%s:%s", what, id);
    return 0;
}


int
cw_order_ok(const char *s)
{
    return s && strlen(s) == CW_ORDER_DIGITS
           && strspn(s, "0123456789") == CW_ORDER_DIGITS;
}


int
cw_order_of(const char *stream_id, char order[CW_ORDER_LEN])
{
    char                *end;
    unsigned long long   ms, seq;

    ms = strtoull(stream_id, &end, 10);
    if (end == stream_id || *end != '-') {
        return -1;
    }

    seq = strtoull(end + 1, &end, 10);
    if (*end != '\0') {
        return -1;
    }

    snprintf(order, CW_ORDER_LEN, "%020llu%020llu", ms, seq);
    return 0;
}


/* argv with their lengths (every one a C string but the envelope) */
typedef struct {
    int          argc;
    const char  *argv[24];
    size_t       lens[24];
} cw_lock_args_t;


static void
cw_lock_arg(cw_lock_args_t *a, const char *s, size_t len)
{
    a->argv[a->argc] = s;
    a->lens[a->argc++] = len;
}


static void
cw_lock_args(cw_lock_args_t *a, cw_redis_t *r, cw_script_t *script,
    int nkeys, ...)
{
    int          i, n;
    va_list      ap;
    const char  *s;
    static const char  *digits[] = { "0", "1", "2", "3", "4", "5", "6" };

    cw_redis_script(r, script, a->argv, a->lens);
    a->argc = 2;
    cw_lock_arg(a, digits[nkeys], 1);

    va_start(ap, nkeys);
    n = va_arg(ap, int);
    for (i = 0; i < n; i++) {
        s = va_arg(ap, const char *);
        cw_lock_arg(a, s, strlen(s));
    }
    va_end(ap);
}


void
cw_lock_start(cw_redis_t *r, const cw_conf_t *c, const cw_lock_start_t *s)
{
    char             now[CS_TIME_ISO_LEN + 1], ttl[24];
    cw_lock_args_t   a;
    cw_lock_keys_t   k;

    cw_lock_keys(c, s->patient->name, &k);
    cs_time_format_iso((int64_t) cw_now_ms(), now);
    snprintf(ttl, sizeof(ttl), "%ld", c->worker.status_ttl_s);

    cw_lock_args(&a, r, &cw_lock_start_lua, 6, 15, s->status_key, k.lock,
                 k.wait, k.waiting, k.last, c->key.jobs, s->type, now,
                 s->order, s->patient->kind ? s->patient->kind : "",
                 s->job_id, k.px, s->stream_id, CW_QUEUE_GROUP,
                 s->patient->name);
    cw_lock_arg(&a, s->env, s->env_len);
    cw_lock_arg(&a, ttl, strlen(ttl));

    cw_redis_appendv(r, a.argc, a.argv, a.lens);
}


cw_turn_e
cw_lock_start_reply(redisReply *rep, long *attempts, char *by, size_t bylen)
{
    long long  t;

    *attempts = 0;
    if (bylen) {
        by[0] = '\0';
    }

    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements < 1
        || rep->element[0]->type != REDIS_REPLY_INTEGER)
    {
        if (rep && rep->type == REDIS_REPLY_ERROR) {
            cw_error("lock", "start script failed error=\"%s\"", rep->str);
        }
        return CW_TURN_ERROR;
    }

    t = rep->element[0]->integer;

    if (t == CW_TURN_PARKED) {
        return CW_TURN_PARKED;
    }

    if (rep->elements < 2 || rep->element[1]->type != REDIS_REPLY_INTEGER
        || t < CW_TURN_OURS || t > CW_TURN_SUPERSEDED_HELD)
    {
        return CW_TURN_ERROR;
    }

    *attempts = (long) rep->element[1]->integer;

    if (t != CW_TURN_OURS && rep->elements > 2
        && rep->element[2]->type == REDIS_REPLY_STRING)
    {
        snprintf(by, bylen, "%s", rep->element[2]->str);
    }

    return (cw_turn_e) t;
}


int
cw_lock_take(cw_redis_t *r, const cw_conf_t *c, const char *name,
    const char *order)
{
    int              rc;
    redisReply      *rep;
    cw_lock_args_t   a;
    cw_lock_keys_t   k;

    cw_lock_keys(c, name, &k);
    cw_lock_args(&a, r, &cw_lock_take_lua, 2, 4, k.lock, k.wait, order, k.px);

    rep = cw_redis_cmdv(r, a.argc, a.argv, a.lens);
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
        if (rep && rep->type == REDIS_REPLY_ERROR) {
            cw_error("lock", "take script failed error=\"%s\"", rep->str);
        }
        if (rep) {
            freeReplyObject(rep);
        }
        return -1;
    }

    rc = rep->integer == 1 ? 1 : 0;
    freeReplyObject(rep);
    return rc;
}


void
cw_lock_release(cw_redis_t *r, const cw_conf_t *c, const char *name,
    const char *order, long long keep_ms)
{
    char             keep[24];
    cw_lock_args_t   a;
    cw_lock_keys_t   k;

    cw_lock_keys(c, name, &k);
    snprintf(keep, sizeof(keep), "%lld", keep_ms);
    cw_lock_args(&a, r, &cw_lock_release_lua, 4, 8, k.lock, k.wait, k.waiting,
                 c->key.jobs, order, k.px, name, keep);
    cw_redis_appendv(r, a.argc, a.argv, a.lens);
}


void
cw_lock_touch(cw_redis_t *r, const cw_conf_t *c, const char *name,
    const char *order)
{
    cw_lock_args_t   a;
    cw_lock_keys_t   k;

    cw_lock_keys(c, name, &k);
    cw_lock_args(&a, r, &cw_lock_touch_lua, 1, 3, k.lock, order, k.px);
    cw_redis_appendv(r, a.argc, a.argv, a.lens);
}


int
cw_lock_sweep(cw_redis_t *r, const cw_conf_t *c, int max)
{
    int              n = 0;
    char             cnt[16];
    size_t           i;
    redisReply      *rep;
    cw_lock_keys_t   k;

    cw_lock_keys(c, "", &k);
    snprintf(cnt, sizeof(cnt), "%d", max);

    rep = cw_redis_cmd(r, "SRANDMEMBER %s %s", k.waiting, cnt);
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY) {
        if (rep) {
            freeReplyObject(rep);
        }
        return -1;
    }

    for (i = 0; i < rep->elements; i++) {
        if (rep->element[i]->type == REDIS_REPLY_STRING
            && rep->element[i]->len < CW_LOCK_NAME_MAX)
        {
            /* "": only when nobody holds it; the handoff is the release's */
            cw_lock_release(r, c, rep->element[i]->str, "", 0);
            n++;
        }
    }

    freeReplyObject(rep);
    return n;
}
