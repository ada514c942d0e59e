/*
 * files_store.c: where files live.  Paths under cfg->data_dir, a stored
 * file read back, an upload moved into place and recorded, an app's files
 * removed, and the 201 body of an upload (Dify's file_service.py and
 * fields/file_fields.py).  A client's filename is metadata, never a
 * path: files are named by the server.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "files_int.h"

/* ---- the data directory ---- */

int
files_data_path(char *out, size_t len, const char *rel)
{
	int	n = snprintf(out, len, "%s/%s", cfg->data_dir, rel);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

int
files_make_dirs(const char *rel)
{
	char	path[4096], *s;

	if (files_data_path(path, sizeof(path), rel) == -1)
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

int
files_write_all(int fd, const char *p, size_t n)
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

/* ---- stored files ---- */

int
files_read_stored(const struct upload_file *uf, size_t max, int cut,
    struct buf *out)
{
	char	path[4096], chunk[CHUNK];
	ssize_t	n;
	int	fd, rc = 0;

	if (strstr(uf->storage_key, "..") != NULL ||
	    files_data_path(path, sizeof(path), uf->storage_key) == -1)
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

int
files_store(struct req *rq, struct resp *rs, struct files_form *f,
    struct upload_file *uf)
{
	char	id[UUID_LEN + 1], rel[256], path[4096];

	if (!uuid_valid(rq->app.id) || f->tmp_path[0] == '\0')
		return resp_error(rs, ERR_INTERNAL);
	uuid_new(id);
	snprintf(rel, sizeof(rel), "files/%s", rq->app.id);
	if (files_make_dirs(rel) == -1)
		return resp_error(rs, ERR_INTERNAL);
	snprintf(rel, sizeof(rel), "files/%s/%s", rq->app.id, id);
	if (files_data_path(path, sizeof(path), rel) == -1)
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
	    files_data_path(path, sizeof(path), "files") == -1)
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
