"""What calling a function does, for the functions airlock knows.

A query is only as harmless as the functions it calls: `SELECT lo_unlink(42)` destroys data and
`SELECT pg_terminate_backend(pid)` kills a session. So every function call is judged:

- PostgreSQL built-ins that are immutable or stable (`pg_builtins.py`, generated from a real
  server's catalog) are reads: PostgreSQL itself forbids such functions to modify the database.
- Every volatile built-in is judged by hand below (a test proves none is missing), as are the
  side-effecting functions of common extensions and of MySQL and SQLite.
- Any other function is unknown. A user-defined function can do anything (run dynamic SQL, drop
  tables) and airlock cannot see its body at the call site, so calling one is held like any other
  code airlock cannot read. Naming it `write` would let a destructive function through wherever
  writes are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

from airlock.classify.sql import pg_builtins
from airlock.classify.sql.verdict import words
from airlock.model import Risk, Verb


@dataclass(frozen=True, slots=True)
class FunctionRule:
    risk: Risk
    verb: Verb
    does: str  # completes "name() ...": "removes a large object for good"


def _rules(risk: Risk, verb: Verb, does: str, names: str) -> dict[str, FunctionRule]:
    rule = FunctionRule(risk, verb, does)
    return dict.fromkeys(names.split(), rule)


_R, _W, _D, _U = Risk.READ, Risk.WRITE, Risk.DESTRUCTIVE, Risk.UNKNOWN

# PostgreSQL: every volatile built-in (pg_builtins.VOLATILE) and known extension functions.
POSTGRES: dict[str, FunctionRule] = {
    **_rules(_D, Verb.DELETE, "removes a large object for good", "lo_unlink"),
    **_rules(_D, Verb.DELETE, "cuts off the contents of a large object",
             "lo_truncate lo_truncate64"),
    **_rules(_D, Verb.WRITE, "writes a file on the database server, replacing what was there",
             "lo_export pg_file_write"),
    **_rules(_D, Verb.DELETE, "deletes or moves a file on the database server",
             "pg_file_unlink pg_file_rename"),
    **_rules(_D, Verb.DESTROY, "drops replication state for good",
             "pg_drop_replication_slot pg_replication_origin_drop"),
    **_rules(_D, Verb.DELETE, "skips changes that a replication consumer has not received",
             "pg_replication_slot_advance"),
    **_rules(_D, Verb.DESTROY, "terminates another session and rolls back its work",
             "pg_terminate_backend"),
    **_rules(_D, Verb.WRITE, "promotes a standby server to primary", "pg_promote"),
    **_rules(_U, Verb.EXECUTE, "runs SQL given as text, which airlock cannot see",
             "query_to_xml query_to_xml_and_xmlschema query_to_xmlschema ts_stat ts_rewrite "
             "dblink dblink_exec dblink_send_query dblink_open dblink_fetch "
             "dblink_build_sql_delete dblink_build_sql_update dblink_build_sql_insert"),
    **_rules(_U, Verb.EXECUTE, "is internal to the server's own tools and not meant to be called",
             "binary_upgrade_create_empty_extension binary_upgrade_set_missing_value "
             "binary_upgrade_set_next_array_pg_type_oid binary_upgrade_set_next_heap_pg_class_oid "
             "binary_upgrade_set_next_heap_relfilenode binary_upgrade_set_next_index_pg_class_oid "
             "binary_upgrade_set_next_index_relfilenode "
             "binary_upgrade_set_next_multirange_array_pg_type_oid "
             "binary_upgrade_set_next_multirange_pg_type_oid binary_upgrade_set_next_pg_authid_oid "
             "binary_upgrade_set_next_pg_enum_oid binary_upgrade_set_next_pg_tablespace_oid "
             "binary_upgrade_set_next_pg_type_oid binary_upgrade_set_next_toast_pg_class_oid "
             "binary_upgrade_set_next_toast_relfilenode binary_upgrade_set_record_init_privs "
             "pg_stop_making_pinned_objects plpgsql_call_handler plpgsql_inline_handler "
             "plpgsql_validator"),
    **_rules(_W, Verb.WRITE, "changes a sequence", "nextval setval"),
    **_rules(_W, Verb.WRITE, "writes a large object",
             "lo_creat lo_create lo_from_bytea lo_import lo_put lowrite"),
    **_rules(_W, Verb.WRITE, "cancels another session's running query", "pg_cancel_backend"),
    **_rules(_W, Verb.WRITE, "changes the server's running configuration or logs",
             "pg_reload_conf pg_rotate_logfile pg_rotate_logfile_old pg_switch_wal "
             "pg_create_restore_point pg_backup_start pg_backup_stop pg_wal_replay_pause "
             "pg_wal_replay_resume pg_import_system_collations pg_nextoid "
             "pg_extension_config_dump"),
    **_rules(_W, Verb.WRITE, "resets collected statistics",
             "pg_stat_reset pg_stat_reset_replication_slot pg_stat_reset_shared "
             "pg_stat_reset_single_function_counters pg_stat_reset_single_table_counters "
             "pg_stat_reset_slru pg_stat_reset_subscription_stats"),
    **_rules(_W, Verb.WRITE, "creates or moves replication state",
             "pg_copy_logical_replication_slot pg_copy_physical_replication_slot "
             "pg_create_logical_replication_slot pg_create_physical_replication_slot "
             "pg_replication_origin_advance pg_replication_origin_create "
             "pg_replication_origin_session_reset pg_replication_origin_session_setup "
             "pg_replication_origin_xact_reset pg_replication_origin_xact_setup "
             "pg_logical_slot_get_binary_changes pg_logical_slot_get_changes "
             "pg_logical_emit_message"),
    **_rules(_W, Verb.WRITE, "rebuilds part of an index",
             "brin_desummarize_range brin_summarize_new_values brin_summarize_range "
             "gin_clean_pending_list"),
    **_rules(_W, Verb.WRITE, "sends a notification that other sessions act on", "pg_notify"),
    **_rules(_W, Verb.WRITE, "changes a session setting", "set_config"),
    **_rules(_W, Verb.WRITE, "is a trigger function that only the server may call",
             "ri_fkey_cascade_del ri_fkey_cascade_upd ri_fkey_check_ins ri_fkey_check_upd "
             "ri_fkey_noaction_del ri_fkey_noaction_upd ri_fkey_restrict_del ri_fkey_restrict_upd "
             "ri_fkey_setdefault_del ri_fkey_setdefault_upd ri_fkey_setnull_del "
             "ri_fkey_setnull_upd suppress_redundant_updates_trigger tsvector_update_trigger "
             "tsvector_update_trigger_column unique_key_recheck lo_manage"),
    **_rules(_W, Verb.WRITE, "opens a connection to another server", "dblink_connect"),
    **_rules(_U, Verb.EXECUTE, "schedules SQL given as text to run later",
             "schedule schedule_in_database"),
    # Volatile, yet they change nothing that outlives the session: clocks, random numbers,
    # advisory locks, sleeps, and reads of server state, files and statistics.
    **_rules(_R, Verb.READ, "reads server state",
             "clock_timestamp timeofday random setseed gen_random_uuid pg_sleep pg_sleep_for "
             "pg_sleep_until currval lastval current_query currtid2 cursor_to_xml "
             "cursor_to_xmlschema lo_open lo_close lo_lseek lo_lseek64 lo_tell lo_tell64 loread "
             "lo_get pg_advisory_lock pg_advisory_lock_shared pg_advisory_unlock "
             "pg_advisory_unlock_all pg_advisory_unlock_shared pg_advisory_xact_lock "
             "pg_advisory_xact_lock_shared pg_try_advisory_lock pg_try_advisory_lock_shared "
             "pg_try_advisory_xact_lock pg_try_advisory_xact_lock_shared pg_blocking_pids "
             "pg_safe_snapshot_blocking_pids pg_isolation_test_session_is_blocked pg_lock_status "
             "pg_prepared_xact pg_control_checkpoint pg_control_init pg_control_recovery "
             "pg_control_system pg_current_logfile pg_current_wal_flush_lsn "
             "pg_current_wal_insert_lsn pg_current_wal_lsn pg_last_wal_receive_lsn "
             "pg_last_wal_replay_lsn pg_last_xact_replay_timestamp pg_is_in_recovery "
             "pg_is_wal_replay_paused pg_get_wal_replay_pause_state pg_get_wal_resource_managers "
             "pg_jit_available pg_last_committed_xact pg_xact_commit_timestamp "
             "pg_xact_commit_timestamp_origin pg_xact_status txid_status pg_export_snapshot "
             "pg_get_backend_memory_contexts pg_get_shmem_allocations pg_get_multixact_members "
             "pg_log_backend_memory_contexts pg_hba_file_rules pg_ident_file_mappings "
             "pg_show_all_file_settings pg_ls_archive_statusdir pg_ls_dir pg_ls_logdir "
             "pg_ls_logicalmapdir pg_ls_logicalsnapdir pg_ls_replslotdir pg_ls_tmpdir "
             "pg_ls_waldir pg_read_binary_file pg_read_file pg_read_file_old pg_stat_file "
             "pg_database_size pg_relation_size pg_table_size pg_indexes_size "
             "pg_total_relation_size pg_tablespace_size pg_sequence_last_value "
             "pg_partition_ancestors pg_partition_tree pg_collation_actual_version "
             "pg_database_collation_actual_version pg_notification_queue_usage "
             "pg_stat_clear_snapshot pg_stat_force_next_flush pg_stat_get_recovery_prefetch "
             "pg_stat_get_xact_blocks_fetched pg_stat_get_xact_blocks_hit "
             "pg_stat_get_xact_function_calls pg_stat_get_xact_function_self_time "
             "pg_stat_get_xact_function_total_time pg_stat_get_xact_numscans "
             "pg_stat_get_xact_tuples_deleted pg_stat_get_xact_tuples_fetched "
             "pg_stat_get_xact_tuples_hot_updated pg_stat_get_xact_tuples_inserted "
             "pg_stat_get_xact_tuples_returned pg_stat_get_xact_tuples_updated "
             "pg_stat_have_stats pg_show_replication_origin_status "
             "pg_replication_origin_progress pg_replication_origin_session_is_setup "
             "pg_replication_origin_session_progress pg_logical_slot_peek_binary_changes "
             "pg_logical_slot_peek_changes amvalidate bernoulli system dsnowball_init "
             "dsnowball_lexize brinhandler bthandler ginhandler gisthandler hashhandler "
             "heap_tableam_handler spghandler"),
}

# Functions that live in an extension's own schema are known by their qualified name too.
POSTGRES_QUALIFIED: dict[str, FunctionRule] = {
    "cron.schedule": POSTGRES["schedule"],
    "cron.schedule_in_database": POSTGRES["schedule_in_database"],
    **_rules(_W, Verb.WRITE, "removes a scheduled job", "cron.unschedule"),
}

# Names that are not PostgreSQL built-ins but would be unknown without a word here: harmless
# functions of extensions that almost every database has.
POSTGRES_EXTENSIONS_READ = words("""
    uuid_generate_v1 uuid_generate_v1mc uuid_generate_v3 uuid_generate_v4 uuid_generate_v5
    uuid_nil crypt gen_salt digest hmac gen_random_bytes pgp_sym_encrypt pgp_sym_decrypt
    similarity word_similarity strict_word_similarity show_trgm unaccent levenshtein
    levenshtein_less_equal soundex difference metaphone dmetaphone dmetaphone_alt
