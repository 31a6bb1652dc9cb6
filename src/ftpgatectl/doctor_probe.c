/* doctor_probe: gather what `ftpgatectl doctor` judges (see
 * include/doctor_probe.h for why this lives in ftpgatectl). Everything here
 * reads; nothing changes the system. Every read is bounded. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <jansson.h>

#include "config.h"
#include "cthelper.h"
#include "doctor.h"
#include "doctor_probe.h"
#include "nftrules.h"
#include "strbuf.h"

#define DOCTOR_PROBE_NFT_OUTPUT_MAX (64u << 20)
#define DOCTOR_PROBE_NFT_TIMEOUT_MS 20000
#define DOCTOR_PROBE_SOCKET_TIMEOUT_MS 5000
#define DOCTOR_PROBE_PASSIVE_MAX 64
#define DOCTOR_PROBE_LINE_MAX 4096

extern char **environ;

struct doctor_probe_daemon {			/* what ping --json said */
	bool known;
	long pid;
	unsigned queue;
	char audit_log[CONFIG_PATH_MAX];
	char summary[256];
	char nft_table[64];
	bool nft_sets_out_of_sync;
};

/* ---- small file helpers ---------------------------------------------- */

static bool doctor_probe_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}

/* out = a + b, false when it does not fit. */
static bool doctor_probe_join(char *out, size_t len, const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);

	if (la + lb + 1 > len)
		return false;
	memcpy(out, a, la);
	memcpy(out + la, b, lb + 1);
	return true;
}

/* Read an unsigned number from a /proc file. 0 or -errno. */
static int doctor_probe_read_u64(const char *path, uint64_t *v)
{
	FILE *f = fopen(path, "r");
	unsigned long long x;
	int rc = -EINVAL;

	if (f == NULL)
		return -errno;
	if (fscanf(f, "%llu", &x) == 1) {
		*v = x;
		rc = 0;
	}
	fclose(f);
	return rc;
}

/* "nft_ct" for "kernel/net/netfilter/nft_ct.ko.xz: ..." (also '-' -> '_'). */
static void doctor_probe_module_name(const char *line, char *name, size_t len)
{
	const char *start = line, *p;
	size_t n = 0;

	for (p = line; *p != '\0' && *p != ':' && *p != '\n'; p++)
		if (*p == '/')
			start = p + 1;
	for (p = start; *p != '\0' && *p != '.' && *p != ':' && *p != '\n' && n + 1 < len; p++)
		name[n++] = *p == '-' ? '_' : *p;
	name[n] = '\0';
}

/* Is `module` listed in FILE (modules.builtin or modules.dep)? With a
 * directory, its file must also exist there. Lines longer than the buffer
 * are read in pieces; only a line's start names a module. */
static bool doctor_probe_module_listed(const char *file, const char *module, const char *dir)
{
	char line[DOCTOR_PROBE_LINE_MAX], name[128], path[PATH_MAX];
	bool at_start = true, found = false;
	FILE *f = fopen(file, "r");

	if (f == NULL)
		return false;
	while (!found && fgets(line, sizeof(line), f) != NULL) {
		bool starts = at_start;

		at_start = strchr(line, '\n') != NULL;
		if (!starts)
			continue;
		doctor_probe_module_name(line, name, sizeof(name));
		if (strcmp(name, module) != 0)
			continue;
		line[strcspn(line, ":\n")] = '\0';
		found = dir == NULL || (doctor_probe_join(path, sizeof(path), dir, "/") &&
					doctor_probe_join(path + strlen(path), sizeof(path) - strlen(path), "", line) &&
					doctor_probe_exists(path));
	}
	fclose(f);
	return found;
}

/* One line of a kernel configuration file: 1 when it sets `symbol` (its
 * value, newline cut, to `value`) or says it "is not set" (value ""). */
static int doctor_probe_config_line(const char *line, const char *symbol, size_t n,
				    char *value, size_t vlen)
{
	if (strncmp(line, symbol, n) == 0 && line[n] == '=') {
		snprintf(value, vlen, "%.*s", (int)strcspn(line + n + 1, "\n"), line + n + 1);
		return 1;
	}
	if (strncmp(line, "# ", 2) == 0 && strncmp(line + 2, symbol, n) == 0 && line[n + 2] == ' ') {
		snprintf(value, vlen, "%s", "");
		return 1;
	}
	return 0;
}

/* What the kernel's configuration file says of `symbol`: '=' value copied
 * to `value` ("y", "m", ...), "" when it says "is not set"; the file read is
 * left in `path` (Debian: /boot/config-VERSION, else
 * /lib/modules/VERSION/config; /proc/config.gz is not read).
 * Returns 1 when the file names the symbol, 0 when it does not, -1 when
 * there is no file to read (then `path` names the first place looked). */
