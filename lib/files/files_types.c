/*
 * files_types.c: the types of files.  Dify's table of extensions with
 * their file type and MIME type (constants/__init__.py), the type a MIME
 * type suggests (factories/file_factory.py), the size limit of an upload
 * by type (file_service.py), and the magic bytes we check ourselves.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "files_int.h"

const char *const files_type_names[FT__MAX] = {
	[FT_IMAGE] = "image",
	[FT_VIDEO] = "video",
	[FT_AUDIO] = "audio",
	[FT_DOCUMENT] = "document",
	[FT_CUSTOM] = "custom",
};

/* Dify's constants: IMAGE_, VIDEO_, AUDIO_ and DOCUMENT_EXTENSIONS. */
static const struct {
	const char	*ext;
	enum file_type	 type;
	const char	*mime;
} exts[] = {
	{ "jpg", FT_IMAGE, "image/jpeg" },
	{ "jpeg", FT_IMAGE, "image/jpeg" },
	{ "png", FT_IMAGE, "image/png" },
	{ "webp", FT_IMAGE, "image/webp" },
	{ "gif", FT_IMAGE, "image/gif" },
	{ "svg", FT_IMAGE, "image/svg+xml" },
	{ "mp4", FT_VIDEO, "video/mp4" },
	{ "mov", FT_VIDEO, "video/quicktime" },
	{ "mpeg", FT_VIDEO, "video/mpeg" },
	{ "webm", FT_VIDEO, "video/webm" },
	{ "mp3", FT_AUDIO, "audio/mpeg" },
	{ "m4a", FT_AUDIO, "audio/mp4" },
	{ "wav", FT_AUDIO, "audio/wav" },
	{ "amr", FT_AUDIO, "audio/amr" },
	{ "mpga", FT_AUDIO, "audio/mpeg" },
	{ "txt", FT_DOCUMENT, "text/plain" },
	{ "markdown", FT_DOCUMENT, "text/markdown" },
	{ "md", FT_DOCUMENT, "text/markdown" },
	{ "mdx", FT_DOCUMENT, "text/markdown" },
	{ "pdf", FT_DOCUMENT, "application/pdf" },
	{ "html", FT_DOCUMENT, "text/html" },
	{ "htm", FT_DOCUMENT, "text/html" },
	{ "xlsx", FT_DOCUMENT, "application/vnd.openxmlformats-officedocument."
	    "spreadsheetml.sheet" },
	{ "xls", FT_DOCUMENT, "application/vnd.ms-excel" },
	{ "vtt", FT_DOCUMENT, "text/vtt" },
	{ "properties", FT_DOCUMENT, "text/plain" },
	{ "doc", FT_DOCUMENT, "application/msword" },
	{ "docx", FT_DOCUMENT, "application/vnd.openxmlformats-officedocument."
	    "wordprocessingml.document" },
	{ "csv", FT_DOCUMENT, "text/csv" },
	{ "eml", FT_DOCUMENT, "message/rfc822" },
	{ "msg", FT_DOCUMENT, "application/vnd.ms-outlook" },
	{ "pptx", FT_DOCUMENT, "application/vnd.openxmlformats-officedocument."
	    "presentationml.presentation" },
	{ "xml", FT_DOCUMENT, "text/xml" },
	{ "epub", FT_DOCUMENT, "application/epub+zip" },
	{ "ppt", FT_DOCUMENT, "application/vnd.ms-powerpoint" },
	{ "json", FT_CUSTOM, "application/json" },
};

const char *
files_extension(struct pool *p, const char *name)
{
	const char	*dot = strrchr(name, '/'), *s;
	char		*e;

	/* as Python's splitext: the leading dots of a name are no extension */
	s = dot != NULL ? dot + 1 : name;
	while (*s == '.')
		s++;
	dot = strrchr(s, '.');
	if (dot == NULL)
		return "";
	e = pool_strdup(p, dot + 1);
	for (char *c = e; *c != '\0'; c++)
		*c = (char)tolower((unsigned char)*c);
	return e;
}

enum file_type
files_type_of_extension(const char *ext)
{
	size_t	i;

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strcasecmp(exts[i].ext, ext) == 0)
			return exts[i].type;
	return FT_CUSTOM;
}

const char *
files_mime_of_extension(const char *ext)
{
	size_t	i;

	for (i = 0; i < sizeof(exts) / sizeof(exts[0]); i++)
		if (strcasecmp(exts[i].ext, ext) == 0)
			return exts[i].mime;
	return "";
}

