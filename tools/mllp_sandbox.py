"""An HL7 v2 receiver over MLLP (the `hl7` library's asyncio server): the practice-management system for
tests of the HL7 v2 connector.

It parses every message, answers an ACK matched by control id (MSH-10), and keeps what it accepted by
control id, accepting a repeated control id without storing it again (the HL7 way to make a resend
harmless). `script` scripts the answers to the next messages: "AE", "AR", "silent" (no ACK at all), or
"close" (drop the connection).

    python -m tools.mllp_sandbox --port 2575
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
                action = self.script.pop(0) if self.script else "AA"
                if action == "close":
                    writer.close()
                    return
                if action == "silent":
                    continue
                if action == "AA":
                    self.accepted.setdefault(control_id, message)
                ack = message.create_ack(action, application="PM-SANDBOX", facility="CENTRAL")
                writer.writemessage(ack)
                await writer.drain()
        except asyncio.IncompleteReadError:
            pass
        finally:
            writer.close()


async def _serve(host: str, port: int) -> None:
    receiver = MllpReceiver()
    bound = await receiver.start(host, port)
    print(f"HL7 v2 receiver on mllp://{host}:{bound}", flush=True)
    await asyncio.Event().wait()


def main() -> None:
    parser = argparse.ArgumentParser(description="HL7 v2 MLLP receiver that ACKs every message")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2575)
    args = parser.parse_args()
    asyncio.run(_serve(args.host, args.port))


if __name__ == "__main__":
    main()
