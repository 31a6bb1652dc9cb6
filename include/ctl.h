/* ctl: the daemon's control socket, a Unix stream socket that
 * ftpgatectl talks to. One request per connection: the client sends one
 * line ("pinholes --json\n"), the daemon answers "ok\n" followed by the
 * body, or "error MESSAGE\n", and closes. No netlink here: the daemon's
 * handler builds the body.
 *
 * Access: the socket file is mode 0660, owned by root and the configured
 * group (control-socket-group), in a directory ftpgated creates mode 0750
 * with the same group. As a second check, the peer's credentials
 * (SO_PEERCRED, SO_PEERGROUPS) must be root, ftpgated's own user, or a
 * member of that group. */
#ifndef FTPGATE_CTL_H
#define FTPGATE_CTL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "strbuf.h"

#define CTL_DEFAULT_PATH "/run/ftpgate/ftpgated.sock"
#define CTL_REQUEST_MAX 256		/* bytes, including the newline */
#define CTL_CLIENTS_MAX 8		/* connections served at once */
#define CTL_TIMEOUT_MS 5000		/* a client gets this long in all */
#define CTL_RESPONSE_MAX (16u << 20)

enum ctl_command {
	CTL_PING,			/* "ping": daemon version and pid */
	CTL_PINHOLES,
	CTL_SESSIONS,
	CTL_STATS,
	CTL_PORTS,
	CTL_METRICS,
	CTL_GRANTS,			/* per-client grants (tls = client-range) */
	CTL_ROLE,			/* "role [primary|backup]": a gateway pair */
	CTL_COMMAND_COUNT
};

/* What "role" asks: show the node's role, or set it. */
enum ctl_role {
	CTL_ROLE_SHOW = 0,
	CTL_ROLE_PRIMARY,
	CTL_ROLE_BACKUP,
};

struct ctl_request {
	enum ctl_command command;
	enum ctl_role role;		/* CTL_ROLE's argument */
	bool json;			/* --json */
	bool privileged;		/* set by the server, not the parser: the
					   peer is root or the daemon's user, and
					   may change state (role) */
};

/* Parse one request line (its "\n" or "\r\n" may be included): a command
 * word, for "role" optionally "primary" or "backup", and options,
 * separated by single spaces, printable ASCII only.
 * 0, or -EINVAL with a reason for a person. Pure. */
int ctl_request_parse(const char *buf, size_t len, struct ctl_request *out,
		      const char **why);
const char *ctl_command_name(enum ctl_command c);

/* The daemon's answer: write the body into `body` and return 0, or write
 * an error message (one line) there and return a negative errno. */
typedef int (*ctl_handler)(const struct ctl_request *req, struct strbuf *body,
			   void *data);

struct ctl_server;

/* Create the directory (when missing) and the socket at `path`; `gid` is
 * the group allowed in ((gid_t)-1: ftpgated's own group). A stale socket
 * file is replaced; a live one (another daemon answers) is -EADDRINUSE.
 * 0 or negative errno with a message in err. */
int ctl_open(struct ctl_server **s, const char *path, gid_t gid, char *err,
	     size_t errlen);
/* Close every connection and remove the socket file. */
void ctl_close(struct ctl_server *s);

/* Descriptors to poll (the listener while there is room, and every
 * client, for reading or writing); returns how many were filled. */
unsigned ctl_pollfds(struct ctl_server *s, struct pollfd *fds, unsigned max);
/* Act on the revents of the descriptors ctl_pollfds filled, and time out
 * slow clients. Calls handler for each complete request. */
void ctl_process(struct ctl_server *s, const struct pollfd *fds, unsigned n,
		 uint64_t now_ms, ctl_handler handler, void *data);

struct ctl_counters {
	uint64_t requests;		/* complete requests answered */
	uint64_t denied;		/* credentials refused */
	uint64_t errors;		/* bad requests, timeouts, I/O errors */
};
const struct ctl_counters *ctl_counters(const struct ctl_server *s);
const char *ctl_path(const struct ctl_server *s);

#endif
