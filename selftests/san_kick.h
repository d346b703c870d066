/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Signals at a controlled point, for the cancellation tests: a "kicker"
 * thread waits until a given thread sleeps in a given system call (seen in
 * /proc/PID/task/TID/syscall and its state S), then signals it.
 */
#ifndef _SAN_KICK_H
#define _SAN_KICK_H

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "san_util.h"

/*
 * Promptness bounds, in ms.  The debug kernel (SAN_SCALE > 1) runs every
 * path about 40 times slower: it gets ten times the bound.
 */
static inline long bound_ms(long ms)
{
	return san_scaled(1000) < 1000 ? ms * 10 : ms;
}

static inline long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static volatile sig_atomic_t caught;

static inline void on_signal(int sig)
{
	(void)sig;
	caught++;
}

static inline void catch_signal(int sig, int flags)
{
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = flags };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	caught = 0;
}

/*
 * Whether task @tid of process @pid sleeps in system call @nr (or @nr2):
 * /proc/PID/task/TID/syscall starts with the number while it is blocked
 * in it, and the task state is S.
 */
/* The first line of /proc/PID/task/TID/@what into @buf; 0 on success. */
static inline int task_line(pid_t pid, pid_t tid, const char *what,
			    char *buf, int len)
{
	char path[64];
	int ok;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/%s", pid, tid, what);
	f = fopen(path, "r");
	if (!f)
		return -1;
	ok = fgets(buf, len, f) != NULL;
	fclose(f);
	return ok ? 0 : -1;
}

static inline int asleep_in(pid_t pid, pid_t tid, long nr, long nr2)
{
	char buf[256], *p;
	long got;

	if (task_line(pid, tid, "syscall", buf, sizeof(buf)))
		return 0;
	got = strtol(buf, &p, 10);
	if (p == buf || (got != nr && got != nr2))
		return 0;
	if (task_line(pid, tid, "stat", buf, sizeof(buf)))
		return 0;
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] == 'S';
}

/* Wait (up to 20 s) until @pid/@tid sleeps in @nr or @nr2; 0 on success. */
static inline int wait_asleep(pid_t pid, pid_t tid, long nr, long nr2)
{
	int i;

	for (i = 0; i < 20000; i++) {
		if (asleep_in(pid, tid, nr, nr2))
			return 0;
		usleep(1000);
	}
	return -1;
}

/* A thread that signals another once it sleeps in a given call. */
struct kicker {
	pthread_t thread;
	pid_t tid;		/* whom to signal */
	long nr, nr2;		/* the system call it must sleep in */
	int sig;
	long delay_ms;		/* after it is seen asleep */
	long sent_ms;		/* when the signal went, 0 if never */
};

static inline void *kicker_main(void *arg)
{
	struct kicker *k = arg;

	if (wait_asleep(getpid(), k->tid, k->nr, k->nr2))
		return NULL;
	usleep(k->delay_ms * 1000);
	k->sent_ms = now_ms();
	syscall(SYS_tgkill, getpid(), k->tid, k->sig);
	return NULL;
}

static inline void kick_me(struct kicker *k, long nr, long nr2, int sig,
		    long delay_ms)
{
	memset(k, 0, sizeof(*k));
	k->tid = syscall(SYS_gettid);
	k->nr = nr;
	k->nr2 = nr2;
	k->sig = sig;
	k->delay_ms = delay_ms;
	pthread_create(&k->thread, NULL, kicker_main, k);
}

#endif /* _SAN_KICK_H */
