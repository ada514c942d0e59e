/* app.c: app metadata.  Mirrors Dify service_api/app/app.py, site.py and
 * index.py: GET /v1/, /v1/info, /v1/parameters, /v1/meta, /v1/site. */
#include <unistd.h>

#include "api.h"

static int	index_root(struct req *, struct resp *);
static int	health(struct req *, struct resp *);
static int	info(struct req *, struct resp *);
static int	parameters(struct req *, struct resp *);
static int	meta(struct req *, struct resp *);
static int	site(struct req *, struct resp *);

static const struct route routes[] = {
	{ "GET", "/v1",			index_root,	ROUTE_NOAUTH },
	{ "GET", "/health",		health,		ROUTE_NOAUTH },
	{ "GET", "/v1/info",		info,		0 },
	{ "GET", "/v1/parameters",	parameters,	0 },
	{ "GET", "/v1/meta",		meta,		0 },
	{ "GET", "/v1/site",		site,		0 },
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
