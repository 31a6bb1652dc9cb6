#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/netfilter/nf_conntrack_common.h>
#include "harness.h"
#include "packet.h"
#include "tcp_build.h"

#define HARNESS_ISN_CLIENT 1000
#define HARNESS_ISN_SERVER 5000

bool harness_light;

static struct harness *harness_of(struct daemon *d)
{
	return (struct harness *)(void *)((char *)d - offsetof(struct harness, d));
}

/* ---- the fake kernel ------------------------------------------------- */


static struct fake_expect *fake_find(struct fake_kernel *k,
				     const struct expect_request *r)
{
	unsigned i;

	for (i = 0; i < k->expect_count; i++)
		if (k->expect[i].live && flow_equal(&k->expect[i].r.expect, &r->expect))
			return &k->expect[i];
	return NULL;
}

static void fake_log(struct fake_kernel *k, char op,
		     const struct expect_request *r, int ret)
{
	if (k->op_count >= FAKE_OPS_MAX)
		return;
	k->op[k->op_count].op = op;
	k->op[k->op_count].r = *r;
	k->op[k->op_count].r.helper_name = NULL;
	k->op[k->op_count].ret = ret;
	k->op_count++;
}

static void fake_event(struct fake_kernel *k, const struct ctnl_msg *m)
{
	if (k->event_count < FAKE_EVENTS_MAX)
		k->event[k->event_count++] = *m;
}

/* An expectation leaves the table: IPEXP_DESTROY. */
static void fake_expect_gone(struct fake_kernel *k, struct fake_expect *x)
{
	struct ctnl_msg m;

	x->live = false;
	if (k->master_no_events)
		return;
	memset(&m, 0, sizeof(m));
	m.kind = CTNL_EXP_DELETE;
	m.family = x->r.expect.dst.family;
	m.tuple = x->r.expect;
	m.proto = IPPROTO_TCP;
	m.has_master = true;
	m.master = x->r.master;
	m.id = x->id;
	snprintf(m.helper, sizeof(m.helper), "%s", CONFIG_HELPER_NAME);
	fake_event(k, &m);
}

static int fake_verdict_accept(struct daemon *d, uint32_t packet_id, bool now)
{
	if (packet_id == 0)	/* a copy's: the kernel would refuse it */
		harness_of(d)->k.copy_verdicts++;
	harness_of(d)->k.verdicts++;
	if (now)
		harness_of(d)->k.verdicts_now++;
	return 0;
}

/* The packet's TCP payload with the span replaced, recorded. */
static int fake_verdict_rewrite(struct daemon *d, const struct queue_packet *qp,
				size_t off, size_t old_len, const char *rep,
				size_t rep_len)
{
	struct fake_kernel *k = &harness_of(d)->k;
	struct packet_info pkt;

	if (qp->copy || qp->packet_id == 0)
		k->copy_verdicts++;
	if (k->rewrite_error)
		return -k->rewrite_error;
	if (packet_parse(qp->data, qp->len, &pkt) < 0 ||
	    off + old_len > pkt.payload_len ||
	    pkt.payload_len - old_len + rep_len > sizeof(k->rewritten))
		return -EINVAL;
	memcpy(k->rewritten, pkt.payload, off);
	memcpy(k->rewritten + off, rep, rep_len);
	memcpy(k->rewritten + off + rep_len, pkt.payload + off + old_len,
	       pkt.payload_len - off - old_len);
	k->rewritten_len = pkt.payload_len - old_len + rep_len;
	k->seqadj_diff += (int)rep_len - (int)old_len;
	k->rewrites++;
	k->verdicts++;
	return 0;
}

static void fake_expect_msg(const struct fake_expect *x, struct ctnl_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = CTNL_EXP_NEW;
	m->family = x->r.expect.dst.family;
	m->tuple = x->r.expect;
	m->proto = IPPROTO_TCP;
	m->has_master = true;
	m->master = x->r.master;
	m->id = x->id;
	m->timeout_s = x->r.timeout_s;
	m->nat = x->r.nat;
	snprintf(m->helper, sizeof(m->helper), "%s", CONFIG_HELPER_NAME);
}

