// SPDX-License-Identifier: GPL-2.0
/*
 * The switch's TCP path: an AF_SAN client reaches a plain TCP server (the
 * RDMA attempt is refused, the connection falls back to the kernel's TCP),
 * a plain TCP client reaches an AF_SAN listener, the policy option picks
 * the provider, the reason of a fallback is reported, and the
 * cancellation rules hold on a TCP-provider connection as on RDMA.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "san_util.h"
#include "san_kick.h"

FIXTURE(tcp)
{
	int family;
	int ip;
	struct sockaddr_storage self;	/* the guest's address, port 0 */
	socklen_t len;
	int fds[6];
	long refused, no_path, timeout;
};

FIXTURE_VARIANT(tcp)
{
	int ip;
	const char *addr;
};

FIXTURE_VARIANT_ADD(tcp, ipv4)
{
	.ip = AF_INET,
	.addr = NULL,	/* SAN_SELF */
};

FIXTURE_VARIANT_ADD(tcp, ipv6)
{
	.ip = AF_INET6,
	.addr = "fd00::15",
};

static int sockopt(int fd, int name)
{
	socklen_t len = sizeof(int);
	int val = -1;

	if (getsockopt(fd, SOL_SAN, name, &val, &len))
		return -errno - 1000;
	return val;
}

/* Remember an fd for the teardown to close. */
static int keep(FIXTURE_DATA(tcp) *self, int fd)
{
	int i;

	for (i = 0; i < 6; i++)
		if (self->fds[i] < 0) {
			self->fds[i] = fd;
			break;
		}
	return fd;
}

/* A listener of @family (AF_SAN or the IP family) on the test address. */
static int listener(struct __test_metadata *_metadata,
		    FIXTURE_DATA(tcp) *self, int family, int *port)
{
	struct sockaddr_storage got;
	socklen_t len = sizeof(got);
	int fd = keep(self, socket(family, SOCK_STREAM, 0));

	EXPECT_GE(fd, 0);
	EXPECT_EQ(0, bind(fd, (struct sockaddr *)&self->self, self->len))
		TH_LOG("bind: %s", strerror(errno));
	EXPECT_EQ(0, listen(fd, 8));
	EXPECT_EQ(0, getsockname(fd, (struct sockaddr *)&got, &len));
	*port = addr_port(&got);
	return fd;
}

static int san_socket(FIXTURE_DATA(tcp) *self, int policy)
{
	int fd = keep(self, socket(self->family, SOCK_STREAM, 0));

	if (fd >= 0 && policy >= 0 &&
	    setsockopt(fd, SOL_SAN, SAN_POLICY, &policy, sizeof(policy)))
		return -1;
	return fd;
}

static int connect_to(FIXTURE_DATA(tcp) *self, int fd, int port)
{
	struct sockaddr_storage dst = self->self;

	addr_set_port(&dst, port);
	return connect(fd, (struct sockaddr *)&dst, self->len);
}

static unsigned char pattern(long i)
{
	return (unsigned char)(i * 7 + (i >> 10));
}

struct writer {
	pthread_t thread;
	int fd;
	long bytes;
	long sent;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	unsigned char buf[8192];
	long i;
	int n;

	while (w->sent < w->bytes) {
		n = w->bytes - w->sent < (long)sizeof(buf) ?
		    (int)(w->bytes - w->sent) : (int)sizeof(buf);
		for (i = 0; i < n; i++)
			buf[i] = pattern(w->sent + i);
		n = send(w->fd, buf, n, MSG_NOSIGNAL);
		if (n <= 0)
			break;
		w->sent += n;
	}
	return NULL;
}

/* @bytes from @from to @to, every byte checked; returns bytes right. */
static long transfer(int from, int to, long bytes)
{
	struct writer w = { .fd = from, .bytes = bytes };
	unsigned char buf[8192];
	long got = 0, i;
	int n;

	pthread_create(&w.thread, NULL, writer_main, &w);
	while (got < bytes) {
		n = recv(to, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++)
			if (buf[i] != pattern(got + i))
				goto out;
		got += n;
	}
out:
	pthread_join(w.thread, NULL);
	return got;
}

/*
 * What holds on iWARP, where an RDMA connection is itself a TCP one of the
 * host (docs/design.md, "The TCP path"): the other cases meet a plain TCP
 * peer, which the RDMA attempt reaches first (an MPA request as data), or
 * a listener that takes no plain TCP client.
 */
static const char *const iwarp_cases[] = {
	"san_to_san_stays_on_rdma", "policy_values_checked",
	"closed_listener_frees_its_tcp_port", "ipproto_san_speaks_inet_addresses",
	"ipproto_san_refuses_the_other_family", "tcp_options_on_an_rdma_connection",
	"tcp_options_set_before_connect_are_kept",
	"cancelled_tcp_connect_leaves_nothing",
	"closed_bound_socket_frees_its_port_at_once",
	"fallback_socket_belongs_to_the_caller",
	"poll_while_another_thread_binds_and_closes",
	"san_keepidle_reaches_the_tcp_socket",
	"address_without_rdma_path_goes_over_tcp",
	"other_family_addresses_as_tcp",
};

static int holds_on_iwarp(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(iwarp_cases) / sizeof(iwarp_cases[0]); i++)
		if (strstr(name, iwarp_cases[i]))
			return 1;
	return 0;
}

