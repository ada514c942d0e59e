/*
 * gen.c: the generation pipeline of POST /completion-messages and POST
 * /chat-messages (chat and agent-chat modes), and their stop endpoints.
 * Mirrors Dify's service_api/app/completion.py and the easy-UI task
 * pipeline (core/app/task_pipeline): the request is checked in Dify's
 * order, a task slot is taken (per-app limit), the conversation and a
 * "running" message are stored, the upstream answer is streamed to the
 * client event by event and written to the message as it grows, and the
 * message ends "normal" or "error".  A stop request from any process sets
 * the task's flag in the database; the upstream callbacks poll it every
 * 100 ms, abort the transfer, and the stream ends with message_end as
 * Dify's does.  A client that leaves mid-stream aborts the upstream
 * request too (see README, "Stop and disconnect").
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "files/files.h"
#include "task/task.h"
#include "tool/tool.h"

#define QUERY_MAX_BYTES		(256 * 1024)
#define POLL_INTERVAL_S		0.1
#define SAVE_INTERVAL_S		0.5
#define MEMORY_MAX		100
#define DEFAULT_NAME		"New conversation"

struct gen {
	struct req		*rq;
	struct resp		*rs;
	int			 chat;		/* has a conversation */
	int			 agent;
	int			 streaming;
	struct scope		 sc;
	char			 task_id[UUID_LEN + 1];
	char			 message_id[UUID_LEN + 1];
	char			 conversation_id[UUID_LEN + 1];
	int64_t			 created_at;
	struct llm_result	 res;
	const char		*provider;
	double			 started;
	double			 last_poll, last_save, last_beat, next_ping;
	size_t			 saved_len;
	int			 stop_requested;
	int			 timed_out;
	int			 thought_sent;
	int			 position;	/* agent round, from 1 */
	json_object		*thoughts;	/* agent thoughts stored */
};

/* Naming a conversation off the request: one block, strings after it. */
struct naming {
	char	*app_id;
	char	*conversation_id;
	char	*provider;
	char	*model;
	char	*query;
	double	 started;
};

#define NAMING_MAX_S		30	/* one title's model call */
#define NAMING_QUERY_MAX	2000	/* Dify cuts longer queries */
#define NAMING_QUERY_KEEP	300	/* to their ends */

/* ---- events ---- */

static json_object *
envelope(struct gen *g, const char *event)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "event", json_object_new_string(event));
	if (g->chat)
		json_object_object_add(o, "conversation_id",
		    json_object_new_string(g->conversation_id));
	json_object_object_add(o, "message_id",
	    json_object_new_string(g->message_id));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(g->created_at));
	return o;
}

/*
 * One agent thought (a round of the agent: what the model said, the tools
 * it called with their input, what they answered), as an event when
 * streaming and, when "store" is set, into the message's agent_thoughts.
 * Dify sends the same thought id again as the thought fills in.
 */
static int
emit_thought(struct gen *g, const char *thought, const char *tool,
    const char *tool_input, const char *observation, int store)
{
	json_object	*o = envelope(g, "agent_thought"), *t;
	char		 id[UUID_LEN + 1];
	int		 rc = 0;

	/* a thought id per round, stable across its events */
	snprintf(id, sizeof(id), "%.34s%02x", g->message_id,
	    (unsigned)(g->position & 0xff));
	json_object_object_add(o, "task_id", json_object_new_string(g->task_id));
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "position",
	    json_object_new_int(g->position));
	json_object_object_add(o, "thought", json_object_new_string(thought));
	json_object_object_add(o, "observation",
	    json_object_new_string(observation));
	json_object_object_add(o, "tool", json_object_new_string(tool));
	json_object_object_add(o, "tool_labels", json_object_new_object());
	json_object_object_add(o, "tool_input",
	    json_object_new_string(tool_input));
	json_object_object_add(o, "message_files", json_object_new_array());
	if (store && g->thoughts != NULL) {
		t = json_object_new_object();
		json_object_object_add(t, "id", json_object_new_string(id));
		json_object_object_add(t, "position",
		    json_object_new_int(g->position));
		json_object_object_add(t, "thought",
		    json_object_new_string(thought));
		json_object_object_add(t, "tool", json_object_new_string(tool));
		json_object_object_add(t, "tool_input",
		    json_object_new_string(tool_input));
		json_object_object_add(t, "observation",
		    json_object_new_string(observation));
		json_object_array_add(g->thoughts, t);
	}
	if (g->streaming)
		rc = sse_send(g->rq, o);
	else
		json_object_put(o);
	return rc;
}