/* A new expectation in the table: IPEXP_NEW (the kernel reports ours
 * too). */
static struct fake_expect *fake_expect_new(struct fake_kernel *k,
					   const struct expect_request *r)
{
	struct fake_expect *x = &k->expect[k->expect_count++];
	struct ctnl_msg m;

	x->r = *r;
	x->r.helper_name = NULL;
	x->id = ++k->next_id;
	x->live = true;
	if (!k->master_no_events) {
		fake_expect_msg(x, &m);
		fake_event(k, &m);
	}
	return x;
}

static int fake_expect_install(struct daemon *d, const struct expect_request *r,
			       char *err, size_t errlen)
{
	struct fake_kernel *k = &harness_of(d)->k;
	struct fake_expect *x = fake_find(k, r);
	int ret = 0;

	if (x != NULL && !flow_equal(&x->r.master, &r->master)) {
		snprintf(err, errlen, "clashes with another expectation");
		ret = -EBUSY;
	} else if (x == NULL && k->expect_count >= FAKE_EXPECT_MAX) {
		snprintf(err, errlen, "fake expectation table full");
		ret = -EMFILE;
	} else if (x == NULL) {
		fake_expect_new(k, r);
	}
	fake_log(k, 'I', r, ret);
	return ret;
}

static int fake_expect_remove(struct daemon *d, const struct expect_request *r,
			      char *err, size_t errlen)
{
	struct fake_kernel *k = &harness_of(d)->k;
	struct fake_expect *x = fake_find(k, r);
	int ret = 0;

	(void)err;
	(void)errlen;
	if (x == NULL)
		ret = -ENOENT;
	else if (!flow_equal(&x->r.master, &r->master))
		ret = -EBUSY;
	else
		fake_expect_gone(k, x);
	fake_log(k, 'R', r, ret);
	return ret;
}

static int fake_expect_lookup(struct daemon *d, const struct expect_request *r,
			      struct ctnl_msg *out)
{
	struct fake_expect *x = fake_find(&harness_of(d)->k, r);

	if (x == NULL)
		return -ENOENT;
	fake_expect_msg(x, out);
	return 0;
}

static int fake_expect_list(struct daemon *d, const char *helper_name,
			    void (*cb)(const struct ctnl_msg *m, void *data),
			    void *data)
{
	struct fake_kernel *k = &harness_of(d)->k;
	struct ctnl_msg m;
	unsigned i;

	(void)helper_name;
	for (i = 0; i < k->expect_count; i++) {
		if (!k->expect[i].live)
			continue;
		fake_expect_msg(&k->expect[i], &m);
		cb(&m, data);
	}
	return 0;
}

/* The harness's control connection, original direction. */
static struct flow fake_control(const struct harness *h)
{
	return (struct flow){ h->client, h->server, h->client_port, h->server_port };
}

static int fake_conntrack_exists(struct daemon *d, const struct flow *orig)
{
	struct harness *h = harness_of(d);
	struct flow control = fake_control(h);

	return !h->k.master_gone && flow_equal(orig, &control);
}

static int fake_events_receive(struct daemon *d, events_cb cb, void *data)
{
	struct fake_kernel *k = &harness_of(d)->k;
	struct ctnl_msg batch[FAKE_EVENTS_MAX];
	unsigned i, n = k->event_count;

	/* the callback may queue more (it does not today); read a copy */
	memcpy(batch, k->event, n * sizeof(batch[0]));
	k->event_count = 0;
	for (i = 0; i < n; i++)
		cb(&batch[i], data);
	return (int)n;
}

static unsigned long fake_events_overruns(struct daemon *d)
{
	(void)d;
	return 0;
}

