/* Unit tests for ftp_rewrite: a table of lines, new endpoints and the exact
 * bytes expected; every accepted rewrite is also parsed back with ftp_parse
 * and must name the new endpoint, and its same_length flag must match the
 * lengths. Refusals assert the error, a reason, and an empty result. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "check.h"
#include "ftp_parse.h"
#include "ftp_rewrite.h"

#define BOUND 512

struct rewrite_case {
	enum ftp_rewrite_kind kind;
	const char *line;
	const char *addr;	/* NULL: no address passed */
	uint16_t port;
	size_t max;		/* 0: BOUND */
	int rc;
	const char *want;	/* rc == 0: the exact new line */
	bool same;
};

static const struct rewrite_case cases[] = {
	/* 227, DNAT: the private address grows by 3 bytes; the server's
	 * phrase does not fit, a shorter one padded does */
	{ FTP_REWRITE_227, "227 Entering Passive Mode (10,0,0,2,156,64).",
	  "203.0.113.1", 40000, 0, 0,
	  "227 Entering Passive   (203,0,113,1,156,64).", true },
	/* shrinks by 3: the server's own text, padded before the "(" */
	{ FTP_REWRITE_227, "227 Entering Passive Mode (203,0,113,2,156,64).",
	  "10.0.0.2", 40000, 0, 0,
	  "227 Entering Passive Mode    (10,0,0,2,156,64).", true },
	/* as long as before: only the numbers change */
	{ FTP_REWRITE_227, "227 Entering Passive Mode (10,0,0,20,156,64)",
	  "10.0.0.21", 40001, 0, 0,
	  "227 Entering Passive Mode (10,0,0,21,156,65)", true },
	/* grows by 1: the trailing space goes */
	{ FTP_REWRITE_227, "227 Entering Passive Mode (10,0,0,2,156,64)",
	  "10.0.0.20", 40000, 0, 0,
	  "227 Entering Passive Mode(10,0,0,20,156,64)", true },
	/* no parenthesis, grows by 2: a cut never leaves a separator glued
	 * to the digits ("ok," + "10,0,..." would not parse back) */
	{ FTP_REWRITE_227, "227 Mode, ok: 10,0,0,2,156,64", "10.0.0.200", 40000,
	  0, 0, "227 Mode,   10,0,0,200,156,64", true },
	{ FTP_REWRITE_227, "227 ok,mode 10,0,0,2,156,64", "10.0.0.200", 40000,
	  0, 0, "227       10,0,0,200,156,64", true },
	/* multi-line form keeps its separator */
	{ FTP_REWRITE_227, "227-Entering Passive Mode (10,0,0,2,156,64)",
	  "10.0.0.3", 40000, 0, 0,
	  "227-Entering Passive Mode (10,0,0,3,156,64)", true },
	/* no free text to absorb the growth: the nf_nat_ftp form, resized */
	{ FTP_REWRITE_227, "227 (10,0,0,2,156,64)", "203.0.113.1", 40000, 0, 0,
	  "227 (203,0,113,1,156,64)", false },
	{ FTP_REWRITE_227, "227 =10,0,0,2,156,64", "203.0.113.1", 40000, 0, 0,
	  "227 =203,0,113,1,156,64", false },
	/* no parentheses, shrinking: spaces before the digits */
	{ FTP_REWRITE_227, "227 Passive 203,0,113,2,156,64", "10.0.0.2", 40000,
	  0, 0, "227 Passive    10,0,0,2,156,64", true },
	/* bounds: the resized line must fit; so must a same-length one */
	{ FTP_REWRITE_227, "227 (10,0,0,2,156,64)", "203.0.113.1", 40000, 23,
	  -EMSGSIZE, NULL, false },
	{ FTP_REWRITE_227, "227 (10,0,0,2,156,64)", "203.0.113.1", 40000, 24, 0,
	  "227 (203,0,113,1,156,64)", false },
	{ FTP_REWRITE_227, "227 Entering Passive Mode (10,0,0,2,156,64).",
	  "203.0.113.1", 40000, 20, -EMSGSIZE, NULL, false },
	/* refused: not understood, wrong family, wrong reply, no port */
	{ FTP_REWRITE_227, "227 Entering Passive Mode (10,0,0,2,156).",
	  "203.0.113.1", 40000, 0, -EINVAL, NULL, false },
	{ FTP_REWRITE_227, "227 Entering Passive Mode (10,0,0,2,156,64) (1,2,3,4,5,6)",
	  "203.0.113.1", 40000, 0, -EINVAL, NULL, false },
	{ FTP_REWRITE_227, "227 Entering Passive Mode (10,0,0,2,156,64\r",
	  "203.0.113.1", 40000, 0, -EINVAL, NULL, false },
	{ FTP_REWRITE_227, "228 Entering Passive Mode (10,0,0,2,156,64)",
	  "203.0.113.1", 40000, 0, -EINVAL, NULL, false },
	{ FTP_REWRITE_227, "PORT 10,0,0,2,156,64", "203.0.113.1", 40000, 0,
	  -EINVAL, NULL, false },
	{ FTP_REWRITE_227, "227 Entering Passive Mode (10,0,0,2,156,64)",
	  "2001:db8::1", 40000, 0, -EAFNOSUPPORT, NULL, false },
	{ FTP_REWRITE_227, "227 Entering Passive Mode (10,0,0,2,156,64)",
	  "203.0.113.1", 0, 0, -EINVAL, NULL, false },
	{ FTP_REWRITE_227, "227 Entering Passive Mode (10,0,0,2,156,64)",
	  NULL, 40000, 0, -EINVAL, NULL, false },

	/* 229: the port only (a port clash moved it) */
	{ FTP_REWRITE_229, "229 Entering Extended Passive Mode (|||6446|)",
	  NULL, 40000, 0, 0,
	  "229 Entering Extended Passive Mode(|||40000|)", true },
	{ FTP_REWRITE_229, "229 Entering Extended Passive Mode (|||6446|)",
	  NULL, 65535, 0, 0,
	  "229 Entering Extended Passive Mode(|||65535|)", true },
	{ FTP_REWRITE_229, "229 Entering Extended Passive Mode(|||6446|)",
	  NULL, 65535, 0, 0,
	  "229 Entering Extended Passive    (|||65535|)", true },
	{ FTP_REWRITE_229, "229 Entering Extended Passive Mode (|||40000|)",
	  NULL, 6446, 0, 0,
	  "229 Entering Extended Passive Mode  (|||6446|)", true },
	{ FTP_REWRITE_229, "229 EPSV (!!!40000!).", "2001:db8::1", 40001, 0, 0,
	  "229 EPSV (!!!40001!).", true },
	{ FTP_REWRITE_229, "229 (|||6446|)", NULL, 40000, 0, 0,
	  "229 (|||40000|)", false },
	{ FTP_REWRITE_229, "229 Entering Extended Passive Mode (|1|10.0.0.2|6446|)",
	  NULL, 40000, 0, -EINVAL, NULL, false },
	{ FTP_REWRITE_229, "227 Entering Passive Mode (10,0,0,2,156,64)",
	  NULL, 40000, 0, -EINVAL, NULL, false },

	/* PORT, masquerade: the same length by luck */
	{ FTP_REWRITE_PORT, "PORT 192,168,1,10,156,64", "198.51.100.1", 40000,
	  0, 0, "PORT 198,51,100,1,156,64", true },
	/* grows: resized */
	{ FTP_REWRITE_PORT, "PORT 10,0,0,2,156,64", "198.51.100.1", 40000, 0, 0,
	  "PORT 198,51,100,1,156,64", false },
	/* shrinks by 2 and by 3: leading zeros on p1, then p2 */
	{ FTP_REWRITE_PORT, "PORT 192,168,100,10,4,1", "198.51.100.1", 1025, 0,
	  0, "PORT 198,51,100,1,004,1", true },
	{ FTP_REWRITE_PORT, "PORT 192,168,100,100,4,1", "198.51.100.1", 1025, 0,
	  0, "PORT 198,51,100,1,004,01", true },
	/* shrinks by more than the port bytes can absorb: resized */
	{ FTP_REWRITE_PORT, "PORT 192,168,100,100,156,64", "198.51.100.1", 40000,
	  0, 0, "PORT 198,51,100,1,156,64", false },
	/* the verb's case is the client's */
	{ FTP_REWRITE_PORT, "port 10,0,0,2,4,1", "10.0.0.3", 1025, 0, 0,
	  "port 10,0,0,3,4,1", true },
	{ FTP_REWRITE_PORT, "PORT 10,0,0,2,4,1 ", "198.51.100.1", 1025, 0,
	  -EINVAL, NULL, false },
	{ FTP_REWRITE_PORT, "PORT", "198.51.100.1", 1025, 0, -EINVAL, NULL,
	  false },
	{ FTP_REWRITE_PORT, "EPRT |1|10.0.0.2|1025|", "198.51.100.1", 1025, 0,
	  -EINVAL, NULL, false },
	{ FTP_REWRITE_PORT, "PORT 10,0,0,2,4,1", "2001:db8::1", 1025, 0,
	  -EAFNOSUPPORT, NULL, false },

	/* EPRT: the delimiter is kept, zeros go to the port */
	{ FTP_REWRITE_EPRT, "EPRT |1|198.51.100.2|40000|", "198.51.100.1", 1025,
	  0, 0, "EPRT |1|198.51.100.1|01025|", true },
	{ FTP_REWRITE_EPRT, "EPRT !1!10.0.0.2!40000!", "198.51.100.1", 40000, 0,
	  0, "EPRT !1!198.51.100.1!40000!", false },
	{ FTP_REWRITE_EPRT, "EPRT |2|fd00::2|40000|", "2001:db8::1", 40000, 0, 0,
	  "EPRT |2|2001:db8::1|40000|", false },
	{ FTP_REWRITE_EPRT, "EPRT |2|fd00::1:222|40000|", "2001:db8::1", 1025,
	  0, 0, "EPRT |2|2001:db8::1|01025|", true },
	/* IPv6: the address is never padded (pyftpdlib compares it as text
	 * with its peer): what the port cannot absorb is a resize */
	{ FTP_REWRITE_EPRT, "EPRT |2|2001:db8:1::2222|40000|", "2001:db8:2::1",
	  40000, 0, 0, "EPRT |2|2001:db8:2::1|40000|", false },
	{ FTP_REWRITE_EPRT, "EPRT |2|2001:db8:1::2|40000|", "2001:db8:2::1",
	  1025, 0, 0, "EPRT |2|2001:db8:2::1|01025|", true },
	{ FTP_REWRITE_EPRT,
	  "EPRT |2|0000:0000:0000:0000:0000:ffff:192.168.100.200|40000|",
	  "2001:db8::1", 40000, 0, 0, "EPRT |2|2001:db8::1|40000|", false },
	{ FTP_REWRITE_EPRT,
	  "EPRT |2|fd00:0001:0002:0003:0004:0005:0006:0007:|40000|",
	  "2001:db8::1", 40000, 0, -EINVAL, NULL, false },
	{ FTP_REWRITE_EPRT, "EPRT |2|2001:db8:1::2|40000|", "2001:db8:2::100",
	  40000, 0, 0, "EPRT |2|2001:db8:2::100|40000|", false },
	{ FTP_REWRITE_EPRT, "EPRT |1|10.0.0.2|40000|", "2001:db8::1", 40000, 0,
	  -EAFNOSUPPORT, NULL, false },
	{ FTP_REWRITE_EPRT, "EPRT |1|10.0.0.2|40000", "198.51.100.1", 40000, 0,
	  -EINVAL, NULL, false },
	{ FTP_REWRITE_EPRT, "EPRT |3|10.0.0.2|40000|", "198.51.100.1", 40000, 0,
	  -EINVAL, NULL, false },
};

