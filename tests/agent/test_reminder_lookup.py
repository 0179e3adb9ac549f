"""A signed reminder QR picks the patient's own appointment among identity matches, and nothing more."""

from __future__ import annotations

import datetime as dt

from lobby_core import reminder

from .helpers import checkin_body, count_rows
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


def test_a_reminder_and_the_birth_date_alone_find_the_patient_and_nothing_else_does(launch_agent) -> None:
    key = reminder.new_private_key()
    agent = launch_agent(kiosk={"reminder_public_key": reminder.public_key_b64(key)}, agent={"lookup_rate_per_minute": 6})
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    rossi = reminder.sign(key, "test-site", today_demo_appointment_id(14), tomorrow)  # Rossi Giulia, 1962-03-03
    forged = reminder.sign(reminder.new_private_key(), "test-site", today_demo_appointment_id(14), tomorrow)

    def lookup(body: dict):
        with agent.client() as client:
            return client.post("/api/v1/lookup", json=body, headers=agent.headers())

    matched = lookup({"birth_date": "1962-03-03", "reminder_token": rossi}).json()
    assert matched["outcome"] == "matched" and matched["appointment"]["display_name"] == "Giulia R."
    assert matched["appointment"]["appointment_id"] == today_demo_appointment_id(14)
    assert lookup({"birth_date": "1962-03-04", "reminder_token": rossi}).json() == {"outcome": "none", "appointment": None}
    assert lookup({"birth_date": "1962-03-03", "reminder_token": forged}).json()["outcome"] == "none"
    assert lookup({"birth_date": "1962-03-03", "reminder_token": "not-a-token"}).json()["outcome"] == "none"
    no_name = lookup({"birth_date": "1962-03-03"})
    assert no_name.status_code == 422 and "family" in no_name.text
    # Still rate-limited: the sixth lookup this minute (the 422 was refused before counting) is the last allowed.
    answers = [lookup({"birth_date": "1962-03-03", "reminder_token": rossi}).status_code for _ in range(3)]
    assert answers[:2] == [200, 200] and answers[2] == 429


def test_a_reminder_and_the_birth_date_alone_check_the_patient_in(launch_agent) -> None:
    key = reminder.new_private_key()
    agent = launch_agent(kiosk={"reminder_public_key": reminder.public_key_b64(key)})
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    rossi_appointment = today_demo_appointment_id(14)  # Rossi Giulia, 1962-03-03
    rossi = reminder.sign(key, "test-site", rossi_appointment, tomorrow)
    forged = reminder.sign(reminder.new_private_key(), "test-site", rossi_appointment, tomorrow)
    someone_else = reminder.sign(key, "test-site", today_demo_appointment_id(3), tomorrow)

    def checkin(birth_date: str, token: str | None):
        body = checkin_body(appointment_index=14, identity_source="qr" if token else "manual",
                            patient={"family": "", "given": "", "birth_date": birth_date}, reminder_token=token)  # fmt: skip
        with agent.client() as client:
            return client.post("/api/v1/checkins", json=body, headers=agent.headers(**{"Idempotency-Key": body["checkin_id"]}))

    no_reminder = checkin("1962-03-03", None)
    assert no_reminder.status_code == 422 and "family" in no_reminder.text
    for birth_date, token in (("1962-03-04", rossi), ("1962-03-03", forged), ("1962-03-03", someone_else)):
        refused = checkin(birth_date, token)
        assert refused.status_code == 422 and refused.json()["error"] == "identity_mismatch", refused.text
    assert count_rows(agent.store_path, "arrivals") == 0
    accepted = checkin("1962-03-03", rossi)
    assert accepted.status_code == 201, accepted.text
    assert count_rows(agent.store_path, "arrivals", "appointment_id = ?", (rossi_appointment,)) == 1
