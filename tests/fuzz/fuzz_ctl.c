/* libFuzzer target: arbitrary bytes as a control socket request
 * (ctl_request_parse). Beyond "no crash, no read past len" (ASan): an
 * accepted request names a known command, --json only where allowed, and
 * its canonical form parses to the same request; a refusal says why. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c) do { if (!(c)) abort(); } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ctl_request r, again;
	const char *why = NULL;
	char canon[64];

	if (ctl_request_parse((const char *)data, size, &r, &why) < 0) {
		FUZZ_ASSERT(why != NULL && why[0] != '\0');
		return 0;
	}
	FUZZ_ASSERT((unsigned)r.command < CTL_COMMAND_COUNT);
	FUZZ_ASSERT(!(r.json && r.command == CTL_METRICS));
	FUZZ_ASSERT(size > 0 && size <= CTL_REQUEST_MAX + 1);
	snprintf(canon, sizeof(canon), "%s%s\n", ctl_command_name(r.command),
		 r.json ? " --json" : "");
	FUZZ_ASSERT(ctl_request_parse(canon, strlen(canon), &again, &why) == 0);
	FUZZ_ASSERT(again.command == r.command && again.json == r.json);
	return 0;
}
