"""SLA clocks computed from a ticket's status history and messages (pure: no database).

Three clocks, each counting business seconds in the policy's calendar while the ticket is
neither in a pause status (待客户回复) nor resolved/closed:

- first response: from opening to the first reply to the customer (or resolution, if it came
  first);
- next response: from the customer's latest turn after the first reply (a customer message,
  or the ticket coming back from waiting for the customer) to the next reply;
- resolution: from opening to resolution; reopening carries on from where it stopped.

A running clock has a due time and a warning time (warn_percent of the target), computed with
the calendar's running totals so that a whole history costs a handful of additions.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from kehu.service.calendar import Schedule

DONE = frozenset({"resolved", "closed"})
BITS = {"first_response": 1, "next_response": 2, "resolution": 4}


@dataclass
class ClockState:
    """One clock of one ticket as computed."""

    target: int | None = None
    elapsed: int = 0
    started_at: dt.datetime | None = None
    stopped_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    warn_at: dt.datetime | None = None
    breached: bool = False


@dataclass
class TicketClocks:
    paused: bool = False
    clocks: dict[str, ClockState] = field(default_factory=dict)


def status_points(*, opened_at: dt.datetime, status: str, resolved_at: dt.datetime | None,
                  history: list[tuple[dt.datetime, str, str]]) -> list[tuple[dt.datetime, str]]:
    """(moment, status from then on) in time order. Tickets recorded before the history
    existed (imports, demo data) get one synthesised from opened_at and resolved_at."""
    if not history:
        points = [(opened_at, "open")]
        if status != "open":
            points.append((resolved_at or opened_at, status) if status in DONE
                          else (opened_at, status))
        return points
    first_from = history[0][1]
    points = [] if first_from == "" else [(opened_at, first_from)]
    points += [(at, to) for at, _from, to in history]
    points.sort(key=lambda p: p[0])
    return points


def _segments(points, now):
    """(start, end, status) with end None for the current status."""
    out = []
    for index, (at, status) in enumerate(points):
        end = points[index + 1][0] if index + 1 < len(points) else None
        if end is not None and end < at:
            end = at
        out.append((at, end, status))
    return out


def _clock(schedule: Schedule, segments, *, start: dt.datetime, stop: dt.datetime | None,
           target: int | None, warn_percent: int, paused_in: frozenset[str],
           now: dt.datetime) -> ClockState:
    state = ClockState(target=target, started_at=start, stopped_at=stop)
    position = schedule.position
    limit = stop if stop is not None else now
    elapsed_before = 0
    running_from = None
    for seg_start, seg_end, status in segments:
        if status in paused_in or status in DONE:
            continue
        lo = max(seg_start, start)
        hi = limit if seg_end is None else min(seg_end, limit)
        if seg_end is None and stop is None:
            running_from = lo if lo <= now else None
            if hi > lo:
                state.elapsed = elapsed_before + (position(hi) - position(lo))
            else:
                state.elapsed = elapsed_before
            break
        if hi > lo:
            elapsed_before += position(hi) - position(lo)
        state.elapsed = elapsed_before
    if target is None:
        return state
    if running_from is not None:
        base = position(running_from)
        due = base + target - elapsed_before
        warn = base + (target * warn_percent) // 100 - elapsed_before
        state.due_at = schedule.moment_at(max(due, schedule.cumulative[0]))
        state.warn_at = schedule.moment_at(max(warn, schedule.cumulative[0]))
        state.breached = state.due_at <= now
    else:
        state.breached = state.elapsed > target
    return state


def compute(schedule: Schedule, *, opened_at: dt.datetime, status: str,
            resolved_at: dt.datetime | None, history: list[tuple[dt.datetime, str, str]],
            messages: list[tuple[dt.datetime, str]], targets: dict[str, int | None],
            pause_statuses: frozenset[str], warn_percent: int, now: dt.datetime
            ) -> TicketClocks:
    """The three clocks of one ticket. `history` is (at, from, to) in time order, `messages`
    (at, kind) for replies and customer messages in time order, `targets` business seconds per
    clock (None: no target)."""
    points = status_points(opened_at=opened_at, status=status, resolved_at=resolved_at,
                           history=history)
    segments = _segments(points, now)
    current = points[-1][1]
    done_since = None
    if current in DONE:
        done_since = points[-1][0]
        for at, state in reversed(points):
            if state not in DONE:
                break
            done_since = at
    first_done = next((at for at, state in points if state in DONE), None)
    replies = [at for at, kind in messages if kind == "reply"]
    first_reply = replies[0] if replies else None

    def stop_of(moment):
        candidates = [m for m in (moment, first_done) if m is not None]
        return min(candidates) if candidates else None

    result = TicketClocks(paused=current in pause_statuses and current not in DONE)
    result.clocks["first_response"] = _clock(
        schedule, segments, start=opened_at, stop=stop_of(first_reply),
        target=targets.get("first_response"), warn_percent=warn_percent,
        paused_in=pause_statuses, now=now)
    result.clocks["resolution"] = _clock(
        schedule, segments, start=opened_at, stop=done_since,
        target=targets.get("resolution"), warn_percent=warn_percent,
        paused_in=pause_statuses, now=now)
    turn = None
    if first_reply is not None:
        turns = [at for at, kind in messages if kind == "customer" and at > first_reply]
        for index in range(1, len(points)):
            if points[index - 1][1] == "waiting_customer" and points[index][1] not in DONE \
                    and points[index][1] not in pause_statuses and points[index][0] > first_reply:
                turns.append(points[index][0])
        turn = max(turns) if turns else None
    if turn is None:
        result.clocks["next_response"] = ClockState(target=targets.get("next_response"))
    else:
        answer = next((at for at in replies if at >= turn), None)
        stop = answer
        if stop is None and done_since is not None:
            stop = done_since
        result.clocks["next_response"] = _clock(
            schedule, segments, start=turn, stop=stop, target=targets.get("next_response"),
            warn_percent=warn_percent, paused_in=pause_statuses, now=now)
    return result
