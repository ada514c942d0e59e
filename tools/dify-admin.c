/*
 * dify-admin: the administration tool.  Creates and migrates the
 * database, creates, lists, shows and deletes apps of every mode, imports
 * and exports them as Dify DSL files, and issues (shown once), lists and
 * revokes API keys.  Checks a model provider's embedding and rerank
 * models (model embed, model rerank).
 *
 *   dify-admin [--db PATH] COMMAND ...
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/app.h"
#include "workflow/workflow.h"
#include "dsl/dsl.h"

static struct db	*db;
static struct pool	 pool;
static const char	*db_path;

static void
die(const char *fmt, const char *arg)
{
	fprintf(stderr, "dify-admin: ");
	fprintf(stderr, fmt, arg ? arg : "");
	fputc('\n', stderr);
	exit(2);
}

static void
open_db(void)
{
	/* --db names an SQLite file or a PostgreSQL URL */
	if (db_path != NULL && db_where_is_pg(db_path))
		setenv("DIFYCGI_DATABASE_URL", db_path, 1);
	else if (db_path != NULL) {
		setenv("DIFYCGI_DB", db_path, 1);
		unsetenv("DIFYCGI_DATABASE_URL");
	}
	if (config_load() == -1)
		exit(1);
	if ((db = db_open_default()) == NULL)
		die("cannot open database %s", db_config_where());
	if (db_migrate(db) == -1)
		die("cannot migrate database %s", db_config_where());
}

/* ---- init ---- */

static int
cmd_init(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		puts("usage: dify-admin init\n"
		    "Create the database, or apply migrations it lacks.");
		return 0;
	}
	if (argc > 1)
		die("init: unexpected argument %s", argv[1]);
	open_db();
	printf("database %s at schema version %d\n", db_config_where(),
	    db_schema_version(db));
	return 0;
}

/* ---- app create ---- */

static const char *app_create_help =
"usage: dify-admin app create --mode MODE --name NAME [options]\n"
"  --mode MODE              completion | chat | agent-chat | workflow |\n"
"                           advanced-chat\n"
"  --name NAME              app name\n"
"  --description TEXT       description\n"
"  --icon EMOJI             icon (emoji)\n"
"  --icon-background COLOR  icon background, e.g. '#FFEAD5'\n"
"  --author NAME            author name shown by /info\n"
"  --tag TAG                a tag (repeat for more)\n"
"  --provider NAME          model provider name (see README, providers)\n"
"  --model NAME             model name\n"
"  --param KEY=VALUE        model parameter, e.g. temperature=0.7\n"
"  --pre-prompt TEXT        prompt with {{variable}} placeholders\n"
"  --input SPEC             user input form item:\n"
"                           TYPE:VARIABLE[:LABEL][:required][:max=N]\n"
"                           [:options=A|B|C][:default=V]\n"
"                           TYPE is text-input, paragraph, select, number,\n"
"                           checkbox\n"
"  --opening-statement TEXT opening statement\n"
"  --suggested-question Q   a suggested question (repeat for more)\n"
"  --feature NAME=on|off    suggested_questions_after_answer,\n"
"                           speech_to_text, text_to_speech,\n"
"                           retriever_resource, more_like_this, file_upload\n"
"  --max-active N           per-app limit of requests in flight\n"
"  --site                   give the app a WebApp site (for /v1/site)\n"
"  --config FILE            whole model_config as JSON (other options\n"
"                           then add to it)\n"
"  --graph FILE             workflow modes: the graph (JSON, as Dify's\n"
"                           workflow.graph) instead of the demo one; its\n"
"                           start node gives the input form, and llm nodes\n"
"                           without a model get the app's\n"
"Prints the new app id.";

static json_object *
param_value(const char *v)
{
	char		*end;
	double		 d;
	long long	 n;

	if (strcmp(v, "true") == 0 || strcmp(v, "false") == 0)
		return json_object_new_boolean(v[0] == 't');
	if (parse_int(v, -(1LL << 53), 1LL << 53, &n) == 0)
		return json_object_new_int64(n);
	errno = 0;
	d = strtod(v, &end);
	if (errno == 0 && *end == '\0' && end != v)
		return json_object_new_double(d);
	return json_object_new_string(v);
}

static json_object *
input_item(const char *spec)
{
	char		*s = pool_strdup(&pool, spec), *tok, *save = NULL;
	json_object	*def = json_object_new_object(), *item, *opts;
	const char	*type;
	long long	 n;
	int		 i = 0;

	type = strtok_r(s, ":", &save);
	if (type == NULL || (strcmp(type, "text-input") &&
	    strcmp(type, "paragraph") && strcmp(type, "select") &&
	    strcmp(type, "number") && strcmp(type, "checkbox")))
		die("--input: unknown type in %s", spec);
	json_object_object_add(def, "required", json_object_new_boolean(0));
	while ((tok = strtok_r(NULL, ":", &save)) != NULL) {
		i++;
		if (i == 1) {
			json_object_object_add(def, "variable",
			    json_object_new_string(tok));
			json_object_object_add(def, "label",
			    json_object_new_string(tok));
		} else if (strcmp(tok, "required") == 0)
			json_object_object_add(def, "required",
			    json_object_new_boolean(1));
		else if (strncmp(tok, "max=", 4) == 0) {
			if (parse_int(tok + 4, 0, 1 << 20, &n) == -1)
				die("--input: bad max in %s", spec);
			json_object_object_add(def, "max_length",
			    json_object_new_int((int)n));
		} else if (strncmp(tok, "options=", 8) == 0) {
			char	*o, *osave = NULL;

			opts = json_object_new_array();
			for (o = strtok_r(tok + 8, "|", &osave); o != NULL;
			    o = strtok_r(NULL, "|", &osave))
				json_object_array_add(opts,
				    json_object_new_string(o));
			json_object_object_add(def, "options", opts);
		} else if (strncmp(tok, "default=", 8) == 0)
			json_object_object_add(def, "default",
			    json_object_new_string(tok + 8));
		else if (i == 2)
			json_object_object_add(def, "label",
			    json_object_new_string(tok));
		else
			die("--input: unknown attribute in %s", spec);
	}
	if (i == 0)
		die("--input: variable name missing in %s", spec);
	if (strcmp(type, "select") == 0 && json_get(def, "options") == NULL)
		json_object_object_add(def, "options",
		    json_object_new_array());
	if (json_get(def, "default") == NULL &&
	    strcmp(type, "number") != 0 && strcmp(type, "checkbox") != 0)
		json_object_object_add(def, "default",
		    json_object_new_string(""));
	item = json_object_new_object();
	json_object_object_add(item, type, def);
	return item;
}

