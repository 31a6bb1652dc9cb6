#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>

#include "session_table.h"

struct session_table {
	struct session_entry **bucket;
	struct session_entry **control; /* by control connection */
	unsigned bucket_count;		/* power of two, both arrays */
	unsigned count, max;
	uint64_t key;			/* random: the control hash's key */
	/* half-open entries, oldest first (doubly linked: O(1) both ends) */
	struct session_entry *half_head, *half_tail;
};

/* A random key; if the kernel has none to give, the clock (weaker, but a
 * chain is still bounded by max-sessions). */
static uint64_t session_table_key(void)
{
	struct timespec ts;
	uint64_t k;

	if (getrandom(&k, sizeof(k), GRND_NONBLOCK) == (ssize_t)sizeof(k))
		return k;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
}

static uint64_t session_table_mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	size_t i;

	for (i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;	/* FNV-1a, keyed by the start value */
	}
	return h;
}

static unsigned session_table_control_slot(const struct session_table *t,
					   const struct inet_addr *client,
					   uint16_t client_port,
					   const struct inet_addr *server,
					   uint16_t server_port)
{
	uint64_t h = t->key ^ 0xcbf29ce484222325ULL;

	h = session_table_mix(h, &client->family, sizeof(client->family));
	h = session_table_mix(h, client->family == AF_INET6 ?
				 (const void *)&client->v6 : (const void *)&client->v4,
			      client->family == AF_INET6 ? sizeof(client->v6)
							 : sizeof(client->v4));
	h = session_table_mix(h, server->family == AF_INET6 ?
				 (const void *)&server->v6 : (const void *)&server->v4,
			      server->family == AF_INET6 ? sizeof(server->v6)
							 : sizeof(server->v4));
	h = session_table_mix(h, &client_port, sizeof(client_port));
	h = session_table_mix(h, &server_port, sizeof(server_port));
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 32;
	return (unsigned)h & (t->bucket_count - 1);
}

/* Conntrack IDs are not chosen by the network peers, but hash them anyway so
 * that sequential IDs spread over the buckets. */
static unsigned session_table_slot(const struct session_table *t, uint32_t id)
{
	id ^= id >> 16;
	id *= 0x45d9f3bU;
	id ^= id >> 16;
	return id & (t->bucket_count - 1);
}

void session_table_set_max(struct session_table *t, unsigned max_sessions)
{
	if (t != NULL && max_sessions > 0)
		t->max = max_sessions;
}

int session_table_create(struct session_table **out, unsigned max_sessions)
{
	struct session_table *t;
	unsigned n = 64;

	if (max_sessions == 0)
		return -EINVAL;
	while (n < max_sessions && n < (1U << 20))
		n <<= 1;
	t = calloc(1, sizeof(*t));
	if (!t)
		return -ENOMEM;
	t->bucket = calloc(n, sizeof(*t->bucket));
	t->control = calloc(n, sizeof(*t->control));
	if (!t->bucket || !t->control) {
		free(t->bucket);
		free(t->control);
		free(t);
		return -ENOMEM;
	}
	t->bucket_count = n;
	t->max = max_sessions;
	t->key = session_table_key();
	*out = t;
	return 0;
}

void session_table_destroy(struct session_table *t)
{
	unsigned i;

	if (!t)
		return;
	for (i = 0; i < t->bucket_count; i++) {
		while (t->bucket[i])
			session_table_remove(t, t->bucket[i]);
	}
	free(t->bucket);
	free(t->control);
	free(t);
}

struct session_entry *session_table_find(struct session_table *t,
					 uint32_t conntrack_id)
{
	struct session_entry *e;

	for (e = t->bucket[session_table_slot(t, conntrack_id)]; e; e = e->next)
		if (e->conntrack_id == conntrack_id)
			return e;
	return NULL;
}

static void session_table_half_append(struct session_table *t,
				      struct session_entry *e)
{
	e->half_open = true;
	e->half_next = NULL;
	e->half_prev = t->half_tail;
	if (t->half_tail)
		t->half_tail->half_next = e;
	else
		t->half_head = e;
	t->half_tail = e;
}

static void session_table_half_unlink(struct session_table *t,
				      struct session_entry *e)
{
	if (!e->half_open)
		return;
	if (e->half_prev)
		e->half_prev->half_next = e->half_next;
	else
		t->half_head = e->half_next;
	if (e->half_next)
		e->half_next->half_prev = e->half_prev;
	else
		t->half_tail = e->half_prev;
	e->half_open = false;
	e->half_prev = e->half_next = NULL;
}

