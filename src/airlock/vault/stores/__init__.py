"""Vault backends behind one small protocol (base.py): a local folder and S3 with Object Lock."""
