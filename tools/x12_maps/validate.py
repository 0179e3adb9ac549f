"""Validate X12 005010X279A1 270/271 files with pyx12 (code the project did not write).

    problems = validate(text)         # [] when pyx12 accepts the interchange, else its error messages
    python -m tools.x12_maps.validate FILE...

pyx12 reads its maps from one folder (`map_path`): this module lays out a folder holding this
directory's maps.xml and derived 270/271 maps beside pyx12's own 5010 control map, data element
dictionary and code lists, and runs pyx12's validator (x12n_document) on the text. The agent never
imports this: the code that writes a 270 and the code that judges it stay apart.
"""

from __future__ import annotations

import functools
import importlib.resources
import io
import logging
import shutil
import sys
import tempfile
from pathlib import Path

import pyx12.error_handler
import pyx12.params
import pyx12.x12n_document

HERE = Path(__file__).resolve().parent
OURS = ("maps.xml", "270.5010.X279.A1.xml", "271.5010.X279.A1.xml")
PYX12_SHARED = ("x12.control.00501.xml", "dataele.xml", "codes.xml")


@functools.lru_cache(maxsize=1)
def map_path() -> str:
    folder = Path(tempfile.mkdtemp(prefix="x12-maps-"))
    packaged = importlib.resources.files("pyx12").joinpath("map")
    for name in PYX12_SHARED:
        (folder / name).write_bytes(packaged.joinpath(name).read_bytes())
    for name in OURS:
        shutil.copyfile(HERE / name, folder / name)
    return str(folder)


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def validate(text: str) -> list[str]:
    """pyx12's verdict on one interchange: its error messages (segment errors, element errors, counts)."""
    params = pyx12.params.params()
    collector = _Collect()
    logger = logging.getLogger("pyx12")
    logger.addHandler(collector)
    ack = io.StringIO()
    try:
        ok = pyx12.x12n_document.x12n_document(params, io.StringIO(text), ack, None, map_path=map_path())
    except pyx12.errors.EngineError as exc:
        return [f"engine: {exc}"]
    finally:
        logger.removeHandler(collector)
    problems = collector.messages
    if not ok and not problems:
        problems = ["pyx12 rejected the interchange: " + " ".join(line for line in ack.getvalue().split("~") if line.startswith(("IK3", "IK4", "IK5", "AK9")))]
    return problems


def main(argv: list[str] | None = None) -> int:
    status = 0
    for name in argv if argv is not None else sys.argv[1:]:
        problems = validate(Path(name).read_text(encoding="utf-8"))
        print(f"{name}: {'valid' if not problems else 'INVALID'}")
        for problem in problems:
            print(f"  {problem}")
        status |= bool(problems)
    return status


if __name__ == "__main__":
    raise SystemExit(main())
