// SPDX-License-Identifier: GPL-2.0
/*
 * The TCP provider: carries an AF_SAN connection over the kernel's own TCP
 * when the destination has no RDMA path, and lets plain TCP clients reach
 * an AF_SAN listener.  The stream on the wire is plain TCP, with no
 * framing of ours, so that either end may be an ordinary TCP program.
 *
 * Each connection is one kernel TCP socket, driven without ever blocking
 * on the network: MSG_DONTWAIT sends and receives, a non-blocking
 * connect(), and the socket's callbacks (data ready, write space, state
 * change) reporting to the switch through the san_*() event functions.
 * A listener's kernel socket hands its connections to a work item, which
 * makes an AF_SAN child of each.
 *
 * The switch stores the handle: in ssk->conn when TCP carries the socket,
 * in ssk->alt_conn when the socket holds its address on TCP beside RDMA
 * (bound or listening under the "prefer RDMA" policy).  The callbacks
 * run in softirq under the kernel socket's lock; they read sk_user_data
 * under sk_callback_lock, which the release work takes to detach them.
 * A handle and its kernel sock live one RCU grace period past the
 * release, for the switch's lockless readers (poll).
 */
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/net.h>
#include <linux/slab.h>
#include <linux/workqueue.h>
#include <net/inet_connection_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "san.h"

/**
 * struct san_tconn - the TCP provider's state for one AF_SAN socket
 * @sock: the kernel socket; NULL once released
 * @tsk: its sock, referenced until the handle is freed
 * @ssk: the AF_SAN socket, referenced until the handle is freed
 * @listener: @sock listens; new connections go to @accept_work
 * @gone: the switch let go of the handle (close or reset): callbacks
 *	report nothing more
 * @reported: SAN_TCP_FIN, SAN_TCP_END: what san_tcp_report() told the
 *	switch already
 * @abort: release with a reset (SO_LINGER 0)
 * @accept_work: listener: turn the kernel's new connections into children
 * @release_work: detach the callbacks and release @sock
 * @free_work: free the handle after an RCU grace period
 * @saved_data_ready: the kernel socket's own callbacks, restored on release
 * @saved_write_space: see @saved_data_ready
 * @saved_state_change: see @saved_data_ready
 */
struct san_tconn {
	struct socket *sock;
	struct sock *tsk;
	struct san_sock *ssk;
	bool listener;
	bool gone;
	unsigned long reported;
	bool abort;
	struct work_struct accept_work;
	struct work_struct release_work;
	struct rcu_work free_work;
	void (*saved_data_ready)(struct sock *sk);
	void (*saved_write_space)(struct sock *sk);
	void (*saved_state_change)(struct sock *sk);
};

/* Bits of san_tconn.reported. */
enum {
	SAN_TCP_FIN,	/* san_peer_fin() */
	SAN_TCP_END,	/* san_conn_error() */
};

static struct workqueue_struct *san_tcp_wq;

/* The handle of a socket TCP carries; lock_sock or rcu_read_lock held. */
static struct san_tconn *san_tcp_conn(struct san_sock *ssk)
{
	return READ_ONCE(ssk->conn);
}

/*
 * Report the kernel socket's state to the switch: connected, the peer's
 * FIN, the end (with its error).  Callback context or process context;
 * idempotent, so that a child can catch up on what happened before its
 * callbacks were attached.
 */
static void san_tcp_report(struct san_tconn *tc)
{
	struct sock *tsk = tc->tsk;
	struct san_sock *ssk = tc->ssk;
	int state = READ_ONCE(tsk->sk_state);
	int err;

	if (READ_ONCE(tc->gone))
		return;
	if (state == TCP_SYN_SENT || state == TCP_SYN_RECV)
		return;
	if (state != TCP_CLOSE && READ_ONCE(ssk->sk.sk_state) == TCP_SYN_SENT)
		san_established(ssk);
	if ((READ_ONCE(tsk->sk_shutdown) & RCV_SHUTDOWN) &&
	    !test_and_set_bit(SAN_TCP_FIN, &tc->reported))
		san_peer_fin(ssk);
	if (state == TCP_CLOSE && !test_and_set_bit(SAN_TCP_END, &tc->reported)) {
		err = READ_ONCE(tsk->sk_err);
		/* Closed without error before it connected: refused. */
		if (!err && READ_ONCE(ssk->sk.sk_state) == TCP_SYN_SENT)
			err = ECONNREFUSED;
		san_conn_error(ssk, err);
	}
}

