"""Frequencies of timestamped series: inferred from the timestamps, stepped forward, and turned into calendar features.

Frequencies are pandas' aliases ("D", "h", "15min", "W-SUN", "B", "MS", "ME", "QS-JAN", "YE-DEC"),
inferred with numpy by pandas' own rules (pandas 3 spellings), so reading a CSV needs no pandas and a
CSV infers the same frequency as the same table as a DataFrame. `infer_freq` finds a panel's one
frequency, `future_times` gives the timestamps a forecast is indexed by, and `calendar_features`
gives a frequency's calendar inputs. Integer steps have no alias; their "frequency" is the step.
"""

from __future__ import annotations

import re
from typing import NoReturn

import numpy as np

from rnnlab.data.errors import DataError

__all__ = ["TIME_DTYPE", "infer_freq", "parse_freq", "format_time", "future_times", "calendar_features",
           "calendar_feature_names"]

TIME_DTYPE = np.dtype("datetime64[us]")  # Python datetime's resolution; spans ±290,000 years, unlike ns
_DAY = np.timedelta64(1, "D")
_ZERO = np.timedelta64(0, "us")
_FIXED = {"h": np.timedelta64(1, "h"), "min": np.timedelta64(1, "m"), "s": np.timedelta64(1, "s"),
          "ms": np.timedelta64(1, "ms"), "us": np.timedelta64(1, "us")}
_UNIT_NAMES = (("day", _DAY), ("hour", _FIXED["h"]), ("minute", _FIXED["min"]), ("second", _FIXED["s"]),
               ("millisecond", _FIXED["ms"]), ("microsecond", _FIXED["us"]))
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
_FREQ = re.compile(r"(\d*)(MS|ME|QS|QE|YS|YE|W|D|B|h|min|s|ms|us)(?:-([A-Z]{3}))?")


# --- inferring a frequency ----------------------------------------------------------------------

def infer_freq(source: str, ids: list[str], times: list[np.ndarray]) -> str | None:
    """The one frequency of every series with two or more times; None for integer steps.

    Args:
        source: what the series came from (a file, or "data"), for messages.
        ids: each series' id, for messages.
        times: per series, (T_i,) strictly increasing datetime64[us] times, or int64 steps for all.

    Raises:
        DataError: naming the source, the series and its steps, for a series that steps irregularly,
            series of different frequencies, or datetime series of which none has two times.
    """
    stepped = [(id, t) for id, t in zip(ids, times) if len(t) > 1]
    found = [(id, *_series_freq(source, id, t)) for id, t in stepped]   # (id, key, description)
    if {key for _, key, _ in found} == {"B", "D"} and all(
            key == "B" or _weekdays_only(t) for (_, key, _), (_, t) in zip(found, stepped)):
        return "B"  # business-day series too short to span a weekend step by 1 day
    for id, key, described in found[1:]:
        if key != found[0][1]:
            raise DataError(f"{source}: series {id!r} steps by {described} but series {found[0][0]!r} by "
                            f"{found[0][2]}; a panel has one frequency")
    if times[0].dtype.kind == "i":
        return None
    if not found:
        raise DataError(f"{source}: no series has two timestamps, so the panel's frequency cannot be inferred")
    return found[0][1]


def _weekdays_only(times: np.ndarray) -> bool:
    return bool(((times.astype("M8[D]").astype(np.int64) + 3) % 7 < 5).all())


def _series_freq(source: str, id: str, times: np.ndarray) -> tuple[object, str]:
    """(pandas alias, or the integer step) and its description; raises where the steps differ."""
    if times.dtype.kind == "i":
        steps = np.diff(times)
        k = _first_change(steps)
        if k is None:
            return int(steps[0]), f"{int(steps[0])}"
        _irregular(source, id, times, k, str(steps[0]), str(steps[k]))
    days, months = times.astype("M8[D]"), times.astype("M8[M]")
    clock = times - days                                        # time of day
    starts, ends = (days == months).all(), ((days + 1).astype("M8[M]") != months).all()
    if (starts or ends) and (clock == clock[0]).all():          # pandas: calendar rules come first
        steps = np.diff(months).astype(np.int64)                # in calendar months
        k = _first_change(steps)
        if k is None:
            alias = _month_alias(int(steps[0]), bool(starts), times[0])
            return alias, f"{_plural(steps[0], 'month')} (frequency {alias!r})"
        _irregular(source, id, times, k, _plural(steps[0], "month"), _plural(steps[k], "month"))
    steps = np.diff(times)
    k = _first_change(steps)
    if k is None:
        alias = _fixed_alias(steps[0], times[0])
        return alias, f"{_duration(steps[0])} (frequency {alias!r})"
    if _is_business_daily(days, steps):
        return "B", "1 business day (frequency 'B')"
    _irregular(source, id, times, k, _duration(steps[0]), _duration(steps[k]))


