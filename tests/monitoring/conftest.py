"""Fixtures of the monitoring tests: headless Chromium comes from the desk tests' fixtures."""

from tests.desk.conftest import browser  # noqa: F401 - fixtures, registered by importing them
