"""Insurance-card OCR: field-level accuracy and time per side on synthetic cards (tools/card_corpus.py).

Baseline, same images, same run: Tesseract's raw page text, scored by whether each true value appears
in it verbatim (what a desk clerk would get by searching the text), and its time per side.

    .venv/bin/python bench/card_ocr.py [--cards 40] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # one core per read, as on the kiosk
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image  # noqa: E402

from kiosk.card_capture import TesseractReader, read_fields  # noqa: E402
from kiosk.card_capture.fields import FIELD_NAMES  # noqa: E402
from tools.card_corpus import make_card  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cards", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    reader = TesseractReader()
    exact = dict.fromkeys(FIELD_NAMES, 0)
    flagged_or_exact = dict.fromkeys(FIELD_NAMES, 0)
    silently_wrong = dict.fromkeys(FIELD_NAMES, 0)
    in_raw = dict.fromkeys(FIELD_NAMES, 0)
    card_times: list[float] = []  # both sides: a second look at one side counts against the card
    raw_times: list[float] = []
    for seed in range(args.seed, args.seed + args.cards):
        card = make_card(seed)
        front, back = (Image.open(io.BytesIO(side)) for side in (card.front, card.back))
        started = time.perf_counter()
        fields = read_fields(reader, front, back)
        card_times.append(time.perf_counter() - started)
        raw = ""
        for side in (front, back):
            started = time.perf_counter()
            raw += reader.raw_text(side)
            raw_times.append(time.perf_counter() - started)
        for name, value in card.truth.as_dict().items():
            got = fields[name]
            exact[name] += got.value == value
            flagged_or_exact[name] += got.value == value or got.needs_review
            silently_wrong[name] += got.value is not None and got.value != value and not got.needs_review
            in_raw[name] += value in raw
    n = args.cards
    print(f"{n} cards ({2 * n} sides), Tesseract {reader.version}, OMP_THREAD_LIMIT={os.environ['OMP_THREAD_LIMIT']}")
    print(f"{'field':18} {'exact':>7} {'exact|flag':>11} {'wrong,unflagged':>16} {'raw text has it':>16}")
    for name in FIELD_NAMES:
        print(f"{name:18} {exact[name] / n:7.0%} {flagged_or_exact[name] / n:11.0%} "
              f"{silently_wrong[name] / n:16.0%} {in_raw[name] / n:16.0%}")
    print(f"all fields         {sum(exact.values()) / (n * len(FIELD_NAMES)):7.0%}"
          f" {'':11} {'':16} {sum(in_raw.values()) / (n * len(FIELD_NAMES)):16.0%}")
    side_times = [card / 2 for card in card_times]
    print(f"time per side: fields median {statistics.median(side_times):.2f} s, max {max(side_times):.2f} s;"
          f" raw text median {statistics.median(raw_times):.2f} s, max {max(raw_times):.2f} s")
    print("targets: member_id exact >= 95%, group_number >= 90%, <= 1.5 s per side")


if __name__ == "__main__":
    main()
