// SPDX-License-Identifier: GPL-2.0
/*
 * What an operator sees: every AF_SAN socket through sock_diag
 * (linux/san_diag.h) with its state, provider, addresses, queues, buffers
 * and counters; the filters (state, inode, namespace); a dump larger than
 * one netlink reply; tools/sanstat's output; the af_san tracepoints of a
 * cancelled call; the module-wide counters by cancellation row.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <linux/san_diag.h>

#include "kselftest_harness.h"
#include "san_util.h"

#define TCPS_ESTABLISHED	1
#define TCPS_LISTEN		10
#define QP_WR_KNOB "/sys/module/af_san/parameters/test_max_qp_wr"
#define SAN_TEST_BUF_MIN	4	/* buffers a connection starts with */

/* What a dump said about one socket. */
struct seen {
	struct san_diag_msg msg;
	struct san_diag_info info;
	struct san_diag_counters ctr;
	int has_info, has_ctr;
};

/*
 * Dumps the sockets that match @states/@ino with @show; calls @fn for
 * each.  Returns the number of sockets, or -errno.
 */
static int diag_dump(int family, unsigned int states, unsigned int ino,
		     unsigned int show, void (*fn)(const struct seen *, void *),
		     void *arg)
{
	struct {
		struct nlmsghdr nlh;
		struct san_diag_req req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 7,
		},
		.req = {
			.sdiag_family = family,
			.sdiag_states = states,
			.sdiag_ino = ino,
			.sdiag_show = show,
		},
	};
	static char buf[32768] __attribute__((aligned(8)));
	int fd, count = 0, done = 0;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return -errno;
	if (send(fd, &msg, sizeof(msg), 0) < 0) {
		count = -errno;
		goto out;
	}
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n <= 0) {
			count = n < 0 ? -errno : -EIO;
			break;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			struct seen s = {};
			struct nlattr *a;
			int alen;

			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				count = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				done = 1;
				break;
			}
			memcpy(&s.msg, NLMSG_DATA(h), sizeof(s.msg));
			alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(s.msg));
			a = (struct nlattr *)((char *)NLMSG_DATA(h) +
					      NLMSG_ALIGN(sizeof(s.msg)));
			while (alen >= (int)sizeof(*a) &&
			       a->nla_len >= sizeof(*a) && a->nla_len <= alen) {
				void *p = (char *)a + NLA_HDRLEN;

				if (a->nla_type == SAN_DIAG_INFO &&
				    a->nla_len == NLA_HDRLEN + sizeof(s.info)) {
					memcpy(&s.info, p, sizeof(s.info));
					s.has_info = 1;
				}
				if (a->nla_type == SAN_DIAG_COUNTERS &&
				    a->nla_len == NLA_HDRLEN + sizeof(s.ctr)) {
					memcpy(&s.ctr, p, sizeof(s.ctr));
					s.has_ctr = 1;
				}
				alen -= NLA_ALIGN(a->nla_len);
				a = (struct nlattr *)((char *)a +
						      NLA_ALIGN(a->nla_len));
			}
			count++;
			if (fn)
				fn(&s, arg);
		}
	}
out:
	close(fd);
	return count;
}

struct find {
	unsigned int id;
	int found;
	struct seen s;
};

static void find_cb(const struct seen *s, void *arg)
{
	struct find *f = arg;

	if (s->msg.sdiag_id == f->id) {
		f->found++;
		f->s = *s;
	}
}

static unsigned int sock_id(int fd)
{
	unsigned int id = 0;
	socklen_t len = sizeof(id);

	if (getsockopt(fd, SOL_SAN, SAN_SOCK_ID, &id, &len))
		return 0;
	return id;
}

static unsigned int sock_ino(int fd)
{
	struct stat st;

	return fstat(fd, &st) ? 0 : st.st_ino;
}

/* The socket whose id @fd has, as the dump shows it; found == 1 if once. */
static struct find diag_find(int family, int fd, unsigned int states)
{
	struct find f = { .id = sock_id(fd) };

	diag_dump(family, states, 0, SAN_SHOW_INFO | SAN_SHOW_COUNTERS,
		  find_cb, &f);
	return f;
}

static int set_qp_wr_limit(unsigned int n)
{
	FILE *f = fopen(QP_WR_KNOB, "w");
	int ok;

	if (!f)
		return -1;
	ok = fprintf(f, "%u\n", n) > 0;
	return fclose(f) == 0 && ok ? 0 : -1;
}

FIXTURE(obs)
{
	int family, lsn, cli, srv, port;
	struct sockaddr_storage self;
	socklen_t self_len;
};

