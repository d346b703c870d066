// SPDX-License-Identifier: GPL-2.0
/*
 * AF_SAN: the socket family, the switch of the Windows Sockets Direct
 * model.  This file registers the family and creates and frees sockets;
 * san_stream.c holds the socket calls.  Blocking, waiting, timeouts,
 * signals and cancellation live in the switch, once, for every provider;
 * providers (san_rdma*.c, san_tcp.c) only see non-blocking calls and an
 * abortive close.
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <net/inet_common.h>
#include <net/ipv6.h>
#include <net/protocol.h>
#include <net/sock.h>
#include <net/tcp_states.h>
#include <uapi/linux/san.h>

#include "san.h"
#include "san_compat.h"

/* Dead slots no 6.1 or 6.12 kernel registers: see docs/design.md. */
int san_family = AF_SAN;
module_param_named(family, san_family, int, 0444);
MODULE_PARM_DESC(family,
		 "socket family number to register (default 22; free slots: 13, 18, 19, 22, 25)");

/* SO_KEEPALIVE set or cleared (socket lock held, flag not yet changed). */
static void san_proto_keepalive(struct sock *sk, int on)
{
	struct san_sock *ssk = san_sk(sk);

	if (on && sk->sk_state == TCP_ESTABLISHED)
		san_prov_keepalive(ssk);
}

static struct proto san_proto = {
	.name = "AF_SAN",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct san_sock),
	.keepalive = san_proto_keepalive,
};

static void san_sock_destruct(struct sock *sk)
{
	san_diag_del(san_sk(sk));
	sock_prot_inuse_add(sock_net(sk), sk->sk_prot, -1);
}

/*
 * IPPROTO_SAN sockets are AF_INET(6) sockets, but their lock must not
 * share the class of TCP's: it is held while TCP sockets' locks are taken
 * and while their work (a TCP listener's accept_work, which locks the
 * connections it accepts) is waited for.
 */
static struct lock_class_key san_inet_key[2], san_inet_slock_key[2];

static void san_inet_reclassify(struct sock *sk)
{
	int i = sk->sk_family == AF_INET6;

	sock_lock_init_class_and_name(sk,
				      i ? "slock-SANv6" : "slock-SAN",
				      &san_inet_slock_key[i],
				      i ? "sk_lock-SANv6" : "sk_lock-SAN",
				      &san_inet_key[i]);
}

/* What every AF_SAN socket starts with, after sock_init_data(). */
static void san_sock_setup(struct sock *sk)
{
	struct san_sock *ssk = san_sk(sk);
	const struct san_net *sn;

	if (sk->sk_family == AF_INET || sk->sk_family == AF_INET6)
		san_inet_reclassify(sk);

	sk->sk_type = SOCK_STREAM;
	sk->sk_state = TCP_CLOSE;
	sk->sk_destruct = san_sock_destruct;
	spin_lock_init(&ssk->state_lock);
	INIT_LIST_HEAD(&ssk->accept_q);
	INIT_LIST_HEAD(&ssk->accept_node);
	INIT_DELAYED_WORK(&ssk->fb_work, san_fallback_work);
	sn = san_net(sock_net(sk));
	ssk->policy = READ_ONCE(sn->policy);
	sk->sk_rcvbuf = READ_ONCE(sn->rmem_default);
	sk->sk_sndbuf = READ_ONCE(sn->wmem_default);
	ssk->v6only = READ_ONCE(sock_net(sk)->ipv6.sysctl.bindv6only);
	sock_prot_inuse_add(sock_net(sk), sk->sk_prot, 1);
	san_diag_add(ssk);
}

static struct sock *san_sock_alloc(struct net *net, struct socket *sock,
				   gfp_t gfp, int kern)
{
	struct sock *sk;

	sk = sk_alloc(net, san_family, gfp, &san_proto, kern);
	if (!sk)
		return NULL;
	sock_init_data(sock, sk);
	sk->sk_protocol = 0;
	san_sock_setup(sk);
	return sk;
}

/*
 * IPPROTO_SAN: socket(AF_INET or AF_INET6, SOCK_STREAM, IPPROTO_SAN) is an
 * AF_SAN socket that the inet protocol switch creates (inet_create(),
 * inet6_create()), as SCTP's and MPTCP's are: it reports AF_INET/AF_INET6
 * addresses, so that a TCP program opts in by changing one argument.
 * inet_create() initialises the inet_sock part (and inet6_create() the
 * ipv6_pinfo at the object's end), then calls san_inet_init_sock(); the
 * calls are AF_SAN's own (san_inet_ops), never the inet ones.
 */
