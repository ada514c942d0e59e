/*
 * tmpl_int.h: what the files of lib/template/ share and nobody else sees:
 * the tokens of a tag (tmpl_lex.c), the syntax tree (tmpl_parse.c), the
 * state of a render with its accounting and the values it makes
 * (tmpl_value.c), and the evaluators of expressions (tmpl.c), filters and
 * tests (tmpl_filter.c), method calls (tmpl_method.c) and statements
 * (tmpl_exec.c), which call one another.  Other folders use
 * template/template.h.
 */
#ifndef TMPL_INT_H
#define TMPL_INT_H

#include "template/template.h"
#include "core/core.h"

#define DEPTH_MAX	48		/* nesting of blocks and expressions */
#define FRAMES_MAX	64
#define ARGS_MAX	8

/* ---- tmpl_lex.c: the tokens of a tag ---- */

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

/* Fail the parse with a message; the first one stays. */
void	tmpl_perr(struct tp *tp, const char *fmt, ...);
int	tmpl_lex_tag(struct tp *tp, const char *close, int *rstrip);

/* ---- tmpl_parse.c: the syntax tree ---- */

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

struct blk {
	struct node	*head, *tail;
	int		 lstrip;	/* strip blanks at the next text */
};

int	tmpl_parse_body(struct tp *tp, struct blk *out,
    const char *const *stops, const char **stop, int *lstrip);

/* ---- tmpl_value.c: a render, what it costs, its values ---- */

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

/* Fail the render with a message; the first one stays. */
void	tmpl_rerr(struct ctx *c, const char *fmt, ...);
/* Count steps, bytes scanned, bytes made: -1 once past a limit. */
int	tmpl_work(struct ctx *c, size_t n);
int	tmpl_scanned(struct ctx *c, size_t n);
int	tmpl_made(struct ctx *c, size_t n);
int	tmpl_made_n(struct ctx *c, size_t n, size_t each);

/* A value (taking the reference), an undefined one, and their helpers. */
struct val tmpl_v(json_object *j);
struct val tmpl_undef(const char *name);
void	tmpl_vput(struct val *v);
int	tmpl_truthy(struct val *v);
int	tmpl_isnum(json_object *j);
double	tmpl_dnum(json_object *j);
int	tmpl_isint(json_object *j);
size_t	tmpl_slen(json_object *j);

/* What a value the render made costs, and how deep it nests. */
void	tmpl_unmade(struct ctx *c, size_t n);
json_object *tmpl_own(struct ctx *c, json_object *o, size_t bytes, int depth);
int	tmpl_grow(struct ctx *c, json_object *o, size_t n);
int	tmpl_depth_of(json_object *j);
void	tmpl_set_depth(struct ctx *c, json_object *o, int depth);
json_object *tmpl_new_list(struct ctx *c, int depth, size_t bytes);
json_object *tmpl_new_dict(struct ctx *c, int depth, size_t bytes);
json_object *tmpl_new_str(struct ctx *c, const char *s, size_t n);

/* Strings being built, within what the render may still make. */
void	tmpl_sb_init(struct ctx *c, struct buf *b);
int	tmpl_sput(struct ctx *c, struct buf *b, const char *s, size_t n);
json_object *tmpl_buf_str(struct ctx *c, struct buf *b);

/* Printing, comparing, searching and walking values, counted. */
void	tmpl_print_val(struct ctx *c, struct buf *b, json_object *j, int json);
void	tmpl_str_of(struct ctx *c, struct buf *b, struct val *v);
int	tmpl_veq(struct ctx *c, json_object *a, json_object *b, int depth);
const char *tmpl_find(struct ctx *c, const char *h, size_t hl, const char *n,
    size_t nl);
size_t	tmpl_u8len(const char *s, size_t n);
size_t	tmpl_u8off(const char *s, size_t n, size_t k);
json_object *tmpl_iter_items(struct ctx *c, struct val *v);

/* ---- tmpl.c: expressions ---- */

struct val tmpl_getitem(struct ctx *c, struct val *o, json_object *key,
    const char *attr);
int	tmpl_contains(struct ctx *c, json_object *hay, struct val *needle);
json_object *tmpl_num_result(double d, int integer, long long i);
int	tmpl_eval_args(struct ctx *c, struct expr *e, struct val *args);
void	tmpl_put_args(struct val *args, int n);
struct val tmpl_eval(struct ctx *c, struct expr *e);

/* ---- tmpl_filter.c: filters and tests ---- */

const char *tmpl_argstr(struct val *args, int n, int i, const char *dflt);
void	tmpl_replace_str(struct ctx *c, struct buf *b, const char *s, size_t sl,
    const char *old, const char *nw);
json_object *tmpl_dict_list(struct ctx *c, json_object *d, int what);
struct val tmpl_filter(struct ctx *c, struct expr *e);
struct val tmpl_test(struct ctx *c, struct expr *e);

/* ---- tmpl_method.c: method calls and range() ---- */

int	tmpl_is_range(struct expr *e);
int	tmpl_range_args(struct ctx *c, struct expr *e, long long *lo,
    long long *st, size_t *cnt);
struct val tmpl_call(struct ctx *c, struct expr *e);

/* ---- tmpl_exec.c: statements ---- */

void	tmpl_exec_nodes(struct ctx *c, struct node *n);

#endif
