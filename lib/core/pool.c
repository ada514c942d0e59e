/*
 * pool.c: the request's arena.  Strings copied out of borrowed storage
 * (FastCGI params, SQLite columns, json-c objects) live here until
 * pool_free_all() at the end of the request.  Also the x* allocators,
 * which abort on exhaustion: sizes from input are capped before we get
 * here, so only a broken machine can run us out of memory.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

#define CHUNK_SIZE	8192

struct pool_chunk {
	struct pool_chunk	*next;
	size_t			 used;
	size_t			 size;
	max_align_t		 data[];
};

void *
xmalloc(size_t n)
{
	void	*p = malloc(n ? n : 1);

	if (p == NULL) {
		log_error("out of memory (%zu bytes)", n);
		abort();
	}
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL) {
		log_error("out of memory");
		abort();
	}
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void	*p = realloc(old, n ? n : 1);

	if (p == NULL) {
		log_error("out of memory (%zu bytes)", n);
		abort();
	}
	return p;
}

char *
xstrdup(const char *s)
{
	size_t	n = strlen(s) + 1;

	return memcpy(xmalloc(n), s, n);
}

void *
pool_alloc(struct pool *p, size_t n)
{
	struct pool_chunk	*c = p->head;
	size_t			 align = sizeof(max_align_t), size;
	void			*out;

	n = (n + align - 1) / align * align;
	if (c == NULL || c->size - c->used < n) {
		size = n > CHUNK_SIZE ? n : CHUNK_SIZE;
		c = xmalloc(sizeof(*c) + size);
		c->size = size;
		c->used = 0;
		c->next = p->head;
		p->head = c;
	}
	out = (char *)c->data + c->used;
	c->used += n;
	return out;
}

char *
pool_strndup(struct pool *p, const char *s, size_t n)
{
	char	*d = pool_alloc(p, n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

char *
pool_strdup(struct pool *p, const char *s)
{
	if (s == NULL)
		return NULL;
	return pool_strndup(p, s, strlen(s));
}

char *
pool_printf(struct pool *p, const char *fmt, ...)
{
	va_list	 ap;
	int	 n;
	char	*d;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	d = pool_alloc(p, (size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(d, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return d;
}

void
pool_free_all(struct pool *p)
{
	struct pool_chunk	*c, *next;

	for (c = p->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	p->head = NULL;
}
