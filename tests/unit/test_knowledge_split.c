/*
 * test_knowledge_split.c: unit tests of lib/knowledge/, Dify's document
 * cleaning and segmentation.  Every expected chunk below is worked out
 * by hand from Dify's code; the comment of each case names the Dify
 * function it follows (CleanProcessor.clean; the splitters of
 * api/core/rag/splitter/: FixedRecursiveCharacterTextSplitter.split_text
 * and .recursive_split_text, RecursiveCharacterTextSplitter._split_text,
 * TextSplitter._merge_splits; the index processors' transform()).
 */
#include <stdint.h>
#include <stdlib.h>

#include "knowledge/knowledge.h"
#include "unit.h"

#define NROWS(a)	(sizeof(a) / sizeof((a)[0]))

/* n copies of s, malloc'd */
static char *
rep(const char *s, int n)
{
	size_t	 l = strlen(s);
	char	*p = malloc(l * (size_t)n + 1), *q = p;
	int	 i;

	if (p == NULL)
		abort();
	for (i = 0; i < n; i++, q += l)
		memcpy(q, s, l);
	*q = '\0';
	return p;
}

/* the UTF-8 of code points from..from+n-1 */
static char *
cjk(uint32_t from, int n)
{
	char	*p = malloc((size_t)n * 3 + 1), *q = p;
	int	 i;

	if (p == NULL)
		abort();
	for (i = 0; i < n; i++) {
		uint32_t c = from + (uint32_t)i;

		*q++ = (char)(0xe0 | c >> 12);
		*q++ = (char)(0x80 | (c >> 6 & 0x3f));
		*q++ = (char)(0x80 | (c & 0x3f));
	}
	*q = '\0';
	return p;
}

static void
custom(struct kn_rules *r, const char *sep, int max, int overlap)
{
	memset(r, 0, sizeof(*r));
	r->mode = KN_CUSTOM;
	r->seg.separator = sep;
	r->seg.max_tokens = max;
	r->seg.chunk_overlap = overlap;
}

static int
split(const char *text, const struct kn_rules *r, struct kn_chunks *c)
{
	return kn_split(text, strlen(text), r, c);
}

/* the chunks are exactly want[0..n) */
static int
chunks_are(const struct kn_chunks *c, const char *const *want, size_t n)
{
	size_t	i;

	if (c->n != n) {
		printf("#   %zu chunks, want %zu\n", c->n, n);
		for (i = 0; i < c->n; i++)
			printf("#   [%zu] \"%s\"\n", i, c->v[i].text);
		return 0;
	}
	for (i = 0; i < n; i++)
		if (!STREQ(c->v[i].text, want[i]) ||
		    strlen(want[i]) != c->v[i].len) {
			printf("#   [%zu] \"%s\", want \"%s\"\n", i,
			    c->v[i].text, want[i]);
			return 0;
		}
	return 1;
}

