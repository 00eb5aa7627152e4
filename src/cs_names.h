/*
 * caresync core: the fixed labels the core and the nginx module share.
 *
 * Metrics count refusals by reason and requests by endpoint
 * (spec/inbound.md, "rejects by reason"); a label is never taken from a
 * request, so every value is listed here, once.  The core's reasons are
 * what cs_ingest() returns in `reason` (cs_field.h, cs_ingest.c); the
 * others are the module's own refusals.  A label not listed counts as
 * "other", so a reason the core returns must be added here.
 */

#ifndef CS_NAMES_H
#define CS_NAMES_H

typedef enum {
    /* the core's: the body as a whole (cs_ingest.c) */
    CS_REASON_BAD_JSON = 0,
    CS_REASON_BAD_UTF8,
    CS_REASON_NUL,
    CS_REASON_DUPLICATE_KEY,
    CS_REASON_TOO_DEEP,
    CS_REASON_TOO_MANY_VALUES,
    CS_REASON_NOT_OBJECT,

    /* the core's: one field (cs_field.h), or an action unknown to it */
    CS_REASON_MISSING_FIELD,
    CS_REASON_WRONG_TYPE,
    CS_REASON_BAD_VALUE,
    CS_REASON_TOO_LONG,
    CS_REASON_TOO_MANY,
    CS_REASON_BAD_KIND,

    /* the module's */
    CS_REASON_METHOD,
    CS_REASON_CONTENT_TYPE,
    CS_REASON_BODY_TOO_LARGE,
    CS_REASON_AUTH,
    CS_REASON_SIGNATURE,
    CS_REASON_STALE_SIGNATURE,
    CS_REASON_AGENT,
    CS_REASON_IDEMPOTENCY_KEY,
    CS_REASON_NOT_FOUND,
    CS_REASON_REDIS_QUEUE_FULL,

    CS_REASON_OTHER,                  /* anything not listed above */
    CS_REASON_N                       /* the count, not a reason */
} cs_reason_t;

/* What a location serves: the metrics' endpoint label. */
typedef enum {
    CS_ENDPOINT_NONE = 0,             /* not a caresync location */
    CS_ENDPOINT_HELPAROUND_ENROLLMENT,
    CS_ENDPOINT_HELPAROUND_USER_ACTION,
    CS_ENDPOINT_HINT,
    CS_ENDPOINT_API,
    CS_ENDPOINT_N                     /* the count, not an endpoint */
} cs_endpoint_t;

/*
 * Labels by value, CS_REASON_N and CS_ENDPOINT_N of them (cs_names.c
 * fails to build otherwise); cs_reason_names[CS_REASON_OTHER] is "other".
 */
extern const char *const  cs_reason_names[];
extern const char *const  cs_endpoint_names[];

/* The reason of a label, CS_REASON_OTHER for NULL or one not listed. */
cs_reason_t cs_reason_find(const char *label);

#endif /* CS_NAMES_H */
