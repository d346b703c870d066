// SPDX-License-Identifier: GPL-2.0
/*
 * SIGKILL in the middle of a zero-copy transfer, between two hosts
 * (tools/check runs it on the guest pair):
 *
 *   san_zc_peer sink ADDR PORT     (host A)
 *   san_zc_peer source ADDR PORT   (host B)
 *
 * Round 1: B sends 1 MiB zero-copy from a child; A does not read, so the
 * child sleeps with its pages exposed; B kills it with SIGKILL.  B checks
 * that its pages were unpinned once the child was gone, A that its
 * connection was reset.
 * Round 2: B sends 1 MiB zero-copy; a child of A receives it with the
 * READ held by zc_hold_ms (a slow device); A kills it with SIGKILL and
 * checks that nothing stays pinned; B's send fails.
 *
 * Each prints one line per check and exits 0 only if all passed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "san_util.h"
#include "san_kick.h"

#define LEN	(1 << 20)

static int fails;

static void check(int ok, const char *what)
{
	printf("%s: %s\n", ok ? "ok" : "FAILED", what);
	if (!ok)
		fails++;
}

static void knob(const char *name, int val)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/module/af_san/parameters/%s",
		 name);
	f = fopen(path, "w");
	if (f) {
		fprintf(f, "%d\n", val);
		fclose(f);
	}
}

static int short_cancel(int fd)
{
	int ms = 200;

	return setsockopt(fd, SOL_SAN, SAN_CANCEL_TIMEOUT, &ms, sizeof(ms));
}

/* A child sending LEN bytes on @fd; exits 0 if all went. */
static pid_t sender(int fd)
{
	pid_t pid = fork();

	if (!pid) {
		char *buf = malloc(LEN);

		memset(buf, 's', LEN);
		_exit(send(fd, buf, LEN, MSG_NOSIGNAL) == LEN ? 0 : 1);
	}
	return pid;
}

static int sink(int fam, struct sockaddr_in *in)
{
	int l = socket(fam, SOCK_STREAM, 0), fd, st;
	char c;
	pid_t pid;

	if (bind(l, (struct sockaddr *)in, sizeof(*in)) || listen(l, 2))
		return 1;
	/* Round 1: do not read; the peer's killed sender resets us. */
	fd = accept(l, NULL, NULL);
	{
		struct pollfd pfd = { .fd = fd };

		poll(&pfd, 1, 60000);
		check(pfd.revents & POLLERR,
		      "round 1: the killed sender's connection was reset");
	}
	check(recv(fd, &c, 1, 0) == -1 && errno == ECONNRESET,
	      "round 1: reading it says ECONNRESET");
	close(fd);

	/* Round 2: receive in a child, its READ held, and kill it. */
	fd = accept(l, NULL, NULL);
	short_cancel(fd);
	san_wait_data(fd);
	knob("zc_hold_ms", 10000);
	pid = fork();
	if (!pid) {
		char *buf = malloc(LEN);

		recv(fd, buf, LEN, 0);
		_exit(0);
	}
	close(fd);
	if (wait_asleep(pid, pid, SYS_recvfrom, SYS_recvfrom))
		check(0, "round 2: the receiver sleeps in recv");
	for (st = 0; st < 1000 && san_stat("pinned") <= 0; st++)
		usleep(1000);
	check(san_stat("pinned") > 0, "round 2: the receiver's pages are pinned");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	knob("zc_hold_ms", 0);
	check(WIFSIGNALED(st), "round 2: the receiver was killed");
	check(san_stat("pinned") == 0, "round 2: nothing pinned after its death");
	close(l);
	check(san_wait_idle(20) == NULL, "sink: every counter back to 0");
	return fails != 0;
}

static int connect_retry(int fam, struct sockaddr_in *in)
{
	int fd, i;

	for (i = 0; i < 150; i++) {
		fd = socket(fam, SOCK_STREAM, 0);
		san_rdma_only(fd);
		if (!connect(fd, (struct sockaddr *)in, sizeof(*in)))
			return fd;
		close(fd);
		usleep(200000);
	}
	return -1;
}

static int source(int fam, struct sockaddr_in *in)
{
	int fd, st;
	pid_t pid;

	/* Round 1: the peer does not read; kill the sender mid-exposure. */
	fd = connect_retry(fam, in);
	if (fd < 0)
		return 1;
	short_cancel(fd);
	pid = sender(fd);
	close(fd);
	if (wait_asleep(pid, pid, SYS_sendto, SYS_sendto))
		check(0, "round 1: the sender sleeps in send");
	check(san_stat("pinned") > 0, "round 1: the sender's pages are pinned");
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	check(WIFSIGNALED(st), "round 1: the sender was killed");
	check(san_stat("pinned") == 0, "round 1: nothing pinned after its death");

	/* Round 2: the peer's receiver is killed; our send fails. */
	sleep(1);
	fd = connect_retry(fam, in);
	if (fd < 0)
		return 1;
	pid = sender(fd);
	close(fd);
	waitpid(pid, &st, 0);
	check(WIFEXITED(st) && WEXITSTATUS(st) == 1,
	      "round 2: the send failed when the receiver died");
	check(san_wait_idle(20) == NULL, "source: every counter back to 0");
	return fails != 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	int fam = san_family();

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4 || fam < 0 ||
	    inet_pton(AF_INET, argv[2], &in.sin_addr) != 1)
		return 2;
	in.sin_port = htons(atoi(argv[3]));
	if (!strcmp(argv[1], "sink"))
		return sink(fam, &in);
	return source(fam, &in);
}
