"""What airlock does with the real credentials it holds, for the vault and the fronts alike.

    postgres.py     PgConn: a postgres resource reached with its secret (`postgres_of`);
                    how PostgreSQL's tools get the password without a command line showing it
    transaction.py  ProtectedTransaction: where a protected statement runs, backed up first in
                    the same transaction; StatementExecutor runs it there (runtime.protected_gate)
    http.py         calling an api resource's upstream with its credential (never the agent's)

Nothing here judges: fronts submit to the gate first, and only what it lets through — or what
the vault must read to back it up — comes here.
"""
