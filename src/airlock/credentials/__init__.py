"""Credentials an agent could pick up, and airlock's custody of them.

    detectors.py   detect-secrets plugins for what its defaults miss; what each kind becomes
    scan.py        files, folders and environments → findings (file:line, kind, the secret)
    custody.py     grouping findings into resources; rewriting and restoring the files
    importer.py    the whole move: recovered copy, store, configuration, pointer; and back
"""
