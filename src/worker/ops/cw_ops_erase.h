/*
 * caresync-worker: erasing what caresync holds about one patient
 * (docs/phi-and-retention.md "Erasure").
 *
 * The patient is named by an id that stays readable: a source patient
 * id (HelpAround "ha…", Hint "pat-…") or a CRM contact id.  A job is
 * about the patient when its id is in the patient's index
 * ({prefix}:patient:<key>, cw_status.h: every job that held the patient's
 * key or linked the contact), when its handler names the patient's key
 * (cw_jobs_patient_of()), or when its action names the id; the contact
 * and Hint patient those jobs linked (their status records) are the same
 * patient, and are sought too.  Removed: queued, retrying, parked,
 * archived and dead jobs, the edge's marks that hold their ids (dedupe,
 * message), their status records and timelines, batch rows naming the ids, the
 * per-patient keys (lock, wait, last, index, a contact's media marks),
 * and the sync log's lines
 * naming an id or one of the jobs.  A sealed job (the patient's ids are
 * in its sealed part) is opened with the key ring to read them, and
 * forgotten; one that cannot be opened (its key is not in the ring, or it
 * does not authenticate) and whose readable head names none of the ids
 * is kept and counted (res->unreadable): removing it could erase another
 * patient's job, keeping it unsaid would be an erasure that is not one.
 * Never the CRM's or a vendor's data,
 * and never the audit trail, which records the erasure itself (with the
 * SHA-256 of the id, not the id).
 */
#ifndef CW_OPS_ERASE_H
#define CW_OPS_ERASE_H

#include "engine/cw_config.h"
#include "engine/cw_redis.h"

typedef enum {
    CW_ERASE_QUEUED = 0,
    CW_ERASE_RETRYING,
    CW_ERASE_PARKED,
    CW_ERASE_ARCHIVED,
    CW_ERASE_DEAD,
    CW_ERASE_DEDUPE,
    CW_ERASE_STATUS,
    CW_ERASE_TIMELINE,
    CW_ERASE_BATCH,
    CW_ERASE_KEYS,
    CW_ERASE_LOG,
    CW_ERASE_NKINDS
} cw_erase_kind_e;

typedef struct {
    long long    n[CW_ERASE_NKINDS];
    char         running[132];     /* refused: the job that runs, or ""
                                      when one is starting */
    long long    unreadable;       /* sealed jobs kept: not openable */
    char         shut_kids[128];   /* their key ids, space-separated */
} cw_erase_res_t;

/* The kinds' names, as printed ("queued", "retrying", ...). */
const char *cw_erase_kind_name(cw_erase_kind_e k);

/*
 * 0 erased (counts in res), 1 refused (a job for the patient runs:
 * res->running; nothing removed), -1 Redis failed (part may be removed:
 * run it again), -2 the id is not one, -3 erased but the audit entry
 * could not be written, -4 erased but res->unreadable sealed jobs could
 * not be opened and were kept (their key ids in res->shut_kids).  The audit entry, by `actor` (NULL:
 * cw_audit_actor()), is written here, for every caller.
 */
int cw_erase(cw_redis_t *r, const cw_conf_t *c, const char *id,
    const char *actor, cw_erase_res_t *res);

/* `erase --patient <id>` */
int cw_ops_erase(const cw_conf_t *conf, int argc, char **argv);

#endif /* CW_OPS_ERASE_H */
