"""The model versions kept under `models/` and which one is served by default."""

import re
from pathlib import Path

from models import artifact

MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_FILE = "DEFAULT"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class RegistryError(RuntimeError):
    """A version name or default pointer that does not name a saved model."""


def check_version(version: str) -> str:
    """Return a version name if it is safe as a directory name, else raise."""
    if not _VERSION.match(version):
        raise RegistryError(
            f"version {version!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return version


def default_version(models_dir: Path = MODELS_DIR) -> str:
    """Return the version named in models/DEFAULT."""
    pointer = Path(models_dir) / DEFAULT_FILE
    try:
        return check_version(pointer.read_text().strip())
    except FileNotFoundError as error:
        raise RegistryError(f"no default model: {pointer} is missing; train one") from error


def default_dir(models_dir: Path = MODELS_DIR) -> Path:
    """Return the directory of the default model."""
    return Path(models_dir) / default_version(models_dir)


def set_default(version: str, models_dir: Path = MODELS_DIR) -> None:
    """Point models/DEFAULT at a saved version."""
    directory = Path(models_dir) / check_version(version)
    artifact.read_card(directory)
    (Path(models_dir) / DEFAULT_FILE).write_text(version + "\n")


def versions(models_dir: Path = MODELS_DIR) -> list[str]:
    """Return the saved versions, oldest name first."""
    return sorted(
        path.name
        for path in Path(models_dir).iterdir()
        if path.is_dir() and (path / artifact.CARD_FILE).is_file()
    )
