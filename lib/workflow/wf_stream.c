/*
 * wf_stream.c: what response nodes (answer, end) send, and when (spec
 * workflow.md 4.3), as Dify's graph_engine/response_coordinator does.
 * Each response node has a template of text and variable segments.  It
 * becomes active once its node is certain to run: some path from the
 * root reaches it on which every branch, container, response or
 * fail-branch node, and every assigner that writes what it reads, has
 * taken its edge.  Active templates emit one at a time, in the order
 * they became active: text at once, a node's streamed text chunk by
 * chunk as it arrives, other values once they exist.  What is emitted
 * goes to the sink's chunk callback and is kept in r->answer.
 */
#include <stdlib.h>
#include <string.h>

#include "workflow/workflow.h"
#include "workflow_int.h"

/* A response node's template being streamed. */
struct wf_tpl {
	int		 node;
	struct wf_seg	*segs;
	int		 nsegs;
	int		 cur;		/* segment in progress */
	int		 chunk;		/* chunks of a stream consumed */
	int		 active, done, order;
};

static void
add_seg(struct wf_engine *e, struct wf_tpl *t, int *cap, struct wf_seg *s)
{
	struct pool	*p = e->r->p;

	if (t->nsegs == *cap) {
		struct wf_seg	*n;

		*cap = *cap ? *cap * 2 : 8;
		n = pool_alloc(p, (size_t)*cap * sizeof(*n));
		if (t->nsegs > 0)
			memcpy(n, t->segs, (size_t)t->nsegs * sizeof(*n));
		t->segs = n;
	}
	t->segs[t->nsegs++] = *s;
}

/* The template of a response node: answer text, or end outputs. */
static void
build_template(struct wf_engine *e, int idx, struct wf_tpl *t)
{
	struct wf_node	*n = &e->nodes[idx];
	json_object	*outs, *o;
	struct wf_seg	 s;
	size_t		 i, k;
	int		 cap = 0, np;

	memset(t, 0, sizeof(*t));
	t->node = idx;
	if (strcmp(n->type, "answer") == 0) {
		const char	*a = json_str(n->data, "answer");

		t->nsegs = wf_tmpl_parse(e->r->p, a ? a : "", &t->segs);
		return;
	}
	outs = json_get(n->data, "outputs");
	k = outs && json_object_is_type(outs, json_type_array) ?
	    json_object_array_length(outs) : 0;
	for (i = 0; i < k; i++) {
		o = json_object_array_get_idx(outs, i);
		if (i > 0) {
			memset(&s, 0, sizeof(s));
			s.text = "\n";
			s.len = 1;
			add_seg(e, t, &cap, &s);
		}
		memset(&s, 0, sizeof(s));
		np = wf_selector_parts(json_get(o, "value_selector"), s.parts);
		if (np < 0)
			continue;
		s.nparts = np;
		s.is_var = 1;
		s.text = "";
		add_seg(e, t, &cap, &s);
	}
}

void
wf_stream_templates(struct wf_engine *e)
{
	int	k;

	e->tpls = xcalloc((size_t)e->nnodes + 1, sizeof(*e->tpls));
	for (k = 0; k < e->nnodes; k++)
		if (e->nodes[k].t->kind == WF_K_RESPONSE)
			build_template(e, k, &e->tpls[e->ntpls++]);
}

static int
give_chunk(struct wf_engine *e, const char *text, size_t len,
    json_object *sel)
{
	struct wf_run	*r = e->r;
	int		 rc = 0;

	buf_append(&r->answer, text, len);
	if (r->sink.chunk != NULL && !r->client_gone &&
	    r->sink.chunk(r->sink.arg, text, len, sel) == -1) {
		r->client_gone = 1;
		rc = -1;
	}
	json_object_put(sel);
	return rc;
}

static json_object *
selector_json(const char *const *parts, int n)
{
	json_object	*a = json_object_new_array();
	int		 i;

	for (i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(parts[i]));
	return a;
}

static int
reserved_owner(const char *o)
{
	return strcmp(o, "sys") == 0 || strcmp(o, "env") == 0 ||
	    strcmp(o, "conversation") == 0;
}