/* What the new line names, by the same parsers the session uses. */
static int parse_back(enum ftp_rewrite_kind kind, const char *line, size_t len,
		      struct inet_addr *a, uint16_t *port)
{
	struct ftp_reply_line r;
	struct ftp_command c;

	memset(a, 0, sizeof(*a));
	if (kind == FTP_REWRITE_227 || kind == FTP_REWRITE_229) {
		if (ftp_reply_line_parse(line, len, &r, NULL) < 0 ||
		    r.code != (kind == FTP_REWRITE_227 ? 227 : 229))
			return -1;
		return kind == FTP_REWRITE_227
		       ? pasv_reply_parse(r.text, r.text_len, a, port, NULL)
		       : epsv_reply_parse(r.text, r.text_len, port, NULL);
	}
	if (ftp_command_parse(line, len, &c, NULL) < 0)
		return -1;
	return kind == FTP_REWRITE_PORT
	       ? port_argument_parse(c.argument, c.argument_len, a, port, NULL)
	       : eprt_argument_parse(c.argument, c.argument_len, a, port, NULL);
}

static void check_parses_back(const struct rewrite_case *t, const char *out,
			      size_t len, const struct inet_addr *want)
{
	struct inet_addr a;
	uint16_t port = 0;

	CHECK_INT(parse_back(t->kind, out, len, &a, &port), 0);
	CHECK_INT(port, t->port);
	if (t->kind != FTP_REWRITE_229)
		CHECK(inet_addr_equal(&a, want));
}

