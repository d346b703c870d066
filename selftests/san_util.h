/* SPDX-License-Identifier: GPL-2.0 */
/* Helpers shared by the AF_SAN selftests. */
#ifndef _SAN_UTIL_H
#define _SAN_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <linux/san.h>

/*
 * The family number in use: the module publishes it in sysfs, and a
 * module loaded with family=N answers there.  Returns -1 when the module
 * is not loaded.
 */
static inline int san_family(void)
{
	FILE *f = fopen(SAN_FAMILY_SYSFS, "r");
	int fam = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &fam) != 1)
		fam = -1;
	fclose(f);
	return fam;
}

/*
 * Data volumes and connection counts scale down on slow kernels: the debug
 * kernel (KASAN, lockdep) moves data about 40 times slower, and
 * make check-debug sets SAN_SCALE=40.  A test asserts the same things on
 * san_scaled(n) as on n; never less than 1.
 */
static inline long san_scaled(long n)
{
	const char *s = getenv("SAN_SCALE");
	long div = s ? atol(s) : 1;

	if (div < 1)
		div = 1;
	return n / div > 0 ? n / div : 1;
}

/*
 * The test box's RDMA device (SAN_IBDEV, default rxe0) is iWARP (siw):
 * its node type is "RNIC".  iWARP runs over the host's TCP, which some
 * tests of the TCP path must take into account (docs/design.md).
 */
static inline int san_iwarp(void)
{
	const char *d = getenv("SAN_IBDEV");
	char path[128], buf[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/infiniband/%s/node_type",
		 d ? d : "rxe0");
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strstr(buf, "RNIC") != NULL;
}

/* Why a zero-copy test skips on iWARP. */
#define SAN_IWARP_NO_ZC "iWARP: no zero-copy between iWARP ends (neither offers ZCOPY: a READ's sink would need remote write access; docs/wire.md)"

/* Why a test of a peer that posts no receive skips on iWARP. */
#define SAN_IWARP_NO_RNR "iWARP: no receiver-not-ready retry (a message to a peer with no receive posted ends the connection at once), so a deaf peer cannot hold a close"

/*
 * Wait until @fd has a byte to read, without reading (for zero-copy data:
 * its SRC_AVAIL is then at the head of the stream, and no READ of it has
 * started: a non-blocking recv() would start one).
 */
static inline void san_wait_data(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (poll(&p, 1, 1000) == 0)
		;
}

/*
 * SKIP from a FIXTURE_SETUP.  The 6.1 harness runs the test body even
 * after a SKIP in setup; ending the test's process with the harness's skip
 * status (255) reports it as skipped, with the reason.
 */
#define SAN_SETUP_SKIP(...) SKIP(fflush(NULL); _exit(255), __VA_ARGS__)

/* Sockets of the AF_SAN protocol in this netns, from /proc/net/protocols. */
static inline long san_sockets_in_use(void)
{
	char line[512], name[64];
	long size, sockets;
	FILE *f = fopen("/proc/net/protocols", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %ld %ld", name, &size, &sockets) == 3 &&
		    !strcmp(name, "AF_SAN")) {
			fclose(f);
			return sockets;
		}
	}
	fclose(f);
	return -1;
}

/* One counter of /proc/net/af_san ("conns", "qps", ...), -1 if absent. */
static inline long san_stat(const char *name)
{
	char key[64];
	long val, found = -1;
	FILE *f = fopen("/proc/net/af_san", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name))
			found = val;
	fclose(f);
	return found;
}

/*
 * Connections end in the background (a graceful close delivers its data
 * first): wait up to @secs for every counter to be back at zero.  Returns
 * the name of a counter still above zero, or NULL.
 */
static inline const char *san_wait_idle(int secs)
{
	static const char *const names[] = { "conns", "qps", "cqs", "pds",
					     "bufs", "pinned" };
	const char *busy = NULL;
	int i, t;

	for (t = 0; t < secs * 10; t++) {
		busy = NULL;
		for (i = 0; i < 6; i++)
			if (san_stat(names[i]) != 0)
				busy = names[i];
		if (!busy)
			return NULL;
		usleep(100000);
	}
	return busy;
}

/*
 * An IPv4 or IPv6 socket address of @addr (text) and @port in @ss;
 * returns its length, -1 when @addr does not parse.
 */
static inline int set_addr(struct sockaddr_storage *ss, int ip,
			   const char *addr, int port)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (ip == AF_INET) {
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		return inet_pton(AF_INET, addr, &in->sin_addr) == 1 ?
		       (int)sizeof(*in) : -1;
	}
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	return inet_pton(AF_INET6, addr, &in6->sin6_addr) == 1 ?
	       (int)sizeof(*in6) : -1;
}

static inline int addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)ss)->sin_port);
	return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
}

static inline void addr_set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

/*
 * RDMA only: a client that races its server's listen() would otherwise
 * be refused over RDMA and carried by TCP (the fallback), and what the
 * test checks (pinned pages, RDMA keepalive, QP errors) is RDMA's.
 */
static inline void san_rdma_only(int fd)
{
	int p = SAN_POLICY_RDMA_ONLY;

	setsockopt(fd, SOL_SAN, SAN_POLICY, &p, sizeof(p));
}

/* An int SOL_SAN option of @fd; -1 when the call fails. */
static inline int san_getopt(int fd, int name)
{
	socklen_t len = sizeof(int);
	int val;

	if (getsockopt(fd, SOL_SAN, name, &val, &len))
		return -1;
	return val;
}

#endif /* _SAN_UTIL_H */
