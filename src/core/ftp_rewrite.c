/* ftp_rewrite: 227/229/PORT/EPRT lines rewritten to another endpoint,
 * same length when the grammar leaves room (include/ftp_rewrite.h,
 * doc/nat.md). Every line is first parsed by ftp_parse; only the span the
 * parser located is replaced, so nothing this module does not understand
 * is ever written. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "ftp_parse.h"
#include "ftp_rewrite.h"

/* A line cut around what a rewrite replaces:
 *   line[0, head_start)            kept (reply code, command verb)
 *   line[head_start, head_end)     free text a reply may pad or shorten
 *   line[head_end, field_start)    kept ("(", "(|||")
 *   line[field_start, field_end)   the numbers, replaced
 *   line[field_end, len)           kept (")." and the like) */
struct rewrite_cut {
	size_t head_start, head_end;
	size_t field_start, field_end;
	bool free_head;
};

/* What the line must name instead. */
struct rewrite_target {
	const struct inet_addr *addr;
	uint16_t port;
	char eprt_delim;
};

struct rewrite_out {
	char *buf;
	size_t max, len;
	bool over;
};

static void rewrite_put(struct rewrite_out *o, const char *p, size_t n)
{
	if (o->over || n > o->max - o->len) {
		o->over = true;
		return;
	}
	memcpy(o->buf + o->len, p, n);
	o->len += n;
}

static void rewrite_spaces(struct rewrite_out *o, size_t n)
{
	while (n-- > 0 && !o->over)
		rewrite_put(o, " ", 1);
}

static int rewrite_fail(struct ftp_rewrite *res, int err, const char *why)
{
	res->len = 0;
	res->same_length = false;
	res->reason = why;
	return err;
}

