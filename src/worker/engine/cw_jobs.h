/*
 * caresync-worker: jobs, their handlers, and how a job ends.
 *
 * A job is one stream entry being worked on.  Its handler (chosen by the
 * envelope's `type`) is a small state machine whose steps are HTTP
 * completions; it ends the job with exactly one of cw_job_done() or
 * cw_job_fail(), which write the status record and then acknowledge the
 * entry in one MULTI/EXEC, so nothing is acknowledged before its final
 * status is recorded.
 */
#ifndef CW_JOBS_H
#define CW_JOBS_H

#include <jansson.h>

#include "engine/cw_env.h"
#include "engine/cw_http.h"
#include "engine/cw_lock.h"
#include "cw_worker.h"

/* a contact's or a patient's id kept for the status record */
#define CW_JOB_REF_LEN  64

typedef struct {
    const char  *type;
    void       (*start)(cw_job_t *job);
    /*
     * The patient the job is about (cw_lock.h): 0 with p filled, -1 when
     * it names none (the job then runs at once, and its start fails it).
     */
    int        (*patient)(cw_job_t *job, cw_patient_t *p);
} cw_handler_t;

struct cw_job_s {
    cw_worker_t         *w;
    char                 stream_id[48];
    char                 order[CW_ORDER_LEN];  /* its place in the queue */
    char                 locks[CW_LOCK_MAX][CW_LOCK_NAME_MAX];
    int                  nlocks;       /* patient keys held */
    char                *raw;          /* the envelope as queued: what a
                                          retry, a dead letter and the
                                          archive keep, byte for byte
                                          (sealed when the edge seals;
                                          never a decoded form) */
    size_t               raw_len;
    cw_env_t             env;          /* parsed once; env.root NULL:
                                          not a JSON object */
    char                *refused;      /* why it cannot be opened, or NULL */
    char                 id[130];
    const char          *type;
    long                 attempts;     /* including this one */
    const cw_handler_t  *handler;
    void                *hdata;        /* the handler's state */
    void               (*hfree)(cw_job_t *job);
    char                 crm_contact_id[CW_JOB_REF_LEN];
    char                 hint_patient_id[CW_JOB_REF_LEN];  /* Hint jobs that know the
                                                  patient, for the record */
    uint64_t             started_ms;
    struct cw_trace_s   *trace;        /* its trace, NULL: none */
    const char          *received_at;  /* the envelope's, in env */
    /*
     * Called once with the final status (never for `retrying`), before
     * the status is written, so that a batch item's result joins the same
     * pipeline (cw_batch.c).  NULL for a job that is no batch item.
     */
    void               (*hend)(cw_job_t *job, const char *status,
                               const char *message);
    void                *hend_data;
    cw_job_t            *prev, *next;
};

/* The handler of a job type, NULL for none. */
const cw_handler_t *cw_jobs_find(const char *type);

/* Takes a batch of stream entries: status `running`, then the handlers. */
typedef struct {
    char    stream_id[48];
    char    order[CW_ORDER_LEN];
    char   *job;
    size_t  len;
} cw_entry_t;

void cw_jobs_start(cw_worker_t *w, cw_entry_t *entries, int n);

/* A final status: matched, no_match, created, updated, skipped, ... */
void cw_job_done(cw_job_t *job, const char *status, const char *message);
/* Transient: retry or dead-letter; permanent: failed with err's message */
void cw_job_fail(cw_job_t *job, const cw_err_t *err);
/* The same for an error of the handler's own: cw_err_set() + the above. */
void cw_job_failf(cw_job_t *job, cw_err_class_e cls, cw_err_e code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * A second patient key in the middle of a job (cw_lock.h), before it
 * reads what it will write: 1 held, go on; 0 busy: the job was put back
 * to wait for it (its keys released, its attempt not counted) and is gone,
 * the caller returns at once.  A Redis failure fails the job (transient)
 * and is 0 too.
 */
int cw_job_lock(cw_job_t *job, const cw_patient_t *p);

/*
 * The patient key of a queued envelope, as its handler would name it when
 * the job starts (erasure finds a patient's queued jobs with it): 0 with
 * p filled, -1 when it names none.
 */
int cw_jobs_patient_of(const cw_env_t *env, cw_patient_t *p);

/* A handler's patient key "<what>:<id>" with the id at env.<obj>.<key>. */
int cw_job_patient_at(cw_job_t *job, cw_patient_t *p, const char *what,
    const char *obj, const char *key);

/* The handlers: a table a file, each ended by a NULL type. */
extern const cw_handler_t  cw_h_user_action[];
extern const cw_handler_t  cw_h_enrollment[];
extern const cw_handler_t  cw_h_hint_patient[];    /* + batch_patient */
extern const cw_handler_t  cw_h_contact_changed[];
extern const cw_handler_t  cw_h_hint_sync[];       /* + batch_contact */
extern const cw_handler_t  cw_h_hint_unlink[];
extern const cw_handler_t  cw_h_healthsherpa[];
extern const cw_handler_t  cw_h_batch_item[];
extern const cw_handler_t  cw_h_ops[];         /* ops.*, the console's */

#endif /* CW_JOBS_H */
