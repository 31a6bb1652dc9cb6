/* Unit tests for ftp_parse: every accepted shape asserts the values it
 * yields, every refused shape asserts -EINVAL and that outputs are left
 * alone. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ftp_parse.h"

/* Parse from an exact-size heap copy so that a read past len is caught by
 * ASan builds instead of landing on a terminator. */
static char *dup_exact(const char *s, size_t len)
{
	char *p = malloc(len ? len : 1);

	if (p == NULL)
		abort();
	memcpy(p, s, len);
	return p;
}

/* ---- commands ---------------------------------------------------------- */

static int cmd_n(const char *s, size_t len, struct ftp_command *c,
		 const char **why)
{
	char *p = dup_exact(s, len);
	int r;

	memset(c, 0xa5, sizeof(*c));
	r = ftp_command_parse(p, len, c, why);
	/* argument must point inside the copy; rebase onto s for callers */
	if (r == 0 && c->argument != NULL) {
		CHECK(c->argument >= p && c->argument + c->argument_len <= p + len);
		c->argument = s + (c->argument - p);
	}
	free(p);
	return r;
}

static int cmd(const char *s, struct ftp_command *c, const char **why)
{
	return cmd_n(s, strlen(s), c, why);
}

static void expect_verb(const char *line, enum ftp_command_verb verb,
			const char *arg, int proto)
{
	struct ftp_command c;
	const char *why = "unset";
	int r = cmd(line, &c, &why);

	CHECK_INT(r, 0);
	if (r != 0) {
		fprintf(stderr, "  line \"%s\": %s\n", line, why ? why : "?");
		return;
	}
	CHECK(why == NULL);
	CHECK_INT(c.verb, verb);
	CHECK_INT(c.epsv_protocol, proto);
	if (arg == NULL) {
		CHECK(c.argument == NULL);
		CHECK_INT(c.argument_len, 0);
	} else {
		CHECK(c.argument != NULL);
		CHECK_INT(c.argument_len, strlen(arg));
		if (c.argument != NULL && c.argument_len == strlen(arg))
			CHECK(memcmp(c.argument, arg, c.argument_len) == 0);
	}
}

static void expect_bad_cmd_n(const char *line, size_t len, const char *reason)
{
	struct ftp_command c;
	const char *why = NULL;

	CHECK_INT(cmd_n(line, len, &c, &why), -EINVAL);
	CHECK_STR(why, reason);
}

static void expect_bad_cmd(const char *line, const char *reason)
{
	expect_bad_cmd_n(line, strlen(line), reason);
}

