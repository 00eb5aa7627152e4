/*
 * caresync-worker: the one error type (see cw_err.h).
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "engine/cw_err.h"

#define CW_ERR_NAME(c, name)  name,
static const char  *cw_err_names[] = { CW_ERR_CODES(CW_ERR_NAME) };
#undef CW_ERR_NAME


void
cw_err_clear(cw_err_t *e)
{
    memset(e, 0, sizeof(*e));
    e->retry_after_ms = -1;
}


void
cw_err_set(cw_err_t *e, cw_err_class_e cls, cw_err_e code, const char *fmt,
    ...)
{
    va_list  ap;

    cw_err_clear(e);
    e->cls = cls;
    e->code = code;

    va_start(ap, fmt);
    vsnprintf(e->message, sizeof(e->message), fmt, ap);
    va_end(ap);
}


void
cw_err_vendor(cw_err_t *e, const char *vendor)
{
    snprintf(e->vendor, sizeof(e->vendor), "%.60s", vendor ? vendor : "");
}


const char *
cw_err_name(const cw_err_t *e)
{
    if (e->vendor[0]) {
        return e->vendor;
    }

    return (unsigned) e->code < CW_E_MAX ? cw_err_names[e->code] : "?";
}
