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

/* the writes of one turn, appended together (cw_audit_flush()) */
#define CW_AUDIT_PENDING  256

/*
 * KEYS: audit.  ARGV: prev, the number of entries, then for each: its
 * hash, its number of fields, the fields.  The hash of the last entry is
 * its `hash` field (every entry ends with prev and hash).
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
    "local i, prev, id = 3, ARGV[1], ''\n"
    "for k = 1, tonumber(ARGV[2]) do\n"
    "  local hash, nf = ARGV[i], tonumber(ARGV[i + 1])\n"
    "  local a = {}\n"
    "  for j = i + 2, i + 1 + 2 * nf do a[#a + 1] = ARGV[j] end\n"
    "  i = i + 2 + 2 * nf\n"
    "  a[#a + 1] = 'prev'; a[#a + 1] = prev\n"
    "  a[#a + 1] = 'hash'; a[#a + 1] = hash\n"
    "  id = redis.call('XADD', KEYS[1], '*', unpack(a))\n"
    "  prev = hash\n"
    "end\n"
    "return {1, id}\n",
    "", 0
};

/* an entry waiting to be appended: its fields, `at` and `kind` first */
typedef struct {
    int                n;
    cw_audit_field_t   f[CW_AUDIT_FIELDS + 2];
} cw_audit_entry_t;

static char              cw_audit_actor_name[128];
static char              cw_audit_head[CW_AUDIT_HASH_LEN + 1];
static cw_audit_entry_t  cw_audit_pending[CW_AUDIT_PENDING];
static int               cw_audit_npending;


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


/* A copy of the fields, stamped now, with its kind */
static void
cw_audit_entry(cw_audit_entry_t *e, const char *kind,
    const cw_audit_field_t *f, int n)
{
    int   i;
    char  at[CS_TIME_ISO_LEN + 1];

    if (n > CW_AUDIT_FIELDS) {
        n = CW_AUDIT_FIELDS;
    }

    cs_time_format_iso((int64_t) cw_now_ms(), at);
    e->f[0].name = cw_strdup("at");
    e->f[0].value = cw_strdup(at);
    e->f[1].name = cw_strdup("kind");
    e->f[1].value = cw_strdup(kind);

    for (i = 0; i < n; i++) {
        e->f[i + 2].name = cw_strdup(f[i].name);
        e->f[i + 2].value = cw_strdup(f[i].value);
    }

    e->n = n + 2;
}


static void
cw_audit_entry_free(cw_audit_entry_t *e)
{
    int  i;

    for (i = 0; i < e->n; i++) {
        free((char *) e->f[i].name);
        free((char *) e->f[i].value);
    }

    e->n = 0;
}


/*
 * Appends entries e[0 .. n) in order, chained onto the head: hashed here,
 * appended by the script only onto the head they were hashed against.
 */
