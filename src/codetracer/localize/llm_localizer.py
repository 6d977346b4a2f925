"""The LLM localizer: an OpenAI-compatible model reads the tree top-down and names the onset step.

Why two passes: whole trajectories run to hundreds of thousands of tokens, while the decisive step is usually found
by reading a compact outline and then only the stretch around the suspect. So

1. **pass 1** sends stage summaries -- stage kind, step range, one line per step (action, exit code, error flag,
   agent) -- with the signal localizer's evidence and remembered failure patterns as hints, and asks which stage(s)
   hold the onset;
2. **pass 2** sends the full steps of the chosen stage(s) -- thoughts, tool calls with arguments and edits,
   observations, messages, errors -- each text elided (head + tail) to fit the run's token budget, and asks for the
   CodeTraceBench fields ``{onset_step, chain, incorrect_step_ids, unuseful_step_ids, stage_id, agent, reasoning,
   suggestion, confidence}``.

Answers are validated by pydantic against the run: an onset that is not a step of the run is rejected (the client
asks again), other ids that do not exist are dropped, the confidence is clamped to [0, 1]. Every text taken from the
run goes through :func:`codetracer.llm.untrusted` (redacted, delimited, delimiter look-alikes defused). Run metadata
(which holds gold labels for labeled sets) is never sent.

The localizer never breaks ``analyze``: when no endpoint answers usably, the budget cannot hold a prompt, or anything
else goes wrong, it returns the signal diagnosis marked ``localizer="llm-fallback:signals"`` with the reason in its
reasoning and evidence. Tokens and cost are recorded in ``Diagnosis.cost`` and an ``llm_usage`` evidence item.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, Field, field_validator

from codetracer.core.model import Diagnosis, Evidence, Outcome, Run, Stage, Step, Text
from codetracer.core.render import change_tag
from codetracer.core.secrets import redact, shorten_redacted
from codetracer.core.store_api import FailurePattern, RunStore
from codetracer.llm import LLMClient, LLMConfig, LLMError, untrusted
from codetracer.localize import memory
from codetracer.localize.signal_localizer import CONFIDENT, SignalLocalizer

log = logging.getLogger("codetracer.llm")

FALLBACK_NAME = "llm-fallback:signals"
"""``Diagnosis.localizer`` of a signal diagnosis returned because the LLM path failed."""

CHARS_PER_TOKEN = 3.5
"""Conservative characters per token for estimating a prompt's size before sending it (English and code)."""
PASS1_ANSWER_TOKENS = 400
PASS2_ANSWER_TOKENS = 1200
PASS2_MAX_CHARS = 60_000
"""Upper bound on the step text of pass 2, however large the budget: beyond it models read worse, not better."""
OUTLINE_WIDTHS = (160, 100, 60, 30)
"""Per-step line widths tried for the outline, widest first, until it fits the budget."""
MAX_STAGES = 3
TASK_CHARS = 2000
"""Characters of the task sent (head + tail): agent prompts repeat long boilerplate instructions."""
PATCH_CHARS = 6000
"""Characters of the final patch sent (head + tail)."""
VERIFIER_CHARS = 3000
"""Characters of the verifier's output sent (head + tail): the failing tests' summary and tracebacks."""


# -- answer schemas -------------------------------------------------------------------------------------------------


class StageChoice(BaseModel):
    """Pass 1 answer: the stage(s) that hold the onset."""

    stage_ids: list[int] = Field(min_length=1)
    reasoning: str = ""

    valid_stages: ClassVar[frozenset[int]] = frozenset()

    @field_validator("stage_ids")
    @classmethod
    def _known_stages(cls, value: list[int]) -> list[int]:
        kept = [i for i in dict.fromkeys(value) if i in cls.valid_stages] if cls.valid_stages else value
        if not kept:
            raise ValueError(f"none of the stage ids {value} exists; valid ids: {sorted(cls.valid_stages)}")
        return kept[:MAX_STAGES]


