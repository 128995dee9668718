"""What a command reads and writes, named for the guards.

The rule packs judge how bad a command is; they do not need to know that `cat` reads its
operands. The guards (`guards.py`) do: reading `.env` through `cat`, `base64`, `cp`, `tar`,
`curl -d @.env`, `python -c 'open(".env")'` or `< .env` is reading a credential, and touching
`.airlock/` or `airlock.toml` with any program is touching airlock. So every simple command the
analysis reaches (after wrappers are peeled, at every depth) is also read here, and what it
touches is recorded as `Touch`es on the assessment:

- programs known to read their operands (cat and friends, grep, awk, sed, jq, cp, mv, tar, zip,
  rsync, scp, curl/wget uploads, dd, interpreters' inline code): each file operand, with
  whether it is read recursively; patterns and programs (`grep PATTERN`, `awk PROGRAM`) are not
  files;
- programs that only look at names (`echo`, `ls`, `stat`, `test`, …): nothing;
- every other program: every word, option value and `name=value` / `a:b` part that could be a
  path — `docker run --env-file .env`, `sqlite3 .airlock/state.db`, `socat
  UNIX-LISTEN:.airlock/hooks.sock` — judged by name only (no content is scanned: it may not be
  a file at all);
- variables the command expands (`$AWS_SECRET_ACCESS_KEY`, in any word, heredoc or
  assignment), environment dumps (`env`, `printenv`, `export -p`, `set`, `declare -p`, `ps e`),
  and the environment read by inline code (`os.environ`, `process.env`, `ENV`, `%ENV`).

A path only partly known (`cat ~/.ssh/$KEY`) is recorded by its literal prefix as `computed`;
the guards decide whether that prefix is near something protected. Words and inline code are
turned into touches in `operands.py`; airlock's own commands are recognised in `airlock_cli.py`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from tree_sitter import Node

from airlock.classify.shell.argv import OptionSpec, parse_args
from airlock.classify.shell.operands import (
    INLINE_CODE,
    PYTHONS,
    code_strings,
    generic,
    interpreter_touches,
    path_touch,
    python_touches,
    without_code,
)
from airlock.classify.shell.words import Word
from airlock.model import Touch, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Stdin

# --------------------------------------------------------------------------------------------
# Programs by what they do with their operands

# Only names, metadata or text of their own: their operands are never opened for content.
NAME_ONLY = frozenset({
    "echo", "printf", "test", "[", "[[", "ls", "dir", "vdir", "stat", "gstat", "file", "basename",
    "dirname", "realpath", "readlink", "pathchk", "namei", "which", "type", "whereis", "whatis",
    "du", "df", "tree", "exa", "eza", "lsd", "lsattr", "getfacl", "true", "false", ":", "cd",
    "pushd", "popd", "sleep", "date", "mkdir", "gmkdir", "rmdir", "touch", "gtouch", "mktemp",
    "seq", "yes", "expr", "let", "wait", "exit", "return", "kill", "pkill", "man", "help",
    "apropos", "tldr", "info", "alias", "unalias", "hash", "jobs", "fg", "bg", "umask", "ulimit",
    "shift", "break", "continue", "trap", "getopts", "read", "mapfile", "readarray", "history",
    "pwd", "whoami", "id", "hostname", "uname", "arch", "nproc", "uptime", "tput", "clear",
    "locate", "mlocate", "plocate", "fd", "fdfind", "unset", "local", "readonly",
})

# Read their file operands (content). Options taking a value, so the value is not an operand.
_VALUES: dict[str, str] = {
    "head": "-n -c --lines --bytes", "tail": "-n -c --lines --bytes -s --sleep-interval --pid",
    "cut": "-d -f -b -c --delimiter --fields --bytes --characters --output-delimiter",
    "fold": "-w --width", "fmt": "-w -p -g --width --prefix --goal", "nl": "-b -d -f -h -i -l -n "
    "-s -v -w", "od": "-A -j -N -t -w --address-radix --skip-bytes --read-bytes --format "
    "--width", "xxd": "-c -g -l -o -s -n --cols --len --seek", "hexdump": "-e -f -n -s",
    "strings": "-n -t -e --bytes --radix --encoding", "base64": "-w --wrap", "base32": "-w --wrap",
    "basenc": "-w --wrap", "sort": "-k -t -S -T -o --key --field-separator --buffer-size "
    "--temporary-directory --output --parallel", "uniq": "-f -s -w --skip-fields --skip-chars "
    "--check-chars", "paste": "-d --delimiters", "join": "-1 -2 -t -e -o -j", "column": "-s -c "
    "-t -o -N -R -l", "iconv": "-f -t --from-code --to-code -o --output", "split": "-l -b -n -a "
    "-C --lines --bytes --number --suffix-length", "shuf": "-n -o --head-count --output "
    "--random-source", "tac": "-s --separator", "pr": "-h -l -w -o", "diff": "-U -C --label "
    "--unified --context -x --exclude -X --exclude-from --to-file --from-file",
    "wc": "--files0-from", "cmp": "-i -n --ignore-initial --bytes", "less": "-b -h -j -k -o -O "
    "-p -P -t -T -x -y -z -#", "bat": "-l --language -H --highlight-line -r --line-range "
    "--style --theme -m --map-syntax --tabs --wrap --terminal-width", "vim": "-c -S --cmd -u -U "
    "-i -T -w -W -s", "gpg": "-o --output -r --recipient -u --local-user --homedir",
}
_READERS = frozenset({
    "cat", "gcat", "tac", "nl", "head", "ghead", "tail", "gtail", "less", "more", "most", "pg",
    "bat", "batcat", "view", "base64", "gbase64", "base32", "basenc", "xxd", "od", "hexdump", "hd",
    "strings", "cut", "fold", "fmt", "rev", "paste", "join", "expand", "unexpand", "column",
    "iconv", "zcat", "gzcat", "bzcat", "xzcat", "zstdcat", "lz4cat", "zless", "zmore", "zdiff",
    "diff", "diff3", "sdiff", "cmp", "comm", "colordiff", "difft", "vimdiff", "md5sum",
    "sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum", "cksum", "sum",
    "shasum", "md5", "wc", "sort", "gsort", "uniq", "shuf", "split", "csplit", "pr", "pv",
    "look", "xmllint", "csvlook", "csvstat", "csvcut", "xsv", "mlr", "jless", "fx", "tr",
    "dos2unix", "unix2dos", "vim", "vi", "nvim", "nano", "emacs", "pico", "ed", "ex", "code",
    "subl", "gpg", "gpg2", "age", "sops", "openssl", "ssh-keygen", "gsutil", "lp", "lpr",
    "mail", "sendmail", "mutt", "mpack", "uuencode", "clip", "xclip", "xsel", "pbcopy", "qrencode",
})
# Editors show a file and write it back.
EDITORS = frozenset({"vim", "vi", "nvim", "nano", "emacs", "pico", "ed", "ex", "code", "subl",
                     "micro", "helix", "hx", "kak", "joe", "mcedit"})
# First positional is a pattern or a program, not a file, unless one of these options gives it.
_PATTERN_FIRST: dict[str, tuple[str, str, str]] = {
    # name: (options that take a value, options that give the pattern/program, file options)
    "grep": ("-e -f -m -A -B -C -d -D --regexp --file --max-count --after-context "
             "--before-context --context --label --exclude --include --exclude-dir "
             "--exclude-from --binary-files --devices --directories --color --colour",
             "-e -f --regexp --file", "-f --file --exclude-from"),
    "rg": ("-e -f -g -t -T -m -A -B -C -M -j -E -r -d --regexp --file --glob --iglob --type "
           "--type-not --max-count --after-context --before-context --context --max-columns "
           "--max-depth --threads --encoding --replace --ignore-file --sort --sortr --pre "
           "--pre-glob --color --colors --type-add --max-filesize --engine "
           "--path-separator --field-match-separator --field-context-separator "
           "--context-separator", "-e -f --regexp --file", "-f --file --ignore-file"),
    "ag": ("-A -B -C -G -g -m --after --before --context --file-search-regex --ignore "
           "--max-count --depth --pager", "", ""),
    "ack": ("-A -B -C -m --after-context --before-context --context --max-count --type "
            "--ignore-dir --noignore-dir --output", "", ""),
    "awk": ("-F -v -f -e -i -l -o -W --field-separator --assign --file --source --include "
            "--load", "-f --file -e --source", "-f --file -i --include"),
    "sed": ("-e -f -l --expression --file --line-length", "-e -f --expression --file",
            "-f --file"),
    "jq": ("-f --from-file --arg --argjson --slurpfile --rawfile --args --jsonargs --indent "
           "-L", "-f --from-file", "-f --from-file"),
    "yq": ("-o -p -I --output-format --input-format --indent --from-file", "--from-file",
           "--from-file"),
}
_PATTERN_ALIASES = {"egrep": "grep", "fgrep": "grep", "zgrep": "grep", "zegrep": "grep",
                    "zfgrep": "grep", "ggrep": "grep", "rga": "rg", "ripgrep": "rg",
                    "gawk": "awk", "mawk": "awk", "nawk": "awk", "gsed": "sed", "gojq": "jq"}
_RECURSIVE_FLAGS = {"grep": "-r -R --recursive -d --directories", "diff": "-r --recursive",
                    "zgrep": "-r -R --recursive"}
_ALWAYS_RECURSIVE = frozenset({"rg", "ag", "ack"})
# Skip hidden files and folders unless told otherwise (rg, ag).
_HIDDEN_FLAGS = {"rg": "--hidden -. -uu -uuu -u --no-ignore-dot", "ag": "--hidden -u -a "
                 "--unrestricted --all-types"}

# Shells: their -c text is parsed again as shell code (analysis.py); their script is read.
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "mksh", "ash", "yash", "posh", "rbash",
                     "ksh93", "oksh", "loksh", "bosh", "fish", "csh", "tcsh", "pwsh", "nu"})
_CODE_RUNNERS = frozenset({"eval", "exec", "trap", "alias", "watch", "time", "command",
                           "builtin", "coproc", "nohup"})

# Wrappers are judged by what they run (wrappers.py invokes the inner command again).
_WRAPPER_OWN_FILES = frozenset({"flock", "script", "strace", "ltrace"})


def of_command(name: str, words: Sequence[Word], stdin: Stdin | None,
               wrappers: Iterable[str]) -> list[Touch]:
    """What the simple command `words` (program first, name lowercased) reads and writes."""
    rest = list(words[1:])
    if name == "env":
        return _env(rest)
    if name in wrappers and name not in _WRAPPER_OWN_FILES:
        return []
    dump = _dumps(name, rest)
    if dump is not None:
        return dump
    if name in ("cd", "pushd"):
        return _cd(rest)
    if name in NAME_ONLY:
        return []
    base = _PATTERN_ALIASES.get(name, name)
    if base in _PATTERN_FIRST:
        return _pattern_first(base, name, rest, stdin)
    if name in EDITORS:
        return [Touch(t.kind, t.value, Verb.UNKNOWN, f"{name} opens it to edit", t.recursive,
                      t.computed) for t in _readers(name, rest)]
    if name in _READERS:
        return _readers(name, rest)
    if name in ("cp", "gcp", "install", "ginstall", "ln", "gln", "link"):
        return _copy(name, rest, move=False)
    if name in ("mv", "gmv"):
        return _copy(name, rest, move=True)
    if name in ("rsync", "scp", "sftp"):
        return _transfer(name, rest)
    if name in ("tar", "gtar", "bsdtar"):
        return _tar(rest)
    if name in ("zip", "unzip", "7z", "7za", "7zz", "jar"):
        return _zip(name, rest)
    if name in ("gzip", "gunzip", "bzip2", "bunzip2", "xz", "unxz", "zstd", "unzstd", "lz4",
                "brotli", "pigz", "lzma"):
        return _compress(rest)
    if name in ("dd", "gdd"):
        return _dd(rest)
    if name in ("source", "."):
        return [path_touch(w, Verb.READ, f"{name} runs it in this shell") for w in rest[:1]] \
            + generic(name, rest[1:])
    if name in ("curl", "wget", "wget2"):
        return _http_client(name, rest)
    if name in ("sqlite3", "sqlite", "litecli", "duckdb"):
        return generic(name, [piece for w in rest for piece in _sql_words(w)])
    if name in _SHELLS:
        return generic(name, without_code(rest, "c"))
    if name in _CODE_RUNNERS:
        return []  # the analysis parses their text again as shell code
    if PYTHONS.match(name):
        return python_touches(name, rest, stdin)
    if name in INLINE_CODE:
        return interpreter_touches(name, rest, stdin)
    if name == "git":
        touches = generic(name, rest)
        return touches + _git_clean(rest)
    if name == "find" or name == "gfind":
        return _find(rest)
    return generic(name, rest)


def _cd(rest: Sequence[Word]) -> list[Touch]:
    """`cd DIR`: later relative paths may be relative to DIR (the guards judge them against
    both); entering a folder is also reaching it (`cd ~/.ssh && cat work_key`)."""
    operands = [w for w in rest if not (w.value or "").startswith("-")]
    if not operands:
        return []
    word = operands[0]
    touches = [path_touch(word, Verb.READ, "the command changes into it", content=False)]
    if word.value is not None:
        touches.append(Touch("cwd", word.value, Verb.READ, "the command changes into it"))
    return touches


def redirected(word: Word, operator: str) -> list[Touch]:
    """`< file` reads the file; `<>` reads and writes it."""
    if operator == "<":
        return [path_touch(word, Verb.READ, "read as standard input")]
    if operator == "<>":
        return [path_touch(word, Verb.UNKNOWN, "opened for reading and writing")]
    return []


def expansion(node: Node, src: bytes) -> list[Touch]:
    """`$NAME`, `${NAME…}`: the variable it reads. `${!NAME}` reads one named at run time."""
    name_node = next((c for c in node.named_children if c.type == "variable_name"), None)
    if name_node is None:
        return []
    name = src[name_node.start_byte:name_node.end_byte].decode("utf-8", "replace")
    kinds = [c.type for c in node.children]
    if "!" in kinds:
        if "*" in kinds or "@" in kinds:
            return []  # ${!PREFIX*} lists names, not values
        return [Touch("environment", f"${{!{name}}}", Verb.READ,
                      "expands a variable named at run time")]
    if name.isdigit():
        return []
    return [Touch("variable", name, Verb.READ, f"expands ${name}")]


def declaration(node: Node, src: bytes) -> list[Touch]:
    """`export -p`, `declare -x`, `typeset -p NAME`: bash parses these as declarations, not
    commands; they print variables with their values."""
    if not node.children:
        return []
    keyword = node.children[0].type
    words = [Word.literal(src[c.start_byte:c.end_byte].decode("utf-8", "replace"))
             for c in node.named_children if c.type in ("word", "variable_name",
                                                         "variable_assignment")]
    if any(c.type not in ("word", "variable_name", "variable_assignment", "comment")
           for c in node.named_children):
        return []
    return _dumps(keyword, words) or []


# --------------------------------------------------------------------------------------------
# Environment dumps


def _env(rest: Sequence[Word]) -> list[Touch]:
    """`env` with no command prints the environment; with one it is a wrapper (judged by what
    it runs)."""
    options = frozenset({"-u", "-C", "--unset", "--chdir", "-S", "--split-string", "-a", "--argv0"})
    args = parse_args(rest, OptionSpec(value_options=options, stop_at_positional=True))
    if args.opaque:
        return []  # wrappers.py makes that unknown
    chdir = [Touch("cwd", w.value, Verb.READ, "env -C runs the command there")
             for w in args.values(frozenset({"-C", "--chdir"})) if w.value is not None]
    inner = [w for w in args.positionals if not (w.value and "=" in w.value
                                                 and not w.value.startswith("="))]
    if inner or args.has(frozenset({"-S", "--split-string"})):
        return chdir
    return [*chdir, Touch("environment", "env", Verb.READ, "env prints the whole environment")]


_DECLARERS = frozenset({"export", "declare", "typeset", "readonly", "local"})


def _dumps(name: str, rest: Sequence[Word]) -> list[Touch] | None:
    values = [w.value for w in rest]
    if name == "printenv":
        names = [v for v in values if v is not None and not v.startswith("-")]
        if any(v is None for v in values):
            return [Touch("environment", "printenv", Verb.READ, "printenv of names computed at "
                          "run time")]
        if not names:
            return [Touch("environment", "printenv", Verb.READ, "printenv prints the whole "
                          "environment")]
        return [Touch("variable", n, Verb.READ, f"printenv {n}") for n in names]
    if name in _DECLARERS:
        flags = "".join(v[1:] for v in values if v is not None and v.startswith(("-", "+")))
        names = [v.split("=", 1)[0] for v in values if v is not None and
                 not v.startswith(("-", "+"))]
        shows = not names or ("p" in flags and not [v for v in values if v and "=" in v])
        if shows and name != "local":
            if names and "p" in flags:
                return [Touch("variable", n, Verb.READ, f"{name} -p {n}") for n in names]
            if not names and ("f" not in flags or "p" in flags) and "F" not in flags:
                return [Touch("environment", name, Verb.READ, f"{name} prints variables and "
                              "their values")]
        return []
    if name == "set" and not values:
        return [Touch("environment", "set", Verb.READ, "set prints every variable")]
    if name == "ps" and any(v is None or (not v.startswith("-") and v.isalpha() and "e" in v)
                            for v in values):
        # BSD-style `ps e`, `ps auxe`, `ps eww`: each process's environment is printed.
        return [Touch("environment", "ps e", Verb.READ, "ps e prints processes' environments")]
    return None


# --------------------------------------------------------------------------------------------
# Readers


def _operands(rest: Sequence[Word], values: str = "") -> tuple[list[Word], list[Word], set[str]]:
    """(positionals, option values, option names) of a program's arguments."""
    args = parse_args(rest, OptionSpec(value_options=frozenset(values.split())))
    flags = {f.name for f in args.flags if f.on}
    option_values = [f.value for f in args.flags if f.value is not None]
    return [*args.positionals, *args.opaque], option_values, flags


