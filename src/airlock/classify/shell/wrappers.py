"""Wrappers: programs that run another command. They are peeled and the inner command judged.

`sudo -u postgres env PGHOST=db nice -n 19 timeout 60 psql -c '…'` is judged as that psql, with
PGHOST=db in its environment. A wrapper whose options cannot be placed (`sudo $OPTS rm …`) is
unknown: the word that names the inner program cannot be found.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airlock.classify.shell.argv import Args, OptionSpec, parse_args
from airlock.classify.shell.base import unknown
from airlock.classify.shell.words import Word
from airlock.model import Effect, Risk, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Env, Runner, Stdin, Wrapper


# Peeling more wrappers than this around one command is not an agent's command line.
_MAX_PEEL = 24


def _opts(value: str = "", attached: str = "", style: str = "gnu") -> OptionSpec:
    return OptionSpec(style=style, value_options=frozenset(value.split()),
                      attached_only=frozenset(attached.split()), stop_at_positional=True)


def _read(reason: str) -> list[Effect]:
    return [Effect(Verb.READ, Risk.READ, reason)]


def _unknown(reason: str) -> list[Effect]:
    return [unknown(reason)]


def _split(words: list[Word], spec: OptionSpec) -> tuple[Args, list[Word]] | None:
    """Options of the wrapper, and the inner command (from the first positional on)."""
    args = parse_args(words[1:], spec)
    if args.opaque:
        return None
    return args, args.positionals


def _inner(run: Runner, name: str, inner: Sequence[Word], env: Env, stdin: Stdin | None,
           depth: int, extra_env: dict[str, str | None] | None = None) -> list[Effect]:
    if depth > _MAX_PEEL:
        return _unknown(f"more than {_MAX_PEEL} wrappers around one command")
    if not inner:
        return _read(f"{name} without a command")
    merged = {**env, **extra_env} if extra_env else env
    return run.invoke(inner, merged, stdin, depth + 1)


def _simple(spec: OptionSpec, skip: int = 0, read_flags: frozenset[str] = frozenset(),
            new_root: bool = False) -> Wrapper:
    """A wrapper that takes options, `skip` positional words of its own, then the command.
    `new_root`: the command runs under another root folder (chroot): its files are not the
    ones this machine's paths name."""

    def peel(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
             depth: int) -> list[Effect]:
        name = words[0].value or ""
        split = _split(words, spec)
        if split is None:
            return _unknown(f"the options of {name} are computed at run time")
        args, inner = split
        if read_flags and args.has(read_flags):
            return _read(f"{name} {' '.join(sorted(read_flags & {f.name for f in args.flags}))}")
        if len(inner) < skip:
            return _read(f"{name} without a command")
        if new_root:
            with run.elsewhere(f"the root folder {inner[0].display}"):
                return _inner(run, name, inner[skip:], env, stdin, depth)
        return _inner(run, name, inner[skip:], env, stdin, depth)

    return peel


def _sudo(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
          depth: int) -> list[Effect]:
    spec = _opts("-u -g -h -p -C -D -r -t -U -T --user --group --host --prompt --close-from "
                 "--chdir --role --type --other-user --command-timeout")
    split = _split(words, spec)
    if split is None:
        return _unknown("the options of sudo are computed at run time")
    args, inner = split
    if args.has(frozenset({"-e", "--edit"})):
        return [Effect(Verb.WRITE, Risk.WRITE, "edits files as another user (sudoedit)")]
    if not inner:
        if args.has(frozenset({"-i", "-s", "--login", "--shell"})):
            return run.script(stdin.text if stdin else None, depth + 1, "by a root shell")
        return _read("sudo without a command (lists, validates or resets credentials)")
    return _inner(run, "sudo", inner, env, stdin, depth)


