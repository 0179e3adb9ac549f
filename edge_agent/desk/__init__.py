"""The front desk: staff sign-in, the audit log, the live arrivals dashboard and the lobby board."""
