// SPDX-License-Identifier: GPL-2.0
/*
 * Cancellation (docs/semantics.md "Cancellation"): a signal the process
 * catches, or a fatal one, delivered while a thread sleeps in an AF_SAN
 * call.  One test per row of the table (the lingering close, which needs a
 * peer that never acknowledges, is in san_proto.c), each with the signal
 * sent at a controlled point (once the thread is seen asleep in that very
 * system call), plus the wakeups that are not cancellations (stop/continue,
 * a tracer, the freezer, an ignored signal), the preserve policy, and a
 * storm.
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
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "san_util.h"
#include "san_kick.h"


FIXTURE(cancel)
{
	int family;
	struct sockaddr_in self;
	int lsn, cli, srv;
};

FIXTURE_SETUP(cancel)
{
	const char *addr = getenv("SAN_SELF");
	const char *only = getenv("SAN_ONLY");

	self->lsn = self->cli = self->srv = -1;
	self->family = -1;
	/* SAN_ONLY=substring runs only the matching tests (the harness of
	 * 6.1 has no filter of its own).
	 */
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

FIXTURE_TEARDOWN(cancel)
{
	signal(SIGUSR1, SIG_DFL);
	signal(SIGALRM, SIG_DFL);
	if (self->cli >= 0)
		close(self->cli);
	if (self->srv >= 0)
		close(self->srv);
	if (self->lsn >= 0)
		close(self->lsn);
	if (self->family >= 0)
		EXPECT_EQ(NULL, san_wait_idle(20));
}

/* A listener on the test address; fills @dst with where to connect. */
static int listener(struct __test_metadata *_metadata,
		    FIXTURE_DATA(cancel) *self, struct sockaddr_in *dst)
{
	socklen_t len = sizeof(*dst);
	int fd = socket(self->family, SOCK_STREAM, 0);

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, bind(fd, (struct sockaddr *)&self->self,
			  sizeof(self->self)));
	ASSERT_EQ(0, listen(fd, 16));
	ASSERT_EQ(0, getsockname(fd, (struct sockaddr *)dst, &len));
	return fd;
}

/* Zero-copy off for @fd: its sends use the copy path. */
static void copy_only(int fd)
{
	int off = 0x7fffffff;

	setsockopt(fd, SOL_SAN, SAN_ZCOPY_THRESHOLD, &off, sizeof(off));
}

static void make_pair(struct __test_metadata *_metadata,
		      FIXTURE_DATA(cancel) *self)
{
	struct sockaddr_in dst;

	self->lsn = listener(_metadata, self, &dst);
	self->cli = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(self->cli, 0);
	/* These are the copy path's rows: san_zcopy.c has the others. */
	copy_only(self->cli);
	ASSERT_EQ(0, connect(self->cli, (struct sockaddr *)&dst, sizeof(dst)))
		TH_LOG("connect: %s", strerror(errno));
	self->srv = accept(self->lsn, NULL, NULL);
	ASSERT_GE(self->srv, 0);
}

/*
 * The peer of a connection that a cancellation tore down: POLLERR and
 * POLLHUP within a second, then ECONNRESET (after any data it had).
 */
static void peer_sees_reset(struct __test_metadata *_metadata, int fd,
			    long since_ms)
{
	/* No POLLIN: unread data must not end the wait early. */
	struct pollfd pfd = { .fd = fd, .events = 0 };
	char buf[65536];
	ssize_t n;

	while (now_ms() - since_ms < 2 * bound_ms(1000)) {
		ASSERT_LE(0, poll(&pfd, 1, 10));
		if ((pfd.revents & (POLLERR | POLLHUP)) == (POLLERR | POLLHUP))
			break;
	}
	EXPECT_EQ(POLLERR | POLLHUP, pfd.revents & (POLLERR | POLLHUP));
	EXPECT_GE(bound_ms(1000), now_ms() - since_ms);
	do
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
	while (n > 0);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(ECONNRESET, errno);
}