class Verdict(BaseModel):
    """Pass 2 answer: the CodeTraceBench fields plus the story."""

    onset_step: int | None
    chain: list[int] = Field(default_factory=list)
    incorrect_step_ids: list[int] = Field(default_factory=list)
    unuseful_step_ids: list[int] = Field(default_factory=list)
    stage_id: int | None = None
    agent: str | None = None
    reasoning: str = ""
    suggestion: str | None = None
    confidence: float = 0.5

    n_steps: ClassVar[int] = 0

    @field_validator("onset_step")
    @classmethod
    def _onset_exists(cls, value: int | None) -> int | None:
        if value is not None and cls.n_steps and not 1 <= value <= cls.n_steps:
            raise ValueError(f"onset_step {value} is not a step of the run (steps are 1..{cls.n_steps})")
        return value

    @field_validator("chain", "incorrect_step_ids", "unuseful_step_ids")
    @classmethod
    def _existing_steps(cls, value: list[int]) -> list[int]:
        return sorted({i for i in value if not cls.n_steps or 1 <= i <= cls.n_steps})

    @field_validator("confidence", mode="before")
    @classmethod
    def _clamp(cls, value: Any) -> float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return 0.5
        return min(1.0, max(0.0, number))


def _bound(schema: type[BaseModel], **limits: Any) -> type[BaseModel]:
    """A subclass of ``schema`` whose validators know the run (its step count, its stage ids)."""
    return type(f"{schema.__name__}ForRun", (schema,), dict(limits))


# -- prompt building --------------------------------------------------------------------------------------------------


def _one_line(text: str, width: int) -> str:
    """One line of at most ``width`` characters, redacted before it is cut (see :func:`_elide`)."""
    flat = " ".join(redact(text).split())
    if len(flat) <= width:
        return flat
    cut = flat[: width - 3]
    if not flat[width - 3].isspace():  # no fragment of a word -- of a secret the tree itself cut -- at the edge
        cut = cut.rsplit(" ", 1)[0] if " " in cut else ""
    return cut + "..."


def _elide(text: str, limit: int) -> str:
    """Head and tail of ``text`` within ``limit`` characters: errors sit at the end of outputs, intent at the start.

    The whole text is redacted first, then shortened (:func:`~codetracer.core.secrets.shorten_redacted`): a private
    key at the head of a long output used to lose its END line to the cut, and with it its redaction."""
    text = redact(text)
    if len(text) <= limit:
        return text
    return shorten_redacted(text, max(limit - 40, 20), head_share=0.4)


def _action_text(step: Step) -> str:
    for action in step.actions:
        if action.command:
            return action.command
        if action.edits:
            return f"{action.tool} edit " + ", ".join(e.path for e in action.edits)
        return f"{action.tool} {json.dumps(action.arguments, ensure_ascii=False, default=str)}"
    if step.thought is not None:
        return step.thought.text
    if step.messages:
        return step.messages[0].content.text
    observed = [o.text.text for o in step.all_observations if o.text is not None]
    return "(observation) " + observed[0] if observed else "(no action)"


def _flags(step: Step) -> str:
    codes = [o.exit_code for o in step.all_observations if o.exit_code is not None]
    parts = [f"exit {codes[-1]}"] if codes else []
    if step.is_error:
        parts.append("ERROR")
    tag = change_tag(step)
    if tag == "kept":
        parts.append("its change is in the final patch")
    elif tag:
        parts.append(f"change {tag}")
    return ", ".join(parts)


