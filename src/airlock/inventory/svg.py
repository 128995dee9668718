"""The resource graph as an SVG drawn on the server: no script, no framework, no CDN (the
console's CSP allows none), and no styles either — colours are presentation attributes, which
the CSP does not treat as inline styles.

Layout is layered and computed here: a resource sits one layer below the deepest resource it is
stored on or attached to, so hosts are above what lives on them and an arrow always points up to
what its source cannot live without; `backs up` arrows are drawn dashed and do not decide layers.
Within a layer resources are ordered by environment, then name. Highlighted resources (an
action's blast radius) are red; the action's own targets have a thicker border.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from xml.sax.saxutils import escape, quoteattr

from airlock.config import Resource

__all__ = ["graph_svg"]

NODE_W, NODE_H = 190, 54
GAP_X, GAP_Y = 36, 78
MARGIN = 24
MAX_DEPTH = 64

_PLAIN = {"fill": "#f6f7f9", "stroke": "#8a94a6", "text": "#1f2933"}
_HIT = {"fill": "#fdecea", "stroke": "#c62828", "text": "#7f1010"}
_EDGE = {"stored_on": ("stored on", ""), "attached_to": ("attached to", ""),
         "backs_up": ("backs up", "6 4")}


def graph_svg(resources: Iterable[Resource], *, highlight: Collection[str] = (),
              targets: Collection[str] = (), production: Collection[str] = (),
              title: str = "Resources") -> str:
    """An SVG document (a string) of the resources and their edges. `highlight`: names drawn
    as hit (the blast radius); `targets`: names drawn as the action's own targets;
    `production`: environment names to mark as production."""
    nodes = {r.name: r for r in resources}
    layers = _layers(nodes)
    rows: dict[int, list[Resource]] = {}
    for name, depth in layers.items():
        rows.setdefault(depth, []).append(nodes[name])
    for row in rows.values():
        row.sort(key=lambda r: (r.environment, r.name))
    widest = max((len(row) for row in rows.values()), default=1)
    width = MARGIN * 2 + widest * NODE_W + (widest - 1) * GAP_X
    height = MARGIN * 2 + max(len(rows), 1) * (NODE_H + GAP_Y) - GAP_Y
    if any(r.backs_up for r in nodes.values()):
        height += round(GAP_Y * 0.6)  # room for the arcs drawn under the lowest row
    place: dict[str, tuple[float, float]] = {}
    for depth, row in rows.items():
        span = len(row) * NODE_W + (len(row) - 1) * GAP_X
        left = (width - span) / 2
        for index, res in enumerate(row):
            place[res.name] = (left + index * (NODE_W + GAP_X), MARGIN + depth * (NODE_H + GAP_Y))

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="resource-graph" role="img" '
             f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
             f'font-family="system-ui, sans-serif" font-size="13">',
             f"<title>{escape(title)}</title>",
             '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
             'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
             'fill="#5b6475"/></marker><marker id="arrow-hit" viewBox="0 0 10 10" refX="9" '
             'refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
             '<path d="M0,0 L10,5 L0,10 z" fill="#c62828"/></marker></defs>']
    for res in nodes.values():
        for edge, hosts in (("stored_on", res.stored_on), ("attached_to", res.attached_to),
                            ("backs_up", res.backs_up)):
            for host in hosts:
                if host in place:
                    parts.append(_edge(res.name, host, edge, place,
                                       hit=res.name in highlight and host in highlight))
    for name, (x, y) in place.items():
        parts.append(_node(nodes[name], x, y, hit=name in highlight, target=name in targets,
                           production=nodes[name].environment in production))
    parts.append("</svg>")
    return "".join(parts)


def _layers(nodes: dict[str, Resource]) -> dict[str, int]:
    depth: dict[str, int] = {}

    def of(name: str, trail: tuple[str, ...]) -> int:
        if name in depth:
            return depth[name]
        res = nodes[name]
        hosts = [h for h in (*res.stored_on, *res.attached_to) if h in nodes and h not in trail]
        found = 0 if not hosts or len(trail) > MAX_DEPTH else \
            1 + max(of(h, (*trail, name)) for h in hosts)
        depth[name] = found
        return found

    for name in nodes:
        of(name, ())
    return depth


def _node(res: Resource, x: float, y: float, *, hit: bool, target: bool,
          production: bool) -> str:
    colours = _HIT if hit else _PLAIN
    classes = "node" + (" blast" if hit else "") + (" target" if target else "")
    env = res.environment  # in red when it is production
    return (f'<g class={quoteattr(classes)} data-resource={quoteattr(res.name)}>'
            f"<title>{escape(res.name)}: {escape(res.kind)} in {escape(env)}"
            f"{' (production)' if production else ''}</title>"
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="8" '
            f'fill="{colours["fill"]}" stroke="{colours["stroke"]}" '
            f'stroke-width="{4 if target else 2 if hit else 1.2}"/>'
            f'<text x="{x + 12:.0f}" y="{y + 22:.0f}" font-weight="600" '
            f'fill="{colours["text"]}">{escape(_fit(res.name, 24))}</text>'
            f'<text x="{x + 12:.0f}" y="{y + 41:.0f}" font-size="11" '
            f'fill="{"#c62828" if production else "#52606d"}">'
            f"{escape(_fit(res.kind + ' · ' + env, 30))}</text></g>")


def _edge(source: str, host: str, edge: str, place: dict[str, tuple[float, float]], *,
          hit: bool) -> str:
    label, dash = _EDGE[edge]
    sx, sy = place[source]
    hx, hy = place[host]
    x1, x2 = sx + NODE_W / 2, hx + NODE_W / 2
    if hy < sy:  # the host is above: from the source's top to the host's bottom
        y1, y2 = sy, hy + NODE_H
        mid = (y1 + y2) / 2
        d = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"
        lx, ly = (x1 + x2) / 2, mid - 4
    elif hy > sy:  # below (a backup store above what it backs up): bottom to top
        y1, y2 = sy + NODE_H, hy
        mid = (y1 + y2) / 2
        d = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{mid:.0f} {x2:.0f},{mid:.0f} {x2:.0f},{y2:.0f}"
        lx, ly = (x1 + x2) / 2, mid - 4
    else:  # the same layer: an arc under the boxes
        y1 = sy + NODE_H
        y2 = hy + NODE_H
        low = max(y1, y2) + GAP_Y * 0.45
        d = f"M{x1:.0f},{y1:.0f} C{x1:.0f},{low:.0f} {x2:.0f},{low:.0f} {x2:.0f},{y2:.0f}"
        lx, ly = (x1 + x2) / 2, low - 2
    colour = "#c62828" if hit else "#5b6475"
    classes = "edge" + (" blast" if hit else "")
    return (f'<g class={quoteattr(classes)} data-edge={quoteattr(f"{source} {edge} {host}")}>'
            f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="{2 if hit else 1.2}"'
            + (f' stroke-dasharray="{dash}"' if dash else "")
            + f' marker-end="url(#{"arrow-hit" if hit else "arrow"})"/>'
            f'<text x="{lx:.0f}" y="{ly:.0f}" font-size="10" text-anchor="middle" '
            f'fill="{colour}">{escape(label)}</text></g>')


def _fit(text: str, most: int) -> str:
    return text if len(text) <= most else text[:most - 1] + "…"
