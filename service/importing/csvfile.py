"""Interviews from a CSV file with a header row, streamed row by row and checked by the CLI's rules."""

from __future__ import annotations

import csv
import itertools
import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, BinaryIO, cast

from service.contacts import ContactInput
from service.errors import UsageError
from service.importing.records import ImportedInterview, ImportOptions, Problems
from service.importing.text import SAVE_CSV_AS_UTF8, other_encoding, strip_bom
from service.interviews import InterviewInput, parse_contact, parse_input

#: The columns a file may have, in the documented order (docs/importing.md).
COLUMNS = (
    "company",
    "role",
    "at",
    "tz",
    "duration",
    "location",
    "contacts",
    "notes",
    "questions",
    "decision_date",
    "language",
)
#: Cells holding several values separate them with this.
LIST_SEPARATOR = ";"


def read_csv(
    stream: BinaryIO,
    file: str,
    options: ImportOptions,
    problems: Problems,
    on_bytes: Callable[[int], None] | None = None,
) -> Iterator[ImportedInterview]:
    """Yield each good row as it is read (memory stays flat); record every bad cell in problems."""
    before = len(problems)
    lines = _lines(stream, file, problems, on_bytes)
    first = next(lines, None)
    if len(problems) > before:
        return
    if first is None or not first.strip():
        problems.add(file, f"is empty: its first row names the columns ({', '.join(COLUMNS)})")
        return
    reader = csv.reader(itertools.chain([first], lines), delimiter=_delimiter(first))
    try:
        header = next(reader)
        columns = _columns(header, file, options, problems)
        if columns is None:
            return
        for row, cells in enumerate(reader, 2):
            if not any(cell.strip() for cell in cells):
                continue
            if len(cells) > len(columns) and any(c.strip() for c in cells[len(columns) :]):
                problems.add(
                    file,
                    f"has {len(cells)} cells but the first row names {len(columns)} columns: "
                    "a cell holding a comma needs double quotes around it",
                    row=row,
                )
                continue
            values = dict(zip(columns, cells + [""] * (len(columns) - len(cells)), strict=False))
            interview = _RowReader(file, row, columns, options, problems).read(values)
            if interview is not None:
                yield interview
    except csv.Error as exc:
        problems.add(file, f"is not a readable CSV file: {exc}", line=reader.line_num)


def _lines(
    stream: BinaryIO, file: str, problems: Problems, on_bytes: Callable[[int], None] | None
) -> Iterator[str]:
    """The file's lines as text; a line that is not UTF-8 is noted and read with replacements."""
    bad: list[int] = []
    for number, raw in enumerate(stream, 1):
        if on_bytes is not None:
            on_bytes(len(raw))
        if number == 1:
            encoding = other_encoding(raw)
            if encoding:
                problems.add(file, f"is {encoding} text: {SAVE_CSV_AS_UTF8}")
                return
            raw = strip_bom(raw)
        if b"\x00" in raw:
            problems.add(file, "is a binary file, not text", line=number)
            return
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(number)
            yield raw.decode("utf-8", errors="replace")
    if bad:
        more = (
            f"; {len(bad) - 1} more line{'s' if len(bad) > 2 else ''} like it"
            if len(bad) > 1
            else ""
        )
        problems.add(file, f"is not UTF-8 text{more}: {SAVE_CSV_AS_UTF8}", line=bad[0])


def _delimiter(header: str) -> str:
    """Comma, or the semicolon Excel writes where the decimal mark is a comma."""
    if "," not in header and ";" in header:
        return ";"
    return ","


def letter(index: int) -> str:
    """A column's letter as a spreadsheet shows it: 0 -> A, 26 -> AA."""
    name = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        name = chr(ord("A") + rest) + name
    return name


def _columns(
    header: list[str], file: str, options: ImportOptions, problems: Problems
) -> list[str] | None:
    """The known column names in the header's order, or None after recording what is wrong."""
    names = [re.sub(r"[\s-]+", "_", cell.strip().lower()) for cell in header]
    before = len(problems)
    for index, name in enumerate(names):
        if name not in COLUMNS:
            problems.add(
                file,
                f"unknown column {header[index].strip()!r}: the columns are {', '.join(COLUMNS)}",
                row=1,
                column=f"{letter(index)} ({header[index].strip()})",
            )
        elif names.index(name) != index:
            problems.add(file, f"the column {name!r} appears twice", row=1, column=letter(index))
    required = ["at", "contacts"]
    required += [
        name for name, flag in (("company", options.company), ("role", options.role)) if not flag
    ]
    for name in required:
        if name not in names:
            flag = f", or give --{name} for every row" if name in ("company", "role") else ""
            problems.add(
                file, f"the column {name!r} is missing: the first row must name it{flag}", row=1
            )
    return names if len(problems) == before else None


