/*
 * conversation.c: conversations, their variables, messages and feedback.
 * Mirrors Dify service_api/app/conversation.py and message.py.  Every
 * lookup is scoped to the key's app and the request's end user: another
 * user's conversation or message is a plain 404, never a 403.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"

static int	list_conversations(struct req *, struct resp *);
static int	delete_conversation(struct req *, struct resp *);
static int	rename_conversation(struct req *, struct resp *);
static int	list_variables(struct req *, struct resp *);
static int	update_variable(struct req *, struct resp *);
static int	list_messages(struct req *, struct resp *);
static int	feedback(struct req *, struct resp *);
static int	app_feedbacks(struct req *, struct resp *);
static int	suggested(struct req *, struct resp *);

static const struct route routes[] = {
	{ "GET", "/v1/conversations", list_conversations, 0 },
	{ "DELETE", "/v1/conversations/{id:uuid}", delete_conversation, 0 },
	{ "POST", "/v1/conversations/{id:uuid}/name", rename_conversation, 0 },
	{ "GET", "/v1/conversations/{id:uuid}/variables", list_variables, 0 },
	{ "PUT", "/v1/conversations/{id:uuid}/variables/{vid:uuid}",
	  update_variable, 0 },
	{ "GET", "/v1/messages", list_messages, 0 },
	{ "POST", "/v1/messages/{id:uuid}/feedbacks", feedback, 0 },
	{ "GET", "/v1/messages/{id:uuid}/suggested", suggested, 0 },
	{ "GET", "/v1/app/feedbacks", app_feedbacks, 0 },
	{ NULL, NULL, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	return serve_main(argc, argv, "conversation.fcgi", routes);
}

static void
scope_of(struct req *rq, struct scope *sc)
{
	sc->app_id = rq->app.id;
	sc->end_user_id = rq->user.id;
}

/* The end user ('q'uery or 'j'son), then the chat-family mode check. */
static int
chat_user(struct req *rq, struct resp *rs, char where, int required)
{
	if (auth_end_user(rq, rs, where, required) == -1)
		return -1;
	if (!app_mode_is_chat(rq->app.mode))
		return resp_error(rs, ERR_NOT_CHAT_APP);
	return 0;
}

/* An optional UUID cursor from the query string; NULL when absent. */
static int
query_uuid(struct req *rq, struct resp *rs, const char *name,
    const char **out)
{
	char	msg[128];

	*out = req_query(rq, name);
	if (*out != NULL && !uuid_valid(*out)) {
		snprintf(msg, sizeof(msg), "%s must be a valid UUID", name);
		return resp_error_msg(rs, ERR_INVALID_PARAM, msg);
	}
	return 0;
}

/* {"limit":..,"has_more":..,"data":[items]} around written items. */
static int
page_text(struct resp *rs, int limit, int has_more, struct buf *items)
{
	struct buf	b;

	buf_init(&b, items->max + 64);
	buf_printf(&b, "{\"limit\":%d,\"has_more\":%s,\"data\":[", limit,
	    has_more ? "true" : "false");
	buf_append(&b, items->p, items->len);
	buf_puts(&b, "]}");
	buf_free(items);
	return resp_json_text(rs, 200, &b);
}

static json_object *
page_json(int limit, int has_more, json_object *data)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "limit", json_object_new_int(limit));
	json_object_object_add(o, "has_more", json_object_new_boolean(has_more));
	json_object_object_add(o, "data", data);
	return o;
}

static int
list_conversations(struct req *rq, struct resp *rs)
{
	static const char *const sorts[] = { "created_at", "-created_at",
	    "updated_at", "-updated_at" };
	struct scope	 sc;
	struct buf	 data;
	const char	*last_id, *sort;
	long long	 limit;
	int		 i, rc, has_more;

	if (chat_user(rq, rs, 'q', 0) == -1 ||
	    query_uuid(rq, rs, "last_id", &last_id) == -1 ||
	    input_query_int(rq, rs, "limit", 20, 1, 100, &limit) == -1)
		return -1;
	sort = req_query(rq, "sort_by");
	if (sort == NULL)
		sort = "-updated_at";
	for (i = 0; i < 4; i++)
		if (strcmp(sort, sorts[i]) == 0)
			break;
	if (i == 4)
		return resp_error_msg(rs, ERR_INVALID_PARAM, "sort_by must be "
		    "one of created_at, -created_at, updated_at, -updated_at");
	scope_of(rq, &sc);
	buf_init(&data, (size_t)64 << 20);
	rc = db_conversation_list(rq->db, &sc, last_id, i >= 2,
	    sort[0] == '-', (int)limit, &data, &has_more);
	if (rc != DB_OK) {
		buf_free(&data);
		return resp_error(rs, rc == DB_NOT_FOUND ?
		    ERR_LAST_CONVERSATION_NOT_FOUND : ERR_INTERNAL);
	}
	return page_text(rs, (int)limit, has_more, &data);
}

