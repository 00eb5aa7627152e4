/*
 * caresync-worker: `batch hint-to-crm` and `batch crm-to-hint`.
 *
 * The command only makes the list of items and queues the batch; the
 * workers run the items (cw_h_hint_patient.c, cw_h_hint_sync.c), paced
 * by their caps like any job.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/cw_batch.h"
#include "engine/cw_csv.h"
#include "clients/cw_hint.h"
#include "ops/cw_ops.h"
#include "ops/cw_ops_hint.h"
#include "engine/cw_util.h"

/* the patient ids, page after page */
typedef struct {
    char   **ids;
    size_t   n;
    size_t   cap;
    int      done;
    int      failed;
    long     offset;
    char     err[320];
} cw_oh_list_t;


int
cw_ops_hint_kind(const char *kind)
{
    return strcmp(kind, "hint-to-crm") == 0
           || strcmp(kind, "crm-to-hint") == 0;
}


static void
cw_oh_page(void *data, cw_hint_res_t *res)
{
    cw_oh_list_t  *l = data;

    if (res->err.cls != CW_ERR_NONE) {
        snprintf(l->err, sizeof(l->err), "%s", res->err.message);
        l->failed = 1;
        l->done = 1;
        return;
    }

    (void) cw_strs_push_ids(&l->ids, &l->n, &l->cap, res->patients, "id",
                            cw_hint_id_ok);

    /* a short page is the last one (X-Total-Count is not needed) */
    l->done = json_array_size(res->patients) < CW_HINT_PAGE;
    l->offset += CW_HINT_PAGE;
}


static int
cw_oh_patients(const cw_conf_t *c, cw_oh_list_t *l)
{
    long            offset;
    cw_hint_t      *h;
    cw_worker_t     w;
    cw_http_conf_t  hc;

    cw_ops_http_conf(c, 4, &hc);

    memset(&w, 0, sizeof(w));
    w.conf = c;
    w.http = cw_http_create(&hc);
    if (w.http == NULL) {
        snprintf(l->err, sizeof(l->err), "cannot initialise libcurl");
        return -1;
    }

    h = cw_hint(&w);
    if (h == NULL) {
        snprintf(l->err, sizeof(l->err), "[hint] base_url and api_key are "
                 "required");
        cw_http_destroy(w.http);
        return -1;
    }

    while (!l->done) {
        offset = l->offset;
        cw_hint_list_patients(h, CW_HINT_PAGE, offset, NULL, cw_oh_page, l);
        while (offset == l->offset && !l->done) {
            (void) cw_http_poll(w.http, 100);
        }
    }

    cw_http_destroy(w.http);
    return l->failed ? -1 : 0;
}


static int
cw_oh_queue(const cw_conf_t *c, const char *kind, const char *item,
    char **ids, size_t n, size_t ignored, char id[CW_BATCH_ID_LEN])
{
    cw_batch_spec_t  spec;

    memset(&spec, 0, sizeof(spec));
    spec.kind = kind;
    spec.item = item;
    spec.ignored = ignored;

    return cw_ops_queue_batch(c, &spec, ids, n, id);
}


static int
cw_oh_hint_to_crm(const cw_conf_t *c)
{
    int           rc = 1;
    char          id[CW_BATCH_ID_LEN];
    size_t        i;
    cw_oh_list_t  l;

    memset(&l, 0, sizeof(l));

    if (cw_oh_patients(c, &l) != 0) {
        fprintf(stderr, "caresync-worker: listing Hint patients failed: "
                "%s\n", l.err);

    } else if (l.n == 0) {
        printf("no Hint patients: nothing to do\n");
        rc = 0;

    } else if (cw_oh_queue(c, "hint-to-crm", "hint.batch_patient", l.ids,
                           l.n, 0, id) == 0)
    {
        printf("batch %s queued: %zu patients\n", id, l.n);
        rc = 0;
    }

    for (i = 0; i < l.n; i++) {
        free(l.ids[i]);
    }
    free(l.ids);

    return rc;
}


static int
cw_oh_crm_to_hint(const cw_conf_t *c, const char *csv)
{
    int           rc;
    char          id[CW_BATCH_ID_LEN];
    cw_csv_ids_t  ids;

    if (cw_ops_csv_ids(csv, &ids) != 0) {
        return 1;
    }

    if (ids.n == 0) {
        fprintf(stderr, "caresync-worker: no contact ids in the first "
                "column of %s (%zu rows ignored)\n", csv, ids.ignored);
        cw_csv_ids_free(&ids);
        return 1;
    }

    rc = cw_oh_queue(c, "crm-to-hint", "hint.batch_contact", ids.ids, ids.n,
                     ids.ignored, id);

    if (rc == 0) {
        printf("batch %s queued: %zu contacts (%zu rows ignored, %zu "
               "duplicates)\n", id, ids.n, ids.ignored, ids.duplicates);
    }

    cw_csv_ids_free(&ids);
    return rc == 0 ? 0 : 1;
}


int
cw_ops_hint_batch(const cw_conf_t *conf, int argc, char **argv)
{
    if (argc == 1 && strcmp(argv[0], "hint-to-crm") == 0) {
        return cw_oh_hint_to_crm(conf);
    }

    if (argc == 3 && strcmp(argv[0], "crm-to-hint") == 0
        && strcmp(argv[1], "--csv") == 0)
    {
        return cw_oh_crm_to_hint(conf, argv[2]);
    }

    fprintf(stderr, "usage: caresync-worker batch hint-to-crm\n"
            "       caresync-worker batch crm-to-hint --csv FILE\n"
            "`caresync-worker batch --help` for details\n");
    return 2;
}
