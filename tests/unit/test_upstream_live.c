/*
 * test_upstream_live.c: the real upstream client (libcurl, streaming and
 * blocking) against tests/fake-upstream/fake_upstream.py, started here as
 * a child process on a port the kernel picked.  Every fault the fake can
 * play is checked for its Dify error, and timings for stop requests and
 * deadlines.  Our own stderr goes to a file for the run, so that the
 * last test can show no log line carries the API key (should the program
 * die midway, a sanitizer's report is in /tmp/test_upstream_live.XXXXXX).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "model/model.h"
#include "unit.h"

#define KEY	"sk-live-test-key-0123456789abcdef"
#define FAKE	"tests/fake-upstream/fake_upstream.py"

static char	 dir[64] = "/tmp/test_upstream_live.XXXXXX";
static char	 logpath[128], errpath[128];
static pid_t	 fake_pid = -1;
static int	 saved_stderr = -1;

/* What a run saw through its callbacks. */
struct ctx {
	struct buf	deltas;
	int		ndeltas;
	int		stop_at_delta;	/* on_delta returns -1 at this one */
	double		stop_after_s;	/* on_tick returns -1 after this */
	double		t0;
	double		stopped_at;
	double		last_tick;
	double		max_tick_gap;
	int		ticks;
};

static int
on_delta(void *arg, const char *s, size_t n)
{
	struct ctx	*c = arg;

	c->ndeltas++;
	buf_append(&c->deltas, s, n);
	if (c->stop_at_delta > 0 && c->ndeltas >= c->stop_at_delta) {
		c->stopped_at = now_mono();
		return -1;
	}
	return 0;
}

static int
on_tick(void *arg)
{
	struct ctx	*c = arg;
	double		 now = now_mono();

	if (now - c->last_tick > c->max_tick_gap)
		c->max_tick_gap = now - c->last_tick;
	c->last_tick = now;
	c->ticks++;
	if (c->stop_after_s > 0 && now - c->t0 >= c->stop_after_s) {
		c->stopped_at = now;
		return -1;
	}
	return 0;
}

static const struct llm_msg	 hello_msgs[] = {
	{ "system", "Be brief.", NULL, NULL, NULL },
	{ "user", "Hi", NULL, NULL, NULL },
	{ "assistant", "Hello!", NULL, NULL, NULL },
	{ "user", "What is \"2+2\"?", NULL, NULL, NULL },
};
static const char	 hello_json[] = "[{\"role\":\"system\",\"content\":"
    "\"Be brief.\"},{\"role\":\"user\",\"content\":\"Hi\"},{\"role\":"
    "\"assistant\",\"content\":\"Hello!\"},{\"role\":\"user\",\"content\":"
    "\"What is \\\"2+2\\\"?\"}]";

/* One chat with the fake; "c" and "res" are initialised here. */
static int
chat(const char *provider, const char *model, int stream, struct ctx *c,
    struct llm_result *res)
{
	struct llm_request	rq;

	memset(&rq, 0, sizeof(rq));
	if (c->deltas.max == 0)
		buf_init(&c->deltas, 16 * 1024 * 1024);
	rq.provider = provider;
	rq.model = model;
	rq.msgs = hello_msgs;
	rq.nmsgs = 4;
	rq.stream = stream;
	rq.on_delta = on_delta;
	rq.on_tick = on_tick;
	rq.arg = c;
	c->t0 = c->last_tick = now_mono();
	llm_result_init(res);
	return upstream_chat(&rq, res);
}

static void
done(struct ctx *c, struct llm_result *res)
{
	buf_free(&c->deltas);
	memset(c, 0, sizeof(*c));
	llm_result_free(res);
}

static void
set_timeouts(int first_byte_ms, int idle_ms, int total_ms)
{
	char	v[32];

	snprintf(v, sizeof(v), "%d", first_byte_ms);
	setenv("DIFYCGI_UPSTREAM_FIRST_BYTE_MS", v, 1);
	snprintf(v, sizeof(v), "%d", idle_ms);
	setenv("DIFYCGI_UPSTREAM_IDLE_MS", v, 1);
	snprintf(v, sizeof(v), "%d", total_ms);
	setenv("DIFYCGI_UPSTREAM_TOTAL_MS", v, 1);
	if (config_load() == -1)
		abort();
}

