/*
 * caresync-worker: the sync log (stderr + capped Redis stream).
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cs_time.h"
#include "engine/cw_log.h"
#include "engine/cw_redis.h"
#include "engine/cw_util.h"


static cw_log_level_e      cw_log_min = CW_LOG_DEBUG;
static struct cw_redis_s  *cw_log_redis;
static const char         *cw_log_key;
static long                cw_log_maxlen = 100000;
static const char         *cw_log_trace_id;

static const char  *cw_log_names[] = { "debug", "error", "exception" };


void
cw_log_setup(cw_log_level_e level, struct cw_redis_s *redis,
    const char *stream_key, long maxlen)
{
    cw_log_min = level;
    cw_log_redis = redis;
    cw_log_key = stream_key;
    cw_log_maxlen = maxlen;
}


int
cw_log_level_parse(const char *s, cw_log_level_e *level)
{
    int  i;

    for (i = 0; i < 3; i++) {
        if (strcmp(s, cw_log_names[i]) == 0) {
            *level = (cw_log_level_e) i;
            return 0;
        }
    }

    return -1;
}


void
cw_log_trace(const char *trace_id)
{
    cw_log_trace_id = trace_id;
}


const char *
cw_log_level_name(cw_log_level_e level)
{
    return cw_log_names[level];
}


const char *
cw_log_id(const char *s)
{
    size_t  n;

    if (s == NULL) {
        return "-";
    }

    for (n = 0; s[n]; n++) {
        if (!((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z')
              || (s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '_'
              || s[n] == '.' || s[n] == ':')
            || n == 128)
        {
            return "(not an id)";
        }
    }

    return n > 0 ? s : "(not an id)";
}


void
cw_log(cw_log_level_e level, const char *component, const char *fmt, ...)
{
    int      n;
    char     ts[CS_TIME_ISO_LEN + 1], msg[1024], line[1200];
    char     maxlen[24];
    va_list  ap;

    if (level < cw_log_min) {
        return;
    }

    va_start(ap, fmt);
    n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    /* the line is about the job whose code runs: say which trace */
    if (cw_log_trace_id && n >= 0 && (size_t) n < sizeof(msg)) {
        snprintf(msg + n, sizeof(msg) - (size_t) n, " trace_id=%s",
                 cw_log_trace_id);
    }

    cs_time_format_iso((int64_t) cw_now_ms(), ts);

    /* one write(2) per line so that lines of processes never interleave */
    n = snprintf(line, sizeof(line), "%s %s %s %s\n", ts,
                 cw_log_names[level], component, msg);
    if (n > (int) sizeof(line) - 1) {
        n = (int) sizeof(line) - 1;
        line[n - 1] = '\n';
    }

    if (write(STDERR_FILENO, line, (size_t) n) < 0) {
        /* nowhere left to say it */
    }

    /* never connect from here: connecting logs, and a failure would loop */
    if (cw_log_redis == NULL || cw_log_key == NULL
        || cw_log_redis->ctx == NULL)
    {
        return;
    }

    /*
     * Queued on the pipeline that the loop flushes; `~` lets Redis trim
     * whole nodes, which is what makes the cap cheap.
     */
    snprintf(maxlen, sizeof(maxlen), "%ld", cw_log_maxlen);
    cw_redis_append(cw_log_redis, "XADD %s MAXLEN ~ %s * ts %s level %s "
                    "component %s msg %s", cw_log_key, maxlen, ts,
                    cw_log_names[level], component, msg);
}
