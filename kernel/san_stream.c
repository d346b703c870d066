// SPDX-License-Identifier: GPL-2.0
/*
 * The switch: the AF_SAN stream socket calls.  This is the only place that
 * blocks: each call asks the provider to make progress without waiting,
 * and sleeps on the socket's wait queue (sk_wait_event()) until a provider
 * event (san_established(), san_conn_error(), san_peer_fin(),
 * san_wake_rx(), san_wake_tx()) wakes it, a timeout runs out, or a signal
 * arrives.
 *
 * Connection states reuse TCP's constants so that tools understand them;
 * docs/design.md has the diagram.  Every change goes through
 * san_set_state() under ssk->state_lock.
 */
#include <linux/in.h>
#include <linux/sched/clock.h>
#include <linux/in6.h>
#include <asm/ioctls.h>
#include <linux/sockios.h>
#include <net/ipv6.h>
#include <net/sock.h>
#include <net/tcp_states.h>
#include <uapi/linux/san.h>

#include "san.h"
#include "san_compat.h"

/* Allowed transitions: bit N of san_next[old] allows state N. */
static const u32 san_next[TCP_MAX_STATES] = {
	[TCP_CLOSE] = TCPF_LISTEN | TCPF_SYN_SENT | TCPF_SYN_RECV,
	[TCP_LISTEN] = TCPF_CLOSE,
	[TCP_SYN_SENT] = TCPF_ESTABLISHED | TCPF_CLOSE,
	[TCP_SYN_RECV] = TCPF_ESTABLISHED | TCPF_CLOSE,
	[TCP_ESTABLISHED] = TCPF_CLOSE,
};

/**
 * san_set_state - move a socket to another connection state
 * @ssk: the socket
 * @state: the TCP_* state to enter
 *
 * Context: any; takes ssk->state_lock.
 * Return: true if the transition is allowed and was made.
 */
bool san_set_state(struct san_sock *ssk, int state)
{
	struct sock *sk = &ssk->sk;
	int old;
	bool ok;

	spin_lock_bh(&ssk->state_lock);
	old = sk->sk_state;
	ok = san_next[old] & (1 << state);
	if (ok)
		sk->sk_state = state;
	spin_unlock_bh(&ssk->state_lock);
	if (ok && old != state)
		san_note_state(ssk, old, state);
	return ok;
}

static void san_accept_enqueue(struct san_sock *child)
{
	struct san_sock *lsk;
	bool queued = false;

	lsk = child->parent;
	spin_lock_bh(&lsk->state_lock);
	if (lsk->sk.sk_state == TCP_LISTEN) {
		list_add_tail(&child->accept_node, &lsk->accept_q);
		sk_acceptq_added(&lsk->sk);
		queued = true;
		/*
		 * Once queued, accept() may take the child and drop the
		 * child's reference on the listener at any time: wake the
		 * listener under a reference of our own.
		 */
		sock_hold(&lsk->sk);
	}
	spin_unlock_bh(&lsk->state_lock);
	if (queued) {
		lsk->sk.sk_data_ready(&lsk->sk);
		sock_put(&lsk->sk);
	} else {
		san_child_drop(child);
	}
}

/*
 * The handles the switch stores (ssk->conn, ssk->alt_conn): opened,
 * reset and closed through these only.  Socket lock held.  A handle is
 * unpublished (WRITE_ONCE(NULL)) before its provider lets go of it, for
 * the lockless readers (poll), which providers serve an RCU grace period
 * longer.
 */
static int san_slot_open(struct san_sock *ssk, const struct san_provider *prov,
			 void **slot, int family)
{
	void *conn;

	if (*slot)
		return 0;
	conn = prov->open(ssk, family);
	if (IS_ERR(conn))
		return PTR_ERR(conn);
	WRITE_ONCE(*slot, conn);
	return 0;
}

static void san_slot_reset(struct san_sock *ssk,
			   const struct san_provider *prov, void **slot)
{
	/* xchg: san_established() may take an unbound alt_conn meanwhile. */
	void *conn = xchg(slot, NULL);

	if (conn)
		prov->reset(ssk, conn);
}

static void san_slot_close(struct san_sock *ssk, bool abort)
{
	void *conn = ssk->conn;

	if (!conn)
		return;
	WRITE_ONCE(ssk->conn, NULL);
	ssk->prov->close(ssk, conn, abort);
}

/* A connect() error that says the address has no RDMA path at all. */
static bool san_no_path_error(int err)
{
	return err == EHOSTUNREACH || err == ENETUNREACH ||
	       err == EADDRNOTAVAIL || err == ENODEV;
}

/**
 * san_conn_fallback - an RDMA attempt found no RDMA path to its peer
 * @ssk: the connecting socket
 * @reason: SAN_FALLBACK_NO_PATH, _REFUSED (no AF_SAN listener there) or
 *	_TIMEOUT (no answer)
 *
 * Said by the RDMA provider before it reports the failure with
 * san_conn_error().  When the socket may fall back to TCP (its connect()
 * armed it), the fallback is decided here and fb_work carries it out; the
 * abandoned attempt's events are swallowed from now on.  Otherwise
 * nothing happens and the failure is the connect()'s.
 *
 * Context: any.
 */
void san_conn_fallback(struct san_sock *ssk, int reason)
{
	spin_lock_bh(&ssk->state_lock);
	if (!ssk->fb_go && ssk->fb_armed && ssk->sk.sk_state == TCP_SYN_SENT) {
		ssk->fb_armed = false;
		ssk->fb_go = true;
		ssk->fb_reason = reason;
		mod_delayed_work(system_wq, &ssk->fb_work, 0);
	}
	spin_unlock_bh(&ssk->state_lock);
}

/*
 * The socket is between a decided fallback and its TCP attempt: true.
 * Otherwise the attempt ends here, and so does its fallback timer's claim
 * (a later connect() arms it anew).
 */
static bool san_fallback_pending(struct san_sock *ssk)
{
	bool go;

	spin_lock_bh(&ssk->state_lock);
	go = ssk->fb_go;
	if (!go)
		ssk->fb_armed = false;
	spin_unlock_bh(&ssk->state_lock);
	return go;
}

/*
 * Replace the RDMA attempt by a TCP one to the same peer: the provider is
 * chosen again before any connection exists, never switched under one.
 * Process context, socket lock held, fb_go set.
 */
static void san_fallback_run(struct san_sock *ssk)
{
	int err;

	/* The RDMA attempt goes, with everything it holds. */
	san_slot_reset(ssk, ssk->prov, &ssk->conn);
	WRITE_ONCE(ssk->prov, &san_tcp_provider);
	/* A bound socket's TCP side holds its address already. */
	if (ssk->alt_conn) {
		WRITE_ONCE(ssk->conn, ssk->alt_conn);
		ssk->alt_conn = NULL;
	}
	atomic_long_inc(&san_stats.fallbacks[ssk->fb_reason]);
	spin_lock_bh(&ssk->state_lock);
	ssk->fb_go = false;
	spin_unlock_bh(&ssk->state_lock);
	err = san_slot_open(ssk, ssk->prov, &ssk->conn, ssk->peer.ss_family) ?:
	      ssk->prov->connect(ssk, ssk->conn, &ssk->peer);
	if (err)
		san_conn_error(ssk, -err);
}

/**
 * san_fallback_work - an RDMA attempt failed or timed out: go over TCP
 * @work: the socket's fb_work
 *
 * Queued at connect() with net.san.fallback_timeout_ms as its delay, and
 * at once by san_fallback_claim().  close() disarms it and waits for it.
 *
 * Context: process context (work queue); takes the socket lock.
 */
void san_fallback_work(struct work_struct *work)
{
	struct san_sock *ssk = container_of(to_delayed_work(work),
					    struct san_sock, fb_work);
	struct sock *sk = &ssk->sk;
	bool go;

	lock_sock(sk);
	spin_lock_bh(&ssk->state_lock);
	if (ssk->fb_armed) {
		/* The timeout: no answer over RDMA in time. */
		ssk->fb_armed = false;
		if (sk->sk_state == TCP_SYN_SENT) {
			ssk->fb_go = true;
			ssk->fb_reason = SAN_FALLBACK_TIMEOUT;
		}
	}
	go = ssk->fb_go;
	if (go && (sk->sk_state != TCP_SYN_SENT || ssk->aborted)) {
		/* Cancelled or closed meanwhile. */
		ssk->fb_go = false;
		go = false;
	}
	spin_unlock_bh(&ssk->state_lock);
	if (go)
		san_fallback_run(ssk);
	release_sock(sk);
}

