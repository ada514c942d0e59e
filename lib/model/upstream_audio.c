/*
 * upstream_audio.c: speech through a model provider's OpenAI-compatible
 * endpoints: POST {base}/audio/transcriptions (multipart/form-data, the
 * audio streamed from its file by curl) and POST {base}/audio/speech
 * (JSON in, audio out, handed on as it arrives).  Providers, their keys
 * and the mapping of their errors to Dify's are upstream.c's (see
 * upstream.h); the key goes to curl and nowhere else.  The offline demo
 * provider has no speech.  Mirrors Dify's speech2text and tts model
 * runtimes (openai_api_compatible) and services/audio_service.py.
 *
 * Audio calls are rare next to chat: each takes a curl handle of its own
 * and runs it to the end with curl_easy_perform under the upstream
 * connect and total timeouts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "model/model.h"

#define ANSWER_MAX		(1024 * 1024)	/* a transcription reply */
#define ERROR_BODY_MAX		(64 * 1024)
#define URL_MAX			4096
#define TTS_PIECE_MAX		4000	/* bytes of text per speech call */

struct call {
	const char	*provider;
	struct llm_result *res;
	CURL		*h;
	long		 status;
	struct buf	 body;		/* JSON answer or error reply */
	int		(*on_audio)(void *, const char *, const char *, size_t);
	void		*arg;
	int		 stopped;
	int		 failed;
};

static void
fail(struct llm_result *res, enum err e, const char *provider,
    const char *what)
{
	res->err = e;
	snprintf(res->errmsg, sizeof(res->errmsg), "[%s] %s", provider, what);
}

/* The model for "what" (STT_MODEL, TTS_MODEL); NULL when "none". */
static const char *
speech_model(const char *provider, const char *what, const char *dflt)
{
	const char	*m = upstream_provider_var(provider, what);

	if (m == NULL)
		m = dflt;
	return strcmp(m, "none") == 0 ? NULL : m;
}

/* Find the provider: 0, UPSTREAM_NO_SPEECH, or -1 with res->err set. */
static int
find(const char *provider, struct upstream_provider *pv,
    struct llm_result *res)
{
	if (provider == NULL || strcmp(provider, "offline") == 0)
		return UPSTREAM_NO_SPEECH;
	if (upstream_provider_get(provider, pv) == -1) {
		log_warn("upstream: provider \"%s\" is not configured",
		    provider);
		res->err = ERR_PROVIDER_NOT_INITIALIZE;
		snprintf(res->errmsg, sizeof(res->errmsg), "%s",
		    err_table[ERR_PROVIDER_NOT_INITIALIZE].message);
		return -1;
	}
	return 0;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct call	*c = arg;
	const char	*ctype = NULL;
	size_t		 len = size * n, room;

	if (c->status == 0)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status < 200 || c->status > 299) {
		room = c->body.max - c->body.len;
		(void)buf_append(&c->body, p, len < room ? len : room);
		return len;
	}
	if (c->on_audio == NULL) {
		if (buf_append(&c->body, p, len) == -1) {
			c->failed = 1;
			return 0;
		}
		return len;
	}
	curl_easy_getinfo(c->h, CURLINFO_CONTENT_TYPE, &ctype);
	if (c->on_audio(c->arg, ctype, p, len) == -1) {
		c->stopped = 1;
		return 0;
	}
	return len;
}

static int
setup(struct call *c, const struct upstream_provider *pv, const char *url)
{
	CURL	*h = c->h;
	int	 bad = 0;

	bad |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") !=
	    CURLE_OK;
	if (pv->api_key != NULL) {
		bad |= curl_easy_setopt(h, CURLOPT_HTTPAUTH,
		    (long)CURLAUTH_BEARER) != CURLE_OK;
		bad |= curl_easy_setopt(h, CURLOPT_XOAUTH2_BEARER,
		    pv->api_key) != CURLE_OK;
	}
	bad |= curl_easy_setopt(h, CURLOPT_USERAGENT,
	    "difycgi/" DIFYCGI_VERSION) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
	    (long)cfg->upstream_connect_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
	    (long)cfg->upstream_total_ms) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body) != CURLE_OK;
	bad |= curl_easy_setopt(h, CURLOPT_WRITEDATA, c) != CURLE_OK;
	return bad ? -1 : 0;
}