def final_state_text(run: Run) -> str:
    """What decided the outcome, for the prompt: the final patch with the steps that wrote each file (and the patch
    itself when the run left one), and the verifier's verdict, failing tests and output."""
    parts: list[str] = []
    prov = run.provenance
    if prov is not None and prov.files:
        parts.append(f"Final patch ({prov.patch_source}):")
        for f in prov.files:
            by = ", ".join(f"step {s}" for s in f.authors) or "no step seen writing it"
            stray = " (stray file: a backup or leftover)" if f.byproduct else ""
            parts.append(f"- {f.path} +{f.added}/-{f.removed}{stray}; written by {by}")
        patch = next((run.metadata[k] for k in ("submission", "git_patch", "model_patch", "patch")
                      if isinstance(run.metadata.get(k), str) and run.metadata[k].strip()), None)
        if patch:
            parts.append(_elide(patch, PATCH_CHARS))
    v = run.verification
    if v is not None:
        verdict = {True: "passed", False: "failed", None: "could not run"}[v.passed]
        parts.append(f"Verifier ({v.verifier}): {verdict}.")
        if v.failed_tests:
            shown = ", ".join(v.failed_tests[:20]) + (f" and {len(v.failed_tests) - 20} more" if len(
                v.failed_tests) > 20 else "")
            parts.append(f"Failing tests: {shown}")
        if v.output is not None and v.output.text.strip():
            parts.append("Verifier output:\n" + _elide(v.output.text, VERIFIER_CHARS))
    return "\n".join(parts)


def step_line(step: Step, width: int) -> str:
    """One line per step: id, agent, action, exit code and error flag."""
    who = f" [{step.agent}]" if step.agent else ""
    flags = _flags(step)
    return f"step {step.id}{who}: {_one_line(_action_text(step), width)}" + (f"  -> {flags}" if flags else "")


def outline(run: Run, width: int) -> str:
    """The stage summaries of pass 1 (also the map of the whole run in pass 2)."""
    lines: list[str] = []
    for stage in run.stages:
        lines.append(f"stage {stage.id} {stage.kind} (steps {stage.start_step}-{stage.end_step})")
        for step_id in range(stage.start_step, min(stage.end_step, len(run.steps)) + 1):
            lines.append("  " + step_line(run.step(step_id), width))
    if not run.stages:
        lines.extend(step_line(s, width) for s in run.steps)
    return "\n".join(lines)


def _text(value: Text | None) -> str:
    return value.text if value is not None else ""


def step_detail(step: Step, limit: int) -> str:
    """A step in full for pass 2: thought, tool calls with arguments/edits, observations, messages, errors; every
    text field elided to ``limit`` characters."""
    out = [f"=== step {step.id}" + (f" [{step.agent}]" if step.agent else "") + " ==="]
    if step.thought is not None:
        out.append("thought: " + _elide(_text(step.thought), limit))
    for call in step.calls:
        if call.kind == "llm":
            continue
        action = call.action
        if action is not None:
            what = action.command or json.dumps(action.arguments, ensure_ascii=False, default=str)
            out.append(f"tool call {call.name}: " + _elide(what, limit))
            for edit in action.edits:
                body = edit.diff or (f"-{edit.old}\n+{edit.new}" if edit.old or edit.new else "")
                out.append(f"  edit {edit.path}: " + _elide(body, limit))
        obs = call.observation
        if obs is not None:
            head = f"  -> exit {obs.exit_code}" if obs.exit_code is not None else "  ->"
            out.append(head + (" ERROR" if obs.is_error else "") + ": " + _elide(_text(obs.text), limit))
    for obs in step.observations:
        head = f"observation (exit {obs.exit_code})" if obs.exit_code is not None else "observation"
        out.append(head + (" ERROR" if obs.is_error else "") + ": " + _elide(_text(obs.text), limit))
    for message in step.messages:
        who = message.name or message.role
        out.append(f"message from {who}: " + _elide(message.content.text, limit))
    for error in step.errors:
        out.append("error: " + _elide(error.error, limit))
    return "\n".join(out)


def _hints(evidence: Sequence[Evidence], limit: int = 25) -> str:
    strongest = sorted(evidence, key=lambda e: (-e.weight, e.step_id))[:limit]
    return "\n".join(
        f"step {e.step_id}: {e.signal} (weight {e.weight:.1f}): {_one_line(e.detail, 160)}"
        for e in sorted(strongest, key=lambda e: e.step_id)
    )


def _patterns_text(patterns: Sequence[FailurePattern]) -> str:
    return "\n".join(
        f"- {p.signature} ({'confirmed' if p.confirmed else 'unconfirmed'}, seen {p.seen}x): "
        + _one_line(p.evidence, 200)
        + (f" | advice: {_one_line(p.advice, 160)}" if p.advice else "")
        for p in patterns
    )