static const struct kernel_ops fake_kernel_ops = {
	.verdict_accept = fake_verdict_accept,
	.verdict_rewrite = fake_verdict_rewrite,
	.expect_install = fake_expect_install,
	.expect_remove = fake_expect_remove,
	.expect_lookup = fake_expect_lookup,
	.expect_list = fake_expect_list,
	.conntrack_exists = fake_conntrack_exists,
	.events_receive = fake_events_receive,
	.events_overruns = fake_events_overruns,
};

/* ---- set-up ---------------------------------------------------------- */

static void harness_die(const char *what, const char *why)
{
	fprintf(stderr, "harness: %s: %s\n", what, why);
	abort();
}

static void harness_config(struct harness *h, const char *text)
{
	char path[] = "/tmp/ftpgate-harness-conf-XXXXXX";
	char err[512] = "";
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		harness_die("config", strerror(errno));
	close(fd);
	if (config_load(path, &h->d.config, err, sizeof(err)) < 0)
		harness_die("config", err);
	unlink(path);
}

void harness_init(struct harness *h, const char *client, const char *server,
		  const char *config, uint64_t started_ago_ms)
{
	struct daemon *d = &h->d;
	char err[512] = "";
	int fd;

	memset(h, 0, sizeof(*h));
	d->kernel = &fake_kernel_ops;
	d->signal_fd = -1;
	d->audit.fd = -1;
	d->config_path = "(harness)";
	config_init_defaults(&d->config);
	if (config)
		harness_config(h, config);
	snprintf(h->audit_path, sizeof(h->audit_path), "none");
	if (!harness_light) {
		snprintf(h->audit_path, sizeof(h->audit_path),
			 "/tmp/ftpgate-harness-audit-XXXXXX");
		fd = mkstemp(h->audit_path);
		if (fd < 0)
			harness_die("audit log", strerror(errno));
		close(fd);
	}
	if (audit_open(&d->audit, h->audit_path, err, sizeof(err)) < 0)
		harness_die("audit log", err);
	if (harness_light)
		d->config.max_sessions = HARNESS_LIGHT_SESSIONS;
	if (session_table_create(&d->sessions, d->config.max_sessions) < 0 ||
	    pinhole_table_create(&d->pinholes, harness_light ? HARNESS_LIGHT_PINHOLES
							    : DAEMON_PINHOLES_MAX) < 0 ||
	    pressure_init(&d->pressure, d->config.pressure_window_s,
			  d->config.time_wait_s) < 0)
		harness_die("set-up", "out of memory");
	d->start_ms = daemon_now_ms() - started_ago_ms;
	h->client = tcp_build_addr(client);
	h->server = tcp_build_addr(server);
	h->client_port = 50000;
	h->server_port = 21;
	h->conntrack_id = 1000;
	h->next_seq[HARNESS_CLIENT] = HARNESS_ISN_CLIENT;
	h->next_seq[HARNESS_SERVER] = HARNESS_ISN_SERVER;
	h->ifindex[HARNESS_CLIENT] = 2;
	h->ifindex[HARNESS_SERVER] = 3;
}

void harness_fini(struct harness *h)
{
	struct daemon *d = &h->d;

	session_table_destroy(d->sessions);
	pinhole_table_destroy(d->pinholes);
	pressure_free(&d->pressure);
	audit_close(&d->audit);
	if (!harness_light)
		unlink(h->audit_path);
	config_free(&d->config);
}

/* ---- packets --------------------------------------------------------- */