/* Stop any fallback for good (close()); no socket lock held. */
static void san_fallback_stop(struct san_sock *ssk)
{
	spin_lock_bh(&ssk->state_lock);
	ssk->fb_armed = false;
	spin_unlock_bh(&ssk->state_lock);
	cancel_delayed_work_sync(&ssk->fb_work);
	spin_lock_bh(&ssk->state_lock);
	ssk->fb_go = false;
	spin_unlock_bh(&ssk->state_lock);
}

/**
 * san_established - the provider's connection is up
 * @ssk: the connecting socket, or a listener's child
 *
 * Context: process context (provider event handler).
 */
void san_established(struct san_sock *ssk)
{
	struct sock *sk = &ssk->sk;
	void *spare = NULL;
	int old;
	bool ok;

	spin_lock_bh(&ssk->state_lock);
	/* An RDMA attempt abandoned for TCP connects no more. */
	old = sk->sk_state;
	ok = !ssk->fb_go && (san_next[old] & TCPF_ESTABLISHED);
	if (ok) {
		sk->sk_state = TCP_ESTABLISHED;
		ssk->fb_armed = false;
	}
	/*
	 * RDMA made it: the TCP socket an unbound connect() kept ready for
	 * a fallback goes (a bound socket's holds its port, as TCP's).
	 */
	if (ok && !ssk->bound && ssk->prov != &san_tcp_provider)
		spare = xchg(&ssk->alt_conn, NULL);
	spin_unlock_bh(&ssk->state_lock);
	if (spare)
		san_tcp_provider.close(ssk, spare, true);
	if (!ok)
		return;
	san_note_state(ssk, old, TCP_ESTABLISHED);
	atomic_long_inc(ssk->prov == &san_tcp_provider ? &san_stats.tcp_estab :
			&san_stats.rdma_estab);
	WRITE_ONCE(ssk->was_established, true);
	if (san_child_leave_synq(ssk)) {
		san_accept_enqueue(ssk);
		return;
	}
	sk->sk_state_change(sk);
}

/**
 * san_conn_error - the provider's connection ended
 * @ssk: the socket
 * @err: positive errno to report (ECONNREFUSED, ECONNRESET...), or 0 for
 *	a graceful end after the peer's FIN
 *
 * A listener's child that fails before ESTABLISHED is dropped at once:
 * no accept() will ever see it (as a TCP request that times out).
 *
 * Context: any.
 */
void san_conn_error(struct san_sock *ssk, int err)
{
	struct sock *sk = &ssk->sk;

	if (san_child_leave_synq(ssk)) {
		san_set_state(ssk, TCP_CLOSE);
		san_child_drop(ssk);
		return;
	}
	/* The abandoned RDMA attempt's end: TCP takes over. */
	if (san_fallback_pending(ssk))
		return;

	if (sk->sk_state == TCP_CLOSE && !err)
		return;
	if (err && !READ_ONCE(sk->sk_err))
		WRITE_ONCE(sk->sk_err, err);
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
	san_set_state(ssk, TCP_CLOSE);
	if (err)
		sk_error_report(sk);
	sk->sk_state_change(sk);
}

/**
 * san_peer_fin - the peer ended its stream; read returns EOF after the data
 * @ssk: the socket
 *
 * Context: any.
 */
void san_peer_fin(struct san_sock *ssk)
{
	struct sock *sk = &ssk->sk;

	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | RCV_SHUTDOWN);
	sk->sk_state_change(sk);
	sk->sk_data_ready(sk);
}

/**
 * san_wake_rx - data arrived
 * @ssk: the socket
 *
 * Context: any.
 */
void san_wake_rx(struct san_sock *ssk)
{
	ssk->sk.sk_data_ready(&ssk->sk);
}

/**
 * san_wake_tx - room to send appeared
 * @ssk: the socket
 *
 * Context: any.
 */
void san_wake_tx(struct san_sock *ssk)
{
	ssk->sk.sk_write_space(&ssk->sk);
}

/**
 * san_wake_zc - a zero-copy transfer is no longer busy
 * @ssk: the socket
 *
 * Wakes every sleeper of the socket, including a call waiting
 * uninterruptibly for its transfer (the sk_* callbacks wake only
 * interruptible sleepers).
 *
 * Context: any.
 */
void san_wake_zc(struct san_sock *ssk)
{
	struct socket_wq *wq;

	rcu_read_lock();
	wq = rcu_dereference(ssk->sk.sk_wq);
	if (skwq_has_sleeper(wq))
		wake_up_all(&wq->wait);
	rcu_read_unlock();
}

/**
 * san_addr_from_user - check a user's address as TCP does
 * @uaddr: the address
 * @len: its length
 * @out: where to put it, as AF_INET or AF_INET6
 *
 * AF_SAN in the family field is taken as AF_INET6 when the length fits a
 * sockaddr_in6, else as AF_INET.  An IPv4-mapped IPv6 address
 * (::ffff:a.b.c.d) becomes the IPv4 address, as on a dual-stack TCP
 * socket.  AF_UNSPEC is not a disconnect here: EAFNOSUPPORT
 * (docs/design.md).
 *
 * Return: 0, -EINVAL for a bad length, -EAFNOSUPPORT for another family.
 */
int san_addr_from_user(struct sockaddr *uaddr, int len,
		       struct sockaddr_storage *out)
{
	int family;

	if (len < (int)sizeof(uaddr->sa_family))
		return -EINVAL;
	family = uaddr->sa_family;
	if (family == san_family)
		family = len >= (int)sizeof(struct sockaddr_in6) ?
			 AF_INET6 : AF_INET;
	memset(out, 0, sizeof(*out));
	switch (family) {
	case AF_INET:
		if (len < (int)sizeof(struct sockaddr_in))
			return -EINVAL;
		memcpy(out, uaddr, sizeof(struct sockaddr_in));
		break;
	case AF_INET6: {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)out;

		if (len < SIN6_LEN_RFC2133)
			return -EINVAL;
		memcpy(out, uaddr, min_t(int, len,
					 sizeof(struct sockaddr_in6)));
		if (ipv6_addr_v4mapped(&sin6->sin6_addr)) {
			/* As a dual-stack TCP socket: the IPv4 path. */
			struct sockaddr_in sin = {
				.sin_family = AF_INET,
				.sin_port = sin6->sin6_port,
				.sin_addr.s_addr = sin6->sin6_addr.s6_addr32[3],
			};

			memset(out, 0, sizeof(*out));
			memcpy(out, &sin, sizeof(sin));
			return 0;
		}
		break;
	}
	default:
		return -EAFNOSUPPORT;
	}
	out->ss_family = family;
	return 0;
}

/*
 * Whether a blocking call may sleep again; the one place where the switch
 * looks at signals.  Returns 0: yes.  -EAGAIN: its timeout ran out (not a
 * cancellation).  -ERESTARTSYS with *@cancel false: a pending signal that
 * does not cancel (a stop, a tracer, the freezer); the call returns so
 * that the signal code runs, and is restarted.  sock_intr_errno() with
 * *@cancel true: the call is cancelled (san_cancel_pending()) and applies
 * its row of the cancellation table.
 */
static int san_may_sleep(long timeo, bool *cancel)
{
	*cancel = false;
	if (!timeo)
		return -EAGAIN;
	if (!signal_pending(current))
		return 0;
	*cancel = san_cancel_pending();
	return *cancel ? sock_intr_errno(timeo) : -ERESTARTSYS;
}

/*
 * A non-blocking connect() is connected once its connection was
 * established, whether or not connect() was called again (as TCP).
 * Socket lock held.
 */
static void san_sock_sync(struct socket *sock)
{
	if (sock->state == SS_CONNECTING &&
	    READ_ONCE(san_sk(sock->sk)->was_established))
		sock->state = SS_CONNECTED;
}

