"""What a shell command does to files: the writes, runs of scripts, reverts and deletions it spells out.

Code agents change files through the shell far more often than through editor tools: ``sed -i``, heredocs into
files, ``echo >>``, ``tee``, Python or Perl one-liners, a script written in one step and run in the next, ``patch``
and ``git apply``, ``git checkout -- FILE`` to throw a change away. :func:`parse` reads one command and returns
:class:`ShellOp` items, in the order they run, each saying which file it touches, how, and the text it writes when
the command shows it (a heredoc body, a ``sed`` replacement, a one-liner's code).

This is a reader of what agents type, not a shell: it keeps quotes and heredocs intact, follows ``cd`` for relative
paths, and never guesses a target it cannot see. A script's targets are not known here (the script may live in an
earlier step): a ``run`` op names the script and :mod:`codetracer.core.provenance` links it to the step that wrote
it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_MAYBE_WRITES = re.compile(
    r">|\b(?:sed|gsed|perl|python[\d.]*|pypy3?|ruby|node|bash|sh|zsh|php|patch|git|cp|mv|rm|tee)\b|\./|(?:^|\s)/\S+\.\w"
)
"""Words without one of which a command writes nothing this module can see (most commands: ``cat``, ``grep``)."""
_HEREDOC = re.compile(r"<<(-?)\s*(['\"]?)([A-Za-z_][\w.-]*)\2")
_CONTROL = frozenset({"&&", "||", ";", "|", "&", "(", ")", "{", "}", "!"})
_REDIRECT = re.compile(r"^(\d*|&)(>>?|>\|)(.*)$")
_INTERPRETERS = re.compile(r"^(python[\d.]*|pypy3?|perl|ruby|node|bash|sh|zsh|php)$")
_SCRIPT_SUFFIX = re.compile(r"\.(py|sh|pl|rb|js|mjs|php|bash)$")
_SED_S = re.compile(r"(?:^|[;\n}])\s*(?:\d+(?:,\d+)?|/[^/]*/(?:,/[^/]*/)?)?\s*s(.)")
_SED_TEXT = re.compile(r"(?:^|[;\n])\s*(?:\$|\d+(?:,\d+)?|/[^/]*/)?\s*([aic])(\\?)(.*)", re.S)
_SED_READ = re.compile(r"(?:^|[;\n])\s*(?:\$|\d+|/[^/]*/)?\s*R?r\s+(\S+)")
_NULL_TARGETS = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/tty", "-"})
_GIT_REVERTS = frozenset({"checkout", "restore"})
_WRITE_CALLS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("open(", re.compile(r"open\([^)]*['\"][wa]b?\+?['\"]")),
    (".write_text(", re.compile(r"\.write_text\(")),
    (".write_bytes(", re.compile(r"\.write_bytes\(")),
    ("writeline", re.compile(r"\bwritelines?\(")),
    (">", re.compile(r">>?\s*['\"]")),
)
"""Signs of a file write in inline code, each with a substring it needs: one alternation over a long script body
costs every alternative at every position, a substring test and a pattern starting with a literal do not."""


@dataclass
class ShellOp:
    """One thing a command does to a file.

    ``kind`` is one of:

    * ``write`` -- ``path`` gets ``text`` (``append`` when added at the end); ``how`` says by what (``heredoc``,
      ``redirect``, ``echo``, ``tee``, ``sed``, ``perl``, ``python``, ``patch``, ``copy``, ``move``);
    * ``run`` -- a script file ``path`` is executed (its writes are the script's; see provenance);
    * ``code`` -- inline code (``python -c``, ``python - <<EOF``) whose file writes are in ``text``;
    * ``revert`` -- ``path`` is put back as committed (``git checkout -- f``, ``git restore``); ``path`` ``"*"`` is
      the whole tree (``git stash``, ``git reset --hard``, ``git checkout .``);
    * ``delete`` -- ``path`` is removed.

    ``fragments`` are texts known to be *in* the written file without being whole lines (``sed`` replacements).
    """

    kind: str
    path: str
    how: str = ""
    text: str = ""
    fragments: list[str] = field(default_factory=list)
    append: bool = False
    source: str | None = None


def parse(command: str, cwd: str = "") -> list[ShellOp]:
    """Every file operation ``command`` spells out, in order. Never raises: what cannot be read is skipped."""
    if not command or not _MAYBE_WRITES.search(command):
        return []
    try:
        body, heredocs = _cut_heredocs(command)
        return _Reader(heredocs, cwd).read(body)
    except Exception:  # noqa: BLE001 - a reader of what agents type must never fail the tree
        return []


def _cut_heredocs(command: str) -> tuple[str, list[str]]:
    """The command with each heredoc body removed (its ``<<EOF`` marker replaced by a word ``<<@N``), and the
    bodies in order. A body runs from the line after its marker to the line holding only the delimiter."""
    if "<<" not in command:  # most commands: nothing to cut, and no line to look at
        return command, []
    bodies: list[str] = []
    out: list[str] = []
    lines = command.split("\n")
    i = 0
    while i < len(lines):
        if "<<" not in lines[i]:
            out.append(lines[i])
            i += 1
            continue
        pending: list[tuple[str, bool]] = []

        def mark(m: re.Match[str], pending: list[tuple[str, bool]] = pending) -> str:
            pending.append((m.group(3), m.group(1) == "-"))
            return f" <<@{len(bodies) + len(pending) - 1} "

        out.append(_HEREDOC.sub(mark, lines[i]))
        i += 1
        for delimiter, strip_tabs in pending:
            collected: list[str] = []
            while i < len(lines):
                line = lines[i]
                i += 1
                if (line.lstrip("\t") if strip_tabs else line).strip() == delimiter:
                    break
                collected.append(line)
            bodies.append("\n".join(collected))
    return "\n".join(out), bodies


class _Reader:
    def __init__(self, heredocs: list[str], cwd: str) -> None:
        self.heredocs = heredocs
        self.cwd = cwd
        self.ops: list[ShellOp] = []
        self.stdin_file: str | None = None
        """The file a command reads its input from (``< file``), while that command is read."""

    def read(self, body: str) -> list[ShellOp]:
        for words in _simple_commands(body):
            self._command(words)
        return self.ops

    # -- one simple command ---------------------------------------------------------------------------------------

    def _command(self, words: list[str]) -> None:
        args: list[str] = []
        stdin: str | None = None
        self.stdin_file = None
        outputs: list[tuple[str, bool]] = []
        i = 0
        while i < len(words):
            word = words[i]
            if "<" not in word and ">" not in word:  # most words: neither a redirection nor a heredoc
                args.append(word)
            elif word.startswith("<<@"):
                stdin = self._heredoc(word)
            elif word in ("<", "0<") and i + 1 < len(words):
                self.stdin_file = words[i + 1]
                i += 1
            elif word.startswith("<") and not word.startswith("<<") and len(word) > 1:
                self.stdin_file = word[1:]
            else:
                m = _REDIRECT.match(word)
                if m and m.group(1) in ("", "1", "&"):
                    target = m.group(3) or (words[i + 1] if i + 1 < len(words) else "")
                    if not m.group(3):
                        i += 1
                    if target and not target.startswith("&"):
                        outputs.append((target, m.group(2) == ">>"))
                elif m:  # 2> file and the like: diagnostics, not the program's output
                    if not m.group(3):
                        i += 1
                else:
                    args.append(word)
            i += 1
        while args and "=" in args[0] and not args[0].startswith("="):  # FOO=1 cmd
            args.pop(0)
        if args and args[0] in ("sudo", "env", "time", "nohup", "command", "exec"):
            args.pop(0)
        name = args[0].rsplit("/", 1)[-1] if args else ""
        text, how = self._produced(name, args, stdin)
        for target, append in outputs:
            if target not in _NULL_TARGETS:
                self._write(target, how, text, append=append)
        if not args:
            return
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler(self, args, stdin)
        elif _INTERPRETERS.match(name):
            self._interpreter(name, args, stdin)
        elif args[0].startswith("./") or (args[0].startswith("/") and _SCRIPT_SUFFIX.search(args[0])):
            self._op("run", args[0], how="exec")

    def _heredoc(self, word: str) -> str | None:
        try:
            return self.heredocs[int(word[3:])]
        except (ValueError, IndexError):
            return None

    def _produced(self, name: str, args: list[str], stdin: str | None) -> tuple[str, str]:
        """What a command prints, when its words show it (cat of a heredoc, echo, printf)."""
        if name == "cat" and stdin is not None:
            return stdin, "heredoc"
        if name == "echo":
            words = [a for a in args[1:] if not re.fullmatch(r"-[neE]+", a)]
            return " ".join(words), "echo"
        if name == "printf" and len(args) > 1:
            return args[1].replace("\\n", "\n").replace("\\t", "\t"), "echo"
        return "", "redirect"

    def _path(self, path: str) -> str:
        path = path.strip().strip("'\"")
        if path.startswith("./"):
            path = path[2:]
        if self.cwd and not path.startswith("/") and not path.startswith("~"):
            return f"{self.cwd.rstrip('/')}/{path}"
        return path

    def _op(self, kind: str, path: str, **fields: object) -> None:
        self.ops.append(ShellOp(kind=kind, path=self._path(path) if path != "*" else "*", **fields))  # type: ignore[arg-type]

    def _write(self, path: str, how: str, text: str, *, append: bool = False, fragments: list[str] | None = None,
               source: str | None = None) -> None:
        self._op("write", path, how=how, text=text, append=append, fragments=fragments or [], source=source)

    # -- programs -------------------------------------------------------------------------------------------------

    def _cd(self, args: list[str], stdin: str | None) -> None:
        if len(args) > 1 and not args[1].startswith("-"):
            target = args[1]
            self.cwd = target if target.startswith("/") or not self.cwd else f"{self.cwd.rstrip('/')}/{target}"

    def _sed(self, args: list[str], stdin: str | None) -> None:
        in_place = False
        scripts: list[str] = []
        files: list[str] = []
        i = 1
        while i < len(args):
            a = args[i]
            if a.startswith("-i") or a == "--in-place" or (a.startswith("-") and not a.startswith("--")
                                                            and "i" in a[1:] and "e" not in a[1:]):
                in_place = True
                if a.startswith("-i") and len(a) > 2:
                    pass  # -i.bak: a backup suffix
            elif a in ("-e", "--expression") and i + 1 < len(args):
                scripts.append(args[i + 1])
                i += 1
            elif a.startswith("-") and len(a) > 1:
                if "i" in a[1:]:
                    in_place = True
            elif not scripts:
                scripts.append(a)
            else:
                files.append(a)
            i += 1
        if not in_place or not files:
            return
        script = "\n".join(scripts)
        fragments, text = _sed_writes(script)
        read_files = _SED_READ.findall(script)
        for path in files:
            if fragments or text or not read_files:
                self._write(path, "sed", text, fragments=fragments)
            for read in read_files:  # sed '12r part.txt': the text of a file written earlier
                self._write(path, "sed", "", source=self._path(read))

    def _perl(self, args: list[str], stdin: str | None) -> bool:
        """``perl -pi -e 's/a/b/' files``: an in-place substitution like sed's."""
        flags = "".join(a[1:] for a in args[1:] if a.startswith("-") and not a.startswith("--"))
        if "i" not in flags:
            return False
        code: list[str] = []
        files: list[str] = []
        i = 1
        while i < len(args):
            a = args[i]
            if a.startswith("-") and not a.startswith("--") and a.endswith("e") and i + 1 < len(args):
                code.append(args[i + 1])
                i += 1
            elif not a.startswith("-"):
                files.append(a)
            i += 1
        fragments, text = _sed_writes("\n".join(code))
        for path in files:
            self._write(path, "perl", text, fragments=fragments)
        return True

    def _interpreter(self, name: str, args: list[str], stdin: str | None) -> None:
        if name == "perl" and self._perl(args, stdin):
            return
        i = 1
        while i < len(args):
            a = args[i]
            if a in ("-c", "-e", "--eval") and i + 1 < len(args):
                self._op("code", "", how=name, text=args[i + 1])
                return
            if a == "-m":
                return  # python -m pytest and the like run a module, not a file of the agent's
            if a == "-" or (a.startswith("-") is False):
                break
            i += 1
        if i >= len(args) or args[i] == "-":
            if stdin is not None:
                self._op("code", "", how=name, text=stdin)
            return
        self._op("run", args[i], how=name)

    def _tee(self, args: list[str], stdin: str | None) -> None:
        append = any(a in ("-a", "--append") for a in args[1:])
        for path in (a for a in args[1:] if not a.startswith("-")):
            if path not in _NULL_TARGETS:
                self._write(path, "tee", stdin or "", append=append)

    def _patch(self, args: list[str], stdin: str | None) -> None:
        """``patch [-pN] [FILE [PATCHFILE]] [-i PATCHFILE] [< PATCHFILE]``, the diff in a heredoc or a file."""
        for i, a in enumerate(args):
            if a in ("-i", "--input") and i + 1 < len(args):
                self._op("run", args[i + 1], how="patch")
                return
        positional = [a for a in args[1:] if not a.startswith("-")]
        if len(positional) >= 2:
            self._op("run", positional[1], how="patch")
        elif self.stdin_file is not None:
            self._op("run", self.stdin_file, how="patch")
        elif stdin:
            self._patch_text(stdin)

    def _patch_text(self, diff: str) -> None:
        from codetracer.core.diff import parse_diff

        for item in parse_diff(diff):
            self._write(item.path, "patch", "\n".join(item.added))

    def _git(self, args: list[str], stdin: str | None) -> None:
        words = [a for a in args[1:]]
        while words and words[0] in ("-C", "-c") and len(words) > 1:
            words = words[2:]
        if not words:
            return
        sub, rest = words[0], words[1:]
        if sub in _GIT_REVERTS:
            if any(r in ("-b", "-B", "--orphan") for r in rest):
                return
            if "--" in rest:
                paths = rest[rest.index("--") + 1 :]
            else:
                paths = [r for r in rest if not r.startswith("-") and ("/" in r or "." in r)]
            for p in paths:
                self._op("revert", "*" if p in (".", "./", ":/") else p, how=f"git {sub}")
        elif sub == "stash" and (not rest or rest[0] in ("push", "save", "-u", "--include-untracked")):
            self._op("revert", "*", how="git stash")
        elif sub == "stash" and rest and rest[0] in ("pop", "apply"):
            self._op("restore", "*", how=f"git stash {rest[0]}")
        elif sub == "reset" and "--hard" in rest:
            self._op("revert", "*", how="git reset --hard")
        elif sub == "apply":
            files = [r for r in rest if not r.startswith("-")]
            if files:
                self._op("run", files[0], how="patch")
            elif stdin is not None:
                self._patch_text(stdin)

    def _copy(self, args: list[str], stdin: str | None) -> None:
        paths = [a for a in args[1:] if not a.startswith("-")]
        if len(paths) == 2:
            how = "copy" if args[0].endswith("cp") else "move"
            self._write(paths[1], how, "", source=self._path(paths[0]))
            if how == "move":
                self._op("delete", paths[0], how="move")

    def _rm(self, args: list[str], stdin: str | None) -> None:
        for path in (a for a in args[1:] if not a.startswith("-")):
            self._op("delete", path, how="rm")


_HANDLERS = {
    "cd": _Reader._cd,
    "sed": _Reader._sed,
    "gsed": _Reader._sed,
    "tee": _Reader._tee,
    "patch": _Reader._patch,
    "git": _Reader._git,
    "cp": _Reader._copy,
    "mv": _Reader._copy,
    "rm": _Reader._rm,
}


_TOKEN = re.compile(
    r"""(?P<comment>(?<![^\s;&|()])\#[^\n]*)|(?P<sep>[;&|()\n]+)|(?P<word>(?:[^\s'"\\;&|()]|\\.|'[^']*'|"(?:[^"\\]|\\.)*")+)""",
    re.S,
)
"""One shell token: a comment (``#`` at the start of a word), a run of control operators or newlines, or a word
(quoted parts and backslash escapes kept inside it). An unbalanced quote matches nothing and is skipped."""
_QUOTED = re.compile(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|\\(.)""", re.S)
_DOUBLE_ESCAPES = re.compile(r"""\\([\\"$`\n])""")


def _unquote(word: str) -> str:
    """A word as the shell passes it on: quotes removed, escapes undone, backslash-newlines dropped."""
    if "'" not in word and '"' not in word and "\\" not in word:
        return word

    def part(m: re.Match[str]) -> str:
        if m.group(1) is not None:
            return m.group(1)
        if m.group(2) is not None:
            return _DOUBLE_ESCAPES.sub(lambda e: "" if e.group(1) == "\n" else e.group(1), m.group(2))
        return "" if m.group(3) == "\n" else m.group(3)

    return _QUOTED.sub(part, word)


def _simple_commands(body: str) -> list[list[str]]:
    """The words of each simple command, split at control operators and newlines, quotes kept together."""
    out: list[list[str]] = []
    words: list[str] = []
    # one tuple per token with the text of the one group that matched (none of them matches empty): no match
    # object per token
    for _comment, sep, word in _TOKEN.findall(body):
        if word:
            words.append(_unquote(word))
        elif sep and words:
            out.append(words)
            words = []
    if words:
        out.append(words)
    return out


def _sed_writes(script: str) -> tuple[list[str], str]:
    """The replacement fragments of a sed script's ``s`` commands, and the text of its ``a``/``i``/``c`` lines."""
    fragments: list[str] = []
    texts: list[str] = []
    for m in _SED_S.finditer(script):
        delim = m.group(1)
        if delim.isalnum() or delim in " \\\n":
            continue
        parts = _split_unescaped(script[m.end() :], delim, 2)
        if len(parts) < 2:
            continue
        replacement = parts[1]
        replacement = re.sub(r"\\[0-9&]|(?<!\\)&", "\0", replacement)
        replacement = replacement.replace("\\n", "\n").replace("\\t", "\t")
        replacement = re.sub(r"\\(.)", r"\1", replacement)
        for piece in replacement.split("\0"):
            for line in piece.split("\n"):
                if line.strip():
                    fragments.append(line.strip())
    m2 = _SED_TEXT.search(script) if not fragments else None
    if m2 is not None:  # 'a\  text' keeps the indentation after the backslash; 'a text' drops leading blanks
        text = m2.group(3).removeprefix("\n") if m2.group(2) else m2.group(3).lstrip()
        text = text.replace("\\n", "\n").replace("\\t", "\t")
        text = re.sub(r"\\(.)", r"\1", text)
        texts.append(text)
    return fragments, "\n".join(texts)


def _split_unescaped(text: str, delim: str, count: int) -> list[str]:
    """``text`` split at the first ``count`` unescaped ``delim``; the pieces before them."""
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append("\\" + ch if ch != delim else ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == delim:
            parts.append("".join(current))
            current = []
            if len(parts) == count:
                return parts
        else:
            current.append(ch)
    return parts


def writes_files(code: str) -> bool:
    """True when inline code or a script body contains a file write (``open(.., 'w')``, ``write_text`` ...)."""
    return any(literal in code and pattern.search(code) for literal, pattern in _WRITE_CALLS)
