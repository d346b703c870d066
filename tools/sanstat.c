// SPDX-License-Identifier: GPL-2.0
/*
 * sanstat: list AF_SAN sockets as ss(8) lists TCP's, through sock_diag
 * (uapi/linux/san_diag.h), or print the module-wide counters.
 *
 *   sanstat [-a | -l] [-i] [-e] [-n] [-s] [-4 | -6] [-t STATE]... [-p PORT]
 *
 * Manual: docs/man/sanstat.8.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/san.h>
#include <linux/san_diag.h>

static const char *const state_names[] = {
	[TCP_ESTABLISHED] = "established",
	[TCP_SYN_SENT] = "syn-sent",
	[TCP_SYN_RECV] = "syn-recv",
	[TCP_FIN_WAIT1] = "fin-wait-1",
	[TCP_FIN_WAIT2] = "fin-wait-2",
	[TCP_TIME_WAIT] = "time-wait",
	[TCP_CLOSE] = "close",
	[TCP_CLOSE_WAIT] = "close-wait",
	[TCP_LAST_ACK] = "last-ack",
	[TCP_LISTEN] = "listen",
	[TCP_CLOSING] = "closing",
};
#define NSTATES	((int)(sizeof(state_names) / sizeof(state_names[0])))

static const char *const prov_names[] = { "-", "rdma", "tcp" };
static const char *const fb_names[] = { "", "no-path", "refused", "timeout" };

static struct {
	unsigned int states;
	int info, counters, family, port;
} opt = { .port = -1 };

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sanstat [-a | -l] [-i] [-e] [-n] [-s] [-4 | -6] [-t STATE]... [-p PORT]\n"
		"  -a  all sockets, listeners included   -l  listeners only\n"
		"  -i  details (provider, fallback reason, buffers, credits)\n"
		"  -e  counters (bytes, calls, zero-copy, cancellations, inode, uid)\n"
		"  -s  module-wide counters               -n  numeric (always)\n"
		"  -4, -6  only IPv4, IPv6                 -t STATE  only this state\n"
		"  -p PORT  only sockets with this local or peer port\n");
}

static int san_family_number(void)
{
	FILE *f = fopen(SAN_FAMILY_SYSFS, "r");
	int fam = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &fam) != 1)
		fam = -1;
	fclose(f);
	return fam;
}

static int module_counters(void)
{
	char line[256];
	FILE *f = fopen("/proc/net/af_san", "r");

	if (!f) {
		fprintf(stderr, "sanstat: /proc/net/af_san: %s (is af_san loaded?)\n",
			strerror(errno));
		return 1;
	}
	while (fgets(line, sizeof(line), f))
		fputs(line, stdout);
	fclose(f);
	return 0;
}

static void format_addr(char *out, size_t len, int family, const __u32 *a,
			int port)
{
	char ip[INET6_ADDRSTRLEN] = "*";

	if (family == AF_INET6) {
		static const __u32 zero[4];

		if (memcmp(a, zero, sizeof(zero)))
			inet_ntop(AF_INET6, a, ip, sizeof(ip));
		snprintf(out, len, "[%s]:%d", ip, port);
	} else {
		if (a[0])
			inet_ntop(AF_INET, a, ip, sizeof(ip));
		snprintf(out, len, "%s:%d", ip, port);
	}
	if (!port && !strcmp(ip, "*"))
		snprintf(out, len, "*:*");
}

static void show(const struct san_diag_msg *r, const struct nlattr *attrs,
		 int alen)
{
	const struct san_diag_counters *c = NULL;
	const struct san_diag_info *info = NULL;
	const struct nlattr *a;
	char local[64], peer[64];
	const char *st = r->sdiag_state < NSTATES &&
			 state_names[r->sdiag_state] ?
			 state_names[r->sdiag_state] : "?";

	for (a = attrs; alen >= (int)sizeof(*a) && a->nla_len >= sizeof(*a) &&
	     a->nla_len <= alen;
	     alen -= NLA_ALIGN(a->nla_len),
	     a = (const void *)((const char *)a + NLA_ALIGN(a->nla_len))) {
		if (a->nla_type == SAN_DIAG_INFO &&
		    a->nla_len >= NLA_HDRLEN + sizeof(*info))
			info = (const void *)((const char *)a + NLA_HDRLEN);
		if (a->nla_type == SAN_DIAG_COUNTERS &&
		    a->nla_len >= NLA_HDRLEN + sizeof(*c))
			c = (const void *)((const char *)a + NLA_HDRLEN);
	}
	format_addr(local, sizeof(local), r->sdiag_family, r->sdiag_src,
		    r->sdiag_sport);
	format_addr(peer, sizeof(peer), r->sdiag_family, r->sdiag_dst,
		    r->sdiag_dport);
	printf("%-12s %-6u %-6u %-28s %-28s %s", st, r->sdiag_rqueue,
	       r->sdiag_wqueue, local, peer,
	       r->sdiag_provider < 3 ? prov_names[r->sdiag_provider] : "?");
	if (r->sdiag_fallback && r->sdiag_fallback < 4)
		printf("(%s)", fb_names[r->sdiag_fallback]);
	printf("\n");
	if (info)
		printf("\tid:%u %s policy:%s cancel:%s%s rcvbuf:%u sndbuf:%u credits:%u rx_bufs:%u tx_bufs:%u peer_rx_bufs:%u reg_bytes:%u zc_inflight:%u\n",
		       r->sdiag_id, info->ipproto_san ? "ipproto_san" : "af_san",
		       info->policy == SAN_POLICY_RDMA_ONLY ? "rdma-only" :
		       info->policy == SAN_POLICY_TCP_ONLY ? "tcp-only" :
		       "prefer-rdma",
		       info->cancel_policy == SAN_CANCEL_PRESERVE ?
		       "preserve" : "abort",
		       info->aborted ? " aborted" : "", info->rcvbuf,
		       info->sndbuf, info->tx_credits, info->rx_bufs,
		       info->tx_bufs, info->peer_rx_bufs, info->reg_bytes,
		       info->zc_inflight);
	if (c)
		printf("\tid:%u ino:%u uid:%u bytes_sent:%llu bytes_received:%llu sends:%llu recvs:%llu zc_sends:%llu zc_recvs:%llu zc_bytes_sent:%llu zc_bytes_received:%llu cancels:%u\n",
		       r->sdiag_id, r->sdiag_ino, r->sdiag_uid,
		       (unsigned long long)c->bytes_sent,
		       (unsigned long long)c->bytes_received,
		       (unsigned long long)c->sends,
		       (unsigned long long)c->recvs,
		       (unsigned long long)c->zc_sends,
		       (unsigned long long)c->zc_recvs,
		       (unsigned long long)c->zc_bytes_sent,
		       (unsigned long long)c->zc_bytes_received, c->cancels);
}

static int dump(int family)
{
	struct {
		struct nlmsghdr nlh;
		struct san_diag_req req;
	} msg = {
		.nlh = {
			.nlmsg_len = sizeof(msg),
			.nlmsg_type = SOCK_DIAG_BY_FAMILY,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
			.nlmsg_seq = 1,
		},
		.req = {
			.sdiag_family = family,
			.sdiag_states = opt.states,
			.sdiag_show = (opt.info ? SAN_SHOW_INFO : 0) |
				      (opt.counters ? SAN_SHOW_COUNTERS : 0),
		},
	};
	static char buf[65536] __attribute__((aligned(NLMSG_ALIGNTO)));
	struct sockaddr_nl nladdr = { .nl_family = AF_NETLINK };
	int fd, done = 0, ret = 0;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0) {
		perror("sanstat: netlink socket");
		return 1;
	}
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&nladdr,
		   sizeof(nladdr)) < 0) {
		perror("sanstat: sendto");
		close(fd);
		return 1;
	}
	printf("%-12s %-6s %-6s %-28s %-28s %s\n", "State", "Recv-Q",
	       "Send-Q", "Local-Address:Port", "Peer-Address:Port", "Provider");
	while (!done) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		struct nlmsghdr *h;

		if (n < 0) {
			perror("sanstat: recv");
			ret = 1;
			break;
		}
		if (n == 0)
			break;
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n);
		     h = NLMSG_NEXT(h, n)) {
			const struct san_diag_msg *r = NLMSG_DATA(h);
			int alen;

			if (h->nlmsg_type == NLMSG_DONE) {
				done = 1;
				break;
			}
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				fprintf(stderr, "sanstat: sock_diag: %s%s\n",
					strerror(-e->error),
					e->error == -ENOENT ?
					" (no sock_diag handler for AF_SAN: is af_san loaded?)" : "");
				ret = 1;
				done = 1;
				break;
			}
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*r)))
				continue;
			if ((opt.family && r->sdiag_family != opt.family) ||
			    (opt.port >= 0 && r->sdiag_sport != opt.port &&
			     r->sdiag_dport != opt.port))
				continue;
			alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*r));
			show(r, (const void *)((const char *)r +
					       NLMSG_ALIGN(sizeof(*r))), alen);
		}
	}
	close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	int c, all = 0, listen_only = 0, summary = 0, family;
	unsigned int wanted = 0;

	while ((c = getopt(argc, argv, "aliens46t:p:h")) != -1) {
		switch (c) {
		case 'a': all = 1; break;
		case 'l': listen_only = 1; break;
		case 'i': opt.info = 1; break;
		case 'e': opt.counters = 1; break;
		case 'n': break;
		case 's': summary = 1; break;
		case '4': opt.family = AF_INET; break;
		case '6': opt.family = AF_INET6; break;
		case 't': {
			int s;

			for (s = 0; s < NSTATES; s++)
				if (state_names[s] &&
				    !strcmp(state_names[s], optarg))
					break;
			if (s == NSTATES) {
				fprintf(stderr, "sanstat: unknown state '%s'\n",
					optarg);
				return 2;
			}
			wanted |= 1U << s;
			break;
		}
		case 'p': {
			char *end;
			long p = strtol(optarg, &end, 10);

			if (*end || p < 0 || p > 65535) {
				fprintf(stderr, "sanstat: bad port '%s'\n",
					optarg);
				return 2;
			}
			opt.port = p;
			break;
		}
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || (all && listen_only)) {
		usage(stderr);
		return 2;
	}
	if (summary)
		return module_counters();
	/*
	 * Not loaded: ask for the default number; the dump's error then
	 * says that nothing answers for it (no sock_diag alias loads the
	 * module: listing sockets must not create the family).
	 */
	family = san_family_number();
	if (family < 0)
		family = AF_SAN;
	if (wanted)
		opt.states = wanted;
	else if (listen_only)
		opt.states = 1U << TCP_LISTEN;
	else if (all)
		opt.states = ~0U;
	else
		opt.states = ~(1U << TCP_LISTEN | 1U << TCP_CLOSE);
	return dump(family);
}
