"""Rendering: turns a template and an interview's data into a subject, a text and an HTML body."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from service.db import data_dir
from service.errors import RenderBudgetExceeded, TemplateError
from service.validation import clean_line

if TYPE_CHECKING:
    import jinja2

    from service.config import Settings
    from service.sandbox import Limits


@dataclass(frozen=True)
class Rendered:
    """A message's content: what review shows and approval covers."""

    subject: str
    text: str
    html: str | None
    #: Hash of the template sources and the data they were rendered from.
    source_hash: str

    @property
    def content_hash(self) -> str:
        return content_hash(self.subject, self.text, self.html)


def content_hash(subject: str, text: str, html: str | None) -> str:
    """The fingerprint of exactly what would be sent."""
    payload = json.dumps([subject, text, html], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def default_templates_dir() -> Path:
    return data_dir("templates")


class Templates:
    """The template set: the user's overrides first, then the shipped defaults.

    A template NAME in a language LANG is NAME.LANG.txt, else NAME.txt, looked for in the
    override folder first and then in the shipped one: a user's own NAME.txt wins over a
    shipped translation. The language is the context's `language`, else the user's.
    """

    def __init__(
        self,
        override_dir: Path | None = None,
        limits: Limits | None = None,
        *,
        recheck: float = 0.0,
        language: str = "en",
    ):
        # Jinja is imported when templates are first needed: an idle worker does without it.
        import jinja2

        from service.sandbox import BoundedEnvironment, Limits

        self.limits = limits or Limits()
        self.dirs = [d for d in (override_dir, default_templates_dir()) if d is not None]
        self.env = BoundedEnvironment(
            loader=jinja2.FileSystemLoader([str(d) for d in self.dirs]),
            undefined=jinja2.StrictUndefined,
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
            auto_reload=False,  # _find notices changed files and clears the compiled ones
        )
        #: Look at the files again at most this often (seconds): a worker sees edits that soon.
        self.recheck = recheck
        #: The user's language (FOLLOWUP_LANGUAGE): for a context that names none.
        self.language = language
        self._read: dict[tuple[str, int, int], tuple[str, str]] = {}
        self._found: dict[str, tuple[float, tuple[str, int, int] | None]] = {}
        self._picked: dict[tuple[str, str], tuple[float, str]] = {}

    @classmethod
    def of(cls, settings: Settings, *, recheck: float = 0.0) -> Templates:
        """A new template set with the folder, limits and language the settings name."""
        from service.sandbox import Limits

        return cls(
            settings.templates_dir,
            Limits(settings.render_timeout, settings.render_max_kb * 1024),
            recheck=recheck,
            language=settings.language,
        )

    def names(self) -> list[str]:
        """Every template name available (by its .txt file, whatever its language)."""
        found: set[str] = set()
        for d in self.dirs:
            found.update(p.name.split(".", 1)[0] for p in d.glob("*.txt"))
        return sorted(found)

    def languages(self, name: str) -> list[str]:
        """The languages `name` has a file of its own in (besides NAME.txt, English); a file
        such as NAME.old.txt names no language and is left out."""
        from service.errors import UsageError
        from service.languages import check_language

        found: set[str] = set()
        for d in self.dirs:
            for p in d.glob(f"{name}.*.txt"):
                code = p.name[len(name) + 1 : -len(".txt")]
                try:
                    if check_language(code, "template") == code:
                        found.add(code)
                except UsageError:
                    pass
        return sorted(found)

    def filename(self, name: str, language: str | None = None, ext: str = "txt") -> str:
        """The file `name` renders from in `language`: NAME.LANG.EXT or NAME.EXT, whichever
        the first folder that has either holds (NAME.EXT if none does)."""
        language = language or self.language
        key = (f"{name}.{ext}", language)
        now = time.monotonic()
        seen = self._picked.get(key)
        if seen is not None and now - seen[0] < self.recheck:
            return seen[1]
        candidates = [f"{name}.{language}.{ext}", f"{name}.{ext}"]
        if "_" in language:  # pt_BR falls back to pt
            candidates.insert(1, f"{name}.{language.split('_')[0]}.{ext}")
        picked = next(
            (c for d in self.dirs for c in candidates if (d / c).is_file()), f"{name}.{ext}"
        )
        self._picked[key] = (now, picked)
        return picked

    def source(self, filename: str) -> str | None:
        """The source text of a template file, or None if there is none.

        Read afresh each time: a running worker must see the user's edits (and new overrides),
        or its source_hash would not change when the template does.
        """
        found = self._find(filename)
        return found[0] if found else None

    def _find(self, filename: str) -> tuple[str, str] | None:
        """The source and the path of the file that `filename` resolves to now.

        A stat (at most every `recheck` seconds) finds edits and new overrides; the text is read
        again only when the file's path, modification time or size changed, and then the
        compiled templates are dropped too.
        """
        now = time.monotonic()
        seen = self._found.get(filename)
        if seen is not None and now - seen[0] < self.recheck:
            found = seen[1]
        else:
            found = None
            for folder in self.dirs:
                path = folder / filename
                try:
                    stat = path.stat()
                except OSError:
                    continue
                found = (str(path), stat.st_mtime_ns, stat.st_size)
                break
            if seen is not None and seen[1] != found and self.env.cache is not None:
                self.env.cache.clear()
            self._found[filename] = (now, found)
        if found is None:
            return None
        known = self._read.get(found)
        if known is None:
            text = _read(Path(found[0]))
            known = self._read[found] = (text, hashlib.sha256(text.encode("utf-8")).hexdigest())
        return known[0], found[0]

    def _digest(self, filename: str) -> str | None:
        """A fingerprint of the file's current text (None: no such file)."""
        self._find(filename)
        key = self._found[filename][1]
        return self._read[key][1] if key is not None else None

    def source_hash(self, name: str, context: dict) -> str:
        """Changes whenever the template files or the data they are rendered from change."""
        language = context.get("language")
        payload = json.dumps(
            [
                self._digest(self.filename(name, language)),
                self._digest(self.filename(name, language, "html")),
                context,
            ],
            ensure_ascii=False,
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()

    def render(self, name: str, context: dict) -> Rendered:
        """Render the template `name` (name.txt, and name.html if present) with context, within
        the limits: the CPU time of the template's own code (finding and compiling the files
        is not counted), and the size of the text."""
        from service.sandbox import budget

        try:
            with budget(self.limits):
                return self._render(name, context)
        except RenderBudgetExceeded as exc:
            exc.template = exc.template or name  # the innermost render's: the one over budget
            raise

    def _render(self, name: str, context: dict) -> Rendered:
        language = context.get("language")
        text_file = self.filename(name, language)
        if self.source(text_file) is None:
            raise TemplateError(
                f"template {name!r} not found: there is no {name}.txt in "
                + " or ".join(str(d) for d in self.dirs)
            )
        text_template = self._load(text_file)
        subject = " ".join(self._block(text_template, "subject", context).split())
        text = _tidy(self._block(text_template, "body", context))
        html = None
        html_file = self.filename(name, language, "html")
        if self.source(html_file) is not None:
            html_template = self._load(html_file)
            html = self._block(html_template, "body", context).strip() + "\n"
        try:
            subject = clean_line(subject, f"subject of template {text_file}", max_len=250)
        except Exception as exc:
            raise TemplateError(str(exc)) from None
        if not text.strip():
            raise TemplateError(f"template {text_file} renders an empty body")
        if "\x00" in text + (html or ""):
            raise TemplateError(f"template {text_file} renders a NUL character: remove it")
        return Rendered(subject, text, html, self.source_hash(name, context))

    def _load(self, filename: str) -> jinja2.Template:
        import jinja2

        try:
            self._find(filename)  # notices a changed or new file, and drops the compiled ones
            return self.env.get_template(filename)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(
                f"template {exc.filename or filename} line {exc.lineno}: {exc.message}"
            ) from None
        except UnicodeDecodeError:
            found = self._find(filename)  # raises the TemplateError that names the file
            raise TemplateError(
                f"template {found[1] if found else filename} is not UTF-8"
            ) from None

    def _block(self, template: jinja2.Template, block: str, context: dict) -> str:
        import jinja2

        if block not in template.blocks:
            raise TemplateError(
                f"template {template.filename} has no {{% block {block} %}}...{{% endblock %}}"
            )
        from service.sandbox import OverBudget, OverTime, collect

        try:
            ctx = template.new_context(context)
            return collect(template.blocks[block](ctx))
        except TemplateError:
            raise
        except OverTime as exc:
            raise RenderBudgetExceeded(
                f"template {template.filename}: {exc} (limit: FOLLOWUP_RENDER_TIMEOUT); "
                "a loop that never ends?"
            ) from None
        except OverBudget as exc:
            raise TemplateError(
                f"template {template.filename}: {exc} (limits: FOLLOWUP_RENDER_TIMEOUT, "
                "FOLLOWUP_RENDER_MAX_KB); a loop that never ends, or too much text?"
            ) from None
        except RecursionError:
            raise TemplateError(
                f"template {template.filename}: a macro calls itself without end"
            ) from None
        except Exception as exc:
            line = _template_line(template.filename)
            where = f"{template.filename} line {line}" if line else template.filename
            message = exc.message if isinstance(exc, jinja2.TemplateError) else str(exc)
            raise TemplateError(f"template {where}: {message}") from None


def _template_line(filename: str | None) -> int | None:
    """The template line of the exception being handled, via Jinja's traceback rewriting."""
    from jinja2.debug import rewrite_traceback_stack

    try:
        rewritten = rewrite_traceback_stack(source=None)
    except Exception:
        return None
    line = None
    for frame in traceback.extract_tb(rewritten.__traceback__):
        if filename and frame.filename == filename:
            line = frame.lineno
    return line


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise TemplateError(
            f"template {path} is not UTF-8 text (byte {exc.start}): save it as UTF-8"
        ) from None
    except OSError as exc:
        raise TemplateError(f"template {path} cannot be read: {exc.strerror}") from None


#: The template sets made by templates_for, one per folder, limits and language: a web request
#: or a command reuses the compiled templates (each is compiled again only when its file changes).
_sets: dict[tuple, Templates] = {}
_sets_lock = threading.Lock()
_MAX_SETS = 8


def templates_for(settings: Settings) -> Templates:
    """The template set and limits the settings name; the same one for the same settings.

    Its files are looked at on every render (a stat), so an edit is seen at once; the worker,
    which renders much more, makes its own with `Templates.of(settings, recheck=1.0)`.
    """
    key = (
        settings.templates_dir,
        settings.render_timeout,
        settings.render_max_kb,
        settings.language,
    )
    with _sets_lock:
        found = _sets.get(key)
        if found is None:
            if len(_sets) >= _MAX_SETS:
                _sets.pop(next(iter(_sets)))
            found = _sets[key] = Templates.of(settings)
        return found


def _tidy(text: str) -> str:
    """Trim surrounding blank lines and runs of blank lines left by conditional blocks."""
    lines = [line.rstrip() for line in text.strip("\n").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"
