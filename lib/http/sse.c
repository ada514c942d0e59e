/*
 * sse.c: server-sent events as Dify writes them: "data: <compact json>"
 * and a blank line per event, "event: ping" frames with no data, no id
 * or retry fields and no [DONE].  One write and one flush per event, so
 * every event leaves the process when it is made; a failed write or
 * flush means the client left.
 */
#include <string.h>

#include "http/http.h"

int
sse_begin(struct req *rq, struct resp *rs)
{
	rs->status = 200;
	resp_header(rs, "Cache-Control", "no-cache");
	resp_header(rs, "X-Accel-Buffering", "no");
	if (resp_write_head(rq, rs, "text/event-stream; charset=utf-8",
	    -1) == -1 || rq->io.flush(rq->io.ctx) == -1) {
		rq->client_gone = 1;
		return -1;
	}
	return 0;
}

static int
send_frame(struct req *rq, const char *p, size_t n)
{
	if (rq->client_gone)
		return -1;
	if (rq->io.write(rq->io.ctx, p, (int)n) < 0 ||
	    rq->io.flush(rq->io.ctx) == -1) {
		rq->client_gone = 1;
		return -1;
	}
	return 0;
}

int
sse_event(struct req *rq, json_object *ev)
{
	struct buf	b;
	int		rc;

	buf_init(&b, (size_t)1 << 30);
	buf_puts(&b, "data: ");
	buf_puts(&b, json_object_to_json_string_ext(ev,
	    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	buf_puts(&b, "\n\n");
	rc = send_frame(rq, b.p, b.len);
	buf_free(&b);
	return rc;
}

int
sse_ping(struct req *rq)
{
	static const char	ping[] = "event: ping\n\n";

	return send_frame(rq, ping, sizeof(ping) - 1);
}

int
sse_send(struct req *rq, json_object *ev)
{
	int	rc = sse_event(rq, ev);

	json_object_put(ev);
	return rc;
}
