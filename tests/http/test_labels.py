"""Every code a staff page shows has a Chinese label in one place (server/i18n.py), and the pages get them.

The audit events and the keys of their data are found in the source (every audit.add / flat_entry
call, every ``event=`` of a queue move, every Lua script that XADDs), so a new event without a label
fails here rather than showing up raw on a proctor's screen."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

from server.i18n import LABELS, MESSAGES, label
from server.queue.entries import STATES, SYSTEM_REASONS
from tests.conftest import PASSWORD, login

SERVER = Path(__file__).resolve().parents[2] / "server"
CJK = re.compile(r"[\u4e00-\u9fff]")
# events whose name is built at run time: prefix -> every ending it takes
DYNAMIC = {
    "face_review_": ("approved", "rejected"),
    "identity_appeal_": ("approved", "rejected"),
    "queue_": ("joined", "reentered"),
}
# ``**mapping`` passed into an audit entry: the keys it may hold
EXPANDED = {
    "names": ("phone", "email", "username"),
    "changes": ("school", "name", "booking_opens", "booking_closes", "notice", "pledge"),
    "data": ("pledge_sha256",),
}
MOVE_PARAMS = {"reason", "event", "stats"}  # WaitingQueue._move's own keywords; the others are audit data


def _strings(node: ast.AST) -> tuple[set[str], set[str]]:
    """(event names, name prefixes) an event argument can take."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}, set()
    if isinstance(node, ast.IfExp):
        a, b = _strings(node.body), _strings(node.orelse)
        return a[0] | b[0], a[1] | b[1]
    if isinstance(node, ast.JoinedStr) and isinstance(node.values[0], ast.Constant):
        return set(), {node.values[0].value}
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add) and isinstance(node.left, ast.Constant):
        return set(), {node.left.value}
    return set(), set()


def _python_audit() -> tuple[set[str], set[str], set[str]]:
    events, prefixes, keys = set(), set(), set()
    for path in SERVER.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in (n for n in ast.walk(tree) if isinstance(n, ast.Call)):
            func = call.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            owner = func.value.id if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) else ""
            event_arg, data_kw = None, []
            if (owner, name) in (("audit", "add"), ("", "add_audit")) and len(call.args) >= 4:
                event_arg, data_kw = call.args[3], call.keywords
            elif (owner, name) == ("audit", "flat_entry") and call.args:
                event_arg, data_kw = call.args[0], call.keywords
            elif name == "_step" and len(call.args) >= 4:
                event_arg = call.args[3]
            elif name in ("_move", "_try_move"):  # (_try_move forwards its **kwargs to _move)
                data_kw = [
                    k
                    for k in call.keywords
                    if k.arg not in MOVE_PARAMS
                    and not (k.arg is None and isinstance(k.value, ast.Name) and k.value.id == "kwargs")
                ]
                event_arg = next((k.value for k in call.keywords if k.arg == "event"), None)
                keys.add("room")  # every move's data names the room
            else:
                continue
            if event_arg is not None:
                found, starts = _strings(event_arg)
                events |= found
                prefixes |= starts
            for kw in data_kw:
                if kw.arg is None:  # **mapping
                    assert isinstance(kw.value, ast.Name) and kw.value.id in EXPANDED, (path, ast.dump(kw.value))
                    keys |= set(EXPANDED[kw.value.id])
                elif kw.arg != "subject":
                    keys.add(kw.arg)
    return events - {"event"}, prefixes, keys


def _lua_audit() -> tuple[set[str], set[str], set[str]]:
    events, prefixes, keys = set(), set(), set()
    for path in (SERVER / "store" / "lua").glob("*.lua"):
        text = path.read_text(encoding="utf-8")
        events |= set(re.findall(r"'event'\s*\n\s*fields\[#fields \+ 1\] = '([a-z_]+)'\s*\n", text))
        prefixes |= set(re.findall(r"'event'\s*\n\s*fields\[#fields \+ 1\] = '([a-z_]+)' \.\.", text))
        events |= set(re.findall(r"\baudit\((?:account, )?'([a-z_]+)'", text))
        tables = re.findall(r"cjson\.encode\(\{(.*?)\}\)", text, re.S)
        tables += re.findall(r"\baudit\((?:account, )?'[a-z_]+', \{(.*?)\}\)", text, re.S)
        for table in tables:
            keys |= set(re.findall(r"(?:^|[{,]\s*)([a-z_]+) =", table))
        keys |= set(re.findall(r"data\['([a-z_]+)'\]", text))
    return events, prefixes, keys


