/* json_check.h: a strict JSON validator for the unit tests (RFC 8259
 * grammar, no extensions), so that tests can assert "this is one valid
 * JSON value" without a JSON library. */
#ifndef FTPGATE_JSON_CHECK_H
#define FTPGATE_JSON_CHECK_H

#include <stdbool.h>
#include <string.h>

struct jc {
	const char *p, *end;
	int depth;
};

static bool jc_value(struct jc *c);

static void jc_ws(struct jc *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' ||
				 *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

static bool jc_lit(struct jc *c, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(c->end - c->p) < n || memcmp(c->p, w, n) != 0)
		return false;
	c->p += n;
	return true;
}

static bool jc_string(struct jc *c)
{
	if (c->p >= c->end || *c->p != '"')
		return false;
	c->p++;
	while (c->p < c->end) {
		unsigned char ch = (unsigned char)*c->p++;

		if (ch == '"')
			return true;
		if (ch < 0x20)
			return false;
		if (ch == '\\') {
			if (c->p >= c->end)
				return false;
			ch = (unsigned char)*c->p++;
			if (ch == 'u') {
				int i;

				for (i = 0; i < 4; i++, c->p++)
					if (c->p >= c->end || !strchr("0123456789abcdefABCDEF", *c->p))
						return false;
			} else if (!strchr("\"\\/bfnrt", ch)) {
				return false;
			}
		}
	}
	return false;
}

static bool jc_number(struct jc *c)
{
	const char *s = c->p;

	if (c->p < c->end && *c->p == '-')
		c->p++;
	if (c->p >= c->end)
		return false;
	if (*c->p == '0')
		c->p++;
	else if (*c->p >= '1' && *c->p <= '9')
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	else
		return false;
	if (c->p < c->end && *c->p == '.') {
		c->p++;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return false;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
		c->p++;
		if (c->p < c->end && (*c->p == '+' || *c->p == '-'))
			c->p++;
		if (c->p >= c->end || *c->p < '0' || *c->p > '9')
			return false;
		while (c->p < c->end && *c->p >= '0' && *c->p <= '9')
			c->p++;
	}
	return c->p > s;
}

static bool jc_container(struct jc *c, char open, char close)
{
	bool first = true;

	c->p++;
	if (++c->depth > 64)
		return false;
	jc_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		c->depth--;
		return true;
	}
	for (;;) {
		if (!first) {
			jc_ws(c);
			if (c->p < c->end && *c->p == close) {
				c->p++;
				c->depth--;
				return true;
			}
			if (c->p >= c->end || *c->p != ',')
				return false;
			c->p++;
		}
		first = false;
		jc_ws(c);
		if (open == '{') {
			if (!jc_string(c))
				return false;
			jc_ws(c);
			if (c->p >= c->end || *c->p != ':')
				return false;
			c->p++;
		}
		if (!jc_value(c))
			return false;
	}
}

static bool jc_value(struct jc *c)
{
	jc_ws(c);
	if (c->p >= c->end)
		return false;
	switch (*c->p) {
	case '{': return jc_container(c, '{', '}');
	case '[': return jc_container(c, '[', ']');
	case '"': return jc_string(c);
	case 't': return jc_lit(c, "true");
	case 'f': return jc_lit(c, "false");
	case 'n': return jc_lit(c, "null");
	default: return jc_number(c);
	}
}

/* Is s[0..len) exactly one JSON value (surrounding whitespace allowed)? */
static inline bool json_valid(const char *s, size_t len)
{
	struct jc c = { s, s + len, 0 };

	if (!jc_value(&c))
		return false;
	jc_ws(&c);
	return c.p == c.end;
}

#endif