SYSTEM_PASS1 = (
    "You localize failures in recorded runs of code agents. You get an outline of one run: its stages (kind and "
    "step range) and one line per step (action, exit code, ERROR flag, speaking agent), plus hints: evidence found "
    "by rule-based detectors and failure patterns remembered from earlier runs of this project. Hints can be wrong. "
    "When the run left a final patch and a verifier judged it, the failure usually began at the step that wrote the "
    "wrong or incomplete part of that patch, or at the decision to stop without what the verifier checks. "
    "Pick the stage(s) most likely to hold the onset: the first decisive wrong step that caused the failure. "
    'Answer {"stage_ids": [ids, most likely first, at most 3], "reasoning": "one or two sentences"}.'
)

SYSTEM_PASS2 = (
    "You localize failures in recorded runs of code agents. You get the outline of one run and the full steps of "
    "the stage(s) under suspicion. Find the onset: the first decisive wrong step, whose mistake the failure follows "
    "from (not merely the first error: exploration errors that were repaired are not decisive; a change the final "
    "patch keeps, that the failing tests exercise, outweighs an error the run worked around). Then list the chain "
    "of later steps it caused, the incorrect steps (the onset and later wrong steps) and the unuseful steps (wasted "
    "but harmless). Use only step ids that appear in the outline. Answer "
    '{"onset_step": int or null, "chain": [ints], "incorrect_step_ids": [ints], "unuseful_step_ids": [ints], '
    '"stage_id": int or null, "agent": "the agent name at fault, when steps name agents" or null, '
    '"reasoning": "one paragraph citing step ids", "suggestion": "what the agent should have done", '
    '"confidence": number from 0 to 1}.'
)


def _tokens(*texts: str) -> int:
    return int(sum(len(t) for t in texts) / CHARS_PER_TOKEN) + 1


@dataclass
class Totals:
    """What the localizer spent across the runs it saw (printed by ``codetracer eval``)."""

    runs: int = 0
    requests: int = 0
    tokens: int = 0
    cost: float = 0.0
    fallbacks: int = 0

    def line(self, model: str) -> str:
        return (
            f"llm ({model}): {self.runs} runs, {self.requests} requests, {self.tokens} tokens, cost {self.cost:.4f}, "
            f"{self.fallbacks} fallbacks to signals"
        )


class _Fallback(Exception):
    """The LLM path cannot go on for this run; the message says why."""