static json_object *
read_json_file(const char *path)
{
	json_object	*o = json_object_from_file(path);

	if (o == NULL || !json_object_is_type(o, json_type_object))
		die("--config: %s is not a JSON object file", path);
	return o;
}

/*
 * A graph from a JSON file (--graph): llm nodes without a model get the
 * app's.
 */
static json_object *
read_graph(const char *path, json_object *model)
{
	json_object	*g = json_object_from_file(path), *nodes, *d;
	const char	*t;
	size_t		 i, n;

	if (g == NULL || !json_object_is_type(json_get(g, "nodes"),
	    json_type_array))
		die("--graph: %s is not a JSON graph with nodes", path);
	nodes = json_get(g, "nodes");
	n = json_object_array_length(nodes);
	for (i = 0; i < n; i++) {
		d = json_get(json_object_array_get_idx(nodes, i), "data");
		t = json_str(d, "type");
		if (t != NULL && strcmp(t, "llm") == 0 &&
		    json_get(d, "model") == NULL)
			json_object_object_add(d, "model", json_copy(model));
	}
	return g;
}

/*
 * The graph of the demo workflow (Start(query) -> LLM -> End(text)) or
 * chatflow (Start -> LLM -> Answer), in Dify's DSL shape.
 */
static json_object *
default_graph(const char *mode, json_object *model, const char *prompt)
{
	const char	*chat_tpl =
	    "{\"nodes\":["
	    "{\"id\":\"start\",\"data\":{\"type\":\"start\",\"title\":\"Start\","
	    "\"variables\":[]}},"
	    "{\"id\":\"llm\",\"data\":{\"type\":\"llm\",\"title\":\"LLM\","
	    "\"prompt_template\":[{\"role\":\"system\",\"text\":\"\"},"
	    "{\"role\":\"user\",\"text\":\"{{#sys.query#}}\"}],"
	    "\"memory\":{\"window\":{\"enabled\":true,\"size\":10},"
	    "\"query_prompt_template\":\"{{#sys.query#}}\"},"
	    "\"context\":{\"enabled\":false,\"variable_selector\":[]},"
	    "\"vision\":{\"enabled\":false}}},"
	    "{\"id\":\"answer\",\"data\":{\"type\":\"answer\","
	    "\"title\":\"Answer\",\"answer\":\"{{#llm.text#}}\","
	    "\"variables\":[]}}],"
	    "\"edges\":["
	    "{\"id\":\"e1\",\"source\":\"start\",\"sourceHandle\":\"source\","
	    "\"target\":\"llm\",\"targetHandle\":\"target\"},"
	    "{\"id\":\"e2\",\"source\":\"llm\",\"sourceHandle\":\"source\","
	    "\"target\":\"answer\",\"targetHandle\":\"target\"}]}";
	const char	*wf_tpl =
	    "{\"nodes\":["
	    "{\"id\":\"start\",\"data\":{\"type\":\"start\",\"title\":\"Start\","
	    "\"variables\":[{\"variable\":\"query\",\"label\":\"query\","
	    "\"type\":\"paragraph\",\"required\":true,\"max_length\":4096,"
	    "\"options\":[]}]}},"
	    "{\"id\":\"llm\",\"data\":{\"type\":\"llm\",\"title\":\"LLM\","
	    "\"prompt_template\":[{\"role\":\"system\",\"text\":\"\"},"
	    "{\"role\":\"user\",\"text\":\"{{#start.query#}}\"}],"
	    "\"context\":{\"enabled\":false,\"variable_selector\":[]},"
	    "\"vision\":{\"enabled\":false}}},"
	    "{\"id\":\"end\",\"data\":{\"type\":\"end\",\"title\":\"End\","
	    "\"outputs\":[{\"variable\":\"text\",\"value_selector\":"
	    "[\"llm\",\"text\"],\"value_type\":\"string\"}]}}],"
	    "\"edges\":["
	    "{\"id\":\"e1\",\"source\":\"start\",\"sourceHandle\":\"source\","
	    "\"target\":\"llm\",\"targetHandle\":\"target\"},"
	    "{\"id\":\"e2\",\"source\":\"llm\",\"sourceHandle\":\"source\","
	    "\"target\":\"end\",\"targetHandle\":\"target\"}]}";
	json_object	*g, *nodes, *llm;
	size_t		 i;

	g = json_tokener_parse(strcmp(mode, "workflow") == 0 ? wf_tpl :
	    chat_tpl);
	nodes = json_get(g, "nodes");
	for (i = 0; i < json_object_array_length(nodes); i++) {
		llm = json_get(json_object_array_get_idx(nodes, i), "data");
		if (strcmp(json_str(llm, "type"), "llm") != 0)
			continue;
		json_object_object_add(llm, "model", json_copy(model));
		if (prompt != NULL)
			json_object_object_add(json_object_array_get_idx(
			    json_get(llm, "prompt_template"), 0), "text",
			    json_object_new_string(prompt));
	}
	return g;
}

