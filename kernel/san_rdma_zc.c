// SPDX-License-Identifier: GPL-2.0
/*
 * The RDMA provider's zero-copy path (docs/wire.md, "Zero-copy").
 *
 * A sender exposes the user buffer of one send() call: it pins the pages,
 * registers them with a fast-registration MR (remote read only) and sends
 * SRC_AVAIL with the address, the remote key and the length.  Those bytes
 * are the next ones of the stream.  The receiver RDMA READs them into the
 * user buffer of its recv() call (pinned) or, for a short read or a
 * buffer that cannot be pinned, into a bounce buffer, then reports what it
 * consumed with RD_DONE.  The sender's call ends when RD_DONE has covered
 * every byte; the MR is deregistered (the key stops working) and the pages
 * unpinned before it returns.
 *
 * The switch owns each transfer's struct san_zc and never returns while
 * it is busy.  busy is cleared, always last and under conn->lock, by the
 * event that ends the device's access: RD_DONE for all bytes or a flush
 * after the QP was drained (sender), the READ's completion (receiver).
 */
#include <linux/module.h>
#include <linux/mm.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/uio.h>

#include "san_compat.h"
#include "san_rdma.h"

/* Test only: delay handling a READ completion, to hold a receive busy. */
static unsigned int zc_hold_ms;
module_param(zc_hold_ms, uint, 0644);
MODULE_PARM_DESC(zc_hold_ms,
		 "test only: milliseconds to delay handling each zero-copy read completion (default 0)");

/* A receive through the bounce buffer reads at most this much at once. */
#define SAN_ZC_BOUNCE_MAX	(64 * 1024)
/* Pages of one transfer at most: SAN_ZC_MAX, plus one when unaligned. */
#define SAN_ZC_PAGES		(SAN_ZC_MAX / PAGE_SIZE + 1)

/**
 * struct san_zc_op - the provider's side of one zero-copy transfer
 * @conn: the connection
 * @zc: the switch's transfer
 * @cqe: completion of the (last) READ work request
 * @pages: pinned user pages
 * @npages: how many are pinned
 * @sgt: their (or the bounce buffer's) scatter table
 * @mapped: @sgt is DMA-mapped
 * @dir: DMA direction
 * @mr: sender: the MR exposing the pages
 * @acked: sender: bytes the peer reported read (RD_DONE)
 * @bounce: receiver: kernel buffer the READ fills, when not direct
 * @msg: receiver: where the bytes go
 * @rb: receiver: the SRC_AVAIL buffer read from
 * @peek: receiver: MSG_PEEK, the bytes stay in the stream
 * @status: receiver: the READ's completion status
 * @hold: receiver: zc_hold_ms
 * @ref: holds a san_rdma_get() reference on @conn (the device objects
 *	of the transfer: DMA mapping, MR) until they are released
 * @posted: receiver: the signaled READ was posted, its completion comes
 * @len: prefetch: bytes the READ brings into @bounce
 * @pos: prefetch: bytes of @bounce already read by the user
 * @done: prefetch: the READ completed (under conn->lock)
 *
 * A prefetch is a receive with no caller waiting for it (@zc is NULL): a
 * non-blocking recv() met zero-copy bytes and left with EAGAIN, and the
 * READ brings them into @bounce, kernel memory, where the copy path
 * finds them (san_rdma_zc_pf_copy()).  The connection holds it in
 * &san_rconn.zc_pf.
 */
struct san_zc_op {
	struct san_rconn *conn;
	struct san_zc *zc;
	struct ib_cqe cqe;
	struct page **pages;
	unsigned int npages;
	struct sg_table sgt;
	bool mapped;
	enum dma_data_direction dir;
	struct ib_mr *mr;
	u32 acked;
	void *bounce;
	struct msghdr *msg;
	struct san_rbuf *rb;
	bool peek;
	enum ib_wc_status status;
	struct delayed_work hold;
	bool ref;
	bool posted;
	u32 len;
	u32 pos;
	bool done;
};

/**
 * san_rdma_zc_err_done - completion of an unsignaled zero-copy work request
 * @cq: the completion queue
 * @wc: the completion: never a success (unsignaled requests only complete
 *	when they fail or are flushed)
 *
 * The REG_MR of a send and every READ of a receive but the last are
 * unsignaled and complete here, in &san_rconn.zc_err_cqe, which lives as
 * long as the QP.  A flush is the echo of a reset already under way; any
 * other status (a bad key, a peer that went away) resets the connection,
 * which flushes the transfer.
 */
