"""A wrong corpus stops every entry point before anything expensive: the train scripts before their yaml builds the
backbone (a hub id that is nowhere, offline, would fail otherwise), run_folds.py before any fold starts."""

import os
import shlex
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Not in any cache: building it, offline, would end in transformers' OSError instead of the corpus message.
UNREACHABLE_BACKBONE = "no-such-user/no-such-backbone"


def run_entry_point(*args):
    """Runs a recipe command offline; returns ``(exit status, stdout + stderr)``."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=300)
    return done.returncode, done.stdout + done.stderr


@pytest.mark.parametrize("script", ["train_stage1.py", "train_stage2.py"])
def test_train_scripts_check_the_corpus_before_building_the_backbone(script, tmp_path):
    output = tmp_path / "run"
    stage = script[len("train_") : -len(".py")]
    args = [script, f"hparams/{stage}.yaml", "--data_folder", str(tmp_path / "nowhere"), "--output_folder", output]
    args += ["--wav2vec2_hub", UNREACHABLE_BACKBONE]
    if stage == "stage2":
        args += ["--stage1_folder", str(tmp_path / "no_stage1")]  # checked after the corpus
    status, log = run_entry_point(*map(str, args))
    assert status == 2
    assert f"{script}: error: --data_folder '{tmp_path / 'nowhere'}' does not exist" in log
    assert "Traceback" not in log and "OSError" not in log and "stage1_folder" not in log
    assert not output.exists(), "nothing is created before the corpus is checked"


def test_train_script_names_a_folder_that_is_not_the_corpus_and_a_wrong_test_session(generated_corpus, tmp_path):
    status, log = run_entry_point(
        "train_stage1.py", "hparams/stage1.yaml", "--data_folder", str(tmp_path), "--wav2vec2_hub",
        UNREACHABLE_BACKBONE, "--output_folder", str(tmp_path / "run"),
    )  # fmt: skip
    assert status == 2 and "is not IEMOCAP_full_release nor its parent: Session1/dialog/EmoEvaluation" in log
    status, log = run_entry_point(
        "train_stage1.py", "hparams/stage1.yaml", "--data_folder", generated_corpus[0], "--test_session", "6",
        "--wav2vec2_hub", UNREACHABLE_BACKBONE, "--output_folder", str(tmp_path / "run"),
    )  # fmt: skip
    assert status == 2 and "train_stage1.py: error: test_session must be one of 1, 2, 3, 4, 5 (got 6)" in log
    assert "OSError" not in log and not (tmp_path / "run").exists()


def test_run_folds_checks_the_corpus_once_before_any_fold(tmp_path):
    output = tmp_path / "results"
    status, log = run_entry_point(
        "recipes/run_folds.py", "--data_folder", str(tmp_path), "--output_folder", str(output),
        "--wav2vec2_hub", UNREACHABLE_BACKBONE,
    )  # fmt: skip
    assert status == 2
    assert f"'{tmp_path}' is not IEMOCAP_full_release nor its parent" in log
    assert log.count("is not IEMOCAP_full_release") == 1 and "fold 1" not in log
    assert not output.exists(), "no fold started"


@pytest.mark.parametrize(
    "script, args, message",
    [
        (
            "train_stage1.py",
            [],
            "train_stage1.py: error: --corpus iemocap needs --data_folder: the IEMOCAP folder as downloaded.",
        ),
        (
            "train_stage2.py",
            ["--data_folder", "/data"],
            "train_stage2.py: error: --stage1_folder is required (the output_folder of the stage-1 run of the same "
            "fold that stage 2 starts from)",
        ),
        (
            "train_stage1.py",
            ["--data_folder", "/data", "--numer_of_epochs", "1"],
            "train_stage1.py: error: unknown option --numer_of_epochs (did you mean --number_of_epochs?)",
        ),
        ("train_stage1.py", ["--data_folder", "/data", "--lr", "1", "--lr", "2"], "--lr is given twice (1 and 2)"),
    ],
)
def test_train_scripts_name_a_missing_unknown_or_repeated_option_without_a_traceback(script, args, message, tmp_path):
    stage = script[len("train_") : -len(".py")]
    output = tmp_path / "run"
    status, log = run_entry_point(script, f"hparams/{stage}.yaml", *args, "--output_folder", str(output))
    assert status == 2 and message in log, log
    assert "Traceback" not in log and len(log.strip().splitlines()) == 1
    assert not output.exists()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--lr", "abc"], "--lr abc: the backbone's learning rate must be a number > 0."),
        (["--lr", "-1"], "--lr -1: the backbone's learning rate must be a number > 0."),
        (["--batch_size", "0"], "--batch_size 0: utterances per training batch must be an integer >= 1."),
        (["--grad_accumulation_factor", "0"], "--grad_accumulation_factor 0: batches per optimizer step must be"),
        (["--aux_tasks", "[asr, gender"], 'quote a value with spaces or brackets, e.g. --aux_tasks "[asr, gender]"'),
        (["--finetune", "adapter"], "must be one of full, adapters, frozen. Did you mean adapters?"),
        (["--skip_bad_wavs"], "--skip_bad_wavs needs a value"),
        (["--dynamic_batch_sampler", "{max_batch_lenght: 200}"], "(did you mean --dynamic_batch_sampler.max_batch_"),
        (["--dynamic_batch_sampler", "{max_batch_length: 0}"], "--dynamic_batch_sampler.max_batch_length 0: seconds"),
        (["--fusion", "True"], "--fusion True concatenates the emotion latent with the auxiliary labels' latents"),
        (["--aux_tasks", "[asr, gender, style]", "--aux_weight", "0.4"], "leaves a negative weight for emotion"),
        (["--freeze_feature_encoder", "False", "--cache_cnn_features", "True"], "--cache_cnn_features True needs"),
        (["--devce", "cpu"], "unknown option --devce (did you mean --device?)"),
    ],
)
def test_settings_a_run_cannot_use_are_named_before_anything_is_built(args, message):
    import speechbrain as sb

    from custom_modules.settings import SettingsError, checked_settings

    hparams_file, run_opts, overrides = sb.parse_arguments(["hparams/stage1.yaml", "--data_folder", "/data", *args])
    with pytest.raises(SettingsError) as error:
        checked_settings(os.path.join(REPO, hparams_file), overrides, run_opts)
    assert message in str(error.value)


def test_settings_of_the_readme_and_the_experiments_pass_and_unknown_yaml_keys_stay_overridable(tmp_path):
    import speechbrain as sb

    from custom_modules.settings import checked_settings

    args = "--batch_size 8 --grad_accumulation_factor 2 --lr 1e-5 --head_lr 0.02 --device cuda:1 --precision bf16"
    args += ' --dynamic_batch_sampler "{max_batch_length: 200}" --finetune adapters --task_adapters True'
    hparams_file, run_opts, overrides = sb.parse_arguments(
        ["hparams/stage2.yaml", "--data_folder", "/data", "--stage1_folder", "s1", *shlex.split(args)]
    )
    settings = checked_settings(os.path.join(REPO, hparams_file), overrides, run_opts)
    assert settings["dynamic_batch_sampler"]["max_batch_length"] == 200 and settings["head_lr"] == 0.02
    # A key added to a yaml that the table does not know is an option like any other.
    yaml = tmp_path / "stage1.yaml"
    yaml.write_text((REPO / "hparams" / "stage1.yaml").read_text() + "label_smoothing: 0.0\n")
    assert checked_settings(str(yaml), "data_folder: /data\nlabel_smoothing: 0.1")["label_smoothing"] == 0.1


@pytest.mark.parametrize(
    "program, args",
    [
        ("export", ["--experiment_folder", "{tmp}/missing", "--output_folder", "{tmp}/out"]),
        ("upload", ["--model", "{tmp}", "--repo_id", "someone/model", "--dry_run"]),
        ("classify", ["--model", "{tmp}/no_model", "{tmp}/no.wav"]),
        ("timeline", ["--model", "{tmp}/no_model", "{tmp}/no.wav"]),
        ("compare", ["table3_concat", "table3_no_fusion", "--output_folder", "{tmp}"]),
        ("run_folds", ["--experiment", "no_such_row", "--data_folder", "{tmp}", "--output_folder", "{tmp}/folds"]),
        ("demo", ["--stage1_epochs", "0", "--output_folder", "{tmp}/demo"]),
        ("benchmark", ["--batch_size", "0"]),
        ("gpu_check", ["--device", "cpu", "--architecture", "tiny", "--seconds", "0"]),
    ],
)
def test_every_program_exits_2_on_an_input_error(program, args, tmp_path, capsys):
    import importlib

    main = importlib.import_module(f"recipes.{program}").main
    try:
        status = main([arg.format(tmp=tmp_path) for arg in args])
    except SystemExit as stop:  # argparse's errors
        status = stop.code
    err = capsys.readouterr().err
    # argparse's errors name the program by sys.argv[0] (pytest's here), the others by the script's name.
    assert status == 2 and "error: " in err and "Traceback" not in err, err


def test_an_auxiliary_task_the_corpus_does_not_label_is_named_with_the_closest(generated_corpus, tmp_path):
    output = tmp_path / "run"
    status, log = run_entry_point(
        "train_stage1.py", "hparams/stage1.yaml", "--data_folder", generated_corpus[0], "--aux_tasks", "[asr, gendr]",
        "--output_folder", str(output),
    )  # fmt: skip
    assert status == 2, log
    assert "--aux_tasks has gendr, which IEMOCAP does not label: its auxiliary labels are gender, style" in log
    assert "Did you mean gender?" in log and not output.exists()