static int
cmd_app_create(int argc, char **argv)
{
	struct app_new	 a;
	json_object	*config = NULL, *model, *params, *form, *sq, *tags;
	const char	*provider = NULL, *model_name = NULL, *pre = NULL;
	const char	*graph_file = NULL;
	char		 id[UUID_LEN + 1], wid[UUID_LEN + 1], *eq;
	int		 i, site = 0;
	long long	 n;

	memset(&a, 0, sizeof(a));
	params = json_object_new_object();
	form = json_object_new_array();
	sq = json_object_new_array();
	tags = json_object_new_array();
	for (i = 1; i < argc; i++) {
		const char	*opt = argv[i], *val = i + 1 < argc ?
		    argv[i + 1] : NULL;

		if (strcmp(opt, "--help") == 0) {
			puts(app_create_help);
			exit(0);
		}
		if (strcmp(opt, "--site") == 0) {
			site = 1;
			continue;
		}
		if (val == NULL)
			die("app create: %s: unknown option or missing value", opt);
		i++;
		if (strcmp(opt, "--mode") == 0)
			a.mode = val;
		else if (strcmp(opt, "--name") == 0)
			a.name = val;
		else if (strcmp(opt, "--description") == 0)
			a.description = val;
		else if (strcmp(opt, "--icon") == 0)
			a.icon = val;
		else if (strcmp(opt, "--icon-background") == 0)
			a.icon_background = val;
		else if (strcmp(opt, "--author") == 0)
			a.author_name = val;
		else if (strcmp(opt, "--tag") == 0)
			json_object_array_add(tags, json_object_new_string(val));
		else if (strcmp(opt, "--provider") == 0)
			provider = val;
		else if (strcmp(opt, "--model") == 0)
			model_name = val;
		else if (strcmp(opt, "--pre-prompt") == 0)
			pre = val;
		else if (strcmp(opt, "--graph") == 0)
			graph_file = val;
		else if (strcmp(opt, "--param") == 0) {
			if ((eq = strchr(val, '=')) == NULL || eq == val)
				die("--param: expected KEY=VALUE, got %s", val);
			json_object_object_add(params,
			    pool_strndup(&pool, val, (size_t)(eq - val)),
			    param_value(eq + 1));
		} else if (strcmp(opt, "--input") == 0)
			json_object_array_add(form, input_item(val));
		else if (strcmp(opt, "--opening-statement") == 0) {
			if (config == NULL)
				config = json_object_new_object();
			json_object_object_add(config, "opening_statement",
			    json_object_new_string(val));
		} else if (strcmp(opt, "--suggested-question") == 0)
			json_object_array_add(sq, json_object_new_string(val));
		else if (strcmp(opt, "--feature") == 0) {
			json_object	*t = json_object_new_object();

			if ((eq = strchr(val, '=')) == NULL ||
			    (strcmp(eq + 1, "on") && strcmp(eq + 1, "off")))
				die("--feature: expected NAME=on|off, got %s",
				    val);
			json_object_object_add(t, "enabled",
			    json_object_new_boolean(strcmp(eq + 1, "on") == 0));
			if (config == NULL)
				config = json_object_new_object();
			json_object_object_add(config,
			    pool_strndup(&pool, val, (size_t)(eq - val)), t);
		} else if (strcmp(opt, "--max-active") == 0) {
			if (parse_int(val, 0, 1000000, &n) == -1)
				die("--max-active: bad number %s", val);
			if (config == NULL)
				config = json_object_new_object();
			json_object_object_add(config, "max_active_requests",
			    json_object_new_int((int)n));
		} else if (strcmp(opt, "--config") == 0) {
			json_object	*file = read_json_file(val);

			if (config != NULL) {
				json_object_object_foreach(config, k, v)
					json_object_object_add(file, k,
					    json_object_get(v));
				json_object_put(config);
			}
			config = file;
		} else
			die("app create: unknown option %s (see --help)", opt);
	}
	if (a.mode == NULL || a.name == NULL)
		die("app create: --mode and --name are required%s", NULL);
	if (strcmp(a.mode, "completion") && strcmp(a.mode, "chat") &&
	    strcmp(a.mode, "agent-chat") && strcmp(a.mode, "workflow") &&
	    strcmp(a.mode, "advanced-chat"))
		die("app create: unknown mode %s", a.mode);
	if (config == NULL)
		config = json_object_new_object();
	if (json_get(config, "model") == NULL || provider || model_name) {
		model = json_object_new_object();
		json_object_object_add(model, "provider",
		    json_object_new_string(provider ? provider : "offline"));
		json_object_object_add(model, "name",
		    json_object_new_string(model_name ? model_name :
		    "offline-demo"));
		json_object_object_add(model, "mode",
		    json_object_new_string(strcmp(a.mode, "completion") == 0 ?
		    "completion" : "chat"));
		json_object_object_add(model, "completion_params", params);
		json_object_object_add(config, "model", model);
	} else
		json_object_put(params);
	if (pre != NULL)
		json_object_object_add(config, "pre_prompt",
		    json_object_new_string(pre));
	if (json_object_array_length(form) > 0 ||
	    json_get(config, "user_input_form") == NULL)
		json_object_object_add(config, "user_input_form", form);
	else
		json_object_put(form);
	if (json_object_array_length(sq) > 0)
		json_object_object_add(config, "suggested_questions", sq);
	else
		json_object_put(sq);
	if (strcmp(a.mode, "agent-chat") == 0 &&
	    json_get(config, "agent_mode") == NULL)
		json_object_object_add(config, "agent_mode", json_tokener_parse(
		    "{\"enabled\":true,\"strategy\":\"function_call\","
		    "\"tools\":[{\"provider_type\":\"builtin\",\"provider_id\":"
		    "\"time\",\"tool_name\":\"current_time\",\"enabled\":true,"
		    "\"tool_parameters\":{}}]}"));
	a.config = config;
	a.tags = tags;
	a.icon_type = a.icon ? "emoji" : NULL;
	if (site) {
		a.site = json_object_new_object();
		json_object_object_add(a.site, "title",
		    json_object_new_string(a.name));
	}
	open_db();
	if (db_begin(db) == -1)
		die("app create: database busy%s", NULL);
	if (db_app_create(db, &a, id) == -1)
		goto fail;
	if (app_mode_is_workflow(a.mode)) {
		json_object	*g = graph_file != NULL ? read_graph(graph_file,
		    json_get(config, "model")) : default_graph(a.mode,
		    json_get(config, "model"), pre), *f;

		if (graph_file != NULL) {
			json_object_object_add(config, "user_input_form",
			    wf_start_form(g));
			if (db_app_set_config(db, id, config) != DB_OK) {
				json_object_put(g);
				goto fail;
			}
		} else if (strcmp(a.mode, "workflow") == 0) {
			/* the start node's variables are the input form */
			json_object_object_add(config, "user_input_form",
			    json_tokener_parse("[{\"paragraph\":{\"variable\":"
			    "\"query\",\"label\":\"query\",\"type\":"
			    "\"paragraph\",\"required\":true,\"max_length\":"
			    "4096,\"options\":[]}}]"));
			if (db_app_set_config(db, id, config) != DB_OK) {
				json_object_put(g);
				goto fail;
			}
		}
		f = json_copy(config);
		json_object_object_del(f, "model");
		if (db_workflow_create(db, id, g, f, NULL, NULL, wid) == -1) {
			json_object_put(g);
			json_object_put(f);
			goto fail;
		}
		json_object_put(g);
		json_object_put(f);
	}
	if (db_commit(db) == -1)
		goto fail;
	puts(id);
	json_object_put(config);
	json_object_put(tags);
	json_object_put(a.site);
	return 0;
fail:
	db_rollback(db);
	die("app create: database error%s", NULL);
	return 1;
}

