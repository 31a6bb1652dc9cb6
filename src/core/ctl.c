/* ctl: control socket server. Non-blocking throughout: a client that
 * sends nothing, or never reads its answer, is dropped after
 * CTL_TIMEOUT_MS and never holds up the packet path. Requests are bounded
 * (CTL_REQUEST_MAX) and parsed strictly; the parser is fuzzed
 * (tests/fuzz/fuzz_ctl_request.c). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"

#ifndef SO_PEERGROUPS
#define SO_PEERGROUPS 59
#endif

static const char *const ctl_names[CTL_COMMAND_COUNT] = {
	[CTL_PING] = "ping",
	[CTL_PINHOLES] = "pinholes",
	[CTL_SESSIONS] = "sessions",
	[CTL_STATS] = "stats",
	[CTL_PORTS] = "ports",
	[CTL_METRICS] = "metrics",
	[CTL_GRANTS] = "grants",
	[CTL_ROLE] = "role",
};

const char *ctl_command_name(enum ctl_command c)
{
	return (unsigned)c < CTL_COMMAND_COUNT ? ctl_names[c] : "unknown";
}

static bool ctl_word_is(const char *w, size_t n, const char *s)
{
	return strlen(s) == n && memcmp(w, s, n) == 0;
}

/* A word after the command that is not an option: role's argument, once;
 * -EINVAL with a reason for anything else. */
static int ctl_role_word(const char *w, size_t n, struct ctl_request *out,
			 const char **why)
{
	enum ctl_role r = ctl_word_is(w, n, "primary") ? CTL_ROLE_PRIMARY :
			  ctl_word_is(w, n, "backup") ? CTL_ROLE_BACKUP : CTL_ROLE_SHOW;

	if (out->command != CTL_ROLE) {
		*why = "unknown option (known: --json)";
		return -EINVAL;
	}
	if (r == CTL_ROLE_SHOW) {
		*why = "role: unknown role (known: primary, backup; none to show it)";
		return -EINVAL;
	}
	if (out->role != CTL_ROLE_SHOW) {
		*why = "role: one role at a time";
		return -EINVAL;
	}
	out->role = r;
	return 0;
}

int ctl_request_parse(const char *buf, size_t len, struct ctl_request *out,
		      const char **why)
{
	const char *p, *end;
	bool have_command = false;
	unsigned c;

	memset(out, 0, sizeof(*out));
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0) {
		*why = "empty request";
		return -EINVAL;
	}
	if (len >= CTL_REQUEST_MAX) {
		*why = "request too long";
		return -EINVAL;
	}
	for (p = buf; p < buf + len; p++) {
		if (*p < 0x20 || *p > 0x7e) {
			*why = "request holds a control or non-ASCII byte";
			return -EINVAL;
		}
	}
	for (p = buf, end = buf + len; p < end; p++) {
		const char *w = p;
		size_t n;

		while (p < end && *p != ' ')
			p++;
		n = (size_t)(p - w);
		if (n == 0) {
			*why = "stray space in request";
			return -EINVAL;
		}
		if (p + 1 == end) {
			*why = "trailing space in request";
			return -EINVAL;
		}
		if (!have_command) {
			for (c = 0; c < CTL_COMMAND_COUNT; c++)
				if (ctl_word_is(w, n, ctl_names[c]))
					break;
			if (c == CTL_COMMAND_COUNT) {
				*why = "unknown command (known: ping, pinholes, grants, sessions, stats, ports, metrics, role)";
				return -EINVAL;
			}
			out->command = (enum ctl_command)c;
			have_command = true;
		} else if (ctl_word_is(w, n, "--json")) {
			if (out->json) {
				*why = "--json given twice";
				return -EINVAL;
			}
			if (out->command == CTL_METRICS) {
				*why = "metrics has no --json form (it is Prometheus text)";
				return -EINVAL;
			}
			out->json = true;
		} else if (ctl_role_word(w, n, out, why) < 0) {
			return -EINVAL;
		}
	}
	return 0;
}

/* ---- server ----------------------------------------------------------- */

struct ctl_client {
	int fd;
	uint64_t deadline_ms;		/* 0: deadline set on first process */
	char request[CTL_REQUEST_MAX];
	size_t request_len;
	bool answering;			/* request read, response being sent */
	bool privileged;		/* root or the daemon's own user */
	struct strbuf response;
	size_t sent;
};

struct ctl_server {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	gid_t gid;
	struct ctl_client client[CTL_CLIENTS_MAX];
	unsigned client_count;
	struct ctl_counters counters;
};

const struct ctl_counters *ctl_counters(const struct ctl_server *s)
{
	return &s->counters;
}

const char *ctl_path(const struct ctl_server *s)
{
	return s->path;
}

