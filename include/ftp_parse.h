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
};

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

/* 227 text: exactly one "h1,h2,h3,h4,p1,p2" group of decimal numbers 0-255
 * (parentheses optional, as RFC 1123 4.1.2.6 allows). Returns 0 and an
 * AF_INET address and port, or -EINVAL with a reason. */
int pasv_reply_parse(const char *text, size_t len, struct inet_addr *addr,
		     uint16_t *port, const char **reason);

/* 229 text: "(<d><d><d>port<d>)" with the same delimiter d in 33-126, empty
 * protocol and address fields, port 1-65535. Returns 0 and the port, or
 * -EINVAL with a reason. */
int epsv_reply_parse(const char *text, size_t len, uint16_t *port,
		     const char **reason);

#endif
