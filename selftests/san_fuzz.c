// SPDX-License-Identifier: GPL-2.0
/*
 * san_fuzz: a sequence fuzzer for AF_SAN.  Random sequences of socket
 * calls over a small shared table of sockets (NSLOT slots), run by several
 * threads at once, while a chaos thread closes, shuts down and signals,
 * and a worker sometimes forks a child that does a few calls of its own on
 * the inherited sockets.
 *
 * Every blocking call is bounded (SO_RCVTIMEO/SO_SNDTIMEO set just before
 * it, a signal every few hundred ms, a shutdown of everything at the end),
 * so the program ends on time unless the kernel hangs, which it reports.
 *
 * It fails (TAP "not ok 1 seq_fuzz") when:
 *  - a call breaks a rule that holds for TCP whatever the sequence
 *    (EFAULT on a valid buffer, a kernel-internal errno such as 512, more
 *    bytes than asked, SO_TYPE not SOCK_STREAM, ...);
 *  - a call sleeps longer than the hang limit, or a thread does not come
 *    back at the end;
 *  - the kernel got tainted (a WARNING, an oops) during the run;
 *  - /proc/net/af_san counters or the AF_SAN sockets column of
 *    /proc/net/protocols are not back to their values from before the run;
 *  - no connection was ever established (the fuzzer did not reach AF_SAN).
 *
 * Environment (arguments override): SAN_FUZZ_SEED (argv[1], default 1),
 * SAN_FUZZ_SECONDS (argv[2], default 30), SAN_FUZZ_THREADS (workers,
 * default 3; 1 and SAN_FUZZ_CHAOS=0 SAN_FUZZ_FORK=0 give a sequence that
 * depends on the seed alone), SAN_FUZZ_VERBOSE=1 (every call on stdout,
 * flushed, before it is made: the last lines before a crash are the
 * reproducer), SAN_FUZZ_LOG=file (the same lines into a file: faster than
 * stdout over 9p, for races that verbose output hides), SAN_SELF (address, default 10.0.2.15).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/netlink.h>
#include <linux/san_diag.h>
#include <linux/sock_diag.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "san_util.h"

#define NSLOT		8
#define MAXTHR		8
#define PORT_BASE	7000
#define NPORT		16
#define BIGBUF		(2 << 20)	/* 2 MiB: the largest call is 1 MiB + 1 */
#define RING		32

#ifndef IPPROTO_SAN
#define IPPROTO_SAN 261
#endif

enum op {
	OP_SOCKET, OP_BIND, OP_LISTEN, OP_CONNECT, OP_ACCEPT, OP_SEND,
	OP_RECV, OP_SHUTDOWN, OP_SETSOCKOPT, OP_GETSOCKOPT, OP_POLL,
	OP_EPOLL, OP_IOCTL, OP_CLOSE, OP_GETNAME, OP_FCNTL, OP_DUP,
	OP_PAIR, OP_SENDFILE, OP_DIAG, OP_FORK, NOP
};

static const char *const op_name[NOP] = {
	"socket", "bind", "listen", "connect", "accept", "send", "recv",
	"shutdown", "setsockopt", "getsockopt", "poll", "epoll", "ioctl",
	"close", "getname", "fcntl", "dup", "pair", "sendfile", "diag", "fork",
};

/* Relative weights of the operations a worker picks. */
static const int op_weight[NOP] = {
	[OP_SOCKET] = 8, [OP_BIND] = 8, [OP_LISTEN] = 6, [OP_CONNECT] = 10,
	[OP_ACCEPT] = 8, [OP_SEND] = 14, [OP_RECV] = 14, [OP_SHUTDOWN] = 3,
	[OP_SETSOCKOPT] = 8, [OP_GETSOCKOPT] = 5, [OP_POLL] = 3,
	[OP_EPOLL] = 3, [OP_IOCTL] = 3, [OP_CLOSE] = 3, [OP_GETNAME] = 2,
	[OP_FCNTL] = 2, [OP_DUP] = 1, [OP_PAIR] = 4, [OP_SENDFILE] = 1,
	[OP_DIAG] = 1, [OP_FORK] = 1,
};

/* Sizes around the copy and zero-copy thresholds. */
static const size_t sizes[] = { 0, 1, 7, 4096, 16383, 16384, 16385, 65535,
				65536, 65537, 262144, 1 << 20 };

struct fz {
	int id;
	pthread_t thr;
	uint64_t rng;
	char *buf;		/* BIGBUF, read-write */
	char *ro;		/* BIGBUF, PROT_READ */
	char *edge;		/* last page before an unmapped guard page */
	int epfd;
	int focus;		/* the slot used last */
	char cur[256];		/* the call in flight */
	volatile long started;	/* ms, 0 when not in a call */
	unsigned long n;	/* calls made */
	char ring[RING][352];	/* the last calls and their results */
	int done;
};

static int family = -1;
static struct in_addr self4;
static struct in6_addr self6, mapped6;
static int slot[NSLOT];
static volatile int stop;
static int logfd = 1;	/* where verbose lines go (SAN_FUZZ_LOG) */
static int verbose, nthr = 3, chaos_on = 1, fork_on = 1;
static long hang_ms = 30000;
static struct fz thr[MAXTHR];
static int in_child;

static unsigned long calls[NOP], okcalls[NOP];
static unsigned long errs[4096];
static unsigned long n_connected, n_accepted, n_pairs, n_forks, n_signals;
static unsigned long long bytes_sent, bytes_recv;
static unsigned long violations, restart_flips;
static unsigned long caught_sig;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t rnd(struct fz *t)
{
	/* xorshift64* */
	t->rng ^= t->rng >> 12;
	t->rng ^= t->rng << 25;
	t->rng ^= t->rng >> 27;
	return t->rng * 0x2545F4914F6CDD1DULL;
}

static unsigned int rn(struct fz *t, unsigned int n)
{
	return n ? rnd(t) % n : 0;
}

static int chance(struct fz *t, int percent)
{
	return (int)rn(t, 100) < percent;
}

#define ADD(x, v) __atomic_add_fetch(&(x), (v), __ATOMIC_RELAXED)

static void vout(int fd, const char *fmt, va_list ap)
{
	char line[512];
	int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);

	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n++] = '\n';
	if (write(fd, line, n) < 0)
		return;
}

/* A verbose line: stdout, or the SAN_FUZZ_LOG file (faster than 9p). */
static void vlog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vout(logfd, fmt, ap);
	va_end(ap);
}

/* Output of one line with a single write(), safe in a forked child. */
static void out(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vout(1, fmt, ap);
	va_end(ap);
}

static void begin(struct fz *t, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->cur, sizeof(t->cur), fmt, ap);
	va_end(ap);
	t->n++;
	if (verbose)
		vlog("%sT%d.%lu %s", in_child ? "child " : "", t->id, t->n,
		     t->cur);
	t->started = now_ms();
}

/* The end of a call: counts, the errno histogram, the ring, -v output. */
static long end(struct fz *t, enum op op, long rc)
{
	int e = errno;
	char res[64];

	t->started = 0;
	ADD(calls[op], 1);
	if (rc >= 0) {
		ADD(okcalls[op], 1);
		snprintf(res, sizeof(res), "= %ld", rc);
	} else {
		ADD(errs[e >= 0 && e < 4096 ? e : 0], 1);
		snprintf(res, sizeof(res), "= -1 %s",
			 strerrorname_np(e) ? strerrorname_np(e) : "?");
	}
	snprintf(t->ring[t->n % RING], sizeof(t->ring[0]), "%lu %s %s", t->n,
		 t->cur, res);
	if (verbose)
		vlog("%sT%d.%lu %s", in_child ? "child " : "", t->id, t->n,
		     res);
	errno = e;
	return rc;
}

