// SPDX-License-Identifier: GPL-2.0
/*
 * TCP's socket options (level SOL_TCP) on AF_SAN sockets, so that
 * programs written for TCP keep working: TCP_NODELAY, TCP_CORK,
 * TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_USER_TIMEOUT, TCP_INFO and
 * TCP_CONGESTION (read only).  The switch checks and keeps the values, with
 * TCP's ranges and errors; the provider applies them (&san_provider.tcp_opts)
 * and may answer the reads it knows better (&san_provider.tcp_getsockopt).
 * Any other option gets ENOPROTOOPT, as TCP answers an unknown one.
 */
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/tcp.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "san.h"

/* What TCP_CONGESTION reads on a connection that RDMA carries. */
#define SAN_CONG_NAME "rdma"

/**
 * san_tcpopt_set - setsockopt(SOL_TCP) on an AF_SAN socket
 * @ssk: the socket
 * @optname: the TCP_* option
 * @optval: its value (an int)
 * @optlen: its length
 *
 * Context: process context; takes the socket lock.
 * Return: 0 or TCP's errno for the same call.
 */
int san_tcpopt_set(struct san_sock *ssk, int optname, sockptr_t optval,
		   unsigned int optlen)
{
	struct sock *sk = &ssk->sk;
	int val, err = 0;

	switch (optname) {
	case TCP_NODELAY:
	case TCP_CORK:
	case TCP_KEEPIDLE:
	case TCP_KEEPINTVL:
	case TCP_KEEPCNT:
	case TCP_USER_TIMEOUT:
		break;
	case TCP_CONGESTION:
	case TCP_INFO:
		/* Read only here: the fabric's congestion control rules. */
		return -EPERM;
	default:
		return -ENOPROTOOPT;
	}
	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;

	lock_sock(sk);
	switch (optname) {
	case TCP_NODELAY:
		ssk->nodelay = !!val;
		break;
	case TCP_CORK:
		ssk->cork = !!val;
		break;
	case TCP_KEEPIDLE:
		if (val < 1 || val > MAX_TCP_KEEPIDLE) {
			err = -EINVAL;
		} else {
			WRITE_ONCE(ssk->keepidle, val);
			ssk->ka_intvl_idle = false;
		}
		break;
	case TCP_KEEPINTVL:
		if (val < 1 || val > MAX_TCP_KEEPINTVL)
			err = -EINVAL;
		else
			ssk->keepintvl = val;
		break;
	case TCP_KEEPCNT:
		if (val < 1 || val > MAX_TCP_KEEPCNT)
			err = -EINVAL;
		else
			ssk->keepcnt = val;
		break;
	case TCP_USER_TIMEOUT:
		if (val < 0)
			err = -EINVAL;
		else
			ssk->user_timeout = val;
		break;
	}
	if (!err)
		san_prov_tcp_opts(ssk);
	release_sock(sk);
	return err;
}

/**
 * san_ipopt_set - setsockopt(SOL_IP or SOL_IPV6) on an AF_SAN socket
 * @ssk: the socket
 * @level: SOL_IP or SOL_IPV6
 * @optname: IP_TOS, IPV6_TCLASS or IPV6_V6ONLY; others get ENOPROTOOPT
 * @optval: its value (an int)
 * @optlen: its length
 *
 * The traffic class is read when a connection starts (the RDMA service
 * type, the TCP socket's TOS); IPV6_V6ONLY when the socket binds, and
 * only before (EINVAL after, as TCP).
 *
 * Context: process context; takes the socket lock.
 * Return: 0 or TCP's errno for the same call.
 */
int san_ipopt_set(struct san_sock *ssk, int level, int optname,
		  sockptr_t optval, unsigned int optlen)
{
	int val, err = 0;

	if (!((level == SOL_IP && optname == IP_TOS) ||
	      (level == SOL_IPV6 && (optname == IPV6_TCLASS ||
				     optname == IPV6_V6ONLY))))
		return -ENOPROTOOPT;
	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;
	lock_sock(&ssk->sk);
	if (optname == IPV6_V6ONLY) {
		if (ssk->bound || ssk->sk.sk_state != TCP_CLOSE)
			err = -EINVAL;
		else
			ssk->v6only = !!val;
	} else if (optname == IPV6_TCLASS && (val < -1 || val > 0xff)) {
		err = -EINVAL;
	} else {
		/* IP_TOS keeps the low byte, as IPv4; -1: the default. */
		ssk->tos = val < 0 ? 0 : val & 0xff;
	}
	release_sock(&ssk->sk);
	return err;
}