static int doctor_probe_config_read(const char *release, const char *symbol,
				    char *value, size_t vlen, char *path, size_t plen)
{
	static const char *const where[][2] = { { "/boot/config-", "" }, { "/lib/modules/", "/config" } };
	char line[DOCTOR_PROBE_LINE_MAX];
	size_t i, n = strlen(symbol);
	int named = 0;
	FILE *f = NULL;

	for (i = 0; f == NULL && i < sizeof(where) / sizeof(where[0]); i++) {
		snprintf(path, plen, "%s%s%s", where[i][0], release, where[i][1]);
		f = fopen(path, "r");
	}
	if (f == NULL) {
		snprintf(path, plen, "%s%s%s", where[0][0], release, where[0][1]);
		return -1;
	}
	while (!named && fgets(line, sizeof(line), f) != NULL)
		named = doctor_probe_config_line(line, symbol, n, value, vlen);
	fclose(f);
	return named;
}

static enum doctor_module_state doctor_probe_module_state(const char *module, const char *config,
							  const char *release)
{
	char path[PATH_MAX], dir[PATH_MAX], value[16];

	snprintf(path, sizeof(path), "/sys/module/%s", module);
	if (doctor_probe_exists(path))
		return DOCTOR_MODULE_LOADED;
	snprintf(dir, sizeof(dir), "/lib/modules/%s", release);
	if (!doctor_probe_exists(dir))
		return DOCTOR_MODULE_NO_TREE;
	if (doctor_probe_join(path, sizeof(path), dir, "/modules.builtin") &&
	    doctor_probe_module_listed(path, module, NULL))
		return DOCTOR_MODULE_BUILTIN;
	if (doctor_probe_join(path, sizeof(path), dir, "/modules.dep") &&
	    doctor_probe_module_listed(path, module, dir))
		return DOCTOR_MODULE_LOADABLE;
	if (doctor_probe_config_read(release, config, value, sizeof(value), path, sizeof(path)) == 0)
		return DOCTOR_MODULE_MERGED;
	return DOCTOR_MODULE_MISSING;
}

static void doctor_probe_kernel_modules(struct doctor_report *r, const char *release)
{
	static const struct { const char *check, *name, *config; } mods[] = {
		{ "kernel-cthelper", "nfnetlink_cthelper", "CONFIG_NF_CT_NETLINK_HELPER" },
		{ "kernel-queue", "nfnetlink_queue", "CONFIG_NETFILTER_NETLINK_QUEUE" },
		{ "kernel-nft-ct", "nft_ct", "CONFIG_NFT_CT" },
		{ "kernel-nft-objref", "nft_objref", "CONFIG_NFT_OBJREF" },
	};
	size_t i;

	for (i = 0; i < sizeof(mods) / sizeof(mods[0]); i++) {
		struct doctor_module m = { .name = mods[i].name, .config = mods[i].config,
					   .release = release };

		m.state = doctor_probe_module_state(m.name, m.config, release);
		doctor_check_module(r, mods[i].check, &m);
	}
}

/* CONFIG_NETFILTER_NETLINK_GLUE_CT from the kernel's configuration file. */
static void doctor_probe_kernel_glue(struct doctor_report *r, const char *release)
{
	char path[PATH_MAX], value[16];
	int named = doctor_probe_config_read(release, "CONFIG_NETFILTER_NETLINK_GLUE_CT",
					     value, sizeof(value), path, sizeof(path));

	if (named < 0)
		doctor_check_glue(r, DOCTOR_CONFIG_UNKNOWN, path);
	else
		doctor_check_glue(r, named && strcmp(value, "y") == 0 ? DOCTOR_CONFIG_SET
								    : DOCTOR_CONFIG_UNSET, path);
}

/* ---- the control socket ---------------------------------------------- */

static int doctor_probe_socket_exchange(int fd, const char *request, struct strbuf *answer)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char buf[4096];

	if (send(fd, request, strlen(request), MSG_NOSIGNAL) < 0)
		return -errno;
	shutdown(fd, SHUT_WR);
	for (;;) {
		ssize_t n;
		int rc = poll(&p, 1, DOCTOR_PROBE_SOCKET_TIMEOUT_MS);

		if (rc < 0 && errno == EINTR)
			continue;
		if (rc == 0)
			return -ETIMEDOUT;
		n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return 0;
		if (strbuf_append(answer, buf, (size_t)n) < 0)
			return -EMSGSIZE;
	}
}

