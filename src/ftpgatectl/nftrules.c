/* nftrules: a summary of `nft -j list ruleset` for ftpgatectl doctor (see
 * include/nftrules.h). jansson parses; this walks nft's schema:
 * {"nftables": [{"table": ...}, {"chain": ...}, {"set": ...},
 * {"ct helper": ...}, {"rule": {"expr": [...]}}, ...]}. */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <jansson.h>

#include "nftrules.h"

#define NFTRULES_PORT_RANGES_MAX 256	/* port ranges of one match we follow */
#define NFTRULES_WALK_MAX 65536	/* chains visited over all base chains */

struct nftrules_chain {
	const char *family, *table, *name, *hook, *type, *policy;
	int prio;
	bool base;
	size_t first_rule, rule_count;	/* into nftrules_ctx.rules */
	unsigned seen;			/* walk generation */
};

struct nftrules_ctx {
	json_t *items;
	const char *helper;
	const struct nftrules_port_range *passive;
	size_t npassive;
	struct nftrules_chain *chains;
	size_t nchains;
	json_t **rules;			/* grouped by chain */
	size_t nrules;
	struct nftrules_summary *out;
	unsigned generation, walked;
};

struct nftrules_ports {
	struct nftrules_port_range r[NFTRULES_PORT_RANGES_MAX];
	unsigned n;
	bool unknown;			/* a form we do not follow */
};

/* What one rule does, as far as doctor cares. */
struct nftrules_rule_facts {
	bool accept, drop, helper_match, tcp_possible, new_possible, has_ports;
	bool grant_match;		/* a lookup in ftpgate's grant sets:
					   ftpgated decides what it admits */
	const char *jump, *helper_set;
	struct nftrules_ports ports;		/* the ports it admits when has_ports */
};

__attribute__((format(printf, 3, 4)))
static void nftrules_seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static const char *nftrules_str(json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));

	return s != NULL ? s : "";
}

static void nftrules_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src);
}

void nftrules_where_format(const struct nftrules_where *w, char *buf,
			   size_t len)
{
	snprintf(buf, len, "%s %s %s handle %" PRIu64, w->family, w->table,
		 w->chain, w->handle);
}

/* ---- chain priorities ------------------------------------------------ */

/* nft prints a number; be ready for the standard names too ("filter",
 * "dstnat - 10"). Unknown text: 0 and false. */
static bool nftrules_prio_parse(json_t *v, int *prio)
{
	static const struct { const char *name; int value; } names[] = {
		{ "raw", -300 }, { "mangle", -150 }, { "dstnat", -100 },
		{ "filter", 0 }, { "security", 50 }, { "srcnat", 100 },
	};
	const char *s = json_string_value(v);
	size_t i, n;

	if (json_is_integer(v)) {
		*prio = (int)json_integer_value(v);
		return true;
	}
	if (s == NULL)
		return false;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		n = strlen(names[i].name);
		if (strncmp(s, names[i].name, n) != 0)
			continue;
		*prio = names[i].value;
		if (s[n] == '\0')
			return true;
		if (s[n] == ' ' && (s[n + 1] == '+' || s[n + 1] == '-') && s[n + 2] == ' ') {
			long d = strtol(s + n + 3, NULL, 10);

			*prio += s[n + 1] == '+' ? (int)d : -(int)d;
			return true;
		}
	}
	return false;
}

/* ---- the object list ------------------------------------------------- */

static json_t *nftrules_item(json_t *item, const char *kind)
{
	return json_object_get(item, kind);
}

static struct nftrules_chain *nftrules_chain_find(struct nftrules_ctx *c, const char *family,
						  const char *table, const char *name)
{
	size_t i;

	/* chains are bounded by NFTRULES_CHAINS_MAX */
	for (i = 0; i < c->nchains; i++) {
		struct nftrules_chain *ch = &c->chains[i];

		if (strcmp(ch->name, name) == 0 && strcmp(ch->table, table) == 0 &&
		    strcmp(ch->family, family) == 0)
			return ch;
	}
	return NULL;
}

static void nftrules_chain_note_nat(struct nftrules_ctx *c, const struct nftrules_chain *ch)
{
	if (strcmp(ch->type, "nat") != 0 || c->out->nat)
		return;
	c->out->nat = true;
	snprintf(c->out->nat_chain, sizeof(c->out->nat_chain), "%s %s %s",
		 ch->family, ch->table, ch->name);
}