void san_rdma_zc_err_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct san_rconn *conn = container_of(wc->wr_cqe, struct san_rconn,
					      zc_err_cqe);

	if (wc->status != IB_WC_SUCCESS &&
	    (wc->status != IB_WC_WR_FLUSH_ERR ||
	     san_rdma_flush_unexpected(conn))) {
		pr_debug("af_san: zero-copy work request failed: %s\n",
			 ib_wc_status_msg(wc->status));
		san_rdma_fail(conn, ECONNRESET);
	}
}

/* The READ work requests of one zero-copy receive. */
u32 san_rdma_zc_read_wrs(u32 sge_rd)
{
	return DIV_ROUND_UP(SAN_ZC_PAGES, max_t(u32, sge_rd, 1));
}

/*
 * The first user segment of @msg: its address and length.  False when
 * @msg is not plain user memory (zero-copy then does not apply).
 */
static bool san_zc_user_seg(struct msghdr *msg, unsigned long *addr,
			    size_t *len)
{
	struct iov_iter *it = &msg->msg_iter;

	if (iter_is_ubuf(it)) {
		*addr = (unsigned long)it->ubuf + it->iov_offset;
		*len = iov_iter_count(it);
		return true;
	}
	if (iter_is_iovec(it) && it->nr_segs) {
		const struct iovec *iov = san_iter_iov(it);

		*addr = (unsigned long)iov->iov_base + it->iov_offset;
		*len = min(iov->iov_len - it->iov_offset, iov_iter_count(it));
		return true;
	}
	return false;
}

/* Pin @len bytes at @addr and build their scatter table. */
static int san_zc_pin(struct san_zc_op *op, unsigned long addr, size_t len,
		      bool write)
{
	unsigned long first = addr & PAGE_MASK;
	int got, err;

	op->npages = DIV_ROUND_UP(addr + len - first, PAGE_SIZE);
	op->pages = kvmalloc_array(op->npages, sizeof(*op->pages),
				   GFP_KERNEL);
	if (!op->pages) {
		/* Nothing is pinned: the release must not unpin. */
		op->npages = 0;
		return -ENOMEM;
	}
	got = pin_user_pages_fast(first, op->npages, write ? FOLL_WRITE : 0,
				  op->pages);
	if (got != op->npages) {
		if (got > 0)
			unpin_user_pages(op->pages, got);
		op->npages = 0;
		return got < 0 ? got : -EFAULT;
	}
	err = sg_alloc_table_from_pages(&op->sgt, op->pages, op->npages,
					addr - first, len, GFP_KERNEL);
	if (err) {
		unpin_user_pages(op->pages, op->npages);
		op->npages = 0;
		return err;
	}
	atomic_add(op->npages, &san_stats.pinned);
	return 0;
}

static int san_zc_map(struct san_zc_op *op)
{
	struct ib_device *dev = op->conn->id->device;
	int n;

	n = ib_dma_map_sg(dev, op->sgt.sgl, op->sgt.orig_nents, op->dir);
	if (!n)
		return -ENOMEM;
	op->sgt.nents = n;
	op->mapped = true;
	return 0;
}

/* Give the device objects of @op back, then the device reference. */
static void san_zc_release_dev(struct san_zc_op *op)
{
	if (op->mr) {
		ib_dereg_mr(op->mr);
		op->mr = NULL;
	}
	if (op->mapped) {
		ib_dma_unmap_sg(op->conn->id->device, op->sgt.sgl,
				op->sgt.orig_nents, op->dir);
		op->mapped = false;
	}
	if (op->ref) {
		op->ref = false;
		san_rdma_put(op->conn);
	}
}

/* Undo everything of @op, then free it.  Process context. */
static void san_zc_release(struct san_zc_op *op, bool dirty)
{
	san_zc_release_dev(op);
	if (op->sgt.sgl)
		sg_free_table(&op->sgt);
	if (op->npages) {
		unpin_user_pages_dirty_lock(op->pages, op->npages, dirty);
		atomic_sub(op->npages, &san_stats.pinned);
	}
	kvfree(op->pages);
	kfree(op->bounce);
	kfree(op);
}

