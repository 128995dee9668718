"""Splitting psql scripts: statements, meta-commands and COPY data, each at its line."""

from __future__ import annotations

from airlock.classify.sql.psql import Part, split_psql


def kinds(script: str) -> list[tuple[str, int, str]]:
    return [(p.kind, p.line, p.text) for p in split_psql(script)]


def test_statements_end_at_the_semicolons_the_server_sees() -> None:
    script = "SELECT 'a;b';\n-- c; d\nSELECT $$;$$ /* ; */;\n\nINSERT INTO t\nVALUES (1);"
    assert kinds(script) == [
        ("sql", 1, "SELECT 'a;b';"),
        ("sql", 3, "SELECT $$;$$ /* ; */;"),
        ("sql", 5, "INSERT INTO t\nVALUES (1);"),
    ]


def test_meta_commands_are_not_sql() -> None:
    script = "\\set x 1\nSELECT :x \\gset\n\\echo done\nSELECT 2;"
    assert kinds(script) == [
        ("meta", 1, "\\set x 1"),
        ("sql", 2, "SELECT :x"),
        ("meta", 2, "\\gset"),
        ("meta", 3, "\\echo done"),
        ("sql", 4, "SELECT 2;"),
    ]


def test_a_meta_command_with_a_stray_quote_does_not_swallow_what_follows() -> None:
    script = "\\echo don't\nDROP TABLE t;\n\\echo it's\nSELECT 1;"
    assert [p for p in kinds(script) if p[0] == "sql"] == [
        ("sql", 2, "DROP TABLE t;"), ("sql", 4, "SELECT 1;")]


def test_several_statements_in_one_query() -> None:
    assert [p.text for p in split_psql("SELECT 1\\; DROP TABLE t\\; SELECT 3;")] == [
        "SELECT 1", "DROP TABLE t", "SELECT 3;"]


def test_copy_data_is_data() -> None:
    script = "COPY t FROM stdin;\n1\tx\n2\ty\n\\.\nSELECT 1;\n\\copy t from stdin\n3\tz\n\\.\n"
    assert kinds(script) == [
        ("sql", 1, "COPY t FROM stdin;"),
        ("copy_data", 2, "1\tx\n2\ty\n"),
        ("sql", 5, "SELECT 1;"),
        ("meta", 6, "\\copy t from stdin"),
        ("copy_data", 7, "3\tz\n"),
    ]


def test_a_copy_followed_by_statements_has_no_data() -> None:
    """psql reads data only when the server accepted the COPY; one that failed is followed by
    SQL, and that SQL must not be lost."""
    script = "COPY t FROM stdin; -- fails\nDROP TABLE u;\nCOPY t FROM stdin;\n1\n\\.\n"
    assert kinds(script) == [
        ("sql", 1, "COPY t FROM stdin;"),
        ("sql", 2, "DROP TABLE u;"),
        ("sql", 3, "COPY t FROM stdin;"),
        ("copy_data", 4, "1\n"),
    ]


def test_a_lexical_error_costs_only_its_own_statement() -> None:
    script = "SELECT 1;\nSELECT 123abc;\nDROP TABLE t;\n"
    parts = split_psql(script)
    assert parts[0] == Part("sql", "SELECT 1;", 1)
    assert parts[1].line == 2 and "123abc" in parts[1].text
    assert parts[-1] == Part("sql", "DROP TABLE t;", 3)


def test_undecodable_bytes_stay_in_their_statement() -> None:
    script = "SELECT 'caf\udce9';\nDROP TABLE t;"
    assert kinds(script) == [("sql", 1, "SELECT 'caf\udce9';"), ("sql", 2, "DROP TABLE t;")]


def test_lines_count_in_characters_past_multibyte_text() -> None:
    script = "SELECT 'żółw';\n\\d\nSELECT 'ü'; SELECT 2;"
    assert kinds(script) == [
        ("sql", 1, "SELECT 'żółw';"), ("meta", 2, "\\d"), ("sql", 3, "SELECT 'ü';"),
        ("sql", 3, "SELECT 2;")]


def test_a_last_statement_without_semicolon_is_kept() -> None:
    assert kinds("SELECT 1;\nSELECT 2") == [("sql", 1, "SELECT 1;"), ("sql", 2, "SELECT 2")]
    assert kinds("") == []
