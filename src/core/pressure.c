/* pressure: per-server sliding windows of announcements and error replies.
 *
 * Bounds: PRESSURE_SERVERS_MAX servers (the least recently active one
 * makes room), PRESSURE_SAMPLES_MAX announcements per server. When a busy
 * server fills its ring within the window, the rate is taken over the
 * time the ring covers, which is still exact for the samples it holds. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pressure.h"

int pressure_init(struct pressure *p, unsigned window_s, unsigned time_wait_s)
{
	memset(p, 0, sizeof(*p));
	p->servers = calloc(PRESSURE_SERVERS_MAX, sizeof(*p->servers));
	if (p->servers == NULL)
		return -ENOMEM;
	pressure_configure(p, window_s, time_wait_s);
	return 0;
}

void pressure_free(struct pressure *p)
{
	unsigned i;

	if (p->servers == NULL)
		return;
	for (i = 0; i < p->count; i++)
		free(p->servers[i].samples);
	free(p->servers);
	p->servers = NULL;
	p->count = 0;
}

void pressure_configure(struct pressure *p, unsigned window_s,
			unsigned time_wait_s)
{
	p->window_s = window_s ? window_s : 1;
	p->time_wait_s = time_wait_s ? time_wait_s : 1;
}

struct pressure_server *pressure_find(struct pressure *p,
				      const struct inet_addr *server)
{
	unsigned i;

	for (i = 0; i < p->count; i++)
		if (inet_addr_equal(&p->servers[i].addr, server))
			return &p->servers[i];
	return NULL;
}

/* The server's slot, made (or recycled from the least recently active
 * server) when missing. NULL only when memory runs out. */
static struct pressure_server *pressure_slot(struct pressure *p,
					     const struct inet_addr *server,
					     uint64_t now_ms)
{
	struct pressure_server *s = pressure_find(p, server);
	struct pressure_sample *samples;
	unsigned i;

	if (s != NULL)
		return s;
	if (p->servers == NULL)
		return NULL;
	if (p->count < PRESSURE_SERVERS_MAX) {
		s = &p->servers[p->count];
		samples = calloc(PRESSURE_SAMPLES_MAX, sizeof(*samples));
		if (samples == NULL)
			return NULL;
		p->count++;
	} else {
		s = &p->servers[0];
		for (i = 1; i < p->count; i++)
			if (p->servers[i].last_ms < s->last_ms)
				s = &p->servers[i];
		samples = s->samples;
	}
	memset(s, 0, sizeof(*s));
	s->samples = samples;
	s->addr = *server;
	s->first_ms = now_ms;
	return s;
}

void pressure_announce(struct pressure *p, const struct inet_addr *server,
		       uint16_t port, uint64_t now_ms)
{
	struct pressure_server *s = pressure_slot(p, server, now_ms);
	unsigned slot;

	if (s == NULL)
		return;
	s->last_ms = now_ms;
	s->announcements_total++;
	if (s->count < PRESSURE_SAMPLES_MAX) {
		slot = (s->head + s->count) % PRESSURE_SAMPLES_MAX;
		s->count++;
	} else {
		slot = s->head;		/* overwrite the oldest */
		s->head = (s->head + 1) % PRESSURE_SAMPLES_MAX;
	}
	s->samples[slot].t_ms = now_ms;
	s->samples[slot].port = port;
}

void pressure_trouble(struct pressure *p, const struct inet_addr *server,
		      int code, const char *text, uint64_t now_ms)
{
	struct pressure_server *s = pressure_slot(p, server, now_ms);
	unsigned slot;

	if (s == NULL)
		return;
	s->last_ms = now_ms;
	s->trouble_total++;
	s->last_trouble_code = code;
	snprintf(s->last_trouble_text, sizeof(s->last_trouble_text), "%s",
		 text ? text : "");
	if (s->trouble_count < PRESSURE_TROUBLE_MAX) {
		slot = (s->trouble_head + s->trouble_count) % PRESSURE_TROUBLE_MAX;
		s->trouble_count++;
	} else {
		slot = s->trouble_head;
		s->trouble_head = (s->trouble_head + 1) % PRESSURE_TROUBLE_MAX;
	}
	s->trouble_ms[slot] = now_ms;
}

double pressure_sustainable_rate(unsigned range_size, unsigned time_wait_s)
{
	if (range_size == 0 || time_wait_s == 0)
		return 0.0;
	return (double)range_size / (double)time_wait_s;
}

enum pressure_level pressure_level(double rate, double sustainable,
				   unsigned occupied, unsigned range_size)
{
	double use = 0.0;

	if (sustainable > 0.0)
		use = rate / sustainable;
	if (range_size > 0 && (double)occupied / range_size > use)
		use = (double)occupied / range_size;
	if (use >= 1.0)
		return PRESSURE_SATURATED;
	if (use >= PRESSURE_WARN_RATIO)
		return PRESSURE_HIGH;
	return PRESSURE_OK;
}

