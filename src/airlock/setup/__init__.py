"""`airlock setup`: the sound deployment in one command — airlock as its own OS user.

    layout.py      where a system install puts things (and `--root` to put them elsewhere)
    system.py      OS users, the tools that change them, files with an owner and mode, run_as
    texts.py       the files it writes: configuration, systemd unit, `airlock` wrapper
    configfile.py  editing airlock.toml key by key (tomlkit), validated before it is written
    code.py        the root-owned venv `airlock up` runs from
    machine.py     the steps: plan what is still needed, print it, apply it
    undo.py        `--undo`: the steps reversed, data kept
    record.py      setup.json: what setup did, for --undo and `airlock doctor`
    helper.py      work inside a developer's home, done as that developer
"""