void harness_segment(struct harness *h, int from, uint8_t flags, uint32_t seq,
		     uint32_t ack, const void *payload, size_t len,
		     uint32_t ifindex)
{
	static uint8_t buf[TCP_BUILD_HEADROOM + 65536];
	struct tcp_segment s = {
		.src = from == HARNESS_CLIENT ? &h->client : &h->server,
		.dst = from == HARNESS_CLIENT ? &h->server : &h->client,
		.sport = from == HARNESS_CLIENT ? h->client_port : h->server_port,
		.dport = from == HARNESS_CLIENT ? h->server_port : h->client_port,
		.seq = seq, .ack = ack, .flags = flags,
		.urg_ptr = h->urg_ptr, .payload = payload, .len = len,
	};
	struct queue_packet qp;

	memset(&qp, 0, sizeof(qp));
	qp.copy = h->d.config.capture_replies &&
		  (len == 0 || (from == HARNESS_CLIENT && !h->client_held));
	qp.packet_id = qp.copy ? 0 : ++h->packet_id;
	qp.data = buf;
	qp.len = tcp_build(buf, sizeof(buf), &s);
	if (qp.len == 0)
		harness_die("segment", "does not fit");
	qp.has_conntrack = true;
	qp.conntrack_id = h->conntrack_id;
	qp.reply_direction = from == HARNESS_SERVER;
	qp.conntrack_info = qp.reply_direction ? 3 : 0;	/* IP_CT_IS_REPLY */
	qp.orig = fake_control(h);
	if (h->nat) {
		qp.has_reply = true;
		qp.reply = h->reply;
		qp.ct_status = IPS_CONFIRMED | IPS_DST_NAT | IPS_SRC_NAT;
		if (h->k.seqadj_diff != 0 && !h->k.no_seqadj_ext)
			qp.ct_status |= IPS_SEQ_ADJUST;
	}
	qp.l4proto = IPPROTO_TCP;
	qp.indev = ifindex;
	/* routed toward the receiver, wherever it came in */
	qp.outdev = h->ifindex[!from];
	qp.expected = h->ct_expected;
	qp.closing = h->ct_closing;
	inspect_packet(&qp, &h->d);
}

void harness_nat(struct harness *h, const char *real_server,
		 const char *nat_client, uint16_t nat_client_port)
{
	h->nat = true;
	h->reply = (struct flow){ tcp_build_addr(real_server),
				  tcp_build_addr(nat_client), h->server_port,
				  nat_client_port };
}

/* The control connection's conntrack NEW event, as the kernel sends it. */
static void fake_control_msg(const struct harness *h, struct ctnl_msg *m)
{
	memset(m, 0, sizeof(*m));
	m->kind = CTNL_CT_NEW;
	m->family = h->client.family;
	m->tuple = fake_control(h);
	m->proto = IPPROTO_TCP;
	m->id = h->conntrack_id;
}

/* The conntrack's NEW event, sent when the SYN's verdict confirms it. */
static void fake_conntrack_new(struct harness *h)
{
	struct ctnl_msg m;

	if (h->k.master_no_events || h->ct_expected)
		return;
	fake_control_msg(h, &m);
	fake_event(&h->k, &m);
}

void harness_synced(struct harness *h)
{
	struct ctnl_msg m;

	fake_control_msg(h, &m);
	m.status = IPS_SEEN_REPLY | IPS_ASSURED | IPS_CONFIRMED;
	snprintf(m.helper, sizeof(m.helper), "%s", CONFIG_HELPER_NAME);
	m.has_reply = true;
	m.reply = h->nat ? h->reply : (struct flow){ h->server, h->client,
						     h->server_port, h->client_port };
	if (h->nat)
		m.status |= IPS_DST_NAT;
	fake_event(&h->k, &m);
	pinholes_drain_events(&h->d);
}

void harness_synced_expect(struct harness *h, const char *addr, uint16_t port)
{
	struct expect_request r;

	if (h->k.expect_count >= FAKE_EXPECT_MAX)
		harness_die("synced expectation", "fake expectation table full");
	memset(&r, 0, sizeof(r));
	r.master = fake_control(h);
	r.expect = (struct flow){ h->client, tcp_build_addr(addr), 0, port };
	r.timeout_s = 300;
	fake_expect_new(&h->k, &r);
	pinholes_drain_events(&h->d);
}

