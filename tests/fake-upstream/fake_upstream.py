#!/usr/bin/env python3
"""fake_upstream.py: a fake OpenAI-compatible model provider for tests.

Python 3 standard library only.  Usage:

    python3 tests/fake-upstream/fake_upstream.py --port-file FILE
        [--log FILE] [--require-key KEY]

It binds 127.0.0.1 on a port the kernel picks and writes that port into
FILE once listening (written whole, by rename, so a poller never reads half
of it).  --log FILE appends every request body it receives as one JSON line
(multipart bodies as {"_path": ..., "_bytes": N}; bodies that are not JSON
as {"_path": ..., "_invalid": "<text>"}).  --require-key KEY answers 401 to
any request without "Authorization: Bearer KEY".

Endpoints (with or without the /v1 prefix):

    POST /v1/chat/completions     OpenAI chat completions, blocking or
                                  streamed (chunked SSE, one flush per event)
    POST /v1/audio/transcriptions multipart; {"text": "fake transcription of
                                  <N> bytes"}, N the size of the "file" part
    POST /v1/audio/speech         JSON; a small fixed fake MP3 (audio/mpeg)
    POST /v1/embeddings           OpenAI embeddings (below)
    POST /v1/rerank               Jina/Cohere/vLLM rerank (below)
    GET  /v1/models               the model names below

The request's "model" chooses the behaviour:

    echo              the answer is the compact JSON of the "messages" it
                      received; streamed in pieces of 8 characters
    slow, slow-MS-N   N deltas "tok<i> " (default 40), MS ms apart (default
                      100); stops as soon as a write fails (client gone)
    err-429           429 rate_limit_exceeded, as OpenAI words it
    quota-429         429 insufficient_quota
    err-401           401 invalid_api_key
    err-404           404 model_not_found
    err-500, err-503  500 / 503 server errors
    malformed         200 text/event-stream whose data lines are not JSON
                      (blocking: a 200 body that is not JSON)
    midstream-error   a few deltas, then data: {"error": {...}}, then close
                      (blocking: a 200 body holding only an error object)
    hang              accepts, reads the request, never answers
    stall             headers and a few deltas, then silence
    reset             headers and a few deltas, then a TCP reset
    huge              an 8 MiB answer (64 KiB deltas when streamed)
    leak-key          a careless provider quoting the API key it was sent
                      (the Authorization bearer) in its error text: HTTP
                      500 when blocking, a mid-stream error when streamed
    tool-call         a call of the first tool in "tools" (arguments "{}"),
                      or, when the last message has role "tool", the text
                      "Tool result received: <its content>"; 400 without tools
    tool-loop         a call of the first tool in "tools" whenever tools are
                      offered, also after a tool result (an agent that never
                      stops calling); without tools the text "Tool results
                      received: <N>", N the messages of role "tool"
    tool-loop-err     as tool-loop, but once a tool result is in the
                      messages it fails as err-500 does (an error after a
                      tool round)
    classify          a question classifier: the last user message is the
                      JSON {"input_text": [...], "categories": [{category_id,
                      category_name}], ...}; the answer is a ```json fence
                      around {"keywords", "category_id", "category_name"} of
                      the category sharing the most words with the input
                      (the first on a tie or none); any other prompt gets
                      the answer of an ordinary name
    extract           a parameter extractor: with "tools", a call of the
                      first tool whose arguments follow its JSON schema;
                      without, a ```json fence around such an object built
                      from the <structure> JSON schema of the last user
                      message (any other prompt: an ordinary answer).
                      Values: "name: value" found in the <context> or <text>
                      part of that message, else strings "sample <name>"
                      (an enum's first option), numbers 42, booleans true,
                      arrays of one such item
    anything else     "Hello from the fake upstream." (word deltas)

Embeddings take OpenAI's request: "input" a string, an array of strings,
an array of token ids or an array of such arrays (at most 2048 inputs, none
empty); "model"; "encoding_format" "float" (default) or "base64" (the
little-endian float32 bytes); "dimensions" (a positive integer).  A vector
is a hashed bag of words: each lower-cased word (a token id counts as the
word "#<id>") adds +1 or -1 at a place its SHA-256 picks, and the whole is
L2-normalised, so texts sharing words are near and the same text always
gives the same vector.  Its length is "dimensions", else 3072 for
text-embedding-3-large, 1536 for other text-embedding-* models, else 64.
prompt_tokens = total_tokens = the sum over inputs of max(1, bytes // 4)
(a token array: its length).  Models err-* and quota-429 fail as they do
for chat (leak-key: a 500 quoting the key), hang never answers;
besides:
    flaky-429-K, flaky-500-K   the first K requests naming this model fail
                      as err-429 / err-500 do, later ones answer
    ragged            the vector of input i has 8 + i numbers
    short             answers one vector fewer than it was sent inputs

Rerank takes {"model", "query", "documents": [string or {"text"}],
"top_n", "return_documents"} and answers {"model", "results": [{"index",
"relevance_score", "document": {"text"}}], "usage": {"total_tokens"}},
sorted by score (ties by index), cut to top_n, "document" left out when
return_documents is false.  The score of a document is the share of the
query's distinct words it holds, 0 to 1.  total_tokens as for embeddings
over the query and every document.  Error models as for embeddings.

Streams follow OpenAI: a first chunk with delta.role, content deltas, a
chunk with finish_reason, a usage chunk with empty choices when
stream_options.include_usage is true, then data: [DONE].  Every chunk
carries "usage": null when usage was asked for, as OpenAI's do.

Usage: prompt_tokens = max(1, bytes of all string contents // 4);
completion_tokens = the number of deltas streamed (blocking: the same as
if it had been streamed).
"""

