/*
 * route.c: method + path templates with {name} captures inside one
 * program.  "{name:uuid}" only matches a UUID, so that a malformed id
 * gives the generic 404, as Dify's router does.  A path that matches
 * with another method gives 405.
 */
#include <string.h>

#include "http/http.h"

int
route_template(const char *tpl, const char *path, struct pool *p,
    struct kv *params, int *nparams)
{
	const char	*t = tpl, *s = path, *close, *colon, *seg_end;
	int		 n = 0;

	while (*t != '\0') {
		if (*t != '{') {
			if (*t != *s)
				return 0;
			t++;
			s++;
			continue;
		}
		close = strchr(t, '}');
		if (close == NULL)
			return 0;
		seg_end = s + strcspn(s, "/");
		if (seg_end == s || n == ROUTE_MAX_PARAMS)
			return 0;
		colon = memchr(t, ':', (size_t)(close - t));
		if (p != NULL) {
			params[n].key = pool_strndup(p, t + 1,
			    (size_t)((colon ? colon : close) - t - 1));
			params[n].val = pool_strndup(p, s,
			    (size_t)(seg_end - s));
			if (colon != NULL &&
			    strncmp(colon, ":uuid}", 6) == 0 &&
			    !uuid_valid(params[n].val))
				return 0;
		} else if (colon != NULL && strncmp(colon, ":uuid}", 6) == 0) {
			char	tmp[UUID_LEN + 1];

			if (seg_end - s != UUID_LEN)
				return 0;
			memcpy(tmp, s, UUID_LEN);
			tmp[UUID_LEN] = '\0';
			if (!uuid_valid(tmp))
				return 0;
		}
		n++;
		s = seg_end;
		t = close + 1;
	}
	/* one trailing slash is tolerated, as Flask's strict_slashes does */
	if (*s == '/' && s[1] == '\0')
		s++;
	if (*s != '\0')
		return 0;
	if (nparams != NULL)
		*nparams = n;
	return 1;
}

int
route_match(const struct route *routes, struct req *rq, const char *method,
    const char *path, const struct route **out)
{
	const struct route	*r;
	int			 path_seen = 0;
	const char		*m;

	/* PATCH on a PUT route is accepted: the Python SDK sends it */
	for (r = routes; r->method != NULL; r++) {
		if (!route_template(r->path, path, NULL, NULL, NULL))
			continue;
		path_seen = 1;
		m = r->method;
		if (strcmp(m, method) == 0 || (strcmp(method, "HEAD") == 0 &&
		    strcmp(m, "GET") == 0) || (strcmp(method, "PATCH") == 0 &&
		    strcmp(m, "PUT") == 0)) {
			route_template(r->path, path, &rq->pool, rq->params,
			    &rq->nparams);
			*out = r;
			return ROUTE_OK;
		}
	}
	return path_seen ? ROUTE_NO_METHOD : ROUTE_NO_PATH;
}