FIXTURE_SETUP(tcp)
{
	const char *addr = variant->addr ?: getenv("SAN_SELF");
	int i;

	for (i = 0; i < 6; i++)
		self->fds[i] = -1;
	self->family = san_family();
	if (self->family < 0)
		SAN_SETUP_SKIP("af_san is not loaded");
	if (!addr)
		SAN_SETUP_SKIP("SAN_SELF (an address on an RDMA device) is not set: run in tools/testbox");
	if (san_iwarp() && !holds_on_iwarp(_metadata->name))
		SAN_SETUP_SKIP("iWARP: an RDMA attempt is itself a TCP connection (MPA) that a plain TCP peer takes, and a listener takes no plain TCP client (docs/design.md, The TCP path)");
	self->ip = variant->ip;
	self->len = set_addr(&self->self, variant->ip, addr, 0);
	ASSERT_GT(self->len, 0);
	ASSERT_EQ(NULL, san_wait_idle(10));
	self->refused = san_stat("fallback_refused");
	self->no_path = san_stat("fallback_no_path");
	self->timeout = san_stat("fallback_timeout");
	ASSERT_GE(self->refused, 0);
}

FIXTURE_TEARDOWN(tcp)
{
	int i;

	for (i = 0; i < 6; i++)
		if (self->fds[i] >= 0)
			close(self->fds[i]);
	EXPECT_EQ(NULL, san_wait_idle(20));
}

TEST_F(tcp, san_client_reaches_plain_tcp_server)
{
	long bytes = san_scaled(4 << 20);
	int port, lsn, cli, srv;

	lsn = listener(_metadata, self, self->ip, &port);
	cli = san_socket(self, -1);
	ASSERT_GE(cli, 0);
	/* No AF_SAN listener there: RDMA is refused, TCP carries it. */
	ASSERT_EQ(0, connect_to(self, cli, port))
		TH_LOG("connect: %s", strerror(errno));
	srv = keep(self, accept(lsn, NULL, NULL));
	ASSERT_GE(srv, 0);
	EXPECT_EQ(SAN_PROVIDER_TCP, sockopt(cli, SAN_PROVIDER));
	EXPECT_EQ(SAN_FALLBACK_REFUSED, sockopt(cli, SAN_FALLBACK_REASON));
	EXPECT_EQ(self->refused + 1, san_stat("fallback_refused"));
	EXPECT_EQ(1, san_stat("tcp_conns"));
	EXPECT_EQ(bytes, transfer(cli, srv, bytes));
	EXPECT_EQ(bytes, transfer(srv, cli, bytes));
	/* The end of stream both ways, as between two TCP sockets. */
	char c;

	EXPECT_EQ(0, shutdown(cli, SHUT_WR));
	EXPECT_EQ(0, recv(srv, &c, 1, 0));
	EXPECT_EQ(0, close(srv));
	EXPECT_EQ(0, recv(cli, &c, 1, 0));
}

TEST_F(tcp, plain_tcp_client_reaches_san_listener)
{
	long bytes = san_scaled(4 << 20);
	struct sockaddr_storage a, b;
	socklen_t alen = sizeof(a), blen = sizeof(b);
	int port, lsn, cli, srv;
	char c;

	lsn = listener(_metadata, self, self->family, &port);
	cli = keep(self, socket(self->ip, SOCK_STREAM, 0));
	ASSERT_EQ(0, connect_to(self, cli, port))
		TH_LOG("connect: %s", strerror(errno));
	srv = keep(self, accept(lsn, NULL, NULL));
	ASSERT_GE(srv, 0) TH_LOG("accept: %s", strerror(errno));
	EXPECT_EQ(SAN_PROVIDER_TCP, sockopt(srv, SAN_PROVIDER));
	EXPECT_EQ(SAN_FALLBACK_NONE, sockopt(srv, SAN_FALLBACK_REASON));
	/* The AF_SAN side sees the TCP client's address. */
	EXPECT_EQ(0, getsockname(cli, (struct sockaddr *)&a, &alen));
	EXPECT_EQ(0, getpeername(srv, (struct sockaddr *)&b, &blen));
	EXPECT_EQ(addr_port(&a), addr_port(&b));
	EXPECT_EQ(bytes, transfer(cli, srv, bytes));
	EXPECT_EQ(bytes, transfer(srv, cli, bytes));
	EXPECT_EQ(0, shutdown(srv, SHUT_WR));
	EXPECT_EQ(0, recv(cli, &c, 1, 0));
	EXPECT_EQ(0, close(cli));
	self->fds[1] = -1;
	EXPECT_EQ(0, recv(srv, &c, 1, 0));
}

TEST_F(tcp, san_to_san_stays_on_rdma)
{
	int port, lsn, cli, srv;

	lsn = listener(_metadata, self, self->family, &port);
	cli = san_socket(self, -1);
	ASSERT_EQ(0, connect_to(self, cli, port));
	srv = keep(self, accept(lsn, NULL, NULL));
	ASSERT_GE(srv, 0);
	EXPECT_EQ(SAN_PROVIDER_RDMA, sockopt(cli, SAN_PROVIDER));
	EXPECT_EQ(SAN_PROVIDER_RDMA, sockopt(srv, SAN_PROVIDER));
	EXPECT_EQ(SAN_FALLBACK_NONE, sockopt(cli, SAN_FALLBACK_REASON));
	EXPECT_LT(0, san_stat("qps"));
	EXPECT_EQ(san_scaled(1 << 20), transfer(cli, srv, san_scaled(1 << 20)));
	EXPECT_EQ(self->refused, san_stat("fallback_refused"));
}

TEST_F(tcp, rdma_only_policy_is_refused_by_a_plain_tcp_server)
{
	int port, cli;

	listener(_metadata, self, self->ip, &port);
	cli = san_socket(self, SAN_POLICY_RDMA_ONLY);
	ASSERT_GE(cli, 0);
	EXPECT_EQ(SAN_POLICY_RDMA_ONLY, sockopt(cli, SAN_POLICY));
	EXPECT_EQ(-1, connect_to(self, cli, port));
	EXPECT_EQ(ECONNREFUSED, errno);
	EXPECT_EQ(SAN_PROVIDER_NONE, sockopt(cli, SAN_PROVIDER));
	EXPECT_EQ(self->refused, san_stat("fallback_refused"));
}

