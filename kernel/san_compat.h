/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kernel API differences AF_SAN meets between the kernels it builds
 * on (Debian's 6.1 and 6.12), in one place.  Kbuild tests the kernel's
 * headers for each feature (SAN_HAVE_* below), rather than its version.
 */
#ifndef _SAN_COMPAT_H
#define _SAN_COMPAT_H

#include <linux/ipv6.h>
#include <linux/net.h>
#include <linux/uio.h>
#include <net/inet_sock.h>
#include <net/net_namespace.h>
#include <net/sock.h>

/*
 * A sysctl table of @n entries.  Up to 6.5 the table ends with an empty
 * entry, which the caller's array holds after the @n; from 6.6 the size
 * is passed instead (register_net_sysctl_sz()).
 */
static inline struct ctl_table_header *
san_register_net_sysctl(struct net *net, const char *path,
			struct ctl_table *table, size_t n)
{
#ifdef SAN_HAVE_SYSCTL_SZ
	return register_net_sysctl_sz(net, path, table, n);
#else
	return register_net_sysctl(net, path, table);
#endif
}

/* From 6.9 a sock_diag handler names its module. */
#ifdef SAN_HAVE_DIAG_OWNER
#define SAN_DIAG_OWNER	.owner = THIS_MODULE,
#else
#define SAN_DIAG_OWNER
#endif

/*
 * The multicast defaults of an inet socket: fields up to 6.5, bits of
 * inet_flags from 6.6.
 */
static inline void san_inet_mc_defaults(struct sock *sk)
{
#ifdef SAN_HAVE_INET_FLAGS
	inet_set_bit(MC_LOOP, sk);
	inet_set_bit(MC_ALL, sk);
#else
	inet_sk(sk)->mc_loop = 1;
	inet_sk(sk)->mc_all = 1;
#endif
}

static inline void san_inet6_mc_defaults(struct sock *sk,
					 struct ipv6_pinfo *np)
{
#ifdef SAN_HAVE_INET_FLAGS
	inet6_set_bit(MC6_LOOP, sk);
#else
	np->mc_loop = 1;
#endif
}

/* The current segment of an iovec iterator (renamed __iov in 6.4). */
static inline const struct iovec *san_iter_iov(const struct iov_iter *i)
{
#ifdef SAN_HAVE_ITER_IOV
	return iter_iov(i);
#else
	return i->iov;
#endif
}

/*
 * proto_ops.accept: (sock, newsock, flags, kern) up to 6.9, a struct
 * proto_accept_arg from 6.10.  san_accept() has the kernel's signature
 * and calls san_do_accept() (san_stream.c).
 */
int san_do_accept(struct socket *sock, struct socket *newsock, int flags,
		  bool kern);

#ifdef SAN_HAVE_ACCEPT_ARG
static inline int san_accept(struct socket *sock, struct socket *newsock,
			     struct proto_accept_arg *arg)
{
	return san_do_accept(sock, newsock, arg->flags, arg->kern);
}
#else
static inline int san_accept(struct socket *sock, struct socket *newsock,
			     int flags, bool kern)
{
	return san_do_accept(sock, newsock, flags, kern);
}
#endif

/*
 * Where an IPv6 socket's ipv6_pinfo lies: at the object's end up to 6.5
 * (inet6_sk_generic() computes it), named by struct proto from 6.6.
 */
#ifdef SAN_HAVE_PINFO_OFFSET
#define SAN_IPV6_PINFO_OFFSET(type, member)				\
	.ipv6_pinfo_offset = offsetof(type, member),
#else
#define SAN_IPV6_PINFO_OFFSET(type, member)
#endif

/* proto_ops.sendpage went in 6.5 (sendmsg with MSG_SPLICE_PAGES). */
#ifdef SAN_HAVE_SENDPAGE
#define SAN_SENDPAGE_OP	.sendpage = sock_no_sendpage,
#else
#define SAN_SENDPAGE_OP
#endif

#endif /* _SAN_COMPAT_H */
