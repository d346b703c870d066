// SPDX-License-Identifier: GPL-2.0
/*
 * The RDMA provider: carries AF_SAN connections over reliable-connected
 * queue pairs set up through rdma_cm.  This file holds the device
 * tracking (an ib_client), the connection manager side (rdma_cm ids and
 * their events, QP and CQ setup) and teardown; san_rdma_data.c holds the
 * data path.
 *
 * Every operation the switch calls returns at once: a connect starts
 * address resolution and the rest happens in the rdma_cm event handler
 * (process context, one event at a time per id), which reports the outcome
 * with san_established() or san_conn_error().
 *
 * Teardown order (san_rdma_teardown()): set dying under cm_mutex so the
 * handler touches nothing more, rdma_disconnect, ib_drain_qp, then the QP,
 * the CQ, the buffers and the PD, and the id last: the device they belong
 * to cannot go away while the id exists.
 */
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/tcp.h>
#include <linux/wait_bit.h>
#include <rdma/ib_cm.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>
#include <uapi/linux/san.h>

#include "san_rdma.h"

struct workqueue_struct *san_rdma_wq;

/**
 * struct san_rdma_dev - an RDMA device known to the provider
 * @ibdev: the device
 * @node: entry in san_rdma_devices, under san_rdma_lock
 */
struct san_rdma_dev {
	struct ib_device *ibdev;
	struct list_head node;
};

static LIST_HEAD(san_rdma_devices);
static DEFINE_MUTEX(san_rdma_lock);

static struct ib_client san_rdma_client;

static int san_rdma_add_one(struct ib_device *ibdev)
{
	struct san_rdma_dev *dev;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	dev->ibdev = ibdev;

	mutex_lock(&san_rdma_lock);
	list_add_tail(&dev->node, &san_rdma_devices);
	mutex_unlock(&san_rdma_lock);

	ib_set_client_data(ibdev, &san_rdma_client, dev);
	pr_info("af_san: rdma device %s added\n", dev_name(&ibdev->dev));
	return 0;
}

static void san_rdma_remove_one(struct ib_device *ibdev, void *client_data)
{
	struct san_rdma_dev *dev = client_data;

	mutex_lock(&san_rdma_lock);
	list_del(&dev->node);
	mutex_unlock(&san_rdma_lock);

	pr_info("af_san: rdma device %s removed\n", dev_name(&ibdev->dev));
	kfree(dev);
}

static struct ib_client san_rdma_client = {
	.name = "af_san",
	.add = san_rdma_add_one,
	.remove = san_rdma_remove_one,
};

/*
 * QP, CQ, buffers and PD, in that order; the QP is drained or unused.
 * With @keep_bufs (the device goes away under a socket still in use) the
 * buffers are only unmapped: a reader may still copy from them, and they
 * are freed with the connection.
 */
static void san_rdma_free_ib(struct san_rconn *conn, bool keep_bufs)
{
	if (conn->id && conn->id->qp) {
		rdma_destroy_qp(conn->id);
		atomic_dec(&san_stats.qps);
	}
	conn->qp = NULL;
	if (conn->cq) {
		ib_free_cq(conn->cq);
		atomic_dec(&san_stats.cqs);
		conn->cq = NULL;
	}
	if (keep_bufs)
		san_rdma_buffers_unmap(conn);
	else
		san_rdma_buffers_free(conn);
	if (conn->pd) {
		ib_dealloc_pd(conn->pd);
		atomic_dec(&san_stats.pds);
		conn->pd = NULL;
	}
}

/*
 * Ports with an AF_SAN listener, in every namespace.  rdma_cm (6.1) makes
 * listeners on one port of a device share one ib_cm listen id
 * (ib_cm_insert_listen), and destroying one of them while the id is still
 * shared does not wait for a connection request that already found it
 * (cm_destroy_id returns at once; cma_ib_id_from_event takes no
 * reference): cma_ib_req_handler then locks the freed listener's
 * handler_mutex.  The sequence fuzzer hit that use-after-free with an
 * IPv4 and an IPv6 listener on one port.  So AF_SAN keeps one listener
 * per port (EADDRINUSE for a second, as for a taken TCP port), and frees
 * the port only once its id is destroyed.  ib_cm shares across network
 * namespaces too, so the map is global; it cannot stop a listener of
 * another rdma_cm user (user space through ucma) from sharing: that needs
 * rdma_cm to hold a reference on the listener it found.
 */
static DECLARE_BITMAP(san_listen_ports, 65536);

/* Free a connection struct and drop its socket reference. */
static void san_rconn_free(struct san_rconn *conn)
{
	struct san_sock *ssk = conn->ssk;

	/* poll() may still be reading it without the socket lock. */
	kfree_rcu(conn, rcu);
	atomic_dec(&san_stats.conns);
	sock_put(&ssk->sk);
}

static void san_rdma_abort_work(struct work_struct *work)
{
	struct san_rconn *conn = container_of(work, struct san_rconn,
					      abort_work);

	mutex_lock(&conn->cm_mutex);
	if (!conn->dying && conn->id) {
		spin_lock_bh(&conn->lock);
		conn->broken = true;
		spin_unlock_bh(&conn->lock);
		/*
		 * The QP is in error once rdma_disconnect() returns: the peer
		 * can no longer read what we exposed.  Once it is drained, no
		 * work request of ours is left on the device: only then do
		 * the zero-copy transfers give their buffers back.
		 */
		rdma_disconnect(conn->id);
		if (conn->qp)
			ib_drain_qp(conn->qp);
		san_rdma_zc_flush(conn);
		/* A failure found under conn->lock reports here. */
		if (READ_ONCE(conn->fail_err))
			san_conn_error(conn->ssk, conn->fail_err);
		/* A closed socket's connection that failed goes now. */
		if (READ_ONCE(conn->owner_gone))
			san_rdma_queue_teardown(conn);
	}
	mutex_unlock(&conn->cm_mutex);
}

