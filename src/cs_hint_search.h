/*
 * caresync core: the answer of the "Sync to Hint" search box.
 *
 * The browser posts the name as {"q":"<name>"}: never in a URL, which
 * nginx writes to its logs.  The module asks Hint's patient list through
 * an internal proxy location (the practice key stays in nginx) and passes
 * on only what a CRM user needs to choose a patient: id, first and last
 * name, birth date.  The rest of Hint's patient (phones, address,
 * insurance …) never reaches the browser.
 */

#ifndef CS_HINT_SEARCH_H
#define CS_HINT_SEARCH_H

#include <stddef.h>

#include "cs_buf.h"

#define CS_HINT_SEARCH_MAX    50    /* patients in one answer */
#define CS_HINT_SEARCH_Q_MAX  100   /* bytes of a searched name */

/*
 * The search's request body → the name in q (CS_HINT_SEARCH_Q_MAX bytes
 * at most, not NUL-terminated), its length in *qlen.  The body must be a
 * JSON object whose "q" is a string (other members are ignored); the name
 * 1 to CS_HINT_SEARCH_Q_MAX bytes of letters (UTF-8 included), spaces,
 * apostrophes, dots and hyphens, so that it cannot add to Hint's query.
 * 0; 1 when the body is not such an object; 2 when q is not such a name;
 * -1 when out of memory.  Nothing of the body is kept but q.
 */
int cs_hint_search_query(const void *body, size_t len, char *q,
    size_t *qlen);

/*
 * Hint's list (a JSON array of patients, or an object whose "data" is
 * one) → [{"id","first_name","last_name","dob"},…], compact; entries
 * without a string id are skipped, other fields only when strings.
 * 0, 1 when the body is not such a list, -1 when out of memory.
 */
int cs_hint_search_trim(const void *body, size_t len, cs_buf_t *out);

#endif /* CS_HINT_SEARCH_H */
