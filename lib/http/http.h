/*
 * http.h: the door of lib/http/, one HTTP exchange from the web server to
 * a handler and back: FastCGI and CGI serving with its thread pool
 * (serve_), the request and the reply (req_, resp_), every Dify error in
 * one table (errors.c), routing (route_), field tables (input_),
 * server-sent events (sse_), multipart bodies (multipart_) and the
 * authentication of keys and end users (auth_).  Stands on the store
 * (a request carries its app, end user and connection).
 */
#ifndef HTTP_H
#define HTTP_H

#include "store/store.h"

/* ---- errors.c: every Dify error the API gives, in one table ---- */

enum err {
	ERR_BAD_JSON,
	ERR_UNSUPPORTED_MEDIA,
	ERR_INVALID_PARAM,
	ERR_BAD_REQUEST,
	ERR_USER_REQUIRED,
	ERR_APP_UNAVAILABLE,
	ERR_NOT_CHAT_APP,
	ERR_NOT_WORKFLOW_APP,
	ERR_CONVERSATION_COMPLETED,
	ERR_PROVIDER_NOT_INITIALIZE,
	ERR_PROVIDER_QUOTA_EXCEEDED,
	ERR_MODEL_NOT_SUPPORT,
	ERR_COMPLETION_REQUEST,
	ERR_AUTH_MISSING,
	ERR_AUTH_SCHEME,
	ERR_AUTH_INVALID,
	ERR_APP_GONE,
	ERR_APP_ABNORMAL,
	ERR_API_DISABLED,
	ERR_FORBIDDEN,
	ERR_NOT_FOUND,
	ERR_CONVERSATION_NOT_FOUND,
	ERR_LAST_CONVERSATION_NOT_FOUND,
	ERR_FIRST_MESSAGE_NOT_FOUND,
	ERR_MESSAGE_NOT_FOUND,
	ERR_VARIABLE_NOT_FOUND,
	ERR_END_USER_NOT_FOUND,
	ERR_DATASET_NOT_FOUND,
	ERR_DATASET_NAME_DUPLICATE,
	ERR_METHOD_NOT_ALLOWED,
	ERR_TOO_LARGE,
	ERR_NO_FILE_UPLOADED,
	ERR_TOO_MANY_FILES,
	ERR_UNSUPPORTED_FILE_TYPE,
	ERR_FILENAME_MISSING,
	ERR_FILE_TOO_LARGE,
	ERR_FILE_ACCESS_DENIED,
	ERR_FILE_NOT_FOUND,
	ERR_NO_AUDIO_UPLOADED,
	ERR_AUDIO_TOO_LARGE,
	ERR_UNSUPPORTED_AUDIO_TYPE,
	ERR_STT_DISABLED,
	ERR_PROVIDER_NO_STT,
	ERR_TOO_MANY_REQUESTS,
	ERR_RATE_LIMIT,
	ERR_INTERNAL,
	ERR_INTERNAL_STREAM,
	ERR_SERVICE_UNAVAILABLE,
	ERR__MAX
};

struct err_info {
	int		 status;
	const char	*code;
	const char	*message;
};

extern const struct err_info err_table[ERR__MAX];

/* ---- req.c / resp.c: one HTTP exchange ---- */

struct io {
	void	*ctx;
	int	 (*read)(void *, char *, int);
	int	 (*write)(void *, const char *, int);
	int	 (*flush)(void *);
	void	 (*finish)(void *);	/* end the reply early, or NULL */
	char	**envp;
};

#define ROUTE_MAX_PARAMS	4
#define QUERY_MAX_PAIRS		32


