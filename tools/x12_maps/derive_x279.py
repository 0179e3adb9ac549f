"""Derive pyx12 maps for 005010X279A1 (270 and 271) from the 004010X092A1 maps pyx12 ships.

pyx12's releases carry no 005010X279A1 map (it stops with "Map not found"). The 5010 guide kept the
4010 loop structure of the 270/271 and changed the envelope and a number of segments; this script
applies those changes, one named edit at a time, to pyx12's own 4010 map XML and writes
`270.5010.X279.A1.xml` / `271.5010.X279.A1.xml` beside it. Re-run after a pyx12 upgrade:

    .venv/bin/python -m tools.x12_maps.derive_x279

tests/eligibility/test_x12_validator.py checks that the committed maps equal a fresh derivation.
The edits follow the public 005010X279A1 implementation guide as far as it is publicly known; what
they do not cover keeps the 4010 rule (stricter rather than looser where the two differ).
"""

from __future__ import annotations

import copy
import importlib.resources
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Callable

HERE = Path(__file__).resolve().parent
VERSION = "005010X279A1"
HEADER = "<?xml version=\"1.0\"?>\n<!-- Derived by tools/x12_maps/derive_x279.py from pyx12's {source}; do not edit. -->\n"


def _source(name: str) -> ET.Element:
    return ET.fromstring(importlib.resources.files("pyx12").joinpath("map", name).read_bytes())


# --- small XML helpers -----------------------------------------------------------------------------


def loop(root: ET.Element, *path: str) -> ET.Element:
    node = root
    for xid in path:
        found = node.find(f"loop[@xid='{xid}']")
        if found is None:
            raise KeyError("/".join(path))
        node = found
    return node


def segment(parent: ET.Element, xid: str, index: int = 0) -> ET.Element:
    return parent.findall(f"segment[@xid='{xid}']")[index]


def element(seg: ET.Element, xid: str) -> ET.Element:
    found = seg.find(f"element[@xid='{xid}']")
    if found is None:
        raise KeyError(xid)
    return found


def set_codes(el: ET.Element, codes: list[str]) -> None:
    valid = el.find("valid_codes")
    if valid is None:
        valid = ET.SubElement(el, "valid_codes")
    for child in list(valid):
        valid.remove(child)
    for code in codes:
        ET.SubElement(valid, "code").text = code


def add_codes(el: ET.Element, codes: list[str]) -> None:
    have = [c.text for c in el.findall("valid_codes/code")]
    set_codes(el, have + [c for c in codes if c not in have])


def set_usage(el: ET.Element, usage: str) -> None:
    el.find("usage").text = usage


def new_element(xid: str, data_ele: str, name: str, usage: str, seq: str, codes: list[str] | None = None) -> ET.Element:
    el = ET.Element("element", xid=xid)
    for tag, value in (("data_ele", data_ele), ("name", name), ("usage", usage), ("seq", seq)):
        ET.SubElement(el, tag).text = value
    if codes:
        set_codes(el, codes)
    return el


def new_segment(xid: str, name: str, usage: str, pos: str, max_use: str, elements: list[ET.Element]) -> ET.Element:
    seg = ET.Element("segment", xid=xid)
    for tag, value in (("name", name), ("usage", usage), ("pos", pos), ("max_use", max_use)):
        ET.SubElement(seg, tag).text = value
    seg.extend(elements)
    return seg


def insert_after(parent: ET.Element, before: ET.Element, new: ET.Element) -> None:
    parent.insert(list(parent).index(before) + 1, new)


def remove_segment(parent: ET.Element, xid: str) -> None:
    parent.remove(segment(parent, xid))


# --- the edits shared by 270 and 271 -----------------------------------------------------------------


def envelope_5010(root: ET.Element, functional_id: str) -> None:
    """ISA11 is the repetition separator and ISA12 00501; GS08 and the new ST03 name the guide."""
    isa_loop = loop(root, "ISA_LOOP")
    isa = segment(isa_loop, "ISA")
    isa11 = element(isa, "ISA11")
    isa11.find("data_ele").text = "I65"
    isa11.find("name").text = "Repetition Separator"
    isa11.remove(isa11.find("valid_codes"))
    set_codes(element(isa, "ISA12"), ["00501"])
    gs = segment(loop(root, "ISA_LOOP", "GS_LOOP"), "GS")
    set_codes(element(gs, "GS01"), [functional_id])
    set_codes(element(gs, "GS08"), [VERSION])
    st = segment(loop(root, "ISA_LOOP", "GS_LOOP", "ST_LOOP"), "ST")
    st.append(new_element("ST03", "1705", "Implementation Convention Reference", "R", "03", [VERSION]))


def bht_submitter_reference_required(root: ET.Element) -> None:
    """BHT03 (submitter's transaction identifier) is required in both directions in 5010."""
    set_usage(element(segment(header(root), "BHT"), "BHT03"), "R")


def header(root: ET.Element) -> ET.Element:
    return loop(root, "ISA_LOOP", "GS_LOOP", "ST_LOOP", "HEADER")


