/* ftp_parse: strict FTP control-line parsing (RFC 959, RFC 2428, RFC 1123
 * 4.1.2.6).
 *
 * These lines come straight off the wire from either end of the control
 * connection, so nothing here trusts a terminator: every scan is bounded by
 * `len`, lines may contain NUL, and anything we are not sure about is
 * refused. A refused 227/229 costs a failed data connection; an accepted
 * forgery costs a hole in the firewall. */
#include <errno.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "ftp_parse.h"

#define FTP_IAC 0xff

static bool ftp_is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool ftp_is_alpha(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static unsigned char ftp_upper(unsigned char c)
{
	return (c >= 'a' && c <= 'z') ? (unsigned char)(c - 'a' + 'A') : c;
}

static void ftp_set_reason(const char **reason, const char *why)
{
	if (reason != NULL)
		*reason = why;
}

/* Case-insensitive compare of p[0..n) with an upper-case word. */
static bool ftp_word_is(const char *p, size_t n, const char *word)
{
	size_t i;

	if (strlen(word) != n)
		return false;
	for (i = 0; i < n; i++)
		if (ftp_upper((unsigned char)p[i]) != (unsigned char)word[i])
			return false;
	return true;
}

/* C0 controls and DEL. Tab is the one control byte a human-typed reply
 * text may legitimately carry; commands get no exception. */
static bool ftp_is_control(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

static bool ftp_text_has_control(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];

		if (ftp_is_control(c) && c != '\t')
			return true;
	}
	return false;
}

/* RFC 959 4.1.3: a client sends Telnet "Interrupt Process" and "Synch"
 * (IAC IP, IAC DM) in front of ABOR, STAT or QUIT. Those two-byte
 * sequences reach us inline at the start of the line; skip them so the
 * verb behind them is still seen. Only single-byte Telnet commands
 * (IAC 0xF0..0xF9) are skipped; option negotiation is not a command. */
static size_t ftp_skip_telnet(const char *line, size_t len)
{
	size_t i = 0;

	while (len - i >= 2 && (unsigned char)line[i] == FTP_IAC &&
	       (unsigned char)line[i + 1] >= 0xf0 &&
	       (unsigned char)line[i + 1] <= 0xf9)
		i += 2;
	return i;
}

static enum ftp_command_verb ftp_verb(const char *v, size_t n)
{
	static const struct {
		const char *name;
		enum ftp_command_verb verb;
	} verbs[] = {
		{ "PASV", FTP_COMMAND_PASV },
		{ "EPSV", FTP_COMMAND_EPSV },
		{ "PORT", FTP_COMMAND_PORT },
		{ "EPRT", FTP_COMMAND_EPRT },
		{ "AUTH", FTP_COMMAND_AUTH },
		{ "REIN", FTP_COMMAND_REIN },
		{ "ABOR", FTP_COMMAND_ABOR },
		{ "QUIT", FTP_COMMAND_QUIT },
		{ "RETR", FTP_COMMAND_TRANSFER },
		{ "STOR", FTP_COMMAND_TRANSFER },
		{ "STOU", FTP_COMMAND_TRANSFER },
		{ "APPE", FTP_COMMAND_TRANSFER },
		{ "LIST", FTP_COMMAND_TRANSFER },
		{ "NLST", FTP_COMMAND_TRANSFER },
		{ "MLSD", FTP_COMMAND_TRANSFER },
	};
	size_t i;