struct req {
	struct io	 io;
	struct pool	 pool;
	struct db	*db;		/* the worker's connection */
	const char	*prog;
	char		 reqid[9];
	const char	*method;
	const char	*path;		/* derived: always starts with /v1 or / */
	const char	*query;
	const char	*content_type;
	long long	 content_length;
	struct kv	 params[ROUTE_MAX_PARAMS];
	int		 nparams;
	struct kv	 qs[QUERY_MAX_PAIRS];
	int		 nqs;
	int		 qs_parsed;
	uint32_t	 qs_nul;	/* bit i: qs[i] held an encoded NUL */
	json_object	*body;		/* parsed JSON body, owned */
	struct buf	 raw;		/* raw body */
	int		 body_read;
	int		 have_app;
	struct app	 app;
	const char	*dataset_key_id;	/* ROUTE_DATASET: the key's id */
	struct end_user	 user;
	double		 started;
	int		 client_gone;
	/* work the client need not wait for, run after the reply ends */
	void		 (*after)(struct req *);
	void		*after_arg;
};

struct resp {
	int		 status;
	json_object	*body;		/* owned; written by resp_finish */
	const char	*content_type;
	struct buf	 headers;	/* extra "Name: value\r\n" lines */
	const void	*raw;		/* raw body instead of JSON */
	size_t		 raw_len;
	char		*owned_raw;	/* freed by resp_free */
	int		 committed;	/* headers already on the wire */
};

const char *req_env(struct req *, const char *);
const char *req_param(struct req *, const char *);
const char *req_query(struct req *, const char *);	/* "" counts as absent */
/*
 * As req_query, for values that are stored: -1 when the value held an
 * encoded NUL (%00), which no C string carries whole, else 0 with *out
 * set (NULL when absent or empty).
 */
int	 req_query_exact(struct req *, const char *, const char **out);
/*
 * Read the body, at most cfg->max_body (or "max" if larger than 0) bytes.
 * Returns 0, or -1 with the error in "rs".
 */
int	 req_read_body(struct req *, struct resp *, size_t max);
/*
 * Read and parse a JSON object body.  Errors: 415 for a non-JSON content
 * type, 400 bad_request for empty or malformed JSON, 413 when too large.
 */
int	 req_json(struct req *, struct resp *);
/* Derive the API path from SCRIPT_NAME, PATH_INFO and REQUEST_URI. */
const char *req_derive_path(struct pool *, const char *script_name,
	    const char *path_info, const char *request_uri);

void	 resp_init(struct resp *);
void	 resp_free(struct resp *);
/* Set a JSON reply; takes "body".  Returns 0. */
int	 resp_json(struct resp *, int status, json_object *body);
/* Set a Dify error body from the table.  Returns -1, for tail calls. */
int	 resp_error(struct resp *, enum err);
/* As resp_error with another message. */
int	 resp_error_msg(struct resp *, enum err, const char *msg);
int	 resp_header(struct resp *, const char *name, const char *value);
int	 resp_empty(struct resp *, int status);
/* Write status, headers and body unless already committed. */
void	 resp_finish(struct req *, struct resp *);
/* Write the status line and common headers now; "length" < 0: none. */
int	 resp_write_head(struct req *, struct resp *, const char *ctype,
	    long long length);
json_object *err_json(enum err, const char *msg);

/* Reply with JSON text; takes the buffer's memory (and adds a newline). */
int	 resp_json_text(struct resp *, int status, struct buf *);

/* ---- sse.c: server-sent events, one write and flush per event ---- */

/* Commit 200 text/event-stream headers.  Returns 0 or -1 (client gone). */
int	 sse_begin(struct req *, struct resp *);
/* Write "data: <json>\n\n" and flush; does not take "ev".  0 or -1. */
int	 sse_event(struct req *, json_object *ev);
int	 sse_ping(struct req *);
/* As sse_event, and takes "ev". */
int	 sse_send(struct req *, json_object *ev);

/* ---- route.c ---- */

struct route {
	const char	*method;
	const char	*path;		/* "/v1/conversations/{id:uuid}" */
	int		 (*handler)(struct req *, struct resp *);
	int		 flags;
};
#define ROUTE_NOAUTH	0x01
/* authenticated by a dataset key (the Knowledge API), not an app key */
#define ROUTE_DATASET	0x02

enum {
	ROUTE_OK,
	ROUTE_NO_PATH,
	ROUTE_NO_METHOD
};

