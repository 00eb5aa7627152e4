/*
 * cs_json_scan(): the pre-scan and compact copy (src/cs_json_scan.h).
 *
 * Input: one byte choosing max_depth from fz_depths[] (low 4 bits) and
 * max_values from fz_values[] (high 4 bits), then the body.
 *
 * Invariants:
 *   - the result is OK, NUL, TOO_DEEP or TOO_MANY; NUL only if the input
 *     has a 0x00 byte, and an input with one never scans OK;
 *   - the count is at most max_values after OK, max_values + 1 after
 *     TOO_MANY;
 *   - the copy is appended (what the buffer held stays) and is at most n
 *     bytes;
 *   - jansson accepts the copy iff it accepts the input, with the same
 *     error code when both fail, and the same value when both parse;
 *   - scanning the copy again gives the copy (it is a fixed point) and the
 *     same count;
 *   - when jansson parses the input: after OK the count is its number of
 *     values and its depth is within max_depth; TOO_DEEP only if its
 *     depth is over max_depth, TOO_MANY only if its number of values is
 *     over max_values; and one of the two when either is.
 */

#include <string.h>

#include "cs_json_scan.h"
#include "fuzz_common.h"

static const unsigned  fz_depths[16] = {
    0, 1, 2, 3, 4, 5, 8, 32, 33, 64, 100, 1000, 2047, 2048, 4096, 1u << 30
};

static const size_t  fz_values[16] = {
    SIZE_MAX, 0, 1, 2, 3, 4, 5, 7, 10, 16, 32, 64, 100, 1000, 10000,
    SIZE_MAX - 1
};

#define FZ_PREFIX  "prefix!"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int            rc, rc2;
    size_t         n, depth, count, count2, values, max_values;
    unsigned       max_depth;
    json_t        *a, *b;
    cs_buf_t       out, again;
    json_error_t   ea, eb;
    const uint8_t *p;

    if (size < 1) {
        return 0;
    }

    max_depth = fz_depths[data[0] & 15];
    max_values = fz_values[data[0] >> 4];
    p = data + 1;
    n = size - 1;

    cs_buf_init(&out);
    cs_buf_put(&out, FZ_PREFIX, sizeof(FZ_PREFIX) - 1);

    count = SIZE_MAX;
    rc = cs_json_scan(p, n, max_depth, max_values, &count, &out);

    FZ_CHECK(rc == CS_SCAN_OK || rc == CS_SCAN_NUL || rc == CS_SCAN_TOO_DEEP
             || rc == CS_SCAN_TOO_MANY, "rc %d", rc);

    if (rc == CS_SCAN_OK) {
        FZ_CHECK(count <= max_values, "OK with %zu values, max_values %zu",
                 count, max_values);

    } else if (rc == CS_SCAN_TOO_MANY) {
        FZ_CHECK(count == max_values + 1, "TOO_MANY with %zu values, "
                 "max_values %zu", count, max_values);
    }
    FZ_CHECK(memcmp(out.data, FZ_PREFIX, sizeof(FZ_PREFIX) - 1) == 0,
             "the buffer's previous content was overwritten");

    if (memchr(p, 0, n) == NULL) {
        FZ_CHECK(rc != CS_SCAN_NUL, "NUL reported, the input has none");
    } else {
        FZ_CHECK(rc != CS_SCAN_OK, "a NUL byte scanned OK");
    }

    a = json_loadb((const char *) p, n,
                   JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &ea);

    if (a) {
        depth = fz_json_depth(a);
        values = fz_json_count(a);

        if (rc == CS_SCAN_OK) {
            FZ_CHECK(count == values, "valid JSON of %zu values counted %zu",
                     values, count);
            FZ_CHECK(depth <= max_depth, "valid JSON of depth %zu, "
                     "max_depth %u: OK", depth, max_depth);
        }

        FZ_CHECK(rc != CS_SCAN_TOO_DEEP || depth > max_depth,
                 "valid JSON of depth %zu, max_depth %u: TOO_DEEP", depth,
                 max_depth);
        FZ_CHECK(rc != CS_SCAN_TOO_MANY || values > max_values,
                 "valid JSON of %zu values, max_values %zu: TOO_MANY", values,
                 max_values);
        FZ_CHECK(rc != CS_SCAN_OK
                 || (depth <= max_depth && values <= max_values),
                 "valid JSON of depth %zu and %zu values scanned OK", depth,
                 values);
    }

    if (rc == CS_SCAN_OK) {
        const char  *c = out.data + sizeof(FZ_PREFIX) - 1;
        size_t       cn = out.len - (sizeof(FZ_PREFIX) - 1);

        FZ_CHECK(cn <= n, "the copy (%zu) is longer than the input (%zu)",
                 cn, n);

        b = json_loadb(c, cn, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &eb);

        FZ_CHECK((a == NULL) == (b == NULL),
                 "jansson %s the input (%s) but %s the copy (%s)\n"
                 "    copy: %s",
                 a ? "accepts" : "rejects", a ? "" : ea.text,
                 b ? "accepts" : "rejects", b ? "" : eb.text,
                 fz_show(c, cn));

        if (a) {
            FZ_CHECK(json_equal(a, b), "the copy parses to another value: %s",
                     fz_show(c, cn));
        } else {
            FZ_CHECK(json_error_code(&ea) == json_error_code(&eb),
                     "input error \"%s\" (%d), copy error \"%s\" (%d)\n"
                     "    copy: %s", ea.text, json_error_code(&ea), eb.text,
                     json_error_code(&eb), fz_show(c, cn));
        }

        cs_buf_init(&again);
        rc2 = cs_json_scan((const unsigned char *) c, cn, max_depth,
                           max_values, &count2, &again);

        FZ_CHECK(rc2 == CS_SCAN_OK, "the copy scans to %d", rc2);
        FZ_CHECK(count2 == count, "the copy has %zu values, the input %zu",
                 count2, count);
        FZ_CHECK(again.len == cn && memcmp(again.data, c, cn) == 0,
                 "the copy is not a fixed point:\n    %s",
                 fz_show(again.data, again.len));

        cs_buf_free(&again);
        json_decref(b);
    }

    json_decref(a);
    cs_buf_free(&out);

    return 0;
}
