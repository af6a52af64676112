/* bench/tracker_load.c - load generator for BitTorrent trackers: UDP announces
 * (BEP 15) and HTTP announces (BEP 3, compact BEP 23), over loopback only.
 * Helper of bench/tracker.sh, which compiles it with `gcc -O2`.
 *
 *   tracker_load hashes [-s SWARMS]
 *       prints the info-hashes the other modes announce, 40 hex digits a line
 *       (the allow list / whitelist file for the tracker)
 *   tracker_load udp HOST PORT [options]
 *   tracker_load http HOST PORT [options]
 *       announces for -W seconds of warm-up and then -t seconds, measured, and
 *       prints one line of key=value pairs (see below)
 *   tracker_load udp HOST PORT -S [options]
 *       seeds: announces every peer (swarms x peers per swarm) once, with
 *       event=started and numwant 0, retrying lost or refused ones (up to 5
 *       sends each), and exits
 *
 * Options:
 *   -s SWARMS   swarms (info-hashes) announced to (default 1000)
 *   -p PEERS    peers per swarm (default 100)
 *   -n NUMWANT  numwant of every announce (default 50; seeding uses 0)
 *   -w WINDOW   UDP: announces in flight at once (default 64);
 *               HTTP: connections open at once, one request in flight on each
 *               (default 16)
 *   -t SECONDS  measured time (default 10)
 *   -W SECONDS  warm-up before it (default 1)
 *   -a ADDRS    source addresses 127.0.0.1 .. 127.0.0.ADDRS (default 4, at
 *               most 254): every peer has its own (source address, announced
 *               port), the key trackers store peers under
 *   -c          HTTP: send "Connection: close" (one announce per connection);
 *               without it HTTP/1.1 is sent without a Connection header and
 *               the connection is kept when the response allows it
 *   -T SECONDS  a request unanswered this long counts as a timeout and is
 *               sent again (default 1 for UDP, 5 for HTTP)
 *   -P PID      also report the CPU time of process PID (the tracker)
 *
 * Peers: peer g (0 <= g < swarms * peers) is in swarm g / peers, comes from
 * source address 127.0.0.(1 + g % ADDRS) and announces port 1024 + g / ADDRS;
 * its peer_id and key derive from g; every fourth peer is a seeder (left 0).
 * The load modes go through each address's peers in a scattered order
 * (j * K mod n, K coprime to n), so consecutive announces hit different
 * swarms. UDP: one socket per source address, each with its own connection
 * id, refreshed after 60 s (the old one stays in use until the new one comes)
 * and fetched again after an error reply. HTTP: connection i binds source
 * address i % ADDRS.
 *
 * Output (stdout, one line): mode=udp|http announces=N seconds=S rate=R
 *   errors=N short=N timeouts=N connects=N avg_peers=P gen_cpu=S
 *   [retries=N] window=N addrs=N [close=0|1] [tracker_cpu=S] core_busy=F,...
 *   other_cpu=S, all over the measured time: announces is the good replies,
 *   rate announces / seconds, errors error replies (UDP action 3; HTTP
 *   non-200 or a bencoded "failure reason") and failed connections, short
 *   UDP announce replies under 20 bytes (opentracker's answer to a hash that
 *   is not on its whitelist), connects UDP connect requests or TCP
 *   connections opened, avg_peers the mean number of peers per good reply,
 *   gen_cpu this process's user+sys CPU seconds, retries requests sent again
 *   on a new connection because the server closed a kept-alive one instead
 *   of answering, tracker_cpu the user+sys CPU seconds of process -P PID (all
 *   its threads), core_busy each core's busy share from /proc/stat (all but
 *   idle and iowait, so softirq network work counts), other_cpu the user+sys
 *   seconds of all other processes (neither this one nor the tracker).
 *   Seeding prints mode=seed peers=N acked=N failed=N errors=N short=N
 *   timeouts=N seconds=S gen_cpu=S and exits 1 if a peer could not be
 *   announced. With -P PID it first warms the tracker up (a connect and an
 *   announce for a hash off the allow list, swarm number SWARMS, on each
 *   socket), reads VmRSS and RssAnon of PID, seeds, waits 0.3 s and reads them
 *   again: rss_before_kib= rss_after_kib= anon_before_kib= anon_after_kib=
 *   come first on the line.
 * Exit status: 0 on success, 1 when nothing (or, seeding, not everything) was
 * answered, 2 on bad usage. Only 127.0.0.0/8 destinations are accepted.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

/* --- options and common helpers --------------------------------------------- */

static uint32_t o_swarms = 1000, o_peers = 100, o_addrs = 4;
static int32_t o_numwant = 50;
static uint32_t o_window = 0; /* 0: the mode's default */
static double o_seconds = 10, o_warmup = 1, o_timeout = 0;
static bool o_seed = false, o_close = false;
static struct sockaddr_in o_dest;
static char o_host[64];
static uint16_t o_port;

static uint64_t n_peers;      /* swarms * peers */
static uint8_t (*hashes)[20]; /* per swarm */

