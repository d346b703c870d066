/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_SAN internal definitions shared by the switch (the socket layer:
 * af_san.c, san_stream.c) and the providers (san_rdma*.c, san_tcp.c).
 */
#ifndef _SAN_H
#define _SAN_H

#include <linux/socket.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <net/inet_sock.h>
#include <net/netns/generic.h>
#include <net/sock.h>
#include <uapi/linux/san_diag.h>

#include "san_provider.h"

/**
 * struct san_sock - an AF_SAN socket
 * @sk: the generic socket; must stay first (sk_alloc() sizes by obj_size)
 * @inet: the same, as the inet socket an IPPROTO_SAN socket also is
 * @ipfam: IPPROTO_SAN: AF_INET or AF_INET6, the family whose addresses
 *	it reports (children inherit it); 0 for an AF_SAN socket
 * @prov: the provider carrying this socket's connection, chosen once
 *	before the connection is established; NULL until then
 * @conn: the provider's per-connection state, owned by @prov; NULL once
 *	the switch handed it back with &san_provider.close
 * @alt_conn: the TCP provider's handle while the socket holds its address
 *	on TCP beside RDMA (@prov RDMA, bound or listening under
 *	SAN_POLICY_PREFER_RDMA); socket lock
 * @policy: SAN_POLICY; socket lock
 * @fb_reason: SAN_FALLBACK_REASON of the connection
 * @fb_armed: a connect() under SAN_POLICY_PREFER_RDMA is trying RDMA and
 *	may still fall back to TCP; @state_lock
 * @fb_go: the fallback is decided: the RDMA attempt's later events are
 *	ignored until @fb_work replaced it; @state_lock
 * @fb_work: the fallback (and its timeout, net.san.fallback_timeout_ms)
 * @peer: the address connect() was given
 * @state_lock: guards sk->sk_state changes (san_set_state()), the accept
 *	queue of a listener and @parent of a child; taken with _bh
 * @accept_q: listener: established children not yet accepted
 * @accept_node: child: entry in its listener's @accept_q
 * @parent: child: its listener until accept() takes it, holding a
 *	reference on it; NULL otherwise
 * @local: the address bound or in use (AF_INET or AF_INET6)
 * @bound: @local was set by bind()
 * @keepidle: SAN_KEEPIDLE (or TCP_KEEPIDLE) in seconds, 0 for
 *	net.ipv4.tcp_keepalive_time
 * @nodelay: TCP_NODELAY; socket lock
 * @cork: TCP_CORK; socket lock
 * @keepintvl: TCP_KEEPINTVL, 0 for the sysctl; socket lock
 * @ka_intvl_idle: @keepidle came from SAN_KEEPIDLE, which sets the
 *	interval between probes too (unless TCP_KEEPINTVL is set)
 * @keepcnt: TCP_KEEPCNT, 0 for the sysctl; socket lock
 * @user_timeout: TCP_USER_TIMEOUT in ms, 0 for none; socket lock
 * @v6only: IPV6_V6ONLY (net.ipv6.bindv6only at creation): an IPv6
 *	wildcard takes no IPv4 peers; socket lock
 * @tos: IP_TOS / IPV6_TCLASS: the traffic class of the connection (the
 *	RDMA service type, the TCP socket's TOS); socket lock
 * @cancel_policy: SAN_CANCEL_POLICY (SAN_CANCEL_ABORT, SAN_CANCEL_PRESERVE)
 * @cancel_timeout_ms: SAN_CANCEL_TIMEOUT, 0 for net.san.cancel_timeout_ms
 * @zcopy_threshold: SAN_ZCOPY_THRESHOLD, 0 for net.san.zcopy_threshold
 * @aborted: a cancellation tore the connection down: every call but
 *	close() fails with ECONNABORTED from then on.  Socket lock.
 * @was_established: the connection reached ESTABLISHED once; a
 *	non-blocking connect()'s socket counts as connected from then on,
 *	whether or not connect() is called again (as TCP)
 * @half_open: listener: children between the connection request and
 *	ESTABLISHED; child: it is one of them.  Under the listener's
 *	@state_lock.
 * @rx_zc_busy: a reader's zero-copy READ is in flight (its call dropped
 *	the socket lock to wait): other readers wait for it.  Socket lock.
 * @zc_inflight: zero-copy transfers of this socket's calls not yet ended:
 *	while there is one, the connection is never handed back to the
 *	provider (it would free what the transfer uses); a failure then
 *	resets it with &san_provider.abort and close() hands it back.
 *	Socket lock.
 * @id: SAN_SOCK_ID: unique since load; names the socket in tracepoints
 *	and sock_diag
 * @all_node: entry in the list of every AF_SAN socket (san_diag.c),
 *	under san_all_lock, from creation to destruction
 * @counters: what the socket's calls moved (sock_diag); socket lock
 */
