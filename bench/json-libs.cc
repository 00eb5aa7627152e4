// The parse of the enrollment body alone, by cs_json and by the JSON
// libraries Debian ships, in instructions under callgrind: the measure
// behind the parser choice in docs/decisions.md.  Not part of the build:
// it needs libyajl-dev, libjson-c-dev and libsimdjson-dev, which caresync
// does not use.
//
//   make core
//   g++ -std=c++17 -O2 -Isrc bench/json-libs.cc build/libcaresync.a \
//       -ljansson -lyajl -ljson-c -lsimdjson -lcrypto -o build/json-libs
//   valgrind --tool=callgrind --collect-atstart=no build/json-libs FILE N
//
// Each library parses the same bytes N times after N of warm-up, into
// what a reader could then look values up in (jansson, json-c: a tree;
// yajl: its tree API; simdjson: its DOM, parser reused; cs_json: the
// tape, document reused), and frees it.  Collection is toggled around
// each library's loop and dumped separately (callgrind.out.<pid>.<k>).

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <simdjson.h>
#include <valgrind/callgrind.h>
#include <yajl/yajl_tree.h>

extern "C" {
#include "cs_json.h"

/* json-c's names collide with jansson's: its four functions, by hand */
struct json_object;
struct json_tokener;
struct json_tokener *json_tokener_new(void);
struct json_object *json_tokener_parse_ex(struct json_tokener *tok,
    const char *str, int len);
int json_object_put(struct json_object *obj);
void json_tokener_free(struct json_tokener *tok);
}

static char    *body;
static size_t   len;


static void
run_cs_json(void)
{
    static cs_json_doc_t  doc;

    if (cs_json_parse(&doc, (const unsigned char *) body, len, 32, 10000)
        != CS_JSON_OK)
    {
        abort();
    }
}


static void
run_jansson(void)
{
    json_t  *t;

    t = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                   NULL);
    if (t == NULL) {
        abort();
    }
    json_decref(t);
}


static void
run_json_c(void)
{
    struct json_object   *t;
    struct json_tokener  *tok;

    tok = json_tokener_new();
    t = json_tokener_parse_ex(tok, body, (int) len);
    if (t == NULL) {
        abort();
    }
    json_object_put(t);
    json_tokener_free(tok);
}


static void
run_yajl(void)
{
    yajl_val  t;

    /* yajl's tree API wants a NUL-terminated text: body has one */
    t = yajl_tree_parse(body, NULL, 0);
    if (t == NULL) {
        abort();
    }
    yajl_tree_free(t);
}


static void
run_simdjson(void)
{
    static simdjson::dom::parser   parser;
    static simdjson::padded_string  *padded;

    if (padded == NULL) {
        padded = new simdjson::padded_string(body, len);
    }

    simdjson::dom::element  e;

    if (parser.parse(*padded).get(e) != simdjson::SUCCESS) {
        abort();
    }
}


int
main(int argc, char **argv)
{
    long   n, i, k;
    FILE  *f;

    static const struct {
        const char  *name;
        void       (*run)(void);
    } libs[] = {
        { "cs_json", run_cs_json },
        { "jansson", run_jansson },
        { "json-c", run_json_c },
        { "yajl", run_yajl },
        { "simdjson", run_simdjson },
    };

    if (argc < 3 || (f = fopen(argv[1], "rb")) == NULL) {
        fprintf(stderr, "usage: json-libs FILE N\n");
        return 2;
    }

    fseek(f, 0, SEEK_END);
    len = (size_t) ftell(f);
    rewind(f);
    body = (char *) malloc(len + 1);
    if (fread(body, 1, len, f) != len) {
        return 2;
    }
    body[len] = '\0';
    fclose(f);

    n = atol(argv[2]);

    for (k = 0; k < (long) (sizeof(libs) / sizeof(libs[0])); k++) {
        for (i = 0; i < n; i++) {
            libs[k].run();
        }

        CALLGRIND_TOGGLE_COLLECT;
        for (i = 0; i < n; i++) {
            libs[k].run();
        }
        CALLGRIND_TOGGLE_COLLECT;
        CALLGRIND_DUMP_STATS_AT(libs[k].name);
    }

    return 0;
}
