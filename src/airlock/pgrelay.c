/* pgrelay: the wire proxy's compiled fast path (fronts/pgwire/relay.py drives it).
 *
 * airlock's Python proxy does startup, TLS decisions, SCRAM, token checks and the upstream
 * connection; then, for a plain client socket, it hands both sockets to this process over a
 * Unix control socket (SCM_RIGHTS) with a session id and the session's allow-cache: statement
 * texts Python ruled "allowed, a pure read, nothing to record first". From then on this relay
 * owns the session:
 *
 *  client -> server  buffered up to a batch end (simple Query, Sync, Flush). A batch whose
 *                    every Query/Parse text is in the cache (Query: the exact text, or its
 *                    shape when Python marked the text's verdict literal-free), whose Binds,
 *                    Describes and Closes name statements the relay knows to be allowed, is
 *                    forwarded unchanged. Anything else (a miss, COPY, a function call, an
 *                    unknown name, an unknown message) is *handed back*: the relay stops
 *                    reading the client, waits until every batch it forwarded is answered
 *                    (counting ReadyForQuery), tells Python the unconsumed client bytes, the
 *                    transaction status and the prepared-statement map, and lets go.
 *  server -> client  forwarded as it comes; frame headers are followed only to count
 *                    ReadyForQuery (and read its status), confirm ParseComplete, check
 *                    ParameterStatus (an encoding airlock cannot read ends the session) and
 *                    refuse COPY FROM STDIN (its data would pass unjudged).
 *
 * Fail closed: a malformed frame ends that session; a control socket that fails ends the
 * process (and so every session it holds); nothing Python did not allow is forwarded.
 *
 * Control messages (SOCK_SEQPACKET, one message per packet, integers big-endian):
 *  from Python  A sid status ttl_ms [fds: client, server]   attach
 *               T sid id flags text                          allow this text (flags&1: by shape)
 *               N sid id name                                a prepared statement (id 0: not here)
 *               G sid                                        start relaying
 *               K sid bytes                                  end the session (bytes to the client)
 *               I sid                                        forget the caches (sid 0: all)
 *  to Python    H sid (id count)*                            runs served since the last report
 *               D sid bytes                                  unconsumed client bytes (hand-back)
 *               B sid status (id namelen name)*              handed back
 *               C sid reason                                 ended
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define MAX_FRAME (1u << 30)
#define CIN_MAX (8u << 20)        /* client bytes buffered before a batch must be handed back */
#define OUT_HIGH (1u << 20)       /* stop reading a side whose peer's output queue is this big */
#define CHUNK (64u * 1024)
#define CTL_MAX (64u * 1024)
#define DATA_CHUNK (32u * 1024)
#define MAX_TEXTS 8192
#define MAX_STMTS 4096
#define PARAM_MAX 4096
#define SHAPE_MAX (16u * 1024)

static uint64_t seed = 1469598103934665603ULL;

static uint64_t now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t be32(const unsigned char *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}

static void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) { fprintf(stderr, "pgrelay: out of memory\n"); exit(3); }
    return q;
}

/* ---- buffers ------------------------------------------------------------------------------- */

typedef struct { unsigned char *p; size_t off, len, cap; } Buf;  /* live bytes: p[off..len) */

static size_t buf_size(const Buf *b) { return b->len - b->off; }

static void buf_add(Buf *b, const void *d, size_t n) {
    if (b->off && b->off == b->len) b->off = b->len = 0;
    if (b->len + n > b->cap) {
        if (b->off) { memmove(b->p, b->p + b->off, b->len - b->off); b->len -= b->off; b->off = 0; }
        if (b->len + n > b->cap) {
            size_t c = b->cap ? b->cap : 4096;
            while (c < b->len + n) c *= 2;
            b->p = xrealloc(b->p, c); b->cap = c;
        }
    }
    memcpy(b->p + b->len, d, n); b->len += n;
}

static void buf_eat(Buf *b, size_t n) {
    b->off += n;
    if (b->off == b->len) b->off = b->len = 0;
}

static void buf_free(Buf *b) { free(b->p); memset(b, 0, sizeof *b); }

/* ---- the shape of a statement ---------------------------------------------------------------
 * The text with each plain integer literal replaced by \1 and each standard string literal by
 * \2, everything else kept byte for byte. Two texts with one shape differ only in the values of
 * such literals, which airlock's fingerprint ignores too; Python sends a text "by shape" only
 * when its verdict holds for every text of its fingerprint. Where the lexing could be in doubt
 * (a backslash, a dollar sign, a double quote, a comment) there is no shape: exact text only. */
static int utf8_valid(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t k = c < 0x80 ? 0 : (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : 9;
        if (k == 9 || (k == 1 && c < 0xC2) || i + k >= n + (k ? 0 : 1)) return 0;
        for (size_t j = 1; j <= k; j++) if ((p[i + j] & 0xC0) != 0x80) return 0;
        i += k + 1;
    }
    return 1;
}

static int shape_of(const char *t, size_t n, Buf *out) {
    out->off = out->len = 0;
    /* what airlock's parser would not read (too long, not UTF-8) never shares a verdict */
    if (n > SHAPE_MAX || !utf8_valid((const unsigned char *)t, n)) return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)t[i];
        if (c == '\\' || c == '$' || c == '"' || c == 0) return -1;
        if (c == '&' && i + 1 < n && t[i + 1] == '\'') return -1;  /* U&'…': escapes inside */
        if ((c == '-' && i + 1 < n && t[i + 1] == '-') || (c == '/' && i + 1 < n && t[i + 1] == '*'))
            return -1;
    }