static void vsay(const char *fmt, va_list ap) {
    fputs("tracker_load: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
    exit(2);
}

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* info-hash of swarm s: 20 pseudo-random bytes (trackers may bucket by the
 * first bytes, so these must look random) */
static void make_hash(uint32_t s, uint8_t out[20]) {
    uint64_t st = 0x5348 ^ ((uint64_t)s << 16), r = 0;
    for (int i = 0; i < 20; i++) {
        if (i % 8 == 0) r = splitmix64(&st);
        out[i] = (uint8_t)(r >> (8 * (i % 8)));
    }
}

static void make_peer_id(uint64_t g, uint8_t out[20]) {
    memcpy(out, "-TL0001-", 8);
    uint64_t st = g * 31 + 7, r = splitmix64(&st);
    for (int i = 8; i < 20; i++) out[i] = "0123456789abcdefghijklmnopqrstuvwxyz"[(r >> ((i - 8) * 5)) % 36];
}

static uint32_t peer_key(uint64_t g) {
    uint64_t st = g ^ 0x6b6579, r = splitmix64(&st);
    return (uint32_t)r;
}

static uint16_t peer_port(uint64_t g) { return (uint16_t)(1024 + g / o_addrs); }
static uint64_t peer_left(uint64_t g) { return g % 4 == 0 ? 0 : 1000000000ULL; }

static uint32_t gcd32(uint32_t a, uint32_t b) {
    while (b) { uint32_t t = a % b; a = b; b = t; }
    return a;
}

/* Peers of one source address a: g = a + addrs * j, j < count. The load modes
 * walk j in a scattered order. */
struct walk {
    uint32_t a, count, mult, next;
};

static void walk_init(struct walk *w, uint32_t a) {
    w->a = a;
    w->count = (uint32_t)((n_peers - a + o_addrs - 1) / o_addrs);
    w->next = 0;
    uint32_t m = w->count > 1 ? (uint32_t)(2654435761u % w->count) : 1;
    if (m == 0) m = 1;
    while (w->count > 1 && gcd32(m, w->count) != 1) m++;
    w->mult = m;
}

static uint64_t walk_next(struct walk *w) {
    uint32_t j = (uint32_t)(((uint64_t)w->next * w->mult) % w->count);
    if (++w->next == w->count) w->next = 0;
    return w->a + (uint64_t)o_addrs * j;
}

static struct sockaddr_in source_addr(uint32_t a) {
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(0x7f000001u + a); /* 127.0.0.(1 + a) */
    sa.sin_port = 0;
    return sa;
}

static void put32(uint8_t *p, uint32_t v) { v = htonl(v); memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return ntohl(v); }

/* --- CPU use in the measured time: this process, the tracker (-P PID), each core --- */

#define MAX_CORES 256
struct cpusnap {
    double self, tracker;              /* CPU seconds (user + sys) */
    double busy[MAX_CORES], total[MAX_CORES], usersys;
    int cores;
};
static int o_pid = 0;
static struct cpusnap snap0;

static void cpusnap_take(struct cpusnap *s) {
    double tick = (double)sysconf(_SC_CLK_TCK);
    memset(s, 0, sizeof *s);
    s->self = cpu_s();
    s->tracker = -1;
    if (o_pid > 0) {
        char path[64], buf[1024];
        snprintf(path, sizeof path, "/proc/%d/stat", o_pid);
        FILE *f = fopen(path, "r");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = 0;
            char *p = strrchr(buf, ')');
            unsigned long ut, st;
            if (p && sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
                s->tracker = (ut + st) / tick;
        }
    }
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        int cpu;
        unsigned long long v[8] = {0};
        if (strncmp(line, "cpu", 3) != 0 || !(line[3] >= '0' && line[3] <= '9')) continue;
        if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu %llu %llu %llu", &cpu, &v[0], &v[1], &v[2], &v[3], &v[4], &v[5],
                   &v[6], &v[7]) < 5 || cpu < 0 || cpu >= MAX_CORES)
            continue;
        double tot = 0;
        for (int i = 0; i < 8; i++) tot += v[i];
        s->total[cpu] = tot / tick;
        s->busy[cpu] = (tot - v[3] - v[4]) / tick; /* all but idle and iowait */
        s->usersys += (v[0] + v[1] + v[2]) / tick;
        if (cpu + 1 > s->cores) s->cores = cpu + 1;
    }
    fclose(f);
}

/* " tracker_cpu=S core_busy=F,F,... other_cpu=S": the tracker's CPU seconds,
 * each core's busy fraction (not idle nor iowait: includes softirq work), and
 * the user+sys seconds of every other process (load that is neither) */
static void cpusnap_print(void) {
    struct cpusnap e;
    cpusnap_take(&e);
    double self = e.self - snap0.self;
    double tr = (o_pid > 0 && e.tracker >= 0 && snap0.tracker >= 0) ? e.tracker - snap0.tracker : 0;
    if (o_pid > 0) printf(" tracker_cpu=%.3f", tr);
    printf(" core_busy=");
    for (int c = 0; c < e.cores; c++) {
        double tot = e.total[c] - snap0.total[c];
        printf("%s%.2f", c ? "," : "", tot > 0 ? (e.busy[c] - snap0.busy[c]) / tot : 0.0);
    }
    double other = (e.usersys - snap0.usersys) - self - tr;
    printf(" other_cpu=%.3f", other > 0 ? other : 0.0);
}

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig) { (void)sig; stop_flag = 1; }

/* --- UDP (BEP 15) ------------------------------------------------------------ */

#define UDP_PROTOCOL_ID 0x41727101980ULL
#define BATCH 64
#define CONNECT_TID_BIT 0x80000000u

struct usock {
    int fd;
    uint64_t conn_id;
    bool have_id;
    double id_time;       /* when conn_id was obtained */
    bool connecting;      /* a connect request is in flight */
    uint32_t connect_tid;
    double connect_sent;
    uint32_t connect_gen;
    uint32_t *free_slots; /* stack of idle slot numbers */
    uint32_t n_free;
    struct walk walk;
    /* seeding: peers whose announce was lost or refused, to send again */
    struct retry { uint64_t g; uint32_t tries; } *retry;
    uint32_t n_retry, cap_retry;
    bool walk_done;
    /* pending sends */
    uint8_t out[BATCH][100];
    size_t out_len[BATCH];
    uint32_t n_out;
};

struct uslot {
    uint32_t sock;
    uint32_t tid;
    uint32_t gen;
    bool busy;
    double sent;
    uint64_t g;
    uint32_t tries; /* seeding: sends of this peer so far */
};

