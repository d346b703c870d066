/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between the switch (the AF_SAN socket layer) and the
 * providers that move bytes.
 *
 * As in Windows Sockets Direct, a provider only ever sees non-blocking
 * calls plus an abortive close: it never sleeps on behalf of a caller and
 * has no cancel operation.  Blocking, timeouts, signals and cancellation
 * live in the switch alone, which waits on the socket's wait queue until
 * the provider reports progress through the san_*() event functions of
 * san.h (san_established(), san_conn_error(), san_peer_fin(),
 * san_wake_rx(), san_wake_tx()).
 *
 * Unless an operation says otherwise it is called in process context with
 * the socket lock (lock_sock()) held, and the provider must not sleep
 * waiting for the network in it.
 *
 * The boundary: a provider keeps its per-connection state behind one
 * opaque handle, which @open returns and the switch stores (ssk->conn for
 * the provider carrying the socket, ssk->alt_conn for the TCP side of an
 * address held on both); the operations that make or end a handle's use
 * (@bind, @listen, @connect, @reset, @close) get it as an argument, the
 * others read ssk->conn.  A provider never writes the switch's fields
 * (ssk->prov, ssk->conn, ssk->alt_conn, sk_state, sk_err, sk_shutdown,
 * sock->state): it reports through the san_*() event functions, and a
 * child it makes gets its handle with san_child_set_conn().  Which
 * operations are optional is said below; san_providers_init() refuses a
 * provider that lacks a required one, and the switch calls the optional
 * ones through the san_prov_*() helpers of san_provider.c only.
 */
#ifndef _SAN_PROVIDER_H
#define _SAN_PROVIDER_H

#include <linux/socket.h>
#include <linux/types.h>

struct san_sock;
struct msghdr;

/**
 * struct san_zc - one zero-copy transfer, owned by the switch's call
 * @busy: the device may still access the call's user buffer, or a remote
 *	key exposing it may still work.  Set by &san_provider.zc_send or
 *	&san_provider.zc_recv; cleared by the provider (any context) once the
 *	operation finished or was flushed, followed by a wakeup of the
 *	socket.  The switch never returns while it is set.
 * @len: bytes the transfer covers
 * @err: positive errno when it failed (set before @busy is cleared)
 * @priv: the provider's state for it
 */
struct san_zc {
	bool busy;
	u32 len;
	int err;
	void *priv;
};

/**
 * struct san_provider - one way of carrying AF_SAN connections
 * @name: short name, used in log messages and statistics
 * @init: module-wide setup, at module load before the family is
 *	registered.  Returns 0 or a negative errno, which fails the load.
 * @exit: undo @init, at module unload after the last socket is gone.
 * @open: a new handle for a connection of @family (AF_INET, AF_INET6)
 *	of @ssk, or an ERR_PTR().  The switch stores it and hands it back
 *	with @reset or @close.
 * @listen: start listening on @ssk->local with @backlog, on the bound
 *	handle @conn.  Returns 0 or a negative errno (EADDRINUSE...).
 * @bind: reserve @ssk->local on @conn (port 0: pick one and write it
 *	back).  Returns 0 or a negative errno; after an error the switch
 *	hands @conn back with @reset.
 * @connect: start connecting @conn to @addr and return at once: 0 when
 *	the attempt is under way; completion is reported with
 *	san_established() or san_conn_error() (an RDMA attempt that found no
 *	RDMA path says san_conn_fallback() first).  Returns a negative errno
 *	when it cannot start.
 * @sendmsg: copy up to @len bytes of @msg into the connection now.
 *	Returns the bytes taken (> 0), -EAGAIN when no byte fits now, or a
 *	negative errno.
 * @recvmsg: copy up to @len received bytes into @msg now (@flags:
 *	MSG_PEEK).  Returns the bytes copied (> 0), -EAGAIN when none is
 *	queued, or a negative errno.
 * @rx_queued: bytes received and not read yet (SIOCINQ).
 *	Any context; takes no sleeping lock.
 * @rx_ready: whether @recvmsg or @zc_recv can make progress without
 *	waiting for an operation already in flight (poll's EPOLLIN, the
 *	wait of a blocked recv()).  Optional: @rx_queued != 0 when absent.
 *	Any context; takes no sleeping lock.
 * @tx_queued: bytes sent and not acknowledged by the peer (SIOCOUTQ).
 *	Any context; takes no sleeping lock.
 * @tx_ready: whether @sendmsg can take at least one byte now.  Any context.
 * @shutdown_tx: end our stream (the peer reads EOF after the data already
 *	taken).  Non-blocking; the end marker may go out later.
 * @tx_done: whether everything taken so far, and the end marker if
 *	@shutdown_tx was called, reached the peer.  Any context.
 * @getname: fill @addr with the local (@peer false) or remote address.
 *	Returns the address length or a negative errno.
 * @zc_send: zero-copy send: expose up to @len bytes at the head of
 *	@msg to the peer and return at once.  0: started, @zc is busy until
 *	the peer has read them; -EAGAIN: not now (no credit); -EOPNOTSUPP:
 *	use @sendmsg (the peer or the buffer cannot do zero-copy).
 *	Optional.
 * @zc_recv: the stream's next bytes were sent zero-copy: start reading
 *	up to @len of them into @msg (pinned, or through a bounce buffer
 *	when @msg cannot be pinned or @len is below the zero-copy
 *	threshold) and return at once.  0: started, @zc is busy until the
 *	data is in place; -EAGAIN: the next bytes are not zero-copy ones
 *	(use @recvmsg).  With MSG_DONTWAIT in @flags the caller will not
 *	wait: the provider may start reading them into its own memory and
 *	return -EAGAIN; @recvmsg returns them once there, and @rx_ready
 *	turns true then.  Optional.
 * @zc_end: release everything of a transfer whose @zc is no longer busy
 *	(remote key invalidated, pages unpinned).  Returns the bytes moved,
 *	or a negative errno.
 * @abort: reset the connection now (the peer sees a reset) and flush
 *	every outstanding operation: each busy &san_zc stops being busy
 *	once the device can no longer touch its buffer.  The connection
 *	stays the switch's until @close.  Non-blocking.
 * @reset: hand back @conn, a connection that never was or is no longer
 *	established (a failed bind or connect, a listener's close), and
 *	wait until everything of it is released, its address included, so
 *	that the socket can bind or connect again.  No event of it reaches
 *	the socket afterwards.  Process context, socket lock held; never
 *	called from a provider event.
 * @keepalive: SO_KEEPALIVE was set or cleared on an established
 *	connection.  Optional; socket lock held.
 * @tcp_opts: the socket's TCP options (TCP_NODELAY, TCP_CORK, keepalive,
 *	TCP_USER_TIMEOUT: the san_sock fields) were set: apply them to the
 *	connection.  Optional; socket lock held.
 * @tcp_getsockopt: answer a getsockopt(SOL_TCP) the provider knows
 *	better than the switch (TCP_INFO, TCP_CONGESTION) for an
 *	established connection, straight to user memory.  -ENOPROTOOPT:
 *	the switch answers.  Optional; socket lock held.
 * @close: the switch lets go of @conn: gracefully (@abort false:
 *	deliver what was taken, end the stream, then release) or abortively
 *	(the peer sees a reset at once).  Never fails; the provider releases
 *	its resources in the background and drops its socket references.
 *	Called without the socket lock held.  The switch makes no other call
 *	for this connection afterwards.
 * @diag: fill the provider's fields of @info (credits, buffers) for
 *	sock_diag.  Optional; socket lock held.
 * @tcp_ports: true when @conn, just bound, is carried by the host's own
 *	TCP (iWARP): its port is a TCP port of the host, which the TCP
 *	provider then cannot hold too.  Optional (false); socket lock held.
 */