#define IDENT(ch) (((ch) >= 'a' && (ch) <= 'z') || ((ch) >= 'A' && (ch) <= 'Z') || \
                   ((ch) >= '0' && (ch) <= '9') || (ch) == '_' || (ch) >= 0x80)
    size_t i = 0;
    while (i < n) {
        unsigned char c = (unsigned char)t[i];
        unsigned char prev = i ? (unsigned char)t[i - 1] : ' ';
        if (c == '\'') {
            /* B'…', X'…', E'…', N'…', name'…': a prefix changes how the literal ends */
            if (IDENT(prev)) return -1;
            size_t j = i + 1;
            for (;;) {
                if (j >= n) return -1;  /* unterminated */
                if (t[j] == '\'') {
                    if (j + 1 < n && t[j + 1] == '\'') { j += 2; continue; }
                    break;
                }
                j++;
            }
            unsigned char two = 2;
            buf_add(out, &two, 1);
            i = j + 1;
            continue;
        }
        if (c >= '0' && c <= '9' && !IDENT(prev) && prev != '.') {
            size_t j = i;
            while (j < n && t[j] >= '0' && t[j] <= '9') j++;
            unsigned char next = j < n ? (unsigned char)t[j] : ' ';
            /* at most 9 digits: always an integer token to the server (longer ones may be numeric) */
            if (!IDENT(next) && next != '.' && j - i <= 9) {
                unsigned char one = 1;
                buf_add(out, &one, 1);
                i = j;
                continue;
            }
            /* 1.5, 1e5, 0x1F, 1_000: kept as they are, whole */
            while (j < n && (IDENT((unsigned char)t[j]) || t[j] == '.')) j++;
            buf_add(out, t + i, j - i);
            i = j;
            continue;
        }
        buf_add(out, &c, 1);
        i++;
    }
    return 0;
#undef IDENT
}

/* ---- texts: exact bytes → id --------------------------------------------------------------- */

typedef struct { char *key; uint32_t len, id; uint64_t h; } Slot;
typedef struct { Slot *s; uint32_t cap, used; } Table;

static uint64_t hash_of(const void *d, size_t n) {
    const unsigned char *p = d;
    uint64_t h = seed;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 1099511628211ULL; }
    return h ^ (h >> 29);
}

static uint32_t table_get(const Table *t, const void *k, size_t n) {
    if (!t->cap) return 0;
    uint64_t h = hash_of(k, n);
    for (uint32_t i = (uint32_t)h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        const Slot *s = &t->s[i];
        if (!s->key) return 0;
        if (s->h == h && s->len == n && memcmp(s->key, k, n) == 0) return s->id;
    }
}

static void table_put(Table *t, const void *k, size_t n, uint32_t id);

static void table_grow(Table *t) {
    Table bigger = {0};
    bigger.cap = t->cap ? t->cap * 2 : 64;
    bigger.s = calloc(bigger.cap, sizeof(Slot));
    if (!bigger.s) { fprintf(stderr, "pgrelay: out of memory\n"); exit(3); }
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->s[i].key) {
            table_put(&bigger, t->s[i].key, t->s[i].len, t->s[i].id);
            free(t->s[i].key);
        }
    free(t->s);
    *t = bigger;
}

static void table_put(Table *t, const void *k, size_t n, uint32_t id) {
    if ((t->used + 1) * 2 > t->cap) table_grow(t);
    uint64_t h = hash_of(k, n);
    for (uint32_t i = (uint32_t)h & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
        Slot *s = &t->s[i];
        if (!s->key) {
            s->key = xrealloc(NULL, n); memcpy(s->key, k, n);
            s->len = (uint32_t)n; s->id = id; s->h = h; t->used++;
            return;
        }
        if (s->h == h && s->len == n && memcmp(s->key, k, n) == 0) { s->id = id; return; }
    }
}

static void table_clear(Table *t) {
    for (uint32_t i = 0; i < t->cap; i++) free(t->s[i].key);
    free(t->s);
    memset(t, 0, sizeof *t);
}

/* ---- sessions ---------------------------------------------------------------------------------- */

typedef struct { char *name; uint32_t id; } Stmt;             /* id 0: known, not relayable */
typedef struct { char *name; uint32_t id; uint64_t z; } Parse;  /* awaiting ParseComplete */
typedef struct { uint32_t id, count; } Hit;

typedef struct {
    uint32_t sid;
    int cfd, sfd, started, backing;
    uint32_t cmask, smask;     /* epoll interest now registered */
    Buf cin, to_server, to_client;
    unsigned char hdr[5];
    int hdr_have;
    uint32_t body_left;
    unsigned char param[PARAM_MAX];
    uint32_t param_have;
    uint64_t zsent, zgot;      /* ReadyForQuery expected in all, and received */
    int ext_open;              /* extended messages forwarded since the last Sync */
    char status;
    uint64_t deadline;         /* monotonic ms after which the caches are not used (0: never) */
    Table texts, shapes;
    uint32_t ntexts;
    Stmt *stmts; uint32_t nstmts, capstmts;
    Parse *parses; uint32_t nparses, capparses;
    Hit *hits; uint32_t nhits, caphits;
    int active;
} Session;

