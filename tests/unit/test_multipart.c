/*
 * test_multipart.c: the streaming multipart parser (lib/http/multipart.c),
 * every body fed whole, split in two at every offset, and byte by byte,
 * with the same parts expected each time; and the helpers of
 * lib/files/ it works with: file types, magic bytes, HMAC-SHA256,
 * base64, RFC 5987 names, the public-address rule behind the SSRF
 * checks, and the text of documents.
 */
#include "../../lib/http/multipart.c"
#include "../../lib/files/files_types.c"
#include "../../lib/files/files_sign.c"
#include "../../lib/files/files_serve.c"
#include "../../lib/files/files_fetch.c"
#include "../../lib/files/files_text.c"
#include "unit.h"

/* What the callbacks saw, as text: "name|filename|type|data;" per part. */
struct seen {
	struct buf	 out;
	int		 fail_at;	/* callback number that returns -1 */
	int		 calls;
};

static void
put(struct buf *b, const char *s)
{
	buf_puts(b, s != NULL ? s : "-");
}

static int
on_part(void *arg, const struct mp_part *p)
{
	struct seen	*s = arg;

	if (++s->calls == s->fail_at)
		return -1;
	put(&s->out, p->name);
	buf_puts(&s->out, "|");
	put(&s->out, p->filename);
	buf_puts(&s->out, "|");
	put(&s->out, p->content_type);
	buf_puts(&s->out, "|");
	return 0;
}

static int
on_data(void *arg, const char *p, size_t n)
{
	struct seen	*s = arg;

	if (++s->calls == s->fail_at)
		return -1;
	buf_append(&s->out, p, n);
	return 0;
}

static int
on_end(void *arg)
{
	struct seen	*s = arg;

	if (++s->calls == s->fail_at)
		return -1;
	buf_puts(&s->out, ";");
	return 0;
}

/*
 * Parse "body" fed in pieces of the given sizes (0: all at once,
 * cutting at "cut" when cut > 0).  Returns the final result: 1
 * complete, -1 error (err set); "out" holds what was seen.
 */
static int
parse(const char *ctype, const char *body, size_t len, size_t cut,
    size_t step, struct seen *s, enum mp_err *err)
{
	struct multipart	mp;
	size_t			i, n;
	int			rc = 0;

	buf_init(&s->out, 1 << 20);
	s->calls = 0;
	if (multipart_init(&mp, ctype) == -1) {
		*err = mp.err;
		multipart_free(&mp);
		return -1;
	}
	mp.on_part = on_part;
	mp.on_data = on_data;
	mp.on_end = on_end;
	mp.arg = s;
	for (i = 0; i < len && rc == 0; i += n) {
		n = step > 0 ? step : cut > 0 && i < cut ? cut : len - i;
		if (n > len - i)
			n = len - i;
		rc = multipart_feed(&mp, body + i, n);
	}
	if (rc == 0)
		rc = multipart_end(&mp) == 0 ? 1 : -1;
	*err = mp.err;
	multipart_free(&mp);
	return rc;
}

#define CT	"multipart/form-data; boundary=XyZ"
#define D(x)	"Content-Disposition: form-data; " x "\r\n"

