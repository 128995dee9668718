"""Fronts: translate a wire format into Actions for the gate, and the gate's answer back.

    check.py   `airlock check` — one action from the command line, or JSON lines on stdin
    api.py     the HTTP API served by `airlock up`

A front does nothing but translate: every judgement happens in the gate.
"""
