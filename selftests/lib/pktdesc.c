// SPDX-License-Identifier: GPL-2.0
/*
 * pktdesc.c - a struct pkt_desc row through the packet builder. Each field
 * maps to one pktbuild call; zero fields are left at the builder's default.
 */
#include "pktdesc.h"

/* Render the quoted packet of an ICMP error into @q; 0 when it is bad or
 * shorter than the cut asked for. */
static size_t render_quote(const struct pkt_desc *d, uint8_t *q, size_t cap)
{
	size_t qlen;

	if (!d->quote)
		return 0;
	qlen = pd_build(d->quote, false, q, cap);
	if (!qlen || d->quote_cut > qlen)
		return 0;
	return d->quote_cut ? d->quote_cut : qlen;
}

static void describe_l4(struct pb *b, const struct pkt_desc *d)
{
	uint8_t q[PB_BUF_LEN];
	size_t qlen = 0;

	if (d->kind >= PD_PTB && d->kind <= PD_TIME_EXCEEDED) {
		qlen = render_quote(d, q, sizeof(q));
		if (!qlen) {
			b->bad = true;
			return;
		}
	}
	switch (d->kind) {
	case PD_RAW:
		break;
	case PD_TCP:
		pb_tcp(b, d->sport, d->dport, d->flags);
		break;
	case PD_UDP:
		pb_udp(b, d->sport, d->dport);
		break;
	case PD_ECHO_REQUEST:
	case PD_ECHO_REPLY:
		pb_echo(b, d->kind == PD_ECHO_REQUEST, d->echo_id);
		break;
	case PD_PTB:
		pb_ptb(b, d->mtu, q, qlen);
		break;
	case PD_FRAG_NEEDED:
		pb_frag_needed(b, (uint16_t)d->mtu, q, qlen);
		break;
	case PD_UNREACH:
		pb_dest_unreach(b, d->code, q, qlen);
		break;
	case PD_TIME_EXCEEDED:
		pb_icmp_error(b, b->family == 6 ? 3 : 11, 0, 0, q, qlen);
		break;
	case PD_ND:
		pb_nd(b, d->nd_type);
		break;
	case PD_ARP:
		pb_arp(b);
		break;
	default:
		b->bad = true;
		break;
	}
}

struct pb *pd_describe(struct pb *b, const struct pkt_desc *d)
{
	unsigned int i;

	pb_init(b);
	/* ARP may go without addresses; everything else needs them. */
	if (d->src || d->dst)
		pb_ip(b, d->src ? d->src : "", d->dst ? d->dst : "");
	describe_l4(b, d);
	if (d->ttl)
		pb_ttl(b, d->ttl);
	if (d->payload)
		pb_payload(b, d->payload);
	if (d->ip_opts)
		pb_ip_opts(b, d->ip_opts);
	if (d->n_ext > PB_MAX_EXT)
		b->bad = true;
	for (i = 0; i < d->n_ext && i < PB_MAX_EXT; i++)
		pb_ext(b, d->ext[i], 1);
	if (d->frag != PB_FRAG_NONE)
		pb_frag(b, d->frag, d->frag_id, d->frag_off);
	if (d->lie != PB_F_NONE)
		pb_lie(b, d->lie, d->value);
	if (d->vlan)
		pb_vlan(b, d->vlan);
	if (d->eth)
		pb_eth(b);
	if (d->ethertype)
		pb_ethertype(b, d->ethertype);
	return b;
}

size_t pd_build(const struct pkt_desc *d, bool eth, uint8_t *buf, size_t cap)
{
	struct pb b;

	pd_describe(&b, d);
	if (eth)
		pb_eth(&b);
	return pb_build(&b, buf, cap);
}
