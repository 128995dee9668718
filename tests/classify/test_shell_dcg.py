"""The shell classifier against every labelled command of destructive_command_guard (dcg).

Each case is identified by `file:line` in the corpus. The policy model is the gate's for local
shell commands: allow when the risk is read, or a write whose every write effect targets nothing
in particular or something in the command's own context; hold otherwise. dcg's labels are its
own policy, not truth: every case where airlock differs is listed, with the reason, in
data/shell_dcg_disagreements.toml, and the list must stay exact (no unlisted disagreement, no
listed case that agrees again).

The SQL and HTTP classifiers are replaced by stand-ins with plain semantics (GET/HEAD/OPTIONS
read, DELETE destructive, other methods write; SQL unknown — dcg has none), so this measures
the shell classifier alone while those classifiers evolve.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from airlock.classify.shell import classify_shell
from airlock.classify.shell.files import MemoryReader
from airlock.model import Assessment, Effect, HttpRequest, Risk, Target, Verb
from tests.conftest import CORPORA

DATA = Path(__file__).parent / "data"
DISAGREEMENTS = DATA / "shell_dcg_disagreements.toml"
DENY_HELD_AT_LEAST = 0.98
# Issue 9's bar is 8 %. 2.45 % before scripts were judged by their content; the corpus has no
# files, so its commands that run a project's script, Makefile or package.json are held (each
# listed as runs-unread-code).
ALLOW_HELD_AT_MOST = 0.05


@dataclass(frozen=True)
class Case:
    id: str  # path inside the dcg folder and line number
    command: str
    deny: bool  # dcg's label: deny/block (True) or allow (False)


# --------------------------------------------------------------------------------------------
# Reading the corpus


def _toml_cases(root: Path) -> Iterator[Case]:
    for path in sorted((root / "corpus").rglob("*.toml")):
        text = path.read_text(encoding="utf-8")
        lines = [i + 1 for i, line in enumerate(text.splitlines()) if line.strip() == "[[case]]"]
        cases = tomllib.loads(text).get("case", [])
        assert len(lines) == len(cases), f"{path}: cannot place every [[case]] on a line"
        for line, case in zip(lines, cases, strict=True):
            if "command" not in case:
                continue  # hook-protocol cases (raw JSON input), not commands
            label = case.get("expected", case.get("expected_decision"))
            assert label in ("allow", "deny"), f"{path}:{line}: unexpected label {label!r}"
            yield Case(f"{path.relative_to(root)}:{line}", case["command"], label == "deny")


_YAML_PACK = re.compile(r"^([A-Za-z0-9_.-]+):\s*$")
_YAML_COMMAND = re.compile(r"^  - command: (.*)$")
_YAML_OTHER = re.compile(r"^    (reason|rationale): .*$")


def _yaml_scalar(raw: str, where: str) -> str:
    """The two quoting styles the fixtures use. Double-quoted: \\" and \\\\ escapes (some lines
    embed JSON with bare quotes, which a real YAML parser rejects; they are read leniently).
    Single-quoted: '' is a quote."""
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return re.sub(r'\\(["\\])', r"\1", raw[1:-1])
    raise AssertionError(f"{where}: unsupported YAML scalar {raw!r}")


def _yaml_cases(root: Path, name: str, deny: bool | None) -> Iterator[Case]:
    """A tiny reader for dcg's fixture files, strict about their shape (fails on anything
    else) because PyYAML is not a dependency and the files are not valid YAML anyway."""
    path = root / "fixtures" / name
    section = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"fixtures/{name}:{number}"
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if match := _YAML_PACK.match(line):
            section = match.group(1)
            continue
        if match := _YAML_COMMAND.match(line):
            assert section is not None, f"{where}: a command outside any section"
            label = deny if deny is not None else section == "false_negatives"
            yield Case(where, _yaml_scalar(match.group(1), where), label)
            continue
        assert _YAML_OTHER.match(line), f"{where}: unexpected line {line!r}"


def _unescape(text: str) -> str:
    """The e2e files write newlines as \\n (and a backslash as \\\\)."""
    return re.sub(r"\\([nt\\])", lambda m: {"n": "\n", "t": "\t", "\\": "\\"}[m.group(1)], text)


def _e2e_cases(root: Path) -> Iterator[Case]:
    folder = root / "e2e" / "fixtures" / "commands"
    for name, deny in (("safe.txt", False), ("dangerous.txt", True)):
        for number, line in enumerate((folder / name).read_text().splitlines(), start=1):
            if line.strip() and not line.lstrip().startswith("#"):
                yield Case(f"e2e/fixtures/commands/{name}:{number}", line, deny)
    for name in ("edge_cases.txt", "heredocs.txt"):
        current: list[str] | None = None
        start = 0
        label = False
        for number, line in enumerate([*(folder / name).read_text().splitlines(), ""],
                                      start=1):
            prefix = re.match(r"^(ALLOW|BLOCK|WARN):", line)
            if prefix or not line.strip() or line.lstrip().startswith("#"):
                if current is not None:
                    yield Case(f"e2e/fixtures/commands/{name}:{start}",
                               _unescape("\n".join(current)), label)
                    current = None
                if prefix:
                    assert prefix.group(1) != "WARN", f"{name}:{number}: WARN has no verdict"
                    current = [line[prefix.end() :]]
                    start = number
                    label = prefix.group(1) == "BLOCK"
            elif current is not None:
                current.append(line)  # a heredoc written on several lines


def dcg_cases(root: Path) -> list[Case]:
    dcg = root / "dcg"
    cases = [*_toml_cases(dcg), *_yaml_cases(dcg, "destructive_commands.yaml", True),
             *_yaml_cases(dcg, "safe_commands.yaml", False),
             *_yaml_cases(dcg, "edge_cases.yaml", None), *_e2e_cases(dcg)]
    assert len({c.id for c in cases}) == len(cases), "case ids must be unique"
    return cases


# --------------------------------------------------------------------------------------------
# Policy model and stand-ins


def held(assessment: Assessment) -> bool:
    """The gate's verdict for a local shell command, as specified for this measurement."""
    if assessment.risk is Risk.READ:
        return False
    if assessment.risk is Risk.WRITE:
        return any(e.target is not None and not e.target.contextual
                   for e in assessment.effects if e.risk is Risk.WRITE)
    return True


