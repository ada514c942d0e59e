/* test_wf_nodes.c: the http-request, question-classifier, parameter-
 * extractor, agent, list-operator, document-extractor, knowledge-retrieval
 * and tool nodes without a network or a database: requests as built for
 * every method, body type and authorization, their logs, response
 * typing and decoding; classifier answers and extractor results as Dify
 * reads them; list-operator filters, orders, extracts and limits; whole
 * graphs with these nodes and a fake model. */
#include <stdlib.h>
#include <unistd.h>

#include "../../lib/workflow/wf_http_request.c"
#include "../../lib/workflow/wf_http_response.c"
#include "../../lib/workflow/wf_http_send.c"
#include "../../lib/workflow/wf_nodes_llm.c"
#include "../../lib/workflow/wf_nodes_list.c"
#include "unit.h"

/* ---- a bare engine: a pool of values and a run, no graph ---- */

static struct pool	 mem;
static struct wf_run	 run0;
static struct wf_pool	 vars;
static struct wf_engine	 eng;

static void
bare_init(void)
{
	memset(&run0, 0, sizeof(run0));
	memset(&eng, 0, sizeof(eng));
	run0.p = &mem;
	run0.app_id = "app-1";
	eng.r = &run0;
	wf_pool_init(&vars);
	eng.pool = &vars;
	wf_pool_set(&vars, "start", "q", json_object_new_string("hé llo"));
	wf_pool_set(&vars, "start", "n", json_object_new_int(7));
	wf_pool_set(&vars, "start", "key", json_object_new_string("sekret"));
	wf_pool_set(&vars, "start", "files", json_tokener_parse("["
	    "{\"dify_model_identity\":\"__dify__file__\",\"type\":\"image\","
	    "\"transfer_method\":\"local_file\",\"related_id\":\"r1\","
	    "\"filename\":\"b.png\",\"extension\":\".png\",\"mime_type\":"
	    "\"image/png\",\"size\":300,\"remote_url\":null},"
	    "{\"dify_model_identity\":\"__dify__file__\",\"type\":\"document\","
	    "\"transfer_method\":\"remote_url\",\"related_id\":null,"
	    "\"filename\":\"a.txt\",\"extension\":\".txt\",\"mime_type\":"
	    "\"text/plain\",\"size\":20,\"remote_url\":\"http://x/a.txt\"},"
	    "{\"dify_model_identity\":\"__dify__file__\",\"type\":\"image\","
	    "\"transfer_method\":\"remote_url\",\"related_id\":null,"
	    "\"filename\":\"c.jpg\",\"extension\":\".jpg\",\"mime_type\":"
	    "\"image/jpeg\",\"size\":0,\"remote_url\":\"http://x/c.jpg\"}]"));
}

static void
bare_free(void)
{
	wf_pool_free(&vars);
	pool_free_all(&mem);
}

static void
exec_clear(struct wf_exec *x)
{
	json_object_put(x->inputs);
	json_object_put(x->process_data);
	json_object_put(x->outputs);
	json_object_put(x->metadata);
	memset(x, 0, sizeof(*x));
}

/* ---- http-request: building the request ---- */

static const char *
hdr(const struct http_request *hr, const char *name)
{
	int	i = wf_http_find_hdr(hr, name);

	return i >= 0 ? hr->hdrs[i].value : NULL;
}

