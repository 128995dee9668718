/* airlock's native hook client: the same job as hookclient.py, without starting CPython.
 *
 *     airlock-hookclient HARNESS [--socket PATH] [--timeout SECONDS] [-- FALLBACK COMMAND ...]
 *
 * It connects to airlock's daemon on the Unix socket PATH (else $AIRLOCK_HOOK_SOCKET), streams
 * the harness's JSON from stdin to it, and writes the daemon's answer -- exit code, stdout,
 * stderr -- exactly as received. It only relays bytes: every answer a harness reads is formatted
 * by the daemon, except this client's own failure, which is the harness's blocking answer.
 *
 * When nothing listens at PATH it has not read stdin yet, so it replaces itself with FALLBACK
 * (`airlock install` writes the Python client there, which runs the in-process `airlock hook`
 * and checks its answer). Every other failure -- unreadable input, input over 16 MiB, a timeout,
 * a malformed or oversized answer, a fallback that cannot start -- blocks the call: a harness
 * lets a call through when its hook crashes or times out, so this client never does either.
 * Its deadline (--timeout, default 20 s) is a timer armed before anything else.
 *
 * Wire format (daemon.py):
 *     request   "airlock-hook 1 <harness>\n" + the harness's JSON
 *     response  "airlock-hook 1 <exit code> <stdout bytes> <stderr bytes>\n" + stdout + stderr
 *
 * Built by `airlock install` with the system's C compiler (fronts/hooks/native.py); where none
 * exists the Python client is installed instead. Plain C99 and POSIX, no dependencies.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAGIC "airlock-hook 1"
#define MAX_INPUT (16L * 1024 * 1024)   /* the daemon refuses more (runner.MAX_PAYLOAD_BYTES) */
#define MAX_ANSWER (32L * 1024 * 1024)  /* a larger answer is not one the daemon sends */
#define MAX_HARNESS 64

static int is_cursor;

static void put(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return; /* the harness stopped reading; the exit code still speaks */
        data += n;
        len -= (size_t)n;
    }
}

static void put_str(int fd, const char *text) { put(fd, text, strlen(text)); }

/* The harness's blocking answer (the same words as hookclient.py). `why` is plain ASCII
 * without quotes or backslashes, so it needs no escaping inside Cursor's JSON. Async-signal-
 * safe: the deadline's handler calls it. */
static void block_and_exit(const char *why) {
    static const char head[] = "airlock could not judge this tool call (";
    static const char tail[] = "), so it is blocked to be safe. Retry it once; if it keeps "
                               "failing, ask a human to look at airlock.";
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    if (is_cursor) {
        put_str(1, "{\"permission\": \"deny\", \"user_message\": \"");
        put_str(1, head); put_str(1, why); put_str(1, tail);
        put_str(1, "\", \"agent_message\": \"");
        put_str(1, head); put_str(1, why); put_str(1, tail);
        put_str(1, "\"}");
        _exit(0);
    }
    put_str(2, head); put_str(2, why); put_str(2, tail);
    _exit(2);
}

static void out_of_time(int signum) {
    (void)signum;
    block_and_exit("airlock did not answer in time");
}

/* A connected socket, or -1 with errno set when nothing listens at `path`. A path too long for
 * sun_path is reached through a descriptor of its folder, as the daemon does. */
static int connect_to(const char *path) {
    struct sockaddr_un addr;
    char longpath[64];
    const char *use = path;
    int dirfd = -1;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof addr.sun_path) {
        const char *slash = strrchr(path, '/');
        char folder[4096];
        size_t flen = slash ? (size_t)(slash - path) : 0;
        if (!slash || flen >= sizeof folder) { errno = ENAMETOOLONG; return -1; }
        memcpy(folder, path, flen);
        folder[flen] = '\0';
        dirfd = open(flen ? folder : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dirfd < 0) return -1;
        if (snprintf(longpath, sizeof longpath, "/proc/self/fd/%d/", dirfd) < 0
            || strlen(longpath) + strlen(slash + 1) >= sizeof addr.sun_path) {
            close(dirfd);
            errno = ENAMETOOLONG;
            return -1;
        }
        memcpy(addr.sun_path, longpath, strlen(longpath));
        strcat(addr.sun_path, slash + 1);
        use = NULL;
    }
    if (use) memcpy(addr.sun_path, use, strlen(use));
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { int e = errno; if (dirfd >= 0) close(dirfd); errno = e; return -1; }
    int rc;
    do rc = connect(fd, (struct sockaddr *)&addr, sizeof addr); while (rc < 0 && errno == EINTR);
    int saved = errno;
    if (dirfd >= 0) close(dirfd);
    if (rc < 0) { close(fd); errno = saved; return -1; }
    return fd;
}

static void send_all(int fd, const char *data, size_t len) {
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) block_and_exit("airlock's daemon stopped reading the call");
        data += n;
        len -= (size_t)n;
    }
}