static void violation(struct fz *t, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	ADD(violations, 1);
	out("# VIOLATION (T%d call %lu: %s): %s", t->id, t->n, t->cur, what);
}

/*
 * Rules that hold for any TCP socket call whatever came before: -1 comes
 * with an errno, kernel-internal codes (ERESTARTSYS and friends, 512..530)
 * never reach user space, and a valid buffer never gives EFAULT.
 */
static void check_errno(struct fz *t, long rc, int valid_mem)
{
	int e = errno;

	if (rc != -1)
		return;
	if (e <= 0 || e >= 512)
		violation(t, "errno %d", e);
	else if (e == EFAULT && valid_mem)
		violation(t, "EFAULT with valid memory");
	errno = e;
}

/*
 * Slots: a worker mostly stays on the slot it used last, so one socket
 * goes through long sequences of calls (bind, connect, listen, ...).
 */
static int pick_slot(struct fz *t)
{
	if (chance(t, 65))
		return t->focus;
	t->focus = rn(t, NSLOT);
	return t->focus;
}

static int slot_fd(struct fz *t)
{
	int i, fd;

	/* Now and then a closed or never-opened descriptor. */
	if (chance(t, 2))
		return chance(t, 50) ? -1 : 1000;
	/* Mostly an open one: an empty slot only gives EBADF. */
	for (i = 0; i < 4; i++) {
		fd = __atomic_load_n(&slot[pick_slot(t)], __ATOMIC_SEQ_CST);
		if (fd >= 0)
			return fd;
		t->focus = rn(t, NSLOT);
	}
	return fd;
}

/* Put @fd in slot @i, closing what was there. */
static void slot_put(int i, int fd)
{
	int old = __atomic_exchange_n(&slot[i], fd, __ATOMIC_SEQ_CST);

	if (old >= 0)
		close(old);
}

/* Short timeouts before a blocking call (50..500 ms), mostly. */
static void bound(struct fz *t, int fd)
{
	struct timeval tv = { 0, (50 + rn(t, 450)) * 1000 };

	/* Sometimes none at all: zero-copy sends need that, and the signals
	 * of the chaos thread and the shutdown at the end bound the call.
	 */
	if (chaos_on && !in_child && chance(t, 10))
		tv.tv_usec = 0;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static const char *fdesc(struct sockaddr_storage *ss, char *s, size_t n)
{
	struct sockaddr_in *sin = (void *)ss;
	struct sockaddr_in6 *sin6 = (void *)ss;
	char a[INET6_ADDRSTRLEN];

	if (ss->ss_family == AF_INET)
		snprintf(s, n, "%s:%d", inet_ntop(AF_INET, &sin->sin_addr, a,
						  sizeof(a)),
			 ntohs(sin->sin_port));
	else if (ss->ss_family == AF_INET6)
		snprintf(s, n, "[%s]:%d",
			 inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a)),
			 ntohs(sin6->sin6_port));
	else
		snprintf(s, n, "family%d", ss->ss_family);
	return s;
}

static int fuzz_port(struct fz *t)
{
	/* Mostly the first four ports: connects then find listeners. */
	return PORT_BASE + (chance(t, 70) ? rn(t, 4) : rn(t, NPORT));
}

/*
 * An address for bind (@conn 0) or connect (@conn 1), its length in *len;
 * returns 0 when the address is valid memory, 1 when it is not.
 */
static int gen_addr(struct fz *t, struct sockaddr_storage *ss,
		    socklen_t *len, int conn, char *desc, size_t dn)
{
	struct sockaddr_in *sin = (void *)ss;
	struct sockaddr_in6 *sin6 = (void *)ss;
	unsigned int r = rn(t, 100);
	int port = fuzz_port(t);

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_addr = self4;
	*len = sizeof(*sin);
	if (r < 45) {
		/* self, in the port range (or port 0 for bind) */
		sin->sin_port = htons(!conn && chance(t, 40) ? 0 : port);
	} else if (r < 55) {
		inet_pton(AF_INET, "10.0.2.99", &sin->sin_addr);
		sin->sin_port = htons(port);
	} else if (r < 60) {
		sin->sin_port = htons(7999);	/* nobody listens */
	} else if (r < 63) {
		sin->sin_addr.s_addr = htonl(INADDR_ANY);
		sin->sin_port = htons(conn ? port : 0);
	} else if (r < 65) {
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
	} else if (r < 67) {
		inet_pton(AF_INET, chance(t, 50) ? "224.0.0.1" :
			  "255.255.255.255", &sin->sin_addr);
		sin->sin_port = htons(port);
	} else if (r < 77) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = self6;
		sin6->sin6_port = htons(!conn && chance(t, 30) ? 0 : port);
		*len = sizeof(*sin6);
	} else if (r < 84) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = mapped6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	} else if (r < 86) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_any;
		sin6->sin6_port = htons(conn ? port : 0);
		*len = sizeof(*sin6);
	} else if (r < 90) {
		ss->ss_family = AF_UNSPEC;
		*len = chance(t, 50) ? sizeof(*sin) : sizeof(sa_family_t);
	} else if (r < 92) {
		ss->ss_family = rn(t, 64);
		sin->sin_port = htons(port);
	} else if (r < 97) {
		/* an odd length */
		sin->sin_port = htons(port);
		*len = rn(t, sizeof(*ss) + 8);
		if (chance(t, 30))
			*len = (socklen_t)-rn(t, 4) - 1;
	} else {
		fdesc(ss, desc, dn);
		snprintf(desc, dn, "%s", chance(t, 50) ? "NULL" : "bad");
		return 1;
	}
	fdesc(ss, desc, dn);
	return 0;
}

static int op_socket(struct fz *t)
{
	int type = SOCK_STREAM, proto = 0, i = pick_slot(t);
	long fd;

	if (chance(t, 30))
		type |= SOCK_NONBLOCK;
	if (chance(t, 30))
		type |= SOCK_CLOEXEC;
	if (chance(t, 4))
		type = chance(t, 50) ? SOCK_DGRAM : SOCK_SEQPACKET;
	if (chance(t, 4))
		proto = chance(t, 50) ? IPPROTO_TCP : (int)rn(t, 300);
	if (chance(t, 12)) {
		/*
		 * An inet socket: IPPROTO_SAN (an AF_SAN socket under the
		 * inet family), or plain TCP, whose listeners AF_SAN clients
		 * fall back to and whose clients reach AF_SAN listeners.
		 */
		int dom = chance(t, 50) ? AF_INET : AF_INET6;

		proto = chance(t, 50) ? IPPROTO_SAN : 0;
		/* Protocol 0 of another type is UDP or SCTP: not ours. */
		if ((type & 0xf) != SOCK_STREAM)
			proto = IPPROTO_SAN;
		begin(t, "socket(%d, 0x%x, %d) -> slot%d", dom, type, proto, i);
		fd = end(t, OP_SOCKET, socket(dom, type, proto));
		check_errno(t, fd, 1);
		if (fd >= 0)
			slot_put(i, fd);
		return 0;
	}
	begin(t, "socket(%d, 0x%x, %d) -> slot%d", family, type, proto, i);
	fd = end(t, OP_SOCKET, socket(family, type, proto));
	check_errno(t, fd, 1);
	if (fd >= 0) {
		if ((type & 0xf) != SOCK_STREAM || proto)
			violation(t, "socket type 0x%x proto %d accepted",
				  type, proto);
		slot_put(i, fd);
	}
	return 0;
}

