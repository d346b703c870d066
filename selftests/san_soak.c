// SPDX-License-Identifier: GPL-2.0
/*
 * AF_SAN soak (project issue 9, "Scale"): for SECONDS, several worker
 * threads churn connections: connect / transfer / cancel / close, over and
 * over, each checking every byte.  Not in make check: make soak runs it
 * (tools/soak), then san_scale.
 *
 * Each worker is two threads over its own listener: the driver connects,
 * the partner accepts, then they do one operation:
 *  - transfer: 1 KiB, 64 KiB or 1 MiB (below, at and above the zero-copy
 *    threshold, net.san.zcopy_threshold = 64 KiB) one way then the other,
 *    read whole or in 16 KiB pieces, every byte checked;
 *  - cancel: the driver blocks in a recv() nothing will satisfy, a copy-path
 *    send() (SAN_ZCOPY_THRESHOLD INT_MAX) the partner does not read, or a
 *    1 MiB zero-copy send() the partner does not read (SAN_CANCEL_TIMEOUT
 *    20 ms); the partner sends it SIGUSR1 (a handler, no SA_RESTART) until
 *    the call returns: EINTR (a zero-copy send may also return its count);
 * then closes: plainly, after a half-close (both sides see EOF), abortively
 * (SO_LINGER 0: the partner sees EOF or ECONNRESET), or not at all: the
 * pair is held, with 1 KiB in flight, in a ring of up to SAN_SOAK_HOLD
 * pairs per worker; the oldest is checked and closed when the ring is full.
 *
 * Fails (TAP "not ok 1 soak") on a wrong byte or result, a call asleep for
 * longer than 60 s (300 s with SAN_SCALE > 1: the hang is reported with the
 * kernel stacks), a new kernel report taint, or /proc/net/af_san (conns qps
 * cqs pds bufs pinned) and the AF_SAN sockets not back at their values from
 * before within 30 s (120 s) of the end.
 *
 * Prints "# soak: figures: ..." (iterations, bytes, cancels, connections
 * held at peak).  Usage: san_soak [SECONDS]; environment SAN_SOAK_SECONDS
 * (60), SAN_SOAK_THREADS (4 workers), SAN_SOAK_HOLD (16), SAN_SOAK_SEED (1),
 * SAN_SELF (10.0.2.15).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "san_util.h"

#define KIB		1024L
#define MIB		(1024L * 1024)
#define MAXHOLD		64

enum { OP_STOP, OP_XFER, OP_CANCEL_RECV, OP_CANCEL_SEND, OP_CANCEL_ZC };
enum { CL_PLAIN, CL_HALF, CL_ABORT, CL_HOLD };

static const char *const op_names[] = { "stop", "transfer", "cancel recv",
					"cancel copy send", "cancel zc send" };

struct worker {
	int id, lfd, family;
	struct sockaddr_in addr;
	pthread_t drv, prt;
	pthread_barrier_t bar;
	uint64_t rng;
	/* this iteration, set by the driver before the first barrier */
	int op, cl;
	long size;
	uint64_t seed;
	int afd;
	volatile int done;
	/* held pairs: driver end, partner end, marker seed */
	int hc[MAXHOLD], ha[MAXHOLD];
	uint64_t hs[MAXHOLD];
	int nhold, hhead;
	/* progress, for the watchdog */
	volatile double last;
	const char *volatile what;
	/* figures */
	long iters, bytes, cancels, zc_done, kinds[5], held_max;
};

static struct worker *wk;
static int nwk, hold_max = 16;
static volatile int stop;
static volatile long sigs;
static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void on_sig(int sig)
{
	(void)sig;
	__atomic_add_fetch(&sigs, 1, __ATOMIC_RELAXED);
}