static const struct {
	int		 line;
	const char	*ctype;
	const char	*body;
	int		 rc;
	enum mp_err	 err;
	const char	*want;	/* parts seen (also on errors: so far) */
} rows[] = {
	{ __LINE__, CT, "--XyZ\r\n" D("name=\"user\"") "\r\nabc\r\n--XyZ--\r\n",
	  1, MP_OK, "user|-||abc;" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=\"file\"; filename=\"a.png\"")
	  "Content-Type: image/png\r\n\r\n\x89PNG\r\n--XyZ--",
	  1, MP_OK, "file|a.png|image/png|\x89PNG;" },
	/* unquoted values, odd spacing, header names in any case */
	{ __LINE__, CT, "--XyZ\r\ncontent-disposition:form-data;name=file ; "
	  "filename = a b.txt\r\nCONTENT-TYPE:  Text/Plain ; charset=UTF-8\r\n"
	  "\r\nx\r\n--XyZ--", 1, MP_OK, "file|a b.txt|text/plain|x;" },
	/* quoted: \" and \\ unescaped, other backslashes kept */
	{ __LINE__, CT, "--XyZ\r\n" D("name=\"f\"; filename=\"C:\\dir\\a\\\"b"
	  "\\\\.txt\"") "\r\n\r\n--XyZ--", 1, MP_OK,
	  "f|C:\\dir\\a\"b\\.txt||;" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=\"f\"; filename=\"a;b.txt\"")
	  "\r\n1\r\n--XyZ--", 1, MP_OK, "f|a;b.txt||1;" },
	/* filename* wins, in either order; UTF-8 and ISO-8859-1 */
	{ __LINE__, CT, "--XyZ\r\n" D("name=\"f\"; filename*=UTF-8''%E2%82%AC"
	  "%20x.txt; filename=\"plain.txt\"") "\r\n\r\n--XyZ--",
	  1, MP_OK, "f|\xe2\x82\xac x.txt||;" },
	{ __LINE__, CT, "--XyZ\r\n" D("filename=\"plain.txt\"; name=f; "
	  "filename*=iso-8859-1'en'r%E9sum%E9.txt") "\r\n\r\n--XyZ--",
	  1, MP_OK, "f|r\xc3\xa9sum\xc3\xa9.txt||;" },
	/* a filename* we cannot read falls back to filename */
	{ __LINE__, CT, "--XyZ\r\n" D("name=f; filename*=KOI8-R''%E1; "
	  "filename=b.txt") "\r\n\r\n--XyZ--", 1, MP_OK, "f|b.txt||;" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=f; filename*=UTF-8''%4; "
	  "filename=b.txt") "\r\n\r\n--XyZ--", 1, MP_OK, "f|b.txt||;" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=f; filename*=UTF-8''a%00b") "\r\n"
	  "\r\n--XyZ--", 1, MP_OK, "f|-||;" },
	/* no Content-Disposition: no name */
	{ __LINE__, CT, "--XyZ\r\nContent-Type: text/plain\r\n\r\nq\r\n--XyZ--",
	  1, MP_OK, "-|-|text/plain|q;" },
	/* preamble and epilogue ignored; a body with no parts */
	{ __LINE__, CT, "junk\r\n--XyZ-junk\r\n--XyZ\r\n" D("name=a")
	  "\r\n1\r\n--XyZ--\r\nepilogue --XyZ\r\n", 1, MP_OK, "a|-||1;" },
	{ __LINE__, CT, "--XyZ--", 1, MP_OK, "" },
	{ __LINE__, CT, "\r\n--XyZ--", 1, MP_OK, "" },
	/* CRs, LFs and dashes in content stay content */
	{ __LINE__, CT, "--XyZ\r\n" D("name=a") "\r\n\r\r\n\n\r--X\r\n-XyZ\r\n"
	  "--Xy\r\r\n--XyZ--", 1, MP_OK,
	  "a|-||\r\r\n\n\r--X\r\n-XyZ\r\n--Xy\r;" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=a") "\r\n\r\n--XyZ\r\n" D("name=b")
	  "\r\n\r\n\r\n--XyZ--", 1, MP_OK, "a|-||;b|-||\r\n;" },
	/* transport padding after a delimiter; bare LF header lines */
	{ __LINE__, CT, "--XyZ \t \r\n" D("name=a") "\r\nv\r\n--XyZ\t\r\n"
	  "Content-Disposition: form-data; name=b\n\nw\r\n--XyZ--",
	  1, MP_OK, "a|-||v;b|-||w;" },
	/* a quoted boundary with a space; the type in any case */
	{ __LINE__, "Multipart/Form-Data; charset=x; boundary=\"a b'c\"",
	  "--a b'c\r\n" D("name=a") "\r\nz\r\n--a b'c--", 1, MP_OK, "a|-||z;" },
	/* cut short */
	{ __LINE__, CT, "--XyZ\r\n" D("name=a") "\r\npartial",
	  -1, MP_ERR_TRUNCATED, "a|-||partial" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=a") "\r\npartial\r\n--XyZ",
	  -1, MP_ERR_TRUNCATED, "a|-||partial;" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=a"), -1, MP_ERR_TRUNCATED, "" },
	{ __LINE__, CT, "no delimiter at all", -1, MP_ERR_TRUNCATED, "" },
	{ __LINE__, CT, "", -1, MP_ERR_TRUNCATED, "" },
	/* malformed */
	{ __LINE__, CT, "--XyZ\r\nno colon here\r\n\r\nx\r\n--XyZ--",
	  -1, MP_ERR_SYNTAX, "" },
	{ __LINE__, CT, "--XyZ\r\n: empty name\r\n\r\nx\r\n--XyZ--",
	  -1, MP_ERR_SYNTAX, "" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=\"a\x01\"") "\r\nx\r\n--XyZ--",
	  -1, MP_ERR_SYNTAX, "" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=\"open") "\r\nx\r\n--XyZ--",
	  -1, MP_ERR_SYNTAX, "" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=\"a\" junk") "\r\nx\r\n--XyZ--",
	  -1, MP_ERR_SYNTAX, "" },
	{ __LINE__, CT, "--XyZ\r\n" D("=novalue") "\r\nx\r\n--XyZ--",
	  -1, MP_ERR_SYNTAX, "" },
	{ __LINE__, CT, "--XyZ\r\nContent-Disposition:\r\n\r\nx\r\n--XyZ--",
	  -1, MP_ERR_SYNTAX, "" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=a") "\r\n1\r\n--XyZa\r\n",
	  -1, MP_ERR_SYNTAX, "a|-||1;" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=a") "\r\n1\r\n--XyZ-x",
	  -1, MP_ERR_SYNTAX, "a|-||1;" },
	{ __LINE__, CT, "--XyZ\rX", -1, MP_ERR_TRUNCATED, "" },
	{ __LINE__, CT, "--XyZ\r\r\n--XyZ\r\n" D("name=a") "\r\n1\r\n--XyZ--",
	  1, MP_OK, "a|-||1;" },
	{ __LINE__, CT, "--XyZ\r\n" D("name=a") "\r\n1\r\n--XyZ\rX",
	  -1, MP_ERR_SYNTAX, "a|-||1;" },
	/* Content-Types that give no parser */
	{ __LINE__, "multipart/form-data", "--XyZ--", -1, MP_ERR_BOUNDARY, "" },
	{ __LINE__, "multipart/form-data; boundary=", "--XyZ--",
	  -1, MP_ERR_BOUNDARY, "" },
	{ __LINE__, "multipart/mixed; boundary=XyZ", "--XyZ--",
	  -1, MP_ERR_BOUNDARY, "" },
	{ __LINE__, "application/json", "{}", -1, MP_ERR_BOUNDARY, "" },
	{ __LINE__, "multipart/form-data; boundary=\"XyZ", "--XyZ--",
	  -1, MP_ERR_BOUNDARY, "" },
	{ __LINE__, "multipart/form-data; boundary=ab"
	  "1234567890123456789012345678901234567890"
	  "12345678901234567890123456789",
	  "--a--", -1, MP_ERR_BOUNDARY, "" },
	{ __LINE__, "multipart/form-data; boundary=\"ends in space \"", "x",
	  -1, MP_ERR_BOUNDARY, "" },
	{ __LINE__, NULL, "x", -1, MP_ERR_BOUNDARY, "" },
};

