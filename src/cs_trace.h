/*
 * caresync core: W3C Trace Context (https://www.w3.org/TR/trace-context/),
 * the `traceparent` header: "00-<32 hex trace id>-<16 hex parent id>-
 * <2 hex flags>".
 *
 * The edge takes a sender's trace only when its header is exactly that
 * (version 00, lower-case hex, neither id all zeros, 55 bytes); anything
 * else starts a new trace, so that no byte a sender chose reaches a job,
 * a log line or a vendor unchecked.  The worker makes one child span per
 * outbound call.  Ids come from the CSPRNG of cs_id.h.
 */

#ifndef CS_TRACE_H
#define CS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define CS_TRACE_LEN       55       /* "00-" 32 "-" 16 "-" 2 */
#define CS_TRACE_ID_HEX    32
#define CS_TRACE_SPAN_HEX  16
#define CS_TRACE_SAMPLED   0x01

typedef struct {
    unsigned char  trace_id[16];
    unsigned char  span_id[8];      /* the parent of what comes next */
    unsigned char  flags;
} cs_trace_t;

/* 0 when v[0..len) is a valid version-00 traceparent, else -1. */
int cs_trace_parse(const unsigned char *v, size_t len, cs_trace_t *t);

/* A new trace (sampled) with a new span id; -1 without randomness. */
int cs_trace_start(cs_trace_t *t);

/* The same trace, a new span id: the span of this hop. -1 likewise. */
int cs_trace_child(cs_trace_t *t);

/* The header's value, NUL-terminated (CS_TRACE_LEN + 1 bytes). */
void cs_trace_format(const cs_trace_t *t, char out[CS_TRACE_LEN + 1]);

/* The trace id alone, lower-case hex, NUL-terminated. */
void cs_trace_id_hex(const cs_trace_t *t, char out[CS_TRACE_ID_HEX + 1]);

#endif /* CS_TRACE_H */
