// SPDX-License-Identifier: GPL-2.0
/*
 * The provider registry of the switch: which providers exist, and their
 * module-wide setup and teardown in a fixed order.  The RDMA provider comes
 * first because it is the fast path; the kernel's TCP is the fallback.
 */
#include <linux/kernel.h>
#include <linux/printk.h>
#include <uapi/linux/san.h>

#include "san.h"

static const struct san_provider *const san_providers[] = {
	&san_rdma_provider,
	&san_tcp_provider,
};

/* Whether @p has every required operation (see san_provider.h). */
static bool san_provider_complete(const struct san_provider *p)
{
	return p->init && p->exit && p->open && p->bind && p->listen &&
	       p->connect && p->sendmsg && p->recvmsg && p->rx_queued &&
	       p->tx_queued && p->tx_ready && p->shutdown_tx && p->tx_done &&
	       p->getname && p->abort && p->reset && p->close &&
	       /* Zero-copy comes whole: a transfer started is ended. */
	       (!(p->zc_send || p->zc_recv) || p->zc_end);
}

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
		if (!san_provider_complete(san_providers[i])) {
			pr_err("af_san: provider %s lacks a required operation\n",
			       san_providers[i]->name);
			err = -EINVAL;
			goto undo;
		}
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

/*
 * The optional operations.  The switch calls them through these, so that
 * what a provider may leave out is decided here only.
 */

/* Whether a recv() can progress now: @rx_ready, else bytes queued. */
bool san_prov_rx_ready(struct san_sock *ssk)
{
	if (ssk->prov->rx_ready)
		return ssk->prov->rx_ready(ssk);
	return ssk->prov->rx_queued(ssk);
}

/* The SAN_PROVIDER_* of @prov, as user space names it; NONE for NULL. */
int san_prov_id(const struct san_provider *prov)
{
	if (!prov)
		return SAN_PROVIDER_NONE;
	return prov == &san_tcp_provider ? SAN_PROVIDER_TCP :
					   SAN_PROVIDER_RDMA;
}

bool san_prov_can_zc_send(const struct san_provider *prov)
{
	return prov->zc_send;
}

bool san_prov_can_zc_recv(const struct san_provider *prov)
{
	return prov->zc_recv;
}

void san_prov_keepalive(struct san_sock *ssk)
{
	if (ssk->conn && ssk->prov->keepalive)
		ssk->prov->keepalive(ssk);
}

void san_prov_tcp_opts(struct san_sock *ssk)
{
	if (ssk->conn && ssk->prov->tcp_opts)
		ssk->prov->tcp_opts(ssk);
}

/* -ENOPROTOOPT when the provider leaves the answer to the switch. */
int san_prov_tcp_getsockopt(struct san_sock *ssk, int optname,
			    char __user *optval, int __user *optlen)
{
	if (!ssk->conn || !ssk->prov->tcp_getsockopt)
		return -ENOPROTOOPT;
	return ssk->prov->tcp_getsockopt(ssk, optname, optval, optlen);
}

void san_prov_diag(struct san_sock *ssk, struct san_diag_info *info)
{
	if (ssk->conn && ssk->prov->diag)
		ssk->prov->diag(ssk, info);
}

bool san_prov_tcp_ports(struct san_sock *ssk)
{
	return ssk->conn && ssk->prov->tcp_ports &&
	       ssk->prov->tcp_ports(ssk, ssk->conn);
}
