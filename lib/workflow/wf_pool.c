/*
 * wf_pool.c: the variable pool of a run and the {{#owner.name.path#}}
 * templates of node texts.  Mirrors Dify's core/workflow/entities/
 * variable_pool.py and utils/variable_template_parser.py: a value lives
 * under (owner, name); extra selector parts walk into objects, or read
 * an attribute of a file; a node that never ran has no entries, which is
 * how "not found" and skipped branches show.  Templates match owner
 * [A-Za-z0-9_]{1,50} and 1-10 parts [A-Za-z_][A-Za-z0-9_]{0,29}; any
 * other text between {{# and #}} stays literal.
 */
#include <ctype.h>
#include <string.h>

#include "workflow/workflow.h"

void
wf_pool_init(struct wf_pool *wp)
{
	wp->root = json_object_new_object();
}

void
wf_pool_free(struct wf_pool *wp)
{
	json_object_put(wp->root);
	wp->root = NULL;
}

static json_object *
owner_obj(struct wf_pool *wp, const char *owner, int create)
{
	json_object	*o = json_get(wp->root, owner);

	if (o == NULL && create) {
		o = json_object_new_object();
		json_object_object_add(wp->root, owner, o);
	}
	return o;
}

void
wf_pool_set(struct wf_pool *wp, const char *owner, const char *name,
    json_object *v)
{
	json_object_object_add(owner_obj(wp, owner, 1), name, v);
}

void
wf_pool_add(struct wf_pool *wp, const char *owner, json_object *outputs)
{
	json_object	*o = owner_obj(wp, owner, 1);

	if (outputs == NULL || !json_object_is_type(outputs, json_type_object))
		return;
	json_object_object_foreach(outputs, k, v)
		json_object_object_add(o, k, json_object_get(v));
}

void
wf_pool_forget(struct wf_pool *wp, const char *owner)
{
	json_object_object_del(wp->root, owner);
}

/* A file attribute by Dify's name (FileAttribute). */
static int
file_attr(json_object *f, const char *attr, json_object **v)
{
	static const struct {
		const char	*name;
		const char	*key;
	} map[] = {
		{ "type", "type" }, { "size", "size" }, { "name", "filename" },
		{ "mime_type", "mime_type" },
		{ "transfer_method", "transfer_method" }, { "url", "url" },
		{ "extension", "extension" }, { "related_id", "related_id" },
	};
	size_t	i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strcmp(map[i].name, attr) != 0)
			continue;
		*v = json_get(f, map[i].key);
		if (*v == NULL && strcmp(attr, "url") == 0)
			*v = json_get(f, "remote_url");
		return 1;
	}
	return 0;
}

int
wf_pool_get(struct wf_pool *wp, const char *const *parts, int n,
    json_object **v)
{
	json_object	*o, *cur;
	int		 i;

	*v = NULL;
	if (n < 2)
		return 0;
	o = owner_obj(wp, parts[0], 0);
	if (o == NULL || !json_object_object_get_ex(o, parts[1], &cur))
		return 0;
	for (i = 2; i < n; i++) {
		if (i == 2 && wf_is_file(cur))
			return file_attr(cur, parts[i], v) ? 1 : 0;
		if (cur == NULL ||
		    !json_object_is_type(cur, json_type_object) ||
		    !json_object_object_get_ex(cur, parts[i], &cur))
			return 0;
	}
	*v = cur;
	return 1;
}

int
wf_selector_parts(json_object *sel, const char *parts[WF_SELECTOR_MAX])
{
	size_t		 i, n;
	json_object	*s;

	if (sel == NULL || !json_object_is_type(sel, json_type_array))
		return -1;
	n = json_object_array_length(sel);
	if (n < 2 || n > WF_SELECTOR_MAX)
		return -1;
	for (i = 0; i < n; i++) {
		s = json_object_array_get_idx(sel, i);
		if (!json_object_is_type(s, json_type_string))
			return -1;
		parts[i] = json_object_get_string(s);
	}
	return (int)n;
}

