/*
 * caresync core: the answer of the "Sync to Hint" search box.
 *
 * The module asks Hint's patient list through an internal proxy location
 * (the practice key stays in nginx) and passes on only what a CRM user
 * needs to choose a patient: id, first and last name, birth date.  The
 * rest of Hint's patient (phones, address, insurance …) never reaches the
 * browser.
 */

#ifndef CS_HINT_SEARCH_H
#define CS_HINT_SEARCH_H

#include <stddef.h>

#include "cs_buf.h"

#define CS_HINT_SEARCH_MAX  50      /* patients in one answer */

/*
 * Hint's list (a JSON array of patients, or an object whose "data" is
 * one) → [{"id","first_name","last_name","dob"},…], compact; entries
 * without a string id are skipped, other fields only when strings.
 * 0, 1 when the body is not such a list, -1 when out of memory.
 */
int cs_hint_search_trim(const void *body, size_t len, cs_buf_t *out);

#endif /* CS_HINT_SEARCH_H */
