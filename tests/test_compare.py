"""recipes/compare.py, calibrated on the generated corpus: two sets of seeds of the same row are not called
different, a row and its copy trained on shuffled emotion labels are; and the command's outputs and errors."""

import json
import os
import shlex

import pytest
import yaml

from recipes.reports.experiment_comparison import ComparisonError, compare, comparison_markdown
from recipes.reports.fold_summary import load_experiments
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


def fake_experiment(root, name, stage_ua, seeds=(1, 2), folds=(1, 2), shared_stage1_of=None):
    """An experiment folder of finished runs without training: ``stage_ua`` maps a stage to the UA of every run
    (the share of its 8 test utterances predicted right, in %); a stage 1 shared with another experiment is a link
    to its folder, as run_folds.py makes it."""
    labels = ["neu", "hap", "ang", "sad"] * 2
    for seed in seeds:
        for fold in folds:
            run = root / name / f"seed{seed}" / f"fold{fold}"
            run.mkdir(parents=True)
            if shared_stage1_of:
                (run / "stage1").symlink_to(root / shared_stage1_of / f"seed{seed}" / f"fold{fold}" / "stage1")
            for stage, ua in stage_ua.items():
                right = round(len(labels) * ua[(seed + fold) % len(ua)] / 100)
                predictions = [
                    {
                        "id": f"Ses0{fold}F_impro01_F{index:03d}",
                        "emo": label,
                        "emo_pred": label if index < right else "neu",
                    }
                    for index, label in enumerate(labels)
                ]
                (run / stage).mkdir()
                (run / stage / "test_predictions.json").write_text(json.dumps(predictions))
                metrics = {"UA": ua[(seed + fold) % len(ua)], "WA": ua[(seed + fold) % len(ua)]}
                (run / stage / "test_metrics.json").write_text(json.dumps(metrics))


def test_each_experiments_final_stage_is_compared_and_the_same_runs_are_refused(tmp_path):
    fake_experiment(tmp_path, "two_stage", {"stage1": [50.0, 62.5], "stage2": [75.0, 100.0]})
    fake_experiment(tmp_path, "single_stage", {}, shared_stage1_of="two_stage")
    result = compare(str(tmp_path), "two_stage", "single_stage", resamples=200)
    assert (result["stage_a"], result["stage_b"]) == ("stage2", "stage1")
    assert result["runs"]["UA"]["difference"] == 31.25 and result["runs"]["UA"]["n"] == 4
    with pytest.raises(ComparisonError, match="two_stage stage1 and single_stage stage1 are the very same runs"):
        compare(str(tmp_path), "two_stage", "single_stage", stage_a="stage1", resamples=200)
    log = run_failing(
        "recipes/compare.py", "two_stage", "single_stage", "--stage_a", "stage1", "--output_folder", tmp_path
    )
    assert "compare.py: error: " in log and "fold 1 seed 1 (" in log and "Traceback" not in log


def test_an_interval_of_too_few_runs_is_not_printed_past_the_metrics_range(tmp_path):
    fake_experiment(tmp_path, "a", {"stage1": [12.5, 100.0]}, seeds=(1, 2), folds=(1,))
    fake_experiment(tmp_path, "b", {"stage1": [50.0, 50.0]}, seeds=(1, 2), folds=(1,))
    result = compare(str(tmp_path), "a", "b", resamples=200)
    assert result["runs"]["UA"]["too_few"] and result["runs"]["UA"]["low"] is None
    markdown = comparison_markdown(result)
    assert "95% CI (2 runs)" in markdown and "none: 2 runs are too few" in markdown
