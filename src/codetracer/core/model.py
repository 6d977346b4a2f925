"""The trace tree: Run > Stage > Step > Call, as typed pydantic models.

A run's steps are numbered 1, 2, 3 ... (CodeTraceBench convention). Stages are contiguous step ranges; a step names its
stage by id so the tree can be read either way. Calls are the LLM requests and tool invocations inside a step; tool
calls started in the same step are parallel siblings.

Large texts are never cut at the end: when an observation is too large to keep inline, the tree keeps its head and
its tail plus a reference to a content-addressed blob file with the whole text (:mod:`codetracer.core.blobs`).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Outcome(StrEnum):
    SOLVED = "solved"
    FAILED = "failed"
    UNKNOWN = "unknown"

    @classmethod
    def parse(cls, value: object) -> Outcome:
        """Read an outcome from what sources write (``True``, ``"resolved"``, ``1.0`` ...)."""
        if isinstance(value, Outcome):
            return value
        if isinstance(value, bool):
            return cls.SOLVED if value else cls.FAILED
        text = str(value).strip().lower()
        if text in {"solved", "resolved", "success", "succeeded", "pass", "passed", "true", "1", "1.0"}:
            return cls.SOLVED
        if text in {"failed", "failure", "fail", "unresolved", "error", "false", "0", "0.0"}:
            return cls.FAILED
        return cls.UNKNOWN


class StageKind(StrEnum):
    """Workflow stages people recognise in a code-agent run."""

    ENV_CHECK = "environment_check"
    DEPENDENCY_INSTALL = "dependency_install"
    INSPECTION = "inspection"
    PATCHING = "patching"
    VERIFICATION = "verification"
    SUBMIT = "submit"
    OTHER = "other"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class FileEdit(_Model):
    """One file change made by an action, as the framework's editor tool reports it."""

    path: str
    diff: str | None = None
    old: str | None = None
    new: str | None = None
    kind: str | None = Field(
        default=None,
        description="what the tool did when the adapter knows: create, write, replace, insert, patch, undo",
    )


class FileChange(_Model):
    """A file a step changed, however it did (an editor tool, ``sed -i``, a heredoc, a script, ``git checkout``),
    and what became of the change (:mod:`codetracer.core.provenance`)."""

    path: str
    how: str = Field(description="sed, heredoc, redirect, echo, tee, perl, python, script, patch, copy, move, create, "
                     "write, replace, insert, ...")
    via_step: int | None = Field(default=None, description="the step that wrote the script or patch applied here")
    applied_in: int | None = Field(
        default=None, description="on the step that wrote a script or patch file: the step that ran or applied it"
    )
    applied: bool = Field(default=True, description="False when the step's result shows the change failed")
    in_patch: int = Field(default=0, description="lines of the final patch this change wrote first")
    fate: str | None = Field(
        default=None,
        description="survives, overwritten, reverted, deleted, failed, 'not in patch'; None when no final patch is "
        "known",
    )
    debug: bool = Field(default=False, description="the change only adds prints, debug logging or breakpoints")
    empty: bool = Field(default=False, description="the step shows no text it wrote (a deletion, a copy)")


class PatchFile(_Model):
    """One file of the run's final patch and the steps that wrote its added lines."""

    path: str
    added: int = 0
    removed: int = 0
    test: bool = Field(default=False, description="a test-suite file (tests/, test_*.py, conftest.py, ...)")
    new_file: bool = False
    byproduct: bool = Field(default=False, description="a backup, .orig/.rej or saved patch left in by accident")
    authors: list[int] = Field(default_factory=list, description="steps that first wrote the file's added lines")
    lines_by_step: dict[str, int] = Field(default_factory=dict, description="step id -> added lines it wrote first")
    unattributed: int = Field(default=0, description="added lines no step's visible change accounts for")


class Provenance(_Model):
    """Blame of the run's final patch: which steps' changes survive into it, and which were thrown away."""

    patch_source: str = Field(description="where the final patch came from: submission, git_patch, 'git diff at "
                              "step N', ...")
    files: list[PatchFile] = Field(default_factory=list)
    surviving_steps: list[int] = Field(default_factory=list, description="steps that wrote what the patch holds")
    applied_steps: list[int] = Field(default_factory=list, description="steps that ran a script or patch written "
                                     "earlier, applying surviving text")
    reapplied_steps: list[int] = Field(default_factory=list, description="steps that wrote surviving text again")
    overwritten_steps: list[int] = Field(default_factory=list)
    reverted_steps: list[int] = Field(default_factory=list)


class Text(_Model):
    """A possibly huge text: whole when small, else head + tail inline and the whole in a blob file."""

    text: str
    size: int = Field(description="length of the whole text in characters")
    blob: str | None = Field(default=None, description="sha256 of the whole text in the blob store, when elided")

    @property
    def elided(self) -> bool:
        return self.blob is not None


class Action(_Model):
    """What the agent did in a call: a tool with arguments, a shell command, file edits."""

    tool: str
    arguments: dict[str, Any] = Field(default_factory=dict)
    command: str | None = None
    edits: list[FileEdit] = Field(default_factory=list)


class Observation(_Model):
    """What the environment answered."""

    text: Text | None = None
    exit_code: int | None = None
    is_error: bool = False


class Call(_Model):
    """An LLM request or a tool invocation inside a step."""

    id: str
    kind: Literal["llm", "tool"]
    name: str = Field(description="the model name for LLM calls, the tool name for tool calls")
    started_at: float | None = None
    ended_at: float | None = None
    complete: bool = True
    action: Action | None = None
    observation: Observation | None = None
    response: Text | None = None
    input_messages: int | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None
    raw_ref: str | None = None
    ending: str | None = Field(
        default=None,
        description="why a call that never returned did not: 'cancelled' (its run ended around it: a sibling raised, "
        "the run was stopped or cancelled) or 'interrupted' (the run paused there; resuming runs it again); not an "
        "error (core/endings.py)",
    )


