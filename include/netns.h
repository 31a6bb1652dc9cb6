/* netns: which user namespace owns the network namespace ftpgated runs
 * in. Kernel facts: a 2026 change to nfqnl_mangle() (doc/nat.md 4)
 * refuses a rewritten payload (the verdict becomes NF_DROP, silently for
 * its sender) when the packet's network namespace is owned by a user
 * namespace other than the initial one, i.e. in most containers. The
 * initial user namespace's inode number is fixed (PROC_USER_INIT_INO,
 * include/linux/proc_ns.h). */
#ifndef FTPGATE_NETNS_H
#define FTPGATE_NETNS_H

/* The initial user namespace's inode number. */
#define NETNS_USER_INIT_INO 0xEFFFFFFDu

/* Whether the network namespace at `path` (a /proc/PID/ns/net file, NULL
 * for this process's) is owned by the initial user namespace: 1 or 0;
 * negative errno when it cannot be told (no NS_GET_USERNS before Linux
 * 4.9, no /proc). */
int netns_owner_initial(const char *path);

#endif
