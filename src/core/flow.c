/* flow: a connection's endpoints, compared and printed. */
#include <stdio.h>
#include <sys/socket.h>

#include "flow.h"

bool flow_equal(const struct flow *a, const struct flow *b)
{
	return inet_addr_equal(&a->src, &b->src) &&
	       inet_addr_equal(&a->dst, &b->dst) &&
	       a->sport == b->sport && a->dport == b->dport;
}

const char *flow_endpoint_format(const struct inet_addr *a, uint16_t port,
				 char *buf, size_t len)
{
	char text[INET_ADDR_STRLEN], p[8];

	inet_addr_format(a, text, sizeof(text));
	if (port)
		snprintf(p, sizeof(p), "%u", port);
	else
		snprintf(p, sizeof(p), "*");
	if (a->family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", text, p);
	else
		snprintf(buf, len, "%s:%s", text, p);
	return buf;
}

const char *flow_format(const struct flow *f, char *buf, size_t len)
{
	char src[FLOW_ENDPOINT_STRLEN], dst[FLOW_ENDPOINT_STRLEN];

	snprintf(buf, len, "%s -> %s",
		 flow_endpoint_format(&f->src, f->sport, src, sizeof(src)),
		 flow_endpoint_format(&f->dst, f->dport, dst, sizeof(dst)));
	return buf;
}
