"""The dependency rule of docs/design.md, checked on the source with ``ast``.

Imports point one way: the edges (``server/http``, ``server/signaling``) -> the domain packages ->
``server/store``. The composition layer (``app.py``, ``services.py``, ``wiring.py``, ``cli.py``,
``demo.py``) wires them and is outside the rule. Domain errors carry a code only; the HTTP edge maps
codes to statuses in one table (``server/http/statuses.py``).
"""

from __future__ import annotations

import ast
from pathlib import Path

from server.http.statuses import STATUS
from server.i18n import MESSAGES

ROOT = Path(__file__).resolve().parents[1]
SERVER = ROOT / "server"
EDGES = ("http", "signaling")
DOMAIN = (
    "accounts",
    "roster",
    "exams",
    "booking",
    "facecheck",
    "queue",
    "rooms",
    "notify",
    "recorded",
    "marking",
    "nodes",
)
UPPER = (
    "server.http",
    "server.signaling",
    "server.services",
    "server.app",
    "server.wiring",
    "server.cli",
    "server.demo",
)
STORE_ATTRS = {"redis", "keys", "pipeline", "script"}  # the store's insides: the edges ask a domain service

# Known exceptions, each with its reason. Aim for none.
STATUS_PASSED = {
    # (module, code): why this one call passes an HTTP status itself
    (
        "server/http/facecheck_api.py",
        "image_too_large",
    ): "a frame over the upload's byte limit is 413; the same code from the pixel rule (facecheck/pool.py) is 400",
}
DOMAIN_STATUS_EXCEPTIONS: dict[str, str] = {}  # module -> why it passes statuses (none today)


def modules(*packages: str) -> list[Path]:
    return sorted(p for pkg in packages for p in (SERVER / pkg).rglob("*.py"))


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports (relative imports resolved), including imports inside functions."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            name = ".".join(base + ([node.module] if node.module else []))
            out.add(name)
            out.update(f"{name}.{alias.name}" for alias in node.names)
    return out


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def user_errors(path: Path):
    """(line, code or None, passes a status) for each ``UserError(...)`` and each ``super().__init__``
    of a UserError subclass."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    subclasses = {
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.ClassDef) and any(getattr(b, "id", None) == "UserError" for b in n.bases)
    }
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "UserError"]
    for cls in subclasses:
        calls += [
            n
            for n in ast.walk(cls)
            if isinstance(n, ast.Call)
            and getattr(n.func, "attr", None) == "__init__"
            and isinstance(n.func.value, ast.Call)
            and getattr(n.func.value.func, "id", None) == "super"
        ]
    for call in calls:
        code = call.args[0].value if call.args and isinstance(call.args[0], ast.Constant) else None
        yield call.lineno, code, len(call.args) > 1 or any(k.arg == "status" for k in call.keywords)


def test_the_walkers_see_the_code():
    assert len(modules(*DOMAIN)) > 30 and len(modules(*EDGES)) > 20
    assert "server.store.models" in imported(SERVER / "http" / "routing.py")
    assert "server.errors.UserError" in imported(SERVER / "booking" / "bookings.py")


def test_edges_do_not_reach_into_the_store():
    found = []
    for path in modules(*EDGES):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in STORE_ATTRS:
                owner = node.value
                name = owner.attr if isinstance(owner, ast.Attribute) else getattr(owner, "id", None)
                if name == "store":
                    found.append(f"{rel(path)}:{node.lineno} {ast.unparse(node)}")
    assert found == [], "give the domain a method instead"


def test_signaling_does_not_import_http():
    found = [f"{rel(p)} imports {m}" for p in modules("signaling") for m in imported(p) if within(m, ("server.http",))]
    assert found == [], "shared helpers go to a neutral module (server/payloads.py) or the domain"


def test_domain_and_store_import_nothing_above_them():
    found = [f"{rel(p)} imports {m}" for p in modules(*DOMAIN, "store") for m in imported(p) if within(m, UPPER)]
    assert found == []


def test_store_imports_nothing_of_the_server_outside_itself():
    found = [
        f"{rel(p)} imports {m}"
        for p in modules("store")
        for m in imported(p)
        if within(m, ("server",)) and not within(m, ("server.store",))
    ]
    assert found == []


def test_domain_errors_carry_a_code_only():
    found = [
        f"{rel(p)}:{line} {code}"
        for p in modules(*DOMAIN, "store")
        if rel(p) not in DOMAIN_STATUS_EXCEPTIONS
        for line, code, status in user_errors(p)
        if status
    ]
    leaves = [SERVER / name for name in ("errors.py", "payloads.py", "i18n.py", "phones.py")]
    found += [f"{rel(p)}:{line} {code}" for p in leaves for line, code, status in user_errors(p) if status]
    assert found == [], "raise the code only; its HTTP status goes into server/http/statuses.py"


def test_edges_pass_no_status_but_the_listed_ones():
    found = {(rel(p), code) for p in modules(*EDGES) for _, code, status in user_errors(p) if status}
    assert found == set(STATUS_PASSED)


def test_the_status_table():
    assert set(STATUS) - set(MESSAGES) == set(), "a status for a code without a message"
    assert all(400 < s < 600 for s in STATUS.values()), "400 is the default: leave those out"
    # routing.py and errors.not_found build "<thing>_not_found" codes: every one of them is a 404
    assert {c: STATUS.get(c) for c in MESSAGES if c.endswith("_not_found")} == {
        c: 404 for c in MESSAGES if c.endswith("_not_found")
    }


LISTENER_LISTS = {"listeners", "on_result", "on_review", "on_cancelled"}
CALLBACKS = {"on_offer", "on_event"}


def test_listeners_are_wired_in_the_composition_root_only():
    """One process's wiring is in server/wiring.py: listeners are appended and callbacks set there."""
    found = []
    for path in sorted(SERVER.rglob("*.py")):
        if rel(path) == "server/wiring.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == "append"
                and isinstance(node.func.value, ast.Attribute)
                and node.func.value.attr in LISTENER_LISTS
            ):
                found.append(f"{rel(path)}:{node.lineno} {ast.unparse(node)}")
            if isinstance(node, ast.Assign):
                found += [
                    f"{rel(path)}:{node.lineno} {ast.unparse(t)} ="
                    for t in node.targets
                    if isinstance(t, ast.Attribute)
                    and t.attr in CALLBACKS
                    and not (isinstance(t.value, ast.Name) and t.value.id == "self")
                ]
    assert found == []