static void op_bind(struct fz *t)
{
	struct sockaddr_storage ss;
	char d[80];
	socklen_t len;
	int fd = slot_fd(t), bad;
	long rc;

	bad = gen_addr(t, &ss, &len, 0, d, sizeof(d));
	begin(t, "bind(%d, %s, %d)", fd, d, (int)len);
	rc = end(t, OP_BIND, bind(fd, bad ? (void *)(uintptr_t)(rn(t, 2) * 8)
				  : (struct sockaddr *)&ss, len));
	check_errno(t, rc, !bad);
}

static void op_listen(struct fz *t)
{
	static const int backlogs[] = { -1, 0, 1, 2, 5, 16, 128, 4096,
					INT_MAX, INT_MIN };
	int fd = slot_fd(t), bl = backlogs[rn(t, 10)];
	long rc;

	begin(t, "listen(%d, %d)", fd, bl);
	rc = end(t, OP_LISTEN, listen(fd, bl));
	check_errno(t, rc, 1);
}

static void op_connect(struct fz *t)
{
	struct sockaddr_storage ss;
	char d[80];
	socklen_t len;
	int fd = slot_fd(t), bad, nb = chance(t, 40), err;
	long rc;

	bad = gen_addr(t, &ss, &len, 1, d, sizeof(d));
	bound(t, fd);
	begin(t, "connect(%d, %s, %d)%s", fd, d, (int)len, nb ? " nb" : "");
	if (nb) {
		int fl = fcntl(fd, F_GETFL);

		if (fl >= 0)
			fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	}
	rc = end(t, OP_CONNECT, connect(fd, bad ? NULL : (void *)&ss, len));
	err = errno;
	check_errno(t, rc, !bad);
	if (!rc) {
		ADD(n_connected, 1);
	} else if (nb && err == EINPROGRESS && chance(t, 60)) {
		struct pollfd p = { .fd = fd, .events = POLLOUT };
		socklen_t l = sizeof(err);

		begin(t, "poll(%d, POLLOUT) after connect", fd);
		rc = end(t, OP_POLL, poll(&p, 1, 50 + rn(t, 500)));
		check_errno(t, rc, 1);
		if (rc == 1 && !getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) &&
		    !err && (p.revents & POLLOUT) &&
		    !(p.revents & (POLLERR | POLLHUP)))
			ADD(n_connected, 1);
	}
}

static void op_accept(struct fz *t)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = slot_fd(t), flags = 0, i = pick_slot(t), mode = rn(t, 10);
	void *addr = &ss;
	socklen_t *lp = &len;
	long nfd;

	if (chance(t, 30))
		flags |= SOCK_NONBLOCK;
	if (chance(t, 30))
		flags |= SOCK_CLOEXEC;
	if (mode == 0) {
		addr = NULL;
		lp = NULL;
	} else if (mode == 1) {
		len = rn(t, 8);
	} else if (mode == 2) {
		len = (socklen_t)-1;
	} else if (mode == 3) {
		addr = (void *)8;
	}
	bound(t, fd);
	begin(t, "accept4(%d, %s, %d, 0x%x) -> slot%d", fd,
	      addr == &ss ? "buf" : addr ? "bad" : "NULL", (int)len, flags, i);
	nfd = end(t, OP_ACCEPT, accept4(fd, addr, lp, flags));
	check_errno(t, nfd, mode != 3);
	if (nfd >= 0) {
		ADD(n_accepted, 1);
		if (addr == &ss && len > sizeof(ss) && mode != 2)
			violation(t, "accept address length %d", (int)len);
		slot_put(i, nfd);
	}
}

static size_t gen_size(struct fz *t)
{
	size_t n = sizes[rn(t, sizeof(sizes) / sizeof(sizes[0]))];

	if (chance(t, 10))
		n = rn(t, 70000);
	return n;
}

static int gen_msgflags(struct fz *t, int recv)
{
	int f = 0;

	if (chance(t, 35))
		f |= MSG_DONTWAIT;
	if (recv && chance(t, 15))
		f |= MSG_PEEK;
	if (recv && chance(t, 15))
		f |= MSG_WAITALL;
	if (chance(t, 4))
		f |= MSG_OOB;
	if (chance(t, 50))
		f |= MSG_NOSIGNAL;
	if (!recv && chance(t, 5))
		f |= MSG_MORE;
	if (recv && chance(t, 3))
		f |= MSG_TRUNC;
	if (recv && chance(t, 2))
		f |= MSG_ERRQUEUE;
	if (chance(t, 2))
		f |= 1 << rn(t, 31);
	return f;
}

/*
 * A buffer of @n bytes: *valid says whether all of it is memory the call
 * may use (for a receive: writable).
 */
static char *gen_buf(struct fz *t, size_t n, int recv, int *valid,
		     const char **what)
{
	unsigned int r = rn(t, 100);

	*valid = 1;
	*what = "buf";
	if (r < 85)
		return t->buf + rn(t, 64);
	if (r < 92) {
		/* read-only memory: fine to send from, not to receive into */
		*valid = !recv;
		*what = "ro";
		return t->ro;
	}
	*valid = n == 0;
	if (r < 95) {
		*what = "NULL";
		return NULL;
	}
	/* runs into an unmapped page */
	*valid = n <= 100;
	*what = "edge";
	return t->edge + 4096 - 100;
}

static void op_send(struct fz *t)
{
	int fd = slot_fd(t), valid, flags = gen_msgflags(t, 0);
	size_t n = gen_size(t);
	const char *what;
	char *b = gen_buf(t, n, 0, &valid, &what);
	int how = rn(t, 4);
	long rc;

	bound(t, fd);
	if (how == 0) {
		begin(t, "send(%d, %s, %zu, 0x%x)", fd, what, n, flags);
		rc = end(t, OP_SEND, send(fd, b, n, flags));
	} else if (how == 1) {
		struct sockaddr_in sin = { .sin_family = AF_INET,
					   .sin_addr = self4,
					   .sin_port = htons(fuzz_port(t)) };

		begin(t, "sendto(%d, %s, %zu, 0x%x, %d)", fd, what, n, flags,
		      ntohs(sin.sin_port));
		rc = end(t, OP_SEND, sendto(fd, b, n, flags, (void *)&sin,
					    sizeof(sin)));
	} else {
		/* several segments, one of them maybe bad */
		struct iovec iov[3];
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 1 + rn(t, 3) };
		size_t i, tot = 0;

		for (i = 0; i < m.msg_iovlen; i++) {
			iov[i].iov_base = t->buf + i * (BIGBUF / 4);
			iov[i].iov_len = i ? rn(t, 70000) : n;
			tot += iov[i].iov_len;
		}
		iov[0].iov_base = b;
		if (chance(t, 5)) {
			m.msg_control = t->buf;
			m.msg_controllen = rn(t, 64);
		}
		begin(t, "sendmsg(%d, %zu segs (%s %zu), %zu, ctl %zu, 0x%x)",
		      fd, m.msg_iovlen, what, n, tot, m.msg_controllen, flags);
		rc = end(t, OP_SEND, sendmsg(fd, &m, flags));
		if (rc > (long)tot)
			violation(t, "sent %ld of %zu", rc, tot);
		n = tot;
		if (m.msg_controllen)
			valid = 0;	/* garbage cmsg may hold anything */
	}
	check_errno(t, rc, valid);
	if (rc > (long)n)
		violation(t, "sent %ld of %zu", rc, n);
	if (rc > 0)
		ADD(bytes_sent, rc);
}