/* ---- app list / show / delete ---- */

static int
print_app_line(const struct app *a, void *arg)
{
	(void)arg;
	printf("%s  %-13s  %s\n", a->id, a->mode, a->name);
	return 0;
}

static int
cmd_app_list(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--help") == 0) {
		puts("usage: dify-admin app list\nOne line per app: id, mode, "
		    "name.");
		return 0;
	}
	if (argc > 1)
		die("app list: unexpected argument %s", argv[1]);
	open_db();
	return db_app_each(db, &pool, print_app_line, NULL) == 0 ? 0 : 1;
}

static int
cmd_app_show(int argc, char **argv)
{
	struct app	 a;
	json_object	*o;

	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		puts("usage: dify-admin app show APP_ID\n"
		    "Print the app and its configuration as JSON.");
		return argc == 2 ? 0 : 2;
	}
	open_db();
	if (db_app_get(db, &pool, argv[1], &a) != DB_OK)
		die("app show: no app %s", argv[1]);
	o = appinfo_info(&a);
	json_object_object_add(o, "id", json_object_new_string(a.id));
	json_object_object_add(o, "status", json_object_new_string(a.status));
	json_object_object_add(o, "config", json_copy(a.config));
	json_object_object_add(o, "site", json_copy(a.site));
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
	    JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	app_release(&a);
	return 0;
}

static int
cmd_app_delete(int argc, char **argv)
{
	long long	nfiles = 0, bytes = 0;
	int		rc;

	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		puts("usage: dify-admin app delete APP_ID\n"
		    "Delete an app and all its data, its uploaded files "
		    "too, and say how much was\nfreed.  Its keys then answer "
		    "403 \"The app no longer exists.\"");
		return argc == 2 ? 0 : 2;
	}
	open_db();
	switch (db_app_delete(db, argv[1], &nfiles, &bytes)) {
	case DB_OK:
		/*
		 * its rows are gone (ON DELETE CASCADE) with the files the
		 * database kept; now those under the data directory
		 */
		rc = files_app_remove(argv[1], &nfiles, &bytes);
		printf("deleted %s: %lld files, %lld bytes freed\n", argv[1],
		    nfiles, bytes);
		if (rc == -1)
			die("app delete: some files of the app are left under "
			    "%s/files (see the messages above)",
			    cfg->data_dir);
		return 0;
	case DB_NOT_FOUND:
		die("app delete: no app %s", argv[1]);
		return 1;
	default:
		die("app delete: database error%s", NULL);
		return 1;
	}
}

/* ---- app import / export (Dify DSL) ---- */

