/*
 * caresync-worker: the job key ring and opening sealed jobs
 * (see cw_crypto.h).
 */

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cs_seal.h"
#include "engine/cw_audit.h"
#include "engine/cw_crypto.h"
#include "engine/cw_log.h"
#include "engine/cw_util.h"

#define CW_CRYPTO_FILE_MAX  4096


/* One key file into key; the same rule as nginx's secret files. */
static int
cw_crypto_read(const char *path, unsigned char key[CS_SEAL_KEY_LEN],
    char *err, size_t errlen)
{
    int          fd, rc;
    char         text[CW_CRYPTO_FILE_MAX + 1];
    ssize_t      n;
    struct stat  st;

    fd = open(path, O_RDONLY | O_NOCTTY);
    if (fd < 0) {
        cw_conf_err(err, errlen, "crypto.keys: cannot open %s: %s", path,
                      strerror(errno));
        return -1;
    }

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)
        || st.st_size > CW_CRYPTO_FILE_MAX)
    {
        close(fd);
        cw_conf_err(err, errlen, "crypto.keys: %s is not a regular file "
                      "of at most %d bytes", path, CW_CRYPTO_FILE_MAX);
        return -1;
    }

    if (st.st_mode & 077) {
        close(fd);
        cw_conf_err(err, errlen, "crypto.keys: %s may be read or written "
                      "by group or others (mode %04o): chmod 600 it, owned "
                      "by the user the worker runs as", path,
                      (unsigned) (st.st_mode & 07777));
        return -1;
    }

    n = read(fd, text, sizeof(text) - 1);
    close(fd);

    if (n < 0) {
        cw_conf_err(err, errlen, "crypto.keys: cannot read %s: %s", path,
                      strerror(errno));
        return -1;
    }

    rc = cs_seal_key_hex(text, (size_t) n, key);
    explicit_bzero(text, sizeof(text));

    if (rc != 0) {
        cw_conf_err(err, errlen, "crypto.keys: %s does not hold a key of "
                      "64 hex characters (as `openssl rand -hex 32` writes "
                      "it)", path);
        return -1;
    }

    return 0;
}


int
cw_crypto_load(cw_conf_t *c, char *err, size_t errlen)
{
    int             rc = 0, r;
    char           *list, *tok, *save, *colon;
    unsigned char   key[CS_SEAL_KEY_LEN];
    cs_seal_ring_t *ring;

    if (c->crypto.keys == NULL) {
        return 0;
    }

    ring = cw_calloc(1, sizeof(cs_seal_ring_t));
    cs_seal_ring_init(ring);
    c->crypto.ring = ring;

    /* "id:/path" words, separated by white space or commas */
    list = cw_strdup(c->crypto.keys);

    for (tok = strtok_r(list, " \t,", &save); tok;
         tok = strtok_r(NULL, " \t,", &save))
    {
        colon = strchr(tok, ':');

        if (colon == NULL || colon[1] == '\0') {
            cw_conf_err(err, errlen, "crypto.keys: `%s` is not "
                          "<key id>:<file>", tok);
            rc = -1;
            continue;
        }

        *colon = '\0';

        if (!cs_seal_kid_ok(tok, strlen(tok))) {
            cw_conf_err(err, errlen, "crypto.keys: key id `%.40s` must be "
                          "1 to %d letters, digits, `.`, `_` or `-`", tok,
                          CS_SEAL_KID_MAX);
            rc = -1;
            continue;
        }

        if (cw_crypto_read(colon + 1, key, err, errlen) != 0) {
            rc = -1;
            continue;
        }

        r = cs_seal_ring_add(ring, tok, strlen(tok), key);
        explicit_bzero(key, sizeof(key));

        if (r == CS_SEAL_DUPLICATE) {
            cw_conf_err(err, errlen, "crypto.keys: key id `%s` is listed "
                          "twice, or its key is listed under another id",
                          tok);
            rc = -1;

        } else if (r == CS_SEAL_FULL) {
            cw_conf_err(err, errlen, "crypto.keys: at most %d keys",
                          CS_SEAL_KEYS_MAX);
            rc = -1;
        }
    }

    free(list);

    if (rc == 0 && ring->n == 0) {
        cw_conf_err(err, errlen, "crypto.keys names no key");
        rc = -1;
    }

    return rc;
}


