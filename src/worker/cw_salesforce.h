/*
 * caresync-worker: the Salesforce REST client, behind cw_crm_t.
 *
 * OAuth 2.0 (client_credentials, refresh_token, or the JWT bearer flow
 * signed RS256 with OpenSSL); every later call goes to the token's
 * instance_url, which must be https on a host of
 * salesforce.instance_domains (else the token is not used), and a query
 * follows nextRecordsUrl only when it is a /services/data/ path on that
 * instance: the token never goes where an answer says.  Errors come as a
 * JSON array of {message, errorCode, fields}; 401 INVALID_SESSION_ID
 * refreshes the token once (cw_http), and 403 REQUEST_LIMIT_EXCEEDED is
 * throttling, hence transient.
 */
#ifndef CW_SALESFORCE_H
#define CW_SALESFORCE_H

#include "cw_config.h"
#include "cw_crm.h"
#include "cw_http.h"

/* NULL with the reason in err (e.g. an unreadable private key) */
cw_crm_t *cw_salesforce_create(cw_http_t *http, const cw_conf_t *conf,
    char *err, size_t errlen);

/* Salesforce string literal escaping for SOQL (exposed for tests). */
void cw_soql_escape(cs_buf_t *b, const char *s);
/* A field API name: letters, digits, underscores, not starting with _. */
int cw_soql_field_ok(const char *s);

/*
 * 1 when `url` is an instance_url the token may go to: "https://host",
 * optionally ":port" and "/", where host is one of `domains` or under one
 * (a list separated by commas or spaces: "salesforce.com, force.com"; an
 * entry written "http://host" lets that one take plain http too, for
 * local stand-ins).  No user info, path, query or fragment.
 */
int cw_sf_instance_ok(const char *url, const char *domains);
/* 1 when `path` is a relative /services/data/ path: no scheme, no //, no .. */
int cw_sf_next_ok(const char *path);

#endif /* CW_SALESFORCE_H */
