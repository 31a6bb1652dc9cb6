/* nftset: nftables set elements over libnftnl and libmnl (see
 * include/nftset.h for why libnftnl).
 *
 * Kernel behaviour relied on (Debian's linux-source-6.1):
 *  - net/netfilter/nfnetlink.c nfnetlink_rcv_batch(): messages between
 *    NFNL_MSG_BATCH_BEGIN (res_id NFNL_SUBSYS_NFTABLES) and
 *    NFNL_MSG_BATCH_END, sent in one datagram, are one transaction: on any
 *    error the whole batch is aborted. Every message with NLM_F_ACK gets an
 *    answer (0 or its error), also after another one failed; an error on
 *    the BATCH_BEGIN message itself ends it with no other answer.
 *  - net/netfilter/nf_tables_api.c nf_tables_delsetelem(): a DELSETELEM
 *    without NFTA_SET_ELEM_LIST_ELEMENTS flushes the set (nft's "flush set"
 *    sends exactly that). nf_tables_newsetelem() with NLM_F_CREATE and
 *    without NLM_F_EXCL keeps an element that is already there. A missing
 *    table or set is -ENOENT (also for GETSETELEM).
 *  - nf_tables_fill_setelem(): a dumped element carries NFTA_SET_ELEM_KEY
 *    and, for an interval set with concatenations (pipapo), KEY_END.
 */
#include "nftset.h"
#include "nlrequest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <libmnl/libmnl.h>
#include <libnftnl/common.h>
#include <libnftnl/set.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#define NFTSET_TIMEOUT_S 5
#define NFTSET_RBUF 32768		/* MNL_SOCKET_DUMP_SIZE */
#define NFTSET_MSG_OVERHEAD 1024	/* header, table and set names (256 each) */
#define NFTSET_ELEM_BYTES 256		/* one element's attributes, at most */
#define NFTSET_REF_TEXT 600

/* One staged message, to name it when the kernel refuses it. */
struct nftset_op {
	uint32_t seq;
	const char *what;		/* "flushing", "adding", "deleting" */
	size_t count;
	char set[NFTSET_REF_TEXT];
};

struct nftset {
	struct mnl_socket *nl;
	struct nlrequest req;
	char *batch;			/* staged batch, BATCH_BEGIN first */
	size_t len, cap;
	struct nftset_op *ops;
	size_t n_ops, cap_ops;
	bool broken;			/* staging ran out of memory */
	uint32_t begin_seq;
	char rbuf[NFTSET_RBUF] __attribute__((aligned(8)));
};

const char *nftset_ref_format(const struct nftset_ref *set, char *buf,
			      size_t len)
{
	const char *fam = set->family == NFPROTO_INET ? "inet" :
			  set->family == NFPROTO_IPV4 ? "ip" :
			  set->family == NFPROTO_IPV6 ? "ip6" : "?";

	snprintf(buf, len, "%s %s %s", fam, set->table, set->set);
	return buf;
}