class _RowReader:
    """One row's cells, each checked by the same rules as `followup interview add`."""

    def __init__(
        self, file: str, row: int, columns: list[str], options: ImportOptions, problems: Problems
    ):
        self.file, self.row, self.columns = file, row, columns
        self.options, self.problems = options, problems

    def fail(self, column: str, message: str) -> None:
        where = (
            f"{letter(self.columns.index(column))} ({column})" if column in self.columns else column
        )
        # The CLI's messages name its flags ("--at ..."); here the cell is named by its column.
        message = re.sub(r"^--[a-z-]+", column, message)
        self.problems.add(self.file, message, row=self.row, column=where)

    def check(self, column: str, **raw: Any) -> InterviewInput | None:
        try:
            return parse_input(**raw)
        except UsageError as exc:
            self.fail(column, str(exc))
            return None

    def read(self, cells: dict[str, str]) -> ImportedInterview | None:
        before = len(self.problems)
        company = self._required(cells, "company", self.options.company)
        role = self._required(cells, "role", self.options.role)
        zone = self.check(
            "tz", tz=cells.get("tz", "").strip() or self.options.tz or self.options.user_zone
        )
        start = self.check("at", at=cells.get("at", ""), tz=zone.timezone) if zone else None
        duration = cells.get("duration", "").strip()
        checked = [
            self.check("duration", duration=duration) if duration else InterviewInput(),
            self.check("location", location=cells.get("location", "")),
            self.check("notes", notes=cells.get("notes", "")),
            self.check("questions", questions=_split(cells.get("questions", ""))),
        ]
        decision = cells.get("decision_date", "").strip()
        decided = self.check("decision_date", decision_date=decision) if decision else None
        language = cells.get("language", "").strip()
        spoken = self.check("language", language=language) if language else None
        contacts = self._contacts(cells.get("contacts", ""))
        duration_of, location, notes, questions = checked
        if (
            len(self.problems) > before
            or company is None
            or role is None
            or zone is None
            or start is None
            or duration_of is None
            or location is None
            or notes is None
            or questions is None
            or (language and spoken is None)
        ):
            return None
        # A cell checked without a problem has its field set: parse_input sets what it is given.
        return ImportedInterview(
            source=f"{self.file}:row {self.row}",
            company=cast(str, company.company),
            role=cast(str, role.role),
            starts_at=cast(datetime, start.starts_at),
            timezone=cast(str, zone.timezone),
            duration=duration_of.duration,
            location=location.location or "",
            contacts=contacts,
            notes=notes.notes or "",
            questions=tuple(questions.questions or ()),
            decision_date=decided.decision_date if decided else None,
            language=spoken.language if spoken else None,
        )

    def _required(
        self, cells: dict[str, str], column: str, flag: str | None
    ) -> InterviewInput | None:
        value = cells.get(column, "").strip() or flag
        if not value:
            self.fail(column, f"{column} is empty: fill it in, or give --{column} for every row")
            return None
        return self.check(column, **{column: value})

    def _contacts(self, cell: str) -> tuple[ContactInput, ...]:
        given = _split(cell)
        if not given:
            self.fail(
                "contacts",
                "contacts is empty: give at least one, as 'Name <email> | title | phone', "
                f"several separated by '{LIST_SEPARATOR}'",
            )
            return ()
        before = len(self.problems)
        parsed = []
        for value in given:
            try:
                parsed.append(parse_contact(value))
            except UsageError as exc:
                self.fail("contacts", str(exc))
        emails = [c.email.lower() for c in parsed]
        if len(set(emails)) != len(emails):
            self.fail("contacts", "contacts: the same address is given twice")
        if len(self.problems) > before:
            return ()
        return tuple(parsed)


def _split(cell: str) -> list[str]:
    return [part.strip() for part in cell.split(LIST_SEPARATOR) if part.strip()]
