// SPDX-License-Identifier: GPL-2.0
/*
 * Zero-copy (docs/semantics.md "Cancellation", "Data transfer"): data
 * integrity around the threshold, both sides; the cancellation rows of a
 * zero-copy send and receive (wait up to the cancel timeout, then abort and
 * flush); SIGKILL in the middle of a transfer; pinned pages back to zero
 * after each test.
 *
 * A zero-copy send stays in flight until the peer reads it, so a peer
 * that does not read holds a send naturally.  A receive is held with the
 * module's test knob zc_hold_ms, which delays handling the READ's
 * completion as a slow device would.
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
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "san_util.h"
#include "san_kick.h"

#define THRESHOLD	65536
#define HOLD_KNOB	"/sys/module/af_san/parameters/zc_hold_ms"

FIXTURE(zc)
{
	int family;
	struct sockaddr_in self;
	int lsn, cli, srv;
};

static void set_hold(int ms)
{
	FILE *f = fopen(HOLD_KNOB, "w");

	if (f) {
		fprintf(f, "%d\n", ms);
		fclose(f);
	}
}

FIXTURE_SETUP(zc)
{
	const char *addr = getenv("SAN_SELF");
	const char *only = getenv("SAN_ONLY");

	self->lsn = self->cli = self->srv = -1;
	self->family = -1;
	if (only && !strstr(_metadata->name, only))
		SAN_SETUP_SKIP("not in SAN_ONLY");
	self->family = san_family();
	if (self->family < 0)
		SAN_SETUP_SKIP("af_san is not loaded");
	if (!addr)
		SAN_SETUP_SKIP("SAN_SELF (an address on an RDMA device) is not set: run in tools/testbox");
	if (san_iwarp())
		SAN_SETUP_SKIP(SAN_IWARP_NO_ZC);
	memset(&self->self, 0, sizeof(self->self));
	self->self.sin_family = AF_INET;
	ASSERT_EQ(1, inet_pton(AF_INET, addr, &self->self.sin_addr));
	ASSERT_EQ(NULL, san_wait_idle(10));
}

FIXTURE_TEARDOWN(zc)
{
	set_hold(0);
	signal(SIGUSR1, SIG_DFL);
	if (self->cli >= 0)
		close(self->cli);
	if (self->srv >= 0)
		close(self->srv);
	if (self->lsn >= 0)
		close(self->lsn);
	if (self->family >= 0)
		EXPECT_EQ(NULL, san_wait_idle(20));
}

/* cli -> srv, both with the zero-copy threshold at THRESHOLD. */
static void make_pair(struct __test_metadata *_metadata,
		      FIXTURE_DATA(zc) *self)
{
	struct sockaddr_in dst;
	socklen_t len = sizeof(dst);
	int t = THRESHOLD;

	self->lsn = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(self->lsn, 0);
	ASSERT_EQ(0, setsockopt(self->lsn, SOL_SAN, SAN_ZCOPY_THRESHOLD, &t,
				sizeof(t)));
	ASSERT_EQ(0, bind(self->lsn, (struct sockaddr *)&self->self,
			  sizeof(self->self)));
	ASSERT_EQ(0, listen(self->lsn, 4));
	ASSERT_EQ(0, getsockname(self->lsn, (struct sockaddr *)&dst, &len));
	self->cli = socket(self->family, SOCK_STREAM, 0);
	ASSERT_GE(self->cli, 0);
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SAN, SAN_ZCOPY_THRESHOLD, &t,
				sizeof(t)));
	ASSERT_EQ(0, connect(self->cli, (struct sockaddr *)&dst, sizeof(dst)));
	self->srv = accept(self->lsn, NULL, NULL);
	ASSERT_GE(self->srv, 0);
}

static unsigned char pattern(size_t i)
{
	return (i * 131 + (i >> 13)) & 0xff;
}

static void fill(unsigned char *buf, size_t off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern(off + i);
}

static void set_cancel_timeout(struct __test_metadata *_metadata, int fd,
			       int ms)
{
	ASSERT_EQ(0, setsockopt(fd, SOL_SAN, SAN_CANCEL_TIMEOUT, &ms,
				sizeof(ms)));
}

