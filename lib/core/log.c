/*
 * log.c: one line per event on stderr, which the web server or systemd
 * collects:  2026-11-25T10:04:07Z chat.fcgi[4211:3] ERROR req=7f3a text
 * Control bytes are escaped so an untrusted value cannot forge a line.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>

#include "core/core.h"

static const char	*progname = "difycgi";
static __thread char	 reqid[9];

void
log_init(const char *prog)
{
	progname = prog;
}

void
log_set_request(const char *id)
{
	snprintf(reqid, sizeof(reqid), "%s", id ? id : "");
}

static void
vlog(const char *level, const char *fmt, va_list ap)
{
	char		 msg[1024], line[2400], ts[32];
	size_t		 i, n = 0;
	time_t		 t = time(NULL);
	struct tm	 tm;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	n = (size_t)snprintf(line, sizeof(line), "%s %s[%d:%ld] %s%s%s ", ts,
	    progname, (int)getpid(), (long)(syscall(SYS_gettid) % 100000),
	    level, reqid[0] ? " req=" : "", reqid);
	for (i = 0; msg[i] != '\0' && n + 5 < sizeof(line); i++) {
		unsigned char c = (unsigned char)msg[i];

		if (c < 0x20 || c == 0x7f)
			n += (size_t)snprintf(line + n, sizeof(line) - n,
			    "\\x%02x", c);
		else
			line[n++] = (char)c;
	}
	line[n++] = '\n';
	(void)write(STDERR_FILENO, line, n);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog("INFO", fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog("WARN", fmt, ap);
	va_end(ap);
}

void
log_error(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vlog("ERROR", fmt, ap);
	va_end(ap);
}
