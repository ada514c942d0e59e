/*
 * files_use.c: the "files" of chat and completion requests, checked
 * against the app's file_upload settings (Dify's
 * FileUploadConfigManager and factories/file_factory.py) and turned into
 * what the message stores and what the model sees: images as image_url
 * parts, the text of documents as text parts.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "files_int.h"

#define DOC_TEXT_MAX		(256 * 1024)	/* text of one document */
#define DEFAULT_NUMBER_LIMITS	3	/* Dify's legacy image default */
#define REQUEST_FILES_MAX	64
#define M_LOCAL			0x01
#define M_REMOTE		0x02

/* The app's file_upload settings, as Dify's FileUploadConfigManager. */
struct policy {
	unsigned	 types;		/* bit per enum file_type; 0: any */
	json_object	*exts;		/* allowed_file_extensions or NULL */
	unsigned	 methods;	/* M_ bits; 0: any */
	unsigned	 image_methods;
	long long	 number_limits;	/* 0: none */
	const char	*detail;
};

/* One entry of "files", resolved. */
struct rfile {
	unsigned		 method;
	enum file_type		 type;
	const char		*filename;
	const char		*ext;
	const char		*mime;
	const char		*url;		/* remote */
	long long		 size;		/* -1 unknown */
	struct upload_file	 uf;		/* local */
};

static int
truthy(json_object *v)
{
	if (v == NULL)
		return 0;
	if (json_object_is_type(v, json_type_boolean) ||
	    json_object_is_type(v, json_type_int))
		return json_object_get_int64(v) != 0;
	return 0;
}

static unsigned
method_bit(const char *s)
{
	if (s == NULL)
		return 0;
	if (strcmp(s, "local_file") == 0)
		return M_LOCAL;
	if (strcmp(s, "remote_url") == 0)
		return M_REMOTE;
	return 0;
}

static unsigned
method_bits(json_object *a)
{
	unsigned	bits = 0;
	size_t		i, n;

	if (!json_object_is_type(a, json_type_array))
		return 0;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++)
		bits |= method_bit(json_object_get_string(
		    json_object_array_get_idx(a, i)));
	/* a list naming nothing we know lets nothing through */
	return n > 0 && bits == 0 ? 0x80 : bits;
}

static int
type_of_name(const char *s)
{
	int	t;

	for (t = 0; t < FT__MAX; t++)
		if (s != NULL && strcmp(s, files_type_names[t]) == 0)
			return t;
	return -1;
}

static long long
int_or(json_object *v, long long dflt)
{
	if (json_object_is_type(v, json_type_int))
		return json_object_get_int64(v);
	return dflt;
}

/* 1 when file upload is on (with "pol" filled), 0 when off. */
static int
policy_of(json_object *fu, struct policy *pol)
{
	json_object	*img = json_get(fu, "image"), *types;
	const char	*d = json_str(img, "detail");
	size_t		 i, n;
	int		 t;

	memset(pol, 0, sizeof(*pol));
	pol->detail = d != NULL && strcmp(d, "low") == 0 ? "low" : "high";
	if (truthy(json_get(fu, "enabled"))) {
		types = json_get(fu, "allowed_file_types");
		n = json_object_is_type(types, json_type_array) ?
		    json_object_array_length(types) : 0;
		for (i = 0; i < n; i++) {
			t = type_of_name(json_object_get_string(
			    json_object_array_get_idx(types, i)));
			pol->types |= t >= 0 ? 1u << t : 1u << FT__MAX;
		}
		pol->exts = json_get(fu, "allowed_file_extensions");
		pol->methods = method_bits(json_get(fu,
		    "allowed_file_upload_methods"));
		pol->image_methods = pol->methods;
		pol->number_limits = int_or(json_get(fu, "number_limits"), 1);
		return 1;
	}
	if (truthy(json_get(img, "enabled"))) {
		/* the legacy form: images only */
		pol->types = 1u << FT_IMAGE;
		pol->methods = method_bits(json_get(img, "transfer_methods"));
		pol->image_methods = pol->methods;
		pol->number_limits = int_or(json_get(img, "number_limits"),
		    DEFAULT_NUMBER_LIMITS);
		return 1;
	}
	return 0;
}

