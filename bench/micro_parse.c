/* micro_parse: host microbenchmark of ftpgated's per-packet logic.
 *
 * Feeds a recorded FTP control connection (lftp against vsftpd 3.0.3:
 * greeting, login, FEAT, PWD, CWD, PASV + LIST, TYPE, SIZE, EPSV + RETR,
 * QUIT), packet by packet, through what the daemon runs for every queued
 * packet: packet_parse() on the raw IPv4/TCP bytes, then session_packet()
 * (stream reassembly into lines, FTP parsing, reply matching, policy), with
 * the session created and freed as the daemon does. Pure ACKs are fed too:
 * the kernel queues them to the helper like any other segment.
 *
 * Scenarios:
 *   inorder  every segment in order, one line or reply per segment
 *   split    every server segment with a payload cut in two and the second
 *            half sent first (reassembly holds it, then merges)
 *
 * Prints bytes/s, lines/s, packets/s and ns per packet. For a repeatable
 * count, run it under callgrind (bench/micro does):
 *   valgrind --tool=callgrind --toggle-collect=micro_session_run \
 *       micro_parse --scenario inorder --iterations 200
 * and divide the collected instructions by the replies it reports.
 *
 * --daemon-actions zeroes the whole struct session_actions before every
 * packet, as ftpgated's daemon_packet() does (`= { .count = 0 }`), to show
 * what that costs next to setting only the count. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>

#include "packet.h"
#include "policy.h"
#include "session.h"

#define MICRO_PACKETS_MAX 256
#define MICRO_PACKET_BYTES 1600

enum { C2S = SESSION_DIR_ORIGINAL, S2C = SESSION_DIR_REPLY };

/* The recorded control connection; NULL text = pure ACK from that side. */
static const struct {
	int dir;
	const char *text;
} micro_transcript[] = {
	{ S2C, "220 (vsFTPd 3.0.3)\r\n" },
	{ C2S, NULL },
	{ C2S, "FEAT\r\n" },
	{ S2C, "211-Features:\r\n EPRT\r\n EPSV\r\n MDTM\r\n PASV\r\n REST STREAM\r\n SIZE\r\n TVFS\r\n UTF8\r\n211 End\r\n" },
	{ C2S, "USER anonymous\r\n" },
	{ S2C, "331 Please specify the password.\r\n" },
	{ C2S, "PASS lftp@\r\n" },
	{ S2C, "230 Login successful.\r\n" },
	{ C2S, "OPTS UTF8 ON\r\n" },
	{ S2C, "200 Always in UTF8 mode.\r\n" },
	{ C2S, "PWD\r\n" },
	{ S2C, "257 \"/\" is the current directory\r\n" },
	{ C2S, "CWD pub\r\n" },
	{ S2C, "250 Directory successfully changed.\r\n" },
	{ C2S, "PASV\r\n" },
	{ S2C, "227 Entering Passive Mode (203,0,113,2,156,93).\r\n" },
	{ C2S, "LIST\r\n" },
	{ S2C, "150 Here comes the directory listing.\r\n" },
	{ C2S, NULL },
	{ S2C, "226 Directory send OK.\r\n" },
	{ C2S, NULL },
	{ C2S, "TYPE I\r\n" },
	{ S2C, "200 Switching to Binary mode.\r\n" },
	{ C2S, "SIZE hello.txt\r\n" },
	{ S2C, "213 24\r\n" },
	{ C2S, "EPSV\r\n" },
	{ S2C, "229 Entering Extended Passive Mode (|||40077|)\r\n" },
	{ C2S, "RETR hello.txt\r\n" },
	{ S2C, "150 Opening BINARY mode data connection for hello.txt (24 bytes).\r\n" },
	{ C2S, NULL },
	{ S2C, "226 Transfer complete.\r\n" },
	{ C2S, NULL },
	{ C2S, "QUIT\r\n" },
	{ S2C, "221 Goodbye.\r\n" },
	{ C2S, NULL },
};

struct micro_packet {
	int dir;
	size_t len;
	uint8_t data[MICRO_PACKET_BYTES];
};

struct micro_scenario {
	const char *name;
	struct micro_packet *pkt;
	unsigned count;
	/* per session */
	unsigned long payload_bytes, lines, replies, pinholes;
};

struct micro_counters {
	unsigned long packets, pinholes, refused, other_actions, parse_errors;
};

static bool micro_daemon_actions;

static const struct inet_addr *micro_addr(int which)
{
	static struct inet_addr client, server;

	if (!client.family) {
		client.family = server.family = AF_INET;
		inet_pton(AF_INET, "198.51.100.2", &client.v4);
		inet_pton(AF_INET, "203.0.113.2", &server.v4);
	}
	return which == C2S ? &client : &server;
}

#define MICRO_CLIENT_PORT 40001
#define MICRO_SERVER_PORT 21