/*
 * A connection a listener's kernel socket made is a clone of it, with its
 * callbacks and sk_user_data, until san_tcp_new_child() takes it: the
 * callbacks then act as the kernel's own (@tsk is not the handle's).
 */
static void san_tcp_data_ready(struct sock *tsk)
{
	struct san_tconn *tc;

	read_lock_bh(&tsk->sk_callback_lock);
	tc = tsk->sk_user_data;
	if (tc && tc->tsk != tsk)
		tc->saved_data_ready(tsk);
	else if (tc && !READ_ONCE(tc->gone) && tc->listener)
		queue_work(san_tcp_wq, &tc->accept_work);
	else if (tc && !READ_ONCE(tc->gone))
		san_wake_rx(tc->ssk);
	read_unlock_bh(&tsk->sk_callback_lock);
}

static void san_tcp_write_space(struct sock *tsk)
{
	struct san_tconn *tc;

	read_lock_bh(&tsk->sk_callback_lock);
	tc = tsk->sk_user_data;
	if (tc && tc->tsk != tsk) {
		tc->saved_write_space(tsk);
	} else if (tc && !READ_ONCE(tc->gone) &&
		   sk_stream_is_writeable(tsk)) {
		if (tsk->sk_socket)
			clear_bit(SOCK_NOSPACE, &tsk->sk_socket->flags);
		san_wake_tx(tc->ssk);
	}
	read_unlock_bh(&tsk->sk_callback_lock);
}

static void san_tcp_state_change(struct sock *tsk)
{
	struct san_tconn *tc;

	read_lock_bh(&tsk->sk_callback_lock);
	tc = tsk->sk_user_data;
	if (tc && tc->tsk != tsk) {
		tc->saved_state_change(tsk);
	} else if (tc && !tc->listener) {
		san_tcp_report(tc);
		/* Our FIN acknowledged (FIN_WAIT2): a lingering close ends. */
		if (!READ_ONCE(tc->gone))
			san_wake_tx(tc->ssk);
	}
	read_unlock_bh(&tsk->sk_callback_lock);
}

static void san_tcp_attach(struct san_tconn *tc)
{
	struct sock *tsk = tc->tsk;

	write_lock_bh(&tsk->sk_callback_lock);
	tc->saved_data_ready = tsk->sk_data_ready;
	tc->saved_write_space = tsk->sk_write_space;
	tc->saved_state_change = tsk->sk_state_change;
	tsk->sk_user_data = tc;
	tsk->sk_data_ready = san_tcp_data_ready;
	tsk->sk_write_space = san_tcp_write_space;
	tsk->sk_state_change = san_tcp_state_change;
	write_unlock_bh(&tsk->sk_callback_lock);
}

static void san_tcp_detach(struct san_tconn *tc)
{
	struct sock *tsk = tc->tsk;

	write_lock_bh(&tsk->sk_callback_lock);
	if (tsk->sk_user_data == tc) {
		tsk->sk_user_data = NULL;
		tsk->sk_data_ready = tc->saved_data_ready;
		tsk->sk_write_space = tc->saved_write_space;
		tsk->sk_state_change = tc->saved_state_change;
	}
	write_unlock_bh(&tsk->sk_callback_lock);
}

static void san_tcp_free_work(struct work_struct *work)
{
	struct san_tconn *tc = container_of(to_rcu_work(work),
					    struct san_tconn, free_work);

	sock_put(tc->tsk);
	sock_put(&tc->ssk->sk);
	atomic_dec(&san_stats.conns);
	atomic_dec(&san_stats.tcp_conns);
	kfree(tc);
}

/* Detach, release the kernel socket, free after a grace period. */
static void san_tcp_release(struct san_tconn *tc)
{
	san_tcp_detach(tc);
	/* Only a listener's is ever queued (lockdep: no needless wait). */
	if (tc->listener)
		cancel_work_sync(&tc->accept_work);
	if (tc->abort)
		sock_no_linger(tc->tsk);
	sock_release(tc->sock);
	tc->sock = NULL;
	queue_rcu_work(san_tcp_wq, &tc->free_work);
}

