/* test_session_audit: what the session reports for the audit trail and the
 * counters: data-connection trouble (421, 425, 426) with the command it
 * answers, and the number of commands and replies parsed. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "session.h"

#define ORIG SESSION_DIR_ORIGINAL
#define REPL SESSION_DIR_REPLY

struct conn {
	struct session s;
	struct policy pol;
	struct inet_addr client, server;
	uint32_t next[2];
	struct session_actions out;
};

static void conn_open(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	policy_init_defaults(&c->pol);
	if (inet_addr_parse("198.51.100.2", &c->client) < 0 ||
	    inet_addr_parse("203.0.113.2", &c->server) < 0)
		abort();
	session_init(&c->s, &c->client, 40000, &c->server, 21, NULL);
	c->next[ORIG] = 1000;
	c->next[REPL] = 5000;
}

/* Feed text in one in-order segment; the actions land in c->out. */
static void feed(struct conn *c, enum session_direction dir, const char *text)
{
	struct packet_info pkt;
	size_t len = strlen(text);

	memset(&pkt, 0, sizeof(pkt));
	pkt.src = dir == ORIG ? c->client : c->server;
	pkt.dst = dir == ORIG ? c->server : c->client;
	pkt.sport = dir == ORIG ? 40000 : 21;
	pkt.dport = dir == ORIG ? 21 : 40000;
	pkt.seq = c->next[dir];
	pkt.payload = (const uint8_t *)text;
	pkt.payload_len = len;
	c->next[dir] += (uint32_t)len;
	memset(&c->out, 0, sizeof(c->out));
	session_packet(&c->s, &c->pol, dir, &pkt, 1000000, &c->out);
}

static const struct session_action *find(const struct conn *c,
					 enum session_action_kind kind)
{
	unsigned i;

	for (i = 0; i < c->out.count; i++)
		if (c->out.item[i].kind == kind)
			return &c->out.item[i];
	return NULL;
}

static void login(struct conn *c)
{
	feed(c, REPL, "220 ready\r\n");
	feed(c, ORIG, "USER anonymous\r\n");
	feed(c, REPL, "331 password\r\n");
	feed(c, ORIG, "PASS secret\r\n");
	feed(c, REPL, "230 in\r\n");
}

static void test_trouble(void)
{
	struct conn c;
	const struct session_action *a;

	conn_open(&c);
	login(&c);
	CHECK(find(&c, SESSION_ACTION_DATA_TROUBLE) == NULL);

	/* a server out of passive ports answers PASV with 425 */
	feed(&c, ORIG, "PASV\r\n");
	CHECK_INT(c.out.commands, 1);
	feed(&c, REPL, "425 Can't open passive connection: no free port\r\n");
	CHECK_INT(c.out.replies, 1);
	a = find(&c, SESSION_ACTION_DATA_TROUBLE);
	CHECK(a != NULL);
	if (a) {
		CHECK_INT(a->reply_code, 425);
		CHECK_STR(a->reply, "425 Can't open passive connection: no free port");
		CHECK_STR(a->command, "PASV");
	}
	/* no pinhole from it */
	CHECK(find(&c, SESSION_ACTION_PINHOLE_OPEN) == NULL);

	/* a transfer cut halfway: 150, then 426 */
	feed(&c, ORIG, "EPSV\r\n");
	feed(&c, REPL, "229 Entering Extended Passive Mode (|||40001|)\r\n");
	CHECK(find(&c, SESSION_ACTION_PINHOLE_OPEN) != NULL);
	feed(&c, ORIG, "RETR big.iso\r\n");
	feed(&c, REPL, "150 Opening BINARY mode data connection\r\n");
	CHECK(find(&c, SESSION_ACTION_DATA_TROUBLE) == NULL);
	feed(&c, REPL, "426 Connection closed; transfer aborted.\r\n");
	a = find(&c, SESSION_ACTION_DATA_TROUBLE);
	CHECK(a != NULL);
	if (a) {
		CHECK_INT(a->reply_code, 426);
		CHECK_STR(a->command, "RETR big.iso");
	}

	/* other errors are not data trouble */
	feed(&c, ORIG, "RETR missing\r\n");
	feed(&c, REPL, "550 No such file\r\n");
	CHECK(find(&c, SESSION_ACTION_DATA_TROUBLE) == NULL);

	/* two replies in one segment: both counted, one reported */
	feed(&c, ORIG, "NOOP\r\nPASV\r\n");
	CHECK_INT(c.out.commands, 2);
	feed(&c, REPL, "200 ok\r\n425 Try later, data connection in use\r\n");
	CHECK_INT(c.out.replies, 2);
	a = find(&c, SESSION_ACTION_DATA_TROUBLE);
	CHECK(a != NULL && a->reply_code == 425);
	if (a)
		CHECK_STR(a->command, "PASV");

	/* a multi-line reply counts once, when it ends */
	feed(&c, ORIG, "HELP\r\n");
	feed(&c, REPL, "214-The following commands\r\n USER PASS\r\n");
	CHECK_INT(c.out.replies, 0);
	feed(&c, REPL, "214 Help OK.\r\n");
	CHECK_INT(c.out.replies, 1);
	session_free(&c.s);

	/* 421 instead of the greeting (too many connections): reported,
	 * with no command */
	conn_open(&c);
	feed(&c, REPL, "421 Too many connections (8) from this IP\r\n");
	a = find(&c, SESSION_ACTION_DATA_TROUBLE);
	CHECK(a != NULL);
	if (a) {
		CHECK_INT(a->reply_code, 421);
		CHECK_STR(a->command, "");
	}
	session_free(&c.s);
}

int main(void)
{
	test_trouble();
	return check_report("session_audit");
}
