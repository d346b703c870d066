// SPDX-License-Identifier: GPL-2.0
/*
 * The net.san.* tunables, one set per network namespace: a new namespace
 * starts with the defaults, each tunable refuses a value one past either
 * end of its range with EINVAL and keeps its value, takes both ends, and
 * a write in one namespace changes neither another namespace nor the
 * sockets created there.  Every test runs in a namespace of its own
 * (unshare(CLONE_NEWNET) in the harness's child), so the test box's own
 * values are never touched.  Needs root.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include "kselftest_harness.h"
#include "san_util.h"

struct tunable {
	const char *name;
	long def, min, max;
};

static const struct tunable tunables[] = {
	{ "policy", SAN_POLICY_PREFER_RDMA, 0, SAN_POLICY_TCP_ONLY },
	{ "fallback_timeout_ms", 3000, 100, 600000 },
	{ "cancel_timeout_ms", 2000, 1, 600000 },
	{ "zcopy_threshold", 65536, 0, INT_MAX },
	{ "rmem_default", 212992, 65536, 2097152 },
	{ "wmem_default", 212992, 65536, 2097152 },
};

static const struct tunable *tunable(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(tunables) / sizeof(tunables[0]); i++)
		if (!strcmp(tunables[i].name, name))
			return &tunables[i];
	return NULL;
}

/* Reads /proc/sys/net/san/NAME; -1 with errno when it cannot. */
static long sysctl_read(const char *name)
{
	char path[128], buf[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/sys/net/san/%s", name);
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	return strtol(buf, NULL, 10);
}

/* Writes VALUE; 0 or the errno of the write. */
static int sysctl_write(const char *name, long value)
{
	char path[128], buf[64];
	int fd, err = 0, len;

	snprintf(path, sizeof(path), "/proc/sys/net/san/%s", name);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return errno;
	len = snprintf(buf, sizeof(buf), "%ld\n", value);
	if (write(fd, buf, len) != len)
		err = errno ? errno : EIO;
	close(fd);
	return err;
}

static void expect_value(struct __test_metadata *_metadata,
			 const struct tunable *t, long want)
{
	long got = sysctl_read(t->name);

	if (got != want)
		TH_LOG("net.san.%s is %ld, expected %ld", t->name, got, want);
	EXPECT_EQ(want, got);
}

FIXTURE(ns)
{
	int family;
};

FIXTURE_SETUP(ns)
{
	self->family = san_family();
	if (self->family < 0)
		SAN_SETUP_SKIP("af_san is not loaded (%s missing)",
			       SAN_FAMILY_SYSFS);
	if (geteuid())
		SAN_SETUP_SKIP("needs root (unshare(CLONE_NEWNET))");
	ASSERT_EQ(0, unshare(CLONE_NEWNET)) TH_LOG("unshare: %m");
}

FIXTURE_TEARDOWN(ns)
{
}

TEST_F(ns, new_namespace_starts_with_the_defaults)
{
	size_t i;

	for (i = 0; i < sizeof(tunables) / sizeof(tunables[0]); i++)
		expect_value(_metadata, &tunables[i], tunables[i].def);
}

/* One past each end fails with EINVAL and changes nothing; both ends go. */
static void check_limits(struct __test_metadata *_metadata, const char *name)
{
	const struct tunable *t = tunable(name);
	long mid;

	ASSERT_NE(NULL, t);
	mid = t->def == t->min ? t->min + 1 : t->def;
	ASSERT_EQ(0, sysctl_write(name, mid));
	if (t->min > INT_MIN)
		EXPECT_EQ(EINVAL, sysctl_write(name, t->min - 1))
			TH_LOG("net.san.%s = %ld", name, t->min - 1);
	EXPECT_EQ(mid, sysctl_read(name));
	if (t->max < INT_MAX) {
		EXPECT_EQ(EINVAL, sysctl_write(name, t->max + 1))
			TH_LOG("net.san.%s = %ld", name, t->max + 1);
	} else {
		/* Past an int: the handler refuses it too. */
		EXPECT_EQ(EINVAL, sysctl_write(name, (long)INT_MAX + 1))
			TH_LOG("net.san.%s = %ld", name, (long)INT_MAX + 1);
	}
	EXPECT_EQ(mid, sysctl_read(name));
	EXPECT_EQ(0, sysctl_write(name, t->min));
	EXPECT_EQ(t->min, sysctl_read(name));
	EXPECT_EQ(0, sysctl_write(name, t->max));
	EXPECT_EQ(t->max, sysctl_read(name));
}

TEST_F(ns, limits_policy)
{
	check_limits(_metadata, "policy");
}

TEST_F(ns, limits_fallback_timeout_ms)
{
	check_limits(_metadata, "fallback_timeout_ms");
}

TEST_F(ns, limits_cancel_timeout_ms)
{
	check_limits(_metadata, "cancel_timeout_ms");
}

TEST_F(ns, limits_zcopy_threshold)
{
	check_limits(_metadata, "zcopy_threshold");
}

TEST_F(ns, limits_rmem_default)
{
	check_limits(_metadata, "rmem_default");
}

TEST_F(ns, limits_wmem_default)
{
	check_limits(_metadata, "wmem_default");
}

static int sockopt(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int val = -1;

	if (getsockopt(fd, level, name, &val, &len))
		return -errno;
	return val;
}

/*
 * A socket takes its namespace's defaults (SO_RCVBUF, SO_SNDBUF,
 * SAN_POLICY) when it is created, AF_SAN and IPPROTO_SAN alike; a
 * socket made before the change keeps what it had.
 */
TEST_F(ns, sockets_take_their_namespace_defaults)
{
	int before, fd, fd6, fdi;

	before = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, before);
	ASSERT_EQ(0, sysctl_write("rmem_default", 65536));
	ASSERT_EQ(0, sysctl_write("wmem_default", 1048576));
	ASSERT_EQ(0, sysctl_write("policy", SAN_POLICY_TCP_ONLY));
	fd = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	fdi = socket(AF_INET, SOCK_STREAM, IPPROTO_SAN);
	ASSERT_LE(0, fdi);
	fd6 = socket(AF_INET6, SOCK_STREAM, IPPROTO_SAN);
	ASSERT_LE(0, fd6);
	EXPECT_EQ(65536, sockopt(fd, SOL_SOCKET, SO_RCVBUF));
	EXPECT_EQ(1048576, sockopt(fd, SOL_SOCKET, SO_SNDBUF));
	EXPECT_EQ(SAN_POLICY_TCP_ONLY, sockopt(fd, SOL_SAN, SAN_POLICY));
	EXPECT_EQ(65536, sockopt(fdi, SOL_SOCKET, SO_RCVBUF));
	EXPECT_EQ(1048576, sockopt(fdi, SOL_SOCKET, SO_SNDBUF));
	EXPECT_EQ(SAN_POLICY_TCP_ONLY, sockopt(fdi, SOL_SAN, SAN_POLICY));
	EXPECT_EQ(65536, sockopt(fd6, SOL_SOCKET, SO_RCVBUF));
	EXPECT_EQ(SAN_POLICY_TCP_ONLY, sockopt(fd6, SOL_SAN, SAN_POLICY));
	EXPECT_EQ(212992, sockopt(before, SOL_SOCKET, SO_RCVBUF));
	EXPECT_EQ(212992, sockopt(before, SOL_SOCKET, SO_SNDBUF));
	EXPECT_EQ(SAN_POLICY_PREFER_RDMA,
		  sockopt(before, SOL_SAN, SAN_POLICY));
	close(before);
	close(fd);
	close(fdi);
	close(fd6);
}

