"""The face engine, loaded once for the whole test session from the real model files.

The models live in ``<repo>/models`` (``INTERVIEW_MODELS_DIR`` overrides), put there by
``scripts/setup.sh`` (``python -m server.facecheck.fetch``). Missing files fail the tests with the
command to run, rather than skipping them.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from server.facecheck.models import ModelsMissing, check_models

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def models_dir() -> Path:
    return Path(os.environ.get("INTERVIEW_MODELS_DIR") or REPO / "models").absolute()


@pytest.fixture(scope="session")
def face_engine(models_dir):
    from server.facecheck.engine import FaceEngine

    try:
        check_models(models_dir, "Dlib")
    except ModelsMissing as exc:
        pytest.fail(str(exc))
    engine = FaceEngine.load(models_dir)
    yield engine
    engine.close()