static int
on_delta(void *arg, const char *text, size_t len)
{
	struct gen	*g = arg;
	json_object	*o;

	if (!g->streaming || len == 0)
		return 0;
	if (g->agent && !g->thought_sent) {
		g->thought_sent = 1;
		if (emit_thought(g, "", "", "", "", 0) == -1)
			return -1;
	}
	o = envelope(g, g->agent ? "agent_message" : "message");
	json_object_object_add(o, "task_id", json_object_new_string(g->task_id));
	json_object_object_add(o, "id", json_object_new_string(g->message_id));
	json_object_object_add(o, "answer",
	    json_object_new_string_len(text, (int)len));
	if (!g->agent)
		json_object_object_add(o, "from_variable_selector", NULL);
	return sse_send(g->rq, o);
}

static int
on_tick(void *arg)
{
	struct gen	*g = arg;
	double		 now = now_mono();
	int		 beat, rc;

	if (now - g->started > cfg->app_max_execution_s) {
		g->timed_out = 1;
		return -1;
	}
	if (now - g->last_poll >= POLL_INTERVAL_S) {
		beat = now - g->last_beat >= task_beat_interval();
		rc = db_task_poll(g->rq->db, g->task_id, beat);
		g->last_poll = now;
		if (beat)
			g->last_beat = now;
		if (rc == 1) {
			g->stop_requested = 1;
			return -1;
		}
	}
	if (now - g->last_save >= SAVE_INTERVAL_S &&
	    g->res.text.len != g->saved_len) {
		db_message_progress(g->rq->db, g->message_id,
		    buf_cstr(&g->res.text));
		g->saved_len = g->res.text.len;
		g->last_save = now;
	}
	if (g->streaming && now >= g->next_ping) {
		g->next_ping += cfg->ping_interval_s;
		if (sse_ping(g->rq) == -1)
			return -1;
	}
	return 0;
}

/* ---- prompt ---- */

/*
 * The messages sent upstream: the pre-prompt (inputs filled) as system
 * prompt for chat, the opening statement, the newest turns of the
 * conversation within the memory window, and the query.  Completion apps
 * send the filled pre-prompt and the query as one user message.
 */
static struct llm_msg *
build_messages(struct gen *g, json_object *inputs, const char *query,
    int new_conversation, int *n)
{
	struct req	*rq = g->rq;
	json_object	*c = rq->app.config;
	const char	*pre = json_str(c, "pre_prompt"), *open;
	struct turn	 turns[MEMORY_MAX];
	struct llm_msg	*m;
	char		*filled;
	int		 nturns = 0, i, k = 0, window;

	filled = prompt_fill(&rq->pool, pre ? pre : "", inputs);
	window = cfg->memory_messages < MEMORY_MAX ? cfg->memory_messages :
	    MEMORY_MAX;
	if (g->chat && !new_conversation && window > 0)
		nturns = db_conversation_history(rq->db, &rq->pool,
		    g->conversation_id, window, turns);
	if (nturns < 0)
		nturns = 0;
	/* the newest turns that fit the token budget (estimated) */
	if (cfg->memory_tokens > 0 && nturns > 0) {
		int	budget = cfg->memory_tokens, keep = 0;

		for (i = nturns - 1; i >= 0; i--) {
			budget -= upstream_estimate_tokens(turns[i].query) +
			    upstream_estimate_tokens(turns[i].answer);
			if (budget < 0)
				break;
			keep++;
		}
		memmove(turns, turns + (nturns - keep),
		    sizeof(turns[0]) * (size_t)keep);
		nturns = keep;
	}
	m = pool_alloc(&rq->pool, sizeof(*m) * (size_t)(3 + 2 * nturns));
	memset(m, 0, sizeof(*m) * (size_t)(3 + 2 * nturns));
	if (!g->chat) {
		m[k].role = "user";
		m[k++].content = *query == '\0' ? filled : *filled == '\0' ?
		    query : pool_printf(&rq->pool, "%s\n\n%s", filled, query);
		*n = k;
		return m;
	}
	if (*filled != '\0') {
		m[k].role = "system";
		m[k++].content = filled;
	}
	open = json_str(c, "opening_statement");
	if (open != NULL && *open != '\0') {
		m[k].role = "assistant";
		m[k++].content = prompt_fill(&rq->pool, open, inputs);
	}
	for (i = 0; i < nturns; i++) {
		m[k].role = "user";
		m[k++].content = turns[i].query;
		m[k].role = "assistant";
		m[k++].content = turns[i].answer;
	}
	m[k].role = "user";
	m[k++].content = query;
	*n = k;
	return m;
}

