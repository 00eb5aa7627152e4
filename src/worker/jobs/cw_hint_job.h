/*
 * caresync-worker: what the Hint <-> CRM jobs share (sync-rules.md §C).
 *
 * One handler file per job type (cw_h_hint_patient.c, cw_h_contact_
 * changed.c, cw_h_hint_sync.c, cw_h_hint_unlink.c), each a small state
 * machine of its own steps: a remote call here records the step to resume
 * at and the type's step function, and its completion stores what came
 * back and calls that function.  Both sides are always read before
 * anything is written and only differing fields are written (cw_hh_merge
 * through cw_hintmap_merge), so a change we made that comes back as the
 * other side's event writes nothing: no ping-pong.
 *
 * The batch items (hint.batch_patient, hint.batch_contact) run under
 * batch.item (cw_batch.c): action.contact_id is the item's id (a patient
 * id for hint-to-crm).  Every contact a batch touches gets the batch id in
 * Last_Batch_Sync_Id__c (§C.7): in the same write when the contact is
 * written, else alone, when it differs (cw_hh_done).
 */
#ifndef CW_HINT_JOB_H
#define CW_HINT_JOB_H

#include <jansson.h>

#include "clients/cw_hint.h"
#include "engine/cw_jobs.h"
#include "maps/cw_hintmap.h"

/* How a Hint job ends; the status record's word for each: cw_hh_word(). */
typedef enum {
    CW_HO_UPDATED = 0,
    CW_HO_LINKED,
    CW_HO_CREATED,
    CW_HO_UNLINKED,
    CW_HO_SKIPPED,
    CW_HO_NO_MATCH
} cw_ho_e;

typedef struct cw_hh_s  cw_hh_t;

/* A type's step function: switches on hh->step. */
typedef void (*cw_hh_run_pt)(cw_job_t *job);

struct cw_hh_s {
    cw_hh_run_pt   run;
    int            step;        /* the type's own step enum */
    int            after;       /* the step a remote call resumes at */
    char           patient_id[CW_JOB_REF_LEN];
    char           contact_id[CW_JOB_REF_LEN];
    int            mode;        /* cw_hintmap_merge mode */
    int            link;        /* set the link fields in the merge */
    int            wrote;
    int            new_patient; /* the job created the patient */
    const char    *batch_id;    /* in job->env; NULL: not a batch item */
    size_t         next;        /* the next record of a walk */
    cw_ho_e        final;       /* how it ends when something was written */
    cw_ho_e        end_status;  /* decided before a batch mark */
    int            marked;      /* the batch mark is written or not due */
    json_t        *contact;
    json_t        *patient;
    json_t        *records;     /* the last CRM search or Hint list */
    const char    *exact;       /* the Hint id that search was by */
    json_t        *to_patient;
    char           msg[400];

    /* of one type */
    int            event;       /* hint.patient: cw_he_e */
    int            create_contacts;   /* hint.patient: no match, create */
    int            create;      /* hint.sync: action.create */
};

/*
 * A Hint job's state, with `run` as its step function; NULL when Hint
 * or the CRM is not configured (the job has failed).
 */
cw_hh_t *cw_hh_new(cw_job_t *job, cw_hh_run_pt run);

/*
 * The jobs about a contact (a CRM change, a sync, an unlink, a crm-to-hint
 * item): its key (cw_lock.h) from action.contact_id, and their state with
 * a valid contact id (NULL: the job has failed); cw_hh_get_contact()
 * then reads it.
 */
int cw_hh_contact_key(cw_job_t *job, cw_patient_t *p);
cw_hh_t *cw_hh_new_contact(cw_job_t *job, cw_hh_run_pt run);

/* The patient and contact the job is about, also in its status record. */
void cw_hh_pid(cw_job_t *job, const char *id);
void cw_hh_cid(cw_job_t *job, const char *id);
/* The contact's Id as the job's contact. */
void cw_hh_contact_id(cw_job_t *job, json_t *contact);
/* Replaces the reference in *slot with one to v (may be NULL). */
void cw_hh_set(json_t **slot, json_t *v);

/* Remote calls: each resumes at `after` (hh->contact, ->records, ...). */
void cw_hh_get_contact(cw_job_t *job, int after);
void cw_hh_find(cw_job_t *job, const char *field, const char *value,
    int after);
void cw_hh_get_patient(cw_job_t *job, int after);
/* The Hint patients of the contact's trimmed names and birth date. */
void cw_hh_list_matches(cw_job_t *job, int after);
/* Clears the link on `contact_id`; the contact and the patient stay. */
void cw_hh_unlink(cw_job_t *job, const char *contact_id, int after);
void cw_hh_create_patient(cw_job_t *job, json_t *body, int after);
void cw_hh_create_contact(cw_job_t *job, json_t *fields, int after);

/*
 * The patient key of the contact the job found (cw_lock.h), before it
 * reads what it will write: 0 means the job went back to wait, and is
 * gone.
 */
int cw_hh_take_contact(cw_job_t *job);

/* The contacts of `records` that exactly match the patient (new array). */
json_t *cw_hh_matches(json_t *records, json_t *patient);

/*
 * The merge: the contact and the patient as read, each written where it
 * differs (hh->mode, ->link, the batch mark), then the end (cw_hh_end).
 */
void cw_hh_merge(cw_job_t *job);
/* The end after writes: hh->final, with its message; nothing: skipped. */
void cw_hh_end(cw_job_t *job);
/* Every end of a Hint job: a batch item first marks its contact. */
void cw_hh_done(cw_job_t *job, cw_ho_e outcome, const char *message);
/* A skip a person should know about: logged at `error`, ids only. */
void cw_hh_skip(cw_job_t *job, const char *why, const char *message);

#endif /* CW_HINT_JOB_H */