def _readers(name: str, rest: Sequence[Word]) -> list[Touch]:
    positionals, option_values, _ = _operands(rest, _VALUES.get(name, ""))
    touches = [path_touch(w, Verb.READ, f"{name} reads it") for w in positionals]
    if name in ("sort", "shuf", "iconv", "gpg", "gpg2", "openssl", "split", "xxd"):
        # Output options write; everything else given as a value may be read.
        touches += [path_touch(w, Verb.UNKNOWN, f"{name} opens it", content=False)
                    for w in option_values if w.value is None or not w.value.isdigit()]
    return touches


def _pattern_first(base: str, name: str, rest: Sequence[Word], stdin: Stdin | None) -> list[Touch]:
    values, givers, file_options = _PATTERN_FIRST[base]
    args = parse_args(rest, OptionSpec(value_options=frozenset(values.split())))
    flags = {f.name for f in args.flags if f.on}
    given = bool(flags & set(givers.split())) or any(f.name.startswith(("--regexp=", "--file="))
                                                     for f in args.flags)
    operands = [*args.positionals, *args.opaque]
    program_text = None
    if not given and operands:
        program_text = operands[0].value
        operands = operands[1:]
    recursive = base in _ALWAYS_RECURSIVE or (bool(
        flags & set(_RECURSIVE_FLAGS.get(base, "").split())) and not (
        base == "grep" and args.last("-d", "--directories") not in (None, "recurse")))
    hidden = not (base in _HIDDEN_FLAGS and not flags & set(_HIDDEN_FLAGS[base].split()))
    exclude = tuple(w.value for w in args.values(frozenset({"--exclude-dir"}))
                    if w.value is not None)
    touches = [path_touch(w, Verb.READ, f"{name} reads it", recursive=recursive, hidden=hidden)
               for w in operands]
    if recursive and not operands:
        touches.append(Touch("path", ".", Verb.READ, f"{name} searches the working directory",
                             True, False, True, hidden))
    if exclude:
        touches = [Touch(t.kind, t.value, t.verb, t.reason, t.recursive, t.computed, t.content,
                         t.hidden, t.certain, exclude) if t.recursive else t for t in touches]
    touches += [path_touch(w, Verb.READ, f"{name} reads it as a program or pattern file")
                for w in args.values(frozenset(file_options.split()))]
    in_place = (base == "sed" and args.has(frozenset({"-i", "--in-place"}))) or \
        (base == "awk" and any(w.value == "inplace" for w in args.values(
            frozenset({"-i", "--include"})))) or (base == "yq" and args.has(frozenset({"-i"})))
    if in_place:
        touches = [Touch(t.kind, t.value, Verb.UNKNOWN, f"{name} rewrites it in place",
                         t.recursive, t.computed) for t in touches]
    if base == "awk" and program_text:
        touches += code_strings(program_text, "awk")
    return touches


