#!/usr/bin/env python3
"""Is experiment A better than experiment B, or is the difference noise? A paired comparison of two finished
experiments of the same output folder, on the same folds and seeds.

    python recipes/run_folds.py --experiment table3_concat_scl_cos --seeds 1 2 3 ...
    python recipes/run_folds.py --experiment table3_no_fusion --seeds 1 2 3 ...
    python recipes/compare.py table3_concat_scl_cos table3_no_fusion --output_folder results/folds

It compares each experiment's final stage (stage 2 of a two-stage row, stage 1 of a single-stage row; ``--stage_a``
and ``--stage_b`` choose others) on every fold both experiments finished, so that a two-stage row is compared with
its own stage 1 by ``compare.py table3_concat_scl_cos table1_full_ser_asr``; two sides that are the very same
runs (a stage 1 shared by both rows) are refused. Each experiment's seeds are paired in order (the same seeds
when both ran the same ones; ``--seeds_a`` and ``--seeds_b`` choose them, e.g. two sets of seeds of one
experiment). It prints, and writes to
``<output_folder>/comparisons/<A>_vs_<B>.{md,json}``, the difference A - B in UA and WA with a 95% confidence
interval and p-values from (a) paired tests over the (fold, seed) runs and (b) a paired bootstrap over test
utterances (``recipes/reports/significance.py`` says how). The exit status is 0, or 2 when the experiments cannot be
compared (no common fold, other test utterances).

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import argparse
import sys

from recipes.folds.layout import STAGES
from recipes.reports.experiment_comparison import ComparisonError, compare, write_comparison
from recipes.reports.fold_summary import SummaryError


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="experiment A (a folder of --output_folder)")
    parser.add_argument("b", help="experiment B")
    parser.add_argument("--output_folder", default="results/folds", help="run_folds.py's (default: %(default)s)")
    parser.add_argument("--stage_a", choices=STAGES, help="A's stage (default: A's final stage)")
    parser.add_argument("--stage_b", choices=STAGES, help="B's stage (default: B's final stage)")
    parser.add_argument("--seeds_a", nargs="+", type=int, help="seeds of A to use (default: all)")
    parser.add_argument("--seeds_b", nargs="+", type=int, help="seeds of B to use (default: all)")
    parser.add_argument("--resamples", type=int, default=10000, help="bootstrap resamples (default: %(default)s)")
    parser.add_argument("--bootstrap_seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        result = compare(
            args.output_folder,
            args.a,
            args.b,
            args.stage_a,
            args.stage_b,
            args.seeds_a,
            args.seeds_b,
            args.resamples,
            args.bootstrap_seed,
        )
    except (ComparisonError, SummaryError) as error:
        print(f"compare.py: error: {error}", file=sys.stderr)
        return 2
    path = write_comparison(args.output_folder, result)
    with open(path, encoding="utf-8") as handle:
        print(handle.read())
    return 0


if __name__ == "__main__":
    sys.exit(main())
