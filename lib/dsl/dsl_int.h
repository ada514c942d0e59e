/*
 * dsl_int.h: what the files of lib/dsl/ share and nobody else sees.  The
 * scalar typing that the reader and the writer both follow
 * (dsl_scalar.c), the copy that keeps doubles' Python spelling
 * (dsl_yaml.c), and the state of one dsl_load with its messages
 * (dsl_load.c), which normalising (dsl_normalise.c) and the graph checks
 * (dsl_check.c) work on.  Other folders use dsl/dsl.h.
 */
#ifndef DSL_INT_H
#define DSL_INT_H

#include "dsl/dsl.h"

/* ---- dsl_scalar.c: PyYAML's implicit resolvers and constructors ---- */

enum dsl_kind { K_STR, K_NULL, K_BOOL, K_INT, K_FLOAT, K_MERGE, K_VALUE,
	K_TIMESTAMP };

/* 1 when "s" is one of the NULL-terminated "list". */
int	 dsl_in_list(const char *const *list, const char *s);
/* What PyYAML makes of a plain scalar, in its resolver order. */
enum dsl_kind dsl_resolve_plain(const char *s);
/* 1 when "s" matches PyYAML's int resolver. */
int	 dsl_match_int(const char *s);
/*
 * construct_yaml_bool, _int and _float on text their resolver matched:
 * 0, or -1 when the text is no such value (or, for numbers, one JSON
 * cannot hold).
 */
int	 dsl_bool_value(const char *s, int *out);
int	 dsl_int_value(const char *text, long long *out);
int	 dsl_float_value(const char *text, double *out);
/* Python's repr() of a finite double, which json.dumps also writes. */
void	 dsl_py_repr(double d, char out[40]);
/* A double that serialises as Python would write it. */
json_object *dsl_new_double(double d);

/* ---- dsl_yaml.c ---- */

/*
 * Make a message one line of whole UTF-8 characters: control bytes become
 * '?', and a character that %.40s or the buffer's end cut is dropped.
 */
void	 dsl_tidy(char *s);
/* A deep copy that keeps doubles' Python spelling (json_copy drops it). */
json_object *dsl_copy_value(json_object *v);

/* ---- dsl_load.c: one dsl_load, its nodes and its messages ---- */

struct dsl_node {
	json_object	*obj;
	json_object	*data;		/* NULL when missing */
	const char	*id;		/* NULL when missing */
	const char	*type;		/* data.type, NULL when missing */
	const char	*title;
	int		 pos;		/* 0-based, in the file's node list */
	int		 ok;		/* id, data and a known type; unique */
};

struct dsl_load {
	struct dsl_app	*a;
	struct pool	 p;
	struct dsl_node	*nodes;		/* notes dropped; room for starts */
	size_t		 n, cap;
	json_object	*index;		/* node id -> position in nodes */
	json_object	*node_list;	/* the stored graph's nodes */
	json_object	*edge_list;
	int		*esrc, *etgt;	/* edges between known nodes */
	size_t		 ne, ecap;
	size_t		 unsaid[2];	/* problems, warnings past the cap */
};

/* "s" quoted and escaped for a message, from L's pool. */
const char *dsl_qs(struct dsl_load *L, const char *s);
/* Add a message to "list", prefixed with the node it is about. */
void	 dsl_say(struct dsl_load *L, json_object *list,
	    const struct dsl_node *nd, const char *fmt, ...)
	    __attribute__((format(printf, 4, 5)));

#define PROBLEM(L, nd, ...) \
	dsl_say((L), (L)->a->problems, (nd), __VA_ARGS__)
#define WARN(L, nd, ...) \
	dsl_say((L), (L)->a->warnings, (nd), __VA_ARGS__)

/* The node with that id, or NULL (also for a NULL id). */
struct dsl_node *dsl_find_node(struct dsl_load *L, const char *id);
int	 dsl_type_is(const struct dsl_node *nd, const char *type);
/* Record an edge between two known nodes, for the cycle check. */
void	 dsl_add_edge(struct dsl_load *L, struct dsl_node *src,
	    struct dsl_node *tgt);

/*
 * dsl_normalise.c: the editor's migrations of the graph in "L", whose
 * nodes and edges are loaded (workflow-init.ts).
 */
void	 dsl_normalise(struct dsl_load *L);

/*
 * dsl_check.c: the checks of the normalised graph as a whole
 * (references, cycles, the nodes the mode needs), each problem naming
 * its node.
 */
void	 dsl_check_graph(struct dsl_load *L);

#endif