/*
 * Find the route for method and path; on ROUTE_OK fill rq->params (values
 * from rq->pool) and *out.  Returns ROUTE_OK, ROUTE_NO_PATH or
 * ROUTE_NO_METHOD.
 */
int	 route_match(const struct route *, struct req *, const char *method,
	    const char *path, const struct route **out);
/* Match one template; 1 on match with params filled, else 0. */
int	 route_template(const char *tpl, const char *path, struct pool *,
	    struct kv *params, int *nparams);

/* ---- input.c: field tables over the JSON body ---- */

enum ftype { F_STRING, F_BOOL, F_INT, F_NUMBER, F_OBJECT, F_ARRAY, F_ANY,
	F_SCALAR };
#define F_REQUIRED	0x01
#define F_NULLABLE	0x02
/* null is a type error: a pydantic field with a default but no None */
#define F_NOTNULL	0x04
/* a value Python finds false ([] {} 0 false "") counts as absent: Dify
 * validators that begin "if not value: return None" */
#define F_FALSY		0x08

struct field {
	const char	*name;
	enum ftype	 type;
	int		 flags;
	size_t		 max;		/* strings: bytes; 0 = no limit */
};

/* Check rq->body against "fields".  0, or -1 with a 400 in "rs". */
int	 input_check(struct req *, struct resp *, const struct field *);
/* A string field of the body, NULL when absent or null. */
const char *input_str(struct req *, const char *);
/* A boolean field: "dflt" when absent or null. */
int	 input_bool(struct req *, const char *, int dflt);
/* Whether Python's bool() of the value is False: NULL (null), false, 0,
 * 0.0, "", [] and {}.  Dify tests many fields with "if not value". */
int	 input_falsy(json_object *);
/* Read a positive limit from the query string, or "dflt"; -1 on a 400. */
int	 input_query_int(struct req *, struct resp *, const char *name,
	    long long dflt, long long min, long long max, long long *out);

/* ---- auth.c ---- */

/* Generate "app-" + 24 alphanumerics into out[29]. */
void	 auth_key_new(char out[29]);
/* Generate "dataset-" + 24 alphanumerics into out[33]. */
void	 auth_dataset_key_new(char out[33]);
/*
 * Resolve the Authorization header to a dataset key (rq->dataset_key_id).
 * 0, or -1 with Dify's 401 in "rs".
 */
int	 auth_dataset_request(struct req *, struct resp *);
/*
 * Resolve the Authorization header to rq->app.  0, or -1 with Dify's
 * 401/403 body in "rs".
 */
int	 auth_request(struct req *, struct resp *);
/*
 * Resolve the "user" of this request to rq->user: from the JSON body
 * (where == 'j') or the query string ('q').  Required and absent gives
 * 400 "Arg user must be provided.".  0 or -1.
 */
int	 auth_end_user(struct req *, struct resp *, char where, int required);
/*
 * Whether "len" bytes at "user" can be an end user's id as given: no NUL
 * (which would cut it short, "alice\0x" becoming alice), UTF-8, at most
 * USER_MAX_BYTES.  0, or -1 with a 400 invalid_param in "rs".
 */
int	 auth_user_check(struct resp *, const char *user, size_t len);

/* ---- serve.c ---- */

/*
 * Run a program: FastCGI thread pool, or one CGI request.  Answers
 * --help and --version.  Returns the exit status.
 */
int	 serve_main(int argc, char *argv[], const char *prog,
	    const struct route *routes);
/* Handle one request over "io" (exposed for tests). */
void	 serve_one(struct io *, struct db *, const char *prog,
	    const struct route *);

/*
 * Fair share of a process's worker threads among apps.  A generation
 * (chat, completion, chatflow or workflow run) holds its worker thread
 * for app "app_id" until the request ends, if the app holds fewer than
 * its share (DIFYCGI_APP_SHARE_PERCENT of the threads, at least one) and
 * generations leave DIFYCGI_RESERVED_THREADS threads free for short
 * requests.  Returns SERVE_HOLD_OK, SERVE_HOLD_APP (the app holds its
 * share) or SERVE_HOLD_FULL (no thread left for generations), with
 * *limit the number of generations the app may have here now.  Requests
 * outside the thread pool (plain CGI, tests) always get SERVE_HOLD_OK.
 */