/* After curl_easy_perform: 0, 1 (stopped by on_audio) or -1. */
static int
outcome(struct call *c, CURLcode cc)
{
	char	msg[256];

	if (c->stopped)
		return 1;
	if (c->status == 0)
		curl_easy_getinfo(c->h, CURLINFO_RESPONSE_CODE, &c->status);
	if (c->status != 0 && (c->status < 200 || c->status > 299)) {
		upstream_http_error(c->res, c->provider, c->status, c->body.p,
		    c->body.len);
		return -1;
	}
	if (c->failed) {
		fail(c->res, ERR_COMPLETION_REQUEST, c->provider,
		    "Error: the provider's answer is too large");
		return -1;
	}
	if (cc != CURLE_OK) {
		snprintf(msg, sizeof(msg), "Connection Error, %s",
		    cc == CURLE_OPERATION_TIMEDOUT ? "the provider did not "
		    "answer in time" : curl_easy_strerror(cc));
		fail(c->res, ERR_COMPLETION_REQUEST, c->provider, msg);
		return -1;
	}
	return 0;
}

static int
endpoint(struct buf *url, const struct upstream_provider *pv,
    const char *path)
{
	size_t	n = strlen(pv->base_url);

	while (n > 0 && pv->base_url[n - 1] == '/')
		n--;
	buf_init(url, URL_MAX);
	return buf_printf(url, "%.*s%s", (int)n, pv->base_url, path);
}

static void
log_failure(const struct call *c, const struct upstream_provider *pv,
    const char *what)
{
	upstream_scrub(c->res->errmsg, pv->api_key);
	log_warn("upstream %s %s: %s", c->provider, what, c->res->errmsg);
}

/* A filename whose extension names the format, as providers look at it. */
static const char *
audio_name(const char *mime)
{
	static const struct { const char *mime, *name; } names[] = {
		{ "audio/mpeg", "audio.mp3" }, { "audio/mp3", "audio.mp3" },
		{ "audio/mpga", "audio.mpga" }, { "audio/wav", "audio.wav" },
		{ "audio/m4a", "audio.m4a" }, { "audio/mp4", "audio.mp4" },
		{ "audio/webm", "audio.webm" }, { "audio/amr", "audio.amr" },
		{ NULL, NULL }
	};
	int	i;

	for (i = 0; mime != NULL && names[i].mime != NULL; i++)
		if (strcasecmp(mime, names[i].mime) == 0)
			return names[i].name;
	return "audio.mp3";
}

int
upstream_transcribe(const char *provider, const char *path,
    const char *mime, struct llm_result *res)
{
	struct upstream_provider	 pv;
	struct call			 c;
	struct buf			 url;
	curl_mime			*form = NULL;
	curl_mimepart			*part;
	json_tokener			*tok = NULL;
	json_object			*o = NULL;
	const char			*model, *text;
	double				 t0 = now_mono();
	int				 rc;

	rc = find(provider, &pv, res);
	if (rc != 0)
		return rc;
	model = speech_model(provider, "STT_MODEL", "whisper-1");
	if (model == NULL)
		return UPSTREAM_NO_SPEECH;
	memset(&c, 0, sizeof(c));
	c.provider = provider;
	c.res = res;
	buf_init(&c.body, ANSWER_MAX);
	rc = -1;
	if (endpoint(&url, &pv, "/audio/transcriptions") == -1) {
		fail(res, ERR_PROVIDER_NOT_INITIALIZE, provider,
		    "Error: the provider's base URL is too long");
		goto out;
	}
	if (upstream_curl_init() == -1 || (c.h = curl_easy_init()) == NULL ||
	    (form = curl_mime_init(c.h)) == NULL) {
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: cannot set up the HTTP client");
		goto out;
	}
	part = curl_mime_addpart(form);
	if (part == NULL || curl_mime_name(part, "file") != CURLE_OK ||
	    curl_mime_filedata(part, path) != CURLE_OK ||
	    curl_mime_filename(part, audio_name(mime)) != CURLE_OK ||
	    curl_mime_type(part, mime != NULL && *mime != '\0' ? mime :
	    "application/octet-stream") != CURLE_OK ||
	    (part = curl_mime_addpart(form)) == NULL ||
	    curl_mime_name(part, "model") != CURLE_OK ||
	    curl_mime_data(part, model, CURL_ZERO_TERMINATED) != CURLE_OK ||
	    (part = curl_mime_addpart(form)) == NULL ||
	    curl_mime_name(part, "response_format") != CURLE_OK ||
	    curl_mime_data(part, "json", CURL_ZERO_TERMINATED) != CURLE_OK ||
	    setup(&c, &pv, buf_cstr(&url)) == -1 ||
	    curl_easy_setopt(c.h, CURLOPT_MIMEPOST, form) != CURLE_OK) {
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: cannot set up the HTTP client");
		goto out;
	}
	if (outcome(&c, curl_easy_perform(c.h)) != 0)
		goto out;
	tok = json_tokener_new_ex(JSON_MAX_DEPTH);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT |
	    JSON_TOKENER_VALIDATE_UTF8);
	if (c.body.len > 0)
		o = json_tokener_parse_ex(tok, c.body.p, (int)c.body.len);
	text = json_str(o, "text");
	if (text == NULL) {
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: the provider's answer holds no text");
		goto out;
	}
	if (buf_puts(&res->text, text) == -1) {
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: the transcription is too long");
		goto out;
	}
	rc = 0;
