"""A signed reminder QR picks the patient's own appointment among identity matches, and nothing more."""

from __future__ import annotations

import datetime as dt

from lobby_core import reminder

from .launcher import today_demo_appointment_id


def test_reminder_resolves_twins_but_never_identifies_alone(launch_agent) -> None:
    key = reminder.new_private_key()
    agent = launch_agent(kiosk={"reminder_public_key": reminder.public_key_b64(key)})
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    anh = reminder.sign(key, "test-site", today_demo_appointment_id(3), tomorrow)  # Nguyễn Anh
    forged = reminder.sign(reminder.new_private_key(), "test-site", today_demo_appointment_id(3), tomorrow)
    other_site = reminder.sign(key, "elsewhere", today_demo_appointment_id(3), tomorrow)
    twins = {"family": "Nguyen", "given": "", "birth_date": "1990-07-21"}

    def lookup(body: dict) -> dict:
        with agent.client() as client:
            response = client.post("/api/v1/lookup", json=body, headers=agent.headers())
        assert response.status_code == 200, response.text
        return response.json()

    assert lookup(twins)["outcome"] == "ambiguous"
    matched = lookup({**twins, "reminder_token": anh})
    assert matched["outcome"] == "matched" and matched["appointment"]["display_name"] == "Anh N."
    assert lookup({**twins, "reminder_token": forged})["outcome"] == "ambiguous"
    assert lookup({**twins, "reminder_token": other_site})["outcome"] == "ambiguous"
    # A reminder for someone else's appointment does not open it for this identity.
    assert lookup({"family": "Smith", "given": "John", "birth_date": "1999-01-01", "reminder_token": anh})["outcome"] == "none"
