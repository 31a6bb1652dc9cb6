/* pinhole: expectations the daemon knows about, hashed by the data
 * connection's destination (address and port), which both a kernel
 * expectation event and a new connection's tuple carry, and chained a
 * second time by client address for the per-client cap. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pinhole.h"

struct pinhole_table {
	struct pinhole **bucket;
	struct pinhole **client_bucket;	/* by master.src, same count */
	unsigned bucket_count;		/* power of two */
	unsigned count, max;
	uint64_t next_id;
};

int pinhole_table_create(struct pinhole_table **out, unsigned max)
{
	struct pinhole_table *t;
	unsigned n = 64;

	if (max == 0)
		return -EINVAL;
	while (n < max / 2 && n < (1U << 16))
		n <<= 1;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->bucket = calloc(n, sizeof(*t->bucket));
	t->client_bucket = calloc(n, sizeof(*t->client_bucket));
	if (t->bucket == NULL || t->client_bucket == NULL) {
		free(t->bucket);
		free(t->client_bucket);
		free(t);
		return -ENOMEM;
	}
	t->bucket_count = n;
	t->max = max;
	t->next_id = 1;
	*out = t;
	return 0;
}

void pinhole_table_destroy(struct pinhole_table *t)
{
	unsigned i;

	if (t == NULL)
		return;
	for (i = 0; i < t->bucket_count; i++) {
		while (t->bucket[i] != NULL) {
			struct pinhole *p = t->bucket[i];

			t->bucket[i] = p->next;
			free(p);
		}
	}
	free(t->bucket);
	free(t->client_bucket);
	free(t);
}

unsigned pinhole_table_count(const struct pinhole_table *t)
{
	return t != NULL ? t->count : 0;
}

static unsigned pinhole_slot(const struct pinhole_table *t,
			     const struct inet_addr *dst, uint16_t dport)
{
	const unsigned char *b = dst->family == AF_INET6 ?
		(const unsigned char *)&dst->v6 : (const unsigned char *)&dst->v4;
	size_t i, n = dst->family == AF_INET6 ? 16 : 4;
	uint32_t h = 2166136261u ^ dport;	/* FNV-1a */

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	h ^= h >> 15;
	return h & (t->bucket_count - 1);
}

/* The client chain hashes the address alone (port 0). */
static unsigned pinhole_client_slot(const struct pinhole_table *t,
				    const struct inet_addr *client)
{
	return pinhole_slot(t, client, 0);
}

unsigned pinhole_client_open_count(const struct pinhole_table *t,
				   const struct inet_addr *client)
{
	const struct pinhole *p;
	unsigned n = 0;

	if (t == NULL || client == NULL)
		return 0;
	for (p = t->client_bucket[pinhole_client_slot(t, client)]; p != NULL;
	     p = p->client_next)
		if (inet_addr_equal(&p->master.src, client) &&
		    p->state == PINHOLE_OPEN && !p->removing && !p->vanished)
			n++;
	return n;
}

struct pinhole *pinhole_find(struct pinhole_table *t,
			     const struct flow *expect,
			     const struct flow *master)
{
	struct pinhole *p;

	for (p = t->bucket[pinhole_slot(t, &expect->dst, expect->dport)];
	     p != NULL; p = p->next)
		if (flow_equal(&p->expect, expect) &&
		    flow_equal(&p->master, master))
			return p;
	return NULL;
}

struct pinhole *pinhole_find_clash(struct pinhole_table *t,
				   const struct flow *expect,
				   const struct flow *master)
{
	struct pinhole *p;

	for (p = t->bucket[pinhole_slot(t, &expect->dst, expect->dport)];
	     p != NULL; p = p->next)
		if (p->state == PINHOLE_OPEN && p->expect.dport == expect->dport &&
		    inet_addr_equal(&p->expect.dst, &expect->dst) &&
		    inet_addr_equal(&p->expect.src, &expect->src) &&
		    (p->expect.sport == 0 || expect->sport == 0 ||
		     p->expect.sport == expect->sport) &&
		    !flow_equal(&p->master, master))
			return p;
	return NULL;
}

uint16_t pinhole_free_port(struct pinhole_table *t, const struct flow *expect,
			   const struct flow *master)
{
	struct flow x = *expect;
	unsigned i;

	if (expect->dport < 1024)
		return expect->dport;
	for (i = 0; i < PINHOLE_CLASH_TRIES; i++) {
		x.dport = (uint16_t)(1024 + (expect->dport - 1024 + i) % (65536 - 1024));
		if (pinhole_find_clash(t, &x, master) == NULL)
			return x.dport;
	}
	return 0;
}

struct pinhole *pinhole_add(struct pinhole_table *t,
			    const struct flow *expect,
			    const struct flow *master, bool *is_new)
{
	struct pinhole *p = pinhole_find(t, expect, master);
	unsigned slot;

	if (p != NULL) {
		*is_new = false;
		p->state = PINHOLE_OPEN;
		p->refreshed++;
		return p;
	}
	*is_new = true;
	if (t->count >= t->max) {
		errno = ENOSPC;
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL) {
		errno = ENOMEM;
		return NULL;
	}
	p->id = t->next_id++;
	p->expect = *expect;
	p->master = *master;
	p->state = PINHOLE_OPEN;
	slot = pinhole_slot(t, &expect->dst, expect->dport);
	p->next = t->bucket[slot];
	t->bucket[slot] = p;
	slot = pinhole_client_slot(t, &master->src);
	p->client_next = t->client_bucket[slot];
	t->client_bucket[slot] = p;
	t->count++;
	return p;
}

