/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AF_SAN socket monitoring over sock_diag, as ss(8) does for TCP: send a
 * SOCK_DIAG_BY_FAMILY request (NLM_F_DUMP) on a NETLINK_SOCK_DIAG socket
 * with a struct san_diag_req whose sdiag_family is the AF_SAN family
 * number in use (SAN_FAMILY_SYSFS); every AF_SAN socket of the caller's
 * network namespace that matches comes back as a struct san_diag_msg
 * followed by the attributes asked for.  IPPROTO_SAN sockets are AF_SAN
 * sockets too.  tools/sanstat is the reference reader.
 */
#ifndef _UAPI_LINUX_SAN_DIAG_H
#define _UAPI_LINUX_SAN_DIAG_H

#include <linux/types.h>

/* The request. */
struct san_diag_req {
	__u8	sdiag_family;	/* the AF_SAN family number */
	__u8	sdiag_protocol;	/* 0 */
	__u16	pad;
	__u32	sdiag_states;	/* 1 << TCP_* state; ~0 for all */
	__u32	sdiag_ino;	/* only this socket inode; 0 for all */
	__u32	sdiag_show;	/* SAN_SHOW_* */
};

#define SAN_SHOW_INFO		0x1	/* SAN_DIAG_INFO */
#define SAN_SHOW_COUNTERS	0x2	/* SAN_DIAG_COUNTERS */

/* One socket. */
struct san_diag_msg {
	__u8	sdiag_family;	/* AF_INET or AF_INET6: of the addresses */
	__u8	sdiag_state;	/* TCP_* state (TCP_ESTABLISHED...) */
	__u8	sdiag_provider;	/* SAN_PROVIDER_* */
	__u8	sdiag_fallback;	/* SAN_FALLBACK_* */
	__u16	sdiag_sport;	/* host byte order */
	__u16	sdiag_dport;
	__u32	sdiag_src[4];	/* network byte order; IPv4 in [0] */
	__u32	sdiag_dst[4];
	__u32	sdiag_ino;	/* socket inode, 0 before accept() */
	__u32	sdiag_uid;
	__u32	sdiag_id;	/* SAN_SOCK_ID, as in the tracepoints */
	__u32	sdiag_rqueue;	/* bytes to read; listener: queued children */
	__u32	sdiag_wqueue;	/* bytes not acknowledged; listener: backlog */
};

/* Attributes after the message. */
enum {
	SAN_DIAG_NONE,
	SAN_DIAG_INFO,		/* struct san_diag_info */
	SAN_DIAG_COUNTERS,	/* struct san_diag_counters */
	__SAN_DIAG_MAX,
};

#define SAN_DIAG_MAX (__SAN_DIAG_MAX - 1)

/* SAN_DIAG_INFO: the connection's settings and resources. */
struct san_diag_info {
	__u8	ipproto_san;	/* created with IPPROTO_SAN */
	__u8	policy;		/* SAN_POLICY_* */
	__u8	cancel_policy;	/* SAN_CANCEL_ABORT or SAN_CANCEL_PRESERVE */
	__u8	aborted;	/* a cancellation reset it: only close() works */
	__u32	rcvbuf;		/* SO_RCVBUF, bytes */
	__u32	sndbuf;		/* SO_SNDBUF, bytes */
	/* RDMA provider; 0 on TCP. */
	__u32	tx_credits;	/* peer receive buffers we may fill */
	__u32	rx_bufs;	/* our receive buffers (posted) */
	__u32	tx_bufs;	/* our send buffers */
	__u32	peer_rx_bufs;	/* the peer's receive buffers */
	__u32	reg_bytes;	/* DMA-mapped buffer memory of the connection */
	__u32	zc_inflight;	/* zero-copy transfers of its calls in flight */
};

/* SAN_DIAG_COUNTERS: what the socket's calls moved since creation. */
struct san_diag_counters {
	__u64	bytes_sent;	/* every byte send() returned, zero-copy too */
	__u64	bytes_received;
	__u64	sends;		/* calls that moved bytes */
	__u64	recvs;
	__u64	zc_sends;	/* zero-copy transfers, and their bytes */
	__u64	zc_recvs;
	__u64	zc_bytes_sent;
	__u64	zc_bytes_received;
	__u32	cancels;	/* calls cancelled by a signal */
	__u32	pad;
};

#endif /* _UAPI_LINUX_SAN_DIAG_H */
