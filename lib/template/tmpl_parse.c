/*
 * tmpl.c: the subset of Jinja2 that Dify's template-transform nodes and
 * jinja2 prompts use (spec workflow.md 5.6), rendered as Jinja2's
 * default Environment does: {{ expr }}, {% if/elif/else %}, {% for %}
 * (with loop.*, else, "k, v in d.items()"), {% set %}, {% raw %},
 * comments, whitespace control with "-", filters, tests, attribute and
 * subscript access, arithmetic and comparisons with Python semantics.
 * Values print as Python's str() does ({'a': 1}, True, None); undefined
 * names print as nothing; the source's newlines become "\n" and one
 * trailing newline is dropped (keep_trailing_newline=False).
 *
 * The input is untrusted (it comes from a DSL file): parsing is bounded
 * in depth and linear in the source; rendering is bounded in depth, steps
 * (time), bytes (memory) and output size, can be stopped by the caller
 * (struct tmpl_limits), and every failure is a message, never a crash.
 * tests/fuzz/fuzz_tmpl.c.
 */
#include <ctype.h>
#include <limits.h>
#include <stdint.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/template.h"
#include "core/core.h"

#define DEPTH_MAX	48		/* nesting of blocks and expressions */
#define FRAMES_MAX	64
#define ARGS_MAX	8

/* ---- lexing ---- */

enum tk {
	T_END, T_NAME, T_INT, T_FLOAT, T_STR, T_OP
};

struct tok {
	enum tk		 t;
	const char	*s;		/* name, operator or decoded string */
	size_t		 n;
	long long	 i;
	double		 d;
};

struct tree;

struct tp {
	struct pool	 pool;
	const char	*src;		/* normalised source */
	size_t		 len;
	size_t		 pos;
	/* the current tag's tokens */
	struct tok	*toks;
	int		 ntok, itok;
	char		*err;
	size_t		 errlen;
	int		 failed;
	int		 depth;
	struct tree	*tree;		/* literals are kept here */
};

static void
perr(struct tp *tp, const char *fmt, ...)
{
	va_list	ap;

	if (tp->failed)
		return;
	tp->failed = 1;
	va_start(ap, fmt);
	vsnprintf(tp->err, tp->errlen, fmt, ap);
	va_end(ap);
}

/* Tokenise the inside of a tag, up to its closing delimiter. */
static int
lex_tag(struct tp *tp, const char *close, int *rstrip)
{
	const char	*s = tp->src + tp->pos, *end = tp->src + tp->len;
	size_t		 cl = strlen(close), cap = 16;
	struct tok	*tk;
	static const char *ops[] = { "**", "//", "==", "!=", "<=", ">=",
	    "(", ")", "[", "]", "{", "}", ",", ".", ":", "|", "~", "+", "-",
	    "*", "/", "%", "<", ">", "=", NULL };
	int		 k;

	tp->toks = pool_alloc(&tp->pool, cap * sizeof(*tp->toks));
	tp->ntok = tp->itok = 0;
	*rstrip = 0;
	for (;;) {
		while (s < end && isspace((unsigned char)*s))
			s++;
		if (s >= end) {
			perr(tp, "unexpected end of template, expected '%s'",
			    close);
			return -1;
		}
		if (*s == '-' && (size_t)(end - s) > cl &&
		    strncmp(s + 1, close, cl) == 0) {
			*rstrip = 1;
			s++;
		}
		if ((size_t)(end - s) >= cl && strncmp(s, close, cl) == 0) {
			tp->pos = (size_t)(s + cl - tp->src);
			break;
		}
		if (tp->ntok + 2 > (int)cap) {
			struct tok	*n = pool_alloc(&tp->pool,
			    cap * 2 * sizeof(*n));

			memcpy(n, tp->toks, cap * sizeof(*n));
			tp->toks = n;
			cap *= 2;
		}
		tk = &tp->toks[tp->ntok++];
		memset(tk, 0, sizeof(*tk));
		if (isalpha((unsigned char)*s) || *s == '_') {
			const char *b = s;

			while (s < end && (isalnum((unsigned char)*s) ||
			    *s == '_'))
				s++;
			tk->t = T_NAME;
			tk->s = pool_strndup(&tp->pool, b, (size_t)(s - b));
			tk->n = (size_t)(s - b);
		} else if (isdigit((unsigned char)*s)) {
			const char	*b = s;
			char		*num;
			int		 fl = 0;

			while (s < end && (isdigit((unsigned char)*s) ||
			    *s == '_'))
				s++;
			if (s + 1 < end && *s == '.' &&
			    isdigit((unsigned char)s[1])) {
				fl = 1;
				s++;
				while (s < end && isdigit((unsigned char)*s))
					s++;
			}
			if (s < end && (*s == 'e' || *s == 'E')) {
				const char *e = s + 1;

				if (e < end && (*e == '+' || *e == '-'))
					e++;
				if (e < end && isdigit((unsigned char)*e)) {
					fl = 1;
					s = e;
					while (s < end &&
					    isdigit((unsigned char)*s))
						s++;
				}
			}
			num = pool_strndup(&tp->pool, b, (size_t)(s - b));
			{
				char	*w = num, *r;

				for (r = num; *r != '\0'; r++)
					if (*r != '_')
						*w++ = *r;
				*w = '\0';
			}
			if (fl) {
				tk->t = T_FLOAT;
				tk->d = strtod(num, NULL);
			} else {
				tk->t = T_INT;
				if (parse_int(num, 0, (1LL << 62),
				    &tk->i) == -1) {
					tk->t = T_FLOAT;
					tk->d = strtod(num, NULL);
				}
			}
		} else if (*s == '\'' || *s == '"') {
			char		 q = *s++;
			struct buf	 b;

			buf_init(&b, tp->len + 16);
			while (s < end && *s != q) {
				if (*s == '\\' && s + 1 < end) {
					s++;
					switch (*s) {
					case 'n': buf_puts(&b, "\n"); break;
					case 't': buf_puts(&b, "\t"); break;
					case 'r': buf_puts(&b, "\r"); break;
					case '\\': buf_puts(&b, "\\"); break;
					case '\'': buf_puts(&b, "'"); break;
					case '"': buf_puts(&b, "\""); break;
					default:
						buf_puts(&b, "\\");
						buf_append(&b, s, 1);
					}
					s++;
					continue;
				}
				buf_append(&b, s++, 1);
			}
			if (s >= end) {
				buf_free(&b);
				perr(tp, "unexpected end of string");
				return -1;
			}
			s++;
			tk->t = T_STR;
			tk->n = b.len;
			tk->s = pool_strndup(&tp->pool, b.p ? b.p : "", b.len);
			buf_free(&b);
		} else {
			for (k = 0; ops[k] != NULL; k++)
				if (strncmp(s, ops[k], strlen(ops[k])) == 0)
					break;
			if (ops[k] == NULL) {
				perr(tp, "unexpected char '%c'", *s);
				return -1;
			}
			tk->t = T_OP;
			tk->s = ops[k];
			tk->n = strlen(ops[k]);
			s += tk->n;
		}
	}
	tp->toks[tp->ntok].t = T_END;
	tp->toks[tp->ntok].s = "";
	return 0;
}

/* ---- the syntax tree ---- */

enum ek {
	E_LIT, E_NAME, E_ATTR, E_ITEM, E_SLICE, E_CALL, E_FILTER, E_TEST,
	E_NOT, E_NEG, E_POS, E_BIN, E_COND, E_LIST, E_DICT
};

struct expr {
	enum ek		 k;
	const char	*name;		/* name, attribute, filter, test, op */
	json_object	*lit;		/* E_LIT, owned by the tree */
	struct expr	*a, *b, *c;
	struct expr	*args[ARGS_MAX];
	const char	*kw[ARGS_MAX];	/* keyword of an argument, or NULL */
	int		 nargs;
	int		 negate;	/* "is not" */
};

enum nk { N_TEXT, N_OUT, N_IF, N_FOR, N_SET };

struct node {
	enum nk		 k;
	const char	*text;
	size_t		 len;
	struct expr	*e;		/* output, condition, iterable, value */
	struct expr	*cond;		/* for: the "if" filtering items */
	const char	*var1, *var2;	/* for targets, set name */
	struct node	*body;
	struct node	*orelse;	/* if: the elif / else chain */
	struct node	*next;
};

struct tree {
	struct pool	 pool;
	json_object	*lits;		/* keeps literals alive */
	struct node	*root;
};

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
			perr(tp, "too many arguments");
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
			perr(tp, "expected ',' or ')'");
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
						perr(tp, "tuple too long");
						return NULL;
					}
					if ((l->args[l->nargs++] =
					    parse_expr(tp)) == NULL)
						return NULL;
				}
				e = l;
			}
			if (!accept_op(tp, ")")) {
				perr(tp, "expected ')'");
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
					perr(tp, "literal too long");
					return NULL;
				}
				if ((e->args[e->nargs++] = parse_expr(tp)) ==
				    NULL)
					return NULL;
				if (dict) {
					if (!accept_op(tp, ":")) {
						perr(tp, "expected ':'");
						return NULL;
					}
					if ((e->args[e->nargs++] =
					    parse_expr(tp)) == NULL)
						return NULL;
				}
				if (!accept_op(tp, ",") &&
				    !is_op(peek(tp), close)) {
					perr(tp, "expected ',' or '%s'", close);
					return NULL;
				}
			}
			return e;
		}
		break;
	default:
		break;
	}
	perr(tp, "unexpected '%s'", k->t == T_END ? "end of tag" : k->s);
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
				perr(tp, "expected name after '.'");
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
				perr(tp, "expected ']'");
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
				perr(tp, "expected filter name");
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
				perr(tp, "expected test name");
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
		perr(tp, "expression nested too deeply");
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
			perr(tp, "expression nested too deeply");
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
		perr(tp, "expression nested too deeply");
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

struct blk {
	struct node	*head, *tail;
	int		 lstrip;	/* strip blanks at the next text */
};

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
	perr(tp, "unexpected '%s'", peek(tp)->s);
	return -1;
}

/*
 * Parse text and tags until a block tag whose first word is in "stops"
 * (NULL-terminated) or the end; the stop word is left in *stop with the
 * tag's tokens ready after it.
 */