def _env(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
         depth: int) -> list[Effect]:
    spec = _opts("-u -C --unset --chdir -S --split-string -a --argv0")
    split = _split(words, spec)
    if split is None:
        return _unknown("the options of env are computed at run time")
    args, rest = split
    if args.has(frozenset({"-S", "--split-string"})):
        return _unknown("env -S splits a string into a command line at run time")
    assigned: dict[str, str | None] = {}
    index = 0
    for word in rest:
        text = word.value if word.value is not None else word.prefix
        name, eq, value = text.partition("=")
        if not eq or not name.replace("_", "a").isalnum():
            break
        assigned[name] = value if word.value is not None else None
        index += 1
    effects: list[Effect] = []
    for variable, assigned_value in assigned.items():
        effects.extend(run.special_variable(variable, assigned_value, depth))
    inner = rest[index:]
    if not inner:
        return [*effects, *_read("env prints the environment")]
    return effects + _inner(run, "env", inner, env, stdin, depth, assigned)


def _command(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
             depth: int) -> list[Effect]:
    split = _split(words, _opts())
    if split is None:
        return _unknown("the options of command are computed at run time")
    args, inner = split
    if args.has(frozenset({"-v", "-V"})):
        return _read("command -v only looks a program up")
    return _inner(run, "command", inner, env, stdin, depth)


def _xargs(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
           depth: int) -> list[Effect]:
    spec = _opts("-a --arg-file -d --delimiter -E -I --replace -L --max-lines -n --max-args "
                 "-P --max-procs -s --max-chars --process-slot-var", attached="-e -i -l")
    split = _split(words, spec)
    if split is None:
        return _unknown("the options of xargs are computed at run time")
    args, inner = split
    if not inner:
        inner = [Word.literal("echo")]
    replace = [w.value for w in args.values(frozenset({"-I", "--replace", "-i"}))
               if w.value is not None]
    if args.has(frozenset({"-i"})) and not replace:
        replace = ["{}"]
    known = None
    if stdin is not None and stdin.text is not None and not args.has(
            frozenset({"-0", "--null", "-d", "--delimiter", "-a", "--arg-file"})):
        try:
            known = shlex.split(stdin.text)
        except ValueError:
            known = None
    effects: list[Effect] = []
    if replace:
        lines = [line for line in (stdin.text or "").splitlines() if line.strip()] \
            if known is not None and stdin is not None else None
        if lines is not None and len(lines) <= 16:
            for line in lines or [""]:
                filled = [Word.literal(w.value.replace(replace[0], line.strip()))
                          if w.value is not None and replace[0] in w.value else w for w in inner]
                effects.extend(_inner(run, "xargs", filled, env, None, depth))
            return effects
        filled = [Word(w.text, None, w.value.split(replace[0], 1)[0], splits=True)
                  if w.value is not None and replace[0] in w.value else w for w in inner]
        return _inner(run, "xargs", filled, env, None, depth)
    if known is not None and len(known) <= 256:
        return _inner(run, "xargs", [*inner, *(Word.literal(v) for v in known)], env, None,
                      depth)
    # Arguments read from input we cannot see: any words, options included.
    return _inner(run, "xargs", [*inner, Word.opaque("<arguments from standard input>")], env,
                  None, depth)


def _flock(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
           depth: int) -> list[Effect]:
    spec = _opts("-w --wait --timeout -E --conflict-exit-code -c --command")
    split = _split(words, spec)
    if split is None:
        return _unknown("the options of flock are computed at run time")
    args, rest = split
    commands = args.values(frozenset({"-c", "--command"}))
    if commands:
        return run.script(commands[0].value, depth + 1, "by flock -c")
    if len(rest) <= 1:
        return [Effect(Verb.WRITE, Risk.WRITE, "takes a file lock")]
    return _inner(run, "flock", rest[1:], env, stdin, depth)


def _watch(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
           depth: int) -> list[Effect]:
    spec = _opts("-n --interval -q --equexit", attached="-d")
    split = _split(words, spec)
    if split is None:
        return _unknown("the options of watch are computed at run time")
    args, rest = split
    if args.has(frozenset({"-x", "--exec"})):
        return _inner(run, "watch", rest, env, stdin, depth)
    return _joined(run, rest, depth, "by watch")


def _joined(run: Runner, rest: Sequence[Word], depth: int, origin: str) -> list[Effect]:
    """Arguments joined by spaces and run by a shell (watch, ssh, su -c …)."""
    if any(w.value is None for w in rest):
        return run.script(None, depth + 1, origin)
    return run.script(" ".join(w.value or "" for w in rest), depth + 1, origin)


