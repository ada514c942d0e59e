/*
 * files_store.c: where files live.  Paths under cfg->data_dir, temporary
 * files, a new file kept in the store cfg->file_store names and recorded,
 * a stored file read back from the store its storage_key names, an app's
 * files removed, and the 201 body of an upload (Dify's file_service.py
 * and fields/file_fields.py).  Two stores: "local", a file under
 * cfg->data_dir/files/<app>/<id>, and "database", chunks in the database
 * (storage_key "db:<id>", lib/store/db_blob.c) for nodes that share one.
 * Every reader goes through files_stream, so both stores read the same.
 * A client's filename is metadata, never a path: files are named by the
 * server.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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

/* ---- temporary files ---- */

#define TMP_STALE_S		3600	/* temporary files older are swept */

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

int
files_tmp_open(char *path, size_t len)
{
	char	id[UUID_LEN + 1], dir[4096];
	int	fd;

	if (files_make_dirs("files/.tmp") == -1 ||
	    files_data_path(dir, sizeof(dir), "files/.tmp") == -1)
		return -1;
	sweep_tmp(dir);
	uuid_new(id);
	if (snprintf(path, len, "%s/%s", dir, id) >= (int)len) {
		path[0] = '\0';
		return -1;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    0600);
	if (fd == -1) {
		log_error("%s: %s", path, strerror(errno));
		path[0] = '\0';
	}
	return fd;
}

/* ---- keeping files ---- */

/* Rename "tmp" to files/<app>/<id> and record it. */
static int
keep_local(struct db *db, struct pool *p, struct upload_file *uf,
    const char *tmp)
{
	char	rel[256], path[4096];

	snprintf(rel, sizeof(rel), "files/%s", uf->app_id);
	if (files_make_dirs(rel) == -1)
		return -1;
	snprintf(rel, sizeof(rel), "files/%s/%s", uf->app_id, uf->id);
	if (files_data_path(path, sizeof(path), rel) == -1)
		return -1;
	if (rename(tmp, path) == -1) {
		log_error("file %s: rename to %s: %s", uf->id, path,
		    strerror(errno));
		return -1;
	}
	uf->storage_key = pool_strdup(p, rel);
	if (db_upload_file_create(db, uf) == -1) {
		unlink(path);
		return -1;
	}
	return 0;
}

/* Copy "tmp" into the database with its row (db_blob.c). */
static int
keep_db(struct db *db, struct pool *p, struct upload_file *uf,
    const char *tmp)
{
	int	fd, rc;

	uf->storage_key = pool_printf(p, "db:%s", uf->id);
	fd = open(tmp, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1) {
		log_error("file %s: %s: %s", uf->id, tmp, strerror(errno));
		return -1;
	}
	rc = db_upload_file_create_fd(db, uf, fd);
	close(fd);
	return rc;
}

int
files_keep(struct db *db, struct pool *p, struct upload_file *uf,
    const char *tmp)
{
	char	id[UUID_LEN + 1];
	int	rc = -1;

	/* an app id is a UUID: one path component, never ".." */
	if (uuid_valid(uf->app_id)) {
		uuid_new(id);
		uf->id = pool_strdup(p, id);
		rc = cfg->file_store == FILE_STORE_DATABASE ?
		    keep_db(db, p, uf, tmp) : keep_local(db, p, uf, tmp);
	}
	/* copied, failed, or already renamed (ENOENT): gone either way */
	if (unlink(tmp) == -1 && errno != ENOENT)
		log_warn("%s: %s", tmp, strerror(errno));
	return rc;
}

