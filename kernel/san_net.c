// SPDX-License-Identifier: GPL-2.0
/*
 * The tunables under net.san.*, one set per network namespace: a new
 * namespace starts with the defaults below, whatever the others hold.
 * Ranges are enforced by the sysctl handler: a write out of range fails
 * with EINVAL and changes nothing.  docs/design.md, "Tunables".
 */
#include <linux/slab.h>
#include <linux/user_namespace.h>
#include <linux/sysctl.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>
#include <uapi/linux/san.h>

#include "san.h"
#include "san_compat.h"

unsigned int san_net_id __read_mostly;

static int san_timeout_max = 600000;
static int san_fallback_timeout_min = 100;
static int san_policy_max = SAN_POLICY_TCP_ONLY;
static int san_buf_bytes_min = SAN_NET_BUF_MIN;
static int san_buf_bytes_max = SAN_NET_BUF_MAX;

/* What a new namespace starts with. */
static struct san_net san_net_defaults = {
	.policy = SAN_POLICY_PREFER_RDMA,
	.fallback_timeout_ms = 3000,
	.cancel_timeout_ms = 2000,
	.zcopy_threshold = 65536,
	.rmem_default = 212992,
	.wmem_default = 212992,
};

/*
 * The template: its entries point into san_net_defaults; each namespace
 * gets a copy pointing at the same fields of its own san_net.
 */
static const struct ctl_table san_net_table[] = {
	{
		.procname = "policy",
		.data = &san_net_defaults.policy,
		.maxlen = sizeof(int),
		.mode = 0644,
		.proc_handler = proc_dointvec_minmax,
		.extra1 = SYSCTL_ZERO,
		.extra2 = &san_policy_max,
	},
	{
		.procname = "fallback_timeout_ms",
		.data = &san_net_defaults.fallback_timeout_ms,
		.maxlen = sizeof(int),
		.mode = 0644,
		.proc_handler = proc_dointvec_minmax,
		.extra1 = &san_fallback_timeout_min,
		.extra2 = &san_timeout_max,
	},
	{
		.procname = "cancel_timeout_ms",
		.data = &san_net_defaults.cancel_timeout_ms,
		.maxlen = sizeof(int),
		.mode = 0644,
		.proc_handler = proc_dointvec_minmax,
		.extra1 = SYSCTL_ONE,
		.extra2 = &san_timeout_max,
	},
	{
		.procname = "zcopy_threshold",
		.data = &san_net_defaults.zcopy_threshold,
		.maxlen = sizeof(int),
		.mode = 0644,
		.proc_handler = proc_dointvec_minmax,
		.extra1 = SYSCTL_ZERO,
		.extra2 = SYSCTL_INT_MAX,
	},
	{
		.procname = "rmem_default",
		.data = &san_net_defaults.rmem_default,
		.maxlen = sizeof(int),
		.mode = 0644,
		.proc_handler = proc_dointvec_minmax,
		.extra1 = &san_buf_bytes_min,
		.extra2 = &san_buf_bytes_max,
	},
	{
		.procname = "wmem_default",
		.data = &san_net_defaults.wmem_default,
		.maxlen = sizeof(int),
		.mode = 0644,
		.proc_handler = proc_dointvec_minmax,
		.extra1 = &san_buf_bytes_min,
		.extra2 = &san_buf_bytes_max,
	},
	{ }	/* up to 6.5 */
};

static int __net_init san_net_init(struct net *net)
{
	struct san_net *sn = san_net(net);
	struct ctl_table *table;
	size_t i, n = ARRAY_SIZE(san_net_table) - 1;

	*sn = san_net_defaults;
	table = kmemdup(san_net_table, sizeof(san_net_table), GFP_KERNEL);
	if (!table)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		table[i].data = (char *)sn + ((char *)san_net_table[i].data -
					      (char *)&san_net_defaults);
		/*
		 * The buffer sizes decide how much kernel memory each socket
		 * may register: a namespace owned by an unprivileged user
		 * namespace reads them, as SO_RCVBUF cannot pass
		 * net.core.rmem_max there either.
		 */
		if (net->user_ns != &init_user_ns &&
		    (table[i].data == &sn->rmem_default ||
		     table[i].data == &sn->wmem_default))
			table[i].mode = 0444;
	}
	sn->sysctl = san_register_net_sysctl(net, "net/san", table, n);
	if (!sn->sysctl) {
		kfree(table);
		return -ENOMEM;
	}
	return 0;
}

static void __net_exit san_net_exit(struct net *net)
{
	struct san_net *sn = san_net(net);
	const struct ctl_table *table = sn->sysctl->ctl_table_arg;

	unregister_net_sysctl_table(sn->sysctl);
	kfree(table);
}

static struct pernet_operations san_net_ops = {
	.init = san_net_init,
	.exit = san_net_exit,
	.id = &san_net_id,
	.size = sizeof(struct san_net),
};

int san_net_register(void)
{
	return register_pernet_subsys(&san_net_ops);
}

void san_net_unregister(void)
{
	unregister_pernet_subsys(&san_net_ops);
}
