// SPDX-License-Identifier: GPL-2.0
/*
 * AF_SAN against a foreign peer (docs/semantics.md "Bad input and faults"):
 * a user-space rdma_cm program that speaks the wire protocol of
 * docs/wire.md badly.  A peer with another protocol version is refused with
 * a clear error, and a peer that sends a bad message loses its own
 * connection (a reset) while other connections carry on.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <rdma/rdma_cma.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "san_util.h"
#include "san_kick.h"

/* docs/wire.md */

struct wire_hello {
	uint32_t magic;
	uint16_t version;
	uint16_t flags;
	uint32_t rbuf_count;
	uint32_t rbuf_size;
} __attribute__((packed));

struct wire_reject {
	uint32_t magic;
	uint16_t version;
	uint16_t reason;
} __attribute__((packed));

struct wire_hdr {
	uint8_t type, flags;
	uint16_t credits;
	uint32_t len;
} __attribute__((packed));

static void make_hello(struct wire_hello *h, int version)
{
	h->magic = htonl(0x53414e31);
	h->version = htons(version);
	h->flags = 0;
	h->rbuf_count = htonl(8);
	h->rbuf_size = htonl(16384);
}

static struct rdma_cm_event *wait_event(struct rdma_event_channel *ch,
					enum rdma_cm_event_type want)
{
	struct rdma_cm_event *ev;

	if (rdma_get_cm_event(ch, &ev))
		return NULL;
	if (ev->event != want) {
		fprintf(stderr, "peer: got %s, wanted %s (status %d)\n",
			rdma_event_str(ev->event), rdma_event_str(want),
			ev->status);
		rdma_ack_cm_event(ev);
		return NULL;
	}
	return ev;
}

/*
 * A listener that accepts one connection with @version in its hello and,
 * when @garbage, sends a message with an unknown type once connected;
 * when @deaf, it advertises receive buffers but posts none, so that
 * nothing sent to it ever completes.  Writes its port to @portfd.  Runs
 * in a child; exit status 0 on success.
 */
static int foreign_listener_mode(const char *addr, int version, int garbage,
				 int deaf, int portfd)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct rdma_conn_param param = {};
	struct ibv_qp_init_attr qa = {};
	struct rdma_cm_event *ev;
	struct rdma_cm_id *lid, *id;
	struct wire_hello h;
	static char buf[8][16384];
	struct ibv_mr *mr;
	struct ibv_pd *pd;
	struct ibv_sge sge;
	struct ibv_send_wr swr = {}, *bad;
	struct ibv_recv_wr rwr = {}, *rbad;
	struct ibv_wc wc;
	uint16_t port;
	int i;

	if (!ch || rdma_create_id(ch, &lid, NULL, RDMA_PS_TCP))
		return 1;
	inet_pton(AF_INET, addr, &in.sin_addr);
	if (rdma_bind_addr(lid, (struct sockaddr *)&in) || rdma_listen(lid, 1))
		return 2;
	port = ntohs(rdma_get_src_port(lid));
	if (write(portfd, &port, sizeof(port)) != sizeof(port))
		return 3;
	ev = wait_event(ch, RDMA_CM_EVENT_CONNECT_REQUEST);
	if (!ev)
		return 4;
	id = ev->id;
	rdma_ack_cm_event(ev);

	pd = ibv_alloc_pd(id->verbs);
	mr = pd ? ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE) :
		  NULL;
	if (!mr)
		return 5;
	qa.cap.max_send_wr = 8;
	qa.cap.max_recv_wr = 8;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	qa.qp_type = IBV_QPT_RC;
	qa.sq_sig_all = 1;
	if (rdma_create_qp(id, pd, &qa))
		return 6;
	for (i = 0; i < (deaf ? 0 : 8); i++) {
		sge.addr = (uintptr_t)buf[i];
		sge.length = sizeof(buf[i]);
		sge.lkey = mr->lkey;
		rwr.sg_list = &sge;
		rwr.num_sge = 1;
		if (ibv_post_recv(id->qp, &rwr, &rbad))
			return 7;
	}
	make_hello(&h, version);
	param.private_data = &h;
	param.private_data_len = sizeof(h);
	param.retry_count = 7;
	param.rnr_retry_count = 7;
	if (rdma_accept(id, &param))
		return 8;
	if (version != 1) {
		/* The AF_SAN side drops us once it reads our hello. */
		for (i = 0; i < 2; i++) {
			if (rdma_get_cm_event(ch, &ev))
				return 9;
			enum rdma_cm_event_type t = ev->event;

			rdma_ack_cm_event(ev);
			if (t == RDMA_CM_EVENT_DISCONNECTED)
				return 0;
		}
		return 9;
	}
	ev = wait_event(ch, RDMA_CM_EVENT_ESTABLISHED);
	if (!ev)
		return 9;
	rdma_ack_cm_event(ev);
	if (garbage) {
		struct wire_hdr *hdr = (struct wire_hdr *)buf[7];

		hdr->type = 99;
		hdr->flags = 0;
		hdr->credits = 0;
		hdr->len = htonl(0);
		sge.addr = (uintptr_t)hdr;
		sge.length = sizeof(*hdr);
		swr.sg_list = &sge;
		swr.num_sge = 1;
		swr.opcode = IBV_WR_SEND;
		if (ibv_post_send(id->qp, &swr, &bad))
			return 10;
		while (ibv_poll_cq(id->send_cq, 1, &wc) == 0)
			usleep(1000);
	}
	/* The AF_SAN side resets us: disconnected. */
	ev = wait_event(ch, RDMA_CM_EVENT_DISCONNECTED);
	if (!ev)
		return 11;
	rdma_ack_cm_event(ev);
	rdma_destroy_qp(id);
	ibv_dereg_mr(mr);
	ibv_dealloc_pd(pd);
	rdma_destroy_id(id);
	rdma_destroy_id(lid);
	rdma_destroy_event_channel(ch);
	return 0;
}

