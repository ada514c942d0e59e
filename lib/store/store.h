/*
 * store.h: the door of lib/store/, the database layer (SQLite in WAL
 * mode, prepared statements only, every query scoped by app and end
 * user): connection, migrations and statement cache (db.c), apps, keys
 * and end users (db_app.c), conversations, messages and the task
 * registry (db_chat.c), their listings and variables
 * (db_conversation.c), uploaded files (db_files.c), the bytes of those
 * the database keeps (db_blob.c) and workflow runs (db_workflow.c).  Stands on core only.
 */
#ifndef STORE_H
#define STORE_H

#include "core/core.h"

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

/* ---- db.c: the storage interface (db_int.h: its two drivers) ---- */

/*
 * One connection of one thread, to SQLite (a file) or PostgreSQL (a
 * postgresql:// URL, through libpq).  SQL texts are written once, with
 * ? or ?N placeholders; where the dialects differ a statement has a
 * PostgreSQL text too (db_stmt2).  Statements are cached per connection
 * by the address of their static text.
 */
enum { DB_OK = 0, DB_ERROR = -1, DB_NOT_FOUND = 1, DB_CONFLICT = 2,
	DB_ROW = 100, DB_DONE = 101 };

struct dbst;

/* SQLite file path or postgresql:// URL; NULL on failure (logged). */
struct db *db_open(const char *where);
/* What the configuration names: DIFYCGI_DATABASE_URL, else DIFYCGI_DB. */
struct db *db_open_default(void);
/* What the configuration names, for messages (never a password). */
const char *db_config_where(void);
/* Whether "where" names PostgreSQL rather than an SQLite file. */
int	 db_where_is_pg(const char *where);
void	 db_close(struct db *);
/* "sqlite" or "postgresql" */
const char *db_backend(struct db *);
int	 db_is_pg(struct db *);
/* Apply the migrations not yet applied.  0 or -1. */
int	 db_migrate(struct db *);
int	 db_schema_version(struct db *);
int	 db_migration_count(void);
/* A cached prepared statement for "sql" (static text), or NULL. */
struct dbst *db_stmt(struct db *, const char *sql);
/* The same, with the PostgreSQL dialect's own text. */
struct dbst *db_stmt2(struct db *, const char *sql, const char *pg_sql);
/*
 * The statement's rows come as bytes, not text (PostgreSQL's binary
 * format; nothing changes on SQLite): for a statement that reads only
 * bytea columns, read with db_col_blob and db_col_null alone.
 */
void	 db_stmt_binary(struct dbst *);
/* Reset and clear bindings; NULL is fine. */
void	 db_stmt_release(struct dbst *);
/*
 * Bind arguments by format: s string (NULL binds null), i int, I int64,
 * d double, j json_object (serialised, NULL binds null), b bytes (const
 * void *, size_t).  db_bind_at starts at parameter "first" (1-based).
 * 0 or -1.
 */
int	 db_bind(struct dbst *, const char *fmt, ...);
int	 db_bind_at(struct dbst *, int first, const char *fmt, ...);
/* The next row: DB_ROW, DB_DONE, or -1 (logged). */
int	 db_step(struct dbst *);
/* Step a statement that returns no rows.  0 or -1. */
int	 db_exec_stmt(struct db *, struct dbst *, const char *what);
/* Rows changed by the last statement. */
int	 db_changes(struct db *);
/*
 * A write transaction.  SQLite takes the file's write lock (BEGIN
 * IMMEDIATE); PostgreSQL takes a transaction-scoped advisory lock on
 * "key" (db_begin: one lock for all), so that a count and the insert it
 * decides are one decision on every node.
 */
int	 db_begin(struct db *);
int	 db_begin_key(struct db *, const char *key);
int	 db_commit(struct db *);
void	 db_rollback(struct db *);
void	 db_log_error(struct db *, const char *what);
/* Run a statement without binds and append its rows to "out", a line
 * a row, columns joined by "|" (EXPLAIN, admin checks).  0 or -1. */
int	 db_query_text(struct db *, const char *sql, struct buf *out);
/*
 * The plan of statement "sql" (with its ? placeholders) as the backend
 * explains it: SQLite's EXPLAIN QUERY PLAN rows, or PostgreSQL's generic
 * plan (EXPLAIN EXECUTE under plan_cache_mode = force_generic_plan, so
 * the plan holds for any values).  0 or -1.
 */
