/*
 * caresync-worker: the sync log.
 *
 * One line per event on stderr, `ts level component msg key=value ...`,
 * which journald and log shippers split without a parser of their own,
 * and the same line in the capped stream {prefix}:log for `log`.
 * Callers pass ids and error codes only: never PHI, never secrets.
 */
#ifndef CW_LOG_H
#define CW_LOG_H

typedef enum {
    CW_LOG_DEBUG = 0,
    CW_LOG_ERROR,
    CW_LOG_EXCEPTION
} cw_log_level_e;

struct cw_redis_s;

/* Lines below `level` are dropped; `redis` may be NULL (stderr only). */
void cw_log_setup(cw_log_level_e level, struct cw_redis_s *redis,
    const char *stream_key, long maxlen);
void cw_log(cw_log_level_e level, const char *component, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));
int cw_log_level_parse(const char *s, cw_log_level_e *level);
const char *cw_log_level_name(cw_log_level_e level);

/*
 * The trace of the job whose code runs now (engine/cw_trace.c sets it):
 * every line ends with `trace_id=<32 hex>` while it is set.  NULL: none.
 * The string must live until the next call.
 */
void cw_log_trace(const char *trace_id);

/*
 * `s` when it can be quoted in a log line or a status message as an id
 * (1 to 128 of [A-Za-z0-9._:-]), else a placeholder: a value taken from a
 * sender or a CRM field is not quoted unless it has the shape of an id,
 * since it could hold anything, PHI included.  NULL gives "-".
 */
const char *cw_log_id(const char *s);

#define cw_debug(comp, ...)  cw_log(CW_LOG_DEBUG, comp, __VA_ARGS__)
#define cw_error(comp, ...)  cw_log(CW_LOG_ERROR, comp, __VA_ARGS__)
#define cw_exception(comp, ...)  cw_log(CW_LOG_EXCEPTION, comp, __VA_ARGS__)

#endif /* CW_LOG_H */