static void op_recv(struct fz *t)
{
	int fd = slot_fd(t), valid, flags = gen_msgflags(t, 1);
	size_t n = gen_size(t);
	const char *what;
	char *b = gen_buf(t, n, 1, &valid, &what);
	int how = rn(t, 3);
	long rc;

	bound(t, fd);
	if (how == 0) {
		begin(t, "recv(%d, %s, %zu, 0x%x)", fd, what, n, flags);
		rc = end(t, OP_RECV, recv(fd, b, n, flags));
	} else if (how == 1) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		begin(t, "recvfrom(%d, %s, %zu, 0x%x)", fd, what, n, flags);
		rc = end(t, OP_RECV, recvfrom(fd, b, n, flags, (void *)&ss,
					      &len));
	} else {
		struct iovec iov[2] = { { b, n },
					{ t->buf + BIGBUF / 2, rn(t, 70000) } };
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = 1 + rn(t, 2) };

		begin(t, "recvmsg(%d, %zu segs (%s %zu), 0x%x)", fd,
		      m.msg_iovlen, what, n, flags);
		rc = end(t, OP_RECV, recvmsg(fd, &m, flags));
		if (m.msg_iovlen == 2)
			n += iov[1].iov_len;
	}
	check_errno(t, rc, valid);
	if (rc > (long)n && !(flags & MSG_TRUNC))
		violation(t, "received %ld into %zu", rc, n);
	if (rc > 0 && !(flags & MSG_PEEK))
		ADD(bytes_recv, rc);
}

static void op_shutdown(struct fz *t)
{
	int fd = slot_fd(t), how = (int)rn(t, 5) - 1;
	long rc;

	begin(t, "shutdown(%d, %d)", fd, how);
	rc = end(t, OP_SHUTDOWN, shutdown(fd, how));
	check_errno(t, rc, 1);
}

static void gen_sockopt(struct fz *t, int *level, int *name, const char **lv)
{
	static const int sol_socket[] = {
		SO_RCVTIMEO, SO_SNDTIMEO, SO_LINGER, SO_KEEPALIVE, SO_RCVBUF,
		SO_SNDBUF, SO_REUSEADDR, SO_REUSEPORT, SO_ERROR, SO_TYPE,
		SO_DOMAIN, SO_PROTOCOL, SO_ACCEPTCONN, SO_RCVLOWAT,
		SO_SNDLOWAT, SO_OOBINLINE, SO_PRIORITY, SO_BROADCAST,
		SO_DEBUG, SO_DONTROUTE, SO_PEEK_OFF, SO_BUSY_POLL,
		SO_RCVBUFFORCE, SO_SNDBUFFORCE, SO_ZEROCOPY, SO_TIMESTAMP,
		SO_PEERCRED, SO_PEERNAME, SO_COOKIE, SO_INCOMING_CPU,
		SO_MARK, SO_TXTIME,
	};
	unsigned int r = rn(t, 100);

	if (r < 40) {
		*level = SOL_SOCKET;
		*lv = "SOL_SOCKET";
		*name = chance(t, 85) ? sol_socket[rn(t, sizeof(sol_socket) /
						       sizeof(int))] :
			(int)rn(t, 80);
	} else if (r < 70) {
		*level = SOL_SAN;
		*lv = "SOL_SAN";
		*name = chance(t, 85) ? 1 + (int)rn(t, 8) : (int)rn(t, 64) - 8;
	} else if (r < 75) {
		*level = chance(t, 50) ? SOL_IP : SOL_IPV6;
		*lv = *level == SOL_IP ? "SOL_IP" : "SOL_IPV6";
		*name = chance(t, 70) ? (chance(t, 50) ? IP_TOS : IPV6_V6ONLY) :
			(int)rn(t, 80);
	} else if (r < 90) {
		*level = SOL_TCP;
		*lv = "SOL_TCP";
		*name = rn(t, 40);
	} else {
		*level = chance(t, 50) ? (int)rn(t, 300) : (int)rnd(t);
		*lv = "random";
		*name = rn(t, 64);
	}
}

/* Whether @fd's protocol is IPPROTO_SAN or TCP (an inet socket's). */
static int inet_proto(int fd)
{
	int proto = -1;
	socklen_t len = sizeof(proto);

	return !getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) &&
	       (proto == IPPROTO_SAN || proto == IPPROTO_TCP);
}

/* @fd's SO_DOMAIN, or -1. */
static int sock_domain(int fd)
{
	int dom = -1;
	socklen_t len = sizeof(dom);

	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len))
		return -1;
	return dom;
}

/* Whether @fd is a plain TCP socket (not AF_SAN, not IPPROTO_SAN). */
static int is_plain_tcp(int fd)
{
	int proto = -1;
	socklen_t len = sizeof(proto);

	return !getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) &&
	       proto == IPPROTO_TCP;
}

static void op_setsockopt(struct fz *t)
{
	int fd = slot_fd(t), level, name, len, valid = 1;
	const char *lv;
	char *val = t->buf + 8192;
	long rc;

	gen_sockopt(t, &level, &name, &lv);
	/*
	 * A plain TCP socket (the fallback's peer) is not what is fuzzed:
	 * TCP's own options (TCP_REPAIR, TCP_ULP...) stay out.
	 */
	if (is_plain_tcp(fd))
		return;
	/* Keep hard-to-undo options out: they would make later blocking
	 * calls unbounded or change the host (SO_BINDTODEVICE is refused by
	 * the name check below only by chance, so skip it).
	 */
	if (level == SOL_SOCKET && (name == SO_BINDTODEVICE ||
				    name == SO_ATTACH_FILTER ||
				    name == SO_ATTACH_BPF))
		name = SO_KEEPALIVE;
	len = chance(t, 70) ? 4 : (int)rn(t, 65);
	if (chance(t, 5))
		len = -(int)rn(t, 8) - 1;
	/* Mostly small sensible values, sometimes anything. */
	memset(val, 0, 64);
	switch (rn(t, 6)) {
	case 0: *(int *)val = 0; break;
	case 1: *(int *)val = 1; break;
	case 2: *(int *)val = rn(t, 70000); break;
	case 3: *(int *)val = INT_MAX; break;
	case 4: *(int *)val = -1; break;
	default:
		for (int i = 0; i < 64; i += 8)
			*(uint64_t *)(val + i) = rnd(t);
	}
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO)) {
		struct timeval tv = { 0, 1000 * (1 + rn(t, 400)) };

		memcpy(val, &tv, sizeof(tv));
		len = chance(t, 80) ? (int)sizeof(tv) : len;
	} else if (level == SOL_SOCKET && name == SO_LINGER) {
		struct linger l = { chance(t, 60), rn(t, 3) };

		memcpy(val, &l, sizeof(l));
		len = chance(t, 80) ? (int)sizeof(l) : len;
	}
	/*
	 * A cancelled zero-copy call may wait this long before it aborts:
	 * keep it well under the hang limit (a value the kernel takes, up to
	 * 600 s, would make the end's signals look like a hang).
	 */
	if (level == SOL_SAN && name == SAN_CANCEL_TIMEOUT &&
	    *(int *)val > 5000 && *(int *)val <= 600000)
		*(int *)val = 1 + *(int *)val % 5000;
	if (chance(t, 3)) {
		val = chance(t, 50) ? NULL : t->edge + 4096 - 2;
		valid = 0;
	}
	/* Only SOL_SAN's options are plain ints we know to be harmless to
	 * read; elsewhere a value may be read as a pointer.
	 */
	if (level != SOL_SAN)
		valid = 0;
	begin(t, "setsockopt(%d, %s %d, %d, %s 0x%x, %d)", fd, lv, level,
	      name, val == t->buf + 8192 ? "val" : "bad",
	      val == t->buf + 8192 ? *(int *)val : 0, len);
	rc = end(t, OP_SETSOCKOPT, setsockopt(fd, level, name, val, len));
	check_errno(t, rc, valid);
}

