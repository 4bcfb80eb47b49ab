"""Make a trained version the default, if it is no worse than the current default.

python -m training.promote VERSION [--holdout FILE ...] [--tolerance T] [--force]

Both models score the same held-out data, which neither trained on: the realistic postings
(training/eval/postings.jsonl, against the human beta of their occupations) and any labelled
files given with --holdout (the format of training/userdata.py). The figures are shown side by
side; the promotion is refused when any of them is worse for the candidate by more than the
tolerance, unless --force is given. A promoted version is written to models/DEFAULT, which a
running server follows without a restart.
"""

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from models import artifact, registry
from models.scorer import Scorer
from training import data, evaluate, userdata

TOLERANCE = 0.02
# Every figure compared, with the direction in which it is better.
FIGURES = {
    "postings: Spearman per posting": "higher",
    "postings: Spearman per occupation": "higher",
    "postings: mean absolute error of beta": "lower",
    "holdout duties: accuracy": "higher",
    "holdout duties: macro-F1": "higher",
    "holdout duties: Cohen's kappa": "higher",
    "holdout postings: mean absolute error of beta": "lower",
    "holdout postings: Spearman of beta": "higher",
    "holdout postings: band accuracy": "higher",
}


class PromotionError(RuntimeError):
    """A promotion that cannot be judged: a version, model or data that cannot be used."""


@dataclass(frozen=True)
class HeldOut:
    """The data both models are scored on."""

    postings: list[dict]
    occupations: pd.DataFrame | None  # human occupation ratings; None without public data
    holdout: userdata.UserData | None


@dataclass(frozen=True)
class Row:
    """One figure of both models."""

    name: str
    default: float | None
    candidate: float | None
    tolerance: float

    @property
    def change(self) -> float | None:
        """Return candidate minus default, where both are known."""
        if self.default is None or self.candidate is None:
            return None
        return self.candidate - self.default

    @property
    def worse(self) -> bool:
        """Say whether the candidate is worse than the default by more than the tolerance."""
        if self.change is None:
            return False
        loss = -self.change if FIGURES[self.name] == "higher" else self.change
        return loss > self.tolerance + 1e-12


def figures(scorer: Scorer, held_out: HeldOut) -> dict[str, float | None]:
    """Score the held-out data with one model and return its figures by name."""
    found: dict[str, float | None] = {}
    if held_out.postings and held_out.occupations is not None:
        report = evaluate.postings_report(scorer, held_out.postings, held_out.occupations)
        found["postings: Spearman per posting"] = report["spearman_per_posting"]
        found["postings: Spearman per occupation"] = report["spearman_per_occupation"]
        found["postings: mean absolute error of beta"] = report["mean_absolute_error"]
    if held_out.holdout:
        report = userdata.metrics(userdata.predict(scorer, held_out.holdout))
        duties = report.get("duties", {})
        postings = report.get("postings", {})
        found["holdout duties: accuracy"] = duties.get("accuracy")
        found["holdout duties: macro-F1"] = duties.get("macro_f1")
        found["holdout duties: Cohen's kappa"] = duties.get("kappa")
        found["holdout postings: mean absolute error of beta"] = postings.get("beta", {}).get(
            "mean_absolute_error"
        )
        found["holdout postings: Spearman of beta"] = postings.get("beta", {}).get("spearman")
        found["holdout postings: band accuracy"] = postings.get("band", {}).get("accuracy")
    return {name: value for name, value in found.items() if name in FIGURES}


def compare(
    default: dict[str, float | None], candidate: dict[str, float | None], tolerance: float
) -> list[Row]:
    """Put two models' figures side by side."""
    names = [name for name in FIGURES if name in default or name in candidate]
    return [Row(n, default.get(n), candidate.get(n), tolerance) for n in names]


