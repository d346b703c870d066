// SPDX-License-Identifier: GPL-2.0
/*
 * libsanpreload.so: run an unmodified program with its IPv4/IPv6 TCP
 * stream sockets created as AF_SAN sockets (IPPROTO_SAN), everything else
 * untouched.  Loaded by tools/san_run through LD_PRELOAD.
 *
 * socket(AF_INET or AF_INET6, SOCK_STREAM, 0 or IPPROTO_TCP) becomes
 * socket(same, SOCK_STREAM, IPPROTO_SAN): an AF_SAN socket that reports
 * inet addresses, carries its connections over RDMA where the peer has an
 * AF_SAN listener and over the kernel's TCP elsewhere, and keeps TCP's
 * answer to signals (SAN_CANCEL_PRESERVE).  Without the module, the
 * program gets plain TCP sockets.
 *
 * SAN_RUN_PORTS="5201,11111" limits it to connections to or listeners on
 * those ports, SAN_RUN_ADDRS="10.0.2.16,fd00::16" to connections to those
 * addresses: a socket bound or connected elsewhere is swapped, before the
 * call, for a plain TCP socket under the same descriptor (its flags and
 * its common options copied).  SAN_RUN_DEBUG=1 says what it does on
 * stderr.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef IPPROTO_SAN
#define IPPROTO_SAN 261
#endif

static int (*real_socket)(int, int, int);
static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);

static void san_resolve(void)
{
	if (!real_socket) {
		real_socket = dlsym(RTLD_NEXT, "socket");
		real_bind = dlsym(RTLD_NEXT, "bind");
		real_connect = dlsym(RTLD_NEXT, "connect");
	}
}

static int san_debug(void)
{
	const char *d = getenv("SAN_RUN_DEBUG");

	return d && *d && *d != '0';
}

/* Whether @fd is one of ours: an IPPROTO_SAN socket. */
static int san_is_ours(int fd)
{
	int proto = 0;
	socklen_t len = sizeof(proto);

	return !getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) &&
	       proto == IPPROTO_SAN;
}

/* Whether @list (comma separated) names @item. */
static int san_listed(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p = list;

	while (p && *p) {
		if (!strncmp(p, item, n) && (p[n] == ',' || !p[n]))
			return 1;
		p = strchr(p, ',');
		if (p)
			p++;
	}
	return 0;
}

/* Whether an address a socket binds or connects to is AF_SAN's to carry. */
static int san_selected(const struct sockaddr *sa, socklen_t len, int connect)
{
	const char *ports = getenv("SAN_RUN_PORTS");
	const char *addrs = getenv("SAN_RUN_ADDRS");
	char host[INET6_ADDRSTRLEN] = "", port[8];
	int p;

	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const void *)sa;

		p = ntohs(in->sin_port);
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
	} else if (sa->sa_family == AF_INET6 &&
		   len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const void *)sa;

		p = ntohs(in6->sin6_port);
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
	} else {
		return 1;
	}
	snprintf(port, sizeof(port), "%d", p);
	/* A bind to port 0 (a client's) decides nothing yet. */
	if (ports && *ports && !(p == 0 && !connect) && !san_listed(ports, port))
		return 0;
	if (connect && addrs && *addrs && !san_listed(addrs, host))
		return 0;
	return 1;
}

/* Swap @fd for a plain TCP socket with the same flags and options. */
static void san_swap_to_tcp(int fd)
{
	static const int opts[][2] = {
		{ SOL_SOCKET, SO_REUSEADDR }, { SOL_SOCKET, SO_REUSEPORT },
		{ SOL_SOCKET, SO_KEEPALIVE }, { SOL_SOCKET, SO_RCVBUF },
		{ SOL_SOCKET, SO_SNDBUF }, { IPPROTO_TCP, TCP_NODELAY },
	};
	int domain = AF_INET, fl, fdfl, t, v, i, bound;
	struct sockaddr_storage local;
	socklen_t len = sizeof(domain);

	getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
	t = real_socket(domain, SOCK_STREAM, IPPROTO_TCP);
	if (t < 0)
		return;
	for (i = 0; i < (int)(sizeof(opts) / sizeof(opts[0])); i++) {
		len = sizeof(v);
		if (!getsockopt(fd, opts[i][0], opts[i][1], &v, &len))
			setsockopt(t, opts[i][0], opts[i][1], &v, sizeof(v));
	}
	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	if (fl >= 0)
		fcntl(t, F_SETFL, fl);
	/* A bound socket keeps its address: freed by the swap, bound again. */
	len = sizeof(local);
	bound = !getsockname(fd, (struct sockaddr *)&local, &len) &&
		((local.ss_family == AF_INET &&
		  ((struct sockaddr_in *)&local)->sin_port) ||
		 (local.ss_family == AF_INET6 &&
		  ((struct sockaddr_in6 *)&local)->sin6_port));
	if (dup3(t, fd, fdfl > 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0)
		fd = -1;
	close(t);
	if (fd >= 0 && bound)
		real_bind(fd, (struct sockaddr *)&local, len);
	if (san_debug())
		fprintf(stderr, "san_run: fd %d is plain TCP\n", fd);
}

int socket(int domain, int type, int protocol)
{
	int fd;

	san_resolve();
	if ((domain == AF_INET || domain == AF_INET6) &&
	    (type & 0xf) == SOCK_STREAM &&
	    (protocol == 0 || protocol == IPPROTO_TCP)) {
		fd = real_socket(domain, type, IPPROTO_SAN);
		if (fd >= 0) {
			if (san_debug())
				fprintf(stderr, "san_run: fd %d is AF_SAN\n",
					fd);
			return fd;
		}
	}
	return real_socket(domain, type, protocol);
}

int bind(int fd, const struct sockaddr *sa, socklen_t len)
{
	san_resolve();
	if (sa && san_is_ours(fd) && !san_selected(sa, len, 0))
		san_swap_to_tcp(fd);
	return real_bind(fd, sa, len);
}

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	san_resolve();
	if (sa && san_is_ours(fd) && !san_selected(sa, len, 1))
		san_swap_to_tcp(fd);
	return real_connect(fd, sa, len);
}
