"""Deadline bands, countdowns and reminder thresholds, across time zones and DST changes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.disputes.deadlines import (
    DAY,
    HOUR,
    Urgency,
    countdown_text,
    deadline_text,
    local_deadline,
    next_reminder_at,
    parse_duration,
    reminder_due,
    thresholds_from,
    urgency,
)


def ts(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


NOW = ts(2026, 6, 1, 12)


@pytest.mark.parametrize(
    ("left", "band"),
    [
        (-1, Urgency.past_due),
        (0, Urgency.past_due),
        (HOUR, Urgency.critical),
        (24 * HOUR - 1, Urgency.critical),
        (24 * HOUR, Urgency.urgent),
        (72 * HOUR - 1, Urgency.urgent),
        (72 * HOUR, Urgency.soon),
        (7 * DAY, Urgency.normal),
    ],
)
def test_urgency_bands(left: int, band: Urgency) -> None:
    assert urgency(NOW + left, NOW) == band


def test_no_response_possible_and_answered() -> None:
    assert urgency(0, NOW) == Urgency.no_response
    assert urgency(None, NOW) == Urgency.no_response
    assert countdown_text(0, NOW) == "no response possible"
    assert deadline_text(0, NOW, "UTC") == "no response possible"
    assert urgency(NOW + HOUR, NOW, answered=True) == Urgency.answered


def test_countdown_text() -> None:
    assert countdown_text(NOW + 2 * DAY + 4 * HOUR + 59, NOW) == "2 d 4 h left"
    assert countdown_text(NOW + 5 * HOUR + 12 * 60, NOW) == "5 h 12 min left"
    assert countdown_text(NOW + 90, NOW) == "1 min left"
    assert countdown_text(NOW - 3 * HOUR, NOW) == "overdue by 3 h 0 min"


def test_deadline_in_team_zone_across_spring_forward() -> None:
    # Berlin moves from CET to CEST at 02:00 on 29 March 2026: the day before has 23 hours.
    due = ts(2026, 3, 29, 8)  # 10:00 CEST
    now = ts(2026, 3, 28, 9)  # 10:00 CET the day before
    assert local_deadline(due, "Europe/Berlin").strftime("%H:%M %Z") == "10:00 CEST"
    assert deadline_text(due, now, "Europe/Berlin") == "tomorrow 10:00 CEST"
    # Same wall-clock time one calendar day earlier, but only 23 h remain: critical, not urgent.
    assert due - now == 23 * HOUR
    assert urgency(due, now) == Urgency.critical
    assert countdown_text(due, now) == "23 h 0 min left"


def test_deadline_across_fall_back_and_other_zones() -> None:
    # New York falls back at 02:00 EDT on 1 November 2026; 06:30 UTC is the second 01:30 (EST).
    due = ts(2026, 11, 1, 6, 30)
    assert local_deadline(due, "America/New_York").strftime("%H:%M %Z") == "01:30 EST"
    assert local_deadline(due - HOUR, "America/New_York").strftime("%H:%M %Z") == "01:30 EDT"
    # The same instant falls on 1 Nov in Tokyo and on 31 Oct in Los Angeles, "today" in both.
    now = ts(2026, 11, 1, 0)
    assert deadline_text(due, now, "Asia/Tokyo") == "today 15:30 JST"
    assert (
        deadline_text(due, now, "America/Los_Angeles") == "today 23:30 PDT"
    )  # LA falls back three hours later
    assert deadline_text(due, now, "Pacific/Auckland").startswith("today")
    assert deadline_text(due + 3 * DAY, now, "UTC") == "Wed 04 Nov 2026 06:30 UTC"


def test_reminders_use_elapsed_time_across_dst() -> None:
    due = ts(2026, 3, 29, 8)  # 10:00 CEST, right after Berlin's change
    assert reminder_due(due, due - 24 * HOUR - 1, {"7d", "3d"}) is None
    hit = reminder_due(due, due - 24 * HOUR, {"7d", "3d"})
    assert hit is not None and hit.label == "24h"
    # 24 h before is 09:00 CET on the wall clock, not 10:00: elapsed time, not calendar time.
    assert local_deadline(due - 24 * HOUR, "Europe/Berlin").strftime("%H:%M") == "09:00"


def test_each_threshold_once_and_only_the_tightest() -> None:
    due = NOW + 10 * DAY
    sent: set[str] = set()
    fired = []
    for t in range(NOW, due + DAY, HOUR):  # hourly runs across the whole life of the dispute
        hit = reminder_due(due, t, sent)
        if hit:
            sent.add(hit.label)
            fired.append(hit.label)
    assert fired == ["7d", "3d", "24h", "12h"]
    # A dispute arriving 2 days before its deadline gets the 3 d reminder only.
    late = reminder_due(NOW + 2 * DAY, NOW, set())
    assert late is not None and late.label == "3d"
    assert reminder_due(NOW + 2 * DAY, NOW + HOUR, {"3d"}) is None


def test_no_reminder_when_answered_past_or_impossible() -> None:
    assert reminder_due(NOW + HOUR, NOW, set(), answered=True) is None
    assert reminder_due(NOW - HOUR, NOW, set()) is None
    assert reminder_due(0, NOW, set()) is None


def test_thresholds_from_policy_labels() -> None:
    ths = thresholds_from(["12h", "7d", "24h", "3d"])
    assert [t.label for t in ths] == ["7d", "3d", "24h", "12h"]
    assert parse_duration("30m") == 1800
    with pytest.raises(ValueError):
        parse_duration("soon")
    assert next_reminder_at(NOW + 10 * DAY, NOW) == NOW + 3 * DAY
    assert next_reminder_at(NOW + HOUR, NOW) is None
