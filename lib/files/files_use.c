/*
 * files.c: files.  Upload forms read by the streaming multipart parser
 * straight to a temporary file and checked in Dify's order (file.py,
 * file_service.py); storage under cfg->data_dir/files/<app>/<id> with
 * names of our own; signed, time-limited URLs (HMAC-SHA256 under a
 * server secret) and the preview and download of stored files
 * (file_preview.py); the "files" of chat and completion requests checked
 * against the app's file_upload settings (factories/file_factory.py) and
 * turned into what the model sees: images as image_url parts, the text
 * of documents as text parts; fetching remote URLs without reaching
 * private addresses; the text of text, Markdown, CSV, JSON and HTML
 * documents.
 *
 * Invariants: a client's filename is metadata, never a path; a temporary
 * file is removed unless it was renamed into place; nothing reads more
 * than cfg->max_upload bytes of a body or keeps more than a chunk of it in
 * memory; a URL is fetched only after every address of its host passed
 * the check, and each connection is checked again as its socket opens.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "files/files.h"

#define CHUNK			65536
#define AUDIO_MAX_MB		30
#define NAME_MAX_CHARS		200
#define TMP_STALE_S		3600	/* temporary files older are swept */
#define ACCESS_TIMEOUT_S	300	/* signed URLs, as Dify's default */
#define FILE_MAX_AGE_S		3600	/* what a client may cache a file for */
#define SECRET_MIN		16	/* bytes of a configured secret */
#define DOC_TEXT_MAX		(256 * 1024)	/* text of one document */
#define FETCH_REDIRECTS		3
#define FETCH_TIMEOUT_MS	30000
#define ADDRS_MAX		16
#define DEFAULT_NUMBER_LIMITS	3	/* Dify's legacy image default */

/* ---- errors ---- */

/* ---- file types ---- */

const char *const files_type_names[FT__MAX] = {
	[FT_IMAGE] = "image",
	[FT_VIDEO] = "video",
	[FT_AUDIO] = "audio",
	[FT_DOCUMENT] = "document",
	[FT_CUSTOM] = "custom",
};

/* Dify's constants: IMAGE_, VIDEO_, AUDIO_ and DOCUMENT_EXTENSIONS. */
static const struct {
	const char	*ext;
	enum file_type	 type;
	const char	*mime;
} exts[] = {
	{ "jpg", FT_IMAGE, "image/jpeg" },
	{ "jpeg", FT_IMAGE, "image/jpeg" },
	{ "png", FT_IMAGE, "image/png" },
	{ "webp", FT_IMAGE, "image/webp" },
	{ "gif", FT_IMAGE, "image/gif" },
	{ "svg", FT_IMAGE, "image/svg+xml" },
	{ "mp4", FT_VIDEO, "video/mp4" },
	{ "mov", FT_VIDEO, "video/quicktime" },
	{ "mpeg", FT_VIDEO, "video/mpeg" },
	{ "webm", FT_VIDEO, "video/webm" },
	{ "mp3", FT_AUDIO, "audio/mpeg" },
	{ "m4a", FT_AUDIO, "audio/mp4" },
	{ "wav", FT_AUDIO, "audio/wav" },
	{ "amr", FT_AUDIO, "audio/amr" },
	{ "mpga", FT_AUDIO, "audio/mpeg" },
	{ "txt", FT_DOCUMENT, "text/plain" },
	{ "markdown", FT_DOCUMENT, "text/markdown" },
	{ "md", FT_DOCUMENT, "text/markdown" },
	{ "mdx", FT_DOCUMENT, "text/markdown" },
	{ "pdf", FT_DOCUMENT, "application/pdf" },
	{ "html", FT_DOCUMENT, "text/html" },
	{ "htm", FT_DOCUMENT, "text/html" },
	{ "xlsx", FT_DOCUMENT, "application/vnd.openxmlformats-officedocument."
	    "spreadsheetml.sheet" },
	{ "xls", FT_DOCUMENT, "application/vnd.ms-excel" },
	{ "vtt", FT_DOCUMENT, "text/vtt" },
	{ "properties", FT_DOCUMENT, "text/plain" },
	{ "doc", FT_DOCUMENT, "application/msword" },
	{ "docx", FT_DOCUMENT, "application/vnd.openxmlformats-officedocument."
	    "wordprocessingml.document" },
	{ "csv", FT_DOCUMENT, "text/csv" },
	{ "eml", FT_DOCUMENT, "message/rfc822" },
	{ "msg", FT_DOCUMENT, "application/vnd.ms-outlook" },
	{ "pptx", FT_DOCUMENT, "application/vnd.openxmlformats-officedocument."
	    "presentationml.presentation" },
	{ "xml", FT_DOCUMENT, "text/xml" },
	{ "epub", FT_DOCUMENT, "application/epub+zip" },
	{ "ppt", FT_DOCUMENT, "application/vnd.ms-powerpoint" },
	{ "json", FT_CUSTOM, "application/json" },
};

const char *
files_extension(struct pool *p, const char *name)
{
	const char	*dot = strrchr(name, '/'), *s;
	char		*e;

	/* as Python's splitext: the leading dots of a name are no extension */
	s = dot != NULL ? dot + 1 : name;
	while (*s == '.')
		s++;
	dot = strrchr(s, '.');
	if (dot == NULL)
		return "";
	e = pool_strdup(p, dot + 1);
	for (char *c = e; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return e;
}

enum file_type
files_type_of_extension(const char *ext)
{
	size_t	i;

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strcasecmp(exts[i].ext, ext) == 0)
			return exts[i].type;
	return FT_CUSTOM;
}

/* A MIME type for an extension, or "". */
static const char *
mime_of_extension(const char *ext)
{
	size_t	i;

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strcasecmp(exts[i].ext, ext) == 0)
			return exts[i].mime;
	return "";
}

enum file_type
files_type_of_mime(const char *mime)
{
	if (mime == NULL)
		return FT_CUSTOM;
	if (strstr(mime, "image") != NULL)
		return FT_IMAGE;
	if (strstr(mime, "video") != NULL)
		return FT_VIDEO;
	if (strstr(mime, "audio") != NULL)
		return FT_AUDIO;
	if (strstr(mime, "text") != NULL || strstr(mime, "pdf") != NULL)
		return FT_DOCUMENT;
	return FT_CUSTOM;
}

/*
 * Our own magic bytes, not libmagic's, on purpose.  Dify decides a file's
 * type without looking at it: the declared type, else the extension
 * (constants/__init__.py), else "image"/"video"/"audio"/"text"/"pdf" in
 * the MIME type (factories/file_factory.py), and an image's data URL
 * carries the MIME type declared at upload (core/file/file_manager.py).
 * It calls libmagic only where the service API does not go: a remote file
 * fetched for upload whose name, URL and Content-Type all say nothing but
 * application/octet-stream (controllers/common/helpers.py).  Our one use
 * is a check of our own: that what goes to the model as an image data URL
 * is PNG, JPEG, GIF or WebP, named by its content.  On those four
 * libmagic 5.44 agrees with this function on real files, so it would buy
 * no accuracy, but it costs: a magic_t may not be shared by threads
 * (one per call, or per thread with a destructor), magic_load maps its
 * 8 MB database (3.8 ms the first time in a process), a PNG takes it
 * 14 us and text 300 us against our 3 ns, its names depend on the
 * installed database (audio/x-m4a and audio/x-hx-aac-adts here, where
 * Python's mimetypes, which Dify uses, says audio/mp4 and audio/aac), and
 * it runs every format it knows (CDF, ELF, ...) over untrusted bytes to
 * tell four signatures apart.
 */
const char *
files_sniff(const void *data, size_t n)
{
	const unsigned char	*p = data;

	if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return "image/jpeg";
	if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 ||
	    memcmp(p, "GIF89a", 6) == 0))
		return "image/gif";
	if (n >= 12 && memcmp(p, "RIFF", 4) == 0) {
		if (memcmp(p + 8, "WEBP", 4) == 0)
			return "image/webp";
		if (memcmp(p + 8, "WAVE", 4) == 0)
			return "audio/wav";
	}
	if (n >= 4 && (memcmp(p, "II*\0", 4) == 0 ||
	    memcmp(p, "MM\0*", 4) == 0))
		return "image/tiff";
	if (n >= 5 && memcmp(p, "%PDF-", 5) == 0)
		return "application/pdf";
	if (n >= 3 && memcmp(p, "ID3", 3) == 0)
		return "audio/mpeg";
	if (n >= 4 && memcmp(p, "OggS", 4) == 0)
		return "audio/ogg";
	if (n >= 4 && memcmp(p, "fLaC", 4) == 0)
		return "audio/flac";
	if (n >= 5 && memcmp(p, "#!AMR", 5) == 0)
		return "audio/amr";
	if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0) {
		if (memcmp(p + 8, "M4A ", 4) == 0)
			return "audio/mp4";
		if (memcmp(p + 8, "qt  ", 4) == 0)
			return "video/quicktime";
		return "video/mp4";
	}
	if (n >= 4 && memcmp(p, "\x1a\x45\xdf\xa3", 4) == 0)
		return "video/webm";
	if (n >= 4 && memcmp(p, "\0\0\1\xba", 4) == 0)
		return "video/mpeg";
	/* an MPEG audio frame; layer bits 00 are AAC in ADTS */
	if (n >= 2 && p[0] == 0xff && (p[1] & 0xe0) == 0xe0)
		return (p[1] & 0x06) == 0 ? "audio/aac" : "audio/mpeg";
	return NULL;
}

