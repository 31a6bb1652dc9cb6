/* libFuzzer target: arbitrary bytes as the text fields of audit events
 * (command, reply, detail: what a hostile client or server controls). The
 * promise: every event is exactly one line of valid JSON, whatever the
 * bytes. The validator is the unit tests' strict one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "../unit/json_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c) do { if (!(c)) abort(); } while (0)

static void fuzz_line(const struct audit_line *l)
{
	const char *t = audit_text(l);
	size_t n = audit_len(l);

	FUZZ_ASSERT(n > 1 && t[n - 1] == '\n' && strlen(t) == n);
	FUZZ_ASSERT(memchr(t, '\n', n - 1) == NULL);
	FUZZ_ASSERT(json_valid(t, n));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_control c;
	struct audit_line l;
	struct pinhole p;
	char text[PINHOLE_TEXT_MAX];
	size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;

	memcpy(text, data, n);
	text[n] = '\0';		/* the daemon's fields are C strings */
	memset(&c, 0, sizeof(c));
	c.client.family = c.server.family = AF_INET;
	memset(&p, 0, sizeof(p));
	p.expect.src.family = p.expect.dst.family = AF_INET;
	memcpy(p.command, text, sizeof(text));
	memcpy(p.reply, text, sizeof(text));
	memcpy(p.remove_cause, text, sizeof(p.remove_cause) - 1);

	audit_fmt_pinhole_opened(&l, 0, 0, &p, false);
	fuzz_line(&l);
	audit_fmt_pinhole_closed(&l, 0, 0, &p, PINHOLE_CLOSE_FTPGATE, NULL, 0);
	fuzz_line(&l);
	audit_fmt_pinhole_refused(&l, 0, &c, POLICY_REFUSE_MALFORMED, false, NULL,
				  0, text, text, 227, text);
	fuzz_line(&l);
	audit_fmt_data_trouble(&l, 0, &c, 425, text, text);
	fuzz_line(&l);
	audit_fmt_stream_resync(&l, 0, &c, size & 1, size, text);
	fuzz_line(&l);
	/* raw bytes, NULs included, straight into the writer's escaping */
	audit_begin(&l, "fuzz", 0);
	json_key(&l.json, "raw");
	json_string_n(&l.json, (const char *)data, size);
	audit_end(&l);
	fuzz_line(&l);
	return 0;
}
