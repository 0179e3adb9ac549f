"""Drivers for the hardware attached to a kiosk."""
