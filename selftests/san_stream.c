// SPDX-License-Identifier: GPL-2.0
/*
 * AF_SAN stream sockets over the RDMA provider (docs/semantics.md, "The
 * socket" and "Data transfer"): connections, the copy data path and the
 * socket API around it, over IPv4 and IPv6 on the test box's rxe0.  Every
 * test ends with the module's connections, QPs, CQs, PDs and buffers back
 * at zero.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/sockios.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "san_util.h"
#include "san_kick.h"

FIXTURE(stream)
{
	int family;
	struct sockaddr_storage self;	/* the guest's rxe0 address, port 0 */
	socklen_t self_len;
	int lsn, cli, srv;
};

FIXTURE_VARIANT(stream)
{
	int ip;
	const char *addr;
};

FIXTURE_VARIANT_ADD(stream, ipv4)
{
	.ip = AF_INET,
	.addr = NULL,	/* SAN_SELF */
};

FIXTURE_VARIANT_ADD(stream, ipv6)
{
	.ip = AF_INET6,
	.addr = "fd00::15",
};

/* A listener on the test address; returns its port. */
static int listen_on(struct __test_metadata *_metadata,
		     FIXTURE_DATA(stream) *self, int backlog)
{
	struct sockaddr_storage got;
	socklen_t len = sizeof(got);

	self->lsn = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(self->lsn, 0);
	ASSERT_EQ(0, bind(self->lsn, (struct sockaddr *)&self->self,
			  self->self_len)) TH_LOG("bind: %s", strerror(errno));
	ASSERT_EQ(0, listen(self->lsn, backlog));
	ASSERT_EQ(0, getsockname(self->lsn, (struct sockaddr *)&got, &len));
	ASSERT_NE(0, addr_port(&got));
	return addr_port(&got);
}

/* self->cli connected to self->srv through a listener. */
static void make_pair(struct __test_metadata *_metadata,
		      FIXTURE_DATA(stream) *self)
{
	struct sockaddr_storage dst = self->self;
	int port = listen_on(_metadata, self, 16);

	addr_set_port(&dst, port);
	self->cli = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(self->cli, 0);
	ASSERT_EQ(0, connect(self->cli, (struct sockaddr *)&dst,
			     self->self_len))
		TH_LOG("connect: %s", strerror(errno));
	self->srv = accept(self->lsn, NULL, NULL);
	ASSERT_GE(self->srv, 0) TH_LOG("accept: %s", strerror(errno));
}

FIXTURE_SETUP(stream)
{
	const char *addr = variant->addr ?: getenv("SAN_SELF");

	self->lsn = self->cli = self->srv = -1;
	self->family = san_family();
	if (self->family < 0)
		SAN_SETUP_SKIP("af_san is not loaded");
	if (!addr)
		SAN_SETUP_SKIP("SAN_SELF (an address on an RDMA device) is not set: run in tools/testbox");
	self->self_len = set_addr(&self->self, variant->ip, addr, 0);
	ASSERT_GT(self->self_len, 0);
	ASSERT_EQ(NULL, san_wait_idle(10));
}

FIXTURE_TEARDOWN(stream)
{
	if (self->cli >= 0)
		close(self->cli);
	if (self->srv >= 0)
		close(self->srv);
	if (self->lsn >= 0)
		close(self->lsn);
	if (self->family >= 0)
		EXPECT_EQ(NULL, san_wait_idle(20));
}

static unsigned int fill(char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		buf[i] = seed >> 16;
	}
	return seed;
}

/* Send all of @buf from a child process; returns its pid. */
static pid_t send_in_child(int fd, const char *buf, size_t len)
{
	pid_t pid = fork();

	if (pid == 0) {
		size_t off = 0;

		while (off < len) {
			ssize_t n = send(fd, buf + off, len - off, 0);

			if (n <= 0)
				_exit(1);
			off += n;
		}
		_exit(0);
	}
	return pid;
}

static ssize_t recv_all(int fd, char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = recv(fd, buf + off, len - off, 0);

		if (n < 0)
			return -1;
		if (n == 0)
			break;
		off += n;
	}
	return off;
}

static int child_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST_F(stream, transfer_both_ways_and_names)
{
	size_t len = san_scaled(4 << 20);
	char *out = malloc(len), *in = malloc(len);
	struct sockaddr_storage a, b;
	socklen_t al = sizeof(a), bl = sizeof(b);
	pid_t pid;

	ASSERT_TRUE(out && in);
	make_pair(_metadata, self);

	/* The names match across the connection. */
	ASSERT_EQ(0, getsockname(self->cli, (struct sockaddr *)&a, &al));
	ASSERT_EQ(0, getpeername(self->srv, (struct sockaddr *)&b, &bl));
	EXPECT_EQ(variant->ip, a.ss_family);
	EXPECT_EQ(al, bl);
	EXPECT_EQ(0, memcmp(&a, &b, al));
	al = sizeof(a);
	bl = sizeof(b);
	ASSERT_EQ(0, getpeername(self->cli, (struct sockaddr *)&a, &al));
	ASSERT_EQ(0, getsockname(self->srv, (struct sockaddr *)&b, &bl));
	EXPECT_EQ(0, memcmp(&a, &b, al));

	fill(out, len, 1);
	pid = send_in_child(self->cli, out, len);
	ASSERT_EQ((ssize_t)len, recv_all(self->srv, in, len));
	EXPECT_EQ(0, child_status(pid));
	EXPECT_EQ(0, memcmp(out, in, len));

	fill(out, len, 2);
	pid = send_in_child(self->srv, out, len);
	ASSERT_EQ((ssize_t)len, recv_all(self->cli, in, len));
	EXPECT_EQ(0, child_status(pid));
	EXPECT_EQ(0, memcmp(out, in, len));
	free(out);
	free(in);
}