int	 db_explain(struct db *, const char *sql, struct buf *out);
int	 db_col_null(struct dbst *, int);
int	 db_col_int(struct dbst *, int);
int64_t	 db_col_int64(struct dbst *, int);
double	 db_col_double(struct dbst *, int);
/* Borrowed until the next step or release; NULL for null. */
const char *db_col_text(struct dbst *, int);
const void *db_col_blob(struct dbst *, int, size_t *len);
const char *db_col_str(struct dbst *, int, struct pool *);
json_object *db_col_json(struct dbst *, int);
/* A column of JSON text passed through unparsed (json_raw), or NULL. */
json_object *db_col_json_raw(struct dbst *, int);
/* A column as a JSON string or null; stored JSON text, or "dflt". */
void	 db_jw_str(struct buf *, struct dbst *, int);
void	 db_jw_raw(struct buf *, struct dbst *, int, const char *dflt);

/* ---- db_copy.c: one database's rows into another ---- */

/*
 * Copy every table of "from" (an SQLite install, migrated first) into
 * "to" (a new PostgreSQL database, or any empty one), in one transaction
 * of "to", then read every row back and compare it with its source,
 * column by column.  "say" gets a line a table.  0, DB_CONFLICT when
 * "to" holds apps already, or -1 (nothing is left in "to").
 */
int	 db_copy(struct db *from, struct db *to,
	    void (*say)(void *, const char *), void *arg);

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
/*
 * Delete an app and, by cascade, all its rows; the files whose bytes the
 * database keeps (storage_key "db:...") go with them, and are added to
 * "nfiles" and "bytes".  DB_OK, DB_NOT_FOUND or -1 (nothing deleted).
 */
int	 db_app_delete(struct db *, const char *id, long long *nfiles,
	    long long *bytes);
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

/* The hash a key is stored and looked up by (SHA-256). */
void	 db_key_hash(const char *key, uint8_t out[32]);
/* Store a key's hash; "key" is the plaintext, which the caller wipes. */
int	 db_key_create(struct db *, const char *app_id, const char *key,
	    char id[UUID_LEN + 1]);
/* Look up by hash: DB_OK with app_id from "p", DB_NOT_FOUND, or -1. */
int	 db_key_lookup(struct db *, struct pool *, const uint8_t hash[32],
	    const char **app_id);
int	 db_key_revoke(struct db *, const char *id_or_prefix);
int	 db_key_each(struct db *, struct pool *, const char *app_id,
	    int (*fn)(const struct api_key *, void *), void *);

/* ---- db_dataset.c: datasets (knowledge bases) and their keys ---- */

/*
 * A dataset row.  Strings come from the caller's pool (or the caller's
 * own, for writes); retrieval_model is owned (dataset_release), NULL
 * when the dataset has none and Dify's default applies.
 */
struct dataset {
	const char	*id;
	const char	*name;
	const char	*description;
	const char	*provider;
	const char	*permission;
	const char	*data_source_type;
	const char	*indexing_technique;
	const char	*embedding_model;
	const char	*embedding_model_provider;
	json_object	*retrieval_model;
	const char	*created_by;
	const char	*updated_by;
	int64_t		 created_at;
	int64_t		 updated_at;
};

void	 dataset_release(struct dataset *);
/*
 * Insert "d" (all but id and times); fills d->id from "idbuf" and the
 * times.  DB_OK, DB_CONFLICT when the name is taken, or -1.
 */
int	 db_dataset_create(struct db *, struct dataset *d,
	    char idbuf[UUID_LEN + 1]);
int	 db_dataset_get(struct db *, struct pool *, const char *id,
	    struct dataset *);
/*
 * Write every column of "d" but id, created_*; sets d->updated_at.
 * DB_OK, DB_NOT_FOUND, DB_CONFLICT (another dataset has the name), -1.
 */
int	 db_dataset_update(struct db *, struct dataset *d);
int	 db_dataset_delete(struct db *, const char *id);
/*
 * Datasets whose name contains "keyword" (case-insensitively; NULL: all),
 * newest first, "limit" from "offset"; *total counts every match.  Each
 * row goes to fn, which must not keep d->retrieval_model.  0 or -1.
 */
int	 db_dataset_list(struct db *, struct pool *, const char *keyword,
	    int64_t offset, int64_t limit, int64_t *total,
	    int (*fn)(const struct dataset *, void *), void *);

/* Dataset keys ("dataset-" + 24 alphanumerics), stored as SHA-256. */
int	 db_dataset_key_create(struct db *, const char *key,
	    char id[UUID_LEN + 1]);
