"""A site's own `translations_dir` words the consent PDFs the central system receives, not the shipped folder."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import shutil
import uuid
from pathlib import Path

from pypdf import PdfReader

from edge_agent import config as site_config
from edge_agent.central import connector_for
from lobby_core.contract import CheckinRequest
from lobby_core.outbox_events import CheckinV1
from lobby_core.site_config import DEFAULT_TRANSLATIONS_DIR

from .conftest import PATIENT, record_for, store_consents

SITE_HEADING = "Registro de firma de la Clínica Riverside"


def site_translations(tmp_path: Path) -> Path:
    folder = tmp_path / "site-translations"
    shutil.copytree(DEFAULT_TRANSLATIONS_DIR, folder)
    path = folder / "consent-pdf.es.json"
    words = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**words, "record.heading": SITE_HEADING}), encoding="utf-8")
    return folder


def test_the_fhir_connector_renders_consent_pdfs_in_the_sites_wording(tmp_path, store, library):
    config = site_config.from_mapping({
        "central": {"kind": "fhir", "base_url": "http://127.0.0.1:9/fhir"},
        "translations_dir": str(site_translations(tmp_path)),
    })  # fmt: skip
    consent_ids = store_consents(store, library, [record_for(library, "consent-to-treat", "es")])
    checkin = CheckinRequest(checkin_id=uuid.uuid4(), kiosk_id="kiosk-1", appointment_id=None, identity_source="manual",
                             patient=PATIENT)
    event = CheckinV1(checkin=checkin, ticket="A-001", arrived_at=dt.datetime.now(dt.UTC), site_id="riverside",
                      site_name="Clínica Riverside", consent_ids=consent_ids)  # fmt: skip
    bundle = connector_for(config, store).checkin_bundle(event)
    [consent] = [entry["resource"] for entry in bundle["entry"] if entry["resource"]["resourceType"] == "Consent"]
    pdf = base64.b64decode(consent["sourceAttachment"]["data"])
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert SITE_HEADING in text
