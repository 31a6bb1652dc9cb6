/* config-keys: print ftpgate.conf's key table (src/core/config.c), one
 * key per line, for tests/unit/config-doc.py, which checks and rewrites
 * the documents that show the keys' values and defaults. Fields, separated
 * by tabs, empty when not set:
 *   NAME SCOPE VALUES DEFAULT NOTE
 * SCOPE is global, server or both; VALUES is "MIN-MAX" for a plain
 * number, else the values in Markdown; DEFAULT is the default as the file
 * writes it; NOTE is the Markdown the documents show after it (or alone). */
#include <stdio.h>

#include "config.h"

static const char *config_keys_scope(const struct config_key_doc *d)
{
	if (d->global && d->server)
		return "both";
	return d->global ? "global" : "server";
}

static const char *config_keys_text(const char *s)
{
	return s != NULL ? s : "";
}

static void config_keys_print(const struct config_key_doc *d)
{
	printf("%s\t%s\t", d->name, config_keys_scope(d));
	if (d->number)
		printf("%lu-%lu", d->min, d->max);
	else
		printf("%s", d->value_doc);
	printf("\t%s\t%s\n", config_keys_text(d->def),
	       config_keys_text(d->def_note));
}

int main(void)
{
	struct config_key_doc d;
	size_t i;

	for (i = 0; i < config_key_count(); i++) {
		if (config_key_describe(i, &d) < 0)
			return 1;
		config_keys_print(&d);
	}
	return fflush(stdout) == 0 ? 0 : 1;
}
