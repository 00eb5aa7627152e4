/*
 * openloop: an open-loop HTTP load for make bench's latency figure
 * (docs/performance.md, "Latency at a fixed rate").
 *
 *   openloop -p PORT -r RATE -d SECONDS -f PAYLOAD -i RUN
 *            [-c CONNS] [-w WARMUP_SECONDS] [-u PATH]
 *
 * Requests are due on a fixed schedule, one every 1/RATE s from the
 * start, whatever the server does; a request's latency runs from the time
 * it was DUE to the time its whole answer was read.  A closed loop (wrk,
 * even with a pause before each request) sends the next request only once
 * the previous answer came, so a server that stalls is offered less while
 * it stalls and the requests it delayed are never counted as waiting
 * ("coordinated omission").  Here a due request that finds every
 * connection busy waits in a queue, and that wait is part of its latency.
 *
 * The body is the seed's enrollment with a distinct patient id per
 * request (h<run:4>00<sequence:8>, 15 characters like the seed's), as
 * the bench's other loads send it, so that every 200 is one new job.
 * CONNS keep-alive connections (64) are opened before the start, one
 * request in flight on each (HTTP/1.1 without pipelining).
 *
 * One thread, epoll, a timerfd at the next due time: it costs the machine
 * far less than wrk and its LuaJIT, which matters on two shared cores.
 * The first WARMUP_SECONDS of the schedule (0.5) are sent and answered
 * but not timed.  At the end every answer is waited for (up to 10 s), so
 * the 200s counted are exactly the jobs queued.
 *
 * It prints, one per line:  status <code> <count>, sent (every request,
 * warm-up included), requests (timed), latency_{mean,p50,p90,p99,
 * p999,max}_us, wake_p99_us (how late the generator's own timer fired:
 * the client's share of the latency, the same for every server),
 * queued_max (the most due requests that found every connection busy at
 * once: 0 unless the server held CONNS answers back).
 * Exit 1 on a usage or set-up error; answers other than 200 are printed,
 * not an error.
 */

#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>


#define OL_SEED_ID      "ha61236024160af"
#define OL_ID_LEN       15
#define OL_IN_SIZE      8192
#define OL_DRAIN_NS     (10 * 1000000000LL)
#define OL_MAX_STATUS   600


typedef struct {
    int        fd;
    int        busy;            /* a request in flight */
    int        writable;
    int64_t    due;             /* the request's due time, ns */
    int        timed;
    size_t     sent;            /* bytes of the request written */
    char      *req;             /* this connection's copy of the request */
    size_t     inlen;
    char       in[OL_IN_SIZE];
} ol_conn_t;


static struct sockaddr_in   ol_addr;
static char                *ol_tmpl;
static size_t               ol_tmpl_len;
static size_t               ol_id_at;
static unsigned             ol_run;
static uint64_t             ol_seq;
static int                  ol_epfd;

static uint64_t             ol_status[OL_MAX_STATUS];
static int64_t             *ol_lat;     /* ns, one per timed request */
static size_t               ol_nlat;
static int64_t             *ol_wake;    /* ns, one per timer wake-up */
static size_t               ol_nwake, ol_wake_cap;

/* due requests waiting for a free connection: their due times, a ring */
static int64_t             *ol_queue;
static size_t               ol_qhead, ol_qlen, ol_qcap, ol_qmax;
static int64_t              ol_timed_from;      /* due at or after: timed */


static void
ol_die(const char *what)
{
    perror(what);
    exit(1);
}


static int64_t
ol_now(void)
{
    struct timespec  ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}


static void
ol_load(const char *path, int port, const char *uri)
{
    FILE    *f;
    char    *body, *at, hdr[512];
    long     len;
    size_t   head, hlen;

    f = fopen(path, "rb");
    if (f == NULL) {
        ol_die(path);
    }

    if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0
        || fseek(f, 0, SEEK_SET) != 0)
    {
        ol_die(path);
    }

    body = malloc((size_t) len + 1);
    if (body == NULL || fread(body, 1, (size_t) len, f) != (size_t) len) {
        ol_die(path);
    }

    body[len] = '\0';
    fclose(f);

    at = strstr(body, "\"id\": \"" OL_SEED_ID "\"");
    if (at == NULL) {
        fprintf(stderr, "openloop: the seed's patient id is not in %s\n",
                path);
        exit(1);
    }

    head = (size_t) (at - body) + sizeof("\"id\": \"") - 1;

    hlen = (size_t) snprintf(hdr, sizeof(hdr),
                             "POST %s HTTP/1.1\r\n"
                             "Host: 127.0.0.1:%d\r\n"
                             "Content-Type: application/json\r\n"
                             "Content-Length: %ld\r\n\r\n", uri, port, len);

    ol_tmpl_len = hlen + (size_t) len;
    ol_tmpl = malloc(ol_tmpl_len);
    if (ol_tmpl == NULL) {
        ol_die("malloc");
    }

    memcpy(ol_tmpl, hdr, hlen);
    memcpy(ol_tmpl + hlen, body, (size_t) len);
    ol_id_at = hlen + head;
    free(body);
}


