// SPDX-License-Identifier: GPL-2.0
/*
 * san_bench: one benchmark program for every socket family we compare.
 *
 * AF_SAN, rsockets (rdma-core's rsocket() API, blocking calls, the
 * library's defaults) and TCP are driven through one code path: a table of
 * function pointers over socket or rsocket calls.  Both ends run in this
 * process, as threads, so nothing forks once rsockets is initialised.
 * Every received byte is checked against the pattern the sender wrote.
 *
 *   san_bench stream   FAM ADDR PORT SIZE SECS [STREAMS]
 *   san_bench pingpong FAM ADDR PORT SIZE SECS
 *   san_bench setup    FAM ADDR PORT SECS
 *   san_bench idle     FAM ADDR PORT COUNT
 *
 * FAM is san, rs or tcp.  Each prints one line of KEY=VALUE pairs:
 *   stream:   mbps (10^6 bytes/s, received and checked), cpu_s_per_gib
 *             (busy CPU time of the whole guest, both ends, per GiB)
 *   pingpong: rtt_med_us rtt_p99_us (round trip of SIZE bytes each way)
 *   setup:    conn_per_s (connect, one 1-byte exchange, close)
 *   idle:     kib_total (per connection end: memory the guest lost),
 *             then it holds the connections open until a line (or EOF)
 *             arrives on stdin, for the caller to count registered memory
 * The environment variable SAN_BENCH_BUSY_POLL=US sets SO_BUSY_POLL on
 * every socket of the run (AF_SAN and TCP; rsockets polls on its own);
 * SAN_BENCH_ZCOPY=N sets AF_SAN's SAN_ZCOPY_THRESHOLD (experiments).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <rdma/rsocket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/san.h>

#define PAT_PERIOD	251

struct fam {
	const char *name;
	int (*socket)(int domain, int type, int proto);
	int (*bind)(int fd, const struct sockaddr *sa, socklen_t len);
	int (*listen)(int fd, int backlog);
	int (*accept)(int fd, struct sockaddr *sa, socklen_t *len);
	int (*connect)(int fd, const struct sockaddr *sa, socklen_t len);
	ssize_t (*send)(int fd, const void *buf, size_t len, int flags);
	ssize_t (*recv)(int fd, void *buf, size_t len, int flags);
	int (*setsockopt)(int fd, int level, int name, const void *val,
			  socklen_t len);
	int (*shutdown)(int fd, int how);
	int (*close)(int fd);
};

static int san_family = AF_SAN;

static int san_socket(int domain, int type, int proto)
{
	(void)domain;
	return socket(san_family, type, proto);
}

static const struct fam fams[] = {
	{ "san", san_socket, bind, listen, accept, connect, send, recv,
	  setsockopt, shutdown, close },
	{ "rs", rsocket, rbind, rlisten, raccept, rconnect, rsend, rrecv,
	  rsetsockopt, rshutdown, rclose },
	{ "tcp", socket, bind, listen, accept, connect, send, recv,
	  setsockopt, shutdown, close },
};

static const struct fam *F;
static struct sockaddr_in addr;
static size_t size;
static double secs;
static unsigned char *pattern;
static int nodelay;

static void die(const char *what)
{
	fprintf(stderr, "san_bench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void fail(const char *what)
{
	fprintf(stderr, "san_bench: %s\n", what);
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Busy (non-idle) jiffies of the whole guest, from /proc/stat. */
static double cpu_busy_s(void)
{
	unsigned long long v[8] = { 0 };
	FILE *f = fopen("/proc/stat", "r");

	if (!f || fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu",
			 &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
			 &v[7]) != 8)
		die("/proc/stat");
	fclose(f);
	/* user nice system [idle] [iowait] irq softirq steal */
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) /
	       sysconf(_SC_CLK_TCK);
}

