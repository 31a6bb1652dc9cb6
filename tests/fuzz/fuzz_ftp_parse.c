/* libFuzzer target: arbitrary bytes into every ftp_parse entry point (the
 * line parsers, the 227/229 texts, PORT/EPRT arguments, the embedded-verb
 * scan) and packet_parse. Beyond "no crash, no read past len" (ASan), it
 * checks the promises callers rely on: pointers handed back lie inside the input,
 * accepted values are in their documented ranges, and refusals give a
 * reason. Any broken promise aborts so the fuzzer keeps the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "ftp_parse.h"
#include "packet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c) do { if (!(c)) abort(); } while (0)

static bool fuzz_inside(const void *p, size_t n, const void *base, size_t len)
{
	const uint8_t *q = p, *b = base;

	return q >= b && n <= len && (size_t)(q - b) <= len - n;
}

static void fuzz_pasv(const char *text, size_t len)
{
	struct inet_addr a = { .family = 0 };
	uint16_t port = 0;
	const char *why = NULL;

	if (pasv_reply_parse(text, len, &a, &port, &why) == 0) {
		FUZZ_ASSERT(why == NULL);
		FUZZ_ASSERT(a.family == AF_INET);
		FUZZ_ASSERT(port != 0);
	} else {
		FUZZ_ASSERT(why != NULL && why[0] != '\0');
		FUZZ_ASSERT(a.family == 0 && port == 0);
	}
}

static void fuzz_epsv(const char *text, size_t len)
{
	uint16_t port = 0;
	const char *why = NULL;

	if (epsv_reply_parse(text, len, &port, &why) == 0) {
		FUZZ_ASSERT(why == NULL);
		FUZZ_ASSERT(port != 0);
	} else {
		FUZZ_ASSERT(why != NULL && why[0] != '\0');
		FUZZ_ASSERT(port == 0);
	}
}

static void fuzz_port(const char *arg, size_t len)
{
	struct inet_addr a = { .family = 0 };
	uint16_t port = 0;
	const char *why = NULL;

	if (port_argument_parse(arg, len, &a, &port, &why) == 0) {
		FUZZ_ASSERT(why == NULL);
		FUZZ_ASSERT(a.family == AF_INET);
		FUZZ_ASSERT(port != 0);
	} else {
		FUZZ_ASSERT(why != NULL && why[0] != '\0');
		FUZZ_ASSERT(a.family == 0 && port == 0);
	}
}

static void fuzz_eprt(const char *arg, size_t len)
{
	struct inet_addr a = { .family = 0 };
	uint16_t port = 0;
	const char *why = NULL;

	if (eprt_argument_parse(arg, len, &a, &port, &why) == 0) {
		FUZZ_ASSERT(why == NULL);
		FUZZ_ASSERT(a.family == AF_INET || a.family == AF_INET6);
		FUZZ_ASSERT(port != 0);
		/* the delimiter opens and closes it */
		FUZZ_ASSERT(len >= 8 && arg[0] == arg[len - 1]);
	} else {
		FUZZ_ASSERT(why != NULL && why[0] != '\0');
		FUZZ_ASSERT(a.family == 0 && port == 0);
	}
}

static void fuzz_embedded(const char *line, size_t len)
{
	size_t at = (size_t)-1;
	const char *verb = NULL;

	if (ftp_embedded_data_verb(line, len, &at, &verb)) {
		FUZZ_ASSERT(verb != NULL && strlen(verb) == 4);
		FUZZ_ASSERT(at <= len - 4);
		FUZZ_ASSERT(at + 4 == len || line[at + 4] == ' ');
		FUZZ_ASSERT(strncasecmp(line + at, verb, 4) == 0);
	} else {
		FUZZ_ASSERT(at == (size_t)-1 && verb == NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct ftp_command cmd;
	struct ftp_reply_line reply;
	struct packet_info pi;
	const char *why = NULL;

	if (ftp_command_parse(line, size, &cmd, &why) == 0) {
		FUZZ_ASSERT(why == NULL);
		FUZZ_ASSERT(cmd.verb >= FTP_COMMAND_OTHER &&
			    cmd.verb <= FTP_COMMAND_LAST);
		FUZZ_ASSERT(cmd.epsv_protocol == 0 || cmd.epsv_protocol == 1 ||
			    cmd.epsv_protocol == 2);
		if (cmd.argument != NULL)
			FUZZ_ASSERT(fuzz_inside(cmd.argument, cmd.argument_len,
						data, size));
		else
			FUZZ_ASSERT(cmd.argument_len == 0);
		/* as the session would: PORT and EPRT arguments */
		fuzz_port(cmd.argument, cmd.argument_len);
		fuzz_eprt(cmd.argument, cmd.argument_len);
	} else {
		FUZZ_ASSERT(why != NULL && why[0] != '\0');
	}
	fuzz_port(line, size);
	fuzz_eprt(line, size);
	fuzz_embedded(line, size);

	{
		int code = 0;
		bool last = false;

		if (ftp_reply_code_parse(line, size, &code, &last) == 0) {
			FUZZ_ASSERT(code >= 100 && code <= 599);
			FUZZ_ASSERT(last == (size == 3 || line[3] == ' '));
		}
	}

	why = NULL;
	if (ftp_reply_line_parse(line, size, &reply, &why) == 0) {
		FUZZ_ASSERT(why == NULL);
		FUZZ_ASSERT(reply.code >= 100 && reply.code <= 599);
		FUZZ_ASSERT(fuzz_inside(reply.text, reply.text_len, data, size));
		/* as the session would: the text after the code */
		fuzz_pasv(reply.text, reply.text_len);
		fuzz_epsv(reply.text, reply.text_len);
	} else {
		FUZZ_ASSERT(why != NULL && why[0] != '\0');
	}

	fuzz_pasv(line, size);
	fuzz_epsv(line, size);

	if (packet_parse(data, size, &pi) == 0) {
		FUZZ_ASSERT(pi.src.family == pi.dst.family);
		FUZZ_ASSERT(pi.src.family == AF_INET || pi.src.family == AF_INET6);
		FUZZ_ASSERT(fuzz_inside(pi.payload, pi.payload_len, data, size));
		/* a payload big enough to hold a line goes through the line
		 * parsers too, like the daemon would feed it */
		ftp_command_parse((const char *)pi.payload, pi.payload_len,
				  &cmd, NULL);
		if (ftp_reply_line_parse((const char *)pi.payload,
					 pi.payload_len, &reply, NULL) == 0) {
			fuzz_pasv(reply.text, reply.text_len);
			fuzz_epsv(reply.text, reply.text_len);
		}
	}
	return 0;
}
