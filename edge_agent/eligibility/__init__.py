"""Real-time insurance eligibility: X12 270/271 through a CAQH CORE clearinghouse (FHIR: not yet).

Modules: x12 (syntax), request_270 (writer), response_271 (reader), codes (code lists in words),
summary (the typed answer and the desk's view), core_client (CORE SOAP/MIME transport), checks (the store), service (when it runs: batch, check-in, retries).
"""
