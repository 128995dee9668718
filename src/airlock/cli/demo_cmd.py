"""`airlock demo [--json]`: the incident replayed with real parts (airlock/demo/)."""

from __future__ import annotations

import json
import signal
import sys
import time
from types import FrameType

import typer
from rich.markup import escape

from airlock.cli.app import EXIT_ERROR, EXIT_FAILED, app, err, out
from airlock.demo import Demo, MissingPart, Step

EXIT_INTERRUPTED = 130  # as a shell reports a Ctrl-C


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM cleans up the way Ctrl-C does


@app.command("demo")
def demo(as_json: bool = typer.Option(False, "--json", help="Print the steps as JSON (name, "
                                      "expected, observed, ok) and nothing else on stdout.")) -> None:
    """Replay the incident — an agent deleting a volume with a token it found — against a
    throwaway PostgreSQL, a local Railway-like API and a real `airlock up`, and check that
    airlock stops it at each step. Exit 0 only if every step behaved as expected; everything
    started is removed afterwards."""
    started = time.monotonic()
    screen = err if as_json else out

    def narrate(line: str) -> None:
        if line.startswith("step "):
            screen.print(f"\n[bold]{escape(line)}[/]")
        else:
            screen.print(f"[dim]{escape(line)}[/]" if not line.startswith("  ") else escape(line))

    def finished(step: Step) -> None:
        if step.ok:
            screen.print(f"[bold green]✓[/] {escape(step.observed)} [dim]({step.seconds:.1f} s)[/]")
        elif not step.observed.startswith("not run"):
            screen.print(f"[bold red]✗ expected:[/] {escape(step.expected)}")
            screen.print(f"[bold red]  observed:[/] {escape(step.observed)}")

    if not as_json:
        out.print("[bold]airlock demo[/]: an agent with a shell finds a Railway token in a file "
                  "and deletes the volume behind production, staging and their backups. Here "
                  "it meets airlock.")
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        steps = Demo(narrate=narrate, finished=finished).run()
    except MissingPart as exc:
        if as_json:
            print(json.dumps({"error": exc.message}))
        err.print(f"[bold red]cannot run the demo:[/] {escape(str(exc))}")
        raise typer.Exit(EXIT_ERROR) from None
    except KeyboardInterrupt:  # the stack has unwound: everything started is stopped
        err.print("\ninterrupted; everything the demo started is stopped and removed")
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        signal.signal(signal.SIGTERM, previous)
    ok = all(s.ok for s in steps)
    if as_json:
        print(json.dumps([s.to_json() for s in steps], indent=2))
    else:
        done = sum(s.ok for s in steps)
        verdict = "[bold green]airlock stopped the incident[/]" if ok else \
            "[bold red]the demo did not go as expected[/]"
        out.print(f"\n{verdict}: {done} of {len(steps)} steps as expected in "
                  f"{time.monotonic() - started:.1f} s; everything it started is gone")
    sys.stdout.flush()
    if not ok:
        raise typer.Exit(EXIT_FAILED)