out:
	if (rc == -1)
		log_failure(&c, &pv, "speech-to-text");
	res->latency_s = now_mono() - t0;
	json_object_put(o);
	if (tok != NULL)
		json_tokener_free(tok);
	curl_mime_free(form);
	curl_easy_cleanup(c.h);
	buf_free(&c.body);
	buf_free(&url);
	return rc;
}

/* Bytes of the next piece of text: whole sentences, UTF-8 intact. */
static size_t
piece(const char *s, size_t n)
{
	static const char *const ends[] = { "\xe3\x80\x82", "\xef\xbc\x81",
	    "\xef\xbc\x9f", NULL };	/* 。！？ */
	size_t	i, k;
	int	j;

	if (n <= TTS_PIECE_MAX)
		return n;
	for (i = TTS_PIECE_MAX; i > TTS_PIECE_MAX / 2; i--) {
		if (strchr(".!?\n", s[i - 1]) != NULL && s[i - 1] != '\0')
			return i;
		for (j = 0; ends[j] != NULL; j++)
			if (i >= 3 && memcmp(s + i - 3, ends[j], 3) == 0)
				return i;
	}
	for (i = TTS_PIECE_MAX; i > TTS_PIECE_MAX / 2; i--)
		if (s[i - 1] == ' ')
			return i;
	k = TTS_PIECE_MAX;
	while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	return k;
}

static int
speak(const char *provider, const struct upstream_provider *pv,
    const char *url, json_object *body, int (*on_audio)(void *,
    const char *, const char *, size_t), void *arg, struct llm_result *res)
{
	struct curl_slist	*hdrs = NULL;
	struct call		 c;
	const char		*json = json_compact(body);
	int			 rc = -1;

	memset(&c, 0, sizeof(c));
	c.provider = provider;
	c.res = res;
	c.on_audio = on_audio;
	c.arg = arg;
	buf_init(&c.body, ERROR_BODY_MAX);
	hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	if (hdrs == NULL || (c.h = curl_easy_init()) == NULL ||
	    setup(&c, pv, url) == -1 ||
	    curl_easy_setopt(c.h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(c.h, CURLOPT_POSTFIELDS, json) != CURLE_OK) {
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: cannot set up the HTTP client");
		goto out;
	}
	rc = outcome(&c, curl_easy_perform(c.h));
	if (rc == 1)
		res->stopped = 1;
out:
	if (rc == -1)
		log_failure(&c, pv, "text-to-speech");
	curl_easy_cleanup(c.h);
	curl_slist_free_all(hdrs);
	buf_free(&c.body);
	return rc;
}

int
upstream_speech(const char *provider, const char *text, const char *voice,
    int (*on_audio)(void *, const char *, const char *, size_t), void *arg,
    struct llm_result *res)
{
	struct upstream_provider	 pv;
	struct buf			 url;
	json_object			*body;
	const char			*model;
	size_t				 n, len;
	double				 t0 = now_mono();
	int				 rc;

	rc = find(provider, &pv, res);
	if (rc != 0)
		return rc;
	model = speech_model(provider, "TTS_MODEL", "tts-1");
	if (model == NULL)
		return UPSTREAM_NO_SPEECH;
	if (voice == NULL)
		voice = upstream_provider_var(provider, "TTS_VOICE");
	if (voice == NULL)
		voice = "alloy";
	if (endpoint(&url, &pv, "/audio/speech") == -1 ||
	    upstream_curl_init() == -1) {
		fail(res, ERR_COMPLETION_REQUEST, provider,
		    "Error: cannot set up the HTTP client");
		buf_free(&url);
		return -1;
	}
	len = strlen(text);
	rc = 0;
	while (rc == 0 && len > 0) {
		while (len > 0 && strchr(" \t\r\n", *text) != NULL) {
			text++;
			len--;
		}
		if (len == 0)
			break;
		n = piece(text, len);
		body = json_object_new_object();
		json_object_object_add(body, "model",
		    json_object_new_string(model));
		json_object_object_add(body, "input",
		    json_object_new_string_len(text, (int)n));
		json_object_object_add(body, "voice",
		    json_object_new_string(voice));
		json_object_object_add(body, "response_format",
		    json_object_new_string("mp3"));
		rc = speak(provider, &pv, buf_cstr(&url), body, on_audio, arg,
		    res);
		json_object_put(body);
		text += n;
		len -= n;
	}
	res->latency_s = now_mono() - t0;
	buf_free(&url);
	return rc;
}