/*
 * Hand back a connection that failed before it was established, and wait
 * for it to be released (socket lock held).  A bound socket then binds its
 * address again, so that listen() and connect() work on it as on a TCP
 * socket whose connect() failed; when that fails (another socket took the
 * port meanwhile), the next listen() or connect() tries again.
 */
static int san_bind_providers(struct san_sock *ssk);
static void san_unbind_providers(struct san_sock *ssk);

static void san_conn_failed(struct san_sock *ssk)
{
	if (READ_ONCE(ssk->was_established) || ssk->zc_inflight)
		return;
	san_unbind_providers(ssk);
	if (ssk->bound)
		san_bind_providers(ssk);
}

/* A bound socket whose address is not held (see above): bind it again. */
static int san_rebind(struct san_sock *ssk)
{
	if (!ssk->bound || ssk->conn)
		return 0;
	return san_bind_providers(ssk);
}

/* The provider a connection starts on under @ssk's policy. */
static const struct san_provider *san_policy_provider(struct san_sock *ssk)
{
	if (ssk->policy == SAN_POLICY_TCP_ONLY)
		return &san_tcp_provider;
	return &san_rdma_provider;
}

static __be16 san_port(const struct sockaddr_storage *addr)
{
	if (addr->ss_family == AF_INET6)
		return ((const struct sockaddr_in6 *)addr)->sin6_port;
	return ((const struct sockaddr_in *)addr)->sin_port;
}

/*
 * Hand back the address held on every provider.  Socket lock held.  The
 * TCP side of a socket bound on both goes first, while @prov still names
 * RDMA (the TCP provider's reset then takes alt_conn).
 */
static void san_unbind_providers(struct san_sock *ssk)
{
	san_slot_reset(ssk, &san_tcp_provider, &ssk->alt_conn);
	san_slot_reset(ssk, ssk->prov, &ssk->conn);
}

/* Open @prov's handle in @slot and bind @ssk->local on it, or neither. */
static int san_slot_bind(struct san_sock *ssk, const struct san_provider *prov,
			 void **slot)
{
	int err;

	err = san_slot_open(ssk, prov, slot, ssk->local.ss_family);
	if (!err)
		err = prov->bind(ssk, *slot);
	if (err)
		san_slot_reset(ssk, prov, slot);
	return err;
}

/*
 * Hold @ssk->local on every provider the policy may use (as TCP, port 0
 * picks one, the same on both): RDMA first, then TCP beside it under
 * SAN_POLICY_PREFER_RDMA.  An address no RDMA device serves is held on
 * TCP alone (fallback NO_PATH).  Nothing is held after an error.  Socket
 * lock held, no handle held yet.
 */
static int san_bind_providers(struct san_sock *ssk)
{
	struct sockaddr_storage want = ssk->local;
	int tries = san_port(&want) ? 1 : 16;
	int err;

	if (ssk->policy == SAN_POLICY_TCP_ONLY) {
		ssk->prov = &san_tcp_provider;
		return san_slot_bind(ssk, ssk->prov, &ssk->conn);
	}
	do {
		ssk->local = want;
		ssk->prov = &san_rdma_provider;
		err = san_slot_bind(ssk, ssk->prov, &ssk->conn);
		if (err == -EADDRNOTAVAIL &&
		    ssk->policy == SAN_POLICY_PREFER_RDMA) {
			ssk->local = want;
			ssk->prov = &san_tcp_provider;
			err = san_slot_bind(ssk, ssk->prov, &ssk->conn);
			if (!err)
				ssk->fb_reason = SAN_FALLBACK_NO_PATH;
			return err;
		}
		if (err || ssk->policy == SAN_POLICY_RDMA_ONLY)
			return err;
		/*
		 * An iWARP device's connections are the host's TCP ones: its
		 * port is TCP's already, and takes no plain TCP client.
		 */
		if (san_prov_tcp_ports(ssk))
			return 0;
		/* The port RDMA picked must be free on TCP as well. */
		err = san_slot_bind(ssk, &san_tcp_provider, &ssk->alt_conn);
		if (!err)
			return 0;
		san_slot_reset(ssk, ssk->prov, &ssk->conn);
	} while (err == -EADDRINUSE && --tries);
	ssk->local = want;
	return err;
}

/*
 * An address from user space for @ssk: an IPPROTO_SAN socket takes its own
 * family only, as a TCP socket of that family does.
 */
static int san_addr_get(struct san_sock *ssk, struct sockaddr *uaddr,
			int len, struct sockaddr_storage *out)
{
	if (ssk->ipfam && len >= (int)sizeof(uaddr->sa_family) &&
	    uaddr->sa_family != ssk->ipfam)
		return -EAFNOSUPPORT;
	return san_addr_from_user(uaddr, len, out);
}

/*
 * An IPv4-mapped IPv6 address given to an IPV6_V6ONLY socket, which TCP
 * refuses (EINVAL to bind(), ENETUNREACH to connect()): san_addr_get()
 * made it an IPv4 one.  Socket lock held.
 */
static bool san_mapped_on_v6only(struct san_sock *ssk, struct sockaddr *uaddr,
				 int len, const struct sockaddr_storage *addr)
{
	bool v6 = uaddr->sa_family == AF_INET6 ||
		  (uaddr->sa_family == san_family &&
		   len >= (int)sizeof(struct sockaddr_in6));

	return v6 && addr->ss_family == AF_INET && ssk->v6only;
}

static int san_bind(struct socket *sock, struct sockaddr *uaddr, int len)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk = san_sk(sk);
	struct sockaddr_storage addr;
	int err;

	err = san_addr_get(san_sk(sock->sk), uaddr, len, &addr);
	if (err)
		return err;
	lock_sock(sk);
	err = -ECONNABORTED;
	if (ssk->aborted)
		goto out;
	err = -EINVAL;
	if (ssk->bound || sk->sk_state != TCP_CLOSE || ssk->conn ||
	    sock->state != SS_UNCONNECTED ||
	    san_mapped_on_v6only(ssk, uaddr, len, &addr))
		goto out;
	ssk->local = addr;
	ssk->fb_reason = SAN_FALLBACK_NONE;
	err = san_bind_providers(ssk);
	if (!err) {
		ssk->bound = true;
	} else {
		/* As TCP: a failed bind() leaves the socket as it was. */
		san_unbind_providers(ssk);
		memset(&ssk->local, 0, sizeof(ssk->local));
	}
out:
	release_sock(sk);
	return err;
}

static int san_listen(struct socket *sock, int backlog)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk = san_sk(sk);
	int err;

	lock_sock(sk);
	err = -ECONNABORTED;
	if (ssk->aborted)
		goto out;
	san_sock_sync(sock);
	err = -EINVAL;
	if (sock->state != SS_UNCONNECTED)
		goto out;
	if (sk->sk_state == TCP_LISTEN) {
		WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
		err = 0;
		goto out;
	}
	if (sk->sk_state != TCP_CLOSE)
		goto out;
	if (!ssk->bound) {
		/* As TCP: listen() on an unbound socket takes any port. */
		struct sockaddr_in any = { .sin_family = AF_INET };
		struct sockaddr_in6 any6 = { .sin6_family = AF_INET6 };

		/* An IPPROTO_SAN IPv6 socket: its own family's wildcard. */
		if (ssk->ipfam == AF_INET6)
			memcpy(&ssk->local, &any6, sizeof(any6));
		else
			memcpy(&ssk->local, &any, sizeof(any));
		ssk->fb_reason = SAN_FALLBACK_NONE;
		err = san_bind_providers(ssk);
		if (err) {
			san_unbind_providers(ssk);
			memset(&ssk->local, 0, sizeof(ssk->local));
			goto out;
		}
		ssk->bound = true;
	} else {
		err = san_rebind(ssk);
		if (err)
			goto out;
	}
	err = -EINVAL;
	if (!ssk->conn)
		goto out;
	WRITE_ONCE(sk->sk_max_ack_backlog, backlog);
	err = ssk->prov->listen(ssk, ssk->conn, backlog);
	/* Plain TCP clients too, on the same port. */
	if (!err && ssk->alt_conn)
		err = san_tcp_provider.listen(ssk, ssk->alt_conn, backlog);
	if (err) {
		/* Nothing listens; the next listen() binds again. */
		san_unbind_providers(ssk);
		goto out;
	}
	if (!san_set_state(ssk, TCP_LISTEN))
		err = -EINVAL;
