/* test_session: FTP control-connection scenarios, packets built by hand. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "check.h"
#include "session.h"

#define ORIG SESSION_DIR_ORIGINAL
#define REPL SESSION_DIR_REPLY

/* One control connection under test: a session, its policy, the next
 * sequence number of each direction, a clock, and the last actions. */
struct conn {
	struct session s;
	struct policy pol;
	struct inet_addr client, server;
	uint32_t next[2];
	uint64_t now;
	bool acks;		/* packets acknowledge all the other side sent */
	struct session_actions out;
};

static const char *addr_str(const struct inet_addr *a)
{
	static char buf[INET_ADDR_STRLEN];

	return inet_addr_format(a, buf, sizeof(buf));
}

static void conn_open_lim(struct conn *c, const char *client,
			  const char *server, const struct session_limits *lim)
{
	memset(c, 0, sizeof(*c));
	policy_init_defaults(&c->pol);
	if (inet_addr_parse(client, &c->client) < 0 ||
	    inet_addr_parse(server, &c->server) < 0)
		abort();
	session_init(&c->s, &c->client, 40000, &c->server, 21, lim);
	/* the reply direction wraps past 2^32 early on purpose */
	c->next[ORIG] = 1000;
	c->next[REPL] = 0xffffff00u;
	c->now = 1000000;
}

/* A packet with every TCP field chosen by the caller. */
static unsigned send_tcp(struct conn *c, enum session_direction dir,
			 uint32_t seq, bool syn, bool fin, bool rst,
			 bool ack_flag, uint32_t ack, const void *data,
			 size_t len)
{
	struct packet_info pkt;

	memset(&pkt, 0, sizeof(pkt));
	pkt.src = dir == ORIG ? c->client : c->server;
	pkt.dst = dir == ORIG ? c->server : c->client;
	pkt.sport = dir == ORIG ? 40000 : 21;
	pkt.dport = dir == ORIG ? 21 : 40000;
	pkt.seq = seq;
	pkt.syn = syn;
	pkt.fin = fin;
	pkt.rst = rst;
	pkt.ack_flag = ack_flag;
	pkt.ack = ack;
	pkt.payload = data;
	pkt.payload_len = len;
	memset(&c->out, 0, sizeof(c->out));
	session_packet(&c->s, &c->pol, dir, &pkt, c->now, &c->out);
	return c->out.count;
}

static unsigned send_at(struct conn *c, enum session_direction dir,
			uint32_t seq, bool syn, const void *data, size_t len)
{
	return send_tcp(c, dir, seq, syn, false, false, c->acks,
			c->next[dir == ORIG ? REPL : ORIG], data, len);
}

/* Next in-order segment of a direction. */
static unsigned send_n(struct conn *c, enum session_direction dir,
		       const void *data, size_t len)
{
	unsigned n = send_at(c, dir, c->next[dir], false, data, len);

	c->next[dir] += (uint32_t)len;
	return n;
}

static unsigned feed(struct conn *c, enum session_direction dir,
		     const char *text)
{
	return send_n(c, dir, text, strlen(text));
}

/* Handshake and a logged-in session, no actions expected. */
static void conn_open(struct conn *c, const char *client, const char *server)
{
	conn_open_lim(c, client, server, NULL);
	CHECK_INT(send_at(c, ORIG, c->next[ORIG]++, true, NULL, 0), 0);
	CHECK_INT(send_at(c, REPL, c->next[REPL]++, true, NULL, 0), 0);
	CHECK_INT(feed(c, REPL, "220 FTP server ready\r\n"), 0);
	CHECK_INT(feed(c, ORIG, "USER anonymous\r\n"), 0);
	CHECK_INT(feed(c, REPL, "331 Password please\r\n"), 0);
	CHECK_INT(feed(c, ORIG, "PASS guest@\r\n"), 0);
	CHECK_INT(feed(c, REPL, "230 Logged in\r\n"), 0);
	CHECK_INT(c->s.pending_count, 0);
}

static void conn_close(struct conn *c)
{
	session_free(&c->s);
	policy_free(&c->pol);
}

static const char pasv_reply[] =
	"227 Entering Passive Mode (192,0,2,10,195,80)\r\n";

