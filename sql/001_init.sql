-- 001_init: the whole schema of the Service API.  Every table holding app
-- data carries app_id; conversations and messages carry the end user.

CREATE TABLE apps (
	id			TEXT PRIMARY KEY,
	name			TEXT NOT NULL,
	description		TEXT NOT NULL DEFAULT '',
	mode			TEXT NOT NULL CHECK (mode IN ('completion', 'chat',
				'agent-chat', 'workflow', 'advanced-chat')),
	icon_type		TEXT,
	icon			TEXT,
	icon_background		TEXT,
	author_name		TEXT,
	tags			TEXT NOT NULL DEFAULT '[]',
	status			TEXT NOT NULL DEFAULT 'normal',
	enable_api		INTEGER NOT NULL DEFAULT 1,
	max_active_requests	INTEGER NOT NULL DEFAULT 0,
	config			TEXT NOT NULL DEFAULT '{}',
	site			TEXT,
	created_at		INTEGER NOT NULL,
	updated_at		INTEGER NOT NULL
);

-- Keys outlive their app on purpose: a key whose app was deleted answers
-- 403 "The app no longer exists.", as Dify does.
CREATE TABLE api_keys (
	id			TEXT PRIMARY KEY,
	app_id			TEXT NOT NULL,
	hash			BLOB NOT NULL UNIQUE,
	prefix			TEXT NOT NULL,
	created_at		INTEGER NOT NULL,
	last_used_at		INTEGER,
	revoked_at		INTEGER
);
CREATE INDEX api_keys_app ON api_keys (app_id);

CREATE TABLE end_users (
	id			TEXT PRIMARY KEY,
	app_id			TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	session_id		TEXT NOT NULL,
	is_anonymous		INTEGER NOT NULL DEFAULT 0,
	created_at		INTEGER NOT NULL,
	updated_at		INTEGER NOT NULL,
	UNIQUE (app_id, session_id)
);

CREATE TABLE workflows (
	id			TEXT PRIMARY KEY,
	app_id			TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	version			TEXT NOT NULL,
	graph			TEXT NOT NULL,
	features		TEXT NOT NULL DEFAULT '{}',
	environment_variables	TEXT NOT NULL DEFAULT '[]',
	conversation_variables	TEXT NOT NULL DEFAULT '[]',
	created_at		INTEGER NOT NULL
);
CREATE INDEX workflows_app ON workflows (app_id, created_at);

CREATE TABLE conversations (
	id			TEXT PRIMARY KEY,
	app_id			TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	end_user_id		TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
	name			TEXT NOT NULL,
	inputs			TEXT NOT NULL DEFAULT '{}',
	introduction		TEXT,
	status			TEXT NOT NULL DEFAULT 'normal',
	from_source		TEXT NOT NULL DEFAULT 'api',
	dialogue_count		INTEGER NOT NULL DEFAULT 0,
	deleted			INTEGER NOT NULL DEFAULT 0,
	created_at		INTEGER NOT NULL,
	updated_at		INTEGER NOT NULL
);
CREATE INDEX conversations_user_updated
	ON conversations (app_id, end_user_id, deleted, updated_at);
CREATE INDEX conversations_user_created
	ON conversations (app_id, end_user_id, deleted, created_at);

CREATE TABLE messages (
	id			TEXT PRIMARY KEY,
	app_id			TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	conversation_id		TEXT REFERENCES conversations (id) ON DELETE CASCADE,
	end_user_id		TEXT NOT NULL REFERENCES end_users (id) ON DELETE CASCADE,
	task_id			TEXT NOT NULL,
	mode			TEXT NOT NULL,
	query			TEXT NOT NULL DEFAULT '',
	inputs			TEXT NOT NULL DEFAULT '{}',
	answer			TEXT NOT NULL DEFAULT '',
	status			TEXT NOT NULL DEFAULT 'running',
	error			TEXT,
	message_tokens		INTEGER NOT NULL DEFAULT 0,
	answer_tokens		INTEGER NOT NULL DEFAULT 0,
	total_price		TEXT NOT NULL DEFAULT '0',
	currency		TEXT NOT NULL DEFAULT 'USD',
	latency			REAL NOT NULL DEFAULT 0,
	parent_message_id	TEXT,
	message_files		TEXT NOT NULL DEFAULT '[]',
	agent_thoughts		TEXT NOT NULL DEFAULT '[]',
	workflow_run_id		TEXT,
	created_at		INTEGER NOT NULL,
	seq			INTEGER NOT NULL DEFAULT 0,
	updated_at		INTEGER NOT NULL
);
CREATE INDEX messages_conversation ON messages (conversation_id, created_at, seq);
CREATE INDEX messages_app_user ON messages (app_id, end_user_id);
CREATE INDEX messages_running ON messages (status) WHERE status = 'running';

