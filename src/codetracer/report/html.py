"""Render a run as one self-contained HTML page.

Why it is built this way:

- **One file, nothing external.** Reports travel as CI artifacts and mail attachments and are opened offline, so
  the CSS and the script are inlined and the page loads nothing (no CDN, no fonts, no images but ``data:``).
- **Trajectory text is hostile.** Observations hold whatever the agent's tools printed, HTML and ``<script>``
  included. The run is embedded as JSON in a ``<script type="application/json">`` block with ``<``, ``>`` and ``&``
  written as ``\\u003c`` ... (so no text can close the block or open a comment), and the page script only ever puts
  it into the DOM with ``textContent``. A strict Content-Security-Policy allows exactly our own script and style by
  hash, so even a mistake in that rule could not run injected code.
- **Fast for long runs.** Step bodies (full commands and outputs) are built only when a step is opened and stage
  contents only when a stage is unfolded, so a 1,000-step run shows its timeline and the onset at once. Texts are
  capped at :data:`TEXT_LIMIT` characters (head and tail kept: the end is where errors show); the whole text stays
  in the store (``codetracer show RUN --step N``).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import time
from importlib import resources
from pathlib import Path
from typing import Any

from codetracer import __version__
from codetracer.core.model import Call, Observation, Run, Step, Text
from codetracer.core.render import action_summary, change_tag, shorten
from codetracer.core.secrets import redact as redact_text
from codetracer.core.secrets import redact_run, shorten_redacted
from codetracer.core.sequences import RunSequence

TEXT_LIMIT = 40_000
"""Characters of one text kept in a report; longer texts keep their head and tail."""

_SUMMARY = 160
"""Characters of a step's one-line action / output summary in the tree row."""

_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
_UNSAFE_IN_SCRIPT = re.compile("[<>&\u2028\u2029\ud800-\udfff]")


def _asset(name: str) -> str:
    return resources.files("codetracer.report").joinpath(name).read_text(encoding="utf-8")


def _shareable_path(path: object) -> str | None:
    """The artifact's path as a report may show it: relative to the working folder when inside it, else only the
    file's last two parts -- a report is made to be shared, and the sender's folder layout is none of its business."""
    if not isinstance(path, str) or not path:
        return None
    candidate = Path(path)
    try:
        return str(candidate.resolve().relative_to(Path.cwd().resolve()))
    except (ValueError, OSError):
        return str(Path(*candidate.parts[-2:])) if len(candidate.parts) > 1 else candidate.name


def _csp_hash(source: str) -> str:
    """The CSP source expression allowing exactly this inline script or style and nothing else."""
    return "'sha256-" + base64.b64encode(hashlib.sha256(source.encode("utf-8")).digest()).decode("ascii") + "'"