static int epfd = -1, ctl = -1;
static Session **sessions;
static uint32_t nsessions, capsessions;
static Buf scratch;

static void send_ctl(const void *d, size_t n) {
    if (send(ctl, d, n, MSG_NOSIGNAL) != (ssize_t)n) {
        /* Python is gone or stuck: every session ends with this process */
        fprintf(stderr, "pgrelay: control socket failed (%s); ending every session\n",
                strerror(errno));
        exit(4);
    }
}

static void send_ctl2(char kind, uint32_t sid, const void *d, size_t n) {
    Buf m = {0};
    unsigned char head[5];
    head[0] = (unsigned char)kind; put32(head + 1, sid);
    buf_add(&m, head, 5);
    if (n) buf_add(&m, d, n);
    send_ctl(m.p, m.len);
    buf_free(&m);
}

static Session *find(uint32_t sid) {
    for (uint32_t i = 0; i < nsessions; i++)
        if (sessions[i]->sid == sid) return sessions[i];
    return NULL;
}

static Stmt *stmt_find(Session *s, const char *name) {
    for (uint32_t i = 0; i < s->nstmts; i++)
        if (strcmp(s->stmts[i].name, name) == 0) return &s->stmts[i];
    return NULL;
}

static int stmt_set(Session *s, const char *name, uint32_t id) {
    Stmt *st = stmt_find(s, name);
    if (st) { st->id = id; return 0; }
    if (s->nstmts >= MAX_STMTS) return -1;
    if (s->nstmts == s->capstmts) {
        s->capstmts = s->capstmts ? s->capstmts * 2 : 16;
        s->stmts = xrealloc(s->stmts, s->capstmts * sizeof(Stmt));
    }
    s->stmts[s->nstmts].name = strdup(name);
    s->stmts[s->nstmts].id = id;
    s->nstmts++;
    return 0;
}

static void stmt_drop(Session *s, const char *name) {
    for (uint32_t i = 0; i < s->nstmts; i++)
        if (strcmp(s->stmts[i].name, name) == 0) {
            free(s->stmts[i].name);
            s->stmts[i] = s->stmts[--s->nstmts];
            return;
        }
}

static void hit(Session *s, uint32_t id) {
    for (uint32_t i = 0; i < s->nhits; i++)
        if (s->hits[i].id == id) { s->hits[i].count++; return; }
    if (s->nhits == s->caphits) {
        s->caphits = s->caphits ? s->caphits * 2 : 8;
        s->hits = xrealloc(s->hits, s->caphits * sizeof(Hit));
    }
    s->hits[s->nhits].id = id; s->hits[s->nhits].count = 1; s->nhits++;
}

static void report(Session *s) {
    if (!s->nhits && !s->active) return;
    size_t n = s->nhits * 8u;
    unsigned char *d = xrealloc(NULL, n);
    for (uint32_t i = 0; i < s->nhits; i++) {
        put32(d + i * 8, s->hits[i].id); put32(d + i * 8 + 4, s->hits[i].count);
    }
    send_ctl2('H', s->sid, d, n);
    free(d);
    s->nhits = 0; s->active = 0;
}

static void watch(Session *s);

static int debug;

/* A client told goodbye (a FATAL saying why) is not closed at once: it may still be sending, and
 * closing a socket with bytes unread sends RST, on which the client's kernel drops the FATAL it
 * has not read yet. So the relay sends FIN, then reads and drops what the client sends until it
 * closes too or DRAIN_MS pass, without holding up other sessions (the epoll loop does it). */
#define DRAIN_MS 500
#define MAX_DRAINS 64
#define DRAIN_TAG (1ULL << 62)
typedef struct { int fd; uint64_t deadline; } Drain;
static Drain drains[MAX_DRAINS];
static uint32_t ndrains;

static void drain_close(uint32_t i) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, drains[i].fd, NULL);
    close(drains[i].fd);
    drains[i] = drains[--ndrains];
}

static void drain_start(int cfd) {
    shutdown(cfd, SHUT_WR);
    int fd = ndrains < MAX_DRAINS ? dup(cfd) : -1;
    if (fd < 0) return;  /* too many at once: closed now, as before */
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = DRAIN_TAG | (uint64_t)fd};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev)) { close(fd); return; }
    drains[ndrains++] = (Drain){fd, now_ms() + DRAIN_MS};
}

static void drain_read(int fd) {
    for (uint32_t i = 0; i < ndrains; i++) {
        if (drains[i].fd != fd) continue;
        unsigned char tmp[CHUNK];
        ssize_t got = read(fd, tmp, sizeof tmp);
        if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            drain_close(i);  /* the client closed too (or is gone): nothing left to lose */
        return;
    }
}

static int drain_expire(uint64_t now) {  /* ms until the next deadline, -1 if none */
    int next = -1;
    for (uint32_t i = 0; i < ndrains;) {
        if (now >= drains[i].deadline) { drain_close(i); continue; }
        int left = (int)(drains[i].deadline - now);
        if (next < 0 || left < next) next = left;
        i++;
    }
    return next;
}