static void san_tcp_release_work(struct work_struct *work)
{
	san_tcp_release(container_of(work, struct san_tconn, release_work));
}

static void san_tcp_accept_work(struct work_struct *work);

/* A handle for @ssk around @sock (which it owns from now on). */
static struct san_tconn *san_tcp_wrap(struct san_sock *ssk,
				      struct socket *sock)
{
	struct san_tconn *tc;

	tc = kzalloc(sizeof(*tc), GFP_KERNEL);
	if (!tc) {
		sock_release(sock);
		return NULL;
	}
	tc->sock = sock;
	tc->tsk = sock->sk;
	sock_hold(tc->tsk);
	tc->ssk = ssk;
	sock_hold(&ssk->sk);
	INIT_WORK(&tc->accept_work, san_tcp_accept_work);
	INIT_WORK(&tc->release_work, san_tcp_release_work);
	INIT_RCU_WORK(&tc->free_work, san_tcp_free_work);
	atomic_inc(&san_stats.conns);
	atomic_inc(&san_stats.tcp_conns);
	return tc;
}

/*
 * The TCP sockets under AF_SAN sockets get lock classes of their own: an
 * IPPROTO_SAN socket is an AF_INET(6) socket too, and its lock is held
 * when the TCP socket's is taken (as MPTCP's subflows, nvme-tcp's).
 */
static struct lock_class_key san_tcp_key[2], san_tcp_slock_key[2];

static void san_tcp_reclassify(struct sock *sk)
{
	int i = sk->sk_family == AF_INET6;

	if (!sock_allow_reclassification(sk))
		return;
	sock_lock_init_class_and_name(sk,
				      i ? "slock-AF_INET6-SAN" : "slock-AF_INET-SAN",
				      &san_tcp_slock_key[i],
				      i ? "sk_lock-AF_INET6-SAN" : "sk_lock-AF_INET-SAN",
				      &san_tcp_key[i]);
}

static void *san_tcp_open(struct san_sock *ssk, int family)
{
	struct socket *sock;
	int err;

	/*
	 * Not a kernel socket (sock_create_kern()): it holds a reference on
	 * its network namespace, which it may outlive the AF_SAN socket in
	 * (an orphaned close), and so do the connections a listener of it
	 * makes.
	 */
	err = __sock_create(sock_net(&ssk->sk), family, SOCK_STREAM,
			    IPPROTO_TCP, &sock, 0);
	if (err)
		return ERR_PTR(err);
	san_tcp_reclassify(sock->sk);
	if (ssk->sk.sk_reuse)
		sock_set_reuseaddr(sock->sk);
	if (family == AF_INET6) {
		int v6only = ssk->v6only;

		sock->ops->setsockopt(sock, SOL_IPV6, IPV6_V6ONLY,
				      KERNEL_SOCKPTR(&v6only), sizeof(v6only));
	}
	return san_tcp_wrap(ssk, sock) ?: ERR_PTR(-ENOMEM);
}

static int san_tcp_init(void)
{
	san_tcp_wq = alloc_workqueue("san_tcp", WQ_UNBOUND, 0);
	return san_tcp_wq ? 0 : -ENOMEM;
}

static void san_tcp_exit(void)
{
	destroy_workqueue(san_tcp_wq);
}

static int san_tcp_addr_len(const struct sockaddr_storage *addr)
{
	return addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					     sizeof(struct sockaddr_in);
}

static void san_tcp_setopt(struct san_tconn *tc, int optname, int val)
{
	struct socket *sock = tc->sock;

	/* The switch checked the value with TCP's own ranges. */
	sock->ops->setsockopt(sock, SOL_TCP, optname, KERNEL_SOCKPTR(&val),
			      sizeof(val));
}

