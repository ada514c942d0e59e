/*
 * auth.c: API keys and end users.  A key is "app-" (or, for the
 * Knowledge API, "dataset-") and 24 random alphanumerics, shown once; only its SHA-256 digest is stored.  The
 * checks and their answers follow Dify's order exactly (spec section 2).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"

static const char alnum[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

static void
key_new(char *out, const char *prefix)
{
	unsigned char	r;
	size_t		n = strlen(prefix);
	int		i = 0;

	memcpy(out, prefix, n);
	while (i < 24) {
		random_bytes(&r, 1);
		if (r >= 248)	/* 248 = 4 * 62: keep the draw uniform */
			continue;
		out[n + i++] = alnum[r % 62];
	}
	out[n + 24] = '\0';
}

void
auth_key_new(char out[29])
{
	key_new(out, "app-");
}

void
auth_dataset_key_new(char out[33])
{
	key_new(out, "dataset-");
}

/*
 * The SHA-256 of the bearer token of the request into "hash": 0, or -1
 * with Dify's 401 in "rs".
 */
static int
bearer_hash(struct req *rq, struct resp *rs, uint8_t hash[32])
{
	const char	*h = req_env(rq, "HTTP_AUTHORIZATION"), *tok;
	char		 key[257];
	size_t		 n;

	if (h == NULL || strchr(h, ' ') == NULL)
		return resp_error(rs, ERR_AUTH_MISSING);
	while (*h == ' ' || *h == '\t')
		h++;
	n = strcspn(h, " \t");
	if (n != 6 || strncasecmp(h, "bearer", 6) != 0)
		return resp_error(rs, ERR_AUTH_SCHEME);
	tok = h + n;
	while (*tok == ' ' || *tok == '\t')
		tok++;
	n = strlen(tok);
	while (n > 0 && isspace((unsigned char)tok[n - 1]))
		n--;
	if (n == 0 || n > 256)
		return resp_error(rs, ERR_AUTH_INVALID);
	memcpy(key, tok, n);
	key[n] = '\0';
	db_key_hash(key, hash);
	explicit_bzero(key, sizeof(key));
	return 0;
}

int
auth_request(struct req *rq, struct resp *rs)
{
	const char	*app_id;
	uint8_t		 hash[32];
	int		 rc;

	if (bearer_hash(rq, rs, hash) == -1)
		return -1;
	rc = db_key_lookup(rq->db, &rq->pool, hash, &app_id);
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_AUTH_INVALID);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	rc = db_app_get(rq->db, &rq->pool, app_id, &rq->app);
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_APP_GONE);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	rq->have_app = 1;
	if (strcmp(rq->app.status, "normal") != 0)
		return resp_error(rs, ERR_APP_ABNORMAL);
	if (!rq->app.enable_api)
		return resp_error(rs, ERR_API_DISABLED);
	return 0;
}

/*
 * Dify's validate_dataset_token: the token is looked up among keys of
 * type "dataset" only, so an app key here (and a dataset key on an app
 * endpoint) is "Access token is invalid".
 */
int
auth_dataset_request(struct req *rq, struct resp *rs)
{
	uint8_t		 hash[32];
	int		 rc;

	if (bearer_hash(rq, rs, hash) == -1)
		return -1;
	rc = db_dataset_key_lookup(rq->db, &rq->pool, hash,
	    &rq->dataset_key_id);
	if (rc == DB_NOT_FOUND)
		return resp_error(rs, ERR_AUTH_INVALID);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	return 0;
}

int
auth_user_check(struct resp *rs, const char *user, size_t len)
{
	if (memchr(user, '\0', len) != NULL)
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "user must not contain NUL characters");
	if (len > USER_MAX_BYTES || !utf8_valid(user, len))
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "user must be a UTF-8 string of at most 255 bytes");
	return 0;
}

int
auth_end_user(struct req *rq, struct resp *rs, char where, int required)
{
	const char	*user = NULL;
	json_object	*v;
	size_t		 len = 0;

	if (rq->user.id != NULL)	/* a handler above already did */
		return 0;
	if (where == 'j') {
		/* req_json refuses a NUL or lone surrogate anywhere */
		if (req_json(rq, rs) == -1)
			return -1;
		/*
		 * Dify: "if not user" then str(user).  So false, 0, [] and
		 * {} are not given and true is "True"; any other scalar is
		 * its string form; other arrays and objects, which Dify
		 * would take as their Python repr, are refused.
		 */
		v = json_get(rq->body, "user");
		if (input_falsy(v))
			v = NULL;
		if (v != NULL && (json_object_is_type(v, json_type_object) ||
		    json_object_is_type(v, json_type_array)))
			return resp_error_msg(rs, ERR_INVALID_PARAM,
			    "user must be a string");
		if (v != NULL && json_object_is_type(v, json_type_boolean)) {
			user = "True";
			len = strlen(user);
		} else if (v != NULL) {
			user = json_object_get_string(v);
			len = json_object_is_type(v, json_type_string) ?
			    (size_t)json_object_get_string_len(v) :
			    strlen(user);
		}
	} else {
		if (req_query_exact(rq, "user", &user) == -1)
			return resp_error_msg(rs, ERR_INVALID_PARAM,
			    "user must not contain NUL characters");
		len = user != NULL ? strlen(user) : 0;
	}
	if (user == NULL || len == 0) {
		if (required)
			return resp_error(rs, ERR_USER_REQUIRED);
		user = "DEFAULT-USER";
		len = strlen(user);
	}
	if (auth_user_check(rs, user, len) == -1)
		return -1;
	if (db_end_user_get_or_create(rq->db, &rq->pool, rq->app.id, user,
	    &rq->user) != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	return 0;
}
