// SPDX-License-Identifier: GPL-2.0
/*
 * Every AF_SAN socket, listed through sock_diag (NETLINK_SOCK_DIAG), as
 * inet_diag lists TCP's: the request and the replies are in
 * uapi/linux/san_diag.h, tools/sanstat prints them.
 *
 * The sockets sit on one list, in the order they were made, from
 * creation (san_sock_setup()) to destruction (san_sock_destruct()).  A
 * dump takes references on a batch of them under san_all_lock, lets the
 * lock go, then reads each under its socket lock.  Between two replies it
 * keeps a reference on the last socket it went past, which so stays on
 * the list: the next reply starts right after it, so a dump costs one
 * pass over the list, and a socket created or freed meanwhile is shown
 * once at most and never makes the dump repeat or skip another.
 *
 * The provider is asked (addresses, queues, credits) only while the
 * socket has its struct socket: a child not yet accepted, or a socket
 * being closed, may have its connection handed back to the provider
 * without the socket lock (san_child_drop(), san_stream_release()).
 */
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <net/netlink.h>
#include <net/sock.h>
#include <net/tcp_states.h>
#include <uapi/linux/san.h>
#include <uapi/linux/san_diag.h>

#include "san.h"
#include "san_compat.h"

static LIST_HEAD(san_all);
static DEFINE_SPINLOCK(san_all_lock);
static u32 san_last_id;

/*
 * A new socket gets its id and joins the list.  Ids wrap after 2^32
 * sockets; the dump does not depend on them.  Context: any.
 */
void san_diag_add(struct san_sock *ssk)
{
	spin_lock_bh(&san_all_lock);
	ssk->id = ++san_last_id;
	list_add_tail(&ssk->all_node, &san_all);
	spin_unlock_bh(&san_all_lock);
}

/* The socket is being freed (its last reference is gone).  Any context. */
void san_diag_del(struct san_sock *ssk)
{
	spin_lock_bh(&san_all_lock);
	list_del(&ssk->all_node);
	spin_unlock_bh(&san_all_lock);
}

static void san_diag_addr(const struct sockaddr_storage *ss, __u8 *family,
			  __u16 *port, __u32 *addr)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET) {
		*family = AF_INET;
		*port = ntohs(sin->sin_port);
		addr[0] = (__force __u32)sin->sin_addr.s_addr;
	} else if (ss->ss_family == AF_INET6) {
		*family = AF_INET6;
		*port = ntohs(sin6->sin6_port);
		memcpy(addr, &sin6->sin6_addr, sizeof(sin6->sin6_addr));
	}
}

static int san_diag_provider(const struct san_sock *ssk)
{
	if (!ssk->conn)
		return SAN_PROVIDER_NONE;
	return san_prov_id(ssk->prov);
}

/*
 * Whether the provider may be asked about the connection: the socket is
 * a user's (not a child waiting for accept(), not closed) and has one.
 * Socket lock held.
 */
static bool san_diag_live(struct san_sock *ssk)
{
	return ssk->sk.sk_socket && ssk->conn;
}

/* The socket's message; socket lock held. */
static void san_diag_fill(struct san_sock *ssk, struct san_diag_msg *r,
			  struct user_namespace *ns, unsigned long ino)
{
	struct sock *sk = &ssk->sk;
	struct sockaddr_storage addr;
	bool live = san_diag_live(ssk);

	r->sdiag_state = sk->sk_state;
	r->sdiag_provider = live ? san_diag_provider(ssk) : SAN_PROVIDER_NONE;
	if (r->sdiag_provider == SAN_PROVIDER_TCP)
		r->sdiag_fallback = ssk->fb_reason;
	r->sdiag_family = ssk->ipfam ? ssk->ipfam : ssk->local.ss_family;
	if (live && ssk->prov->getname(ssk, &addr, false) > 0)
		san_diag_addr(&addr, &r->sdiag_family, &r->sdiag_sport,
			      r->sdiag_src);
	else if (ssk->bound)
		san_diag_addr(&ssk->local, &r->sdiag_family,
			      &r->sdiag_sport, r->sdiag_src);
	if (sk->sk_state == TCP_SYN_SENT) {
		san_diag_addr(&ssk->peer, &r->sdiag_family, &r->sdiag_dport,
			      r->sdiag_dst);
	} else if (live && (sk->sk_state == TCP_ESTABLISHED ||
			    sk->sk_state == TCP_SYN_RECV)) {
		if (ssk->prov->getname(ssk, &addr, true) > 0)
			san_diag_addr(&addr, &r->sdiag_family,
				      &r->sdiag_dport, r->sdiag_dst);
	}
	if (sk->sk_state == TCP_LISTEN) {
		r->sdiag_rqueue = READ_ONCE(sk->sk_ack_backlog);
		r->sdiag_wqueue = READ_ONCE(sk->sk_max_ack_backlog);
	} else if (live) {
		r->sdiag_rqueue = ssk->prov->rx_queued(ssk);
		r->sdiag_wqueue = ssk->prov->tx_queued(ssk);
	}
	r->sdiag_ino = ino;
	r->sdiag_uid = from_kuid_munged(ns, sock_i_uid(sk));
	r->sdiag_id = ssk->id;
}

static void san_diag_info_fill(struct san_sock *ssk,
			       struct san_diag_info *info)
{
	struct sock *sk = &ssk->sk;