def audit_events() -> set[str]:
    (py_events, py_prefixes, _), (lua_events, lua_prefixes, _) = _python_audit(), _lua_audit()
    prefixes = py_prefixes | lua_prefixes
    assert prefixes <= set(DYNAMIC), f"events named at run time that DYNAMIC does not know: {prefixes - set(DYNAMIC)}"
    return py_events | lua_events | {p + end for p in prefixes for end in DYNAMIC[p]}


def audit_keys() -> set[str]:
    return _python_audit()[2] | _lua_audit()[2]


def chinese(code: str) -> str:
    zh, en = LABELS.get(code) or MESSAGES.get(code) or ("", "")
    assert CJK.search(zh), f"{code}: no Chinese label ({zh!r})"
    assert en and not CJK.search(en), f"{code}: no English label ({en!r})"
    return zh


def test_the_source_scan_finds_the_events_it_should():
    events = audit_events()
    assert {
        "queue_reentered",
        "queue_called",
        "queue_absent",
        "face_check_failed",
        "face_review_approved",
        "identity_appeal_rejected",
        "roster_entry_updated",
        "pledge_signed",
        "recording_stopped",
        "account_created",
        "slot_booked",
    } <= events
    assert {"waited_s", "away_s", "arrival", "device", "reason", "from", "to", "room", "examiners"} <= audit_keys()


def test_every_audit_event_has_a_chinese_label():
    missing = [e for e in sorted(audit_events()) if f"event_{e}" not in LABELS]
    assert not missing, f"audit events without a label (add event_<name> to LABELS in server/i18n.py): {missing}"
    for event in audit_events():
        chinese(f"event_{event}")


def test_every_audit_detail_has_a_label_or_is_hidden():
    """A detail key's label may be "" (an internal id: not shown); an unknown key would show raw."""
    missing = [k for k in sorted(audit_keys()) if f"detail_{k}" not in LABELS]
    assert not missing, f"audit data keys without a detail_<key> label: {missing}"
    for key in audit_keys():
        zh, en = LABELS[f"detail_{key}"]
        assert (zh == en == "") or (CJK.search(zh) and en), key


def test_every_reason_state_and_face_code_has_a_chinese_label():
    from server.facecheck.quality import REASONS

    for reason in SYSTEM_REASONS:
        chinese(f"reason_{reason}")
    for state in STATES:
        chinese(f"queue_state_{state}")
    for reason in (*REASONS, "face_mismatch", "face_liveness", "face_no_frames"):
        chinese(reason)
    for status in ("passed", "approved", "failed", "locked", "rejected", "none", "expired"):
        chinese(f"face_status_{status}")
    for state in ("recording", "stopped", "failed", "recovered", "closed"):
        chinese(f"rec_state_{state}")
    for role in ("candidate", "examiner", "proctor", "admin", "system"):
        chinese(f"role_{role}")
    assert label("event_queue_reentered", "zh") == "重新进入候考"
    assert label("reason_disconnected", "en") == "Disconnected beyond the grace period"


def _page_labels(html: str) -> dict | None:
    found = re.search(r'<script type="application/json" id="labels">(.*?)</script>', html, re.S)
    return json.loads(found.group(1)) if found else None


@pytest.mark.parametrize("role", ["examiner", "proctor", "admin"])
async def test_staff_pages_carry_the_labels_in_their_language(http, world, role):
    await login(http, f"{role}-one", PASSWORD)
    labels = _page_labels(await (await http.get(f"/{role}")).text())
    assert labels is not None
    for event in audit_events():
        assert CJK.search(labels[f"event_{event}"]), event
    assert labels["reason_disconnected"] == "断线超过等待时限"
    assert labels["face_liveness"] == "未检测到转头动作" and labels["face_status_expired"]
    assert labels["detail_admission"] == ""  # hidden
    assert not any(k.startswith("advice_") for k in labels)  # labels, not the candidates' advice
    await http.get("/lang/en?next=/")
    labels = _page_labels(await (await http.get(f"/{role}")).text())
    assert labels["event_queue_reentered"] == "Joined the queue again"


async def test_the_candidate_pages_do_not_carry_them(http, world):
    account = await world.candidate(0)
    await login(http, account.phone, PASSWORD)
    html = await (await http.get("/candidate")).text()
    assert _page_labels(html) is None
    assert 'data-timezone="Asia/Shanghai"' in html


def _candidate_labels(html: str) -> dict | None:
    found = re.search(r'<script type="application/json" id="candidate-labels">(.*?)</script>', html, re.S)
    return json.loads(found.group(1)) if found else None


