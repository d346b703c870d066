/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The RDMA provider's internal definitions: one struct san_rconn per
 * connection (or listener), shared by the connection manager side
 * (san_rdma.c) and the data path (san_rdma_data.c).
 */
#ifndef _SAN_RDMA_H
#define _SAN_RDMA_H

#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>
#include <rdma/ib_verbs.h>
#include <rdma/rdma_cm.h>

#include "san.h"
#include "san_wire.h"

/* Size of every receive and send buffer, header included. */
#define SAN_BUF_SIZE		16384
#define SAN_BUF_MIN		4
/* Buffers each way a connection starts with; more come with use. */
#define SAN_BUF_INIT		4
#define SAN_BUF_MAX		128
static_assert(SAN_BUF_MIN * SAN_BUF_SIZE == SAN_NET_BUF_MIN);
static_assert(SAN_BUF_MAX * SAN_BUF_SIZE == SAN_NET_BUF_MAX);
#define SAN_PAYLOAD_MAX		(SAN_BUF_SIZE - sizeof(struct san_msg_hdr))

/* RDMA READs a connection may have in flight in each direction. */
#define SAN_RD_ATOMIC		4

/* Local ACK timeout exponent (4.096 us * 2^N) of our QPs. */
#define SAN_ACK_TIMEOUT		19

/*
 * A sender out of credits that heard nothing from its peer for this long
 * probes it (TCP's zero-window probe): san_rdma_keepalive_work().
 */
#define SAN_PERSIST_SECS	5

/* rdma_cm address and route resolution limit, in ms. */
#define SAN_RESOLVE_TIMEOUT_MS	2000

/**
 * struct san_rbuf - a receive buffer
 * @cqe: completion context of its posted receive
 * @conn: owner
 * @data: kernel address; @dma: its DMA address
 * @len: payload bytes received in it
 * @off: payload bytes already read
 * @zc: it holds a SRC_AVAIL: @len stream bytes wait in the peer's memory
 * @node: entry in &san_rconn.rx_filled while it holds unread data
 */
struct san_rbuf {
	struct ib_cqe cqe;
	struct san_rconn *conn;
	void *data;
	u64 dma;
	u32 len;
	u32 off;
	bool zc;
	struct list_head node;
};

/**
 * struct san_tbuf - a send buffer
 * @cqe: completion context of its posted send
 * @conn: owner
 * @data: kernel address; @dma: its DMA address
 * @len: payload bytes in flight in it
 * @type: enum san_msg_type of the message in it
 * @node: entry in &san_rconn.tx_free while free
 */
struct san_tbuf {
	struct ib_cqe cqe;
	struct san_rconn *conn;
	void *data;
	u64 dma;
	u32 len;
	u8 type;
	struct list_head node;
};

