"""The incident's resource graph: one volume (labelled staging) holds production's database,
staging's database and the backups of both; a production service is attached to it. A bucket
elsewhere also backs production up and must stay out of the volume's blast radius."""

from __future__ import annotations

SHARED_VOLUME_TOML = """
[environments.production]
[environments.staging]

[resources.shared-volume]
kind = "volume"
environment = "staging"
match = ["railway:volume:vol-shared"]

[resources.prod-db]
kind = "postgres"
environment = "production"
url = "postgresql://app@db.prod.internal:5432/app"
stored_on = ["shared-volume"]

[resources.staging-db]
kind = "postgres"
environment = "staging"
url = "postgresql://app@db.staging.internal:5432/app"
stored_on = ["shared-volume"]

[resources.volume-backups]
kind = "path"
environment = "staging"
path = "/backups"
stored_on = ["shared-volume"]
backs_up = ["prod-db", "staging-db"]

[resources.web]
kind = "service"
environment = "production"
match = ["railway:service:svc-web"]
attached_to = ["shared-volume"]

[resources.offsite]
kind = "bucket"
environment = "production"
match = ["aws:s3:bucket:offsite"]
backs_up = ["prod-db"]

[principals.agent]
kind = "agent"

[principals.alice]
kind = "human"
"""

VOLUME_DELETE = '{"query": "mutation { volumeDelete(volumeId: \\"vol-shared\\") }"}'

# The Railway API itself, for tests that run `airlock check` on a volumeDelete call.
RAILWAY_API_TOML = """
[resources.railway]
kind = "api"
environment = "production"
base_url = "https://backboard.railway.app/graphql/v2"
credential = { env = "AIRLOCK_TEST_RAILWAY_TOKEN" }
"""