async def test_the_candidate_pages_carry_only_their_own_labels(http, world):
    """States, face statuses, the quick phrases and the candidates' reasons, in the server's words; no staff labels."""
    from server.queue.entries import STATES, SYSTEM_REASONS
    from server.signaling.candidate import PHRASES

    account = await world.candidate(0)
    await login(http, account.phone, PASSWORD)
    for path in ("/candidate", "/candidate/practice", f"/candidate/exams/{world.exam.id}/interview"):
        html = await (await http.get(path)).text()
        labels = _candidate_labels(html)
        assert labels is not None, path
        assert 'data-timezone="Asia/Shanghai"' in html, path
        assert {f"queue_state_{s}" for s in STATES} <= set(labels)
        assert {f"phrase_{p}" for p in PHRASES} <= set(labels)
        assert {f"queue_reason_{r}" for r in SYSTEM_REASONS} <= set(labels)
        assert labels["queue_state_absent"] == MESSAGES["queue_state_absent"][0] == "缺考"
        assert labels["phrase_cant_hear"] == "听不到考官的声音"  # the words the examiners see (server's)
        assert labels["face_status_passed"] == "已通过"
        staff = ("event_", "detail_", "role_", "rec_state_", "reason_", "advice_", "nobody_ready", "roster_row_")
        assert not [k for k in labels if k.startswith(staff)], path
    await http.get("/lang/en?next=/")
    labels = _candidate_labels(await (await http.get("/candidate")).text())
    assert labels["phrase_cant_hear"] == "I can't hear you" and labels["queue_state_waiting"] == "Waiting"


@pytest.mark.parametrize("role", ["examiner", "proctor", "admin"])
async def test_staff_pages_carry_no_candidate_label_set(http, world, role):
    await login(http, f"{role}-one", PASSWORD)
    html = await (await http.get(f"/{role}")).text()
    assert _candidate_labels(html) is None and _page_labels(html)["phrase_cant_hear"] == "听不到考官的声音"


JS = SERVER.parent / "web" / "static" / "js"
# a code mapped to a [zh, en] pair: `absent: ["缺考", "Absent"]` or `"absent": [...]`
LABEL_PAIR = re.compile(r"""["']?[A-Za-z_][\w]*["']?\s*:\s*\[\s*(["'`])[^"'`]*[\u4e00-\u9fff][^"'`]*\1\s*,\s*(["'`])""")


def test_no_module_keeps_its_own_label_table_or_time_zone():
    """Labels come from the server's catalogue (common.js label()) and the zone from <body data-timezone>."""
    modules = sorted(JS.rglob("*.js"))
    assert len(modules) > 15
    for path in modules:
        text = path.read_text(encoding="utf-8")
        assert not LABEL_PAIR.search(text), (
            f"{path.relative_to(JS)}: a code -> [zh, en] label table: {LABEL_PAIR.search(text)[0]}"
        )
        assert "Asia/Shanghai" not in text, path.relative_to(JS)
    assert LABEL_PAIR.search('  absent: ["缺考 / 已离开", "Absent / left"],')  # the pattern finds what it should
    for path in (SERVER.parent / "web" / "templates").glob("*.html"):
        assert "Asia/Shanghai" not in path.read_text(encoding="utf-8"), path.name


def test_one_formatting_module():
    """`$` and the clocks and durations are format.js's; no other module defines its own."""
    own = re.compile(r"^\s*(?:export\s+)?(?:const|function)\s+(\$|fmt[A-Z]\w*)(?=\s*[=(])", re.M)
    for path in sorted(JS.rglob("*.js")):
        if path.name != "format.js":
            found = own.findall(path.read_text(encoding="utf-8"))
            assert not found, f"{path.relative_to(JS)} defines {found}: import them from format.js"
    assert own.findall("const $ = (id) => document.getElementById(id);\nfunction fmtRange(a) {}") == ["$", "fmtRange"]


async def test_a_label_in_the_page_cannot_end_the_script(http, world, monkeypatch):
    """The JSON sits inside <script>: Jinja's tojson escapes '<', so '</script>' in a label is harmless."""
    from server.http import pages

    pages.labels.cache_clear()
    monkeypatch.setitem(LABELS, "event_test_only", ("</script><b>x", "</script>"))
    try:
        await login(http, "admin-one", PASSWORD)
        html = await (await http.get("/admin")).text()
        assert _page_labels(html)["event_test_only"] == "</script><b>x"
        assert "</script><b>" not in html
    finally:
        pages.labels.cache_clear()


async def test_favicon(http):
    resp = await http.get("/favicon.ico")
    assert resp.status == 200 and resp.content_type == "image/svg+xml"
    assert (await resp.read()).startswith(b"<svg")
    assert (await http.get("/static/favicon.svg")).status == 200
    assert '<link rel="icon" href="/static/favicon.svg"' in await (await http.get("/login")).text()