static void test_commands(void)
{
	struct ftp_command c;

	expect_verb("PASV", FTP_COMMAND_PASV, NULL, 0);
	expect_verb("pasv", FTP_COMMAND_PASV, NULL, 0);
	expect_verb("PaSv", FTP_COMMAND_PASV, NULL, 0);
	expect_verb("PASV ", FTP_COMMAND_PASV, "", 0);
	expect_verb("EPSV", FTP_COMMAND_EPSV, NULL, 0);
	expect_verb("epsv 1", FTP_COMMAND_EPSV, "1", 1);
	expect_verb("EPSV 2", FTP_COMMAND_EPSV, "2", 2);
	expect_verb("EPSV ALL", FTP_COMMAND_EPSV_ALL, "ALL", 0);
	expect_verb("epsv all", FTP_COMMAND_EPSV_ALL, "all", 0);
	expect_verb("EPSV ", FTP_COMMAND_EPSV, "", 0);
	/* unknown EPSV arguments: a 229 to them is not ours to honour */
	expect_verb("EPSV 3", FTP_COMMAND_OTHER, "3", 0);
	expect_verb("EPSV 12", FTP_COMMAND_OTHER, "12", 0);
	expect_verb("EPSV  1", FTP_COMMAND_OTHER, " 1", 0);
	expect_verb("EPSV ALLX", FTP_COMMAND_OTHER, "ALLX", 0);
	expect_verb("EPSV 1 ", FTP_COMMAND_OTHER, "1 ", 0);
	expect_verb("PORT 10,0,0,1,4,1", FTP_COMMAND_PORT, "10,0,0,1,4,1", 0);
	expect_verb("EPRT |1|10.0.0.1|1025|", FTP_COMMAND_EPRT,
		    "|1|10.0.0.1|1025|", 0);
	expect_verb("AUTH TLS", FTP_COMMAND_AUTH, "TLS", 0);
	expect_verb("REIN", FTP_COMMAND_REIN, NULL, 0);
	expect_verb("ABOR", FTP_COMMAND_ABOR, NULL, 0);
	expect_verb("quit", FTP_COMMAND_QUIT, NULL, 0);
	expect_verb("USER anonymous", FTP_COMMAND_OTHER, "anonymous", 0);
	expect_verb("CWD /pub/dir with  spaces ", FTP_COMMAND_OTHER,
		    "/pub/dir with  spaces ", 0);
	expect_verb("RETR caf\xc3\xa9.txt", FTP_COMMAND_TRANSFER,
		    "caf\xc3\xa9.txt", 0);
	expect_verb("STOR x", FTP_COMMAND_TRANSFER, "x", 0);
	expect_verb("stou", FTP_COMMAND_TRANSFER, NULL, 0);
	expect_verb("APPE x", FTP_COMMAND_TRANSFER, "x", 0);
	expect_verb("LIST", FTP_COMMAND_TRANSFER, NULL, 0);
	expect_verb("nlst /pub", FTP_COMMAND_TRANSFER, "/pub", 0);
	expect_verb("MLSD", FTP_COMMAND_TRANSFER, NULL, 0);
	expect_verb("MLST x", FTP_COMMAND_OTHER, "x", 0);
	expect_verb("NOOP", FTP_COMMAND_OTHER, NULL, 0);
	expect_verb("PASV 1", FTP_COMMAND_PASV, "1", 0);
	/* Telnet IP and Synch in front of ABOR (RFC 959 4.1.3) */
	expect_verb("\xff\xf4\xff\xf2" "ABOR", FTP_COMMAND_ABOR, NULL, 0);
	expect_verb("\xff\xf4" "QUIT", FTP_COMMAND_QUIT, NULL, 0);

	expect_bad_cmd("", "empty command");
	expect_bad_cmd(" PASV", "space before command verb");
	expect_bad_cmd("  ", "space before command verb");
	expect_bad_cmd("PA", "command verb not 3-4 letters");
	expect_bad_cmd("PASVX", "command verb not 3-4 letters");
	expect_bad_cmd("PASSWORD x", "command verb not 3-4 letters");
	expect_bad_cmd("PAS1", "command verb not followed by space");
	expect_bad_cmd("PASV,", "command verb not followed by space");
	expect_bad_cmd("PASV\t1", "control byte in command");
	expect_bad_cmd("1234", "command verb not 3-4 letters");
	expect_bad_cmd("\xc3\xa9t\xc3\xa9", "command verb not 3-4 letters");
	expect_bad_cmd_n("PASV\0", 5, "control byte in command");
	expect_bad_cmd_n("PA\0SV", 5, "control byte in command");
	expect_bad_cmd_n("\0", 1, "control byte in command");
	expect_bad_cmd("PASV\r", "control byte in command");
	expect_bad_cmd("RETR a\nPASV", "control byte in command");
	expect_bad_cmd("RETR \x7f", "control byte in command");
	expect_bad_cmd("RETR \x1b[2J", "control byte in command");
	expect_bad_cmd("\xff\xf4", "empty command");
	expect_bad_cmd("\xff\xfb\x01PASV", "control byte in command");
	expect_bad_cmd("\xff\xfd" "PASV", "command verb not 3-4 letters");
	expect_bad_cmd("\xff", "command verb not 3-4 letters");

	/* len bounds the parse even when more follows in memory */
	CHECK_INT(ftp_command_parse("PASVX", 4, &c, NULL), 0);
	CHECK_INT(c.verb, FTP_COMMAND_PASV);
	CHECK_INT(ftp_command_parse("EPSV ALL", 6, &c, NULL), 0);
	CHECK_INT(c.verb, FTP_COMMAND_OTHER);
	CHECK_INT(c.argument_len, 1);
	CHECK_INT(ftp_command_parse(NULL, 0, &c, NULL), -EINVAL);
	CHECK_INT(ftp_command_parse(NULL, 4, &c, NULL), -EINVAL);
	CHECK_INT(ftp_command_parse("PASV", 4, NULL, NULL), -EINVAL);

	/* a huge argument is fine as long as it is clean */
	{
		size_t n = 100000;
		char *big = malloc(n);

		if (big == NULL)
			abort();
		memset(big, 'a', n);
		memcpy(big, "STOR ", 5);
		CHECK_INT(ftp_command_parse(big, n, &c, NULL), 0);
		CHECK_INT(c.argument_len, n - 5);
		big[n - 1] = '\0';
		CHECK_INT(ftp_command_parse(big, n, &c, NULL), -EINVAL);
		free(big);
	}
}

/* ---- reply lines ------------------------------------------------------- */

static void expect_reply(const char *line, int code, bool last,
			 const char *text)
{
	struct ftp_reply_line r;
	const char *why = "unset";
	size_t len = strlen(line);
	char *p = dup_exact(line, len);
	int rc = ftp_reply_line_parse(p, len, &r, &why);

	CHECK_INT(rc, 0);
	if (rc == 0) {
		CHECK(why == NULL);
		CHECK_INT(r.code, code);
		CHECK_INT(r.last, last);
		CHECK_INT(r.text_len, strlen(text));
		CHECK(r.text >= p && r.text + r.text_len <= p + len);
		if (r.text_len == strlen(text))
			CHECK(memcmp(r.text, text, r.text_len) == 0);
	} else {
		fprintf(stderr, "  line \"%s\": %s\n", line, why ? why : "?");
	}
	free(p);
}

static void expect_bad_reply_n(const char *line, size_t len, const char *reason)
{
	struct ftp_reply_line r = { .code = -7 };
	const char *why = NULL;
	char *p = dup_exact(line, len);

	CHECK_INT(ftp_reply_line_parse(p, len, &r, &why), -EINVAL);
	CHECK_STR(why, reason);
	CHECK_INT(r.code, -7);		/* untouched */
	free(p);
}

static void expect_bad_reply(const char *line, const char *reason)
{
	expect_bad_reply_n(line, strlen(line), reason);
}