def _copy(name: str, rest: Sequence[Word], *, move: bool) -> list[Touch]:
    """cp/install/mv: the sources are read (moved away, for mv), the destination written."""
    positionals, _option_values, flags = _operands(
        rest, "-t --target-directory -S --suffix --backup --sparse --reflink --preserve -m "
              "--mode -o -g --owner --group")
    target = next((w for w in _flag_values(rest, ("-t", "--target-directory"))), None)
    recursive = move or bool(flags & {"-r", "-R", "--recursive", "-a", "--archive"})
    sources, destination = (positionals, target) if target is not None else \
        (positionals[:-1], positionals[-1] if len(positionals) > 1 else None)
    # A link (ln, cp -l/-s) is a second name for the same file: writing through it writes the
    # original, so linking to airlock's files is changing them, and to a credential reading it.
    links = name in ("ln", "gln", "link") or bool(flags & {"-l", "--link", "-s",
                                                             "--symbolic-link"})
    verb = Verb.UNKNOWN if move or links else Verb.READ
    what = "moves" if move else "links" if links else "copies"
    touches = [path_touch(w, verb, f"{name} {what} it", recursive=recursive,
                          content=not links) for w in sources]
    if destination is not None:
        for written in _written(destination, sources, into=target is not None or len(sources) > 1):
            touches.append(path_touch(written, Verb.WRITE, f"{name} writes it", recursive=recursive,
                                      content=False))
    return touches