static int nftrules_chains_collect(struct nftrules_ctx *c)
{
	size_t i, n = 0;
	json_t *item, *ch;

	json_array_foreach(c->items, i, item)
		if (nftrules_item(item, "chain") != NULL)
			n++;
	if (n > NFTRULES_CHAINS_MAX)
		return -E2BIG;
	c->chains = calloc(n ? n : 1, sizeof(*c->chains));
	if (c->chains == NULL)
		return -ENOMEM;
	json_array_foreach(c->items, i, item) {
		struct nftrules_chain *x;

		ch = nftrules_item(item, "chain");
		if (ch == NULL)
			continue;
		x = &c->chains[c->nchains++];
		x->family = nftrules_str(ch, "family");
		x->table = nftrules_str(ch, "table");
		x->name = nftrules_str(ch, "name");
		x->hook = nftrules_str(ch, "hook");
		x->type = nftrules_str(ch, "type");
		x->policy = nftrules_str(ch, "policy");
		x->base = x->hook[0] != '\0' && nftrules_prio_parse(json_object_get(ch, "prio"), &x->prio);
		nftrules_chain_note_nat(c, x);
	}
	c->out->chains = (unsigned)c->nchains;
	return 0;
}

/* Rules grouped by chain: count per chain, then place. Rules of chains
 * we do not know (none in nft's output) are left out. */
static int nftrules_rules_group(struct nftrules_ctx *c)
{
	size_t i, k, *fill;
	json_t *item, *r;
	struct nftrules_chain **owner, *last = NULL;
	size_t n = json_array_size(c->items);

	owner = calloc(n ? n : 1, sizeof(*owner));
	fill = calloc(c->nchains ? c->nchains : 1, sizeof(*fill));
	c->rules = calloc(n ? n : 1, sizeof(*c->rules));
	if (owner == NULL || fill == NULL || c->rules == NULL) {
		free(owner);
		free(fill);
		return -ENOMEM;
	}
	json_array_foreach(c->items, i, item) {
		r = nftrules_item(item, "rule");
		if (r == NULL)
			continue;
		/* nft lists a chain's rules together: try the last one first */
		if (last != NULL && strcmp(last->name, nftrules_str(r, "chain")) == 0 &&
		    strcmp(last->table, nftrules_str(r, "table")) == 0 &&
		    strcmp(last->family, nftrules_str(r, "family")) == 0)
			owner[i] = last;
		else
			owner[i] = nftrules_chain_find(c, nftrules_str(r, "family"), nftrules_str(r, "table"),
						       nftrules_str(r, "chain"));
		last = owner[i];
		if (owner[i] != NULL)
			owner[i]->rule_count++;
		c->out->rules++;
	}
	for (k = 0, i = 0; k < c->nchains; k++) {
		c->chains[k].first_rule = i;
		i += c->chains[k].rule_count;
	}
	json_array_foreach(c->items, i, item) {
		if (owner[i] == NULL)
			continue;
		k = (size_t)(owner[i] - c->chains);
		c->rules[owner[i]->first_rule + fill[k]++] = nftrules_item(item, "rule");
		c->nrules++;
	}
	free(owner);
	free(fill);
	return 0;
}

static void nftrules_helpers_collect(struct nftrules_ctx *c)
{
	size_t i;
	json_t *item, *h;

	json_array_foreach(c->items, i, item) {
		if (nftrules_item(item, "table") != NULL)
			c->out->tables++;
		h = nftrules_item(item, "ct helper");
		if (h == NULL || strcmp(nftrules_str(h, "type"), c->helper) != 0)
			continue;
		if (c->out->helper_objects++ == 0)
			snprintf(c->out->object, sizeof(c->out->object), "%s %s %s",
				 nftrules_str(h, "family"), nftrules_str(h, "table"), nftrules_str(h, "name"));
	}
}

/* Is NAME (in family/table) a ct helper object of our type? */
static bool nftrules_helper_object(struct nftrules_ctx *c, const char *family,
				   const char *table, const char *name)
{
	size_t i;
	json_t *item, *h;

	json_array_foreach(c->items, i, item) {
		h = nftrules_item(item, "ct helper");
		if (h != NULL && strcmp(nftrules_str(h, "name"), name) == 0 &&
		    strcmp(nftrules_str(h, "table"), table) == 0 &&
		    strcmp(nftrules_str(h, "family"), family) == 0)
			return strcmp(nftrules_str(h, "type"), c->helper) == 0;
	}
	return false;
}

