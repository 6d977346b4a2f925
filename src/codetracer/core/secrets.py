"""Secrets in trajectory text, found by kind and replaced by ``[REDACTED]`` before the text leaves the machine.

Agents print keys: ``env``, ``cat ~/.aws/credentials``, a ``curl -H "Authorization: ..."``, a failing ``git push``
with a token in its URL. Whatever codetracer sends or writes for others -- an LLM request, an OTel export, the HTML
report, ``--json`` with ``--redact`` -- goes through :func:`redact` first (the store keeps texts as recorded: it is
the user's own file, and a diagnosis must see what the agent saw; see docs/security.md).

Why a hand-kept table and not a general detector (``detect-secrets``' plugins): every kind here has a fixed shape
(a vendor prefix, a header, an assignment to a secret-sounding name), matched by one regular expression over the
whole text; a detector scanning line by line with entropy checks costs a dependency and more time per text, and
still misses a secret that a line break or an elision split. Redaction runs only where a text leaves (never on the
agent's thread), and ``benchmarks/redaction.py`` measures it.

Order matters: :func:`redact` runs on the *whole* text, and shortening comes after (:func:`shorten_redacted`), so no
secret is cut in two with one half left unrecognised; a shortened text also never ends or starts inside a word, so
no prefix of a secret the tree itself had to cut survives at an edge.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from codetracer.core.model import Run

REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class SecretKind:
    """One kind of secret: its name, what it looks like (for docs), its pattern and what replaces a match."""

    name: str
    example: str
    """A made-up sample of the kind (tests check every sink against these)."""
    pattern: re.Pattern[str]
    replacement: str = REDACTED
    hints: tuple[str, ...] = ()
    """Lower-case strings one of which every match contains: a text holding none is not searched (most texts hold
    none, and a substring test is far cheaper than the pattern). Empty: always searched."""


_NAMES = (
    r"api[_-]?key|apikey|secret|token|passw(?:or)?d|passwd|pwd|access[_-]?key|private[_-]?key|credentials?"
    r"|accountkey"
)
"""Words that make the value assigned to a name (``FOO_SECRET=...``, ``"password": "..."``) a secret."""
_NAME_HINTS = ("key", "secret", "token", "passw", "pwd", "credential")
"""Substrings of :data:`_NAMES` (lower-case): a text with none of them has no secret-sounding name."""

KINDS: tuple[SecretKind, ...] = (
    SecretKind(
        "private key (PEM, OpenSSH, PGP), with or without its END line",
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAsecretkeymaterial\n-----END RSA PRIVATE KEY-----",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY(?: BLOCK)?-----"
            r"(?:.*?-----END [A-Z ]*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s:,.\\\-]*)",
            re.S,
        ),
        hints=("private key",),
    ),
    SecretKind(
        "AWS access key id",
        "AKIAIOSFODNN7EXAMPLE",
        re.compile(r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b"),
        hints=("akia", "asia", "abia", "acca"),
    ),
    SecretKind(
        "Google API key",
        "AIzaSyA1234567890abcdefghijklmnopqrstuv",
        re.compile(r"\bAIza[0-9A-Za-z_\-]{35}"),
        hints=("aiza",),
    ),
    SecretKind(
        "Stripe key (secret, restricted, publishable, webhook)",
        "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
        re.compile(r"\b(?:(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{20,})"),
        hints=("_live_", "_test_", "whsec_"),
    ),
    SecretKind(
        "OpenAI / Anthropic style key (sk-, sk-proj-, sk-ant-)",
        "sk-proj-Abc123def456ghi789jkl012",
        re.compile(r"\b(?:sk|pk|rk)-(?:proj-|ant-|live-|test-)?[A-Za-z0-9_\-]{16,}"),
        hints=("sk-", "pk-", "rk-"),
    ),
    SecretKind(
        "GitHub token (classic, fine-grained, OAuth, app)",
        "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
        re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})"),
        hints=("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    SecretKind(
        "GitLab token (personal, deploy, pipeline, runner ...)",
        "glpat-xYz123AbC456dEf789gH",
        re.compile(r"\bgl(?:pat|dt|ptt|rt|cbt|soat|ft|imt|agent)-[A-Za-z0-9_\-]{20,}"),
        hints=("gl",),
    ),
    SecretKind(
        "Slack token or webhook",
        "xoxb-123456789012-abcdefghijkl",
        re.compile(r"\bxox[abposr]-[A-Za-z0-9\-]{10,}|hooks\.slack\.com/services/[A-Za-z0-9/]{20,}"),
        hints=("xox", "hooks.slack.com"),
    ),
    SecretKind(
        "Hugging Face token",
        "hf_abcdefghijklmnopqrstuvwxyz0123",
        re.compile(r"\bhf_[A-Za-z0-9]{30,}"),
        hints=("hf_",),
    ),
    SecretKind(
        "npm token",
        "npm_abcdefghijklmnopqrstuvwxyz0123456789",
        re.compile(r"\bnpm_[A-Za-z0-9]{36}"),
        hints=("npm_",),
    ),
    SecretKind(
        "PyPI token",
        "pypi-AgEIcHlwaS5vcmcCJDAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA",
        re.compile(r"\bpypi-AgE[A-Za-z0-9_\-]{40,}"),
        hints=("pypi-",),
    ),
    SecretKind(
        "SendGrid key",
        "SG.abcdefghijklmnopqrstuv.abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        re.compile(r"\bSG\.[A-Za-z0-9_\-]{16,}\.[A-Za-z0-9_\-]{16,}"),
        hints=("sg.",),
    ),
    SecretKind(
        "JSON Web Token",
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N",
        re.compile(r"\beyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),
        hints=("eyj",),
    ),
    SecretKind(
        "Authorization header (Basic, Bearer, Token, Digest or bare)",
        "Authorization: Basic dXNlcjpodW50ZXIy",
        re.compile(
            r"(?i)(\b(?:proxy-)?authorization\s*[:=]\s*[\"']?(?:(?:basic|bearer|token|digest)\s+)?)[^\s\"',;]{4,}"
        ),
        r"\1" + REDACTED,
        hints=("authorization",),
    ),
    SecretKind(
        "bearer token",
        "Bearer abcdef0123456789xyz",
        re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/\-]{12,}=*"),
        r"\1 " + REDACTED,
        hints=("bearer",),
    ),
    SecretKind(
        "password or token in a URL",
        "https://deploy:hunter2pass@git.example.com/repo.git",
        re.compile(r"(://[^/\s:@]+:)([^@\s/]{3,})(@)"),
        r"\1" + REDACTED + r"\3",
        hints=("://",),
    ),
    SecretKind(
        "password, token or key given as a command-line flag (--password X, --token=X)",
        "mysql --password hunter2pass",
        re.compile(rf"(?i)(--?[a-z0-9]*[-_]?(?:{_NAMES})[a-z0-9_-]*(?:=|\s+)[\"']?)(?!-)[^\s\"']{{3,}}"),
        r"\1" + REDACTED,
        hints=_NAME_HINTS,
    ),
    SecretKind(
        "value assigned to a secret-sounding name (FOO_SECRET=..., \"password\": \"...\", token: ...)",
        "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        re.compile(
            rf"(?i)\b([A-Z0-9_.\-]*(?:{_NAMES})[A-Z0-9_]*)(\s*[:=]\s*|\"\s*:\s*\"|'\s*:\s*')([^\s\"',;]{{4,}})"
        ),
        r"\1\2" + REDACTED,
        hints=_NAME_HINTS,
    ),
)
"""Every kind :func:`redact` knows, in the order it applies them (docs/security.md lists them)."""


def redact(text: str) -> str:
    """``text`` with every secret of :data:`KINDS` replaced by ``[REDACTED]``; names and words around stay."""
    if len(text) < _SHORTEST:
        return text
    lowered = text.lower()
    for kind in KINDS:
        if kind.hints:
            for hint in kind.hints:  # a plain loop: a generator per kind and text costs more than the tests
                if hint in lowered:
                    break
            else:
                continue
        text = kind.pattern.sub(kind.replacement, text)
    return text


_SHORTEST = 8
"""No kind matches a text shorter than this (the shortest is a flag or assignment with a short value)."""


_WORD_EDGE = re.compile(r"\S{1,200}$")
_WORD_START = re.compile(r"^\S{1,200}")
"""The part of a word a cut would leave at an edge; a "word" longer than any secret is cut where it is."""


def shorten_redacted(
    text: str, limit: int, marker: Callable[[int], str] | None = None, *, head_share: float = 2 / 3
) -> str:
    """``text`` redacted whole, then cut to about ``limit`` characters keeping head and tail.

    The cuts move back to whitespace, so neither the head's end nor the tail's start is part of a word: a secret
    of the tree's own head-and-tail elision (stored cut, its vendor prefix elided) cannot leave half of itself here.
    ``marker(n)`` says what stands for the ``n`` characters left out; ``head_share`` is the head's part of ``limit``.
    """
    text = redact(text)
    if len(text) <= limit:
        return text
    marker = marker or (lambda n: f" [... {n} chars elided ...] ")
    head_len = max(int(limit * head_share), 0)
    tail_len = max(limit - head_len, 0)
    head, tail = text[:head_len], text[len(text) - tail_len :] if tail_len else ""
    if head and not text[head_len].isspace():
        head = _WORD_EDGE.sub("", head)
    if tail and not text[len(text) - tail_len - 1].isspace():
        tail = _WORD_START.sub("", tail)
    return f"{head}{marker(len(text) - len(head) - len(tail))}{tail}"


def redact_value(value: Any) -> Any:
    """Every string in ``value`` (dicts, lists, tuples; dict keys included) redacted; other values as they are."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {redact_value(k): redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v) for v in value]
    return value


