"""Inline code is judged by what it does, not by one spelling of it: Python through its names
(aliases, star imports, assignments, functions handed to map/partial), HTTP through sessions
and clients (requests, httpx, urllib, http.client, aiohttp; node's fetch and https.request,
Ruby's Net::HTTP, PHP's curl) with their bodies judged by the real HTTP classifier, and
whatever the analysis cannot follow unknown — never a read or a write.

Code is given on stdin (`python3 - <<'EOF'`), run in /p, whose files are the FILES below."""

from __future__ import annotations

import pytest

from airlock.classify.shell import classify_shell
from airlock.classify.shell.files import MemoryReader
from airlock.model import Assessment, Risk, Target

READ, WRITE, DESTRUCTIVE, CATASTROPHIC, UNKNOWN = (
    Risk.READ, Risk.WRITE, Risk.DESTRUCTIVE, Risk.CATASTROPHIC, Risk.UNKNOWN)

FILES = {
    "/p/csv.py": "import shutil\nshutil.rmtree('/srv')\n",  # shadows the stdlib's csv
    "/p/mylib.py": "import os\n\n\ndef wipe():\n    os.remove('app.db')\n",
    "/p/tidy.py": "def tidy():\n    return 1\n",
    "/p/lib.js": "require('fs').rmSync('/srv', {recursive: true})\n",
    "/p/helpers.rb": "FileUtils.rm_rf('/srv')\n",
}
RAILWAY = "https://backboard.railway.com/graphql/v2"
MUTATION = 'mutation { volumeDelete(volumeId: "vol-1") }'
PROGRAMS = {"python": "python3 -", "js": "node", "ruby": "ruby", "perl": "perl", "php": "php"}


def judge(language: str, code: str) -> Assessment:
    command = f"{PROGRAMS[language]} <<'EOF'\n{code}\nEOF"
    return classify_shell(command, cwd="/p", reader=MemoryReader(FILES))


def check(language: str, code: str, risk: Risk) -> Assessment:
    assessment = judge(language, code)
    assert assessment.risk is risk, (code, assessment.risk,
                                     [(e.risk.value, e.reason) for e in assessment.effects])
    return assessment


# --------------------------------------------------------------------------------------------
# Python: every spelling of a deletion

@pytest.mark.parametrize("code", [
    "import shutil; shutil.rmtree('/srv/data')",
    "import shutil as s; s.rmtree('/srv/data')",
    "from shutil import rmtree as r; r('/srv/data')",
    "from shutil import *; rmtree('/srv/data')",
    "import shutil; rm = shutil.rmtree; rm('/srv/data')",
    "import shutil; list(map(shutil.rmtree, ['/a', '/b']))",
    "import shutil; getattr(shutil, 'rmtree')('/srv/data')",
    "import shutil, functools; functools.partial(shutil.rmtree, '/srv/data')()",
    "import shutil\nclass Cleaner:\n    remove = shutil.rmtree\nCleaner.remove('/srv')",
    "import os; x = os; x.remove('a.txt')",
    "from pathlib import Path; Path('build').unlink()",
    "import os\nfor f in os.listdir('.'):\n    os.unlink(f)",
    "open('app.db', 'w').write('')",
    "import mylib; mylib.wipe()",
])
def test_python_deletions_in_any_spelling(code: str) -> None:
    assessment = judge("python", code)
    assert assessment.risk.at_least(DESTRUCTIVE) and assessment.risk is not UNKNOWN, \
        [(e.risk.value, e.reason) for e in assessment.effects]