bool pinhole_admits(const struct pinhole *p, const struct flow *conn)
{
	return inet_addr_equal(&p->expect.src, &conn->src) &&
	       inet_addr_equal(&p->expect.dst, &conn->dst) &&
	       p->expect.dport == conn->dport &&
	       (p->expect.sport == 0 || p->expect.sport == conn->sport);
}

struct pinhole *pinhole_match_connection(struct pinhole_table *t,
					 const struct flow *conn,
					 const struct flow *master)
{
	struct pinhole *p, *open = NULL;

	for (p = t->bucket[pinhole_slot(t, &conn->dst, conn->dport)];
	     p != NULL; p = p->next) {
		if (!flow_equal(&p->master, master) ||
		    !pinhole_admits(p, conn))
			continue;
		if (p->state == PINHOLE_GONE)
			return p;
		if (open == NULL)
			open = p;
	}
	/* An OPEN match: the destroy event was lost or is still unread. */
	return open;
}

void pinhole_remove(struct pinhole_table *t, struct pinhole *p)
{
	struct pinhole **pp = &t->bucket[pinhole_slot(t, &p->expect.dst,
						      p->expect.dport)];

	while (*pp != NULL && *pp != p)
		pp = &(*pp)->next;
	if (*pp == NULL)
		return;
	*pp = p->next;
	pp = &t->client_bucket[pinhole_client_slot(t, &p->master.src)];
	while (*pp != NULL && *pp != p)
		pp = &(*pp)->client_next;
	if (*pp != NULL)
		*pp = p->client_next;
	t->count--;
	free(p);
}

void pinhole_mark_uncertain(struct pinhole_table *t)
{
	unsigned i;
	struct pinhole *p;

	for (i = 0; i < t->bucket_count; i++)
		for (p = t->bucket[i]; p != NULL; p = p->next) {
			p->uncertain = true;
			p->poll = true;
		}
}

void pinhole_foreach(struct pinhole_table *t,
		     void (*fn)(struct pinhole *p, void *data), void *data)
{
	unsigned i;
	struct pinhole *p, *next;

	for (i = 0; i < t->bucket_count; i++) {
		/* fn may remove p: take next first */
		for (p = t->bucket[i]; p != NULL; p = next) {
			next = p->next;
			fn(p, data);
		}
	}
}

enum pinhole_due pinhole_due(const struct pinhole *p, uint64_t now_ms)
{
	if (p->state == PINHOLE_GONE)
		return now_ms >= p->gone_ms + PINHOLE_GONE_GRACE_MS ?
			PINHOLE_DUE_DECIDE : PINHOLE_DUE_NOTHING;
	if ((p->poll || now_ms >= p->expiry_ms + PINHOLE_EXPIRY_SLACK_MS) &&
	    now_ms >= p->next_check_ms)
		return PINHOLE_DUE_CHECK_KERNEL;
	return PINHOLE_DUE_NOTHING;
}

enum pinhole_close pinhole_gone_reason(const struct pinhole *p,
				       bool master_alive)
{
	if (p->removing)
		return PINHOLE_CLOSE_FTPGATE;
	/* A use may have been among the lost events. */
	if (p->uncertain)
		return PINHOLE_CLOSE_UNKNOWN;
	/* The kernel reaps expired expectations lazily (Linux 6.1.y:
	 * nf_ct_expectation_gc() from the conntrack gc worker, or when a
	 * lookup walks past one), so a destroy at or after the expiry is an
	 * expiry however late it comes. */
	if (p->gone_ms + PINHOLE_EXPIRY_SLACK_MS >= p->expiry_ms)
		return PINHOLE_CLOSE_EXPIRED;
	if (!master_alive)
		return PINHOLE_CLOSE_SESSION;
	return PINHOLE_CLOSE_KERNEL;
}

enum pinhole_close pinhole_vanished_reason(const struct pinhole *p)
{
	if (p->removing)
		return PINHOLE_CLOSE_FTPGATE;
	return p->uncertain ? PINHOLE_CLOSE_UNKNOWN : PINHOLE_CLOSE_EXPIRED;
}

const char *pinhole_close_name(enum pinhole_close c)
{
	switch (c) {
	case PINHOLE_CLOSE_USED:	return "used";
	case PINHOLE_CLOSE_EXPIRED:	return "expired";
	case PINHOLE_CLOSE_SESSION:	return "session-ended";
	case PINHOLE_CLOSE_FTPGATE:	return "removed-by-ftpgate";
	case PINHOLE_CLOSE_KERNEL:	return "removed-in-kernel";
	case PINHOLE_CLOSE_UNKNOWN:	return "unknown-events-lost";
	case PINHOLE_CLOSE_HANDED_OVER:	return "handed-over";
	case PINHOLE_CLOSE_COUNT:	break;
	}
	return "unknown";
}

const char *pinhole_close_event(enum pinhole_close c)
{
	switch (c) {
	case PINHOLE_CLOSE_USED:	return "pinhole-used";
	case PINHOLE_CLOSE_EXPIRED:	return "pinhole-expired";
	default:			return "pinhole-removed";
	}
}
