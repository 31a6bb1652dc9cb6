/* nlrequest: one synchronous netlink request on a libmnl socket: send it
 * with the next sequence number, read until the kernel's answer ends it
 * (ACK, NLMSG_ERROR or NLMSG_DONE), hand the data messages of the answer to
 * a callback, and keep the kernel's extended-ack text for error messages.
 *
 * The owner opens, binds and configures the socket (NETLINK_CAP_ACK,
 * NETLINK_EXT_ACK, buffer sizes: they differ per user) and closes it; it
 * also owns the receive buffer and writes its own error messages. */
#ifndef FTPGATE_NLREQUEST_H
#define FTPGATE_NLREQUEST_H

#include <stddef.h>
#include <stdint.h>
#include <libmnl/libmnl.h>

/* A message of the answer (or, for nlrequest.other, a message that is not
 * part of it). Returns 0 or a negative errno; nlrequest_talk() keeps the
 * first negative one and returns it once the answer is complete. */
typedef int (*nlrequest_cb)(const struct nlmsghdr *nlh, void *data);

#define NLREQUEST_EXT_MAX 256

struct nlrequest {
	struct mnl_socket *nl;		/* opened and bound by the owner */
	uint32_t portid;
	uint32_t seq;			/* last sequence number sent */
	char *buf;			/* the owner's receive buffer; a */
	size_t buflen;			/* datagram longer is -ENOSPC */
	/* NLMSGERR_ATTR_MSG of the last error answer, or "" (the kernel
	 * sends it only on a socket with NETLINK_EXT_ACK set) */
	char ext[NLREQUEST_EXT_MAX];
	/* Optional, NULL by default. Messages that are not the answer
	 * (another sequence number or portid, e.g. queued packets on a
	 * queue socket) go to other(), whose return value is ignored;
	 * without it they are skipped. */
	nlrequest_cb other;
	void *other_data;
	/* Optional, NULL by default: ENOBUFS (the kernel dropped messages
	 * for this socket) ends the request with -ENOBUFS. Set, it is
	 * counted here and reading goes on: a socket that also gets
	 * unsolicited messages can lose those without losing the answer. */
	unsigned long *enobufs;
};

/* Take over an opened and bound blocking socket: read its portid, start
 * the sequence numbers after seq0, receive into buf (buflen bytes, aligned
 * for struct nlmsghdr) and give every receive at most timeout_s seconds
 * (SO_RCVTIMEO; best effort, as a missing timeout only makes a lost answer
 * wait longer). other and enobufs are cleared. */
void nlrequest_init(struct nlrequest *r, struct mnl_socket *nl, uint32_t seq0,
		    void *buf, size_t buflen, unsigned int timeout_s);

/* Send nlh (with NLM_F_ACK, or a dump) under the next sequence number and
 * read until its ACK, NLMSG_ERROR or NLMSG_DONE. The answer's data messages
 * go to cb (may be NULL); NLMSG_NOOP and NLMSG_OVERRUN are skipped. Returns
 * 0, the kernel's negative errno (r->ext then holds its extended-ack text,
 * if it sent one), the first negative value cb returned, -ETIMEDOUT when
 * nothing came within the timeout, -EPROTO for a short error message, or
 * another negative errno from the socket. */
int nlrequest_talk(struct nlrequest *r, struct nlmsghdr *nlh, nlrequest_cb cb,
		   void *data);

/* Put an nfnetlink request header at the start of buf (aligned for struct
 * nlmsghdr): nlmsg_type `type` (NFNL_SUBSYS_* << 8 | message), flags
 * NLM_F_REQUEST | `flags`, an nfgenmsg of `family`, version 0, res_id 0.
 * The attributes follow; nlrequest_talk() sets the sequence number. */
struct nlmsghdr *nlrequest_nfnl_put(void *buf, uint16_t type, uint16_t flags,
				    uint8_t family);

/* printf into err (errlen bytes) unless err is NULL or errlen 0: the
 * error text every netlink module hands back to its caller. */
__attribute__((format(printf, 3, 4)))
void nlrequest_seterr(char *err, size_t errlen, const char *fmt, ...);

#endif
