/*
 * dsl_store.c: a loaded DSL app into the database (dsl_store) and an app
 * out of it for export (dsl_fetch): the apps row with its site, and for
 * workflow modes the workflows row, as Dify's app_dsl_service.py stores
 * an import and reads an app back for export_dsl.
 */
#include <string.h>

#include "dsl/dsl.h"

int
dsl_store(struct db *db, const struct dsl_app *a, char id[UUID_LEN + 1])
{
	struct app_new	 n;
	json_object	*site = json_object_new_object();
	char		 wid[UUID_LEN + 1];
	int		 rc = -1;

	memset(&n, 0, sizeof(n));
	n.name = a->name;
	n.description = a->description;
	n.mode = a->mode;
	n.icon_type = a->icon_type;
	n.icon = a->icon;
	n.icon_background = a->icon_background;
	n.config = a->config;
	json_object_object_add(site, "title", json_object_new_string(a->name));
	json_object_object_add(site, "use_icon_as_answer_icon",
	    json_object_new_boolean(a->use_icon_as_answer_icon));
	n.site = site;
	if (db_app_create(db, &n, id) == -1)
		goto out;
	if (app_mode_is_workflow(a->mode) && db_workflow_create(db, id,
	    a->graph, a->features, a->env, a->conv, wid) == -1)
		goto out;
	rc = 0;
out:
	json_object_put(site);
	return rc;
}

int
dsl_fetch(struct db *db, struct pool *p, const char *app_id,
    struct dsl_app *a)
{
	struct app	 app;
	struct wf_def	 w;
	json_object	*v;
	int		 rc;

	memset(a, 0, sizeof(*a));
	a->problems = json_object_new_array();
	a->warnings = json_object_new_array();
	if ((rc = db_app_get(db, p, app_id, &app)) != DB_OK)
		return rc;
	a->version = DSL_VERSION;
	a->name = app.name;
	a->description = app.description;
	a->mode = app.mode;
	a->icon_type = app.icon_type;
	a->icon = app.icon;
	a->icon_background = app.icon_background;
	v = json_get(app.site, "use_icon_as_answer_icon");
	a->use_icon_as_answer_icon = json_object_get_boolean(v);
	a->config = app.config;
	app.config = NULL;
	app_release(&app);
	if (!app_mode_is_workflow(a->mode))
		return DB_OK;
	/* the latest workflow: what the app runs */
	rc = db_wf_get(db, p, app_id, NULL, &w);
	if (rc != DB_OK)
		return rc;
	a->graph = w.graph;
	a->features = w.features;
	a->env = w.env;
	a->conv = w.conv;
	return a->graph != NULL ? DB_OK : -1;
}