static int
delete_conversation(struct req *rq, struct resp *rs)
{
	struct scope	sc;
	int		rc;

	if (chat_user(rq, rs, 'j', 0) == -1)
		return -1;
	scope_of(rq, &sc);
	rc = db_conversation_delete(rq->db, &sc, req_param(rq, "id"));
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_CONVERSATION_NOT_FOUND);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	return resp_empty(rs, 204);
}

static int
rename_conversation(struct req *rq, struct resp *rs)
{
	static const struct field fields[] = {
		{ "name", F_STRING, 0, NAME_MAX_BYTES },
		{ "auto_generate", F_BOOL, F_NOTNULL, 0 },
		{ NULL, 0, 0, 0 }
	};
	struct scope		 sc;
	struct conversation	 c;
	const char		*name, *id = req_param(rq, "id"), *q;
	char			*title;
	int			 rc;

	if (chat_user(rq, rs, 'j', 0) == -1 ||
	    input_check(rq, rs, fields) == -1)
		return -1;
	scope_of(rq, &sc);
	memset(&c, 0, sizeof(c));
	rc = db_conversation_get(rq->db, &rq->pool, &sc, id, &c);
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_CONVERSATION_NOT_FOUND);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	json_object_put(c.inputs);
	if (input_bool(rq, "auto_generate", 0)) {
		q = db_conversation_first_query(rq->db, &rq->pool, rq->app.id,
		    id);
		if (q == NULL)
			return resp_error_msg(rs, ERR_INVALID_PARAM, "");
		title = gen_conversation_title(rq, q);
		/* a failed model call leaves the name as it was */
		name = title != NULL && *title != '\0' ? title : c.name;
	} else {
		name = input_str(rq, "name");
		while (name != NULL && isspace((unsigned char)*name))
			name++;
		if (name == NULL || *name == '\0')
			return resp_error_msg(rs, ERR_INVALID_PARAM,
			    "name is required when auto_generate is false");
		name = input_str(rq, "name");
	}
	rc = db_conversation_rename(rq->db, &rq->pool, &sc, id, name, &c);
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_CONVERSATION_NOT_FOUND);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	resp_json(rs, 200, conversation_json(&c));
	json_object_put(c.inputs);
	return 0;
}

/* The conversation of the path, checked to be this end user's. */
static int
own_conversation(struct req *rq, struct resp *rs, const char *id)
{
	struct scope		sc;
	struct conversation	c;
	int			rc;

	scope_of(rq, &sc);
	memset(&c, 0, sizeof(c));
	rc = db_conversation_get(rq->db, &rq->pool, &sc, id, &c);
	json_object_put(c.inputs);
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_CONVERSATION_NOT_FOUND);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	return 0;
}

static int
variable_modes(struct req *rq, struct resp *rs, char where)
{
	if (auth_end_user(rq, rs, where, 0) == -1)
		return -1;
	if (strcmp(rq->app.mode, "chat") != 0 &&
	    strcmp(rq->app.mode, "agent-chat") != 0 &&
	    strcmp(rq->app.mode, "advanced-chat") != 0)
		return resp_error(rs, ERR_NOT_CHAT_APP);
	return 0;
}

static int
list_variables(struct req *rq, struct resp *rs)
{
	json_object	*data;
	const char	*id = req_param(rq, "id"), *last_id, *name, *p;
	long long	 limit;
	int		 rc, has_more;

	if (variable_modes(rq, rs, 'q') == -1 ||
	    input_query_int(rq, rs, "limit", 20, 1, 100, &limit) == -1 ||
	    own_conversation(rq, rs, id) == -1)
		return -1;
	last_id = req_query(rq, "last_id");
	if (last_id != NULL && !uuid_valid(last_id))
		return resp_error_msg(rs, ERR_INVALID_PARAM, "");
	name = req_query(rq, "variable_name");
	if (name != NULL) {
		for (p = name; *p != '\0'; p++)
			if (!isalnum((unsigned char)*p) && *p != '-' &&
			    *p != '_' && *p != '.')
				break;
		if (*p != '\0' || strlen(name) > 255)
			return resp_error_msg(rs, ERR_INVALID_PARAM,
			    "Variable name can only contain letters, numbers, "
			    "hyphens (-), underscores (_), and periods (.)");
	}
	data = json_object_new_array();
	rc = db_conv_var_list(rq->db, &rq->pool, rq->app.id, id, last_id,
	    name, (int)limit, data, &has_more);
	if (rc != DB_OK) {
		json_object_put(data);
		if (rc == DB_NOT_FOUND)
			return resp_error_msg(rs, ERR_INVALID_PARAM, "");
		return resp_error(rs, ERR_INTERNAL);
	}
	return resp_json(rs, 200, page_json((int)limit, has_more, data));
}

