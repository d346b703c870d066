// SPDX-License-Identifier: GPL-2.0
/*
 * The switch's cancellation rules (docs/semantics.md and docs/design.md,
 * "Cancellation").  A blocking AF_SAN call is cancelled when a signal the
 * process catches, or a fatal one, is pending while it sleeps.  Anything
 * else that makes signal_pending() true (a job-control stop, a tracer, the
 * freezer) is not a cancellation: the call returns -ERESTARTSYS, the
 * signal code does its work, and the call restarts transparently.
 *
 * This file decides which of the two a pending signal is, and what a
 * socket's knobs are: its own options, else its namespace's net.san.*
 * (san_net.c).
 */
#include <linux/sched/signal.h>
#include <uapi/linux/san.h>

#include "san.h"

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

/* net.san.fallback_timeout_ms of the socket's namespace, in jiffies. */
unsigned long san_fallback_timeout(const struct san_sock *ssk)
{
	const struct san_net *sn = san_net(sock_net(&ssk->sk));

	return msecs_to_jiffies(READ_ONCE(sn->fallback_timeout_ms));
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
		ms = READ_ONCE(san_net(sock_net(&ssk->sk))->cancel_timeout_ms);
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
		bytes = READ_ONCE(san_net(sock_net(&ssk->sk))->zcopy_threshold);
	return bytes > 0 ? bytes : U32_MAX;
}
