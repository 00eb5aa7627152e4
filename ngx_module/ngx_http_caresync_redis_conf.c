/*
 * The Redis connection's configuration, checked and made ready by the
 * master: an address or a host name (which needs nginx's resolver), the
 * sentinels' pairing with "caresync_redis sentinel", and the TLS context
 * with its trusted CA and client key.
 */


#include "ngx_http_caresync.h"


/*
 * At configuration time, in the master: a host name needs nginx's
 * resolver (fail closed: it would otherwise be resolved once, or block);
 * TLS is set up with its trusted CA, verification always on.
 */

char *
ngx_http_caresync_redis_conf(ngx_conf_t *cf,
    ngx_http_caresync_redis_conf_t *rcf)
{
    ngx_http_core_loc_conf_t  *clcf;

    if (rcf->by_sentinel != (rcf->sentinels != NULL)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_redis sentinel\" and "
                           "\"caresync_redis_sentinel\" go together");
        return NGX_CONF_ERROR;
    }

    if (rcf->by_sentinel && rcf->tls && rcf->tls_name.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_redis_tls\" with sentinels needs "
                           "\"caresync_redis_tls_name\": the name every "
                           "node's certificate carries");
        return NGX_CONF_ERROR;
    }

    if (rcf->naddr.socklen == 0 && !rcf->by_sentinel) {
        clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

        if (clcf->resolver == NULL || clcf->resolver->connections.nelts == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "caresync_redis \"%V\" is a host name: it "
                               "needs a \"resolver\" in the http block "
                               "(or an IP address)", &rcf->name);
            return NGX_CONF_ERROR;
        }

        rcf->resolver = clcf->resolver;
        rcf->resolver_timeout = clcf->resolver_timeout;
    }

    if (!rcf->tls) {
        if (rcf->tls_trusted.len || rcf->tls_certificate.len
            || rcf->tls_key.len || rcf->tls_name.len)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"caresync_redis_tls_*\" is set but "
                               "\"caresync_redis_tls\" is off");
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

#if (NGX_HTTP_SSL)
    {
    ngx_int_t            rc;
    ngx_str_t            text;
    ngx_ssl_t           *ssl;
    ngx_addr_t           addr;
    ngx_pool_cleanup_t  *cln;

    if (rcf->naddr.socklen && rcf->naddr.sockaddr->sa_family == AF_UNIX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_redis_tls\" needs a host, not "
                           "\"%V\"", &rcf->name);
        return NGX_CONF_ERROR;
    }

    if (rcf->tls_trusted.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_redis_tls\" needs "
                           "\"caresync_redis_tls_trusted_certificate\": the "
                           "server's certificate is always verified");
        return NGX_CONF_ERROR;
    }

    if ((rcf->tls_certificate.len == 0) != (rcf->tls_key.len == 0)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_redis_tls_certificate\" and "
                           "\"caresync_redis_tls_certificate_key\" go "
                           "together");
        return NGX_CONF_ERROR;
    }

    if (rcf->tls_name.len == 0) {
        rcf->tls_name = rcf->host;
    }

    /* SNI wants the name as a C string */
    text.data = ngx_pnalloc(cf->pool, rcf->tls_name.len + 1);
    if (text.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(text.data, rcf->tls_name.data, rcf->tls_name.len);
    text.data[rcf->tls_name.len] = '\0';
    rcf->tls_name.data = text.data;

    rcf->tls_ip = (ngx_parse_addr(cf->pool, &addr, rcf->tls_name.data,
                                  rcf->tls_name.len)
                   == NGX_OK);

    ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (ssl == NULL) {
        return NGX_CONF_ERROR;
    }

    ssl->log = cf->log;

    if (ngx_ssl_create(ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(ssl);
        return NGX_CONF_ERROR;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = ssl;

    /* the buffer may move between a write that would block and its retry */
    SSL_CTX_set_mode(ssl->ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

    if (ngx_ssl_trusted_certificate(cf, ssl, &rcf->tls_trusted, 4) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (rcf->tls_certificate.len) {
        /* the key read by caresync_redis_tls_certificate_key, as data */
        text.len = sizeof("data:") - 1 + rcf->tls_key.len;
        text.data = ngx_pnalloc(cf->pool, text.len);
        if (text.data == NULL) {
            return NGX_CONF_ERROR;
        }

        ngx_memcpy(ngx_cpymem(text.data, "data:", 5), rcf->tls_key.data,
                   rcf->tls_key.len);
        ngx_explicit_memzero(rcf->tls_key.data, rcf->tls_key.len);

        rc = ngx_ssl_certificate(cf, ssl, &rcf->tls_certificate, &text,
                                 NULL);

        ngx_explicit_memzero(text.data, text.len);

        if (rc != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    rcf->ssl = ssl;
    }

    return NGX_CONF_OK;

#else

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "\"caresync_redis_tls\" needs nginx built with SSL");
    return NGX_CONF_ERROR;

#endif
}


/*
 * caresync_redis_tls_certificate_key file;
 *
 * A secret file: read now, by the master, as every secret is (its mode
 * checked on the descriptor read), and kept until the SSL context has it.
 */

char *
ngx_http_caresync_redis_tls_key(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_caresync_main_conf_t  *cmcf = conf;

    ngx_str_t  *value, file;

    if (cmcf->redis.tls_key.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    file.len = sizeof("file:") - 1 + value[1].len;
    file.data = ngx_pnalloc(cf->pool, file.len);
    if (file.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memcpy(ngx_cpymem(file.data, "file:", 5), value[1].data,
               value[1].len);

    return ngx_http_caresync_conf_secret(cf, &file, 1, &cmcf->redis.tls_key);
}