def detail(root: ET.Element) -> ET.Element:
    return loop(root, "ISA_LOOP", "GS_LOOP", "ST_LOOP", "DETAIL")


def subscriber_id_qualifiers(name_loop: ET.Element) -> None:
    """NM108 of the subscriber: MI (member id) or II (standard unique health identifier); ZZ is gone."""
    set_codes(element(segment(name_loop, "NM1"), "NM108"), ["II", "MI"])


def plan_date_291(dtp: ET.Element, extra: list[str] = ()) -> None:
    """5010 asks and answers for a plan date: DTP01 291 (Plan), D8 or RD8."""
    add_codes(element(dtp, "DTP01"), ["291", *extra])


def health_care_diagnosis_segment(pos: str) -> ET.Element:
    """HI (situational in 5010, at most 8 codes): ABK/BK principal, ABF/BF other diagnoses."""
    composites = []
    for index in range(1, 9):
        composite = ET.Element("composite", xid=f"HI{index:02d}")
        for tag, value in (("data_ele", "C022"), ("name", "Health Care Code Information"),
                           ("usage", "R" if index == 1 else "S"), ("seq", f"{index:02d}"), ("repeat", "1")):
            ET.SubElement(composite, tag).text = value
        composite.append(new_element(f"HI{index:02d}-01", "1270", "Code List Qualifier Code", "R", "01",
                                     ["ABK", "BK"] if index == 1 else ["ABF", "BF"]))
        composite.append(new_element(f"HI{index:02d}-02", "1271", "Industry Code", "R", "02"))
        composites.append(composite)
    return new_segment("HI", "Health Care Diagnosis Code", "S", pos, "1", composites)


# Service type codes 5010 added to EQ01 / EB03 (the 4010 list ends at BS).
SERVICE_TYPES_5010 = ["B1", "B2", "B3", "BT", "BU", "BV", "BW", "BX", "BY", "BZ", "C1", "CA", "CB", "CC", "CD", "CE",
                      "CF", "CG", "CH", "CI", "CJ", "CK", "CL", "CM", "CN", "CO", "CP", "CQ", "DG", "DM", "DS", "GF",
                      "GN", "GY", "IC", "MH", "NI", "ON", "PT", "PU", "RN", "RT", "TC", "TN", "UC"]


# The X12 standard's syntax notes of the segments these maps use (pyx12's 4010 eligibility maps carry none):
# P paired (all or none), R at least one, C conditional (if the first, then the others), E at most one.
SYNTAX_NOTES = {
    "NM1": ["P0809", "C1110"], "REF": ["R0203"], "N4": ["C0605"], "PER": ["P0304", "P0506", "P0708"],
    "DMG": ["P0102"], "EQ": ["R0102"], "EB": ["P0910"], "HSD": ["P0102", "C0605"], "INS": ["P1112"],
    "PRV": ["P0203"], "III": ["P0102"], "MSG": ["C0302"],
}


def syntax_notes(root: ET.Element) -> None:
    for seg in root.iter("segment"):
        notes = SYNTAX_NOTES.get(seg.get("xid"), [])
        first_element = next(i for i, child in enumerate(seg) if child.tag in ("element", "composite"))
        for offset, note in enumerate(notes):
            node = ET.Element("syntax")
            node.text = note
            seg.insert(first_element + offset, node)


# --- 270 --------------------------------------------------------------------------------------------


def derive_270() -> ET.Element:
    root = copy.deepcopy(_source("270.4010.X092.A1.xml"))
    root.find("name").text = f"HIPAA Health Care Eligibility Inquiry {VERSION}-270"
    envelope_5010(root, "HS")
    bht = segment(header(root), "BHT")
    set_codes(element(bht, "BHT02"), ["01", "13"])  # cancellation, request ("36" authority to deduct is gone)
    bht_submitter_reference_required(root)
    set_usage(element(bht, "BHT06"), "N")  # the transaction type code is not used in 5010
    source = loop(detail(root), "2000A")
    receiver = loop(source, "2000B")
    name_b = loop(receiver, "2100B")
    remove_segment(name_b, "PER")  # 5010 dropped the receiver's contact from the inquiry
    set_codes(element(segment(name_b, "NM1"), "NM108"), ["24", "34", "FI", "PI", "SV", "XV", "XX"])
    subscriber = loop(receiver, "2000C")
    name_c = loop(subscriber, "2100C")
    subscriber_id_qualifiers(name_c)
    set_codes(element(segment(name_c, "REF"), "REF01"),
              ["18", "1L", "1W", "3H", "6P", "CT", "EA", "EJ", "F6", "GH", "HJ", "IG", "N6", "NQ", "SY", "Y4"])
    add_codes(element(segment(name_c, "DMG"), "DMG03"), ["U"])
    insert_after(name_c, segment(name_c, "INS"), health_care_diagnosis_segment("115"))
    dtp_c = segment(name_c, "DTP")
    dtp_c.find("max_use").text = "1"
    set_codes(element(dtp_c, "DTP01"), ["291"])
    inquiry = loop(name_c, "2110C")
    set_codes(element(segment(inquiry, "DTP"), "DTP01"), ["291"])
    set_usage(element(segment(inquiry, "EQ"), "EQ04"), "N")  # insurance type: not used in 5010
    add_codes(element(segment(inquiry, "EQ"), "EQ01"), SERVICE_TYPES_5010)
    dependent = loop(subscriber, "2000D")
    name_d = loop(dependent, "2100D")
    add_codes(element(segment(name_d, "DMG"), "DMG03"), ["U"])
    dtp_d = segment(name_d, "DTP")
    dtp_d.find("max_use").text = "1"
    set_codes(element(dtp_d, "DTP01"), ["291"])
    set_codes(element(segment(loop(name_d, "2110D"), "DTP"), "DTP01"), ["291"])
    set_usage(element(segment(loop(name_d, "2110D"), "EQ"), "EQ04"), "N")
    add_codes(element(segment(loop(name_d, "2110D"), "EQ"), "EQ01"), SERVICE_TYPES_5010)
    syntax_notes(root)
    return root


