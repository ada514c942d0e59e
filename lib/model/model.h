/*
 * model.h: the door of lib/model/, model providers.  An OpenAI-compatible
 * chat-completions client over libcurl (blocking and streaming), speech,
 * embeddings and rerank, and the built-in offline provider.  Providers
 * are configured on the server and referenced by name from an app's
 * model config; their keys never leave this module.
 *
 * Provider configuration (config_get, so environment or config file):
 *   DIFYCGI_PROVIDER_<NAME>_BASE_URL   e.g. https://api.openai.com/v1
 *   DIFYCGI_PROVIDER_<NAME>_API_KEY    sent as "Authorization: Bearer"
 *   DIFYCGI_PROVIDER_<NAME>_MODEL      optional: overrides the app's model
 * <NAME> is the app's provider name upper-cased, '-' as '_' (and any
 * other character that cannot be in a variable name, such as the '/' of
 * Dify plugin names, as '_' too).  A plugin name "org/plugin/provider"
 * with no variables of its own falls back to those of its last part,
 * so DIFYCGI_PROVIDER_OPENAI_* also serves "langgenius/openai/openai".
 * The name "offline" is always the built-in offline demo model.
 *
 * Errors (res->err) follow Dify's mapping of model-runtime faults:
 *   HTTP 401/403                   provider_not_initialize
 *   HTTP 404                       model_currently_not_support
 *   HTTP 429 insufficient_quota    provider_quota_exceeded
 *   HTTP 429 otherwise             completion_request_error
 *                                  "[<provider>] Rate Limit Error, ..."
 *   other 4xx, 5xx, timeouts, refused or lost connections, malformed
 *   streams, error objects in a stream, answers over UPSTREAM_TEXT_MAX
 *                                  completion_request_error
 *   unknown provider name          provider_not_initialize
 * Messages start with "[<provider>] " as Dify's do, but for a quota and
 * an unknown provider, which carry the table's text.  Credential errors
 * never quote the provider (its text can echo a masked key), and the
 * API key never appears in a message or a log line.  A mid-stream
 * error leaves what arrived before it in res->text.
 */
#ifndef MODEL_H
#define MODEL_H

#include "http/http.h"


#define UPSTREAM_TEXT_MAX	(4 * 1024 * 1024)	/* res->text cap */
#define UPSTREAM_LINE_MAX	(1024 * 1024)	/* one line of a stream */

struct llm_msg {
	const char	*role;		/* system, user, assistant, tool */
	const char	*content;	/* text, or NULL when parts is set */
	json_object	*parts;		/* OpenAI content parts (vision), borrowed */
	json_object	*tool_calls;	/* assistant tool calls, borrowed */
	const char	*tool_call_id;	/* role tool */
};

struct llm_request {
	const char		*provider;	/* name from the model config */
	const char		*model;
	json_object		*params;	/* completion_params, borrowed */
	const struct llm_msg	*msgs;
	int			 nmsgs;
	json_object		*tools;		/* OpenAI tools array or NULL */
	int			 stream;
	/*
	 * Streaming: called with each text delta as it arrives.  Return
	 * -1 to stop (client gone); the transfer is then aborted.
	 */
	int			(*on_delta)(void *arg, const char *text,
				    size_t len);
	/*
	 * Called at least every 100 ms while waiting, bytes or not.
	 * Return -1 to stop (a stop request); the transfer is aborted.
	 */
	int			(*on_tick)(void *arg);
	void			*arg;
};

struct llm_result {
	struct buf	 text;		/* the whole answer (capped) */
	int		 prompt_tokens;
	int		 completion_tokens;
	int		 usage_known;	/* from the provider, else estimated */
	json_object	*tool_calls;	/* assembled tool calls, owned, or NULL */
	char		 finish_reason[32];
	double		 latency_s;	/* request start to last byte */
	double		 first_token_s;	/* request start to first delta, or -1 */
	enum err	 err;		/* ERR__MAX when none */
	char		 errmsg[512];	/* Dify-style message for err */
	int		 stopped;	/* on_tick/on_delta asked to stop */
};

void	 llm_result_init(struct llm_result *);
void	 llm_result_free(struct llm_result *);
/*
 * Run one chat completion.  Returns 0 on success, 1 when stopped by a
 * callback (what arrived so far is in res->text), -1 on failure with
 * res->err and res->errmsg set.
 */