struct san_sock6 {
	struct san_sock ssk;
	struct ipv6_pinfo inet6;	/* last: inet6_sk_generic() up to 6.5 */
};

/*
 * An IPPROTO_SAN child: what inet_create() and inet6_create() would have
 * set of the inet parts, which AF_SAN itself never uses.
 */
static void san_inet_child_init(struct sock *sk)
{
	struct inet_sock *inet = inet_sk(sk);

	inet->uc_ttl = -1;
	inet->mc_ttl = 1;
	san_inet_mc_defaults(sk);
	inet->pmtudisc = IP_PMTUDISC_WANT;
	if (sk->sk_family == AF_INET6) {
		struct ipv6_pinfo *np = &container_of(san_sk(sk),
						      struct san_sock6,
						      ssk)->inet6;

		inet->pinet6 = np;
		np->hop_limit = -1;
		np->mcast_hops = IPV6_DEFAULT_MCASTHOPS;
		san_inet6_mc_defaults(sk, np);
		np->pmtudisc = IPV6_PMTUDISC_WANT;
	}
}

static int san_inet_init_sock(struct sock *sk)
{
	struct san_sock *ssk = san_sk(sk);

	san_sock_setup(sk);
	ssk->ipfam = sk->sk_family;
	/* A TCP program expects TCP's answer to a signal (see af_san(7)). */
	ssk->cancel_policy = SAN_CANCEL_PRESERVE;
	return 0;
}

/*
 * Never in an inet hash table; inet_create()'s error path (a cgroup BPF
 * program refusing the socket) calls sk_common_release(), which unhashes.
 */
static int san_inet_hash(struct sock *sk)
{
	return 0;
}

static void san_inet_unhash(struct sock *sk)
{
}

static struct proto san_inet_proto = {
	.name = "SAN",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct san_sock),
	.init = san_inet_init_sock,
	.hash = san_inet_hash,
	.unhash = san_inet_unhash,
	.keepalive = san_proto_keepalive,
};

static struct proto san_inet6_proto = {
	.name = "SANv6",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct san_sock6),
	SAN_IPV6_PINFO_OFFSET(struct san_sock6, inet6)
	.init = san_inet_init_sock,
	.hash = san_inet_hash,
	.unhash = san_inet_unhash,
	.keepalive = san_proto_keepalive,
};

static struct inet_protosw san_inet_protosw = {
	.type = SOCK_STREAM,
	.protocol = IPPROTO_SAN,
	.prot = &san_inet_proto,
	.ops = &san_inet_ops,
};

static struct inet_protosw san_inet6_protosw = {
	.type = SOCK_STREAM,
	.protocol = IPPROTO_SAN,
	.prot = &san_inet6_proto,
	.ops = &san_inet6_ops,
};

static int san_inet_register(void)
{
	int err;

	err = proto_register(&san_inet_proto, 1);
	if (err)
		return err;
	err = proto_register(&san_inet6_proto, 1);
	if (err)
		goto unregister_inet;
	inet_register_protosw(&san_inet_protosw);
	err = inet6_register_protosw(&san_inet6_protosw);
	if (err)
		goto unregister_protosw;
	return 0;

unregister_protosw:
	inet_unregister_protosw(&san_inet_protosw);
	proto_unregister(&san_inet6_proto);
unregister_inet:
	proto_unregister(&san_inet_proto);
	return err;
}

static void san_inet_unregister(void)
{
	inet6_unregister_protosw(&san_inet6_protosw);
	inet_unregister_protosw(&san_inet_protosw);
	proto_unregister(&san_inet6_proto);
	proto_unregister(&san_inet_proto);
}

static int san_create(struct net *net, struct socket *sock, int protocol,
		      int kern)
{
	if (sock->type != SOCK_STREAM)
		return -ESOCKTNOSUPPORT;
	if (protocol)
		return -EPROTONOSUPPORT;

	sock->ops = &san_stream_ops;
	sock->state = SS_UNCONNECTED;
	if (!san_sock_alloc(net, sock, GFP_KERNEL, kern))
		return -ENOMEM;
	return 0;
}

