/*
 * workflow_int.h: the private header of lib/workflow/, included by the
 * folder's own files only.  It joins the pieces of the engine: the graph
 * an engine is built from (wf_graph.c), the secrets that events and
 * stored rows mask (wf_secret.c), the event payloads (wf_event.c), the
 * response streams (wf_stream.c), the walk (wf_run.c) and the containers
 * that run a walk per item or round (wf_container.c); and the pieces of
 * the http-request node (wf_http_request.c, wf_http_send.c,
 * wf_http_response.c).  What the executors see of the engine stays in
 * the door, workflow.h.
 */
#ifndef WORKFLOW_INT_H
#define WORKFLOW_INT_H

#include "workflow/workflow.h"

/* States of a node (wf_node.state) and of an edge (wf_edge.state). */
enum { NS_WAIT, NS_QUEUED, NS_RUNNING, NS_DONE, NS_SKIPPED };
enum { ES_UNKNOWN, ES_TAKEN, ES_SKIPPED };

struct wf_edge {
	int		 src, dst;	/* node indexes */
	const char	*handle;
	int		 state;
};

/* ---- wf_graph.c: building an engine from the graph ---- */

/* The index of node "id" in the engine's graph, or -1. */
int	 wf_graph_find(struct wf_engine *, const char *id);
/* Whether graph node "n" belongs to the graph inside container "parent". */
int	 wf_graph_inside(json_object *n, const char *parent);
/*
 * Fill "e" (zeroed, with r and pool set) with the graph to run: the top
 * level (parent NULL, rooted at the start node, checked first), or the
 * graph inside container "parent", rooted at "root_id".  Returns 0, or
 * -1 with a message in err; wf_engine_free() releases it either way.
 */
int	 wf_graph_build(struct wf_engine *, const char *parent,
	    const char *root_id, char *err, size_t errlen);
/* The engine of the top-level graph, which holds the run's state. */
struct wf_engine *wf_engine_top(struct wf_engine *);
/* Release what wf_graph_build() and the run gave "e" (not "e" itself). */
void	 wf_engine_free(struct wf_engine *);

/* ---- wf_secret.c: secret env values masked where they show ---- */

/* Learn the secrets of the run's environment_variables (top engine). */
void	 wf_secret_load(struct wf_engine *);
/* "o" with every secret masked: a new reference ("o" itself if clean). */
json_object *wf_secret_mask(struct wf_engine *, json_object *o, int depth);
/* A node's error message (a buffer of "size") masked in place. */
void	 wf_secret_mask_error(struct wf_engine *, char *err, size_t size);

/* ---- wf_event.c: the event payloads sent to the sink ---- */

/*
 * Send event "name" with "data" (taken) to the run's sink.  Returns 0,
 * or -1 when the client is gone (then or before).
 */
int	 wf_event_emit(struct wf_engine *, const char *name, json_object *data);
/* Append the file objects among "v" (flattened) to array "out". */
void	 wf_event_files(json_object *out, json_object *v, int depth);
void	 wf_event_workflow_started(struct wf_engine *);
void	 wf_event_node_started(struct wf_engine *, struct wf_node *);
/* The data of node_finished (and node_retry) for attempt "x" (new). */
json_object *wf_event_node_finished(struct wf_engine *, struct wf_node *,
	    struct wf_exec *x, const char *status, const char *error,
	    double elapsed, int64_t finished);
/* The fields every iteration and loop event starts with (new). */
json_object *wf_event_container(struct wf_node *);
/* Send a container's *_completed event "name", "map" its round times. */
void	 wf_event_completed(struct wf_engine *, struct wf_node *,
	    const char *name, struct wf_exec *x, const char *error,
	    int tokens, json_object *map, const char *map_name, int steps);

/* ---- wf_stream.c: response templates fed by node streams ---- */

/* Build the templates of the graph's response nodes (wf_graph_build). */
void	 wf_stream_templates(struct wf_engine *);
/* Activate the templates whose node has become certain to run. */
void	 wf_stream_activate(struct wf_engine *);
/* Emit what the active templates can emit now, in order. */
void	 wf_stream_pump(struct wf_engine *);

/* ---- wf_run.c: the walk ---- */

/*
 * One round of the graph inside container "c", on the shared pool.
 * Returns 0, or -1 with the failing node's error in "err"; a stop or
 * time-out shows in wf_engine_top(e)->aborted.
 */
int	 wf_run_round(struct wf_engine *, struct wf_node *c, int round,
	    int *loop_end, char *err, size_t errlen);

/* ---- the http-request node: wf_http_request.c, _send.c, _response.c ---- */

#define HTTP_HEADERS_MAX	256

struct http_hdr {
	const char	*name;
	const char	*value;
};

/* A request as built from the node's data, strings from the run's pool. */
struct http_request {
	const char	*method;	/* upper case */
	const char	*url;		/* rendered, params added */
	const char	*body_type;
	struct http_hdr	 hdrs[HTTP_HEADERS_MAX];
	int		 nhdrs;
	struct buf	 body;		/* wf_http_request_free */
	int		 has_body;
	const char	*auth_header;	/* its value is masked in the log */
	long		 connect_s, read_s, write_s;
	int		 ssl_verify;
};

struct http_response {
	long		 status;
	json_object	*headers;	/* {lower-case name: value}, owned */
	struct buf	 body;
	const char	*url;		/* of the last hop */
};

/* Results of wf_http_send(). */
enum { HOP_OK, HOP_FAIL, HOP_ABORT };

/* wf_http_request.c */
/* The server limit "name" from the configuration, in 1..max, else dflt. */
long long wf_http_limit(const char *name, long long dflt, long long max);
/*
 * Build the request of an http-request node from its data "data" and the
 * pool into "hr" (initialised here; wf_http_request_free() in every
 * case).  WF_OK, or WF_FAIL with x->error set.
 */
int	 wf_http_build(struct wf_engine *, json_object *data,
	    struct http_request *hr, struct wf_exec *x);
void	 wf_http_request_free(struct http_request *);
/* The index of header "name" (any case) in the request, or -1. */
int	 wf_http_find_hdr(const struct http_request *, const char *name);

/* wf_http_send.c */
/*
 * Send "hr", following redirects, into "rs" (zeroed, its body buffer
 * initialised with the size cap; the caller puts rs->headers and frees
 * the body).  HOP_OK, HOP_FAIL with x->error set, or HOP_ABORT when the
 * run is stopped or out of time.
 */
int	 wf_http_send(struct wf_engine *, const struct http_request *hr,
	    struct http_response *rs, struct wf_exec *x);

/* wf_http_response.c */
/* Append "n" bytes of ISO-8859-1 as UTF-8 to "b". */
void	 wf_http_latin1(struct buf *b, const char *s, size_t n);

#endif