/* Free everything; process context, no socket lock, not from cm events. */
static void san_rdma_teardown(struct san_rconn *conn)
{
	mutex_lock(&conn->cm_mutex);
	spin_lock_bh(&conn->lock);
	/* Nothing queues abort_work, ka_work or fin_work from now on. */
	conn->dying = true;
	conn->broken = true;
	spin_unlock_bh(&conn->lock);
	mutex_unlock(&conn->cm_mutex);

	cancel_work_sync(&conn->abort_work);
	cancel_delayed_work_sync(&conn->ka_work);
	cancel_delayed_work_sync(&conn->fin_work);
	cancel_delayed_work_sync(&conn->hs_work);
	if (conn->id)
		rdma_disconnect(conn->id);
	if (conn->qp)
		ib_drain_qp(conn->qp);
	/* Nothing should be left; if it is, it ends before the free. */
	san_rdma_zc_flush(conn);
	san_rdma_free_ib(conn, false);
	/* The QP is gone: no event of it can queue abort_work again. */
	cancel_work_sync(&conn->abort_work);
	/* Last: the device stays while the id exists. */
	if (conn->id)
		rdma_destroy_id(conn->id);
	/* Its id is gone: another listener may take the port. */
	if (conn->listen_port)
		clear_bit_unlock(conn->listen_port, san_listen_ports);
	san_rconn_free(conn);
}

static void san_rdma_fin_work(struct work_struct *work)
{
	struct san_rconn *conn = container_of(to_delayed_work(work),
					      struct san_rconn, fin_work);

	/* Teardown disconnects without the FIN: the peer sees a reset. */
	san_rdma_queue_teardown(conn);
}

static void san_rdma_hs_work(struct work_struct *work)
{
	struct san_rconn *conn = container_of(to_delayed_work(work),
					      struct san_rconn, hs_work);

	if (READ_ONCE(conn->ssk->sk.sk_state) != TCP_SYN_RECV)
		return;
	pr_debug("af_san: a peer never finished its handshake: dropped\n");
	/* The child is dropped; its id's destruction rejects the peer. */
	san_rdma_fail(conn, ETIMEDOUT);
}

/* As TCP's SYN-RECV: 1 + 2 + 4 + ... seconds, one per SYN-ACK retry. */
static unsigned long san_rdma_hs_timeout(struct san_sock *ssk)
{
	int retries = READ_ONCE(sock_net(&ssk->sk)->ipv4.sysctl_tcp_synack_retries);

	return ((2UL << clamp(retries, 0, 10)) - 1) * HZ;
}

static void san_rdma_teardown_work(struct work_struct *work)
{
	san_rdma_teardown(container_of(work, struct san_rconn, teardown_work));
}

/*
 * Claim the teardown of @conn: true for the one caller that is to run or
 * queue it, which alone may touch @conn after dropping the lock once
 * owner_gone is set.  conn->lock held.
 */
static bool san_rdma_claim_teardown(struct san_rconn *conn)
{
	lockdep_assert_held(&conn->lock);
	if (conn->teardown_queued)
		return false;
	conn->teardown_queued = true;
	return true;
}

/**
 * san_rdma_queue_teardown - free a connection its owner let go of
 * @conn: the connection
 *
 * Context: any.  Runs once, from san_rdma_wq.
 */
void san_rdma_queue_teardown(struct san_rconn *conn)
{
	bool queue;

	spin_lock_bh(&conn->lock);
	queue = san_rdma_claim_teardown(conn);
	spin_unlock_bh(&conn->lock);
	if (queue)
		queue_work(san_rdma_wq, &conn->teardown_work);
}

static int san_rdma_cm_handler(struct rdma_cm_id *id,
			       struct rdma_cm_event *ev);

/**
 * san_rdma_get - enter a call that uses the device's resources
 * @conn: the connection
 *
 * Context: any; takes conn->lock.
 * Return: false when the device went away (the caller fails with
 * ENETDOWN); else the caller calls san_rdma_put() when done.
 */
bool san_rdma_get(struct san_rconn *conn)
{
	bool ok;

	spin_lock_bh(&conn->lock);
	ok = !conn->removed;
	if (ok)
		conn->users++;
	spin_unlock_bh(&conn->lock);
	return ok;
}

void san_rdma_put(struct san_rconn *conn)
{
	bool last;

	spin_lock_bh(&conn->lock);
	last = !--conn->users && conn->removed;
	spin_unlock_bh(&conn->lock);
	if (last)
		wake_up_var(&conn->users);
}

static bool san_rdma_idle(struct san_rconn *conn)
{
	bool idle;

	spin_lock_bh(&conn->lock);
	idle = !conn->users;
	spin_unlock_bh(&conn->lock);
	return idle;
}

/* Remember the id's addresses for getname(), which never reads the id. */
static void san_rdma_save_addrs(struct san_rconn *conn)
{
	struct rdma_addr *a = &conn->id->route.addr;

	spin_lock_bh(&conn->lock);
	memcpy(&conn->laddr, &a->src_addr, sizeof(conn->laddr));
	memcpy(&conn->raddr, &a->dst_addr, sizeof(conn->raddr));
	spin_unlock_bh(&conn->lock);
}

/*
 * The id's device is going away (DEVICE_REMOVAL, cm_mutex held): end the
 * connection with ENETDOWN, wake every sleeper, drain the QP, wait for the
 * calls still using the device's resources, release them all.  Returns 1:
 * rdma_cm destroys the id when we return, so that the removal never waits
 * for the sockets to be closed.  The socket keeps its (now empty)
 * connection until close().
 */
static int san_rdma_device_removal(struct san_rconn *conn)
{
	spin_lock_bh(&conn->lock);
	conn->broken = true;
	conn->removed = true;
	spin_unlock_bh(&conn->lock);
	san_conn_error(conn->ssk, ENETDOWN);
	if (conn->qp) {
		rdma_disconnect(conn->id);
		ib_drain_qp(conn->qp);
	}
	/* Zero-copy calls wake up, release their buffers and leave. */
	san_rdma_zc_flush(conn);
	wait_var_event(&conn->users, san_rdma_idle(conn));
	/* What was received is gone with the device, as with a reset. */
	san_rdma_rx_discard(conn);
	san_rdma_free_ib(conn, true);
	conn->id = NULL;
	return 1;
}

static struct san_rconn *san_rconn_alloc(struct san_sock *ssk)
{
	struct san_rconn *conn;