IDENTITY_FIELDS = frozenset({
    "id", "parent_run_id", "key", "raw_ref", "blob", "kind", "role", "framework", "outcome", "localizer", "signal",
    "source", "verifier", "how", "fate", "patch_source", "tool", "attempt_of",
})
"""Fields of the tree that name things (ids, kinds, enum values) rather than hold recorded text: left as they are,
so a redacted run keeps its identity (``run-secret:1`` must not become ``run-secret:[REDACTED]``) and links."""


def _redact_tree(value: Any) -> Any:
    """``value`` with its recorded texts redacted; the very same object where nothing changed (most of a tree)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        out = None
        for k, v in value.items():
            if k in IDENTITY_FIELDS:
                continue
            new = _redact_tree(v)
            if new is not v:
                if out is None:
                    out = dict(value)
                out[k] = new
        return value if out is None else out
    if isinstance(value, list | tuple):
        items = None
        for i, v in enumerate(value):
            new = _redact_tree(v)
            if new is not v:
                if items is None:
                    items = list(value)
                items[i] = new
        return value if items is None else items
    return value


def redact_run(run: Run) -> Run:
    """``run`` with every recorded text redacted (task, thoughts, commands, arguments, outputs, responses, messages,
    errors, edits, metadata, verifier output, diagnosis); ids and kinds untouched. A new tree when anything was
    redacted, ``run`` itself when nothing was (sinks never change the run they are given)."""
    from codetracer.core.model import Run as RunModel

    dumped = run.model_dump()
    redacted = _redact_tree(dumped)
    return run if redacted is dumped else RunModel.model_validate(redacted)
