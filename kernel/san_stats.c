// SPDX-License-Identifier: GPL-2.0
/*
 * Module-wide counters of what AF_SAN holds, so that tests can check that
 * everything went back to where it started: /proc/net/af_san (the same
 * numbers in every network namespace).
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>

#include <uapi/linux/san.h>

#include "san.h"

struct san_stats san_stats;

static int san_stats_show(struct seq_file *seq, void *v)
{
	seq_printf(seq, "conns %d\n", atomic_read(&san_stats.conns));
	seq_printf(seq, "qps %d\n", atomic_read(&san_stats.qps));
	seq_printf(seq, "cqs %d\n", atomic_read(&san_stats.cqs));
	seq_printf(seq, "pds %d\n", atomic_read(&san_stats.pds));
	seq_printf(seq, "bufs %d\n", atomic_read(&san_stats.bufs));
	seq_printf(seq, "buf_bytes %ld\n",
		   atomic_long_read(&san_stats.buf_bytes));
	seq_printf(seq, "pinned %d\n", atomic_read(&san_stats.pinned));
	seq_printf(seq, "zc_sends %d\n", atomic_read(&san_stats.zc_sends));
	seq_printf(seq, "zc_reads %d\n", atomic_read(&san_stats.zc_reads));
	seq_printf(seq, "zc_bounced %d\n",
		   atomic_read(&san_stats.zc_bounced));
	seq_printf(seq, "busy_poll_hits %ld\n",
		   atomic_long_read(&san_stats.busy_poll_hits));
	seq_printf(seq, "tcp_conns %d\n", atomic_read(&san_stats.tcp_conns));
	seq_printf(seq, "rdma_estab %ld\n",
		   atomic_long_read(&san_stats.rdma_estab));
	seq_printf(seq, "tcp_estab %ld\n",
		   atomic_long_read(&san_stats.tcp_estab));
	seq_printf(seq, "fallback_no_path %ld\n",
		   atomic_long_read(&san_stats.fallbacks[SAN_FALLBACK_NO_PATH]));
	seq_printf(seq, "fallback_refused %ld\n",
		   atomic_long_read(&san_stats.fallbacks[SAN_FALLBACK_REFUSED]));
	seq_printf(seq, "fallback_timeout %ld\n",
		   atomic_long_read(&san_stats.fallbacks[SAN_FALLBACK_TIMEOUT]));
	return 0;
}

static int __net_init san_stats_net_init(struct net *net)
{
	if (!proc_create_net_single("af_san", 0444, net->proc_net,
				    san_stats_show, NULL))
		return -ENOMEM;
	return 0;
}

static void __net_exit san_stats_net_exit(struct net *net)
{
	remove_proc_entry("af_san", net->proc_net);
}

static struct pernet_operations san_stats_net_ops = {
	.init = san_stats_net_init,
	.exit = san_stats_net_exit,
};

int san_stats_init(void)
{
	return register_pernet_subsys(&san_stats_net_ops);
}

void san_stats_exit(void)
{
	unregister_pernet_subsys(&san_stats_net_ops);
}