static void op_getsockopt(struct fz *t)
{
	int fd = slot_fd(t), level, name, valid = 1;
	const char *lv;
	char *val = t->buf + 8192;
	socklen_t len = chance(t, 70) ? 4 : rn(t, 65), *lp = &len;
	long rc;

	gen_sockopt(t, &level, &name, &lv);
	if (chance(t, 5))
		len = (socklen_t)-1;
	if (chance(t, 3)) {
		if (chance(t, 50))
			val = NULL;
		else
			lp = NULL;
		valid = 0;
	}
	if (level != SOL_SAN && level != SOL_SOCKET)
		valid = 0;
	begin(t, "getsockopt(%d, %s %d, %d, %s, %d)", fd, lv, level, name,
	      val ? "val" : "NULL", lp ? (int)len : -999);
	rc = end(t, OP_GETSOCKOPT, getsockopt(fd, level, name, val, lp));
	check_errno(t, rc, valid);
	if (rc == 0 && level == SOL_SOCKET && len == 4 && val) {
		int v = *(int *)val;

		/*
		 * Only of an AF_SAN, IPPROTO_SAN or TCP socket: another
		 * worker may have closed this fd, and the diag op's netlink
		 * socket taken its number.
		 */
		if (name == SO_TYPE && v != SOCK_STREAM &&
		    (sock_domain(fd) == family || inet_proto(fd)))
			violation(t, "SO_TYPE %d", v);
		/* The diag op's netlink socket took a closed slot's number. */
		if (sock_domain(fd) == AF_NETLINK)
			return;
		/* Only IPPROTO_SAN and plain TCP sockets are inet ones. */
		if (name == SO_DOMAIN && v != family &&
		    !((v == AF_INET || v == AF_INET6) && inet_proto(fd)))
			violation(t, "SO_DOMAIN %d, family %d", v, family);
		if (name == SO_ERROR && (v < 0 || v >= 512))
			violation(t, "SO_ERROR %d", v);
	}
}

static void op_poll(struct fz *t)
{
	struct pollfd p[NSLOT];
	int n = 1 + rn(t, NSLOT), i, ms = rn(t, 60);
	long rc;

	for (i = 0; i < n; i++) {
		p[i].fd = slot_fd(t);
		p[i].events = rnd(t) & (POLLIN | POLLOUT | POLLPRI |
					POLLRDHUP | POLLRDNORM | POLLWRNORM);
	}
	begin(t, "poll(%d fds, first %d 0x%x, %d ms)", n, p[0].fd,
	      p[0].events, ms);
	rc = end(t, OP_POLL, poll(p, n, ms));
	check_errno(t, rc, 1);
	if (rc > n)
		violation(t, "poll returned %ld of %d", rc, n);
}

static void op_epoll(struct fz *t)
{
	struct epoll_event ev = { .events = rnd(t) &
		(EPOLLIN | EPOLLOUT | EPOLLPRI | EPOLLRDHUP | EPOLLET |
		 EPOLLONESHOT) };
	struct epoll_event evs[NSLOT];
	int fd = slot_fd(t), what = rn(t, 4);
	long rc;

	if (what < 2) {
		ev.data.fd = fd;
		begin(t, "epoll_ctl(%d, %s, %d, 0x%x)", t->epfd,
		      what ? "MOD" : "ADD", fd, ev.events);
		rc = end(t, OP_EPOLL, epoll_ctl(t->epfd, what ? EPOLL_CTL_MOD :
						EPOLL_CTL_ADD, fd, &ev));
	} else if (what == 2) {
		begin(t, "epoll_ctl(%d, DEL, %d)", t->epfd, fd);
		rc = end(t, OP_EPOLL, epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd,
						NULL));
	} else {
		int ms = rn(t, 60);

		begin(t, "epoll_wait(%d, %d ms)", t->epfd, ms);
		rc = end(t, OP_EPOLL, epoll_wait(t->epfd, evs, NSLOT, ms));
	}
	check_errno(t, rc, 1);
}

static void op_ioctl(struct fz *t)
{
	static const unsigned long cmds[] = { SIOCINQ, SIOCOUTQ, FIONBIO,
					      SIOCOUTQNSD, SIOCATMARK,
					      FIONREAD, SIOCGSTAMP_OLD };
	unsigned long cmd = cmds[rn(t, sizeof(cmds) / sizeof(cmds[0]))];
	int fd = slot_fd(t), *arg = (int *)(t->buf + 16384), valid = 1;
	long rc;

	*arg = rn(t, 2);
	if (chance(t, 5)) {
		arg = chance(t, 50) ? NULL : (int *)8;
		valid = 0;
	}
	begin(t, "ioctl(%d, 0x%lx, %s)", fd, cmd, valid ? "int" : "bad");
	rc = end(t, OP_IOCTL, ioctl(fd, cmd, arg));
	check_errno(t, rc, valid);
	if (!rc && valid && (cmd == SIOCINQ || cmd == SIOCOUTQ) && *arg < 0)
		violation(t, "ioctl 0x%lx gave %d", cmd, *arg);
}

static void op_close(struct fz *t)
{
	int i = pick_slot(t);
	int fd = __atomic_exchange_n(&slot[i], -1, __ATOMIC_SEQ_CST);
	long rc;

	if (fd < 0)
		return;
	begin(t, "close(%d) slot%d", fd, i);
	rc = end(t, OP_CLOSE, close(fd));
	check_errno(t, rc, 1);
}

static void op_getname(struct fz *t)
{
	struct sockaddr_storage ss;
	socklen_t len = chance(t, 80) ? sizeof(ss) : rn(t, 30);
	int fd = slot_fd(t), peer = chance(t, 50);
	long rc;

	begin(t, "%s(%d, %d)", peer ? "getpeername" : "getsockname", fd,
	      (int)len);
	rc = end(t, OP_GETNAME, peer ? getpeername(fd, (void *)&ss, &len) :
		 getsockname(fd, (void *)&ss, &len));
	check_errno(t, rc, 1);
}

static void op_fcntl(struct fz *t)
{
	int fd = slot_fd(t), fl;
	long rc;

	begin(t, "fcntl(%d, toggle O_NONBLOCK)", fd);
	fl = fcntl(fd, F_GETFL);
	rc = end(t, OP_FCNTL, fl < 0 ? fl : fcntl(fd, F_SETFL, fl ^ O_NONBLOCK));
	check_errno(t, rc, 1);
}

static void op_dup(struct fz *t)
{
	int fd = slot_fd(t), i = pick_slot(t);
	long nfd;

	begin(t, "dup(%d) -> slot%d", fd, i);
	nfd = end(t, OP_DUP, dup(fd));
	if (nfd >= 0)
		slot_put(i, nfd);
}

/*
 * A listener, a connected client and its accepted peer in three slots:
 * the deep states (data, zero-copy, half-close) need established pairs.
 */
