// SPDX-License-Identifier: GPL-2.0
/*
 * AF_SAN at scale (project issue 9, "Scale"): 2,000 connected AF_SAN
 * sockets on one guest -- 1,000 pairs, each a client socket and the socket
 * accept() gave for it -- all open at once, data moving on every one of
 * them (each end sends 8 KiB and receives the other end's 8 KiB, every
 * byte checked), then all closed; /proc/net/af_san (conns qps cqs pds
 * bufs pinned) and the AF_SAN socket count must be back at zero within a
 * bound.
 *
 * Not in make check (it takes minutes): built as a TEST_GEN_FILES helper,
 * run by make soak (tools/soak) or by hand:
 *   tools/testbox run --timeout 600 -- timeout 500 build/selftests/san_scale
 *
 * Memory: the module gives a connection SO_RCVBUF / 16 KiB receive and
 * SO_SNDBUF / 16 KiB send buffers (4 to 128 each; the kernel doubles the
 * value set).  The defaults (212992 -> 13 + 13 buffers, 416 KiB) fit:
 * measured on the test box's 2 GiB guest, 2,000 sockets took 479 KiB each
 * (936 MiB, MemAvailable 1.9 GiB -> 0.9 GiB).  SAN_SCALE_SOCKBUF=bytes sets
 * SO_RCVBUF and SO_SNDBUF before connecting (32768: the minimum of 4 + 4
 * buffers, 169 KiB per socket); 0, the default, leaves them.  The test
 * prints the memory the connections took (MemAvailable before and after).
 *
 * Settings: SAN_SCALE_PAIRS (1000, divided by SAN_SCALE), SAN_SCALE_BYTES
 * (8192 per end and direction), SAN_SCALE_IDLE_SECS (120: the bound for the
 * counters after the close).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "kselftest_harness.h"
#include "san_util.h"

static long env_long(const char *name, long def)
{
	const char *s = getenv(name);

	return s && *s ? atol(s) : def;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* MemAvailable of /proc/meminfo in KiB, -1 if absent. */