	for (i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
		if (ftp_word_is(v, n, verbs[i].name))
			return verbs[i].verb;
	return FTP_COMMAND_OTHER;
}

/* Grammar (RFC 959 5.3.1): verb SP argument, or verb alone. The verb is
 * 3-4 ASCII letters. Exactly one space separates it from the argument;
 * the argument is everything after that space, taken as is (it may be
 * empty, "PASV " is seen from real clients). */
int ftp_command_parse(const char *line, size_t len, struct ftp_command *out,
		      const char **reason)
{
	struct ftp_command cmd;
	size_t start, i, n;

	ftp_set_reason(reason, NULL);
	if (out == NULL || (line == NULL && len > 0)) {
		ftp_set_reason(reason, "no line");
		return -EINVAL;
	}
	if (len == 0) {
		ftp_set_reason(reason, "empty command");
		return -EINVAL;
	}
	start = ftp_skip_telnet(line, len);
	for (i = start; i < len; i++) {
		if (ftp_is_control((unsigned char)line[i])) {
			ftp_set_reason(reason, "control byte in command");
			return -EINVAL;
		}
	}
	if (start == len) {
		ftp_set_reason(reason, "empty command");
		return -EINVAL;
	}
	if (line[start] == ' ') {
		ftp_set_reason(reason, "space before command verb");
		return -EINVAL;
	}
	/* Count at most 5 letters: enough to tell a 4-letter verb from a
	 * longer word without walking a long line twice. */
	n = 0;
	while (n < 5 && start + n < len &&
	       ftp_is_alpha((unsigned char)line[start + n]))
		n++;
	if (n < 3 || n > 4) {
		ftp_set_reason(reason, "command verb not 3-4 letters");
		return -EINVAL;
	}
	if (start + n < len && line[start + n] != ' ') {
		ftp_set_reason(reason, "command verb not followed by space");
		return -EINVAL;
	}

	memset(&cmd, 0, sizeof(cmd));
	cmd.verb = ftp_verb(line + start, n);
	if (start + n < len) {
		cmd.argument = line + start + n + 1;
		cmd.argument_len = len - start - n - 1;
	}
	/* RFC 2428 3: EPSV takes a network protocol number or "ALL". Any
	 * other argument gets a 522/501 from a sane server; classifying the
	 * line as OTHER makes a 229 to it unsolicited, which is what a
	 * server answering nonsense deserves. */
	if (cmd.verb == FTP_COMMAND_EPSV && cmd.argument_len > 0) {
		if (ftp_word_is(cmd.argument, cmd.argument_len, "ALL"))
			cmd.verb = FTP_COMMAND_EPSV_ALL;
		else if (cmd.argument_len == 1 && cmd.argument[0] == '1')
			cmd.epsv_protocol = 1;
		else if (cmd.argument_len == 1 && cmd.argument[0] == '2')
			cmd.epsv_protocol = 2;
		else
			cmd.verb = FTP_COMMAND_OTHER;
	}
	*out = cmd;
	return 0;
}

/* RFC 959 4.2: "NNN SP text" ends a reply, "NNN-text" starts or continues
 * a multi-line one. A bare "NNN" with nothing after it is accepted as a
 * final line with empty text: it is unambiguous, some servers send it,
 * and refusing it would desynchronise reply matching. */
int ftp_reply_code_parse(const char *line, size_t len, int *code, bool *last)
{
	const unsigned char *p = (const unsigned char *)line;

	if (code == NULL || last == NULL || line == NULL || len < 3 ||
	    !ftp_is_digit(p[0]) || !ftp_is_digit(p[1]) || !ftp_is_digit(p[2]) ||
	    p[0] < '1' || p[0] > '5')
		return -EINVAL;
	if (len > 3 && p[3] != ' ' && p[3] != '-')
		return -EINVAL;
	*code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
	*last = len == 3 || p[3] == ' ';
	return 0;
}

int ftp_reply_line_parse(const char *line, size_t len,
			 struct ftp_reply_line *out, const char **reason)
{
	struct ftp_reply_line r;
	const unsigned char *p = (const unsigned char *)line;