static void end_session_saying(Session *s, const char *reason, int farewell) {
    if (debug) fprintf(stderr, "pgrelay: session %u ends: %s\n", s->sid, reason);
    report(s);
    /* Python holds copies of these sockets: epoll forgets them only when told */
    if (s->started) { epoll_ctl(epfd, EPOLL_CTL_DEL, s->cfd, NULL); epoll_ctl(epfd, EPOLL_CTL_DEL, s->sfd, NULL); }
    if (s->cfd >= 0 && farewell) { drain_start(s->cfd); close(s->cfd); }
    else if (s->cfd >= 0) { shutdown(s->cfd, SHUT_RDWR); close(s->cfd); }
    if (s->sfd >= 0) { shutdown(s->sfd, SHUT_RDWR); close(s->sfd); }
    send_ctl2('C', s->sid, reason, strlen(reason));
    for (uint32_t i = 0; i < nsessions; i++)
        if (sessions[i] == s) { sessions[i] = sessions[--nsessions]; break; }
    buf_free(&s->cin); buf_free(&s->to_server); buf_free(&s->to_client);
    table_clear(&s->texts); table_clear(&s->shapes);
    for (uint32_t i = 0; i < s->nstmts; i++) free(s->stmts[i].name);
    for (uint32_t i = 0; i < s->nparses; i++) free(s->parses[i].name);
    free(s->stmts); free(s->parses); free(s->hits); free(s);
}

static void end_session(Session *s, const char *reason) { end_session_saying(s, reason, 0); }

/* Hand the session back to Python: only when nothing forwarded is unanswered. */
static void try_hand_back(Session *s) {
    if (!s->backing || s->zgot != s->zsent || s->ext_open || s->hdr_have || s->body_left ||
        buf_size(&s->to_client) || buf_size(&s->to_server))
        return;
    if (debug) fprintf(stderr, "pgrelay: session %u handed back (%zu bytes)\n", s->sid, buf_size(&s->cin));
    report(s);
    size_t left = buf_size(&s->cin);
    for (size_t at = 0; at < left; at += DATA_CHUNK) {
        size_t n = left - at < DATA_CHUNK ? left - at : DATA_CHUNK;
        send_ctl2('D', s->sid, s->cin.p + s->cin.off + at, n);
    }
    Buf m = {0};
    unsigned char st = (unsigned char)s->status;
    buf_add(&m, &st, 1);
    for (uint32_t i = 0; i < s->nstmts; i++) {
        unsigned char e[6];
        size_t nl = strlen(s->stmts[i].name);
        put32(e, s->stmts[i].id); e[4] = (unsigned char)(nl >> 8); e[5] = (unsigned char)nl;
        buf_add(&m, e, 6); buf_add(&m, s->stmts[i].name, nl);
    }
    /* let go of the sockets without shutting them down: Python carries on with them */
    epoll_ctl(epfd, EPOLL_CTL_DEL, s->cfd, NULL); epoll_ctl(epfd, EPOLL_CTL_DEL, s->sfd, NULL);
    close(s->cfd); close(s->sfd);
    s->cfd = s->sfd = -1;
    send_ctl2('B', s->sid, m.p, m.len);
    buf_free(&m);
    for (uint32_t i = 0; i < nsessions; i++)
        if (sessions[i] == s) { sessions[i] = sessions[--nsessions]; break; }
    buf_free(&s->cin); buf_free(&s->to_server); buf_free(&s->to_client);
    table_clear(&s->texts); table_clear(&s->shapes);
    for (uint32_t i = 0; i < s->nstmts; i++) free(s->stmts[i].name);
    free(s->stmts); free(s->parses); free(s->hits); free(s);
}

/* ---- client → server ----------------------------------------------------------------------------- */

typedef struct { const char *name; uint32_t id; int dropped; } Overlay;

static uint32_t lookup(Session *s, const char *text, size_t n, int by_shape) {
    if (s->deadline && now_ms() >= s->deadline) return 0;
    uint32_t id = table_get(&s->texts, text, n);
    if (id || !by_shape || !s->shapes.used) return id;
    if (shape_of(text, n, &scratch) != 0) return 0;
    return table_get(&s->shapes, scratch.p, scratch.len);
}

static int cstr(const unsigned char *b, size_t n, size_t *at, const char **out) {
    const unsigned char *z = memchr(b + *at, 0, n - *at);
    if (!z) return -1;
    *out = (const char *)(b + *at);
    *at = (size_t)(z - b) + 1;
    return 0;
}

/* The lent statement a Bind/Describe names: this batch's own Parse/Close first (the latest
 * wins), else the session's map; 0 when it is not lent (or closed in this batch). */
static uint32_t named(Session *s, const Overlay *ov, uint32_t nov, const char *name) {
    for (uint32_t i = nov; i-- > 0;)
        if (strcmp(ov[i].name, name) == 0) return ov[i].dropped ? 0 : ov[i].id;
    Stmt *st = stmt_find(s, name);
    return st ? st->id : 0;
}

/* What the relay may do with the client's bytes: 1 forwarded batches (or waits for more),
 * 0 a miss (hand back), -1 malformed (end). */
