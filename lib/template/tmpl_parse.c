/*
 * tmpl_parse.c: the syntax tree of a template, by recursive descent as
 * Jinja2's parser (jinja2/parser.py) builds it: expressions with their
 * precedence (conditional, or, and, not, comparisons and tests, ~, + -,
 * * / // %, **, unary signs, filters, attribute, subscript, slice and
 * call), literals kept alive in the tree, and the statements (text,
 * output, if/elif/else, for with its "if" and else, set, raw, comments)
 * with whitespace control.  Depth is bounded by DEPTH_MAX and the work is
 * linear in the source.
 */
#include <ctype.h>
#include <string.h>

#include "tmpl_int.h"

static struct tok *
peek(struct tp *tp)
{
	return &tp->toks[tp->itok];
}

static int
is_op(struct tok *t, const char *op)
{
	return t->t == T_OP && strcmp(t->s, op) == 0;
}

static int
is_name(struct tok *t, const char *n)
{
	return t->t == T_NAME && strcmp(t->s, n) == 0;
}

static int
accept_op(struct tp *tp, const char *op)
{
	if (!is_op(peek(tp), op))
		return 0;
	tp->itok++;
	return 1;
}

static int
accept_name(struct tp *tp, const char *n)
{
	if (!is_name(peek(tp), n))
		return 0;
	tp->itok++;
	return 1;
}

static struct expr *
mk(struct tp *tp, enum ek k)
{
	struct expr	*e = pool_alloc(&tp->pool, sizeof(*e));

	memset(e, 0, sizeof(*e));
	e->k = k;
	return e;
}

static struct expr *parse_expr(struct tp *);
static struct expr *parse_or(struct tp *);

static struct expr *
lit(struct tp *tp, struct tree *t, json_object *v)
{
	struct expr	*e = mk(tp, E_LIT);

	e->lit = v;
	json_object_array_add(t->lits, v);	/* NULL (None) is fine */
	return e;
}

static int
parse_args(struct tp *tp, struct expr *e, struct tree *t)
{
	(void)t;
	if (accept_op(tp, ")"))
		return 0;
	for (;;) {
		struct tok	*k = peek(tp);

		if (e->nargs == ARGS_MAX) {
			tmpl_perr(tp, "too many arguments");
			return -1;
		}
		/* keyword arguments keep their place and their name */
		if (k->t == T_NAME && is_op(&tp->toks[tp->itok + 1], "=")) {
			e->kw[e->nargs] = k->s;
			tp->itok += 2;
		}
		if ((e->args[e->nargs++] = parse_expr(tp)) == NULL)
			return -1;
		if (accept_op(tp, ")"))
			return 0;
		if (!accept_op(tp, ",")) {
			tmpl_perr(tp, "expected ',' or ')'");
			return -1;
		}
	}
}

static struct expr *
parse_primary(struct tp *tp, struct tree *t)
{
	struct tok	*k = peek(tp);
	struct expr	*e;

	if (tp->failed)
		return NULL;
	switch (k->t) {
	case T_INT:
		tp->itok++;
		return lit(tp, t, json_object_new_int64(k->i));
	case T_FLOAT:
		tp->itok++;
		return lit(tp, t, json_object_new_double(k->d));
	case T_STR:
		tp->itok++;
		if (peek(tp)->t != T_STR)
			return lit(tp, t, json_object_new_string_len(k->s,
			    (int)k->n));
		{
			struct buf	b;

			/* adjacent strings concatenate, in one pass */
			buf_init(&b, tp->len + 1);
			buf_append(&b, k->s, k->n);
			while (peek(tp)->t == T_STR) {
				buf_append(&b, peek(tp)->s, peek(tp)->n);
				tp->itok++;
			}
			e = lit(tp, t, json_object_new_string_len(
			    b.p ? b.p : "", (int)b.len));
			buf_free(&b);
		}
		return e;
	case T_NAME:
		tp->itok++;
		if (strcmp(k->s, "true") == 0 || strcmp(k->s, "True") == 0)
			return lit(tp, t, json_object_new_boolean(1));
		if (strcmp(k->s, "false") == 0 || strcmp(k->s, "False") == 0)
			return lit(tp, t, json_object_new_boolean(0));
		if (strcmp(k->s, "none") == 0 || strcmp(k->s, "None") == 0)
			return lit(tp, t, NULL);
		e = mk(tp, E_NAME);
		e->name = k->s;
		return e;
	case T_OP:
		if (accept_op(tp, "(")) {
			if (accept_op(tp, ")"))
				return mk(tp, E_LIST);
			e = parse_expr(tp);
			if (e == NULL)
				return NULL;
			if (is_op(peek(tp), ",")) {
				struct expr	*l = mk(tp, E_LIST);

				l->args[l->nargs++] = e;
				while (accept_op(tp, ",") &&
				    !is_op(peek(tp), ")")) {
					if (l->nargs == ARGS_MAX) {
						tmpl_perr(tp, "tuple too long");
						return NULL;
					}
					if ((l->args[l->nargs++] =
					    parse_expr(tp)) == NULL)
						return NULL;
				}
				e = l;
			}
			if (!accept_op(tp, ")")) {
				tmpl_perr(tp, "expected ')'");
				return NULL;
			}
			return e;
		}
		if (accept_op(tp, "[") || accept_op(tp, "{")) {
			int		 dict = is_op(&tp->toks[tp->itok - 1],
			    "{");
			const char	*close = dict ? "}" : "]";

			e = mk(tp, dict ? E_DICT : E_LIST);
			while (!accept_op(tp, close)) {
				if (e->nargs + 2 > ARGS_MAX) {
					tmpl_perr(tp, "literal too long");
					return NULL;
				}
				if ((e->args[e->nargs++] = parse_expr(tp)) ==
				    NULL)
					return NULL;
				if (dict) {
					if (!accept_op(tp, ":")) {
						tmpl_perr(tp, "expected ':'");
						return NULL;
					}
					if ((e->args[e->nargs++] =
					    parse_expr(tp)) == NULL)
						return NULL;
				}
				if (!accept_op(tp, ",") &&
				    !is_op(peek(tp), close)) {
					tmpl_perr(tp, "expected ',' or '%s'",
					    close);
					return NULL;
				}
			}
			return e;
		}
		break;
	default:
		break;
	}
	tmpl_perr(tp, "unexpected '%s'", k->t == T_END ? "end of tag" : k->s);
	return NULL;
}

