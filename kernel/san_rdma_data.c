// SPDX-License-Identifier: GPL-2.0
/*
 * The RDMA provider's data path: registered kernel buffers, SEND/RECV
 * messages and credit-based flow control (docs/wire.md).
 *
 * Every message is one SEND into one of the peer's posted receive buffers
 * and uses one credit.  A receive buffer is reposted once the reader has
 * consumed it, and the credit goes back to the peer in the header of our
 * next message, or in a CREDIT message once half the buffers wait to be
 * returned.  DATA needs two credits and two free send buffers, so that
 * the last of each is always there for a CREDIT or FIN: neither side can
 * end up holding credits the other needs with no way to return them.
 *
 * Completion handlers run in softirq context (IB_POLL_SOFTIRQ): they update
 * the state under conn->lock, post control messages, and wake the socket.
 * They never sleep; anything that may is left to a work item.
 */
#include <linux/dma-mapping.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "san_rdma.h"

static void san_rdma_recv_done(struct ib_cq *cq, struct ib_wc *wc);
static void san_rdma_send_done(struct ib_cq *cq, struct ib_wc *wc);

/* One DMA-mapped kernel buffer of SAN_BUF_SIZE bytes; NULL on failure. */
static void *san_rdma_buf_get(struct ib_device *dev,
			      enum dma_data_direction dir, u64 *dma)
{
	void *data = kmalloc(SAN_BUF_SIZE, GFP_KERNEL);

	if (!data)
		return NULL;
	*dma = ib_dma_map_single(dev, data, SAN_BUF_SIZE, dir);
	if (ib_dma_mapping_error(dev, *dma)) {
		kfree(data);
		return NULL;
	}
	atomic_inc(&san_stats.bufs);
	atomic_long_add(SAN_BUF_SIZE, &san_stats.buf_bytes);
	return data;
}

static int san_rdma_rbuf_init(struct san_rconn *conn, struct ib_device *dev,
			      struct san_rbuf *rb)
{
	rb->conn = conn;
	rb->cqe.done = san_rdma_recv_done;
	INIT_LIST_HEAD(&rb->node);
	rb->data = san_rdma_buf_get(dev, DMA_FROM_DEVICE, &rb->dma);
	return rb->data ? 0 : -ENOMEM;
}

static int san_rdma_tbuf_init(struct san_rconn *conn, struct ib_device *dev,
			      struct san_tbuf *tb)
{
	tb->conn = conn;
	tb->cqe.done = san_rdma_send_done;
	INIT_LIST_HEAD(&tb->node);
	tb->data = san_rdma_buf_get(dev, DMA_TO_DEVICE, &tb->dma);
	return tb->data ? 0 : -ENOMEM;
}

/*
 * The arrays have room for the most buffers the connection may grow to;
 * it starts with @rbuf_count and @tbuf_count of them.
 */
int san_rdma_buffers_alloc(struct san_rconn *conn)
{
	struct ib_device *dev = conn->id->device;
	u32 i;

	conn->rbufs = kcalloc(conn->rbuf_max, sizeof(*conn->rbufs),
			      GFP_KERNEL);
	conn->tbufs = kcalloc(conn->tbuf_max, sizeof(*conn->tbufs),
			      GFP_KERNEL);
	if (!conn->rbufs || !conn->tbufs)
		return -ENOMEM;

	for (i = 0; i < conn->rbuf_count; i++)
		if (san_rdma_rbuf_init(conn, dev, &conn->rbufs[i]))
			return -ENOMEM;
	for (i = 0; i < conn->tbuf_count; i++) {
		struct san_tbuf *tb = &conn->tbufs[i];

		if (san_rdma_tbuf_init(conn, dev, tb))
			return -ENOMEM;
		list_add_tail(&tb->node, &conn->tx_free);
		conn->tx_free_count++;
	}
	return 0;
}

/**
 * san_rdma_rx_grow - add receive buffers to a connection in use
 * @conn: the connection; the peer used up its credits (@rx_grow)
 *
 * Doubles the receive buffers, up to @rbuf_max, posts the new ones and
 * announces them to the peer in a GROW message: one more credit each.
 * A connection that moves data grows to what SO_RCVBUF allows; an idle
 * one keeps SAN_BUF_INIT.  Buffers that cannot be posted (a reset under
 * way) stay with the connection and go with it.
 *
 * Context: process context, the socket lock held (the switch's recvmsg).
 */
static void san_rdma_rx_grow(struct san_rconn *conn)
{
	struct ib_device *dev;
	u32 from, to, i, posted = 0;
	bool ok;

	if (!san_rdma_get(conn))
		return;
	spin_lock_bh(&conn->lock);
	from = conn->rbuf_count;
	to = min_t(u32, from * 2, conn->rbuf_max);
	ok = conn->rx_grow && !conn->broken && conn->qp && conn->peer_grow;
	conn->rx_grow = false;
	spin_unlock_bh(&conn->lock);
	if (!ok || to <= from)
		goto out;
	/* The device stays while we hold it (san_rdma_get()). */
	dev = conn->id->device;
	for (i = from; i < to; i++)
		if (san_rdma_rbuf_init(conn, dev, &conn->rbufs[i]))
			break;
	if (i == from) {
		/* No memory: stay as we are, for good. */
		spin_lock_bh(&conn->lock);
		conn->rbuf_max = conn->rbuf_count;
		spin_unlock_bh(&conn->lock);
		goto out;
	}
	to = i;
	spin_lock_bh(&conn->lock);
	conn->rbuf_count = to;
	for (i = from; i < to && !conn->broken && conn->qp; i++) {
		if (san_rdma_post_recv(conn, &conn->rbufs[i])) {
			san_rdma_fail_locked(conn, ECONNRESET);
			break;
		}
		posted++;
	}
	conn->grow_pending += posted;
	san_rdma_tx_control(conn);
	spin_unlock_bh(&conn->lock);
out:
	san_rdma_put(conn);
}