int
wf_pool_get_sel(struct wf_pool *wp, json_object *sel, json_object **v)
{
	const char	*parts[WF_SELECTOR_MAX];
	int		 n = wf_selector_parts(sel, parts);

	*v = NULL;
	return n < 0 ? 0 : wf_pool_get(wp, parts, n, v);
}

/*
 * The length of a variable reference "owner.a.b" at "s" up to "#}}", or
 * 0 when the text there is not one.
 */
static size_t
match_var(const char *s)
{
	size_t	i = 0, k;
	int	nparts = 0;

	while (i < 50 && (isalnum((unsigned char)s[i]) || s[i] == '_'))
		i++;
	if (i == 0)
		return 0;
	while (s[i] == '.') {
		i++;
		if (!isalpha((unsigned char)s[i]) && s[i] != '_')
			return 0;
		for (k = 0; k < 30 && (isalnum((unsigned char)s[i]) ||
		    s[i] == '_'); k++)
			i++;
		nparts++;
	}
	if (nparts < 1 || nparts > 10 || strncmp(s + i, "#}}", 3) != 0)
		return 0;
	return i;
}

int
wf_tmpl_parse(struct pool *p, const char *tpl, struct wf_seg **out)
{
	const char	*s = tpl, *lit = tpl, *q;
	struct wf_seg	*segs = NULL, *sg;
	size_t		 n, cap = 0, len, i;
	int		 count = 0;
	char		*inner;

	for (;;) {
		q = strstr(s, "{{#");
		len = q != NULL ? match_var(q + 3) : 0;
		if (q != NULL && len == 0) {
			s = q + 1;
			continue;
		}
		n = (size_t)((q != NULL ? q : s + strlen(s)) - lit);
		if ((size_t)count + 2 > cap) {
			struct wf_seg	*ns;

			cap = cap ? cap * 2 : 8;
			ns = pool_alloc(p, cap * sizeof(*ns));
			if (count > 0)
				memcpy(ns, segs, (size_t)count * sizeof(*ns));
			segs = ns;
		}
		if (n > 0) {
			sg = &segs[count++];
			memset(sg, 0, sizeof(*sg));
			sg->text = pool_strndup(p, lit, n);
			sg->len = n;
		}
		if (q == NULL)
			break;
		sg = &segs[count++];
		memset(sg, 0, sizeof(*sg));
		inner = pool_strndup(p, q + 3, len);
		sg->text = inner;
		sg->len = len;
		sg->is_var = 1;
		sg->parts[sg->nparts++] = inner;
		for (i = 0; i < len; i++) {
			if (inner[i] == '.') {
				inner[i] = '\0';
				sg->parts[sg->nparts++] = inner + i + 1;
			}
		}
		/* keep the dotted text for rendering of missing variables */
		sg->text = pool_strndup(p, q + 3, len);
		s = lit = q + 3 + len + 3;
	}
	*out = segs;
	return count;
}

char *
wf_tmpl_render(struct pool *p, struct wf_pool *wp, const char *tpl,
    enum wf_render mode, const char **missing)
{
	struct wf_seg	*segs;
	struct buf	 b;
	json_object	*v;
	char		*out = NULL;
	int		 n, i;

	if (missing != NULL)
		*missing = NULL;
	n = wf_tmpl_parse(p, tpl != NULL ? tpl : "", &segs);
	buf_init(&b, (size_t)UPSTREAM_TEXT_MAX);
	for (i = 0; i < n; i++) {
		if (!segs[i].is_var) {
			buf_append(&b, segs[i].text, segs[i].len);
			continue;
		}
		if (wf_pool_get(wp, segs[i].parts, segs[i].nparts, &v)) {
			wf_render(&b, v, mode);
			continue;
		}
		if (missing != NULL) {
			*missing = pool_printf(p, "#%s#", segs[i].text);
			goto out;
		}
		buf_append(&b, segs[i].text, segs[i].len);
	}
	out = pool_strndup(p, b.p ? b.p : "", b.len);
out:
	buf_free(&b);
	return out;
}
