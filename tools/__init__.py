"""Developer and demo tools: the demo orchestrator, the FHIR sandbox server, screenshot scripts."""