/* A directory we just made: 0750, group gid. */
static int ctl_dir_created(const char *dir, gid_t gid, char *err, size_t errlen)
{
	struct stat st;
	int rc;

	if (stat(dir, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	if (st.st_gid != gid && chown(dir, (uid_t)-1, gid) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot give %s to group %u: %s (ftpgated must be a member of control-socket-group or have CAP_CHOWN; under systemd set Group= to that group in the unit)",
			 dir, (unsigned)gid, strerror(-rc));
		return rc;
	}
	return 0;
}

/* An existing directory is never changed (it may be /run or /tmp): it
 * must already let the configured group reach the socket, by group or by
 * others' search permission. */
static int ctl_dir_existing(const char *dir, gid_t gid, char *err, size_t errlen)
{
	struct stat st;
	int rc;

	if (stat(dir, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", dir, strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory; fix the control-socket path", dir);
		return -ENOTDIR;
	}
	if ((st.st_mode & 0001) || (st.st_gid == gid && (st.st_mode & 0010)))
		return 0;
	snprintf(err, errlen, "control-socket-group %u cannot reach the socket: its directory %s (group %u, mode %04o) has no search permission for that group, and ftpgated does not change a directory it did not create; give the directory to the group (chgrp %u %s; chmod g+x %s), or under systemd set Group= to that group in the unit (systemctl edit ftpgated) so that RuntimeDirectory= is made for it",
		 (unsigned)gid, dir, (unsigned)st.st_gid,
		 (unsigned)(st.st_mode & 07777), (unsigned)gid, dir, dir);
	return -EACCES;
}

/* The directory of path: made 0750 root:gid when it does not exist. An
 * existing one is left as it is; when a group was configured (explicit)
 * it must let that group in. */
static int ctl_make_dir(const char *path, gid_t gid, bool explicit, char *err,
			size_t errlen)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char *slash;
	int rc;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == NULL || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0750) == 0)
		return ctl_dir_created(dir, gid, err, errlen);
	if (errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "cannot create directory %s for the control socket: %s",
			 dir, strerror(-rc));
		return rc;
	}
	return explicit ? ctl_dir_existing(dir, gid, err, errlen) : 0;
}

/* A socket file left at path: remove it if nobody answers on it. */
static int ctl_clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket; remove it or choose another control-socket path",
			 path);
		return -EEXIST;
	}
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "another ftpgated answers on %s; stop it first or give this one another control-socket",
			 path);
		return -EADDRINUSE;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		rc = -errno;
		snprintf(err, errlen, "cannot remove the stale socket %s: %s",
			 path, strerror(-rc));
		return rc;
	}
	return 0;
}

int ctl_open(struct ctl_server **out, const char *path, gid_t gid, char *err,
	     size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct ctl_server *s;
	mode_t old;
	int rc;

	*out = NULL;
	if (path == NULL || path[0] != '/' || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "control-socket must be an absolute path of at most %zu characters",
			 sizeof(sa.sun_path) - 1);
		return -EINVAL;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	s->fd = -1;
	s->gid = gid == (gid_t)-1 ? getegid() : gid;
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);

	rc = ctl_make_dir(path, s->gid, gid != (gid_t)-1, err, errlen);
	if (rc == 0)
		rc = ctl_clear_stale(path, err, errlen);
	if (rc < 0) {
		if (!err[0])
			snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		free(s);
		return rc;
	}
	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot create the control socket: %s", strerror(-rc));
		free(s);
		return rc;
	}
	/* Born 0660: no moment where others could connect. */
	old = umask(0117);
	rc = bind(s->fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (rc < 0 || chown(path, (uid_t)-1, s->gid) < 0 ||
	    chmod(path, 0660) < 0 || listen(s->fd, 16) < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot set up the control socket %s: %s%s",
			 path, strerror(-rc), rc == -EPERM ?
			 " (to give it to control-socket-group, ftpgated must be a member of that group or have CAP_CHOWN; under systemd add SupplementaryGroups= to the unit)" : "");
		close(s->fd);
		unlink(path);
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

static void ctl_drop(struct ctl_server *s, unsigned i)
{
	close(s->client[i].fd);
	strbuf_free(&s->client[i].response);
	s->client[i] = s->client[--s->client_count];
}

void ctl_close(struct ctl_server *s)
{
	if (s == NULL)
		return;
	while (s->client_count > 0)
		ctl_drop(s, s->client_count - 1);
	if (s->fd >= 0) {
		close(s->fd);
		unlink(s->path);
	}
	free(s);
}

unsigned ctl_pollfds(struct ctl_server *s, struct pollfd *fds, unsigned max)
{
	unsigned n = 0, i;

	if (s == NULL)
		return 0;
	if (s->client_count < CTL_CLIENTS_MAX && n < max) {
		fds[n].fd = s->fd;
		fds[n].events = POLLIN;
		fds[n].revents = 0;
		n++;
	}
	for (i = 0; i < s->client_count && n < max; i++) {
		fds[n].fd = s->client[i].fd;
		fds[n].events = s->client[i].answering ? POLLOUT : POLLIN;
		fds[n].revents = 0;
		n++;
	}
	return n;
}

/* Root, our own user (both privileged: they may change state), or a
 * member of the socket's group. */
static bool ctl_peer_allowed(const struct ctl_server *s, int fd, bool *privileged)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t groups[256];
	unsigned i;

	*privileged = false;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return false;
	*privileged = cred.uid == 0 || cred.uid == geteuid();
	if (*privileged || cred.gid == s->gid)
		return true;
	len = sizeof(groups);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) < 0)
		return false;
	for (i = 0; i < len / sizeof(groups[0]); i++)
		if (groups[i] == s->gid)
			return true;
	return false;
}

