/* config: /etc/ftpgate/ftpgate.conf and its defaults. Pure parsing; the
 * file format is documented in doc/config.md. */
#ifndef FTPGATE_CONFIG_H
#define FTPGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "policy.h"

#define CONFIG_DEFAULT_PATH "/etc/ftpgate/ftpgate.conf"
#define CONFIG_DEFAULT_QUEUE 7
#define CONFIG_HELPER_NAME "ftpgate"

struct config {
	uint16_t queue_number;		/* NFQUEUE number; default 7 */
	unsigned max_sessions;		/* tracked control connections; 4096 */
	size_t session_buffer_max;	/* bytes buffered per direction; 8192 */
	size_t line_max;		/* longest accepted line; 512 */
	unsigned session_idle_s;	/* forget idle sessions after; 3600 */
	struct policy policy;
};

void config_init_defaults(struct config *c);
void config_free(struct config *c);

/* Load `path` over the defaults already in *c. Returns 0, -ENOENT when the
 * file does not exist (c untouched), or another negative errno with a
 * message naming the file, line and problem in err. On error *c keeps its
 * previous contents (a failed reload never half-applies). */
int config_load(const char *path, struct config *c, char *err, size_t errlen);

#endif