TEST_F(tcp, tcp_only_policy_to_a_san_listener)
{
	long bytes = san_scaled(1 << 20);
	int port, lsn, cli, srv;

	lsn = listener(_metadata, self, self->family, &port);
	cli = san_socket(self, SAN_POLICY_TCP_ONLY);
	ASSERT_EQ(0, connect_to(self, cli, port));
	srv = keep(self, accept(lsn, NULL, NULL));
	ASSERT_GE(srv, 0);
	EXPECT_EQ(SAN_PROVIDER_TCP, sockopt(cli, SAN_PROVIDER));
	EXPECT_EQ(SAN_FALLBACK_NONE, sockopt(cli, SAN_FALLBACK_REASON));
	EXPECT_EQ(SAN_PROVIDER_TCP, sockopt(srv, SAN_PROVIDER));
	EXPECT_EQ(bytes, transfer(srv, cli, bytes));
}

TEST_F(tcp, policy_values_checked)
{
	int fd = san_socket(self, -1), v = 3;

	ASSERT_GE(fd, 0);
	EXPECT_EQ(SAN_POLICY_PREFER_RDMA, sockopt(fd, SAN_POLICY));
	EXPECT_EQ(-1, setsockopt(fd, SOL_SAN, SAN_POLICY, &v, sizeof(v)));
	EXPECT_EQ(EINVAL, errno);
	v = -1;
	EXPECT_EQ(-1, setsockopt(fd, SOL_SAN, SAN_POLICY, &v, sizeof(v)));
	EXPECT_EQ(EINVAL, errno);
	v = SAN_PROVIDER_TCP;
	EXPECT_EQ(-1, setsockopt(fd, SOL_SAN, SAN_PROVIDER, &v, sizeof(v)));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(SAN_PROVIDER_NONE, sockopt(fd, SAN_PROVIDER));
	EXPECT_EQ(SAN_FALLBACK_NONE, sockopt(fd, SAN_FALLBACK_REASON));
	/* Once bound, the address is held where the policy said. */
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&self->self, self->len));
	v = SAN_POLICY_TCP_ONLY;
	EXPECT_EQ(-1, setsockopt(fd, SOL_SAN, SAN_POLICY, &v, sizeof(v)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(SAN_POLICY_PREFER_RDMA, sockopt(fd, SAN_POLICY));
}

TEST_F(tcp, address_without_rdma_path_goes_over_tcp)
{
	struct sockaddr_storage lo, got;
	socklen_t len = sizeof(got);
	int lsn, cli, srv, port;

	/* No RDMA device serves the loopback address. */
	len = set_addr(&lo, self->ip, self->ip == AF_INET ? "127.0.0.1" : "::1", 0);
	lsn = keep(self, socket(self->ip, SOCK_STREAM, 0));
	ASSERT_EQ(0, bind(lsn, (struct sockaddr *)&lo, len));
	ASSERT_EQ(0, listen(lsn, 4));
	len = sizeof(got);
	ASSERT_EQ(0, getsockname(lsn, (struct sockaddr *)&got, &len));
	port = addr_port(&got);
	cli = san_socket(self, -1);
	ASSERT_EQ(0, bind(cli, (struct sockaddr *)&lo, len))
		TH_LOG("bind: %s", strerror(errno));
	addr_set_port(&lo, port);
	ASSERT_EQ(0, connect(cli, (struct sockaddr *)&lo, len))
		TH_LOG("connect: %s", strerror(errno));
	srv = keep(self, accept(lsn, NULL, NULL));
	ASSERT_GE(srv, 0);
	EXPECT_EQ(SAN_PROVIDER_TCP, sockopt(cli, SAN_PROVIDER));
	EXPECT_EQ(SAN_FALLBACK_NO_PATH, sockopt(cli, SAN_FALLBACK_REASON));
	EXPECT_EQ(san_scaled(1 << 20), transfer(cli, srv, san_scaled(1 << 20)));
	/* Without the fallback: no route, on RoCE as on iWARP. */
	cli = san_socket(self, SAN_POLICY_RDMA_ONLY);
	EXPECT_EQ(-1, connect(cli, (struct sockaddr *)&lo, len));
	EXPECT_EQ(EHOSTUNREACH, errno) TH_LOG("connect: %s", strerror(errno));
}

/*
 * Addresses of the other family, as a dual-stack TCP socket takes them: a
 * socket bound to :: reaches an IPv4 peer (over TCP: RDMA resolves the
 * bound family only), one bound to 0.0.0.0 cannot reach an IPv6 peer,
 * and an IPV6_V6ONLY socket refuses IPv4-mapped addresses.
 */
TEST_F(tcp, other_family_addresses_as_tcp)
{
	struct sockaddr_in6 any6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in6 lo6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in any4 = { .sin_family = AF_INET };
	struct sockaddr_in lo = { .sin_family = AF_INET };
	socklen_t len = sizeof(lo);
	int lsn, cli, srv, one = 1;

	lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lsn = keep(self, socket(AF_INET, SOCK_STREAM, 0));
	ASSERT_EQ(0, bind(lsn, (struct sockaddr *)&lo, sizeof(lo)));
	ASSERT_EQ(0, listen(lsn, 4));
	ASSERT_EQ(0, getsockname(lsn, (struct sockaddr *)&lo, &len));

	/* Bound to ::, an IPv4 peer: over TCP (EINVAL from rdma_cm before). */
	cli = san_socket(self, -1);
	ASSERT_EQ(0, bind(cli, (struct sockaddr *)&any6, sizeof(any6)));
	ASSERT_EQ(0, connect(cli, (struct sockaddr *)&lo, sizeof(lo)))
		TH_LOG("connect: %s", strerror(errno));
	srv = keep(self, accept(lsn, NULL, NULL));
	ASSERT_LE(0, srv);
	EXPECT_EQ(SAN_PROVIDER_TCP, sockopt(cli, SAN_PROVIDER));
	EXPECT_EQ(SAN_FALLBACK_NO_PATH, sockopt(cli, SAN_FALLBACK_REASON));
	EXPECT_EQ(3, send(cli, "abc", 3, 0));
	san_wait_data(srv);

	/* The same, RDMA only: no RDMA path. */
	cli = san_socket(self, SAN_POLICY_RDMA_ONLY);
	ASSERT_EQ(0, bind(cli, (struct sockaddr *)&any6, sizeof(any6)));
	EXPECT_EQ(-1, connect(cli, (struct sockaddr *)&lo, sizeof(lo)));
	EXPECT_EQ(EHOSTUNREACH, errno) TH_LOG("%s", strerror(errno));

	/* Bound to 0.0.0.0, an IPv6 peer: as TCP, EAFNOSUPPORT. */
	cli = san_socket(self, -1);
	ASSERT_EQ(0, bind(cli, (struct sockaddr *)&any4, sizeof(any4)));
	lo6.sin6_addr = in6addr_loopback;
	lo6.sin6_port = lo.sin_port;
	EXPECT_EQ(-1, connect(cli, (struct sockaddr *)&lo6, sizeof(lo6)));
	EXPECT_EQ(EAFNOSUPPORT, errno) TH_LOG("%s", strerror(errno));

	/* IPV6_V6ONLY: no IPv4-mapped address, to bind() or connect(). */
	cli = san_socket(self, -1);
	ASSERT_EQ(0, setsockopt(cli, SOL_IPV6, IPV6_V6ONLY, &one, sizeof(one)));
	lo6.sin6_addr.s6_addr32[2] = htonl(0xffff);
	lo6.sin6_addr.s6_addr32[3] = htonl(INADDR_LOOPBACK);
	lo6.sin6_addr.s6_addr32[0] = lo6.sin6_addr.s6_addr32[1] = 0;
	lo6.sin6_port = 0;
	EXPECT_EQ(-1, bind(cli, (struct sockaddr *)&lo6, sizeof(lo6)));
	EXPECT_EQ(EINVAL, errno) TH_LOG("%s", strerror(errno));
	lo6.sin6_port = lo.sin_port;
	EXPECT_EQ(-1, connect(cli, (struct sockaddr *)&lo6, sizeof(lo6)));
	EXPECT_EQ(ENETUNREACH, errno) TH_LOG("%s", strerror(errno));
}

TEST_F(tcp, bound_client_keeps_its_port_over_tcp)
{
	struct sockaddr_storage got, mine;
	socklen_t len = sizeof(got);
	int port, lsn, cli, srv, bound;

	lsn = listener(_metadata, self, self->ip, &port);
	cli = san_socket(self, -1);
	ASSERT_EQ(0, bind(cli, (struct sockaddr *)&self->self, self->len));
	ASSERT_EQ(0, getsockname(cli, (struct sockaddr *)&mine, &len));
	bound = addr_port(&mine);
	ASSERT_NE(0, bound);
	/* The port is held on TCP too: a TCP socket cannot take it. */
	int t = keep(self, socket(self->ip, SOCK_STREAM, 0));

	EXPECT_EQ(-1, bind(t, (struct sockaddr *)&mine, self->len));
	EXPECT_EQ(EADDRINUSE, errno);
	ASSERT_EQ(0, connect_to(self, cli, port));
	srv = keep(self, accept(lsn, (struct sockaddr *)&got, &len));
	ASSERT_GE(srv, 0);
	EXPECT_EQ(bound, addr_port(&got));
	EXPECT_EQ(SAN_PROVIDER_TCP, sockopt(cli, SAN_PROVIDER));
}

TEST_F(tcp, closed_listener_frees_its_tcp_port)
{
	int port, lsn, t;

	lsn = listener(_metadata, self, self->family, &port);
	t = keep(self, socket(self->ip, SOCK_STREAM, 0));
	struct sockaddr_storage a = self->self;

	addr_set_port(&a, port);
	EXPECT_EQ(-1, bind(t, (struct sockaddr *)&a, self->len));
	EXPECT_EQ(EADDRINUSE, errno);
	EXPECT_EQ(0, close(lsn));
	self->fds[0] = -1;
	EXPECT_EQ(0, bind(t, (struct sockaddr *)&a, self->len))
		TH_LOG("bind: %s", strerror(errno));
}

TEST_F(tcp, nonblocking_connect_falls_back)
{
	struct pollfd p;
	socklen_t len = sizeof(int);
	int port, lsn, cli, srv, err = -1;
	long t0;

	lsn = listener(_metadata, self, self->ip, &port);
	cli = san_socket(self, -1);
	ASSERT_EQ(0, fcntl(cli, F_SETFL, O_NONBLOCK));
	EXPECT_EQ(-1, connect_to(self, cli, port));
	EXPECT_EQ(EINPROGRESS, errno);
	p.fd = cli;
	p.events = POLLOUT;
	t0 = now_ms();
	EXPECT_EQ(1, poll(&p, 1, 20000));
	EXPECT_TRUE(p.revents & POLLOUT);
	EXPECT_FALSE(p.revents & (POLLERR | POLLHUP));
	EXPECT_GT(bound_ms(5000), now_ms() - t0);
	EXPECT_EQ(0, getsockopt(cli, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_EQ(0, err);
	srv = keep(self, accept(lsn, NULL, NULL));
	ASSERT_GE(srv, 0);
	EXPECT_EQ(SAN_PROVIDER_TCP, sockopt(cli, SAN_PROVIDER));
	EXPECT_EQ(3, send(cli, "abc", 3, 0));
	char buf[4] = { 0 };

	EXPECT_EQ(3, recv(srv, buf, 3, MSG_WAITALL));
	EXPECT_STREQ("abc", buf);
}

/* An AF_SAN client on TCP and the plain TCP server's accepted socket. */
static void tcp_pair(struct __test_metadata *_metadata,
		     FIXTURE_DATA(tcp) *self, int *cli, int *srv)
{
	int port, lsn;

	lsn = listener(_metadata, self, self->ip, &port);
	*cli = san_socket(self, -1);
	ASSERT_EQ(0, connect_to(self, *cli, port));
	*srv = keep(self, accept(lsn, NULL, NULL));
	ASSERT_GE(*srv, 0);
	ASSERT_EQ(SAN_PROVIDER_TCP, sockopt(*cli, SAN_PROVIDER));
}

TEST_F(tcp, cancelled_recv_aborts_and_the_peer_sees_a_reset)
{
	struct kicker k;
	int cli, srv;
	char c;

	tcp_pair(_metadata, self, &cli, &srv);
	catch_signal(SIGUSR1, SA_RESTART);
	kick_me(&k, SYS_recvfrom, SYS_read, SIGUSR1, 0);
	EXPECT_EQ(-1, recv(cli, &c, 1, 0));
	EXPECT_EQ(EINTR, errno);
	pthread_join(k.thread, NULL);
	EXPECT_EQ(1, caught);
	EXPECT_GT(bound_ms(1000), now_ms() - k.sent_ms);
	/* Only close() works now. */
	EXPECT_EQ(-1, recv(cli, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(ECONNABORTED, errno);
	/* send: the error once, then EPIPE, as TCP after an error. */
	EXPECT_EQ(-1, send(cli, "x", 1, MSG_NOSIGNAL));
	EXPECT_TRUE(errno == ECONNABORTED || errno == EPIPE);
	EXPECT_EQ(-1, send(cli, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(-1, recv(srv, &c, 1, 0));
	EXPECT_EQ(ECONNRESET, errno);
}

TEST_F(tcp, cancelled_send_aborts_and_the_peer_sees_a_reset)
{
	static char buf[1 << 20];
	struct kicker k;
	int cli, srv, small = 4096;
	ssize_t n;
	char c;

	tcp_pair(_metadata, self, &cli, &srv);
	setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	catch_signal(SIGUSR1, SA_RESTART);
	kick_me(&k, SYS_sendto, SYS_write, SIGUSR1, 0);
	/* Nobody reads: the send fills every buffer and sleeps. */
	do {
		n = send(cli, buf, sizeof(buf), MSG_NOSIGNAL);
	} while (n > 0);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EINTR, errno);
	pthread_join(k.thread, NULL);
	EXPECT_EQ(1, caught);
	EXPECT_EQ(-1, send(cli, "x", 1, MSG_NOSIGNAL));
	EXPECT_TRUE(errno == ECONNABORTED || errno == EPIPE);
	EXPECT_EQ(-1, recv(cli, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(ECONNABORTED, errno);
	/* The peer reads what arrived, then the reset. */
	while ((n = recv(srv, buf, sizeof(buf), 0)) > 0)
		;
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ECONNRESET, errno);
}

TEST_F(tcp, preserve_policy_keeps_the_connection)
{
	int cli, srv, v = SAN_CANCEL_PRESERVE;
	struct kicker k;
	char c = 0;

	tcp_pair(_metadata, self, &cli, &srv);
	ASSERT_EQ(0, setsockopt(cli, SOL_SAN, SAN_CANCEL_POLICY, &v, sizeof(v)));
	catch_signal(SIGUSR1, 0);
	kick_me(&k, SYS_recvfrom, SYS_read, SIGUSR1, 0);
	EXPECT_EQ(-1, recv(cli, &c, 1, 0));
	EXPECT_EQ(EINTR, errno);
	pthread_join(k.thread, NULL);
	EXPECT_EQ(1, send(srv, "z", 1, 0));
	EXPECT_EQ(1, recv(cli, &c, 1, 0));
	EXPECT_EQ('z', c);
}

#ifndef IPPROTO_SAN
#define IPPROTO_SAN 261
#endif

TEST_F(tcp, ipproto_san_speaks_inet_addresses)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int lsn, cli, srv, port, dom = -1;
	socklen_t vlen = sizeof(dom);

	lsn = keep(self, socket(self->ip, SOCK_STREAM, IPPROTO_SAN));
	ASSERT_GE(lsn, 0) TH_LOG("socket: %s", strerror(errno));
	EXPECT_EQ(0, getsockopt(lsn, SOL_SOCKET, SO_DOMAIN, &dom, &vlen));
	EXPECT_EQ(self->ip, dom);
	/* A TCP program's expectation: a signal does not end it. */
	EXPECT_EQ(SAN_CANCEL_PRESERVE, sockopt(lsn, SAN_CANCEL_POLICY));
	EXPECT_EQ(0, getsockname(lsn, (struct sockaddr *)&a, &len));
	EXPECT_EQ(self->ip, a.ss_family);
	ASSERT_EQ(0, bind(lsn, (struct sockaddr *)&self->self, self->len))
		TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, listen(lsn, 4));
	len = sizeof(a);
	ASSERT_EQ(0, getsockname(lsn, (struct sockaddr *)&a, &len));
	EXPECT_EQ(self->ip, a.ss_family);
	port = addr_port(&a);
	cli = keep(self, socket(self->ip, SOCK_STREAM, IPPROTO_SAN));
	ASSERT_EQ(0, connect_to(self, cli, port))
		TH_LOG("connect: %s", strerror(errno));
	len = sizeof(a);
	srv = keep(self, accept(lsn, (struct sockaddr *)&a, &len));
	ASSERT_GE(srv, 0);
	EXPECT_EQ(self->ip, a.ss_family);
	/* The accepted socket is IPPROTO_SAN of the same family too. */
	dom = -1;
	vlen = sizeof(dom);
	EXPECT_EQ(0, getsockopt(srv, SOL_SOCKET, SO_DOMAIN, &dom, &vlen));
	EXPECT_EQ(self->ip, dom);
	dom = -1;
	EXPECT_EQ(0, getsockopt(srv, SOL_SOCKET, SO_PROTOCOL, &dom, &vlen));
	EXPECT_EQ(IPPROTO_SAN, dom);
	EXPECT_EQ(SAN_CANCEL_PRESERVE, sockopt(srv, SAN_CANCEL_POLICY));
	len = sizeof(a);
	EXPECT_EQ(0, getpeername(cli, (struct sockaddr *)&a, &len));
	EXPECT_EQ(self->ip, a.ss_family);
	EXPECT_EQ(port, addr_port(&a));
	EXPECT_EQ(SAN_PROVIDER_RDMA, sockopt(cli, SAN_PROVIDER));
	EXPECT_EQ(san_scaled(1 << 20), transfer(cli, srv, san_scaled(1 << 20)));
}

TEST_F(tcp, ipproto_san_refuses_the_other_family)
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6 };
	struct sockaddr_in in = { .sin_family = AF_INET };
	int fd = keep(self, socket(self->ip, SOCK_STREAM, IPPROTO_SAN));

	ASSERT_GE(fd, 0);
	if (self->ip == AF_INET) {
		EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&in6, sizeof(in6)));
	} else {
		EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&in, sizeof(in)));
	}
	EXPECT_EQ(EAFNOSUPPORT, errno);
	/* Protocol 0 is still TCP. */
	int t = keep(self, socket(self->ip, SOCK_STREAM, 0)), proto = -1;
	socklen_t len = sizeof(proto);

	EXPECT_EQ(0, getsockopt(t, SOL_SOCKET, SO_PROTOCOL, &proto, &len));
	EXPECT_EQ(IPPROTO_TCP, proto);
}