size_t
files_size_limit(const char *ext)
{
	int	mb;

	switch (files_type_of_extension(ext)) {
	case FT_IMAGE:
		mb = cfg->image_limit_mb;
		break;
	case FT_VIDEO:
		mb = cfg->video_limit_mb;
		break;
	case FT_AUDIO:
		mb = cfg->audio_limit_mb;
		break;
	default:
		mb = cfg->file_limit_mb;
		break;
	}
	return (size_t)mb * 1024 * 1024;
}

/* ---- directories and temporary files ---- */

/* cfg->data_dir + "/" + rel, into "out".  0 or -1 (too long). */
static int
data_path(char *out, size_t len, const char *rel)
{
	int	n = snprintf(out, len, "%s/%s", cfg->data_dir, rel);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* mkdir -p for a directory under the data directory, mode 0700. */
static int
make_dirs(const char *rel)
{
	char	path[4096], *s;

	if (data_path(path, sizeof(path), rel) == -1)
		return -1;
	for (s = path + strlen(cfg->data_dir) + 1; ; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		{
			char	c = *s;

			*s = '\0';
			if (mkdir(path, 0700) == -1 && errno != EEXIST) {
				log_error("mkdir %s: %s", path,
				    strerror(errno));
				return -1;
			}
			*s = c;
		}
		if (*s == '\0')
			break;
	}
	return 0;
}

/* Remove temporary files a killed process left behind. */
static void
sweep_tmp(const char *dir)
{
	DIR		*d = opendir(dir);
	struct dirent	*de;
	struct stat	 st;
	char		 path[4096];
	time_t		 now = time(NULL);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) &&
		    now - st.st_mtime > TMP_STALE_S)
			unlink(path);
	}
	closedir(d);
}

static int
open_tmp(struct files_form *f)
{
	char	id[UUID_LEN + 1], dir[4096];

	if (make_dirs("files/.tmp") == -1 ||
	    data_path(dir, sizeof(dir), "files/.tmp") == -1)
		return -1;
	sweep_tmp(dir);
	uuid_new(id);
	if (snprintf(f->tmp_path, sizeof(f->tmp_path), "%s/%s", dir, id) >=
	    (int)sizeof(f->tmp_path)) {
		f->tmp_path[0] = '\0';
		return -1;
	}
	f->fd = open(f->tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
	    O_CLOEXEC, 0600);
	if (f->fd == -1) {
		log_error("upload: %s: %s", f->tmp_path, strerror(errno));
		f->tmp_path[0] = '\0';
		return -1;
	}
	return 0;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t	w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w == -1 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Read a stored file into "out": at most "max" bytes, the rest left
 * unread when "cut", else -1 for a larger file.  0 or -1.
 */
static int
read_stored(const struct upload_file *uf, size_t max, int cut,
    struct buf *out)
{
	char	path[4096], chunk[CHUNK];
	ssize_t	n;
	int	fd, rc = 0;

	if (strstr(uf->storage_key, "..") != NULL ||
	    data_path(path, sizeof(path), uf->storage_key) == -1)
		return -1;
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		log_error("file %s: %s", uf->id, strerror(errno));
		return -1;
	}
	buf_init(out, max);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n == 0 ? 0 : -1;
			break;
		}
		if (cut && (size_t)n > max - out->len)
			n = (ssize_t)(max - out->len);
		if (buf_append(out, chunk, (size_t)n) == -1) {
			rc = -1;
			break;
		}
		if (cut && out->len == max)
			break;
	}
	close(fd);
	return rc;
}

/* ---- upload forms ---- */

static int
form_part(void *arg, const struct mp_part *pt)
{
	struct files_form	*f = arg;
	struct pool		*p = &f->rq->pool;
	int			 i, ours;

	f->cur = 0;
	if (pt->name == NULL)
		return 0;
	if (pt->filename == NULL) {
		/* the first "user" field, as request.form.get does */
		if (strcmp(pt->name, "user") == 0 && f->user == NULL &&
		    !f->user_too_long && f->user_buf.len == 0) {
			f->cur = 2;
			buf_reset(&f->user_buf);
		}
		return 0;
	}
	for (i = 0; i < f->nnames; i++)
		if (strcmp(f->names[i], pt->name) == 0)
			break;
	if (i == f->nnames && f->nnames < MP_PARTS_MAX)
		f->names[f->nnames++] = pool_strdup(p, pt->name);
	f->file_fields = f->nnames;
	ours = strcmp(pt->name, "file") == 0 || (f->kind == FORM_AUDIO &&
	    strcmp(pt->name, "audio_file") == 0);
	if (!ours || f->have_file)
		return 0;	/* the first file part is the one used */
	f->have_file = 1;
	f->cur = 1;
	f->filename = pool_strdup(p, pt->filename);
	f->mime_type = pool_strdup(p, pt->content_type);
	f->cap = f->kind == FORM_AUDIO ? (size_t)AUDIO_MAX_MB * 1024 * 1024 :
	    files_size_limit(files_extension(p, f->filename));
	sha256_init(&f->sha);
	return open_tmp(f);
}

