/*
 * workflow.h: the door of lib/workflow/, the workflow engine (spec workflow.md sections 3-10).  A Dify
 * graph as stored in the workflows table is run node by node over a
 * variable pool; events go to a sink (the SSE writer when streaming, a
 * collector when blocking); runs and node executions are stored.  Module
 * prefixes: wf_value (renderings of values as Python prints them),
 * wf_pool (the variable pool and {{#selector#}} templates), wf_cond
 * (if-else conditions), wf_run (the engine), wf_node (node executors),
 * wf_api (the workflow endpoints) (storage is db_wf in lib/store/, templates lib/template/).
 */
#ifndef WORKFLOW_H
#define WORKFLOW_H

#include "model/model.h"
#include "files/files.h"
#include "tool/tool.h"
#include "task/task.h"
#include "template/template.h"

/* ---- wf_value.c: values as Dify (Python) prints them ---- */

enum wf_render {
	WF_TEXT,		/* prompts, conditions, http: segment.text */
	WF_MARKDOWN		/* answer and end streams: segment.markdown */
};

/* A variable's rendering in text or markdown (spec 3.6). */
void	 wf_render(struct buf *, json_object *, enum wf_render);
/* Whether a value is a Dify file object. */
int	 wf_is_file(json_object *);

/* ---- wf_pool.c: the variable pool and {{#...#}} templates ---- */

#define WF_SELECTOR_MAX	12

/* Values by (owner, name): owner a node id, "sys", "env", "conversation". */
struct wf_pool {
	json_object	*root;		/* {owner: {name: value}}, owned */
};

void	 wf_pool_init(struct wf_pool *);
void	 wf_pool_free(struct wf_pool *);
/* Set [owner, name] to "v" (taken; NULL is a null value). */
void	 wf_pool_set(struct wf_pool *, const char *owner, const char *name,
	    json_object *v);
/* Every key of object "outputs" under "owner" (values shared). */
void	 wf_pool_add(struct wf_pool *, const char *owner, json_object *outputs);
/* Forget every value of "owner" (a node that runs again). */
void	 wf_pool_forget(struct wf_pool *, const char *owner);
/*
 * Look up a selector of "n" parts: [owner, name, key...], keys walking
 * into objects, a third part on a file reading its attribute.  Returns 1
 * with *v borrowed (NULL for a null value), or 0 when not found.
 */
int	 wf_pool_get(struct wf_pool *, const char *const *parts, int n,
	    json_object **v);
/* The same with a JSON array of strings; 0 for a malformed selector. */
int	 wf_pool_get_sel(struct wf_pool *, json_object *selector,
	    json_object **v);
/* A selector's parts from a JSON array; -1 when malformed. */
int	 wf_selector_parts(json_object *selector,
	    const char *parts[WF_SELECTOR_MAX]);

/* One piece of a {{#...#}} template: literal text or a variable. */
struct wf_seg {
	const char	*text;		/* literal, or the inner "a.b.c" */
	size_t		 len;
	int		 is_var;
	const char	*parts[WF_SELECTOR_MAX];
	int		 nparts;
};

/* Split a template into segments (strings from "p"); returns the count. */
int	 wf_tmpl_parse(struct pool *, const char *tpl, struct wf_seg **out);
/*
 * Render a template.  A variable that is not found renders as its inner
 * text, or, with "missing" set, stops the rendering: *missing is then
 * "#a.b#" and NULL is returned.  Result from "p".
 */
char	*wf_tmpl_render(struct pool *, struct wf_pool *, const char *tpl,
	    enum wf_render, const char **missing);

/* ---- wf_cond.c: conditions of if-else (and loop breaks) ---- */

/*
 * Evaluate one case: "conditions" combined by "op" ("and"/"or"), with
 * short-circuit.  Appends the evaluated conditions to "inputs" (array of
 * {actual_value, expected_value, comparison_operator}) and each result
 * to "results".  Returns 1 or 0, or -1 with a message in err[errlen].
 */
int	 wf_cond_case(struct wf_pool *, struct pool *, json_object *conditions,
	    const char *op, json_object *inputs, json_object *results,
	    char *err, size_t errlen);
/* One comparison: 1, 0, or -1 with err set (exposed for tests). */
int	 wf_cond_compare(const char *op, json_object *actual,
	    json_object *expected, char *err, size_t errlen);

/* ---- running a graph (wf_run.c; wf_graph.c: checks, the form; wf_event.c) ---- */

/*
 * Where events go.  "event" takes "data"; "chunk" is answer text of a
 * response node (text_chunk or message events).  Each returns 0, or -1
 * when the client is gone.
 */
struct wf_sink {
	void	*arg;
	int	(*event)(void *arg, const char *name, json_object *data);
	int	(*chunk)(void *arg, const char *text, size_t len,
		    json_object *selector);
	int	(*ping)(void *arg);
};

struct wf_engine;