/* After a cancellation that tore the connection down. */
static void only_close_works(struct __test_metadata *_metadata, int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN | POLLOUT };
	struct sockaddr_in sin = { .sin_family = AF_INET };
	char c = 0;

	ASSERT_EQ(1, poll(&pfd, 1, 0));
	EXPECT_EQ(POLLERR | POLLHUP, pfd.revents & (POLLERR | POLLHUP));
	EXPECT_EQ(-1, recv(fd, &c, 1, 0));
	EXPECT_EQ(ECONNABORTED, errno);
	/* send: the error once, then EPIPE, as TCP after an error. */
	EXPECT_EQ(-1, send(fd, &c, 1, MSG_NOSIGNAL));
	EXPECT_TRUE(errno == ECONNABORTED || errno == EPIPE);
	EXPECT_EQ(-1, send(fd, &c, 1, MSG_NOSIGNAL));
	EXPECT_EQ(EPIPE, errno);
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&sin, sizeof(sin)));
	EXPECT_TRUE(errno == ECONNABORTED || errno == EISCONN);
	EXPECT_EQ(-1, shutdown(fd, SHUT_RDWR));
	EXPECT_EQ(ECONNABORTED, errno);
	EXPECT_EQ(-1, listen(fd, 1));
	EXPECT_EQ(ECONNABORTED, errno);
	EXPECT_EQ(0, close(fd));
}

/* Row "connect()": abandoned, everything freed at once, EINTR. */
TEST_F(cancel, connect_is_abandoned_promptly)
{
	struct sockaddr_in dst = { .sin_family = AF_INET,
				   .sin_port = htons(7) };
	struct kicker k;
	long ret_ms, t;
	int rc;

	/* On the guest's subnet, nobody: address resolution takes 2 s. */
	ASSERT_EQ(1, inet_pton(AF_INET, "10.0.2.99", &dst.sin_addr));
	/* SA_RESTART: an abandoned connect is not restarted all the same. */
	catch_signal(SIGUSR1, SA_RESTART);
	self->cli = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(self->cli, 0);
	kick_me(&k, SYS_connect, SYS_connect, SIGUSR1, 50);
	rc = connect(self->cli, (struct sockaddr *)&dst, sizeof(dst));
	ret_ms = now_ms();
	pthread_join(k.thread, NULL);
	ASSERT_NE(0, k.sent_ms) TH_LOG("connect never slept");
	EXPECT_EQ(-1, rc);
	EXPECT_EQ(EINTR, errno);
	EXPECT_EQ(1, caught);
	EXPECT_GE(bound_ms(100), ret_ms - k.sent_ms);
	/* Counted, not assumed: the cm id and everything else are gone. */
	for (t = 0; t < bound_ms(100); t += 5) {
		if (!san_stat("conns") && !san_stat("qps"))
			break;
		usleep(5000);
	}
	EXPECT_EQ(0, san_stat("conns"));
	EXPECT_EQ(0, san_stat("qps"));
	EXPECT_GE(bound_ms(100), now_ms() - k.sent_ms);
	only_close_works(_metadata, self->cli);
	self->cli = -1;
}

/* Row "accept()": EINTR, the listener and its queue are kept. */
TEST_F(cancel, accept_interrupted_listener_kept)
{
	struct sockaddr_in dst;
	struct kicker k;
	int fd, c;
	char x = 0;

	self->lsn = listener(_metadata, self, &dst);
	catch_signal(SIGUSR1, 0);
	kick_me(&k, SYS_accept, SYS_accept4, SIGUSR1, 20);
	EXPECT_EQ(-1, accept(self->lsn, NULL, NULL));
	EXPECT_EQ(EINTR, errno);
	pthread_join(k.thread, NULL);
	EXPECT_EQ(1, caught);
	/* A connection queued before accept() is still there after. */
	c = socket(self->family, SOCK_STREAM, 0);
	ASSERT_EQ(0, connect(c, (struct sockaddr *)&dst, sizeof(dst)));
	fd = accept(self->lsn, NULL, NULL);
	EXPECT_GE(fd, 0);
	EXPECT_EQ(1, send(c, "x", 1, 0));
	EXPECT_EQ(1, recv(fd, &x, 1, 0));
	EXPECT_EQ('x', x);
	close(fd);
	close(c);
}

struct late_connect {
	pthread_t thread;
	pid_t tid;
	struct sockaddr_in dst;
	int family, fd;
};

static void *late_connect_main(void *arg)
{
	struct late_connect *lc = arg;

	/* Once accept() was interrupted and restarted: asleep again. */
	while (!caught)
		usleep(1000);
	wait_asleep(getpid(), lc->tid, SYS_accept, SYS_accept4);
	lc->fd = socket(lc->family, SOCK_STREAM, 0);
	if (connect(lc->fd, (struct sockaddr *)&lc->dst, sizeof(lc->dst))) {
		close(lc->fd);
		lc->fd = -1;
	}
	return NULL;
}

