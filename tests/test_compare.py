"""recipes/compare.py, calibrated on the generated corpus: two sets of seeds of the same row are not called
different, a row and its copy trained on shuffled emotion labels are; and the command's outputs and errors."""

import json
import os
import shlex

import pytest
import yaml

from recipes.compare import compare
from recipes.fold_summary import load_experiments
from tests.conftest import FAST_TRAINING, run_recipe
from tests.test_run_folds import RUN_FOLDS, load_json, run_failing

ROW = "table1_full_ser"  # single stage, emotion only: the quickest row to train
SHUFFLED = f"{ROW}_shuffled_labels"
FOLDS = ("1", "2")
SEEDS = ("1", "2", "3", "4")


@pytest.fixture(scope="module")
def calibration_runs(generated_corpus, tiny_backbone, tmp_path_factory):
    """``ROW`` with four seeds and its shuffled-label copy with two, on two folds: the output folder."""
    root = tmp_path_factory.mktemp("calibration")
    experiments = load_experiments()
    experiments[SHUFFLED] = {
        **experiments[ROW],
        "description": f"{ROW} trained on permuted emotion labels (a negative control).",
        "paper": None,
        "stage1": {**experiments[ROW]["stage1"], "shuffle_train_emotions": True},
    }
    experiments_file = root / "experiments.yaml"
    experiments_file.write_text(yaml.safe_dump(experiments, sort_keys=False), encoding="utf-8")
    output = str(root / "results")
    for name, seeds in ((ROW, SEEDS), (SHUFFLED, SEEDS[:2])):
        # fmt: off
        run_recipe(
            RUN_FOLDS, "--experiment", name, "--experiments_file", experiments_file,
            "--data_folder", generated_corpus[0], "--output_folder", output, "--wav2vec2_hub", tiny_backbone,
            "--folds", *FOLDS, "--seeds", *seeds, "--devices", "cpu", "cpu",
            "--extra_args", shlex.join([*FAST_TRAINING, "--number_of_epochs", "2"]),
        )
        # fmt: on
    return output


def test_two_sets_of_seeds_of_the_same_row_are_not_called_different(calibration_runs):
    result = compare(calibration_runs, ROW, ROW, seeds_a=[1, 2], seeds_b=[3, 4], resamples=2000)
    assert result["seeds_a"] == [1, 2] and result["seeds_b"] == [3, 4] and result["runs"]["UA"]["n"] == 4
    assert result["runs"]["UA"]["t_test_p"] > 0.05 and result["utterances"]["UA"]["p"] > 0.05, result
    assert result["runs"]["UA"]["low"] < 0 < result["runs"]["UA"]["high"]


def test_a_row_and_its_copy_trained_on_shuffled_labels_are_called_different(calibration_runs):
    result = compare(calibration_runs, ROW, SHUFFLED, resamples=2000)
    assert result["seeds_a"] == result["seeds_b"] == [1, 2], "the same seeds are paired"
    assert result["runs_left_out"] == [f"A fold {fold} seed {seed}" for fold in (1, 2) for seed in (3, 4)]
    assert result["runs"]["UA"]["difference"] > 0 and result["runs"]["UA"]["t_test_p"] < 0.05, result
    assert result["utterances"]["UA"]["p"] < 0.05 and result["utterances"]["UA"]["low"] > 0, result


def test_command_writes_the_comparison_and_refuses_an_experiment_without_runs(calibration_runs):
    done = run_recipe("recipes/compare.py", ROW, SHUFFLED, "--output_folder", calibration_runs, "--resamples", "500")
    path = os.path.join(calibration_runs, "comparisons", f"{ROW}_vs_{SHUFFLED}")
    written = load_json(path + ".json")
    markdown = open(path + ".md", encoding="utf-8").read()
    assert markdown in done.stdout and "| UA |" in markdown and "Method: Runs:" in markdown
    assert written["a"] == ROW and written["b"] == SHUFFLED and written["stage"] == "stage1"
    assert json.loads(json.dumps(written)) == written
    # the summary of the four-seed row gives an interval over its eight runs and pooled results per seed
    summary = load_json(calibration_runs, ROW, "summary.json")
    assert summary["seeds"] == [1, 2, 3, 4] and summary["runs"] == 8
    block = summary["stages"]["stage1"]
    assert block["ci95"]["UA"][0] < block["mean"]["UA"] < block["ci95"]["UA"][1]
    assert sorted(block["pooled_per_seed"]) == ["1", "2", "3", "4"]
    # nothing to pair with: a clear error, no comparison written
    log = run_failing("recipes/compare.py", ROW, "table3_no_fusion", "--output_folder", calibration_runs)
    assert "compare.py: error: " in log and "holds no run of table3_no_fusion" in log and "Traceback" not in log
    assert not os.path.exists(os.path.join(calibration_runs, "comparisons", f"{ROW}_vs_table3_no_fusion.md"))