/* Look up by hash: DB_OK with the key's id from "p", DB_NOT_FOUND, -1. */
int	 db_dataset_key_lookup(struct db *, struct pool *,
	    const uint8_t hash[32], const char **id);
/* As db_key_revoke, among dataset keys. */
int	 db_dataset_key_revoke(struct db *, const char *id_or_prefix);
/* Each dataset key (app_id NULL) to fn. */
int	 db_dataset_key_each(struct db *, struct pool *,
	    int (*fn)(const struct api_key *, void *), void *);

int	 db_workflow_create(struct db *, const char *app_id, json_object *graph,
	    json_object *features, json_object *env, json_object *conv,
	    char id[UUID_LEN + 1]);
int	 db_workflow_latest_id(struct db *, struct pool *, const char *app_id,
	    const char **id);

/* Get or create the end user "session" of an app. */
int	 db_end_user_get_or_create(struct db *, struct pool *,
	    const char *app_id, const char *session, struct end_user *);
/*
 * The end user "id" of app "app_id" (another app's is not found), its
 * strings from "p".  DB_OK, DB_NOT_FOUND or -1.
 */
int	 db_end_user_get(struct db *, struct pool *, const char *app_id,
	    const char *id, struct end_user *);


int	 app_mode_is_chat(const char *mode);
int	 app_mode_is_workflow(const char *mode);

/* ---- db_chat.c ---- */

struct conversation {
	const char	*id;
	const char	*name;
	json_object	*inputs;	/* owned by the caller: json_object_put */
	const char	*introduction;
	const char	*status;
	int		 dialogue_count;
	int64_t		 created_at;
	int64_t		 updated_at;
};

struct scope {
	const char	*app_id;
	const char	*end_user_id;
};

int	 db_conversation_create(struct db *, const struct scope *,
	    const char *name, json_object *inputs, const char *introduction,
	    char id[UUID_LEN + 1], int64_t *created_at);
/* A non-deleted conversation of this app and end user: DB_OK, DB_NOT_FOUND. */
int	 db_conversation_get(struct db *, struct pool *, const struct scope *,
	    const char *id, struct conversation *);
/* A new message: bump updated_at and the dialogue count. */
int	 db_conversation_touch(struct db *, const char *id);
/*
 * Name conversation "id" of the app "name", if it is still named "from"
 * (an automatic title never overwrites a client's rename).  0 or -1.
 */
int	 db_conversation_name_auto(struct db *, const char *app_id,
	    const char *id, const char *from, const char *name);
json_object *conversation_json(const struct conversation *);

struct message_new {
	const char	*conversation_id;	/* NULL for completion */
	const char	*task_id;
	const char	*mode;
	const char	*query;
	json_object	*inputs;
	json_object	*message_files;
};

int	 db_message_create(struct db *, const struct scope *,
	    const struct message_new *, char id[UUID_LEN + 1],
	    int64_t *created_at);
/* Store the answer so far of a running message. */
int	 db_message_progress(struct db *, const char *id, const char *answer);

struct message_end {
	const char	*status;	/* normal or error */
	const char	*answer;
	const char	*error;
	int		 message_tokens;
	int		 answer_tokens;
	const char	*total_price;
	const char	*currency;
	double		 latency;
	json_object	*agent_thoughts;
};
int	 db_message_finish(struct db *, const char *id,
	    const struct message_end *);

struct turn {
	const char	*query;
	const char	*answer;
};
/*
 * The newest "max" finished turns of a conversation, oldest first, into
 * "out" (strings from "p").  Returns the count, or -1.
 */
int	 db_conversation_history(struct db *, struct pool *,
	    const char *conversation_id, int max, struct turn *out);

/* Tasks: the stop flag and the per-app limit live here. */
int	 db_task_start(struct db *, const char *task_id, const struct scope *,
	    const char *kind, const char *message_id, int max_active);
/* 1 when a stop was requested, 0 when not, -1 on error; heartbeats. */
int	 db_task_poll(struct db *, const char *task_id, int heartbeat);
/* Set the stop flag when the task is this end user's.  0 or -1. */
int	 db_task_request_stop(struct db *, const char *task_id,
	    const struct scope *);
int	 db_task_finish(struct db *, const char *task_id);
/*
 * Give a final status to messages and runs whose task stopped beating
 * (its process was killed).  Returns the number of rows fixed, or -1.
 */
int	 db_sweep_stale(struct db *, int stale_s);

/* ---- db_conversation.c ---- */

