/*
 * caresync core: base64 (RFC 4648), the one encoder and decoder.
 *
 * Encoding is the standard alphabet with "=" padding.  It is on the
 * edge's path for every sealed job (cs_seal.h), where it is most of the
 * bytes written: on x86-64 it uses SSSE3 or AVX2 when the CPU has them
 * (checked once, at the first call), 12 or 24 input bytes a step; the
 * output is the same bytes either way (CS_B64_PATH=scalar or ssse3 in
 * the environment holds the choice back, so that tests run each path).
 *
 * Decoding has two modes:
 *   CS_B64_STRICT   what cs_b64_encode() writes and nothing else: the
 *                   standard alphabet, a multiple of 4 characters, "="
 *                   only as the last one or two, the bits padding leaves
 *                   over 0, so that one value has one text;
 *   CS_B64_LENIENT  what senders of signatures write: either alphabet
 *                   ("+/" or "-_"), padding optional but whole if there.
 * Neither takes white space.
 */

#ifndef CS_B64_H
#define CS_B64_H

#include <stddef.h>

#define CS_B64_STRICT    0
#define CS_B64_LENIENT   1

/* Characters cs_b64_encode() writes for n bytes. */
#define cs_b64_encoded_len(n)   (((n) + 2) / 3 * 4)

/* Bytes cs_b64_decode() may write for n characters (at most). */
#define cs_b64_decoded_max(n)   ((n) / 4 * 3 + 3)

/* Writes cs_b64_encoded_len(n) characters to out; returns that. */
size_t cs_b64_encode(const unsigned char *p, size_t n, char *out);

/*
 * Decodes s[0..n) into out (room for cs_b64_decoded_max(n)); *out_len
 * gets the bytes.  0, or -1 when the text is not base64 of the mode.
 */
int cs_b64_decode(const char *s, size_t n, int mode, unsigned char *out,
    size_t *out_len);

#endif /* CS_B64_H */