	ftp_set_reason(reason, NULL);
	if (out == NULL || (line == NULL && len > 0)) {
		ftp_set_reason(reason, "no line");
		return -EINVAL;
	}
	if (len < 3 || !ftp_is_digit(p[0]) || !ftp_is_digit(p[1]) ||
	    !ftp_is_digit(p[2])) {
		ftp_set_reason(reason, "reply code not three digits");
		return -EINVAL;
	}
	if (p[0] < '1' || p[0] > '5') {
		ftp_set_reason(reason, "reply code not in 100-599");
		return -EINVAL;
	}
	memset(&r, 0, sizeof(r));
	if (ftp_reply_code_parse(line, len, &r.code, &r.last) < 0) {
		ftp_set_reason(reason, "reply code not followed by space or hyphen");
		return -EINVAL;
	}
	r.text = line + (len > 3 ? 4 : 3);
	r.text_len = len > 3 ? len - 4 : 0;
	if (ftp_text_has_control(r.text, r.text_len)) {
		ftp_set_reason(reason, "control byte in reply");
		return -EINVAL;
	}
	*out = r;
	return 0;
}

/* Reads 1..max_digits decimal digits at text[*i] into *value, refusing
 * values above `limit`. Leading zeros are decimal ("010" is 10). */
static bool ftp_number(const char *text, size_t len, size_t *i,
		       unsigned max_digits, unsigned long limit,
		       unsigned long *value)
{
	unsigned long v = 0;
	unsigned n = 0;

	while (*i < len && ftp_is_digit((unsigned char)text[*i])) {
		if (n == max_digits)
			return false;
		v = v * 10 + (unsigned long)(text[*i] - '0');
		n++;
		(*i)++;
	}
	if (n == 0 || v > limit)
		return false;
	*value = v;
	return true;
}

/* RFC 1123 4.1.2.6 tells clients to scan for the first digit, since the
 * 227 text is not standardised. We scan the same way but then insist on
 * exactly one group: six numbers 0-255 joined by bare commas, no digits
 * anywhere else in the text, no sign or stray separator glued to the
 * group, and parentheses either on both sides or on neither. */
int pasv_reply_locate(const char *text, size_t len, struct inet_addr *addr,
		      uint16_t *port, struct ftp_span *group,
		      const char **reason)
{
	unsigned long v[6];
	size_t first, i, k, end;
	bool open_paren;
	struct inet_addr a;
	uint16_t p;

	ftp_set_reason(reason, NULL);
	if (addr == NULL || port == NULL || (text == NULL && len > 0)) {
		ftp_set_reason(reason, "no reply text");
		return -EINVAL;
	}
	if (ftp_text_has_control(text, len)) {
		ftp_set_reason(reason, "control byte in 227 reply");
		return -EINVAL;
	}
	for (first = 0; first < len; first++)
		if (ftp_is_digit((unsigned char)text[first]))
			break;
	if (first == len) {
		ftp_set_reason(reason, "no address in 227 reply");
		return -EINVAL;
	}
	if (first > 0 && (text[first - 1] == '+' || text[first - 1] == '-' ||
			  text[first - 1] == ',' || text[first - 1] == '.')) {
		ftp_set_reason(reason, "sign or separator before 227 address");
		return -EINVAL;
	}
	open_paren = first > 0 && text[first - 1] == '(';

	i = first;
	for (k = 0; k < 6; k++) {
		if (k > 0) {
			if (i >= len || text[i] != ',') {
				ftp_set_reason(reason, "227 address not six comma-separated numbers");
				return -EINVAL;
			}
			i++;
		}
		if (!ftp_number(text, len, &i, 3, 255, &v[k])) {
			ftp_set_reason(reason, "227 number not 0-255");
			return -EINVAL;
		}
	}
	end = i;
	if (i < len && text[i] == ',') {
		/* "1,2,3,4,5,6,7": more than six numbers. (A digit right
		 * after the sixth number cannot happen: ftp_number took all
		 * of them or failed.) */
		ftp_set_reason(reason, "227 address not six comma-separated numbers");
		return -EINVAL;
	}
	if (open_paren != (i < len && text[i] == ')')) {
		ftp_set_reason(reason, "unbalanced parenthesis in 227 reply");
		return -EINVAL;
	}
	for (; i < len; i++) {
		if (ftp_is_digit((unsigned char)text[i])) {
			ftp_set_reason(reason, "more than one number group in 227 reply");
			return -EINVAL;
		}
	}
	p = (uint16_t)(v[4] << 8 | v[5]);
	if (p == 0) {
		ftp_set_reason(reason, "227 port is zero");
		return -EINVAL;
	}
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	{
		uint8_t b[4] = { (uint8_t)v[0], (uint8_t)v[1], (uint8_t)v[2],
				 (uint8_t)v[3] };
		memcpy(&a.v4, b, 4);
	}
	*addr = a;
	*port = p;
	if (group != NULL) {
		group->offset = first;
		group->len = end - first;
	}
	return 0;
}

int pasv_reply_parse(const char *text, size_t len, struct inet_addr *addr,
		     uint16_t *port, const char **reason)
{
	return pasv_reply_locate(text, len, addr, port, NULL, reason);
}

/* RFC 2428 3: "(<d><d><d><tcp-port><d>)". The server may not name an
 * address or protocol here (the data connection goes to the control
 * connection's server address), so both fields must be empty. Digits are
 * refused as the delimiter: with a digit delimiter the port boundaries are
 * ambiguous. Text after the group is allowed (a "." is common) but not a
 * second group. */
int epsv_reply_locate(const char *text, size_t len, uint16_t *port,
		      struct ftp_span *digits, const char **reason)
{
	unsigned long v;
	size_t i, open, start, end;
	unsigned char d;