static int
parse_body(struct tp *tp, struct blk *out, const char *const *stops,
    const char **stop, int *lstrip)
{
	const char	*s, *open;
	size_t		 i;
	int		 rs;

	*stop = NULL;
	if (++tp->depth > DEPTH_MAX) {
		perr(tp, "blocks nested too deeply");
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
				perr(tp, "missing end of comment tag");
				break;
			}
			*lstrip = e > tp->src + tp->pos && e[-1] == '-';
			tp->pos = (size_t)(e + 2 - tp->src);
			continue;
		}
		if (open[1] == '{') {
			struct node	*n = mknode(tp, N_OUT);

			if (lex_tag(tp, "}}", &rs) == -1)
				break;
			*lstrip = rs;
			if ((n->e = parse_expr(tp)) == NULL)
				break;
			if (peek(tp)->t != T_END) {
				perr(tp, "unexpected '%s'", peek(tp)->s);
				break;
			}
			append(out, n);
			continue;
		}
		if (lex_tag(tp, "%}", &rs) == -1)
			break;
		*lstrip = rs;
		if (peek(tp)->t != T_NAME) {
			perr(tp, "tag name expected");
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
				if (parse_body(tp, &b, st, &w, lstrip) == -1)
					goto out;
				cur->body = b.head;
				if (w == NULL) {
					perr(tp, "missing endif");
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
				if (parse_body(tp, &b, st + 2, &w,
				    lstrip) == -1)
					goto out;
				if (w == NULL) {
					perr(tp, "missing endif");
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
				perr(tp, "expected loop variable");
				break;
			}
			n->var1 = peek(tp)->s;
			tp->itok++;
			if (accept_op(tp, ",")) {
				if (peek(tp)->t != T_NAME) {
					perr(tp, "expected loop variable");
					break;
				}
				n->var2 = peek(tp)->s;
				tp->itok++;
			}
			if (!accept_name(tp, "in")) {
				perr(tp, "expected 'in'");
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
			if (parse_body(tp, &b, st, &w, lstrip) == -1)
				break;
			n->body = b.head;
			if (w != NULL && strcmp(w, "else") == 0) {
				if (tag_end(tp) == -1)
					break;
				memset(&b, 0, sizeof(b));
				if (parse_body(tp, &b, st + 1, &w,
				    lstrip) == -1)
					break;
				n->orelse = b.head;
			}
			if (w == NULL) {
				perr(tp, "missing endfor");
				break;
			}
			append(out, n);
		} else if (accept_name(tp, "set")) {
			struct node	*n = mknode(tp, N_SET);

			if (peek(tp)->t != T_NAME) {
				perr(tp, "expected name after set");
				break;
			}
			n->var1 = peek(tp)->s;
			tp->itok++;
			if (!accept_op(tp, "=")) {
				perr(tp, "expected '='");
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
				perr(tp, "missing endraw");
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
			if (lex_tag(tp, "%}", &rs) == -1)
				break;
			*lstrip = rs;
			accept_name(tp, "endraw");
		} else {
			perr(tp, "unknown tag '%s'", peek(tp)->s);
			break;
		}
		if (!tp->failed && peek(tp)->t != T_END) {
			perr(tp, "unexpected '%s'", peek(tp)->s);
			break;
		}
	}
out:
	tp->depth--;
	return tp->failed ? -1 : 0;
}

/* ---- evaluation ---- */

/*
 * The work of a render is counted as it is done, and counted before it is
 * done where it is large, so that nothing past a limit is allocated.  A
 * step is one node, loop round, operator, filter or method call, and one
 * item or BYTES_PER_STEP bytes that one of them goes through: steps bound
 * the time, and every TICK_STEPS of them the caller's tick may end the
 * render.  Bytes count the strings, lists and dicts the render has made
 * and still holds (and its output) at about what json-c spends on them:
 * they bound the memory.  What a value cost, and how deep it nests, is in
 * its json-c userdata (struct tag), which gives the bytes back when the
 * value is freed and bounds nesting without walking values; the caller's
 * values count as JSON_MAX_DEPTH deep, the deepest its parser makes.
 * Printing or comparing a value walks it as often as it is shared, and
 * that walk is counted too.  Every value the render makes is freed before
 * tmpl_render returns: none is stored into the caller's.
 */
#define TICK_STEPS	4096		/* steps between two ticks */
#define LOOP_STEPS	4		/* a loop round: a dozen fields set */
#define BYTES_PER_STEP	64		/* bytes scanned or copied per step */
#define VAL_BYTES	48		/* a json-c value */
#define SLOT_BYTES	8		/* an item of a list */
#define ENTRY_BYTES	48		/* an entry of a dict */
#define PIECE_MAX	64		/* the longest piece repr appends */
#define VAL_DEPTH_MAX	(JSON_MAX_DEPTH + DEPTH_MAX)

struct val {
	json_object	*j;		/* owned reference */
	int		 undef;
	const char	*name;		/* of an undefined name, for errors */
};

struct ctx {
	json_object	*frames[FRAMES_MAX];
	int		 nframes;
	struct buf	*out;
	char		*err;
	size_t		 errlen;
	int		 failed;
	int		 stopped;	/* by the tick */
	int		 depth;
	long long	 steps, max_steps, next_tick;
	size_t		 bytes, max_bytes;	/* alive now */
	size_t		 peak;
	int		(*tick)(void *);
	void		*arg;
};

static void
rerr(struct ctx *c, const char *fmt, ...)
{
	va_list	ap;

	if (c->failed)
		return;
	c->failed = 1;
	va_start(ap, fmt);
	vsnprintf(c->err, c->errlen, fmt, ap);
	va_end(ap);
}

/* Count "n" steps; -1 once the render has failed or must end. */
static int
work(struct ctx *c, size_t n)
{
	if (c->failed)
		return -1;
	if (n > (unsigned long long)(c->max_steps - c->steps)) {
		rerr(c, "template too expensive to render (more than %lld "
		    "steps)", c->max_steps);
		return -1;
	}
	c->steps += (long long)n;
	if (c->steps >= c->next_tick) {
		c->next_tick = c->steps + TICK_STEPS;
		if (c->tick != NULL && c->tick(c->arg) != 0) {
			c->stopped = 1;
			rerr(c, "template rendering stopped");
			return -1;
		}
	}
	return 0;
}

/* Count "n" bytes scanned or copied. */
static int
scanned(struct ctx *c, size_t n)
{
	return work(c, n / BYTES_PER_STEP);
}

/* Count "n" bytes made (before making them); -1 past the limit. */
static int
made(struct ctx *c, size_t n)
{
	if (c->failed)
		return -1;
	if (n > c->max_bytes - c->bytes) {
		rerr(c, "template needs too much memory to render (more than "
		    "%zu bytes)", c->max_bytes);
		return -1;
	}
	c->bytes += n;
	if (c->bytes > c->peak)
		c->peak = c->bytes;
	return scanned(c, n);
}

/* The bytes a render may still make, "n" of them each "each" bytes. */
static int
made_n(struct ctx *c, size_t n, size_t each)
{
	if (each > 0 && n > (c->max_bytes - c->bytes) / each)
		return made(c, SIZE_MAX);
	return made(c, n * each);
}

static struct val
V(json_object *j)
{
	struct val	v = { j, 0, NULL };

	return v;
}

static struct val
UNDEF(const char *name)
{
	struct val	v = { NULL, 1, name };

	return v;
}

static void
vput(struct val *v)
{
	json_object_put(v->j);
	v->j = NULL;
}

static int
truthy(struct val *v)
{
	return !v->undef && wf_truthy(v->j);
}

static int
isnum(json_object *j)
{
	return json_object_is_type(j, json_type_int) ||
	    json_object_is_type(j, json_type_double) ||
	    json_object_is_type(j, json_type_boolean);
}

static double
dnum(json_object *j)
{
	return json_object_is_type(j, json_type_double) ?
	    json_object_get_double(j) : (double)json_object_get_int64(j);
}

static int
isint(json_object *j)
{
	return json_object_is_type(j, json_type_int) ||
	    json_object_is_type(j, json_type_boolean);
}

static int
iscontainer(json_object *j)
{
	return json_object_is_type(j, json_type_array) ||
	    json_object_is_type(j, json_type_object);
}

static size_t
slen(json_object *j)
{
	return (size_t)json_object_get_string_len(j);
}

/*
 * What a string, list or dict the render made cost, and how deep it
 * nests: json-c userdata, which gives the bytes back when json-c frees
 * the value, so that the bytes counted are the bytes alive.
 */
struct tag {
	struct ctx	*c;
	size_t		 bytes;
	int		 depth;
};

static void
unmade(struct ctx *c, size_t n)
{
	c->bytes -= n < c->bytes ? n : c->bytes;
}

static void
refund(json_object *o, void *arg)
{
	struct tag	*t = arg;

	(void)o;
	unmade(t->c, t->bytes);
	free(t);
}

/* Mark "o" made, at "bytes" already counted; lists nest "depth" deep. */
static json_object *
own(struct ctx *c, json_object *o, size_t bytes, int depth)
{
	struct tag	*t = xmalloc(sizeof(*t));

	t->c = c;
	t->bytes = bytes;
	t->depth = depth;
	json_object_set_userdata(o, t, refund);
	if (depth > VAL_DEPTH_MAX)
		rerr(c, "values nested too deeply");
	return o;
}

/* Count "n" more bytes of made value "o". */
static int
grow(struct ctx *c, json_object *o, size_t n)
{
	struct tag	*t = json_object_get_userdata(o);

	if (made(c, n) == -1)
		return -1;
	t->bytes += n;
	return 0;
}

/*
 * How deep a value nests: 0 for a scalar, 1 for a list of scalars.  The
 * caller's values have no userdata (their doubles do, but are scalars).
 */
static int
depth_of(json_object *j)
{
	struct tag	*t;

	if (!iscontainer(j))
		return 0;
	t = json_object_get_userdata(j);
	return t != NULL ? t->depth : JSON_MAX_DEPTH;
}

/* Set the depth of list or dict "o", made; past the limit, fail. */
static void
set_depth(struct ctx *c, json_object *o, int depth)
{
	struct tag	*t = json_object_get_userdata(o);

	t->depth = depth;
	if (depth > VAL_DEPTH_MAX)
		rerr(c, "values nested too deeply");
}

/*
 * A new list (a new dict) that nests "depth" deep, whose items' "bytes"
 * are counted already.
 */
static json_object *
new_list(struct ctx *c, int depth, size_t bytes)
{
	made(c, VAL_BYTES);
	return own(c, json_object_new_array(), VAL_BYTES + bytes,
	    depth < 1 ? 1 : depth);
}

static json_object *
new_dict(struct ctx *c, int depth, size_t bytes)
{
	made(c, VAL_BYTES);
	return own(c, json_object_new_object(), VAL_BYTES + bytes,
	    depth < 1 ? 1 : depth);
}

/* A new string, counted; NULL (None) past the limit. */
static json_object *
new_str(struct ctx *c, const char *s, size_t n)
{
	if (made(c, VAL_BYTES + n) == -1)
		return NULL;
	return own(c, json_object_new_string_len(s, (int)n), VAL_BYTES + n,
	    0);
}

static void
too_big(struct ctx *c, struct buf *b)
{
	if (b == c->out)
		rerr(c, "output too large");
	else
		made(c, SIZE_MAX);
}

/*
 * A string being built: it may grow to what the render may still make
 * (and a piece more, so that a piece that did not fit shows).  Whole
 * strings go in with sput(); the small pieces of repr and escapes may go
 * in directly, as their failure leaves the length past the room, which
 * buf_str() refuses.
 */
static void
sb_init(struct ctx *c, struct buf *b)
{
	buf_init(b, c->max_bytes - c->bytes + PIECE_MAX);
}

static int
sput(struct ctx *c, struct buf *b, const char *s, size_t n)
{
	if (c->failed)
		return -1;
	if (buf_append(b, s, n) == -1) {
		too_big(c, b);
		return -1;
	}
	return scanned(c, n);
}

static json_object *
buf_str(struct ctx *c, struct buf *b)
{
	return new_str(c, b->p ? b->p : "", b->len);
}

/*
 * repr() (or with "json", tojson) of "j" into "t", as wf_py_repr and
 * wf_py_json print it (and stopping as deep), one step a node: a value
 * shared many times over costs what printing it costs, and the printing
 * stops once past "room".  -1 then, or when the render failed.
 */
static int
print_rec(struct ctx *c, struct buf *t, size_t room, json_object *j,
    int json, int depth)
{
	json_object	*ks;
	size_t		 i, n;
	int		 first = 1;

	if (work(c, 1) == -1 || t->len > room)
		return -1;
	if (depth > DEPTH_MAX) {
		buf_puts(t, json ? "null" : "...");
	} else if (json_object_is_type(j, json_type_array)) {
		buf_puts(t, "[");
		n = json_object_array_length(j);
		for (i = 0; i < n; i++) {
			if (i > 0)
				buf_puts(t, ", ");
			if (print_rec(c, t, room, json_object_array_get_idx(j,
			    i), json, depth + 1) == -1)
				return -1;
		}
		buf_puts(t, "]");
	} else if (json_object_is_type(j, json_type_object)) {
		buf_puts(t, "{");
		json_object_object_foreach(j, k, x) {
			if (!first)
				buf_puts(t, ", ");
			first = 0;
			if (scanned(c, strlen(k)) == -1)
				return -1;
			ks = json_object_new_string(k);
			if (json)
				wf_py_json(t, ks, 0);
			else
				wf_py_repr(t, ks);
			json_object_put(ks);
			buf_puts(t, ": ");
			if (print_rec(c, t, room, x, json, depth + 1) == -1)
				return -1;
		}
		buf_puts(t, "}");
	} else {
		if (json_object_is_type(j, json_type_string) &&
		    scanned(c, slen(j)) == -1)
			return -1;
		if (json)
			wf_py_json(t, j, 0);
		else
			wf_py_repr(t, j);
	}
	return t->len > room ? -1 : 0;
}

/* str() (or with "json", tojson) of "j", appended to "b". */
static void
print_val(struct ctx *c, struct buf *b, json_object *j, int json)
{
	struct buf	t;
	size_t		room;

	if (c->failed)
		return;
	if (!json && json_object_is_type(j, json_type_string)) {
		sput(c, b, json_object_get_string(j), slen(j));
		return;
	}
	/* small pieces: one that did not fit leaves t longer than room */
	room = b->max - b->len;
	buf_init(&t, room + PIECE_MAX);
	if (print_rec(c, &t, room, j, json, 0) == -1) {
		if (!c->failed)
			too_big(c, b);
	} else
		sput(c, b, t.p ? t.p : "", t.len);
	buf_free(&t);
}

/* str() of a value, appended; undefined appends nothing. */
static void
str_of(struct ctx *c, struct buf *b, struct val *v)
{
	if (!v->undef)
		print_val(c, b, v->j, 0);
}

/*
 * Python's ==, counted: one step a node, and containers that are the same
 * object are equal without a walk, as Python's containers compare items.
 */
static int
veq(struct ctx *c, json_object *a, json_object *b, int depth)
{
	size_t	i, n;

	if (work(c, 1) == -1)
		return 0;
	if (depth > 2 * VAL_DEPTH_MAX) {
		rerr(c, "values nested too deeply");
		return 0;
	}
	if (a == b && iscontainer(a))
		return 1;
	if (!iscontainer(a) || !iscontainer(b)) {
		if (json_object_is_type(a, json_type_string) &&
		    json_object_is_type(b, json_type_string) &&
		    scanned(c, slen(a)) == -1)
			return 0;
		return wf_py_eq(a, b);
	}
	if (json_object_get_type(a) != json_object_get_type(b))
		return 0;
	if (json_object_is_type(a, json_type_array)) {
		n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return 0;
		for (i = 0; i < n; i++)
			if (!veq(c, json_object_array_get_idx(a, i),
			    json_object_array_get_idx(b, i), depth + 1))
				return 0;
		return !c->failed;
	}
	if (json_object_object_length(a) != json_object_object_length(b))
		return 0;
	json_object_object_foreach(a, k, va) {
		json_object	*vb;

		if (!json_object_object_get_ex(b, k, &vb) ||
		    !veq(c, va, vb, depth + 1))
			return 0;
	}
	return !c->failed;
}

/*
 * The first "n" (nl bytes, not empty) in "h" (hl bytes), counted: a step
 * a place where it might start, and its bytes.  No strstr: hay from the
 * current place to its end on every call would make a loop quadratic
 * (ASan's strstr measures it each time), and strings may hold NULs.
 */
static const char *
find(struct ctx *c, const char *h, size_t hl, const char *n, size_t nl)
{
	const char	*p = h, *end = h + hl, *q;

	while (!c->failed && (size_t)(end - p) >= nl) {
		q = memchr(p, n[0], (size_t)(end - p) - nl + 1);
		if (scanned(c, q != NULL ? (size_t)(q - p) + nl :
		    (size_t)(end - p)) == -1 || q == NULL || work(c, 1) == -1)
			return NULL;
		if (memcmp(q, n, nl) == 0)
			return q;
		p = q + 1;
	}
	return NULL;
}

static size_t
u8len(const char *s, size_t n)
{
	size_t	i, c = 0;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			c++;
	return c;
}

/* Byte offset of the k-th character of a UTF-8 string. */
static size_t
u8off(const char *s, size_t n, size_t k)
{
	size_t	i, c = 0;

	for (i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (c == k)
				return i;
			c++;
		}
	}
	return n;
}

