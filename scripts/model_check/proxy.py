"""A loopback HTTP forwarder between Heimdell and the model server that records every request.

    python3 proxy.py --listen-port P --upstream http://127.0.0.1:Q --log requests.jsonl [--save DIR]

Everything is forwarded unchanged (plain and server-sent-event answers alike). For every
POST .../chat/completions one JSON line is appended to the log: when it started, how long it
took, the HTTP status, the shape of the conversation that was sent (roles, how many user
turns, whether tool results were in it, the tools offered, a digest of each message so that
turns of one thread can be told apart) and what the server answered: its `usage` (the server's
own prompt / completion token counts), the finish reason, the tool calls' names, or the error.
With --save DIR, each chat request's body and the server's answer (its first 64 KiB) are also
kept as DIR/<n>.request.json and DIR/<n>.answer.txt, for looking at what a turn sent.
Only the standard library; runs with any python3.
"""

import argparse
import hashlib
import http.client
import json
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}

_lock = threading.Lock()
_seq = 0


def digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()[:12]


def describe_request(body: bytes) -> dict:
    try:
        req = json.loads(body)
    except ValueError:
        return {"request_error": "not JSON"}
    messages = req.get("messages") or []
    roles = [m.get("role", "?") for m in messages if isinstance(m, dict)]
    last_user = max((i for i, r in enumerate(roles) if r == "user"), default=-1)
    tools = req.get("tools") or []
    return {
        "model": req.get("model"),
        "stream": bool(req.get("stream")),
        "roles": roles,
        "user_turns": roles.count("user"),
        "system_messages": roles.count("system"),
        # Tool results after the last user message: a follow-up call inside one turn.
        "follow_up": any(r == "tool" for r in roles[last_user + 1 :]) if last_user >= 0 else False,
        "tools": len(tools),
        "tool_choice": req.get("tool_choice"),
        "message_digests": [digest(m) for m in messages],
        "request_bytes": len(body),
    }


def describe_answer(obj: dict, out: dict) -> None:
    if not isinstance(obj, dict):
        return
    if isinstance(obj.get("usage"), dict):
        out["usage"] = obj["usage"]
    if "error" in obj:
        out["error"] = obj["error"] if isinstance(obj["error"], (str, dict)) else str(obj["error"])
    if "detail" in obj and "choices" not in obj:
        out["error"] = obj["detail"]
    for choice in obj.get("choices") or []:
        if not isinstance(choice, dict):
            continue
        if choice.get("finish_reason"):
            out["finish_reason"] = choice["finish_reason"]
        msg = choice.get("message") or choice.get("delta") or {}
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if isinstance(content, str):
            out["content_chars"] = out.get("content_chars", 0) + len(content)
            if "content_head" not in out and content:
                out["content_head"] = content[:160]
        for call in msg.get("tool_calls") or []:
            name = ((call or {}).get("function") or {}).get("name")
            if name:
                out.setdefault("tool_calls", []).append(name)


class Proxy(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream: urllib.parse.SplitResult
    log_path: str
    save_dir: str = ""

    def log_message(self, *args):  # quiet: the JSON lines are the log
        pass

    def _forward(self):
        global _seq
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = None
        if self.command == "POST" and self.path.rstrip("/").endswith("/chat/completions"):
            with _lock:
                _seq += 1
                n = _seq
            record = {"n": n, "path": self.path, "started": time.time()}
            record.update(describe_request(body))
            if self.save_dir:
                with open(f"{self.save_dir}/{n}.request.json", "wb") as f:
                    f.write(body)
        answer = bytearray()
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=3600)
        try:
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                resp = conn.getresponse()
            except OSError as e:
                msg = json.dumps({"error": f"model-check proxy: upstream unreachable: {e}"}).encode()
                self.send_response(502)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(msg)))
                self.end_headers()
                self.wfile.write(msg)
                if record is not None:
                    record.update(status=502, error=str(e))
                return
            ctype = resp.getheader("Content-Type", "")
            if record is not None:
                record["status"] = resp.status
            self.send_response(resp.status)
            for k, v in resp.getheaders():
                if k.lower() not in HOP_BY_HOP:
                    self.send_header(k, v)
            if "text/event-stream" in ctype:
                # Stream through line by line; the connection closes at the end.
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                first = None
                while True:
                    line = resp.fp.readline()
                    if not line:
                        break
                    if first is None:
                        first = time.time()
                    self.wfile.write(line)
                    self.wfile.flush()
                    if len(answer) < 65536:
                        answer.extend(line)
                    text = line.decode("utf-8", "replace").strip()
                    if record is not None and text.startswith("data:"):
                        data = text[5:].strip()
                        if data and data != "[DONE]":
                            try:
                                describe_answer(json.loads(data), record)
                            except ValueError:
                                pass
                if record is not None and first is not None:
                    record["first_byte_seconds"] = round(first - record["started"], 3)
            else:
                data = resp.read()
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                answer.extend(data[:65536])
                if record is not None:
                    try:
                        describe_answer(json.loads(data), record)
                    except ValueError:
                        record["error"] = data[:300].decode("utf-8", "replace")
        except (BrokenPipeError, ConnectionResetError) as e:
            if record is not None:
                record["client_gone"] = str(e)
        finally:
            conn.close()
            if record is not None:
                record["seconds"] = round(time.time() - record["started"], 3)
                if self.save_dir:
                    with open(f"{self.save_dir}/{record['n']}.answer.txt", "wb") as f:
                        f.write(bytes(answer))
                with _lock, open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")

    do_GET = _forward
    do_POST = _forward


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--listen-port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--save", default="")
    a = p.parse_args()
    Proxy.upstream = urllib.parse.urlsplit(a.upstream)
    Proxy.log_path = a.log
    Proxy.save_dir = a.save
    server = ThreadingHTTPServer(("127.0.0.1", a.listen_port), Proxy)
    server.daemon_threads = True
    print(f"proxy: 127.0.0.1:{a.listen_port} -> {a.upstream}", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