/**
 * san_rdma_tx_grow - add send buffers when credits wait for them
 * @conn: the connection
 *
 * Doubles the send buffers, up to @tbuf_max, when the peer has given
 * credits that no free buffer can use.  On failure to allocate, stops
 * growing for good (the connection works with what it has).
 *
 * Context: process context, the socket lock held (a sender).
 */
void san_rdma_tx_grow(struct san_rconn *conn)
{
	struct ib_device *dev;
	u32 from, to, i;
	bool ok;

	if (READ_ONCE(conn->tx_free_count) >= 2 ||
	    READ_ONCE(conn->credits) < 2 ||
	    READ_ONCE(conn->tbuf_count) >= READ_ONCE(conn->tbuf_max))
		return;
	if (!san_rdma_get(conn))
		return;
	spin_lock_bh(&conn->lock);
	from = conn->tbuf_count;
	to = min_t(u32, from * 2, conn->tbuf_max);
	ok = !conn->broken && conn->qp;
	spin_unlock_bh(&conn->lock);
	if (!ok || to <= from)
		goto out;
	dev = conn->id->device;
	for (i = from; i < to; i++)
		if (san_rdma_tbuf_init(conn, dev, &conn->tbufs[i]))
			break;
	spin_lock_bh(&conn->lock);
	if (i == from)
		conn->tbuf_max = conn->tbuf_count;
	for (to = i, i = from; i < to; i++) {
		list_add_tail(&conn->tbufs[i].node, &conn->tx_free);
		conn->tx_free_count++;
	}
	conn->tbuf_count = to;
	spin_unlock_bh(&conn->lock);
out:
	san_rdma_put(conn);
}

/* Unmap every buffer; the memory stays.  Only once the QP is drained. */
void san_rdma_buffers_unmap(struct san_rconn *conn)
{
	struct ib_device *dev = conn->id ? conn->id->device : NULL;
	u32 i;

	if (conn->bufs_unmapped || !dev)
		return;
	for (i = 0; conn->rbufs && i < conn->rbuf_count; i++)
		if (conn->rbufs[i].data)
			ib_dma_unmap_single(dev, conn->rbufs[i].dma,
					    SAN_BUF_SIZE, DMA_FROM_DEVICE);
	for (i = 0; conn->tbufs && i < conn->tbuf_count; i++)
		if (conn->tbufs[i].data)
			ib_dma_unmap_single(dev, conn->tbufs[i].dma,
					    SAN_BUF_SIZE, DMA_TO_DEVICE);
	conn->bufs_unmapped = true;
}

static void san_rdma_buf_free(void *data)
{
	if (!data)
		return;
	kfree(data);
	atomic_dec(&san_stats.bufs);
	atomic_long_sub(SAN_BUF_SIZE, &san_stats.buf_bytes);
}

/* Only once the QP is drained or was never used. */
void san_rdma_buffers_free(struct san_rconn *conn)
{
	u32 i;

	san_rdma_buffers_unmap(conn);
	if (conn->rbufs) {
		for (i = 0; i < conn->rbuf_count; i++)
			san_rdma_buf_free(conn->rbufs[i].data);
		kfree(conn->rbufs);
		conn->rbufs = NULL;
	}
	if (conn->tbufs) {
		for (i = 0; i < conn->tbuf_count; i++)
			san_rdma_buf_free(conn->tbufs[i].data);
		kfree(conn->tbufs);
		conn->tbufs = NULL;
	}
	INIT_LIST_HEAD(&conn->rx_filled);
	INIT_LIST_HEAD(&conn->tx_free);
	conn->tx_cork = NULL;
}

/**
 * san_rdma_rx_discard - drop what was received and not read
 * @conn: the connection, its QP gone
 *
 * Context: process context; takes conn->lock.
 */
void san_rdma_rx_discard(struct san_rconn *conn)
{
	struct san_rbuf *rb, *tmp;

	spin_lock_bh(&conn->lock);
	list_for_each_entry_safe(rb, tmp, &conn->rx_filled, node)
		list_del_init(&rb->node);
	conn->rx_bytes = 0;
	conn->tx_bytes = 0;
	/* Corked bytes go with the reset; the buffer goes with the rest. */
	conn->tx_cork = NULL;
	spin_unlock_bh(&conn->lock);
}

int san_rdma_post_recv(struct san_rconn *conn, struct san_rbuf *rb)
{
	struct ib_sge sge = {
		.addr = rb->dma,
		.length = SAN_BUF_SIZE,
		.lkey = conn->pd->local_dma_lkey,
	};
	struct ib_recv_wr wr = {
		.wr_cqe = &rb->cqe,
		.sg_list = &sge,
		.num_sge = 1,
	};

	rb->len = 0;
	rb->off = 0;
	rb->zc = false;
	/* The CPU read it: give it back to the device before reuse. */
	ib_dma_sync_single_for_device(conn->id->device, rb->dma, SAN_BUF_SIZE,
				      DMA_FROM_DEVICE);
	return ib_post_recv(conn->id->qp, &wr, NULL);
}

