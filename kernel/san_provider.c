// SPDX-License-Identifier: GPL-2.0
/*
 * The provider registry of the switch: which providers exist, and their
 * module-wide setup and teardown in a fixed order.  The RDMA provider comes
 * first because it is the fast path; the kernel's TCP is the fallback.
 */
#include <linux/kernel.h>
#include <linux/printk.h>

#include "san_provider.h"

static const struct san_provider *const san_providers[] = {
	&san_rdma_provider,
	&san_tcp_provider,
};

/**
 * san_providers_init - set up every provider
 *
 * Context: process context, module load.
 * Return: 0, or the first provider's error after undoing the others.
 */
int san_providers_init(void)
{
	int i, err;

	for (i = 0; i < ARRAY_SIZE(san_providers); i++) {
		err = san_providers[i]->init();
		if (err) {
			pr_err("af_san: provider %s failed to start: %d\n",
			       san_providers[i]->name, err);
			goto undo;
		}
	}
	return 0;

undo:
	while (--i >= 0)
		san_providers[i]->exit();
	return err;
}

/**
 * san_providers_exit - tear every provider down, in reverse order
 *
 * Context: process context, module unload, no socket left.
 */
void san_providers_exit(void)
{
	int i;

	for (i = ARRAY_SIZE(san_providers) - 1; i >= 0; i--)
		san_providers[i]->exit();
}
