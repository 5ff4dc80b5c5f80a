"""Copy the collected bounce corpus into tests/data/mail/bounces/, with one combined manifest.

    python scripts/copy_bounce_corpus.py [--from /work/corpus]

Each source folder (flufl, sisimai, bounceparser) holds the messages and one or more
`manifest*.jsonl` files (one JSON object per line: file, source_repo, source_path, commit,
licence, family, is_bounce, expected, delayed, note). The messages are copied unchanged into
`tests/data/mail/bounces/<source>/`, every manifest line goes into
`tests/data/mail/bounces/manifest.jsonl` with a `source` field added, and the licence texts
into `tests/data/mail/bounces/LICENSES/`. A line already in the combined manifest (same source
and file) keeps its reviewed values ("corrected: ..." notes), so re-running only adds new files.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET = REPO / "tests" / "data" / "mail" / "bounces"
SOURCES = ("flufl", "sisimai", "bounceparser")
FIELDS = (
    "source", "file", "source_repo", "source_path", "commit", "licence", "family",
    "is_bounce", "expected", "delayed", "note",
)  # fmt: skip

BSD_2 = """\
Copyright (C) 2014-2024 azumakuniyuki and sisimai development team
All rights reserved.

Redistribution and use in source and binary forms, with or without modification, are permitted
provided that the following conditions are met:

1. Redistributions of source code must retain the above copyright notice, this list of
   conditions and the following disclaimer.

2. Redistributions in binary form must reproduce the above copyright notice, this list of
   conditions and the following disclaimer in the documentation and/or other materials provided
   with the distribution.

THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS IS" AND ANY EXPRESS OR
IMPLIED WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED WARRANTIES OF MERCHANTABILITY AND
FITNESS FOR A PARTICULAR PURPOSE ARE DISCLAIMED. IN NO EVENT SHALL THE COPYRIGHT HOLDER OR
CONTRIBUTORS BE LIABLE FOR ANY DIRECT, INDIRECT, INCIDENTAL, SPECIAL, EXEMPLARY, OR CONSEQUENTIAL
DAMAGES (INCLUDING, BUT NOT LIMITED TO, PROCUREMENT OF SUBSTITUTE GOODS OR SERVICES; LOSS OF USE,
DATA, OR PROFITS; OR BUSINESS INTERRUPTION) HOWEVER CAUSED AND ON ANY THEORY OF LIABILITY, WHETHER
IN CONTRACT, STRICT LIABILITY, OR TORT (INCLUDING NEGLIGENCE OR OTHERWISE) ARISING IN ANY WAY OUT
OF THE USE OF THIS SOFTWARE, EVEN IF ADVISED OF THE POSSIBILITY OF SUCH DAMAGE.
"""

PERL_5 = """\
The files in bounceparser/ come from the test corpus (t/corpus) of the Perl module
Mail::DeliveryStatus::BounceParser (https://metacpan.org/dist/Mail-DeliveryStatus-BounceParser).
That distribution is free software: it may be redistributed and/or modified under the same terms
as Perl 5 itself, that is, under the terms of either the GNU General Public License (version 1 or,
at your option, any later version) or the Artistic License (the "Perl 5 licence"); see
https://dev.perl.org/licenses/. The messages are copied unchanged.
"""


def read_manifests(folder: Path, source: str) -> list[dict]:
    rows = []
    for manifest in sorted(folder.glob("manifest*.jsonl")):
        for line in manifest.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                row["source"] = source
                rows.append({k: row.get(k) for k in FIELDS} | row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="corpus", default="/work/corpus", type=Path)
    args = parser.parse_args()
    manifest = TARGET / "manifest.jsonl"
    kept: dict[tuple[str, str], dict] = {}
    if manifest.exists():
        for line in manifest.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            kept[(row["source"], row["file"])] = row
    rows: dict[tuple[str, str], dict] = {}
    for source in SOURCES:
        folder = args.corpus / source
        if not folder.is_dir():
            continue
        for row in read_manifests(folder, source):
            path = folder / row["file"]
            if not path.is_file():
                continue
            key = (source, row["file"])
            (TARGET / source / row["file"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, TARGET / source / row["file"])
            old = kept.get(key)
            rows[key] = old if old and "corrected:" in (old.get("note") or "") else row
    with manifest.open("w", encoding="utf-8") as out:
        for key in sorted(rows):
            out.write(json.dumps(rows[key], ensure_ascii=False) + "\n")
    licences = TARGET / "LICENSES"
    licences.mkdir(parents=True, exist_ok=True)
    if (args.corpus / "flufl" / "LICENSE.flufl").is_file():
        shutil.copyfile(args.corpus / "flufl" / "LICENSE.flufl", licences / "Apache-2.0-flufl.txt")
    (licences / "BSD-2-Clause-sisimai.txt").write_text(BSD_2, encoding="utf-8")
    (licences / "Perl-5-bounceparser.txt").write_text(PERL_5, encoding="utf-8")
    counts = {s: sum(1 for k in rows if k[0] == s) for s in SOURCES}
    print(f"{len(rows)} files copied: " + ", ".join(f"{s} {n}" for s, n in counts.items()))


if __name__ == "__main__":
    main()