/*
 * Take the device reference before mapping: the removal waits for it.
 * Taken after pinning, so that a fault that never ends (a user's FUSE
 * file) cannot hold up the removal.
 */
static int san_zc_get_dev(struct san_zc_op *op)
{
	if (!san_rdma_get(op->conn))
		return -EAGAIN;
	op->ref = true;
	return 0;
}

/* Under conn->lock: the transfer is over for the device. */
static void san_zc_finish(struct san_zc_op *op, int err)
{
	struct san_sock *ssk = op->conn->ssk;

	lockdep_assert_held(&op->conn->lock);
	op->zc->err = err;
	/* Last: the switch may free @op once it sees this. */
	smp_store_release(&op->zc->busy, false);
	san_wake_zc(ssk);
}

/**
 * san_rdma_zc_send - expose the head of @msg to the peer
 * @ssk: the socket
 * @msg: the caller's data
 * @len: bytes wanted
 * @zc: the switch's transfer
 *
 * Return: 0 (started), -EAGAIN (no credit now), -EOPNOTSUPP (use the copy
 * path), or a negative errno.
 */
int san_rdma_zc_send(struct san_sock *ssk, struct msghdr *msg, size_t len,
		     struct san_zc *zc)
{
	struct san_rconn *conn = ssk->conn;
	struct san_src_avail *sa;
	struct ib_reg_wr reg = {};
	struct san_zc_op *op;
	struct san_tbuf *tb;
	unsigned long addr;
	size_t seg;
	int err;

	if (!conn->peer_zcopy || !san_zc_user_seg(msg, &addr, &seg))
		return -EOPNOTSUPP;
	len = min3(len, seg, (size_t)conn->zc_max);
	if (len < san_zcopy_threshold(ssk))
		return -EOPNOTSUPP;
	/* Another thread's exposure is in flight: copy behind it. */
	if (READ_ONCE(conn->zc_tx))
		return -EOPNOTSUPP;
	san_rdma_tx_grow(conn);
	/* Corked bytes go first; then the room check is about the SRC_AVAIL. */
	spin_lock_bh(&conn->lock);
	san_rdma_tx_uncork(conn);
	spin_unlock_bh(&conn->lock);
	if (!READ_ONCE(conn->qp) || !san_rdma_tx_ready(ssk))
		return -EAGAIN;

	op = kzalloc(sizeof(*op), GFP_KERNEL);
	if (!op)
		return -EOPNOTSUPP;	/* the copy path needs no memory */
	op->conn = conn;
	op->zc = zc;
	op->dir = DMA_TO_DEVICE;
	err = san_zc_pin(op, addr, len, false);
	if (err)
		goto fallback;
	if (san_zc_get_dev(op)) {
		san_zc_release(op, false);
		return -EAGAIN;
	}
	err = san_zc_map(op);
	if (err)
		goto fallback;
	op->mr = ib_alloc_mr(conn->pd, IB_MR_TYPE_MEM_REG, op->npages);
	if (IS_ERR(op->mr)) {
		op->mr = NULL;
		goto fallback;
	}
	if (ib_map_mr_sg(op->mr, op->sgt.sgl, op->sgt.nents, NULL,
			 PAGE_SIZE) != op->sgt.nents)
		goto fallback;

	reg.wr.opcode = IB_WR_REG_MR;
	reg.wr.wr_cqe = &conn->zc_err_cqe;
	reg.mr = op->mr;
	reg.key = op->mr->rkey;
	reg.access = IB_ACCESS_REMOTE_READ;

