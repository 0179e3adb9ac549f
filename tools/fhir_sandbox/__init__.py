"""A FHIR R4 server of our own: the "central system" for tests, the benchmark and the demo.

It validates every resource it receives with `fhir.resources.R4B` (400 + OperationOutcome when invalid),
applies transaction Bundles atomically, supports conditional create (`ifNoneExist` / `If-None-Exist`),
JSON Patch, PUT with `If-Match`, versionId/ETag, and the searches the agent uses. A control API under
`/_control` seeds resources, counts them by identifier (to prove exactly-once) and injects failures:
the next N requests answer a status (500, 429 with Retry-After, 400 with an OperationOutcome), hang past
the client's timeout (and then still commit, the worst case for duplicates), or reset the connection.

    python -m tools.fhir_sandbox --port 8480 --data /tmp/central.sqlite
"""

# modules: outcomes (errors, validation), storage (versioned resources in SQLite), server (the FHIR
# interactions and transactions), faults (failure injection), app (HTTP routes, control API, main)