FIXTURE_SETUP(obs)
{
	const char *addr = getenv("SAN_SELF");

	self->lsn = self->cli = self->srv = -1;
	self->family = san_family();
	set_qp_wr_limit(0);	/* whatever a killed test left */
	if (self->family < 0)
		SAN_SETUP_SKIP("af_san is not loaded");
	if (!addr)
		SAN_SETUP_SKIP("SAN_SELF (an address on an RDMA device) is not set: run in tools/testbox");
	self->self_len = set_addr(&self->self, AF_INET, addr, 0);
	ASSERT_GT(self->self_len, 0);
	ASSERT_EQ(NULL, san_wait_idle(10));
}

FIXTURE_TEARDOWN(obs)
{
	/* A test that lowered the work-request limit, even one that failed. */
	set_qp_wr_limit(0);
	if (self->cli >= 0)
		close(self->cli);
	if (self->srv >= 0)
		close(self->srv);
	if (self->lsn >= 0)
		close(self->lsn);
	if (self->family >= 0)
		EXPECT_EQ(NULL, san_wait_idle(20));
}

/* A listener and an RDMA connection to it, on SAN_SELF. */
static void make_pair(struct __test_metadata *_metadata,
		      FIXTURE_DATA(obs) *self)
{
	struct sockaddr_storage got, dst;
	socklen_t len = sizeof(got);

	self->lsn = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, bind(self->lsn, (struct sockaddr *)&self->self,
			  self->self_len));
	ASSERT_EQ(0, listen(self->lsn, 7));
	ASSERT_EQ(0, getsockname(self->lsn, (struct sockaddr *)&got, &len));
	self->port = addr_port(&got);
	dst = self->self;
	addr_set_port(&dst, self->port);
	self->cli = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, self->cli);
	san_rdma_only(self->cli);
	ASSERT_EQ(0, connect(self->cli, (struct sockaddr *)&dst,
			     self->self_len)) TH_LOG("connect: %m");
	self->srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, self->srv);
}

static void recv_all(struct __test_metadata *_metadata, int fd, char *buf,
		     size_t len)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n = recv(fd, buf + off, len - off, 0);

		ASSERT_LT(0, n) TH_LOG("recv: %m");
		off += n;
	}
}

/*
 * The listener and both ends, with what each did: states, provider,
 * addresses and ports on both sides, queues, buffers, credits, counters.
 */
TEST_F(obs, dump_shows_listener_and_both_ends)
{
	size_t len = 100000;
	char *buf = malloc(len);
	struct find l, c, s;
	int one = 1, zcoff = INT_MAX, st;
	pid_t pid;

	ASSERT_NE(NULL, buf);
	make_pair(_metadata, self);
	/* Copy path only: the counters below are the copy path's. */
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SAN, SAN_ZCOPY_THRESHOLD,
				&zcoff, sizeof(zcoff)));
	ASSERT_EQ(0, setsockopt(self->srv, SOL_SAN, SAN_ZCOPY_THRESHOLD,
				&zcoff, sizeof(zcoff)));
	memset(buf, 'x', len);
	/* A child sends (the peer's buffers hold less than len). */
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		size_t off = 0;

		while (off < len) {
			ssize_t n = send(self->cli, buf + off, len - off, 0);

			if (n <= 0)
				_exit(1);
			off += n;
		}
		/* 3 bytes left unread on the server's side. */
		_exit(send(self->cli, "abc", 3, 0) == 3 ? 0 : 2);
	}
	recv_all(_metadata, self->srv, buf, len);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_EQ(0, WEXITSTATUS(st));
	ASSERT_EQ(0, setsockopt(self->srv, SOL_SOCKET, SO_KEEPALIVE, &one,
				sizeof(one)));
	san_wait_data(self->srv);

	l = diag_find(self->family, self->lsn, ~0U);
	c = diag_find(self->family, self->cli, ~0U);
	s = diag_find(self->family, self->srv, ~0U);
	ASSERT_EQ(1, l.found);
	ASSERT_EQ(1, c.found);
	ASSERT_EQ(1, s.found);

	EXPECT_EQ(TCPS_LISTEN, l.s.msg.sdiag_state);
	EXPECT_EQ(self->port, l.s.msg.sdiag_sport);
	EXPECT_EQ(7, l.s.msg.sdiag_wqueue);	/* backlog */
	EXPECT_EQ(0, l.s.msg.sdiag_rqueue);	/* nothing queued */
	EXPECT_EQ(sock_ino(self->lsn), l.s.msg.sdiag_ino);
	EXPECT_EQ(getuid(), l.s.msg.sdiag_uid);

	EXPECT_EQ(TCPS_ESTABLISHED, c.s.msg.sdiag_state);
	EXPECT_EQ(TCPS_ESTABLISHED, s.s.msg.sdiag_state);
	EXPECT_EQ(SAN_PROVIDER_RDMA, c.s.msg.sdiag_provider);
	EXPECT_EQ(SAN_PROVIDER_RDMA, s.s.msg.sdiag_provider);
	EXPECT_EQ(SAN_FALLBACK_NONE, c.s.msg.sdiag_fallback);
	EXPECT_EQ(AF_INET, c.s.msg.sdiag_family);
	EXPECT_EQ(self->port, c.s.msg.sdiag_dport);
	EXPECT_EQ(self->port, s.s.msg.sdiag_sport);
	EXPECT_EQ(c.s.msg.sdiag_sport, s.s.msg.sdiag_dport);
	EXPECT_EQ(((struct sockaddr_in *)&self->self)->sin_addr.s_addr,
		  c.s.msg.sdiag_dst[0]);
	EXPECT_EQ(c.s.msg.sdiag_src[0], s.s.msg.sdiag_dst[0]);
	EXPECT_EQ(3, s.s.msg.sdiag_rqueue);
	EXPECT_EQ(sock_ino(self->srv), s.s.msg.sdiag_ino);

	ASSERT_TRUE(c.s.has_info && s.s.has_info && c.s.has_ctr);
	EXPECT_EQ(0, c.s.info.ipproto_san);
	EXPECT_EQ(SAN_POLICY_RDMA_ONLY, c.s.info.policy);
	EXPECT_EQ(SAN_CANCEL_ABORT, c.s.info.cancel_policy);
	EXPECT_LT(0, c.s.info.tx_bufs);
	EXPECT_LT(0, s.s.info.rx_bufs);
	EXPECT_LT(0, c.s.info.peer_rx_bufs);
	/* Credits are the peer's buffers we may fill: never more. */
	EXPECT_LE(c.s.info.tx_credits, c.s.info.peer_rx_bufs);
	/* Buffers are added first, announced (GROW) after. */
	EXPECT_LE(c.s.info.peer_rx_bufs, s.s.info.rx_bufs);
	EXPECT_LT(0, c.s.info.reg_bytes);
	EXPECT_EQ(0, c.s.info.aborted);

	EXPECT_EQ(len + 3, c.s.ctr.bytes_sent);
	EXPECT_EQ(0, c.s.ctr.bytes_received);
	EXPECT_EQ(len, s.s.ctr.bytes_received);
	EXPECT_LE(2, c.s.ctr.sends);
	EXPECT_LE(1, s.s.ctr.recvs);
	EXPECT_EQ(0, c.s.ctr.zc_sends);
	EXPECT_EQ(0, c.s.ctr.cancels);
	free(buf);
}