/* Stream stdin to the daemon, at most MAX_INPUT bytes. */
static void relay_input(int conn, const char *harness) {
    static char buf[65536];
    long total = 0;
    send_all(conn, MAGIC " ", sizeof MAGIC);
    send_all(conn, harness, strlen(harness));
    send_all(conn, "\n", 1);
    for (;;) {
        ssize_t n = read(0, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) block_and_exit("could not read the hook input");
        if (n == 0) break;
        total += n;
        if (total > MAX_INPUT) block_and_exit("the hook input is over 16777216 bytes");
        send_all(conn, buf, (size_t)n);
    }
    shutdown(conn, SHUT_WR);
}

/* A decimal number of at most 10 digits that ends at `end`; -1 if it is not one. */
static long number(const char *text, const char *end) {
    long value = 0;
    if (text >= end || end - text > 10) return -1;
    for (; text < end; text++) {
        if (*text < '0' || *text > '9') return -1;
        value = value * 10 + (*text - '0');
    }
    return value;
}

static void relay_answer(int conn) {
    size_t cap = 65536, len = 0;
    char *data = malloc(cap);
    if (!data) block_and_exit("out of memory");
    for (;;) {
        if (len == cap) {
            if (cap >= (size_t)MAX_ANSWER) block_and_exit("airlock's daemon sent a malformed answer");
            cap *= 2;
            char *bigger = realloc(data, cap);
            if (!bigger) block_and_exit("out of memory");
            data = bigger;
        }
        ssize_t n = recv(conn, data + len, cap - len, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) block_and_exit("airlock's daemon did not answer");
        if (n == 0) break;
        len += (size_t)n;
    }
    /* "airlock-hook 1 <code> <out> <err>\n" */
    char *newline = memchr(data, '\n', len < 256 ? len : 256);
    size_t magic = sizeof MAGIC - 1;
    if (!newline || (size_t)(newline - data) < magic + 1 || memcmp(data, MAGIC " ", magic + 1))
        block_and_exit("airlock's daemon sent a malformed answer");
    const char *fields[3], *ends[3], *at = data + magic + 1;
    for (int i = 0; i < 3; i++) {
        const char *space = i < 2 ? memchr(at, ' ', (size_t)(newline - at)) : newline;
        if (!space) block_and_exit("airlock's daemon sent a malformed answer");
        fields[i] = at;
        ends[i] = space;
        at = space + 1;
    }
    long code = number(fields[0], ends[0]), n_out = number(fields[1], ends[1]),
         n_err = number(fields[2], ends[2]);
    size_t body = len - (size_t)(newline + 1 - data);
    if ((code != 0 && code != 2) || n_out < 0 || n_err < 0 || (size_t)(n_out + n_err) != body)
        block_and_exit("airlock's daemon sent a malformed answer");
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    put(1, newline + 1, (size_t)n_out);
    put(2, newline + 1 + n_out, (size_t)n_err);
    _exit((int)code);
}

/* Seconds in (0, 3600], else 0. */
static double seconds(const char *text) {
    char *end;
    errno = 0;
    double value = strtod(text, &end);
    if (errno || end == text || *end || !(value > 0 && value <= 3600)) return 0;
    return value;
}

int main(int argc, char **argv) {
    const char *harness = argc > 1 ? argv[1] : "";
    const char *path = getenv("AIRLOCK_HOOK_SOCKET");
    double timeout = 20.0;
    char **fallback = NULL;
    is_cursor = strcmp(harness, "cursor") == 0;
    signal(SIGPIPE, SIG_IGN);
    signal(SIGALRM, out_of_time);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            if (i + 1 < argc) fallback = argv + i + 1;
            break;
        }
        if (strcmp(argv[i], "--socket") == 0 && i + 1 < argc) {
            path = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout = seconds(argv[++i]);
            if (timeout == 0) block_and_exit("--timeout is not between 0 and 3600 seconds");
        } else {
            block_and_exit("unknown argument");
        }
    }
    struct itimerval deadline = {{0, 0}, {(time_t)timeout,
                                          (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6)}};
    if (deadline.it_value.tv_sec == 0 && deadline.it_value.tv_usec == 0)
        deadline.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &deadline, NULL);
    /* The harness name travels in the header line: printable ASCII, no spaces, short. */
    size_t hlen = strlen(harness);
    if (hlen == 0 || hlen > MAX_HARNESS) block_and_exit("the harness name is missing or too long");
    for (size_t i = 0; i < hlen; i++)
        if (harness[i] <= ' ' || harness[i] > '~')
            block_and_exit("the harness name is not plain text");
    int conn = path && *path ? connect_to(path) : -1;
    if (conn < 0) {
        if (!fallback) block_and_exit("airlock's daemon is not running and no fallback command is set");
        /* stdin is untouched: the fallback reads it. Its own deadline starts now; a timer
         * would outlive exec and kill it with a signal, which harnesses read as "go on". */
        struct itimerval off = {{0, 0}, {0, 0}};
        setitimer(ITIMER_REAL, &off, NULL);
        signal(SIGALRM, SIG_DFL);
        execv(fallback[0], fallback);
        block_and_exit("could not start airlock's fallback");
    }
    relay_input(conn, harness);
    relay_answer(conn);
    return 2; /* not reached */
}