/* ---- the pipeline ---- */

/*
 * A long query is cut to its ends for naming, as Dify does (over 2000
 * bytes: the first and last 300, cut on character boundaries).
 */
static const char *
naming_query(struct pool *p, const char *q)
{
	size_t	n = strlen(q), head = NAMING_QUERY_KEEP, tail;

	if (n <= NAMING_QUERY_MAX)
		return q;
	while (head > 0 && ((unsigned char)q[head] & 0xc0) == 0x80)
		head--;
	tail = n - NAMING_QUERY_KEEP;
	while (tail < n && ((unsigned char)q[tail] & 0xc0) == 0x80)
		tail++;
	return pool_printf(p, "%.*s...[TRUNCATED]...%s", (int)head, q,
	    q + tail);
}

/*
 * A title for a conversation that starts with "query", from the model
 * (provider, model), strings from "p"; NULL when the call fails or
 * "on_tick" gives up.
 */
static char *
title_of(struct pool *p, const char *provider, const char *model,
    const char *query, int (*on_tick)(void *), void *arg)
{
	struct llm_request	 lr;
	struct llm_result	 res;
	struct llm_msg		 m[2];
	char			*title = NULL, *s;
	size_t			 n;

	if (provider == NULL || query == NULL)
		return NULL;
	if (strcmp(provider, "offline") == 0) {
		/* the offline model cannot summarise: the query's start */
		n = strlen(query) > 40 ? 40 : strlen(query);
		while (n > 0 && ((unsigned char)query[n] & 0xc0) == 0x80)
			n--;
		return pool_strndup(p, query, n);
	}
	memset(&lr, 0, sizeof(lr));
	memset(m, 0, sizeof(m));
	m[0].role = "system";
	m[0].content = "You name conversations. Reply with a short title of "
	    "at most eight words for a conversation that starts with the "
	    "user's message, in the user's language, without quotes or "
	    "punctuation at the end.";
	m[1].role = "user";
	m[1].content = naming_query(p, query);
	lr.provider = provider;
	lr.model = model;
	lr.msgs = m;
	lr.nmsgs = 2;
	lr.on_tick = on_tick;
	lr.arg = arg;
	llm_result_init(&res);
	if (upstream_chat(&lr, &res) == 0) {
		title = pool_strdup(p, buf_cstr(&res.text));
		for (s = title; *s != '\0'; s++)
			if (*s == '\n' || *s == '\r')
				*s = ' ';
		if (strlen(title) > 200) {
			n = 200;	/* on a character boundary */
			while (n > 0 &&
			    ((unsigned char)title[n] & 0xc0) == 0x80)
				n--;
			title[n] = '\0';
		}
	}
	llm_result_free(&res);
	return title;
}

/* The model call of a background title gives up in time. */
static int
naming_tick(void *arg)
{
	struct naming	*nm = arg;

	return serve_stopping() || now_mono() - nm->started > NAMING_MAX_S ?
	    -1 : 0;
}

/*
 * The background job: the title from the model, stored only while the
 * conversation still has its default name (a client's rename wins).  Any
 * failure leaves the default name.
 */