FIXTURE(proto)
{
	int family;
	const char *addr;
	pid_t peer;
	int port;
	int fin_timeout;	/* to restore in teardown, or -1 */
};

FIXTURE_SETUP(proto)
{
	self->peer = -1;
	self->fin_timeout = -1;
	self->family = san_family();
	self->addr = getenv("SAN_SELF");
	if (self->family < 0)
		SAN_SETUP_SKIP("af_san is not loaded");
	if (!self->addr)
		SAN_SETUP_SKIP("SAN_SELF is not set: run in tools/testbox");
	ASSERT_EQ(NULL, san_wait_idle(10));
}

FIXTURE_TEARDOWN(proto)
{
	FILE *f;

	/* A test that changed net.ipv4.tcp_fin_timeout, even one that failed. */
	if (self->fin_timeout >= 0) {
		f = fopen("/proc/sys/net/ipv4/tcp_fin_timeout", "w");
		if (f) {
			fprintf(f, "%d\n", self->fin_timeout);
			fclose(f);
		}
	}
	if (self->family >= 0 && self->addr)
		EXPECT_EQ(NULL, san_wait_idle(20));
}

/* A foreign listener in a child (foreign_listener_mode()); its port. */
static void start_peer(struct __test_metadata *_metadata,
		       FIXTURE_DATA(proto) *self, int version, int garbage,
		       int deaf)
{
	int p[2];
	uint16_t port;

	ASSERT_EQ(0, pipe(p));
	self->peer = fork();
	ASSERT_GE(self->peer, 0);
	if (self->peer == 0)
		_exit(foreign_listener_mode(self->addr, version, garbage,
					    deaf, p[1]));
	close(p[1]);
	ASSERT_EQ(sizeof(port), read(p[0], &port, sizeof(port)));
	close(p[0]);
	self->port = port;
}