static struct expr *
parse_postfix(struct tp *tp, struct tree *t, struct expr *e)
{
	struct expr	*n;

	while (e != NULL && !tp->failed) {
		if (accept_op(tp, ".")) {
			struct tok	*k = peek(tp);

			if (k->t != T_NAME && k->t != T_INT) {
				tmpl_perr(tp, "expected name after '.'");
				return NULL;
			}
			tp->itok++;
			n = mk(tp, E_ATTR);
			n->a = e;
			n->name = k->t == T_NAME ? k->s :
			    pool_printf(&tp->pool, "%lld", k->i);
			e = n;
		} else if (accept_op(tp, "[")) {
			n = mk(tp, E_ITEM);
			n->a = e;
			if (!is_op(peek(tp), ":") &&
			    (n->b = parse_expr(tp)) == NULL)
				return NULL;
			if (accept_op(tp, ":")) {
				n->k = E_SLICE;
				if (!is_op(peek(tp), "]") &&
				    (n->c = parse_expr(tp)) == NULL)
					return NULL;
			}
			if (!accept_op(tp, "]")) {
				tmpl_perr(tp, "expected ']'");
				return NULL;
			}
			e = n;
		} else if (accept_op(tp, "(")) {
			n = mk(tp, E_CALL);
			n->a = e;
			if (parse_args(tp, n, t) == -1)
				return NULL;
			e = n;
		} else
			break;
	}
	return e;
}

static struct expr *
parse_filters(struct tp *tp, struct tree *t, struct expr *e)
{
	struct expr	*n;
	struct tok	*k;

	while (e != NULL && !tp->failed) {
		if (accept_op(tp, "|")) {
			k = peek(tp);
			if (k->t != T_NAME) {
				tmpl_perr(tp, "expected filter name");
				return NULL;
			}
			tp->itok++;
			n = mk(tp, E_FILTER);
			n->a = e;
			n->name = k->s;
			if (accept_op(tp, "(") && parse_args(tp, n, t) == -1)
				return NULL;
			e = n;
		} else if (is_name(peek(tp), "is")) {
			tp->itok++;
			n = mk(tp, E_TEST);
			n->a = e;
			n->negate = accept_name(tp, "not");
			k = peek(tp);
			if (k->t != T_NAME) {
				tmpl_perr(tp, "expected test name");
				return NULL;
			}
			tp->itok++;
			n->name = k->s;
			if (accept_op(tp, "(")) {
				if (parse_args(tp, n, t) == -1)
					return NULL;
			} else if (peek(tp)->t == T_INT ||
			    peek(tp)->t == T_STR || peek(tp)->t == T_FLOAT) {
				n->args[n->nargs++] = parse_primary(tp, t);
			}
			e = n;
		} else
			break;
	}
	return e;
}

