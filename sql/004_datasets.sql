-- 004_datasets: knowledge bases (Dify's datasets) and the keys of the
-- Knowledge API.  The install is the workspace: a name is unique in it,
-- and a dataset key opens every dataset, as Dify's "dataset-" keys open
-- every dataset of their tenant.  Keys are a table of their own, not
-- api_keys with a type: an app key must never reach a dataset, nor a
-- dataset key an app, and two tables make that a fact of the schema.
CREATE TABLE datasets (
	id			TEXT PRIMARY KEY,
	name			TEXT NOT NULL UNIQUE,
	description		TEXT,
	provider		TEXT NOT NULL DEFAULT 'vendor',
	permission		TEXT NOT NULL DEFAULT 'only_me',
	data_source_type	TEXT,
	indexing_technique	TEXT,
	embedding_model		TEXT,
	embedding_model_provider TEXT,
	retrieval_model		TEXT,
	created_by		TEXT NOT NULL,
	created_at		INTEGER NOT NULL,
	updated_by		TEXT,
	updated_at		INTEGER NOT NULL
);
CREATE INDEX datasets_created ON datasets (created_at);

CREATE TABLE dataset_api_keys (
	id			TEXT PRIMARY KEY,
	hash			BLOB NOT NULL UNIQUE,
	prefix			TEXT NOT NULL,
	created_at		INTEGER NOT NULL,
	last_used_at		INTEGER,
	revoked_at		INTEGER
);