static void put16(uint8_t *p, unsigned v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

/* An IPv4 + TCP packet as NFQUEUE hands it out (checksums are not read). */
static void micro_build(struct micro_packet *mp, int dir, uint32_t seq, uint32_t ack,
			uint8_t flags, const char *payload, size_t len)
{
	const struct inet_addr *src = micro_addr(dir), *dst = micro_addr(!dir);
	uint8_t *ip = mp->data, *tcp = mp->data + 20;

	memset(mp->data, 0, 40);
	ip[0] = 0x45;
	put16(ip + 2, (unsigned)(40 + len));
	put16(ip + 6, 0x4000);		/* DF */
	ip[8] = 64;
	ip[9] = 6;
	memcpy(ip + 12, &src->v4, 4);
	memcpy(ip + 16, &dst->v4, 4);
	put16(tcp, dir == C2S ? MICRO_CLIENT_PORT : MICRO_SERVER_PORT);
	put16(tcp + 2, dir == C2S ? MICRO_SERVER_PORT : MICRO_CLIENT_PORT);
	put32(tcp + 4, seq);
	put32(tcp + 8, ack);
	tcp[12] = 5 << 4;
	tcp[13] = flags;
	put16(tcp + 14, 64240);
	if (len)
		memcpy(mp->data + 40, payload, len);
	mp->dir = dir;
	mp->len = 40 + len;
}

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_PSH 0x08
#define TCP_ACK 0x10

static int micro_scenario_build(struct micro_scenario *sc, const char *name)
{
	uint32_t seq[2] = { 1000000u, 3000000000u };	/* ISNs; the server's wraps */
	bool split = strcmp(name, "split") == 0;
	unsigned i, n = 0;

	if (!split && strcmp(name, "inorder") != 0)
		return -EINVAL;
	sc->name = name;
	sc->pkt = calloc(MICRO_PACKETS_MAX, sizeof(*sc->pkt));
	if (!sc->pkt)
		return -ENOMEM;

	/* handshake */
	micro_build(&sc->pkt[n++], C2S, seq[C2S]++, 0, TCP_SYN, NULL, 0);
	micro_build(&sc->pkt[n++], S2C, seq[S2C]++, seq[C2S], TCP_SYN | TCP_ACK, NULL, 0);
	micro_build(&sc->pkt[n++], C2S, seq[C2S], seq[S2C], TCP_ACK, NULL, 0);

	for (i = 0; i < sizeof(micro_transcript) / sizeof(micro_transcript[0]); i++) {
		int dir = micro_transcript[i].dir;
		const char *t = micro_transcript[i].text;
		size_t len = t ? strlen(t) : 0;

		if (!t) {
			micro_build(&sc->pkt[n++], dir, seq[dir], seq[!dir], TCP_ACK, NULL, 0);
			continue;
		}
		sc->payload_bytes += len;
		for (const char *p = t; (p = strchr(p, '\n')); p++)
			sc->lines++;
		if (dir == S2C) {
			/* final reply lines: "NNN " at a line start */
			for (const char *p = t; *p; ) {
				if (p[0] >= '1' && p[0] <= '5' && p[3] == ' ')
					sc->replies++;
				p = strchr(p, '\n');
				p = p ? p + 1 : "";
			}
			if (!strncmp(t, "227 ", 4) || !strncmp(t, "229 ", 4))
				sc->pinholes++;
		}
		if (split && dir == S2C && len > 1) {
			size_t h = len / 2;

			micro_build(&sc->pkt[n++], dir, seq[dir] + (uint32_t)h, seq[!dir],
				    TCP_ACK | TCP_PSH, t + h, len - h);
			micro_build(&sc->pkt[n++], dir, seq[dir], seq[!dir], TCP_ACK, t, h);
		} else {
			micro_build(&sc->pkt[n++], dir, seq[dir], seq[!dir], TCP_ACK | TCP_PSH, t, len);
		}
		seq[dir] += (uint32_t)len;
	}
	/* close */
	micro_build(&sc->pkt[n++], S2C, seq[S2C]++, seq[C2S], TCP_FIN | TCP_ACK, NULL, 0);
	micro_build(&sc->pkt[n++], C2S, seq[C2S]++, seq[S2C], TCP_FIN | TCP_ACK, NULL, 0);
	micro_build(&sc->pkt[n++], S2C, seq[S2C], seq[C2S], TCP_ACK, NULL, 0);
	sc->count = n;
	return 0;
}

/* One whole control connection, as the daemon handles it. Not inlined, so
 * that callgrind can count exactly this (--toggle-collect). */
__attribute__((noinline))
void micro_session_run(const struct micro_scenario *sc, const struct policy *pol,
		       struct micro_counters *c);
__attribute__((noinline))
void micro_session_run(const struct micro_scenario *sc, const struct policy *pol,
		       struct micro_counters *c)
{
	static const struct session_limits limits = { .buffer_max = 8192, .line_max = 512 };
	struct session s;
	struct session_actions actions;
	unsigned i, k;

	session_init(&s, micro_addr(C2S), MICRO_CLIENT_PORT, micro_addr(S2C),
		     MICRO_SERVER_PORT, &limits);
	for (i = 0; i < sc->count; i++) {
		const struct micro_packet *mp = &sc->pkt[i];
		struct packet_info pi;

		if (micro_daemon_actions)
			memset(&actions, 0, sizeof(actions));
		else
			actions.count = actions.dropped = actions.reports =
				actions.overflow = 0;
		if (packet_parse(mp->data, mp->len, &pi) < 0) {
			c->parse_errors++;
			continue;
		}
		session_packet(&s, pol, (enum session_direction)mp->dir, &pi,
			       1000 + i, &actions);
		for (k = 0; k < actions.count; k++) {
			if (actions.item[k].kind == SESSION_ACTION_PINHOLE_OPEN)
				c->pinholes++;
			else if (actions.item[k].kind == SESSION_ACTION_PINHOLE_REFUSED)
				c->refused++;
			else
				c->other_actions++;
		}
		c->packets++;
	}
	session_free(&s);
}

static double micro_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void micro_usage(FILE *f)
{
	fprintf(f, "usage: micro_parse [--scenario inorder|split|all] [--seconds S | --iterations N]\n"
		   "                   [--daemon-actions]\n");
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "scenario", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "daemon-actions", no_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *which = "all", *names[] = { "inorder", "split" };
	double seconds = 1.0;
	unsigned long iterations = 0;
	struct policy pol;
	int opt, status = 0;

	while ((opt = getopt_long(argc, argv, "s:t:n:dh", options, NULL)) != -1) {
		switch (opt) {
		case 's': which = optarg; break;
		case 't': seconds = atof(optarg); break;
		case 'n': iterations = strtoul(optarg, NULL, 10); break;
		case 'd': micro_daemon_actions = true; break;
		case 'h': micro_usage(stdout); return 0;
		default: micro_usage(stderr); return 2;
		}
	}
	policy_init_defaults(&pol);
	printf("struct session_actions: %zu bytes; struct session: %zu bytes; actions %s per packet\n",
	       sizeof(struct session_actions), sizeof(struct session),
	       micro_daemon_actions ? "zeroed whole (as the daemon does)" : "count reset only");
	for (unsigned w = 0; w < 2; w++) {
		struct micro_scenario sc = { 0 };
		struct micro_counters c = { 0 };
		unsigned long done = 0, batch = 64;
		double t0, el;

		if (strcmp(which, "all") && strcmp(which, names[w]))
			continue;
		if (micro_scenario_build(&sc, names[w]) < 0) {
			fprintf(stderr, "micro_parse: cannot build scenario %s\n", names[w]);
			return 2;
		}
		t0 = micro_now();
		for (;;) {
			unsigned long k, todo = iterations ? iterations - done : batch;

			if (iterations && todo > batch)
				todo = batch;
			for (k = 0; k < todo; k++)
				micro_session_run(&sc, &pol, &c);
			done += todo;
			el = micro_now() - t0;
			if (iterations ? done >= iterations : el >= seconds)
				break;
		}
		/* The session must see the recording as the daemon would: both
		 * announcements approved, nothing refused. Other actions
		 * (rejected lines, bookkeeping) are counted, not judged. */
		if (c.parse_errors || c.refused || c.pinholes != sc.pinholes * done) {
			fprintf(stderr, "micro_parse: %s: unexpected outcome: %lu pinholes (want %lu), %lu refused, %lu packet errors\n",
				sc.name, c.pinholes, sc.pinholes * done, c.refused,
				c.parse_errors);
			status = 1;
		}
		printf("%-8s sessions %lu  packets/session %u  replies/session %lu  lines/session %lu  payload bytes/session %lu  pinholes/session %lu  other actions/session %.1f\n",
		       sc.name, done, sc.count, sc.replies, sc.lines, sc.payload_bytes,
		       sc.pinholes, (double)c.other_actions / (double)done);
		printf("%-8s %.1f MB/s  %.2f M lines/s  %.2f M packets/s  %.0f ns/packet  %.0f ns/reply  %.2f us/session\n",
		       sc.name, (double)(sc.payload_bytes * done) / el / 1e6,
		       (double)(sc.lines * done) / el / 1e6,
		       (double)(sc.count * done) / el / 1e6,
		       el * 1e9 / (double)(sc.count * done),
		       el * 1e9 / (double)(sc.replies * done),
		       el * 1e6 / (double)done);
		free(sc.pkt);
	}
	policy_free(&pol);
	return status;
}
