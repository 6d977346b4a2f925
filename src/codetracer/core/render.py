"""Render trees for people (indented text) and for machines (one JSON object per run).

Text output keeps every step but shortens long texts in the middle, so the end of an output -- where errors show --
is always visible; the whole text stays in the tree (``codetracer show RUN --step N``, ``--json`` or the blob store).

Colour is plain ANSI and off unless the caller asks for it (the CLI asks only when writing to a terminal and
``NO_COLOR`` is unset), so piped output and the ``--json`` lines never carry escape codes. Trajectory text is
untrusted: control characters in it are made visible before it reaches a terminal, so an observation cannot move the
cursor, retitle the window or hide lines.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable, Iterable
from typing import Any

from codetracer.core.endings import CANCELLED, INTERRUPTED, STOPPED
from codetracer.core.model import Action, Call, Observation, Run, Stage, Step, Text
from codetracer.core.text import shorten

_PAUSED_OR_CUT = frozenset({INTERRUPTED, STOPPED, CANCELLED})

MAX_FOLD_LINES = 40
"""Runs with more stages than this merge consecutive folded stages into one line."""


def action_summary(action: Action) -> str:
    if action.command:
        return f"{action.tool}: {action.command}"
    if action.edits:
        return f"{action.tool}: edit " + ", ".join(e.path for e in action.edits)
    if action.arguments:
        args = ", ".join(f"{k}={v!r}" for k, v in action.arguments.items())
        return f"{action.tool}({args})"
    return action.tool


def observation_summary(obs: Observation, limit: int = 120) -> str:
    parts = []
    if obs.exit_code is not None:
        parts.append(f"exit {obs.exit_code}")
    if obs.is_error:
        parts.append("error")
    if obs.text is not None and obs.text.text.strip():
        parts.append(repr(shorten(obs.text.text, limit)))
    return " ".join(parts) or "(empty)"


def step_summary(step: Step, limit: int = 120) -> dict[str, Any]:
    """The machine-readable gist of a step (for ``--json`` output)."""
    observations = step.all_observations
    last = observations[-1] if observations else None
    return {
        "id": step.id,
        "stage": step.stage_id,
        "agent": step.agent,
        "action": "; ".join(action_summary(a) for a in step.actions) or None,
        "observation": observation_summary(last, limit) if last else None,
        "observations": _call_observations(step, limit),
        "exit_code": last.exit_code if last else None,
        "error": step.is_error,
        "errors": [f"{e.kind}: {e.error}" if e.kind else e.error for e in step.errors],
        "changes": [
            {"path": c.path, "how": c.how, "fate": c.fate, "via_step": c.via_step, "in_patch": c.in_patch}
            for c in step.changes
        ],
    }


def _call_observations(step: Step, limit: int) -> list[dict[str, Any]]:
    """One entry per tool call of the step (parallel calls each say what came back, or why nothing did), then the
    step's own observations."""
    out: list[dict[str, Any]] = []
    for call in step.calls:
        if call.action is None:
            continue
        obs = call.observation
        out.append({
            "call": call.id,
            "action": action_summary(call.action),
            "observation": observation_summary(obs, limit) if obs is not None else None,
            "exit_code": obs.exit_code if obs is not None else None,
            "error": bool(obs is not None and (obs.is_error or obs.exit_code not in (None, 0))),
            "ending": call.ending,
        })
    for obs in step.observations:
        out.append({"call": None, "action": None, "observation": observation_summary(obs, limit),
                    "exit_code": obs.exit_code, "error": obs.is_error or obs.exit_code not in (None, 0),
                    "ending": None})
    return out


def run_to_json_obj(run: Run) -> dict[str, Any]:
    """The ``--json`` line of a run: id, framework, outcome, stages, steps and the diagnosis when computed."""
    diagnosis = None
    if run.diagnosis is not None:
        d = run.diagnosis
        diagnosis = {
            "localizer": d.localizer,
            "onset_step": d.onset_step,
            "chain": d.chain,
            "stage_id": d.stage_id,
            "incorrect_step_ids": d.incorrect_step_ids,
            "unuseful_step_ids": d.unuseful_step_ids,
            "confidence": d.confidence,
            "reasoning": d.reasoning,
            "suggestion": d.suggestion,
            "agent": d.agent,
            "evidence": [e.model_dump() for e in d.evidence],
        }
    return {
        "run_id": run.id,
        "framework": run.framework,
        "outcome": run.outcome.value,
        "exit_status": run.exit_status,
        "complete": run.complete,
        "errors": [f"{e.kind}: {e.error}" if e.kind else e.error for e in run.errors],
        "task": shorten(run.task, 200) if run.task else None,
        "n_steps": len(run.steps),
        "stages": [s.model_dump() for s in run.stages],
        "steps": [step_summary(step) for step in run.steps],
        "provenance": run.provenance.model_dump() if run.provenance is not None else None,
        "verification": _verification_obj(run),
        "diagnosis": diagnosis,
        "source": run.metadata.get("source_path"),
    }


