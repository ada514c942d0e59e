/*
 * knowledge.h: the Knowledge half's document segmentation, Dify's
 * "process rules": the cleaning of a document's text
 * (api/core/rag/cleaner/clean_processor.py) and its splitting into
 * chunks (api/core/rag/splitter/, the index processors' transform()).
 *
 * Length is what Dify measures: its splitters are built by
 * EnhanceRecursiveCharacterTextSplitter.from_encoder, whose length
 * function is len() of the Python string whatever the embedding model,
 * so "max_tokens" counts Unicode code points, in every mode.  We count
 * code points of UTF-8 too, so chunk borders are Dify's exactly; no
 * tokenizer is involved.
 *
 * As in Dify, a full-doc parent is the text uncleaned (its children too),
 * and a separator goes through codecs.decode(..., "unicode_escape"),
 * which reads its UTF-8 as Latin-1: a non-ASCII separator such as "。"
 * matches nothing.
 *
 * Where we differ from Dify (each on purpose):
 * - input must be valid UTF-8 of at most KN_TEXT_MAX bytes, and a split
 *   makes at most KN_CHUNKS_MAX pieces (parents and children together,
 *   counted before the index processors drop the blank ones);
 * - a negative chunk_overlap is refused (Python accepts it);
 * - a separator whose unicode_escape decoding names a character
 *   (\N{...}) or a surrogate is refused (Python accepts both);
 * - the Markdown image placeholders of remove_urls_emails are put back
 *   in one pass, not one str.replace per image: the same unless the
 *   document itself holds text like "__MARKDOWN_IMAGE_URL_0__".
 */
#ifndef KNOWLEDGE_H
#define KNOWLEDGE_H

#include <stddef.h>

#include "core/core.h"

#define KN_TEXT_MAX	(2 * 1024 * 1024)	/* bytes of a document */
#define KN_CHUNKS_MAX	20000		/* pieces of a split, children too */
#define KN_SEPARATOR_MAX 256		/* bytes of a separator as given */
/* Dify's _get_splitter; the top is INDEXING_MAX_SEGMENTATION_TOKENS_LENGTH */
#define KN_MAX_TOKENS_MIN 50
#define KN_MAX_TOKENS_MAX 4000

/* DatasetProcessRule.AUTOMATIC_RULES */
#define KN_AUTO_MAX_TOKENS	500
#define KN_AUTO_CHUNK_OVERLAP	50

enum kn_mode {
	KN_AUTOMATIC,		/* AUTOMATIC_RULES, no fixed separator */
	KN_CUSTOM,		/* one segmentation rule */
	KN_HIERARCHICAL		/* parents, each with child chunks */
};

enum kn_parent {
	KN_PARENT_PARAGRAPH,	/* parents split by the segmentation rule */
	KN_PARENT_FULL_DOC	/* the whole document is the one parent */
};

struct kn_segmentation {
	const char	*separator;	/* as given: "\\n" is a newline */
	int		 max_tokens;	/* code points, see above */
	int		 chunk_overlap;
};

struct kn_rules {
	enum kn_mode		 mode;
	int			 remove_extra_spaces;
	int			 remove_urls_emails;
	int			 urls_emails_first; /* given first */
	struct kn_segmentation	 seg;	/* custom; hierarchical's parents */
	enum kn_parent		 parent_mode;	/* hierarchical only */
	struct kn_segmentation	 sub;	/* hierarchical's children */
};

enum kn_err {
	KN_OK,
	KN_ERR_TOO_LARGE,	/* text longer than KN_TEXT_MAX */
	KN_ERR_NOT_UTF8,
	KN_ERR_MAX_TOKENS,	/* not within KN_MAX_TOKENS_MIN..MAX */
	KN_ERR_OVERLAP,		/* negative, or above max_tokens */
	KN_ERR_SEPARATOR,	/* too long, or a bad escape */
	KN_ERR_TOO_MANY_CHUNKS,	/* more than KN_CHUNKS_MAX */
	KN_ERR_NOMEM,
	KN_ERR__MAX
};

struct kn_chunk {
	char		*text;		/* NUL-terminated, malloc'd */
	size_t		 len;		/* bytes */
	struct kn_chunk	*children;	/* hierarchical only */
	size_t		 nchildren;
};

struct kn_chunks {
	struct kn_chunk	*v;
	size_t		 n;
};

void		 kn_rules_automatic(struct kn_rules *);
const char	*kn_strerror(enum kn_err);
enum kn_err	 kn_check(const struct kn_rules *);
enum kn_err	 kn_clean(const char *, size_t, const struct kn_rules *,
		    struct buf *);
enum kn_err	 kn_split(const char *, size_t, const struct kn_rules *,
		    struct kn_chunks *);
void		 kn_chunks_free(struct kn_chunks *);

#endif
