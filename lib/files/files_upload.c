/*
 * files_upload.c: upload forms, read by the streaming multipart parser
 * straight to a temporary file and checked in Dify's order (service_api/
 * app/file.py, services/file_service.py).  Nothing reads more than
 * cfg->max_upload bytes of a body or keeps more than a chunk of it in
 * memory; a temporary file is removed unless it was kept (files_keep).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "files_int.h"

#define AUDIO_MAX_MB		30
#define NAME_MAX_CHARS		200

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
	f->fd = files_tmp_open(f->tmp_path, sizeof(f->tmp_path));
	return f->fd == -1 ? -1 : 0;
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
	if (files_write_all(f->fd, p, n) == -1) {
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
	if (utf8_count(name, strlen(name)) > NAME_MAX_CHARS) {
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