/**
 * struct san_rconn - one RDMA connection or listener
 * @ssk: the socket; the connection holds a reference on it until freed
 * @id: rdma_cm id; its event handler sees this struct as context
 * @pd: protection domain; @cq: completion queue (sends and receives);
 * @qp: RC queue pair, once set up
 * @cm_mutex: serialises the rdma_cm event handler with teardown: once
 *	@dying is set under it, the handler touches nothing
 * @lock: the data path state below; taken with _bh, also from completion
 *	handlers (softirq)
 * @dying: teardown started (under @cm_mutex and @lock); no work item is
 *	queued from then on
 * @broken: the connection is being reset or was (under @lock): nothing
 *	new is posted, and every zero-copy transfer registered before it was
 *	set is flushed once the QP is drained (san_rdma_recover())
 * @removed: the device went away (under @lock): the QP, CQ, buffers and
 *	PD are released and rdma_cm destroyed the id; the provider's ops
 *	fail with ENETDOWN
 * @users: switch calls using the device's resources (san_rdma_get())
 *	outside @lock; the removal waits for them to leave
 * @laddr: local address, @raddr: peer address, once known (getname);
 *	under @lock
 * @rx_dead: the peer broke the protocol: nothing it sends from then on
 *	reaches the stream (under @lock)
 * @hs_work: a listener's child that does not reach ESTABLISHED in time
 *	(the peer never finishes the handshake) is dropped, as TCP's
 *	SYN-RECV after net.ipv4.tcp_synack_retries
 * @fail_err: errno a failure found under @lock reports from abort_work
 * @credit_pushed: a CREDIT arrived while our exposure waited for RD_DONE
 *	and we returned credits at once; again only after the next RD_DONE
 * @ka_inflight: a keepalive probe is posted; @ka_cqe: its completion
 * @bufs_unmapped: the buffers' DMA mappings went with the device
 * @zc_err_cqe: completion of the unsignaled work requests of zero-copy
 *	(REG_MR, all READs but the last): seen only when one fails or is
 *	flushed; a failure resets the connection
 * @listen_port: a listener's port, held in san_listen_ports until its id
 *	is destroyed (0: none)
 * @owner_gone: the switch let go of the connection (&san_provider.close)
 * @teardown_queued: @teardown_work is queued or ran
 * @rbuf_count: receive buffers; @tbuf_count: send buffers (allocated:
 *	they grow with use, under @lock, up to @rbuf_max and @tbuf_max,
 *	which SO_RCVBUF and SO_SNDBUF set at connection time)
 * @rx_grow: the peer used up its credits: the next reader adds buffers
 * @grow_pending: receive buffers added and not yet announced (GROW)
 * @peer_grow: the peer's hello has SAN_HELLO_GROW
 * @rbufs: receive buffers; @tbufs: send buffers
 * @rx_filled: receive buffers with unread data, in arrival order
 * @tx_free: free send buffers; @tx_free_count: how many
 * @rx_bytes: unread bytes; @tx_bytes: bytes sent, not yet completed
 * @tx_cork: a DATA message being filled, not posted (autocorking): small
 *	writes made while DATA is in flight join it, and it goes out when
 *	it is full, when no DATA is left in flight, or before a FIN or a
 *	SRC_AVAIL; the sender detaches it while it copies into it
 * @tx_data_inflight: DATA messages posted and not yet completed
 * @credits: peer receive buffers we may fill
 * @to_return: our receive buffers reposted and not yet reported
 * @peer_rbuf_count: the peer's receive buffers, from its hello
 * @fin_pending: our FIN waits for a credit; @fin_sent, @fin_acked: it was
 *	posted, completed; @fin_rcvd: the peer's FIN arrived
 * @peer_zcopy: the peer's hello offered zero-copy (SAN_HELLO_ZCOPY)
 * @sge_rd: scatter entries per RDMA READ work request
 * @zc_max: bytes one zero-copy send may expose at most (the device's
 *	max_fast_reg_page_list_len bounds its MR; 0: no zero-copy sends)
 * @zc_reads: we take the peer's exposures (READ them): not on iWARP, nor
 *	when the device's queues cannot hold a receive's READs
 * @zc_tx: our exposed zero-copy send, until the peer read all of it
 * @zc_rx: our RDMA READ in flight for a zero-copy receive
 * @zc_pf: our prefetch of the zero-copy bytes at the head of the stream
 *	(a non-blocking recv() met them), in flight or waiting to be read
 * @zc_pf_wait: @zc_pf's READ has not completed: readers wait for it
 * @rd_done: bytes read of the peer's SRC_AVAIL, to report in RD_DONE
 * @credit_now: return credits without waiting for half the buffers
 *	(a RD_DONE came: the peer may need them to send the next one)
 * @last_rx: jiffies of the last message received (keepalive)
 * @ka_work: keepalive: probes an idle connection with SO_KEEPALIVE, or a
 *	sender out of credits that hears nothing from its peer
 * @fin_work: a graceful close that could not end within
 *	net.ipv4.tcp_fin_timeout (the peer never returned a credit for the
 *	FIN, or never acknowledged it) is made abortive
 * @abort_work: moves the QP to error (the peer sees a reset)
 * @teardown_work: frees everything once the owner is gone
 * @rcu: the struct is freed after a grace period (the switch's poll)
 */
struct san_rconn {
	struct san_sock *ssk;
	struct rdma_cm_id *id;
	struct ib_pd *pd;
	struct ib_cq *cq;
	struct ib_qp *qp;
	struct mutex cm_mutex;	/* see above */
	spinlock_t lock;	/* see above */
	bool dying;
	bool broken;
	bool removed;
	bool rx_dead;
	struct delayed_work hs_work;
	int fail_err;
	bool credit_pushed;
	bool ka_inflight;
	bool bufs_unmapped;
	struct ib_cqe ka_cqe;
	u32 users;
	struct sockaddr_storage laddr;
	struct sockaddr_storage raddr;
	struct ib_cqe zc_err_cqe;
	u16 listen_port;
	bool owner_gone;
	bool teardown_queued;
	u32 rbuf_count;
	u32 tbuf_count;
	u32 rbuf_max;
	u32 tbuf_max;
	bool rx_grow;
	u32 grow_pending;
	bool peer_grow;
	struct san_rbuf *rbufs;
	struct san_tbuf *tbufs;
	struct list_head rx_filled;
	struct list_head tx_free;
	u32 tx_free_count;
	u32 rx_bytes;
	u32 tx_bytes;
	struct san_tbuf *tx_cork;
	u32 tx_data_inflight;
	u32 credits;
	u32 to_return;
	u32 peer_rbuf_count;
	bool fin_pending;
	bool fin_sent;
	bool fin_acked;
	bool fin_rcvd;
	bool peer_zcopy;
	u32 sge_rd;
	u32 zc_max;
	bool zc_reads;
	struct san_zc_op *zc_tx;
	struct san_zc_op *zc_rx;
	struct san_zc_op *zc_pf;
	bool zc_pf_wait;
	u32 rd_done;
	bool credit_now;
	unsigned long last_rx;
	struct delayed_work ka_work;
	struct delayed_work fin_work;
	struct work_struct abort_work;
	struct work_struct teardown_work;
	struct rcu_head rcu;
};

