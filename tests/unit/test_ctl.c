/* test_ctl: the control socket's request parser, and the server end to
 * end over a real Unix socket (request, answer, errors, bounds, time). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "check.h"
#include "ctl.h"

static int parse(const char *s, struct ctl_request *r)
{
	const char *why = NULL;
	int rc = ctl_request_parse(s, strlen(s), r, &why);

	if (rc < 0 && why == NULL)
		return -999;		/* a refusal must say why */
	return rc;
}

static void test_parse(void)
{
	struct ctl_request r;
	char big[CTL_REQUEST_MAX + 10];

	CHECK_INT(parse("pinholes\n", &r), 0);
	CHECK_INT(r.command, CTL_PINHOLES);
	CHECK(!r.json);
	CHECK_INT(parse("pinholes --json\n", &r), 0);
	CHECK(r.json);
	CHECK_INT(parse("ports --json\r\n", &r), 0);
	CHECK_INT(r.command, CTL_PORTS);
	CHECK_INT(parse("stats", &r), 0);	/* newline optional (EOF) */
	CHECK_INT(r.command, CTL_STATS);
	CHECK_INT(parse("sessions\n", &r), 0);
	CHECK_INT(parse("metrics\n", &r), 0);
	CHECK_INT(parse("ping --json\n", &r), 0);

	CHECK_INT(parse("", &r), -EINVAL);
	CHECK_INT(parse("\n", &r), -EINVAL);
	CHECK_INT(parse("PINHOLES\n", &r), -EINVAL);
	CHECK_INT(parse("pinhole\n", &r), -EINVAL);
	CHECK_INT(parse("pinholes  --json\n", &r), -EINVAL);
	CHECK_INT(parse(" pinholes\n", &r), -EINVAL);
	CHECK_INT(parse("pinholes \n", &r), -EINVAL);
	CHECK_INT(parse("pinholes --json --json\n", &r), -EINVAL);
	CHECK_INT(parse("pinholes --yaml\n", &r), -EINVAL);
	CHECK_INT(parse("metrics --json\n", &r), -EINVAL);
	CHECK_INT(parse("pinholes\tx\n", &r), -EINVAL);
	CHECK_INT(parse("stats\n\n", &r), -EINVAL);
	CHECK_INT(parse("st\xc3\xa4ts\n", &r), -EINVAL);
	CHECK_INT(ctl_request_parse("stats\0x", 7, &r, &(const char *){ NULL }), -EINVAL);
	memset(big, 'a', sizeof(big));
	CHECK_INT(ctl_request_parse(big, sizeof(big), &r, &(const char *){ NULL }), -EINVAL);
	CHECK_STR(ctl_command_name(CTL_PORTS), "ports");
	CHECK_STR(ctl_command_name(CTL_COMMAND_COUNT), "unknown");
}

/* "role" alone shows the role; one of two words sets it; no other
 * command takes a word, and role takes one at most. */
static void test_parse_role(void)
{
	struct ctl_request r;

	CHECK_INT(parse("role\n", &r), 0);
	CHECK_INT(r.command, CTL_ROLE);
	CHECK_INT(r.role, CTL_ROLE_SHOW);
	CHECK_INT(parse("role backup\n", &r), 0);
	CHECK_INT(r.role, CTL_ROLE_BACKUP);
	CHECK(!r.json);
	CHECK_INT(parse("role primary --json\n", &r), 0);
	CHECK_INT(r.role, CTL_ROLE_PRIMARY);
	CHECK(r.json);
	CHECK_INT(parse("role --json backup\n", &r), 0);
	CHECK_INT(r.role, CTL_ROLE_BACKUP);
	CHECK_INT(parse("pinholes --json\n", &r), 0);
	CHECK_INT(r.role, CTL_ROLE_SHOW);	/* not left from before */
	CHECK(!r.privileged);			/* the server's to set, never the request's */

	CHECK_INT(parse("role master\n", &r), -EINVAL);
	CHECK_INT(parse("role BACKUP\n", &r), -EINVAL);
	CHECK_INT(parse("role backup primary\n", &r), -EINVAL);
	CHECK_INT(parse("role backup backup\n", &r), -EINVAL);
	CHECK_INT(parse("stats backup\n", &r), -EINVAL);
	CHECK_INT(parse("backup\n", &r), -EINVAL);
	CHECK_STR(ctl_command_name(CTL_ROLE), "role");
}

/* ---- server ------------------------------------------------------------ */

static unsigned handled;

