"""The lobby touchscreen check-in app."""
