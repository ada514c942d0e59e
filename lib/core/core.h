/*
 * core.h: the door of lib/core/, what every other part of the library
 * stands on: growable buffers (buf_), per-request pools (pool_, x*),
 * logging (log_), configuration (config_, cfg), utilities (uuid_,
 * sha256_, utf8_valid, parse_int ...), JSON helpers (json_) and the
 * JSON text writer (jw_), and Python's value semantics as Dify shows
 * them (py_).  It includes no other folder's header.
 */
#ifndef CORE_H
#define CORE_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define DIFYCGI_VERSION		"0.1.0"
#define DIFY_SERVER_VERSION	"1.9.1"	/* what /v1/ reports, as Dify does */

#define UUID_LEN	36
#define USER_MAX_BYTES	255
#define NAME_MAX_BYTES	255
#define JSON_MAX_DEPTH	64

/* a key and its value, both borrowed */
struct kv {
	const char	*key;
	const char	*val;
};

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
	const char	*database_url;		/* PostgreSQL, else NULL */
	const char	*node_id;		/* this machine, in tasks */
	const char	*data_dir;
	enum file_store { FILE_STORE_LOCAL, FILE_STORE_DATABASE }
			 file_store;		/* where new files' bytes go */
	const char	*env_name;		/* X-Env */
	size_t		 max_body;		/* JSON bodies */
	size_t		 max_upload;		/* multipart bodies */
	int		 threads;
	int		 db_timeout_ms;
	int		 db_statement_timeout_ms;
	int		 task_stale_s;		/* a silent task is dead */
	int		 max_active_requests;	/* per app default, 0 = none */
	int		 app_share_percent;	/* of a process's threads */
	int		 reserved_threads;	/* kept from generations */
	int		 background_queue;	/* deferred jobs waiting */
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

/* defaults and ceilings of a Jinja2 render's work (lib/template/) */
#define TMPL_STEPS_MAX		10000000	/* default steps of a render */
#define TMPL_BYTES_MAX		(64 * 1024 * 1024)	/* default bytes */
#define TMPL_BYTES_CEILING	(1024 * 1024 * 1024)	/* json-c's lengths */

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

/*
 * SHA-256 (libcrypto's).  sha256_init allocates the context:
 * sha256_final releases it, and sha256_free (safe on a zeroed or
 * finished struct) releases one abandoned midway.
 */
struct sha256 {
	struct evp_md_ctx_st	*ctx;	/* EVP_MD_CTX */
};
void	 sha256_init(struct sha256 *);
void	 sha256_update(struct sha256 *, const void *, size_t);
void	 sha256_final(struct sha256 *, uint8_t out[32]);
void	 sha256_free(struct sha256 *);
void	 sha256_hex(const void *, size_t, char out[65]);
int	 ct_equal(const void *, const void *, size_t);
int	 utf8_valid(const char *, size_t);
/* Code points in n bytes of UTF-8 (continuation bytes not counted). */
size_t	 utf8_count(const char *, size_t);
/* The value of a hex digit, or -1. */
int	 hex_digit(int);
int	 parse_int(const char *, long long min, long long max, long long *);

/* ---- pyval.c: JSON values with Python's semantics (Dify's) ---- */

/* Python's repr() of a JSON value: {'a': 1}, True, None, 2.5. */
void	 py_repr(struct buf *, json_object *);
/* Python's ==: numbers and booleans by value, containers deeply. */
int	 py_eq(json_object *, json_object *);
/* Python's str(): strings as they are, the rest as repr(). */
void	 py_str(struct buf *, json_object *);
/* json.dumps(v, ensure_ascii=False[, indent]); indent 0 = one line. */
void	 py_json(struct buf *, json_object *, int indent);
/* Python truthiness: "", 0, 0.0, [], {}, null and false are false. */
int	 py_truthy(json_object *);
/* Python's float repr: 2.5, 1.0, 1e+16. */
void	 py_float(struct buf *, double);
/* Whether a value is a number or a boolean (Python's bool is an int). */
int	 py_is_num(json_object *);
/* Its value as a double. */
double	 py_num(json_object *);

/* ---- jw.c: JSON text written straight into a buffer ---- */

void	 jw_str(struct buf *, const char *);	/* NULL writes null */
/* "n" bytes as a JSON string (NULs escaped), as json.dumps writes it. */
void	 jw_strn(struct buf *, const char *, size_t n);
void	 jw_key(struct buf *, int first, const char *key);
void	 jw_double(struct buf *, double);

/* json helpers (json.c) */
const char *json_str(json_object *, const char *key);	/* NULL if absent */
json_object *json_get(json_object *, const char *key);
json_object *json_copy(json_object *);			/* deep copy */
const char *json_compact(json_object *);		/* borrowed */
json_object *json_raw(const char *json_text);		/* pass-through */

#endif
