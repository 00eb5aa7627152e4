/*
 * cw-hs-unit: issue 6's pure functions, TAP output (run by
 * t/worker/220-healthsherpa-unit.t): the CSV reader on what Salesforce
 * and spreadsheets write, the report's cells (no formula), and the
 * sealing of HealthSherpa tokens.
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cw_csv.h"
#include "cw_healthsherpa.h"
#include "cw_util.h"

static int  cw_n, cw_failed;


static int
has(const char *p, size_t n, const char *w)
{
    size_t  i, k = strlen(w);

    for (i = 0; i + k <= n; i++) {
        if (memcmp(p + i, w, k) == 0) {
            return 1;
        }
    }

    return 0;
}


static void
ok(int cond, const char *name)
{
    cw_n++;
    if (!cond) {
        cw_failed++;
    }
    printf("%sok %d - %s\n", cond ? "" : "not ", cw_n, name);
}


typedef struct {
    char    rows[16][8][64];
    size_t  nf[16];
    size_t  line[16];
    size_t  n;
} rows_t;


static void
collect(void *data, char **fields, size_t n, size_t lineno)
{
    size_t   i;
    rows_t  *r = data;

    if (r->n == 16) {
        return;
    }

    for (i = 0; i < n && i < 8; i++) {
        snprintf(r->rows[r->n][i], 64, "%s", fields[i]);
    }
    r->nf[r->n] = n;
    r->line[r->n] = lineno;
    r->n++;
}


static int
parse(const char *s, rows_t *r)
{
    memset(r, 0, sizeof(*r));
    return cw_csv_parse(s, strlen(s), collect, r);
}


static void
csv(void)
{
    rows_t        r;
    cw_csv_ids_t  ids;
    const char   *s;

    ok(parse("a,b\r\nc,d\r\n", &r) == 0 && r.n == 2
       && strcmp(r.rows[1][1], "d") == 0, "CRLF rows");
    ok(parse("a,b\nc,d", &r) == 0 && r.n == 2
       && strcmp(r.rows[1][1], "d") == 0, "LF, no final newline");
    ok(parse("a\rb\r", &r) == 0 && r.n == 2, "lone CR ends a row");
    ok(parse("\xEF\xBB\xBF\"Id\",x\n", &r) == 0
       && strcmp(r.rows[0][0], "Id") == 0, "BOM dropped, quotes removed");
    ok(parse("\"a,b\",\"say \"\"hi\"\"\"\n", &r) == 0 && r.nf[0] == 2
       && strcmp(r.rows[0][0], "a,b") == 0
       && strcmp(r.rows[0][1], "say \"hi\"") == 0, "quoted comma, \"\" escape");
    ok(parse("x,\"one\r\ntwo\"\r\ny\r\n", &r) == 0 && r.n == 2
       && strcmp(r.rows[0][1], "one\r\ntwo") == 0 && r.line[1] == 3,
       "line break inside quotes; line numbers follow");
    ok(parse("a,,\n", &r) == 0 && r.nf[0] == 3 && r.rows[0][2][0] == '\0',
       "empty fields kept");
    ok(parse("a\n\nb\n", &r) == 0 && r.n == 3 && r.nf[1] == 1
       && r.rows[1][0][0] == '\0', "blank line delivered");
    ok(parse("a,\"open\n", &r) == -1, "unterminated quote: -1");
    ok(parse("", &r) == 0 && r.n == 0, "empty input: no rows");

    ok(cw_csv_is_sf_id("003Hs00001AbCdEIAV"), "18-char id");
    ok(cw_csv_is_sf_id("003Hs00001AbCdE"), "15-char id");
    ok(!cw_csv_is_sf_id("003Hs00001Qr"), "cut id refused");
    ok(!cw_csv_is_sf_id("003Hs00001AbCd-IAV"), "punctuation refused");

    s = "\xEF\xBB\xBF\"Contact ID\",\"Full Name\"\r\n"
        "\"003Hs00001AbCdEIAV\",\"John Doe\"\r\n"
        "\"003Hs00001XyZwVIAV\",\"Maria Lopez\"\r\n"
        "\"003Hs00001Qr\",\" truncated id row\"\r\n"
        "\r\n"
        "\"Grand Totals (2 records)\"\r\n"
        "\r\n"
        "\"Confidential Information - Do Not Distribute\"\r\n"
        "\"Copyright (c) 2000-2026 salesforce.com, inc. All rights "
        "reserved.\"\r\n";
    ok(cw_csv_sf_ids(s, strlen(s), &ids) == 0 && ids.n == 2 && ids.header
       && ids.ignored == 4 && strcmp(ids.ids[1], "003Hs00001XyZwVIAV") == 0,
       "the report export: 2 ids, header, 4 ignored");
    cw_csv_ids_free(&ids);

    s = "003Hs00001AbCdEIAV\n 003Hs00001AbCdEIAV \n003Hs00001XyZwV\n";
    ok(cw_csv_sf_ids(s, strlen(s), &ids) == 0 && ids.n == 2 && !ids.header
       && ids.duplicates == 1, "no header; repeat and padding");
    cw_csv_ids_free(&ids);

    s = "Id\n\"003Hs00001AbCdEIAV\n";
    ok(cw_csv_sf_ids(s, strlen(s), &ids) == -1 && ids.truncated,
       "cut file reported");
    cw_csv_ids_free(&ids);
}


/* one field as cw_csv_write_field() writes it */
static int
cell_is(const char *in, const char *want)
{
    int     r;
    char   *out = NULL;
    size_t  n = 0;
    FILE   *f = open_memstream(&out, &n);

    if (f == NULL) {
        return 0;
    }

    cw_csv_write_field(f, in);
    fclose(f);

    r = n == strlen(want) && memcmp(out, want, n) == 0;
    if (!r) {
        printf("# got: [%.*s] want: [%s]\n", (int) n, out, want);
    }

    free(out);
    return r;
}


