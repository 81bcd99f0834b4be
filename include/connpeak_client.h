/* SPDX-License-Identifier: GPL-2.0-only */
/* Copyright (c) 2026 The connpeak authors */
#ifndef CONNPEAK_CLIENT_H
#define CONNPEAK_CLIENT_H

/*
 * How a remote address becomes a client key. Shared by the BPF program and
 * userspace so that the unit tests check the code the kernel runs. Needs the
 * types of connpeak.h and nothing from libc.
 */

#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

/* Linux's AF_INET6; vmlinux.h has no macros. */
#define CONNPEAK_AF_INET6	10

#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define CONNPEAK_BE32_FFFF	0xffff0000U	/* 0x0000ffff in network order */
#else
#define CONNPEAK_BE32_FFFF	0x0000ffffU
#endif

/* Prefix lengths chosen at start and their masks in network order. */
struct connpeak_client_cfg {
	__be32 mask4;
	__be32 mask6[4];
	__u8 prefix4;
	__u8 prefix6;
	__u8 pad[2];
};

/*
 * Key for a connection to local port from the remote address a (network
 * order; IPv4 in a[0]). ::ffff:a.b.c.d becomes the IPv4 address a.b.c.d.
 */
static __always_inline void connpeak_client_key_make(struct connpeak_client_key *k, int family,
						     const __be32 a[4], __u16 port,
						     const struct connpeak_client_cfg *cfg)
{
	int v4 = family != CONNPEAK_AF_INET6 ||
		 (!a[0] && !a[1] && a[2] == CONNPEAK_BE32_FFFF);

	k->port = port;
	if (v4) {
		k->addr[0] = (family == CONNPEAK_AF_INET6 ? a[3] : a[0]) & cfg->mask4;
		k->addr[1] = k->addr[2] = k->addr[3] = 0;
		k->family = CONNPEAK_FAMILY_IPV4;
		k->prefix = cfg->prefix4;
		return;
	}
	k->addr[0] = a[0] & cfg->mask6[0];
	k->addr[1] = a[1] & cfg->mask6[1];
	k->addr[2] = a[2] & cfg->mask6[2];
	k->addr[3] = a[3] & cfg->mask6[3];
	k->family = CONNPEAK_FAMILY_IPV6;
	k->prefix = cfg->prefix6;
}

/* Mix the bits of x so that each input bit affects every output bit. */
static __always_inline __u64 connpeak_mix64(__u64 x)
{
	x ^= x >> 31;
	x *= 0x7fb5d329728ea185ULL;
	x ^= x >> 27;
	x *= 0x81dadef4bc2dd44dULL;
	x ^= x >> 33;
	return x;
}

/*
 * Hash of a key: the high half picks the home slot, the low CONNPEAK_CL_BITS
 * are the fingerprint kept in the slot's state.
 */
static __always_inline __u64 connpeak_client_hash(const struct connpeak_client_key *k)
{
	__u64 a = ((__u64)k->addr[0] << 32) | k->addr[1];
	__u64 b = ((__u64)k->addr[2] << 32) | k->addr[3];
	__u64 c = ((__u64)k->port << 16) | ((__u64)k->family << 8) | k->prefix;

	/* Odd multipliers keep the words apart before one full mix. */
	return connpeak_mix64(a ^ (b * 0x9e3779b97f4a7c15ULL) ^ (c * 0xc2b2ae3d27d4eb4fULL));
}

static __always_inline __u32 connpeak_client_fp(__u64 hash)
{
	return hash & CONNPEAK_CL_MAX;
}

/* The home slot of a hash in a table of nslots, without a division. */
static __always_inline __u32 connpeak_client_home(__u64 hash, __u32 nslots)
{
	return ((hash >> 32) * nslots) >> 32;
}

#endif /* CONNPEAK_CLIENT_H */