TEST_F(stream, connection_refused)
{
	struct sockaddr_storage dst = self->self;
	int fd = socket(self->family, SOCK_STREAM, 0);

	ASSERT_GE(fd, 0);
	addr_set_port(&dst, 9);
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&dst, self->self_len));
	EXPECT_EQ(ECONNREFUSED, errno);
	/* Another attempt on the same socket is allowed, as with TCP. */
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&dst, self->self_len));
	EXPECT_EQ(ECONNREFUSED, errno);
	close(fd);
}

TEST_F(stream, unreachable_address)
{
	struct sockaddr_storage dst;
	int fd = socket(self->family, SOCK_STREAM, 0);

	ASSERT_GE(fd, 0);
	/* On the guest's subnet, with no host behind it. */
	ASSERT_GT(set_addr(&dst, variant->ip, variant->ip == AF_INET ?
			   "10.0.2.99" : "fd00::99", 7), 0);
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&dst, self->self_len));
	EXPECT_TRUE(errno == EHOSTUNREACH || errno == ETIMEDOUT)
		TH_LOG("errno %d (%s)", errno, strerror(errno));
	close(fd);
}

TEST_F(stream, nonblocking_connect)
{
	struct sockaddr_storage dst = self->self;
	struct pollfd pfd;
	int err, reported;
	socklen_t len = sizeof(err);

	addr_set_port(&dst, listen_on(_metadata, self, 4));
	self->cli = socket(self->family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_GE(self->cli, 0);
	EXPECT_EQ(-1, connect(self->cli, (struct sockaddr *)&dst,
			      self->self_len));
	EXPECT_EQ(EINPROGRESS, errno);
	/*
	 * Still in progress: EALREADY; or, on a fast run, already done: then
	 * this call is the one that reports completion (0).
	 */
	reported = !connect(self->cli, (struct sockaddr *)&dst, self->self_len);
	if (!reported)
		EXPECT_EQ(EALREADY, errno);
	pfd.fd = self->cli;
	pfd.events = POLLOUT;
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	EXPECT_EQ(POLLOUT, pfd.revents & (POLLOUT | POLLERR | POLLHUP));
	ASSERT_EQ(0, getsockopt(self->cli, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_EQ(0, err);
	/* As TCP: the first connect() after completion reports it... */
	if (!reported)
		EXPECT_EQ(0, connect(self->cli, (struct sockaddr *)&dst,
				     self->self_len));
	/* ...and any later one says EISCONN. */
	EXPECT_EQ(-1, connect(self->cli, (struct sockaddr *)&dst,
			      self->self_len));
	EXPECT_EQ(EISCONN, errno);
	self->srv = accept(self->lsn, NULL, NULL);
	EXPECT_GE(self->srv, 0);
}

TEST_F(stream, nonblocking_connect_refused_reports_so_error)
{
	struct sockaddr_storage dst = self->self;
	struct pollfd pfd;
	int err;
	socklen_t len = sizeof(err);

	addr_set_port(&dst, 9);
	self->cli = socket(self->family, SOCK_STREAM | SOCK_NONBLOCK, 0);
	ASSERT_GE(self->cli, 0);
	EXPECT_EQ(-1, connect(self->cli, (struct sockaddr *)&dst,
			      self->self_len));
	EXPECT_EQ(EINPROGRESS, errno);
	pfd.fd = self->cli;
	pfd.events = POLLOUT;
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	EXPECT_TRUE(pfd.revents & POLLERR);
	EXPECT_TRUE(pfd.revents & POLLHUP);
	ASSERT_EQ(0, getsockopt(self->cli, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_EQ(ECONNREFUSED, err);
	/* SO_ERROR is read once. */
	ASSERT_EQ(0, getsockopt(self->cli, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_EQ(0, err);
}

TEST_F(stream, bind_rules)
{
	struct sockaddr_storage got;
	socklen_t len = sizeof(got);
	int port, fd, one = 1;

	port = listen_on(_metadata, self, 4);
	/* The same port again: EADDRINUSE. */
	fd = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	addr_set_port(&got, 0);
	memcpy(&got, &self->self, sizeof(got));
	addr_set_port(&got, port);
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&got, self->self_len));
	EXPECT_EQ(EADDRINUSE, errno);
	close(fd);

	/* Bound twice: EINVAL, as TCP. */
	fd = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&self->self, self->self_len));
	len = sizeof(got);
	ASSERT_EQ(0, getsockname(fd, (struct sockaddr *)&got, &len));
	EXPECT_NE(0, addr_port(&got));
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&self->self,
			   self->self_len));
	EXPECT_EQ(EINVAL, errno);
	close(fd);

	/* SO_REUSEADDR on a closed listener's port. */
	close(self->lsn);
	self->lsn = -1;
	ASSERT_EQ(NULL, san_wait_idle(10));
	fd = socket(self->family, SOCK_STREAM, 0);
	ASSERT_EQ(0, setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
				sizeof(one)));
	memcpy(&got, &self->self, sizeof(got));
	addr_set_port(&got, port);
	EXPECT_EQ(0, bind(fd, (struct sockaddr *)&got, self->self_len))
		TH_LOG("rebind: %s", strerror(errno));
	EXPECT_EQ(0, listen(fd, 1));
	close(fd);
}

