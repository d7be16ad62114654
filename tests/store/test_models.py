"""Records as Redis hashes: every model survives ``to_hash`` -> Redis -> ``from_hash`` unchanged (ints,
floats, bools, lists, dicts, Chinese text), a field missing from an older hash takes its default,
and a field the code no longer knows is ignored."""

from __future__ import annotations

import dataclasses
import inspect
import typing

import pytest

from server.store import models
from server.store.models import from_hash, to_hash

RECORDS = [
    cls
    for _, cls in inspect.getmembers(models, inspect.isclass)
    if dataclasses.is_dataclass(cls) and cls.__module__ == models.__name__
]


def sample(cls, seed: int):
    """A record with a distinct, non-default value in every field."""
    hints = typing.get_type_hints(cls)
    values = {}
    for index, field in enumerate(dataclasses.fields(cls)):
        kind = typing.get_origin(hints[field.name]) or hints[field.name]
        n = seed * 100 + index + 1
        values[field.name] = {
            int: n,
            float: n + 0.25,
            bool: bool(seed % 2 == 0),
            list: [f"项{n}", n],
            dict: {"键": n, "nested": [n]},
        }.get(kind, f"值-{n}-考生")
    return cls(**values)


def test_the_models_are_all_found():
    assert {"Exam", "Subject", "Room", "Slot", "Account", "RosterEntry", "Enrolment", "Appeal"} <= {
        cls.__name__ for cls in RECORDS
    }


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
@pytest.mark.parametrize("seed", [1, 2])
async def test_a_record_comes_back_from_redis_unchanged(cls, seed, redis, prefix):
    record = sample(cls, seed)
    key = f"{prefix}record:{cls.__name__}"
    await redis.hset(key, mapping=to_hash(record))
    assert from_hash(cls, await redis.hgetall(key)) == record


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_missing_fields_take_their_default_and_unknown_ones_are_ignored(cls):
    record = sample(cls, 1)
    data = to_hash(record)
    optional = [
        f
        for f in dataclasses.fields(cls)
        if f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
    ]
    for field in optional:
        del data[field.name]
    data["a_field_from_a_newer_version"] = "x"
    back = from_hash(cls, data)
    for field in optional:
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        assert getattr(back, field.name) == default, field.name
