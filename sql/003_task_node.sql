-- 003_task_node: the machine a task runs on.  A task's process is
-- checked for life only on its own node; a task of another node is dead
-- when its heartbeat is older than DIFYCGI_TASK_STALE_S.
ALTER TABLE tasks ADD COLUMN node TEXT;