static void
ol_connect(ol_conn_t *c)
{
    int                 one = 1;
    struct epoll_event  ev;

    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    if (c->fd == -1) {
        ol_die("socket");
    }

    /* blocking connect on loopback, before the clock runs */
    if (connect(c->fd, (struct sockaddr *) &ol_addr, sizeof(ol_addr)) != 0) {
        ol_die("connect");
    }

    if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0
        || fcntl(c->fd, F_SETFL, O_NONBLOCK) != 0)
    {
        ol_die("setsockopt");
    }

    ev.events = EPOLLIN | EPOLLOUT | EPOLLET;
    ev.data.ptr = c;

    if (epoll_ctl(ol_epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        ol_die("epoll_ctl");
    }

    c->busy = 0;
    c->writable = 1;
    c->inlen = 0;
}


static void
ol_record(ol_conn_t *c, int status, int64_t now)
{
    ol_status[status > 0 && status < OL_MAX_STATUS ? status : 0]++;

    if (c->timed) {
        ol_lat[ol_nlat++] = now - c->due;
    }

    c->busy = 0;
}


/* The server closed a connection: its request is lost (599), a new one. */

static void
ol_reconnect(ol_conn_t *c, int64_t now)
{
    if (c->busy) {
        ol_record(c, 599, now);
    }

    close(c->fd);
    ol_connect(c);
}


static void
ol_write(ol_conn_t *c, int64_t now)
{
    ssize_t  n;

    while (c->sent < ol_tmpl_len) {
        n = send(c->fd, c->req + c->sent, ol_tmpl_len - c->sent,
                 MSG_NOSIGNAL);

        if (n > 0) {
            c->sent += (size_t) n;
            continue;
        }

        if (n == -1 && errno == EAGAIN) {
            c->writable = 0;
            return;
        }

        if (n == -1 && errno == EINTR) {
            continue;
        }

        ol_reconnect(c, now);
        return;
    }
}


static void
ol_send(ol_conn_t *c, int64_t due, int64_t now)
{
    char  id[OL_ID_LEN + 1];

    snprintf(id, sizeof(id), "h%04u00%08llu", ol_run,
             (unsigned long long) (++ol_seq % 100000000ULL));
    memcpy(c->req + ol_id_at, id, OL_ID_LEN);

    c->busy = 1;
    c->due = due;
    c->timed = due >= ol_timed_from;
    c->sent = 0;

    if (c->writable) {
        ol_write(c, now);
    }
}


/* The end of a chunked body that starts at "at", or 0 while incomplete. */

static size_t
ol_chunked(const char *in, size_t len, size_t at)
{
    char           *eol;
    unsigned long   size;

    for ( ;; ) {
        eol = memmem(in + at, len - at, "\r\n", 2);
        if (eol == NULL) {
            return 0;
        }

        size = strtoul(in + at, NULL, 16);
        at = (size_t) (eol - in) + 2 + size + 2;

        if (at > len) {
            return 0;
        }

        if (size == 0) {
            return at;
        }
    }
}


/* Complete answers at the head of c->in: their status, one at a time. */

static void
ol_read(ol_conn_t *c, int64_t now)
{
    ssize_t  n;
    char    *end, *cl;
    size_t   total;
    long     clen;
    int      status, chunked;

    for ( ;; ) {
        n = recv(c->fd, c->in + c->inlen, OL_IN_SIZE - 1 - c->inlen, 0);

        if (n == -1 && errno == EINTR) {
            continue;
        }

        if (n == -1 && errno == EAGAIN) {
            return;
        }

        if (n <= 0) {
            ol_reconnect(c, now);
            return;
        }

        c->inlen += (size_t) n;
        c->in[c->inlen] = '\0';

        for ( ;; ) {
            end = strstr(c->in, "\r\n\r\n");
            if (end == NULL) {
                break;
            }

            if (c->inlen < 12 || memcmp(c->in, "HTTP/1.", 7) != 0) {
                fprintf(stderr, "openloop: not an HTTP answer\n");
                exit(1);
            }

            status = atoi(c->in + 9);
            *end = '\0';
            cl = strcasestr(c->in, "\r\ncontent-length:");
            chunked = strcasestr(c->in, "\r\ntransfer-encoding: chunked")
                      != NULL;
            clen = cl ? strtol(cl + 17, NULL, 10) : 0;
            *end = '\r';

            total = (size_t) (end + 4 - c->in) + (size_t) clen;

            if (chunked) {
                /* chunks up to the last, empty one (the Lua answers) */
                total = ol_chunked(c->in, c->inlen,
                                   (size_t) (end + 4 - c->in));
                if (total == 0) {
                    break;
                }
            }

            if (c->inlen < total) {
                break;
            }

            memmove(c->in, c->in + total, c->inlen - total + 1);
            c->inlen -= total;

            if (c->busy) {
                ol_record(c, status, now);
            }
        }

        if (c->inlen >= OL_IN_SIZE - 1) {
            fprintf(stderr, "openloop: an answer larger than %d bytes\n",
                    OL_IN_SIZE);
            exit(1);
        }
    }
}