static void
test_rows(void)
{
	struct seen	 s;
	enum mp_err	 err;
	size_t		 i, cut, len;
	int		 rc, same = 1;
	char		*first;

	memset(&s, 0, sizeof(s));
	TEST("each body gives its parts, whole, cut anywhere, byte by byte") {
		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			len = strlen(rows[i].body);
			rc = parse(rows[i].ctype, rows[i].body, len, 0, 0, &s,
			    &err);
			CHECK_ROW(rc == rows[i].rc, rows[i].line);
			CHECK_ROW(err == rows[i].err, rows[i].line);
			CHECK_ROW(STREQ(buf_cstr(&s.out), rows[i].want),
			    rows[i].line);
			first = xstrdup(buf_cstr(&s.out));
			buf_free(&s.out);
			for (cut = 1; cut < len; cut++) {
				rc = parse(rows[i].ctype, rows[i].body, len,
				    cut, 0, &s, &err);
				if (rc != rows[i].rc || err != rows[i].err ||
				    strcmp(buf_cstr(&s.out), first) != 0) {
					printf("#   row at line %d differs "
					    "when cut at %zu\n", rows[i].line,
					    cut);
					same = 0;
				}
				buf_free(&s.out);
			}
			rc = parse(rows[i].ctype, rows[i].body, len, 0, 1, &s,
			    &err);
			CHECK_ROW(rc == rows[i].rc && err == rows[i].err &&
			    strcmp(buf_cstr(&s.out), first) == 0, rows[i].line);
			buf_free(&s.out);
			free(first);
		}
		CHECK(same);
	}
}

static void
test_limits(void)
{
	struct buf	 b;
	struct seen	 s;
	enum mp_err	 err;
	int		 i, rc;

	memset(&s, 0, sizeof(s));
	TEST("part headers up to 8 KiB pass, one byte more does not") {
		for (i = 0; i < 2; i++) {
			buf_init(&b, 1 << 20);
			buf_puts(&b, "--XyZ\r\nX-Pad: ");
			/* the block is the pad line plus "\r\n\r\n" */
			while (b.len - 7 < (size_t)MP_HEADER_MAX - 4 + i)
				buf_puts(&b, "a");
			buf_puts(&b, "\r\n\r\nx\r\n--XyZ--");
			rc = parse(CT, b.p, b.len, 0, 0, &s, &err);
			CHECK(i == 0 ? rc == 1 : (rc == -1 &&
			    err == MP_ERR_HEADER_TOO_LARGE));
			buf_free(&s.out);
			buf_free(&b);
		}
	}
	TEST("64 parts pass, the 65th is refused") {
		for (i = 0; i < 2; i++) {
			int	k;

			buf_init(&b, 1 << 20);
			for (k = 0; k < MP_PARTS_MAX + i; k++)
				buf_printf(&b, "--XyZ\r\n" D("name=p%d")
				    "\r\n%d\r\n", k, k);
			buf_puts(&b, "--XyZ--");
			rc = parse(CT, b.p, b.len, 0, 0, &s, &err);
			CHECK(i == 0 ? rc == 1 : (rc == -1 &&
			    err == MP_ERR_TOO_MANY_PARTS));
			buf_free(&s.out);
			buf_free(&b);
		}
	}
	TEST("a callback that says stop stops the parse") {
		static const char body[] = "--XyZ\r\n" D("name=a") "\r\n1\r\n"
		    "--XyZ--";

		for (i = 1; i <= 3; i++) {
			s.fail_at = i;
			rc = parse(CT, body, sizeof(body) - 1, 0, 0, &s, &err);
			CHECK(rc == -1 && err == MP_ERR_CALLBACK);
			buf_free(&s.out);
		}
		s.fail_at = 0;
	}
	TEST("after the end or an error, feeding returns the same") {
		struct multipart	mp;

		multipart_init(&mp, CT);
		CHECK(multipart_feed(&mp, "--XyZ--", 7) == 1);
		CHECK(multipart_feed(&mp, "more", 4) == 1);
		CHECK(multipart_end(&mp) == 0);
		multipart_free(&mp);
		multipart_init(&mp, CT);
		CHECK(multipart_feed(&mp, "--XyZ\r\nbad\r\n\r\n", 14) == -1);
		CHECK(multipart_feed(&mp, "--XyZ--", 7) == -1);
		CHECK(multipart_end(&mp) == -1 && mp.err == MP_ERR_SYNTAX);
		multipart_free(&mp);
	}
	TEST("every error has a message") {
		for (i = 0; i < MP_ERR__MAX; i++)
			CHECK(multipart_strerror((enum mp_err)i) != NULL &&
			    *multipart_strerror((enum mp_err)i) != '\0');
	}
}