	spin_lock_bh(&conn->lock);
	if (conn->broken) {
		/* Ending meanwhile: the switch sees how, from the socket. */
		spin_unlock_bh(&conn->lock);
		san_zc_release(op, false);
		return -EAGAIN;
	}
	/* The stream's order: corked bytes go before the exposure. */
	san_rdma_tx_uncork(conn);
	tb = san_rdma_tx_get(conn, SAN_MSG_SRC_AVAIL);
	if (!tb) {
		spin_unlock_bh(&conn->lock);
		san_zc_release(op, false);
		return -EAGAIN;
	}
	sa = tb->data + sizeof(struct san_msg_hdr);
	sa->addr = cpu_to_be64(op->mr->iova);
	sa->rkey = cpu_to_be32(op->mr->rkey);
	sa->len = cpu_to_be32(len);
	tb->len = sizeof(*sa);
	zc->len = len;
	zc->err = 0;
	zc->priv = op;
	zc->busy = true;
	conn->zc_tx = op;
	conn->credit_pushed = false;
	conn->tx_bytes += tb->len;
	err = san_rdma_post_send_chain(conn, tb, &reg.wr);
	spin_unlock_bh(&conn->lock);
	if (err) {
		/*
		 * The REG_MR may be posted without the SEND: the transfer
		 * stays busy until the reset has drained the QP, then the
		 * flush ends it (the send buffer comes back with the
		 * connection's).
		 */
		san_rdma_fail(conn, ECONNRESET);
	}
	atomic_inc(&san_stats.zc_sends);
	pr_debug("af_san: zc send %zu bytes, rkey %#x\n", len, op->mr->rkey);
	iov_iter_advance(&msg->msg_iter, len);
	return 0;

fallback:
	san_zc_release(op, false);
	return -EOPNOTSUPP;
}

/**
 * san_rdma_zc_rd_done - the peer read some of our exposed bytes
 * @conn: the connection
 * @payload: the RD_DONE payload
 *
 * Context: completion handler, conn->lock held.
 * Return: false for a RD_DONE that matches no exposure (a violation).
 */
bool san_rdma_zc_rd_done(struct san_rconn *conn, const void *payload)
{
	const struct san_rd_done *rd = payload;
	struct san_zc_op *op = conn->zc_tx;
	u32 n = be32_to_cpu(rd->len);

	if (!op || !n || n > op->zc->len - op->acked)
		return false;
	op->acked += n;
	pr_debug("af_san: zc rd_done %u, %u of %u\n", n, op->acked,
		 op->zc->len);
	if (op->acked == op->zc->len) {
		conn->zc_tx = NULL;
		san_zc_finish(op, 0);
	}
	return true;
}

/**
 * san_rdma_zc_src_avail - the peer exposed the next bytes of the stream
 * @conn: the connection
 * @rb: the receive buffer holding the SRC_AVAIL
 *
 * Context: completion handler, conn->lock held.
 * Return: false for a bad SRC_AVAIL (a violation).
 */
bool san_rdma_zc_src_avail(struct san_rconn *conn, struct san_rbuf *rb)
{
	const struct san_src_avail *sa = rb->data + sizeof(struct san_msg_hdr);
	u32 len = be32_to_cpu(sa->len);

	if (!len || len > SAN_ZC_MAX)
		return false;
	pr_debug("af_san: zc src_avail %u bytes\n", len);
	rb->zc = true;
	rb->len = len;
	rb->off = 0;
	list_add_tail(&rb->node, &conn->rx_filled);
	conn->rx_bytes += len;
	return true;
}

/*
 * The device is done with a READ: the transfer stops being busy.  Nothing
 * is consumed here: san_rdma_zc_end() consumes what reached the user, and
 * until then @zc_rx keeps any other READ of the same bytes from starting.
 */
static void san_rdma_zc_read_finish(struct san_zc_op *op)
{
	struct san_rconn *conn = op->conn;
	bool failed = op->status != IB_WC_SUCCESS &&
		      (op->status != IB_WC_WR_FLUSH_ERR ||
		       san_rdma_flush_unexpected(conn));
	bool ready = false;

	pr_debug("af_san: zc read done: status %d\n", op->status);
	spin_lock_bh(&conn->lock);
	if (!op->zc) {
		/*
		 * A prefetch: its bytes are there for the copy path.  One
		 * that failed stays not ready (readers sleep rather than
		 * spin) until the reset ends the connection.
		 */
		if (conn->zc_pf == op) {
			op->done = true;
			ready = op->status == IB_WC_SUCCESS;
			if (ready)
				WRITE_ONCE(conn->zc_pf_wait, false);
		}
	} else if (conn->zc_rx == op && op->zc->busy) {
		/* The flush may have ended it already (a post that failed). */
		san_zc_finish(op, op->status == IB_WC_SUCCESS ? 0 : ECONNRESET);
	}
	spin_unlock_bh(&conn->lock);
	/* From here on @op may be gone: a reader may have taken it. */
	if (ready)
		san_wake_rx(conn->ssk);

	/* A bad key or a peer that went away: its connection only. */
	if (failed)
		san_rdma_fail(conn, ECONNRESET);
}

