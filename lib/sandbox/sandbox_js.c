/*
 * sandbox_js.c: the child's javascript runner.  The code runs in a
 * Duktape heap whose allocator has a cap (the job's memory_mb); Debian's
 * Duktape has no execution timeout hook, so the time limit is the
 * server's, which kills the process.  Code written for Dify's node.js
 * sandbox is first rewritten into what Duktape (ES5 with parts of ES6)
 * parses: main's destructured parameter, and "let" as "var".  console's
 * warn and error go to stderr, the rest is dropped; main's result goes
 * to descriptor 3 as JSON text.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <duktape.h>

#include "core/core.h"
#include "sandbox_int.h"

struct jsmem {
	size_t	used, cap;
};

/* Each block carries its size in a header that keeps malloc's alignment. */
#define JS_HDR	16

static void *
js_alloc(void *ud, duk_size_t size)
{
	struct jsmem	*m = ud;
	unsigned char	*p;

	if (size > m->cap - m->used)
		return NULL;	/* Duktape collects and retries, then throws */
	if ((p = malloc(size + JS_HDR)) == NULL)
		return NULL;
	memcpy(p, &size, sizeof(size));
	m->used += size;
	return p + JS_HDR;
}

static void
js_free(void *ud, void *ptr)
{
	struct jsmem	*m = ud;
	unsigned char	*p;
	size_t		 size;

	if (ptr == NULL)
		return;
	p = (unsigned char *)ptr - JS_HDR;
	memcpy(&size, p, sizeof(size));
	m->used -= size;
	free(p);
}

static void *
js_realloc(void *ud, void *ptr, duk_size_t size)
{
	struct jsmem	*m = ud;
	unsigned char	*p;
	size_t		 old;

	if (ptr == NULL)
		return js_alloc(ud, size);
	if (size == 0) {
		js_free(ud, ptr);
		return NULL;
	}
	p = (unsigned char *)ptr - JS_HDR;
	memcpy(&old, p, sizeof(old));
	if (size > old && size - old > m->cap - m->used)
		return NULL;
	if ((p = realloc(p, size + JS_HDR)) == NULL)
		return NULL;
	memcpy(p, &size, sizeof(size));
	m->used = m->used - old + size;
	return p + JS_HDR;
}

static void
js_fatal(void *ud, const char *msg)
{
	(void)ud;
	sandbox_child_say("FATAL: %s", msg ? msg : "Duktape fatal error");
	_exit(1);
}

/* console.warn and console.error write to stderr, as node's do. */
static duk_ret_t
js_console_err(duk_context *ctx)
{
	duk_idx_t	i, n = duk_get_top(ctx);
	const char	*s;

	for (i = 0; i < n; i++) {
		s = duk_safe_to_string(ctx, i);
		if (i > 0)
			sandbox_write_all(2, " ", 1);
		sandbox_write_all(2, s, strlen(s));
	}
	sandbox_write_all(2, "\n", 1);
	return 0;
}

/* console.log, info, debug: stdout, which Dify drops. */
static duk_ret_t
js_console_out(duk_context *ctx)
{
	(void)ctx;
	return 0;
}

static duk_ret_t
js_decode(duk_context *ctx, void *ud)
{
	(void)ud;
	duk_json_decode(ctx, -1);
	return 1;
}

static duk_ret_t
js_encode(duk_context *ctx, void *ud)
{
	(void)ud;
	duk_json_encode(ctx, -1);
	return 1;
}

/* An uncaught error: its stack (or text) on stderr, exit status 1. */
static int
js_uncaught(duk_context *ctx)
{
	const char	*s = duk_safe_to_stacktrace(ctx, -1);

	sandbox_write_all(2, s, strlen(s));
	sandbox_write_all(2, "\n", 1);
	return 1;
}

static int
is_ident(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_' || c == '$' || c >= 0x80;
}

static size_t
skip_ws(const char *s, size_t n, size_t i)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r'))
		i++;
	return i;
}

static size_t
ident_end(const char *s, size_t n, size_t i)
{
	while (i < n && is_ident((unsigned char)s[i]))
		i++;
	return i;
}

/* The end of a quoted string or template starting at s[i]. */
static size_t
quoted_end(const char *s, size_t n, size_t i)
{
	char	q = s[i++];

	while (i < n && s[i] != q) {
		if (s[i] == '\\')
			i++;
		else if (s[i] == '\n' && q != '`')
			break;
		i++;
	}
	return i < n ? i + 1 : n;
}

/* A default value's text: up to a ',' or '}' outside brackets. */
static size_t
default_end(const char *s, size_t n, size_t i)
{
	int	depth = 0;

	while (i < n) {
		if (s[i] == '"' || s[i] == '\'' || s[i] == '`') {
			i = quoted_end(s, n, i);
			continue;
		}
		if (s[i] == '(' || s[i] == '[' || s[i] == '{')
			depth++;
		else if (s[i] == ')' || s[i] == ']' || s[i] == '}') {
			if (depth == 0)
				break;
			depth--;
		} else if (s[i] == ',' && depth == 0)
			break;
		i++;
	}
	return i;
}