static const struct {
	int		 line;
	const char	*name;
	const char	*ext;
	enum file_type	 type;
} ext_rows[] = {
	{ __LINE__, "a.PNG", "png", FT_IMAGE },
	{ __LINE__, "a.tar.gz", "gz", FT_CUSTOM },
	{ __LINE__, ".bashrc", "", FT_CUSTOM },
	{ __LINE__, "..x", "", FT_CUSTOM },
	{ __LINE__, "noext", "", FT_CUSTOM },
	{ __LINE__, "file.", "", FT_CUSTOM },
	{ __LINE__, "song.Mp3", "mp3", FT_AUDIO },
	{ __LINE__, "clip.webm", "webm", FT_VIDEO },
	{ __LINE__, "notes.MD", "md", FT_DOCUMENT },
	{ __LINE__, "dir.v2/noext", "", FT_CUSTOM },
};

static const struct {
	int		 line;
	const char	*bytes;
	size_t		 n;
	const char	*mime;
} sniff_rows[] = {
	{ __LINE__, "\x89PNG\r\n\x1a\n", 8, "image/png" },
	{ __LINE__, "\x89PNG\r\n\x1a", 7, NULL },
	{ __LINE__, "\xff\xd8\xff\xe0", 4, "image/jpeg" },
	{ __LINE__, "GIF89a", 6, "image/gif" },
	{ __LINE__, "RIFF\0\0\0\0WEBPVP8 ", 16, "image/webp" },
	{ __LINE__, "RIFF\0\0\0\0WAVEfmt ", 16, "audio/wav" },
	{ __LINE__, "%PDF-1.7", 8, "application/pdf" },
	{ __LINE__, "ID3\4", 4, "audio/mpeg" },
	{ __LINE__, "\xff\xfb\x90\x64", 4, "audio/mpeg" },
	{ __LINE__, "\xff\xf1\x50\x80", 4, "audio/aac" },
	{ __LINE__, "OggS", 4, "audio/ogg" },
	{ __LINE__, "fLaC", 4, "audio/flac" },
	{ __LINE__, "#!AMR\n", 6, "audio/amr" },
	{ __LINE__, "\0\0\0\x20" "ftypM4A ", 12, "audio/mp4" },
	{ __LINE__, "\0\0\0\x20" "ftypisom", 12, "video/mp4" },
	{ __LINE__, "\0\0\0\x14" "ftypqt  ", 12, "video/quicktime" },
	{ __LINE__, "\x1a\x45\xdf\xa3", 4, "video/webm" },
	{ __LINE__, "hello", 5, NULL },
	{ __LINE__, "", 0, NULL },
};

static void
test_types(void)
{
	struct pool	p;
	size_t		i;

	memset(&p, 0, sizeof(p));
	TEST("extensions as Python's splitext, types as Dify's lists") {
		for (i = 0; i < sizeof(ext_rows) / sizeof(ext_rows[0]); i++) {
			const char	*e;

			e = files_extension(&p, ext_rows[i].name);
			CHECK_ROW(STREQ(e, ext_rows[i].ext), ext_rows[i].line);
			CHECK_ROW(files_type_of_extension(e) ==
			    ext_rows[i].type, ext_rows[i].line);
		}
		CHECK(files_type_of_mime("image/svg+xml") == FT_IMAGE);
		CHECK(files_type_of_mime("application/pdf") == FT_DOCUMENT);
		CHECK(files_type_of_mime("application/zip") == FT_CUSTOM);
		CHECK(files_type_of_mime(NULL) == FT_CUSTOM);
	}
	TEST("magic bytes name the content") {
		for (i = 0; i < sizeof(sniff_rows) / sizeof(sniff_rows[0]);
		    i++) {
			const char	*m = files_sniff(sniff_rows[i].bytes,
			    sniff_rows[i].n);

			CHECK_ROW(sniff_rows[i].mime == NULL ? m == NULL :
			    STREQ(m, sniff_rows[i].mime), sniff_rows[i].line);
		}
	}
	TEST("every file type has a name") {
		for (i = 0; i < FT__MAX; i++)
			CHECK(files_type_names[i] != NULL);
	}
	pool_free_all(&p);
}

