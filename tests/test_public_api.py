"""The names fronts build on, pinned: a front added later (the wire proxy, the HTTP proxy, the MCP
server) imports these, so removing or renaming one must be a deliberate change of this list."""

from __future__ import annotations

import importlib

import pytest

PUBLIC = {
    "airlock.gate": {"WAIT_POLL_SECONDS", "Evaluation", "Gate", "Judge", "Waited"},
    "airlock.services": {"Health", "PeriodicService", "Service", "Services", "health_json",
                         "planned"},
    "airlock.config": {
        "CONFIG_ENV", "DEFAULT_CONFIG_NAME", "DEFAULT_STATE_DIR", "LOCAL_ENVIRONMENT",
        "MAX_HOOK_WAIT_SECONDS", "NAME_PATTERN", "PRODUCTION_NAMES", "ApprovalSettings",
        "BuildContext", "Config", "ConfigFile", "Environment", "FrontSection", "HookSettings",
        "PrincipalConfig", "Resource", "ResourceVault", "Rule", "SecretSource", "Strict",
        "VaultSettings", "Webhook", "config_from_mapping", "database_selector", "find_config",
        "front_sections", "load_config"},
    "airlock.fronts.context": {"action_context", "front_action", "shell_environment"},
    # the runbook and `airlock demo` build on these (blast radius, inventory JSON)
    "airlock.inventory": {"DATABASE_OBJECT_KINDS", "Inventory", "Resolver", "describe_blast"},
    "airlock.inventory.discovery": {"DEFAULT_TTL", "Discovered", "Discovery", "FolderSummary",
                                    "RailwaySource", "SqliteTable"},
    "airlock.inventory.render": {"INVENTORY_VERSION", "inventory_json", "inventory_tree",
                                 "reached_in_database"},
    "airlock.fronts.jsonforms": {"DIALECTS", "KINDS", "http_request_from", "outcome_json",
                                 "parse_http_line", "payload_from"},
    "airlock.upstream.postgres": {"PgConn", "find_tool", "postgres_of"},
    "airlock.upstream.transaction": {"MAX_RESULT_ROWS", "ProtectedTransaction",
                                     "StatementExecutor", "needs_autocommit"},
    "airlock.upstream.http": {"BODY_NOT_KEPT", "DROPPED_HEADERS", "TIMEOUT_SECONDS",
                              "UpstreamAnswer", "UpstreamCallError", "call", "canonical_base",
                              "forward_url", "owner_of", "upstream_headers"},
    "airlock.upstream.aws": {"AwsScope", "canonical_url", "payload_hash", "scope_of_url", "sign"},
    # the API proxy's keep-alive HTTP/1.1 client, and its framing without I/O
    "airlock.upstream.client": {"Response", "UpstreamClient", "UpstreamConnectError",
                                "UpstreamProtocolError", "UpstreamTimeout"},
    "airlock.upstream.h1": {"ResponseHead", "ResponseReader", "Target", "UpstreamProtocolError",
                            "request_head", "target_of"},
    "airlock.vault.snapshotters": {"SNAPSHOTTERS", "DeferredDelete", "FilesSnapshotter", "Planned",
                                   "PostgresSnapshotter", "Snapshotter", "SqliteSnapshotter",
                                   "snapshotter_for"},
}


@pytest.mark.parametrize("module_name", sorted(PUBLIC))
def test_the_public_names_are_exactly_these_and_all_exist(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == PUBLIC[module_name]
    assert len(module.__all__) == len(set(module.__all__))
    missing = [name for name in module.__all__ if not hasattr(module, name)]
    assert missing == []