static void test_reply_lines(void)
{
	struct ftp_reply_line r;

	expect_reply("227 Entering Passive Mode (10,0,0,1,4,1).", 227, true,
		     "Entering Passive Mode (10,0,0,1,4,1).");
	expect_reply("220-Welcome", 220, false, "Welcome");
	expect_reply("220 ", 220, true, "");
	expect_reply("220-", 220, false, "");
	expect_reply("200", 200, true, "");
	expect_reply("100 x", 100, true, "x");
	expect_reply("599 x", 599, true, "x");
	expect_reply("211 tab\there", 211, true, "tab\there");
	expect_reply("229 Entering Extended Passive Mode (|||6446|)", 229,
		     true, "Entering Extended Passive Mode (|||6446|)");
	expect_reply("550 caf\xc3\xa9", 550, true, "caf\xc3\xa9");

	expect_bad_reply("", "reply code not three digits");
	expect_bad_reply("2", "reply code not three digits");
	expect_bad_reply("22", "reply code not three digits");
	expect_bad_reply("22 ok", "reply code not three digits");
	expect_bad_reply("2x7 ok", "reply code not three digits");
	expect_bad_reply("abc ok", "reply code not three digits");
	expect_bad_reply(" 227 ok", "reply code not three digits");
	expect_bad_reply("+27 ok", "reply code not three digits");
	expect_bad_reply("000 ok", "reply code not in 100-599");
	expect_bad_reply("099 ok", "reply code not in 100-599");
	expect_bad_reply("600 ok", "reply code not in 100-599");
	expect_bad_reply("999 ok", "reply code not in 100-599");
	expect_bad_reply("227x", "reply code not followed by space or hyphen");
	expect_bad_reply("2270 ok", "reply code not followed by space or hyphen");
	expect_bad_reply("227\tok", "reply code not followed by space or hyphen");
	expect_bad_reply("227_ok", "reply code not followed by space or hyphen");
	expect_bad_reply("Entering Passive Mode", "reply code not three digits");
	expect_bad_reply_n("227 a\0b", 7, "control byte in reply");
	expect_bad_reply_n("22\0 ok", 6, "reply code not three digits");
	expect_bad_reply_n("227\0ok", 6, "reply code not followed by space or hyphen");
	expect_bad_reply("227 a\rb", "control byte in reply");
	expect_bad_reply("227 a\x7f", "control byte in reply");

	/* len bounds: "2271" cut to 3 is a bare code */
	CHECK_INT(ftp_reply_line_parse("2271", 3, &r, NULL), 0);
	CHECK_INT(r.code, 227);
	CHECK_INT(r.last, true);
	CHECK_INT(ftp_reply_line_parse(NULL, 0, &r, NULL), -EINVAL);
	CHECK_INT(ftp_reply_line_parse("227 x", 5, NULL, NULL), -EINVAL);
}

/* ---- 227 --------------------------------------------------------------- */

static void expect_pasv(const char *text, const char *addr, unsigned port)
{
	struct inet_addr a;
	uint16_t p = 0;
	const char *why = "unset";
	size_t len = strlen(text);
	char *copy = dup_exact(text, len);
	char buf[INET_ADDR_STRLEN];
	int r;

	memset(&a, 0, sizeof(a));
	r = pasv_reply_parse(copy, len, &a, &p, &why);
	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK(why == NULL);
		CHECK_INT(a.family, AF_INET);
		CHECK_STR(inet_addr_format(&a, buf, sizeof(buf)), addr);
		CHECK_INT(p, port);
	} else {
		fprintf(stderr, "  227 \"%s\": %s\n", text, why ? why : "?");
	}
	free(copy);
}

static void expect_bad_pasv_n(const char *text, size_t len, const char *reason)
{
	struct inet_addr a = { .family = 99 };
	uint16_t p = 4242;
	const char *why = NULL;
	char *copy = dup_exact(text, len);

	CHECK_INT(pasv_reply_parse(copy, len, &a, &p, &why), -EINVAL);
	if (reason != NULL)
		CHECK_STR(why, reason);
	else
		CHECK(why != NULL);
	CHECK_INT(a.family, 99);
	CHECK_INT(p, 4242);
	free(copy);
}

static void expect_bad_pasv(const char *text, const char *reason)
{
	expect_bad_pasv_n(text, strlen(text), reason);
}

#define R_NUM "227 number not 0-255"
#define R_SIX "227 address not six comma-separated numbers"
#define R_PAREN "unbalanced parenthesis in 227 reply"
#define R_TWO "more than one number group in 227 reply"

