/*
 * tmpl_exec.c: running the statements of a template: text, output, if,
 * set, and for loops with loop.* (index, revindex, first, last, length,
 * previtem, nextitem), their "if" filter and else; a loop over range()
 * makes its numbers one by one.  Each node and round counts its steps.
 */
#include <math.h>
#include <stdint.h>

#include "tmpl_int.h"

/* Item i of a loop: of "items", or lo + i * st of a range; a reference. */
static json_object *
nth(json_object *items, long long lo, long long st, size_t i)
{
	if (items != NULL)
		return json_object_get(json_object_array_get_idx(items, i));
	return json_object_new_int64(lo + (long long)i * st);
}

/* Bind the loop's names in "frame" to item "x" (taken). */
static int
bind(struct ctx *c, struct node *n, json_object *frame, json_object *x)
{
	if (n->var2 == NULL) {
		json_object_object_add(frame, n->var1, x);
		return 0;
	}
	if (!json_object_is_type(x, json_type_array) ||
	    json_object_array_length(x) != 2) {
		json_object_put(x);
		tmpl_rerr(c, "cannot unpack the loop item into two names");
		return -1;
	}
	json_object_object_add(frame, n->var1,
	    json_object_get(json_object_array_get_idx(x, 0)));
	json_object_object_add(frame, n->var2,
	    json_object_get(json_object_array_get_idx(x, 1)));
	json_object_put(x);
	return 0;
}

/*
 * The items for which the loop's "if" holds, in a new list: Jinja
 * filters before the loop, so loop.length and loop.index count them.
 */
static json_object *
loop_filter(struct ctx *c, struct node *n, json_object *items, long long lo,
    long long st, size_t len)
{
	json_object	*kept, *frame;
	struct val	 v;
	size_t		 i;

	if (c->nframes == FRAMES_MAX) {
		tmpl_rerr(c, "loops nested too deeply");
		return NULL;
	}
	if (tmpl_made_n(c, len, SLOT_BYTES) == -1)
		return NULL;
	kept = tmpl_new_list(c, items != NULL ? tmpl_depth_of(items) : 1,
	    len * SLOT_BYTES);
	frame = json_object_new_object();
	c->frames[c->nframes++] = frame;
	for (i = 0; i < len && tmpl_work(c, 1) == 0; i++) {
		if (bind(c, n, frame, nth(items, lo, st, i)) == -1)
			break;
		v = tmpl_eval(c, n->cond);
		if (tmpl_truthy(&v))
			json_object_array_add(kept, nth(items, lo, st, i));
		tmpl_vput(&v);
	}
	c->nframes--;
	json_object_put(frame);
	return kept;
}

/*
 * A for loop.  A loop over range() makes its numbers one by one, as
 * Python's range does, so that it costs steps and no memory.
 */
static void
exec_for(struct ctx *c, struct node *n)
{
	struct val	 it;
	json_object	*items = NULL, *frame, *loop, *f;
	json_object	*index, *index0, *revindex, *revindex0, *first, *last;
	long long	 lo = 0, st = 1;
	size_t		 i, len;

	if (tmpl_is_range(n->e)) {
		if (tmpl_range_args(c, n->e, &lo, &st, &len) == -1)
			return;
	} else {
		it = tmpl_eval(c, n->e);
		if (c->failed) {
			tmpl_vput(&it);
			return;
		}
		items = tmpl_iter_items(c, &it);
		tmpl_vput(&it);
		if (items == NULL)
			return;
		len = json_object_array_length(items);
	}
	if (n->cond != NULL) {
		f = loop_filter(c, n, items, lo, st, len);
		json_object_put(items);
		if ((items = f) == NULL || c->failed) {
			json_object_put(items);
			return;
		}
		len = json_object_array_length(items);
	}
	if (len == 0) {
		json_object_put(items);
		tmpl_exec_nodes(c, n->orelse);
		return;
	}
	if (c->nframes == FRAMES_MAX) {
		json_object_put(items);
		tmpl_rerr(c, "loops nested too deeply");
		return;
	}
	frame = json_object_new_object();
	loop = json_object_new_object();
	/* one loop object, its fields updated in place round after round */
	json_object_object_add(loop, "length",
	    json_object_new_int64((int64_t)len));
	json_object_object_add(loop, "index", index = json_object_new_int64(0));
	json_object_object_add(loop, "index0",
	    index0 = json_object_new_int64(0));
	json_object_object_add(loop, "revindex",
	    revindex = json_object_new_int64(0));
	json_object_object_add(loop, "revindex0",
	    revindex0 = json_object_new_int64(0));
	json_object_object_add(loop, "first",
	    first = json_object_new_boolean(1));
	json_object_object_add(loop, "last", last = json_object_new_boolean(0));
	json_object_object_add(frame, "loop", loop);
	c->frames[c->nframes++] = frame;
	for (i = 0; i < len && tmpl_work(c, LOOP_STEPS) == 0; i++) {
		if (bind(c, n, frame, nth(items, lo, st, i)) == -1)
			break;
		json_object_set_int64(index, (int64_t)i + 1);
		json_object_set_int64(index0, (int64_t)i);
		json_object_set_int64(revindex, (int64_t)(len - i));
		json_object_set_int64(revindex0, (int64_t)(len - i - 1));
		json_object_set_boolean(first, i == 0);
		json_object_set_boolean(last, i == len - 1);
		json_object_object_add(loop, "previtem", i > 0 ?
		    nth(items, lo, st, i - 1) : NULL);
		json_object_object_add(loop, "nextitem", i + 1 < len ?
		    nth(items, lo, st, i + 1) : NULL);
		tmpl_exec_nodes(c, n->body);
	}
	c->nframes--;
	json_object_put(frame);
	json_object_put(items);
}

void
tmpl_exec_nodes(struct ctx *c, struct node *n)
{
	struct val	v;
	size_t		at;

	if (++c->depth > DEPTH_MAX) {
		tmpl_rerr(c, "blocks nested too deeply");
		return;
	}
	for (; n != NULL && tmpl_work(c, 1) == 0; n = n->next) {
		switch (n->k) {
		case N_TEXT:
			if (tmpl_made(c, n->len) == 0)
				tmpl_sput(c, c->out, n->text, n->len);
			break;
		case N_OUT:
			v = tmpl_eval(c, n->e);
			at = c->out->len;
			tmpl_str_of(c, c->out, &v);
			tmpl_made(c, c->out->len - at);
			tmpl_vput(&v);
			break;
		case N_IF: {
			struct node	*b;

			for (b = n; b != NULL && !c->failed; b = b->orelse) {
				if (b->e == NULL) {
					tmpl_exec_nodes(c, b->body);
					break;
				}
				v = tmpl_eval(c, b->e);
				if (tmpl_truthy(&v)) {
					tmpl_vput(&v);
					tmpl_exec_nodes(c, b->body);
					break;
				}
				tmpl_vput(&v);
			}
			break;
		}
		case N_FOR:
			exec_for(c, n);
			break;
		case N_SET:
			v = tmpl_eval(c, n->e);
			if (!c->failed)
				json_object_object_add(
				    c->frames[c->nframes - 1], n->var1,
				    v.undef ? NULL : v.j);
			else
				tmpl_vput(&v);
			break;
		}
	}
	c->depth--;
}