static void
hex(const uint8_t *d, size_t n, char *out)
{
	size_t	i;

	for (i = 0; i < n; i++)
		snprintf(out + i * 2, 3, "%02x", d[i]);
}

static void
test_crypto(void)
{
	static const struct {
		int		 line;
		const char	*key;
		size_t		 klen;
		const char	*msg;
		const char	*mac;
	} hmac_rows[] = {	/* RFC 4231 test cases 1, 2 and 6 */
		{ __LINE__, "\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b"
		  "\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b", 20, "Hi There",
		  "b0344c61d8db38535ca8afceaf0bf12b"
		  "881dc200c9833da726e9376c2e32cff7" },
		{ __LINE__, "Jefe", 4, "what do ya want for nothing?",
		  "5bdcc146bf60754e6a042426089575c7"
		  "5a003f089d2739839dec58b964ec3843" },
		{ __LINE__, NULL, 131, "Test Using Larger Than Block-Size Key"
		  " - Hash Key First",
		  "60e431591ee0b67f0d8a26aacbf5b77f"
		  "8e0bc6213728c5140546040f0ee37f54" },
	};
	static const struct {
		int		 line;
		const char	*in;
		const char	*std;
	} b64_rows[] = {
		{ __LINE__, "", "" },
		{ __LINE__, "f", "Zg==" },
		{ __LINE__, "fo", "Zm8=" },
		{ __LINE__, "foo", "Zm9v" },
		{ __LINE__, "foob", "Zm9vYg==" },
		{ __LINE__, "\xfb\xff", "+/8=" },
	};
	uint8_t		 key[131], mac[32];
	char		 h[65];
	struct buf	 b;
	struct pool	 p;
	size_t		 i;

	memset(key, 0xaa, sizeof(key));
	memset(&p, 0, sizeof(p));
	TEST("HMAC-SHA256 gives RFC 4231's values") {
		for (i = 0; i < sizeof(hmac_rows) / sizeof(hmac_rows[0]); i++) {
			hmac_sha256(hmac_rows[i].key ? hmac_rows[i].key :
			    (const char *)key, hmac_rows[i].klen,
			    hmac_rows[i].msg, strlen(hmac_rows[i].msg), mac);
			hex(mac, 32, h);
			CHECK_ROW(STREQ(h, hmac_rows[i].mac),
			    hmac_rows[i].line);
		}
	}
	TEST("base64 as RFC 4648, and its URL alphabet") {
		for (i = 0; i < sizeof(b64_rows) / sizeof(b64_rows[0]); i++) {
			buf_init(&b, 64);
			CHECK_ROW(files_base64(&b, FILES_B64STD,
			    b64_rows[i].in, strlen(b64_rows[i].in)) == 0 &&
			    STREQ(buf_cstr(&b), b64_rows[i].std),
			    b64_rows[i].line);
			buf_free(&b);
		}
		buf_init(&b, 64);
		files_base64(&b, FILES_B64URL, "\xfb\xff", 2);
		CHECK(STREQ(buf_cstr(&b), "-_8="));
		buf_free(&b);
	}
	TEST("base64 of a long input joins its pieces") {
		char	in[3001], want[4005];

		/* "aaa" is "YWFh": 3000 bytes 1000 of them, 3001 one more */
		memset(in, 'a', sizeof(in));
		for (i = 0; i < 1000; i++)
			memcpy(want + i * 4, "YWFh", 4);
		memcpy(want + 4000, "YQ==", 5);
		buf_init(&b, 8192);
		CHECK(files_base64(&b, FILES_B64STD, in, 3000) == 0 &&
		    b.len == 4000 && memcmp(b.p, want, 4000) == 0);
		buf_reset(&b);
		CHECK(files_base64(&b, FILES_B64STD, in, 3001) == 0 &&
		    STREQ(buf_cstr(&b), want));
		buf_free(&b);
		buf_init(&b, 100);
		/* past the cap */
		CHECK(files_base64(&b, FILES_B64STD, in, 3000) == -1);
		buf_free(&b);
	}
	TEST("RFC 5987 names keep attr-chars and encode every other byte") {
		CHECK(STREQ(rfc5987(&p, "a b;c'd\"e\\f.txt"),
		    "a%20b%3Bc%27d%22e%5Cf.txt"));
		CHECK(STREQ(rfc5987(&p, "\xc3\xa9!#$&+-.^_`|~"),
		    "%C3%A9!#$&+-.^_`|~"));
		CHECK(STREQ(rfc5987(&p, "\r\n"), "%0D%0A"));
	}
	pool_free_all(&p);
}