static int tcpopt(int fd, int name)
{
	socklen_t len = sizeof(int);
	int val = -1;

	if (getsockopt(fd, SOL_TCP, name, &val, &len))
		return -errno - 1000;
	return val;
}

static int set_tcpopt(int fd, int name, int val)
{
	return setsockopt(fd, SOL_TCP, name, &val, sizeof(val)) ? errno : 0;
}

/* TCP's options on @fd: TCP's ranges and errors, and TCP_INFO's state. */
static void check_tcp_options(struct __test_metadata *_metadata, int fd,
			      const char *cong)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	char name[16] = "";

	EXPECT_EQ(0, set_tcpopt(fd, TCP_NODELAY, 1));
	EXPECT_EQ(1, tcpopt(fd, TCP_NODELAY));
	EXPECT_EQ(0, set_tcpopt(fd, TCP_KEEPIDLE, 60));
	EXPECT_EQ(60, tcpopt(fd, TCP_KEEPIDLE));
	EXPECT_EQ(EINVAL, set_tcpopt(fd, TCP_KEEPIDLE, 0));
	EXPECT_EQ(EINVAL, set_tcpopt(fd, TCP_KEEPIDLE, 32768));
	EXPECT_EQ(0, set_tcpopt(fd, TCP_KEEPINTVL, 5));
	EXPECT_EQ(5, tcpopt(fd, TCP_KEEPINTVL));
	EXPECT_EQ(EINVAL, set_tcpopt(fd, TCP_KEEPINTVL, 0));
	EXPECT_EQ(0, set_tcpopt(fd, TCP_KEEPCNT, 3));
	EXPECT_EQ(3, tcpopt(fd, TCP_KEEPCNT));
	EXPECT_EQ(EINVAL, set_tcpopt(fd, TCP_KEEPCNT, 128));
	EXPECT_EQ(0, set_tcpopt(fd, TCP_USER_TIMEOUT, 30000));
	EXPECT_EQ(30000, tcpopt(fd, TCP_USER_TIMEOUT));
	EXPECT_EQ(EINVAL, set_tcpopt(fd, TCP_USER_TIMEOUT, -1));
	/* Unknown here, as an unknown option is to TCP. */
	EXPECT_EQ(ENOPROTOOPT, set_tcpopt(fd, 9999, 1));
	EXPECT_EQ(-ENOPROTOOPT - 1000, tcpopt(fd, 9999));
	EXPECT_EQ(EPERM, set_tcpopt(fd, TCP_CONGESTION, 0));
	memset(&ti, 0xff, sizeof(ti));
	ASSERT_EQ(0, getsockopt(fd, SOL_TCP, TCP_INFO, &ti, &len));
	EXPECT_EQ(TCP_ESTABLISHED, ti.tcpi_state);
	EXPECT_LT(0, ti.tcpi_snd_mss);
	len = sizeof(name);
	ASSERT_EQ(0, getsockopt(fd, SOL_TCP, TCP_CONGESTION, name, &len));
	if (cong) {
		EXPECT_STREQ(cong, name);
	} else {
		EXPECT_STRNE("rdma", name);
	}
}