	conn = kzalloc(sizeof(*conn), GFP_KERNEL);
	if (!conn)
		return NULL;
	conn->ssk = ssk;
	mutex_init(&conn->cm_mutex);
	spin_lock_init(&conn->lock);
	INIT_LIST_HEAD(&conn->rx_filled);
	INIT_LIST_HEAD(&conn->tx_free);
	conn->zc_err_cqe.done = san_rdma_zc_err_done;
	conn->ka_cqe.done = san_rdma_ka_done;
	INIT_WORK(&conn->abort_work, san_rdma_abort_work);
	INIT_DELAYED_WORK(&conn->ka_work, san_rdma_keepalive_work);
	INIT_DELAYED_WORK(&conn->fin_work, san_rdma_fin_work);
	INIT_DELAYED_WORK(&conn->hs_work, san_rdma_hs_work);
	INIT_WORK(&conn->teardown_work, san_rdma_teardown_work);
	sock_hold(&ssk->sk);
	atomic_inc(&san_stats.conns);
	return conn;
}

/* A connection with its rdma_cm id, for the switch to store. */
static void *san_rdma_open(struct san_sock *ssk, int family)
{
	struct san_rconn *conn;
	struct rdma_cm_id *id;

	conn = san_rconn_alloc(ssk);
	if (!conn)
		return ERR_PTR(-ENOMEM);
	id = rdma_create_id(sock_net(&ssk->sk), san_rdma_cm_handler, conn,
			    RDMA_PS_TCP, IB_QPT_RC);
	if (IS_ERR(id)) {
		san_rconn_free(conn);
		return id;
	}
	conn->id = id;
	return conn;
}

static u32 san_rdma_buf_count(int bytes)
{
	return clamp_t(u32, bytes / SAN_BUF_SIZE, SAN_BUF_MIN, SAN_BUF_MAX);
}

/* Test only: a work-request limit below the device's max_qp_wr. */
static unsigned int test_max_qp_wr;
module_param(test_max_qp_wr, uint, 0644);
MODULE_PARM_DESC(test_max_qp_wr,
		 "test only: use at most this many work requests per queue, when below the device's max_qp_wr (default 0: the device's)");

/*
 * The device's limits, queried, never assumed.  max_qp_wr bounds each work
 * queue and max_cqe the connection's one CQ: a connection takes fewer
 * buffers than SO_RCVBUF and SO_SNDBUF ask for rather than fail, and does
 * without zero-copy when the READs of one receive (max_sge_rd sets how
 * many) or a send's REG_MR do not fit beside the minimum; when not even
 * SAN_BUF_MIN buffers fit each way, -ENOBUFS.  max_fast_reg_page_list_len
 * bounds one zero-copy send (its MR); below two pages, none.
 * Return: 0 and the work requests zero-copy needs in *@zc_wrs, or -ENOBUFS.
 */
static int san_rdma_fit_device(struct san_rconn *conn, struct ib_device *dev,
			       u32 *zc_wrs)
{
	u32 wr = max(dev->attrs.max_qp_wr, 0);
	u32 cqe = max(dev->attrs.max_cqe, 0);
	u32 lim = READ_ONCE(test_max_qp_wr);
	u32 pages = dev->attrs.max_fast_reg_page_list_len;
	u32 zc = 0, room;

	if (lim && lim < wr)
		wr = lim;
	/* The first page of an unaligned buffer is partial: one more. */
	conn->zc_max = pages < 2 ? 0 :
		min_t(u64, SAN_ZC_MAX, (u64)(pages - 1) * PAGE_SIZE);
	conn->zc_reads = !rdma_protocol_iwarp(dev, conn->id->port_num);
	if (conn->zc_reads)
		zc += san_rdma_zc_read_wrs(conn->sge_rd);
	/* The REG_MR of our own zero-copy send. */
	if (conn->zc_max)
		zc++;
	if (wr < zc + 2 + SAN_BUF_MIN || cqe < zc + 3 + 2 * SAN_BUF_MIN) {
		conn->zc_max = 0;
		conn->zc_reads = false;
		zc = 0;
	}
	if (wr < 2 + SAN_BUF_MIN || cqe < 3 + 2 * SAN_BUF_MIN) {
		pr_warn_ratelimited("af_san: %s: %u work requests per queue and %u CQ entries are too few for a connection\n",
				    dev_name(&dev->dev), wr, cqe);
		return -ENOBUFS;
	}
	conn->tbuf_max = min(conn->tbuf_max, wr - zc - 2);
	conn->rbuf_max = min(conn->rbuf_max, wr - 1);
	/*
	 * One CQ for both: a side that wants less than half of what is left
	 * keeps it, the other gets the rest; else half each.
	 */
	room = cqe - zc - 3;
	if (conn->rbuf_max + conn->tbuf_max > room) {
		if (conn->tbuf_max <= room / 2) {
			conn->rbuf_max = room - conn->tbuf_max;
		} else if (conn->rbuf_max <= room - room / 2) {
			conn->tbuf_max = room - conn->rbuf_max;
		} else {
			conn->tbuf_max = room / 2;
			conn->rbuf_max = room - room / 2;
		}
	}
	*zc_wrs = zc;
	return 0;
}

/*
 * An asynchronous error of the QP (it went to error without a failed
 * completion of ours, e.g. as a responder): a reset like any other.
 * Context: any, hard interrupt included.
 */
static void san_rdma_qp_event(struct ib_event *ev, void *context)
{
	struct san_rconn *conn = context;

	switch (ev->event) {
	case IB_EVENT_COMM_EST:
		/*
		 * The peer's first message came before the CM's RTU (lost,
		 * or late): rdma_cm then says ESTABLISHED, as for the RTU.
		 * The QP, so the id, exists while its events come.
		 */
		rdma_notify(conn->id, IB_EVENT_COMM_EST);
		break;
	case IB_EVENT_QP_FATAL:
	case IB_EVENT_QP_REQ_ERR:
	case IB_EVENT_QP_ACCESS_ERR:
		/*
		 * No lock here (hard interrupt on some devices): abort_work
		 * does the rest.  Teardown cancels it again once the QP,
		 * and so its events, are gone.
		 */
		if (!READ_ONCE(conn->fail_err))
			WRITE_ONCE(conn->fail_err, ECONNRESET);
		if (!READ_ONCE(conn->dying))
			queue_work(san_rdma_wq, &conn->abort_work);
		break;
	default:
		break;
	}
}