static void test_pasv(void)
{
	expect_pasv("Entering Passive Mode (192,168,1,2,195,80).",
		    "192.168.1.2", 195 * 256 + 80);
	expect_pasv("Entering Passive Mode (192,168,1,2,195,80)",
		    "192.168.1.2", 50000);
	expect_pasv("(10,0,0,1,4,1)", "10.0.0.1", 1025);
	/* RFC 1123 4.1.2.6: parentheses are optional */
	expect_pasv("Entering Passive Mode 10,0,0,1,4,1", "10.0.0.1", 1025);
	expect_pasv("Entering Passive Mode 10,0,0,1,4,1.", "10.0.0.1", 1025);
	expect_pasv("=10,0,0,1,4,1", "10.0.0.1", 1025);
	expect_pasv("10,0,0,1,4,1", "10.0.0.1", 1025);
	expect_pasv("(255,255,255,255,255,255)", "255.255.255.255", 65535);
	expect_pasv("(0,0,0,0,0,1)", "0.0.0.0", 1);
	expect_pasv("(010,000,000,001,004,001)", "10.0.0.1", 1025);
	expect_pasv("(10,0,0,1,0,21)", "10.0.0.1", 21);	/* policy's job */
	expect_pasv("Passive (10,0,0,1,4,1) ok", "10.0.0.1", 1025);

	expect_bad_pasv("", "no address in 227 reply");
	expect_bad_pasv("Entering Passive Mode", "no address in 227 reply");
	expect_bad_pasv("Entering Passive Mode ()", "no address in 227 reply");
	expect_bad_pasv("(10,0,0,1,4)", R_SIX);
	expect_bad_pasv("(10,0,0,1,4,1,7)", R_SIX);
	expect_bad_pasv("(10,0,0,1,4,1,)", R_SIX);
	expect_bad_pasv("(10,0,0,1)", R_SIX);
	expect_bad_pasv("(10)", R_SIX);
	expect_bad_pasv("(256,0,0,1,4,1)", R_NUM);
	expect_bad_pasv("(10,0,0,1,4,256)", R_NUM);
	expect_bad_pasv("(10,0,0,1,999,1)", R_NUM);
	expect_bad_pasv("(0010,0,0,1,4,1)", R_NUM);
	expect_bad_pasv("(99999999999,0,0,1,4,1)", R_NUM);
	expect_bad_pasv("(10,0,0,1,4,99999999999999999999999)", R_NUM);
	expect_bad_pasv("(-10,0,0,1,4,1)", "sign or separator before 227 address");
	expect_bad_pasv("(+10,0,0,1,4,1)", "sign or separator before 227 address");
	expect_bad_pasv("=-10,0,0,1,4,1", "sign or separator before 227 address");
	expect_bad_pasv("(,10,0,0,1,4,1)", "sign or separator before 227 address");
	expect_bad_pasv("(.10,0,0,1,4,1)", "sign or separator before 227 address");
	expect_bad_pasv("(10,-0,0,1,4,1)", R_NUM);
	expect_bad_pasv("(10,+0,0,1,4,1)", R_NUM);
	expect_bad_pasv("(10, 0,0,1,4,1)", R_NUM);
	expect_bad_pasv("(10 ,0,0,1,4,1)", R_SIX);
	expect_bad_pasv("(1 0,0,0,1,4,1)", R_SIX);
	expect_bad_pasv("(10,,0,1,4,1)", R_NUM);
	expect_bad_pasv("(10;0;0;1;4;1)", R_SIX);
	expect_bad_pasv("(10.0.0.1,4,1)", R_SIX);
	expect_bad_pasv("(10,0,0,1,4,1x)", R_PAREN);
	expect_bad_pasv("(10,0,0,1,4,0x1)", R_PAREN);
	expect_bad_pasv("(10,0,0,1,4,1", R_PAREN);
	expect_bad_pasv("10,0,0,1,4,1)", R_PAREN);
	expect_bad_pasv("(10,0,0,1,4,1 )", R_PAREN);
	expect_bad_pasv("( 10,0,0,1,4,1)", R_PAREN);
	expect_bad_pasv("(10,0,0,1,0,0)", "227 port is zero");
	expect_bad_pasv("(10,0,0,1,4,1) (10,0,0,2,4,1)", R_TWO);
	expect_bad_pasv("(10,0,0,1,4,1)(10,0,0,2,4,1)", R_TWO);
	expect_bad_pasv("(10,0,0,1,4,1) port 2", R_TWO);
	expect_bad_pasv("10,0,0,1,4,1.5", R_TWO);
	/* digits before the group become the group and then fail */
	expect_bad_pasv("Mode 2 (10,0,0,1,4,1)", R_SIX);
	expect_bad_pasv("(10,0,0,1,4,1,0,0)", R_SIX);
	expect_bad_pasv_n("(10,0,0,1,4,1)\0", 15, "control byte in 227 reply");
	expect_bad_pasv_n("(10,0\0,0,1,4,1)", 15, "control byte in 227 reply");
	expect_bad_pasv_n("\0(10,0,0,1,4,1)", 15, "control byte in 227 reply");
	expect_bad_pasv("(10,0,0,1,4,1)\r", "control byte in 227 reply");
	expect_bad_pasv("(\xd9\xa1,0,0,1,4,1)", NULL);	/* Arabic-Indic one */

	/* len cuts the group */
	{
		struct inet_addr a;
		uint16_t p;

		CHECK_INT(pasv_reply_parse("(10,0,0,1,4,1)", 13, &a, &p, NULL),
			  -EINVAL);
		CHECK_INT(pasv_reply_parse("(10,0,0,1,4,1)", 14, &a, &p, NULL), 0);
		CHECK_INT(pasv_reply_parse("10,0,0,1,4,12", 12, &a, &p, NULL), 0);
		CHECK_INT(p, 1025);
		CHECK_INT(pasv_reply_parse(NULL, 0, &a, &p, NULL), -EINVAL);
		CHECK_INT(pasv_reply_parse("(10,0,0,1,4,1)", 14, NULL, &p, NULL),
			  -EINVAL);
	}
	/* huge text: a valid group then a megabyte of letters, and a
	 * megabyte of digits */
	{
		size_t n = 1 << 20;
		char *big = malloc(n);
		struct inet_addr a;
		uint16_t p;

		if (big == NULL)
			abort();
		memset(big, 'x', n);
		memcpy(big, "(10,0,0,1,4,1)", 14);
		CHECK_INT(pasv_reply_parse(big, n, &a, &p, NULL), 0);
		big[n - 1] = '7';
		CHECK_INT(pasv_reply_parse(big, n, &a, &p, NULL), -EINVAL);
		memset(big, '9', n);
		CHECK_INT(pasv_reply_parse(big, n, &a, &p, NULL), -EINVAL);
		memset(big, ',', n);
		CHECK_INT(pasv_reply_parse(big, n, &a, &p, NULL), -EINVAL);
		free(big);
	}
}

/* ---- 229 --------------------------------------------------------------- */

static void expect_epsv(const char *text, unsigned port)
{
	uint16_t p = 0;
	const char *why = "unset";
	size_t len = strlen(text);
	char *copy = dup_exact(text, len);
	int r = epsv_reply_parse(copy, len, &p, &why);

	CHECK_INT(r, 0);
	if (r == 0) {
		CHECK(why == NULL);
		CHECK_INT(p, port);
	} else {
		fprintf(stderr, "  229 \"%s\": %s\n", text, why ? why : "?");
	}
	free(copy);
}