# --- 271 --------------------------------------------------------------------------------------------

# AAA03 reject reasons the 5010 guide allows per loop (a superset of 4010's where 5010 added codes).
AAA_2000A = ["04", "41", "42", "79"]
AAA_2100A = ["04", "41", "42", "79", "80", "T4"]
AAA_2100B = ["15", "41", "43", "44", "45", "46", "47", "48", "50", "51", "79", "97", "T4"]
AAA_2100C = ["15", "33", "35", "42", "43", "45", "47", "48", "49", "51", "52", "56", "57", "58", "60", "61",
             "62", "63", "69", "70", "71", "72", "73", "74", "75", "76", "78"]
AAA_2110C = ["15", "33", "52", "53", "54", "55", "56", "57", "60", "61", "62", "63", "69", "70"]


def derive_271() -> ET.Element:
    root = copy.deepcopy(_source("271.4010.X092.A1.xml"))
    root.find("name").text = f"HIPAA Health Care Eligibility Benefit Response {VERSION}-271"
    envelope_5010(root, "HB")
    bht_submitter_reference_required(root)
    source = loop(detail(root), "2000A")
    set_codes(element(segment(source, "AAA"), "AAA03"), AAA_2000A)
    name_a = loop(source, "2100A")
    set_codes(element(segment(name_a, "AAA"), "AAA03"), AAA_2100A)
    per_a = segment(name_a, "PER")
    for xid in ("PER03", "PER05", "PER07"):
        add_codes(element(per_a, xid), ["UR"])  # a payer's web address
    receiver = loop(source, "2000B")
    name_b = loop(receiver, "2100B")
    set_codes(element(segment(name_b, "AAA"), "AAA03"), AAA_2100B)
    subscriber = loop(receiver, "2000C")
    name_c = loop(subscriber, "2100C")
    subscriber_id_qualifiers(name_c)
    add_codes(element(segment(name_c, "REF"), "REF01"), ["CE", "Y4"])
    set_codes(element(segment(name_c, "AAA"), "AAA03"), AAA_2100C)
    insert_after(name_c, segment(name_c, "INS"), health_care_diagnosis_segment("115"))
    benefit = loop(name_c, "2110C")
    eb = segment(benefit, "EB")
    add_codes(element(eb, "EB12"), ["W"])  # W: not applicable (network status does not matter)
    add_codes(element(eb, "EB03"), SERVICE_TYPES_5010)
    plan_date_291(segment(benefit, "DTP"), ["346", "347"])
    set_codes(element(segment(benefit, "AAA"), "AAA03"), AAA_2110C)
    entity = loop(benefit, "2120C")
    add_codes(element(segment(entity, "NM1"), "NM101"),
              ["1I", "7C", "GW", "I3", "OC", "VER", "VY", "Y2"])
    name_d = loop(subscriber, "2000D", "2100D")
    plan_date_291(segment(loop(name_d, "2110D"), "DTP"), ["346", "347"])
    add_codes(element(segment(loop(name_d, "2110D"), "EB"), "EB12"), ["W"])
    add_codes(element(segment(loop(name_d, "2110D"), "EB"), "EB03"), SERVICE_TYPES_5010)
    syntax_notes(root)
    return root


MAPS: dict[str, tuple[str, Callable[[], ET.Element]]] = {
    "270.5010.X279.A1.xml": ("270.4010.X092.A1.xml", derive_270),
    "271.5010.X279.A1.xml": ("271.4010.X092.A1.xml", derive_271),
}


def render(name: str) -> str:
    source, derive = MAPS[name]
    root = derive()
    ET.indent(root, space="  ")
    return HEADER.format(source=source) + ET.tostring(root, encoding="unicode") + "\n"


def main() -> None:
    for name in MAPS:
        (HERE / name).write_text(render(name), encoding="utf-8")
        print(f"wrote {HERE / name}")


if __name__ == "__main__":
    main()
