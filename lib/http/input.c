/*
 * input.c: field tables over a JSON body.  A handler declares the fields
 * it takes; input_check() decides presence, type and length, and answers
 * 400 invalid_param naming the field.  Unknown fields are ignored, as
 * Dify ignores them.
 */
#include <stdio.h>
#include <string.h>

#include "http/http.h"

static const char *
type_name(enum ftype t)
{
	switch (t) {
	case F_STRING: return "a string";
	case F_BOOL: return "a boolean";
	case F_INT: return "an integer";
	case F_NUMBER: return "a number";
	case F_OBJECT: return "an object";
	case F_ARRAY: return "an array";
	case F_SCALAR: return "a string";
	default: return "a value";
	}
}

static int
type_ok(json_object *v, enum ftype t)
{
	switch (t) {
	case F_STRING:
		return json_object_is_type(v, json_type_string);
	case F_BOOL:
		return json_object_is_type(v, json_type_boolean);
	case F_INT:
		return json_object_is_type(v, json_type_int);
	case F_NUMBER:
		return json_object_is_type(v, json_type_int) ||
		    json_object_is_type(v, json_type_double);
	case F_OBJECT:
		return json_object_is_type(v, json_type_object);
	case F_ARRAY:
		return json_object_is_type(v, json_type_array);
	case F_SCALAR:
		return !json_object_is_type(v, json_type_object) &&
		    !json_object_is_type(v, json_type_array);
	default:
		return 1;
	}
}

int
input_check(struct req *rq, struct resp *rs, const struct field *fields)
{
	const struct field	*f;
	json_object		*v;
	char			 msg[512];
	size_t			 len;

	for (f = fields; f->name != NULL; f++) {
		v = json_get(rq->body, f->name);
		if (v == NULL && (f->flags & F_NOTNULL) && rq->body != NULL &&
		    json_object_object_get_ex(rq->body, f->name, NULL)) {
			snprintf(msg, sizeof(msg), "%s must be %s", f->name,
			    type_name(f->type));
			return resp_error_msg(rs, ERR_INVALID_PARAM, msg);
		}
		if (v != NULL && (f->flags & F_FALSY) && input_falsy(v))
			continue;
		if (v == NULL) {
			if (f->flags & F_REQUIRED) {
				snprintf(msg, sizeof(msg), "%s is required",
				    f->name);
				return resp_error_msg(rs, ERR_INVALID_PARAM,
				    msg);
			}
			continue;
		}
		if (!type_ok(v, f->type)) {
			snprintf(msg, sizeof(msg), "%s must be %s", f->name,
			    type_name(f->type));
			return resp_error_msg(rs, ERR_INVALID_PARAM, msg);
		}
		if (json_object_is_type(v, json_type_string)) {
			len = (size_t)json_object_get_string_len(v);
			if (f->max > 0 && len > f->max) {
				snprintf(msg, sizeof(msg), "%s must be at most "
				    "%zu bytes", f->name, f->max);
				return resp_error_msg(rs, ERR_INVALID_PARAM,
				    msg);
			}
			if (memchr(json_object_get_string(v), '\0', len)) {
				snprintf(msg, sizeof(msg), "%s must not "
				    "contain NUL characters", f->name);
				return resp_error_msg(rs, ERR_INVALID_PARAM,
				    msg);
			}
		}
	}
	return 0;
}

int
input_falsy(json_object *v)
{
	if (v == NULL)
		return 1;
	switch (json_object_get_type(v)) {
	case json_type_boolean:
		return !json_object_get_boolean(v);
	case json_type_int:
		return json_object_get_int64(v) == 0;
	case json_type_double:
		return json_object_get_double(v) == 0.0;	/* NaN is true */
	case json_type_string:
		return json_object_get_string_len(v) == 0;
	case json_type_array:
		return json_object_array_length(v) == 0;
	case json_type_object:
		return json_object_object_length(v) == 0;
	default:
		return 0;
	}
}

const char *
input_str(struct req *rq, const char *name)
{
	return json_str(rq->body, name);
}

int
input_bool(struct req *rq, const char *name, int dflt)
{
	json_object	*v = json_get(rq->body, name);

	if (v == NULL || !json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}

int
input_query_int(struct req *rq, struct resp *rs, const char *name,
    long long dflt, long long min, long long max, long long *out)
{
	const char	*v = req_query(rq, name);
	char		 msg[256];

	if (v == NULL) {
		*out = dflt;
		return 0;
	}
	if (parse_int(v, min, max, out) == -1) {
		snprintf(msg, sizeof(msg), "%s must be an integer between "
		    "%lld and %lld", name, min, max);
		return resp_error_msg(rs, ERR_INVALID_PARAM, msg);
	}
	return 0;
}
