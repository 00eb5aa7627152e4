/*
 * caresync core: finding the first byte that ends a run of JSON string
 * text, 8 bytes at a time.
 *
 * Reading a body and writing a job both spend most of their time walking
 * string bytes until a quote, a backslash or a control character (and,
 * when reading, a byte of a UTF-8 sequence, which must be checked).  The
 * usual bit tricks test 8 bytes with a dozen operations instead of 8
 * table lookups:
 *
 *   cs_bytes_stop(p, high)  the index (0-7) of the first of p[0..7] that is
 *                           below 0x20, '"' or '\\' (or >= 0x80 when
 *                           `high`), or 8 when there is none.
 *
 * The flags of a comparison by subtraction may also mark a byte just
 * above a marked one; the first mark is always exact, and only the first
 * is used.  Plain C: the word is assembled in little-endian order (a
 * single load on the machines we run on), a count of trailing zeros
 * finds the first mark.
 */

#ifndef CS_BYTES_H
#define CS_BYTES_H

#include <stdint.h>

static inline uint64_t
cs_bytes_le64(const unsigned char *p)
{
    return (uint64_t) p[0] | (uint64_t) p[1] << 8 | (uint64_t) p[2] << 16
           | (uint64_t) p[3] << 24 | (uint64_t) p[4] << 32
           | (uint64_t) p[5] << 40 | (uint64_t) p[6] << 48
           | (uint64_t) p[7] << 56;
}


/* The position of the lowest set bit of m, m != 0. */
static inline unsigned
cs_bytes_ctz(uint64_t m)
{
#if defined(__GNUC__) || defined(__clang__)
    return (unsigned) __builtin_ctzll(m);
#else
    unsigned  n = 0;

    while (!(m & 1)) {
        m >>= 1;
        n++;
    }

    return n;
#endif
}


static inline unsigned
cs_bytes_stop(const unsigned char *p, int high)
{
    uint64_t  x, q, b, m;

    const uint64_t  ones = 0x0101010101010101ULL;
    const uint64_t  hi = 0x8080808080808080ULL;

    x = cs_bytes_le64(p);
    q = x ^ (ones * '"');
    b = x ^ (ones * '\\');

    m = ((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((b - ones) & ~b);

    if (high) {
        m |= x;
    }

    m &= hi;

    return m ? cs_bytes_ctz(m) / 8 : 8;
}

#endif /* CS_BYTES_H */
