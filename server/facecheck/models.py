"""The face-check model files: which ones, where they live, what they must hash to.

Layout under ``models_dir`` (``models/`` by default, filled by ``interview-server fetch-models``,
which ``scripts/setup.sh`` runs)::

    face_detection_short_range.tflite         BlazeFace, short range (mediapipe 0.10.21 wheel)
    face_detection_full_range_sparse.tflite   BlazeFace, full range: the fallback for far faces
    .deepface/weights/                        DEEPFACE_HOME points at models_dir
        shape_predictor_5_face_landmarks.dat          dlib 5-point alignment (face-recognition-models)
        dlib_face_recognition_resnet_model_v1.dat     the Dlib embedding model (face-recognition-models)
        arcface_weights.onnx ...                      other embedding models, when fetched
    checksums.json                            sha256 recorded on first fetch for files without a pinned one

Every file is checked by sha256 before the engine loads; nothing is ever downloaded at request
time. Where the digests come from is written next to each entry and in docs/facecheck.md.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

FETCH_COMMAND = "interview-server fetch-models"
DEFAULT_MODEL = "Dlib"

DETECTOR_FILE = "face_detection_short_range.tflite"
DETECTOR_FULL_RANGE_FILE = "face_detection_full_range_sparse.tflite"
SHAPE_PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
WEIGHTS_SUBDIR = Path(".deepface") / "weights"
CHECKSUMS_FILE = "checksums.json"


class ModelsMissing(RuntimeError):
    """Model files are absent or do not match their sha256: the face check cannot start.

    ``str()`` names the files and the command that fixes it (``interview-server fetch-models``).
    """

    def __init__(self, models_dir: Path, model_name: str, problems: list[str]):
        self.models_dir = Path(models_dir)
        self.model_name = model_name
        self.problems = list(problems)
        command = FETCH_COMMAND if model_name == DEFAULT_MODEL else f"{FETCH_COMMAND} --model {model_name}"
        super().__init__(
            f"face-check model files for {model_name} are not ready in {self.models_dir}: "
            + "; ".join(self.problems)
            + f". Run `{command}` (scripts/setup.sh does it for the default model)."
        )

    def __reduce__(self):  # picklable, so it can come back from a worker process intact
        return (type(self), (self.models_dir, self.model_name, self.problems))


@dataclass(frozen=True)
class ModelFile:
    """One file the face check needs."""

    name: str
    sha256: tuple[str, ...]  # accepted digests; empty: recorded in checksums.json on first fetch
    size: int | None  # bytes, when known
    source: str  # where fetch-models takes it from (for people)
    licence: str
    urls: tuple[str, ...] = ()  # downloads, tried in order (only for models not in a package)


# --- the detector: BlazeFace models out of the mediapipe 0.10.21 wheel (Apache-2.0) -------------
MEDIAPIPE_WHEEL_REQUIREMENT = "mediapipe==0.10.21"
# The wheel fetch-models downloads (pinned platform, so the digest is one and the same everywhere;
# only two .tflite members are read from it, it is never installed).
MEDIAPIPE_WHEEL_FILE = "mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl"
MEDIAPIPE_WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
MEDIAPIPE_WHEEL_PLATFORM = ("manylinux_2_28_x86_64", "3.11", "cp", "cp311")  # platform, python, impl, abi
MEDIAPIPE_MEMBER_DIR = "mediapipe/modules/face_detection/"

DETECTORS = {
    DETECTOR_FILE: ModelFile(
        DETECTOR_FILE,
        ("bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",),
        229714,
        f"{MEDIAPIPE_MEMBER_DIR}{DETECTOR_FILE} inside the {MEDIAPIPE_WHEEL_FILE} wheel (PyPI)",
        "Apache-2.0",
    ),
    DETECTOR_FULL_RANGE_FILE: ModelFile(
        DETECTOR_FULL_RANGE_FILE,
        ("2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",),
        676746,
        f"{MEDIAPIPE_MEMBER_DIR}{DETECTOR_FULL_RANGE_FILE} inside the {MEDIAPIPE_WHEEL_FILE} wheel (PyPI)",
        "Apache-2.0",
    ),
}

# --- dlib files from the face-recognition-models package (PyPI, 0.3.0; the models are public domain)
FACE_RECOGNITION_MODELS_PACKAGE = "face_recognition_models"
SHAPE_PREDICTOR = ModelFile(
    SHAPE_PREDICTOR_FILE,
    ("c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",),
    9150489,
    "face_recognition_models/models/shape_predictor_5_face_landmarks.dat (face-recognition-models 0.3.0, PyPI)",
    "public domain (dlib model, trained by Davis King)",
)


@dataclass(frozen=True)
class EmbeddingModel:
    """A deepface recognition model as the engine uses it."""

    name: str  # deepface model name
    weights: ModelFile
    chip_size: int  # side of the aligned face chip fed to the model (its input size)
    metric: str  # "euclidean" or "cosine": what DEFAULT_THRESHOLDS is a threshold of
    calibrated: bool  # False: the threshold is deepface's published default, not measured here


EMBEDDING_MODELS: dict[str, EmbeddingModel] = {
    "Dlib": EmbeddingModel(
        "Dlib",
        ModelFile(
            "dlib_face_recognition_resnet_model_v1.dat",
            ("55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",),
            22466066,
            "face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat "
            "(face-recognition-models 0.3.0, PyPI)",
            "public domain (dlib model, trained by Davis King)",
        ),
        chip_size=150,
        metric="euclidean",
        calibrated=True,
    ),
    # The three below are downloaded from the addresses deepface 0.0.103 itself uses (see
    # deepface/models/facial_recognition/onnx/*.py). They cannot be fetched on the development
    # machines (no internet there): this path is written with care but has not been run.
    "ArcFace": EmbeddingModel(
        "ArcFace",
        ModelFile(
            "arcface_weights.onnx",
            (),  # no published digest found: recorded on first fetch (checksums.json)
            None,
            "deepface's model release (GitHub serengil/deepface_models v1.0, mirror on Hugging Face)",
            "MIT (deepface_models); ArcFace weights trained by insightface on MS1M",
            (
                "https://github.com/serengil/deepface_models/releases/download/v1.0/arcface_weights.onnx",
                "https://huggingface.co/serengil/deepface/resolve/main/arcface_weights.onnx",
            ),
        ),
        chip_size=112,
        metric="cosine",
        calibrated=False,
    ),
    "Facenet512": EmbeddingModel(
        "Facenet512",
        ModelFile(
            "facenet512_weights.onnx",
            (),  # no published digest found: recorded on first fetch (checksums.json)
            None,
            "deepface's model release (GitHub serengil/deepface_models v1.0, mirror on Hugging Face)",
            "MIT (deepface_models; FaceNet weights by David Sandberg, VGGFace2)",
            (
                "https://github.com/serengil/deepface_models/releases/download/v1.0/facenet512_weights.onnx",
                "https://huggingface.co/serengil/deepface/resolve/main/facenet512_weights.onnx",
            ),
        ),
        chip_size=160,
        metric="cosine",
        calibrated=False,
    ),
    "SFace": EmbeddingModel(
        "SFace",
        ModelFile(
            "face_recognition_sface_2021dec.onnx",
            # The git-LFS object ids (= sha256 of the content) of this path in opencv/opencv_zoo:
            # the 2021 upload (38,696,353 bytes) and a later re-upload (24,227,283 bytes).
            (
                "0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",
                "f6abbfff9575e3041db692c1e29d782e995191888477fd59ebc81202d99fc63b",
            ),
            None,
            "OpenCV zoo (github.com/opencv/opencv_zoo, models/face_recognition_sface)",
            "Apache-2.0",
            (
                "https://github.com/opencv/opencv_zoo/raw/main/models/face_recognition_sface/"
                "face_recognition_sface_2021dec.onnx",
            ),
        ),
        chip_size=112,
        metric="cosine",
        calibrated=False,
    ),
}

# Distance threshold per model: a face matches its reference when distance <= threshold.
# Dlib: euclidean distance between 128-d descriptors, calibrated on the package-shipped faces
# (`python -m bench.facecheck`, table in docs/facecheck.md): worst genuine pair 0.473 (skimage's
# three-quarter-view cameraman rotated 5 degrees), closest impostor 0.514 (an LFW face against
# that same cameraman; 0.626 between the three identities). 0.49 sits just under the middle
# (0.494): a false accept lets someone else sit the exam, a false reject costs a retry and, after
# three, a proctor's review. dlib's own cut is 0.6 (99.38 % on LFW); real ID-photo-vs-camera
# pairs are harder than this test set -- re-calibrate with real data before relying on it.
# The others: cosine distance, deepface 0.0.103's published defaults (deepface/config/threshold.py),
# NOT calibrated here -- re-calibrate first.
DEFAULT_THRESHOLDS: dict[str, float] = {
    "Dlib": 0.49,
    "ArcFace": 0.68,
    "Facenet512": 0.30,
    "SFace": 0.593,
}


@dataclass(frozen=True)
class ModelFiles:
    """Where the engine finds its files under one models_dir."""

    detector: Path  # BlazeFace short range (.tflite)
    deepface_home: Path  # the DEEPFACE_HOME to set: weights live in <deepface_home>/.deepface/weights/
    shape_predictor: Path  # dlib 5-point landmarks

    @property
    def detector_full_range(self) -> Path:
        """BlazeFace full range: tried when the short-range model finds no face."""
        return self.detector.with_name(DETECTOR_FULL_RANGE_FILE)

    @property
    def weights_dir(self) -> Path:
        return self.deepface_home / WEIGHTS_SUBDIR

    def embedding_weights(self, model_name: str) -> Path:
        return self.weights_dir / embedding_model(model_name).weights.name


def model_files(models_dir: Path) -> ModelFiles:
    models_dir = Path(models_dir).absolute()
    return ModelFiles(
        detector=models_dir / DETECTOR_FILE,
        deepface_home=models_dir,
        shape_predictor=models_dir / WEIGHTS_SUBDIR / SHAPE_PREDICTOR_FILE,
    )


def embedding_model(model_name: str) -> EmbeddingModel:
    try:
        return EMBEDDING_MODELS[model_name]
    except KeyError:
        raise ValueError(f"unknown face model {model_name!r}; choose one of {', '.join(EMBEDDING_MODELS)}") from None


def required_files(models_dir: Path, model_name: str) -> list[tuple[Path, ModelFile]]:
    """Every file the engine needs for ``model_name``, with where it must be."""
    files = model_files(models_dir)
    return [
        (files.detector, DETECTORS[DETECTOR_FILE]),
        (files.detector_full_range, DETECTORS[DETECTOR_FULL_RANGE_FILE]),
        (files.shape_predictor, SHAPE_PREDICTOR),
        (files.embedding_weights(model_name), embedding_model(model_name).weights),
    ]


def sha256_of(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def recorded_checksums(models_dir: Path) -> dict[str, str]:
    """sha256 digests fetch-models recorded for files that have no pinned digest."""
    try:
        data = json.loads((Path(models_dir) / CHECKSUMS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def accepted_digests(models_dir: Path, spec: ModelFile) -> tuple[str, ...]:
    if spec.sha256:
        return spec.sha256
    recorded = recorded_checksums(models_dir).get(spec.name)
    return (recorded,) if recorded else ()


def file_problem(path: Path, spec: ModelFile, models_dir: Path) -> str | None:
    """Why ``path`` is not the file ``spec`` describes, or None when it is."""
    if not path.is_file():
        return f"{spec.name} is missing"
    digests = accepted_digests(models_dir, spec)
    if not digests:
        return f"{spec.name} has no recorded sha256"
    size = path.stat().st_size
    if spec.size is not None and size != spec.size:
        return f"{spec.name} has {size} bytes, expected {spec.size}"
    if sha256_of(path) not in digests:
        return f"{spec.name} does not match its sha256"
    return None


def check_models(models_dir: Path, model_name: str) -> None:
    """Raise ModelsMissing unless every file for ``model_name`` is present and hashes right.

    An unknown ``model_name`` raises ValueError (a configuration mistake, not a missing file).
    """
    needed = required_files(models_dir, model_name)
    problems = [p for path, spec in needed if (p := file_problem(path, spec, models_dir))]
    if problems:
        raise ModelsMissing(Path(models_dir), model_name, problems)
