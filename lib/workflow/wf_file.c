/*
 * wf_file.c: the bytes of a Dify file object, for the nodes that read
 * files (the http-request node's binary and form-data bodies, the
 * document extractor): an upload or tool file from either store
 * (files_read_stored), else its URL through files_fetch_url.
 */
#include <stdio.h>
#include <string.h>

#include "workflow/workflow.h"

int
wf_file_bytes(struct wf_run *r, json_object *f, size_t max, struct buf *out,
    char *err, size_t errlen)
{
	struct upload_file	 uf;
	const char		*id = json_str(f, "related_id");
	const char		*url = json_str(f, "remote_url"), *tm;
	int			 rc;

	tm = json_str(f, "transfer_method");
	if (id != NULL && *id != '\0' && (tm == NULL ||
	    strcmp(tm, "remote_url") != 0)) {
		if (r->db == NULL || cfg == NULL || cfg->data_dir == NULL) {
			snprintf(err, errlen, "no file storage here");
			return -1;
		}
		rc = db_upload_file_get(r->db, r->p, r->app_id,
		    r->end_user_id, id, &uf);
		if (rc != DB_OK) {
			snprintf(err, errlen, rc == DB_NOT_FOUND ? "the file "
			    "%s was not found" : "the file %s cannot be read",
			    id);
			return -1;
		}
		if ((long long)max < uf.size) {
			snprintf(err, errlen, "the file is larger than %zu "
			    "bytes", max);
			return -1;
		}
		if (files_read_stored(r->db, &uf, max, 0, out) == -1) {
			snprintf(err, errlen, "the file %s cannot be read", id);
			return -1;
		}
		return 0;
	}
	if (url == NULL || *url == '\0')
		url = json_str(f, "url");
	if (url == NULL || *url == '\0') {
		snprintf(err, errlen, "the file has neither an upload id nor a "
		    "URL");
		return -1;
	}
	return files_fetch_url(url, max, out, err, errlen);
}