static int
form_data(void *arg, const char *p, size_t n)
{
	struct files_form	*f = arg;

	if (f->cur == 2) {
		if (buf_append(&f->user_buf, p, n) == -1)
			f->user_too_long = 1;
		return 0;
	}
	if (f->cur != 1)
		return 0;
	f->size += (long long)n;
	if (f->too_large)
		return 0;
	if ((size_t)f->size > f->cap) {
		/* keep counting, stop storing: the answer is 413 anyway */
		f->too_large = 1;
		if (ftruncate(f->fd, 0) == -1)
			log_warn("upload: truncate: %s", strerror(errno));
		return 0;
	}
	sha256_update(&f->sha, p, n);
	if (write_all(f->fd, p, n) == -1) {
		log_error("upload: write %s: %s", f->tmp_path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
form_end(void *arg)
{
	struct files_form	*f = arg;
	uint8_t			 d[32];
	int			 i;

	if (f->cur == 2 && !f->user_too_long)
		f->user = pool_strndup(&f->rq->pool, buf_cstr(&f->user_buf),
		    f->user_buf.len);
	else if (f->cur == 1) {
		sha256_final(&f->sha, d);
		for (i = 0; i < 32; i++)
			snprintf(f->hash + i * 2, 3, "%02x", d[i]);
		if (close(f->fd) == -1) {
			f->fd = -1;
			log_error("upload: close: %s", strerror(errno));
			return -1;
		}
		f->fd = -1;
	}
	f->cur = 0;
	return 0;
}

int
files_form_read(struct req *rq, struct resp *rs, enum files_form_kind kind,
    struct files_form *f)
{
	struct multipart	 mp;
	char			*chunk = NULL;
	size_t			 total = 0;
	int			 n, rc = 0, done = 0;

	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->rq = rq;
	f->fd = -1;
	f->mime_type = "";
	buf_init(&f->user_buf, FORM_USER_MAX);
	rq->body_read = 1;
	if (rq->content_length > 0 &&
	    (size_t)rq->content_length > cfg->max_upload)
		return resp_error(rs, ERR_TOO_LARGE);
	if (multipart_init(&mp, rq->content_type) == -1) {
		/* no form: no file, as Werkzeug parses such a body */
		multipart_free(&mp);
		return 0;
	}
	mp.on_part = form_part;
	mp.on_data = form_data;
	mp.on_end = form_end;
	mp.arg = f;
	chunk = xmalloc(CHUNK);
	while (!done) {
		n = rq->io.read(rq->io.ctx, chunk, CHUNK);
		if (n <= 0)
			break;
		total += (size_t)n;
		if (total > cfg->max_upload) {
			rc = resp_error(rs, ERR_TOO_LARGE);
			goto out;
		}
		rc = multipart_feed(&mp, chunk, (size_t)n);
		if (rc == 1)
			done = 1;
		else if (rc == -1)
			break;
		if (rq->content_length > 0 &&
		    total >= (size_t)rq->content_length)
			break;
	}
	rc = 0;
	if (!done && multipart_end(&mp) == -1) {
		switch (mp.err) {
		case MP_ERR_CALLBACK:
			rc = resp_error(rs, ERR_INTERNAL);
			break;
		case MP_ERR_HEADER_TOO_LARGE:
		case MP_ERR_TOO_MANY_PARTS:
			rc = resp_error_msg(rs, ERR_TOO_LARGE, pool_printf(
			    &rq->pool, "%s: %s",
			    err_table[ERR_TOO_LARGE].message,
			    multipart_strerror(mp.err)));
			break;
		default:
			rc = resp_error_msg(rs, ERR_BAD_REQUEST, pool_printf(
			    &rq->pool, "Malformed multipart body: %s.",
			    multipart_strerror(mp.err)));
			break;
		}
	}
out:
	free(chunk);
	multipart_free(&mp);
	return rc;
}

void
files_form_free(struct files_form *f)
{
	if (f->fd != -1)
		close(f->fd);
	f->fd = -1;
	if (f->tmp_path[0] != '\0' && unlink(f->tmp_path) == -1 &&
	    errno != ENOENT)
		log_warn("upload: unlink %s: %s", f->tmp_path,
		    strerror(errno));
	f->tmp_path[0] = '\0';
	/* a body cut inside the file part leaves its digest unfinished */
	sha256_free(&f->sha);
	buf_free(&f->user_buf);
}

int
files_form_user(struct req *rq, struct resp *rs, const struct files_form *f)
{
	const char	*user = f->user;

	if (f->user_too_long)
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "user must be a UTF-8 string of at most 255 bytes");
	/* the field's bytes as sent: a NUL among them would cut "user" */
	if (user != NULL && f->user_buf.len > 0 &&
	    auth_user_check(rs, f->user_buf.p, f->user_buf.len) == -1)
		return -1;
	if (user == NULL || *user == '\0')
		user = "DEFAULT-USER";
	if (db_end_user_get_or_create(rq->db, &rq->pool, rq->app.id, user,
	    &rq->user) != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	return 0;
}

/* Comma-separated DIFYCGI_UPLOAD_EXTENSION_BLACKLIST, dots optional. */
static int
blacklisted(const char *ext)
{
	const char	*s = config_get("DIFYCGI_UPLOAD_EXTENSION_BLACKLIST");
	const char	*e;
	size_t		 n, len = strlen(ext);

	if (s == NULL || len == 0)
		return 0;
	while (*s != '\0') {
		while (*s == ',' || *s == ' ' || *s == '.')
			s++;
		e = s + strcspn(s, ", ");
		n = (size_t)(e - s);
		if (n == len && strncasecmp(s, ext, n) == 0)
			return 1;
		s = e;
	}
	return 0;
}

/* Bytes of the first "chars" UTF-8 characters of s. */
static size_t
utf8_prefix(const char *s, size_t chars)
{
	size_t	i = 0;

	while (s[i] != '\0' && chars > 0) {
		i++;
		while (((unsigned char)s[i] & 0xc0) == 0x80)
			i++;
		chars--;
	}
	return i;
}

static size_t
utf8_chars(const char *s)
{
	size_t	n = 0;

	for (; *s != '\0'; s++)
		n += ((unsigned char)*s & 0xc0) != 0x80;
	return n;
}

int
files_upload_check(struct req *rq, struct resp *rs, struct files_form *f)
{
	const char	*name = f->filename, *ext;
	char		 msg[128];
	size_t		 i, n;

	if (!f->have_file)
		return resp_error_msg(rs, ERR_NO_FILE_UPLOADED, NULL);
	if (f->file_fields > 1)
		return resp_error_msg(rs, ERR_TOO_MANY_FILES, NULL);
	if (*f->mime_type == '\0')
		return resp_error_msg(rs, ERR_UNSUPPORTED_FILE_TYPE, NULL);
	if (name == NULL || *name == '\0')
		return resp_error_msg(rs, ERR_FILENAME_MISSING, NULL);
	n = strlen(name);
	if (strpbrk(name, "/\\:*?\"<>|") != NULL || !utf8_valid(name, n))
		return resp_error_msg(rs, ERR_INVALID_PARAM,
		    "Filename contains invalid characters");
	for (i = 0; i < n; i++)
		if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f)
			return resp_error_msg(rs, ERR_INVALID_PARAM,
			    "Filename contains invalid characters");
	ext = files_extension(&rq->pool, name);
	if (utf8_chars(name) > NAME_MAX_CHARS) {
		/* as Dify: the name up to its first dot, cut, + extension */
		n = strcspn(name, ".");
		n = utf8_prefix(name, NAME_MAX_CHARS) < n ?
		    utf8_prefix(name, NAME_MAX_CHARS) : n;
		f->filename = *ext != '\0' ? pool_printf(&rq->pool, "%.*s.%s",
		    (int)n, name, ext) : pool_strndup(&rq->pool, name, n);
	}
	if (blacklisted(ext)) {
		snprintf(msg, sizeof(msg), "File extension '.%s' is not "
		    "allowed for security reasons", ext);
		return resp_error_msg(rs, ERR_INVALID_PARAM, msg);
	}
	if (f->too_large)
		return resp_error_msg(rs, ERR_FILE_TOO_LARGE, NULL);
	return 0;
}

/* ---- storage ---- */

int
files_store(struct req *rq, struct resp *rs, struct files_form *f,
    struct upload_file *uf)
{
	char	id[UUID_LEN + 1], rel[256], path[4096];

	if (!uuid_valid(rq->app.id) || f->tmp_path[0] == '\0')
		return resp_error(rs, ERR_INTERNAL);
	uuid_new(id);
	snprintf(rel, sizeof(rel), "files/%s", rq->app.id);
	if (make_dirs(rel) == -1)
		return resp_error(rs, ERR_INTERNAL);
	snprintf(rel, sizeof(rel), "files/%s/%s", rq->app.id, id);
	if (data_path(path, sizeof(path), rel) == -1)
		return resp_error(rs, ERR_INTERNAL);
	if (rename(f->tmp_path, path) == -1) {
		log_error("upload: rename to %s: %s", path, strerror(errno));
		return resp_error(rs, ERR_INTERNAL);
	}
	f->tmp_path[0] = '\0';
	memset(uf, 0, sizeof(*uf));
	uf->id = pool_strdup(&rq->pool, id);
	uf->app_id = rq->app.id;
	uf->end_user_id = rq->user.id;
	uf->name = f->filename;
	uf->size = f->size;
	uf->extension = files_extension(&rq->pool, f->filename);
	uf->mime_type = f->mime_type;
	uf->storage_key = pool_strdup(&rq->pool, rel);
	uf->hash = pool_strdup(&rq->pool, f->hash);
	uf->created_at = now_s();
	if (db_upload_file_create(rq->db, uf) == -1) {
		unlink(path);
		return resp_error(rs, ERR_INTERNAL);
	}
	return 0;
}

int
files_app_remove(const char *app_id, long long *nfiles, long long *bytes)
{
	char		 path[4096];
	DIR		*d = NULL;
	struct dirent	*de;
	struct stat	 st;
	int		 files_fd = -1, app_fd = -1, rc = -1;

	/* an app id is a UUID: one path component, never ".." */
	if (app_id == NULL || !uuid_valid(app_id) ||
	    data_path(path, sizeof(path), "files") == -1)
		return -1;
	files_fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
	    O_CLOEXEC);
	if (files_fd == -1) {
		if (errno == ENOENT)
			return 0;
		log_error("%s: %s", path, strerror(errno));
		return -1;
	}
	app_fd = openat(files_fd, app_id, O_RDONLY | O_DIRECTORY |
	    O_NOFOLLOW | O_CLOEXEC);
	if (app_fd == -1) {
		if (errno == ENOENT)
			rc = 0;
		else
			log_error("%s/%s: %s; left alone", path, app_id,
			    errno == ELOOP || errno == ENOTDIR ?
			    "not a directory" : strerror(errno));
		goto out;
	}
	d = fdopendir(app_fd);
	if (d == NULL) {
		log_error("%s/%s: %s", path, app_id, strerror(errno));
		goto out;
	}
	app_fd = -1;		/* the DIR has it now */
	rc = 0;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (fstatat(dirfd(d), de->d_name, &st,
		    AT_SYMLINK_NOFOLLOW) == -1 ||
		    (!S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))) {
			log_error("%s/%s/%s: not a stored file; left alone",
			    path, app_id, de->d_name);
			rc = -1;
			continue;
		}
		if (unlinkat(dirfd(d), de->d_name, 0) == -1) {
			log_error("%s/%s/%s: %s", path, app_id, de->d_name,
			    strerror(errno));
			rc = -1;
		} else if (S_ISREG(st.st_mode)) {
			(*nfiles)++;
			*bytes += (long long)st.st_size;
		}
	}
	if (rc == 0 && unlinkat(files_fd, app_id, AT_REMOVEDIR) == -1) {
		log_error("%s/%s: %s", path, app_id, strerror(errno));
		rc = -1;
	}
out:
	if (d != NULL)
		closedir(d);
	if (app_fd != -1)
		close(app_fd);
	close(files_fd);
	return rc;
}

json_object *
files_upload_json(struct req *rq, const struct upload_file *uf)
{
	json_object	*o = json_object_new_object();
	const char	*url = files_signed_url(rq, uf->id);

	json_object_object_add(o, "id", json_object_new_string(uf->id));
	json_object_object_add(o, "name", json_object_new_string(uf->name));
	json_object_object_add(o, "size", json_object_new_int64(uf->size));
	json_object_object_add(o, "extension",
	    json_object_new_string(uf->extension));
	json_object_object_add(o, "mime_type",
	    json_object_new_string(uf->mime_type));
	json_object_object_add(o, "created_by",
	    json_object_new_string(uf->end_user_id));
	json_object_object_add(o, "created_at",
	    json_object_new_int64(uf->created_at));
	json_object_object_add(o, "preview_url", NULL);
	json_object_object_add(o, "source_url",
	    url != NULL ? json_object_new_string(url) : NULL);
	json_object_object_add(o, "original_url", NULL);
	json_object_object_add(o, "user_id", NULL);
	/* files belong to an app here: the app is their workspace */
	json_object_object_add(o, "tenant_id",
	    json_object_new_string(uf->app_id));
	json_object_object_add(o, "conversation_id", NULL);
	json_object_object_add(o, "file_key", NULL);
	json_object_object_add(o, "reference", NULL);
	return o;
}

/* ---- signed URLs ---- */

void
hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen,
    uint8_t out[32])
{
	unsigned int	n = 32;

	/* libcrypto fails only without memory: abort, as xmalloc does */
	if (klen > INT_MAX || HMAC(EVP_sha256(), klen > 0 ? key : "",
	    (int)klen, msg, mlen, out, &n) == NULL || n != 32) {
		log_error("libcrypto: HMAC-SHA256 failed");
		abort();
	}
}

/* the last two letters of the alphabet: RFC 4648's base64, base64url */
static const char b64std[] = "+/";
static const char b64url[] = "-_";