static int client_batches(Session *s) {
    Overlay ov[64];
    uint32_t nov = 0, batch_hits[64], nbh = 0, portal = 0;
    int have_portal = 0;
    uint64_t zs = 0;
    size_t start = 0, p = 0, avail = buf_size(&s->cin);
    const unsigned char *d = s->cin.p + s->cin.off;
    size_t forward = 0;
    int verdict = 1;
    while (avail - p >= 5) {
        unsigned char kind = d[p];
        uint32_t len = be32(d + p + 1);
        if (len < 4 || len > MAX_FRAME) return -1;
        if (avail - p - 1 < len) {
            if ((size_t)len + 1 > CIN_MAX) { verdict = 0; goto done; }
            break;
        }
        const unsigned char *body = d + p + 5;
        size_t blen = len - 4, at = 0;
        const char *name, *text, *portal_name;
        int end = 0;
        uint32_t id;
        switch (kind) {
        case 'Q':
            if (blen == 0 || body[blen - 1] != 0 || memchr(body, 0, blen) != body + blen - 1) { verdict = 0; goto done; }
            id = lookup(s, (const char *)body, blen - 1, 1);
            if (!id || nbh >= 64) { verdict = 0; goto done; }
            batch_hits[nbh++] = id; zs++; end = 1;
            break;
        case 'P': {
            if (cstr(body, blen, &at, &name) || cstr(body, blen, &at, &text)) { verdict = 0; goto done; }
            id = lookup(s, text, strlen(text), 0);
            if (!id || nov >= 64) { verdict = 0; goto done; }
            if (*name) {  /* a name the relay does not know may exist on the server (SQL PREPARE) */
                Stmt *old = stmt_find(s, name);
                if (old) { verdict = 0; goto done; }
            }
            ov[nov].name = name; ov[nov].id = id; ov[nov].dropped = 0; nov++;
            break;
        }
        case 'B': {
            if (cstr(body, blen, &at, &portal_name) || cstr(body, blen, &at, &name)) { verdict = 0; goto done; }
            if (*portal_name) { verdict = 0; goto done; }  /* named portals stay in Python */
            id = named(s, ov, nov, name);
            if (!id) { verdict = 0; goto done; }
            portal = id; have_portal = 1;
            break;
        }
        case 'D':
            if (blen < 2) { verdict = 0; goto done; }
            at = 1;
            if (cstr(body, blen, &at, &name)) { verdict = 0; goto done; }
            if (body[0] == 'P') { if (*name || !have_portal) { verdict = 0; goto done; } }
            else if (body[0] == 'S') {
                if (!named(s, ov, nov, name)) { verdict = 0; goto done; }
            } else { verdict = 0; goto done; }
            break;
        case 'E':
            if (cstr(body, blen, &at, &portal_name)) { verdict = 0; goto done; }
            if (*portal_name || !have_portal || nbh >= 64) { verdict = 0; goto done; }
            batch_hits[nbh++] = portal;
            break;
        case 'C':
            if (blen < 2 || nov >= 64) { verdict = 0; goto done; }
            at = 1;
            if (cstr(body, blen, &at, &name)) { verdict = 0; goto done; }
            if (body[0] == 'P') { if (*name) { verdict = 0; goto done; } have_portal = 0; }
            else if (body[0] == 'S') {
                Stmt *st = stmt_find(s, name);
                if (!st || !st->id) { verdict = 0; goto done; }
                ov[nov].name = name; ov[nov].id = 0; ov[nov].dropped = 1; nov++;
            } else { verdict = 0; goto done; }
            break;
        case 'S': zs++; end = 1; break;
        case 'H': end = 2; break;
        case 'X': if (forward == p) return -2; verdict = 0; goto done;
        default: { verdict = 0; goto done; }  /* COPY data, FunctionCall, anything else: Python's */
        }
        p += 1 + (size_t)len;
        if (end) {
            /* the batch passes: commit what it changes */
            for (uint32_t i = 0; i < nbh; i++) hit(s, batch_hits[i]);
            for (uint32_t i = 0; i < nov; i++) {
                if (ov[i].dropped) { stmt_drop(s, ov[i].name); continue; }
                if (s->nparses == s->capparses) {
                    s->capparses = s->capparses ? s->capparses * 2 : 8;
                    s->parses = xrealloc(s->parses, s->capparses * sizeof(Parse));
                }
                /* it counts once the server says ParseComplete, before this batch's last Z */
                s->parses[s->nparses].name = strdup(ov[i].name);
                s->parses[s->nparses].id = ov[i].id;
                s->parses[s->nparses].z = s->zsent + zs + (kind == 'H' ? 1 : 0);
                s->nparses++;
            }
            s->zsent += zs;
            s->ext_open = kind == 'H' ? 1 : (kind == 'S' ? 0 : s->ext_open);
            if (kind != 'H') have_portal = 0;
            nov = nbh = 0; zs = 0;
            forward = p; start = p;
        }
    }
done:
    (void)start;
    if (forward) {
        buf_add(&s->to_server, d, forward);
        buf_eat(&s->cin, forward);
    }
    return verdict;
}

static int flush_to(int fd, Buf *b) {
    while (buf_size(b)) {
        ssize_t n = write(fd, b->p + b->off, buf_size(b));
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
            if (errno == EINTR) continue;
            return -1;
        }
        buf_eat(b, (size_t)n);
    }
    return 0;
}

static void from_client(Session *s) {
    unsigned char tmp[CHUNK];
    if (s->backing || buf_size(&s->cin) >= CIN_MAX) return;
    ssize_t n = read(s->cfd, tmp, sizeof tmp);
    if (n == 0) { end_session(s, "the client went away"); return; }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        end_session(s, "the client connection failed"); return;
    }
    s->active = 1;
    buf_add(&s->cin, tmp, (size_t)n);
    int got = client_batches(s);
    if (got == -1) { end_session(s, "the client sent a malformed frame"); return; }
    if (got == -2) { end_session(s, "the client said goodbye"); return; }
    if (flush_to(s->sfd, &s->to_server) < 0) { end_session(s, "the server connection failed"); return; }
    if (got == 0) {
        if (s->ext_open && !s->backing) {
            /* mid-pipeline, with Flush: Python cannot take the session over here */
            end_session(s, "a statement that needs Python arrived after a Flush without Sync");
            return;
        }
        s->backing = 1;
        try_hand_back(s);
        return;
    }
    watch(s);
}