static void op_pair(struct fz *t)
{
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *sin = (void *)&ss;
	struct sockaddr_in6 *sin6 = (void *)&ss;
	socklen_t len;
	struct timeval tv = { 2, 0 };
	int l, c, a, v6 = chance(t, 25);
	long rc;

	begin(t, "pair: socket+bind+listen (%s)", v6 ? "v6" : "v4");
	l = socket(family, SOCK_STREAM, 0);
	if (l < 0) {
		end(t, OP_PAIR, -1);
		return;
	}
	if (v6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = chance(t, 50) ? self6 : mapped6;
		len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr = self4;
		len = sizeof(*sin);
	}
	/* In the port range when free: random connects then find it. */
	sin->sin_port = htons(fuzz_port(t));
	if (bind(l, (void *)&ss, len)) {
		sin->sin_port = 0;
		if (bind(l, (void *)&ss, len))
			goto fail;
	}
	if (listen(l, 4) ||
	    getsockname(l, (void *)&ss, &len)) {
fail:
		end(t, OP_PAIR, -1);
		close(l);
		return;
	}
	end(t, OP_PAIR, 0);
	c = socket(family, SOCK_STREAM, 0);
	if (c < 0) {
		close(l);
		return;
	}
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	setsockopt(l, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	begin(t, "pair: connect(%d, %s:%d)", c, v6 ? "v6" : "v4",
	      ntohs(sin->sin_port));
	rc = end(t, OP_CONNECT, connect(c, (void *)&ss, len));
	check_errno(t, rc, 1);
	if (rc) {
		close(c);
		close(l);
		return;
	}
	ADD(n_connected, 1);
	begin(t, "pair: accept(%d)", l);
	a = end(t, OP_ACCEPT, accept(l, NULL, NULL));
	check_errno(t, a, 1);
	if (a >= 0) {
		ADD(n_accepted, 1);
		ADD(n_pairs, 1);
		slot_put(rn(t, NSLOT), a);
	}
	slot_put(rn(t, NSLOT), c);
	if (chance(t, 50))
		slot_put(rn(t, NSLOT), l);
	else
		close(l);
}

static void op_sendfile(struct fz *t)
{
	int fd = slot_fd(t), p[2];
	size_t n = gen_size(t) % 65536;
	long rc;

	if (chance(t, 50)) {
		/* splice out of the socket into a pipe */
		if (pipe2(p, O_NONBLOCK))
			return;
		bound(t, fd);
		begin(t, "splice(%d -> pipe, %zu)", fd, n);
		rc = end(t, OP_SENDFILE, splice(fd, NULL, p[1], NULL, n,
						SPLICE_F_NONBLOCK));
	} else {
		/* a pipe spliced into the socket: sendpage */
		if (pipe2(p, O_NONBLOCK))
			return;
		if (write(p[1], t->buf, n > 65536 ? 65536 : n) < 0)
			n = 0;
		bound(t, fd);
		begin(t, "splice(pipe -> %d, %zu)", fd, n);
		rc = end(t, OP_SENDFILE, splice(p[0], NULL, fd, NULL, n,
						SPLICE_F_NONBLOCK));
		if (rc > 0)
			ADD(bytes_sent, rc);
	}
	check_errno(t, rc, 1);
	close(p[0]);
	close(p[1]);
}

static void do_op(struct fz *t, enum op op);

#define MAXKIDS 4096
static pid_t kids[MAXKIDS];
static unsigned int nkids;

/* A child that found a violation exits with 3. */
static int reap(pid_t pid, int flags)
{
	int st;
	pid_t p = waitpid(pid, &st, flags);

	if (p > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 3)
		ADD(violations, 1);
	if (p > 0 && WIFSIGNALED(st) && WTERMSIG(st) != SIGALRM &&
	    WTERMSIG(st) != SIGKILL) {
		out("# child %d died of signal %d", p, WTERMSIG(st));
		ADD(violations, 1);
	}
	return p;
}

/*
 * A sock_diag dump of every AF_SAN socket while the others churn: random
 * state, inode and detail filters, sometimes a request too short (EINVAL)
 * or not a dump (EOPNOTSUPP).  Every reply must be sane.
 */
static void op_diag(struct fz *t)
{
	struct {
		struct nlmsghdr nlh;
		struct san_diag_req req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.req = {
			.sdiag_family = family,
			.sdiag_states = chance(t, 50) ? ~0U : rn(t, 1 << 12),
			.sdiag_show = rn(t, 8),
		},
	};
	char *buf = t->buf;
	int fd, want = 0, n, replies = 0;

	if (chance(t, 10)) {
		msg.nlh.nlmsg_len = sizeof(msg.nlh) + rn(t, sizeof(msg.req));
		want = EINVAL;
	} else if (chance(t, 10)) {
		msg.nlh.nlmsg_flags = NLM_F_REQUEST;
		want = EOPNOTSUPP;
	}
	if (chance(t, 20)) {
		struct stat st;

		if (!fstat(slot_fd(t), &st))
			msg.req.sdiag_ino = st.st_ino;
	}
	begin(t, "diag(states 0x%x, ino %u, show %u, len %u)",
	      msg.req.sdiag_states, msg.req.sdiag_ino, msg.req.sdiag_show,
	      msg.nlh.nlmsg_len);
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		end(t, OP_DIAG, -1);
		return;
	}
	n = send(fd, &msg, msg.nlh.nlmsg_len, 0);
	while (n >= 0) {
		struct nlmsghdr *h;

		n = recv(fd, buf, 65536, MSG_DONTWAIT);
		if (n <= 0)
			break;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			const struct san_diag_msg *r = NLMSG_DATA(h);
			int err;

			if (h->nlmsg_type == NLMSG_DONE) {
				n = -1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				err = -((struct nlmsgerr *)NLMSG_DATA(h))->error;
				if (err != want)
					violation(t, "diag: error %d, expected %d",
						  err, want);
				want = 0;
				n = -1;
				break;
			}
			replies++;
			if (want)
				violation(t, "diag: a reply to a bad request");
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*r)) ||
			    r->sdiag_state > 11 || r->sdiag_provider > 2 ||
			    r->sdiag_fallback > 3 ||
			    !(msg.req.sdiag_states & (1U << r->sdiag_state)) ||
			    (msg.req.sdiag_ino &&
			     r->sdiag_ino != msg.req.sdiag_ino))
				violation(t, "diag: bad reply (state %u provider %u)",
					  r->sdiag_state, r->sdiag_provider);
		}
	}
	end(t, OP_DIAG, replies);
	close(fd);
}

/* A child: a few calls on the inherited sockets, then _exit. */
static void op_fork(struct fz *t)
{
	pid_t pid;
	int i, n;

	begin(t, "fork");
	pid = fork();
	if (pid == 0) {
		in_child = 1;
		signal(SIGALRM, SIG_DFL);
		alarm(5);	/* SIGALRM's default action ends it */
		t->rng ^= getpid();
		n = 1 + rn(t, 8);
		for (i = 0; i < n; i++) {
			enum op op = rn(t, OP_PAIR);

			do_op(t, op);
		}
		_exit(violations ? 3 : 0);
	}
	end(t, OP_FORK, pid);
	if (pid > 0) {
		unsigned int k = ADD(nkids, 1) - 1;

		if (k < MAXKIDS)
			kids[k] = pid;
		ADD(n_forks, 1);
	}
}

