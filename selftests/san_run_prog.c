// SPDX-License-Identifier: GPL-2.0
/*
 * A plain TCP program, for selftests/san_run.sh to run under san_run: it
 * uses only AF_INET/AF_INET6 TCP calls, and each step checks its result.
 * Under san_run every socket it makes must be AF_SAN's (SO_PROTOCOL is
 * IPPROTO_SAN) and every step must work as over TCP: epoll, a
 * non-blocking connect, accept4, setsockopt/getsockopt at SOL_TCP
 * (TCP_NODELAY, TCP_INFO), sendfile and splice, fork (the child serves
 * the connection it inherited) and threads.
 *
 *   san_run_prog ADDR [expect-san|expect-tcp]
 *
 * Prints "ok: ..." per step and exits 0 when all passed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef IPPROTO_SAN
#define IPPROTO_SAN 261
#endif

static int want_proto = IPPROTO_SAN;
static struct sockaddr_storage self;
static socklen_t self_len;

#define FAIL(...) do { printf("FAILED: " __VA_ARGS__); printf(" (%s)\n", strerror(errno)); exit(1); } while (0)

static void check_proto(int fd, const char *what)
{
	int proto = -1;
	socklen_t len = sizeof(proto);

	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len))
		FAIL("SO_PROTOCOL of %s", what);
	if (proto != want_proto) {
		errno = 0;
		FAIL("%s has protocol %d, not %d", what, proto, want_proto);
	}
}

static int port_of(int fd)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &len))
		FAIL("getsockname");
	return ntohs(a.ss_family == AF_INET ?
		     ((struct sockaddr_in *)&a)->sin_port :
		     ((struct sockaddr_in6 *)&a)->sin6_port);
}

static struct sockaddr_storage at(int port)
{
	struct sockaddr_storage a = self;

	if (a.ss_family == AF_INET)
		((struct sockaddr_in *)&a)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)&a)->sin6_port = htons(port);
	return a;
}

static void read_all(int fd, char *buf, size_t n)
{
	size_t got = 0;
	ssize_t r;

	while (got < n) {
		r = read(fd, buf + got, n - got);
		if (r <= 0)
			FAIL("read %zu of %zu", got, n);
		got += r;
	}
}

struct sf {
	int out, in;
	long sent;
};

/* sendfile() until the whole file went (it may move part of it). */
static void *sendfile_thread(void *arg)
{
	struct sf *sf = arg;
	ssize_t n;

	while (sf->sent < 65536) {
		n = sendfile(sf->out, sf->in, NULL, 65536 - sf->sent);
		if (n <= 0)
			break;
		sf->sent += n;
	}
	return NULL;
}