def _verification_obj(run: Run) -> dict[str, Any] | None:
    v = run.verification
    if v is None:
        return None
    return {
        "verifier": v.verifier,
        "passed": v.passed,
        "command": v.command,
        "exit_code": v.exit_code,
        "failed_tests": v.failed_tests,
        "passed_tests": len(v.passed_tests),
        "output_tail": v.output.text[-2000:] if v.output is not None else None,
    }


def change_tag(step: Step) -> str:
    """What became of a step's file changes, in a word: ``kept`` (in the final patch or files), ``dropped``
    (overwritten or reverted later), ``edit failed``; empty when it changed nothing or nothing is known."""
    fates = {c.fate for c in step.changes}
    if "survives" in fates:
        return "kept"
    if fates and fates <= {"overwritten", "reverted"}:
        return "dropped"
    if fates == {"failed"}:
        return "edit failed"
    return ""


# -- terminal safety and colour ----------------------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def safe(text: str) -> str:
    """``text`` with terminal control characters shown as ``^[``-style escapes instead of acted on.

    Tabs and newlines stay; everything else below 0x20, DEL and the C1 range (which some terminals read as CSI)
    would otherwise let an agent's output recolour, move or clear the reader's terminal.
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class Palette:
    """ANSI styles, or nothing at all when colour is off (the default: output is often piped or parsed)."""

    _CODES = {
        "bold": "1",
        "dim": "2",
        "red": "31",
        "green": "32",
        "yellow": "33",
        "blue": "34",
        "magenta": "35",
        "cyan": "36",
        "onset": "1;97;41",
        "chain": "1;33",
        "error": "31",
    }

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def __call__(self, style: str, text: str) -> str:
        if not self.enabled or not text:
            return text
        codes = ";".join(self._CODES[s] for s in style.split())
        return f"\x1b[{codes}m{text}\x1b[0m"


def _hint_command(run: Run, hint: str | None) -> str | None:
    return None if hint is None else (hint or f"codetracer show {shlex.quote(run.id)}")


def render_text(
    run: Run,
    *,
    width: int = 110,
    stages_folded: bool = False,
    color: bool = False,
    hint: str | None = None,
) -> str:
    """An indented tree: run, stages, steps, calls; the diagnosis onset and chain are marked.

    ``stages_folded`` folds every stage that does not hold the onset into one line (its step count, errors and chain
    steps), so a long run reads as a stage timeline around the failure. ``hint`` is the command that shows this run
    (``""`` means ``codetracer show RUN_ID``, ``None`` prints no hints); with it, elided outputs and folded stages
    end with one line saying how to see them whole.
    """
    paint = Palette(color)
    onset = run.diagnosis.onset_step if run.diagnosis else None
    chain = set(run.diagnosis.chain) if run.diagnosis else set()
    outcome_style = {"solved": "green", "failed": "red"}.get(run.outcome.value, "yellow")
    status = paint(outcome_style, run.outcome.value) + ("" if run.complete else paint("yellow", ", incomplete"))
    if run.exit_status in _PAUSED_OR_CUT:  # why a run without a verdict has none
        status += paint("yellow", f", {run.exit_status}")
    head = f"run {paint('bold', safe(run.id))}  [{status}]  framework={safe(run.framework)}  steps={len(run.steps)}"
    lines = [head]
    if run.task:
        lines.append(f"  task: {safe(shorten(run.task, width - 8))}")
    if run.dropped_events:
        lines.append(paint("yellow", f"  ! {run.dropped_events} events were not recorded (see logs)"))
    stages = run.stages or []
    covered: set[int] = set()
    elided = [0]
    folded = 0
    # A long run can have hundreds of stages: then runs of consecutive folded stages are shown a few per line, so
    # the folded tree stays about MAX_FOLD_LINES lines long and still reads as a timeline.
    chunk = max(1, -(-len(stages) // MAX_FOLD_LINES))
    pending: list[Stage] = []

    def flush() -> None:
        for start in range(0, len(pending), chunk):
            part = pending[start : start + chunk]
            first, last = part[0], part[-1]
            ids_ = range(max(first.start_step, 1), min(last.end_step, len(run.steps)) + 1)
            if len(part) == 1:
                header_ = f"  stage {first.id} {safe(first.kind)} (steps {first.start_step}-{first.end_step}, "
                header_ += f"{first.source})"
            else:
                kinds: dict[str, int] = {}
                for st in part:
                    kinds[st.kind] = kinds.get(st.kind, 0) + 1
                mix = ", ".join(f"{k} x{n}" for k, n in sorted(kinds.items(), key=lambda kv: -kv[1]))
                header_ = f"  stages {first.id}-{last.id} ({safe(mix)}; steps {first.start_step}-{last.end_step})"
            lines.append(paint("dim", header_) + _fold_note(run, ids_, chain, paint))
        pending.clear()

    for stage in stages:
        ids = range(max(stage.start_step, 1), min(stage.end_step, len(run.steps)) + 1)
        covered.update(ids)
        if stages_folded and onset not in ids:
            folded += 1
            pending.append(stage)
            continue
        flush()
        header = f"  stage {stage.id} {safe(stage.kind)} (steps {stage.start_step}-{stage.end_step}, {stage.source})"
        lines.append(paint("cyan bold" if onset in ids else "cyan", header))
        lines.extend(_step_lines(run, ids, onset, chain, width, paint, elided))
    flush()
    rest = [i for i in range(1, len(run.steps) + 1) if i not in covered]
    if rest:
        if stages:
            lines.append(paint("cyan", "  (steps outside any stage)"))
        lines.extend(_step_lines(run, rest, onset, chain, width, paint, elided))
    for err in run.errors:  # what no step holds: LangGraph's own errors, a mapper's trouble
        kind = f" ({err.kind})" if err.kind else ""
        lines.append(paint("error", f"  run error{safe(kind)}: ") + safe(shorten(err.error, width * 2)))
    lines.extend(_final_state_lines(run, width, paint))
    if run.diagnosis is not None:
        d = run.diagnosis
        where = "no onset"
        if d.onset_step is not None:
            where = paint("onset", f" onset step {d.onset_step} ") if color else f"onset step {d.onset_step}"
        lines.append(
            f"  {paint('bold', 'diagnosis')} ({safe(d.localizer)}, confidence {d.confidence:.2f}): {where}, "
            f"chain {paint('chain', _id_list(d.chain, 15)) if d.chain else '-'}"
        )
        if d.reasoning:
            lines.append(f"    {safe(shorten(d.reasoning, width * 3))}")
        if d.suggestion:
            lines.append(f"    suggestion: {safe(shorten(d.suggestion, width * 2))}")
    command = _hint_command(run, hint)
    if command is not None and folded:
        lines.append(paint("dim", f"  ({folded} stage(s) folded: `{command} --all` unfolds them)"))
    if command is not None and elided[0]:
        lines.append(paint("dim", f"  ({elided[0]} long text(s) shortened: `{command} --step N` prints step N whole)"))
    return "\n".join(lines)


def _final_state_lines(run: Run, width: int, paint: Palette) -> list[str]:
    """The final patch with the steps that wrote it, and what the verifier said: what decided the outcome."""
    lines = []
    prov = run.provenance
    if prov is not None and prov.files:
        kept = [f for f in prov.files if not f.byproduct]
        parts = []
        for f in kept[:8]:
            by = f"step{'s' if len(f.authors) > 1 else ''} {_id_list(f.authors, 6)}" if f.authors else "no step seen"
            parts.append(f"{f.path} +{f.added}/-{f.removed} ({by})")
        more = f"; {len(kept) - 8} more file(s)" if len(kept) > 8 else ""
        stray = [f.path for f in prov.files if f.byproduct]
        strays = f"; stray: {', '.join(stray[:3])}" if stray else ""
        text = f"final patch ({prov.patch_source}): " + "; ".join(parts) + more + strays
        lines.append("  " + paint("magenta", safe(shorten(text, width * 3))))
    v = run.verification
    if v is not None:
        verdict = {True: paint("green", "passed"), False: paint("red", "failed"),
                   None: paint("yellow", "verifier error")}
        code = f" (exit {v.exit_code})" if v.exit_code is not None and v.passed is not None else ""
        failing = f": {len(v.failed_tests)} failed ({', '.join(v.failed_tests[:3])}" if v.failed_tests else ""
        if failing:
            failing += ", ..." if len(v.failed_tests) > 3 else ""
            failing += ")"
        if v.passed is None and v.output is not None:  # what broke: the output's first line says
            first = v.output.text.strip().split("\n", 1)[0].removeprefix("verifier error: ")
            failing = f": {first}" if first else ""
        said = safe(shorten(failing, width * 2))
        lines.append(f"  verification ({safe(v.verifier)}): {verdict[v.passed]}{code}{said}")
    return lines


def _fold_note(run: Run, ids: range, chain: set[int], paint: Palette) -> str:
    """What a folded stage hides, so errors and chain steps are never folded away silently."""
    errors = sum(1 for i in ids if run.steps[i - 1].is_error)
    in_chain = [i for i in ids if i in chain]
    parts = [f"{len(ids)} step{'s' if len(ids) != 1 else ''}"]
    if errors:
        parts.append(paint("error", f"{errors} error{'s' if errors != 1 else ''}"))
    if in_chain:
        parts.append(paint("chain", "chain " + _id_list(in_chain, 6)))
    return paint("dim", "  [folded: ") + ", ".join(parts) + paint("dim", "]")


def _id_list(ids: list[int], limit: int) -> str:
    """Step ids, the first ``limit`` of them and a count of the rest (a long chain would fill the screen)."""
    shown = ", ".join(map(str, ids[:limit]))
    return shown + (f", ... (+{len(ids) - limit} more)" if len(ids) > limit else "")


def _fit(text: str, limit: int, elided: list[int], *, escape: bool = True) -> str:
    """``shorten`` that counts what it shortened, so the caller can say how to see it whole."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        elided[0] += 1
    short = shorten(flat, limit)
    return safe(short) if escape else short