int	 upstream_chat(const struct llm_request *, struct llm_result *);
/* Whether a provider name is configured (or is "offline"). */
int	 upstream_known(const char *provider);
/* Rough token estimate for text (when the provider reports no usage). */
int	 upstream_estimate_tokens(const char *text);

/*
 * Shared with upstream_audio.c and files.c.  A configured provider by
 * name as upstream_chat finds it (never "offline"); strings borrowed from
 * the configuration.  0 or -1.
 */
struct upstream_provider {
	const char	*base_url;
	const char	*api_key;	/* NULL: none sent */
};
int	 upstream_provider_get(const char *name, struct upstream_provider *);
/* DIFYCGI_PROVIDER_<NAME>_<what> of the provider found by that name. */
const char *upstream_provider_var(const char *name, const char *what);
/* Replace every copy of "key" in "s" by "***" (NULL key: nothing). */
void	 upstream_scrub(char *s, const char *key);
/* curl_global_init, once per process.  0 or -1. */
int	 upstream_curl_init(void);

/*
 * upstream_sse.c: parsing what a provider sends back, without I/O, so
 * that it can be unit tested and fuzzed.  Used by upstream_chat; exposed
 * for tests/unit/test_upstream.c and tests/fuzz/fuzz_upstream_sse.c.
 *
 * The incremental parser of a streamed answer (server-sent events of
 * chat.completion.chunk objects).  Feed it bytes as they arrive, split
 * anywhere.  Text deltas go to res->text and to rq->on_delta (when set);
 * tool-call deltas are assembled by index and land in res->tool_calls
 * at upstream_sse_finish; finish_reason and usage go to res.  Every line
 * and event is capped at "line_max" bytes, the answer at res->text.max:
 * past either the stream counts as malformed.
 */
struct upstream_tool_call;
struct upstream_sse {
	const struct llm_request	*rq;	/* provider, on_delta, arg */
	struct llm_result		*res;
	double				 t0;	/* for res->first_token_s */
	struct buf			 line;	/* the line being read */
	struct buf			 data;	/* data lines of this event */
	int				 have_data;
	int				 after_cr; /* skip a LF that follows */
	int				 state;
	struct upstream_tool_call	*calls;
	int				 ncalls;
};

/* Start parsing for "rq" into "res" (from llm_result_init). */
void	 upstream_sse_init(struct upstream_sse *, const struct llm_request *,
	    struct llm_result *, size_t line_max);
/*
 * Parse "len" more bytes.  Returns 0 (more welcome; after "data: [DONE]"
 * the rest is ignored), 1 when on_delta returned -1 (res->stopped set),
 * or -1 with res->err and res->errmsg set.  After 1 or -1 every later
 * call returns the same and parses nothing.
 */
int	 upstream_sse_feed(struct upstream_sse *, const char *, size_t);
/*
 * The stream has ended: parse a last unterminated event, move assembled
 * tool calls to res->tool_calls.  Returns 0, 1 (stopped earlier) or -1:
 * failed earlier, or the stream ended with neither [DONE] nor a
 * finish_reason (cut short).
 */
int	 upstream_sse_finish(struct upstream_sse *);
void	 upstream_sse_free(struct upstream_sse *);

/*
 * Parse a blocking chat.completion body into "res": text, tool calls
 * (copied), finish_reason, usage.  Returns 0, or -1 with res->err set
 * (not JSON, no choices, an error object, text over res->text.max).
 */
int	 upstream_parse_answer(struct llm_result *, const char *provider,
	    const char *body, size_t len);
/* Map a provider's HTTP error reply to a Dify error in res (table above). */
void	 upstream_http_error(struct llm_result *, const char *provider,
	    long status, const char *body, size_t len);


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


/* ---- usage.c ---- */

/* Price strings as Dify writes them ("0.0012890"). */
void	 usage_json(json_object *, const char *provider, int ptok,
	    int ctok, double latency, char total_price[32]);

/* ---- upstream_audio.c: speech over the app's model provider ---- */

#define UPSTREAM_NO_SPEECH	2	/* the provider has no such model */

/*
 * Transcribe the audio file at "path" ("mime" as declared) with the
 * provider's speech-to-text model (DIFYCGI_PROVIDER_<NAME>_STT_MODEL,
 * default whisper-1; "none" for none): POST {base}/audio/transcriptions.
 * Returns 0 with the text in res->text, UPSTREAM_NO_SPEECH (the offline
 * provider, or none configured), or -1 with res->err and res->errmsg as
 * upstream_chat sets them.
 */
