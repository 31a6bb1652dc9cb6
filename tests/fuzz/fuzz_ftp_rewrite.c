/* libFuzzer target: ftp_rewrite_line on arbitrary lines and endpoints.
 * Input: byte 0 picks the kind, bytes 1-2 the port, byte 3 the family and
 * the bound, bytes 4-19 the address; the rest is the line. Beyond "no
 * crash, no read past len" (ASan) it checks the module's promises: a
 * rewrite happens only for a line the session's parsers accept; the output
 * fits the bound, parses back (same parsers) to the new endpoint, and
 * same_length is true exactly when the length did not change; a refusal
 * gives a reason. Any broken promise aborts so the fuzzer keeps the input. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <arpa/inet.h>

#include "ftp_parse.h"
#include "ftp_rewrite.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c) do { if (!(c)) abort(); } while (0)
#define FUZZ_HEADER 20

/* What a line names, by the parsers the session uses; -1 if it does not
 * parse as that kind. */
static int fuzz_names(enum ftp_rewrite_kind kind, const char *line, size_t len,
		      struct inet_addr *a, uint16_t *port)
{
	struct ftp_reply_line r;
	struct ftp_command c;
	int code = kind == FTP_REWRITE_227 ? 227 : 229;

	memset(a, 0, sizeof(*a));
	if (kind == FTP_REWRITE_227 || kind == FTP_REWRITE_229) {
		if (ftp_reply_line_parse(line, len, &r, NULL) < 0 || r.code != code)
			return -1;
		return kind == FTP_REWRITE_227
		       ? pasv_reply_parse(r.text, r.text_len, a, port, NULL)
		       : epsv_reply_parse(r.text, r.text_len, port, NULL);
	}
	if (ftp_command_parse(line, len, &c, NULL) < 0 ||
	    c.verb != (kind == FTP_REWRITE_PORT ? FTP_COMMAND_PORT
						: FTP_COMMAND_EPRT))
		return -1;
	return kind == FTP_REWRITE_PORT
	       ? port_argument_parse(c.argument, c.argument_len, a, port, NULL)
	       : eprt_argument_parse(c.argument, c.argument_len, a, port, NULL);
}

static void fuzz_target(const uint8_t *data, struct inet_addr *a,
			uint16_t *port, size_t *max)
{
	memset(a, 0, sizeof(*a));
	*port = (uint16_t)(data[1] << 8 | data[2]);
	a->family = (data[3] & 1) ? AF_INET6 : AF_INET;
	if (a->family == AF_INET)
		memcpy(&a->v4, data + 4, 4);
	else
		memcpy(&a->v6, data + 4, 16);
	/* mostly the daemon's default bound, sometimes a tight one */
	*max = (data[3] & 0x80) ? (size_t)(data[3] & 0x7e) : 512;
}

/* ftp_rewrite_find_reply (227) on the line bytes taken as one segment: a find is
 * a whole line of the segment (its '\n' inside it) that names a:port. */
static void fuzz_find(const uint8_t *data, size_t size,
		      const struct inet_addr *a, uint16_t port)
{
	const uint8_t *seg = data + FUZZ_HEADER;
	size_t len = size - FUZZ_HEADER;
	struct inet_addr to = { .family = AF_INET }, named;
	struct ftp_rewrite_span span;
	struct ftp_rewrite res;
	uint16_t named_port = 0;
	char out[512];

	if (ftp_rewrite_find_reply(FTP_REWRITE_227, seg, len, data[0] & 0x80, a,
				   port, &to, port, out, sizeof(out), &span,
				   &res) != 0)
		return;
	FUZZ_ASSERT(span.offset + span.old_len < len);
	FUZZ_ASSERT(span.offset == 0 || seg[span.offset - 1] == '\n');
	FUZZ_ASSERT(memchr(seg + span.offset, '\n', span.old_len) == NULL);
	FUZZ_ASSERT(fuzz_names(FTP_REWRITE_227, (const char *)seg + span.offset,
			       span.old_len, &named, &named_port) == 0);
	FUZZ_ASSERT(named_port == port && inet_addr_equal(&named, a));
}

