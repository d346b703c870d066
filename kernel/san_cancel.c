// SPDX-License-Identifier: GPL-2.0
/*
 * The switch's cancellation rules (SPEC.md section 3, docs/design.md
 * "Cancellation").  A blocking AF_SAN call is cancelled when a signal the
 * process catches, or a fatal one, is pending while it sleeps.  Anything
 * else that makes signal_pending() true (a job-control stop, a tracer, the
 * freezer) is not a cancellation: the call returns -ERESTARTSYS, the
 * signal code does its work, and the call restarts transparently.
 *
 * This file decides which of the two a pending signal is and holds the
 * knobs: net.san.cancel_timeout_ms, net.san.zcopy_threshold and the
 * per-socket options.
 */
#include <linux/sched/signal.h>
#include <linux/sysctl.h>
#include <uapi/linux/san.h>

#include "san.h"

/* Default for SAN_CANCEL_TIMEOUT: how long a cancelled zero-copy call
 * waits for the RDMA operation on its buffer before aborting.
 */
static int san_cancel_timeout_ms = 2000;
static int san_cancel_timeout_max = 600000;

/* Default for SAN_ZCOPY_THRESHOLD: transfers of this many bytes or more
 * go zero-copy; 0 turns zero-copy off.
 */
static int san_zcopy_threshold_bytes = 65536;

/* Default for SAN_POLICY (SAN_POLICY_PREFER_RDMA...). */
static int san_policy_default;
static int san_policy_max = SAN_POLICY_TCP_ONLY;

/*
 * How long a connect() under SAN_POLICY_PREFER_RDMA waits for the RDMA
 * attempt before it goes over TCP (a peer host without RDMA never answers).
 */
static int san_fallback_timeout_ms = 3000;
static int san_fallback_timeout_min = 100;

static struct ctl_table san_sysctl_table[] = {
	{
		.procname = "policy",
		.data = &san_policy_default,
		.maxlen = sizeof(int),
		.mode = 0644,
		.proc_handler = proc_dointvec_minmax,
		.extra1 = SYSCTL_ZERO,
		.extra2 = &san_policy_max,
	},
	{
		.procname = "fallback_timeout_ms",
		.data = &san_fallback_timeout_ms,
		.maxlen = sizeof(int),
		.mode = 0644,
		.proc_handler = proc_dointvec_minmax,
		.extra1 = &san_fallback_timeout_min,
		.extra2 = &san_cancel_timeout_max,
	},
	{
		.procname = "cancel_timeout_ms",
		.data = &san_cancel_timeout_ms,
		.maxlen = sizeof(int),
		.mode = 0644,
		.proc_handler = proc_dointvec_minmax,
		.extra1 = SYSCTL_ONE,
		.extra2 = &san_cancel_timeout_max,
	},
	{
		.procname = "zcopy_threshold",
		.data = &san_zcopy_threshold_bytes,
		.maxlen = sizeof(int),
		.mode = 0644,
		.proc_handler = proc_dointvec_minmax,
		.extra1 = SYSCTL_ZERO,
		.extra2 = SYSCTL_INT_MAX,
	},
	{ }
};

static struct ctl_table_header *san_sysctl_header;

/**
 * san_cancel_pending - whether the pending signals cancel a blocking call
 *
 * Context: process context, the calling thread.
 * Return: true if a fatal signal is pending, or an unblocked pending
 * signal has a handler; false when only stops, tracer or freezer wakeups
 * (or nothing) are pending.
 */
bool san_cancel_pending(void)
{
	struct task_struct *t = current;
	struct sighand_struct *sh;
	struct k_sigaction *ka;
	sigset_t pending;
	bool cancel = false;
	int sig;

	if (fatal_signal_pending(t))
		return true;
	/* Only the thread itself (exec) replaces its sighand. */
	sh = rcu_dereference_protected(t->sighand, 1);
	spin_lock_irq(&sh->siglock);
	sigorsets(&pending, &t->pending.signal,
		  &t->signal->shared_pending.signal);
	sigandnsets(&pending, &pending, &t->blocked);
	for (sig = 1; sig <= _NSIG && !cancel; sig++) {
		if (!sigismember(&pending, sig))
			continue;
		ka = &sh->action[sig - 1];
		cancel = ka->sa.sa_handler != SIG_DFL &&
			 ka->sa.sa_handler != SIG_IGN;
	}
	spin_unlock_irq(&sh->siglock);
	return cancel;
}

/* SAN_POLICY of a new socket: net.san.policy. */
int san_default_policy(void)
{
	return READ_ONCE(san_policy_default);
}

/* net.san.fallback_timeout_ms, in jiffies. */
unsigned long san_fallback_timeout(void)
{
	return msecs_to_jiffies(READ_ONCE(san_fallback_timeout_ms));
}

/**
 * san_cancel_timeout - how long a cancelled zero-copy call may wait
 * @ssk: the socket
 *
 * Return: SAN_CANCEL_TIMEOUT of the socket, or net.san.cancel_timeout_ms,
 * in jiffies.
 */
long san_cancel_timeout(const struct san_sock *ssk)
{
	int ms = READ_ONCE(ssk->cancel_timeout_ms);

	if (!ms)
		ms = READ_ONCE(san_cancel_timeout_ms);
	return msecs_to_jiffies(ms);
}

/**
 * san_zcopy_threshold - the smallest transfer that goes zero-copy
 * @ssk: the socket
 *
 * Return: SAN_ZCOPY_THRESHOLD of the socket, or net.san.zcopy_threshold;
 * U32_MAX when zero-copy is off.
 */
u32 san_zcopy_threshold(const struct san_sock *ssk)
{
	int bytes = READ_ONCE(ssk->zcopy_threshold);

	if (!bytes)
		bytes = READ_ONCE(san_zcopy_threshold_bytes);
	return bytes > 0 ? bytes : U32_MAX;
}

int san_cancel_init(void)
{
	san_sysctl_header = register_sysctl("net/san", san_sysctl_table);
	return san_sysctl_header ? 0 : -ENOMEM;
}

void san_cancel_exit(void)
{
	unregister_sysctl_table(san_sysctl_header);
}