void harness_data_connection(struct harness *h, const char *addr, uint16_t port)
{
	harness_data_connection_unread(h, addr, port);
	pinholes_drain_events(&h->d);
}

void harness_data_connection_unread(struct harness *h, const char *addr, uint16_t port)
{
	struct fake_kernel *k = &h->k;
	struct inet_addr a = tcp_build_addr(addr);
	struct ctnl_msg m;
	unsigned i;

	for (i = 0; i < k->expect_count; i++) {
		struct fake_expect *x = &k->expect[i];

		if (!x->live || x->r.expect.dport != port ||
		    !inet_addr_equal(&x->r.expect.dst, &a))
			continue;
		fake_expect_gone(k, x);
		memset(&m, 0, sizeof(m));
		m.kind = CTNL_CT_NEW;
		m.family = a.family;
		m.tuple = (struct flow){ x->r.expect.src, a, 40000, port };
		m.proto = IPPROTO_TCP;
		m.has_master = true;
		m.master = x->r.master;
		m.id = ++k->next_id;
		m.status = IPS_EXPECTED;
		fake_event(k, &m);
		return;
	}
	harness_die("data connection", "no live expectation for that port");
}

void harness_expect_replace(struct harness *h, const char *addr, uint16_t port)
{
	struct fake_kernel *k = &h->k;
	struct inet_addr a = tcp_build_addr(addr);
	unsigned i;

	for (i = 0; i < k->expect_count; i++) {
		struct fake_expect *x = &k->expect[i];
		struct expect_request r;

		if (!x->live || x->r.expect.dport != port || !inet_addr_equal(&x->r.expect.dst, &a))
			continue;
		r = x->r;
		fake_expect_gone(k, x);
		if (k->expect_count >= FAKE_EXPECT_MAX)
			harness_die("replaced expectation", "fake expectation table full");
		fake_expect_new(k, &r);
		pinholes_drain_events(&h->d);
		return;
	}
	harness_die("replaced expectation", "no live expectation for that port");
}

void harness_handshake(struct harness *h)
{
	harness_segment(h, HARNESS_CLIENT, TCP_BUILD_SYN,
			h->next_seq[HARNESS_CLIENT]++, 0, NULL, 0,
			h->ifindex[HARNESS_CLIENT]);
	fake_conntrack_new(h);
	harness_segment(h, HARNESS_SERVER, TCP_BUILD_SYN | TCP_BUILD_ACK,
			h->next_seq[HARNESS_SERVER]++, h->next_seq[HARNESS_CLIENT],
			NULL, 0, h->ifindex[HARNESS_SERVER]);
	harness_segment(h, HARNESS_CLIENT, TCP_BUILD_ACK,
			h->next_seq[HARNESS_CLIENT], h->next_seq[HARNESS_SERVER],
			NULL, 0, h->ifindex[HARNESS_CLIENT]);
}

void harness_send(struct harness *h, int from, const char *text)
{
	size_t len = strlen(text);

	harness_segment(h, from, TCP_BUILD_ACK | TCP_BUILD_PSH,
			h->next_seq[from], h->next_seq[!from], text, len,
			h->ifindex[from]);
	h->next_seq[from] += (uint32_t)len;
}

void harness_forge(struct harness *h, int from, const char *text,
		   uint32_t ifindex)
{
	harness_segment(h, from, TCP_BUILD_ACK | TCP_BUILD_PSH,
			h->next_seq[from], h->next_seq[!from], text,
			strlen(text), ifindex);
}

void harness_login(struct harness *h)
{
	harness_handshake(h);
	harness_send(h, HARNESS_SERVER, "220 harness FTP server ready\r\n");
	harness_send(h, HARNESS_CLIENT, "USER anonymous\r\n");
	harness_send(h, HARNESS_SERVER, "331 password please\r\n");
	harness_send(h, HARNESS_CLIENT, "PASS guest\r\n");
	harness_send(h, HARNESS_SERVER, "230 logged in\r\n");
}