int nftset_open(struct nftset **out, char *err, size_t errlen)
{
	struct nftset *h = calloc(1, sizeof(*h));
	int one = 1;

	*out = NULL;
	if (h == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->nl = mnl_socket_open(NETLINK_NETFILTER);
	if (h->nl == NULL || mnl_socket_bind(h->nl, 0, MNL_SOCKET_AUTOPID) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot open a netlink socket for nftables: %s",
			 strerror(e));
		nftset_close(h);
		return -e;
	}
	mnl_socket_setsockopt(h->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(h->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	nlrequest_init(&h->req, h->nl, (uint32_t)time(NULL), h->rbuf,
		       sizeof(h->rbuf), NFTSET_TIMEOUT_S);
	*out = h;
	return 0;
}

void nftset_close(struct nftset *h)
{
	if (h == NULL)
		return;
	if (h->nl != NULL)
		mnl_socket_close(h->nl);
	free(h->batch);
	free(h->ops);
	free(h);
}

/* Room for `need` more bytes of staged messages. */
static int nftset_reserve(struct nftset *h, size_t need)
{
	size_t cap = h->cap ? h->cap : 4096;
	char *p;

	while (cap < h->len + need)
		cap *= 2;
	if (cap == h->cap)
		return 0;
	p = realloc(h->batch, cap);
	if (p == NULL)
		return -ENOMEM;
	memset(p + h->cap, 0, cap - h->cap);	/* libnftnl expects zeroed room */
	h->batch = p;
	h->cap = cap;
	return 0;
}

static int nftset_op_add(struct nftset *h, uint32_t seq, const char *what,
			 const struct nftset_ref *set, size_t count)
{
	struct nftset_op *op;

	if (h->n_ops == h->cap_ops) {
		size_t cap = h->cap_ops ? h->cap_ops * 2 : 8;
		struct nftset_op *p = realloc(h->ops, cap * sizeof(*p));

		if (p == NULL)
			return -ENOMEM;
		h->ops = p;
		h->cap_ops = cap;
	}
	op = &h->ops[h->n_ops++];
	op->seq = seq;
	op->what = what;
	op->count = count;
	nftset_ref_format(set, op->set, sizeof(op->set));
	return 0;
}

void nftset_begin(struct nftset *h)
{
	h->len = 0;
	h->n_ops = 0;
	h->broken = nftset_reserve(h, NFTSET_MSG_OVERHEAD) < 0;
	if (h->broken)
		return;
	h->begin_seq = ++h->req.seq;
	nftnl_batch_begin(h->batch, h->begin_seq);
	h->len = NLMSG_ALIGN(((struct nlmsghdr *)h->batch)->nlmsg_len);
}

/* libnftnl's set with its elements (none for a flush). */
static struct nftnl_set *nftset_build(const struct nftset_ref *set,
				      const struct nftelem *e, size_t n)
{
	struct nftnl_set *s = nftnl_set_alloc();
	size_t i;

	if (s == NULL)
		return NULL;
	nftnl_set_set_str(s, NFTNL_SET_TABLE, set->table);
	nftnl_set_set_str(s, NFTNL_SET_NAME, set->set);
	for (i = 0; i < n; i++) {
		struct nftnl_set_elem *se = nftnl_set_elem_alloc();

		if (se == NULL) {
			nftnl_set_free(s);
			return NULL;
		}
		nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY, e[i].key, e[i].len);
		if (e[i].interval)
			nftnl_set_elem_set(se, NFTNL_SET_ELEM_KEY_END,
					   e[i].key_end, e[i].len);
		if (e[i].timeout_ms)
			nftnl_set_elem_set_u64(se, NFTNL_SET_ELEM_TIMEOUT,
					       e[i].timeout_ms);
		nftnl_set_elem_add(s, se);
	}
	return s;
}

/* Stage one message of type `type` for set with elements e[0..n). */
static int nftset_stage(struct nftset *h, uint16_t type, uint16_t flags,
			const char *what, const struct nftset_ref *set,
			const struct nftelem *e, size_t n)
{
	struct nftnl_set *s;
	struct nlmsghdr *nlh;
	uint32_t seq;

	if (n > NFTSET_ELEMS_PER_CALL)
		return -E2BIG;
	if (h->broken || h->len == 0 ||
	    nftset_reserve(h, NFTSET_MSG_OVERHEAD + n * NFTSET_ELEM_BYTES) < 0)
		goto nomem;
	s = nftset_build(set, e, n);
	if (s == NULL)
		goto nomem;
	seq = ++h->req.seq;
	nlh = nftnl_nlmsg_build_hdr(h->batch + h->len, type, set->family,
				    flags | NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (nftset_op_add(h, seq, what, set, n) < 0)
		goto nomem;
	h->len += NLMSG_ALIGN(nlh->nlmsg_len);
	return 0;
nomem:
	h->broken = true;
	return -ENOMEM;
}

int nftset_flush(struct nftset *h, const struct nftset_ref *set)
{
	return nftset_stage(h, NFT_MSG_DELSETELEM, 0, "flushing", set, NULL, 0);
}

int nftset_add(struct nftset *h, const struct nftset_ref *set,
	       const struct nftelem *e, size_t n)
{
	return nftset_stage(h, NFT_MSG_NEWSETELEM, NLM_F_CREATE, "adding",
			    set, e, n);
}

int nftset_delete(struct nftset *h, const struct nftset_ref *set,
		  const struct nftelem *e, size_t n)
{
	return nftset_stage(h, NFT_MSG_DELSETELEM, 0, "deleting", set, e, n);
}

static const char *nftset_hint(int error)
{
	switch (error) {
	case ENOENT: return "the table or the set does not exist, or an element to delete is not in it";
	case EINVAL: return "an element does not fit the set's type";
	case EEXIST:
	case ENOTEMPTY: return "an interval overlaps one already in the set";
	case EPERM: return "ftpgated lacks CAP_NET_ADMIN";
	case EOPNOTSUPP: return "is the nf_tables module loaded?";
	default: return "";
	}
}

/* The kernel refused the staged message with sequence number seq. */
static int nftset_refused(struct nftset *h, uint32_t seq, int error,
			  char *err, size_t errlen)
{
	const char *hint = nftset_hint(-error);
	size_t i;

	for (i = 0; i < h->n_ops; i++) {
		if (h->ops[i].seq != seq)
			continue;
		if (h->ops[i].count)
			snprintf(err, errlen, "%s %zu elements in set %s: %s%s%s%s",
				 h->ops[i].what, h->ops[i].count, h->ops[i].set,
				 strerror(-error), hint[0] ? " (" : "", hint,
				 hint[0] ? ")" : "");
		else
			snprintf(err, errlen, "%s set %s: %s%s%s%s", h->ops[i].what,
				 h->ops[i].set, strerror(-error), hint[0] ? " (" : "",
				 hint, hint[0] ? ")" : "");
		return error;
	}
	snprintf(err, errlen, "nftables refused the transaction: %s%s%s%s",
		 strerror(-error), hint[0] ? " (" : "", hint, hint[0] ? ")" : "");
	return error;
}

/* One datagram of answers: count acknowledgements, keep the first error.
 * Returns 1 when the batch's answer is complete. */
static int nftset_answers(struct nftset *h, int rem, size_t *acked,
			  int *first_error, uint32_t *error_seq)
{
	const struct nlmsghdr *m;

	for (m = (const struct nlmsghdr *)h->rbuf; mnl_nlmsg_ok(m, rem);
	     m = mnl_nlmsg_next(m, &rem)) {
		const struct nlmsgerr *e = mnl_nlmsg_get_payload(m);

		if (m->nlmsg_type != NLMSG_ERROR || m->nlmsg_seq < h->begin_seq ||
		    m->nlmsg_seq > h->req.seq ||
		    mnl_nlmsg_get_payload_len(m) < sizeof(*e))
			continue;
		if (e->error != 0 && *first_error == 0) {
			*first_error = e->error;
			*error_seq = m->nlmsg_seq;
		}
		if (m->nlmsg_seq == h->begin_seq)
			return 1;	/* the batch itself was refused */
		(*acked)++;
	}
	return *acked >= h->n_ops;
}

int nftset_commit(struct nftset *h, char *err, size_t errlen)
{
	size_t acked = 0;
	int first_error = 0;
	uint32_t error_seq = 0;

	if (h->broken) {
		snprintf(err, errlen, "out of memory while staging nftables set changes");
		return -ENOMEM;
	}
	if (h->n_ops == 0)
		return 0;
	if (nftset_reserve(h, NFTSET_MSG_OVERHEAD) < 0) {
		snprintf(err, errlen, "out of memory while staging nftables set changes");
		return -ENOMEM;
	}
	nftnl_batch_end(h->batch + h->len, ++h->req.seq);
	h->len += NLMSG_ALIGN(((struct nlmsghdr *)(h->batch + h->len))->nlmsg_len);
	if (mnl_socket_sendto(h->nl, h->batch, h->len) < 0) {
		int e = errno;

		snprintf(err, errlen, "cannot send nftables set changes: %s", strerror(e));
		return -e;
	}
	for (;;) {
		ssize_t n = mnl_socket_recvfrom(h->nl, h->rbuf, sizeof(h->rbuf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = (errno == EAGAIN || errno == EWOULDBLOCK) ? ETIMEDOUT : errno;

			snprintf(err, errlen, "no answer from nftables to set changes: %s",
				 strerror(e));
			return -e;
		}
		if (nftset_answers(h, (int)n, &acked, &first_error, &error_seq))
			break;
	}
	h->n_ops = 0;
	if (first_error != 0)
		return nftset_refused(h, error_seq, first_error, err, errlen);
	return 0;
}

struct nftset_listing {
	struct nftelem *out;
	size_t max, *count, *total;
};

static void nftset_take(struct nftset_listing *l, struct nftnl_set_elem *se)
{
	const void *key, *end;
	uint32_t klen = 0, elen = 0;
	struct nftelem *e;

	(*l->total)++;
	if (*l->count >= l->max)
		return;
	key = nftnl_set_elem_get(se, NFTNL_SET_ELEM_KEY, &klen);
	end = nftnl_set_elem_get(se, NFTNL_SET_ELEM_KEY_END, &elen);
	if (key == NULL || klen > NFTELEM_KEY_MAX)
		return;		/* not ours to judge: counted in total */
	e = &l->out[(*l->count)++];
	nftelem_init(e, end != NULL && elen == klen);
	memcpy(e->key, key, klen);
	if (e->interval)
		memcpy(e->key_end, end, elen);
	e->len = (uint8_t)klen;
}

int nftset_elems_parse(const struct nlmsghdr *nlh, struct nftelem *out,
		       size_t max, size_t *count, size_t *total)
{
	struct nftset_listing l = { out, max, count, total };
	struct nftnl_set *s = nftnl_set_alloc();
	struct nftnl_set_elems_iter *it;
	struct nftnl_set_elem *se;

	if (s == NULL)
		return -ENOMEM;
	if (nftnl_set_elems_nlmsg_parse(nlh, s) < 0) {
		nftnl_set_free(s);
		return -EPROTO;
	}
	it = nftnl_set_elems_iter_create(s);
	if (it == NULL) {
		nftnl_set_free(s);
		return -ENOMEM;
	}
	/* iter_next returns the current element and then advances (libnftnl
	 * src/set_elem.c): starting from iter_cur would take the first twice */
	while ((se = nftnl_set_elems_iter_next(it)) != NULL)
		nftset_take(&l, se);
	nftnl_set_elems_iter_destroy(it);
	nftnl_set_free(s);
	return 0;
}

static int nftset_list_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nftset_listing *l = data;

	return nftset_elems_parse(nlh, l->out, l->max, l->count, l->total);
}

int nftset_list(struct nftset *h, const struct nftset_ref *set,
		struct nftelem *out, size_t max, size_t *count, size_t *total,
		char *err, size_t errlen)
{
	char buf[NFTSET_MSG_OVERHEAD * 2] __attribute__((aligned(8))) = { 0 };
	struct nftset_listing l = { out, max, count, total };
	struct nftnl_set *s = nftset_build(set, NULL, 0);
	struct nlmsghdr *nlh;
	char name[NFTSET_REF_TEXT];
	int ret;

	*count = *total = 0;
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, set->family,
				    NLM_F_DUMP, 0);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	ret = nlrequest_talk(&h->req, nlh, nftset_list_cb, &l);
	if (ret < 0) {
		snprintf(err, errlen, "reading set %s: %s",
			 nftset_ref_format(set, name, sizeof(name)),
			 ret == -ENOENT ? "no such table or set" : strerror(-ret));
		return ret;
	}
	return 0;
}
