/* libFuzzer target: arbitrary bytes as one ctnetlink message through
 * ctnl_parse, the parse path of every conntrack and expectation message
 * ftpgated reads (events, dumps, answers): libnetfilter_conntrack's
 * nfct_nlmsg_parse / nfexp_nlmsg_parse and ctnl's conversion.
 *
 * Input layout: byte 0 picks the message type (bits 0-1: CT_NEW,
 * CT_DELETE, EXP_NEW, EXP_DELETE; bit 2 set: the raw next byte as the
 * subsystem's message type instead; bit 3 set: the attributes also go to
 * ctnl_parse_ct_attrs, as a queued packet's NFQA_CT in the nfgenmsg's
 * family, and its reading is compared with the library's); the rest is the payload after the netlink header (nfgenmsg,
 * then attributes). The message is copied into
 * a buffer of exactly its aligned length, zero-padded as in a receive
 * buffer (libmnl reads up to NLMSG_ALIGN(nlmsg_len)), so ASan sees any
 * read past it.
 *
 * libnetfilter_conntrack ends the process (exit(EXIT_FAILURE), "ctnetlink
 * kernel ABI is broken") on an attribute of the wrong size; only the
 * kernel or a CAP_NET_ADMIN process can send to ftpgated's sockets. This
 * target interposes exit() so that such a message returns here as
 * refused. Only the fuzzing thread is sent back: libFuzzer's RSS and
 * timeout threads call exit() too, and a longjmp from another thread's
 * stack crashes (CI run of 03c2352: SEGV with sp in the heap). The
 * half-parsed objects the longjmp leaves behind are tracked (nfct_new,
 * nfexp_new interposed) and destroyed, so memory stays flat and LSan
 * stays on (before, 20 million inputs grew RSS past 2 GB).
 *
 * Promise: no crash, no read outside the message, and a message that
 * parses has a known kind, both tuples of one family (IPv4 or IPv6), and
 * a NUL-terminated helper name. */
#include <dlfcn.h>
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>

#include "ctnl.h"
#include "../unit/ctnl_oracle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_ASSERT(c) do { if (!(c)) abort(); } while (0)

static _Thread_local jmp_buf fuzz_refused;
static _Thread_local volatile int fuzz_parsing;

/* The library's abi_breakage() calls exit() on the fuzzing thread: back to
 * the parse's caller. Every other exit (libFuzzer's own, from any thread)
 * goes to the real one. */
void exit(int status)
{
	void (*real_exit)(int);

	if (fuzz_parsing)
		longjmp(fuzz_refused, 1);
	real_exit = (void (*)(int))dlsym(RTLD_NEXT, "exit");
	real_exit(status);
	abort();
}

/* The conntrack and expectation objects alive in the current input: at
 * most one of each at a time in ctnl, a few more for slack. */
#define FUZZ_LIVE_MAX 8
static void *fuzz_live_ct[FUZZ_LIVE_MAX];
static void *fuzz_live_exp[FUZZ_LIVE_MAX];

static void fuzz_live_put(void **set, void *obj)
{
	for (int i = 0; obj != NULL && i < FUZZ_LIVE_MAX; i++)
		if (set[i] == NULL) {
			set[i] = obj;
			return;
		}
	FUZZ_ASSERT(obj == NULL);
}

static void fuzz_live_drop(void **set, const void *obj)
{
	for (int i = 0; i < FUZZ_LIVE_MAX; i++)
		if (set[i] == obj)
			set[i] = NULL;
}

static void *fuzz_real(const char *name)
{
	void *fn = dlsym(RTLD_NEXT, name);

	FUZZ_ASSERT(fn != NULL);
	return fn;
}

struct nf_conntrack *nfct_new(void)
{
	struct nf_conntrack *(*real)(void) = (struct nf_conntrack *(*)(void))fuzz_real("nfct_new");
	struct nf_conntrack *ct = real();

	fuzz_live_put(fuzz_live_ct, ct);
	return ct;
}

void nfct_destroy(struct nf_conntrack *ct)
{
	void (*real)(struct nf_conntrack *) = (void (*)(struct nf_conntrack *))fuzz_real("nfct_destroy");

	fuzz_live_drop(fuzz_live_ct, ct);
	real(ct);
}

struct nf_expect *nfexp_new(void)
{
	struct nf_expect *(*real)(void) = (struct nf_expect *(*)(void))fuzz_real("nfexp_new");
	struct nf_expect *exp = real();

	fuzz_live_put(fuzz_live_exp, exp);
	return exp;
}

