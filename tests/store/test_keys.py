"""The key schema: every key is built by ``server/store/keys.py`` under the prefix, its docstring's
table lists every shape, two different keys never collide, and no Lua script or module spells a
key's shape itself."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import server.store.keys as keys_module
from server.store.keys import TEMPLATE_ACCOUNT, TEMPLATE_EXAM, TEMPLATE_SUBJECT, Keys

SERVER = Path(__file__).resolve().parents[2] / "server"
METHODS = [(name, fn) for name, fn in inspect.getmembers(Keys, inspect.isfunction) if not name.startswith("_")]


def params(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)[1:]


def shape(keys: Keys, name: str, fn) -> str:
    """The key with each argument shown as {name} (``exam_id`` -> ``{exam}``), as the table writes it."""
    return getattr(keys, name)(*["{" + re.sub(r"_id$", "", p) + "}" for p in params(fn)])


def test_the_table_lists_every_key_and_nothing_else():
    table = set(re.findall(r"^(\S+)\s+(?:hash|set|zset|string|stream|list|channel)\s", keys_module.__doc__, re.M))
    built = {shape(Keys(""), name, fn) for name, fn in METHODS} | {Keys("").audit(None), Keys("").sessions_ended}
    assert built == table, {"not in the table": built - table, "in the table only": table - built}


def test_every_key_is_under_the_prefix_and_no_two_collide():
    keys = Keys("tenant-7:")
    seen: dict[str, str] = {}
    for name, fn in METHODS:
        for variant in range(2 if params(fn) else 1):  # different ids give different keys
            key = getattr(keys, name)(*[f"{p}{variant}" for p in params(fn)])
            assert key.startswith("tenant-7:"), (name, key)
            assert key not in seen, f"{name} and {seen.get(key)} both build {key}"
            seen[key] = name


def test_templates_fill_in_to_the_keys_themselves():
    keys = Keys("iv:")
    template = keys.face_state(TEMPLATE_EXAM, TEMPLATE_ACCOUNT)
    assert template.replace(TEMPLATE_EXAM, "exam_1").replace(TEMPLATE_ACCOUNT, "acc_2") == keys.face_state(
        "exam_1", "acc_2"
    )
    assert keys.subject(TEMPLATE_SUBJECT).replace(TEMPLATE_SUBJECT, "subj_3") == keys.subject("subj_3")


def test_no_script_or_module_spells_a_key_shape():
    """A key shape written outside keys.py would escape the prefix and the table: no Lua script holds
    a literal like 'face:' and no module outside store/ glues a key onto the prefix."""
    names = {re.match(r"[a-z]+", shape(Keys(""), n, f)).group(0) for n, f in METHODS}
    literal = re.compile(r"""['"]({}):""".format("|".join(sorted(names))))
    found = []
    for path in sorted((SERVER / "store" / "lua").glob("*.lua")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("--", 1)[0]
            # verify_identity.lua answers 'claimed:<owner>': a result, not a key
            if literal.search(code) and "'claimed:' .. owner" not in code:
                found.append(f"{path.name}:{number}: {line.strip()}")
    for path in sorted(SERVER.rglob("*.py")):
        if "store" in path.relative_to(SERVER).parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"keys\.prefix\b|\.prefix \+", line.split("#", 1)[0]):
                found.append(f"{path.relative_to(SERVER)}:{number}: {line.strip()}")
    assert not found, found