/*
 * The items a for loop (or a filter) walks: a new reference to an array.
 * Strings give their characters, objects their keys; NULL with an error
 * otherwise.
 */
static json_object *
iter_items(struct ctx *c, struct val *v)
{
	json_object	*a;
	const char	*s;
	size_t		 i, n, k;

	if (v->undef)
		return new_list(c, 1, 0);
	switch (json_object_get_type(v->j)) {
	case json_type_array:
		return json_object_get(v->j);
	case json_type_object:
		n = (size_t)json_object_object_length(v->j);
		if (made_n(c, n, SLOT_BYTES) == -1)
			return NULL;
		a = new_list(c, 1, n * SLOT_BYTES);
		json_object_object_foreach(v->j, key, val) {
			(void)val;
			json_object_array_add(a, new_str(c, key, strlen(key)));
		}
		return a;
	case json_type_string:
		s = json_object_get_string(v->j);
		n = slen(v->j);
		k = u8len(s, n);
		if (scanned(c, n) == -1 || made_n(c, k, VAL_BYTES +
		    SLOT_BYTES) == -1 || made(c, n) == -1)
			return NULL;
		a = new_list(c, 1, k * (VAL_BYTES + SLOT_BYTES) + n);
		for (i = 0; i < n; i = k) {
			for (k = i + 1; k < n &&
			    ((unsigned char)s[k] & 0xc0) == 0x80; k++)
				;
			json_object_array_add(a,
			    json_object_new_string_len(s + i, (int)(k - i)));
		}
		return a;
	default:
		rerr(c, "'%s' object is not iterable",
		    json_object_is_type(v->j, json_type_null) ? "NoneType" :
		    json_object_is_type(v->j, json_type_boolean) ? "bool" :
		    json_object_is_type(v->j, json_type_int) ? "int" : "float");
		return NULL;
	}
}

static struct val eval(struct ctx *, struct expr *);

static struct val
lookup(struct ctx *c, const char *name)
{
	json_object	*v;
	int		 i;

	for (i = c->nframes - 1; i >= 0; i--)
		if (json_object_object_get_ex(c->frames[i], name, &v))
			return V(json_object_get(v));
	return UNDEF(name);
}

/* obj.name or obj[key]: attribute then item, as Jinja's getattr does. */
static struct val
getitem(struct ctx *c, struct val *o, json_object *key, const char *attr)
{
	json_object	*v;
	long long	 i, n;

	if (o->undef) {
		rerr(c, "'%s' is undefined", o->name ? o->name : "value");
		return UNDEF(NULL);
	}
	if (json_object_is_type(o->j, json_type_object)) {
		const char	*k = attr;

		if (k == NULL && json_object_is_type(key, json_type_string))
			k = json_object_get_string(key);
		/* scalars are copied: loop.* change in place between rounds */
		if (k != NULL && json_object_object_get_ex(o->j, k, &v))
			return V(json_object_is_type(v, json_type_int) ||
			    json_object_is_type(v, json_type_boolean) ?
			    json_copy(v) : json_object_get(v));
		return UNDEF(k);
	}
	if (json_object_is_type(o->j, json_type_array) ||
	    json_object_is_type(o->j, json_type_string)) {
		if (attr != NULL) {
			if (parse_int(attr, 0, 1LL << 40, &i) == -1)
				return UNDEF(attr);
		} else if (isint(key))
			i = json_object_get_int64(key);
		else
			return UNDEF(NULL);
		if (json_object_is_type(o->j, json_type_array)) {
			n = (long long)json_object_array_length(o->j);
			if (i < 0)
				i += n;
			if (i < 0 || i >= n)
				return UNDEF(NULL);
			return V(json_object_get(json_object_array_get_idx(
			    o->j, (size_t)i)));
		} else {
			const char	*s = json_object_get_string(o->j);
			size_t		 sl = slen(o->j), a, b;

			if (scanned(c, 2 * sl) == -1)
				return UNDEF(NULL);
			n = (long long)u8len(s, sl);
			if (i < 0)
				i += n;
			if (i < 0 || i >= n)
				return UNDEF(NULL);
			a = u8off(s, sl, (size_t)i);
			b = u8off(s, sl, (size_t)i + 1);
			return V(new_str(c, s + a, b - a));
		}
	}
	return UNDEF(attr);
}