/* A whole file ("-" for stdin) of at most "max" bytes, NUL-terminated. */
static char *
read_file(const char *path, size_t max, size_t *len)
{
	FILE	*f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char	*b;
	size_t	 n = 0, got;

	if (f == NULL)
		die("cannot open %s", path);
	b = xmalloc(max + 2);
	while (n <= max && (got = fread(b + n, 1, max + 1 - n, f)) > 0)
		n += got;
	if (ferror(f))
		die("cannot read %s", path);
	if (f != stdin)
		fclose(f);
	if (n > max) {
		fprintf(stderr, "dify-admin: %s is larger than %zu bytes\n",
		    path, max);
		exit(1);
	}
	b[n] = '\0';
	*len = n;
	return b;
}

static void
print_list(json_object *list, const char *what, const char *file)
{
	size_t	i;

	for (i = 0; i < json_object_array_length(list); i++)
		fprintf(stderr, "dify-admin: app import: %s%s%s%s\n", what,
		    file, file[0] ? ": " : "", json_object_get_string(
		    json_object_array_get_idx(list, i)));
}

static const char *app_import_help =
"usage: dify-admin app import FILE [--name NAME] [--key] [--check]\n"
"Import a Dify DSL file (an app export, YAML; FILE - reads stdin) of any\n"
"mode as a new app, and print its id.\n"
"  --name NAME   app name instead of the file's app.name\n"
"  --key         also issue an API key and print it (shown once)\n"
"  --check       check the file only; write nothing\n"
"Every problem is listed, each naming its node; then nothing is written\n"
"and the exit status is 1.  Node types the engine cannot run yet are\n"
"imported with a warning.";

static int
cmd_app_import(int argc, char **argv)
{
	struct dsl_app	 a;
	const char	*file = NULL, *name = NULL;
	char		*text, id[UUID_LEN + 1], kid[UUID_LEN + 1], key[29];
	size_t		 len, np;
	int		 i, want_key = 0, check = 0;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			puts(app_import_help);
			return 0;
		} else if (strcmp(argv[i], "--key") == 0)
			want_key = 1;
		else if (strcmp(argv[i], "--check") == 0)
			check = 1;
		else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc)
			name = argv[++i];
		else if (file == NULL && (argv[i][0] != '-' ||
		    strcmp(argv[i], "-") == 0))
			file = argv[i];
		else
			die("app import: unexpected argument %s (see --help)",
			    argv[i]);
	}
	if (file == NULL)
		die("app import: a FILE is required (see --help)%s", NULL);
	text = read_file(file, DSL_MAX_BYTES, &len);
	dsl_load(text, len, name, &a);
	free(text);
	print_list(a.warnings, "warning: ", "");
	np = a.nproblems;
	if (np > 0) {
		print_list(a.problems, "", file);
		fprintf(stderr, "dify-admin: app import: %zu problem%s; "
		    "nothing imported\n", np, np == 1 ? "" : "s");
		dsl_app_free(&a);
		return 1;
	}
	if (check) {
		printf("%s: %s app \"%s\" can be imported\n", file, a.mode,
		    a.name);
		dsl_app_free(&a);
		return 0;
	}
	open_db();
	if (db_begin(db) == -1)
		die("app import: database busy%s", NULL);
	if (dsl_store(db, &a, id) == -1)
		goto fail;
	if (want_key) {
		auth_key_new(key);
		if (db_key_create(db, id, key, kid) == -1)
			goto fail;
	}
	if (db_commit(db) == -1)
		goto fail;
	puts(id);
	if (want_key) {
		puts(key);
		explicit_bzero(key, sizeof(key));
	}
	dsl_app_free(&a);
	return 0;
fail:
	db_rollback(db);
	dsl_app_free(&a);
	die("app import: database error%s", NULL);
	return 1;
}

static int
cmd_app_export(int argc, char **argv)
{
	struct dsl_app	 a;
	struct buf	 out;
	const char	*id = NULL;
	int		 i, secret = 0, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0) {
			puts("usage: dify-admin app export APP_ID "
			    "[--include-secret]\n"
			    "Write the app as a Dify DSL file (YAML, version "
			    DSL_VERSION ") to stdout.\nSecret environment "
			    "variables are written empty unless "
			    "--include-secret.");
			return 0;
		} else if (strcmp(argv[i], "--include-secret") == 0)
			secret = 1;
		else if (id == NULL && argv[i][0] != '-')
			id = argv[i];
		else
			die("app export: unexpected argument %s (see --help)",
			    argv[i]);
	}
	if (id == NULL)
		die("app export: an APP_ID is required (see --help)%s", NULL);
	open_db();
	rc = dsl_fetch(db, &pool, id, &a);
	if (rc == DB_NOT_FOUND) {
		dsl_app_free(&a);
		die("app export: no app %s, or it has no workflow", id);
	}
	buf_init(&out, (size_t)8 * DSL_MAX_BYTES);
	if (rc != DB_OK || dsl_export(&a, secret, &out) == -1) {
		dsl_app_free(&a);
		buf_free(&out);
		die("app export: cannot export %s", id);
	}
	fwrite(out.p, 1, out.len, stdout);
	dsl_app_free(&a);
	buf_free(&out);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* ---- dsl types / dsl json ---- */