extern struct workqueue_struct *san_rdma_wq;

/* san_rdma_data.c */
int san_rdma_buffers_alloc(struct san_rconn *conn);
void san_rdma_buffers_free(struct san_rconn *conn);
int san_rdma_post_all_recvs(struct san_rconn *conn);
void san_rdma_fail(struct san_rconn *conn, int err);
bool san_rdma_flush_unexpected(struct san_rconn *conn);
void san_rdma_fail_locked(struct san_rconn *conn, int err);
void san_rdma_ka_done(struct ib_cq *cq, struct ib_wc *wc);

/*
 * Whether we offer zero-copy (ZCOPY in our hello) and so take SRC_AVAIL:
 * not on iWARP, where a READ's sink must be registered with remote write
 * access and we READ into pages named by the local DMA key, nor when the
 * device's queues cannot hold a receive's READs (san_rdma_fit_device()).
 */
static inline bool san_rdma_takes_zc(const struct san_rconn *conn)
{
	return conn->zc_reads;
}

void san_rdma_buffers_unmap(struct san_rconn *conn);
void san_rdma_rx_discard(struct san_rconn *conn);
void san_rdma_ka_arm(struct san_rconn *conn, unsigned long delay);
void san_rdma_tx_kick(struct san_rconn *conn);
void san_rdma_tx_control(struct san_rconn *conn);
void san_rdma_tx_uncork(struct san_rconn *conn);
void san_rdma_tx_grow(struct san_rconn *conn);
void san_rdma_keepalive_work(struct work_struct *work);
int san_rdma_sendmsg(struct san_sock *ssk, struct msghdr *msg, size_t len);
int san_rdma_recvmsg(struct san_sock *ssk, struct msghdr *msg, size_t len,
		     int flags);
u32 san_rdma_rx_queued(struct san_sock *ssk);
bool san_rdma_rx_ready(struct san_sock *ssk);
void san_rdma_diag(struct san_sock *ssk, struct san_diag_info *info);
u32 san_rdma_tx_queued(struct san_sock *ssk);
bool san_rdma_tx_ready(struct san_sock *ssk);
void san_rdma_shutdown_tx(struct san_sock *ssk);
bool san_rdma_tx_done(struct san_sock *ssk);

/* san_rdma.c */
void san_rdma_queue_teardown(struct san_rconn *conn);
bool san_rdma_get(struct san_rconn *conn);
void san_rdma_put(struct san_rconn *conn);

/* san_rdma_zc.c: zero-copy (SRC_AVAIL, RDMA READ, RD_DONE). */
struct san_zc_op;
/* Send work requests a connection keeps for zero-copy. */
u32 san_rdma_zc_read_wrs(u32 sge_rd);
bool san_rdma_zc_src_avail(struct san_rconn *conn, struct san_rbuf *rb);
bool san_rdma_zc_rd_done(struct san_rconn *conn, const void *payload);
int san_rdma_zc_pf_copy(struct san_rconn *conn, struct msghdr *msg,
			size_t len, u32 skip, bool peek);
void san_rdma_zc_flush(struct san_rconn *conn);
void san_rdma_zc_err_done(struct ib_cq *cq, struct ib_wc *wc);
int san_rdma_zc_send(struct san_sock *ssk, struct msghdr *msg, size_t len,
		     struct san_zc *zc);
int san_rdma_zc_recv(struct san_sock *ssk, struct msghdr *msg, size_t len,
		     int flags, struct san_zc *zc);
int san_rdma_zc_end(struct san_sock *ssk, struct san_zc *zc);
/* san_rdma_data.c, for san_rdma_zc.c */
struct san_tbuf *san_rdma_tx_get(struct san_rconn *conn, u8 type);
void san_rdma_tx_put_back(struct san_rconn *conn, struct san_tbuf *tb);
int san_rdma_post_send_chain(struct san_rconn *conn, struct san_tbuf *tb,
			     struct ib_send_wr *first);
int san_rdma_post_recv(struct san_rconn *conn, struct san_rbuf *rb);
bool san_rdma_rx_consumed(struct san_rconn *conn, struct san_rbuf *rb, u32 n);

#endif /* _SAN_RDMA_H */
