/*
 * db_blob.c: the bytes of files kept in the database (file_chunks), for
 * a file store that every node sharing a PostgreSQL reads alike.  A file
 * is chunks of DB_CHUNK_BYTES in seq order, 0 first, the last one
 * shorter (none for an empty file).  Writing holds one chunk in memory
 * at a time, and reading asks for one chunk a statement, so that a large
 * file never sits whole in this process or in one result.  A file's row
 * and chunks are written in one transaction: either both are there or
 * neither is.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"

static const char SQL_CHUNK_INSERT[] =
    "INSERT INTO file_chunks (file_id, seq, data) VALUES (?,?,?)";
static const char SQL_CHUNK_GET[] =
    "SELECT data FROM file_chunks WHERE file_id = ? AND seq = ?";

/* Fill "buf" from "fd" up to "len" bytes, short only at the end. */
static ssize_t
read_full(int fd, char *buf, size_t len)
{
	size_t	got = 0;
	ssize_t	n;

	while (got < len) {
		n = read(fd, buf + got, len - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

static int
chunk_insert(struct db *db, const char *id, int seq, const void *p,
    size_t n)
{
	struct dbst	*st = db_stmt(db, SQL_CHUNK_INSERT);
	int		 rc = -1;

	if (st != NULL && db_bind(st, "sib", id, seq, p, n) == 0)
		rc = db_exec_stmt(db, st, "file chunk insert");
	db_stmt_release(st);
	return rc;
}

int
db_upload_file_create_fd(struct db *db, const struct upload_file *f, int fd)
{
	char		*chunk = NULL;
	long long	 total = 0;
	ssize_t		 n;
	int		 seq;

	/*
	 * A lock of this file's own: db_begin's lock, which every node's
	 * task starts take, would make them wait on a long upload.
	 */
	if (db_begin_key(db, f->id) == -1)
		return -1;
	if (db_upload_file_create(db, f) == -1)
		goto fail;
	chunk = xmalloc(DB_CHUNK_BYTES);
	for (seq = 0; ; seq++) {
		n = read_full(fd, chunk, DB_CHUNK_BYTES);
		if (n == -1) {
			log_error("file %s: read: %s", f->id, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if (chunk_insert(db, f->id, seq, chunk, (size_t)n) == -1)
			goto fail;
		total += n;
		if (n < DB_CHUNK_BYTES)
			break;
	}
	if (total != f->size) {
		log_error("file %s: %lld bytes read of %lld", f->id, total,
		    f->size);
		goto fail;
	}
	if (db_commit(db) == -1)
		goto fail;
	free(chunk);
	return 0;
fail:
	db_rollback(db);
	free(chunk);
	return -1;
}

int
db_file_chunks_each(struct db *db, const char *file_id,
    int (*fn)(void *, const void *, size_t), void *arg)
{
	struct dbst	*st;
	const void	*p;
	size_t		 n;
	int		 seq, step, rc = 0;

	for (seq = 0; rc == 0; seq++) {
		st = db_stmt(db, SQL_CHUNK_GET);
		db_stmt_binary(st);	/* 1 MiB, not 2 MiB of hex */
		if (st == NULL || db_bind(st, "si", file_id, seq) == -1) {
			db_stmt_release(st);
			return -1;
		}
		step = db_step(st);
		if (step == DB_ROW) {
			p = db_col_blob(st, 0, &n);
			rc = fn(arg, p, n);
		} else if (step != DB_DONE) {
			db_log_error(db, "file chunk get");
			rc = -1;
		}
		db_stmt_release(st);
		if (step == DB_DONE)
			break;
	}
	return rc;
}