/* The switch's TCP options onto the kernel socket. */
static void san_tcp_tcp_opts(struct san_sock *ssk)
{
	struct san_tconn *tc = san_tcp_conn(ssk);

	if (!tc)
		return;
	san_tcp_setopt(tc, TCP_NODELAY, ssk->nodelay);
	san_tcp_setopt(tc, TCP_CORK, ssk->cork);
	san_tcp_setopt(tc, TCP_KEEPIDLE,
		       min_t(unsigned int, san_keepalive_idle(ssk),
			     MAX_TCP_KEEPIDLE));
	/* SAN_KEEPIDLE is the interval between probes as well. */
	if (ssk->keepintvl)
		san_tcp_setopt(tc, TCP_KEEPINTVL, ssk->keepintvl);
	else if (ssk->ka_intvl_idle && ssk->keepidle)
		san_tcp_setopt(tc, TCP_KEEPINTVL,
			       min_t(int, ssk->keepidle, MAX_TCP_KEEPINTVL));
	if (ssk->keepcnt)
		san_tcp_setopt(tc, TCP_KEEPCNT, ssk->keepcnt);
	san_tcp_setopt(tc, TCP_USER_TIMEOUT, ssk->user_timeout);
	if (ssk->tos) {
		int tos = ssk->tos;

		if (tc->tsk->sk_family == AF_INET6)
			tc->sock->ops->setsockopt(tc->sock, SOL_IPV6,
						  IPV6_TCLASS,
						  KERNEL_SOCKPTR(&tos),
						  sizeof(tos));
		else
			tc->sock->ops->setsockopt(tc->sock, SOL_IP, IP_TOS,
						  KERNEL_SOCKPTR(&tos),
						  sizeof(tos));
	}
}

static int san_tcp_bind(struct san_sock *ssk, void *handle)
{
	struct san_tconn *tc = handle;
	struct sockaddr_storage addr;
	int err, len;

	if (tc->tsk->sk_family != ssk->local.ss_family)
		return -EAFNOSUPPORT;
	err = kernel_bind(tc->sock, (struct sockaddr *)&ssk->local,
			  san_tcp_addr_len(&ssk->local));
	if (err)
		return err;
	len = kernel_getsockname(tc->sock, (struct sockaddr *)&addr);
	if (len > 0)
		memcpy(&ssk->local, &addr, len);
	return 0;
}

static int san_tcp_listen(struct san_sock *ssk, void *handle, int backlog)
{
	struct san_tconn *tc = handle;
	int err;

	tc->listener = true;
	san_tcp_attach(tc);
	err = kernel_listen(tc->sock, backlog);
	if (err)
		tc->listener = false;
	return err;
}

/* A connection the kernel's listener accepted: an AF_SAN child. */
static void san_tcp_new_child(struct san_tconn *ltc, struct socket *sock)
{
	struct san_sock *lsk = ltc->ssk, *child;
	struct san_tconn *tc;

	/*
	 * A clone keeps TCP's own lock class: it is live (softirq may hold
	 * its slock at any time), and re-initialising a lock in use is
	 * not safe.  Its AF_SAN child's class (AF_SAN's, or sk_lock-SAN
	 * for IPPROTO_SAN) differs from it, which is what lockdep needs.
	 */
	/* It inherited the listener's callbacks: the kernel's own back. */
	write_lock_bh(&sock->sk->sk_callback_lock);
	sock->sk->sk_user_data = NULL;
	sock->sk->sk_data_ready = ltc->saved_data_ready;
	sock->sk->sk_write_space = ltc->saved_write_space;
	sock->sk->sk_state_change = ltc->saved_state_change;
	write_unlock_bh(&sock->sk->sk_callback_lock);
	child = san_child_alloc(lsk, &san_tcp_provider);
	if (IS_ERR(child)) {
		/* The backlog is full: the client sees a reset. */
		sock_no_linger(sock->sk);
		sock_release(sock);
		return;
	}
	tc = san_tcp_wrap(child, sock);
	if (!tc) {
		san_set_state(child, TCP_CLOSE);
		san_child_drop(child);
		return;
	}
	san_child_set_conn(child, tc);
	san_tcp_tcp_opts(child);
	if (sock_flag(&child->sk, SOCK_KEEPOPEN))
		sock_set_keepalive(tc->tsk);
	/*
	 * Once the callbacks are there, a reset may drop the child, and once
	 * it is queued, accept() and close() may: @tc and the child are
	 * freed a grace period after that.
	 */
	rcu_read_lock();
	san_tcp_attach(tc);
	san_established(child);
	/* What happened before the callbacks were there. */
	san_tcp_report(tc);
	san_wake_rx(child);
	rcu_read_unlock();
}