def _first_change(steps: np.ndarray) -> int | None:
    changes = np.flatnonzero(steps != steps[0])
    return int(changes[0]) if changes.size else None


def _irregular(source: str, id: str, times: np.ndarray, k: int, first: str, other: str) -> NoReturn:
    raise DataError(f"{source}: series {id!r} steps irregularly: {first} from {format_time(times[0])} to "
                    f"{format_time(times[1])}, then {other} from {format_time(times[k])} to "
                    f"{format_time(times[k + 1])}; a panel needs evenly spaced series (fill the gaps first)")


def _month_alias(months: int, starts: bool, first: np.datetime64) -> str:
    month, edge = int(first.astype("M8[M]").astype(np.int64) % 12), "S" if starts else "E"
    if months % 12 == 0:
        return f"{_count(months // 12)}Y{edge}-{_MONTHS[month]}"
    if months % 3 == 0:  # one name per set of quarters, as pandas 3: QS-JAN/FEB/MAR, QE-OCT/NOV/DEC
        return f"{_count(months // 3)}Q{edge}-{_MONTHS[month % 3 + (0 if starts else 9)]}"
    return f"{_count(months)}M{edge}"


def _fixed_alias(step: np.timedelta64, first: np.datetime64) -> str:
    if step % _DAY == _ZERO:
        days = int(step // _DAY)
        if days % 7 == 0:
            return f"{_count(days // 7)}W-{_WEEKDAYS[_weekday(first)]}"
        return f"{_count(days)}D"
    alias, size = next((a, s) for a, s in _FIXED.items() if step % s == _ZERO)
    return f"{_count(int(step // size))}{alias}"


def _is_business_daily(days: np.ndarray, steps: np.ndarray) -> bool:
    """pandas' rule: steps of 1 and 3 days, 3 only onto a Monday, 1 only onto Tuesday to Friday."""
    if not (steps % _DAY == _ZERO).all():
        return False
    whole = (steps // _DAY).astype(np.int64)
    landing = (days[1:].astype(np.int64) + 3) % 7             # weekday stepped onto, 0 = Monday
    return set(np.unique(whole).tolist()) == {1, 3} and bool(
        np.all(((landing == 0) & (whole == 3)) | ((landing >= 1) & (landing <= 4) & (whole == 1))))


def _weekday(moment) -> int:
    return int((moment.astype("M8[D]").astype(np.int64) + 3) % 7)   # 1970-01-01 was a Thursday (3)


def _count(n: int) -> str:
    return "" if n == 1 else str(n)


def _plural(n, unit: str) -> str:
    return f"{int(n)} {unit}" + ("" if int(n) == 1 else "s")


def _duration(step: np.timedelta64) -> str:
    unit, size = next((u, s) for u, s in _UNIT_NAMES if step % s == _ZERO)
    return _plural(step // size, unit)


def format_time(moment) -> str:
    """A datetime64 or integer time as messages show it: "2020-01-02", "2020-01-02T06:00:00", "17"."""
    if moment.dtype.kind != "M":
        return str(int(moment))
    if moment == moment.astype("M8[D]"):
        return str(moment.astype("M8[D]"))
    return str(moment.astype("M8[s]") if moment == moment.astype("M8[s]") else moment)


# --- stepping forward ---------------------------------------------------------------------------

def parse_freq(freq) -> tuple[int, str]:
    """(count, base) of a pandas alias: "15min" -> (15, "min"); "QS-JAN" -> (1, "QS")."""
    match = _FREQ.fullmatch(freq) if isinstance(freq, str) else None
    if match is None or (match[1] and int(match[1]) == 0):  # "0D", "00D": no step
        raise ValueError("freq must be a pandas frequency alias such as 'D', 'h', '15min', 'W-SUN', 'B', 'MS', "
                         f"'ME', 'QS-JAN' or 'YE-DEC'; received {freq!r}")
    return int(match[1] or 1), match[2]


def future_times(last_time, freq, horizon: int) -> np.ndarray:
    """The `horizon` timestamps after `last_time` at frequency `freq`.

    Args:
        last_time: a series' last time: a datetime64 (or anything numpy parses as one), or an
            integer step.
        freq: a pandas alias (as `Panel.freq`) for datetimes; for integer steps, None (step 1) or
            the integer step (`Panel.step`).
        horizon: how many timestamps, at least 1.

    Returns:
        (horizon,) datetime64[us], equal to ``pd.date_range(last_time, periods=horizon + 1,
        freq=freq)[1:]`` for a `last_time` on the frequency; or (horizon,) int64 steps.
    """
    if isinstance(horizon, bool) or not isinstance(horizon, (int, np.integer)) or horizon < 1:
        raise ValueError(f"horizon must be a positive integer; received {horizon!r}")
    k = np.arange(1, horizon + 1)                              # (horizon,)
    last = np.asarray(last_time)
    if last.dtype.kind in "iu":
        step = 1 if freq is None else freq
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 1:
            raise ValueError(f"freq must be None or a positive integer step for an integer time; received {freq!r}")
        return int(last) + int(step) * k
    try:
        last = np.datetime64(last_time, "us")
    except (TypeError, ValueError):
        raise ValueError(f"last_time must be a datetime64 or an integer step; received {last_time!r}") from None
    count, base = parse_freq(freq)
    day = last.astype("M8[D]")
    clock = last - day                                         # calendar steps keep the time of day
    if base[0] in "MQY":
        months = last.astype("M8[M]") + {"M": 1, "Q": 3, "Y": 12}[base[0]] * count * k
        days = months.astype("M8[D]") if base[1] == "S" else (months + 1).astype("M8[D]") - 1
        return days.astype(TIME_DTYPE) + clock
    if base == "B":
        return np.busday_offset(day, count * k, roll="forward").astype(TIME_DTYPE) + clock
    return last + {"W": 7 * _DAY, "D": _DAY, **_FIXED}[base] * count * k


# --- calendar features --------------------------------------------------------------------------

def calendar_feature_names(freq) -> tuple[str, ...]:
    """The names of `calendar_features`' columns for `freq`, e.g. ("month_of_year_sin", "month_of_year_cos")."""
    return tuple(f"{name}_{part}" for name in _calendar_fields(freq) for part in ("sin", "cos"))


def calendar_features(times, freq) -> np.ndarray:
    """Each timestamp's position in the calendar cycles that `freq` moves through, as sin/cos pairs.

        p ∈ [0, 1) the position in a cycle: month-of-year (month − 1) / 12, quarter-of-year
          (quarter − 1) / 4, day-of-week weekday / 7 (Monday 0), day-of-year (day − 1) / days in
          that year, hour-of-day (time since midnight) / 24 h
        features = [sin 2πp, cos 2πp] for each cycle

    Only the cycles that change at `freq` are used: monthly: month; quarterly: quarter; daily and
    business daily: day-of-week and day-of-year; weekly: day-of-year; hourly and finer: hour-of-day
    and day-of-week; yearly and integer steps (freq None or an int): none.

    Args:
        times: (T,) datetime64 (or integers where there are no features).
        freq: a pandas alias, or None / an int for integer steps.

    Returns:
        (T, F) float64, columns named by `calendar_feature_names(freq)`; F may be 0.
    """
    fields = _calendar_fields(freq)
    times = np.asarray(times)
    if fields and times.dtype.kind != "M":
        raise ValueError(f"times must be datetime64 for freq {freq!r}; received dtype {times.dtype}")
    columns = []
    for name in fields:
        angle = 2 * np.pi * _phase(name, times.astype(TIME_DTYPE))    # (T,)
        columns += [np.sin(angle), np.cos(angle)]
    return np.stack(columns, axis=1) if columns else np.zeros((len(times), 0))


def _calendar_fields(freq) -> tuple[str, ...]:
    if freq is None or isinstance(freq, (int, np.integer)):
        return ()
    count, base = parse_freq(freq)
    if base in ("YS", "YE"):
        return ()
    if base in ("QS", "QE"):
        return ("quarter_of_year",)
    if base in ("MS", "ME"):
        return ("month_of_year",)
    if base == "W" or (base == "D" and count % 7 == 0):
        return ("day_of_year",)                                        # the weekday never changes
    if base in ("D", "B"):
        return ("day_of_week", "day_of_year")
    return ("hour_of_day", "day_of_week")


def _phase(name: str, times: np.ndarray) -> np.ndarray:
    days, months = times.astype("M8[D]"), times.astype("M8[M]").astype(np.int64)  # months since 1970-01
    if name == "month_of_year":
        return (months % 12) / 12
    if name == "quarter_of_year":
        return (months % 12 // 3) / 4
    if name == "day_of_week":
        return ((days.astype(np.int64) + 3) % 7) / 7
    if name == "day_of_year":
        start = times.astype("M8[Y]").astype("M8[D]")
        year_days = (times.astype("M8[Y]") + 1).astype("M8[D]") - start
        return (days - start).astype(np.int64) / year_days.astype(np.int64)
    return (times - days) / _DAY                                        # hour_of_day
