/* test_flow: one connection's endpoints, compared and printed. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "flow.h"

static struct flow flow(const char *src, uint16_t sport, const char *dst,
			uint16_t dport)
{
	struct flow f;

	memset(&f, 0, sizeof(f));
	if (inet_addr_parse(src, &f.src) < 0 || inet_addr_parse(dst, &f.dst) < 0)
		abort();
	f.sport = sport;
	f.dport = dport;
	return f;
}

int main(void)
{
	struct flow a = flow("198.51.100.2", 41000, "203.0.113.2", 21);
	struct flow b = a, v6 = flow("2001:db8:1::2", 0, "2001:db8:2::2", 40000);
	struct inet_addr unset = { 0 };
	char buf[FLOW_STRLEN];

	CHECK(flow_equal(&a, &b));
	b.sport++;
	CHECK(!flow_equal(&a, &b));
	b = a;
	b.dst = a.src;
	CHECK(!flow_equal(&a, &b));
	CHECK(!flow_equal(&a, &v6));
	CHECK_STR(flow_format(&a, buf, sizeof(buf)), "198.51.100.2:41000 -> 203.0.113.2:21");
	CHECK_STR(flow_format(&v6, buf, sizeof(buf)), "[2001:db8:1::2]:* -> [2001:db8:2::2]:40000");
	CHECK_STR(flow_endpoint_format(&unset, 21, buf, sizeof(buf)), "-:21");
	/* long endpoints fit */
	v6 = flow("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535,
		  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 65535);
	CHECK_STR(flow_format(&v6, buf, sizeof(buf)),
		  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535 -> "
		  "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe]:65535");
	return check_report("flow");
}
