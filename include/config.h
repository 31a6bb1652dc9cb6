/* config: /etc/ftpgate/ftpgate.conf and its defaults. Pure parsing; the
 * file format is documented in doc/config.md. */
#ifndef FTPGATE_CONFIG_H
#define FTPGATE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include "policy.h"

#define CONFIG_DEFAULT_PATH "/etc/ftpgate/ftpgate.conf"
#define CONFIG_DEFAULT_QUEUE 7
#define CONFIG_DEFAULT_QUEUE_MAX_PACKETS 1024		/* the kernel's own */
#define CONFIG_DEFAULT_QUEUE_RCVBUF (8u * 1024 * 1024)
#define CONFIG_HELPER_NAME "ftpgate"
#define CONFIG_DEFAULT_AUDIT_LOG "/var/log/ftpgate/audit.log"
#define CONFIG_DEFAULT_CONTROL_SOCKET "/run/ftpgate/ftpgated.sock"
#define CONFIG_PATH_MAX 256
#define CONFIG_SOCKET_MAX 108		/* sun_path */
#define CONFIG_GROUP_MAX 33
#define CONFIG_NFT_TABLE_DEFAULT "ftpgate"	/* in family inet */
#define CONFIG_NFT_NAME_MAX 64

struct config {
	uint16_t queue_number;		/* NFQUEUE number; default 7 */
	/* packets waiting in the queue before the kernel passes more
	 * uninspected (NFQA_CFG_QUEUE_MAXLEN); 1024. Needs a restart. */
	uint32_t queue_max_packets;
	/* the queue socket's receive buffer (SO_RCVBUFFORCE); 8 MiB. Full:
	 * packets pass uninspected, our recv gets ENOBUFS. Needs a restart. */
	uint32_t queue_rcvbuf_bytes;
	unsigned max_sessions;		/* tracked control connections; 4096 */
	size_t session_buffer_max;	/* bytes buffered per direction; 8192 */
	size_t line_max;		/* longest accepted line; 512 */
	unsigned session_idle_s;	/* forget idle sessions after; 3600 */
	/* audit and control (doc/audit.md, doc/ftpgatectl.md) */
	char audit_log[CONFIG_PATH_MAX];	/* "": stdout in the foreground,
						   else CONFIG_DEFAULT_AUDIT_LOG;
						   "stdout"; "none" */
	char control_socket[CONFIG_SOCKET_MAX];	/* CTL's default path */
	char control_group[CONFIG_GROUP_MAX];	/* "": ftpgated's own group */
	char metrics_textfile[CONFIG_PATH_MAX];	/* "": not written */
	unsigned pressure_window_s;	/* passive-port pressure window; 120 */
	unsigned time_wait_s;		/* assumed TIME_WAIT of a data port; 120 */
	/* nft-table: the inet table holding the sets ftpgated fills with the
	 * protected servers (ftpgate_servers_ipv4/_ipv6); "" = none, the
	 * daemon leaves nftables alone. Default "ftpgate". */
	char nft_table[CONFIG_NFT_NAME_MAX];
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
