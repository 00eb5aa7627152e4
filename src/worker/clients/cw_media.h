/*
 * caresync-worker: HelpAround media (insurance cards, signature) attached
 * to a CRM contact as Salesforce Files.
 *
 * Each media id is fetched from helparound.media_url_template (with the
 * API key header) and created as a ContentVersion whose
 * FirstPublishLocationId is the contact, which links the file to it.
 * Once: the ids attached to a contact are kept in the Redis set
 * {prefix}:media:<contact id>, checked before a fetch and added after the
 * ContentVersion exists, so a replayed or retried job attaches nothing
 * twice.  (A crash between the create and the SADD can still duplicate
 * one file; Salesforce has no unique key on ContentVersion to stop it.)
 */
#ifndef CW_MEDIA_H
#define CW_MEDIA_H

#include <jansson.h>

#include "engine/cw_http.h"
#include "cw_worker.h"

/*
 * `err` is NULL when every media is attached (or was already), else the
 * first failure (transient ones are retried with the job); `attached`
 * counts the files created by this call.
 */
typedef void (*cw_media_done_pt)(void *data, const cw_err_t *err,
    int attached);

/* Whether media fetching is configured (template and API key). */
int cw_media_enabled(const cw_conf_t *conf);

/*
 * `items` is an array of {"kind","id"}; done() may run before this
 * returns when there is nothing left to attach.
 */
void cw_media_attach(cw_worker_t *w, const char *contact_id, json_t *items,
    cw_media_done_pt done, void *data);

#endif /* CW_MEDIA_H */
