/*
 * caresync-worker: CSV input, as spreadsheets and Salesforce report
 * exports write it (RFC 4180 plus what real files carry: a UTF-8 BOM,
 * CRLF or LF, quoted fields with "" escapes and embedded line breaks).
 *
 * Generic on purpose: every batch that starts from a file (HealthSherpa
 * sync, Hint crm-to-hint) reads its contact ids with cw_csv_sf_ids(), and
 * anything else can walk the rows with cw_csv_parse().
 */
#ifndef CW_CSV_H
#define CW_CSV_H

#include <stddef.h>
#include <stdio.h>

/* One row: `n` NUL-terminated fields (valid during the call only). */
typedef void (*cw_csv_row_pt)(void *data, char **fields, size_t n,
    size_t lineno);

/*
 * Calls `row` for every row, blank lines included (n == 1, field "").
 * Returns 0, or -1 when the text ends inside a quoted field (the rows
 * before it were delivered).
 */
int cw_csv_parse(const char *p, size_t len, cw_csv_row_pt row, void *data);

/* A 15- or 18-character Salesforce id: letters and digits only. */
int cw_csv_is_sf_id(const char *s);

/*
 * The Salesforce ids in the first column of a report export, in file
 * order, without repeats.  The header row, blank lines and rows whose
 * first column is not an id (Salesforce's footer: "Grand Totals",
 * the confidentiality notice, the copyright line; a cut id) are skipped;
 * all but the header and blank lines are counted in `ignored`.
 */
typedef struct {
    char    **ids;
    size_t    n;
    size_t    cap;
    size_t    ignored;
    size_t    duplicates;
    int       header;          /* the first row was a header */
    int       truncated;       /* unterminated quote at the end */
} cw_csv_ids_t;

int cw_csv_sf_ids(const char *p, size_t len, cw_csv_ids_t *out);
void cw_csv_ids_free(cw_csv_ids_t *ids);

/*
 * Writes one field, quoted when it needs to be (for reports).  A field
 * that starts with =, +, -, @, TAB or CR gets a ' in front, so that a
 * spreadsheet opening the report shows it as text, never as a formula.
 */
void cw_csv_write_field(FILE *f, const char *s);

#endif /* CW_CSV_H */