def _obs_line(obs: Observation, limit: int, paint: Palette, elided: list[int]) -> str:
    parts = []
    if obs.exit_code is not None:
        parts.append(paint("error" if obs.exit_code != 0 else "green", f"exit {obs.exit_code}"))
    if obs.is_error:
        parts.append(paint("error", "error"))
    if obs.text is not None and obs.text.text.strip():
        long = obs.text.elided or len(" ".join(obs.text.text.split())) > limit
        marker = f" [{obs.text.size:,} chars]" if long else ""
        body = repr(_fit(obs.text.text, limit - len(marker), elided, escape=False))  # repr escapes control chars
        parts.append(body + paint("dim", marker))
    return " ".join(parts) or "(empty)"


def _step_lines(
    run: Run,
    ids: Iterable[int],
    onset: int | None,
    chain: set[int],
    width: int,
    paint: Palette,
    elided: list[int],
) -> list[str]:
    lines = []
    for step_id in ids:
        step = run.steps[step_id - 1]
        mark = ">>" if step_id == onset else (" >" if step_id in chain else "  ")
        err = " !" if step.is_error else ""
        who = f" [{safe(step.agent)}]" if step.agent else ""
        tag = change_tag(step)
        kept = f" [{tag}]" if tag else ""
        plain_head = f"  {mark} step {step.id}{who}{err}{kept}"
        style = "onset" if step_id == onset else ("chain" if step_id in chain else ("error" if err else ""))
        head = paint(style, plain_head) if style else plain_head
        pad = " " * len(plain_head)
        actions = step.actions
        if not actions:
            text = step.thought.text if step.thought else (step.messages[0].content.text if step.messages else "")
            if not text and step.errors:  # a graph node that raised outside any call
                first = step.errors[0]
                text = f"error ({first.kind}): {first.error}" if first.kind else f"error: {first.error}"
            lines.append(f"{head}  {_fit(text, width - len(plain_head), elided)}")
        for n, call in enumerate(c for c in step.calls if c.action is not None):
            assert call.action is not None
            prefix = head if n == 0 else pad
            lines.append(f"{prefix}  {_fit(action_summary(call.action), width - len(plain_head) - 2, elided)}")
            if call.observation is not None:
                obs = _obs_line(call.observation, width - len(plain_head) - 12, paint, elided)
                lines.append(f"{pad}    {paint('dim', '->')} {obs}")
            elif call.ending is not None:
                lines.append(f"{pad}    {paint('dim', '->')} {paint('yellow', safe(call.ending))}")
        for obs_ in step.observations:
            obs = _obs_line(obs_, width - len(plain_head) - 12, paint, elided)
            lines.append(f"{pad}    {paint('dim', '->')} {obs}")
    return lines


