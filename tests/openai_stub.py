"""A real OpenAI-compatible chat-completions server on 127.0.0.1 for tests of the LLM path.

It speaks HTTP and the chat-completions JSON protocol, so the real ``openai`` client talks to it exactly as to a
hosted endpoint. Replies are scripted per test: an answer (text, or tool calls as a function-calling model sends
them), a 429, a 500, a malformed body, or a slow answer (to trigger the client's timeout). Every request body is
recorded for assertions (e.g. that secrets were redacted). Frameworks that only speak to a model over HTTP (the
OpenHands agent server through litellm) are tested against it too.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    content: str = "{}"
    status: int = 200
    delay: float = 0.0
    raw: bytes | None = None
    prompt_tokens: int = 100
    completion_tokens: int = 20
    tool_calls: list[ToolCall] | None = None
    """Function calls the answer makes (``content`` is then the text beside them; empty for none)."""


@dataclass
class ToolCall:
    """One function call of a scripted answer, as the chat-completions protocol carries it."""

    id: str
    name: str
    arguments: dict[str, Any]

    def wire(self) -> dict[str, Any]:
        return {"id": self.id, "type": "function",
                "function": {"name": self.name, "arguments": json.dumps(self.arguments)}}


def _message(reply: Reply) -> dict[str, Any]:
    if not reply.tool_calls:
        return {"role": "assistant", "content": reply.content}
    return {"role": "assistant", "content": reply.content or None, "tool_calls": [c.wire() for c in reply.tool_calls]}


@dataclass
class StubServer:
    replies: deque[Reply] = field(default_factory=deque)
    requests: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None
    untooled: Reply | None = None
    """When set, the answer to every request that offers no tools (a framework's side call, e.g. the title the
    OpenHands agent server asks for), leaving the scripted replies to the agent's own tool-calling requests."""

    @property
    def base_url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *replies: Reply | str) -> None:
        self.replies.extend(r if isinstance(r, Reply) else Reply(content=r) for r in replies)

    def start(self) -> StubServer:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                stub.requests.append(body)
                if stub.untooled is not None and not body.get("tools"):
                    reply = stub.untooled
                else:
                    reply = stub.replies.popleft() if stub.replies else Reply(status=500, content="no scripted reply")
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.raw is not None:
                    payload = reply.raw
                elif reply.status != 200:
                    payload = json.dumps(
                        {"error": {"message": reply.content, "type": "test", "code": reply.status}}
                    ).encode()
                else:
                    payload = json.dumps(
                        {
                            "id": f"chatcmpl-{len(stub.requests)}",
                            "object": "chat.completion",
                            "created": int(time.time()),
                            "model": body.get("model", "stub"),
                            "choices": [
                                {
                                    "index": 0,
                                    "message": _message(reply),
                                    "finish_reason": "tool_calls" if reply.tool_calls else "stop",
                                }
                            ],
                            "usage": {
                                "prompt_tokens": reply.prompt_tokens,
                                "completion_tokens": reply.completion_tokens,
                                "total_tokens": reply.prompt_tokens + reply.completion_tokens,
                            },
                        }
                    ).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