static void
ol_enqueue(int64_t due)
{
    if (ol_qlen == ol_qcap) {
        fprintf(stderr, "openloop: more than %zu requests waiting for a "
                "connection: the server does not keep up\n", ol_qcap);
        exit(1);
    }

    ol_queue[(ol_qhead + ol_qlen++) % ol_qcap] = due;
}


static void
ol_dispatch(ol_conn_t *conns, int nconns, int64_t now)
{
    int  i;

    for (i = 0; i < nconns && ol_qlen; i++) {
        if (!conns[i].busy) {
            ol_send(&conns[i], ol_queue[ol_qhead], now);
            ol_qhead = (ol_qhead + 1) % ol_qcap;
            ol_qlen--;
        }
    }

    /* what is left waits for an answer to free a connection */
    if (ol_qlen > ol_qmax) {
        ol_qmax = ol_qlen;
    }
}


static int
ol_cmp(const void *a, const void *b)
{
    int64_t  x = *(const int64_t *) a, y = *(const int64_t *) b;

    return (x > y) - (x < y);
}


/* nearest rank, in µs */

static double
ol_pct(int64_t *v, size_t n, double p)
{
    size_t  k;

    if (n == 0) {
        return 0;
    }

    k = (size_t) (p / 100 * (double) n + 0.999999);
    k = k ? k - 1 : 0;

    return (double) v[k < n ? k : n - 1] / 1000;
}


static void
ol_usage(void)
{
    fprintf(stderr, "usage: openloop -p PORT -r RATE -d SECONDS -f PAYLOAD "
            "-i RUN [-c CONNS] [-w WARMUP_SECONDS] [-u PATH]\n");
    exit(1);
}


int
main(int argc, char **argv)
{
    int                  opt, port = 0, nconns = 64, i, n, tfd;
    double               rate = 0, secs = 0, warm = 0.5, sum;
    const char          *payload = NULL, *uri = "/webhook/user-enrollment";
    int64_t              t0, now, due, last_due;
    uint64_t             k, total, expired;
    ol_conn_t           *conns, *c;
    struct epoll_event   evs[128], ev;
    struct itimerspec    its;

    while ((opt = getopt(argc, argv, "p:r:d:f:i:c:w:u:")) != -1) {
        switch (opt) {
        case 'p': port = atoi(optarg); break;
        case 'r': rate = atof(optarg); break;
        case 'd': secs = atof(optarg); break;
        case 'f': payload = optarg; break;
        case 'i': ol_run = (unsigned) atoi(optarg) % 10000; break;
        case 'c': nconns = atoi(optarg); break;
        case 'w': warm = atof(optarg); break;
        case 'u': uri = optarg; break;
        default: ol_usage();
        }
    }

    if (port <= 0 || rate <= 0 || secs <= 0 || payload == NULL
        || nconns <= 0 || warm < 0)
    {
        ol_usage();
    }

    /* the timer fires when asked, not up to 50 µs later */
    (void) prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);

    ol_load(payload, port, uri);

    ol_addr.sin_family = AF_INET;
    ol_addr.sin_port = htons((uint16_t) port);
    ol_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

    ol_epfd = epoll_create1(0);
    if (ol_epfd == -1) {
        ol_die("epoll_create1");
    }

    conns = calloc((size_t) nconns, sizeof(ol_conn_t));
    if (conns == NULL) {
        ol_die("calloc");
    }

    for (i = 0; i < nconns; i++) {
        conns[i].req = malloc(ol_tmpl_len);
        if (conns[i].req == NULL) {
            ol_die("malloc");
        }
        memcpy(conns[i].req, ol_tmpl, ol_tmpl_len);
        ol_connect(&conns[i]);
    }

    total = (uint64_t) ((warm + secs) * rate);
    ol_lat = malloc(sizeof(int64_t) * (total + 1));
    ol_qcap = total + 1;
    ol_queue = malloc(sizeof(int64_t) * ol_qcap);
    ol_wake_cap = total + 1;
    ol_wake = malloc(sizeof(int64_t) * ol_wake_cap);
    if (ol_lat == NULL || ol_queue == NULL || ol_wake == NULL) {
        ol_die("malloc");
    }

    tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    if (tfd == -1) {
        ol_die("timerfd_create");
    }

    ev.events = EPOLLIN;
    ev.data.ptr = NULL;
    if (epoll_ctl(ol_epfd, EPOLL_CTL_ADD, tfd, &ev) != 0) {
        ol_die("epoll_ctl");
    }

    /* request k is due at t0 + k / rate (kept exact: k * 1e9 / rate) */
    t0 = ol_now() + 1000000;
    ol_timed_from = t0 + (int64_t) (warm * 1e9);
    k = 0;
    last_due = 0;