/**
 * san_rdma_rx_consumed - the reader took @n bytes of the buffer at the head
 * @conn: the connection
 * @rb: the buffer, first of &san_rconn.rx_filled
 * @n: bytes taken
 *
 * A buffer read to its end leaves the queue and is posted again; its credit
 * waits in @to_return for the next message.
 *
 * Context: conn->lock held.
 * Return: whether the buffer was done with.
 */
bool san_rdma_rx_consumed(struct san_rconn *conn, struct san_rbuf *rb, u32 n)
{
	lockdep_assert_held(&conn->lock);
	/* The device went away meanwhile and took the stream with it. */
	if (list_empty(&rb->node))
		return false;
	rb->off += n;
	conn->rx_bytes -= n;
	if (rb->off < rb->len)
		return false;
	list_del_init(&rb->node);
	if (!conn->broken && conn->qp && !san_rdma_post_recv(conn, rb))
		conn->to_return++;
	return true;
}

int san_rdma_post_all_recvs(struct san_rconn *conn)
{
	u32 i;
	int err;

	for (i = 0; i < conn->rbuf_count; i++) {
		err = san_rdma_post_recv(conn, &conn->rbufs[i]);
		if (err)
			return err;
	}
	return 0;
}

/*
 * Take a send buffer and a credit for a message of @type, with the credits
 * to return in its header.  DATA, SRC_AVAIL, GROW and FIN leave the last
 * credit and the last buffer to RD_DONE and CREDIT, the messages that
 * unblock the peer: a FIN that took the last credit would keep a RD_DONE
 * from ever going out while the peer's zero-copy send waits for it.
 */
struct san_tbuf *san_rdma_tx_get(struct san_rconn *conn, u8 type)
{
	u32 need = type == SAN_MSG_RD_DONE || type == SAN_MSG_CREDIT ? 1 : 2;
	struct san_msg_hdr *hdr;
	struct san_tbuf *tb;

	lockdep_assert_held(&conn->lock);
	if (conn->broken || !conn->qp)
		return NULL;
	if (conn->credits < need) {
		/* The sender waits for the peer: probe it meanwhile. */
		if (!conn->dying)
			queue_delayed_work(san_rdma_wq, &conn->ka_work,
					   SAN_PERSIST_SECS * HZ);
		return NULL;
	}
	if (conn->tx_free_count < need)
		return NULL;
	tb = list_first_entry(&conn->tx_free, struct san_tbuf, node);
	list_del_init(&tb->node);
	conn->tx_free_count--;
	conn->credits--;
	tb->type = type;
	tb->len = 0;
	hdr = tb->data;
	hdr->type = type;
	hdr->flags = 0;
	hdr->credits = cpu_to_be16(conn->to_return);
	hdr->len = 0;
	conn->to_return = 0;
	return tb;
}

/* Undo san_rdma_tx_get() for a message that was never posted. */
void san_rdma_tx_put_back(struct san_rconn *conn, struct san_tbuf *tb)
{
	struct san_msg_hdr *hdr = tb->data;

	lockdep_assert_held(&conn->lock);
	conn->to_return += be16_to_cpu(hdr->credits);
	conn->credits++;
	list_add(&tb->node, &conn->tx_free);
	conn->tx_free_count++;
}

/*
 * Post the message in @tb, after the work requests from @first (NULL for
 * none) whose last one links to nothing yet.
 */
int san_rdma_post_send_chain(struct san_rconn *conn, struct san_tbuf *tb,
			     struct ib_send_wr *first)
{
	struct ib_device *dev = conn->id->device;
	struct san_msg_hdr *hdr = tb->data;
	struct ib_sge sge = {
		.addr = tb->dma,
		.length = sizeof(*hdr) + tb->len,
		.lkey = conn->pd->local_dma_lkey,
	};
	struct ib_send_wr wr = {
		.wr_cqe = &tb->cqe,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = IB_WR_SEND,
		.send_flags = IB_SEND_SIGNALED,
	};

	struct ib_send_wr *last;

	hdr->len = cpu_to_be32(tb->len);
	ib_dma_sync_single_for_device(dev, tb->dma, sge.length, DMA_TO_DEVICE);
	if (!first)
		return ib_post_send(conn->qp, &wr, NULL);
	for (last = first; last->next; last = last->next)
		;
	last->next = &wr;
	return ib_post_send(conn->qp, first, NULL);
}

static int san_rdma_post_send(struct san_rconn *conn, struct san_tbuf *tb)
{
	return san_rdma_post_send_chain(conn, tb, NULL);
}

/*
 * Post the DATA message in @tb, with the credits gathered since it was
 * taken.  On failure the connection is reset and @tb given back.
 * Context: conn->lock held.
 */
static int san_rdma_tx_post_data(struct san_rconn *conn, struct san_tbuf *tb)
{
	struct san_msg_hdr *hdr = tb->data;
	int err;

	lockdep_assert_held(&conn->lock);
	hdr->credits = cpu_to_be16(be16_to_cpu(hdr->credits) +
				   conn->to_return);
	conn->to_return = 0;
	err = san_rdma_post_send(conn, tb);
	if (err) {
		conn->tx_bytes -= tb->len;
		san_rdma_tx_put_back(conn, tb);
		san_rdma_fail_locked(conn, ECONNRESET);
		return err;
	}
	conn->tx_data_inflight++;
	return 0;
}

/**
 * san_rdma_tx_uncork - post the corked DATA message, if any
 * @conn: the connection
 *
 * Context: conn->lock held.
 */
void san_rdma_tx_uncork(struct san_rconn *conn)
{
	struct san_tbuf *tb = conn->tx_cork;

	lockdep_assert_held(&conn->lock);
	if (!tb || conn->broken || !conn->qp)
		return;
	conn->tx_cork = NULL;
	san_rdma_tx_post_data(conn, tb);
}

