/* test_tmpl.c: the Jinja2 subset of template-transform nodes (lib/template/):
 * output as Jinja2 with Python values prints it, and failures as
 * messages. */
#include <stdlib.h>

#include "template/template.h"
#include "unit.h"

static const struct {
	int		 line;
	const char	*tpl;
	const char	*vars;		/* JSON object */
	const char	*out;		/* NULL: an error is expected */
} rows[] = {
	/* text and variables */
	{ __LINE__, "plain text", "{}", "plain text" },
	{ __LINE__, "", "{}", "" },
	{ __LINE__, "{{ arg1 }}", "{\"arg1\":\"hi\"}", "hi" },
	{ __LINE__, "{{arg1}}", "{\"arg1\":\"hi\"}", "hi" },
	{ __LINE__, "{{ missing }}|", "{}", "|" },
	{ __LINE__, "{{ n }} {{ f }} {{ t }} {{ z }}",
	  "{\"n\":3,\"f\":2.5,\"t\":true,\"z\":null}", "3 2.5 True None" },
	{ __LINE__, "{{ f }}", "{\"f\":1.0}", "1.0" },
	{ __LINE__, "{{ f }}", "{\"f\":1e16}", "1e+16" },
	{ __LINE__, "{{ f }}", "{\"f\":0.0001}", "0.0001" },
	{ __LINE__, "{{ f }}", "{\"f\":0.00001}", "1e-05" },
	{ __LINE__, "{{ o }}", "{\"o\":{\"a\":1,\"b\":[true,null,\"x\"]}}",
	  "{'a': 1, 'b': [True, None, 'x']}" },
	{ __LINE__, "{{ s }}", "{\"s\":[\"it's\"]}", "[\"it's\"]" },
	/* Jinja drops one trailing newline and normalises CR LF */
	{ __LINE__, "{{ image }}\n", "{\"image\":\"I\"}", "I" },
	{ __LINE__, "a\r\nb\r\n\n", "{}", "a\nb\n" },
	/* attribute and subscript access */
	{ __LINE__, "{{ item.title }}", "{\"item\":{\"title\":\"T\"}}", "T" },
	{ __LINE__, "{{ item['title'] }}", "{\"item\":{\"title\":\"T\"}}",
	  "T" },
	{ __LINE__, "{{ arr[0] }}{{ arr[-1] }}", "{\"arr\":[1,2,3]}", "13" },
	{ __LINE__, "{{ arr[5] }}|", "{\"arr\":[1]}", "|" },
	{ __LINE__, "{{ arr[1:] }}", "{\"arr\":[1,2,3]}", "[2, 3]" },
	{ __LINE__, "{{ s[:2] }}", "{\"s\":\"héllo\"}", "hé" },
	{ __LINE__, "{{ d.missing }}|", "{\"d\":{}}", "|" },
	{ __LINE__, "{{ nope.attr }}", "{}", NULL },
	/* for loops */
	{ __LINE__, "{% for x in xs %}{{ x }},{% endfor %}",
	  "{\"xs\":[1,2,3]}", "1,2,3," },
	{ __LINE__, "{% for item in my_list %}\n<doc id=\"{{ loop.index }}\">"
	  "{{ item }}</doc>\n{% endfor %}", "{\"my_list\":[\"a\",\"b\"]}",
	  "\n<doc id=\"1\">a</doc>\n\n<doc id=\"2\">b</doc>\n" },
	{ __LINE__, "{% for x in xs %}{{ loop.index0 }}{{ loop.first }}"
	  "{{ loop.last }}{{ loop.length }};{% endfor %}", "{\"xs\":[7,8]}",
	  "0TrueFalse2;1FalseTrue2;" },
	{ __LINE__, "{% for x in xs %}{{ x }}{% else %}empty{% endfor %}",
	  "{\"xs\":[]}", "empty" },
	{ __LINE__, "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}",
	  "{\"d\":{\"a\":1,\"b\":2}}", "a=1;b=2;" },
	{ __LINE__, "{% for k in d %}{{ k }}{% endfor %}",
	  "{\"d\":{\"a\":1,\"b\":2}}", "ab" },
	{ __LINE__, "{% for c in s %}[{{ c }}]{% endfor %}", "{\"s\":\"hé\"}",
	  "[h][é]" },
	{ __LINE__, "{% for x in missing %}x{% endfor %}|", "{}", "|" },
	{ __LINE__, "{% for i in range(3) %}{{ i }}{% endfor %}", "{}", "012" },
	{ __LINE__, "{% for x in xs %}{% for y in x %}{{ y }}{% endfor %}/"
	  "{% endfor %}", "{\"xs\":[[1,2],[3]]}", "12/3/" },
	/* if / elif / else */
	{ __LINE__, "{% if a %}A{% elif b %}B{% else %}C{% endif %}",
	  "{\"a\":1}", "A" },
	{ __LINE__, "{% if a %}A{% elif b %}B{% else %}C{% endif %}",
	  "{\"b\":\"x\"}", "B" },
	{ __LINE__, "{% if a %}A{% elif b %}B{% else %}C{% endif %}",
	  "{\"a\":0,\"b\":[]}", "C" },
	{ __LINE__, "{% if n > 2 and n <= 5 %}mid{% endif %}", "{\"n\":3}",
	  "mid" },
	{ __LINE__, "{% if not x %}no{% endif %}", "{}", "no" },
	{ __LINE__, "{% if 'a' in s %}y{% endif %}{% if 2 in l %}z{% endif %}",
	  "{\"s\":\"cat\",\"l\":[1,2]}", "yz" },
	{ __LINE__, "{% if x is defined %}d{% else %}u{% endif %}", "{}", "u" },
	{ __LINE__, "{% if x is none %}n{% endif %}", "{\"x\":null}", "n" },
	{ __LINE__, "{% if n is even %}e{% endif %}", "{\"n\":4}", "e" },
	{ __LINE__, "{{ 'y' if ok else 'n' }}", "{\"ok\":true}", "y" },
	{ __LINE__, "{{ a == b }} {{ a != 1 }}", "{\"a\":1,\"b\":1.0}",
	  "True False" },
	/* whitespace control and comments */
	{ __LINE__, "a  {%- if 1 %}  b  {%- endif -%}  c", "{}", "a  bc" },
	{ __LINE__, "x\n  {{- 'y' -}}\n  z", "{}", "xyz" },
	{ __LINE__, "a{# a comment #}b", "{}", "ab" },
	{ __LINE__, "a {#- c -#} b", "{}", "ab" },
	{ __LINE__, "{% raw %}{{ x }}{% endraw %}", "{}", "{{ x }}" },
	/* filters */
	{ __LINE__, "{{ output | join(\"\\n\\n\") }}",
	  "{\"output\":[\"a\",\"b\"]}", "a\n\nb" },
	{ __LINE__, "{{ step_answer | join(\"\\n\")}}",
	  "{\"step_answer\":[1,\"x\"]}", "1\nx" },
	{ __LINE__, "{{ xs|join(', ') }}", "{\"xs\":[\"a\",\"b\"]}", "a, b" },
	{ __LINE__, "{{ xs | length }} {{ s | length }} {{ d | count }}",
	  "{\"xs\":[1,2],\"s\":\"héllo\",\"d\":{\"a\":1}}", "2 5 1" },
	{ __LINE__, "{{ s | float }} {{ n | float }} {{ bad | float }}",
	  "{\"s\":\"2.5\",\"n\":3,\"bad\":\"x\"}", "2.5 3.0 0.0" },
	{ __LINE__, "{{ s | int }} {{ f | int }}", "{\"s\":\"42\",\"f\":3.9}",
	  "42 3" },
	{ __LINE__, "{{ s|upper }}{{ s|lower }}{{ s|title }}{{ s|capitalize }}",
	  "{\"s\":\"hi yo\"}", "HI YOhi yoHi YoHi yo" },
	{ __LINE__, "[{{ s | trim }}]", "{\"s\":\"  x  \"}", "[x]" },
	{ __LINE__, "{{ x | default('d') }} {{ y | d('e') }}", "{\"y\":1}",
	  "d 1" },
	{ __LINE__, "{{ xs|first }}{{ xs|last }}", "{\"xs\":[1,2,3]}", "13" },
	{ __LINE__, "{{ xs|sort|list }} {{ xs|reverse|list }}",
	  "{\"xs\":[3,1,2]}", "[1, 2, 3] [2, 1, 3]" },
	{ __LINE__, "{{ s|replace('a','o') }}", "{\"s\":\"banana\"}",
	  "bonono" },
	{ __LINE__, "{{ o|tojson }}", "{\"o\":{\"a\":\"é\"}}",
	  "{\"a\": \"é\"}" },
	{ __LINE__, "{{ xs|sum }} {{ xs|max }} {{ xs|min }}",
	  "{\"xs\":[3,1,2]}", "6 3 1" },
	{ __LINE__, "{{ 2.567|round(1) }}", "{}", "2.6" },
	{ __LINE__, "{{ s|nosuchfilter }}", "{\"s\":1}", NULL },
	/* unique as Jinja's: first of each key, strings without case */
	{ __LINE__, "{{ xs|unique|list }}",
	  "{\"xs\":[\"A\",\"a\",\"b\",1,1.0,true,null,2.5,null]}",
	  "['A', 'b', 1, None, 2.5]" },
	{ __LINE__, "{{ ['A','a','b']|unique(true)|list }} "
	  "{{ ['A','a']|unique(case_sensitive=true)|list }}", "{}",
	  "['A', 'a', 'b'] ['A', 'a']" },
	{ __LINE__, "{{ xs|unique(attribute='n')|list }}",
	  "{\"xs\":[{\"n\":\"x\"},{\"n\":\"X\"},{\"n\":\"y\"}]}",
	  "[{'n': 'x'}, {'n': 'y'}]" },
	{ __LINE__, "{{ [[1], [1]]|unique|list }}", "{}", NULL },
	/* repetition, as Python's */
	{ __LINE__, "{{ 'ab' * 3 }}|{{ 2 * 'x' }}|{{ [1] * 3 }}|"
	  "{{ 'x' * -2 }}|", "{}", "ababab|xx|[1, 1, 1]||" },
	{ __LINE__, "{{ [] * 4000000000000000000 }}"
	  "{{ '' * 4000000000000000000 }}", "{}", "[]" },
	/* range() is as long as Python's, lazy in a for loop */
	{ __LINE__, "{% for i in range(150000) %}{% if loop.last %}{{ i }} "
	  "{{ loop.length }}{% endif %}{% endfor %}", "{}", "149999 150000" },
	{ __LINE__, "{{ range(10, 0, -3)|list }} {{ range(0, 10, 3)|list }}",
	  "{}", "[10, 7, 4, 1] [0, 3, 6, 9]" },
	{ __LINE__, "{% for i in range(3) %}{{ loop.previtem }}{{ i }}"
	  "{{ loop.nextitem }};{% endfor %}", "{}", "None01;012;12None;" },
	{ __LINE__, "{% for a, b in range(2) %}{% endfor %}", "{}", NULL },
	/* a loop's "if" filters first: loop.* count what it keeps */
	{ __LINE__, "{% for x in range(10) if x is odd %}{{ loop.index }}:"
	  "{{ x }}/{{ loop.length }} {% endfor %}", "{}",
	  "1:1/5 2:3/5 3:5/5 4:7/5 5:9/5 " },
	{ __LINE__, "{% for k, v in d.items() if v > 1 %}{{ k }}{% endfor %}"
	  "{% for x in d if x %}{% else %}-{% endfor %}",
	  "{\"d\":{\"a\":1,\"b\":2}}", "b" },
	{ __LINE__, "{% for x in [] if x %}{% else %}none{% endfor %}", "{}",
	  "none" },
	/* what is left of a tag before its body is an error, not dropped */
	{ __LINE__, "{% if x garbage %}{% endif %}", "{}", NULL },
	{ __LINE__, "{% for x in y z %}{% endfor %}", "{}", NULL },
	{ __LINE__, "{% if x %}{% elif y z %}{% endif %}", "{}", NULL },
	{ __LINE__, "{% if x %}{% else z %}{% endif %}", "{}", NULL },
	{ __LINE__, "{{ x is divisibleby(-1) }}",
	  "{\"x\":-9223372036854775808}", "True" },
	/* arithmetic and strings */
	{ __LINE__, "{{ 1 + 2 * 3 }} {{ 7 // 2 }} {{ 7 % 3 }} {{ 7 / 2 }}",
	  "{}", "7 3 1 3.5" },
	{ __LINE__, "{{ -7 // 2 }} {{ -7 % 3 }} {{ 2 ** 10 }}", "{}",
	  "-4 2 1024" },
	{ __LINE__, "{{ 'a' ~ 1 ~ none }}", "{}", "a1None" },
	{ __LINE__, "{{ 'a' + 'b' }} {{ [1] + [2] }}", "{}", "ab [1, 2]" },
	{ __LINE__, "{{ 1 / 0 }}", "{}", NULL },
	{ __LINE__, "{{ 7 % 0 }}", "{}", NULL },
	/* past 64 bits integers become floats instead of wrapping */
	{ __LINE__, "{{ 9223372036854775807 + 1 }}", "{}",
	  "9.223372036854776e+18" },
	{ __LINE__, "{{ 2 ** 70 }} {{ -(-9223372036854775807 - 1) }}", "{}",
	  "1.1805916207174113e+21 9.223372036854776e+18" },
	{ __LINE__, "{{ s.upper() }} {{ s.split(',') }}", "{\"s\":\"a,b\"}",
	  "A,B ['a', 'b']" },
	{ __LINE__, "{{ d.get('x', 5) }}", "{\"d\":{}}", "5" },
	{ __LINE__, "{% set y = x * 2 %}{{ y }}", "{\"x\":21}", "42" },
	{ __LINE__, "{{ [1, 'a'] }} {{ (1, 2) }}", "{}", "[1, 'a'] [1, 2]" },
	/* fixtures' templates */
	{ __LINE__, "Title: [{{ title }}]({{ url }})\n\n{{ content }}",
	  "{\"title\":\"T\",\"url\":\"u\",\"content\":\"C\"}",
	  "Title: [T](u)\n\nC" },
	{ __LINE__, "<h1> Summary </h1>\r\n{{ output }}\r\n",
	  "{\"output\":\"S\"}", "<h1> Summary </h1>\nS" },
	/* syntax errors */
	{ __LINE__, "{{ x ", "{}", NULL },
	{ __LINE__, "{% if x %}no end", "{}", NULL },
	{ __LINE__, "{% for %}{% endfor %}", "{}", NULL },
	{ __LINE__, "{% unknown %}", "{}", NULL },
	{ __LINE__, "{{ 'unterminated }}", "{}", NULL },
	{ __LINE__, "{% endif %}", "{}", NULL },
	{ __LINE__, "{{ x | }}", "{}", NULL },
};