""")

# MySQL and SQLite: names sqlglot does not turn into a known expression, judged by hand.
MYSQL: dict[str, FunctionRule] = {
    **_rules(_U, Verb.EXECUTE, "runs a shell command on the database server (a UDF)",
             "sys_exec sys_eval"),
    **_rules(_R, Verb.READ, "reads server state",
             "sleep benchmark get_lock release_lock release_all_locks is_free_lock is_used_lock "
             "load_file database schema version connection_id current_user user session_user "
             "system_user last_insert_id found_rows row_count uuid uuid_short rand "
             "master_pos_wait source_pos_wait date_format str_to_date ifnull isnull concat_ws "
             "field find_in_set inet_aton inet_ntoa format_bytes sec_to_time time_to_sec "
             "curdate curtime sysdate utc_timestamp utc_date unix_timestamp from_unixtime "
             "json_unquote json_contains json_search json_valid octet_length char_length "
             "group_concat any_value weekday dayofweek dayofmonth dayofyear"),
}

SQLITE: dict[str, FunctionRule] = {
    **_rules(_U, Verb.EXECUTE, "loads native code into the database process",
             "load_extension fts3_tokenizer"),
    **_rules(_D, Verb.WRITE, "writes a file on the machine, replacing what was there",
             "writefile"),
    **_rules(_U, Verb.EXECUTE, "runs an editor on the machine", "edit"),
    **_rules(_R, Verb.READ, "reads database state",
             "readfile changes total_changes last_insert_rowid sqlite_version sqlite_source_id "
             "sqlite_compileoption_get sqlite_compileoption_used random randomblob zeroblob "
             "typeof quote printf format instr likelihood likely unlikely unicode char hex "
             "unhex julianday strftime datetime date time ifnull iif total glob"),
}

UNKNOWN_FUNCTION = FunctionRule(
    Risk.UNKNOWN, Verb.EXECUTE,
    "is not a function airlock knows, and a user-defined function can do anything")


def postgres_function(schema: str | None, name: str) -> FunctionRule | None:
    """The rule for a PostgreSQL function call; None means a plain read."""
    if schema and schema != "pg_catalog":
        rule = POSTGRES_QUALIFIED.get(f"{schema}.{name}")
        if rule is not None:
            return rule
        # Extensions install into any schema; their known dangerous names stay dangerous there.
        rule = POSTGRES.get(name)
        if rule is not None and name not in pg_builtins.STABLE_OR_IMMUTABLE | pg_builtins.VOLATILE:
            return _not_read(rule)
        return None if name in POSTGRES_EXTENSIONS_READ else UNKNOWN_FUNCTION
    rule = POSTGRES.get(name)
    if rule is not None:
        return _not_read(rule)
    if name in pg_builtins.STABLE_OR_IMMUTABLE or name in POSTGRES_EXTENSIONS_READ:
        return None
    return UNKNOWN_FUNCTION


def lite_function(dialect: str, name: str) -> FunctionRule | None:
    """The rule for a MySQL or SQLite function that sqlglot did not recognise."""
    table = MYSQL if dialect == "mysql" else SQLITE
    rule = table.get(name)
    if rule is not None:
        return _not_read(rule)
    return UNKNOWN_FUNCTION


def _not_read(rule: FunctionRule) -> FunctionRule | None:
    return None if rule.risk is Risk.READ else rule
