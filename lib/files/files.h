/*
 * files.h: the door of lib/files/: uploaded files, files named in
 * generation requests, remote URLs and the text of documents, all with
 * the prefix files_ (and hmac_sha256).  Its files: files_types.c (file
 * types and limits), files_upload.c (upload forms), files_store.c
 * (storage, an app's files removed), files_sign.c (signed URLs),
 * files_serve.c (previews and downloads), files_use.c (the "files" of
 * chat and completion requests), files_fetch.c (remote URLs) and
 * files_text.c (text of documents); what they share is files_int.h.
 * Mirrors Dify's service_api/app/file.py, file_preview.py,
 * services/file_service.py and factories/file_factory.py.
 *
 * Files are named by the server, never by the client, and kept where
 * DIFYCGI_FILE_STORE says: under cfg->data_dir/files/<app id>/<file id>,
 * or in the database as chunks, where every node that shares it reads
 * them.  A body is streamed to a temporary file in cfg->data_dir/files/
 * .tmp first and kept once every check passed.
 */
#ifndef FILES_H
#define FILES_H

#include "model/model.h"

/* ---- files_types.c: file types ---- */

enum file_type { FT_IMAGE, FT_VIDEO, FT_AUDIO, FT_DOCUMENT, FT_CUSTOM,
	FT__MAX };

extern const char *const files_type_names[FT__MAX];	/* "image", ... */

/* The lowercased text after the last '.' of "name" (no dot), into "p". */
const char *files_extension(struct pool *, const char *name);
/* The type Dify gives an extension (no dot, any case); FT_CUSTOM if none. */
enum file_type files_type_of_extension(const char *ext);
/* The type a MIME type suggests (Dify's substring rules). */
enum file_type files_type_of_mime(const char *mime);
/*
 * The MIME type the first bytes show: common images, PDF and audio and
 * video containers; NULL when none matches.
 */
const char *files_sniff(const void *, size_t);
/* The size limit in bytes of an upload with this extension. */
size_t	 files_size_limit(const char *ext);

/* ---- files_upload.c: upload forms ---- */

enum files_form_kind { FORM_UPLOAD, FORM_AUDIO };

#define FORM_USER_MAX	1024	/* bytes of the "user" field kept */

/* A multipart upload as read from the request, file part on disk. */
struct files_form {
	enum files_form_kind	 kind;
	int			 have_file;	/* a file part named file */
	int			 file_fields;	/* names of file parts */
	const char		*filename;	/* from "pool" of the request */
	const char		*mime_type;	/* as declared, or "" */
	long long		 size;
	int			 too_large;	/* bytes past the cap dropped */
	char			 hash[65];	/* SHA-256, hex */
	char			 tmp_path[4096];	/* "" when none */
	const char		*user;		/* the "user" field, or NULL */
	int			 user_too_long;
	/* parse state */
	struct req		*rq;
	int			 fd;
	int			 cur;		/* the part being read: 0 none,
						   1 our file, 2 user field */
	size_t			 cap;
	struct sha256		 sha;
	struct buf		 user_buf;
	const char		*names[MP_PARTS_MAX];	/* of file parts */
	int			 nnames;
};

/*
 * Read the request's multipart body in chunks straight from rq->io, at
 * most cfg->max_upload bytes, writing the first part of the file field
 * ("file", and for FORM_AUDIO also "audio_file") to a temporary file
 * whose size is capped by its kind (FORM_UPLOAD: files_size_limit of its
 * extension; FORM_AUDIO: 30 MB); bytes past the cap are counted and
 * dropped (too_large).  Returns 0 (also when there is no file: have_file
 * tells), or -1 with the error in "rs": 413 for a body over the cap, too
 * many parts or oversized headers; 400 bad_request for a malformed or
 * cut body.  files_form_free() in every case.
 */
int	 files_form_read(struct req *, struct resp *, enum files_form_kind,
	    struct files_form *);
/* Remove the temporary file unless it was kept; free the form's buffers. */
void	 files_form_free(struct files_form *);
/*
 * Resolve the end user named by the form's "user" field (DEFAULT-USER
 * when absent) into rq->user.  0, or -1 with a 400 or 500 in "rs".
 */