static void
name_job(struct db *db, void *arg)
{
	struct naming	*nm = arg;
	struct pool	 p = { NULL };
	char		*title;

	nm->started = now_mono();
	title = title_of(&p, nm->provider, nm->model, nm->query, naming_tick,
	    nm);
	if (title != NULL && *title != '\0' &&
	    db_conversation_name_auto(db, nm->app_id, nm->conversation_id,
	    DEFAULT_NAME, title) == -1)
		log_error("conversation %s: title not stored",
		    nm->conversation_id);
	pool_free_all(&p);
}

/* Copy "s" after *at, moving *at past it. */
static char *
put_str(char **at, const char *s)
{
	size_t	 n = strlen(s);
	char	*r = *at;

	memcpy(r, s, n + 1);
	*at += n + 1;
	return r;
}

void
gen_name_later(struct req *rq, const char *conversation_id,
    const char *query)
{
	json_object	*model = json_get(rq->app.config, "model");
	const char	*provider = json_str(model, "provider");
	const char	*name = json_str(model, "name");
	struct naming	*nm;
	char		*at;

	if (provider == NULL || query == NULL)
		return;		/* no model to ask: the default name stays */
	if (name == NULL)
		name = "";
	/* the job keeps what the title needs, at most ~600 bytes of query */
	query = naming_query(&rq->pool, query);
	nm = xmalloc(sizeof(*nm) + strlen(rq->app.id) +
	    strlen(conversation_id) + strlen(provider) + strlen(name) +
	    strlen(query) + 5);
	at = (char *)(nm + 1);
	nm->app_id = put_str(&at, rq->app.id);
	nm->conversation_id = put_str(&at, conversation_id);
	nm->provider = put_str(&at, provider);
	nm->model = put_str(&at, name);
	nm->query = put_str(&at, query);
	nm->started = 0;
	serve_defer(rq, name_job, nm);
}

static json_object *
blocking_body(struct gen *g, json_object *usage)
{
	json_object	*o = json_object_new_object(), *meta;

	json_object_object_add(o, "event", json_object_new_string("message"));
	json_object_object_add(o, "task_id", json_object_new_string(g->task_id));
	json_object_object_add(o, "id", json_object_new_string(g->message_id));
	json_object_object_add(o, "message_id",
	    json_object_new_string(g->message_id));
	if (g->chat)
		json_object_object_add(o, "conversation_id",
		    json_object_new_string(g->conversation_id));
	json_object_object_add(o, "mode",
	    json_object_new_string(g->rq->app.mode));
	json_object_object_add(o, "answer",
	    json_object_new_string(buf_cstr(&g->res.text)));
	meta = json_object_new_object();
	json_object_object_add(meta, "annotation_reply", NULL);
	json_object_object_add(meta, "retriever_resources",
	    json_object_new_array());
	json_object_object_add(meta, "usage", usage);
	json_object_object_add(o, "metadata", meta);
	json_object_object_add(o, "created_at",
	    json_object_new_int64(g->created_at));
	return o;
}

static json_object *
end_event(struct gen *g, json_object *usage)
{
	json_object	*o = envelope(g, "message_end"), *meta;

	json_object_object_add(o, "task_id", json_object_new_string(g->task_id));
	json_object_object_add(o, "id", json_object_new_string(g->message_id));
	meta = json_object_new_object();
	json_object_object_add(meta, "annotation_reply", NULL);
	json_object_object_add(meta, "retriever_resources",
	    json_object_new_array());
	json_object_object_add(meta, "usage", usage);
	json_object_object_add(o, "metadata", meta);
	json_object_object_add(o, "files", json_object_new_array());
	return o;
}

/*
 * The tools an agent-chat app declares (agent_mode.tools, enabled ones)
 * as an OpenAI tools array, or NULL when it has none we can run.
 */