static char *
cleaned(const char *text, const struct kn_rules *r)
{
	struct buf	b;
	char		*s;

	buf_init(&b, KN_TEXT_MAX);
	if (kn_clean(text, strlen(text), r, &b) != KN_OK) {
		buf_free(&b);
		return NULL;
	}
	s = strdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

static void
test_clean(void)
{
	/* CleanProcessor.clean, the default part and the two rules */
	static const struct {
		int		 line;
		int		 spaces, urls, urls_first;
		const char	*in, *out;
	} rows[] = {
		/* "<|" -> "<" then "|>" -> ">", each one pass */
		{ __LINE__, 0, 0, 0, "<|x|> <||", "<x> <|" },
		{ __LINE__, 0, 0, 0, "<|>", "<>" },
		/* [\x00-\x08\x0B\x0C\x0E-\x1F\x7F\xEF\xBF\xBE]: tab, newline
		 * and CR stay; U+00EF, U+00BF, U+00BE go (a str pattern) */
		{ __LINE__, 0, 0, 0, "a\x01\x08\x0b\x0c\x0e\x1f\x7f" "b\t\n\r",
		  "ab\t\n\r" },
		{ __LINE__, 0, 0, 0, "na\xc3\xafve \xc2\xbf\xc2\xbe!",
		  "nave !" },
		{ __LINE__, 0, 0, 0, "a\xef\xbf\xbe" "b", "ab" },
		/* remove_extra_spaces: \n{3,} -> \n\n, then 2+ spaces -> " " */
		{ __LINE__, 1, 0, 0, "a\n\n\n\nb\n\nc", "a\n\nb\n\nc" },
		{ __LINE__, 1, 0, 0, "a  b\t\tc\td \xe3\x80\x80\xc2\xa0" "e",
		  "a b c\td e" },
		{ __LINE__, 1, 0, 0, "a \n b", "a \n b" },
		/* remove_urls_emails: emails, then URLs but not Markdown
		 * images' (whose alt text becomes "image") */
		{ __LINE__, 0, 1, 0, "mail me.x+y@ex-1.co.uk now",
		  "mail  now" },
		{ __LINE__, 0, 1, 0, "a@b c@d.e", "a@b " },
		{ __LINE__, 0, 1, 0, "see https://a.b/c?d=1) or http://x",
		  "see ) or " },
		{ __LINE__, 0, 1, 0, "http:// https://", "http:// https://" },
		{ __LINE__, 0, 1, 0, "![pic](https://i.org/p.png) and "
		  "https://i.org/p.png", "![image](https://i.org/p.png) and " },
		{ __LINE__, 0, 1, 0, "![a](b) ![c](http://d)",
		  "![image](http://d)" },
		/* the email pattern eats into a URL glued to it */
		{ __LINE__, 0, 1, 0, "a@b.chttp://x.y/z", "://x.y/z" },
		/* the rules run in the order given */
		{ __LINE__, 1, 1, 0, "a  https://x.y  b", "a  b" },
		{ __LINE__, 1, 1, 1, "a  https://x.y  b", "a b" },
	};
	struct kn_rules	 r;
	size_t		 i;
	char		*s;

	TEST("kn_clean does what CleanProcessor.clean does") {
		for (i = 0; i < NROWS(rows); i++) {
			memset(&r, 0, sizeof(r));
			r.remove_extra_spaces = rows[i].spaces;
			r.remove_urls_emails = rows[i].urls;
			r.urls_emails_first = rows[i].urls_first;
			s = cleaned(rows[i].in, &r);
			CHECK_ROW(STREQ(s, rows[i].out), rows[i].line);
			if (s != NULL && !STREQ(s, rows[i].out))
				printf("#   got \"%s\"\n", s);
			free(s);
		}
	}
}

static void
test_custom(void)
{
	struct kn_rules		 r;
	struct kn_chunks	 c;
	char			*t, *a, *b;

	/* split_text: str.split on the fixed separator, each piece a
	 * chunk (no merging); ParagraphIndexProcessor drops the empty one */
	TEST("custom: the separator cuts, pieces are not merged") {
		custom(&r, "\\n", 50, 0);
		CHECK(split("first line\nsecond line\n\nthird", &r, &c) ==
		    KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ "first line",
		    "second line", "third" }, 3));
		kn_chunks_free(&c);
	}

	/* split_text: a separator longer than the text is not in it */
	TEST("custom: a separator longer than the text") {
		custom(&r, "=====A SEPARATOR LONGER THAN THE TEXT=====", 50, 0);
		CHECK(split("short", &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ "short" }, 1));
		kn_chunks_free(&c);
	}

	TEST("empty input makes no chunks, in every mode") {
		custom(&r, "\\n", 50, 0);
		CHECK(split("", &r, &c) == KN_OK && c.n == 0);
		kn_chunks_free(&c);
		CHECK(split("\n\n \n", &r, &c) == KN_OK && c.n == 0);
		kn_chunks_free(&c);
		kn_rules_automatic(&r);
		CHECK(split("", &r, &c) == KN_OK && c.n == 0);
		kn_chunks_free(&c);
		r.mode = KN_HIERARCHICAL;
		r.sub = r.seg;
		CHECK(split("", &r, &c) == KN_OK && c.n == 0);
		kn_chunks_free(&c);
		r.parent_mode = KN_PARENT_FULL_DOC;
		CHECK(split("", &r, &c) == KN_OK && c.n == 1 &&
		    c.v[0].len == 0 && c.v[0].nchildren == 0);
		kn_chunks_free(&c);
	}

	/*
	 * recursive_split_text on a 132-character piece: ". " is in it, so
	 * 12 parts "xxxxxxxxx. " of 11; _merge_splits(size 50, overlap 15):
	 * four parts (44) make a chunk, the fifth would pass 50; the front
	 * is dropped while more than 15 is left (44, 33, 22: 11 stays), so
	 * each chunk starts with the last part of the one before.
	 */
	TEST("custom: merging to max_tokens with chunk_overlap") {
		t = malloc(133);
		for (int i = 0; i < 12; i++) {
			memset(t + i * 11, 'a' + i, 9);
			memcpy(t + i * 11 + 9, ". ", 2);
		}
		t[132] = '\0';
		custom(&r, "\\n", 50, 15);
		CHECK(split(t, &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){
		    "aaaaaaaaa. bbbbbbbbb. ccccccccc. ddddddddd.",
		    "ddddddddd. eeeeeeeee. fffffffff. ggggggggg.",
		    "ggggggggg. hhhhhhhhh. iiiiiiiii. jjjjjjjjj.",
		    "jjjjjjjjj. kkkkkkkkk. lllllllll." }, 4));
		kn_chunks_free(&c);
		/* overlap 10 keeps no 11-character part */
		custom(&r, "\\n", 50, 10);
		CHECK(split(t, &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){
		    "aaaaaaaaa. bbbbbbbbb. ccccccccc. ddddddddd.",
		    "eeeeeeeee. fffffffff. ggggggggg. hhhhhhhhh.",
		    "iiiiiiiii. jjjjjjjjj. kkkkkkkkk. lllllllll." }, 3));
		kn_chunks_free(&c);
		free(t);
	}

	/*
	 * CJK: length is code points (len() of a str), not bytes.  Two
	 * sentences of 30 characters and a "。" (31 each, 93 bytes):
	 * recursive_split_text splits on "。" and keeps it; 31 + 31 > 50.
	 */
	TEST("custom: CJK text is measured in characters") {
		a = rep("中", 30);
		b = rep("文", 30);
		t = malloc(strlen(a) * 2 + 8);
		snprintf(t, strlen(a) * 2 + 8, "%s。%s。", a, b);
		custom(&r, "\\n", 50, 0);
		CHECK(split(t, &r, &c) == KN_OK);
		snprintf(t, strlen(a) * 2 + 8, "%s。", a);
		CHECK(c.n == 2 && STREQ(c.v[0].text, t));
		snprintf(t, strlen(a) * 2 + 8, "%s。", b);
		CHECK(c.n == 2 && STREQ(c.v[1].text, t));
		kn_chunks_free(&c);
		free(a);
		free(b);
		free(t);
	}

	/*
	 * A piece longer than max_tokens with no separator at all:
	 * recursive_split_text's last branch, one character at a time:
	 * 120 distinct CJK characters, size 50, overlap 10.  A chunk fills
	 * to 50; the characters that went in past 40 start the next one:
	 * [0, 50), [40, 90), [80, 120).
	 */
	TEST("custom: no separator, CJK, windows with overlap") {
		t = cjk(0x4e00, 120);
		custom(&r, "\\n", 50, 10);
		CHECK(split(t, &r, &c) == KN_OK);
		CHECK(c.n == 3);
		if (c.n == 3) {
			CHECK(c.v[0].len == 150 && memcmp(c.v[0].text, t,
			    150) == 0);
			CHECK(c.v[1].len == 150 && memcmp(c.v[1].text,
			    t + 120, 150) == 0);
			CHECK(c.v[2].len == 120 && memcmp(c.v[2].text,
			    t + 240, 120) == 0);
		}
		kn_chunks_free(&c);
		free(t);
	}

	/*
	 * The same window with chunk_overlap = max_tokens = 50, on 60
	 * characters: every one goes to the overlap too; the 51st makes
	 * [0, 50) a chunk and starts the next with all 50 of them and
	 * itself, so [0, 51) comes out one over, then [51, 60).
	 */
	TEST("custom: the window overshoots by one at full overlap") {
		t = cjk(0x4e00, 60);
		custom(&r, "\\n", 50, 50);
		CHECK(split(t, &r, &c) == KN_OK);
		CHECK(c.n == 3);
		if (c.n == 3) {
			CHECK(c.v[0].len == 150 && memcmp(c.v[0].text, t,
			    150) == 0);
			CHECK(c.v[1].len == 153 && memcmp(c.v[1].text, t,
			    153) == 0);
			CHECK(c.v[2].len == 27 && memcmp(c.v[2].text,
			    t + 153, 27) == 0);
		}
		kn_chunks_free(&c);
		free(t);
	}

	/* recursive_split_text splits on " +" and joins with "": words
	 * lose their spaces (12 x "word" = 48 <= 50, one chunk) */
	TEST("custom: words split on spaces are glued, as in Dify") {
		t = rep("word ", 12);
		custom(&r, "\\n", 50, 0);
		CHECK(split(t, &r, &c) == KN_OK);
		CHECK(c.n == 1 && c.n == 1 &&
		    STREQ(c.v[0].text, "wordwordwordwordwordwordwordwordword"
		    "wordwordword"));
		kn_chunks_free(&c);
		free(t);
	}

	/* a piece of exactly max_tokens is kept by split_text (not > 50) */
	TEST("custom: a piece of exactly max_tokens stays whole") {
		t = rep("ab", 25);
		custom(&r, "|", 50, 0);
		CHECK(split(t, &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ t }, 1));
		kn_chunks_free(&c);
		free(t);
	}

	/* ParagraphIndexProcessor: remove_leading_symbols, then strip;
	 * white space first hides the symbols from it */
	TEST("custom: leading symbols go, as the paragraph processor does") {
		custom(&r, "|", 50, 0);
		CHECK(split("...lead|  \"quoted\" rest|\xe3\x80\x82\xe3\x80\x8c"
		    "x\xe3\x80\x8d", &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ "lead",
		    "\"quoted\" rest", "x\xe3\x80\x8d" }, 3));
		kn_chunks_free(&c);
	}
}