static void
test_http_build(void)
{
	static const struct {
		int		 line;
		const char	*data;		/* node data, JSON */
		const char	*err;		/* NULL: builds */
		const char	*method;
		const char	*url;
		const char	*body;		/* NULL: no body */
		const char	*ctype;		/* Content-Type, NULL: none */
		const char	*auth;		/* Authorization, NULL: none */
	} rows[] = {
		{ __LINE__, "{\"method\":\"get\",\"url\":\"http:"
		  "//h/p?x=1#frag\","
		  "\"params\":\"a:{{#start.q#}}\\nb: two words\\n\\nc\\n:d\","
		  "\"headers\":\"\",\"body\":{\"type\":\"none\",\"data\":\"\"},"
		  "\"authorization\":{\"type\":\"no-auth\"}}", NULL, "GET",
		  "http://h/p?x=1&a=h%C3%A9+llo&b=two+words&c=", NULL, NULL,
		  NULL },
		{ __LINE__, "{\"method\":\"DELETE\",\"url\":\"https:"
		  "//h/{{#start.n#}}"
		  " x\",\"params\":\"\"}", NULL, "DELETE", "https://h/7%20x",
		  NULL, NULL, NULL },
		{ __LINE__, "{\"method\":\"post\",\"url\":\"http://h/\","
		  "\"body\":"
		  "{\"type\":\"raw-text\",\"data\":[{\"type\":\"text\","
		  "\"value\":"
		  "\"n={{#start.n#}}\"}]}}", NULL, "POST", "http://h/", "n=7",
		  "text/plain", NULL },
		/* the legacy body: data is the text */
		{ __LINE__, "{\"method\":\"put\",\"url\":\"http://h/\","
		  "\"body\":"
		  "{\"type\":\"raw-text\",\"data\":\"plain {{#start.q#}}\"}}",
		  NULL, "PUT", "http://h/", "plain hé llo", "text/plain",
		      NULL },
		{ __LINE__, "{\"method\":\"post\",\"url\":\"http://h/\","
		  "\"body\":"
		  "{\"type\":\"json\",\"data\":[{\"type\":\"text\",\"value\":"
		  "\"{\\\"q\\\": \\\"{{#start.q#}}\\\", \\\"n\\\": "
		  "{{#start.n#}},"
		  "\\\"u\\\": \\\"a/b\\\",}\"}]}}", NULL, "POST", "http://h/",
		  "{\"q\":\"hé llo\",\"n\":7,\"u\":\"a/b\"}",
		  "application/json",
		  NULL },
		{ __LINE__, "{\"method\":\"post\",\"url\":\"http://h/\","
		  "\"body\":"
		  "{\"type\":\"json\",\"data\":[{\"type\":\"text\",\"value\":"
		  "\"```json\\n[1, 2,]\\n```\"}]}}", NULL, "POST", "http://h/",
		  "[1,2]", "application/json", NULL },
		{ __LINE__, "{\"method\":\"post\",\"url\":\"http://h/\","
		  "\"body\":"
		  "{\"type\":\"json\",\"data\":[{\"type\":\"text\",\"value\":"
		  "\"  \"}]}}", NULL, "POST", "http://h/", NULL,
		  "application/json", NULL },
		{ __LINE__, "{\"method\":\"post\",\"url\":\"http://h/\","
		  "\"body\":"
		  "{\"type\":\"json\",\"data\":[{\"type\":\"text\",\"value\":"
		  "\"{oops\"}]}}", "Failed to parse JSON: {oops", NULL, NULL,
		  NULL,
		  NULL, NULL },
		{ __LINE__, "{\"method\":\"post\",\"url\":\"http://h/\","
		  "\"body\":"
		  "{\"type\":\"json\",\"data\":\"\"}}", "json body type should "
		  "have exactly one item", NULL, NULL, NULL, NULL, NULL },
		{ __LINE__, "{\"method\":\"post\",\"url\":\"http://h/\","
		  "\"body\":"
		  "{\"type\":\"x-www-form-urlencoded\",\"data\":[{\"type\":"
		  "\"text\",\"key\":\"a b\",\"value\":\"{{#start.q#}}\"},"
		  "{\"type\":\"text\",\"key\":\"n\",\"value\":\"1\"},{\"type\":"
		  "\"text\",\"key\":\"n\",\"value\":\"2&3\"}]}}", NULL, "POST",
		  "http://h/", "a+b=h%C3%A9+llo&n=2%263",
		  "application/x-www-form-urlencoded", NULL },
		{ __LINE__, "{\"method\":\"post\",\"url\":\"http://h/\","
		  "\"body\":"
		  "{\"type\":\"binary\",\"data\":[{\"type\":\"file\",\"file\":"
		  "[\"start\",\"nothing\"]}]}}",
		  "cannot fetch file with selector "
		  "[\"start\",\"nothing\"]", NULL, NULL, NULL, NULL, NULL },
		{ __LINE__, "{\"method\":\"post\",\"url\":\"http://h/\","
		  "\"body\":"
		  "{\"type\":\"carrier-pigeon\",\"data\":[]}}",
		  "Unsupported body "
		  "type: carrier-pigeon", NULL, NULL, NULL, NULL, NULL },
		/* a Content-Type of the node's wins over the default */
		{ __LINE__, "{\"method\":\"patch\",\"url\":\"http://h/\","
		  "\"headers\":"
		  "\"content-type: application/vnd.x+json\",\"body\":{\"type\":"
		  "\"json\",\"data\":[{\"type\":\"text\",\"value\":\"{}\"}]}}",
		  NULL, "PATCH", "http://h/", "{}", "application/vnd.x+json",
		  NULL },
		/* authorization */
		{ __LINE__, "{\"method\":\"get\",\"url\":\"http://h/\","
		  "\"authorization\":{\"type\":\"api-key\",\"config\":"
		  "{\"type\":"
		  "\"bearer\",\"api_key\":\"{{#start.key#}}\"}}}", NULL, "GET",
		  "http://h/", NULL, NULL, "Bearer sekret" },
		{ __LINE__, "{\"method\":\"get\",\"url\":\"http://h/\","
		  "\"authorization\":{\"type\":\"api-key\",\"config\":"
		  "{\"type\":"
		  "\"basic\",\"api_key\":\"user:pass\"}}}", NULL, "GET",
		  "http://h/", NULL, NULL, "Basic dXNlcjpwYXNz" },
		{ __LINE__, "{\"method\":\"get\",\"url\":\"http://h/\","
		  "\"authorization\":{\"type\":\"api-key\",\"config\":"
		  "{\"type\":"
		  "\"basic\",\"api_key\":\"dXNlcjpwYXNz\"}}}", NULL, "GET",
		  "http://h/", NULL, NULL, "Basic dXNlcjpwYXNz" },
		{ __LINE__, "{\"method\":\"get\",\"url\":\"http://h/\","
		  "\"authorization\":{\"type\":\"no-auth\",\"config\":"
		  "{\"type\":"
		  "\"basic\",\"api_key\":\"k\"}}}", NULL, "GET", "http://h/",
		  NULL, NULL, NULL },
		{ __LINE__, "{\"method\":\"get\",\"url\":\"http://h/\","
		  "\"authorization\":{\"type\":\"api-key\",\"config\":null}}",
		  "authorization config is required", NULL, NULL, NULL, NULL,
		  NULL },
		/* the node's URL and method */
		{ __LINE__, "{\"method\":\"fetch\",\"url\":\"http://h/\"}",
		  "Invalid http method fetch", NULL, NULL, NULL, NULL, NULL },
		{ __LINE__, "{\"method\":\"get\",\"url\":\"{{#start.none#}}\"}",
		  "url should start with http:// or https://", NULL, NULL, NULL,
		  NULL, NULL },
		{ __LINE__, "{\"method\":\"get\",\"url\":\"\"}",
		  "url is required",
		  NULL, NULL, NULL, NULL, NULL },
		{ __LINE__, "{\"method\":\"get\",\"url\":\"ftp://h/\"}", "url "
		  "should start with http:// or https://", NULL, NULL, NULL,
		  NULL,
		  NULL },
		{ __LINE__, "{\"method\":\"get\",\"url\":\"http://h/\","
		  "\"headers\":"
		  "\"Bad Name: x\"}", "Invalid header name: Bad Name", NULL,
		  NULL,
		  NULL, NULL, NULL },
	};
	struct http_request	 hr;
	struct wf_exec		 x;
	json_object		*d;
	size_t			 i;
	int			 rc;

	bare_init();
	TEST("http-request builds Dify's request for each method, URL, "
	    "params, body type and authorization") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			memset(&x, 0, sizeof(x));
			d = json_tokener_parse(rows[i].data);
			CHECK_ROW(d != NULL, rows[i].line);
			rc = wf_http_build(&eng, d, &hr, &x);
			if (rows[i].err != NULL) {
				CHECK_ROW(rc == WF_FAIL && STREQ(x.error,
				    rows[i].err), rows[i].line);
				if (rc != WF_FAIL || !STREQ(x.error,
				    rows[i].err))
					printf("#   got %s\n", x.error);
			} else {
				CHECK_ROW(rc == WF_OK, rows[i].line);
				if (rc != WF_OK)
					printf("#   got %s\n", x.error);
				CHECK_ROW(STREQ(hr.method, rows[i].method),
				    rows[i].line);
				CHECK_ROW(STREQ(hr.url, rows[i].url),
				    rows[i].line);
				CHECK_ROW(rows[i].body == NULL ? !hr.has_body :
				    hr.has_body && STREQ(buf_cstr(&hr.body),
				    rows[i].body), rows[i].line);
				CHECK_ROW(rows[i].ctype == NULL ?
				    hdr(&hr, "content-type") == NULL :
				    STREQ(hdr(&hr, "Content-Type"),
				    rows[i].ctype), rows[i].line);
				CHECK_ROW(rows[i].auth == NULL ?
				    hdr(&hr, "authorization") == NULL :
				    STREQ(hdr(&hr, "Authorization"),
				    rows[i].auth), rows[i].line);
			}
			wf_http_request_free(&hr);
			exec_clear(&x);
			json_object_put(d);
		}
	}
	TEST("headers: a dict of lines rendered as a whole, duplicates keep "
	    "the last, empty values kept, lengths left to the client, the "
	    "list form too") {
		d = json_tokener_parse("{\"method\":\"get\",\"url\":\"http:"
		    "//h/\","
		    "\"headers\":\"X-A: 1\\r\\nx-a:{{#start.n#}}\\nX-Empty\\n"
		    "Content-Length: 99\\n  \\nX-Q : {{#start.q#}} \"}");
		memset(&x, 0, sizeof(x));
		CHECK(wf_http_build(&eng, d, &hr, &x) == WF_OK);
		CHECK(hr.nhdrs == 3);
		CHECK(STREQ(hdr(&hr, "X-A"), "7"));
		CHECK(STREQ(hdr(&hr, "X-Empty"), ""));
		CHECK(STREQ(hdr(&hr, "X-Q"), "hé llo"));
		CHECK(hdr(&hr, "Content-Length") == NULL);
		wf_http_request_free(&hr);
		json_object_put(d);
		d = json_tokener_parse("{\"method\":\"get\",\"url\":\"http:"
		    "//h/\","
		    "\"headers\":[{\"key\":\"X-L\",\"value\":"
		    "\"{{#start.n#}}\"},"
		    "{\"key\":\"X-Off\",\"value\":\"1\",\"enabled\":false}],"
		    "\"params\":[{\"key\":\"k\",\"value\":"
		    "\"{{#start.q#}}\"}]}");
		CHECK(wf_http_build(&eng, d, &hr, &x) == WF_OK);
		CHECK(STREQ(hdr(&hr, "X-L"), "7") && hdr(&hr, "X-Off") == NULL);
		CHECK(STREQ(hr.url, "http://h/?k=h%C3%A9+llo"));
		wf_http_request_free(&hr);
		json_object_put(d);
		d = json_tokener_parse("{\"method\":\"get\",\"url\":\"http:"
		    "//h/\","
		    "\"headers\":[{\"key\":\"X-Bad\",\"value\":\"a\\r\\nX-In: "
		    "1\"}]}");
		CHECK(wf_http_build(&eng, d, &hr, &x) == WF_FAIL &&
		    STREQ(x.error, "Invalid header value for X-Bad"));
		wf_http_request_free(&hr);
		exec_clear(&x);
		json_object_put(d);
	}
	TEST("form-data: text fields, then files; a placeholder part when "
	    "there are none, as Dify sends; our boundary in the type") {
		const char	*ct, *b;

		d = json_tokener_parse("{\"method\":\"post\",\"url\":\"http:"
		    "//h/\","
		    "\"headers\":\"Content-Type: "
		    "multipart/form-data\",\"body\":"
		    "{\"type\":\"form-data\",\"data\":[{\"type\":\"text\","
		    "\"key\":"
		    "\"name\",\"value\":\"{{#start.q#}}\"},{\"type\":\"file\","
		    "\"key\":\"doc\",\"file\":[\"start\",\"none\"]}]}}");
		memset(&x, 0, sizeof(x));
		CHECK(wf_http_build(&eng, d, &hr, &x) == WF_OK);
		ct = hdr(&hr, "content-type");
		CHECK(ct != NULL && strncmp(ct, "multipart/form-data; boundary="
		    "----DifyFormBoundary", 50) == 0 && strlen(ct) == 66);
		b = buf_cstr(&hr.body);
		CHECK(ct != NULL && strstr(b, "Content-Disposition: form-data; "
		    "name=\"name\"\r\n\r\nhé llo\r\n") != NULL);
		CHECK(strstr(b, "name=\"__multipart_placeholder__\"; "
		    "filename=\"\"\r\nContent-Type: application/octet-stream"
		    "\r\n\r\n\r\n") != NULL);
		CHECK(ct != NULL && strncmp(b, "--", 2) == 0 && strncmp(b + 2,
		    ct + 30, 36) == 0);
		CHECK(hr.body.len > 42 && strcmp(b + hr.body.len - 42 + 2 + 36,
		    "--\r\n") == 0);
		CHECK(hr.nhdrs == 1);
		wf_http_request_free(&hr);
		json_object_put(d);
		/* a stored file needs storage, which unit tests have none of */
		d = json_tokener_parse("{\"method\":\"post\",\"url\":\"http:"
		    "//h/\","
		    "\"body\":{\"type\":\"form-data\",\"data\":[{\"type\":"
		    "\"file\",\"key\":\"f\",\"file\":[\"start\","
		    "\"files\"]}]}}");
		CHECK(wf_http_build(&eng, d, &hr, &x) == WF_FAIL &&
		    STREQ(x.error, "cannot fetch file b.png: no file storage "
		    "here") && STREQ(x.error_type, "FileFetchError"));
		wf_http_request_free(&hr);
		exec_clear(&x);
		json_object_put(d);
	}
	TEST("timeouts: the node's when set, the server's when 0 or absent "
	    "or above them") {
		d = json_tokener_parse("{\"method\":\"get\",\"url\":\"http:"
		    "//h/\","
		    "\"timeout\":{\"connect\":5,\"read\":0,\"write\":99999,"
		    "\"max_connect_timeout\":0}}");
		memset(&x, 0, sizeof(x));
		CHECK(wf_http_build(&eng, d, &hr, &x) == WF_OK);
		CHECK(hr.connect_s == 5 && hr.read_s == 600 &&
		    hr.write_s == 600 && hr.ssl_verify == 1);
		wf_http_request_free(&hr);
		setenv("DIFYCGI_HTTP_REQUEST_MAX_CONNECT_TIMEOUT", "3", 1);
		setenv("DIFYCGI_HTTP_REQUEST_MAX_READ_TIMEOUT", "30", 1);
		CHECK(wf_http_build(&eng, d, &hr, &x) == WF_OK);
		CHECK(hr.connect_s == 3 && hr.read_s == 30);
		wf_http_request_free(&hr);
		unsetenv("DIFYCGI_HTTP_REQUEST_MAX_CONNECT_TIMEOUT");
		unsetenv("DIFYCGI_HTTP_REQUEST_MAX_READ_TIMEOUT");
		json_object_put(d);
		d = json_tokener_parse("{\"method\":\"get\",\"url\":\"http:"
		    "//h/\","
		    "\"ssl_verify\":false}");
		CHECK(wf_http_build(&eng, d, &hr, &x) == WF_OK &&
		    hr.connect_s == 10 && hr.ssl_verify == 0);
		wf_http_request_free(&hr);
		json_object_put(d);
	}
	TEST("the logged request has Dify's shape, the key masked") {
		d = json_tokener_parse("{\"method\":\"post\",\"url\":"
		    "\"http://h:8080/a/b?x=1\",\"headers\":\"X-T: 1\",\"body\":"
		    "{\"type\":\"raw-text\",\"data\":\"hi\"},\"authorization\":"
		    "{\"type\":\"api-key\",\"config\":{\"type\":\"custom\","
		    "\"header\":\"X-Key\",\"api_key\":\"abc\"}}}");
		memset(&x, 0, sizeof(x));
		CHECK(wf_http_build(&eng, d, &hr, &x) == WF_OK);
		CHECK(STREQ(http_log(&mem, &hr), "POST /a/b?x=1 HTTP/1.1\r\n"
		    "Host: h:8080\r\nX-T: 1\r\nX-Key: ***\r\nContent-Type: "
		    "text/plain\r\nContent-Length: 2\r\n\r\nhi"));
		CHECK(STREQ(hdr(&hr, "x-key"), "abc"));
		wf_http_request_free(&hr);
		json_object_put(d);
		d = json_tokener_parse("{\"method\":\"head\",\"url\":"
		    "\"https://h\"}");
		CHECK(wf_http_build(&eng, d, &hr, &x) == WF_OK);
		CHECK(STREQ(http_log(&mem, &hr), "HEAD / HTTP/1.1\r\nHost: h"
		    "\r\n\r\n"));
		wf_http_request_free(&hr);
		json_object_put(d);
	}
	TEST("basic credentials are padded base64, long ones too") {
		struct pool	 p;
		char		 in[15002], want[20005];

		memset(&p, 0, sizeof(p));
		CHECK(STREQ(base64(&p, ""), ""));
		CHECK(STREQ(base64(&p, "f"), "Zg=="));
		CHECK(STREQ(base64(&p, "fo"), "Zm8="));
		CHECK(STREQ(base64(&p, "\xfb\xff"), "+/8="));
		/* "aaa" is "YWFh": past the encoder's piece of 3 * 4096 */
		memset(in, 'a', 3 * 5000 + 1);
		in[15001] = '\0';
		for (i = 0; i < 5000; i++)
			memcpy(want + i * 4, "YWFh", 4);
		memcpy(want + 20000, "YQ==", 5);
		CHECK(STREQ(base64(&p, in), want));
		pool_free_all(&p);
	}
	bare_free();
}