def http_stand_in(request: HttpRequest) -> Assessment:
    method = request.method.upper()
    target = Target("url", request.url)
    if method in ("GET", "HEAD", "OPTIONS"):
        effect = Effect(Verb.READ, Risk.READ, f"{method} reads", target)
    elif method == "DELETE":
        effect = Effect(Verb.DELETE, Risk.DESTRUCTIVE, "DELETE deletes", target)
    else:
        effect = Effect(Verb.WRITE, Risk.WRITE, f"{method} writes", target)
    return Assessment.of([effect], classifier="http-stand-in")


def sql_stand_in(text: str, dialect: str = "postgres") -> Assessment:
    return Assessment.unknown("SQL stand-in: not classified", classifier="sql-stand-in")


@pytest.fixture
def stand_ins(monkeypatch: pytest.MonkeyPatch) -> None:
    import airlock.classify.http
    import airlock.classify.sql

    monkeypatch.setattr(airlock.classify.http, "classify_http", http_stand_in)
    monkeypatch.setattr(airlock.classify.sql, "classify_sql", sql_stand_in)


def load_disagreements() -> dict[str, dict[str, str]]:
    data = tomllib.loads(DISAGREEMENTS.read_text(encoding="utf-8"))
    entries = data.get("disagreement", [])
    by_id: dict[str, dict[str, str]] = {}
    for entry in entries:
        assert set(entry) == {"case", "command", "dcg", "category", "reason"}, entry
        assert entry["dcg"] in ("allow", "deny"), entry
        assert entry["category"] in data["categories"], entry
        assert entry["case"] not in by_id, f"listed twice: {entry['case']}"
        by_id[entry["case"]] = entry
    return by_id


# The commands run in an empty project folder: the corpus has no files, so a command that runs
# a script of the project (`python script.py`, `make all`) finds none and is unknown.
CWD = "/home/user/project"


def judge(command: str) -> Assessment:
    return classify_shell(command, cwd=CWD, reader=MemoryReader())


def measure(cases: list[Case]) -> dict[str, bool]:
    """Case id -> held."""
    return {case.id: held(judge(case.command)) for case in cases}


# --------------------------------------------------------------------------------------------
# Tests

# Cases are read at collection so each gets its own id (`file:line`); when the corpus is
# missing, one placeholder case lets the `corpora` fixture skip (or fail, under CI).
_CASES = dcg_cases(CORPORA) if (CORPORA / "dcg").is_dir() else []
_LISTED = load_disagreements()


@pytest.mark.usefixtures("stand_ins")
@pytest.mark.parametrize("case", [pytest.param(c, id=c.id) for c in _CASES]
                         or [pytest.param(None, id="corpus-missing")])
def test_dcg_case(corpora: Path, case: Case) -> None:
    """Agrees with dcg, or disagrees on purpose and is listed (and then must still disagree)."""
    assert case is not None
    verdict = held(judge(case.command))
    label = "deny" if case.deny else "allow"
    if case.id in _LISTED:
        assert verdict != case.deny, f"listed as a disagreement but now agrees with dcg ({label})"
    else:
        assert verdict == case.deny, (
            f"dcg says {label}, airlock {'holds' if verdict else 'allows'}: "
            f"{judge(case.command).effects}")


@pytest.mark.usefixtures("stand_ins")
def test_dcg_rates(corpora: Path) -> None:
    cases = dcg_cases(corpora)
    verdicts = measure(cases)
    deny = [c for c in cases if c.deny]
    allow = [c for c in cases if not c.deny]
    deny_held = sum(verdicts[c.id] for c in deny) / len(deny)
    allow_held = sum(verdicts[c.id] for c in allow) / len(allow)
    assert len(deny) > 400 and len(allow) > 500, "the whole corpus was read"
    assert deny_held >= DENY_HELD_AT_LEAST, f"deny held {deny_held:.1%} of {len(deny)}"
    assert allow_held <= ALLOW_HELD_AT_MOST, f"allow held {allow_held:.1%} of {len(allow)}"


def test_listed_disagreements_are_corpus_cases(corpora: Path) -> None:
    by_id = {c.id: c for c in dcg_cases(corpora)}
    missing = [i for i in _LISTED if i not in by_id]
    stale = [i for i, entry in _LISTED.items()
             if i in by_id and (entry["command"] != by_id[i].command
                                or entry["dcg"] != ("deny" if by_id[i].deny else "allow"))]
    assert not missing, f"listed but not in the corpus: {missing}"
    assert not stale, f"listed with a command or label that differs from the corpus: {stale}"