/* Zero-copy transfers are counted on both sides, bytes and calls. */
TEST_F(obs, dump_counts_zero_copy)
{
	size_t len = 1 << 20;
	char *out = malloc(len), *in = malloc(len);
	struct find c, s;
	pid_t pid;
	int st;

	if (san_iwarp())
		SKIP(return, SAN_IWARP_NO_ZC);
	ASSERT_TRUE(out && in);
	make_pair(_metadata, self);
	memset(out, 'z', len);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		_exit(send(self->cli, out, len, 0) == (ssize_t)len ? 0 : 1);
	}
	recv_all(_metadata, self->srv, in, len);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_EQ(0, WEXITSTATUS(st));
	EXPECT_EQ(0, memcmp(out, in, len));
	c = diag_find(self->family, self->cli, ~0U);
	s = diag_find(self->family, self->srv, ~0U);
	ASSERT_EQ(1, c.found);
	ASSERT_EQ(1, s.found);
	EXPECT_EQ(len, c.s.ctr.bytes_sent);
	EXPECT_LE(1, c.s.ctr.zc_sends);
	EXPECT_LT(0, c.s.ctr.zc_bytes_sent);
	EXPECT_LE(c.s.ctr.zc_bytes_sent, len);
	EXPECT_EQ(len, s.s.ctr.bytes_received);
	EXPECT_LE(1, s.s.ctr.zc_recvs);
	EXPECT_EQ(c.s.ctr.zc_bytes_sent, s.s.ctr.zc_bytes_received);
	free(out);
	free(in);
}

static void count_cb(const struct seen *s, void *arg)
{
	int *states = arg;

	states[s->msg.sdiag_state & 15]++;
}

/* The state filter and the inode filter select what they say. */
TEST_F(obs, filters_by_state_and_inode)
{
	int states[16] = {}, n;
	struct find f = {};

	make_pair(_metadata, self);
	n = diag_dump(self->family, 1U << TCPS_LISTEN, 0, 0, count_cb,
		      states);
	EXPECT_LE(1, n);
	EXPECT_EQ(n, states[TCPS_LISTEN]);
	f.id = sock_id(self->cli);
	n = diag_dump(self->family, ~0U, sock_ino(self->cli), 0, find_cb, &f);
	EXPECT_EQ(1, n);
	EXPECT_EQ(1, f.found);
	/* A state the socket is not in hides it. */
	f.found = 0;
	n = diag_dump(self->family, 1U << TCPS_LISTEN, sock_ino(self->cli), 0,
		      find_cb, &f);
	EXPECT_EQ(0, n);
	EXPECT_EQ(0, f.found);
}

