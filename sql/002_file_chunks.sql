-- 002_file_chunks: the bytes of uploaded files kept in the database
-- (DIFYCGI_FILE_STORE=database, storage_key "db:<id>"), so that every
-- node sharing it reads every file.  A file is its chunks in seq order,
-- 0 first, each at most 1 MiB, so that no statement moves a whole file;
-- they go with their upload_files row.  A rowid table: SQLite keeps rows
-- this large in overflow pages, which WITHOUT ROWID would handle badly.
CREATE TABLE file_chunks (
	file_id			TEXT NOT NULL REFERENCES upload_files (id)
				ON DELETE CASCADE,
	seq			INTEGER NOT NULL,
	data			BLOB NOT NULL,
	PRIMARY KEY (file_id, seq)
);