/* Row "accept()" under SA_RESTART: restarted, then takes a connection. */
TEST_F(cancel, accept_restarts_under_sa_restart)
{
	struct late_connect lc = { .family = self->family, .fd = -1 };
	struct kicker k;
	int fd;

	self->lsn = listener(_metadata, self, &lc.dst);
	catch_signal(SIGUSR1, SA_RESTART);
	lc.tid = syscall(SYS_gettid);
	kick_me(&k, SYS_accept, SYS_accept4, SIGUSR1, 20);
	pthread_create(&lc.thread, NULL, late_connect_main, &lc);
	fd = accept(self->lsn, NULL, NULL);
	EXPECT_GE(fd, 0) TH_LOG("accept: %s", strerror(errno));
	pthread_join(k.thread, NULL);
	pthread_join(lc.thread, NULL);
	EXPECT_EQ(1, caught);
	EXPECT_GE(lc.fd, 0);
	close(fd);
	close(lc.fd);
}

/* Row "recv, copy path", abort policy: EINTR at once, connection gone. */
TEST_F(cancel, copy_recv_fails_and_aborts)
{
	struct kicker k;
	char buf[16];
	int rc;

	make_pair(_metadata, self);
	catch_signal(SIGUSR1, SA_RESTART);
	kick_me(&k, SYS_recvfrom, SYS_recvfrom, SIGUSR1, 20);
	rc = recv(self->cli, buf, sizeof(buf), 0);
	EXPECT_EQ(-1, rc);
	EXPECT_EQ(EINTR, errno);
	pthread_join(k.thread, NULL);
	EXPECT_EQ(1, caught);
	EXPECT_GE(bound_ms(100), now_ms() - k.sent_ms);
	peer_sees_reset(_metadata, self->srv, k.sent_ms);
	only_close_works(_metadata, self->cli);
	self->cli = -1;
}

/* Row "send, copy path", abort policy: the peer does not read. */
TEST_F(cancel, copy_send_fails_and_aborts)
{
	size_t len = 8 << 20;
	char *buf = calloc(1, len);
	struct kicker k;
	ssize_t rc;

	ASSERT_NE(NULL, buf);
	make_pair(_metadata, self);
	catch_signal(SIGUSR1, 0);
	kick_me(&k, SYS_sendto, SYS_sendto, SIGUSR1, 20);
	rc = send(self->cli, buf, len, 0);
	EXPECT_EQ(-1, rc);
	EXPECT_EQ(EINTR, errno);
	pthread_join(k.thread, NULL);
	EXPECT_EQ(1, caught);
	peer_sees_reset(_metadata, self->srv, k.sent_ms);
	only_close_works(_metadata, self->cli);
	self->cli = -1;
	free(buf);
}

/* A fatal signal in recv: the process dies, the peer sees a reset. */
TEST_F(cancel, fatal_signal_in_recv)
{
	pid_t pid;
	char c;
	int st;
	long t;

	make_pair(_metadata, self);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		recv(self->cli, &c, 1, 0);
		_exit(3);
	}
	/* The parent's descriptor would keep the connection: close it. */
	close(self->cli);
	self->cli = -1;
	ASSERT_EQ(0, wait_asleep(pid, pid, SYS_recvfrom, SYS_recvfrom));
	t = now_ms();
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	peer_sees_reset(_metadata, self->srv, t);
}

/*
 * Not cancellations: a child sleeps in recv(MSG_WAITALL) for 64 KiB; the
 * parent does @what to it, then sends the data; the child must get all of
 * it, intact, and the connection must go on.
 */
enum disturb { STOP_CONT, TSTP_CONT, TRACER, IGNORED, FREEZER };