static void san_rdma_zc_hold_work(struct work_struct *work)
{
	san_rdma_zc_read_finish(container_of(to_delayed_work(work),
					     struct san_zc_op, hold));
}

static void san_rdma_zc_read_done(struct ib_cq *cq, struct ib_wc *wc)
{
	struct san_zc_op *op = container_of(wc->wr_cqe, struct san_zc_op, cqe);
	unsigned int hold = READ_ONCE(zc_hold_ms);

	op->status = wc->status;
	if (hold) {
		queue_delayed_work(san_rdma_wq, &op->hold,
				   msecs_to_jiffies(hold));
		return;
	}
	san_rdma_zc_read_finish(op);
}

/*
 * Build the READ work requests of @op from @remote/@rkey into *@wrs and
 * *@sges (freed by the caller once posted).  The last one is signaled;
 * the others complete only on error, into &san_rconn.zc_err_cqe.
 */
static int san_rdma_zc_build_reads(struct san_zc_op *op, u64 remote,
				   u32 rkey, struct ib_rdma_wr **wrs_out,
				   struct ib_sge **sges_out)
{
	struct san_rconn *conn = op->conn;
	u32 per = max_t(u32, conn->sge_rd, 1);
	u32 nwr = DIV_ROUND_UP(op->sgt.nents, per), i = 0, w;
	struct ib_rdma_wr *wrs;
	struct scatterlist *sg;
	struct ib_sge *sges;

	wrs = kcalloc(nwr, sizeof(*wrs), GFP_KERNEL);
	sges = kcalloc(op->sgt.nents, sizeof(*sges), GFP_KERNEL);
	if (!wrs || !sges) {
		kfree(wrs);
		kfree(sges);
		return -ENOMEM;
	}
	for_each_sg(op->sgt.sgl, sg, op->sgt.nents, i) {
		w = i / per;
		sges[i].addr = sg_dma_address(sg);
		sges[i].length = sg_dma_len(sg);
		sges[i].lkey = conn->pd->local_dma_lkey;
		if (!wrs[w].wr.num_sge) {
			wrs[w].wr.sg_list = &sges[i];
			wrs[w].wr.opcode = IB_WR_RDMA_READ;
			wrs[w].wr.wr_cqe = &conn->zc_err_cqe;
			wrs[w].remote_addr = remote;
			wrs[w].rkey = rkey;
			if (w)
				wrs[w - 1].wr.next = &wrs[w].wr;
		}
		wrs[w].wr.num_sge++;
		remote += sg_dma_len(sg);
	}
	wrs[nwr - 1].wr.wr_cqe = &op->cqe;
	wrs[nwr - 1].wr.send_flags = IB_SEND_SIGNALED;
	*wrs_out = wrs;
	*sges_out = sges;
	return 0;
}

/* A receiving transfer of @conn from @rb, before its buffer is chosen. */
static struct san_zc_op *san_zc_read_op(struct san_rconn *conn,
					struct san_rbuf *rb)
{
	struct san_zc_op *op = kzalloc(sizeof(*op), GFP_KERNEL);

	if (!op)
		return NULL;
	op->conn = conn;
	op->rb = rb;
	op->dir = DMA_FROM_DEVICE;
	op->cqe.done = san_rdma_zc_read_done;
	INIT_DELAYED_WORK(&op->hold, san_rdma_zc_hold_work);
	return op;
}

/*
 * Read through a kernel buffer of up to SAN_ZC_BOUNCE_MAX of *@len bytes
 * (*@len says how many it holds).  Memory is short: a page at a time
 * rather than fail.
 */
static int san_zc_bounce(struct san_zc_op *op, size_t *len, gfp_t gfp)
{
	*len = min_t(size_t, *len, SAN_ZC_BOUNCE_MAX);
	op->bounce = kmalloc(*len, gfp | __GFP_NOWARN | __GFP_NORETRY);
	if (!op->bounce) {
		*len = min_t(size_t, *len, PAGE_SIZE);
		op->bounce = kmalloc(*len, gfp);
	}
	if (!op->bounce || sg_alloc_table(&op->sgt, 1, GFP_KERNEL))
		return -ENOMEM;
	sg_set_buf(op->sgt.sgl, op->bounce, *len);
	return 0;
}

