/*
 * caresync unit tests: a few CHECK macros, nothing more.
 *
 * Each test binary counts checks and ends with CS_TEST_DONE(), which
 * prints "N passed, N failed" alone on a line and exits non-zero when
 * anything failed.  A failure prints file:line and both values.
 */

#ifndef CS_TEST_H
#define CS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tests run from the repository root. */
#ifndef CS_FIXTURES
#define CS_FIXTURES  "../shared/fixtures"
#endif

static int  cs_t_passed;
static int  cs_t_failed;

#define CS_T_RESULT(ok, ...)                                                  \
    do {                                                                      \
        if (ok) {                                                             \
            cs_t_passed++;                                                    \
        } else {                                                              \
            cs_t_failed++;                                                    \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);             \
            fprintf(stderr, __VA_ARGS__);                                     \
            fputc('\n', stderr);                                              \
        }                                                                     \
    } while (0)

#define CHECK(cond)                                                           \
    CS_T_RESULT((cond), "%s", #cond)

#define CHECK_INT(got, want)                                                  \
    do {                                                                      \
        long long  g_ = (long long) (got), w_ = (long long) (want);           \
        CS_T_RESULT(g_ == w_, "%s == %lld, want %lld", #got, g_, w_);         \
    } while (0)

/* NUL-terminated strings; NULL compares equal only to NULL. */
#define CHECK_STR(got, want)                                                  \
    do {                                                                      \
        const char  *g_ = (got), *w_ = (want);                                \
        CS_T_RESULT((g_ == NULL && w_ == NULL)                                \
                    || (g_ && w_ && strcmp(g_, w_) == 0),                     \
                    "%s\n  got:  %s\n  want: %s", #got,                       \
                    g_ ? g_ : "(null)", w_ ? w_ : "(null)");                  \
    } while (0)

/* A (pointer, length) buffer against a NUL-terminated string. */
#define CHECK_MEM(p, n, want)                                                 \
    do {                                                                      \
        const char  *w_ = (want);                                             \
        size_t       n_ = (n);                                                \
        CS_T_RESULT(n_ == strlen(w_) && memcmp((p), w_, n_) == 0,             \
                    "%s\n  got:  %.*s\n  want: %s", #p, (int) n_,             \
                    (const char *) (p), w_);                                  \
    } while (0)

#define CHECK_CONTAINS(p, n, needle)                                          \
    CS_T_RESULT(cs_t_memmem((p), (n), (needle)), "%s contains \"%s\"\n"       \
                "  got:  %.*s", #p, (needle), (int) (n), (const char *) (p))

#define CHECK_NOT_CONTAINS(p, n, needle)                                      \
    CS_T_RESULT(!cs_t_memmem((p), (n), (needle)), "%s lacks \"%s\"\n"         \
                "  got:  %.*s", #p, (needle), (int) (n), (const char *) (p))

#define CS_TEST_DONE()                                                        \
    do {                                                                      \
        printf("%d passed, %d failed\n", cs_t_passed, cs_t_failed);           \
        return cs_t_failed ? 1 : 0;                                           \
    } while (0)


static inline int
cs_t_memmem(const void *p, size_t n, const char *needle)
{
    size_t       k, i;
    const char  *s = p;

    k = strlen(needle);

    for (i = 0; k <= n && i <= n - k; i++) {
        if (memcmp(s + i, needle, k) == 0) {
            return 1;
        }
    }

    return 0;
}


/* A whole file, malloc'd; exits when it cannot be read. */
static inline char *
cs_t_read(const char *path, size_t *len)
{
    long   n;
    char  *p;
    FILE  *f;

    f = fopen(path, "rb");
    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0) {
        fprintf(stderr, "cannot read %s (run from the repository root)\n",
                path);
        exit(2);
    }

    rewind(f);

    p = malloc((size_t) n + 1);
    if (p == NULL || fread(p, 1, (size_t) n, f) != (size_t) n) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(2);
    }

    fclose(f);
    p[n] = '\0';
    *len = (size_t) n;

    return p;
}

#endif /* CS_TEST_H */