static json_t *nftrules_set_find(struct nftrules_ctx *c, const char *family,
				 const char *table, const char *name)
{
	size_t i;
	json_t *item, *s;

	json_array_foreach(c->items, i, item) {
		s = nftrules_item(item, "set");
		if (s != NULL && strcmp(nftrules_str(s, "name"), name) == 0 &&
		    strcmp(nftrules_str(s, "table"), table) == 0 &&
		    strcmp(nftrules_str(s, "family"), family) == 0)
			return s;
	}
	return NULL;
}

/* ---- port sets ------------------------------------------------------- */

static void nftrules_ports_add(struct nftrules_ports *p, long low, long high)
{
	if (low < 0 || high > 65535 || low > high) {
		p->unknown = true;
		return;
	}
	if (p->n == NFTRULES_PORT_RANGES_MAX) {
		p->unknown = true;
		return;
	}
	p->r[p->n].low = (uint16_t)low;
	p->r[p->n].high = (uint16_t)high;
	p->n++;
}

static bool nftrules_port_value(json_t *v, long *port)
{
	const char *s = json_string_value(v);
	char *end;

	if (json_is_integer(v)) {
		*port = (long)json_integer_value(v);
		return true;
	}
	if (s == NULL || *s == '\0')
		return false;
	*port = strtol(s, &end, 10);	/* "21"; a service name is unknown */
	return *end == '\0';
}

static void nftrules_ports_element(struct nftrules_ports *p, json_t *e)
{
	json_t *range = json_object_get(e, "range");
	json_t *elem = json_object_get(e, "elem");
	long a, b;

	if (elem != NULL) {		/* {"elem": {"val": X, "timeout": ...}} */
		nftrules_ports_element(p, json_object_get(elem, "val"));
		return;
	}
	if (json_is_array(range) && json_array_size(range) == 2 &&
	    nftrules_port_value(json_array_get(range, 0), &a) &&
	    nftrules_port_value(json_array_get(range, 1), &b)) {
		nftrules_ports_add(p, a, b);
		return;
	}
	if (nftrules_port_value(e, &a)) {
		nftrules_ports_add(p, a, a);
		return;
	}
	p->unknown = true;
}

static void nftrules_ports_elements(struct nftrules_ports *p, json_t *list)
{
	size_t i;
	json_t *e;

	if (!json_is_array(list)) {
		nftrules_ports_element(p, list);
		return;
	}
	json_array_foreach(list, i, e)
		nftrules_ports_element(p, e);
}

/* The right-hand side of a dport match: 21, {"range": ...}, {"set": [...]},
 * "@named_set". */
static void nftrules_ports_read(struct nftrules_ctx *c, json_t *rule, json_t *right,
				struct nftrules_ports *p)
{
	const char *s = json_string_value(right);
	json_t *set = json_object_get(right, "set");

	p->n = 0;
	p->unknown = false;
	if (s != NULL && s[0] == '@') {
		json_t *named = nftrules_set_find(c, nftrules_str(rule, "family"), nftrules_str(rule, "table"), s + 1);

		if (named == NULL) {
			p->unknown = true;
			return;
		}
		nftrules_ports_elements(p, json_object_get(named, "elem"));
		return;
	}
	nftrules_ports_elements(p, set != NULL ? set : right);
}

static int nftrules_range_cmp(const void *a, const void *b)
{
	const struct nftrules_port_range *x = a, *y = b;

	return (int)x->low - (int)y->low;
}

/* Replace p by its complement in 0-65535. */
static void nftrules_ports_invert(struct nftrules_ports *p)
{
	struct nftrules_ports inv = { .n = 0, .unknown = p->unknown };
	long next = 0;
	unsigned i;

	qsort(p->r, p->n, sizeof(p->r[0]), nftrules_range_cmp);
	for (i = 0; i < p->n; i++) {
		if (p->r[i].low > next)
			nftrules_ports_add(&inv, next, p->r[i].low - 1);
		if ((long)p->r[i].high + 1 > next)
			next = (long)p->r[i].high + 1;
	}
	if (next <= 65535)
		nftrules_ports_add(&inv, next, 65535);
	*p = inv;
}