static int
cmd_dsl_types(int argc, char **argv)
{
	const char	*t;
	size_t		 i;

	if (argc != 1) {
		puts("usage: dify-admin dsl types\n"
		    "List the node types import accepts, one a line, with "
		    "\"runs\" or\n\"warns\" (imported, but the engine cannot "
		    "run it yet).");
		return strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	for (i = 0; (t = dsl_node_type_at(i)) != NULL; i++)
		printf("%s\t%s\n", t, dsl_node_type_runnable(t) ? "runs" :
		    "warns");
	return 0;
}


static int
cmd_dsl_json(int argc, char **argv)
{
	json_object	*o;
	char		*text, err[256];
	size_t		 len;

	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		puts("usage: dify-admin dsl json FILE\n"
		    "Print a YAML file as JSON, typed as Dify (PyYAML's "
		    "safe_load) reads it.");
		return argc == 2 ? 0 : 2;
	}
	text = read_file(argv[1], DSL_MAX_BYTES, &len);
	o = dsl_yaml_to_json(text, len, err, sizeof(err));
	free(text);
	if (o == NULL && err[0] != '\0') {
		fprintf(stderr, "dify-admin: dsl json: %s: %s\n", argv[1], err);
		return 1;
	}
	puts(o == NULL ? "null" : json_compact(o));
	json_object_put(o);
	return 0;
}

/* ---- keys ---- */

static int
cmd_key_create(int argc, char **argv)
{
	struct app	 a;
	char		 key[29], id[UUID_LEN + 1];

	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		puts("usage: dify-admin key create APP_ID\n"
		    "Issue an API key for an app and print it.  It is shown "
		    "this once:\nonly its SHA-256 digest is stored.");
		return argc == 2 ? 0 : 2;
	}
	open_db();
	if (db_app_get(db, &pool, argv[1], &a) != DB_OK)
		die("key create: no app %s", argv[1]);
	app_release(&a);
	auth_key_new(key);
	if (db_key_create(db, argv[1], key, id) == -1)
		die("key create: database error%s", NULL);
	puts(key);
	explicit_bzero(key, sizeof(key));
	return 0;
}

static int
print_key(const struct api_key *k, void *arg)
{
	(void)arg;
	printf("%s  %s  %s...  %s\n", k->id, k->app_id, k->prefix,
	    k->revoked ? "revoked" : "active");
	return 0;
}

static int
cmd_key_list(int argc, char **argv)
{
	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--help") == 0)) {
		puts("usage: dify-admin key list [APP_ID]\n"
		    "One line per key: id, app id, first characters, state.");
		return argc == 2 ? 0 : 2;
	}
	open_db();
	return db_key_each(db, &pool, argc == 2 ? argv[1] : NULL, print_key,
	    NULL) == 0 ? 0 : 1;
}

static int
cmd_key_revoke(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		puts("usage: dify-admin key revoke KEY_ID|PREFIX\n"
		    "Revoke a key by its id or its first characters (both "
		    "from key list).  It then\nanswers 401 \"Access token is "
		    "invalid\".  A prefix that several active keys share\n"
		    "revokes none of them.");
		return argc == 2 ? 0 : 2;
	}
	open_db();
	switch (db_key_revoke(db, argv[1])) {
	case DB_OK:
		printf("revoked %s\n", argv[1]);
		return 0;
	case DB_NOT_FOUND:
		die("key revoke: no active key %s", argv[1]);
		return 1;
	case DB_CONFLICT:
		die("key revoke: %s names several keys; nothing revoked; "
		    "use the id", argv[1]);
		return 1;
	default:
		die("key revoke: database error%s", NULL);
		return 1;
	}
}

/* ---- dataset keys (the Knowledge API) ---- */