out:
	release_sock(sk);
	return err;
}

/* Hand a failed connection back to its provider.  Socket lock held. */
static void san_conn_put(struct san_sock *ssk)
{
	san_slot_close(ssk, true);
}

/*
 * A cancellation tears the connection down (socket lock held): the peer
 * sees a reset; the socket stays closed, and every call but close() fails
 * with ECONNABORTED from now on.  An attempt to connect is handed back to
 * the provider, whose resources go at once; an established connection is
 * reset with &san_provider.abort, which flushes what another thread may
 * still have in flight, and handed back at close().
 */
static void san_cancel_abort(struct san_sock *ssk)
{
	struct sock *sk = &ssk->sk;

	san_note_abort(ssk, ECONNABORTED);
	ssk->aborted = true;
	/*
	 * Only an attempt that never connected is handed back now: an
	 * established connection, or one another thread's zero-copy
	 * transfer still uses, is reset and handed back at close().
	 */
	if (ssk->conn && (READ_ONCE(ssk->was_established) ||
			  ssk->zc_inflight))
		ssk->prov->abort(ssk);
	else
		san_conn_put(ssk);
	/* The TCP socket kept for a fallback, or the port held on TCP. */
	san_slot_reset(ssk, &san_tcp_provider, &ssk->alt_conn);
	WRITE_ONCE(sk->sk_err, ECONNABORTED);
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
	san_set_state(ssk, TCP_CLOSE);
	sk_error_report(sk);
	sk->sk_state_change(sk);
}

/*
 * What a send or receive returns (socket lock held), by the table of
 * docs/design.md: @cancel, a cancellation came; @zc_cancel, it came while
 * a zero-copy transfer was in flight, which finished unless @killed (the
 * cancel timeout ran out and the connection was reset).
 */
static int san_cancel_result(struct san_sock *ssk, bool cancel,
			     bool zc_cancel, bool killed, size_t copied,
			     int err)
{
	bool abort = READ_ONCE(ssk->cancel_policy) == SAN_CANCEL_ABORT;
	int ret = copied ? copied : err;

	if (killed) {
		san_note_cancel(ssk, SAN_CX_ZC_RESET, -EINTR);
		san_cancel_abort(ssk);
		return -EINTR;
	}
	if (cancel && abort) {
		/* A finished zero-copy transfer reports what it moved. */
		ret = zc_cancel && copied ? copied : -EINTR;
		san_note_cancel(ssk, zc_cancel ? SAN_CX_ZC_DONE :
				SAN_CX_COPY_ABORT, ret);
		/* Never restarted: the connection is gone. */
		san_cancel_abort(ssk);
		return ret;
	}
	if (cancel)
		san_note_cancel(ssk, zc_cancel ? SAN_CX_ZC_DONE :
				SAN_CX_COPY_PRESERVE, ret);
	return ret;
}

/*
 * Start the connection to @ssk->peer on the provider the policy and the
 * bound address chose.  An RDMA attempt that may still fall back to TCP is
 * bounded by net.san.fallback_timeout_ms; one that cannot even start for
 * want of an RDMA path goes over TCP at once.  Socket lock held.
 */
static int san_connect_start(struct san_sock *ssk)
{
	bool may_fall = ssk->prov == &san_rdma_provider &&
			ssk->policy == SAN_POLICY_PREFER_RDMA;
	int err, reason;

	if (may_fall) {
		/*
		 * The TCP socket of a fallback is made now, by the caller:
		 * it belongs to the caller's cgroups and credentials, not to
		 * the worker that may start it.  A bound socket has it.
		 */
		err = san_slot_open(ssk, &san_tcp_provider, &ssk->alt_conn,
				    ssk->peer.ss_family);
		/* Refused (an LSM, memory): RDMA alone, no fallback. */
		may_fall = !err;
	}
	if (may_fall) {
		spin_lock_bh(&ssk->state_lock);
		ssk->fb_armed = true;
		mod_delayed_work(system_wq, &ssk->fb_work,
				 san_fallback_timeout(ssk));
		spin_unlock_bh(&ssk->state_lock);
	}
	err = san_slot_open(ssk, ssk->prov, &ssk->conn, ssk->peer.ss_family) ?:
	      ssk->prov->connect(ssk, ssk->conn, &ssk->peer);
	if (!err || !may_fall)
		return err;
	reason = san_no_path_error(-err) ? SAN_FALLBACK_NO_PATH : 0;
	spin_lock_bh(&ssk->state_lock);
	ssk->fb_armed = false;
	ssk->fb_go = reason != 0;
	ssk->fb_reason = reason;
	spin_unlock_bh(&ssk->state_lock);
	/* A queued fb_work finds nothing armed and does nothing. */
	if (!reason)
		return err;
	san_fallback_run(ssk);
	return 0;
}

static int san_connect(struct socket *sock, struct sockaddr *uaddr, int len,
		       int flags)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk = san_sk(sk);
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	struct sockaddr_storage addr;
	bool cancel = false;
	long timeo;
	int err;

	err = san_addr_get(san_sk(sock->sk), uaddr, len, &addr);
	if (err)
		return err;

	lock_sock(sk);
	err = -ECONNABORTED;
	if (ssk->aborted)
		goto out;
	/*
	 * No san_sock_sync() here: as TCP, the first connect() after a
	 * non-blocking attempt completed reports it with 0.
	 */
	switch (sock->state) {
	case SS_CONNECTED:
		err = -EISCONN;
		goto out;
	case SS_CONNECTING:
		err = -EALREADY;
		break;
	case SS_UNCONNECTED:
		err = -EISCONN;
		if (sk->sk_state != TCP_CLOSE)
			goto out;
		err = -ENETUNREACH;
		if (san_mapped_on_v6only(ssk, uaddr, len, &addr))
			goto out;
		if (READ_ONCE(sk->sk_err)) {
			/* A past attempt's error is consumed by a new one. */
			WRITE_ONCE(sk->sk_err, 0);
			WRITE_ONCE(sk->sk_shutdown, 0);
		}
		if (!ssk->bound) {
			ssk->prov = san_policy_provider(ssk);
			ssk->fb_reason = SAN_FALLBACK_NONE;
		}
		err = san_rebind(ssk);
		if (err)
			goto out;
		err = -EISCONN;
		if (!san_set_state(ssk, TCP_SYN_SENT))
			goto out;
		ssk->peer = addr;
		err = san_connect_start(ssk);
		if (err) {
			san_set_state(ssk, TCP_CLOSE);
			san_conn_failed(ssk);
			goto out;
		}
		sock->state = SS_CONNECTING;
		err = -EINPROGRESS;
		break;
	default:
		err = -EINVAL;
		goto out;
	}

	timeo = sock_sndtimeo(sk, flags & O_NONBLOCK);
	/*
	 * The call that starts a non-blocking attempt always says
	 * EINPROGRESS, even when the provider was quick enough to finish
	 * already: the next connect() or poll() reports the outcome.
	 */
	if (!timeo && err == -EINPROGRESS)
		goto out;
	if (sk->sk_state == TCP_SYN_SENT) {
		/* A non-blocking socket or a timeout: it goes on. */
		if (!timeo)
			goto out;
		add_wait_queue(sk_sleep(sk), &wait);
		while (sk->sk_state == TCP_SYN_SENT) {
			err = san_may_sleep(timeo, &cancel);
			if (err)
				break;
			sk_wait_event(sk, &timeo,
				      sk->sk_state != TCP_SYN_SENT, &wait);
		}
		remove_wait_queue(sk_sleep(sk), &wait);
		if (sk->sk_state == TCP_SYN_SENT) {
			if (cancel) {
				/* Abandoned: nothing of the attempt stays. */
				san_note_cancel(ssk, SAN_CX_CONNECT, -EINTR);
				san_cancel_abort(ssk);
				sock->state = SS_UNCONNECTED;
				err = -EINTR;
			} else if (err == -EAGAIN) {
				/* SO_SNDTIMEO: the attempt goes on, as TCP. */
				err = -EINPROGRESS;
			}
			goto out;
		}
	}
	if (sk->sk_state == TCP_CLOSE) {
		if (READ_ONCE(ssk->was_established)) {
			/*
			 * It connected, then ended: a closed connection.  As
			 * TCP, connect() says so only for a reset; after the
			 * peer's graceful end it succeeded (reads say EOF).
			 */
			err = sock_error(sk);
			sock->state = SS_CONNECTED;
			goto out;
		}
		err = sock_error(sk) ?: -ECONNABORTED;
		sock->state = SS_UNCONNECTED;
		san_conn_failed(ssk);
		goto out;
	}
	sock->state = SS_CONNECTED;
	err = 0;