# -- one step, whole ---------------------------------------------------------------------------------------------------


def render_step(
    run: Run,
    step_id: int,
    *,
    color: bool = False,
    load_blob: Callable[[str], str] | None = None,
) -> str:
    """One step printed whole: thought, every call with its full action and output, messages, errors, evidence.

    Texts the tree keeps as head + tail are read back whole through ``load_blob`` (the blob store) when it can; if
    the blob is gone the head and tail are printed with a note, never a silent cut.
    """
    paint = Palette(color)
    step = run.step(step_id)
    d = run.diagnosis
    tags = []
    if d is not None and d.onset_step == step_id:
        tags.append(paint("onset", " ONSET "))
    elif d is not None and step_id in d.chain:
        tags.append(paint("chain", "in the failure chain"))
    if step.is_error:
        tags.append(paint("error", "error"))
    if not step.complete:
        tags.append(paint("yellow", "incomplete"))
    stage = run.stage_of(step_id)
    where = f"stage {stage.id} {safe(stage.kind)}" if stage else "no stage"
    lines = [
        f"run {paint('bold', safe(run.id))}  step {paint('bold', str(step_id))}/{len(run.steps)}  [{where}]"
        + (f"  agent={safe(step.agent)}" if step.agent else "")
        + ("  " + "  ".join(tags) if tags else "")
    ]

    def block(title: str, text: Text | str | None) -> None:
        if text is None:
            return
        body = _whole(text, load_blob)
        lines.append(paint("cyan", title))
        lines.extend("    " + safe(line) for line in (body.splitlines() or [""]))

    block("  thought:", step.thought)
    for n, call in enumerate(step.calls, 1):
        lines.append(paint("bold", f"  call {n}: {call.kind} {safe(call.name)}") + paint("dim", _call_facts(call)))
        if call.action is not None:
            a = call.action
            block("   command:", a.command)
            if a.arguments and a.arguments != {"command": a.command}:  # a bare command is shown above already
                block("   arguments:", json.dumps(a.arguments, indent=2, ensure_ascii=False, default=repr))
            for edit in a.edits:
                block(f"   edit {edit.path}:", edit.diff or edit.new or "")
        if call.observation is not None:
            block(f"   output ({_obs_facts(call.observation)}):", call.observation.text or "")
        block("   response:", call.response)
    for change in step.changes:
        fate = {"survives": f"kept in the final patch ({change.in_patch} line(s) first written here)",
                "not in patch": "not in the final patch", None: "final state unknown"}.get(change.fate, change.fate)
        via = f", via the script of step {change.via_step}" if change.via_step else ""
        lines.append(paint("magenta", f"  changes {safe(change.path)} ({safe(change.how)}{via}): {fate}"))
    for obs in step.observations:
        block(f"  observation ({_obs_facts(obs)}):", obs.text or "")
    for msg in step.messages:
        block(f"  message from {safe(msg.role)}{' (' + safe(msg.name) + ')' if msg.name else ''}:", msg.content)
    for err in step.errors:
        lines.append(paint("error", f"  error{' (' + safe(err.kind) + ')' if err.kind else ''}: ") + safe(err.error))
    if d is not None:
        evidence = [e for e in d.evidence if e.step_id == step_id]
        if evidence:
            lines.append(paint("cyan", "  evidence:"))
            lines.extend(f"    {safe(e.signal)} (weight {e.weight:g}): {safe(e.detail)}" for e in evidence)
    return "\n".join(lines)


