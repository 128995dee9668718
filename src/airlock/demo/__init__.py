"""`airlock demo`: the incident replayed with real parts (see replay.py)."""

from airlock.demo.parts import MissingPart
from airlock.demo.replay import STEPS, Demo, Step

__all__ = ["STEPS", "Demo", "MissingPart", "Step"]