struct san_provider {
	const char *name;
	int (*init)(void);
	void (*exit)(void);
	void *(*open)(struct san_sock *ssk, int family);
	int (*bind)(struct san_sock *ssk, void *conn);
	int (*listen)(struct san_sock *ssk, void *conn, int backlog);
	int (*connect)(struct san_sock *ssk, void *conn,
		       struct sockaddr_storage *addr);
	int (*sendmsg)(struct san_sock *ssk, struct msghdr *msg, size_t len);
	int (*recvmsg)(struct san_sock *ssk, struct msghdr *msg, size_t len,
		       int flags);
	u32 (*rx_queued)(struct san_sock *ssk);
	bool (*rx_ready)(struct san_sock *ssk);
	u32 (*tx_queued)(struct san_sock *ssk);
	bool (*tx_ready)(struct san_sock *ssk);
	void (*shutdown_tx)(struct san_sock *ssk);
	bool (*tx_done)(struct san_sock *ssk);
	int (*getname)(struct san_sock *ssk, struct sockaddr_storage *addr,
		       bool peer);
	int (*zc_send)(struct san_sock *ssk, struct msghdr *msg, size_t len,
		       struct san_zc *zc);
	int (*zc_recv)(struct san_sock *ssk, struct msghdr *msg, size_t len,
		       int flags, struct san_zc *zc);
	int (*zc_end)(struct san_sock *ssk, struct san_zc *zc);
	void (*abort)(struct san_sock *ssk);
	void (*reset)(struct san_sock *ssk, void *conn);
	void (*keepalive)(struct san_sock *ssk);
	void (*tcp_opts)(struct san_sock *ssk);
	int (*tcp_getsockopt)(struct san_sock *ssk, int optname,
			      char __user *optval, int __user *optlen);
	void (*close)(struct san_sock *ssk, void *conn, bool abort);
	void (*diag)(struct san_sock *ssk, struct san_diag_info *info);
	bool (*tcp_ports)(struct san_sock *ssk, void *conn);
};

extern const struct san_provider san_rdma_provider;
extern const struct san_provider san_tcp_provider;

int san_providers_init(void);
void san_providers_exit(void);

/* The optional operations, called through these only (san_provider.c). */
bool san_prov_rx_ready(struct san_sock *ssk);
int san_prov_id(const struct san_provider *prov);
bool san_prov_can_zc_send(const struct san_provider *prov);
bool san_prov_can_zc_recv(const struct san_provider *prov);
void san_prov_keepalive(struct san_sock *ssk);
void san_prov_tcp_opts(struct san_sock *ssk);
int san_prov_tcp_getsockopt(struct san_sock *ssk, int optname,
			    char __user *optval, int __user *optlen);
void san_prov_diag(struct san_sock *ssk, struct san_diag_info *info);
bool san_prov_tcp_ports(struct san_sock *ssk);

#endif /* _SAN_PROVIDER_H */