/* ---- http-request: reading the response ---- */

static void
test_http_response(void)
{
	static const struct {
		int		 line;
		const char	*ctype;
		const char	*cd;
		const char	*body;
		int		 file;
	} rows[] = {
		{ __LINE__, "application/json", NULL, "{\"a\":1}", 0 },
		{ __LINE__, "text/html; charset=utf-8", NULL, "<p>", 0 },
		{ __LINE__, "text/csv", NULL, "a,b", 0 },
		{ __LINE__, "text/csv", "attachment", "a,b", 1 },
		{ __LINE__, "text/plain", "inline; filename=\"a.txt\"", "x",
		  1 },
		{ __LINE__, "image/png", NULL, "\x89PNG", 1 },
		{ __LINE__, "audio/mpeg", NULL, "ID3", 1 },
		{ __LINE__, "video/mp4", NULL, "", 1 },
		{ __LINE__, "application/pdf", NULL, "%PDF-1.4 \xe2\xe3\xcf",
		  1 },
		{ __LINE__, "application/octet-stream", NULL, "\x01\x02\xff",
		  1 },
		{ __LINE__, "application/octet-stream", NULL, "plain words",
		  1 },
		{ __LINE__, "application/x-custom", NULL,
		  "{\"looks\": \"json\"}",
		  0 },
		{ __LINE__, "application/problem+xml", NULL, "\xff", 0 },
		{ __LINE__, "application/javascript", NULL, "", 0 },
		{ __LINE__, "", NULL, "\x01\x02", 0 },
		{ __LINE__, NULL, NULL, "x", 0 },
		{ __LINE__, "multipart/mixed", NULL, "x", 0 },
	};
	struct buf	 b;
	size_t		 i;

	TEST("a response is a file as Dify's Response.is_file decides") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			CHECK_ROW(is_file(&mem, rows[i].ctype, rows[i].cd,
			    rows[i].body, strlen(rows[i].body)) == rows[i].file,
			    rows[i].line);
	}
	TEST("response text: UTF-8 with U+FFFD for bad bytes, Latin-1 when "
	    "the charset says so") {
		buf_init(&b, 1024);
		body_text(&mem, "text/plain", "caf\xc3\xa9 \xff!", 9, &b);
		CHECK(STREQ(buf_cstr(&b), "caf\xc3\xa9 \xef\xbf\xbd!"));
		buf_reset(&b);
		body_text(&mem, "text/plain; charset=ISO-8859-1", "caf\xe9", 4,
		    &b);
		CHECK(STREQ(buf_cstr(&b), "caf\xc3\xa9"));
		buf_reset(&b);
		body_text(&mem, NULL, "\xed\xa0\x80\xc0\xaf", 5, &b);
		CHECK(STREQ(buf_cstr(&b), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
		    "\xef\xbf\xbd\xef\xbf\xbd"));
		buf_free(&b);
	}
	TEST("Content-Disposition filenames, RFC 5987 ones decoded") {
		CHECK(STREQ(disposition_filename(&mem, "attachment; "
		    "filename=\"r.csv\""), "r.csv"));
		CHECK(STREQ(disposition_filename(&mem, "attachment; filename=r;"
		    " filename*=UTF-8''%E2%82%AC.txt"), "\xe2\x82\xac.txt"));
		CHECK(disposition_filename(&mem, "inline") == NULL);
	}
	TEST("every socket's address is checked as it opens: loopback, "
	    "private and mapped addresses refused, public ones allowed") {
		static const struct {
			int		 line;
			int		 v6;
			const char	*addr;
			int		 ok;
		} as[] = {
			{ __LINE__, 0, "127.0.0.1", 0 },
			{ __LINE__, 0, "10.1.2.3", 0 },
			{ __LINE__, 0, "169.254.169.254", 0 },
			{ __LINE__, 0, "93.184.216.34", 1 },
			{ __LINE__, 1, "::1", 0 },
			{ __LINE__, 1, "::ffff:192.168.0.1", 0 },
			{ __LINE__, 1, "fd00::1", 0 },
			{ __LINE__, 1, "2606:2800:220:1::1946", 1 },
		};
		/* curl's own storage has room for any address */
		union {
			struct curl_sockaddr	c;
			char			room[128];
		}			 u;
		struct xfer		 xf;
		curl_socket_t		 s;
		char			*at = (char *)&u.c.addr;

		for (i = 0; i < sizeof(as) / sizeof(as[0]); i++) {
			memset(&u, 0, sizeof(u));
			memset(&xf, 0, sizeof(xf));
			u.c.socktype = SOCK_STREAM;
			if (as[i].v6) {
				struct sockaddr_in6	s6;

				memset(&s6, 0, sizeof(s6));
				s6.sin6_family = AF_INET6;
				inet_pton(AF_INET6, as[i].addr, &s6.sin6_addr);
				u.c.family = AF_INET6;
				u.c.addrlen = sizeof(s6);
				memcpy(at, &s6, sizeof(s6));
			} else {
				struct sockaddr_in	s4;

				memset(&s4, 0, sizeof(s4));
				s4.sin_family = AF_INET;
				inet_pton(AF_INET, as[i].addr, &s4.sin_addr);
				u.c.family = AF_INET;
				u.c.addrlen = sizeof(s4);
				memcpy(at, &s4, sizeof(s4));
			}
			s = open_socket(&xf, CURLSOCKTYPE_IPCXN, &u.c);
			CHECK_ROW((s != CURL_SOCKET_BAD) == as[i].ok &&
			    xf.blocked == !as[i].ok, as[i].line);
			if (s != CURL_SOCKET_BAD)
				close(s);
		}
	}
	TEST("a non-2xx status fails the node only with an error strategy "
	    "or retry") {
		json_object	*d;

		d = json_tokener_parse("{}");
		CHECK(!strict_status(d));
		json_object_put(d);
		d = json_tokener_parse("{\"error_strategy\":\"fail-branch\"}");
		CHECK(strict_status(d));
		json_object_put(d);
		d = json_tokener_parse("{\"error_strategy\":\"none\","
		    "\"retry_config\":{\"retry_enabled\":true}}");
		CHECK(strict_status(d));
		json_object_put(d);
	}
	pool_free_all(&mem);
}

/* ---- question-classifier answers ---- */

static void
test_classifier_answers(void)
{
	static const struct {
		int		 line;
		const char	*answer;
		int		 pick;
	} rows[] = {
		{ __LINE__, "{\"category_id\": \"b\", \"category_name\": "
		  "\"Billing\"}", 1 },
		{ __LINE__, "```json\n{\"keywords\": [\"x\"], \"category_id\": "
		  "\"c\", \"category_name\": \"Other\"}\n```", 2 },
		{ __LINE__, "<think>maybe {\"category_id\": \"b\"}</think>\n"
		  "{\"category_id\": \"c\"}", 2 },
		{ __LINE__, "{\"category_id\": 7, \"category_name\": "
		  "\"Billing\"}", 1 },
		{ __LINE__, "{\"category_id\": 3}", 3 },
		{ __LINE__, "{\"category_id\": \"zz\"}", 0 },
		{ __LINE__, "Billing", 1 },
		{ __LINE__, "  technical support  ", 0 },
		{ __LINE__, "b", 1 },
		{ __LINE__, "I would say this is about billing questions.", 1 },
		{ __LINE__, "Other billing", 2 },
		{ __LINE__, "no idea", 0 },
		{ __LINE__, "", 0 },
		{ __LINE__, "{\"broken\": ", 0 },
	};
	static const char *const names[] = { "Technical support", "Billing",
	    "Other billing", "Three" };
	json_object	*classes;
	size_t		 i;

	classes = json_tokener_parse("[{\"id\":\"a\",\"name\":\"x\"},"
	    "{\"id\":\"b\",\"name\":\"x\"},{\"id\":\"c\",\"name\":\"x\"},"
	    "{\"id\":3,\"name\":\"x\"}]");
	TEST("the classifier's answer names a class as Dify reads it, by "
	    "class name in plain text, else the first class") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
			CHECK_ROW(classify_answer(&mem, rows[i].answer, classes,
			    names) == rows[i].pick, rows[i].line);
	}
	json_object_put(classes);
	pool_free_all(&mem);
}

