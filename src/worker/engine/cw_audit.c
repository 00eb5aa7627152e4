/*
 * caresync-worker: the audit trail (see cw_audit.h).
 */

#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cs_buf.h"
#include "cs_id.h"
#include "cs_time.h"
#include "engine/cw_audit.h"
#include "engine/cw_log.h"
#include "engine/cw_util.h"

#define CW_AUDIT_TRIES  16

static const char  cw_audit_genesis[CW_AUDIT_HASH_LEN + 1] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/*
 * KEYS: audit.  ARGV: prev, hash, then the fields.  The hash of the last
 * entry is its last field (`hash`, as every entry ends).
 */
static cw_script_t  cw_audit_lua = {
    "local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]\n"
    "local head = string.rep('0', 64)\n"
    "if last then\n"
    "  local f = last[2]\n"
    "  for i = 1, #f - 1, 2 do\n"
    "    if f[i] == 'hash' then head = f[i + 1] end\n"
    "  end\n"
    "end\n"
    "if head ~= ARGV[1] then return {0, head} end\n"
    "local a = {}\n"
    "for i = 3, #ARGV do a[#a + 1] = ARGV[i] end\n"
    "a[#a + 1] = 'prev'; a[#a + 1] = ARGV[1]\n"
    "a[#a + 1] = 'hash'; a[#a + 1] = ARGV[2]\n"
    "return {1, redis.call('XADD', KEYS[1], '*', unpack(a))}\n",
    "", 0
};

static char              cw_audit_actor_name[128];
static char              cw_audit_head[CW_AUDIT_HASH_LEN + 1];
static cw_redis_t       *cw_audit_hook_redis;
static const cw_conf_t  *cw_audit_hook_conf;


void
cw_audit_hash(const char *prev, const cw_audit_field_t *f, int n,
    char out[CW_AUDIT_HASH_LEN + 1])
{
    int       i;
    char      len[24];
    cs_buf_t  b;
    cs_str_t  part;

    cs_buf_init(&b);
    cs_buf_puts(&b, "caresync-audit-v1\n");
    cs_buf_puts(&b, prev);
    cs_buf_putc(&b, '\n');

    for (i = 0; i < n; i++) {
        snprintf(len, sizeof(len), "%zu", strlen(f[i].value));
        cs_buf_puts(&b, f[i].name);
        cs_buf_putc(&b, '=');
        cs_buf_puts(&b, len);
        cs_buf_putc(&b, ':');
        cs_buf_puts(&b, f[i].value);
        cs_buf_putc(&b, '\n');
    }

    part.data = b.data ? b.data : "";
    part.len = b.len;

    if (b.oom || cs_id_sha256_hex(&part, 1, out) != 0) {
        /* no memory: a hash nobody can match, so verify reports it */
        memset(out, 'x', CW_AUDIT_HASH_LEN);
        out[CW_AUDIT_HASH_LEN] = '\0';
    }

    cs_buf_free(&b);
}


int
cw_audit_append(cw_redis_t *r, const cw_conf_t *c, const char *kind,
    const cw_audit_field_t *f, int n)
{
    int               i, try, argc, rc = -1;
    char              at[CS_TIME_ISO_LEN + 1], hash[CW_AUDIT_HASH_LEN + 1];
    const char       *argv[2 * CW_AUDIT_FIELDS + 12];
    size_t            lens[2 * CW_AUDIT_FIELDS + 12];
    redisReply       *rep;
    cw_audit_field_t  all[CW_AUDIT_FIELDS + 2];

    if (n > CW_AUDIT_FIELDS) {
        n = CW_AUDIT_FIELDS;
    }

    if (cw_audit_head[0] == '\0') {
        memcpy(cw_audit_head, cw_audit_genesis, sizeof(cw_audit_head));
    }

    for (try = 0; try < CW_AUDIT_TRIES; try++) {
        cs_time_format_iso((int64_t) cw_now_ms(), at);
        all[0].name = "at";
        all[0].value = at;
        all[1].name = "kind";
        all[1].value = kind;
        memcpy(all + 2, f, (size_t) n * sizeof(*f));

        cw_audit_hash(cw_audit_head, all, n + 2, hash);

        cw_redis_script(r, &cw_audit_lua, argv, lens);
        argc = 2;
        argv[argc] = "1"; lens[argc++] = 1;
        argv[argc] = c->key.audit; lens[argc++] = strlen(c->key.audit);
        argv[argc] = cw_audit_head; lens[argc++] = CW_AUDIT_HASH_LEN;
        argv[argc] = hash; lens[argc++] = CW_AUDIT_HASH_LEN;

        for (i = 0; i < n + 2; i++) {
            argv[argc] = all[i].name; lens[argc++] = strlen(all[i].name);
            argv[argc] = all[i].value; lens[argc++] = strlen(all[i].value);
        }

        rep = cw_redis_cmdv(r, argc, argv, lens);

        /* Redis lost the script (a restart, SCRIPT FLUSH): sent whole next */
        if (rep && rep->type == REDIS_REPLY_ERROR
            && strncmp(rep->str, "NOSCRIPT", 8) == 0)
        {
            cw_audit_lua.gen = 0;
            freeReplyObject(rep);
            continue;
        }

        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY
            || rep->elements != 2
            || rep->element[0]->type != REDIS_REPLY_INTEGER
            || rep->element[1]->type != REDIS_REPLY_STRING)
        {
            cw_error("audit", "cannot append to %s error=\"%s\"",
                     c->key.audit, rep && rep->type == REDIS_REPLY_ERROR
                                   ? rep->str : "no answer");
            if (rep) {
                freeReplyObject(rep);
            }
            return -1;
        }

        if (rep->element[0]->integer == 1) {
            /* the new head is our hash */
            memcpy(cw_audit_head, hash, sizeof(cw_audit_head));
            freeReplyObject(rep);
            return 0;
        }

        /* another appender was first: chain after its entry */
        if (rep->element[1]->len == CW_AUDIT_HASH_LEN) {
            memcpy(cw_audit_head, rep->element[1]->str, CW_AUDIT_HASH_LEN);
            cw_audit_head[CW_AUDIT_HASH_LEN] = '\0';

        } else {
            rc = -1;
            freeReplyObject(rep);
            cw_error("audit", "the last entry of %s has no hash: run "
                     "`caresync-worker audit verify`", c->key.audit);
            return rc;
        }

        freeReplyObject(rep);
    }

    cw_error("audit", "cannot append to %s: %d appenders raced",
             c->key.audit, CW_AUDIT_TRIES);
    return rc;
}