/* Emit what template "t" can emit now; 1 when it is complete. */
static int
advance(struct wf_engine *e, struct wf_tpl *t)
{
	struct wf_node	*rn = &e->nodes[t->node], *n;
	struct wf_seg	*s;
	const char	*answer_sel[2];
	json_object	*v;
	struct buf	 b;
	int		 k;

	answer_sel[0] = rn->id;
	answer_sel[1] = "answer";
	while (t->cur < t->nsegs) {
		s = &t->segs[t->cur];
		if (!s->is_var) {
			give_chunk(e, s->text, s->len,
			    selector_json(answer_sel, 2));
			t->cur++;
			continue;
		}
		k = wf_graph_find(e, s->parts[0]);
		if (k < 0 || reserved_owner(s->parts[0])) {
			/*
			 * sys, env, conversation, or a node outside this graph
			 * (an enclosing loop's variables): the value is there
			 * now or never will be
			 */
			if (wf_pool_get(e->pool, s->parts, s->nparts, &v)) {
				buf_init(&b, UPSTREAM_TEXT_MAX);
				wf_render(&b, v, WF_MARKDOWN);
				if (b.len > 0)
					give_chunk(e, b.p, b.len,
					    selector_json(s->parts, s->nparts));
				buf_free(&b);
			}
			t->cur++;
			continue;
		}
		if (e->nodes[k].state == NS_SKIPPED) {
			t->cur++;
			continue;
		}
		n = &e->nodes[k];
		if (s->nparts == 2 && strcmp(s->parts[1], "text") == 0 &&
		    n->stream.open) {
			for (; t->chunk < n->stream.n; t->chunk++) {
				size_t	a = t->chunk ?
				    n->stream.ends[t->chunk - 1] : 0;

				give_chunk(e, n->stream.data.p ?
				    n->stream.data.p + a : "",
				    n->stream.ends[t->chunk] - a,
				    selector_json(s->parts, 2));
			}
			if (!n->stream.closed)
				return 0;
			t->chunk = 0;
			t->cur++;
			continue;
		}
		if (n->state != NS_DONE)
			return 0;
		if (n->ok && wf_pool_get(e->pool, s->parts, s->nparts, &v)) {
			buf_init(&b, UPSTREAM_TEXT_MAX);
			wf_render(&b, v, WF_MARKDOWN);
			if (b.len > 0)
				give_chunk(e, b.p, b.len,
				    selector_json(s->parts, s->nparts));
			buf_free(&b);
		}
		t->cur++;
	}
	return 1;
}

void
wf_stream_pump(struct wf_engine *e)
{
	struct wf_tpl	*t, *first;
	int		 i;

	for (;;) {
		first = NULL;
		for (i = 0; i < e->ntpls; i++) {
			t = &e->tpls[i];
			if (t->active && !t->done && (first == NULL ||
			    t->order < first->order))
				first = t;
		}
		if (first == NULL || !advance(e, first))
			return;
		first->done = 1;
	}
}

/* Whether edges from node "u" must be taken for "t" to be certain. */
static int
guarded(struct wf_engine *e, int u, struct wf_tpl *t)
{
	struct wf_node	*n = &e->nodes[u];
	size_t		 i, m;
	int		 k;

	if (n->t->kind == WF_K_BRANCH || n->t->kind == WF_K_CONTAINER ||
	    n->t->kind == WF_K_RESPONSE || n->fail_branch)
		return 1;
	if (n->writes == NULL)
		return 0;
	/* an assigner blocks the templates that read what it writes */
	m = json_object_array_length(n->writes);
	for (i = 0; i < m; i++) {
		const char	*parts[WF_SELECTOR_MAX];

		wf_selector_parts(json_object_array_get_idx(n->writes, i),
		    parts);
		for (k = 0; k < t->nsegs; k++)
			if (t->segs[k].is_var && t->segs[k].nparts >= 2 &&
			    strcmp(t->segs[k].parts[0], parts[0]) == 0 &&
			    strcmp(t->segs[k].parts[1], parts[1]) == 0)
				return 1;
	}
	return 0;
}

/*
 * Whether some path from the root reaches node "v" with every guarded
 * edge taken (memo: -1 unknown, -2 visiting).
 */
static int
certain(struct wf_engine *e, int v, struct wf_tpl *t, int *memo)
{
	struct wf_node	*n = &e->nodes[v];
	struct wf_edge	*ed;
	int		 i, r = 0;

	if (memo[v] >= 0)
		return memo[v];
	if (memo[v] == -2)
		return 0;
	if (v == 0)
		return memo[v] = 1;
	memo[v] = -2;
	for (i = 0; i < n->nin && !r; i++) {
		ed = &e->edges[n->in[i]];
		if (ed->state == ES_SKIPPED)
			continue;
		if (guarded(e, ed->src, t) && ed->state != ES_TAKEN)
			continue;
		r = certain(e, ed->src, t, memo);
	}
	return memo[v] = r;
}

void
wf_stream_activate(struct wf_engine *e)
{
	int	*memo = xcalloc((size_t)e->nnodes + 1, sizeof(int));
	int	 i, k;

	for (i = 0; i < e->ntpls; i++) {
		struct wf_tpl	*t = &e->tpls[i];

		if (t->active || e->nodes[t->node].state == NS_SKIPPED)
			continue;
		for (k = 0; k < e->nnodes; k++)
			memo[k] = -1;
		if (certain(e, t->node, t, memo)) {
			t->active = 1;
			t->order = e->next_order++;
		}
	}
	free(memo);
}

int
wf_stream_chunk(struct wf_engine *e, struct wf_node *n, const char *text,
    size_t len)
{
	struct wf_stream	*s = &n->stream;

	s->open = 1;
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->ends = xrealloc(s->ends, (size_t)s->cap * sizeof(*s->ends));
	}
	if (buf_append(&s->data, text, len) == -1)
		return -1;
	s->ends[s->n++] = s->data.len;
	wf_stream_pump(e);
	return e->r->client_gone ? -1 : 0;
}

void
wf_stream_close(struct wf_engine *e, struct wf_node *n)
{
	if (!n->stream.open || n->stream.closed)
		return;
	wf_stream_chunk(e, n, "", 0);
	n->stream.closed = 1;
	wf_stream_pump(e);
}