@pytest.mark.parametrize(("code", "risk"), [
    (f"import requests; requests.Session().post('{RAILWAY}', json={{'query': '{MUTATION}'}})",
     CATASTROPHIC),
    (f"import requests\ns = requests.Session()\ns.post('{RAILWAY}', json={{'query': "
     f"'{MUTATION}'}})", CATASTROPHIC),
    (f"import httpx\nwith httpx.Client(base_url='https://backboard.railway.com') as c:\n"
     f"    c.post('/graphql/v2', json={{'query': '{MUTATION}'}})", CATASTROPHIC),
    (f"import os, requests\nAPI = '{RAILWAY}'\nrequests.post(API, headers={{'Authorization': "
     f"f\"Bearer {{os.environ['RAILWAY_TOKEN']}}\"}}, json={{'query': '{MUTATION}'}})",
     CATASTROPHIC),
    (f"import http.client, json\nconn = http.client.HTTPSConnection('backboard.railway.com')\n"
     f"conn.request('POST', '/graphql/v2', body=json.dumps({{'query': '{MUTATION}'}}))",
     CATASTROPHIC),
    (f"import urllib.request, json\nreq = urllib.request.Request('{RAILWAY}', data=json.dumps("
     f"{{'query': '{MUTATION}'}}).encode(), method='POST')\nurllib.request.urlopen(req)",
     CATASTROPHIC),
    ("from urllib.request import urlopen, Request\n"
     "urlopen(Request('https://api.x/v1/items/3', method='DELETE'))", DESTRUCTIVE),
    ("import httpx; httpx.Client().delete('https://api.x/v1/items/3')", DESTRUCTIVE),
    ("import urllib3; urllib3.PoolManager().request('DELETE', 'https://api.x/v1/a')",
     DESTRUCTIVE),
    ("import aiohttp, asyncio\nasync def main():\n    async with aiohttp.ClientSession() as s:\n"
     "        await s.delete('https://api.x/v1/a')\nasyncio.run(main())", DESTRUCTIVE),
    ("import requests; r = requests.get('https://api.github.com/repos/a/b'); "
     "print(r.json()['x'])", READ),
    ("import requests, os; requests.post(os.environ['URL'])", UNKNOWN),
    ("import requests, os; requests.post('https://api.x/v1/a', headers={'Content-Type': "
     "os.environ['CT']})", UNKNOWN),  # a computed header that can change what the body means
])
def test_python_http_through_sessions_and_clients(code: str, risk: Risk) -> None:
    check("python", code, risk)


def test_a_computed_credential_does_not_hide_the_body() -> None:
    code = (f"import os, requests\nrequests.post('{RAILWAY}', headers={{'Authorization': "
            f"'Bearer ' + os.environ['T']}}, json={{'query': '{MUTATION}'}})")
    assessment = check("python", code, CATASTROPHIC)
    assert Target("railway:volume", "vol-1") in assessment.targets


@pytest.mark.parametrize("code", [
    "import mystery; mystery.go()",  # a library call airlock does not know
    "def apply(f, x):\n    return f(x)\napply(print, 1)",  # a parameter called
    "import shutil; name = 'rmtree'; getattr(shutil, name)('/x')",
    "import sys; sys.path.insert(0, 'lib'); import thing",
    "exec(open('x.py').read())",
    "import importlib; importlib.import_module('os').remove('x')",
    "import os; os.chdir('/tmp'); import json",  # moves where imports are found
    "from . import sibling",
    "import pickle; pickle.load(open('x', 'rb'))",
    "import subprocess; subprocess.run(cmd, shell=True)",
])
def test_python_that_cannot_be_followed_is_unknown(code: str) -> None:
    assessment = judge("python", code)
    assert assessment.risk is UNKNOWN, [(e.risk.value, e.reason) for e in assessment.effects]


@pytest.mark.parametrize(("code", "risk"), [
    ("print('rm -rf /')", READ),
    ("import json, sys; print(json.load(sys.stdin)['a'])", READ),
    ("import csv, sys; print(list(csv.reader(sys.stdin)))", DESTRUCTIVE),  # /p/csv.py!
    ("import os\nfor root, dirs, files in os.walk('.'):\n    print(len(files))", READ),
    ("import argparse\nclass App:\n    def __init__(self):\n        self.p = "
     "argparse.ArgumentParser()\n    def run(self):\n        print(self.p.parse_args())\n"
     "App().run()", READ),
    ("import tidy; tidy.tidy()", READ),  # a local module, read: followed
    ("open('out.txt', 'w').write('x')", WRITE),
    ("from django.core.management import call_command; call_command('flush')", CATASTROPHIC),
])
def test_python_that_is_followed(code: str, risk: Risk) -> None:
    check("python", code, risk)