static void san_tcp_accept_work(struct work_struct *work)
{
	struct san_tconn *tc = container_of(work, struct san_tconn,
					    accept_work);
	struct socket *sock;

	while (!READ_ONCE(tc->gone)) {
		if (kernel_accept(tc->sock, &sock, O_NONBLOCK))
			break;
		san_tcp_new_child(tc, sock);
		cond_resched();
	}
}

static int san_tcp_connect(struct san_sock *ssk, void *handle,
			   struct sockaddr_storage *addr)
{
	struct san_tconn *tc = handle;
	struct sockaddr_storage to = *addr;
	int err;

	/* An IPv6 socket reaches an IPv4 peer at its mapped address. */
	if (tc->tsk->sk_family == AF_INET6 && to.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)addr;
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&to;

		memset(&to, 0, sizeof(to));
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = sin->sin_port;
		ipv6_addr_set_v4mapped(sin->sin_addr.s_addr, &sin6->sin6_addr);
	} else if (tc->tsk->sk_family != to.ss_family) {
		return -EAFNOSUPPORT;
	}
	san_tcp_attach(tc);
	san_tcp_tcp_opts(ssk);
	if (sock_flag(&ssk->sk, SOCK_KEEPOPEN))
		sock_set_keepalive(tc->tsk);
	err = kernel_connect(tc->sock, (struct sockaddr *)&to,
			     san_tcp_addr_len(&to), O_NONBLOCK);
	if (err == -EINPROGRESS)
		return 0;
	if (!err)
		san_tcp_report(tc);
	return err;
}

static int san_tcp_sendmsg(struct san_sock *ssk, struct msghdr *msg,
			   size_t len)
{
	struct san_tconn *tc = san_tcp_conn(ssk);
	unsigned int flags = msg->msg_flags;
	int n;

	msg->msg_flags = (flags & (MSG_MORE | MSG_EOR)) | MSG_DONTWAIT |
			 MSG_NOSIGNAL;
	n = sock_sendmsg(tc->sock, msg);
	msg->msg_flags = flags;
	if (n == 0)
		return -EAGAIN;
	/* An ended connection reports through the switch's own state. */
	if (n < 0 && n != -EFAULT && n != -EAGAIN && READ_ONCE(ssk->sk.sk_err))
		return -EAGAIN;
	return n;
}

static int san_tcp_recvmsg(struct san_sock *ssk, struct msghdr *msg,
			   size_t len, int flags)
{
	struct san_tconn *tc = san_tcp_conn(ssk);
	int n;

	n = sock_recvmsg(tc->sock, msg, (flags & MSG_PEEK) | MSG_DONTWAIT);
	if (n > 0 || n == -EFAULT)
		return n;
	/* The end and errors come through san_tcp_report(). */
	san_tcp_report(tc);
	return -EAGAIN;
}

static u32 san_tcp_rx_queued(struct san_sock *ssk)
{
	struct san_tconn *tc = san_tcp_conn(ssk);
	const struct tcp_sock *tp;
	s32 n;

	if (!tc)
		return 0;
	tp = tcp_sk(tc->tsk);
	n = READ_ONCE(tp->rcv_nxt) - READ_ONCE(tp->copied_seq);
	/* The FIN takes a sequence number but is no byte. */
	if (n > 0 && sock_flag(tc->tsk, SOCK_DONE))
		n--;
	return max(n, 0);
}

static u32 san_tcp_tx_queued(struct san_sock *ssk)
{
	struct san_tconn *tc = san_tcp_conn(ssk);
	const struct tcp_sock *tp;
	s32 n;

	if (!tc)
		return 0;
	tp = tcp_sk(tc->tsk);
	n = READ_ONCE(tp->write_seq) - READ_ONCE(tp->snd_una);
	return max(n, 0);
}