/* ---- parameter-extractor results ---- */

static void
test_extractor_results(void)
{
	static const struct {
		int		 line;
		const char	*params;
		const char	*result;	/* the model's object */
		const char	*reason;	/* NULL: success */
		const char	*out;		/* transformed */
	} rows[] = {
		{ __LINE__, "[{\"name\":\"city\",\"type\":\"string\","
		  "\"required\":true},{\"name\":\"days\",\"type\":\"number\"}]",
		  "{\"city\":\"Paris\",\"days\":3}", NULL,
		  "{\"city\":\"Paris\",\"days\":3}" },
		{ __LINE__, "[{\"name\":\"days\",\"type\":\"number\"}]",
		  "{\"days\":\"3\"}", "Invalid value for parameter days, "
		  "expected segment type: number, actual_type: string",
		  "{\"days\":3}" },
		{ __LINE__, "[{\"name\":\"d\",\"type\":\"number\"}]",
		  "{\"d\":\"2.5\"}", "Invalid value for parameter d, expected "
		  "segment type: number, actual_type: string", "{\"d\":2.5}" },
		{ __LINE__, "[{\"name\":\"d\",\"type\":\"number\"}]",
		  "{\"d\":true}", NULL, "{\"d\":1}" },
		{ __LINE__, "[{\"name\":\"d\",\"type\":\"number\"}]",
		  "{\"d\":\"many\"}", "Invalid value for parameter d, expected "
		  "segment type: number, actual_type: string", "{\"d\":0}" },
		{ __LINE__, "[{\"name\":\"ok\",\"type\":\"bool\"}]",
		  "{\"ok\":1}", "Invalid value for parameter ok, expected "
		  "segment type: boolean, actual_type: number",
		  "{\"ok\":true}" },
		{ __LINE__, "[{\"name\":\"ok\",\"type\":\"boolean\"}]",
		  "{\"ok\":false}", NULL, "{\"ok\":false}" },
		{ __LINE__, "[{\"name\":\"c\",\"type\":\"select\",\"options\":"
		  "[\"red\",\"blue\"]}]", "{\"c\":\"blue\"}", NULL,
		  "{\"c\":\"blue\"}" },
		{ __LINE__, "[{\"name\":\"c\",\"type\":\"select\",\"options\":"
		  "[\"red\",\"blue\"]}]", "{\"c\":\"green\"}",
		  "Invalid `select` "
		  "value for parameter c", "{\"c\":\"green\"}" },
		{ __LINE__, "[{\"name\":\"t\",\"type\":\"array[string]\"}]",
		  "{\"t\":[\"a\",1,\"b\"]}", "Invalid value for parameter t, "
		  "expected segment type: array[string], actual_type: "
		  "array[any]", "{\"t\":[\"a\",\"b\"]}" },
		{ __LINE__, "[{\"name\":\"t\",\"type\":\"array[number]\"}]",
		  "{\"t\":[1,\"2\",\"x\",2.5]}",
		  "Invalid value for parameter t, "
		  "expected segment type: array[number], actual_type: "
		  "array[any]", "{\"t\":[1,2,2.5]}" },
		{ __LINE__, "[{\"name\":\"o\",\"type\":\"array[object]\"}]",
		  "{\"o\":[{\"a\":1}]}", NULL, "{\"o\":[{\"a\":1}]}" },
		{ __LINE__, "[{\"name\":\"b\",\"type\":\"array[boolean]\"}]",
		  "{\"b\":[true,1]}", "Invalid value for parameter b, expected "
		  "segment type: array[boolean], actual_type: array[any]",
		  "{\"b\":[true]}" },
		{ __LINE__, "[{\"name\":\"a\",\"type\":\"string\"},{\"name\":"
		  "\"b\",\"type\":\"number\"}]", "{\"a\":\"x\"}", "Invalid "
		  "number of parameters", "{\"a\":\"x\",\"b\":0}" },
		{ __LINE__, "[{\"name\":\"a\",\"type\":\"string\"}]",
		  "{\"a\":\"x\",\"extra\":1}", "Invalid number of parameters",
		  "{\"a\":\"x\"}" },
		{ __LINE__, "[{\"name\":\"a\",\"type\":\"string\",\"required\":"
		  "true}]", "{\"b\":\"x\"}", "Parameter a is required",
		  "{\"a\":\"\"}" },
		{ __LINE__, "[{\"name\":\"a\",\"type\":\"string\",\"required\":"
		  "true},{\"name\":\"b\",\"type\":\"string\"}]",
		  "{\"b\":\"x\",\"c\":\"y\"}", "Parameter a is required",
		  "{\"a\":\"\",\"b\":\"x\"}" },
		{ __LINE__, "[{\"name\":\"a\",\"type\":\"string\"}]",
		  "{\"a\":null}", "Invalid value for parameter a, expected "
		  "segment type: string, actual_type: none", "{\"a\":\"\"}" },
	};
	struct param	 ps[4];
	struct wf_exec	 x;
	json_object	*decls, *res, *out, *want;
	const char	*why;
	size_t		 i;
	int		 np, k;

	TEST("extractor results are validated and typed as Dify's "
	    "_validate_result and _transform_result do") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			memset(&x, 0, sizeof(x));
			decls = json_tokener_parse(rows[i].params);
			np = (int)json_object_array_length(decls);
			for (k = 0; k < np; k++)
				CHECK_ROW(param_of(json_object_array_get_idx(
				    decls, (size_t)k), &ps[k], &x) == WF_OK,
				    rows[i].line);
			res = json_tokener_parse(rows[i].result);
			why = validate(&mem, ps, np, res);
			CHECK_ROW(rows[i].reason == NULL ? why == NULL :
			    STREQ(why, rows[i].reason), rows[i].line);
			if (why != NULL && rows[i].reason != NULL &&
			    !STREQ(why, rows[i].reason))
				printf("#   got %s\n", why);
			out = transform(ps, np, res);
			want = json_tokener_parse(rows[i].out);
			CHECK_ROW(json_object_equal(out, want), rows[i].line);
			if (!json_object_equal(out, want))
				printf("#   got %s\n", json_compact(out));
			json_object_put(want);
			json_object_put(out);
			json_object_put(res);
			json_object_put(decls);
		}
	}
	TEST("parameter declarations: reserved names and unknown types fail, "
	    "the JSON schema has Dify's shape") {
		memset(&x, 0, sizeof(x));
		decls = json_tokener_parse("{\"name\":\"__reason\",\"type\":"
		    "\"string\"}");
		CHECK(param_of(decls, &ps[0], &x) == WF_FAIL && STREQ(x.error,
		    "Invalid parameter name, __reason or __is_success is "
		    "reserved"));
		json_object_put(decls);
		decls = json_tokener_parse("{\"name\":\"f\",\"type\":"
		    "\"file\"}");
		CHECK(param_of(decls, &ps[0], &x) == WF_FAIL && STREQ(x.error,
		    "Invalid parameter type file of f"));
		json_object_put(decls);
		decls = json_tokener_parse("[{\"name\":\"c\",\"type\":"
		    "\"select\","
		    "\"options\":[\"a\"],\"description\":\"d\",\"required\":"
		    "true},{\"name\":\"t\",\"type\":\"array[number]\"}]");
		for (k = 0; k < 2; k++)
			param_of(json_object_array_get_idx(decls, (size_t)k),
			    &ps[k], &x);
		res = params_schema(ps, 2);
		want = json_tokener_parse("{\"type\":\"object\",\"properties\":"
		    "{\"c\":{\"description\":\"d\",\"type\":\"string\","
		    "\"enum\":"
		    "[\"a\"]},\"t\":{\"description\":\"\",\"type\":\"array\","
		    "\"items\":{\"type\":\"number\"}}},\"required\":[\"c\"]}");
		CHECK(json_object_equal(res, want));
		json_object_put(want);
		json_object_put(res);
		json_object_put(decls);
		decls = json_tokener_parse("[{\"name\":\"n\",\"type\":"
		    "\"number\"},"
		    "{\"name\":\"t\",\"type\":\"array[string]\"},{\"name\":"
		    "\"b\","
		    "\"type\":\"bool\"}]");
		for (k = 0; k < 3; k++)
			param_of(json_object_array_get_idx(decls, (size_t)k),
			    &ps[k], &x);
		res = default_result(ps, 3);
		want = json_tokener_parse("{\"n\":0,\"b\":false}");
		CHECK(json_object_equal(res, want));
		json_object_put(want);
		json_object_put(res);
		json_object_put(decls);
		exec_clear(&x);
	}
	TEST("the first JSON object of a text, as Dify extracts it") {
		static const struct {
			int		 line;
			const char	*text;
			const char	*obj;
		} js[] = {
			{ __LINE__, "Here: {\"a\": 1} and {\"b\": 2}",
			  "{\"a\":1}" },
			{ __LINE__, "[1, 2] then {\"a\": \"}\"}",
			  "{\"a\":\"}\"}" },
			{ __LINE__, "{bad} {\"ok\": [1, {\"x\": []}]}",
			  "{\"ok\":[1,{\"x\":[]}]}" },
			{ __LINE__, "```json\n{\"a\": \"\\\"q\\\"\"}\n```",
			  "{\"a\":\"\\\"q\\\"\"}" },
			{ __LINE__, "no json", NULL },
			{ __LINE__, "{\"open\": 1", NULL },
		};
		for (i = 0; i < sizeof(js) / sizeof(js[0]); i++) {
			res = first_json_object(js[i].text);
			want = js[i].obj ? json_tokener_parse(js[i].obj) : NULL;
			CHECK_ROW(want == NULL ? res == NULL :
			    json_object_equal(res, want), js[i].line);
			json_object_put(res);
			json_object_put(want);
		}
	}
	pool_free_all(&mem);
}

/* ---- list-operator ---- */