static void
test_separators(void)
{
	struct kn_rules		 r;
	struct kn_chunks	 c;

	/* _get_splitter's replace("\\n", "\n"), then unicode_escape */
	TEST("separators are unescaped as Dify unescapes them") {
		custom(&r, "\\n\\n", 50, 0);
		CHECK(split("a\nb\n\nc", &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ "a\nb", "c" }, 2));
		kn_chunks_free(&c);
		custom(&r, "\\t", 50, 0);
		CHECK(split("a\tb", &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ "a", "b" }, 2));
		kn_chunks_free(&c);
		custom(&r, "\\x2c\\u00e9", 50, 0);
		CHECK(split("a,\xc3\xa9" "b", &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ "a", "b" }, 2));
		kn_chunks_free(&c);
		/* an unknown escape keeps its backslash */
		custom(&r, "\\q", 50, 0);
		CHECK(split("a\\qb", &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ "a", "b" }, 2));
		kn_chunks_free(&c);
	}

	/* unicode_escape reads UTF-8 as Latin-1: "。" matches nothing */
	TEST("a CJK separator never matches, as in Dify") {
		custom(&r, "。", 50, 0);
		CHECK(split("第一段。第二段", &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ "第一段。第二段" },
		    1));
		kn_chunks_free(&c);
	}

	TEST("bad escapes in a separator are refused") {
		static const char *const bad[] = { "\\x4", "\\u12", "a\\",
		    "\\N{BULLET}", "\\ud800", "\\U00110000" };
		size_t	i;

		for (i = 0; i < NROWS(bad); i++) {
			custom(&r, bad[i], 50, 0);
			CHECK(split("text", &r, &c) == KN_ERR_SEPARATOR);
			CHECK(c.n == 0 && c.v == NULL);
		}
	}
}