def _whole(text: Text | str, load_blob: Callable[[str], str] | None) -> str:
    if isinstance(text, str):
        return text
    if text.blob and load_blob is not None:
        try:
            return load_blob(text.blob)
        except (KeyError, OSError):
            return text.text + f"\n[the whole text ({text.size:,} chars) is not in the blob store any more]"
    return text.text


def _obs_facts(obs: Observation) -> str:
    facts = []
    if obs.exit_code is not None:
        facts.append(f"exit {obs.exit_code}")
    if obs.is_error:
        facts.append("error")
    if obs.text is not None:
        facts.append(f"{obs.text.size:,} chars")
    return ", ".join(facts) or "empty"


def _call_facts(call: Call) -> str:
    facts = [f"id {call.id}"]
    if call.started_at is not None and call.ended_at is not None:
        facts.append(f"{call.ended_at - call.started_at:.2f}s")
    if call.input_tokens is not None or call.output_tokens is not None:
        facts.append(f"tokens {call.input_tokens or 0} in / {call.output_tokens or 0} out")
    if call.cost:
        facts.append(f"cost {call.cost:g}")
    if call.ending is not None:
        facts.append(call.ending)
    elif not call.complete:
        facts.append("incomplete")
    return "  (" + ", ".join(facts) + ")"
