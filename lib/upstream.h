/*
 * upstream.h: model providers.  An OpenAI-compatible chat-completions
 * client over libcurl (blocking and streaming), and the built-in offline
 * provider.  Providers are configured on the server and referenced by
 * name from an app's model config; their keys never leave this module.
 *
 * Provider configuration (config_get, so environment or config file):
 *   DIFYCGI_PROVIDER_<NAME>_BASE_URL   e.g. https://api.openai.com/v1
 *   DIFYCGI_PROVIDER_<NAME>_API_KEY    sent as "Authorization: Bearer"
 *   DIFYCGI_PROVIDER_<NAME>_MODEL      optional: overrides the app's model
 * <NAME> is the app's provider name upper-cased, '-' as '_'.  The name
 * "offline" is always the built-in offline demo model.
 */
#ifndef UPSTREAM_H
#define UPSTREAM_H

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

#endif
