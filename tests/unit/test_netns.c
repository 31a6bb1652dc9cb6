/* test_netns: the owner of a network namespace, told apart for real: this
 * process's (compared with its own user namespace's inode, read another
 * way) and a child's fresh user and network namespaces (never the
 * initial one). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "netns.h"

/* In a child with new user and network namespaces: the exit status is
 * what netns_owner_initial() said (0, 1), 3 when unshare failed. */
static int child_answer(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNET) < 0) {
			fprintf(stderr, "unshare: %s\n", strerror(errno));
			_exit(3);
		}
		_exit(netns_owner_initial(NULL) == 0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int main(void)
{
	struct stat user;

	CHECK(stat("/proc/self/ns/user", &user) == 0);
	CHECK_INT(netns_owner_initial(NULL), user.st_ino == NETNS_USER_INIT_INO);
	CHECK_INT(netns_owner_initial("/nonexistent/ns/net"), -ENOENT);
	CHECK_INT(netns_owner_initial("/proc/self/stat"), -ENOTTY);
	/* a container's namespaces: not the initial user namespace */
	CHECK_INT(child_answer(), 0);
	return check_report("netns");
}