/*
 * Post a control message whose payload is one big-endian u32 (RD_DONE's
 * len, GROW's count).  False when it cannot go now (no credit or buffer)
 * or failed (the connection is then reset).  Context: conn->lock held.
 */
static bool san_rdma_tx_be32(struct san_rconn *conn, u8 type, u32 val)
{
	struct san_tbuf *tb = san_rdma_tx_get(conn, type);
	__be32 *p;

	BUILD_BUG_ON(sizeof(struct san_rd_done) != sizeof(*p) ||
		     sizeof(struct san_grow) != sizeof(*p));
	if (!tb)
		return false;
	p = tb->data + sizeof(struct san_msg_hdr);
	*p = cpu_to_be32(val);
	tb->len = sizeof(*p);
	conn->tx_bytes += tb->len;
	if (san_rdma_post_send(conn, tb)) {
		conn->tx_bytes -= tb->len;
		san_rdma_tx_put_back(conn, tb);
		san_rdma_fail_locked(conn, ECONNRESET);
		return false;
	}
	return true;
}

/**
 * san_rdma_tx_control - post a control message if one is due and allowed
 * @conn: the connection
 *
 * Context: any, under conn->lock.
 */
void san_rdma_tx_control(struct san_rconn *conn)
{
	struct san_tbuf *tb;

	lockdep_assert_held(&conn->lock);
	/*
	 * Corked data goes once nothing is in flight (unless TCP_CORK holds
	 * it), and before a FIN.
	 */
	if (conn->tx_cork &&
	    ((!conn->tx_data_inflight && !READ_ONCE(conn->ssk->cork)) ||
	     conn->fin_pending))
		san_rdma_tx_uncork(conn);
	if (conn->rd_done) {
		if (!san_rdma_tx_be32(conn, SAN_MSG_RD_DONE, conn->rd_done))
			return;
		conn->rd_done = 0;
	}
	/*
	 * GROW gives the peer credits, not us: like DATA it leaves our
	 * last credit to RD_DONE and CREDIT, and when it cannot go the
	 * other messages still may.
	 */
	if (conn->grow_pending &&
	    san_rdma_tx_be32(conn, SAN_MSG_GROW, conn->grow_pending))
		conn->grow_pending = 0;
	if (conn->broken)
		return;
	if (conn->fin_pending) {
		tb = san_rdma_tx_get(conn, SAN_MSG_FIN);
		if (tb) {
			if (san_rdma_post_send(conn, tb)) {
				san_rdma_tx_put_back(conn, tb);
				san_rdma_fail_locked(conn, ECONNRESET);
				return;
			}
			conn->fin_pending = false;
			conn->fin_sent = true;
			return;
		}
		/* The FIN waits for credits: returning ours must not. */
	}
	/*
	 * Return credits without data once half the buffers the peer knows
	 * of wait: it is then never left waiting for credits we hold.  Not
	 * half of rbuf_count: buffers added and not yet announced (the GROW
	 * waits for two credits) would raise the bar above what a peer down
	 * to its last credit can ever make us hold.
	 */
	if (conn->to_return &&
	    (conn->to_return >= (conn->rbuf_count - conn->grow_pending) / 2 ||
	     conn->credit_now)) {
		tb = san_rdma_tx_get(conn, SAN_MSG_CREDIT);
		if (!tb)
			return;
		if (san_rdma_post_send(conn, tb)) {
			san_rdma_tx_put_back(conn, tb);
			san_rdma_fail_locked(conn, ECONNRESET);
		} else {
			conn->credit_now = false;
		}
	}
}

/**
 * san_rdma_tx_kick - send what control messages are due
 * @conn: the connection
 *
 * Context: any; takes conn->lock.
 */
void san_rdma_tx_kick(struct san_rconn *conn)
{
	spin_lock_bh(&conn->lock);
	san_rdma_tx_control(conn);
	spin_unlock_bh(&conn->lock);
}

/**
 * san_rdma_fail - end a connection on an error: the one recovery path
 * @conn: the connection
 * @err: positive errno the socket reports (ECONNRESET for a peer that
 *	broke the protocol or a transport error)
 *
 * Every error of a connection ends here: a failed completion (signaled
 * or not), a message that breaks the protocol, a post that failed, an
 * rdma_cm error.  Nothing new is posted from now on (@broken); abort_work
 * moves the QP to error (the peer sees a disconnect without FIN: a
 * reset), drains it, and only then flushes the zero-copy transfers, whose
 * buffers the device can no longer touch.
 *
 * Context: any.
 */
void san_rdma_fail(struct san_rconn *conn, int err)
{
	bool queue;

	san_conn_error(conn->ssk, err);
	spin_lock_bh(&conn->lock);
	conn->broken = true;
	/* Teardown drains and frees by itself; it cancelled abort_work. */
	queue = !conn->dying;
	if (queue)
		queue_work(san_rdma_wq, &conn->abort_work);
	spin_unlock_bh(&conn->lock);
}

/**
 * san_rdma_flush_unexpected - a flush completion nobody asked for
 * @conn: the connection
 *
 * An established connection whose QP flushes while no reset is under way
 * (@broken unset) went to error by itself (e.g. as a responder, or rxe's
 * loopback losing its route): a reset, san_rdma_flush_err() says.  Before
 * ESTABLISHED, rdma_cm moves the QP to error itself (a REJ): its event
 * tells the outcome.
 *
 * Context: any.
 */
