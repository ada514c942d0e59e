/*
 * prompt.c: the app's user input form applied to a request's "inputs"
 * (Dify's rules and messages, spec 4.3 / core/app/apps/base_app_generator
 * .py), and {{variable}} placeholders filled in a prompt template as
 * Dify's PromptTemplateParser does (unknown names stay as written).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "model/model.h"
#include "http/http.h"


/* Python's repr of a list of strings: ['a', 'b'] */
static void
py_list(struct buf *b, json_object *arr)
{
	size_t	i, n = arr ? json_object_array_length(arr) : 0;

	buf_puts(b, "[");
	for (i = 0; i < n; i++) {
		buf_printf(b, "%s'%s'", i ? ", " : "", json_object_get_string(
		    json_object_array_get_idx(arr, i)));
	}
	buf_puts(b, "]");
}

static int
fail(struct resp *rs, const char *var, const char *what)
{
	char	msg[1024];

	snprintf(msg, sizeof(msg), "%s %s", var, what);
	resp_error_msg(rs, ERR_INVALID_PARAM, msg);
	return -1;
}

/* Strings lose their NUL characters, as Dify strips them. */
static json_object *
clean_string(json_object *v)
{
	const char	*s = json_object_get_string(v);
	int		 n = json_object_get_string_len(v), i, j = 0;
	char		*c;
	json_object	*o;

	if (memchr(s, '\0', (size_t)n) == NULL)
		return json_object_get(v);
	c = xmalloc((size_t)n + 1);
	for (i = 0; i < n; i++)
		if (s[i] != '\0')
			c[j++] = s[i];
	c[j] = '\0';
	o = json_object_new_string(c);
	free(c);
	return o;
}

static int
check_one(const char *type, json_object *def, const char *var,
    json_object *v, json_object **out, struct resp *rs)
{
	json_object	*maxv = json_get(def, "max_length"), *opts;
	struct buf	 b;
	const char	*s;
	size_t		 i, n;
	char		 msg[128];

	*out = NULL;
	if (strcmp(type, "text-input") == 0 || strcmp(type, "paragraph") == 0 ||
	    strcmp(type, "select") == 0) {
		if (!json_object_is_type(v, json_type_string))
			return fail(rs, var, "in input form must be a string");
		s = json_object_get_string(v);
		if (strcmp(type, "select") == 0) {
			opts = json_get(def, "options");
			n = opts ? json_object_array_length(opts) : 0;
			for (i = 0; i < n; i++)
				if (strcmp(s, json_object_get_string(
				    json_object_array_get_idx(opts, i))) == 0)
					break;
			if (i == n) {
				buf_init(&b, 1 << 20);
				buf_puts(&b, "in input form must be one of the "
				    "following: ");
				py_list(&b, opts);
				fail(rs, var, buf_cstr(&b));
				buf_free(&b);
				return -1;
			}
		} else if (maxv != NULL && json_object_get_int(maxv) > 0 &&
		    utf8_count(s, strlen(s)) > (size_t)json_object_get_int(maxv)) {
			snprintf(msg, sizeof(msg), "in input form must be less "
			    "than %d characters", json_object_get_int(maxv));
			return fail(rs, var, msg);
		}
		*out = clean_string(v);
		return 0;
	}
	if (strcmp(type, "number") == 0) {
		if (json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double)) {
			*out = json_object_get(v);
			return 0;
		}
		if (json_object_is_type(v, json_type_string)) {
			char	*end;
			double	 d;

			s = json_object_get_string(v);
			if (*s == '\0')
				return 0;	/* empty string counts as null */
			d = strtod(s, &end);
			if (*end == '\0' && end != s && !isspace(
			    (unsigned char)*s)) {
				*out = strchr(s, '.') ?
				    json_object_new_double(d) :
				    json_object_new_int64((int64_t)d);
				return 0;
			}
		}
		return fail(rs, var, "in input form must be a valid number");
	}
	if (strcmp(type, "checkbox") == 0) {
		static const char *yes[] = { "true", "1", "yes", "on" };
		static const char *no[] = { "false", "0", "no", "off" };

		if (json_object_is_type(v, json_type_boolean)) {
			*out = json_object_get(v);
			return 0;
		}
		if (json_object_is_type(v, json_type_int)) {
			*out = json_object_new_boolean(json_object_get_int(v));
			return 0;
		}
		if (json_object_is_type(v, json_type_string)) {
			s = json_object_get_string(v);
			for (i = 0; i < 4; i++) {
				if (strcasecmp(s, yes[i]) == 0) {
					*out = json_object_new_boolean(1);
					return 0;
				}
				if (strcasecmp(s, no[i]) == 0) {
					*out = json_object_new_boolean(0);
					return 0;
				}
			}
		}
		return fail(rs, var, "in input form must be a boolean");
	}
	if (strcmp(type, "json_object") == 0) {
		if (!json_object_is_type(v, json_type_object))
			return fail(rs, var, "in input form must be an object");
		*out = json_object_get(v);
		return 0;
	}
	if (strcmp(type, "file-list") == 0) {
		if (!json_object_is_type(v, json_type_array))
			return fail(rs, var, "in input form must be a list of "
			    "files");
		if (maxv != NULL && json_object_get_int(maxv) > 0 &&
		    json_object_array_length(v) >
		    (size_t)json_object_get_int(maxv)) {
			snprintf(msg, sizeof(msg), "in input form must be less "
			    "than %d files", json_object_get_int(maxv));
			return fail(rs, var, msg);
		}
		*out = json_object_array_length(v) ? json_object_get(v) : NULL;
		return 0;
	}
	if (strcmp(type, "file") == 0) {
		if (!json_object_is_type(v, json_type_object))
			return fail(rs, var, "in input form must be a file");
		*out = json_object_get(v);
		return 0;
	}
	/* external_data_tool and unknown kinds: passed through */
	*out = json_object_get(v);
	return 0;
}

