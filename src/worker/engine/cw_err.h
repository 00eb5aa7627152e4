/*
 * caresync-worker: the one error type.
 *
 * What went wrong is a code (cw_err_e), and the code is what decides:
 * whether to wait for Redis, whether a media fetch was cut by shutdown.
 * The message is for a person only (the status record's last_error and
 * message, the log): no code ever looks into it.  The class says what the
 * job does next: retry with backoff, or stop until a person fixes
 * something.  A vendor's own code (Salesforce errorCode, OAuth `error`,
 * HealthSherpa's) is kept beside it for the log, not for decisions.
 *
 * cw_err_set() initialises every member: nothing is left from before.
 */
#ifndef CW_ERR_H
#define CW_ERR_H

typedef enum {
    CW_ERR_NONE = 0,
    CW_ERR_TRANSIENT,               /* retry with backoff */
    CW_ERR_PERMANENT                /* a person must fix something */
} cw_err_class_e;

/* code, its name in the log */
#define CW_ERR_CODES(X)                                                      \
    X(CW_E_NONE, "none")                                                     \
    /* the job */                                                            \
    X(CW_E_BAD_ENVELOPE, "bad_envelope")                                     \
    X(CW_E_SEALED, "sealed")                 /* cannot be opened */          \
    X(CW_E_UNKNOWN_TYPE, "unknown_type")                                     \
    X(CW_E_TOO_MANY_ATTEMPTS, "too_many_attempts")                           \
    X(CW_E_BAD_JOB, "bad_job")                                               \
    X(CW_E_NOT_CONFIGURED, "not_configured")                                 \
    X(CW_E_CONFIG, "bad_config")                                             \
    X(CW_E_AMBIGUOUS, "ambiguous")                                           \
    X(CW_E_NOT_FOUND, "not_found")                                           \
    /* Redis */                                                              \
    X(CW_E_REDIS_CONNECT, "redis_connect")   /* unreachable: wait */         \
    X(CW_E_REDIS_REFUSED, "redis_refused")   /* AUTH, SELECT, a command */   \
    X(CW_E_REDIS, "redis")                   /* a reply missing */           \
    /* the HTTP layer */                                                     \
    X(CW_E_BAD_ID, "bad_id")                                                 \
    X(CW_E_OUT_OF_MEMORY, "out_of_memory")                                   \
    X(CW_E_TLS_VERIFY, "tls_verify")                                         \
    X(CW_E_BAD_URL, "bad_url")                                               \
    X(CW_E_TIMEOUT, "timeout")                                               \
    X(CW_E_BODY_TOO_LARGE, "body_too_large")                                 \
    X(CW_E_CONNECTION, "connection")                                         \
    X(CW_E_BAD_JSON, "bad_json")                                             \
    X(CW_E_HTTP_STATUS, "http_status")                                       \
    X(CW_E_SHUTDOWN, "shutdown")                                             \
    /* answers */                                                            \
    X(CW_E_BAD_RESPONSE, "bad_response")                                     \
    X(CW_E_REJECTED, "rejected")             /* the vendor's code beside */  \
    X(CW_E_THROTTLED, "throttled")                                           \
    X(CW_E_UNAUTHORIZED, "unauthorized")                                     \
    X(CW_E_TOO_MANY_RECORDS, "too_many_records")                             \
    X(CW_E_BAD_NEXT_URL, "bad_next_url")                                     \
    X(CW_E_MULTIPLE_CHOICES, "MULTIPLE_CHOICES")                             \
    X(CW_E_BAD_FIELD, "bad_field")                                           \
    X(CW_E_HINT_REJECTED, "hint_rejected")                                   \
    X(CW_E_MEDIA_AUTH, "media_auth")                                         \
    X(CW_E_MEDIA_EMPTY, "media_empty")                                       \
    /* tokens */                                                             \
    X(CW_E_OAUTH, "oauth")                                                   \
    X(CW_E_OAUTH_STATE, "oauth_state")                                       \
    X(CW_E_BAD_INSTANCE_URL, "bad_instance_url")                             \
    X(CW_E_BAD_TOKEN_RESPONSE, "bad_token_response")                         \
    X(CW_E_JWT_SIGN, "jwt_sign")                                             \
    /* HealthSherpa (sync-rules §B) */                                       \
    X(CW_E_HS_NO_TOKEN, "hs_no_token")                                       \
    X(CW_E_HS_AUTH, "hs_auth")                                               \
    X(CW_E_HS_INVALID_PARAMS, "hs_invalid_params")                           \
    X(CW_E_HS_NO_AGENT, "hs_agent_not_found")                                \
    X(CW_E_HS_UNKNOWN_AGENT, "hs_unknown_agent")                             \
    X(CW_E_HS_NO_AGENT_SET, "no_agent")

#define CW_ERR_ENUM(c, name)  c,
typedef enum { CW_ERR_CODES(CW_ERR_ENUM) CW_E_MAX } cw_err_e;
#undef CW_ERR_ENUM

typedef struct {
    cw_err_class_e  cls;
    cw_err_e        code;
    long            http_status;    /* 0 when no response */
    long            retry_after_ms; /* -1 when the server said nothing */
    char            vendor[64];     /* the vendor's own code, or "" */
    char            message[320];   /* actionable; ids only, no PHI */
} cw_err_t;

/* Every member: class, code, the message; no status, no Retry-After. */
void cw_err_set(cw_err_t *e, cw_err_class_e cls, cw_err_e code,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The vendor's code beside ours (NULL or "" clears it). */
void cw_err_vendor(cw_err_t *e, const char *vendor);
/* No error. */
void cw_err_clear(cw_err_t *e);
/* For the log's code=: the vendor's code when there is one, else ours. */
const char *cw_err_name(const cw_err_t *e);

#endif /* CW_ERR_H */
