/*
 * tools.c: the built-in tools agent-chat apps (function calling) and
 * workflow tool nodes can use.  Dify's tools are plugins, most of them
 * calling services that need their own keys or the open internet; here
 * a few useful ones are built in, named as Dify names them, and any other
 * gets a clear error naming it:
 *
 *   time/current_time        the current time (UTC or a fixed offset)
 *   json_process/json_parse  a value out of a JSON text by a dotted path
 *                            (also under provider "builtin")
 *   webscraper/webscraper    the text of a public web page (fetched with
 *                            the SSRF rules of files_fetch_url)
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tool/tool.h"
#include "files/files.h"

#define TOOL_OUTPUT_MAX		(128 * 1024)
#define WEB_PAGE_MAX		(2 * 1024 * 1024)

static const char *
arg_str(json_object *args, const char *name, const char *dflt)
{
	const char	*s = json_str(args, name);

	return s != NULL && *s != '\0' ? s : dflt;
}

/* ---- time ---- */

static int
current_time(json_object *args, struct buf *out, char *err, size_t errlen)
{
	const char	*tz = arg_str(args, "timezone", "UTC");
	const char	*fmt = arg_str(args, "format", "%Y-%m-%d %H:%M:%S");
	time_t		 t = time(NULL);
	struct tm	 tm;
	char		 s[256];
	int		 sign = 1, hh = 0, mm = 0;

	/* UTC, or a fixed offset such as +08:00 (no zone database lookups,
	 * which are not thread-safe) */
	if (strcmp(tz, "UTC") != 0 && strcmp(tz, "GMT") != 0) {
		const char	*p = tz;

		if (strncmp(p, "UTC", 3) == 0)
			p += 3;
		if ((*p != '+' && *p != '-') || !isdigit((unsigned char)p[1]) ||
		    !isdigit((unsigned char)p[2])) {
			snprintf(err, errlen, "current_time: timezone %s is not "
			    "supported here (use UTC or an offset like +08:00)",
			    tz);
			return -1;
		}
		sign = *p == '-' ? -1 : 1;
		hh = (p[1] - '0') * 10 + (p[2] - '0');
		if (p[3] == ':' && isdigit((unsigned char)p[4]) &&
		    isdigit((unsigned char)p[5]))
			mm = (p[4] - '0') * 10 + (p[5] - '0');
		if (hh > 14 || mm > 59) {
			snprintf(err, errlen, "current_time: bad offset %s", tz);
			return -1;
		}
		t += sign * (hh * 3600 + mm * 60);
	}
	gmtime_r(&t, &tm);
	if (strlen(fmt) > 64 || strftime(s, sizeof(s), fmt, &tm) == 0) {
		snprintf(err, errlen, "current_time: bad format");
		return -1;
	}
	buf_puts(out, s);
	if (strcmp(tz, "UTC") == 0 || strcmp(tz, "GMT") == 0)
		buf_puts(out, " UTC");
	else
		buf_printf(out, " %s", tz);
	return 0;
}

/* ---- json_parse ---- */

static int
json_parse(json_object *args, struct buf *out, char *err, size_t errlen)
{
	/* "json_string" is the name newer json_process versions use */
	const char	*content = json_str(args, "content") ?
			    json_str(args, "content") : json_str(args, "json_string");
	const char	*filter = arg_str(args, "json_filter", "");
	json_object	*root, *v;
	char		 key[256];
	size_t		 n;

	if (content == NULL) {
		snprintf(err, errlen, "json_parse: content (or json_string) is "
		    "required");
		return -1;
	}
	if ((root = json_tokener_parse(content)) == NULL &&
	    strcmp(content, "null") != 0) {
		snprintf(err, errlen, "json_parse: content is not JSON");
		return -1;
	}
	v = root;
	/* a dotted path: a.b[0].c or $.a.b */
	if (*filter == '$')
		filter++;
	while (*filter != '\0' && v != NULL) {
		if (*filter == '.') {
			filter++;
			continue;
		}
		if (*filter == '[') {
			long	i = strtol(filter + 1, NULL, 10);

			if (!json_object_is_type(v, json_type_array) || i < 0 ||
			    (size_t)i >= json_object_array_length(v))
				v = NULL;
			else
				v = json_object_array_get_idx(v, (size_t)i);
			filter = strchr(filter, ']');
			filter = filter ? filter + 1 : "";
			continue;
		}
		n = strcspn(filter, ".[");
		if (n >= sizeof(key))
			n = sizeof(key) - 1;
		memcpy(key, filter, n);
		key[n] = '\0';
		v = json_get(v, key);
		filter += n;
	}
	if (v == NULL)
		buf_puts(out, "");
	else if (json_object_is_type(v, json_type_string))
		buf_puts(out, json_object_get_string(v));
	else
		buf_puts(out, json_compact(v));
	json_object_put(root);
	return 0;
}