/* The kernel stacks of every task of this process. */
static void dump_stacks(void)
{
	char cmd[256], buf[1024];
	FILE *f;

	snprintf(cmd, sizeof(cmd),
		 "for t in /proc/%d/task/*; do echo \"# task ${t##*/} wchan $(cat $t/wchan 2>/dev/null)\"; sed 's/^/#   /' $t/stack 2>/dev/null; done",
		 getpid());
	f = popen(cmd, "r");
	if (!f)
		return;
	while (fgets(buf, sizeof(buf), f))
		fputs(buf, stdout);
	pclose(f);
}

/* A failure ends the run at once: the first wrong result is the story. */
static void __attribute__((format(printf, 2, 3), noreturn))
die(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&out_lock);
	printf("# FAIL: worker %d, %s: ", w ? w->id : -1,
	       w ? op_names[w->op] : "main");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n# conns %ld sockets %ld\nnot ok 1 soak\n", san_stat("conns"),
	       san_sockets_in_use());
	fflush(stdout);
	_exit(1);
}

static void step(struct worker *w, const char *what)
{
	w->what = what;
	w->last = now();
}

static unsigned char pat(uint64_t seed, long off)
{
	return (unsigned char)(seed + off * 7 + (off >> 9) * 13);
}

static void send_all(struct worker *w, int fd, long n, uint64_t seed)
{
	static __thread unsigned char *buf;
	long off = 0, i;

	if (!buf && !(buf = malloc(MIB)))
		die(w, "malloc");
	for (i = 0; i < n; i++)
		buf[i] = pat(seed, i);
	while (off < n) {
		ssize_t r = send(fd, buf + off, n - off, 0);

		if (r <= 0)
			die(w, "send of %ld bytes at %ld: %s", n, off,
			    r ? strerror(errno) : "0");
		off += r;
	}
}

/* Reads @n bytes, whole or in 16 KiB pieces, and checks every one. */
static void recv_check(struct worker *w, int fd, long n, uint64_t seed,
		       int pieces)
{
	static __thread unsigned char *buf;
	long off = 0, i;

	if (!buf && !(buf = malloc(MIB)))
		die(w, "malloc");
	while (off < n) {
		long want = pieces && n - off > 16 * KIB ? 16 * KIB : n - off;
		ssize_t r = recv(fd, buf, want, 0);

		if (r <= 0)
			die(w, "recv of %ld bytes at %ld: %s", n, off,
			    r ? strerror(errno) : "EOF");
		for (i = 0; i < r; i++)
			if (buf[i] != pat(seed, off + i))
				die(w, "byte %ld of %ld: %#x, expected %#x",
				    off + i, n, buf[i], pat(seed, off + i));
		off += r;
	}
	__atomic_add_fetch(&w->bytes, n, __ATOMIC_RELAXED);
}

static void expect_eof(struct worker *w, int fd, int reset_ok)
{
	char c;
	ssize_t r = recv(fd, &c, 1, 0);

	if (r == 0 || (r < 0 && reset_ok && errno == ECONNRESET))
		return;
	die(w, "expected EOF%s, got %zd (%s)", reset_ok ? " or reset" : "",
	    r, r < 0 ? strerror(errno) : "data");
}

/* The oldest held pair: its 1 KiB arrived intact, then both close. */
static void unhold_one(struct worker *w)
{
	int k = w->hhead;

	step(w, "check held pair");
	recv_check(w, w->ha[k], KIB, w->hs[k], 0);
	close(w->hc[k]);
	close(w->ha[k]);
	w->hhead = (w->hhead + 1) % MAXHOLD;
	w->nhold--;
}

