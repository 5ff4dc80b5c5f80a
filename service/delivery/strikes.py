"""Renders over their CPU budget: the machine or the template? Deferred, or failed at the third."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from service.db import Database
from service.delivery.prepare import Decision
from service.models import Event

#: A follow-up whose template is over budget this many times running, alone, fails.
LIMIT = 3
#: Event kinds of a deferral for the budget: alone in its batch (a strike against the template),
#: or along with other templates (the machine was short of CPU: no strike).
ALONE = "over_budget"
BUSY = "over_budget_busy"


def judge(db: Database, decisions: list[Decision], timeout: float) -> dict[int, tuple[str, int]]:
    """For each "defer" of a prepared batch: its event kind and the strikes it makes; a follow-up
    over budget alone for the LIMIT-th time running becomes "fail", naming template and setting.

    Counted per follow-up, in its own events (a deferral of kind ALONE or BUSY; anything else in
    between ends the run): it survives restarts and `worker --once`, and needs no new column.
    "Alone": its template is the only one over budget in the batch; the rest rendered in time, so
    it is the template, not the machine.
    """
    deferred = [d for d in decisions if d.action == "defer"]
    if not deferred:
        return {}
    alone = len({d.template for d in deferred}) == 1
    with db.reading() as session:
        before = {d.row.id: _strikes(session, d.row.id) for d in deferred}
    verdicts: dict[int, tuple[str, int]] = {}
    for d in deferred:
        strikes = before[d.row.id] + (1 if alone else 0)
        verdicts[d.row.id] = (ALONE if alone else BUSY, strikes)
        if strikes >= LIMIT:
            d.action = "fail"
            d.why = (
                f"template {d.template!r} was over its render budget ({timeout:g}s of CPU "
                f"time) {LIMIT} times running while the rest rendered in time: make it do less, "
                f"or raise FOLLOWUP_RENDER_TIMEOUT. Last: {d.why}"
            )
    return verdicts


def _strikes(session: Session, followup_id: int) -> int:
    """The deferrals of kind ALONE in the run of budget deferrals that ends its history."""
    kinds = session.scalars(
        select(Event.kind)
        .where(Event.followup_id == followup_id)
        .order_by(Event.id.desc())
        .limit(4 * LIMIT)
    )
    strikes = 0
    for kind in kinds:
        if kind not in (ALONE, BUSY):
            break
        strikes += kind == ALONE
    return strikes