/* The first overlap of p with the passive ranges. */
static bool nftrules_ports_overlap(const struct nftrules_ctx *c, const struct nftrules_ports *p,
				   struct nftrules_port_range *out)
{
	unsigned i;
	size_t k;

	for (i = 0; i < p->n; i++)
		for (k = 0; k < c->npassive; k++) {
			uint16_t lo = p->r[i].low > c->passive[k].low ? p->r[i].low : c->passive[k].low;
			uint16_t hi = p->r[i].high < c->passive[k].high ? p->r[i].high : c->passive[k].high;

			if (lo <= hi) {
				out->low = lo;
				out->high = hi;
				return true;
			}
		}
	return false;
}

/* ---- one rule -------------------------------------------------------- */

static bool nftrules_value_has(json_t *right, const char *word, long number)
{
	json_t *set = json_object_get(right, "set");
	json_t *list = set != NULL ? set : right;
	size_t i;
	json_t *e;

	if (json_is_array(list)) {
		json_array_foreach(list, i, e)
			if (nftrules_value_has(e, word, number))
				return true;
		return false;
	}
	if (json_is_integer(list))
		return json_integer_value(list) == number;
	return json_is_string(list) && strcmp(json_string_value(list), word) == 0;
}

/* Layer-4 protocols whose header match rules out TCP. */
static bool nftrules_payload_not_tcp(const char *proto)
{
	static const char *const others[] = {
		"udp", "udplite", "icmp", "icmpv6", "sctp", "dccp", "esp",
		"ah", "comp", "igmp", "gre",
	};
	size_t i;

	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		if (strcmp(proto, others[i]) == 0)
			return true;
	return false;
}

static void nftrules_match_ct(struct nftrules_rule_facts *f, const char *key, bool negated,
			      json_t *right)
{
	if (strcmp(key, "helper") == 0) {
		f->helper_match = true;
	} else if (strcmp(key, "state") == 0) {
		bool has_new = nftrules_value_has(right, "new", -1);

		if (negated ? has_new : !has_new)
			f->new_possible = false;
	}
}

static void nftrules_match_l4proto(struct nftrules_rule_facts *f, bool negated, json_t *right)
{
	bool has_tcp = nftrules_value_has(right, "tcp", 6);

	if (negated ? has_tcp : !has_tcp)
		f->tcp_possible = false;
}

/* "@ftpgate_grants_ipv4" / "@ftpgate_grants_ipv6": ftpgate's per-client
 * grants of encrypted sessions (doc/protocol.md), which ftpgated fills
 * only under tls = client-range; like a pinhole, not an open range. */
static bool nftrules_grant_set(json_t *right)
{
	const char *name = json_is_string(right) ? json_string_value(right) : "";

	return strcmp(name, "@ftpgate_grants_ipv4") == 0 ||
	       strcmp(name, "@ftpgate_grants_ipv6") == 0;
}

static void nftrules_match(struct nftrules_ctx *c, json_t *rule, json_t *m,
			   struct nftrules_rule_facts *f)
{
	json_t *left = json_object_get(m, "left"), *right = json_object_get(m, "right");
	json_t *ct = json_object_get(left, "ct"), *meta = json_object_get(left, "meta");
	json_t *payload = json_object_get(left, "payload");
	bool negated = strcmp(nftrules_str(m, "op"), "!=") == 0;
	const char *proto = nftrules_str(payload, "protocol"), *field = nftrules_str(payload, "field");

	if (!negated && nftrules_grant_set(right)) {
		f->grant_match = true;
	} else if (ct != NULL) {
		nftrules_match_ct(f, nftrules_str(ct, "key"), negated, right);
	} else if (meta != NULL && strcmp(nftrules_str(meta, "key"), "l4proto") == 0) {
		nftrules_match_l4proto(f, negated, right);
	} else if (payload != NULL && (strcmp(field, "protocol") == 0 || strcmp(field, "nexthdr") == 0)) {
		nftrules_match_l4proto(f, negated, right);
	} else if (payload != NULL && nftrules_payload_not_tcp(proto)) {
		f->tcp_possible = false;
	} else if (payload != NULL && strcmp(field, "dport") == 0 && !f->has_ports &&
		   (strcmp(proto, "tcp") == 0 || strcmp(proto, "th") == 0)) {
		f->has_ports = true;
		nftrules_ports_read(c, rule, right, &f->ports);
		if (negated)
			nftrules_ports_invert(&f->ports);
	}
}