/* The last line of the fake's request log, parsed. */
static json_object *
last_logged(void)
{
	FILE		*f = fopen(logpath, "r");
	char		 line[65536], last[65536] = "";

	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof(line), f) != NULL)
		memcpy(last, line, sizeof(last));
	fclose(f);
	return json_tokener_parse(last);
}

static int
contains_file(const char *path, const char *needle)
{
	FILE	*f = fopen(path, "r");
	char	 line[8192];
	int	 found = 0;

	if (f == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, needle) != NULL;
	fclose(f);
	return found;
}

static int
start_fake(void)
{
	char		 portfile[128], url[128], buf[32];
	long long	 port;
	FILE		*f;
	double		 t0;
	size_t		 n;
	int		 i;

	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(portfile, sizeof(portfile), "%s/port", dir);
	snprintf(logpath, sizeof(logpath), "%s/requests.log", dir);
	fake_pid = fork();
	if (fake_pid == -1)
		return -1;
	if (fake_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execlp("python3", "python3", FAKE, "--port-file", portfile,
		    "--log", logpath, "--require-key", KEY, (char *)NULL);
		_exit(127);
	}
	t0 = now_mono();
	for (i = 0; now_mono() - t0 < 10; i++) {
		f = fopen(portfile, "r");
		if (f != NULL) {
			n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			while (n > 0 && (buf[n - 1] == '\n' ||
			    buf[n - 1] == ' '))
				n--;
			buf[n] = '\0';
			if (parse_int(buf, 1, 65535, &port) == -1)
				return -1;
			snprintf(url, sizeof(url), "http://127.0.0.1:%lld/v1",
			    port);
			setenv("DIFYCGI_PROVIDER_FAKE_BASE_URL", url, 1);
			setenv("DIFYCGI_PROVIDER_FAKE_API_KEY", KEY, 1);
			setenv("DIFYCGI_PROVIDER_NOKEY_BASE_URL", url, 1);
			setenv("DIFYCGI_PROVIDER_WRONGKEY_BASE_URL", url, 1);
			setenv("DIFYCGI_PROVIDER_WRONGKEY_API_KEY",
			    "sk-wrong-key-fedcba9876543210", 1);
			setenv("DIFYCGI_PROVIDER_OVERRIDE_BASE_URL", url, 1);
			setenv("DIFYCGI_PROVIDER_OVERRIDE_API_KEY", KEY, 1);
			setenv("DIFYCGI_PROVIDER_OVERRIDE_MODEL", "echo", 1);
			return 0;
		}
		if (waitpid(fake_pid, NULL, WNOHANG) == fake_pid) {
			fake_pid = -1;
			return -1;
		}
		usleep(20000);
	}
	return -1;
}

static void
stop_fake(void)
{
	char	path[160];

	if (fake_pid > 0) {
		kill(fake_pid, SIGTERM);
		waitpid(fake_pid, NULL, 0);
	}
	snprintf(path, sizeof(path), "%s/port", dir);
	unlink(path);
	unlink(logpath);
	unlink(errpath);
	rmdir(dir);
}

/* A loopback port that nothing listens on. */
static int
closed_port(void)
{
	struct sockaddr_in	sa;
	socklen_t		len = sizeof(sa);
	int			fd, port;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd == -1 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == -1 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) == -1) {
		if (fd != -1)
			close(fd);
		return -1;
	}
	port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static void
