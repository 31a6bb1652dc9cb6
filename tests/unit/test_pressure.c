/* test_pressure: the passive-port arithmetic (N / TIME_WAIT), the levels,
 * and the sliding windows per server, with their bounds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "pressure.h"

#define CLOSE(a, b) (fabs((a) - (b)) < 1e-9)

static struct inet_addr addr(const char *s)
{
	struct inet_addr a;

	if (inet_addr_parse(s, &a) < 0)
		abort();
	return a;
}

static void test_arithmetic(void)
{
	/* the example: 20 ports at 120 s is one every 6 s */
	CHECK(CLOSE(pressure_sustainable_rate(20, 120), 1.0 / 6.0));
	CHECK(CLOSE(1.0 / pressure_sustainable_rate(20, 120), 6.0));
	CHECK(CLOSE(pressure_sustainable_rate(2, 60), 1.0 / 30.0));
	CHECK(CLOSE(pressure_sustainable_rate(64512, 120), 537.6));
	CHECK(CLOSE(pressure_sustainable_rate(0, 120), 0.0));
	CHECK(CLOSE(pressure_sustainable_rate(10, 0), 0.0));

	/* levels: below 75% ok, from 75% high, from 100% saturated; by rate
	 * or by occupancy, whichever is worse */
	CHECK_INT(pressure_level(0.0, 1.0, 0, 10), PRESSURE_OK);
	CHECK_INT(pressure_level(0.74, 1.0, 0, 10), PRESSURE_OK);
	CHECK_INT(pressure_level(0.75, 1.0, 0, 10), PRESSURE_HIGH);
	CHECK_INT(pressure_level(0.99, 1.0, 0, 10), PRESSURE_HIGH);
	CHECK_INT(pressure_level(1.0, 1.0, 0, 10), PRESSURE_SATURATED);
	CHECK_INT(pressure_level(5.0, 1.0, 0, 10), PRESSURE_SATURATED);
	CHECK_INT(pressure_level(0.1, 1.0, 8, 10), PRESSURE_HIGH);
	CHECK_INT(pressure_level(0.1, 1.0, 10, 10), PRESSURE_SATURATED);
	CHECK_INT(pressure_level(0.1, 1.0, 7, 10), PRESSURE_OK);
	CHECK_INT(pressure_level(0.0, 0.0, 0, 0), PRESSURE_OK);
	CHECK_STR(pressure_level_name(PRESSURE_SATURATED), "saturated");
	CHECK_STR(pressure_level_name(PRESSURE_HIGH), "high");
	CHECK_STR(pressure_level_name(PRESSURE_OK), "ok");
}

