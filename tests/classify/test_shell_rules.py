"""Rule packs load and prove themselves; option parsing and word evaluation behave like bash."""

from __future__ import annotations

from importlib import resources

import pytest

from airlock.classify.shell.argv import OptionSpec, parse_args
from airlock.classify.shell.rules import RulePackError, load, registry
from airlock.classify.shell.syntax import parse
from airlock.classify.shell.words import Word, command_words, decode_ansi_c
from airlock.model import Risk

# --------------------------------------------------------------------------------------------
# Packs


def test_every_shipped_pack_loads_and_passes_its_examples() -> None:
    packs = registry()  # raises RulePackError if any example fails
    shipped = sorted(e.name for e in (resources.files("airlock") / "data" / "rules").iterdir()
                     if e.name.endswith(".toml"))
    assert sorted(packs.packs) == shipped
    for name in ("rm", "git", "psql", "kubectl", "terraform", "aws", "railway", "docker"):
        assert packs.program(name) is not None, name
    rules = {r.id for p in packs.programs.values() for r in p.rules}
    for rule in ("filesystem:rm-root", "git:reset-hard", "containers:volume-rm",
                 "kubernetes:delete-namespace", "iac:plan-destroy", "clouds:aws-catastrophic",
                 "frameworks:rails-db-drop", "databases:redis-flushall"):
        assert rule in rules, rule


def _pack(rules: str, program: str = 'names = ["tool"]') -> dict[str, str]:
    return {"t.toml": f'[pack]\nid = "t"\n\n[[program]]\n{program}\n\n{rules}'}


GOOD_RULE = '''[[rule]]
id = "zap"
program = "tool"
path = ["zap"]
risk = "destructive"
reason = "zaps"
examples_match = ["tool zap"]
examples_no_match = ["tool list"]
'''


def test_a_valid_pack_loads() -> None:
    packs = load(_pack(GOOD_RULE))
    program = packs.program("tool")
    assert program is not None
    assert program.rules[0].outcome.risk is Risk.DESTRUCTIVE


@pytest.mark.parametrize(("rules", "message"), [
    (GOOD_RULE.replace('examples_match = ["tool zap"]', 'examples_match = ["tool zip"]'),
     "should match"),
    (GOOD_RULE.replace('examples_no_match = ["tool list"]', 'examples_no_match = ["tool zap"]'),
     "should not match"),
    (GOOD_RULE.replace('examples_no_match = ["tool list"]\n', ""), "examples_no_match"),
    (GOOD_RULE.replace('risk = "destructive"', 'risk = "ruinous"'), "unknown risk"),
    (GOOD_RULE + 'colour = "red"\n', "unknown keys"),
    (GOOD_RULE.replace('program = "tool"', 'program = "other"'), "not declared"),
    (GOOD_RULE.replace('examples_match = ["tool zap"]', 'examples_match = ["other zap"]'),
     "does not run"),
    (GOOD_RULE + "\n" + GOOD_RULE, "duplicate rule id"),
    (GOOD_RULE.replace('reason = "zaps"',
                       'reason = "zaps"\ntargets = [{ kind = "x", from = "args", '
                       'transform = "nope" }]'), "unknown target transform"),
])
def test_a_pack_that_fails_its_own_checks_refuses_to_load(rules: str, message: str) -> None:
    with pytest.raises(RulePackError, match=message):
        load(_pack(rules))


def test_a_program_belongs_to_one_pack() -> None:
    texts = {**_pack(""), "u.toml": '[pack]\nid = "u"\n\n[[program]]\nnames = ["tool"]\n'}
    with pytest.raises(RulePackError, match="defined in"):
        load(texts)


def test_broken_toml_refuses_to_load() -> None:
    with pytest.raises(RulePackError, match="not valid TOML"):
        load({"x.toml": "[pack"})


# --------------------------------------------------------------------------------------------
# Options


def words(text: str) -> list[Word]:
    parsed = parse(text.encode())
    command = parsed.root.named_children[0]
    return command_words(command, parsed.src)[1:]


GNU = OptionSpec(value_options=frozenset({"-n", "--name", "-o"}))


def test_short_bundles_split_and_values_attach() -> None:
    args = parse_args(words("x -rf -n5 -on out --name=v --flag -- -z pos"), GNU)
    assert [(f.name, f.value.value if f.value else None) for f in args.flags] == [
        ("-r", None), ("-f", None), ("-n", "5"), ("-o", "n"), ("--name", "v"), ("--flag", None)]
    assert [w.value for w in args.positionals] == ["out", "-z", "pos"]
    assert args.dashdash == 1


def test_options_after_positionals_count_unless_posix() -> None:
    assert parse_args(words("x a -f"), GNU).has(frozenset({"-f"}))
    posix = OptionSpec(stop_at_positional=True)
    assert not parse_args(words("x a -f"), posix).has(frozenset({"-f"}))


def test_false_values_switch_a_flag_off() -> None:
    args = parse_args(words("x --force=false --dry-run=0 --yes=true"), GNU)
    assert [f.on for f in args.flags] == [False, False, True]


def test_single_dash_style() -> None:
    spec = OptionSpec(style="single", value_options=frozenset({"-var"}))
    args = parse_args(words("x --destroy -var a=b -auto-approve"), spec)
    assert [f.name for f in args.flags] == ["-destroy", "-var", "-auto-approve"]


def test_words_that_may_be_options_are_opaque() -> None:
    args = parse_args(words('x $F "$G" ./"$H" *.log ${HOME}/x'), GNU)
    assert [w.text for w in args.opaque] == ["$F", '"$G"', "*.log", "${HOME}/x"]
    assert [w.text for w in args.positionals] == ['./"$H"', "*.log"]


# --------------------------------------------------------------------------------------------
# Words


@pytest.mark.parametrize(("text", "values"), [
    ("x 'a b' \"c $d\" e\\ f", ["a b", None, "e f"]),
    ("x \\g\\i\\t 'r''m'", ["git", "rm"]),
    ("x \"a\\\"b\\$c\\d\"", ['a"b$c\\d']),
    ("x $'\\x2drf' $'a\\nb'", ["-rf", "a\nb"]),
    ("x {-rf,/} a{b,c}d", ["-rf", "/", "abd", "acd"]),
    ("x {1..3} {a..c}", ["1", "2", "3", "a", "b", "c"]),
    ("x '{a,b}' {a} ${x}", ["{a,b}", "{a}", None]),
    ("x ~/a *.txt", ["~/a", "*.txt"]),
    ("x $(echo hi there) \"$(echo a b)\"", ["hi", "there", "a b"]),
])
def test_word_values(text: str, values: list[str | None]) -> None:
    assert [w.value for w in words(text)] == values


def test_templates_name_the_variables() -> None:
    word = words('x "$TMPDIR/build" ${DATABASE_URL:-postgres://x}')
    assert word[0].template == "${TMPDIR}/build"
    assert word[0].variables == ("TMPDIR",)
    assert word[1].template == "${DATABASE_URL:-postgres://x}"


def test_ansi_c_refuses_what_it_cannot_model() -> None:
    assert decode_ansi_c("a\\0b") is None  # a NUL ends the string early in bash
    assert decode_ansi_c("\\cA") is None
    assert decode_ansi_c("\\u0041\\101") == "AA"


def test_too_many_brace_words_make_it_opaque() -> None:
    (word,) = words("x {1..999}")
    assert word.value is None and word.may_be_flag