void
cw_audit_set_actor(const char *name)
{
    snprintf(cw_audit_actor_name, sizeof(cw_audit_actor_name), "%s", name);
}


const char *
cw_audit_actor(void)
{
    struct passwd  *pw;

    if (cw_audit_actor_name[0] == '\0') {
        pw = getpwuid(geteuid());
        if (pw && pw->pw_name) {
            snprintf(cw_audit_actor_name, sizeof(cw_audit_actor_name),
                     "%s", pw->pw_name);
        } else {
            snprintf(cw_audit_actor_name, sizeof(cw_audit_actor_name),
                     "uid:%ld", (long) geteuid());
        }
    }

    return cw_audit_actor_name;
}


int
cw_audit_op(cw_redis_t *r, const cw_conf_t *c, const char *actor,
    const char *action, ...)
{
    int               n = 0;
    va_list           ap;
    const char       *name, *value;
    cw_audit_field_t  f[CW_AUDIT_FIELDS];

    f[n].name = "action";
    f[n++].value = action;
    f[n].name = "actor";
    f[n++].value = actor ? actor : cw_audit_actor();

    va_start(ap, action);

    while ((name = va_arg(ap, const char *)) != NULL) {
        value = va_arg(ap, const char *);
        if (value && n < CW_AUDIT_FIELDS) {
            f[n].name = name;
            f[n++].value = value;
        }
    }

    va_end(ap);

    return cw_audit_append(r, c, "op", f, n);
}


void
cw_audit_hook_init(cw_redis_t *r, const cw_conf_t *c)
{
    cw_audit_hook_redis = r;
    cw_audit_hook_conf = c;
}


void
cw_audit_write(void *data, const char *job, const char *target,
    const char *record, const char *fields)
{
    cw_audit_field_t  f[4];

    if (cw_audit_hook_redis == NULL) {
        return;
    }

    f[0].name = "job";
    f[0].value = job && *job ? job : "-";
    f[1].name = "target";
    f[1].value = target;
    f[2].name = "record";
    f[2].value = record && *record ? record : "-";
    f[3].name = "fields";
    f[3].value = fields ? fields : "";

    (void) cw_audit_append(cw_audit_hook_redis, cw_audit_hook_conf, "write",
                           f, 4);
}


long long
cw_audit_prune(cw_redis_t *r, const cw_conf_t *c, const char *first)
{
    long long         rc = -1;
    size_t            i;
    redisReply       *rep, *older, *e, *fv;
    const char       *prev = NULL;
    cw_audit_field_t  f[2];

    /* anything before `first`? and the entry `first` starts with */
    older = cw_redis_cmd(r, "XRANGE %s - (%s COUNT 1", c->key.audit, first);
    rep = cw_redis_cmd(r, "XRANGE %s %s + COUNT 1", c->key.audit, first);

    if (older == NULL || rep == NULL || older->type != REDIS_REPLY_ARRAY
        || rep->type != REDIS_REPLY_ARRAY)
    {
        goto done;
    }

    rc = 0;

    if (older->elements == 0 || rep->elements == 0) {
        goto done;
    }

    e = rep->element[0];
    fv = e->element[1];

    for (i = 0; i + 1 < fv->elements; i += 2) {
        if (strcmp(fv->element[i]->str, "prev") == 0) {
            prev = fv->element[i + 1]->str;
        }
    }

    if (prev == NULL) {
        cw_error("audit", "entry %s has no prev: not pruning; run "
                 "`caresync-worker audit verify`", e->element[0]->str);
        rc = -1;
        goto done;
    }

    f[0].name = "start";
    f[0].value = prev;
    f[1].name = "first";
    f[1].value = e->element[0]->str;

    /* the anchor first: a prune cut short leaves a chain that verifies */
    if (cw_audit_append(r, c, "anchor", f, 2) != 0) {
        rc = -1;
        goto done;
    }

    freeReplyObject(older);
    older = cw_redis_cmd(r, "XTRIM %s MINID %s", c->key.audit,
                         e->element[0]->str);
    if (older == NULL || older->type != REDIS_REPLY_INTEGER) {
        rc = -1;
        goto done;
    }

    rc = older->integer;

done:

    if (rc != 0) {
        cw_error("audit", "cannot prune %s", c->key.audit);
    }

    if (older) {
        freeReplyObject(older);
    }
    if (rep) {
        freeReplyObject(rep);
    }

    return rc;
}
