/* config: /etc/ftpgate/ftpgate.conf and its defaults. Pure parsing; the
 * file format is documented in doc/config.md. */
#ifndef FTPGATE_CONFIG_H
#define FTPGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "policy.h"

#define CONFIG_DEFAULT_PATH "/etc/ftpgate/ftpgate.conf"
#define CONFIG_HELPER_NAME "ftpgate"
#define CONFIG_DEFAULT_AUDIT_LOG "/var/log/ftpgate/audit.log"
#define CONFIG_DEFAULT_CONTROL_SOCKET "/run/ftpgate/ftpgated.sock"
#define CONFIG_PATH_MAX 256
#define CONFIG_SOCKET_MAX 108		/* sun_path */
#define CONFIG_GROUP_MAX 33
#define CONFIG_NFT_NAME_MAX 64

/* Each field is a key of ftpgate.conf; defaults: config_init_defaults. */
struct config {
	uint16_t queue_number;		/* NFQUEUE number */
	/* packets waiting in the queue before the kernel passes more
	 * uninspected (NFQA_CFG_QUEUE_MAXLEN). Needs a restart. */
	uint32_t queue_max_packets;
	/* the queue socket's receive buffer (SO_RCVBUFFORCE). Full:
	 * packets pass uninspected, our recv gets ENOBUFS. Needs a restart. */
	uint32_t queue_rcvbuf_bytes;
	/* capture = replies: the helper is registered disabled and queues
	 * nothing; the ruleset's capture chain holds the server's data
	 * segments (and a source-NATed client's) on capture_queue_number
	 * and copies every other packet of the control connection to NFLOG
	 * group capture_log_group (doc/config.md "Capture"). false
	 * (capture = helper): the helper queues every packet to
	 * queue_number. Each needs a restart. */
	bool capture_replies;
	uint16_t capture_queue_number;
	uint16_t capture_log_group;
	unsigned max_sessions;		/* tracked control connections */
	size_t session_buffer_max;	/* bytes buffered per direction */
	size_t line_max;		/* longest accepted line */
	unsigned session_idle_s;	/* forget idle sessions after */
	/* audit and control (doc/audit.md, doc/ftpgatectl.md) */
	char audit_log[CONFIG_PATH_MAX];	/* "": stdout in the foreground,
						   else CONFIG_DEFAULT_AUDIT_LOG;
						   "stdout"; "none" */
	char control_socket[CONFIG_SOCKET_MAX];
	char control_group[CONFIG_GROUP_MAX];	/* "": ftpgated's own group */
	char metrics_textfile[CONFIG_PATH_MAX];	/* "": not written */
	unsigned pressure_window_s;	/* passive-port pressure window */
	unsigned time_wait_s;		/* assumed TIME_WAIT of a data port */
	/* nft-table: the inet table holding the sets ftpgated fills with the
	 * protected servers (ftpgate_servers_ipv4/_ipv6); "" = none, the
	 * daemon leaves nftables alone. */
	char nft_table[CONFIG_NFT_NAME_MAX];
	struct policy policy;
};

/* Every setting at its default, from the key table in config.c (the
 * only place defaults are written; doc/config.md, ftpgate.conf(5) and
 * etc/ftpgate.conf.example are checked against it by the unit test
 * config_doc). Aborts with a message if a default in that table is not a
 * valid value of its key, which test_config would have caught. */
void config_init_defaults(struct config *c);

/* One key of the table, as doc/config.md describes it. */
struct config_key_doc {
	const char *name;		/* "max-sessions" */
	bool global, server;		/* valid in the global part, in a
					   [server] section */
	bool number;			/* a plain number from min to max */
	unsigned long min, max;
	const char *value_doc;		/* otherwise: the values, Markdown */
	const char *def;		/* the default as the file writes it,
					   or NULL when there is none */
	const char *def_note;		/* Markdown after def, or alone; or
					   NULL */
};

/* The number of keys, and key i of them (0 <= i < config_key_count()).
 * config_key_describe returns 0, or -EINVAL when i is out of range; the
 * strings are static. */
size_t config_key_count(void);
int config_key_describe(size_t i, struct config_key_doc *out);
void config_free(struct config *c);

/* Load `path` over the defaults already in *c. Returns 0, -ENOENT when the
 * file does not exist (c untouched), or another negative errno with a
 * message naming the file, line and problem in err. On error *c keeps its
 * previous contents (a failed reload never half-applies). */
int config_load(const char *path, struct config *c, char *err, size_t errlen);

#endif