static void do_op(struct fz *t, enum op op)
{
	switch (op) {
	case OP_SOCKET: op_socket(t); break;
	case OP_BIND: op_bind(t); break;
	case OP_LISTEN: op_listen(t); break;
	case OP_CONNECT: op_connect(t); break;
	case OP_ACCEPT: op_accept(t); break;
	case OP_SEND: op_send(t); break;
	case OP_RECV: op_recv(t); break;
	case OP_SHUTDOWN: op_shutdown(t); break;
	case OP_SETSOCKOPT: op_setsockopt(t); break;
	case OP_GETSOCKOPT: op_getsockopt(t); break;
	case OP_POLL: op_poll(t); break;
	case OP_EPOLL: op_epoll(t); break;
	case OP_IOCTL: op_ioctl(t); break;
	case OP_CLOSE: op_close(t); break;
	case OP_GETNAME: op_getname(t); break;
	case OP_FCNTL: op_fcntl(t); break;
	case OP_DUP: op_dup(t); break;
	case OP_PAIR: op_pair(t); break;
	case OP_SENDFILE: op_sendfile(t); break;
	case OP_DIAG: op_diag(t); break;
	case OP_FORK:
		if (fork_on && !in_child)
			op_fork(t);
		break;
	default: break;
	}
}

static int op_total;

static enum op pick_op(struct fz *t)
{
	int i, r = rn(t, op_total);

	for (i = 0; i < NOP; i++) {
		r -= op_weight[i];
		if (r < 0)
			return i;
	}
	return OP_CLOSE;
}

static void *worker(void *arg)
{
	struct fz *t = arg;

	while (!stop) {
		do_op(t, pick_op(t));
		if (fork_on && t->n % 16 == 0)
			while (reap(-1, WNOHANG) > 0)
				;
	}
	__atomic_store_n(&t->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void on_usr1(int sig)
{
	(void)sig;
	caught_sig++;
}

static void set_handler(int restart)
{
	struct sigaction sa = { .sa_handler = on_usr1,
				.sa_flags = restart ? SA_RESTART : 0 };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, NULL);
}

/* Closes, shutdowns, lingers and signals, at random moments. */
static void *chaos(void *arg)
{
	struct fz *t = arg;

	while (!stop) {
		unsigned int r = rn(t, 100);
		int i = pick_slot(t);

		usleep(5000 + rn(t, 100000));
		if (r < 55) {
			pthread_kill(thr[rn(t, nthr)].thr, SIGUSR1);
			ADD(n_signals, 1);
		} else if (r < 68) {
			int fd = __atomic_exchange_n(&slot[i], -1,
						     __ATOMIC_SEQ_CST);

			if (fd >= 0) {
				begin(t, "close(%d) slot%d", fd, i);
				end(t, OP_CLOSE, close(fd));
			}
		} else if (r < 80) {
			int fd = __atomic_load_n(&slot[i], __ATOMIC_SEQ_CST);
			int how = rn(t, 3);

			begin(t, "shutdown(%d, %d)", fd, how);
			end(t, OP_SHUTDOWN, shutdown(fd, how));
		} else if (r < 86) {
			set_handler(chance(t, 30));
			ADD(restart_flips, 1);
		} else if (r < 92) {
			int fd = __atomic_load_n(&slot[i], __ATOMIC_SEQ_CST);
			struct linger l = { 1, rn(t, 2) };

			begin(t, "setsockopt(%d, SO_LINGER, {1, %d})", fd,
			      l.l_linger);
			end(t, OP_SETSOCKOPT, setsockopt(fd, SOL_SOCKET,
							 SO_LINGER, &l,
							 sizeof(l)));
		} else {
			int fd = __atomic_load_n(&slot[i], __ATOMIC_SEQ_CST);
			int pol = rn(t, 2);

			begin(t, "setsockopt(%d, SAN_CANCEL_POLICY, %d)", fd,
			      pol);
			end(t, OP_SETSOCKOPT, setsockopt(fd, SOL_SAN,
							 SAN_CANCEL_POLICY,
							 &pol, sizeof(pol)));
		}
	}
	t->done = 1;
	return NULL;
}

/* What a stuck thread is doing, for the report. */
static void dump_thread(struct fz *t)
{
	unsigned long k;

	out("# T%d: in call %lu for %ld ms: %s", t->id, t->n,
	    t->started ? now_ms() - t->started : 0, t->cur);
	for (k = t->n > RING ? t->n - RING + 1 : 1; k <= t->n; k++)
		out("#   T%d %s", t->id, t->ring[k % RING]);
}

/* The kernel stacks of every task of this process (root only). */
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
	fflush(stdout);
}

static void dump_all(void)
{
	static int dumped;
	int i;

	if (dumped++)
		return;
	for (i = 0; i <= nthr; i++)
		dump_thread(&thr[i]);
	dump_stacks();
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
		/* BAD_PAGE, DIE, WARN, SOFTLOCKUP: a kernel report */
		else
			v &= 0x42a0;
		fclose(f);
	}
	return v;
}

static void alarm_handler(int sig)
{
	(void)sig;
	out("# watchdog: the run did not end in time");
	dump_all();
	out("not ok 1 seq_fuzz # hang");
	_exit(1);
}

static long envl(const char *name, long def)
{
	const char *s = getenv(name);

	return s && *s ? strtol(s, NULL, 0) : def;
}

