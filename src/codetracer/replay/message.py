"""The diagnosis, rewritten for the agent: the correction message a retry starts with.

A :class:`~codetracer.core.model.Diagnosis` is written for a person reading a tree (step ids, signal names,
confidence). The agent needs something else: which of *its own* actions was the wrong turn (quoted, since it does
not know codetracer's step numbers), what went wrong there, what to undo, and what to do instead. The message stays
short (the agent's context is precious) and quotes at most a few lines of output.
"""

from __future__ import annotations

import re

from codetracer.core.model import Diagnosis, Run, Step

HEADER = "[codetracer] Your previous attempt failed."
"""First line of every correction message (tests and scripted models look for it)."""

MAX_QUOTE = 300
"""Characters of an action or output quoted in the message."""

_WRITES = re.compile(r"(?:sed\s+-i|>\s*\S|\btee\b|\bmv\b|\bcp\b|\brm\b|\bpatch\b|\bgit\s+(?:apply|checkout))")


def _clip(text: str, limit: int = MAX_QUOTE) -> str:
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[: limit // 2].rstrip() + " ... " + text[-limit // 2 :].lstrip()


def describe_action(step: Step) -> str:
    """What the agent did in ``step``, in its own words: the commands, tool calls or edits (or its thought)."""
    parts: list[str] = []
    for call in step.tool_calls:
        action = call.action
        if action is None:
            continue
        if action.command:
            parts.append(f"`{_clip(action.command, 200)}`")
        elif action.edits:
            parts.append(f"{action.tool} on " + ", ".join(e.path for e in action.edits))
        else:
            args = ", ".join(f"{k}={_clip(str(v), 60)}" for k, v in list(action.arguments.items())[:3])
            parts.append(f"{action.tool}({args})")
    if parts:
        return "; ".join(parts)
    if step.thought is not None and step.thought.text.strip():
        return f'"{_clip(step.thought.text, 200)}"'
    for call in step.calls:
        if call.kind == "llm" and call.response is not None and call.response.text.strip():
            return f'"{_clip(call.response.text, 200)}"'
    return "(no action recorded)"


def step_output(step: Step) -> str | None:
    """The first error output of the step (else its first output), clipped."""
    observations = step.all_observations
    chosen = next((o for o in observations if o.is_error or o.exit_code not in (None, 0)), None)
    chosen = chosen or next((o for o in observations if o.text is not None and o.text.text.strip()), None)
    if chosen is None or chosen.text is None:
        if step.errors:
            return _clip(step.errors[0].error)
        return None
    code = f" (exit code {chosen.exit_code})" if chosen.exit_code not in (None, 0) else ""
    return _clip(chosen.text.text) + code


def touched_after(run: Run, onset: int) -> tuple[list[str], list[str]]:
    """Files edited and state-changing commands run at or after step ``onset``: what a retry should undo."""
    files: list[str] = []
    commands: list[str] = []
    for step in run.steps[max(onset, 1) - 1 :]:
        for action in step.actions:
            for edit in action.edits:
                if edit.path not in files:
                    files.append(edit.path)
            if action.command and _WRITES.search(action.command):
                text = _clip(action.command, 160)
                if text not in commands:
                    commands.append(text)
    return files, commands


def correction_message(
    run: Run, diagnosis: Diagnosis, *, attempt: int = 1, rolled_back: list[str] | None = None
) -> str:
    """The agent-facing text: onset step, what went wrong, what to undo, what to do instead.

    :param attempt: the attempt that failed (1 = the original run).
    :param rolled_back: files codetracer already restored in the workspace (then the agent need not undo them).
    """
    lines = [HEADER]
    onset = diagnosis.onset_step
    if onset is None or not 1 <= onset <= len(run.steps):
        lines.append(
            f"codetracer could not pin the failure on one step of your {len(run.steps)} steps."
            + (f" What it saw: {_clip(diagnosis.reasoning, 400)}" if diagnosis.reasoning else "")
        )
        lines.append("What to do instead: re-read the task, check your assumptions with a quick experiment, and "
                     "verify the result (run the tests) before you finish.")
        return "\n".join(lines)

    step = run.step(onset)
    lines.append(f"The wrong turn was your step {onset} of {len(run.steps)}: {describe_action(step)}.")
    output = step_output(step)
    if output:
        lines.append(f"It answered: {output}")
    here = [e for e in diagnosis.evidence if e.step_id == onset and e.detail]
    what = "; ".join(dict.fromkeys(e.detail for e in here)) if here else ""
    if what:
        lines.append(f"What went wrong: {_clip(what, 400)}")
    elif diagnosis.reasoning:
        lines.append(f"What went wrong: {_clip(diagnosis.reasoning, 400)}")
    later = [s for s in diagnosis.chain if s > onset]
    if later:
        shown = ", ".join(str(s) for s in later[:8]) + (" ..." if len(later) > 8 else "")
        lines.append(f"Your steps {shown} built on it, so their results cannot be trusted either.")

    files, commands = touched_after(run, onset)
    if rolled_back:
        lines.append("What to undo: codetracer already restored these files to their state before the attempt: "
                     + ", ".join(rolled_back[:10]) + ".")
    elif files or commands:
        undo = []
        if files:
            undo.append("the edits to " + ", ".join(files[:10]))
        if commands:
            undo.append("the effects of " + "; ".join(f"`{c}`" for c in commands[:4]))
        lines.append("What to undo: " + " and ".join(undo) + " (check the current state of the files first).")
    else:
        lines.append(f"What to undo: nothing on disk that codetracer saw; drop the conclusions you drew from step "
                     f"{onset} onwards.")
    instead = diagnosis.suggestion or "Take a different approach from that step on and verify it before finishing."
    lines.append(f"What to do instead: {_clip(instead, 400)}")
    lines.append("Continue from there; do not repeat the failed approach.")
    return "\n".join(lines)
