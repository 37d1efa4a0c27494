"""What finished runs say: ``fold_summary.py`` and ``fold_plots.py`` (an experiment over its folds and seeds),
``paper_comparison.py`` (every experiment beside the paper), ``experiment_comparison.py`` (two experiments,
paired) and ``significance.py`` (the intervals and tests they use). Nothing here trains.
"""
