/* strbuf: a growable text buffer with a hard size bound. Every response,
 * audit line and metrics page is built in one; hitting the bound marks the
 * buffer truncated instead of growing without limit. Pure, no I/O. */
#ifndef FTPGATE_STRBUF_H
#define FTPGATE_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct strbuf {
	char *data;			/* always NUL-terminated once used */
	size_t len;
	size_t cap;			/* allocated bytes */
	size_t max;			/* never hold more than this (incl. NUL) */
	bool truncated;			/* something did not fit */
	bool fixed;			/* data is the caller's, never realloc'd */
};

/* A heap buffer that grows up to max bytes. */
void strbuf_init(struct strbuf *b, size_t max);
/* A buffer over the caller's storage (no allocation ever). */
void strbuf_init_fixed(struct strbuf *b, char *storage, size_t size);
void strbuf_free(struct strbuf *b);
void strbuf_reset(struct strbuf *b);

/* Append; on overflow as much as fits is kept and `truncated` is set.
 * Returns 0, or -ENOSPC when something was cut. */
int strbuf_append(struct strbuf *b, const char *s, size_t len);
int strbuf_puts(struct strbuf *b, const char *s);
int strbuf_putc(struct strbuf *b, char c);
int strbuf_printf(struct strbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The text so far ("" for an unused buffer). */
const char *strbuf_str(const struct strbuf *b);

#endif
