"""The model versions kept under `models/` and which one is served by default."""

import os
import re
import tempfile
from pathlib import Path

from models import artifact

MODELS_DIR = Path(__file__).resolve().parent
DEFAULT_FILE = "DEFAULT"
# The evaluation report training writes beside each version (training/report.py).
REPORT_FILE = "report.html"
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
    # Written aside and renamed over the pointer: a server that follows it (api/versions.py)
    # reads either the old name or the new one, never a half-written file.
    descriptor, temporary = tempfile.mkstemp(dir=models_dir, prefix=f".{DEFAULT_FILE}.")
    try:
        with os.fdopen(descriptor, "w") as stream:
            stream.write(version + "\n")
        os.replace(temporary, Path(models_dir) / DEFAULT_FILE)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def versions(models_dir: Path = MODELS_DIR) -> list[str]:
    """Return the saved versions, oldest name first."""
    if not Path(models_dir).is_dir():
        return []
    return sorted(
        path.name
        for path in Path(models_dir).iterdir()
        if path.is_dir() and (path / artifact.CARD_FILE).is_file()
    )


# The figures that sum a version up, where its card has them: (path in the card, better when).
HEADLINE = {
    "held_out_kappa": (("evaluation", "held_out", "model", "tasks", "kappa"), "higher"),
    "held_out_beta_spearman": (
        ("evaluation", "held_out", "model", "occupations", "beta", "spearman"),
        "higher",
    ),
    "postings_spearman_per_posting": (("evaluation", "postings", "spearman_per_posting"), "higher"),
    "postings_mean_absolute_error": (("evaluation", "postings", "mean_absolute_error"), "lower"),
    "user_duty_kappa": (("evaluation", "user", "duties", "kappa"), "higher"),
    "user_beta_mean_absolute_error": (
        ("evaluation", "user", "postings", "beta", "mean_absolute_error"),
        "lower",
    ),
}


def headline(card: dict) -> dict[str, float]:
    """Return the headline figures a card holds, by name (see HEADLINE)."""
    figures = {}
    for name, (path, _) in HEADLINE.items():
        node = card
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, (int, float)) and not isinstance(node, bool):
            figures[name] = node
    return figures


def catalogue(models_dir: Path = MODELS_DIR) -> list[dict]:
    """Describe every saved version: its card's headline figures, or why the card is unreadable."""
    entries = []
    for version in versions(models_dir):
        directory = Path(models_dir) / version
        try:
            card = artifact.read_card(directory)
        except artifact.ArtifactError as error:
            entries.append({"version": version, "error": str(error)})
            continue
        entries.append(
            {
                "version": version,
                "created_at": card.get("created_at"),
                "sha256": card["artifact"]["sha256"][:12],
                "figures": headline(card),
                "report": (directory / REPORT_FILE).is_file(),
            }
        )
    return entries


class Pointer:
    """models/DEFAULT as a server follows it: `poll()` says when it names another version.

    A poll costs one stat() of the pointer; the file is read only when its modification time,
    size or inode changed (set_default renames a new file over it, so each write is a new inode).
    """

    def __init__(self, models_dir: Path = MODELS_DIR):
        self.models_dir = Path(models_dir)
        self._stamp = self._stat()
        self.version = default_version(self.models_dir)

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            status = (self.models_dir / DEFAULT_FILE).stat()
        except FileNotFoundError:
            return None
        return (status.st_mtime_ns, status.st_size, status.st_ino)

    def poll(self) -> str | None:
        """Return the version DEFAULT names if that changed since the last poll, else None."""
        stamp = self._stat()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            version = default_version(self.models_dir)
        except RegistryError:
            return None  # removed or garbled: keep serving what is served
        if version == self.version:
            return None
        self.version = version
        return version