static json_object *
agent_tools(struct gen *g)
{
	json_object		*list = json_get(json_get(g->rq->app.config,
				    "agent_mode"), "tools"), *out, *t, *en;
	const struct tool_def	*def;
	size_t			 i, n;

	out = json_object_new_array();
	n = list && json_object_is_type(list, json_type_array) ?
	    json_object_array_length(list) : 0;
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(list, i);
		en = json_get(t, "enabled");
		if (en != NULL && !json_object_get_boolean(en))
			continue;
		def = tool_find(json_str(t, "provider_id"),
		    json_str(t, "tool_name"));
		if (def == NULL)
			def = tool_find(NULL, json_str(t, "tool_name"));
		if (def == NULL) {
			log_warn("app %s: tool %s/%s is not built in; left out",
			    g->rq->app.id, json_str(t, "provider_id"),
			    json_str(t, "tool_name"));
			continue;
		}
		json_object_array_add(out, tool_schema(def));
	}
	if (json_object_array_length(out) == 0) {
		json_object_put(out);
		return NULL;
	}
	return out;
}

/*
 * Agent chat by function calling, as Dify's FunctionCallAgentRunner: each
 * round streams the model's text as agent_message events and, when the
 * model calls tools, runs them, sends an agent_thought with the calls and
 * their observations, and gives the results back to the model; the last
 * round (agent_mode.max_iteration, 5 by default) offers no tools, so the
 * model answers.  The answer is the text of every round.
 */
static int
agent_run(struct gen *g, struct llm_request *lr)
{
	struct req		*rq = g->rq;
	json_object		*tools = agent_tools(g), *mi, *calls, *c, *fn;
	json_object		*input, *obs, *args;
	struct llm_result	 r;
	struct llm_msg		*msgs;
	struct buf		 out;
	const struct tool_def	*def;
	const char		*name, *argtext;
	char			 err[256], *names;
	int			 max_iter = 5, round, rc = 0, n = lr->nmsgs;
	int			 first = n;
	size_t			 i, k;

	mi = json_get(json_get(rq->app.config, "agent_mode"), "max_iteration");
	if (mi != NULL && json_object_get_int(mi) > 0)
		max_iter = json_object_get_int(mi) > 20 ? 20 :
		    json_object_get_int(mi);
	g->thoughts = json_object_new_array();
	/* room for every round's assistant message and tool results */
	k = (size_t)(n + max_iter * (1 + 16));
	msgs = pool_alloc(&rq->pool, sizeof(*msgs) * k);
	memset(msgs, 0, sizeof(*msgs) * k);	/* parts, ids: none */
	memcpy(msgs, lr->msgs, sizeof(*msgs) * (size_t)n);
	/*
	 * msgs[first..n) are this loop's: the rounds' assistant messages,
	 * whose tool_calls are our copies, and the tool results.  lr->nmsgs
	 * follows n each round, so only "first" says where ours begin.
	 */
	for (round = 1; round <= max_iter; round++) {
		g->position = round;
		g->thought_sent = 0;
		lr->msgs = msgs;
		lr->nmsgs = n;
		lr->tools = round < max_iter ? tools : NULL;
		llm_result_init(&r);
		rc = upstream_chat(lr, &r);
		buf_append(&g->res.text, r.text.p ? r.text.p : "", r.text.len);
		g->res.prompt_tokens += r.prompt_tokens;
		g->res.completion_tokens += r.completion_tokens;
		g->res.usage_known = r.usage_known;
		calls = r.tool_calls;
		if (rc != 0 || calls == NULL ||
		    json_object_array_length(calls) == 0) {
			if (rc == -1) {
				g->res.err = r.err;
				memcpy(g->res.errmsg, r.errmsg,
				    sizeof(g->res.errmsg));
			} else if (emit_thought(g, buf_cstr(&r.text), "", "", "",
			    1) == -1)
				rc = 1;
			llm_result_free(&r);
			break;
		}
		/* the model called tools: run each, gather their answers */
		input = json_object_new_object();
		obs = json_object_new_object();
		names = pool_strdup(&rq->pool, "");
		msgs[n].role = "assistant";
		msgs[n].content = r.text.len ? pool_strdup(&rq->pool,
		    r.text.p) : NULL;
		msgs[n].tool_calls = json_copy(calls);
		n++;
		k = json_object_array_length(calls);
		for (i = 0; i < k && i < 16; i++) {
			c = json_object_array_get_idx(calls, i);
			fn = json_get(c, "function");
			name = json_str(fn, "name");
			argtext = json_str(fn, "arguments");
			args = argtext ? json_tokener_parse(argtext) : NULL;
			def = tool_find(NULL, name);
			buf_init(&out, 256 * 1024);
			if (def == NULL)
				buf_printf(&out, "there is no tool named %s",
				    name ? name : "(none)");
			else if (tool_run(def, args, &out, err,
			    sizeof(err)) == -1)
				buf_printf(&out, "tool error: %s", err);
			json_object_object_add(input, name ? name : "",
			    args ? args : json_object_new_object());
			json_object_object_add(obs, name ? name : "",
			    json_object_new_string(buf_cstr(&out)));
			names = pool_printf(&rq->pool, "%s%s%s", names,
			    *names ? ";" : "", name ? name : "");
			msgs[n].role = "tool";
			msgs[n].tool_call_id = pool_strdup(&rq->pool,
			    json_str(c, "id"));
			msgs[n].content = pool_strdup(&rq->pool, buf_cstr(&out));
			n++;
			buf_free(&out);
		}
		if (emit_thought(g, buf_cstr(&r.text), names,
		    json_compact(input), json_compact(obs), 1) == -1)
			rc = 1;
		json_object_put(input);
		json_object_put(obs);
		llm_result_free(&r);
		if (rc != 0 || g->stop_requested || rq->client_gone)
			break;
	}
	/* every way out of the loop (answer, error, stop, client gone, last
	 * round) comes here: put the copies of every round */
	for (i = (size_t)first; i < (size_t)n; i++)
		json_object_put(msgs[i].tool_calls);
	json_object_put(tools);
	return rc;
}