/*
 * TCP_CORK holds a short write until it is cleared (TCP lets it go after
 * 200 ms at most: the test looks for 100 ms).
 */
static void check_cork(struct __test_metadata *_metadata, int fd, int peer)
{
	struct pollfd p = { .fd = peer, .events = POLLIN };
	char buf[8];

	EXPECT_EQ(0, set_tcpopt(fd, TCP_NODELAY, 0));
	EXPECT_EQ(0, set_tcpopt(fd, TCP_CORK, 1));
	EXPECT_EQ(1, tcpopt(fd, TCP_CORK));
	EXPECT_EQ(5, send(fd, "corks", 5, 0));
	EXPECT_EQ(0, poll(&p, 1, 100));
	EXPECT_EQ(0, set_tcpopt(fd, TCP_CORK, 0));
	EXPECT_EQ(1, poll(&p, 1, 10000));
	EXPECT_EQ(5, recv(peer, buf, sizeof(buf), 0));
}

TEST_F(tcp, tcp_options_on_an_rdma_connection)
{
	int port, lsn, cli, srv;

	lsn = listener(_metadata, self, self->family, &port);
	cli = san_socket(self, -1);
	ASSERT_EQ(0, connect_to(self, cli, port));
	srv = keep(self, accept(lsn, NULL, NULL));
	ASSERT_GE(srv, 0);
	ASSERT_EQ(SAN_PROVIDER_RDMA, sockopt(cli, SAN_PROVIDER));
	check_tcp_options(_metadata, cli, "rdma");
	check_cork(_metadata, cli, srv);
}

