/* ftp_parse: strict parsing of FTP control lines (RFC 959, RFC 2428).
 * Input is one line without its line ending, as the stream module hands it
 * out; every function bounds itself by `len` and never reads past it. */
#ifndef FTPGATE_FTP_PARSE_H
#define FTPGATE_FTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "inet_addr.h"

enum ftp_command_verb {
	FTP_COMMAND_OTHER = 0,
	FTP_COMMAND_PASV,
	FTP_COMMAND_EPSV,		/* EPSV, EPSV 1, EPSV 2 */
	FTP_COMMAND_EPSV_ALL,
	FTP_COMMAND_PORT,
	FTP_COMMAND_EPRT,
	FTP_COMMAND_AUTH,
	FTP_COMMAND_REIN,
	FTP_COMMAND_ABOR,
	FTP_COMMAND_QUIT,
	FTP_COMMAND_TRANSFER,		/* RETR STOR STOU APPE LIST NLST MLSD:
					   uses the data connection */
};
#define FTP_COMMAND_LAST FTP_COMMAND_TRANSFER

struct ftp_command {
	enum ftp_command_verb verb;
	const char *argument;		/* into the line; NULL if none */
	size_t argument_len;
	int epsv_protocol;		/* EPSV 1 / EPSV 2; 0 when not given */
};

/* Parse a command line: a verb of 3-4 letters (case-insensitive), then
 * optionally one space and an argument. Returns 0, or -EINVAL for a line
 * that is not a command (empty, NUL or other control bytes, bad verb).
 * `reason` (if not NULL) gets a static string saying why. */
int ftp_command_parse(const char *line, size_t len, struct ftp_command *out,
		      const char **reason);

struct ftp_reply_line {
	int code;			/* 100..599 */
	bool last;			/* "NNN " ends a reply; "NNN-" continues */
	const char *text;		/* after the separator */
	size_t text_len;
};

/* Parse a reply line that starts with a code. Lines inside a multi-line
 * reply that do not start with a code are not reply lines (-EINVAL) and
 * the caller must treat them as continuation text. */
int ftp_reply_line_parse(const char *line, size_t len,
			 struct ftp_reply_line *out, const char **reason);

/* Only the code and separator of a reply line ("NNN ", "NNN-" or a bare
 * "NNN"), whatever the text holds: what reply matching needs even when the
 * text itself is refused. Returns 0, or -EINVAL for a line that does not
 * start like a reply. */
int ftp_reply_code_parse(const char *line, size_t len, int *code, bool *last);

/* 227 text: exactly one "h1,h2,h3,h4,p1,p2" group of decimal numbers 0-255
 * (parentheses optional, as RFC 1123 4.1.2.6 allows). Returns 0 and an
 * AF_INET address and port, or -EINVAL with a reason. */
int pasv_reply_parse(const char *text, size_t len, struct inet_addr *addr,
		     uint16_t *port, const char **reason);

/* Where something lies in the text a parser was given. */
struct ftp_span {
	size_t offset;
	size_t len;
};

/* pasv_reply_parse, and on success *group (when not NULL) gets where the
 * six numbers are in text: from the first digit of h1 to the last digit
 * of p2 (the parentheses, when present, lie just outside). */
int pasv_reply_locate(const char *text, size_t len, struct inet_addr *addr,
		      uint16_t *port, struct ftp_span *group,
		      const char **reason);

/* 229 text: "(<d><d><d>port<d>)" with the same delimiter d in 33-126, empty
 * protocol and address fields, port 1-65535. Returns 0 and the port, or
 * -EINVAL with a reason. */
int epsv_reply_parse(const char *text, size_t len, uint16_t *port,
		     const char **reason);

/* epsv_reply_parse, and on success *digits (when not NULL) gets where the
 * port's digits are in text. */
int epsv_reply_locate(const char *text, size_t len, uint16_t *port,
		      struct ftp_span *digits, const char **reason);

/* PORT argument (RFC 959 4.1.2): exactly "h1,h2,h3,h4,p1,p2", six decimal
 * numbers 0-255 and nothing else. Returns 0 and an AF_INET address and a
 * port (never 0), or -EINVAL with a reason. */
int port_argument_parse(const char *arg, size_t len, struct inet_addr *addr,
			uint16_t *port, const char **reason);

/* EPRT argument (RFC 2428 2): "<d><proto><d><address><d><port><d>" with
 * d in 33-126 and neither a digit nor a character of an address (".", ":",
 * hex letters), proto 1 (IPv4) or 2 (IPv6) matching the address, port
 * 1-65535, nothing after the last delimiter. Returns 0 and the address and
 * port, or -EINVAL with a reason. */
int eprt_argument_parse(const char *arg, size_t len, struct inet_addr *addr,
			uint16_t *port, const char **reason);

/* "PORT " or "EPRT " (any case) followed by a valid argument (up to the
 * next blank or the end of the line), anywhere in a command line except as its own verb: a
 * packet-based helper would take it for a command if a TCP segment started
 * there (NAT slipstreaming). Returns true and the offset and the verb
 * (upper case, static) of the first one. */
bool ftp_embedded_data_verb(const char *line, size_t len, size_t *offset,
			    const char **verb);
/* The same, and *steps (when not NULL) says how many bytes the scan
 * examined: at most a small multiple of len (the scan is linear, so a
 * line at line-max-bytes costs no more per byte than a short one). For
 * tests and benchmarks. */
bool ftp_embedded_data_verb_counted(const char *line, size_t len,
				    size_t *offset, const char **verb,
				    size_t *steps);

#endif
