// SPDX-License-Identifier: GPL-2.0
/*
 * Regression tests for the safety findings of issue 9: each test names
 * the item it guards, and failed on the module before the fix (a kernel
 * Oops, a hang, lost data or an errno TCP would not give).  Every test
 * ends with the module's resources back at zero.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "san_util.h"

#define MIB (1024 * 1024)

FIXTURE(safety)
{
	int family;
	struct sockaddr_in self;
};

FIXTURE_SETUP(safety)
{
	const char *addr = getenv("SAN_SELF");
	const char *only = getenv("SAN_ONLY");

	if (only && !strstr(_metadata->name, only))
		SAN_SETUP_SKIP("not in SAN_ONLY");
	self->family = san_family();
	if (self->family < 0)
		SAN_SETUP_SKIP("af_san is not loaded");
	if (!addr)
		SAN_SETUP_SKIP("SAN_SELF (an address on an RDMA device) is not set: run in tools/testbox");
	memset(&self->self, 0, sizeof(self->self));
	self->self.sin_family = AF_INET;
	ASSERT_EQ(1, inet_pton(AF_INET, addr, &self->self.sin_addr));
	ASSERT_EQ(NULL, san_wait_idle(10));
}

FIXTURE_TEARDOWN(safety)
{
	if (self->family >= 0)
		EXPECT_EQ(NULL, san_wait_idle(30));
}

static struct sockaddr_in at_port(const struct sockaddr_in *a, int port)
{
	struct sockaddr_in r = *a;

	r.sin_port = htons(port);
	return r;
}

static int port_of(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len))
		return -1;
	return ntohs(a.sin_port);
}

/* A listener on the test address, any port. */
static int listener(int family, const struct sockaddr_in *self, int backlog)
{
	struct sockaddr_in a = at_port(self, 0);
	int fd = socket(family, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(fd, backlog)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int connect_to(int family, const struct sockaddr_in *self, int port)
{
	struct sockaddr_in a = at_port(self, port);
	int fd = socket(family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A port with no listener: bound once and released. */
static int free_port(int family, const struct sockaddr_in *self)
{
	int fd = listener(family, self, 1);
	int port = fd >= 0 ? port_of(fd) : -1;

	if (fd >= 0)
		close(fd);
	return port;
}

static void set_timeouts(int fd, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = ms % 1000 * 1000 };

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void fill(unsigned char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = seed >> 16;
	}
}

/*
 * Item 1: bind(), a refused connect(), then listen() on the same socket
 * was a NULL-pointer Oops (the failed connect dropped the connection while
 * the socket stayed bound).  Now the socket keeps its address and listens
 * on it, as TCP.
 */
TEST_F(safety, item1_listen_after_refused_connect)
{
	int port = free_port(self->family, &self->self);
	int dead = free_port(self->family, &self->self);
	struct sockaddr_in a = at_port(&self->self, port);
	struct sockaddr_in d = at_port(&self->self, dead);
	int fd, c, s;

	ASSERT_GT(port, 0);
	ASSERT_GT(dead, 0);
	fd = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&a, sizeof(a)));
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&d, sizeof(d)));
	EXPECT_EQ(ECONNREFUSED, errno);
	ASSERT_EQ(0, listen(fd, 4)) TH_LOG("listen: %s", strerror(errno));
	EXPECT_EQ(port, port_of(fd));
	c = connect_to(self->family, &self->self, port);
	ASSERT_GE(c, 0) TH_LOG("connect to the relisted port: %s",
			       strerror(errno));
	s = accept(fd, NULL, NULL);
	ASSERT_GE(s, 0);
	EXPECT_EQ(3, send(c, "abc", 3, 0));
	char buf[4] = {};

	EXPECT_EQ(3, recv(s, buf, sizeof(buf), 0));
	EXPECT_STREQ("abc", buf);
	close(s);
	close(c);
	close(fd);
}

/*
 * Item 2: after a non-blocking connect() that completed (seen by poll),
 * shutdown(SHUT_WR) and getpeername() gave ENOTCONN.  As TCP, the socket
 * is connected once the handshake finished.
 */