static int
cw_audit_send(cw_redis_t *r, const cw_conf_t *c, cw_audit_entry_t *e, int n)
{
    int           i, k, try, argc, rc = -1;
    char          (*hash)[CW_AUDIT_HASH_LEN + 1], nf[CW_AUDIT_PENDING][8];
    char          count[16];
    size_t       *lens;
    const char  **argv, *prev;
    redisReply   *rep;

    if (cw_audit_head[0] == '\0') {
        memcpy(cw_audit_head, cw_audit_genesis, sizeof(cw_audit_head));
    }

    hash = cw_calloc((size_t) n, sizeof(*hash));
    argc = 6 + n * (2 + 2 * (CW_AUDIT_FIELDS + 2));
    argv = cw_calloc((size_t) argc, sizeof(*argv));
    lens = cw_calloc((size_t) argc, sizeof(*lens));
    snprintf(count, sizeof(count), "%d", n);

    for (try = 0; try < CW_AUDIT_TRIES; try++) {
        cw_redis_script(r, &cw_audit_lua, argv, lens);
        argc = 2;
        argv[argc] = "1"; lens[argc++] = 1;
        argv[argc] = c->key.audit; lens[argc++] = strlen(c->key.audit);
        argv[argc] = cw_audit_head; lens[argc++] = CW_AUDIT_HASH_LEN;
        argv[argc] = count; lens[argc++] = strlen(count);

        for (k = 0, prev = cw_audit_head; k < n; prev = hash[k++]) {
            cw_audit_hash(prev, e[k].f, e[k].n, hash[k]);
            snprintf(nf[k], sizeof(nf[k]), "%d", e[k].n);
            argv[argc] = hash[k]; lens[argc++] = CW_AUDIT_HASH_LEN;
            argv[argc] = nf[k]; lens[argc++] = strlen(nf[k]);

            for (i = 0; i < e[k].n; i++) {
                argv[argc] = e[k].f[i].name;
                lens[argc++] = strlen(e[k].f[i].name);
                argv[argc] = e[k].f[i].value;
                lens[argc++] = strlen(e[k].f[i].value);
            }
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
            cw_error("audit", "cannot append to %s entries=%d error=\"%s\"",
                     c->key.audit, n, rep && rep->type == REDIS_REPLY_ERROR
                                      ? rep->str : "no answer");
            if (rep) {
                freeReplyObject(rep);
            }
            goto done;
        }

        if (rep->element[0]->integer == 1) {
            /* the new head is the last entry's hash */
            memcpy(cw_audit_head, hash[n - 1], sizeof(cw_audit_head));
            freeReplyObject(rep);
            rc = 0;
            goto done;
        }

        /* another appender was first: chain after its entry */
        if (rep->element[1]->len != CW_AUDIT_HASH_LEN) {
            freeReplyObject(rep);
            cw_error("audit", "the last entry of %s has no hash: run "
                     "`caresync-worker audit verify`", c->key.audit);
            goto done;
        }

        memcpy(cw_audit_head, rep->element[1]->str, CW_AUDIT_HASH_LEN);
        cw_audit_head[CW_AUDIT_HASH_LEN] = '\0';
        freeReplyObject(rep);
    }

    cw_error("audit", "cannot append to %s: %d appenders raced",
             c->key.audit, CW_AUDIT_TRIES);

done:

    free(hash);
    free(argv);
    free(lens);
    return rc;
}


int
cw_audit_append(cw_redis_t *r, const cw_conf_t *c, const char *kind,
    const cw_audit_field_t *f, int n)
{
    int               rc;
    cw_audit_entry_t  e;

    /* what was noted before goes first: the chain keeps the order */
    (void) cw_audit_flush(r, c);

    cw_audit_entry(&e, kind, f, n);
    rc = cw_audit_send(r, c, &e, 1);
    cw_audit_entry_free(&e);

    return rc;
}


int
cw_audit_flush(cw_redis_t *r, const cw_conf_t *c)
{
    int  i, rc;

    if (cw_audit_npending == 0) {
        return 0;
    }

    rc = cw_audit_send(r, c, cw_audit_pending, cw_audit_npending);

    for (i = 0; i < cw_audit_npending; i++) {
        cw_audit_entry_free(&cw_audit_pending[i]);
    }

    cw_audit_npending = 0;
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
cw_audit_write(void *data, const char *job, const char *target,
    const char *record, const char *fields)
{
    cw_audit_field_t  f[4];
    cw_audit_sink_t  *sink = data;

    /* a full turn's worth: appended now, in order */
    if (cw_audit_npending == CW_AUDIT_PENDING) {
        (void) cw_audit_flush(sink->redis, sink->conf);
    }

    f[0].name = "job";
    f[0].value = job && *job ? job : "-";
    f[1].name = "target";
    f[1].value = target;
    f[2].name = "record";
    f[2].value = record && *record ? record : "-";
    f[3].name = "fields";
    f[3].value = fields ? fields : "";

    cw_audit_entry(&cw_audit_pending[cw_audit_npending++], "write", f, 4);
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
