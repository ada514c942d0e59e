/*
 * files_serve.c: a stored file sent as the reply, for the preview and
 * download of Dify's file_preview.py: its headers (type, disposition,
 * caching, sandboxing of active types) and its bytes in chunks.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

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
	    files_data_path(path, sizeof(path), uf->storage_key) == -1)
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
