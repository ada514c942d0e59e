/* app.c: app metadata and what no other family claims.  Mirrors Dify
 * service_api/app/app.py, site.py, index.py and end_user/end_user.py:
 * GET /v1/, /v1/info, /v1/parameters, /v1/meta, /v1/site,
 * /v1/end-users/{end_user_id}; and the datasets of the Knowledge API
 * (service_api/dataset/dataset.py, lib/app/dataset.c), which answer to
 * dataset keys only. */
#include <unistd.h>

#include "app/app.h"

static int	index_root(struct req *, struct resp *);
static int	health(struct req *, struct resp *);
static int	info(struct req *, struct resp *);
static int	parameters(struct req *, struct resp *);
static int	meta(struct req *, struct resp *);
static int	site(struct req *, struct resp *);
static int	end_user(struct req *, struct resp *);

static const struct route routes[] = {
	{ "GET", "/v1",			index_root,	ROUTE_NOAUTH },
	{ "GET", "/health",		health,		ROUTE_NOAUTH },
	{ "GET", "/v1/info",		info,		0 },
	{ "GET", "/v1/parameters",	parameters,	0 },
	{ "GET", "/v1/meta",		meta,		0 },
	{ "GET", "/v1/site",		site,		0 },
	{ "GET", "/v1/end-users/{id:uuid}", end_user,	0 },
	{ "GET", "/v1/datasets",	dataset_list,	ROUTE_DATASET },
	{ "POST", "/v1/datasets",	dataset_create,	ROUTE_DATASET },
	{ "GET", "/v1/datasets/{id:uuid}", dataset_get,	ROUTE_DATASET },
	{ "PATCH", "/v1/datasets/{id:uuid}", dataset_update, ROUTE_DATASET },
	{ "DELETE", "/v1/datasets/{id:uuid}", dataset_delete, ROUTE_DATASET },
	{ NULL, NULL, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	return serve_main(argc, argv, "app.fcgi", routes);
}

static int
index_root(struct req *rq, struct resp *rs)
{
	json_object	*o = json_object_new_object();

	(void)rq;
	json_object_object_add(o, "welcome",
	    json_object_new_string("Dify OpenAPI"));
	json_object_object_add(o, "api_version", json_object_new_string("v1"));
	json_object_object_add(o, "server_version",
	    json_object_new_string(DIFY_SERVER_VERSION));
	return resp_json(rs, 200, o);
}

static int
health(struct req *rq, struct resp *rs)
{
	json_object	*o = json_object_new_object();

	(void)rq;
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "status", json_object_new_string("ok"));
	json_object_object_add(o, "version",
	    json_object_new_string(DIFY_SERVER_VERSION));
	return resp_json(rs, 200, o);
}

static int
info(struct req *rq, struct resp *rs)
{
	return resp_json(rs, 200, appinfo_info(&rq->app));
}

static int
parameters(struct req *rq, struct resp *rs)
{
	if (!app_configured(rq->db, &rq->app))
		return resp_error(rs, ERR_APP_UNAVAILABLE);
	return resp_json(rs, 200, appinfo_parameters(&rq->app));
}

static int
meta(struct req *rq, struct resp *rs)
{
	return resp_json(rs, 200, appinfo_meta(&rq->app));
}

static int
site(struct req *rq, struct resp *rs)
{
	json_object	*o = appinfo_site(&rq->app);

	if (o == NULL)
		return resp_error(rs, ERR_FORBIDDEN);
	return resp_json(rs, 200, o);
}

/*
 * Dify's EndUserDetail.  The app is the workspace here, so tenant_id is
 * the app's id (as in file objects); users made through the Service API
 * have type "service_api", external_user_id = session_id = the "user"
 * string and no name.  Timestamps are naive UTC ISO strings, as Dify's
 * pydantic model dumps them.
 */
static int
end_user(struct req *rq, struct resp *rs)
{
	struct end_user	 u;
	json_object	*o;
	char		 iso[32];
	int		 rc;

	rc = db_end_user_get(rq->db, &rq->pool, rq->app.id,
	    req_param(rq, "id"), &u);
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_END_USER_NOT_FOUND);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	o = json_object_new_object();
	json_object_object_add(o, "id", json_object_new_string(u.id));
	json_object_object_add(o, "tenant_id",
	    json_object_new_string(rq->app.id));
	json_object_object_add(o, "app_id", json_object_new_string(rq->app.id));
	json_object_object_add(o, "type",
	    json_object_new_string("service_api"));
	json_object_object_add(o, "external_user_id",
	    json_object_new_string(u.session_id));
	json_object_object_add(o, "name", NULL);
	json_object_object_add(o, "is_anonymous",
	    json_object_new_boolean(u.is_anonymous));
	json_object_object_add(o, "session_id",
	    json_object_new_string(u.session_id));
	iso_time(u.created_at, iso);
	json_object_object_add(o, "created_at", json_object_new_string(iso));
	iso_time(u.updated_at, iso);
	json_object_object_add(o, "updated_at", json_object_new_string(iso));
	return resp_json(rs, 200, o);
}
