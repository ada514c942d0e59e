/* test_lib.c: unit tests of lib/: routing, path derivation, query
 * strings, JSON field checks, error bodies, key hashing, UUIDs, UTF-8,
 * buffers and migrations. */
#include <stdlib.h>
#include <ctype.h>
#include <unistd.h>

#include "http/http.h"
#include "unit.h"

static void
test_routes(void)
{
	static const struct {
		int		 line;
		const char	*tpl;
		const char	*path;
		int		 match;
		const char	*param;	/* value of the first capture */
	} rows[] = {
		{ __LINE__, "/v1/info", "/v1/info", 1, NULL },
		{ __LINE__, "/v1/info", "/v1/info/", 1, NULL },
		{ __LINE__, "/v1/info", "/v1/infos", 0, NULL },
		{ __LINE__, "/v1/info", "/v1", 0, NULL },
		{ __LINE__, "/v1/conversations/{id}/name",
		  "/v1/conversations/abc/name", 1, "abc" },
		{ __LINE__, "/v1/conversations/{id}/name",
		  "/v1/conversations//name", 0, NULL },
		{ __LINE__, "/v1/conversations/{id}/name",
		  "/v1/conversations/a/b/name", 0, NULL },
		{ __LINE__, "/v1/conversations/{id:uuid}",
		  "/v1/conversations/4570e8f1-8118-4bc5-8e9b-64562b4555f2", 1,
		  "4570e8f1-8118-4bc5-8e9b-64562b4555f2" },
		{ __LINE__, "/v1/conversations/{id:uuid}",
		  "/v1/conversations/not-a-uuid", 0, NULL },
		{ __LINE__, "/v1/conversations/{id:uuid}",
		  "/v1/conversations/4570e8f1-8118-4bc5-8e9b-64562b4555f2x", 0,
		  NULL },
		{ __LINE__, "/v1/chat-messages/{task_id}/stop",
		  "/v1/chat-messages/any thing/stop", 1, "any thing" },
	};
	struct pool	p = { NULL };
	struct kv	params[ROUTE_MAX_PARAMS];
	size_t		i;
	int		n, m;

	TEST("route templates match literal parts, captures and uuids") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			n = 0;
			m = route_template(rows[i].tpl, rows[i].path, &p,
			    params, &n);
			CHECK_ROW(m == rows[i].match, rows[i].line);
			if (m && rows[i].param != NULL)
				CHECK_ROW(n >= 1 && STREQ(params[0].val,
				    rows[i].param), rows[i].line);
		}
	}
	pool_free_all(&p);
}

static int
h_dummy(struct req *rq, struct resp *rs)
{
	(void)rq;
	(void)rs;
	return 0;
}

static void
test_route_match(void)
{
	static const struct route routes[] = {
		{ "GET", "/v1/conversations", h_dummy, 0 },
		{ "DELETE", "/v1/conversations/{id:uuid}", h_dummy, 0 },
		{ "PUT", "/v1/conversations/{c:uuid}/variables/{v:uuid}",
		  h_dummy, 0 },
		{ NULL, NULL, NULL, 0 }
	};
	struct req		 rq;
	const struct route	*r;
	const char		*u = "/v1/conversations/"
	    "4570e8f1-8118-4bc5-8e9b-64562b4555f2";

	memset(&rq, 0, sizeof(rq));
	TEST("route_match tells unknown paths (404) from wrong methods (405)") {
		CHECK(route_match(routes, &rq, "GET", "/v1/conversations",
		    &r) == ROUTE_OK);
		CHECK(route_match(routes, &rq, "POST", "/v1/conversations",
		    &r) == ROUTE_NO_METHOD);
		CHECK(route_match(routes, &rq, "GET", "/v1/nothing", &r) ==
		    ROUTE_NO_PATH);
		CHECK(route_match(routes, &rq, "DELETE", u, &r) == ROUTE_OK);
		CHECK(STREQ(req_param(&rq, "id"),
		    "4570e8f1-8118-4bc5-8e9b-64562b4555f2"));
		CHECK(route_match(routes, &rq, "GET", u, &r) ==
		    ROUTE_NO_METHOD);
	}
	TEST("PATCH reaches a PUT route, as the Python SDK needs") {
		char	path[200];

		snprintf(path, sizeof(path), "%s/variables/%s", u,
		    "4570e8f1-8118-4bc5-8e9b-64562b4555f3");
		CHECK(route_match(routes, &rq, "PATCH", path, &r) == ROUTE_OK);
		CHECK(STREQ(req_param(&rq, "v"),
		    "4570e8f1-8118-4bc5-8e9b-64562b4555f3"));
	}
	pool_free_all(&rq.pool);
}

