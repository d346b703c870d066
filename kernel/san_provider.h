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
 */
#ifndef _SAN_PROVIDER_H
#define _SAN_PROVIDER_H

#include <linux/socket.h>
#include <linux/types.h>

struct san_sock;
struct msghdr;

/**
 * struct san_provider - one way of carrying AF_SAN connections
 * @name: short name, used in log messages and statistics
 * @init: module-wide setup, at module load before the family is
 *	registered.  Returns 0 or a negative errno, which fails the load.
 * @exit: undo @init, at module unload after the last socket is gone.
 * @listen: start listening on @ssk->local with @backlog.  Returns 0 or a
 *	negative errno (EADDRINUSE, EADDRNOTAVAIL...).
 * @bind: reserve @ssk->local (port 0: pick one and write it back).
 *	Returns 0 or a negative errno.
 * @connect: start connecting to @addr and return at once: 0 when the
 *	attempt is under way; completion is reported with san_established()
 *	or san_conn_error().  Returns a negative errno when it cannot start.
 * @sendmsg: copy up to @len bytes of @msg into the connection now.
 *	Returns the bytes taken (> 0), -EAGAIN when no byte fits now, or a
 *	negative errno.
 * @recvmsg: copy up to @len received bytes into @msg now (@flags:
 *	MSG_PEEK).  Returns the bytes copied (> 0), -EAGAIN when none is
 *	queued, or a negative errno.
 * @rx_queued: bytes received and not read yet (SIOCINQ, poll).
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
 * @close: the switch lets go of the connection: gracefully (@abort false:
 *	deliver what was taken, end the stream, then release) or abortively
 *	(the peer sees a reset at once).  Never fails; the provider releases
 *	its resources in the background and drops its socket references.
 *	Called without the socket lock held.  The switch makes no other call
 *	for this connection afterwards.
 */
struct san_provider {
	const char *name;
	int (*init)(void);
	void (*exit)(void);
	int (*bind)(struct san_sock *ssk);
	int (*listen)(struct san_sock *ssk, int backlog);
	int (*connect)(struct san_sock *ssk, struct sockaddr_storage *addr);
	int (*sendmsg)(struct san_sock *ssk, struct msghdr *msg, size_t len);
	int (*recvmsg)(struct san_sock *ssk, struct msghdr *msg, size_t len,
		       int flags);
	u32 (*rx_queued)(struct san_sock *ssk);
	u32 (*tx_queued)(struct san_sock *ssk);
	bool (*tx_ready)(struct san_sock *ssk);
	void (*shutdown_tx)(struct san_sock *ssk);
	bool (*tx_done)(struct san_sock *ssk);
	int (*getname)(struct san_sock *ssk, struct sockaddr_storage *addr,
		       bool peer);
	void (*close)(struct san_sock *ssk, bool abort);
};

extern const struct san_provider san_rdma_provider;
extern const struct san_provider san_tcp_provider;

int san_providers_init(void);
void san_providers_exit(void);
const struct san_provider *san_provider_default(void);

#endif /* _SAN_PROVIDER_H */
