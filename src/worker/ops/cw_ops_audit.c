/*
 * caresync-worker: audit verify | export (cw_ops_audit.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "engine/cw_audit.h"
#include "engine/cw_util.h"
#include "ops/cw_ops.h"
#include "ops/cw_ops_audit.h"

#define CW_OA_PAGE    500
#define CW_OA_FIELDS  64

typedef struct {
    long long   n;
    int         anchored;
    char        first_id[48], first_prev[CW_AUDIT_HASH_LEN + 1];
    char        last_id[48], last_hash[CW_AUDIT_HASH_LEN + 1];
} cw_oa_chain_t;


/* One entry checked against the one before; 0, or 1 with the break said */
static int
cw_oa_entry(void *data, redisReply *e)
{
    int               n = 0;
    size_t            i;
    char              hash[CW_AUDIT_HASH_LEN + 1];
    const char       *id = e->element[0]->str, *prev = NULL, *stored = NULL;
    const char       *kind = NULL, *start = NULL, *first = NULL;
    redisReply       *fv = e->element[1];
    cw_oa_chain_t    *ch = data;
    cw_audit_field_t  f[CW_OA_FIELDS];

    for (i = 0; i + 1 < fv->elements; i += 2) {
        const char  *k = fv->element[i]->str, *v = fv->element[i + 1]->str;

        if (strcmp(k, "prev") == 0) {
            prev = v;
        } else if (strcmp(k, "hash") == 0) {
            stored = v;
        } else if (prev || stored || n == CW_OA_FIELDS) {
            /* a field after prev/hash, or too many: not ours */
            stored = NULL;
            break;
        } else {
            f[n].name = k;
            f[n++].value = v;
            /* the entry's own kind is its second field (cw_audit.h) */
            if (n == 2 && strcmp(k, "kind") == 0) {
                kind = v;
            } else if (strcmp(k, "start") == 0) {
                start = v;
            } else if (strcmp(k, "first") == 0) {
                first = v;
            }
        }
    }

    if (prev == NULL || stored == NULL || strlen(prev) != CW_AUDIT_HASH_LEN) {
        printf("BROKEN at entry %s: it is not an audit entry (no prev and "
               "hash at its end)\n", id);
        return 1;
    }

    if (ch->n == 0) {
        snprintf(ch->first_id, sizeof(ch->first_id), "%s", id);
        snprintf(ch->first_prev, sizeof(ch->first_prev), "%s", prev);

    } else if (strcmp(prev, ch->last_hash) != 0) {
        printf("BROKEN at entry %s: its prev is not the hash of entry %s "
               "(an entry between them was removed or changed)\n", id,
               ch->last_id);
        return 1;
    }

    cw_audit_hash(prev, f, n, hash);

    if (strcmp(hash, stored) != 0) {
        printf("BROKEN at entry %s: its hash does not match its content "
               "(it was changed after it was written)\n", id);
        return 1;
    }

    if (kind && strcmp(kind, "anchor") == 0 && start && first
        && strcmp(first, ch->first_id) == 0
        && strcmp(start, ch->first_prev) == 0)
    {
        ch->anchored = 1;
    }

    ch->n++;
    snprintf(ch->last_id, sizeof(ch->last_id), "%s", id);
    memcpy(ch->last_hash, hash, sizeof(ch->last_hash));
    return 0;
}


/* One entry a line, a JSON object with its fields in order, for a SIEM */
static int
cw_oa_export(void *data, redisReply *e)
{
    size_t       j;
    char        *line;
    json_t      *o;
    redisReply  *fv = e->element[1];

    o = json_object();
    json_object_set_new(o, "id", json_string(e->element[0]->str));
    for (j = 0; j + 1 < fv->elements; j += 2) {
        json_object_set_new(o, fv->element[j]->str,
                            json_string(fv->element[j + 1]->str));
    }

    line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (line) {
        printf("%s\n", line);
        free(line);
    }

    json_decref(o);
    return 0;
}


/* The whole stream from `from`: verified (json 0) or exported */
static int
cw_oa_walk(const cw_conf_t *c, cw_redis_t *r, const char *from, int json)
{
    int            rc;
    cw_oa_chain_t  ch;

    memset(&ch, 0, sizeof(ch));

    rc = cw_ops_xrange(r, c->key.audit, from, "+", CW_OA_PAGE,
                       json ? cw_oa_export : cw_oa_entry, &ch);

    if (rc < 0) {
        fprintf(stderr, "caresync-worker: cannot read %s\n", c->key.audit);
        return 1;
    }

    if (json || rc != 0) {
        return rc;
    }

    if (ch.n && strspn(ch.first_prev, "0") != CW_AUDIT_HASH_LEN
        && !ch.anchored)
    {
        printf("BROKEN at entry %s: the chain starts after entries that no "
               "anchor accounts for (the oldest entries were removed)\n",
               ch.first_id);
        return 1;
    }

    if (ch.n == 0) {
        printf("ok: the audit trail is empty\n");
    } else {
        printf("ok: %lld entries from %s to %s, head %s\n", ch.n,
               ch.first_id, ch.last_id, ch.last_hash);
    }

    return 0;
}


int
cw_ops_audit(const cw_conf_t *c, int argc, char **argv)
{
    int          rc;
    char         from[32];
    long long    since;
    cw_redis_t   r;

    if (argc == 1 && strcmp(argv[0], "verify") == 0) {
        strcpy(from, "-");

    } else if (argc == 3 && strcmp(argv[0], "export") == 0
               && strcmp(argv[1], "--since") == 0)
    {
        if (cw_ops_since(argv[2], &since) != 0) {
            fprintf(stderr, "caresync-worker: --since wants ISO-8601 "
                    "(2026-11-21T10:00:00Z) or a duration (90s, 15m, 2h, "
                    "1d)\n");
            return 2;
        }
        snprintf(from, sizeof(from), "%lld", since);

    } else {
        fprintf(stderr, "usage: caresync-worker audit verify\n"
                "       caresync-worker audit export --since T\n"
                "`caresync-worker audit --help` for details\n");
        return 2;
    }

    if (cw_ops_connect(c, &r) != 0) {
        return 1;
    }

    rc = cw_oa_walk(c, &r, from, strcmp(argv[0], "export") == 0);
    cw_ops_close(&r);
    return rc;
}