bool san_rdma_flush_unexpected(struct san_rconn *conn)
{
	return !READ_ONCE(conn->broken) &&
	       READ_ONCE(conn->ssk->sk.sk_state) == TCP_ESTABLISHED;
}

/*
 * What such a flush reports: after the peer's FIN it is the peer's close
 * reaching the QP before rdma_cm's DISCONNECTED (iWARP: the TCP connection
 * under it ended), a graceful end; before, a reset.
 */
static int san_rdma_flush_err(struct san_rconn *conn)
{
	return READ_ONCE(conn->fin_rcvd) ? 0 : ECONNRESET;
}

/*
 * A completion of ours that failed: a peer that stopped answering is
 * ETIMEDOUT, as TCP; a flush means what san_rdma_flush_err() says, if
 * nobody asked for it; anything else is a reset.
 */
static void san_rdma_wc_failed(struct san_rconn *conn, enum ib_wc_status st)
{
	if (st == IB_WC_RETRY_EXC_ERR)
		san_rdma_fail(conn, ETIMEDOUT);
	else if (st != IB_WC_WR_FLUSH_ERR)
		san_rdma_fail(conn, ECONNRESET);
	else if (san_rdma_flush_unexpected(conn))
		san_rdma_fail(conn, san_rdma_flush_err(conn));
}

/**
 * san_rdma_fail_locked - san_rdma_fail() under conn->lock
 * @conn: the connection
 * @err: positive errno the socket reports, from abort_work
 *
 * Context: any, conn->lock held.
 */
void san_rdma_fail_locked(struct san_rconn *conn, int err)
{
	lockdep_assert_held(&conn->lock);
	if (!conn->broken && !conn->fail_err)
		conn->fail_err = err;
	conn->broken = true;
	if (!conn->dying)
		queue_work(san_rdma_wq, &conn->abort_work);
}

/**
 * san_rdma_ka_done - completion of a keepalive probe
 * @cq: the completion queue
 * @wc: the completion
 *
 * The probe is a zero-length RDMA WRITE: the peer's transport must
 * acknowledge it, it uses no credit and no receive buffer of the peer.
 * A dead peer makes it fail once the RC retries are exhausted.
 */
void san_rdma_ka_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct san_rconn *conn = container_of(wc->wr_cqe, struct san_rconn,
					      ka_cqe);

	spin_lock_bh(&conn->lock);
	conn->ka_inflight = false;
	spin_unlock_bh(&conn->lock);
	if (wc->status != IB_WC_SUCCESS)
		san_rdma_wc_failed(conn, wc->status);
}

/**
 * san_rdma_ka_arm - (re)start the keepalive timer of a connection
 * @conn: the connection
 * @delay: jiffies until the next look
 *
 * Context: any; takes conn->lock.
 */
void san_rdma_ka_arm(struct san_rconn *conn, unsigned long delay)
{
	spin_lock_bh(&conn->lock);
	if (!conn->dying)
		mod_delayed_work(san_rdma_wq, &conn->ka_work, delay);
	spin_unlock_bh(&conn->lock);
}

static bool san_rdma_hdr_valid(struct san_rconn *conn,
			       const struct san_msg_hdr *hdr, u32 byte_len)
{
	u32 len = be32_to_cpu(hdr->len);

	if (byte_len < sizeof(*hdr) || hdr->flags ||
	    len != byte_len - sizeof(*hdr))
		return false;
	/*
	 * The peer cannot return more credits than it has buffers.  Its
	 * hello may be checked after its first message (rdma_cm and the CQ
	 * report independently), but until then we sent nothing: it has no
	 * credit of ours to return.
	 */
	if (!conn->peer_rbuf_count) {
		if (hdr->credits || hdr->type == SAN_MSG_RD_DONE)
			return false;
	} else if (conn->credits + be16_to_cpu(hdr->credits) >
		   conn->peer_rbuf_count) {
		return false;
	}
	switch (hdr->type) {
	case SAN_MSG_DATA:
		return len > 0 && !conn->fin_rcvd;
	case SAN_MSG_CREDIT:
		return len == 0;
	case SAN_MSG_FIN:
		return len == 0 && !conn->fin_rcvd;
	case SAN_MSG_SRC_AVAIL:
		/* Only to an end that offered ZCOPY. */
		return len == sizeof(struct san_src_avail) && !conn->fin_rcvd &&
		       san_rdma_takes_zc(conn);
	case SAN_MSG_RD_DONE:
		return len == sizeof(struct san_rd_done);
	case SAN_MSG_GROW: {
		const struct san_grow *g = (const void *)(hdr + 1);
		u32 count;

		if (len != sizeof(*g) || !conn->peer_rbuf_count)
			return false;
		count = be32_to_cpu(g->count);
		return count && count <= SAN_BUF_MAX - conn->peer_rbuf_count;
	}
	default:
		return false;
	}
}

/*
 * A DATA message arrived: if it left the peer no credit it may spend on
 * data (it keeps its last one), the window is what limits the stream, and
 * the next reader grows it (san_rdma_rx_grow()).  Context: conn->lock.
 */
static void san_rdma_rx_check_grow(struct san_rconn *conn)
{
	struct san_rbuf *rb;
	u32 filled = 0;

	if (!conn->peer_grow || conn->rx_grow ||
	    conn->rbuf_count >= conn->rbuf_max)
		return;
	list_for_each_entry(rb, &conn->rx_filled, node)
		filled++;
	/* Posted and empty, less those whose credit we still hold. */
	if (conn->rbuf_count - filled <= conn->to_return + 1)
		conn->rx_grow = true;
}

