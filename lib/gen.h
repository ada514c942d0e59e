/*
 * gen.h: generation of completion and chat answers, and the storage it
 * needs: conversations, messages, the task registry (stop flags and the
 * per-app limit of requests in flight, shared through the database so
 * that any process can stop any task), and prompt assembly.
 */
#ifndef GEN_H
#define GEN_H

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

/* ---- tools.c: built-in tools ---- */

struct tool_def {
	const char	*provider;
	const char	*name;
	const char	*description;
	const char	*params_schema;		/* JSON Schema text */
	int		 (*run)(json_object *args, struct buf *out, char *err,
			    size_t errlen);
};

/* A built-in tool by provider (NULL: any) and name, or NULL. */
const struct tool_def *tool_find(const char *provider, const char *name);
/* The tool as an OpenAI "tools" item (new object). */
json_object *tool_schema(const struct tool_def *);
/* Run a tool: its text output appended to "out"; 0, or -1 with "err". */
int	 tool_run(const struct tool_def *, json_object *args, struct buf *out,
	    char *err, size_t errlen);

/* ---- prompt.c ---- */

/*
 * Validate "given" against the app's user_input_form (Dify's rules of
 * spec 4.3) into a new object of the declared variables with defaults.
 * Returns the object, or NULL with a 400 in "rs".
 */
json_object *prompt_inputs(json_object *form, json_object *given,
	    struct resp *rs);
/* Fill {{variable}} placeholders from "inputs"; result from "p". */
char	*prompt_fill(struct pool *, const char *tpl, json_object *inputs);

/* ---- gen.c ---- */

/* Handlers of the generation endpoints (chat.fcgi, completion.fcgi). */
int	 gen_chat_messages(struct req *, struct resp *);
int	 gen_completion_messages(struct req *, struct resp *);
int	 gen_stop(struct req *, struct resp *, int chat);
/*
 * POST /chat-messages for advanced-chat apps, after the end user check:
 * the chatflow engine (lib/chatflow/chatflow.c).
 */
int	 chatflow_messages(struct req *, struct resp *);
/*
 * Name a new conversation from its first query with the app's model,
 * off the request's thread (serve_defer): the client and the worker do
 * not wait for the model.  The job copies what it needs; when it fails
 * or is dropped the conversation keeps its default name.
 */
void	 gen_name_later(struct req *, const char *conversation_id,
	    const char *query);
/* Generate a conversation title from its first query; "" on failure. */
char	*gen_conversation_title(struct req *, const char *query);
/* Price strings as Dify writes them ("0.0012890"). */
void	 usage_json(json_object *, const char *provider, int ptok,
	    int ctok, double latency, char total_price[32]);
int	 app_mode_is_chat(const char *mode);
/* response_mode of the body: absent/null blocking; 0, or -1 with a 400. */
int	 task_response_mode(struct req *, struct resp *, int *streaming);
/* The app's limit of generations in flight (0: none). */
int	 task_max_active(const struct app *);
/*
 * Take a slot for a new task (a fresh task_id): within the app's share
 * of this process's threads (serve_hold), then within its limit of
 * tasks across processes (task_max_active).  0, or -1 with Dify's 429
 * too_many_requests (or a 500) in "rs".
 */
int	 task_start(struct req *, struct resp *, const struct scope *,
	    const char *kind, char task_id[UUID_LEN + 1]);

#endif