struct conv_var {
	const char	*id;
	const char	*name;
	const char	*value_type;
	json_object	*value;		/* owned by the caller */
	const char	*description;
	int64_t		 created_at;
	int64_t		 updated_at;
};

/*
 * One page of the end user's conversations, written into "out" as the
 * items of a JSON array, sorted by
 * created_at or updated_at, after the row "last_id" (DB_NOT_FOUND when it
 * is not theirs).  *has_more: a row exists past the page.
 */
int	 db_conversation_list(struct db *, const struct scope *,
	    const char *last_id, int by_updated, int desc, int limit,
	    struct buf *out, int *has_more);
int	 db_conversation_delete(struct db *, const struct scope *,
	    const char *id);
int	 db_conversation_rename(struct db *, struct pool *,
	    const struct scope *, const char *id, const char *name,
	    struct conversation *out);
const char *db_conversation_first_query(struct db *, struct pool *,
	    const char *app_id, const char *id);
int	 db_conv_var_list(struct db *, struct pool *, const char *app_id,
	    const char *conversation_id, const char *last_id, const char *name,
	    int limit, json_object *out, int *has_more);
int	 db_conv_var_get(struct db *, struct pool *, const char *app_id,
	    const char *conversation_id, const char *id, struct conv_var *);
int	 db_conv_var_set(struct db *, const char *app_id,
	    const char *conversation_id, const char *id, json_object *value);
json_object *conv_var_json(const struct conv_var *);
#define MESSAGE_PAGE_MAX	100

/* Signs an uploaded file's URL for a reply (files_signed_url). */
struct url_signer {
	char	*(*sign)(void *ctx, const char *file_id);
	void	*ctx;
};
/*
 * One page of a conversation's messages, oldest first, before message
 * "first_id" (DB_NOT_FOUND when it is not in the conversation), written
 * into "out" as the items of a JSON array.
 */
int	 db_message_page(struct db *, const struct scope *,
	    const char *conversation_id, const char *first_id, int limit,
	    const struct url_signer *, struct buf *out, int *has_more);
/* DB_OK when the message is this app's and end user's. */
int	 db_message_owned(struct db *, struct pool *, const struct scope *,
	    const char *message_id, const char **conversation_id);
/*
 * Set (rating like/dislike) or revoke (rating NULL) the end user's
 * feedback: DB_OK, DB_NOT_FOUND (no such message of theirs), DB_CONFLICT
 * (nothing to revoke), -1.
 */
int	 db_feedback_set(struct db *, struct pool *, const struct scope *,
	    const char *message_id, const char *rating, const char *content);
int	 db_feedback_list(struct db *, const char *app_id, int page, int limit,
	    json_object *out);
int	 db_recent_turns(struct db *, struct pool *, const char *conversation_id,
	    const char *message_id, int max, struct turn *out);


/* ---- db_workflow.c ---- */

struct wf_def {
	const char	*id;
	const char	*version;
	json_object	*graph;		/* owned: wf_def_free */
	json_object	*features;
	json_object	*env;
	json_object	*conv;
	int64_t		 created_at;
};

/* A workflow of an app by id, or its latest when id is NULL. */
int	 db_wf_get(struct db *, struct pool *, const char *app_id,
	    const char *id, struct wf_def *);
void	 wf_def_free(struct wf_def *);

struct wf_run_row {
	const char	*id;
	const char	*workflow_id;
	const char	*version;
	const char	*status;
	const char	*inputs;	/* JSON text */
	json_object	*outputs;	/* owned by the caller */
	const char	*error;
	double		 elapsed_time;
	int		 total_tokens;
	int		 total_steps;
	int		 exceptions_count;
	const char	*triggered_from;
	int64_t		 created_at;
	int64_t		 finished_at;	/* 0 while running */
	/* logs */
	const char	*end_user_id;
	const char	*session_id;
	int		 is_anonymous;
};

/* A run as stored: what the engine's struct wf_run records. */
struct wf_run_rec {
	const char	*run_id;
	const char	*app_id;
	const char	*workflow_id;
	const char	*version;
	const char	*end_user_id;
	const char	*conversation_id;
	const char	*message_id;
	const char	*task_id;
	int64_t		 created_at;
	/* at the end */
	const char	*status;
	json_object	*outputs;	/* borrowed */
	const char	*error;
	double		 elapsed;
	int		 total_tokens;
	int		 total_steps;
	int		 exceptions_count;
	int64_t		 finished_at;
};

int	 db_wf_run_create(struct db *, const struct wf_run_rec *,
	    json_object *inputs);
