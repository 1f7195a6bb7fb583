"""The timestamps after a series' end, from its own time column: what a forecast is indexed by.

`next_times(times, count)` continues a column of time strings in its own format when its steps
are regular: equal durations (daily, weekly, hourly: "2012-01-01", "19580329"), equal numbers of
calendar months on the same day of the month ("1949-01", "2001-03-31" month ends), or equal
integer steps ("1871", "17"). Anything else (gaps, mixed formats) has no defined next time and
gives None, and the caller falls back to counting steps (t+1, t+2, ...). pandas users get the
same from the index's frequency (`rnnlab.data.frames`); this module needs no pandas.
"""

from __future__ import annotations

import calendar
from collections.abc import Sequence
from datetime import datetime, timedelta

# Tried in order; the first that parses every time is the column's format.
FORMATS = ("%Y-%m-%d", "%Y-%m", "%Y%m%d", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M",
           "%Y-%m-%dT%H:%M", "%Y/%m/%d", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%dT%H:%M:%S%z")


def next_times(times: Sequence[str], count: int) -> list[str] | None:
    """The `count` times after `times[-1]`, in the column's own format, or None where the steps are irregular.

    Args:
        times: a time column's strings in time order (at least two).
        count: how many times to continue it by.
    """
    if len(times) < 2 or count < 1:
        return None
    integers = _integers(times)
    if integers is not None and not _is_compact_date(times):
        step = integers[1] - integers[0]
        if step > 0 and all(b - a == step for a, b in zip(integers, integers[1:])):
            return [str(integers[-1] + step * k) for k in range(1, count + 1)]
        return None
    for form in FORMATS:
        moments = _parse(times, form)
        if moments is not None:
            return _continue(moments, form, count)
    return None


def _integers(times: Sequence[str]) -> list[int] | None:
    try:
        return [int(t) for t in times]
    except ValueError:
        return None


def _is_compact_date(times: Sequence[str]) -> bool:
    """True for YYYYMMDD dates ("19580329"), which count as dates, not integers."""
    return all(len(t) == 8 and t.isdigit() for t in times) and _parse(times, "%Y%m%d") is not None


def _parse(times: Sequence[str], form: str) -> list[datetime] | None:
    try:
        return [datetime.strptime(t.strip(), form) for t in times]
    except ValueError:
        return None


def _continue(moments: list[datetime], form: str, count: int) -> list[str] | None:
    steps = {b - a for a, b in zip(moments, moments[1:])}
    if len(steps) == 1 and (step := steps.pop()) > timedelta(0) and not _monthly(moments):
        return [(moments[-1] + step * k).strftime(form) for k in range(1, count + 1)]
    months = [m.year * 12 + m.month - 1 for m in moments]
    step = months[1] - months[0]
    if step < 1 or any(b - a != step for a, b in zip(months, months[1:])):
        return None
    if all(_is_month_end(m) for m in moments):
        day = None  # month ends: the last day of every month
    elif len({m.day for m in moments}) == 1:
        day = moments[0].day
    else:
        return None
    last = moments[-1]
    return [_add_months(last, step * k, day).strftime(form) for k in range(1, count + 1)]


def _monthly(moments: list[datetime]) -> bool:
    """True where equal durations are really calendar months (only possible for 28-day Februaries aside)."""
    return len({m.day for m in moments}) == 1 and moments[1] - moments[0] >= timedelta(days=28)


def _is_month_end(moment: datetime) -> bool:
    return moment.day == calendar.monthrange(moment.year, moment.month)[1]


def _add_months(moment: datetime, months: int, day: int | None) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return moment.replace(year=year, month=month + 1, day=last_day if day is None else min(day, last_day))
