"""Times as an approver reads them: relative ("expires in 12 min", "3 min ago"), with the exact
time a hover away.

Rendered on the server from the console's injected clock (so a page is right without scripts,
and tests can pin it); `console.js` then keeps the relative text current and puts the exact
time in the reader's own time zone in the `title`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from markupsafe import Markup


@dataclass(frozen=True, slots=True)
class Moment:
    """One point in time on a page. In a template `{{ m }}` is the whole `<time>` element."""

    iso: str
    absolute: str  # UTC, for the title and for readers without scripts
    relative: str  # "in 12 min", "3 min ago", "just now"

    def __html__(self) -> str:
        return Markup('<time datetime="{}" title="{}" data-relative>{}</time>').format(
            self.iso, self.absolute, self.relative)

    def __str__(self) -> str:
        return self.relative


def moment(iso: str | None, now: datetime) -> Moment | None:
    """`iso` as a Moment seen from `now`; None for no time (and for text that is not a time:
    a page must render even when a stored record is odd)."""
    if not iso:
        return None
    try:
        at = datetime.fromisoformat(iso)
    except ValueError:
        return Moment(iso, iso, iso)
    return Moment(at.isoformat(), at.strftime("%Y-%m-%d %H:%M:%S UTC"), relative(at, now))


def relative(at: datetime, now: datetime) -> str:
    """Words for how far `at` is from `now`, coarser the further it is (mirrored by
    console.js's `relative`, which must stay in step with this)."""
    seconds = int((at - now).total_seconds())
    future = seconds > 0
    left = abs(seconds)
    if left < 45:
        return "in under a minute" if future else "just now"
    minutes = (left + 30) // 60
    if minutes < 60:
        span = f"{minutes} min"
    elif minutes < 24 * 60:
        hours, rest = divmod(minutes, 60)
        span = f"{hours} h {rest} min" if rest and hours < 6 else f"{hours} h"
    else:
        days = round(minutes / (24 * 60))
        span = f"{days} day{'s' if days != 1 else ''}"
    return f"in {span}" if future else f"{span} ago"
