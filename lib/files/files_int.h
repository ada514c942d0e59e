/*
 * files_int.h: what the files of lib/files/ share and nobody else sees.
 * The data directory and temporary files (files_store.c), the
 * MIME type of an extension (files_types.c), base64 (files_sign.c) and the
 * kinds of text a document can give (files_text.c), which the "files" of
 * chat and completion requests (files_use.c) and the upload forms
 * (files_upload.c) build on.  Other folders use files/files.h.
 */
#ifndef FILES_INT_H
#define FILES_INT_H

#include "files/files.h"

#define CHUNK			65536	/* bytes read or written at a time */

/* ---- files_types.c ---- */

/* The MIME type Dify's table gives an extension, or "". */
const char *files_mime_of_extension(const char *ext);

/* ---- files_store.c: the data directory ---- */

/* cfg->data_dir + "/" + rel, into "out".  0 or -1 (too long). */
int	 files_data_path(char *out, size_t len, const char *rel);
/* mkdir -p for a directory under the data directory, mode 0700. */
int	 files_make_dirs(const char *rel);
/* All of p[0..n) to "fd", through EINTR and short writes.  0 or -1. */
int	 files_write_all(int fd, const char *p, size_t n);
/*
 * A new temporary file under cfg->data_dir/files/.tmp (mode 0600, after
 * sweeping those older than an hour), its path into "path": the fd open
 * for writing, or -1 (logged) with "path" empty.
 */
int	 files_tmp_open(char *path, size_t len);

/* ---- files_sign.c: base64 ---- */

/* the last two letters of the alphabet: RFC 4648's base64, base64url */
#define FILES_B64STD	"+/"
#define FILES_B64URL	"-_"

/*
 * Append the base64 of p[0..n) (padded) to "out", in the alphabet whose
 * last two letters "alphabet" gives.  0 or -1.
 */
int	 files_base64(struct buf *out, const char *alphabet, const void *data,
	    size_t n);

/* ---- files_text.c ---- */

enum files_text_kind { TX_NONE, TX_PLAIN, TX_HTML, TX_PDF, TX_DOCX, TX_XLSX,
    TX_PPTX };

/* How the text of a document with this extension or MIME type is read. */
enum files_text_kind files_text_kind(const char *ext, const char *mime);

/* Append p[0..n) as valid UTF-8, cut at a character that does not fit. */
int	 files_utf8_append(struct buf *out, const char *p, size_t n);
/* libxml2's process-wide set-up, once. */
void	 files_xml_init(void);

/* ---- files_pdf.c, files_ooxml.c: 0, or -1 for a refused document ---- */

int	 files_pdf_text(const char *data, size_t len, struct buf *out);
int	 files_ooxml_text(enum files_text_kind kind, const char *data,
	    size_t len, struct buf *out);

#endif
