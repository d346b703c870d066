// SPDX-License-Identifier: GPL-2.0
/*
 * Module-wide counters of what AF_SAN holds, so that tests can check that
 * everything went back to where it started, and of what happened since
 * load: /proc/net/af_san (the same numbers in every network namespace).
 * The events that count are traced here too (san_trace.h).
 */
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <net/net_namespace.h>

#include <uapi/linux/san.h>

#include "san.h"

#define CREATE_TRACE_POINTS
#include "san_trace.h"

struct san_stats san_stats;

const char *const san_cancel_row_names[SAN_CX_ROWS] = {
	[SAN_CX_CONNECT] = "connect",
	[SAN_CX_ACCEPT] = "accept",
	[SAN_CX_COPY_ABORT] = "copy_abort",
	[SAN_CX_COPY_PRESERVE] = "copy_preserve",
	[SAN_CX_LINGER] = "linger",
	[SAN_CX_ZC_DONE] = "zc_done",
	[SAN_CX_ZC_RESET] = "zc_reset",
};

/**
 * san_note_cancel - a call of @ssk was cancelled
 * @ssk: the socket
 * @row: what the call did (the row of the cancellation table)
 * @ret: what it returns (bytes or a negative errno)
 *
 * Context: the call's, socket lock held.
 */
void san_note_cancel(struct san_sock *ssk, enum san_cancel_row row, int ret)
{
	ssk->counters.cancels++;
	atomic_long_inc(&san_stats.cancels[row]);
	trace_san_cancel(ssk->id, row, ret);
}

/**
 * san_note_abort - this end resets the connection of @ssk
 * @ssk: the socket
 * @err: why (ECONNABORTED: a cancellation; ECONNRESET: an abortive close)
 *
 * Context: any.
 */
void san_note_abort(struct san_sock *ssk, int err)
{
	atomic_long_inc(&san_stats.aborts);
	trace_san_abort(ssk->id, err);
}

/**
 * san_note_zc - a zero-copy transfer of a call starts or ends
 * @ssk: the socket
 * @send: the sender's side (its buffer exposed to the peer), else the
 *	receiver's (its buffer under a READ)
 * @bytes: < 0: started for -@bytes; else ended, having moved @bytes
 *
 * Context: the call's, socket lock held.
 */
void san_note_zc(struct san_sock *ssk, bool send, int bytes)
{
	struct san_diag_counters *c = &ssk->counters;

	trace_san_zc(ssk->id, send, bytes < 0, bytes < 0 ? -bytes : bytes);
	if (bytes <= 0)
		return;
	if (send) {
		c->zc_sends++;
		c->zc_bytes_sent += bytes;
		atomic64_add(bytes, &san_stats.zc_bytes_sent);
	} else {
		c->zc_recvs++;
		c->zc_bytes_received += bytes;
		atomic64_add(bytes, &san_stats.zc_bytes_received);
	}
}

/* A state change, traced (san_set_state()). */
void san_note_state(struct san_sock *ssk, int old, int new)
{
	trace_san_state(ssk->id, old, new, san_prov_id(ssk->prov));
}

static int san_stats_show(struct seq_file *seq, void *v)
{
	int i;

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
	for (i = 0; i < SAN_CX_ROWS; i++)
		seq_printf(seq, "cancel_%s %ld\n", san_cancel_row_names[i],
			   atomic_long_read(&san_stats.cancels[i]));
	seq_printf(seq, "aborts %ld\n", atomic_long_read(&san_stats.aborts));
	seq_printf(seq, "proto_errors %ld\n",
		   atomic_long_read(&san_stats.proto_errors));
	seq_printf(seq, "zc_bytes_sent %lld\n",
		   (long long)atomic64_read(&san_stats.zc_bytes_sent));
	seq_printf(seq, "zc_bytes_received %lld\n",
		   (long long)atomic64_read(&san_stats.zc_bytes_received));
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
