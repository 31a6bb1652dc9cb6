/* json: a small JSON writer into a strbuf. Strings are escaped so that any
 * byte sequence (a hostile FTP reply, say) comes out as valid, pure-ASCII
 * JSON: '"', '\\' and control bytes are escaped, and bytes 0x7f-0xff are
 * written as \u00XX (read as Latin-1). Pure, no I/O. */
#ifndef FTPGATE_JSON_H
#define FTPGATE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "strbuf.h"

#define JSON_DEPTH_MAX 8

struct json {
	struct strbuf *out;
	unsigned depth;
	bool need_comma[JSON_DEPTH_MAX + 1];
	bool after_key;
	bool error;			/* nesting misuse; output unreliable */
};

void json_init(struct json *j, struct strbuf *out);

void json_object_begin(struct json *j);
void json_object_end(struct json *j);
void json_array_begin(struct json *j);
void json_array_end(struct json *j);
void json_key(struct json *j, const char *key);

void json_string(struct json *j, const char *s);	/* NULL: null */
void json_string_n(struct json *j, const char *s, size_t len);
void json_uint(struct json *j, uint64_t v);
void json_int(struct json *j, int64_t v);
void json_double(struct json *j, double v);	/* 6 significant digits;
						   NaN/inf become null */
void json_bool(struct json *j, bool v);
void json_null(struct json *j);

/* key + value in one call */
void json_kv_str(struct json *j, const char *key, const char *s);
void json_kv_uint(struct json *j, const char *key, uint64_t v);
void json_kv_int(struct json *j, const char *key, int64_t v);
void json_kv_double(struct json *j, const char *key, double v);
void json_kv_bool(struct json *j, const char *key, bool v);
void json_kv_null(struct json *j, const char *key);
/* v, or null when v is 0: the audit schema's "none or unknown" for IDs,
 * ports and reply codes, none of which is ever 0 when known. */
void json_kv_uint_or_null(struct json *j, const char *key, uint64_t v);

/* Append the escaped form of s[0..len) (without quotes) to out. */
void json_escape(struct strbuf *out, const char *s, size_t len);

#endif
