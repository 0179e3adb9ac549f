"""An HL7 v2 receiver over MLLP (the `hl7` library's asyncio server): the practice-management system for
tests of the HL7 v2 connector.

It parses every message, answers an ACK matched by control id (MSH-10), and keeps what it accepted by
control id, accepting a repeated control id without storing it again (the HL7 way to make a resend
harmless). `script` scripts the answers to the next messages: "AE", "AR" (each with an ERR segment:
ERR-3 `error_code`, ERR-8 `error_text`), "silent" (no ACK at all), or "close" (drop the connection);
`answer` is what every message after the script gets ("AA" unless set).

    python -m tools.mllp_sandbox --port 2575 [--answer AE]
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter

import hl7
from hl7.mllp import start_hl7_server


class MllpReceiver:
    def __init__(self) -> None:
        self.accepted: dict[str, hl7.Message] = {}
        self.received: Counter[str] = Counter()  # control id -> how many times it arrived
        self.script: list[str] = []
        self.answer = "AA"
        self.error_code = "207^Application internal error^HL70357"
        self.error_text = "the receiver refused the message"
        self.server: asyncio.AbstractServer | None = None

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self.server = await start_hl7_server(self._client, host, port, encoding="utf-8")
        return self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _client(self, reader, writer) -> None:
        try:
            while not writer.is_closing():
                message = await reader.readmessage()
                control_id = str(message.segment("MSH")[10])
                self.received[control_id] += 1
                action = self.script.pop(0) if self.script else self.answer
                if action == "close":
                    writer.close()
                    return
                if action == "silent":
                    continue
                if action == "AA":
                    self.accepted.setdefault(control_id, message)
                writer.writemessage(self._ack(message, action))
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()

    def _ack(self, message: hl7.Message, code: str) -> hl7.Message:
        ack = message.create_ack(code, application="PM-SANDBOX", facility="CENTRAL")
        if code == "AA":
            return ack
        # v2.5.1 ERR: ERR-3 the HL7 error code (table 0357), ERR-4 severity, ERR-8 the message for a user
        err = "|".join(["ERR", "", "", self.error_code, "E", "", "", "", message.escape(self.error_text)])
        return hl7.parse(str(ack).rstrip("\r") + "\r" + err)


async def _serve(host: str, port: int, answer: str) -> None:
    receiver = MllpReceiver()
    receiver.answer = answer
    bound = await receiver.start(host, port)
    print(f"HL7 v2 receiver on mllp://{host}:{bound}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="HL7 v2 MLLP receiver that ACKs every message")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2575)
    parser.add_argument("--answer", default="AA", choices=["AA", "AE", "AR"], help="MSA-1 of every ACK")
    args = parser.parse_args()
    asyncio.run(_serve(args.host, args.port, args.answer))


if __name__ == "__main__":
    main()
