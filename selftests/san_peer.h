/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A foreign AF_SAN peer in user space (librdmacm + libibverbs) that can
 * speak the wire protocol of docs/wire.md well or badly: it connects to an
 * AF_SAN listener as a client and sends whatever bytes it is told to.
 * Every wait is bounded, so a peer never hangs a test.
 */
#ifndef _SAN_PEER_H
#define _SAN_PEER_H

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <rdma/rdma_cma.h>

/* docs/wire.md */
#define W_MAGIC		0x53414e31
#define W_BUF		16384
#define W_DATA		1
#define W_CREDIT	2
#define W_FIN		3
#define W_SRC_AVAIL	4
#define W_RD_DONE	5
#define W_ZCOPY		0x0001

struct w_hello {
	uint32_t magic;
	uint16_t version;
	uint16_t flags;
	uint32_t rbuf_count;
	uint32_t rbuf_size;
} __attribute__((packed));

struct w_hdr {
	uint8_t type, flags;
	uint16_t credits;
	uint32_t len;
} __attribute__((packed));

struct w_reject {
	uint32_t magic;
	uint16_t version;
	uint16_t reason;	/* 1 version/hello, 2 accept queue full, 3 no resources */
} __attribute__((packed));

struct w_src_avail {
	uint64_t addr;
	uint32_t rkey;
	uint32_t len;
} __attribute__((packed));

#define HP_NRBUF	8			/* receive buffers we post */
#define HP_SBUF_LEN	(2 * W_BUF)		/* room for oversized SENDs */
#define HP_DATA_LEN	((1 << 20) + 4096)	/* exposed to READs */

struct hpeer {
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_mr *mr;	/* receive and send buffers, local only */
	struct ibv_mr *data_mr;	/* the data area, access chosen by the test */
	char *buf;		/* HP_NRBUF receive buffers, then the send buffer */
	char *data;
	uint32_t peer_rbufs;	/* the AF_SAN side's rbuf_count */
	uint16_t peer_flags;
	int connected;
	struct ibv_cq *cq, *rcq;	/* a QP of our own, if any, and */
	struct ibv_qp *qp;		/* its CQs (else rdma_cm's) */
};

/* The QP and CQs messages go by: rdma_cm's, or our own. */
#define HP_QP(hp)	((hp)->qp ? (hp)->qp : (hp)->id->qp)
#define HP_SCQ(hp)	((hp)->cq ? (hp)->cq : (hp)->id->send_cq)
#define HP_RCQ(hp)	((hp)->rcq ? (hp)->rcq : (hp)->id->recv_cq)

#define HP_RBUF(hp, i)	((hp)->buf + (i) * W_BUF)
#define HP_SBUF(hp)	((hp)->buf + HP_NRBUF * W_BUF)

static inline long hp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The next rdma_cm event within @ms (acked by the caller), or NULL. */
static inline struct rdma_cm_event *hp_next_event(struct rdma_event_channel *ch,
						  int ms)
{
	struct pollfd p = { .fd = ch->fd, .events = POLLIN };
	struct rdma_cm_event *ev;

	fcntl(ch->fd, F_SETFL, fcntl(ch->fd, F_GETFL) | O_NONBLOCK);
	for (;;) {
		if (!rdma_get_cm_event(ch, &ev))
			return ev;
		if (errno != EAGAIN || poll(&p, 1, ms) <= 0)
			return NULL;
	}
}

/* The next rdma_cm event within @ms, if it is @want (acked by the caller). */
static inline struct rdma_cm_event *hp_event(struct rdma_event_channel *ch,
					     enum rdma_cm_event_type want,
					     int ms)
{
	struct rdma_cm_event *ev = hp_next_event(ch, ms);

	if (!ev) {
		fprintf(stderr, "# peer: no %s within %d ms\n",
			rdma_event_str(want), ms);
		return NULL;
	}
	if (ev->event != want) {
		fprintf(stderr, "# peer: got %s, wanted %s (status %d)\n",
			rdma_event_str(ev->event), rdma_event_str(want),
			ev->status);
		rdma_ack_cm_event(ev);
		return NULL;
	}
	return ev;
}

static inline void hp_hello(struct w_hello *h, uint32_t count, int zcopy)
{
	h->magic = htonl(W_MAGIC);
	h->version = htons(1);
	h->flags = htons(zcopy ? W_ZCOPY : 0);
	h->rbuf_count = htonl(count);
	h->rbuf_size = htonl(W_BUF);
}