/*
 * Append the base64 of p[0..n) (padded) to "out", in the alphabet whose
 * last two letters "alphabet" gives.  0 or -1.
 */
static int
base64(struct buf *out, const char *alphabet, const void *data, size_t n)
{
	const unsigned char	*p = data;
	unsigned char		 q[4 * 256 + 1];
	size_t			 i, take, k, j;

	/* whole groups of 3 per call, so that the pieces join up */
	for (i = 0; i < n; i += take) {
		take = n - i < 3 * 256 ? n - i : 3 * 256;
		k = (size_t)EVP_EncodeBlock(q, p + i, (int)take);
		for (j = 0; j < k; j++)
			if (q[j] == '+')
				q[j] = (unsigned char)alphabet[0];
			else if (q[j] == '/')
				q[j] = (unsigned char)alphabet[1];
		if (buf_append(out, q, k) == -1)
			return -1;
	}
	return 0;
}

static int
read_secret(const char *path, struct buf *out)
{
	char	s[257];
	ssize_t	n;
	int	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

	if (fd == -1)
		return -1;
	n = read(fd, s, sizeof(s) - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' '))
		n--;
	if (n < 2 * SECRET_MIN) {
		log_error("%s: shorter than %d characters", path,
		    2 * SECRET_MIN);
		errno = EINVAL;
		return -1;
	}
	return buf_append(out, s, (size_t)n);
}

/*
 * The server secret: DIFYCGI_SECRET_KEY, else cfg->data_dir/secret_key,
 * made on first use from 32 random bytes.  Written to a file of its own
 * and linked into place, so that two processes racing both end up with
 * the one that won, never with half of one.
 */
static int
secret_key(struct buf *out)
{
	const char	*v = config_get("DIFYCGI_SECRET_KEY");
	char		 path[4096], tmp[4096], hex[65], id[UUID_LEN + 1];
	uint8_t		 r[32];
	int		 fd, i, rc;

	buf_init(out, 1024);
	if (v != NULL && *v != '\0') {
		if (strlen(v) < SECRET_MIN)
			log_warn("DIFYCGI_SECRET_KEY is shorter than %d bytes",
			    SECRET_MIN);
		return buf_puts(out, v);
	}
	if (data_path(path, sizeof(path), "secret_key") == -1)
		return -1;
	if (read_secret(path, out) == 0)
		return 0;
	if (errno != ENOENT)
		return -1;
	uuid_new(id);
	if (snprintf(tmp, sizeof(tmp), "%s/.secret_key.%s", cfg->data_dir,
	    id) >= (int)sizeof(tmp))
		return -1;
	random_bytes(r, sizeof(r));
	for (i = 0; i < 32; i++)
		snprintf(hex + i * 2, 3, "%02x", r[i]);
	explicit_bzero(r, sizeof(r));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		log_error("%s: %s", tmp, strerror(errno));
		return -1;
	}
	rc = write_all(fd, hex, 64);
	if (close(fd) == -1)
		rc = -1;
	if (rc == 0 && link(tmp, path) == -1 && errno != EEXIST) {
		log_error("%s: %s", path, strerror(errno));
		rc = -1;
	}
	unlink(tmp);
	explicit_bzero(hex, sizeof(hex));
	if (rc == -1)
		return -1;
	return read_secret(path, out);
}

/* base64url(HMAC-SHA256("file-preview|id|timestamp|nonce")). */
static int
sign(const char *file_id, const char *ts, const char *nonce, char out[48])
{
	struct buf	key, msg, b;
	uint8_t		mac[32];
	int		rc = -1;

	buf_init(&msg, 512);
	buf_init(&b, 64);
	if (secret_key(&key) == -1) {
		log_error("files: no secret key for signed URLs");
		goto out;
	}
	if (buf_printf(&msg, "file-preview|%s|%s|%s", file_id, ts,
	    nonce) == -1)
		goto out;
	hmac_sha256(key.p, key.len, msg.p, msg.len, mac);
	if (base64(&b, b64url, mac, sizeof(mac)) == 0 && b.len < 48) {
		memcpy(out, b.p, b.len + 1);
		rc = 0;
	}
out:
	if (key.p != NULL)
		explicit_bzero(key.p, key.len);
	buf_free(&key);
	buf_free(&msg);
	buf_free(&b);
	return rc;
}

static int
host_ok(const char *h)
{
	if (*h == '\0' || strlen(h) > 255)
		return 0;
	for (; *h != '\0'; h++)
		if (!isalnum((unsigned char)*h) && strchr(".-:[]_", *h) == NULL)
			return 0;
	return 1;
}

/* Scheme, host and mount prefix the client used, or DIFYCGI_FILES_URL. */
static const char *
base_url(struct req *rq)
{
	const char	*v = config_get("DIFYCGI_FILES_URL"), *host, *https;
	const char	*uri, *port, *scheme;
	size_t		 n, plen = strlen(rq->path), i;

	if (v != NULL && *v != '\0') {
		n = strlen(v);
		while (n > 0 && v[n - 1] == '/')
			n--;
		return pool_strndup(&rq->pool, v, n);
	}
	https = req_env(rq, "HTTPS");
	scheme = req_env(rq, "REQUEST_SCHEME");
	if (scheme == NULL || (strcmp(scheme, "http") &&
	    strcmp(scheme, "https")))
		scheme = https != NULL && (strcasecmp(https, "on") == 0 ||
		    strcmp(https, "1") == 0) ? "https" : "http";
	host = req_env(rq, "HTTP_HOST");
	if (host == NULL || !host_ok(host)) {
		host = req_env(rq, "SERVER_NAME");
		port = req_env(rq, "SERVER_PORT");
		if (host == NULL || !host_ok(host))
			host = "localhost";
		if (port != NULL && strspn(port, "0123456789") ==
		    strlen(port) && *port != '\0' &&
		    strcmp(port, strcmp(scheme, "https") ? "80" : "443"))
			host = pool_printf(&rq->pool, "%s:%s", host, port);
	}
	/* the mount prefix: what comes before the API path in the URI */
	uri = req_env(rq, "REQUEST_URI");
	n = uri != NULL ? strcspn(uri, "?#") : 0;
	if (n < plen || strncmp(uri + n - plen, rq->path, plen) != 0)
		n = plen;
	n -= plen;
	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)uri[i]) &&
		    strchr("/-._~%", uri[i]) == NULL)
			n = 0;
	return pool_printf(&rq->pool, "%s://%s%.*s", scheme, host, (int)n,
	    n > 0 ? uri : "");
}

char *
files_signed_url(struct req *rq, const char *file_id)
{
	char	ts[32], nonce[33], sig[48];
	uint8_t	r[16];
	int	i;

	snprintf(ts, sizeof(ts), "%lld", (long long)now_s());
	random_bytes(r, sizeof(r));
	for (i = 0; i < 16; i++)
		snprintf(nonce + i * 2, 3, "%02x", r[i]);
	if (sign(file_id, ts, nonce, sig) == -1)
		return NULL;
	return pool_printf(&rq->pool, "%s/v1/files/%s/file-preview?"
	    "timestamp=%s&nonce=%s&sign=%s", base_url(rq), file_id, ts,
	    nonce, sig);
}

int
files_signature_ok(struct req *rq, const char *file_id, long long *left_s)
{
	const char	*ts = req_query(rq, "timestamp");
	const char	*nonce = req_query(rq, "nonce");
	const char	*given = req_query(rq, "sign");
	const char	*v = config_get("DIFYCGI_FILES_ACCESS_TIMEOUT_S");
	char		 want[48];
	long long	 t, timeout = ACCESS_TIMEOUT_S, now = now_s();

	if (v != NULL && *v != '\0' && parse_int(v, 1, 86400 * 365,
	    &timeout) == -1)
		timeout = ACCESS_TIMEOUT_S;
	if (ts == NULL || nonce == NULL || given == NULL ||
	    parse_int(ts, 0, (long long)1 << 40, &t) == -1 ||
	    strlen(nonce) > 64 || now - t > timeout || t - now > 60)
		return 0;
	if (sign(file_id, ts, nonce, want) == -1)
		return 0;
	*left_s = t + timeout - now;
	return strlen(given) == strlen(want) &&
	    ct_equal(given, want, strlen(want));
}

/* ---- serving files ---- */

/* RFC 5987 attr-chars stay, every other byte is %XX. */
static char *
rfc5987(struct pool *p, const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	char			*o = pool_alloc(p, strlen(s) * 3 + 1), *d = o;
	unsigned char		 c;

	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (isalnum(c) || strchr("!#$&+-.^_`|~", c) != NULL)
			*d++ = (char)c;
		else {
			*d++ = '%';
			*d++ = hex[c >> 4];
			*d++ = hex[c & 15];
		}
	}
	*d = '\0';
	return o;
}

/* Types a browser could run as a page of the API's origin. */
static int
active_type(const char *mime)
{
	return strstr(mime, "html") != NULL || strstr(mime, "xml") != NULL ||
	    strstr(mime, "svg") != NULL || strstr(mime, "javascript") != NULL;
}