static int
cmd_dataset_key_create(int argc, char **argv)
{
	char	key[33], id[UUID_LEN + 1];

	if (argc != 1) {
		puts("usage: dify-admin dataset-key create\n"
		    "Issue a key of the Knowledge API (/v1/datasets) and print "
		    "it.  It opens every\ndataset of the install and no app.  "
		    "It is shown this once: only its SHA-256\ndigest is "
		    "stored.");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	open_db();
	auth_dataset_key_new(key);
	if (db_dataset_key_create(db, key, id) == -1)
		die("dataset-key create: database error%s", NULL);
	puts(key);
	explicit_bzero(key, sizeof(key));
	return 0;
}

static int
print_dataset_key(const struct api_key *k, void *arg)
{
	(void)arg;
	printf("%s  %s...  %s\n", k->id, k->prefix,
	    k->revoked ? "revoked" : "active");
	return 0;
}

static int
cmd_dataset_key_list(int argc, char **argv)
{
	if (argc != 1) {
		puts("usage: dify-admin dataset-key list\n"
		    "One line per dataset key: id, first characters, state.");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	open_db();
	return db_dataset_key_each(db, &pool, print_dataset_key, NULL) == 0 ?
	    0 : 1;
}

static int
cmd_dataset_key_revoke(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		puts("usage: dify-admin dataset-key revoke KEY_ID|PREFIX\n"
		    "Revoke a dataset key by its id or its first characters "
		    "(both from dataset-key\nlist).  It then answers 401 "
		    "\"Access token is invalid\".  A prefix that several\n"
		    "active keys share revokes none of them.");
		return argc == 2 ? 0 : 2;
	}
	open_db();
	switch (db_dataset_key_revoke(db, argv[1])) {
	case DB_OK:
		printf("revoked %s\n", argv[1]);
		return 0;
	case DB_NOT_FOUND:
		die("dataset-key revoke: no active key %s", argv[1]);
		return 1;
	case DB_CONFLICT:
		die("dataset-key revoke: %s names several keys; nothing "
		    "revoked; use the id", argv[1]);
		return 1;
	default:
		die("dataset-key revoke: database error%s", NULL);
		return 1;
	}
}

/* ---- db copy ---- */

static void
say_line(void *arg, const char *line)
{
	(void)arg;
	puts(line);
}

static int
cmd_db_copy(int argc, char **argv)
{
	const char	*from = NULL, *to = NULL;
	struct db	*src, *dst;
	int		 i, rc;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--from") == 0 && i + 1 < argc)
			from = argv[++i];
		else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to = argv[++i];
		else
			break;
	}
	if (i < argc || from == NULL || to == NULL) {
		puts("usage: dify-admin db copy --from FILE.db --to "
		    "postgresql://...\n"
		    "Move an SQLite install into an empty PostgreSQL database: "
		    "every table in one\ntransaction, each row read back and "
		    "compared.  The SQLite file is migrated\nfirst and is "
		    "otherwise left as it was.  Files stored under the data "
		    "directory\nstay there (DIFYCGI_FILE_STORE=local reads "
		    "them on every node that mounts it).");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (db_where_is_pg(from) || !db_where_is_pg(to))
		die("db copy: --from is an SQLite file, --to a postgresql:// "
		    "URL%s", "");
	if (config_load() == -1)
		exit(1);
	if (access(from, R_OK | W_OK) == -1)
		die("db copy: %s: cannot be read and written", from);
	if ((src = db_open(from)) == NULL)
		die("db copy: cannot open %s", from);
	if ((dst = db_open(to)) == NULL)
		die("db copy: cannot connect to the target%s", "");
	rc = db_copy(src, dst, say_line, NULL);
	db_close(src);
	db_close(dst);
	if (rc == DB_CONFLICT)
		die("db copy: the target holds apps already; copy into an "
		    "empty database%s", "");
	if (rc != 0)
		die("db copy: failed; the target is unchanged%s", "");
	puts("copied; every row checked");
	return 0;
}

/* ---- model embed, model rerank: check a provider ---- */

/*
 * --provider P --model M [--query Q --top-n N] then texts: the index of
 * the first text, or -1.
 */
static int
model_args(int argc, char **argv, const char **provider,
    const char **model, const char **query, int *top_n)
{
	char	*end;
	int	 i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--provider") == 0 && i + 1 < argc)
			*provider = argv[++i];
		else if (strcmp(argv[i], "--model") == 0 && i + 1 < argc)
			*model = argv[++i];
		else if (query != NULL && strcmp(argv[i], "--query") == 0 &&
		    i + 1 < argc)
			*query = argv[++i];
		else if (top_n != NULL && strcmp(argv[i], "--top-n") == 0 &&
		    i + 1 < argc) {
			*top_n = (int)strtol(argv[++i], &end, 10);
			if (*end != '\0' || *top_n < 1)
				return -1;
		} else if (strcmp(argv[i], "--") == 0)
			return i + 1;
		else if (strncmp(argv[i], "--", 2) == 0)
			return -1;
		else
			break;
	}
	if (*provider == NULL || (*model == NULL &&
	    strcmp(*provider, "offline") != 0) ||
	    (query != NULL && *query == NULL))
		return -1;
	if (*model == NULL)
		*model = "offline-demo";
	return i;
}

static void
print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

static json_object *
usage_obj(int tokens)
{
	json_object	*u = json_object_new_object();

	json_object_object_add(u, "total_tokens", json_object_new_int(tokens));
	return u;
}