static void run_case(const struct rewrite_case *t)
{
	size_t max = t->max ? t->max : BOUND, in_len = strlen(t->line);
	char *in = malloc(in_len ? in_len : 1), *out = malloc(max);
	struct inet_addr addr = { .family = 0 };
	struct ftp_rewrite res = { .len = 99, .reason = "unset" };
	int rc;

	if (in == NULL || out == NULL)
		abort();
	memcpy(in, t->line, in_len);	/* exact size: ASan sees overreads */
	if (t->addr != NULL && inet_addr_parse(t->addr, &addr) < 0)
		abort();
	rc = ftp_rewrite_line(t->kind, in, in_len, t->addr ? &addr : NULL,
			      t->port, out, max, &res);
	CHECK_INT(rc, t->rc);
	if (rc != t->rc || (rc == 0 && (res.len != strlen(t->want) ||
					memcmp(out, t->want, res.len) != 0)))
		fprintf(stderr, "  line \"%s\": got %d \"%.*s\" (%s)\n", t->line,
			rc, rc == 0 ? (int)res.len : 0, out,
			res.reason ? res.reason : "-");
	if (rc == 0) {
		CHECK(res.reason == NULL);
		CHECK_INT(res.len, strlen(t->want));
		CHECK(res.len <= max && memcmp(out, t->want, res.len) == 0);
		CHECK_INT(res.same_length, t->same);
		CHECK_INT(res.same_length, res.len == in_len);
		check_parses_back(t, out, res.len, &addr);
	} else {
		CHECK(res.reason != NULL && res.reason[0] != '\0');
		CHECK_INT(res.len, 0);
		CHECK(!res.same_length);
	}
	free(in);
	free(out);
}

