"""The saved model: `model.joblib` plus its `card.json`, the contract between training and serving.

joblib files execute code when loaded, so an artifact is loaded only when its card names it by
sha256 and it was written by the same scikit-learn version that is installed now.
"""

import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import joblib
import sklearn
from sklearn.exceptions import InconsistentVersionWarning

MODEL_FILE = "model.joblib"
CARD_FILE = "card.json"


class ArtifactError(RuntimeError):
    """A model directory that cannot be loaded safely."""


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
    joblib.dump(model, model_path, compress=3)
    card = {
        **card,
        "artifact": {
            "file": MODEL_FILE,
            "sha256": sha256(model_path),
            "bytes": model_path.stat().st_size,
        },
    }
    card.setdefault("libraries", {})["scikit-learn"] = sklearn.__version__
    (directory / CARD_FILE).write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    return card


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
    trained_with = card["libraries"].get("scikit-learn")
    if trained_with != sklearn.__version__:
        raise ArtifactError(
            f"model {card['version']} was trained with scikit-learn {trained_with}, "
            f"but {sklearn.__version__} is installed; install the pinned requirements "
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
        warnings.simplefilter("error", InconsistentVersionWarning)
        try:
            model = joblib.load(model_path)
        except InconsistentVersionWarning as error:
            raise ArtifactError(f"model {card['version']}: {error}") from error
    return model, card