def _written(destination: Word, sources: Sequence[Word], *, into: bool) -> list[Word]:
    """What a copy into `destination` creates: the destination itself, or — when it is a
    folder — a name per source inside it."""
    value = destination.value
    if value is None:
        return [destination]
    is_dir = into or value.endswith("/") or os.path.isdir(os.path.expanduser(value))
    if not is_dir:
        return [destination]
    out = []
    for source in sources:
        base = os.path.basename((source.value or "").rstrip("/")) if source.value else ""
        if not base or base in (".", ".."):
            out.append(destination)  # contents copied into it: any name inside
        else:
            out.append(Word.literal(os.path.join(value, base)))
    return out or [destination]


def _flag_values(rest: Sequence[Word], names: Sequence[str]) -> Iterator[Word]:
    for i, word in enumerate(rest):
        value = word.value or ""
        for name in names:
            if value == name and i + 1 < len(rest):
                yield rest[i + 1]
            elif name.startswith("--") and value.startswith(name + "="):
                yield Word.literal(value[len(name) + 1:])
            elif not name.startswith("--") and value.startswith(name) and len(value) > len(name) \
                    and value[1:2] == name[1:2] and len(name) == 2:
                yield Word.literal(value[2:])


def _local(word: Word) -> bool:
    """Not `host:path`, `user@host:path` or `rsync://…`: a path on this machine."""
    value = word.value or word.prefix
    if "://" in value:
        return False
    head, sep, _ = value.partition(":")
    return not (sep and head and "/" not in head)