def _shell_command_option(option: str, other_values: str, origin: str,
                          argv_after_dashdash: bool = False) -> Wrapper:
    """Wrappers that take a shell command as an option value (su -c, script -c, ...)."""
    names = frozenset(option.split())
    spec = _opts(f"{option} {other_values}")

    def peel(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
             depth: int) -> list[Effect]:
        name = words[0].value or ""
        args = parse_args(words[1:], OptionSpec(value_options=spec.value_options))
        commands = args.values(names)
        if commands:
            return run.script(commands[0].value, depth + 1, origin)
        if args.opaque:
            return _unknown(f"the options of {name} are computed at run time")
        if argv_after_dashdash and args.dashdash is not None:
            return _inner(run, name, args.positionals[args.dashdash:], env, stdin, depth)
        return run.script(stdin.text if stdin else None, depth + 1, f"by {name} (interactive)")

    return peel


def _npx(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
         depth: int) -> list[Effect]:
    spec = _opts("-p --package -c --call --node-options --registry --cache --userconfig")
    split = _split(words, spec)
    if split is None:
        return _unknown("the options of npx are computed at run time")
    args, inner = split
    calls = args.values(frozenset({"-c", "--call"}))
    if calls:
        return run.script(calls[0].value, depth + 1, "by npx -c")
    if not inner:
        return _read("npx without a command")
    return _inner(run, "npx", [package_bin(inner[0]), *inner[1:]], env, stdin, depth)


_SCOPED_BINS = {"@prisma/cli": "prisma", "@railway/cli": "railway", "@vercel/cli": "vercel",
                "@supabase/cli": "supabase", "@neondatabase/cli": "neonctl",
                "@aws-cdk/cli": "cdk", "aws-cdk": "cdk", "@pulumi/cli": "pulumi",
                "@angular/cli": "ng", "@nestjs/cli": "nest"}


def package_bin(word: Word) -> Word:
    """`prisma@5.2` → prisma, `@railway/cli@latest` → railway: the binary a package runs."""
    if word.value is None or word.value.startswith(("./", "../", "/")):
        return word  # a local file: judged by its content (scripts.local_program)
    name = word.value
    if name.startswith("@"):
        scope, _, rest = name.partition("/")
        name = scope + "/" + rest.split("@", 1)[0]
    else:
        name = name.split("@", 1)[0]
    name = _SCOPED_BINS.get(name, name.rsplit("/", 1)[-1])
    return Word(word.text, name, name, template=name)


def _java(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
          depth: int) -> list[Effect]:
    """`java -jar tool.jar args` runs tool: judge it as the program `tool`. Everything after
    the jar belongs to the tool, options included."""
    for i, word in enumerate(words[1:-1], start=1):
        if word.value is None and word.may_be_flag:
            break
        if word.value == "-jar":
            jar = words[i + 1]
            if jar.value is None:
                break
            name = jar.value.rsplit("/", 1)[-1].removesuffix(".jar")
            return _inner(run, "java", [Word.literal(name), *words[i + 2 :]], env, stdin, depth)
    return [Effect(Verb.WRITE, Risk.WRITE, "runs a Java program airlock does not model")]


def _nix(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
         depth: int) -> list[Effect]:
    """`nix develop -c CMD ARGS…` / `nix shell PKGS -c CMD ARGS…`: the rest is the command."""
    for i, word in enumerate(words[1:], start=1):
        if word.value in ("-c", "--command"):
            return _inner(run, "nix", words[i + 1 :], env, stdin, depth)
        if word.value is None and word.may_be_flag:
            break
    return [Effect(Verb.WRITE, Risk.WRITE, "runs nix, with effects airlock does not model")]


def _busybox(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
             depth: int) -> list[Effect]:
    return _inner(run, words[0].value or "busybox", words[1:], env, stdin, depth)