int main(int argc, char **argv)
{
	const char *addr = getenv("SAN_SELF") ? getenv("SAN_SELF") :
			   "10.0.2.15";
	long seed = envl("SAN_FUZZ_SEED", 1);
	long secs = envl("SAN_FUZZ_SECONDS", 30);
	long base[NCTR + 1], now[NCTR + 1], taint0, taint1, t0, t_end;
	/*
	 * A listener's half-open child whose client vanished between the
	 * request and the end of the handshake lives until the CM gives up
	 * retrying its REP (about a minute on rxe, as TCP's SYN-RECV).
	 */
	long settle = san_scaled(1000) < 1000 ? 120 : 90;
	int i, fails = 0, stuck = 0;
	char a6[64];

	if (argc > 1)
		seed = strtol(argv[1], NULL, 0);
	if (argc > 2)
		secs = strtol(argv[2], NULL, 0);
	nthr = envl("SAN_FUZZ_THREADS", 3);
	if (nthr < 1 || nthr > MAXTHR - 1)
		nthr = 3;
	chaos_on = envl("SAN_FUZZ_CHAOS", 1);
	fork_on = envl("SAN_FUZZ_FORK", 1);
	verbose = envl("SAN_FUZZ_VERBOSE", 0);
	if (getenv("SAN_FUZZ_LOG") && *getenv("SAN_FUZZ_LOG")) {
		logfd = open(getenv("SAN_FUZZ_LOG"),
			     O_WRONLY | O_CREAT | O_APPEND | O_TRUNC, 0644);
		if (logfd < 0)
			logfd = 1;
		verbose = 1;
	}
	if (san_scaled(1000) < 1000)
		hang_ms = 90000;
	hang_ms = envl("SAN_FUZZ_HANG_MS", hang_ms);
	setvbuf(stdout, NULL, _IOLBF, 0);

	out("TAP version 13");
	out("1..1");
	family = san_family();
	if (family < 0) {
		out("ok 1 seq_fuzz # SKIP af_san is not loaded");
		return 0;
	}
	if (inet_pton(AF_INET, addr, &self4) != 1) {
		out("not ok 1 seq_fuzz # bad SAN_SELF %s", addr);
		return 1;
	}
	/* fd00::<last byte of the v4 address>, as the test box sets it up */
	snprintf(a6, sizeof(a6), "fd00::%u", ntohl(self4.s_addr) & 0xff);
	inet_pton(AF_INET6, a6, &self6);
	snprintf(a6, sizeof(a6), "::ffff:%s", addr);
	inet_pton(AF_INET6, a6, &mapped6);

	out("# seed %ld, %ld s, %d workers, chaos %d, fork %d, family %d, %s",
	    seed, secs, nthr, chaos_on, fork_on, family, addr);
	out("# reproduce: SAN_FUZZ_SEED=%ld SAN_FUZZ_SECONDS=%ld SAN_FUZZ_THREADS=%d SAN_FUZZ_CHAOS=%d SAN_FUZZ_FORK=%d SAN_FUZZ_VERBOSE=1 %s",
	    seed, secs, nthr, chaos_on, fork_on, argv[0]);
	read_ctrs(base);
	taint0 = read_taint();
	out("# before: conns %ld qps %ld cqs %ld pds %ld bufs %ld pinned %ld sockets %ld taint %ld",
	    base[0], base[1], base[2], base[3], base[4], base[5], base[6],
	    taint0);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGIO, SIG_IGN);
	signal(SIGURG, SIG_IGN);
	signal(SIGALRM, alarm_handler);
	set_handler(0);
	/* The hard limit: the run, the end, the settling, and a margin. */
	alarm(secs + hang_ms / 1000 + settle + 60);

	for (i = 0; i < NSLOT; i++)
		slot[i] = -1;
	for (i = 0; i <= nthr; i++) {
		struct fz *t = &thr[i];

		t->id = i;
		t->rng = (uint64_t)seed * 0x9E3779B97F4A7C15ULL + i * 7919 + 1;
		t->buf = mmap(NULL, BIGBUF, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		t->ro = mmap(NULL, BIGBUF, PROT_READ,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		t->edge = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (t->buf == MAP_FAILED || t->ro == MAP_FAILED ||
		    t->edge == MAP_FAILED) {
			out("not ok 1 seq_fuzz # mmap");
			return 1;
		}
		munmap(t->edge + 4096, 4096);
		memset(t->buf, 'a' + i, BIGBUF);
		t->epfd = epoll_create1(EPOLL_CLOEXEC);
	}

	for (i = 0; i < NOP; i++)
		op_total += op_weight[i];
	t0 = now_ms();
	t_end = t0 + secs * 1000;
	for (i = 0; i < nthr; i++)
		pthread_create(&thr[i].thr, NULL, worker, &thr[i]);
	if (chaos_on)
		pthread_create(&thr[nthr].thr, NULL, chaos, &thr[nthr]);

	/* The watchdog: no call may sleep longer than hang_ms. */
	while (now_ms() < t_end && !stuck) {
		usleep(200000);
		for (i = 0; i <= nthr; i++) {
			long s = thr[i].started;

			if (s && now_ms() - s > hang_ms) {
				out("# HANG: T%d asleep for %ld ms in %s", i,
				    now_ms() - s, thr[i].cur);
				stuck = 1;
			}
		}
	}

	/* The end: everything that sleeps is woken (signals without
	 * SA_RESTART, every socket shut down) and must come back.
	 */
	stop = 1;
	set_handler(0);
	for (long until = now_ms() + hang_ms; now_ms() < until;) {
		int left = 0;

		for (i = 0; i < NSLOT; i++)
			shutdown(__atomic_load_n(&slot[i], __ATOMIC_SEQ_CST),
				 SHUT_RDWR);
		for (i = 0; i < nthr + chaos_on; i++) {
			if (__atomic_load_n(&thr[i].done, __ATOMIC_SEQ_CST))
				continue;
			left++;
			pthread_kill(thr[i].thr, SIGUSR1);
		}
		if (!left)
			break;
		usleep(50000);
	}
	for (i = 0; i < nthr + chaos_on; i++) {
		if (__atomic_load_n(&thr[i].done, __ATOMIC_SEQ_CST)) {
			pthread_join(thr[i].thr, NULL);
			continue;
		}
		out("# HANG: T%d did not come back from %s", i, thr[i].cur);
		stuck = 1;
	}
	if (stuck) {
		dump_all();
		out("not ok 1 seq_fuzz # hang");
		fflush(NULL);
		_exit(1);
	}
	/* Children: 10 s, then SIGKILL. */
	for (long until = now_ms() + 10000; now_ms() < until;) {
		errno = 0;
		while (reap(-1, WNOHANG) > 0)
			;
		if (errno == ECHILD)
			break;
		usleep(50000);
	}
	for (i = 0; i < (int)nkids && i < MAXKIDS; i++) {
		if (reap(kids[i], WNOHANG) == 0) {
			out("# child %d still running after 10 s: killed",
			    kids[i]);
			kill(kids[i], SIGKILL);
			reap(kids[i], 0);
		}
	}
	for (i = 0; i < NSLOT; i++)
		slot_put(i, -1);
	for (i = 0; i <= nthr; i++)
		close(thr[i].epfd);

	out("# ran %ld ms, seed %ld", now_ms() - t0, seed);
	{
		unsigned long total = 0;

		for (i = 0; i < NOP; i++)
			total += calls[i];
		out("# iterations (calls): %lu", total);
	}
	for (i = 0; i < NOP; i++)
		if (calls[i])
			out("#   %-10s %8lu calls %8lu ok", op_name[i], calls[i],
			    okcalls[i]);
	out("# errno histogram:");
	for (i = 0; i < 4096; i++)
		if (errs[i])
			out("#   %-16s %8lu", strerrorname_np(i) ?
			    strerrorname_np(i) : "?", errs[i]);
	out("# deep states: %lu connects established, %lu accepted, %lu pairs, %llu bytes sent, %llu bytes received",
	    n_connected, n_accepted, n_pairs, bytes_sent, bytes_recv);
	out("# chaos: %lu signals sent, %lu caught, %lu SA_RESTART flips, %lu forks",
	    n_signals, caught_sig, restart_flips, n_forks);

	/* Back to where we started. */
	for (long until = now_ms() + settle * 1000; now_ms() < until;) {
		read_ctrs(now);
		if (!memcmp(now, base, sizeof(now)))
			break;
		usleep(200000);
	}
	read_ctrs(now);
	out("# after: conns %ld qps %ld cqs %ld pds %ld bufs %ld pinned %ld sockets %ld",
	    now[0], now[1], now[2], now[3], now[4], now[5], now[6]);
	for (i = 0; i <= NCTR; i++) {
		if (now[i] != base[i]) {
			out("# FAIL: %s is %ld, was %ld before the run (after %ld s)",
			    i < NCTR ? ctr_names[i] : "AF_SAN sockets", now[i],
			    base[i], settle);
			fails++;
		}
	}
	if (fails) {
		/* Ours or the kernel's: the sockets this process still holds. */
		FILE *f = popen("ls -l /proc/$PPID/fd | grep -c socket:", "r");
		char line[64] = "?\n";

		if (f) {
			if (!fgets(line, sizeof(line), f))
				strcpy(line, "?\n");
			pclose(f);
		}
		out("# sockets this process still holds: %.*s",
		    (int)strcspn(line, "\n"), line);
	}
	taint1 = read_taint();
	if (taint1 != taint0) {
		out("# FAIL: the kernel got tainted during the run: %ld -> %ld",
		    taint0, taint1);
		fails++;
	}
	if (violations) {
		out("# FAIL: %lu TCP-semantics violations (see VIOLATION lines)",
		    violations);
		fails++;
	}
	if (!n_connected && !n_accepted) {
		out("# FAIL: no connection was ever established: the fuzzer did not reach AF_SAN");
		fails++;
	}
	if (fails)
		out("not ok 1 seq_fuzz # seed %ld", seed);
	else
		out("ok 1 seq_fuzz");
	return fails ? 1 : 0;
}