static struct expr *
parse_unary(struct tp *tp)
{
	struct tree	*t = tp->tree;
	struct expr	*e;

	if (++tp->depth > DEPTH_MAX) {
		tmpl_perr(tp, "expression nested too deeply");
		return NULL;
	}
	if (accept_op(tp, "-") || accept_op(tp, "+")) {
		int	neg = is_op(&tp->toks[tp->itok - 1], "-");

		e = mk(tp, neg ? E_NEG : E_POS);
		e->a = parse_unary(tp);
		tp->depth--;
		return e->a ? parse_filters(tp, t, e) : NULL;
	}
	e = parse_filters(tp, t, parse_postfix(tp, t, parse_primary(tp, t)));
	tp->depth--;
	return e;
}

static struct expr *
bin(struct tp *tp, const char *op, struct expr *a, struct expr *b)
{
	struct expr	*e;

	if (a == NULL || b == NULL)
		return NULL;
	e = mk(tp, E_BIN);
	e->name = op;
	e->a = a;
	e->b = b;
	return e;
}

static struct expr *
parse_pow(struct tp *tp)
{
	struct expr	*e = parse_unary(tp);

	while (e != NULL && accept_op(tp, "**"))
		e = bin(tp, "**", e, parse_unary(tp));
	return e;
}

static struct expr *
parse_mul(struct tp *tp)
{
	struct expr	*e = parse_pow(tp);
	static const char *ops[] = { "*", "//", "/", "%", NULL };
	int		 i;

	while (e != NULL) {
		for (i = 0; ops[i] != NULL; i++)
			if (accept_op(tp, ops[i]))
				break;
		if (ops[i] == NULL)
			break;
		e = bin(tp, ops[i], e, parse_pow(tp));
	}
	return e;
}

static struct expr *
parse_add(struct tp *tp)
{
	struct expr	*e = parse_mul(tp);

	while (e != NULL) {
		if (accept_op(tp, "+"))
			e = bin(tp, "+", e, parse_mul(tp));
		else if (accept_op(tp, "-"))
			e = bin(tp, "-", e, parse_mul(tp));
		else
			break;
	}
	return e;
}

static struct expr *
parse_concat(struct tp *tp)
{
	struct expr	*e = parse_add(tp);

	while (e != NULL && accept_op(tp, "~"))
		e = bin(tp, "~", e, parse_add(tp));
	return e;
}

static struct expr *
parse_compare(struct tp *tp)
{
	struct expr	*e = parse_concat(tp);
	static const char *ops[] = { "==", "!=", "<=", ">=", "<", ">", NULL };
	int		 i;

	while (e != NULL) {
		for (i = 0; ops[i] != NULL; i++)
			if (accept_op(tp, ops[i]))
				break;
		if (ops[i] != NULL) {
			e = bin(tp, ops[i], e, parse_concat(tp));
			continue;
		}
		if (accept_name(tp, "in"))
			e = bin(tp, "in", e, parse_concat(tp));
		else if (is_name(peek(tp), "not") &&
		    is_name(&tp->toks[tp->itok + 1], "in")) {
			tp->itok += 2;
			e = bin(tp, "not in", e, parse_concat(tp));
		} else
			break;
	}
	return e;
}

static struct expr *
parse_not(struct tp *tp)
{
	struct expr	*e;

	if (accept_name(tp, "not")) {
		if (++tp->depth > DEPTH_MAX) {
			tmpl_perr(tp, "expression nested too deeply");
			return NULL;
		}
		e = mk(tp, E_NOT);
		e->a = parse_not(tp);
		tp->depth--;
		return e->a ? e : NULL;
	}
	return parse_compare(tp);
}

static struct expr *
parse_and(struct tp *tp)
{
	struct expr	*e = parse_not(tp);

	while (e != NULL && accept_name(tp, "and"))
		e = bin(tp, "and", e, parse_not(tp));
	return e;
}

static struct expr *
parse_or(struct tp *tp)
{
	struct expr	*e = parse_and(tp);

	while (e != NULL && accept_name(tp, "or"))
		e = bin(tp, "or", e, parse_and(tp));
	return e;
}

static struct expr *
parse_expr(struct tp *tp)
{
	struct expr	*e, *c;

	if (++tp->depth > DEPTH_MAX) {
		tmpl_perr(tp, "expression nested too deeply");
		return NULL;
	}
	e = parse_or(tp);
	while (e != NULL && accept_name(tp, "if")) {
		c = mk(tp, E_COND);
		c->b = e;
		if ((c->a = parse_or(tp)) == NULL)
			return NULL;
		if (accept_name(tp, "else") && (c->c = parse_or(tp)) == NULL)
			return NULL;
		e = c;
	}
	tp->depth--;
	return e;
}

