// SPDX-License-Identifier: GPL-2.0
/*
 * The AF_SAN demo: a client and a server moving data over AF_SAN, and the
 * same over TCP for comparison.
 *
 *   san_demo bench ADDR [MIB]            both ends here, AF_SAN then TCP
 *   san_demo server [--tcp] ADDR PORT MIB  receive MIB, check, print rate
 *   san_demo client [--tcp] ADDR PORT MIB  send MIB
 *
 * Data is a seeded pseudo-random stream; the receiver checks every byte.
 * Exit status 0 only when all of it arrived intact.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <linux/san.h>

#define CHUNK	(1024 * 1024)

/* Bytes per send() and most per recv(); at most CHUNK. */
static long chunk = 64 * 1024;

static int san_fam(void)
{
	FILE *f = fopen(SAN_FAMILY_SYSFS, "r");
	int fam = AF_SAN;

	if (f) {
		if (fscanf(f, "%d", &fam) != 1)
			fam = AF_SAN;
		fclose(f);
	}
	return fam;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static void gen(unsigned char *p, size_t n, uint64_t *s)
{
	while (n--) {
		*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
		*p++ = *s >> 56;
	}
}

static int addr_of(const char *ip, int port, struct sockaddr_in *in)
{
	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	in->sin_port = htons(port);
	return inet_pton(AF_INET, ip, &in->sin_addr) == 1 ? 0 : -1;
}

static int do_send(int fd, long bytes)
{
	static unsigned char buf[CHUNK];
	uint64_t s = 42;
	long done = 0;

	while (done < bytes) {
		size_t n = bytes - done < chunk ? bytes - done : chunk, off = 0;

		gen(buf, n, &s);
		while (off < n) {
			ssize_t w = send(fd, buf + off, n - off, 0);

			if (w <= 0) {
				perror("send");
				return -1;
			}
			off += w;
		}
		done += n;
	}
	return 0;
}

/* Receive until EOF; returns bytes, -1 on error or damaged data. */
static long do_recv(int fd)
{
	static unsigned char buf[CHUNK], want[CHUNK];
	uint64_t s = 42;
	long done = 0;

	for (;;) {
		ssize_t r = recv(fd, buf, chunk - (done % chunk), 0);

		if (r < 0) {
			perror("recv");
			return -1;
		}
		if (r == 0)
			return done;
		gen(want, r, &s);
		if (memcmp(buf, want, r)) {
			fprintf(stderr, "san_demo: data damaged at byte %ld\n",
				done);
			return -1;
		}
		done += r;
	}
}

static int listener(int fam, const char *ip, int port, int *got_port)
{
	struct sockaddr_in in;
	socklen_t len = sizeof(in);
	int one = 1, l = socket(fam, SOCK_STREAM, 0);

	if (l < 0 || addr_of(ip, port, &in))
		return -1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(l, (struct sockaddr *)&in, sizeof(in)) || listen(l, 4) ||
	    getsockname(l, (struct sockaddr *)&in, &len)) {
		perror("listen");
		close(l);
		return -1;
	}
	*got_port = ntohs(in.sin_port);
	return l;
}

