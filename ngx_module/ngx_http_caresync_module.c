/*
 * ngx_http_caresync_module: directives, configuration, process hooks.
 */


#include "ngx_http_caresync.h"


static void *ngx_http_caresync_create_main_conf(ngx_conf_t *cf);
static void *ngx_http_caresync_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_caresync_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_caresync_init_main_conf(ngx_conf_t *cf, void *conf);
static char *ngx_http_caresync_redis(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_caresync_redis_queue(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_caresync_conf_location(ngx_conf_t *cf,
    ngx_http_caresync_loc_conf_t *clcf, cs_endpoint_t endpoint,
    ngx_http_handler_pt handler);
static char *ngx_http_caresync_webhook(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_caresync_api(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_caresync_console(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_caresync_oauth_callback(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_caresync_conf_folder(ngx_conf_t *cf,
    const char *example);
static char *ngx_http_caresync_metrics(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_caresync_api_token(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static char *ngx_http_caresync_auth_header(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_caresync_hmac_signature(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_caresync_standard_webhooks(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_caresync_hint_search(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_caresync_check_console(ngx_conf_t *cf,
    ngx_http_caresync_loc_conf_t *conf);
static char *ngx_http_caresync_check_auth(ngx_conf_t *cf,
    ngx_http_caresync_loc_conf_t *conf);
static char *ngx_http_caresync_add_key(ngx_conf_t *cf, ngx_array_t **keys,
    ngx_str_t *text, ngx_uint_t param, ngx_uint_t whsec);
static char *ngx_http_caresync_conf_header(ngx_conf_t *cf, ngx_str_t *name,
    ngx_uint_t param);
static ngx_int_t ngx_http_caresync_postconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_caresync_init_process(ngx_cycle_t *cycle);
static void ngx_http_caresync_exit_process(ngx_cycle_t *cycle);


static ngx_conf_num_bounds_t  ngx_http_caresync_depth_bounds = {
    ngx_conf_check_num_bounds, 1, 1024
};

static ngx_conf_num_bounds_t  ngx_http_caresync_values_bounds = {
    ngx_conf_check_num_bounds, 1, 10000000
};


static ngx_command_t  ngx_http_caresync_commands[] = {

    { ngx_string("caresync_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_caresync_redis,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_redis_sentinel"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_caresync_sentinel_conf,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_redis_tls"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_caresync_main_conf_t, redis.tls),
      NULL },

    { ngx_string("caresync_redis_tls_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_caresync_main_conf_t, redis.tls_trusted),
      NULL },

    { ngx_string("caresync_redis_tls_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_caresync_main_conf_t, redis.tls_certificate),
      NULL },

    { ngx_string("caresync_redis_tls_certificate_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_caresync_redis_tls_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_redis_tls_name"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_caresync_main_conf_t, redis.tls_name),
      NULL },

    { ngx_string("caresync_redis_queue"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_caresync_redis_queue,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_job_key"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_caresync_job_key,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_webhook"),
      NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_http_caresync_webhook,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_api"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_caresync_api,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* the console: an api location that also serves its page */
    { ngx_string("caresync_console"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_caresync_console,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /* where HealthSherpa sends an agent back after the console's login */
    { ngx_string("caresync_oauth_callback"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_caresync_oauth_callback,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_metrics"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_caresync_metrics,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    /*
     * Location only: an "off" higher up would silently open every
     * location below it.
     */
    { ngx_string("caresync_auth"),
      NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_caresync_loc_conf_t, auth),
      NULL },

    { ngx_string("caresync_api_token"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE12,
      ngx_http_caresync_api_token,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_auth_header"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE23,
      ngx_http_caresync_auth_header,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_hmac_signature"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_caresync_hmac_signature,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_standard_webhooks"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_caresync_standard_webhooks,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_hint_search"),
      NGX_HTTP_LOC_CONF|NGX_CONF_1MORE,
      ngx_http_caresync_hint_search,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("caresync_prefix"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_caresync_loc_conf_t, prefix),
      NULL },

    { ngx_string("caresync_partner_source"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_caresync_loc_conf_t, partner_source),
      NULL },

    { ngx_string("caresync_dedupe_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_caresync_loc_conf_t, dedupe_ttl),
      NULL },

    { ngx_string("caresync_keep_raw"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_caresync_loc_conf_t, keep_raw),
      NULL },

    { ngx_string("caresync_max_raw"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_caresync_loc_conf_t, max_raw),
      NULL },

    { ngx_string("caresync_max_values"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_caresync_loc_conf_t, max_values),
      &ngx_http_caresync_values_bounds },

    { ngx_string("caresync_max_depth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_caresync_loc_conf_t, max_depth),
      &ngx_http_caresync_depth_bounds },

    { ngx_string("caresync_retry_after"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_caresync_loc_conf_t, retry_after),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_caresync_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_caresync_postconfiguration,   /* postconfiguration */

    ngx_http_caresync_create_main_conf,    /* create main configuration */
    ngx_http_caresync_init_main_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_caresync_create_loc_conf,     /* create location configuration */
    ngx_http_caresync_merge_loc_conf       /* merge location configuration */
};


ngx_module_t  ngx_http_caresync_module = {
    NGX_MODULE_V1,
    &ngx_http_caresync_module_ctx,         /* module context */
    ngx_http_caresync_commands,            /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_caresync_init_process,        /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_caresync_exit_process,        /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/* the argument of caresync_webhook is the endpoint's metrics label */
typedef struct {
    cs_endpoint_t                 endpoint;
    cs_webhook_t                  kind;
} ngx_http_caresync_webhook_t;


static ngx_http_caresync_webhook_t  ngx_http_caresync_webhooks[] = {
    { CS_ENDPOINT_HELPAROUND_ENROLLMENT, CS_WEBHOOK_HELPAROUND_ENROLLMENT },
    { CS_ENDPOINT_HELPAROUND_USER_ACTION, CS_WEBHOOK_HELPAROUND_USER_ACTION },
    { CS_ENDPOINT_HINT, CS_WEBHOOK_HINT },
    { CS_ENDPOINT_NONE, 0 }
};


static void *
ngx_http_caresync_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_caresync_main_conf_t  *cmcf;

    cmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_caresync_main_conf_t));
    if (cmcf == NULL) {
        return NULL;
    }

    cmcf->redis.queue_commands = NGX_CONF_UNSET_UINT;
    cmcf->redis.queue_bytes = NGX_CONF_UNSET_SIZE;
    cmcf->redis.tls = NGX_CONF_UNSET;

    return cmcf;
}


static char *
ngx_http_caresync_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_caresync_main_conf_t  *cmcf = conf;

    /*
     * A thousand jobs of a few kilobytes, or four of the largest bodies
     * nginx takes by default (1m, and their job): far more than a healthy
     * Redis ever has in flight from one worker, and a bound on what a
     * stopped one costs.
     */
    ngx_conf_init_uint_value(cmcf->redis.queue_commands, 1024);
    ngx_conf_init_size_value(cmcf->redis.queue_bytes, 4 * 1024 * 1024);
    ngx_conf_init_value(cmcf->redis.tls, 0);

    return NGX_CONF_OK;
}


static void *
ngx_http_caresync_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_caresync_loc_conf_t  *clcf;

    clcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_caresync_loc_conf_t));
    if (clcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     clcf->webhook = 0;
     *     clcf->prefix = { 0, NULL };
     *     clcf->partner_source = { 0, NULL };
     *     clcf->endpoint = 0;
     *     clcf->api = 0;
     *     clcf->auth_header = { 0, NULL };
     *     clcf->auth_secret = { 0, NULL };
     *     clcf->hmac_header = { 0, NULL };
     *     clcf->hmac_prefix = { 0, NULL };
     */

    clcf->auth = NGX_CONF_UNSET;
    clcf->dedupe_ttl = NGX_CONF_UNSET_MSEC;
    clcf->keep_raw = NGX_CONF_UNSET;
    clcf->max_raw = NGX_CONF_UNSET_SIZE;
    clcf->max_depth = NGX_CONF_UNSET;
    clcf->max_values = NGX_CONF_UNSET;
    clcf->retry_after = NGX_CONF_UNSET;
    clcf->api_tokens = NGX_CONF_UNSET_PTR;
    clcf->hmac_keys = NGX_CONF_UNSET_PTR;
    clcf->hmac_base64 = NGX_CONF_UNSET_UINT;
    clcf->sw_keys = NGX_CONF_UNSET_PTR;
    clcf->sw_tolerance = NGX_CONF_UNSET;

    return clcf;
}


static char *
ngx_http_caresync_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_caresync_loc_conf_t  *prev = parent;
    ngx_http_caresync_loc_conf_t  *conf = child;

    ngx_conf_merge_str_value(conf->prefix, prev->prefix, "{caresync}");
    ngx_conf_merge_str_value(conf->partner_source, prev->partner_source,
                             "Partner");
    ngx_conf_merge_msec_value(conf->dedupe_ttl, prev->dedupe_ttl,
                              24 * 60 * 60 * 1000);
    ngx_conf_merge_value(conf->keep_raw, prev->keep_raw, 1);
    ngx_conf_merge_size_value(conf->max_raw, prev->max_raw, 64 * 1024);
    ngx_conf_merge_value(conf->max_depth, prev->max_depth, 32);
    ngx_conf_merge_value(conf->max_values, prev->max_values, 10000);
    ngx_conf_merge_value(conf->retry_after, prev->retry_after, 5);

    if (conf->auth_header.data == NULL) {
        conf->auth_header = prev->auth_header;
        conf->auth_secret = prev->auth_secret;
        conf->auth_secret2 = prev->auth_secret2;
    }

    ngx_conf_merge_ptr_value(conf->api_tokens, prev->api_tokens, NULL);

    /* the directive is inherited whole, or not at all */

    if (conf->hmac_keys == NGX_CONF_UNSET_PTR) {
        conf->hmac_keys = prev->hmac_keys;
        conf->hmac_header = prev->hmac_header;
        conf->hmac_prefix = prev->hmac_prefix;
        conf->hmac_base64 = prev->hmac_base64;
    }

    ngx_conf_merge_ptr_value(conf->hmac_keys, NULL, NULL);

    if (conf->hmac_header.data == NULL) {
        ngx_str_set(&conf->hmac_header, "X-Hint-Signature");
    }

    if (conf->hmac_prefix.data == NULL) {
        ngx_str_set(&conf->hmac_prefix, "sha256=");
    }

    if (conf->hmac_base64 == NGX_CONF_UNSET_UINT) {
        conf->hmac_base64 = 0;
    }

    ngx_conf_merge_ptr_value(conf->sw_keys, prev->sw_keys, NULL);
    ngx_conf_merge_value(conf->sw_tolerance, prev->sw_tolerance, 300);

    if (ngx_http_caresync_check_auth(cf, conf) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    if (conf->max_raw == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_max_raw\" must be more than 0; "
                           "\"caresync_keep_raw off\" keeps no copy");
        return NGX_CONF_ERROR;
    }

    if (conf->dedupe_ttl == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_dedupe_ttl\" must be more than 0");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * Fail closed (spec/inbound.md, "Auth"): a location that queues jobs
 * names who may post to it.  Not inherited: each location that says
 * "caresync_auth off" is warned about at every start and reload.
 */

static char *
ngx_http_caresync_check_auth(ngx_conf_t *cf,
    ngx_http_caresync_loc_conf_t *conf)
{
    ngx_uint_t                 open;
    ngx_http_core_loc_conf_t  *core;

    if (conf->endpoint == 0) {
        if (conf->auth != NGX_CONF_UNSET) {
            core = ngx_http_conf_get_module_loc_conf(cf,
                                                     ngx_http_core_module);
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "\"caresync_auth\" in location \"%V\" "
                               "that has no \"caresync_webhook\" or "
                               "\"caresync_api\"", &core->name);
            return NGX_CONF_ERROR;
        }

        return NGX_CONF_OK;
    }

    /* the login's state is its credential (oauth.c) */
    if (conf->oauth_callback) {
        return NGX_CONF_OK;
    }

    /* who may post: bearer tokens for the API, a sender check otherwise */

    if (conf->api) {
        open = (conf->api_tokens == NULL);

    } else {
        open = !(conf->auth_header.len || conf->hmac_keys || conf->sw_keys);
    }

    if (!open && conf->console) {
        return ngx_http_caresync_check_console(cf, conf);
    }

    if (!open) {
        return NGX_CONF_OK;
    }

    core = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (conf->console) {
        /* operators' actions and every job's status: never open */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "location \"%V\": \"caresync_console\" needs "
                           "at least one \"caresync_api_token\"; "
                           "\"caresync_auth off\" is not accepted there",
                           &core->name);
        return NGX_CONF_ERROR;
    }

    if (conf->auth == 0) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "\"caresync_auth off\": location \"%V\" "
                           "accepts requests from anyone who can reach it",
                           &core->name);
        return NGX_CONF_OK;
    }

    if (conf->api) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "location \"%V\": \"caresync_api\" needs "
                           "at least one \"caresync_api_token\" "
                           "(or \"caresync_auth off;\")", &core->name);
        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "location \"%V\": \"caresync_webhook\" has no "
                       "authenticator: add \"caresync_hmac_signature\", "
                       "\"caresync_standard_webhooks\" or "
                       "\"caresync_auth_header\" (or "
                       "\"caresync_auth off;\")", &core->name);
    return NGX_CONF_ERROR;
}


/*
 * The console shows every job, batch and dead letter: a token bound to
 * some agents (agents=) would see more there than its scope.
 */

static char *
ngx_http_caresync_check_console(ngx_conf_t *cf,
    ngx_http_caresync_loc_conf_t *conf)
{
    ngx_uint_t                  i;
    ngx_http_caresync_token_t  *token;
    ngx_http_core_loc_conf_t   *core;

    token = conf->api_tokens->elts;

    for (i = 0; i < conf->api_tokens->nelts; i++) {
        if (token[i].agents) {
            core = ngx_http_conf_get_module_loc_conf(cf,
                                                     ngx_http_core_module);
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "location \"%V\": \"caresync_console\" "
                               "shows every agent's jobs: its "
                               "\"caresync_api_token\"s may not be bound "
                               "to agents (agents=)", &core->name);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/*
 * caresync_redis host:port | unix:/path [password=…] [db=N]
 *                [connect_timeout=time] [timeout=time];
 */

static char *
ngx_http_caresync_redis(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_caresync_main_conf_t  *cmcf = conf;

    ngx_str_t                       *value, s;
    ngx_url_t                        u;
    ngx_uint_t                       i;
    ngx_http_caresync_redis_conf_t  *rcf;

    rcf = &cmcf->redis;

    if (rcf->configured) {
        return "is duplicate";
    }

    value = cf->args->elts;

    rcf->configured = 1;
    rcf->connect_timeout = 1000;
    rcf->timeout = 1000;

    if (value[1].len == 8 && ngx_strncmp(value[1].data, "sentinel", 8) == 0)
    {
        /* the address is asked of caresync_redis_sentinel */
        rcf->name = value[1];
        rcf->by_sentinel = 1;
        goto parameters;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url = value[1];
    u.default_port = 6379;
    u.no_resolve = 1;

    /* a host name is resolved by nginx's resolver on every connect */

    if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
        if (u.err) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in caresync_redis \"%V\"", u.err, &u.url);
        }

        return NGX_CONF_ERROR;
    }

    rcf->name = value[1];
    rcf->host = u.host;
    rcf->port = u.port;

    if (u.naddrs) {
        rcf->naddr = u.addrs[0];    /* unix:, or an IPv6 address */

    } else if (ngx_parse_addr(cf->pool, &rcf->naddr, u.host.data,
                              u.host.len)
               == NGX_OK)
    {
        ngx_inet_set_port(rcf->naddr.sockaddr, (in_port_t) u.port);

    } else {
        rcf->naddr.socklen = 0;     /* a name: see redis.c */
    }

parameters:

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "password=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            /* inline or file:/path, read as every secret is */
            if (ngx_http_caresync_conf_secret(cf, &s, i, &rcf->password)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "db=", 3) == 0) {
            rcf->db = ngx_atoi(value[i].data + 3, value[i].len - 3);
            if (rcf->db == NGX_ERROR) {
                goto invalid;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "connect_timeout=", 16) == 0) {
            s.data = value[i].data + 16;
            s.len = value[i].len - 16;

            rcf->connect_timeout = ngx_parse_time(&s, 0);
            if (rcf->connect_timeout == (ngx_msec_t) NGX_ERROR
                || rcf->connect_timeout == 0)
            {
                goto invalid;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            rcf->timeout = ngx_parse_time(&s, 0);
            if (rcf->timeout == (ngx_msec_t) NGX_ERROR || rcf->timeout == 0) {
                goto invalid;
            }
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    /* never echo the parameter itself: it may be the password */
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter #%ui of caresync_redis", i);

    return NGX_CONF_ERROR;
}


/* caresync_redis_queue [commands=number] [bytes=size]; */

static char *
ngx_http_caresync_redis_queue(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_caresync_main_conf_t  *cmcf = conf;

    ssize_t      size;
    ngx_int_t    n;
    ngx_str_t   *value, s;
    ngx_uint_t   i;

    if (cmcf->redis.queue_commands != NGX_CONF_UNSET_UINT
        || cmcf->redis.queue_bytes != NGX_CONF_UNSET_SIZE)
    {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "commands=", 9) == 0) {
            n = ngx_atoi(value[i].data + 9, value[i].len - 9);
            if (n == NGX_ERROR || n == 0) {
                goto invalid;
            }

            cmcf->redis.queue_commands = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "bytes=", 6) == 0) {
            s.data = value[i].data + 6;
            s.len = value[i].len - 6;

            size = ngx_parse_size(&s);
            if (size == NGX_ERROR || size == 0) {
                goto invalid;
            }

            cmcf->redis.queue_bytes = size;
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_caresync_webhook(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_caresync_loc_conf_t  *clcf = conf;

    ngx_str_t      *value;
    ngx_uint_t      i;
    cs_endpoint_t   endpoint;

    value = cf->args->elts;

    for (i = 0; ngx_http_caresync_webhooks[i].endpoint; i++) {
        if (ngx_strcmp(
                cs_endpoint_names[ngx_http_caresync_webhooks[i].endpoint],
                value[1].data) == 0)
        {
            break;
        }
    }

    if (ngx_http_caresync_webhooks[i].endpoint == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "unknown webhook \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (clcf->endpoint == 0) {
        clcf->webhook = ngx_http_caresync_webhooks[i].kind;
    }

    endpoint = ngx_http_caresync_webhooks[i].endpoint;

    return ngx_http_caresync_conf_location(cf, clcf, endpoint,
                                           ngx_http_caresync_handler);
}


/*
 * What every directive that makes a location ours does once: one endpoint
 * per location, its content handler, and the module marked used (the
 * configuration checks that follow look only where it is).
 */

static char *
ngx_http_caresync_conf_location(ngx_conf_t *cf,
    ngx_http_caresync_loc_conf_t *clcf, cs_endpoint_t endpoint,
    ngx_http_handler_pt handler)
{
    ngx_http_core_loc_conf_t       *core;
    ngx_http_caresync_main_conf_t  *cmcf;

    if (clcf->endpoint) {
        return "is duplicate";
    }

    clcf->endpoint = endpoint;

    core = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    core->handler = handler;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_caresync_module);
    cmcf->used = 1;

    return NGX_CONF_OK;
}


static char *
ngx_http_caresync_api(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_caresync_loc_conf_t  *clcf = conf;

    clcf->api = 1;

    return ngx_http_caresync_conf_location(cf, clcf, CS_ENDPOINT_API,
                                           ngx_http_caresync_api_handler);
}


/*
 * The console's and the callback's locations serve pages whose relative
 * URLs (their script, their calls) resolve under them: a prefix location
 * whose name ends with "/".
 */

static char *
ngx_http_caresync_conf_folder(ngx_conf_t *cf, const char *example)
{
    ngx_str_t                 *value;
    ngx_http_core_loc_conf_t  *core;

    core = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    value = cf->args->elts;

    if (core->name.len == 0 || core->name.data[core->name.len - 1] != '/'
#if (NGX_PCRE)
        || core->regex
#endif
        || core->exact_match || core->named)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" needs a prefix location whose name ends "
                           "with \"/\", such as \"location %s\"",
                           &value[0], example);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/*
 * caresync_console;  a prefix location whose name ends with "/": the
 * page's relative URLs (console.js, api/…) resolve under it.
 */

static char *
ngx_http_caresync_console(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_caresync_loc_conf_t  *clcf = conf;

    if (ngx_http_caresync_conf_folder(cf, "/console/") != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    /* the page's calls are the actions API's, under the same tokens */
    clcf->api = 1;
    clcf->console = 1;

    return ngx_http_caresync_conf_location(cf, clcf, CS_ENDPOINT_API,
                                           ngx_http_caresync_console_handler);
}


/*
 * caresync_oauth_callback;  a prefix location ending with "/", the
 * worker's healthsherpa.redirect_uri (its page loads oauth.js beside it).
 */

static char *
ngx_http_caresync_oauth_callback(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_caresync_loc_conf_t  *clcf = conf;

    if (ngx_http_caresync_conf_folder(cf, "/oauth/healthsherpa/")
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    clcf->oauth_callback = 1;

    return ngx_http_caresync_conf_location(cf, clcf, CS_ENDPOINT_API,
                                           ngx_http_caresync_oauth_handler);
}


static char *
ngx_http_caresync_metrics(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t       *core;
    ngx_http_caresync_main_conf_t  *cmcf;

    core = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    core->handler = ngx_http_caresync_metrics_handler;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_caresync_module);
    cmcf->metrics = 1;

    return NGX_CONF_OK;
}


/*
 * caresync_api_token token | file:/path [agents=list | agents=file:/path];
 * one per directive, several ok
 */

static char *
ngx_http_caresync_api_token(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_caresync_loc_conf_t  *clcf = conf;

    ngx_str_t                  *value, s;
    ngx_uint_t                  i;
    ngx_http_caresync_token_t  *token, *t;

    if (clcf->api_tokens == NGX_CONF_UNSET_PTR) {
        clcf->api_tokens = ngx_array_create(cf->pool, 2,
                                        sizeof(ngx_http_caresync_token_t));
        if (clcf->api_tokens == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    token = ngx_array_push(clcf->api_tokens);
    if (token == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(token, sizeof(ngx_http_caresync_token_t));

    value = cf->args->elts;

    if (ngx_http_caresync_conf_secret(cf, &value[1], 1, &token->secret)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* auth.c picks the token that matched without a branch: one each */

    t = clcf->api_tokens->elts;

    for (i = 0; i < clcf->api_tokens->nelts - 1; i++) {
        if (t[i].secret.len == token->secret.len
            && ngx_memcmp(t[i].secret.data, token->secret.data,
                          token->secret.len) == 0)
        {
            return "is duplicate: the same token is given twice";
        }
    }

    if (cf->args->nelts == 2) {
        return NGX_CONF_OK;
    }

    if (ngx_strncmp(value[2].data, "agents=", 7) != 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter #2");
        return NGX_CONF_ERROR;
    }

    s.data = value[2].data + 7;
    s.len = value[2].len - 7;

    return ngx_http_caresync_conf_agents(cf, &s, 2, &token->agents);
}


/*
 * caresync_auth_header name secret [next-secret];
 * each secret inline or file:/path; two are accepted while rotating.
 */

static char *
ngx_http_caresync_auth_header(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_caresync_loc_conf_t  *clcf = conf;

    ngx_str_t  *value;

    if (clcf->auth_header.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    /* an empty name would turn the check off */

    if (ngx_http_caresync_conf_header(cf, &value[1], 1) != NGX_CONF_OK) {
        return NGX_CONF_ERROR;
    }

    clcf->auth_header = value[1];

    if (ngx_http_caresync_conf_secret(cf, &value[2], 2, &clcf->auth_secret)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (cf->args->nelts == 4) {
        return ngx_http_caresync_conf_secret(cf, &value[3], 3,
                                             &clcf->auth_secret2);
    }

    return NGX_CONF_OK;
}


/*
 * caresync_hmac_signature key=K [key=K2] [header=name] [prefix=p]
 *                         [encoding=hex|base64];
 */

static char *
ngx_http_caresync_hmac_signature(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_caresync_loc_conf_t  *clcf = conf;

    ngx_str_t   *value, s;
    ngx_uint_t   i;

    if (clcf->hmac_keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    clcf->hmac_keys = NULL;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "key=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            if (ngx_http_caresync_add_key(cf, &clcf->hmac_keys, &s, i, 0)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }
            continue;
        }

        if (ngx_strncmp(value[i].data, "header=", 7) == 0) {
            clcf->hmac_header.data = value[i].data + 7;
            clcf->hmac_header.len = value[i].len - 7;

            if (ngx_http_caresync_conf_header(cf, &clcf->hmac_header, i)
                != NGX_CONF_OK)
            {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "prefix=", 7) == 0) {
            clcf->hmac_prefix.data = value[i].data + 7;
            clcf->hmac_prefix.len = value[i].len - 7;
            continue;
        }

        if (ngx_strcmp(value[i].data, "encoding=hex") == 0) {
            clcf->hmac_base64 = 0;
            continue;
        }

        if (ngx_strcmp(value[i].data, "encoding=base64") == 0) {
            clcf->hmac_base64 = 1;
            continue;
        }

        /* never echo the parameter itself: it may be a key */
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter #%ui", i);
        return NGX_CONF_ERROR;
    }

    if (clcf->hmac_keys == NULL) {
        return "needs at least one key=";
    }

    return NGX_CONF_OK;
}


/* caresync_standard_webhooks secret [secret2 …] [tolerance=time]; */

static char *
ngx_http_caresync_standard_webhooks(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_caresync_loc_conf_t  *clcf = conf;

    ngx_str_t   *value, s;
    ngx_uint_t   i;

    if (clcf->sw_keys != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    clcf->sw_keys = NULL;
    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "tolerance=", 10) == 0) {
            s.data = value[i].data + 10;
            s.len = value[i].len - 10;

            clcf->sw_tolerance = ngx_parse_time(&s, 1);
            if (clcf->sw_tolerance == (time_t) NGX_ERROR
                || clcf->sw_tolerance == 0)
            {
                return "has an invalid tolerance";
            }
            continue;
        }

        if (ngx_http_caresync_add_key(cf, &clcf->sw_keys, &value[i], i, 1)
            != NGX_CONF_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (clcf->sw_keys == NULL) {
        return "needs at least one secret";
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_caresync_add_key(ngx_conf_t *cf, ngx_array_t **keys, ngx_str_t *text,
    ngx_uint_t param, ngx_uint_t whsec)
{
    ngx_str_t      secret;
    cs_sig_key_t  *key;

    if (*keys == NULL) {
        *keys = ngx_array_create(cf->pool, 2, sizeof(cs_sig_key_t));
        if (*keys == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    key = ngx_array_push(*keys);
    if (key == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_caresync_conf_secret(cf, text, param, &secret)
        != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    return ngx_http_caresync_conf_key(cf, &secret, param, key, whsec);
}


/* A request header's name: an HTTP token (RFC 9110), never empty. */

static char *
ngx_http_caresync_conf_header(ngx_conf_t *cf, ngx_str_t *name,
    ngx_uint_t param)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < name->len; i++) {
        c = name->data[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9')
            || ngx_strlchr((u_char *) "!#$%&'*+-.^_`|~",
                           (u_char *) "!#$%&'*+-.^_`|~" + 15, c))
        {
            continue;
        }

        break;
    }

    if (name->len == 0 || i < name->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" parameter #%ui is not a header name",
                           &((ngx_str_t *) cf->args->elts)[0], param);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* caresync_hint_search /internal-location [param=last_name] [limit=20]; */

static char *
ngx_http_caresync_hint_search(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_caresync_loc_conf_t  *clcf = conf;

    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t   i;

    if (clcf->hint_search.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].data[0] != '/') {
        return "needs a location URI starting with \"/\"";
    }

    clcf->hint_search = value[1];
    ngx_str_set(&clcf->hint_search_param, "last_name");
    clcf->hint_search_limit = 20;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "param=", 6) == 0
            && value[i].len > 6)
        {
            clcf->hint_search_param.data = value[i].data + 6;
            clcf->hint_search_param.len = value[i].len - 6;
            continue;
        }

        if (ngx_strncmp(value[i].data, "limit=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);
            if (n < 1 || n > 100) {
                return "has an invalid limit (1..100)";
            }

            clcf->hint_search_limit = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_caresync_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_caresync_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_caresync_module);

    if (cmcf->used && !cmcf->redis.configured) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"caresync_webhook\" and \"caresync_api\" need "
                           "\"caresync_redis\" in the http block");
        return NGX_ERROR;
    }

    if (cmcf->redis.configured
        && ngx_http_caresync_redis_conf(cf, &cmcf->redis) != NGX_CONF_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_caresync_check_job_key(cf, cmcf) != NGX_CONF_OK) {
        return NGX_ERROR;
    }

    if ((cmcf->used || cmcf->metrics)
        && ngx_http_caresync_metrics_init_conf(cf) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_caresync_error_filter_init(cf);
}


static ngx_int_t
ngx_http_caresync_init_process(ngx_cycle_t *cycle)
{
    ngx_http_caresync_main_conf_t  *cmcf;

    cmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_caresync_module);

    if (cmcf == NULL || !cmcf->used) {
        return NGX_OK;
    }

    if (ngx_http_caresync_enqueue_init(cycle) != NGX_OK
        || ngx_http_caresync_console_init(cycle) != NGX_OK
        || ngx_http_caresync_oauth_init(cycle) != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_caresync_command_init(cycle, &cmcf->redis);

    return ngx_http_caresync_redis_init(cycle, &cmcf->redis);
}


static void
ngx_http_caresync_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_caresync_redis_exit();
}