def test_python_without_a_known_folder_cannot_rule_out_a_local_module() -> None:
    assessment = classify_shell("python3 -c 'import json; print(1)'", reader=MemoryReader())
    assert assessment.risk is UNKNOWN
    assert classify_shell("python3 -c 'print(1)'", reader=MemoryReader()).risk is READ


# --------------------------------------------------------------------------------------------
# JavaScript, Ruby, Perl, PHP: a token scan whose default is unknown

@pytest.mark.parametrize(("language", "code", "risk"), [
    ("js", "console.log('hello')", READ),
    ("js", "const fs = require('fs'); console.log(fs.readFileSync('a', 'utf8').split('\\n'))",
     READ),
    ("js", "const fs = require('fs'); fs.rmSync('/srv', {recursive: true})", DESTRUCTIVE),
    ("js", "import fs from 'node:fs'; fs.unlinkSync('a')", DESTRUCTIVE),
    ("js", "import { rmSync as r } from 'fs'; r('/srv')", DESTRUCTIVE),
    ("js", "const fs = require('fs'); const rm = fs.rmSync; rm('/srv')", DESTRUCTIVE),
    ("js", "const fs = require('fs'); ['a', 'b'].forEach(fs.unlinkSync)", DESTRUCTIVE),
    ("js", "require('child_process').execSync('rm -rf /')", CATASTROPHIC),
    ("js", "const { execSync: run } = require('child_process'); run('git reset --hard')",
     DESTRUCTIVE),
    ("js", "const cp = require('child_process'); cp.spawnSync('rm', ['-rf', '/srv'])",
     DESTRUCTIVE),
    ("js", f"fetch('{RAILWAY}', {{method: 'POST', headers: {{Authorization: `Bearer "
           f"${{process.env.T}}`}}, body: JSON.stringify({{query: '{MUTATION}'}})}})",
     CATASTROPHIC),
    ("js", f"const https = require('https');\nconst req = https.request({{hostname: "
           f"'backboard.railway.com', path: '/graphql/v2', method: 'POST'}});\n"
           f"req.write(JSON.stringify({{query: '{MUTATION}'}}));\nreq.end();", CATASTROPHIC),
    ("js", "fetch('https://api.x/v1/items/3', {method: 'DELETE'})", DESTRUCTIVE),
    ("js", "const axios = require('axios'); axios.delete('https://api.x/v1/a')", DESTRUCTIVE),
    ("js", "const lib = require('./lib')", DESTRUCTIVE),  # the local file is read
    ("js", "const express = require('express'); express().listen(3000)", UNKNOWN),
    ("js", "eval(process.argv[1])", UNKNOWN),
    ("js", "require(process.env.MOD)", UNKNOWN),
    ("js", "require('fs')['rmSync']('/', {recursive: true})", DESTRUCTIVE),
    ("ruby", "puts 'hello'", READ),
    ("ruby", "x = [1, 2]\nx.each { |i| puts i * 2 }", READ),
    ("ruby", "require 'fileutils'\nFileUtils.rm_rf('/srv')", DESTRUCTIVE),
    ("ruby", "Dir.glob('*.log').each { |f| File.delete(f) }", DESTRUCTIVE),
    ("ruby", "`git reset --hard`", DESTRUCTIVE),
    ("ruby", "system('rm -rf /')", CATASTROPHIC),
    ("ruby", f"require 'net/http'\nuri = URI('{RAILWAY}')\nNet::HTTP.post(uri, "
             f"'{{\"query\": \"mutation {{ volumeDelete(volumeId: \\\\\"v\\\\\") }}\"}}', "
             "'Content-Type' => 'application/json')", CATASTROPHIC),
    ("ruby", "require 'net/http'\nreq = Net::HTTP::Delete.new(URI('https://api.x/v1/a'))",
     DESTRUCTIVE),
    ("ruby", "require_relative 'helpers'", DESTRUCTIVE),
    ("ruby", "obj.send(:system, 'rm -rf /')", UNKNOWN),
    ("ruby", "mystery_call(1)", UNKNOWN),
    ("perl", "print \"hello\\n\";", READ),
    ("perl", "unlink glob('/etc/*');", DESTRUCTIVE),
    ("perl", "use File::Path qw(remove_tree); remove_tree('/srv');", DESTRUCTIVE),
    ("perl", "my $out = `rm -rf /home/x`;", DESTRUCTIVE),
    ("perl", "use LWP::UserAgent; LWP::UserAgent->new->delete('https://api.x/v1/a');",
     DESTRUCTIVE),
    ("perl", "open(my $f, '|-', 'rm -rf /');", UNKNOWN),
    ("perl", "eval \"unlink 'x'\";", UNKNOWN),
    ("perl", "frobnicate(1);", UNKNOWN),
    ("php", "<?php echo 'hello';", READ),
    ("php", "<?php unlink('x.txt');", DESTRUCTIVE),
    ("php", f"<?php $ch = curl_init('{RAILWAY}');\ncurl_setopt($ch, CURLOPT_POSTFIELDS, "
            f"'{{\"query\": \"mutation {{ volumeDelete(volumeId: \\\\\"v\\\\\") }}\"}}');\n"
            "curl_exec($ch);", CATASTROPHIC),
    ("php", "<?php $f = 'system'; $f('rm -rf /');", UNKNOWN),
    ("php", "<?php include $path;", UNKNOWN),
    ("php", "<?php frobnicate(1);", UNKNOWN),
])
def test_other_languages(language: str, code: str, risk: Risk) -> None:
    check(language, code, risk)