int	 db_wf_run_finish(struct db *, const struct wf_run_rec *);
int	 db_wf_run_get(struct db *, struct pool *, const char *app_id,
	    const char *id, struct wf_run_row *);

struct wf_log_filter {
	const char	*keyword;	/* at most 30 characters used */
	const char	*status;
	int64_t		 before, after;	/* 0: none */
	const char	*session_id;
	long long	 page, limit;
};
/* Runs of a workflow app for /workflows/logs, newest first. */
int	 db_wf_logs(struct db *, struct pool *, const char *app_id,
	    const struct wf_log_filter *, long long *total,
	    int (*fn)(const struct wf_run_row *, void *), void *);

struct wf_node_row {
	const char	*id;
	const char	*run_id;
	int		 index;
	const char	*node_id;
	const char	*node_type;
	const char	*title;
	const char	*predecessor;
	json_object	*inputs, *process_data, *outputs, *metadata;
	const char	*status;
	const char	*error;
	double		 elapsed_time;
	int64_t		 created_at;
	int64_t		 finished_at;
};
int	 db_wf_node_start(struct db *, const char *app_id,
	    const struct wf_node_row *);
int	 db_wf_node_finish(struct db *, const struct wf_node_row *);
/* Mark node executions still running as failed with "error". */
int	 db_wf_nodes_abandon(struct db *, const char *run_id,
	    const char *error);

/*
 * The conversation variables of a conversation as {name: value} and
 * {name: id}, creating from "decls" the rows it lacks.  0 or -1.
 */
int	 db_wf_conv_load(struct db *, const char *app_id,
	    const char *conversation_id, json_object *decls,
	    json_object *values, json_object *ids);
/* Record the run that answered a chatflow message. */
int	 db_wf_message_run(struct db *, const char *message_id,
	    const char *run_id);


/* ---- db_files.c: stored files ---- */

struct upload_file {
	const char	*id;
	const char	*app_id;
	const char	*end_user_id;
	const char	*name;
	long long	 size;
	const char	*extension;	/* lowercased, no dot, may be "" */
	const char	*mime_type;
	const char	*storage_key;	/* "db:<id>" (db_blob.c), else a
					   path under cfg->data_dir */
	const char	*hash;
	int64_t		 created_at;
};

int	 db_upload_file_create(struct db *, const struct upload_file *);
/*
 * A file of the app (and of the end user unless "end_user_id" is NULL):
 * DB_OK, DB_NOT_FOUND or -1.
 */
int	 db_upload_file_get(struct db *, struct pool *, const char *app_id,
	    const char *end_user_id, const char *id, struct upload_file *);
/*
 * A file by id alone, for signed URLs, whose signature is the only
 * capability needed: DB_OK, DB_NOT_FOUND or -1.
 */
int	 db_upload_file_by_id(struct db *, struct pool *, const char *id,
	    struct upload_file *);
/*
 * Whether a message references the file in its message_files: DB_OK when
 * one of this app does, DB_CONFLICT when only another app's does,
 * DB_NOT_FOUND when none does, -1 on error.
 */
int	 db_upload_file_referenced(struct db *, const char *app_id,
	    const char *file_id);
/*
 * The answer of a message of the app and end user: DB_OK, DB_NOT_FOUND
 * (none, or another user's or app's) or -1.
 */
int	 db_message_answer(struct db *, struct pool *, const char *app_id,
	    const char *end_user_id, const char *message_id,
	    const char **answer);

/* ---- db_blob.c: the bytes of files kept in the database ---- */

#define DB_CHUNK_BYTES	(1024 * 1024)	/* of a file_chunks row */

/*
 * Record file "f" (db_upload_file_create) and its bytes, read from "fd"
 * to its end, as chunks of DB_CHUNK_BYTES, in one transaction: nothing
 * is left when it fails, also when the bytes do not add up to f->size.
 * Holds one chunk in memory.  0 or -1 (logged).
 */
int	 db_upload_file_create_fd(struct db *, const struct upload_file *f,
	    int fd);
/*
 * Call fn(arg, bytes, len) for each chunk of file "file_id" in order,
 * one statement a chunk; the bytes are borrowed for the call.  Returns
 * 0 after the last chunk (none for an empty or unknown file), fn's
 * nonzero return when it stops, or -1 (logged).
 */
int	 db_file_chunks_each(struct db *, const char *file_id,
	    int (*fn)(void *, const void *, size_t), void *arg);

#endif