static void tune(int fd)
{
	const char *bp = getenv("SAN_BENCH_BUSY_POLL");
	const char *zc = getenv("SAN_BENCH_ZCOPY");
	int one = 1;

	/* Experiments: AF_SAN's zero-copy threshold for this run. */
	if (zc && F == &fams[0]) {
		int v = atoi(zc);

		if (F->setsockopt(fd, SOL_SAN, SAN_ZCOPY_THRESHOLD, &v,
				  sizeof(v)))
			die("SAN_ZCOPY_THRESHOLD");
	}

	/* Latency runs turn Nagle off where the family has it (not AF_SAN). */
	if (nodelay && F != &fams[0] &&
	    F->setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		die("TCP_NODELAY");
	if (bp && F != &fams[1]) {
		int us = atoi(bp);

		if (F->setsockopt(fd, SOL_SOCKET, SO_BUSY_POLL, &us,
				  sizeof(us)))
			die("SO_BUSY_POLL");
	}
}

static int listener(int backlog)
{
	int one = 1;
	int fd = F->socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	if (F == &fams[2])
		F->setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (F->bind(fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("bind");
	if (F->listen(fd, backlog))
		die("listen");
	return fd;
}

static int dial(void)
{
	int fd = F->socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		die("socket");
	tune(fd);
	if (F->connect(fd, (struct sockaddr *)&addr, sizeof(addr)))
		die("connect");
	return fd;
}

static int take(int lfd)
{
	int fd = F->accept(lfd, NULL, NULL);

	if (fd < 0)
		die("accept");
	tune(fd);
	return fd;
}

static void send_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = F->send(fd, p, len, 0);

		if (n <= 0)
			die("send");
		p += n;
		len -= n;
	}
}

static void recv_all(int fd, unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = F->recv(fd, p, len, 0);

		if (n < 0)
			die("recv");
		if (n == 0)
			fail("recv: early end of stream");
		p += n;
		len -= n;
	}
}

/* ---- stream ---- */

struct strm {
	pthread_t rx_thread, tx_thread;
	int fd, cfd;
	unsigned long long bytes;
	double t0, t1;
};

static void *stream_tx(void *arg)
{
	struct strm *s = arg;
	int fd = s->cfd;
	unsigned long long off = 0, i;
	double end = now() + secs;

	/* The clock is read every 16 writes: under TCG a read is costly. */
	for (i = 0; (i & 15) || now() < end; i++) {
		ssize_t n = F->send(fd, pattern + off % PAT_PERIOD, size, 0);

		if (n <= 0)
			die("send");
		off += n;
	}
	F->shutdown(fd, SHUT_WR);
	/* Wait for the reader's close so that no byte is lost on the way. */
	{
		char c;

		F->recv(fd, &c, 1, 0);
	}
	F->close(fd);
	return NULL;
}

static void *stream_rx(void *arg)
{
	struct strm *s = arg;
	unsigned char *buf = malloc(size);
	unsigned long long off = 0;
	int fd;

	if (!buf)
		die("malloc");
	fd = s->fd;
	s->t0 = now();
	for (;;) {
		ssize_t n = F->recv(fd, buf, size, 0);

		if (n < 0)
			die("recv");
		if (n == 0)
			break;
		if (memcmp(buf, pattern + off % PAT_PERIOD, n))
			fail("stream: received bytes differ from those sent");
		off += n;
	}
	s->t1 = now();
	s->bytes = off;
	F->close(fd);
	free(buf);
	return NULL;
}

/*
 * One thread accepts every connection of a run: rsockets does not take
 * raccept() from several threads at once, and its blocking rconnect()
 * returns only once the other side has accepted.
 */
struct acceptor {
	pthread_t thread;
	int lfd, count, *fds;
	struct strm *strm;	/* stream: start a reader per connection */
};

static void *stream_rx(void *arg);

static void *accept_all(void *arg)
{
	struct acceptor *a = arg;
	int i;

	for (i = 0; i < a->count; i++) {
		a->fds[i] = take(a->lfd);
		if (a->strm) {
			a->strm[i].fd = a->fds[i];
			pthread_create(&a->strm[i].rx_thread, NULL, stream_rx,
				       &a->strm[i]);
		}
	}
	return NULL;
}

static void accept_start(struct acceptor *a, int lfd, int count,
			 struct strm *strm)
{
	a->lfd = lfd;
	a->count = count;
	a->strm = strm;
	a->fds = calloc(count, sizeof(int));
	if (!a->fds)
		die("calloc");
	pthread_create(&a->thread, NULL, accept_all, a);
}