static void
cells(void)
{
    ok(cell_is("plain", "plain"), "a plain cell as it is");
    ok(cell_is("a,b", "\"a,b\""), "a comma: quoted");
    ok(cell_is("say \"hi\"", "\"say \"\"hi\"\"\""), "quotes doubled");
    ok(cell_is("", ""), "empty");

    /* formula injection: text, not a formula, in a spreadsheet */
    ok(cell_is("=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""),
       "= neutralized (and quoted)");
    ok(cell_is("=1+2", "'=1+2"), "= neutralized");
    ok(cell_is("+1", "'+1"), "+ neutralized");
    ok(cell_is("-1+cmd|' /C calc'!A0", "'-1+cmd|' /C calc'!A0"),
       "- neutralized");
    ok(cell_is("@SUM(A1)", "'@SUM(A1)"), "@ neutralized");
    ok(cell_is("\t=1", "'\t=1"), "TAB neutralized");
    ok(cell_is("\r=1", "\"'\r=1\""), "CR neutralized (and quoted)");
    ok(cell_is("a=1", "a=1"), "= inside a cell is harmless");
    ok(cell_is("pat-1", "pat-1"), "ids as they are");
}


static void
seal(void)
{
    unsigned char  key[32], other[32];
    cs_buf_t       a, b;
    const char    *tok = "{\"access_token\":\"hs-at-1\"}";

    ok(cw_hs_parse_key("000102030405060708090a0b0c0d0e0f"
                       "101112131415161718191a1b1c1d1e1f", key) == 0
       && key[31] == 0x1f, "hex key");
    ok(cw_hs_parse_key("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                       other) == 0 && memcmp(key, other, 32) == 0,
       "base64 key");
    ok(cw_hs_parse_key("short", other) == -1, "bad key refused");

    cs_buf_init(&a);
    cs_buf_init(&b);
    ok(cw_hs_seal(key, "agent@x", tok, strlen(tok), &a) == 0
       && a.len == 1 + 12 + 16 + strlen(tok)
       && !has(a.data, a.len, "hs-at"), "sealed, not readable");
    ok(cw_hs_open(key, "agent@x", a.data, a.len, &b) == 0
       && b.len == strlen(tok) && memcmp(b.data, tok, b.len) == 0,
       "opened with the key and agent");
    cs_buf_reset(&b);
    ok(cw_hs_open(key, "other@x", a.data, a.len, &b) == -1,
       "another agent cannot open it");
    memset(other, 7, sizeof(other));
    ok(cw_hs_open(other, "agent@x", a.data, a.len, &b) == -1,
       "another key cannot open it");
    a.data[a.len - 1] ^= 1;
    ok(cw_hs_open(key, "agent@x", a.data, a.len, &b) == -1,
       "tampering detected");
    cs_buf_free(&a);
    cs_buf_free(&b);
}


int
main(void)
{
    csv();
    cells();
    seal();
    printf("1..%d\n", cw_n);
    return cw_failed ? 1 : 0;
}