test_answers(void)
{
	struct ctx		 c;
	struct llm_result	 res;
	json_object		*o;
	int			 rc;

	memset(&c, 0, sizeof(c));
	TEST("a streamed echo answer is the messages the provider received") {
		rc = chat("fake", "echo", 1, &c, &res);
		CHECK(rc == 0);
		CHECK(STREQ(buf_cstr(&res.text), hello_json));
		CHECK(STREQ(buf_cstr(&c.deltas), hello_json));
		CHECK(c.ndeltas == (int)((sizeof(hello_json) - 1 + 7) / 8));
		CHECK(STREQ(res.finish_reason, "stop"));
		CHECK(res.usage_known);
		CHECK(res.prompt_tokens == (9 + 2 + 6 + 14) / 4);
		CHECK(res.completion_tokens == c.ndeltas);
		CHECK(res.first_token_s >= 0 &&
		    res.first_token_s <= res.latency_s);
		done(&c, &res);
	}

	TEST("a blocking echo answer is the same text, with no deltas") {
		rc = chat("fake", "echo", 0, &c, &res);
		CHECK(rc == 0);
		CHECK(STREQ(buf_cstr(&res.text), hello_json));
		CHECK(c.ndeltas == 0);
		CHECK(res.usage_known && res.completion_tokens > 0);
		CHECK(res.first_token_s < 0);
		done(&c, &res);
	}

	TEST("an ordinary model streams word deltas, then the usage chunk") {
		rc = chat("fake", "gpt-test", 1, &c, &res);
		CHECK(rc == 0);
		CHECK(STREQ(buf_cstr(&res.text),
		    "Hello from the fake upstream."));
		CHECK(c.ndeltas == 5);
		CHECK(STREQ(res.finish_reason, "stop"));
		CHECK(res.usage_known && res.completion_tokens == 5);
		CHECK(res.err == ERR__MAX && res.errmsg[0] == '\0');
		o = last_logged();
		CHECK(o != NULL && json_object_get_boolean(json_get(
		    json_get(o, "stream_options"), "include_usage")));
		CHECK(o != NULL && json_object_get_boolean(json_get(o,
		    "stream")));
		CHECK(o != NULL && STREQ(json_str(o, "model"), "gpt-test"));
		json_object_put(o);
		done(&c, &res);
	}

	TEST("a blocking request asks for no stream and no stream options") {
		rc = chat("fake", "gpt-test", 0, &c, &res);
		CHECK(rc == 0);
		CHECK(STREQ(buf_cstr(&res.text),
		    "Hello from the fake upstream."));
		o = last_logged();
		CHECK(o != NULL && json_get(o, "stream") != NULL &&
		    !json_object_get_boolean(json_get(o, "stream")));
		CHECK(o != NULL && json_get(o, "stream_options") == NULL);
		json_object_put(o);
		done(&c, &res);
	}

	TEST("a provider's MODEL setting overrides the app's model") {
		rc = chat("override", "gpt-test", 0, &c, &res);
		CHECK(rc == 0);
		CHECK(STREQ(buf_cstr(&res.text), hello_json));
		done(&c, &res);
	}
}

static void
test_request_body(void)
{
	static const char	 params[] = "{\"temperature\":0.7,\"top_p\":1,"
	    "\"max_tokens\":512,\"presence_penalty\":0,\"frequency_penalty\":"
	    "0.5,\"stop\":[\"\\n\\n\",\"END\",7],\"unknown_key\":1,"
	    "\"response_format\":\"text\"}";
	static const char	 tools[] = "[{\"type\":\"function\","
	    "\"function\":{\"name\":\"get_weather\",\"description\":"
	    "\"Weather of a city\",\"parameters\":{\"type\":\"object\","
	    "\"properties\":{\"city\":{\"type\":\"string\"}}}}}]";
	struct llm_msg		 msgs[2];
	struct llm_request	 rq;
	struct llm_result	 res;
	json_object		*p, *t, *parts, *o, *m;

	p = json_tokener_parse(params);
	t = json_tokener_parse(tools);
	parts = json_tokener_parse("[{\"type\":\"text\",\"text\":\"What is "
	    "this?\"},{\"type\":\"image_url\",\"image_url\":{\"url\":"
	    "\"data:image/png;base64,iVBORw0KGgo=\"}}]");
	memset(msgs, 0, sizeof(msgs));
	msgs[0].role = "system";
	msgs[0].content = "sys";
	msgs[1].role = "user";
	msgs[1].parts = parts;
	memset(&rq, 0, sizeof(rq));
	rq.provider = "fake";
	rq.model = "gpt-test";
	rq.params = p;
	rq.tools = t;
	rq.msgs = msgs;
	rq.nmsgs = 2;
	TEST("completion params, tools and content parts reach the provider; "
	    "unknown params do not") {
		llm_result_init(&res);
		CHECK(upstream_chat(&rq, &res) == 0);
		o = last_logged();
		CHECK(o != NULL);
		CHECK(json_object_get_double(json_get(o, "temperature")) ==
		    0.7);
		CHECK(json_object_get_int(json_get(o, "top_p")) == 1);
		CHECK(json_object_get_int(json_get(o, "max_tokens")) == 512);
		CHECK(json_get(o, "presence_penalty") != NULL);
		CHECK(json_object_get_double(json_get(o,
		    "frequency_penalty")) == 0.5);
		CHECK(STREQ(json_compact(json_get(o, "stop")),
		    "[\"\\n\\n\",\"END\"]"));
		CHECK(json_get(o, "unknown_key") == NULL);
		CHECK(json_get(o, "response_format") == NULL);
		CHECK(STREQ(json_compact(json_get(o, "tools")),
		    json_compact(t)));
		m = json_object_array_get_idx(json_get(o, "messages"), 1);
		CHECK(STREQ(json_compact(json_get(m, "content")),
		    json_compact(parts)));
		json_object_put(o);
		llm_result_free(&res);
	}
	json_object_put(p);
	json_object_put(t);
	json_object_put(parts);
}

