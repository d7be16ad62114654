"""The face engine, loaded once for the whole test session from the real model files.

The models live in ``<repo>/models`` (``INTERVIEW_MODELS_DIR`` overrides), put there by
``scripts/setup.sh`` (``python -m server.facecheck.fetch``). Missing files fail the tests with the
command to run, rather than skipping them.
"""

from __future__ import annotations

import pytest

from server.facecheck.models import ModelsMissing, check_models


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
