"""The render budget: CPU time of the template's own code only; compiled once, reloaded on change."""

from __future__ import annotations

import os
import threading
from types import SimpleNamespace

import pytest

from service import sandbox
from service.context import sample_context
from service.errors import RenderBudgetExceeded, TemplateError
from service.rendering import Templates, templates_for
from service.sandbox import Limits
from service.validation import Mailbox

ME = Mailbox("Ada Candidate", "ada@candidate.example")
SPIN = "{% block subject %}Hi{% endblock %}{% block body %}{{ spin() }}done{% endblock %}"


class FakeCpu:
    """A CPU clock the test moves: the thread's CPU time, as sandbox.cpu_clock reads it."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def cpu(monkeypatch) -> FakeCpu:
    fake = FakeCpu()
    monkeypatch.setattr(sandbox, "cpu_clock", fake)
    return fake


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "templates"
    d.mkdir()
    return d


def context(**extra) -> dict:
    return sample_context(ME) | extra


def test_cpu_time_of_the_template_over_the_budget_is_an_error_naming_file_and_setting(folder, cpu):
    (folder / "slow.txt").write_text(SPIN)
    templates = Templates(folder, Limits(seconds=1.0))

    def spin() -> str:
        cpu.now += 1.5  # the template's own code used 1.5 s of CPU
        return ""

    with pytest.raises(RenderBudgetExceeded) as caught:
        templates.render("slow", context(spin=spin))
    message = str(caught.value)
    assert str(folder / "slow.txt") in message
    assert "more than 1s of CPU time" in message and "FOLLOWUP_RENDER_TIMEOUT" in message
    assert isinstance(caught.value, TemplateError)  # a preview or doctor shows it like any other


def test_cpu_time_under_the_budget_renders(folder, cpu):
    (folder / "quick.txt").write_text(SPIN)

    def spin() -> str:
        cpu.now += 0.9
        return ""

    rendered = Templates(folder, Limits(seconds=1.0)).render("quick", context(spin=spin))
    assert rendered.text == "done\n"


def test_finding_reading_and_compiling_the_file_do_not_count(folder, cpu, monkeypatch):
    (folder / "thanks.txt").write_text(SPIN)
    templates = Templates(folder, Limits(seconds=1.0))
    find, compile_template = templates._find, templates.env.compile

    def slow_find(*args, **kwargs):
        cpu.now += 2  # a cold disk or a starved machine while looking for the file
        return find(*args, **kwargs)

    def slow_compile(*args, **kwargs):
        cpu.now += 5  # ... and while compiling it
        return compile_template(*args, **kwargs)

    monkeypatch.setattr(templates, "_find", slow_find)
    monkeypatch.setattr(templates.env, "compile", slow_compile)
    rendered = templates.render("thanks", context(spin=lambda: ""))
    assert rendered.text == "done\n"
    assert cpu.now >= 107  # the clock moved, but outside the template's own code


def test_time_the_render_spends_waiting_while_other_threads_work_does_not_count(folder):
    """Real clocks: the rendering thread waits on another thread that burns CPU for much longer
    than the budget (wall-clock time passes, the render's own CPU time does not)."""
    (folder / "waits.txt").write_text(SPIN)
    templates = Templates(folder, Limits(seconds=0.005))
    burned = threading.Event()

    def busy_machine() -> None:
        sum(i * i for i in range(2_000_000))  # tens of ms of CPU in the other thread
        burned.set()

    def spin() -> str:
        other = threading.Thread(target=busy_machine)
        other.start()
        other.join()
        return ""

    assert templates.render("waits", context(spin=spin)).text == "done\n"
    assert burned.is_set()


def test_a_loop_that_never_ends_is_stopped_by_the_cpu_budget(folder):
    """No fake clock: the budget really stops a runaway template (0.05 s of CPU)."""
    (folder / "loop.txt").write_text(
        "{% block subject %}x{% endblock %}{% block body %}"
        "{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}"
        "{% endblock %}"
    )
    with pytest.raises(RenderBudgetExceeded, match="CPU time"):
        Templates(folder, Limits(seconds=0.05)).render("loop", context())


def test_templates_for_compiles_once_and_again_only_when_the_file_changes(folder):
    settings = SimpleNamespace(
        templates_dir=folder, render_timeout=1.0, render_max_kb=256, language="en"
    )
    path = folder / "mine.txt"
    path.write_text("{% block subject %}One{% endblock %}{% block body %}first{% endblock %}")
    templates = templates_for(settings)
    assert templates_for(settings) is templates  # one set per folder, limits and language
    assert templates.render("mine", context()).subject == "One"
    compiled = templates.env.get_template("mine.txt")
    templates.render("mine", context())
    assert templates.env.get_template("mine.txt") is compiled  # not compiled again

    stat = path.stat()
    path.write_text("{% block subject %}Two{% endblock %}{% block body %}second{% endblock %}")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    again = templates_for(settings).render("mine", context())
    assert (again.subject, again.text) == ("Two", "second\n")
    assert templates.env.get_template("mine.txt") is not compiled


def test_over_budget_along_with_another_template_is_the_machine_and_no_strike(db):
    """Two templates over budget in one batch: the machine was short of CPU, so no strike;
    one alone is a strike against it."""
    from service.delivery import strikes
    from service.delivery.prepare import Decision
    from service.models import FollowUp

    def defer(row_id: int, template: str) -> Decision:
        row = FollowUp(id=row_id, template=template, status="planned")
        return Decision(row, "planned", "defer", why="over", template=template)

    both = [defer(1, "thank_you"), defer(2, "status_check")]
    verdicts = strikes.judge(db, both, 1.0)
    assert verdicts == {1: (strikes.BUSY, 0), 2: (strikes.BUSY, 0)}
    assert [d.action for d in both] == ["defer", "defer"]

    alone = [defer(1, "thank_you"), defer(2, "thank_you")]
    assert strikes.judge(db, alone, 1.0) == {1: (strikes.ALONE, 1), 2: (strikes.ALONE, 1)}
    assert [d.action for d in alone] == ["defer", "defer"]