class LLMLocalizer:
    """Two-pass localization by an OpenAI-compatible model over the trace tree, with the signal localizer as hint
    source and as fallback."""

    def __init__(
        self,
        config: LLMConfig,
        *,
        name: str = "llm",
        memory_store: RunStore | None = None,
        client_factory: Callable[[LLMConfig], LLMClient] | None = None,
        fallback: SignalLocalizer | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.memory = memory_store
        self._client_factory = client_factory or LLMClient
        self._signals = fallback or SignalLocalizer()
        self.totals = Totals()

    # -- the Localizer protocol ---------------------------------------------------------------------------------------

    def localize(self, run: Run) -> Diagnosis:
        """Diagnose ``run``; never raises for endpoint or budget problems (falls back to the signal diagnosis)."""
        hint = self._signals.localize(run)
        self.totals.runs += 1
        if not run.steps:
            return hint.model_copy(update={"localizer": self.name})
        client: LLMClient | None = None
        try:
            client = self._client_factory(self.config)  # one client per run: the token budget is per run
            diagnosis = self._ask(client, run, hint)
        except (_Fallback, LLMError) as exc:
            diagnosis = self._fallback(run, hint, str(exc))
        except Exception as exc:  # noqa: BLE001 - a bug or a surprise from the endpoint must not break analyze
            log.warning("codetracer: LLM localizer failed on %s (%s: %s)", run.id, type(exc).__name__, exc)
            diagnosis = self._fallback(run, hint, f"{type(exc).__name__}: {exc}")
        return self._account(client, run, diagnosis)

    # -- the two passes -----------------------------------------------------------------------------------------------

    def _ask(self, client: LLMClient, run: Run, hint: Diagnosis) -> Diagnosis:
        patterns: list[FailurePattern] = []
        if self.memory is not None:
            patterns = memory.recall(self.memory, run, evidence=hint.evidence, limit=3)
        chosen, pass1_reason = self._pass1(client, run, hint, patterns)
        verdict = self._pass2(client, run, hint, patterns, chosen)
        return self._diagnosis(run, hint, verdict, chosen, pass1_reason)

    def _head(self, run: Run, hint: Diagnosis, patterns: Sequence[FailurePattern], outline_text: str) -> str:
        parts = [
            f"Framework: {run.framework}. Outcome: {run.outcome.value}. Steps: {len(run.steps)}. "
            f"Stages: {len(run.stages)}.",
            "Task:\n" + untrusted(_elide(run.task or "(no task recorded)", TASK_CHARS)),
            "Outline:\n" + untrusted(outline_text),
        ]
        final_state = final_state_text(run)
        if final_state:
            parts.append("What the run left and what judged it:\n" + untrusted(final_state))
        if hint.evidence:
            parts.append("Detector evidence (hints):\n" + untrusted(_hints(hint.evidence)))
        if patterns:
            parts.append("Remembered failure patterns of this project (hints):\n" + untrusted(_patterns_text(patterns)))
        return "\n\n".join(parts)

    def _fit_outline(
        self,
        client: LLMClient,
        run: Run,
        hint: Diagnosis,
        patterns: Sequence[FailurePattern],
        system: str,
        reserve: int,
    ) -> str:
        """The widest outline whose prompt leaves ``reserve`` tokens of the budget."""
        for width in OUTLINE_WIDTHS:
            head = self._head(run, hint, patterns, outline(run, width))
            if _tokens(system, head) + reserve <= client.budget_left():
                return head
        raise _Fallback(
            f"the token budget ({client.config.max_tokens_per_run}) cannot hold even a compact outline of "
            f"{len(run.steps)} steps"
        )

    def _pass1(
        self, client: LLMClient, run: Run, hint: Diagnosis, patterns: Sequence[FailurePattern]
    ) -> tuple[list[Stage], str]:
        if len(run.stages) <= 1:  # nothing to choose between
            return list(run.stages), ""
        reserve = PASS1_ANSWER_TOKENS + PASS2_ANSWER_TOKENS + 500  # leave room for pass 2
        head = self._fit_outline(client, run, hint, patterns, SYSTEM_PASS1, reserve)
        schema = _bound(StageChoice, valid_stages=frozenset(s.id for s in run.stages))
        answer = client.chat_json(SYSTEM_PASS1, head, schema, max_tokens=PASS1_ANSWER_TOKENS)
        assert isinstance(answer, StageChoice)
        by_id = {s.id: s for s in run.stages}
        return [by_id[i] for i in answer.stage_ids], answer.reasoning

    def _pass2(
        self,
        client: LLMClient,
        run: Run,
        hint: Diagnosis,
        patterns: Sequence[FailurePattern],
        chosen: Sequence[Stage],
    ) -> Verdict:
        head = self._fit_outline(client, run, hint, patterns, SYSTEM_PASS2, PASS2_ANSWER_TOKENS + 300)
        steps = [
            run.step(i)
            for stage in chosen
            for i in range(stage.start_step, stage.end_step + 1)
            if 1 <= i <= len(run.steps)
        ] or list(run.steps)
        room = client.budget_left() - PASS2_ANSWER_TOKENS - _tokens(SYSTEM_PASS2, head) - 100
        chars = min(PASS2_MAX_CHARS, int(room * CHARS_PER_TOKEN))
        per_field = chars // max(1, len(steps)) // 3  # a step has a few text fields (thought, action, output)
        if per_field < 40:
            raise _Fallback(f"the token budget left ({client.budget_left()} tokens) cannot hold the suspect steps")
        body = "\n\n".join(step_detail(s, per_field) for s in steps)
        body = _elide(body, chars)
        names = ", ".join(f"stage {s.id} ({s.kind}, steps {s.start_step}-{s.end_step})" for s in chosen)
        agents = sorted({s.agent for s in run.steps if s.agent})
        user = (
            f"{head}\n\nStages under suspicion: {names or 'the whole run'}.\n"
            + (f"Agents in this run: {', '.join(agents)}.\n" if agents else "")
            + "Full steps:\n"
            + untrusted(body)
        )
        schema = _bound(Verdict, n_steps=len(run.steps))
        answer = client.chat_json(SYSTEM_PASS2, user, schema, max_tokens=PASS2_ANSWER_TOKENS)
        assert isinstance(answer, Verdict)
        return answer

    # -- results ------------------------------------------------------------------------------------------------------

    def _diagnosis(
        self, run: Run, hint: Diagnosis, verdict: Verdict, chosen: Sequence[Stage], pass1_reason: str
    ) -> Diagnosis:
        onset = verdict.onset_step
        if onset is None or (run.outcome is Outcome.SOLVED and verdict.confidence < CONFIDENT):
            return Diagnosis(
                localizer=self.name,
                confidence=round(verdict.confidence, 3) if onset is not None else 0.0,
                reasoning=verdict.reasoning or "The model found no failure onset.",
                evidence=list(hint.evidence),
            )
        chain = [s for s in verdict.chain if s > onset]
        incorrect = sorted({onset, *verdict.incorrect_step_ids})
        unuseful = [s for s in verdict.unuseful_step_ids if s not in incorrect]
        stage = run.stage_of(onset)
        agents = {s.agent for s in run.steps if s.agent}
        agent = verdict.agent if verdict.agent in agents else run.step(onset).agent
        where = ", ".join(str(s.id) for s in chosen)
        reasoning = verdict.reasoning.strip() or f"The model named step {onset} as the onset."
        if pass1_reason:
            reasoning += f" (Pass 1 chose stage(s) {where}: {pass1_reason.strip()})"
        return Diagnosis(
            localizer=self.name,
            onset_step=onset,
            chain=chain,
            stage_id=stage.id if stage else None,
            incorrect_step_ids=incorrect,
            unuseful_step_ids=unuseful,
            confidence=round(verdict.confidence, 3),
            reasoning=reasoning,
            evidence=[
                Evidence(step_id=onset, signal="llm", detail=_one_line(reasoning, 300), weight=verdict.confidence),
                *hint.evidence,
            ],
            suggestion=verdict.suggestion,
            agent=agent,
        )

    def _fallback(self, run: Run, hint: Diagnosis, reason: str) -> Diagnosis:
        self.totals.fallbacks += 1
        at = hint.onset_step or 1
        return hint.model_copy(
            update={
                "localizer": FALLBACK_NAME,
                "reasoning": f"[LLM localizer unavailable: {reason}; this is the signal diagnosis] {hint.reasoning}",
                "evidence": [Evidence(step_id=at, signal="llm_fallback", detail=reason, weight=0.0), *hint.evidence],
            }
        )

    def _account(self, client: LLMClient | None, run: Run, diagnosis: Diagnosis) -> Diagnosis:
        """Record requests, tokens and cost in the diagnosis (``cost``, an ``llm_usage`` evidence item) and totals."""
        if client is None or not run.steps:
            return diagnosis
        usage = client.usage
        self.totals.requests += usage.requests
        self.totals.tokens += usage.tokens
        self.totals.cost += usage.cost
        detail = (
            f"model {self.config.model}: {usage.requests} requests, {usage.input_tokens} input + "
            f"{usage.output_tokens} output tokens of a {self.config.max_tokens_per_run}-token budget, "
            f"cost {usage.cost:.6f}" + (f"; rejected answers: {len(usage.failures)}" if usage.failures else "")
        )
        at = diagnosis.onset_step or 1
        return diagnosis.model_copy(
            update={
                "cost": usage.cost,
                "evidence": [*diagnosis.evidence, Evidence(step_id=at, signal="llm_usage", detail=detail, weight=0.0)],
            }
        )