static int doctor_probe_ping_parse(const char *text, struct doctor_probe_daemon *d)
{
	json_t *root;

	if (strncmp(text, "ok\n", 3) != 0)
		return strncmp(text, "error access denied", 19) == 0 ? -EACCES : -EPROTO;
	root = json_loads(text + 3, 0, NULL);
	if (root == NULL)
		return -EPROTO;
	d->pid = (long)json_integer_value(json_object_get(root, "pid"));
	d->queue = (unsigned)json_integer_value(json_object_get(root, "queue"));
	snprintf(d->audit_log, sizeof(d->audit_log), "%s",
		 json_string_value(json_object_get(root, "audit_log")) ?: "");
	snprintf(d->nft_table, sizeof(d->nft_table), "%s",
		 json_string_value(json_object_get(root, "nft_table")) ?: "none");
	d->nft_sets_out_of_sync = json_is_true(json_object_get(root, "nft_sets_out_of_sync"));
	snprintf(d->summary, sizeof(d->summary), "ftpgated %s, pid %ld, up %.0f s, queue %u",
		 json_string_value(json_object_get(root, "version")) ?: "?", d->pid,
		 json_number_value(json_object_get(root, "uptime_s")), d->queue);
	json_decref(root);
	d->known = true;
	return 0;
}

/* Ask the daemon "ping --json". 0 or -errno (connect's, or -ETIMEDOUT). */
static int doctor_probe_ping(const char *path, struct doctor_probe_daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct strbuf answer;
	int fd, rc;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	strbuf_init(&answer, 1 << 16);
	rc = doctor_probe_socket_exchange(fd, "ping --json\n", &answer);
	close(fd);
	if (rc == 0)
		rc = doctor_probe_ping_parse(strbuf_str(&answer), d);
	strbuf_free(&answer);
	return rc;
}

/* ---- the helper ------------------------------------------------------ */

/* Does /proc/net/netfilter/nfnetlink_queue (this network namespace) list
 * queue q, i.e. is a socket bound to it? *listed: the file was read (a
 * missing file means nfnetlink_queue is not loaded: nobody reads any). */
static bool doctor_probe_queue_bound(unsigned q, bool *listed)
{
	FILE *f = fopen("/proc/net/netfilter/nfnetlink_queue", "r");
	unsigned n;
	char line[256];
	bool bound = false;

	*listed = f != NULL || errno == ENOENT;
	if (f == NULL)
		return false;
	while (!bound && fgets(line, sizeof(line), f) != NULL)
		bound = sscanf(line, "%u", &n) == 1 && n == q;
	fclose(f);
	return bound;
}

static void doctor_probe_helper(struct doctor_report *r, const struct doctor_probe_daemon *d)
{
	struct doctor_helper h = { .name = CONFIG_HELPER_NAME };
	char err[512] = "";

	h.query_rc = cthelper_query(CONFIG_HELPER_NAME, &h.queue, &h.enabled, err, sizeof(err));
	h.query_err = err;
	if (h.query_rc == 0)
		h.queue_bound = doctor_probe_queue_bound(h.queue, &h.queue_listed);
	h.daemon_known = d->known;
	h.daemon_pid = d->pid;
	h.daemon_queue = (uint16_t)d->queue;
	doctor_check_helper(r, &h);
}

/* ---- nft -j list ruleset --------------------------------------------- */

static const char *doctor_probe_nft_path(void)
{
	static const char *const paths[] = { "/usr/sbin/nft", "/sbin/nft", "/usr/local/sbin/nft" };
	size_t i;

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
		if (access(paths[i], X_OK) == 0)
			return paths[i];
	return NULL;
}

/* Read both pipes until nft closes them, the output grows past the
 * bound, or the time is up. */
static int doctor_probe_nft_read(int out, int errfd, struct strbuf *text, struct strbuf *msg)
{
	struct pollfd p[2] = { { .fd = out, .events = POLLIN }, { .fd = errfd, .events = POLLIN } };
	struct timespec start, now;
	char buf[65536];
	int open = 2;

	clock_gettime(CLOCK_MONOTONIC, &start);
	while (open > 0) {
		int i, left;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = DOCTOR_PROBE_NFT_TIMEOUT_MS - (int)((now.tv_sec - start.tv_sec) * 1000 +
							   (now.tv_nsec - start.tv_nsec) / 1000000);
		if (left <= 0 || poll(p, 2, left) == 0)
			return -ETIMEDOUT;
		for (i = 0; i < 2; i++) {
			ssize_t n;

			if (p[i].fd < 0 || p[i].revents == 0)
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				p[i].fd = -1;
				open--;
				continue;
			}
			if (i == 0 && strbuf_append(text, buf, (size_t)n) < 0)
				return -EFBIG;
			if (i == 1)
				strbuf_append(msg, buf, (size_t)n);	/* truncated: fine */
		}
	}
	return 0;
}

