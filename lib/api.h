/*
 * api.h: the front door of libdify, the library every program in cgi-bin/
 * links.  Request in, JSON and Dify errors out, routing, auth, storage,
 * configuration and logging.  Modules and their prefixes: buf_, pool_,
 * log_, config_, util (uuid_, sha256_, ...), req_, resp_, sse_, route_,
 * input_, auth_, db_, serve_.
 */
#ifndef API_H
#define API_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include <sqlite3.h>

#define DIFYCGI_VERSION		"0.1.0"
#define DIFY_SERVER_VERSION	"1.9.1"	/* what /v1/ reports, as Dify does */

#define UUID_LEN	36
#define USER_MAX_BYTES	255
#define NAME_MAX_BYTES	255
#define JSON_MAX_DEPTH	64

/* ---- buf.c: growable byte buffer with a hard cap ---- */

struct buf {
	char	*p;		/* NUL-terminated when len > 0 or after buf_cstr */
	size_t	 len;
	size_t	 cap;
	size_t	 max;		/* appends past this fail */
};

void	 buf_init(struct buf *, size_t max);
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_puts(struct buf *, const char *);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
const char *buf_cstr(struct buf *);
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);

/* ---- pool.c: per-request arena; everything freed at once ---- */

struct pool_chunk;
struct pool {
	struct pool_chunk	*head;
};

void	*pool_alloc(struct pool *, size_t);
char	*pool_strdup(struct pool *, const char *);
char	*pool_strndup(struct pool *, const char *, size_t);
char	*pool_printf(struct pool *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
void	 pool_free_all(struct pool *);

void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);

/* ---- log.c: one line per event on stderr ---- */

