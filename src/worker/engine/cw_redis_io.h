/*
 * caresync-worker: the bytes of one Redis connection.
 *
 * Debian's hiredis 0.14 has no TLS, so the worker does the connection's
 * I/O itself: a TCP socket, wrapped in OpenSSL when TLS is on, and
 * hiredis's redisReader for the protocol only (the bytes out are RESP
 * that cw_redis.c formats).  The module does the same with nginx's own
 * I/O, so both sides parse Redis with the same reader.
 *
 * The name is resolved on every open (a DNS failover is followed without
 * a restart), and every wait (connect, handshake, each read and write)
 * is bounded by the timeout given to cw_rio_open().  With TLS the
 * certificate chain and the host name are always verified: there is no
 * switch to turn that off, and no plaintext fallback.
 */
#ifndef CW_REDIS_IO_H
#define CW_REDIS_IO_H

#include <stddef.h>

/*
 * Bounds on what Redis may send: hiredis 0.14 allocates an array's
 * element table from the count announced, before any element arrives,
 * and keeps an unfinished reply's bytes; a reply over these is a protocol
 * error (the connection is dropped), not gigabytes allocated.  The
 * worker's largest answers are far below: 256 stream entries a read, a
 * Cluster's slot map (at most 16384 ranges), a batch's item list.
 */
#define CW_RIO_MAX_ELEMENTS  (1024 * 1024)
#define CW_RIO_MAX_BUFFER    (64 * 1024 * 1024)

typedef struct cw_rio_s      cw_rio_t;
typedef struct cw_rio_tls_s  cw_rio_tls_t;

/*
 * The TLS settings shared by every connection: trusted CAs (`ca` NULL:
 * the system's store), an optional client certificate and key.  NULL
 * with the reason in err.
 */
cw_rio_tls_t *cw_rio_tls_create(const char *ca, const char *cert,
    const char *key, char *err, size_t errlen);
void cw_rio_tls_free(cw_rio_tls_t *tls);

/*
 * A connection to host:port, TLS when `tls` is set; the certificate must
 * name `server_name` (NULL: the host).  NULL with the reason in err, and
 * *refused (may be NULL) set when the node was reached but the TLS hand
 * shake failed: a wrong CA, name or port, which waiting will not fix.
 */
cw_rio_t *cw_rio_open(const char *host, int port, cw_rio_tls_t *tls,
    const char *server_name, long timeout_ms, int *refused, char *err,
    size_t errlen);
void cw_rio_close(cw_rio_t *io);

/*
 * hiredis's reply parser with the bounds above; its replies are
 * redisReply objects freed by freeReplyObject().  NULL: out of memory.
 */
struct redisReader *cw_rio_reader(void);

/* Queues bytes to send; -1 when out of memory. */
int cw_rio_put(cw_rio_t *io, const char *buf, size_t len);
/* Sends every queued byte; -1 on a lost link (cw_rio_error()). */
int cw_rio_send(cw_rio_t *io);
/*
 * The next reply (a redisReply the caller frees).  `wait`: blocks until
 * one is complete (bounded by the timeout); else *reply is NULL when
 * none has arrived yet.  -1 on a lost link or a protocol error.
 */
int cw_rio_reply(cw_rio_t *io, void **reply, int wait);
const char *cw_rio_error(cw_rio_t *io);

/*
 * One command and its reply, nothing else on the connection (a hand
 * shake: AUTH, ROLE, a sentinel's answer); NULL on a lost link.
 */
struct redisReply *cw_rio_call(cw_rio_t *io, int argc, const char **argv);

#endif /* CW_REDIS_IO_H */