static void
test_derive_path(void)
{
	static const struct {
		int		 line;
		const char	*script, *info, *uri, *want;
	} rows[] = {
		/* lighttpd, mod_fcgid: prefix split */
		{ __LINE__, "/v1/conversations", "/abc/name", NULL,
		  "/v1/conversations/abc/name" },
		/* mod_proxy_fcgi: no PATH_INFO, REQUEST_URI has it all */
		{ __LINE__, "/v1/info", NULL, "/v1/info?user=x", "/v1/info" },
		/* nginx with the whole URI as SCRIPT_NAME */
		{ __LINE__, "/v1/messages", "", "/v1/messages", "/v1/messages" },
		/* mounted under a prefix */
		{ __LINE__, "/api/v1/info", NULL, "/api/v1/info", "/v1/info" },
		{ __LINE__, NULL, NULL, "/dify/v1", "/v1" },
		{ __LINE__, NULL, NULL, "/health", "/health" },
		/* a "v1x" segment is not the API root */
		{ __LINE__, NULL, NULL, "/v1x/v1/info", "/v1/info" },
		{ __LINE__, NULL, NULL, NULL, "/" },
	};
	struct pool	p = { NULL };
	size_t		i;

	TEST("the API path is the same whatever the web server sets") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			CHECK_ROW(STREQ(req_derive_path(&p, rows[i].script,
			    rows[i].info, rows[i].uri), rows[i].want),
			    rows[i].line);
	}
	pool_free_all(&p);
}

static void
test_query(void)
{
	struct req	rq;

	memset(&rq, 0, sizeof(rq));
	rq.query = "user=a%20b&limit=&last_id=x+y&bad=%zz&flag";
	TEST("query strings decode %XX and '+', and empty means absent") {
		CHECK(STREQ(req_query(&rq, "user"), "a b"));
		CHECK(req_query(&rq, "limit") == NULL);
		CHECK(STREQ(req_query(&rq, "last_id"), "x y"));
		CHECK(STREQ(req_query(&rq, "bad"), "%zz"));
		CHECK(req_query(&rq, "flag") == NULL);
		CHECK(req_query(&rq, "missing") == NULL);
	}
	pool_free_all(&rq.pool);
}

static void
test_input(void)
{
	static const struct field fields[] = {
		{ "query", F_STRING, F_REQUIRED, 10 },
		{ "flag", F_BOOL, 0, 0 },
		{ "inputs", F_OBJECT, F_REQUIRED, 0 },
		{ NULL, 0, 0, 0 }
	};
	static const struct {
		int		 line;
		const char	*json;
		int		 ok;
		const char	*msg;
	} rows[] = {
		{ __LINE__, "{\"query\":\"hi\",\"inputs\":{}}", 1, NULL },
		{ __LINE__, "{\"inputs\":{}}", 0, "query is required" },
		{ __LINE__, "{\"query\":null,\"inputs\":{}}", 0,
		  "query is required" },
		{ __LINE__, "{\"query\":1,\"inputs\":{}}", 0,
		  "query must be a string" },
		{ __LINE__, "{\"query\":\"01234567890\",\"inputs\":{}}", 0,
		  "query must be at most 10 bytes" },
		{ __LINE__, "{\"query\":\"a\\u0000b\",\"inputs\":{}}", 0,
		  "query must not contain NUL characters" },
		{ __LINE__, "{\"query\":\"x\",\"inputs\":[]}", 0,
		  "inputs must be an object" },
		{ __LINE__, "{\"query\":\"x\",\"inputs\":{},\"flag\":\"yes\"}",
		  0, "flag must be a boolean" },
		{ __LINE__, "{\"query\":\"x\",\"inputs\":{},\"extra\":[1]}", 1,
		  NULL },
	};
	struct req	rq;
	struct resp	rs;
	size_t		i;
	int		rc;

	TEST("field tables answer 400 invalid_param naming the field") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			memset(&rq, 0, sizeof(rq));
			resp_init(&rs);
			rq.body = json_tokener_parse(rows[i].json);
			CHECK_ROW(rq.body != NULL, rows[i].line);
			rc = input_check(&rq, &rs, fields);
			CHECK_ROW((rc == 0) == rows[i].ok, rows[i].line);
			if (!rows[i].ok) {
				CHECK_ROW(rs.status == 400, rows[i].line);
				CHECK_ROW(STREQ(json_str(rs.body, "code"),
				    "invalid_param"), rows[i].line);
				CHECK_ROW(STREQ(json_str(rs.body, "message"),
				    rows[i].msg), rows[i].line);
			}
			json_object_put(rq.body);
			resp_free(&rs);
		}
	}
}

