"""Parts of airlock that are installed only when asked for (`pyproject.toml` extras).

AWS support — the S3 vault and `kind = "api"` resources on AWS — needs botocore (and boto3),
some 100 MB that nobody without AWS should have to install, so it is the `aws` extra. Code that
needs it imports it only when it is used, after `require(AWS)`: its absence then fails that use
with an error naming the extra, and nothing else.
"""

from __future__ import annotations

import importlib.util
import shlex
import sys
from dataclasses import dataclass

from airlock.errors import AirlockError

__all__ = ["AWS", "Extra", "MissingExtraError", "require"]


@dataclass(frozen=True, slots=True)
class Extra:
    name: str  # as in pyproject.toml's [project.optional-dependencies]
    modules: tuple[str, ...]  # what must be importable
    requirements: tuple[str, ...]  # what the extra installs (pyproject.toml says the same)
    purpose: str


AWS = Extra("aws", ("boto3", "botocore"), ("boto3>=1.34",),
            "AWS support (the S3 vault, AWS resources of the API proxy)")


class MissingExtraError(AirlockError):
    """An optional part airlock needs for this is not installed."""


def installed(extra: Extra) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in extra.modules)


def require(extra: Extra, what: str) -> None:
    """Raise MissingExtraError, saying how to install it, unless `extra` is installed."""
    if installed(extra):
        return
    # Never `pip install airlock[…]`: the name on PyPI is not this project. Into the environment
    # airlock runs in, its own python installs what the extra holds.
    into_this = " ".join(shlex.quote(x) for x in (sys.executable, "-m", "pip", "install",
                                                    *extra.requirements))
    raise MissingExtraError(
        f"{what} needs {extra.purpose}, which is not installed",
        hint=f"install airlock's `{extra.name}` extra: from a checkout "
             f"`AIRLOCK_EXTRAS={extra.name} bin/airlock …` (once); installed with pipx, "
             f"`pipx install --force 'PATH/TO/CHECKOUT[{extra.name}]'`; otherwise `{into_this}`")