static long long
clampi(long long v, long long n)
{
	if (v < 0)
		v += n;
	if (v < 0)
		v = 0;
	if (v > n)
		v = n;
	return v;
}

static struct val
slice(struct ctx *c, struct val *o, struct val *lo, struct val *hi)
{
	long long	 n, a = 0, b;
	json_object	*r;
	long long	 i;

	if (o->undef)
		return UNDEF(NULL);
	if ((!lo->undef && lo->j != NULL && !isint(lo->j)) ||
	    (!hi->undef && hi->j != NULL && !isint(hi->j))) {
		rerr(c, "slice indices must be integers or None");
		return UNDEF(NULL);
	}
	if (json_object_is_type(o->j, json_type_array)) {
		n = (long long)json_object_array_length(o->j);
		a = lo->undef || lo->j == NULL ? 0 :
		    clampi(json_object_get_int64(lo->j), n);
		b = hi->undef || hi->j == NULL ? n :
		    clampi(json_object_get_int64(hi->j), n);
		if (b > a && made_n(c, (size_t)(b - a), SLOT_BYTES) == -1)
			return UNDEF(NULL);
		r = new_list(c, depth_of(o->j), (size_t)(b - a) * SLOT_BYTES);
		for (i = a; i < b; i++)
			json_object_array_add(r, json_object_get(
			    json_object_array_get_idx(o->j, (size_t)i)));
		return V(r);
	}
	if (json_object_is_type(o->j, json_type_string)) {
		const char	*s = json_object_get_string(o->j);
		size_t		 sl = slen(o->j), x, y;

		if (scanned(c, 3 * sl) == -1)
			return UNDEF(NULL);
		n = (long long)u8len(s, sl);
		a = lo->undef || lo->j == NULL ? 0 :
		    clampi(json_object_get_int64(lo->j), n);
		b = hi->undef || hi->j == NULL ? n :
		    clampi(json_object_get_int64(hi->j), n);
		if (b < a)
			b = a;
		x = u8off(s, sl, (size_t)a);
		y = u8off(s, sl, (size_t)b);
		return V(new_str(c, s + x, y - x));
	}
	rerr(c, "object is not subscriptable");
	return UNDEF(NULL);
}

static int
cmp_vals(struct ctx *c, json_object *a, json_object *b, const char *op)
{
	int	r;

	if (isnum(a) && isnum(b)) {
		double	x = dnum(a), y = dnum(b);

		if (isint(a) && isint(b)) {
			long long	i = json_object_get_int64(a),
					j = json_object_get_int64(b);

			r = i < j ? -1 : i > j;
		} else
			r = x < y ? -1 : x > y ? 1 : 0;
	} else if (json_object_is_type(a, json_type_string) &&
	    json_object_is_type(b, json_type_string)) {
		if (scanned(c, slen(a) + slen(b)) == -1)
			return 0;
		r = strcmp(json_object_get_string(a),
		    json_object_get_string(b));
		r = r < 0 ? -1 : r > 0;
	} else {
		rerr(c, "'%s' not supported between these types", op);
		return 0;
	}
	return r;
}

static int
contains(struct ctx *c, json_object *hay, struct val *needle)
{
	size_t	i, n;

	if (json_object_is_type(hay, json_type_string)) {
		if (needle->undef || !json_object_is_type(needle->j,
		    json_type_string)) {
			rerr(c, "'in <string>' requires string as left "
			    "operand");
			return 0;
		}
		return slen(needle->j) == 0 || find(c,
		    json_object_get_string(hay), slen(hay),
		    json_object_get_string(needle->j), slen(needle->j)) != NULL;
	}
	if (json_object_is_type(hay, json_type_array)) {
		if (needle->undef)
			return 0;
		n = json_object_array_length(hay);
		for (i = 0; i < n && !c->failed; i++)
			if (veq(c, needle->j, json_object_array_get_idx(hay, i),
			    0))
				return 1;
		return 0;
	}
	if (json_object_is_type(hay, json_type_object))
		return !needle->undef && json_object_is_type(needle->j,
		    json_type_string) && json_get(hay,
		    json_object_get_string(needle->j)) != NULL;
	rerr(c, "argument is not iterable");
	return 0;
}

static json_object *
num_result(double d, int integer, long long i)
{
	return integer ? json_object_new_int64(i) : json_object_new_double(d);
}

/* seq * k, Python's repetition of a string or a list. */
static struct val
repeat(struct ctx *c, json_object *seq, long long k)
{
	json_object	*r;
	size_t		 n, i, m, total;
	char		*p;

	if (k < 0)
		k = 0;
	if (json_object_is_type(seq, json_type_string)) {
		n = slen(seq);
		if (made_n(c, (size_t)k, n) == -1 || made(c, VAL_BYTES) == -1)
			return UNDEF(NULL);
		total = n * (size_t)k;
		p = xmalloc(total + 1);
		/* doubling copies: a few memcpy whatever k is */
		if (total > 0)
			memcpy(p, json_object_get_string(seq), n);
		for (m = n; m > 0 && m < total; m += m < total - m ? m :
		    total - m)
			memcpy(p + m, p, m < total - m ? m : total - m);
		r = own(c, json_object_new_string_len(p, (int)total),
		    VAL_BYTES + total, 0);
		free(p);
		return V(r);
	}
	n = json_object_array_length(seq);
	if (n == 0)
		k = 0;
	if (made_n(c, (size_t)k, n * SLOT_BYTES) == -1 ||
	    work(c, n * (size_t)k) == -1)
		return UNDEF(NULL);
	r = new_list(c, depth_of(seq), n * (size_t)k * SLOT_BYTES);
	for (m = 0; m < (size_t)k; m++)
		for (i = 0; i < n; i++)
			json_object_array_add(r, json_object_get(
			    json_object_array_get_idx(seq, i)));
	return V(r);
}

static int
issequence(json_object *j)
{
	return json_object_is_type(j, json_type_string) ||
	    json_object_is_type(j, json_type_array);
}

static struct val
arith(struct ctx *c, const char *op, struct val *a, struct val *b)
{
	struct buf	 s;
	json_object	*r;
	size_t		 i;

	if (strcmp(op, "~") == 0 || (strcmp(op, "+") == 0 && !a->undef &&
	    !b->undef && json_object_is_type(a->j, json_type_string) &&
	    json_object_is_type(b->j, json_type_string))) {
		sb_init(c, &s);
		str_of(c, &s, a);
		str_of(c, &s, b);
		r = buf_str(c, &s);
		buf_free(&s);
		return V(r);
	}
	if (a->undef || b->undef) {
		rerr(c, "'%s' is undefined", a->undef ? (a->name ? a->name :
		    "value") : (b->name ? b->name : "value"));
		return UNDEF(NULL);
	}
	if (strcmp(op, "+") == 0 && json_object_is_type(a->j,
	    json_type_array) && json_object_is_type(b->j, json_type_array)) {
		size_t	na = json_object_array_length(a->j),
			nb = json_object_array_length(b->j);
		int	da = depth_of(a->j), db = depth_of(b->j);

		if (made_n(c, na + nb, SLOT_BYTES) == -1)
			return UNDEF(NULL);
		r = new_list(c, da > db ? da : db, (na + nb) * SLOT_BYTES);
		for (i = 0; i < na; i++)
			json_object_array_add(r, json_object_get(
			    json_object_array_get_idx(a->j, i)));
		for (i = 0; i < nb; i++)
			json_object_array_add(r, json_object_get(
			    json_object_array_get_idx(b->j, i)));
		return V(r);
	}
	if (strcmp(op, "*") == 0 && issequence(a->j) && isint(b->j))
		return repeat(c, a->j, json_object_get_int64(b->j));
	if (strcmp(op, "*") == 0 && isint(a->j) && issequence(b->j))
		return repeat(c, b->j, json_object_get_int64(a->j));
	if (!isnum(a->j) || !isnum(b->j)) {
		rerr(c, "unsupported operand type(s) for %s", op);
		return UNDEF(NULL);
	}
	{
		int		 ints = isint(a->j) && isint(b->j);
		long long	 x = json_object_get_int64(a->j),
				 y = json_object_get_int64(b->j), q = 0;
		double		 dx = dnum(a->j), dy = dnum(b->j), dq;

		/* Python's ints do not overflow; ours turn into floats */
		if (strcmp(op, "+") == 0) {
			ints = ints && !__builtin_add_overflow(x, y, &q);
			return V(num_result(dx + dy, ints, q));
		}
		if (strcmp(op, "-") == 0) {
			ints = ints && !__builtin_sub_overflow(x, y, &q);
			return V(num_result(dx - dy, ints, q));
		}
		if (strcmp(op, "*") == 0) {
			ints = ints && !__builtin_mul_overflow(x, y, &q);
			return V(num_result(dx * dy, ints, q));
		}
		if ((strcmp(op, "/") == 0 || strcmp(op, "//") == 0 ||
		    strcmp(op, "%") == 0) && (ints ? y == 0 : dy == 0)) {
			rerr(c, "division by zero");
			return UNDEF(NULL);
		}
		if (strcmp(op, "/") == 0)
			return V(json_object_new_double(dx / dy));
		if (ints && y == -1 && x == LLONG_MIN)
			ints = 0;
		if (strcmp(op, "//") == 0) {
			if (ints) {
				q = x / y;
				if ((x % y != 0) && ((x < 0) != (y < 0)))
					q--;
				return V(json_object_new_int64(q));
			}
			return V(json_object_new_double(floor(dx / dy)));
		}
		if (strcmp(op, "%") == 0) {
			if (ints) {
				q = x % y;
				if (q != 0 && ((q < 0) != (y < 0)))
					q += y;
				return V(json_object_new_int64(q));
			}
			dq = fmod(dx, dy);
			if (dq != 0 && ((dq < 0) != (dy < 0)))
				dq += dy;
			return V(json_object_new_double(dq));
		}
		/* ** */
		if (ints && y >= 0 && y < 64) {
			long long	p = 1;

			for (q = 0; q < y; q++)
				if (__builtin_mul_overflow(p, x, &p))
					break;
			if (q == y)
				return V(json_object_new_int64(p));
		}
		return V(json_object_new_double(pow(dx, dy)));
	}
}

