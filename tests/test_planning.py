"""Planning: when each follow-up is due, on the recipient's wall clock, around holidays and DST."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

import holidays as holidays_lib
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from service.calendar import Calendar, Window
from service.models import Status
from service.plan import load_plan, parse_plan
from service.planning import InterviewFacts, plan_followups

NY = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
APIA = ZoneInfo("Pacific/Apia")
DEFAULT_PLAN = load_plan()
JANE, BOB = "contact:1", "contact:2"


def local(zone: ZoneInfo, *args: int) -> datetime:
    """An aware moment given by its wall-clock time in zone (the times used here all exist)."""
    return datetime(*args, tzinfo=zone)


def facts(
    starts_at: datetime,
    *,
    minutes: int = 60,
    questions: bool = False,
    decision: date | None = None,
    contacts: tuple[str, ...] = (JANE, BOB),
) -> InterviewFacts:
    return InterviewFacts(
        starts_at=starts_at.astimezone(UTC),
        duration=timedelta(minutes=minutes),
        zone=starts_at.tzinfo,
        has_questions=questions,
        decision_date=decision,
        contact_keys=contacts,
    )


def plan(facts_, *, now, plan_=DEFAULT_PLAN, holidays=None):
    calendar = Calendar(plan_.window, holidays)
    return plan_followups(facts_, plan_, calendar, now)


def only(planned, step: str, to: str = JANE):
    """The one follow-up of step to the recipient."""
    (item,) = [p for p in planned if p.step == step and p.recipient_key == to]
    return item


def due(planned, step: str, to: str = JANE, zone: ZoneInfo | None = None) -> datetime:
    moment = only(planned, step, to).due_at
    return moment.astimezone(zone) if zone else moment


# --- the default plan -----------------------------------------------------------------------


def test_friday_afternoon_before_a_monday_holiday_thanks_each_interviewer_on_tuesday():
    interview = facts(local(NY, 2026, 9, 4, 14, 0), minutes=45)  # Friday; Monday is Labor Day
    planned = plan(interview, now=local(NY, 2026, 9, 4, 16, 0), holidays="US")
    thanks = [p for p in planned if p.step == "thank_you"]
    assert sorted(p.recipient_key for p in thanks) == [JANE, BOB]
    for item in thanks:
        assert item.due_at == local(NY, 2026, 9, 8, 14, 45)  # Tuesday, at the interview's end
        assert item.status == Status.PLANNED


def test_without_the_holiday_calendar_the_thank_you_goes_on_monday():
    interview = facts(local(NY, 2026, 9, 4, 14, 0), minutes=45)
    planned = plan(interview, now=local(NY, 2026, 9, 4, 16, 0))
    assert due(planned, "thank_you") == local(NY, 2026, 9, 7, 14, 45)


def test_the_question_follow_up_is_planned_only_when_questions_were_recorded():
    start = local(BERLIN, 2026, 9, 1, 10, 0)
    now = local(BERLIN, 2026, 9, 1, 12, 0)
    assert "question_follow_up" not in {p.step for p in plan(facts(start), now=now)}
    planned = plan(facts(start, questions=True), now=now)
    questions = [p for p in planned if p.step == "question_follow_up"]
    assert [p.recipient_key for p in questions] == [JANE]  # the first contact only
    assert questions[0].due_at == local(BERLIN, 2026, 9, 3, 11, 0)  # two business days


def test_without_a_decision_date_the_status_check_comes_a_week_after_the_interview():
    planned = plan(facts(local(BERLIN, 2026, 9, 1, 10, 0)), now=local(BERLIN, 2026, 9, 1, 12))
    assert due(planned, "status_check") == local(BERLIN, 2026, 9, 8, 11, 0)
    assert due(planned, "call_reminder", to="me") == local(BERLIN, 2026, 9, 8, 11, 0)
    assert due(planned, "final_note") == local(BERLIN, 2026, 9, 15, 11, 0)
    assert [p.recipient_key for p in planned if p.step == "status_check"] == [JANE]


def test_with_a_decision_date_the_status_check_comes_the_business_day_after_it():
    interview = facts(local(BERLIN, 2026, 9, 1, 10, 0), decision=date(2026, 9, 11))  # a Friday
    planned = plan(interview, now=local(BERLIN, 2026, 9, 1, 12))
    assert due(planned, "status_check") == local(BERLIN, 2026, 9, 14, 11, 0)  # Monday
    assert due(planned, "call_reminder", to="me") == local(BERLIN, 2026, 9, 14, 11, 0)
    assert due(planned, "final_note") == local(BERLIN, 2026, 9, 18, 11, 0)  # a week after it


def test_a_step_whose_time_has_passed_goes_out_at_the_next_open_slot():
    # Recorded late: the thank-you was due Tuesday 11:00 and expires three days after.
    interview = facts(local(BERLIN, 2026, 9, 7, 10, 0))
    planned = plan(interview, now=local(BERLIN, 2026, 9, 9, 19, 0))  # Wednesday evening
    item = only(planned, "thank_you")
    assert item.status == Status.PLANNED
    assert item.due_at == local(BERLIN, 2026, 9, 10, 9, 0)  # Thursday at opening time
    assert item.expires_at == local(BERLIN, 2026, 9, 11, 11, 0)


def test_a_past_step_due_now_inside_the_window_goes_now():
    now = local(BERLIN, 2026, 9, 10, 12, 0)
    planned = plan(facts(local(BERLIN, 2026, 9, 7, 10, 0)), now=now)
    assert only(planned, "thank_you").due_at == now


def test_a_step_later_than_its_expire_after_is_planned_as_expired():
    interview = facts(local(BERLIN, 2026, 9, 7, 10, 0))
    planned = plan(interview, now=local(BERLIN, 2026, 9, 11, 11, 0))  # exactly three days late
    item = only(planned, "thank_you")
    assert item.status == Status.EXPIRED
    # Steps without expire_after still go out, late.
    assert only(planned, "status_check").status == Status.PLANNED


def test_a_step_that_cannot_go_out_before_it_expires_is_expired_not_planned_too_late():
    quick = parse_plan(
        '[[steps]]\nname = "thanks"\nafter = "1 business day"\nexpire_after = "1d"\n', "quick"
    )
    interview = facts(local(BERLIN, 2026, 9, 10, 15, 30))  # Thursday; due Friday 16:30
    planned = plan(interview, plan_=quick, now=local(BERLIN, 2026, 9, 12, 10, 0))  # Saturday
    item = only(planned, "thanks")
    # The window next opens on Monday 09:00, two days after it expired on Saturday 16:30.
    assert item.expires_at == local(BERLIN, 2026, 9, 12, 16, 30)
    assert item.status == Status.EXPIRED


ANY_TIME = """\
[window]
enabled = false
[[steps]]
name = "quick"
after = "2h"
[[steps]]
name = "instant"
after = "30s"
[[steps]]
name = "weekly"
after = "7d"
"""


def test_with_the_window_disabled_mail_goes_at_any_hour_and_on_any_day():
    interview = facts(local(BERLIN, 2026, 9, 12, 22, 0))  # Saturday 22:00-23:00
    planned = plan(interview, plan_=parse_plan(ANY_TIME, "any"), now=local(BERLIN, 2026, 9, 12))
    assert due(planned, "quick") == local(BERLIN, 2026, 9, 13, 1, 0)  # Sunday 01:00
    assert due(planned, "instant") == local(BERLIN, 2026, 9, 12, 23, 0, 30)


def test_elapsed_delays_count_real_time_across_the_spring_forward_night():
    interview = facts(local(NY, 2026, 3, 8, 0, 30))  # ends 01:30 EST; at 02:00 it is 03:00 EDT
    planned = plan(interview, plan_=parse_plan(ANY_TIME, "any"), now=local(NY, 2026, 3, 7))
    assert due(planned, "quick") - interview.ends_at == timedelta(hours=2)
    assert due(planned, "quick", zone=NY).strftime("%H:%M") == "04:30"
    assert due(planned, "instant") - interview.ends_at == timedelta(seconds=30)


@pytest.mark.parametrize(
    ("ends", "hours_elapsed"),
    [((2026, 3, 6, 15, 0), 167), ((2026, 10, 30, 15, 0), 169)],
    ids=["spring-forward", "fall-back"],
)
def test_day_delays_keep_the_local_time_of_day_across_a_dst_change(ends, hours_elapsed):
    interview = facts(local(NY, *ends) - timedelta(hours=1))
    planned = plan(interview, plan_=parse_plan(ANY_TIME, "any"), now=local(NY, 2026, 1, 1))
    weekly = due(planned, "weekly", zone=NY)
    assert (weekly.weekday(), weekly.hour, weekly.minute) == (4, 15, 0)  # Friday 15:00 again
    assert weekly - interview.ends_at == timedelta(hours=hours_elapsed)


def test_business_days_keep_the_local_time_of_day_across_a_dst_change():
    interview = facts(local(NY, 2026, 3, 6, 14, 0))  # Friday, ends 15:00 EST
    planned = plan(interview, now=local(NY, 2026, 3, 6, 16, 0))
    assert due(planned, "thank_you") == local(NY, 2026, 3, 9, 15, 0)  # Monday 15:00 EDT


# --- the calendar ---------------------------------------------------------------------------

OFFICE = Calendar(Window())


def test_a_moment_inside_the_window_is_already_open():
    moment = local(BERLIN, 2026, 9, 9, 16, 59)
    assert OFFICE.next_open(moment, BERLIN) == moment


def test_before_opening_the_window_opens_at_the_start_of_the_day():
    assert OFFICE.next_open(local(BERLIN, 2026, 9, 9, 6, 0), BERLIN) == local(
        BERLIN, 2026, 9, 9, 9, 0
    )


def test_at_closing_time_the_window_is_closed_until_the_next_business_day():
    assert OFFICE.next_open(local(BERLIN, 2026, 9, 11, 17, 0), BERLIN) == local(
        BERLIN, 2026, 9, 14, 9, 0
    )


def test_the_window_is_on_the_recipients_wall_clock():
    # 09:00 in Kathmandu (+05:45) is 03:15 UTC.
    kathmandu = ZoneInfo("Asia/Kathmandu")
    opened = OFFICE.next_open(datetime(2026, 9, 9, 0, 0, tzinfo=UTC), kathmandu)
    assert opened == datetime(2026, 9, 9, 3, 15, tzinfo=UTC)


def test_public_holidays_are_closed():
    us = Calendar(Window(), "US")
    assert us.holiday_name(date(2026, 7, 3)) == "Independence Day (observed)"
    assert us.next_open(local(NY, 2026, 7, 2, 18, 0), NY) == local(NY, 2026, 7, 6, 9, 0)


def test_a_window_opening_in_the_spring_forward_gap_opens_when_the_clocks_jump():
    night = Calendar(Window(start=time(2, 30), end=time(17, 0), days=frozenset(range(7))))
    # 02:30 does not exist on 2026-03-08: from 02:00 EST the clock reads 03:00 EDT.
    assert night.next_open(local(NY, 2026, 3, 8, 1, 0), NY) == local(NY, 2026, 3, 8, 3, 0)


def test_when_the_clocks_go_back_over_the_opening_time_the_window_opens_again_at_it():
    night = Calendar(Window(start=time(1, 30), end=time(17, 0), days=frozenset(range(7))))
    # 2026-11-01 01:00-02:00 happens twice; at 01:10 the second time (06:10 UTC) it is not
    # yet 01:30 again.
    second_pass = datetime(2026, 11, 1, 6, 10, tzinfo=UTC)
    assert night.next_open(second_pass, NY) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)


def test_a_calendar_day_skipped_at_the_date_line_has_no_window():
    # Samoa skipped Friday 2011-12-30; the next weekday after Thursday was Monday.
    opened = OFFICE.next_open(local(APIA, 2011, 12, 29, 18, 0), APIA)
    assert opened.astimezone(APIA) == local(APIA, 2012, 1, 2, 9, 0)


def test_naive_moments_are_a_programming_error():
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.next_open(datetime(2026, 9, 9, 12, 0), BERLIN)


# --- properties over every zone -------------------------------------------------------------

ALL_ZONES = sorted(available_timezones())
#: Zones with half-hour DST, odd offsets, DST at midnight, negative DST, skipped days.
NOTABLE_ZONES = [
    "America/New_York",
    "Europe/Berlin",
    "Asia/Kathmandu",
    "Australia/Lord_Howe",
    "America/St_Johns",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Pacific/Kiritimati",
    "America/Santiago",
    "Pacific/Easter",
    "America/Havana",
    "Asia/Beirut",
    "Africa/Casablanca",
    "Europe/Dublin",
    "Antarctica/Casey",
    "Antarctica/Troll",
    "Africa/Khartoum",
    "Asia/Tehran",
]
HOLIDAY_CODES = [None, "US", "DE", "JP", "NZ"]
START, END = datetime(2000, 1, 1), datetime(2040, 12, 31)
DAY = 1440  # minutes


@cache
def transitions(zone_name: str, year: int) -> tuple[datetime, ...]:
    """The moments (to the minute) at which the zone changed its UTC offset during year."""
    zone = ZoneInfo(zone_name)
    found = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    offset = moment.astimezone(zone).utcoffset()
    while moment.year == year:
        later = moment + timedelta(hours=6)
        if later.astimezone(zone).utcoffset() != offset:
            low, high = moment, later
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if middle.astimezone(zone).utcoffset() == offset:
                    low = middle
                else:
                    high = middle
            found.append(high)
            offset = later.astimezone(zone).utcoffset()
        moment = later
    return tuple(found)


@st.composite
def moments_in(draw, zone_name: str) -> tuple[datetime, datetime | None]:
    """A moment from 2000 to 2040 and, often, a clock change of the zone it is within 3 days of."""
    if draw(st.booleans()):
        changes = transitions(zone_name, draw(st.integers(START.year, END.year)))
        if changes:
            change = draw(st.sampled_from(changes))
            return change + timedelta(minutes=draw(st.integers(-3 * DAY, 3 * DAY))), change
    return draw(st.datetimes(min_value=START, max_value=END, timezones=st.just(UTC))), None


def wall_minutes_around(change: datetime, zone: ZoneInfo, quarters: int) -> int:
    """A wall-clock time of day (in minutes) `quarters` quarter-hours from where the clocks
    change; it may be one the clocks skip or go through twice."""
    before = (change - timedelta(seconds=1)).astimezone(zone)
    return ((before.hour * 60 + before.minute) // 15 * 15 + quarters * 15) % DAY


@st.composite
def windows(draw, zone: ZoneInfo, change: datetime | None) -> Window:
    """Office-hours windows: any start, closing between 05:00 and 21:00, on any days.

    Near a clock change, the window often opens or closes right where the clocks jump. (A
    window closing late at night or in the small hours can be crossed by the clocks going back,
    which would reopen it for the repeated hour; the calendar does not model that.)
    """
    if draw(st.booleans()):
        return Window()
    edge = None
    if change is not None and draw(st.booleans()):
        edge = wall_minutes_around(change, zone, draw(st.integers(-4, 8)))
    if edge is not None and 5 * 60 <= edge <= 21 * 60 and draw(st.booleans()):
        end = edge
    else:
        end = draw(st.integers(5 * 4, 21 * 4)) * 15
    start = edge if edge is not None and edge < end else draw(st.integers(0, end // 15 - 1)) * 15
    days = draw(st.frozensets(st.integers(0, 6), min_size=1))
    return Window(True, time(start // 60, start % 60), time(end // 60, end % 60), days)


@st.composite
def scenarios(draw) -> tuple[str, datetime, Window]:
    zone_name = draw(st.one_of(st.sampled_from(NOTABLE_ZONES), st.sampled_from(ALL_ZONES)))
    moment, change = draw(moments_in(zone_name))
    return zone_name, moment, draw(windows(ZoneInfo(zone_name), change))


@cache
def holiday_set(code: str | None):
    return holidays_lib.country_holidays(code) if code else {}


def is_open(moment: datetime, zone: ZoneInfo, window: Window, code: str | None) -> bool:
    """The definition, independent of the calendar: the wall clock is inside the window."""
    wall = moment.astimezone(zone)
    return (
        wall.weekday() in window.days
        and wall.date() not in holiday_set(code)
        and window.start <= wall.time() < window.end
    )


EVERY_DAY = frozenset(range(7))


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios(), code=st.sampled_from(HOLIDAY_CODES))
# Samoa skipped Friday 2011-12-30 (Thursday 23:59 was followed by Saturday 00:00).
@example(scenario=("Pacific/Apia", datetime(2011, 12, 29, 5, 0, tzinfo=UTC), Window()), code=None)
# Sudan moved its clocks forward at noon: 12:00-13:00 did not exist on 2000-01-15 (a Saturday).
@example(
    scenario=(
        "Africa/Khartoum",
        datetime(2000, 1, 15, 7, 0, tzinfo=UTC),
        Window(True, time(12, 30), time(17), EVERY_DAY),
    ),
    code=None,
)
@example(
    scenario=(
        "Africa/Khartoum",
        datetime(2000, 1, 15, 10, 10, tzinfo=UTC),
        Window(True, time(9), time(12, 30), EVERY_DAY),
    ),
    code=None,
)
def test_next_open_is_the_first_open_moment_at_or_after_any_moment_in_any_zone(scenario, code):
    zone_name, moment, window = scenario
    zone = ZoneInfo(zone_name)

    opened = Calendar(window, code).next_open(moment, zone)

    assert opened.tzinfo is UTC
    assert opened >= moment
    assert is_open(opened, zone, window, code), opened.astimezone(zone)
    if is_open(moment, zone, window, code):
        assert opened == moment
    # Nothing earlier was open: not the second before, nor any minute since the input.
    if opened > moment:
        assert not is_open(opened - timedelta(seconds=1), zone, window, code)
    probe = moment
    while probe < opened:
        assert not is_open(probe, zone, window, code), probe.astimezone(zone)
        probe += timedelta(minutes=1)


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.data(),
    minutes=st.integers(15, 240),
    questions=st.booleans(),
    decision_in=st.none() | st.integers(0, 30),
    contacts=st.integers(1, 3),
    # Often a few days after the interview, when thank-yous are late or about to expire.
    now_after_end=st.integers(-3 * DAY, 30 * DAY) | st.integers(DAY, 6 * DAY),
    code=st.sampled_from(HOLIDAY_CODES),
)
def test_every_planned_follow_up_is_due_in_utc_inside_the_window_and_not_in_the_past(
    data, minutes, questions, decision_in, contacts, now_after_end, code
):
    zone_name = data.draw(
        st.one_of(st.sampled_from(NOTABLE_ZONES), st.sampled_from(ALL_ZONES)), label="zone"
    )
    zone = ZoneInfo(zone_name)
    starts_at, _ = data.draw(moments_in(zone_name), label="starts_at")
    keys = tuple(f"contact:{n}" for n in range(1, contacts + 1))
    interview = InterviewFacts(
        starts_at=starts_at,
        duration=timedelta(minutes=minutes),
        zone=zone,
        has_questions=questions,
        decision_date=(
            None
            if decision_in is None
            else starts_at.astimezone(zone).date() + timedelta(days=decision_in)
        ),
        contact_keys=keys,
    )
    now = interview.ends_at + timedelta(minutes=now_after_end)
    calendar = Calendar(DEFAULT_PLAN.window, code)

    planned = plan_followups(interview, DEFAULT_PLAN, calendar, now)

    expected = {("thank_you", k) for k in keys} | {
        ("status_check", keys[0]),
        ("call_reminder", "me"),
        ("final_note", keys[0]),
    }
    if questions:
        expected.add(("question_follow_up", keys[0]))
    assert {(p.step, p.recipient_key) for p in planned} == expected
    for item in planned:
        assert item.due_at.tzinfo is UTC
        assert is_open(item.due_at, zone, DEFAULT_PLAN.window, code), item
        if item.status == Status.PLANNED:
            assert item.due_at >= now, item
            assert item.expires_at is None or item.expires_at > item.due_at, item
        else:
            assert item.status == Status.EXPIRED
            assert item.expires_at <= calendar.next_open(now, zone), item