static void
test_stop(void)
{
	struct ctx		c;
	struct llm_result	res;
	double			t0;
	int			rc;

	memset(&c, 0, sizeof(c));
	TEST("a stop request (on_tick -1) ends a slow stream within 200 ms") {
		c.stop_after_s = 0.3;
		t0 = now_mono();
		rc = chat("fake", "slow", 1, &c, &res);
		CHECK(rc == 1);
		CHECK(res.stopped);
		CHECK(c.stopped_at > 0 && now_mono() - c.stopped_at < 0.2);
		CHECK(now_mono() - t0 < 0.7);
		CHECK(strncmp(buf_cstr(&res.text), "tok0 tok1 ", 10) == 0);
		CHECK(c.ndeltas >= 2 && c.ndeltas <= 5);
		CHECK(c.max_tick_gap < 0.12);
		CHECK(res.err == ERR__MAX);
		CHECK(!res.usage_known &&
		    res.completion_tokens == upstream_estimate_tokens(
		    buf_cstr(&res.text)));
		done(&c, &res);
	}

	TEST("a blocking request can be stopped too") {
		c.stop_after_s = 0.2;
		rc = chat("fake", "slow", 0, &c, &res);
		CHECK(rc == 1);
		CHECK(res.stopped);
		CHECK(now_mono() - c.stopped_at < 0.2);
		done(&c, &res);
	}

	TEST("a client gone (on_delta -1) ends the stream at once") {
		c.stop_at_delta = 3;
		rc = chat("fake", "slow-50-40", 1, &c, &res);
		CHECK(rc == 1);
		CHECK(res.stopped);
		CHECK(c.ndeltas == 3);
		CHECK(STREQ(buf_cstr(&res.text), "tok0 tok1 tok2 "));
		CHECK(now_mono() - c.stopped_at < 0.1);
		done(&c, &res);
	}

	TEST("on_tick is called at least every 100 ms while nothing arrives") {
		rc = chat("fake", "slow-400-2", 1, &c, &res);
		CHECK(rc == 0);
		CHECK(STREQ(buf_cstr(&res.text), "tok0 tok1 "));
		CHECK(c.ticks >= 4);
		CHECK(c.max_tick_gap < 0.12);
		done(&c, &res);
	}
}

struct err_row {
	int		 line;
	const char	*provider;
	const char	*model;
	int		 stream;
	enum err	 err;
	const char	*errmsg;	/* the start of it */
};