/* Evaluate the arguments of a call, filter or test. */
static int
eval_args(struct ctx *c, struct expr *e, struct val *args)
{
	int	i;

	for (i = 0; i < e->nargs; i++) {
		args[i] = eval(c, e->args[i]);
		if (c->failed) {
			while (i >= 0)
				vput(&args[i--]);
			return -1;
		}
	}
	return 0;
}

static void
put_args(struct val *args, int n)
{
	while (n-- > 0)
		vput(&args[n]);
}

static const char *
argstr(struct val *args, int n, int i, const char *dflt)
{
	if (i >= n || args[i].undef || !json_object_is_type(args[i].j,
	    json_type_string))
		return dflt;
	return json_object_get_string(args[i].j);
}

/* Argument "name", given by keyword or at position "pos"; NULL if not. */
static struct val *
arg(struct expr *e, struct val *args, int pos, const char *name)
{
	int	i;

	for (i = 0; i < e->nargs; i++)
		if (e->kw[i] != NULL && strcmp(e->kw[i], name) == 0)
			return &args[i];
	return pos < e->nargs && e->kw[pos] == NULL ? &args[pos] : NULL;
}

/* Convert to a number as |float and |int do: unparsable gives dflt. */
static json_object *
to_number(struct ctx *c, struct val *v, int integer, json_object *dflt)
{
	const char	*s;
	char		*end;
	double		 d;

	if (!v->undef && isnum(v->j)) {
		d = dnum(v->j);
		if (integer && !isint(v->j) && !(isfinite(d) &&
		    fabs(d) < 9.2e18))
			return json_object_get(dflt);
		return integer ? json_object_new_int64(isint(v->j) ?
		    json_object_get_int64(v->j) : (long long)d) :
		    json_object_new_double(d);
	}
	if (!v->undef && json_object_is_type(v->j, json_type_string)) {
		if (scanned(c, slen(v->j)) == -1)
			return NULL;
		s = json_object_get_string(v->j);
		while (isspace((unsigned char)*s))
			s++;
		d = strtod(s, &end);
		while (end != s && isspace((unsigned char)*end))
			end++;
		if (end != s && *end == '\0' && isfinite(d) &&
		    fabs(d) < 9.2e18) {
			if (integer && strpbrk(s, ".eE") != NULL) {
				/* int('2.5') fails; Jinja then tries float */
				return json_object_new_int64((long long)d);
			}
			return integer ? json_object_new_int64((long long)d) :
			    json_object_new_double(d);
		}
	}
	return json_object_get(dflt);
}

static int
cmp_sort(const void *a, const void *b)
{
	json_object	*x = *(json_object *const *)a,
			*y = *(json_object *const *)b;

	if (isnum(x) && isnum(y))
		return dnum(x) < dnum(y) ? -1 : dnum(x) > dnum(y);
	if (json_object_is_type(x, json_type_string) &&
	    json_object_is_type(y, json_type_string))
		return strcmp(json_object_get_string(x),
		    json_object_get_string(y));
	return (int)json_object_get_type(x) - (int)json_object_get_type(y);
}

static size_t
log2_ceil(size_t n)
{
	size_t	k = 1;

	while (n > 1) {
		n >>= 1;
		k++;
	}
	return k;
}

/* The items of "items" in a new array, sorted when "sort" is set. */
static json_object *
copy_items(struct ctx *c, json_object *items, int sort, int reverse)
{
	json_object	**arr, *o;
	size_t		  i, n = json_object_array_length(items), sbytes = 0;

	if (made_n(c, n, SLOT_BYTES) == -1 || work(c, n) == -1)
		return NULL;
	arr = xcalloc(n + 1, sizeof(*arr));
	for (i = 0; i < n; i++) {
		arr[i] = json_object_array_get_idx(items, i);
		if (json_object_is_type(arr[i], json_type_string))
			sbytes += slen(arr[i]);
	}
	/* n log n comparisons, each through its strings */
	if (sort && (work(c, n * log2_ceil(n)) == -1 ||
	    scanned(c, sbytes) == -1 || work(c, (sbytes / BYTES_PER_STEP) *
	    log2_ceil(n)) == -1)) {
		free(arr);
		return NULL;
	}
	if (sort)
		qsort(arr, n, sizeof(*arr), cmp_sort);
	o = new_list(c, depth_of(items), n * SLOT_BYTES);
	for (i = 0; i < n; i++)
		json_object_array_add(o, json_object_get(arr[reverse ?
		    n - 1 - i : i]));
	free(arr);
	return o;
}

/* A key of unique()'s, by the bytes of which items are told apart. */
struct ukey {
	const char	*k;		/* into the keys' buffer, once built */
	size_t		 off, len;
	size_t		 i;		/* the item's place */
};