TEST_F(safety, item2_nonblocking_connect_is_connected)
{
	int lsn = listener(self->family, &self->self, 4);
	struct sockaddr_in a, peer;
	socklen_t plen = sizeof(peer);
	struct pollfd p;
	char buf[8];
	int c, s;

	ASSERT_GE(lsn, 0);
	a = at_port(&self->self, port_of(lsn));
	c = socket(self->family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_GE(c, 0);
	EXPECT_EQ(-1, connect(c, (struct sockaddr *)&a, sizeof(a)));
	EXPECT_EQ(EINPROGRESS, errno);
	p = (struct pollfd){ .fd = c, .events = POLLOUT };
	ASSERT_EQ(1, poll(&p, 1, 20000));
	ASSERT_TRUE(p.revents & POLLOUT);
	s = accept(lsn, NULL, NULL);
	ASSERT_GE(s, 0);
	EXPECT_EQ(2, send(c, "hi", 2, 0));
	set_timeouts(s, 10000);
	EXPECT_EQ(2, recv(s, buf, sizeof(buf), 0));
	EXPECT_EQ(0, getpeername(c, (struct sockaddr *)&peer, &plen))
		TH_LOG("getpeername: %s", strerror(errno));
	EXPECT_EQ(port_of(lsn), ntohs(peer.sin_port));
	EXPECT_EQ(0, shutdown(c, SHUT_WR)) TH_LOG("shutdown: %s",
						  strerror(errno));
	/* The peer sees the end of the stream. */
	EXPECT_EQ(0, recv(s, buf, sizeof(buf), 0));
	p = (struct pollfd){ .fd = s, .events = POLLIN | POLLRDHUP };
	EXPECT_EQ(1, poll(&p, 1, 1000));
	EXPECT_TRUE(p.revents & POLLRDHUP);
	close(s);
	close(c);
	close(lsn);
}

/*
 * Item 3: a recv() into a bad buffer (NULL, a read-only mapping) returned
 * EFAULT but 64 KiB of a zero-copy transfer were gone.  Nothing leaves
 * the stream unless it reached the user: the next read gets every byte.
 */
TEST_F_TIMEOUT(safety, item3_bad_buffer_loses_nothing, 120)
{
	size_t len = MIB;
	unsigned char *out = malloc(len), *in = malloc(len);
	int lsn = listener(self->family, &self->self, 4);
	void *ro = mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS,
			-1, 0);
	size_t got = 0;
	int c, s, status;
	pid_t pid;

	ASSERT_TRUE(out && in);
	ASSERT_NE(MAP_FAILED, ro);
	ASSERT_GE(lsn, 0);
	c = connect_to(self->family, &self->self, port_of(lsn));
	ASSERT_GE(c, 0);
	s = accept(lsn, NULL, NULL);
	ASSERT_GE(s, 0);
	fill(out, len, 3);
	pid = fork();
	if (!pid)
		_exit(send(c, out, len, 0) == (ssize_t)len ? 0 : 1);
	san_wait_data(s);
	set_timeouts(s, 20000);
	EXPECT_EQ(-1, recv(s, NULL, len, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, recv(s, ro, len, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, recv(s, ro, 100, 0));
	EXPECT_EQ(EFAULT, errno);
	while (got < len) {
		ssize_t n = recv(s, in + got, len - got, 0);

		if (n <= 0)
			break;
		got += n;
	}
	EXPECT_EQ(len, got);
	EXPECT_EQ(0, memcmp(in, out, len));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	munmap(ro, len);
	close(s);
	close(c);
	close(lsn);
	free(in);
	free(out);
}

/*
 * Item 4: a socket whose bind() failed could not bind again (EINVAL), and
 * a bound socket whose connect() was refused could not connect again
 * (EADDRINUSE).  TCP allows both.
 */
TEST_F(safety, item4_socket_usable_after_failure)
{
	struct sockaddr_in bad = at_port(&self->self, 0);
	int lsn = listener(self->family, &self->self, 4);
	int busy = lsn >= 0 ? port_of(lsn) : -1;
	int dead = free_port(self->family, &self->self);
	int mine = free_port(self->family, &self->self);
	struct sockaddr_in a, d;
	int fd, s;

	ASSERT_GT(busy, 0);
	ASSERT_GT(dead, 0);
	ASSERT_GT(mine, 0);
	/* EADDRNOTAVAIL, then a good bind. */
	fd = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(1, inet_pton(AF_INET, "192.0.2.1", &bad.sin_addr));
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&bad, sizeof(bad)));
	EXPECT_EQ(EADDRNOTAVAIL, errno);
	/* EADDRINUSE, then a good bind. */
	a = at_port(&self->self, busy);
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&a, sizeof(a)));
	EXPECT_EQ(EADDRINUSE, errno);
	a = at_port(&self->self, mine);
	EXPECT_EQ(0, bind(fd, (struct sockaddr *)&a, sizeof(a)))
		TH_LOG("bind after failed binds: %s", strerror(errno));
	/* A refused connect, then one to a live listener, same port. */
	d = at_port(&self->self, dead);
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&d, sizeof(d)));
	EXPECT_EQ(ECONNREFUSED, errno);
	a = at_port(&self->self, busy);
	EXPECT_EQ(0, connect(fd, (struct sockaddr *)&a, sizeof(a)))
		TH_LOG("connect after a refused one: %s", strerror(errno));
	EXPECT_EQ(mine, port_of(fd));
	s = accept(lsn, NULL, NULL);
	EXPECT_GE(s, 0);
	if (s >= 0)
		close(s);
	close(fd);
	close(lsn);
}