out:
	release_sock(sk);
	return err;
}

int san_do_accept(struct socket *sock, struct socket *newsock, int flags,
		  bool kern)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk = san_sk(sk), *child = NULL;
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	bool cancel = false;
	long timeo;
	int err = 0;

	lock_sock(sk);
	if (sk->sk_state != TCP_LISTEN) {
		err = -EINVAL;
		goto out;
	}
	timeo = sock_rcvtimeo(sk, flags & O_NONBLOCK);
	add_wait_queue(sk_sleep(sk), &wait);
	for (;;) {
		spin_lock_bh(&ssk->state_lock);
		if (!list_empty(&ssk->accept_q)) {
			child = list_first_entry(&ssk->accept_q,
						 struct san_sock, accept_node);
			list_del_init(&child->accept_node);
			sk_acceptq_removed(sk);
		}
		spin_unlock_bh(&ssk->state_lock);
		if (child)
			break;
		if (sk->sk_state != TCP_LISTEN) {
			err = -EINVAL;
			break;
		}
		/* Cancelled: EINTR, or a restart; the listener is kept. */
		err = san_may_sleep(timeo, &cancel);
		if (err)
			break;
		sk_wait_event(sk, &timeo, !list_empty(&ssk->accept_q) ||
			      sk->sk_state != TCP_LISTEN, &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	if (cancel)
		san_note_cancel(ssk, SAN_CX_ACCEPT, err);
	if (!child)
		goto out;

	/* The child's reference on its listener ends here. */
	san_child_take_parent(child);
	release_sock(sk);
	sock_put(sk);

	/* Off the queue, the child is ours alone: no listener lock needed. */
	lock_sock(&child->sk);
	sock_graft(&child->sk, newsock);
	newsock->state = SS_CONNECTED;
	release_sock(&child->sk);
	return 0;
out:
	release_sock(sk);
	return err;
}

static int san_getname(struct socket *sock, struct sockaddr *uaddr, int peer)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk = san_sk(sk);
	struct sockaddr_storage addr;
	int len;

	lock_sock(sk);
	san_sock_sync(sock);
	if (peer) {
		len = -ENOTCONN;
		if (sock->state == SS_CONNECTED &&
		    (sk->sk_state == TCP_ESTABLISHED ||
		     (sk->sk_state == TCP_CLOSE && !sk->sk_err)) && ssk->conn)
			len = ssk->prov->getname(ssk, &addr, true);
	} else if (ssk->conn) {
		len = ssk->prov->getname(ssk, &addr, false);
	} else if (ssk->ipfam == AF_INET6) {
		/* Unbound: the wildcard of the socket's family, as TCP. */
		struct sockaddr_in6 any = { .sin6_family = AF_INET6 };

		memset(&addr, 0, sizeof(addr));
		memcpy(&addr, &any, sizeof(any));
		len = sizeof(any);
	} else {
		/* Unbound: the IPv4 wildcard, as TCP answers. */
		struct sockaddr_in any = { .sin_family = AF_INET };

		memset(&addr, 0, sizeof(addr));
		memcpy(&addr, &any, sizeof(any));
		len = sizeof(any);
	}
	release_sock(sk);
	/* An IPPROTO_SAN IPv6 socket shows IPv4 ends mapped, as TCP. */
	if (len > 0 && ssk->ipfam == AF_INET6 && addr.ss_family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&addr;
		struct sockaddr_in6 sin6 = {
			.sin6_family = AF_INET6,
			.sin6_port = sin->sin_port,
		};

		ipv6_addr_set_v4mapped(sin->sin_addr.s_addr, &sin6.sin6_addr);
		memcpy(&addr, &sin6, sizeof(sin6));
		len = sizeof(sin6);
	}
	if (len > 0)
		memcpy(uaddr, &addr, len);
	return len;
}

/*
 * Whether a recv() can make progress without waiting for an operation
 * already in flight (a prefetch's READ): poll's EPOLLIN, a reader's wait.
 */
static bool san_rx_ready(struct san_sock *ssk)
{
	return san_prov_rx_ready(ssk);
}

/*
 * The reader is at the end of the stream: the peer's FIN (or our
 * SHUT_RD) came and nothing is left to read, or the connection is over.
 * Bytes still in the peer's memory (zero-copy, their READ perhaps in
 * flight) come before the end, as TCP's queued bytes do.  Socket lock or
 * rcu_read_lock() held (@ssk->conn).
 */
static bool san_rx_eof(struct san_sock *ssk)
{
	struct sock *sk = &ssk->sk;

	if (!(READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN))
		return false;
	return READ_ONCE(sk->sk_state) != TCP_ESTABLISHED ||
	       !READ_ONCE(ssk->conn) || !ssk->prov->rx_queued(ssk);
}

static __poll_t san_poll(struct file *file, struct socket *sock,
			 poll_table *wait)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk = san_sk(sk);
	__poll_t mask = 0;
	int state, shutdown;

	sock_poll_wait(file, sock, wait);
	/*
	 * Acquire: the provider is asked below only once ESTABLISHED, when
	 * @prov and @conn no longer change (bind and the fallback set them
	 * while the socket is CLOSE or SYN_SENT).
	 */
	state = smp_load_acquire(&sk->sk_state);
	if (state == TCP_LISTEN)
		return READ_ONCE(sk->sk_ack_backlog) ? EPOLLIN | EPOLLRDNORM : 0;

	shutdown = READ_ONCE(sk->sk_shutdown);
	if (READ_ONCE(sk->sk_err) || READ_ONCE(ssk->aborted))
		mask |= EPOLLERR;
	if (shutdown == SHUTDOWN_MASK || state == TCP_CLOSE)
		mask |= EPOLLHUP;
	if (shutdown & RCV_SHUTDOWN)
		mask |= EPOLLRDHUP;
	if (state == TCP_SYN_SENT || state == TCP_SYN_RECV) {
		if (shutdown & RCV_SHUTDOWN)
			mask |= EPOLLIN | EPOLLRDNORM;
		return mask;
	}
	/*
	 * Without the socket lock, another thread's cancellation may hand
	 * the connection back meanwhile: providers free it after an RCU
	 * grace period.
	 */
	rcu_read_lock();
	if (san_rx_eof(ssk) ||
	    (state == TCP_ESTABLISHED && READ_ONCE(ssk->conn) &&
	     san_rx_ready(ssk)))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (!(shutdown & SEND_SHUTDOWN)) {
		if (state != TCP_ESTABLISHED)
			mask |= EPOLLOUT | EPOLLWRNORM;
		else if (READ_ONCE(ssk->conn) && ssk->prov->tx_ready(ssk))
			mask |= EPOLLOUT | EPOLLWRNORM;
		else
			sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
	}
	rcu_read_unlock();
	return mask;
}

static int san_ioctl(struct socket *sock, unsigned int cmd, unsigned long arg)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk = san_sk(sk);
	int answ;

	switch (cmd) {
	case SIOCINQ:
		if (sk->sk_state == TCP_LISTEN)
			return -EINVAL;
		lock_sock(sk);
		answ = ssk->conn ? ssk->prov->rx_queued(ssk) : 0;
		release_sock(sk);
		break;
	case SIOCOUTQ:
	case SIOCOUTQNSD:
		if (sk->sk_state == TCP_LISTEN)
			return -EINVAL;
		lock_sock(sk);
		answ = ssk->conn ? ssk->prov->tx_queued(ssk) : 0;
		release_sock(sk);
		break;
	default:
		return -ENOIOCTLCMD;
	}
	return put_user(answ, (int __user *)arg);
}