static void
test_list_operator(void)
{
	static const struct {
		int		 line;
		const char	*input;
		const char	*data;
		const char	*err;
		const char	*result;
	} rows[] = {
		{ __LINE__, "[\"apple\",\"banana\",\"cherry\",\"\"]",
		  "{\"filter_by\":{\"enabled\":true,\"conditions\":[{"
		  "\"comparison_operator\":\"contains\",\"value\":\"an\"}]}}",
		  NULL, "[\"banana\"]" },
		{ __LINE__, "[\"apple\",\"banana\",\"cherry\",\"\"]",
		  "{\"filter_by\":{\"enabled\":true,\"conditions\":[{"
		  "\"comparison_operator\":\"not empty\",\"value\":\"\"},{"
		  "\"comparison_operator\":\"start with\",\"value\":\"c\"}]}}",
		  NULL, "[\"cherry\"]" },
		/* "in" on a string is Python's substring test */
		{ __LINE__, "[\"app\",\"le\",\"x\"]", "{\"filter_by\":{"
		  "\"enabled\":true,\"conditions\":[{\"comparison_operator\":"
		  "\"in\",\"value\":\"apple\"}]}}", NULL, "[\"app\",\"le\"]" },
		{ __LINE__, "[\"a\",\"b\"]", "{\"filter_by\":{\"enabled\":true,"
		  "\"conditions\":[{\"comparison_operator\":\"is "
		  "not\",\"value\":"
		  "\"{{#start.q#}}\"},{\"comparison_operator\":\"end with\","
		  "\"value\":\"b\"}]}}", NULL, "[\"b\"]" },
		{ __LINE__, "[\"a\"]", "{\"filter_by\":{\"enabled\":true,"
		  "\"conditions\":[{\"comparison_operator\":\"=\",\"value\":"
		  "\"a\"}]}}", "Invalid condition: =", NULL },
		{ __LINE__, "[\"a\"]", "{\"filter_by\":{\"enabled\":true,"
		  "\"conditions\":[{\"comparison_operator\":\"is\",\"value\":"
		  "[\"a\"]}]}}", "Invalid filter value: ['a']", NULL },
		{ __LINE__, "[3,1,4,1,5,9,2,6]", "{\"filter_by\":{\"enabled\":"
		  "true,\"conditions\":[{\"comparison_operator\":\"≥\","
		  "\"value\":"
		  "\"2\"},{\"comparison_operator\":\"≠\",\"value\":"
		  "\"{{#start.n#}}\"}]},\"order_by\":{\"enabled\":true,"
		  "\"value\":"
		  "\"desc\"},\"limit\":{\"enabled\":true,\"size\":3}}", NULL,
		  "[9,6,5]" },
		{ __LINE__, "[1.5,2,3]", "{\"filter_by\":{\"enabled\":true,"
		  "\"conditions\":[{\"comparison_operator\":\"<\",\"value\":"
		  "\"2.5\"}]}}", NULL, "[1.5,2]" },
		{ __LINE__, "[1,2]", "{\"filter_by\":{\"enabled\":true,"
		  "\"conditions\":[{\"comparison_operator\":\">\",\"value\":"
		  "\"lots\"}]}}", "could not convert string to float: 'lots'",
		  NULL },
		{ __LINE__, "[true,false,true]", "{\"filter_by\":{\"enabled\":"
		  "true,\"conditions\":[{\"comparison_operator\":\"is\","
		  "\"value\":true}]}}", NULL, "[true,true]" },
		{ __LINE__, "[true,false]", "{\"filter_by\":{\"enabled\":true,"
		  "\"conditions\":[{\"comparison_operator\":\"is not\","
		  "\"value\":\"true\"}]}}", "Invalid filter value: 'true'",
		  NULL },
		{ __LINE__, "[true,false,true]", "{\"order_by\":{\"enabled\":"
		  "true,\"value\":\"asc\"}}", NULL, "[false,true,true]" },
		{ __LINE__, "[\"b\",\"a\",\"c\"]",
		  "{\"extract_by\":{\"enabled\":"
		  "true,\"serial\":\" 2 \"},\"order_by\":{\"enabled\":true}}",
		  NULL, "[\"a\"]" },
		{ __LINE__, "[\"b\",\"a\"]",
		  "{\"extract_by\":{\"enabled\":true,"
		  "\"serial\":\"0\"}}",
		  "Invalid serial index: must be >= 1, got "
		  "0", NULL },
		{ __LINE__, "[\"b\",\"a\"]",
		  "{\"extract_by\":{\"enabled\":true,"
		  "\"serial\":\"{{#start.n#}}\"}}",
		  "Invalid serial index: must "
		  "be <= 2, got 7", NULL },
		{ __LINE__, "[\"b\",\"a\"]",
		  "{\"extract_by\":{\"enabled\":true,"
		  "\"serial\":\"first\"}}",
		  "invalid literal for int() with base "
		  "10: 'first'", NULL },
		{ __LINE__, "[\"b\",\"a\",\"c\"]",
		  "{\"limit\":{\"enabled\":true,"
		  "\"size\":-1}}", NULL, "[\"b\",\"a\"]" },
		{ __LINE__, "[\"b\",\"a\",\"c\"]",
		  "{\"limit\":{\"enabled\":false,"
		  "\"size\":1},\"order_by\":{\"enabled\":false}}", NULL,
		  "[\"b\",\"a\",\"c\"]" },
	};
	struct wf_exec	 x;
	json_object	*in, *d, *res, *want;
	size_t		 i;

	bare_init();
	TEST("list-operator: filters per element type, extract, order, "
	    "limit, in Dify's order, with Dify's errors") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			memset(&x, 0, sizeof(x));
			in = json_tokener_parse(rows[i].input);
			d = json_tokener_parse(rows[i].data);
			CHECK_ROW(in != NULL && d != NULL, rows[i].line);
			res = list_apply(&eng, d, in, array_kind(in), &x);
			if (rows[i].err != NULL) {
				CHECK_ROW(res == NULL && STREQ(x.error,
				    rows[i].err), rows[i].line);
				if (res != NULL || !STREQ(x.error, rows[i].err))
					printf("#   got %s\n", x.error);
			} else {
				want = json_tokener_parse(rows[i].result);
				CHECK_ROW(res != NULL && json_object_equal(res,
				    want), rows[i].line);
				if (res == NULL || !json_object_equal(res,
				    want))
					printf("#   got %s %s\n", res ?
					    json_compact(res) : "NULL",
					    x.error);
				json_object_put(want);
			}
			json_object_put(res);
			json_object_put(in);
			json_object_put(d);
		}
	}
	TEST("list-operator on files: type in a list, extension, size, name "
	    "order; a bad key fails") {
		static const struct {
			int		 line;
			const char	*data;
			const char	*names;		/* filenames kept */
			const char	*err;
		} fr[] = {
			{ __LINE__, "{\"filter_by\":{\"enabled\":true,"
			  "\"conditions\":[{\"key\":\"type\","
			  "\"comparison_operator\":\"in\",\"value\":"
			  "[\"image\"]}]}}", "b.png c.jpg", NULL },
			{ __LINE__, "{\"filter_by\":{\"enabled\":true,"
			  "\"conditions\":[{\"key\":\"type\","
			  "\"comparison_operator\":\"not in\",\"value\":"
			  "[\"image\"]}]}}", "a.txt", NULL },
			{ __LINE__, "{\"filter_by\":{\"enabled\":true,"
			  "\"conditions\":[{\"key\":\"extension\","
			  "\"comparison_operator\":\"is\",\"value\":"
			  "\".png\"}]}}",
			  "b.png", NULL },
			{ __LINE__, "{\"filter_by\":{\"enabled\":true,"
			  "\"conditions\":[{\"key\":\"size\","
			  "\"comparison_operator\":\"<\",\"value\":\"1\"}]}}",
			  "c.jpg", NULL },
			{ __LINE__, "{\"filter_by\":{\"enabled\":true,"
			  "\"conditions\":[{\"key\":\"transfer_method\","
			  "\"comparison_operator\":\"in\",\"value\":"
			  "[\"remote_url\"]}]},\"order_by\":{\"enabled\":true,"
			  "\"key\":\"name\",\"value\":\"desc\"}}",
			  "c.jpg a.txt",
			  NULL },
			{ __LINE__, "{\"order_by\":{\"enabled\":true,\"key\":"
			  "\"size\",\"value\":\"asc\"},\"limit\":{\"enabled\":"
			  "true,\"size\":2}}", "c.jpg a.txt", NULL },
			{ __LINE__, "{\"filter_by\":{\"enabled\":true,"
			  "\"conditions\":[{\"key\":\"url\","
			  "\"comparison_operator\":\"contains\",\"value\":"
			  "\"x/a\"}]}}", "a.txt", NULL },
			{ __LINE__, "{\"filter_by\":{\"enabled\":true,"
			  "\"conditions\":[{\"key\":\"colour\","
			  "\"comparison_operator\":\"is\",\"value\":"
			  "\"red\"}]}}",
			  NULL, "Invalid key: colour" },
			{ __LINE__, "{\"filter_by\":{\"enabled\":true,"
			  "\"conditions\":[{\"key\":\"type\","
			  "\"comparison_operator\":\"is\",\"value\":"
			  "[\"image\"]}]}}", NULL, "Invalid condition: is" },
			{ __LINE__, "{\"filter_by\":{\"enabled\":true,"
			  "\"conditions\":[{\"key\":\"type\","
			  "\"comparison_operator\":\"in\",\"value\":true}]}}",
			  NULL, "File filter expects a string value, got "
			  "<class 'bool'>" },
			{ __LINE__, "{\"order_by\":{\"enabled\":true,\"key\":"
			  "\"colour\"}}", NULL, "Invalid order key: colour" },
		};
		json_object	*files;
		struct buf	 b;
		size_t		 k;

		wf_pool_get(&vars, (const char *[]){ "start", "files" }, 2,
		    &files);
		for (i = 0; i < sizeof(fr) / sizeof(fr[0]); i++) {
			memset(&x, 0, sizeof(x));
			d = json_tokener_parse(fr[i].data);
			res = list_apply(&eng, d, files, array_kind(files), &x);
			if (fr[i].err != NULL)
				CHECK_ROW(res == NULL && STREQ(x.error,
				    fr[i].err), fr[i].line);
			else {
				buf_init(&b, 1024);
				for (k = 0; res != NULL && k <
				    json_object_array_length(res); k++)
					buf_printf(&b, "%s%s", k ? " " : "",
					    json_str(json_object_array_get_idx(
					    res, k), "filename"));
				CHECK_ROW(res != NULL && STREQ(buf_cstr(&b),
				    fr[i].names), fr[i].line);
				buf_free(&b);
			}
			json_object_put(res);
			json_object_put(d);
		}
	}
	TEST("list-operator node: outputs result, first_record and "
	    "last_record; empty input gives empty outputs; non-arrays and "
	    "missing variables fail") {
		struct wf_node	nd;

		memset(&nd, 0, sizeof(nd));
		nd.id = "lo";
		nd.data = json_tokener_parse("{\"variable\":[\"start\","
		    "\"files\"],"
		    "\"filter_by\":{\"enabled\":true,\"conditions\":[{\"key\":"
		    "\"type\",\"comparison_operator\":\"in\",\"value\":"
		    "[\"image\"]}]}}");
		memset(&x, 0, sizeof(x));
		CHECK(wf_run_list_operator(&eng, &nd, &x) == WF_OK);
		CHECK(json_object_array_length(json_get(x.outputs, "result")) ==
		    2 && STREQ(json_str(json_get(x.outputs, "first_record"),
		    "filename"), "b.png") && STREQ(json_str(json_get(x.outputs,
		    "last_record"), "filename"), "c.jpg"));
		CHECK(json_object_array_length(json_get(x.inputs,
		    "variable")) ==
		    3);
		exec_clear(&x);
		json_object_put(nd.data);
		wf_pool_set(&vars, "start", "empty", json_object_new_array());
		nd.data = json_tokener_parse("{\"variable\":[\"start\","
		    "\"empty\"]}");
		CHECK(wf_run_list_operator(&eng, &nd, &x) == WF_OK);
		CHECK(STREQ(json_compact(x.outputs), "{\"result\":[],"
		    "\"first_record\":null,\"last_record\":null}"));
		exec_clear(&x);
		json_object_put(nd.data);
		nd.data = json_tokener_parse("{\"variable\":[\"start\","
		    "\"q\"]}");
		CHECK(wf_run_list_operator(&eng, &nd, &x) == WF_FAIL &&
		    STREQ(x.error, "Variable ['start', 'q'] is not an array "
		    "type, actual type: string"));
		exec_clear(&x);
		json_object_put(nd.data);
		nd.data = json_tokener_parse("{\"variable\":[\"start\","
		    "\"nope\"]}");
		CHECK(wf_run_list_operator(&eng, &nd, &x) == WF_FAIL &&
		    STREQ(x.error, "Variable not found for selector: "
		    "['start', 'nope']"));
		exec_clear(&x);
		json_object_put(nd.data);
		wf_pool_set(&vars, "start", "mixed", json_tokener_parse(
		    "[1,\"a\"]"));
		nd.data = json_tokener_parse("{\"variable\":[\"start\","
		    "\"mixed\"]}");
		CHECK(wf_run_list_operator(&eng, &nd, &x) == WF_FAIL &&
		    STREQ(x.error,
		        "Variable ['start', 'mixed'] is not an array "
		    "type, actual type: array[any]"));
		exec_clear(&x);
		json_object_put(nd.data);
	}
	TEST("document-extractor and knowledge-retrieval, without storage "
	    "or datasets") {
		struct wf_node	nd;

		memset(&nd, 0, sizeof(nd));
		nd.id = "de";
		nd.data = json_tokener_parse("{\"variable_selector\":"
		    "[\"start\","
		    "\"files\"]}");
		CHECK(wf_run_doc_extractor(&eng, &nd, &x) == WF_FAIL &&
		    STREQ(x.error, "Error downloading file b.png: no file "
		    "storage here"));
		CHECK(json_object_array_length(json_get(x.process_data,
		    "documents")) == 3);
		exec_clear(&x);
		json_object_put(nd.data);
		wf_pool_set(&vars, "lo", "none", NULL);
		nd.data = json_tokener_parse("{\"variable_selector\":[\"lo\","
		    "\"none\"]}");
		CHECK(wf_run_doc_extractor(&eng, &nd, &x) == WF_FAIL &&
		    STREQ(x.error, "Unsupported variable type: object"));
		exec_clear(&x);
		json_object_put(nd.data);
		nd.data = json_tokener_parse("{\"variable_selector\":"
		    "[\"start\","
		    "\"empty\"]}");
		CHECK(wf_run_doc_extractor(&eng, &nd, &x) == WF_OK &&
		    STREQ(json_compact(x.outputs), "{\"text\":[]}"));
		exec_clear(&x);
		json_object_put(nd.data);
		nd.data = json_tokener_parse("{\"variable_selector\":"
		    "[\"start\","
		    "\"q\"]}");
		CHECK(wf_run_doc_extractor(&eng, &nd, &x) == WF_FAIL &&
		    STREQ(x.error, "Variable ['start', 'q'] is not an "
		    "ArrayFileSegment"));
		exec_clear(&x);
		json_object_put(nd.data);
		wf_pool_set(&vars, "start", "doc", json_tokener_parse(
		    "{\"dify_model_identity\":\"__dify__file__\",\"type\":"
		    "\"document\",\"transfer_method\":\"remote_url\","
		    "\"filename\":\"x\",\"remote_url\":\"http://127.0.0.1:"
		    "9/x\"}"));
		nd.data = json_tokener_parse("{\"variable_selector\":"
		    "[\"start\","
		    "\"doc\"]}");
		CHECK(wf_run_doc_extractor(&eng, &nd, &x) == WF_FAIL &&
		    STREQ(x.error,
		        "Unable to determine file type: MIME type or "
		    "file extension is missing"));
		exec_clear(&x);
		json_object_put(nd.data);
		nd.id = "kr";
		nd.data = json_tokener_parse("{\"query_variable_selector\":"
		    "[\"start\",\"q\"],\"dataset_ids\":[\"d1\"]}");
		CHECK(wf_run_knowledge(&eng, &nd, &x) == WF_OK &&
		    STREQ(json_compact(x.outputs), "{\"result\":[]}") &&
		    STREQ(json_compact(x.inputs), "{\"query\":\"hé llo\"}"));
		exec_clear(&x);
		json_object_put(nd.data);
		nd.data = json_tokener_parse("{\"query_variable_selector\":"
		    "[\"start\",\"n\"]}");
		CHECK(wf_run_knowledge(&eng, &nd, &x) == WF_FAIL &&
		    STREQ(x.error, "Query variable is not string type."));
		exec_clear(&x);
		json_object_put(nd.data);
	}
	bare_free();
}