int
files_send(struct req *rq, struct resp *rs, const struct upload_file *uf,
    int attachment, long long max_age_s)
{
	static const char *const seekable[] = { "audio/mpeg", "audio/wav",
	    "audio/mp4", "audio/ogg", "audio/flac", "audio/aac", "video/mp4",
	    "video/webm", "video/quicktime", "audio/x-m4a", NULL };
	const char	*ctype = uf->mime_type;
	char		 path[4096], *chunk;
	struct stat	 st;
	ssize_t		 n;
	int		 fd, i;

	if (strstr(uf->storage_key, "..") != NULL ||
	    data_path(path, sizeof(path), uf->storage_key) == -1)
		return resp_error_msg(rs, ERR_FILE_NOT_FOUND, NULL);
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		log_error("file %s: %s", uf->id, fd == -1 ? strerror(errno) :
		    "not a regular file");
		if (fd != -1)
			close(fd);
		return resp_error_msg(rs, ERR_FILE_NOT_FOUND, NULL);
	}
	if (ctype == NULL || *ctype == '\0' || strpbrk(ctype, "\r\n") != NULL)
		ctype = "application/octet-stream";
	for (i = 0; seekable[i] != NULL; i++)
		if (strcmp(ctype, seekable[i]) == 0)
			resp_header(rs, "Accept-Ranges", "bytes");
	if (attachment) {
		ctype = "application/octet-stream";
		resp_header(rs, "Content-Disposition", pool_printf(&rq->pool,
		    "attachment; filename*=UTF-8''%s", rfc5987(&rq->pool,
		    uf->name)));
	} else if (active_type(ctype))
		resp_header(rs, "Content-Security-Policy", "sandbox");
	/*
	 * private: the reply was for a key holder or a link's bearer, never
	 * for a shared cache to hand to others; and no longer than the
	 * caller allows (a signed link's time left)
	 */
	if (max_age_s > FILE_MAX_AGE_S)
		max_age_s = FILE_MAX_AGE_S;
	resp_header(rs, "Cache-Control", pool_printf(&rq->pool,
	    "private, max-age=%lld", max_age_s > 0 ? max_age_s : 0));
	resp_header(rs, "X-Content-Type-Options", "nosniff");
	rs->status = 200;
	if (resp_write_head(rq, rs, ctype, (long long)st.st_size) == -1) {
		close(fd);
		return 0;
	}
	chunk = xmalloc(CHUNK);
	for (;;) {
		n = read(fd, chunk, CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (rq->io.write(rq->io.ctx, chunk, (int)n) < 0) {
			rq->client_gone = 1;
			break;
		}
	}
	free(chunk);
	close(fd);
	return 0;
}

/* ---- the "files" of chat and completion requests ---- */

enum { TX_NONE, TX_PLAIN, TX_HTML };

static int	text_kind(const char *ext, const char *mime);

#define REQUEST_FILES_MAX	64
#define M_LOCAL			0x01
#define M_REMOTE		0x02

/* The app's file_upload settings, as Dify's FileUploadConfigManager. */
struct policy {
	unsigned	 types;		/* bit per enum file_type; 0: any */
	json_object	*exts;		/* allowed_file_extensions or NULL */
	unsigned	 methods;	/* M_ bits; 0: any */
	unsigned	 image_methods;
	long long	 number_limits;	/* 0: none */
	const char	*detail;
};

/* One entry of "files", resolved. */
struct rfile {
	unsigned		 method;
	enum file_type		 type;
	const char		*filename;
	const char		*ext;
	const char		*mime;
	const char		*url;		/* remote */
	long long		 size;		/* -1 unknown */
	struct upload_file	 uf;		/* local */
};

static int
truthy(json_object *v)
{
	if (v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_boolean) ||
	    json_object_is_type(v, json_type_int))
		return json_object_get_int64(v) != 0;
	return 0;
}

static unsigned
method_bit(const char *s)
{
	if (s == NULL)
		return 0;
	if (strcmp(s, "local_file") == 0)
		return M_LOCAL;
	if (strcmp(s, "remote_url") == 0)
		return M_REMOTE;
	return 0;
}

static unsigned
method_bits(json_object *a)
{
	unsigned	bits = 0;
	size_t		i, n;

	if (!json_object_is_type(a, json_type_array))
		return 0;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++)
		bits |= method_bit(json_object_get_string(
		    json_object_array_get_idx(a, i)));
	/* a list naming nothing we know lets nothing through */
	return n > 0 && bits == 0 ? 0x80 : bits;
}

static int
type_of_name(const char *s)
{
	int	t;

	for (t = 0; t < FT__MAX; t++)
		if (s != NULL && strcmp(s, files_type_names[t]) == 0)
			return t;
	return -1;
}

static long long
int_or(json_object *v, long long dflt)
{
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return dflt;
}

/* 1 when file upload is on (with "pol" filled), 0 when off. */
static int
policy_of(json_object *fu, struct policy *pol)
{
	json_object	*img = json_get(fu, "image"), *types;
	const char	*d = json_str(img, "detail");
	size_t		 i, n;
	int		 t;

	memset(pol, 0, sizeof(*pol));
	pol->detail = d != NULL && strcmp(d, "low") == 0 ? "low" : "high";
	if (truthy(json_get(fu, "enabled"))) {
		types = json_get(fu, "allowed_file_types");
		n = json_object_is_type(types, json_type_array) ?
		    json_object_array_length(types) : 0;
		for (i = 0; i < n; i++) {
			t = type_of_name(json_object_get_string(
			    json_object_array_get_idx(types, i)));
			pol->types |= t >= 0 ? 1u << t : 1u << FT__MAX;
		}
		pol->exts = json_get(fu, "allowed_file_extensions");
		pol->methods = method_bits(json_get(fu,
		    "allowed_file_upload_methods"));
		pol->image_methods = pol->methods;
		pol->number_limits = int_or(json_get(fu, "number_limits"), 1);
		return 1;
	}
	if (truthy(json_get(img, "enabled"))) {
		/* the legacy form: images only */
		pol->types = 1u << FT_IMAGE;
		pol->methods = method_bits(json_get(img, "transfer_methods"));
		pol->image_methods = pol->methods;
		pol->number_limits = int_or(json_get(img, "number_limits"),
		    DEFAULT_NUMBER_LIMITS);
		return 1;
	}
	return 0;
}

/* Whether ".ext" (or "ext") is in allowed_file_extensions. */
static int
ext_allowed(json_object *list, const char *ext)
{
	const char	*s;
	size_t		 i, n;

	if (!json_object_is_type(list, json_type_array))
		return 0;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		s = json_object_get_string(json_object_array_get_idx(list, i));
		if (s == NULL)
			continue;
		if (*s == '.')
			s++;
		if (strcasecmp(s, ext) == 0)
			return 1;
	}
	return 0;
}

/* Dify's _is_file_valid_with_config, on the type the caller gave. */
static int
allowed(const struct policy *pol, enum file_type given, const char *ext,
    unsigned method)
{
	if (pol->types != 0 && given != FT_CUSTOM &&
	    (pol->types & (1u << given)) == 0)
		return 0;
	if (given == FT_CUSTOM && !ext_allowed(pol->exts, ext))
		return 0;
	if (given == FT_IMAGE)
		return pol->image_methods == 0 ||
		    (pol->image_methods & method) != 0;
	return pol->methods == 0 || (pol->methods & method) != 0;
}

static int
bad(struct resp *rs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
bad(struct resp *rs, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return resp_error_msg(rs, ERR_INVALID_PARAM, msg);
}

/* Resolve one entry of "files" (Dify's build_from_mapping). */
static int
resolve_one(struct req *rq, struct resp *rs, const struct policy *pol,
    json_object *item, struct rfile *f)
{
	const char	*tm = json_str(item, "transfer_method");
	const char	*tname = json_str(item, "type"), *id, *url, *slash;
	char		 err[512];
	enum file_type	 given = FT_CUSTOM;
	int		 t, rc;

	memset(f, 0, sizeof(*f));
	if (!json_object_is_type(item, json_type_object))
		return bad(rs, "Invalid file: each item of files must be "
		    "an object");
	if (json_get(item, "type") != NULL) {
		t = type_of_name(tname);
		if (t < 0)
			return bad(rs, "'%s' is not a valid FileType",
			    tname != NULL ? tname : json_compact(json_get(item,
			    "type")));
		given = (enum file_type)t;
	}
	f->method = method_bit(tm);
	if (f->method == 0)
		return bad(rs, "Invalid file transfer method: %s",
		    tm != NULL ? tm : "None");
	if (f->method == M_LOCAL) {
		id = json_str(item, "upload_file_id");
		if (id == NULL || *id == '\0')
			return bad(rs, "Invalid upload file id");
		if (!uuid_valid(id))
			return bad(rs, "Invalid upload file id format");
		{
			char	low[UUID_LEN + 1];
			int	i;

			for (i = 0; i <= UUID_LEN; i++)
				low[i] = (char)tolower((unsigned char)id[i]);
			rc = db_upload_file_get(rq->db, &rq->pool, rq->app.id,
			    rq->user.id, low, &f->uf);
		}
		if (rc == DB_NOT_FOUND)
			return bad(rs, "Invalid upload file");
		if (rc != DB_OK)
			return resp_error(rs, ERR_INTERNAL);
		f->filename = f->uf.name;
		f->ext = f->uf.extension;
		f->mime = f->uf.mime_type;
		f->size = f->uf.size;
	} else {
		url = json_str(item, "url");
		if (url == NULL || *url == '\0')
			return bad(rs, "Invalid file url");
		if (files_url_check(url, err, sizeof(err)) == -1)
			return bad(rs, "Invalid file url: %s", err);
		f->url = url;
		slash = strrchr(url, '/');
		f->filename = pool_strndup(&rq->pool, slash + 1,
		    strcspn(slash + 1, "?#"));
		if (*f->filename == '\0')
			f->filename = "unknown_file";
		f->ext = files_extension(&rq->pool, f->filename);
		f->mime = mime_of_extension(f->ext);
		f->size = -1;
	}
	/* Dify's _standardize_file_type */
	f->type = given;
	if (given == FT_CUSTOM) {
		f->type = files_type_of_extension(f->ext);
		if (f->type == FT_CUSTOM)
			f->type = files_type_of_mime(f->mime);
	}
	if (!allowed(pol, given, f->ext, f->method))
		return bad(rs, "File validation failed for file: %s",
		    f->filename);
	return 0;
}

static json_object *
message_file_json(struct req *rq, const struct rfile *f)
{
	json_object	*o = json_object_new_object();
	char		 id[UUID_LEN + 1];
	const char	*url;

	uuid_new(id);
	url = f->method == M_LOCAL ? files_signed_url(rq, f->uf.id) : f->url;
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "filename",
	    json_object_new_string(f->filename));
	json_object_object_add(o, "type",
	    json_object_new_string(files_type_names[f->type]));
	json_object_object_add(o, "url", url != NULL ?
	    json_object_new_string(url) : NULL);
	json_object_object_add(o, "mime_type", *f->mime != '\0' ?
	    json_object_new_string(f->mime) : NULL);
	json_object_object_add(o, "size", json_object_new_int64(f->size));
	json_object_object_add(o, "transfer_method", json_object_new_string(
	    f->method == M_LOCAL ? "local_file" : "remote_url"));
	json_object_object_add(o, "belongs_to", json_object_new_string("user"));
	json_object_object_add(o, "upload_file_id", f->method == M_LOCAL ?
	    json_object_new_string(f->uf.id) : NULL);
	return o;
}

