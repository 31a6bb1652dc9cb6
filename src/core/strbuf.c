/* strbuf: bounded growable text. Growth doubles, so appending n bytes one
 * at a time costs O(n); the bound keeps a runaway listing (a million
 * pinholes, a hostile peer) from taking the daemon's memory. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

void strbuf_init(struct strbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void strbuf_init_fixed(struct strbuf *b, char *storage, size_t size)
{
	memset(b, 0, sizeof(*b));
	b->data = storage;
	b->cap = size;
	b->max = size;
	b->fixed = true;
	if (size > 0)
		storage[0] = '\0';
}

void strbuf_free(struct strbuf *b)
{
	if (!b->fixed)
		free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->truncated = false;
}

void strbuf_reset(struct strbuf *b)
{
	b->len = 0;
	b->truncated = false;
	if (b->data != NULL && b->cap > 0)
		b->data[0] = '\0';
}

/* Make room for `want` more bytes plus the NUL; returns how many of them
 * fit (fewer than want only at the bound or when memory runs out). */
static size_t strbuf_room(struct strbuf *b, size_t want)
{
	size_t need, cap;
	char *p;

	if (b->max == 0 || b->len + 1 >= b->max)
		return 0;
	if (want > b->max - b->len - 1)
		want = b->max - b->len - 1;
	need = b->len + want + 1;
	if (need <= b->cap)
		return want;
	if (b->fixed)
		return b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	if (cap > b->max)
		cap = b->max;
	p = realloc(b->data, cap);
	if (p == NULL)
		return b->cap > b->len + 1 ? b->cap - b->len - 1 : 0;
	b->data = p;
	b->cap = cap;
	return want;
}

int strbuf_append(struct strbuf *b, const char *s, size_t len)
{
	size_t n = strbuf_room(b, len);

	if (n > 0) {
		memcpy(b->data + b->len, s, n);
		b->len += n;
		b->data[b->len] = '\0';
	}
	if (n < len) {
		b->truncated = true;
		return -ENOSPC;
	}
	return 0;
}

int strbuf_puts(struct strbuf *b, const char *s)
{
	return strbuf_append(b, s, strlen(s));
}

int strbuf_putc(struct strbuf *b, char c)
{
	return strbuf_append(b, &c, 1);
}

int strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof(small), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -EINVAL;
	if ((size_t)n < sizeof(small))
		return strbuf_append(b, small, (size_t)n);
	/* Long output: format straight into the buffer. */
	if (strbuf_room(b, (size_t)n) < (size_t)n) {
		b->truncated = true;
		return -ENOSPC;
	}
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

const char *strbuf_str(const struct strbuf *b)
{
	return b->data != NULL && b->cap > 0 ? b->data : "";
}
