/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The contract between bpf/ratelimit.bpf.c (sockops + sk_skb verdict: rate
 * limits enforced in the kernel) and user/ratelimit.c. Loaded only when
 * rate_limits: has rules. See docs/ratelimit.md.
 */
#ifndef SONDE_RATELIMIT_H
#define SONDE_RATELIMIT_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define RL_RULES_MAX 32     /* rules, by index 0..RL_RULES_MAX-1 */
#define RL_SERVICES_MAX 64  /* services with a limited port, by slot */
#define RL_DFA_STATES 2048  /* states of the request-line automaton; 0 is dead, 1 the start */
#define RL_LIMIT_MAX 128    /* largest limit of a rule: a rule keeps one timestamp per request */
#define RL_LINE_MAX 256     /* method + path bytes read before the path must have ended */
#define RL_HEAD_MAX 16384   /* head bytes scanned per request before giving up on it */

/*
 * The rules, twice: a reload writes the half not in use, then switches
 * rl_half (the program's .bss), so that a request is matched by one set only.
 * Half h has automaton states h * RL_DFA_STATES + [0, RL_DFA_STATES) (0 dead,
 * 1 the start) and rules h * RL_RULES_MAX + [0, RL_RULES_MAX).
 *
 * rl_dfa[state]: next states by byte, fed with the request line's bytes from
 * its method up to the end of its path (not the query); values are absolute
 * (in the same half). rl_accept[state]: 0, or the absolute index + 1 of the
 * first rule (in the configuration's order) whose pattern the bytes fed so
 * far match whole.
 */
struct rl_row {
	__u16 next[256];
};

/* rl_rules[index] */
struct rl_rule {
	__u64 window_ns;
	__u32 limit;  /* 1..RL_LIMIT_MAX */
	__u32 id;     /* the state's key: a hash of (match, limit, window), kept across reloads */
};

/* rl_ports: local port (host order) of a limited server -> its service slot + 1. */

/* rl_state and rl_times key: one (rule, client) pair. */
struct rl_key {
	__u32 rule_id;
	__u16 family; /* SONDE_AF_INET or SONDE_AF_INET6 */
	__u16 _pad;
	__u8 addr[16]; /* IPv4 in the first 4 bytes */
};

/*
 * The last `limit` admission times of a (rule, client), as a ring (rl_times)
 * and its place (rl_state, with the lock that orders the two): a request is
 * admitted when fewer than `limit` were, or when the oldest of the last
 * `limit` is at least `window` old. Exact: at most `limit` admissions in any
 * window. Two maps because a map value with a lock can only be created from
 * the stack, and the times do not fit there.
 */
struct rl_log {
	struct bpf_spin_lock lock;
	__u32 n;   /* admissions recorded, up to limit */
	__u32 pos; /* where the next one goes: the oldest of the last limit when n == limit */
	__u32 limit; /* the rule's limit when the ring was made */
};
struct rl_times {
	__u64 ts[RL_LIMIT_MAX]; /* ns, bpf_ktime_get_ns */
};

/* rl_counts (per-CPU array) index: (slot * 2 * RL_RULES_MAX + absolute rule) * 2 + result */
enum rl_result {
	RL_ALLOWED = 0,
	RL_LIMITED = 1,
};

/* rl_skips (per-CPU array): requests not matched, and why (all allowed). */
enum rl_skip {
	RL_SKIP_SPLIT = 0,  /* the request line did not end in the segment its request began in */
	RL_SKIP_NOT_HTTP,   /* bytes that are not an HTTP/1.x request where one should begin */
	RL_SKIP_CHUNKED,    /* a chunked body whose framing broke: the connection is no longer matched */
	RL_SKIP_LONG,       /* a request line or head longer than RL_LINE_MAX / RL_HEAD_MAX */
	RL_SKIP_MAP_FULL,   /* no room for a connection's or a client's state */
	RL_SKIP_PIPELINED,  /* a request after another in the same segment: admitted, counted */
	RL_SKIP__MAX,
};

/*
 * rl_resp[0]: the 429 response, RL_RESP_LEN bytes, with RL_RETRY_DIGITS spaces
 * at RL_RETRY_AT where the kernel writes Retry-After's value (see user/ratelimit.c).
 */
#define RL_RESP_HEAD "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: "
#define RL_RESP_TAIL "\r\nContent-Length: 31\r\nConnection: close\r\n\r\n{\"error\":\"Rate limit exceeded\"}"
#define RL_RETRY_DIGITS 6
#define RL_RETRY_AT (sizeof(RL_RESP_HEAD) - 1)
#define RL_RESP_LEN (sizeof(RL_RESP_HEAD) - 1 + RL_RETRY_DIGITS + sizeof(RL_RESP_TAIL) - 1)
struct rl_resp {
	__u8 b[RL_RESP_LEN];
};

/*
 * rl_trusted (LPM trie): trusted proxies. A connection from one is counted
 * by the last address of its requests' X-Forwarded-For instead of its peer.
 * data = family (SONDE_AF_INET/INET6) then the address; prefixlen = 8 + bits.
 */
struct rl_prefix {
	__u32 prefixlen;
	__u8 family;
	__u8 addr[16];
	__u8 _pad[3];
};

/* rl_events (ring buffer): one per 429, for the log line. */
struct rl_event {
	__u64 ts_ns;
	__u8 addr[16];
	__u16 family;
	__u16 port;       /* the client's */
	__u16 local_port; /* the server's */
	__u8 rule;        /* index */
	__u8 slot;        /* service slot */
	__u32 retry_after; /* seconds */
	__u32 _pad;
};

#endif /* SONDE_RATELIMIT_H */