static struct usock *us;
static struct uslot *slots;
static uint32_t n_slots;

/* counters */
static uint64_t c_ok, c_err, c_short, c_timeout, c_connects, c_peers_returned;
static bool measuring;

/* Starts the measured time once the warm-up is over (noting CPU use at that
 * moment); true once the measured time is up. */
static bool measure_clock(double t, double *warm_end, double *end, double *cpu0) {
    if (!measuring && t >= *warm_end) {
        measuring = true;
        *cpu0 = cpu_s();
        cpusnap_take(&snap0);
        *warm_end = t;
        *end = t + o_seconds;
    }
    return measuring && t >= *end;
}
static uint64_t seed_acked, seed_failed;
static bool err_reported = false;

static void udp_flush(struct usock *s) {
    if (!s->n_out) return;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    memset(msgs, 0, sizeof msgs);
    for (uint32_t i = 0; i < s->n_out; i++) {
        iov[i].iov_base = s->out[i];
        iov[i].iov_len = s->out_len[i];
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    uint32_t done = 0;
    while (done < s->n_out) {
        int r = sendmmsg(s->fd, msgs + done, s->n_out - done, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            /* ENOBUFS/EAGAIN/ECONNREFUSED: the packets are lost; their slots time out */
            if (errno == ECONNREFUSED) continue; /* ICMP error from an earlier send; retry */
            break;
        }
        done += (uint32_t)r;
    }
    s->n_out = 0;
}

static uint8_t *udp_queue(struct usock *s) {
    if (s->n_out == BATCH) udp_flush(s);
    return s->out[s->n_out];
}

static void udp_send_connect(uint32_t si, double t) {
    struct usock *s = &us[si];
    uint8_t *p = udp_queue(s);
    s->connect_gen = (s->connect_gen + 1) & 0x7fff;
    s->connect_tid = CONNECT_TID_BIT | (s->connect_gen << 16) | si;
    put64(p, UDP_PROTOCOL_ID);
    put32(p + 8, 0);
    put32(p + 12, s->connect_tid);
    s->out_len[s->n_out++] = 16;
    s->connecting = true;
    s->connect_sent = t;
    if (measuring) c_connects++;
}

static void udp_send_announce(uint32_t slot_no, double t) {
    struct uslot *sl = &slots[slot_no];
    struct usock *s = &us[sl->sock];
    uint8_t *p = udp_queue(s);
    uint64_t g = sl->g;
    sl->gen = (sl->gen + 1) & 0x7ff;
    sl->tid = (sl->gen << 20) | slot_no;
    sl->busy = true;
    sl->sent = t;
    put64(p, s->conn_id);
    put32(p + 8, 1);
    put32(p + 12, sl->tid);
    memcpy(p + 16, hashes[g / o_peers], 20);
    make_peer_id(g, p + 36);
    put64(p + 56, 0);               /* downloaded */
    put64(p + 64, peer_left(g));    /* left */
    put64(p + 72, 0);               /* uploaded */
    put32(p + 80, o_seed ? 2 : 0);  /* event: started / none */
    put32(p + 84, 0);               /* ip: the sender's */
    put32(p + 88, peer_key(g));
    put32(p + 92, (uint32_t)(o_seed ? 0 : o_numwant));
    uint16_t port = htons(peer_port(g));
    memcpy(p + 96, &port, 2);
    s->out_len[s->n_out++] = 98;
}

static void seed_retry(struct usock *s, uint64_t g, uint32_t tries) {
    if (s->n_retry == s->cap_retry) {
        s->cap_retry = s->cap_retry ? s->cap_retry * 2 : 64;
        s->retry = realloc(s->retry, s->cap_retry * sizeof *s->retry);
        if (!s->retry) die("out of memory");
    }
    s->retry[s->n_retry].g = g;
    s->retry[s->n_retry++].tries = tries;
}

static void udp_slot_done(uint32_t slot_no) {
    struct uslot *sl = &slots[slot_no];
    struct usock *s = &us[sl->sock];
    sl->busy = false;
    s->free_slots[s->n_free++] = slot_no;
}

/* a lost or refused announce: in seeding, the peer is announced again, up to
 * 5 times in all */
static void udp_slot_failed(uint32_t slot_no) {
    struct uslot *sl = &slots[slot_no];
    if (o_seed) {
        if (sl->tries < 5) seed_retry(&us[sl->sock], sl->g, sl->tries);
        else seed_failed++;
    }
    udp_slot_done(slot_no);
}

static void udp_handle(uint32_t si, const uint8_t *p, size_t len, double t) {
    struct usock *s = &us[si];
    if (len < 8) return;
    uint32_t action = get32(p), tid = get32(p + 4);
    if (tid & CONNECT_TID_BIT) {
        if (tid != s->connect_tid || !s->connecting) return; /* stale */
        if (action == 0 && len >= 16) {
            s->conn_id = ((uint64_t)get32(p + 8) << 32) | get32(p + 12);
            s->have_id = true;
            s->id_time = t;
            s->connecting = false;
        } else if (action == 3) {
            if (measuring) c_err++;
            if (!err_reported) {
                err_reported = true;
                fprintf(stderr, "tracker_load: connect refused: %.*s\n", (int)(len - 8), (const char *)p + 8);
            }
            s->connecting = false; /* sent again by the main loop */
        }
        return;
    }
    uint32_t slot_no = tid & 0xfffff;
    if (slot_no >= n_slots) return;
    struct uslot *sl = &slots[slot_no];
    if (!sl->busy || sl->tid != tid || sl->sock != si) return; /* stale (timed out earlier) */
    if (action == 1 && len >= 20) {
        if (measuring) {
            c_ok++;
            c_peers_returned += (len - 20) / 6;
        }
        if (o_seed) seed_acked++;
        udp_slot_done(slot_no);
    } else if (action == 1) {
        if (measuring) c_short++;
        if (!err_reported) {
            err_reported = true;
            fprintf(stderr, "tracker_load: %zu-byte announce reply (not on the tracker's whitelist?)\n", len);
        }
        udp_slot_failed(slot_no);
    } else if (action == 3) {
        if (measuring) c_err++;
        if (!err_reported) {
            err_reported = true;
            int n = (int)(len - 8);
            while (n > 0 && p[8 + n - 1] == 0) n--;
            fprintf(stderr, "tracker_load: error reply: %.*s\n", n, (const char *)p + 8);
        }
        /* the connection id may have expired: get a new one before sending more */
        if (s->have_id && !s->connecting) s->have_id = false;
        udp_slot_failed(slot_no);
    } else {
        udp_slot_failed(slot_no);
    }
}

/* fills the idle slots of socket si with announces */
static void udp_fill(uint32_t si, double t) {
    struct usock *s = &us[si];
    if (!s->have_id) return;
    while (s->n_free) {
        uint64_t g;
        uint32_t tries = 0;
        if (o_seed) {
            if (s->n_retry) {
                s->n_retry--;
                g = s->retry[s->n_retry].g;
                tries = s->retry[s->n_retry].tries;
            } else if (!s->walk_done) {
                g = s->walk.a + (uint64_t)o_addrs * s->walk.next;
                if (++s->walk.next == s->walk.count) s->walk_done = true;
            } else {
                return;
            }
        } else {
            g = walk_next(&s->walk);
        }
        uint32_t slot_no = s->free_slots[--s->n_free];
        slots[slot_no].g = g;
        slots[slot_no].tries = tries + 1;
        udp_send_announce(slot_no, t);
    }
}

/* a field of /proc/PID/status in KiB ("VmRSS:", "RssAnon:"), -1 if unknown */
static long status_kib(int pid, const char *name) {
    char path[64], line[256];
    long v = -1;
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, strlen(name)) == 0) {
            v = strtol(line + strlen(name), NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

/* Before seeding: on every socket, a connect and one announce for an
 * info-hash that is not on the allow list (swarm number SWARMS), so that the
 * tracker has run its UDP code paths once - and allocated what it allocates
 * on first use - before its memory is read. The reply (a refusal) is not
 * checked; the connection id is kept for the seeding. */
static void seed_warmup(double t) {
    uint8_t p[100], r[2048], hash[20];
    make_hash(o_swarms, hash);
    for (uint32_t a = 0; a < o_addrs; a++) {
        struct usock *s = &us[a];
        struct pollfd pf = {.fd = s->fd, .events = POLLIN};
        for (int step = 0, tries = 0; step < 2 && tries < 6; tries++) {
            uint32_t tid = 0x7f000000u | (uint32_t)(tries << 8) | a;
            if (step == 0) {
                put64(p, UDP_PROTOCOL_ID);
                put32(p + 8, 0);
                put32(p + 12, tid);
                send(s->fd, p, 16, 0);
            } else {
                memset(p, 0, sizeof p);
                put64(p, s->conn_id);
                put32(p + 8, 1);
                put32(p + 12, tid);
                memcpy(p + 16, hash, 20);
                make_peer_id(a, p + 36);
                put64(p + 64, 1000);
                put32(p + 80, 2);
                uint16_t port = htons(1023);
                memcpy(p + 96, &port, 2);
                send(s->fd, p, 98, 0);
            }
            double until = now_s() + 0.5;
            while (now_s() < until) {
                if (poll(&pf, 1, 50) <= 0) continue;
                ssize_t n = recv(s->fd, r, sizeof r, MSG_DONTWAIT);
                if (n < 8 || get32(r + 4) != tid) continue;
                if (step == 0 && get32(r) == 0 && n >= 16) {
                    s->conn_id = ((uint64_t)get32(r + 8) << 32) | get32(r + 12);
                    s->have_id = true;
                    s->id_time = t;
                }
                step++;
                break;
            }
        }
    }
}

static int run_udp(void) {
    uint32_t window = o_window ? o_window : 64;
    double timeout = o_timeout > 0 ? o_timeout : 1.0;
    if (window < o_addrs) window = o_addrs;
    if (window > (1u << 20)) die("window too large");
    n_slots = window;
    us = calloc(o_addrs, sizeof *us);
    slots = calloc(n_slots, sizeof *slots);
    if (!us || !slots) die("out of memory");
    struct pollfd *pfd = calloc(o_addrs, sizeof *pfd);
    for (uint32_t a = 0; a < o_addrs; a++) {
        struct usock *s = &us[a];
        s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
        if (s->fd < 0) die("socket: %s", strerror(errno));
        int sz = 4 << 20;
        if (setsockopt(s->fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof sz) < 0)
            setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
        if (setsockopt(s->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
            setsockopt(s->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
        struct sockaddr_in src = source_addr(a);
        if (bind(s->fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind 127.0.0.%u: %s", a + 1, strerror(errno));
        if (connect(s->fd, (struct sockaddr *)&o_dest, sizeof o_dest) < 0) die("connect: %s", strerror(errno));
        s->free_slots = calloc(n_slots, sizeof *s->free_slots);
        walk_init(&s->walk, a);
        if (s->walk.count == 0) s->walk_done = true;
        pfd[a].fd = s->fd;
        pfd[a].events = POLLIN;
    }
    for (uint32_t i = 0; i < n_slots; i++) {
        slots[i].sock = i % o_addrs;
        us[i % o_addrs].free_slots[us[i % o_addrs].n_free++] = i;
    }

    long rss0 = -1, anon0 = -1;
    if (o_seed && o_pid > 0) {
        seed_warmup(now_s());
        usleep(200000);
        rss0 = status_kib(o_pid, "VmRSS:");
        anon0 = status_kib(o_pid, "RssAnon:");
    }
    double start = now_s(), t = start;
    double warm_end = start + (o_seed ? 0 : o_warmup), end = warm_end + o_seconds;
    double cpu0 = 0, last_scan = start;
    measuring = o_seed;
    if (o_seed) {
        cpu0 = cpu_s();
        cpusnap_take(&snap0);
    }
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    static uint8_t bufs[BATCH][2048];
    for (int i = 0; i < BATCH; i++) {
        iov[i].iov_base = bufs[i];
        iov[i].iov_len = sizeof bufs[i];
        memset(&msgs[i], 0, sizeof msgs[i]);
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
    }
    double last_progress = start;
    uint64_t last_acked = 0;
    for (;;) {
        t = now_s();
        if (stop_flag) break;
        if (!o_seed) {
            if (measure_clock(t, &warm_end, &end, &cpu0)) break;
        } else {
            bool all_done = true;
            for (uint32_t a = 0; a < o_addrs; a++)
                if (!us[a].walk_done || us[a].n_retry || us[a].n_free != (n_slots / o_addrs + (a < n_slots % o_addrs)))
                    all_done = false;
            if (all_done) break;
            if (seed_acked != last_acked) { last_acked = seed_acked; last_progress = t; }
            if (t - last_progress > 10) {
                fprintf(stderr, "tracker_load: nothing acknowledged for 10 s, giving up\n");
                break;
            }
        }
        /* connection ids: get one, refresh one older than 60 s, resend a lost request */
        for (uint32_t a = 0; a < o_addrs; a++) {
            struct usock *s = &us[a];
            if (s->connecting && t - s->connect_sent > timeout) {
                if (measuring) c_timeout++;
                s->connecting = false;
            }
            if (!s->connecting && (!s->have_id || t - s->id_time > 60)) udp_send_connect(a, t);
        }
        /* timeouts */
        if (t - last_scan > 0.05) {
            last_scan = t;
            for (uint32_t i = 0; i < n_slots; i++)
                if (slots[i].busy && t - slots[i].sent > timeout) {
                    if (measuring) c_timeout++;
                    udp_slot_failed(i);
                }
        }
        for (uint32_t a = 0; a < o_addrs; a++) {
            udp_fill(a, t);
            udp_flush(&us[a]);
        }
        int pr = poll(pfd, o_addrs, 10);
        if (pr < 0 && errno != EINTR) die("poll: %s", strerror(errno));
        if (pr <= 0) continue;
        t = now_s();
        for (uint32_t a = 0; a < o_addrs; a++) {
            if (!(pfd[a].revents & (POLLIN | POLLERR))) continue;
            for (;;) {
                int r = recvmmsg(us[a].fd, msgs, BATCH, MSG_DONTWAIT, NULL);
                if (r < 0) {
                    if (errno == EINTR) continue;
                    break; /* EAGAIN; ECONNREFUSED (nothing listening) - requests time out */
                }
                for (int i = 0; i < r; i++) udp_handle(a, bufs[i], msgs[i].msg_len, t);
                if (r < BATCH) break;
            }
        }
    }
    double cpu = cpu_s() - cpu0;
    if (o_seed) {
        double secs = now_s() - start;
        uint64_t lost = seed_failed;
        for (uint32_t a = 0; a < o_addrs; a++) lost += us[a].n_retry;
        for (uint32_t i = 0; i < n_slots; i++) lost += slots[i].busy;
        if (o_pid > 0) {
            usleep(300000); /* let the tracker finish what it does after answering */
            printf("rss_before_kib=%ld rss_after_kib=%ld anon_before_kib=%ld anon_after_kib=%ld ", rss0,
                   status_kib(o_pid, "VmRSS:"), anon0, status_kib(o_pid, "RssAnon:"));
        }
        printf("mode=seed peers=%llu acked=%llu failed=%llu errors=%llu short=%llu timeouts=%llu seconds=%.3f gen_cpu=%.3f\n",
               (unsigned long long)n_peers, (unsigned long long)seed_acked, (unsigned long long)lost, (unsigned long long)c_err,
               (unsigned long long)c_short, (unsigned long long)c_timeout, secs, cpu);
        return seed_acked == n_peers && lost == 0 ? 0 : 1;
    }
    double secs = t - warm_end;
    if (secs <= 0) secs = 1e-9;
    printf("mode=udp announces=%llu seconds=%.3f rate=%.0f errors=%llu short=%llu timeouts=%llu connects=%llu "
           "avg_peers=%.1f gen_cpu=%.3f window=%u addrs=%u",
           (unsigned long long)c_ok, secs, c_ok / secs, (unsigned long long)c_err, (unsigned long long)c_short,
           (unsigned long long)c_timeout, (unsigned long long)c_connects,
           c_ok ? (double)c_peers_returned / c_ok : 0.0, cpu, window, o_addrs);
    cpusnap_print();
    putchar('\n');
    return c_ok ? 0 : 1;
}

/* --- HTTP ---------------------------------------------------------------------- */

enum { H_CLOSED, H_CONNECTING, H_WRITING, H_READING };

struct hconn {
    int fd;
    int state;
    uint32_t events;     /* registered with epoll */
    uint32_t a;          /* source address index */
    bool reused;         /* the connection already carried a response */
    char req[512];
    size_t req_len, req_off;
    char buf[8192];
    size_t blen;
    size_t head_len;     /* 0 until the header is complete */
    long content_length; /* -1: chunked, or the body ends at close */
    bool chunked;        /* Transfer-Encoding: chunked */
    bool keep_alive;
    int status;
    double started;
};

static struct hconn *hc;
static uint32_t n_hc;
static int ep;
static struct walk *hwalks;
static uint64_t c_conns, c_retries;

static void pct(char **p, const uint8_t *b, size_t n) {
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < n; i++) {
        *(*p)++ = '%';
        *(*p)++ = hex[b[i] >> 4];
        *(*p)++ = hex[b[i] & 15];
    }
}

/* the next announce of connection c (its source address's next peer) */
static void http_build(struct hconn *c) {
    uint64_t g = walk_next(&hwalks[c->a]);
    uint8_t pid[20];
    make_peer_id(g, pid);
    char *p = c->req;
    p += sprintf(p, "GET /announce?info_hash=");
    pct(&p, hashes[g / o_peers], 20);
    p += sprintf(p, "&peer_id=");
    pct(&p, pid, 20);
    p += sprintf(p,
                 "&port=%u&uploaded=0&downloaded=0&left=%llu&compact=1&numwant=%d&key=%08x HTTP/1.1\r\n"
                 "Host: %s:%u\r\nUser-Agent: tracker_load\r\n%s\r\n",
                 peer_port(g), (unsigned long long)peer_left(g), o_numwant, peer_key(g), o_host, o_port,
                 o_close ? "Connection: close\r\n" : "");
    c->req_len = (size_t)(p - c->req);
    c->req_off = 0;
}

static void report_once(const char *fmt, ...) {
    if (err_reported) return;
    err_reported = true;
    va_list ap;
    va_start(ap, fmt);
    vsay(fmt, ap);
    va_end(ap);
}

static void http_want(struct hconn *c, uint32_t events) {
    if (c->events == events) return;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->events = events;
}

static void http_close(struct hconn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = H_CLOSED;
}

/* opens a new connection for c's request (c->req); on failure c stays closed
 * and the periodic scan tries again, so a dead server is not hammered */
static void http_open(struct hconn *c, double t) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket: %s", strerror(errno));
    if (o_addrs > 1) {
        int one = 1;
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        struct sockaddr_in src = source_addr(c->a);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind 127.0.0.%u: %s", c->a + 1, strerror(errno));
    }
    c->fd = fd;
    c->reused = false;
    c->req_off = 0;
    c->started = t;
    if (measuring) c_conns++;
    int r = connect(fd, (struct sockaddr *)&o_dest, sizeof o_dest);
    if (r < 0 && errno != EINPROGRESS) {
        if (measuring) c_err++;
        report_once("connect: %s", strerror(errno));
        http_close(c);
        return;
    }
    /* over loopback the handshake is usually done when connect returns: send
     * the request at once, and wait for the connection only if that fails */
    c->events = EPOLLOUT;
    ssize_t w = send(fd, c->req, c->req_len, MSG_NOSIGNAL);
    if (w > 0) {
        c->req_off = (size_t)w;
        c->state = c->req_off == c->req_len ? H_READING : H_WRITING;
        c->blen = 0;
        c->head_len = 0;
        if (c->state == H_READING) c->events = EPOLLIN | EPOLLRDHUP;
    } else {
        c->state = H_CONNECTING;
    }
    struct epoll_event ev = {.events = c->events, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl: %s", strerror(errno));
}

/* sends (the rest of) the request; false if the connection broke */
static bool http_write(struct hconn *c) {
    while (c->req_off < c->req_len) {
        ssize_t r = send(c->fd, c->req + c->req_off, c->req_len - c->req_off, MSG_NOSIGNAL);
        if (r < 0) {
            if (errno == EAGAIN || errno == EINTR) {
                c->state = H_WRITING;
                http_want(c, EPOLLOUT);
                return true;
            }
            return false;
        }
        c->req_off += (size_t)r;
    }
    c->state = H_READING;
    c->blen = 0;
    c->head_len = 0;
    http_want(c, EPOLLIN | EPOLLRDHUP);
    return true;
}

static bool header_has(const char *h, size_t n, const char *name, const char *value) {
    /* case-insensitive search for "\r\nName: ...value..." */
    size_t nl = strlen(name);
    for (size_t i = 0; i + 2 + nl < n; i++) {
        if (h[i] != '\r' || h[i + 1] != '\n' || strncasecmp(h + i + 2, name, nl) != 0 || h[i + 2 + nl] != ':') continue;
        size_t j = i + 3 + nl, e = j;
        while (e < n && h[e] != '\r') e++;
        if (!value) return true;
        for (size_t k = j; k + strlen(value) <= e; k++)
            if (strncasecmp(h + k, value, strlen(value)) == 0) return true;
    }
    return false;
}

static long header_long(const char *h, size_t n, const char *name) {
    size_t nl = strlen(name);
    for (size_t i = 0; i + 2 + nl < n; i++) {
        if (h[i] != '\r' || h[i + 1] != '\n' || strncasecmp(h + i + 2, name, nl) != 0 || h[i + 2 + nl] != ':') continue;
        return strtol(h + i + 3 + nl, NULL, 10);
    }
    return -1;
}

/* dechunk IN (a chunked body so far) into OUT: 1 when complete (*out_len
 * set), 0 when more is to come, -1 when malformed */
static int dechunk(const char *in, size_t n, char *out, size_t *out_len) {
    size_t i = 0, o = 0;
    for (;;) {
        const char *eol = memmem(in + i, n - i, "\r\n", 2);
        if (!eol) return 0;
        char *end;
        unsigned long size = strtoul(in + i, &end, 16);
        if (end == in + i) return -1;
        i = (size_t)(eol - in) + 2;
        if (size == 0) {
            /* trailer lines up to an empty line */
            for (;;) {
                const char *e = memmem(in + i, n - i, "\r\n", 2);
                if (!e) return 0;
                if (e == in + i) {
                    *out_len = o;
                    return 1;
                }
                i = (size_t)(e - in) + 2;
            }
        }
        if (n - i < size + 2) return 0;
        memcpy(out + o, in + i, size);
        o += size;
        i += size + 2;
    }
}

/* one complete response, body_len bytes at body */
static void http_response(struct hconn *c, const char *body, size_t body_len) {
    bool failure = memmem(body, body_len, "failure reason", 14) != NULL;
    if (c->status == 200 && !failure && body_len > 0) {
        if (measuring) {
            c_ok++;
            const char *pp = memmem(body, body_len, "5:peers", 7); /* compact: 5:peers<n>:<n bytes> */
            if (pp) c_peers_returned += (uint64_t)strtol(pp + 7, NULL, 10) / 6;
        }
    } else {
        if (measuring) c_err++;
        report_once("HTTP %d: %.*s", c->status, (int)(body_len > 200 ? 200 : body_len), body);
    }
}

/* next request on a new connection; same: the request that got no answer */
static void http_reopen(struct hconn *c, double t, bool same) {
    http_close(c);
    if (!same) http_build(c);
    if (!stop_flag) http_open(c, t);
}

/* hup: the server has closed its side (EPOLLRDHUP), so the connection is not reused */
static void http_read(struct hconn *c, double t, bool hup) {
    for (;;) {
        if (c->blen == sizeof c->buf) {
            if (measuring) c_err++;
            report_once("response longer than %zu bytes", sizeof c->buf);
            http_reopen(c, t, false);
            return;
        }
        ssize_t r = recv(c->fd, c->buf + c->blen, sizeof c->buf - c->blen, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return;
        if (r <= 0) {
            /* closed (or reset) by the server */
            if (c->blen == 0 && c->reused) {
                /* a kept-alive connection closed instead of answering: send the request again */
                if (measuring) c_retries++;
                http_reopen(c, t, true);
                return;
            }
            if (r == 0 && c->head_len && c->content_length < 0 && !c->chunked) {
                http_response(c, c->buf + c->head_len, c->blen - c->head_len);
            } else {
                if (measuring) c_err++;
                report_once("connection %s after %zu bytes of a response", r == 0 ? "closed" : strerror(errno), c->blen);
            }
            http_reopen(c, t, false);
            return;
        }
        c->blen += (size_t)r;
        if (!c->head_len) {
            char *e = memmem(c->buf, c->blen, "\r\n\r\n", 4);
            if (!e) continue;
            c->head_len = (size_t)(e - c->buf) + 4;
            int minor = 0;
            if (sscanf(c->buf, "HTTP/1.%d %d", &minor, &c->status) != 2) {
                if (measuring) c_err++;
                report_once("bad status line: %.40s", c->buf);
                http_reopen(c, t, false);
                return;
            }
            c->chunked = header_has(c->buf, c->head_len, "Transfer-Encoding", "chunked");
            c->content_length = c->chunked ? -1 : header_long(c->buf, c->head_len, "Content-Length");
            if (minor >= 1)
                c->keep_alive = !header_has(c->buf, c->head_len, "Connection", "close");
            else
                c->keep_alive = header_has(c->buf, c->head_len, "Connection", "keep-alive");
            if ((c->content_length < 0 && !c->chunked) || o_close) c->keep_alive = false;
        }
        bool complete = false;
        if (c->chunked) {
            static char decoded[sizeof c->buf];
            size_t dlen = 0;
            int d = dechunk(c->buf + c->head_len, c->blen - c->head_len, decoded, &dlen);
            if (d < 0) {
                if (measuring) c_err++;
                report_once("bad chunked body");
                http_reopen(c, t, false);
                return;
            }
            if (d > 0) {
                http_response(c, decoded, dlen);
                complete = true;
            }
        } else if (c->content_length >= 0 && c->blen >= c->head_len + (size_t)c->content_length) {
            http_response(c, c->buf + c->head_len, (size_t)c->content_length);
            complete = true;
        }
        if (complete) {
            if (!c->keep_alive || hup || stop_flag) {
                http_reopen(c, t, false);
                return;
            }
            c->reused = true;
            c->started = t;
            http_build(c);
            if (!http_write(c)) http_reopen(c, t, true);
            return;
        }
    }
}

static int run_http(void) {
    uint32_t window = o_window ? o_window : 16;
    double timeout = o_timeout > 0 ? o_timeout : 5.0;
    n_hc = window;
    hc = calloc(n_hc, sizeof *hc);
    hwalks = calloc(o_addrs, sizeof *hwalks);
    if (!hc || !hwalks) die("out of memory");
    for (uint32_t a = 0; a < o_addrs; a++) walk_init(&hwalks[a], a);
    ep = epoll_create1(0);
    if (ep < 0) die("epoll_create1: %s", strerror(errno));
    double start = now_s(), t = start;
    double warm_end = start + o_warmup, end = warm_end + o_seconds, cpu0 = 0, last_scan = start;
    measuring = false;
    for (uint32_t i = 0; i < n_hc; i++) {
        hc[i].fd = -1;
        hc[i].a = i % o_addrs;
        http_build(&hc[i]);
        http_open(&hc[i], t);
    }
    struct epoll_event evs[256];
    for (;;) {
        t = now_s();
        if (stop_flag) break;
        if (measure_clock(t, &warm_end, &end, &cpu0)) break;
        if (t - last_scan > 0.1) {
            last_scan = t;
            for (uint32_t i = 0; i < n_hc; i++) {
                struct hconn *c = &hc[i];
                if (c->state == H_CLOSED) {
                    http_build(c);
                    http_open(c, t);
                } else if (t - c->started > timeout) {
                    if (measuring) c_timeout++;
                    http_reopen(c, t, false);
                }
            }
        }
        int n = epoll_wait(ep, evs, 256, 10);
        if (n < 0 && errno != EINTR) die("epoll_wait: %s", strerror(errno));
        t = now_s();
        for (int i = 0; i < n; i++) {
            struct hconn *c = evs[i].data.ptr;
            if (c->fd < 0) continue;
            if (c->state == H_CONNECTING) {
                int err = 0;
                socklen_t l = sizeof err;
                getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
                if (err) {
                    if (measuring) c_err++;
                    report_once("connect: %s", strerror(err));
                    http_close(c); /* the scan opens it again */
                    continue;
                }
                c->state = H_WRITING;
            }
            if (c->state == H_WRITING) {
                if (!http_write(c)) {
                    if (measuring) c_err++;
                    report_once("send: %s", strerror(errno));
                    http_close(c);
                }
                continue;
            }
            if (c->state == H_READING) http_read(c, t, (evs[i].events & (EPOLLRDHUP | EPOLLHUP)) != 0);
        }
    }
    double cpu = cpu_s() - cpu0;
    double secs = t - warm_end;
    if (secs <= 0) secs = 1e-9;
    for (uint32_t i = 0; i < n_hc; i++) http_close(&hc[i]);
    printf("mode=http announces=%llu seconds=%.3f rate=%.0f errors=%llu short=0 timeouts=%llu connects=%llu "
           "avg_peers=%.1f gen_cpu=%.3f retries=%llu window=%u addrs=%u close=%d",
           (unsigned long long)c_ok, secs, c_ok / secs, (unsigned long long)c_err, (unsigned long long)c_timeout,
           (unsigned long long)c_conns, c_ok ? (double)c_peers_returned / c_ok : 0.0, cpu,
           (unsigned long long)c_retries, window, o_addrs, o_close ? 1 : 0);
    cpusnap_print();
    putchar('\n');
    return c_ok ? 0 : 1;
}

/* --- main ---------------------------------------------------------------------- */

static void usage(void) {
    fprintf(stderr,
            "usage: tracker_load hashes [-s SWARMS]\n"
            "       tracker_load udp|http HOST PORT [-s SWARMS] [-p PEERS] [-n NUMWANT] [-w WINDOW]\n"
            "                    [-t SECONDS] [-W WARMUP] [-a ADDRS] [-T TIMEOUT] [-P PID] [-c] [-S]\n"
            "(see the comment at the top of tracker_load.c)\n");
    exit(2);
}

static double num(const char *s, double lo, double hi, const char *what) {
    char *e;
    double v = strtod(s, &e);
    if (*s == 0 || *e != 0 || v < lo || v > hi) die("bad %s: %s", what, s);
    return v;
}

int main(int argc, char **argv) {
    if (argc < 2) usage();
    const char *mode = argv[1];
    bool is_hashes = strcmp(mode, "hashes") == 0;
    if (!is_hashes && strcmp(mode, "udp") != 0 && strcmp(mode, "http") != 0) usage();
    int first = 2;
    if (!is_hashes) {
        if (argc < 4) usage();
        snprintf(o_host, sizeof o_host, "%s", argv[2]);
        memset(&o_dest, 0, sizeof o_dest);
        o_dest.sin_family = AF_INET;
        if (inet_pton(AF_INET, argv[2], &o_dest.sin_addr) != 1) die("HOST must be an IPv4 address: %s", argv[2]);
        if ((ntohl(o_dest.sin_addr.s_addr) >> 24) != 127) die("only loopback (127.0.0.0/8) targets: %s", argv[2]);
        o_port = (uint16_t)num(argv[3], 1, 65535, "port");
        o_dest.sin_port = htons(o_port);
        first = 4;
    }
    optind = 1; /* getopt sees argv[first - 1 ..], with argv[0] copied to its front */
    argv[first - 1] = argv[0];
    int opt;
    while ((opt = getopt(argc - (first - 1), argv + (first - 1), "s:p:n:w:t:W:a:T:P:cS")) != -1) {
        switch (opt) {
        case 's': o_swarms = (uint32_t)num(optarg, 1, 1e7, "swarm count"); break;
        case 'p': o_peers = (uint32_t)num(optarg, 1, 1e7, "peer count"); break;
        case 'n': o_numwant = (int32_t)num(optarg, -1, 100000, "numwant"); break;
        case 'w': o_window = (uint32_t)num(optarg, 1, 100000, "window"); break;
        case 't': o_seconds = num(optarg, 0.1, 86400, "seconds"); break;
        case 'W': o_warmup = num(optarg, 0, 3600, "warm-up"); break;
        case 'a': o_addrs = (uint32_t)num(optarg, 1, 254, "address count"); break;
        case 'T': o_timeout = num(optarg, 0.01, 600, "timeout"); break;
        case 'c': o_close = true; break;
        case 'S': o_seed = true; break;
        case 'P': o_pid = (int)num(optarg, 1, 1e9, "pid"); break;
        default: usage();
        }
    }
    if (optind != argc - (first - 1)) usage();
    hashes = malloc((size_t)o_swarms * 20);
    if (!hashes) die("out of memory");
    for (uint32_t s = 0; s < o_swarms; s++) make_hash(s, hashes[s]);
    if (is_hashes) {
        for (uint32_t s = 0; s < o_swarms; s++) {
            for (int i = 0; i < 20; i++) printf("%02x", hashes[s][i]);
            putchar('\n');
        }
        return 0;
    }
    n_peers = (uint64_t)o_swarms * o_peers;
    if (1024 + (n_peers + o_addrs - 1) / o_addrs > 65536)
        die("%llu peers need more source addresses: with -a %u the announced ports pass 65535",
            (unsigned long long)n_peers, o_addrs);
    if (o_seed && strcmp(mode, "udp") != 0) die("-S is for udp only");
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    setvbuf(stdout, NULL, _IOLBF, 0);
    return strcmp(mode, "udp") == 0 ? run_udp() : run_http();
}