/* PD, CQ, QP and buffers on the id's device; receives posted. */
static int san_rdma_setup_qp(struct san_rconn *conn)
{
	struct sock *sk = &conn->ssk->sk;
	struct ib_device *dev = conn->id->device;
	struct ib_qp_init_attr attr = {};
	u32 send_sge, zc_wrs;
	int err;

	conn->rbuf_max = san_rdma_buf_count(READ_ONCE(sk->sk_rcvbuf));
	conn->tbuf_max = san_rdma_buf_count(READ_ONCE(sk->sk_sndbuf));
	/* Zero-copy READs gather into up to 16 pieces each. */
	send_sge = clamp_t(u32, dev->attrs.max_send_sge, 1, 16);
	conn->sge_rd = clamp_t(u32, dev->attrs.max_sge_rd, 1, send_sge);
	err = san_rdma_fit_device(conn, dev, &zc_wrs);
	if (err)
		return err;
	conn->rbuf_count = min_t(u32, SAN_BUF_INIT, conn->rbuf_max);
	conn->tbuf_count = min_t(u32, SAN_BUF_INIT, conn->tbuf_max);

	conn->pd = ib_alloc_pd(dev, 0);
	if (IS_ERR(conn->pd)) {
		err = PTR_ERR(conn->pd);
		conn->pd = NULL;
		return err;
	}
	atomic_inc(&san_stats.pds);
	/*
	 * +1 each for the drain work requests of ib_drain_qp(), +1 for the
	 * keepalive probe.  Room for every buffer the connection may grow.
	 */
	conn->cq = ib_alloc_cq(dev, conn,
			       conn->rbuf_max + conn->tbuf_max + zc_wrs + 3,
			       0, IB_POLL_SOFTIRQ);
	if (IS_ERR(conn->cq)) {
		err = PTR_ERR(conn->cq);
		conn->cq = NULL;
		return err;
	}
	atomic_inc(&san_stats.cqs);
	attr.qp_context = conn;
	attr.event_handler = san_rdma_qp_event;
	attr.send_cq = conn->cq;
	attr.recv_cq = conn->cq;
	attr.cap.max_send_wr = conn->tbuf_max + zc_wrs + 2;
	attr.cap.max_recv_wr = conn->rbuf_max + 1;
	attr.cap.max_send_sge = send_sge;
	attr.cap.max_recv_sge = 1;
	attr.sq_sig_type = IB_SIGNAL_REQ_WR;
	attr.qp_type = IB_QPT_RC;
	err = rdma_create_qp(conn->id, conn->pd, &attr);
	if (err)
		return err;
	atomic_inc(&san_stats.qps);
	err = san_rdma_buffers_alloc(conn);
	if (err)
		goto destroy_qp;
	/* The handlers may post from now on: publish the QP last. */
	err = san_rdma_post_all_recvs(conn);
	if (err)
		goto destroy_qp;
	spin_lock_bh(&conn->lock);
	conn->qp = conn->id->qp;
	spin_unlock_bh(&conn->lock);
	return 0;

destroy_qp:
	rdma_destroy_qp(conn->id);
	atomic_dec(&san_stats.qps);
	return err;
}

static void san_rdma_hello(struct san_rconn *conn, struct san_hello *h)
{
	u16 flags = SAN_HELLO_GROW;

	/* We may still expose our own buffers to a peer that reads. */
	if (san_rdma_takes_zc(conn))
		flags |= SAN_HELLO_ZCOPY;
	h->magic = cpu_to_be32(SAN_WIRE_MAGIC);
	h->version = cpu_to_be16(SAN_WIRE_VERSION);
	h->flags = cpu_to_be16(flags);
	h->rbuf_count = cpu_to_be32(conn->rbuf_count);
	h->rbuf_size = cpu_to_be32(SAN_BUF_SIZE);
}

/* 0, or the reject reason for a peer hello we cannot speak with. */
static int san_rdma_hello_check(struct san_rconn *conn, const void *data,
				u8 len)
{
	const struct san_hello *h = data;
	u32 count;

	if (!data || len < sizeof(*h) ||
	    be32_to_cpu(h->magic) != SAN_WIRE_MAGIC ||
	    be16_to_cpu(h->version) != SAN_WIRE_VERSION ||
	    (be16_to_cpu(h->flags) & ~SAN_HELLO_FLAGS) ||
	    be32_to_cpu(h->rbuf_size) != SAN_BUF_SIZE)
		return SAN_REJ_VERSION;
	count = be32_to_cpu(h->rbuf_count);
	if (count < SAN_BUF_MIN || count > SAN_BUF_MAX)
		return SAN_REJ_VERSION;
	spin_lock_bh(&conn->lock);
	conn->peer_rbuf_count = count;
	conn->peer_zcopy = be16_to_cpu(h->flags) & SAN_HELLO_ZCOPY;
	conn->peer_grow = be16_to_cpu(h->flags) & SAN_HELLO_GROW;
	/* Messages may have returned credits before we got here: add. */
	conn->credits += count;
	spin_unlock_bh(&conn->lock);
	return 0;
}

static void san_rdma_conn_param(struct san_rconn *conn,
				struct rdma_conn_param *p, struct san_hello *h)
{
	/*
	 * Local ACK timeout 4.096 us * 2^19 (about 2 s), 7 tries: an outage
	 * of about 15 s is ridden out, and a dead peer noticed as late.
	 * rdma_cm's default on RoCE (about 0.5 s) let a 5 s link flap reset
	 * every busy connection.
	 */
	rdma_set_ack_timeout(conn->id, SAN_ACK_TIMEOUT);
	san_rdma_hello(conn, h);
	memset(p, 0, sizeof(*p));
	p->private_data = h;
	p->private_data_len = sizeof(*h);
	/* 7 would mean "retry for ever" to some devices (rxe): 6 ends. */
	p->retry_count = 6;
	p->rnr_retry_count = 7;
	p->flow_control = 1;
	/* RDMA READs in flight each way (zero-copy); 0 forbids them. */
	p->responder_resources = min_t(u32, SAN_RD_ATOMIC,
				       conn->id->device->attrs.max_qp_rd_atom);
	p->initiator_depth = min_t(u32, SAN_RD_ATOMIC,
				   conn->id->device->attrs.max_qp_init_rd_atom);
}

/* Undo a child connection whose id rdma_cm destroys on our return. */
static void san_rdma_child_undo(struct san_rconn *conn, struct san_sock *child)
{
	san_child_set_conn(child, NULL);
	san_rdma_free_ib(conn, false);
	conn->id = NULL;
	/*
	 * Freed by the teardown work: a QP event may have queued abort_work
	 * before the QP went, and we hold the listener's cm_mutex here, so
	 * this is no place to wait for it.
	 */
	san_rdma_queue_teardown(conn);
	san_child_drop(child);
}

/*
 * A connection request on a listener: a child socket with its own QP.
 * Returns non-zero when rdma_cm is to destroy the new id.
 */
