/*
 * fuzz_dsl.c: fuzz target of the DSL reader (lib/dsl/): YAML to JSON
 * with PyYAML's typing and its limits, then every check and normalisation
 * of dsl_load, on arbitrary bytes and without a database.
 *
 * Beyond "no crash, no leak" it checks: a file is either accepted, with
 * everything the database needs present, or refused with at least one
 * problem; messages are valid UTF-8; the JSON stored for the graph and
 * the config reads back through json-c as the database layer reads it
 * (db_col_json); and an accepted file exports and, unless its aliases
 * expanded past DSL_MAX_BYTES, the export loads again to the same app
 * (graph, features, variables: normalising is idempotent; config, less
 * agent tools' credentials), and exporting that gives the same bytes.  A
 * broken invariant aborts.
 *
 * libFuzzer build, from the top of the tree (the library instrumented
 * too, so that the fuzzer sees its branches); make fuzz does the same for
 * every target through tools/fuzz.sh:
 *
 *   make fuzz-lib      # build-fuzz/libdify.a: clang, fuzzer-no-link
 *   PKGS="fcgi json-c sqlite3 libcurl yaml-0.1"
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -std=c11 \
 *       -D_GNU_SOURCE -Ilib $(pkg-config --cflags $PKGS) \
 *       -o build-fuzz/fuzz_dsl tests/fuzz/fuzz_dsl.c \
 *       build-fuzz/libdify.a $(pkg-config --libs $PKGS) -lpthread -lm
 *   mkdir -p /tmp/corpus && build-fuzz/fuzz_dsl -max_len=65536 \
 *       /tmp/corpus tests/fuzz/corpus/dsl
 *
 * Replay build (no libFuzzer), which make builds as $(BUILD)/fuzz/fuzz_dsl
 * and make test runs over tests/fuzz/corpus/dsl (tests/e2e/410 also over
 * the 40 DSL fixtures):
 *
 *   cc -DFUZZ_REPLAY -std=c11 -D_GNU_SOURCE -Ilib \
 *       $(pkg-config --cflags $PKGS) -o fuzz_dsl_replay \
 *       tests/fuzz/fuzz_dsl.c tests/fuzz/replay.c build/libdify.a \
 *       $(pkg-config --libs $PKGS) -lpthread -lm
 *   ./fuzz_dsl_replay tests/fuzz/corpus/dsl
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "dsl/dsl.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define EXPORT_MAX	(64 * 1024 * 1024)

static void
require(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_dsl: invariant broken: %s\n", what);
		abort();
	}
}

static void
messages_sound(json_object *list)
{
	const char	*s;
	size_t		 i;

	require(json_object_is_type(list, json_type_array), "a message list");
	for (i = 0; i < json_object_array_length(list); i++) {
		s = json_object_get_string(json_object_array_get_idx(list, i));
		require(s != NULL && s[0] != '\0', "a message is not empty");
		require(utf8_valid(s, strlen(s)), "messages are UTF-8");
	}
}

/* Serialised and parsed back as db_app.c stores and db_col_json reads. */
static void
stores(json_object *o, const char *what)
{
	json_object	*back;

	if (o == NULL)
		return;
	back = json_tokener_parse(json_compact(o));
	require(back != NULL && json_object_equal(o, back), what);
	json_object_put(back);
}

/* The config as exported: agent tools lose their credential_id. */
static json_object *
exported_config(const struct dsl_app *a)
{
	json_object	*c = json_copy(a->config), *tools;
	size_t		 i;

	if (app_mode_is_workflow(a->mode))
		return c;
	tools = json_get(json_get(c, "agent_mode"), "tools");
	for (i = 0; json_object_is_type(tools, json_type_array) &&
	    i < json_object_array_length(tools); i++)
		json_object_object_del(json_object_array_get_idx(tools, i),
		    "credential_id");
	return c;
}

/* An accepted app exports, and the export is the same app again. */
static void
round_trip(const struct dsl_app *a)
{
	struct dsl_app	 b;
	struct buf	 e1, e2;
	json_object	*want;

	buf_init(&e1, EXPORT_MAX);
	buf_init(&e2, EXPORT_MAX);
	require(dsl_export(a, 1, &e1) == 0, "an accepted app exports");
	if (e1.len > DSL_MAX_BYTES) {
		/* aliases expanded past the file size limit */
		buf_free(&e1);
		buf_free(&e2);
		return;
	}
	require(dsl_load(e1.p, e1.len, NULL, &b) == 0,
	    "an export imports again");
	require(strcmp(a->name, b.name) == 0 && strcmp(a->mode, b.mode) == 0,
	    "the export keeps name and mode");
	want = exported_config(a);
	require(json_object_equal(want, b.config),
	    "the export keeps the config");
	json_object_put(want);
	require(json_object_equal(a->graph, b.graph),
	    "normalising an export changes nothing");
	require(json_object_equal(a->features, b.features) &&
	    json_object_equal(a->env, b.env) &&
	    json_object_equal(a->conv, b.conv),
	    "the export keeps features and variables");
	require(dsl_export(&b, 1, &e2) == 0 && e1.len == e2.len &&
	    memcmp(e1.p, e2.p, e1.len) == 0, "a second export is the same");
	dsl_app_free(&b);
	buf_free(&e1);
	buf_free(&e2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dsl_app	 a;
	int		 rc;

	rc = dsl_load((const char *)data, size, NULL, &a);
	messages_sound(a.problems);
	messages_sound(a.warnings);
	require((rc == 0) == (json_object_array_length(a.problems) == 0),
	    "refused exactly when there are problems");
	if (rc == 0) {
		require(a.name != NULL && a.mode != NULL && a.config != NULL,
		    "an accepted app has a name, a mode and a config");
		if (app_mode_is_workflow(a.mode))
			require(json_object_is_type(json_get(a.graph, "nodes"),
			    json_type_array) && json_object_is_type(json_get(
			    a.graph, "edges"), json_type_array) &&
			    a.features != NULL && a.env != NULL &&
			    a.conv != NULL, "a workflow app has its parts");
		stores(a.config, "the config reads back from storage");
		stores(a.graph, "the graph reads back from storage");
		stores(a.features, "the features read back from storage");
		round_trip(&a);
	}
	dsl_app_free(&a);
	return 0;
}