static int freeze(const char *cg, pid_t pid, int on)
{
	char path[256], buf[256];
	int i, fd, n;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	if (on) {
		fd = open(path, O_WRONLY);
		if (fd < 0)
			return -1;
		n = snprintf(buf, sizeof(buf), "%d", pid);
		if (write(fd, buf, n) != n) {
			close(fd);
			return -1;
		}
		close(fd);
	}
	snprintf(path, sizeof(path), "%s/cgroup.freeze", cg);
	fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, on ? "1" : "0", 1) != 1)
		return -1;
	close(fd);
	snprintf(path, sizeof(path), "%s/cgroup.events", cg);
	for (i = 0; i < 5000; i++) {
		FILE *f = fopen(path, "r");
		int frozen = -1;

		if (!f)
			return -1;
		while (fgets(buf, sizeof(buf), f))
			sscanf(buf, "frozen %d", &frozen);
		fclose(f);
		if (frozen == on)
			return 0;
		usleep(1000);
	}
	return -1;
}

static void disturbed_recv(struct __test_metadata *_metadata,
			   FIXTURE_DATA(cancel) *self, enum disturb what)
{
	const char *cg = "/sys/fs/cgroup/san_cancel";
	struct timeval tv = { .tv_sec = 60 };
	size_t len = 65536, i;
	char *buf = malloc(len);
	pid_t pid;
	int st;

	ASSERT_NE(NULL, buf);
	if (what == FREEZER) {
		struct stat sb;

		if (stat("/sys/fs/cgroup/cgroup.controllers", &sb))
			mount("none", "/sys/fs/cgroup", "cgroup2", 0, NULL);
		if (stat("/sys/fs/cgroup/cgroup.controllers", &sb) ||
		    (mkdir(cg, 0755) && errno != EEXIST))
			SKIP(free(buf); return, "no cgroup v2 freezer here");
	}
	make_pair(_metadata, self);
	/*
	 * With a receive timeout, sock_intr_errno() would say EINTR: only a
	 * switch that tells these wakeups from cancellations restarts.
	 */
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	if (what == IGNORED)
		signal(SIGUSR2, SIG_IGN);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		ssize_t n = recv(self->cli, buf, len, MSG_WAITALL);

		if (n != (ssize_t)len)
			_exit(1);
		for (i = 0; i < len; i++)
			if (buf[i] != (char)(i * 7))
				_exit(2);
		/* The connection goes on: answer. */
		_exit(send(self->cli, "ok", 2, 0) == 2 ? 0 : 4);
	}
	ASSERT_EQ(0, wait_asleep(pid, pid, SYS_recvfrom, SYS_recvfrom));
	switch (what) {
	case STOP_CONT:
	case TSTP_CONT:
		kill(pid, what == STOP_CONT ? SIGSTOP : SIGTSTP);
		ASSERT_EQ(pid, waitpid(pid, &st, WUNTRACED));
		ASSERT_TRUE(WIFSTOPPED(st));
		usleep(100000);
		kill(pid, SIGCONT);
		break;
	case TRACER:
		ASSERT_EQ(0, ptrace(PTRACE_SEIZE, pid, 0, 0));
		ASSERT_EQ(0, ptrace(PTRACE_INTERRUPT, pid, 0, 0));
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		ASSERT_TRUE(WIFSTOPPED(st));
		usleep(100000);
		ASSERT_EQ(0, ptrace(PTRACE_DETACH, pid, 0, 0));
		break;
	case IGNORED:
		kill(pid, SIGUSR2);
		break;
	case FREEZER:
		ASSERT_EQ(0, freeze(cg, pid, 1));
		usleep(100000);
		ASSERT_EQ(0, freeze(cg, pid, 0));
		break;
	}
	/* Back asleep in recv, the connection still up. */
	ASSERT_EQ(0, wait_asleep(pid, pid, SYS_recvfrom, SYS_recvfrom));
	for (i = 0; i < len; i++)
		buf[i] = i * 7;
	ASSERT_EQ((ssize_t)len, send(self->srv, buf, len, 0));
	ASSERT_EQ(2, recv(self->srv, buf, 2, MSG_WAITALL));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	if (what == IGNORED)
		signal(SIGUSR2, SIG_DFL);
	if (what == FREEZER)
		rmdir(cg);
	free(buf);
}

TEST_F(cancel, stop_and_continue_is_not_cancellation)
{
	disturbed_recv(_metadata, self, STOP_CONT);
}

TEST_F(cancel, terminal_stop_is_not_cancellation)
{
	disturbed_recv(_metadata, self, TSTP_CONT);
}

TEST_F(cancel, tracer_is_not_cancellation)
{
	disturbed_recv(_metadata, self, TRACER);
}

