/* json: writer state is one "comma needed" flag per nesting level; the
 * caller is trusted to nest correctly (misuse sets `error`, never writes
 * out of bounds). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "json.h"

void json_init(struct json *j, struct strbuf *out)
{
	memset(j, 0, sizeof(*j));
	j->out = out;
}

/* Separator before a value: a comma unless it follows a key or opens its
 * container. */
static void json_value_prefix(struct json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (j->need_comma[j->depth])
		strbuf_putc(j->out, ',');
	j->need_comma[j->depth] = true;
}

static void json_open(struct json *j, char c)
{
	json_value_prefix(j);
	strbuf_putc(j->out, c);
	if (j->depth >= JSON_DEPTH_MAX) {
		j->error = true;
		return;
	}
	j->depth++;
	j->need_comma[j->depth] = false;
}

static void json_close(struct json *j, char c)
{
	if (j->depth == 0 || j->after_key)
		j->error = true;
	else
		j->depth--;
	j->after_key = false;
	strbuf_putc(j->out, c);
}

void json_object_begin(struct json *j) { json_open(j, '{'); }
void json_object_end(struct json *j) { json_close(j, '}'); }
void json_array_begin(struct json *j) { json_open(j, '['); }
void json_array_end(struct json *j) { json_close(j, ']'); }

void json_escape(struct strbuf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t i, start = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[7];
		size_t n = 0;

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			continue;
		strbuf_append(out, s + start, i - start);
		start = i + 1;
		esc[n++] = '\\';
		switch (c) {
		case '"': esc[n++] = '"'; break;
		case '\\': esc[n++] = '\\'; break;
		case '\n': esc[n++] = 'n'; break;
		case '\r': esc[n++] = 'r'; break;
		case '\t': esc[n++] = 't'; break;
		default:
			esc[n++] = 'u';
			esc[n++] = '0';
			esc[n++] = '0';
			esc[n++] = hex[c >> 4];
			esc[n++] = hex[c & 0xf];
		}
		strbuf_append(out, esc, n);
	}
	strbuf_append(out, s + start, len - start);
}

void json_key(struct json *j, const char *key)
{
	if (j->after_key)
		j->error = true;
	if (j->need_comma[j->depth])
		strbuf_putc(j->out, ',');
	j->need_comma[j->depth] = true;
	strbuf_putc(j->out, '"');
	json_escape(j->out, key, strlen(key));
	strbuf_puts(j->out, "\":");
	j->after_key = true;
}

void json_string_n(struct json *j, const char *s, size_t len)
{
	json_value_prefix(j);
	strbuf_putc(j->out, '"');
	json_escape(j->out, s, len);
	strbuf_putc(j->out, '"');
}

void json_string(struct json *j, const char *s)
{
	if (s == NULL)
		json_null(j);
	else
		json_string_n(j, s, strlen(s));
}

void json_uint(struct json *j, uint64_t v)
{
	json_value_prefix(j);
	strbuf_printf(j->out, "%" PRIu64, v);
}

void json_int(struct json *j, int64_t v)
{
	json_value_prefix(j);
	strbuf_printf(j->out, "%" PRId64, v);
}

void json_double(struct json *j, double v)
{
	if (isnan(v) || isinf(v)) {
		json_null(j);
		return;
	}
	json_value_prefix(j);
	strbuf_printf(j->out, "%.6g", v);
}

void json_bool(struct json *j, bool v)
{
	json_value_prefix(j);
	strbuf_puts(j->out, v ? "true" : "false");
}

void json_null(struct json *j)
{
	json_value_prefix(j);
	strbuf_puts(j->out, "null");
}

void json_kv_str(struct json *j, const char *key, const char *s)
{
	json_key(j, key);
	json_string(j, s);
}

void json_kv_uint(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	json_uint(j, v);
}

void json_kv_uint_or_null(struct json *j, const char *key, uint64_t v)
{
	json_key(j, key);
	if (v != 0)
		json_uint(j, v);
	else
		json_null(j);
}

void json_kv_int(struct json *j, const char *key, int64_t v)
{
	json_key(j, key);
	json_int(j, v);
}

void json_kv_double(struct json *j, const char *key, double v)
{
	json_key(j, key);
	json_double(j, v);
}

void json_kv_bool(struct json *j, const char *key, bool v)
{
	json_key(j, key);
	json_bool(j, v);
}

void json_kv_null(struct json *j, const char *key)
{
	json_key(j, key);
	json_null(j);
}
