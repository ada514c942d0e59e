/*
 * files.h: uploaded files, files named in generation requests, remote
 * URLs, and speech.  Modules and prefixes: multipart_ (multipart.c, a
 * streaming multipart/form-data parser), files_ (files.c: upload forms,
 * file types, storage, signed URLs, previews, the "files" of chat and
 * completion requests, fetching remote URLs, text of documents), db_
 * (db_files.c) and upstream_transcribe / upstream_speech
 * (upstream_audio.c).  Mirrors Dify's service_api/app/file.py,
 * file_preview.py, audio.py, services/file_service.py and
 * factories/file_factory.py.
 *
 * Files live under cfg->data_dir/files/<app id>/<file id>, named by the
 * server, never by the client; a body is streamed to a temporary file in
 * cfg->data_dir/files/.tmp first and renamed once every check passed.
 */
#ifndef FILES_H
#define FILES_H

/* ---- multipart.c ---- */

#define MP_BOUNDARY_MAX	70		/* RFC 2046 */
#define MP_HEADER_MAX	8192		/* the header block of one part */
#define MP_PARTS_MAX	64

enum mp_err {
	MP_OK,
	MP_ERR_BOUNDARY,	/* not multipart/form-data, or no boundary */
	MP_ERR_SYNTAX,		/* a malformed delimiter line or header */
	MP_ERR_HEADER_TOO_LARGE,
	MP_ERR_TOO_MANY_PARTS,
	MP_ERR_TRUNCATED,	/* the body ended before the last delimiter */
	MP_ERR_CALLBACK,	/* a callback returned -1 */
	MP_ERR__MAX
};

/* What a part's headers say; strings live until the next part starts. */
struct mp_part {
	const char	*name;		/* Content-Disposition name, or NULL */
	/* filename* (decoded) or filename; NULL: a field, not a file */
	const char	*filename;
	const char	*content_type;	/* lowercased, no parameters, or "" */
	int		 index;		/* 0 for the first part */
};

struct multipart {
	/*
	 * Callbacks: a part begins (headers parsed), its bytes (in pieces of
	 * any size, possibly none), its end.  Returning -1 stops the parse
	 * with MP_ERR_CALLBACK.
	 */
	int		(*on_part)(void *arg, const struct mp_part *);
	int		(*on_data)(void *arg, const char *, size_t);
	int		(*on_end)(void *arg);
	void		*arg;

	char		 delim[4 + MP_BOUNDARY_MAX + 1];	/* CRLF--b */
	size_t		 dlen;
	size_t		 match;		/* delimiter bytes held back */
	int		 state;
	int		 tail;		/* after a delimiter: "--" or CRLF */
	int		 lwsp;		/* transport padding seen */
	int		 in_part;
	int		 nparts;
	struct buf	 head;		/* the header block being read */
	struct buf	 vals;		/* decoded header values of the part */
	enum mp_err	 err;
};

/*
 * Start parsing a body whose Content-Type is "content_type" (its boundary
 * parameter, quoted or not).  Returns 0, or -1 with mp->err set to
 * MP_ERR_BOUNDARY; multipart_free() is needed either way.
 */
int	 multipart_init(struct multipart *, const char *content_type);
/*
 * Parse "n" more bytes, split anywhere.  Returns 0 (more welcome), 1 when
 * the closing delimiter was seen (anything after it is ignored), or -1
 * with mp->err set; after 1 or -1 later calls return the same.
 */
int	 multipart_feed(struct multipart *, const char *, size_t);
/* The body has ended: 0 when it was complete, else -1 (MP_ERR_TRUNCATED). */
int	 multipart_end(struct multipart *);
void	 multipart_free(struct multipart *);
const char *multipart_strerror(enum mp_err);

/* ---- files.c: Dify's file errors, in one table ---- */

/* ---- files.c: file types ---- */

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

/* ---- files.c: upload forms ---- */

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

/* ---- files.c and db_files.c: stored files ---- */

struct upload_file {
	const char	*id;
	const char	*app_id;
	const char	*end_user_id;
	const char	*name;
	long long	 size;
	const char	*extension;	/* lowercased, no dot, may be "" */
	const char	*mime_type;
	const char	*storage_key;	/* relative to cfg->data_dir */
	const char	*hash;
	int64_t		 created_at;
};

/*
 * Move the checked form's file into the app's directory under a new id
 * and record it for rq->app and rq->user.  Fills "uf" (strings from the
 * request's pool).  0, or -1 with a 500 in "rs".
 */
int	 files_store(struct req *, struct resp *, struct files_form *,
	    struct upload_file *);
