"""A real ``openhands-agent-server`` on 127.0.0.1 for the integration tests (the ``server`` fixture of
``conftest.py``): started with the tests' shell tool preloaded, its conversations and default workspace in a folder
of its own."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parent  # holds oh_shell_tool.py, which the server imports


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AgentServer:
    """A real agent server in a child process; its conversations and default workspace under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.conversations = root / "conversations"
        self.log = root / "server.log"
        env = {**os.environ, "OH_CONVERSATIONS_PATH": str(self.conversations),
               "OH_WORKSPACE_PATH": str(root / "project")}
        with self.log.open("w") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "openhands.agent_server", "--host", "127.0.0.1", "--port", str(self.port),
                 "--import-modules", "oh_shell_tool", "--extra-python-path", str(HERE)],
                cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
            )

    def wait(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the agent server exited {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise AssertionError(f"the agent server did not answer within {timeout:g} s:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