static void expect_bad_epsv_n(const char *text, size_t len, const char *reason)
{
	uint16_t p = 4242;
	const char *why = NULL;
	char *copy = dup_exact(text, len);

	CHECK_INT(epsv_reply_parse(copy, len, &p, &why), -EINVAL);
	CHECK_STR(why, reason);
	CHECK_INT(p, 4242);
	free(copy);
}

static void expect_bad_epsv(const char *text, const char *reason)
{
	expect_bad_epsv_n(text, strlen(text), reason);
}

#define E_PORT "229 port not 1-65535"
#define E_DELIM "bad 229 delimiter"
#define E_FIELDS "229 protocol or address field not empty"
#define E_MISMATCH "229 delimiter mismatch"

static void test_epsv(void)
{
	expect_epsv("Entering Extended Passive Mode (|||6446|)", 6446);
	expect_epsv("Entering Extended Passive Mode (|||6446|).", 6446);
	expect_epsv("(|||1|)", 1);
	expect_epsv("(|||65535|)", 65535);
	expect_epsv("(!!!6446!)", 6446);
	expect_epsv("(~~~6446~)", 6446);
	expect_epsv("(%%%6446%)", 6446);
	expect_epsv("(|||06446|)", 6446);
	expect_epsv("ok (|||6446|) ok", 6446);

	expect_bad_epsv("", "no parenthesis in 229 reply");
	expect_bad_epsv("Entering Extended Passive Mode |||6446|",
			"no parenthesis in 229 reply");
	expect_bad_epsv("(", "229 group truncated");
	expect_bad_epsv("(|||1|", "229 group truncated");
	expect_bad_epsv("(|||6446|", "229 group not closed");
	expect_bad_epsv("(|||6446|x)", "229 group not closed");
	expect_bad_epsv("(|||6446)", E_MISMATCH);
	expect_bad_epsv("(|||6446!)", E_MISMATCH);
	expect_bad_epsv("(!||6446|)", E_FIELDS);
	expect_bad_epsv("(||!6446|)", E_FIELDS);
	expect_bad_epsv("(|2|::1|6446|)", E_FIELDS);
	expect_bad_epsv("(|1|10.0.0.1|6446|)", E_FIELDS);
	expect_bad_epsv("(||10.0.0.1|6446|)", E_FIELDS);
	expect_bad_epsv("(   6446 )", E_DELIM);
	expect_bad_epsv("(1116446 1)", E_DELIM);
	expect_bad_epsv("(111644616)", E_DELIM);
	expect_bad_epsv("(\x7f\x7f\x7f" "6446\x7f)", "control byte in 229 reply");
	expect_bad_epsv("(\x80\x80\x80" "6446\x80)", E_DELIM);
	expect_bad_epsv("(|||0|)", "229 port is zero");
	expect_bad_epsv("(|||00000|)", "229 port is zero");
	expect_bad_epsv("(|||65536|)", E_PORT);
	expect_bad_epsv("(|||99999|)", E_PORT);
	expect_bad_epsv("(|||123456|)", E_PORT);
	expect_bad_epsv("(|||065535|)", E_PORT);
	expect_bad_epsv("(|||99999999999|)", E_PORT);
	expect_bad_epsv("(||||)", "229 group truncated");
	expect_bad_epsv("(|||||)", E_PORT);
	expect_bad_epsv("(|||-1|)", E_PORT);
	expect_bad_epsv("(|||+1|)", E_PORT);
	expect_bad_epsv("(||| 6446|)", E_PORT);
	expect_bad_epsv("(|||6446 |)", E_MISMATCH);
	expect_bad_epsv("(|||64 46|)", E_MISMATCH);
	expect_bad_epsv("(|||0x1A|)", "229 port is zero");
	expect_bad_epsv("(|||1x1A|)", E_MISMATCH);
	expect_bad_epsv("(|||6446|) (|||6447|)", "more than one group in 229 reply");
	expect_bad_epsv("(|||6446|)(", "more than one group in 229 reply");
	expect_bad_epsv("(foo) (|||6446|)", E_FIELDS);
	expect_bad_epsv_n("(|||64\0" "46|)", 11, "control byte in 229 reply");
	expect_bad_epsv_n("(|||6446|)\0", 11, "control byte in 229 reply");

	{
		uint16_t p;

		CHECK_INT(epsv_reply_parse("(|||6446|)", 9, &p, NULL), -EINVAL);
		CHECK_INT(epsv_reply_parse("(|||6446|)", 10, &p, NULL), 0);
		CHECK_INT(epsv_reply_parse(NULL, 0, &p, NULL), -EINVAL);
		CHECK_INT(epsv_reply_parse("(|||6446|)", 10, NULL, NULL), -EINVAL);
	}
	{
		size_t n = 1 << 20;
		char *big = malloc(n);
		uint16_t p;

		if (big == NULL)
			abort();
		memset(big, '(', n);
		CHECK_INT(epsv_reply_parse(big, n, &p, NULL), -EINVAL);
		memset(big, '|', n);
		memcpy(big, "(|||", 4);
		CHECK_INT(epsv_reply_parse(big, n, &p, NULL), -EINVAL);
		memset(big, 'x', n);
		memcpy(big + n - 10, "(|||6446|)", 10);
		CHECK_INT(epsv_reply_parse(big, n, &p, NULL), 0);
		CHECK_INT(p, 6446);
		free(big);
	}
}