/*
 * Remove what an app stored under cfg->data_dir/files/<app_id>/ and that
 * directory, once the app is gone.  Symbolic links are never followed:
 * the app's directory must be a real one, and a link in it is removed as
 * a link.  Adds the regular files removed and their bytes to "nfiles" and
 * "bytes".  0 (also when the app stored nothing), or -1 with what was
 * left logged.
 */
int	 files_app_remove(const char *app_id, long long *nfiles,
	    long long *bytes);
/* The 201 body of an upload (spec 8.1). */
json_object *files_upload_json(struct req *, const struct upload_file *);

int	 db_upload_file_create(struct db *, const struct upload_file *);
/*
 * A file of the app (and of the end user unless "end_user_id" is NULL):
 * DB_OK, DB_NOT_FOUND or -1.
 */
int	 db_upload_file_get(struct db *, struct pool *, const char *app_id,
	    const char *end_user_id, const char *id, struct upload_file *);
/*
 * A file by id alone, for signed URLs, whose signature is the only
 * capability needed: DB_OK, DB_NOT_FOUND or -1.
 */
int	 db_upload_file_by_id(struct db *, struct pool *, const char *id,
	    struct upload_file *);
/*
 * Whether a message references the file in its message_files: DB_OK when
 * one of this app does, DB_CONFLICT when only another app's does,
 * DB_NOT_FOUND when none does, -1 on error.
 */
int	 db_upload_file_referenced(struct db *, const char *app_id,
	    const char *file_id);
/*
 * The answer of a message of the app and end user: DB_OK, DB_NOT_FOUND
 * (none, or another user's or app's) or -1.
 */
int	 db_message_answer(struct db *, struct pool *, const char *app_id,
	    const char *end_user_id, const char *message_id,
	    const char **answer);

/* ---- files.c: signed URLs and serving files ---- */

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
/*
 * Send a stored file as the reply: its MIME type (application/octet-
 * stream with Content-Disposition attachment and an RFC 5987 filename*
 * when "attachment"), Content-Length, Cache-Control private for at most
 * "max_age_s" seconds (and never more than an hour); the bytes in chunks
 * through rq->io.  Returns 0 (also when the client left mid-way), or -1
 * with a 404 in "rs" when the file cannot be opened.
 */
int	 files_send(struct req *, struct resp *, const struct upload_file *,
	    int attachment, long long max_age_s);

/* ---- files.c: the "files" of chat and completion requests ---- */

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

/* ---- files.c: remote URLs and documents ---- */

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

#define FILES_NO_TEXT	1

/*
 * Append the text of a document to "out" for a prompt: plain text,
 * Markdown, CSV, JSON (and other text formats) as they are, HTML without
 * tags, comments, scripts and styles, entities decoded.  The type comes
 * from "extension" (no dot, any case) or else "mime_type"; either may be
 * NULL.  Invalid UTF-8 becomes U+FFFD; text past out->max is cut at a
 * character boundary.  Returns 0, or FILES_NO_TEXT for other types.
 */
int	 files_extract_text(const char *extension, const char *mime_type,
	    const char *data, size_t len, struct buf *out);

/* ---- upstream_audio.c: speech over the app's model provider ---- */

#define UPSTREAM_NO_SPEECH	2	/* the provider has no such model */

/*
 * Transcribe the audio file at "path" ("mime" as declared) with the
 * provider's speech-to-text model (DIFYCGI_PROVIDER_<NAME>_STT_MODEL,
 * default whisper-1; "none" for none): POST {base}/audio/transcriptions.
 * Returns 0 with the text in res->text, UPSTREAM_NO_SPEECH (the offline
 * provider, or none configured), or -1 with res->err and res->errmsg as
 * upstream_chat sets them.
 */
int	 upstream_transcribe(const char *provider, const char *path,
	    const char *mime, struct llm_result *res);
/*
 * Synthesize "text" with "voice" (the provider's
 * DIFYCGI_PROVIDER_<NAME>_TTS_VOICE, else "alloy", when NULL) and the
 * provider's text-to-speech model (DIFYCGI_PROVIDER_<NAME>_TTS_MODEL,
 * default tts-1; "none" for none): POST {base}/audio/speech, in pieces
 * of at most 4000 bytes cut at sentence ends.  The audio goes to
 * "on_audio" as it arrives, with the provider's Content-Type; on_audio
 * returning -1 stops (client gone: res->stopped).  Returns 0, 1 when
 * stopped, UPSTREAM_NO_SPEECH, or -1 with res->err set; res->text holds
 * nothing.
 */
int	 upstream_speech(const char *provider, const char *text,
	    const char *voice, int (*on_audio)(void *arg, const char *ctype,
	    const char *, size_t), void *arg, struct llm_result *res);

#endif