static void
test_automatic(void)
{
	struct kn_rules		 r;
	struct kn_chunks	 c;
	char			*t, *w;
	int			 i;

	TEST("automatic rules are Dify's AUTOMATIC_RULES") {
		kn_rules_automatic(&r);
		CHECK(r.mode == KN_AUTOMATIC && r.remove_extra_spaces &&
		    !r.remove_urls_emails && r.seg.max_tokens == 500 &&
		    r.seg.chunk_overlap == 50 && STREQ(r.seg.separator, "\n"));
	}

	/*
	 * _split_text with no separator in 1200 letters: one part per
	 * character, _merge_splits(500, 50): [0, 500), then the window
	 * keeps the last 50: [450, 950), [900, 1200).
	 */
	TEST("automatic: no separator, windows of 500 with 50 overlap") {
		t = malloc(1201);
		for (i = 0; i < 1200; i++)
			t[i] = (char)('a' + i % 26);
		t[1200] = '\0';
		kn_rules_automatic(&r);
		CHECK(split(t, &r, &c) == KN_OK);
		CHECK(c.n == 3);
		if (c.n == 3) {
			CHECK(c.v[0].len == 500 && memcmp(c.v[0].text, t,
			    500) == 0);
			CHECK(c.v[1].len == 500 && memcmp(c.v[1].text,
			    t + 450, 500) == 0);
			CHECK(c.v[2].len == 300 && memcmp(c.v[2].text,
			    t + 900, 300) == 0);
		}
		kn_chunks_free(&c);
		free(t);
	}

	/*
	 * _split_text looks for ". " as a pattern (any character, a
	 * space), so 120 x "word " picks ". "; split as text it stays one
	 * 600-character part, which goes on to " ": parts "word " (kept
	 * spaces), merged to 100 parts (500), then 10 parts (50) overlap
	 * and the 20 left: 30 parts.
	 */
	TEST("automatic: the \". \" pattern quirk, then words with spaces") {
		t = rep("word ", 120);
		kn_rules_automatic(&r);
		CHECK(split(t, &r, &c) == KN_OK);
		w = rep("word ", 100);
		w[499] = '\0';
		CHECK(c.n == 2 && STREQ(c.v[0].text, w));
		w[149] = '\0';
		CHECK(c.n == 2 && STREQ(c.v[1].text, w));
		kn_chunks_free(&c);
		free(w);
		free(t);
	}

	/* the automatic cleaning squeezes spaces; "\n\n" parts are merged */
	TEST("automatic: cleaned, then paragraphs merged") {
		kn_rules_automatic(&r);
		CHECK(split("one  two\n\n\n\nthree", &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){
		    "one two\n\nthree" }, 1));
		kn_chunks_free(&c);
	}
}

