/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AF_SAN: TCP-grade byte streams over RDMA, the Linux take on Windows
 * Sockets Direct.  This is the header that programs include.
 *
 * The family number is not assigned by Linux: AF_SAN below is the module's
 * default, a slot that no 6.1 or 6.12 kernel registers.  A module loaded
 * with "family=N" uses N instead; the number in use is published in
 * /sys/module/af_san/parameters/family (see SAN_FAMILY_SYSFS).
 */
#ifndef _UAPI_LINUX_SAN_H
#define _UAPI_LINUX_SAN_H

/* Default family number: the dead AF_SNA slot. */
#define AF_SAN		22
#define PF_SAN		AF_SAN

/* Where the family number in use can be read, as a decimal number. */
#define SAN_FAMILY_SYSFS	"/sys/module/af_san/parameters/family"

/*
 * socket(AF_INET or AF_INET6, SOCK_STREAM, IPPROTO_SAN) creates an AF_SAN
 * socket that reports AF_INET/AF_INET6 addresses, as a TCP socket does.
 * 261 is below the kernel's IPPROTO_MAX (263) and taken by no kernel up
 * to 6.12 (IPPROTO_SMC is 256, IPPROTO_MPTCP 262).  Its cancellation
 * policy starts as SAN_CANCEL_PRESERVE, TCP's behaviour.
 */
#define IPPROTO_SAN	261

/* Level for AF_SAN specific socket options. */
#define SOL_SAN		299

/*
 * SOL_SAN options (int values unless said otherwise).
 *
 * SAN_KEEPIDLE: seconds a connection with SO_KEEPALIVE stays idle before
 * it is probed, and between probes (1..32767); 0, the default, follows
 * net.ipv4.tcp_keepalive_time.  A peer that does not answer a probe ends
 * the connection with ETIMEDOUT after the transport's retries.
 */
#define SAN_KEEPIDLE	1

/*
 * SAN_CANCEL_POLICY: what a cancelled send() or recv() on the copy path
 * does to the connection.  A call is cancelled when a signal the process
 * catches (or a fatal one) arrives while it sleeps; stops, tracers and the
 * freezer do not cancel, the call goes on.
 *
 * SAN_CANCEL_ABORT (default, the Windows Sockets Direct model): the call
 * fails with EINTR (never restarted, even under SA_RESTART) and the
 * connection is aborted: the peer sees ECONNRESET, and every later call
 * but close() fails with ECONNABORTED (send() with EPIPE/SIGPIPE).
 *
 * SAN_CANCEL_PRESERVE (TCP's behaviour): the call returns the bytes it
 * moved, or EINTR (restarted under SA_RESTART when the socket has no
 * timeout); the connection is kept.
 *
 * A connect() is abandoned (its connection aborted) under both.
 */
#define SAN_CANCEL_POLICY	2
#define SAN_CANCEL_ABORT	0
#define SAN_CANCEL_PRESERVE	1

/*
 * SAN_CANCEL_TIMEOUT: milliseconds a cancelled call waits for an RDMA
 * operation on its user buffer to finish before aborting the connection
 * (1..600000); 0, the default, follows the sysctl
 * net.san.cancel_timeout_ms (2000 unless changed).
 */
#define SAN_CANCEL_TIMEOUT	3

/*
 * SAN_ZCOPY_THRESHOLD: a blocking send() (no SO_SNDTIMEO) of at least
 * this many bytes from one user segment is carried zero-copy: the peer
 * reads it with RDMA straight from the pinned buffer, and send() returns
 * once it has.  On the receiving side, a recv() of at least this many
 * bytes takes zero-copy data straight into its pinned buffer; a smaller
 * one goes through a kernel buffer.  0, the default, follows the sysctl
 * net.san.zcopy_threshold (65536 unless changed; 0 there turns
 * zero-copy off); INT_MAX turns it off for the socket.
 */
#define SAN_ZCOPY_THRESHOLD	4

/*
 * SAN_POLICY: which provider carries the socket's connections, read at
 * bind(), listen() and connect(): set it before them (EINVAL once the
 * socket is bound or connecting).  The default
 * follows the sysctl net.san.policy (SAN_POLICY_PREFER_RDMA unless
 * changed).
 *
 * SAN_POLICY_PREFER_RDMA: RDMA when the destination has an RDMA path,
 * else the kernel's TCP (see SAN_FALLBACK_REASON); a listener accepts
 * AF_SAN clients over RDMA and plain TCP clients on the same port.
 * SAN_POLICY_RDMA_ONLY: RDMA or nothing: a destination without an RDMA
 * path fails (ECONNREFUSED, EHOSTUNREACH, ETIMEDOUT, EADDRNOTAVAIL).
 * SAN_POLICY_TCP_ONLY: the kernel's TCP always.
 */
#define SAN_POLICY		5
#define SAN_POLICY_PREFER_RDMA	0
#define SAN_POLICY_RDMA_ONLY	1
#define SAN_POLICY_TCP_ONLY	2

/*
 * SAN_PROVIDER (read only): which provider carries the connection once it
 * is established (SAN_PROVIDER_NONE before).
 */
#define SAN_PROVIDER		6
#define SAN_PROVIDER_NONE	0
#define SAN_PROVIDER_RDMA	1
#define SAN_PROVIDER_TCP	2

/*
 * SAN_FALLBACK_REASON (read only): why a SAN_POLICY_PREFER_RDMA socket's
 * connection went over TCP: no RDMA device serves the route or the
 * address (NO_PATH), the peer refused RDMA: no AF_SAN listener there
 * (REFUSED), or no RDMA answer within net.san.fallback_timeout_ms
 * (TIMEOUT).  SAN_FALLBACK_NONE otherwise.
 */
#define SAN_FALLBACK_REASON	7
#define SAN_FALLBACK_NONE	0
#define SAN_FALLBACK_NO_PATH	1
#define SAN_FALLBACK_REFUSED	2
#define SAN_FALLBACK_TIMEOUT	3

/*
 * SAN_SOCK_ID (read only): the socket's id, unique since the module was
 * loaded: the "id" of the af_san tracepoints and of sock_diag
 * (linux/san_diag.h), so that a trace can be matched to a socket.
 */
#define SAN_SOCK_ID		8

#endif /* _UAPI_LINUX_SAN_H */