/* ftp_rewrite_find_command on the same bytes: a find is a whole line of
 * the segment that parses as the PORT or EPRT it reports, naming a, and
 * a successful rewrite names `to` with the same port. */
static void fuzz_find_command(const uint8_t *data, size_t size,
			      const struct inet_addr *a)
{
	const uint8_t *seg = data + FUZZ_HEADER;
	size_t len = size - FUZZ_HEADER;
	struct inet_addr to = *a, named;
	struct ftp_rewrite_span span;
	struct ftp_rewrite_found f;
	struct ftp_rewrite res;
	uint16_t named_port = 0;
	char out[512];
	int rc;

	if (to.family == AF_INET)
		to.v4.s_addr ^= htonl(1);
	else
		to.v6.s6_addr[15] ^= 1;
	rc = ftp_rewrite_find_command(seg, len, data[0] & 0x80, a, &to, out,
				      sizeof(out), &span, &f, &res);
	if (rc == -ENOENT)
		return;
	FUZZ_ASSERT(span.offset + span.old_len < len);
	FUZZ_ASSERT(span.offset == 0 || seg[span.offset - 1] == '\n');
	FUZZ_ASSERT(memchr(seg + span.offset, '\n', span.old_len) == NULL);
	FUZZ_ASSERT(fuzz_names(f.kind, (const char *)seg + span.offset,
			       span.old_len, &named, &named_port) == 0);
	FUZZ_ASSERT(named_port == f.port && inet_addr_equal(&named, a));
	if (rc != 0)
		return;
	FUZZ_ASSERT(fuzz_names(f.kind, out, res.len, &named, &named_port) == 0);
	FUZZ_ASSERT(named_port == f.port && inet_addr_equal(&named, &to));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum ftp_rewrite_kind kind;
	struct inet_addr a, back, old;
	struct ftp_rewrite res;
	uint16_t port, back_port = 0, old_port = 0;
	const char *line;
	char *out;
	size_t len, max;
	int rc;

	if (size < FUZZ_HEADER)
		return 0;
	kind = (enum ftp_rewrite_kind)(data[0] % (FTP_REWRITE_KIND_LAST + 1));
	fuzz_target(data, &a, &port, &max);
	line = (const char *)data + FUZZ_HEADER;
	len = size - FUZZ_HEADER;
	out = malloc(max ? max : 1);
	FUZZ_ASSERT(out != NULL);
	rc = ftp_rewrite_line(kind, line, len, &a, port, out, max, &res);
	if (rc == 0) {
		FUZZ_ASSERT(res.reason == NULL && res.len <= max);
		FUZZ_ASSERT(res.same_length == (res.len == len));
		FUZZ_ASSERT(fuzz_names(kind, line, len, &old, &old_port) == 0);
		FUZZ_ASSERT(fuzz_names(kind, out, res.len, &back, &back_port) == 0);
		FUZZ_ASSERT(back_port == port);
		if (kind != FTP_REWRITE_229)
			FUZZ_ASSERT(inet_addr_equal(&back, &a));
	} else {
		FUZZ_ASSERT(rc == -EINVAL || rc == -EAFNOSUPPORT || rc == -EMSGSIZE);
		FUZZ_ASSERT(res.reason != NULL && res.reason[0] != '\0');
		FUZZ_ASSERT(res.len == 0 && !res.same_length);
		/* refused as not understood only when the parsers refuse it
		 * too (or the port is zero) */
		if (rc == -EINVAL && port != 0)
			FUZZ_ASSERT(fuzz_names(kind, line, len, &old, &old_port) != 0);
	}
	free(out);
	fuzz_find(data, size, &a, port);
	fuzz_find_command(data, size, &a);
	return 0;
}
