/*
 * ngx_http_caresync_module: the job key ring (caresync_job_key).
 *
 * The keys are read by the master at configuration time, as every secret
 * file is (auth.c: a regular file no one but its owner may open, not
 * empty, not oversized); each holds 32 bytes as 64 hex characters.  The
 * last key listed seals new jobs (src/cs_seal.h); the others are listed
 * so that a configuration still names what it sealed with before.  A
 * reload reads the files again: that is how a key is added or dropped.
 * Messages name the file, never what it holds.
 */


#include "ngx_http_caresync.h"


static void ngx_http_caresync_ring_cleanup(void *data);


/* caresync_job_key id file:/path; | caresync_job_key off; */

char *
ngx_http_caresync_job_key(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_caresync_main_conf_t  *cmcf = conf;

    int                  rc;
    ngx_str_t           *value, text, path;
    unsigned char        key[CS_SEAL_KEY_LEN];
    ngx_pool_cleanup_t  *cln;

    value = cf->args->elts;

    if (cf->args->nelts == 2) {
        if (ngx_strcmp(value[1].data, "off") != 0) {
            return "needs a key id and \"file:/path\", or \"off\"";
        }

        if (cmcf->ring || cmcf->clear) {
            return "\"off\" cannot be mixed with keys or repeated";
        }

        cmcf->clear = 1;
        return NGX_CONF_OK;
    }

    if (cmcf->clear) {
        return "cannot be mixed with \"caresync_job_key off\"";
    }

    if (!cs_seal_kid_ok((const char *) value[1].data, value[1].len)) {
        return "needs a key id of 1 to 32 letters, digits, \".\", \"_\" "
               "or \"-\"";
    }

    /* a key written in nginx.conf is read by whoever reads the config */
    if (value[2].len < 6 || ngx_strncmp(value[2].data, "file:", 5) != 0) {
        return "reads its key from a file only: \"file:/path\"";
    }

    if (ngx_http_caresync_conf_secret(cf, &value[2], 2, &text)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    rc = cs_seal_key_hex((const char *) text.data, text.len, key);
    ngx_explicit_memzero(text.data, text.len);

    if (rc != 0) {
        path.data = value[2].data + 5;
        path.len = value[2].len - 5;
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_job_key\" parameter #2: file \"%V\" "
                           "does not hold a key of 64 hex characters "
                           "(as \"openssl rand -hex 32\" writes it)", &path);
        return NGX_CONF_ERROR;
    }

    if (cmcf->ring == NULL) {
        cmcf->ring = ngx_palloc(cf->pool, sizeof(cs_seal_ring_t));
        cln = ngx_pool_cleanup_add(cf->pool, 0);

        if (cmcf->ring == NULL || cln == NULL) {
            ngx_explicit_memzero(key, sizeof(key));
            return NGX_CONF_ERROR;
        }

        /* the keys are wiped, the contexts freed, with the cycle */
        cs_seal_ring_init(cmcf->ring);
        cln->handler = ngx_http_caresync_ring_cleanup;
        cln->data = cmcf->ring;
    }

    rc = cs_seal_ring_add(cmcf->ring, (const char *) value[1].data,
                          value[1].len, key);
    ngx_explicit_memzero(key, sizeof(key));

    switch (rc) {

    case CS_SEAL_OK:
        return NGX_CONF_OK;

    case CS_SEAL_DUPLICATE:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_job_key\": key id \"%V\" is listed "
                           "twice, or its key is listed under another id",
                           &value[1]);
        return NGX_CONF_ERROR;

    case CS_SEAL_FULL:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_job_key\": at most %d keys",
                           CS_SEAL_KEYS_MAX);
        return NGX_CONF_ERROR;

    default:
        return NGX_CONF_ERROR;
    }
}


/*
 * Fail closed: the jobs hold PHI, so a configuration that queues them
 * names the key that seals them, or says in so many words that they go
 * in the clear (warned about at every start and reload).
 */

char *
ngx_http_caresync_check_job_key(ngx_conf_t *cf,
    ngx_http_caresync_main_conf_t *cmcf)
{
    if (!cmcf->used) {
        return NGX_CONF_OK;
    }

    if (cmcf->clear) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"caresync_job_key off\": jobs are queued with "
                           "their PHI readable in Redis");
        return NGX_CONF_OK;
    }

    if (cmcf->ring == NULL) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_webhook\" and \"caresync_api\" "
                           "queue jobs that hold PHI: add "
                           "\"caresync_job_key <id> file:/path;\" to the "
                           "http block (or \"caresync_job_key off;\")");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static void
ngx_http_caresync_ring_cleanup(void *data)
{
    cs_seal_ring_free(data);
}