/* Resolve address and route of @id towards @in: 0 on success. */
static inline int hp_resolve(struct rdma_event_channel *ch,
			     struct rdma_cm_id *id, struct sockaddr_in *in)
{
	struct rdma_cm_event *ev;

	if (rdma_resolve_addr(id, NULL, (struct sockaddr *)in, 2000))
		return 1;
	ev = hp_event(ch, RDMA_CM_EVENT_ADDR_RESOLVED, 5000);
	if (!ev)
		return 2;
	rdma_ack_cm_event(ev);
	if (rdma_resolve_route(id, 2000))
		return 3;
	ev = hp_event(ch, RDMA_CM_EVENT_ROUTE_RESOLVED, 5000);
	if (!ev)
		return 4;
	rdma_ack_cm_event(ev);
	return 0;
}

/*
 * Connect to the AF_SAN listener at @in, advertising @advertise receive
 * buffers of which @post are really posted (and never reposted), with
 * ZCOPY when @zcopy.  The data area gets a memory region with @data_access
 * (0: none).  Returns 0, or the step that failed.
 */
/* Event channel, id resolved towards @in, buffers, PD and MRs: 0 or a step. */
static inline int hp_prepare(struct hpeer *hp, struct sockaddr_in *in,
			     int data_access)
{
	memset(hp, 0, sizeof(*hp));
	hp->ch = rdma_create_event_channel();
	if (!hp->ch || rdma_create_id(hp->ch, &hp->id, NULL, RDMA_PS_TCP))
		return 1;
	if (hp_resolve(hp->ch, hp->id, in))
		return 2;
	hp->buf = calloc(1, HP_NRBUF * W_BUF + HP_SBUF_LEN);
	hp->data = aligned_alloc(4096, HP_DATA_LEN);
	hp->pd = ibv_alloc_pd(hp->id->verbs);
	if (!hp->buf || !hp->data || !hp->pd)
		return 3;
	memset(hp->data, 0, HP_DATA_LEN);
	hp->mr = ibv_reg_mr(hp->pd, hp->buf, HP_NRBUF * W_BUF + HP_SBUF_LEN,
			    IBV_ACCESS_LOCAL_WRITE);
	if (!hp->mr)
		return 4;
	if (data_access) {
		hp->data_mr = ibv_reg_mr(hp->pd, hp->data, HP_DATA_LEN,
					 data_access);
		if (!hp->data_mr)
			return 5;
	}
	return 0;
}

/* Post @post of our receive buffers (never reposted): 0 on success. */
static inline int hp_post_recvs(struct hpeer *hp, int post)
{
	struct ibv_recv_wr rwr = {}, *rbad;
	struct ibv_sge sge;
	int i;

	for (i = 0; i < post && i < HP_NRBUF; i++) {
		sge.addr = (uintptr_t)HP_RBUF(hp, i);
		sge.length = W_BUF;
		sge.lkey = hp->mr->lkey;
		rwr.wr_id = i;
		rwr.sg_list = &sge;
		rwr.num_sge = 1;
		if (ibv_post_recv(HP_QP(hp), &rwr, &rbad))
			return 1;
	}
	return 0;
}

static inline void hp_take_hello(struct hpeer *hp, struct rdma_cm_event *ev)
{
	const struct w_hello *ph = ev->param.conn.private_data;

	if (ph && ev->param.conn.private_data_len >= sizeof(*ph)) {
		hp->peer_rbufs = ntohl(ph->rbuf_count);
		hp->peer_flags = ntohs(ph->flags);
	}
}

static inline void hp_param(struct rdma_conn_param *param,
			    struct w_hello *h)
{
	memset(param, 0, sizeof(*param));
	param->private_data = h;
	param->private_data_len = sizeof(*h);
	param->initiator_depth = 1;
	param->responder_resources = 1;
	param->retry_count = 6;
	param->rnr_retry_count = 7;
}

static inline int hp_connect(struct hpeer *hp, struct sockaddr_in *in,
			     int advertise, int post, int zcopy,
			     int data_access)
{
	struct ibv_qp_init_attr qa = {};
	struct rdma_conn_param param;
	struct rdma_cm_event *ev;
	struct w_hello h;
	int err = hp_prepare(hp, in, data_access);

	if (err)
		return err;
	qa.cap.max_send_wr = 16;
	qa.cap.max_recv_wr = HP_NRBUF;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	qa.qp_type = IBV_QPT_RC;
	qa.sq_sig_all = 1;
	if (rdma_create_qp(hp->id, hp->pd, &qa))
		return 6;
	if (hp_post_recvs(hp, post))
		return 7;
	hp_hello(&h, advertise, zcopy);
	hp_param(&param, &h);
	if (rdma_connect(hp->id, &param))
		return 8;
	ev = hp_event(hp->ch, RDMA_CM_EVENT_ESTABLISHED, 10000);
	if (!ev)
		return 9;
	hp_take_hello(hp, ev);
	rdma_ack_cm_event(ev);
	hp->connected = 1;
	return 0;
}