json_object *
prompt_inputs(json_object *form, json_object *given, struct resp *rs)
{
	json_object	*out = json_object_new_object(), *item, *def, *v, *val;
	const char	*type, *var;
	size_t		 i, n;
	char		 msg[512];

	n = form && json_object_is_type(form, json_type_array) ?
	    json_object_array_length(form) : 0;
	for (i = 0; i < n; i++) {
		item = json_object_array_get_idx(form, i);
		if (!json_object_is_type(item, json_type_object) ||
		    json_object_object_length(item) != 1)
			continue;
		{
			struct json_object_iterator it =
			    json_object_iter_begin(item);

			type = json_object_iter_peek_name(&it);
			def = json_object_iter_peek_value(&it);
		}
		var = json_str(def, "variable");
		if (var == NULL)
			continue;
		v = json_get(given, var);
		if (v != NULL && json_object_is_type(v, json_type_string) &&
		    json_object_get_string_len(v) == 0 &&
		    (strcmp(type, "file") == 0 || strcmp(type, "file-list") == 0))
			v = NULL;
		if (v != NULL && json_object_is_type(v, json_type_array) &&
		    json_object_array_length(v) == 0 &&
		    strcmp(type, "file-list") == 0)
			v = NULL;
		if (v == NULL) {
			if (json_object_get_boolean(json_get(def, "required"))) {
				snprintf(msg, sizeof(msg), "%s is required in "
				    "input form", var);
				resp_error_msg(rs, ERR_INVALID_PARAM, msg);
				json_object_put(out);
				return NULL;
			}
			val = json_get(def, "default");
			json_object_object_add(out, var, json_copy(val));
			continue;
		}
		if (check_one(type, def, var, v, &val, rs) == -1) {
			json_object_put(out);
			return NULL;
		}
		json_object_object_add(out, var, val);
	}
	return out;
}

char *
prompt_fill(struct pool *p, const char *tpl, json_object *inputs)
{
	struct buf	 b;
	const char	*s = tpl, *open, *close, *name;
	json_object	*v;
	char		*out, key[64];
	size_t		 n, i;

	buf_init(&b, (size_t)16 << 20);
	while ((open = strstr(s, "{{")) != NULL) {
		buf_append(&b, s, (size_t)(open - s));
		close = strstr(open + 2, "}}");
		n = close ? (size_t)(close - open - 2) : 0;
		name = open + 2;
		/* Dify's names: [a-zA-Z_][a-zA-Z0-9_]{0,29} */
		for (i = 0; i < n && i < 30; i++)
			if (!(isalpha((unsigned char)name[i]) || name[i] == '_' ||
			    (i > 0 && isdigit((unsigned char)name[i]))))
				break;
		if (close == NULL || n == 0 || i != n) {
			buf_append(&b, "{{", 2);
			s = open + 2;
			continue;
		}
		memcpy(key, name, n);
		key[n] = '\0';
		if (json_object_object_get_ex(inputs, key, &v)) {
			if (v != NULL)
				buf_puts(&b, json_object_is_type(v,
				    json_type_string) ?
				    json_object_get_string(v) : json_compact(v));
		} else
			buf_append(&b, open, n + 4);
		s = close + 2;
	}
	buf_puts(&b, s);
	out = pool_strdup(p, buf_cstr(&b));
	buf_free(&b);
	return out;
}