enum { SERVE_HOLD_OK, SERVE_HOLD_APP, SERVE_HOLD_FULL };
int	 serve_hold(const char *app_id, int *limit);
/*
 * Run fn(db, arg) once the client no longer waits, off the request's
 * thread: on this process's background thread under FastCGI (its own
 * database connection), after the reply under plain CGI (the request's).
 * "arg" is one block from xmalloc that serve_defer owns from the call
 * on: freed once fn has run, or when the job is dropped (the queue of
 * DIFYCGI_BACKGROUND_QUEUE jobs is full, or the process is stopping).
 * Returns 0 when queued or deferred, -1 when dropped.
 */
int	 serve_defer(struct req *, void (*fn)(struct db *, void *), void *arg);
/* 1 once the process is stopping: long background work gives up. */
int	 serve_stopping(void);


/* ---- multipart.c ---- */

#define MP_BOUNDARY_MAX	70		/* RFC 2046 */
#define MP_HEADER_MAX	8192		/* the header block of one part */
#define MP_PARTS_MAX	64

enum mp_err {
	MP_OK,
	MP_ERR_BOUNDARY,	/* not multipart/form-data, or no boundary */
	MP_ERR_SYNTAX,		/* a malformed delimiter line or header */
	MP_ERR_HEADER_TOO_LARGE,
	MP_ERR_TOO_MANY_PARTS,
	MP_ERR_TRUNCATED,	/* the body ended before the last delimiter */
	MP_ERR_CALLBACK,	/* a callback returned -1 */
	MP_ERR__MAX
};

/* What a part's headers say; strings live until the next part starts. */
struct mp_part {
	const char	*name;		/* Content-Disposition name, or NULL */
	/* filename* (decoded) or filename; NULL: a field, not a file */
	const char	*filename;
	const char	*content_type;	/* lowercased, no parameters, or "" */
	int		 index;		/* 0 for the first part */
};

struct multipart {
	/*
	 * Callbacks: a part begins (headers parsed), its bytes (in pieces of
	 * any size, possibly none), its end.  Returning -1 stops the parse
	 * with MP_ERR_CALLBACK.
	 */
	int		(*on_part)(void *arg, const struct mp_part *);
	int		(*on_data)(void *arg, const char *, size_t);
	int		(*on_end)(void *arg);
	void		*arg;

	char		 delim[4 + MP_BOUNDARY_MAX + 1];	/* CRLF--b */
	size_t		 dlen;
	size_t		 match;		/* delimiter bytes held back */
	int		 state;
	int		 tail;		/* after a delimiter: "--" or CRLF */
	int		 lwsp;		/* transport padding seen */
	int		 in_part;
	int		 nparts;
	struct buf	 head;		/* the header block being read */
	struct buf	 vals;		/* decoded header values of the part */
	enum mp_err	 err;
};

/*
 * Start parsing a body whose Content-Type is "content_type" (its boundary
 * parameter, quoted or not).  Returns 0, or -1 with mp->err set to
 * MP_ERR_BOUNDARY; multipart_free() is needed either way.
 */
int	 multipart_init(struct multipart *, const char *content_type);
/*
 * Parse "n" more bytes, split anywhere.  Returns 0 (more welcome), 1 when
 * the closing delimiter was seen (anything after it is ignored), or -1
 * with mp->err set; after 1 or -1 later calls return the same.
 */
int	 multipart_feed(struct multipart *, const char *, size_t);
/* The body has ended: 0 when it was complete, else -1 (MP_ERR_TRUNCATED). */
int	 multipart_end(struct multipart *);
void	 multipart_free(struct multipart *);
const char *multipart_strerror(enum mp_err);

#endif