/*
 * Item 5: a listener with backlog 8 queued 18 to 43 connections: every
 * request was checked against the accept queue alone.  As TCP, at most
 * backlog + 1 connections wait; the others are refused.
 */
TEST_F_TIMEOUT(safety, item5_backlog_is_honoured, 120)
{
	enum { BACKLOG = 8, CLIENTS = 24 };
	int lsn = listener(self->family, &self->self, BACKLOG);
	struct sockaddr_in a;
	int c[CLIENTS], i, done, queued = 0, s;

	ASSERT_GE(lsn, 0);
	a = at_port(&self->self, port_of(lsn));
	for (i = 0; i < CLIENTS; i++) {
		c[i] = socket(self->family, SOCK_STREAM | SOCK_NONBLOCK, 0);
		ASSERT_GE(c[i], 0);
		connect(c[i], (struct sockaddr *)&a, sizeof(a));
	}
	/* Wait until every attempt has an outcome. */
	for (done = 0; done < CLIENTS;) {
		struct pollfd p[CLIENTS];

		for (i = 0; i < CLIENTS; i++)
			p[i] = (struct pollfd){ .fd = c[i], .events = POLLOUT };
		ASSERT_LT(0, poll(p, CLIENTS, 30000));
		for (done = 0, i = 0; i < CLIENTS; i++)
			done += !!p[i].revents;
	}
	for (;;) {
		int fl = fcntl(lsn, F_GETFL);

		fcntl(lsn, F_SETFL, fl | O_NONBLOCK);
		s = accept(lsn, NULL, NULL);
		if (s < 0)
			break;
		queued++;
		close(s);
	}
	EXPECT_EQ(EAGAIN, errno);
	TH_LOG("%d of %d connections queued with backlog %d", queued,
	       CLIENTS, BACKLOG);
	EXPECT_LE(queued, BACKLOG + 1);
	EXPECT_GE(queued, 1);
	for (i = 0; i < CLIENTS; i++)
		close(c[i]);
	close(lsn);
}

/*
 * Item 6: connect() to an IPv4-mapped IPv6 address stayed in progress for
 * 15 s or more.  As on a dual-stack TCP socket, it takes the IPv4 path.
 * AF_UNSPEC is not a disconnect on AF_SAN: EAFNOSUPPORT (docs/design.md).
 */
TEST_F(safety, item6_v4_mapped_and_unspec)
{
	int lsn = listener(self->family, &self->self, 4);
	int lens[] = { sizeof(struct sockaddr_in6), 24 };
	struct sockaddr_in6 m = { .sin6_family = AF_INET6 };
	struct sockaddr u = { .sa_family = AF_UNSPEC };
	int i, fd, s;

	ASSERT_GE(lsn, 0);
	m.sin6_port = htons(port_of(lsn));
	m.sin6_addr.s6_addr[10] = 0xff;
	m.sin6_addr.s6_addr[11] = 0xff;
	memcpy(&m.sin6_addr.s6_addr[12], &self->self.sin_addr, 4);
	for (i = 0; i < 2; i++) {
		fd = socket(self->family, SOCK_STREAM, 0);
		ASSERT_GE(fd, 0);
		set_timeouts(fd, 10000);
		EXPECT_EQ(0, connect(fd, (struct sockaddr *)&m, lens[i]))
			TH_LOG("length %d: %s", lens[i], strerror(errno));
		s = accept(lsn, NULL, NULL);
		EXPECT_GE(s, 0);
		if (s >= 0)
			close(s);
		close(fd);
	}
	fd = socket(self->family, SOCK_STREAM, 0);
	EXPECT_EQ(-1, connect(fd, &u, sizeof(u)));
	EXPECT_EQ(EAFNOSUPPORT, errno);
	close(fd);
	close(lsn);
}

/*
 * Item 8: a child that failed before ESTABLISHED (its client gave up
 * between the request and the end of the handshake) was never freed:
 * socket, QP, CQ, PD, buffers and a module reference leaked for ever.
 * Clients that close while their connect is in flight leave nothing.
 */
