/*
 * file.c: uploading files and reading them back.  Mirrors Dify
 * service_api/app/file.py (POST /files/upload), file_preview.py (GET
 * /files/{id}/preview: only files a message of this app refers to) and
 * the signed /files/{id}/file-preview links its upload answer carries,
 * which need no key: their signature is the permission.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "files/files.h"

static int	upload(struct req *, struct resp *);
static int	preview(struct req *, struct resp *);
static int	signed_preview(struct req *, struct resp *);

static const struct route routes[] = {
	{ "POST", "/v1/files/upload", upload, 0 },
	{ "GET", "/v1/files/{file_id:uuid}/preview", preview, 0 },
	{ "GET", "/v1/files/{file_id:uuid}/file-preview", signed_preview,
	  ROUTE_NOAUTH },
	{ NULL, NULL, NULL, 0 }
};

int
main(int argc, char *argv[])
{
	return serve_main(argc, argv, "file.fcgi", routes);
}

static int
upload(struct req *rq, struct resp *rs)
{
	struct files_form	form;
	struct upload_file	uf;
	int			rc;

	rc = files_form_read(rq, rs, FORM_UPLOAD, &form);
	if (rc == 0)
		rc = files_form_user(rq, rs, &form);
	if (rc == 0)
		rc = files_upload_check(rq, rs, &form);
	if (rc == 0)
		rc = files_store(rq, rs, &form, &uf);
	if (rc == 0)
		resp_json(rs, 201, files_upload_json(rq, &uf));
	files_form_free(&form);
	return rc;
}

/* as_attachment: true, 1, yes or on; anything else is false. */
static int
as_attachment(struct req *rq)
{
	const char	*v = req_query(rq, "as_attachment");

	return v != NULL && (strcasecmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0 || strcasecmp(v, "yes") == 0 ||
	    strcasecmp(v, "on") == 0);
}

/* The file id of the path, lowercased as ids are stored. */
static char *
file_id(struct req *rq)
{
	char	*id = pool_strdup(&rq->pool, req_param(rq, "file_id"));

	for (char *c = id; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return id;
}

static int
preview(struct req *rq, struct resp *rs)
{
	struct upload_file	 uf;
	const char		*id = file_id(rq);
	int			 rc;

	/* "user" is accepted and changes nothing, as in Dify */
	if (auth_end_user(rq, rs, 'q', 0) == -1)
		return -1;
	rc = db_upload_file_referenced(rq->db, rq->app.id, id);
	if (rc == DB_NOT_FOUND)
		return resp_error_msg(rs, ERR_FILE_NOT_FOUND,
		    "File not found in message context");
	if (rc == DB_CONFLICT)
		return resp_error_msg(rs, ERR_FILE_ACCESS_DENIED,
		    "File access denied: not owned by requesting app");
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	rc = db_upload_file_get(rq->db, &rq->pool, rq->app.id, NULL, id, &uf);
	if (rc == DB_NOT_FOUND)
		return resp_error_msg(rs, ERR_FILE_NOT_FOUND,
		    "Upload file record not found");
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	return files_send(rq, rs, &uf, as_attachment(rq), 3600);
}

static int
signed_preview(struct req *rq, struct resp *rs)
{
	static const char	 gone[] =
	    "File not found or signature is invalid";
	struct upload_file	 uf;
	const char		*id = file_id(rq);
	long long		 left_s;
	int			 rc;

	if (!files_signature_ok(rq, id, &left_s))
		return resp_error_msg(rs, ERR_NOT_FOUND, gone);
	rc = db_upload_file_by_id(rq->db, &rq->pool, id, &uf);
	if (rc == DB_NOT_FOUND)
		return resp_error_msg(rs, ERR_NOT_FOUND, gone);
	if (rc != DB_OK)
		return resp_error(rs, ERR_INTERNAL);
	/* a cached copy must not outlive the link */
	return files_send(rq, rs, &uf, as_attachment(rq), left_s);
}
