/*
 * dsl_check.c: the checks of a normalised graph as a whole, each problem
 * naming its node: every value selector and {{#node.var#}} template
 * refers to a node that exists (or to sys, env or conversation), every
 * parentId is a node, no edges run in a cycle (Tarjan's strongly
 * connected components, one cycle named for each), and the graph has the
 * start node, and the end or answer node, that its mode needs.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "dsl_int.h"

/* ---- references: value selectors and {{#node.var#}} templates ---- */

/* Owners of selectors that are not nodes (spec 3.1). */
static const char *const reserved_owners[] = {
	"sys", "env", "conversation", NULL
};

#define OWNER_CHARS	"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ" \
			"0123456789_"

struct refs {
	struct dsl_node	*nd;
	const char	*field;		/* the data key being walked */
	json_object	*seen;		/* owners already reported */
};

static void
ref_owner(struct dsl_load *L, struct refs *r, const char *owner)
{
	if (owner[0] == '\0' || dsl_in_list(reserved_owners, owner) ||
	    dsl_find_node(L, owner) != NULL ||
	    json_object_object_get_ex(r->seen, owner, NULL))
		return;
	json_object_object_add(r->seen, owner, NULL);
	PROBLEM(L, r->nd, "refers to node %s, which does not exist (in %s)",
	    dsl_qs(L, owner), r->field != NULL ? r->field : "data");
}

static int
is_selector(json_object *v)
{
	size_t	i, n;

	if (!json_object_is_type(v, json_type_array))
		return 0;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++)
		if (!json_object_is_type(json_object_array_get_idx(v, i),
		    json_type_string))
			return 0;
	return n > 0;
}

static void
ref_selector(struct dsl_load *L, struct refs *r, json_object *sel)
{
	ref_owner(L, r, json_object_get_string(
	    json_object_array_get_idx(sel, 0)));
}

/*
 * Every {{#owner.name...#}} in "s", as Dify's VariableTemplateParser
 * finds them: owner [A-Za-z0-9_]{1,50}, then 1-10 ".name" segments of
 * [A-Za-z_][A-Za-z0-9_]{0,29}.
 */