struct idset {
	unsigned char *seen;
	unsigned int lo, hi;
	int dups;
};

static void ids_cb(const struct seen *s, void *arg)
{
	struct idset *ids = arg;
	unsigned int id = s->msg.sdiag_id;

	if (id < ids->lo || id > ids->hi)
		return;
	if (ids->seen[id - ids->lo]++)
		ids->dups++;
}

/*
 * 600 sockets take several netlink replies: each is listed once, none
 * is missed, and sockets closed meanwhile do not upset the dump.
 */
TEST_F(obs, large_dump_lists_each_socket_once)
{
	enum { N = 600 };
	int fds[N], i, missing = 0;
	struct idset ids = {};

	for (i = 0; i < N; i++) {
		fds[i] = socket(self->family, SOCK_STREAM, 0);
		ASSERT_LE(0, fds[i]);
	}
	ids.lo = sock_id(fds[0]);
	ids.hi = sock_id(fds[N - 1]);
	ASSERT_EQ(N - 1, ids.hi - ids.lo);
	ids.seen = calloc(N, 1);
	ASSERT_NE(NULL, ids.seen);
	ASSERT_LE(N, diag_dump(self->family, ~0U, 0,
			       SAN_SHOW_INFO | SAN_SHOW_COUNTERS, ids_cb,
			       &ids));
	for (i = 0; i < N; i++)
		missing += !ids.seen[i];
	EXPECT_EQ(0, missing);
	EXPECT_EQ(0, ids.dups);
	for (i = 0; i < N; i++)
		close(fds[i]);
	memset(ids.seen, 0, N);
	ids.dups = 0;
	diag_dump(self->family, ~0U, 0, 0, ids_cb, &ids);
	for (i = 0; i < N; i++)
		EXPECT_EQ(0, ids.seen[i]);
	free(ids.seen);
}