static void *driver(void *arg)
{
	struct worker *w = arg;
	static const long sizes[] = { KIB, 64 * KIB, MIB };
	sigset_t usr1;
	int c, v;

	sigemptyset(&usr1);
	sigaddset(&usr1, SIGUSR1);
	for (;;) {
		uint64_t r = rnd(&w->rng);

		w->done = 0;
		if (stop)
			w->op = OP_STOP;
		else if (r % 10 < 7)
			w->op = OP_XFER;
		else
			w->op = OP_CANCEL_RECV + (r >> 8) % 3;
		w->size = sizes[(r >> 16) % 3];
		w->cl = w->op == OP_XFER ? (r >> 24) % 4 : CL_PLAIN;
		w->seed = rnd(&w->rng);
		step(w, "barrier 1");
		pthread_barrier_wait(&w->bar);
		if (w->op == OP_STOP)
			break;

		step(w, "socket/connect");
		c = socket(w->family, SOCK_STREAM, 0);
		if (c < 0)
			die(w, "socket: %s", strerror(errno));
		if (connect(c, (struct sockaddr *)&w->addr, sizeof(w->addr)))
			die(w, "connect: %s", strerror(errno));
		w->kinds[w->op]++;

		switch (w->op) {
		case OP_XFER:
			step(w, "send");
			send_all(w, c, w->size, w->seed);
			step(w, "recv");
			recv_check(w, c, w->size, w->seed ^ 1, r >> 40 & 1);
			break;
		case OP_CANCEL_RECV:
		case OP_CANCEL_SEND:
		case OP_CANCEL_ZC: {
			static __thread char *buf;
			ssize_t n;

			if (!buf && !(buf = calloc(1, MIB)))
				die(w, "malloc");
			step(w, "blocked call");
			if (w->op == OP_CANCEL_RECV) {
				n = recv(c, buf, KIB, 0);
			} else if (w->op == OP_CANCEL_SEND) {
				v = INT_MAX;
				setsockopt(c, SOL_SAN, SAN_ZCOPY_THRESHOLD, &v, sizeof(v));
				while ((n = send(c, buf, 64 * KIB, 0)) > 0)
					;
			} else {
				v = 20;
				setsockopt(c, SOL_SAN, SAN_CANCEL_TIMEOUT, &v, sizeof(v));
				n = send(c, buf, MIB, 0);
			}
			/* No signal of the partner's reaches a later call. */
			pthread_sigmask(SIG_BLOCK, &usr1, NULL);
			w->done = 1;
			if (n < 0 && errno == EINTR)
				w->cancels++;
			else if (w->op == OP_CANCEL_ZC && n == MIB)
				w->zc_done++;
			else
				die(w, "the cancelled call returned %zd (%s)", n,
				    n < 0 ? strerror(errno) : "bytes");
			break;
		}
		}

		/* The close. */
		step(w, "close");
		if (w->cl == CL_HALF) {
			shutdown(c, SHUT_WR);
			expect_eof(w, c, 0);
		} else if (w->cl == CL_ABORT) {
			struct linger lg = { 1, 0 };

			setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
			close(c);
		} else if (w->cl == CL_HOLD) {
			int k = (w->hhead + w->nhold) % MAXHOLD;

			send_all(w, c, KIB, w->seed ^ 2);
			w->hc[k] = c;
			w->hs[k] = w->seed ^ 2;
		}
		step(w, "barrier 2");
		pthread_barrier_wait(&w->bar);
		pthread_sigmask(SIG_UNBLOCK, &usr1, NULL);
		if (w->cl == CL_HOLD) {
			w->ha[(w->hhead + w->nhold) % MAXHOLD] = w->afd;
			w->nhold++;
			if (w->nhold > w->held_max)
				w->held_max = w->nhold;
			if (w->nhold > hold_max)
				unhold_one(w);
		} else if (w->cl != CL_ABORT) {
			close(c);
		}
		w->iters++;
	}
	while (w->nhold)
		unhold_one(w);
	step(w, "done");
	return NULL;
}