import argparse
import base64
import hashlib
import math
import json
import os
import re
import select
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HELLO = "Hello from the fake upstream."
ANSWERS = []    # --answers: [[prompt text, reply], ...]
HUGE_BYTES = 8 * 1024 * 1024
HUGE_DELTA = 64 * 1024
FAKE_MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + \
    b"\xff\xfb\x90\x64" + bytes(range(64)) * 4
WAIT_MAX_S = 120        # hang/stall give up on their own after this

ERRORS = {
    "err-429": (429, {"message": "Rate limit reached for gpt-test in "
                      "organization org-fake on requests per min (RPM): "
                      "Limit 3, Used 3, Requested 1.",
                      "type": "requests", "param": None,
                      "code": "rate_limit_exceeded"}),
    "quota-429": (429, {"message": "You exceeded your current quota, please "
                        "check your plan and billing details.",
                        "type": "insufficient_quota", "param": None,
                        "code": "insufficient_quota"}),
    "err-401": (401, {"message": "Incorrect API key provided: sk-fake***"
                      "1234. You can find your API key at "
                      "https://platform.openai.com/account/api-keys.",
                      "type": "invalid_request_error", "param": None,
                      "code": "invalid_api_key"}),
    "err-404": (404, {"message": "The model `err-404` does not exist or you "
                      "do not have access to it.",
                      "type": "invalid_request_error", "param": None,
                      "code": "model_not_found"}),
    "err-500": (500, {"message": "The server had an error while processing "
                      "your request. Sorry about that!",
                      "type": "server_error", "param": None, "code": None}),
    "err-503": (503, {"message": "The engine is currently overloaded, please "
                      "try again later", "type": "server_error",
                      "param": None, "code": None}),
}

MIDSTREAM_ERROR = {"message": "The server had an error while processing "
                   "your request. Sorry about that!",
                   "type": "server_error", "param": None, "code": None}

EMBED_INPUTS_MAX = 2048
WORD_RE = re.compile(r"\w+", re.UNICODE)
flaky_seen = {}         # flaky-* model name -> requests so far

log_lock = threading.Lock()
counter_lock = threading.Lock()
counter = [0]


def next_id():
    with counter_lock:
        counter[0] += 1
        return "chatcmpl-fake%06d" % counter[0]


def content_bytes(messages):
    n = 0
    for m in messages if isinstance(messages, list) else []:
        c = m.get("content") if isinstance(m, dict) else None
        if isinstance(c, str):
            n += len(c.encode())
        elif isinstance(c, list):
            for part in c:
                if isinstance(part, dict) and isinstance(part.get("text"),
                                                         str):
                    n += len(part["text"].encode())
    return n


def split_words(text):
    """'a b c' -> ['a', ' b', ' c'], as OpenAI tokens look."""
    out, cur = [], ""
    for ch in text:
        if ch == " " and cur:
            out.append(cur)
            cur = ""
        cur += ch
    if cur:
        out.append(cur)
    return out