static void
test_errors(void)
{
	json_object	*o;
	int		 i;

	TEST("every error table slot is filled") {
		for (i = 0; i < ERR__MAX; i++) {
			CHECK_ROW(err_table[i].status >= 400 &&
			    err_table[i].code != NULL &&
			    err_table[i].message != NULL, i);
		}
	}
	TEST("error bodies have exactly code, message and status") {
		o = err_json(ERR_AUTH_INVALID, NULL);
		CHECK(json_object_object_length(o) == 3);
		CHECK(STREQ(json_compact(o), "{\"code\":\"unauthorized\","
		    "\"message\":\"Access token is invalid\",\"status\":401}"));
		json_object_put(o);
		o = err_json(ERR_INVALID_PARAM, "x is required");
		CHECK(STREQ(json_str(o, "message"), "x is required"));
		json_object_put(o);
	}
}

static void
test_hash(void)
{
	char		hex[65], key[29], key2[29];
	uint8_t		d[32];
	int		i, alnum = 1;

	TEST("SHA-256 matches the FIPS 180-4 test vectors") {
		sha256_hex("abc", 3, hex);
		CHECK(STREQ(hex, "ba7816bf8f01cfea414140de5dae2223"
		    "b00361a396177a9cb410ff61f20015ad"));
		sha256_hex("", 0, hex);
		CHECK(STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb924"
		    "27ae41e4649b934ca495991b7852b855"));
		sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnop"
		    "nopq", 56, hex);
		CHECK(STREQ(hex, "248d6a61d20638b8e5c026930c3e6039"
		    "a33ce45964ff2167f6ecedd419db06c1"));
	}
	TEST("SHA-256 fed in pieces equals it fed whole; free is safe") {
		struct sha256	s;

		memset(&s, 0, sizeof(s));
		sha256_free(&s);
		sha256_init(&s);
		sha256_update(&s, "abcdbcdecdefdefgefgh", 20);
		sha256_update(&s, "", 0);
		sha256_update(&s, "fghighijhijkijkljklmklmnlmnomnopnopq", 36);
		sha256_final(&s, d);
		for (i = 0; i < 32; i++)
			snprintf(hex + i * 2, 3, "%02x", d[i]);
		CHECK(STREQ(hex, "248d6a61d20638b8e5c026930c3e6039"
		    "a33ce45964ff2167f6ecedd419db06c1"));
		CHECK(s.ctx == NULL);
		sha256_free(&s);	/* after final: a no-op */
		sha256_init(&s);	/* abandoned midway: freed, no leak */
		sha256_update(&s, "abc", 3);
		sha256_free(&s);
		CHECK(s.ctx == NULL);
	}
	TEST("API keys are app- and 24 random alphanumerics") {
		auth_key_new(key);
		auth_key_new(key2);
		CHECK(strlen(key) == 28 && strncmp(key, "app-", 4) == 0);
		for (i = 4; i < 28; i++)
			if (!isalnum((unsigned char)key[i]))
				alnum = 0;
		CHECK(alnum);
		CHECK(strcmp(key, key2) != 0);
		db_key_hash(key, d);
		CHECK(!ct_equal(d, (uint8_t[32]){ 0 }, 32));
		CHECK(ct_equal(d, d, 32));
	}
}