/* ---- whole graphs with a fake model ---- */

/* the messages and tools of the last model call */
static json_object	*last_request;

static void
record(const struct llm_request *lr)
{
	json_object	*o = json_object_new_object(), *ms, *m;
	int		 i;

	ms = json_object_new_array();
	for (i = 0; i < lr->nmsgs; i++) {
		m = json_object_new_object();
		json_object_object_add(m, "role",
		    json_object_new_string(lr->msgs[i].role));
		json_object_object_add(m, "content", lr->msgs[i].content ?
		    json_object_new_string(lr->msgs[i].content) : NULL);
		if (lr->msgs[i].tool_calls != NULL)
			json_object_object_add(m, "tool_calls",
			    json_copy(lr->msgs[i].tool_calls));
		if (lr->msgs[i].tool_call_id != NULL)
			json_object_object_add(m, "tool_call_id",
			    json_object_new_string(lr->msgs[i].tool_call_id));
		json_object_array_add(ms, m);
	}
	json_object_object_add(o, "messages", ms);
	json_object_object_add(o, "tools", json_copy(lr->tools));
	json_object_put(last_request);
	last_request = o;
}

static int
say(const struct llm_request *lr, struct llm_result *res, const char *s)
{
	buf_puts(&res->text, s);
	if (lr->on_delta != NULL && lr->on_delta(lr->arg, s, strlen(s)) == -1)
		return 1;
	res->prompt_tokens = 10;
	res->completion_tokens = 5;
	res->usage_known = 1;
	snprintf(res->finish_reason, sizeof(res->finish_reason), "stop");
	return 0;
}

static int
fake_chat(const struct llm_request *lr, struct llm_result *res)
{
	const struct llm_msg	*last = &lr->msgs[lr->nmsgs - 1];
	const char		*m = lr->model;

	record(lr);
	if (strcmp(m, "fail") == 0) {
		res->err = ERR_RATE_LIMIT;
		snprintf(res->errmsg, sizeof(res->errmsg), "[fake] slow down");
		return -1;
	}
	if (strcmp(m, "classify") == 0)
		return say(lr, res, "```json\n{\"keywords\": [], "
		    "\"category_id\": \"c2\", \"category_name\": \"B\"}\n```");
	if (strcmp(m, "classify-name") == 0)
		return say(lr, res, "The answer is: refund request");
	if (strcmp(m, "extract") == 0 && lr->tools != NULL) {
		res->tool_calls = json_tokener_parse("[{\"id\":\"call_1\","
		    "\"type\":\"function\",\"function\":{\"name\":"
		    "\"extract_parameters\",\"arguments\":\"{\\\"city\\\": "
		    "\\\"Paris\\\", \\\"days\\\": \\\"3\\\"}\"}}]");
		return say(lr, res, "");
	}
	if (strcmp(m, "extract") == 0 || strcmp(m, "extract-text") == 0)
		return say(lr, res, "Sure:\n```json\n{\"city\": \"Rome\", "
		    "\"days\": 2}\n```");
	if (strcmp(m, "agent") == 0) {
		if (strcmp(last->role, "tool") == 0) {
			char	buf[512];

			snprintf(buf, sizeof(buf), "Tool said: %s",
			    last->content);
			return say(lr, res, buf);
		}
		if (lr->tools != NULL) {
			res->tool_calls = json_tokener_parse("[{\"id\":"
			    "\"call_a\",\"type\":\"function\",\"function\":{"
			    "\"name\":\"json_parse\",\"arguments\":"
			    "\"{\\\"content\\\": \\\"{\\\\\\\"a\\\\\\\": "
			    "[5]}\\\", \\\"json_filter\\\": "
			    "\\\"a[0]\\\"}\"}}]");
			return say(lr, res, "Let me look. ");
		}
		return say(lr, res, "No tools.");
	}
	return say(lr, res, "mocked llm text");
}

