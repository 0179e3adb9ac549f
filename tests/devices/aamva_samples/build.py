"""Writes the AAMVA sample corpus in this folder (synthetic people only) and expected.json.

Run `python tests/devices/aamva_samples/build.py` after changing it; the files are committed so that the
tests read fixed bytes, not whatever this script produces today.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).parent

US_PEOPLE = [
    # family, first, middle, birth (y, m, d), sex 1/2, street, city, state, zip, licence
    ("SAMPLE", "ALEX", "JORDAN", (1985, 7, 4), "2", "123 MAIN ST", "SACRAMENTO", "CA", "958110000", "F1234567"),
    ("TESTPERSON", "CHRIS", "LEE", (1952, 11, 30), "1", "45 OAK AVE APT 2", "AUSTIN", "TX", "787010123", "12345678"),
    ("O'SPECIMEN", "MARIA", "JOSE", (2001, 2, 28), "2", "9 ELM RD", "BROOKLYN", "NY", "112010000", "123456789"),
    ("EXAMPLE-DOE", "PAT", "", (1967, 1, 15), "9", "700 PINE BLVD", "MIAMI", "FL", "331010000", "S123456789012"),
]
CA_PEOPLE = [
    ("ECHANTILLON", "JEAN", "LUC", (1979, 5, 21), "1", "1 RUE PRINCIPALE", "MONTREAL", "QC", "H2X 1Y4", "E1234567890123"),
    ("SPECIMEN", "AVERY", "ROSE", (1990, 12, 1), "2", "200 BAY ST", "TORONTO", "ON", "M5J2J1", "S1234-56789-01234"),
]
REPO = HERE.parents[2]
sys.path.insert(0, str(REPO))

from kiosk.simulators.licence import ISSUERS, build, elements_for, mdy, with_noise_around_separators  # noqa: E402  (the encoder lives with the simulators)


def expectation(person, canadian, version, problems=(), expired=False, document_type="DL", **overrides):
    family, first, middle, birth, sex, street, city, state, postal, number = person
    postal_expected = postal
    if not canadian:
        postal_expected = postal[:5] if postal[5:] == "0000" else f"{postal[:5]}-{postal[5:]}"
    else:
        compact = postal.replace(" ", "")
        postal_expected = f"{compact[:3]} {compact[3:]}"
    expected = {
        "family_name": family, "given_names": " ".join(p for p in (first, middle) if p),
        "birth_date": "%04d-%02d-%02d" % birth, "sex": {"1": "M", "2": "F", "9": "X"}.get(sex, ""),
        "address_street": street, "address_city": city, "address_state": state, "postal_code": postal_expected,
        "country": "CAN" if canadian else "USA", "document_number": number, "aamva_version": version,
        "expired": expired, "problems": list(problems), "document_type": document_type,
    }
    expected.update(overrides)
    return expected


def main() -> None:
    samples: dict[str, tuple[str, dict]] = {}
    people = [(p, False) for p in US_PEOPLE] + [(p, True) for p in CA_PEOPLE]
    for version in range(1, 12):
        for index, subfile in enumerate(("DL", "ID")):
            person, canadian = people[(version * 2 + index) % len(people)]
            if version == 1 and canadian:
                person, canadian = US_PEOPLE[version % len(US_PEOPLE)], False
            state = person[7]
            text = build(version, ISSUERS[state], subfile, elements_for(version, person, canadian, subfile),
                         jurisdiction_version="01" if version >= 2 else "")
            name = f"v{version:02d}_{'ca' if canadian else 'us'}_{subfile.lower()}.txt"
            samples[name] = (text, expectation(person, canadian, version, document_type=subfile))
    # Both countries in every modern version of the DL subfile.
    for version in (4, 8, 10, 11):
        for person in CA_PEOPLE:
            text = build(version, ISSUERS[person[7]], "DL", elements_for(version, person, True, "DL"))
            samples[f"v{version:02d}_ca_dl_{person[7].lower()}.txt"] = (text, expectation(person, True, version))

    us, ca = US_PEOPLE[0], CA_PEOPLE[1]
    base = elements_for(10, us, False, "DL")
    samples["broken_crlf.txt"] = (build(10, "636014", "DL", base, separator="\r\n", terminator="\r\n"), expectation(us, False, 10))
    samples["broken_aamva_header.txt"] = (
        build(8, "636014", "DL", elements_for(8, us, False, "DL"), marker="AAMVA"),
        expectation(us, False, 8, problems=["instead of 'ANSI'"]),
    )
    samples["broken_amva_header.txt"] = (
        build(9, "636014", "ID", elements_for(9, us, False, "ID"), marker="AMVA"),
        expectation(us, False, 9, problems=["instead of 'ANSI'"], document_type="ID"),
    )
    samples["broken_no_separators.txt"] = (
        build(10, "636014", "DL", base, separator="", terminator=""),
        expectation(us, False, 10, problems=["separators between fields are missing"]),
    )
    samples["broken_wrong_offsets.txt"] = (
        build(10, "636014", "DL", base, offsets_wrong=True),
        expectation(us, False, 10, problems=["offsets in the header are wrong"]),
    )
    padded = [(k, f"{v}     " if k in ("DCS", "DAC", "DAQ", "DAK", "DAI") else v) for k, v in elements_for(6, ca, True, "DL")]
    samples["broken_padded_values.txt"] = (build(6, "636012", "DL", padded), expectation(ca, True, 6))
    samples["broken_scanner_prefix_no_at.txt"] = (
        "]L0" + build(10, "636014", "DL", base)[4:],
        expectation(us, False, 10, problems=["compliance indicator"]),
    )
    samples["broken_letters_in_header.txt"] = (
        build(10, "636014", "DL", base).replace("ANSI 636014", "ANSI 6360I4"),
        expectation(us, False, 10, problems=["issuer id in the header is not a number"]),
    )
    expired_elements = elements_for(10, us, False, "DL", expiry=(2019, 7, 4))
    samples["expired_licence.txt"] = (
        build(10, "636014", "DL", expired_elements), expectation(us, False, 10, problems=["expired on 2019-07-04"], expired=True)
    )
    truncated = [(k, "T" if k == "DDE" else v) for k, v in base]
    samples["truncated_family_name.txt"] = (
        build(10, "636014", "DL", truncated), expectation(us, False, 10, problems=["family name is truncated"])
    )
    v1_spaces = [(k, "PAT Q SAMPLE" if k == "DAA" else v) for k, v in elements_for(1, us, False, "DL")]
    samples["v01_full_name_without_commas.txt"] = (
        build(1, "636014", "DL", v1_spaces),
        expectation(us, False, 1, problems=["no commas"], family_name="SAMPLE", given_names="PAT Q"),
    )
    v1_us_dates = [(k, mdy(us[3]) if k == "DBB" else v) for k, v in elements_for(1, us, False, "DL")]
    samples["v01_us_date_order.txt"] = (build(1, "636014", "DL", v1_us_dates), expectation(us, False, 1))
    v1_split_names = [e for e in elements_for(1, us, False, "DL") if e[0] != "DAA"] + [("DAB", us[0]), ("DAC", us[1]), ("DAD", us[2])]
    samples["v01_split_names.txt"] = (build(1, "636014", "DL", v1_split_names), expectation(us, False, 1))
    samples["broken_missing_birth_date.txt"] = (
        build(10, "636014", "DL", [e for e in base if e[0] != "DBB"]),
        expectation(us, False, 10, problems=["birth date missing"], birth_date=None),
    )

    lookalike = [(k, "O7O41985" if k == "DBB" else v) for k, v in base]
    samples["broken_letters_in_birth_date.txt"] = (
        build(10, "636014", "DL", lookalike),
        expectation(us, False, 10, problems=["birth date had letters where digits belong"]),
    )

    samples.update(real_world_shapes())
    expected = {}
    for name, (text, expect) in sorted(samples.items()):
        (HERE / name).write_bytes(text.encode("utf-8"))
        expected[name] = expect
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(samples)} samples")


def replaced(elements, **values):
    return [(key, values.get(key, value)) for key, value in elements]


def real_world_shapes() -> dict[str, tuple[str, dict]]:
    """Shapes other projects' published scanner output shows (names and numbers here are synthetic)."""
    us, ca = US_PEOPLE[0], CA_PEOPLE[1]
    v1, v3, v10 = (elements_for(version, us, False, "DL") for version in (1, 3, 10))
    v10_id = elements_for(10, us, False, "ID")
    samples: dict[str, tuple[str, dict]] = {}
    # A name suffix: words without commas, a collapsed middle, inside DCS beside its own DCU.
    samples["suffix_full_name_words.txt"] = (
        build(1, "636014", "DL", replaced(v1, DAA="ALEX J SAMPLE JR")),
        expectation(us, False, 1, problems=["no commas", "name suffix"], given_names="ALEX J", name_suffix="JR"),
    )
    samples["suffix_full_name_empty_middle.txt"] = (
        build(1, "636014", "DL", replaced(v1, DAA="SAMPLE,ALEX,,JR")),
        expectation(us, False, 1, given_names="ALEX", name_suffix="JR"),
    )
    samples["suffix_full_name_no_middle.txt"] = (
        build(1, "636014", "DL", replaced(v1, DAA="SAMPLE,ALEX,III")),
        expectation(us, False, 1, problems=["name suffix"], given_names="ALEX", name_suffix="III"),
    )
    samples["suffix_in_family_name_and_dcu.txt"] = (
        build(10, "636014", "DL", replaced(v10, DCS="SAMPLE JR") + [("DCU", "JR")]),
        expectation(us, False, 10, name_suffix="JR"),
    )
    # The subfile type: missing from the body (the header still names it), or alone on its line.
    samples["subfile_type_missing.txt"] = (
        build(1, "636006", "DL", v1, marker="AAMVA", extra_subfile=False, subfile_prefix="", terminator=""),
        expectation(us, False, 1, problems=["instead of 'ANSI'", "subfile type is missing"]),
    )
    samples["subfile_type_own_line.txt"] = (
        build(10, "636014", "ID", v10_id, subfile_prefix="ID\n"), expectation(us, False, 10, document_type="ID")
    )
    samples["v01_header_with_jurisdiction_version.txt"] = (
        build(1, "636014", "DL", v1, jurisdiction_version="00"), expectation(us, False, 1)
    )
    blank = {key: "" for key in (
        "family_name", "given_names", "sex", "address_street", "address_city", "address_state", "postal_code",
        "country", "document_number")}
    samples["no_readable_element.txt"] = (
        build(10, "636014", "DL", [("XQ1", "7"), ("??", "")]),
        expectation(us, False, 10, problems=["no licence data"], birth_date=None, **blank),
    )
    samples["given_names_in_dct_middle_in_dad.txt"] = (
        build(3, "636014", "DL", replaced(v3, DCT="ALEX") + [("DAD", "JORDAN")]), expectation(us, False, 3)
    )
    # Run-on bodies whose values hold letters that read like element ids.
    street = (us[:5] + ("123 DDA ROAD",) + us[6:])
    samples["run_on_street_with_element_id.txt"] = (
        build(10, "636014", "ID", replaced(v10_id, DAG=street[5]), separator="", terminator=""),
        expectation(street, False, 10, problems=["separators between fields are missing"], document_type="ID"),
    )
    dacosta = ("DACOSTA",) + us[1:]
    samples["run_on_family_name_starting_with_element_id.txt"] = (
        build(10, "636014", "DL", replaced(v10, DCS="DACOSTA"), separator="", terminator=""),
        expectation(dacosta, False, 10, problems=["separators between fields are missing"]),
    )
    dacey = us[:5] + ("12 DACEY ST",) + us[6:]
    samples["run_on_v01_street_with_element_id.txt"] = (
        build(1, "636014", "DL", replaced(v1, DAG=dacey[5]), separator="", terminator=""),
        expectation(dacey, False, 1, problems=["separators between fields are missing"]),
    )
    # Separators replaced or wrapped by the scanner.
    samples["pipe_separators.txt"] = (
        build(10, "636014", "DL", v10).replace("\n", "|").replace("\r", "|"), expectation(us, False, 10)
    )
    samples["c1_controls_around_separators.txt"] = (
        with_noise_around_separators(build(8, "636012", "DL", elements_for(8, ca, True, "DL")), "\x90", "\x90"),
        expectation(ca, True, 8),
    )
    samples["c0_controls_around_separators.txt"] = (
        with_noise_around_separators(build(10, "636014", "DL", v10), "\x07\x85", "\x1b"), expectation(us, False, 10)
    )
    samples["leading_space_before_at.txt"] = (" " + build(10, "636014", "DL", v10), expectation(us, False, 10))
    # Header separators replaced (a second LF, a stray letter) and run-on bodies with padded values.
    samples["header_record_separator_as_lf.txt"] = (
        build(10, "636014", "DL", v10).replace("@\n\x1e\r", "@\n\n\r", 1), expectation(us, False, 10)
    )
    samples["header_record_separator_as_letter.txt"] = (
        build(1, "636014", "DL", v1).replace("@\n\x1e\r", "@\n\u00dc\r", 1), expectation(us, False, 1)
    )
    padded = replaced(v10, DAK="958110000. ", DAY="   ")
    samples["run_on_padded_values.txt"] = (
        build(10, "636014", "DL", padded, separator="", terminator=""),
        expectation(us, False, 10, problems=["separators between fields are missing"]),
    )
    samples["run_on_v01.txt"] = (
        build(1, "636014", "DL", v1, separator="", terminator=""),
        expectation(us, False, 1, problems=["separators between fields are missing"]),
    )
    return samples


if __name__ == "__main__":
    main()
