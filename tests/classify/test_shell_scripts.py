"""Code the agent wrote is judged before it runs: a command that runs a file — a shell script,
a Python/JS/Ruby/Perl/PHP file, a program named by a path, a package.json script, a Makefile's
recipes — is judged by what that file contains, read before it runs. A file that cannot be read
(missing, binary, too large, not text, on another machine, in a directory that cannot be told)
is unknown. Each class has several spellings of its own.

The SQL and HTTP classifiers are the real ones here: `volumeDelete` in a script's curl must be
catastrophic, which only the HTTP classifier can say."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from airlock.classify import MAX_INPUT_BYTES
from airlock.classify.shell import classify_shell
from airlock.classify.shell.files import DiskReader, MemoryReader
from airlock.model import Assessment, Risk, Target

READ, WRITE, DESTRUCTIVE, CATASTROPHIC, UNKNOWN = (
    Risk.READ, Risk.WRITE, Risk.DESTRUCTIVE, Risk.CATASTROPHIC, Risk.UNKNOWN)

VOLUME_DELETE = ("curl -X POST https://backboard.railway.com/graphql/v2 "
                 "-H 'Content-Type: application/json' "
                 "-d '{\"query\":\"mutation { volumeDelete(volumeId: \\\"vol-1\\\") }\"}'")

FILES: dict[str, str | bytes] = {
    # shell scripts
    "/p/deploy.sh": f"#!/bin/bash\nset -e\necho deploying\n{VOLUME_DELETE}\n",
    "/p/ok.sh": "#!/bin/sh\necho hello\nls -la\n",
    "/p/noshebang": "git reset --hard\n",
    "/p/scripts/wipe": "#!/usr/bin/env bash\nrm -rf /srv/data\n",
    "/p/scripts/outer.sh": "bash scripts/inner.sh\n",
    "/p/scripts/inner.sh": "git clean -fdx\n",
    "/p/loop.sh": "bash loop.sh\n",
    "/p/env.sh": "export APP=1\ncd /p/app\n",
    "/p/app/run.sh": "rm -rf ./build\n",
    "/p/run.sh": "echo fine\n",
    "/p/broken.sh": "if then fi (\n",
    # other languages
    "/p/cleanup.py": "import shutil\nshutil.rmtree('/srv/data')\n",
    "/p/report.py": "import json\nprint(json.dumps({'a': 1}))\n",
    "/p/tool.py": "#!/usr/bin/env python3\nimport os\nos.system('dropdb prod')\n",
    "/p/wipe.js": "const fs = require('fs');\nfs.rmSync('/srv/data', {recursive: true});\n",
    "/p/wipe.ts": "#!/usr/bin/env -S npx tsx\nimport { execSync } from 'child_process';\n"
                  "execSync('rm -rf /srv/data');\n",
    "/p/wipe.rb": "require 'fileutils'\nFileUtils.rm_rf('/srv/data')\n",
    "/p/wipe.pl": "system('rm -rf /srv/data');\n",
    "/p/wipe.php": "<?php unlink('app.db');\n",
    "/p/script.lua": "#!/usr/bin/env lua\nos.remove('x')\n",
    "/p/awk.sh": "#!/usr/bin/awk -f\n{ system($0) }\n",
    # programs
    "/p/bin/tool": b"\x7fELF\x02\x01\x01\x00" + bytes(64),
    "/p/bin/terraform": b"\x7fELF\x02\x01\x01\x00" + bytes(64),
    "/p/latin1.sh": b"echo \xe9\n",
    "/p/.venv/pyvenv.cfg": "home = /usr/bin\n",
    "/p/.venv/bin/python": b"\x7fELF\x02\x01\x01\x00",
    "/p/node_modules/.bin/jest": "#!/usr/bin/env node\nrequire('jest-cli/bin/jest');\n",
    "/p/manage.py": "#!/usr/bin/env python\nimport sys\n"
                    "from django.core.management import execute_from_command_line\n"
                    "execute_from_command_line(sys.argv)\n",
    "/p/big.sh": "#" * (MAX_INPUT_BYTES + 1),
    # package.json scripts
    "/p/package.json": (
        '{"scripts": {"deploy": "bash deploy.sh", "test": "jest", "clean": "rm -rf dist",'
        ' "prebuild": "rm -rf /srv/cache", "build": "tsc", "postinstall": "node wipe.js",'
        ' "lint": "eslint ."}}'),
    "/p/app/package.json": '{"scripts": {"test": "echo ok"}}',
    "/p/web/src/.keep": "",
    "/p/web/package.json": "this is not json",
    # Makefiles
    "/p/Makefile": (
        "BUILD := build\nPROD_DB = postgres://db.prod/app\n\n"
        "all: compile\n\ncompile:\n\tgo build ./...\n\n"
        "clean:\n\t@echo cleaning\n\t-rm -rf $(BUILD)\n\n"
        "reset:\n\tpsql $(PROD_DB) -c 'DROP DATABASE app'\n\n"
        "wipe:\n\trm -rf $(OUT)/\n\n"
        "deploy: compile\n\t./scripts/wipe\n\n.PHONY: all clean reset deploy\n"),
    "/p/app/Makefile": "x:\n\techo $(shell rm -rf /srv/data)\n",
    "/p/mk/Makefile": "FILES != git clean -fdx\nx:\n\techo ok\n",
    "/p/mk2/Makefile": "include rules.mk\n",
    "/p/mk2/rules.mk": "all:\n\tgit reset --hard\n",
    "/p/mk3/Makefile": "$(eval X := 1)\nall:\n\techo\n",
    "/p/mk4/Makefile": "SHELL = /usr/bin/python3\nall:\n\tprint(1)\n",
    "/p/other.mk": "go:\n\tgit push --force origin main\n",
}

CWD = "/p"


def judge(command: str, cwd: str | None = CWD, files: dict[str, str | bytes] | None = None
          ) -> Assessment:
    return classify_shell(command, cwd=cwd, reader=MemoryReader(FILES if files is None
                                                                else files))


def check(command: str, risk: Risk, *, cwd: str | None = CWD) -> Assessment:
    assessment = judge(command, cwd)
    assert assessment.risk is risk, (command, assessment.risk,
                                     [(e.risk.value, e.reason) for e in assessment.effects])
    return assessment


# --------------------------------------------------------------------------------------------
# Shell scripts


@pytest.mark.parametrize(("command", "risk"), [
    ("bash deploy.sh", CATASTROPHIC),
    ("sh deploy.sh", CATASTROPHIC),
    ("zsh ./deploy.sh", CATASTROPHIC),
    ("bash -e -x /p/deploy.sh", CATASTROPHIC),
    ("./deploy.sh", CATASTROPHIC),
    ("/p/deploy.sh --now", CATASTROPHIC),
    ("source deploy.sh", CATASTROPHIC),
    (". ./deploy.sh", CATASTROPHIC),
    ("sudo bash deploy.sh", CATASTROPHIC),
    ("timeout 60 ./deploy.sh", CATASTROPHIC),
    ("echo go && bash deploy.sh", CATASTROPHIC),
    ("scripts/wipe", DESTRUCTIVE),
    ("./noshebang", DESTRUCTIVE),
    ("bash scripts/outer.sh", DESTRUCTIVE),
    ("bash ok.sh", READ),
    ("./ok.sh", READ),
    ("source ok.sh", READ),
])
def test_shell_scripts_are_judged_by_their_content(command: str, risk: Risk) -> None:
    check(command, risk)


def test_the_reasons_name_the_script_and_the_file_is_a_target() -> None:
    assessment = check("bash deploy.sh", CATASTROPHIC)
    assert Target("path", "deploy.sh", contextual=True) in assessment.targets
    assert Target("railway:volume", "vol-1") in assessment.targets
    assert any("volumeDelete" in r and "(in deploy.sh)" in r for r in assessment.reasons)


@pytest.mark.parametrize(("command", "why"), [
    ("bash missing.sh", "is missing"),
    ("./missing", "is missing"),
    ("source nothere.sh", "is missing"),
    ("bash big.sh", "larger than"),
    ("bash latin1.sh", "not UTF-8"),
    ("./bin/tool --flag", "binary program"),
    ("bash broken.sh", "syntax error"),
    ("bash loop.sh", "nested more than"),
    ("bash $SCRIPT", "computed at run time"),
    ("bash ~/deploy.sh", "home folder"),
    ("./script.lua", "with lua"),
    ("./awk.sh", "awk"),
    ("fish deploy.fish", "whose language airlock does not read"),
])
def test_a_script_that_cannot_be_read_is_unknown(command: str, why: str) -> None:
    assessment = judge(command)
    assert assessment.risk is UNKNOWN and not assessment.complete, assessment
    assert any(why in r for r in assessment.reasons), assessment.reasons


def test_without_a_reader_or_a_directory_scripts_are_unknown() -> None:
    assert classify_shell("bash deploy.sh").risk is UNKNOWN  # no reader: nothing is read
    assert judge("bash deploy.sh", cwd=None).risk is UNKNOWN  # relative, no directory
    assert judge("bash /p/deploy.sh", cwd=None).risk is CATASTROPHIC  # absolute needs none


def test_what_was_read_is_recorded_for_the_approval() -> None:
    first = judge("bash deploy.sh && bash missing.sh")
    assert dict(first.inputs)["/p/missing.sh"] == "missing"
    assert dict(first.inputs)["/p/deploy.sh"].startswith("sha256:")
    edited = judge("bash deploy.sh && bash missing.sh",
                   files={**FILES, "/p/deploy.sh": "echo harmless\n"})
    assert dict(edited.inputs)["/p/deploy.sh"] != dict(first.inputs)["/p/deploy.sh"]
    assert judge("ls").inputs == ()


# --------------------------------------------------------------------------------------------
# Other languages


@pytest.mark.parametrize(("command", "risk"), [
    ("python3 cleanup.py", DESTRUCTIVE),
    ("python cleanup.py --yes", DESTRUCTIVE),
    ("python3 -u ./cleanup.py", DESTRUCTIVE),
    (".venv/bin/python cleanup.py", DESTRUCTIVE),
    ("./tool.py", CATASTROPHIC),
    ("python3 tool.py", CATASTROPHIC),
    ("python3 report.py", READ),
    ("node wipe.js", DESTRUCTIVE),
    ("node --require ./wipe.js -e 'console.log(1)'", DESTRUCTIVE),
    ("deno run wipe.ts", DESTRUCTIVE),
    ("./wipe.ts", DESTRUCTIVE),
    ("bun run wipe.ts", DESTRUCTIVE),
    ("ruby wipe.rb", DESTRUCTIVE),
    ("ruby -r ./wipe.rb -e 'puts 1'", DESTRUCTIVE),
    ("perl wipe.pl", DESTRUCTIVE),
    ("php wipe.php", DESTRUCTIVE),
    ("php -f wipe.php", DESTRUCTIVE),
])
def test_files_in_other_languages_are_judged_by_their_content(command: str,
                                                                 risk: Risk) -> None:
    check(command, risk)


@pytest.mark.parametrize(("command", "risk"), [
    ("python manage.py flush --noinput", CATASTROPHIC),  # the script and the command it runs
    ("./manage.py migrate", WRITE),
    (".venv/bin/python -c 'print(1)'", READ),  # an installed interpreter: by name
    ("node_modules/.bin/jest --ci", WRITE),  # an installed program: by name
    ("./bin/terraform destroy", CATASTROPHIC),  # a binary airlock knows: by name
])
def test_installed_and_known_programs_by_path(command: str, risk: Risk) -> None:
    check(command, risk)


# --------------------------------------------------------------------------------------------
# Where a command runs


@pytest.mark.parametrize(("command", "risk", "read"), [
    ("cd app && bash run.sh", DESTRUCTIVE, ["/p/app/run.sh"]),
    ("cd /p/app && bash run.sh", DESTRUCTIVE, ["/p/app/run.sh"]),
    ("cd app && echo x && bash run.sh", DESTRUCTIVE, ["/p/app/run.sh"]),
    ("cd app || exit 1; bash run.sh", DESTRUCTIVE, ["/p/app/run.sh"]),
    ("cd app; bash run.sh", DESTRUCTIVE, ["/p/app/run.sh", "/p/run.sh"]),  # cd may fail
    ("cd app && true; bash run.sh", DESTRUCTIVE, ["/p/app/run.sh", "/p/run.sh"]),
    ("(cd app); bash run.sh", READ, ["/p/run.sh"]),  # a subshell's cd ends with it
    ("(cd app && bash run.sh)", DESTRUCTIVE, ["/p/app/run.sh"]),
    ("echo $(cd app) && bash run.sh", READ, ["/p/run.sh"]),
    ("pushd app && bash run.sh", DESTRUCTIVE, ["/p/app/run.sh"]),
    ("source env.sh; bash run.sh", DESTRUCTIVE, ["/p/app/run.sh", "/p/run.sh"]),
])
def test_the_working_directory_follows_cd(command: str, risk: Risk, read: list[str]) -> None:
    assessment = check(command, risk)
    scripts = [p for p, _ in assessment.inputs if p.endswith("run.sh")]
    assert sorted(scripts) == sorted(read)


@pytest.mark.parametrize("command", [
    "f() { cd app; }; f; bash run.sh",
    "cd() { :; }; cd /p/app && bash run.sh",
    "CDPATH=/elsewhere; cd app && bash run.sh",
    "cd $DIR && bash run.sh",
    "cd && bash run.sh",
    "popd && bash run.sh",
])
def test_a_directory_that_cannot_be_told_makes_scripts_unknown(command: str) -> None:
    assessment = judge(command)
    assert assessment.risk is UNKNOWN, assessment
    assert any("working directory airlock was not told" in r for r in assessment.reasons)


@pytest.mark.parametrize("command", [
    "ssh prod bash deploy.sh",
    "ssh prod ./deploy.sh",
    "docker exec web bash deploy.sh",
    "docker run --rm img python3 cleanup.py",
    "kubectl exec api-0 -- ./deploy.sh",
    "chroot /mnt bash deploy.sh",
])
def test_scripts_on_another_machine_are_not_read_here(command: str) -> None:
    assessment = judge(command)
    assert assessment.risk is UNKNOWN, assessment
    assert assessment.inputs == () or all(not p.endswith("deploy.sh") for p, _ in
                                          assessment.inputs)


# --------------------------------------------------------------------------------------------
# package.json scripts


@pytest.mark.parametrize(("command", "risk"), [
    ("npm run deploy", CATASTROPHIC),
    ("npm run-script deploy", CATASTROPHIC),
    ("npm run clean", DESTRUCTIVE),
    ("yarn clean", DESTRUCTIVE),
    ("yarn run clean", DESTRUCTIVE),
    ("pnpm clean", DESTRUCTIVE),
    ("pnpm run clean", DESTRUCTIVE),
    ("bun run clean", DESTRUCTIVE),
    ("npm run build", DESTRUCTIVE),  # its prebuild script
    ("npm install", DESTRUCTIVE),  # the project's postinstall
    ("npm ci", DESTRUCTIVE),
    ("yarn", DESTRUCTIVE),
    ("npm test", WRITE),
    ("npm run lint -- --fix", WRITE),
    ("cd app && npm test", READ),
    ("npm --prefix app test", READ),
    ("cd web/src && npm test", UNKNOWN),  # the nearest package.json is not JSON
    ("npm run nope", UNKNOWN),
    ("npm run -w pkg test", UNKNOWN),
    ("npm run", READ),
])
def test_package_scripts_are_judged(command: str, risk: Risk) -> None:
    check(command, risk)


def test_a_missing_package_json_is_unknown() -> None:
    assessment = judge("npm run deploy", files={})
    assert assessment.risk is UNKNOWN
    assert judge("npm install", files={}).risk is WRITE  # installing runs no project script


# --------------------------------------------------------------------------------------------
# Makefiles


@pytest.mark.parametrize(("command", "risk"), [
    ("make", WRITE),  # all → compile: go build
    ("make all", WRITE),
    ("make clean", DESTRUCTIVE),
    ("make reset", CATASTROPHIC),
    ("make deploy", DESTRUCTIVE),  # its recipe runs ./scripts/wipe, read in turn
    ("make wipe", DESTRUCTIVE),  # rm -rf $(OUT)/, OUT undefined: may be / (and unknown)
    ("make -n clean", READ),
    ("make -C app", DESTRUCTIVE),  # $(shell rm -rf …)
    ("cd app && make x", DESTRUCTIVE),
    ("make -C mk x", DESTRUCTIVE),  # FILES != git clean -fdx
    ("make -C mk2", DESTRUCTIVE),  # include rules.mk
    ("make -C mk3", UNKNOWN),  # $(eval …)
    ("make -C mk4", UNKNOWN),  # SHELL is python
    ("make -f other.mk go", DESTRUCTIVE),
    ("make -f /dev/stdin <<'EOF'\nall:\n\trm -rf /srv/data\nEOF", DESTRUCTIVE),
    ("make -f /dev/stdin", UNKNOWN),
    ("make -f - < Makefile", UNKNOWN),
    ("make -C nowhere", UNKNOWN),
    ("gmake clean", DESTRUCTIVE),
    ("make --version", READ),
])
def test_make_recipes_are_judged(command: str, risk: Risk) -> None:
    check(command, risk)


# --------------------------------------------------------------------------------------------
# The disk reader


def test_the_disk_reader_reads_only_regular_files_and_never_blocks(tmp_path: Path) -> None:
    reader = DiskReader(limit=64)
    (tmp_path / "ok.sh").write_text("rm -rf /srv/data\n")
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "dir").mkdir()
    (tmp_path / "big").write_text("x" * 65)
    (tmp_path / "link.sh").symlink_to(tmp_path / "ok.sh")
    assert reader.read(str(tmp_path / "ok.sh")).data == b"rm -rf /srv/data\n"
    assert reader.read(str(tmp_path / "link.sh")).data == b"rm -rf /srv/data\n"
    assert reader.read(str(tmp_path / "fifo")).problem == "not a regular file"
    assert reader.read(str(tmp_path / "dir")).problem == "not a regular file"
    assert reader.read(str(tmp_path / "big")).problem == "larger than 64 bytes"
    assert reader.read(str(tmp_path / "gone")).problem == "missing"
    assert reader.read("/dev/zero").problem == "not a regular file"
    assert reader.read("relative.sh").problem == "not an absolute path"
    assert reader.read(str(tmp_path / "ok.sh" / "x")).problem == "missing"


def test_through_the_disk(tmp_path: Path) -> None:
    (tmp_path / "deploy.sh").write_text(VOLUME_DELETE + "\n")
    assessment = classify_shell("bash deploy.sh", cwd=str(tmp_path), reader=DiskReader())
    assert assessment.risk is CATASTROPHIC


# --------------------------------------------------------------------------------------------
# Programs that run code airlock cannot see

@pytest.mark.parametrize("command", [
    "ipython -c 'import os; os.remove(\"x\")'", "ipython", "lua x.lua", "luajit -e 'x()'",
    "julia -e 'rm(\"/srv\"; recursive=true)'", "Rscript -e 'unlink(\"x\")'", "R --vanilla",
    "gdb -batch -ex 'shell rm -rf /'", "lldb -o 'platform shell rm -rf /'",
    "vim -c ':!rm -rf /' x", "nvim --headless -c 'qa'", "vim '+!rm -rf /' x", "vim -es",
    "emacs --batch --eval '(delete-file \"x\")'", "tmux new -d 'rm -rf /'",
    "tmux new-session -d -s x 'bash deploy.sh'", "tmux send-keys -t dev 'rm -rf /' Enter",
    "screen -dmS job rm -rf /", "at now + 1 minute", "echo 'rm -rf /' | at now", "batch",
    "parallel rm ::: a b", "parallel -j4 ::: 'rm -rf a' 'rm -rf b'", "ls | parallel rm",
    "tar -cf x.tar --checkpoint=1 --checkpoint-action=exec='rm -rf /' .",
    "tar -xf a.tar --to-command='sh -c x'", "make -f /dev/stdin", "crontab jobs.txt",
    "git -c protocol.ext.allow=always clone 'ext::sh -c touch% /tmp/pwned' x",
    "git clone --upload-pack='rm -rf /' repo x", "git push --receive-pack='x' origin main",
    "BASH_ENV=./evil.sh bash -c true", "ENV=./evil sh -c true", "export BASH_ENV=x; bash -c ls",
    "LD_PRELOAD=./evil.so ls", "NODE_OPTIONS='--require ./evil.js' node app.js",
    "pm2 start server.js", "nodemon app.js", "systemd-run rm -rf /srv",
])
def test_programs_that_run_unseen_code_are_unknown(command: str) -> None:
    assessment = judge(command)
    assert assessment.risk.at_least(UNKNOWN), (command, assessment)
    assert not assessment.complete


@pytest.mark.parametrize(("command", "risk"), [
    ("vim notes.txt", WRITE), ("tmux ls", READ), ("tmux kill-session -t dev", WRITE),
    ("at -l", READ), ("pm2 list", READ), ("lua --version", READ),
    ("tar -czf out.tgz src", WRITE), ("NODE_OPTIONS=--max-old-space-size=4096 node -e '1'",
                                       WRITE),
    ("crontab -l", READ),
])
def test_their_harmless_uses_are_not(command: str, risk: Risk) -> None:
    check(command, risk)


# --------------------------------------------------------------------------------------------
# git runs commands of its options, its repository's configuration and its hooks

GIT = {
    "/r/.git/HEAD": "ref: refs/heads/main\n",
    "/r/.git/config": ("[core]\n\tbare = false\n\tfsmonitor = \"rm -rf /srv\"\n"
                       "[alias]\n\tnuke = !git clean -fdx\n\tst = status\n"),
    "/r/.git/hooks/pre-commit": "#!/bin/sh\ncurl -X DELETE https://api.x/v1/a\n",
    "/r/.git/hooks/pre-push.sample": "#!/bin/sh\nrm -rf /\n",
    "/s/.git/HEAD": "ref: refs/heads/main\n",
    "/s/.git/config": "[core]\n\thooksPath = .husky\n",
    "/s/.husky/pre-push": "#!/bin/sh\nnpm test\n",
    "/s/package.json": '{"scripts": {"test": "rm -rf dist"}}',
    "/w/.git": "gitdir: /r/.git/worktrees/w\n",
    "/r/.git/worktrees/w/commondir": "../..\n",
    "/c/.git/HEAD": "ref: refs/heads/main\n",
    "/c/.git/config": "[core]\n\tbare = false\n",
}


@pytest.mark.parametrize(("command", "cwd", "risk"), [
    ("git log", "/c", READ),  # a plain repository
    ("git status", "/r", DESTRUCTIVE),  # core.fsmonitor runs on status
    ("git commit -m x", "/c", WRITE),
    ("git nuke", "/r", DESTRUCTIVE),  # an alias that runs a shell command
    ("git push", "/s/src", DESTRUCTIVE),  # core.hooksPath: .husky/pre-push runs npm test
    ("git log", "/w", DESTRUCTIVE),  # a worktree: the main repository's configuration
    ("git rebase -i --exec 'rm -rf /' HEAD~3", "/c", CATASTROPHIC),
    ("git rebase -x 'git clean -fdx' main", "/c", DESTRUCTIVE),
    ("git bisect run rm -rf /srv", "/c", DESTRUCTIVE),
    ("git submodule foreach 'git reset --hard'", "/c", DESTRUCTIVE),
    ("git submodule foreach --recursive rm -rf build", "/c", DESTRUCTIVE),
    ("git filter-branch --tree-filter 'rm -rf secrets' HEAD", "/c", DESTRUCTIVE),
    ("git difftool -x 'rm -rf /srv' HEAD", "/c", DESTRUCTIVE),
])
def test_git_runs_what_it_is_told_and_what_its_repository_says(command: str, cwd: str,
                                                              risk: Risk) -> None:
    assessment = classify_shell(command, cwd=cwd, reader=MemoryReader(GIT))
    assert assessment.risk is risk, (command, [(e.risk.value, e.reason)
                                               for e in assessment.effects])


def test_git_hooks_run_by_the_subcommand_are_judged() -> None:
    commit = classify_shell("git commit -m x", cwd="/r/src", reader=MemoryReader(GIT))
    assert any("pre-commit" in r for r in commit.reasons)
    assert "/r/.git/hooks/pre-commit" in dict(commit.inputs)
    log = classify_shell("git log", cwd="/c", reader=MemoryReader(GIT))
    assert not any("hooks" in p for p, _ in log.inputs)  # git log runs no hook


# --------------------------------------------------------------------------------------------
# Bash evaluates arithmetic: a subscript runs its command substitution, quoted or not

@pytest.mark.parametrize("command", [
    "let 'a[$(rm -rf /srv)]'", "let \"x = a[$(rm -rf /srv)]\"",
    "[[ -v 'a[$(rm -rf /srv)]' ]]", "[[ -R 'a[`rm -rf /srv`]' ]]",
    "[[ 'a[$(rm -rf /srv)]' -eq 1 ]]", "[[ 1 -lt 'a[$(rm -rf /srv)]' ]]",
    "test -v 'a[$(rm -rf /srv)]'", "[ -v 'a[$(rm -rf /srv)]' ]",
    "(( a[$(rm -rf /srv)] ))", "x='a[$(rm -rf /srv)]'; (( x ))",
    "x='a[$(rm -rf /srv)]'; echo $(( x + 1 ))", "x='a[$(rm -rf /srv)]'; let x",
    "declare 'a[$(rm -rf /srv)]=1'", "local 'a[$(rm -rf /srv)]'",
    "unset 'a[$(rm -rf /srv)]'", "printf -v 'a[$(rm -rf /srv)]' x",
    "read 'a[$(rm -rf /srv)]' < /dev/null", "mapfile 'a[$(rm -rf /srv)]' < f",
])
def test_arithmetic_subscripts_are_judged(command: str) -> None:
    assessment = judge(command)
    assert assessment.risk.at_least(DESTRUCTIVE), (command, assessment.effects)
    assert Target("path", "/srv", contextual=True) in assessment.targets


@pytest.mark.parametrize("command", [
    "let 'x = 1 + 2'", "[[ -v HOME ]]", "[[ $n -gt 3 ]]", "(( i++ ))", "test -v PATH",
    "for ((i=0; i<10; i++)); do echo $i; done", "printf -v out '%s' x", "read -r line",
])
def test_plain_arithmetic_is_a_read(command: str) -> None:
    assert judge(command).risk is READ


# --------------------------------------------------------------------------------------------
# Overwriting a database file is destructive, like truncating it

@pytest.mark.parametrize("command", [
    "dd if=/dev/zero of=app.db", "dd if=/dev/urandom of=data/prod.sqlite3 bs=1M count=1",
    "ln -sf /dev/null db.sqlite", "ln --force --symbolic /tmp/empty app.db",
    "install /dev/null app.db", "install -m 600 new.sqlite3 data/app.sqlite3",
    "echo '' | tee prod.sqlite3", "cp /dev/null app.db", "mv empty.db app.db",
    "rsync -a empty.db prod.db", "scp empty.db host:/srv/prod.db", ": > app.db",
    "truncate -s 0 app.db", "python3 -c \"open('app.db', 'w').close()\"",
])
def test_overwriting_a_database_file_is_destructive(command: str) -> None:
    assessment = judge(command)
    assert assessment.risk is DESTRUCTIVE, (command, assessment.effects)


@pytest.mark.parametrize("command", [
    "dd if=/dev/zero of=disk.img bs=1M count=1", "ln -s /dev/null db.sqlite",
    "install -m 755 tool bin/tool", "tee -a app.db.log", "cp app.db /backups/",
])
def test_other_writes_stay_writes(command: str) -> None:
    assert judge(command).risk in (READ, WRITE), command