void harness_conntrack_destroy(struct harness *h)
{
	struct fake_kernel *k = &h->k;
	struct flow control = fake_control(h);
	struct ctnl_msg m;
	unsigned i;

	for (i = 0; i < k->expect_count; i++)
		if (k->expect[i].live && flow_equal(&k->expect[i].r.master, &control))
			fake_expect_gone(k, &k->expect[i]);
	memset(&m, 0, sizeof(m));
	m.kind = CTNL_CT_DELETE;
	m.family = h->client.family;
	m.tuple = control;
	m.proto = IPPROTO_TCP;
	m.id = h->conntrack_id;
	if (!k->master_no_events)
		fake_event(k, &m);
	k->master_gone = true;
	pinholes_drain_events(&h->d);
}

void harness_expect_flush(struct harness *h)
{
	struct fake_kernel *k = &h->k;
	unsigned i;

	for (i = 0; i < k->expect_count; i++)
		if (k->expect[i].live)
			fake_expect_gone(k, &k->expect[i]);
	pinholes_drain_events(&h->d);
}

/* ---- questions ------------------------------------------------------- */

const struct expect_request *harness_expect(const struct harness *h,
					    const char *addr, uint16_t port)
{
	struct inet_addr a = tcp_build_addr(addr);
	unsigned i;

	for (i = 0; i < h->k.expect_count; i++) {
		const struct fake_expect *x = &h->k.expect[i];

		if (x->live && x->r.expect.dport == port &&
		    inet_addr_equal(&x->r.expect.dst, &a))
			return &x->r;
	}
	return NULL;
}

bool harness_pinhole(const struct harness *h, const char *addr, uint16_t port)
{
	return harness_expect(h, addr, port) != NULL;
}

unsigned harness_pinholes(const struct harness *h)
{
	unsigned i, n = 0;

	for (i = 0; i < h->k.expect_count; i++)
		n += h->k.expect[i].live;
	return n;
}

unsigned harness_installs(const struct harness *h)
{
	unsigned i, n = 0;

	for (i = 0; i < h->k.op_count; i++)
		n += h->k.op[i].op == 'I' && h->k.op[i].ret == 0;
	return n;
}

bool harness_tracked(struct harness *h)
{
	return session_table_find(h->d.sessions, h->conntrack_id) != NULL;
}

unsigned harness_audit_count(const struct harness *h, const char *needle)
{
	FILE *f = fopen(h->audit_path, "re");
	char line[4096];
	unsigned n = 0;

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, needle) != NULL;
	fclose(f);
	return n;
}

/* Whether p starts a timestamp as audit_format_time writes it. */
static bool harness_is_time(const char *p)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	size_t i;

	for (i = 0; shape[i]; i++) {
		if (p[i] == '\0')
			return false;
		if (shape[i] == 'd' ? (p[i] < '0' || p[i] > '9') : p[i] != shape[i])
			return false;
	}
	return true;
}

const char *harness_audit_last(const struct harness *h, const char *event,
			       char *buf, size_t len)
{
	FILE *f = fopen(h->audit_path, "re");
	char line[4096], needle[128];
	const char *p;
	size_t n = 0;

	buf[0] = '\0';
	if (f == NULL || len == 0)
		return buf;
	snprintf(needle, sizeof(needle), "\"event\":\"%s\"", event);
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, needle) == NULL)
			continue;
		for (n = 0, p = line; *p && *p != '\n' && n + 5 < len; ) {
			if (harness_is_time(p)) {
				memcpy(buf + n, "TIME", 4);
				n += 4;
				p += 24;
			} else {
				buf[n++] = *p++;
			}
		}
		buf[n] = '\0';
	}
	fclose(f);
	return buf;
}