static void
test_util(void)
{
	char	u[UUID_LEN + 1];

	TEST("generated UUIDs are version 4 and valid") {
		uuid_new(u);
		CHECK(uuid_valid(u));
		CHECK(u[14] == '4');
		CHECK(!uuid_valid("4570e8f1-8118-4bc5-8e9b-64562b4555f"));
		CHECK(!uuid_valid("4570e8f1x8118-4bc5-8e9b-64562b4555f2"));
		CHECK(uuid_valid("4570E8F1-8118-4BC5-8E9B-64562B4555F2"));
	}
	TEST("UTF-8 validation rejects overlongs, surrogates and truncation") {
		CHECK(utf8_valid("h\xc3\xa9llo", 6));
		CHECK(utf8_valid("\xf0\x9f\x98\x80", 4));
		CHECK(!utf8_valid("\xc0\xaf", 2));
		CHECK(!utf8_valid("\xed\xa0\x80", 3));
		CHECK(!utf8_valid("\xe2\x82", 2));
		CHECK(!utf8_valid("\xff", 1));
	}
	TEST("parse_int takes whole decimal numbers within bounds only") {
		long long	v;

		CHECK(parse_int("42", 1, 100, &v) == 0 && v == 42);
		CHECK(parse_int("0", 1, 100, &v) == -1);
		CHECK(parse_int("101", 1, 100, &v) == -1);
		CHECK(parse_int("4x", 1, 100, &v) == -1);
		CHECK(parse_int("", 1, 100, &v) == -1);
		CHECK(parse_int("99999999999999999999", 1, 100, &v) == -1);
	}
	TEST("buffers refuse appends past their cap") {
		struct buf	b;

		buf_init(&b, 8);
		CHECK(buf_puts(&b, "1234") == 0);
		CHECK(buf_puts(&b, "5678") == 0);
		CHECK(buf_puts(&b, "9") == -1);
		CHECK(b.len == 8 && STREQ(buf_cstr(&b), "12345678"));
		buf_free(&b);
	}
}

static void
test_migrations(void)
{
	char		 path[] = "/tmp/difycgi-unit-XXXXXX";
	char		 dbp[64];
	struct db	*a, *b;
	int		 fd;

	fd = mkstemp(path);
	close(fd);
	unlink(path);
	snprintf(dbp, sizeof(dbp), "%s.db", path);
	TEST("migrations apply once and a second run is a no-op") {
		a = db_open(dbp);
		b = db_open(dbp);
		CHECK(a != NULL && b != NULL);
		CHECK(db_schema_version(a) == 0);
		CHECK(db_migrate(a) == 0);
		CHECK(db_schema_version(a) == db_migration_count());
		CHECK(db_migrate(b) == 0);
		CHECK(db_migrate(a) == 0);
		CHECK(db_schema_version(b) == db_migration_count());
		{
			struct buf	 o;

			buf_init(&o, 4096);
			CHECK(db_query_text(b, "SELECT count(*) FROM apps",
			    &o) == 0 && strcmp(buf_cstr(&o), "0\n") == 0);
			buf_free(&o);
		}
		db_close(a);
		db_close(b);
	}
	unlink(dbp);
	snprintf(dbp, sizeof(dbp), "%s.db-wal", path);
	unlink(dbp);
	snprintf(dbp, sizeof(dbp), "%s.db-shm", path);
	unlink(dbp);
}

int
main(void)
{
	setenv("DIFYCGI_DATA_DIR", "/tmp", 1);
	if (config_load() == -1)
		return 1;
	test_routes();
	test_route_match();
	test_derive_path();
	test_query();
	test_input();
	test_errors();
	test_hash();
	test_util();
	test_migrations();
	UNIT_DONE();
}
