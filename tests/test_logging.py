"""Log calls as the product makes them: at the default level (INFO), a reserved ``LogRecord`` attribute
in ``extra`` raises ``KeyError`` inside the call, which once kept the demo's media rooms from opening.
The suite runs at INFO (pyproject's ``log_level``), so such a call fails the test that reaches it;
this test finds every one in ``server/``, reached by a test or not."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

from server.config import Settings

SERVER = Path(__file__).resolve().parents[1] / "server"
RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}


def extra_keys(tree: ast.AST):
    """(line, key) of every literal key of an ``extra={...}`` keyword argument."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        for keyword in node.keywords:
            if keyword.arg == "extra" and isinstance(keyword.value, ast.Dict):
                for key in keyword.value.keys:
                    if isinstance(key, ast.Constant) and isinstance(key.value, str):
                        yield node.lineno, key.value


def test_no_log_call_in_server_uses_a_reserved_record_attribute():
    found = [
        (path.relative_to(SERVER.parent), line, key)
        for path in sorted(SERVER.rglob("*.py"))
        for line, key in extra_keys(ast.parse(path.read_text(), str(path)))
        if key in RESERVED
    ]
    assert not found, f"reserved LogRecord attributes in extra= (they raise at INFO): {found}"


def test_the_guard_sees_a_reserved_name():
    sample = ast.parse('log.info("x", extra={"room": 1, "process": 2})')
    assert [k for _, k in extra_keys(sample) if k in RESERVED] == ["process"]


def test_the_suite_logs_at_the_product_default_level():
    """Records at the product's default level are made (and so checked) while tests run."""
    assert Settings().log_level == "INFO"
    assert logging.getLogger("server").isEnabledFor(logging.INFO)
    logging.getLogger("server.rooms.interviews").info("media room opened", extra={"room": "r", "process_id": "p"})