struct wf_run {
	/* set by the caller (strings borrowed for the run's length) */
	struct db	*db;		/* NULL: nothing stored (unit tests) */
	struct pool	*p;
	const char	*app_id;
	const char	*workflow_id;
	const char	*version;	/* the workflow's version label */
	const char	*task_id;
	const char	*end_user_id;	/* end_users.id */
	const char	*user;		/* the session string: sys.user_id */
	int		 chat;		/* chatflow: sys.query, memory, ... */
	const char	*conversation_id;
	const char	*message_id;
	const char	*query;
	int		 dialogue_count;
	json_object	*graph;
	json_object	*inputs;	/* validated start inputs */
	json_object	*files;		/* sys.files, or NULL */
	json_object	*env_decls;	/* environment_variables */
	json_object	*conv_decls;	/* conversation_variables */
	json_object	*conv;		/* {name: value} of the conversation */
	json_object	*conv_ids;	/* {name: variable row id} */
	struct wf_sink	 sink;
	int		 streaming;	/* send pings */
	double		 started;	/* now_mono() at the request */
	int		(*chat_fn)(const struct llm_request *,
			    struct llm_result *);	/* NULL: upstream */
	/* results */
	char		 run_id[UUID_LEN + 1];
	int64_t		 created_at;
	int64_t		 finished_at;
	const char	*status;	/* succeeded, failed, stopped, ... */
	const char	*error;		/* from "p", or NULL */
	json_object	*outputs;	/* owned; wf_run_free */
	json_object	*started_inputs; /* workflow_started inputs, owned */
	double		 elapsed;
	int		 total_tokens;
	int		 total_steps;
	int		 exceptions_count;
	int		 prompt_tokens;
	int		 completion_tokens;
	const char	*provider;	/* of the first LLM that ran */
	double		 first_token_s;	/* -1 unless measured */
	struct buf	 answer;	/* all answer text given to the sink */
	int		 client_gone;
	int		 stopped;	/* by a stop request */
	struct wf_engine *e;
};

/*
 * Check a graph's structure: a start node, known node types, edges
 * between existing nodes.  Returns 0, or -1 with a message in err.
 */
int	 wf_graph_check(json_object *graph, char *err, size_t errlen);
/* The user_input_form of a graph's start node (a new array). */
json_object *wf_start_form(json_object *graph);
/*
 * Run the graph of "r": emits workflow_started and every node event, but
 * not workflow_finished, which the caller sends (its order around
 * message_end differs by mode) with wf_finished_data().  Stores the run
 * and its node executions when r->db is set.  Returns 0 when the run
 * ended (whatever its status), -1 when it could not start (r->error).
 */
int	 wf_run_graph(struct wf_run *);
json_object *wf_finished_data(struct wf_run *);
void	 wf_run_free(struct wf_run *);
/* The usage object of all LLM calls of a run (message_end). */
json_object *wf_run_usage(struct wf_run *, double latency);

/*
 * ---- engine internals, shared by the engine (wf_run.c, wf_graph.c, wf_stream.c, ...) and the node executors ----
 */

enum wf_kind {
	WF_K_ROOT,		/* start */
	WF_K_EXEC,
	WF_K_BRANCH,		/* if-else, question-classifier */
	WF_K_RESPONSE,		/* answer, end */
	WF_K_CONTAINER		/* iteration, loop */
};

/* What one attempt of a node produced; the objects are owned. */
struct wf_exec {
	json_object	*inputs;
	json_object	*process_data;
	json_object	*outputs;
	json_object	*metadata;	/* execution_metadata */
	const char	*handle;	/* branch nodes: the handle taken */
	char		 error[1024];
	const char	*error_type;
	int		 tokens;	/* LLM tokens used */
};

/* Executor results. */
#define WF_OK		0
#define WF_FAIL		(-1)
#define WF_ABORT	1	/* stopped, timed out or client gone */

struct wf_engine;
struct wf_node;

struct wf_type {
	const char	*name;
	enum wf_kind	 kind;
	int		(*run)(struct wf_engine *, struct wf_node *,
			    struct wf_exec *);	/* NULL: not supported */
	int		 retry;		/* honours retry_config */
	int		 silent;	/* no node events (iteration-start) */
};

/* The executors' table (wf_node.c); NULL for an unknown type. */
const struct wf_type *wf_type_find(const char *name);

struct wf_stream {			/* the [node, "text"] stream */
	struct buf	 data;		/* chunks back to back */
	size_t		*ends;		/* end offset of each chunk */
	int		 n, cap;
	int		 open, closed;
};

struct wf_node {
	const char		*id;
	const char		*type;
	const char		*title;
	json_object		*data;		/* borrowed from the graph */
	const struct wf_type	*t;
	int			 state;
	int			 ok;		/* outputs are in the pool */
	int			*in, nin;	/* edge indexes */
	int			*out, nout;
	int			 fail_branch;
	struct wf_stream	 stream;
	json_object		*writes;	/* assigner: its targets */
	char			 exec_id[UUID_LEN + 1];
	int			 index;
	int64_t			 created_at;
	double			 t0;
};