static int peer_status(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static int san_connect(int family, const char *addr, int port)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	int fd = socket(family, SOCK_STREAM, 0);

	inet_pton(AF_INET, addr, &in.sin_addr);
	if (connect(fd, (struct sockaddr *)&in, sizeof(in))) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

TEST_F(proto, listener_with_another_version_is_refused)
{
	start_peer(_metadata, self, 2, 0, 0);
	EXPECT_EQ(-1, san_connect(self->family, self->addr, self->port));
	EXPECT_EQ(EPROTO, errno) TH_LOG("errno %d", errno);
	EXPECT_EQ(0, peer_status(self->peer));
}

TEST_F(proto, connecting_peer_with_another_version_is_refused)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct sockaddr_in in = { .sin_family = AF_INET };
	struct rdma_conn_param param = {};
	const struct wire_reject *rej;
	struct ibv_qp_init_attr qa = {};
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;
	struct wire_hello h;
	socklen_t len = sizeof(in);
	int l;

	ASSERT_NE(NULL, ch);
	/* An AF_SAN listener. */
	l = socket(self->family, SOCK_STREAM, 0);
	inet_pton(AF_INET, self->addr, &in.sin_addr);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&in, sizeof(in)));
	ASSERT_EQ(0, listen(l, 4));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&in, &len));

	/* A foreign client saying version 2. */
	ASSERT_EQ(0, rdma_create_id(ch, &id, NULL, RDMA_PS_TCP));
	ASSERT_EQ(0, rdma_resolve_addr(id, NULL, (struct sockaddr *)&in, 2000));
	ev = wait_event(ch, RDMA_CM_EVENT_ADDR_RESOLVED);
	ASSERT_NE(NULL, ev);
	rdma_ack_cm_event(ev);
	ASSERT_EQ(0, rdma_resolve_route(id, 2000));
	ev = wait_event(ch, RDMA_CM_EVENT_ROUTE_RESOLVED);
	ASSERT_NE(NULL, ev);
	rdma_ack_cm_event(ev);
	qa.cap.max_send_wr = qa.cap.max_recv_wr = 1;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	qa.qp_type = IBV_QPT_RC;
	ASSERT_EQ(0, rdma_create_qp(id, NULL, &qa));
	make_hello(&h, 2);
	param.private_data = &h;
	param.private_data_len = sizeof(h);
	ASSERT_EQ(0, rdma_connect(id, &param));
	ev = wait_event(ch, RDMA_CM_EVENT_REJECTED);
	ASSERT_NE(NULL, ev);
	/* The reject says why, and which version the listener speaks. */
	rej = (const struct wire_reject *)ev->param.conn.private_data;
	ASSERT_NE(NULL, rej);
	EXPECT_EQ(0x53414e31, ntohl(rej->magic));
	EXPECT_EQ(1, ntohs(rej->version));
	EXPECT_EQ(1, ntohs(rej->reason));
	rdma_ack_cm_event(ev);
	rdma_destroy_qp(id);
	rdma_destroy_id(id);
	rdma_destroy_event_channel(ch);

	/* The listener is still fine: nothing was queued. */
	fcntl(l, F_SETFL, O_NONBLOCK);
	EXPECT_EQ(-1, accept(l, NULL, NULL));
	EXPECT_EQ(EAGAIN, errno);
	close(l);
}

TEST_F(proto, bad_message_resets_only_that_connection)
{
	struct sockaddr_in in = { .sin_family = AF_INET };
	socklen_t len = sizeof(in);
	int fd, l, a, b;
	char c;

	/* A healthy AF_SAN pair beside it. */
	l = socket(self->family, SOCK_STREAM, 0);
	inet_pton(AF_INET, self->addr, &in.sin_addr);
	ASSERT_EQ(0, bind(l, (struct sockaddr *)&in, sizeof(in)));
	ASSERT_EQ(0, listen(l, 4));
	ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&in, &len));
	a = san_connect(self->family, self->addr, ntohs(in.sin_port));
	ASSERT_GE(a, 0);
	b = accept(l, NULL, NULL);
	ASSERT_GE(b, 0);

	start_peer(_metadata, self, 1, 1, 0);
	fd = san_connect(self->family, self->addr, self->port);
	ASSERT_GE(fd, 0) TH_LOG("connect: %s", strerror(errno));
	EXPECT_EQ(-1, recv(fd, &c, 1, 0));
	EXPECT_EQ(ECONNRESET, errno);
	EXPECT_EQ(0, peer_status(self->peer));
	close(fd);

	/* The other connection carries on. */
	ASSERT_EQ(2, send(a, "ok", 2, 0));
	EXPECT_EQ(2, recv(b, &c, 2, MSG_WAITALL) == 2 ? 2 : -1);
	close(a);
	close(b);
	close(l);
}

/*
 * A graceful close that cannot end (a peer that never takes what we sent)
 * is bounded by net.ipv4.tcp_fin_timeout, then made abortive: the
 * connection's resources go and the peer sees the disconnect.
 */