/**
 * san_ipopt_get - getsockopt(SOL_IP or SOL_IPV6) on an AF_SAN socket
 * @ssk: the socket
 * @level: SOL_IP or SOL_IPV6
 * @optname: IP_TOS, IPV6_TCLASS or IPV6_V6ONLY; others get ENOPROTOOPT
 * @optval: where the value goes (user memory)
 * @optlen: its room, then its length (user memory)
 *
 * Context: process context.
 * Return: 0 or TCP's errno for the same call.
 */
int san_ipopt_get(struct san_sock *ssk, int level, int optname,
		  char __user *optval, int __user *optlen)
{
	int len, val;

	if (level == SOL_IP && optname == IP_TOS)
		val = READ_ONCE(ssk->tos);
	else if (level == SOL_IPV6 && optname == IPV6_TCLASS)
		val = READ_ONCE(ssk->tos);
	else if (level == SOL_IPV6 && optname == IPV6_V6ONLY)
		val = READ_ONCE(ssk->v6only);
	else
		return -ENOPROTOOPT;
	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	len = min_t(unsigned int, len, sizeof(int));
	if (put_user(len, optlen) || copy_to_user(optval, &val, len))
		return -EFAULT;
	return 0;
}

/*
 * TCP_INFO of a socket whose provider does not answer it (no connection
 * yet, or an RDMA one that the provider fills further): its state.
 */
static void san_tcpopt_info(struct san_sock *ssk, struct tcp_info *info)
{
	memset(info, 0, sizeof(*info));
	info->tcpi_state = READ_ONCE(ssk->sk.sk_state);
}

/**
 * san_tcpopt_get - getsockopt(SOL_TCP) on an AF_SAN socket
 * @ssk: the socket
 * @optname: the TCP_* option
 * @optval: where the value goes (user memory)
 * @optlen: its room, then its length (user memory)
 *
 * Context: process context; takes the socket lock.
 * Return: 0 or TCP's errno for the same call.
 */
int san_tcpopt_get(struct san_sock *ssk, int optname, char __user *optval,
		   int __user *optlen)
{
	struct sock *sk = &ssk->sk;
	char name[TCP_CA_NAME_MAX] = SAN_CONG_NAME;
	struct tcp_info info;
	int len, val, err;

	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;

	lock_sock(sk);
	err = -ENOPROTOOPT;
	if (READ_ONCE(ssk->was_established))
		err = san_prov_tcp_getsockopt(ssk, optname, optval, optlen);
	if (err != -ENOPROTOOPT)
		goto out;
	err = 0;
	switch (optname) {
	case TCP_NODELAY:
		val = ssk->nodelay;
		break;
	case TCP_CORK:
		val = ssk->cork;
		break;
	case TCP_KEEPIDLE:
		val = san_keepalive_idle(ssk);
		break;
	case TCP_KEEPINTVL:
		val = ssk->keepintvl ?:
		      READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_keepalive_intvl) / HZ;
		break;
	case TCP_KEEPCNT:
		val = ssk->keepcnt ?:
		      READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_keepalive_probes);
		break;
	case TCP_USER_TIMEOUT:
		val = ssk->user_timeout;
		break;
	case TCP_INFO:
		san_tcpopt_info(ssk, &info);
		len = min_t(unsigned int, len, sizeof(info));
		if (put_user(len, optlen) || copy_to_user(optval, &info, len))
			err = -EFAULT;
		goto out;
	case TCP_CONGESTION:
		len = min_t(unsigned int, len, TCP_CA_NAME_MAX);
		if (put_user(len, optlen) || copy_to_user(optval, name, len))
			err = -EFAULT;
		goto out;
	default:
		err = -ENOPROTOOPT;
		goto out;
	}
	len = min_t(unsigned int, len, sizeof(int));
	if (put_user(len, optlen) || copy_to_user(optval, &val, len))
		err = -EFAULT;
out:
	release_sock(sk);
	return err;
}
