"""airlock: a gateway between AI coding agents and real infrastructure."""

__version__ = "0.1.0"

__all__ = ["__version__"]