	ftp_set_reason(reason, NULL);
	if (port == NULL || (text == NULL && len > 0)) {
		ftp_set_reason(reason, "no reply text");
		return -EINVAL;
	}
	if (ftp_text_has_control(text, len)) {
		ftp_set_reason(reason, "control byte in 229 reply");
		return -EINVAL;
	}
	for (open = 0; open < len; open++)
		if (text[open] == '(')
			break;
	if (open == len) {
		ftp_set_reason(reason, "no parenthesis in 229 reply");
		return -EINVAL;
	}
	i = open + 1;
	if (len - i < 6) {	/* d d d N d ) */
		ftp_set_reason(reason, "229 group truncated");
		return -EINVAL;
	}
	d = (unsigned char)text[i];
	if (d < 33 || d > 126 || ftp_is_digit(d)) {
		ftp_set_reason(reason, "bad 229 delimiter");
		return -EINVAL;
	}
	if ((unsigned char)text[i + 1] != d || (unsigned char)text[i + 2] != d) {
		ftp_set_reason(reason, "229 protocol or address field not empty");
		return -EINVAL;
	}
	i += 3;
	start = i;
	if (!ftp_number(text, len, &i, 5, 65535, &v)) {
		ftp_set_reason(reason, "229 port not 1-65535");
		return -EINVAL;
	}
	if (v == 0) {
		ftp_set_reason(reason, "229 port is zero");
		return -EINVAL;
	}
	end = i;
	if (i >= len || (unsigned char)text[i] != d) {
		ftp_set_reason(reason, "229 delimiter mismatch");
		return -EINVAL;
	}
	i++;
	if (i >= len || text[i] != ')') {
		ftp_set_reason(reason, "229 group not closed");
		return -EINVAL;
	}
	for (i++; i < len; i++) {
		if (text[i] == '(') {
			ftp_set_reason(reason, "more than one group in 229 reply");
			return -EINVAL;
		}
	}
	*port = (uint16_t)v;
	if (digits != NULL) {
		digits->offset = start;
		digits->len = end - start;
	}
	return 0;
}

int epsv_reply_parse(const char *text, size_t len, uint16_t *port,
		     const char **reason)
{
	return epsv_reply_locate(text, len, port, NULL, reason);
}

/* RFC 959 4.1.2 gives the PORT argument as host-port = h1,h2,h3,h4,p1,p2
 * with no room for anything else. Clients send exactly that; unlike the
 * free-form 227 text there is no reason to scan for it. */
int port_argument_parse(const char *arg, size_t len, struct inet_addr *addr,
			uint16_t *port, const char **reason)
{
	unsigned long v[6];
	struct inet_addr a;
	uint8_t b[4];
	size_t i = 0, k;
	uint16_t p;

	ftp_set_reason(reason, NULL);
	if (addr == NULL || port == NULL || (arg == NULL && len > 0)) {
		ftp_set_reason(reason, "no PORT argument");
		return -EINVAL;
	}
	for (k = 0; k < 6; k++) {
		if (k > 0) {
			if (i >= len || arg[i] != ',') {
				ftp_set_reason(reason, "PORT argument not six comma-separated numbers");
				return -EINVAL;
			}
			i++;
		}
		if (!ftp_number(arg, len, &i, 3, 255, &v[k])) {
			ftp_set_reason(reason, "PORT number not 0-255");
			return -EINVAL;
		}
	}
	if (i != len) {
		ftp_set_reason(reason, "text after the PORT address");
		return -EINVAL;
	}
	p = (uint16_t)(v[4] << 8 | v[5]);
	if (p == 0) {
		ftp_set_reason(reason, "PORT port is zero");
		return -EINVAL;
	}
	for (k = 0; k < 4; k++)
		b[k] = (uint8_t)v[k];
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	memcpy(&a.v4, b, 4);
	*addr = a;
	*port = p;
	return 0;
}

/* Characters an EPRT address field may hold (either family). */
static bool ftp_is_address_char(unsigned char c)
{
	return ftp_is_digit(c) || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F') || c == '.' || c == ':';
}

/* The next field of an EPRT argument: from *i up to the next delimiter.
 * Leaves *i on the delimiter. */
static bool ftp_eprt_field(const char *arg, size_t len, size_t *i,
			   unsigned char d, const char **field, size_t *n)
{
	size_t start = *i;

	while (*i < len && (unsigned char)arg[*i] != d)
		(*i)++;
	if (*i == len)
		return false;
	*field = arg + start;
	*n = *i - start;
	return true;
}

/* RFC 2428 2: EPRT<space><d><net-prt><d><net-addr><d><tcp-port><d>.
 * A delimiter that can occur inside an address or a port would make the
 * fields ambiguous, so those are refused even where RFC 2428 allows them
 * (it recommends "|", which every client uses). */
int eprt_argument_parse(const char *arg, size_t len, struct inet_addr *addr,
			uint16_t *port, const char **reason)
{
	char text[INET6_ADDRSTRLEN];
	const char *field;
	struct inet_addr a;
	unsigned long v;
	unsigned char d;
	size_t i, n, k;
	int family;

	ftp_set_reason(reason, NULL);
	if (addr == NULL || port == NULL || (arg == NULL && len > 0)) {
		ftp_set_reason(reason, "no EPRT argument");
		return -EINVAL;
	}
	if (len < 1) {
		ftp_set_reason(reason, "empty EPRT argument");
		return -EINVAL;
	}
	d = (unsigned char)arg[0];
	if (d < 33 || d > 126 || ftp_is_address_char(d)) {
		ftp_set_reason(reason, "bad EPRT delimiter");
		return -EINVAL;
	}
	i = 1;
	if (!ftp_eprt_field(arg, len, &i, d, &field, &n) || n != 1 ||
	    (field[0] != '1' && field[0] != '2')) {
		ftp_set_reason(reason, "EPRT protocol not 1 or 2");
		return -EINVAL;
	}
	family = field[0] == '1' ? AF_INET : AF_INET6;
	i++;
	if (!ftp_eprt_field(arg, len, &i, d, &field, &n) || n == 0 ||
	    n >= sizeof(text)) {
		ftp_set_reason(reason, "EPRT address missing or too long");
		return -EINVAL;
	}
	for (k = 0; k < n; k++) {
		if (!ftp_is_address_char((unsigned char)field[k])) {
			ftp_set_reason(reason, "bad character in EPRT address");
			return -EINVAL;
		}
	}
	memcpy(text, field, n);
	text[n] = '\0';
	memset(&a, 0, sizeof(a));
	if (inet_pton(family, text, family == AF_INET ? (void *)&a.v4
						       : (void *)&a.v6) != 1) {
		ftp_set_reason(reason, "EPRT address does not match its protocol");
		return -EINVAL;
	}
	a.family = family;
	i++;
	if (!ftp_number(arg, len, &i, 5, 65535, &v) || v == 0) {
		ftp_set_reason(reason, "EPRT port not 1-65535");
		return -EINVAL;
	}
	if (i >= len || (unsigned char)arg[i] != d) {
		ftp_set_reason(reason, "EPRT port not followed by the delimiter");
		return -EINVAL;
	}
	if (i + 1 != len) {
		ftp_set_reason(reason, "text after the EPRT argument");
		return -EINVAL;
	}
	*addr = a;
	*port = (uint16_t)v;
	return 0;
}

/* The verb at line + i, when it is "PORT " or "EPRT " followed by an
 * argument that parses; the argument is measured only then, and *steps
 * counts the bytes measured. Two such verbs cannot overlap one another's
 * argument (the argument ends at the blank after the next verb at the
 * latest), so a whole line costs O(len). */
static const char *ftp_embedded_verb_at(const char *line, size_t len,
					size_t i, size_t *steps)
{
	const char *arg = line + i + 5;
	size_t arg_len = 0;
	struct inet_addr addr;
	uint16_t port;
	bool eprt;

	if (line[i + 4] != ' ')
		return NULL;
	eprt = ftp_word_is(line + i, 4, "EPRT");
	if (!eprt && !ftp_word_is(line + i, 4, "PORT"))
		return NULL;
	/* an argument holds no blanks: judge the word after the verb */
	while (i + 5 + arg_len < len && arg[arg_len] != ' ' &&
	       arg[arg_len] != '\t')
		arg_len++;
	*steps += arg_len;
	if (eprt)
		return eprt_argument_parse(arg, arg_len, &addr, &port, NULL) == 0
		       ? "EPRT" : NULL;
	return port_argument_parse(arg, arg_len, &addr, &port, NULL) == 0
	       ? "PORT" : NULL;
}

bool ftp_embedded_data_verb_counted(const char *line, size_t len,
				    size_t *offset, const char **verb,
				    size_t *steps)
{
	size_t own, i, counted = 0;
	const char *name = NULL;

	if (line == NULL || len < 4)
		goto done;
	own = ftp_skip_telnet(line, len);
	/* Only a PORT/EPRT with an argument that would open something is an
	 * attack: "CWD support" or "NOOP epsv" would not, and flagging every
	 * word ending in "port" would drown real alarms. */
	for (i = 0; i + 5 < len; i++) {
		counted++;
		if (i == own)
			continue;
		name = ftp_embedded_verb_at(line, len, i, &counted);
		if (name) {
			if (offset != NULL)
				*offset = i;
			if (verb != NULL)
				*verb = name;
			break;
		}
	}
done:
	if (steps != NULL)
		*steps = counted;
	return name != NULL;
}

bool ftp_embedded_data_verb(const char *line, size_t len, size_t *offset,
			    const char **verb)
{
	return ftp_embedded_data_verb_counted(line, len, offset, verb, NULL);
}