struct wf_engine {
	struct wf_run	*r;
	struct wf_engine *parent;	/* the engine of an enclosing graph */
	struct wf_node	*container;	/* the iteration or loop run here */
	int		 round;		/* of the container */
	int		 loop_end;	/* a loop-end node ran this round */
	const char	*fail_error;	/* of the node that failed the graph */
	struct wf_pool	*pool;		/* shared with enclosed graphs */
	struct wf_pool	 own_pool;
	struct wf_node	*nodes;
	int		 nnodes;
	struct wf_edge	*edges;
	int		 nedges;
	int		*queue, qhead, qtail;
	struct wf_tpl	*tpls;
	int		 ntpls, next_order;
	int		 index;
	double		 last_poll, last_beat, next_ping;
	int		 aborted;
	const char	*abort_status;
	const char	*abort_error;
	json_object	*outputs;	/* merged response outputs */
	json_object	*start_out;	/* the start node's outputs */
	/* secret env values as they may show, and their masks (top only) */
	struct wf_secret *secrets;	/* from the run's pool */
	int		 nsecrets;
};

/*
 * Called often by long executors (at least every 100 ms): polls the stop
 * flag, the time limit and sends pings.  0, or -1 when the run must end.
 */
int	 wf_engine_tick(struct wf_engine *);
/* A streamed chunk of node "n"'s text, handed to response templates. */
int	 wf_stream_chunk(struct wf_engine *, struct wf_node *, const char *,
	    size_t);
/* The end of "n"'s stream (an empty final chunk). */
void	 wf_stream_close(struct wf_engine *, struct wf_node *);
/* Containers (wf_container.c): run the enclosed graph per item / round. */
int	 wf_run_iteration(struct wf_engine *, struct wf_node *,
	    struct wf_exec *);
int	 wf_run_loop(struct wf_engine *, struct wf_node *, struct wf_exec *);
int	 wf_code_run(struct wf_engine *, struct wf_node *, struct wf_exec *);

/* More executors: wf_http_*.c, wf_nodes_llm.c, wf_nodes_list.c. */
int	 wf_run_http(struct wf_engine *, struct wf_node *, struct wf_exec *);
/*
 * The forms a string takes in an http-request node's log besides its own:
 * as a query or form value (quote_plus) and inside a URL.  From "p".
 */
void	 wf_http_encodings(struct pool *, const char *, const char *out[2]);
int	 wf_run_classifier(struct wf_engine *, struct wf_node *,
	    struct wf_exec *);
int	 wf_run_extractor(struct wf_engine *, struct wf_node *,
	    struct wf_exec *);
int	 wf_run_agent(struct wf_engine *, struct wf_node *, struct wf_exec *);
int	 wf_run_list_operator(struct wf_engine *, struct wf_node *,
	    struct wf_exec *);
int	 wf_run_doc_extractor(struct wf_engine *, struct wf_node *,
	    struct wf_exec *);
int	 wf_run_knowledge(struct wf_engine *, struct wf_node *,
	    struct wf_exec *);
int	 wf_run_tool(struct wf_engine *, struct wf_node *, struct wf_exec *);
/*
 * wf_file.c: the bytes of Dify file object "f", appended to "out", at
 * most "max": an upload or tool file of the run's app and end user
 * (related_id) from storage, else its URL through files_fetch_url.  0,
 * or -1 with "err".
 */
int	 wf_file_bytes(struct wf_run *, json_object *f, size_t max,
	    struct buf *out, char *err, size_t errlen);

/* ---- wf_api.c: the workflow endpoints (workflow.fcgi) ---- */

/* Upstream messages of an LLM-driven node, and their process_data log. */
struct wf_msgs {
	struct llm_msg	*m;
	int		 n, cap;
	json_object	*prompts;	/* process_data.prompts */
};

/* Append a message (its text borrowed) and log it; returns it. */
struct llm_msg *wf_msgs_push(struct pool *, struct wf_msgs *, const char *role,
	    const char *text);
int	 wf_llm_memory(struct wf_engine *, json_object *memory, struct wf_msgs *,
	    struct buf *hist);
/* Dify's error type of a failed model call (InvokeError, ...). */
const char *wf_llm_error_type(enum err);
/* Fail the node being run with Dify's error type; returns WF_FAIL. */
int	 wf_fail(struct wf_exec *, const char *type, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

int	 wf_api_run(struct req *, struct resp *);
int	 wf_api_run_detail(struct req *, struct resp *);
int	 wf_api_stop(struct req *, struct resp *);
int	 wf_api_logs(struct req *, struct resp *);
/*
 * The request's "files" as Dify file objects (sys.files), checked as for
 * chat requests (files_use_request), or NULL with a 400 in "rs".  Empty
 * when the app's file upload feature is off.  "message_files", when not
 * NULL, gets what a chat message stores (owned by the caller, or NULL).
 */
json_object *wf_request_files(struct req *, struct resp *,
	    json_object **message_files);

#endif
