/*
 * caresync core: the fixed labels (see cs_names.h).
 */

#include <string.h>

#include "cs_names.h"

/* a label for every value, or the build fails */
#define CS_NAMES_CHECK(a, n)                                                  \
    _Static_assert(sizeof(a) / sizeof(a[0]) == (n), #a " has a gap")

const char *const  cs_reason_names[] = {
    [CS_REASON_BAD_JSON] = "bad_json",
    [CS_REASON_BAD_UTF8] = "bad_utf8",
    [CS_REASON_NUL] = "nul",
    [CS_REASON_DUPLICATE_KEY] = "duplicate_key",
    [CS_REASON_TOO_DEEP] = "too_deep",
    [CS_REASON_TOO_MANY_VALUES] = "too_many_values",
    [CS_REASON_NOT_OBJECT] = "not_object",
    [CS_REASON_MISSING_FIELD] = "missing_field",
    [CS_REASON_WRONG_TYPE] = "wrong_type",
    [CS_REASON_BAD_VALUE] = "bad_value",
    [CS_REASON_TOO_LONG] = "too_long",
    [CS_REASON_TOO_MANY] = "too_many",
    [CS_REASON_BAD_KIND] = "bad_kind",
    [CS_REASON_METHOD] = "method",
    [CS_REASON_CONTENT_TYPE] = "content_type",
    [CS_REASON_BODY_TOO_LARGE] = "body_too_large",
    [CS_REASON_AUTH] = "auth",
    [CS_REASON_SIGNATURE] = "signature",
    [CS_REASON_STALE_SIGNATURE] = "stale_signature",
    [CS_REASON_AGENT] = "agent",
    [CS_REASON_IDEMPOTENCY_KEY] = "idempotency_key",
    [CS_REASON_NOT_FOUND] = "not_found",
    [CS_REASON_REDIS_QUEUE_FULL] = "redis_queue_full",
    [CS_REASON_OTHER] = "other",
};

CS_NAMES_CHECK(cs_reason_names, CS_REASON_N);

const char *const  cs_endpoint_names[] = {
    [CS_ENDPOINT_NONE] = "",
    [CS_ENDPOINT_HELPAROUND_ENROLLMENT] = "helparound_enrollment",
    [CS_ENDPOINT_HELPAROUND_USER_ACTION] = "helparound_user_action",
    [CS_ENDPOINT_HINT] = "hint",
    [CS_ENDPOINT_API] = "api",
};

CS_NAMES_CHECK(cs_endpoint_names, CS_ENDPOINT_N);


cs_reason_t
cs_reason_find(const char *label)
{
    int  i;

    if (label == NULL) {
        return CS_REASON_OTHER;
    }

    for (i = 0; i < CS_REASON_OTHER; i++) {
        if (strcmp(cs_reason_names[i], label) == 0) {
            return (cs_reason_t) i;
        }
    }

    return CS_REASON_OTHER;
}