static void
ref_templates(struct dsl_load *L, struct refs *r, const char *s)
{
	const char	*p = s, *q;
	size_t		 n, m;
	int		 segs;
	char		 owner[51];

	while ((p = strstr(p, "{{#")) != NULL) {
		p += 3;
		n = strspn(p, OWNER_CHARS);
		if (n < 1 || n > 50)
			continue;
		q = p + n;
		for (segs = 0; *q == '.' && segs < 10; segs++) {
			q++;
			if (!isalpha((unsigned char)*q) && *q != '_')
				break;
			m = strspn(q, OWNER_CHARS);
			if (m > 30)
				break;
			q += m;
		}
		if (segs == 0 || strncmp(q, "#}}", 3) != 0)
			continue;
		memcpy(owner, p, n);
		owner[n] = '\0';
		ref_owner(L, r, owner);
	}
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t	n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Walk a node's data for selectors (by the keys Dify keeps them under)
 * and templates. */
static void
ref_walk(struct dsl_load *L, struct refs *r, json_object *v, const char *key)
{
	json_object	*el;
	size_t		 i;
	const char	*how;

	switch (json_object_get_type(v)) {
	case json_type_string:
		if (key == NULL || (strcmp(key, "code") != 0 &&
		    strcmp(key, "desc") != 0 && strcmp(key, "title") != 0))
			ref_templates(L, r, json_object_get_string(v));
		return;
	case json_type_array:
		if (key != NULL && (ends_with(key, "selector") ||
		    strcmp(key, "query") == 0 || strcmp(key, "variable") == 0 ||
		    strcmp(key, "file") == 0) && is_selector(v)) {
			ref_selector(L, r, v);
			return;
		}
		for (i = 0; i < json_object_array_length(v); i++) {
			el = json_object_array_get_idx(v, i);
			/* variable-aggregator: variables is a list of them */
			if (key != NULL && strcmp(key, "variables") == 0 &&
			    is_selector(el))
				ref_selector(L, r, el);
			else
				ref_walk(L, r, el, NULL);
		}
		return;
	case json_type_object:
		/* {type|value_type|input_type: variable, value: selector} */
		how = json_str(v, "type");
		if (how == NULL || strcmp(how, "variable") != 0)
			how = json_str(v, "value_type");
		if (how == NULL || strcmp(how, "variable") != 0)
			how = json_str(v, "input_type");
		if (how != NULL && strcmp(how, "variable") == 0 &&
		    is_selector(json_get(v, "value")))
			ref_selector(L, r, json_get(v, "value"));
		json_object_object_foreach(v, k, val) {
			if (r->field == NULL || v == r->nd->data)
				r->field = k;
			ref_walk(L, r, val, k);
		}
		return;
	default:
		return;
	}
}

static void
check_references(struct dsl_load *L)
{
	struct refs	 r;
	struct dsl_node	*nd;
	const char	*parent;
	size_t		 i;

	for (i = 0; i < L->n; i++) {
		nd = &L->nodes[i];
		if (!nd->ok)
			continue;
		r.nd = nd;
		r.field = NULL;
		r.seen = json_object_new_object();
		ref_walk(L, &r, nd->data, NULL);
		json_object_put(r.seen);
		parent = json_str(nd->obj, "parentId");
		if (parent != NULL && parent[0] != '\0' &&
		    dsl_find_node(L, parent) == NULL)
			PROBLEM(L, nd, "parentId %s is not a node",
			    dsl_qs(L, parent));
	}
}

/* ---- cycles: Tarjan's strongly connected components, iteratively ---- */

struct graph {
	int	*off;		/* CSR: successors of v are adj[off[v]..] */
	int	*adj;
};

/* Name one cycle through "v" within its component "comp". */
static void
report_cycle(struct dsl_load *L, const struct graph *g, int v, const int *comp,
    int *prev, int *queue)
{
	struct buf	 b;
	int		 head = 0, tail = 0, u = -1, w, j, path[12], np = 0;

	queue[tail++] = v;
	while (head < tail && u == -1) {
		int	x = queue[head++];

		for (j = g->off[x]; j < g->off[x + 1]; j++) {
			w = g->adj[j];
			if (comp[w] != v)
				continue;
			if (w == v) {
				u = x;
				break;
			}
			if (prev[w] == -1) {
				prev[w] = x;
				queue[tail++] = w;
			}
		}
	}
	for (w = u; w != v && w != -1 && np < 10; w = prev[w])
		path[np++] = w;
	buf_init(&b, 4096);
	buf_printf(&b, "in a cycle: %s", dsl_qs(L, L->nodes[v].id));
	if (w != v && w != -1)
		buf_puts(&b, " -> ...");
	while (np > 0)
		buf_printf(&b, " -> %s", dsl_qs(L, L->nodes[path[--np]].id));
	buf_printf(&b, " -> %s", dsl_qs(L, L->nodes[v].id));
	PROBLEM(L, &L->nodes[v], "%s", buf_cstr(&b));
	buf_free(&b);
	for (j = 0; j < tail; j++)
		prev[queue[j]] = -1;
}

static void
check_cycles(struct dsl_load *L)
{
	struct graph	 g;
	size_t		 i, n = L->n;
	int		*idx, *low, *stk, *onstk, *call, *it, *comp, *prev;
	int		*queue;
	int		 counter = 0, sp = 0, cp = 0, v, w, size, self;

	if (n == 0 || L->ne == 0)
		return;
	g.off = xcalloc(n + 1, sizeof(int));
	g.adj = xmalloc(L->ne * sizeof(int));
	for (i = 0; i < L->ne; i++)
		g.off[L->esrc[i] + 1]++;
	for (i = 0; i < n; i++)
		g.off[i + 1] += g.off[i];
	it = xmalloc(n * sizeof(int));
	memcpy(it, g.off, n * sizeof(int));
	for (i = 0; i < L->ne; i++)
		g.adj[it[L->esrc[i]]++] = L->etgt[i];
	idx = xmalloc(n * sizeof(int));
	low = xmalloc(n * sizeof(int));
	stk = xmalloc(n * sizeof(int));
	onstk = xcalloc(n, sizeof(int));
	call = xmalloc(n * sizeof(int));
	comp = xmalloc(n * sizeof(int));
	prev = xmalloc(n * sizeof(int));
	queue = xmalloc(n * sizeof(int));
	for (i = 0; i < n; i++)
		idx[i] = comp[i] = prev[i] = -1;
	for (i = 0; i < n; i++) {
		if (idx[i] != -1)
			continue;
		v = (int)i;
		idx[v] = low[v] = counter++;
		stk[sp++] = v;
		onstk[v] = 1;
		call[cp] = v;
		it[cp++] = g.off[v];
		while (cp > 0) {
			v = call[cp - 1];
			if (it[cp - 1] < g.off[v + 1]) {
				w = g.adj[it[cp - 1]++];
				if (idx[w] == -1) {
					idx[w] = low[w] = counter++;
					stk[sp++] = w;
					onstk[w] = 1;
					call[cp] = w;
					it[cp++] = g.off[w];
				} else if (onstk[w] && idx[w] < low[v])
					low[v] = idx[w];
				continue;
			}
			cp--;
			if (cp > 0 && low[v] < low[call[cp - 1]])
				low[call[cp - 1]] = low[v];
			if (low[v] != idx[v])
				continue;
			size = 0;
			do {
				w = stk[--sp];
				onstk[w] = 0;
				comp[w] = v;
				size++;
			} while (w != v);
			self = 0;
			for (w = g.off[v]; w < g.off[v + 1]; w++)
				self |= g.adj[w] == v;
			if (size > 1 || self)
				report_cycle(L, &g, v, comp, prev, queue);
		}
	}
	free(g.off);
	free(g.adj);
	free(it);
	free(idx);
	free(low);
	free(stk);
	free(onstk);
	free(call);
	free(comp);
	free(prev);
	free(queue);
}

/* ---- the nodes every graph of the mode needs ---- */

static void
check_required(struct dsl_load *L)
{
	int	start = 0, end = 0, answer = 0;
	size_t	i;

	for (i = 0; i < L->n; i++) {
		start |= dsl_type_is(&L->nodes[i], "start");
		end |= dsl_type_is(&L->nodes[i], "end");
		answer |= dsl_type_is(&L->nodes[i], "answer");
	}
	if (!start)
		PROBLEM(L, NULL, "graph: no start node");
	if (strcmp(L->a->mode, "workflow") == 0 && !end)
		PROBLEM(L, NULL, "graph: no end node (a workflow app needs "
		    "one)");
	if (strcmp(L->a->mode, "advanced-chat") == 0 && !answer)
		PROBLEM(L, NULL, "graph: no answer node (an advanced-chat app "
		    "needs one)");
}

void
dsl_check_graph(struct dsl_load *L)
{
	check_references(L);
	check_cycles(L);
	check_required(L);
}