TEST_F(proto, stuck_graceful_close_bounded_by_fin_timeout)
{
	int fd, old = 60;
	FILE *f;

	if (san_iwarp())
		SKIP(return, SAN_IWARP_NO_RNR);
	f = fopen("/proc/sys/net/ipv4/tcp_fin_timeout", "r+");
	if (!f)
		SKIP(return, "no net.ipv4.tcp_fin_timeout");
	ASSERT_EQ(1, fscanf(f, "%d", &old));
	self->fin_timeout = old;
	rewind(f);
	fprintf(f, "2\n");
	fclose(f);

	start_peer(_metadata, self, 1, 0, 1);
	fd = san_connect(self->family, self->addr, self->port);
	ASSERT_GE(fd, 0) TH_LOG("connect: %s", strerror(errno));
	ASSERT_EQ(4, send(fd, "deaf", 4, 0));
	EXPECT_EQ(0, close(fd));
	/* Still there while the FIN waits... */
	usleep(500000);
	EXPECT_EQ(1, san_stat("conns"));
	/* ...and gone after the timeout: the peer saw the disconnect. */
	EXPECT_EQ(NULL, san_wait_idle(20));
	EXPECT_EQ(0, peer_status(self->peer));
}

/* A foreign client connected to an AF_SAN listener, speaking zero-copy. */
struct fclient {
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	char *buf;		/* 8 receive buffers, a send buffer, then data */
};

#define FC_RBUF(fc, i)	((fc)->buf + (i) * 16384)
#define FC_SBUF(fc)	((fc)->buf + 8 * 16384)
#define FC_DATA(fc)	((fc)->buf + 9 * 16384)
#define FC_DATA_LEN	(1 << 20)

static int fclient_connect(struct fclient *fc, struct sockaddr_in *in)
{
	struct rdma_conn_param param = {};
	struct ibv_qp_init_attr qa = {};
	struct ibv_recv_wr rwr = {}, *rbad;
	struct rdma_cm_event *ev;
	struct ibv_sge sge;
	struct wire_hello h;
	int i;

	fc->ch = rdma_create_event_channel();
	if (!fc->ch || rdma_create_id(fc->ch, &fc->id, NULL, RDMA_PS_TCP) ||
	    rdma_resolve_addr(fc->id, NULL, (struct sockaddr *)in, 2000))
		return 1;
	ev = wait_event(fc->ch, RDMA_CM_EVENT_ADDR_RESOLVED);
	if (!ev)
		return 2;
	rdma_ack_cm_event(ev);
	if (rdma_resolve_route(fc->id, 2000))
		return 3;
	ev = wait_event(fc->ch, RDMA_CM_EVENT_ROUTE_RESOLVED);
	if (!ev)
		return 4;
	rdma_ack_cm_event(ev);
	fc->buf = calloc(1, 9 * 16384 + FC_DATA_LEN);
	fc->pd = ibv_alloc_pd(fc->id->verbs);
	fc->mr = fc->pd ? ibv_reg_mr(fc->pd, fc->buf, 9 * 16384 + FC_DATA_LEN,
				     IBV_ACCESS_LOCAL_WRITE) : NULL;
	if (!fc->mr)
		return 5;
	qa.cap.max_send_wr = qa.cap.max_recv_wr = 8;
	qa.cap.max_send_sge = qa.cap.max_recv_sge = 1;
	qa.qp_type = IBV_QPT_RC;
	qa.sq_sig_all = 1;
	if (rdma_create_qp(fc->id, fc->pd, &qa))
		return 6;
	for (i = 0; i < 8; i++) {
		sge.addr = (uintptr_t)FC_RBUF(fc, i);
		sge.length = 16384;
		sge.lkey = fc->mr->lkey;
		rwr.wr_id = i;
		rwr.sg_list = &sge;
		rwr.num_sge = 1;
		if (ibv_post_recv(fc->id->qp, &rwr, &rbad))
			return 7;
	}
	make_hello(&h, 1);
	h.flags = htons(1);	/* ZCOPY */
	param.private_data = &h;
	param.private_data_len = sizeof(h);
	param.initiator_depth = 1;
	param.responder_resources = 1;
	param.retry_count = 6;
	param.rnr_retry_count = 7;
	if (rdma_connect(fc->id, &param))
		return 8;
	ev = wait_event(fc->ch, RDMA_CM_EVENT_ESTABLISHED);
	if (!ev)
		return 9;
	rdma_ack_cm_event(ev);
	return 0;
}