/**
 * san_child_alloc - a socket for a connection request on a listener
 * @lsk: the listener
 * @prov: the provider that carries the child's connection; it gives the
 *	child its handle with san_child_set_conn()
 *
 * The child starts in TCP_SYN_RECV, inherits the listener's buffer sizes
 * and options, and holds a reference on @lsk (@parent) until accept()
 * takes it or san_child_drop() ends it.  It counts as half-open on @lsk
 * until san_child_leave_synq(): as TCP, a listener holds at most its
 * backlog + 1 connections, half-open and established together.
 *
 * Context: process context.
 * Return: the child with one reference, owned by the caller;
 * ERR_PTR(-ENOBUFS) when the listener is full or no longer listening,
 * ERR_PTR(-ENOMEM).
 */
struct san_sock *san_child_alloc(struct san_sock *lsk,
				 const struct san_provider *prov)
{
	struct sock *lk = &lsk->sk;
	struct san_sock *child;
	struct sock *sk;
	bool full;

	spin_lock_bh(&lsk->state_lock);
	full = lk->sk_state != TCP_LISTEN ||
	       READ_ONCE(lk->sk_ack_backlog) + lsk->half_open >
	       READ_ONCE(lk->sk_max_ack_backlog);
	if (!full)
		lsk->half_open++;
	spin_unlock_bh(&lsk->state_lock);
	if (full)
		return ERR_PTR(-ENOBUFS);

	/*
	 * A child is what its listener is: an AF_SAN socket, or an
	 * IPPROTO_SAN one of the listener's inet family and proto.
	 */
	if (lsk->ipfam) {
		sk = sk_alloc(sock_net(lk), lk->sk_family, GFP_KERNEL,
			      lk->sk_prot, 0);
		if (sk) {
			sock_init_data(NULL, sk);
			sk->sk_protocol = IPPROTO_SAN;
			san_inet_child_init(sk);
			san_sock_setup(sk);
		}
	} else {
		sk = san_sock_alloc(sock_net(lk), NULL, GFP_KERNEL, 0);
	}
	if (!sk) {
		spin_lock_bh(&lsk->state_lock);
		lsk->half_open--;
		spin_unlock_bh(&lsk->state_lock);
		return ERR_PTR(-ENOMEM);
	}
	child = san_sk(sk);
	child->prov = prov;
	sk->sk_rcvbuf = READ_ONCE(lk->sk_rcvbuf);
	sk->sk_sndbuf = READ_ONCE(lk->sk_sndbuf);
#ifdef CONFIG_NET_RX_BUSY_POLL
	/* As TCP's clone of its listener: SO_BUSY_POLL is inherited. */
	sk->sk_ll_usec = READ_ONCE(lk->sk_ll_usec);
#endif
	sk->sk_flags = lk->sk_flags & (BIT(SOCK_KEEPOPEN) | BIT(SOCK_LINGER));
	sk->sk_lingertime = lk->sk_lingertime;
	child->keepidle = READ_ONCE(lsk->keepidle);
	child->ka_intvl_idle = READ_ONCE(lsk->ka_intvl_idle);
	/* As TCP's clone: the TCP options of the listener. */
	child->nodelay = READ_ONCE(lsk->nodelay);
	child->keepintvl = READ_ONCE(lsk->keepintvl);
	child->keepcnt = READ_ONCE(lsk->keepcnt);
	child->user_timeout = READ_ONCE(lsk->user_timeout);
	child->cancel_policy = READ_ONCE(lsk->cancel_policy);
	child->cancel_timeout_ms = READ_ONCE(lsk->cancel_timeout_ms);
	child->zcopy_threshold = READ_ONCE(lsk->zcopy_threshold);
	child->policy = READ_ONCE(lsk->policy);
	child->tos = READ_ONCE(lsk->tos);
	child->ipfam = lsk->ipfam;
	child->half_open = 1;
	sock_hold(lk);
	child->parent = lsk;
	san_set_state(child, TCP_SYN_RECV);
	return child;
}

/**
 * san_child_leave_synq - a child stops counting as half-open
 * @child: the child
 *
 * Context: any.
 * Return: whether it was half-open: the caller now decides its fate
 * (queue it for accept(), or drop it).
 */
