"""The saved model: `model.joblib` plus its `card.json`, the contract between training and serving.

joblib files execute code when loaded, so an artifact is loaded only when its card names it by
sha256 and it was written by the same scikit-learn version that is installed now.

The joblib file holds the model pickled with protocol 5, its arrays passed out of band as joblib
arrays (`Pickled`). joblib unpickles with pickle's pure-Python Unpickler, which reads the
model's few hundred thousand vocabulary strings one call at a time; the envelope leaves those to
the C unpickler and loads the model four to five times faster, with the same objects. A file
holding the model itself (written before the envelope) still loads.
"""

import hashlib
import json
import pickle
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import joblib
import numpy as np

MODEL_FILE = "model.joblib"
CARD_FILE = "card.json"


class ArtifactError(RuntimeError):
    """A model directory that cannot be loaded safely."""


@dataclass(frozen=True)
class Pickled:
    """A model pickled with protocol 5: the stream, and its out-of-band buffers as byte arrays."""

    stream: bytes
    buffers: list[np.ndarray]

    @classmethod
    def of(cls, model: Any) -> "Pickled":
        """Pickle a model, keeping its contiguous arrays' bytes out of the stream."""
        buffers: list[pickle.PickleBuffer] = []
        stream = pickle.dumps(model, protocol=5, buffer_callback=buffers.append)
        return cls(stream, [np.frombuffer(buffer.raw(), dtype=np.uint8) for buffer in buffers])

    def model(self) -> Any:
        """Unpickle the model; its arrays are views of the buffers, as writable as they are."""
        return pickle.loads(self.stream, buffers=self.buffers)


def sha256(path: Path) -> str:
    """Return the hex sha256 of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save(model: Any, card: dict, directory: Path) -> dict:
    """Write the model and its card (completed with the artifact's sha256) to a directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model_path = directory / MODEL_FILE
    joblib.dump(Pickled.of(model), model_path, compress=3)
    card = {
        **card,
        "artifact": {
            "file": MODEL_FILE,
            "sha256": sha256(model_path),
            "bytes": model_path.stat().st_size,
        },
    }
    card.setdefault("libraries", {})["scikit-learn"] = scikit_learn_version()
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return card


def scikit_learn_version() -> str:
    """Return the installed scikit-learn's version, without importing it.

    A model saved by training holds none of scikit-learn's objects (its components keep their
    fitted numbers in classes of `models`), so serving one need not import scikit-learn, which
    with the SciPy and pandas modules it imports takes about a second.
    """
    return metadata.version("scikit-learn")


def read_card(directory: Path) -> dict:
    """Read and minimally check a model directory's card."""
    card_path = Path(directory) / CARD_FILE
    try:
        card = json.loads(card_path.read_text())
    except FileNotFoundError as error:
        raise ArtifactError(f"no model card at {card_path}") from error
    except json.JSONDecodeError as error:
        raise ArtifactError(f"model card {card_path} is not valid JSON: {error}") from error
    required = {
        "version": (),
        "artifact": ("file", "sha256"),
        "libraries": (),
        "bands": ("moderate", "high"),
    }
    for key, inner in required.items():
        if not isinstance(card.get(key), (dict, str)) or any(
            name not in card[key] for name in inner
        ):
            raise ArtifactError(
                f"model card {card_path} lacks '{key}'"
                + (f" with {', '.join(inner)}" if inner else "")
            )
    return card


def load(directory: Path) -> tuple[Any, dict]:
    """Load a model and its card, refusing a changed file or another scikit-learn version."""
    directory = Path(directory)
    card = read_card(directory)
    trained_with, installed = card["libraries"].get("scikit-learn"), scikit_learn_version()
    if trained_with != installed:
        raise ArtifactError(
            f"model {card['version']} was trained with scikit-learn {trained_with}, "
            f"but {installed} is installed; install the pinned requirements "
            "or retrain the model"
        )
    model_path = directory / card["artifact"]["file"]
    if not model_path.is_file():
        raise ArtifactError(f"model file {model_path} is missing")
    actual = sha256(model_path)
    if actual != card["artifact"]["sha256"]:
        raise ArtifactError(
            f"model file {model_path} has sha256 {actual[:12]}..., but its card says "
            f"{card['artifact']['sha256'][:12]}...; refusing to load a file the card does not name"
        )
    with warnings.catch_warnings():
        # scikit-learn's InconsistentVersionWarning (an estimator pickled by another version) as
        # an error, matched by its message: importing its class would import scikit-learn for a
        # model that holds none of its objects.
        warnings.filterwarnings("error", message="Trying to unpickle estimator")
        try:
            model = joblib.load(model_path)
            if isinstance(model, Pickled):
                model = model.model()
        except UserWarning as error:
            raise ArtifactError(f"model {card['version']}: {error}") from error
    return model, card