TEST_F(stream, bad_addresses)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct sockaddr_storage un = { .ss_family = AF_UNIX };
	int fd = socket(self->family, SOCK_STREAM, 0);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&in, sizeof(in) - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&in, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bind(fd, (struct sockaddr *)&un, sizeof(un)));
	EXPECT_EQ(EAFNOSUPPORT, errno);
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&un, sizeof(un)));
	EXPECT_EQ(EAFNOSUPPORT, errno);
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&in, 4));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, bind(fd, NULL, sizeof(in)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)8, sizeof(in)));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

TEST_F(stream, unconnected_calls)
{
	char c;
	int fd = socket(self->family, SOCK_STREAM, 0);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(-1, recv(fd, &c, 1, 0));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-1, send(fd, &c, 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(-1, getpeername(fd, (struct sockaddr *)&ss, &len));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-1, shutdown(fd, SHUT_WR));
	EXPECT_EQ(ENOTCONN, errno);
	EXPECT_EQ(-1, accept(fd, NULL, NULL));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
}

TEST_F(stream, accept_nonblocking_and_flags)
{
	int port, fd;
	struct sockaddr_storage dst = self->self;
	struct pollfd pfd;

	port = listen_on(_metadata, self, 4);
	fcntl(self->lsn, F_SETFL, O_NONBLOCK);
	EXPECT_EQ(-1, accept(self->lsn, NULL, NULL));
	EXPECT_EQ(EAGAIN, errno);

	addr_set_port(&dst, port);
	self->cli = socket(self->family, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(self->cli, (struct sockaddr *)&dst,
			     self->self_len));
	pfd.fd = self->lsn;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	EXPECT_EQ(POLLIN, pfd.revents);
	fd = accept4(self->lsn, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(O_NONBLOCK, fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	self->srv = fd;
}

TEST_F(stream, timeouts_and_dontwait)
{
	struct timeval tv = { .tv_usec = 200000 };
	struct timespec t0, t1;
	char buf[64];
	double secs;

	make_pair(_metadata, self);
	EXPECT_EQ(-1, recv(self->srv, buf, sizeof(buf), MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	ASSERT_EQ(0, setsockopt(self->srv, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	EXPECT_EQ(-1, recv(self->srv, buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	EXPECT_GE(secs, 0.19);
	/* The timeout kept the connection. */
	ASSERT_EQ(5, send(self->cli, "hello", 5, 0));
	EXPECT_EQ(5, recv(self->srv, buf, sizeof(buf), 0));

	/* Invalid option lengths. */
	EXPECT_EQ(-1, setsockopt(self->srv, SOL_SOCKET, SO_RCVTIMEO, &tv, 3));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(stream, send_timeout_when_peer_does_not_read)
{
	struct timeval tv = { .tv_usec = 200000 };
	size_t len = 1 << 20, total = 0;
	char *buf = calloc(1, len);
	ssize_t n;

	make_pair(_metadata, self);
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	/* Fill the peer's buffers: partial counts, then EAGAIN. */
	for (;;) {
		n = send(self->cli, buf, len, 0);
		if (n < 0)
			break;
		total += n;
		ASSERT_LT(total, 64 << 20);
	}
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_GT(total, 0);
	/* Everything taken arrives. */
	EXPECT_EQ((ssize_t)total, recv_all(self->srv, buf, total));
	free(buf);
}

TEST_F(stream, peek_waitall_and_iovecs)
{
	char buf[64] = {}, a[3], b[4];
	struct iovec iov[2] = { { a, 3 }, { b, 4 } };
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
	pid_t pid;

	make_pair(_metadata, self);
	ASSERT_EQ(7, send(self->cli, "abcdefg", 7, 0));
	EXPECT_EQ(4, recv(self->srv, buf, 4, MSG_PEEK));
	EXPECT_EQ(0, memcmp(buf, "abcd", 4));
	EXPECT_EQ(7, recvmsg(self->srv, &msg, MSG_WAITALL));
	EXPECT_EQ(0, memcmp(a, "abc", 3));
	EXPECT_EQ(0, memcmp(b, "defg", 4));

	/* MSG_WAITALL waits for all of it, sent in pieces. */
	pid = fork();
	if (pid == 0) {
		int i;

		for (i = 0; i < 8; i++) {
			usleep(20000);
			if (send(self->cli, "12345678", 8, 0) != 8)
				_exit(1);
		}
		_exit(0);
	}
	EXPECT_EQ(64, recv(self->srv, buf, 64, MSG_WAITALL));
	EXPECT_EQ(0, child_status(pid));
	EXPECT_EQ(0, memcmp(buf + 56, "12345678", 8));

	/* readv/writev. */
	iov[0].iov_base = "xyz";
	iov[1].iov_base = "0123";
	ASSERT_EQ(7, writev(self->srv, iov, 2));
	iov[0].iov_base = a;
	iov[1].iov_base = b;
	EXPECT_EQ(7, readv(self->cli, iov, 2));
	EXPECT_EQ(0, memcmp(b, "0123", 4));
}

TEST_F(stream, half_close)
{
	char buf[16];

	make_pair(_metadata, self);
	ASSERT_EQ(4, send(self->cli, "last", 4, 0));
	ASSERT_EQ(0, shutdown(self->cli, SHUT_WR));
	EXPECT_EQ(4, recv(self->srv, buf, sizeof(buf), 0));
	EXPECT_EQ(0, recv(self->srv, buf, sizeof(buf), 0));
	EXPECT_EQ(0, recv(self->srv, buf, sizeof(buf), 0));
	/* The other direction still works. */
	ASSERT_EQ(5, send(self->srv, "reply", 5, 0));
	EXPECT_EQ(5, recv(self->cli, buf, sizeof(buf), 0));
	EXPECT_EQ(-1, send(self->cli, "x", 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(-1, shutdown(self->cli, 7));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(stream, graceful_close_delivers_queued_data)
{
	size_t len = san_scaled(1 << 20);
	char *out = malloc(len), *in = malloc(len + 1);
	pid_t pid;

	make_pair(_metadata, self);
	fill(out, len, 3);
	pid = fork();
	if (pid == 0) {
		if (send(self->cli, out, len, 0) != (ssize_t)len)
			_exit(1);
		_exit(close(self->cli) ? 2 : 0);
	}
	close(self->cli);
	self->cli = -1;
	EXPECT_EQ((ssize_t)len, recv_all(self->srv, in, len + 1));
	EXPECT_EQ(0, memcmp(out, in, len));
	EXPECT_EQ(0, child_status(pid));
	free(out);
	free(in);
}

TEST_F(stream, linger_zero_resets_peer)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };
	struct pollfd pfd;
	char c;

	make_pair(_metadata, self);
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	close(self->cli);
	self->cli = -1;
	pfd.fd = self->srv;
	pfd.events = POLLIN;
	ASSERT_EQ(1, poll(&pfd, 1, 5000));
	EXPECT_EQ(POLLERR | POLLHUP, pfd.revents & (POLLERR | POLLHUP));
	EXPECT_EQ(-1, recv(self->srv, &c, 1, 0));
	EXPECT_EQ(ECONNRESET, errno);
}

TEST_F(stream, unread_data_on_close_resets_peer)
{
	char c;

	make_pair(_metadata, self);
	ASSERT_EQ(1, send(self->cli, "x", 1, 0));
	/* The server closes with the byte unread: an abortive close. */
	ASSERT_EQ(1, recv(self->srv, &c, 1, MSG_PEEK));
	close(self->srv);
	self->srv = -1;
	EXPECT_EQ(-1, recv(self->cli, &c, 1, 0));
	EXPECT_EQ(ECONNRESET, errno);
}

TEST_F(stream, linger_waits_for_delivery)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 5 };
	char buf[8];

	make_pair(_metadata, self);
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SOCKET, SO_LINGER, &lg,
				sizeof(lg)));
	ASSERT_EQ(4, send(self->cli, "data", 4, 0));
	EXPECT_EQ(0, close(self->cli));
	self->cli = -1;
	EXPECT_EQ(4, recv(self->srv, buf, sizeof(buf), 0));
	EXPECT_EQ(0, recv(self->srv, buf, sizeof(buf), 0));
}

static volatile sig_atomic_t sigpipes;

static void on_sigpipe(int sig)
{
	(void)sig;
	sigpipes++;
}

TEST_F(stream, send_after_peer_close_epipe_sigpipe)
{
	char buf[8];
	int i, n = -1;

	signal(SIGPIPE, on_sigpipe);
	make_pair(_metadata, self);
	close(self->srv);
	self->srv = -1;
	EXPECT_EQ(0, recv(self->cli, buf, sizeof(buf), 0));
	/* As TCP, a send may still go out until the disconnect arrives. */
	for (i = 0; i < 200; i++) {
		n = send(self->cli, "x", 1, MSG_NOSIGNAL);
		if (n < 0)
			break;
		usleep(10000);
	}
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(0, sigpipes);
	EXPECT_EQ(-1, send(self->cli, "x", 1, 0));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(1, sigpipes);
	signal(SIGPIPE, SIG_DFL);
}

TEST_F(stream, poll_and_epoll_edge_triggered)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP | EPOLLET },
			   got;
	struct pollfd pfd;
	char buf[16];
	int ep;

	make_pair(_metadata, self);
	pfd.fd = self->srv;
	pfd.events = POLLIN | POLLOUT;
	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLOUT, pfd.revents);

	ep = epoll_create1(0);
	ASSERT_GE(ep, 0);
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, self->srv, &ev));
	EXPECT_EQ(0, epoll_wait(ep, &got, 1, 0));
	ASSERT_EQ(2, send(self->cli, "ab", 2, 0));
	ASSERT_EQ(1, epoll_wait(ep, &got, 1, 5000));
	EXPECT_EQ(EPOLLIN, got.events);
	/* Edge triggered: no new event until new data. */
	EXPECT_EQ(0, epoll_wait(ep, &got, 1, 100));
	ASSERT_EQ(1, recv(self->srv, buf, 1, 0));
	ASSERT_EQ(2, send(self->cli, "cd", 2, 0));
	ASSERT_EQ(1, epoll_wait(ep, &got, 1, 5000));
	EXPECT_EQ(3, recv(self->srv, buf, sizeof(buf), 0));

	ASSERT_EQ(0, shutdown(self->cli, SHUT_WR));
	ASSERT_EQ(1, epoll_wait(ep, &got, 1, 5000));
	EXPECT_EQ(EPOLLIN | EPOLLRDHUP, got.events & (EPOLLIN | EPOLLRDHUP));
	close(ep);
}

TEST_F(stream, inq_outq)
{
	int n = -1;
	char buf[100];

	make_pair(_metadata, self);
	ASSERT_EQ(100, send(self->cli, buf, 100, 0));
	/* Arrival is asynchronous: wait for it. */
	for (int i = 0; i < 100; i++) {
		ASSERT_EQ(0, ioctl(self->srv, SIOCINQ, &n));
		if (n == 100)
			break;
		usleep(20000);
	}
	EXPECT_EQ(100, n);
	ASSERT_EQ(40, recv(self->srv, buf, 40, 0));
	ASSERT_EQ(0, ioctl(self->srv, SIOCINQ, &n));
	EXPECT_EQ(60, n);
	ASSERT_EQ(0, ioctl(self->cli, SIOCOUTQ, &n));
	EXPECT_EQ(0, n);
	EXPECT_EQ(-1, ioctl(self->lsn, SIOCINQ, &n));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(stream, bad_buffers_get_efault)
{
	char *bad = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	char buf[8];

	ASSERT_NE(MAP_FAILED, bad);
	make_pair(_metadata, self);
	EXPECT_EQ(-1, send(self->cli, NULL, 10, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, send(self->cli, bad, 10, 0));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(3, send(self->cli, "abc", 3, 0));
	EXPECT_EQ(-1, recv(self->srv, bad, 3, MSG_WAITALL));
	EXPECT_EQ(EFAULT, errno);
	/* The data stayed: a good buffer reads it. */
	EXPECT_EQ(3, recv(self->srv, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "abc", 3));
	/* Urgent data does not exist here: as TCP without it. */
	EXPECT_EQ(-1, send(self->cli, "x", 1, MSG_OOB));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, recv(self->srv, buf, 1, MSG_OOB));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, accept4(self->lsn, NULL, NULL, 0x7fff0000));
	EXPECT_EQ(EINVAL, errno);
	/* A huge length sends what fits and nothing breaks. */
	EXPECT_EQ(-1, send(self->cli, buf, (size_t)1 << 62, MSG_DONTWAIT));
	EXPECT_EQ(EFAULT, errno);
	munmap(bad, 4096);
}

struct duplex {
	int fd;
	size_t len;
	int ok;
};

static void *duplex_send(void *arg)
{
	struct duplex *d = arg;
	char *buf = malloc(d->len);
	size_t off = 0;

	fill(buf, d->len, 9);
	while (off < d->len) {
		ssize_t n = send(d->fd, buf + off, d->len - off, 0);

		if (n <= 0)
			break;
		off += n;
	}
	d->ok = off == d->len;
	free(buf);
	return NULL;
}

TEST_F(stream, two_threads_one_socket)
{
	size_t len = san_scaled(2 << 20);
	struct duplex d;
	pthread_t t;
	char *want = malloc(len), *got = malloc(len);
	pid_t pid;

	make_pair(_metadata, self);
	/* The peer echoes: a child reads all, then writes it back. */
	pid = fork();
	if (pid == 0) {
		char *b = malloc(len);
		size_t off = 0;

		if (recv_all(self->srv, b, len) != (ssize_t)len)
			_exit(1);
		while (off < len) {
			ssize_t n = send(self->srv, b + off, len - off, 0);

			if (n <= 0)
				_exit(2);
			off += n;
		}
		_exit(0);
	}
	d.fd = self->cli;
	d.len = len;
	d.ok = 0;
	ASSERT_EQ(0, pthread_create(&t, NULL, duplex_send, &d));
	EXPECT_EQ((ssize_t)len, recv_all(self->cli, got, len));
	pthread_join(t, NULL);
	EXPECT_TRUE(d.ok);
	EXPECT_EQ(0, child_status(pid));
	fill(want, len, 9);
	EXPECT_EQ(0, memcmp(want, got, len));
	free(want);
	free(got);
}

/* Buffers a socket limit allows one connection end, as the module counts. */
static long sysctl_bufs(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	v /= 16384;
	return v < 4 ? 4 : v > 128 ? 128 : v;
}

/*
 * Move @len bytes from @from to @to (64 KiB writes from a thread, reads
 * here), copy path only; returns whether every byte arrived intact.
 */
static int move_copy_path(int from, int to, size_t len)
{
	int off = INT_MAX;
	struct duplex d = { .fd = from, .len = len };
	char *want = malloc(len), *got = malloc(len);
	pthread_t t;
	int ok;

	setsockopt(from, SOL_SAN, SAN_ZCOPY_THRESHOLD, &off, sizeof(off));
	setsockopt(to, SOL_SAN, SAN_ZCOPY_THRESHOLD, &off, sizeof(off));
	if (pthread_create(&t, NULL, duplex_send, &d))
		return 0;
	/*
	 * Read only once the writer has used up its credits: that, not the
	 * machine's speed, is what makes a connection grow.
	 */
	usleep(300000);
	ok = recv_all(to, got, len) == (ssize_t)len;
	pthread_join(t, NULL);
	fill(want, len, 9);
	ok = ok && d.ok && !memcmp(want, got, len);
	free(want);
	free(got);
	return ok;
}

/*
 * A connection starts with 4 send and 4 receive buffers of 16 KiB per end
 * (128 KiB the device can reach) and grows with use, within SO_RCVBUF and
 * SO_SNDBUF as they were at connect time.
 */
TEST_F(stream, buffers_start_small_and_grow_within_socket_limits)
{
	long rmax = sysctl_bufs("/proc/sys/net/core/rmem_default");
	long wmax = sysctl_bufs("/proc/sys/net/core/wmem_default");
	struct sockaddr_storage dst = self->self;
	long initial = 2 * (4 + 4) * 16384L, grown;
	int small = 16384, port;

	ASSERT_LT(0, rmax);
	ASSERT_LT(0, wmax);
	make_pair(_metadata, self);
	EXPECT_EQ(initial, san_stat("buf_bytes"));

	/* A stream grows the reader's receive and the writer's send side. */
	/* At least 1 MiB: 64 windows, even on the debug kernel. */
	EXPECT_TRUE(move_copy_path(self->cli, self->srv,
				   san_scaled(8 << 20) > (1 << 20) ?
				   san_scaled(8 << 20) : (1 << 20)));
	grown = san_stat("buf_bytes");
	EXPECT_LT(initial, grown);
	EXPECT_GE((4 + wmax + rmax + 4) * 16384L, grown);

	/* SO_RCVBUF and SO_SNDBUF of 16 KiB (32 KiB): 4 buffers, no more. */
	close(self->cli);
	close(self->srv);
	close(self->lsn);
	self->cli = self->srv = self->lsn = -1;
	ASSERT_EQ(NULL, san_wait_idle(10));
	EXPECT_EQ(0, san_stat("buf_bytes"));
	self->lsn = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(self->lsn, 0);
	ASSERT_EQ(0, setsockopt(self->lsn, SOL_SOCKET, SO_RCVBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, bind(self->lsn, (struct sockaddr *)&self->self,
			  self->self_len));
	ASSERT_EQ(0, listen(self->lsn, 4));
	{
		struct sockaddr_storage got;
		socklen_t len = sizeof(got);

		ASSERT_EQ(0, getsockname(self->lsn, (struct sockaddr *)&got,
					 &len));
		port = addr_port(&got);
	}
	addr_set_port(&dst, port);
	self->cli = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(self->cli, 0);
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SOCKET, SO_SNDBUF, &small,
				sizeof(small)));
	ASSERT_EQ(0, connect(self->cli, (struct sockaddr *)&dst,
			     self->self_len));
	self->srv = accept(self->lsn, NULL, NULL);
	ASSERT_GE(self->srv, 0);
	EXPECT_TRUE(move_copy_path(self->cli, self->srv, san_scaled(2 << 20)));
	EXPECT_EQ(initial, san_stat("buf_bytes"));
}

