/*
 * caresync core: identifiers and digests.
 *
 * Digests take their input as pieces so that callers hash "a\nb\nc"
 * without building it.  Functions that return int give 0, or -1 when
 * OpenSSL fails (out of memory).  The digests keep what they fetch from
 * OpenSSL, and one context, for the whole process: not for concurrent use
 * from threads (nothing in caresync hashes from two at once).
 */

#ifndef CS_ID_H
#define CS_ID_H

#include <stddef.h>
#include <stdint.h>

#include "cs_str.h"

#define CS_ID_UUID_LEN    36
#define CS_ID_ULID_LEN    26
#define CS_ID_SHA256_LEN  64

/*
 * Namespace of the HelpAround fallback externalId:
 * uuid5(NAMESPACE_URL, "urn:caresync:helparound:external-id") =
 * b9520bbc-f2ca-5174-b5ac-c4b5b4dd9b29.
 */
extern const unsigned char  cs_id_ns_helparound[16];

/* Lower-case hex of n bytes; out gets 2n chars and a NUL. */
void cs_id_hex(const unsigned char *p, size_t n, char *out);

/*
 * The n / 2 bytes of n hex digits (either case) into out: 0, or -1 for
 * an odd n or a character that is not a hex digit (out then holds some
 * of the bytes: callers wipe it when it is a secret).
 */
int cs_id_unhex(const char *s, size_t n, unsigned char *out);

/* Hex SHA-256 of the concatenated pieces, NUL-terminated. */
int cs_id_sha256_hex(const cs_str_t *parts, size_t nparts,
    char out[CS_ID_SHA256_LEN + 1]);

/* RFC 4122 UUIDv5 (SHA-1) of the concatenated pieces, lower-case. */
int cs_id_uuid5(const unsigned char ns[16], const cs_str_t *parts,
    size_t nparts, char out[CS_ID_UUID_LEN + 1]);

/* ULID from a time and 10 random bytes (Crockford base32, upper-case). */
void cs_id_ulid(uint64_t ms, const unsigned char rnd[10],
    char out[CS_ID_ULID_LEN + 1]);

/*
 * A new id: a ULID of `ms` whose 80-bit random part is drawn afresh for
 * each id, so that one id tells nothing about the next (ids are the
 * handle of a job's status record).  Ids of different milliseconds sort
 * by time; within one millisecond their order is random.  This is the one
 * generator of job ids, for the module and the worker alike.
 */
int cs_id_ulid_new(uint64_t ms, char out[CS_ID_ULID_LEN + 1]);

/*
 * n (at most CS_ID_RANDOM_BATCH) bytes from OpenSSL's CSPRNG.  The draw
 * is batched: each thread keeps a buffer of CS_ID_RANDOM_BATCH bytes,
 * refilled when spent and dropped in the child of a fork (two processes
 * never hand out the same bytes), so that an id costs no system call.
 * Bytes handed out are wiped from the buffer.  -1 when the CSPRNG fails:
 * then there is no id, never a weaker one.
 */
#define CS_ID_RANDOM_BATCH  4096

int cs_id_random(unsigned char *p, size_t n);

#endif /* CS_ID_H */
