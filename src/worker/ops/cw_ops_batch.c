/*
 * caresync-worker: batch and oauth commands (see cw_ops_batch.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "jobs/cw_batch.h"
#include "engine/cw_csv.h"
#include "clients/cw_healthsherpa.h"
#include "engine/cw_http.h"
#include "ops/cw_ops.h"
#include "engine/cw_audit.h"
#include "ops/cw_ops_batch.h"
#include "engine/cw_redis.h"
#include "crm/cw_salesforce.h"
#include "engine/cw_status.h"
#include "engine/cw_util.h"

/*
 * The kinds of batch over CRM contact ids.  Another kind (Hint's
 * crm-to-hint) is one more line: its item job type and whether an agent
 * goes with it.
 */
typedef struct {
    const char  *kind;
    const char  *item;
    int          agent;
} cw_batch_kind_t;

static const cw_batch_kind_t  cw_batch_kinds[] = {
    { "healthsherpa", "healthsherpa.sync", 1 },
};

#define CW_NKINDS  (sizeof(cw_batch_kinds) / sizeof(cw_batch_kinds[0]))


/* ---- batch <kind> --csv FILE | --where COND ---- */

typedef struct {
    int            done;
    cw_err_t       err;
    cw_csv_ids_t  *ids;
} cw_ob_sel_t;


static void
cw_ob_selected(void *data, cw_crm_res_t *res)
{
    cw_ob_sel_t  *sel = data;

    sel->done = 1;
    sel->err = res->err;
    sel->ids->ignored += cw_strs_push_ids(&sel->ids->ids, &sel->ids->n,
                                          &sel->ids->cap, res->records, "Id",
                                          cw_csv_is_sf_id);
}


/* The contact ids of a SOQL condition, from the CRM (all pages). */
static int
cw_ob_where(const cw_conf_t *c, const char *where, cw_csv_ids_t *ids)
{
    char            err[512];
    cw_crm_t       *crm;
    cw_http_t      *http;
    cw_ob_sel_t     sel;
    cw_http_conf_t  hc;

    memset(ids, 0, sizeof(*ids));

    cw_ops_http_conf(c, 4, &hc);

    http = cw_http_create(&hc);
    if (http == NULL) {
        fprintf(stderr, "caresync-worker: cannot initialise libcurl\n");
        return 1;
    }

    crm = cw_salesforce_create(http, c, err, sizeof(err));
    if (crm == NULL) {
        fprintf(stderr, "caresync-worker: %s\n", err);
        cw_http_destroy(http);
        return 1;
    }

    memset(&sel, 0, sizeof(sel));
    sel.ids = ids;
    crm->select_ids(crm, where, cw_ob_selected, &sel);

    while (!sel.done) {
        (void) cw_http_poll(http, 100);
    }

    crm->destroy(crm);
    cw_http_destroy(http);

    if (sel.err.cls != CW_ERR_NONE) {
        fprintf(stderr, "caresync-worker: the CRM refused the condition: "
                "%s (%s)\n", sel.err.message, cw_err_name(&sel.err));
        return 1;
    }

    return 0;
}


static int
cw_ob_start(const cw_conf_t *c, const cw_batch_kind_t *k, int argc,
    char **argv)
{
    int              i, rc;
    char             id[CW_BATCH_ID_LEN];
    cw_csv_ids_t     ids;
    cw_batch_spec_t  spec;
    const char      *csv = NULL, *where = NULL, *agent = NULL;

    for (i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc) {
            csv = argv[++i];
        } else if (strcmp(argv[i], "--where") == 0 && i + 1 < argc) {
            where = argv[++i];
        } else if (strcmp(argv[i], "--agent") == 0 && i + 1 < argc) {
            agent = argv[++i];
        } else {
            csv = where = NULL;
            break;
        }
    }

    if ((csv == NULL) == (where == NULL)) {
        fprintf(stderr, "usage: caresync-worker batch %s --csv FILE | "
                "--where \"<SOQL condition>\" [--agent EMAIL]\n"
                "`caresync-worker batch --help` for details\n", k->kind);
        return 2;
    }

    if (where) {
        rc = cw_ob_where(c, where, &ids);
        if (rc != 0) {
            cw_csv_ids_free(&ids);
            return rc;
        }

    } else if (cw_ops_csv_ids(csv, &ids) != 0) {
        return 1;
    }

    if (ids.n == 0) {
        fprintf(stderr, "caresync-worker: no contact ids in %s (%zu rows "
                "ignored)\n", csv ? csv : "the CRM's answer", ids.ignored);
        cw_csv_ids_free(&ids);
        return 1;
    }

    memset(&spec, 0, sizeof(spec));
    spec.kind = k->kind;
    spec.item = k->item;
    spec.agent = k->agent ? (agent ? agent : c->hs.agent_email) : NULL;
    spec.ignored = ids.ignored;

    if (cw_ops_queue_batch(c, &spec, ids.ids, ids.n, id) != 0) {
        cw_csv_ids_free(&ids);
        return 1;
    }

    printf("batch %s queued: %zu contacts (%zu rows ignored, %zu "
           "duplicates)\n", id, ids.n, ids.ignored, ids.duplicates);
    cw_csv_ids_free(&ids);
    return 0;
}