const char *pressure_level_name(enum pressure_level l)
{
	switch (l) {
	case PRESSURE_OK:		return "ok";
	case PRESSURE_HIGH:		return "high";
	case PRESSURE_SATURATED:	return "saturated";
	}
	return "unknown";
}

static void pressure_warning(struct pressure_report *r)
{
	char trouble[256] = "";
	int n = 0;

	if (r->trouble_window > 0)
		snprintf(trouble, sizeof(trouble),
			 "the server sent %u data-connection error repl%s in the last %us (last: \"%.100s\")",
			 r->trouble_window, r->trouble_window == 1 ? "y" : "ies",
			 r->window_s, r->last_trouble_text);
	if (r->level != PRESSURE_OK) {
		n = snprintf(r->warning, sizeof(r->warning),
			     "%s: %.2f data connections/min announced, the %u-port range sustains %.2f/min at TIME_WAIT %us; %u of %u ports occupied. Widen the server's passive range (and passive-ports here)",
			     r->level == PRESSURE_SATURATED ? "passive ports exhausted"
							    : "passive ports nearly exhausted",
			     r->rate_per_s * 60.0, r->range_size,
			     r->sustainable_per_s * 60.0, r->time_wait_s,
			     r->occupied, r->range_size);
		if (trouble[0] && n > 0 && (size_t)n < sizeof(r->warning))
			snprintf(r->warning + n, sizeof(r->warning) - (size_t)n,
				 "; %s", trouble);
	} else if (trouble[0]) {
		snprintf(r->warning, sizeof(r->warning),
			 "%s, but demand is well below what the passive range sustains: look for another cause (the server's connection limits, a firewall)",
			 trouble);
	} else {
		r->warning[0] = '\0';
	}
}

void pressure_report(const struct pressure *p, const struct pressure_server *s,
		     const struct inet_addr *server, unsigned range_low,
		     unsigned range_high, unsigned occupied, uint64_t now_ms,
		     struct pressure_report *r)
{
	uint8_t seen[65536 / 8];	/* ports counted so far */
	uint64_t window_ms = (uint64_t)p->window_s * 1000, since, covered;
	unsigned i;

	memset(r, 0, sizeof(*r));
	memset(seen, 0, sizeof(seen));
	r->server = *server;
	r->range_low = range_low;
	r->range_high = range_high;
	r->range_size = range_high >= range_low && range_low > 0 ?
		range_high - range_low + 1 : 0;
	r->time_wait_s = p->time_wait_s;
	r->sustainable_per_s = pressure_sustainable_rate(r->range_size,
							 p->time_wait_s);
	r->occupied = occupied;
	r->window_s = p->window_s;
	since = now_ms > window_ms ? now_ms - window_ms : 0;

	if (s != NULL) {
		r->announcements_total = s->announcements_total;
		r->trouble_total = s->trouble_total;
		r->last_trouble_code = s->last_trouble_code;
		memcpy(r->last_trouble_text, s->last_trouble_text,
		       sizeof(r->last_trouble_text));
		/* the window cannot reach back before we started watching,
		 * nor before the oldest sample a full ring still holds */
		covered = now_ms - s->first_ms;
		if (s->count == PRESSURE_SAMPLES_MAX &&
		    s->samples[s->head].t_ms > since)
			covered = now_ms - s->samples[s->head].t_ms;
		if (covered < window_ms)
			r->window_s = (unsigned)(covered / 1000);
		if (r->window_s < PRESSURE_MIN_WINDOW_S)
			r->window_s = PRESSURE_MIN_WINDOW_S;
		if (r->window_s > p->window_s)
			r->window_s = p->window_s;
		for (i = 0; i < s->count; i++) {
			const struct pressure_sample *x =
				&s->samples[(s->head + i) % PRESSURE_SAMPLES_MAX];

			if (x->t_ms < since)
				continue;
			r->announcements++;
			if (!(seen[x->port / 8] & (1u << (x->port % 8)))) {
				seen[x->port / 8] |= (uint8_t)(1u << (x->port % 8));
				r->distinct_ports++;
			}
		}
		for (i = 0; i < s->trouble_count; i++)
			if (s->trouble_ms[(s->trouble_head + i) % PRESSURE_TROUBLE_MAX] >= since)
				r->trouble_window++;
	}
	r->rate_per_s = r->window_s ? (double)r->announcements / r->window_s : 0.0;
	r->utilisation = r->sustainable_per_s > 0.0 ?
		r->rate_per_s / r->sustainable_per_s : 0.0;
	if (r->range_size > 0 && (double)occupied / r->range_size > r->utilisation)
		r->utilisation = (double)occupied / r->range_size;
	r->level = pressure_level(r->rate_per_s, r->sustainable_per_s, occupied,
				  r->range_size);
	pressure_warning(r);
}
