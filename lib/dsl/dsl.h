/*
 * dsl.h: Dify DSL files, the YAML of an app export.  Reading one into
 * JSON with the typing of PyYAML's safe_load, checking it (every problem,
 * each naming its node), applying the migrations Dify's editor applies to
 * old graphs, storing the result as an app, and writing an app back out.
 * Mirrors api/services/app_dsl_service.py and the editor's
 * web/app/components/workflow/utils/workflow-init.ts.  The door of
 * lib/dsl/, above the store and the workflow engine it checks against.
 */
#ifndef DSL_H
#define DSL_H

#include "store/store.h"

#define DSL_VERSION	"0.6.0"		/* what export writes */
#define DSL_MAX_BYTES	(10 * 1024 * 1024)
#define DSL_MAX_DEPTH	32		/* nested mappings and sequences */
#define DSL_MAX_VALUES	1000000		/* YAML values, aliases expanded */
#define DSL_MAX_ALIASED	100000		/* of them copied by aliases */
#define DSL_MAX_TEXT	(4 * DSL_MAX_BYTES)	/* their text, likewise */

/*
 * An app as a DSL file holds it.  After dsl_load the strings point into
 * "doc"; after dsl_fetch into the caller's pool.  Every json_object is
 * owned by the struct and released by dsl_app_free.
 */
struct dsl_app {
	json_object	*doc;		/* the file as JSON, or NULL */
	const char	*version;	/* of the file; "0.1.0" when absent */
	const char	*name;
	const char	*description;
	const char	*mode;
	const char	*icon_type;
	const char	*icon;
	const char	*icon_background;
	int		 use_icon_as_answer_icon;
	/*
	 * apps.config.  Chat, agent-chat and completion: model_config as
	 * written.  Workflow and advanced-chat: the keys of
	 * workflow.features, "user_input_form" from the start node's
	 * variables ([{<type>: <variable>}, ...]) and "model", the model of
	 * the first llm node when there is one.
	 */
	json_object	*config;
	/* workflow modes only, else NULL: the workflows row */
	json_object	*graph;		/* {"nodes": [...], "edges": [...]} */
	json_object	*features;
	json_object	*env;		/* environment_variables */
	json_object	*conv;		/* conversation_variables */
	json_object	*problems;	/* array of strings, never NULL */
	json_object	*warnings;	/* array of strings, never NULL */
	size_t		 nproblems;	/* found; the list stops at 200 */
};

/*
 * Convert YAML text to JSON as PyYAML's safe_load types it (YAML 1.1
 * plain scalars: yes/no/on/off are booleans, 0x1F and 017 integers, ~
 * null; quoted scalars are strings; merge keys; aliases copied, at most
 * DSL_MAX_VALUES values (DSL_MAX_ALIASED of them by aliases) and
 * DSL_MAX_TEXT bytes of text in all).  Dates
 * stay strings.  Returns the owned value, or NULL with a message ("line
 * L, column C: ...") in "err"; NULL with "err" empty is a null (empty)
 * document.
 */
json_object *dsl_yaml_to_json(const char *text, size_t len, char *err,
	    size_t errlen);

/*
 * Read, check and normalise a DSL file into "a" (cleared first).  "name",
 * when not NULL, replaces app.name.  Pure: no database.  Returns 0 when
 * the file can be imported, or -1 with a->problems listing everything
 * wrong; warnings either way.  Call dsl_app_free in both cases.
 */
int	 dsl_load(const char *text, size_t len, const char *name,
	    struct dsl_app *a);
void	 dsl_app_free(struct dsl_app *);

/* A Dify node type we know (import accepts it), and one the engine runs. */
int	 dsl_node_type_known(const char *type);
int	 dsl_node_type_runnable(const char *type);
/* The i-th known node type (from 0), or NULL past the last. */
const char *dsl_node_type_at(size_t i);

/*
 * Store a loaded app: the apps row (with a site carrying
 * use_icon_as_answer_icon, as Dify gives every app one) and, for workflow
 * modes, its workflows row.  The caller holds the transaction.  0 or -1.
 */
int	 dsl_store(struct db *, const struct dsl_app *, char id[UUID_LEN + 1]);

/*
 * Fill "a" from an app and its latest workflow, strings from "p".
 * Returns DB_OK, DB_NOT_FOUND (no app, or a workflow app without a
 * workflow) or -1.
 */
int	 dsl_fetch(struct db *, struct pool *, const char *app_id,
	    struct dsl_app *a);

/*
 * Write "a" as DSL YAML (version DSL_VERSION, keys sorted, strings quoted
 * wherever PyYAML would read them as something else) to "out".  Secret
 * environment variables are written with value '' and tool nodes without
 * their credential_id unless "include_secret"; agent-chat tools never
 * carry theirs.  0 or -1.
 */
int	 dsl_export(const struct dsl_app *a, int include_secret,
	    struct buf *out);

#endif
