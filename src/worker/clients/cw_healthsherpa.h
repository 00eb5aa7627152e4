/*
 * caresync-worker: the HealthSherpa Medicare partner API client
 * (spec/external-apis.md "HealthSherpa").
 *
 * Two versions, chosen by healthsherpa.version:
 *
 *   1  X-API-Key on every request, and the agent's email in the body
 *      (`agent_email`, which must match their HealthSherpa account).
 *   2  OAuth 2.0 authorization code, scope partner_api_v2, one token pair
 *      per agent.  Pairs live in Redis, {prefix}:hs:token:<agent>,
 *      encrypted with AES-256-GCM under healthsherpa.token_key (the agent
 *      is the additional data, so a pair cannot be moved to another
 *      agent).  Each agent has its own cw_auth_t in the shared HTTP
 *      layer, so requests wait for one refresh together, a token is
 *      refreshed a minute before it expires, and a 401 refreshes it once.
 *      Tokens are never logged.
 *
 * Search: the documented answers are folded into one result: a match, a
 * miss (200 with contact null, 404, 422 resource_not_found / not_found
 * are all "no match"), or an error whose class says whether to retry
 * (429 / 5xx transient with Retry-After; 401/403, 422 invalid params and
 * "agent not found" permanent, each with its own code).
 */
#ifndef CW_HEALTHSHERPA_H
#define CW_HEALTHSHERPA_H

#include <jansson.h>

#include "engine/cw_config.h"
#include "engine/cw_http.h"
#include "engine/cw_redis.h"

/* the permanent errors' codes: CW_E_HS_* in engine/cw_err.h */

typedef struct cw_hs_s  cw_hs_t;

typedef struct {
    cw_err_t     err;           /* cls NONE: a match or a miss */
    json_t      *contact;       /* the match (borrowed), NULL: no match */
} cw_hs_res_t;

typedef void (*cw_hs_done_pt)(void *data, cw_hs_res_t *res);

/* NULL with the reason in err (e.g. a bad token_key) */
cw_hs_t *cw_hs_create(cw_http_t *http, cw_redis_t *redis,
    const cw_conf_t *conf, char *err, size_t errlen);
void cw_hs_destroy(cw_hs_t *hs);

/*
 * Whether the worker knows the agent: healthsherpa.agent_email, one of
 * healthsherpa.agents (as written), or, with version 2, one whose token
 * pair is stored (an operator logged them in).  Nothing is kept for an
 * agent the worker does not know: no token cache entry, no login state,
 * no key.  1 known, 0 not (`err` says so, permanent), -1 Redis cannot say
 * (`err` transient).
 */
int cw_hs_agent_known(cw_hs_t *hs, const char *agent, cw_err_t *err);

/*
 * `params` is the search's params object (not taken).  An agent the
 * worker does not know ends the search with CW_E_HS_UNKNOWN_AGENT, nothing
 * sent.
 */
void cw_hs_search(cw_hs_t *hs, const char *agent, json_t *params,
    cw_hs_done_pt done, void *data);

/*
 * v2 login.  The URL carries a random `state` (128 bits from the CSPRNG)
 * that is stored for ten minutes bound to the agent
 * ({prefix}:hs:state:<state> = the agent).  0, or -1 with the reason.
 */
int cw_hs_login_url(cw_hs_t *hs, const char *agent, char *out, size_t n,
    char *err, size_t errlen);
/*
 * Trades an authorization code for the agent's tokens and stores them,
 * once the `state` that came back with the code is checked: issued by
 * cw_hs_login_url() for this agent, less than ten minutes ago, and not
 * used before (it is deleted as it is read).  Otherwise nothing is sent
 * and `done` gets a permanent "oauth_state" error saying which.
 */
void cw_hs_exchange(cw_hs_t *hs, const char *agent, const char *state,
    const char *code, cw_hs_done_pt done, void *data);
/*
 * The agent a login's `state` was issued for, read without taking it (a
 * callback's code names no agent; cw_hs_exchange() then takes the state):
 * 1 (the agent in `out`), 0 not one that is waiting (not 32 hex digits,
 * unknown, expired, used), -1 Redis did not answer.
 */
int cw_hs_state_agent(cw_hs_t *hs, const char *state, char *out, size_t n);

/* Token sealing, exposed for the unit tests: 0 ok, -1 bad key or data. */
int cw_hs_seal(const unsigned char key[32], const char *agent,
    const char *plain, size_t len, cs_buf_t *out);
int cw_hs_open(const unsigned char key[32], const char *agent,
    const char *sealed, size_t len, cs_buf_t *out);
/* 64 hex digits or base64 of 32 bytes */
int cw_hs_parse_key(const char *s, unsigned char key[32]);

#endif /* CW_HEALTHSHERPA_H */