static const char *
py_type(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "NoneType";
	case json_type_boolean: return "bool";
	case json_type_int: return "int";
	case json_type_double: return "float";
	case json_type_string: return "str";
	case json_type_array: return "list";
	default: return "dict";
	}
}

static int
is_file(json_object *v)
{
	return json_object_is_type(v, json_type_object) &&
	    json_get(v, "transfer_method") != NULL;
}

/* Whether "v" fits a declared variable type (spec 5.5). */
static int
type_fits(const char *type, json_object *v)
{
	enum json_type	 t = json_object_get_type(v);
	const char	*elem;
	size_t		 i, n;

	if (strcmp(type, "string") == 0 || strcmp(type, "secret") == 0)
		return t == json_type_string;
	if (strcmp(type, "number") == 0 || strcmp(type, "integer") == 0)
		return t == json_type_int || t == json_type_double;
	if (strcmp(type, "boolean") == 0)
		return t == json_type_boolean;
	if (strcmp(type, "object") == 0)
		return t == json_type_object;
	if (strcmp(type, "file") == 0)
		return is_file(v);
	if (strncmp(type, "array[", 6) != 0)
		return 1;
	if (t != json_type_array)
		return 0;
	elem = type + 6;
	if (strcmp(elem, "any]") == 0)
		return 1;
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		json_object	*e = json_object_array_get_idx(v, i);
		char		 et[32];

		snprintf(et, sizeof(et), "%.*s", (int)strcspn(elem, "]"), elem);
		if (!type_fits(et, e))
			return 0;
	}
	return 1;
}

static int
update_variable(struct req *rq, struct resp *rs)
{
	static const struct field fields[] = {
		{ "value", F_ANY, F_REQUIRED, 0 },
		{ NULL, 0, 0, 0 }
	};
	struct conv_var	 v;
	json_object	*val;
	const char	*id = req_param(rq, "id"), *vid = req_param(rq, "vid");
	char		 msg[512];
	int		 rc;

	if (variable_modes(rq, rs, 'j') == -1 ||
	    own_conversation(rq, rs, id) == -1)
		return -1;
	/* "value": null is present: only an absent key is refused */
	if (!json_object_object_get_ex(rq->body, "value", &val) &&
	    input_check(rq, rs, fields) == -1)
		return -1;
	memset(&v, 0, sizeof(v));
	rc = db_conv_var_get(rq->db, &rq->pool, rq->app.id, id, vid, &v);
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_VARIABLE_NOT_FOUND);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	json_object_put(v.value);
	v.value = NULL;
	if (!type_fits(v.value_type, val)) {
		snprintf(msg, sizeof(msg), "Type mismatch: variable '%s' "
		    "expects %s, but got %s type", v.name, v.value_type,
		    py_type(val));
		return resp_error_msg(rs, ERR_BAD_REQUEST, msg);
	}
	if (db_conv_var_set(rq->db, rq->app.id, id, vid, val) == -1 ||
	    db_conv_var_get(rq->db, &rq->pool, rq->app.id, id, vid, &v) !=
	    DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	resp_json(rs, 200, conv_var_json(&v));
	json_object_put(v.value);
	return 0;
}

static char *
sign_url(void *ctx, const char *file_id)
{
	return files_signed_url(ctx, file_id);
}

static int
list_messages(struct req *rq, struct resp *rs)
{
	struct url_signer	 sg = { sign_url, rq };
	struct scope	 sc;
	struct buf	 data;
	const char	*cid, *first_id;
	long long	 limit;
	int		 rc, has_more;

	if (chat_user(rq, rs, 'q', 0) == -1)
		return -1;
	cid = req_query(rq, "conversation_id");
	if (cid == NULL)
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "conversation_id is required");
	if (!uuid_valid(cid))
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "conversation_id must be a valid UUID");
	if (query_uuid(rq, rs, "first_id", &first_id) == -1 ||
	    input_query_int(rq, rs, "limit", 20, 1, 100, &limit) == -1 ||
	    own_conversation(rq, rs, cid) == -1)
		return -1;
	scope_of(rq, &sc);
	buf_init(&data, (size_t)64 << 20);
	rc = db_message_page(rq->db, &sc, cid, first_id, (int)limit, &sg,
	    &data, &has_more);
	if (rc != DB_OK) {
		buf_free(&data);
		return resp_error(rs, rc == DB_NOT_FOUND ?
		    ERR_FIRST_MESSAGE_NOT_FOUND : ERR_INTERNAL);
	}
	return page_text(rs, (int)limit, has_more, &data);
}

