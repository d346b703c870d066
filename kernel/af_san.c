// SPDX-License-Identifier: GPL-2.0
/*
 * AF_SAN: the socket family, and the switch of the Windows Sockets Direct
 * model.  This file holds the family registration, the proto_ops table
 * and module init/exit.  Blocking, waiting, timeouts, signals and
 * cancellation are implemented here, once, for every provider; providers
 * (san_rdma.c, san_tcp.c) only see non-blocking calls and abortive close.
 *
 * Operations that the stream data path has not reached yet answer as a
 * socket family without them does (sock_no_*: EOPNOTSUPP).
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/socket.h>
#include <net/sock.h>
#include <uapi/linux/san.h>

#include "san.h"

/* Dead slots no 6.1 or 6.12 kernel registers: see docs/design.md. */
static int family = AF_SAN;
module_param(family, int, 0444);
MODULE_PARM_DESC(family,
		 "socket family number to register (default 22; free slots: 13, 18, 19, 22, 25)");

static struct proto san_proto = {
	.name = "AF_SAN",
	.owner = THIS_MODULE,
	.obj_size = sizeof(struct san_sock),
};

static void san_sock_destruct(struct sock *sk)
{
	sock_prot_inuse_add(sock_net(sk), sk->sk_prot, -1);
}

static int san_release(struct socket *sock)
{
	struct sock *sk = sock->sk;

	if (!sk)
		return 0;

	lock_sock(sk);
	sock_orphan(sk);
	sk->sk_shutdown = SHUTDOWN_MASK;
	release_sock(sk);

	sock->sk = NULL;
	sock_put(sk);
	return 0;
}

/*
 * .family holds the default number even when the module is loaded with
 * family=N: the kernel reads proto_ops.family only to tell AF_UNIX sockets
 * apart (scm.c).  The number in use lives in sk->sk_family.
 */
static const struct proto_ops san_stream_ops = {
	.family = AF_SAN,
	.owner = THIS_MODULE,
	.release = san_release,
	.bind = sock_no_bind,
	.connect = sock_no_connect,
	.socketpair = sock_no_socketpair,
	.accept = sock_no_accept,
	.getname = sock_no_getname,
	.ioctl = sock_no_ioctl,
	.listen = sock_no_listen,
	.shutdown = sock_no_shutdown,
	.sendmsg = sock_no_sendmsg,
	.recvmsg = sock_no_recvmsg,
	.mmap = sock_no_mmap,
	.sendpage = sock_no_sendpage,
};

static int san_create(struct net *net, struct socket *sock, int protocol,
		      int kern)
{
	struct sock *sk;

	if (sock->type != SOCK_STREAM)
		return -ESOCKTNOSUPPORT;
	if (protocol)
		return -EPROTONOSUPPORT;

	sk = sk_alloc(net, family, GFP_KERNEL, &san_proto, kern);
	if (!sk)
		return -ENOMEM;

	sock->ops = &san_stream_ops;
	sock->state = SS_UNCONNECTED;
	sock_init_data(sock, sk);
	sk->sk_protocol = protocol;
	sk->sk_destruct = san_sock_destruct;
	sock_prot_inuse_add(net, &san_proto, 1);
	return 0;
}

static struct net_proto_family san_family_ops = {
	.create = san_create,
	.owner = THIS_MODULE,
};

static int __init af_san_init(void)
{
	int err;

	if (family <= AF_UNSPEC || family >= AF_MAX) {
		pr_err("af_san: family=%d is out of range: the kernel takes 1..%d (free slots: 13, 18, 19, 22, 25)\n",
		       family, AF_MAX - 1);
		return -EINVAL;
	}
	san_family_ops.family = family;

	err = proto_register(&san_proto, 1);
	if (err)
		return err;

	err = san_providers_init();
	if (err)
		goto unregister_proto;

	err = sock_register(&san_family_ops);
	if (err) {
		if (err == -EEXIST)
			pr_err("af_san: family %d is already registered by another protocol; load with family=N, a free slot (13, 18, 19, 22, 25)\n",
			       family);
		goto exit_providers;
	}

	pr_info("af_san: registered as socket family %d\n", family);
	return 0;

exit_providers:
	san_providers_exit();
unregister_proto:
	proto_unregister(&san_proto);
	return err;
}

static void __exit af_san_exit(void)
{
	sock_unregister(family);
	san_providers_exit();
	proto_unregister(&san_proto);
}

module_init(af_san_init);
module_exit(af_san_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("AF_SAN: TCP-grade byte streams over RDMA (Windows Sockets Direct model)");
MODULE_ALIAS_NETPROTO(AF_SAN);