/* Every PASV-reply shape the session accepts, every public address class
 * and a spread of ports: the rewrite parses back, stays within the bound,
 * and keeps the length whenever the server's text has room. */
static void sweep_227(void)
{
	static const char *const lines[] = {
		"227 Entering Passive Mode (10,0,0,2,156,64).",
		"227 Entering Passive Mode (192,168,100,200,255,255)",
		"227 =10,0,0,2,4,0",
		"227 (1,2,3,4,0,1)",
	};
	static const char *const addrs[] = { "1.2.3.4", "203.0.113.1",
					     "255.255.255.255", "0.0.0.0" };
	static const uint16_t ports[] = { 1, 255, 256, 1024, 40000, 65535 };
	size_t i, j, k;

	for (i = 0; i < 4; i++)
		for (j = 0; j < 4; j++)
			for (k = 0; k < 6; k++) {
				struct rewrite_case t = {
					FTP_REWRITE_227, lines[i], addrs[j],
					ports[k], 0, 0, NULL, false };
				struct inet_addr a;
				struct ftp_rewrite res;
				char out[BOUND];

				inet_addr_parse(t.addr, &a);
				CHECK_INT(ftp_rewrite_line(t.kind, t.line,
					strlen(t.line), &a, t.port, out,
					sizeof(out), &res), 0);
				CHECK_INT(res.same_length, res.len == strlen(t.line));
				check_parses_back(&t, out, res.len, &a);
			}
}