void nfexp_destroy(struct nf_expect *exp)
{
	void (*real)(struct nf_expect *) = (void (*)(struct nf_expect *))fuzz_real("nfexp_destroy");

	fuzz_live_drop(fuzz_live_exp, exp);
	real(exp);
}

/* After a refused parse: destroy what the longjmp left behind. */
static void fuzz_live_destroy_all(void)
{
	for (int i = 0; i < FUZZ_LIVE_MAX; i++) {
		if (fuzz_live_ct[i] != NULL)
			nfct_destroy(fuzz_live_ct[i]);
		if (fuzz_live_exp[i] != NULL)
			nfexp_destroy(fuzz_live_exp[i]);
	}
}

static const uint16_t fuzz_types[] = {
	NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_NEW,
	NFNL_SUBSYS_CTNETLINK << 8 | IPCTNL_MSG_CT_DELETE,
	NFNL_SUBSYS_CTNETLINK_EXP << 8 | IPCTNL_MSG_EXP_NEW,
	NFNL_SUBSYS_CTNETLINK_EXP << 8 | IPCTNL_MSG_EXP_DELETE,
};

static void fuzz_check_tuple(const struct flow *t)
{
	FUZZ_ASSERT(t->src.family == AF_INET || t->src.family == AF_INET6);
	FUZZ_ASSERT(t->dst.family == t->src.family);
}

static void fuzz_check(const struct ctnl_msg *m)
{
	FUZZ_ASSERT(m->kind != CTNL_OTHER);
	fuzz_check_tuple(&m->tuple);
	if (m->has_master)
		fuzz_check_tuple(&m->master);
	FUZZ_ASSERT(memchr(m->helper, '\0', sizeof(m->helper)) != NULL);
	FUZZ_ASSERT(m->kind == CTNL_CT_NEW || m->kind == CTNL_CT_DELETE ||
		    m->has_master);
}

/* The same attributes as a queued packet's NFQA_CT: the direct reader
 * (ctnl_queued.c) must not crash, and wherever the library reads them
 * (tests/unit/ctnl_oracle.h) it must read the same. Where the library
 * ends the process instead, the exit comes back here as refused. */
static void fuzz_ct_attrs(const struct nlmsghdr *nlh)
{
	const struct nfgenmsg *nfg = mnl_nlmsg_get_payload(nlh);
	const char *attrs = (const char *)nfg + sizeof(*nfg);
	size_t len = mnl_nlmsg_get_payload_len(nlh) - sizeof(*nfg);
	struct ctnl_ct got, want;
	int rc;

	rc = ctnl_parse_ct_attrs(attrs, len, nfg->nfgen_family, &got);
	if (rc == 0)
		fuzz_check_tuple(&got.orig);
	else
		FUZZ_ASSERT(rc == -EINVAL);
	fuzz_parsing = 1;
	if (setjmp(fuzz_refused) == 0 &&
	    ctnl_oracle_read(attrs, len, nfg->nfgen_family, &want) == 0) {
		FUZZ_ASSERT(rc == 0);
		FUZZ_ASSERT(ctnl_oracle_same(&got, &want));
	}
	fuzz_parsing = 0;
	fuzz_live_destroy_all();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nlmsghdr *nlh;
	struct ctnl_msg m;
	uint16_t type;
	size_t skip = 1;
	int rc;

	if (size < 1 || size > 65536)
		return 0;
	type = fuzz_types[data[0] & 3];
	if ((data[0] & 4) && size >= 2) {
		type = (uint16_t)((type & 0xff00) | data[1]);
		skip = 2;
	}
	nlh = calloc(1, NLMSG_ALIGN(NLMSG_HDRLEN + size - skip));
	if (nlh == NULL)
		return 0;
	nlh->nlmsg_len = (uint32_t)(NLMSG_HDRLEN + size - skip);
	nlh->nlmsg_type = type;
	memcpy((char *)nlh + NLMSG_HDRLEN, data + skip, size - skip);

	fuzz_parsing = 1;
	if (setjmp(fuzz_refused) == 0) {
		rc = ctnl_parse(nlh, &m);
		fuzz_parsing = 0;
		if (rc == 0)
			fuzz_check(&m);
		else
			FUZZ_ASSERT(rc == -ENOENT || rc == -EINVAL || rc == -ENOMEM);
	}
	fuzz_parsing = 0;
	fuzz_live_destroy_all();
	if ((data[0] & 8) && size - skip >= sizeof(struct nfgenmsg))
		fuzz_ct_attrs(nlh);
	free(nlh);
	return 0;
}