static int san_rdma_conn_request(struct san_rconn *lconn,
				 struct rdma_cm_id *id,
				 struct rdma_cm_event *ev)
{
	struct san_sock *lsk = lconn->ssk;
	struct san_reject rej = {
		.magic = cpu_to_be32(SAN_WIRE_MAGIC),
		.version = cpu_to_be16(SAN_WIRE_VERSION),
	};
	struct rdma_conn_param param;
	struct san_hello hello;
	struct san_rconn *conn;
	struct san_sock *child;
	int reason, ret;

	if (READ_ONCE(lsk->sk.sk_state) != TCP_LISTEN)
		return -ECONNREFUSED;
	/* Half-open and accept queue together hold at most backlog + 1. */
	child = san_child_alloc(lsk, &san_rdma_provider);
	if (IS_ERR(child)) {
		reason = PTR_ERR(child) == -ENOBUFS ? SAN_REJ_BACKLOG :
						      SAN_REJ_NOMEM;
		goto reject;
	}
	reason = SAN_REJ_NOMEM;
	conn = san_rconn_alloc(child);
	if (!conn) {
		san_child_drop(child);
		goto reject;
	}
	conn->id = id;
	id->context = conn;
	san_rdma_save_addrs(conn);
	reason = san_rdma_hello_check(conn, ev->param.conn.private_data,
				      ev->param.conn.private_data_len);
	if (reason) {
		atomic_long_inc(&san_stats.proto_errors);
		pr_info_ratelimited("af_san: refused a peer speaking another protocol version\n");
		goto reject_child;
	}
	/*
	 * A device too small for any connection: the peer may use TCP, on
	 * our TCP side.  An iWARP listener has none (its port is the
	 * device's): the peer would meet the device's own socket.
	 */
	ret = san_rdma_setup_qp(conn);
	if (ret) {
		reason = ret == -ENOBUFS &&
			 !rdma_protocol_iwarp(id->device, id->port_num) ?
			 SAN_REJ_NO_RDMA : SAN_REJ_NOMEM;
		goto reject_child;
	}
	san_child_set_conn(child, conn);
	san_rdma_conn_param(conn, &param, &hello);
	/* No more than the connecting side can take or will ask. */
	param.responder_resources = min(param.responder_resources,
					ev->param.conn.initiator_depth);
	param.initiator_depth = min(param.initiator_depth,
				    ev->param.conn.responder_resources);
	if (rdma_accept(id, &param)) {
		san_rdma_child_undo(conn, child);
		return -ECONNREFUSED;
	}
	spin_lock_bh(&conn->lock);
	if (!conn->dying)
		queue_delayed_work(san_rdma_wq, &conn->hs_work,
				   san_rdma_hs_timeout(child));
	spin_unlock_bh(&conn->lock);
	return 0;

reject_child:
	rej.reason = cpu_to_be16(reason);
	rdma_reject(id, &rej, sizeof(rej), IB_CM_REJ_CONSUMER_DEFINED);
	san_rdma_child_undo(conn, child);
	return -ECONNREFUSED;

reject:
	rej.reason = cpu_to_be16(reason);
	rdma_reject(id, &rej, sizeof(rej), IB_CM_REJ_CONSUMER_DEFINED);
	return -ECONNREFUSED;
}

/*
 * Why an AF_SAN listener refused us: its SAN_REJ_* reason (a version
 * mismatch is logged), or -1 when the reject is not an AF_SAN listener's
 * (the CM's own, no AF_SAN reject data): the peer may still take the
 * connection over TCP then.
 */
static int san_rdma_reject_reason(struct rdma_cm_id *id,
				  struct rdma_cm_event *ev)
{
	const struct san_reject *rej;
	u8 len = 0;
	int reason;

	/* NULL unless the listener rejected us itself. */
	rej = rdma_consumer_reject_data(id, ev, &len);
	/*
	 * siw reports an MPA reject as -ECONNRESET, which rdma_cm does not
	 * take for the consumer's (it wants -ECONNREFUSED on iWARP): the
	 * private data is the listener's all the same.
	 */
	if (!rej && ev->status == -ECONNRESET &&
	    rdma_protocol_iwarp(id->device, id->port_num) &&
	    ev->param.conn.private_data_len == sizeof(*rej)) {
		rej = ev->param.conn.private_data;
		len = ev->param.conn.private_data_len;
	}
	if (!rej || len < sizeof(*rej) ||
	    be32_to_cpu(rej->magic) != SAN_WIRE_MAGIC)
		return -1;
	reason = be16_to_cpu(rej->reason);
	if (reason == SAN_REJ_VERSION)
		pr_info_ratelimited("af_san: peer refused our protocol version %u (it speaks %u)\n",
				    SAN_WIRE_VERSION, be16_to_cpu(rej->version));
	return reason;
}

/* The connection is up: the socket learns it, its sender may start. */
static void san_rdma_up(struct san_rconn *conn)
{
	struct san_sock *ssk = conn->ssk;

	WRITE_ONCE(conn->last_rx, jiffies);
	san_rdma_save_addrs(conn);
	san_established(ssk);
	san_wake_tx(ssk);
	if (sock_flag(&ssk->sk, SOCK_KEEPOPEN))
		san_rdma_ka_arm(conn, HZ);
}

/* Connection events of a connecting or connected id. */
static int san_rdma_conn_event(struct san_rconn *conn,
			       struct rdma_cm_event *ev)
{
	struct san_sock *ssk = conn->ssk;
	struct rdma_conn_param param;
	struct san_hello hello;
	int err = 0, ret;