/* Size of write @i of the small-writes test: 256 KiB once, else 1..37. */
static size_t small_write(size_t i)
{
	return i == 3000 ? 256 << 10 : 1 + (i * 7) % 37;
}

/*
 * Small writes, a zero-copy write behind them and a FIN: whatever waits
 * in a cork goes out in order (a child writes; reads of odd sizes here),
 * and EOF comes after the last byte.
 */
TEST_F(stream, small_writes_then_zero_copy_then_fin_keep_order)
{
	size_t total = 0, off, i;
	char *want, *got;
	pid_t pid;

	for (i = 0; i < 6001; i++)
		total += small_write(i);
	want = malloc(total);
	got = malloc(total + 64);
	ASSERT_TRUE(want && got);
	fill(want, total, 77);
	make_pair(_metadata, self);
	pid = fork();
	if (pid == 0) {
		for (off = 0, i = 0; i < 6001; off += small_write(i++))
			if (send(self->cli, want + off, small_write(i), 0) !=
			    (ssize_t)small_write(i))
				_exit(1);
		_exit(shutdown(self->cli, SHUT_WR) ? 2 : 0);
	}
	off = 0;
	while (off < total + 64) {
		size_t want_n = 1 + (off * 13) % 5000;
		ssize_t n;

		if (want_n > total + 64 - off)
			want_n = total + 64 - off;
		n = recv(self->srv, got + off, want_n, 0);

		ASSERT_LE(0, n) TH_LOG("recv: %s", strerror(errno));
		if (!n)
			break;
		off += n;
	}
	EXPECT_EQ(total, off);
	EXPECT_EQ(0, memcmp(want, got, total));
	EXPECT_EQ(0, child_status(pid));
	free(want);
	free(got);
}