static void san_rdma_recv_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct san_rbuf *rb = container_of(wc->wr_cqe, struct san_rbuf, cqe);
	struct san_rconn *conn = rb->conn;
	struct san_msg_hdr *hdr = rb->data;
	bool data = false, fin = false;

	if (wc->status != IB_WC_SUCCESS) {
		/* On a flush only wr_cqe and status are valid. */
		san_rdma_wc_failed(conn, wc->status);
		return;
	}
	ib_dma_sync_single_for_cpu(conn->id->device, rb->dma, wc->byte_len,
				   DMA_FROM_DEVICE);

	WRITE_ONCE(conn->last_rx, jiffies);
	spin_lock_bh(&conn->lock);
	/* After a violation, nothing more of the peer's enters the stream. */
	if (conn->rx_dead) {
		spin_unlock_bh(&conn->lock);
		return;
	}
	if (!san_rdma_hdr_valid(conn, hdr, wc->byte_len))
		goto violation;
	conn->credits += be16_to_cpu(hdr->credits);
	switch (hdr->type) {
	case SAN_MSG_DATA:
		rb->len = be32_to_cpu(hdr->len);
		rb->off = 0;
		list_add_tail(&rb->node, &conn->rx_filled);
		conn->rx_bytes += rb->len;
		data = true;
		san_rdma_rx_check_grow(conn);
		break;
	case SAN_MSG_GROW: {
		u32 count = be32_to_cpu(((struct san_grow *)(hdr + 1))->count);

		conn->peer_rbuf_count += count;
		conn->credits += count;
		if (!conn->broken && !san_rdma_post_recv(conn, rb))
			conn->to_return++;
		break;
	}
	case SAN_MSG_SRC_AVAIL:
		if (!san_rdma_zc_src_avail(conn, rb))
			goto violation;
		data = true;
		break;
	case SAN_MSG_RD_DONE:
		if (!san_rdma_zc_rd_done(conn, hdr + 1))
			goto violation;
		conn->credit_pushed = false;
		/* The buffer goes straight back, its credit at once. */
		if (!conn->broken && !san_rdma_post_recv(conn, rb))
			conn->to_return++;
		conn->credit_now = true;
		break;
	case SAN_MSG_CREDIT:
		/*
		 * The peer may have spent its last credit on this CREDIT
		 * and need one for the RD_DONE our exposure waits for:
		 * return ours at once (once per RD_DONE, so that two
		 * waiting sides never bounce CREDITs for ever).
		 */
		if (conn->zc_tx && !conn->credit_pushed) {
			conn->credit_now = true;
			conn->credit_pushed = true;
		}
		if (!conn->broken && !san_rdma_post_recv(conn, rb))
			conn->to_return++;
		break;
	case SAN_MSG_FIN:
		conn->fin_rcvd = true;
		fin = true;
		/* No payload: the buffer goes straight back. */
		if (!conn->broken && !san_rdma_post_recv(conn, rb))
			conn->to_return++;
		break;
	}
	san_rdma_tx_control(conn);
	spin_unlock_bh(&conn->lock);

	if (fin)
		san_peer_fin(conn->ssk);
	if (data)
		san_wake_rx(conn->ssk);
	san_wake_tx(conn->ssk);
	return;

violation:
	conn->rx_dead = true;
	spin_unlock_bh(&conn->lock);
	atomic_long_inc(&san_stats.proto_errors);
	pr_warn_ratelimited("af_san: peer broke the protocol (type %u len %u), resetting\n",
			    hdr->type, wc->byte_len);
	san_rdma_fail(conn, ECONNRESET);
}

static void san_rdma_send_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct san_tbuf *tb = container_of(wc->wr_cqe, struct san_tbuf, cqe);
	struct san_rconn *conn = tb->conn;
	bool fin_acked = false;

	spin_lock_bh(&conn->lock);
	list_add_tail(&tb->node, &conn->tx_free);
	conn->tx_free_count++;
	conn->tx_bytes -= tb->len;
	if (tb->type == SAN_MSG_DATA)
		conn->tx_data_inflight--;
	if (wc->status == IB_WC_SUCCESS && tb->type == SAN_MSG_FIN) {
		conn->fin_acked = true;
		fin_acked = true;
	}
	if (wc->status == IB_WC_SUCCESS)
		san_rdma_tx_control(conn);
	spin_unlock_bh(&conn->lock);

	if (wc->status != IB_WC_SUCCESS) {
		san_rdma_wc_failed(conn, wc->status);
		return;
	}
	if (fin_acked && READ_ONCE(conn->owner_gone))
		san_rdma_queue_teardown(conn);
	san_wake_tx(conn->ssk);
}

/*
 * Give back a cork that already holds bytes (a later copy into it
 * failed): it waits as before, or goes if nothing is left in flight.
 */
static void san_rdma_tx_recork(struct san_rconn *conn, struct san_tbuf *tb)
{
	lockdep_assert_held(&conn->lock);
	conn->tx_cork = tb;
	if (!conn->tx_data_inflight && !READ_ONCE(conn->ssk->cork))
		san_rdma_tx_uncork(conn);
}

/*
 * Copy the start of @msg into a DATA message and post it.  Autocorking,
 * as SMC-R's: while DATA is in flight a message that is not full waits
 * in @tx_cork, and later writes join it; the completion of the last DATA
 * in flight posts it.  A lone write goes out at once, so a ping-pong pays
 * nothing, and small writes in a stream fill whole buffers.  TCP_NODELAY
 * turns autocorking off; TCP_CORK holds a buffer that is not full until
 * it is cleared (or a FIN comes), whatever is in flight.
 */
