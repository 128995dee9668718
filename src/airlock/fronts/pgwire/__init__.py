"""The PostgreSQL wire proxy: clients connect to airlock with a token, airlock connects upstream
with the real credential, and every statement goes through the gate on its way.

    protocol.py   protocol 3.0 frames and the messages the proxy reads or writes (sans-io)
    session.py    one connection after authentication: frames in, commands out (sans-io)
    auth.py       SCRAM-SHA-256 (server and client), md5, token verifiers (sans-io)
    upstream.py   the client side of the startup: authentication against the real server
    rulings.py    statement → ruling, with the verdict cache and batched audit records
    proxy.py      asyncio: listeners, TLS, the relay, cancel keys, idle timeouts, SIGTERM
    splice.py     lends a paused session to psycopg so the vault's snapshot runs inside it
"""