static void
test_errors(void)
{
	static const struct err_row	rows[] = {
		{ __LINE__, "fake", "err-429", 1, ERR_COMPLETION_REQUEST,
		  "[fake] Rate Limit Error, HTTP 429: Rate limit reached" },
		{ __LINE__, "fake", "err-429", 0, ERR_COMPLETION_REQUEST,
		  "[fake] Rate Limit Error, HTTP 429: Rate limit reached" },
		{ __LINE__, "fake", "quota-429", 1, ERR_PROVIDER_QUOTA_EXCEEDED,
		  "Your quota for Dify Hosted Model Provider has been "
		  "exhausted." },
		{ __LINE__, "fake", "err-401", 1, ERR_PROVIDER_NOT_INITIALIZE,
		  "[fake] Incorrect model credentials provided, please check "
		  "and try again. HTTP 401" },
		{ __LINE__, "nokey", "gpt-test", 0, ERR_PROVIDER_NOT_INITIALIZE,
		  "[nokey] Incorrect model credentials provided" },
		{ __LINE__, "wrongkey", "gpt-test", 1,
		  ERR_PROVIDER_NOT_INITIALIZE,
		  "[wrongkey] Incorrect model credentials provided" },
		{ __LINE__, "fake", "err-404", 1, ERR_MODEL_NOT_SUPPORT,
		  "[fake] Model Not Found Error, HTTP 404: The model `err-404` "
		  "does not exist" },
		{ __LINE__, "fake", "err-500", 1, ERR_COMPLETION_REQUEST,
		  "[fake] Server Unavailable Error, HTTP 500: The server had "
		  "an error" },
		{ __LINE__, "fake", "err-503", 0, ERR_COMPLETION_REQUEST,
		  "[fake] Server Unavailable Error, HTTP 503: The engine is "
		  "currently overloaded" },
		{ __LINE__, "fake", "malformed", 1, ERR_COMPLETION_REQUEST,
		  "[fake] Error: malformed stream from the provider: an event "
		  "is not a JSON object" },
		{ __LINE__, "fake", "malformed", 0, ERR_COMPLETION_REQUEST,
		  "[fake] Error: the provider's answer is not a JSON object" },
		{ __LINE__, "fake", "midstream-error", 0,
		  ERR_COMPLETION_REQUEST,
		  "[fake] Error: The server had an error while processing" },
		{ __LINE__, "fake", "reset", 1, ERR_COMPLETION_REQUEST,
		  "[fake] Connection Error, the connection to the provider was "
		  "lost mid-answer" },
		{ __LINE__, "fake", "reset", 0, ERR_COMPLETION_REQUEST,
		  "[fake] Connection Error, the connection to the provider was "
		  "lost mid-answer" },
		{ __LINE__, "fake", "huge", 1, ERR_COMPLETION_REQUEST,
		  "[fake] Error: the answer is longer than 4194304 bytes" },
		{ __LINE__, "fake", "huge", 0, ERR_COMPLETION_REQUEST,
		  "[fake] Error: the answer is longer than 4194304 bytes" },
		{ __LINE__, "fake", "tool-call", 0, ERR_COMPLETION_REQUEST,
		  "[fake] Bad Request Error, HTTP 400: model tool-call needs" },
	};
	struct ctx		c;
	struct llm_result	res;
	size_t			i;
	int			rc;

	memset(&c, 0, sizeof(c));
	TEST("provider faults map to Dify errors, streaming and blocking") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			rc = chat(rows[i].provider, rows[i].model,
			    rows[i].stream, &c, &res);
			CHECK_ROW(rc == -1, rows[i].line);
			CHECK_ROW(res.err == rows[i].err, rows[i].line);
			CHECK_ROW(strncmp(res.errmsg, rows[i].errmsg,
			    strlen(rows[i].errmsg)) == 0, rows[i].line);
			if (strncmp(res.errmsg, rows[i].errmsg,
			    strlen(rows[i].errmsg)) != 0)
				printf("#   got \"%s\"\n", res.errmsg);
			CHECK_ROW(strstr(res.errmsg, KEY) == NULL &&
			    strstr(res.errmsg, "sk-wrong") == NULL,
			    rows[i].line);
			CHECK_ROW(res.text.len <= UPSTREAM_TEXT_MAX,
			    rows[i].line);
			CHECK_ROW(!res.stopped, rows[i].line);
			done(&c, &res);
		}
	}

	TEST("an error object mid-stream keeps the text that came before") {
		rc = chat("fake", "midstream-error", 1, &c, &res);
		CHECK(rc == -1);
		CHECK(res.err == ERR_COMPLETION_REQUEST);
		CHECK(STREQ(buf_cstr(&res.text), "Partial answer before"));
		CHECK(STREQ(buf_cstr(&c.deltas), "Partial answer before"));
		CHECK(STREQ(res.errmsg, "[fake] Error: The server had an error "
		    "while processing your request. Sorry about that!"));
		done(&c, &res);
	}

	TEST("a reset connection keeps the text that came before") {
		rc = chat("fake", "reset", 1, &c, &res);
		CHECK(rc == -1);
		CHECK(STREQ(buf_cstr(&res.text),
		    "This answer will not finish"));
		done(&c, &res);
	}
}