TEST_F_TIMEOUT(safety, item8_half_open_children_are_freed, 180)
{
	int lsn = listener(self->family, &self->self, 64);
	struct sockaddr_in a;
	int i, n = san_scaled(40) < 8 ? 8 : san_scaled(40);
	long conns = -1, lconns = san_stat("conns");

	ASSERT_GE(lsn, 0);
	/* The listener's own: RDMA, and TCP for plain TCP clients. */
	ASSERT_LE(1, lconns);
	a = at_port(&self->self, port_of(lsn));
	for (i = 0; i < n; i++) {
		int c = socket(self->family, SOCK_STREAM | SOCK_NONBLOCK, 0);

		ASSERT_GE(c, 0);
		connect(c, (struct sockaddr *)&a, sizeof(a));
		usleep((i % 8) * 2000);
		close(c);
	}
	/* Accept and close what did get through, for a while. */
	for (i = 0; i < 1200; i++) {
		int fl = fcntl(lsn, F_GETFL), s;

		fcntl(lsn, F_SETFL, fl | O_NONBLOCK);
		while ((s = accept(lsn, NULL, NULL)) >= 0)
			close(s);
		conns = san_stat("conns");
		if (conns == lconns)
			break;
		usleep(100000);
	}
	TH_LOG("conns left besides the listener after %d.%d s: %ld (qps %ld)",
	       i / 10, i % 10, conns - lconns, san_stat("qps"));
	EXPECT_EQ(lconns, conns);
	/* The listener still works. */
	i = connect_to(self->family, &self->self, port_of(lsn));
	EXPECT_GE(i, 0);
	if (i >= 0)
		close(i);
	close(lsn);
}

struct zc_sender {
	int fd;
	size_t len;
	ssize_t ret;
	unsigned char *buf;
};

static void *zc_send_main(void *arg)
{
	struct zc_sender *z = arg;

	z->ret = send(z->fd, z->buf, z->len, 0);
	return NULL;
}

/*
 * Item 14: RD_DONE, CREDIT and FIN shared one reserved credit.  B fills
 * A's receive buffers (A does not read), then shuts down: its FIN took
 * B's last credit; A's zero-copy send to B then waited for ever for the
 * RD_DONE that B could not send.
 */
static void fin_and_credits(struct __test_metadata *_metadata,
			    FIXTURE_DATA(safety) *self, int copy)
{
	int lsn = listener(self->family, &self->self, 4);
	struct zc_sender z = { .len = MIB };
	unsigned char *in = malloc(MIB);
	char small[1000] = "x";
	int a, b, n = 0, big = 1 << 30;
	pthread_t t;
	ssize_t got;

	ASSERT_GE(lsn, 0);
	z.buf = malloc(MIB);
	ASSERT_TRUE(in && z.buf);
	fill(z.buf, MIB, 14);
	a = connect_to(self->family, &self->self, port_of(lsn));
	ASSERT_GE(a, 0);
	if (copy)
		ASSERT_EQ(0, setsockopt(a, SOL_SAN, SAN_ZCOPY_THRESHOLD, &big,
					sizeof(big)));
	b = accept(lsn, NULL, NULL);
	ASSERT_GE(b, 0);
	/* B's credits run out: A reads nothing yet. */
	while (send(b, small, sizeof(small), MSG_DONTWAIT) > 0)
		n++;
	ASSERT_EQ(EAGAIN, errno);
	TH_LOG("B queued %d messages before running out of credits", n);
	ASSERT_EQ(0, shutdown(b, SHUT_WR));
	z.fd = a;
	ASSERT_EQ(0, pthread_create(&t, NULL, zc_send_main, &z));
	set_timeouts(b, 30000);
	got = recv(b, in, MIB, MSG_WAITALL);
	EXPECT_EQ(MIB, got) TH_LOG("recv: %s", strerror(errno));
	if (got != MIB) {
		/* Unblock the sender: the test failed. */
		shutdown(a, SHUT_RDWR);
		close(b);
		b = -1;
	}
	pthread_join(t, NULL);
	EXPECT_EQ(MIB, z.ret);
	EXPECT_EQ(0, memcmp(in, z.buf, MIB));
	if (b >= 0)
		close(b);
	close(a);
	close(lsn);
	free(in);
	free(z.buf);
}

TEST_F_TIMEOUT(safety, item14_fin_leaves_a_credit_for_rd_done, 120)
{
	if (san_iwarp())
		SKIP(return, SAN_IWARP_NO_ZC);
	fin_and_credits(_metadata, self, 0);
}

/*
 * The same by the copy path (zero-copy off, as on iWARP): B's CREDITs,
 * its FIN waiting, must keep A's DATA flowing.
 */
TEST_F_TIMEOUT(safety, item14_fin_waits_copy_path_flows, 120)
{
	fin_and_credits(_metadata, self, 1);
}

struct reader {
	int fd;
	ssize_t ret;
	double cpu;
	unsigned char *buf;
	size_t len;
};

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	double t0 = thread_cpu();

	r->ret = recv(r->fd, r->buf, r->len, 0);
	r->cpu = thread_cpu() - t0;
	return NULL;
}