static json_object *
image_part(const char *url, const char *detail)
{
	json_object	*o = json_object_new_object(), *iu;

	iu = json_object_new_object();
	json_object_object_add(iu, "url", json_object_new_string(url));
	json_object_object_add(iu, "detail", json_object_new_string(detail));
	json_object_object_add(o, "type", json_object_new_string("image_url"));
	json_object_object_add(o, "image_url", iu);
	return o;
}

/*
 * The image part of an uploaded image: a data: URL, for formats the
 * content shows to be ones vision models take.  NULL otherwise.
 */
static json_object *
local_image(const struct rfile *f, const char *detail)
{
	struct buf	 data, url;
	const char	*mime;
	json_object	*o = NULL;

	if (read_stored(&f->uf, (size_t)cfg->image_limit_mb * 1024 * 1024, 0,
	    &data) == -1) {
		buf_free(&data);
		log_warn("file %s: not sent as an image: unreadable or over "
		    "the image limit", f->uf.id);
		return NULL;
	}
	mime = files_sniff(data.p, data.len);
	if (mime == NULL || (strcmp(mime, "image/png") &&
	    strcmp(mime, "image/jpeg") && strcmp(mime, "image/gif") &&
	    strcmp(mime, "image/webp"))) {
		log_info("file %s: not sent as an image: its content is not "
		    "PNG, JPEG, GIF or WebP", f->uf.id);
		buf_free(&data);
		return NULL;
	}
	buf_init(&url, data.len / 3 * 4 + 64);
	if (buf_printf(&url, "data:%s;base64,", mime) == 0 &&
	    base64(&url, b64std, data.p, data.len) == 0)
		o = image_part(buf_cstr(&url), detail);
	buf_free(&data);
	buf_free(&url);
	return o;
}

/* The text part of a document, or NULL; -1 in *rc when fetching failed. */
static json_object *
document_text(struct resp *rs, const struct rfile *f,
    int *rc)
{
	struct buf	 data, text;
	json_object	*o = NULL;
	char		 err[512];
	size_t		 max = (size_t)cfg->file_limit_mb * 1024 * 1024;

	*rc = 0;
	buf_init(&text, DOC_TEXT_MAX);
	/* only types we can read are fetched or read */
	if (text_kind(f->ext, f->mime) == TX_NONE) {
		buf_free(&text);
		return NULL;
	}
	if (f->method == M_LOCAL) {
		/* a prompt takes DOC_TEXT_MAX: what lies past that is not read */
		if (read_stored(&f->uf, 4 * DOC_TEXT_MAX, 1, &data) == -1) {
			log_warn("file %s: unreadable", f->uf.id);
			buf_free(&data);
			buf_free(&text);
			return NULL;
		}
	} else {
		buf_init(&data, max);
		if (files_fetch_url(f->url, max, &data, err,
		    sizeof(err)) == -1) {
			*rc = bad(rs, "Invalid file url: %s", err);
			buf_free(&data);
			buf_free(&text);
			return NULL;
		}
	}
	if (buf_printf(&text, "Content of the file \"%s\":\n\n",
	    f->filename) == 0) {
		files_extract_text(f->ext, f->mime, data.p != NULL ? data.p :
		    "", data.len, &text);
		o = json_object_new_object();
		json_object_object_add(o, "type",
		    json_object_new_string("text"));
		json_object_object_add(o, "text", json_object_new_string_len(
		    buf_cstr(&text), (int)text.len));
	}
	buf_free(&data);
	buf_free(&text);
	return o;
}

int
files_use_request(struct req *rq, struct resp *rs, struct files_use *fu)
{
	json_object	*files = json_get(rq->body, "files"), *part;
	struct policy	 pol;
	struct rfile	*fs;
	size_t		 i, n;
	long long	 images = 0;
	int		 rc;

	memset(fu, 0, sizeof(*fu));
	if (!json_object_is_type(files, json_type_array) ||
	    json_object_array_length(files) == 0 ||
	    !policy_of(json_get(rq->app.config, "file_upload"), &pol))
		return 0;
	n = json_object_array_length(files);
	if (n > REQUEST_FILES_MAX)
		return bad(rs, "Number of files exceeds the maximum limit "
		    "%lld", pol.number_limits > 0 && pol.number_limits <
		    REQUEST_FILES_MAX ? pol.number_limits :
		    (long long)REQUEST_FILES_MAX);
	fs = pool_alloc(&rq->pool, n * sizeof(*fs));
	for (i = 0; i < n; i++) {
		if (resolve_one(rq, rs, &pol, json_object_array_get_idx(files,
		    i), &fs[i]) == -1)
			return -1;
		images += fs[i].type == FT_IMAGE;
	}
	if (pol.number_limits > 0 && images > pol.number_limits)
		return bad(rs, "Number of image files exceeds the maximum "
		    "limit %lld", pol.number_limits);
	if (pol.number_limits > 0 && (long long)n > pol.number_limits)
		return bad(rs, "Number of files exceeds the maximum limit "
		    "%lld", pol.number_limits);
	fu->message_files = json_object_new_array();
	fu->parts = json_object_new_array();
	for (i = 0; i < n; i++) {
		json_object_array_add(fu->message_files,
		    message_file_json(rq, &fs[i]));
		part = NULL;
		rc = 0;
		if (fs[i].type == FT_IMAGE)
			part = fs[i].method == M_LOCAL ?
			    local_image(&fs[i], pol.detail) :
			    image_part(fs[i].url, pol.detail);
		else
			part = document_text(rs, &fs[i], &rc);
		if (rc == -1) {
			files_use_free(fu);
			return -1;
		}
		if (part != NULL)
			json_object_array_add(fu->parts, part);
	}
	if (json_object_array_length(fu->parts) == 0) {
		json_object_put(fu->parts);
		fu->parts = NULL;
	}
	return 0;
}

void
files_use_attach(struct files_use *fu, struct llm_msg *m)
{
	json_object	*t;

	if (fu->parts == NULL)
		return;
	t = json_object_new_object();
	json_object_object_add(t, "type", json_object_new_string("text"));
	json_object_object_add(t, "text",
	    json_object_new_string(m->content != NULL ? m->content : ""));
	json_object_array_add(fu->parts, t);
	m->parts = fu->parts;
}

void
files_use_free(struct files_use *fu)
{
	json_object_put(fu->message_files);
	json_object_put(fu->parts);
	fu->message_files = fu->parts = NULL;
}

/* ---- remote URLs ---- */

static int
allow_private(void)
{
	const char	*v = config_get("DIFYCGI_ALLOW_PRIVATE_URLS");

	return v != NULL && strcmp(v, "1") == 0;
}

static int
v4_public(const uint8_t a[4])
{
	if (a[0] == 0 || a[0] == 10 || a[0] == 127 || a[0] >= 224)
		return 0;
	if ((a[0] == 100 && (a[1] & 0xc0) == 64) ||	/* CGNAT */
	    (a[0] == 169 && a[1] == 254) ||
	    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
	    (a[0] == 192 && a[1] == 168) ||
	    (a[0] == 192 && a[1] == 0 && (a[2] == 0 || a[2] == 2)) ||
	    (a[0] == 192 && a[1] == 88 && a[2] == 99) ||
	    (a[0] == 198 && (a[1] & 0xfe) == 18) ||
	    (a[0] == 198 && a[1] == 51 && a[2] == 100) ||
	    (a[0] == 203 && a[1] == 0 && a[2] == 113))
		return 0;
	return 1;
}

/*
 * Whether an address is public: not loopback, unspecified, private,
 * link-local, shared (CGNAT), multicast, documentation or reserved, in
 * IPv4 or IPv6, nor an IPv4 one of those inside IPv6 (mapped, NAT64,
 * 6to4).
 */