static int san_rdma_do_sendmsg(struct san_rconn *conn,
			       struct msghdr *msg, size_t len)
{
	struct san_tbuf *tb;
	size_t n, off;
	int err;

	spin_lock_bh(&conn->lock);
	/* Senders are serialized by the socket lock: one fills the cork. */
	tb = conn->tx_cork;
	conn->tx_cork = NULL;
	if (!tb)
		tb = san_rdma_tx_get(conn, SAN_MSG_DATA);
	spin_unlock_bh(&conn->lock);
	if (!tb)
		return -EAGAIN;

	off = tb->len;
	n = min_t(size_t, len, SAN_PAYLOAD_MAX - off);
	if (!copy_from_iter_full((char *)tb->data +
				 sizeof(struct san_msg_hdr) + off,
				 n, &msg->msg_iter)) {
		spin_lock_bh(&conn->lock);
		if (off)
			san_rdma_tx_recork(conn, tb);
		else
			san_rdma_tx_put_back(conn, tb);
		spin_unlock_bh(&conn->lock);
		return -EFAULT;
	}
	spin_lock_bh(&conn->lock);
	if (conn->broken) {
		/*
		 * A reset or a graceful end is being processed: its outcome
		 * reaches the socket soon; this is not a new error.  Corked
		 * bytes go with the reset, as a reset drops TCP's queue.
		 */
		conn->tx_bytes -= min_t(u32, conn->tx_bytes, off);
		san_rdma_tx_put_back(conn, tb);
		spin_unlock_bh(&conn->lock);
		iov_iter_revert(&msg->msg_iter, n);
		return -EAGAIN;
	}
	tb->len = off + n;
	conn->tx_bytes += n;
	if (tb->len < SAN_PAYLOAD_MAX &&
	    ((conn->tx_data_inflight && !READ_ONCE(conn->ssk->nodelay)) ||
	     READ_ONCE(conn->ssk->cork))) {
		conn->tx_cork = tb;
		spin_unlock_bh(&conn->lock);
		return n;
	}
	err = san_rdma_tx_post_data(conn, tb);
	spin_unlock_bh(&conn->lock);
	if (err) {
		iov_iter_revert(&msg->msg_iter, n);
		return -ECONNRESET;
	}
	return n;
}

/*
 * The buffers are kernel memory that lives as long as the connection:
 * copying from or to the user needs no hold on the device (a fault that
 * never ends cannot hold up its removal).  Posting checks @broken under
 * conn->lock, which the removal sets before the QP goes.
 */
int san_rdma_sendmsg(struct san_sock *ssk, struct msghdr *msg, size_t len)
{
	san_rdma_tx_grow(ssk->conn);
	return san_rdma_do_sendmsg(ssk->conn, msg, len);
}

static int san_rdma_do_recvmsg(struct san_rconn *conn, struct msghdr *msg,
			       size_t len, int flags)
{
	bool peek = flags & MSG_PEEK;
	struct san_rbuf *rb;
	size_t copied = 0;
	u32 peek_off = 0;

	while (copied < len) {
		size_t n;
		char *src;

		spin_lock_bh(&conn->lock);
		if (list_empty(&conn->rx_filled)) {
			spin_unlock_bh(&conn->lock);
			break;
		}
		rb = list_first_entry(&conn->rx_filled, struct san_rbuf, node);
		if (rb->zc) {
			int got;

			/*
			 * Bytes in the peer's memory: san_rdma_zc_recv(),
			 * unless a prefetch brought them in already.
			 */
			spin_unlock_bh(&conn->lock);
			got = san_rdma_zc_pf_copy(conn, msg, len - copied,
						  peek ? peek_off : 0, peek);
			if (got <= 0)
				return copied ? copied : got ?: -EAGAIN;
			copied += got;
			if (peek)
				peek_off += got;
			continue;
		}
		if (peek) {
			/* Skip the buffers already peeked at in this call. */
			u32 skip = peek_off;

			list_for_each_entry(rb, &conn->rx_filled, node) {
				if (rb->zc || skip < rb->len - rb->off)
					break;
				skip -= rb->len - rb->off;
			}
			if (list_entry_is_head(rb, &conn->rx_filled, node) ||
			    rb->zc) {
				spin_unlock_bh(&conn->lock);
				break;
			}
			src = (char *)rb->data + sizeof(struct san_msg_hdr) +
			      rb->off + skip;
			n = min_t(size_t, len - copied, rb->len - rb->off - skip);
		} else {
			src = (char *)rb->data + sizeof(struct san_msg_hdr) +
			      rb->off;
			n = min_t(size_t, len - copied, rb->len - rb->off);
		}
		spin_unlock_bh(&conn->lock);

		/*
		 * Only this reader (under the socket lock) removes buffers
		 * from rx_filled, so @rb stays put while we copy.
		 */
		if (copy_to_iter(src, n, &msg->msg_iter) != n)
			return copied ? copied : -EFAULT;
		copied += n;
		if (peek) {
			peek_off += n;
			continue;
		}

		spin_lock_bh(&conn->lock);
		if (san_rdma_rx_consumed(conn, rb, n))
			san_rdma_tx_control(conn);
		spin_unlock_bh(&conn->lock);
	}
	return copied ? copied : -EAGAIN;
}

int san_rdma_recvmsg(struct san_sock *ssk, struct msghdr *msg, size_t len,
		     int flags)
{
	struct san_rconn *conn = ssk->conn;
	int ret = san_rdma_do_recvmsg(conn, msg, len, flags);

	if (READ_ONCE(conn->rx_grow))
		san_rdma_rx_grow(conn);
	return ret;
}

