"""Commands that run elsewhere: `ssh host '…'`, `docker exec`, `docker run … cmd`,
`compose exec`, `kubectl exec --`, `railway run --` / `railway ssh`, `heroku run`,
`fly ssh console -C`.

The inner command is judged like any other; then what would have touched this machine (a
contextual target, or none) is moved to where it really runs: Target("ssh:host", host),
Target("k8s:pod", "ns/pod"), Target("railway:environment", env), Target("heroku:app", app).
A container on the local daemon stays contextual (docker:container). Interactive sessions,
whose commands cannot be seen, are unknown.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from airlock.classify.shell import http_clients
from airlock.classify.shell.argv import Args, OptionSpec, parse_args
from airlock.classify.shell.base import unknown
from airlock.classify.shell.embedded import sql_effects
from airlock.classify.shell.rules import Program
from airlock.classify.shell.words import Word
from airlock.model import Effect, Risk, Target, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Env, Handler, Runner, Stdin


def _read(reason: str, target: Target | None = None) -> list[Effect]:
    return [Effect(Verb.READ, Risk.READ, reason, target)]


def _write(reason: str, target: Target | None = None, scope: str = "") -> list[Effect]:
    return [Effect(Verb.WRITE, Risk.WRITE, reason, target, scope)]


def _help(program: Program, args: Args) -> bool:
    return any(f.name in program.help_flags for f in args.flags)


def remote(effects: Sequence[Effect], target: Target, where: str) -> list[Effect]:
    """Effects of a command run elsewhere: what would touch this machine touches `where`."""
    moved = []
    for effect in effects:
        if effect.target is None or effect.target.contextual:
            moved.append(dataclasses.replace(effect, target=target,
                                              reason=f"{effect.reason} (on {where})"))
        else:
            moved.append(effect)
    return moved




_SSH_VALUES = frozenset(["-b", "-c", "-D", "-E", "-e", "-F", "-I", "-i", "-J", "-L", "-l", "-m",
                         "-O", "-o", "-p", "-Q", "-R", "-S", "-W", "-w", "-B"])
_SSH_NO_COMMAND = frozenset({"-N", "-G", "-V", "-Q", "-O"})


def _ssh(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
         depth: int) -> list[Effect]:
    args = parse_args(words[1:], OptionSpec(value_options=_SSH_VALUES, stop_at_positional=True))
    if args.opaque:
        return [unknown("the options of ssh are computed at run time")]
    if args.has(_SSH_NO_COMMAND) or _help(program, args):
        return _read("ssh without a remote command (tunnel, query or control)")
    if not args.positionals:
        return _read("ssh without a destination")
    destination = args.positionals[0]
    host = (destination.display.rsplit("@", 1)[-1].removeprefix("ssh://")
            .split(":", 1)[0].lower())
    target = Target("ssh:host", host)
    command = args.positionals[1:]
    if command and command[0].value == "--":
        command = command[1:]
    if command:
        with run.elsewhere(host):
            effects = _joined_script(run, command, depth, f"on {host} over ssh")
    elif stdin is not None and stdin.text is not None:
        with run.elsewhere(host):
            effects = run.script(stdin.text, depth + 1, f"on {host} over ssh")
    else:
        return [unknown(f"an interactive ssh session on {host}: its commands cannot be seen",
                        target)]
    return remote(effects, target, host)


def _joined_script(run: Runner, words: Sequence[Word], depth: int,
                   origin: str) -> list[Effect]:
    if any(w.value is None for w in words):
        return [unknown(f"the command run {origin} is computed at run time")]
    return run.script(" ".join(w.value or "" for w in words), depth + 1, origin)


_DOCKER_GLOBAL = frozenset(["-H", "--host", "-c", "--context", "--config", "-l", "--log-level",
                            "--tlscacert", "--tlscert", "--tlskey"])
_DOCKER_EXEC = frozenset(["-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir",
                          "--detach-keys"])
_DOCKER_RUN = frozenset(["-e", "--env", "--env-file", "-u", "--user", "-w", "--workdir", "-v",
                         "--volume", "--mount", "-p", "--publish", "--name", "--network",
                         "--net", "--entrypoint", "-l", "--label", "--label-file", "--platform",
                         "-m", "--memory", "--cpus", "--cpu-shares", "-c", "--restart",
                         "--hostname", "-h", "--add-host", "--dns", "--device", "--cap-add",
                         "--cap-drop", "--security-opt", "--ulimit", "--tmpfs", "--pull",
                         "--log-driver", "--log-opt", "--gpus", "--ipc", "--pid", "--shm-size",
                         "--stop-signal", "--stop-timeout", "--health-cmd", "--health-interval",
                         "--user", "--group-add", "--runtime", "--volumes-from", "--link",
                         "--expose", "--cidfile", "--memory-swap", "--memory-reservation",
                         "--kernel-memory", "--userns", "--uts", "--cgroupns",
                         "--cgroup-parent", "--domainname", "--mac-address", "--ip", "--ip6",
                         "--annotation", "--attach", "-a", "--isolation", "--sysctl"])
_COMPOSE_GLOBAL = frozenset(["-f", "--file", "-p", "--project-name", "--profile", "--env-file",
                             "--project-directory", "--ansi", "--parallel"])
_COMPOSE_EXEC = _DOCKER_EXEC | frozenset({"--index"})
_COMPOSE_RUN = _DOCKER_RUN | frozenset({"--index"})


def _docker(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
            depth: int) -> list[Effect]:
    name = words[0].value or "docker"
    args = parse_args(words[1:], OptionSpec(value_options=_DOCKER_GLOBAL,
                                            stop_at_positional=True))
    pos = args.positionals
    verbs = [w.value for w in pos[:2]]
    if not args.opaque and pos:
        if verbs[0] == "exec" or verbs == ["container", "exec"]:
            skip = 1 if verbs[0] == "exec" else 2
            return _container_exec(run, name, pos[skip:], _DOCKER_EXEC, env, depth)
        if verbs[0] == "run" or verbs == ["container", "run"]:
            skip = 1 if verbs[0] == "run" else 2
            return _container_run(run, name, pos[skip:], _DOCKER_RUN, env, depth)
        if verbs[0] == "compose":
            compose = run.registry.program("docker-compose")
            rest = words[words.index(pos[0]) + 1 :]
            if compose is not None:
                return _compose_words(run, compose, f"{name} compose", rest,
                                      [Word.literal("docker-compose"), *rest], env, depth)
    return run.decide_effects(program, words, env)


def _compose(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
             depth: int) -> list[Effect]:
    return _compose_words(run, program, words[0].value or "docker-compose", words[1:], words,
                          env, depth)


def _compose_words(run: Runner, program: Program, name: str, rest: Sequence[Word],
                   words: list[Word], env: Env, depth: int) -> list[Effect]:
    args = parse_args(rest, OptionSpec(value_options=_COMPOSE_GLOBAL, stop_at_positional=True))
    pos = args.positionals
    if not args.opaque and pos and pos[0].value == "exec":
        return _container_exec(run, name, pos[1:], _COMPOSE_EXEC, env, depth)
    if not args.opaque and pos and pos[0].value == "run":
        return _container_run(run, name, pos[1:], _COMPOSE_RUN, env, depth)
    return run.decide_effects(program, words, env)


def _container_exec(run: Runner, name: str, rest: Sequence[Word], values: frozenset[str],
                    env: Env, depth: int) -> list[Effect]:
    args = parse_args(rest, OptionSpec(value_options=values, stop_at_positional=True))
    if args.opaque or not args.positionals:
        return [unknown(f"{name} exec: the container or command cannot be placed")]
    container = args.positionals[0].display
    target = Target("docker:container", container, contextual=True)
    with run.elsewhere(f"container {container}"):
        inner = run.invoke(args.positionals[1:], {}, None, depth + 1)
    return remote(inner, target, f"container {container}")


def _container_run(run: Runner, name: str, rest: Sequence[Word], values: frozenset[str],
                   env: Env, depth: int) -> list[Effect]:
    args = parse_args(rest, OptionSpec(value_options=values, stop_at_positional=True))
    if args.opaque or not args.positionals:
        return [unknown(f"{name} run: the image or command cannot be placed")]
    image = args.positionals[0].display
    target = Target("docker:container", image, contextual=True)
    effects = _write(f"{name} run starts a container from {image}", target, "container")
    if len(args.positionals) > 1:
        with run.elsewhere(f"a container of {image}"):
            inner = run.invoke(args.positionals[1:], {}, None, depth + 1)
        effects.extend(remote(inner, target, f"a container of {image}"))
    return effects


_KUBECTL_GLOBAL = frozenset(["-n", "--namespace", "--context", "--cluster", "--kubeconfig",
                             "--user", "-s", "--server", "--token", "--as", "--as-group",
                             "--request-timeout", "-c", "--container", "-f", "--filename",
                             "--pod-running-timeout", "-l", "--selector"])


def _kubectl(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
             depth: int) -> list[Effect]:
    args = parse_args(words[1:], OptionSpec(value_options=_KUBECTL_GLOBAL))
    pos = args.positionals
    if not args.opaque and pos and pos[0].value == "exec":
        namespace = next((w.display for w in args.values(frozenset({"-n", "--namespace"}))), "?")
        if args.dashdash is not None:
            pods, command = pos[1 : args.dashdash], pos[args.dashdash :]
        else:
            pods, command = pos[1:2], pos[2:]
        if not pods or not command:
            return [unknown("kubectl exec: the pod or the command cannot be placed")]
        pod = pods[0].display.removeprefix("pod/").removeprefix("pods/")
        target = Target("k8s:pod", f"{namespace}/{pod}")
        with run.elsewhere(f"pod {namespace}/{pod}"):
            inner = run.invoke(command, {}, None, depth + 1)
        effects = remote(inner, target, f"pod {namespace}/{pod}")
        for context in args.values(frozenset({"--context"})):
            effects.append(Effect(Verb.READ, Risk.READ, "kubectl context",
                                  Target("k8s:context", context.display)))
        return effects
    return run.decide_effects(program, words, env)


def _railway(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
             depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    pos = args.positionals
    verb = pos[0].value if pos else None
    service = next((w.display for w in args.values(frozenset({"-s", "--service"}))), None)
    environment = next((w.display for w in args.values(frozenset({"-e", "--environment"}))),
                       "?")
    where = f"Railway environment {environment}"
    target = Target("railway:environment", environment)
    if args.opaque or verb is None:
        return run.decide_effects(program, words, env)
    if verb in ("run", "local"):
        inner_words = _after(words, "run" if verb == "run" else "local", args)
        inner = run.invoke(inner_words, env, stdin, depth + 1) if inner_words else \
            [unknown("railway run without a command")]
        effects = remote(inner, target, where)
        if service:
            effects.append(Effect(Verb.READ, Risk.READ, "Railway service",
                                  Target("railway:service", service)))
        return effects
    if verb in ("shell", "connect"):
        return [unknown(f"railway {verb} opens an interactive session whose commands cannot "
                        "be seen", target)]
    if verb == "ssh":
        command = _after(words, "ssh", args)
        if not command:
            return [unknown("railway ssh opens an interactive session", target)]
        with run.elsewhere(where):
            inner = run.invoke(command, {}, None, depth + 1)
        return remote(inner, target, where)
    if verb == "api" and (len(pos) < 2 or pos[1].value not in ("schema", "search", "describe")):
        return http_clients.railway_api(run, args, stdin)
    return run.decide_effects(program, words, env)


def _after(words: Sequence[Word], verb: str, args: Args) -> list[Word]:
    """The command after `verb …` options, at `--` when there is one."""
    for i, word in enumerate(words):
        if word.value == "--":
            return list(words[i + 1 :])
    index = next((i for i, w in enumerate(words) if w.value == verb), len(words))
    inner = parse_args(words[index + 1 :], OptionSpec(
        value_options=frozenset({"-s", "--service", "-e", "--environment", "-p", "--project"}),
        stop_at_positional=True))
    return inner.positionals


def _heroku(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
            depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    pos = args.positionals
    app = next((w.display for w in args.values(frozenset({"-a", "--app"}))), "?")
    target = Target("heroku:app", app)
    verb = pos[0].value if pos else None
    if not args.opaque and verb in ("run", "run:detached"):
        with run.elsewhere(f"a Heroku dyno of {app}"):
            inner = _joined_script(run, pos[1:], depth, f"on a Heroku dyno of {app}")
        return remote(inner, target, f"Heroku app {app}")
    if not args.opaque and verb == "pg:psql":
        commands = args.values(frozenset({"-c", "--command"}))
        text = commands[0].value if commands else (stdin.text if stdin else None)
        return sql_effects(text, "postgres", target, "by heroku pg:psql")
    return run.decide_effects(program, words, env)


def _fly(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
         depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    pos = [w.value for w in args.positionals[:2]]
    app = next((w.display for w in args.values(frozenset({"-a", "--app"}))), "?")
    if pos == ["ssh", "console"]:
        commands = args.values(frozenset({"-C", "--command"}))
        target = Target("fly:app", app)
        if not commands:
            return [unknown(f"an interactive fly ssh session on {app}", target)]
        with run.elsewhere(f"Fly app {app}"):
            inner = run.script(commands[0].value, depth + 1, f"on Fly app {app}")
        return remote(inner, target, f"Fly app {app}")
    return run.decide_effects(program, words, env)


HANDLERS: dict[str, Handler] = {
    "ssh": _ssh,
    "docker": _docker,
    "compose": _compose,
    "kubectl": _kubectl,
    "railway": _railway,
    "heroku": _heroku,
    "fly": _fly,
}