/* ---- server → client ------------------------------------------------------------------------------ */

static int safe_param(const unsigned char *b, size_t n) {
    const char *name = (const char *)b;
    const unsigned char *z = memchr(b, 0, n);
    if (!z) return 0;
    const char *value = (const char *)z + 1;
    if (!memchr(z + 1, 0, n - (size_t)(z + 1 - b))) return 0;
    if (strcmp(name, "standard_conforming_strings") == 0) return strcmp(value, "on") == 0;
    if (strcmp(name, "client_encoding") == 0) {
        char norm[32]; size_t k = 0;
        for (const char *c = value; *c && k < sizeof norm - 1; c++)
            if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))
                norm[k++] = (char)((*c >= 'a' && *c <= 'z') ? *c - 32 : *c);
        norm[k] = 0;
        return !strcmp(norm, "UTF8") || !strcmp(norm, "UNICODE") || !strcmp(norm, "SQLASCII");
    }
    return 1;
}

/* Follow the server's frames over `d`; -1: end the session. */
static int server_frames(Session *s, const unsigned char *d, size_t n) {
    size_t i = 0;
    while (i < n) {
        if (s->body_left == 0 && s->hdr_have < 5) {
            while (s->hdr_have < 5 && i < n) s->hdr[s->hdr_have++] = d[i++];
            if (s->hdr_have < 5) return 0;
            uint32_t len = be32(s->hdr + 1);
            if (len < 4 || len > MAX_FRAME) return -1;
            s->body_left = len - 4;
            s->param_have = 0;
            unsigned char k = s->hdr[0];
            if (k == 'G' || k == 'W') return -1;  /* COPY FROM STDIN: its data would pass unjudged */
            if (k == 'S' && s->body_left > PARAM_MAX) return -1;
            if (k == 'Z' && s->body_left != 1) return -1;
            if (k == '1') {
                if (!s->nparses) return -1;  /* a ParseComplete for nothing the relay sent */
                Parse *pp = &s->parses[0];
                if (stmt_set(s, pp->name, pp->id) != 0) return -1;
                free(pp->name);
                memmove(s->parses, s->parses + 1, (--s->nparses) * sizeof(Parse));
            }
            if (s->body_left == 0) { s->hdr_have = 0; continue; }
        }
        size_t take = n - i < s->body_left ? n - i : s->body_left;
        unsigned char k = s->hdr[0];
        if (k == 'S' || k == 'Z') { memcpy(s->param + s->param_have, d + i, take); s->param_have += (uint32_t)take; }
        i += take; s->body_left -= (uint32_t)take;
        if (s->body_left == 0) {
            s->hdr_have = 0;
            if (k == 'S' && !safe_param(s->param, s->param_have)) return -1;
            if (k == 'Z') {
                if (s->zgot >= s->zsent) return -1;  /* a ReadyForQuery nobody asked for */
                s->zgot++;
                s->status = (char)s->param[0];
                /* Parses of the batch this ends that got no ParseComplete failed */
                uint32_t keep = 0;
                for (uint32_t j = 0; j < s->nparses; j++) {
                    if (s->parses[j].z <= s->zgot) free(s->parses[j].name);
                    else s->parses[keep++] = s->parses[j];
                }
                s->nparses = keep;
            }
        }
    }
    return 0;
}

static void from_server(Session *s) {
    unsigned char tmp[CHUNK];
    if (buf_size(&s->to_client) >= OUT_HIGH) return;
    ssize_t n = read(s->sfd, tmp, sizeof tmp);
    if (n == 0) { end_session(s, "the server closed the connection"); return; }
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
        end_session(s, "the server connection failed"); return;
    }
    if (server_frames(s, tmp, (size_t)n) < 0) {
        end_session(s, "the server sent something the relay does not pass"); return;
    }
    buf_add(&s->to_client, tmp, (size_t)n);
    if (flush_to(s->cfd, &s->to_client) < 0) { end_session(s, "the client connection failed"); return; }
    if (s->backing) { try_hand_back(s); return; }
    watch(s);
}

/* ---- epoll ---------------------------------------------------------------------------------------- */

/* Before a farewell (a FATAL saying why airlock ends the session): let the answers in flight
 * (every ReadyForQuery owed for what was forwarded) and what is queued for the client reach the
 * client first, so the FATAL lands between two answers, where the client reads it as the reason
 * (in the middle of one, libpq reports only that the server closed the connection). Nothing
 * more is read from the client. Bounded: the relay's other sessions wait meanwhile. 1 when the
 * client stands at least at a frame boundary (the deadline may cut an answer short there). */