static void
test_hierarchical(void)
{
	struct kn_rules		 r;
	struct kn_chunks	 c;

	memset(&r, 0, sizeof(r));
	r.mode = KN_HIERARCHICAL;
	r.seg.separator = "\\n\\n";
	r.seg.max_tokens = 100;
	r.sub.separator = "\\n";
	r.sub.max_tokens = 50;

	/* ParentChildIndexProcessor.transform, paragraph: parents by the
	 * separator, a leading "." dropped, the blank one dropped; children
	 * by the child separator */
	TEST("hierarchical paragraph: parents with their children") {
		CHECK(split("p1 line a\np1 line b\n\n.p2 line\n\n\n", &r,
		    &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){
		    "p1 line a\np1 line b", "p2 line" }, 2));
		if (c.n == 2) {
			CHECK(c.v[0].nchildren == 2 &&
			    STREQ(c.v[0].children[0].text, "p1 line a") &&
			    STREQ(c.v[0].children[1].text, "p1 line b"));
			CHECK(c.v[1].nchildren == 1 &&
			    STREQ(c.v[1].children[0].text, "p2 line"));
		}
		kn_chunks_free(&c);
	}

	/* parents are not stripped unless they start with "." or "。" */
	TEST("hierarchical paragraph: other parents stay as they are") {
		CHECK(split(" a \n\n\xe3\x80\x82 b ", &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ " a ", "b" }, 2));
		kn_chunks_free(&c);
	}

	/* full-doc: the text joined, uncleaned, is the one parent */
	TEST("hierarchical full-doc: one parent, uncleaned") {
		r.parent_mode = KN_PARENT_FULL_DOC;
		r.remove_extra_spaces = 1;
		r.sub.separator = "\\n\\n";
		CHECK(split("a  b\n\nc", &r, &c) == KN_OK);
		CHECK(chunks_are(&c, (const char *[]){ "a  b\n\nc" }, 1));
		CHECK(c.n == 1 && c.v[0].nchildren == 2 &&
		    STREQ(c.v[0].children[0].text, "a  b") &&
		    STREQ(c.v[0].children[1].text, "c"));
		kn_chunks_free(&c);
	}

	TEST("hierarchical: the child rule is checked too") {
		r.sub.max_tokens = 49;
		CHECK(split("a", &r, &c) == KN_ERR_MAX_TOKENS);
	}
}