class ClientGone(Exception):
    pass


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-upstream/1.0"

    def log_message(self, fmt, *args):
        pass

    # ---- plumbing ----

    def record(self, obj):
        path = self.server.log_path
        if not path:
            return
        line = json.dumps(obj, separators=(",", ":")) + "\n"
        with log_lock, open(path, "a", encoding="utf-8") as f:
            f.write(line)

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def send_json(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def send_error_obj(self, status, err):
        extra = {}
        if status == 429:
            extra["Retry-After"] = "1"
        self.send_json(status, {"error": err}, extra)

    def start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream; charset=utf-8")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.wfile.flush()

    def chunk(self, data):
        """One HTTP chunk, flushed; ClientGone when the write fails."""
        if isinstance(data, str):
            data = data.encode()
        try:
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError, OSError):
            raise ClientGone()

    def event(self, obj):
        if isinstance(obj, str):
            self.chunk("data: " + obj + "\n\n")
        else:
            self.chunk("data: " + json.dumps(obj, separators=(",", ":")) +
                       "\n\n")

    def end_stream(self):
        self.chunk(b"")         # the zero-length last chunk

    def wait_for_client_to_leave(self):
        """Say nothing until the client closes (or WAIT_MAX_S)."""
        sock = self.connection
        deadline = time.monotonic() + WAIT_MAX_S
        while time.monotonic() < deadline:
            r, _, _ = select.select([sock], [], [], 0.1)
            if r:
                try:
                    if not sock.recv(4096):
                        break
                except OSError:
                    break
        self.close_connection = True

    def sleep_watching(self, seconds):
        """Sleep, but raise ClientGone if the client closes meanwhile."""
        sock = self.connection
        r, _, _ = select.select([sock], [], [], seconds)
        if r:
            try:
                data = sock.recv(4096, socket.MSG_PEEK)
            except OSError:
                raise ClientGone()
            if not data:
                raise ClientGone()

    def reset(self):
        sock = self.connection
        try:
            self.wfile.flush()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                            struct.pack("ii", 1, 0))
            sock.close()
        except OSError:
            pass
        self.close_connection = True

    def authorized(self):
        key = self.server.require_key
        if not key:
            return True
        return self.headers.get("Authorization", "") == "Bearer " + key

    # ---- routes ----

    def do_GET(self):
        path = self.path.split("?")[0]
        if path in ("/v1/models", "/models"):
            names = ["echo", "gpt-test", "slow", "err-429", "quota-429",
                     "err-401", "err-404", "err-500", "err-503",
                     "malformed", "midstream-error", "hang", "stall",
                     "reset", "huge", "tool-call", "tool-loop",
                     "tool-loop-err"]
            self.send_json(200, {"object": "list", "data": [
                {"id": n, "object": "model", "created": 0,
                 "owned_by": "fake"} for n in names]})
            return
        self.send_error_obj(404, {"message": "Unknown path " + path,
                                  "type": "invalid_request_error",
                                  "param": None, "code": None})

    def do_POST(self):
        path = self.path.split("?")[0]
        raw = self.read_body()
        if path.startswith("/v1/"):
            path = path[3:]
        if path == "/audio/transcriptions":
            return self.transcriptions(raw)
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        if not isinstance(body, dict):
            self.record({"_path": self.path,
                         "_invalid": raw[:1000].decode("utf-8", "replace")})
            return self.send_error_obj(400, {
                "message": "We could not parse the JSON body of your "
                "request.", "type": "invalid_request_error",
                "param": None, "code": None})
        self.record(body)
        if not self.authorized():
            return self.send_error_obj(401, ERRORS["err-401"][1])
        if path == "/chat/completions":
            try:
                return self.chat(body)
            except ClientGone:
                self.close_connection = True
                return
        if path == "/embeddings":
            return self.embeddings(body)
        if path == "/rerank":
            return self.rerank(body)
        if path == "/audio/speech":
            self.send_response(200)
            self.send_header("Content-Type", "audio/mpeg")
            self.send_header("Content-Length", str(len(FAKE_MP3)))
            self.end_headers()
            self.wfile.write(FAKE_MP3)
            return
        self.send_error_obj(404, {"message": "Unknown path " + self.path,
                                  "type": "invalid_request_error",
                                  "param": None, "code": None})

    # ---- embeddings and rerank ----

    @staticmethod
    def invalid(message, param=None):
        return (400, {"message": message, "type": "invalid_request_error",
                      "param": param, "code": None})

    def model_error(self, model):
        """The error this model fails with, or None."""
        if model in ERRORS:
            return ERRORS[model]
        if model == "leak-key":
            auth = self.headers.get("Authorization", "")
            key = auth[7:] if auth.startswith("Bearer ") else auth
            return (500, {"message": "The server had an error with API key "
                          "%s, sorry about that!" % key,
                          "type": "server_error", "param": None,
                          "code": None})
        m = re.fullmatch(r"flaky-(429|500)-(\d+)", model)
        if m:
            with counter_lock:
                n = flaky_seen.get(model, 0) + 1
                flaky_seen[model] = n
            if n <= int(m.group(2)):
                return ERRORS["err-" + m.group(1)]
        return None

    @staticmethod
    def embed_inputs(value):
        """[(words, tokens)] of an embeddings "input", or None."""
        def is_tokens(v):
            return isinstance(v, list) and len(v) > 0 and all(
                isinstance(t, int) and not isinstance(t, bool) and t >= 0
                for t in v)
        if isinstance(value, str):
            value = [value]
        elif is_tokens(value):
            value = [value]
        if not isinstance(value, list) or len(value) == 0:
            return None
        out = []
        for v in value:
            if isinstance(v, str) and v != "":
                out.append((WORD_RE.findall(v.lower()),
                            max(1, len(v.encode()) // 4)))
            elif is_tokens(v):
                out.append((["#%d" % t for t in v], len(v)))
            else:
                return None
        return out

    @staticmethod
    def vector(words, dim):
        v = [0.0] * dim
        for w in words:
            h = hashlib.sha256(w.encode()).digest()
            i = int.from_bytes(h[:8], "big") % dim
            v[i] += 1.0 if h[8] & 1 else -1.0
        norm = math.sqrt(sum(x * x for x in v))
        if norm == 0:
            v[0] = 1.0
            return v
        return [x / norm for x in v]

    @staticmethod
    def embed_dim(model, dimensions):
        if dimensions is not None:
            return dimensions
        if model == "text-embedding-3-large":
            return 3072
        if model.startswith("text-embedding-"):
            return 1536
        return 64

    def embeddings(self, body):
        model = body.get("model")
        if not isinstance(model, str) or model == "":
            return self.send_error_obj(*self.invalid(
                "you must provide a model parameter", "model"))
        if model == "hang":
            return self.wait_for_client_to_leave()
        err = self.model_error(model)
        if err is not None:
            return self.send_error_obj(*err)
        raw = body.get("input")
        if isinstance(raw, list) and len(raw) > EMBED_INPUTS_MAX:
            return self.send_error_obj(*self.invalid(
                "'$.input' is invalid. Please check the API reference: "
                "https://platform.openai.com/docs/api-reference. "
                "Too many inputs: the maximum number of inputs is %d."
                % EMBED_INPUTS_MAX, "input"))
        inputs = self.embed_inputs(raw)
        if inputs is None:
            return self.send_error_obj(*self.invalid(
                "'$.input' is invalid. Please check the API reference: "
                "https://platform.openai.com/docs/api-reference.", "input"))
        fmt = body.get("encoding_format", "float")
        if fmt not in ("float", "base64"):
            return self.send_error_obj(*self.invalid(
                "Invalid value for 'encoding_format': must be 'float' or "
                "'base64'.", "encoding_format"))
        dims = body.get("dimensions")
        if dims is not None and (not isinstance(dims, int) or
                                 isinstance(dims, bool) or dims < 1 or
                                 dims > 8192):
            return self.send_error_obj(*self.invalid(
                "Invalid value for 'dimensions': must be an integer from "
                "1 to 8192.", "dimensions"))
        dim = self.embed_dim(model, dims)
        data = []
        for i, (words, _) in enumerate(inputs):
            if model == "short" and i == len(inputs) - 1:
                break
            v = self.vector(words, 8 + i if model == "ragged" else dim)
            if fmt == "base64":
                v = base64.b64encode(struct.pack("<%df" % len(v), *v)) \
                    .decode()
            data.append({"object": "embedding", "index": i,
                         "embedding": v})
        tokens = sum(t for _, t in inputs)
        self.send_json(200, {"object": "list", "data": data, "model": model,
                             "usage": {"prompt_tokens": tokens,
                                       "total_tokens": tokens}})

    def rerank(self, body):
        model = body.get("model")
        if not isinstance(model, str) or model == "":
            return self.send_error_obj(*self.invalid(
                "you must provide a model parameter", "model"))
        if model == "hang":
            return self.wait_for_client_to_leave()
        err = self.model_error(model)
        if err is not None:
            return self.send_error_obj(*err)
        query, docs = body.get("query"), body.get("documents")
        if not isinstance(query, str) or query == "":
            return self.send_error_obj(*self.invalid(
                "query must be a non-empty string", "query"))
        texts = []
        for d in docs if isinstance(docs, list) else [None]:
            if isinstance(d, dict):
                d = d.get("text")
            if not isinstance(d, str):
                return self.send_error_obj(*self.invalid(
                    "documents must be a list of strings or of objects "
                    "with a text", "documents"))
            texts.append(d)
        top_n = body.get("top_n")
        if top_n is not None and (not isinstance(top_n, int) or
                                  isinstance(top_n, bool) or top_n < 1):
            return self.send_error_obj(*self.invalid(
                "top_n must be a positive integer", "top_n"))
        qwords = set(WORD_RE.findall(query.lower()))
        results = []
        for i, t in enumerate(texts):
            shared = qwords & set(WORD_RE.findall(t.lower()))
            score = len(shared) / len(qwords) if qwords else 0.0
            r = {"index": i, "relevance_score": score}
            if body.get("return_documents", True) is not False:
                r["document"] = {"text": t}
            results.append(r)
        results.sort(key=lambda r: (-r["relevance_score"], r["index"]))
        if top_n is not None:
            results = results[:top_n]
        tokens = sum(max(1, len(t.encode()) // 4) for t in [query] + texts)
        self.send_json(200, {"model": model, "results": results,
                             "usage": {"total_tokens": tokens}})

    def transcriptions(self, raw):
        ctype = self.headers.get("Content-Type", "")
        self.record({"_path": self.path, "_bytes": len(raw)})
        if not self.authorized():
            return self.send_error_obj(401, ERRORS["err-401"][1])
        boundary = None
        for p in ctype.split(";"):
            p = p.strip()
            if p.startswith("boundary="):
                boundary = p[9:].strip('"').encode()
        size = None
        if boundary:
            for part in raw.split(b"--" + boundary):
                head, sep, content = part.partition(b"\r\n\r\n")
                if sep and b'name="file"' in head:
                    if content.endswith(b"\r\n"):
                        content = content[:-2]
                    size = len(content)
        if size is None:
            return self.send_error_obj(400, {
                "message": "Could not parse multipart form: no file",
                "type": "invalid_request_error", "param": "file",
                "code": None})
        self.send_json(200, {"text": "fake transcription of %d bytes" % size})

    # ---- chat completions ----

    def chat(self, body):
        model = body.get("model") if isinstance(body.get("model"), str) \
            else ""
        messages = body.get("messages")
        stream = body.get("stream") is True
        so = body.get("stream_options")
        usage_wanted = stream and isinstance(so, dict) and \
            so.get("include_usage") is True
        prompt_tokens = max(1, content_bytes(messages) // 4)

        if model in ERRORS:
            status, err = ERRORS[model]
            return self.send_error_obj(status, err)
        if model == "hang":
            return self.wait_for_client_to_leave()
        if model == "leak-key":
            return self.leak_key(stream)

        ctx = {"id": next_id(), "created": int(time.time()),
               "model": model, "prompt_tokens": prompt_tokens,
               "usage_wanted": usage_wanted}

        if model == "tool-call":
            return self.tool_call(body, stream, ctx)
        if model in ("tool-loop", "tool-loop-err"):
            return self.tool_loop(body, stream, ctx)
        if model == "classify":
            return self.classify(messages, stream, ctx)
        if model == "extract":
            return self.extract(body, stream, ctx)
        if model == "echo":
            text = json.dumps(messages, separators=(",", ":"),
                              ensure_ascii=False)
            pieces = [text[i:i + 8] for i in range(0, len(text), 8)] or [""]
            return self.answer(pieces, stream, ctx)
        if model == "slow" or model.startswith("slow-"):
            ms, count = 100, 40
            bits = model.split("-")
            try:
                if len(bits) > 1:
                    ms = int(bits[1])
                if len(bits) > 2:
                    count = int(bits[2])
            except ValueError:
                pass
            pieces = ["tok%d " % i for i in range(count)]
            return self.answer(pieces, stream, ctx, pause=ms / 1000.0)
        if model == "huge":
            pieces = ["a" * HUGE_DELTA] * (HUGE_BYTES // HUGE_DELTA)
            return self.answer(pieces, stream, ctx)
        if model == "malformed":
            return self.malformed(stream)
        if model == "midstream-error":
            return self.midstream_error(stream, ctx)
        if model in ("stall", "reset"):
            return self.cut_short(model, stream, ctx)
        scripted = self.scripted(messages)
        if scripted is not None:
            return self.answer(split_words(scripted), stream, ctx)
        return self.answer(split_words(HELLO), stream, ctx)

    def scripted(self, messages):
        """The --answers reply whose key text appears in the prompt."""
        if not ANSWERS or not isinstance(messages, list):
            return None
        text = json.dumps(messages, ensure_ascii=False)
        for key, reply in ANSWERS:
            if json.dumps(key, ensure_ascii=False)[1:-1] in text:
                return reply
        return None

    def chunk_obj(self, ctx, delta, finish=None):
        o = {"id": ctx["id"], "object": "chat.completion.chunk",
             "created": ctx["created"], "model": ctx["model"],
             "system_fingerprint": "fp_fake",
             "choices": [{"index": 0, "delta": delta, "logprobs": None,
                          "finish_reason": finish}]}
        if ctx["usage_wanted"]:
            o["usage"] = None
        return o

    def usage(self, ctx, completion_tokens):
        return {"prompt_tokens": ctx["prompt_tokens"],
                "completion_tokens": completion_tokens,
                "total_tokens": ctx["prompt_tokens"] + completion_tokens}

    def completion_obj(self, ctx, message, finish, completion_tokens):
        return {"id": ctx["id"], "object": "chat.completion",
                "created": ctx["created"], "model": ctx["model"],
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": message,
                             "logprobs": None, "finish_reason": finish}],
                "usage": self.usage(ctx, completion_tokens)}

    def stream_tail(self, ctx, finish, completion_tokens):
        self.event(self.chunk_obj(ctx, {}, finish))
        if ctx["usage_wanted"]:
            self.event({"id": ctx["id"], "object": "chat.completion.chunk",
                        "created": ctx["created"], "model": ctx["model"],
                        "system_fingerprint": "fp_fake", "choices": [],
                        "usage": self.usage(ctx, completion_tokens)})
        self.event("[DONE]")
        self.end_stream()

    def answer(self, pieces, stream, ctx, pause=0.0):
        if not stream:
            if pause:
                self.sleep_watching(pause * len(pieces))
            msg = {"role": "assistant", "content": "".join(pieces),
                   "refusal": None}
            return self.send_json(200, self.completion_obj(
                ctx, msg, "stop", len(pieces)))
        self.start_stream()
        self.event(self.chunk_obj(ctx, {"role": "assistant", "content": "",
                                        "refusal": None}))
        for i, p in enumerate(pieces):
            if pause and i > 0:
                self.sleep_watching(pause)
            self.event(self.chunk_obj(ctx, {"content": p}))
        self.stream_tail(ctx, "stop", len(pieces))

    def tool_call(self, body, stream, ctx):
        messages = body.get("messages") or []
        last = messages[-1] if messages and isinstance(messages[-1], dict) \
            else {}
        if last.get("role") == "tool":
            content = last.get("content")
            if not isinstance(content, str):
                content = json.dumps(content)
            return self.answer(split_words("Tool result received: " +
                                           content), stream, ctx)
        tools = body.get("tools")
        name = None
        if isinstance(tools, list) and tools and isinstance(tools[0], dict):
            fn = tools[0].get("function")
            if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                name = fn["name"]
        if name is None:
            return self.send_error_obj(400, {
                "message": "model tool-call needs at least one tool",
                "type": "invalid_request_error", "param": "tools",
                "code": None})
        call_id = "call_" + ctx["id"][-6:]
        if not stream:
            msg = {"role": "assistant", "content": None, "refusal": None,
                   "tool_calls": [{"id": call_id, "type": "function",
                                   "function": {"name": name,
                                                "arguments": "{}"}}]}
            return self.send_json(200, self.completion_obj(
                ctx, msg, "tool_calls", 3))
        self.start_stream()
        self.event(self.chunk_obj(ctx, {
            "role": "assistant", "content": None, "refusal": None,
            "tool_calls": [{"index": 0, "id": call_id, "type": "function",
                            "function": {"name": name, "arguments": ""}}]}))
        for piece in ("{", "}"):
            self.event(self.chunk_obj(ctx, {"tool_calls": [
                {"index": 0, "function": {"arguments": piece}}]}))
        self.stream_tail(ctx, "tool_calls", 3)

    def tool_loop(self, body, stream, ctx):
        messages = body.get("messages") or []
        n = sum(1 for m in messages
                if isinstance(m, dict) and m.get("role") == "tool")
        if ctx["model"] == "tool-loop-err" and n > 0:
            return self.send_error_obj(*ERRORS["err-500"])
        tools = body.get("tools")
        fn = tools[0].get("function") if isinstance(tools, list) and tools \
            and isinstance(tools[0], dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            return self.send_tool_call(fn["name"], "{}", stream, ctx)
        return self.answer(split_words("Tool results received: %d" % n),
                           stream, ctx)

    def send_tool_call(self, name, arguments, stream, ctx):
        call_id = "call_" + ctx["id"][-6:]
        if not stream:
            msg = {"role": "assistant", "content": None, "refusal": None,
                   "tool_calls": [{"id": call_id, "type": "function",
                                   "function": {"name": name,
                                                "arguments": arguments}}]}
            return self.send_json(200, self.completion_obj(
                ctx, msg, "tool_calls", 3))
        self.start_stream()
        self.event(self.chunk_obj(ctx, {
            "role": "assistant", "content": None, "refusal": None,
            "tool_calls": [{"index": 0, "id": call_id, "type": "function",
                            "function": {"name": name, "arguments": ""}}]}))
        for i in range(0, len(arguments), 16):
            self.event(self.chunk_obj(ctx, {"tool_calls": [
                {"index": 0,
                 "function": {"arguments": arguments[i:i + 16]}}]}))
        self.stream_tail(ctx, "tool_calls", 3)

    @staticmethod
    def last_user_text(messages):
        for m in reversed(messages if isinstance(messages, list) else []):
            if isinstance(m, dict) and m.get("role") == "user" and \
                    isinstance(m.get("content"), str):
                return m["content"]
        return ""

    @staticmethod
    def words(text):
        return set(re.findall(r"[a-z0-9]+", str(text).lower()))

    def classify(self, messages, stream, ctx):
        try:
            q = json.loads(self.last_user_text(messages))
        except ValueError:
            q = None
        cats = q.get("categories") if isinstance(q, dict) else None
        if not isinstance(cats, list) or not cats or \
                not all(isinstance(c, dict) for c in cats):
            return self.answer(split_words(HELLO), stream, ctx)
        text = self.words(" ".join(str(t) for t in q.get("input_text")
                                   or []))
        best, score = cats[0], 0
        for c in cats:
            n = len(text & self.words(c.get("category_name", "")))
            if n > score:
                best, score = c, n
        out = {"keywords": sorted(text & self.words(
                   best.get("category_name", ""))),
               "category_id": best.get("category_id"),
               "category_name": best.get("category_name")}
        reply = "```json\n" + json.dumps(out, ensure_ascii=False) + "\n```"
        return self.answer([reply[i:i + 8] for i in range(0, len(reply), 8)],
                           stream, ctx)

    @staticmethod
    def sample(name, schema, text):
        t = schema.get("type") if isinstance(schema, dict) else None
        found = None
        m = re.search(r'"?\b' + re.escape(name) +
                      r'"?\s*[:=]\s*"?([^",\n}]+)"?', text)
        if m:
            found = m.group(1).strip()
        if t == "array":
            return [Handler.sample(name, schema.get("items") or {}, "")]
        if t == "number" or t == "integer":
            try:
                return float(found) if "." in found else int(found)
            except (TypeError, ValueError):
                return 42
        if t == "boolean":
            return True if found is None else found.lower() == "true"
        if t == "object":
            return {"name": "sample"}
        if found is not None:
            return found
        if isinstance(schema.get("enum"), list) and schema["enum"]:
            return schema["enum"][0]
        return "sample " + name

    def extract(self, body, stream, ctx):
        messages = body.get("messages")
        last = self.last_user_text(messages)
        m = re.search(r"<(context|text)>\n(.*)\n</\1>", last, re.S)
        text = m.group(2) if m else ""
        tools = body.get("tools")
        if isinstance(tools, list) and tools and isinstance(tools[0], dict):
            fn = tools[0].get("function") or {}
            schema = fn.get("parameters") or {}
        else:
            fn = None
            m = re.search(r"<structure>\n(.*)\n</structure>", last, re.S)
            try:
                schema = json.loads(m.group(1)) if m else None
            except ValueError:
                schema = None
            if not isinstance(schema, dict):
                return self.answer(split_words(HELLO), stream, ctx)
        props = schema.get("properties") or {}
        args = {k: self.sample(k, v, text) for k, v in props.items()}
        if fn is not None:
            return self.send_tool_call(fn.get("name") or "extract",
                                       json.dumps(args), stream, ctx)
        reply = "```json\n" + json.dumps(args, ensure_ascii=False) + "\n```"
        return self.answer([reply[i:i + 8] for i in range(0, len(reply), 8)],
                           stream, ctx)

    def malformed(self, stream):
        if not stream:
            data = b"this is not json {"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.start_stream()
        self.chunk("data: this is not json\n\n")
        self.chunk("data: {\"choices\": [\n\n")
        self.chunk("<html>garbage</html>\n\n")
        self.event("[DONE]")
        self.end_stream()

    def midstream_error(self, stream, ctx):
        if not stream:
            return self.send_json(200, {"error": MIDSTREAM_ERROR})
        self.start_stream()
        self.event(self.chunk_obj(ctx, {"role": "assistant", "content": ""}))
        for p in split_words("Partial answer before"):
            self.event(self.chunk_obj(ctx, {"content": p}))
        self.event({"error": MIDSTREAM_ERROR})
        self.end_stream()
        self.close_connection = True

    def leak_key(self, stream):
        auth = self.headers.get("Authorization", "")
        key = auth[7:] if auth.startswith("Bearer ") else auth
        err = {"message": "The server had an error with API key %s, "
               "sorry about that!" % key, "type": "server_error",
               "param": None, "code": None}
        if not stream:
            return self.send_error_obj(500, err)
        self.start_stream()
        self.event({"id": next_id(), "object": "chat.completion.chunk",
                    "created": int(time.time()), "model": "leak-key",
                    "choices": [{"index": 0, "delta": {"role": "assistant",
                                 "content": "Partial "}, "finish_reason": None}]})
        self.event({"error": err})
        self.end_stream()
        self.close_connection = True

    def cut_short(self, model, stream, ctx):
        pieces = split_words("This answer will not finish")
        if stream:
            self.start_stream()
            self.event(self.chunk_obj(ctx, {"role": "assistant",
                                            "content": ""}))
            for p in pieces:
                self.event(self.chunk_obj(ctx, {"content": p}))
        else:
            whole = json.dumps(self.completion_obj(
                ctx, {"role": "assistant", "content": "".join(pieces)},
                "stop", len(pieces))).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(whole)))
            self.end_headers()
            self.wfile.write(whole[:len(whole) // 2])
            self.wfile.flush()
        if model == "stall":
            self.wait_for_client_to_leave()
        else:
            self.reset()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address):
        # clients that give up (stop, timeouts, size caps) are expected
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, BrokenPipeError, ClientGone)):
            return
        super().handle_error(request, client_address)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log")
    ap.add_argument("--require-key")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--answers", help="JSON file: [[prompt text, reply], ...];"
                    " ordinary models answer the reply of the first prompt"
                    " text found in the messages")
    args = ap.parse_args()
    if args.answers:
        global ANSWERS
        with open(args.answers) as f:
            ANSWERS = [(str(k), str(v)) for k, v in json.load(f)]

    srv = Server(("127.0.0.1", args.port), Handler)
    srv.log_path = args.log
    srv.require_key = args.require_key
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.replace(tmp, args.port_file)
    try:
        srv.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