/* ---- batch status | abort | report <id> ---- */

static const char *
cw_ob_get(redisReply *h, const char *f)
{
    size_t  i;

    for (i = 0; h && i + 1 < h->elements; i += 2) {
        if (strcmp(h->element[i]->str, f) == 0) {
            return h->element[i + 1]->str;
        }
    }

    return "0";
}


static redisReply *
cw_ob_batch(const cw_conf_t *c, cw_redis_t *r, const char *id)
{
    char         key[256];
    redisReply  *h;

    cw_batch_key(c, id, NULL, key, sizeof(key));
    h = cw_redis_cmd(r, "HGETALL %s", key);

    if (h == NULL || h->type != REDIS_REPLY_ARRAY || h->elements == 0) {
        fprintf(stderr, "caresync-worker: no batch %s: check the id "
                "(printed when the batch was queued) and redis.prefix; a "
                "batch expires worker.status_ttl_s after it is queued\n",
                id);
        if (h) {
            freeReplyObject(h);
        }
        return NULL;
    }

    return h;
}


/* Hint's batches end items linked, created or updated, never matched. */
static int
cw_ob_hint(redisReply *h)
{
    const char  *kind = cw_ob_get(h, "kind");

    return strcmp(kind, "hint-to-crm") == 0
           || strcmp(kind, "crm-to-hint") == 0;
}


static int
cw_ob_line(redisReply *h, const char *id, char *out, size_t n)
{
    long         total, pending;
    const char  *state;

    total = atol(cw_ob_get(h, "total"));
    pending = atol(cw_ob_get(h, "pending"));
    state = pending == 0 ? "finished"
            : strcmp(cw_ob_get(h, "aborted"), "1") == 0 ? "aborting"
            : "running";

    if (cw_ob_hint(h)) {
        snprintf(out, n, "batch %s %s: %ld/%ld done, linked %s, created %s, "
                 "updated %s, no_match %s, failed %s, skipped %s, "
                 "pending %ld; %s rows ignored; %s",
                 id, cw_ob_get(h, "kind"), total - pending, total,
                 cw_ob_get(h, "linked"), cw_ob_get(h, "created"),
                 cw_ob_get(h, "updated"), cw_ob_get(h, "no_match"),
                 cw_ob_get(h, "failed"), cw_ob_get(h, "skipped"), pending,
                 cw_ob_get(h, "ignored"), state);
        return pending == 0;
    }

    snprintf(out, n, "batch %s %s: %ld/%ld done, matched %s, no_match %s, "
             "failed %s, skipped %s, pending %ld; %s rows ignored; %s",
             id, cw_ob_get(h, "kind"), total - pending, total,
             cw_ob_get(h, "matched"), cw_ob_get(h, "no_match"),
             cw_ob_get(h, "failed"), cw_ob_get(h, "skipped"), pending,
             cw_ob_get(h, "ignored"), state);

    return pending == 0;
}


static int
cw_ob_status(const cw_conf_t *c, cw_redis_t *r, const char *id)
{
    int          done, tty = isatty(STDOUT_FILENO);
    char         line[512];
    redisReply  *h;

    for (;;) {
        h = cw_ob_batch(c, r, id);
        if (h == NULL) {
            return 1;
        }

        done = cw_ob_line(h, id, line, sizeof(line));
        freeReplyObject(h);

        if (!tty) {
            printf("%s\n", line);
            return 0;
        }

        /* one line, redrawn in place, until the batch is done */
        printf("\r%s\033[K", line);
        fflush(stdout);

        if (done) {
            printf("\n");
            return 0;
        }

        usleep(500000);
    }
}