static inline void hp_close(struct hpeer *hp)
{
	if (!hp->ch)
		return;
	if (hp->id) {
		if (hp->connected)
			rdma_disconnect(hp->id);
		if (hp->id->qp)
			rdma_destroy_qp(hp->id);
	}
	if (hp->qp)
		ibv_destroy_qp(hp->qp);
	if (hp->cq)
		ibv_destroy_cq(hp->cq);
	if (hp->rcq)
		ibv_destroy_cq(hp->rcq);
	if (hp->data_mr)
		ibv_dereg_mr(hp->data_mr);
	if (hp->mr)
		ibv_dereg_mr(hp->mr);
	if (hp->pd)
		ibv_dealloc_pd(hp->pd);
	if (hp->id)
		rdma_destroy_id(hp->id);
	rdma_destroy_event_channel(hp->ch);
	free(hp->buf);
	free(hp->data);
	memset(hp, 0, sizeof(*hp));
}

/* One completion of @cq within @ms: its status, or -1. */
static inline int hp_poll(struct ibv_cq *cq, struct ibv_wc *wc, int ms)
{
	long end = hp_now_ms() + ms;
	int n;

	do {
		n = ibv_poll_cq(cq, 1, wc);
		if (n)
			return n < 0 ? -1 : (int)wc->status;
		usleep(500);
	} while (hp_now_ms() < end);
	return -1;
}

/* SEND @len raw bytes of the send buffer: the completion status or -1. */
static inline int hp_send_raw(struct hpeer *hp, uint32_t len)
{
	struct ibv_send_wr wr = {}, *bad;
	struct ibv_sge sge = {
		.addr = (uintptr_t)HP_SBUF(hp), .length = len,
		.lkey = hp->mr->lkey,
	};
	struct ibv_wc wc;

	wr.opcode = IBV_WR_SEND;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	if (ibv_post_send(HP_QP(hp), &wr, &bad))
		return -1;
	return hp_poll(HP_SCQ(hp), &wc, 10000);
}

/*
 * SEND a message: header fields as given (@lenfield is what the header
 * says, @paylen how many payload bytes really go).
 */
static inline int hp_send_msg(struct hpeer *hp, int type, int flags,
			      uint16_t credits, uint32_t lenfield,
			      const void *payload, uint32_t paylen)
{
	struct w_hdr *hdr = (struct w_hdr *)HP_SBUF(hp);

	if (paylen > HP_SBUF_LEN - sizeof(*hdr))
		return -1;
	hdr->type = type;
	hdr->flags = flags;
	hdr->credits = htons(credits);
	hdr->len = htonl(lenfield);
	if (payload)
		memcpy(hdr + 1, payload, paylen);
	return hp_send_raw(hp, sizeof(*hdr) + paylen);
}

/* A well-formed message. */
static inline int hp_send(struct hpeer *hp, int type, const void *payload,
			  uint32_t len)
{
	return hp_send_msg(hp, type, 0, 0, len, payload, len);
}

/* A SRC_AVAIL of @len bytes at @addr under @rkey. */
static inline int hp_src_avail(struct hpeer *hp, uint64_t addr, uint32_t rkey,
			       uint32_t len)
{
	struct w_src_avail sa = {
		.addr = htobe64(addr), .rkey = htonl(rkey), .len = htonl(len),
	};

	return hp_send(hp, W_SRC_AVAIL, &sa, sizeof(sa));
}

/*
 * The next message the AF_SAN side sent us, within @ms: its header (in
 * our receive buffer, never reposted), or NULL.
 */
static inline const struct w_hdr *hp_recv(struct hpeer *hp, int ms,
					  uint32_t *byte_len)
{
	struct ibv_wc wc;

	if (hp_poll(HP_RCQ(hp), &wc, ms) != IBV_WC_SUCCESS)
		return NULL;
	if (byte_len)
		*byte_len = wc.byte_len;
	return (const struct w_hdr *)HP_RBUF(hp, wc.wr_id);
}

#endif /* _SAN_PEER_H */
