-- 002_file_chunks (PostgreSQL): the bytes of uploaded files kept in the
-- database, as sql/002_file_chunks.sql has it for SQLite.  A file is its
-- chunks in seq order, 0 first, each at most 1 MiB (TOASTed out of line),
-- so that no statement moves a whole file; they go with their
-- upload_files row.
CREATE TABLE file_chunks (
	file_id			TEXT NOT NULL REFERENCES upload_files (id)
				ON DELETE CASCADE,
	seq			INTEGER NOT NULL,
	data			BYTEA NOT NULL,
	PRIMARY KEY (file_id, seq)
);