/*
 * "function main({a, b = 1, c: d})" at s[i] (just past "main"), the
 * signature of Dify's javascript template, which Duktape (ES5 with parts
 * of ES6) cannot parse: rewritten as "function main(__dify_args) {var a =
 * __dify_args["a"]; ...", keeping the line count.  Returns the index after
 * the body's "{", or 0 when the text is not of that shape.
 */
static size_t
js_main_params(const char *s, size_t n, size_t i, struct buf *out)
{
	struct buf	 decl;
	size_t		 k0, k1, a0, a1, d0, d1, start = i;
	int		 lines = 0;

	i = skip_ws(s, n, i);
	if (i >= n || s[i] != '(')
		return 0;
	i = skip_ws(s, n, i + 1);
	if (i >= n || s[i] != '{')
		return 0;
	buf_init(&decl, n + 4096);
	for (i++;;) {
		i = skip_ws(s, n, i);
		if (i < n && s[i] == '}')
			break;
		k0 = i;
		k1 = ident_end(s, n, i);
		if (k1 == k0)
			goto fail;	/* nested patterns, "...rest" */
		a0 = k0;
		a1 = k1;
		i = skip_ws(s, n, k1);
		if (i < n && s[i] == ':') {
			a0 = skip_ws(s, n, i + 1);
			a1 = ident_end(s, n, a0);
			if (a1 == a0)
				goto fail;
			i = skip_ws(s, n, a1);
		}
		d0 = d1 = 0;
		if (i < n && s[i] == '=') {
			d0 = i + 1;
			d1 = i = default_end(s, n, d0);
		}
		buf_printf(&decl, "var %.*s = __dify_args[\"%.*s\"]", (int)(a1 -
		    a0), s + a0, (int)(k1 - k0), s + k0);
		if (d1 > d0)
			buf_printf(&decl, " === undefined ? (%.*s) : "
			    "__dify_args[\"%.*s\"]", (int)(d1 - d0), s + d0,
			    (int)(k1 - k0), s + k0);
		buf_puts(&decl, "; ");
		i = skip_ws(s, n, i);
		if (i < n && s[i] == ',')
			i++;
		else if (i >= n || s[i] != '}')
			goto fail;
	}
	i = skip_ws(s, n, i + 1);
	if (i < n && s[i] == '=') {	/* "= {}" for the whole argument */
		i = skip_ws(s, n, i + 1);
		if (i >= n || s[i] != '{')
			goto fail;
		i = skip_ws(s, n, i + 1);
		if (i >= n || s[i] != '}')
			goto fail;
		i = skip_ws(s, n, i + 1);
	}
	if (i >= n || s[i] != ')')
		goto fail;
	i = skip_ws(s, n, i + 1);
	if (i >= n || s[i] != '{')
		goto fail;
	i++;
	for (k0 = start; k0 < i; k0++)
		lines += s[k0] == '\n';
	buf_puts(out, "(__dify_args) {");
	buf_append(out, decl.p ? decl.p : "", decl.len);
	while (lines-- > 0)
		buf_puts(out, "\n");
	buf_free(&decl);
	return i;
fail:
	buf_free(&decl);
	return 0;
}

/*
 * What Duktape needs to run code written for Dify's node.js sandbox:
 * main's destructured parameter, and "let" as "var".  Strings, comments,
 * templates and regular expressions are copied untouched.
 */
static void
js_rewrite(const char *s, size_t n, struct buf *out)
{
	static const char *const before_regex[] = { "return", "typeof",
	    "instanceof", "in", "of", "new", "delete", "void", "throw",
	    "case", "do", "else", "yield", "await", NULL };
	size_t	i = 0, e, k;
	int	regex_ok = 1, t;

	while (i < n) {
		unsigned char	c = (unsigned char)s[i];

		if (c == '"' || c == '\'' || c == '`') {
			e = quoted_end(s, n, i);
			regex_ok = 0;
		} else if (c == '/' && i + 1 < n && s[i + 1] == '/') {
			for (e = i; e < n && s[e] != '\n'; e++)
				;
		} else if (c == '/' && i + 1 < n && s[i + 1] == '*') {
			for (e = i + 2; e + 1 < n && !(s[e] == '*' &&
			    s[e + 1] == '/'); e++)
				;
			e = e + 2 < n ? e + 2 : n;
		} else if (c == '/' && regex_ok) {
			for (e = i + 1, t = 0; e < n && s[e] != '\n' &&
			    (s[e] != '/' || t); e++) {
				if (s[e] == '\\')
					e++;
				else if (s[e] == '[')
					t = 1;
				else if (s[e] == ']')
					t = 0;
			}
			e = e < n ? e + 1 : n;
			regex_ok = 0;
		} else if (is_ident(c) && !(c >= '0' && c <= '9')) {
			e = ident_end(s, n, i);
			k = skip_ws(s, n, e);
			if (e - i == 3 && memcmp(s + i, "let", 3) == 0 &&
			    k > e && k < n && (is_ident((unsigned char)s[k]) ||
			    s[k] == '[' || s[k] == '{')) {
				buf_puts(out, "var");
				i = e;
				regex_ok = 1;
				continue;
			}
			if (e - i == 8 && memcmp(s + i, "function", 8) == 0 &&
			    k + 4 <= n && memcmp(s + k, "main", 4) == 0 &&
			    ident_end(s, n, k) == k + 4) {
				buf_append(out, s + i, k + 4 - i);
				if ((e = js_main_params(s, n, k + 4, out)) == 0)
					e = k + 4;
				i = e;
				regex_ok = 1;
				continue;
			}
			regex_ok = 0;
			for (t = 0; before_regex[t] != NULL; t++)
				if (strlen(before_regex[t]) == e - i &&
				    memcmp(before_regex[t], s + i, e - i) == 0)
					regex_ok = 1;
		} else if (c >= '0' && c <= '9') {
			e = ident_end(s, n, i);
			regex_ok = 0;
		} else {
			e = i + 1;
			if (c == ')' || c == ']')
				regex_ok = 0;
			else if (c != ' ' && c != '\t' && c != '\n' &&
			    c != '\r')
				regex_ok = 1;
		}
		buf_append(out, s + i, e - i);
		i = e;
	}
}

