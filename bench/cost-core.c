/*
 * caresync: the instructions cs_ingest() costs per request, counted by
 * callgrind (bench/cost-core.sh builds and runs it).
 *
 *   cost-core KIND FILE [N]
 *
 * KIND is enrollment, user_action or hint.  FILE is the body; its first
 * id ("id": "…" for HelpAround's patient, Hint's event) is rewritten for
 * every request to a distinct value of the same length, as a stream of
 * distinct deliveries would have.  After a warm-up of N requests, N more
 * are run with callgrind collecting from cs_ingest_init() to
 * cs_ingest_free() of each (CALLGRIND_TOGGLE_COLLECT; run with
 * --collect-atstart=no); outside valgrind the toggles do nothing.  Every
 * answer must be the expected 200 with a job, or the run fails: a cost
 * figure of a request that went wrong would mean nothing.  With
 * CARESYNC_COST_SEAL=1 in the environment the job is sealed (cs_seal.h)
 * under a fixed test key, as the module does with caresync_job_key; with
 * CARESYNC_COST_SEAL=open it is sealed too, and what is counted is the
 * worker's side instead: cs_seal_open() of each job, nothing else.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <valgrind/callgrind.h>

#include "cs_ingest.h"


static char *
cs_bench_read(const char *path, size_t *len)
{
    long   n;
    char  *p;
    FILE  *f;

    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
        fprintf(stderr, "cost-core: cannot read %s\n", path);
        exit(2);
    }

    rewind(f);

    p = malloc((size_t) n + 1);
    if (p == NULL || fread(p, 1, (size_t) n, f) != (size_t) n) {
        fprintf(stderr, "cost-core: cannot read %s\n", path);
        exit(2);
    }

    fclose(f);
    p[n] = '\0';
    *len = (size_t) n;

    return p;
}


/* The id's value: the bytes between the quotes after the first "id". */
static char *
cs_bench_id(char *body, size_t *n)
{
    char  *p, *q;

    p = strstr(body, "\"id\"");
    if (p == NULL || (p = strchr(p + 4, '"')) == NULL
        || (q = strchr(p + 1, '"')) == NULL || q - p - 1 < 8)
    {
        fprintf(stderr, "cost-core: no \"id\" of 8 characters or more\n");
        exit(2);
    }

    *n = (size_t) (q - p - 1);

    return p + 1;
}


static void
cs_bench_run(cs_webhook_t kind, char *body, size_t len, char *id,
    size_t id_len, unsigned long from, unsigned long n, int measure,
    size_t *job_len)
{
    int               rc;
    char              digits[32];
    unsigned long     i;
    cs_ingest_t       req, *in = &req;
    cs_ingest_conf_t  conf;

    static cs_seal_ring_t  ring;
    static cs_buf_t        opened;
    static const unsigned char  key[CS_SEAL_KEY_LEN] = { 1 };
    const char            *mode = getenv("CARESYNC_COST_SEAL");
    int                    open_only = mode && strcmp(mode, "open") == 0;

    memset(&conf, 0, sizeof(conf));
    conf.keep_raw = 1;

    if (getenv("CARESYNC_COST_SEAL") && ring.n == 0) {
        cs_seal_ring_init(&ring);
        (void) cs_seal_ring_add(&ring, "bench", 5, key);
    }

    conf.seal = ring.n ? &ring : NULL;

    for (i = from; i < from + n; i++) {
        /* the id's last 8 characters become the request's number */
        snprintf(digits, sizeof(digits), "%08lu", i % 100000000);
        memcpy(id + id_len - 8, digits, 8);

        /* counted: what the module calls per request, nothing else */
        if (measure && !open_only) {
            CALLGRIND_TOGGLE_COLLECT;
        }

        /* as the module does: the buffers live as long as the request */
        cs_ingest_init(in);

        memcpy(in->job_id, "01HZX0000000000000", 18);
        memcpy(in->job_id + 18, digits, 9);
        in->now_ms = 1700000000000ULL + i;

        rc = cs_ingest(kind, &conf, (const unsigned char *) body, len, in);

        if (rc != CS_OK || in->status != 200 || !in->enqueue
            || in->job.len == 0)
        {
            fprintf(stderr, "cost-core: request %lu answered %d: %.*s\n", i,
                    in->status, (int) in->body.len, in->body.data);
            exit(1);
        }

        *job_len = in->job.len;

        if (open_only) {
            if (measure) {
                CALLGRIND_TOGGLE_COLLECT;
            }

            /* the worker's side: the job opened, as it reads it */
            if (cs_seal_open(&ring, (const unsigned char *) in->job.data,
                             in->job.len, &opened, NULL) != CS_SEAL_OK)
            {
                fprintf(stderr, "cost-core: request %lu does not open\n", i);
                exit(1);
            }

            if (measure) {
                CALLGRIND_TOGGLE_COLLECT;
            }
        }

        cs_ingest_free(in);

        if (measure && !open_only) {
            CALLGRIND_TOGGLE_COLLECT;
        }
    }
}


int
main(int argc, char **argv)
{
    char            *body, *id;
    size_t           len, id_len, job_len;
    cs_webhook_t     kind;
    unsigned long    n;

    if (argc < 3) {
        fprintf(stderr, "usage: cost-core enrollment|user_action|hint "
                "FILE [N]\n");
        return 2;
    }

    if (strcmp(argv[1], "enrollment") == 0) {
        kind = CS_WEBHOOK_HELPAROUND_ENROLLMENT;
    } else if (strcmp(argv[1], "user_action") == 0) {
        kind = CS_WEBHOOK_HELPAROUND_USER_ACTION;
    } else if (strcmp(argv[1], "hint") == 0) {
        kind = CS_WEBHOOK_HINT;
    } else {
        fprintf(stderr, "cost-core: unknown kind %s\n", argv[1]);
        return 2;
    }

    n = argc > 3 ? strtoul(argv[3], NULL, 10) : 1000;
    if (n == 0) {
        n = 1;
    }

    body = cs_bench_read(argv[2], &len);
    id = cs_bench_id(body, &id_len);

    /* warm-up: first-use allocations, lazily bound symbols, caches */
    cs_bench_run(kind, body, len, id, id_len, 0, n, 0, &job_len);
    cs_bench_run(kind, body, len, id, id_len, n, n, 1, &job_len);

    printf("%s: %lu requests of %zu bytes, job %zu bytes\n", argv[1], n, len,
           job_len);

    free(body);

    return 0;
}
