/*
 * caresync-worker: source -> CRM field mapping, as data.
 *
 * A mapping is one table of entries {name, path, field, conv}: where the
 * value is in the source JSON (`path`), which CRM field gets it (`field`,
 * the default API name), and how it is converted.  The same engine serves
 * every source -> Salesforce list (HelpAround enrollments here; Hint
 * patients can get a table of their own next to cw_map_helparound): a
 * handler never has code per field.
 *
 * Paths: dotted keys into objects, `key[k=v]` picks the first element of
 * an array whose `k` equals `v` (e.g. "phones[type=mobile].number"), and
 * "a+b" joins the non-empty values of two paths with a newline (street
 * lines).  A missing or empty value maps to nothing: an empty source
 * value never erases CRM data.
 *
 * Field names are configuration: one string of `name=Field` pairs,
 * comma-separated, overrides the defaults by entry name; `name=` (empty)
 * turns an entry off (for orgs without that field).
 */
#ifndef CW_MAP_H
#define CW_MAP_H

#include <stddef.h>

#include <jansson.h>

typedef enum {
    CW_MAP_STR = 0,         /* a string as is */
    CW_MAP_DATE,            /* YYYY-MM-DD */
    CW_MAP_DATETIME,        /* ISO-8601 instant */
    CW_MAP_BOOL,            /* true/false */
    CW_MAP_GENDER           /* male/female/other -> GenderIdentity values */
} cw_map_conv_e;

typedef struct {
    const char     *name;   /* config name, e.g. "insurance_carrier" */
    const char     *path;   /* in the source: "insurance.primary.carrier" */
    const char     *field;  /* default CRM field, e.g. "Insurance_Payer__c" */
    cw_map_conv_e   conv;
} cw_map_entry_t;

typedef struct {
    const cw_map_entry_t   *entries;
    size_t                  n;
    char                  **fields;   /* resolved names; NULL: turned off */
    const char            **read;     /* "Id" + every field, NULL-ended */
} cw_map_t;

/*
 * Resolves the field names: defaults, then `overrides` (may be NULL).
 * -1 with the reason in err for an unknown entry name or a bad field name.
 * cw_map_free() releases it either way.
 */
int cw_map_init(cw_map_t *m, const cw_map_entry_t *entries, size_t n,
    const char *overrides, char *err, size_t errlen);
void cw_map_free(cw_map_t *m);

/* {field: value} for every entry with a non-empty value in `src` */
json_t *cw_map_apply(const cw_map_t *m, json_t *src);

/* The field of the entry `name`, NULL when unknown or turned off. */
const char *cw_map_field(const cw_map_t *m, const char *name);

/* The value at `path` in `src` (borrowed), NULL when absent. */
json_t *cw_map_get(json_t *src, const char *path);

/* HelpAround enrollment (normalized patient, job.md) -> Salesforce Contact */
extern const cw_map_entry_t  cw_map_helparound[];
extern const size_t          cw_map_helparound_n;

#endif /* CW_MAP_H */