/* ---- statements ---- */

/* Strip trailing blanks (spaces, tabs, newlines) of the text node. */
static void
rstrip_text(struct node *n)
{
	while (n != NULL && n->k == N_TEXT && n->len > 0 &&
	    isspace((unsigned char)n->text[n->len - 1]))
		n->len--;
}

static void
append(struct blk *b, struct node *n)
{
	n->next = NULL;
	if (b->tail != NULL)
		b->tail->next = n;
	else
		b->head = n;
	b->tail = n;
}

static struct node *
mknode(struct tp *tp, enum nk k)
{
	struct node	*n = pool_alloc(&tp->pool, sizeof(*n));

	memset(n, 0, sizeof(*n));
	n->k = k;
	return n;
}

/*
 * The end of a tag whose body follows: what is left of it must go now,
 * before the body's tags replace its tokens.
 */
static int
tag_end(struct tp *tp)
{
	if (peek(tp)->t == T_END)
		return 0;
	tmpl_perr(tp, "unexpected '%s'", peek(tp)->s);
	return -1;
}

/*
 * Parse text and tags until a block tag whose first word is in "stops"
 * (NULL-terminated) or the end; the stop word is left in *stop with the
 * tag's tokens ready after it.
 */
int
tmpl_parse_body(struct tp *tp, struct blk *out, const char *const *stops,
    const char **stop, int *lstrip)
{
	const char	*s, *open;
	size_t		 i;
	int		 rs;

	*stop = NULL;
	if (++tp->depth > DEPTH_MAX) {
		tmpl_perr(tp, "blocks nested too deeply");
		return -1;
	}
	while (tp->pos < tp->len && !tp->failed) {
		s = tp->src + tp->pos;
		open = NULL;
		for (i = tp->pos; i + 1 < tp->len; i++) {
			if (tp->src[i] == '{' && (tp->src[i + 1] == '{' ||
			    tp->src[i + 1] == '%' || tp->src[i + 1] == '#')) {
				open = tp->src + i;
				break;
			}
		}
		if (open == NULL)
			open = tp->src + tp->len;
		if (open > s || *lstrip) {
			struct node	*n = mknode(tp, N_TEXT);

			n->text = s;
			n->len = (size_t)(open - s);
			if (*lstrip) {
				while (n->len > 0 &&
				    isspace((unsigned char)*n->text)) {
					n->text++;
					n->len--;
				}
				*lstrip = 0;
			}
			if (open + 2 < tp->src + tp->len && open[2] == '-')
				rstrip_text(n);
			append(out, n);
		} else if (open + 2 < tp->src + tp->len && open[2] == '-')
			rstrip_text(out->tail);
		tp->pos = (size_t)(open - tp->src);
		if (tp->pos >= tp->len)
			break;
		tp->pos += 2;
		if (tp->pos < tp->len && tp->src[tp->pos] == '-')
			tp->pos++;
		if (open[1] == '#') {
			const char	*e = strstr(tp->src + tp->pos, "#}");

			if (e == NULL) {
				tmpl_perr(tp, "missing end of comment tag");
				break;
			}
			*lstrip = e > tp->src + tp->pos && e[-1] == '-';
			tp->pos = (size_t)(e + 2 - tp->src);
			continue;
		}
		if (open[1] == '{') {
			struct node	*n = mknode(tp, N_OUT);

			if (tmpl_lex_tag(tp, "}}", &rs) == -1)
				break;
			*lstrip = rs;
			if ((n->e = parse_expr(tp)) == NULL)
				break;
			if (peek(tp)->t != T_END) {
				tmpl_perr(tp, "unexpected '%s'", peek(tp)->s);
				break;
			}
			append(out, n);
			continue;
		}
		if (tmpl_lex_tag(tp, "%}", &rs) == -1)
			break;
		*lstrip = rs;
		if (peek(tp)->t != T_NAME) {
			tmpl_perr(tp, "tag name expected");
			break;
		}
		for (i = 0; stops != NULL && stops[i] != NULL; i++) {
			if (is_name(peek(tp), stops[i])) {
				tp->itok++;
				*stop = stops[i];
				tp->depth--;
				return 0;
			}
		}
		if (accept_name(tp, "if")) {
			static const char *const st[] = { "elif", "else",
			    "endif", NULL };
			struct node	*n = mknode(tp, N_IF), *cur = n;
			struct blk	 b;
			const char	*w;

			if ((n->e = parse_expr(tp)) == NULL ||
			    tag_end(tp) == -1)
				break;
			for (;;) {
				memset(&b, 0, sizeof(b));
				if (tmpl_parse_body(tp, &b, st, &w,
				    lstrip) == -1)
					goto out;
				cur->body = b.head;
				if (w == NULL) {
					tmpl_perr(tp, "missing endif");
					goto out;
				}
				if (strcmp(w, "endif") == 0)
					break;
				if (strcmp(w, "elif") == 0) {
					cur->orelse = mknode(tp, N_IF);
					cur = cur->orelse;
					if ((cur->e = parse_expr(tp)) == NULL ||
					    tag_end(tp) == -1)
						goto out;
					continue;
				}
				/* else: a condition-less branch */
				if (tag_end(tp) == -1)
					goto out;
				cur->orelse = mknode(tp, N_IF);
				cur = cur->orelse;
				memset(&b, 0, sizeof(b));
				if (tmpl_parse_body(tp, &b, st + 2, &w,
				    lstrip) == -1)
					goto out;
				if (w == NULL) {
					tmpl_perr(tp, "missing endif");
					goto out;
				}
				cur->body = b.head;
				break;
			}
			append(out, n);
		} else if (accept_name(tp, "for")) {
			static const char *const st[] = { "else", "endfor",
			    NULL };
			struct node	*n = mknode(tp, N_FOR);
			struct blk	 b;
			const char	*w;

			if (peek(tp)->t != T_NAME) {
				tmpl_perr(tp, "expected loop variable");
				break;
			}
			n->var1 = peek(tp)->s;
			tp->itok++;
			if (accept_op(tp, ",")) {
				if (peek(tp)->t != T_NAME) {
					tmpl_perr(tp, "expected loop variable");
					break;
				}
				n->var2 = peek(tp)->s;
				tp->itok++;
			}
			if (!accept_name(tp, "in")) {
				tmpl_perr(tp, "expected 'in'");
				break;
			}
			if ((n->e = parse_or(tp)) == NULL)
				break;
			if (accept_name(tp, "if") &&
			    (n->cond = parse_or(tp)) == NULL)
				break;
			if (tag_end(tp) == -1)
				break;
			memset(&b, 0, sizeof(b));
			if (tmpl_parse_body(tp, &b, st, &w, lstrip) == -1)
				break;
			n->body = b.head;
			if (w != NULL && strcmp(w, "else") == 0) {
				if (tag_end(tp) == -1)
					break;
				memset(&b, 0, sizeof(b));
				if (tmpl_parse_body(tp, &b, st + 1, &w,
				    lstrip) == -1)
					break;
				n->orelse = b.head;
			}
			if (w == NULL) {
				tmpl_perr(tp, "missing endfor");
				break;
			}
			append(out, n);
		} else if (accept_name(tp, "set")) {
			struct node	*n = mknode(tp, N_SET);

			if (peek(tp)->t != T_NAME) {
				tmpl_perr(tp, "expected name after set");
				break;
			}
			n->var1 = peek(tp)->s;
			tp->itok++;
			if (!accept_op(tp, "=")) {
				tmpl_perr(tp, "expected '='");
				break;
			}
			if ((n->e = parse_expr(tp)) == NULL)
				break;
			append(out, n);
		} else if (accept_name(tp, "raw")) {
			const char	*e = tp->src + tp->pos, *t;
			struct node	*n;

			for (t = strstr(e, "{%"); t != NULL;
			    t = strstr(t + 2, "{%")) {
				const char *w = t + 2;

				if (*w == '-')
					w++;
				while (isspace((unsigned char)*w))
					w++;
				if (strncmp(w, "endraw", 6) == 0)
					break;
			}
			if (t == NULL) {
				tmpl_perr(tp, "missing endraw");
				break;
			}
			n = mknode(tp, N_TEXT);
			n->text = e;
			n->len = (size_t)(t - e);
			if (*lstrip)
				while (n->len > 0 &&
				    isspace((unsigned char)*n->text)) {
					n->text++;
					n->len--;
				}
			if (t[2] == '-')
				rstrip_text(n);
			append(out, n);
			tp->pos = (size_t)(t + 2 - tp->src);
			if (tp->src[tp->pos] == '-')
				tp->pos++;
			if (tmpl_lex_tag(tp, "%}", &rs) == -1)
				break;
			*lstrip = rs;
			accept_name(tp, "endraw");
		} else {
			tmpl_perr(tp, "unknown tag '%s'", peek(tp)->s);
			break;
		}
		if (!tp->failed && peek(tp)->t != T_END) {
			tmpl_perr(tp, "unexpected '%s'", peek(tp)->s);
			break;
		}
	}
out:
	tp->depth--;
	return tp->failed ? -1 : 0;
}