def _transfer(name: str, rest: Sequence[Word]) -> list[Touch]:
    positionals, _, flags = _operands(
        rest, "-e --rsh --exclude --include --exclude-from --include-from --files-from --filter "
              "-f --rsync-path --backup-dir --suffix --partial-dir --temp-dir -T --compare-dest "
              "--copy-dest --link-dest --chmod --chown --port --password-file --log-file "
              "--out-format -P -p -i -o -F -l -c -J -S -X -B -b -D -R")
    recursive = name == "sftp" or bool(flags & {"-r", "-a", "--recursive", "--archive"}) \
        or (name == "rsync" and bool(flags & {"-r", "-a"}))
    if len(positionals) < 2:
        return [path_touch(w, Verb.READ, f"{name} copies it", recursive=recursive)
                for w in positionals if _local(w)]
    sources, destination = positionals[:-1], positionals[-1]
    touches = [path_touch(w, Verb.READ, f"{name} copies it", recursive=recursive)
               for w in sources if _local(w)]
    if _local(destination):
        touches.append(path_touch(destination, Verb.WRITE, f"{name} writes into it",
                                  recursive=True, content=False, certain=False))
    touches += [path_touch(w, Verb.READ, f"{name} reads it") for w in
                _flag_values(rest, ("--password-file", "--files-from", "--exclude-from",
                                    "--include-from"))]
    return touches


