"""A loopback SMTP sink for the benchmarks: aiosmtpd in its own process, one JSON line a message.

Run by the benchmarks as a subprocess (so it does not share the measured process's GIL):

    python bench/smtpsink.py --out FILE [--max-seconds 600] [--delay-ms 0]

It binds 127.0.0.1 on a free port, prints `PORT <n>` on stdout once it accepts connections, and
appends `{"t": <arrival epoch seconds>, "mid": "<Message-ID>", "from": ..., "rcpt": [...]}` to
FILE for every message it accepts, flushed before it replies 250 (so a client that has the reply
can read the line). With --delay-ms it waits that long (asyncio.sleep, so other connections go on
meanwhile) before the 250 reply to DATA, as a real server committing each message to disk does;
the line is written after the wait. It stops on SIGTERM/SIGINT, when its stdin closes (the benchmark died), or
after --max-seconds, whichever comes first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import signal
import sys
import time

from aiosmtpd.smtp import SMTP

MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]*>)", re.IGNORECASE | re.MULTILINE)


class Sink:
    """Accepts everything; records arrival time and Message-ID of each message."""

    def __init__(self, out, delay: float = 0.0):
        self.out = out
        self.delay = delay
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        arrived = time.time()
        data = envelope.original_content or b""
        header_end = data.find(b"\r\n\r\n")
        found = MESSAGE_ID.search(data, 0, header_end if header_end >= 0 else len(data))
        record = {
            "t": arrived,
            "mid": found.group(1).decode("ascii", "replace") if found else None,
            "from": envelope.mail_from,
            "rcpt": list(envelope.rcpt_tos),
            "size": len(data),
        }
        if self.delay:
            await asyncio.sleep(self.delay)
        self.out.write(json.dumps(record) + "\n")
        self.out.flush()
        self.count += 1
        return f"250 2.0.0 Ok: queued as S{self.count}"


async def serve(out_path: str, max_seconds: float, delay_ms: float = 0.0) -> int:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, done.set)
    # Our parent holds our stdin: EOF means it is gone, so we go too.
    loop.add_reader(sys.stdin.fileno(), lambda: sys.stdin.buffer.read1(4096) or done.set())
    with open(out_path, "a", encoding="utf-8") as out:
        handler = Sink(out, delay_ms / 1000)
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="bench.sink", ident="bench-sink", timeout=60),
            host="127.0.0.1",
            port=0,
        )
        port = server.sockets[0].getsockname()[1]
        print(f"PORT {port}", flush=True)
        try:
            await asyncio.wait_for(done.wait(), timeout=max_seconds)
        except TimeoutError:
            print("smtpsink: --max-seconds reached, stopping", file=sys.stderr)
        server.close()
        await server.wait_closed()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="file to append one JSON line a message to")
    parser.add_argument("--max-seconds", type=float, default=600, help="stop after this long")
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=0.0,
        help="wait this long before the 250 reply to DATA (default 0: answer at once)",
    )
    args = parser.parse_args()
    return asyncio.run(serve(args.out, args.max_seconds, args.delay_ms))


if __name__ == "__main__":
    sys.exit(main())