TEST_F(tcp, tcp_options_on_a_tcp_connection)
{
	int cli, srv;

	tcp_pair(_metadata, self, &cli, &srv);
	check_tcp_options(_metadata, cli, NULL);
	check_cork(_metadata, cli, srv);
}

TEST_F(tcp, tcp_options_set_before_connect_are_kept)
{
	int cli = san_socket(self, -1);

	ASSERT_GE(cli, 0);
	EXPECT_EQ(0, set_tcpopt(cli, TCP_NODELAY, 1));
	EXPECT_EQ(0, set_tcpopt(cli, TCP_KEEPCNT, 4));
	EXPECT_EQ(1, tcpopt(cli, TCP_NODELAY));
	EXPECT_EQ(4, tcpopt(cli, TCP_KEEPCNT));
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	EXPECT_EQ(0, getsockopt(cli, SOL_TCP, TCP_INFO, &ti, &len));
	EXPECT_EQ(TCP_CLOSE, ti.tcpi_state);
}

TEST_F(tcp, cancelled_tcp_connect_leaves_nothing)
{
	struct sockaddr_storage far;
	struct kicker k;
	int fd, len;
	long t0;

	/* TCP only, to an address nobody answers: the SYN goes nowhere. */
	fd = san_socket(self, SAN_POLICY_TCP_ONLY);
	ASSERT_GE(fd, 0);
	len = set_addr(&far, self->ip, self->ip == AF_INET ? "10.0.2.99" : "fd00::99", 9);
	catch_signal(SIGUSR1, SA_RESTART);
	kick_me(&k, SYS_connect, SYS_connect, SIGUSR1, 0);
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&far, len));
	EXPECT_EQ(EINTR, errno);
	pthread_join(k.thread, NULL);
	EXPECT_EQ(1, caught);
	EXPECT_GT(bound_ms(1000), now_ms() - k.sent_ms);
	/* The attempt's kernel socket is gone promptly. */
	t0 = now_ms();
	while (san_stat("tcp_conns") && now_ms() - t0 < bound_ms(2000))
		usleep(10000);
	EXPECT_EQ(0, san_stat("tcp_conns"));
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&far, len));
	EXPECT_EQ(ECONNABORTED, errno);
}

