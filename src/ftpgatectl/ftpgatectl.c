/* ftpgatectl: ask the running ftpgated. One request per run over the
 * daemon's control socket (doc/ftpgatectl.md); the daemon renders the
 * answer, this program prints it and turns failures into sentences a
 * person can act on. */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "ctl.h"
#include "doctor_probe.h"
#include "strbuf.h"

#define FTPGATECTL_TIMEOUT_MS 10000		/* the daemon answers well within */
#define FTPGATECTL_RESPONSE_MAX (64u << 20)

enum {
	FTPGATECTL_OK = 0,
	FTPGATECTL_DAEMON_ERROR = 1,		/* the daemon answered "error" */
	FTPGATECTL_USAGE = 2,
	FTPGATECTL_UNREACHABLE = 3,		/* not running, or access denied */
};

static void ftpgatectl_usage(FILE *out)
{
	fprintf(out,
		"usage: ftpgatectl [options] COMMAND [--json]\n"
		"       ftpgatectl [options] role [primary|backup] [--json]\n"
		"commands:\n"
		"  pinholes   open pinholes: the kernel's expectations of helper ftpgate,\n"
		"             with the command and reply that opened each\n"
		"  grants     per-client grants of encrypted control connections\n"
		"             (tls = client-range): client, server, passive range\n"
		"  sessions   control connections ftpgated tracks\n"
		"  stats      counters (packets, replies, pinholes by outcome, refusals\n"
		"             by reason, parse errors, queue drops, audit log losses)\n"
		"  ports      passive-port pressure per server: demand against what the\n"
		"             passive range sustains, occupancy, 425/421 replies\n"
		"  metrics    the counters in Prometheus text format\n"
		"  ping       is the daemon there (version, pid, uptime)\n"
		"  role       this node's role in a gateway pair; \"role backup\" (from\n"
		"             the failover script, before the flush of this node's\n"
		"             table): what the kernel removes from then on was handed\n"
		"             over to the peer, audited handed-over; \"role primary\"\n"
		"             ends that (doc/ha.md)\n"
		"  doctor     check this gateway: kernel support, the helper, the\n"
		"             ruleset, the passive ports, table headroom, the audit log\n"
		"             and the control socket; one ok/warn/fail line each (as root)\n"
		"options:\n"
		"  --json                 machine-readable output (not for metrics)\n"
		"  -s, --socket PATH      control socket (default: control-socket from the\n"
		"                         configuration file, else %s)\n"
		"  -c, --config FILE      configuration file to read control-socket from\n"
		"                         (default %s)\n"
		"  -h, --help             this text\n"
		"Exit status: 0 ok, 1 the daemon reported an error (doctor: a check\n"
		"failed), 2 usage, 3 the daemon cannot be reached (not running, or access\n"
		"denied).\n",
		CONFIG_DEFAULT_CONTROL_SOCKET, CONFIG_DEFAULT_PATH);
}

/* 1 when COMMAND takes an argument word ("role backup"), else 0. */
static int ftpgatectl_has_argument(const char *command)
{
	return strcmp(command, "role") == 0;
}

/* The group that may use the socket, for the error message. */
static void ftpgatectl_socket_group(const char *path, char *buf, size_t len)
{
	struct stat st;
	struct group *g;

	if (stat(path, &st) < 0) {
		char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
		char *slash;

		snprintf(dir, sizeof(dir), "%s", path);
		slash = strrchr(dir, '/');
		if (slash == NULL || slash == dir || (*slash = '\0', stat(dir, &st) < 0)) {
			snprintf(buf, len, "the group set by control-socket-group");
			return;
		}
	}
	g = getgrgid(st.st_gid);
	if (g != NULL)
		snprintf(buf, len, "group '%s'", g->gr_name);
	else
		snprintf(buf, len, "group %u", (unsigned)st.st_gid);
}

static int ftpgatectl_denied(const char *path)
{
	char group[96];

	ftpgatectl_socket_group(path, group, sizeof(group));
	fprintf(stderr, "ftpgatectl: permission denied on %s: the control socket is for root and members of %s (control-socket-group in ftpgate.conf); run as root or join that group\n",
		path, group);
	return FTPGATECTL_UNREACHABLE;
}

static int ftpgatectl_connect(const char *path, int *fd_out)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, e;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "ftpgatectl: socket path too long: %s\n", path);
		return FTPGATECTL_USAGE;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "ftpgatectl: socket: %s\n", strerror(errno));
		return FTPGATECTL_UNREACHABLE;
	}
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
		*fd_out = fd;
		return FTPGATECTL_OK;
	}
	e = errno;
	close(fd);
	switch (e) {
	case ENOENT:
	case ENOTDIR:
		fprintf(stderr, "ftpgatectl: ftpgated is not running: there is no control socket %s (start ftpgated; if it uses another control-socket, give --socket or --config)\n",
			path);
		return FTPGATECTL_UNREACHABLE;
	case ECONNREFUSED:
		fprintf(stderr, "ftpgatectl: ftpgated is not running: nothing answers on %s (a socket left by a daemon that stopped)\n",
			path);
		return FTPGATECTL_UNREACHABLE;
	case EACCES:
	case EPERM:
		return ftpgatectl_denied(path);
	default:
		fprintf(stderr, "ftpgatectl: cannot connect to %s: %s\n", path, strerror(e));
		return FTPGATECTL_UNREACHABLE;
	}
}