/*
 * Run the generation of "g" once the request is checked and stored; ends
 * the message, the task and the reply.
 */
static int
generate(struct gen *g, struct llm_msg *msgs, int nmsgs)
{
	struct req		*rq = g->rq;
	struct resp		*rs = g->rs;
	json_object		*model = json_get(rq->app.config, "model"), *usage;
	struct llm_request	 lr;
	struct message_end	 me;
	char			 price[32];
	int			 rc, ptok, ctok;
	double			 latency;
	const char		*answer;

	memset(&lr, 0, sizeof(lr));
	lr.provider = g->provider;
	lr.model = json_str(model, "name");
	lr.params = json_get(model, "completion_params");
	lr.msgs = msgs;
	lr.nmsgs = nmsgs;
	lr.stream = 1;	/* also for blocking clients: stop and progress */
	lr.on_delta = on_delta;
	lr.on_tick = on_tick;
	lr.arg = g;
	if (g->streaming && sse_begin(rq, rs) == -1)
		rc = 1;
	else if (g->agent)
		rc = agent_run(g, &lr);
	else
		rc = upstream_chat(&lr, &g->res);
	latency = now_mono() - g->started;
	answer = buf_cstr(&g->res.text);
	ptok = g->res.prompt_tokens;
	ctok = g->res.completion_tokens;
	if (!g->res.usage_known) {
		ptok = 0;
		for (int i = 0; i < nmsgs; i++)
			if (msgs[i].content != NULL)
				ptok += upstream_estimate_tokens(
				    msgs[i].content);
		ctok = upstream_estimate_tokens(answer);
	}
	usage = json_object_new_object();
	usage_json(usage, g->provider, ptok, ctok, latency, price);

	memset(&me, 0, sizeof(me));
	me.answer = answer;
	me.message_tokens = ptok;
	me.answer_tokens = ctok;
	me.total_price = price;
	me.latency = latency;
	me.status = "normal";
	if (rc == -1) {
		me.status = "error";
		me.error = g->res.errmsg;
	} else if (rq->client_gone) {
		me.status = "error";
		me.error = "The client disconnected before the answer was "
		    "complete.";
	}
	me.agent_thoughts = g->thoughts;
	if (db_message_finish(rq->db, g->message_id, &me) == -1)
		log_error("message %s: not finished in the database",
		    g->message_id);
	json_object_put(g->thoughts);
	g->thoughts = NULL;
	db_task_finish(rq->db, g->task_id);
	if (g->chat)
		db_conversation_touch(rq->db, g->conversation_id);
	if (g->stop_requested || g->timed_out)
		log_info("task %s stopped after %.3f s", g->task_id, latency);

	if (g->streaming) {
		if (rq->client_gone) {
			json_object_put(usage);
			return 0;
		}
		if (rc == -1) {
			json_object	*o = envelope(g, "error");

			json_object_object_add(o, "code", json_object_new_string(
			    err_table[g->res.err].code));
			json_object_object_add(o, "message",
			    json_object_new_string(g->res.errmsg));
			json_object_object_add(o, "status", json_object_new_int(
			    err_table[g->res.err].status));
			json_object_put(usage);
			return sse_send(g->rq, o);
		}
		return sse_send(g->rq, end_event(g, usage));
	}
	if (rc == -1) {
		json_object_put(usage);
		return resp_error_msg(rs, g->res.err, g->res.errmsg);
	}
	return resp_json(rs, 200, blocking_body(g, usage));
}

