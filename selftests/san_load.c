// SPDX-License-Identifier: GPL-2.0
/*
 * AF_SAN under load: data integrity over a long stream of random write and
 * read sizes (1 byte to 1 MiB) in both directions at once, and many
 * concurrent connections all moving data.  Volumes and counts follow
 * SAN_SCALE; what is asserted does not.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "san_util.h"

#define MIB	(1024L * 1024)

/* A checksum that depends on order: FNV-1a over the stream. */
static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n)
{
	while (n--) {
		h ^= *p++;
		h *= 0x100000001b3ULL;
	}
	return h;
}

static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* 1 byte to 1 MiB, biased towards small sizes half of the time. */
static size_t rnd_size(uint64_t *s)
{
	uint64_t r = rnd(s);

	if (r & 1)
		return 1 + (r >> 8) % 4096;
	return 1 + (r >> 8) % MIB;
}

static int sockpair(int fam, const char *addr, int *a, int *b)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	int l = socket(fam, SOCK_STREAM, 0);

	if (l < 0 || inet_pton(AF_INET, addr, &in.sin_addr) != 1 ||
	    bind(l, (struct sockaddr *)&in, sizeof(in)) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&in, &len))
		return -1;
	*a = socket(fam, SOCK_STREAM, 0);
	if (*a < 0 || connect(*a, (struct sockaddr *)&in, sizeof(in)))
		return -1;
	*b = accept(l, NULL, NULL);
	close(l);
	return *b < 0 ? -1 : 0;
}

/* Writer: @total bytes of a seeded stream in random sizes; 0 on success. */
static int stream_write(int fd, long total, uint64_t seed, uint64_t *sum)
{
	unsigned char *buf = malloc(MIB);
	uint64_t s = seed, d = seed * 31 + 7, h = 0xcbf29ce484222325ULL;
	long done = 0;

	if (!buf)
		return -1;
	while (done < total) {
		size_t n = rnd_size(&s), i, off = 0;

		if ((long)n > total - done)
			n = total - done;
		for (i = 0; i < n; i++)
			buf[i] = rnd(&d);
		h = fnv(h, buf, n);
		while (off < n) {
			ssize_t w = send(fd, buf + off, n - off, 0);

			if (w <= 0) {
				free(buf);
				return -1;
			}
			off += w;
		}
		done += n;
	}
	free(buf);
	*sum = h;
	return 0;
}

/* Reader: read random sizes until EOF; checks against the writer's data. */
static long stream_read(int fd, uint64_t seed, uint64_t *sum, long *bad)
{
	unsigned char *buf = malloc(MIB);
	uint64_t s = seed ^ 0x5a5a, d = seed * 31 + 7;
	uint64_t h = 0xcbf29ce484222325ULL;
	long done = 0;

	*bad = 0;
	for (;;) {
		ssize_t r = recv(fd, buf, rnd_size(&s), 0);
		ssize_t i;

		if (r < 0) {
			free(buf);
			return -1;
		}
		if (r == 0)
			break;
		for (i = 0; i < r; i++)
			if (buf[i] != (unsigned char)rnd(&d))
				(*bad)++;
		h = fnv(h, buf, r);
		done += r;
	}
	free(buf);
	*sum = h;
	return done;
}

FIXTURE(load)
{
	int family;
	const char *addr;
};

FIXTURE_SETUP(load)
{
	self->family = san_family();
	self->addr = getenv("SAN_SELF");
	if (self->family < 0)
		SAN_SETUP_SKIP("af_san is not loaded");
	if (!self->addr)
		SAN_SETUP_SKIP("SAN_SELF is not set: run in tools/testbox");
	ASSERT_EQ(NULL, san_wait_idle(10));
}

FIXTURE_TEARDOWN(load)
{
	if (self->family >= 0 && self->addr)
		EXPECT_EQ(NULL, san_wait_idle(30));
}

/*
 * Both directions at once: each end has a writer child and reads in the
 * parent; the writer's checksum comes back through a pipe.
 */
TEST_F_TIMEOUT(load, integrity_both_directions, 900)
{
	long total = san_scaled(256 * MIB), got, bad;
	int a, b, p[2][2], i, status;
	uint64_t wsum[2], rsum;
	pid_t pid[2];
	int fds[2];

	ASSERT_EQ(0, sockpair(self->family, self->addr, &a, &b));
	fds[0] = a;
	fds[1] = b;
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, pipe(p[i]));
		pid[i] = fork();
		ASSERT_GE(pid[i], 0);
		if (pid[i] == 0) {
			uint64_t sum = 0;
			int rc = stream_write(fds[i], total, 1000 + i, &sum);

			if (!rc && shutdown(fds[i], SHUT_WR))
				rc = -1;
			if (write(p[i][1], &sum, sizeof(sum)) != sizeof(sum))
				rc = -1;
			_exit(rc ? 1 : 0);
		}
		close(p[i][1]);
	}
	/* Each end reads what the other end's writer sent. */
	pid_t reader = fork();

	ASSERT_GE(reader, 0);
	if (reader == 0) {
		got = stream_read(a, 1001, &rsum, &bad);
		_exit(got == total && !bad ? 0 : 1);
	}
	got = stream_read(b, 1000, &rsum, &bad);
	EXPECT_EQ(total, got);
	EXPECT_EQ(0, bad);
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(pid[i], waitpid(pid[i], &status, 0));
		EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status));
		ASSERT_EQ(sizeof(wsum[i]), read(p[i][0], &wsum[i],
						sizeof(wsum[i])));
		close(p[i][0]);
	}
	EXPECT_EQ(wsum[0], rsum);
	ASSERT_EQ(reader, waitpid(reader, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && !WEXITSTATUS(status))
		TH_LOG("the other direction lost or damaged data");
	close(a);
	close(b);
}