void
cw_crypto_free(cw_conf_t *c)
{
    if (c->crypto.ring) {
        cs_seal_ring_free(c->crypto.ring);
        free(c->crypto.ring);
        c->crypto.ring = NULL;
    }
}


static int
cw_crypto_has(const char *p, size_t n, const char *lit)
{
    size_t       m = strlen(lit);
    const char  *q, *end;

    for (q = p, end = p + n; (size_t) (end - q) >= m; q++) {
        q = memchr(q, lit[0], (size_t) (end - q) - m + 1);
        if (q == NULL) {
            return 0;
        }

        if (memcmp(q, lit, m) == 0) {
            return 1;
        }
    }

    return 0;
}


/*
 * A PHI member in an envelope in the clear.  A comma and a quote never
 * stand side by side inside a JSON string, so this is a member's name.
 */
static int
cw_crypto_has_phi(const char *raw, size_t len)
{
    return cw_crypto_has(raw, len, ",\"patient\":")
           || cw_crypto_has(raw, len, ",\"raw\":");
}


char *
cw_crypto_open(const cw_conf_t *c, char *raw, size_t len, char **text,
    size_t *text_len)
{
    int       rc;
    char      kid[CS_SEAL_KID_MAX + 1], msg[512];
    cs_buf_t  out;

    *text = raw;
    *text_len = len;

    if (c->crypto.ring == NULL) {
        if (cs_seal_kid((const unsigned char *) raw, len, kid)
            == CS_SEAL_PLAIN)
        {
            return NULL;
        }

        snprintf(msg, sizeof(msg), "the job is sealed (key id `%s`) and "
                 "crypto.keys is not configured: add the key to "
                 "crypto.keys, then replay the job", kid[0] ? kid : "?");
        return cw_strdup(msg);
    }

    cs_buf_init(&out);
    rc = cs_seal_open(c->crypto.ring, (const unsigned char *) raw, len,
                      &out, kid);

    switch (rc) {

    case CS_SEAL_OK:
        *text = out.data;
        *text_len = out.len;
        return NULL;

    case CS_SEAL_PLAIN:
        if (c->crypto.allow_clear || !cw_crypto_has_phi(raw, len)) {
            return NULL;
        }

        snprintf(msg, sizeof(msg), "the job carries PHI in the clear, and "
                 "crypto.keys is configured: refused (queued by an edge "
                 "without caresync_job_key? crypto.allow_clear = on lets "
                 "such jobs through while they drain)");
        break;

    case CS_SEAL_UNKNOWN_KEY:
        snprintf(msg, sizeof(msg), "the job is sealed with key id `%s`, "
                 "which is not in crypto.keys: add that key back, then "
                 "replay the job", kid);
        break;

    case CS_SEAL_FORGED:
        snprintf(msg, sizeof(msg), "the job sealed with key id `%s` does "
                 "not authenticate: it was changed after it was queued, or "
                 "the file given for `%s` is not the key it was sealed "
                 "with", kid, kid);
        break;

    case CS_SEAL_MALFORMED:
        snprintf(msg, sizeof(msg), "the job's sealed part is malformed (key "
                 "id `%s`): it was changed after it was queued",
                 kid[0] ? kid : "?");
        break;

    default:
        snprintf(msg, sizeof(msg), "out of memory while opening the sealed "
                 "job");
        break;
    }

    cs_buf_free(&out);
    return cw_strdup(msg);
}


void
cw_crypto_close(char *text, size_t text_len, const char *raw)
{
    if (text && text != raw) {
        explicit_bzero(text, text_len);
        free(text);
    }
}