struct out {
	struct buf	 log;
	struct buf	 text;
	json_object	*finished;
};

static int
sink_event(void *arg, const char *name, json_object *data)
{
	struct out	*o = arg;
	const char	*nid = json_str(data, "node_id");

	if (strcmp(name, "node_finished") == 0) {
		buf_printf(&o->log, "%s:%s ", nid, json_str(data, "status"));
		json_object_object_add(o->finished, nid, json_object_get(data));
	}
	json_object_put(data);
	return 0;
}

static int
sink_chunk(void *arg, const char *text, size_t len, json_object *sel)
{
	struct out	*o = arg;

	(void)sel;
	buf_append(&o->text, text, len);
	return 0;
}

static int
run(const char *graph, const char *inputs, struct out *o, struct wf_run *r,
    struct pool *p)
{
	memset(r, 0, sizeof(*r));
	buf_init(&o->log, 1 << 20);
	buf_init(&o->text, 1 << 20);
	o->finished = json_object_new_object();
	r->p = p;
	r->app_id = "app-1";
	r->workflow_id = "wf-1";
	r->task_id = "task-1";
	r->end_user_id = "eu-1";
	r->user = "abc-123";
	r->graph = json_tokener_parse(graph);
	r->inputs = json_tokener_parse(inputs ? inputs : "{}");
	r->dialogue_count = 1;
	r->started = now_mono();
	r->chat_fn = fake_chat;
	r->sink.arg = o;
	r->sink.event = sink_event;
	r->sink.chunk = sink_chunk;
	if (r->graph == NULL)
		printf("#   graph does not parse\n");
	return wf_run_graph(r);
}

static void
run_free(struct wf_run *r, struct out *o)
{
	json_object_put(r->graph);
	json_object_put(r->inputs);
	wf_run_free(r);
	buf_free(&o->log);
	buf_free(&o->text);
	json_object_put(o->finished);
}

static json_object *
fin(struct out *o, const char *node, const char *key)
{
	return json_get(json_get(o->finished, node), key);
}

#define START "{\"id\":\"start\",\"data\":{\"type\":\"start\",\"title\":" \
	"\"Start\",\"variables\":[{\"variable\":\"q\",\"label\":\"q\"," \
	"\"type\":\"text-input\",\"required\":true}]}}"
#define EDGE(s, t) "{\"source\":\"" s "\",\"target\":\"" t "\"," \
	"\"sourceHandle\":\"source\"}"
#define EDGEH(s, h, t) "{\"source\":\"" s "\",\"target\":\"" t "\"," \
	"\"sourceHandle\":\"" h "\"}"
#define END1(id, var, sel) "{\"id\":\"" id "\",\"data\":{\"type\":\"end\"," \
	"\"title\":\"" id "\",\"outputs\":[{\"variable\":\"" var "\"," \
	"\"value_selector\":" sel "}]}}"
#define MODEL(name) "\"model\":{\"provider\":\"fake\",\"name\":\"" name \
	"\",\"mode\":\"chat\",\"completion_params\":{}}"
#define QC(id, model) "{\"id\":\"" id "\",\"data\":{\"type\":" \
	"\"question-classifier\",\"title\":\"QC\"," MODEL(model) "," \
	"\"query_variable_selector\":[\"start\",\"q\"],\"instruction\":" \
	"\"Be brief about {{#start.q#}}\",\"classes\":[{\"id\":\"c1\"," \
	"\"name\":\"A\"},{\"id\":\"c2\",\"name\":\"B\"},{\"id\":\"c3\"," \
	"\"name\":\"Refund request\"}]}}"
#define QC_GRAPH(model) "{\"nodes\":[" START "," QC("qc", model) "," \
	END1("e1", "r", "[\"qc\",\"class_name\"]") "," \
	END1("e2", "r", "[\"qc\",\"class_id\"]") "," \
	END1("e3", "r", "[\"start\",\"q\"]") "],\"edges\":[" \
	EDGE("start", "qc") "," EDGEH("qc", "c1", "e1") "," \
	EDGEH("qc", "c2", "e2") "," EDGEH("qc", "c3", "e3") "]}"