/* A dump lists only the sockets of the caller's network namespace. */
TEST_F(obs, dump_sees_its_namespace_only)
{
	unsigned int mine;
	int fd, status;
	pid_t pid;

	if (geteuid())
		SKIP(return, "needs root (unshare)");
	fd = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	mine = sock_id(fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct find f = { .id = mine };
		int other;

		if (unshare(CLONE_NEWNET))
			_exit(10);
		other = socket(self->family, SOCK_STREAM, 0);
		if (other < 0)
			_exit(11);
		if (diag_dump(self->family, ~0U, 0, 0, find_cb, &f) < 1)
			_exit(12);	/* its own socket at least */
		_exit(f.found ? 13 : 0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	close(fd);
}

/* Any user may list sockets, as with ss; the uid is the creator's. */
TEST_F(obs, unprivileged_dump_and_uid)
{
	int status;
	pid_t pid;

	if (geteuid())
		SKIP(return, "needs root to change uid");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		struct find f;
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		fd = socket(self->family, SOCK_STREAM, 0);
		if (fd < 0)
			_exit(11);
		f = diag_find(self->family, fd, ~0U);
		if (f.found != 1)
			_exit(12);
		_exit(f.s.msg.sdiag_uid == 65534 ? 0 : 13);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

struct dumper {
	int family;
	volatile int stop;
	long dumps, bad;
};

static void *dump_loop(void *arg)
{
	struct dumper *d = arg;

	while (!d->stop) {
		if (diag_dump(d->family, ~0U, 0,
			      SAN_SHOW_INFO | SAN_SHOW_COUNTERS, NULL,
			      NULL) < 0)
			d->bad++;
		d->dumps++;
	}
	return NULL;
}

/*
 * Dumps with details while connections come and go under them: children
 * waiting in an accept queue are dropped when their listener closes,
 * established ones are closed by both ends, over RDMA and over TCP.  The
 * dump must never ask a provider about a connection being handed back
 * (the debug kernel's KASAN would see it), and must always end.
 */
TEST_F(obs, dumps_race_closes_and_dropped_children)
{
	static const int policies[] = { SAN_POLICY_RDMA_ONLY,
					SAN_POLICY_TCP_ONLY };
	struct dumper d = { .family = self->family };
	int round, i, k, rounds = san_scaled(40) > 4 ? 12 : 4;
	pthread_t t;

	ASSERT_EQ(0, pthread_create(&t, NULL, dump_loop, &d));
	for (round = 0; round < rounds; round++) {
		int pol = policies[round % 2], cli[4], l, port, srv;
		struct sockaddr_storage got, dst;
		socklen_t len = sizeof(got);

		l = socket(self->family, SOCK_STREAM, 0);
		ASSERT_LE(0, l);
		ASSERT_EQ(0, setsockopt(l, SOL_SAN, SAN_POLICY, &pol,
					sizeof(pol)));
		ASSERT_EQ(0, bind(l, (struct sockaddr *)&self->self,
				  self->self_len));
		ASSERT_EQ(0, listen(l, 8));
		ASSERT_EQ(0, getsockname(l, (struct sockaddr *)&got, &len));
		port = addr_port(&got);
		dst = self->self;
		addr_set_port(&dst, port);
		for (i = 0; i < 4; i++) {
			cli[i] = socket(self->family, SOCK_STREAM, 0);
			ASSERT_LE(0, cli[i]);
			ASSERT_EQ(0, setsockopt(cli[i], SOL_SAN, SAN_POLICY,
						&pol, sizeof(pol)));
			ASSERT_EQ(0, connect(cli[i], (struct sockaddr *)&dst,
					     self->self_len))
				TH_LOG("connect: %m");
		}
		/* One accepted, closed by both ends; the rest left queued. */
		srv = accept(l, NULL, NULL);
		ASSERT_LE(0, srv);
		close(srv);
		close(cli[0]);
		/* The listener's close drops the queued children. */
		close(l);
		for (k = 1; k < 4; k++)
			close(cli[k]);
	}
	d.stop = 1;
	pthread_join(t, NULL);
	EXPECT_LT(0, d.dumps);
	EXPECT_EQ(0, d.bad);
}

/* Runs tools/sanstat ARGS; its output in @out, its exit status returned. */
static int sanstat(const char *args, char *out, size_t len)
{
	const char *b = getenv("SAN_BUILD");
	char cmd[512];
	size_t got = 0;
	FILE *p;
	int st;

	snprintf(cmd, sizeof(cmd), "%s/tools/sanstat %s 2>&1",
		 b ? b : "build", args);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	while (got < len - 1) {
		size_t n = fread(out + got, 1, len - 1 - got, p);

		if (!n)
			break;
		got += n;
	}
	out[got] = 0;
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* sanstat OPTS -p PORT shows @shown and not @hidden. */
static void sanstat_filter(struct __test_metadata *_metadata,
			   const char *opts, int port, const char *shown,
			   const char *hidden)
{
	static char out[1 << 16];
	char args[64];

	snprintf(args, sizeof(args), "%s -p %d", opts, port);
	ASSERT_EQ(0, sanstat(args, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, shown)) TH_LOG("%s: %s", args, out);
	EXPECT_EQ(NULL, strstr(out, hidden)) TH_LOG("%s: %s", args, out);
}

/* sanstat prints the sockets as ss does, with its filters and details. */
TEST_F(obs, sanstat_prints_sockets)
{
	static char out[1 << 16];
	char want[128], args[64];
	const char *b = getenv("SAN_BUILD");
	char path[256];

	snprintf(path, sizeof(path), "%s/tools/sanstat", b ? b : "build");
	if (access(path, X_OK))
		SKIP(return, "%s not built", path);
	make_pair(_metadata, self);

	/* Default: connections, no listener. */
	ASSERT_EQ(0, sanstat("", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "State")) TH_LOG("%s", out);
	snprintf(want, sizeof(want), ":%d ", self->port);
	EXPECT_NE(NULL, strstr(out, "established")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, " rdma")) TH_LOG("%s", out);
	EXPECT_EQ(NULL, strstr(out, "listen")) TH_LOG("%s", out);

	/* Listeners only; one state by name: each without the other. */
	sanstat_filter(_metadata, "-l", self->port, "listen", "established");
	sanstat_filter(_metadata, "-t established", self->port, "established",
		       "listen");
	sanstat_filter(_metadata, "-t listen", self->port, "listen",
		       "established");

	/* Details and counters. */
	snprintf(args, sizeof(args), "-a -i -e -p %d", self->port);
	ASSERT_EQ(0, sanstat(args, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "credits:")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "bytes_sent:")) TH_LOG("%s", out);
	snprintf(want, sizeof(want), "id:%u ", sock_id(self->cli));
	EXPECT_NE(NULL, strstr(out, want)) TH_LOG("%s", out);

	/* A port nobody uses: the header only. */
	ASSERT_EQ(0, sanstat("-a -p 1", out, sizeof(out)));
	EXPECT_EQ(NULL, strstr(out, "established")) TH_LOG("%s", out);

	/* Module-wide counters. */
	ASSERT_EQ(0, sanstat("-s", out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "cancel_copy_abort ")) TH_LOG("%s", out);
	EXPECT_NE(NULL, strstr(out, "aborts ")) TH_LOG("%s", out);

	/* Bad arguments. */
	EXPECT_EQ(2, sanstat("-t nosuchstate", out, sizeof(out)));
	EXPECT_EQ(2, sanstat("-p 70000", out, sizeof(out)));
	EXPECT_EQ(2, sanstat("-a -l", out, sizeof(out)));
}

/*
 * A connection the TCP provider carries (127.0.0.1: no RDMA device serves
 * it) is listed as such, with its fallback reason, by the dump and by
 * sanstat -i.
 */
TEST_F(obs, tcp_connection_shows_provider_and_reason)
{
	static char out[1 << 16];
	struct sockaddr_in lo = { .sin_family = AF_INET };
	socklen_t len = sizeof(lo);
	char args[64];
	struct find c, s;

	lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	self->lsn = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, self->lsn);
	ASSERT_EQ(0, bind(self->lsn, (struct sockaddr *)&lo, sizeof(lo)));
	ASSERT_EQ(0, listen(self->lsn, 4));
	ASSERT_EQ(0, getsockname(self->lsn, (struct sockaddr *)&lo, &len));
	self->port = ntohs(lo.sin_port);
	self->cli = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, self->cli);
	ASSERT_EQ(0, connect(self->cli, (struct sockaddr *)&lo, sizeof(lo)))
		TH_LOG("connect: %m");
	self->srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, self->srv);
	ASSERT_EQ(5, send(self->cli, "hello", 5, 0));
	san_wait_data(self->srv);

	c = diag_find(self->family, self->cli, ~0U);
	s = diag_find(self->family, self->srv, ~0U);
	ASSERT_EQ(1, c.found);
	ASSERT_EQ(1, s.found);
	EXPECT_EQ(TCPS_ESTABLISHED, c.s.msg.sdiag_state);
	EXPECT_EQ(SAN_PROVIDER_TCP, c.s.msg.sdiag_provider);
	EXPECT_EQ(SAN_FALLBACK_NO_PATH, c.s.msg.sdiag_fallback);
	EXPECT_EQ(SAN_PROVIDER_TCP, s.s.msg.sdiag_provider);
	EXPECT_EQ(self->port, c.s.msg.sdiag_dport);
	EXPECT_EQ(htonl(INADDR_LOOPBACK), c.s.msg.sdiag_dst[0]);
	EXPECT_EQ(5, s.s.msg.sdiag_rqueue);
	EXPECT_EQ(5, c.s.ctr.bytes_sent);
	/* No RDMA resources on a TCP connection. */
	ASSERT_TRUE(c.s.has_info);
	EXPECT_EQ(0, c.s.info.rx_bufs);
	EXPECT_EQ(0, c.s.info.reg_bytes);

	snprintf(args, sizeof(args), "-i -p %d", self->port);
	if (sanstat(args, out, sizeof(out)) == 0) {
		EXPECT_NE(NULL, strstr(out, "tcp(no-path)")) TH_LOG("%s", out);
		EXPECT_EQ(NULL, strstr(out, " rdma")) TH_LOG("%s", out);
	}
}