static int
generation(struct req *rq, struct resp *rs, int chat)
{
	struct gen		 g;
	struct conversation	 conv;
	struct message_new	 mn;
	struct files_use	 fu;
	json_object		*inputs = NULL, *qv, *model;
	struct llm_msg		*msgs;
	char			*query;
	const char		*cid, *s;
	int			 nmsgs, rc, new_conv = 1, n, i, j;

	/* the end user comes before the mode check, as in Dify */
	if (auth_end_user(rq, rs, 'j', 1) == -1)
		return -1;
	if (chat && !app_mode_is_chat(rq->app.mode))
		return resp_error(rs, ERR_NOT_CHAT_APP);
	if (!chat && strcmp(rq->app.mode, "completion") != 0)
		return resp_error(rs, ERR_APP_UNAVAILABLE);
	if (input_check(rq, rs, task_request_fields) == -1)
		return -1;

	memset(&g, 0, sizeof(g));
	g.rq = rq;
	g.rs = rs;
	g.chat = chat;
	g.agent = strcmp(rq->app.mode, "agent-chat") == 0;
	if (task_response_mode(rq, rs, &g.streaming) == -1)
		return -1;

	/* query: required for chat; NUL characters stripped, as Dify does */
	qv = json_get(rq->body, "query");
	if (qv != NULL && !json_object_is_type(qv, json_type_string))
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "query must be a string");
	n = qv ? json_object_get_string_len(qv) : 0;
	if (n > QUERY_MAX_BYTES)
		return resp_error_msg(rs, ERR_INVALID_PARAM, "query is too long");
	query = pool_alloc(&rq->pool, (size_t)n + 1);
	s = qv ? json_object_get_string(qv) : "";
	for (i = j = 0; i < n; i++)
		if (s[i] != '\0')
			query[j++] = s[i];
	query[j] = '\0';
	if (chat && *query == '\0')
		return resp_error_msg(rs, ERR_INVALID_PARAM, "query is required");
	if (g.agent && !g.streaming)
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "Agent Chat App does not support blocking mode");

	g.sc.app_id = rq->app.id;
	g.sc.end_user_id = rq->user.id;
	memset(&conv, 0, sizeof(conv));
	cid = input_str(rq, "conversation_id");
	while (cid != NULL && isspace((unsigned char)*cid))
		cid++;
	if (chat && cid != NULL && *cid != '\0') {
		if (!uuid_valid(cid))
			return resp_error_msg(rs, ERR_INVALID_PARAM,
			    "conversation_id must be a valid UUID");
		rc = db_conversation_get(rq->db, &rq->pool, &g.sc, cid, &conv);
		if (rc == DB_NOT_FOUND)
			return resp_error(rs, ERR_CONVERSATION_NOT_FOUND);
		if (rc != DB_OK)
			return resp_error(rs, ERR_INTERNAL);
		json_object_put(conv.inputs);
		if (strcmp(conv.status, "normal") != 0)
			return resp_error(rs, ERR_CONVERSATION_COMPLETED);
		snprintf(g.conversation_id, sizeof(g.conversation_id), "%s",
		    conv.id);
		new_conv = 0;
	}
	model = json_get(rq->app.config, "model");
	g.provider = json_str(model, "provider");
	if (model == NULL || g.provider == NULL || json_str(model, "name") ==
	    NULL)
		return resp_error(rs, ERR_APP_UNAVAILABLE);
	if (!upstream_known(g.provider))
		return resp_error(rs, ERR_PROVIDER_NOT_INITIALIZE);
	inputs = prompt_inputs(json_get(rq->app.config, "user_input_form"),
	    json_get(rq->body, "inputs"), rs);
	if (inputs == NULL)
		return -1;
	if (files_use_request(rq, rs, &fu) == -1) {
		json_object_put(inputs);
		return -1;
	}

	if (task_start(rq, rs, &g.sc, chat ? "chat" : "completion",
	    g.task_id) == -1) {
		json_object_put(inputs);
		files_use_free(&fu);
		return -1;
	}
	if (chat && new_conv) {
		const char	*intro = json_str(rq->app.config,
		    "opening_statement");

		if (db_conversation_create(rq->db, &g.sc, DEFAULT_NAME, inputs,
		    intro ? intro : "", g.conversation_id, &g.created_at) == -1)
			goto internal;
	}
	memset(&mn, 0, sizeof(mn));
	mn.conversation_id = chat ? g.conversation_id : NULL;
	mn.task_id = g.task_id;
	mn.mode = rq->app.mode;
	mn.query = query;
	mn.inputs = inputs;
	mn.message_files = fu.message_files;
	if (db_message_create(rq->db, &g.sc, &mn, g.message_id,
	    &g.created_at) == -1)
		goto internal;

	msgs = build_messages(&g, inputs, query, new_conv, &nmsgs);
	files_use_attach(&fu, &msgs[nmsgs - 1]);
	llm_result_init(&g.res);
	g.started = rq->started;
	g.last_poll = g.last_save = g.last_beat = now_mono();
	g.next_ping = g.started + cfg->ping_interval_s;
	rc = generate(&g, msgs, nmsgs);
	llm_result_free(&g.res);
	json_object_put(inputs);
	files_use_free(&fu);

	if (chat && new_conv && input_bool(rq, "auto_generate_name", 1))
		gen_name_later(rq, g.conversation_id, query);
	return rc;