struct san_sock {
	union {
		struct sock sk;
		struct inet_sock inet;	/* IPPROTO_SAN: inet_create()'s */
	};
	u16 ipfam;
	const struct san_provider *prov;
	void *conn;
	void *alt_conn;
	int policy;
	int fb_reason;
	bool fb_armed;
	bool fb_go;
	struct delayed_work fb_work;
	struct sockaddr_storage peer;
	spinlock_t state_lock;	/* see above */
	struct list_head accept_q;
	struct list_head accept_node;
	struct san_sock *parent;
	struct sockaddr_storage local;
	bool bound;
	int keepidle;
	bool nodelay;
	bool cork;
	int keepintvl;
	bool ka_intvl_idle;
	int keepcnt;
	int user_timeout;
	bool v6only;
	u8 tos;
	int cancel_policy;
	int cancel_timeout_ms;
	int zcopy_threshold;
	bool aborted;
	bool was_established;
	u32 half_open;
	bool rx_zc_busy;
	u32 zc_inflight;
	u32 id;
	struct list_head all_node;
	struct san_diag_counters counters;
};

/* Seconds before a keepalive probe of an idle connection. */
unsigned int san_keepalive_idle(const struct san_sock *ssk);

static inline struct san_sock *san_sk(const struct sock *sk)
{
	return container_of(sk, struct san_sock, sk);
}

extern int san_family;

/* Range of net.san.rmem_default and wmem_default: 4 to 128 buffers. */
#define SAN_NET_BUF_MIN		65536
#define SAN_NET_BUF_MAX		2097152

/**
 * struct san_net - a network namespace's net.san.* tunables (san_net.c)
 * @policy: SAN_POLICY of a new socket
 * @fallback_timeout_ms: how long a SAN_POLICY_PREFER_RDMA connect() waits
 *	for RDMA before it goes over TCP
 * @cancel_timeout_ms: SAN_CANCEL_TIMEOUT of a socket that sets none
 * @zcopy_threshold: SAN_ZCOPY_THRESHOLD of a socket that sets none; 0
 *	turns zero-copy off
 * @rmem_default: SO_RCVBUF of a new socket, in bytes
 * @wmem_default: SO_SNDBUF of a new socket, in bytes
 * @sysctl: the namespace's net/san table
 *
 * Read with READ_ONCE() (the sysctl handler writes them at any time).
 */
struct san_net {
	int policy;
	int fallback_timeout_ms;
	int cancel_timeout_ms;
	int zcopy_threshold;
	int rmem_default;
	int wmem_default;
	struct ctl_table_header *sysctl;
};

extern unsigned int san_net_id;

static inline struct san_net *san_net(const struct net *net)
{
	return net_generic(net, san_net_id);
}

int san_net_register(void);
void san_net_unregister(void);

/* san_cancel.c: which signals cancel, and the cancel timeout. */
unsigned long san_fallback_timeout(const struct san_sock *ssk);
bool san_cancel_pending(void);
long san_cancel_timeout(const struct san_sock *ssk);
u32 san_zcopy_threshold(const struct san_sock *ssk);

/*
 * The rows of the cancellation table (docs/design.md, "Cancellation"):
 * what a cancelled call did.
 */
enum san_cancel_row {
	SAN_CX_CONNECT,		/* connect() abandoned */
	SAN_CX_ACCEPT,		/* accept() interrupted, listener kept */
	SAN_CX_COPY_ABORT,	/* send/recv, copy path, connection reset */
	SAN_CX_COPY_PRESERVE,	/* send/recv, copy path, connection kept */
	SAN_CX_LINGER,		/* close() stopped lingering, reset */
	SAN_CX_ZC_DONE,		/* zero-copy finished within the timeout */
	SAN_CX_ZC_RESET,	/* zero-copy timed out: connection reset */
	SAN_CX_ROWS,
};

extern const char *const san_cancel_row_names[SAN_CX_ROWS];

