// SPDX-License-Identifier: GPL-2.0
/*
 * Two-host fault checks (issue 9; tools/check runs them on the guest pair).
 *
 *   san_fault_peer sink ADDR PORT
 *	(guest A) accept three connections, told apart by their first byte:
 *	'W' is never read (its sender blocks), 'R' is never written to (its
 *	reader blocks), 'S' carries a pattern stream that is checked byte by
 *	byte.  Prints "accepted 3", then "sink: N bytes intact, end ..." at
 *	the stream's end and sends back the byte count.
 *   san_fault_peer source ADDR PORT kill|flap
 *	(guest B) opens the three connections (R and W with SO_KEEPALIVE,
 *	SAN_KEEPIDLE 2 s) and streams on S.
 *	kill: the sink's host powers off mid-stream: the stream's send, the
 *	  blocked send on W and the blocked recv on R must each fail with
 *	  ETIMEDOUT or ECONNRESET within 120 s of the last byte that got
 *	  through; close works; the counters go back to zero.
 *	flap: the sink's host takes eth0 down for a few seconds and up
 *	  again; the stream runs 30 s in all, then ends: either every byte
 *	  arrived intact (the sink's count matches) or the calls fail with
 *	  an errno; nothing hangs; the counters go back to zero.
 * Lines starting "ok: " are checks passed; "FAILED: " checks failed.  Exit
 * status 0 only when no check failed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "san_util.h"

#define CHUNK	(16 * 1024)

static int failed;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		printf("ok: " __VA_ARGS__);				\
	} else {							\
		printf("FAILED: " __VA_ARGS__);				\
		failed = 1;						\
	}								\
	printf("\n");							\
} while (0)

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static inline unsigned char pat(unsigned long long off)
{
	return (off * 2654435761ULL) >> 13;
}

struct call {
	const char *name;
	int fd, is_send, stream;
	volatile int stop, done;
	ssize_t ret;
	int err;
	long long end_ms, last_ok_ms;
	unsigned long long moved;
};

static void *call_fn(void *arg)
{
	struct call *c = arg;
	static __thread char buf[CHUNK];
	ssize_t n;
	size_t i;

	for (;;) {
		if (c->stop) {
			n = 0;
			break;
		}
		if (c->is_send) {
			for (i = 0; i < CHUNK; i++)
				buf[i] = pat(c->moved + i);
			n = send(c->fd, buf, CHUNK, MSG_NOSIGNAL);
		} else {
			n = recv(c->fd, buf, CHUNK, 0);
		}
		if (n <= 0)
			break;
		c->moved += n;
		c->last_ok_ms = now_ms();
		if (c->stream)
			usleep(5000);
	}
	c->ret = n;
	c->err = n < 0 ? errno : 0;
	c->end_ms = now_ms();
	__atomic_store_n(&c->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static int done(struct call *c)
{
	return __atomic_load_n(&c->done, __ATOMIC_ACQUIRE);
}

static int sink(int fam, struct sockaddr_in *in)
{
	int l = socket(fam, SOCK_STREAM, 0), fd, s = -1, i;
	static char buf[CHUNK];
	unsigned long long got = 0, bad = 0;
	ssize_t n;
	char tag;

	if (bind(l, (struct sockaddr *)in, sizeof(*in)) || listen(l, 4)) {
		perror("listen");
		return 1;
	}
	for (i = 0; i < 3; i++) {
		fd = accept(l, NULL, NULL);
		if (fd < 0 || recv(fd, &tag, 1, MSG_WAITALL) != 1) {
			perror("accept");
			return 1;
		}
		if (tag == 'S')
			s = fd;
	}
	printf("accepted 3\n");
	if (s < 0)
		return 1;
	for (;;) {
		n = recv(s, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
		for (i = 0; i < n; i++)
			if ((unsigned char)buf[i] != pat(got + i))
				bad++;
		got += n;
	}
	printf("sink: %llu bytes, %llu bad, end %s\n", got, bad,
	       n == 0 ? "EOF" : strerror(errno));
	if (n == 0)
		send(s, &got, sizeof(got), MSG_NOSIGNAL);
	CHECK(bad == 0, "sink: no wrong byte among %llu", got);
	return failed;
}

static int source(int fam, struct sockaddr_in *in, const char *mode)
{
	static const char tags[] = "WRS";
	struct call c[3] = {
		{ .name = "blocked send (peer not reading)", .is_send = 1 },
		{ .name = "blocked recv (peer not writing)" },
		{ .name = "stream send", .is_send = 1, .stream = 1 },
	};
	pthread_t th[3];
	int kill_mode = !strcmp(mode, "kill"), idle = 2, one = 1, i, j;
	long long t0, last, limit;
	const char *busy;

	for (i = 0; i < 3; i++) {
		for (j = 0; j < 300; j++) {
			c[i].fd = socket(fam, SOCK_STREAM, 0);
			san_rdma_only(c[i].fd);
			if (!connect(c[i].fd, (struct sockaddr *)in, sizeof(*in)))
				break;
			close(c[i].fd);
			c[i].fd = -1;
			usleep(200000);
		}
		if (c[i].fd < 0 || send(c[i].fd, &tags[i], 1, 0) != 1) {
			perror("connect");
			return 1;
		}
		if (i < 2 &&
		    (setsockopt(c[i].fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one)) ||
		     setsockopt(c[i].fd, SOL_SAN, SAN_KEEPIDLE, &idle, sizeof(idle)))) {
			perror("keepalive");
			return 1;
		}
	}
	printf("connected 3 (%s)\n", mode);
	t0 = now_ms();
	for (i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, call_fn, &c[i]);

	if (kill_mode) {
		/* The peer dies: every call ends within 120 s of its death. */
		for (;;) {
			last = c[2].last_ok_ms ? c[2].last_ok_ms : t0;
			if ((done(&c[0]) && done(&c[1]) && done(&c[2])) ||
			    now_ms() - last > 120000)
				break;
			usleep(50000);
		}
		last = c[2].last_ok_ms ? c[2].last_ok_ms : t0;
		printf("stream: %llu bytes sent, last progress at %lld ms\n",
		       c[2].moved, last - t0);
		for (i = 0; i < 3; i++) {
			if (!done(&c[i])) {
				CHECK(0, "%s: still blocked %lld ms after the last progress",
				      c[i].name, now_ms() - last);
				shutdown(c[i].fd, SHUT_RDWR);
				continue;
			}
			CHECK(c[i].ret < 0 && (c[i].err == ETIMEDOUT ||
					       c[i].err == ECONNRESET),
			      "%s: %zd %s, %lld ms after the last progress",
			      c[i].name, c[i].ret, strerror(c[i].err),
			      c[i].end_ms - last);
		}
	} else {
		/* The peer's link flaps: 30 s of stream, then its end. */
		limit = t0 + 30000;
		while (now_ms() < limit && !done(&c[2]))
			usleep(50000);
		c[2].stop = 1;
		for (i = 0; i < 1200 && !done(&c[2]); i++)
			usleep(50000);
		CHECK(done(&c[2]), "stream send ends (%llu bytes, %s)",
		      c[2].moved, done(&c[2]) ? (c[2].ret < 0 ?
		      strerror(c[2].err) : "stopped") : "still blocked");
		if (done(&c[2]) && c[2].ret == 0) {
			unsigned long long got = 0;
			ssize_t n;

			shutdown(c[2].fd, SHUT_WR);
			n = recv(c[2].fd, &got, sizeof(got), MSG_WAITALL);
			if (n == sizeof(got))
				CHECK(got == c[2].moved,
				      "the stream survived: sink got %llu of %llu bytes",
				      got, c[2].moved);
			else
				CHECK(n < 0 && (errno == ETIMEDOUT ||
						errno == ECONNRESET),
				      "the stream ended with %s after the flap",
				      n < 0 ? strerror(errno) : "EOF");
		} else if (done(&c[2])) {
			CHECK(c[2].err == ETIMEDOUT || c[2].err == ECONNRESET,
			      "the stream failed with %s", strerror(c[2].err));
		}
		for (i = 0; i < 2; i++) {
			if (done(&c[i]))
				printf("%s: ended %zd %s after %lld ms\n",
				       c[i].name, c[i].ret, strerror(c[i].err),
				       c[i].end_ms - t0);
			else
				printf("%s: still blocked (the connection survived)\n",
				       c[i].name);
			shutdown(c[i].fd, SHUT_RDWR);
		}
	}
	for (i = 0; i < 3; i++) {
		for (j = 0; j < 200 && !done(&c[i]); j++)
			usleep(50000);
		CHECK(done(&c[i]), "%s: ends after shutdown", c[i].name);
		CHECK(close(c[i].fd) == 0, "%s: close", c[i].name);
	}
	busy = san_wait_idle(60);
	CHECK(!busy, "counters back to zero%s%s", busy ? ", not " : "",
	      busy ? busy : "");
	return failed;
}

int main(int argc, char **argv)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	int fam = san_family();

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 4 || fam < 0 || inet_pton(AF_INET, argv[2], &in.sin_addr) != 1)
		return 2;
	in.sin_port = htons(atoi(argv[3]));
	if (!strcmp(argv[1], "sink"))
		return sink(fam, &in);
	if (!strcmp(argv[1], "source") && argc > 4)
		return source(fam, &in, argv[4]);
	return 2;
}