static int
cw_ob_abort(const cw_conf_t *c, cw_redis_t *r, const char *id)
{
    char         key[256];
    redisReply  *h, *rep;

    h = cw_ob_batch(c, r, id);
    if (h == NULL) {
        return 1;
    }

    cw_batch_key(c, id, NULL, key, sizeof(key));
    rep = cw_redis_cmd(r, "HSET %s aborted 1", key);

    if (rep == NULL || rep->type == REDIS_REPLY_ERROR
        || cw_audit_op(r, c, NULL, "batch abort", "batch", id, NULL) != 0)
    {
        fprintf(stderr, "caresync-worker: Redis failed: the abort of batch "
                "%s may not be recorded; run it again\n", id);
        freeReplyObject(h);
        if (rep) {
            freeReplyObject(rep);
        }
        return 1;
    }

    printf("batch %s: aborting; the %s items not started yet will end "
           "skipped\n", id, cw_ob_get(h, "pending"));

    freeReplyObject(h);
    if (rep) {
        freeReplyObject(rep);
    }

    return 0;
}


static int
cw_ob_report(const cw_conf_t *c, cw_redis_t *r, const char *id)
{
    char         key[256], res[256], skey[CW_STATUS_KEY_MAX], *tab, *tab2;
    size_t       i;
    redisReply  *items, *one, *hs, *h;
    const char  *head, *other;

    h = cw_ob_batch(c, r, id);
    if (h == NULL) {
        return 1;
    }

    /*
     * The first column is the item as queued, the last the id found on
     * the other side: hint-to-crm's items are Hint patients.
     */
    if (strcmp(cw_ob_get(h, "kind"), "hint-to-crm") == 0) {
        head = "patient_id,status,message,job_id,crm_contact_id";
        other = "crm_contact_id";

    } else if (strcmp(cw_ob_get(h, "kind"), "crm-to-hint") == 0) {
        head = "contact_id,status,message,job_id,hint_patient_id";
        other = "hint_patient_id";

    } else {
        head = "contact_id,status,message,job_id,healthsherpa_contact_id";
        other = "healthsherpa_contact_id";
    }

    freeReplyObject(h);

    cw_batch_key(c, id, "items", key, sizeof(key));
    cw_batch_key(c, id, "results", res, sizeof(res));

    items = cw_redis_cmd(r, "LRANGE %s 0 -1", key);
    if (items == NULL || items->type != REDIS_REPLY_ARRAY) {
        fprintf(stderr, "caresync-worker: cannot read %s\n", key);
        if (items) {
            freeReplyObject(items);
        }
        return 1;
    }

    printf("%s\r\n", head);

    /* two replies per item, pipelined: a report of thousands is quick */
    for (i = 0; i < items->elements; i++) {
        char  jid[64];

        cw_batch_item_id(id, i, jid, sizeof(jid));
        cw_status_key(c->redis.prefix, jid, skey, sizeof(skey));
        cw_redis_append(r, "HGET %s %s", res, items->element[i]->str);
        cw_redis_append(r, "HGET %s %s", skey, other);
    }

    for (i = 0; i < items->elements; i++) {
        char  jid[64];

        one = cw_redis_next(r);
        hs = cw_redis_next(r);
        cw_batch_item_id(id, i, jid, sizeof(jid));

        cw_csv_write_field(stdout, items->element[i]->str);
        fputc(',', stdout);

        if (one && one->type == REDIS_REPLY_STRING) {
            /* "status\tjob\tmessage" */
            tab = strchr(one->str, '\t');
            tab2 = tab ? strchr(tab + 1, '\t') : NULL;
            if (tab && tab2) {
                *tab = *tab2 = '\0';
                cw_csv_write_field(stdout, one->str);
                fputc(',', stdout);
                cw_csv_write_field(stdout, tab2 + 1);
                fputc(',', stdout);
                cw_csv_write_field(stdout, tab + 1);
            }
        } else {
            printf("pending,,%s", jid);
        }

        fputc(',', stdout);
        if (hs && hs->type == REDIS_REPLY_STRING) {
            cw_csv_write_field(stdout, hs->str);
        }
        fputs("\r\n", stdout);

        if (one) {
            freeReplyObject(one);
        }
        if (hs) {
            freeReplyObject(hs);
        }
    }

    freeReplyObject(items);
    return 0;
}