static json_object *
success(void)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "result", json_object_new_string("success"));
	return o;
}

static int
feedback(struct req *rq, struct resp *rs)
{
	static const struct field fields[] = {
		{ "rating", F_STRING, 0, 16 },
		{ "content", F_STRING, 0, 65536 },
		{ NULL, 0, 0, 0 }
	};
	struct scope	 sc;
	const char	*rating;
	int		 rc;

	if (auth_end_user(rq, rs, 'j', 1) == -1 ||
	    input_check(rq, rs, fields) == -1)
		return -1;
	rating = input_str(rq, "rating");
	if (rating != NULL && strcmp(rating, "like") != 0 &&
	    strcmp(rating, "dislike") != 0)
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "rating must be 'like', 'dislike' or null");
	scope_of(rq, &sc);
	rc = db_feedback_set(rq->db, &rq->pool, &sc, req_param(rq, "id"),
	    rating, input_str(rq, "content"));
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_MESSAGE_NOT_FOUND);
	if (rc == DB_CONFLICT)
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "rating cannot be None when feedback not exists");
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	return resp_json(rs, 200, success());
}

static int
app_feedbacks(struct req *rq, struct resp *rs)
{
	json_object	*data, *o;
	long long	 page, limit;

	if (input_query_int(rq, rs, "page", 1, 1, 1000000, &page) == -1 ||
	    input_query_int(rq, rs, "limit", 20, 1, 101, &limit) == -1)
		return -1;
	data = json_object_new_array();
	if (db_feedback_list(rq->db, rq->app.id, (int)page, (int)limit,
	    data) != DB_OK) {
		json_object_put(data);
		return resp_error(rs, ERR_INTERNAL);
	}
	o = json_object_new_object();
	json_object_object_add(o, "data", data);
	return resp_json(rs, 200, o);
}

/*
 * Follow-up questions from the last three turns.  A model answer that is
 * not a JSON array of strings gives an empty list, as Dify's does.
 */
static int
suggested(struct req *rq, struct resp *rs)
{
	struct scope		 sc;
	struct turn		 turns[3];
	struct llm_request	 lr;
	struct llm_result	 res;
	struct llm_msg		 m[2];
	struct buf		 hist;
	json_object		*model, *data, *parsed, *o;
	const char		*conv = NULL, *text, *open;
	int			 rc, n, i;

	if (chat_user(rq, rs, 'q', 1) == -1)
		return -1;
	scope_of(rq, &sc);
	rc = db_message_owned(rq->db, &rq->pool, &sc, req_param(rq, "id"),
	    &conv);
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_MESSAGE_NOT_FOUND);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	if (!json_object_get_boolean(json_get(json_get(rq->app.config,
	    "suggested_questions_after_answer"), "enabled")))
		return resp_error_msg(rs, ERR_BAD_REQUEST,
		    "Suggested Questions Is Disabled.");
	n = conv ? db_recent_turns(rq->db, &rq->pool, conv,
	    req_param(rq, "id"), 3, turns) : 0;
	buf_init(&hist, 3000 * 4);
	for (i = 0; i < n; i++)
		buf_printf(&hist, "Human: %s\nAssistant: %s\n", turns[i].query,
		    turns[i].answer);
	model = json_get(rq->app.config, "model");
	memset(&lr, 0, sizeof(lr));
	memset(m, 0, sizeof(m));
	m[0].role = "system";
	m[0].content = "Please help me predict the three most likely "
	    "questions that the human would ask next, each no longer than "
	    "twenty words, in the human's language. Output only a JSON array "
	    "of three strings, like [\"question1\",\"question2\",\"question3\"].";
	m[1].role = "user";
	m[1].content = buf_cstr(&hist);
	lr.provider = json_str(model, "provider");
	lr.model = json_str(model, "name");
	lr.msgs = m;
	lr.nmsgs = 2;
	data = json_object_new_array();
	llm_result_init(&res);
	if (lr.provider != NULL && upstream_chat(&lr, &res) == 0) {
		text = buf_cstr(&res.text);
		open = strchr(text, '[');
		parsed = open ? json_tokener_parse(open) : NULL;
		if (parsed != NULL && json_object_is_type(parsed,
		    json_type_array)) {
			for (i = 0; i < (int)json_object_array_length(parsed) &&
			    i < 5; i++) {
				o = json_object_array_get_idx(parsed, (size_t)i);
				if (json_object_is_type(o, json_type_string))
					json_object_array_add(data,
					    json_object_get(o));
			}
		}
		json_object_put(parsed);
	}
	llm_result_free(&res);
	buf_free(&hist);
	o = success();
	json_object_object_add(o, "data", data);
	return resp_json(rs, 200, o);
}