static void
test_rows(void)
{
	struct buf	 b;
	json_object	*vars;
	char		 err[256];
	size_t		 i;
	int		 rc;

	TEST("templates render as Jinja2 renders them, errors as messages") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			vars = json_tokener_parse(rows[i].vars);
			buf_init(&b, TMPL_OUTPUT_MAX);
			err[0] = '\0';
			rc = tmpl_render(rows[i].tpl, strlen(rows[i].tpl), vars,
			    NULL, &b, err, sizeof(err));
			if (rows[i].out == NULL)
				CHECK_ROW(rc == -1 && err[0] != '\0',
				    rows[i].line);
			else {
				CHECK_ROW(rc == 0, rows[i].line);
				CHECK_ROW(strcmp(buf_cstr(&b),
				    rows[i].out) == 0, rows[i].line);
				if (rc != 0 || strcmp(buf_cstr(&b),
				    rows[i].out) != 0)
					printf("#   got [%s] err [%s]\n",
					    buf_cstr(&b), err);
			}
			buf_free(&b);
			json_object_put(vars);
		}
	}
}

static void
test_limits(void)
{
	struct buf	 b;
	char		 err[256], *deep;
	int		 i, n = 5000;

	TEST("output past the buffer's cap is an error, not a truncation") {
		json_object	*v = json_tokener_parse("{\"xs\":[1,2,3]}");
		const char	*t = "{% for x in range(100000) %}abcdefgh"
		    "{% endfor %}";

		buf_init(&b, 1000);
		CHECK(tmpl_render(t, strlen(t), v, NULL, &b, err,
		    sizeof(err)) == -1);
		CHECK(strstr(err, "too") != NULL);
		buf_free(&b);
		json_object_put(v);
	}
	TEST("deep nesting is refused without exhausting the stack") {
		deep = malloc((size_t)n * 2 + 16);
		memcpy(deep, "{{ ", 3);
		for (i = 0; i < n; i++)
			deep[3 + i] = '(';
		deep[3 + n] = '\0';
		buf_init(&b, 1000);
		CHECK(tmpl_render(deep, strlen(deep), NULL, NULL, &b, err,
		    sizeof(err)) == -1);
		buf_free(&b);
		for (i = 0; i < n; i++)
			memcpy(deep + (size_t)i * 2, "{%", 2);
		deep[n * 2] = '\0';
		buf_init(&b, 1000);
		CHECK(tmpl_render(deep, strlen(deep), NULL, NULL, &b, err,
		    sizeof(err)) == -1);
		buf_free(&b);
		free(deep);
	}
	TEST("nested loops that would run for ever stop at the step limit") {
		const char	*t = "{% for a in range(100000) %}{% for b in "
		    "range(100000) %}{% endfor %}{% endfor %}";

		buf_init(&b, TMPL_OUTPUT_MAX);
		CHECK(tmpl_render(t, strlen(t), NULL, NULL, &b, err,
		    sizeof(err)) == -1);
		CHECK(strstr(err, "expensive") != NULL);
		buf_free(&b);
	}
	TEST("a NUL byte in a template is refused") {
		buf_init(&b, 100);
		CHECK(tmpl_render("a\0b", 3, NULL, NULL, &b, err,
		    sizeof(err)) == -1);
		buf_free(&b);
	}
}