/* Free a prefetch no one else can reach any more.  Process context. */
static void san_rdma_zc_pf_free(struct san_zc_op *op)
{
	/* A held completion (test only) must not run after the free. */
	cancel_delayed_work_sync(&op->hold);
	san_zc_release(op, false);
}

/*
 * Start reading up to SAN_ZC_BOUNCE_MAX bytes at the head of @rb into a
 * kernel buffer for a caller that will not wait.  -EAGAIN: the bytes come
 * through the copy path once the READ completed (or the connection is
 * ending); -ENOMEM: nothing started (the caller would otherwise poll,
 * see EPOLLIN and get EAGAIN in a loop).
 */
static int san_rdma_zc_prefetch(struct san_rconn *conn, struct san_rbuf *rb,
				size_t len, u64 remote, u32 rkey)
{
	struct ib_rdma_wr *wrs = NULL;
	struct ib_sge *sges = NULL;
	struct san_zc_op *op;
	int err;

	op = san_zc_read_op(conn, rb);
	if (!op)
		return -ENOMEM;
	/* It may wait for the user as long as it likes: charge the user. */
	err = san_zc_bounce(op, &len, GFP_KERNEL_ACCOUNT);
	op->len = len;
	if (err)
		goto out;
	err = -EAGAIN;
	if (san_zc_get_dev(op))
		goto out;
	err = san_zc_map(op) ?:
	      san_rdma_zc_build_reads(op, remote, rkey, &wrs, &sges);
	if (err)
		goto out;

	spin_lock_bh(&conn->lock);
	err = -EAGAIN;
	if (conn->zc_rx || conn->zc_pf || conn->broken || !conn->qp ||
	    list_first_entry_or_null(&conn->rx_filled, struct san_rbuf,
				     node) != rb) {
		spin_unlock_bh(&conn->lock);
		goto out;
	}
	conn->zc_pf = op;
	WRITE_ONCE(conn->zc_pf_wait, true);
	err = ib_post_send(conn->qp, &wrs[0].wr, NULL);
	op->posted = !err;
	spin_unlock_bh(&conn->lock);
	kfree(wrs);
	kfree(sges);
	/* Some READs may be posted: the flush frees it after the drain. */
	if (err)
		san_rdma_fail(conn, ECONNRESET);
	else
		atomic_inc(&san_stats.zc_bounced);
	pr_debug("af_san: zc prefetch %zu bytes\n", len);
	return -EAGAIN;

out:
	kfree(wrs);
	kfree(sges);
	san_zc_release(op, false);
	return err;
}

/**
 * san_rdma_zc_pf_copy - copy bytes a prefetch brought in
 * @conn: the connection
 * @msg: the caller's buffer
 * @len: bytes wanted
 * @skip: MSG_PEEK: bytes of the prefetch already peeked at in this call
 * @peek: MSG_PEEK, the bytes stay in the stream
 *
 * Only what reached the user leaves the stream; a RD_DONE tells the peer.
 *
 * Context: process context, socket lock held (the only reader).
 * Return: the bytes copied, 0 when no prefetched byte is there, -EFAULT.
 */
int san_rdma_zc_pf_copy(struct san_rconn *conn, struct msghdr *msg,
			size_t len, u32 skip, bool peek)
{
	struct san_zc_op *op;
	struct san_rbuf *rb;
	size_t n;
	bool keep;

	spin_lock_bh(&conn->lock);
	op = conn->zc_pf;
	rb = list_first_entry_or_null(&conn->rx_filled, struct san_rbuf, node);
	if (!op || !op->done || op->status != IB_WC_SUCCESS || op->rb != rb ||
	    skip >= op->len - op->pos) {
		spin_unlock_bh(&conn->lock);
		return 0;
	}
	/* Ours while we copy: a reset meanwhile leaves its free to us. */
	conn->zc_pf = NULL;
	spin_unlock_bh(&conn->lock);

	/* The device is done with it; the removal need not wait for us. */
	san_zc_release_dev(op);
	n = min_t(size_t, len, op->len - op->pos - skip);
	n = copy_to_iter(op->bounce + op->pos + skip, n, &msg->msg_iter);

	spin_lock_bh(&conn->lock);
	if (n && !peek && !conn->removed) {
		op->pos += n;
		conn->rd_done += n;
		san_rdma_rx_consumed(conn, rb, n);
		san_rdma_tx_control(conn);
	}
	keep = op->pos < op->len && !conn->broken && !conn->zc_pf;
	if (keep)
		conn->zc_pf = op;
	spin_unlock_bh(&conn->lock);
	if (!keep)
		san_rdma_zc_pf_free(op);
	return n ? n : -EFAULT;
}