int	 files_form_user(struct req *, struct resp *,
	    const struct files_form *);
/*
 * Dify's checks of an upload, in its order: no file part, file parts
 * under more than one name, no MIME type, no filename, invalid characters
 * in the filename, the extension blacklist
 * (DIFYCGI_UPLOAD_EXTENSION_BLACKLIST, comma separated), the size limit.
 * Shortens names over 200 characters as Dify does.  0 or -1 with the
 * error in "rs".
 */
int	 files_upload_check(struct req *, struct resp *, struct files_form *);

/* ---- files_store.c: stored files ---- */

/*
 * Keep the bytes of the temporary file "tmp" (files_form_read's, or
 * any under cfg->data_dir/files/.tmp) as a new file and record it: "uf"
 * gets its id and storage_key here (strings from "p"), the caller fills
 * the rest.  The store is cfg->file_store: "tmp" is renamed into
 * files/<app>/<id> (local), or copied into the database with the row in
 * one transaction (database, storage_key "db:<id>").  "tmp" is gone
 * afterwards, whatever the outcome.  0 or -1 (logged; nothing kept).
 */
int	 files_keep(struct db *, struct pool *, struct upload_file *uf,
	    const char *tmp);
/* The same for bytes in memory (a file a workflow node made). */
int	 files_keep_bytes(struct db *, struct pool *, struct upload_file *uf,
	    const void *data, size_t len);
/*
 * Keep the checked form's file (files_keep) for rq->app and rq->user.
 * Fills "uf" (strings from the request's pool).  0, or -1 with a 500 in
 * "rs".
 */
int	 files_store(struct req *, struct resp *, struct files_form *,
	    struct upload_file *);

#define FILES_STOP	1	/* a reader's "enough" */

/*
 * Call fn(arg, bytes, len) for the bytes of stored file "uf", in order
 * and in chunks (64 KiB of a local file, 1 MiB of the database's), from
 * the store its storage_key names, not the one configured now: "db:<id>"
 * reads database "db", any other key a file under cfg->data_dir.  The
 * bytes must add up to uf->size.  fn returns 0 for more, anything else
 * to stop.  Returns 0, fn's nonzero return, or -1 (logged) when the
 * bytes cannot be read or are not the size recorded: before any call of
 * fn when the file cannot be found or opened at all.
 */
int	 files_stream(struct db *, const struct upload_file *uf,
	    int (*fn)(void *, const void *, size_t), void *arg);
/*
 * Append stored file "uf" (files_stream) to "out", initialised by the
 * caller: at most "max" bytes, the rest left unread when "cut", else -1
 * for a larger file.  0 or -1.
 */
int	 files_read_stored(struct db *, const struct upload_file *uf,
	    size_t max, int cut, struct buf *out);
/*
 * Remove what an app stored under cfg->data_dir/files/<app_id>/ and that
 * directory, once the app is gone (the files the database kept went with
 * its rows: db_app_delete).  Symbolic links are never followed:
 * the app's directory must be a real one, and a link in it is removed as
 * a link.  Adds the regular files removed and their bytes to "nfiles" and
 * "bytes".  0 (also when the app stored nothing), or -1 with what was
 * left logged.
 */
int	 files_app_remove(const char *app_id, long long *nfiles,
	    long long *bytes);
/* The 201 body of an upload (spec 8.1). */
json_object *files_upload_json(struct req *, const struct upload_file *);

/* ---- files_sign.c: signed URLs ---- */

void	 hmac_sha256(const void *key, size_t klen, const void *msg,
	    size_t mlen, uint8_t out[32]);
/*
 * The signed, time-limited URL of a stored file: <base>/v1/files/<id>/
 * file-preview?timestamp=T&nonce=N&sign=S, S = base64url(HMAC-SHA256 of
 * "file-preview|<id>|T|N") under the server secret (DIFYCGI_SECRET_KEY,
 * else a random key kept in cfg->data_dir/secret_key, mode 0600).  <base>
 * is DIFYCGI_FILES_URL, else the request's scheme, host and mount prefix.
 * From the request's pool; NULL when no secret can be had.
 */
