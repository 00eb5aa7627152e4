/*
 * caresync core: the body-level limits, as one cheap pass over raw bytes.
 *
 * It rejects a raw NUL byte, nesting deeper than max_depth and more
 * values than a webhook body has any reason to hold, whichever it meets
 * first, and writes a compact copy, whitespace outside strings removed.
 * Syntax is left to the parser.  It once ran before jansson on every
 * body; the edge's parser (cs_json.h) now checks the same limits in its
 * own single pass and runs this one only for a body it refuses, because
 * these limits are reported before any other problem of the body,
 * wherever in it they are crossed.
 */

#ifndef CS_JSON_SCAN_H
#define CS_JSON_SCAN_H

#include <stddef.h>

#include "cs_buf.h"

#define CS_SCAN_OK         0
#define CS_SCAN_NOMEM     -1
#define CS_SCAN_NUL        1      /* a raw 0x00 byte anywhere */
#define CS_SCAN_TOO_DEEP   2      /* more than max_depth open { or [ */
#define CS_SCAN_TOO_MANY   3      /* more than max_values values */

/*
 * Appends the compact copy of p[0..n) to `out` (at most n bytes), and
 * counts the values on the way: every object, array, string, number,
 * true, false and null is one; an object's member names are not values.
 * For JSON the parser accepts, the count is exactly the number of values
 * in the document.  The scan stops at the first limit crossed.  `values`,
 * unless NULL, receives the count: of the whole body when the result is
 * CS_SCAN_OK, else of the part scanned.
 */
int cs_json_scan(const unsigned char *p, size_t n, unsigned max_depth,
    size_t max_values, size_t *values, cs_buf_t *out);

#endif /* CS_JSON_SCAN_H */