TEST_F(stream, connect_timeout_from_sndtimeo)
{
	struct timeval tv = { .tv_usec = 200000 };
	struct sockaddr_storage dst;
	struct timespec t0, t1;
	struct pollfd pfd;
	int err;
	socklen_t len = sizeof(err);
	double secs;

	/* Address resolution of a host that is not there takes 2 s. */
	ASSERT_GT(set_addr(&dst, variant->ip, variant->ip == AF_INET ?
			   "10.0.2.98" : "fd00::98", 7), 0);
	self->cli = socket(self->family, SOCK_STREAM, 0);
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SOCKET, SO_SNDTIMEO, &tv,
				sizeof(tv)));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* As TCP: the timeout gives EINPROGRESS and the attempt goes on. */
	EXPECT_EQ(-1, connect(self->cli, (struct sockaddr *)&dst,
			      self->self_len));
	EXPECT_EQ(EINPROGRESS, errno);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	/* EINPROGRESS, not the failure: the timeout cut the wait short. */
	EXPECT_GE(secs, 0.19);
	pfd.fd = self->cli;
	pfd.events = POLLOUT;
	ASSERT_EQ(1, poll(&pfd, 1, 20000));
	EXPECT_TRUE(pfd.revents & POLLERR);
	ASSERT_EQ(0, getsockopt(self->cli, SOL_SOCKET, SO_ERROR, &err, &len));
	EXPECT_TRUE(err == EHOSTUNREACH || err == ETIMEDOUT)
		TH_LOG("SO_ERROR %d", err);
}