/* Whether ".ext" (or "ext") is in allowed_file_extensions. */
static int
ext_allowed(json_object *list, const char *ext)
{
	const char	*s;
	size_t		 i, n;

	if (!json_object_is_type(list, json_type_array))
		return 0;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		s = json_object_get_string(json_object_array_get_idx(list, i));
		if (s == NULL)
			continue;
		if (*s == '.')
			s++;
		if (strcasecmp(s, ext) == 0)
			return 1;
	}
	return 0;
}

/* Dify's _is_file_valid_with_config, on the type the caller gave. */
static int
allowed(const struct policy *pol, enum file_type given, const char *ext,
    unsigned method)
{
	if (pol->types != 0 && given != FT_CUSTOM &&
	    (pol->types & (1u << given)) == 0)
		return 0;
	if (given == FT_CUSTOM && !ext_allowed(pol->exts, ext))
		return 0;
	if (given == FT_IMAGE)
		return pol->image_methods == 0 ||
		    (pol->image_methods & method) != 0;
	return pol->methods == 0 || (pol->methods & method) != 0;
}

static int
bad(struct resp *rs, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
bad(struct resp *rs, const char *fmt, ...)
{
	char	msg[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return resp_error_msg(rs, ERR_INVALID_PARAM, msg);
}

/* Resolve one entry of "files" (Dify's build_from_mapping). */
static int
resolve_one(struct req *rq, struct resp *rs, const struct policy *pol,
    json_object *item, struct rfile *f)
{
	const char	*tm = json_str(item, "transfer_method");
	const char	*tname = json_str(item, "type"), *id, *url, *slash;
	char		 err[512];
	enum file_type	 given = FT_CUSTOM;
	int		 t, rc;

	memset(f, 0, sizeof(*f));
	if (!json_object_is_type(item, json_type_object))
		return bad(rs, "Invalid file: each item of files must be "
		    "an object");
	if (json_get(item, "type") != NULL) {
		t = type_of_name(tname);
		if (t < 0)
			return bad(rs, "'%s' is not a valid FileType",
			    tname != NULL ? tname : json_compact(json_get(item,
			    "type")));
		given = (enum file_type)t;
	}
	f->method = method_bit(tm);
	if (f->method == 0)
		return bad(rs, "Invalid file transfer method: %s",
		    tm != NULL ? tm : "None");
	if (f->method == M_LOCAL) {
		id = json_str(item, "upload_file_id");
		if (id == NULL || *id == '\0')
			return bad(rs, "Invalid upload file id");
		if (!uuid_valid(id))
			return bad(rs, "Invalid upload file id format");
		{
			char	low[UUID_LEN + 1];
			int	i;

			for (i = 0; i <= UUID_LEN; i++)
				low[i] = (char)tolower((unsigned char)id[i]);
			rc = db_upload_file_get(rq->db, &rq->pool, rq->app.id,
			    rq->user.id, low, &f->uf);
		}
		if (rc == DB_NOT_FOUND)
			return bad(rs, "Invalid upload file");
		if (rc != DB_OK)
			return resp_error(rs, ERR_INTERNAL);
		f->filename = f->uf.name;
		f->ext = f->uf.extension;
		f->mime = f->uf.mime_type;
		f->size = f->uf.size;
	} else {
		url = json_str(item, "url");
		if (url == NULL || *url == '\0')
			return bad(rs, "Invalid file url");
		if (files_url_check(url, err, sizeof(err)) == -1)
			return bad(rs, "Invalid file url: %s", err);
		f->url = url;
		slash = strrchr(url, '/');
		f->filename = pool_strndup(&rq->pool, slash + 1,
		    strcspn(slash + 1, "?#"));
		if (*f->filename == '\0')
			f->filename = "unknown_file";
		f->ext = files_extension(&rq->pool, f->filename);
		f->mime = files_mime_of_extension(f->ext);
		f->size = -1;
	}
	/* Dify's _standardize_file_type */
	f->type = given;
	if (given == FT_CUSTOM) {
		f->type = files_type_of_extension(f->ext);
		if (f->type == FT_CUSTOM)
			f->type = files_type_of_mime(f->mime);
	}
	if (!allowed(pol, given, f->ext, f->method))
		return bad(rs, "File validation failed for file: %s",
		    f->filename);
	return 0;
}

static json_object *
message_file_json(struct req *rq, const struct rfile *f)
{
	json_object	*o = json_object_new_object();
	char		 id[UUID_LEN + 1];
	const char	*url;

	uuid_new(id);
	url = f->method == M_LOCAL ? files_signed_url(rq, f->uf.id) : f->url;
	json_object_object_add(o, "id", json_object_new_string(id));
	json_object_object_add(o, "filename",
	    json_object_new_string(f->filename));
	json_object_object_add(o, "type",
	    json_object_new_string(files_type_names[f->type]));
	json_object_object_add(o, "url", url != NULL ?
	    json_object_new_string(url) : NULL);
	json_object_object_add(o, "mime_type", *f->mime != '\0' ?
	    json_object_new_string(f->mime) : NULL);
	json_object_object_add(o, "size", json_object_new_int64(f->size));
	json_object_object_add(o, "transfer_method", json_object_new_string(
	    f->method == M_LOCAL ? "local_file" : "remote_url"));
	json_object_object_add(o, "belongs_to", json_object_new_string("user"));
	json_object_object_add(o, "upload_file_id", f->method == M_LOCAL ?
	    json_object_new_string(f->uf.id) : NULL);
	return o;
}

static json_object *
image_part(const char *url, const char *detail)
{
	json_object	*o = json_object_new_object(), *iu;

	iu = json_object_new_object();
	json_object_object_add(iu, "url", json_object_new_string(url));
	json_object_object_add(iu, "detail", json_object_new_string(detail));
	json_object_object_add(o, "type", json_object_new_string("image_url"));
	json_object_object_add(o, "image_url", iu);
	return o;
}

/*
 * The image part of an uploaded image: a data: URL, for formats the
 * content shows to be ones vision models take.  NULL otherwise.
 */
static json_object *
local_image(struct db *db, const struct rfile *f, const char *detail)
{
	struct buf	 data, url;
	const char	*mime;
	json_object	*o = NULL;
	size_t		 max = (size_t)cfg->image_limit_mb * 1024 * 1024;

	buf_init(&data, max);
	if (files_read_stored(db, &f->uf, max, 0, &data) == -1) {
		buf_free(&data);
		log_warn("file %s: not sent as an image: unreadable or over "
		    "the image limit", f->uf.id);
		return NULL;
	}
	mime = files_sniff(data.p, data.len);
	if (mime == NULL || (strcmp(mime, "image/png") &&
	    strcmp(mime, "image/jpeg") && strcmp(mime, "image/gif") &&
	    strcmp(mime, "image/webp"))) {
		log_info("file %s: not sent as an image: its content is not "
		    "PNG, JPEG, GIF or WebP", f->uf.id);
		buf_free(&data);
		return NULL;
	}
	buf_init(&url, data.len / 3 * 4 + 64);
	if (buf_printf(&url, "data:%s;base64,", mime) == 0 &&
	    files_base64(&url, FILES_B64STD, data.p, data.len) == 0)
		o = image_part(buf_cstr(&url), detail);
	buf_free(&data);
	buf_free(&url);
	return o;
}

/* The text part of a document, or NULL; -1 in *rc when fetching failed. */
static json_object *
document_text(struct db *db, struct resp *rs, const struct rfile *f,
    int *rc)
{
	struct buf	 data, text;
	json_object	*o = NULL;
	char		 err[512];
	size_t		 max = (size_t)cfg->file_limit_mb * 1024 * 1024;
	size_t		 head = 4 * DOC_TEXT_MAX;
	enum files_text_kind	 kind = files_text_kind(f->ext, f->mime);

	*rc = 0;
	buf_init(&text, DOC_TEXT_MAX);
	/* only types we can read are fetched or read */
	if (kind == TX_NONE) {
		buf_free(&text);
		return NULL;
	}
	/* a PDF or a zip is read whole: its head alone is no document */
	if (kind != TX_PLAIN && kind != TX_HTML)
		head = max;
	if (f->method == M_LOCAL) {
		/* a prompt takes DOC_TEXT_MAX: what lies past is not read */
		buf_init(&data, head);
		if (files_read_stored(db, &f->uf, head, 1, &data) == -1) {
			log_warn("file %s: unreadable", f->uf.id);
			buf_free(&data);
			buf_free(&text);
			return NULL;
		}
	} else {
		buf_init(&data, max);
		if (files_fetch_url(f->url, max, &data, err,
		    sizeof(err)) == -1) {
			*rc = bad(rs, "Invalid file url: %s", err);
			buf_free(&data);
			buf_free(&text);
			return NULL;
		}
	}
	if (buf_printf(&text, "Content of the file \"%s\":\n\n",
	    f->filename) == 0) {
		files_extract_text(f->ext, f->mime, data.p != NULL ? data.p :
		    "", data.len, &text);
		o = json_object_new_object();
		json_object_object_add(o, "type",
		    json_object_new_string("text"));
		json_object_object_add(o, "text", json_object_new_string_len(
		    buf_cstr(&text), (int)text.len));
	}
	buf_free(&data);
	buf_free(&text);
	return o;
}

int
files_use_request(struct req *rq, struct resp *rs, struct files_use *fu)
{
	json_object	*files = json_get(rq->body, "files"), *part;
	struct policy	 pol;
	struct rfile	*fs;
	size_t		 i, n;
	long long	 images = 0;
	int		 rc;

	memset(fu, 0, sizeof(*fu));
	if (!json_object_is_type(files, json_type_array) ||
	    json_object_array_length(files) == 0 ||
	    !policy_of(json_get(rq->app.config, "file_upload"), &pol))
		return 0;
	n = json_object_array_length(files);
	if (n > REQUEST_FILES_MAX)
		return bad(rs, "Number of files exceeds the maximum limit "
		    "%lld", pol.number_limits > 0 && pol.number_limits <
		    REQUEST_FILES_MAX ? pol.number_limits :
		    (long long)REQUEST_FILES_MAX);
	fs = pool_alloc(&rq->pool, n * sizeof(*fs));
	for (i = 0; i < n; i++) {
		if (resolve_one(rq, rs, &pol, json_object_array_get_idx(files,
		    i), &fs[i]) == -1)
			return -1;
		images += fs[i].type == FT_IMAGE;
	}
	if (pol.number_limits > 0 && images > pol.number_limits)
		return bad(rs, "Number of image files exceeds the maximum "
		    "limit %lld", pol.number_limits);
	if (pol.number_limits > 0 && (long long)n > pol.number_limits)
		return bad(rs, "Number of files exceeds the maximum limit "
		    "%lld", pol.number_limits);
	fu->message_files = json_object_new_array();
	fu->parts = json_object_new_array();
	for (i = 0; i < n; i++) {
		json_object_array_add(fu->message_files,
		    message_file_json(rq, &fs[i]));
		part = NULL;
		rc = 0;
		if (fs[i].type == FT_IMAGE)
			part = fs[i].method == M_LOCAL ?
			    local_image(rq->db, &fs[i], pol.detail) :
			    image_part(fs[i].url, pol.detail);
		else
			part = document_text(rq->db, rs, &fs[i], &rc);
		if (rc == -1) {
			files_use_free(fu);
			return -1;
		}
		if (part != NULL)
			json_object_array_add(fu->parts, part);
	}
	if (json_object_array_length(fu->parts) == 0) {
		json_object_put(fu->parts);
		fu->parts = NULL;
	}
	return 0;
}

void
files_use_attach(struct files_use *fu, struct llm_msg *m)
{
	json_object	*t;

	if (fu->parts == NULL)
		return;
	t = json_object_new_object();
	json_object_object_add(t, "type", json_object_new_string("text"));
	json_object_object_add(t, "text",
	    json_object_new_string(m->content != NULL ? m->content : ""));
	json_object_array_add(fu->parts, t);
	m->parts = fu->parts;
}

void
files_use_free(struct files_use *fu)
{
	json_object_put(fu->message_files);
	json_object_put(fu->parts);
	fu->message_files = fu->parts = NULL;
}