#define OL_DUE(k)  (t0 + (int64_t) ((double) (k) * 1e9 / rate))

    memset(&its, 0, sizeof(its));

    for ( ;; ) {
        now = ol_now();

        if (k < total) {
            due = OL_DUE(k);

            if (due <= now) {
                if (ol_nwake < ol_wake_cap) {
                    ol_wake[ol_nwake++] = now - due;
                }

                while (k < total && (due = OL_DUE(k)) <= now) {
                    ol_enqueue(due);
                    last_due = due;
                    k++;
                }

                ol_dispatch(conns, nconns, now);
            }

            if (k < total) {
                due = OL_DUE(k);
                its.it_value.tv_sec = due / 1000000000LL;
                its.it_value.tv_nsec = due % 1000000000LL;

                if (timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL)
                    != 0)
                {
                    ol_die("timerfd_settime");
                }
            }

        } else {
            for (i = 0; i < nconns && !conns[i].busy; i++) { /* void */ }

            if (i == nconns && ol_qlen == 0) {
                break;
            }

            if (now - last_due > OL_DRAIN_NS) {
                fprintf(stderr, "openloop: answers missing 10 s after the "
                        "last request\n");
                break;
            }
        }

        n = epoll_wait(ol_epfd, evs, 128, k < total ? -1 : 100);
        if (n == -1 && errno != EINTR) {
            ol_die("epoll_wait");
        }

        now = ol_now();

        for (i = 0; i < n; i++) {
            c = evs[i].data.ptr;

            if (c == NULL) {
                if (read(tfd, &expired, sizeof(expired)) < 0
                    && errno != EAGAIN)
                {
                    ol_die("read timerfd");
                }
                continue;
            }

            if (evs[i].events & EPOLLOUT) {
                c->writable = 1;
                if (c->busy && c->sent < ol_tmpl_len) {
                    ol_write(c, now);
                }
            }

            if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ol_read(c, now);
            }
        }

        ol_dispatch(conns, nconns, now);
    }

    for (i = 0; i < OL_MAX_STATUS; i++) {
        if (ol_status[i]) {
            printf("status %d %llu\n", i ? i : 599,
                   (unsigned long long) ol_status[i]);
        }
    }

    for (i = 0; i < nconns; i++) {
        if (conns[i].busy) {
            printf("status 599 1\n");       /* never answered */
        }
    }

    qsort(ol_lat, ol_nlat, sizeof(int64_t), ol_cmp);
    qsort(ol_wake, ol_nwake, sizeof(int64_t), ol_cmp);

    sum = 0;
    for (k = 0; k < ol_nlat; k++) {
        sum += (double) ol_lat[k];
    }

    printf("sent %llu\n", (unsigned long long) ol_seq);
    printf("requests %zu\n", ol_nlat);
    printf("latency_mean_us %.1f\n", ol_nlat ? sum / ol_nlat / 1000 : 0.0);
    printf("latency_p50_us %.1f\n", ol_pct(ol_lat, ol_nlat, 50));
    printf("latency_p90_us %.1f\n", ol_pct(ol_lat, ol_nlat, 90));
    printf("latency_p99_us %.1f\n", ol_pct(ol_lat, ol_nlat, 99));
    printf("latency_p999_us %.1f\n", ol_pct(ol_lat, ol_nlat, 99.9));
    printf("latency_max_us %.1f\n",
           ol_nlat ? (double) ol_lat[ol_nlat - 1] / 1000 : 0.0);
    printf("wake_p99_us %.1f\n", ol_pct(ol_wake, ol_nwake, 99));
    printf("queued_max %zu\n", ol_qmax);

    return 0;
}