_TAR_VALUES = ("-f --file -C --directory -T --files-from -X --exclude-from --exclude -b "
               "--blocking-factor -H --format -I --use-compress-program --transform "
               "--strip-components --owner --group --mode -N --newer -V --label")


def _tar(rest: Sequence[Word]) -> list[Touch]:
    words = list(rest)
    if words and words[0].value and not words[0].value.startswith("-") and \
            words[0].value.isalpha():
        # Old style: `tar czf out.tgz dir` is `tar -c -z -f out.tgz dir`.
        words[0] = Word.literal("-" + words[0].value)
    args = parse_args(words, OptionSpec(value_options=frozenset(_TAR_VALUES.split())))
    flags = {f.name for f in args.flags if f.on}
    archive = args.values(frozenset({"-f", "--file"}))
    directory = args.values(frozenset({"-C", "--directory"}))
    members = [*args.positionals, *args.opaque]
    touches: list[Touch] = []
    if flags & {"-c", "--create", "-r", "--append", "-u", "--update", "-A", "--catenate"}:
        base = directory[-1].value if directory and directory[-1].value else None
        for member in members:
            word = member if base is None or member.value is None else \
                Word.literal(os.path.join(base, member.value))
            touches.append(path_touch(word, Verb.READ, "tar archives it", recursive=True))
        touches += [path_touch(w, Verb.WRITE, "tar writes the archive", content=False)
                    for w in archive]
    elif flags & {"-x", "--extract", "--get"}:
        touches += [path_touch(w, Verb.READ, "tar reads the archive") for w in archive]
        targets = directory or [Word.literal(".")]
        touches += [path_touch(w, Verb.WRITE, "tar extracts into it", recursive=True, content=False,
                               certain=False) for w in targets]
    else:
        touches += [path_touch(w, Verb.READ, "tar reads the archive") for w in archive]
    touches += [path_touch(w, Verb.READ, "tar reads the list of files")
                for w in args.values(frozenset({"-T", "--files-from", "-X", "--exclude-from"}))]
    return touches