static void nftrules_rule_facts(struct nftrules_ctx *c, json_t *rule, struct nftrules_rule_facts *f)
{
	json_t *expr = json_object_get(rule, "expr"), *e, *x;
	size_t i;

	memset(f, 0, sizeof(*f));
	f->tcp_possible = f->new_possible = true;
	json_array_foreach(expr, i, e) {
		if (json_object_get(e, "accept") != NULL)
			f->accept = true;
		else if (json_object_get(e, "drop") != NULL || json_object_get(e, "reject") != NULL)
			f->drop = true;
		else if ((x = json_object_get(e, "match")) != NULL)
			nftrules_match(c, rule, x, f);
		else if ((x = json_object_get(e, "jump")) != NULL || (x = json_object_get(e, "goto")) != NULL)
			f->jump = json_string_value(json_object_get(x, "target"));
		else if ((x = json_object_get(e, "ct helper")) != NULL && json_is_string(x))
			f->helper_set = json_string_value(x);
		else if ((x = json_object_get(e, "mangle")) != NULL &&
			 strcmp(nftrules_str(json_object_get(json_object_get(x, "key"), "ct"), "key"), "helper") == 0)
			f->helper_set = json_string_value(json_object_get(x, "value"));
	}
}

static void nftrules_rule_where(json_t *rule, struct nftrules_where *w)
{
	nftrules_copy(w->family, sizeof(w->family), nftrules_str(rule, "family"));
	nftrules_copy(w->table, sizeof(w->table), nftrules_str(rule, "table"));
	nftrules_copy(w->chain, sizeof(w->chain), nftrules_str(rule, "chain"));
	w->handle = (uint64_t)json_integer_value(json_object_get(rule, "handle"));
}

static void nftrules_note_attach(struct nftrules_ctx *c, json_t *rule, const char *object,
				 const struct nftrules_chain *base)
{
	struct nftrules_attach *a;

	if (c->out->attach_count++ >= NFTRULES_ATTACH_MAX)
		return;
	a = &c->out->attach[c->out->attach_count - 1];
	nftrules_rule_where(rule, &a->rule);
	nftrules_copy(a->object, sizeof(a->object), object);
	nftrules_copy(a->base_chain, sizeof(a->base_chain), base->name);
	nftrules_copy(a->hook, sizeof(a->hook), base->hook);
	a->prio = base->prio;
}

/* Does this rule decide a new TCP connection into the passive range that
 * ftpgate did not create? */
static bool nftrules_rule_decides(const struct nftrules_ctx *c, const struct nftrules_rule_facts *f,
				  struct nftrules_port_range *overlap)
{
	struct nftrules_ports any = { .r = { { 0, 65535 } }, .n = 1 };

	if (!(f->accept || f->drop) || !f->tcp_possible || !f->new_possible ||
	    f->helper_match || f->grant_match)
		return false;
	return nftrules_ports_overlap(c, f->has_ports ? &f->ports : &any, overlap);
}

enum nftrules_verdict { NFTRULES_UNDECIDED, NFTRULES_ADMIT, NFTRULES_CLOSE };

/* The first rule of ch (in order, into jumped-to chains) deciding a new
 * connection into the passive range; its verdict and where it is. */
static enum nftrules_verdict nftrules_chain_decide(struct nftrules_ctx *c, struct nftrules_chain *ch,
						   unsigned depth, struct nftrules_admit *at)
{
	size_t i;

	for (i = ch->first_rule; i < ch->first_rule + ch->rule_count; i++) {
		struct nftrules_rule_facts f;
		struct nftrules_chain *next;
		enum nftrules_verdict v;

		if (c->walked++ >= NFTRULES_WALK_MAX)
			return NFTRULES_UNDECIDED;
		nftrules_rule_facts(c, c->rules[i], &f);
		if (nftrules_rule_decides(c, &f, &at->ports)) {
			nftrules_rule_where(c->rules[i], &at->rule);
			return f.accept ? NFTRULES_ADMIT : NFTRULES_CLOSE;
		}
		if (f.jump == NULL || depth >= 16)
			continue;
		next = nftrules_chain_find(c, ch->family, ch->table, f.jump);
		if (next != NULL && next != ch) {
			v = nftrules_chain_decide(c, next, depth + 1, at);
			if (v != NFTRULES_UNDECIDED)
				return v;
		}
	}
	return NFTRULES_UNDECIDED;
}