	memset(info, 0, sizeof(*info));
	info->ipproto_san = sk->sk_protocol == IPPROTO_SAN;
	info->policy = ssk->policy;
	info->cancel_policy = ssk->cancel_policy;
	info->aborted = ssk->aborted;
	info->rcvbuf = READ_ONCE(sk->sk_rcvbuf);
	info->sndbuf = READ_ONCE(sk->sk_sndbuf);
	info->zc_inflight = ssk->zc_inflight;
	if (san_diag_live(ssk))
		san_prov_diag(ssk, info);
}

/*
 * One socket's reply, if it passes the request's filters.  Returns 0
 * (added or filtered out) or -EMSGSIZE when @skb is full.
 */
static int san_diag_one(struct sk_buff *skb, struct netlink_callback *cb,
			const struct san_diag_req *req, struct san_sock *ssk)
{
	struct user_namespace *ns = sk_user_ns(NETLINK_CB(cb->skb).sk);
	struct sock *sk = &ssk->sk;
	struct san_diag_info info;
	struct san_diag_msg *r;
	struct nlmsghdr *nlh;
	unsigned long ino;
	int err = 0;

	/* Filtered out: not even locked. */
	if (!(req->sdiag_states & (1U << READ_ONCE(sk->sk_state))))
		return 0;
	if (req->sdiag_ino && req->sdiag_ino != sock_i_ino(sk))
		return 0;
	lock_sock(sk);
	/* Again under the lock: a close may have orphaned it meanwhile. */
	ino = sock_i_ino(sk);
	if (!(req->sdiag_states & (1U << sk->sk_state)) ||
	    (req->sdiag_ino && req->sdiag_ino != ino))
		goto out;
	err = -EMSGSIZE;
	nlh = nlmsg_put(skb, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			cb->nlh->nlmsg_type, sizeof(*r), NLM_F_MULTI);
	if (!nlh)
		goto out;
	r = nlmsg_data(nlh);
	memset(r, 0, sizeof(*r));
	san_diag_fill(ssk, r, ns, ino);
	if (req->sdiag_show & SAN_SHOW_INFO) {
		san_diag_info_fill(ssk, &info);
		if (nla_put(skb, SAN_DIAG_INFO, sizeof(info), &info))
			goto cancel;
	}
	if ((req->sdiag_show & SAN_SHOW_COUNTERS) &&
	    nla_put(skb, SAN_DIAG_COUNTERS, sizeof(ssk->counters),
		    &ssk->counters))
		goto cancel;
	nlmsg_end(skb, nlh);
	err = 0;
	goto out;
cancel:
	nlmsg_cancel(skb, nlh);
out:
	release_sock(sk);
	return err;
}

#define SAN_DIAG_BATCH	32

/*
 * cb->args[0]: the socket the dump went past last, held (see above);
 * cb->args[1]: set once the list was walked to its end.
 */
static int san_diag_dump(struct sk_buff *skb, struct netlink_callback *cb)
{
	const struct san_diag_req *req = nlmsg_data(cb->nlh);
	struct san_sock *batch[SAN_DIAG_BATCH], *ssk, *last;
	struct net *net = sock_net(skb->sk);
	int n, i, err = 0;

	while (!err && !cb->args[1]) {
		last = (struct san_sock *)cb->args[0];
		n = 0;
		spin_lock_bh(&san_all_lock);
		ssk = last ? list_next_entry(last, all_node) :
			     list_first_entry(&san_all, struct san_sock,
					      all_node);
		list_for_each_entry_from(ssk, &san_all, all_node) {
			if (!net_eq(sock_net(&ssk->sk), net))
				continue;
			/* Being freed: it leaves the list once we let go. */
			if (!refcount_inc_not_zero(&ssk->sk.sk_refcnt))
				continue;
			batch[n++] = ssk;
			if (n == SAN_DIAG_BATCH)
				break;
		}
		spin_unlock_bh(&san_all_lock);
		if (n < SAN_DIAG_BATCH)
			cb->args[1] = 1;
		for (i = 0; i < n; i++) {
			if (!err)
				err = san_diag_one(skb, cb, req, batch[i]);
			if (err) {
				/* No room: this one starts the next reply. */
				sock_put(&batch[i]->sk);
				cb->args[1] = 0;
				continue;
			}
			/* It is the one to resume after: keep it held. */
			last = (struct san_sock *)cb->args[0];
			cb->args[0] = (long)batch[i];
			if (last)
				sock_put(&last->sk);
		}
	}
	return skb->len;
}

/* The dump ended (or its socket was closed): let the held socket go. */
static int san_diag_done(struct netlink_callback *cb)
{
	struct san_sock *last = (struct san_sock *)cb->args[0];

	if (last)
		sock_put(&last->sk);
	cb->args[0] = 0;
	return 0;
}

static int san_diag_handler_dump(struct sk_buff *skb, struct nlmsghdr *h)
{
	struct netlink_dump_control c = {
		.dump = san_diag_dump,
		.done = san_diag_done,
	};

	if (nlmsg_len(h) < sizeof(struct san_diag_req))
		return -EINVAL;
	if (!(h->nlmsg_flags & NLM_F_DUMP))
		return -EOPNOTSUPP;
	return netlink_dump_start(sock_net(skb->sk)->diag_nlsk, skb, h, &c);
}

/* .family is the family number in use, set at load. */
static struct sock_diag_handler san_diag_handler = {
	SAN_DIAG_OWNER
	.dump = san_diag_handler_dump,
};

int san_diag_init(void)
{
	san_diag_handler.family = san_family;
	return sock_diag_register(&san_diag_handler);
}

void san_diag_exit(void)
{
	sock_diag_unregister(&san_diag_handler);
}