TEST_F(tcp, cancelled_accept_keeps_the_listener_for_tcp_clients)
{
	struct kicker k;
	int port, lsn, cli, srv;

	lsn = listener(_metadata, self, self->family, &port);
	catch_signal(SIGUSR1, 0);
	kick_me(&k, SYS_accept, SYS_accept4, SIGUSR1, 0);
	EXPECT_EQ(-1, accept(lsn, NULL, NULL));
	EXPECT_EQ(EINTR, errno);
	pthread_join(k.thread, NULL);
	/* Still listening, for a plain TCP client too. */
	cli = keep(self, socket(self->ip, SOCK_STREAM, 0));
	ASSERT_EQ(0, connect_to(self, cli, port));
	srv = keep(self, accept(lsn, NULL, NULL));
	ASSERT_GE(srv, 0);
	EXPECT_EQ(2, send(cli, "ok", 2, 0));
	char buf[2];

	EXPECT_EQ(2, recv(srv, buf, 2, MSG_WAITALL));
}

TEST_F(tcp, cancelled_lingering_close_resets_the_tcp_peer)
{
	static char buf[1 << 16];
	struct linger lg = { .l_onoff = 1, .l_linger = 60 };
	int cli, srv, small = 4096, i;
	struct kicker k;
	ssize_t n;
	long t0;

	tcp_pair(_metadata, self, &cli, &srv);
	setsockopt(srv, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	/* Fill everything: the peer reads nothing. */
	for (i = 0; i < 1000; i++)
		if (send(cli, buf, sizeof(buf), MSG_DONTWAIT) < 0)
			break;
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, setsockopt(cli, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	catch_signal(SIGUSR1, SA_RESTART);
	kick_me(&k, SYS_close, SYS_close, SIGUSR1, 0);
	t0 = now_ms();
	EXPECT_EQ(0, close(cli));
	self->fds[1] = -1;
	pthread_join(k.thread, NULL);
	EXPECT_EQ(1, caught);
	EXPECT_GT(bound_ms(1000), now_ms() - k.sent_ms);
	EXPECT_GT(bound_ms(20000), now_ms() - t0);
	/* The peer gets what arrived, then the reset. */
	while ((n = recv(srv, buf, sizeof(buf), 0)) > 0)
		;
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ECONNRESET, errno);
}

TEST_F(tcp, lingering_close_ends_when_the_fin_is_acked)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 30 };
	long bytes = san_scaled(1 << 20), t0;
	int cli, srv;
	char c;

	tcp_pair(_metadata, self, &cli, &srv);
	EXPECT_EQ(bytes, transfer(cli, srv, bytes));
	ASSERT_EQ(0, setsockopt(cli, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	/* Everything was read: close() waits for the FIN's ACK only. */
	t0 = now_ms();
	EXPECT_EQ(0, close(cli));
	self->fds[1] = -1;
	EXPECT_GT(bound_ms(3000), now_ms() - t0);
	EXPECT_EQ(0, recv(srv, &c, 1, 0));
}

TEST_F(tcp, closed_bound_socket_frees_its_port_at_once)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int policy, fd, t;

	for (policy = SAN_POLICY_PREFER_RDMA; policy <= SAN_POLICY_TCP_ONLY;
	     policy++) {
		fd = socket(self->family, SOCK_STREAM, 0);
		ASSERT_GE(fd, 0);
		ASSERT_EQ(0, setsockopt(fd, SOL_SAN, SAN_POLICY, &policy,
					sizeof(policy)));
		ASSERT_EQ(0, bind(fd, (struct sockaddr *)&self->self, self->len));
		len = sizeof(a);
		ASSERT_EQ(0, getsockname(fd, (struct sockaddr *)&a, &len));
		EXPECT_EQ(0, close(fd));
		/* As TCP's: free when close() returns, on both providers. */
		t = socket(self->ip, SOCK_STREAM, 0);
		EXPECT_EQ(0, bind(t, (struct sockaddr *)&a, self->len))
			TH_LOG("policy %d: %s", policy, strerror(errno));
		close(t);
		fd = socket(self->family, SOCK_STREAM, 0);
		EXPECT_EQ(0, bind(fd, (struct sockaddr *)&a, self->len))
			TH_LOG("policy %d again: %s", policy, strerror(errno));
		close(fd);
	}
}

