"""Why call-next found nobody to call: the refusal names each waiting candidate and the reason, in
the examiner's language (decided in the same atomic script as the call, queue_call.lua)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ..errors import UserError
from ..i18n import label, message


class NobodyReady(UserError):
    """``nobody_ready`` (the refusal of call-next): its message names each waiting candidate and why they
    cannot be called yet, grouped by reason, in line order."""

    MAX_NAMES = 5

    def __init__(self, blocked: list[dict], why: str, waiting: str, timezone: str, now: float) -> None:
        super().__init__("nobody_ready", waiting=waiting, why=why, blocked=blocked)
        self.timezone, self.now = timezone, now

    def _names(self, people: list[dict], lang: str) -> str:
        names = [p["name"] or p["account_id"] for p in people]
        shown = label("names_sep", lang).join(names[: self.MAX_NAMES])
        if len(names) > self.MAX_NAMES:
            return label("names_more", lang, names=shown, count=len(names), more=len(names) - self.MAX_NAMES)
        return shown

    def _when(self, epoch: float) -> str:
        tz = ZoneInfo(self.timezone)
        at = datetime.fromtimestamp(epoch, tz)
        same_day = at.date() == datetime.fromtimestamp(self.now, tz).date()
        return at.strftime("%H:%M" if same_day else "%m-%d %H:%M")

    def message(self, lang: str) -> str:
        blocked = self.params["blocked"]
        if not blocked:
            return message("nobody_ready", lang)
        groups: dict[tuple, list[dict]] = {}
        for person in blocked:  # one clause per reason (per start time, per state), in line order
            extra = (
                self._when(person["slot_start"])
                if person["why"] == "slot_not_started"
                else person["state"]
                if person["why"] == "state"
                else ""
            )
            groups.setdefault((person["why"], extra), []).append(person)
        clauses = []
        for (why, extra), people in groups.items():
            names = self._names(people, lang)
            if why == "slot_not_started":
                clauses.append(label("nobody_ready_slot_not_started", lang, names=names, starts=extra))
            elif why == "state":
                clauses.append(label("nobody_ready_state", lang, names=names, state_code=f"queue_state_{extra}"))
            else:
                clauses.append(label(f"nobody_ready_{why}", lang, names=names))
        return label(
            "nobody_ready_detail", lang, count=len(blocked), detail=label("nobody_ready_sep", lang).join(clauses)
        )