	switch (ev->event) {
	case RDMA_CM_EVENT_ADDR_RESOLVED:
		san_rdma_save_addrs(conn);
		if (rdma_resolve_route(conn->id, SAN_RESOLVE_TIMEOUT_MS)) {
			san_conn_fallback(ssk, SAN_FALLBACK_NO_PATH);
			err = EHOSTUNREACH;
		}
		break;
	case RDMA_CM_EVENT_ROUTE_RESOLVED:
		ret = san_rdma_setup_qp(conn);
		if (ret) {
			pr_debug("af_san: QP setup failed: %d\n", ret);
			err = ENOMEM;
			/*
			 * The device cannot queue a connection: no path.  An
			 * iWARP peer (ours is) has no TCP side to fall back
			 * to: its port is its device's.
			 */
			if (ret == -ENOBUFS) {
				if (!rdma_protocol_iwarp(conn->id->device,
							 conn->id->port_num))
					san_conn_fallback(ssk,
							  SAN_FALLBACK_NO_PATH);
				err = ENOBUFS;
			}
			break;
		}
		san_rdma_conn_param(conn, &param, &hello);
		ret = rdma_connect_locked(conn->id, &param);
		if (ret) {
			pr_debug("af_san: rdma_connect failed: %d\n", ret);
			err = ECONNREFUSED;
		}
		break;
	case RDMA_CM_EVENT_ESTABLISHED:
		/* An active side checks the listener's hello here. */
		if (!conn->peer_rbuf_count &&
		    san_rdma_hello_check(conn, ev->param.conn.private_data,
					 ev->param.conn.private_data_len)) {
			err = EPROTO;
			atomic_long_inc(&san_stats.proto_errors);
			rdma_disconnect(conn->id);
			break;
		}
		san_rdma_up(conn);
		break;
	case RDMA_CM_EVENT_REJECTED:
		/* No AF_SAN listener there: perhaps a TCP one (fallback). */
		ret = san_rdma_reject_reason(conn->id, ev);
		if (ret < 0)
			san_conn_fallback(ssk, SAN_FALLBACK_REFUSED);
		/* One whose device cannot hold us: its TCP side may. */
		else if (ret == SAN_REJ_NO_RDMA)
			san_conn_fallback(ssk, SAN_FALLBACK_NO_PATH);
		err = ECONNREFUSED;
		break;
	case RDMA_CM_EVENT_ADDR_ERROR:
	case RDMA_CM_EVENT_ROUTE_ERROR:
		san_conn_fallback(ssk, SAN_FALLBACK_NO_PATH);
		err = EHOSTUNREACH;
		break;
	case RDMA_CM_EVENT_UNREACHABLE:
	case RDMA_CM_EVENT_CONNECT_ERROR:
		err = ev->status == -ETIMEDOUT ? ETIMEDOUT : ECONNREFUSED;
		/* A host without RDMA never answers the CM. */
		if (err == ETIMEDOUT)
			san_conn_fallback(ssk, SAN_FALLBACK_TIMEOUT);
		break;
	case RDMA_CM_EVENT_DISCONNECTED:
		/*
		 * Every receive completed before the disconnect is handled
		 * once the QP is drained: a FIN among them makes this a
		 * graceful close, anything else a reset.
		 */
		spin_lock_bh(&conn->lock);
		conn->broken = true;
		spin_unlock_bh(&conn->lock);
		if (conn->qp)
			ib_drain_qp(conn->qp);
		san_rdma_zc_flush(conn);
		/*
		 * Only an established peer sends a DREQ: a child still
		 * waiting for its RTU (lost, or overtaken by the DREQ) that
		 * got the peer's data or FIN is established first, as TCP
		 * takes a SYN-RECV connection's ACK from its data or FIN:
		 * accept() gets it with what the peer sent, then EOF or the
		 * reset.  One that got nothing is dropped (a reset).
		 */
		if (READ_ONCE(ssk->sk.sk_state) == TCP_SYN_RECV && !ev->status &&
		    (READ_ONCE(conn->fin_rcvd) || READ_ONCE(conn->rx_bytes)))
			san_rdma_up(conn);
		if (READ_ONCE(conn->fin_rcvd))
			san_conn_error(ssk, 0);
		else
			san_conn_error(ssk, ECONNRESET);
		break;
	default:
		break;
	}
	if (err) {
		pr_debug("af_san: cm id %p: connection error %d\n", conn->id,
			 err);
		/* Flush what is in flight, zero-copy buffers included. */
		san_rdma_fail(conn, err);
	}
	/* An orphaned connection that ended is freed now. */
	if ((err || ev->event == RDMA_CM_EVENT_DISCONNECTED) &&
	    READ_ONCE(conn->owner_gone))
		san_rdma_queue_teardown(conn);
	return 0;
}

static int san_rdma_cm_handler(struct rdma_cm_id *id,
			       struct rdma_cm_event *ev)
{
	struct san_rconn *conn = id->context;
	int ret = 0;

	mutex_lock(&conn->cm_mutex);
	pr_debug("af_san: cm id %p: %s (%d)%s\n", id,
		 rdma_event_msg(ev->event), ev->status,
		 conn->dying ? ", dying" : "");
	if (conn->dying) {
		/*
		 * A request that reached a listener being torn down: its new
		 * id is rdma_cm's to destroy (the peer sees a reject).  With
		 * 0 it would stay, its context this dying connection.
		 */
		if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST)
			ret = 1;
		goto out;
	}
	if (ev->event == RDMA_CM_EVENT_DEVICE_REMOVAL)
		ret = san_rdma_device_removal(conn);
	else if (ev->event == RDMA_CM_EVENT_CONNECT_REQUEST)
		ret = san_rdma_conn_request(conn, id, ev) ? 1 : 0;
	else
		san_rdma_conn_event(conn, ev);
out:
	mutex_unlock(&conn->cm_mutex);
	return ret;
}

/* 127.0.0.0/8 or ::1: the host's own loopback. */
static bool san_rdma_loopback(const struct sockaddr_storage *addr)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;

	if (addr->ss_family == AF_INET)
		return ipv4_is_loopback(sin->sin_addr.s_addr);
	return addr->ss_family == AF_INET6 &&
	       ipv6_addr_loopback(&sin6->sin6_addr);
}

/*
 * A destination rdma_cm resolves on this host's first device, as its own
 * loopback: a loopback or wildcard address.
 */
static bool san_rdma_local_dst(const struct sockaddr_storage *addr)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)addr;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;

	if (san_rdma_loopback(addr))
		return true;
	if (addr->ss_family == AF_INET)
		return ipv4_is_zeronet(sin->sin_addr.s_addr);
	return addr->ss_family == AF_INET6 && ipv6_addr_any(&sin6->sin6_addr);
}

static bool san_rdma_tcp_ports(struct san_sock *ssk, void *handle);

/*
 * Whether @conn's id is bound to an iWARP device; *@wildcard (if given):
 * it has an id bound to no device.
 */
static bool san_rdma_id_iwarp(struct san_rconn *conn, bool *wildcard)
{
	bool iwarp = false, any = false;

	/* The device may be going: its id with it (san_rdma_get()). */
	if (san_rdma_get(conn)) {
		if (conn->id && conn->id->device)
			iwarp = rdma_protocol_iwarp(conn->id->device,
						    conn->id->port_num);
		else
			any = conn->id;
		san_rdma_put(conn);
	}
	if (wildcard)
		*wildcard = any;
	return iwarp;
}