/* The uid /proc/net/tcp{,6} shows for the socket bound to @port. */
static long tcp_uid_of_port(int ip, int port)
{
	char line[512], path[32];
	unsigned int lport;
	long uid = -1, u;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/net/tcp%s", ip == AF_INET6 ? "6" : "");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		/* "sl: local_address:port rem:port st queues tr retrnsmt uid" */
		if (!colon || !(colon = strchr(colon + 1, ':')))
			continue;
		if (sscanf(colon + 1, "%x %*s %*s %*s %*s %*s %ld", &lport,
			   &u) == 2 && (int)lport == port)
			uid = u;
	}
	fclose(f);
	return uid;
}

TEST_F(tcp, fallback_socket_belongs_to_the_caller)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int port, lsn, status = -1;
	pid_t pid;

	lsn = listener(_metadata, self, self->ip, &port);
	ASSERT_GE(lsn, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int fd;

		/* An unprivileged caller; its fallback's TCP socket is its. */
		if (setgid(65534) || setuid(65534))
			_exit(2);
		fd = socket(self->family, SOCK_STREAM, 0);
		if (fd < 0 || connect_to(self, fd, port))
			_exit(3);
		if (sockopt(fd, SAN_PROVIDER) != SAN_PROVIDER_TCP)
			_exit(4);
		if (getsockname(fd, (struct sockaddr *)&a, &len))
			_exit(5);
		_exit(tcp_uid_of_port(self->ip, addr_port(&a)) == 65534 ? 0 : 6);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

struct churn {
	volatile int stop;
	volatile int fd;
	int family;
	struct sockaddr_storage *self;
	socklen_t len;
};

static void *churn_main(void *arg)
{
	struct churn *c = arg;

	while (!c->stop) {
		int fd = socket(c->family, SOCK_STREAM, 0);

		c->fd = fd;
		bind(fd, (struct sockaddr *)c->self, c->len);
		listen(fd, 1);
		c->fd = -1;
		close(fd);
	}
	return NULL;
}

TEST_F(tcp, poll_while_another_thread_binds_and_closes)
{
	struct churn c = { .fd = -1, .family = self->family,
			   .self = &self->self, .len = self->len };
	long t0 = now_ms(), polls = 0;
	pthread_t th;

	pthread_create(&th, NULL, churn_main, &c);
	while (now_ms() - t0 < 2000) {
		struct pollfd p = { .fd = c.fd, .events = POLLIN | POLLOUT };

		if (p.fd >= 0) {
			poll(&p, 1, 0);
			polls++;
		}
	}
	c.stop = 1;
	pthread_join(th, NULL);
	TH_LOG("%ld polls", polls);
	EXPECT_LT(0, polls);
}

/* The timer /proc/net/tcp{,6} shows for the socket bound to @port. */
static int tcp_timer_of_port(int ip, int port, unsigned int *tr,
			     unsigned long *when)
{
	char line[512], path[32];
	unsigned int lport, st;
	int found = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/net/tcp%s", ip == AF_INET6 ? "6" : "");
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		/* "sl: local:port rem:port st tx:rx tr:when ..." */
		if (!colon || !(colon = strchr(colon + 1, ':')))
			continue;
		/* The established one (01): TIME_WAIT ones may share it. */
		if (sscanf(colon + 1, "%x %*s %x %*s %x:%lx", &lport, &st, tr,
			   when) == 4 && (int)lport == port && st == 1) {
			found = 1;
			break;
		}
	}
	fclose(f);
	return found;
}

TEST_F(tcp, san_keepidle_reaches_the_tcp_socket)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	unsigned long when = 0;
	unsigned int tr = 0;
	int cli, srv, one = 1, idle = 2;

	tcp_pair(_metadata, self, &cli, &srv);
	/* As san_ka_peer: SO_KEEPALIVE first, then the idle time. */
	ASSERT_EQ(0, setsockopt(cli, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)));
	ASSERT_EQ(0, setsockopt(cli, SOL_SAN, SAN_KEEPIDLE, &idle, sizeof(idle)));
	ASSERT_EQ(0, getsockname(cli, (struct sockaddr *)&a, &len));
	ASSERT_TRUE(tcp_timer_of_port(self->ip, addr_port(&a), &tr, &when));
	/* The keepalive timer (2), due within the 2 s idle time. */
	EXPECT_EQ(2, tr);
	EXPECT_GE(200, when) TH_LOG("keepalive due in %lu ticks", when);
	EXPECT_EQ(2, tcpopt(cli, TCP_KEEPIDLE));
}

TEST_HARNESS_MAIN
