/*
 * caresync-worker: CSV input (see cw_csv.h).
 */

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "cs_buf.h"
#include "cw_csv.h"
#include "cw_util.h"

#define CW_CSV_MAX_FIELDS  256


typedef struct {
    cs_buf_t   text;              /* the row's fields, NUL-separated */
    size_t     starts[CW_CSV_MAX_FIELDS];
    size_t     n;
} cw_csv_row_t;


static void
cw_csv_end_field(cw_csv_row_t *row)
{
    cs_buf_putc(&row->text, '\0');

    /* fields past the cap are folded into the last one: never lost rows */
    if (row->n < CW_CSV_MAX_FIELDS) {
        row->starts[row->n++] = row->text.len;
    }
}


static void
cw_csv_emit(cw_csv_row_t *row, cw_csv_row_pt cb, void *data, size_t lineno)
{
    char    *fields[CW_CSV_MAX_FIELDS];
    size_t   i, n;

    cs_buf_putc(&row->text, '\0');
    if (row->text.oom) {
        /* the worker treats allocation failure as fatal everywhere */
        abort();
    }

    n = row->n;
    fields[0] = row->text.data;

    for (i = 1; i < n; i++) {
        fields[i] = row->text.data + row->starts[i];
    }

    cb(data, fields, n, lineno);

    cs_buf_reset(&row->text);
    row->n = 1;
}


int
cw_csv_parse(const char *p, size_t len, cw_csv_row_pt cb, void *data)
{
    int            quoted = 0, any = 0;
    size_t         i = 0, line = 1, row_line = 1;
    cw_csv_row_t   row;

    memset(&row, 0, sizeof(row));
    cs_buf_init(&row.text);
    row.n = 1;

    /* Excel and Salesforce put a UTF-8 BOM before the header */
    if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0) {
        i = 3;
    }

    for (; i < len; i++) {
        char  c = p[i];

        any = 1;

        if (quoted) {
            if (c == '"') {
                if (i + 1 < len && p[i + 1] == '"') {
                    cs_buf_putc(&row.text, '"');
                    i++;
                } else {
                    quoted = 0;
                }
                continue;
            }

            if (c == '\n') {
                line++;
            }

            cs_buf_putc(&row.text, c);
            continue;
        }

        switch (c) {

        case '"':
            quoted = 1;
            break;

        case ',':
            cw_csv_end_field(&row);
            break;

        case '\r':
            /* CRLF, or a lone CR (old Mac exports) */
            if (i + 1 < len && p[i + 1] == '\n') {
                i++;
            }
            /* fall through */

        case '\n':
            cw_csv_emit(&row, cb, data, row_line);
            line++;
            row_line = line;
            any = 0;
            break;

        default:
            cs_buf_putc(&row.text, c);
        }
    }

    if (any) {
        cw_csv_emit(&row, cb, data, row_line);
    }

    cs_buf_free(&row.text);
    return quoted ? -1 : 0;
}


int
cw_csv_is_sf_id(const char *s)
{
    size_t  n;

    for (n = 0; s[n]; n++) {
        if (!isalnum((unsigned char) s[n])) {
            return 0;
        }
    }

    return n == 15 || n == 18;
}


static void
cw_csv_ids_row(void *data, char **fields, size_t n, size_t lineno)
{
    size_t         i;
    char          *f = fields[0];
    size_t         len;
    cw_csv_ids_t  *out = data;

    (void) lineno;

    /* spreadsheets pad cells with spaces */
    while (*f == ' ' || *f == '\t') {
        f++;
    }
    len = strlen(f);
    while (len && (f[len - 1] == ' ' || f[len - 1] == '\t')) {
        f[--len] = '\0';
    }

    if (n == 1 && len == 0) {
        return;                             /* blank line */
    }

    if (!cw_csv_is_sf_id(f)) {
        if (out->n == 0 && out->ignored == 0 && !out->header) {
            out->header = 1;
        } else {
            out->ignored++;
        }
        return;
    }

    /* a few thousand rows: a linear check costs less than a hash table */
    for (i = 0; i < out->n; i++) {
        if (strcmp(out->ids[i], f) == 0) {
            out->duplicates++;
            return;
        }
    }

    cw_strs_push(&out->ids, &out->n, &out->cap, f);
}


int
cw_csv_sf_ids(const char *p, size_t len, cw_csv_ids_t *out)
{
    memset(out, 0, sizeof(*out));

    if (cw_csv_parse(p, len, cw_csv_ids_row, out) != 0) {
        out->truncated = 1;
        return -1;
    }

    return 0;
}


void
cw_csv_ids_free(cw_csv_ids_t *ids)
{
    size_t  i;

    for (i = 0; i < ids->n; i++) {
        free(ids->ids[i]);
    }

    free(ids->ids);
    memset(ids, 0, sizeof(*ids));
}


void
cw_csv_write_field(FILE *f, const char *s)
{
    int  quote;

    if (s == NULL) {
        return;
    }

    quote = strpbrk(s, ",\"\r\n") != NULL;

    if (quote) {
        fputc('"', f);
    }

    /*
     * A spreadsheet runs a cell that starts with one of these as a
     * formula; the values come from vendors and senders, so the quote
     * makes it text (OWASP's advice for CSV injection).
     */
    if (*s != '\0' && strchr("=+-@\t\r", *s) != NULL) {
        fputc('\'', f);
    }

    if (!quote) {
        fputs(s, f);
        return;
    }

    for (; *s; s++) {
        if (*s == '"') {
            fputc('"', f);
        }
        fputc(*s, f);
    }
    fputc('"', f);
}
