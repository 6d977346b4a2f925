"""A small shell tool for the real openhands-sdk, so integration runs execute real commands in a local workspace.

openhands-sdk ships only ``finish``/``think``-style built-ins; its terminal and file-editor tools live in
``openhands-tools``, whose dependency tree (browser-use, google clients, ...) pins an older SDK. This tool uses the
SDK's own tool API (``ToolDefinition`` + ``ToolExecutor``) and runs each command in the conversation's workspace
folder, so the agent loop, events and persistence are the SDK's, unchanged.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from typing import Any, Self

from openhands.sdk.tool import Action, Observation, ToolDefinition, ToolExecutor, register_tool
from pydantic import Field

TOOL_NAME = "shell"


class ShellAction(Action):
    """Run ``command`` with ``bash -c`` in the workspace."""

    command: str = Field(description="The bash command to run.")
    timeout: float = Field(default=30.0, description="Seconds before the command is killed.")


class ShellObservation(Observation):
    """Output (stdout then stderr) and exit code; a non-zero exit is an error observation."""

    exit_code: int | None = None


class ShellExecutor(ToolExecutor[ShellAction, ShellObservation]):
    def __init__(self, working_dir: str) -> None:
        self.working_dir = working_dir

    def __call__(self, action: ShellAction, conversation: Any = None) -> ShellObservation:
        # a timeout raises out of the executor: the SDK turns that into an AgentErrorEvent for the call
        done = subprocess.run(
            ["bash", "-c", action.command],
            cwd=self.working_dir,
            capture_output=True,
            text=True,
            timeout=action.timeout,
        )
        return ShellObservation.from_text(
            done.stdout + done.stderr, is_error=done.returncode != 0, exit_code=done.returncode
        )


class ShellTool(ToolDefinition[ShellAction, ShellObservation]):
    @classmethod
    def create(cls, conv_state: Any = None, **params: Any) -> Sequence[Self]:
        return [
            cls(
                description="Run a bash command in the workspace and return its output and exit code.",
                action_type=ShellAction,
                observation_type=ShellObservation,
                executor=ShellExecutor(str(conv_state.workspace.working_dir)),
            )
        ]


register_tool("ShellTool", ShellTool)
