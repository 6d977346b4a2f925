"""The ``codetracer`` command line: ``analyze`` artifacts, ``ls`` and ``show`` stored runs, ``search`` steps.

Every error is one line on stderr and a non-zero exit code, never a traceback (``CODETRACER_DEBUG=1`` shows it).
Exit codes: 0 fine, 1 some inputs could not be read (the others were processed), 2 usage or store error, 3 a bug.

Each command is a module of this package (``analyze``, ``evaluation``, ``memory``, ``stored``: ``ls`` / ``show`` /
``report`` / ``search`` / ``recover``, ``extractors``, ``export``, ``run``); this module holds the parser and
:func:`main`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from codetracer import __version__
from codetracer.cli.analyze import cmd_analyze, format_summary
from codetracer.cli.common import Progress, use_color, use_tty
from codetracer.cli.evaluation import cmd_eval
from codetracer.cli.export import cmd_export_otel
from codetracer.cli.extractors import cmd_extractors
from codetracer.cli.memory import cmd_memory
from codetracer.cli.run import cmd_run
from codetracer.cli.stored import cmd_ls, cmd_recover, cmd_report, cmd_search, cmd_show
from codetracer.cli.verdicts import cmd_diagnose, cmd_verdict
from codetracer.core.errors import CodetracerError

__all__ = ["Progress", "build_parser", "format_summary", "main", "use_color", "use_tty"]

STORE_HELP = ("the store: a postgresql://user@host/db URL (needs codetracer[postgres]) or a SQLite file "
              "(default: $CODETRACER_STORE, else codetracer.db in $CODETRACER_HOME)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="codetracer",
        description="Trace code-agent runs into trees, keep them, and find where a failed run went wrong.",
        epilog="Data lives in $CODETRACER_HOME (default: the user data dir); runs are grouped by $CODETRACER_PROJECT. "
        "The store is the SQLite file there unless $CODETRACER_STORE (or --store) names another file or a "
        "postgresql:// URL.",
    )
    parser.add_argument("--version", action="version", version=f"codetracer {__version__}")
    parser.add_argument("--store", metavar="URL|PATH", help=STORE_HELP)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "analyze",
        help="read run artifacts (a file or a folder of runs), print trees and diagnoses, store them",
        description="Detect the format of every run under PATH by content, build its tree, localize failures and "
        "print the result. Exit 1 when some inputs could not be read (each gets one line on stderr).",
    )
    p.add_argument("path", help="a run artifact or a folder searched recursively")
    p.add_argument("--json", action="store_true", help="one JSON object per run per line")
    p.add_argument("--redact", action="store_true",
                   help="redact secrets (keys, tokens, passwords: docs/security.md) from the output")
    p.add_argument("--no-store", action="store_true", help="do not save the runs to the store")
    p.add_argument("--format", help="skip detection and use this extractor (see `codetracer extractors`)")
    p.add_argument("--localizer", help="localizer to use (default: the first registered)")
    p.add_argument("--all-runs", action="store_true", help="also diagnose runs whose outcome is solved")
    p.add_argument("--fold", action="store_true", help="fold stages that do not hold the onset")
    p.add_argument(
        "--tree", action="store_true", help="print every run's tree (default for one artifact; more get a line each)"
    )
    p.add_argument("--remember", action="store_true", help="store the diagnoses as (unconfirmed) failure patterns")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing but errors")
    p.add_argument("-j", "--jobs", type=int, help="processes reading artifacts in parallel (default: one per core)")
    p.set_defaults(func=cmd_analyze)

    p = sub.add_parser(
        "eval",
        help="score a localizer against gold labels, next to constant-rule baselines",
        description="Evaluate a localizer on gold sets: a folder of labeled runs (Who&When) or solved runs (false "
        "alarms), a CodeTraceBench manifest .json (with --traj-root) or a gold .jsonl (see codetracer.evaluate.gold). "
        "Prints step P/R/F1 (macro over labeled failures), the false-alarm rate on failure-free runs, earliest "
        "failing stage accuracy, exact and +-k step accuracy and agent accuracy, per framework, for the method and "
        "the baselines none/all/first/last/last-k/first-error.",
    )
    p.add_argument("gold", nargs="+", help="gold sets, each reported separately")
    p.add_argument("--traj-root", help="folder holding the trajectories a manifest or JSONL file names")
    p.add_argument("--localizer", help="localizer to evaluate (default: the first registered)")
    p.add_argument("--k", type=int, default=3, help="window of the last-k baseline (default 3)")
    p.add_argument(
        "--tolerance", type=int, default=1, help="an extra k of the +-k step accuracy (+-1 and +-3 are always shown)"
    )
    p.add_argument(
        "--split", choices=["all", "odd", "even"], default="all", help="only rows whose file number is odd/even"
    )
    p.add_argument("--json", action="store_true", help="one JSON report per gold set")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "memory",
        help="failure patterns remembered for this project: ls, confirm RUN, forget [RUN]",
        description="`memory ls` lists this project's failure patterns; `memory confirm RUN` stores the stored run's "
        "diagnosis as a confirmed pattern; `memory forget [RUN]` deletes the patterns learned from RUN (all of this "
        "project's without RUN). The project is $CODETRACER_PROJECT; other projects are never touched.",
    )
    p.add_argument("action", nargs="?", choices=["ls", "confirm", "forget"], default="ls")
    p.add_argument("run", nargs="?", help="with confirm/forget: a stored run id (a unique prefix is enough)")
    p.add_argument("--framework", help="with ls: only patterns of this framework")
    p.add_argument("--json", action="store_true", help="with ls: one JSON object per pattern per line")
    p.set_defaults(func=cmd_memory)

    p = sub.add_parser("ls", help="list stored runs", description="List stored runs, newest first.")
    p.add_argument("--framework", help="only runs of this framework")
    p.add_argument("--outcome", choices=["solved", "failed", "unknown"], help="only runs with this outcome")
    p.add_argument("--since", help="only runs started since (2026-11-01, 7d, 12h)")
    p.add_argument("--until", help="only runs started until (2026-11-01, 7d, 12h)")
    p.add_argument("--limit", type=int, default=50, help="at most this many runs (default 50; 0: all); ls says when "
                   "there are more")
    p.add_argument("--json", action="store_true", help="one JSON object per run per line")
    p.set_defaults(func=cmd_ls)

    p = sub.add_parser(
        "show",
        help="print a stored run's tree",
        description="Print a stored run as a tree. Stages that do not hold the failure onset are folded to one line "
        "each (--all unfolds them); long outputs are shortened in the middle (--step N prints one step whole).",
    )
    p.add_argument("run", help="run id (a unique prefix is enough)")
    p.add_argument("--json", action="store_true", help="one JSON object: run, steps, diagnosis")
    p.add_argument("--full", action="store_true", help="the whole tree as JSON (loads back losslessly)")
    p.add_argument("--all", action="store_true", help="unfold every stage")
    p.add_argument("--fold", action="store_true", help="fold stages without the onset (the default when there is one)")
    p.add_argument("--step", type=int, metavar="N", help="print step N whole: thought, commands, full outputs")
    p.add_argument("--redact", action="store_true",
                   help="redact secrets (keys, tokens, passwords: docs/security.md) from the output")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run",
        description="Write one HTML file (no network access, nothing external) with the run's collapsible tree, the "
        "stage timeline, the failure onset and chain, evidence linked to steps, search and keyboard navigation. RUN "
        "is a stored run id (prefix) or a run artifact, analyzed on the fly and not stored.",
    )
    p.add_argument("run", help="a stored run id (a unique prefix is enough) or the path of one run artifact")
    p.add_argument("-o", "--output", metavar="FILE", help="where to write the report (default: report.html)")
    p.add_argument("--localizer", help="localizer for this report (default: the stored diagnosis)")
    p.add_argument("--no-redact", action="store_true",
                   help="keep secrets in the report (by default they are redacted: reports get shared)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser(
        "diagnose",
        help="diagnose a stored run now (again, or with another localizer) and store the diagnosis",
        description="Run a localizer on a stored run and store its diagnosis with the run, so that ls, show, report "
        "and --json show it. Failed live runs are diagnosed when they finish; use this for runs stored without an "
        "outcome, or to try another localizer (e.g. --localizer llm).",
    )
    p.add_argument("run", help="a stored run id (a unique prefix is enough)")
    p.add_argument("--localizer", help="localizer to use (default: the first registered, signals)")
    p.add_argument("--json", action="store_true", help="print run id, outcome and diagnosis as JSON")
    p.set_defaults(func=cmd_diagnose)

    p = sub.add_parser(
        "verdict",
        help="record a stored run's outcome given after it ended (failed, solved, unknown); failed runs are diagnosed",
        description="Set the outcome of a stored run, e.g. from a verifier or a CI job that ran after the agent. A "
        "failed verdict diagnoses the run at once; the verdict, who gave it and the outcome before are kept in the "
        "run's metadata.",
    )
    p.add_argument("run", help="a stored run id (a unique prefix is enough)")
    p.add_argument("outcome", help="failed, solved or unknown (passed/fail are accepted)")
    p.add_argument("--by", help="who or what judged, kept with the verdict (e.g. 'CI job 1234')")
    p.add_argument("--localizer", help="localizer for a failed verdict (default: the first registered)")
    p.add_argument("--json", action="store_true", help="print run id, outcome and diagnosis as JSON")
    p.set_defaults(func=cmd_verdict)

    p = sub.add_parser("search", help="full-text search over stored steps", description="Search stored steps.")
    p.add_argument("text", help="words to find")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser(
        "extractors",
        help="list the artifact formats codetracer reads, or draft a spec for a new one",
        description="`extractors` (or `extractors list`) lists the formats; `extractors suggest PATH` drafts a "
        "declarative spec for an unknown format from one example file (with the LLM when CODETRACER_BASE_URL and "
        "CODETRACER_MODEL are set, else from field names), validates it on the file and saves it for reuse.",
    )
    p.add_argument("action", nargs="?", choices=["list", "suggest"], default="list")
    p.add_argument("path", nargs="?", help="with suggest: an example artifact of the new format")
    p.add_argument("--name", help="with suggest: the new extractor's name (default: from the file name)")
    p.add_argument("--no-llm", action="store_true", help="with suggest: draft from field names even if an LLM is set")
    p.add_argument("--dry-run", action="store_true", help="with suggest: print the spec, do not save it")
    p.set_defaults(func=cmd_extractors)

    p = sub.add_parser(
        "export-otel",
        help="send stored or analyzed runs to an OpenTelemetry collector (OTLP/HTTP)",
        description="Send runs as OpenTelemetry spans (GenAI semantic conventions) to an OTLP/HTTP collector: "
        "Phoenix, Langfuse, Jaeger, an OpenTelemetry Collector ... RUN is a stored run id (a unique prefix is "
        "enough) or a path to run artifacts. The endpoint, headers and timeout follow the OTEL_EXPORTER_OTLP_* "
        "variables unless given here. Needs `pip install 'codetracer[otel]'`. Exit 1 when the collector refused.",
    )
    p.add_argument("target", metavar="RUN|PATH", help="stored run id, or a run artifact / folder of runs")
    p.add_argument("--endpoint", help="collector URL, e.g. http://localhost:4318 (/v1/traces is appended)")
    p.add_argument("--timeout", type=float, help="seconds per request, retries included (default 10)")
    p.add_argument("--content", action="store_true",
                   help="also send texts: task, thoughts, tool output, responses (redacted, as everything sent)")
    p.add_argument("--no-redact", action="store_true",
                   help="send texts and commands as recorded, secrets included (by default they are redacted)")
    p.add_argument("--no-localize", action="store_true", help="do not diagnose failed runs that have no diagnosis")
    p.set_defaults(func=cmd_export_otel)

    p = sub.add_parser(
        "run",
        help="run an agent's command line traced (mini, sweagent run, python script.py ...), then list its runs and "
        "diagnoses",
        description="Run COMMAND with tracing registered in its Python process, without changing its code "
        "(mini-swe-agent and SWE-agent agents and OpenHands SDK conversations are traced as they are built, "
        "LangChain/LangGraph runs through a process-wide registration). The command keeps its terminal, "
        "output and exit code; afterwards the runs it traced are listed on stderr, failed ones with their diagnosis. "
        "Its interpreter must be able to import codetracer (install it in the agent's environment); if it cannot, "
        "the command runs untraced and says so once.",
    )
    p.add_argument("--verify", metavar="CMD", help="a shell command that judges each run when its agent stops "
                   "(exit code 0: solved, else failed), run in the current directory (an OpenHands local "
                   "conversation's workspace)")
    p.add_argument("--localizer", help="localizer for failed runs without a diagnosis (default: the first registered)")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing after the command")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="-- COMMAND ...", help="the command to run")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser(
        "recover",
        help="store runs left in orphaned journals by killed processes",
        description="Replay journals whose process is gone, store their runs (marked incomplete) and remove them.",
    )
    p.set_defaults(func=cmd_recover)
    for command in sub.choices.values():  # `codetracer ls --store URL` as well as `codetracer --store URL ls`
        command.add_argument("--store", metavar="URL|PATH", default=argparse.SUPPRESS, help=STORE_HELP)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    before = os.environ.get("CODETRACER_STORE")
    if args.store:  # through the environment: recovery, the tracer and `codetracer run`'s agent all read it there
        os.environ["CODETRACER_STORE"] = args.store
    try:
        return _run(args)
    finally:
        if args.store:
            if before is None:
                os.environ.pop("CODETRACER_STORE", None)
            else:
                os.environ["CODETRACER_STORE"] = before


def _run(args: argparse.Namespace) -> int:
    try:
        return int(args.func(args))
    except CodetracerError as exc:
        print(f"codetracer: error: {exc}", file=sys.stderr)
        return 2
    except KeyError as exc:
        print(f"codetracer: error: {exc.args[0] if exc.args else exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("codetracer: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("CODETRACER_DEBUG"):
            raise
        print(
            f"codetracer: internal error: {type(exc).__name__}: {exc} (set CODETRACER_DEBUG=1 for the traceback)",
            file=sys.stderr,
        )
        return 3

