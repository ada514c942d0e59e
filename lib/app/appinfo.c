/*
 * appinfo.c: the bodies of GET /info, /parameters, /site and /meta, built
 * from an app row.  Mirrors Dify's service_api/app/app.py and site.py and
 * fields/app_fields.py: features pass through as stored, absent ones get
 * Dify's defaults.
 */
#include <string.h>

#include "app/app.h"
#include "store/store.h"

static json_object *
str_or_null(const char *s)
{
	return s == NULL ? NULL : json_object_new_string(s);
}

json_object *
appinfo_info(const struct app *a)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "name", json_object_new_string(a->name));
	json_object_object_add(o, "description",
	    json_object_new_string(a->description ? a->description : ""));
	json_object_object_add(o, "tags", a->tags ? json_copy(a->tags) :
	    json_object_new_array());
	json_object_object_add(o, "mode", json_object_new_string(a->mode));
	json_object_object_add(o, "author_name", str_or_null(a->author_name));
	return o;
}

static json_object *
toggle(int on)
{
	json_object	*o = json_object_new_object();

	json_object_object_add(o, "enabled", json_object_new_boolean(on));
	return o;
}

/* A feature object as stored, or the default Dify gives when absent. */
static void
feature(json_object *out, json_object *cfg, const char *key,
    json_object *dflt)
{
	json_object	*v = json_get(cfg, key);

	if (v != NULL) {
		json_object_put(dflt);
		json_object_object_add(out, key, json_copy(v));
	} else
		json_object_object_add(out, key, dflt);
}

json_object *
appinfo_parameters(const struct app *a)
{
	json_object	*c = a->config, *o = json_object_new_object(), *d, *sp;

	feature(o, c, "opening_statement", NULL);
	feature(o, c, "suggested_questions", json_object_new_array());
	feature(o, c, "suggested_questions_after_answer", toggle(0));
	feature(o, c, "speech_to_text", toggle(0));
	d = toggle(0);
	feature(o, c, "text_to_speech", d);
	feature(o, c, "retriever_resource", toggle(0));
	feature(o, c, "annotation_reply", toggle(0));
	feature(o, c, "more_like_this", toggle(0));
	feature(o, c, "user_input_form", json_object_new_array());
	d = json_object_new_object();
	json_object_object_add(d, "enabled", json_object_new_boolean(0));
	json_object_object_add(d, "type", json_object_new_string(""));
	json_object_object_add(d, "configs", json_object_new_array());
	feature(o, c, "sensitive_word_avoidance", d);
	d = json_object_new_object();
	{
		json_object	*img = json_object_new_object(), *tm;

		json_object_object_add(img, "enabled",
		    json_object_new_boolean(0));
		json_object_object_add(img, "number_limits",
		    json_object_new_int(3));
		json_object_object_add(img, "detail",
		    json_object_new_string("high"));
		tm = json_object_new_array();
		json_object_array_add(tm, json_object_new_string("remote_url"));
		json_object_array_add(tm, json_object_new_string("local_file"));
		json_object_object_add(img, "transfer_methods", tm);
		json_object_object_add(d, "image", img);
	}
	feature(o, c, "file_upload", d);
	sp = json_object_new_object();
	json_object_object_add(sp, "image_file_size_limit",
	    json_object_new_int(cfg->image_limit_mb));
	json_object_object_add(sp, "video_file_size_limit",
	    json_object_new_int(cfg->video_limit_mb));
	json_object_object_add(sp, "audio_file_size_limit",
	    json_object_new_int(cfg->audio_limit_mb));
	json_object_object_add(sp, "file_size_limit",
	    json_object_new_int(cfg->file_limit_mb));
	json_object_object_add(sp, "workflow_file_upload_limit",
	    json_object_new_int(cfg->workflow_file_upload_limit));
	json_object_object_add(o, "system_parameters", sp);
	return o;
}

json_object *
appinfo_site(const struct app *a)
{
	static const struct {
		const char	*key;
		int		 kind;	/* 0 string/null, 1 bool */
		const char	*dflt;
	} keys[] = {
		{ "title", 0, NULL },
		{ "chat_color_theme", 0, NULL },
		{ "chat_color_theme_inverted", 1, NULL },
		{ "icon_type", 0, NULL },
		{ "icon", 0, NULL },
		{ "icon_background", 0, NULL },
		{ "icon_url", 0, NULL },
		{ "description", 0, NULL },
		{ "copyright", 0, NULL },
		{ "privacy_policy", 0, NULL },
		{ "input_placeholder", 0, NULL },
		{ "custom_disclaimer", 0, "" },
		{ "default_language", 0, "en-US" },
		{ "show_workflow_steps", 1, NULL },
		{ "use_icon_as_answer_icon", 1, NULL },
	};
	json_object	*o, *v;
	size_t		 i;

	if (a->site == NULL)
		return NULL;
	o = json_object_new_object();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = json_get(a->site, keys[i].key);
		if (v != NULL)
			v = json_copy(v);
		else if (strcmp(keys[i].key, "title") == 0)
			v = json_object_new_string(a->name);
		else if (strcmp(keys[i].key, "icon_type") == 0)
			v = str_or_null(a->icon_type);
		else if (strcmp(keys[i].key, "icon") == 0)
			v = str_or_null(a->icon);
		else if (strcmp(keys[i].key, "icon_background") == 0)
			v = str_or_null(a->icon_background);
		else if (strcmp(keys[i].key, "description") == 0)
			v = str_or_null(a->description);
		else if (keys[i].kind == 1)
			v = json_object_new_boolean(0);
		else
			v = str_or_null(keys[i].dflt);
		json_object_object_add(o, keys[i].key, v);
	}
	return o;
}

json_object *
appinfo_meta(const struct app *a)
{
	json_object	*o = json_object_new_object(), *icons, *tools, *t, *e;
	const char	*name;
	size_t		 i, n;

	icons = json_object_new_object();
	tools = json_get(json_get(a->config, "agent_mode"), "tools");
	n = tools && json_object_is_type(tools, json_type_array) ?
	    json_object_array_length(tools) : 0;
	for (i = 0; i < n; i++) {
		t = json_object_array_get_idx(tools, i);
		name = json_str(t, "tool_name");
		if (name == NULL)
			continue;
		e = json_object_new_object();
		json_object_object_add(e, "background",
		    json_object_new_string("#252525"));
		json_object_object_add(e, "content",
		    json_object_new_string("\xf0\x9f\x94\xa7"));
		json_object_object_add(icons, name, e);
	}
	json_object_object_add(o, "tool_icons", icons);
	return o;
}

/*
 * Whether an app can serve: a published workflow for workflow modes, a
 * model configuration for the others.
 */
int
app_configured(struct db *db, const struct app *a)
{
	struct pool	 p = { NULL };
	const char	*id;
	int		 rc;

	if (!app_mode_is_workflow(a->mode))
		return json_get(a->config, "model") != NULL;
	rc = db_workflow_latest_id(db, &p, a->id, &id);
	pool_free_all(&p);
	return rc == DB_OK;
}
