/*
 * config.c: configuration from DIFYCGI_* environment variables and an
 * optional file named by DIFYCGI_CONFIG (lines KEY=VALUE, # comments).
 * The environment wins.  Loaded once before threads start; read-only
 * afterwards.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"

#define FILE_MAX_ENTRIES	256

static struct config	 config;
const struct config	*cfg = &config;

static struct kv	 file_kv[FILE_MAX_ENTRIES];
static int		 file_n;

const char *
config_get(const char *name)
{
	const char	*v = getenv(name);
	int		 i;

	if (v != NULL)
		return v;
	for (i = 0; i < file_n; i++)
		if (strcmp(file_kv[i].key, name) == 0)
			return file_kv[i].val;
	return NULL;
}

static char *
trim(char *s)
{
	char	*e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
	    e[-1] == '\r'))
		*--e = '\0';
	return s;
}

static int
load_file(const char *path)
{
	FILE	*f;
	char	 line[4096], *k, *v, *eq;
	int	 lineno = 0;

	if ((f = fopen(path, "r")) == NULL) {
		log_error("config %s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		k = trim(line);
		if (*k == '\0' || *k == '#')
			continue;
		if ((eq = strchr(k, '=')) == NULL) {
			log_error("config %s:%d: expected KEY=VALUE", path,
			    lineno);
			fclose(f);
			return -1;
		}
		*eq = '\0';
		v = trim(eq + 1);
		k = trim(k);
		if (strlen(v) >= 2 && (v[0] == '"' || v[0] == '\'') &&
		    v[strlen(v) - 1] == v[0]) {
			v[strlen(v) - 1] = '\0';
			v++;
		}
		if (file_n == FILE_MAX_ENTRIES) {
			log_error("config %s: too many entries", path);
			fclose(f);
			return -1;
		}
		file_kv[file_n].key = xstrdup(k);
		file_kv[file_n].val = xstrdup(v);
		file_n++;
	}
	fclose(f);
	return 0;
}

static int
get_int(const char *name, long long dflt, long long min, long long max,
    int *out)
{
	const char	*v = config_get(name);
	long long	 n;

	if (v == NULL || *v == '\0') {
		*out = (int)dflt;
		return 0;
	}
	if (parse_int(v, min, max, &n) == -1) {
		log_error("%s=%s: expected an integer in %lld..%lld", name, v,
		    min, max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

static const char *
get_str(const char *name, const char *dflt)
{
	const char	*v = config_get(name);

	return v != NULL && *v != '\0' ? v : dflt;
}

int
config_load(void)
{
	const char	*file = getenv("DIFYCGI_CONFIG"), *v;
	int		 body_kb, upload_mb, rc = 0;

	if (file != NULL && *file != '\0' && load_file(file) == -1)
		return -1;
	config.data_dir = get_str("DIFYCGI_DATA_DIR", "/var/lib/difycgi");
	config.db_path = get_str("DIFYCGI_DB", NULL);
	if (config.db_path == NULL) {
		char	*p = xmalloc(strlen(config.data_dir) + 16);

		snprintf(p, strlen(config.data_dir) + 16, "%s/dify.db",
		    config.data_dir);
		config.db_path = p;
	}
	config.database_url = get_str("DIFYCGI_DATABASE_URL", NULL);
	/*
	 * Many nodes share one PostgreSQL: a signed file link made on one
	 * must verify on another, so a secret generated per node (the data
	 * directory's secret_key) will not do.
	 */
	if (config.database_url != NULL &&
	    strlen(get_str("DIFYCGI_SECRET_KEY", "")) < 16) {
		log_error("DIFYCGI_DATABASE_URL is set but DIFYCGI_SECRET_KEY "
		    "is not (at least 16 characters): every node must sign "
		    "file links with the same secret");
		rc = -1;
	}
	/*
	 * nodes that share a PostgreSQL share its files too, unless told
	 * otherwise: a file on one node's disk is missing on the others
	 */
	v = get_str("DIFYCGI_FILE_STORE", config.database_url != NULL ?
	    "database" : "local");
	if (strcmp(v, "database") == 0)
		config.file_store = FILE_STORE_DATABASE;
	else if (strcmp(v, "local") == 0)
		config.file_store = FILE_STORE_LOCAL;
	else {
		log_error("DIFYCGI_FILE_STORE=%s: expected local or database",
		    v);
		rc = -1;
	}
	config.node_id = get_str("DIFYCGI_NODE_ID", NULL);
	if (config.node_id == NULL) {
		static char	host[256];

		if (gethostname(host, sizeof(host) - 1) == -1 || *host == '\0')
			snprintf(host, sizeof(host), "localhost");
		config.node_id = host;
	}
	config.env_name = get_str("DIFYCGI_ENV", "PRODUCTION");
	rc |= get_int("DIFYCGI_MAX_BODY_KB", 1024, 1, 1024 * 1024, &body_kb);
	rc |= get_int("DIFYCGI_MAX_UPLOAD_MB", 100, 1, 4096, &upload_mb);
	rc |= get_int("DIFYCGI_THREADS", 8, 1, 1024, &config.threads);
	rc |= get_int("DIFYCGI_DB_TIMEOUT_MS", 5000, 0, 600000,
	    &config.db_timeout_ms);
	rc |= get_int("DIFYCGI_DB_STATEMENT_TIMEOUT_MS", 30000, 0, 3600000,
	    &config.db_statement_timeout_ms);
	rc |= get_int("DIFYCGI_TASK_STALE_S", 30, 2, 86400,
	    &config.task_stale_s);
	rc |= get_int("DIFYCGI_MAX_ACTIVE_REQUESTS", 0, 0, 1000000,
	    &config.max_active_requests);
	rc |= get_int("DIFYCGI_APP_SHARE_PERCENT", 50, 1, 100,
	    &config.app_share_percent);
	rc |= get_int("DIFYCGI_RESERVED_THREADS", 1, 0, 1024,
	    &config.reserved_threads);
	rc |= get_int("DIFYCGI_BACKGROUND_QUEUE", 64, 1, 100000,
	    &config.background_queue);
	rc |= get_int("DIFYCGI_PING_INTERVAL_S", 10, 1, 3600,
	    &config.ping_interval_s);
	rc |= get_int("DIFYCGI_APP_MAX_EXECUTION_S", 1200, 1, 86400,
	    &config.app_max_execution_s);
	rc |= get_int("DIFYCGI_UPSTREAM_CONNECT_MS", 10000, 1, 600000,
	    &config.upstream_connect_ms);
	rc |= get_int("DIFYCGI_UPSTREAM_FIRST_BYTE_MS", 60000, 1, 3600000,
	    &config.upstream_first_byte_ms);
	rc |= get_int("DIFYCGI_UPSTREAM_IDLE_MS", 60000, 1, 3600000,
	    &config.upstream_idle_ms);
	rc |= get_int("DIFYCGI_UPSTREAM_TOTAL_MS", 600000, 1, 86400000,
	    &config.upstream_total_ms);
	rc |= get_int("DIFYCGI_MEMORY_MESSAGES", 10, 0, 1000,
	    &config.memory_messages);
	rc |= get_int("DIFYCGI_MEMORY_TOKENS", 2000, 0, 10000000,
	    &config.memory_tokens);
	rc |= get_int("DIFYCGI_TEMPLATE_MAX_STEPS", TMPL_STEPS_MAX, 1000,
	    INT_MAX, &config.template_max_steps);
	rc |= get_int("DIFYCGI_TEMPLATE_MAX_MB", TMPL_BYTES_MAX >> 20, 1,
	    TMPL_BYTES_CEILING >> 20, &config.template_max_mb);
	rc |= get_int("DIFYCGI_IMAGE_LIMIT_MB", 10, 1, 4096,
	    &config.image_limit_mb);
	rc |= get_int("DIFYCGI_VIDEO_LIMIT_MB", 100, 1, 4096,
	    &config.video_limit_mb);
	rc |= get_int("DIFYCGI_AUDIO_LIMIT_MB", 50, 1, 4096,
	    &config.audio_limit_mb);
	rc |= get_int("DIFYCGI_FILE_LIMIT_MB", 15, 1, 4096,
	    &config.file_limit_mb);
	rc |= get_int("DIFYCGI_WORKFLOW_FILE_UPLOAD_LIMIT", 10, 1, 1000,
	    &config.workflow_file_upload_limit);
	config.max_body = (size_t)body_kb * 1024;
	config.max_upload = (size_t)upload_mb * 1024 * 1024;
	return rc ? -1 : 0;
}
