/* nullqueue: the cheapest userspace reader of a control connection's
 * packets, for bench/run's kernel-queue and kernel-log helpers (issue 16:
 * which part of ftpgated's gap to the kernel helper is the round trip to
 * userspace itself, and which part is ftpgated's own work).
 *
 *   nullqueue queue NUM   bind NFQUEUE NUM as ftpgated binds its queue
 *                         (whole packets, conntrack attributes, fail-open),
 *                         accept every packet unread, one recv() and one
 *                         verdict send() per packet
 *   nullqueue log GROUP   bind NFLOG GROUP as ftpgated binds its copies
 *                         (whole packets, threshold 1, conntrack, sequence
 *                         numbers) and read every message unread
 *
 * It parses nothing but the packet id a verdict needs: the kernel still
 * builds, copies and delivers every message, and re-injects every queued
 * packet, so the rules' cost plus this process's is the round trip's.
 * Runs until SIGTERM; prints how many messages it read on stderr then. */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <libnetfilter_log/libnetfilter_log.h>
#include <libnetfilter_queue/libnetfilter_queue.h>

#define NULLQUEUE_BUFSIZE (0xffff + 4096)

static volatile sig_atomic_t nullqueue_stop;
static unsigned long nullqueue_messages;

static void nullqueue_on_term(int sig)
{
	(void)sig;
	nullqueue_stop = 1;
}

/* Send one config request and wait for its ack. 0 or -1 (errno set). */
static int nullqueue_request(struct mnl_socket *nl, struct nlmsghdr *nlh,
			     char *buf)
{
	nlh->nlmsg_flags |= NLM_F_ACK;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		return -1;
	ssize_t n = mnl_socket_recvfrom(nl, buf, NULLQUEUE_BUFSIZE);

	if (n < 0)
		return -1;
	return mnl_cb_run(buf, (size_t)n, 0, 0, NULL, NULL) < 0 ? -1 : 0;
}

/* Bind NFQUEUE num: the flags and copy range of ftpgated's queue_open. */
static int nullqueue_bind_queue(struct mnl_socket *nl, uint16_t num, char *buf)
{
	const uint32_t flags = NFQA_CFG_F_CONNTRACK | NFQA_CFG_F_FAIL_OPEN;
	struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, num);

	nfq_nlmsg_cfg_put_cmd(nlh, AF_UNSPEC, NFQNL_CFG_CMD_BIND);
	nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
	nfq_nlmsg_cfg_put_qmaxlen(nlh, 10240);
	mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
	mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(flags | NFQA_CFG_F_GSO));
	return nullqueue_request(nl, nlh, buf);
}

/* Bind NFLOG group: the settings of ftpgated's copies_bind. */
static int nullqueue_bind_log(struct mnl_socket *nl, uint16_t group, char *buf)
{
	struct nlmsghdr *nlh;

	nlh = nflog_nlmsg_put_header(buf, NFULNL_MSG_CONFIG, AF_UNSPEC, group);
	nflog_attr_put_cfg_cmd(nlh, NFULNL_CFG_CMD_BIND);
	nflog_attr_put_cfg_mode(nlh, NFULNL_COPY_PACKET, 0xffff);
	mnl_attr_put_u32(nlh, NFULA_CFG_QTHRESH, htonl(1));
	mnl_attr_put_u16(nlh, NFULA_CFG_FLAGS,
			 htons(NFULNL_CFG_F_SEQ | NFULNL_CFG_F_CONNTRACK));
	return nullqueue_request(nl, nlh, buf);
}

/* Accept the queued packet nlh carries, its payload unread. */
static void nullqueue_accept(struct mnl_socket *nl, const struct nlmsghdr *nlh,
			     uint16_t num)
{
	struct nlattr *attr[NFQA_MAX + 1] = { 0 };
	char out[256] __attribute__((aligned(8)));
	struct nfqnl_msg_packet_hdr *ph;
	struct nlmsghdr *v;

	if (nfq_nlmsg_parse(nlh, attr) < 0 || attr[NFQA_PACKET_HDR] == NULL)
		return;
	ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
	v = nfq_nlmsg_put(out, NFQNL_MSG_VERDICT, num);
	nfq_nlmsg_verdict_put(v, ntohl(ph->packet_id), NF_ACCEPT);
	mnl_socket_sendto(nl, v, v->nlmsg_len);
}

/* Read messages until SIGTERM; queue: answer each with a verdict. */
static void nullqueue_run(struct mnl_socket *nl, bool queue, uint16_t num,
			  char *buf)
{
	while (!nullqueue_stop) {
		ssize_t n = mnl_socket_recvfrom(nl, buf, NULLQUEUE_BUFSIZE);

		if (n < 0) {
			if (errno != EINTR && errno != ENOBUFS)
				perror("nullqueue: recv");
			continue;
		}
		int len = (int)n;

		for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
		     mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
			nullqueue_messages++;
			if (queue)
				nullqueue_accept(nl, nlh, num);
		}
	}
}

int main(int argc, char **argv)
{
	static char buf[NULLQUEUE_BUFSIZE] __attribute__((aligned(8)));
	struct sigaction sa = { .sa_handler = nullqueue_on_term };
	int rcvbuf = 8 << 20;
	struct mnl_socket *nl;
	bool queue;
	uint16_t num;

	if (argc != 3 || (strcmp(argv[1], "queue") && strcmp(argv[1], "log"))) {
		fprintf(stderr, "usage: nullqueue queue NUM | nullqueue log GROUP\n");
		return 2;
	}
	queue = strcmp(argv[1], "queue") == 0;
	num = (uint16_t)atoi(argv[2]);
	sigaction(SIGTERM, &sa, NULL);	/* no SA_RESTART: recv returns EINTR */
	nl = mnl_socket_open(NETLINK_NETFILTER);
	if (nl == NULL || mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		perror("nullqueue: netlink socket");
		return 1;
	}
	/* ftpgated's receive buffer (queue.c), so neither overruns first */
	setsockopt(mnl_socket_get_fd(nl), SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf,
		   sizeof(rcvbuf));
	if ((queue ? nullqueue_bind_queue(nl, num, buf)
		   : nullqueue_bind_log(nl, num, buf)) < 0) {
		fprintf(stderr, "nullqueue: cannot bind %s %u: %s\n", argv[1],
			num, strerror(errno));
		return 1;
	}
	nullqueue_run(nl, queue, num, buf);
	fprintf(stderr, "nullqueue: %s %u: %lu messages\n", argv[1], num,
		nullqueue_messages);
	mnl_socket_close(nl);
	return 0;
}