static void fclient_close(struct fclient *fc)
{
	rdma_disconnect(fc->id);
	rdma_destroy_qp(fc->id);
	ibv_dereg_mr(fc->mr);
	ibv_dealloc_pd(fc->pd);
	rdma_destroy_id(fc->id);
	rdma_destroy_event_channel(fc->ch);
	free(fc->buf);
}

/* One completion of @cq within 10 s: its status, or -1. */
static int fclient_poll(struct ibv_cq *cq, struct ibv_wc *wc)
{
	int i, n;

	for (i = 0; i < 10000; i++) {
		n = ibv_poll_cq(cq, 1, wc);
		if (n)
			return n < 0 ? -1 : (int)wc->status;
		usleep(1000);
	}
	return -1;
}

/* RDMA READ @len bytes at @addr/@rkey into FC_DATA: the status. */
static int fclient_read(struct fclient *fc, uint64_t addr, uint32_t rkey,
			uint32_t len)
{
	struct ibv_send_wr wr = {}, *bad;
	struct ibv_sge sge = {
		.addr = (uintptr_t)FC_DATA(fc), .length = len,
		.lkey = fc->mr->lkey,
	};
	struct ibv_wc wc;

	wr.opcode = IBV_WR_RDMA_READ;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.wr.rdma.remote_addr = addr;
	wr.wr.rdma.rkey = rkey;
	if (ibv_post_send(fc->id->qp, &wr, &bad))
		return -1;
	return fclient_poll(fc->id->send_cq, &wc);
}

/* SEND a message of @type with @payload: the status. */
static int fclient_send(struct fclient *fc, int type, const void *payload,
			uint32_t len)
{
	struct wire_hdr *hdr = (struct wire_hdr *)FC_SBUF(fc);
	struct ibv_send_wr wr = {}, *bad;
	struct ibv_sge sge = {
		.addr = (uintptr_t)hdr, .length = sizeof(*hdr) + len,
		.lkey = fc->mr->lkey,
	};
	struct ibv_wc wc;

	hdr->type = type;
	hdr->flags = 0;
	hdr->credits = 0;
	hdr->len = htonl(len);
	memcpy(hdr + 1, payload, len);
	wr.opcode = IBV_WR_SEND;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	if (ibv_post_send(fc->id->qp, &wr, &bad))
		return -1;
	return fclient_poll(fc->id->send_cq, &wc);
}

struct wire_src_avail {
	uint64_t addr;
	uint32_t rkey;
	uint32_t len;
} __attribute__((packed));

struct zc_sender {
	pthread_t thread;
	int fd;
	char *buf;
	size_t len;
	ssize_t sent;
};

static void *zc_sender_main(void *arg)
{
	struct zc_sender *zs = arg;

	zs->sent = send(zs->fd, zs->buf, zs->len, 0);
	return NULL;
}

static int an_af_san_listener(int family, const char *addr,
			      struct sockaddr_in *in)
{
	socklen_t len = sizeof(*in);
	int l = socket(family, SOCK_STREAM, 0);

	memset(in, 0, sizeof(*in));
	in->sin_family = AF_INET;
	inet_pton(AF_INET, addr, &in->sin_addr);
	if (l < 0 || bind(l, (struct sockaddr *)in, sizeof(*in)) ||
	    listen(l, 4) || getsockname(l, (struct sockaddr *)in, &len))
		return -1;
	return l;
}

/*
 * The remote key of a zero-copy send works while the call runs and no
 * longer once it returned: a foreign receiver READs the exposed bytes,
 * reports them with RD_DONE, send() returns, and the same READ again
 * fails.
 */