static void
test_timeouts(void)
{
	struct ctx		 c;
	struct llm_result	 res;
	char			 url[64];
	double			 t0, took;
	int			 rc, port;

	memset(&c, 0, sizeof(c));
	set_timeouts(500, 60000, 600000);
	TEST("a provider that never answers times out after the first-byte "
	    "deadline") {
		t0 = now_mono();
		rc = chat("fake", "hang", 1, &c, &res);
		took = now_mono() - t0;
		CHECK(rc == -1);
		CHECK(res.err == ERR_COMPLETION_REQUEST);
		CHECK(STREQ(res.errmsg, "[fake] Connection Error, upstream "
		    "timed out before the first byte after 500 ms"));
		CHECK(took >= 0.45 && took < 0.8);
		CHECK(c.max_tick_gap < 0.12);
		done(&c, &res);
	}

	set_timeouts(60000, 500, 600000);
	TEST("a stream that stalls times out after the idle deadline, "
	    "keeping its text") {
		t0 = now_mono();
		rc = chat("fake", "stall", 1, &c, &res);
		took = now_mono() - t0;
		CHECK(rc == -1);
		CHECK(STREQ(res.errmsg, "[fake] Connection Error, upstream "
		    "stalled: no data for 500 ms"));
		CHECK(STREQ(buf_cstr(&res.text),
		    "This answer will not finish"));
		CHECK(took >= 0.45 && took < 0.8);
		done(&c, &res);
	}

	TEST("a blocking answer that stalls halfway times out too") {
		rc = chat("fake", "stall", 0, &c, &res);
		CHECK(rc == -1);
		CHECK(STREQ(res.errmsg, "[fake] Connection Error, upstream "
		    "stalled: no data for 500 ms"));
		done(&c, &res);
	}

	set_timeouts(60000, 60000, 500);
	TEST("a slow stream is cut at the total deadline") {
		t0 = now_mono();
		rc = chat("fake", "slow", 1, &c, &res);
		took = now_mono() - t0;
		CHECK(rc == -1);
		CHECK(STREQ(res.errmsg, "[fake] Connection Error, upstream "
		    "timed out after 500 ms in total"));
		CHECK(took >= 0.45 && took < 0.8);
		CHECK(strncmp(buf_cstr(&res.text), "tok0 ", 5) == 0);
		done(&c, &res);
	}
	set_timeouts(60000, 60000, 600000);

	port = closed_port();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1", port);
	setenv("DIFYCGI_PROVIDER_CLOSED_BASE_URL", url, 1);
	TEST("a closed port is connection refused, at once") {
		t0 = now_mono();
		rc = chat("closed", "gpt-test", 1, &c, &res);
		CHECK(port > 0);
		CHECK(rc == -1);
		CHECK(res.err == ERR_COMPLETION_REQUEST);
		CHECK(STREQ(res.errmsg,
		    "[closed] Connection Error, connection refused"));
		CHECK(now_mono() - t0 < 0.5);
		done(&c, &res);
	}
}