#define FAREWELL_MS 200
static int finish_frame(Session *s) {
    uint64_t deadline = now_ms() + FAREWELL_MS;
    unsigned char tmp[CHUNK];
    while (s->hdr_have || s->body_left || buf_size(&s->to_client) || s->zgot != s->zsent) {
        uint64_t now = now_ms();
        if (now >= deadline) return !s->hdr_have && !s->body_left && !buf_size(&s->to_client);
        struct pollfd p = {buf_size(&s->to_client) ? s->cfd : s->sfd,
                           buf_size(&s->to_client) ? POLLOUT : POLLIN, 0};
        if (poll(&p, 1, (int)(deadline - now)) <= 0)
            return !s->hdr_have && !s->body_left && !buf_size(&s->to_client);
        if (buf_size(&s->to_client)) {
            if (flush_to(s->cfd, &s->to_client) < 0) return 0;
            continue;
        }
        ssize_t got = read(s->sfd, tmp, sizeof tmp);
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
        if (got <= 0 || server_frames(s, tmp, (size_t)got) < 0) return 0;
        buf_add(&s->to_client, tmp, (size_t)got);
    }
    return 1;
}

static void set_mask(int fd, uint32_t *cur, uint32_t want, uint64_t tag) {
    if (*cur == want) return;
    struct epoll_event ev = {.events = want, .data.u64 = tag};
    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
    *cur = want;
}

static void watch(Session *s) {
    uint32_t c = 0, v = 0;
    if (!s->backing && buf_size(&s->cin) < CIN_MAX && buf_size(&s->to_server) < OUT_HIGH) c |= EPOLLIN;
    if (buf_size(&s->to_client)) c |= EPOLLOUT;
    if (buf_size(&s->to_client) < OUT_HIGH) v |= EPOLLIN;
    if (buf_size(&s->to_server)) v |= EPOLLOUT;
    set_mask(s->cfd, &s->cmask, c, ((uint64_t)s->sid << 1));
    set_mask(s->sfd, &s->smask, v, ((uint64_t)s->sid << 1) | 1);
}

/* ---- control ------------------------------------------------------------------------------------- */

static void on_control(void) {
    unsigned char m[CTL_MAX];
    char cbuf[CMSG_SPACE(2 * sizeof(int))];
    for (;;) {
        struct iovec iov = {m, sizeof m};
        struct msghdr h = {0};
        h.msg_iov = &iov; h.msg_iovlen = 1; h.msg_control = cbuf; h.msg_controllen = sizeof cbuf;
        ssize_t n = recvmsg(ctl, &h, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) exit(0);  /* Python is gone: every session ends with this process */
        int fds[2] = {-1, -1}, nfds = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS) {
                nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
                memcpy(fds, CMSG_DATA(c), (size_t)(nfds > 2 ? 2 : nfds) * sizeof(int));
            }
        if ((h.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || n < 5) { fprintf(stderr, "pgrelay: bad control message\n"); exit(5); }
        uint32_t sid = be32(m + 1);
        Session *s = m[0] == 'A' ? NULL : find(sid);
        switch (m[0]) {
        case 'A': {
            if (nfds != 2 || n < 10 || find(sid)) { fprintf(stderr, "pgrelay: bad attach\n"); exit(5); }
            s = calloc(1, sizeof *s);
            if (!s) exit(3);
            s->sid = sid; s->cfd = fds[0]; s->sfd = fds[1];
            s->status = (char)m[5];
            uint32_t ttl = be32(m + 6);
            s->deadline = ttl == 0xFFFFFFFFu ? 0 : now_ms() + ttl;
            if (s->deadline == 0 && ttl != 0xFFFFFFFFu) s->deadline = 1;
            fcntl(s->cfd, F_SETFL, fcntl(s->cfd, F_GETFL) | O_NONBLOCK);
            fcntl(s->sfd, F_SETFL, fcntl(s->sfd, F_GETFL) | O_NONBLOCK);
            if (nsessions == capsessions) {
                capsessions = capsessions ? capsessions * 2 : 16;
                sessions = xrealloc(sessions, capsessions * sizeof(Session *));
            }
            sessions[nsessions++] = s;
            break;
        }
        case 'T':
            if (!s || n < 10) break;
            if (s->ntexts < MAX_TEXTS) {
                uint32_t id = be32(m + 5);
                table_put(&s->texts, m + 10, (size_t)n - 10, id);
                if ((m[9] & 1) && shape_of((const char *)m + 10, (size_t)n - 10, &scratch) == 0)
                    table_put(&s->shapes, scratch.p, scratch.len, id);
                s->ntexts++;
            }
            break;
        case 'N': {
            if (!s || n < 9) break;
            char name[CTL_MAX];
            memcpy(name, m + 9, (size_t)n - 9); name[n - 9] = 0;
            if (stmt_set(s, name, be32(m + 5)) != 0) end_session(s, "too many prepared statements");
            break;
        }
        case 'G': {
            if (!s || s->started) break;
            s->started = 1;
            struct epoll_event ev = {.events = EPOLLIN, .data.u64 = ((uint64_t)sid << 1)};
            struct epoll_event ev2 = {.events = EPOLLIN, .data.u64 = ((uint64_t)sid << 1) | 1};
            if (epoll_ctl(epfd, EPOLL_CTL_ADD, s->cfd, &ev) || epoll_ctl(epfd, EPOLL_CTL_ADD, s->sfd, &ev2)) {
                end_session(s, "could not watch the sockets"); break;
            }
            s->cmask = s->smask = EPOLLIN;
            from_client(s);  /* bytes may be waiting already */
            break;
        }
        case 'K':
            if (!s) break;
            if (n > 5 && finish_frame(s) && write(s->cfd, m + 5, (size_t)n - 5) == (ssize_t)(n - 5))
                end_session_saying(s, "ended by airlock", 1);
            else
                end_session(s, "ended by airlock");
            break;
        case 'I':
            for (uint32_t i = 0; i < nsessions; i++) {
                Session *t = sessions[i];
                if (sid && t->sid != sid) continue;
                table_clear(&t->texts); table_clear(&t->shapes); t->ntexts = 0;
                for (uint32_t j = 0; j < t->nstmts; j++) t->stmts[j].id = 0;
                for (uint32_t j = 0; j < t->nparses; j++) t->parses[j].id = 0;
            }
            break;
        default:
            fprintf(stderr, "pgrelay: unknown control message %c\n", m[0]);
            exit(5);
        }
    }
}

