"""The function tables: every volatile PostgreSQL built-in is judged by hand, and the generated
catalog (`pg_builtins.py`) can be rebuilt from a real server.

Regenerate after a PostgreSQL upgrade, against a fresh cluster (no extensions installed):

    .venv/bin/python -m tests.classify.test_sql_functions "host=/tmp port=5432 user=postgres"
"""

from __future__ import annotations

import sys
from pathlib import Path

from airlock.classify.sql import functions, pg_builtins
from airlock.classify.sql.functions import UNKNOWN_FUNCTION, lite_function, postgres_function
from airlock.model import Risk

GENERATED = Path(functions.__file__).with_name("pg_builtins.py")

QUERIES = {
    "STABLE_OR_IMMUTABLE": """
        SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE nspname = 'pg_catalog' GROUP BY proname
        HAVING bool_and(provolatile IN ('i', 's')) ORDER BY 1""",
    "VOLATILE": """
        SELECT proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE nspname = 'pg_catalog' GROUP BY proname
        HAVING bool_or(provolatile = 'v') ORDER BY 1""",
    "OPERATORS": """
        SELECT DISTINCT oprname FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
         WHERE nspname = 'pg_catalog' ORDER BY 1""",
}


def test_every_volatile_builtin_is_judged_by_hand() -> None:
    missing = sorted(n for n in pg_builtins.VOLATILE if n.lower() not in functions.POSTGRES)
    assert not missing


def test_no_name_is_both_safe_and_volatile() -> None:
    assert not pg_builtins.STABLE_OR_IMMUTABLE & pg_builtins.VOLATILE


def test_the_catalog_is_plausible() -> None:
    assert len(pg_builtins.STABLE_OR_IMMUTABLE) > 2000
    assert {"lower", "count", "now", "jsonb_build_object"} <= pg_builtins.STABLE_OR_IMMUTABLE
    assert {"nextval", "lo_unlink", "pg_terminate_backend"} <= pg_builtins.VOLATILE
    assert {"=", "<>", "||", "->>", "@>"} <= pg_builtins.OPERATORS


def test_lookups() -> None:
    assert postgres_function(None, "lower") is None
    assert postgres_function("pg_catalog", "lower") is None
    assert postgres_function("app", "lower") is UNKNOWN_FUNCTION  # shadows, not the built-in
    assert postgres_function(None, "my_func") is UNKNOWN_FUNCTION
    rule = postgres_function(None, "lo_unlink")
    assert rule is not None and rule.risk is Risk.DESTRUCTIVE
    rule = postgres_function("ext", "dblink_exec")  # extensions install anywhere
    assert rule is not None and rule.risk is Risk.UNKNOWN
    rule = postgres_function("cron", "schedule")
    assert rule is not None and rule.risk is Risk.UNKNOWN
    assert postgres_function(None, "clock_timestamp") is None  # volatile, yet a read
    assert lite_function("mysql", "sleep") is None
    assert lite_function("sqlite", "mystery") is UNKNOWN_FUNCTION
    rule = lite_function("sqlite", "writefile")
    assert rule is not None and rule.risk is Risk.DESTRUCTIVE


def test_the_generated_module_matches_its_generator() -> None:
    current = GENERATED.read_text("utf-8")
    rebuilt = render({"STABLE_OR_IMMUTABLE": sorted(pg_builtins.STABLE_OR_IMMUTABLE),
                      "VOLATILE": sorted(pg_builtins.VOLATILE),
                      "OPERATORS": sorted(pg_builtins.OPERATORS)}, _source_line(current))
    assert rebuilt == current


def _source_line(text: str) -> str:
    return next(line for line in text.splitlines() if line.startswith("Source: "))


def render(names: dict[str, list[str]], source: str) -> str:
    head = GENERATED.read_text("utf-8").split("STABLE_OR_IMMUTABLE: frozenset", 1)[0]
    head = head.replace(_source_line(head), source)
    blocks = []
    for name, values in names.items():
        lines, line = [f"{name}: frozenset[str] = frozenset(("], "   "
        for value in values:
            item = f' "{value}",'
            if len(line) + len(item) > 99:
                lines.append(line)
                line = "   "
            line += item
        blocks.append("\n".join([*lines, line, "))"]))
    return head + "\n\n".join(blocks) + "\n"


def main(dsn: str) -> None:
    import psycopg

    with psycopg.connect(dsn) as conn:
        names = {key: [str(row[0]) for row in conn.execute(query).fetchall()]
                 for key, query in QUERIES.items()}
        version = str(conn.execute("SELECT version()").fetchone()[0])  # type: ignore[index]
    source = f"Source: {version.split(' on ')[0]}, a fresh `initdb` cluster, with"
    GENERATED.write_text(render(names, source), "utf-8")
    print(f"wrote {GENERATED}: " + ", ".join(f"{k} {len(v)}" for k, v in names.items()))


if __name__ == "__main__":
    main(sys.argv[1])
