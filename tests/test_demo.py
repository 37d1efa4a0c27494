"""The README's first command: ``python recipes/demo.py`` runs the whole recipe offline and reports results that
agree with what it trained; running it again reuses its work."""

import json
import re

from tests.conftest import run_recipe
from tests.test_stage1 import logged_epochs

RESULT_LINE = re.compile(r"stage 2 \(exported model\)\s+UA\s+([\d.]+)\s+WA\s+([\d.]+)\s+on (\d+) files")
AGREEMENT_LINE = re.compile(r"predicts what the training run predicted on (\d+) of (\d+) files")


def test_demo_trains_exports_and_classifies_the_test_session_and_a_rerun_reuses_its_work(tmp_path):
    output = tmp_path / "demo"
    command = ["recipes/demo.py", "--output_folder", output, "--test_session", "4"]
    first = run_recipe(*command, "--stage1_epochs", "2", "--stage2_epochs", "1").stdout

    for step in ("python train_stage1.py", "python train_stage2.py", "python recipes/export.py"):
        assert step in first, f"the demo shows the command of each step ({step})"
    for folder in ("IEMOCAP_full_release/Session5", "tiny_wav2vec2", "stage1/save", "stage2/save", "exported_model"):
        assert (output / folder).is_dir(), folder
    assert not (output / "IEMOCAP_full_release.partial").exists()

    # The printed WA / UA of the exported model are those of its predictions against the test manifest.
    ua, wa, count = RESULT_LINE.search(first).groups()
    with open(output / "stage2" / "manifests" / "test.json", encoding="utf-8") as handle:
        manifest = json.load(handle)
    assert int(count) == len(manifest) > 0
    assert {entry["session"] for entry in manifest.values()} == {4}
    assert 0.0 <= float(ua) <= 100.0 and 0.0 <= float(wa) <= 100.0
    agreeing, total = AGREEMENT_LINE.search(first).groups()
    assert agreeing == total == count, "the exported model predicts what training predicted"
    with open(output / "stage2" / "test_metrics.json", encoding="utf-8") as handle:
        training_metrics = json.load(handle)
    assert float(ua) == round(training_metrics["UA"], 1) and float(wa) == round(training_metrics["WA"], 1)

    # Again with one more stage-2 epoch: corpus and backbone reused, stage 1 not retrained, stage 2 resumed.
    second = run_recipe(*command, "--stage1_epochs", "2", "--stage2_epochs", "2").stdout
    assert "Reusing the corpus" in second
    assert logged_epochs(output / "stage1") == [1, 2]
    assert logged_epochs(output / "stage2") == [1, 2]
    assert RESULT_LINE.search(second)


def test_demo_refuses_an_output_folder_that_is_a_file(tmp_path):
    target = tmp_path / "taken"
    target.write_text("not a folder", encoding="utf-8")
    try:
        run_recipe("recipes/demo.py", "--output_folder", target)
    except AssertionError as failure:
        assert "is a file" in str(failure)
    else:
        raise AssertionError("the demo accepted a file as its output folder")
    assert target.read_text(encoding="utf-8") == "not a folder"