def _zip(name: str, rest: Sequence[Word]) -> list[Touch]:
    positionals, _option_values, flags = _operands(rest, "-d -x -i -P -b -n -t -tt -O")
    if name == "unzip":
        touches = [path_touch(w, Verb.READ, "unzip reads the archive") for w in positionals[:1]]
        folders = list(_flag_values(rest, ("-d",))) or [Word.literal(".")]
        return touches + [path_touch(w, Verb.WRITE, "unzip extracts into it", recursive=True,
                                     content=False, certain=False) for w in folders]
    if name == "zip":
        recursive = bool(flags & {"-r", "-R", "--recurse-paths"})
        touches = [path_touch(w, Verb.WRITE, "zip writes the archive", content=False)
                   for w in positionals[:1]]
        return touches + [path_touch(w, Verb.READ, "zip archives it", recursive=recursive)
                          for w in positionals[1:]]
    return generic(name, rest)  # 7z and jar: every operand may be read or written


def _compress(rest: Sequence[Word]) -> list[Touch]:
    positionals, _, flags = _operands(rest, "-S --suffix -b -T --threads -L")
    verb = Verb.READ if flags & {"-c", "--stdout", "--to-stdout", "-k", "--keep", "-t",
                                 "--test", "-l", "--list"} else Verb.UNKNOWN
    return [path_touch(w, verb, "compresses or decompresses it",
                       recursive=bool(flags & {"-r", "--recursive"})) for w in positionals]


def _dd(rest: Sequence[Word]) -> list[Touch]:
    touches = []
    for word in rest:
        value = word.value or word.prefix
        if value.startswith("if="):
            touches.append(path_touch(_after(word, 3), Verb.READ, "dd reads it"))
        elif value.startswith("of="):
            touches.append(path_touch(_after(word, 3), Verb.WRITE, "dd writes it", content=False))
    return touches


def _after(word: Word, cut: int) -> Word:
    if word.value is not None:
        return Word.literal(word.value[cut:])
    return Word(word.text, None, word.prefix[cut:], template=None)


_CURL_READS = ("-d", "--data", "--data-binary", "--data-ascii", "--data-urlencode", "--json",
               "-F", "--form", "-T", "--upload-file", "-K", "--config", "-E", "--cert",
               "--key", "-b", "--cookie", "--netrc-file", "--post-file", "--body-file", "-i",
               "--input-file", "--load-cookies", "--certificate", "--private-key")
_CURL_WRITES = ("-o", "--output", "-c", "--cookie-jar", "-D", "--dump-header", "--trace",
                "--trace-ascii", "-O", "--output-document", "--save-cookies", "-a",
                "--append-output")


