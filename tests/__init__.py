"""The test suite, a package so that its modules are `tests.<area>.<module>` and never shadow the apps
(`tests/kiosk` used to import as `kiosk`). See tests/test_checkout.py."""