static int set_hold(int ms)
{
	FILE *f = fopen("/sys/module/af_san/parameters/zc_hold_ms", "w");

	if (!f)
		return -1;
	fprintf(f, "%d\n", ms);
	return fclose(f);
}

/*
 * Item 15: while one reader's zero-copy READ was in flight, a second
 * reader's wait condition was already true and it spun (EAGAIN in a
 * loop).  It now sleeps until the first one is done.  The READ is held
 * for 3 s (zc_hold_ms): a spinning second reader burns those 3 s on top
 * of what its own transfer costs (about what the first reader's costs).
 */
TEST_F_TIMEOUT(safety, item15_second_reader_sleeps, 120)
{
	int lsn = listener(self->family, &self->self, 4);
	struct reader r1 = { .len = MIB }, r2 = { .len = MIB };
	unsigned char *out = malloc(MIB);
	pthread_t t1, t2;
	int a, b, status;
	pid_t pid;

	ASSERT_GE(lsn, 0);
	r1.buf = malloc(MIB);
	r2.buf = malloc(MIB);
	ASSERT_TRUE(out && r1.buf && r2.buf);
	if (set_hold(3000))
		SKIP(return, "zc_hold_ms is not writable");
	a = connect_to(self->family, &self->self, port_of(lsn));
	ASSERT_GE(a, 0);
	b = accept(lsn, NULL, NULL);
	ASSERT_GE(b, 0);
	fill(out, MIB, 15);
	pid = fork();
	if (!pid) {
		/* One exposure, then a second so the other reader gets data. */
		_exit(send(a, out, MIB, 0) == MIB &&
		      send(a, out, MIB, 0) == MIB ? 0 : 1);
	}
	san_wait_data(b);
	set_timeouts(b, 60000);
	r1.fd = r2.fd = b;
	ASSERT_EQ(0, pthread_create(&t1, NULL, reader_main, &r1));
	usleep(300000);
	ASSERT_EQ(0, pthread_create(&t2, NULL, reader_main, &r2));
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	set_hold(0);
	TH_LOG("reader 1: %zd bytes, %.3f s CPU; reader 2: %zd bytes, %.3f s CPU",
	       r1.ret, r1.cpu, r2.ret, r2.cpu);
	EXPECT_GT(r1.ret, 0);
	EXPECT_GT(r2.ret, 0);
	EXPECT_LT(r2.cpu, r1.cpu + 1.0);
	/* Drain the rest so that the sender finishes. */
	{
		size_t left = 2 * MIB - r1.ret - r2.ret;

		while (left) {
			ssize_t n = recv(b, r1.buf, left < MIB ? left : MIB, 0);

			if (n <= 0)
				break;
			left -= n;
		}
		EXPECT_EQ(0, left);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	close(b);
	close(a);
	close(lsn);
	free(out);
	free(r1.buf);
	free(r2.buf);
}

/*
 * A connection to @lsn: *@a the client, *@b the accepted end, and a child
 * process that sends @out (1 MiB: zero-copy) on *@a and exits 0 once all
 * of it went.  Returns the child's pid, or -1.
 */
static pid_t zc_sender_pair(int family, const struct sockaddr_in *self,
			    int lsn, const unsigned char *out, int *a, int *b)
{
	pid_t pid;

	*a = connect_to(family, self, port_of(lsn));
	*b = *a >= 0 ? accept(lsn, NULL, NULL) : -1;
	if (*b < 0)
		return -1;
	pid = fork();
	if (!pid) {
		/* The parent's close(*b) must be the last one. */
		close(*b);
		_exit(send(*a, out, MIB, MSG_NOSIGNAL) == MIB ? 0 : 1);
	}
	return pid;
}

/*
 * Item 15 (second half): a non-blocking recv() that met zero-copy bytes
 * waited for the RDMA READ of them.  Now it starts the READ into a kernel
 * buffer and returns EAGAIN at once; poll() reports EPOLLIN only once the
 * READ is through (it is held for 3 s here), and the next recv() gets the
 * bytes.  The prefetched bytes obey the copy path's rules: MSG_PEEK leaves
 * them, a bad buffer loses none of them.  Counts calls, not time.
 */
TEST_F_TIMEOUT(safety, item15_nonblocking_recv_does_not_wait_for_read, 180)
{
	int lsn = listener(self->family, &self->self, 4);
	unsigned char *out = malloc(MIB), *in = malloc(MIB);
	unsigned char peek[100];
	long bounced0 = san_stat("zc_bounced");
	size_t got = 0;
	int a, b, status, eagain = 0, peeked = 0, faulted = 0;
	struct pollfd pfd;
	pid_t pid;
	ssize_t n;

	if (san_iwarp())
		SKIP(return, SAN_IWARP_NO_ZC);
	ASSERT_GE(lsn, 0);
	ASSERT_TRUE(out && in);
	if (set_hold(3000))
		SKIP(return, "zc_hold_ms is not writable");
	fill(out, MIB, 151);
	pid = zc_sender_pair(self->family, &self->self, lsn, out, &a, &b);
	ASSERT_GE(pid, 0);
	san_wait_data(b);

	/* The READ is held: the call must not wait for it. */
	n = recv(b, in, MIB, MSG_DONTWAIT);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EAGAIN, errno);
	pfd.fd = b;
	pfd.events = POLLIN;
	EXPECT_EQ(0, poll(&pfd, 1, 0)) TH_LOG("EPOLLIN before the READ ended");
	/* Another non-blocking call starts nothing more and does not wait. */
	n = recv(b, in, MIB, MSG_DONTWAIT);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(1, poll(&pfd, 1, 30000));
	EXPECT_TRUE(pfd.revents & POLLIN);
	set_hold(0);

	while (got < MIB) {
		if (!faulted) {
			/* A bad buffer: EFAULT, and nothing is consumed. */
			faulted = 1;
			n = recv(b, NULL, MIB, MSG_DONTWAIT);
			EXPECT_EQ(-1, n);
			EXPECT_EQ(EFAULT, errno);
		}
		if (!peeked) {
			n = recv(b, peek, sizeof(peek), MSG_PEEK | MSG_DONTWAIT);
			if (n == sizeof(peek)) {
				peeked = 1;
				EXPECT_EQ(0, memcmp(peek, out + got, sizeof(peek)));
			}
		}
		n = recv(b, in + got, MIB - got, MSG_DONTWAIT);
		if (n > 0) {
			got += n;
			continue;
		}
		ASSERT_EQ(-1, n);
		ASSERT_EQ(EAGAIN, errno);
		eagain++;
		ASSERT_EQ(1, poll(&pfd, 1, 30000)) TH_LOG("at %zu", got);
	}
	EXPECT_EQ(MIB, got);
	EXPECT_EQ(0, memcmp(in, out, MIB));
	EXPECT_EQ(1, peeked);
	TH_LOG("%d EAGAIN on the way", eagain);
	/* The bytes came through kernel buffers, not a wait for the READ. */
	EXPECT_LT(bounced0, san_stat("zc_bounced"));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	EXPECT_EQ(0, san_stat("pinned"));
	close(b);
	close(a);
	close(lsn);
	free(out);
	free(in);
}

