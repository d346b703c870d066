/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The interface between the switch (the AF_SAN socket layer) and the
 * providers that move bytes.
 *
 * As in Windows Sockets Direct, a provider only ever sees non-blocking
 * calls plus an abortive close: it never sleeps on behalf of a caller and
 * has no cancel operation.  Blocking, timeouts, signals and cancellation
 * live in the switch alone.  The per-connection operations are added to
 * this table as the data path lands; docs/design.md holds the contract.
 */
#ifndef _SAN_PROVIDER_H
#define _SAN_PROVIDER_H

#include <linux/types.h>

/**
 * struct san_provider - one way of carrying AF_SAN connections
 * @name: short name, used in log messages and statistics
 * @init: module-wide setup, called once at module load in process context
 *	before the family is registered (so before any socket exists).
 *	Returns 0 or a negative errno, which fails the load.
 * @exit: undo @init; called at module unload in process context once the
 *	family is unregistered and the last socket is gone.
 */
struct san_provider {
	const char *name;
	int (*init)(void);
	void (*exit)(void);
};

extern const struct san_provider san_rdma_provider;
extern const struct san_provider san_tcp_provider;

int san_providers_init(void);
void san_providers_exit(void);

#endif /* _SAN_PROVIDER_H */