/* ---- webscraper ---- */

static int
webscraper(json_object *args, struct buf *out, char *err, size_t errlen)
{
	const char	*url = json_str(args, "url");
	struct buf	 page;
	int		 rc;

	if (url == NULL) {
		snprintf(err, errlen, "webscraper: url is required");
		return -1;
	}
	buf_init(&page, WEB_PAGE_MAX);
	rc = files_fetch_url(url, WEB_PAGE_MAX, &page, err, errlen);
	if (rc == 0 && files_extract_text("html", "text/html", page.p ?
	    page.p : "", page.len, out) != 0) {
		snprintf(err, errlen, "webscraper: no text in %s", url);
		rc = -1;
	}
	buf_free(&page);
	return rc;
}

static const struct tool_def tools[] = {
	{ "time", "current_time", "Get the current time.",
	  "{\"type\":\"object\",\"properties\":{\"timezone\":{\"type\":"
	  "\"string\",\"description\":\"UTC or an offset like +08:00\"},"
	  "\"format\":{\"type\":\"string\",\"description\":\"strftime "
	  "format\"}}}", current_time },
	{ "json_process", "json_parse", "Parse a JSON text and return the "
	  "value at a path.",
	  "{\"type\":\"object\",\"properties\":{\"content\":{\"type\":"
	  "\"string\"},\"json_string\":{\"type\":\"string\",\"description\":"
	  "\"the same as content\"},\"json_filter\":{\"type\":\"string\","
	  "\"description\":\"dotted path such as data.items[0].name\"}},"
	  "\"required\":[\"content\"]}", json_parse },
	{ "builtin", "json_parse", "Parse a JSON text and return the value at "
	  "a path.",
	  "{\"type\":\"object\",\"properties\":{\"content\":{\"type\":"
	  "\"string\"},\"json_string\":{\"type\":\"string\"},"
	  "\"json_filter\":{\"type\":\"string\"}},\"required\":"
	  "[\"content\"]}", json_parse },
	{ "webscraper", "webscraper", "Fetch a public web page and return its "
	  "text.",
	  "{\"type\":\"object\",\"properties\":{\"url\":{\"type\":\"string\"}},"
	  "\"required\":[\"url\"]}", webscraper },
};

const struct tool_def *
tool_find(const char *provider, const char *name)
{
	size_t	i;

	if (name == NULL)
		return NULL;
	for (i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
		if (strcmp(tools[i].name, name) == 0 && (provider == NULL ||
		    strcmp(tools[i].provider, provider) == 0))
			return &tools[i];
	return NULL;
}

json_object *
tool_schema(const struct tool_def *t)
{
	json_object	*o = json_object_new_object(), *f;

	f = json_object_new_object();
	json_object_object_add(f, "name", json_object_new_string(t->name));
	json_object_object_add(f, "description",
	    json_object_new_string(t->description));
	json_object_object_add(f, "parameters",
	    json_tokener_parse(t->params_schema));
	json_object_object_add(o, "type", json_object_new_string("function"));
	json_object_object_add(o, "function", f);
	return o;
}

int
tool_run(const struct tool_def *t, json_object *args, struct buf *out,
    char *err, size_t errlen)
{
	struct buf	tmp;
	int		rc;

	buf_init(&tmp, TOOL_OUTPUT_MAX);
	err[0] = '\0';
	rc = t->run(args, &tmp, err, errlen);
	if (rc == 0)
		buf_append(out, tmp.p ? tmp.p : "", tmp.len);
	buf_free(&tmp);
	return rc;
}