static int self_check(void) {
    static const struct { const char *in, *out; } cases[] = {
        {"SELECT abalance FROM t WHERE aid = 42;", "SELECT abalance FROM t WHERE aid = \1;"},
        {"SELECT 'it''s', x1, 1.5 FROM t", "SELECT \2, x1, 1.5 FROM t"},
        {"SELECT 1 -- c", NULL}, {"SELECT E'\\''", NULL}, {"SELECT $1", NULL},
        {"SELECT \"a\"", NULL}, {"SELECT 'open", NULL}, {"SELECT '\xff'", NULL},
        {"SELECT 1234567890, 0x1F", "SELECT 1234567890, 0x1F"}, {"SELECT X'1''2'", NULL},
        {"SELECT 'caf\xc3\xa9'", "SELECT \2"}, {"SELECT U&'d!0061'", NULL},
    };
    Buf b = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int r = shape_of(cases[i].in, strlen(cases[i].in), &b);
        if (cases[i].out == NULL ? r == 0
                                 : (r != 0 || b.len != strlen(cases[i].out) || memcmp(b.p, cases[i].out, b.len)))
            { fprintf(stderr, "pgrelay: self-check failed on case %zu\n", i); return 1; }
    }
    buf_free(&b);
    puts("pgrelay ok");
    return 0;
}

/* For tests: NUL-separated texts on stdin, each one's shape in hex (or "-") on a line. */
static int print_shapes(void) {
    Buf in = {0}, out = {0};
    unsigned char tmp[CHUNK];
    ssize_t n;
    while ((n = read(0, tmp, sizeof tmp)) > 0) buf_add(&in, tmp, (size_t)n);
    size_t at = 0;
    while (at < in.len) {
        unsigned char *z = memchr(in.p + at, 0, in.len - at);
        size_t len = z ? (size_t)(z - (in.p + at)) : in.len - at;
        if (shape_of((const char *)in.p + at, len, &out) != 0) puts("-");
        else {
            for (size_t i = 0; i < out.len; i++) printf("%02x", out.p[i]);
            putchar('\n');
        }
        at += len + 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "--self-check") == 0) return self_check();
    if (argc == 2 && strcmp(argv[1], "--shapes") == 0) return print_shapes();
    if (argc != 3 || strcmp(argv[1], "--control") != 0) {
        fprintf(stderr, "usage: pgrelay --control FD | --self-check\n");
        return 2;
    }
    ctl = atoi(argv[2]);
    debug = getenv("PGRELAY_DEBUG") != NULL;
    signal(SIGPIPE, SIG_IGN);
    {
        unsigned char r[8];
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0 && read(fd, r, 8) == 8) for (int i = 0; i < 8; i++) seed = seed * 131 + r[i];
        if (fd >= 0) close(fd);
    }
    struct timeval tv = {5, 0};
    setsockopt(ctl, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    if (epfd < 0 || epoll_ctl(epfd, EPOLL_CTL_ADD, ctl, &ev)) { perror("pgrelay"); return 1; }
    uint64_t next_report = now_ms() + 1000;
    struct epoll_event evs[64];
    for (;;) {
        uint64_t now = now_ms();
        int wait = now >= next_report ? 0 : (int)(next_report - now);
        int drain_wait = drain_expire(now);
        if (drain_wait >= 0 && drain_wait < wait) wait = drain_wait;
        int n = epoll_wait(epfd, evs, 64, wait);
        if (n < 0 && errno != EINTR) { perror("pgrelay"); return 1; }
        for (int i = 0; i < n; i++) {
            uint64_t tag = evs[i].data.u64;
            if (tag == UINT64_MAX) { on_control(); continue; }
            if (tag & DRAIN_TAG) { drain_read((int)(tag & ~DRAIN_TAG)); continue; }
            Session *s = find((uint32_t)(tag >> 1));
            if (!s) continue;
            uint32_t e = evs[i].events;
            if (tag & 1) {  /* server side */
                if (e & EPOLLOUT) {
                    if (flush_to(s->sfd, &s->to_server) < 0) { end_session(s, "the server connection failed"); continue; }
                }
                if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) from_server(s);
                else watch(s);
            } else {
                if (e & EPOLLOUT) {
                    if (flush_to(s->cfd, &s->to_client) < 0) { end_session(s, "the client connection failed"); continue; }
                    if (s->backing) { try_hand_back(s); continue; }
                }
                if (s->backing && (e & (EPOLLHUP | EPOLLERR))) { end_session(s, "the client went away"); continue; }
                if (e & (EPOLLIN | EPOLLHUP | EPOLLERR)) from_client(s);
                else watch(s);
            }
        }
        if (now_ms() >= next_report) {
            for (uint32_t i = 0; i < nsessions; i++) report(sessions[i]);
            next_report = now_ms() + 1000;
        }
    }
}
