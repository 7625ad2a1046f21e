"""Figure 2 of the FIA paper (KDD 2019) for unbiased ALS alone: ``bench_fia.validation`` with only
the unbiased model competing (lambda tuned on validation RMSE among unbiased models). The
validation-tuned model of ``bench_fia.py`` is biased; this topic shows how the agreement looks
for the model without biases that lessons 12-15 start from."""

from __future__ import annotations

from bench_fia import validation
from harness import Row

TOPIC = "fia_unbiased"
FULL_ONLY = True  # a long validation: run by `make bench-full` (benchmarks/run.py --full), not `make bench`
FIGURES = [f"{TOPIC}_r_vs_lambda.png"]


def run() -> list[Row]:
    return validation(classes=(False,), topic=TOPIC)