TEST_F(proto, zero_copy_key_dies_with_the_call)
{
	struct zc_sender zs = { .len = 256 * 1024 };
	const struct wire_src_avail *sa;
	const struct wire_hdr *hdr;
	struct fclient fc = {};
	struct sockaddr_in in;
	struct ibv_wc wc;
	uint32_t done;
	size_t i;
	int l;

	l = an_af_san_listener(self->family, self->addr, &in);
	ASSERT_GE(l, 0);
	ASSERT_EQ(0, fclient_connect(&fc, &in));
	zs.fd = accept(l, NULL, NULL);
	ASSERT_GE(zs.fd, 0);
	zs.buf = malloc(zs.len);
	for (i = 0; i < zs.len; i++)
		zs.buf[i] = i * 11;
	pthread_create(&zs.thread, NULL, zc_sender_main, &zs);

	/* The exposure arrives: READ it all, as a receiver does. */
	ASSERT_EQ(IBV_WC_SUCCESS, fclient_poll(fc.id->recv_cq, &wc));
	hdr = (const struct wire_hdr *)FC_RBUF(&fc, wc.wr_id);
	ASSERT_EQ(4, hdr->type);
	sa = (const struct wire_src_avail *)(hdr + 1);
	ASSERT_EQ(zs.len, ntohl(sa->len));
	ASSERT_EQ(IBV_WC_SUCCESS,
		  fclient_read(&fc, be64toh(sa->addr), ntohl(sa->rkey),
			       zs.len));
	EXPECT_EQ(0, memcmp(FC_DATA(&fc), zs.buf, zs.len));
	/* Until RD_DONE the call is still running... */
	usleep(200000);
	EXPECT_EQ(0, zs.sent);
	done = htonl(zs.len);
	ASSERT_EQ(IBV_WC_SUCCESS, fclient_send(&fc, 5, &done, sizeof(done)));
	pthread_join(zs.thread, NULL);
	EXPECT_EQ((ssize_t)zs.len, zs.sent);
	/* ...and once it returned, its key reads nothing any more. */
	EXPECT_NE(IBV_WC_SUCCESS,
		  fclient_read(&fc, be64toh(sa->addr), ntohl(sa->rkey), 64));
	close(zs.fd);
	close(l);
	fclient_close(&fc);
	free(zs.buf);
}

/*
 * A forged key in a SRC_AVAIL: our READ fails, and that connection alone
 * is reset.
 */
TEST_F(proto, forged_key_resets_connection)
{
	struct wire_src_avail sa = {
		.addr = htobe64(0x10000), .rkey = htonl(0xdeadbe00),
		.len = htonl(100000),
	};
	struct fclient fc = {};
	struct sockaddr_in in;
	char buf[4096];
	int l, fd;

	l = an_af_san_listener(self->family, self->addr, &in);
	ASSERT_GE(l, 0);
	ASSERT_EQ(0, fclient_connect(&fc, &in));
	fd = accept(l, NULL, NULL);
	ASSERT_GE(fd, 0);
	ASSERT_EQ(IBV_WC_SUCCESS, fclient_send(&fc, 4, &sa, sizeof(sa)));
	EXPECT_EQ(-1, recv(fd, buf, sizeof(buf), 0));
	EXPECT_EQ(ECONNRESET, errno);
	close(fd);
	close(l);
	fclient_close(&fc);
}

/*
 * Cancellation of a lingering close (docs/semantics.md "Cancellation"): the
 * deaf peer never acknowledges, so close() with SO_LINGER waits; a caught
 * signal stops the wait, the connection is aborted at once (not after the
 * FIN timeout), close() still returns 0 and the peer sees the disconnect.
 */
TEST_F(proto, lingering_close_cancelled_aborts)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 60 };
	struct kicker k;
	int fd;

	if (san_iwarp())
		SKIP(return, SAN_IWARP_NO_RNR);
	start_peer(_metadata, self, 1, 0, 1);
	fd = san_connect(self->family, self->addr, self->port);
	ASSERT_GE(fd, 0) TH_LOG("connect: %s", strerror(errno));
	ASSERT_EQ(0, setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)));
	ASSERT_EQ(4, send(fd, "deaf", 4, 0));
	catch_signal(SIGUSR1, SA_RESTART);
	kick_me(&k, SYS_close, SYS_close, SIGUSR1, 100);
	EXPECT_EQ(0, close(fd));
	pthread_join(k.thread, NULL);
	ASSERT_NE(0, k.sent_ms) TH_LOG("close() never lingered");
	EXPECT_EQ(1, caught);
	EXPECT_GE(bound_ms(100), now_ms() - k.sent_ms);
	/* Aborted: everything goes at once, the peer sees the disconnect. */
	EXPECT_EQ(NULL, san_wait_idle(bound_ms(1000) / 1000 + 1));
	EXPECT_EQ(0, peer_status(self->peer));
	signal(SIGUSR1, SIG_DFL);
}

TEST_HARNESS_MAIN
