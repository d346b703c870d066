/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * AF_SAN: TCP-grade byte streams over RDMA, the Linux take on Windows
 * Sockets Direct.  This is the header that programs include.
 *
 * The family number is not assigned by Linux: AF_SAN below is the module's
 * default, a slot that no 6.1 or 6.12 kernel registers.  A module loaded
 * with "family=N" uses N instead; the number in use is published in
 * /sys/module/af_san/parameters/family (see SAN_FAMILY_SYSFS).
 */
#ifndef _UAPI_LINUX_SAN_H
#define _UAPI_LINUX_SAN_H

/* Default family number: the dead AF_SNA slot. */
#define AF_SAN		22
#define PF_SAN		AF_SAN

/* Where the family number in use can be read, as a decimal number. */
#define SAN_FAMILY_SYSFS	"/sys/module/af_san/parameters/family"

/* Level for AF_SAN specific socket options. */
#define SOL_SAN		299

/*
 * SOL_SAN options (int values unless said otherwise).
 *
 * SAN_KEEPIDLE: seconds a connection with SO_KEEPALIVE stays idle before
 * it is probed, and between probes (1..32767); 0, the default, follows
 * net.ipv4.tcp_keepalive_time.  A peer that does not answer a probe ends
 * the connection with ETIMEDOUT after the transport's retries.
 */
#define SAN_KEEPIDLE	1

#endif /* _UAPI_LINUX_SAN_H */