char	*files_signed_url(struct req *, const char *file_id);
/*
 * Whether timestamp, nonce and sign of the query are a valid signature of
 * "file_id" younger than DIFYCGI_FILES_ACCESS_TIMEOUT_S (300 s).  1 or 0;
 * when 1, "left_s" is how many seconds the link has left.
 */
int	 files_signature_ok(struct req *, const char *file_id,
	    long long *left_s);
/* ---- files_serve.c: previews and downloads ---- */

/*
 * Send a stored file as the reply: its MIME type (application/octet-
 * stream with Content-Disposition attachment and an RFC 5987 filename*
 * when "attachment"), Content-Length, Cache-Control private for at most
 * "max_age_s" seconds (and never more than an hour); the bytes in chunks
 * as files_stream reads them, through rq->io.  Returns 0 (also when the client left mid-way), or -1
 * with a 404 in "rs" when the file cannot be opened.
 */
int	 files_send(struct req *, struct resp *, const struct upload_file *,
	    int attachment, long long max_age_s);

/* ---- files_use.c: the "files" of chat and completion requests ---- */

struct files_use {
	json_object	*message_files;	/* messages.message_files, owned */
	json_object	*parts;		/* go before the query; owned; NULL */
};

/*
 * Check the request body's "files" (spec 4.4) against the app's
 * file_upload settings (file_upload.enabled, allowed_file_types,
 * allowed_file_extensions, allowed_file_upload_methods, number_limits, or
 * the legacy file_upload.image) and build what the message stores and
 * what the model sees: images as image_url parts (a data: URL for an
 * uploaded file, the URL itself for a remote one), the text of documents
 * as text parts.  Ignored (0, nothing) when the feature is off.  Returns
 * 0, or -1 with a 400 invalid_param in "rs".  files_use_free() always.
 */
int	 files_use_request(struct req *, struct resp *, struct files_use *);
/* Make "m" carry the files' parts then its own text (m->content stays). */
void	 files_use_attach(struct files_use *, struct llm_msg *m);
void	 files_use_free(struct files_use *);

/* ---- files_fetch.c: remote URLs ---- */

/*
 * Whether "url" may be fetched or handed on: http or https, and every
 * address its host is or resolves to is public (not loopback, private,
 * link-local, CGNAT, multicast or reserved) unless
 * DIFYCGI_ALLOW_PRIVATE_URLS=1.  0, or -1 with a sentence in "err".
 */
int	 files_url_check(const char *url, char *err, size_t errlen);
/*
 * GET "url" into "out" (appended), at most "max" bytes, following at most
 * three redirects, each hop checked as files_url_check does and its
 * address pinned (CURLOPT_RESOLVE), every connection checked again when
 * its socket opens, so that DNS rebinding cannot reach a private address;
 * no proxy; DIFYCGI_FETCH_TIMEOUT_MS (30 s) in all.  Returns 0, or -1
 * with a sentence for the client in "err".
 */
int	 files_fetch_url(const char *url, size_t max, struct buf *out,
	    char *err, size_t errlen);

/* ---- files_text.c: the text of documents ---- */

#define FILES_NO_TEXT	1
#define FILES_BAD_DOC	2	/* a damaged or hostile document */

/*
 * Append the text of a document to "out" for a prompt: plain text,
 * Markdown, CSV, JSON (and other text formats) as they are, HTML without
 * tags, comments, scripts and styles, entities decoded; PDF page after
 * page; docx paragraphs and tables (Markdown), xlsx sheets as Markdown
 * tables, pptx slides' paragraphs, in the shapes of Dify's
 * document-extractor node.  The type comes from "extension" (no dot, any
 * case) or else "mime_type"; either may be NULL.  Invalid UTF-8 becomes
 * U+FFFD; text past out->max is cut at a character boundary.  Returns 0,
 * FILES_NO_TEXT for other types, or FILES_BAD_DOC for a PDF or Office
 * file that is damaged or passes the caps on size, entries, depth, pages
 * or time ("out" then as it was).
 */
int	 files_extract_text(const char *extension, const char *mime_type,
	    const char *data, size_t len, struct buf *out);

#endif
