/* netns: the owner of a network namespace (include/netns.h). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <linux/nsfs.h>

#include "netns.h"

int netns_owner_initial(const char *path)
{
	struct stat st;
	int fd, user, rc;

	fd = open(path != NULL ? path : "/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	user = ioctl(fd, NS_GET_USERNS);
	rc = user < 0 ? -errno : 0;
	close(fd);
	if (rc < 0)
		return rc;
	rc = fstat(user, &st) < 0 ? -errno : st.st_ino == NETNS_USER_INIT_INO;
	close(user);
	return rc;
}
