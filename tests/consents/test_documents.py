"""The consent folder: the shipped documents, validation messages, and publishing without a restart."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge_agent.config import DEFAULT_CONSENTS_DIR
from edge_agent.consents.documents import ConsentConfigError, ConsentLibrary, load_folder


def test_shipped_documents_load_in_every_language():
    documents = load_folder(DEFAULT_CONSENTS_DIR)
    assert set(documents) == {"privacy-notice", "consent-to-treat", "financial-responsibility", "telehealth"}
    for document in documents.values():
        assert {"en", "es", "zh-Hant", "ar"} <= set(document.languages)
        for language, text in document.text.items():
            assert document.sha256[language] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert "Aviso de Prácticas de Privacidad" in documents["privacy-notice"].text["es"]
    assert documents["telehealth"].title["es"] == "Consentimiento para consultas de telesalud"


def test_served_text_is_normalised_so_the_hash_does_not_depend_on_the_editor(consents_dir: Path):
    spanish = consents_dir / "telehealth" / "es.md"
    before = ConsentLibrary(consents_dir).get("telehealth").sha256["es"]
    spanish.write_bytes(b"\xef\xbb\xbf" + spanish.read_bytes().replace(b"\n", b"\r\n"))  # BOM and CRLF
    assert ConsentLibrary(consents_dir).get("telehealth").sha256["es"] == before


def test_every_problem_is_named_with_its_file_and_key(consents_dir: Path):
    meta = consents_dir / "telehealth" / "document.toml"
    meta.write_text(meta.read_text().replace('frequency = "once"', 'frequency = "monthly"'))
    (consents_dir / "consent-to-treat" / "it.md").write_text("Consenso\n")
    with pytest.raises(ConsentConfigError) as caught:
        load_folder(consents_dir)
    problems = "\n".join(caught.value.problems)
    assert f"{meta}: frequency:" in problems and "'once', 'yearly' or 'every_visit'" in problems
    assert "consent-to-treat/document.toml: title.it: missing" in problems


def _bump(consents_dir: Path, document_id: str, new_version: str, extra_text: str) -> None:
    folder = consents_dir / document_id
    meta = folder / "document.toml"
    text = meta.read_text()
    old = next(line for line in text.splitlines() if line.startswith("version = "))
    meta.write_text(text.replace(old, f'version = "{new_version}"'))
    for language in ("en", "es"):
        path = folder / f"{language}.md"
        path.write_text(path.read_text(encoding="utf-8") + extra_text, encoding="utf-8")
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))  # a visible change even on coarse clocks


def test_a_new_version_is_picked_up_while_running_and_the_old_one_stays_known(consents_dir: Path):
    library = ConsentLibrary(consents_dir)
    old = library.get("consent-to-treat")
    _bump(consents_dir, "consent-to-treat", "2026.1", "\nNueva cláusula / new clause.\n")
    new = library.get("consent-to-treat")
    assert new.version == "2026.1" and new.sha256["es"] != old.sha256["es"]
    assert library.served("consent-to-treat", old.version) == old  # a form shown just before still validates


def test_a_broken_edit_keeps_the_last_good_documents_in_service(consents_dir: Path, caplog):
    library = ConsentLibrary(consents_dir)
    (consents_dir / "telehealth" / "document.toml").write_text("id = [unterminated")
    assert library.get("telehealth").version == "2024.3"
    assert library.last_error is not None and "telehealth/document.toml: not valid TOML" in str(library.last_error)
    assert "keeping the previous set" in caplog.text


def test_the_first_load_of_a_missing_folder_fails_clearly(tmp_path: Path):
    with pytest.raises(ConsentConfigError, match="consent folder not found"):
        ConsentLibrary(tmp_path / "nowhere")


def test_a_bad_consent_folder_stops_the_agent_with_one_clear_line(consents_dir: Path, tmp_path: Path):
    (consents_dir / "telehealth" / "document.toml").write_text('id = "telehealth"\n')
    site = tmp_path / "site.toml"
    site.write_text(f'consents_dir = "{consents_dir}"\n[agent]\ndata_dir = "{tmp_path / "data"}"\nadvertise = false\n')
    for command in ("check-config", "serve"):
        args = [sys.executable, "-m", "edge_agent.cli", command]
        args += [str(site)] if command == "check-config" else ["--config", str(site)]
        result = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert result.returncode != 0
        output = (result.stdout + result.stderr).strip().splitlines()
        assert any("consents_dir: " in line and "telehealth/document.toml: version: Field required" in line for line in output)
        assert "Traceback" not in result.stderr


def test_served_versions_are_remembered_across_restarts(consents_dir: Path, store):
    from edge_agent.consents.archive import StoreArchive
    from edge_agent.consents.records import validate_records

    from .conftest import record_for

    first_run = ConsentLibrary(consents_dir, archive=StoreArchive(store))
    signed_before_restart = record_for(first_run, "consent-to-treat", "es")
    _bump(consents_dir, "consent-to-treat", "2026.1", "\nNueva cláusula.\n")
    after_restart = ConsentLibrary(consents_dir, archive=StoreArchive(store))
    assert after_restart.get("consent-to-treat").version == "2026.1"
    assert after_restart.served("consent-to-treat", "2025.1").text == first_run.served("consent-to-treat", "2025.1").text
    validate_records([signed_before_restart], after_restart)  # e.g. forwarded from a kiosk's offline spool
    assert store.schema_version >= 3


def test_a_text_changed_without_a_new_version_is_not_served(consents_dir: Path, store, caplog):
    from edge_agent.consents.archive import StoreArchive

    library = ConsentLibrary(consents_dir, archive=StoreArchive(store))
    original = library.get("privacy-notice")
    spanish = consents_dir / "privacy-notice" / "es.md"
    spanish.write_text(spanish.read_text(encoding="utf-8").replace("clínica", "empresa"), encoding="utf-8")
    assert library.get("privacy-notice") == original  # while running: the previous set stays in force
    assert "privacy-notice/es: the text changed but version is still '2025.1'" in str(library.last_error)
    restarted = ConsentLibrary(consents_dir, archive=StoreArchive(store))
    assert restarted.get("privacy-notice").text["es"] == original.text["es"]  # after a restart too
    assert "raise `version`" in caplog.text