static void *echo_thread(void *arg)
{
	int fd = (int)(long)arg;
	char buf[4096];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		if (send(fd, buf, n, 0) != n)
			break;
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	int lsn, cli, srv, ep, one = 1, err = -1, p[2], tmp;
	char buf[65536], back[65536], path[] = "/tmp/san_run_progXXXXXX";
	struct epoll_event ev = { .events = EPOLLOUT }, got;
	struct sockaddr_storage dst;
	struct sf sf = { 0 };
	struct tcp_info ti;
	socklen_t len;
	pthread_t th;
	pid_t pid;
	int i, status;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (argc < 2) {
		fprintf(stderr, "usage: %s ADDR [expect-san|expect-tcp]\n", argv[0]);
		return 2;
	}
	if (argc > 2 && !strcmp(argv[2], "expect-tcp"))
		want_proto = IPPROTO_TCP;
	memset(&self, 0, sizeof(self));
	if (inet_pton(AF_INET, argv[1], &((struct sockaddr_in *)&self)->sin_addr) == 1) {
		self.ss_family = AF_INET;
		self_len = sizeof(struct sockaddr_in);
	} else if (inet_pton(AF_INET6, argv[1], &((struct sockaddr_in6 *)&self)->sin6_addr) == 1) {
		self.ss_family = AF_INET6;
		self_len = sizeof(struct sockaddr_in6);
	} else {
		return 2;
	}
	for (i = 0; i < (int)sizeof(buf); i++)
		buf[i] = (char)(i * 31 + 7);

	/* A listener, and a non-blocking connect completed through epoll. */
	lsn = socket(self.ss_family, SOCK_STREAM, 0);
	check_proto(lsn, "the listener");
	setsockopt(lsn, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(lsn, (struct sockaddr *)&self, self_len) || listen(lsn, 8))
		FAIL("bind/listen");
	cli = socket(self.ss_family, SOCK_STREAM | SOCK_NONBLOCK, IPPROTO_TCP);
	check_proto(cli, "the client");
	dst = at(port_of(lsn));
	if (connect(cli, (struct sockaddr *)&dst, self_len) == 0 || errno != EINPROGRESS)
		FAIL("non-blocking connect did not say EINPROGRESS");
	ep = epoll_create1(0);
	ev.data.fd = cli;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, cli, &ev) ||
	    epoll_wait(ep, &got, 1, 20000) != 1 || !(got.events & EPOLLOUT))
		FAIL("epoll for the connect");
	len = sizeof(err);
	if (getsockopt(cli, SOL_SOCKET, SO_ERROR, &err, &len) || err)
		FAIL("SO_ERROR %d", err);
	printf("ok: non-blocking connect, epoll\n");
	srv = accept4(lsn, NULL, NULL, SOCK_CLOEXEC);
	if (srv < 0 || !(fcntl(srv, F_GETFD) & FD_CLOEXEC))
		FAIL("accept4 with SOCK_CLOEXEC");
	check_proto(srv, "the accepted socket");
	printf("ok: accept4\n");
	fcntl(cli, F_SETFL, 0);

	/* TCP options at SOL_TCP. */
	if (setsockopt(cli, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)))
		FAIL("TCP_NODELAY");
	len = sizeof(ti);
	if (getsockopt(cli, IPPROTO_TCP, TCP_INFO, &ti, &len) ||
	    ti.tcpi_state != TCP_ESTABLISHED)
		FAIL("TCP_INFO");
	printf("ok: SOL_TCP options\n");

	/* sendfile from a file, splice into a pipe on the other side. */
	tmp = mkstemp(path);
	if (tmp < 0 || write(tmp, buf, sizeof(buf)) != sizeof(buf))
		FAIL("temporary file");
	unlink(path);
	lseek(tmp, 0, SEEK_SET);
	/* The sender in a thread: the receiver reads meanwhile, as a peer. */
	sf.out = cli;
	sf.in = tmp;
	pthread_create(&th, NULL, sendfile_thread, &sf);
	if (pipe(p))
		FAIL("pipe");
	for (i = 0; i < (int)sizeof(back);) {
		ssize_t n = splice(srv, NULL, p[1], NULL, sizeof(back) - i, 0);

		if (n <= 0)
			FAIL("splice from the socket");
		read_all(p[0], back + i, n);
		i += n;
	}
	pthread_join(th, NULL);
	if (sf.sent != sizeof(buf)) {
		errno = 0;
		FAIL("sendfile sent %ld", sf.sent);
	}
	if (memcmp(buf, back, sizeof(buf))) {
		errno = 0;
		FAIL("sendfile/splice data differ");
	}
	printf("ok: sendfile, splice\n");

	/* fork: the child echoes on the inherited socket; a thread too. */
	pid = fork();
	if (pid == 0) {
		close(cli);
		echo_thread((void *)(long)srv);
		_exit(0);
	}
	close(srv);
	if (send(cli, buf, 4096, 0) != 4096)
		FAIL("send to the forked child");
	read_all(cli, back, 4096);
	if (memcmp(buf, back, 4096)) {
		errno = 0;
		FAIL("echo through the forked child differs");
	}
	close(cli);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		FAIL("the child");
	printf("ok: fork\n");
	cli = socket(self.ss_family, SOCK_STREAM, 0);
	if (connect(cli, (struct sockaddr *)&dst, self_len))
		FAIL("connect for the thread");
	srv = accept(lsn, NULL, NULL);
	if (srv < 0)
		FAIL("accept for the thread");
	pthread_create(&th, NULL, echo_thread, (void *)(long)srv);
	if (send(cli, buf, 8192, 0) != 8192)
		FAIL("send to the thread");
	read_all(cli, back, 8192);
	close(cli);
	pthread_join(th, NULL);
	if (memcmp(buf, back, 8192)) {
		errno = 0;
		FAIL("echo through the thread differs");
	}
	printf("ok: threads\n");
	close(lsn);
	return 0;
}
