/*
 * audio.c: speech to text and text to speech with the app's model
 * provider.  Mirrors Dify service_api/app/audio.py and
 * services/audio_service.py: each endpoint answers only when the app's
 * feature is on; the audio of POST /audio-to-text is streamed to a
 * temporary file and from there to the provider, the audio of POST
 * /text-to-audio from the provider to the client as it comes.
 */
#include <string.h>

#include "files/files.h"

static int	audio_to_text(struct req *, struct resp *);
static int	text_to_audio(struct req *, struct resp *);

static const struct route routes[] = {
	{ "POST", "/v1/audio-to-text", audio_to_text, 0 },
	{ "POST", "/v1/text-to-audio", text_to_audio, 0 },
	{ NULL, NULL, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	return serve_main(argc, argv, "audio.fcgi", routes);
}

static json_object *
feature(struct req *rq, const char *name)
{
	json_object	*f = json_get(rq->app.config, name);
	json_object	*on = json_get(f, "enabled");

	return on != NULL && json_object_is_type(on, json_type_boolean) &&
	    json_object_get_boolean(on) ? f : NULL;
}

static const char *
provider_of(struct req *rq)
{
	return json_str(json_get(rq->app.config, "model"), "provider");
}

/* Dify's ALLOWED_EXTENSIONS as audio/<ext> types. */
static int
audio_type_ok(const char *mime)
{
	static const char *const ok[] = { "audio/mp3", "audio/mp4",
	    "audio/mpeg", "audio/mpga", "audio/m4a", "audio/wav", "audio/webm",
	    "audio/amr", NULL };
	int	i;

	for (i = 0; ok[i] != NULL; i++)
		if (strcmp(mime, ok[i]) == 0)
			return 1;
	return 0;
}

static int
audio_to_text(struct req *rq, struct resp *rs)
{
	struct files_form	 form;
	struct llm_result	 res;
	json_object		*o;
	int			 rc;

	if (feature(rq, "speech_to_text") == NULL)
		return resp_error_msg(rs, ERR_STT_DISABLED, NULL);
	llm_result_init(&res);
	rc = files_form_read(rq, rs, FORM_AUDIO, &form);
	if (rc == 0)
		rc = files_form_user(rq, rs, &form);
	if (rc == -1)
		goto out;
	rc = -1;
	if (!form.have_file)
		resp_error_msg(rs, ERR_NO_AUDIO_UPLOADED, NULL);
	else if (!audio_type_ok(form.mime_type))
		resp_error_msg(rs, ERR_UNSUPPORTED_AUDIO_TYPE, NULL);
	else if (form.too_large)
		resp_error_msg(rs, ERR_AUDIO_TOO_LARGE, NULL);
	else {
		rc = upstream_transcribe(provider_of(rq), form.tmp_path,
		    form.mime_type, &res);
		if (rc == UPSTREAM_NO_SPEECH)
			resp_error_msg(rs, ERR_PROVIDER_NO_STT, NULL);
		else if (rc == -1)
			resp_error_msg(rs, res.err, res.errmsg);
		else {
			o = json_object_new_object();
			json_object_object_add(o, "text",
			    json_object_new_string(buf_cstr(&res.text)));
			resp_json(rs, 200, o);
		}
		rc = rc == 0 ? 0 : -1;
	}
out:
	llm_result_free(&res);
	files_form_free(&form);
	return rc;
}

struct speech_out {
	struct req	*rq;
	struct resp	*rs;
};

/* Audio from the provider: headers with the first bytes, then bytes. */
static int
on_audio(void *arg, const char *ctype, const char *p, size_t n)
{
	struct speech_out	*so = arg;
	struct req		*rq = so->rq;

	if (!so->rs->committed) {
		if (ctype == NULL || strncmp(ctype, "audio/", 6) != 0 ||
		    strpbrk(ctype, "\r\n") != NULL)
			ctype = "audio/mpeg";
		so->rs->status = 200;
		if (resp_write_head(rq, so->rs, ctype, -1) == -1) {
			rq->client_gone = 1;
			return -1;
		}
	}
	if (rq->io.write(rq->io.ctx, p, (int)n) < 0 ||
	    rq->io.flush(rq->io.ctx) == -1) {
		rq->client_gone = 1;
		return -1;
	}
	return 0;
}

/* What Dify answers when there is nothing to say: JSON null. */
static int
no_audio(struct resp *rs)
{
	static const char	null_body[] = "null\n";

	resp_empty(rs, 200);
	rs->content_type = "application/json";
	rs->raw = null_body;
	rs->raw_len = sizeof(null_body) - 1;
	return 0;
}

static int
text_to_audio(struct req *rq, struct resp *rs)
{
	static const struct field fields[] = {
		{ "message_id", F_STRING, 0, 64 },
		{ "text", F_STRING, 0, 1024 * 1024 },
		{ "voice", F_STRING, 0, 256 },
		{ NULL, 0, 0, 0 }
	};
	struct speech_out	 so = { rq, rs };
	struct llm_result	 res;
	json_object		*tts;
	const char		*mid, *text, *voice;
	int			 rc;

	if (auth_end_user(rq, rs, 'j', 0) == -1)
		return -1;
	if ((tts = feature(rq, "text_to_speech")) == NULL)
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "TTS is not enabled");
	if (input_check(rq, rs, fields) == -1)
		return -1;
	mid = input_str(rq, "message_id");
	text = input_str(rq, "text");
	if (mid != NULL && *mid != '\0') {
		/*
		 * none, or another app's or end user's: no audio, Dify's
		 * answer for a message it does not find
		 */
		if (!uuid_valid(mid))
			return no_audio(rs);
		rc = db_message_answer(rq->db, &rq->pool, rq->app.id,
		    rq->user.id, mid, &text);
		if (rc == DB_NOT_FOUND || (rc == DB_OK && *text == '\0'))
			return no_audio(rs);
		if (rc != DB_OK)
			return resp_error(rs, ERR_INTERNAL);
	} else if (text == NULL || *text == '\0')
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "Text is required");
	voice = input_str(rq, "voice");
	if (voice == NULL || *voice == '\0')
		voice = json_str(tts, "voice");
	if (voice != NULL && *voice == '\0')
		voice = NULL;
	llm_result_init(&res);
	rc = upstream_speech(provider_of(rq), text, voice, on_audio, &so,
	    &res);
	if (rc == UPSTREAM_NO_SPEECH)
		resp_error_msg(rs, ERR_INVALID_PARAM,
		    "Sorry, no voice available.");
	else if (rc == -1 && !rs->committed)
		resp_error_msg(rs, res.err, res.errmsg);
	else if (rc == 0 && !rs->committed) {
		resp_empty(rs, 200);
		rs->content_type = "audio/mpeg";
		rs->raw = "";
	}
	llm_result_free(&res);
	return rc == 0 ? 0 : -1;
}