TEST_F(zc, threshold_option_and_sysctl)
{
	int fd = socket(self->family, SOCK_STREAM, 0), val;
	socklen_t len = sizeof(val);
	FILE *f;

	ASSERT_GE(fd, 0);
	ASSERT_EQ(0, getsockopt(fd, SOL_SAN, SAN_ZCOPY_THRESHOLD, &val, &len));
	EXPECT_EQ(0, val);
	val = 4096;
	EXPECT_EQ(0, setsockopt(fd, SOL_SAN, SAN_ZCOPY_THRESHOLD, &val,
				sizeof(val)));
	ASSERT_EQ(0, getsockopt(fd, SOL_SAN, SAN_ZCOPY_THRESHOLD, &val, &len));
	EXPECT_EQ(4096, val);
	val = -1;
	EXPECT_EQ(-1, setsockopt(fd, SOL_SAN, SAN_ZCOPY_THRESHOLD, &val,
				 sizeof(val)));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	f = fopen("/proc/sys/net/san/zcopy_threshold", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%d", &val));
	fclose(f);
	EXPECT_EQ(65536, val);
}

/*
 * Sizes just below, at and above the threshold, larger than one exposure,
 * mixed; the receiver reads with large buffers (straight into its pages)
 * and small ones (through a kernel buffer).  Every byte is checked.
 */
TEST_F(zc, integrity_around_threshold)
{
	static const size_t sizes[] = {
		THRESHOLD - 1, THRESHOLD, THRESHOLD + 1, 1, 3 * THRESHOLD + 5,
		1 << 20, (1 << 20) + 123, 100, 5 << 20, THRESHOLD, 7,
		2 * THRESHOLD - 1,
	};
	size_t total = 0, got = 0, i, chunk;
	long sends0 = san_stat("zc_sends"), reads0 = san_stat("zc_reads");
	long bounced0 = san_stat("zc_bounced");
	unsigned char *buf, *rbuf;
	pid_t pid;
	int st;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		total += sizes[i];
	buf = malloc(total);
	rbuf = malloc(total);
	ASSERT_TRUE(buf && rbuf);
	fill(buf, 0, total);
	make_pair(_metadata, self);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid) {
		size_t off = 0;

		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			if (send(self->cli, buf + off, sizes[i], 0) !=
			    (ssize_t)sizes[i])
				_exit(1);
			off += sizes[i];
		}
		_exit(0);
	}
	/* Read sizes cycle: large (direct), small (bounce), odd. */
	for (i = 0; got < total; i++) {
		static const size_t rs[] = { 1 << 20, 4000, THRESHOLD, 1,
					     300000, THRESHOLD - 1 };
		ssize_t n;

		chunk = rs[i % 6];
		if (chunk > total - got)
			chunk = total - got;
		n = recv(self->srv, rbuf + got, chunk, 0);
		ASSERT_GT(n, 0) TH_LOG("recv: %s at %zu", strerror(errno), got);
		got += n;
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_EQ(total, got);
	for (i = 0; i < total; i++)
		if (rbuf[i] != pattern(i))
			break;
	EXPECT_EQ(total, i) TH_LOG("first bad byte at %zu", i);
	/* Zero-copy did happen, both ways of reading. */
	EXPECT_LT(sends0, san_stat("zc_sends"));
	EXPECT_LT(reads0, san_stat("zc_reads"));
	EXPECT_LT(bounced0, san_stat("zc_bounced"));
	EXPECT_EQ(0, san_stat("pinned"));
	free(buf);
	free(rbuf);
}

/* MSG_PEEK on zero-copy data leaves it in the stream. */
TEST_F(zc, peek_then_read)
{
	size_t len = 4 * THRESHOLD;
	unsigned char *buf = malloc(len), *a = malloc(len), *b = malloc(len);
	pid_t pid;
	ssize_t n;
	int st;

	ASSERT_TRUE(buf && a && b);
	fill(buf, 0, len);
	make_pair(_metadata, self);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (!pid)
		_exit(send(self->cli, buf, len, 0) == (ssize_t)len ? 0 : 1);
	n = recv(self->srv, a, THRESHOLD, MSG_PEEK);
	ASSERT_GT(n, 0);
	EXPECT_EQ(0, memcmp(a, buf, n));
	EXPECT_EQ((ssize_t)len, recv(self->srv, b, len, MSG_WAITALL));
	EXPECT_EQ(0, memcmp(b, buf, len));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	free(buf);
	free(a);
	free(b);
}

/*
 * A zero-copy send whose peer does not read, cancelled: it waits the
 * cancel timeout, then the connection is aborted; EINTR within the
 * timeout plus 100 ms; the peer sees a reset; nothing stays pinned.
 */