def _each_a_script(origin: str, values: str = "") -> Wrapper:
    """hyperfine 'cmd1' 'cmd2': every positional is a command line run by a shell."""
    spec = OptionSpec(value_options=frozenset(values.split()))

    def peel(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
             depth: int) -> list[Effect]:
        args = parse_args(words[1:], spec)
        if args.opaque:
            return _unknown(f"the arguments of {origin} are computed at run time")
        effects: list[Effect] = []
        for word in args.positionals:
            effects.extend(run.script(word.value, depth + 1, f"by {origin}"))
        return effects or _read(f"{origin} without a command")

    return peel


def _parallel(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
              depth: int) -> list[Effect]:
    """GNU parallel builds each command line from its inputs (`:::` arguments, files, stdin),
    with its own replacement strings and quoting rules: what runs cannot be told before."""
    if any(w.value in ("--version", "--help", "--citation") for w in words[1:2]):
        return _read("parallel --version")
    inner = [w for w in words[1:] if w.value in (":::", "::::", ":::+", "::::+")]
    shown = "its arguments" if inner else "its input"
    return _unknown(f"parallel builds the commands it runs from {shown} at run time")


WRAPPERS: dict[str, Wrapper] = {
    "sudo": _sudo,
    "doas": _simple(_opts("-u -C")),
    "pkexec": _simple(_opts("--user -u")),
    "env": _env,
    "nice": _simple(_opts("-n --adjustment")),
    "nohup": _simple(_opts()),
    "timeout": _simple(_opts("-s --signal -k --kill-after"), skip=1),
    "time": _simple(_opts("-o --output -f --format")),
    "command": _command,
    "builtin": _simple(_opts()),
    "exec": _simple(_opts("-a")),
    "coproc": _simple(_opts()),
    "xargs": _xargs,
    "stdbuf": _simple(_opts("-i -o -e --input --output --error")),
    "ionice": _simple(_opts("-c -n -p -P -u --class --classdata --pid --pgid --uid"),
                      read_flags=frozenset({"-p", "--pid", "-P", "--pgid", "-u", "--uid"})),
    "chrt": _simple(_opts("-T -P -D --sched-runtime --sched-period --sched-deadline"), skip=1,
                    read_flags=frozenset({"-p", "--pid"})),
    "taskset": _simple(_opts(), skip=1, read_flags=frozenset({"-p", "--pid"})),
    "setsid": _simple(_opts()),
    "caffeinate": _simple(_opts("-t -w")),
    "unbuffer": _simple(_opts()),
    "flock": _flock,
    "watch": _watch,
    "script": _shell_command_option("-c --command", "-E --echo -I --log-in -O --log-out "
                                    "-B --log-io -T --log-timing -m --logging-format",
                                    "by script -c"),
    "su": _shell_command_option("-c --command --session-command", "-s --shell -g --group "
                                "-G --supp-group -w --whitelist-environment", "by su -c"),
    "runuser": _shell_command_option("-c --command --session-command",
                                     "-u --user -s --shell -g --group -G --supp-group "
                                     "-w --whitelist-environment", "by runuser -c",
                                     argv_after_dashdash=True),
    "npx": _npx,
    "pnpx": _npx,
    "bunx": _npx,
    "uvx": _simple(_opts("--from --with --python -p --index-url")),
    "nix": _nix,
    "java": _java,
    "chroot": _simple(_opts("--userspec --groups"), skip=1, new_root=True),
    "gosu": _simple(_opts(), skip=1),
    "su-exec": _simple(_opts(), skip=1),
    "faketime": _simple(_opts("-f"), skip=1),
    "sg": _shell_command_option("-c", "", "by sg -c"),
    "strace": _simple(_opts("-o -e -p -s -E -u -P -a -b -I -O -S -X")),
    "ltrace": _simple(_opts("-o -e -p -s -E -u -a -n")),
    "fakeroot": _simple(_opts("-l --lib --faked -s -i")),
    "eatmydata": _simple(_opts()),
    "xvfb-run": _simple(_opts("-n --server-num -e --error-file -f --auth-file -s "
                              "--server-args -p --xauth-protocol")),
    "dbus-run-session": _simple(_opts("--config-file --dbus-daemon")),
    "tini": _simple(_opts("-s -e -p")),
    "dumb-init": _simple(_opts("-r --rewrite")),
    "catchsegv": _simple(_opts()),
    "proxychains": _simple(_opts("-f")),
    "proxychains4": _simple(_opts("-f")),
    "torsocks": _simple(_opts("-u -p -a -P")),
    "valgrind": _simple(_opts()),
    "hyperfine": _each_a_script("hyperfine", "-w --warmup -r --runs -m --min-runs -M "
                                "--max-runs -p --prepare -c --cleanup -s --setup "
                                "--export-json --export-markdown --export-csv -n --command-name "
                                "-L --parameter-list -S --shell"),
    "parallel": _parallel,
    "nix-shell": _shell_command_option("--run --command", "-p --packages -I --arg --argstr "
                                       "-A --attr --keep", "by nix-shell --run"),
    "busybox": _busybox,
    "toybox": _busybox,
}