static void nftrules_forward_judge(struct nftrules_ctx *c, struct nftrules_chain *ch, const char *policy)
{
	struct nftrules_admit at = { .ports = { 0, 0 } };
	enum nftrules_verdict v = nftrules_chain_decide(c, ch, 0, &at);
	char where[sizeof(c->out->closed_by)];

	c->out->forward_chains++;
	if (v == NFTRULES_ADMIT) {
		if (c->out->admit_count++ < NFTRULES_ADMIT_MAX)
			c->out->admit[c->out->admit_count - 1] = at;
		return;
	}
	if (v == NFTRULES_CLOSE)
		snprintf(where, sizeof(where), "rule %s %s %s handle %" PRIu64, at.rule.family,
			 at.rule.table, at.rule.chain, at.rule.handle);
	else if (strcmp(policy, "drop") == 0)
		snprintf(where, sizeof(where), "the drop policy of chain %s %s %s", ch->family,
			 ch->table, ch->name);
	else
		return;
	if (!c->out->passive_closed)
		snprintf(c->out->closed_by, sizeof(c->out->closed_by), "%s", where);
	c->out->passive_closed = true;
}

/* ---- walking from each base chain ------------------------------------ */

static void nftrules_walk(struct nftrules_ctx *c, const struct nftrules_chain *base)
{
	struct nftrules_chain *stack[64];
	unsigned depth = 0;
	size_t i;

	c->generation++;
	stack[depth++] = (struct nftrules_chain *)base;
	((struct nftrules_chain *)base)->seen = c->generation;
	while (depth > 0 && c->walked++ < NFTRULES_WALK_MAX) {
		struct nftrules_chain *ch = stack[--depth];

		for (i = ch->first_rule; i < ch->first_rule + ch->rule_count; i++) {
			json_t *rule = c->rules[i];
			struct nftrules_rule_facts f;
			struct nftrules_chain *next;

			nftrules_rule_facts(c, rule, &f);
			if (f.helper_set != NULL &&
			    nftrules_helper_object(c, ch->family, ch->table, f.helper_set))
				nftrules_note_attach(c, rule, f.helper_set, base);
			if (f.jump == NULL)
				continue;
			next = nftrules_chain_find(c, ch->family, ch->table, f.jump);
			if (next != NULL && next->seen != c->generation &&
			    depth < sizeof(stack) / sizeof(stack[0])) {
				next->seen = c->generation;
				stack[depth++] = next;
			}
		}
	}
}

int nftrules_read(const char *json, size_t len, const char *helper,
		  const struct nftrules_port_range *passive, size_t n,
		  struct nftrules_summary *out, char *err, size_t errlen)
{
	struct nftrules_ctx c = { .helper = helper, .passive = passive, .npassive = n, .out = out };
	json_error_t jerr;
	json_t *root;
	size_t i;
	int rc;

	memset(out, 0, sizeof(*out));
	root = json_loadb(json, len, 0, &jerr);
	if (root == NULL) {
		nftrules_seterr(err, errlen, "not JSON (line %d: %s)", jerr.line, jerr.text);
		return -EINVAL;
	}
	c.items = json_object_get(root, "nftables");
	if (!json_is_array(c.items)) {
		nftrules_seterr(err, errlen, "no \"nftables\" array: not the output of nft -j list ruleset");
		json_decref(root);
		return -EINVAL;
	}
	rc = nftrules_chains_collect(&c);
	if (rc == 0)
		rc = nftrules_rules_group(&c);
	if (rc == 0) {
		nftrules_helpers_collect(&c);
		for (i = 0; i < c.nchains; i++)
			if (c.chains[i].base)
				nftrules_walk(&c, &c.chains[i]);
		c.walked = 0;
		for (i = 0; i < c.nchains; i++)
			if (c.chains[i].base && strcmp(c.chains[i].hook, "forward") == 0 &&
			    strcmp(c.chains[i].type, "filter") == 0)
				nftrules_forward_judge(&c, &c.chains[i], c.chains[i].policy);
	}
	if (rc == -E2BIG)
		nftrules_seterr(err, errlen, "more than %d chains", NFTRULES_CHAINS_MAX);
	else if (rc < 0)
		nftrules_seterr(err, errlen, "%s", strerror(-rc));
	free(c.chains);
	free(c.rules);
	json_decref(root);
	return rc;
}