static int san_shutdown(struct socket *sock, int how)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk = san_sk(sk);
	int err = 0;

	/* SHUT_RD 0, SHUT_WR 1, SHUT_RDWR 2 become the SHUTDOWN bits. */
	how++;
	if ((how & ~SHUTDOWN_MASK) || !how)
		return -EINVAL;

	lock_sock(sk);
	if (ssk->aborted) {
		err = -ECONNABORTED;
		goto out;
	}
	san_sock_sync(sock);
	if (sk->sk_state == TCP_LISTEN) {
		/* As TCP: shutdown() of a listener stops it. */
		if (how & RCV_SHUTDOWN) {
			san_set_state(ssk, TCP_CLOSE);
			san_listener_flush(ssk);
			/* Its id stops listening; the socket keeps its port. */
			san_conn_failed(ssk);
			sk->sk_state_change(sk);
		}
		goto out;
	}
	if (sock->state != SS_CONNECTED || sk->sk_state != TCP_ESTABLISHED) {
		if (sk->sk_state != TCP_CLOSE || sock->state != SS_CONNECTED) {
			err = -ENOTCONN;
			goto out;
		}
	}
	if ((how & SEND_SHUTDOWN) && !(sk->sk_shutdown & SEND_SHUTDOWN) &&
	    ssk->conn && sk->sk_state == TCP_ESTABLISHED)
		ssk->prov->shutdown_tx(ssk);
	WRITE_ONCE(sk->sk_shutdown, sk->sk_shutdown | how);
	sk->sk_state_change(sk);
out:
	release_sock(sk);
	return err;
}

/*
 * Wait until @zc is no longer busy: the device is done with the call's
 * user buffer.  Socket lock held.  A cancellation (*@cancel set) while it
 * waits gives the transfer the cancel timeout to finish; after that the
 * connection is reset, which flushes the transfer, and the wait goes on
 * until the flush is through (*@killed set).  The call cannot return
 * before: stops and freezing wait too (TASK_IDLE, looking every 100 ms
 * for a cancellation).
 */
static void san_zc_wait(struct san_sock *ssk, struct san_zc *zc,
			bool *cancel, bool *killed)
{
	struct sock *sk = &ssk->sk;
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	long left = 0;

	add_wait_queue(sk_sleep(sk), &wait);
	/* Pairs with the provider's release of @busy: its state is final. */
	while (smp_load_acquire(&zc->busy)) {
		bool pending = signal_pending(current);

		if (pending && !*cancel && san_cancel_pending()) {
			*cancel = true;
			left = san_cancel_timeout(ssk);
		}
		if (*cancel && !left && !*killed) {
			*killed = true;
			ssk->prov->abort(ssk);
		}
		release_sock(sk);
		if (!pending)
			wait_woken(&wait, TASK_INTERRUPTIBLE,
				   MAX_SCHEDULE_TIMEOUT);
		else if (*cancel && !*killed)
			left = wait_woken(&wait, TASK_IDLE, left);
		else
			wait_woken(&wait, TASK_IDLE, HZ / 10);
		lock_sock(sk);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
}

/*
 * One zero-copy transfer of a call: start it, wait for the device to be
 * done with the buffer, release it.  Returns the bytes moved, -EAGAIN or
 * -EOPNOTSUPP when it did not start, or a negative errno.
 */
static int san_zc_run(struct san_sock *ssk, struct msghdr *msg, size_t len,
		      int flags, bool send, bool *cancel, bool *killed)
{
	struct san_zc zc = {};
	int n;

	if (send)
		n = ssk->prov->zc_send(ssk, msg, len, &zc);
	else
		n = ssk->prov->zc_recv(ssk, msg, len, flags, &zc);
	if (n)
		return n;
	san_note_zc(ssk, send, -(int)zc.len);
	ssk->zc_inflight++;
	san_zc_wait(ssk, &zc, cancel, killed);
	n = ssk->prov->zc_end(ssk, &zc);
	ssk->zc_inflight--;
	san_note_zc(ssk, send, max(n, 0));
	return n;
}

/* Wait until the connection can take data; socket lock held. */
/*
 * What wakes a writer.  sk_wait_event() also tests it with the socket
 * lock let go: @conn is then read under RCU (providers free it after a
 * grace period), as poll does.
 */
static bool san_tx_wakes(struct san_sock *ssk)
{
	struct sock *sk = &ssk->sk;
	bool ret, established;

	rcu_read_lock();
	/* Acquire, as in san_rx_wakes(): the provider only once established. */
	established = smp_load_acquire(&sk->sk_state) == TCP_ESTABLISHED;
	ret = READ_ONCE(sk->sk_err) ||
	      (READ_ONCE(sk->sk_shutdown) & SEND_SHUTDOWN) || !established ||
	      (READ_ONCE(ssk->conn) && ssk->prov->tx_ready(ssk));
	rcu_read_unlock();
	return ret;
}

static int san_wait_tx(struct san_sock *ssk, long *timeo)
{
	struct sock *sk = &ssk->sk;
	DEFINE_WAIT_FUNC(wait, woken_wake_function);

	add_wait_queue(sk_sleep(sk), &wait);
	sk_set_bit(SOCKWQ_ASYNC_NOSPACE, sk);
	sk_wait_event(sk, timeo, san_tx_wakes(ssk), &wait);
	remove_wait_queue(sk_sleep(sk), &wait);
	return 0;
}

static int san_sendmsg(struct socket *sock, struct msghdr *msg, size_t len)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk = san_sk(sk);
	int flags = msg->msg_flags;
	bool cancel = false, killed = false, zc_cancel = false;
	size_t copied = 0;
	long timeo;
	int err = 0;

	if (flags & MSG_OOB)
		return -EOPNOTSUPP;

	lock_sock(sk);
	timeo = sock_sndtimeo(sk, flags & MSG_DONTWAIT);
	while (copied < len || !len) {
		int n;

		if (READ_ONCE(sk->sk_err)) {
			/*
			 * As TCP: a call that moved bytes returns their count
			 * and leaves the error for the next call.
			 */
			if (!copied)
				err = sock_error(sk);
			break;
		}
		if ((sk->sk_shutdown & SEND_SHUTDOWN) ||
		    (sk->sk_state != TCP_ESTABLISHED &&
		     sk->sk_state != TCP_SYN_SENT)) {
			err = -EPIPE;
			break;
		}
		if (sk->sk_state == TCP_ESTABLISHED && ssk->conn) {
			if (!len)
				break;
			n = -EOPNOTSUPP;
			/*
			 * Zero-copy only when the call may wait for the peer
			 * to read: no timeout can end it while exposed.
			 */
			if (san_prov_can_zc_send(ssk->prov) &&
			    timeo == MAX_SCHEDULE_TIMEOUT &&
			    len - copied >= san_zcopy_threshold(ssk)) {
				n = san_zc_run(ssk, msg, len - copied, 0, true,
					       &cancel, &killed);
				zc_cancel = cancel;
			}
			if (n == -EOPNOTSUPP)
				n = ssk->prov->sendmsg(ssk, msg, len - copied);
			if (n > 0) {
				copied += n;
				if (cancel)
					break;
				continue;
			}
			if (cancel) {
				err = n;
				break;
			}
			if (n != -EAGAIN) {
				err = n;
				break;
			}
		}
		err = san_may_sleep(timeo, &cancel);
		if (err)
			break;
		san_wait_tx(ssk, &timeo);
	}
	if (copied) {
		ssk->counters.bytes_sent += copied;
		ssk->counters.sends++;
	}
	err = san_cancel_result(ssk, cancel, zc_cancel, killed, copied, err);
	if (err == -EPIPE)
		err = sk_stream_error(sk, flags, err);
	release_sock(sk);
	return err;
}

/*
 * What wakes a reader: data it can take, the end, an error.  Also tested
 * without the socket lock (sk_wait_event(), busy polling): @conn is read
 * under RCU.
 */