# Runners: `uv run CMD`, `op run -- CMD`, `aws-vault exec PROFILE -- CMD`. Only their run
# subcommand wraps a command; anything else they do is judged by the rule packs.
# name -> (run subcommands, options of the run subcommand that take a value, option naming a
# shell command, environment variable set from the first positional after the subcommand)
RUNNERS: dict[str, tuple[tuple[str, ...], str, str, str]] = {
    "uv": (("run",), "--with --python -p --project --directory --env-file --extra --group "
                     "--package --index-url", "", ""),
    "poetry": (("run",), "-C --directory -P --project", "", ""),
    "pipenv": (("run",), "--python", "", ""),
    "pdm": (("run",), "-p --project", "", ""),
    "hatch": (("run",), "-e --env", "", ""),
    "rye": (("run",), "--pyproject", "", ""),
    "bundle": (("exec",), "--gemfile", "", ""),
    "op": (("run",), "--env-file --account --config", "", ""),
    "infisical": (("run",), "--env --projectId --path --token --domain", "--command", ""),
    "doppler": (("run",), "-p --project -c --config --token --mount --fallback", "--command",
                ""),
    "aws-vault": (("exec",), "-d --duration -r --region -t --mfa-token", "", "AWS_PROFILE"),
    "mise": (("exec", "x"), "-C --cd -E --env", "-c --command", ""),
    "direnv": (("exec",), "", "", ""),
    "devbox": (("run",), "-c --config -e --env", "", ""),
    "conda": (("run",), "-n --name -p --prefix", "", ""),
}


def _runner(name: str) -> Wrapper:
    subcommands, values, command_option, profile_var = RUNNERS[name]
    command_names = frozenset(command_option.split())
    spec = _opts(f"{values} {command_option}")

    def peel(run: Runner, words: list[Word], env: Env, stdin: Stdin | None,
             depth: int) -> list[Effect]:
        index = next((i for i, w in enumerate(words[1:4], start=1) if w.value in subcommands),
                     None)
        if index is None:
            program = run.registry.program(name)
            if program is not None:
                return run.decide_effects(program, words, env)
            return [Effect(Verb.WRITE, Risk.WRITE, f"runs {name}, with effects airlock does "
                                                   "not model")]
        args = parse_args(words[index + 1 :], spec)
        if args.opaque:
            return _unknown(f"the options of {name} are computed at run time")
        commands = args.values(command_names) if command_names else []
        if commands:
            return run.script(commands[0].value, depth + 1, f"by {name} --command")
        inner = args.positionals
        extra: dict[str, str | None] = {}
        if profile_var and inner:
            extra[profile_var] = inner[0].value
            inner = inner[1:]
        if inner and inner[0].value == "--":
            inner = inner[1:]
        if name == "direnv" and inner:
            inner = inner[1:]  # `direnv exec DIR cmd`
        elif name == "mise" and args.dashdash is not None:
            inner = args.positionals[args.dashdash :]  # `mise exec node@20 -- cmd`
        return _inner(run, name, inner, env, stdin, depth, extra)

    return peel


for _name in RUNNERS:
    WRAPPERS[_name] = _runner(_name)

# GNU coreutils as installed on macOS (brew): the same programs with a g prefix.
for _name in ("timeout", "nice", "nohup", "env", "stdbuf", "xargs", "chroot"):
    WRAPPERS["g" + _name] = WRAPPERS[_name]