void	 log_init(const char *prog);
void	 log_set_request(const char *reqid);
void	 log_info(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_warn(const char *, ...) __attribute__((format(printf, 1, 2)));
void	 log_error(const char *, ...) __attribute__((format(printf, 1, 2)));

/* ---- config.c: environment (and an optional file), frozen at start ---- */

struct config {
	const char	*db_path;
	const char	*data_dir;
	const char	*env_name;		/* X-Env */
	size_t		 max_body;		/* JSON bodies */
	size_t		 max_upload;		/* multipart bodies */
	int		 threads;
	int		 db_timeout_ms;
	int		 max_active_requests;	/* per app default, 0 = none */
	int		 ping_interval_s;
	int		 app_max_execution_s;
	int		 upstream_connect_ms;
	int		 upstream_first_byte_ms;
	int		 upstream_idle_ms;
	int		 upstream_total_ms;
	int		 memory_messages;	/* chat memory window */
	int		 memory_tokens;		/* and its token budget, 0: none */
	int		 template_max_steps;	/* of one Jinja2 render */
	int		 template_max_mb;	/* bytes it may hold, MiB */
	int		 image_limit_mb, video_limit_mb, audio_limit_mb,
			 file_limit_mb, workflow_file_upload_limit;
};

extern const struct config *cfg;

/*
 * Read DIFYCGI_CONFIG (a KEY=VALUE file) if set, then the environment,
 * which wins.  Returns 0 or -1 with a message logged.
 */
int	 config_load(void);
/* A configuration value by name (file or environment), or NULL. */
const char *config_get(const char *name);

/* ---- util.c ---- */

void	 uuid_new(char out[UUID_LEN + 1]);
int	 uuid_valid(const char *);
void	 random_bytes(void *, size_t);
int64_t	 now_s(void);
double	 now_mono(void);		/* seconds, monotonic */
void	 iso_time(int64_t, char out[32]);	/* 2025-01-16T14:30:29 */

struct sha256 {
	uint32_t	h[8];
	uint64_t	len;
	uint8_t		blk[64];
	size_t		n;
};
void	 sha256_init(struct sha256 *);
void	 sha256_update(struct sha256 *, const void *, size_t);
void	 sha256_final(struct sha256 *, uint8_t out[32]);
void	 sha256_hex(const void *, size_t, char out[65]);
int	 ct_equal(const void *, const void *, size_t);
int	 utf8_valid(const char *, size_t);
int	 parse_int(const char *, long long min, long long max, long long *);

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

struct kv {
	const char	*key;
	const char	*val;
};

#define ROUTE_MAX_PARAMS	4
#define QUERY_MAX_PAIRS		32

struct app {
	const char	*id;
	const char	*name;
	const char	*description;
	const char	*mode;
	const char	*icon_type;
	const char	*icon;
	const char	*icon_background;
	const char	*author_name;
	const char	*status;
	int		 enable_api;
	int		 max_active_requests;
	json_object	*tags;		/* owned by the request (req_reset) */
	json_object	*config;	/* model_config or workflow features */
	json_object	*site;		/* NULL when the app has no site */
	int64_t		 created_at;
};

struct end_user {
	const char	*id;
	const char	*session_id;
	int		 is_anonymous;
	int64_t		 created_at;
	int64_t		 updated_at;
};

struct db;

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
	json_object	*body;		/* parsed JSON body, owned */
	struct buf	 raw;		/* raw body */
	int		 body_read;
	int		 have_app;
	struct app	 app;
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

/* ---- jw.c: JSON text written straight into a buffer ---- */

void	 jw_str(struct buf *, const char *);	/* NULL writes null */
void	 jw_key(struct buf *, int first, const char *key);
void	 jw_double(struct buf *, double);
void	 jw_col_str(struct buf *, sqlite3_stmt *, int);
void	 jw_col_raw(struct buf *, sqlite3_stmt *, int, const char *dflt);
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
/* Read a positive limit from the query string, or "dflt"; -1 on a 400. */
int	 input_query_int(struct req *, struct resp *, const char *name,
	    long long dflt, long long min, long long max, long long *out);

/* ---- db.c: SQLite connection, migrations, statement cache ---- */

enum { DB_OK = 0, DB_ERROR = -1, DB_NOT_FOUND = 1, DB_CONFLICT = 2 };

struct db *db_open(const char *path);
void	 db_close(struct db *);
sqlite3	*db_handle(struct db *);
/* Apply sql/ migrations not yet applied.  0 or -1. */
int	 db_migrate(struct db *);
int	 db_schema_version(struct db *);
int	 db_migration_count(void);
/* A cached prepared statement for "sql" (static text), or NULL. */
sqlite3_stmt *db_stmt(struct db *, const char *sql);
/* Reset and clear bindings; NULL is fine. */
void	 db_stmt_release(sqlite3_stmt *);
/*
 * Bind arguments by format: s string (NULL binds null), i int, I int64,
 * d double, j json_object (serialised, NULL binds null).  0 or -1.
 */
int	 db_bind(sqlite3_stmt *, const char *fmt, ...);
/* Step a statement that returns no rows.  0 or -1. */
int	 db_exec_stmt(struct db *, sqlite3_stmt *, const char *what);
int	 db_begin(struct db *);
int	 db_commit(struct db *);
void	 db_rollback(struct db *);
void	 db_log_error(struct db *, const char *what);
const char *db_col_str(sqlite3_stmt *, int, struct pool *);
json_object *db_col_json(sqlite3_stmt *, int);
/* A column of JSON text passed through unparsed (json_raw), or NULL. */
json_object *db_col_json_raw(sqlite3_stmt *, int);

/* ---- db_app.c: apps, keys, end users ---- */

struct app_new {
	const char	*name;
	const char	*description;
	const char	*mode;
	const char	*icon_type;
	const char	*icon;
	const char	*icon_background;
	const char	*author_name;
	json_object	*tags;
	json_object	*config;
	json_object	*site;
};

int	 db_app_create(struct db *, const struct app_new *, char id[UUID_LEN + 1]);
int	 db_app_get(struct db *, struct pool *, const char *id, struct app *);
int	 db_app_delete(struct db *, const char *id);
/* Drop this thread's cache of parsed app rows (db_close does). */
void	 db_app_cache_clear(void);
/* Drop the JSON objects an app row holds. */
void	 app_release(struct app *);
int	 db_app_set_config(struct db *, const char *id, json_object *config);
/* Call "fn" for every app, oldest first. */
int	 db_app_each(struct db *, struct pool *,
	    int (*fn)(const struct app *, void *), void *);

struct api_key {
	const char	*id;
	const char	*app_id;
	const char	*prefix;
	int64_t		 created_at;
	int64_t		 last_used_at;
	int		 revoked;
};

/* Store a key's hash; "key" is the plaintext, which the caller wipes. */
int	 db_key_create(struct db *, const char *app_id, const char *key,
	    char id[UUID_LEN + 1]);
/* Look up by hash: DB_OK with app_id from "p", DB_NOT_FOUND, or -1. */
int	 db_key_lookup(struct db *, struct pool *, const uint8_t hash[32],
	    const char **app_id);
int	 db_key_revoke(struct db *, const char *id_or_prefix);
int	 db_key_each(struct db *, struct pool *, const char *app_id,
	    int (*fn)(const struct api_key *, void *), void *);

int	 db_workflow_create(struct db *, const char *app_id, json_object *graph,
	    json_object *features, json_object *env, json_object *conv,
	    char id[UUID_LEN + 1]);
int	 db_workflow_latest_id(struct db *, struct pool *, const char *app_id,
	    const char **id);

/* Get or create the end user "session" of an app. */
int	 db_end_user_get_or_create(struct db *, struct pool *,
	    const char *app_id, const char *session, struct end_user *);

/* ---- auth.c ---- */

/* Generate "app-" + 24 alphanumerics into out[29]. */
void	 auth_key_new(char out[29]);
void	 auth_key_hash(const char *key, uint8_t out[32]);
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

#include "upstream.h"
#include "gen.h"
#include "wf.h"
#include "dsl.h"
#include "files.h"

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

/* ---- appinfo.c: app metadata bodies (shared by app.fcgi and tests) ---- */

json_object *appinfo_info(const struct app *);
json_object *appinfo_parameters(const struct app *);
json_object *appinfo_site(const struct app *);
json_object *appinfo_meta(const struct app *);
int	 app_mode_is_workflow(const char *mode);
int	 app_configured(struct db *, const struct app *);

/* json helpers (json.c) */
const char *json_str(json_object *, const char *key);	/* NULL if absent */
json_object *json_get(json_object *, const char *key);
json_object *json_copy(json_object *);			/* deep copy */
const char *json_compact(json_object *);		/* borrowed */
json_object *json_raw(const char *json_text);		/* pass-through */

#endif
