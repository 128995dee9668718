"""HTTP clients: curl, wget, httpie (http/xh), `gh api` and `railway api` build a request —
method, URL, headers, body — that the HTTP classifier judges (embedded.py). A part computed at
run time or read from a file is unknown; downloads written to disk are local writes.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from airlock.classify.shell.argv import Args, parse_args
from airlock.classify.shell.base import redirect_effects, unknown
from airlock.classify.shell.embedded import http_effects, request_effects
from airlock.classify.shell.rules import Program
from airlock.classify.shell.words import COMPUTED, Word
from airlock.model import Effect, HttpRequest, Risk, Verb

if TYPE_CHECKING:
    from airlock.classify.shell.base import Env, Handler, Runner, Stdin



_CURL_DATA = frozenset({"-d", "--data", "--data-raw", "--data-binary", "--data-ascii",
                        "--data-urlencode", "--json"})
_CURL_FORM = frozenset({"-F", "--form", "--form-string"})


def _curl(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
          depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    if any(f.name in program.help_flags for f in args.flags):
        return [Effect(Verb.READ, Risk.READ, "curl --help")]
    if args.opaque:
        return [unknown("curl's arguments are computed at run time")]
    if args.values(frozenset({"-K", "--config"})) or args.has(frozenset({"-:", "--next"})):
        return [unknown("curl reads options from a file or sends several requests")]
    methods = args.values(frozenset({"-X", "--request"}))
    data = [f for f in args.flags if f.name in _CURL_DATA]
    forms = args.values(_CURL_FORM)
    uploads = args.values(frozenset({"-T", "--upload-file"}))
    if methods:
        method = methods[-1].value
    elif args.has(frozenset({"-I", "--head"})):
        method = "HEAD"
    elif uploads:
        method = "PUT"
    elif (data or forms) and not args.has(frozenset({"-G", "--get"})):
        method = "POST"
    else:
        method = "GET"
    computed: list[str] = []
    headers = _headers(args.values(frozenset({"-H", "--header"})), computed)
    if any(f.name == "--json" for f in data):
        headers.append(("Content-Type", "application/json"))
    body: str | None = None
    if data or forms:
        pieces: list[str] = []
        for flag in data:
            word = flag.value
            text = _sketched(word, computed, "body") if word is not None else None
            if text is not None and text.startswith("@") and flag.name != "--data-raw":
                text = _body_file(run, text[1:], stdin, computed)
            pieces.append(text if text is not None else COMPUTED)
            if text is None:
                computed.append("body")
        for form in forms:
            pieces.append(_sketched(form, computed, "form") or COMPUTED)
        body = "&".join(pieces)
    urls = [*args.values(frozenset({"--url"})), *args.positionals]
    effects: list[Effect] = []
    for output in args.values(frozenset({"-o", "--output"})):
        if output.value != "-":
            effects.extend(redirect_effects(output, truncates=True))
    if args.has(frozenset({"-O", "--remote-name", "--remote-name-all"})):
        effects.append(Effect(Verb.WRITE, Risk.WRITE, "curl saves a file named by the URL"))
    if not urls:
        return effects or [Effect(Verb.READ, Risk.READ, "curl without a URL")]
    for url in urls:
        effects.extend(_send(method, url, headers, body, computed, "by curl"))
    return effects


def _sketched(word: Word, computed: list[str], what: str) -> str | None:
    """A word's value; or, when part of it is computed, the rest with COMPUTED in its place
    (noted in `computed`); None when nothing of it is known."""
    if word.value is not None:
        return word.value
    if word.sketch is not None and word.sketch.strip() != COMPUTED:
        computed.append(what)
        return word.sketch
    return None


def _headers(words: list[Word], computed: list[str]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for header in words:
        text = header.value if header.value is not None else header.sketch
        if text is None or ":" not in text or COMPUTED in text.partition(":")[0]:
            computed.append("a header")
            continue
        name, _, value = text.partition(":")
        if header.value is None:
            computed.append(f"header {name.strip()}")
        headers.append((name.strip(), value.strip()))
    return headers


def _body_file(run: Runner, name: str, stdin: Stdin | None, computed: list[str]) -> str | None:
    """`-d @-` is stdin; `-d @payload.json` is a file the agent may have written: read it."""
    if name == "-":
        return stdin.text if stdin is not None else None
    texts = [c.text for c in run.read_code(Word.literal(name))]
    if len(texts) == 1 and texts[0] is not None:
        return texts[0]
    return None


def _send(method: str | None, url: Word, headers: list[tuple[str, str]], body: str | None,
          computed: list[str], origin: str) -> list[Effect]:
    parts = list(computed)
    address = _sketched(url, parts, "URL")
    if address is None or method is None or address.startswith(COMPUTED):
        return http_effects(None, origin)  # where it goes cannot be told at all
    request = HttpRequest(method, _with_scheme(address), tuple(headers), body)
    return request_effects(request, parts, origin)


def _with_scheme(url: str) -> str:
    return url if "://" in url else "http://" + url


def _wget(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
          depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    if any(f.name in program.help_flags for f in args.flags):
        return [Effect(Verb.READ, Risk.READ, "wget --help")]
    if args.opaque:
        return [unknown("wget's arguments are computed at run time")]
    if args.values(frozenset({"-i", "--input-file", "--post-file", "--body-file"})):
        return [unknown("wget reads URLs or a body from a file that cannot be seen")]
    method_words = args.values(frozenset({"--method"}))
    body_words = args.values(frozenset({"--post-data", "--body-data"}))
    method = method_words[0].value if method_words else ("POST" if body_words else "GET")
    body = body_words[0].value if body_words else None
    computed: list[str] = []
    headers = _headers(args.values(frozenset({"--header"})), computed)
    effects: list[Effect] = []
    outputs = args.values(frozenset({"-O", "--output-document"}))
    if outputs and outputs[0].value != "-":
        effects.extend(redirect_effects(outputs[0], truncates=True))
    elif not outputs:
        effects.append(Effect(Verb.WRITE, Risk.WRITE, "wget saves a file named by the URL",
                              None, "file"))
    if body_words and body is None:
        body = _sketched(body_words[0], computed, "body") or COMPUTED
        if body == COMPUTED:
            computed.append("body")
    for url in args.positionals:
        effects.extend(_send(method, url, headers, body, computed, "by wget"))
    return effects


_HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})


def _httpie(run: Runner, program: Program, words: list[Word], env: Env,
            stdin: Stdin | None, depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    if any(f.name in program.help_flags for f in args.flags):
        return [Effect(Verb.READ, Risk.READ, "httpie --help")]
    if args.opaque or any(w.value is None for w in args.positionals):
        return [unknown("the request's parts are computed at run time")]
    if args.has(frozenset({"--offline"})):
        return [Effect(Verb.READ, Risk.READ, "httpie --offline only prints the request")]
    pos = [w.value or "" for w in args.positionals]
    method = None
    if len(pos) >= 2 and pos[0].upper() in _HTTP_METHODS:
        method = pos.pop(0).upper()
    if not pos:
        return [Effect(Verb.READ, Risk.READ, "httpie without a URL")]
    url, items = pos[0], pos[1:]
    if url.startswith(":"):
        url = "http://localhost" + url
    headers: list[tuple[str, str]] = []
    fields: dict[str, object] = {}
    for item in items:
        if "==" in item:
            continue
        if ":=" in item:
            key, _, raw = item.partition(":=")
            try:
                fields[key] = json.loads(raw)
            except ValueError:
                fields[key] = raw
        elif "=" in item and (":" not in item or item.index("=") < item.index(":")):
            key, _, value = item.partition("=")
            fields[key] = value
        elif ":" in item:
            key, _, value = item.partition(":")
            headers.append((key, value))
        elif "@" in item:
            return [unknown("httpie sends a file that cannot be seen")]
    if method is None:
        method = "POST" if fields or (stdin is not None and not args.has(
            frozenset({"-I", "--ignore-stdin"}))) else "GET"
    body = json.dumps(fields) if fields else (stdin.text if stdin is not None else None)
    return http_effects(HttpRequest(method, _with_scheme(url), tuple(headers), body),
                        "by httpie")


def _gh(run: Runner, program: Program, words: list[Word], env: Env, stdin: Stdin | None,
        depth: int) -> list[Effect]:
    args = parse_args(words[1:], program.options)
    pos = args.positionals
    if not pos or pos[0].value != "api" or args.opaque:
        return run.decide_effects(program, words, env)
    if len(pos) < 2 or pos[1].value is None:
        return [unknown("gh api: the endpoint is computed at run time")]
    endpoint = pos[1].value
    host = args.last("--hostname") or "github.com"
    base = "https://api.github.com" if host == "github.com" else f"https://{host}/api/v3"
    url = f"{base}/graphql" if endpoint == "graphql" else f"{base}/{endpoint.lstrip('/')}"
    fields: dict[str, str] = {}
    for flag in args.flags:
        if flag.name in ("-f", "--raw-field", "-F", "--field"):
            if flag.value is None or flag.value.value is None:
                return [unknown("gh api: a field is computed at run time")]
            key, _, value = flag.value.value.partition("=")
            fields[key] = value
    inputs = args.values(frozenset({"--input"}))
    method_words = args.values(frozenset({"-X", "--method"}))
    method = method_words[0].value if method_words else ("POST" if fields or inputs else "GET")
    if inputs:
        body = stdin.text if inputs[0].value == "-" and stdin is not None else None
        if body is None:
            return [unknown("gh api sends a body from a file that cannot be seen")]
    else:
        body = json.dumps(fields) if fields else None
    if method is None:
        return [unknown("gh api: the method is computed at run time")]
    return http_effects(HttpRequest(method, url, (("Content-Type", "application/json"),), body),
                        "by gh api")


RAILWAY_API = "https://backboard.railway.com/graphql/v2"


def railway_api(run: Runner, args: Args, stdin: Stdin | None) -> list[Effect]:
    """`railway api 'mutation { volumeDelete(...) }'`: a GraphQL POST to Railway."""
    pos = args.positionals[1:]
    files = args.values(frozenset({"-f", "--file"}))
    if files:
        query = stdin.text if files[0].value == "-" and stdin is not None else None
    elif pos:
        query = pos[0].value
    else:
        query = stdin.text if stdin is not None else None
    variables: dict[str, object] = {}
    for flag in args.flags:
        if flag.name in ("--var", "--raw-var"):
            if flag.value is None or flag.value.value is None:
                query = None
                break
            key, _, value = flag.value.value.partition("=")
            variables[key] = value
        elif flag.name == "--variables":
            raw = flag.value.value if flag.value is not None else None
            try:
                loaded = json.loads(raw) if raw and not raw.startswith("@") else None
            except ValueError:
                loaded = None
            if not isinstance(loaded, dict):
                query = None
                break
            variables.update(loaded)
    if query is None:
        return http_effects(None, "by railway api")
    body = json.dumps({"query": query, "variables": variables})
    return http_effects(HttpRequest("POST", RAILWAY_API, (("Content-Type", "application/json"),),
                                    body), "by railway api")


HANDLERS: dict[str, Handler] = {
    "curl": _curl,
    "wget": _wget,
    "httpie": _httpie,
    "gh": _gh,
}