void
cw_crypto_ids(const cw_conf_t *c, char *out, size_t len)
{
    size_t  i, off = 0;

    out[0] = '\0';

    for (i = 0; c->crypto.ring && i < c->crypto.ring->n; i++) {
        off += (size_t) snprintf(out + off, len - off, "%s%s",
                                 i ? " " : "", c->crypto.ring->keys[i].id);
        if (off >= len) {
            return;
        }
    }
}


void
cw_crypto_minus(const char *a, const char *b, char *out, size_t len)
{
    char         w[CS_SEAL_KID_MAX + 1];
    size_t       n, off = 0;
    const char  *e;

    out[0] = '\0';

    while ((e = cw_list_next(&a, &n)) != NULL) {
        if (n >= sizeof(w)) {
            continue;
        }
        memcpy(w, e, n);
        w[n] = '\0';
        if (!cw_list_has(b, w) && off + n + 2 < len) {
            off += (size_t) snprintf(out + off, len - off, "%s%s",
                                     off ? " " : "", w);
        }
    }
}


static void
cw_crypto_ring_key(const cw_conf_t *c, char *out, size_t len)
{
    snprintf(out, len, "%s:crypto:ring", c->redis.prefix);
}


int
cw_crypto_recorded(cw_redis_t *r, const cw_conf_t *c, char *out,
    size_t len)
{
    char         key[256];
    redisReply  *rep;

    cw_crypto_ring_key(c, key, sizeof(key));
    rep = cw_redis_cmd(r, "GET %s", key);

    if (rep == NULL || (rep->type != REDIS_REPLY_STRING
                        && rep->type != REDIS_REPLY_NIL))
    {
        if (rep) {
            freeReplyObject(rep);
        }
        return -1;
    }

    snprintf(out, len, "%s", rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);
    return 0;
}


int
cw_crypto_record(cw_redis_t *r, const cw_conf_t *c, const char *actor,
    const char *by, const char *protects)
{
    char         key[256], ids[CW_CRYPTO_IDS], old[CW_CRYPTO_IDS];
    char         added[CW_CRYPTO_IDS], retired[CW_CRYPTO_IDS];
    const char  *newest;
    redisReply  *rep;

    cw_crypto_ring_key(c, key, sizeof(key));
    cw_crypto_ids(c, ids, sizeof(ids));

    /* the swap itself says who saw the change first */
    rep = cw_redis_cmd(r, "GETSET %s %s", key, ids);
    if (rep == NULL || (rep->type != REDIS_REPLY_STRING
                        && rep->type != REDIS_REPLY_NIL))
    {
        cw_error("crypto", "cannot record the key ring in %s error=\"%s\"",
                 key, rep && rep->type == REDIS_REPLY_ERROR ? rep->str
                                                            : "no answer");
        if (rep) {
            freeReplyObject(rep);
        }
        return -1;
    }

    snprintf(old, sizeof(old), "%s",
             rep->type == REDIS_REPLY_STRING ? rep->str : "");
    freeReplyObject(rep);

    if (strcmp(old, ids) == 0) {
        return 0;
    }

    cw_crypto_minus(ids, old, added, sizeof(added));
    cw_crypto_minus(old, ids, retired, sizeof(retired));
    newest = strrchr(ids, ' ');
    newest = newest ? newest + 1 : ids;

    if (cw_audit_op(r, c, actor, "key rotation", "by", by,
                    "keys", ids[0] ? ids : "-",
                    "newest", *newest ? newest : "-",
                    "added", added[0] ? added : "-",
                    "retired", retired[0] ? retired : "-",
                    "before", old[0] ? old : "-",
                    "protects", protects, NULL) != 0)
    {
        /* not in the trail: the next start or command records it */
        rep = old[0] ? cw_redis_cmd(r, "SET %s %s", key, old)
                     : cw_redis_cmd(r, "DEL %s", key);
        if (rep) {
            freeReplyObject(rep);
        }
        return -1;
    }

    cw_debug("crypto", "key ring recorded keys=\"%s\" added=\"%s\" "
            "retired=\"%s\" by=\"%s\"", ids, added, retired, by);
    return 1;
}