def table(rows: list[Row], default_version: str, candidate_version: str) -> str:
    """Format the comparison as a plain-text table."""
    header = (
        "figure",
        f"default {default_version}",
        f"candidate {candidate_version}",
        "change",
        "",
    )
    lines = [header]
    for row in rows:
        change = "" if row.change is None else f"{row.change:+.4f}"
        verdict = "WORSE" if row.worse else ("" if row.change is None else "ok")
        lines.append((row.name, _number(row.default), _number(row.candidate), change, verdict))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def occupation_ratings(root: Path) -> pd.DataFrame:
    """Return Eloundou et al.'s human occupation ratings, indexed by O*NET-SOC code."""
    path = root / data.OCCUPATION_LABELS
    if not path.is_file():
        raise data.DataError(f"missing data file {path}")
    ratings = pd.read_csv(path, dtype={"O*NET-SOC Code": str})
    return ratings.rename(columns={"O*NET-SOC Code": "soc_code"}).set_index("soc_code")


def load_held_out(
    data_dir: str | None, postings: str | None, holdout: list[str], candidate_card: dict
) -> HeldOut:
    """Read the held-out data, refusing a holdout file the candidate was trained on."""
    held = userdata.read(holdout) if holdout else None
    if held:
        trained_on = set(candidate_card.get("data", {}).get("user", {}).get("files", {}).values())
        for path, digest in held.files.items():
            if digest in trained_on:
                raise PromotionError(
                    f"{path} was used to train {candidate_card['version']}; hold out a file "
                    "that it did not see"
                )
    rows, occupations = [], None
    if postings:
        try:
            occupations = occupation_ratings(data.data_dir(data_dir))
        except data.DataError as error:
            if not held:
                raise PromotionError(
                    f"{error}; the realistic postings need the public occupation ratings "
                    "(or give --postings '' and --holdout FILE)"
                ) from error
        else:
            rows = evaluate.read_postings(Path(postings))
    if not rows and not held:
        raise PromotionError("no held-out data to compare on: give --postings or --holdout")
    return HeldOut(postings=rows, occupations=occupations, holdout=held)


def main(argv: list[str] | None = None) -> int:
    """Parse the command line, compare and promote."""
    parser = argparse.ArgumentParser(prog="python -m training.promote", description=__doc__)
    parser.add_argument("version", help="the trained version to make the default")
    parser.add_argument(
        "--models-dir", default=str(registry.MODELS_DIR), help="the registry (default: models/)"
    )
    parser.add_argument(
        "--data-dir",
        help=f"public data (default ${data.DATA_DIR_VARIABLE} or {data.DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--postings",
        default=str(evaluate.POSTINGS),
        help="realistic postings to compare on ('' to skip)",
    )
    parser.add_argument(
        "--holdout",
        action="append",
        default=[],
        metavar="FILE",
        help="labelled data neither model trained on (repeatable)",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE,
        help=f"largest loss allowed on any figure (default {TOLERANCE})",
    )
    parser.add_argument("--force", action="store_true", help="promote even if worse")
    args = parser.parse_args(argv)
    models_dir = Path(args.models_dir)
    try:
        version = registry.check_version(args.version)
        candidate = Scorer.load(models_dir / version)
        try:
            current = registry.default_version(models_dir)
        except registry.RegistryError:
            current = None
        if current == version:
            print(f"{version} is already the default")
            return 0
        try:
            default = Scorer.load(models_dir / current) if current else None
        except artifact.ArtifactError as error:
            if not args.force:
                print(f"refused: the default {current} cannot be loaded to compare: {error}")
                print("give --force to promote without comparing")
                return 1
            default = None
        if default is not None:
            held_out = load_held_out(args.data_dir, args.postings, args.holdout, candidate.card)
            rows = compare(figures(default, held_out), figures(candidate, held_out), args.tolerance)
            print(table(rows, current, version))
            worse = [row.name for row in rows if row.worse]
            if worse and not args.force:
                print(
                    f"refused: {version} is worse than {current} by more than {args.tolerance} "
                    f"on: {'; '.join(worse)}. Give --force to promote it anyway."
                )
                return 1
            if worse:
                print(f"forced: promoting {version} although it is worse on: {'; '.join(worse)}")
        registry.set_default(version, models_dir)
    except (
        artifact.ArtifactError,
        registry.RegistryError,
        userdata.UserDataError,
        PromotionError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"default model is now {version} (was {current or 'none'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