/* ---- PORT and EPRT arguments ---------------------------------------------- */

static void expect_port(const char *arg, const char *addr, unsigned port)
{
	struct inet_addr a;
	uint16_t p = 0;
	const char *why = "unset";
	char buf[INET_ADDR_STRLEN];
	char *d = dup_exact(arg, strlen(arg));

	CHECK_INT(port_argument_parse(d, strlen(arg), &a, &p, &why), 0);
	free(d);
	CHECK(why == NULL);
	CHECK_INT(a.family, AF_INET);
	CHECK_STR(inet_addr_format(&a, buf, sizeof(buf)), addr);
	CHECK_INT(p, port);
}

static void expect_bad_port_n(const char *arg, size_t len, const char *reason)
{
	struct inet_addr a;
	uint16_t p = 77;
	const char *why = NULL;
	char *d = dup_exact(arg, len);

	memset(&a, 0x5a, sizeof(a));
	CHECK_INT(port_argument_parse(d, len, &a, &p, &why), -EINVAL);
	free(d);
	CHECK_STR(why, reason);
	CHECK_INT(p, 77);
	CHECK_INT(a.family, 0x5a5a5a5a);
}

static void expect_bad_port(const char *arg, const char *reason)
{
	expect_bad_port_n(arg, strlen(arg), reason);
}

static void test_port(void)
{
	struct inet_addr a;
	uint16_t p;

	expect_port("10,0,0,1,4,1", "10.0.0.1", 1025);
	expect_port("198,51,100,2,156,64", "198.51.100.2", 40000);
	expect_port("255,255,255,255,255,255", "255.255.255.255", 65535);
	expect_port("010,0,0,1,0,1", "10.0.0.1", 1);	/* decimal, not octal */
	expect_port("0,0,0,0,0,21", "0.0.0.0", 21);	/* policy's business */
	expect_bad_port("", "PORT number not 0-255");
	expect_bad_port("10,0,0,1,4", "PORT argument not six comma-separated numbers");
	expect_bad_port("10,0,0,1,4,1,7", "text after the PORT address");
	expect_bad_port("10,0,0,1,4,1 ", "text after the PORT address");
	expect_bad_port("(10,0,0,1,4,1)", "PORT number not 0-255");
	expect_bad_port(" 10,0,0,1,4,1", "PORT number not 0-255");
	expect_bad_port("10,0,0,256,4,1", "PORT number not 0-255");
	expect_bad_port("10,0,0,1,4,0001", "PORT number not 0-255");
	expect_bad_port("10,0,0,1,,1", "PORT number not 0-255");
	expect_bad_port("10.0.0.1,4,1", "PORT argument not six comma-separated numbers");
	expect_bad_port("10,0,0,1,0,0", "PORT port is zero");
	expect_bad_port("+10,0,0,1,4,1", "PORT number not 0-255");
	expect_bad_port_n("10,0,0,1,4,1\0", 13, "text after the PORT address");
	/* len bounds it: the digits past len are not read */
	CHECK_INT(port_argument_parse("10,0,0,1,4,19", 12, &a, &p, NULL), 0);
	CHECK_INT(p, 1025);
	CHECK_INT(port_argument_parse(NULL, 0, &a, &p, NULL), -EINVAL);
	CHECK_INT(port_argument_parse("1,2,3,4,5,6", 11, NULL, &p, NULL), -EINVAL);
	CHECK_INT(port_argument_parse("1,2,3,4,5,6", 11, &a, NULL, NULL), -EINVAL);
}

static void expect_eprt(const char *arg, int family, const char *addr,
			unsigned port)
{
	struct inet_addr a;
	uint16_t p = 0;
	const char *why = "unset";
	char buf[INET_ADDR_STRLEN];
	char *d = dup_exact(arg, strlen(arg));

	CHECK_INT(eprt_argument_parse(d, strlen(arg), &a, &p, &why), 0);
	free(d);
	CHECK(why == NULL);
	CHECK_INT(a.family, family);
	CHECK_STR(inet_addr_format(&a, buf, sizeof(buf)), addr);
	CHECK_INT(p, port);
}

static void expect_bad_eprt_n(const char *arg, size_t len, const char *reason)
{
	struct inet_addr a;
	uint16_t p = 77;
	const char *why = NULL;
	char *d = dup_exact(arg, len);

	memset(&a, 0x5a, sizeof(a));
	CHECK_INT(eprt_argument_parse(d, len, &a, &p, &why), -EINVAL);
	free(d);
	CHECK_STR(why, reason);
	CHECK_INT(p, 77);
	CHECK_INT(a.family, 0x5a5a5a5a);
}

static void expect_bad_eprt(const char *arg, const char *reason)
{
	expect_bad_eprt_n(arg, strlen(arg), reason);
}

