/*
 * caresync-worker: a job's envelope (spec job.md), parsed once.
 *
 * The envelope is read with the core's tape parser (cs_json.h), the one
 * the edge uses: one pass, no allocation per value, and strict (bad
 * UTF-8, a name twice or \u0000 make it no envelope: the job fails as
 * one that is not JSON).  It parses a private copy of the queued bytes,
 * because the queued ones are what a retry queues again, and then ends
 * every string with a NUL: in place of its closing quote, or, for the
 * rare string with escapes, in a copy of its decoded bytes.  Handlers so
 * read plain C strings that live as long as the job.
 *
 * cw_json_from_tape() (cw_util.h) hands a part of the envelope to what
 * works on jansson values (the field maps).
 */
#ifndef CW_ENV_H
#define CW_ENV_H

#include <stddef.h>

#include "cs_json.h"

typedef struct {
    cs_json_doc_t     doc;
    char             *copy;         /* the bytes the tape points into */
    size_t            copy_len;
    char             *strs;         /* strings that had escapes */
    size_t            strs_len;
    const cs_json_t  *root;         /* the top object; NULL: none */
} cw_env_t;

/*
 * Parses p[0..n) into e (which must be zeroed or freed before): 0 with
 * e->root set, -1 when it is not a JSON object (e->root NULL).  Memory
 * is fatal, as every allocation of the worker (cw_util.h).
 */
int cw_env_parse(cw_env_t *e, const char *p, size_t n);
void cw_env_free(cw_env_t *e);

/* o[key]; NULL when o is not an object (or NULL) or has no such member */
const cs_json_t *cw_env_get(const cs_json_t *o, const char *key);

/* o[key] when it is a string with something in it, else NULL */
const char *cw_env_str(const cs_json_t *o, const char *key);

#endif /* CW_ENV_H */