int	 upstream_transcribe(const char *provider, const char *path,
	    const char *mime, struct llm_result *res);
/*
 * Synthesize "text" with "voice" (the provider's
 * DIFYCGI_PROVIDER_<NAME>_TTS_VOICE, else "alloy", when NULL) and the
 * provider's text-to-speech model (DIFYCGI_PROVIDER_<NAME>_TTS_MODEL,
 * default tts-1; "none" for none): POST {base}/audio/speech, in pieces
 * of at most 4000 bytes cut at sentence ends.  The audio goes to
 * "on_audio" as it arrives, with the provider's Content-Type; on_audio
 * returning -1 stops (client gone: res->stopped).  Returns 0, 1 when
 * stopped, UPSTREAM_NO_SPEECH, or -1 with res->err set; res->text holds
 * nothing.
 */
int	 upstream_speech(const char *provider, const char *text,
	    const char *voice, int (*on_audio)(void *arg, const char *ctype,
	    const char *, size_t), void *arg, struct llm_result *res);

/* ---- upstream_embed.c: text embeddings and reranking ---- */

#define UPSTREAM_EMBED_DIM_MAX	16384	/* longest vector accepted */
#define UPSTREAM_EMBED_TEXTS_MAX 100000	/* texts in one call */
#define UPSTREAM_OFFLINE_DIM	256	/* the offline demo model's */

struct embed_result {
	float		*vec;		/* n rows of dim floats, owned */
	int		 n;		/* rows: the texts given */
	int		 dim;
	int		 tokens;	/* total_tokens summed over batches */
	int		 requests;	/* HTTP requests made, retries too */
	enum err	 err;		/* ERR__MAX when none */
	char		 errmsg[512];	/* as upstream_chat words them */
};

struct rerank_hit {
	int		 index;		/* into the documents given */
	double		 score;
};

struct rerank_result {
	struct rerank_hit *hits;	/* best first, owned */
	int		 nhits;		/* at most top_n */
	int		 tokens;
	int		 requests;
	enum err	 err;
	char		 errmsg[512];
};

void	 embed_result_init(struct embed_result *);
void	 embed_result_free(struct embed_result *);
void	 rerank_result_init(struct rerank_result *);
void	 rerank_result_free(struct rerank_result *);

/*
 * Embed n texts with "model" of "provider": POST {base}/embeddings in
 * batches of DIFYCGI_PROVIDER_<NAME>_EMBED_BATCH texts (default 32, as
 * Dify's OpenAI provider declares max_chunks; 1 for servers that take a
 * single input).  DIFYCGI_PROVIDER_<NAME>_EMBED_ENCODING "float"
 * (default, as Dify sends) or "base64"; _EMBED_DIMENSIONS, when set, is
 * sent as "dimensions".  A 429 (not a quota) and 5xx or transport faults
 * are retried after 250, 500 and 1000 ms; the whole call, every batch
 * and retry, ends within DIFYCGI_UPSTREAM_TOTAL_MS (a caller embedding
 * more than that allows calls once per part).
 * Every vector must have the same length.  Row i of res->vec is text i.
 * "offline" is the built-in demo model (upstream_offline_embed).
 * Returns 0, or -1 with res->err and res->errmsg set (the key scrubbed).
 */
int	 upstream_embed(const char *provider, const char *model,
	    const char *const *texts, int n, struct embed_result *res);
/*
 * Score n documents against "query" with a rerank model: POST
 * {base}/rerank as Jina, Cohere and vLLM serve it.  res->hits holds the
 * best top_n (all when top_n < 1), best first.  Retries as above.  The
 * "offline" provider scores by the cosine of offline embeddings.
 * Returns 0, or -1 with res->err set.
 */
int	 upstream_rerank(const char *provider, const char *model,
	    const char *query, const char *const *docs, int n, int top_n,
	    struct rerank_result *res);
/*
 * The offline demo embedding: NOT a language model.  Character trigrams
 * of the normalised text (ASCII lower-cased, runs of other ASCII bytes
 * one space) hashed into UPSTREAM_OFFLINE_DIM signed buckets, then
 * L2-normalised, so texts that share spelling are near.  An empty text
 * gives the first unit vector.
 */
void	 upstream_offline_embed(const char *text,
	    float out[UPSTREAM_OFFLINE_DIM]);

#endif
