/* kn_int.h: what the files of lib/knowledge/ share. */
#ifndef KN_INT_H
#define KN_INT_H

#include <stdint.h>

/* a cleaning pass's buffer: image placeholders may grow the text */
#define KN_CLEAN_MAX	(KN_TEXT_MAX * 4)

uint32_t	kn_cp(const char *, size_t, size_t *);
int		kn_isspace(uint32_t);

#endif