/* Render "t" within "lim" (limits in, work out) into a fresh buffer. */
static int
render(const char *t, struct tmpl_limits *lim, size_t cap, char *out,
    size_t outlen, char *err, size_t errlen)
{
	struct buf	b;
	int		rc;

	buf_init(&b, cap);
	rc = tmpl_render(t, strlen(t), NULL, lim, &b, err, errlen);
	snprintf(out, outlen, "%s", buf_cstr(&b));
	buf_free(&b);
	return rc;
}

struct ticks {
	int	calls;
	int	stop_at;		/* 0: never */
};

static int
count_tick(void *arg)
{
	struct ticks	*t = arg;

	t->calls++;
	return t->stop_at > 0 && t->calls >= t->stop_at;
}

/* issue 11: a render's work is counted, bounded and can be stopped */
static void
test_work(void)
{
	struct tmpl_limits	 lim;
	struct ticks		 tk;
	char			 out[64], err[256];
	int			 rc;

	TEST("unique over 20000 items sorts keys: n log n steps, not n^2") {
		memset(&lim, 0, sizeof(lim));
		rc = render("{{ range(20000)|unique|length }}", &lim,
		    TMPL_OUTPUT_MAX, out, sizeof(out), err, sizeof(err));
		CHECK(rc == 0 && strcmp(out, "20000") == 0);
		CHECK(lim.steps > 20000 && lim.steps < 1000000);
		memset(&lim, 0, sizeof(lim));
		rc = render("{{ (range(100000)|list + range(100000)|list)"
		    "|unique|length }}", &lim, TMPL_OUTPUT_MAX, out,
		    sizeof(out), err, sizeof(err));
		CHECK(rc == 0 && strcmp(out, "100000") == 0);
		CHECK(lim.steps < TMPL_STEPS_MAX);
	}
	TEST("'in' on a list counts each comparison: a quadratic loop stops") {
		const char	*t = "{% set x = range(30000)|list %}"
		    "{% for i in range(30000) %}{% if -1 in x %}{% endif %}"
		    "{% endfor %}";

		memset(&lim, 0, sizeof(lim));
		rc = render(t, &lim, TMPL_OUTPUT_MAX, out, sizeof(out), err,
		    sizeof(err));
		CHECK(rc == -1 && strstr(err, "too expensive") != NULL);
		CHECK(lim.steps <= TMPL_STEPS_MAX);
	}
	TEST("list + doubling stops at the byte limit before allocating it") {
		const char	*t = "{% set l = range(100000)|list %}"
		    "{% for i in range(16) %}{% set l = l + l %}{% endfor %}";

		memset(&lim, 0, sizeof(lim));
		rc = render(t, &lim, TMPL_OUTPUT_MAX, out, sizeof(out), err,
		    sizeof(err));
		CHECK(rc == -1 && strstr(err, "too much memory") != NULL);
		CHECK(lim.bytes <= TMPL_BYTES_MAX);
		memset(&lim, 0, sizeof(lim));
		lim.max_bytes = 1 << 20;
		rc = render(t, &lim, TMPL_OUTPUT_MAX, out, sizeof(out), err,
		    sizeof(err));
		CHECK(rc == -1 && strstr(err, "1048576 bytes") != NULL);
		CHECK(lim.bytes <= 1 << 20);
	}
	TEST("string repetition and concatenation count their bytes") {
		memset(&lim, 0, sizeof(lim));
		rc = render("{{ ('x' * 100000000)|length }}", &lim,
		    TMPL_OUTPUT_MAX, out, sizeof(out), err, sizeof(err));
		CHECK(rc == -1 && strstr(err, "too much memory") != NULL);
		CHECK(lim.bytes <= TMPL_BYTES_MAX);
		memset(&lim, 0, sizeof(lim));
		rc = render("{% for i in range(40) %}{% set s = (s or 'x') ~ "
		    "(s or 'x') %}{% endfor %}", &lim, TMPL_OUTPUT_MAX, out,
		    sizeof(out), err, sizeof(err));
		CHECK(rc == -1 && strstr(err, "too much memory") != NULL);
		memset(&lim, 0, sizeof(lim));
		rc = render("{{ ('x' * 3000000)|replace('x', 'yy')|length }}",
		    &lim, TMPL_OUTPUT_MAX, out, sizeof(out), err, sizeof(err));
		CHECK(rc == 0 && strcmp(out, "6000000") == 0);
	}
	TEST("a list shared 2^60 times over prints and compares at its cost") {
		const char	*dag = "{% for i in range(60) %}{% set l = "
		    "[l or 1, l or 1] %}{% set m = [m or 1, m or 1] %}{% if "
		    "loop.last %}{{ l == l }}{{ OP }}{% endif %}{% endfor %}";
		char		 t[512];
		const char	*ops[] = { "l", "l|tojson|length", "l == m",
		    "l|join(',')|length", "l in [m]", NULL };
		int		 i;

		for (i = 0; ops[i] != NULL; i++) {
			const char	*at = strstr(dag, "OP");

			snprintf(t, sizeof(t), "%.*s%s%s", (int)(at - dag), dag,
			    ops[i], at + 2);
			memset(&lim, 0, sizeof(lim));
			lim.max_steps = 1000000;
			rc = render(t, &lim, TMPL_OUTPUT_MAX, out, sizeof(out),
			    err, sizeof(err));
			CHECK(rc == -1 && strstr(err, "too") != NULL);
			CHECK(lim.steps <= 1000000);
		}
	}
	TEST("values the template nests are bounded in depth") {
		rc = render("{% for i in range(1000) %}{% set l = [l] %}"
		    "{% endfor %}", NULL, TMPL_OUTPUT_MAX, out, sizeof(out),
		    err, sizeof(err));
		CHECK(rc == -1 && strstr(err, "nested too deeply") != NULL);
		rc = render("{% for i in range(1000) %}{% set l = {'a': l} %}"
		    "{% set l = (l.items()|list) + [] %}{% endfor %}", NULL,
		    TMPL_OUTPUT_MAX, out, sizeof(out), err, sizeof(err));
		CHECK(rc == -1 && strstr(err, "nested too deeply") != NULL);
	}
	TEST("a loop over range() costs steps, not memory") {
		memset(&lim, 0, sizeof(lim));
		rc = render("{% for i in range(1000000) %}{% endfor %}ok", &lim,
		    TMPL_OUTPUT_MAX, out, sizeof(out), err, sizeof(err));
		CHECK(rc == 0 && strcmp(out, "ok") == 0);
		CHECK(lim.bytes < 1000);
	}
	TEST("the step limit is the caller's") {
		memset(&lim, 0, sizeof(lim));
		lim.max_steps = 5000;
		rc = render("{% for i in range(10000) %}{% endfor %}", &lim,
		    TMPL_OUTPUT_MAX, out, sizeof(out), err, sizeof(err));
		CHECK(rc == -1 && strstr(err, "more than 5000 steps") != NULL);
		CHECK(lim.steps <= 5000);
	}
	TEST("the tick is called every few thousand steps and can stop") {
		memset(&lim, 0, sizeof(lim));
		memset(&tk, 0, sizeof(tk));
		lim.tick = count_tick;
		lim.arg = &tk;
		rc = render("{% for i in range(1000000) %}{% endfor %}", &lim,
		    TMPL_OUTPUT_MAX, out, sizeof(out), err, sizeof(err));
		CHECK(rc == 0);
		CHECK(tk.calls >= lim.steps / 8192);
		memset(&lim, 0, sizeof(lim));
		tk.calls = 0;
		tk.stop_at = 3;
		lim.tick = count_tick;
		lim.arg = &tk;
		lim.max_steps = 2000000000;
		rc = render("{% for i in range(100000) %}{% for j in "
		    "range(100000) %}{% endfor %}{% endfor %}", &lim,
		    TMPL_OUTPUT_MAX, out, sizeof(out), err, sizeof(err));
		CHECK(rc == TMPL_STOPPED && tk.calls == 3);
		CHECK(lim.steps <= 3 * 4096 + 16);
		CHECK(err[0] != '\0');
	}
	TEST("the template source is parsed in linear time") {
		size_t	 i, n = 100000;
		char	*t = malloc(n * 4 + 16);

		memcpy(t, "{{ ", 3);
		for (i = 0; i < n; i++)
			memcpy(t + 3 + i * 4, "'x' ", 4);
		memcpy(t + 3 + n * 4, "}}", 3);
		memset(&lim, 0, sizeof(lim));
		rc = render(t, &lim, TMPL_OUTPUT_MAX, out, sizeof(out), err,
		    sizeof(err));
		CHECK(rc == 0 && strlen(out) == sizeof(out) - 1);
		free(t);
	}
}

int
main(void)
{
	test_rows();
	test_limits();
	test_work();
	UNIT_DONE();
}
