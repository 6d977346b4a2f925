"""A secrets corpus -- one sample of every kind docs/security.md lists -- checked against every sink that takes
trajectory text off the machine: the LLM request body, the OTel payload, the HTML report and ``--json --redact``
(issue 20, items 7-10).

The run is a real mini-swe-agent trajectory (the shared fixture) whose commands and tool outputs are made to hold
the corpus, as an agent running ``env`` or ``cat ~/.aws/credentials`` would; every sink is driven the way a user
drives it (the CLI in a subprocess, the real ``openai`` client against a local server, the OTLP exporter against a
local receiver).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from codetracer.core.extract import extract_all
from codetracer.core.model import Run
from codetracer.core.secrets import KINDS, redact, shorten_redacted
from codetracer.llm import LLMClient, LLMConfig
from codetracer.localize.llm_localizer import LLMLocalizer
from openai_stub import Reply, StubServer

ARTIFACT = "fixtures/mini-swe-agent/example_text.traj.json"

PRIVATE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "\n".join(
    f"b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW{i:04d}" for i in range(30)
) + "\n-----END OPENSSH PRIVATE KEY-----"

CORPUS: dict[str, tuple[str, list[str]]] = {
    "private key (PEM, OpenSSH, PGP), with or without its END line": (PRIVATE_KEY, ["b3BlbnNzaC1rZXktdjEAAAAA"]),
    "AWS access key id": ("aws_access_key_id = AKIAZ7QXWERTYUIOPLKJ", ["AKIAZ7QXWERTYUIOPLKJ"]),
    "Google API key": ("GOOGLE_MAPS=AIzaSyD3f9GhJkLmNoPqRsTuVwXyZ0123456789", ["AIzaSyD3f9GhJkLmNoPqRsTuVwXyZ"]),
    "Stripe key (secret, restricted, publishable, webhook)": (
        "stripe.api_base; sk_live_51HcQeRtYuIoPaSdFgHjKlZx and whsec_AbCdEfGhIjKlMnOpQrStUvWx",
        ["sk_live_51HcQeRtYuIoPaSdFgHjKlZx", "whsec_AbCdEfGhIjKlMnOpQrStUvWx"]),
    "OpenAI / Anthropic style key (sk-, sk-proj-, sk-ant-)": (
        "client = OpenAI(sk-proj-Q2w3E4r5T6y7U8i9O0pAsDfGh) # sk-ant-api03-ZxCvBnMaSdFgHjKlQwErTy",
        ["sk-proj-Q2w3E4r5T6y7U8i9O0pAsDfGh", "sk-ant-api03-ZxCvBnMaSdFgHjKlQwErTy"]),
    "GitHub token (classic, fine-grained, OAuth, app)": (
        "remote: ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s and github_pat_11ABCDEFG0123456789_abcdefghijklmnopqrstuvwxyz",
        ["ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s", "github_pat_11ABCDEFG0123456789_abcdefghijklmnop"]),
    "GitLab token (personal, deploy, pipeline, runner ...)": (
        "git clone https://gitlab.com/x.git (PRIVATE-TOKEN header glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm)",
        ["glpat-Zx9Yw8Vu7Ts6Rq5Po4Nm"]),
    "Slack token or webhook": (
        "SLACK xoxb-2048-4096-Qw3rTy8uIoPa and https://hooks.slack.com/services/T0001/B0002/XyZxYzXyZxYzXyZxYz12",
        ["xoxb-2048-4096-Qw3rTy8uIoPa", "T0001/B0002/XyZxYzXyZxYzXyZxYz12"]),
    "Hugging Face token": ("huggingface-cli login hf_QwErTyUiOpAsDfGhJkLzXcVbNmQwErTy",
                           ["hf_QwErTyUiOpAsDfGhJkLzXcVbNm"]),
    "npm token": ("//registry.npmjs.org/:_authToken npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
                  ["npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"]),
    "PyPI token": ("twine upload -u __token__ pypi-AgEIcHlwaS5vcmcCJGQ0ZTlkYzU1LWQ3ZjUtNDc4MS1iYmI2LTY2ZjY1",
                   ["pypi-AgEIcHlwaS5vcmcCJGQ0ZTlkYzU1LWQ3ZjUtNDc4"]),
    "SendGrid key": ("sendgrid: SG.Qw3rTy8uIoPaSdFgHjKlZx.Cv8bNm1QwErTyUiOpAsDfGhJkLzXcVbN",
                     ["SG.Qw3rTy8uIoPaSdFgHjKlZx", "Cv8bNm1QwErTyUiOpAsDfGhJkLzXcVbN"]),
    "JSON Web Token": ("cookie session=eyJhbGciOiJIUzI1NiJ9.eyJ1c2VyIjoiYWRtaW4ifQ.SflKxwRJSMeKKF2QT4fwpMeJf36",
                       ["eyJ1c2VyIjoiYWRtaW4ifQ", "SflKxwRJSMeKKF2QT4fwpMeJf36"]),
    "Authorization header (Basic, Bearer, Token, Digest or bare)": (
        "curl -H 'Authorization: Basic YWRtaW46czNjcjN0UGFzcw==' https://api.example.com",
        ["YWRtaW46czNjcjN0UGFzcw"]),
    "bearer token": ("> GET / HTTP/1.1 with bearer Zm9vYmFyYmF6cXV4MTIzNDU2", ["Zm9vYmFyYmF6cXV4MTIzNDU2"]),
    "password or token in a URL": ("psql postgres://app:Tr0ub4dor-and-3@db.internal:5432/prod", ["Tr0ub4dor-and-3"]),
    "password, token or key given as a command-line flag (--password X, --token=X)": (
        "mysqldump --user root --password Sup3rS3cretPw prod && deploy --api-token=Xy7Zq9Wv2Ut4",
        ["Sup3rS3cretPw", "Xy7Zq9Wv2Ut4"]),
    "value assigned to a secret-sounding name (FOO_SECRET=..., \"password\": \"...\", token: ...)": (
        "export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzTESTKEY; {\"db_password\": \"h0rs3-b4ttery\"}",
        ["wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzTESTKEY", "h0rs3-b4ttery"]),
}


def _secrets() -> list[str]:
    return [s for _, secrets in CORPUS.values() for s in secrets]


def leaked(text: str) -> list[str]:
    return [s for s in _secrets() if s in text]


def test_the_corpus_has_one_sample_of_every_documented_kind(tmp_path: Path) -> None:
    assert set(CORPUS) == {k.name for k in KINDS}
    docs = (Path(__file__).resolve().parents[1] / "docs" / "security.md").read_text()
    for kind in KINDS:
        assert kind.name in docs, f"docs/security.md does not list {kind.name!r}"
        sample, _ = CORPUS[kind.name]
        assert kind.pattern.search(sample), kind.name
        assert not leaked(redact(sample)), kind.name
        assert not leaked(redact(kind.example + " " + sample))


@pytest.fixture
def secret_run_file(tmp_path: Path, shared: Path) -> Path:
    """The shared mini-swe-agent run, its commands and outputs holding the corpus."""
    data = json.loads((shared / ARTIFACT).read_text())
    samples = [sample for sample, _ in CORPUS.values()]
    for message in data["messages"]:
        if message["role"] == "assistant" and message.get("extra", {}).get("actions"):
            command = "env; " + samples.pop(0) if samples else message["extra"]["actions"][0]["command"]
            message["extra"]["actions"][0]["command"] = command
            message["content"] = f"THOUGHT: look around\n```mswea_bash_command\n{command}\n```"
    rest = "\n".join(samples)
    # an output whose head is the private key (item 7: elision used to cut its END line before redaction)
    for message in data["messages"]:
        if message["role"] == "user" and "<returncode>" in message["content"]:
            message["content"] = (f"<returncode>0</returncode>\n<output>\n{PRIVATE_KEY}\n{rest}\n"
                                  + "log line that pads the output\n" * 400 + "</output>")
    path = tmp_path / "leaky.traj.json"
    path.write_text(json.dumps(data))
    run = next(iter(extract_all(path)))
    assert isinstance(run, Run) and set(leaked(run.to_json())) == set(_secrets()), "the store keeps all in clear"
    return path


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "codetracer.cli", *args], capture_output=True, text=True,
                          timeout=300, env=os.environ.copy())


def test_json_output_with_redact(secret_run_file: Path, home: Path) -> None:
    plain = cli("analyze", str(secret_run_file), "--json", "--no-store")
    assert plain.returncode == 0 and leaked(plain.stdout), "without --redact, --json is the run as recorded"
    done = cli("analyze", str(secret_run_file), "--json", "--no-store", "--redact")
    assert done.returncode == 0, done.stderr
    assert not leaked(done.stdout) and "[REDACTED]" in done.stdout
    assert cli("analyze", str(secret_run_file), "-q").returncode == 0
    run_id = json.loads(done.stdout.splitlines()[0])["run_id"]
    for flags in (["--json"], ["--full"], []):
        shown = cli("show", run_id, "--redact", *flags)
        assert shown.returncode == 0 and not leaked(shown.stdout), (flags, leaked(shown.stdout))


def test_report_is_redacted_by_default(secret_run_file: Path, tmp_path: Path, home: Path) -> None:
    out = tmp_path / "report.html"
    done = cli("report", str(secret_run_file), "-o", str(out))
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert not leaked(page), leaked(page)
    assert "[REDACTED]" in page
    kept = cli("report", str(secret_run_file), "-o", str(tmp_path / "clear.html"), "--no-redact")
    assert kept.returncode == 0 and leaked((tmp_path / "clear.html").read_text()), "the opt-out keeps them"


@pytest.fixture
def receiver() -> Iterator[object]:
    from test_otel_export import Receiver

    r = Receiver()
    yield r
    r.close()


@pytest.mark.parametrize("content", [False, True], ids=["commands-only", "with-content"])
def test_otel_payload_is_redacted(secret_run_file: Path, receiver: object, content: bool, home: Path) -> None:
    """Item 9: commands were sent as recorded even without ``--content``."""
    args = ["export-otel", str(secret_run_file), "--endpoint", receiver.url]  # type: ignore[attr-defined]
    done = cli(*args, *(["--content"] if content else []))
    assert done.returncode == 0, done.stderr
    payload = json.dumps(receiver.spans)  # type: ignore[attr-defined]
    assert "env; " in payload, "commands are sent"
    assert not leaked(payload), leaked(payload)
    if content:
        assert "log line that pads the output" in payload, "--content sends the texts, redacted"
    receiver.spans.clear()  # type: ignore[attr-defined]
    opted_out = cli(*args, "--content", "--no-redact")
    assert opted_out.returncode == 0 and leaked(json.dumps(receiver.spans))  # type: ignore[attr-defined]


@pytest.fixture
def server() -> Iterator[StubServer]:
    stub = StubServer().start()
    yield stub
    stub.stop()


def test_llm_request_bodies_are_redacted_whole_before_they_are_shortened(secret_run_file: Path,
                                                                       server: StubServer) -> None:
    """Item 7: the localizer elided texts before redacting them; the key at the head of a long output lost its END
    line to the cut, and most of its lines reached the endpoint in clear."""
    (run,) = extract_all(secret_run_file)
    assert isinstance(run, Run)
    run.outcome = type(run.outcome)("failed")
    verdict = json.dumps({"onset_step": 1, "chain": [], "incorrect_step_ids": [1], "unuseful_step_ids": [],
                          "confidence": 0.5, "reasoning": "r"})
    server.script(Reply('{"stage_ids": [1], "reasoning": "r"}'), Reply(verdict), Reply(verdict))
    config = LLMConfig(base_url=server.base_url, api_key="test-key", model="stub-model", timeout=2.0)
    LLMLocalizer(config, client_factory=lambda c: LLMClient(c, sleep=lambda s: None)).localize(run)
    assert server.requests, "the localizer asked the endpoint"
    body = json.dumps(server.requests)
    assert not leaked(body), leaked(body)
    assert "elided" in body, "the long output was shortened"


def test_shortening_never_leaves_a_prefix_of_a_secret_at_its_cuts() -> None:
    """Wherever the head's cut or the tail's cut falls across a token, no prefix or suffix of it survives: the whole
    text is redacted first, and cuts move to whitespace (so a fragment the tree itself stored cut is not halved
    again into something shorter still)."""
    token = "ghp_R4nd0mT0k3nV4lu3F0rT3st1ngPurp0s3s"
    text = "x " * 50 + token + " y" * 50
    for limit in range(20, 240):
        short = shorten_redacted(text, limit)
        assert not [w for w in short.split() if w.startswith("ghp_") or w.endswith("Purp0s3s") or "R4nd0m" in w]
    fragment = "x " * 50 + "ghp_R4nd0mT0k3n" + " y" * 50  # what a stored head kept of a token: too short to match
    for limit in range(140, 200):
        short = shorten_redacted(fragment, limit)
        words = short.split()
        assert all(w in {"x", "y", "ghp_R4nd0mT0k3n"} or "elided" in w or w in {"[...", "chars", "...]"}
                   or w.isdigit() for w in words), short