static void run_stream(int streams)
{
	struct acceptor acc;
	struct strm *s = calloc(streams, sizeof(*s));
	int lfd = listener(streams);
	unsigned long long total = 0;
	double c0, c1, t0 = 1e300, t1 = 0;
	int i;

	c0 = cpu_busy_s();
	accept_start(&acc, lfd, streams, s);
	/*
	 * Connect one by one, then send: rsockets hangs when several threads
	 * are in a blocking rconnect() at once (seen with 5 to 8).
	 */
	for (i = 0; i < streams; i++)
		s[i].cfd = dial();
	for (i = 0; i < streams; i++)
		pthread_create(&s[i].tx_thread, NULL, stream_tx, &s[i]);
	pthread_join(acc.thread, NULL);
	for (i = 0; i < streams; i++) {
		pthread_join(s[i].tx_thread, NULL);
		pthread_join(s[i].rx_thread, NULL);
		total += s[i].bytes;
		if (s[i].t0 < t0)
			t0 = s[i].t0;
		if (s[i].t1 > t1)
			t1 = s[i].t1;
	}
	c1 = cpu_busy_s();
	F->close(lfd);
	if (!total)
		fail("stream: nothing moved");
	printf("mbps=%.3f cpu_s_per_gib=%.3f bytes=%llu secs=%.3f\n",
	       total / (t1 - t0) / 1e6,
	       (c1 - c0) / (total / 1073741824.0), total, t1 - t0);
}

/* ---- ping-pong ---- */

static void *echo(void *arg)
{
	int fd = take(*(int *)arg);
	unsigned char *buf = malloc(size);

	for (;;) {
		ssize_t n = F->recv(fd, buf, size, 0);

		if (n < 0)
			die("echo recv");
		if (n == 0)
			break;
		send_all(fd, buf, n);
	}
	F->close(fd);
	free(buf);
	return NULL;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void run_pingpong(void)
{
	int lfd = listener(1), fd;
	pthread_t t;
	unsigned char *buf = malloc(size);
	size_t cap = 1 << 20, n = 0, i;
	double *rtt = malloc(cap * sizeof(*rtt)), end;
	unsigned long long off = 0;

	pthread_create(&t, NULL, echo, &lfd);
	fd = dial();
	/* Warm up: the first exchanges pay for faults and lazy setup. */
	for (i = 0; i < 20; i++) {
		send_all(fd, pattern, size);
		recv_all(fd, buf, size);
	}
	end = now() + secs;
	while (now() < end && n < cap) {
		double a = now();

		send_all(fd, pattern + off % PAT_PERIOD, size);
		recv_all(fd, buf, size);
		rtt[n++] = now() - a;
		if (memcmp(buf, pattern + off % PAT_PERIOD, size))
			fail("pingpong: echoed bytes differ from those sent");
		off += size;
	}
	F->shutdown(fd, SHUT_WR);
	pthread_join(t, NULL);
	F->close(fd);
	F->close(lfd);
	qsort(rtt, n, sizeof(*rtt), cmp_double);
	printf("rtt_med_us=%.2f rtt_p99_us=%.2f samples=%zu\n",
	       rtt[n / 2] * 1e6, rtt[(n * 99) / 100] * 1e6, n);
}

/* ---- connection setup ---- */

static volatile int setup_done;

static void *setup_server(void *arg)
{
	int lfd = *(int *)arg;

	for (;;) {
		int fd = F->accept(lfd, NULL, NULL);
		unsigned char c;

		if (fd < 0)
			die("accept");
		if (setup_done) {
			F->close(fd);
			break;
		}
		recv_all(fd, &c, 1);
		send_all(fd, &c, 1);
		/* The client closes first; wait for it, as a server does. */
		F->recv(fd, &c, 1, 0);
		F->close(fd);
	}
	return NULL;
}

static void run_setup(void)
{
	int lfd = listener(16);
	pthread_t t;
	unsigned long n = 0;
	double t0, end;

	pthread_create(&t, NULL, setup_server, &lfd);
	t0 = now();
	end = t0 + secs;
	while (now() < end) {
		int fd = dial();
		unsigned char c = (unsigned char)n;

		send_all(fd, &c, 1);
		recv_all(fd, &c, 1);
		if (c != (unsigned char)n)
			fail("setup: wrong byte echoed");
		F->close(fd);
		n++;
	}
	t0 = now() - t0;
	setup_done = 1;
	F->close(dial());
	pthread_join(t, NULL);
	F->close(lfd);
	printf("conn_per_s=%.3f conns=%lu\n", n / t0, n);
}

/* ---- memory per idle connection ---- */

static long meminfo_kib(const char *key)
{
	char line[256];
	size_t kl = strlen(key);
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		die("/proc/meminfo");
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = atol(line + kl + 1);
	fclose(f);
	return v;
}

static void settle(void)
{
	FILE *f = fopen("/proc/sys/vm/drop_caches", "w");

	sync();
	if (f) {
		fputs("3\n", f);
		fclose(f);
	}
	usleep(500000);
}

static void run_idle(int count)
{
	int lfd = listener(count + 1), i;
	int *cfd = calloc(count, sizeof(int)), *sfd;
	struct acceptor acc;
	long free0, free1;
	unsigned char c;
	char line[16];

	settle();
	free0 = meminfo_kib("MemFree");
	accept_start(&acc, lfd, count, NULL);
	for (i = 0; i < count; i++)
		cfd[i] = dial();
	pthread_join(acc.thread, NULL);
	sfd = acc.fds;
	for (i = 0; i < count; i++) {
		/* One byte each way, as a connection that has been used. */
		send_all(cfd[i], pattern, 1);
		recv_all(sfd[i], &c, 1);
		send_all(sfd[i], pattern, 1);
		recv_all(cfd[i], &c, 1);
	}
	settle();
	free1 = meminfo_kib("MemFree");
	/*
	 * The caller counts registered memory now, from outside: reading
	 * it here would fork (rdma res), and rsockets forbids that.
	 */
	printf("kib_total=%.1f ends=%d\n",
	       (double)(free0 - free1) / (2 * count), 2 * count);
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin))
		line[0] = 0;
	/*
	 * No close: the exit tears the connections down.  rsockets makes
	 * progress only inside calls on a socket, so closing one end from
	 * the thread that also holds the other end hangs there.
	 */
	(void)cfd;
	(void)sfd;
	(void)lfd;
	exit(0);
}

