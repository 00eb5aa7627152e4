/*
 * caresync-worker: HelpAround media -> Salesforce Files (ContentVersion).
 *
 * The media are done one after the other: a job has at most five, and
 * one at a time keeps a job's memory to one file.  A failure is noted
 * and the next media is still tried, so one missing card does not hold
 * the others back; the job then fails with the first error and its
 * retry attaches only what is still missing.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cs_id.h"
#include "engine/cw_log.h"
#include "clients/cw_media.h"
#include "engine/cw_util.h"

typedef struct {
    cw_worker_t       *w;
    char               contact[64];
    char               key[256];     /* {prefix}:media:<contact> */
    json_t            *items;
    size_t             next;
    const char        *kind;
    const char        *id;
    /*
     * What Redis and the log hold of the id: its SHA-256.  A card's
     * image id is PHI (it names the patient's insurance card), so the
     * attached-media set and the log lines carry its digest only.
     */
    char               tag[CS_ID_SHA256_LEN + 1];
    int                attached;
    cw_err_t           err;          /* the first failure */
    cw_media_done_pt   done;
    void              *data;
} cw_media_t;

static cw_target_t  cw_media_target;
static int          cw_media_target_ready;


static void cw_media_next(cw_media_t *m);


int
cw_media_enabled(const cw_conf_t *conf)
{
    return conf->ha.media_url_template && conf->ha.api_key;
}


static void
cw_media_note(cw_media_t *m, const cw_err_t *err)
{
    cw_error("media", "media not attached contact=%s media=%.12s kind=%s "
             "code=%s http_status=%ld", m->contact, m->tag,
             m->kind ? m->kind : "-", cw_err_name(err), err->http_status);

    if (m->err.cls == CW_ERR_NONE) {
        m->err = *err;
    }

    if (err->code == CW_E_SHUTDOWN) {
        /* the worker is stopping: start nothing more */
        m->next = json_array_size(m->items);
    }
}


/* PathOnClient's extension tells Salesforce the file type: sniff it */
static const char *
cw_media_ext(const unsigned char *p, size_t n)
{
    if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
        return "png";
    }
    if (n >= 3 && memcmp(p, "\xff\xd8\xff", 3) == 0) {
        return "jpg";
    }
    if (n >= 4 && memcmp(p, "%PDF", 4) == 0) {
        return "pdf";
    }
    if (n >= 4 && memcmp(p, "GIF8", 4) == 0) {
        return "gif";
    }
    if (n >= 4 && memcmp(p, "<svg", 4) == 0) {
        return "svg";
    }
    return "bin";
}


static void
cw_media_created(void *data, cw_crm_res_t *res)
{
    cw_media_t  *m = data;
    redisReply  *rep;

    if (res->err.cls != CW_ERR_NONE) {
        cw_media_note(m, &res->err);
        cw_media_next(m);
        return;
    }

    m->attached++;

    rep = cw_redis_cmd(&m->w->redis, "SADD %s %s", m->key, m->tag);
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        /* the file is there; a retry could attach it again: say so */
        cw_error("media", "attached but not recorded contact=%s "
                 "media=%.12s", m->contact, m->tag);
    }
    if (rep) {
        freeReplyObject(rep);
    }

    cw_debug("media", "attached contact=%s media=%.12s kind=%s file=%s",
             m->contact, m->tag, m->kind,
             res->id ? res->id : "-");
    cw_media_next(m);
}


static void
cw_media_fetched(cw_http_req_t *r)
{
    int          n;
    char         title[256], path[256];
    json_t      *cv;
    cw_crm_t    *crm;
    cw_media_t  *m = r->data;
    unsigned char  *b64;

    if (r->err.cls != CW_ERR_NONE) {
        cw_err_t  err = r->err;

        if (r->status == 401 || r->status == 403) {
            cw_err_set(&err, CW_ERR_PERMANENT, CW_E_MEDIA_AUTH,
                       "HelpAround refused the media request (HTTP %ld): "
                       "check helparound.api_key", r->status);
            err.http_status = r->status;
        }

        cw_media_note(m, &err);
        cw_http_req_free(r);
        cw_media_next(m);
        return;
    }

    if (r->resp.len == 0 || r->resp.len > (size_t) 0x5fffffff) {
        cw_err_t  err;

        cw_err_set(&err, CW_ERR_TRANSIENT, CW_E_MEDIA_EMPTY,
                   "HelpAround sent an empty media file (the %s)", m->kind);
        cw_media_note(m, &err);
        cw_http_req_free(r);
        cw_media_next(m);
        return;
    }

    b64 = cw_calloc(1, (r->resp.len + 2) / 3 * 4 + 1);
    n = EVP_EncodeBlock(b64, (const unsigned char *) r->resp.data,
                        (int) r->resp.len);

    snprintf(title, sizeof(title), "HelpAround %s %s", m->kind, m->id);
    snprintf(path, sizeof(path), "helparound-%s-%s.%s", m->kind, m->id,
             cw_media_ext((const unsigned char *) r->resp.data,
                          r->resp.len));
    cw_http_req_free(r);

    cv = json_pack("{s:s,s:s,s:s,s:s%}", "Title", title, "PathOnClient", path,
                   "FirstPublishLocationId", m->contact, "VersionData",
                   (const char *) b64, (size_t) n);
    free(b64);

    crm = m->w->crm;
    crm->create_record(crm, "ContentVersion", cv, cw_media_created, m);
    json_decref(cv);
}


