/*
 * caresync core: a borrowed run of bytes.
 *
 * Values read out of a parsed body are views into the body itself, or
 * into the parse's scratch for a string that had escapes (cs_json.h);
 * they stay valid as long as both, so nothing is copied twice.
 */

#ifndef CS_STR_H
#define CS_STR_H

#include <stddef.h>

typedef struct {
    const char  *data;       /* NULL when absent */
    size_t       len;
} cs_str_t;

#define cs_str_null          { NULL, 0 }
#define cs_str_lit(s)        { (s), sizeof(s) - 1 }

#endif /* CS_STR_H */