static int
cmp_ukey(const void *a, const void *b)
{
	const struct ukey	*x = a, *y = b;
	size_t			 n = x->len < y->len ? x->len : y->len;
	int			 r = memcmp(x->k, y->k, n);

	if (r != 0)
		return r;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/*
 * Append the key of "x" to "b": equal keys exactly for values Python's
 * hash and == find equal (1, 1.0 and True; strings, lowered unless
 * "csens").  Lists and dicts are unhashable, as in Python.
 */
static int
hash_key(struct ctx *c, struct buf *b, struct val *x, int csens)
{
	json_object	*j = x->j;
	size_t		 i, at;
	double		 d;

	if (x->undef)
		return sput(c, b, "u", 1);
	switch (json_object_get_type(j)) {
	case json_type_null:
		return sput(c, b, "z", 1);
	case json_type_boolean:
	case json_type_int:
		buf_printf(b, "n%lld", (long long)json_object_get_int64(j));
		return 0;
	case json_type_double:
		d = json_object_get_double(j);
		if (isfinite(d) && d == floor(d) && fabs(d) < 9.2e18)
			buf_printf(b, "n%lld", (long long)d);
		else
			buf_printf(b, "f%.17g", d);
		return 0;
	case json_type_string:
		if (sput(c, b, "s", 1) == -1)
			return -1;
		at = b->len;
		if (sput(c, b, json_object_get_string(j), slen(j)) == -1)
			return -1;
		if (!csens)
			for (i = at; i < b->len; i++)
				b->p[i] = (char)tolower((unsigned char)b->p[i]);
		return 0;
	default:
		rerr(c, "unhashable type: '%s'", json_object_is_type(j,
		    json_type_array) ? "list" : "dict");
		return -1;
	}
}

/*
 * Jinja's unique(case_sensitive=False, attribute=None): the items in
 * order, each first of its key.  The keys are sorted, not compared pair
 * by pair, so that the work grows as n log n.
 */
static json_object *
unique(struct ctx *c, json_object *items, struct expr *e, struct val *args)
{
	struct val	*cs = arg(e, args, 0, "case_sensitive"),
			*at = arg(e, args, 1, "attribute");
	const char	*attr = at != NULL && !at->undef &&
			    json_object_is_type(at->j, json_type_string) ?
			    json_object_get_string(at->j) : NULL;
	size_t		 i, n = json_object_array_length(items);
	struct ukey	*keys;
	struct buf	 kb;
	char		*keep;
	json_object	*o = NULL;

	if (made_n(c, n, sizeof(*keys) + SLOT_BYTES + 1) == -1 ||
	    work(c, n * log2_ceil(n)) == -1)
		return NULL;
	keys = xcalloc(n + 1, sizeof(*keys));
	keep = xcalloc(n + 1, 1);
	sb_init(c, &kb);
	for (i = 0; i < n && work(c, 1) == 0; i++) {
		struct val	it = V(json_object_get(
				    json_object_array_get_idx(items, i)));
		struct val	x = attr != NULL ? getitem(c, &it, NULL, attr) :
				    V(json_object_get(it.j));

		keys[i].off = kb.len;
		keys[i].i = i;
		hash_key(c, &kb, &x, cs != NULL && truthy(cs));
		keys[i].len = kb.len - keys[i].off;
		vput(&x);
		vput(&it);
	}
	/* a key printed past the room shows here, as too_big would */
	if (!c->failed && made(c, kb.len) == 0) {
		unmade(c, kb.len);
		for (i = 0; i < n; i++)
			keys[i].k = kb.p + keys[i].off;
		qsort(keys, n, sizeof(*keys), cmp_ukey);
		for (i = 0; i < n; i++)
			if (i == 0 || keys[i].len != keys[i - 1].len ||
			    memcmp(keys[i].k, keys[i - 1].k, keys[i].len) != 0)
				keep[keys[i].i] = 1;
		o = new_list(c, depth_of(items), n * SLOT_BYTES);
		for (i = 0; i < n; i++)
			if (keep[i])
				json_object_array_add(o, json_object_get(
				    json_object_array_get_idx(items, i)));
	}
	buf_free(&kb);
	free(keys);
	free(keep);
	unmade(c, n * (sizeof(*keys) + 1));	/* the keys are gone */
	return o;
}

/* s.replace(old, new) into "b" ("old" empty leaves "s" as it is). */
static void
replace_str(struct ctx *c, struct buf *b, const char *s, size_t sl,
    const char *old, const char *nw)
{
	size_t		 ol = strlen(old), nl = strlen(nw);
	const char	*p = s, *q;

	if (ol == 0) {
		sput(c, b, s, sl);
		return;
	}
	while ((q = find(c, p, (size_t)(s + sl - p), old, ol)) != NULL) {
		sput(c, b, p, (size_t)(q - p));
		sput(c, b, nw, nl);
		p = q + ol;
	}
	sput(c, b, p, (size_t)(s + sl - p));
}

/* d.items() ("what" 'i'), d.keys() ('k') or d.values() ('v'). */
static json_object *
dict_list(struct ctx *c, json_object *d, int what)
{
	json_object	*a, *item;
	size_t		 n = (size_t)json_object_object_length(d);
	int		 depth = 0;

	if (made_n(c, n, SLOT_BYTES) == -1 || work(c, n) == -1)
		return NULL;
	a = new_list(c, 1, n * SLOT_BYTES);
	json_object_object_foreach(d, k, x) {
		if (what == 'i' && made(c, VAL_BYTES + 2 * SLOT_BYTES) == -1)
			break;
		if (what == 'k')
			item = new_str(c, k, strlen(k));
		else if (what == 'v')
			item = json_object_get(x);
		else {
			item = own(c, json_object_new_array(), VAL_BYTES +
			    2 * SLOT_BYTES, 1 + depth_of(x));
			json_object_array_add(item, new_str(c, k, strlen(k)));
			json_object_array_add(item, json_object_get(x));
		}
		if (depth_of(item) > depth)
			depth = depth_of(item);
		json_object_array_add(a, item);
	}
	set_depth(c, a, 1 + depth);
	return a;
}

static struct val
filter(struct ctx *c, struct expr *e)
{
	struct val	 v, args[ARGS_MAX], r = UNDEF(NULL);
	const char	*f = e->name;
	struct buf	 b;
	json_object	*items, *o;
	size_t		 i, n;

	v = eval(c, e->a);
	if (c->failed)
		return v;
	if (eval_args(c, e, args) == -1) {
		vput(&v);
		return UNDEF(NULL);
	}
	sb_init(c, &b);
	if (strcmp(f, "default") == 0 || strcmp(f, "d") == 0) {
		int	boolean = e->nargs > 1 && truthy(&args[1]);

		if (v.undef || (boolean && !truthy(&v))) {
			vput(&v);
			r = e->nargs > 0 ? V(json_object_get(args[0].j)) :
			    V(json_object_new_string(""));
			if (e->nargs > 0 && args[0].undef)
				r = UNDEF(NULL);
		} else {
			r = v;
			v.j = NULL;
		}
	} else if (strcmp(f, "join") == 0) {
		const char	*sep = argstr(args, e->nargs, 0, "");
		const char	*attr = argstr(args, e->nargs, 1, NULL);

		if ((items = iter_items(c, &v)) != NULL) {
			n = json_object_array_length(items);
			for (i = 0; i < n && work(c, 1) == 0; i++) {
				struct val	it = V(json_object_get(
				    json_object_array_get_idx(items, i)));

				if (i > 0)
					sput(c, &b, sep, strlen(sep));
				if (attr != NULL) {
					struct val	x = getitem(c, &it,
					    NULL, attr);

					str_of(c, &b, &x);
					vput(&x);
				} else
					str_of(c, &b, &it);
				vput(&it);
			}
			json_object_put(items);
			r = V(buf_str(c, &b));
		}
	} else if (strcmp(f, "length") == 0 || strcmp(f, "count") == 0) {
		if (v.undef)
			r = V(json_object_new_int(0));
		else if (json_object_is_type(v.j, json_type_string)) {
			if (scanned(c, slen(v.j)) == 0)
				r = V(json_object_new_int64((int64_t)u8len(
				    json_object_get_string(v.j), slen(v.j))));
		} else if (json_object_is_type(v.j, json_type_array))
			r = V(json_object_new_int64((int64_t)
			    json_object_array_length(v.j)));
		else if (json_object_is_type(v.j, json_type_object))
			r = V(json_object_new_int(
			    json_object_object_length(v.j)));
		else
			rerr(c, "object has no len()");
	} else if (strcmp(f, "float") == 0 || strcmp(f, "int") == 0) {
		json_object	*d = e->nargs > 0 && !args[0].undef ?
		    json_object_get(args[0].j) : f[0] == 'f' ?
		    json_object_new_double(0) : json_object_new_int(0);

		r = V(to_number(c, &v, f[0] == 'i', d));
		json_object_put(d);
	} else if (strcmp(f, "string") == 0) {
		str_of(c, &b, &v);
		r = V(buf_str(c, &b));
	} else if (strcmp(f, "upper") == 0 || strcmp(f, "lower") == 0 ||
	    strcmp(f, "capitalize") == 0 || strcmp(f, "title") == 0) {
		int	start = 1;

		str_of(c, &b, &v);
		for (i = 0; i < b.len && !c->failed; i++) {
			char	ch = b.p[i];

			if (f[0] == 'u')
				b.p[i] = (char)toupper((unsigned char)ch);
			else if (f[0] == 'l')
				b.p[i] = (char)tolower((unsigned char)ch);
			else if (f[0] == 'c')
				b.p[i] = (char)(i == 0 ?
				    toupper((unsigned char)ch) :
				    tolower((unsigned char)ch));
			else {
				b.p[i] = (char)(start ?
				    toupper((unsigned char)ch) :
				    tolower((unsigned char)ch));
				start = !isalnum((unsigned char)ch);
			}
		}
		r = V(buf_str(c, &b));
	} else if (strcmp(f, "trim") == 0) {
		const char	*s, *t;

		str_of(c, &b, &v);
		s = b.p ? b.p : "";
		t = s + b.len;
		while (s < t && isspace((unsigned char)*s))
			s++;
		while (t > s && isspace((unsigned char)t[-1]))
			t--;
		r = V(new_str(c, s, (size_t)(t - s)));
	} else if (strcmp(f, "first") == 0 || strcmp(f, "last") == 0) {
		if ((items = iter_items(c, &v)) != NULL) {
			n = json_object_array_length(items);
			if (n > 0)
				r = V(json_object_get(json_object_array_get_idx(
				    items, f[0] == 'f' ? 0 : n - 1)));
			json_object_put(items);
		}
	} else if (strcmp(f, "reverse") == 0 && !v.undef &&
	    json_object_is_type(v.j, json_type_string)) {
		const char	*s = json_object_get_string(v.j);
		size_t		 k, sl = slen(v.j);

		/* reverse by characters */
		for (i = sl; i > 0 && !c->failed; i = k) {
			for (k = i - 1; k > 0 &&
			    ((unsigned char)s[k] & 0xc0) == 0x80; k--)
				;
			sput(c, &b, s + k, i - k);
		}
		r = V(buf_str(c, &b));
	} else if (strcmp(f, "list") == 0 || strcmp(f, "reverse") == 0 ||
	    strcmp(f, "sort") == 0 || strcmp(f, "unique") == 0) {
		if ((items = iter_items(c, &v)) != NULL) {
			o = f[0] == 'u' ? unique(c, items, e, args) :
			    copy_items(c, items, f[0] == 's', f[0] == 'r');
			if (o != NULL)
				r = V(o);
			json_object_put(items);
		}
	} else if (strcmp(f, "sum") == 0 || strcmp(f, "max") == 0 ||
	    strcmp(f, "min") == 0) {
		if ((items = iter_items(c, &v)) != NULL) {
			json_object	*best = NULL;
			double		 sd = 0;
			long long	 si = 0;
			int		 ints = 1;

			n = json_object_array_length(items);
			for (i = 0; i < n && work(c, 1) == 0; i++) {
				json_object	*x = json_object_array_get_idx(
				    items, i);

				if (f[1] == 'u') {
					if (!isnum(x)) {
						rerr(c, "unsupported operand "
						    "type(s) for +");
						break;
					}
					ints &= isint(x) &&
					    !__builtin_add_overflow(si,
					    json_object_get_int64(x), &si);
					sd += dnum(x);
					continue;
				}
				if (json_object_is_type(x, json_type_string) &&
				    scanned(c, slen(x)) == -1)
					break;
				if (best == NULL || (cmp_sort(&x, &best) *
				    (f[1] == 'a' ? 1 : -1)) > 0)
					best = x;
			}
			if (c->failed)
				;
			else if (f[1] == 'u')
				r = V(num_result(sd, ints, si));
			else if (best != NULL)
				r = V(json_object_get(best));
			json_object_put(items);
		}
	} else if (strcmp(f, "abs") == 0) {
		if (!v.undef && isint(v.j) &&
		    json_object_get_int64(v.j) != LLONG_MIN)
			r = V(json_object_new_int64(llabs(
			    json_object_get_int64(v.j))));
		else if (!v.undef && isnum(v.j))
			r = V(json_object_new_double(fabs(dnum(v.j))));
		else
			rerr(c, "bad operand type for abs()");
	} else if (strcmp(f, "round") == 0) {
		long long	 prec = e->nargs > 0 && !args[0].undef &&
		    isint(args[0].j) ? json_object_get_int64(args[0].j) : 0;
		const char	*m = argstr(args, e->nargs, 1, "common");
		double		 d, p;

		if (v.undef || !isnum(v.j))
			rerr(c, "round() needs a number");
		else {
			if (prec < 0)
				prec = 0;
			if (prec > 15)
				prec = 15;
			p = pow(10, (double)prec);
			d = dnum(v.j) * p;
			d = strcmp(m, "ceil") == 0 ? ceil(d) :
			    strcmp(m, "floor") == 0 ? floor(d) : round(d);
			r = V(json_object_new_double(d / p));
		}
	} else if (strcmp(f, "replace") == 0) {
		const char	*old = argstr(args, e->nargs, 0, NULL);
		const char	*nw = argstr(args, e->nargs, 1, "");
		struct buf	 s;

		sb_init(c, &s);
		str_of(c, &s, &v);
		if (old == NULL)
			rerr(c, "replace() needs strings");
		else
			replace_str(c, &b, s.p ? s.p : "", s.len, old, nw);
		buf_free(&s);
		r = V(buf_str(c, &b));
	} else if (strcmp(f, "tojson") == 0) {
		if (!v.undef)
			print_val(c, &b, v.j, 1);
		r = V(buf_str(c, &b));
	} else if (strcmp(f, "safe") == 0) {
		r = v;
		v.j = NULL;
	} else if (strcmp(f, "e") == 0 || strcmp(f, "escape") == 0) {
		struct buf	 s;

		sb_init(c, &s);
		str_of(c, &s, &v);
		scanned(c, s.len);
		for (i = 0; i < s.len && !c->failed; i++) {
			/* small pieces: a failure shows in buf_str */
			switch (s.p[i]) {
			case '&': buf_puts(&b, "&amp;"); break;
			case '<': buf_puts(&b, "&lt;"); break;
			case '>': buf_puts(&b, "&gt;"); break;
			case '"': buf_puts(&b, "&#34;"); break;
			case '\'': buf_puts(&b, "&#39;"); break;
			default: buf_append(&b, &s.p[i], 1);
			}
		}
		buf_free(&s);
		r = V(buf_str(c, &b));
	} else if (strcmp(f, "items") == 0) {
		if (!v.undef && json_object_is_type(v.j, json_type_object))
			o = dict_list(c, v.j, 'i');
		else
			o = new_list(c, 1, 0);
		if (o != NULL)
			r = V(o);
	} else
		rerr(c, "No filter named '%s'.", f);
	buf_free(&b);
	vput(&v);
	put_args(args, e->nargs);
	if (c->failed)
		vput(&r);
	return r;
}

static struct val
test(struct ctx *c, struct expr *e)
{
	struct val	 v, args[ARGS_MAX];
	const char	*t = e->name;
	int		 r = 0;
	json_object	*j;

	v = eval(c, e->a);
	if (c->failed)
		return v;
	if (eval_args(c, e, args) == -1) {
		vput(&v);
		return UNDEF(NULL);
	}
	j = v.j;
	if (strcmp(t, "defined") == 0)
		r = !v.undef;
	else if (strcmp(t, "undefined") == 0)
		r = v.undef;
	else if (strcmp(t, "none") == 0)
		r = !v.undef && j == NULL;
	else if (strcmp(t, "number") == 0)
		r = !v.undef && (json_object_is_type(j, json_type_int) ||
		    json_object_is_type(j, json_type_double));
	else if (strcmp(t, "integer") == 0)
		r = !v.undef && json_object_is_type(j, json_type_int);
	else if (strcmp(t, "float") == 0)
		r = !v.undef && json_object_is_type(j, json_type_double);
	else if (strcmp(t, "boolean") == 0)
		r = !v.undef && json_object_is_type(j, json_type_boolean);
	else if (strcmp(t, "true") == 0 || strcmp(t, "false") == 0)
		r = !v.undef && json_object_is_type(j, json_type_boolean) &&
		    json_object_get_boolean(j) == (t[0] == 't');
	else if (strcmp(t, "string") == 0)
		r = !v.undef && json_object_is_type(j, json_type_string);
	else if (strcmp(t, "mapping") == 0)
		r = !v.undef && json_object_is_type(j, json_type_object);
	else if (strcmp(t, "sequence") == 0 || strcmp(t, "iterable") == 0)
		r = !v.undef && (json_object_is_type(j, json_type_array) ||
		    json_object_is_type(j, json_type_string) ||
		    json_object_is_type(j, json_type_object));
	else if (strcmp(t, "odd") == 0 || strcmp(t, "even") == 0) {
		if (v.undef || !isint(j))
			rerr(c, "odd/even need an integer");
		else
			r = (json_object_get_int64(j) & 1) == (t[0] == 'o');
	} else if (strcmp(t, "divisibleby") == 0) {
		if (v.undef || !isint(j) || e->nargs < 1 || args[0].undef ||
		    !isint(args[0].j) || json_object_get_int64(args[0].j) == 0)
			rerr(c, "divisibleby needs integers");
		else	/* LLONG_MIN % -1 traps */
			r = json_object_get_int64(args[0].j) == -1 ||
			    json_object_get_int64(j) %
			    json_object_get_int64(args[0].j) == 0;
	} else if (strcmp(t, "eq") == 0 || strcmp(t, "equalto") == 0 ||
	    strcmp(t, "sameas") == 0)
		r = e->nargs > 0 && !v.undef && !args[0].undef &&
		    veq(c, j, args[0].j, 0);
	else if (strcmp(t, "in") == 0)
		r = e->nargs > 0 && !args[0].undef && args[0].j != NULL &&
		    contains(c, args[0].j, &v);
	else
		rerr(c, "No test named '%s'.", t);
	vput(&v);
	put_args(args, e->nargs);
	return V(json_object_new_boolean(e->negate ? !r : r));
}


static long long
clamp_range(long long v)
{
	return v > (1LL << 40) ? (1LL << 40) : v < -(1LL << 40) ?
	    -(1LL << 40) : v;
}

static int
is_range(struct expr *e)
{
	return e->k == E_CALL && e->a->k == E_NAME &&
	    strcmp(e->a->name, "range") == 0;
}

/* The arguments of call "e" to range(): its start, step and length. */
static int
range_args(struct ctx *c, struct expr *e, long long *lo, long long *st,
    size_t *cnt)
{
	struct val	 args[ARGS_MAX];
	long long	 hi = 0, span;
	int		 i;

	*lo = 0;
	*st = 1;
	*cnt = 0;
	if (work(c, 1) == -1 || eval_args(c, e, args) == -1)
		return -1;
	for (i = 0; i < e->nargs; i++)
		if (args[i].undef || !isint(args[i].j))
			rerr(c, "range() needs integers");
	if (!c->failed && e->nargs == 1)
		hi = json_object_get_int64(args[0].j);
	else if (!c->failed && e->nargs >= 2) {
		*lo = json_object_get_int64(args[0].j);
		hi = json_object_get_int64(args[1].j);
		if (e->nargs >= 3)
			*st = json_object_get_int64(args[2].j);
	}
	if (!c->failed && *st == 0)
		rerr(c, "range() arg 3 must not be zero");
	put_args(args, e->nargs);
	if (c->failed)
		return -1;
	*lo = clamp_range(*lo);
	hi = clamp_range(hi);
	*st = clamp_range(*st);
	span = *st > 0 ? hi - *lo : *lo - hi;
	if (span > 0)
		*cnt = (size_t)((span + (*st > 0 ? *st : -*st) - 1) /
		    (*st > 0 ? *st : -*st));
	return 0;
}

/* Methods Jinja users call on dicts, strings and lists. */
static struct val
call(struct ctx *c, struct expr *e)
{
	struct expr	*callee = e->a;
	struct val	 o, args[ARGS_MAX], r = UNDEF(NULL);
	const char	*m;
	struct buf	 b;
	json_object	*a;
	size_t		 i, n;

	if (is_range(e)) {
		long long	lo, st;

		if (range_args(c, e, &lo, &st, &n) == -1 ||
		    made_n(c, n, VAL_BYTES + SLOT_BYTES) == -1 ||
		    work(c, n) == -1)
			return UNDEF(NULL);
		a = new_list(c, 1, n * (VAL_BYTES + SLOT_BYTES));
		for (i = 0; i < n; i++)
			json_object_array_add(a, json_object_new_int64(lo +
			    (long long)i * st));
		return V(a);
	}
	if (callee->k != E_ATTR) {
		rerr(c, "object is not callable");
		return UNDEF(NULL);
	}
	m = callee->name;
	o = eval(c, callee->a);
	if (c->failed)
		return o;
	if (eval_args(c, e, args) == -1) {
		vput(&o);
		return UNDEF(NULL);
	}
	sb_init(c, &b);
	if (o.undef)
		rerr(c, "'%s' is undefined", o.name ? o.name : "value");
	else if (json_object_is_type(o.j, json_type_object) &&
	    (strcmp(m, "items") == 0 || strcmp(m, "keys") == 0 ||
	    strcmp(m, "values") == 0)) {
		if ((a = dict_list(c, o.j, m[0])) != NULL)
			r = V(a);
	} else if (json_object_is_type(o.j, json_type_object) &&
	    strcmp(m, "get") == 0 && e->nargs >= 1) {
		const char	*k = argstr(args, e->nargs, 0, NULL);
		json_object	*x;

		if (k != NULL && json_object_object_get_ex(o.j, k, &x))
			r = V(json_object_get(x));
		else
			r = e->nargs > 1 ? V(json_object_get(args[1].j)) :
			    V(NULL);
	} else if (json_object_is_type(o.j, json_type_string)) {
		const char	*s = json_object_get_string(o.j);
		size_t		 sl = slen(o.j);

		if (strcmp(m, "upper") == 0 || strcmp(m, "lower") == 0) {
			sput(c, &b, s, sl);
			for (i = 0; i < b.len && !c->failed; i++)
				b.p[i] = m[0] == 'u' ?
				    (char)toupper((unsigned char)b.p[i]) :
				    (char)tolower((unsigned char)b.p[i]);
			r = V(buf_str(c, &b));
		} else if (strcmp(m, "strip") == 0 ||
		    strcmp(m, "lstrip") == 0 || strcmp(m, "rstrip") == 0) {
			const char	*p = s, *t = s + sl;

			if (m[0] != 'r')
				while (p < t && isspace((unsigned char)*p))
					p++;
			if (m[0] != 'l')
				while (t > p && isspace((unsigned char)t[-1]))
					t--;
			r = V(new_str(c, p, (size_t)(t - p)));
		} else if (strcmp(m, "startswith") == 0 ||
		    strcmp(m, "endswith") == 0) {
			const char	*x = argstr(args, e->nargs, 0, NULL);
			size_t		 xl = x ? strlen(x) : 0;

			if (x == NULL)
				rerr(c, "%s needs a string", m);
			else if (scanned(c, xl) == 0)
				r = V(json_object_new_boolean(xl <= sl &&
				    memcmp(m[0] == 's' ? s : s + sl - xl, x,
				    xl) == 0));
		} else if (strcmp(m, "split") == 0) {
			const char	*sep = argstr(args, e->nargs, 0, NULL);
			const char	*p = s, *q, *t = s + sl;
			size_t		 pl = sep != NULL ? strlen(sep) : 0;

			/* the pieces' bytes, then each piece as it comes */
			if (made(c, sl) == -1)
				goto out;
			a = new_list(c, 1, sl);
			while (!c->failed && pl == 0 && p < t) {
				while (p < t && isspace((unsigned char)*p))
					p++;
				if (p >= t)
					break;
				for (q = p; q < t &&
				    !isspace((unsigned char)*q); q++)
					;
				if (grow(c, a, VAL_BYTES + SLOT_BYTES) == 0)
					json_object_array_add(a,
					    json_object_new_string_len(p,
					    (int)(q - p)));
				p = q;
			}
			while (!c->failed && pl > 0) {
				if (grow(c, a, VAL_BYTES + SLOT_BYTES) == -1)
					break;
				q = find(c, p, (size_t)(t - p), sep, pl);
				if (q == NULL) {
					json_object_array_add(a,
					    json_object_new_string_len(p,
					    (int)(t - p)));
					break;
				}
				json_object_array_add(a,
				    json_object_new_string_len(p,
				    (int)(q - p)));
				p = q + pl;
			}
			r = V(a);
		} else if (strcmp(m, "replace") == 0) {
			const char	*old = argstr(args, e->nargs, 0, NULL);
			const char	*nw = argstr(args, e->nargs, 1, "");

			replace_str(c, &b, s, sl, old != NULL ? old : "", nw);
			r = V(buf_str(c, &b));
		} else
			rerr(c, "'str' object has no attribute '%s'", m);
	} else if (json_object_is_type(o.j, json_type_array) &&
	    strcmp(m, "index") == 0 && e->nargs >= 1) {
		n = json_object_array_length(o.j);
		for (i = 0; i < n && !c->failed; i++)
			if (!args[0].undef && veq(c, args[0].j,
			    json_object_array_get_idx(o.j, i), 0))
				break;
		if (c->failed)
			;
		else if (i == n)
			rerr(c, "value is not in list");
		else
			r = V(json_object_new_int64((int64_t)i));
	} else
		rerr(c, "object has no method '%s'", m);
out:
	buf_free(&b);
	vput(&o);
	put_args(args, e->nargs);
	if (c->failed)
		vput(&r);
	return r;
}

static struct val
eval(struct ctx *c, struct expr *e)
{
	struct val	 a, b, r, items[ARGS_MAX];
	json_object	*o;
	int		 i, t, d;

	if (work(c, 1) == -1)
		return UNDEF(NULL);
	switch (e->k) {
	case E_LIT:
		return V(json_object_get(e->lit));
	case E_NAME:
		return lookup(c, e->name);
	case E_ATTR:
		a = eval(c, e->a);
		if (c->failed)
			return a;
		r = getitem(c, &a, NULL, e->name);
		vput(&a);
		return r;
	case E_ITEM:
		a = eval(c, e->a);
		b = eval(c, e->b);
		if (c->failed) {
			vput(&a);
			vput(&b);
			return UNDEF(NULL);
		}
		r = b.undef ? UNDEF(NULL) : getitem(c, &a, b.j, NULL);
		vput(&a);
		vput(&b);
		return r;
	case E_SLICE:
		a = eval(c, e->a);
		b = e->b ? eval(c, e->b) : UNDEF(NULL);
		r = e->c ? eval(c, e->c) : UNDEF(NULL);
		if (!c->failed) {
			struct val	s = slice(c, &a, &b, &r);

			vput(&a);
			vput(&b);
			vput(&r);
			return s;
		}
		vput(&a);
		vput(&b);
		vput(&r);
		return UNDEF(NULL);
	case E_CALL:
		return call(c, e);
	case E_FILTER:
		return filter(c, e);
	case E_TEST:
		return test(c, e);
	case E_NOT:
		a = eval(c, e->a);
		t = truthy(&a);
		vput(&a);
		return V(json_object_new_boolean(!t));
	case E_NEG:
	case E_POS:
		a = eval(c, e->a);
		if (c->failed)
			return a;
		if (a.undef || !isnum(a.j)) {
			rerr(c, "bad operand type for unary %s",
			    e->k == E_NEG ? "-" : "+");
			vput(&a);
			return UNDEF(NULL);
		}
		if (e->k == E_POS)
			return a;
		r = isint(a.j) && json_object_get_int64(a.j) != LLONG_MIN ?
		    V(json_object_new_int64(-json_object_get_int64(a.j))) :
		    V(json_object_new_double(-dnum(a.j)));
		vput(&a);
		return r;
	case E_COND:
		a = eval(c, e->a);
		t = truthy(&a);
		vput(&a);
		if (t)
			return eval(c, e->b);
		return e->c ? eval(c, e->c) : UNDEF(NULL);
	case E_LIST:
	case E_DICT:
		d = 0;
		for (i = 0; i < e->nargs; i++) {
			items[i] = eval(c, e->args[i]);
			if (depth_of(items[i].j) > d)
				d = depth_of(items[i].j);
		}
		if (made_n(c, (size_t)e->nargs, ENTRY_BYTES) == -1) {
			put_args(items, e->nargs);
			return UNDEF(NULL);
		}
		if (e->k == E_LIST) {
			o = new_list(c, 1 + d, (size_t)e->nargs * ENTRY_BYTES);
			for (i = 0; i < e->nargs; i++)
				json_object_array_add(o, items[i].j);
			return V(o);
		}
		o = new_dict(c, 1 + d, (size_t)e->nargs * ENTRY_BYTES);
		for (i = 0; i + 1 < e->nargs; i += 2) {
			struct buf	k;

			sb_init(c, &k);
			str_of(c, &k, &items[i]);
			grow(c, o, k.len);
			json_object_object_add(o, buf_cstr(&k),
			    items[i + 1].j);
			buf_free(&k);
			vput(&items[i]);
		}
		return V(o);
	case E_BIN:
		break;
	}
	/* binary operators */
	if (strcmp(e->name, "and") == 0 || strcmp(e->name, "or") == 0) {
		a = eval(c, e->a);
		t = truthy(&a);
		if ((e->name[0] == 'a') != t)
			return a;
		vput(&a);
		return eval(c, e->b);
	}
	a = eval(c, e->a);
	b = eval(c, e->b);
	if (c->failed) {
		vput(&a);
		vput(&b);
		return UNDEF(NULL);
	}
	if (strcmp(e->name, "==") == 0 || strcmp(e->name, "!=") == 0) {
		t = (a.undef && b.undef) || (!a.undef && !b.undef &&
		    veq(c, a.j, b.j, 0));
		r = V(json_object_new_boolean(e->name[0] == '=' ? t : !t));
	} else if (strcmp(e->name, "in") == 0 ||
	    strcmp(e->name, "not in") == 0) {
		t = b.undef ? 0 : contains(c, b.j, &a);
		r = V(json_object_new_boolean(e->name[0] == 'i' ? t : !t));
	} else if (e->name[0] == '<' || e->name[0] == '>') {
		if (a.undef || b.undef) {
			rerr(c, "'%s' not supported with undefined",
			    e->name);
			r = UNDEF(NULL);
		} else {
			t = cmp_vals(c, a.j, b.j, e->name);
			if (strcmp(e->name, "<") == 0)
				t = t < 0;
			else if (strcmp(e->name, ">") == 0)
				t = t > 0;
			else if (strcmp(e->name, "<=") == 0)
				t = t <= 0;
			else
				t = t >= 0;
			r = V(json_object_new_boolean(t));
		}
	} else
		r = arith(c, e->name, &a, &b);
	vput(&a);
	vput(&b);
	return r;
}

static void exec_nodes(struct ctx *, struct node *);

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
		rerr(c, "cannot unpack the loop item into two names");
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
		rerr(c, "loops nested too deeply");
		return NULL;
	}
	if (made_n(c, len, SLOT_BYTES) == -1)
		return NULL;
	kept = new_list(c, items != NULL ? depth_of(items) : 1,
	    len * SLOT_BYTES);
	frame = json_object_new_object();
	c->frames[c->nframes++] = frame;
	for (i = 0; i < len && work(c, 1) == 0; i++) {
		if (bind(c, n, frame, nth(items, lo, st, i)) == -1)
			break;
		v = eval(c, n->cond);
		if (truthy(&v))
			json_object_array_add(kept, nth(items, lo, st, i));
		vput(&v);
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

	if (is_range(n->e)) {
		if (range_args(c, n->e, &lo, &st, &len) == -1)
			return;
	} else {
		it = eval(c, n->e);
		if (c->failed) {
			vput(&it);
			return;
		}
		items = iter_items(c, &it);
		vput(&it);
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
		exec_nodes(c, n->orelse);
		return;
	}
	if (c->nframes == FRAMES_MAX) {
		json_object_put(items);
		rerr(c, "loops nested too deeply");
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
	for (i = 0; i < len && work(c, LOOP_STEPS) == 0; i++) {
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
		exec_nodes(c, n->body);
	}
	c->nframes--;
	json_object_put(frame);
	json_object_put(items);
}

static void
exec_nodes(struct ctx *c, struct node *n)
{
	struct val	v;
	size_t		at;

	if (++c->depth > DEPTH_MAX) {
		rerr(c, "blocks nested too deeply");
		return;
	}
	for (; n != NULL && work(c, 1) == 0; n = n->next) {
		switch (n->k) {
		case N_TEXT:
			if (made(c, n->len) == 0)
				sput(c, c->out, n->text, n->len);
			break;
		case N_OUT:
			v = eval(c, n->e);
			at = c->out->len;
			str_of(c, c->out, &v);
			made(c, c->out->len - at);
			vput(&v);
			break;
		case N_IF: {
			struct node	*b;

			for (b = n; b != NULL && !c->failed; b = b->orelse) {
				if (b->e == NULL) {
					exec_nodes(c, b->body);
					break;
				}
				v = eval(c, b->e);
				if (truthy(&v)) {
					vput(&v);
					exec_nodes(c, b->body);
					break;
				}
				vput(&v);
			}
			break;
		}
		case N_FOR:
			exec_for(c, n);
			break;
		case N_SET:
			v = eval(c, n->e);
			if (!c->failed)
				json_object_object_add(
				    c->frames[c->nframes - 1], n->var1,
				    v.undef ? NULL : v.j);
			else
				vput(&v);
			break;
		}
	}
	c->depth--;
}

/* Jinja's lexer: newlines normalised, one trailing newline dropped. */
static char *
normalise(const char *src, size_t len, size_t *out_len)
{
	char	*s = xmalloc(len + 1);
	size_t	 i, n = 0;

	for (i = 0; i < len; i++) {
		if (src[i] == '\r') {
			s[n++] = '\n';
			if (i + 1 < len && src[i + 1] == '\n')
				i++;
		} else
			s[n++] = src[i];
	}
	if (n > 0 && s[n - 1] == '\n')
		n--;
	s[n] = '\0';
	*out_len = n;
	return s;
}

int
tmpl_render(const char *src, size_t len, json_object *vars,
    struct tmpl_limits *lim, struct buf *out, char *err, size_t errlen)
{
	struct tp	 tp;
	struct tree	 tree;
	struct blk	 body;
	struct ctx	 c;
	json_object	*empty;
	const char	*stop;
	char		*norm;
	int		 lstrip = 0, rc = -1;

	memset(&tp, 0, sizeof(tp));
	memset(&tree, 0, sizeof(tree));
	memset(&body, 0, sizeof(body));
	memset(&c, 0, sizeof(c));
	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (memchr(src, '\0', len) != NULL) {
		snprintf(err, errlen, "template contains a NUL character");
		return -1;
	}
	norm = normalise(src, len, &tp.len);
	tp.src = norm;
	tp.err = err;
	tp.errlen = errlen;
	tree.lits = json_object_new_array();
	tp.tree = &tree;
	if (parse_body(&tp, &body, NULL, &stop, &lstrip) == -1)
		goto out;
	empty = json_object_new_object();
	c.frames[c.nframes++] = vars != NULL && json_object_is_type(vars,
	    json_type_object) ? vars : empty;
	c.frames[c.nframes++] = json_object_new_object();	/* set */
	c.out = out;
	c.err = err;
	c.errlen = errlen;
	c.max_steps = lim != NULL && lim->max_steps > 0 ? lim->max_steps :
	    TMPL_STEPS_MAX;
	c.max_bytes = lim != NULL && lim->max_bytes > 0 ? lim->max_bytes :
	    TMPL_BYTES_MAX;
	if (c.max_bytes > TMPL_BYTES_CEILING)
		c.max_bytes = TMPL_BYTES_CEILING;
	c.next_tick = TICK_STEPS;
	if (lim != NULL) {
		c.tick = lim->tick;
		c.arg = lim->arg;
	}
	exec_nodes(&c, body.head);
	json_object_put(c.frames[1]);
	json_object_put(empty);
	rc = c.stopped ? TMPL_STOPPED : c.failed ? -1 : 0;
out:
	if (lim != NULL) {
		lim->steps = c.steps;
		lim->bytes = c.peak;
	}
	json_object_put(tree.lits);
	pool_free_all(&tp.pool);
	free(norm);
	return rc;
}