static void test_eprt(void)
{
	/* RFC 2428's own examples */
	expect_eprt("|1|132.235.1.2|6275|", AF_INET, "132.235.1.2", 6275);
	expect_eprt("|2|1080::8:800:200C:417A|5282|", AF_INET6,
		    "1080::8:800:200c:417a", 5282);
	expect_eprt("!2!2001:db8::1!65535!", AF_INET6, "2001:db8::1", 65535);
	expect_eprt("~1~10.0.0.1~1~", AF_INET, "10.0.0.1", 1);
	expect_eprt("|2|::ffff:10.0.0.1|1025|", AF_INET6, "::ffff:10.0.0.1", 1025);

	expect_bad_eprt("", "empty EPRT argument");
	expect_bad_eprt(" |1|10.0.0.1|1025|", "bad EPRT delimiter");
	expect_bad_eprt("1|1|10.0.0.1|1025|", "bad EPRT delimiter");
	expect_bad_eprt(".1.10.0.0.1.1025.", "bad EPRT delimiter");
	expect_bad_eprt(":2:::1:1025:", "bad EPRT delimiter");
	expect_bad_eprt("a1a10.0.0.1a1025a", "bad EPRT delimiter");
	expect_bad_eprt("\x7f" "1\x7f" "10.0.0.1\x7f" "1025\x7f", "bad EPRT delimiter");
	expect_bad_eprt("|3|10.0.0.1|1025|", "EPRT protocol not 1 or 2");
	expect_bad_eprt("||10.0.0.1|1025|", "EPRT protocol not 1 or 2");
	expect_bad_eprt("|11|10.0.0.1|1025|", "EPRT protocol not 1 or 2");
	expect_bad_eprt("|1", "EPRT protocol not 1 or 2");
	expect_bad_eprt("|1||1025|", "EPRT address missing or too long");
	expect_bad_eprt("|1|10.0.0.1", "EPRT address missing or too long");
	expect_bad_eprt("|2|0000:0000:0000:0000:0000:0000:0000:0000:0000:0000|1025|",
			"EPRT address missing or too long");
	expect_bad_eprt("|1|10.0.0.1 |1025|", "bad character in EPRT address");
	expect_bad_eprt("|2|fe80::1%eth0|1025|", "bad character in EPRT address");
	expect_bad_eprt("|1|2001:db8::1|1025|", "EPRT address does not match its protocol");
	expect_bad_eprt("|2|10.0.0.1|1025|", "EPRT address does not match its protocol");
	expect_bad_eprt("|1|010.0.0.1|1025|", "EPRT address does not match its protocol");
	expect_bad_eprt("|1|10.0.0|1025|", "EPRT address does not match its protocol");
	expect_bad_eprt("|1|10.0.0.1|0|", "EPRT port not 1-65535");
	expect_bad_eprt("|1|10.0.0.1|65536|", "EPRT port not 1-65535");
	expect_bad_eprt("|1|10.0.0.1||", "EPRT port not 1-65535");
	expect_bad_eprt("|1|10.0.0.1|+25|", "EPRT port not 1-65535");
	expect_bad_eprt("|1|10.0.0.1|1025", "EPRT port not followed by the delimiter");
	expect_bad_eprt("|1|10.0.0.1|1025!", "EPRT port not followed by the delimiter");
	expect_bad_eprt("|1|10.0.0.1|10 25|", "EPRT port not followed by the delimiter");
	expect_bad_eprt("|1|10.0.0.1|1025||", "text after the EPRT argument");
	expect_bad_eprt("|1|10.0.0.1|1025| ", "text after the EPRT argument");
	expect_bad_eprt_n("|1|10.0\0.0.1|1025|", 18, "bad character in EPRT address");
	{
		struct inet_addr a;
		uint16_t p;

		CHECK_INT(eprt_argument_parse(NULL, 0, &a, &p, NULL), -EINVAL);
		CHECK_INT(eprt_argument_parse("|1|1.2.3.4|5|", 13, NULL, &p, NULL), -EINVAL);
		/* len bounds it */
		CHECK_INT(eprt_argument_parse("|1|1.2.3.4|5|6", 13, &a, &p, NULL), 0);
		CHECK_INT(p, 5);
	}
}

static void expect_embedded(const char *line, bool found, size_t at,
			    const char *verb)
{
	size_t off = 999;
	const char *v = NULL;
	char *d = dup_exact(line, strlen(line));

	CHECK_INT(ftp_embedded_data_verb(d, strlen(line), &off, &v), found);
	free(d);
	if (found) {
		CHECK_INT(off, at);
		CHECK_STR(v, verb);
	} else {
		CHECK_INT(off, 999);
	}
}

static void test_embedded(void)
{
	expect_embedded("PORT 10,0,0,1,4,1", false, 0, NULL);
	expect_embedded("EPSV ALL", false, 0, NULL);
	expect_embedded("PASV", false, 0, NULL);
	expect_embedded("\xff\xf4\xff\xf2PASV", false, 0, NULL);
	expect_embedded("RETR PORTS.txt", false, 0, NULL);
	expect_embedded("RETR xPORTx", false, 0, NULL);
	expect_embedded("POST PORT 10,0,0,1,4,1", true, 5, "PORT");
	expect_embedded("xxxxPORT 10,0,0,1,4,1", true, 4, "PORT");
	expect_embedded("GET /eprt HTTP/1.1", false, 0, NULL);
	expect_embedded("GET /eprt.html HTTP/1.1", false, 0, NULL);
	expect_embedded("NOOP eprt", false, 0, NULL);
	expect_embedded("NOOP pasv x", false, 0, NULL);
	expect_embedded("NOOP EPSV", false, 0, NULL);
	expect_embedded("PASV PASV", false, 0, NULL);
	/* ordinary words that end in "port" are not attacks */
	expect_embedded("USER support", false, 0, NULL);
	expect_embedded("CWD highport", false, 0, NULL);
	expect_embedded("RETR report 1,2", false, 0, NULL);
	expect_embedded("NOOP eprt |2|2001:db8::1|5282|", true, 5, "EPRT");
	expect_embedded("xPORT 192,0,2,1,4,1", true, 1, "PORT");
	expect_embedded("POST PORT 10,0,0,1,4,1 HTTP/1.1", true, 5, "PORT");
	expect_embedded("POST PORT 10,0,0,1,4 HTTP/1.1", false, 0, NULL);
	expect_embedded("\xff\xf4PORTPORT 10,0,0,1,4,1", true, 6, "PORT");
	CHECK(!ftp_embedded_data_verb("PAS", 3, NULL, NULL));
	CHECK(!ftp_embedded_data_verb(NULL, 10, NULL, NULL));
	CHECK(!ftp_embedded_data_verb("x PORT", 6, NULL, NULL));
	/* len bounds it */
	CHECK(!ftp_embedded_data_verb("x PORT", 5, NULL, NULL));
}

