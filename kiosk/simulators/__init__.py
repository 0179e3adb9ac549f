"""Protocol-level device simulators: the test peers, and what `kiosk run --simulate` drives."""