static void
test_limits(void)
{
	struct kn_rules		 r;
	struct kn_chunks	 c;
	char			*t;
	int			 i;

	TEST("max_tokens and chunk_overlap limits") {
		custom(&r, "\\n", 49, 0);
		CHECK(split("a", &r, &c) == KN_ERR_MAX_TOKENS);
		custom(&r, "\\n", 4001, 0);
		CHECK(split("a", &r, &c) == KN_ERR_MAX_TOKENS);
		custom(&r, "\\n", 4000, 4000);
		CHECK(split("a", &r, &c) == KN_OK && c.n == 1);
		kn_chunks_free(&c);
		custom(&r, "\\n", 50, 51);
		CHECK(split("a", &r, &c) == KN_ERR_OVERLAP);
		custom(&r, "\\n", 50, -1);
		CHECK(split("a", &r, &c) == KN_ERR_OVERLAP);
	}

	TEST("input limits: size, UTF-8, separator length") {
		custom(&r, "\\n", 50, 0);
		CHECK(kn_split("a", KN_TEXT_MAX + 1, &r, &c) ==
		    KN_ERR_TOO_LARGE);
		CHECK(split("a\xff", &r, &c) == KN_ERR_NOT_UTF8);
		CHECK(split("a\xe4\xb8", &r, &c) == KN_ERR_NOT_UTF8);
		CHECK(kn_split("a\0b", 3, &r, &c) == KN_OK && c.n == 1 &&
		    STREQ(c.v[0].text, "ab"));
		kn_chunks_free(&c);
		t = rep("x", KN_SEPARATOR_MAX + 1);
		custom(&r, t, 50, 0);
		CHECK(split("a", &r, &c) == KN_ERR_SEPARATOR);
		free(t);
	}

	/* the count is of the splitter's pieces, empty ones too: 20000
	 * lines "a\n" make 20000 pieces and an empty last one */
	TEST("too many chunks is an error, nothing is returned") {
		t = rep("a\n", KN_CHUNKS_MAX);
		custom(&r, "\\n", 50, 0);
		CHECK(split(t, &r, &c) == KN_ERR_TOO_MANY_CHUNKS);
		CHECK(c.n == 0 && c.v == NULL);
		t[2 * KN_CHUNKS_MAX - 1] = '\0';
		CHECK(split(t, &r, &c) == KN_OK && c.n == KN_CHUNKS_MAX);
		kn_chunks_free(&c);
		free(t);
	}

	TEST("every error has a message") {
		for (i = 0; i < KN_ERR__MAX; i++)
			CHECK(kn_strerror((enum kn_err)i) != NULL &&
			    kn_strerror((enum kn_err)i)[0] != '\0');
	}
}

int
main(void)
{
	test_clean();
	test_custom();
	test_separators();
	test_automatic();
	test_hierarchical();
	test_limits();
	UNIT_DONE();
}
