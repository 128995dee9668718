"""Resolving targets to resources and environments, pessimistically."""

from __future__ import annotations

from pathlib import Path

from airlock.inventory import Inventory
from airlock.model import ActionContext, Target
from tests.factories import make_config

PATHS = """
[resources.uploads]
kind = "path"
environment = "production"
path = "/srv/uploads"
"""


def resolve(target: Target, context: ActionContext | None = None, extra: str = "") -> list[tuple[str | None, tuple[str, ...]]]:
    inventory = Inventory.from_config(make_config(extra))
    return [(r.resource, r.environments) for r in inventory.resolve([target], context or ActionContext())]


def test_database_url_resolves() -> None:
    assert resolve(Target("postgres", "db.prod.internal:5432/app")) == [("prod-db", ("production",))]
    assert resolve(Target("postgres", "DB.PROD.INTERNAL:5432/app")) == [("prod-db", ("production",))]


def test_partial_database_target_may_be_anything() -> None:
    # host unknown: could be either configured database, or one nobody configured
    got = resolve(Target("postgres", "?:5432/app"))
    assert ("prod-db", ("production", "(unknown)")) in got
    assert ("staging-db", ("staging", "(unknown)")) in got


def test_unclaimed_external_target_is_unknown_even_with_a_context() -> None:
    got = resolve(Target("postgres", "elsewhere:5432/x"), ActionContext(environment="staging"))
    assert got == [(None, ("(unknown)",))]


def test_contextual_targets_take_the_context() -> None:
    assert resolve(Target("table", "users", contextual=True),
                   ActionContext(resource="staging-db")) == [("staging-db", ("staging",))]
    assert resolve(Target("path", "build", contextual=True),
                   ActionContext(environment="local")) == [(None, ("local",))]
    assert resolve(Target("path", "build", contextual=True)) == [(None, ("(unknown)",))]


def test_paths_inside_and_above_a_resource_hit_it() -> None:
    ctx = ActionContext(environment="local", cwd="/srv")
    for path in ("/srv/uploads", "/srv/uploads/a/b", "uploads/x", "/srv", "/", "/srv/*", "~/../../srv"):
        assert resolve(Target("path", path, contextual=True), ctx, PATHS)[0][0] == "uploads", path
    for path in ("/srv/uploads2", "/tmp/x", "/srv/other/*"):
        assert resolve(Target("path", path, contextual=True), ctx, PATHS)[0][0] is None, path


def test_blast_radius_follows_stored_on_and_backs_up() -> None:
    extra = """
    [resources.backups]
    kind = "bucket"
    environment = "staging"
    match = ["aws:s3:bucket:backups"]
    backs_up = ["prod-db"]
    """
    inventory = Inventory.from_config(make_config(extra))
    volume = inventory.resolve([Target("railway:volume", "vol-shared")], ActionContext())[0]
    assert volume.blast_radius == ("shared-volume", "prod-on-volume")
    assert volume.environments == ("staging", "production")
    bucket = inventory.resolve([Target("aws:s3:bucket", "backups")], ActionContext())[0]
    assert bucket.blast_radius == ("backups", "prod-db") and "production" in bucket.environments


def test_an_object_in_a_named_database_is_placed_where_that_database_is() -> None:
    local = ActionContext(environment="development")
    prod = Target("postgres", "db.prod.internal:5432/app")
    assert resolve(Target("table", "orders", within=prod), local) == [("prod-db",
                                                                       ("production",))]
    elsewhere = Target("postgres", "elsewhere:5432/x")
    assert resolve(Target("table", "orders", within=elsewhere), local) == [
        (None, ("(unknown)",))]  # not the action's context: nobody knows where it is
    partial = Target("postgres", "?:5432/app")
    assert ("staging-db", ("staging", "(unknown)")) in resolve(
        Target("table", "orders", within=partial), local)
    local_file = Target("path", "app.db", contextual=True)
    assert resolve(Target("table", "orders", within=local_file), local) == [
        (None, ("development",))]  # a SQLite file here: this machine's


def test_paths_are_resolved_through_symlinks_and_dots(tmp_path: Path) -> None:
    """A name means what the system will do with it: a link (under /tmp or anywhere) into a
    resource's folder is that folder; so is a resource configured through a link."""
    data = tmp_path / "srv" / "data"
    data.mkdir(parents=True)
    (tmp_path / "cache").symlink_to(data)
    (tmp_path / "via").symlink_to(tmp_path / "srv")
    extra = f"""
    [resources.data]
    kind = "path"
    environment = "production"
    path = "{tmp_path / 'via' / 'data'}"
    """
    ctx = ActionContext(environment="local", cwd=str(tmp_path / "work"))
    for path in (str(tmp_path / "cache"), str(tmp_path / "cache" / "x"), "../cache/x",
                 f"{tmp_path}/other/../srv/data"):
        assert resolve(Target("path", path, contextual=True), ctx, extra)[0] == \
            ("data", ("production",)), path
    assert resolve(Target("path", "../elsewhere", contextual=True), ctx, extra)[0][0] is None