static int
cmd_model_embed(int argc, char **argv)
{
	struct embed_result	 res;
	const char		*provider = NULL, *model = NULL;
	json_object		*o, *data, *d, *v;
	int			 first, i, j;

	first = model_args(argc, argv, &provider, &model, NULL, NULL);
	if (first == -1 || first >= argc) {
		puts("usage: dify-admin model embed --provider P --model M "
		    "TEXT...\n"
		    "Embed the texts with the provider's model (POST "
		    "{base}/embeddings, in batches of\n"
		    "DIFYCGI_PROVIDER_<P>_EMBED_BATCH) and print the vectors "
		    "as JSON.  The provider\n"
		    "\"offline\" is the built-in demo "
		    "model (--model optional).");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (config_load() == -1)
		exit(1);
	embed_result_init(&res);
	if (upstream_embed(provider, model, (const char *const *)argv + first,
	    argc - first, &res) == -1) {
		fprintf(stderr, "dify-admin: model embed: %s\n", res.errmsg);
		embed_result_free(&res);
		return 1;
	}
	o = json_object_new_object();
	json_object_object_add(o, "provider", json_object_new_string(provider));
	json_object_object_add(o, "model", json_object_new_string(model));
	json_object_object_add(o, "dimensions", json_object_new_int(res.dim));
	json_object_object_add(o, "requests",
	    json_object_new_int(res.requests));
	json_object_object_add(o, "usage", usage_obj(res.tokens));
	data = json_object_new_array();
	for (i = 0; i < res.n; i++) {
		d = json_object_new_object();
		json_object_object_add(d, "index", json_object_new_int(i));
		v = json_object_new_array();
		for (j = 0; j < res.dim; j++)
			json_object_array_add(v, json_object_new_double(
			    res.vec[(size_t)i * res.dim + j]));
		json_object_object_add(d, "embedding", v);
		json_object_array_add(data, d);
	}
	json_object_object_add(o, "data", data);
	print_json(o);
	embed_result_free(&res);
	return 0;
}

static int
cmd_model_rerank(int argc, char **argv)
{
	struct rerank_result	 res;
	const char		*provider = NULL, *model = NULL;
	const char		*query = NULL;
	json_object		*o, *arr, *r, *doc;
	int			 first, i, top_n = 0;

	first = model_args(argc, argv, &provider, &model, &query, &top_n);
	if (first == -1 || first >= argc) {
		puts("usage: dify-admin model rerank --provider P --model M "
		    "--query Q [--top-n N] DOC...\n"
		    "Score the documents against the query with the "
		    "provider's rerank model (POST\n"
		    "{base}/rerank) and print the results as JSON, best "
		    "first.  The provider\n"
		    "\"offline\" scores by the cosine "
		    "of the demo embeddings (--model optional).");
		return argc == 2 && strcmp(argv[1], "--help") == 0 ? 0 : 2;
	}
	if (config_load() == -1)
		exit(1);
	rerank_result_init(&res);
	if (upstream_rerank(provider, model, query,
	    (const char *const *)argv + first, argc - first, top_n,
	    &res) == -1) {
		fprintf(stderr, "dify-admin: model rerank: %s\n", res.errmsg);
		rerank_result_free(&res);
		return 1;
	}
	o = json_object_new_object();
	json_object_object_add(o, "provider", json_object_new_string(provider));
	json_object_object_add(o, "model", json_object_new_string(model));
	arr = json_object_new_array();
	for (i = 0; i < res.nhits; i++) {
		r = json_object_new_object();
		json_object_object_add(r, "index",
		    json_object_new_int(res.hits[i].index));
		json_object_object_add(r, "relevance_score",
		    json_object_new_double(res.hits[i].score));
		doc = json_object_new_object();
		json_object_object_add(doc, "text", json_object_new_string(
		    argv[first + res.hits[i].index]));
		json_object_object_add(r, "document", doc);
		json_object_array_add(arr, r);
	}
	json_object_object_add(o, "results", arr);
	json_object_object_add(o, "usage", usage_obj(res.tokens));
	print_json(o);
	rerank_result_free(&res);
	return 0;
}

/* ---- dispatch ---- */

static const struct {
	const char	*group;
	const char	*verb;
	int		 (*fn)(int, char **);
	const char	*what;
} cmds[] = {
	{ "init", NULL, cmd_init, "create or migrate the database" },
	{ "app", "create", cmd_app_create, "create an app" },
	{ "app", "list", cmd_app_list, "list apps" },
	{ "app", "show", cmd_app_show, "show an app as JSON" },
	{ "app", "delete", cmd_app_delete, "delete an app" },
	{ "app", "import", cmd_app_import, "import a Dify DSL file as an app" },
	{ "app", "export", cmd_app_export, "write an app as a Dify DSL file" },
	{ "key", "create", cmd_key_create, "issue an API key (shown once)" },
	{ "key", "list", cmd_key_list, "list keys" },
	{ "key", "revoke", cmd_key_revoke, "revoke a key" },
	{ "dataset-key", "create", cmd_dataset_key_create,
	    "issue a Knowledge API key (shown once)" },
	{ "dataset-key", "list", cmd_dataset_key_list, "list dataset keys" },
	{ "dataset-key", "revoke", cmd_dataset_key_revoke,
	    "revoke a dataset key" },
	{ "db", "copy", cmd_db_copy, "copy an SQLite install into PostgreSQL" },
	{ "model", "embed", cmd_model_embed,
	    "embed texts with a provider's model (JSON)" },
	{ "model", "rerank", cmd_model_rerank,
	    "rerank documents with a provider's model (JSON)" },
	{ "dsl", "types", cmd_dsl_types, "list node types, and which ones run" },
	{ "dsl", "json", cmd_dsl_json, "print YAML as JSON, as Dify reads it" },
};

static void
usage(FILE *f)
{
	size_t	i;

	fprintf(f, "usage: dify-admin [--db PATH|URL] COMMAND [ARGS]\n"
	    "The database is --db (an SQLite file or a postgresql:// URL), "
	    "else\n$DIFYCGI_DATABASE_URL, else $DIFYCGI_DB, else "
	    "$DIFYCGI_DATA_DIR/dify.db.\nCommands (each takes --help):\n");
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-5s %-8s %s\n", cmds[i].group,
		    cmds[i].verb ? cmds[i].verb : "", cmds[i].what);
}

int
main(int argc, char *argv[])
{
	size_t	i;
	int	rc;

	log_init("dify-admin");
	argv++;
	argc--;
	if (argc >= 2 && strcmp(argv[0], "--db") == 0) {
		db_path = argv[1];
		argv += 2;
		argc -= 2;
	}
	if (argc == 0 || strcmp(argv[0], "--help") == 0 ||
	    strcmp(argv[0], "-h") == 0) {
		usage(argc == 0 ? stderr : stdout);
		return argc == 0 ? 2 : 0;
	}
	if (strcmp(argv[0], "--version") == 0) {
		printf("dify-admin (difycgi) %s\n", DIFYCGI_VERSION);
		return 0;
	}
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(cmds[i].group, argv[0]) != 0)
			continue;
		if (cmds[i].verb == NULL) {
			rc = cmds[i].fn(argc, argv);
			goto done;
		}
		if (argc >= 2 && strcmp(cmds[i].verb, argv[1]) == 0) {
			rc = cmds[i].fn(argc - 1, argv + 1);
			goto done;
		}
	}
	fprintf(stderr, "dify-admin: unknown command '%s%s%s' (see --help)\n",
	    argv[0], argc >= 2 ? " " : "", argc >= 2 ? argv[1] : "");
	return 2;
done:
	db_close(db);
	pool_free_all(&pool);
	return rc;
}