TEST_F(stream, full_backlog_refuses)
{
	struct sockaddr_storage dst = self->self;
	int c[3], i;

	addr_set_port(&dst, listen_on(_metadata, self, 1));
	/* As TCP, a backlog of 1 queues two connections. */
	for (i = 0; i < 2; i++) {
		c[i] = socket(self->family, SOCK_STREAM, 0);
		ASSERT_EQ(0, connect(c[i], (struct sockaddr *)&dst,
				     self->self_len));
	}
	c[2] = socket(self->family, SOCK_STREAM, 0);
	EXPECT_EQ(-1, connect(c[2], (struct sockaddr *)&dst, self->self_len));
	EXPECT_EQ(ECONNREFUSED, errno);
	for (i = 0; i < 2; i++) {
		int a = accept(self->lsn, NULL, NULL);

		EXPECT_GE(a, 0);
		close(a);
	}
	for (i = 0; i < 3; i++)
		close(c[i]);
}

static long rxe_sent_pkts(void)
{
	const char *dev = getenv("SAN_IBDEV");
	char path[128];
	FILE *f;
	long v = -1;

	snprintf(path, sizeof(path),
		 "/sys/class/infiniband/%s/ports/1/hw_counters/sent_pkts",
		 dev ? dev : "rxe0");
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* After @ms milliseconds, send @len bytes of @data on @fd, or a signal. */
struct later {
	pthread_t thread;
	int fd, sig;
	pid_t tid;
	long ms;
	const char *data;
	size_t len;
};

static void *later_main(void *arg)
{
	struct later *l = arg;

	usleep(l->ms * 1000);
	if (l->sig)
		syscall(SYS_tgkill, getpid(), l->tid, l->sig);
	else if (send(l->fd, l->data, l->len, 0) != (ssize_t)l->len)
		return (void *)1;
	return NULL;
}

/*
 * SO_BUSY_POLL: a reader spins before it sleeps.  It still gets data that
 * is there or comes meanwhile, its timeout still ends the call, and a
 * signal still cancels it (the spin would otherwise last 5 s).
 */
TEST_F(stream, busy_poll_recv_data_timeout_and_signal)
{
	struct timeval tv = { .tv_usec = 100000 }, none = { 0 };
	int us = 5000000, got = 0;
	socklen_t len = sizeof(got);
	struct later l = { 0 };
	char buf[64];
	void *ret;
	long t0, hits;

	make_pair(_metadata, self);
	ASSERT_EQ(0, setsockopt(self->srv, SOL_SOCKET, SO_BUSY_POLL, &us,
				sizeof(us)));
	ASSERT_EQ(0, getsockopt(self->srv, SOL_SOCKET, SO_BUSY_POLL, &got,
				&len));
	EXPECT_EQ(us, got);

	ASSERT_EQ(5, send(self->cli, "hello", 5, 0));
	ASSERT_EQ(5, recv(self->srv, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "hello", 5));

	/* Data that comes while it spins: found without sleeping. */
	hits = san_stat("busy_poll_hits");
	ASSERT_LE(0, hits);
	l.fd = self->cli;
	l.ms = 100;
	l.data = "later";
	l.len = 5;
	ASSERT_EQ(0, pthread_create(&l.thread, NULL, later_main, &l));
	ASSERT_EQ(5, recv(self->srv, buf, sizeof(buf), 0));
	EXPECT_EQ(0, memcmp(buf, "later", 5));
	pthread_join(l.thread, &ret);
	EXPECT_EQ(NULL, ret);
	EXPECT_EQ(hits + 1, san_stat("busy_poll_hits"));

	ASSERT_EQ(0, setsockopt(self->srv, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	t0 = now_ms();
	EXPECT_EQ(-1, recv(self->srv, buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_GT(bound_ms(2500), now_ms() - t0);

	ASSERT_EQ(0, setsockopt(self->srv, SOL_SOCKET, SO_RCVTIMEO, &none,
				sizeof(none)));
	catch_signal(SIGUSR1, 0);
	memset(&l, 0, sizeof(l));
	l.sig = SIGUSR1;
	l.tid = syscall(SYS_gettid);
	l.ms = 200;
	ASSERT_EQ(0, pthread_create(&l.thread, NULL, later_main, &l));
	t0 = now_ms();
	EXPECT_EQ(-1, recv(self->srv, buf, sizeof(buf), 0));
	EXPECT_EQ(EINTR, errno);
	EXPECT_GT(bound_ms(2500), now_ms() - t0);
	EXPECT_EQ(1, caught);
	pthread_join(l.thread, NULL);
	signal(SIGUSR1, SIG_IGN);
}

TEST_F(stream, keepalive_option_and_probes)
{
	struct timeval tv = { .tv_sec = 3 };
	int val, one = 1;
	socklen_t len = sizeof(val);
	long before, after;
	char buf[4];

	make_pair(_metadata, self);
	ASSERT_EQ(0, getsockopt(self->cli, SOL_SAN, SAN_KEEPIDLE, &val, &len));
	EXPECT_EQ(0, val);
	val = 1;
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SAN, SAN_KEEPIDLE, &val,
				sizeof(val)));
	val = -1;
	EXPECT_EQ(-1, setsockopt(self->cli, SOL_SAN, SAN_KEEPIDLE, &val,
				 sizeof(val)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(self->cli, SOL_SAN, SAN_KEEPIDLE, &val, 2));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(self->cli, SOL_SAN, 999, &val, sizeof(val)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	EXPECT_EQ(-1, setsockopt(self->cli, 12345, 1, &val, sizeof(val)));
	EXPECT_EQ(ENOPROTOOPT, errno);
	len = sizeof(val);
	ASSERT_EQ(0, getsockopt(self->cli, SOL_SAN, SAN_KEEPIDLE, &val, &len));
	EXPECT_EQ(1, val);

	/* Idle without SO_KEEPALIVE: nothing on the wire. */
	ASSERT_EQ(0, setsockopt(self->srv, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	before = rxe_sent_pkts();
	if (before < 0)
		SKIP(return, "no rxe0 packet counter");
	EXPECT_EQ(-1, recv(self->srv, buf, 1, 0));
	after = rxe_sent_pkts();
	EXPECT_EQ(before, after);

	/* With it, an idle connection is probed, and lives on. */
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SOCKET, SO_KEEPALIVE, &one,
				sizeof(one)));
	before = rxe_sent_pkts();
	EXPECT_EQ(-1, recv(self->srv, buf, 1, 0));
	EXPECT_EQ(EAGAIN, errno);
	after = rxe_sent_pkts();
	EXPECT_LT(before, after);
	ASSERT_EQ(2, send(self->cli, "ok", 2, 0));
	EXPECT_EQ(2, recv(self->srv, buf, 2, MSG_WAITALL));
}

TEST_HARNESS_MAIN