static void *partner(void *arg)
{
	struct worker *w = arg;
	int a, cl;

	for (;;) {
		pthread_barrier_wait(&w->bar);
		if (w->op == OP_STOP)
			break;
		/* The driver sets the next iteration's after the 2nd barrier. */
		cl = w->cl;
		a = accept(w->lfd, NULL, NULL);
		if (a < 0)
			die(w, "accept: %s", strerror(errno));
		w->afd = a;
		if (w->op == OP_XFER) {
			recv_check(w, a, w->size, w->seed, (w->seed >> 3) & 1);
			send_all(w, a, w->size, w->seed ^ 1);
		} else {
			/* Signal the driver until its blocked call returns. */
			while (!w->done) {
				pthread_kill(w->drv, SIGUSR1);
				usleep(2000 + rnd(&w->seed) % 20000);
			}
		}
		if (cl == CL_HALF) {
			expect_eof(w, a, 0);
			shutdown(a, SHUT_WR);
		} else if (cl == CL_ABORT) {
			expect_eof(w, a, 1);
		}
		pthread_barrier_wait(&w->bar);
		if (cl != CL_HOLD)
			close(a);
	}
	return NULL;
}

static const char *const ctr_names[] = { "conns", "qps", "cqs", "pds",
					 "bufs", "pinned" };
#define NCTR 6

static void read_ctrs(long *v)
{
	int i;

	for (i = 0; i < NCTR; i++)
		v[i] = san_stat(ctr_names[i]);
	v[NCTR] = san_sockets_in_use();
}

static long read_taint(void)
{
	FILE *f = fopen("/proc/sys/kernel/tainted", "r");
	long v = -1;

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		else
			v &= 0x42a0;	/* BAD_PAGE, DIE, WARN, SOFTLOCKUP */
		fclose(f);
	}
	return v;
}

static long env_long(const char *name, long def)
{
	const char *s = getenv(name);

	return s && *s ? atol(s) : def;
}