static int
addr_public(const struct sockaddr *sa)
{
	struct sockaddr_in	 s4;
	struct sockaddr_in6	 s6;
	const uint8_t		*b;
	static const uint8_t	 zero[12];
	sa_family_t		 family;

	/* copied out: a sockaddr is read as the type it was written as */
	memcpy(&family, (const char *)sa + offsetof(struct sockaddr,
	    sa_family), sizeof(family));
	if (family == AF_INET) {
		memcpy(&s4, sa, sizeof(s4));
		return v4_public((const uint8_t *)&s4.sin_addr.s_addr);
	}
	if (family != AF_INET6)
		return 0;
	memcpy(&s6, sa, sizeof(s6));
	b = s6.sin6_addr.s6_addr;
	if (memcmp(b, zero, 10) == 0 && b[10] == 0xff && b[11] == 0xff)
		return v4_public(b + 12);		/* ::ffff:a.b.c.d */
	if (memcmp(b, zero, 12) == 0)
		return 0;	/* ::, ::1 and the old IPv4-compatible form */
	if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b &&
	    memcmp(b + 4, zero, 8) == 0)
		return v4_public(b + 12);		/* NAT64 */
	if (b[0] == 0x20 && b[1] == 0x02)
		return v4_public(b + 2);		/* 6to4 */
	if ((b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x00 && b[3] == 0x00) ||
	    (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) ||
	    (b[0] & 0xfe) == 0xfc ||			/* unique local */
	    (b[0] == 0xfe && (b[1] & 0x80) == 0x80) ||	/* link, site local */
	    b[0] == 0xff ||
	    (b[0] == 0x01 && memcmp(b + 1, zero, 7) == 0))
		return 0;
	return 1;
}

/* A URL taken apart, its host resolved and every address checked. */
struct target {
	char	 host[256];		/* without IPv6 brackets */
	long	 port;
	char	 pin[1024];		/* "host:port:addr,..." */
};

static int
check_target(const char *url, struct target *t, char *err, size_t errlen)
{
	CURLU		*u = NULL;
	char		*scheme = NULL, *host = NULL, *port = NULL;
	struct addrinfo	 hints, *res = NULL, *ai;
	char		 addr[INET6_ADDRSTRLEN];
	size_t		 hl, pl;
	int		 rc = -1, naddr = 0, gai;
	long long	 p;

	memset(t, 0, sizeof(*t));
	if (strlen(url) > 4096 || upstream_curl_init() == -1 ||
	    (u = curl_url()) == NULL ||
	    curl_url_set(u, CURLUPART_URL, url,
	    CURLU_NON_SUPPORT_SCHEME) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK) {
		snprintf(err, errlen, "not a valid URL");
		goto out;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		snprintf(err, errlen, "only http and https URLs are fetched");
		goto out;
	}
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
	    CURLUE_OK) {
		snprintf(err, errlen, "not a valid URL");
		goto out;
	}
	hl = strlen(host);
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = '\0';
	}
	for (char *c = host; *c != '\0'; c++)
		if ((unsigned char)*c >= 0x80 || *c == '%') {
			snprintf(err, errlen, "the host name must be ASCII");
			goto out;
		}
	if (parse_int(port, 1, 65535, &p) == -1 || *host == '\0' ||
	    strlen(host) >= sizeof(t->host)) {
		snprintf(err, errlen, "not a valid URL");
		goto out;
	}
	snprintf(t->host, sizeof(t->host), "%s", host);
	t->port = (long)p;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	gai = getaddrinfo(t->host, NULL, &hints, &res);
	if (gai != 0) {
		snprintf(err, errlen, "cannot resolve the host %s", t->host);
		goto out;
	}
	/* a name gets its addresses pinned; a literal address needs none */
	if (inet_pton(AF_INET, t->host, addr) == 1 ||
	    inet_pton(AF_INET6, t->host, addr) == 1)
		pl = 0;
	else
		pl = (size_t)snprintf(t->pin, sizeof(t->pin), "%s:%ld:",
		    t->host, t->port);
	for (ai = res; ai != NULL && naddr < ADDRS_MAX; ai = ai->ai_next) {
		const void	*a;

		if (ai->ai_family == AF_INET)
			a = &((struct sockaddr_in *)(void *)
			    ai->ai_addr)->sin_addr;
		else if (ai->ai_family == AF_INET6)
			a = &((struct sockaddr_in6 *)(void *)
			    ai->ai_addr)->sin6_addr;
		else
			continue;
		if (inet_ntop(ai->ai_family, a, addr, sizeof(addr)) == NULL)
			continue;
		if (!allow_private() && !addr_public(ai->ai_addr)) {
			snprintf(err, errlen, "the host %s is or resolves to a "
			    "loopback, private, link-local or reserved address "
			    "(%s); such URLs are not fetched", t->host, addr);
			goto out;
		}
		naddr++;
		if (pl == 0)
			continue;
		pl += (size_t)snprintf(t->pin + pl, pl < sizeof(t->pin) ?
		    sizeof(t->pin) - pl : 0, "%s%s%s%s", naddr > 1 ? "," : "",
		    ai->ai_family == AF_INET6 ? "[" : "", addr,
		    ai->ai_family == AF_INET6 ? "]" : "");
	}
	if (naddr == 0 || pl >= sizeof(t->pin)) {
		snprintf(err, errlen, "cannot resolve the host %s", t->host);
		goto out;
	}
	rc = 0;
out:
	if (res != NULL)
		freeaddrinfo(res);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	return rc;
}

int
files_url_check(const char *url, char *err, size_t errlen)
{
	struct target	t;

	return check_target(url, &t, err, errlen);
}

struct fetch {
	struct buf	*out;
	size_t		 start;
	size_t		 max;
	int		 too_big;
	int		 blocked;
};

static curl_socket_t
open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct fetch	*f = arg;

	(void)purpose;
	if (!allow_private() && !addr_public(&a->addr)) {
		f->blocked = 1;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype, a->protocol);
}

static size_t
fetch_body(char *p, size_t size, size_t n, void *arg)
{
	struct fetch	*f = arg;
	size_t		 len = size * n;

	if (f->out->len - f->start + len > f->max ||
	    buf_append(f->out, p, len) == -1) {
		f->too_big = 1;
		return 0;
	}
	return len;
}

int
files_fetch_url(const char *url, size_t max, struct buf *out, char *err,
    size_t errlen)
{
	struct target		 t;
	struct fetch		 f;
	struct curl_slist	*pin = NULL;
	CURL			*h = NULL;
	CURLcode		 cc;
	char			*next = NULL, *loc;
	const char		*v = config_get("DIFYCGI_FETCH_TIMEOUT_MS");
	long long		 timeout = FETCH_TIMEOUT_MS;
	long			 status = 0;
	double			 t0 = now_mono();
	int			 hop, rc = -1, bad_opt;

	if (v != NULL && *v != '\0' && parse_int(v, 1, 3600000,
	    &timeout) == -1)
		timeout = FETCH_TIMEOUT_MS;
	memset(&f, 0, sizeof(f));
	f.out = out;
	f.start = out->len;
	f.max = max;
	for (hop = 0; ; hop++) {
		if (hop > FETCH_REDIRECTS) {
			snprintf(err, errlen, "more than %d redirects",
			    FETCH_REDIRECTS);
			goto out;
		}
		if (check_target(url, &t, err, errlen) == -1)
			goto out;
		curl_slist_free_all(pin);
		pin = t.pin[0] != '\0' ? curl_slist_append(NULL, t.pin) : NULL;
		if (h == NULL)
			h = curl_easy_init();
		else
			curl_easy_reset(h);
		if ((pin == NULL && t.pin[0] != '\0') || h == NULL) {
			snprintf(err, errlen, "cannot set up the HTTP client");
			goto out;
		}
		out->len = f.start;
		bad_opt = 0;
		bad_opt |= curl_easy_setopt(h, CURLOPT_URL, url);
		bad_opt |= curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		bad_opt |= curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
		    "http,https");
		bad_opt |= curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
		bad_opt |= curl_easy_setopt(h, CURLOPT_PROXY, "");
		bad_opt |= curl_easy_setopt(h, CURLOPT_RESOLVE, pin);
		bad_opt |= curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION,
		    open_socket);
		bad_opt |= curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &f);
		bad_opt |= curl_easy_setopt(h, CURLOPT_WRITEFUNCTION,
		    fetch_body);
		bad_opt |= curl_easy_setopt(h, CURLOPT_WRITEDATA, &f);
		bad_opt |= curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
		    (curl_off_t)max);
		bad_opt |= curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
		bad_opt |= curl_easy_setopt(h, CURLOPT_USERAGENT,
		    "difycgi/" DIFYCGI_VERSION);
		bad_opt |= curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
		    (long)cfg->upstream_connect_ms);
		bad_opt |= curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)
		    (timeout - (now_mono() - t0) * 1000 > 1 ?
		    timeout - (now_mono() - t0) * 1000 : 1));
		if (bad_opt) {
			snprintf(err, errlen, "cannot set up the HTTP client");
			goto out;
		}
		cc = curl_easy_perform(h);
		if (f.blocked) {
			snprintf(err, errlen, "the host %s connects to a "
			    "loopback, private, link-local or reserved "
			    "address; such URLs are not fetched", t.host);
			goto out;
		}
		if (f.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
			snprintf(err, errlen, "the file is larger than %zu "
			    "bytes", max);
			goto out;
		}
		if (cc == CURLE_OPERATION_TIMEDOUT) {
			snprintf(err, errlen, "no complete answer within "
			    "%lld ms", timeout);
			goto out;
		}
		if (cc != CURLE_OK) {
			snprintf(err, errlen, "cannot fetch it: %s",
			    curl_easy_strerror(cc));
			goto out;
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		loc = NULL;
		if (status >= 300 && status <= 399 && curl_easy_getinfo(h,
		    CURLINFO_REDIRECT_URL, &loc) == CURLE_OK && loc != NULL) {
			free(next);
			next = xstrdup(loc);
			url = next;
			continue;
		}
		if (status < 200 || status > 299) {
			snprintf(err, errlen, "the server answered HTTP %ld",
			    status);
			goto out;
		}
		rc = 0;
		break;
	}