static bool san_rx_wakes(struct san_sock *ssk)
{
	struct sock *sk = &ssk->sk;
	bool ret, established;

	rcu_read_lock();
	/*
	 * The provider is asked only once established: a connecting
	 * socket's provider may still change (fallback to TCP).  Acquire:
	 * pairs with the state_lock unlock that made it ESTABLISHED after
	 * @prov and @conn were set.
	 */
	established = smp_load_acquire(&sk->sk_state) == TCP_ESTABLISHED;
	ret = READ_ONCE(sk->sk_err) || san_rx_eof(ssk) ||
	      READ_ONCE(sk->sk_state) == TCP_CLOSE ||
	      (established && !READ_ONCE(ssk->rx_zc_busy) &&
	       READ_ONCE(ssk->conn) && san_rx_ready(ssk));
	rcu_read_unlock();
	return ret;
}

/*
 * Busy polling (SO_BUSY_POLL, net.core.busy_read): before a reader
 * sleeps, it spins up to sk_ll_usec microseconds watching for what would
 * wake it, as rsockets polls before it arms its CQ.  The completion that
 * brings the data still runs in softirq; the reader saves the wake-up and
 * the trip through the scheduler.  The socket lock is let go meanwhile,
 * as sleeping in sk_wait_event() does; the spin yields to any task that
 * needs the CPU, a signal ends it, it never outlasts the call's timeout
 * and its time counts against it.  Once per call.
 *
 * Context: process context, socket lock held.
 * Return: whether the reader has something to take (or an end) now.
 */
static bool san_busy_wait_rx(struct san_sock *ssk, long *timeo)
{
	struct sock *sk = &ssk->sk;
	unsigned int usec = san_busy_usec(sk);
	unsigned long start = jiffies;
	bool ready = false;
	u64 end;

	if (!usec)
		return false;
	if (*timeo != MAX_SCHEDULE_TIMEOUT)
		usec = min_t(u64, usec, jiffies_to_usecs(*timeo));
	release_sock(sk);
	end = local_clock() + (u64)usec * NSEC_PER_USEC;
	do {
		ready = san_rx_wakes(ssk);
		if (ready || signal_pending(current))
			break;
		/* Whoever needs the CPU (the sender, perhaps) gets it. */
		cond_resched();
		cpu_relax();
	} while (local_clock() < end);
	lock_sock(sk);
	/* The spin counts against the call's timeout, as a sleep does. */
	if (*timeo != MAX_SCHEDULE_TIMEOUT)
		*timeo = max_t(long, *timeo - (long)(jiffies - start), 0);
	if (ready)
		atomic_long_inc(&san_stats.busy_poll_hits);
	return ready;
}

static int san_recvmsg(struct socket *sock, struct msghdr *msg, size_t len,
		       int flags)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk = san_sk(sk);
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	bool cancel = false, killed = false, zc_cancel = false, spun = false;
	size_t copied = 0;
	long timeo;
	int target, err = 0;

	if (flags & MSG_OOB)
		return -EINVAL;
	if (flags & MSG_ERRQUEUE)
		return -EAGAIN;

	lock_sock(sk);
	if (sk->sk_state == TCP_LISTEN) {
		err = -ENOTCONN;
		goto out;
	}
	if (ssk->aborted) {
		err = -ECONNABORTED;
		goto out;
	}
	san_sock_sync(sock);
	timeo = sock_rcvtimeo(sk, flags & MSG_DONTWAIT);
	target = sock_rcvlowat(sk, flags & MSG_WAITALL, len);
	while (copied < len) {
		int n = -EAGAIN;

		/*
		 * Another reader's zero-copy READ holds the head of the
		 * stream: wait for it rather than spin on its bytes.
		 */
		if (ssk->conn && !ssk->rx_zc_busy &&
		    !(sk->sk_shutdown & RCV_SHUTDOWN &&
		      sock->state != SS_CONNECTED))
			n = ssk->prov->recvmsg(ssk, msg, len - copied, flags);
		/* The next bytes may wait in the peer's memory. */
		if (n == -EAGAIN && ssk->conn && san_prov_can_zc_recv(ssk->prov) &&
		    !ssk->rx_zc_busy && !(copied && (flags & MSG_PEEK))) {
			/* A caller that will not wait gets no device wait. */
			ssk->rx_zc_busy = true;
			n = san_zc_run(ssk, msg, len - copied,
				       timeo ? flags : flags | MSG_DONTWAIT,
				       false, &cancel, &killed);
			ssk->rx_zc_busy = false;
			if (n != -EAGAIN)
				san_wake_rx(ssk);
			zc_cancel = cancel;
			if (cancel && n <= 0) {
				err = n ?: -EINTR;
				break;
			}
		}
		if (n > 0) {
			copied += n;
			if (copied >= target || (flags & MSG_PEEK) || cancel)
				break;
			continue;
		}
		if (n != -EAGAIN) {
			err = n;
			break;
		}
		if (copied >= target && copied)
			break;
		if (READ_ONCE(sk->sk_err)) {
			if (!copied)
				err = sock_error(sk);
			break;
		}
		if (san_rx_eof(ssk))
			break;
		if (sk->sk_state == TCP_CLOSE) {
			if (sock->state != SS_CONNECTED)
				err = -ENOTCONN;
			break;
		}
		err = san_may_sleep(timeo, &cancel);
		if (err)
			break;
		/* One spin per call, as TCP's sk_busy_loop(). */
		if (!spun) {
			spun = true;
			if (san_busy_wait_rx(ssk, &timeo))
				continue;
		}
		add_wait_queue(sk_sleep(sk), &wait);
		sk_wait_event(sk, &timeo, san_rx_wakes(ssk), &wait);
		remove_wait_queue(sk_sleep(sk), &wait);
	}
	if (copied && !(flags & MSG_PEEK)) {
		ssk->counters.bytes_received += copied;
		ssk->counters.recvs++;
	}
	err = san_cancel_result(ssk, cancel, zc_cancel, killed, copied, err);
out:
	release_sock(sk);
	return err;
}

/**
 * san_listener_flush - drop the children no accept() took
 * @lsk: a listener that left TCP_LISTEN
 *
 * Context: process context, socket lock held.
 */
void san_listener_flush(struct san_sock *lsk)
{
	struct san_sock *child;

	for (;;) {
		child = NULL;
		spin_lock_bh(&lsk->state_lock);
		if (!list_empty(&lsk->accept_q)) {
			child = list_first_entry(&lsk->accept_q,
						 struct san_sock, accept_node);
			list_del_init(&child->accept_node);
			sk_acceptq_removed(&lsk->sk);
		}
		spin_unlock_bh(&lsk->state_lock);
		if (!child)
			break;
		san_child_drop(child);
	}
}

/*
 * Linger: wait for the FIN to be delivered.  Socket lock held.  Returns
 * whether the close must be abortive: the linger time ran out, or a
 * cancellation stopped it.  A signal that does not cancel (a stop) ends
 * the wait too, but close() cannot restart: the data then goes on being
 * delivered in the background, as without SO_LINGER.
 */
