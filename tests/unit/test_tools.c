/* test_tools.c: the built-in tools agent chat and tool nodes call. */
#include <stdlib.h>
#include <string.h>

#include "tool/tool.h"
#include "unit.h"

static const char *
run(const char *provider, const char *name, const char *args, int *rc,
    struct buf *out)
{
	const struct tool_def	*t = tool_find(provider, name);
	json_object		*a = json_tokener_parse(args);
	char			 err[256];

	buf_reset(out);
	*rc = t ? tool_run(t, a, out, err, sizeof(err)) : -2;
	json_object_put(a);
	return *rc == -1 ? "" : buf_cstr(out);
}

int
main(void)
{
	static const struct {
		int		 line;
		const char	*args;
		int		 rc;
		const char	*want;
	} json_rows[] = {
		{ __LINE__, "{\"content\":\"{\\\"a\\\":{\\\"b\\\":[1,{\\\"c\\\":\\\"x\\\"}]}}\","
		  "\"json_filter\":\"a.b[1].c\"}", 0, "x" },
		{ __LINE__, "{\"content\":\"{\\\"a\\\":{\\\"b\\\":[1,2]}}\","
		  "\"json_filter\":\"$.a.b\"}", 0, "[1,2]" },
		{ __LINE__, "{\"content\":\"{\\\"a\\\":1}\",\"json_filter\":"
		  "\"a.missing.deeper\"}", 0, "" },
		{ __LINE__, "{\"content\":\"[1,2,3]\",\"json_filter\":\"[9]\"}",
		  0, "" },
		{ __LINE__, "{\"content\":\"not json\"}", -1, "" },
		{ __LINE__, "{}", -1, "" },
	};
	struct buf	out;
	size_t		i;
	int		rc;

	setenv("DIFYCGI_DATA_DIR", "/tmp", 1);
	config_load();
	buf_init(&out, 1 << 20);
	TEST("json_parse returns the value at a dotted path") {
		for (i = 0; i < sizeof(json_rows) / sizeof(json_rows[0]); i++) {
			const char *got = run("json_process", "json_parse",
			    json_rows[i].args, &rc, &out);

			CHECK_ROW(rc == json_rows[i].rc, json_rows[i].line);
			CHECK_ROW(rc != 0 || STREQ(got, json_rows[i].want),
			    json_rows[i].line);
		}
	}
	TEST("current_time answers UTC or a fixed offset, never a zone lookup") {
		CHECK(strlen(run("time", "current_time", "{}", &rc, &out)) == 23);
		CHECK(rc == 0 && strstr(buf_cstr(&out), " UTC") != NULL);
		run("time", "current_time", "{\"timezone\":\"+08:00\","
		    "\"format\":\"%H\"}", &rc, &out);
		CHECK(rc == 0 && STREQ(buf_cstr(&out) + 2, " +08:00"));
		run("time", "current_time", "{\"timezone\":\"Asia/Tokyo\"}", &rc,
		    &out);
		CHECK(rc == -1);
		run("time", "current_time", "{\"timezone\":\"+99:00\"}", &rc,
		    &out);
		CHECK(rc == -1);
	}
	TEST("tools are found by provider and name, or by name alone") {
		CHECK(tool_find("builtin", "json_parse") != NULL);
		CHECK(tool_find(NULL, "webscraper") != NULL);
		CHECK(tool_find("tavily", "tavily_search") == NULL);
		CHECK(tool_find("time", "json_parse") == NULL);
	}
	TEST("a tool's OpenAI schema is a function with parameters") {
		json_object *s = tool_schema(tool_find(NULL, "current_time"));

		CHECK(STREQ(json_str(s, "type"), "function"));
		CHECK(json_get(json_get(json_get(s, "function"), "parameters"),
		    "properties") != NULL);
		json_object_put(s);
	}
	TEST("webscraper refuses private addresses") {
		run("webscraper", "webscraper", "{\"url\":\"http://127.0.0.1:1/\"}",
		    &rc, &out);
		CHECK(rc == -1);
	}
	buf_free(&out);
	UNIT_DONE();
}