static void test_report(void)
{
	struct pressure p;
	struct pressure_report r;
	struct inet_addr s = addr("203.0.113.2"), other = addr("192.0.2.9");
	struct pressure_server *ps;
	uint64_t t0 = 1000000;
	int i;

	CHECK_INT(pressure_init(&p, 60, 60), 0);

	/* a configured server nobody used yet */
	pressure_report(&p, NULL, &s, 40100, 40101, 0, t0, &r);
	CHECK_INT(r.range_size, 2);
	CHECK_INT(r.announcements, 0);
	CHECK(CLOSE(r.sustainable_per_s, 2.0 / 60.0));
	CHECK_INT(r.level, PRESSURE_OK);
	CHECK_STR(r.warning, "");

	/* two announcements of different ports 10 s apart, watched for 30 s:
	 * 2 in 30 s = 4/min against a sustainable 2/min */
	pressure_announce(&p, &s, 40100, t0);
	pressure_announce(&p, &s, 40101, t0 + 10000);
	pressure_announce(&p, &other, 50000, t0 + 10000);
	ps = pressure_find(&p, &s);
	CHECK(ps != NULL);
	pressure_report(&p, ps, &s, 40100, 40101, 0, t0 + 30000, &r);
	CHECK_INT(r.window_s, 30);
	CHECK_INT(r.announcements, 2);
	CHECK_INT(r.distinct_ports, 2);
	CHECK(CLOSE(r.rate_per_s, 2.0 / 30.0));
	CHECK(CLOSE(r.utilisation, 2.0));
	CHECK_INT(r.level, PRESSURE_SATURATED);
	CHECK(strstr(r.warning, "passive ports exhausted") != NULL);
	CHECK(strstr(r.warning, "2-port range sustains 2.00/min at TIME_WAIT 60s") != NULL);
	CHECK_INT(r.announcements_total, 2);

	/* the same port again counts once in distinct_ports */
	pressure_announce(&p, &s, 40100, t0 + 20000);
	pressure_report(&p, ps, &s, 40100, 40101, 0, t0 + 30000, &r);
	CHECK_INT(r.announcements, 3);
	CHECK_INT(r.distinct_ports, 2);

	/* error replies: counted in the window and in total, quoted */
	pressure_trouble(&p, &s, 425, "425 Can't open passive connection", t0 + 25000);
	pressure_report(&p, ps, &s, 40100, 40101, 2, t0 + 30000, &r);
	CHECK_INT(r.trouble_window, 1);
	CHECK_INT(r.trouble_total, 1);
	CHECK_INT(r.last_trouble_code, 425);
	CHECK_INT(r.occupied, 2);
	CHECK(strstr(r.warning, "2 of 2 ports occupied") != NULL);
	CHECK(strstr(r.warning, "1 data-connection error reply") != NULL);
	CHECK(strstr(r.warning, "425 Can't open passive connection") != NULL);

	/* long after: everything slid out of the window */
	pressure_report(&p, ps, &s, 40100, 40101, 0, t0 + 200000, &r);
	CHECK_INT(r.window_s, 60);
	CHECK_INT(r.announcements, 0);
	CHECK_INT(r.trouble_window, 0);
	CHECK_INT(r.trouble_total, 1);
	CHECK_INT(r.level, PRESSURE_OK);
	CHECK_STR(r.warning, "");

	/* a wide range with the same demand: fine */
	pressure_report(&p, ps, &s, 40000, 49999, 0, t0 + 30000, &r);
	CHECK_INT(r.range_size, 10000);
	CHECK_INT(r.level, PRESSURE_OK);

	/* 425s with low demand point elsewhere */
	pressure_report(&p, ps, &s, 40000, 49999, 0, t0 + 30000, &r);
	CHECK(strstr(r.warning, "look for another cause") != NULL);

	/* the effective window never goes below the minimum */
	pressure_announce(&p, &other, 50001, t0 + 10500);
	pressure_report(&p, pressure_find(&p, &other), &other, 50000, 50009, 0,
			t0 + 11000, &r);
	CHECK_INT(r.window_s, PRESSURE_MIN_WINDOW_S);
	CHECK(CLOSE(r.rate_per_s, 2.0 / PRESSURE_MIN_WINDOW_S));

	/* the sample ring is bounded; the rate covers what it holds */
	for (i = 0; i < PRESSURE_SAMPLES_MAX + 100; i++)
		pressure_announce(&p, &s, (uint16_t)(40000 + i % 1000),
				  t0 + 300000 + (uint64_t)i * 10);
	pressure_report(&p, ps, &s, 40000, 49999, 0,
			t0 + 300000 + (PRESSURE_SAMPLES_MAX + 100) * 10, &r);
	CHECK_INT(r.announcements, PRESSURE_SAMPLES_MAX);
	CHECK_INT(r.window_s, PRESSURE_MIN_WINDOW_S);

	/* reconfiguring changes the window and the TIME_WAIT */
	pressure_configure(&p, 120, 120);
	pressure_report(&p, NULL, &s, 40100, 40119, 0, t0, &r);
	CHECK(CLOSE(r.sustainable_per_s, 20.0 / 120.0));
	CHECK_INT(r.time_wait_s, 120);
	pressure_free(&p);
}

static void test_bounds(void)
{
	struct pressure p;
	struct inet_addr a;
	unsigned i;

	CHECK_INT(pressure_init(&p, 60, 120), 0);
	memset(&a, 0, sizeof(a));
	a.family = AF_INET;
	/* more servers than slots: the least recently active goes */
	for (i = 0; i < PRESSURE_SERVERS_MAX + 10; i++) {
		a.v4.s_addr = htonl(0xc0000200u + i);
		pressure_announce(&p, &a, 40000, 1000 + i);
	}
	CHECK_INT(p.count, PRESSURE_SERVERS_MAX);
	a.v4.s_addr = htonl(0xc0000200u);
	CHECK(pressure_find(&p, &a) == NULL);
	a.v4.s_addr = htonl(0xc0000200u + PRESSURE_SERVERS_MAX + 9);
	CHECK(pressure_find(&p, &a) != NULL);
	/* the trouble ring is bounded too */
	for (i = 0; i < PRESSURE_TROUBLE_MAX * 2; i++)
		pressure_trouble(&p, &a, 421, "421 Too many", 5000 + i);
	CHECK_INT(pressure_find(&p, &a)->trouble_count, PRESSURE_TROUBLE_MAX);
	CHECK_INT(pressure_find(&p, &a)->trouble_total, PRESSURE_TROUBLE_MAX * 2);
	pressure_free(&p);
	pressure_free(&p);		/* twice is harmless */
}

int main(void)
{
	test_arithmetic();
	test_report();
	test_bounds();
	return check_report("pressure");
}