static void test_pasv(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_PASV);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->reason, POLICY_ALLOW);
	CHECK_INT(a->direction, REPL);
	CHECK_INT(a->data.dst.family, AF_INET);
	CHECK_STR(addr_str(&a->data.dst), "192.0.2.10");
	CHECK_INT(a->data.dport, 50000);
	CHECK_INT(a->reply_code, 227);
	CHECK_STR(a->command, "PASV");
	CHECK_STR(a->reply, "227 Entering Passive Mode (192,0,2,10,195,80)");
	CHECK_STR(a->detail, "");
	/* the data connection may come only from the control client */
	CHECK(inet_addr_equal(&a->data.src, &c.client));
	CHECK_INT(a->data.sport, 0);
	CHECK_INT(c.out.dropped, 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK_INT(c.s.pinhole[0].expiry_ms, 1000000 + 30 * 1000);
	CHECK(!c.s.pinhole[0].active);
	/* the transfer itself; once it is done the pinhole has served */
	CHECK_INT(feed(&c, ORIG, "RETR file\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "150 Opening BINARY mode\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "226 Transfer complete\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_TRANSFER_DONE);
	CHECK_STR(addr_str(&a->data.dst), "192.0.2.10");
	CHECK_INT(a->data.dport, 50000);
	CHECK(inet_addr_equal(&a->data.src, &c.client));
	CHECK_INT(a->data.sport, 0);
	CHECK_STR(a->command, "RETR file");
	CHECK_INT(a->reply_code, 226);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);
}

static void test_epsv_ipv6(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "2001:db8::1", "2001:db8::10");
	CHECK_INT(feed(&c, ORIG, "EPSV\r\n"), 0);
	CHECK_INT(feed(&c, REPL,
		       "229 Entering Extended Passive Mode (|||50001|)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dst.family, AF_INET6);
	CHECK_STR(addr_str(&a->data.dst), "2001:db8::10");
	CHECK_INT(a->data.dport, 50001);
	CHECK_INT(a->reply_code, 229);
	CHECK_STR(a->command, "EPSV");
	CHECK_STR(a->reply, "229 Entering Extended Passive Mode (|||50001|)");

	/* "EPSV 2" is an EPSV too; it replaces the first one */
	CHECK_INT(feed(&c, ORIG, "epsv 2\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "229 Ok (!!!50002!)\r\n"), 2);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_SUPERSEDED);
	CHECK_INT(a->data.dport, 50001);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[1].data.dport, 50002);
	CHECK_STR(c.out.item[1].command, "epsv 2");
	CHECK_INT(c.s.pinhole_count, 1);

	/* a 227 on an IPv6 control connection names the wrong family */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 2);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(c.out.item[1].reason, POLICY_REFUSE_FAMILY);
	CHECK_STR(c.out.item[1].detail, "");

	/* EPSV ALL is answered by a 200, a 229 to it is unsolicited */
	CHECK_INT(feed(&c, ORIG, "EPSV ALL\r\n"), 0);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_EPSV_ALL);
	CHECK_INT(feed(&c, REPL, "229 Ok (|||50003|)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_STR(a->command, "EPSV ALL");
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);
}

static void test_unsolicited(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	/* nothing asked */
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_INT(a->reply_code, 227);
	CHECK_STR(a->command, "");
	CHECK_STR(a->detail, "no command outstanding");
	/* what was announced is still reported for the log */
	CHECK_STR(addr_str(&a->data.dst), "192.0.2.10");
	CHECK_INT(a->data.dport, 50000);

	/* a 227 answering LIST */
	CHECK_INT(feed(&c, ORIG, "LIST\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_STR(a->command, "LIST");
	CHECK_STR(a->detail, "reply to another command");
	CHECK_INT(c.s.pending_count, 0);

	/* a 229 answering PASV, a 227 answering EPSV */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "229 Ok (|||50001|)\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_INT(a->reply_code, 229);
	CHECK_INT(feed(&c, ORIG, "EPSV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);

	/* the password is never copied into an action */
	CHECK_INT(feed(&c, ORIG, "PASS hunter2\r\n"), 0);
	CHECK_STR(c.s.pending[0].text, "PASS ****");
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_STR(a->command, "PASS ****");
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);
}

static void test_greeting(void)
{
	struct conn c;

	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	CHECK_INT(send_at(&c, ORIG, c.next[ORIG]++, true, NULL, 0), 0);
	CHECK_INT(send_at(&c, REPL, c.next[REPL]++, true, NULL, 0), 0);
	/* 120 then 220, multi-line 220: unsolicited and harmless */
	CHECK_INT(feed(&c, REPL, "120 Ready in 1 minute\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "220-Welcome\r\n"
				 "Be nice. 227 (1,2,3,4,5,6)\r\n"
				 "220 Ready\r\n"), 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.s.multiline_code, 0);
	CHECK_INT(c.s.lost, 0);
	conn_close(&c);
}

/* More commands waiting than SESSION_PENDING_MAX: the oldest are
 * forgotten, and counted for the daemon in the packet that did it. */
static void test_pending_bound(void)
{
	struct conn c;
	char text[512] = "";
	int i;

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	for (i = 0; i < SESSION_PENDING_MAX + 1; i++)
		strcat(text, "NOOP\r\n");
	strcat(text, "PASV\r\n");
	CHECK_INT(feed(&c, ORIG, text), 0);
	CHECK_INT(c.out.commands_forgotten, 2);
	CHECK_INT(c.s.commands_forgotten, 2);
	CHECK_INT(c.s.pending_count, SESSION_PENDING_MAX);
	CHECK_INT(c.s.pending[SESSION_PENDING_MAX - 1].verb, FTP_COMMAND_PASV);
	CHECK_INT(feed(&c, REPL, "200 NOOP ok\r\n"), 0);
	CHECK_INT(c.out.commands_forgotten, 0);
	CHECK_INT(c.s.commands_forgotten, 2);
	conn_close(&c);
}

static void test_pipelined(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "TYPE I\r\nPASV\r\nRETR a\r\nPASV\r\nRETR b\r\n"),
		  0);
	CHECK_INT(c.s.pending_count, 5);
	CHECK_INT(feed(&c, REPL, "200 Type set to I\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 50000);
	/* RETR a done: its pinhole goes */
	CHECK_INT(feed(&c, REPL, "150 Opening\r\n226 Done\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->data.dport, 50000);
	CHECK_STR(a->command, "RETR a");
	CHECK_INT(feed(&c, REPL,
		       "227 Entering Passive Mode (192,0,2,10,195,81)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 50001);
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_TRANSFER);
	CHECK_STR(c.s.pending[0].text, "RETR b");

	/* a 227 arriving as the answer to the NOOP in front of the PASV is
	 * unsolicited, and then the PASV's own answer is a 200 */
	CHECK_INT(feed(&c, REPL, "150 x\r\n226 y\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->data.dport, 50001);
	CHECK_INT(feed(&c, ORIG, "NOOP\r\nPASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_STR(a->command, "NOOP");
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);
}

static void conn_active(struct conn *c, const char *client,
			const char *server);

static void test_pending_full(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];
	int i;

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	/* the PASV is the oldest of 17: it is the one dropped */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	for (i = 0; i < SESSION_PENDING_MAX; i++)
		CHECK_INT(feed(&c, ORIG, "NOOP\r\n"), 0);
	CHECK_INT(c.s.pending_count, SESSION_PENDING_MAX);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_OTHER);
	CHECK_INT(c.s.pending_forgotten, 1);
	/* its 227 answers the forgotten command: not one we know to be a
	 * PASV, so unsolicited; the NOOPs stay queued for their replies */
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_STR(a->command, "(forgotten: more than 16 commands pipelined)");
	CHECK_INT(c.s.pending_count, SESSION_PENDING_MAX);
	CHECK_INT(c.s.pending_forgotten, 0);
	conn_close(&c);
}

/* Issue 11, finding 6: active mode, 15 NOOPs, TYPE I and a PORT the
 * server refuses. The first NOOP is dropped at the bound; without its
 * count every reply lands one command late and the 200 to TYPE I
 * accepts the PORT. */
static void test_pending_shift(void)
{
	struct conn c;
	char text[512] = "";
	int i, opened = 0;
	unsigned k;

	conn_active(&c, "10.0.0.1", "192.0.2.10");
	for (i = 0; i < 15; i++)
		strcat(text, "NOOP\r\n");
	strcat(text, "TYPE I\r\nPORT 10,0,0,1,13,61\r\n");
	CHECK_INT(feed(&c, ORIG, text), 0);
	CHECK_INT(c.out.commands_forgotten, 1);
	for (i = 0; i < 15; i++)
		CHECK_INT(feed(&c, REPL, "200 NOOP ok\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 Type set to I\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "500 Illegal PORT command\r\n"), 1);
	for (k = 0; k < c.out.count; k++)
		opened += c.out.item[k].kind == SESSION_ACTION_PINHOLE_OPEN;
	CHECK_INT(opened, 0);
	CHECK_INT(c.out.item[0].kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(c.out.item[0].reason, POLICY_REFUSE_NOT_ACCEPTED);
	CHECK_INT(c.out.item[0].reply_code, 500);
	CHECK_INT(c.s.pinhole_count, 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.s.pending_forgotten, 0);
	/* back in step: the next PORT the server accepts opens */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,13,62\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 PORT command successful\r\n"), 1);
	CHECK_INT(c.out.item[0].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[0].data.dport, 13 * 256 + 62);
	conn_close(&c);
}

/* A client that runs SESSION_FORGOTTEN_MAX commands ahead is not
 * tracked any further (the count stays bounded). */
static void test_pending_forgotten_bound(void)
{
	struct conn c;
	size_t n = (SESSION_FORGOTTEN_MAX + SESSION_PENDING_MAX) * 2;
	char *text = malloc(n + 1);
	size_t i;

	if (text == NULL)
		abort();
	for (i = 0; i < n; i += 2)
		memcpy(text + i, "A\n", 2);
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	/* a single line per segment would take long; the buffer bound is
	 * for out-of-order data, in-order lines are cut at once */
	send_n(&c, ORIG, text, n);
	CHECK(c.s.lost);
	CHECK_INT(c.out.overflow, 0);
	CHECK_INT(c.out.item[c.out.count - 1].kind, SESSION_ACTION_STREAM_LOST);
	CHECK_STR(c.out.item[c.out.count - 1].detail,
		  "more than 65536 commands sent ahead of the server's replies");
	free(text);
	conn_close(&c);
}

static void test_multiline(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	/* the final line carries the address; lines in between (including
	 * reply-like ones with another code) are text */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227-Entering Passive Mode\r\n"), 0);
	CHECK_INT(c.s.multiline_code, 227);
	CHECK_INT(feed(&c, REPL, " see (9,9,9,9,9,9)\r\n200 not the end\r\n"
				 "227-still not\r\n"), 0);
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(feed(&c, REPL, "227 (192,0,2,10,195,82)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_STR(addr_str(&a->data.dst), "192.0.2.10");
	CHECK_INT(a->data.dport, 50002);
	CHECK_STR(a->reply, "227 (192,0,2,10,195,82)");
	CHECK_INT(c.s.multiline_code, 0);
	CHECK_INT(c.s.pending_count, 0);

	/* address only in the text, not on the final line: malformed */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227-Entering Passive Mode\r\n"
				 "227-(192,0,2,10,195,83)\r\n"
				 "227 Done\r\n"), 2);
	/* the server gave up its earlier listener all the same */
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->data.dport, 50002);
	a = &c.out.item[1];
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_MALFORMED);
	CHECK_STR(a->detail, "no address in 227 reply");
	CHECK_INT(a->data.dport, 0);
	conn_close(&c);
}

static void test_split_reply(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PA"), 0);
	CHECK_INT(feed(&c, ORIG, "SV\r"), 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(feed(&c, ORIG, "\n"), 0);
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(feed(&c, REPL, "227 Entering Pas"), 0);
	CHECK_INT(feed(&c, REPL, "sive Mode (192,0,2,"), 0);
	CHECK_INT(feed(&c, REPL, "10,195,80)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 50000);
	CHECK_STR(a->reply, "227 Entering Passive Mode (192,0,2,10,195,80)");
	conn_close(&c);
}

static void test_two_replies_one_segment(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "TYPE I\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 Switching to Binary mode.\r\n"
		       "227 Entering Passive Mode (192,0,2,10,195,80).\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 50000);
	CHECK_STR(a->command, "PASV");
	conn_close(&c);
}

static void test_out_of_order_reply(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];
	uint32_t base;

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	base = c.next[REPL];
	/* second half first, then a copy of it, then the first half */
	CHECK_INT(send_at(&c, REPL, base + 20, false, pasv_reply + 20,
			  strlen(pasv_reply) - 20), 0);
	CHECK_INT(send_at(&c, REPL, base + 20, false, pasv_reply + 20,
			  strlen(pasv_reply) - 20), 0);
	CHECK_INT(c.s.stream[REPL].held_count, 1);
	CHECK_INT(send_at(&c, REPL, base, false, pasv_reply, 20), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 50000);
	c.next[REPL] += (uint32_t)strlen(pasv_reply);
	/* a retransmission of the whole reply changes nothing */
	CHECK_INT(send_at(&c, REPL, base, false, pasv_reply,
			  strlen(pasv_reply)), 0);
	CHECK_INT(c.s.pinhole_count, 1);
	/* a retransmission with another port in it does not either */
	CHECK_INT(send_at(&c, REPL, base, false,
			  "227 Entering Passive Mode (192,0,2,10,195,99)\r\n",
			  strlen(pasv_reply)), 0);
	CHECK_INT(c.s.pinhole_count, 1);
	conn_close(&c);
}

static void test_policy_refusals(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	/* third-party address */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL,
		       "227 Entering Passive Mode (198,51,100,7,195,80)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_THIRD_PARTY);
	CHECK_STR(addr_str(&a->data.dst), "198.51.100.7");
	CHECK_INT(a->data.dport, 50000);
	CHECK_STR(a->detail, "");
	/* port 22 */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL,
		       "227 Entering Passive Mode (192,0,2,10,0,22)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_PRIVILEGED_PORT);
	CHECK_INT(a->data.dport, 22);
	CHECK_INT(c.s.pinhole_count, 0);

	/* a per-server entry: range 50000-50100, announce 198.51.100.7 */
	c.pol.servers = calloc(1, sizeof(*c.pol.servers));
	if (!c.pol.servers)
		abort();
	c.pol.server_count = 1;
	c.pol.servers[0].addr = c.server;
	c.pol.servers[0].passive_range.low = 50000;
	c.pol.servers[0].passive_range.high = 50100;
	inet_addr_parse("198.51.100.7", &c.pol.servers[0].announce[0]);
	c.pol.servers[0].announce_count = 1;

	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL,
		       "227 Entering Passive Mode (192,0,2,10,234,96)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_PORT_RANGE);
	CHECK_INT(a->data.dport, 60000);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL,
		       "227 Entering Passive Mode (198,51,100,7,195,130)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_STR(addr_str(&a->data.dst), "198.51.100.7");
	CHECK_INT(a->data.dport, 50050);
	CHECK_INT(c.s.pinhole_count, 1);
	conn_close(&c);
}

static void test_cap(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];
	char many[16 * 3 + sizeof(pasv_reply)];
	int i;

	/* A newer PASV removes the older pinhole first, so with a cap of
	 * one it still opens; sixteen rejected lines ahead of the 227 take
	 * only the report slots, never the removal's (issue 11, finding 7) */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.pol.max_pinholes_per_session = 1;
	c.pol.expect_timeout_s = 10;
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.s.pinhole_count, 1);
	c.now += 1000;
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	for (i = 0; i < 16; i++)
		memcpy(many + 3 * i, "x\r\n", 3);
	memcpy(many + 48, pasv_reply, sizeof(pasv_reply) - 1);
	CHECK_INT(send_n(&c, REPL, many, 48 + sizeof(pasv_reply) - 1), 18);
	CHECK_INT(c.out.dropped, 0);
	CHECK_INT(c.out.item[16].kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[17].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK_INT(c.s.pinhole[0].expiry_ms, 1001000 + 10000);

	/* the daemon failed to install the last one: it does not count */
	session_pinhole_failed(&c.s, &c.out.item[17]);
	CHECK_INT(c.s.pinhole_count, 0);
	session_pinhole_failed(&c.s, &c.out.item[17]);
	CHECK_INT(c.s.pinhole_count, 0);

	/* expiry: exactly at its time a pinhole is gone, nothing to remove */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(c.s.pinhole[0].expiry_ms, 1001000 + 10000);
	c.now = 1001000 + 10000;
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK_INT(c.s.pinhole[0].expiry_ms, 1011000 + 10000);
	conn_close(&c);
}

static void test_preliminary(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "LIST\r\nPASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "150 Here comes the listing\r\n"), 0);
	CHECK_INT(c.s.pending_count, 2);
	CHECK_INT(feed(&c, REPL, "125-Still\r\n125 going\r\n"), 0);
	CHECK_INT(c.s.pending_count, 2);
	CHECK_INT(feed(&c, REPL, "226 Directory send OK\r\n"), 0);
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_STR(a->command, "PASV");
	conn_close(&c);
}

static void test_malformed(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL,
		       "227 Entering Passive Mode (192,0,2,10,300,1)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_MALFORMED);
	CHECK_STR(a->detail, "227 number not 0-255");
	CHECK_INT(a->data.dst.family, 0);
	CHECK_INT(feed(&c, ORIG, "EPSV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "229 Ok (|||0|)\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_MALFORMED);
	CHECK_INT(a->reply_code, 229);
	CHECK_STR(a->detail, "229 port is zero");
	CHECK_INT(c.s.pinhole_count, 0);

	/* malformed command: rejected, still queued for its reply */
	CHECK_INT(feed(&c, ORIG, "PA\x01SV\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->direction, ORIG);
	CHECK_STR(a->command, "PA?SV");
	CHECK_STR(a->detail, "malformed command: control byte in command");
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(feed(&c, REPL, "500 Unknown command\r\n"), 0);
	CHECK_INT(c.s.pending_count, 0);
	/* a malformed PASS does not leak the password either */
	CHECK_INT(feed(&c, ORIG, "PASS\tsecret\r\n"), 1);
	CHECK_STR(a->command, "PASS ****");

	/* a reply line that is not one */
	CHECK_INT(feed(&c, REPL, "hello\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->direction, REPL);
	CHECK_STR(a->reply, "hello");
	CHECK_STR(a->detail, "malformed reply: reply code not three digits");
	conn_close(&c);
}

static void test_printable(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];
	char line[300];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227 Entering \xff\xfe Mode "
				 "(192,0,2,10,195,80)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_STR(a->reply, "227 Entering ?? Mode (192,0,2,10,195,80)");

	/* a long reply is cut to SESSION_TEXT_MAX, marked */
	memset(line, 'x', sizeof(line));
	memcpy(line, "227 (192,0,2,10,195,80) ", 24);
	memcpy(line + 298, "\r\n", 2);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(send_n(&c, REPL, line, sizeof(line)), 2);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	a = &c.out.item[1];
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(strlen(a->reply), SESSION_TEXT_MAX - 1);
	CHECK(memcmp(a->reply, line, SESSION_TEXT_MAX - 4) == 0);
	CHECK_STR(a->reply + SESSION_TEXT_MAX - 4, "...");
	conn_close(&c);
}

static void test_long_line(void)
{
	struct conn c;
	struct session_limits lim = { .buffer_max = 256, .line_max = 24 };
	const struct session_action *a = &c.out.item[0];

	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", &lim);
	CHECK_INT(feed(&c, ORIG, "STOR a-rather-long-file-name\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->direction, ORIG);
	CHECK_STR(a->detail, "line longer than 24 bytes");
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_OTHER);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "500 Too long\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227 (192,0,2,10,195,80)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	conn_close(&c);
}

/* Issue 11, finding 3: an over-long reply keeps its code and separator
 * for matching, and is never acted on. */
static void test_long_reply(void)
{
	struct conn c;
	struct session_limits lim = { .buffer_max = 1024, .line_max = 46 };
	const struct session_action *a = &c.out.item[0];

	/* pasv_reply (46 bytes) just fits */
	/* a 257 to PWD in a deep directory: the PASV after it still gets
	 * its pinhole (before, the 227 answered the PWD: unsolicited) */
	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", &lim);
	CHECK_INT(send_at(&c, ORIG, c.next[ORIG]++, true, NULL, 0), 0);
	CHECK_INT(send_at(&c, REPL, c.next[REPL]++, true, NULL, 0), 0);
	CHECK_INT(feed(&c, REPL, "220 ready\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PWD\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "257 \"/srv/ftp/a/very/deep/directory/indeed\" is the current directory\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->rule, SESSION_RULE_TOO_LONG);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.out.replies, 1);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 50000);
	CHECK_STR(a->command, "PASV");
	conn_close(&c);

	/* a long last line of a 230- welcome ends the welcome */
	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", &lim);
	CHECK_INT(send_at(&c, ORIG, c.next[ORIG]++, true, NULL, 0), 0);
	CHECK_INT(send_at(&c, REPL, c.next[REPL]++, true, NULL, 0), 0);
	CHECK_INT(feed(&c, REPL, "220 ready\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "USER a\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "331 pass\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PASS b\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "230-Welcome\r\n"
				 "230-a long line in the middle of the welcome text\r\n"
				 "this one is text, however long it may be, here or there\r\n"
				 "230 Logged in; please read the rules on the web site\r\n"), 3);
	CHECK_INT(c.out.item[0].rule, SESSION_RULE_TOO_LONG);
	CHECK_INT(c.out.item[1].rule, SESSION_RULE_TOO_LONG);
	CHECK_INT(c.out.item[2].rule, SESSION_RULE_TOO_LONG);
	CHECK_INT(c.s.multiline_code, 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);

	/* the transfer's long 226 still removes the pinhole (closing more
	 * is all a tainted line may do) */
	CHECK_INT(feed(&c, ORIG, "RETR f\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "150 ok\r\n226 Transfer complete, 123456789 bytes sent in 0.01 s\r\n"), 2);
	CHECK_INT(c.out.item[0].rule, SESSION_RULE_TOO_LONG);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[1].cause, SESSION_REMOVE_TRANSFER_DONE);
	CHECK_INT(c.s.pinhole_count, 0);

	/* a long 227 answers its PASV but is never acted on */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227 Entering Passive Mode (192,0,2,10,195,80) and more\r\n"), 2);
	CHECK_INT(c.out.item[0].rule, SESSION_RULE_TOO_LONG);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(c.out.item[1].reason, POLICY_REFUSE_MALFORMED);
	CHECK_STR(c.out.item[1].detail, "reply line rejected");
	CHECK_STR(c.out.item[1].reply, "227 (over-long line)");
	CHECK_STR(c.out.item[1].command, "PASV");
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.s.pinhole_count, 0);

	/* a long line that does not start like a reply answers nothing */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "xx7 Entering Passive Mode (192,0,2,10,195,80) and more\r\n"), 1);
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	conn_close(&c);
}

/* Next in-order segment of a direction with URG set and this urgent
 * pointer (the urgent byte, on Linux, is the one before it). */
static unsigned send_urgent(struct conn *c, enum session_direction dir,
			    const char *text, uint16_t urg_ptr)
{
	struct packet_info pkt;
	size_t len = strlen(text);

	memset(&pkt, 0, sizeof(pkt));
	pkt.seq = c->next[dir];
	pkt.urg = true;
	pkt.urg_ptr = urg_ptr;
	pkt.payload = (const uint8_t *)text;
	pkt.payload_len = len;
	c->next[dir] += (uint32_t)len;
	memset(&c->out, 0, sizeof(c->out));
	session_packet(&c->s, &c->pol, dir, &pkt, c->now, &c->out);
	return c->out.count;
}

/* Issue 11, finding 9: the receiver of urgent data (SO_OOBINLINE off)
 * takes the urgent byte out of its stream; ftpgated cannot tell whether
 * it did, so a line holding one is never acted on. */
static void test_urgent(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	/* a malicious server: the client reads "...(192,0,2,10,195,8)"
	 * without the urgent '0' (ftpgated would open 195,80) */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(send_urgent(&c, REPL, pasv_reply, 45), 0);
	CHECK_INT(c.s.pending_count, 0);	/* it answered the PASV */
	CHECK_INT(c.s.pinhole_count, 0);
	CHECK(!c.s.lost);
	/* the next PASV works as usual */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	conn_close(&c);

	/* a client's PORT with an urgent digit: the server may read
	 * another port than ftpgated */
	conn_active(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(send_urgent(&c, ORIG, "PORT 10,0,0,1,156,64\r\n", 18), 0);
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_OTHER);
	CHECK_INT(feed(&c, REPL, "200 PORT command successful\r\n"), 0);
	CHECK_INT(c.s.pinhole_count, 0);
	/* Telnet IP and Synch before ABOR, as RFC 959 has it: that line
	 * only; the commands after it are read as usual */
	CHECK_INT(send_urgent(&c, ORIG, "\xff\xf4\xff\xf2" "ABOR\r\nPORT 10,0,0,1,156,65\r\n", 3), 0);
	CHECK_INT(c.s.pending_count, 2);
	CHECK_INT(c.s.pending[1].verb, FTP_COMMAND_PORT);
	CHECK_INT(feed(&c, REPL, "226 ABOR ok\r\n200 PORT ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 156 * 256 + 65);
	/* an urgent line end (ftplib's abort() sends "ABOR\r\n" urgent):
	 * the receiver may read two lines as one; nothing more is acted
	 * on, not even the lines that came with it */
	CHECK_INT(send_urgent(&c, ORIG, "ABOR\r\nPORT 10,0,0,1,156,66\r\n", 6), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_LOST);
	CHECK_STR(a->detail, "urgent data (TCP URG) ended a line: the receiver may read two lines as one");
	CHECK(c.s.lost);
	CHECK_INT(feed(&c, REPL, "226 ABOR ok\r\n200 PORT ok\r\n"), 0);
	conn_close(&c);
}

static void test_actions_full(void)
{
	struct conn c;
	char buf[20 * 4 + 1];
	int i;

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	for (i = 0; i < 20; i++)
		memcpy(buf + 4 * i, "x1\r\n", 4);
	CHECK_INT(send_n(&c, ORIG, buf, 80), SESSION_REPORTS_MAX);
	CHECK_INT(c.out.dropped, 20 - SESSION_REPORTS_MAX);
	CHECK_INT(c.out.lines_rejected, 20);
	CHECK_INT(c.out.overflow, 0);
	CHECK_INT(c.out.item[SESSION_REPORTS_MAX - 1].kind,
		  SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(c.s.pending_count, SESSION_PENDING_MAX);
	conn_close(&c);
}

/* Issue 11, finding 7: sixteen junk lines and the 226 of the transfer in
 * one segment. The junk took every action slot and the removal was lost:
 * the pinhole stayed until it expired. */
static void test_actions_removal_kept(void)
{
	struct conn c;
	char seg[16 * 6 + 32];
	unsigned k, removes = 0;
	int i;

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK_INT(feed(&c, ORIG, "RETR file\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "150 Opening\r\n"), 0);
	seg[0] = '\0';
	for (i = 0; i < 16; i++)
		strcat(seg, "junk\r\n");
	strcat(seg, "226 Transfer complete\r\n");
	feed(&c, REPL, seg);
	for (k = 0; k < c.out.count; k++) {
		const struct session_action *a = &c.out.item[k];

		if (a->kind != SESSION_ACTION_PINHOLE_REMOVE)
			continue;
		removes++;
		CHECK_INT(a->cause, SESSION_REMOVE_TRANSFER_DONE);
		CHECK_INT(a->data.dport, 50000);
	}
	CHECK_INT(removes, 1);
	CHECK_INT(c.out.lines_rejected, 16);
	CHECK_INT(c.out.overflow, 0);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);
}

/* Issue 11, finding 9: two opens in one packet, the daemon fails to
 * install the first. Its record must go, not the second's: the second
 * pinhole exists and must still be removed when its transfer ends. */
static void test_pinhole_failed_first(void)
{
	struct conn c;
	unsigned k, removes = 0;

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PASV\r\nPASV\r\nRETR f\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227 Entering Passive Mode (192,0,2,10,195,80)\r\n"
				 "227 Entering Passive Mode (192,0,2,10,195,81)\r\n"),
		  3);
	CHECK_INT(c.out.item[0].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[0].data.dport, 50000);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[2].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[2].data.dport, 50001);
	CHECK(c.out.item[0].record_id != c.out.item[2].record_id);
	/* the daemon, in order: the first install fails, the removal finds
	 * nothing, the second install works */
	session_pinhole_failed(&c.s, &c.out.item[0]);
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK_INT(c.s.pinhole[0].data.dport, 50001);
	/* the transfer ends: the second pinhole is removed */
	CHECK_INT(feed(&c, REPL, "150 Opening\r\n226 Done\r\n"), 1);
	for (k = 0; k < c.out.count; k++)
		if (c.out.item[k].kind == SESSION_ACTION_PINHOLE_REMOVE &&
		    c.out.item[k].data.dport == 50001)
			removes++;
	CHECK_INT(removes, 1);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);
}

static void test_stream_lost(void)
{
	struct conn c;
	struct session_limits lim = { .buffer_max = 64, .line_max = 32 };
	const struct session_action *a = &c.out.item[0];

	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", &lim);
	CHECK_INT(send_at(&c, REPL, c.next[REPL]++, true, NULL, 0), 0);
	CHECK_INT(feed(&c, REPL, "220 hi\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	/* a reply segment beyond the 64-byte window */
	CHECK_INT(send_at(&c, REPL, c.next[REPL] + 64, false, "x\r\n", 3), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_LOST);
	CHECK_INT(a->direction, REPL);
	CHECK_STR(a->detail, "reply stream: reassembly buffer bound reached");
	CHECK(c.s.lost);
	CHECK_INT(session_memory(&c.s), 0);
	/* from now on nothing, not even for a perfect 227 */
	CHECK_INT(feed(&c, REPL, pasv_reply), 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 0);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);

	/* too many held holes on the command side */
	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	{
		int i;

		CHECK_INT(send_at(&c, ORIG, c.next[ORIG]++, true, NULL, 0), 0);
		for (i = 0; i < STREAM_HELD_MAX; i++)
			CHECK_INT(send_at(&c, ORIG, c.next[ORIG] + 2 +
					  2 * (uint32_t)i, false, "x", 1), 0);
		CHECK(session_memory(&c.s) > 0);
		CHECK_INT(send_at(&c, ORIG, c.next[ORIG] + 200, false, "x",
				  1), 1);
		CHECK_INT(a->kind, SESSION_ACTION_STREAM_LOST);
		CHECK_STR(a->detail,
			  "command stream: reassembly buffer bound reached");
	}
	conn_close(&c);
}

static void test_auth_tls(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x02, 0x00, '\n',
					 0x01, 0x00, 0x01, 0xfc, '\n' };

	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	CHECK_INT(feed(&c, REPL, "220 ready\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "AUTH TLS\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "234 AUTH TLS successful\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_ENCRYPTED);
	CHECK_STR(a->detail,
		  "control channel encrypted; ftpgate cannot open data pinholes for it");
	CHECK_STR(a->command, "AUTH TLS");
	CHECK_STR(a->reply, "234 AUTH TLS successful");
	CHECK_INT(a->reply_code, 234);
	CHECK(c.s.encrypted);
	CHECK(!c.s.lost);
	CHECK_INT(session_memory(&c.s), 0);
	/* opaque from here on: no rejected "lines", no pinholes, even for
	 * a plain-text PASV exchange */
	CHECK_INT(send_n(&c, ORIG, hello, sizeof(hello)), 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);

	/* AUTH SSL, lower case, multi-line 234 */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "auth SSL\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "234-Going\r\n234 secure\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_ENCRYPTED);
	CHECK(c.s.encrypted);
	conn_close(&c);

	/* a 234 to anything but AUTH changes nothing */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "NOOP\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "234 not really\r\n"), 0);
	CHECK(!c.s.encrypted);
	CHECK_INT(feed(&c, REPL, "234 unsolicited\r\n"), 0);
	CHECK(!c.s.encrypted);
	conn_close(&c);

	/* AUTH refused: plain text goes on */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "AUTH TLS\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "504 No TLS here\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	conn_close(&c);
}

static void test_midstream(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	/* daemon restarted: no SYNs, both streams picked up mid-way */
	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	c.next[ORIG] = 777777;
	c.next[REPL] = 4242;
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 50000);
	/* picked up mid-stream: the greeting is long gone */
	CHECK(c.s.greeted);
	/* RST: the control connection is gone, its pinholes with it */
	{
		struct packet_info pkt;

		memset(&pkt, 0, sizeof(pkt));
		pkt.seq = c.next[ORIG];
		pkt.rst = true;
		memset(&c.out, 0, sizeof(c.out));
		session_packet(&c.s, &c.pol, ORIG, &pkt, c.now, &c.out);
		CHECK_INT(c.out.count, 1);
		CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
		CHECK_INT(a->cause, SESSION_REMOVE_CONTROL_CLOSED);
		CHECK_INT(a->data.dport, 50000);
		CHECK_INT(c.s.pinhole_count, 0);
		session_packet(&c.s, &c.pol, ORIG, &pkt, c.now, &c.out);
		CHECK_INT(c.out.count, 1);
	}
	conn_close(&c);
}

/* Picked up mid-stream and not trusted (strict mode, long after the
 * daemon started): nothing is acted on, ever. Issue 11, finding 1. */
static void test_picked_up_ungreeted(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	session_picked_up(&c.s, false);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->rule, SESSION_RULE_BEFORE_GREETING);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK(!c.s.greeted);
	conn_close(&c);
}

/* Active mode on for every server, as "active-mode = on" does. */
static void conn_active(struct conn *c, const char *client, const char *server)
{
	conn_open(c, client, server);
	c->pol.active_mode = true;
}

static void test_port(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_active(&c, "10.0.0.1", "192.0.2.10");
	/* nothing happens until the server accepts the command */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_PORT);
	CHECK_STR(addr_str(&c.s.pending[0].announced), "10.0.0.1");
	CHECK_INT(c.s.pending[0].announced_port, 40000);
	CHECK_INT(feed(&c, REPL, "200 PORT command successful\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK(a->active);
	CHECK_INT(a->reason, POLICY_ALLOW);
	CHECK_INT(a->direction, REPL);
	/* server (any port) -> client:announced port */
	CHECK(inet_addr_equal(&a->data.src, &c.server));
	CHECK_INT(a->data.sport, 0);
	CHECK_STR(addr_str(&a->data.dst), "10.0.0.1");
	CHECK_INT(a->data.dport, 40000);
	CHECK_INT(a->reply_code, 200);
	CHECK_STR(a->command, "PORT 10,0,0,1,156,64");
	CHECK_STR(a->reply, "200 PORT command successful");
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK(c.s.pinhole[0].active);
	/* the transfer: the server connects, then 150 and 226 */
	CHECK_INT(feed(&c, ORIG, "LIST\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "150 Here comes the directory listing.\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "226 Directory send OK.\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK(a->active);
	CHECK(inet_addr_equal(&a->data.src, &c.server));
	CHECK_STR(addr_str(&a->data.dst), "10.0.0.1");
	CHECK_INT(a->data.dport, 40000);

	/* source port 20 where the policy says so */
	c.pol.active_source_port = POLICY_SOURCE_PORT_20;
	CHECK_INT(feed(&c, ORIG, "port 10,0,0,1,156,65\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.sport, 20);
	CHECK_INT(a->data.dport, 40001);
	CHECK_INT(c.s.pinhole[0].data.sport, 20);
	/* a newer PORT supersedes it: removed with the same source port */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,66\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 2);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_SUPERSEDED);
	CHECK_INT(a->data.sport, 20);
	CHECK_INT(a->data.dport, 40001);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[1].data.dport, 40002);
	/* and PASV supersedes an active one */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 2);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK(a->active);
	CHECK_INT(a->data.dport, 40002);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK(!c.out.item[1].active);
	CHECK_INT(c.s.pinhole_count, 1);
	conn_close(&c);
}

static void test_eprt(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_active(&c, "2001:db8::1", "2001:db8::10");
	CHECK_INT(feed(&c, ORIG, "EPRT |2|2001:db8::1|50123|\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 EPRT command successful.\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK(a->active);
	CHECK(inet_addr_equal(&a->data.src, &c.server));
	CHECK_STR(addr_str(&a->data.dst), "2001:db8::1");
	CHECK_INT(a->data.dport, 50123);
	/* another spelling of the client's address is the client */
	CHECK_INT(feed(&c, ORIG, "EPRT !2!2001:DB8:0::1!50124!\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 2);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[1].data.dport, 50124);
	/* an IPv4 EPRT on an IPv6 control connection */
	CHECK_INT(feed(&c, ORIG, "EPRT |1|10.0.0.1|50125|\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 2);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(c.out.item[1].reason, POLICY_REFUSE_FAMILY);
	CHECK(c.out.item[1].active);
	conn_close(&c);

	/* IPv4 EPRT */
	conn_active(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "EPRT |1|10.0.0.1|50126|\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 50126);
	conn_close(&c);
}

static void test_active_refusals(void)
{
	struct conn c;
	const struct session_action *a;

	/* off by default */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	a = &c.out.item[0];
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 PORT command successful\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_ACTIVE_DISABLED);
	CHECK(a->active);
	CHECK_STR(addr_str(&a->data.dst), "10.0.0.1");
	CHECK_INT(a->data.dport, 40000);
	CHECK_STR(a->command, "PORT 10,0,0,1,156,64");
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);

	conn_active(&c, "10.0.0.1", "192.0.2.10");
	/* another host: the bounce attack */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,2,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_THIRD_PARTY);
	CHECK_STR(addr_str(&a->data.dst), "10.0.0.2");
	/* the server itself is not the client either */
	CHECK_INT(feed(&c, ORIG, "PORT 192,0,2,10,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_THIRD_PARTY);
	/* a privileged port */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,0,22\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_PRIVILEGED_PORT);
	CHECK_INT(a->data.dport, 22);
	/* outside active-client-ports */
	c.pol.active_client_range.low = 50000;
	c.pol.active_client_range.high = 50999;
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_PORT_RANGE);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,195,80\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 50000);
	/* the server refuses it: no pinhole, and the one before stays */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,195,81\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "500 Illegal PORT command.\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_NOT_ACCEPTED);
	CHECK_STR(a->reply, "500 Illegal PORT command.");
	CHECK_INT(c.s.pinhole_count, 1);
	/* a 2xx that is not 200 is no acceptance either */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,195,82\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "250 whatever\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_NOT_ACCEPTED);
	/* malformed arguments */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,195\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 2);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	a = &c.out.item[1];
	CHECK_INT(a->reason, POLICY_REFUSE_MALFORMED_COMMAND);
	CHECK_STR(a->detail, "PORT argument not six comma-separated numbers");
	CHECK_INT(a->data.dst.family, 0);
	CHECK_INT(feed(&c, ORIG, "EPRT |3|10.0.0.1|50000|\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	a = &c.out.item[0];
	CHECK_INT(a->reason, POLICY_REFUSE_MALFORMED_COMMAND);
	CHECK_STR(a->detail, "EPRT protocol not 1 or 2");
	/* a 200 answering anything else opens nothing */
	CHECK_INT(feed(&c, ORIG, "TYPE I\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	/* a 200 with nothing outstanding either */
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);

	/* per server: on for one, off for another */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	a = &c.out.item[0];
	c.pol.active_mode = true;
	c.pol.servers = calloc(1, sizeof(*c.pol.servers));
	if (!c.pol.servers)
		abort();
	c.pol.server_count = 1;
	c.pol.servers[0].addr = c.server;
	c.pol.servers[0].active_mode = POLICY_SWITCH_OFF;
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_ACTIVE_DISABLED);
	c.pol.active_mode = false;
	c.pol.servers[0].active_mode = POLICY_SWITCH_ON;
	c.pol.servers[0].active_source_port = POLICY_SOURCE_PORT_20;
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.sport, 20);
	conn_close(&c);
}

/* ---- active-open = command ------------------------------------------ */

static void conn_command(struct conn *c, const char *client, const char *server)
{
	conn_active(c, client, server);
	c->pol.active_open = POLICY_ACTIVE_OPEN_COMMAND;
}

/* The pinhole opens at the PORT, before the server has said anything
 * (pyftpdlib connects first, then answers 200); the 200 keeps it and
 * supersedes the older one; a refusal removes it and keeps the older. */
static void test_command_open(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_command(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK(a->active);
	CHECK_INT(a->direction, ORIG);
	CHECK(inet_addr_equal(&a->data.src, &c.server));
	CHECK_INT(a->data.sport, 0);
	CHECK_STR(addr_str(&a->data.dst), "10.0.0.1");
	CHECK_INT(a->data.dport, 40000);
	CHECK_INT(a->reply_code, 0);
	CHECK_STR(a->command, "PORT 10,0,0,1,156,64");
	CHECK_STR(a->reply, "");
	CHECK(!a->nat.on);
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK(c.s.pending[0].at_command);
	CHECK_INT(c.s.pending[0].pinhole_id, c.s.pinhole[0].id);
	CHECK_INT(a->record_id, c.s.pinhole[0].id);
	/* the 200: nothing more to do */
	CHECK_INT(feed(&c, REPL, "200 Active data connection established.\r\n"), 0);
	CHECK_INT(c.s.pinhole_count, 1);
	/* a second PORT opens at once; its 200 supersedes the first */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,65\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 40001);
	CHECK_INT(c.s.pinhole_count, 2);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_SUPERSEDED);
	CHECK_INT(a->data.dport, 40000);
	CHECK_INT(a->reply_code, 200);
	CHECK_STR(a->command, "PORT 10,0,0,1,156,65");
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK_INT(c.s.pinhole[0].data.dport, 40001);
	/* refused by the server: only its own pinhole goes */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,66\r\n"), 1);
	CHECK_INT(c.s.pinhole_count, 2);
	CHECK_INT(feed(&c, REPL, "500 Illegal PORT command.\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_REFUSED_BY_SERVER);
	CHECK(a->active);
	CHECK_INT(a->data.dport, 40002);
	CHECK(inet_addr_equal(&a->data.src, &c.server));
	CHECK_INT(a->reply_code, 500);
	CHECK_STR(a->command, "PORT 10,0,0,1,156,66");
	CHECK_STR(a->detail, "the server did not accept the command that opened it");
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK_INT(c.s.pinhole[0].data.dport, 40001);
	/* a 2xx that is not 200 is no acceptance either, and supersedes
	 * nothing */
	CHECK_INT(feed(&c, ORIG, "EPRT |1|10.0.0.1|50000|\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(feed(&c, REPL, "250 whatever\r\n"), 1);
	CHECK_INT(a->cause, SESSION_REMOVE_REFUSED_BY_SERVER);
	CHECK_INT(a->data.dport, 50000);
	CHECK_INT(c.s.pinhole_count, 1);
	/* the transfer of the one accepted */
	CHECK_INT(feed(&c, ORIG, "LIST\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "150 ok\r\n226 done\r\n"), 1);
	CHECK_INT(a->cause, SESSION_REMOVE_TRANSFER_DONE);
	CHECK_INT(a->data.dport, 40001);
	CHECK_INT(c.s.pinhole_count, 0);
	/* the source port policy applies at the command too */
	c.pol.active_source_port = POLICY_SOURCE_PORT_20;
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,67\r\n"), 1);
	CHECK_INT(a->data.sport, 20);
	/* a 200 in a line a strict rule refuses: supersedes, as in reply
	 * mode, but keeps nothing */
	CHECK_INT(feed(&c, REPL, "200 o\rk\r\n"), 2);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[1].cause, SESSION_REMOVE_REFUSED_BY_SERVER);
	CHECK_INT(c.s.pinhole_count, 0);
	/* and the control connection's end removes an open one */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,68\r\n"), 1);
	CHECK_INT(send_tcp(&c, ORIG, c.next[ORIG], false, true, false, true,
			   c.next[REPL], NULL, 0), 1);
	CHECK_INT(a->cause, SESSION_REMOVE_CONTROL_CLOSED);
	CHECK_INT(a->data.dport, 40004);
	conn_close(&c);
}

/* Pipelined: every PORT opens at once; each reply decides its own, and
 * a 200 spares the pinholes of commands still waiting for theirs. */
static void test_command_pipelined(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_command(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\nPORT 10,0,0,1,156,65\r\n"), 2);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->data.dport, 40000);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[1].data.dport, 40001);
	CHECK_INT(c.s.pinhole_count, 2);
	/* the first 200: the second PORT's pinhole is not superseded */
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	CHECK_INT(c.s.pinhole_count, 2);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->cause, SESSION_REMOVE_SUPERSEDED);
	CHECK_INT(a->data.dport, 40000);
	/* a refused one, then an accepted one, in one segment */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,66\r\nPORT 10,0,0,1,156,67\r\n"), 2);
	CHECK_INT(feed(&c, REPL, "500 no\r\n200 ok\r\n"), 2);
	CHECK_INT(a->cause, SESSION_REMOVE_REFUSED_BY_SERVER);
	CHECK_INT(a->data.dport, 40002);
	CHECK_INT(c.out.item[1].cause, SESSION_REMOVE_SUPERSEDED);
	CHECK_INT(c.out.item[1].data.dport, 40001);
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK_INT(c.s.pinhole[0].data.dport, 40003);
	/* PASV answered while a PORT waits: the 227 spares the PORT's */
	CHECK_INT(feed(&c, ORIG, "PASV\r\nPORT 10,0,0,1,156,68\r\n"), 1);
	CHECK_INT(feed(&c, REPL, pasv_reply), 2);
	CHECK_INT(a->cause, SESSION_REMOVE_SUPERSEDED);
	CHECK_INT(a->data.dport, 40003);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK(!c.out.item[1].active);
	CHECK_INT(c.s.pinhole_count, 2);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->cause, SESSION_REMOVE_SUPERSEDED);
	CHECK(!a->active);
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK_INT(c.s.pinhole[0].data.dport, 40004);
	conn_close(&c);
}

/* Every check but the server's answer, at the command: the same reasons
 * as in reply mode, handed out as line reports (direction ORIGINAL). A
 * 200 to a refused PORT still supersedes the data endpoint before it. */
static void test_command_refusals(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.pol.active_open = POLICY_ACTIVE_OPEN_COMMAND;
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_ACTIVE_DISABLED);
	CHECK_INT(a->direction, ORIG);
	CHECK(a->active);
	CHECK_INT(a->data.dport, 40000);
	CHECK_INT(a->reply_code, 0);
	CHECK_INT(c.out.reports, 1);
	CHECK(c.s.pending[0].at_command);
	CHECK_INT(c.s.pending[0].pinhole_id, 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	conn_close(&c);

	conn_command(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	CHECK_INT(c.s.pinhole_count, 1);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,2,156,64\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_THIRD_PARTY);
	CHECK_STR(addr_str(&a->data.dst), "10.0.0.2");
	/* refused by us, accepted by the server: the older one is over */
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_SUPERSEDED);
	CHECK_INT(c.s.pinhole_count, 0);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,0,22\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_PRIVILEGED_PORT);
	CHECK_INT(feed(&c, REPL, "500 no\r\n"), 0);
	c.pol.active_client_range.low = 50000;
	c.pol.active_client_range.high = 50999;
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_PORT_RANGE);
	CHECK_INT(feed(&c, REPL, "500 no\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,195\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_MALFORMED_COMMAND);
	CHECK_STR(a->detail, "PORT argument not six comma-separated numbers");
	CHECK_INT(feed(&c, REPL, "501 no\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "EPRT |2|::1|50000|\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_FAMILY);
	CHECK_INT(feed(&c, REPL, "522 no\r\n"), 0);
	/* the session cap counts the pinholes opened at commands */
	c.pol.max_pinholes_per_session = 2;
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,195,80\r\nPORT 10,0,0,1,195,81\r\nPORT 10,0,0,1,195,82\r\n"), 3);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[2].kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(c.out.item[2].reason, POLICY_REFUSE_SESSION_CAP);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n200 ok\r\n200 ok\r\n"), 2);
	CHECK_INT(c.s.pinhole_count, 0);
	/* after EPSV ALL */
	CHECK_INT(feed(&c, ORIG, "EPSV ALL\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,195,80\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_EPSV_ALL);
	conn_close(&c);

	/* per server: command for one, reply for the default */
	conn_active(&c, "10.0.0.1", "192.0.2.10");
	c.pol.servers = calloc(1, sizeof(*c.pol.servers));
	if (!c.pol.servers)
		abort();
	c.pol.server_count = 1;
	c.pol.servers[0].addr = c.server;
	c.pol.servers[0].active_open = POLICY_ACTIVE_OPEN_COMMAND;
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	/* a reload to reply mode meanwhile: the command keeps its way */
	c.pol.servers[0].active_open = POLICY_ACTIVE_OPEN_REPLY;
	CHECK_INT(feed(&c, REPL, "500 no\r\n"), 1);
	CHECK_INT(a->cause, SESSION_REMOVE_REFUSED_BY_SERVER);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(a->direction, REPL);
	conn_close(&c);
}

/* active-open = reply, written out, is the default: nothing at the
 * command. */
static void test_command_reply_mode(void)
{
	struct conn c;

	conn_active(&c, "10.0.0.1", "192.0.2.10");
	c.pol.active_open = POLICY_ACTIVE_OPEN_REPLY;
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK(!c.s.pending[0].at_command);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(c.out.item[0].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[0].direction, REPL);
	conn_close(&c);
}

/* A masqueraded client (doc/nat.md 2.2): the daemon says before the
 * packet which PORT it will rewrite (to the gateway's address, maybe
 * another port after a clash); the pinhole opened at the command is the
 * one the 200 makes in reply mode. Only for that packet, that line. */
static void test_command_nat(void)
{
	struct flow reply;
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_command(&c, "10.0.0.1", "192.0.2.10");
	memset(&reply, 0, sizeof(reply));
	reply.src = c.server;
	reply.sport = 21;
	if (inet_addr_parse("192.0.2.1", &reply.dst) < 0)
		abort();
	reply.dport = 61000;
	session_set_nat(&c.s, &reply);
	session_command_rewrite_next(&c.s, 40000, 40007);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK(a->nat.on);
	CHECK_INT(a->nat_dir, REPL);
	CHECK_STR(addr_str(&a->data.dst), "192.0.2.1");
	CHECK_INT(a->data.dport, 40007);
	CHECK_STR(addr_str(&a->nat.address), "10.0.0.1");
	CHECK_INT(a->nat.port, 40000);
	CHECK(c.s.pending[0].rewritten);
	CHECK(!c.s.rewrite_next.on);
	CHECK_INT(c.s.pinhole[0].data.dport, 40007);
	CHECK_INT(feed(&c, REPL, "500 no\r\n"), 1);
	CHECK_INT(a->cause, SESSION_REMOVE_REFUSED_BY_SERVER);
	CHECK_STR(addr_str(&a->data.dst), "192.0.2.1");
	CHECK_INT(a->data.dport, 40007);
	/* not this packet's line: forgotten after it; a PORT not rewritten
	 * gets a plain pinhole for what the server was told */
	session_command_rewrite_next(&c.s, 40001, 40001);
	CHECK_INT(feed(&c, ORIG, "NOOP\r\n"), 0);
	CHECK(!c.s.rewrite_next.on);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,65\r\n"), 1);
	CHECK(!a->nat.on);
	CHECK_STR(addr_str(&a->data.dst), "10.0.0.1");
	CHECK_INT(a->data.dport, 40001);
	conn_close(&c);
}

static void test_epsv_all(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_active(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(c.s.pinhole_count, 1);
	/* refused EPSV ALL changes nothing */
	CHECK_INT(feed(&c, ORIG, "EPSV ALL\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "500 no\r\n"), 0);
	CHECK(!c.s.epsv_all);
	CHECK_INT(feed(&c, ORIG, "EPSV ALL\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 EPSV ALL ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_EPSV_ALL);
	CHECK(c.s.epsv_all);
	/* a server that (wrongly) still accepts PORT or PASV: no pinhole */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_EPSV_ALL);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_EPSV_ALL);
	/* EPSV still works */
	CHECK_INT(feed(&c, ORIG, "EPSV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "229 ok (|||50001|)\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	/* REIN resets it (and removes the pinhole) */
	CHECK_INT(feed(&c, ORIG, "REIN\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "120 wait\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "220 Service ready for new user.\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_REINITIALIZE);
	CHECK_STR(a->command, "REIN");
	CHECK(!c.s.epsv_all);
	CHECK_INT(c.s.pinhole_count, 0);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	conn_close(&c);
}

static void test_lifecycle(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];
	struct packet_info pkt;

	conn_active(&c, "10.0.0.1", "192.0.2.10");
	/* several PASVs before a transfer: only the last one stays */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(feed(&c, ORIG, "PASV\r\nPASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227 (192,0,2,10,195,81)\r\n"
				 "227 (192,0,2,10,195,82)\r\n"), 4);
	CHECK_INT(c.out.item[0].kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[0].data.dport, 50000);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[2].kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[2].data.dport, 50001);
	CHECK_INT(c.out.item[3].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[3].data.dport, 50002);
	CHECK_INT(c.s.pinhole_count, 1);
	/* a refused PASV still supersedes: the server moved on */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227 (198,51,100,7,195,83)\r\n"), 2);
	CHECK_INT(c.out.item[0].kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[1].reason, POLICY_REFUSE_THIRD_PARTY);
	CHECK_INT(c.s.pinhole_count, 0);
	/* a PASV the server refuses supersedes nothing */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	/* (425 is reported as data trouble, nothing else) */
	CHECK_INT(feed(&c, REPL, "425 no\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_DATA_TROUBLE);
	CHECK_INT(c.s.pinhole_count, 1);

	/* a transfer that fails before any data connection (550) keeps
	 * the endpoint: servers let the next command use it */
	CHECK_INT(feed(&c, ORIG, "RETR missing\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "550 Failed to open file.\r\n"), 0);
	CHECK_INT(c.s.pinhole_count, 1);
	/* one whose data connection failed does not */
	CHECK_INT(feed(&c, ORIG, "STOR x\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "425 Failed to establish connection.\r\n"), 2);
	CHECK_INT(a->kind, SESSION_ACTION_DATA_TROUBLE);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[1].cause, SESSION_REMOVE_TRANSFER_DONE);
	CHECK_INT(c.out.item[1].reply_code, 425);

	/* ABOR during a transfer: 426 to the RETR, 226 to the ABOR */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(feed(&c, ORIG, "RETR big\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "150 Opening\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "\xff\xf4\xff\xf2" "ABOR\r\n"), 0);
	CHECK_INT(c.s.pending[1].verb, FTP_COMMAND_ABOR);
	CHECK_INT(feed(&c, REPL, "426 Failure writing network stream.\r\n"), 2);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[1].cause, SESSION_REMOVE_TRANSFER_DONE);
	CHECK(c.out.item[1].active);
	CHECK_INT(feed(&c, REPL, "226 ABOR successful.\r\n"), 0);
	/* ABOR with an unused pinhole removes it */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(feed(&c, ORIG, "ABOR\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "225 No transfer to ABOR.\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_ABORT);
	CHECK_STR(a->command, "ABOR");
	/* QUIT */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(feed(&c, ORIG, "QUIT\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "221 Goodbye.\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_QUIT);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);

	/* FIN: the lines in the FIN segment count first */
	conn_active(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	memset(&pkt, 0, sizeof(pkt));
	pkt.seq = c.next[REPL];
	pkt.fin = true;
	pkt.payload = (const uint8_t *)pasv_reply;
	pkt.payload_len = strlen(pasv_reply);
	memset(&c.out, 0, sizeof(c.out));
	session_packet(&c.s, &c.pol, REPL, &pkt, c.now, &c.out);
	CHECK_INT(c.out.count, 2);
	CHECK_INT(c.out.item[0].kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(c.out.item[1].cause, SESSION_REMOVE_CONTROL_CLOSED);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);

	/* an expired pinhole is not removed: the kernel did that */
	conn_active(&c, "10.0.0.1", "192.0.2.10");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	c.now += 30 * 1000;
	CHECK_INT(feed(&c, ORIG, "QUIT\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "221 bye\r\n"), 0);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);
}

static void test_strict_lines(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];
	static const char nul_cmd[] = "PORT 10,0,0,1,156,64\0\r\n";
	static const char nul_reply[] = "200 ok\0\r\n";

	conn_active(&c, "10.0.0.1", "192.0.2.10");
	/* NUL in a command: rejected, queued, never acted on */
	CHECK_INT(send_n(&c, ORIG, nul_cmd, sizeof(nul_cmd) - 1), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->rule, SESSION_RULE_NUL);
	CHECK_STR(a->detail, "NUL byte in command");
	CHECK_STR(a->command, "PORT 10,0,0,1,156,64?");
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_OTHER);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	/* bare CR: a server that ends lines at CR would see a PORT here */
	CHECK_INT(feed(&c, ORIG, "NOOP\rPORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(a->rule, SESSION_RULE_BARE_CR);
	CHECK_STR(a->detail, "bare CR in command");
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	CHECK_INT(c.s.pinhole_count, 0);

	/* a reply with NUL or a bare CR counts for matching, opens nothing */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(send_n(&c, REPL, nul_reply, sizeof(nul_reply) - 1), 2);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->rule, SESSION_RULE_NUL);
	CHECK_INT(a->direction, REPL);
	CHECK_STR(a->reply, "200 ok?");
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(c.out.item[1].reason, POLICY_REFUSE_NOT_ACCEPTED);
	CHECK_STR(c.out.item[1].detail, "reply line rejected");
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227 (192,0,2,10,195,80)\rx\r\n"), 2);
	CHECK_INT(a->rule, SESSION_RULE_BARE_CR);
	CHECK_INT(c.out.item[1].reason, POLICY_REFUSE_MALFORMED);
	CHECK_INT(c.s.pinhole_count, 0);
	/* other control bytes in reply text (strict) */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227 (192,0,2,10,195,80)\x1b\r\n"), 2);
	CHECK_INT(a->rule, SESSION_RULE_MALFORMED);
	CHECK_STR(a->detail, "malformed reply: control byte in reply");
	CHECK_INT(c.out.item[1].reason, POLICY_REFUSE_MALFORMED);
	/* a 234 with a bare CR still makes the session opaque: safe side */
	CHECK_INT(feed(&c, ORIG, "AUTH TLS\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "234 go\rahead\r\n"), 2);
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_ENCRYPTED);
	conn_close(&c);

	/* relaxed (strict = off for this server): reply text is not judged
	 * by these rules, commands still are */
	conn_active(&c, "10.0.0.1", "192.0.2.10");
	c.pol.strict = false;
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(send_n(&c, REPL, nul_reply, sizeof(nul_reply) - 1), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_INT(feed(&c, ORIG, "NOOP\rPORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(a->rule, SESSION_RULE_BARE_CR);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	/* a 227 with a control byte still does not parse */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227 (192,0,2,10,195,80)\x1b\r\n"), 2);
	CHECK_INT(c.out.item[1].reason, POLICY_REFUSE_MALFORMED);
	CHECK_STR(c.out.item[1].detail, "control byte in 227 reply");
	conn_close(&c);
}

static void test_embedded(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_active(&c, "10.0.0.1", "192.0.2.10");
	/* NAT slipstreaming: padding so that a TCP segment starts at
	 * "PORT"; as a line it is not a command */
	CHECK_INT(feed(&c, ORIG, "xxxxxxxx"), 0);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,0,22\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->rule, SESSION_RULE_MALFORMED);
	CHECK_INT(feed(&c, REPL, "500 Unknown command.\r\n"), 0);
	/* a line that parses as a command with a data verb inside */
	CHECK_INT(feed(&c, ORIG, "POST PORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->rule, SESSION_RULE_EMBEDDED_COMMAND);
	CHECK(session_line_rule_is_attack(a->rule));
	CHECK_STR(a->detail, "PORT at byte 5 inside a command line: not a command (NAT slipstreaming?)");
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_OTHER);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "NOOP eprt |1|10.0.0.1|40000|\r\n"), 1);
	CHECK_INT(a->rule, SESSION_RULE_EMBEDDED_COMMAND);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	/* words that end in "port" are ordinary arguments */
	CHECK_INT(feed(&c, ORIG, "CWD support\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "250 ok\r\n"), 0);
	/* a word that merely starts like a verb is fine */
	CHECK_INT(feed(&c, ORIG, "RETR PORTS.txt\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "550 no\r\n"), 0);
	CHECK_INT(c.s.pinhole_count, 0);
	/* PASV/EPSV inside a line are not refused (issue 11, finding 9:
	 * the docs said they were): they name no address, so a packet
	 * helper fooled into reading one opens nothing, and the line's
	 * reply, even a 227, answers the line, not a PASV */
	CHECK_INT(feed(&c, ORIG, "NOOP PASV\r\nSTOR EPSV 2\r\n"), 0);
	CHECK_INT(c.s.pending_count, 2);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_OTHER);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_STR(a->command, "NOOP PASV");
	CHECK_INT(feed(&c, REPL, "229 Entering Extended Passive Mode (|||50001|)\r\n"), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_STR(a->command, "STOR EPSV 2");
	CHECK_INT(c.s.pinhole_count, 0);
	/* relaxed: the line is an ordinary command again */
	c.pol.strict = false;
	CHECK_INT(feed(&c, ORIG, "NOOP epsv\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);
	conn_close(&c);
}

/* Issue 11, finding 2: a malicious server puts "220" on its SYN-ACK.
 * The client's kernel drops that payload, so the client was never
 * greeted; ftpgated must not be either, or a browser's PORT sent before
 * any greeting (NAT slipstreaming) would be acted on. */
static void test_syn_payload(void)
{
	static const char greeting[] = "220 hi\r\n";
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	c.pol.active_mode = true;
	CHECK_INT(send_at(&c, ORIG, c.next[ORIG]++, true, NULL, 0), 0);
	CHECK_INT(send_at(&c, REPL, c.next[REPL]++, true, greeting,
			  sizeof(greeting) - 1), 0);
	CHECK(!c.s.greeted);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->rule, SESSION_RULE_BEFORE_GREETING);
	/* the server's next bytes start right after its SYN: nothing was
	 * taken from the SYN-ACK */
	CHECK_INT(feed(&c, REPL, "200 PORT command successful\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->rule, SESSION_RULE_BEFORE_GREETING);
	CHECK_INT(c.s.pinhole_count, 0);
	CHECK(!c.s.greeted);
	conn_close(&c);

	/* a client SYN with payload is not a command either */
	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	CHECK_INT(send_at(&c, ORIG, c.next[ORIG]++, true, "PASV\r\n", 6), 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.out.commands, 0);
	conn_close(&c);
}

static void test_before_greeting(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	/* a browser's request goes out before the server has said a word */
	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	c.pol.active_mode = true;
	CHECK_INT(send_at(&c, ORIG, c.next[ORIG]++, true, NULL, 0), 0);
	CHECK_INT(send_at(&c, REPL, c.next[REPL]++, true, NULL, 0), 0);
	CHECK(!c.s.greeted);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_LINE_REJECTED);
	CHECK_INT(a->rule, SESSION_RULE_BEFORE_GREETING);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_OTHER);
	/* a reply before the greeting is not acted on either */
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->rule, SESSION_RULE_BEFORE_GREETING);
	CHECK_INT(a->direction, REPL);
	CHECK_INT(c.s.pending_count, 1);
	/* the greeting answers no command */
	CHECK_INT(feed(&c, REPL, "220-Welcome\r\n220 ready\r\n"), 0);
	CHECK(c.s.greeted);
	CHECK_INT(c.s.pending_count, 1);
	/* the server reads the early line now and answers it */
	CHECK_INT(feed(&c, REPL, "200 PORT command successful\r\n"), 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.s.pinhole_count, 0);
	/* after the greeting all is normal */
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	conn_close(&c);

	/* 421 instead of a greeting: no rejection (only data trouble) */
	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	CHECK_INT(send_at(&c, ORIG, c.next[ORIG]++, true, NULL, 0), 0);
	CHECK_INT(feed(&c, REPL, "421 Too many users\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_DATA_TROUBLE);
	CHECK(!c.s.greeted);
	conn_close(&c);

	/* relaxed: early commands count, and whatever comes first is the
	 * greeting (answering no command) */
	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	c.pol.active_mode = true;
	c.pol.strict = false;
	CHECK_INT(send_at(&c, ORIG, c.next[ORIG]++, true, NULL, 0), 0);
	CHECK_INT(feed(&c, ORIG, "PORT 10,0,0,1,156,64\r\n"), 0);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_PORT);
	CHECK_INT(feed(&c, REPL, "200 Hello, not quite a 220\r\n"), 0);
	CHECK(c.s.greeted);
	CHECK_INT(feed(&c, REPL, "200 PORT ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	conn_close(&c);

	/* relaxed, a 227 as the greeting is unsolicited */
	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	c.pol.strict = false;
	CHECK_INT(send_at(&c, ORIG, c.next[ORIG]++, true, NULL, 0), 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_INT(c.s.pending_count, 1);
	conn_close(&c);
}

static void test_names(void)
{
	int i, j;

	for (i = 0; i < SESSION_RULE_COUNT; i++) {
		CHECK(strcmp(session_line_rule_name((enum session_line_rule)i), "unknown") != 0);
		for (j = 0; j < i; j++)
			CHECK(strcmp(session_line_rule_name((enum session_line_rule)i),
				     session_line_rule_name((enum session_line_rule)j)) != 0);
	}
	for (i = 0; i < SESSION_REMOVE_COUNT; i++) {
		CHECK(strcmp(session_remove_cause_name((enum session_remove_cause)i), "unknown") != 0);
		for (j = 0; j < i; j++)
			CHECK(strcmp(session_remove_cause_name((enum session_remove_cause)i),
				     session_remove_cause_name((enum session_remove_cause)j)) != 0);
	}
	CHECK_STR(session_line_rule_name(SESSION_RULE_BARE_CR), "bare-cr");
	CHECK_STR(session_line_rule_name(SESSION_RULE_COUNT), "unknown");
	CHECK_STR(session_remove_cause_name(SESSION_REMOVE_SUPERSEDED), "superseded");
	CHECK_STR(session_remove_cause_name(SESSION_REMOVE_REFUSED_BY_SERVER), "refused-by-server");
	CHECK_STR(session_remove_cause_name(SESSION_REMOVE_NOT_REWRITTEN), "not-rewritten");
	CHECK_STR(session_remove_cause_name(SESSION_REMOVE_COUNT), "unknown");
	CHECK(!session_line_rule_is_attack(SESSION_RULE_NUL));
	CHECK(session_line_rule_is_attack(SESSION_RULE_BEFORE_GREETING));
}

/* Bytes of a direction that went past ftpgated (queue full): the peer
 * got them, ftpgated never will. */
static void bypass(struct conn *c, enum session_direction dir,
		   const char *text)
{
	c->next[dir] += (uint32_t)strlen(text);
}

/* A pure ACK of everything the other side sent. */
static unsigned ack_all(struct conn *c, enum session_direction dir)
{
	return send_tcp(c, dir, c->next[dir], false, false, false, true,
			c->next[dir == ORIG ? REPL : ORIG], NULL, 0);
}

static const struct session_action *find_kind(const struct conn *c,
					      enum session_action_kind kind)
{
	unsigned i;

	for (i = 0; i < c->out.count; i++)
		if (c->out.item[i].kind == kind)
			return &c->out.item[i];
	return NULL;
}

/* The 227 went past: the client, which has it, moves on; the hole is
 * skipped and the next PASV gets its pinhole. */
static void test_resync_reply(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	bypass(&c, REPL, pasv_reply);
	CHECK_INT(feed(&c, ORIG, "LIST\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(a->direction, REPL);
	CHECK_INT(a->skipped, 47);
	CHECK_STR(a->detail,
		  "47 bytes of the reply stream passed uninspected; resynchronized at the next line");
	CHECK_STR(a->reply, "");
	/* PASV is forgotten; LIST came after the hole */
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_TRANSFER);
	/* the first reply line after the hole is never acted on (no
	 * data-trouble report for this 425) but answers LIST */
	CHECK_INT(feed(&c, REPL, "425 No data connection\r\n"), 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.out.replies, 0);
	/* in step again */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	CHECK_STR(a->command, "PASV");
	CHECK_INT(a->data.dport, 50000);
	CHECK_INT(c.s.pinhole_count, 1);
	/* the hole is not reported twice */
	CHECK_INT(ack_all(&c, ORIG), 0);
	CHECK_INT(ack_all(&c, REPL), 0);
	conn_close(&c);

	/* a pure ACK is evidence enough; the lines held behind the hole
	 * are handled then, the first of them as a cut line */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	bypass(&c, REPL, pasv_reply);
	CHECK_INT(feed(&c, REPL, "226 x\r\n200 y\r\n"), 0);	/* held */
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(send_tcp(&c, ORIG, c.next[ORIG], false, false, false, true,
			   c.next[REPL] - 14, NULL, 0), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(a->skipped, 47);
	CHECK(c.s.stream[REPL].next_seq == c.next[REPL]);
	CHECK_INT(c.out.replies, 1);		/* "200 y"; "226 x" is cut */
	CHECK_INT(c.s.pending_count, 0);
	conn_close(&c);
}

/* The PASV went past; the 227 answering it is unsolicited to us. */
static void test_resync_command(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "NOOP\r\n"), 0);
	CHECK_INT(c.s.pending_count, 1);
	bypass(&c, ORIG, "PASV\r\n");
	/* the server's 200 to NOOP carries the ACK of the PASV */
	CHECK_INT(feed(&c, REPL, "200 NOOP ok\r\n227 Entering Passive Mode (192,0,2,10,195,80)\r\n"), 2);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(a->direction, ORIG);
	CHECK_INT(a->skipped, 6);
	CHECK_STR(a->detail,
		  "6 bytes of the command stream passed uninspected; resynchronized at the next line");
	/* NOOP was forgotten too: the 200 takes nothing and the 227
	 * answers no command we know of */
	CHECK_INT(c.out.item[1].kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(c.out.item[1].reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_STR(c.out.item[1].detail, "no command outstanding");
	CHECK_INT(c.s.pinhole_count, 0);
	/* the first command line after the hole is not trusted (here the
	 * retry of PASV): the 227 answering it is refused as a reply to
	 * another command */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(c.s.pending[0].verb, FTP_COMMAND_OTHER);
	CHECK_STR(c.s.pending[0].text, "(cut line)");
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(a->reason, POLICY_REFUSE_UNSOLICITED);
	CHECK_STR(a->command, "(cut line)");
	/* and the next one works */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	conn_close(&c);

	/* a PORT in the hole: the server's 200 opens nothing */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.pol.active_mode = true;
	c.acks = true;
	bypass(&c, ORIG, "PORT 10,0,0,1,195,80\r\n");
	CHECK_INT(feed(&c, REPL, "200 PORT ok\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);
}

/* A 227 cut by the hole is never acted on, whatever is left of it. */
static void test_resync_cut_227(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	/* the head went past, the tail came: the tail is a cut line */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	bypass(&c, REPL, "227 Entering Pass");
	CHECK_INT(feed(&c, REPL, "ive Mode (192,0,2,10,195,80)\r\n"), 0);
	CHECK_INT(send_tcp(&c, ORIG, c.next[ORIG], false, false, false, true,
			   c.next[REPL] - 30, NULL, 0), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(a->skipped, 17);
	CHECK_INT(c.s.pinhole_count, 0);
	CHECK_INT(c.s.pending_count, 0);
	conn_close(&c);

	/* the head came, the tail went past: the partial line is dropped */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "227 Entering Passive Mode (192,0,2,10,"), 0);
	bypass(&c, REPL, "195,80)\r\n");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(a->skipped, 9);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);

	/* the tail reads as a 227 of its own, and a PASV is outstanding:
	 * still not acted on, since its start went past */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	bypass(&c, REPL, "211-Status: ");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(feed(&c, REPL, pasv_reply), 0);
	CHECK_INT(c.s.pinhole_count, 0);
	CHECK_INT(c.s.pending_count, 0);
	conn_close(&c);
}

/* A multi-line reply open when the hole came is forgotten with it. */
static void test_resync_multiline(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "HELP\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "214-Commands:\r\n USER PASS\r\n"), 0);
	CHECK_INT(c.s.multiline_code, 214);
	bypass(&c, REPL, " PASV EPSV\r\n214 Help OK.\r\n");
	CHECK_INT(ack_all(&c, ORIG), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(c.s.multiline_code, 0);
	CHECK_INT(feed(&c, ORIG, "NOOP\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "200 ok\r\n"), 0);	/* the cut line */
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	conn_close(&c);

	/* the cut line opens one: its text lines are text */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "STAT\r\n"), 0);
	bypass(&c, REPL, "211 ok\r\n");
	CHECK_INT(feed(&c, ORIG, "HELP\r\n"), 1);
	CHECK_INT(feed(&c, REPL, "214-Commands:\r\n227 (192,0,2,10,195,80)\r\n"), 0);
	CHECK_INT(c.s.multiline_code, 214);
	CHECK_INT(c.s.pending_count, 1);
	CHECK_INT(feed(&c, REPL, "214 Help OK.\r\n"), 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(c.s.pinhole_count, 0);
	conn_close(&c);
}

/* Acknowledgements that prove nothing went past. */
static void test_resync_not(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	/* a whole session with real acknowledgements */
	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", NULL);
	c.acks = true;
	CHECK_INT(send_tcp(&c, ORIG, c.next[ORIG]++, true, false, false,
			   false, 0x12345678u, NULL, 0), 0);
	CHECK_INT(send_at(&c, REPL, c.next[REPL]++, true, NULL, 0), 0);
	CHECK_INT(ack_all(&c, ORIG), 0);
	CHECK_INT(feed(&c, REPL, "220 ready\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "USER a\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "331 pw\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PASS b\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "230 in\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);

	/* a reply segment lost after the gateway (not before it): held
	 * until it comes again, the client's ACKs stay behind it */
	CHECK_INT(feed(&c, ORIG, "RETR f\r\n"), 0);
	c.next[REPL] += 23;
	CHECK_INT(feed(&c, REPL, "226 Transfer complete\r\n"), 0);
	CHECK_INT(send_tcp(&c, ORIG, c.next[ORIG], false, false, false, true,
			   c.next[REPL] - 23 - 23, NULL, 0), 0);
	CHECK_INT(send_at(&c, REPL, c.next[REPL] - 23 - 23, false,
			  "150 Opening data conn\r\n", 23), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REMOVE);
	CHECK_INT(a->cause, SESSION_REMOVE_TRANSFER_DONE);
	CHECK_INT(ack_all(&c, ORIG), 0);

	/* no ACK flag, or a RST: whatever the number says */
	CHECK_INT(send_tcp(&c, ORIG, c.next[ORIG], false, false, false, false,
			   c.next[REPL] + 1000, NULL, 0), 0);
	send_tcp(&c, ORIG, c.next[ORIG], false, false, true, true,
		 c.next[REPL] + 1000, NULL, 0);
	CHECK(find_kind(&c, SESSION_ACTION_STREAM_RESYNC) == NULL);
	CHECK(c.s.stream[REPL].next_seq == c.next[REPL]);
	conn_close(&c);
}

/* Closing: the FIN takes a sequence number, and may itself go past. */
static void test_resync_fin(void)
{
	struct conn c;

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "QUIT\r\n"), 0);
	CHECK_INT(send_tcp(&c, REPL, c.next[REPL], false, true, false, true,
			   c.next[ORIG], "221 Bye\r\n", 9), 0);
	c.next[REPL] += 10;
	/* the client's FIN+ACK acknowledges the server's FIN */
	CHECK_INT(send_tcp(&c, ORIG, c.next[ORIG], false, true, false, true,
			   c.next[REPL], NULL, 0), 0);
	c.next[ORIG]++;
	CHECK_INT(ack_all(&c, REPL), 0);
	conn_close(&c);

	/* the server's FIN went past: its ACK is one past the data */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "QUIT\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "221 Bye\r\n"), 0);
	c.next[REPL]++;
	CHECK_INT(send_tcp(&c, ORIG, c.next[ORIG], false, true, false, true,
			   c.next[REPL], NULL, 0), 0);
	conn_close(&c);

	/* the last reply went past, the FIN with it: skipped to the FIN,
	 * reported once */
	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "QUIT\r\n"), 0);
	bypass(&c, REPL, "221 Bye\r\n");
	c.next[REPL]++;
	CHECK_INT(send_tcp(&c, ORIG, c.next[ORIG], false, true, false, true,
			   c.next[REPL], NULL, 0), 1);
	CHECK_INT(c.out.item[0].kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(c.out.item[0].skipped, 10);
	conn_close(&c);
}

/* The reply direction starts 256 bytes below 2^32: a hole across it. */
static void test_resync_wraparound(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];
	char big[301];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK(c.next[REPL] > 0xffffff00u);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "211-", 4);
	memcpy(big + sizeof(big) - 11, "\r\n211 ok\r\n", 10);
	CHECK_INT(feed(&c, ORIG, "STAT\r\n"), 0);
	bypass(&c, REPL, big);
	CHECK(c.next[REPL] < 0x1000u);
	CHECK_INT(feed(&c, ORIG, "TYPE I\r\n"), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(a->skipped, 300);
	CHECK(c.s.stream[REPL].next_seq == c.next[REPL]);
	CHECK_INT(feed(&c, REPL, "200 Type set\r\n"), 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	/* an acknowledgement from before the wrap is old news */
	CHECK_INT(send_tcp(&c, ORIG, c.next[ORIG], false, false, false, true,
			   0xffffff80u, NULL, 0), 0);
	conn_close(&c);
}

/* Both directions went past for a while: two holes, found one after the
 * other; the session gets back in step. */
static void test_resync_both(void)
{
	struct conn c;
	const struct session_action *a = &c.out.item[0];

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	bypass(&c, ORIG, "TYPE I\r\n");
	bypass(&c, REPL, "200 Type set\r\n");
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 1);	/* held */
	CHECK_INT(a->direction, REPL);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_STREAM_RESYNC);
	CHECK_INT(a->direction, ORIG);
	CHECK_INT(a->skipped, 8 + 6);
	CHECK_INT(c.s.pinhole_count, 0);
	CHECK_INT(c.s.pending_count, 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);	/* the cut line */
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_REFUSED);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	CHECK_INT(feed(&c, REPL, pasv_reply), 1);
	CHECK_INT(a->kind, SESSION_ACTION_PINHOLE_OPEN);
	conn_close(&c);
}

/* A session that stopped parsing stays stopped. */
static void test_resync_stopped(void)
{
	struct conn c;
	struct session_limits lim = { .buffer_max = 64, .line_max = 32 };

	conn_open(&c, "10.0.0.1", "192.0.2.10");
	c.acks = true;
	CHECK_INT(feed(&c, ORIG, "AUTH TLS\r\n"), 0);
	CHECK_INT(feed(&c, REPL, "234 go\r\n"), 1);
	CHECK(c.s.encrypted);
	bypass(&c, REPL, "\x16\x03\x01 lots of TLS");
	CHECK_INT(ack_all(&c, ORIG), 0);
	CHECK_INT(feed(&c, ORIG, "PASV\r\n"), 0);
	conn_close(&c);

	conn_open_lim(&c, "10.0.0.1", "192.0.2.10", &lim);
	c.acks = true;
	CHECK_INT(feed(&c, REPL, "220 hi\r\n"), 0);
	CHECK_INT(send_at(&c, REPL, c.next[REPL] + 64, false, "x\r\n", 3), 1);
	CHECK_INT(c.out.item[0].kind, SESSION_ACTION_STREAM_LOST);
	bypass(&c, REPL, "lots");
	CHECK_INT(ack_all(&c, ORIG), 0);
	CHECK_INT(find_kind(&c, SESSION_ACTION_STREAM_RESYNC) == NULL, 1);
	conn_close(&c);
}

int main(void)
{
	test_pasv();
	test_epsv_ipv6();
	test_unsolicited();
	test_greeting();
	test_pipelined();
	test_pending_bound();
	test_pending_full();
	test_pending_shift();
	test_pending_forgotten_bound();
	test_multiline();
	test_split_reply();
	test_two_replies_one_segment();
	test_out_of_order_reply();
	test_policy_refusals();
	test_cap();
	test_preliminary();
	test_malformed();
	test_printable();
	test_long_line();
	test_long_reply();
	test_urgent();
	test_actions_full();
	test_actions_removal_kept();
	test_pinhole_failed_first();
	test_stream_lost();
	test_auth_tls();
	test_midstream();
	test_picked_up_ungreeted();
	test_port();
	test_eprt();
	test_active_refusals();
	test_command_open();
	test_command_pipelined();
	test_command_refusals();
	test_command_reply_mode();
	test_command_nat();
	test_epsv_all();
	test_lifecycle();
	test_strict_lines();
	test_embedded();
	test_before_greeting();
	test_syn_payload();
	test_names();
	test_resync_reply();
	test_resync_command();
	test_resync_cut_227();
	test_resync_multiline();
	test_resync_not();
	test_resync_fin();
	test_resync_wraparound();
	test_resync_both();
	test_resync_stopped();
	return check_report("session");
}