out:
	if (rc == -1)
		out->len = f.start;
	if (out->p != NULL)
		out->p[out->len] = '\0';
	curl_slist_free_all(pin);
	curl_easy_cleanup(h);
	free(next);
	return rc;
}

/* ---- the text of documents ---- */

static int
text_kind(const char *ext, const char *mime)
{
	static const char *const plain[] = { "txt", "text", "md", "markdown",
	    "mdx", "csv", "tsv", "json", "jsonl", "vtt", "properties", "xml",
	    "yaml", "yml", "log", "ini", "toml", NULL };
	char	 m[128];
	size_t	 i, n;

	if (ext != NULL && *ext != '\0') {
		for (i = 0; plain[i] != NULL; i++)
			if (strcasecmp(ext, plain[i]) == 0)
				return TX_PLAIN;
		if (strcasecmp(ext, "html") == 0 ||
		    strcasecmp(ext, "htm") == 0 ||
		    strcasecmp(ext, "xhtml") == 0)
			return TX_HTML;
	}
	if (mime == NULL)
		return TX_NONE;
	n = strcspn(mime, "; ");
	if (n >= sizeof(m))
		return TX_NONE;
	for (i = 0; i < n; i++)
		m[i] = (char)tolower((unsigned char)mime[i]);
	m[n] = '\0';
	if (strcmp(m, "text/html") == 0 ||
	    strcmp(m, "application/xhtml+xml") == 0)
		return TX_HTML;
	if (strncmp(m, "text/", 5) == 0 || strcmp(m, "application/json") == 0)
		return TX_PLAIN;
	return TX_NONE;
}

/* Length of the valid UTF-8 character at p (n > 0 bytes), or 0. */
static size_t
utf8_char(const unsigned char *p, size_t n)
{
	size_t		k, j;
	uint32_t	cp;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		k = 1;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		k = 2;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		k = 3;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (k >= n)
		return 0;
	for (j = 1; j <= k; j++) {
		if ((p[j] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[j] & 0x3f);
	}
	if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k + 1;
}

/*
 * Append p[0..n) as valid UTF-8: bad bytes become U+FFFD, NULs go.
 * Stops (returns -1) at the first character that does not fit.
 */
static int
append_utf8(struct buf *out, const char *p, size_t n)
{
	const unsigned char	*u = (const unsigned char *)p;
	size_t			 i = 0, run = 0, k;

	while (i < n) {
		k = u[i] == 0 ? 0 : utf8_char(u + i, n - i);
		if (k > 0) {
			i += k;
			continue;
		}
		if (buf_append(out, p + run, i - run) == -1 ||
		    (u[i] != 0 && buf_append(out, "\xef\xbf\xbd", 3) == -1))
			return -1;
		run = ++i;
	}
	if (buf_append(out, p + run, n - run) == 0)
		return 0;
	/* cut at the last character boundary that fits */
	k = out->max > out->len ? out->max - out->len : 0;
	for (i = run; i < n && i - run < k; ) {
		size_t	c = utf8_char(u + i, n - i);

		if (i + c - run > k)
			break;
		i += c;
	}
	buf_append(out, p + run, i - run);
	return -1;
}

/*
 * HTML to text is libxml2's HTML parser, as a push parser giving SAX
 * events: no tree is built, the input goes in pieces and the parse stops
 * once "out" is full, so memory stays that of a piece and the element
 * stack whatever the document.  The parser reads the bytes as UTF-8 and
 * ignores a declared charset; they are made valid UTF-8 on the way in,
 * since libxml2 takes a document with one bad byte for Latin-1 and
 * misreads all of it, where one U+FFFD for the byte is what a plain text
 * file gets.
 */
static const char *const html_blocks[] = { "p", "div", "br", "li", "tr",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "section",
    "article", "header", "footer", "pre", "blockquote", "hr", "title",
    "dd", "dt", "td", "th", "nav", "main", "aside", "form", NULL };
/* elements whose text is no text of the document */
static const char *const html_skip[] = { "script", "style", "head",
    "noscript", "template", NULL };

struct html_walk {
	htmlParserCtxtPtr	 ctxt;
	struct buf		*out;
	int			 skip;	/* depth inside html_skip elements */
	int			 nl;	/* line breaks owed the next text */
	int			 space;	/* white space since the last text */
	int			 started;	/* text written */
	int			 full;	/* "out" is at its cap */
};

static pthread_once_t	html_once = PTHREAD_ONCE_INIT;

/* libxml2's globals, once per process: xmlInitParser is not thread-safe */
static void
html_init(void)
{
	xmlInitParser();
}

static int
html_is(const xmlChar *name, const char *const *list)
{
	for (; *list != NULL; list++)
		if (**list == name[0] && strcmp((const char *)name, *list) == 0)
			return 1;
	return 0;
}

static int
html_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static void
html_put(struct html_walk *w, const char *p, size_t n)
{
	if (!w->full && append_utf8(w->out, p, n) == -1) {
		w->full = 1;
		xmlStopParser(w->ctxt);
	}
}

/* Block elements break lines where they start and end (br once). */
static void
html_start(void *arg, const xmlChar *name, const xmlChar **atts)
{
	struct html_walk	*w = arg;

	(void)atts;
	if (html_is(name, html_skip))
		w->skip++;
	else if (w->skip == 0 && html_is(name, html_blocks) && w->nl < 2)
		w->nl++;
}

static void
html_end(void *arg, const xmlChar *name)
{
	struct html_walk	*w = arg;

	if (html_is(name, html_skip)) {
		if (w->skip > 0)
			w->skip--;
	} else if (w->skip == 0 && html_is(name, html_blocks) &&
	    strcmp((const char *)name, "br") != 0 &&
	    strcmp((const char *)name, "hr") != 0 && w->nl < 2)
		w->nl++;
}

/*
 * Runs of white space are one space, owed line breaks (at most an empty
 * line) replace it, and neither starts or ends the text; a no-break
 * space is a plain one that stays.
 */
static void
html_chars(void *arg, const xmlChar *ch, int len)
{
	struct html_walk	*w = arg;
	const char		*s = (const char *)ch;
	size_t			 i = 0, n = len > 0 ? (size_t)len : 0, j;

	if (w->skip > 0)
		return;
	while (i < n && !w->full) {
		if (html_space(s[i])) {
			w->space = 1;
			i++;
			continue;
		}
		if (w->started && w->nl > 0)
			html_put(w, "\n\n", (size_t)w->nl);
		else if (w->started && w->space)
			html_put(w, " ", 1);
		w->nl = w->space = 0;
		w->started = 1;
		for (j = i; j < n && !html_space(s[j]) &&
		    !(s[j] == '\xc2' && j + 1 < n && s[j + 1] == '\xa0'); j++)
			;
		html_put(w, s + i, j - i);
		if (j < n && s[j] == '\xc2') {
			html_put(w, " ", 1);
			j += 2;
		}
		i = j;
	}
}

/* Append the text of the HTML s[0..n) to "out" (see above). */
static void
html_text(const char *s, size_t n, struct buf *out)
{
	const unsigned char	*u = (const unsigned char *)s;
	htmlSAXHandler		 sax;
	struct html_walk	 w;
	char			 piece[16384];
	size_t			 i = 0, k, o;

	pthread_once(&html_once, html_init);
	memset(&sax, 0, sizeof(sax));
	sax.startElement = html_start;
	sax.endElement = html_end;
	sax.characters = html_chars;
	sax.ignorableWhitespace = html_chars;
	memset(&w, 0, sizeof(w));
	w.out = out;
	w.ctxt = htmlCreatePushParserCtxt(&sax, &w, NULL, 0, NULL,
	    XML_CHAR_ENCODING_UTF8);
	if (w.ctxt == NULL) {
		log_error("libxml2: no HTML parser (out of memory)");
		return;
	}
	htmlCtxtUseOptions(w.ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
	    HTML_PARSE_NOWARNING | HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC);
	while (i < n && !w.full) {
		/* valid UTF-8: bad bytes as U+FFFD, NULs dropped */
		for (o = 0; i < n && o + 4 <= sizeof(piece); i += k ? k : 1) {
			k = u[i] == 0 ? 0 : u[i] < 0x80 ? 1 :
			    utf8_char(u + i, n - i);
			if (k == 1)
				piece[o++] = s[i];
			else if (k > 0) {
				memcpy(piece + o, s + i, k);
				o += k;
			} else if (u[i] != 0) {
				memcpy(piece + o, "\xef\xbf\xbd", 3);
				o += 3;
			}
		}
		htmlParseChunk(w.ctxt, piece, (int)o, 0);
	}
	if (!w.full)
		htmlParseChunk(w.ctxt, NULL, 0, 1);
	htmlFreeParserCtxt(w.ctxt);
}

int
files_extract_text(const char *extension, const char *mime_type,
    const char *data, size_t len, struct buf *out)
{
	int	kind = text_kind(extension, mime_type);

	if (kind == TX_NONE)
		return FILES_NO_TEXT;
	/* a UTF-8 byte order mark is no text */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if (kind == TX_PLAIN)
		append_utf8(out, data, len);
	else
		html_text(data, len, out);
	return 0;
}
