// SPDX-License-Identifier: GPL-2.0
/*
 * socket(2) and close(2) on AF_SAN: the types and protocols it accepts and
 * refuses (docs/semantics.md "The socket"), the generic socket options, and the
 * in-use counter going back to its baseline.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>

#include "kselftest_harness.h"
#include "san_util.h"

FIXTURE(fam)
{
	int family;
	long baseline;
};

FIXTURE_SETUP(fam)
{
	self->family = san_family();
	if (self->family < 0)
		SKIP(return, "af_san is not loaded (%s missing)", SAN_FAMILY_SYSFS);
	self->baseline = san_sockets_in_use();
	ASSERT_GE(self->baseline, 0);
}

FIXTURE_TEARDOWN(fam)
{
	EXPECT_EQ(self->baseline, san_sockets_in_use());
}

TEST_F(fam, stream_socket_and_close)
{
	int fd = socket(self->family, SOCK_STREAM, 0);

	ASSERT_GE(fd, 0) TH_LOG("socket: %s", strerror(errno));
	EXPECT_EQ(self->baseline + 1, san_sockets_in_use());
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(self->baseline, san_sockets_in_use());
}

TEST_F(fam, family_is_the_uapi_default)
{
	/* The suite runs with the module's default unless told otherwise. */
	if (getenv("SAN_FAMILY_OVERRIDDEN"))
		SKIP(return, "module loaded with a family override");
	EXPECT_EQ(AF_SAN, self->family);
}

TEST_F(fam, socket_flags)
{
	int fd = socket(self->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	ASSERT_GE(fd, 0);
	EXPECT_EQ(O_NONBLOCK, fcntl(fd, F_GETFL) & O_NONBLOCK);
	EXPECT_EQ(FD_CLOEXEC, fcntl(fd, F_GETFD) & FD_CLOEXEC);
	EXPECT_EQ(0, close(fd));
}

TEST_F(fam, generic_options)
{
	int fd = socket(self->family, SOCK_STREAM, 0);
	int val;
	socklen_t len;

	ASSERT_GE(fd, 0);
	len = sizeof(val);
	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_TYPE, &val, &len));
	EXPECT_EQ(SOCK_STREAM, val);
	len = sizeof(val);
	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len));
	EXPECT_EQ(self->family, val);
	len = sizeof(val);
	ASSERT_EQ(0, getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &val, &len));
	EXPECT_EQ(0, val);
	EXPECT_EQ(0, close(fd));
}

TEST_F(fam, other_types_refused)
{
	static const int types[] = { SOCK_DGRAM, SOCK_SEQPACKET, SOCK_RAW,
				     SOCK_RDM };
	unsigned int i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		EXPECT_EQ(-1, socket(self->family, types[i], 0));
		EXPECT_EQ(ESOCKTNOSUPPORT, errno) TH_LOG("type %d", types[i]);
	}
}

TEST_F(fam, other_protocols_refused)
{
	static const int protos[] = { IPPROTO_TCP, IPPROTO_UDP, 1, 255, -1 };
	unsigned int i;

	for (i = 0; i < sizeof(protos) / sizeof(protos[0]); i++) {
		EXPECT_EQ(-1, socket(self->family, SOCK_STREAM, protos[i]));
		EXPECT_EQ(EPROTONOSUPPORT, errno) TH_LOG("protocol %d", protos[i]);
	}
}

TEST_F(fam, many_sockets_counted_and_released)
{
	enum { MAX = 256 };
	int fds[MAX], i, N = san_scaled(MAX);

	for (i = 0; i < N; i++) {
		fds[i] = socket(self->family, SOCK_STREAM, 0);
		ASSERT_GE(fds[i], 0);
	}
	EXPECT_EQ(self->baseline + N, san_sockets_in_use());
	for (i = 0; i < N; i++)
		EXPECT_EQ(0, close(fds[i]));
	EXPECT_EQ(self->baseline, san_sockets_in_use());
}

TEST_F(fam, inherited_across_fork)
{
	int fd = socket(self->family, SOCK_STREAM, 0), status;
	pid_t pid;

	ASSERT_GE(fd, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int val;
		socklen_t len = sizeof(val);

		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len) ||
		    val != self->family)
			_exit(1);
		_exit(close(fd) ? 2 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The child's close dropped a reference only: ours still works. */
	EXPECT_EQ(self->baseline + 1, san_sockets_in_use());
	EXPECT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
