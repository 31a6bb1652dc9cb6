/* metrics: the counters in Prometheus text exposition format (version
 * 0.0.4), served as `ftpgatectl metrics` on the control socket and written
 * to a textfile for node_exporter's textfile collector. Rendering is pure;
 * metrics_write_textfile() does the file I/O. */
#ifndef FTPGATE_METRICS_H
#define FTPGATE_METRICS_H

#include <stddef.h>
#include "pressure.h"
#include "stats.h"
#include "strbuf.h"

/* Every metric is prefixed "ftpgate_". Per-server pressure gauges come
 * from `reports` (n of them, may be 0). */
void metrics_render(const struct stats *s, const struct pressure_report *reports,
		    unsigned n, struct strbuf *out);

/* Write text to path atomically (a temporary file in the same directory,
 * then rename), so the collector never reads half a file. Mode 0644.
 * 0 or negative errno with a message in err. */
int metrics_write_textfile(const char *path, const char *text, size_t len,
			   char *err, size_t errlen);

#endif
