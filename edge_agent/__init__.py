"""The site service: arrivals queue, outbox, sync to the central system, dashboard."""