/* Run "code" with "inputs" (JSON text); the result goes to fd 3. */
static int
js_run(const struct job *j, const char *code, size_t clen,
    const char *inputs, size_t ilen)
{
	static const duk_function_list_entry console[] = {
		{ "log", js_console_out, DUK_VARARGS },
		{ "info", js_console_out, DUK_VARARGS },
		{ "debug", js_console_out, DUK_VARARGS },
		{ "warn", js_console_err, DUK_VARARGS },
		{ "error", js_console_err, DUK_VARARGS },
		{ NULL, NULL, 0 }
	};
	struct jsmem	 m;
	struct buf	 src;
	duk_context	*ctx;
	const char	*res;
	duk_size_t	 rlen;

	m.used = 0;
	m.cap = (size_t)j->memory_mb << 20;
	buf_init(&src, clen * 2 + 65536);
	js_rewrite(code, clen, &src);
	ctx = duk_create_heap(js_alloc, js_realloc, js_free, &m, js_fatal);
	if (ctx == NULL) {
		sandbox_child_say("sandbox: no javascript heap");
		return 1;
	}
	duk_push_global_object(ctx);
	duk_push_object(ctx);
	duk_put_function_list(ctx, -1, console);
	duk_put_prop_string(ctx, -2, "console");
	duk_pop(ctx);
	duk_push_string(ctx, "code.js");
	if (duk_pcompile_lstring_filename(ctx, 0, src.p ? src.p : "",
	    src.len) != 0 || duk_pcall(ctx, 0) != 0)
		return js_uncaught(ctx);
	duk_pop(ctx);
	if (!duk_get_global_string(ctx, "main") || !duk_is_function(ctx, -1)) {
		sandbox_child_say("ReferenceError: identifier 'main' "
		    "undefined");
		return 1;
	}
	duk_push_lstring(ctx, inputs, ilen);
	if (duk_safe_call(ctx, js_decode, NULL, 1, 1) != 0 ||
	    duk_pcall(ctx, 1) != 0 ||
	    duk_safe_call(ctx, js_encode, NULL, 1, 1) != 0)
		return js_uncaught(ctx);
	/* JSON.stringify(undefined) is undefined, which Dify cannot parse */
	res = duk_is_string(ctx, -1) ? duk_get_lstring(ctx, -1, &rlen) :
	    "undefined";
	if (!duk_is_string(ctx, -1))
		rlen = strlen(res);
	sandbox_write_all(3, res, rlen);
	return 0;
}

/*
 * Run the rest of the job on descriptor 0, "<code length>\n<code><inputs>":
 * the child's exit status.
 */
int
sandbox_js_main(const struct job *j)
{
	struct buf	 p;
	char		 chunk[65536], *nl;
	long long	 clen;
	ssize_t		 r;

	buf_init(&p, PAYLOAD_MAX);
	for (;;) {
		r = read(0, chunk, sizeof(chunk));
		if (r == -1 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (buf_append(&p, chunk, (size_t)r) == -1) {
			sandbox_child_say("sandbox: the code and inputs are "
			    "too large");
			return 1;
		}
	}
	if (p.len == 0 || (nl = memchr(p.p, '\n', p.len)) == NULL) {
		sandbox_child_say("sandbox: no job");
		return 1;
	}
	*nl = '\0';
	if (parse_int(p.p, 0, (long long)(p.len - (size_t)(nl + 1 - p.p)),
	    &clen) == -1) {
		sandbox_child_say("sandbox: bad job");
		return 1;
	}
	return js_run(j, nl + 1, (size_t)clen, nl + 1 + clen,
	    p.len - (size_t)(nl + 1 - p.p) - (size_t)clen);
}
