"""The fleet view's page template and style sheet (edge_agent/fleet.py)."""