bool san_child_leave_synq(struct san_sock *child)
{
	struct san_sock *lsk;
	bool was;

	/*
	 * The ESTABLISHED handler and an error in softirq may race here:
	 * the loser must not touch a listener the winner let go of.
	 */
	spin_lock_bh(&child->state_lock);
	lsk = child->parent;
	if (lsk)
		sock_hold(&lsk->sk);
	spin_unlock_bh(&child->state_lock);
	if (!lsk)
		return false;
	spin_lock_bh(&lsk->state_lock);
	was = child->half_open;
	if (was) {
		child->half_open = 0;
		lsk->half_open--;
	}
	spin_unlock_bh(&lsk->state_lock);
	sock_put(&lsk->sk);
	return was;
}

/**
 * san_child_take_parent - detach a child from its listener
 * @child: the child, no longer half-open
 *
 * Context: any.
 * Return: the listener, whose reference passes to the caller, or NULL.
 */
struct san_sock *san_child_take_parent(struct san_sock *child)
{
	struct san_sock *lsk;

	spin_lock_bh(&child->state_lock);
	lsk = child->parent;
	child->parent = NULL;
	spin_unlock_bh(&child->state_lock);
	return lsk;
}

/**
 * san_child_drop - end a child no accept() will take
 * @child: the child, off any accept queue
 *
 * Aborts its connection and drops the caller's reference.
 *
 * Context: any (an error in softirq may drop a half-open child); the
 * provider's abortive close does not sleep.
 */
void san_child_drop(struct san_sock *child)
{
	struct san_sock *lsk;

	san_child_leave_synq(child);
	lsk = san_child_take_parent(child);
	if (lsk)
		sock_put(&lsk->sk);
	sock_orphan(&child->sk);
	if (child->conn) {
		void *conn = child->conn;

		WRITE_ONCE(child->conn, NULL);
		child->prov->close(child, conn, true);
	}
	sock_put(&child->sk);
}

/**
 * san_child_set_conn - the provider gives a child it made its handle
 * @child: the child, from san_child_alloc(), not yet established
 * @conn: its handle (NULL: taken back, before the child is dropped)
 *
 * Context: any.
 */
void san_child_set_conn(struct san_sock *child, void *conn)
{
	WRITE_ONCE(child->conn, conn);
}

static struct net_proto_family san_family_ops = {
	.create = san_create,
	.owner = THIS_MODULE,
};

static int __init af_san_init(void)
{
	int err;

	if (san_family <= AF_UNSPEC || san_family >= AF_MAX) {
		pr_err("af_san: family=%d is out of range: the kernel takes 1..%d (free slots: 13, 18, 19, 22, 25)\n",
		       san_family, AF_MAX - 1);
		return -EINVAL;
	}
	san_family_ops.family = san_family;

	err = proto_register(&san_proto, 1);
	if (err)
		return err;

	err = san_stats_init();
	if (err)
		goto unregister_proto;

	err = san_net_register();
	if (err)
		goto exit_stats;

	err = san_diag_init();
	if (err)
		goto exit_net;

	err = san_providers_init();
	if (err)
		goto exit_diag;

	err = sock_register(&san_family_ops);
	if (err) {
		if (err == -EEXIST)
			pr_err("af_san: family %d is already registered by another protocol; load with family=N, a free slot (13, 18, 19, 22, 25)\n",
			       san_family);
		goto exit_providers;
	}

	err = san_inet_register();
	if (err)
		goto unregister_family;

	pr_info("af_san: registered as socket family %d and IPPROTO_SAN %d\n",
		san_family, IPPROTO_SAN);
	return 0;

unregister_family:
	sock_unregister(san_family);
exit_providers:
	san_providers_exit();
exit_diag:
	san_diag_exit();
exit_net:
	san_net_unregister();
exit_stats:
	san_stats_exit();
unregister_proto:
	proto_unregister(&san_proto);
	return err;
}

static void __exit af_san_exit(void)
{
	san_inet_unregister();
	sock_unregister(san_family);
	san_providers_exit();
	san_diag_exit();
	san_net_unregister();
	san_stats_exit();
	proto_unregister(&san_proto);
}

module_init(af_san_init);
module_exit(af_san_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("AF_SAN: TCP-grade byte streams over RDMA (Windows Sockets Direct model)");
MODULE_ALIAS_NETPROTO(AF_SAN);
/* socket(AF_INET or AF_INET6, SOCK_STREAM, IPPROTO_SAN) loads us too. */
MODULE_ALIAS("net-pf-2-proto-261-type-1");
MODULE_ALIAS("net-pf-10-proto-261-type-1");