enum file_type
files_type_of_mime(const char *mime)
{
	if (mime == NULL)
		return FT_CUSTOM;
	if (strstr(mime, "image") != NULL)
		return FT_IMAGE;
	if (strstr(mime, "video") != NULL)
		return FT_VIDEO;
	if (strstr(mime, "audio") != NULL)
		return FT_AUDIO;
	if (strstr(mime, "text") != NULL || strstr(mime, "pdf") != NULL)
		return FT_DOCUMENT;
	return FT_CUSTOM;
}

/*
 * Our own magic bytes, not libmagic's, on purpose.  Dify decides a file's
 * type without looking at it: the declared type, else the extension
 * (constants/__init__.py), else "image"/"video"/"audio"/"text"/"pdf" in
 * the MIME type (factories/file_factory.py), and an image's data URL
 * carries the MIME type declared at upload (core/file/file_manager.py).
 * It calls libmagic only where the service API does not go: a remote file
 * fetched for upload whose name, URL and Content-Type all say nothing but
 * application/octet-stream (controllers/common/helpers.py).  Our one use
 * is a check of our own: that what goes to the model as an image data URL
 * is PNG, JPEG, GIF or WebP, named by its content.  On those four
 * libmagic 5.44 agrees with this function on real files, so it would buy
 * no accuracy, but it costs: a magic_t may not be shared by threads
 * (one per call, or per thread with a destructor), magic_load maps its
 * 8 MB database (3.8 ms the first time in a process), a PNG takes it
 * 14 us and text 300 us against our 3 ns, its names depend on the
 * installed database (audio/x-m4a and audio/x-hx-aac-adts here, where
 * Python's mimetypes, which Dify uses, says audio/mp4 and audio/aac), and
 * it runs every format it knows (CDF, ELF, ...) over untrusted bytes to
 * tell four signatures apart.
 */
const char *
files_sniff(const void *data, size_t n)
{
	const unsigned char	*p = data;

	if (n >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0)
		return "image/png";
	if (n >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff)
		return "image/jpeg";
	if (n >= 6 && (memcmp(p, "GIF87a", 6) == 0 ||
	    memcmp(p, "GIF89a", 6) == 0))
		return "image/gif";
	if (n >= 12 && memcmp(p, "RIFF", 4) == 0) {
		if (memcmp(p + 8, "WEBP", 4) == 0)
			return "image/webp";
		if (memcmp(p + 8, "WAVE", 4) == 0)
			return "audio/wav";
	}
	if (n >= 4 && (memcmp(p, "II*\0", 4) == 0 ||
	    memcmp(p, "MM\0*", 4) == 0))
		return "image/tiff";
	if (n >= 5 && memcmp(p, "%PDF-", 5) == 0)
		return "application/pdf";
	if (n >= 3 && memcmp(p, "ID3", 3) == 0)
		return "audio/mpeg";
	if (n >= 4 && memcmp(p, "OggS", 4) == 0)
		return "audio/ogg";
	if (n >= 4 && memcmp(p, "fLaC", 4) == 0)
		return "audio/flac";
	if (n >= 5 && memcmp(p, "#!AMR", 5) == 0)
		return "audio/amr";
	if (n >= 12 && memcmp(p + 4, "ftyp", 4) == 0) {
		if (memcmp(p + 8, "M4A ", 4) == 0)
			return "audio/mp4";
		if (memcmp(p + 8, "qt  ", 4) == 0)
			return "video/quicktime";
		return "video/mp4";
	}
	if (n >= 4 && memcmp(p, "\x1a\x45\xdf\xa3", 4) == 0)
		return "video/webm";
	if (n >= 4 && memcmp(p, "\0\0\1\xba", 4) == 0)
		return "video/mpeg";
	/* an MPEG audio frame; layer bits 00 are AAC in ADTS */
	if (n >= 2 && p[0] == 0xff && (p[1] & 0xe0) == 0xe0)
		return (p[1] & 0x06) == 0 ? "audio/aac" : "audio/mpeg";
	return NULL;
}

size_t
files_size_limit(const char *ext)
{
	int	mb;

	switch (files_type_of_extension(ext)) {
	case FT_IMAGE:
		mb = cfg->image_limit_mb;
		break;
	case FT_VIDEO:
		mb = cfg->video_limit_mb;
		break;
	case FT_AUDIO:
		mb = cfg->audio_limit_mb;
		break;
	default:
		mb = cfg->file_limit_mb;
		break;
	}
	return (size_t)mb * 1024 * 1024;
}
