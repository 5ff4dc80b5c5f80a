"""Bounces: the corpus of real bounce messages read by followup and by flufl.bounce, same run.

Every file listed in tests/data/mail/bounces/manifest.jsonl (real bounces and a few non-bounces
from flufl.bounce's, Sisimai's and Mail::DeliveryStatus::BounceParser's test data) is read two
ways: by followup, through `classify` exactly as `followup inbox classify` does (parse_message,
then classify), and by flufl.bounce (`all_failures` on the message parsed by the standard
library, as Mailman does).

For a bounce, a reader is right when the lower-cased set of the addresses it reports equals the
manifest's `expected` set (followup: every recipient of the Bounce, failed and delayed, and the
kind must be `bounce`; flufl.bounce: its temporary and permanent failures together). "expected
included" counts the files where the reported set holds every expected address (and maybe
more). For a non-bounce (a warning, a message from a list's bounce address, a person's reply
caught in a bounce folder), each one followup reads as a `reply` is listed, to be checked by
hand: only a person's message may be one. Printed per family and in total, with files per second for each
reader. A bounce or non-bounce read as `reply` prints FAILED and exits 1; a missed goal (95%,
ahead of flufl.bounce) is reported, never an error.
"""

from __future__ import annotations

import argparse
import email
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

from _common import REPO, loadavg, machine, table

from service.inbox.classify import BOUNCE, REPLY, classify
from service.inbox.message import MessageError, parse_message

CORPUS = REPO / "tests" / "data" / "mail" / "bounces"
GOAL = 0.95


def load(corpus: Path) -> list[tuple[dict, bytes]]:
    rows = []
    for line in (corpus / "manifest.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        rows.append((row, (corpus / row["source"] / row["file"]).read_bytes()))
    return rows


def ours(raw: bytes) -> tuple[str, set[str]]:
    """(kind, lower-cased recipients of the bounce) as `inbox classify` reads the file."""
    try:
        found = classify(parse_message(raw))
    except MessageError:
        return "error", set()
    if found.kind != BOUNCE or found.bounce is None:
        return found.kind, set()
    return found.kind, {r.address.lower() for r in found.bounce.recipients}


def theirs_of(raw: bytes) -> set[str]:
    from flufl.bounce import all_failures

    try:
        temporary, permanent = all_failures(email.message_from_bytes(raw))
    except Exception:  # flufl.bounce raises on some broken input; count it as found nothing
        return set()
    return {
        (a.decode("utf-8", "replace") if isinstance(a, bytes) else str(a)).lower()
        for a in temporary | permanent
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--misses", action="store_true", help="list each file either got wrong")
    args = parser.parse_args()
    rows = load(args.corpus)
    print(f"bounce corpus: {len(rows)} files; {machine()}; load average {loadavg()}")

    started = time.perf_counter()
    mine = [ours(raw) for _, raw in rows]
    our_rate = len(rows) / (time.perf_counter() - started)
    import flufl.bounce  # noqa: F401  (imported before timing, as followup's reader is)

    started = time.perf_counter()
    theirs = [theirs_of(raw) for _, raw in rows]
    their_rate = len(rows) / (time.perf_counter() - started)

    per: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    failures = []
    for (row, _), (kind, got), found in zip(rows, mine, theirs, strict=True):
        expected = {a.lower() for a in row["expected"]}
        for key in (f"{row['source']}/{row['family']}", "total"):
            count = per[key]
            if row["is_bounce"]:
                count["bounces"] += 1
                count["ours"] += kind == BOUNCE and got == expected
                count["ours_in"] += kind == BOUNCE and expected <= got
                count["flufl"] += found == expected
                count["flufl_in"] += expected <= found
                count["reply"] += kind == REPLY
            else:
                count["others"] += 1
                count["reply"] += kind == REPLY
        name = f"{row['source']}/{row['file']}"
        if kind == REPLY and row["is_bounce"]:
            failures.append(f"{name} read as reply")
        elif kind == REPLY:
            print(f"  not a bounce, read as reply (check it is a person's): {name}")
        if args.misses and row["is_bounce"] and (got != expected or found != expected):
            print(f"  {name} [{row['family']}] expected {sorted(expected)}: ours {kind} "
                  f"{sorted(got)}, flufl {sorted(found)}")  # fmt: skip

    def pct(n: int, d: int) -> str:
        return f"{n}/{d} ({100 * n / d:.0f}%)" if d else "-"

    lines = [["family", "bounces", "followup right", "(included)", "flufl right", "(included)",
              "non-bounces", "read as reply"]]  # fmt: skip
    for key in sorted(per, key=lambda k: (k == "total", k)):
        c = per[key]
        lines.append([key, str(c["bounces"]), pct(c["ours"], c["bounces"]),
                      str(c["ours_in"]), pct(c["flufl"], c["bounces"]), str(c["flufl_in"]),
                      str(c["others"]), str(c["reply"])])  # fmt: skip
    print(table(lines))
    total = per["total"]
    print(f"\nfiles/s: followup {our_rate:.0f}, flufl.bounce {their_rate:.0f}")
    share = total["ours"] / total["bounces"] if total["bounces"] else 0.0
    print(
        f"followup right: {pct(total['ours'], total['bounces'])}; flufl.bounce right: "
        f"{pct(total['flufl'], total['bounces'])}; goal {GOAL:.0%} and ahead of flufl.bounce: "
        + ("met" if share >= GOAL and total["ours"] > total["flufl"] else "missed")
    )
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