TEST_F(zc, send_cancel_timeout_aborts)
{
	size_t len = 1 << 20;
	char *buf = calloc(1, len), c;
	struct kicker k;
	long ret_ms;
	ssize_t n;

	ASSERT_NE(NULL, buf);
	make_pair(_metadata, self);
	set_cancel_timeout(_metadata, self->cli, 300);
	catch_signal(SIGUSR1, SA_RESTART);
	kick_me(&k, SYS_sendto, SYS_sendto, SIGUSR1, 50);
	n = send(self->cli, buf, len, 0);
	ret_ms = now_ms();
	pthread_join(k.thread, NULL);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EINTR, errno);
	EXPECT_LE(300, ret_ms - k.sent_ms);
	EXPECT_GE(300 + bound_ms(100), ret_ms - k.sent_ms);
	EXPECT_EQ(0, san_stat("pinned"));
	/* Dead: only close() works; the peer sees the reset. */
	EXPECT_EQ(-1, recv(self->cli, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(ECONNABORTED, errno);
	{
		struct pollfd pfd = { .fd = self->srv };

		EXPECT_EQ(1, poll(&pfd, 1, bound_ms(1000)));
		EXPECT_EQ(POLLERR | POLLHUP,
			  pfd.revents & (POLLERR | POLLHUP));
	}
	EXPECT_EQ(-1, recv(self->srv, buf, len, 0));
	EXPECT_EQ(ECONNRESET, errno);
	free(buf);
}

struct late_reader {
	pthread_t thread;
	struct kicker *k;
	int fd;
	char *buf;
	size_t len;
	ssize_t got;
};

static void *late_reader_main(void *arg)
{
	struct late_reader *lr = arg;

	/* The handler runs only once send() returns: watch the kicker. */
	while (!__atomic_load_n(&lr->k->sent_ms, __ATOMIC_ACQUIRE))
		usleep(1000);
	usleep(200000);
	lr->got = recv(lr->fd, lr->buf, lr->len, MSG_WAITALL);
	return NULL;
}

/*
 * Cancelled, but the peer reads within the cancel timeout: the call
 * returns what was transferred; under the abort policy the connection is
 * then torn down.
 */
TEST_F(zc, send_cancel_finishes_within_timeout)
{
	size_t len = 1 << 20;
	char *buf = malloc(len);
	struct late_reader lr = { .len = len };
	struct kicker k;
	ssize_t n;

	lr.buf = malloc(len);
	ASSERT_TRUE(buf && lr.buf);
	fill((unsigned char *)buf, 0, len);
	make_pair(_metadata, self);
	set_cancel_timeout(_metadata, self->cli, 5000);
	lr.fd = self->srv;
	lr.k = &k;
	catch_signal(SIGUSR1, 0);
	kick_me(&k, SYS_sendto, SYS_sendto, SIGUSR1, 50);
	pthread_create(&lr.thread, NULL, late_reader_main, &lr);
	n = send(self->cli, buf, len, 0);
	pthread_join(k.thread, NULL);
	pthread_join(lr.thread, NULL);
	EXPECT_EQ((ssize_t)len, n) TH_LOG("send: %s", strerror(errno));
	EXPECT_EQ((ssize_t)len, lr.got);
	EXPECT_EQ(0, memcmp(buf, lr.buf, len));
	EXPECT_EQ(-1, send(self->cli, buf, 1, MSG_NOSIGNAL));
	EXPECT_TRUE(errno == ECONNABORTED || errno == EPIPE);
	EXPECT_EQ(0, san_stat("pinned"));
	free(buf);
	free(lr.buf);
}

/* Send 1 MiB zero-copy from a child; returns its pid. */
static pid_t send_child(int fd, size_t len)
{
	pid_t pid = fork();

	if (!pid) {
		char *buf = malloc(len);

		memset(buf, 'z', len);
		_exit(send(fd, buf, len, 0) == (ssize_t)len ? 0 : 1);
	}
	return pid;
}

/*
 * A zero-copy receive whose READ the device holds past the cancel
 * timeout: the reset flushes it, EINTR within timeout + 100 ms.
 */
TEST_F(zc, recv_cancel_timeout_flushes)
{
	size_t len = 1 << 20;
	char *buf = malloc(len);
	struct kicker k;
	long ret_ms;
	ssize_t n;
	pid_t pid;
	int st;

	ASSERT_NE(NULL, buf);
	if (access(HOLD_KNOB, W_OK))
		SKIP(return, "no %s", HOLD_KNOB);
	make_pair(_metadata, self);
	set_cancel_timeout(_metadata, self->srv, 300);
	pid = send_child(self->cli, len);
	ASSERT_GE(pid, 0);
	san_wait_data(self->srv);
	set_hold(5000);
	catch_signal(SIGUSR1, 0);
	kick_me(&k, SYS_recvfrom, SYS_recvfrom, SIGUSR1, 50);
	n = recv(self->srv, buf, len, 0);
	ret_ms = now_ms();
	pthread_join(k.thread, NULL);
	set_hold(0);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EINTR, errno);
	EXPECT_LE(300, ret_ms - k.sent_ms);
	EXPECT_GE(300 + bound_ms(100), ret_ms - k.sent_ms);
	EXPECT_EQ(-1, recv(self->srv, buf, 1, 0));
	EXPECT_EQ(ECONNABORTED, errno);
	/* The sender's exposure ends with the reset. */
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	EXPECT_EQ(0, san_stat("pinned"));
	free(buf);
}