/**
 * san_rdma_keepalive_work - probe an idle connection, or a starved sender's
 * @work: &san_rconn.ka_work
 *
 * With SO_KEEPALIVE, a connection that received nothing for the keepalive
 * time is probed.  So is, as TCP probes a zero window, a connection whose
 * sender ran out of credits (san_rdma_tx_get() arms this) and heard
 * nothing from the peer for SAN_PERSIST_SECS: on iWARP the peer's reset
 * of a connection it dropped reaches us only in answer to a segment.  The
 * probe is a zero-length RDMA WRITE: the peer's transport must acknowledge
 * it, and a dead peer makes it fail after the RC retries (ETIMEDOUT), or
 * after the host's TCP retransmissions on iWARP.
 *
 * Context: process context (san_rdma_wq); reschedules itself while there
 * is something to watch.
 */
void san_rdma_keepalive_work(struct work_struct *work)
{
	struct san_rconn *conn = container_of(to_delayed_work(work),
					      struct san_rconn, ka_work);
	struct sock *sk = &conn->ssk->sk;
	bool ka = sock_flag(sk, SOCK_KEEPOPEN);
	bool starved = READ_ONCE(conn->credits) < 2;
	unsigned long idle = ka ? san_keepalive_idle(conn->ssk) * HZ :
				  SAN_PERSIST_SECS * HZ;

	if (starved)
		idle = min_t(unsigned long, idle, SAN_PERSIST_SECS * HZ);
	/* It stops when SO_KEEPALIVE goes and the sender has credits. */
	if (READ_ONCE(sk->sk_state) != TCP_ESTABLISHED || (!ka && !starved))
		return;
	if (time_after_eq(jiffies, READ_ONCE(conn->last_rx) + idle)) {
		struct ib_rdma_wr wr = {
			.wr.wr_cqe = &conn->ka_cqe,
			.wr.opcode = IB_WR_RDMA_WRITE,
			.wr.send_flags = IB_SEND_SIGNALED,
		};

		/*
		 * A zero-length RDMA WRITE needs no key, no credit and no
		 * buffer of the peer: it probes a writer blocked on credits
		 * too.
		 */
		spin_lock_bh(&conn->lock);
		if (!conn->broken && conn->qp && !conn->ka_inflight &&
		    !ib_post_send(conn->qp, &wr.wr, NULL))
			conn->ka_inflight = true;
		spin_unlock_bh(&conn->lock);
	}
	/* Look again within a few seconds to notice SAN_KEEPIDLE changes. */
	san_rdma_ka_arm(conn, min_t(unsigned long, idle, 5 * HZ));
}

u32 san_rdma_rx_queued(struct san_sock *ssk)
{
	struct san_rconn *conn = READ_ONCE(ssk->conn);

	return conn ? READ_ONCE(conn->rx_bytes) : 0;
}

/* Whether a recv() finds bytes without waiting for a prefetch's READ. */
bool san_rdma_rx_ready(struct san_sock *ssk)
{
	struct san_rconn *conn = READ_ONCE(ssk->conn);

	/* A reader's READ in flight holds the head: its end wakes readers. */
	return conn && READ_ONCE(conn->rx_bytes) &&
	       !READ_ONCE(conn->zc_pf_wait) && !READ_ONCE(conn->zc_rx);
}

/* sock_diag: credits and buffers.  Socket lock held. */
void san_rdma_diag(struct san_sock *ssk, struct san_diag_info *info)
{
	struct san_rconn *conn = ssk->conn;

	spin_lock_bh(&conn->lock);
	info->tx_credits = conn->credits;
	info->rx_bufs = conn->rbuf_count;
	info->tx_bufs = conn->tbuf_count;
	info->peer_rx_bufs = conn->peer_rbuf_count;
	info->reg_bytes = (conn->rbuf_count + conn->tbuf_count) * SAN_BUF_SIZE;
	spin_unlock_bh(&conn->lock);
}

u32 san_rdma_tx_queued(struct san_sock *ssk)
{
	struct san_rconn *conn = READ_ONCE(ssk->conn);

	return conn ? READ_ONCE(conn->tx_bytes) : 0;
}

bool san_rdma_tx_ready(struct san_sock *ssk)
{
	struct san_rconn *conn = READ_ONCE(ssk->conn);

	struct san_tbuf *cork;

	if (!conn || READ_ONCE(conn->broken))
		return false;
	/* The buffers live as long as the connection: @cork stays valid. */
	cork = READ_ONCE(conn->tx_cork);
	if (cork && READ_ONCE(cork->len) < SAN_PAYLOAD_MAX)
		return true;
	/* Credits with no free buffer: a sender adds buffers. */
	return READ_ONCE(conn->credits) >= 2 &&
	       (READ_ONCE(conn->tx_free_count) >= 2 ||
		READ_ONCE(conn->tbuf_count) < READ_ONCE(conn->tbuf_max));
}

void san_rdma_shutdown_tx(struct san_sock *ssk)
{
	struct san_rconn *conn = ssk->conn;

	spin_lock_bh(&conn->lock);
	if (!conn->fin_sent && !conn->fin_pending) {
		conn->fin_pending = true;
		san_rdma_tx_control(conn);
	}
	spin_unlock_bh(&conn->lock);
}

bool san_rdma_tx_done(struct san_sock *ssk)
{
	struct san_rconn *conn = ssk->conn;

	return !conn || (READ_ONCE(conn->fin_acked) &&
			 !READ_ONCE(conn->tx_bytes));
}
