"""Consent documents, the due-rules, signed records, sealed PDFs and their FHIR form.

- documents.py: the folder of versioned documents (hot reload) · due.py: what a patient must sign
- records.py: validate and store signed records · pdf.py + seal.py: the sealed PDF · verify.py: its check
- fhir.py: Consent + Provenance Bundle entries · routes.py: the staff PDF route
"""
