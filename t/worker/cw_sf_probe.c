/*
 * cw-sf-probe: drives the Salesforce client (cw_crm_t) from the command
 * line, for t/worker/040-salesforce.t.  Operations run one after the
 * other on one client (so the token is shared) and each prints one JSON
 * line with the result:
 *
 *   cw-sf-probe --config FILE op [args] [op [args]] ...
 *     get <id>                 find <field> <value>
 *     update <id> <json>       upsert <field> <value> <json>
 *     create <json>            collection <field> <json-array>
 *     ping
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "engine/cw_config.h"
#include "crm/cw_crm.h"
#include "engine/cw_http.h"
#include "engine/cw_log.h"
#include "crm/cw_salesforce.h"

static int  cw_probe_done;


static void
cw_probe_cb(void *data, cw_crm_res_t *res)
{
    json_t  *o;
    char    *s;

    o = json_pack("{s:s,s:s,s:s,s:i,s:I,s:b}",
                  "op", (const char *) data,
                  "class", res->err.cls == CW_ERR_NONE ? "ok"
                           : res->err.cls == CW_ERR_TRANSIENT ? "transient"
                           : "permanent",
                  "code", cw_err_name(&res->err), "status", (int) res->status,
                  "retry_after_ms", (json_int_t) res->err.retry_after_ms,
                  "created", res->created);

    if (res->err.cls != CW_ERR_NONE) {
        json_object_set_new(o, "message", json_string(res->err.message));
    }

    if (res->id) {
        json_object_set_new(o, "id", json_string(res->id));
    }

    if (res->record) {
        json_object_set(o, "record", res->record);
    }

    if (res->records) {
        json_object_set(o, "records", res->records);
    }

    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    printf("%s\n", s);
    fflush(stdout);
    free(s);
    json_decref(o);

    cw_probe_done = 1;
}


static json_t *
cw_probe_json(const char *s)
{
    json_t  *j = json_loads(s, 0, NULL);

    if (j == NULL) {
        fprintf(stderr, "cw-sf-probe: bad JSON argument\n");
        exit(2);
    }

    return j;
}


int
main(int argc, char **argv)
{
    int              i;
    char             err[4096];
    json_t          *j;
    cw_conf_t        conf;
    cw_crm_t        *crm;
    cw_http_t       *http;
    cw_http_conf_t   hc;
    const char      *fields[] = { "Id", "LastName",
                                  "HelpAround_Patient_Id__c", NULL };

    if (argc < 4 || strcmp(argv[1], "--config") != 0) {
        fprintf(stderr, "usage: cw-sf-probe --config FILE op [args] ...\n");
        return 2;
    }

    if (cw_conf_load(&conf, argv[2], err, sizeof(err)) != 0) {
        fprintf(stderr, "%s", err);
        return 1;
    }

    cw_log_setup(CW_LOG_DEBUG, NULL, NULL, 0);
    curl_global_init(CURL_GLOBAL_DEFAULT);

    memset(&hc, 0, sizeof(hc));
    hc.timeout_ms = conf.http.timeout_ms;
    hc.connect_timeout_ms = conf.http.connect_timeout_ms;
    hc.verify_tls = (int) conf.http.verify_tls;
    http = cw_http_create(&hc);

    crm = cw_salesforce_create(http, &conf, err, sizeof(err));
    if (crm == NULL) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }

    for (i = 3; i < argc; ) {
        const char  *op = argv[i];

        cw_probe_done = 0;

#define NEED(n)                                                               \
        if (i + (n) >= argc) {                                                \
            fprintf(stderr, "cw-sf-probe: %s needs %d args\n", op, n);        \
            return 2;                                                         \
        }

        if (strcmp(op, "get") == 0) {
            NEED(1);
            crm->get_contact(crm, argv[i + 1], fields, cw_probe_cb,
                             (void *) op);
            i += 2;

        } else if (strcmp(op, "find") == 0) {
            NEED(2);
            crm->find_contacts(crm, argv[i + 1], argv[i + 2], fields,
                               cw_probe_cb, (void *) op);
            i += 3;

        } else if (strcmp(op, "update") == 0) {
            NEED(2);
            j = cw_probe_json(argv[i + 2]);
            crm->update_contact(crm, argv[i + 1], j, cw_probe_cb,
                                (void *) op);
            json_decref(j);
            i += 3;

        } else if (strcmp(op, "upsert") == 0) {
            NEED(3);
            j = cw_probe_json(argv[i + 3]);
            crm->upsert_contact(crm, argv[i + 1], argv[i + 2], j,
                                cw_probe_cb, (void *) op);
            json_decref(j);
            i += 4;

        } else if (strcmp(op, "create") == 0) {
            NEED(1);
            j = cw_probe_json(argv[i + 1]);
            crm->create_contact(crm, j, cw_probe_cb, (void *) op);
            json_decref(j);
            i += 2;

        } else if (strcmp(op, "collection") == 0) {
            NEED(2);
            j = cw_probe_json(argv[i + 2]);
            crm->upsert_contacts(crm, argv[i + 1], j, cw_probe_cb,
                                 (void *) op);
            json_decref(j);
            i += 3;

        } else if (strcmp(op, "ping") == 0) {
            crm->ping(crm, cw_probe_cb, (void *) op);
            i += 1;

        } else {
            fprintf(stderr, "cw-sf-probe: unknown op %s\n", op);
            return 2;
        }

#undef NEED

        while (!cw_probe_done) {
            (void) cw_http_poll(http, 100);
        }
    }

    crm->destroy(crm);
    cw_http_destroy(http);
    curl_global_cleanup();
    cw_conf_free(&conf);
    return 0;
}