/* Per connection: bytes each way in the scale test. */
#define SCALE_BYTES	(64 * 1024)

struct end {
	int fd;
	long sent, rcvd;
	int finished;
};

TEST_F_TIMEOUT(load, many_connections, 900)
{
	int n = san_scaled(512), i, l, ep, done = 0, small = 32768;
	long lconns;
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	struct rlimit rl = { 4 * 512 + 64, 4 * 512 + 64 };
	struct end *e = calloc(2 * n, sizeof(*e));
	static unsigned char buf[SCALE_BYTES];
	struct epoll_event ev, evs[64];

	ASSERT_NE(NULL, e);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	l = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(l, 0);
	/* Small buffers keep 2 x 512 connections within the guest's memory. */
	ASSERT_EQ(0, setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)));
	ASSERT_EQ(0, setsockopt(l, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)));
	ASSERT_EQ(1, inet_pton(AF_INET, self->addr, &in.sin_addr));
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&in, sizeof(in)));
	ASSERT_EQ(0, listen(l, 1024));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&in, &len));
	/* The listener's own: RDMA, and TCP for plain TCP clients. */
	lconns = san_stat("conns");
	ASSERT_LE(1, lconns);

	/* Open all: connect one, accept one (the listener's backlog holds). */
	for (i = 0; i < n; i++) {
		int c = socket(self->family, SOCK_STREAM, 0);

		ASSERT_GE(c, 0);
		setsockopt(c, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
		setsockopt(c, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
		ASSERT_EQ(0, connect(c, (struct sockaddr *)&in, sizeof(in)))
			TH_LOG("connection %d: %s", i, strerror(errno));
		e[2 * i].fd = c;
		e[2 * i + 1].fd = accept(l, NULL, NULL);
		ASSERT_GE(e[2 * i + 1].fd, 0);
	}
	/* The spare TCP socket of each connect() goes in the background. */
	for (i = 0; i < 100 && san_stat("conns") != 2 * n + lconns; i++)
		usleep(100000);
	EXPECT_EQ(2 * n + lconns, san_stat("conns"));

	/* All move data at once: every end sends and receives. */
	ep = epoll_create1(0);
	ASSERT_GE(ep, 0);
	for (i = 0; i < 2 * n; i++) {
		fcntl(e[i].fd, F_SETFL, O_NONBLOCK);
		ev.events = EPOLLIN | EPOLLOUT;
		ev.data.u32 = i;
		ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, e[i].fd, &ev));
	}
	while (done < 2 * n) {
		int k, m = epoll_wait(ep, evs, 64, 20000);

		if (m <= 0) {
			long s = 0, r = 0;

			for (i = 0; i < 2 * n; i++) {
				s += e[i].sent;
				r += e[i].rcvd;
			}
			ASSERT_GT(m, 0) TH_LOG("stalled: %d of %d ends done, %ld sent, %ld received",
					       done, 2 * n, s, r);
		}
		for (k = 0; k < m; k++) {
			struct end *x = &e[evs[k].data.u32];
			int peer = evs[k].data.u32 ^ 1;
			ssize_t r;

			if ((evs[k].events & EPOLLOUT) &&
			    x->sent < SCALE_BYTES) {
				memset(buf, evs[k].data.u32 & 0xff,
				       SCALE_BYTES - x->sent);
				r = send(x->fd, buf, SCALE_BYTES - x->sent, 0);
				if (r > 0)
					x->sent += r;
				else
					ASSERT_EQ(EAGAIN, errno);
			}
			if (evs[k].events & EPOLLIN) {
				r = recv(x->fd, buf, sizeof(buf), 0);
				if (r > 0) {
					for (ssize_t j = 0; j < r; j++)
						ASSERT_EQ(peer & 0xff, buf[j]);
					x->rcvd += r;
				} else {
					ASSERT_EQ(EAGAIN, errno);
				}
			}
			/* Ask only for what this end still waits for. */
			ev.events = (x->sent < SCALE_BYTES ? EPOLLOUT : 0) |
				    (x->rcvd < SCALE_BYTES ? EPOLLIN : 0);
			ev.data.u32 = evs[k].data.u32;
			epoll_ctl(ep, EPOLL_CTL_MOD, x->fd, &ev);
			if (!ev.events && !x->finished) {
				x->finished = 1;
				done++;
			}
		}
	}
	close(ep);
	for (i = 0; i < 2 * n; i++)
		EXPECT_EQ(0, close(e[i].fd));
	close(l);
	free(e);
}

TEST_HARNESS_MAIN