internal:
	json_object_put(inputs);
	files_use_free(&fu);
	db_task_finish(rq->db, g.task_id);
	return resp_error(rs, ERR_INTERNAL);
}

int
gen_chat_messages(struct req *rq, struct resp *rs)
{
	return generation(rq, rs, 1);
}

int
gen_completion_messages(struct req *rq, struct resp *rs)
{
	return generation(rq, rs, 0);
}

int
gen_stop(struct req *rq, struct resp *rs, int chat)
{
	struct scope	 sc;
	json_object	*o;

	if (auth_end_user(rq, rs, 'j', 1) == -1)
		return -1;
	if (chat && !app_mode_is_chat(rq->app.mode))
		return resp_error(rs, ERR_NOT_CHAT_APP);
	if (!chat && strcmp(rq->app.mode, "completion") != 0)
		return resp_error(rs, ERR_APP_UNAVAILABLE);
	sc.app_id = rq->app.id;
	sc.end_user_id = rq->user.id;
	/* only the task's own end user sets the flag; always "success" */
	if (db_task_request_stop(rq->db, req_param(rq, "task_id"), &sc) == -1)
		return resp_error(rs, ERR_INTERNAL);
	o = json_object_new_object();
	json_object_object_add(o, "result", json_object_new_string("success"));
	return resp_json(rs, 200, o);
}

char *
gen_conversation_title(struct req *rq, const char *query)
{
	json_object	*model = json_get(rq->app.config, "model");

	return title_of(&rq->pool, json_str(model, "provider"),
	    json_str(model, "name"), query, NULL, NULL);
}