static long mem_avail_kib(void)
{
	char line[256];
	long v = -1;
	FILE *f = fopen("/proc/meminfo", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

/* The byte end @e sends at offset @off: depends on both, so a byte of
 * another connection or at the wrong place shows. */
static unsigned char pat(unsigned int e, long off)
{
	return (unsigned char)(e * 131 + off * 7 + (off >> 8) * 13 + 1);
}

struct end {
	int fd;
	long sent, rcvd, bad;
	int finished;
};

FIXTURE(scale)
{
	int family;
	const char *addr;
};

FIXTURE_SETUP(scale)
{
	self->family = san_family();
	self->addr = getenv("SAN_SELF");
	if (self->family < 0)
		SAN_SETUP_SKIP("af_san is not loaded");
	if (!self->addr)
		SAN_SETUP_SKIP("SAN_SELF is not set: run in tools/testbox");
	ASSERT_EQ(NULL, san_wait_idle(10));
	ASSERT_EQ(0, san_sockets_in_use());
}

FIXTURE_TEARDOWN(scale)
{
}

TEST_F_TIMEOUT(scale, connections_2000, 3600)
{
	int n = env_long("SAN_SCALE_PAIRS", 0) > 0 ?
		env_long("SAN_SCALE_PAIRS", 0) : san_scaled(1000);
	long bytes = env_long("SAN_SCALE_BYTES", 8192);
	int sockbuf = env_long("SAN_SCALE_SOCKBUF", 0);
	int idle_secs = env_long("SAN_SCALE_IDLE_SECS", 120);
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	struct rlimit rl = { 2 * n + 256, 2 * n + 256 };
	struct end *e = calloc(2 * n, sizeof(*e));
	unsigned char *buf = malloc(bytes > 65536 ? bytes : 65536);
	struct epoll_event ev, evs[128];
	long mem0, mem1, bufs, bad = 0, moved = 0, lconns;
	double t0, t1, t2, t3, t4;
	const char *busy;
	int i, l, ep, done = 0, socks = -1;

	ASSERT_NE(NULL, e);
	ASSERT_NE(NULL, buf);
	ASSERT_GT(bytes, 0);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	mem0 = mem_avail_kib();
	l = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(l, 0);
	/* The children take the listener's buffer sizes. */
	if (sockbuf > 0) {
		ASSERT_EQ(0, setsockopt(l, SOL_SOCKET, SO_RCVBUF, &sockbuf, sizeof(sockbuf)));
		ASSERT_EQ(0, setsockopt(l, SOL_SOCKET, SO_SNDBUF, &sockbuf, sizeof(sockbuf)));
	}
	ASSERT_EQ(1, inet_pton(AF_INET, self->addr, &in.sin_addr));
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&in, sizeof(in)));
	ASSERT_EQ(0, listen(l, 1024));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&in, &len));
	/* The listener's own: RDMA, and TCP for plain TCP clients. */
	lconns = san_stat("conns");

	/* Open all: connect one, accept one. */
	t0 = now();
	for (i = 0; i < n; i++) {
		int c = socket(self->family, SOCK_STREAM, 0);

		ASSERT_GE(c, 0) TH_LOG("socket %d: %s", i, strerror(errno));
		if (sockbuf > 0) {
			setsockopt(c, SOL_SOCKET, SO_RCVBUF, &sockbuf, sizeof(sockbuf));
			setsockopt(c, SOL_SOCKET, SO_SNDBUF, &sockbuf, sizeof(sockbuf));
		}
		ASSERT_EQ(0, connect(c, (struct sockaddr *)&in, sizeof(in)))
			TH_LOG("connection %d of %d: %s (conns %ld, MemAvailable %ld KiB)",
			       i, n, strerror(errno), san_stat("conns"),
			       mem_avail_kib());
		e[2 * i].fd = c;
		e[2 * i + 1].fd = accept(l, NULL, NULL);
		ASSERT_GE(e[2 * i + 1].fd, 0)
			TH_LOG("accept %d: %s", i, strerror(errno));
		if ((i + 1) % 250 == 0) {
			printf("# scale: %d pairs open, %.1f s, MemAvailable %ld KiB\n",
			       i + 1, now() - t0, mem_avail_kib());
			fflush(stdout);
		}
	}
	t1 = now();
	mem1 = mem_avail_kib();
	bufs = san_stat("bufs");
	/* The listener holds a connection of the module's too. */
	/* The spare TCP socket of each connect() goes in the background. */
	for (i = 0; i < 100 && san_stat("conns") != 2 * n + lconns; i++)
		usleep(100000);
	EXPECT_EQ(2 * n + lconns, san_stat("conns"));
	EXPECT_EQ(2 * n + 1, san_sockets_in_use());
	printf("# scale: %d connected AF_SAN sockets (%d pairs) open in %.1f s; conns %ld qps %ld cqs %ld bufs %ld\n",
	       2 * n, n, t1 - t0, san_stat("conns"), san_stat("qps"),
	       san_stat("cqs"), bufs);
	if (mem0 > 0 && mem1 > 0)
		printf("# scale: memory: MemAvailable %ld -> %ld KiB: %ld KiB per connected socket (%ld KiB of it RDMA buffers)\n",
		       mem0, mem1, (mem0 - mem1) / (2 * n),
		       bufs * 16 / (2 * n + 1));

	/* All move data at once: every end sends and receives @bytes. */
	ep = epoll_create1(0);
	ASSERT_GE(ep, 0);
	for (i = 0; i < 2 * n; i++) {
		ASSERT_EQ(0, fcntl(e[i].fd, F_SETFL, O_NONBLOCK));
		ev.events = EPOLLIN | EPOLLOUT;
		ev.data.u32 = i;
		ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, e[i].fd, &ev));
	}
	while (done < 2 * n) {
		int k, m = epoll_wait(ep, evs, 128, 30000);

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
			unsigned int x = evs[k].data.u32, peer = x ^ 1;
			struct end *p = &e[x];
			ssize_t r, j;

			if ((evs[k].events & EPOLLOUT) && p->sent < bytes) {
				long want = bytes - p->sent;

				for (j = 0; j < want; j++)
					buf[j] = pat(x, p->sent + j);
				r = send(p->fd, buf, want, MSG_DONTWAIT);
				if (r > 0)
					p->sent += r;
				else
					ASSERT_EQ(EAGAIN, errno)
						TH_LOG("send on end %u: %s", x, strerror(errno));
			}
			if (evs[k].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
				r = recv(p->fd, buf, bytes + 1 - p->rcvd, MSG_DONTWAIT);
				if (r > 0) {
					for (j = 0; j < r; j++)
						if (buf[j] != pat(peer, p->rcvd + j))
							p->bad++;
					p->rcvd += r;
					ASSERT_LE(p->rcvd, bytes)
						TH_LOG("end %u received more than was sent", x);
				} else {
					ASSERT_TRUE(r < 0 && errno == EAGAIN)
						TH_LOG("recv on end %u after %ld bytes: %zd, %s",
						       x, p->rcvd, r, r ? strerror(errno) : "EOF");
				}
			}
			/* Ask only for what this end still waits for. */
			ev.events = (p->sent < bytes ? EPOLLOUT : 0) |
				    (p->rcvd < bytes ? EPOLLIN : 0);
			ev.data.u32 = x;
			if (ev.events)
				epoll_ctl(ep, EPOLL_CTL_MOD, p->fd, &ev);
			else
				epoll_ctl(ep, EPOLL_CTL_DEL, p->fd, NULL);
			if (!ev.events && !p->finished) {
				p->finished = 1;
				done++;
			}
		}
	}
	t2 = now();
	close(ep);
	for (i = 0; i < 2 * n; i++) {
		bad += e[i].bad;
		moved += e[i].rcvd;
	}
	EXPECT_EQ(0, bad);
	EXPECT_EQ(2L * n * bytes, moved);
	printf("# scale: %ld bytes moved on %d sockets (%ld each way per pair), %ld bad, in %.1f s\n",
	       moved, 2 * n, bytes, bad, t2 - t1);

	/* Everything closed: the counters go back to zero within the bound. */
	for (i = 0; i < 2 * n; i++)
		EXPECT_EQ(0, close(e[i].fd));
	EXPECT_EQ(0, close(l));
	busy = san_wait_idle(idle_secs);
	t3 = now();
	EXPECT_EQ(NULL, busy)
		TH_LOG("%s still %ld %.0f s after the close", busy, san_stat(busy),
		       t3 - t2);
	for (i = 0; i < idle_secs * 10; i++) {
		socks = san_sockets_in_use();
		if (socks == 0)
			break;
		usleep(100000);
	}
	t4 = now();
	EXPECT_EQ(0, socks);
	printf("# scale: closed; counters at zero after %.1f s, AF_SAN sockets %d after %.1f s; MemAvailable %ld KiB\n",
	       t3 - t2, socks, t4 - t2, mem_avail_kib());
	printf("# scale: figures: sockets %d pairs %d open_s %.1f data_s %.1f idle_s %.1f kib_per_socket %ld bad %ld\n",
	       2 * n, n, t1 - t0, t2 - t1, t4 - t2,
	       mem0 > 0 && mem1 > 0 ? (mem0 - mem1) / (2 * n) : -1L, bad);
	fflush(stdout);
	free(buf);
	free(e);
}

TEST_HARNESS_MAIN