static int
public_addr(const char *s)
{
	struct sockaddr_in	v4;
	struct sockaddr_in6	v6;

	memset(&v4, 0, sizeof(v4));
	memset(&v6, 0, sizeof(v6));
	if (inet_pton(AF_INET, s, &v4.sin_addr) == 1) {
		v4.sin_family = AF_INET;
		return addr_public((struct sockaddr *)&v4);
	}
	if (inet_pton(AF_INET6, s, &v6.sin6_addr) == 1) {
		v6.sin6_family = AF_INET6;
		return addr_public((struct sockaddr *)&v6);
	}
	return -1;
}

static const struct {
	int		 line;
	const char	*addr;
	int		 pub;
} addr_rows[] = {
	{ __LINE__, "127.0.0.1", 0 }, { __LINE__, "127.255.0.9", 0 },
	{ __LINE__, "0.0.0.0", 0 }, { __LINE__, "10.20.30.40", 0 },
	{ __LINE__, "172.16.0.1", 0 }, { __LINE__, "172.31.255.255", 0 },
	{ __LINE__, "172.32.0.1", 1 }, { __LINE__, "172.15.255.255", 1 },
	{ __LINE__, "192.168.1.1", 0 }, { __LINE__, "169.254.169.254", 0 },
	{ __LINE__, "100.64.0.1", 0 }, { __LINE__, "100.127.255.255", 0 },
	{ __LINE__, "100.128.0.1", 1 }, { __LINE__, "192.0.0.8", 0 },
	{ __LINE__, "192.0.2.1", 0 }, { __LINE__, "198.18.0.1", 0 },
	{ __LINE__, "198.19.255.1", 0 }, { __LINE__, "198.20.0.1", 1 },
	{ __LINE__, "198.51.100.7", 0 }, { __LINE__, "203.0.113.9", 0 },
	{ __LINE__, "224.0.0.1", 0 }, { __LINE__, "255.255.255.255", 0 },
	{ __LINE__, "8.8.8.8", 1 }, { __LINE__, "93.184.215.14", 1 },
	{ __LINE__, "::", 0 }, { __LINE__, "::1", 0 },
	{ __LINE__, "::ffff:127.0.0.1", 0 }, { __LINE__, "::ffff:8.8.8.8", 1 },
	{ __LINE__, "::127.0.0.1", 0 }, { __LINE__, "64:ff9b::a00:1", 0 },
	{ __LINE__, "64:ff9b::808:808", 1 }, { __LINE__, "2002:7f00:1::", 0 },
	{ __LINE__, "2002:808:808::", 1 }, { __LINE__, "fc00::1", 0 },
	{ __LINE__, "fdff::1", 0 }, { __LINE__, "fe80::1", 0 },
	{ __LINE__, "febf::1", 0 }, { __LINE__, "fec0::1", 0 },
	{ __LINE__, "ff02::1", 0 }, { __LINE__, "2001:db8::1", 0 },
	{ __LINE__, "2001::1", 0 }, { __LINE__, "100::1", 0 },
	{ __LINE__, "2606:4700::1111", 1 }, { __LINE__, "2001:4860::8888", 1 },
};

static const struct {
	int		 line;
	const char	*url;
	int		 ok;
	const char	*err;	/* a part of the message */
} url_rows[] = {
	{ __LINE__, "http://93.184.215.14/a.png", 1, NULL },
	{ __LINE__, "https://[2606:4700::1111]:8443/x", 1, NULL },
	{ __LINE__, "http://127.0.0.1:8080/x", 0, "(127.0.0.1)" },
	{ __LINE__, "http://localhost/x", 0, "host localhost" },
	{ __LINE__, "http://[::1]/x", 0, "(::1)" },
	{ __LINE__, "http://2130706433/x", 0, "(127.0.0.1)" },
	{ __LINE__, "http://0x7f.1/x", 0, "(127.0.0.1)" },
	{ __LINE__, "http://169.254.169.254/latest", 0, "link-local" },
	{ __LINE__, "ftp://93.184.215.14/a", 0, "only http and https" },
	{ __LINE__, "file:///etc/passwd", 0, "only http and https" },
	{ __LINE__, "gopher://93.184.215.14/", 0, "only http and https" },
	{ __LINE__, "not a url", 0, "not a valid URL" },
	{ __LINE__, "http://93.184.215.14:99999/", 0, "not a valid URL" },
	{ __LINE__, "http://exa\xc3\xa9mple.com/", 0, "ASCII" },
};

