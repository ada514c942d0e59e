/*
 * files_serve.c: a stored file sent as the reply, for the preview and
 * download of Dify's file_preview.py: its headers (type, disposition,
 * caching, sandboxing of active types) and its bytes in chunks as
 * files_stream reads them from either store.  The head waits for the
 * first bytes, so a file that cannot be read is still a clean 404.
 */
#include <ctype.h>
#include <string.h>

#include "files_int.h"

#define FILE_MAX_AGE_S		3600	/* what a client may cache a file for */

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

/* A reply being sent: its head goes out with the first bytes. */
struct sending {
	struct req			*rq;
	struct resp			*rs;
	const struct upload_file	*uf;
	int				 attachment;
	long long			 max_age_s;
	int				 started;
};

static int
send_head(struct sending *s)
{
	static const char *const seekable[] = { "audio/mpeg", "audio/wav",
	    "audio/mp4", "audio/ogg", "audio/flac", "audio/aac", "video/mp4",
	    "video/webm", "video/quicktime", "audio/x-m4a", NULL };
	struct req	*rq = s->rq;
	struct resp	*rs = s->rs;
	const char	*ctype = s->uf->mime_type;
	long long	 max_age_s = s->max_age_s;
	int		 i;

	s->started = 1;
	if (ctype == NULL || *ctype == '\0' || strpbrk(ctype, "\r\n") != NULL)
		ctype = "application/octet-stream";
	for (i = 0; seekable[i] != NULL; i++)
		if (strcmp(ctype, seekable[i]) == 0)
			resp_header(rs, "Accept-Ranges", "bytes");
	if (s->attachment) {
		ctype = "application/octet-stream";
		resp_header(rs, "Content-Disposition", pool_printf(&rq->pool,
		    "attachment; filename*=UTF-8''%s", rfc5987(&rq->pool,
		    s->uf->name)));
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
	if (resp_write_head(rq, rs, ctype, s->uf->size) == -1) {
		rq->client_gone = 1;
		return -1;
	}
	return 0;
}

static int
send_chunk(void *arg, const void *p, size_t n)
{
	struct sending	*s = arg;
	struct req	*rq = s->rq;

	if (!s->started && send_head(s) == -1)
		return FILES_STOP;
	if (rq->io.write(rq->io.ctx, p, (int)n) < 0) {
		rq->client_gone = 1;
		return FILES_STOP;
	}
	return 0;
}

int
files_send(struct req *rq, struct resp *rs, const struct upload_file *uf,
    int attachment, long long max_age_s)
{
	struct sending	s = { rq, rs, uf, attachment, max_age_s, 0 };
	int		rc;

	rc = files_stream(rq->db, uf, send_chunk, &s);
	if (!s.started) {
		if (rc == -1)
			return resp_error_msg(rs, ERR_FILE_NOT_FOUND, NULL);
		send_head(&s);		/* an empty file */
	}
	/* -1 past the head is logged: the reply ends short of its length */
	return 0;
}