/* EPRT over IPv6: new addresses and ports against old address texts of
 * many lengths. Every rewrite parses back to the new endpoint and says
 * truly whether it kept the length; both outcomes occur. */
static void sweep_eprt6(void)
{
	unsigned same = 0, resized = 0;
	static const char *const addrs[] = {
		"2001:db8::1", "::", "::1", "2001:db8:2::100",
		"1:2:3:4:5:6:7:8", "fd00::", "2001:db8:0:0:1::1",
	};
	size_t i, pad;

	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++)
		for (pad = 0; pad <= 39; pad++) {
			struct rewrite_case t = { FTP_REWRITE_EPRT, NULL, addrs[i],
						  (uint16_t)(pad % 2 ? 40000 : 1025),
						  0, 0, NULL, false };
			char line[128], out[BOUND];
			struct ftp_rewrite res;
			struct inet_addr a;
			int n;

			/* an old address of 2..41 characters: "f:" padded
			 * with zeros ("f:0...0:" forms are all valid) */
			n = snprintf(line, sizeof(line), "EPRT |2|%.*s::1|40000|",
				     (int)pad, "f000:0000:0000:0000:0000:0000:0000");
			inet_addr_parse(t.addr, &a);
			t.line = line;
			if (ftp_rewrite_line(t.kind, line, (size_t)n, &a, t.port,
					     out, sizeof(out), &res) != 0)
				continue;	/* the old text itself did not parse */
			CHECK_INT(res.same_length, res.len == (size_t)n);
			check_parses_back(&t, out, res.len, &a);
			res.same_length ? same++ : resized++;
		}
	CHECK(same > 0 && resized > 5);
}

static void misuse(void)
{
	struct ftp_rewrite res;
	struct inet_addr a;
	char out[64];

	inet_addr_parse("203.0.113.1", &a);
	CHECK_INT(ftp_rewrite_line(FTP_REWRITE_227, "227 (1,2,3,4,5,6)", 17,
				   &a, 80, out, sizeof(out), NULL), -EINVAL);
	CHECK_INT(ftp_rewrite_line((enum ftp_rewrite_kind)7, "227 (1,2,3,4,5,6)",
				   17, &a, 80, out, sizeof(out), &res), -EINVAL);
	CHECK_INT(ftp_rewrite_line(FTP_REWRITE_227, NULL, 0, &a, 80, out,
				   sizeof(out), &res), -EINVAL);
	CHECK_STR(res.reason, "no line");
	CHECK_INT(ftp_rewrite_line(FTP_REWRITE_227, "", 0, &a, 80, out,
				   sizeof(out), &res), -EINVAL);
	CHECK_STR(ftp_rewrite_kind_name(FTP_REWRITE_227), "227");
	CHECK_STR(ftp_rewrite_kind_name(FTP_REWRITE_EPRT), "EPRT");
	CHECK_STR(ftp_rewrite_kind_name((enum ftp_rewrite_kind)9), "?");
}