CREATE TABLE message_feedbacks (
	id			TEXT PRIMARY KEY,
	app_id			TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	conversation_id		TEXT,
	message_id		TEXT NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
	rating			TEXT NOT NULL CHECK (rating IN ('like', 'dislike')),
	content			TEXT,
	from_source		TEXT NOT NULL DEFAULT 'user',
	from_end_user_id	TEXT,
	from_account_id		TEXT,
	created_at		INTEGER NOT NULL,
	updated_at		INTEGER NOT NULL,
	UNIQUE (message_id, from_end_user_id)
);
CREATE INDEX message_feedbacks_app ON message_feedbacks (app_id, created_at, id);

CREATE TABLE conversation_variables (
	id			TEXT NOT NULL,
	conversation_id		TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
	app_id			TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	name			TEXT NOT NULL,
	value_type		TEXT NOT NULL,
	value			TEXT,
	description		TEXT,
	created_at		INTEGER NOT NULL,
	seq			INTEGER NOT NULL DEFAULT 0,
	updated_at		INTEGER NOT NULL,
	PRIMARY KEY (id, conversation_id)
);
CREATE INDEX conversation_variables_conv
	ON conversation_variables (conversation_id, created_at, seq);

CREATE TABLE workflow_runs (
	id			TEXT PRIMARY KEY,
	app_id			TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	workflow_id		TEXT NOT NULL,
	sequence_number		INTEGER NOT NULL,
	triggered_from		TEXT NOT NULL DEFAULT 'app-run',
	version			TEXT NOT NULL DEFAULT '',
	status			TEXT NOT NULL DEFAULT 'running',
	inputs			TEXT NOT NULL DEFAULT '{}',
	outputs			TEXT,
	error			TEXT,
	elapsed_time		REAL NOT NULL DEFAULT 0,
	total_tokens		INTEGER NOT NULL DEFAULT 0,
	total_steps		INTEGER NOT NULL DEFAULT 0,
	exceptions_count	INTEGER NOT NULL DEFAULT 0,
	created_by_end_user_id	TEXT,
	conversation_id		TEXT,
	message_id		TEXT,
	task_id			TEXT,
	created_at		INTEGER NOT NULL,
	finished_at		INTEGER
);
CREATE INDEX workflow_runs_app ON workflow_runs (app_id, created_at);

CREATE TABLE workflow_node_executions (
	id			TEXT PRIMARY KEY,
	app_id			TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	workflow_run_id		TEXT NOT NULL REFERENCES workflow_runs (id) ON DELETE CASCADE,
	idx			INTEGER NOT NULL,
	node_id			TEXT NOT NULL,
	node_type		TEXT NOT NULL,
	title			TEXT NOT NULL DEFAULT '',
	predecessor_node_id	TEXT,
	inputs			TEXT,
	process_data		TEXT,
	outputs			TEXT,
	status			TEXT NOT NULL,
	error			TEXT,
	elapsed_time		REAL NOT NULL DEFAULT 0,
	execution_metadata	TEXT,
	created_at		INTEGER NOT NULL,
	finished_at		INTEGER
);
CREATE INDEX workflow_node_executions_run
	ON workflow_node_executions (workflow_run_id, idx);

CREATE TABLE upload_files (
	id			TEXT PRIMARY KEY,
	app_id			TEXT NOT NULL REFERENCES apps (id) ON DELETE CASCADE,
	end_user_id		TEXT,
	name			TEXT NOT NULL,
	size			INTEGER NOT NULL,
	extension		TEXT NOT NULL,
	mime_type		TEXT NOT NULL,
	storage_key		TEXT NOT NULL,
	hash			TEXT,
	created_at		INTEGER NOT NULL
);
CREATE INDEX upload_files_app ON upload_files (app_id);

-- Running generations: the stop flag and the per-app active-request
-- limit are shared through this table, so any process can stop a task.
CREATE TABLE tasks (
	id			TEXT PRIMARY KEY,
	app_id			TEXT NOT NULL,
	end_user_id		TEXT NOT NULL,
	kind			TEXT NOT NULL,
	message_id		TEXT,
	workflow_run_id		TEXT,
	pid			INTEGER,
	stop_requested		INTEGER NOT NULL DEFAULT 0,
	started_at		INTEGER NOT NULL,
	heartbeat_at		INTEGER NOT NULL,
	finished_at		INTEGER
);
CREATE INDEX tasks_active ON tasks (app_id) WHERE finished_at IS NULL;
