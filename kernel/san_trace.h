/* SPDX-License-Identifier: GPL-2.0 */
/*
 * AF_SAN tracepoints (events/af_san/ in tracefs): a connection's state
 * changes, its cancelled calls, its resets and its zero-copy transfers.
 * Sockets are named by their id (SAN_SOCK_ID, sock_diag's sdiag_id),
 * never by a pointer, so that one connection can be followed with
 * "perf trace -e af_san:*" or ftrace's filters (id == N).
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM af_san

#if !defined(_SAN_TRACE_H) || defined(TRACE_HEADER_MULTI_READ)
#define _SAN_TRACE_H

#include <linux/tracepoint.h>
#include <net/tcp_states.h>

#define san_show_state(s)						\
	__print_symbolic(s,						\
			 { TCP_ESTABLISHED, "ESTABLISHED" },		\
			 { TCP_SYN_SENT, "SYN_SENT" },			\
			 { TCP_SYN_RECV, "SYN_RECV" },			\
			 { TCP_CLOSE, "CLOSE" },			\
			 { TCP_LISTEN, "LISTEN" })

#define san_show_row(r)							\
	__print_symbolic(r,						\
			 { 0, "connect" },				\
			 { 1, "accept" },				\
			 { 2, "copy_abort" },				\
			 { 3, "copy_preserve" },			\
			 { 4, "linger" },				\
			 { 5, "zc_done" },				\
			 { 6, "zc_reset" })

TRACE_EVENT(san_state,
	    TP_PROTO(u32 id, int old, int new, int provider),

	    TP_ARGS(id, old, new, provider),

	    TP_STRUCT__entry(__field(u32, id)
			     __field(int, old)
			     __field(int, new)
			     __field(int, provider)),

	    TP_fast_assign(__entry->id = id;
			   __entry->old = old;
			   __entry->new = new;
			   __entry->provider = provider;),

	    TP_printk("id=%u %s -> %s provider=%d", __entry->id,
		      san_show_state(__entry->old),
		      san_show_state(__entry->new), __entry->provider)
);

TRACE_EVENT(san_cancel,
	    TP_PROTO(u32 id, int row, int ret),

	    TP_ARGS(id, row, ret),

	    TP_STRUCT__entry(__field(u32, id)
			     __field(int, row)
			     __field(int, ret)),

	    TP_fast_assign(__entry->id = id;
			   __entry->row = row;
			   __entry->ret = ret;),

	    TP_printk("id=%u row=%s ret=%d", __entry->id,
		      san_show_row(__entry->row), __entry->ret)
);

TRACE_EVENT(san_abort,
	    TP_PROTO(u32 id, int err),

	    TP_ARGS(id, err),

	    TP_STRUCT__entry(__field(u32, id)
			     __field(int, err)),

	    TP_fast_assign(__entry->id = id;
			   __entry->err = err;),

	    TP_printk("id=%u err=%d", __entry->id, __entry->err)
);

TRACE_EVENT(san_zc,
	    TP_PROTO(u32 id, bool send, bool start, int bytes),

	    TP_ARGS(id, send, start, bytes),

	    TP_STRUCT__entry(__field(u32, id)
			     __field(bool, send)
			     __field(bool, start)
			     __field(int, bytes)),

	    TP_fast_assign(__entry->id = id;
			   __entry->send = send;
			   __entry->start = start;
			   __entry->bytes = bytes;),

	    TP_printk("id=%u %s %s bytes=%d", __entry->id,
		      __entry->send ? "send" : "recv",
		      __entry->start ? "exposed" : "released", __entry->bytes)
);

#endif /* _SAN_TRACE_H */

#undef TRACE_INCLUDE_PATH
#define TRACE_INCLUDE_PATH .
#undef TRACE_INCLUDE_FILE
#define TRACE_INCLUDE_FILE san_trace
#include <trace/define_trace.h>
