"""The connector's messages over a real MLLP socket (tools/mllp_sandbox.py): what the receiver gets is
strictly valid v2.5.1, in UTF-8, with the arrival event the site chose."""

from __future__ import annotations

from tests.sync.conftest import checkin_payload, enqueue, store  # noqa: F401 - the fixture
from tests.sync.test_hl7v2 import appointment, run_worker, with_receiver

from .validation import strictly_valid


def test_a10_arrivals_and_utf8_names_reach_the_receiver_strictly_valid(store, tmp_path):
    scheduled = checkin_payload(appointment(1, family="Nguyễn"))
    walk_in = checkin_payload(None)
    walk_in["checkin"]["patient"].update(family="王", given="João")
    for payload in (scheduled, walk_in):
        enqueue(store, payload)

    def scenario(receiver, port):
        run_worker(store, port, tmp_path, lambda s: s.pending == 0, hl7_arrival_event="A10",
                   hl7_central_authority="PM", hl7_site_authority="RIVERSIDE")  # fmt: skip
        assert len(receiver.accepted) == 2
        for message in receiver.accepted.values():
            parsed = strictly_valid(str(message))  # the receiver decoded the bytes as UTF-8
            assert parsed.msh.msh_9.to_er7() == "ADT^A10^ADT_A09" and parsed.msh.msh_18.value == "UNICODE UTF-8"
        identifiers = sorted(str(m.segment("PID")[3]).split("^", 1)[1] for m in receiver.accepted.values())
        assert identifiers == ["^^PM^MR", "^^RIVERSIDE^PI"]

    with_receiver(scenario)
    assert store.outbox_stats().delivered == 2