static void
test_addresses(void)
{
	char	err[512];
	size_t	i;

	TEST("loopback, private, link-local, reserved addresses: not public") {
		for (i = 0; i < sizeof(addr_rows) / sizeof(addr_rows[0]); i++)
			CHECK_ROW(public_addr(addr_rows[i].addr) ==
			    addr_rows[i].pub, addr_rows[i].line);
	}
	TEST("URLs are checked without fetching: schemes, hosts, addresses") {
		unsetenv("DIFYCGI_ALLOW_PRIVATE_URLS");
		for (i = 0; i < sizeof(url_rows) / sizeof(url_rows[0]); i++) {
			err[0] = '\0';
			CHECK_ROW((files_url_check(url_rows[i].url, err,
			    sizeof(err)) == 0) == url_rows[i].ok,
			    url_rows[i].line);
			CHECK_ROW(url_rows[i].err == NULL ||
			    strstr(err, url_rows[i].err) != NULL,
			    url_rows[i].line);
			if (url_rows[i].err != NULL &&
			    strstr(err, url_rows[i].err) == NULL)
				printf("#   got \"%s\"\n", err);
		}
		setenv("DIFYCGI_ALLOW_PRIVATE_URLS", "1", 1);
		CHECK(files_url_check("http://127.0.0.1/x", err,
		    sizeof(err)) == 0);
		CHECK(files_url_check("ftp://127.0.0.1/x", err,
		    sizeof(err)) == -1);
		unsetenv("DIFYCGI_ALLOW_PRIVATE_URLS");
	}
}

/* The second line against DNS rebinding: each socket's address again. */
static void
test_open_socket(void)
{
	struct curl_sockaddr	 a;
	struct sockaddr_in	 v4;
	struct fetch		 f;
	curl_socket_t		 fd;

	TEST("a connection to a private address is refused as it opens") {
		memset(&f, 0, sizeof(f));
		memset(&a, 0, sizeof(a));
		memset(&v4, 0, sizeof(v4));
		v4.sin_family = AF_INET;
		v4.sin_port = htons(80);
		inet_pton(AF_INET, "127.0.0.1", &v4.sin_addr);
		a.family = AF_INET;
		a.socktype = SOCK_STREAM;
		a.protocol = IPPROTO_TCP;
		a.addrlen = sizeof(v4);
		memcpy(&a.addr, &v4, sizeof(v4));
		CHECK(open_socket(&f, CURLSOCKTYPE_IPCXN, &a) ==
		    CURL_SOCKET_BAD && f.blocked);
		f.blocked = 0;
		inet_pton(AF_INET, "93.184.215.14", &v4.sin_addr);
		memcpy(&a.addr, &v4, sizeof(v4));
		fd = open_socket(&f, CURLSOCKTYPE_IPCXN, &a);
		CHECK(fd != CURL_SOCKET_BAD && !f.blocked);
		if (fd != CURL_SOCKET_BAD)
			close(fd);
	}
}

static const struct {
	int		 line;
	const char	*ext;
	const char	*mime;
	const char	*in;
	size_t		 n;		/* 0: strlen */
	int		 rc;
	const char	*out;
} text_rows[] = {
	{ __LINE__, "txt", NULL, "plain\ntext", 0, 0, "plain\ntext" },
	{ __LINE__, "MD", NULL, "# h\n\n*x*", 0, 0, "# h\n\n*x*" },
	{ __LINE__, "csv", NULL, "a,b\n1,2\n", 0, 0, "a,b\n1,2\n" },
	{ __LINE__, NULL, "application/json; charset=utf-8", "{\"a\":1}", 0,
	  0, "{\"a\":1}" },
	{ __LINE__, "bin", "text/x-whatever", "t", 0, 0, "t" },
	{ __LINE__, "pdf", "application/pdf", "%PDF-", 0, FILES_BAD_DOC, "" },
	{ __LINE__, "docx", NULL, "PK\x03\x04", 0, FILES_BAD_DOC, "" },
	{ __LINE__, "doc", "application/msword", "x", 0, FILES_NO_TEXT, "" },
	{ __LINE__, NULL, NULL, "x", 0, FILES_NO_TEXT, "" },
	{ __LINE__, "txt", NULL, "\xef\xbb\xbf" "bom", 0, 0, "bom" },
	{ __LINE__, "txt", NULL, "a\xff" "b\xc3(c\xed\xa0\x80", 0, 0,
	  "a\xef\xbf\xbd" "b\xef\xbf\xbd(c\xef\xbf\xbd\xef\xbf\xbd"
	  "\xef\xbf\xbd" },
	{ __LINE__, "txt", NULL, "nul\0gone", 8, 0, "nulgone" },
	{ __LINE__, "html", NULL, "<p>One &amp; <b>two</b></p><p>three</p>",
	  0, 0, "One & two\n\nthree" },
	{ __LINE__, "htm", NULL, "<!-- c > d --><script>if (a<b) x()</script>"
	  "<STYLE>p{}</STYLE>ok", 0, 0, "ok" },
	{ __LINE__, NULL, "text/html", "<a href=\"x>y\" title='>'>link</a>",
	  0, 0, "link" },
	{ __LINE__, "html", NULL, "a < b &lt; c &#65;&#x42;&#x20AC;&bogus; d",
	  0, 0, "a < b < c AB\xe2\x82\xac&bogus; d" },
	{ __LINE__, "html", NULL, "<!DOCTYPE html><html><head><title>T</title>"
	  "</head><body>  spaced \n\t out  <br>line</body></html>", 0, 0,
	  "spaced out\nline" },
	{ __LINE__, "html", NULL, "x<div><div><div>y", 0, 0, "x\n\ny" },
	{ __LINE__, "html", NULL, "<p>unclosed <b", 0, 0, "unclosed" },
	/* no NUL, surrogate or past U+10FFFF: libxml2 drops such references */
	{ __LINE__, "html", NULL, "&#0;&#xD800;&#1114112;", 0, 0, "" },
	{ __LINE__, "html", NULL, "a&#0;b &eacute;&nbsp;&nbsp;c", 0, 0,
	  "ab \xc3\xa9  c" },
	{ __LINE__, "html", NULL, "caf\xe9 \xc3\xa9<br>\xff", 0, 0,
	  "caf\xef\xbf\xbd \xc3\xa9\n\xef\xbf\xbd" },
	{ __LINE__, "html", NULL, "<meta charset=\"iso-8859-1\">"
	  "<p>\xc3\xa9</p>", 0, 0, "\xc3\xa9" },
	{ __LINE__, "html", NULL, "<ul><li>one</li><li>two</li></ul>"
	  "<p>x<noscript><div>no</div></noscript>y</p><br/><hr>z", 0, 0,
	  "one\n\ntwo\n\nxy\n\nz" },
};