/**
 * san_rdma_zc_recv - read the peer's exposed bytes into @msg
 * @ssk: the socket
 * @msg: the caller's buffer
 * @len: bytes wanted
 * @flags: MSG_PEEK; MSG_DONTWAIT: the caller will not wait, so the READ
 *	goes into a kernel buffer (a prefetch, see &struct san_zc_op) and
 *	the call returns -EAGAIN
 * @zc: the switch's transfer
 *
 * Return: 0 (started), -EAGAIN (the next bytes are not zero-copy ones,
 * another read is in flight, or a prefetch started), or a negative errno.
 */
int san_rdma_zc_recv(struct san_sock *ssk, struct msghdr *msg, size_t len,
		     int flags, struct san_zc *zc)
{
	struct san_rconn *conn = ssk->conn;
	const struct san_src_avail *sa;
	struct ib_rdma_wr *wrs = NULL;
	struct ib_sge *sges = NULL;
	struct san_zc_op *op;
	struct san_rbuf *rb;
	unsigned long addr;
	bool direct = false;
	u64 remote;
	size_t seg;
	u32 rkey, rb_left;
	int err;

	/* A connection that ended: the peer's memory is out of reach. */
	if (READ_ONCE(ssk->sk.sk_state) != TCP_ESTABLISHED)
		return -EAGAIN;
	spin_lock_bh(&conn->lock);
	rb = list_first_entry_or_null(&conn->rx_filled, struct san_rbuf, node);
	if (!rb || !rb->zc || conn->zc_rx || conn->zc_pf || conn->broken ||
	    !conn->qp) {
		spin_unlock_bh(&conn->lock);
		return -EAGAIN;
	}
	sa = rb->data + sizeof(struct san_msg_hdr);
	rb_left = rb->len - rb->off;
	len = min_t(size_t, len, rb_left);
	remote = be64_to_cpu(sa->addr) + rb->off;
	rkey = be32_to_cpu(sa->rkey);
	spin_unlock_bh(&conn->lock);

	/* Whatever the caller wants: a short peek must not cap it. */
	if (flags & MSG_DONTWAIT)
		return san_rdma_zc_prefetch(conn, rb, rb_left, remote, rkey);

	op = san_zc_read_op(conn, rb);
	if (!op)
		return -ENOMEM;
	op->zc = zc;
	op->msg = msg;
	op->peek = flags & MSG_PEEK;

	if (len >= san_zcopy_threshold(ssk) &&
	    san_zc_user_seg(msg, &addr, &seg) && seg) {
		len = min(len, seg);
		direct = !san_zc_pin(op, addr, len, true);
	}
	if (!direct) {
		err = san_zc_bounce(op, &len, GFP_KERNEL);
		if (err)
			goto fail;
	}
	err = san_zc_get_dev(op);
	if (err)
		goto fail;
	err = san_zc_map(op);
	if (err)
		goto fail;
	err = san_rdma_zc_build_reads(op, remote, rkey, &wrs, &sges);
	if (err)
		goto fail;

	spin_lock_bh(&conn->lock);
	err = -EAGAIN;
	if (conn->zc_rx || conn->zc_pf || conn->broken || !conn->qp)
		goto fail_locked;
	zc->len = len;
	zc->err = 0;
	zc->priv = op;
	zc->busy = true;
	conn->zc_rx = op;
	err = ib_post_send(conn->qp, &wrs[0].wr, NULL);
	op->posted = !err;
	spin_unlock_bh(&conn->lock);
	kfree(wrs);
	kfree(sges);
	if (err) {
		/*
		 * Some READs may be posted and write into the buffer: it
		 * stays busy until the reset has drained the QP, then the
		 * flush ends it.
		 */
		san_rdma_fail(conn, ECONNRESET);
		return 0;
	}
	atomic_inc(direct ? &san_stats.zc_reads : &san_stats.zc_bounced);
	pr_debug("af_san: zc read %zu bytes%s\n", len, direct ? "" : " (bounce)");
	return 0;

fail_locked:
	spin_unlock_bh(&conn->lock);
fail:
	kfree(wrs);
	kfree(sges);
	san_zc_release(op, false);
	return err;
}

