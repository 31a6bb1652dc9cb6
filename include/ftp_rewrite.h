/* ftp_rewrite: the text of a 227, 229, PORT or EPRT line rewritten to name
 * another endpoint, as a NAT gateway must (doc/nat.md). Pure: it builds the
 * replacement bytes and says whether their length changed; splicing them
 * into the packet and asking the kernel to adjust sequence numbers is the
 * caller's business.
 *
 * A line whose length stays the same needs no sequence adjustment at all,
 * so a same-length form is preferred whenever the grammar leaves room:
 *   227, 229   the free text before the "(" (RFC 1123 4.1.2.6: clients scan
 *              for the first digit; RFC 2428: for the "(") absorbs the
 *              difference: padded with spaces, or cut at a word boundary
 *              and padded;
 *   PORT       p1 and p2 get leading zeros (never h1-h4: a client or server
 *              that joins the address text and hands it to inet_aton reads
 *              "010" as octal 8; the port bytes are read as integers);
 *   EPRT       the port gets leading zeros; never the address (an IPv4
 *              one would read as octal; pyftpdlib compares an IPv6 one as
 *              text with its peer and refuses "0000::1").
 * Otherwise the rest of the line is kept and only the numbers change (the
 * form nf_nat_ftp writes), and the result says its length changed.
 *
 * Input lines come from the network: the line must parse strictly with
 * ftp_parse (the same parsers the session uses) or nothing is produced. */
#ifndef FTPGATE_FTP_REWRITE_H
#define FTPGATE_FTP_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "inet_addr.h"

enum ftp_rewrite_kind {
	FTP_REWRITE_227,	/* server reply to PASV: address and port */
	FTP_REWRITE_229,	/* server reply to EPSV: port only */
	FTP_REWRITE_PORT,	/* client command PORT: address and port */
	FTP_REWRITE_EPRT,	/* client command EPRT: address and port */
};
#define FTP_REWRITE_KIND_LAST FTP_REWRITE_EPRT

/* The longest number group a rewrite writes: an EPRT argument with a full
 * IPv6 address ("|2|" 45 "|65535|"). */
#define FTP_REWRITE_FIELD_MAX 64

struct ftp_rewrite {
	size_t len;		/* bytes written to out */
	bool same_length;	/* len equals the input line's length */
	const char *reason;	/* on failure: why (static text); else NULL */
};

/* Rewrite `line` (one line of `len` bytes without its CRLF, as the stream
 * module hands it out) of the given kind so that it names `addr` and
 * `port` instead of what it names now, into `out`, which has room for
 * `max_len` bytes; the result is never longer than max_len. `addr` is
 * ignored for FTP_REWRITE_229 (it carries no address; may be NULL).
 *
 * Returns 0 and fills *res (same_length says whether a sequence adjustment
 * is needed), or, with res->reason set and nothing promised in out:
 *   -EINVAL        the line is not that kind of line, or does not parse
 *                  strictly (the parser's reason), or port is 0, or addr
 *                  is missing;
 *   -EAFNOSUPPORT  the new address's family cannot be written there (227
 *                  and PORT are IPv4 only; EPRT keeps its family: this
 *                  module does no NAT46);
 *   -EMSGSIZE      the rewritten line would be longer than max_len. */
int ftp_rewrite_line(enum ftp_rewrite_kind kind, const char *line, size_t len,
		     const struct inet_addr *addr, uint16_t port,
		     char *out, size_t max_len, struct ftp_rewrite *res);

/* Where a rewrite goes in one TCP segment's payload. */
struct ftp_rewrite_span {
	size_t offset;		/* the line's first byte in the payload */
	size_t old_len;		/* its length without CRLF */
};

/* Find in one segment's payload (len bytes, from the network) the first
 * complete reply line of `kind` that names named:port (227) or port
 * (229; named is ignored), and rewrite it to name to:to_port (229: the
 * port only) with ftp_rewrite_line (same length preferred) into out.
 * Complete: it starts at the payload's first byte (only when line_start
 * says a line starts there) or right after a '\n', and its '\n' is in the
 * payload too (a line split over segments cannot be rewritten here: the
 * earlier part may be gone already). One pass over the payload. Returns
 * 0 with *span and *res, -ENOENT when the payload holds no such complete
 * line, -EINVAL for a kind that is not 227 or 229 (or a 227 without
 * named), or ftp_rewrite_line's error (res->reason). */
int ftp_rewrite_find_reply(enum ftp_rewrite_kind kind, const uint8_t *payload,
			   size_t len, bool line_start,
			   const struct inet_addr *named, uint16_t port,
			   const struct inet_addr *to, uint16_t to_port,
			   char *out, size_t max_len,
			   struct ftp_rewrite_span *span, struct ftp_rewrite *res);

/* What ftp_rewrite_find_command found: the command and the port it
 * names (kept in the rewrite). */
struct ftp_rewrite_found {
	enum ftp_rewrite_kind kind;	/* FTP_REWRITE_PORT or _EPRT */
	uint16_t port;
};

/* Find in one segment's payload the first complete PORT or EPRT line
 * (complete as ftp_rewrite_find_reply says) that names `named` (any
 * port), parsed strictly as the session parses commands. Returns 0 with
 * *span and *found, or -ENOENT when the payload holds no such line. One
 * pass over the payload. */
int ftp_rewrite_scan_command(const uint8_t *payload, size_t len,
			     bool line_start, const struct inet_addr *named,
			     struct ftp_rewrite_span *span,
			     struct ftp_rewrite_found *found);

/* ftp_rewrite_scan_command, then the line found rewritten to name `to`
 * with the same port (ftp_rewrite_line, same length preferred). Returns 0 with *span, *found
 * and *res, -ENOENT when the payload holds no such complete line, or
 * ftp_rewrite_line's error (res->reason; *found and *span are set). */
int ftp_rewrite_find_command(const uint8_t *payload, size_t len,
			     bool line_start, const struct inet_addr *named,
			     const struct inet_addr *to, char *out,
			     size_t max_len, struct ftp_rewrite_span *span,
			     struct ftp_rewrite_found *found,
			     struct ftp_rewrite *res);

/* The kind's name as logs print it: "227", "229", "PORT", "EPRT", or "?"
 * for a value outside the enum. */
const char *ftp_rewrite_kind_name(enum ftp_rewrite_kind kind);

#endif