static void ctl_accept(struct ctl_server *s, uint64_t now_ms)
{
	while (s->client_count < CTL_CLIENTS_MAX) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct ctl_client *c;

		if (fd < 0)
			return;		/* EAGAIN, or a client that gave up */
		c = &s->client[s->client_count++];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->deadline_ms = now_ms + CTL_TIMEOUT_MS;
		strbuf_init(&c->response, CTL_RESPONSE_MAX);
		if (!ctl_peer_allowed(s, fd, &c->privileged)) {
			s->counters.denied++;
			strbuf_puts(&c->response, "error access denied: the control socket is for root and group members only\n");
			c->answering = true;
		}
	}
}

static void ctl_answer(struct ctl_server *s, struct ctl_client *c,
		       ctl_handler handler, void *data)
{
	struct ctl_request req;
	struct strbuf body;
	const char *why = NULL;
	int rc;

	c->answering = true;
	if (ctl_request_parse(c->request, c->request_len, &req, &why) < 0) {
		s->counters.errors++;
		strbuf_printf(&c->response, "error bad request: %s\n", why);
		return;
	}
	req.privileged = c->privileged;
	strbuf_init(&body, CTL_RESPONSE_MAX - 64);
	rc = handler(&req, &body, data);
	if (rc == 0 && body.truncated) {
		rc = -EFBIG;
		strbuf_reset(&body);
		strbuf_puts(&body, "response too large");
	}
	if (rc < 0) {
		if (rc == -EPERM)
			s->counters.denied++;	/* allowed on the socket, not this */
		else
			s->counters.errors++;
		strbuf_printf(&c->response, "error %s\n", strbuf_str(&body));
	} else {
		s->counters.requests++;
		strbuf_puts(&c->response, "ok\n");
		strbuf_append(&c->response, strbuf_str(&body), body.len);
	}
	strbuf_free(&body);
}

/* Read what the client sent; true when the connection should go. */
static bool ctl_read(struct ctl_server *s, struct ctl_client *c,
		     ctl_handler handler, void *data)
{
	for (;;) {
		ssize_t n = read(c->fd, c->request + c->request_len,
				 sizeof(c->request) - c->request_len);
		char *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK;
		if (n == 0) {
			/* EOF before a newline: take what came as the request */
			if (c->request_len == 0)
				return true;
			ctl_answer(s, c, handler, data);
			return false;
		}
		c->request_len += (size_t)n;
		nl = memchr(c->request, '\n', c->request_len);
		if (nl != NULL) {
			c->request_len = (size_t)(nl - c->request) + 1;
			ctl_answer(s, c, handler, data);
			return false;
		}
		if (c->request_len == sizeof(c->request)) {
			s->counters.errors++;
			c->answering = true;
			strbuf_printf(&c->response, "error bad request: longer than %d bytes\n",
				      CTL_REQUEST_MAX - 1);
			return false;
		}
	}
}

/* Send more of the response; true when the connection should go. */
static bool ctl_write(struct ctl_client *c)
{
	while (c->sent < c->response.len) {
		ssize_t n = send(c->fd, strbuf_str(&c->response) + c->sent,
				 c->response.len - c->sent, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno != EAGAIN && errno != EWOULDBLOCK;
		c->sent += (size_t)n;
	}
	return true;
}

void ctl_process(struct ctl_server *s, const struct pollfd *fds, unsigned n,
		 uint64_t now_ms, ctl_handler handler, void *data)
{
	unsigned i, k;

	if (s == NULL)
		return;
	for (k = 0; k < n; k++) {
		if (fds[k].revents == 0)
			continue;
		if (fds[k].fd == s->fd) {
			ctl_accept(s, now_ms);
			continue;
		}
		for (i = 0; i < s->client_count; i++) {
			struct ctl_client *c = &s->client[i];
			bool done;

			if (c->fd != fds[k].fd)
				continue;
			if (!c->answering)
				done = ctl_read(s, c, handler, data);
			else
				done = false;
			/* answer right away: the socket is usually writable */
			if (!done && c->answering)
				done = ctl_write(c);
			if (done)
				ctl_drop(s, i);
			break;
		}
	}
	/* A freshly accepted, denied client is answered at once too. */
	for (i = 0; i < s->client_count; i++) {
		struct ctl_client *c = &s->client[i];

		if (c->answering && c->sent == 0 && ctl_write(c)) {
			ctl_drop(s, i--);
			continue;
		}
		if (now_ms >= c->deadline_ms) {
			s->counters.errors++;
			ctl_drop(s, i--);
		}
	}
}