def embed_json(data: Any) -> str:
    """JSON that is safe inside ``<script type="application/json">``: no ``<``, ``>`` or ``&`` appear literally.

    Lone surrogates (kept by the blob store's ``surrogatepass``) become ``\\udXXX`` escapes, which JSON allows, so
    the file is always valid UTF-8.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=repr)
    return _UNSAFE_IN_SCRIPT.sub(lambda m: _ESCAPES.get(m.group(), f"\\u{ord(m.group()):04x}"), text)


# -- data --------------------------------------------------------------------------------------------------------------


def _clip(text: str | Text | None, limit: int) -> dict[str, Any] | None:
    """A text for the page: whole when short, else head + tail, with its real size so the page can say what is cut."""
    if text is None:
        return None
    if isinstance(text, Text):
        value, size, elided = text.text, text.size, text.elided
    else:
        value, size, elided = text, len(text), False
    if len(value) > limit:  # cut between words: no half of a secret the tree itself cut stays at an edge
        value = shorten_redacted(value, limit, lambda n: f"\n[... {n:,} characters not in this report ...]\n",
                                 head_share=0.5)
        elided = True
    out: dict[str, Any] = {"t": value, "n": size}
    if elided:
        out["cut"] = True
    return out


def _observation(obs: Observation, limit: int) -> dict[str, Any]:
    return {"text": _clip(obs.text, limit), "exit": obs.exit_code, "error": obs.is_error}


def _call(call: Call, limit: int) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": call.kind, "name": call.name, "id": call.id}
    if call.started_at is not None and call.ended_at is not None:
        out["secs"] = round(call.ended_at - call.started_at, 3)
    if call.action is not None:
        a = call.action
        out["command"] = _clip(a.command, limit)
        if a.arguments and a.arguments != {"command": a.command}:  # a bare command is already shown as such
            out["args"] = _clip(json.dumps(a.arguments, indent=2, ensure_ascii=False, default=repr), limit)
        if a.edits:
            out["edits"] = [{"path": e.path, "diff": _clip(e.diff or e.new or "", limit)} for e in a.edits]
    if call.observation is not None:
        out["obs"] = _observation(call.observation, limit)
    if call.response is not None:
        out["response"] = _clip(call.response, limit)
    if call.input_tokens is not None or call.output_tokens is not None:
        out["tokens"] = [call.input_tokens or 0, call.output_tokens or 0]
    if not call.complete:
        out["incomplete"] = True
    return out


def _step(step: Step, limit: int) -> dict[str, Any]:
    observations = step.all_observations
    last = observations[-1] if observations else None
    summary = "; ".join(action_summary(a) for a in step.actions)
    if not summary:
        source = step.thought.text if step.thought else (step.messages[0].content.text if step.messages else "")
        summary = source
    result = ""
    if last is not None:
        facts = [f"exit {last.exit_code}"] if last.exit_code is not None else []
        if last.text is not None and last.text.text.strip():
            facts.append(shorten(last.text.text, _SUMMARY))
        result = " · ".join(facts)
    return {
        "id": step.id,
        "stage": step.stage_id,
        "agent": step.agent,
        "err": step.is_error,
        "incomplete": not step.complete,
        "sum": shorten(summary, _SUMMARY),
        "res": result,
        "kept": change_tag(step),
        "body": {
            "changes": [
                {"path": c.path, "how": c.how, "fate": c.fate, "via": c.via_step, "lines": c.in_patch}
                for c in step.changes
            ],
            "thought": _clip(step.thought, limit),
            "calls": [_call(c, limit) for c in step.calls],
            "obs": [_observation(o, limit) for o in step.observations],
            "msgs": [{"role": m.role, "name": m.name, "text": _clip(m.content, limit)} for m in step.messages],
            "errors": [{"kind": e.kind, "error": e.error} for e in step.errors],
        },
    }


def _sequence(sequence: RunSequence | None, current: str, limit: int, redacted: bool) -> dict[str, Any] | None:
    """The attempts of the run's sequence: each one's outcome, verdict, steps, onset and the correction sent."""
    if sequence is None:
        return None
    members = []
    for m in sequence.members:
        message = m.replay.get("message")
        if isinstance(message, str) and redacted:
            message = redact_text(message)
        members.append({
            "attempt": m.number, "run_id": m.run_id, "outcome": m.outcome, "verdict": m.replay.get("verdict"),
            "reason": m.replay.get("reason"), "n_steps": m.n_steps, "onset": m.onset_step,
            "correction": _clip(message, limit) if isinstance(message, str) else None,
        })
    return {"root_run_id": sequence.root, "current": current, "outcome": sequence.outcome,
            "stop_reason": sequence.stop_reason, "budget_line": sequence.budget_line(), "members": members}


def report_data(run: Run, *, text_limit: int = TEXT_LIMIT, sequence: RunSequence | None = None,
                redacted: bool = False) -> dict[str, Any]:
    """Everything the page shows, as plain JSON-able data (tested on its own, and handy for other front ends).

    ``sequence``: the attempts of the reflective replay the run belongs to (``codetracer report`` of any attempt
    shows them all); ``redacted`` redacts the corrections in it as the run itself was."""
    d = run.diagnosis
    return {
        "sequence": _sequence(sequence, run.id, text_limit, redacted),
        "version": __version__,
        "generated": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "run": {
            "id": run.id,
            "framework": run.framework,
            "task": _clip(run.task, text_limit),
            "outcome": run.outcome.value,
            "exit_status": run.exit_status,
            "complete": run.complete,
            "dropped_events": run.dropped_events,
            "started_at": run.started_at,
            "ended_at": run.ended_at,
            "source": _shareable_path(run.metadata.get("source_path")),
        },
        "stages": [
            {"id": s.id, "kind": s.kind, "start": s.start_step, "end": s.end_step, "source": s.source}
            for s in run.stages
        ],
        "steps": [_step(step, text_limit) for step in run.steps],
        "patch": None
        if run.provenance is None
        else {
            "source": run.provenance.patch_source,
            "files": [
                {"path": f.path, "added": f.added, "removed": f.removed, "authors": f.authors, "stray": f.byproduct,
                 "test": f.test}
                for f in run.provenance.files
            ],
        },
        "verification": None
        if run.verification is None
        else {
            "verifier": run.verification.verifier,
            "passed": run.verification.passed,
            "exit_code": run.verification.exit_code,
            "failed": run.verification.failed_tests[:50],
            "n_failed": len(run.verification.failed_tests),
            "output": _clip(run.verification.output, text_limit),
        },
        "diagnosis": None
        if d is None
        else {
            "localizer": d.localizer,
            "onset": d.onset_step,
            "chain": d.chain,
            "stage": d.stage_id,
            "incorrect": d.incorrect_step_ids,
            "unuseful": d.unuseful_step_ids,
            "confidence": d.confidence,
            "reasoning": d.reasoning,
            "suggestion": d.suggestion,
            "agent": d.agent,
            "evidence": [
                {"step": e.step_id, "signal": e.signal, "detail": e.detail, "weight": e.weight} for e in d.evidence
            ],
        },
    }


# -- page --------------------------------------------------------------------------------------------------------------


def render_html(
    run: Run, *, text_limit: int = TEXT_LIMIT, redact: bool = True, sequence: RunSequence | None = None
) -> str:
    """The whole report page as a string (UTF-8 HTML, no external reference of any kind).

    Reports are made to be shared (CI artifacts, mail), so every recorded text is redacted
    (:func:`~codetracer.core.secrets.redact_run`) unless ``redact=False``."""
    if redact:
        run = redact_run(run)
    script = _asset("report.js")
    style = _asset("report.css")
    csp = "; ".join(
        [
            "default-src 'none'",
            f"script-src {_csp_hash(script)}",
            f"style-src {_csp_hash(style)}",
            "img-src data:",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    page = _asset("report.html")
    replacements = {
        "@CSP@": html.escape(csp, quote=True),
        "@TITLE@": html.escape(f"codetracer report: {run.id}"),
        "@STYLE@": style,
        "@DATA@": embed_json(report_data(run, text_limit=text_limit, sequence=sequence, redacted=redact)),
        "@SCRIPT@": script,
    }
    # One pass, so a placeholder-looking string inside the data can never be substituted again.
    return re.sub("@(CSP|TITLE|STYLE|DATA|SCRIPT)@", lambda m: replacements[m.group()], page)


def write_report(
    run: Run, path: Path | str, *, text_limit: int = TEXT_LIMIT, redact: bool = True,
    sequence: RunSequence | None = None,
) -> Path:
    """Write the report atomically (temp file + rename), so a half-written page never replaces a good one.
    Secrets are redacted unless ``redact=False`` (see :func:`render_html`)."""
    target = Path(path)
    text = render_html(run, text_limit=text_limit, redact=redact, sequence=sequence)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")  # plain open: the file gets the usual permissions
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target