/*
 * The prefetch is as large as the zero-copy bytes allow (up to 64 KiB),
 * whatever the call that started it asked for: a 4-byte peek must not
 * leave a 100-byte peek stuck at 4 bytes for good.  And the end of the
 * stream comes after the bytes still in the peer's memory: shutdown
 * (SHUT_RD) with zero-copy bytes unread (or the peer's FIN behind its
 * exposure) must not make a non-blocking recv() return 0 while one is in
 * flight (it did, and the reader closed and lost the stream).
 */
TEST_F_TIMEOUT(safety, item15_prefetch_short_peek_and_end_of_stream, 180)
{
	int lsn = listener(self->family, &self->self, 4);
	unsigned char *out = malloc(MIB), *in = malloc(MIB);
	unsigned char peek[100];
	struct pollfd pfd;
	size_t got = 0;
	int a, b, status, eof_early = 0;
	pid_t pid;
	ssize_t n;

	if (san_iwarp())
		SKIP(return, SAN_IWARP_NO_ZC);
	ASSERT_GE(lsn, 0);
	ASSERT_TRUE(out && in);
	fill(out, MIB, 153);
	pid = zc_sender_pair(self->family, &self->self, lsn, out, &a, &b);
	ASSERT_GE(pid, 0);
	san_wait_data(b);
	pfd.fd = b;
	pfd.events = POLLIN;

	ASSERT_EQ(-1, recv(b, peek, 4, MSG_PEEK | MSG_DONTWAIT));
	ASSERT_EQ(EAGAIN, errno);
	ASSERT_EQ(1, poll(&pfd, 1, 30000));
	EXPECT_EQ(sizeof(peek), recv(b, peek, sizeof(peek),
				     MSG_PEEK | MSG_DONTWAIT));
	EXPECT_EQ(0, memcmp(peek, out, sizeof(peek)));

	ASSERT_EQ(0, shutdown(b, SHUT_RD));
	while (got < MIB) {
		n = recv(b, in + got, MIB - got, MSG_DONTWAIT);
		if (n > 0) {
			got += n;
			continue;
		}
		if (n == 0) {
			eof_early = 1;
			break;
		}
		ASSERT_EQ(EAGAIN, errno);
		ASSERT_EQ(1, poll(&pfd, 1, 30000)) TH_LOG("at %zu", got);
	}
	EXPECT_EQ(0, eof_early) TH_LOG("end of stream after %zu bytes", got);
	EXPECT_EQ(MIB, got);
	EXPECT_EQ(0, memcmp(in, out, got));
	/* Then the end, as TCP after SHUT_RD. */
	EXPECT_EQ(0, recv(b, in, 1, MSG_DONTWAIT));
	if (got < MIB) {
		/* The sender waits for the rest: the reset ends it. */
		close(b);
		b = -1;
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
	if (b >= 0)
		close(b);
	close(a);
	close(lsn);
	free(out);
	free(in);
}

/*
 * The prefetch of a non-blocking recv() outlives the call: a blocking
 * recv() waits for it and gets its bytes; close() while its READ is in
 * flight frees it (the fixture checks that nothing is left), and the
 * exposing peer sees the reset.
 */
TEST_F_TIMEOUT(safety, item15_prefetch_then_blocking_recv_and_close, 180)
{
	int lsn = listener(self->family, &self->self, 4);
	unsigned char *out = malloc(MIB), *in = malloc(MIB);
	int a, b, status, round;
	pid_t pid;
	ssize_t n;

	if (san_iwarp())
		SKIP(return, SAN_IWARP_NO_ZC);
	ASSERT_GE(lsn, 0);
	ASSERT_TRUE(out && in);
	if (set_hold(1000))
		SKIP(return, "zc_hold_ms is not writable");
	fill(out, MIB, 152);
	for (round = 0; round < 2; round++) {
		pid = zc_sender_pair(self->family, &self->self, lsn, out,
				     &a, &b);
		ASSERT_GE(pid, 0);
		san_wait_data(b);
		ASSERT_EQ(-1, recv(b, in, MIB, MSG_DONTWAIT));
		ASSERT_EQ(EAGAIN, errno);
		if (round == 0) {
			/* Blocking: the prefetch's bytes, then the rest. */
			set_timeouts(b, 60000);
			n = recv(b, in, MIB, 0);
			EXPECT_GT(n, 0);
			EXPECT_GE(65536, n);
			EXPECT_EQ(0, memcmp(in, out, n > 0 ? n : 0));
			set_hold(0);
			if (n > 0 && n <= 65536) {
				EXPECT_EQ(MIB - n, recv(b, in + n, MIB - n,
							MSG_WAITALL));
				EXPECT_EQ(0, memcmp(in, out, MIB));
			}
		} else {
			/* close() with the READ held. */
			set_hold(3000);
			close(b);
			b = -1;
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		EXPECT_TRUE(WIFEXITED(status));
		EXPECT_EQ(round, WEXITSTATUS(status));
		if (b >= 0)
			close(b);
		close(a);
	}
	set_hold(0);
	EXPECT_EQ(0, san_stat("pinned"));
	close(lsn);
	free(out);
	free(in);
}

/*
 * Found by the sequence fuzzer (KASAN: use-after-free in
 * cma_ib_req_handler): rdma_cm makes two listeners on one port share an
 * ib_cm listen id and frees one of them without waiting for a connection
 * request that found it.  AF_SAN keeps one listener per port: a second
 * one, IPv6 on the same port as an IPv4 one, gets EADDRINUSE; once the
 * first is closed the port is free again.
 */
TEST_F_TIMEOUT(safety, one_listener_per_port, 120)
{
	int l4 = listener(self->family, &self->self, 4), l6, c, a;
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6 };
	char addr6[64];

	ASSERT_GE(l4, 0);
	snprintf(addr6, sizeof(addr6), "fd00::%u",
		 ntohl(self->self.sin_addr.s_addr) & 0xff);
	ASSERT_EQ(1, inet_pton(AF_INET6, addr6, &a6.sin6_addr));
	a6.sin6_port = htons(port_of(l4));
	l6 = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(l6, 0);
	if (bind(l6, (struct sockaddr *)&a6, sizeof(a6))) {
		close(l6);
		close(l4);
		SKIP(return, "cannot bind %s on the RDMA device: %s", addr6,
		     strerror(errno));
	}
	EXPECT_EQ(-1, listen(l6, 4));
	EXPECT_EQ(EADDRINUSE, errno);
	/* The first one still serves. */
	c = connect_to(self->family, &self->self, port_of(l4));
	EXPECT_GE(c, 0);
	a = accept(l4, NULL, NULL);
	EXPECT_GE(a, 0);
	close(a);
	close(c);
	/* Closed, it leaves the port to the other. */
	close(l4);
	EXPECT_EQ(0, listen(l6, 4)) TH_LOG("listen: %s", strerror(errno));
	c = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(c, 0);
	EXPECT_EQ(0, connect(c, (struct sockaddr *)&a6, sizeof(a6)))
		TH_LOG("connect: %s", strerror(errno));
	a = accept(l6, NULL, NULL);
	EXPECT_GE(a, 0);
	close(a);
	close(c);
	close(l6);
}

/*
 * Item 16 (and a race of item 8): connections completing while their
 * listener is closed from another thread.  Before the fix the listener
 * could be woken after accept() had dropped the last reference to it
 * (KASAN: use-after-free).  Asserts that every client ends (connected
 * or refused) and that nothing is left.
 */
static void *closer_main(void *arg)
{
	int *fd = arg;

	usleep(20000);
	close(*fd);
	return NULL;
}

TEST_F_TIMEOUT(safety, item16_listener_closed_while_connections_complete, 600)
{
	int round, rounds = san_scaled(12) < 4 ? 4 : san_scaled(12);

	for (round = 0; round < rounds; round++) {
		int lsn = listener(self->family, &self->self, 16);
		struct sockaddr_in a;
		pthread_t t;
		int c[4], i;

		ASSERT_GE(lsn, 0);
		a = at_port(&self->self, port_of(lsn));
		for (i = 0; i < 4; i++) {
			c[i] = socket(self->family, SOCK_STREAM | SOCK_NONBLOCK,
				      0);
			connect(c[i], (struct sockaddr *)&a, sizeof(a));
		}
		ASSERT_EQ(0, pthread_create(&t, NULL, closer_main, &lsn));
		for (i = 0; i < 4; i++) {
			struct pollfd p = { .fd = c[i], .events = POLLOUT };

			/*
			 * A request the closing listener never answered ends
			 * with the CM's retries (about a minute).
			 */
			EXPECT_EQ(1, poll(&p, 1, 150000));
			close(c[i]);
		}
		pthread_join(t, NULL);
	}
}

/* AF_SAN's rdma_cm ids, as "rdma res show cm_id" lists them; -1 without. */
static int cm_ids(void)
{
	FILE *f = popen("timeout 10 rdma res show cm_id 2>/dev/null", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !strncmp(line, "link ", 5) && strstr(line, "[af_san]");
	return pclose(f) ? -1 : n;
}

struct closer_arg {
	int fd;
	int delay_us;
};

static void *delayed_closer_main(void *arg)
{
	struct closer_arg *c = arg;

	usleep(c->delay_us);
	close(c->fd);
	return NULL;
}

/*
 * A connection request that reached a listener while close() tore it
 * down was kept by rdma_cm, never answered, with the freed listener as
 * its context; the next device removal ran the handler on it (a
 * NULL-pointer Oops in CI).  Requests race the close, on a specific and
 * on a wildcard address; afterwards no rdma_cm id may be left.
 */
TEST_F_TIMEOUT(safety, item16_requests_racing_listener_close_leave_no_cm_id, 600)
{
	int round, rounds = san_scaled(60) < 30 ? 30 : san_scaled(60);
	int ids0 = cm_ids(), ids = -1, i;

	if (ids0 < 0)
		SKIP(return, "no \"rdma res show cm_id\" (iproute2's rdma tool)");
	for (round = 0; round < rounds; round++) {
		struct sockaddr_in a = self->self, d = self->self;
		struct closer_arg arg;
		pthread_t t;
		int c[8];

		if (round % 2)
			a.sin_addr.s_addr = htonl(INADDR_ANY);
		a.sin_port = 0;
		arg.fd = socket(self->family, SOCK_STREAM, 0);
		ASSERT_GE(arg.fd, 0);
		ASSERT_EQ(0, bind(arg.fd, (struct sockaddr *)&a, sizeof(a)));
		ASSERT_EQ(0, listen(arg.fd, 64));
		d.sin_port = htons(port_of(arg.fd));
		for (i = 0; i < 8; i++) {
			c[i] = socket(self->family, SOCK_STREAM | SOCK_NONBLOCK,
				      0);
			connect(c[i], (struct sockaddr *)&d, sizeof(d));
		}
		arg.delay_us = (round % 10) * 3000;
		ASSERT_EQ(0, pthread_create(&t, NULL, delayed_closer_main, &arg));
		pthread_join(t, NULL);
		for (i = 0; i < 8; i++)
			close(c[i]);
	}
	/* A child whose client vanished mid-handshake lives 2^(n+1) - 1 s. */
	EXPECT_EQ(NULL, san_wait_idle(70));
	for (i = 0; i < 300; i++) {
		ids = cm_ids();
		if (ids == ids0)
			break;
		usleep(100000);
	}
	EXPECT_EQ(ids0, ids) TH_LOG("rdma_cm ids: %d before, %d after every socket was closed",
				    ids0, ids);
}

TEST_HARNESS_MAIN