static void
test_tools(void)
{
	struct llm_msg		 msgs[4];
	struct llm_request	 rq;
	struct llm_result	 res, res2;
	json_object		*tools, *call;
	const char		*id;
	char			 expect[256];
	int			 stream;

	tools = json_tokener_parse("[{\"type\":\"function\",\"function\":{"
	    "\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\"}}},"
	    "{\"type\":\"function\",\"function\":{\"name\":\"other\"}}]");
	for (stream = 1; stream >= 0; stream--) {
		memset(msgs, 0, sizeof(msgs));
		msgs[0].role = "user";
		msgs[0].content = "Weather in Paris?";
		memset(&rq, 0, sizeof(rq));
		rq.provider = "fake";
		rq.model = "tool-call";
		rq.tools = tools;
		rq.msgs = msgs;
		rq.nmsgs = 1;
		rq.stream = stream;
		TEST(stream ? "a streamed tool call is assembled from its "
		    "deltas, and the tool's result answered" : "a blocking "
		    "tool call is returned, and the tool's result answered") {
			llm_result_init(&res);
			CHECK(upstream_chat(&rq, &res) == 0);
			CHECK(STREQ(res.finish_reason, "tool_calls"));
			CHECK(res.text.len == 0);
			CHECK(res.tool_calls != NULL &&
			    json_object_array_length(res.tool_calls) == 1);
			call = json_object_array_get_idx(res.tool_calls, 0);
			id = json_str(call, "id");
			CHECK(id != NULL && strncmp(id, "call_", 5) == 0);
			snprintf(expect, sizeof(expect), "{\"id\":\"%s\","
			    "\"type\":\"function\",\"function\":{\"name\":"
			    "\"get_weather\",\"arguments\":\"{}\"}}",
			    id ? id : "");
			CHECK(STREQ(json_compact(call), expect));

			msgs[1].role = "assistant";
			msgs[1].tool_calls = res.tool_calls;
			msgs[2].role = "tool";
			msgs[2].content = "22 degrees";
			msgs[2].tool_call_id = id;
			rq.nmsgs = 3;
			llm_result_init(&res2);
			CHECK(upstream_chat(&rq, &res2) == 0);
			CHECK(STREQ(buf_cstr(&res2.text),
			    "Tool result received: 22 degrees"));
			CHECK(res2.tool_calls == NULL);
			CHECK(STREQ(res2.finish_reason, "stop"));
			llm_result_free(&res2);
			llm_result_free(&res);
		}
	}
	json_object_put(tools);
}

static void *
worker(void *arg)
{
	struct ctx		c;
	struct llm_result	res;
	int			i, *ok = arg;

	memset(&c, 0, sizeof(c));
	*ok = 1;
	for (i = 0; i < 3; i++) {
		if (chat("fake", "gpt-test", i != 1, &c, &res) != 0 ||
		    strcmp(buf_cstr(&res.text),
		    "Hello from the fake upstream.") != 0)
			*ok = 0;
		done(&c, &res);
	}
	return NULL;
}

static void
test_threads(void)
{
	pthread_t	t[4];
	int		ok[4], i, all = 1;

	TEST("several threads stream at once, each with its own handles") {
		for (i = 0; i < 4; i++)
			CHECK(pthread_create(&t[i], NULL, worker, &ok[i]) == 0);
		for (i = 0; i < 4; i++) {
			pthread_join(t[i], NULL);
			all &= ok[i];
		}
		CHECK(all);
	}
}

int
main(void)
{
	int	fd;

	setenv("DIFYCGI_DATA_DIR", "/tmp", 1);
	setenv("DIFYCGI_DB", "/tmp/unused.db", 1);
	if (config_load() == -1)
		return 1;
	log_init("test_upstream_live");
	TEST("the fake upstream starts and tells its port") {
		CHECK(start_fake() == 0);
	}
	if (unit_failed_total) {
		stop_fake();
		UNIT_DONE();
	}
	snprintf(errpath, sizeof(errpath), "%s/stderr.log", dir);
	fflush(stderr);
	saved_stderr = dup(STDERR_FILENO);
	fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd != -1) {
		dup2(fd, STDERR_FILENO);
		close(fd);
	}

	test_answers();
	test_request_body();
	test_stop();
	test_errors();
	test_timeouts();
	test_tools();
	test_threads();

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	TEST("log lines name the faults, and no log line carries the API "
	    "key") {
		CHECK(contains_file(errpath, "upstream fake: [fake] Rate Limit "
		    "Error"));
		CHECK(!contains_file(errpath, KEY));
		CHECK(!contains_file(errpath, "sk-wrong-key"));
		CHECK(!contains_file(errpath, "What is"));	/* no prompts */
	}
	stop_fake();
	UNIT_DONE();
}