/**
 * san_rdma_zc_end - release a transfer the device is done with
 * @ssk: the socket
 * @zc: the transfer, no longer busy
 *
 * The sender's MR is deregistered here: its remote key stops working
 * before the call returns.
 *
 * Return: the bytes moved, or a negative errno.
 */
int san_rdma_zc_end(struct san_sock *ssk, struct san_zc *zc)
{
	struct san_zc_op *op = zc->priv;
	int ret = zc->err ? -zc->err : zc->len;
	struct san_rconn *conn;
	size_t n;

	zc->priv = NULL;
	if (!op)
		return ret;
	conn = op->conn;
	if (op->dir == DMA_TO_DEVICE) {
		san_zc_release(op, false);
		return ret;
	}
	/* A held completion (test only) must not run after the free. */
	cancel_delayed_work_sync(&op->hold);
	/*
	 * Unmapping hands the bytes to the CPU; the device is done with the
	 * transfer, and its removal need not wait for the copy below.
	 */
	san_zc_release_dev(op);
	n = ret > 0 ? ret : 0;
	if (op->bounce && n)
		n = copy_to_iter(op->bounce, n, &op->msg->msg_iter);
	else if (n)
		iov_iter_advance(&op->msg->msg_iter, n);
	if (ret > 0 && !n)
		ret = -EFAULT;
	else if (ret > 0)
		ret = n;

	/*
	 * Only what reached the user leaves the stream (a bad buffer loses
	 * nothing, as TCP); the RD_DONE for it tells the peer.  A device
	 * that went away took the stream with it.
	 */
	spin_lock_bh(&conn->lock);
	if (n && !op->peek && !conn->removed) {
		conn->rd_done += n;
		san_rdma_rx_consumed(conn, op->rb, n);
		san_rdma_tx_control(conn);
	}
	conn->zc_rx = NULL;
	spin_unlock_bh(&conn->lock);
	san_zc_release(op, n && !op->bounce);
	san_wake_rx(ssk);
	san_wake_tx(ssk);
	return ret;
}

/**
 * san_rdma_zc_flush - end the transfers of a connection that was reset
 * @conn: the connection, its QP drained
 *
 * Once the QP is in error and drained, the peer can no longer read our
 * exposed pages, and our READs have all completed.
 *
 * Context: process context.
 */
void san_rdma_zc_flush(struct san_rconn *conn)
{
	struct san_zc_op *op;

	/*
	 * A read completion held back by zc_hold_ms stands for a device
	 * still writing: the reset flushes it now, as it would the device.
	 */
	spin_lock_bh(&conn->lock);
	op = conn->zc_rx;
	if (op && op->zc->busy && cancel_delayed_work(&op->hold))
		op->status = IB_WC_WR_FLUSH_ERR;
	/*
	 * The QP is drained: a READ still busy whose last work request was
	 * never posted (a failed post) gets no completion.  One that was
	 * posted completed before the drain did.
	 */
	if (op && op->zc->busy && (!op->posted || op->status))
		san_zc_finish(op, ECONNRESET);
	op = conn->zc_tx;
	if (op) {
		conn->zc_tx = NULL;
		san_zc_finish(op, ECONNRESET);
	}
	/* A prefetch's bytes go with the connection. */
	op = conn->zc_pf;
	conn->zc_pf = NULL;
	WRITE_ONCE(conn->zc_pf_wait, false);
	spin_unlock_bh(&conn->lock);
	if (op)
		san_rdma_zc_pf_free(op);
	san_wake_tx(conn->ssk);
	san_wake_rx(conn->ssk);
}