static int san_rdma_bind(struct san_sock *ssk, void *handle)
{
	struct san_rconn *conn = handle;
	int err;

	if (ssk->sk.sk_reuse)
		rdma_set_reuseaddr(conn->id, 1);
	/* IPv4 peers on an IPv6 wildcard, as TCP, unless IPV6_V6ONLY. */
	if (ssk->local.ss_family == AF_INET6)
		rdma_set_afonly(conn->id, ssk->v6only);
	err = rdma_bind_addr(conn->id, (struct sockaddr *)&ssk->local);
	/* The switch resets a failed bind: the socket may bind again. */
	if (err == -EADDRNOTAVAIL || err == -ENODEV)
		err = -EADDRNOTAVAIL;
	if (err)
		return err;
	/*
	 * rdma_cm binds a loopback address as a wildcard, and an iWARP
	 * device listens there, but no client reaches it over RDMA
	 * (san_rdma_connect()): on an iWARP host the address is TCP's.
	 */
	if (san_rdma_loopback(&ssk->local) && san_rdma_tcp_ports(ssk, conn))
		return -EADDRNOTAVAIL;
	memcpy(&ssk->local, &conn->id->route.addr.src_addr,
	       sizeof(ssk->local));
	san_rdma_save_addrs(conn);
	return 0;
}

/*
 * iWARP runs over the host's TCP: siw, for one, listens and connects with
 * kernel TCP sockets on the id's port.  A wildcard address reaches every
 * device, so any iWARP device counts then.
 */
static bool san_rdma_tcp_ports(struct san_sock *ssk, void *handle)
{
	struct san_rdma_dev *dev;
	bool iwarp, wildcard;

	iwarp = san_rdma_id_iwarp(handle, &wildcard);
	if (!wildcard)
		return iwarp;
	mutex_lock(&san_rdma_lock);
	list_for_each_entry(dev, &san_rdma_devices, node)
		if (rdma_protocol_iwarp(dev->ibdev,
					rdma_start_port(dev->ibdev)))
			iwarp = true;
	mutex_unlock(&san_rdma_lock);
	return iwarp;
}

/* The port an id is bound to, 0 if none. */
static u16 san_rdma_src_port(struct rdma_cm_id *id)
{
	struct sockaddr *sa = (struct sockaddr *)&id->route.addr.src_addr;

	if (sa->sa_family == AF_INET6)
		return be16_to_cpu(((struct sockaddr_in6 *)sa)->sin6_port);
	if (sa->sa_family == AF_INET)
		return be16_to_cpu(((struct sockaddr_in *)sa)->sin_port);
	return 0;
}

static int san_rdma_listen(struct san_sock *ssk, void *handle, int backlog)
{
	struct san_rconn *conn = handle;
	bool claimed = false;
	u16 port;
	int err;

	/* The device may be gone, and the id with it (conn->id NULL). */
	if (!san_rdma_get(conn))
		return -ENETDOWN;
	if (!conn->listen_port) {
		port = san_rdma_src_port(conn->id);
		err = -EADDRINUSE;
		if (!port || test_and_set_bit_lock(port, san_listen_ports))
			goto out;
		conn->listen_port = port;
		claimed = true;
	}
	err = rdma_listen(conn->id, backlog);
	if (err && claimed) {
		clear_bit_unlock(conn->listen_port, san_listen_ports);
		conn->listen_port = 0;
	}
out:
	san_rdma_put(conn);
	return err;
}

static int san_rdma_connect(struct san_sock *ssk, void *handle,
			    struct sockaddr_storage *addr)
{
	struct san_rconn *conn = handle;
	int err;

	/*
	 * A bound id resolves its own family only: an IPv4 peer of a socket
	 * bound to an IPv6 address has no RDMA path (TCP reaches it at its
	 * mapped address), an IPv6 peer of an IPv4 socket none at all.
	 */
	if (ssk->bound && ssk->local.ss_family != addr->ss_family)
		return addr->ss_family == AF_INET ? -EHOSTUNREACH :
						    -EAFNOSUPPORT;
	/*
	 * A loopback or wildcard destination has no RDMA path from an id
	 * bound to an iWARP device: rdma_cm would connect it, with the
	 * device's TCP socket, to a listener that is TCP's (san_rdma_bind()).
	 * As a RoCE device reports it: a route error.
	 */
	if (san_rdma_local_dst(addr) && san_rdma_id_iwarp(conn, NULL))
		return -EHOSTUNREACH;
	if (!san_rdma_get(conn))
		return -ENETDOWN;
	/* IP_TOS / IPV6_TCLASS: RoCE carries it in the packets' headers. */
	if (ssk->tos)
		rdma_set_service_type(conn->id, ssk->tos);
	err = rdma_resolve_addr(conn->id,
				ssk->bound ? (struct sockaddr *)&ssk->local :
					     NULL,
				(struct sockaddr *)addr,
				SAN_RESOLVE_TIMEOUT_MS);
	san_rdma_put(conn);
	if (err == -ENODEV || err == -EADDRNOTAVAIL)
		return -ENETUNREACH;
	/*
	 * From an unbound or wildcard id rdma_cm takes such a destination to
	 * the first active device and reads its P_Key: an iWARP device has
	 * none (EINVAL).  No path, as above.
	 */
	if (err == -EINVAL && san_rdma_local_dst(addr))
		return -EHOSTUNREACH;
	return err;
}

static int san_rdma_getname(struct san_sock *ssk,
			    struct sockaddr_storage *addr, bool peer)
{
	struct san_rconn *conn = ssk->conn;
	int family;

	if (!conn)
		return -ENOTCONN;
	spin_lock_bh(&conn->lock);
	memcpy(addr, peer ? &conn->raddr : &conn->laddr, sizeof(*addr));
	spin_unlock_bh(&conn->lock);
	family = addr->ss_family;
	if (family != AF_INET && family != AF_INET6)
		return -ENOTCONN;
	return family == AF_INET6 ? sizeof(struct sockaddr_in6) :
				    sizeof(struct sockaddr_in);
}