int
cw_ops_batch(const cw_conf_t *c, int argc, char **argv)
{
    int         rc;
    size_t      i;
    cw_redis_t  r;

    if (argc >= 1) {
        for (i = 0; i < CW_NKINDS; i++) {
            if (strcmp(argv[0], cw_batch_kinds[i].kind) == 0) {
                return cw_ob_start(c, &cw_batch_kinds[i], argc - 1, argv + 1);
            }
        }
    }

    if (argc != 2 || (strcmp(argv[0], "status") != 0
                      && strcmp(argv[0], "abort") != 0
                      && strcmp(argv[0], "report") != 0))
    {
        fprintf(stderr, "usage: caresync-worker batch healthsherpa "
                "--csv FILE | --where COND [--agent EMAIL]\n"
                "       caresync-worker batch hint-to-crm\n"
                "       caresync-worker batch crm-to-hint --csv FILE\n"
                "       caresync-worker batch status|abort|report "
                "<batch-id>\n"
                "`caresync-worker batch --help` for details\n");
        return 2;
    }

    if (cw_ops_connect(c, &r) != 0) {
        return 1;
    }

    if (strcmp(argv[0], "status") == 0) {
        rc = cw_ob_status(c, &r, argv[1]);
    } else if (strcmp(argv[0], "abort") == 0) {
        rc = cw_ob_abort(c, &r, argv[1]);
    } else {
        rc = cw_ob_report(c, &r, argv[1]);
    }

    cw_ops_close(&r);
    return rc;
}


/* ---- oauth healthsherpa url <agent> | exchange <agent> <code> <state> */

typedef struct {
    int       done;
    cw_err_t  err;
} cw_ob_wait_t;


static void
cw_ob_exchanged(void *data, cw_hs_res_t *res)
{
    cw_ob_wait_t  *w = data;

    w->err = res->err;
    w->done = 1;
}


int
cw_ops_oauth(const cw_conf_t *c, int argc, char **argv)
{
    int               rc = 0;
    char              err[512], url[1024];
    cw_hs_t          *hs;
    cw_http_t        *http;
    cw_redis_t        r;
    cw_ob_wait_t      w;
    cw_http_conf_t    hc;

    if (argc < 3 || strcmp(argv[0], "healthsherpa") != 0
        || (strcmp(argv[1], "url") == 0 && argc != 3)
        || (strcmp(argv[1], "exchange") == 0 && argc != 5)
        || (strcmp(argv[1], "url") != 0 && strcmp(argv[1], "exchange") != 0))
    {
        fprintf(stderr, "usage: caresync-worker oauth healthsherpa url "
                "<agent>\n       caresync-worker oauth healthsherpa "
                "exchange <agent> <code> <state>\n"
                "`caresync-worker oauth --help` for details\n");
        return 2;
    }

    if (c->hs.version != 2) {
        fprintf(stderr, "caresync-worker: the login is for "
                "healthsherpa.version = 2 (OAuth); version 1 uses "
                "healthsherpa.api_key and needs no login. For v2 set "
                "healthsherpa.version = 2, client_id, client_secret, "
                "redirect_uri and token_key\n");
        return 1;
    }

    if (cw_ops_connect(c, &r) != 0) {
        return 1;
    }

    cw_ops_http_conf(c, 4, &hc);

    http = cw_http_create(&hc);
    hs = http ? cw_hs_create(http, &r, c, err, sizeof(err)) : NULL;

    if (hs == NULL) {
        fprintf(stderr, "caresync-worker: %s\n",
                http ? err : "cannot initialise libcurl");
        if (http) {
            cw_http_destroy(http);
        }
        cw_ops_close(&r);
        return 1;
    }

    if (strcmp(argv[1], "url") == 0) {
        if (cw_hs_login_url(hs, argv[2], url, sizeof(url), err, sizeof(err))
            != 0)
        {
            fprintf(stderr, "caresync-worker: %s\n", err);
            rc = 1;
        } else {
            printf("%s\n", url);
        }

    } else {
        memset(&w, 0, sizeof(w));
        cw_hs_exchange(hs, argv[2], argv[4], argv[3], cw_ob_exchanged, &w);

        while (!w.done) {
            (void) cw_http_poll(http, 100);
        }

        /* tried or done, it is an operator's act on an agent's account */
        if (cw_audit_op(&r, c, NULL, "oauth exchange", "target",
                        "healthsherpa", "agent", argv[2], "result",
                        w.err.cls == CW_ERR_NONE ? "ok" : "failed", NULL)
            != 0)
        {
            fprintf(stderr, "caresync-worker: the exchange is not in the "
                    "audit trail: Redis refused the entry\n");
            rc = 1;
        }

        if (w.err.cls != CW_ERR_NONE) {
            fprintf(stderr, "caresync-worker: %s\n", w.err.message);
            rc = 1;
        } else {
            printf("HealthSherpa tokens stored for agent %s\n", argv[2]);
        }
    }

    cw_hs_destroy(hs);
    cw_http_destroy(http);
    cw_ops_close(&r);
    return rc;
}