def _http_client(name: str, rest: Sequence[Word]) -> list[Touch]:
    """Uploads read files (`-d @f`, `-F x=@f`, `-T f`, `--post-file f`); `file://` URLs read;
    outputs are written. Everything else is judged like any program's words."""
    touches: list[Touch] = []
    for word in _flag_values(rest, _CURL_READS):
        for piece in _pieces(word):
            touches.append(path_touch(piece, Verb.READ, f"{name} sends it"))
    for word in _flag_values(rest, _CURL_WRITES):
        touches.append(path_touch(word, Verb.WRITE, f"{name} writes it", content=False))
    for word in rest:
        value = word.value or ""
        if value.lower().startswith("file://"):
            touches.append(path_touch(Word.literal(value[7:]), Verb.READ, f"{name} reads it"))
    return touches + generic(name, rest)


def _pieces(word: Word) -> list[Word]:
    """`@file`, `name=@file`, `name=<file`, `file;type=x`: the file named in a data option."""
    value = word.value
    if value is None:
        return [word]
    found = []
    for part in re.split(r"[=]", value):
        part = part.split(";", 1)[0]
        if part.startswith(("@", "<")) and len(part) > 1:
            found.append(Word.literal(part[1:]))
    if not found and not value.startswith(("{", "[")) and "=" not in value:
        found.append(Word.literal(value))  # -T file, --post-file file, -K file
    return found


def _sql_words(word: Word) -> list[Word]:
    """sqlite3's SQL and dot-commands name files inside a larger text (`ATTACH 'x.db'`,
    `.open x.db`, `.read x.sql`): each blank-separated piece, quotes removed."""
    if word.value is None:
        return [word]
    pieces = [p.strip("'\"`;(),") for p in word.value.split()]
    return [Word.literal(p) for p in pieces if p]


def _git_clean(rest: Sequence[Word]) -> list[Touch]:
    """`git clean -fdx` deletes untracked and ignored files — airlock's state folder among
    them when it sits in the checkout."""
    values = [w.value or "" for w in rest]
    if "clean" not in values:
        return []
    after = rest[values.index("clean") + 1:]
    positionals, _, flags = _operands(after, "-e --exclude")
    letters = "".join(f[1:] for f in flags if f.startswith("-") and not f.startswith("--"))
    if "n" in letters or "--dry-run" in flags or not ("f" in letters or "--force" in flags):
        return []
    ignored = "x" in letters or "X" in letters
    paths = [w for w in positionals if w.value != "--"] or [Word.literal(".")]
    return [path_touch(w, Verb.DELETE, "git clean deletes untracked files under it", recursive=True,
                       content=False, certain=ignored) for w in paths]


_FIND_VALUES = frozenset({"-name", "-iname", "-path", "-ipath", "-regex", "-iregex", "-type",
                          "-maxdepth", "-mindepth", "-newer", "-perm", "-size", "-user",
                          "-group", "-mtime", "-mmin", "-atime", "-amin", "-ctime", "-cmin",
                          "-printf", "-fprintf", "-fprint", "-fprint0", "-fls", "-wholename",
                          "-iwholename", "-samefile", "-links", "-inum", "-uid", "-gid",
                          "-newermt", "-context", "-fstype", "-xtype", "-lname", "-ilname"})


def _find(rest: Sequence[Word]) -> list[Touch]:
    """`find DIR … -exec cat {} +` reads everything under DIR; `-delete` deletes it (the find
    handler judges how bad; here only what is reached)."""
    starts: list[Word] = []
    for word in rest:
        if word.value is not None and (word.value.startswith(("-", "(", "!", ")"))):
            break
        starts.append(word)
    values = [w.value or "" for w in rest]
    starts = starts or [Word.literal(".")]
    touches: list[Touch] = []
    for i, value in enumerate(values):
        if value in ("-exec", "-execdir", "-ok", "-okdir") and i + 1 < len(values):
            program = values[i + 1].rsplit("/", 1)[-1]
            if program not in NAME_ONLY:
                touches += [path_touch(w, Verb.UNKNOWN, f"find runs {program} on what it finds",
                                       recursive=True, content=False) for w in starts]
        elif value == "-delete":
            touches += [path_touch(w, Verb.DELETE, "find deletes what it finds", recursive=True,
                                   content=False) for w in starts]
        elif value in ("-fprint", "-fprint0", "-fprintf", "-fls") and i + 1 < len(values):
            touches.append(path_touch(rest[i + 1], Verb.WRITE, "find writes its list to it",
                                      content=False))
    return touches
