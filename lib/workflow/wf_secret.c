/*
 * wf_secret.c: secret environment variables, masked wherever a run shows
 * what it did (spec workflow.md 3.4), as Dify's SecretVariable.log and
 * core/helper/encrypter.py obfuscated_token do.  The secrets are the top
 * engine's, learnt once per run with the forms they take in a URL or a
 * form body; node events and stored node executions go through
 * wf_secret_mask(), while the variable pool keeps the values themselves.
 */
#include <stdio.h>
#include <string.h>

#include "workflow/workflow.h"
#include "workflow_int.h"

/*
 * A secret env value (or the form it takes in a URL or a form body) and
 * what shows instead.  Node events and stored executions, their inputs,
 * process_data, outputs and errors, show the mask; the variable pool, and
 * so the requests nodes make and the run's own outputs, keep the value.
 */
struct wf_secret {
	const char	*find;
	size_t		 len;
	const char	*mask;
};

#define SECRET_LOG_MIN_CHARS	24


/* Bytes of the first "k" characters of s (n bytes). */
static size_t
utf8_span(const char *s, size_t n, size_t k)
{
	size_t	i = 0;

	while (i < n && k > 0) {
		i++;
		while (i < n && ((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		k--;
	}
	return i;
}

/*
 * Dify's SecretVariable.log, encrypter.obfuscated_token: the first six
 * characters, a star for each but the last two, the last two.  That
 * shows eight characters whatever the length (and all of a short one),
 * so a secret under SECRET_LOG_MIN_CHARS characters is all stars.
 */
static const char *
secret_log(struct pool *p, const char *s)
{
	size_t	 n = strlen(s), chars = utf8_count(s, n), head, tail, i;
	char	*o, *d;

	o = pool_alloc(p, n + chars + 1);
	d = o;
	if (chars < SECRET_LOG_MIN_CHARS) {
		for (i = 0; i < chars; i++)
			*d++ = '*';
	} else {
		head = utf8_span(s, n, 6);
		tail = n - utf8_span(s, n, chars - 2);
		memcpy(d, s, head);
		d += head;
		for (i = 0; i < chars - 8; i++)
			*d++ = '*';
		memcpy(d, s + n - tail, tail);
		d += tail;
	}
	*d = '\0';
	return o;
}

static void
add_secret(struct wf_engine *e, struct pool *p, const char *find, int *cap)
{
	struct wf_secret	*sc;
	int			 i;

	if (find == NULL || *find == '\0')
		return;
	for (i = 0; i < e->nsecrets; i++)
		if (strcmp(e->secrets[i].find, find) == 0)
			return;
	if (e->nsecrets == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		sc = pool_alloc(p, (size_t)*cap * sizeof(*sc));
		if (e->nsecrets > 0)
			memcpy(sc, e->secrets, (size_t)e->nsecrets *
			    sizeof(*sc));
		e->secrets = sc;
	}
	/* longest first, so that a longer form is masked whole */
	for (i = e->nsecrets; i > 0 && e->secrets[i - 1].len < strlen(find);
	    i--)
		e->secrets[i] = e->secrets[i - 1];
	e->secrets[i].find = find;
	e->secrets[i].len = strlen(find);
	e->secrets[i].mask = secret_log(p, find);
	e->nsecrets++;
}

/* The secrets of the run's environment_variables (value_type secret). */
void
wf_secret_load(struct wf_engine *e)
{
	struct wf_run	*r = e->r;
	json_object	*d;
	const char	*v, *enc[2];
	size_t		 i, n;
	int		 cap = 0;

	n = r->env_decls && json_object_is_type(r->env_decls,
	    json_type_array) ? json_object_array_length(r->env_decls) : 0;
	for (i = 0; i < n; i++) {
		d = json_object_array_get_idx(r->env_decls, i);
		v = json_str(d, "value");
		if (json_str(d, "value_type") == NULL ||
		    strcmp(json_str(d, "value_type"), "secret") != 0 ||
		    v == NULL || *v == '\0')
			continue;
		add_secret(e, r->p, v, &cap);
		wf_http_encodings(r->p, v, enc);
		add_secret(e, r->p, enc[0], &cap);
		/* a URL ends at '#': the rest is no form of the secret */
		if (strchr(v, '#') == NULL)
			add_secret(e, r->p, enc[1], &cap);
	}
}

/*
 * "s" (n bytes) with every secret masked, in "out" (NUL-terminated), or
 * 0 when none occurs.  A mask is never longer than what it replaces.
 */
static int
mask_text(struct wf_engine *e, const char *s, size_t n, struct buf *out)
{
	struct wf_engine	*t = wf_engine_top(e);
	const struct wf_secret	*sc;
	size_t			 i = 0, from = 0;
	int			 k, hit = 0;

	while (i < n) {
		for (k = 0; k < t->nsecrets; k++) {
			sc = &t->secrets[k];
			if (sc->len <= n - i && s[i] == sc->find[0] &&
			    memcmp(s + i, sc->find, sc->len) == 0)
				break;
		}
		if (k == t->nsecrets) {
			i++;
			continue;
		}
		if (!hit) {
			buf_init(out, n + 1);
			hit = 1;
		}
		buf_append(out, s + from, i - from);
		buf_puts(out, t->secrets[k].mask);
		i += t->secrets[k].len;
		from = i;
	}
	if (hit) {
		buf_append(out, s + from, n - from);
		buf_cstr(out);
	}
	return hit;
}

/*
 * "o" as it may show: a new reference, "o" itself when it holds no
 * secret, else a copy with every secret masked (the original may be a
 * value of the variable pool, which keeps the secret).
 */
json_object *
wf_secret_mask(struct wf_engine *e, json_object *o, int depth)
{
	json_object	*c, *v;
	struct buf	 b;
	size_t		 i, n;
	int		 changed = 0;

	if (o == NULL || wf_engine_top(e)->nsecrets == 0 ||
	    depth > JSON_MAX_DEPTH)
		return json_object_get(o);
	switch (json_object_get_type(o)) {
	case json_type_string:
		if (!mask_text(e, json_object_get_string(o),
		    (size_t)json_object_get_string_len(o), &b))
			return json_object_get(o);
		c = json_object_new_string_len(b.p, (int)b.len);
		buf_free(&b);
		return c;
	case json_type_array:
		n = json_object_array_length(o);
		c = json_object_new_array();
		for (i = 0; i < n; i++) {
			v = json_object_array_get_idx(o, i);
			json_object_array_add(c, wf_secret_mask(e, v,
			    depth + 1));
			changed |= json_object_array_get_idx(c, i) != v;
		}
		break;
	case json_type_object:
		c = json_object_new_object();
		json_object_object_foreach(o, k, val) {
			v = wf_secret_mask(e, val, depth + 1);
			changed |= v != val;
			json_object_object_add(c, k, v);
		}
		break;
	default:
		return json_object_get(o);
	}
	if (changed)
		return c;
	json_object_put(c);
	return json_object_get(o);
}

/* A node's error message as it may show, in place. */
void
wf_secret_mask_error(struct wf_engine *e, char *err, size_t size)
{
	struct buf	b;

	if (mask_text(e, err, strlen(err), &b)) {
		snprintf(err, size, "%s", b.p);
		buf_free(&b);
	}
}