/*
 * A write in one namespace is seen neither by its sibling nor by the
 * sockets created there: a child process makes a namespace of its own
 * and changes everything; this one's values and sockets stay.
 */
TEST_F(ns, namespaces_are_separate)
{
	size_t i, n = sizeof(tunables) / sizeof(tunables[0]);
	long mine[sizeof(tunables) / sizeof(tunables[0])];
	int status, fd;
	pid_t pid;

	ASSERT_EQ(0, sysctl_write("cancel_timeout_ms", 4321));
	for (i = 0; i < n; i++)
		mine[i] = sysctl_read(tunables[i].name);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int bad = unshare(CLONE_NEWNET) ? 1 : 0;

		/* Fresh defaults there, not this namespace's 4321. */
		if (sysctl_read("cancel_timeout_ms") != 2000)
			bad |= 2;
		for (i = 0; i < n; i++)
			if (sysctl_write(tunables[i].name, tunables[i].max))
				bad |= 4;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	for (i = 0; i < n; i++)
		expect_value(_metadata, &tunables[i], mine[i]);
	fd = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	EXPECT_EQ(212992, sockopt(fd, SOL_SOCKET, SO_RCVBUF));
	EXPECT_EQ(SAN_POLICY_PREFER_RDMA, sockopt(fd, SOL_SAN, SAN_POLICY));
	close(fd);
}

/*
 * A namespace owned by an unprivileged user namespace may set the
 * timeouts, the policy and the threshold, but not the buffer sizes, which
 * decide how much kernel memory each socket registers (SO_RCVBUF cannot
 * pass net.core.rmem_max there either).
 */
TEST_F(ns, user_namespace_cannot_raise_buffers)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		int bad = 0;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET))
			_exit(errno == EPERM || errno == EINVAL ? 42 : 11);
		if (sysctl_write("rmem_default", 2097152) != EACCES)
			bad |= 1;
		if (sysctl_write("wmem_default", 2097152) != EACCES)
			bad |= 2;
		if (sysctl_read("rmem_default") != 212992)
			bad |= 4;
		if (sysctl_write("cancel_timeout_ms", 1234) ||
		    sysctl_read("cancel_timeout_ms") != 1234)
			bad |= 8;
		if (sysctl_write("policy", SAN_POLICY_TCP_ONLY))
			bad |= 16;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	if (WEXITSTATUS(status) == 42)
		SKIP(return, "unprivileged user namespaces are disabled");
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