TEST_F(cancel, ignored_signal_is_not_cancellation)
{
	disturbed_recv(_metadata, self, IGNORED);
}

TEST_F(cancel, freezer_is_not_cancellation)
{
	disturbed_recv(_metadata, self, FREEZER);
}

/* A timeout is not a cancellation: EAGAIN, the connection is kept. */
TEST_F(cancel, timeout_is_not_cancellation)
{
	struct timeval tv = { .tv_usec = 200000 };
	char buf[4];

	make_pair(_metadata, self);
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	EXPECT_EQ(-1, recv(self->cli, buf, sizeof(buf), 0));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(4, send(self->srv, "abcd", 4, 0));
	EXPECT_EQ(4, recv(self->cli, buf, sizeof(buf), MSG_WAITALL));
	EXPECT_EQ(0, memcmp(buf, "abcd", 4));
}

struct late_send {
	pthread_t thread;
	pid_t tid;
	int fd;
	char buf[4096];
};

static void *late_send_main(void *arg)
{
	struct late_send *ls = arg;

	/* Once recv() was interrupted and restarted: asleep again. */
	while (!caught)
		usleep(1000);
	wait_asleep(getpid(), ls->tid, SYS_recvfrom, SYS_recvfrom);
	send(ls->fd, ls->buf, sizeof(ls->buf), 0);
	return NULL;
}

/* Preserve: a SIGALRM with SA_RESTART restarts recv; the stream goes on. */
TEST_F(cancel, preserve_recv_restarts)
{
	int pol = SAN_CANCEL_PRESERVE, val, i, n;
	socklen_t vlen = sizeof(val);
	static struct late_send ls;
	char buf[sizeof(ls.buf)];
	struct kicker k;

	make_pair(_metadata, self);
	ASSERT_EQ(0, getsockopt(self->cli, SOL_SAN, SAN_CANCEL_POLICY, &val,
				&vlen));
	EXPECT_EQ(SAN_CANCEL_ABORT, val);
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SAN, SAN_CANCEL_POLICY, &pol,
				sizeof(pol)));
	val = 7;
	EXPECT_EQ(-1, setsockopt(self->cli, SOL_SAN, SAN_CANCEL_POLICY, &val,
				 sizeof(val)));
	EXPECT_EQ(EINVAL, errno);
	for (i = 0; i < (int)sizeof(ls.buf); i++)
		ls.buf[i] = i * 13;
	ls.fd = self->srv;
	ls.tid = syscall(SYS_gettid);
	catch_signal(SIGALRM, SA_RESTART);
	kick_me(&k, SYS_recvfrom, SYS_recvfrom, SIGALRM, 20);
	pthread_create(&ls.thread, NULL, late_send_main, &ls);
	n = recv(self->cli, buf, sizeof(buf), MSG_WAITALL);
	pthread_join(k.thread, NULL);
	pthread_join(ls.thread, NULL);
	EXPECT_EQ(1, caught);
	EXPECT_EQ((int)sizeof(buf), n);
	EXPECT_EQ(0, memcmp(buf, ls.buf, sizeof(buf)));
	/* The connection is kept: both ways. */
	EXPECT_EQ(3, send(self->cli, "abc", 3, 0));
	EXPECT_EQ(3, recv(self->srv, buf, 3, MSG_WAITALL));
}

/* Preserve without SA_RESTART: EINTR, and the connection is kept. */
TEST_F(cancel, preserve_recv_eintr_keeps_connection)
{
	int pol = SAN_CANCEL_PRESERVE;
	struct kicker k;
	char buf[4];

	make_pair(_metadata, self);
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SAN, SAN_CANCEL_POLICY, &pol,
				sizeof(pol)));
	catch_signal(SIGUSR1, 0);
	kick_me(&k, SYS_recvfrom, SYS_recvfrom, SIGUSR1, 20);
	EXPECT_EQ(-1, recv(self->cli, buf, sizeof(buf), 0));
	EXPECT_EQ(EINTR, errno);
	pthread_join(k.thread, NULL);
	EXPECT_EQ(4, send(self->srv, "wxyz", 4, 0));
	EXPECT_EQ(4, recv(self->cli, buf, 4, MSG_WAITALL));
	EXPECT_EQ(0, memcmp(buf, "wxyz", 4));
	EXPECT_EQ(2, send(self->cli, "ok", 2, 0));
	EXPECT_EQ(2, recv(self->srv, buf, 2, MSG_WAITALL));
}