/*
 * The device's limits bound a connection (max_qp_wr, here lowered by the
 * test knob).  12 work requests per queue: no room for the READs of a
 * zero-copy receive (at least 17) beside the minimum buffers, so the
 * connection does without zero-copy, and its buffers stop at what the
 * queues hold (receive: 12 - 1; send: 12 - 2, less the REG_MR of its own
 * zero-copy send on iWARP, which takes no READs) however large SO_RCVBUF
 * and SO_SNDBUF are.  4: not even the minimum, so an RDMA-only connect()
 * fails with ENOBUFS and leaves nothing behind, and a default one goes
 * over TCP (reason NO_PATH).
 */
TEST_F_TIMEOUT(obs, device_limits_bound_buffers, 120)
{
	const unsigned int lim = 12;
	unsigned int rx_cap = lim - 1, tx_cap = lim - 2 - !!san_iwarp();
	size_t len = 4 << 20, off = 0;
	int big = 2 << 20, st, fd;
	long held;
	struct timeval tv = { .tv_sec = 20 };
	char *buf = malloc(1 << 16);
	struct sockaddr_storage dst = self->self, got;
	socklen_t gl = sizeof(got);
	struct find c, s;
	pid_t pid;

	if (set_qp_wr_limit(0))
		SKIP(return, "%s is not writable", QP_WR_KNOB);
	ASSERT_NE(NULL, buf);
	self->lsn = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, self->lsn);
	/* Room for 128 buffers each way (past net.core.[rw]mem_max). */
	ASSERT_EQ(0, setsockopt(self->lsn, SOL_SOCKET, SO_RCVBUFFORCE, &big,
				sizeof(big)));
	ASSERT_EQ(0, bind(self->lsn, (struct sockaddr *)&self->self,
			  self->self_len));
	ASSERT_EQ(0, listen(self->lsn, 4));
	ASSERT_EQ(0, getsockname(self->lsn, (struct sockaddr *)&got, &gl));
	addr_set_port(&dst, addr_port(&got));

	/* Too few for any connection. */
	held = san_stat("conns");	/* the listener's, RDMA and TCP */
	ASSERT_EQ(0, set_qp_wr_limit(4));
	fd = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	san_rdma_only(fd);
	EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&dst, self->self_len));
	EXPECT_EQ(ENOBUFS, errno) TH_LOG("connect: %m");
	close(fd);
	for (st = 0; st < 100 && san_stat("conns") != held; st++)
		usleep(100000);
	EXPECT_EQ(held, san_stat("conns")) TH_LOG("the listener's only");

	/*
	 * Under the default policy such a device is no path: the connection
	 * goes over TCP, to the listener's TCP side (an iWARP listener has
	 * none: its port is the device's).
	 */
	if (!san_iwarp()) {
		long no_path = san_stat("fallback_no_path");
		int acc;

		fd = socket(self->family, SOCK_STREAM, 0);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, connect(fd, (struct sockaddr *)&dst,
				     self->self_len)) TH_LOG("connect: %m");
		acc = accept(self->lsn, NULL, NULL);
		ASSERT_LE(0, acc);
		EXPECT_EQ(SAN_PROVIDER_TCP, san_getopt(fd, SAN_PROVIDER));
		EXPECT_EQ(SAN_FALLBACK_NO_PATH,
			  san_getopt(fd, SAN_FALLBACK_REASON));
		EXPECT_EQ(no_path + 1, san_stat("fallback_no_path"));
		EXPECT_EQ(5, send(fd, "small", 5, 0));
		EXPECT_EQ(5, recv(acc, buf, 5, MSG_WAITALL));
		close(acc);
		close(fd);
		for (st = 0; st < 100 && san_stat("conns") != held; st++)
			usleep(100000);
		EXPECT_EQ(held, san_stat("conns")) TH_LOG("the listener's only");
	} else {
		/* No TCP side to go to: the error is the call's. */
		fd = socket(self->family, SOCK_STREAM, 0);
		ASSERT_LE(0, fd);
		EXPECT_EQ(-1, connect(fd, (struct sockaddr *)&dst,
				      self->self_len));
		EXPECT_EQ(ENOBUFS, errno) TH_LOG("connect: %m");
		close(fd);
	}

	/* Enough for a few buffers, not for zero-copy. */
	ASSERT_EQ(0, set_qp_wr_limit(lim));
	self->cli = socket(self->family, SOCK_STREAM, 0);
	ASSERT_LE(0, self->cli);
	san_rdma_only(self->cli);
	ASSERT_EQ(0, setsockopt(self->cli, SOL_SOCKET, SO_SNDBUFFORCE, &big,
				sizeof(big)));
	ASSERT_EQ(0, connect(self->cli, (struct sockaddr *)&dst,
			     self->self_len)) TH_LOG("connect: %m");
	self->srv = accept(self->lsn, NULL, NULL);
	ASSERT_LE(0, self->srv);
	ASSERT_EQ(0, set_qp_wr_limit(0));
	ASSERT_EQ(0, setsockopt(self->srv, SOL_SOCKET, SO_RCVTIMEO, &tv,
				sizeof(tv)));
	/* 64 KiB writes: zero-copy ones at the default threshold. */
	memset(buf, 'q', 1 << 16);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		while (off < len) {
			ssize_t n = send(self->cli, buf, 1 << 16, 0);

			if (n <= 0)
				_exit(1);
			off += n;
		}
		_exit(0);
	}
	/*
	 * A slow reader: the sender fills every receive buffer between two
	 * reads, which is what makes the receiver add buffers.
	 */
	while (off < len) {
		ssize_t n;

		usleep(20000);
		n = recv(self->srv, buf, 1 << 16, 0);
		ASSERT_LT(0, n) TH_LOG("recv: %m");
		off += n;
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_EQ(0, WEXITSTATUS(st));
	c = diag_find(self->family, self->cli, ~0U);
	s = diag_find(self->family, self->srv, ~0U);
	ASSERT_EQ(1, c.found);
	ASSERT_EQ(1, s.found);
	ASSERT_TRUE(c.s.has_info && s.s.has_info && c.s.has_ctr);
	fprintf(stderr, "# limit %u: client tx_bufs %u (cap %u), server rx_bufs %u (cap %u), zero-copy sends %llu\n",
		lim, c.s.info.tx_bufs, tx_cap, s.s.info.rx_bufs, rx_cap,
		(unsigned long long)c.s.ctr.zc_sends);
	/* The receiver grew up to the queue's room, not to SO_RCVBUF's. */
	EXPECT_EQ(rx_cap, s.s.info.rx_bufs);
	EXPECT_LE(SAN_TEST_BUF_MIN, c.s.info.tx_bufs);
	EXPECT_GE(tx_cap, c.s.info.tx_bufs);
	EXPECT_EQ(0, c.s.ctr.zc_sends);
	EXPECT_EQ(len, s.s.ctr.bytes_received);
	free(buf);
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct kick {
	pthread_t target;
	int ms;
};

static void *kicker(void *arg)
{
	struct kick *k = arg;

	usleep(k->ms * 1000);
	pthread_kill(k->target, SIGUSR1);
	return NULL;
}

static const char *tracefs(void)
{
	static const char *const dirs[] = { "/sys/kernel/tracing",
					    "/sys/kernel/debug/tracing" };
	char path[128];
	size_t i;

	for (i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "%s/events", dirs[i]);
		if (!access(path, F_OK))
			return dirs[i];
	}
	if (!mount("tracefs", dirs[0], "tracefs", 0, NULL))
		return dirs[0];
	return NULL;
}

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[256];
	int fd, ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -1;
	ok = write(fd, val, strlen(val)) == (ssize_t)strlen(val);
	close(fd);
	return ok ? 0 : -1;
}

