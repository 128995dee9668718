"""The vault: a verified backup of what a destructive action destroys, taken before it runs and
kept outside its blast radius; undo by action id; drills that prove restores work.

    net.py         the gate's safety net (plan → protect); its transactions: upstream/
    core.py        Vault: objects, verification, manifests     catalog.py  the state's index
    crypto.py      zstd + AES-256-GCM envelope                  manifest.py self-description
    stores/        local folder, S3 with Object Lock (one ObjectStore protocol)
    snapshot/      PostgreSQL (rows, tables, schemas, databases), SQLite, files
    restore.py     plan, then apply; undo      drill.py  scratch restores, hash checks
    deferred.py    deferred cloud deletes      quarantine.py  soft drop
    backup.py      on demand and scheduled     verify.py  `airlock vault verify`
    location.py    opening a vault from config or a bare LOCATION + key

docs/architecture.md ("Vault") explains the design and its guarantees.
"""
