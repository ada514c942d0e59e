/* json.c: small helpers over json-c. */
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

json_object *
json_get(json_object *o, const char *key)
{
	json_object	*v = NULL;

	if (o == NULL || !json_object_is_type(o, json_type_object))
		return NULL;
	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *
json_str(json_object *o, const char *key)
{
	json_object	*v = json_get(o, key);

	if (v == NULL || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

json_object *
json_copy(json_object *o)
{
	json_object	*c = NULL;

	if (o == NULL)
		return NULL;
	if (json_object_deep_copy(o, &c, NULL) != 0)
		return NULL;
	return c;
}

const char *
json_compact(json_object *o)
{
	return json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
}

/*
 * A value that serialises as "text", stored JSON we only pass through:
 * parsing it would cost a json-c parse (and a locale switch) per value.
 * "text" must be valid JSON.  Not for json_copy().
 */
json_object *
json_raw(const char *text)
{
	json_object	*o = json_object_new_object();
	char		*s = strdup(text);

	if (s == NULL) {
		log_error("out of memory");
		abort();
	}
	json_object_set_serializer(o, json_object_userdata_to_json_string, s,
	    json_object_free_userdata);
	return o;
}