static char *read_file(const char *dir, const char *name)
{
	size_t cap = 1 << 20, got = 0;
	char path[256], *buf = malloc(cap);
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY);
	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while (got < cap - 1 && (n = read(fd, buf + got, cap - 1 - got)) > 0)
		got += n;
	buf[got] = 0;
	close(fd);
	return buf;
}

/*
 * A recv() cancelled by a caught signal (policy abort): the tracepoints
 * say so for that socket id (the cancel row, the reset, the state
 * change), sock_diag counts the cancellation on the socket, and the
 * module-wide counters move by one in the right row.
 */
TEST_F(obs, tracepoints_follow_a_cancelled_recv)
{
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct kick k = { .target = pthread_self(), .ms = 300 };
	long rows_before, aborts_before;
	char want[128], one;
	const char *tr;
	struct find f;
	pthread_t t;
	char *log;
	ssize_t n;
	int id;

	if (geteuid())
		SKIP(return, "needs root (tracefs)");
	tr = tracefs();
	if (!tr)
		SKIP(return, "no tracefs");
	ASSERT_EQ(0, write_file(tr, "events/af_san/enable", "1"))
		TH_LOG("%s/events/af_san/enable: %m", tr);
	ASSERT_EQ(0, write_file(tr, "trace", ""));
	make_pair(_metadata, self);
	id = sock_id(self->srv);
	ASSERT_LT(0, id);
	rows_before = san_stat("cancel_copy_abort");
	aborts_before = san_stat("aborts");
	ASSERT_LE(0, rows_before);

	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	ASSERT_EQ(0, pthread_create(&t, NULL, kicker, &k));
	n = recv(self->srv, &one, 1, 0);
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EINTR, errno);
	pthread_join(t, NULL);

	write_file(tr, "events/af_san/enable", "0");
	log = read_file(tr, "trace");
	ASSERT_NE(NULL, log);
	snprintf(want, sizeof(want), "san_cancel: id=%d row=copy_abort ret=-4",
		 id);
	EXPECT_NE(NULL, strstr(log, want)) TH_LOG("trace:\n%s", log);
	snprintf(want, sizeof(want), "san_abort: id=%d err=%d", id,
		 ECONNABORTED);
	EXPECT_NE(NULL, strstr(log, want)) TH_LOG("trace:\n%s", log);
	snprintf(want, sizeof(want), "san_state: id=%d ESTABLISHED -> CLOSE",
		 id);
	EXPECT_NE(NULL, strstr(log, want)) TH_LOG("trace:\n%s", log);
	/* The connection's start: the client's and the listener's. */
	snprintf(want, sizeof(want),
		 "san_state: id=%u SYN_SENT -> ESTABLISHED provider=%d",
		 sock_id(self->cli), SAN_PROVIDER_RDMA);
	EXPECT_NE(NULL, strstr(log, want)) TH_LOG("trace:\n%s", log);
	snprintf(want, sizeof(want), "san_state: id=%u CLOSE -> LISTEN",
		 sock_id(self->lsn));
	EXPECT_NE(NULL, strstr(log, want)) TH_LOG("trace:\n%s", log);
	free(log);

	EXPECT_EQ(rows_before + 1, san_stat("cancel_copy_abort"));
	EXPECT_EQ(aborts_before + 1, san_stat("aborts"));
	f = diag_find(self->family, self->srv, ~0U);
	ASSERT_EQ(1, f.found);
	EXPECT_EQ(1, f.s.ctr.cancels);
	EXPECT_EQ(1, f.s.info.aborted);
	signal(SIGUSR1, SIG_DFL);
}

TEST_HARNESS_MAIN