/* Reset now; the connection stays the socket's until close. */
static void san_rdma_abort(struct san_sock *ssk)
{
	struct san_rconn *conn = ssk->conn;

	if (!conn)
		return;
	/* Nothing new is posted: the flush after the drain is final. */
	spin_lock_bh(&conn->lock);
	conn->broken = true;
	if (!conn->dying)
		queue_work(san_rdma_wq, &conn->abort_work);
	spin_unlock_bh(&conn->lock);
}

/* Free a failed or unused connection now: its address is free after. */
static void san_rdma_reset(struct san_sock *ssk, void *handle)
{
	struct san_rconn *conn = handle;
	bool run;

	/*
	 * Claim the teardown before the connection is marked orphaned: a cm
	 * event or abort_work that sees owner_gone would queue it, and the
	 * address would then be released after we return.
	 */
	spin_lock_bh(&conn->lock);
	run = san_rdma_claim_teardown(conn);
	WRITE_ONCE(conn->owner_gone, true);
	spin_unlock_bh(&conn->lock);
	if (run)
		san_rdma_teardown(conn);
}

static void san_rdma_keepalive(struct san_sock *ssk)
{
	struct san_rconn *conn = ssk->conn;

	if (conn)
		san_rdma_ka_arm(conn, HZ);
}

static void san_rdma_close(struct san_sock *ssk, void *handle, bool abort)
{
	struct san_rconn *conn = handle;
	bool now;

	/*
	 * Once owner_gone is seen, a cm event, abort_work or a completion
	 * may queue the teardown, which frees the connection: it is set
	 * under conn->lock, and the connection is not touched after the
	 * unlock unless this call claimed the teardown itself.
	 */
	spin_lock_bh(&conn->lock);
	WRITE_ONCE(conn->owner_gone, true);
	if (abort || !conn->qp) {
		now = san_rdma_claim_teardown(conn);
		spin_unlock_bh(&conn->lock);
		if (now)
			queue_work(san_rdma_wq, &conn->teardown_work);
		return;
	}
	/* Graceful: FIN after the data; teardown once it is delivered. */
	if (!conn->fin_sent && !conn->fin_pending)
		conn->fin_pending = true;
	san_rdma_tx_control(conn);
	now = conn->fin_acked || conn->dying ||
	      READ_ONCE(ssk->sk.sk_state) == TCP_CLOSE;
	/*
	 * As for an orphaned TCP socket, a close that cannot end is bounded.
	 * Queued under the lock: teardown sets dying under it before it
	 * cancels fin_work, so the work never outlives the connection.
	 */
	if (!now)
		queue_delayed_work(san_rdma_wq, &conn->fin_work,
				   READ_ONCE(sock_net(&ssk->sk)->ipv4.sysctl_tcp_fin_timeout));
	else
		now = san_rdma_claim_teardown(conn);
	spin_unlock_bh(&conn->lock);
	if (now)
		queue_work(san_rdma_wq, &conn->teardown_work);
}

static int san_rdma_init(void)
{
	int err;

	san_rdma_wq = alloc_workqueue("af_san", WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!san_rdma_wq)
		return -ENOMEM;
	err = ib_register_client(&san_rdma_client);
	if (err)
		destroy_workqueue(san_rdma_wq);
	return err;
}

static void san_rdma_exit(void)
{
	ib_unregister_client(&san_rdma_client);
	destroy_workqueue(san_rdma_wq);
}

/* TCP_NODELAY or TCP_CORK changed: a cork they no longer hold goes. */
static void san_rdma_tcp_opts(struct san_sock *ssk)
{
	struct san_rconn *conn = ssk->conn;

	spin_lock_bh(&conn->lock);
	if (!conn->broken)
		san_rdma_tx_control(conn);
	spin_unlock_bh(&conn->lock);
}

/* TCP_INFO: what has a meaning on an RDMA connection; the rest zero. */
static int san_rdma_tcp_getsockopt(struct san_sock *ssk, int optname,
				   char __user *optval, int __user *optlen)
{
	struct san_rconn *conn = ssk->conn;
	struct tcp_info info = {};
	int len;

	if (optname != TCP_INFO)
		return -ENOPROTOOPT;
	if (get_user(len, optlen))
		return -EFAULT;
	info.tcpi_state = READ_ONCE(ssk->sk.sk_state);
	info.tcpi_snd_mss = SAN_PAYLOAD_MAX;
	info.tcpi_rcv_mss = SAN_PAYLOAD_MAX;
	info.tcpi_advmss = SAN_PAYLOAD_MAX;
	spin_lock_bh(&conn->lock);
	/* Messages in flight, and the peer's receive buffers we may fill. */
	info.tcpi_unacked = conn->tx_data_inflight;
	info.tcpi_snd_cwnd = conn->credits;
	info.tcpi_rcv_space = conn->rbuf_count * SAN_PAYLOAD_MAX;
	info.tcpi_snd_wnd = conn->peer_rbuf_count * SAN_PAYLOAD_MAX;
	info.tcpi_notsent_bytes = conn->tx_cork ? conn->tx_cork->len : 0;
	spin_unlock_bh(&conn->lock);
	len = min_t(unsigned int, max(len, 0), sizeof(info));
	if (put_user(len, optlen) || copy_to_user(optval, &info, len))
		return -EFAULT;
	return 0;
}

const struct san_provider san_rdma_provider = {
	.name = "rdma",
	.init = san_rdma_init,
	.exit = san_rdma_exit,
	.open = san_rdma_open,
	.bind = san_rdma_bind,
	.tcp_ports = san_rdma_tcp_ports,
	.listen = san_rdma_listen,
	.connect = san_rdma_connect,
	.sendmsg = san_rdma_sendmsg,
	.recvmsg = san_rdma_recvmsg,
	.rx_queued = san_rdma_rx_queued,
	.rx_ready = san_rdma_rx_ready,
	.tx_queued = san_rdma_tx_queued,
	.tx_ready = san_rdma_tx_ready,
	.shutdown_tx = san_rdma_shutdown_tx,
	.tx_done = san_rdma_tx_done,
	.getname = san_rdma_getname,
	.zc_send = san_rdma_zc_send,
	.zc_recv = san_rdma_zc_recv,
	.zc_end = san_rdma_zc_end,
	.abort = san_rdma_abort,
	.reset = san_rdma_reset,
	.keepalive = san_rdma_keepalive,
	.tcp_opts = san_rdma_tcp_opts,
	.tcp_getsockopt = san_rdma_tcp_getsockopt,
	.close = san_rdma_close,
	.diag = san_rdma_diag,
};