int main(int argc, char **argv)
{
	long secs = argc > 1 ? atol(argv[1]) : env_long("SAN_SOAK_SECONDS", 60);
	long seed = env_long("SAN_SOAK_SEED", 1), taint0;
	const char *addr = getenv("SAN_SELF") ? getenv("SAN_SELF") : "10.0.2.15";
	int slow = san_scaled(40) < 40, hang = slow ? 300 : 60;
	long base[NCTR + 1], end[NCTR + 1], peak_conns = 0, peak_socks = 0;
	long iters = 0, bytes = 0, cancels = 0, zc_done = 0, held = 0, k5[5] = { 0 };
	struct rlimit rl = { 4096, 4096 };
	struct sigaction sa = { .sa_handler = on_sig };
	double t0, t;
	int fam = san_family(), i, j, ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("TAP version 13\n1..1\n");
	nwk = env_long("SAN_SOAK_THREADS", 4);
	hold_max = env_long("SAN_SOAK_HOLD", 16);
	if (nwk < 1 || nwk > 64 || hold_max < 0 || hold_max >= MAXHOLD || secs < 1) {
		printf("not ok 1 soak # bad settings\n");
		return 1;
	}
	if (fam < 0) {
		printf("ok 1 soak # SKIP af_san is not loaded\n");
		return 4;
	}
	setrlimit(RLIMIT_NOFILE, &rl);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGUSR1, &sa, NULL);	/* no SA_RESTART */
	read_ctrs(base);
	taint0 = read_taint();
	printf("# soak: %ld s, %d workers, hold %d pairs each, seed %ld, on %s; before: conns %ld qps %ld cqs %ld pds %ld bufs %ld pinned %ld sockets %ld\n",
	       secs, nwk, hold_max, seed, addr, base[0], base[1], base[2],
	       base[3], base[4], base[5], base[6]);

	wk = calloc(nwk, sizeof(*wk));
	if (!wk)
		die(NULL, "calloc");
	t0 = now();
	for (i = 0; i < nwk; i++) {
		struct worker *w = &wk[i];
		socklen_t len = sizeof(w->addr);

		w->id = i;
		w->family = fam;
		w->rng = 0x9e3779b97f4a7c15ULL * (seed + 1) + i * 1000003ULL;
		w->last = t0;
		w->what = "start";
		w->addr.sin_family = AF_INET;
		if (inet_pton(AF_INET, addr, &w->addr.sin_addr) != 1)
			die(NULL, "bad SAN_SELF %s", addr);
		w->lfd = socket(fam, SOCK_STREAM, 0);
		if (w->lfd < 0 || bind(w->lfd, (struct sockaddr *)&w->addr, sizeof(w->addr)) ||
		    listen(w->lfd, 128) ||
		    getsockname(w->lfd, (struct sockaddr *)&w->addr, &len))
			die(NULL, "listener %d: %s", i, strerror(errno));
		pthread_barrier_init(&w->bar, NULL, 2);
		if (pthread_create(&w->drv, NULL, driver, w) ||
		    pthread_create(&w->prt, NULL, partner, w))
			die(NULL, "pthread_create");
	}

	/* Watchdog and peak sampler. */
	for (;;) {
		long c = san_stat("conns"), s = san_sockets_in_use();

		if (c > peak_conns)
			peak_conns = c;
		if (s > peak_socks)
			peak_socks = s;
		t = now();
		if (t - t0 >= secs)
			stop = 1;
		for (i = 0, ok = 1; i < nwk; i++) {
			if (strcmp(wk[i].what, "done"))
				ok = 0;
			if (t - wk[i].last > hang) {
				printf("# HANG: worker %d (%s) in \"%s\" for %.0f s\n",
				       i, op_names[wk[i].op], wk[i].what,
				       t - wk[i].last);
				dump_stacks();
				die(&wk[i], "hang");
			}
		}
		if (ok)
			break;
		usleep(100000);
	}
	for (i = 0; i < nwk; i++) {
		pthread_join(wk[i].drv, NULL);
		pthread_join(wk[i].prt, NULL);
		close(wk[i].lfd);
		iters += wk[i].iters;
		bytes += wk[i].bytes;
		cancels += wk[i].cancels;
		zc_done += wk[i].zc_done;
		held += wk[i].held_max;
		for (j = 0; j < 5; j++)
			k5[j] += wk[i].kinds[j];
	}
	t = now() - t0;

	/* Everything back where it was. */
	for (i = 0; i < (slow ? 1200 : 300); i++) {
		read_ctrs(end);
		for (j = 0, ok = 1; j <= NCTR; j++)
			if (end[j] != base[j])
				ok = 0;
		if (ok)
			break;
		usleep(100000);
	}
	printf("# soak: after %.1f s (+%.1f s to settle): conns %ld qps %ld cqs %ld pds %ld bufs %ld pinned %ld sockets %ld\n",
	       t, i / 10.0, end[0], end[1], end[2], end[3], end[4], end[5],
	       end[6]);
	printf("# soak: transfers %ld, cancelled recv %ld, copy send %ld, zero-copy send %ld (%ld finished before the cancel timeout); SIGUSR1 caught %ld\n",
	       k5[OP_XFER], k5[OP_CANCEL_RECV], k5[OP_CANCEL_SEND],
	       k5[OP_CANCEL_ZC], zc_done, sigs);
	printf("# soak: figures: seconds %.0f threads %d iterations %ld bytes %ld cancels %ld peak_conns %ld peak_sockets %ld held_pairs_peak %ld leaked_counters %d\n",
	       t, 2 * nwk, iters, bytes, cancels, peak_conns, peak_socks, held,
	       ok ? 0 : 1);
	if (!ok)
		die(NULL, "counters not back to their values from before the run");
	if (read_taint() != taint0)
		die(NULL, "the kernel got tainted during the run: %ld -> %ld",
		    taint0, read_taint());
	if (!iters || !cancels)
		die(NULL, "no iteration or no cancel in the whole run");
	printf("ok 1 soak\n");
	return 0;
}