static struct inet_addr v4(const char *text)
{
	struct inet_addr a;

	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	if (inet_pton(AF_INET, text, &a.v4) != 1)
		abort();
	return a;
}

/* ftp_rewrite_find_reply for a 227 naming named:port, rewritten to
 * 198.51.100.1, same port */
static int find227(const char *seg, size_t len, bool line_start,
		   const struct inet_addr *named, uint16_t port, char *out,
		   struct ftp_rewrite_span *span, struct ftp_rewrite *res)
{
	struct inet_addr p = v4("198.51.100.1");

	return ftp_rewrite_find_reply(FTP_REWRITE_227, (const uint8_t *)seg, len,
				      line_start, named, port, &p, port, out,
				      BOUND, span, res);
}

/* ftp_rewrite_find_reply: the 227 naming the endpoint, among other lines of
 * one segment; only complete lines; a first line only when a line starts
 * there. */
static void find_227(void)
{
	struct inet_addr s = v4("203.0.113.2"), p = v4("198.51.100.1");
	const char *seg = "150-x\r\n227 Entering Passive Mode (203,0,113,2,195,80).\r\n";
	const char *decoy = "227 Entering Passive Mode (203,0,113,2,195,80).\r\n227 Entering Passive Mode (203,0,113,2,195,80).\r\n";
	struct ftp_rewrite_span span;
	struct ftp_rewrite res;
	char out[BOUND];

	CHECK_INT(find227(seg, strlen(seg), true, &s, 50000, out, &span, &res), 0);
	CHECK_INT(span.offset, 7);
	CHECK_INT(span.old_len, strlen(seg) - 9);
	CHECK(res.same_length && res.len == span.old_len);
	CHECK(memcmp(out, "227 Entering Passive Mode(198,51,100,1,195,80).", res.len) == 0);
	/* another port, another address: not this line */
	CHECK_INT(find227(seg, strlen(seg), true, &s, 50001, out, &span, &res), -ENOENT);
	CHECK_INT(find227(seg, strlen(seg), true, &p, 50000, out, &span, &res), -ENOENT);
	/* without its line end: not complete */
	CHECK_INT(find227(seg, strlen(seg) - 1, true, &s, 50000, out, &span, &res), -ENOENT);
	/* the payload starts inside a line: its first "line" is skipped */
	CHECK_INT(find227(decoy, strlen(decoy), false, &s, 50000, out, &span, &res), 0);
	CHECK_INT(span.offset, strlen(decoy) / 2);
	CHECK_INT(find227(decoy, strlen(decoy) / 2, false, &s, 50000, out, &span, &res), -ENOENT);
}

/* find the first complete PORT or EPRT naming an address, any port, as
 * the session parses commands */
static int find_cmd(const char *seg, size_t len, bool line_start,
		    const char *named, const char *to, char *out,
		    struct ftp_rewrite_span *span, struct ftp_rewrite_found *f,
		    struct ftp_rewrite *res)
{
	struct inet_addr n = v4(named), t = v4(to);

	return ftp_rewrite_find_command((const uint8_t *)seg, len, line_start,
					&n, &t, out, BOUND, span, f, res);
}

/* ftp_rewrite_find_command: a masqueraded client's PORT or EPRT naming
 * its own address, among pipelined commands; never another address's,
 * never an incomplete or malformed line. */
