// SPDX-License-Identifier: GPL-2.0
/*
 * The TCP provider: carries an AF_SAN connection over the kernel's own TCP
 * when the destination has no RDMA path, so that AF_SAN talks to any TCP
 * peer.  It holds no module-wide state; its per-connection operations land
 * with the stream data path.
 */
#include "san_provider.h"

static int san_tcp_init(void)
{
	return 0;
}

static void san_tcp_exit(void)
{
}

const struct san_provider san_tcp_provider = {
	.name = "tcp",
	.init = san_tcp_init,
	.exit = san_tcp_exit,
};