class Message(_Model):
    role: str
    content: Text
    name: str | None = None
    raw_ref: str | None = None
    timestamp: float | None = None


class ErrorEvent(_Model):
    error: str
    kind: str | None = None
    timestamp: float | None = None


class Step(_Model):
    """One turn of the agent loop: its thought, its calls, and what came back."""

    id: int = Field(description="1-based position in the run")
    key: str = Field(description="the adapter's own key for the step")
    stage_id: int | None = None
    agent: str | None = None
    thought: Text | None = None
    calls: list[Call] = Field(default_factory=list)
    messages: list[Message] = Field(default_factory=list)
    observations: list[Observation] = Field(default_factory=list)
    errors: list[ErrorEvent] = Field(default_factory=list)
    changes: list[FileChange] = Field(default_factory=list, description="files the step changed (provenance)")
    started_at: float | None = None
    ended_at: float | None = None
    complete: bool = True
    raw_ref: str | None = None

    @property
    def tool_calls(self) -> list[Call]:
        return [c for c in self.calls if c.kind == "tool"]

    @property
    def actions(self) -> list[Action]:
        return [c.action for c in self.calls if c.action is not None]

    @property
    def all_observations(self) -> list[Observation]:
        """Observations of the step's tool calls followed by the step-level ones."""
        return [c.observation for c in self.calls if c.observation is not None] + self.observations

    @property
    def is_error(self) -> bool:
        """True when the step raised, or any of its observations is an error or a non-zero exit."""
        if self.errors:
            return True
        return any(o.is_error or (o.exit_code not in (None, 0)) for o in self.all_observations)


class Verification(_Model):
    """What judged the run from outside the agent: a test suite, a benchmark verifier, a ``verify=`` callable."""

    verifier: str = Field(description="what judged, in words: 'SWE-bench report.json', 'terminal-bench tests', ...")
    passed: bool | None = Field(default=None, description="the verdict; None when the verifier itself failed to run")
    command: str | None = None
    exit_code: int | None = None
    output: Text | None = None
    failed_tests: list[str] = Field(default_factory=list)
    passed_tests: list[str] = Field(default_factory=list)
    timestamp: float | None = None


class Stage(_Model):
    id: int = Field(description="1-based position in the run")
    kind: str
    start_step: int
    end_step: int
    source: str = Field(default="auto", description="'auto' for segmentation, 'human'/'artifact' when given")


class Evidence(_Model):
    step_id: int
    signal: str
    detail: str = ""
    weight: float = 1.0


class Diagnosis(_Model):
    """Where a failed run went wrong; CodeTraceBench label fields plus the richer story."""

    localizer: str
    onset_step: int | None = None
    chain: list[int] = Field(default_factory=list)
    stage_id: int | None = None
    incorrect_step_ids: list[int] = Field(default_factory=list)
    unuseful_step_ids: list[int] = Field(default_factory=list)
    confidence: float = 0.0
    reasoning: str = ""
    evidence: list[Evidence] = Field(default_factory=list)
    suggestion: str | None = None
    agent: str | None = None
    cost: float | None = None


class Run(_Model):
    """The root of a trace tree."""

    id: str
    framework: str
    task: str | None = None
    outcome: Outcome = Outcome.UNKNOWN
    exit_status: str | None = None
    parent_run_id: str | None = None
    started_at: float | None = None
    ended_at: float | None = None
    complete: bool = Field(default=True, description="False when the run never reported its end")
    dropped_events: int = Field(default=0, description="events shed under load; never silently")
    metadata: dict[str, Any] = Field(default_factory=dict)
    messages: list[Message] = Field(default_factory=list)
    errors: list[ErrorEvent] = Field(default_factory=list)
    stages: list[Stage] = Field(default_factory=list)
    steps: list[Step] = Field(default_factory=list)
    verification: Verification | None = None
    provenance: Provenance | None = None
    diagnosis: Diagnosis | None = None

    def holds_nothing(self) -> bool:
        """No step, no error, no message and no failed outcome: a run that started and ended with nothing to look at
        (most ``invoke`` calls of a state-machine graph in a unit test). Live tracers neither keep nor store such
        runs by default. A run that failed before its first step, never reported its end, or lost events is kept:
        that is something to look at."""
        return (not self.steps and not self.errors and not self.messages and self.outcome != Outcome.FAILED
                and self.complete and not self.dropped_events)

    def step(self, step_id: int) -> Step:
        """The step with 1-based ``step_id``."""
        if not 1 <= step_id <= len(self.steps):
            raise KeyError(f"run {self.id} has no step {step_id} (it has {len(self.steps)})")
        return self.steps[step_id - 1]

    def stage_of(self, step_id: int) -> Stage | None:
        for stage in self.stages:
            if stage.start_step <= step_id <= stage.end_step:
                return stage
        return None

    def to_json(self, *, indent: int | None = None) -> str:
        """The whole tree as JSON; values JSON cannot hold are written as their ``repr``."""
        return self.model_dump_json(indent=indent, fallback=repr)

    def to_json_bytes(self) -> bytes:
        """:meth:`to_json` as UTF-8 bytes, straight from the serializer: the store compresses bytes, and a tree's
        JSON is megabytes, so the round trip through ``str`` (decode, then encode again) is a fifth of its cost."""
        return self.__pydantic_serializer__.to_json(self, fallback=repr)

    @classmethod
    def from_json(cls, data: str | bytes) -> Run:
        return cls.model_validate_json(data)
