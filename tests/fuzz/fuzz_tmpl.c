/*
 * fuzz_tmpl.c: fuzz target of the Jinja2 subset renderer (lib/template/),
 * whose templates come from imported DSL files.
 *
 * Input: an optional JSON object of variables on the first line when the
 * input starts with '{' and has a newline (else no variables), then the
 * template.  The first byte's low bits also pick a small output cap (64
 * bytes) or the real one, and its next bits small limits of work (steps
 * and bytes) or the defaults.  Beyond "no crash, no leak, no hang" it
 * checks: the result is 0 or -1, -1 comes with a message, 0 without one;
 * the output stays under its cap and the work under its limits; when the
 * template and the variables are valid UTF-8 so are the output and the
 * message; and rendering twice gives the same result, byte for byte, and
 * the same work.  A broken invariant aborts.
 *
 * libFuzzer build: `make fuzz` (tools/fuzz.sh) links every target with
 * build-fuzz/libdify.a, the library built by clang with fuzzer
 * instrumentation (`make fuzz-lib`).
 *
 * Replay build (make builds it as $(BUILD)/fuzz/fuzz_tmpl, linked with
 * tests/fuzz/replay.c, and make test runs it over the corpus).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/template.h"

#define SMALL_OUT_MAX	64
#define SMALL_STEPS	20000
#define SMALL_BYTES	(64 * 1024)

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_tmpl: invariant broken: %s\n", what);
		abort();
	}
}

/* Whether the strings of a JSON value are valid UTF-8 (keys too). */
static int
json_utf8(json_object *v, int depth)
{
	size_t	i, n;

	if (depth > 64)
		return 0;
	switch (json_object_get_type(v)) {
	case json_type_string:
		return utf8_valid(json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
	case json_type_array:
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (!json_utf8(json_object_array_get_idx(v, i),
			    depth + 1))
				return 0;
		return 1;
	case json_type_object: {
		json_object_object_foreach(v, k, x)
			if (!utf8_valid(k, strlen(k)) || !json_utf8(x,
			    depth + 1))
				return 0;
		return 1;
	}
	default:
		return 1;
	}
}

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char		*p = (const char *)data, *nl;
	json_object		*vars = NULL;
	struct tmpl_limits	 la, lb;
	struct buf		 a, b;
	char			 ea[256], eb[256];
	size_t			 cap, n = size;
	int			 ra, rb, utf8;

	if (size == 0)
		return 0;
	cap = (data[0] & 3) == 0 ? SMALL_OUT_MAX : TMPL_OUTPUT_MAX;
	memset(&la, 0, sizeof(la));
	if ((data[0] & 12) == 0) {
		la.max_steps = SMALL_STEPS;
		la.max_bytes = SMALL_BYTES;
	}
	lb = la;
	if (p[0] == '{' && (nl = memchr(p, '\n', size)) != NULL) {
		struct json_tokener	*tok = json_tokener_new_ex(16);

		vars = json_tokener_parse_ex(tok, p, (int)(nl - p));
		json_tokener_free(tok);
		if (vars != NULL && !json_object_is_type(vars,
		    json_type_object)) {
			json_object_put(vars);
			vars = NULL;
		}
		n = size - (size_t)(nl + 1 - p);
		p = nl + 1;
	}
	utf8 = utf8_valid(p, n) && memchr(p, '\0', n) == NULL &&
	    (vars == NULL || json_utf8(vars, 0));
	buf_init(&a, cap);
	buf_init(&b, cap);
	ra = tmpl_render(p, n, vars, &la, &a, ea, sizeof(ea));
	rb = tmpl_render(p, n, vars, &lb, &b, eb, sizeof(eb));
	check(ra == 0 || ra == -1, "result is 0 or -1");
	check(ra == rb, "two renderings agree on the result");
	check(ra == 0 ? ea[0] == '\0' : ea[0] != '\0',
	    "a message exactly when failing");
	check(a.len <= cap, "output under its cap");
	check(a.len == b.len && (a.len == 0 || memcmp(a.p, b.p, a.len) == 0),
	    "two renderings give the same bytes");
	check(strcmp(ea, eb) == 0, "two renderings give the same message");
	check(la.steps == lb.steps && la.bytes == lb.bytes,
	    "two renderings do the same work");
	check(la.steps <= (la.max_steps ? la.max_steps : TMPL_STEPS_MAX),
	    "steps under their limit");
	check(la.bytes <= (la.max_bytes ? la.max_bytes : TMPL_BYTES_MAX),
	    "bytes under their limit");
	if (utf8 && ra == 0)
		check(utf8_valid(buf_cstr(&a), a.len), "output is UTF-8");
	buf_free(&a);
	buf_free(&b);
	json_object_put(vars);
	return 0;
}