static void
cw_media_fetch(cw_media_t *m)
{
    char            hdr[512], what[96];
    cs_buf_t        url;
    cw_err_t        err;
    cw_http_req_t  *r;
    const char     *t, *at;
    const cw_conf_t  *c = m->w->conf;

    if (!cw_media_target_ready) {
        cw_target_init(&cw_media_target, "helparound",
                       c->ha.media_url_template,
                       (int) c->ha.max_concurrency, (double) c->ha.rps);
        cw_media_target_ready = 1;
    }

    /* "https://…/media/{id}": the id in place of {id}, else at the end */
    t = c->ha.media_url_template;
    at = strstr(t, "{id}");

    cs_buf_init(&url);
    cs_buf_put(&url, t, at ? (size_t) (at - t) : strlen(t));

    snprintf(what, sizeof(what), "the HelpAround media id (%s)", m->kind);
    if (cw_http_url_id(&url, m->id, what, &err) != 0) {
        /* the API key never goes to a path the sender chose */
        cs_buf_free(&url);
        cw_media_note(m, &err);
        cw_media_next(m);
        return;
    }

    if (at) {
        cs_buf_puts(&url, at + 4);
    }
    cs_buf_putc(&url, '\0');

    r = cw_http_req_new(m->w->http, "GET", &cw_media_target, NULL,
                        cw_media_fetched, m);
    cw_http_req_url(r, url.data);
    cs_buf_free(&url);
    r->raw = 1;

    snprintf(hdr, sizeof(hdr), "%s: %s", c->ha.api_key_header,
             c->ha.api_key);
    cw_http_req_header(r, hdr);
    explicit_bzero(hdr, sizeof(hdr));

    cw_http_send(r);
}


static void
cw_media_next(cw_media_t *m)
{
    int          seen;
    json_t      *it;
    cw_err_t     err, first;
    redisReply  *rep;

    while (m->next < json_array_size(m->items)) {
        it = json_array_get(m->items, m->next++);
        m->kind = json_string_value(json_object_get(it, "kind"));
        m->id = json_string_value(json_object_get(it, "id"));

        if (m->kind == NULL || m->id == NULL) {
            continue;
        }

        {
            cs_str_t  part = { m->id, strlen(m->id) };

            if (cs_id_sha256_hex(&part, 1, m->tag) != 0) {
                cw_err_set(&err, CW_ERR_TRANSIENT, CW_E_OUT_OF_MEMORY,
                           "cannot digest a media id");
                m->tag[0] = '\0';
                cw_media_note(m, &err);
                continue;
            }
        }

        rep = cw_redis_cmd(&m->w->redis, "SISMEMBER %s %s", m->key, m->tag);
        seen = rep && rep->type == REDIS_REPLY_INTEGER ? (int) rep->integer
                                                       : -1;
        if (rep) {
            freeReplyObject(rep);
        }

        if (seen == 1) {
            continue;
        }

        if (seen < 0) {
            /* without the record a retry might attach twice: wait */
            cw_err_set(&err, CW_ERR_TRANSIENT, CW_E_REDIS,
                       "cannot read the attached-media record in Redis");
            cw_media_note(m, &err);
            continue;
        }

        cw_media_fetch(m);
        return;
    }

    first = m->err;
    m->done(m->data, first.cls == CW_ERR_NONE ? NULL : &first, m->attached);
    json_decref(m->items);
    free(m);
}


void
cw_media_attach(cw_worker_t *w, const char *contact_id, json_t *items,
    cw_media_done_pt done, void *data)
{
    cw_media_t  *m;

    m = cw_calloc(1, sizeof(*m));
    m->w = w;
    snprintf(m->contact, sizeof(m->contact), "%s", contact_id);
    snprintf(m->key, sizeof(m->key), "%s:media:%s", w->conf->redis.prefix,
             contact_id);
    m->items = json_incref(items);
    m->done = done;
    m->data = data;
    cw_err_clear(&m->err);

    cw_media_next(m);
}
