/* pressure: is a server running out of passive ports?
 *
 * Every data connection to a passive port leaves that port's connection in
 * TIME_WAIT for a while, so a range of N ports sustains about
 * N / TIME_WAIT new data connections per second (20 ports at 120 s: one
 * every 6 s). ftpgate sees every announcement (227/229) and every
 * data-connection error reply (425, 421, 426), so it can compare the
 * observed demand with what the range sustains. Pure: the daemon feeds it
 * announcements and replies, and supplies the range size and the number of
 * occupied ports (from the kernel) when it asks for a report. */
#ifndef FTPGATE_PRESSURE_H
#define FTPGATE_PRESSURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "inet_addr.h"

#define PRESSURE_SERVERS_MAX 1024	/* least recently active is dropped */
#define PRESSURE_SAMPLES_MAX 512	/* announcements kept per server */
#define PRESSURE_TROUBLE_MAX 64		/* error replies kept per server */
#define PRESSURE_MIN_WINDOW_S 10	/* rates over less are too jumpy */
/* "approaching": observed demand at this share of what the range sustains */
#define PRESSURE_WARN_RATIO 0.75
#define PRESSURE_TEXT_MAX 128

struct pressure_sample {
	uint64_t t_ms;
	uint16_t port;
};

struct pressure_server {
	struct inet_addr addr;
	uint64_t first_ms, last_ms;	/* first and last activity */
	struct pressure_sample *samples;	/* ring, PRESSURE_SAMPLES_MAX */
	unsigned head, count;		/* oldest at head */
	uint64_t trouble_ms[PRESSURE_TROUBLE_MAX];	/* ring */
	unsigned trouble_head, trouble_count;
	uint64_t announcements_total;
	uint64_t trouble_total;
	int last_trouble_code;
	char last_trouble_text[PRESSURE_TEXT_MAX];
};

struct pressure {
	struct pressure_server *servers;	/* PRESSURE_SERVERS_MAX slots */
	unsigned count;
	unsigned window_s;		/* sliding window for rates */
	unsigned time_wait_s;		/* assumed TIME_WAIT per data port */
};

int pressure_init(struct pressure *p, unsigned window_s, unsigned time_wait_s);
void pressure_free(struct pressure *p);
void pressure_configure(struct pressure *p, unsigned window_s,
			unsigned time_wait_s);

/* A server announced `port` for a data connection. */
void pressure_announce(struct pressure *p, const struct inet_addr *server,
		       uint16_t port, uint64_t now_ms);
/* A server answered with a data-connection error (425, 421, 426). */
void pressure_trouble(struct pressure *p, const struct inet_addr *server,
		      int code, const char *text, uint64_t now_ms);

struct pressure_server *pressure_find(struct pressure *p,
				      const struct inet_addr *server);

enum pressure_level {
	PRESSURE_OK,
	PRESSURE_HIGH,			/* demand approaches the sustainable rate */
	PRESSURE_SATURATED,		/* at or beyond it */
};

struct pressure_report {
	struct inet_addr server;
	unsigned range_low, range_high, range_size;
	unsigned window_s;		/* effective window of the rates */
	unsigned announcements;		/* in the window */
	unsigned distinct_ports;	/* in the window */
	double rate_per_s;		/* announcements per second */
	unsigned time_wait_s;
	double sustainable_per_s;	/* range_size / time_wait_s */
	unsigned occupied;		/* ports with an open pinhole or a
					   tracked data connection */
	double utilisation;		/* max(rate / sustainable,
					   occupied / range_size) */
	unsigned trouble_window;	/* error replies in the window */
	uint64_t trouble_total;
	uint64_t announcements_total;
	int last_trouble_code;
	char last_trouble_text[PRESSURE_TEXT_MAX];
	enum pressure_level level;
	char warning[512];		/* "" when nothing to say */
};

/* N / TIME_WAIT, in data connections per second (0 for a zero input). */
double pressure_sustainable_rate(unsigned range_size, unsigned time_wait_s);

/* Level from the observed rate and occupancy. */
enum pressure_level pressure_level(double rate, double sustainable,
				   unsigned occupied, unsigned range_size);

/* Fill r for server s (may be NULL: a configured server with no activity
 * yet) at now_ms; range and occupancy come from the caller. */
void pressure_report(const struct pressure *p, const struct pressure_server *s,
		     const struct inet_addr *server, unsigned range_low,
		     unsigned range_high, unsigned occupied, uint64_t now_ms,
		     struct pressure_report *r);

const char *pressure_level_name(enum pressure_level l);	/* "ok", ... */

#endif