static int dial(int fam, const char *ip, int port)
{
	struct sockaddr_in in;
	int i, fd;

	if (addr_of(ip, port, &in))
		return -1;
	/* The server may still be starting (two-host runs): retry. */
	for (i = 0; i < 100; i++) {
		fd = socket(fam, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		/*
		 * SAN_DEMO_RDMA_ONLY=1: no fallback to TCP (a two-host test
		 * whose client may race the server's listen() wants RDMA).
		 */
		if (fam != AF_INET && getenv("SAN_DEMO_RDMA_ONLY")) {
			int p = SAN_POLICY_RDMA_ONLY;

			setsockopt(fd, SOL_SAN, SAN_POLICY, &p, sizeof(p));
		}
		if (!connect(fd, (struct sockaddr *)&in, sizeof(in)))
			return fd;
		close(fd);
		if (errno != ECONNREFUSED)
			break;
		usleep(200000);
	}
	perror("connect");
	return -1;
}

/* Zero-copy off for @fd (AF_SAN only): everything takes the copy path. */
static void copy_path(int fd)
{
	int off = 0x7fffffff;

	setsockopt(fd, SOL_SAN, SAN_ZCOPY_THRESHOLD, &off, sizeof(off));
}

/* One transfer with both ends here; prints and returns MB/s, < 0 on error. */
static double bench(const char *name, int fam, const char *ip, long bytes,
		    int copy)
{
	int l, port, fd, c, status;
	double t0, t1;
	long got;
	pid_t pid;

	l = listener(fam, ip, 0, &port);
	if (l < 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		close(l);
		c = dial(fam, ip, port);
		if (copy)
			copy_path(c);
		_exit(c < 0 || do_send(c, bytes) || close(c) ? 1 : 0);
	}
	fd = accept(l, NULL, NULL);
	close(l);
	if (fd < 0)
		return -1;
	if (copy)
		copy_path(fd);
	t0 = now();
	got = do_recv(fd);
	t1 = now();
	close(fd);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) || got != bytes) {
		fprintf(stderr, "san_demo: %s transfer failed\n", name);
		return -1;
	}
	printf("%-30s %5ld MiB in %6.2f s = %7.1f MB/s, data intact\n", name,
	       bytes >> 20, t1 - t0, bytes / 1e6 / (t1 - t0));
	return bytes / 1e6 / (t1 - t0);
}

int main(int argc, char **argv)
{
	int tcp = argc > 2 && !strcmp(argv[2], "--tcp");
	int fam, port, l, fd;
	char **a = argv + 2 + tcp;
	double san, copy, tcpr;
	long got;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && !strcmp(argv[1], "bench")) {
		long mib = argc > 3 ? atol(argv[3]) : 64;

		printf("one connection, both ends in this host (%s)\n", argv[2]);
		chunk = 1024 * 1024;
		san = bench("AF_SAN zero-copy, 1 MiB writes", san_fam(),
			    argv[2], mib << 20, 0);
		chunk = 64 * 1024;
		copy = bench("AF_SAN copy path, 64 KiB", san_fam(), argv[2],
			     mib << 20, 1);
		chunk = 1024 * 1024;
		tcpr = bench("TCP, 1 MiB writes", AF_INET, argv[2], mib << 20,
			     0);
		if (san < 0 || copy < 0 || tcpr < 0)
			return 1;
		printf("AF_SAN zero-copy/TCP throughput ratio: %.2f, AF_SAN zero-copy/copy path: %.2f (under QEMU/TCG with soft-RoCE: compare ratios, not absolute rates)\n",
		       san / tcpr, san / copy);
		return 0;
	}
	if (argc < 5 + tcp) {
		fprintf(stderr, "usage: %s bench ADDR [MIB] | server|client [--tcp] ADDR PORT MIB\n",
			argv[0]);
		return 2;
	}
	fam = tcp ? AF_INET : san_fam();
	if (!strcmp(argv[1], "server")) {
		l = listener(fam, a[0], atoi(a[1]), &port);
		if (l < 0)
			return 1;
		fd = accept(l, NULL, NULL);
		if (fd < 0)
			return 1;
		double t0 = now();

		got = do_recv(fd);
		printf("%s server: %ld bytes in %.2f s = %.1f MB/s, %s\n",
		       tcp ? "TCP" : "AF_SAN", got, now() - t0,
		       got / 1e6 / (now() - t0),
		       got == atol(a[2]) << 20 ? "data intact" : "SHORT");
		close(fd);
		close(l);
		return got == atol(a[2]) << 20 ? 0 : 1;
	}
	if (!strcmp(argv[1], "client")) {
		double t0 = now();
		int prov = 0, why = 0;
		socklen_t len = sizeof(int);

		fd = dial(fam, a[0], atoi(a[1]));
		if (fd >= 0 && !tcp) {
			/* Which provider carries it, and why. */
			getsockopt(fd, SOL_SAN, SAN_PROVIDER, &prov, &len);
			len = sizeof(int);
			getsockopt(fd, SOL_SAN, SAN_FALLBACK_REASON, &why, &len);
			printf("connected in %.0f ms over %s (fallback reason %d)\n",
			       (now() - t0) * 1000,
			       prov == SAN_PROVIDER_TCP ? "TCP" : "RDMA", why);
		}
		if (fd < 0 || do_send(fd, atol(a[2]) << 20))
			return 1;
		return close(fd) ? 1 : 0;
	}
	return 2;
}
