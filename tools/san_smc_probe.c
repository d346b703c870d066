// SPDX-License-Identifier: GPL-2.0
/*
 * san_smc_probe: does SMC-R engage between two test-box guests?
 *
 *   san_smc_probe server PORT SECS     accept one AF_SMC connection, echo
 *   san_smc_probe client ADDR PORT     connect, move 1 MiB both ways
 *
 * Both print what SMC's sock_diag says of their own connection: the mode
 * (SMC-R, or fallback to TCP) and, for a fallback, SMC's decline reason
 * and the peer's.  The caller proves engagement the other way too: a new
 * RC QP in "rdma res show qp".
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/smc_diag.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef AF_SMC
#define AF_SMC 43
#endif

#define LEN (1 << 20)

/* SMC's decline reasons (net/smc/smc_clc.h) that matter here. */
static const struct {
	uint32_t code;
	const char *name;
} reasons[] = {
	{ 0x03000000, "SMC_CLC_DECL_CNFERR" },
	{ 0x03010000, "SMC_CLC_DECL_PEERNOSMC" },
	{ 0x03030000, "SMC_CLC_DECL_NOSMCDEV" },
	{ 0x03030002, "SMC_CLC_DECL_NOSMCRDEV" },
	{ 0x03030004, "SMC_CLC_DECL_NOV2EXT" },
	{ 0x03030008, "SMC_CLC_DECL_NOUEID" },
	{ 0x03040000, "SMC_CLC_DECL_MODEUNSUPP" },
	{ 0x030c0000, "SMC_CLC_DECL_VERSMISMAT" },
	{ 0x030e0000, "SMC_CLC_DECL_NOROUTE" },
	{ 0x05000000, "SMC_CLC_DECL_PEERDECL" },
};

static const char *reason_name(uint32_t code)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].code == code)
			return reasons[i].name;
	return code ? "see net/smc/smc_clc.h" : "none";
}

static void die(const char *what)
{
	fprintf(stderr, "san_smc_probe: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Print the mode and fallback reason of every AF_SMC socket on @port. */
static int report(int port)
{
	struct {
		struct nlmsghdr nlh;
		struct smc_diag_req r;
	} req = {
		.nlh = {
			.nlmsg_len = sizeof(req),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.r = { .diag_family = AF_SMC },
	};
	char buf[16384];
	int fd = socket(AF_NETLINK, SOCK_DGRAM, NETLINK_SOCK_DIAG), found = 0;

	if (fd < 0)
		die("netlink");
	if (send(fd, &req, sizeof(req), 0) < 0)
		die("sock_diag request");
	for (;;) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h = (struct nlmsghdr *)buf;

		if (n <= 0)
			break;
		for (; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
			struct smc_diag_msg *m = NLMSG_DATA(h);
			struct smc_diag_fallback fb = { 0 };
			struct rtattr *a;
			int alen;

			if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR)
				goto done;
			if (ntohs(m->id.idiag_sport) != port &&
			    ntohs(m->id.idiag_dport) != port)
				continue;
			a = (struct rtattr *)(m + 1);
			alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			for (; RTA_OK(a, alen); a = RTA_NEXT(a, alen))
				if (a->rta_type == SMC_DIAG_FALLBACK &&
				    RTA_PAYLOAD(a) >= (int)sizeof(fb))
					memcpy(&fb, RTA_DATA(a), sizeof(fb));
			if (!m->id.idiag_dport)
				continue;	/* the listener */
			found++;
			printf("smc_mode=%s reason=0x%08x (%s) peer_diagnosis=0x%08x (%s)\n",
			       m->diag_mode == SMC_DIAG_MODE_SMCR ? "SMC-R" :
			       m->diag_mode == SMC_DIAG_MODE_SMCD ? "SMC-D" :
			       "fallback-TCP", fb.reason, reason_name(fb.reason),
			       fb.peer_diagnosis, reason_name(fb.peer_diagnosis));
		}
	}
done:
	close(fd);
	if (!found)
		printf("smc_mode=unknown (no connection in SMC's sock_diag: is smc_diag loaded?)\n");
	return found ? 0 : 1;
}

static void move(int fd, int echo)
{
	static char out[LEN], in[LEN];
	size_t off = 0, i;

	if (echo) {
		for (;;) {
			ssize_t n = recv(fd, in, sizeof(in), 0);

			if (n <= 0)
				return;
			if (send(fd, in, n, 0) != n)
				die("echo");
		}
	}
	for (i = 0; i < LEN; i++)
		out[i] = (char)(i * 7);
	if (send(fd, out, LEN, 0) != LEN)
		die("send");
	while (off < LEN) {
		ssize_t n = recv(fd, in + off, LEN - off, 0);

		if (n <= 0)
			die("recv");
		off += n;
	}
	if (memcmp(in, out, LEN))
		die("echoed bytes differ");
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	int fd, c, port;

	if (argc == 4 && !strcmp(argv[1], "server")) {
		int one = 1;

		port = atoi(argv[2]);
		a.sin_port = htons(port);
		fd = socket(AF_SMC, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket(AF_SMC)");
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1))
			die("bind/listen");
		alarm(atoi(argv[3]));
		c = accept(fd, NULL, NULL);
		if (c < 0)
			die("accept");
		report(port);
		move(c, 1);
		close(c);
		return 0;
	}
	if (argc == 4 && !strcmp(argv[1], "client")) {
		port = atoi(argv[3]);
		a.sin_port = htons(port);
		if (inet_pton(AF_INET, argv[2], &a.sin_addr) != 1)
			die("address");
		fd = socket(AF_SMC, SOCK_STREAM, 0);
		if (fd < 0)
			die("socket(AF_SMC)");
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)))
			die("connect");
		move(fd, 0);
		printf("moved 1 MiB both ways, checked\n");
		c = report(port);
		close(fd);
		return c;
	}
	fprintf(stderr, "usage: san_smc_probe server PORT SECS | client ADDR PORT\n");
	return 2;
}