/* The device finishes within the cancel timeout: the bytes are there. */
TEST_F(zc, recv_cancel_finishes_within_timeout)
{
	size_t len = 1 << 20;
	char *buf = malloc(len);
	struct kicker k;
	ssize_t n, i;
	pid_t pid;
	int st;

	ASSERT_NE(NULL, buf);
	if (access(HOLD_KNOB, W_OK))
		SKIP(return, "no %s", HOLD_KNOB);
	make_pair(_metadata, self);
	set_cancel_timeout(_metadata, self->srv, 5000);
	pid = send_child(self->cli, len);
	ASSERT_GE(pid, 0);
	san_wait_data(self->srv);
	set_hold(500);
	catch_signal(SIGUSR1, 0);
	kick_me(&k, SYS_recvfrom, SYS_recvfrom, SIGUSR1, 50);
	n = recv(self->srv, buf, len, MSG_WAITALL);
	pthread_join(k.thread, NULL);
	set_hold(0);
	EXPECT_EQ((ssize_t)len, n);
	for (i = 0; i < n && buf[i] == 'z'; i++)
		;
	EXPECT_EQ(n, i);
	/*
	 * The sender's pages stay pinned until its RD_DONE arrives, which
	 * may be after our recv() returned: count them once it has exited.
	 */
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	EXPECT_EQ(0, san_stat("pinned"));
}

/*
 * SIGKILL in the middle of a zero-copy send (the peer does not read) and
 * of a zero-copy receive (the device holds the READ): the process exits
 * only once its pages are no longer in use by the device; nothing stays
 * pinned, the peer sees the reset.
 */
TEST_F(zc, sigkill_during_send)
{
	char c;
	pid_t pid;
	int st;

	make_pair(_metadata, self);
	set_cancel_timeout(_metadata, self->cli, 200);
	pid = send_child(self->cli, 1 << 20);
	ASSERT_GE(pid, 0);
	close(self->cli);
	self->cli = -1;
	ASSERT_EQ(0, wait_asleep(pid, pid, SYS_sendto, SYS_sendto));
	EXPECT_LT(0, san_stat("pinned"));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFSIGNALED(st));
	EXPECT_EQ(0, san_stat("pinned"));
	EXPECT_EQ(-1, recv(self->srv, &c, 1, 0));
	EXPECT_EQ(ECONNRESET, errno);
}

TEST_F(zc, sigkill_during_recv)
{
	size_t len = 1 << 20;
	pid_t pid, rpid;
	int st;

	if (access(HOLD_KNOB, W_OK))
		SKIP(return, "no %s", HOLD_KNOB);
	make_pair(_metadata, self);
	set_cancel_timeout(_metadata, self->srv, 200);
	pid = send_child(self->cli, len);
	ASSERT_GE(pid, 0);
	san_wait_data(self->srv);
	set_hold(10000);
	rpid = fork();
	ASSERT_GE(rpid, 0);
	if (!rpid) {
		char *buf = malloc(len);

		recv(self->srv, buf, len, 0);
		_exit(0);
	}
	close(self->srv);
	self->srv = -1;
	ASSERT_EQ(0, wait_asleep(rpid, rpid, SYS_recvfrom, SYS_recvfrom));
	/* Asleep with its READ held: its pages are pinned. */
	for (st = 0; st < 1000 && san_stat("pinned") == 0; st++)
		usleep(1000);
	EXPECT_LT(0, san_stat("pinned"));
	kill(rpid, SIGKILL);
	ASSERT_EQ(rpid, waitpid(rpid, &st, 0));
	set_hold(0);
	EXPECT_TRUE(WIFSIGNALED(st));
	/*
	 * At most the sender's pages (1 MiB, unaligned: 257) are left: it
	 * unpins when the reset reaches it, which may be later.
	 */
	EXPECT_GE(257, san_stat("pinned"));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
	EXPECT_EQ(0, san_stat("pinned"));
}

TEST_HARNESS_MAIN