static int doctor_probe_nft_spawn(const char *nft, int out[2], int errp[2], pid_t *pid)
{
	char *const argv[] = { (char *)"nft", (char *)"-j", (char *)"list", (char *)"ruleset", NULL };
	posix_spawn_file_actions_t fa;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, out[1], STDOUT_FILENO);
	posix_spawn_file_actions_adddup2(&fa, errp[1], STDERR_FILENO);
	posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
	rc = posix_spawn(pid, nft, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -rc;
}

/* Run nft; *text gets its JSON. 0, or -errno with the reason in msg. */
static int doctor_probe_nft_run(struct strbuf *text, struct strbuf *msg)
{
	const char *nft = doctor_probe_nft_path();
	int out[2], errp[2], rc, status = 0;
	pid_t pid;

	if (nft == NULL)
		return -ENOENT;
	if (pipe2(out, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(errp, O_CLOEXEC) < 0) {
		rc = -errno;
		close(out[0]);
		close(out[1]);
		return rc;
	}
	rc = doctor_probe_nft_spawn(nft, out, errp, &pid);
	close(out[1]);
	close(errp[1]);
	if (rc == 0) {
		rc = doctor_probe_nft_read(out[0], errp[0], text, msg);
		if (rc < 0)
			kill(pid, SIGKILL);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
	close(out[0]);
	close(errp[0]);
	if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		rc = strstr(strbuf_str(msg), "Operation not permitted") ? -EPERM : -EIO;
	return rc;
}

/* The passive ranges pinholes open: the global one and each server's. */
static size_t doctor_probe_passive_ranges(const struct config *c, struct nftrules_port_range *out)
{
	size_t i, n = 0;

	out[n].low = c->policy.passive_range.low;
	out[n++].high = c->policy.passive_range.high;
	for (i = 0; i < c->policy.server_count && n < DOCTOR_PROBE_PASSIVE_MAX; i++) {
		const struct policy_port_range *p = &c->policy.servers[i].passive_range;

		if (p->low == 0)
			continue;
		out[n].low = p->low;
		out[n++].high = p->high;
	}
	return n;
}

static void doctor_probe_ruleset(struct doctor_report *r, const struct config *c)
{
	struct nftrules_port_range passive[DOCTOR_PROBE_PASSIVE_MAX];
	struct doctor_ruleset rs = { .helper = CONFIG_HELPER_NAME, .passive = passive };
	static struct nftrules_summary s;	/* large; doctor runs once */
	struct strbuf text, msg;
	char err[256] = "";

	strbuf_init(&text, DOCTOR_PROBE_NFT_OUTPUT_MAX);
	strbuf_init(&msg, 1024);
	rs.npassive = doctor_probe_passive_ranges(c, passive);
	rs.nft_rc = doctor_probe_nft_run(&text, &msg);
	if (rs.nft_rc == 0)
		rs.nft_rc = nftrules_read(strbuf_str(&text), text.len, CONFIG_HELPER_NAME,
					  passive, rs.npassive, &s, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "%s%s", msg.len ? strbuf_str(&msg) : strerror(-rs.nft_rc),
			 rs.nft_rc == -ETIMEDOUT ? " (nft did not finish within 20 s)" : "");
	err[strcspn(err, "\n")] = '\0';
	rs.nft_err = err;
	rs.s = &s;
	doctor_check_ruleset(r, &rs);
	strbuf_free(&text);
	strbuf_free(&msg);
}

/* ---- tables ---------------------------------------------------------- */

/* Lines of /proc/net/nf_conntrack_expect (one per expectation), at most
 * max + 1 counted. */
static int doctor_probe_expect_count(uint64_t max, uint64_t *count)
{
	FILE *f = fopen("/proc/net/nf_conntrack_expect", "r");
	char line[512];
	uint64_t n = 0;

	if (f == NULL)
		return -errno;
	while (n <= max && fgets(line, sizeof(line), f) != NULL)
		n += strchr(line, '\n') != NULL;
	fclose(f);
	*count = n;
	return 0;
}

static void doctor_probe_table_unknown(struct doctor_table *t, const char *what, int rc, char *buf, size_t len)
{
	t->known = false;
	snprintf(buf, len, "cannot read %s: %s%s", what, strerror(-rc),
		 rc == -ENOENT ? " (nf_conntrack is not loaded: nothing is tracked yet)" : "");
	t->why_unknown = buf;
}

static void doctor_probe_tables(struct doctor_report *r)
{
	struct doctor_table e = { .what = "expectation table", .known = true,
				  .sysctl = "net.netfilter.nf_conntrack_expect_max" };
	struct doctor_table t = { .what = "conntrack table", .known = true,
				  .sysctl = "net.netfilter.nf_conntrack_max" };
	char why_e[256], why_t[256];
	int rc;

	rc = doctor_probe_read_u64("/proc/sys/net/netfilter/nf_conntrack_expect_max", &e.max);
	if (rc == 0)
		rc = doctor_probe_expect_count(e.max, &e.count);
	if (rc < 0)
		doctor_probe_table_unknown(&e, "the expectation table (/proc/net/nf_conntrack_expect)", rc, why_e, sizeof(why_e));
	doctor_check_table(r, "expect-table", &e);
	rc = doctor_probe_read_u64("/proc/sys/net/netfilter/nf_conntrack_max", &t.max);
	if (rc == 0)
		rc = doctor_probe_read_u64("/proc/sys/net/netfilter/nf_conntrack_count", &t.count);
	if (rc < 0)
		doctor_probe_table_unknown(&t, "/proc/sys/net/netfilter/nf_conntrack_count", rc, why_t, sizeof(why_t));
	doctor_check_table(r, "conntrack-table", &t);
}

/* ---- audit log ------------------------------------------------------- */

static void doctor_probe_audit(struct doctor_report *r, const struct config *c,
			       const struct doctor_probe_daemon *d, const char *config_path)
{
	struct doctor_audit a = { .source = d->known ? "ftpgated" : config_path };
	char dir[CONFIG_PATH_MAX], *slash;
	struct statvfs vfs;

	a.path = d->known ? d->audit_log : c->audit_log[0] ? c->audit_log : CONFIG_DEFAULT_AUDIT_LOG;
	if (a.path[0] != '/') {
		doctor_check_audit(r, &a);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", a.path);
	slash = strrchr(dir, '/');
	*(slash == dir ? slash + 1 : slash) = '\0';
	a.dir_missing = !doctor_probe_exists(dir);
	if (access(doctor_probe_exists(a.path) ? a.path : dir, W_OK) < 0)
		a.access_rc = -errno;
	if (!a.dir_missing && statvfs(dir, &vfs) == 0)
		a.fs_full = (geteuid() == 0 ? vfs.f_bfree : vfs.f_bavail) == 0;
	doctor_check_audit(r, &a);
}

/* ---- the whole run --------------------------------------------------- */

/* The configuration; one that cannot be read leaves the defaults, and
 * the "config" line says so. */
static void doctor_probe_config(struct doctor_report *r, const char *path, struct config *c)
{
	char err[512] = "";
	int rc;

	config_init_defaults(c);
	rc = config_load(path, c, err, sizeof(err));
	doctor_check_config(r, path, rc, err);
}

int doctor_run(const struct doctor_options *o)
{
	static struct doctor_report r;
	struct doctor_socket sock;
	struct doctor_probe_daemon d = { .known = false };
	struct utsname u;
	struct strbuf out;
	struct config c;
	int rc;

	uname(&u);
	doctor_report_init(&r);
	doctor_probe_config(&r, o->config_path, &c);
	sock.path = o->socket_path != NULL ? o->socket_path : c.control_socket;
	sock.rc = doctor_probe_ping(sock.path, &d);
	sock.answer = d.summary;
	doctor_probe_kernel_modules(&r, u.release);
	doctor_probe_kernel_glue(&r, u.release);
	doctor_probe_helper(&r, &d);
	doctor_probe_ruleset(&r, &c);
	doctor_probe_tables(&r);
	doctor_probe_audit(&r, &c, &d, o->config_path);
	doctor_check_socket(&r, &sock);
	doctor_check_sets(&r, &(struct doctor_sets){ .known = d.known, .table = d.nft_table,
						     .out_of_sync = d.nft_sets_out_of_sync });
	strbuf_init(&out, 1 << 20);
	if (o->json)
		doctor_render_json(&r, &out);
	else
		doctor_render_text(&r, &out);
	fwrite(strbuf_str(&out), 1, out.len, stdout);
	rc = doctor_count(&r, DOCTOR_FAIL) > 0 ? 1 : 0;
	strbuf_free(&out);
	config_free(&c);
	return fflush(stdout) == 0 ? rc : 1;
}