/* The cancel timeout option: its range and its default. */
TEST_F(cancel, cancel_timeout_option)
{
	int fd = socket(self->family, SOCK_STREAM, 0), val;
	socklen_t len = sizeof(val);
	FILE *f;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, getsockopt(fd, SOL_SAN, SAN_CANCEL_TIMEOUT, &val, &len));
	EXPECT_EQ(0, val);
	val = 500;
	EXPECT_EQ(0, setsockopt(fd, SOL_SAN, SAN_CANCEL_TIMEOUT, &val,
				sizeof(val)));
	ASSERT_EQ(0, getsockopt(fd, SOL_SAN, SAN_CANCEL_TIMEOUT, &val, &len));
	EXPECT_EQ(500, val);
	val = -1;
	EXPECT_EQ(-1, setsockopt(fd, SOL_SAN, SAN_CANCEL_TIMEOUT, &val,
				 sizeof(val)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, SOL_SAN, SAN_CANCEL_TIMEOUT, &val, 2));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	f = fopen("/proc/sys/net/san/cancel_timeout_ms", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%d", &val));
	fclose(f);
	EXPECT_LT(0, val);
}

/*
 * The storm: connect, send and recv cancellations in a loop, then nothing
 * left: the module's counters and the device's resources at baseline.
 */
TEST_F_TIMEOUT(cancel, storm, 900)
{
	long rounds = san_scaled(1000), r;
	struct sockaddr_in dst, far = { .sin_family = AF_INET,
					.sin_port = htons(7) };
	char *buf = calloc(1, 1 << 20);
	long t0 = now_ms();
	int one_ms = 1;
	const char *busy;
	struct kicker k;
	int fd, peer;

	ASSERT_NE(NULL, buf);
	ASSERT_EQ(1, inet_pton(AF_INET, "10.0.2.99", &far.sin_addr));
	self->lsn = listener(_metadata, self, &dst);
	catch_signal(SIGUSR1, 0);
	for (r = 0; r < rounds; r++) {
		fd = socket(self->family, SOCK_STREAM, 0);
		ASSERT_GE(fd, 0);
		/*
		 * Every other send is zero-copy, its cancel timeout 1 ms:
		 * the peer does not read, so it is aborted and flushed.
		 */
		if (r % 6 != 5)
			copy_only(fd);
		setsockopt(fd, SOL_SAN, SAN_CANCEL_TIMEOUT, &one_ms,
			   sizeof(one_ms));
		switch (r % 3) {
		case 0:
			kick_me(&k, SYS_connect, SYS_connect, SIGUSR1, 0);
			ASSERT_EQ(-1, connect(fd, (struct sockaddr *)&far,
					      sizeof(far)));
			ASSERT_EQ(EINTR, errno);
			pthread_join(k.thread, NULL);
			close(fd);
			continue;
		case 1:
			ASSERT_EQ(0, connect(fd, (struct sockaddr *)&dst,
					     sizeof(dst)));
			peer = accept(self->lsn, NULL, NULL);
			ASSERT_GE(peer, 0);
			kick_me(&k, SYS_recvfrom, SYS_recvfrom, SIGUSR1, 0);
			ASSERT_EQ(-1, recv(fd, buf, 16, 0));
			break;
		default:
			ASSERT_EQ(0, connect(fd, (struct sockaddr *)&dst,
					     sizeof(dst)));
			peer = accept(self->lsn, NULL, NULL);
			ASSERT_GE(peer, 0);
			kick_me(&k, SYS_sendto, SYS_sendto, SIGUSR1, 0);
			ASSERT_EQ(-1, send(fd, buf, 1 << 20, 0));
			break;
		}
		ASSERT_EQ(EINTR, errno) TH_LOG("round %ld", r);
		pthread_join(k.thread, NULL);
		close(fd);
		close(peer);
	}
	EXPECT_EQ(rounds, caught);
	TH_LOG("%ld cancellations in %ld ms", rounds, now_ms() - t0);
	EXPECT_EQ(0, san_stat("pinned"));
	free(buf);
	close(self->lsn);
	self->lsn = -1;
	busy = san_wait_idle(60);
	EXPECT_EQ(NULL, busy) TH_LOG("%s still %ld", busy, san_stat(busy));
}

TEST_HARNESS_MAIN