static void
test_text(void)
{
	struct buf	out;
	size_t		i;
	int		rc;

	TEST("documents give their text: plain as is, HTML without markup") {
		for (i = 0; i < sizeof(text_rows) / sizeof(text_rows[0]); i++) {
			buf_init(&out, 4096);
			rc = files_extract_text(text_rows[i].ext,
			    text_rows[i].mime, text_rows[i].in,
			    text_rows[i].n ? text_rows[i].n :
			    strlen(text_rows[i].in), &out);
			CHECK_ROW(rc == text_rows[i].rc, text_rows[i].line);
			CHECK_ROW(STREQ(buf_cstr(&out), text_rows[i].out),
			    text_rows[i].line);
			if (!STREQ(buf_cstr(&out), text_rows[i].out))
				printf("#   got \"%s\"\n", buf_cstr(&out));
			buf_free(&out);
		}
	}
	TEST("text past the cap is cut at a character boundary") {
		buf_init(&out, 5);
		CHECK(files_extract_text("txt", NULL, "ab\xe2\x82\xac" "cd", 7,
		    &out) == 0);
		CHECK(STREQ(buf_cstr(&out), "ab\xe2\x82\xac"));
		buf_free(&out);
		buf_init(&out, 4);
		files_extract_text("txt", NULL, "ab\xe2\x82\xac" "cd", 7, &out);
		CHECK(STREQ(buf_cstr(&out), "ab"));
		buf_free(&out);
		buf_init(&out, 3);
		files_extract_text("txt", NULL, "a\xff\xff", 3, &out);
		CHECK(STREQ(buf_cstr(&out), "a"));
		buf_free(&out);
		buf_init(&out, 4);
		files_extract_text("html", NULL, "<p>ab&euro;</p><p>cd</p>", 24,
		    &out);
		CHECK(STREQ(buf_cstr(&out), "ab"));
		buf_free(&out);
	}
	TEST("HTML nested 100000 deep, or 500 kB of it, is read to the end") {
		size_t	n = 100000, k;
		char	*doc = xmalloc(5 * n + 2);

		for (k = 0; k < n; k++)
			memcpy(doc + 5 * k, "<div>", 5);
		memcpy(doc + 5 * n, "x", 2);
		buf_init(&out, 4096);
		CHECK(files_extract_text("html", NULL, doc, 5 * n + 1,
		    &out) == 0 && STREQ(buf_cstr(&out), "x"));
		buf_free(&out);
		for (k = 0; k < n; k++)
			memcpy(doc + 5 * k, k % 2 ? "b&lt;" : "<br> ", 5);
		buf_init(&out, 1 << 20);
		CHECK(files_extract_text("html", NULL, doc, 5 * n, &out) ==
		    0 && out.len == n / 2 * 3 - 1 &&
		    memcmp(out.p + out.len - 3, "\nb<", 3) == 0);
		buf_free(&out);
		free(doc);
	}
}

int
main(void)
{
	log_init("test_multipart");
	test_rows();
	test_limits();
	test_types();
	test_crypto();
	test_addresses();
	test_open_socket();
	test_text();
	UNIT_DONE();
}
