"""Fuzzing every operation of /openapi.json with schemathesis, in-process through WSGI.

Each case is checked by all of schemathesis' checks: no 5xx, status codes, content types and
bodies as documented, valid data accepted, invalid data refused. Examples are derandomized, so
CI sees the same ones on every run; over 2,000 of them run in total.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

POSITIVE = GenerationMode.POSITIVE
NEGATIVE = GenerationMode.NEGATIVE
# The scoring endpoints get most of the examples: their bodies are where input varies.
# Generating invalid batches costs schemathesis the most time, valid single postings the least.
SCORING_BUDGET = [
    ("/v1/score", POSITIVE, 1000),
    ("/v1/score", NEGATIVE, 350),
    ("/v1/score/batch", POSITIVE, 550),
    ("/v1/score/batch", NEGATIVE, 100),
]
# Every other documented operation, whichever the app has: few parameters, few examples.
OTHER_EXAMPLES = 10
SETTINGS = settings(
    derandomize=True, database=None, deadline=None, suppress_health_check=list(HealthCheck)
)


@pytest.fixture(scope="module")
def api_schema(tiny_model_dir, tmp_path_factory):
    """Load the OpenAPI document from the app with every extension, keys optional."""
    from api import create_app, keys, observability, quotas

    database = tmp_path_factory.mktemp("fuzz") / "exposure.sqlite3"
    app = create_app(
        {
            "TESTING": True,
            "MODEL_DIR": str(tiny_model_dir),
            "DATABASE_URL": f"sqlite:///{database}",
            "DEFAULT_QUOTA": "1000000/minute",
        }
    )
    observability.init_app(app)
    keys.init_app(app)
    quotas.init_app(app)
    return schemathesis.openapi.from_wsgi("/openapi.json", app)


def run(operation, mode: GenerationMode, examples: int) -> int:
    """Call and validate `examples` generated cases of an operation; return how many ran."""
    calls = []

    @settings(SETTINGS, max_examples=examples)
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        calls.append(case)
        case.call_and_validate()

    check()
    return len(calls)


def test_budget_is_over_2000_examples():
    assert sum(examples for *_, examples in SCORING_BUDGET) >= 2000


@pytest.mark.slow
@pytest.mark.parametrize(
    ("path", "mode", "examples"),
    [pytest.param(*row, id=f"{row[0]}-{row[1]}") for row in SCORING_BUDGET],
)
def test_scoring_conforms_to_its_documentation(api_schema, path, mode, examples):
    assert run(api_schema[path]["POST"], mode, examples) >= examples


@pytest.mark.slow
# schemathesis' WSGI transport leaves file responses (Swagger UI's assets) open; they are
# closed when collected, which pytest reports as an unraisable ResourceWarning.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_every_other_operation_conforms_to_its_documentation(api_schema):
    scoring = {path for path, *_ in SCORING_BUDGET}
    operations = [
        (method, path)
        for path, methods in api_schema.raw_schema["paths"].items()
        for method in methods
        if path not in scoring
    ]
    assert {("get", "/v1/model"), ("get", "/metrics"), ("get", "/healthz")} <= set(operations)
    for method, path in operations:
        assert run(api_schema[path][method.upper()], POSITIVE, OTHER_EXAMPLES) >= 1