int
files_keep_bytes(struct db *db, struct pool *p, struct upload_file *uf,
    const void *data, size_t len)
{
	char	tmp[4096];
	int	fd;

	fd = files_tmp_open(tmp, sizeof(tmp));
	if (fd == -1)
		return -1;
	if (files_write_all(fd, data, len) == -1 || close(fd) == -1) {
		log_error("%s: %s", tmp, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return files_keep(db, p, uf, tmp);
}

int
files_store(struct req *rq, struct resp *rs, struct files_form *f,
    struct upload_file *uf)
{
	int	rc;

	if (f->tmp_path[0] == '\0')
		return resp_error(rs, ERR_INTERNAL);
	memset(uf, 0, sizeof(*uf));
	uf->app_id = rq->app.id;
	uf->end_user_id = rq->user.id;
	uf->name = f->filename;
	uf->size = f->size;
	uf->extension = files_extension(&rq->pool, f->filename);
	uf->mime_type = f->mime_type;
	uf->hash = pool_strdup(&rq->pool, f->hash);
	uf->created_at = now_s();
	rc = files_keep(rq->db, &rq->pool, uf, f->tmp_path);
	f->tmp_path[0] = '\0';		/* files_keep took it */
	return rc == -1 ? resp_error(rs, ERR_INTERNAL) : 0;
}

/* ---- reading files ---- */

/* A stored file's chunks, held to the size its row gives. */
struct sized {
	int		(*fn)(void *, const void *, size_t);
	void		*arg;
	long long	 left;
	int		 over;
};

static int
sized_chunk(void *arg, const void *p, size_t n)
{
	struct sized	*s = arg;

	if ((long long)n > s->left) {
		s->over = 1;
		return -1;
	}
	s->left -= (long long)n;
	return s->fn(s->arg, p, n);
}

/* A file under the data directory, CHUNK bytes at a time. */
static int
local_stream(const struct upload_file *uf, struct sized *s)
{
	char		 path[4096], *chunk;
	struct stat	 st;
	ssize_t		 n;
	int		 fd, rc = 0;

	if (strstr(uf->storage_key, "..") != NULL ||
	    files_data_path(path, sizeof(path), uf->storage_key) == -1) {
		log_error("file %s: bad storage key", uf->id);
		return -1;
	}
	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    st.st_size != uf->size) {
		log_error("file %s: %s", uf->id, fd == -1 ? strerror(errno) :
		    !S_ISREG(st.st_mode) ? "not a regular file" :
		    "its size is not the size recorded");
		if (fd != -1)
			close(fd);
		return -1;
	}
	chunk = xmalloc(CHUNK);
	while (rc == 0) {
		n = read(fd, chunk, CHUNK);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			log_error("file %s: read: %s", uf->id,
			    strerror(errno));
		if (n <= 0) {
			rc = n == 0 ? 0 : -1;
			break;
		}
		rc = sized_chunk(s, chunk, (size_t)n);
	}
	free(chunk);
	close(fd);
	return rc;
}

int
files_stream(struct db *db, const struct upload_file *uf,
    int (*fn)(void *, const void *, size_t), void *arg)
{
	struct sized	 s = { fn, arg, uf->size, 0 };
	int		 rc;

	/* the key, not the setting: files stored before a switch stay */
	if (strncmp(uf->storage_key, "db:", 3) == 0)
		rc = db == NULL ? -1 : db_file_chunks_each(db,
		    uf->storage_key + 3, sized_chunk, &s);
	else
		rc = local_stream(uf, &s);
	if (s.over || (rc == 0 && s.left != 0)) {
		log_error("file %s: the stored bytes are not the %lld "
		    "recorded", uf->id, uf->size);
		rc = -1;
	}
	return rc;
}

/* files_read_stored's buffer */
struct collect {
	struct buf	*out;
	size_t		 left;
	int		 cut;
};

static int
collect_chunk(void *arg, const void *p, size_t n)
{
	struct collect	*c = arg;

	if (n > c->left) {
		if (!c->cut)
			return -1;
		n = c->left;
	}
	if (buf_append(c->out, p, n) == -1)
		return -1;
	c->left -= n;
	return c->cut && c->left == 0 ? FILES_STOP : 0;
}

int
files_read_stored(struct db *db, const struct upload_file *uf, size_t max,
    int cut, struct buf *out)
{
	struct collect	c = { out, max, cut };

	if (!cut && uf->size > (long long)max)
		return -1;
	if (max == 0)
		return 0;
	return files_stream(db, uf, collect_chunk, &c) == -1 ? -1 : 0;
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