# --------------------------------------------------------------------------------------------
# A computed part of a request does not hide what the rest says (curl, wget)

BODY = '\'{"query":"mutation { volumeDelete(volumeId: \\"vol-1\\") }"}\''


@pytest.mark.parametrize(("command", "risk"), [
    (f'curl -X POST {RAILWAY} -H "Authorization: Bearer $RAILWAY_TOKEN" -d {BODY}',
     CATASTROPHIC),
    (f'curl {RAILWAY} -H "Authorization: Bearer $(cat token)" -H "Content-Type: '
     f'application/json" --data-raw {BODY}', CATASTROPHIC),
    (f'curl -s -H "Cookie: s=$SESSION" --json {BODY} {RAILWAY}', CATASTROPHIC),
    (f'curl {RAILWAY} -d "{{\\"query\\":\\"mutation {{ volumeDelete(volumeId: \\\\\\"$VOL'
     f'\\\\\\") }}\\"}}"', CATASTROPHIC),  # the id computed: still volumeDelete
    (f'wget --header "Authorization: Bearer $T" --post-data {BODY} {RAILWAY}', CATASTROPHIC),
    ('curl -X DELETE "https://api.x/v1/items/$ID"', DESTRUCTIVE),
    ('curl -X POST -H "X-HTTP-Method-Override: $M" https://api.x/v1/a', UNKNOWN),
    ('curl -H "$HEADER" https://api.x/v1/a', UNKNOWN),
    ('curl "$URL"', UNKNOWN),
])
def test_computed_request_parts(command: str, risk: Risk) -> None:
    assessment = classify_shell(command, cwd="/p", reader=MemoryReader(FILES))
    assert assessment.risk is risk, (command, [(e.risk.value, e.reason)
                                               for e in assessment.effects])


def test_a_body_file_is_read() -> None:
    files = {**FILES, "/p/payload.json": f'{{"query": "{MUTATION.replace(chr(34), chr(92) + chr(34))}"}}'}
    assessment = classify_shell(f"curl -X POST -d @payload.json {RAILWAY}", cwd="/p",
                                reader=MemoryReader(files))
    assert assessment.risk is CATASTROPHIC
    assert "/p/payload.json" in dict(assessment.inputs)
