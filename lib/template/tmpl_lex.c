/*
 * tmpl_lex.c: the tokens inside one tag of a template, as Jinja2's lexer
 * (jinja2/lexer.py) makes them: names, integers and floats (with "_"
 * separators), quoted strings with their escapes, and operators, up to
 * the tag's closing delimiter and its "-".  A tag's tokens live in the
 * parser's pool until the next tag replaces them.  Also the parser's
 * error, which keeps the first message.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tmpl_int.h"

void
tmpl_perr(struct tp *tp, const char *fmt, ...)
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
int
tmpl_lex_tag(struct tp *tp, const char *close, int *rstrip)
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
			tmpl_perr(tp, "unexpected end of template, "
			    "expected '%s'", close);
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
				tmpl_perr(tp, "unexpected end of string");
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
				tmpl_perr(tp, "unexpected char '%c'", *s);
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