/* Bytes the embedded-verb scan examines for a line of len bytes made of
 * `unit` repeated (cut at len). */
static size_t embedded_steps(const char *unit, size_t len)
{
	char *line = malloc(len);
	size_t i, steps = 0, u = strlen(unit);

	if (line == NULL)
		abort();
	for (i = 0; i < len; i++)
		line[i] = unit[i % u];
	/* no unit holds an argument that parses: the whole line is scanned */
	CHECK(!ftp_embedded_data_verb_counted(line, len, NULL, NULL, &steps));
	free(line);
	return steps;
}

/* Finding 5 of issue 11: the scan measured the rest of the line at every
 * offset (quadratic: 2.3 ms per 4096-byte line). Whatever the line holds,
 * it now examines at most two bytes per byte of line, so a 4096-byte line
 * costs about 8 times a 512-byte one, not 64 times. */
static void test_embedded_linear(void)
{
	static const char *const units[] = {
		"x",				/* no blank at all */
		"PORT ",			/* a verb at every word */
		"pOrT ",
		"PORT 1,2,3,4,5,6,7,8,9,",	/* long arguments */
		"EPRT |1|1.2.3.4|0|",
		"EPRT PORT EPRT x",
		"PORTPORT 1,",
	};
	size_t i, s512, s4096;

	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		s512 = embedded_steps(units[i], 512);
		s4096 = embedded_steps(units[i], 4096);
		CHECK(s512 <= 2 * 512);
		CHECK(s4096 <= 2 * 4096);
		CHECK(s4096 <= 9 * s512);
		if (s4096 > 2 * 4096)
			fprintf(stderr, "unit \"%s\": %zu steps for 4096 bytes, %zu for 512\n",
				units[i], s4096, s512);
	}
}

static void test_reply_code(void)
{
	int code = 0;
	bool last = false;

	CHECK_INT(ftp_reply_code_parse("200 ok", 6, &code, &last), 0);
	CHECK_INT(code, 200);
	CHECK(last);
	CHECK_INT(ftp_reply_code_parse("227-x\0y", 7, &code, &last), 0);
	CHECK_INT(code, 227);
	CHECK(!last);
	CHECK_INT(ftp_reply_code_parse("550", 3, &code, &last), 0);
	CHECK_INT(code, 550);
	CHECK(last);
	CHECK_INT(ftp_reply_code_parse("600 x", 5, &code, &last), -EINVAL);
	CHECK_INT(ftp_reply_code_parse("099 x", 5, &code, &last), -EINVAL);
	CHECK_INT(ftp_reply_code_parse("20 x", 4, &code, &last), -EINVAL);
	CHECK_INT(ftp_reply_code_parse("200x", 4, &code, &last), -EINVAL);
	CHECK_INT(ftp_reply_code_parse("2000", 2, &code, &last), -EINVAL);
	CHECK_INT(ftp_reply_code_parse(NULL, 5, &code, &last), -EINVAL);
	CHECK_INT(ftp_reply_code_parse("200 ", 4, NULL, &last), -EINVAL);
}

/* The spans ftp_rewrite replaces: exactly the numbers, set only on
 * success. */
static void test_locate(void)
{
	struct ftp_span g = { 77, 77 };
	struct inet_addr a;
	uint16_t p;
	const char *t;

	t = "Entering Passive Mode (10,0,0,2,156,64).";
	CHECK_INT(pasv_reply_locate(t, strlen(t), &a, &p, &g, NULL), 0);
	CHECK_INT(g.offset, 23);
	CHECK_INT(g.len, 15);
	CHECK(memcmp(t + g.offset, "10,0,0,2,156,64", 15) == 0);
	t = "10,0,0,2,4,1";
	CHECK_INT(pasv_reply_locate(t, strlen(t), &a, &p, &g, NULL), 0);
	CHECK_INT(g.offset, 0);
	CHECK_INT(g.len, 12);
	g.offset = g.len = 77;
	t = "Entering Passive Mode (10,0,0,2,156).";
	CHECK_INT(pasv_reply_locate(t, strlen(t), &a, &p, &g, NULL), -EINVAL);
	CHECK_INT(g.offset, 77);
	CHECK_INT(g.len, 77);

	t = "Entering Extended Passive Mode (|||6446|)";
	CHECK_INT(epsv_reply_locate(t, strlen(t), &p, &g, NULL), 0);
	CHECK_INT(g.offset, 35);
	CHECK_INT(g.len, 4);
	CHECK(memcmp(t + g.offset, "6446", 4) == 0);
	g.offset = g.len = 77;
	t = "Entering Extended Passive Mode (|||6446!)";
	CHECK_INT(epsv_reply_locate(t, strlen(t), &p, &g, NULL), -EINVAL);
	CHECK_INT(g.offset, 77);
	CHECK_INT(g.len, 77);
}

int main(void)
{
	test_commands();
	test_reply_lines();
	test_pasv();
	test_epsv();
	test_port();
	test_eprt();
	test_embedded();
	test_embedded_linear();
	test_reply_code();
	test_locate();
	return check_report("ftp_parse");
}