static bool rewrite_is_letter(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static unsigned rewrite_digits(unsigned v)
{
	unsigned n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

/* ---- the number fields ------------------------------------------------- */

/* Each writes the new numbers into f (FTP_REWRITE_FIELD_MAX bytes) with
 * exactly `pad` more bytes than their shortest form, where the kind has a
 * way to (commands only), sets *len and returns true; false when it has
 * no form of that length. */

static bool rewrite_field_227(const struct rewrite_target *t, size_t pad,
			      char *f, size_t *len)
{
	const uint8_t *b = (const uint8_t *)&t->addr->v4;

	*len = (size_t)snprintf(f, FTP_REWRITE_FIELD_MAX, "%u,%u,%u,%u,%u,%u",
				b[0], b[1], b[2], b[3], t->port >> 8,
				t->port & 0xff);
	return pad == 0;
}

static bool rewrite_field_229(const struct rewrite_target *t, size_t pad,
			      char *f, size_t *len)
{
	*len = (size_t)snprintf(f, FTP_REWRITE_FIELD_MAX, "%u", t->port);
	return pad == 0;
}

/* PORT: leading zeros go to p1 first, then p2, at most 3 digits each. */
static bool rewrite_field_port(const struct rewrite_target *t, size_t pad,
			       char *f, size_t *len)
{
	const uint8_t *b = (const uint8_t *)&t->addr->v4;
	unsigned p1 = t->port >> 8, p2 = t->port & 0xff;
	size_t w1 = rewrite_digits(p1), w2 = rewrite_digits(p2);
	size_t z1 = pad < 3 - w1 ? pad : 3 - w1;

	if (pad - z1 > 3 - w2)
		return false;
	*len = (size_t)snprintf(f, FTP_REWRITE_FIELD_MAX,
				"%u,%u,%u,%u,%0*u,%0*u", b[0], b[1], b[2],
				b[3], (int)(w1 + z1), p1, (int)(w2 + pad - z1),
				p2);
	return true;
}

/* EPRT: the whole argument, its delimiter kept, leading zeros on the
 * port only (at most 5 digits). The address is always inet_ntop's form:
 * an IPv4 address with zeros is refused by inet_pton and read as octal by
 * inet_aton, and pyftpdlib compares an IPv6 one as text with the control
 * connection's peer ("0000::1" is a "foreign address" to it; measured,
 * doc/nat.md). */
static bool rewrite_field_eprt(const struct rewrite_target *t, size_t pad,
			       char *f, size_t *len)
{
	char text[INET6_ADDRSTRLEN];
	const struct inet_addr *a = t->addr;
	size_t w = rewrite_digits(t->port);
	char d = t->eprt_delim;

	if (pad > 5 - w)
		return false;
	inet_ntop(a->family, a->family == AF_INET ? (const void *)&a->v4
						  : (const void *)&a->v6,
		  text, sizeof(text));
	*len = (size_t)snprintf(f, FTP_REWRITE_FIELD_MAX, "%c%c%c%s%c%0*u%c",
				d, a->family == AF_INET ? '1' : '2', d, text,
				d, (int)(w + pad), t->port, d);
	return true;
}

typedef bool (*rewrite_field_fn)(const struct rewrite_target *t, size_t pad,
				 char *f, size_t *len);

/* ---- finding the field ------------------------------------------------- */

static int rewrite_reply_text(const char *line, size_t len, int code,
			      struct ftp_reply_line *r, struct ftp_rewrite *res)
{
	const char *why = NULL;

	if (ftp_reply_line_parse(line, len, r, &why) < 0)
		return rewrite_fail(res, -EINVAL, why);
	if (r->code != code)
		return rewrite_fail(res, -EINVAL, code == 227 ? "not a 227 reply"
							      : "not a 229 reply");
	return 0;
}

static int rewrite_cut_227(const char *line, size_t len,
			   struct rewrite_target *t, struct rewrite_cut *c,
			   struct ftp_rewrite *res)
{
	struct ftp_reply_line r;
	struct inet_addr old;
	struct ftp_span g;
	const char *why = NULL;
	uint16_t port;
	size_t text;
	int e;

	if ((e = rewrite_reply_text(line, len, 227, &r, res)) < 0)
		return e;
	if (pasv_reply_locate(r.text, r.text_len, &old, &port, &g, &why) < 0)
		return rewrite_fail(res, -EINVAL, why);
	if (t->addr->family != AF_INET)
		return rewrite_fail(res, -EAFNOSUPPORT, "a 227 names only an IPv4 address");
	text = (size_t)(r.text - line);
	c->head_start = text;
	c->head_end = text + g.offset -
		      (g.offset > 0 && r.text[g.offset - 1] == '(' ? 1 : 0);
	c->field_start = text + g.offset;
	c->field_end = c->field_start + g.len;
	c->free_head = true;
	return 0;
}

/* "(<d><d><d>port<d>)": the "(" is four bytes before the port's digits. */
static int rewrite_cut_229(const char *line, size_t len,
			   struct rewrite_target *t, struct rewrite_cut *c,
			   struct ftp_rewrite *res)
{
	struct ftp_reply_line r;
	struct ftp_span g;
	const char *why = NULL;
	uint16_t port;
	size_t text;
	int e;

	(void)t;
	if ((e = rewrite_reply_text(line, len, 229, &r, res)) < 0)
		return e;
	if (epsv_reply_locate(r.text, r.text_len, &port, &g, &why) < 0)
		return rewrite_fail(res, -EINVAL, why);
	text = (size_t)(r.text - line);
	c->head_start = text;
	c->head_end = text + g.offset - 4;
	c->field_start = text + g.offset;
	c->field_end = c->field_start + g.len;
	c->free_head = true;
	return 0;
}

static int rewrite_command_arg(const char *line, size_t len,
			       enum ftp_command_verb verb,
			       struct ftp_command *cmd, struct ftp_rewrite *res)
{
	const char *why = NULL;

	if (ftp_command_parse(line, len, cmd, &why) < 0)
		return rewrite_fail(res, -EINVAL, why);
	if (cmd->verb != verb || cmd->argument == NULL)
		return rewrite_fail(res, -EINVAL, verb == FTP_COMMAND_PORT
				    ? "not a PORT command" : "not an EPRT command");
	return 0;
}

static void rewrite_cut_argument(const char *line,
				 const struct ftp_command *cmd,
				 struct rewrite_cut *c)
{
	c->field_start = (size_t)(cmd->argument - line);
	c->field_end = c->field_start + cmd->argument_len;
	c->head_start = c->head_end = c->field_start;
	c->free_head = false;
}

static int rewrite_cut_port(const char *line, size_t len,
			    struct rewrite_target *t, struct rewrite_cut *c,
			    struct ftp_rewrite *res)
{
	struct ftp_command cmd;
	struct inet_addr old;
	const char *why = NULL;
	uint16_t port;
	int e;

	if ((e = rewrite_command_arg(line, len, FTP_COMMAND_PORT, &cmd, res)) < 0)
		return e;
	if (port_argument_parse(cmd.argument, cmd.argument_len, &old, &port,
				&why) < 0)
		return rewrite_fail(res, -EINVAL, why);
	if (t->addr->family != AF_INET)
		return rewrite_fail(res, -EAFNOSUPPORT, "PORT names only an IPv4 address");
	rewrite_cut_argument(line, &cmd, c);
	return 0;
}

static int rewrite_cut_eprt(const char *line, size_t len,
			    struct rewrite_target *t, struct rewrite_cut *c,
			    struct ftp_rewrite *res)
{
	struct ftp_command cmd;
	struct inet_addr old;
	const char *why = NULL;
	uint16_t port;
	int e;

	if ((e = rewrite_command_arg(line, len, FTP_COMMAND_EPRT, &cmd, res)) < 0)
		return e;
	if (eprt_argument_parse(cmd.argument, cmd.argument_len, &old, &port,
				&why) < 0)
		return rewrite_fail(res, -EINVAL, why);
	if (t->addr->family != old.family)
		return rewrite_fail(res, -EAFNOSUPPORT,
				    "EPRT would change address family (no NAT46)");
	t->eprt_delim = cmd.argument[0];
	rewrite_cut_argument(line, &cmd, c);
	return 0;
}

typedef int (*rewrite_cut_fn)(const char *line, size_t len,
			      struct rewrite_target *t, struct rewrite_cut *c,
			      struct ftp_rewrite *res);

static const struct {
	const char *name;
	rewrite_cut_fn cut;
	rewrite_field_fn field;
} rewrite_kinds[] = {
	[FTP_REWRITE_227] = { "227", rewrite_cut_227, rewrite_field_227 },
	[FTP_REWRITE_229] = { "229", rewrite_cut_229, rewrite_field_229 },
	[FTP_REWRITE_PORT] = { "PORT", rewrite_cut_port, rewrite_field_port },
	[FTP_REWRITE_EPRT] = { "EPRT", rewrite_cut_eprt, rewrite_field_eprt },
};

/* ---- putting the line together ----------------------------------------- */

/* Where the server's free text may be cut to at most `want` bytes: after
 * a space, or at the end of a word (a letter followed by a space), so the
 * text keeps whole words and never ends in a sign or separator that would
 * glue onto the numbers ("Mode," + "10,0,..."). */
static size_t rewrite_head_cut(const char *head, size_t want)
{
	size_t n = want;

	while (n > 0 && head[n - 1] != ' ' &&
	       !(head[n] == ' ' && rewrite_is_letter((unsigned char)head[n - 1])))
		n--;
	return n;
}

/* The free head at exactly `want` bytes: the server's own text, cut at a
 * word when it is too long, padded with spaces. */
static void rewrite_head(struct rewrite_out *o, const char *head, size_t have,
			 size_t want)
{
	size_t n = want >= have ? have : rewrite_head_cut(head, want);

	rewrite_put(o, head, n);
	rewrite_spaces(o, want - n);
}

/* The free head's new length when the field's new length leaves room for
 * it, keeping the line's length; false when it does not. */
static bool rewrite_head_fits(const struct rewrite_cut *c, size_t field_len,
			      size_t *head_len)
{
	size_t old_field = c->field_end - c->field_start;
	size_t head = c->head_end - c->head_start;

	if (!c->free_head || field_len > old_field + head)
		return false;
	*head_len = head + old_field - field_len;
	return true;
}

/* The field, same length when the grammar allows (a free head absorbs the
 * difference, or the field pads itself), else in its shortest form. */
static bool rewrite_field(enum ftp_rewrite_kind kind,
			  const struct rewrite_target *t,
			  const struct rewrite_cut *c, char *field,
			  size_t *field_len, size_t *head_len)
{
	size_t old_field = c->field_end - c->field_start;

	*head_len = c->head_end - c->head_start;
	rewrite_kinds[kind].field(t, 0, field, field_len);
	if (c->free_head)
		return rewrite_head_fits(c, *field_len, head_len);
	if (*field_len > old_field)
		return false;
	if (*field_len == old_field ||
	    rewrite_kinds[kind].field(t, old_field - *field_len, field, field_len))
		return true;
	rewrite_kinds[kind].field(t, 0, field, field_len);
	return false;
}

static int rewrite_assemble(enum ftp_rewrite_kind kind, const char *line,
			    size_t len, const struct rewrite_cut *c,
			    const struct rewrite_target *t,
			    struct rewrite_out *o, bool *same)
{
	char field[FTP_REWRITE_FIELD_MAX];
	size_t field_len, head_len;

	*same = rewrite_field(kind, t, c, field, &field_len, &head_len);
	rewrite_put(o, line, c->head_start);
	if (c->free_head)
		rewrite_head(o, line + c->head_start, c->head_end - c->head_start,
			     head_len);
	rewrite_put(o, line + c->head_end, c->field_start - c->head_end);
	rewrite_put(o, field, field_len);
	rewrite_put(o, line + c->field_end, len - c->field_end);
	return o->over ? -EMSGSIZE : 0;
}

int ftp_rewrite_line(enum ftp_rewrite_kind kind, const char *line, size_t len,
		     const struct inet_addr *addr, uint16_t port,
		     char *out, size_t max_len, struct ftp_rewrite *res)
{
	static const struct inet_addr none = { .family = 0 };
	struct rewrite_target t = { .addr = addr ? addr : &none, .port = port };
	struct rewrite_out o = { .buf = out, .max = max_len };
	struct rewrite_cut c;
	bool same;
	int e;

	if (res == NULL || (unsigned)kind > FTP_REWRITE_KIND_LAST)
		return -EINVAL;
	if (line == NULL || (out == NULL && max_len > 0))
		return rewrite_fail(res, -EINVAL, "no line");
	if (port == 0)
		return rewrite_fail(res, -EINVAL, "new port is zero");
	if (kind != FTP_REWRITE_229 && addr == NULL)
		return rewrite_fail(res, -EINVAL, "no new address");
	if ((e = rewrite_kinds[kind].cut(line, len, &t, &c, res)) < 0)
		return e;
	if (rewrite_assemble(kind, line, len, &c, &t, &o, &same) < 0)
		return rewrite_fail(res, -EMSGSIZE, "rewritten line longer than the bound");
	res->len = o.len;
	res->same_length = same;
	res->reason = NULL;
	return 0;
}

const char *ftp_rewrite_kind_name(enum ftp_rewrite_kind kind)
{
	if ((unsigned)kind > FTP_REWRITE_KIND_LAST)
		return "?";
	return rewrite_kinds[kind].name;
}

/* What a scan looks for: a line of `kind` naming `named` (and `port`,
 * unless any_port), and what it found there. */
struct rewrite_match {
	enum ftp_rewrite_kind kind;	/* in: 227; out: PORT or EPRT */
	const struct inet_addr *named;
	uint16_t port;			/* in: the port; out when any_port */
	bool any_port;
};

/* Whether line[0, len) (CR stripped) is a 227 naming named:port, or a
 * 229 naming port. */
static bool rewrite_names_reply(const char *line, size_t len,
				struct rewrite_match *m)
{
	bool pasv = m->kind == FTP_REWRITE_227;
	struct ftp_reply_line r;
	struct inet_addr a;
	const char *why;
	uint16_t p;

	if (len < 4 || memcmp(line, pasv ? "227 " : "229 ", 4) != 0 ||
	    ftp_reply_line_parse(line, len, &r, &why) < 0)
		return false;
	if (!pasv)
		return epsv_reply_parse(r.text, r.text_len, &p, &why) == 0 &&
		       p == m->port;
	return pasv_reply_parse(r.text, r.text_len, &a, &p, &why) == 0 &&
	       p == m->port && inet_addr_equal(&a, m->named);
}

/* Whether line[0, len) (CR stripped) is a PORT or EPRT naming `named`,
 * parsed as the session parses it; m->kind and m->port say which and
 * with what port. */
static bool rewrite_names_command(const char *line, size_t len,
				  struct rewrite_match *m)
{
	struct ftp_command c;
	struct inet_addr a;
	const char *why;
	int rc;

	if (ftp_command_parse(line, len, &c, &why) < 0 || c.argument == NULL)
		return false;
	if (c.verb == FTP_COMMAND_PORT) {
		m->kind = FTP_REWRITE_PORT;
		rc = port_argument_parse(c.argument, c.argument_len, &a, &m->port, &why);
	} else if (c.verb == FTP_COMMAND_EPRT) {
		m->kind = FTP_REWRITE_EPRT;
		rc = eprt_argument_parse(c.argument, c.argument_len, &a, &m->port, &why);
	} else {
		return false;
	}
	return rc == 0 && inet_addr_equal(&a, m->named);
}

static bool rewrite_names(const char *line, size_t len, struct rewrite_match *m)
{
	return m->any_port ? rewrite_names_command(line, len, m)
			   : rewrite_names_reply(line, len, m);
}

/* The first complete line in the payload that m names (see
 * ftp_rewrite_find_reply), its span set; -ENOENT when there is none. One
 * pass over the payload. */
static int rewrite_scan(const uint8_t *payload, size_t len, bool line_start,
			struct rewrite_match *m, struct ftp_rewrite_span *span)
{
	const char *text = (const char *)payload;
	const char *first = memchr(text, '\n', len);
	size_t start = 0;

	if (!line_start)
		start = first != NULL ? (size_t)(first - text) + 1 : len;
	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end, line_len;

		if (nl == NULL)
			break;
		end = (size_t)(nl - text);
		line_len = end - start;
		if (line_len > 0 && text[end - 1] == '\r')
			line_len--;
		if (rewrite_names(text + start, line_len, m)) {
			span->offset = start;
			span->old_len = line_len;
			return 0;
		}
		start = end + 1;
	}
	return -ENOENT;
}

int ftp_rewrite_find_reply(enum ftp_rewrite_kind kind, const uint8_t *payload,
			   size_t len, bool line_start,
			   const struct inet_addr *named, uint16_t port,
			   const struct inet_addr *to, uint16_t to_port,
			   char *out, size_t max_len,
			   struct ftp_rewrite_span *span, struct ftp_rewrite *res)
{
	struct rewrite_match m = { kind, named, port, false };

	if (kind != FTP_REWRITE_227 && kind != FTP_REWRITE_229)
		return rewrite_fail(res, -EINVAL, "not a reply kind");
	if (kind == FTP_REWRITE_227 && named == NULL)
		return rewrite_fail(res, -EINVAL, "no address named");
	res->reason = "no complete reply line naming that endpoint in the segment";
	if (rewrite_scan(payload, len, line_start, &m, span) < 0)
		return -ENOENT;
	return ftp_rewrite_line(kind, (const char *)payload + span->offset,
				span->old_len, to, to_port, out, max_len, res);
}

int ftp_rewrite_scan_command(const uint8_t *payload, size_t len,
			     bool line_start, const struct inet_addr *named,
			     struct ftp_rewrite_span *span,
			     struct ftp_rewrite_found *found)
{
	struct rewrite_match m = { FTP_REWRITE_PORT, named, 0, true };

	if (rewrite_scan(payload, len, line_start, &m, span) < 0)
		return -ENOENT;
	found->kind = m.kind;
	found->port = m.port;
	return 0;
}

int ftp_rewrite_find_command(const uint8_t *payload, size_t len,
			     bool line_start, const struct inet_addr *named,
			     const struct inet_addr *to, char *out,
			     size_t max_len, struct ftp_rewrite_span *span,
			     struct ftp_rewrite_found *found,
			     struct ftp_rewrite *res)
{
	res->reason = "no complete PORT or EPRT line naming that address in the segment";
	if (ftp_rewrite_scan_command(payload, len, line_start, named, span,
				     found) < 0)
		return -ENOENT;
	return ftp_rewrite_line(found->kind, (const char *)payload + span->offset,
				span->old_len, to, found->port, out, max_len, res);
}