/**
 * struct san_stats - what AF_SAN holds right now, module-wide
 * @conns: provider connections (including listeners)
 * @qps: queue pairs; @cqs: completion queues; @pds: protection domains
 * @bufs: DMA-mapped kernel buffers
 * @buf_bytes: their size in bytes: the memory the devices can reach
 * @busy_poll_hits: readers that found what they waited for while busy
 *	polling (SO_BUSY_POLL), without sleeping
 * @pinned: user pages pinned for zero-copy right now
 * @zc_sends: zero-copy exposures made since load (SRC_AVAIL sent)
 * @zc_reads: zero-copy reads made since load, straight into user pages
 * @zc_bounced: zero-copy reads made through a kernel buffer since load
 * @tcp_conns: TCP provider handles (counted in @conns too)
 * @rdma_estab: connections established over RDMA since load (each end)
 * @tcp_estab: connections established over TCP since load (each end)
 * @fallbacks: connections that went over TCP since load, by
 *	SAN_FALLBACK_REASON
 * @cancels: calls cancelled since load, by row of the cancellation table
 *	(enum san_cancel_row)
 * @aborts: connections this end reset since load (a cancellation, an
 *	abortive close)
 * @proto_errors: connections reset because the peer broke the protocol
 * @zc_bytes_sent: bytes sent zero-copy since load; @zc_bytes_received:
 *	received
 */
struct san_stats {
	atomic_t conns;
	atomic_t qps;
	atomic_t cqs;
	atomic_t pds;
	atomic_t bufs;
	atomic_long_t buf_bytes;
	atomic_long_t busy_poll_hits;
	atomic_t pinned;
	atomic_t zc_sends;
	atomic_t zc_reads;
	atomic_t zc_bounced;
	atomic_t tcp_conns;
	atomic_long_t rdma_estab;
	atomic_long_t tcp_estab;
	atomic_long_t fallbacks[4];
	atomic_long_t cancels[SAN_CX_ROWS];
	atomic_long_t aborts;
	atomic_long_t proto_errors;
	atomic64_t zc_bytes_sent;
	atomic64_t zc_bytes_received;
};

extern struct san_stats san_stats;
int san_stats_init(void);
void san_stats_exit(void);

/* san_diag.c: the list of every socket, and sock_diag. */
void san_diag_add(struct san_sock *ssk);
void san_diag_del(struct san_sock *ssk);
int san_diag_init(void);
void san_diag_exit(void);

/* Events: counters and tracepoints (san_stats.c). */
void san_note_cancel(struct san_sock *ssk, enum san_cancel_row row, int ret);
void san_note_abort(struct san_sock *ssk, int err);
void san_note_zc(struct san_sock *ssk, bool send, int bytes);
void san_note_state(struct san_sock *ssk, int old, int new);

/* san_stream.c: the fallback from RDMA to TCP (a socket's fb_work). */
void san_fallback_work(struct work_struct *work);

/* af_san.c: socket life cycle. */
struct san_sock *san_child_alloc(struct san_sock *listener,
				 const struct san_provider *prov);
void san_child_set_conn(struct san_sock *child, void *conn);
bool san_child_leave_synq(struct san_sock *child);
struct san_sock *san_child_take_parent(struct san_sock *child);
void san_child_drop(struct san_sock *child);

/* san_stream.c: the switch's side of provider events. */
bool san_set_state(struct san_sock *ssk, int state);
void san_established(struct san_sock *ssk);
void san_conn_error(struct san_sock *ssk, int err);
void san_conn_fallback(struct san_sock *ssk, int reason);
void san_peer_fin(struct san_sock *ssk);
void san_wake_rx(struct san_sock *ssk);
void san_wake_tx(struct san_sock *ssk);
void san_wake_zc(struct san_sock *ssk);

/* san_tcpopt.c: level SOL_TCP. */
int san_tcpopt_set(struct san_sock *ssk, int optname, sockptr_t optval,
		   unsigned int optlen);
int san_tcpopt_get(struct san_sock *ssk, int optname, char __user *optval,
		   int __user *optlen);
int san_ipopt_set(struct san_sock *ssk, int level, int optname,
		  sockptr_t optval, unsigned int optlen);
int san_ipopt_get(struct san_sock *ssk, int level, int optname,
		  char __user *optval, int __user *optlen);

int san_addr_from_user(struct sockaddr *uaddr, int len,
		       struct sockaddr_storage *out);

extern const struct proto_ops san_stream_ops;
extern const struct proto_ops san_inet_ops;
extern const struct proto_ops san_inet6_ops;
int san_stream_release(struct socket *sock);
void san_listener_flush(struct san_sock *lsk);

/* SO_BUSY_POLL of @sk (net.core.busy_read by default), in microseconds. */
static inline unsigned int san_busy_usec(const struct sock *sk)
{
#ifdef CONFIG_NET_RX_BUSY_POLL
	return READ_ONCE(sk->sk_ll_usec);
#else
	return 0;
#endif
}

#endif /* _SAN_H */
