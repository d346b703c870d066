/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The AF_SAN wire protocol over an RC queue pair, as docs/wire.md
 * describes it: a hello in the rdma_cm private data, then messages that are
 * each one SEND into one of the peer's posted receive buffers, under
 * credit-based flow control.  All fields are big endian.
 */
#ifndef _SAN_WIRE_H
#define _SAN_WIRE_H

#include <linux/types.h>

#define SAN_WIRE_MAGIC		0x53414e31	/* "SAN1" */
#define SAN_WIRE_VERSION	1

/**
 * struct san_hello - connection private data, both directions
 * @magic: SAN_WIRE_MAGIC
 * @version: SAN_WIRE_VERSION; a listener rejects any other
 * @flags: SAN_HELLO_* bits; a peer rejects bits it does not know
 * @rbuf_count: receive buffers the sender has posted: the peer's initial
 *	credits
 * @rbuf_size: size of each of them, header included
 */
struct san_hello {
	__be32 magic;
	__be16 version;
	__be16 flags;
	__be32 rbuf_count;
	__be32 rbuf_size;
};

/* The sender takes SRC_AVAIL messages and answers them (zero-copy). */
#define SAN_HELLO_ZCOPY		0x0001
/* The sender takes GROW messages: the peer may add receive buffers. */
#define SAN_HELLO_GROW		0x0002
#define SAN_HELLO_FLAGS		(SAN_HELLO_ZCOPY | SAN_HELLO_GROW)

/* Private data of a reject sent by an AF_SAN listener. */
struct san_reject {
	__be32 magic;
	__be16 version;		/* the version the listener speaks */
	__be16 reason;		/* SAN_REJ_* */
};

enum {
	SAN_REJ_VERSION = 1,	/* unsupported version or bad hello */
	SAN_REJ_BACKLOG = 2,	/* accept queue full */
	SAN_REJ_NOMEM = 3,	/* listener out of resources */
	SAN_REJ_NO_RDMA = 4,	/* its device cannot hold a connection */
};

enum san_msg_type {
	SAN_MSG_DATA = 1,	/* payload of @len bytes, 1 <= len */
	SAN_MSG_CREDIT = 2,	/* credits only, len 0 */
	SAN_MSG_FIN = 3,	/* end of the sender's stream, len 0 */
	SAN_MSG_SRC_AVAIL = 4,	/* struct san_src_avail: stream bytes to read */
	SAN_MSG_RD_DONE = 5,	/* struct san_rd_done: bytes read of it */
	SAN_MSG_GROW = 6,	/* struct san_grow: receive buffers added */
};

/**
 * struct san_grow - payload of SAN_MSG_GROW
 * @count: receive buffers the sender of GROW posted on top of those it
 *	had (1..); each is one more credit for the receiver of GROW, whose
 *	count of the peer's buffers grows by as much (at most SAN_BUF_MAX
 *	in all).  Sent only to a peer whose hello has SAN_HELLO_GROW.
 */
struct san_grow {
	__be32 count;
};

/**
 * struct san_src_avail - payload of SAN_MSG_SRC_AVAIL
 * @addr: remote address of the bytes, in the region of @rkey
 * @rkey: remote key allowing RDMA READ of exactly those bytes
 * @len: how many bytes (1..SAN_ZC_MAX); they come next in the stream
 */
struct san_src_avail {
	__be64 addr;
	__be32 rkey;
	__be32 len;
};

/**
 * struct san_rd_done - payload of SAN_MSG_RD_DONE
 * @len: bytes of the oldest unfinished SRC_AVAIL the receiver read and
 *	consumed; the sender's exposure ends when they add up to its length
 */
struct san_rd_done {
	__be32 len;
};

/* Largest SRC_AVAIL: what one remote key exposes. */
#define SAN_ZC_MAX		(1024 * 1024)

/**
 * struct san_msg_hdr - header of every message
 * @type: enum san_msg_type
 * @flags: none defined, must be zero
 * @credits: receive buffers the sender reposted since its last message:
 *	credits returned to the receiver of this message
 * @len: payload bytes following the header
 */
struct san_msg_hdr {
	u8 type;
	u8 flags;
	__be16 credits;
	__be32 len;
};

#endif /* _SAN_WIRE_H */