static void find_command(void)
{
	const char *seg = "TYPE I\r\nPORT 10,1,1,2,195,81\r\nLIST\r\n";
	const char *eprt = "EPRT |1|10.1.1.2|50001|\r\n";
	const char *lower = "port 10,1,1,2,195,81\r\n";
	struct ftp_rewrite_span span;
	struct ftp_rewrite_found f;
	struct ftp_rewrite res;
	char out[BOUND];

	CHECK_INT(find_cmd(seg, strlen(seg), true, "10.1.1.2", "203.0.113.1", out,
			   &span, &f, &res), 0);
	CHECK(f.kind == FTP_REWRITE_PORT && f.port == 50001);
	CHECK_INT(span.offset, 8);
	CHECK_INT(span.old_len, 20);
	CHECK(!res.same_length && res.len == 23 &&
	      memcmp(out, "PORT 203,0,113,1,195,81", 23) == 0);
	CHECK_INT(find_cmd(eprt, strlen(eprt), true, "10.1.1.2", "203.0.113.1", out,
			   &span, &f, &res), 0);
	CHECK(f.kind == FTP_REWRITE_EPRT && f.port == 50001 &&
	      memcmp(out, "EPRT |1|203.0.113.1|50001|", res.len) == 0);
	/* the verb in any case, as the session reads it */
	CHECK_INT(find_cmd(lower, strlen(lower), true, "10.1.1.2", "203.0.113.1", out,
			   &span, &f, &res), 0);
	CHECK(res.len == 23 && memcmp(out, "port 203,0,113,1,195,81", 23) == 0);
	/* another address; the line incomplete; starting mid-line */
	CHECK_INT(find_cmd(seg, strlen(seg), true, "10.1.1.3", "203.0.113.1", out,
			   &span, &f, &res), -ENOENT);
	CHECK_INT(find_cmd(seg, 27, true, "10.1.1.2", "203.0.113.1", out,
			   &span, &f, &res), -ENOENT);
	CHECK_INT(find_cmd(seg + 8, strlen(seg) - 8, false, "10.1.1.2",
			   "203.0.113.1", out, &span, &f, &res), -ENOENT);
	/* a malformed PORT (port byte over 255) is not rewritten */
	CHECK_INT(find_cmd("PORT 10,1,1,2,256,1\r\n", 21, true, "10.1.1.2",
			   "203.0.113.1", out, &span, &f, &res), -ENOENT);
}

/* ftp_rewrite_find_reply with a new port (a clash, doc/nat.md 2.4): a 227
 * and a 229 naming the old port are rewritten to the new one; a 229
 * naming another port is not found. */
static void find_moved(void)
{
	struct inet_addr s = v4("203.0.113.2"), p = v4("198.51.100.1");
	const char *pasv = "227 Entering Passive Mode (203,0,113,2,156,64).\r\n";
	const char *epsv = "150 x\r\n229 Entering Extended Passive Mode (|||40000|)\r\n";
	struct ftp_rewrite_span span;
	struct ftp_rewrite res;
	char out[BOUND];

	CHECK_INT(ftp_rewrite_find_reply(FTP_REWRITE_227, (const uint8_t *)pasv,
					 strlen(pasv), true, &s, 40000, &p, 40001,
					 out, sizeof(out), &span, &res), 0);
	CHECK(res.same_length &&
	      memcmp(out, "227 Entering Passive Mode(198,51,100,1,156,65).", res.len) == 0);
	CHECK_INT(ftp_rewrite_find_reply(FTP_REWRITE_229, (const uint8_t *)epsv,
					 strlen(epsv), true, NULL, 40000, NULL, 40001,
					 out, sizeof(out), &span, &res), 0);
	CHECK_INT(span.offset, 7);
	CHECK(res.same_length &&
	      memcmp(out, "229 Entering Extended Passive Mode (|||40001|)", res.len) == 0);
	CHECK_INT(ftp_rewrite_find_reply(FTP_REWRITE_229, (const uint8_t *)epsv,
					 strlen(epsv), true, NULL, 40002, NULL, 40001,
					 out, sizeof(out), &span, &res), -ENOENT);
	CHECK_INT(ftp_rewrite_find_reply(FTP_REWRITE_PORT, (const uint8_t *)epsv,
					 strlen(epsv), true, NULL, 40000, NULL, 40001,
					 out, sizeof(out), &span, &res), -EINVAL);
}

int main(void)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
	sweep_227();
	sweep_eprt6();
	misuse();
	find_227();
	find_moved();
	find_command();
	return check_report("ftp_rewrite");
}