static bool san_tcp_tx_ready(struct san_sock *ssk)
{
	struct san_tconn *tc = san_tcp_conn(ssk);
	struct sock *tsk;
	bool ready;

	if (!tc)
		return false;
	tsk = tc->tsk;
	if (sk_stream_is_writeable(tsk))
		return true;
	/* As tcp_poll(): ask for a write-space callback, then look again. */
	read_lock_bh(&tsk->sk_callback_lock);
	if (tsk->sk_socket)
		set_bit(SOCK_NOSPACE, &tsk->sk_socket->flags);
	read_unlock_bh(&tsk->sk_callback_lock);
	/* Pairs with tcp_check_space()'s barrier before it reads NOSPACE. */
	smp_mb__after_atomic();
	ready = sk_stream_is_writeable(tsk);
	return ready;
}

static void san_tcp_shutdown_tx(struct san_sock *ssk)
{
	struct san_tconn *tc = san_tcp_conn(ssk);

	kernel_sock_shutdown(tc->sock, SHUT_WR);
}

static bool san_tcp_tx_done(struct san_sock *ssk)
{
	return !san_tcp_tx_queued(ssk);
}

static int san_tcp_getname(struct san_sock *ssk,
			   struct sockaddr_storage *addr, bool peer)
{
	struct san_tconn *tc = san_tcp_conn(ssk);

	memset(addr, 0, sizeof(*addr));
	if (peer)
		return kernel_getpeername(tc->sock, (struct sockaddr *)addr);
	return kernel_getsockname(tc->sock, (struct sockaddr *)addr);
}

static void san_tcp_abort(struct san_sock *ssk)
{
	struct san_tconn *tc = san_tcp_conn(ssk);

	/* The peer sees a reset; the kernel socket stays until close(). */
	tcp_abort(tc->tsk, ECONNABORTED);
}

/* Let go of a handle; release it now or from the work queue. */
static void san_tcp_drop(struct san_tconn *tc, bool abort, bool sync)
{
	WRITE_ONCE(tc->gone, true);
	tc->abort = abort;
	if (sync)
		san_tcp_release(tc);
	else
		queue_work(san_tcp_wq, &tc->release_work);
}

/*
 * Process context, socket lock held: the address is free on return.  The
 * switch hands back the TCP side of an address held on both so as well.
 */
static void san_tcp_reset(struct san_sock *ssk, void *handle)
{
	san_tcp_drop(handle, true, true);
}

/* TCP_INFO and TCP_CONGESTION: the kernel socket's own answer. */
static int san_tcp_tcp_getsockopt(struct san_sock *ssk, int optname,
				  char __user *optval, int __user *optlen)
{
	struct san_tconn *tc = san_tcp_conn(ssk);

	if (optname != TCP_INFO && optname != TCP_CONGESTION)
		return -ENOPROTOOPT;
	return tc->sock->ops->getsockopt(tc->sock, SOL_TCP, optname, optval,
					 optlen);
}

static void san_tcp_keepalive(struct san_sock *ssk)
{
	struct san_tconn *tc = san_tcp_conn(ssk);

	san_tcp_tcp_opts(ssk);
	sock_set_keepalive(tc->tsk);
}

/* Any context (a child may be dropped from a callback): deferred. */
static void san_tcp_close(struct san_sock *ssk, void *handle, bool abort)
{
	san_tcp_drop(handle, abort, false);
}

const struct san_provider san_tcp_provider = {
	.name = "tcp",
	.init = san_tcp_init,
	.exit = san_tcp_exit,
	.open = san_tcp_open,
	.bind = san_tcp_bind,
	.listen = san_tcp_listen,
	.connect = san_tcp_connect,
	.sendmsg = san_tcp_sendmsg,
	.recvmsg = san_tcp_recvmsg,
	.rx_queued = san_tcp_rx_queued,
	.tx_queued = san_tcp_tx_queued,
	.tx_ready = san_tcp_tx_ready,
	.shutdown_tx = san_tcp_shutdown_tx,
	.tx_done = san_tcp_tx_done,
	.getname = san_tcp_getname,
	.abort = san_tcp_abort,
	.reset = san_tcp_reset,
	.keepalive = san_tcp_keepalive,
	.tcp_opts = san_tcp_tcp_opts,
	.tcp_getsockopt = san_tcp_tcp_getsockopt,
	.close = san_tcp_close,
};