static int handler(const struct ctl_request *req, struct strbuf *body, void *data)
{
	(void)data;
	handled++;
	if (req->command == CTL_SESSIONS) {
		strbuf_puts(body, "no sessions here");
		return -ENOENT;
	}
	if (req->command == CTL_ROLE && req->role != CTL_ROLE_SHOW) {
		strbuf_puts(body, "not yours to set");
		return -EPERM;	/* role.c's answer to a peer not privileged */
	}
	if (req->command == CTL_METRICS) {
		unsigned i;

		for (i = 0; i < 100000; i++)	/* a large answer */
			strbuf_puts(body, "ftpgate_x 1\n");
		return 0;
	}
	strbuf_printf(body, "%s%s%s\n", ctl_command_name(req->command),
		      req->json ? " as json" : "", req->privileged ? " privileged" : "");
	return 0;
}

static int client(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

/* Run the server until fd has its whole answer (or rounds run out). */
static void serve(struct ctl_server *s, int fd, uint64_t *now, char *out,
		  size_t outlen)
{
	struct pollfd fds[CTL_CLIENTS_MAX + 1];
	size_t got = 0;
	int round;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	for (round = 0; round < 2000; round++) {
		unsigned n = ctl_pollfds(s, fds, CTL_CLIENTS_MAX + 1);
		ssize_t r;

		poll(fds, n, 5);
		ctl_process(s, fds, n, *now, handler, NULL);
		r = read(fd, out + got, outlen - 1 - got);
		if (r > 0)
			got += (size_t)r;
		if (r == 0)
			break;
	}
	out[got] = '\0';
}

static void test_server(void)
{
	struct ctl_server *s;
	char dir[] = "/tmp/test_ctl.XXXXXX", path[96], err[256] = "";
	static char out[2 << 20];
	struct stat st;
	uint64_t now = 1000;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/run/ftpgated.sock", dir);
	CHECK_INT(ctl_open(&s, "relative.sock", (gid_t)-1, err, sizeof(err)), -EINVAL);
	CHECK_INT(ctl_open(&s, path, (gid_t)-1, err, sizeof(err)), 0);
	CHECK_STR(ctl_path(s), path);
	/* the directory is created 0750, the socket is 0660 */
	snprintf(err, sizeof(err), "%s/run", dir);
	CHECK(stat(err, &st) == 0 && (st.st_mode & 07777) == 0750);
	CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 07777) == 0660);

	/* a second daemon on the same path is refused while this one runs */
	{
		struct ctl_server *s2;

		CHECK_INT(ctl_open(&s2, path, (gid_t)-1, err, sizeof(err)), -EADDRINUSE);
		CHECK(strstr(err, "another ftpgated") != NULL);
	}

	fd = client(path);
	CHECK(fd >= 0);
	CHECK_INT(write(fd, "pinholes --json\n", 16), 16);
	serve(s, fd, &now, out, sizeof(out));
	/* this test's own user is the "daemon's" user: privileged */
	CHECK_STR(out, "ok\npinholes as json privileged\n");
	close(fd);

	/* request split over writes, EOF instead of a newline */
	fd = client(path);
	CHECK_INT(write(fd, "st", 2), 2);
	{
		struct pollfd fds[CTL_CLIENTS_MAX + 1];
		unsigned n = ctl_pollfds(s, fds, CTL_CLIENTS_MAX + 1);

		poll(fds, n, 50);
		ctl_process(s, fds, n, now, handler, NULL);
		n = ctl_pollfds(s, fds, CTL_CLIENTS_MAX + 1);
		poll(fds, n, 50);
		ctl_process(s, fds, n, now, handler, NULL);
	}
	CHECK_INT(write(fd, "ats", 3), 3);
	shutdown(fd, SHUT_WR);
	serve(s, fd, &now, out, sizeof(out));
	CHECK_STR(out, "ok\nstats privileged\n");
	close(fd);

	/* the handler's error */
	fd = client(path);
	CHECK_INT(write(fd, "sessions\n", 9), 9);
	serve(s, fd, &now, out, sizeof(out));
	CHECK_STR(out, "error no sessions here\n");
	close(fd);

	/* a request its peer may not make: counted denied, not an error */
	fd = client(path);
	CHECK_INT(write(fd, "role backup\n", 12), 12);
	serve(s, fd, &now, out, sizeof(out));
	CHECK_STR(out, "error not yours to set\n");
	close(fd);

	/* a bad request, answered without calling the handler */
	handled = 0;
	fd = client(path);
	CHECK_INT(write(fd, "rm -rf /\n", 9), 9);
	serve(s, fd, &now, out, sizeof(out));
	CHECK(strncmp(out, "error bad request: unknown command", 34) == 0);
	CHECK_INT(handled, 0);
	close(fd);

	/* too long: refused at the bound */
	{
		char longreq[CTL_REQUEST_MAX + 1];

		memset(longreq, 'x', sizeof(longreq));
		fd = client(path);
		CHECK_INT(write(fd, longreq, sizeof(longreq)), sizeof(longreq));
		serve(s, fd, &now, out, sizeof(out));
		CHECK(strstr(out, "error bad request: longer than") == out);
		close(fd);
	}

	/* a large answer arrives whole */
	fd = client(path);
	CHECK_INT(write(fd, "metrics\n", 8), 8);
	serve(s, fd, &now, out, sizeof(out));
	CHECK_INT(strlen(out), 3 + 100000 * 12);
	close(fd);

	/* a client that says nothing is dropped after the timeout */
	fd = client(path);
	{
		struct pollfd fds[CTL_CLIENTS_MAX + 1];
		unsigned n, i;

		for (i = 0; i < 3; i++) {
			n = ctl_pollfds(s, fds, CTL_CLIENTS_MAX + 1);
			poll(fds, n, 5);
			ctl_process(s, fds, n, now, handler, NULL);
		}
		CHECK_INT(n, 2);	/* listener and the silent client */
		now += CTL_TIMEOUT_MS;
		ctl_process(s, fds, 0, now, handler, NULL);
		n = ctl_pollfds(s, fds, CTL_CLIENTS_MAX + 1);
		CHECK_INT(n, 1);
	}
	CHECK(read(fd, out, 10) == 0);	/* closed, no answer */
	close(fd);

	CHECK_INT(ctl_counters(s)->requests, 3);
	CHECK_INT(ctl_counters(s)->errors, 4);	/* handler error, bad, long, timeout */
	CHECK_INT(ctl_counters(s)->denied, 1);	/* role backup */

	ctl_close(s);
	CHECK(access(path, F_OK) < 0);	/* removed */

	/* a stale socket file (daemon killed) is replaced */
	{
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		int lfd = socket(AF_UNIX, SOCK_STREAM, 0);

		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
		CHECK(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
		close(lfd);	/* bound, never listened: nobody answers */
		CHECK_INT(ctl_open(&s, path, (gid_t)-1, err, sizeof(err)), 0);
		ctl_close(s);
	}
	/* a regular file there is not ours to delete */
	{
		int ffd = open(path, O_CREAT | O_WRONLY, 0600);

		close(ffd);
		CHECK_INT(ctl_open(&s, path, (gid_t)-1, err, sizeof(err)), -EEXIST);
		unlink(path);
	}
	snprintf(err, sizeof(err), "%s/run", dir);
	rmdir(err);

	/* An existing directory is never changed (issue 11, finding 9: it
	 * may be /run or /tmp). One that keeps the configured group out is
	 * refused with the fix; its mode and group stay. */
	snprintf(err, sizeof(err), "%s/rt", dir);
	CHECK(mkdir(err, 0700) == 0);
	snprintf(path, sizeof(path), "%s/rt/ftpgated.sock", dir);
	err[0] = '\0';
	CHECK_INT(ctl_open(&s, path, getegid(), err, sizeof(err)), -EACCES);
	CHECK(strstr(err, "does not change a directory it did not create") != NULL);
	snprintf(err, sizeof(err), "%s/rt", dir);
	CHECK(stat(err, &st) == 0 && (st.st_mode & 07777) == 0700);
	CHECK(access(path, F_OK) < 0);
	/* one that lets the group in (group search, or others' search) is
	 * used as it is */
	CHECK(chmod(err, 0750) == 0);
	CHECK_INT(ctl_open(&s, path, getegid(), err, sizeof(err)), 0);
	snprintf(err, sizeof(err), "%s/rt", dir);
	CHECK(stat(err, &st) == 0 && (st.st_mode & 07777) == 0750);
	ctl_close(s);
	CHECK(chmod(err, 0701) == 0);
	CHECK_INT(ctl_open(&s, path, getegid(), err, sizeof(err)), 0);
	snprintf(err, sizeof(err), "%s/rt", dir);
	CHECK(stat(err, &st) == 0 && (st.st_mode & 07777) == 0701 &&
	      st.st_gid == getegid());
	ctl_close(s);
	/* without a configured group it is left alone */
	CHECK(chmod(err, 0700) == 0);
	CHECK_INT(ctl_open(&s, path, (gid_t)-1, err, sizeof(err)), 0);
	snprintf(err, sizeof(err), "%s/rt", dir);
	CHECK(stat(err, &st) == 0 && (st.st_mode & 07777) == 0700);
	ctl_close(s);
	rmdir(err);
	rmdir(dir);
}

int main(void)
{
	test_parse();
	test_parse_role();
	test_server();
	return check_report("ctl");
}
