/*
 * caresync core: base64 (see cs_b64.h).
 *
 * The vector encoders compute, for each group of 3 bytes, the four 6-bit
 * indices with one byte shuffle, two masks and two 16-bit multiplies
 * (which shift each index into its own byte), then turn indices into
 * characters with a 16-entry table of offsets chosen by a saturating
 * subtract and a compare (the alphabet is four runs: A-Z, a-z, 0-9, +/).
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cs_b64.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define CS_B64_X86  1
#include <immintrin.h>
#endif

static const char  cs_b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* two characters for each 12 bits: half the steps of one per 6 */
static uint16_t  cs_b64_pairs[4096];

/* 0-63, or 0xff: for the strict alphabet, and for the lenient one */
static uint8_t   cs_b64_strict[256];
static uint8_t   cs_b64_lenient[256];

typedef size_t (*cs_b64_encoder_pt)(const unsigned char *p, size_t n,
    char *out);

static size_t cs_b64_encode_scalar(const unsigned char *p, size_t n,
    char *out);

static cs_b64_encoder_pt  cs_b64_encoder;


/* The tail the vector loops leave, and every byte without them. */
static size_t
cs_b64_encode_scalar(const unsigned char *p, size_t n, char *out)
{
    char      *o = out;
    uint32_t   v;

    for (; n >= 3; p += 3, n -= 3, o += 4) {
        v = ((uint32_t) p[0] << 16) | ((uint32_t) p[1] << 8) | p[2];
        memcpy(o, &cs_b64_pairs[v >> 12], 2);
        memcpy(o + 2, &cs_b64_pairs[v & 0xfff], 2);
    }

    if (n) {
        v = (uint32_t) p[0] << 16;
        if (n == 2) {
            v |= (uint32_t) p[1] << 8;
        }

        o[0] = cs_b64_alphabet[v >> 18];
        o[1] = cs_b64_alphabet[(v >> 12) & 63];
        o[2] = n == 2 ? cs_b64_alphabet[(v >> 6) & 63] : '=';
        o[3] = '=';
        o += 4;
    }

    return (size_t) (o - out);
}


#ifdef CS_B64_X86

/*
 * 16 bytes in, laid out as 4 groups of 3 (bytes 12..15 unused) and
 * shuffled so that each 32-bit lane holds its group as b1 b0 b2 b1.
 */
__attribute__((target("ssse3")))
static __m128i
cs_b64_indices_128(__m128i in)
{
    __m128i  hi, lo;

    in = _mm_shuffle_epi8(in, _mm_setr_epi8(1, 0, 2, 1, 4, 3, 5, 4,
                                            7, 6, 8, 7, 10, 9, 11, 10));

    /* indices 0 and 2 of each group, moved down by 10 and 6 bits */
    hi = _mm_mulhi_epu16(_mm_and_si128(in, _mm_set1_epi32(0x0fc0fc00)),
                         _mm_set1_epi32(0x04000040));

    /* indices 1 and 3, moved up by 8 and 4 bits */
    lo = _mm_mullo_epi16(_mm_and_si128(in, _mm_set1_epi32(0x003f03f0)),
                         _mm_set1_epi32(0x01000010));

    return _mm_or_si128(hi, lo);
}


/* 16 indices (0-63) to their characters. */
__attribute__((target("ssse3")))
static __m128i
cs_b64_chars_128(__m128i idx)
{
    __m128i  sel;

    /* 0-51 -> 0, 52-61 -> 1-10, 62 -> 11, 63 -> 12; then 0-25 -> 13 */
    sel = _mm_subs_epu8(idx, _mm_set1_epi8(51));
    sel = _mm_or_si128(sel, _mm_and_si128(_mm_cmpgt_epi8(_mm_set1_epi8(26),
                                                         idx),
                                          _mm_set1_epi8(13)));

    return _mm_add_epi8(idx, _mm_shuffle_epi8(
        _mm_setr_epi8('a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                      '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                      '0' - 52, '+' - 62, '/' - 63, 'A', 0, 0),
        sel));
}


__attribute__((target("ssse3")))
static size_t
cs_b64_encode_ssse3(const unsigned char *p, size_t n, char *out)
{
    size_t  i, o;

    /* 12 bytes a step, reading 16: stop while 16 are there */
    for (i = 0, o = 0; n - i >= 16; i += 12, o += 16) {
        _mm_storeu_si128((__m128i *) (out + o), cs_b64_chars_128(
            cs_b64_indices_128(_mm_loadu_si128((const __m128i *) (p + i)))));
    }

    return o + cs_b64_encode_scalar(p + i, n - i, out + o);
}