int main(int argc, char **argv)
{
	FILE *f;
	size_t i;

	if (argc < 5)
		fail("usage: san_bench stream|pingpong|setup|idle FAM ADDR PORT ...");
	for (i = 0; i < sizeof(fams) / sizeof(fams[0]); i++)
		if (!strcmp(argv[2], fams[i].name))
			F = &fams[i];
	if (!F)
		fail("family: san, rs or tcp");
	f = fopen(SAN_FAMILY_SYSFS, "r");
	if (f) {
		if (fscanf(f, "%d", &san_family) != 1)
			san_family = AF_SAN;
		fclose(f);
	}
	addr.sin_family = AF_INET;
	addr.sin_port = htons(atoi(argv[4]));
	if (inet_pton(AF_INET, argv[3], &addr.sin_addr) != 1)
		fail("ADDR: an IPv4 address");
	pattern = malloc((1 << 20) + PAT_PERIOD);
	if (!pattern)
		die("malloc");
	for (i = 0; i < (1 << 20) + PAT_PERIOD; i++)
		pattern[i] = (unsigned char)(i % PAT_PERIOD);

	if (!strcmp(argv[1], "stream") && argc >= 7) {
		size = strtoul(argv[5], NULL, 0);
		secs = atof(argv[6]);
		if (!size || size > (1 << 20))
			fail("SIZE: 1 .. 1 MiB");
		run_stream(argc > 7 ? atoi(argv[7]) : 1);
	} else if (!strcmp(argv[1], "pingpong") && argc >= 7) {
		size = strtoul(argv[5], NULL, 0);
		secs = atof(argv[6]);
		if (!size || size > (1 << 20))
			fail("SIZE: 1 .. 1 MiB");
		nodelay = 1;
		run_pingpong();
	} else if (!strcmp(argv[1], "setup") && argc >= 6) {
		secs = atof(argv[5]);
		nodelay = 1;
		run_setup();
	} else if (!strcmp(argv[1], "idle") && argc >= 6) {
		size = 1;
		run_idle(atoi(argv[5]));
	} else {
		fail("usage: san_bench stream|pingpong|setup|idle FAM ADDR PORT ...");
	}
	return 0;
}
