/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_SAN internal definitions shared by the switch (the socket layer in
 * af_san.c) and the providers (san_rdma.c, san_tcp.c).
 */
#ifndef _SAN_H
#define _SAN_H

#include <net/sock.h>

#include "san_provider.h"

/**
 * struct san_sock - an AF_SAN socket
 * @sk: the generic socket; must stay first (sk_alloc() sizes by obj_size)
 * @prov: the provider carrying this socket's connection, chosen once
 *	before the connection is established; NULL until then
 * @prov_data: the provider's per-socket state, owned by @prov
 */
struct san_sock {
	struct sock sk;
	const struct san_provider *prov;
	void *prov_data;
};

static inline struct san_sock *san_sk(const struct sock *sk)
{
	return container_of(sk, struct san_sock, sk);
}

#endif /* _SAN_H */