/* Send the request, read the whole answer. */
static int ftpgatectl_exchange(int fd, const char *request, struct strbuf *answer)
{
	size_t off = 0, len = strlen(request);
	char buf[65536];
	struct pollfd p = { .fd = fd, .events = POLLIN };

	while (off < len) {
		ssize_t n = send(fd, request + off, len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "ftpgatectl: sending the request: %s\n", strerror(errno));
			return FTPGATECTL_UNREACHABLE;
		}
		off += (size_t)n;
	}
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n;
		int r = poll(&p, 1, FTPGATECTL_TIMEOUT_MS);

		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0) {
			fprintf(stderr, "ftpgatectl: ftpgated did not answer within %d s\n",
				FTPGATECTL_TIMEOUT_MS / 1000);
			return FTPGATECTL_UNREACHABLE;
		}
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "ftpgatectl: reading the answer: %s\n", strerror(errno));
			return FTPGATECTL_UNREACHABLE;
		}
		if (n == 0)
			return FTPGATECTL_OK;
		if (strbuf_append(answer, buf, (size_t)n) < 0) {
			fprintf(stderr, "ftpgatectl: the answer is larger than %u MiB\n",
				FTPGATECTL_RESPONSE_MAX >> 20);
			return FTPGATECTL_DAEMON_ERROR;
		}
	}
}

/* The socket path: --socket, else the configuration's control-socket,
 * else the default. A configuration we cannot read is not an error here:
 * members of the control group need not read it. */
static void ftpgatectl_socket_path(const char *config_path, bool config_given,
				   char *out, size_t len)
{
	struct config c;
	char err[512];
	int rc;

	config_init_defaults(&c);
	rc = config_load(config_path, &c, err, sizeof(err));
	if (rc < 0 && config_given && rc != -EACCES)
		fprintf(stderr, "ftpgatectl: %s; using %s\n", err, c.control_socket);
	snprintf(out, len, "%s", c.control_socket);
	config_free(&c);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "config", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *socket_path = NULL, *config_path = CONFIG_DEFAULT_PATH;
	char path[CONFIG_SOCKET_MAX], request[CTL_REQUEST_MAX];
	bool config_given = false, json = false;
	struct ctl_request req;
	struct strbuf answer;
	const char *why = NULL, *text, *nl;
	int opt, fd = -1, rc;

	while ((opt = getopt_long(argc, argv, "s:c:h", options, NULL)) != -1) {
		switch (opt) {
		case 's': socket_path = optarg; break;
		case 'c': config_path = optarg; config_given = true; break;
		case 'j': json = true; break;
		case 'h': ftpgatectl_usage(stdout); return FTPGATECTL_OK;
		default: ftpgatectl_usage(stderr); return FTPGATECTL_USAGE;
		}
	}
	if (optind == argc || optind + 1 + ftpgatectl_has_argument(argv[optind]) < argc) {
		fprintf(stderr, "ftpgatectl: %s\n", optind == argc ?
			"which command? (pinholes, grants, sessions, stats, ports, metrics, ping, role, doctor)" :
			"one command at a time");
		ftpgatectl_usage(stderr);
		return FTPGATECTL_USAGE;
	}
	if (optind + 1 < argc && (argv[optind + 1][0] == '\0' || strchr(argv[optind + 1], ' '))) {
		fprintf(stderr, "ftpgatectl: %s: the argument must be one word (primary or backup)\n",
			argv[optind]);
		return FTPGATECTL_USAGE;
	}
	if (strcmp(argv[optind], "doctor") == 0) {
		struct doctor_options d = { .config_path = config_path,
					    .socket_path = socket_path, .json = json };

		return doctor_run(&d);
	}
	snprintf(request, sizeof(request), "%s%s%s%s\n", argv[optind],
		 optind + 1 < argc ? " " : "", optind + 1 < argc ? argv[optind + 1] : "",
		 json ? " --json" : "");
	if (ctl_request_parse(request, strlen(request), &req, &why) < 0) {
		fprintf(stderr, "ftpgatectl: %s\n", why);
		return FTPGATECTL_USAGE;
	}
	if (socket_path != NULL)
		snprintf(path, sizeof(path), "%s", socket_path);
	else
		ftpgatectl_socket_path(config_path, config_given, path, sizeof(path));

	rc = ftpgatectl_connect(path, &fd);
	if (rc != FTPGATECTL_OK)
		return rc;
	strbuf_init(&answer, FTPGATECTL_RESPONSE_MAX);
	rc = ftpgatectl_exchange(fd, request, &answer);
	close(fd);
	if (rc != FTPGATECTL_OK) {
		strbuf_free(&answer);
		return rc;
	}
	text = strbuf_str(&answer);
	nl = strchr(text, '\n');
	if (nl == NULL) {
		fprintf(stderr, "ftpgatectl: ftpgated closed the connection without an answer (too many clients at once? try again)\n");
		strbuf_free(&answer);
		return FTPGATECTL_UNREACHABLE;
	}
	if (strncmp(text, "ok\n", 3) == 0) {
		fwrite(nl + 1, 1, answer.len - (size_t)(nl + 1 - text), stdout);
		rc = fflush(stdout) == 0 ? FTPGATECTL_OK : FTPGATECTL_DAEMON_ERROR;
	} else if (strncmp(text, "error access denied", 19) == 0) {
		rc = ftpgatectl_denied(path);
	} else {
		const char *msg = strncmp(text, "error ", 6) == 0 ? text + 6 : text;

		fprintf(stderr, "ftpgatectl: ftpgated: %.*s\n", (int)(nl - msg), msg);
		rc = FTPGATECTL_DAEMON_ERROR;
	}
	strbuf_free(&answer);
	return rc;
}
