"""Smart cards through the real pcscd + vsmartcard virtual reader + pyscard, with Python virtual cards."""

from __future__ import annotations

import datetime as dt

import pytest
from smartcard.Exceptions import CardConnectionException, NoCardException
from smartcard.System import readers

from lobby_core.site_config import DeviceConfig
from kiosk.devices import apdu, eid
from kiosk.devices.base import CardInserted, CardRemoved, DeviceState
from kiosk.devices.cards import CardReader, close_connection
from kiosk.simulators.pcscd import virtual_reader, vpcd_port
from kiosk.simulators.virtual_card import EGK_AID, VpcdClient, egk_card, eid_card, other_card

from .conftest import CARD_SLOT, wait_until

VIRTUAL_READER = virtual_reader(CARD_SLOT)

pytestmark = pytest.mark.pcsc


def card_present() -> bool:
    reader_device = next(r for r in readers() if VIRTUAL_READER in str(r))
    connection = reader_device.createConnection()
    try:
        connection.connect()
        return True
    except (NoCardException, CardConnectionException):  # absent, or still powering up
        return False
    finally:
        close_connection(connection)


def settle(present: bool) -> None:
    """Wait until pcscd has seen the virtual card arrive or leave (it polls the virtual reader)."""
    wait_until(lambda: card_present() == present, timeout=15)


@pytest.fixture
def card_slot(pcscd):
    client = VpcdClient(port=vpcd_port(CARD_SLOT))
    settle(False)
    yield client
    client.remove()
    settle(False)


@pytest.fixture
def reader(pcscd, events, card_slot):
    driver = CardReader(DeviceConfig(kind="card_reader", transport="pcsc", reader=VIRTUAL_READER), events)
    driver.open()
    events.wait_state(DeviceState.ONLINE)
    yield driver
    card_slot.remove()
    # pyscard's card monitor is one thread for the whole process: let it see the card leave before the
    # next test's reader subscribes, or that reader is told about a card that is no longer there.
    last_inserted = max((i for i, e in enumerate(events.events) if isinstance(e, CardInserted)), default=None)
    if last_inserted is not None:
        events.wait_for(lambda e: isinstance(e, CardRemoved), since=last_inserted, timeout=15)
    driver.close()


def inserted(events, since):
    return events.wait_for(lambda e: isinstance(e, CardInserted), since, timeout=15)


def test_egk_becomes_an_identity_with_insurance(reader, events, card_slot):
    mark = events.mark()
    card_slot.insert(egk_card())
    event = inserted(events, mark)
    identity = event.identity
    assert event.problem == ""
    assert (identity.family_name, identity.given_names) == ("Müßig-Testfall", "Jürgen")  # ISO-8859-15 XML
    assert identity.birth_date == dt.date(1958, 3, 14)
    assert (identity.sex, identity.country, identity.postal_code) == ("M", "DEU", "10117")
    assert identity.address_street == "Friedrichstraße 43"
    assert (identity.member_id, identity.payor, identity.payor_id) == ("X110411675", "Test-Krankenkasse Ost", "109500969")
    mark = events.mark()
    card_slot.remove()
    events.wait_for(lambda e: isinstance(e, CardRemoved), mark, timeout=15)


def test_belgian_eid_becomes_the_same_identity_shape(reader, events, card_slot):
    mark = events.mark()
    card_slot.insert(eid_card())
    identity = inserted(events, mark).identity
    assert (identity.family_name, identity.given_names) == ("Peeters-Specimen", "Anaïs Marie")
    assert identity.birth_date == dt.date(1985, 7, 15)
    assert (identity.address_street, identity.postal_code, identity.address_city) == ("Rue de la Loi 16", "1000", "Bruxelles")
    assert identity.expiry_date == dt.date(2031, 9, 12)
    assert identity.source == "smartcard" and identity.country == "BEL"


def test_other_cards_are_not_supported(reader, events, card_slot):
    mark = events.mark()
    card_slot.insert(other_card())
    event = inserted(events, mark)
    assert (event.identity, event.problem) == (None, "card.not_supported")


@pytest.mark.parametrize("apdus_before_removal", [1, 3, 6])
def test_card_pulled_mid_read_gives_a_clean_error_and_no_identity(reader, events, card_slot, apdus_before_removal):
    mark = events.mark()
    card_slot.remove_after_apdus(apdus_before_removal)
    card_slot.insert(egk_card())
    event = inserted(events, mark)
    assert (event.identity, event.problem) == (None, "card.removed_too_soon")
    assert card_slot.apdus_answered == apdus_before_removal


def test_reader_follows_61xx_and_6cxx_through_pyscard(pcscd, card_slot):
    reader_device = next(r for r in readers() if VIRTUAL_READER in str(r))
    # SELECT with FCI: the card answers 61xx and the data comes through GET RESPONSE.
    card_slot.insert(egk_card())
    settle(True)
    connection = reader_device.createConnection()
    connection.connect()
    try:
        fci = apdu.exchange(connection.transmit, [0x00, 0xA4, 0x04, 0x00, len(EGK_AID), *EGK_AID])
        assert EGK_AID in fci
    finally:
        close_connection(connection)
    card_slot.remove()
    settle(False)
    # READ BINARY with too large an Le: the eID answers 6Cxx and the resend gets the bytes.
    card_slot.insert(eid_card())
    settle(True)
    connection = reader_device.createConnection()
    connection.connect()
    try:
        apdu.select_path(connection.transmit, eid.ADDRESS_FILE)
        data = apdu.exchange(connection.transmit, [0x00, 0xB0, 0x00, 0x00, 0x00])
        assert eid.parse_tlv(data)[0x03] == "Bruxelles"
    finally:
        close_connection(connection)


def test_unknown_reader_is_offline_with_a_reason(pcscd, events):
    driver = CardReader(DeviceConfig(kind="card_reader", transport="pcsc", reader="No Such Reader"), events)
    driver.open()
    try:
        events.wait_state(DeviceState.OFFLINE, reason="no card reader")
    finally:
        driver.close()


# pyscard's monitor threads and connection destructors complain loudly when pcscd goes away.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_reader_going_away_and_coming_back_is_followed(pcscd, events, card_slot):
    """pcscd stopping takes the reader away (as unplugging the only reader does); cards read again after."""
    if pcscd.process is None:
        pytest.skip("pcscd belongs to someone else here; not stopping it")
    driver = CardReader(DeviceConfig(kind="card_reader", transport="pcsc", reader=VIRTUAL_READER), events)
    driver.open()
    try:
        events.wait_state(DeviceState.ONLINE)
        mark = events.mark()
        pcscd.stop()
        events.wait_state(DeviceState.OFFLINE, mark)
        mark = events.mark()
        pcscd.start()
        events.wait_state(DeviceState.ONLINE, mark, timeout=30)
        card_slot.insert(egk_card())
        assert inserted(events, mark).identity is not None
        card_slot.remove()
        events.wait_for(lambda e: isinstance(e, CardRemoved), mark, timeout=15)
    finally:
        driver.close()