/* The same, two lanes of 12 bytes: 24 a step. */
__attribute__((target("avx2")))
static size_t
cs_b64_encode_avx2(const unsigned char *p, size_t n, char *out)
{
    size_t   i, o;
    __m256i  in, hi, lo, idx, sel;

    /* the first 12 with 16-byte steps: the wide load starts 4 bytes back */
    if (n < 28) {
        return cs_b64_encode_ssse3(p, n, out);
    }

    _mm_storeu_si128((__m128i *) out, cs_b64_chars_128(
        cs_b64_indices_128(_mm_loadu_si128((const __m128i *) p))));

    for (i = 12, o = 16; n - i >= 28; i += 24, o += 32) {
        /* lane 0: bytes i..i+11 at 4..15; lane 1: i+12..i+23 at 0..11 */
        in = _mm256_loadu_si256((const __m256i *) (p + i - 4));
        in = _mm256_shuffle_epi8(in, _mm256_setr_epi8(
            5, 4, 6, 5, 8, 7, 9, 8, 11, 10, 12, 11, 14, 13, 15, 14,
            1, 0, 2, 1, 4, 3, 5, 4, 7, 6, 8, 7, 10, 9, 11, 10));

        hi = _mm256_mulhi_epu16(_mm256_and_si256(in,
                                    _mm256_set1_epi32(0x0fc0fc00)),
                                _mm256_set1_epi32(0x04000040));
        lo = _mm256_mullo_epi16(_mm256_and_si256(in,
                                    _mm256_set1_epi32(0x003f03f0)),
                                _mm256_set1_epi32(0x01000010));
        idx = _mm256_or_si256(hi, lo);

        sel = _mm256_subs_epu8(idx, _mm256_set1_epi8(51));
        sel = _mm256_or_si256(sel, _mm256_and_si256(
                  _mm256_cmpgt_epi8(_mm256_set1_epi8(26), idx),
                  _mm256_set1_epi8(13)));

        _mm256_storeu_si256((__m256i *) (out + o), _mm256_add_epi8(idx,
            _mm256_shuffle_epi8(_mm256_setr_epi8(
                'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62,
                '/' - 63, 'A', 0, 0,
                'a' - 26, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52,
                '0' - 52, '0' - 52, '0' - 52, '0' - 52, '0' - 52, '+' - 62,
                '/' - 63, 'A', 0, 0), sel)));
    }

    return o + cs_b64_encode_ssse3(p + i, n - i, out + o);
}

#endif /* CS_B64_X86 */


static void
cs_b64_init(void)
{
    size_t         i;
    unsigned char  pair[2];
#ifdef CS_B64_X86
    const char    *path;
#endif

    for (i = 0; i < 4096; i++) {
        pair[0] = (unsigned char) cs_b64_alphabet[i >> 6];
        pair[1] = (unsigned char) cs_b64_alphabet[i & 63];
        memcpy(&cs_b64_pairs[i], pair, 2);
    }

    memset(cs_b64_strict, 0xff, sizeof(cs_b64_strict));

    for (i = 0; i < 64; i++) {
        cs_b64_strict[(unsigned char) cs_b64_alphabet[i]] = (uint8_t) i;
    }

    memcpy(cs_b64_lenient, cs_b64_strict, sizeof(cs_b64_lenient));
    cs_b64_lenient['-'] = 62;
    cs_b64_lenient['_'] = 63;

    cs_b64_encoder = cs_b64_encode_scalar;

#ifdef CS_B64_X86
    __builtin_cpu_init();

    /* CS_B64_PATH=scalar|ssse3 holds a path back, for the tests */
    path = getenv("CS_B64_PATH");

    if (path && strcmp(path, "scalar") == 0) {
        return;
    }

    if (__builtin_cpu_supports("avx2")
        && !(path && strcmp(path, "ssse3") == 0))
    {
        cs_b64_encoder = cs_b64_encode_avx2;

    } else if (__builtin_cpu_supports("ssse3")) {
        cs_b64_encoder = cs_b64_encode_ssse3;
    }
#endif
}


size_t
cs_b64_encode(const unsigned char *p, size_t n, char *out)
{
    if (cs_b64_encoder == NULL) {
        cs_b64_init();
    }

    return cs_b64_encoder(p, n, out);
}


int
cs_b64_decode(const char *s, size_t n, int mode, unsigned char *out,
    size_t *out_len)
{
    size_t          i, k, pad, rest;
    uint32_t        acc;
    const uint8_t  *val;

    if (cs_b64_encoder == NULL) {
        cs_b64_init();
    }

    val = mode == CS_B64_STRICT ? cs_b64_strict : cs_b64_lenient;

    for (pad = 0; n && s[n - 1] == '=' && pad < 2; pad++) {
        n--;
    }

    if (mode == CS_B64_STRICT ? (n + pad) % 4 != 0
                              : ((pad && (n + pad) % 4) || n % 4 == 1))
    {
        return -1;
    }

    k = 0;

    /* whole groups of 4: one check of the four values, three bytes out */
    for (i = 0; n - i >= 4; i += 4) {
        uint32_t  a = val[(unsigned char) s[i]];
        uint32_t  b = val[(unsigned char) s[i + 1]];
        uint32_t  c = val[(unsigned char) s[i + 2]];
        uint32_t  d = val[(unsigned char) s[i + 3]];

        if ((a | b | c | d) & 0x80) {
            return -1;
        }

        acc = a << 18 | b << 12 | c << 6 | d;
        out[k] = (unsigned char) (acc >> 16);
        out[k + 1] = (unsigned char) (acc >> 8);
        out[k + 2] = (unsigned char) acc;
        k += 3;
    }

    acc = 0;

    for (; i < n; i++) {
        if (val[(unsigned char) s[i]] == 0xff) {
            return -1;
        }

        acc = acc << 6 | val[(unsigned char) s[i]];
    }

    rest = n % 4;

    /* strict: one text for one value, the bits left over are 0 */
    if (mode == CS_B64_STRICT
        && ((rest == 2 && (acc & 0xf)) || (rest == 3 && (acc & 0x3))))
    {
        return -1;
    }

    if (rest == 2) {
        out[k++] = (unsigned char) (acc >> 4);

    } else if (rest == 3) {
        out[k++] = (unsigned char) (acc >> 10);
        out[k++] = (unsigned char) (acc >> 2);
    }

    *out_len = k;

    return 0;
}