void session_table_established(struct session_table *t, struct session_entry *e)
{
	session_table_half_unlink(t, e);
}

struct session_entry *session_table_oldest_half_open(struct session_table *t)
{
	return t->half_head;
}

/* Unlinked from its chain already: release it. */
static void session_table_release(struct session_table *t, struct session_entry *e)
{
	session_table_half_unlink(t, e);
	t->count--;
	session_free(&e->session);
	free(e->rewrite_memo);
	free(e);
}

struct session_entry *session_table_add(struct session_table *t,
					uint32_t conntrack_id)
{
	struct session_entry *e;
	unsigned slot;

	if (t->count >= t->max) {
		errno = ENOSPC;
		return NULL;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		errno = ENOMEM;
		return NULL;
	}
	e->conntrack_id = conntrack_id;
	slot = session_table_slot(t, conntrack_id);
	e->next = t->bucket[slot];
	t->bucket[slot] = e;
	t->count++;
	session_table_half_append(t, e);
	return e;
}

void session_table_index(struct session_table *t, struct session_entry *e)
{
	const struct session *s = &e->session;
	unsigned slot;

	if (e->indexed)
		return;
	slot = session_table_control_slot(t, &s->client, s->client_port,
					  &s->server, s->server_port);
	e->control_next = t->control[slot];
	t->control[slot] = e;
	e->indexed = true;
}

struct session_entry *session_table_find_control(struct session_table *t,
						 const struct inet_addr *client,
						 uint16_t client_port,
						 const struct inet_addr *server,
						 uint16_t server_port,
						 unsigned *examined)
{
	struct session_entry *e;
	unsigned slot, n = 0;

	slot = session_table_control_slot(t, client, client_port, server,
					  server_port);
	for (e = t->control[slot]; e; e = e->control_next) {
		n++;
		if (e->session.client_port == client_port &&
		    e->session.server_port == server_port &&
		    inet_addr_equal(&e->session.client, client) &&
		    inet_addr_equal(&e->session.server, server))
			break;
	}
	if (examined != NULL)
		*examined = n;
	return e;
}

/* Out of the control index, if it is in. */
static void session_table_unindex(struct session_table *t,
				  struct session_entry *e)
{
	const struct session *s = &e->session;
	struct session_entry **p;

	if (!e->indexed)
		return;
	p = &t->control[session_table_control_slot(t, &s->client,
						   s->client_port, &s->server,
						   s->server_port)];
	while (*p && *p != e)
		p = &(*p)->control_next;
	if (*p)
		*p = e->control_next;
	e->indexed = false;
}

void session_table_remove(struct session_table *t, struct session_entry *e)
{
	struct session_entry **p = &t->bucket[session_table_slot(t, e->conntrack_id)];

	while (*p && *p != e)
		p = &(*p)->next;
	if (!*p)
		return;
	*p = e->next;
	session_table_unindex(t, e);
	session_table_release(t, e);
}

unsigned session_table_expire(struct session_table *t, uint64_t now_ms,
			      uint64_t idle_ms)
{
	return session_table_expire_each(t, now_ms, idle_ms, NULL, NULL);
}

unsigned session_table_expire_each(struct session_table *t, uint64_t now_ms,
				   uint64_t idle_ms,
				   void (*fn)(struct session_entry *e, void *data),
				   void *data)
{
	unsigned i, removed = 0;

	for (i = 0; i < t->bucket_count; i++) {
		struct session_entry **p = &t->bucket[i];

		while (*p) {
			struct session_entry *e = *p;

			if (e->session.last_seen_ms + idle_ms < now_ms) {
				if (fn != NULL)
					fn(e, data);
				*p = e->next;
				session_table_unindex(t, e);
				session_table_release(t, e);
				removed++;
			} else {
				p = &e->next;
			}
		}
	}
	return removed;
}

unsigned session_table_count(const struct session_table *t)
{
	return t->count;
}

void session_table_foreach(struct session_table *t,
			   void (*fn)(struct session_entry *e, void *data),
			   void *data)
{
	unsigned i;
	struct session_entry *e;

	for (i = 0; i < t->bucket_count; i++)
		for (e = t->bucket[i]; e; e = e->next)
			fn(e, data);
}