static void
test_graphs(void)
{
	struct wf_run	 r;
	struct out	 o;
	struct pool	 p;
	json_object	*v;

	memset(&p, 0, sizeof(p));
	TEST("question-classifier: one model call with Dify's prompt "
	    "structure, the class id as the branch, class_name, class_id and "
	    "usage") {
		run(QC_GRAPH("classify"), "{\"q\":\"my bill\"}", &o, &r, &p);
		CHECK(STREQ(r.status, "succeeded"));
		CHECK(STREQ(buf_cstr(&o.log), "start:succeeded qc:succeeded "
		    "e2:succeeded "));
		CHECK(STREQ(json_compact(r.outputs), "{\"r\":\"c2\"}"));
		v = fin(&o, "qc", "outputs");
		CHECK(STREQ(json_str(v, "class_name"), "B") &&
		    STREQ(json_str(v, "class_id"), "c2") &&
		    json_object_get_int(json_get(json_get(v, "usage"),
		    "total_tokens")) == 15);
		CHECK(STREQ(json_compact(fin(&o, "qc", "inputs")),
		    "{\"query\":\"my bill\"}"));
		CHECK(json_object_get_int(json_get(fin(&o, "qc",
		    "execution_metadata"), "total_tokens")) == 15);
		CHECK(r.total_tokens == 15);
		v = json_get(last_request, "messages");
		CHECK(json_object_array_length(v) == 6 && STREQ(json_str(
		    json_object_array_get_idx(v, 0), "role"), "system"));
		{
			json_object	*q = json_tokener_parse(json_str(
			    json_object_array_get_idx(v, 5), "content"));

			CHECK(STREQ(json_compact(q), "{\"input_text\":[\"my "
			    "bill\"],\"categories\":[{\"category_id\":\"c1\","
			    "\"category_name\":\"A\"},{\"category_id\":\"c2\","
			    "\"category_name\":\"B\"},{\"category_id\":\"c3\","
			    "\"category_name\":\"Refund request\"}],"
			    "\"classification_instructions\":[\"Be brief about "
			    "my bill\"]}"));
			json_object_put(q);
		}
		CHECK(json_get(last_request, "tools") == NULL);
		/* the End's value only: the classifier streams nothing */
		CHECK(STREQ(buf_cstr(&o.text), "c2"));
		run_free(&r, &o);
	}
	TEST("question-classifier: a class named in plain text is taken; a "
	    "model failure fails the node with its error type") {
		run(QC_GRAPH("classify-name"), "{\"q\":\"money back\"}", &o, &r,
		    &p);
		CHECK(STREQ(json_compact(r.outputs), "{\"r\":\"money back\"}"));
		run_free(&r, &o);
		run(QC_GRAPH("fail"), "{\"q\":\"x\"}", &o, &r, &p);
		CHECK(STREQ(r.status, "failed") && STREQ(r.error,
		    "[fake] slow down"));
		CHECK(STREQ(buf_cstr(&o.log), "start:succeeded qc:failed ") &&
		    STREQ(json_str(json_get(o.finished, "qc"), "error"),
		    "[fake] slow down"));
		run_free(&r, &o);
	}
#define PE(mode, model) "{\"nodes\":[" START ",{\"id\":\"pe\",\"data\":{" \
	"\"type\":\"parameter-extractor\",\"title\":\"PE\"," MODEL(model) "," \
	"\"query\":[\"start\",\"q\"],\"reasoning_mode\":\"" mode "\"," \
	"\"instruction\":\"Look at {{#start.q#}}\",\"parameters\":[{\"name\":" \
	"\"city\",\"type\":\"string\",\"required\":true,\"description\":" \
	"\"the city\"},{\"name\":\"days\",\"type\":\"number\"}]}}," \
	END1("end", "all", "[\"pe\",\"city\"]") "],\"edges\":[" \
	EDGE("start", "pe") \
	"," EDGE("pe", "end") "]}"
	TEST("parameter-extractor, function calling: the extract_parameters "
	    "tool with the parameters' schema; its call read and typed") {
		run(PE("function_call", "extract"), "{\"q\":\"Paris, 3 days\"}",
		    &o, &r, &p);
		CHECK(STREQ(r.status, "succeeded"));
		v = fin(&o, "pe", "outputs");
		CHECK(STREQ(json_str(v, "city"), "Paris") &&
		    json_object_get_int(json_get(v, "days")) == 3 &&
		    json_object_is_type(json_get(v, "days"), json_type_int));
		CHECK(json_object_get_int(json_get(v, "__is_success")) == 0 &&
		    STREQ(json_str(v, "__reason"), "Invalid value for "
		    "parameter days, expected segment type: number, "
		    "actual_type: string"));
		CHECK(json_get(v, "__usage") != NULL);
		v = json_get(last_request, "tools");
		CHECK(STREQ(json_str(json_get(json_object_array_get_idx(v, 0),
		    "function"), "name"), "extract_parameters"));
		CHECK(STREQ(json_compact(json_get(json_get(
		    json_object_array_get_idx(v, 0), "function"),
		    "parameters")), "{\"type\":\"object\",\"properties\":{"
		    "\"city\":{\"description\":\"the "
		    "city\",\"type\":\"string\"}"
		    ",\"days\":{\"description\":\"\",\"type\":\"number\"}},"
		    "\"required\":[\"city\"]}"));
		v = json_get(last_request, "messages");
		CHECK(strstr(json_str(json_object_array_get_idx(v, 0),
		    "content"), "<instruction>\nLook at Paris, 3 days\n"
		    "</instruction>") != NULL);
		CHECK(strstr(json_str(json_object_array_get_idx(v,
		    json_object_array_length(v) - 1), "content"),
		    "<context>\nParis, 3 days\n</context>") != NULL);
		CHECK(STREQ(json_str(json_get(fin(&o, "pe", "process_data"),
		    "function"), "name"), "extract_parameters"));
		run_free(&r, &o);
	}
	TEST("parameter-extractor, prompt mode: JSON read from the answer's "
	    "text; no JSON gives defaults and __is_success 0") {
		run(PE("prompt", "extract-text"), "{\"q\":\"Rome\"}", &o, &r,
		    &p);
		v = fin(&o, "pe", "outputs");
		CHECK(json_object_get_int(json_get(v, "__is_success")) == 1 &&
		    json_get(v, "__reason") == NULL &&
		    STREQ(json_str(v, "city"), "Rome") &&
		    json_object_get_int(json_get(v, "days")) == 2);
		CHECK(json_get(last_request, "tools") == NULL);
		v = json_get(last_request, "messages");
		CHECK(strstr(json_str(json_object_array_get_idx(v,
		    json_object_array_length(v) - 1), "content"),
		    "<structure>\n{ \"type\": \"object\"") != NULL);
		CHECK(STREQ(json_str(r.outputs, "all"), "Rome"));
		run_free(&r, &o);
		run(PE("prompt", "nothing"), "{\"q\":\"Rome\"}", &o, &r, &p);
		v = fin(&o, "pe", "outputs");
		CHECK(json_object_get_int(json_get(v, "__is_success")) == 0 &&
		    STREQ(json_str(v, "__reason"), "Failed to extract result "
		    "from function call or text response, using empty "
		    "result.") && STREQ(json_str(v, "city"), "") &&
		    json_object_get_int(json_get(v, "days")) == 0);
		run_free(&r, &o);
		run(PE("prompt", "fail"), "{\"q\":\"Rome\"}", &o, &r, &p);
		CHECK(STREQ(r.status, "failed"));
		run_free(&r, &o);
	}
#define TOOL(id, prov, name, params) "{\"id\":\"" id "\",\"data\":{\"type\":" \
	"\"tool\",\"title\":\"T\",\"provider_id\":\"" prov "\"," \
	"\"provider_type\":\"builtin\",\"tool_name\":\"" name "\"," \
	"\"tool_configurations\":{},\"tool_parameters\":" params "}}"
	TEST("tool node: built-in tools with mixed, variable and constant "
	    "inputs; text streamed; files [] and Dify's json") {
		run("{\"nodes\":[" START "," TOOL("t",
		    "langgenius/json_process/json_process", "json_parse",
		    "{\"content\":{\"type\":\"mixed\",\"value\":\"{\\\"k\\\": "
		    "\\\"{{#start.q#}}\\\"}\"},\"json_filter\":{\"type\":"
		    "\"constant\",\"value\":\"k\"},\"unknown\":\"x\"}") ","
		    "{\"id\":\"a\",\"data\":{\"type\":\"answer\",\"title\":"
		    "\"A\","
		    "\"answer\":\"<{{#t.text#}}>\"}}],\"edges\":[" EDGE("start",
		    "t") "," EDGE("t", "a") "]}", "{\"q\":\"v1\"}", &o, &r, &p);
		CHECK(STREQ(r.status, "succeeded"));
		CHECK(STREQ(json_compact(fin(&o, "t", "outputs")), "{\"text\":"
		    "\"v1\",\"files\":[],\"json\":[{\"data\":[]}]}"));
		CHECK(STREQ(json_compact(fin(&o, "t", "inputs")),
		    "{\"content\":\"{\\\"k\\\": \\\"v1\\\"}\",\"json_filter\":"
		    "\"k\"}"));
		CHECK(STREQ(buf_cstr(&o.text), "<v1>"));
		run_free(&r, &o);
		run("{\"nodes\":[" START "," TOOL("t", "builtin", "json_parse",
		    "{\"content\":{\"type\":\"variable\",\"value\":[\"x\","
		    "\"y\"]}}") "," END1("end", "t", "[\"t\",\"text\"]")
		    "],\"edges\":[" EDGE("start", "t") "," EDGE("t", "end")
		    "]}", "{\"q\":\"v1\"}", &o, &r, &p);
		CHECK(STREQ(r.status, "failed") && STREQ(r.error, "Variable "
		    "['x', 'y'] does not exist"));
		run_free(&r, &o);
	}
	TEST("tool node: an unknown tool fails naming provider and tool, so "
	    "error strategies apply") {
		run("{\"nodes\":[" START ",{\"id\":\"t\",\"data\":{\"type\":"
		    "\"tool\",\"title\":\"T\",\"provider_id\":\"tavily\","
		    "\"tool_name\":\"tavily_search\",\"tool_parameters\":{},"
		    "\"error_strategy\":\"default-value\",\"default_value\":"
		    "[{\"key\":\"text\",\"type\":\"string\",\"value\":"
		    "\"none\"}]}"
		    "}," END1("end", "t", "[\"t\",\"text\"]") "],\"edges\":["
		    EDGE("start", "t") "," EDGE("t", "end") "]}",
		    "{\"q\":\"v1\"}", &o, &r, &p);
		CHECK(STREQ(r.status, "partial-succeeded"));
		CHECK(STREQ(json_compact(r.outputs), "{\"t\":\"none\"}"));
		CHECK(STREQ(json_str(json_get(o.finished, "t"), "error"),
		    "Tool tavily/tavily_search is not available on this server "
		    "(built-in tools: time/current_time, json_process/"
		    "json_parse, webscraper/webscraper)."));
		run_free(&r, &o);
	}
#define AGENT(model, tools) "{\"id\":\"ag\",\"data\":{\"type\":\"agent\"," \
	"\"title\":\"Agent\",\"agent_strategy_provider_name\":" \
	"\"langgenius/agent/agent\",\"agent_strategy_name\":" \
	"\"function_calling\",\"agent_parameters\":{\"model\":{\"type\":" \
	"\"constant\",\"value\":{\"provider\":\"fake\",\"model\":\"" model \
	"\",\"model_type\":\"llm\",\"completion_params\":{}}},\"tools\":" \
	"{\"type\":\"constant\",\"value\":" tools "},\"instruction\":{" \
	"\"type\":\"constant\",\"value\":\"You help.\"},\"query\":{" \
	"\"type\":\"constant\",\"value\":\"{{#start.q#}}\"}," \
	"\"maximum_iterations\":{\"type\":\"constant\",\"value\":3}}}}"
	TEST("agent node: a function-calling loop with the node's tools; "
	    "text streamed and output; usage over every round") {
		run("{\"nodes\":[" START "," AGENT("agent",
		    "[{\"provider_name\":"
		    "\"json_process\",\"tool_name\":\"json_parse\",\"enabled\":"
		    "true},{\"provider_name\":\"time\",\"tool_name\":"
		    "\"current_time\",\"enabled\":false}]") "," END1("end",
		    "text", "[\"ag\",\"text\"]") "],\"edges\":[" EDGE("start",
		    "ag") "," EDGE("ag", "end") "]}", "{\"q\":\"find a\"}", &o,
		    &r, &p);
		CHECK(STREQ(r.status, "succeeded"));
		CHECK(STREQ(json_str(r.outputs, "text"), "Let me look. Tool "
		    "said: 5"));
		CHECK(STREQ(buf_cstr(&o.text), "Let me look. Tool said: 5"));
		v = fin(&o, "ag", "outputs");
		CHECK(json_object_get_int(json_get(json_get(v, "usage"),
		    "total_tokens")) == 30 && STREQ(json_compact(json_get(v,
		    "json")), "[{\"data\":[]}]"));
		v = json_get(last_request, "messages");
		CHECK(json_object_array_length(v) == 4 && STREQ(json_str(
		    json_object_array_get_idx(v, 0), "content"), "You help.") &&
		    STREQ(json_str(json_object_array_get_idx(v, 1), "content"),
		    "find a") && STREQ(json_str(json_object_array_get_idx(v, 3),
		    "tool_call_id"), "call_a"));
		run_free(&r, &o);
		run("{\"nodes\":[" START "," AGENT("agent",
		    "[{\"provider_name\":"
		    "\"google\",\"tool_name\":\"google_search\"}]") "," END1(
		    "end", "text", "[\"ag\",\"text\"]") "],\"edges\":["
		    EDGE("start", "ag") "," EDGE("ag", "end") "]}",
		    "{\"q\":\"x\"}", &o, &r, &p);
		CHECK(STREQ(r.status, "failed") && STREQ(r.error, "Agent node "
		    "ag: tool google/google_search is not available on this "
		    "server (built-in tools: time/current_time, json_process/"
		    "json_parse, webscraper/webscraper)."));
		run_free(&r, &o);
	}
	TEST("knowledge-retrieval: no datasets here, an empty result, and "
	    "the LLM after it runs") {
		run("{\"nodes\":[" START ",{\"id\":\"kr\",\"data\":{\"type\":"
		    "\"knowledge-retrieval\",\"title\":\"K\","
		    "\"query_variable_selector\":[\"start\",\"q\"],"
		    "\"dataset_ids\":[\"x\"],\"retrieval_mode\":\"single\"}},"
		    END1("end", "r", "[\"kr\",\"result\"]") "],\"edges\":["
		    EDGE("start", "kr") "," EDGE("kr", "end") "]}",
		    "{\"q\":\"x\"}", &o, &r, &p);
		CHECK(STREQ(r.status, "succeeded") && STREQ(json_compact(
		    r.outputs), "{\"r\":[]}"));
		run_free(&r, &o);
	}
	json_object_put(last_request);
	last_request = NULL;
	pool_free_all(&p);
}

int
main(void)
{
	setenv("DIFYCGI_ALLOW_PRIVATE_URLS", "0", 1);
	if (config_load() == -1)
		return 1;
	test_http_build();
	test_http_response();
	test_classifier_answers();
	test_extractor_results();
	test_list_operator();
	test_graphs();
	UNIT_DONE();
}
