"""What the kiosk and the edge agent share: the wire contract, outbox events, reminder codes, signature
rendering, the kiosk's part of the site config, the comparison rules and the catalogue loader.

It imports neither app, and needs only pydantic, cryptography and Pillow.
"""
