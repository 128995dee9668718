"""The API proxy: cloud control planes (Railway's GraphQL API, AWS, Kubernetes, any HTTP API)
behind the gate, with airlock holding the real credentials.

    settings.py   [fronts.apiproxy]: where it listens, per api resource what it knows
    keys.py       AWS-style access key pairs issued for tokens (secrets sealed at rest)
    sigv4.py      checking an agent's SigV4 signature (botocore's canonical request)   sans-io
    wire.py       the request as an Action, airlock's answers (held, denied, deferred) in the
                  caller's protocol, and scrubbing credentials out of what comes back  sans-io
    placing.py    where targets live: one-environment resources and Railway lookups
    railway.py    the read-only Railway lookup (airlock's own token, cached)
    app.py        the ASGI application: authenticate, submit to the gate, stream to upstream
    service.py    the `apiproxy` service of `airlock up` (uvicorn on its own thread)
"""