static bool san_linger(struct san_sock *ssk)
{
	struct sock *sk = &ssk->sk;
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	long timeo = sk->sk_lingertime;
	bool cancel = false;
	int err = 0;

	add_wait_queue(sk_sleep(sk), &wait);
	while (!ssk->prov->tx_done(ssk) && sk->sk_state == TCP_ESTABLISHED) {
		err = san_may_sleep(timeo, &cancel);
		if (err)
			break;
		sk_wait_event(sk, &timeo, ssk->prov->tx_done(ssk) ||
			      READ_ONCE(sk->sk_state) != TCP_ESTABLISHED,
			      &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	if (cancel) {
		san_note_cancel(ssk, SAN_CX_LINGER, 0);
		return true;
	}
	if (err == -ERESTARTSYS)
		return false;
	return !ssk->prov->tx_done(ssk);
}

/**
 * san_stream_release - close(): the socket goes, its connection ends
 * @sock: the socket
 *
 * As TCP: unread data or SO_LINGER with a zero timeout make the close
 * abortive (the peer sees a reset); otherwise the data already sent is
 * delivered and followed by the end of stream, in the background, or
 * before close() returns with SO_LINGER.
 *
 * Return: 0.
 */
int san_stream_release(struct socket *sock)
{
	struct sock *sk = sock->sk;
	struct san_sock *ssk;
	bool abort = true, listener = false;

	if (!sk)
		return 0;
	ssk = san_sk(sk);

	/* No fallback starts a connection for a closed socket. */
	san_fallback_stop(ssk);
	lock_sock(sk);
	/* A listener stopped by an error (ENETDOWN) keeps its queue: flush. */
	san_listener_flush(ssk);
	if (sk->sk_state == TCP_LISTEN) {
		san_set_state(ssk, TCP_CLOSE);
		san_listener_flush(ssk);
		listener = true;
	} else if (sk->sk_state == TCP_ESTABLISHED && ssk->conn) {
		abort = ssk->prov->rx_queued(ssk) ||
			(sock_flag(sk, SOCK_LINGER) && !sk->sk_lingertime);
		if (!abort) {
			ssk->prov->shutdown_tx(ssk);
			if (sock_flag(sk, SOCK_LINGER))
				abort = san_linger(ssk);
		}
		if (abort)
			san_note_abort(ssk, ECONNRESET);
	} else if (sk->sk_state == TCP_CLOSE && !sk->sk_err &&
		   !ssk->aborted) {
		/* Ended gracefully: nothing left to abort. */
		abort = false;
	}
	sock_orphan(sk);
	WRITE_ONCE(sk->sk_shutdown, SHUTDOWN_MASK);
	/*
	 * As TCP, a closed listener's port is free when close() returns:
	 * it has no data to deliver, its release is synchronous.
	 */
	/*
	 * A listener, or a socket that never connected (bound, or its
	 * attempt failed): nothing to deliver, and as TCP its port is free
	 * when close() returns.
	 */
	if (listener || (sk->sk_state == TCP_CLOSE &&
			 !READ_ONCE(ssk->was_established) && !ssk->zc_inflight))
		san_slot_reset(ssk, ssk->prov, &ssk->conn);
	/* The TCP side of an address also held on RDMA. */
	san_slot_reset(ssk, &san_tcp_provider, &ssk->alt_conn);
	release_sock(sk);

	san_slot_close(ssk, abort);

	sock->sk = NULL;
	sock_put(sk);
	return 0;
}

/**
 * san_keepalive_idle - seconds of idleness before a keepalive probe
 * @ssk: the socket
 *
 * SAN_KEEPIDLE, or TCP's net.ipv4.tcp_keepalive_time of the socket's
 * namespace, as a TCP user would expect.
 */
unsigned int san_keepalive_idle(const struct san_sock *ssk)
{
	int idle = READ_ONCE(ssk->keepidle);

	if (!idle)
		idle = READ_ONCE(sock_net(&ssk->sk)->ipv4.sysctl_tcp_keepalive_time) / HZ;
	return max(idle, 1);
}

static int san_setsockopt(struct socket *sock, int level, int optname,
			  sockptr_t optval, unsigned int optlen)
{
	struct san_sock *ssk = san_sk(sock->sk);
	int val;

	if (level == SOL_TCP)
		return san_tcpopt_set(ssk, optname, optval, optlen);
	if (level == SOL_IP || level == SOL_IPV6)
		return san_ipopt_set(ssk, level, optname, optval, optlen);
	if (level != SOL_SAN)
		return -ENOPROTOOPT;
	if (optlen < sizeof(int))
		return -EINVAL;
	if (copy_from_sockptr(&val, optval, sizeof(val)))
		return -EFAULT;
	switch (optname) {
	case SAN_KEEPIDLE:
		if (val < 0 || val > 32767)
			return -EINVAL;
		/* Idle time and probe interval: the provider applies both. */
		lock_sock(sock->sk);
		WRITE_ONCE(ssk->keepidle, val);
		ssk->ka_intvl_idle = true;
		san_prov_tcp_opts(ssk);
		release_sock(sock->sk);
		return 0;
	case SAN_CANCEL_POLICY:
		if (val != SAN_CANCEL_ABORT && val != SAN_CANCEL_PRESERVE)
			return -EINVAL;
		WRITE_ONCE(ssk->cancel_policy, val);
		return 0;
	case SAN_CANCEL_TIMEOUT:
		if (val < 0 || val > 600000)
			return -EINVAL;
		WRITE_ONCE(ssk->cancel_timeout_ms, val);
		return 0;
	case SAN_ZCOPY_THRESHOLD:
		if (val < 0)
			return -EINVAL;
		WRITE_ONCE(ssk->zcopy_threshold, val);
		return 0;
	case SAN_POLICY:
		if (val < SAN_POLICY_PREFER_RDMA || val > SAN_POLICY_TCP_ONLY)
			return -EINVAL;
		/*
		 * Read by bind(), listen() and connect(), under the lock; once
		 * bound, the address is held on the providers it chose.
		 */
		lock_sock(sock->sk);
		if (ssk->bound || sock->sk->sk_state != TCP_CLOSE ||
		    ssk->conn) {
			release_sock(sock->sk);
			return -EINVAL;
		}
		ssk->policy = val;
		release_sock(sock->sk);
		return 0;
	case SAN_PROVIDER:
	case SAN_FALLBACK_REASON:
	case SAN_SOCK_ID:
		return -EPERM;
	default:
		return -ENOPROTOOPT;
	}
}

static int san_getsockopt(struct socket *sock, int level, int optname,
			  char __user *optval, int __user *optlen)
{
	struct san_sock *ssk = san_sk(sock->sk);
	int val, len;

	if (level == SOL_TCP)
		return san_tcpopt_get(ssk, optname, optval, optlen);
	if (level == SOL_IP || level == SOL_IPV6)
		return san_ipopt_get(ssk, level, optname, optval, optlen);
	if (level != SOL_SAN)
		return -ENOPROTOOPT;
	if (get_user(len, optlen))
		return -EFAULT;
	if (len < 0)
		return -EINVAL;
	switch (optname) {
	case SAN_KEEPIDLE:
		val = READ_ONCE(ssk->keepidle);
		break;
	case SAN_CANCEL_POLICY:
		val = READ_ONCE(ssk->cancel_policy);
		break;
	case SAN_CANCEL_TIMEOUT:
		val = READ_ONCE(ssk->cancel_timeout_ms);
		break;
	case SAN_ZCOPY_THRESHOLD:
		val = READ_ONCE(ssk->zcopy_threshold);
		break;
	case SAN_POLICY:
		val = READ_ONCE(ssk->policy);
		break;
	case SAN_SOCK_ID:
		val = ssk->id;
		break;
	case SAN_PROVIDER:
	case SAN_FALLBACK_REASON:
		lock_sock(sock->sk);
		val = 0;
		if (READ_ONCE(ssk->was_established))
			val = san_prov_id(ssk->prov);
		if (optname == SAN_FALLBACK_REASON)
			val = val == SAN_PROVIDER_TCP ? ssk->fb_reason : 0;
		release_sock(sock->sk);
		break;
	default:
		return -ENOPROTOOPT;
	}
	len = min_t(unsigned int, len, sizeof(int));
	if (put_user(len, optlen) || copy_to_user(optval, &val, len))
		return -EFAULT;
	return 0;
}

/*
 * .family holds the default number even when the module is loaded with
 * family=N: the kernel reads proto_ops.family only to tell AF_UNIX sockets
 * apart (scm.c).  The number in use lives in sk->sk_family.
 */
#define SAN_STREAM_OPS(fam) {		\
	.family = fam,				\
	.owner = THIS_MODULE,			\
	.release = san_stream_release,		\
	.bind = san_bind,			\
	.connect = san_connect,			\
	.socketpair = sock_no_socketpair,	\
	.accept = san_accept,			\
	.getname = san_getname,			\
	.poll = san_poll,			\
	.ioctl = san_ioctl,			\
	.listen = san_listen,			\
	.shutdown = san_shutdown,		\
	.setsockopt = san_setsockopt,		\
	.getsockopt = san_getsockopt,		\
	.sendmsg = san_sendmsg,			\
	.recvmsg = san_recvmsg,			\
	.mmap = sock_no_mmap,			\
	SAN_SENDPAGE_OP				\
}

const struct proto_ops san_stream_ops = SAN_STREAM_OPS(AF_SAN);

/* IPPROTO_SAN sockets: the same calls, under the inet families. */
const struct proto_ops san_inet_ops = SAN_STREAM_OPS(PF_INET);
const struct proto_ops san_inet6_ops = SAN_STREAM_OPS(PF_INET6);
