/*
 * cs_hint_search: trimming Hint's patient list for the search box, and
 * reading the search's request body (src/cs_hint_search.h).
 *
 * Input: the bytes of Hint's answer, and the same bytes as a request body.
 *
 * Invariants:
 *   - trim: 0, 1 or (never here) -1; on 0 the output is one compact JSON
 *     array of at most CS_HINT_SEARCH_MAX objects, each with a string
 *     "id" and no key but id, first_name, last_name and dob, all strings;
 *     on 1 nothing is written;
 *   - query: 0, 1 or 2; on 0 the name is 1 to CS_HINT_SEARCH_Q_MAX bytes,
 *     none of which could add to Hint's query (no '&', '=', '%', '#',
 *     '+', control).
 */

#include <string.h>

#include <jansson.h>

#include "cs_hint_search.h"
#include "fuzz_common.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc;
    char           q[CS_HINT_SEARCH_Q_MAX];
    size_t         i, qlen;
    unsigned char  c;
    json_t        *out, *e, *v;
    cs_buf_t       buf;
    const char    *k;
    json_error_t   err;

    rc = cs_hint_search_query(data, size, q, &qlen);

    FZ_CHECK(rc == 0 || rc == 1 || rc == 2, "query rc %d", rc);

    if (rc == 0) {
        FZ_CHECK(qlen >= 1 && qlen <= CS_HINT_SEARCH_Q_MAX, "qlen %zu",
                 qlen);

        for (i = 0; i < qlen; i++) {
            c = (unsigned char) q[i];
            FZ_CHECK(c >= 0x20 && c != 0x7f && !strchr("&=%#+?/;", c),
                     "byte 0x%02x in a name", c);
        }
    }

    cs_buf_init(&buf);

    rc = cs_hint_search_trim(data, size, &buf);

    FZ_CHECK(rc == 0 || rc == 1, "rc %d", rc);

    if (rc == 1) {
        FZ_CHECK(buf.len == 0, "wrote %zu bytes on a refusal", buf.len);
        cs_buf_free(&buf);
        return 0;
    }

    out = json_loadb(buf.data, buf.len, JSON_REJECT_DUPLICATES, &err);
    FZ_CHECK(json_is_array(out), "not a JSON array: %s",
             fz_show(buf.data, buf.len));
    FZ_CHECK(json_array_size(out) <= CS_HINT_SEARCH_MAX, "%zu entries",
             json_array_size(out));

    json_array_foreach(out, i, e) {
        FZ_CHECK(json_is_object(e), "entry %zu not an object", i);
        FZ_CHECK(json_is_string(json_object_get(e, "id")), "entry %zu: id",
                 i);

        json_object_foreach(e, k, v) {
            FZ_CHECK(strcmp(k, "id") == 0 || strcmp(k, "first_name") == 0
                     || strcmp(k, "last_name") == 0
                     || strcmp(k, "dob") == 0, "key %s passed through", k);
            FZ_CHECK(json_is_string(v), "key %s not a string", k);
        }
    }

    json_decref(out);
    cs_buf_free(&buf);

    return 0;
}
