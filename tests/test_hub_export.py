"""An exported folder as it reaches users through the Hugging Face Hub.

It loads with SpeechBrain's own ``foreign_class`` and ``from_hparams`` from a model-repository id (first and
second use, with and without ``savedir``) and from a local folder, in fresh processes where nothing of this
repository is importable and a user's own ``custom_modules`` / ``custom_interface`` are imported first; the hub
is a real Hugging Face cache (``synthetic/hub_cache.py``) built only from the files the export wrote, offline. Its
model card carries the Hub's front matter and what SpeechBrain's cards say; the upload command stops at
huggingface_hub's HTTP layer in tests; folding LoRA at export leaves the predictions as they were.
"""

import json
import os
import shutil
import socket
import sys
from pathlib import Path

import pytest
import torch
import yaml
from huggingface_hub import ModelCard

from custom_modules.constants import EMOTIONS
from recipes import upload
from recipes.hub import model_folder, upload_plans
from recipes.hub.model_card import REPO_PLACEHOLDER
from synthetic import hub_cache
from tests.conftest import STAGE2_REPO_ID, STAGES, WITHOUT_THE_RECIPE, run_command

# The card and the metrics are for people; SpeechBrain never fetches them.
NOT_FETCHED = ("README.md", "test_metrics.json")
STAGE1_REPO_ID = "test-user/ser-single-stage-fold2"

# Runs in a fresh interpreter, cwd a temporary folder, HF_HOME a temporary Hugging Face cache, HF_HUB_OFFLINE=1,
# sockets refusing to connect. The recipe's packages cannot be imported (the environment's editable install would
# find them); a user's own packages named custom_modules and custom_interface may be imported first.
HUB_SCRIPT = (
    r"""
import json
import os
import socket
import sys
import traceback

request_file, report_file = sys.argv[1:]
with open(request_file, encoding="utf-8") as handle:
    request = json.load(handle)

decoys = {}
if request["decoy_dir"]:
    # A user's project with its own custom_modules package and custom_interface module, imported first.
    sys.path.insert(0, request["decoy_dir"])
    import custom_interface
    import custom_modules

    decoys = {"custom_modules": custom_modules, "custom_interface": custom_interface}

"""
    + WITHOUT_THE_RECIPE
    + r"""


def no_network(*args, **kwargs):
    raise OSError("network access attempted in an offline test")


socket.socket.connect = socket.create_connection = no_network

from speechbrain.inference.interfaces import foreign_class
from speechbrain.utils.fetching import fetch
from speechbrain.utils.superpowers import import_from_path

report = {"cwd": os.getcwd(), "loads": []}
for load in request["loads"]:
    result = {"load": load}
    try:
        if load["way"] == "foreign_class":
            model = foreign_class(
                source=load["source"],
                pymodule_file="custom_interface.py",
                classname="EmotionRecognizer",
                savedir=load["savedir"],
            )
        else:  # the model card's from_hparams snippet
            interface = import_from_path(fetch("custom_interface.py", source=load["source"], savedir=load["savedir"]))
            model = interface.EmotionRecognizer.from_hparams(source=load["source"], savedir=load["savedir"])
        result["out_prob"] = [model.classify_file(path)[0][0].tolist() for path in request["files"]]
        result["modules"] = [type(model).__module__, type(model.mods.encoder).__module__]
        result["ok"] = True
    except Exception as error:
        result.update(ok=False, error=f"{type(error).__name__}: {error}", traceback=traceback.format_exc()[-3000:])
    report["loads"].append(result)
report["decoys_untouched"] = {name: sys.modules.get(name) is module for name, module in decoys.items()}
report["decoy_marks"] = {name: getattr(module, "MARK", None) for name, module in decoys.items()}
with open(report_file, "w", encoding="utf-8") as handle:
    json.dump(report, handle)
"""
)


def load(way, source, savedir=None):
    return {"way": way, "source": source, "savedir": savedir}


def run_scenario(tmp_path, name, hf_home, loads, files, decoy_dir=None):
    """The loads in one fresh interpreter (``HUB_SCRIPT``); returns its report."""
    cwd = tmp_path / f"cwd_{name}"
    cwd.mkdir()
    script, request, report = tmp_path / "load.py", tmp_path / f"{name}.json", tmp_path / f"{name}_report.json"
    script.write_text(HUB_SCRIPT, encoding="utf-8")
    request.write_text(json.dumps({"loads": loads, "files": files, "decoy_dir": decoy_dir}), encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "HF_TOKEN")}
    env.update(HF_HOME=str(hf_home), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HOME=str(tmp_path))
    done = run_command(script, request, report, cwd=cwd, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(report.read_text(encoding="utf-8"))


@pytest.fixture
def decoy_dir(tmp_path):
    """A user's own ``custom_modules`` package and ``custom_interface`` module, unrelated to the model."""
    root = tmp_path / "decoys"
    (root / "custom_modules").mkdir(parents=True)
    (root / "custom_modules" / "__init__.py").write_text("MARK = 'decoy'\n", encoding="utf-8")
    (root / "custom_interface.py").write_text("MARK = 'decoy'\nEmotionRecognizer = None\n", encoding="utf-8")
    return str(root)


def expected_out_prob(recognizer, files):
    return [recognizer.classify_file(path)[0][0].tolist() for path in files]


def assert_loaded(result, expected):
    assert result["ok"], result.get("traceback")
    assert torch.allclose(torch.tensor(result["out_prob"]), torch.tensor(expected), rtol=0, atol=1e-6), result["load"]
    interface_module, encoder_module = result["modules"]
    package = interface_module.split(".")[0]
    assert package.startswith("ser_model_") and interface_module == f"{package}.interface"
    assert encoder_module == f"{package}.encoder", "the yaml's classes come from the model's own code"


def savedir_files(cwd, savedir):
    folder = Path(cwd, savedir)
    return {path.name: os.readlink(path) for path in folder.iterdir() if path.is_symlink()}


# ---- loading from a hub id ------------------------------------------------------------------------------


def test_exports_load_from_a_hub_id_through_the_real_cache_layout_first_and_second_use_with_and_without_savedir(
    exported, recognizers, held_out_files, tmp_path, decoy_dir
):
    """Stage 2 from a cache holding only what SpeechBrain fetches (the export's files minus the card and the
    metrics), stage 1 from a cache of the whole folder; every way a user loads, in two fresh processes (the
    second starts with a savedir and has a user's own custom_modules imported first); the cache is left as
    huggingface_hub's readers expect and nothing is added to it."""
    files = held_out_files[:2]
    hf_home = tmp_path / "hf"
    needed = [name for name in hub_cache.folder_files(exported["stage2"]) if name not in NOT_FETCHED]
    snapshots = {
        STAGE2_REPO_ID: hub_cache.write_hub_cache(exported["stage2"], STAGE2_REPO_ID, hf_home / "hub", files=needed),
        STAGE1_REPO_ID: hub_cache.write_hub_cache(exported["stage1"], STAGE1_REPO_ID, hf_home / "hub"),
    }
    expected = {stage: expected_out_prob(recognizers[stage], files) for stage in STAGES}

    first = run_scenario(
        tmp_path,
        "first",
        hf_home,
        [
            load("foreign_class", STAGE2_REPO_ID),  # first use, no savedir
            load("foreign_class", STAGE2_REPO_ID),  # second use
            load("foreign_class", STAGE2_REPO_ID, "pretrained_models/fc"),  # first use with a savedir
            load("foreign_class", STAGE2_REPO_ID, "pretrained_models/fc"),  # second use: the savedir only
            load("from_hparams", STAGE2_REPO_ID),
            load("from_hparams", STAGE2_REPO_ID, "pretrained_models/fh"),
            load("from_hparams", STAGE2_REPO_ID, "pretrained_models/fh"),
            load("foreign_class", STAGE1_REPO_ID, "pretrained_models/stage1"),  # whole repository cached
            load("from_hparams", STAGE1_REPO_ID),
        ],
        files,
    )
    for result in first["loads"]:
        stage = "stage2" if result["load"]["source"] == STAGE2_REPO_ID else "stage1"
        assert_loaded(result, expected[stage])
    for savedir, repo in (("fc", STAGE2_REPO_ID), ("fh", STAGE2_REPO_ID), ("stage1", STAGE1_REPO_ID)):
        links = savedir_files(first["cwd"], f"pretrained_models/{savedir}")
        assert "custom_interface.py" in links and "hyperparams.yaml" in links and "encoder.ckpt" in links
        # SpeechBrain links the savedir to the snapshot's files, which link to the blobs.
        assert all(target == str(snapshots[repo] / name) for name, target in links.items()), links

    second = run_scenario(
        tmp_path,
        "second",
        hf_home,
        [
            load("from_hparams", STAGE2_REPO_ID, "pretrained_models/fresh"),  # first use in this process
            load("foreign_class", STAGE1_REPO_ID),
            load("foreign_class", exported["stage2"]),  # a local folder
            load("from_hparams", exported["stage2"], str(tmp_path / "local_savedir")),
        ],
        files,
        decoy_dir=decoy_dir,
    )
    for result, stage in zip(second["loads"], ("stage2", "stage1", "stage2", "stage2")):
        assert_loaded(result, expected[stage])
    assert second["decoys_untouched"] == {"custom_modules": True, "custom_interface": True}
    assert second["decoy_marks"] == {"custom_modules": "decoy", "custom_interface": "decoy"}

    # The cache is still what huggingface_hub wrote (or would have): nothing fetched beyond what was there.
    for repo, cached in ((STAGE2_REPO_ID, needed), (STAGE1_REPO_ID, hub_cache.folder_files(exported["stage1"]))):
        report = hub_cache.check_hub_cache(hf_home / "hub", repo, cached)
        assert report["scan_warnings"] == [] and report["refs"] == ["main"]
        assert report["cached_files"] == sorted(cached)
        for name in cached:
            assert report["hf_hub_download"][name] == report["try_to_load_from_cache"][name]
            assert report["hf_hub_download"][name] == str(snapshots[repo] / name)
            assert os.readlink(snapshots[repo] / name).startswith("../../blobs/")


def test_hub_cache_writer_names_blobs_as_the_hub_does(exported, tmp_path):
    """LFS files (``*.ckpt``, ``*.onnx``) are stored under their sha256, others under their git blob sha1;
    ``refs/main`` holds the commit without a newline (huggingface_hub reads it verbatim)."""
    import hashlib

    snapshot = hub_cache.write_hub_cache(exported["stage2"], STAGE2_REPO_ID, tmp_path / "hub")
    for name in hub_cache.folder_files(exported["stage2"]):
        data = Path(exported["stage2"], name).read_bytes()
        if name.endswith((".ckpt", ".onnx")):
            blob = hashlib.sha256(data).hexdigest()
        else:
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        assert os.readlink(snapshot / name) == f"../../blobs/{blob}"
    refs_main = snapshot.parents[1] / "refs" / "main"
    assert refs_main.read_text() == snapshot.name and len(snapshot.name) == 40


# ---- the model card -------------------------------------------------------------------------------------


def test_model_card_has_the_hub_front_matter_and_what_speechbrains_cards_say(exported):
    for stage, repo in (("stage1", None), ("stage2", STAGE2_REPO_ID)):
        path = Path(exported[stage], "README.md")
        text = path.read_text(encoding="utf-8")
        assert text.startswith("---\n")
        front = yaml.safe_load(text.split("---\n")[1])
        metrics = json.loads(Path(exported[stage], "test_metrics.json").read_text(encoding="utf-8"))
        assert front["library_name"] == "speechbrain" and front["pipeline_tag"] == "audio-classification"
        assert front["language"] == "en" and front["license"] == "apache-2.0"
        assert {"speechbrain", "emotion-recognition"} <= set(front["tags"])
        # Trained on the generated corpus (preparation: not the full release): the card must not say IEMOCAP.
        assert metrics["corpus"]["matches_full_release"] is False
        assert "datasets" not in front and "iemocap" not in front["tags"]
        assert "on a corpus in IEMOCAP's format that is not the full release" in text and "on IEMOCAP," not in text
        assert "IEMOCAP session" not in text, "no title or model-index name claims IEMOCAP"
        assert "accuracy" in front["metrics"]
        (result,) = front["model-index"][0]["results"]
        assert result["task"]["type"] == "audio-classification"
        assert result["dataset"]["split"] == f"session{metrics['test_session']}"
        values = {metric["name"].split()[0]: metric["value"] for metric in result["metrics"]}
        assert values == {"WA": round(metrics["WA"], 2), "UA": round(metrics["UA"], 2)}
        # huggingface_hub reads the card as the Hub does.
        card = ModelCard.load(path)
        assert card.data.library_name == "speechbrain"
        assert {r.metric_name.split()[0]: r.metric_value for r in card.data.eval_results} == values
        if repo:
            assert front["model-index"][0]["name"] == repo

        for section in ("## Labels", "## Results", "## Training", "## How to use", "## Limitations", "## Citation"):
            assert section in text, (stage, section)
        for label in EMOTIONS:
            assert f"| `{label}` |" in text
        assert f"| {metrics['UA']:.2f} |" in text and f"| {metrics['WA']:.2f} |" in text
        assert f"session {metrics['test_session']} held out" in text
        assert "@inproceedings{gao2024enhancing" in text and "@misc{speechbrain" in text
        assert "**probabilities**" in text and "log_probs=True" in text
        assert "not SpeechBrain's emotion-diarization model" in text
        source = repo or REPO_PLACEHOLDER
        assert f'source="{source}"' in text, "the foreign_class snippet loads this repository"
        assert f'import_from_path(fetch("custom_interface.py", source="{source}"' in text
        assert f'interface.EmotionRecognizer.from_hparams(source="{source}"' in text
    stage2_card = Path(exported["stage2"], "README.md").read_text(encoding="utf-8")
    assert "LoRA (rank" in stage2_card and "folded into the q/k/v weights" in stage2_card
    assert "gender UA" in stage2_card and "style UA" in stage2_card
    assert "WER" in Path(exported["stage1"], "README.md").read_text(encoding="utf-8")


# ---- upload -----------------------------------------------------------------------------------------------


@pytest.fixture
def export_copy(exported, tmp_path):
    """The stage-2 export with the bytecode a local load leaves in it."""
    folder = tmp_path / "export"
    shutil.copytree(exported["stage2"], folder, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "custom_interface.cpython-311.pyc").write_bytes(b"\0bytecode")
    return folder


def test_upload_dry_run_plans_the_exported_files_without_bytecode(export_copy, capsys, monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("the dry run reached the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    assert upload.main(["--model", str(export_copy), "--repo_id", STAGE2_REPO_ID, "--dry_run"]) == 0
    printed = capsys.readouterr().out
    plan = upload_plans.upload_plan(str(export_copy), STAGE2_REPO_ID)
    assert plan["files"] == hub_cache.folder_files(export_copy) and "__pycache__" not in printed
    for name in plan["files"]:
        assert f"  {name}  (" in printed
    assert f"model repository {STAGE2_REPO_ID}" in printed and "public" in printed
    assert plan["bytes"] == sum((export_copy / name).stat().st_size for name in plan["files"])


def test_upload_refuses_a_card_made_for_another_repository_and_a_folder_that_is_no_export(
    export_copy, exported, tmp_path, capsys
):
    assert upload.main(["--model", str(export_copy), "--repo_id", "someone/else", "--dry_run"]) == 2
    assert "export again with --repo_id someone/else" in capsys.readouterr().err
    assert upload.main(["--model", exported["stage1"], "--repo_id", STAGE1_REPO_ID, "--dry_run"]) == 2
    assert "a placeholder" in capsys.readouterr().err
    assert upload.main(["--model", str(tmp_path), "--repo_id", STAGE2_REPO_ID, "--dry_run"]) == 2
    assert "not an exported model folder" in capsys.readouterr().err


def test_upload_goes_through_huggingface_hub_up_to_its_http_layer(export_copy, tmp_path):
    """Without --dry_run the real calls run; huggingface_hub's own offline switch stops the first request at its
    HTTP layer (the only thing kept from the network), and the command says so without a traceback."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf"), "HF_TOKEN": "hf_test_never_sent"}
    done = run_command("recipes/upload.py", "--model", export_copy, "--repo_id", STAGE2_REPO_ID, env=env)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "upload.py: error: the upload to" in done.stderr and "Traceback" not in done.stderr
    assert "https://huggingface.co/api/repos/create" in done.stderr and "offline mode" in done.stderr


# ---- LoRA folded at export ------------------------------------------------------------------------------


def test_folded_lora_export_predicts_the_unfolded_models_log_probabilities_on_the_test_set(
    exported, recognizers, stage2_run, tmp_path
):
    unfolded_folder = model_folder.export_model(stage2_run, str(tmp_path / "unfolded"), fold_lora=False)
    folded_yaml = Path(exported["stage2"], "hyperparams.yaml").read_text(encoding="utf-8")
    assert "lora_folded: true" in folded_yaml
    assert "lora_folded: false" in Path(unfolded_folder, "hyperparams.yaml").read_text(encoding="utf-8")
    folded_state = torch.load(Path(exported["stage2"], "encoder.ckpt"), weights_only=True)
    unfolded_state = torch.load(Path(unfolded_folder, "encoder.ckpt"), weights_only=True)
    assert not any("attention" in key and ("adapter_" in key or "pretrained_module" in key) for key in folded_state)
    assert any("output_dense.adapter_up_proj" in key for key in folded_state), "the bottleneck adapters stay"
    q_key = next(key for key in folded_state if key.endswith("attention.q_proj.weight"))
    pretrained_q = unfolded_state[q_key.replace("q_proj.weight", "q_proj.pretrained_module.weight")]
    assert (folded_state[q_key] - pretrained_q).abs().max() > 1e-3, "the trained LoRA update is in the weight"

    from speechbrain.inference.interfaces import foreign_class

    saved_path = list(sys.path)
    try:
        unfolded = foreign_class(
            source=unfolded_folder, pymodule_file="custom_interface.py", classname="EmotionRecognizer"
        )
    finally:
        sys.path[:] = saved_path
    assert sum(type(m).__name__ == "MergedWeightLoRA" for m in unfolded.mods.encoder.modules()) > 0
    assert not any(type(m).__name__ == "MergedWeightLoRA" for m in recognizers["stage2"].mods.encoder.modules())
    with open(os.path.join(stage2_run, "manifests", "test.json"), encoding="utf-8") as handle:
        test_set = [entry["wav"] for entry in json.load(handle).values()]
    largest = 0.0
    for path in test_set:
        folded_log_prob = recognizers["stage2"].classify_file(path, log_probs=True)[0]
        unfolded_log_prob = unfolded.classify_file(path, log_probs=True)[0]
        largest = max(largest, float((folded_log_prob - unfolded_log_prob).abs().max()))
    assert len(test_set) > 30 and largest <= 1e-4, f"max |log p folded - log p unfolded| = {largest}"


def test_model_card_names_iemocap_only_for_a_corpus_that_matches_the_full_release():
    from recipes.hub.model_card import front_matter, training_corpus

    full = {"corpus": {"utterances": 5531, "matches_full_release": True}, "test_session": 1, "WA": 70.0, "UA": 71.0}
    model = {"metrics": full, "backbone": {"model_type": "wav2vec2", "hub_id": None}, "encoder": {}, "title": "t"}
    front = yaml.safe_load(front_matter(model, None).split("---\n")[1])
    assert front["datasets"] == ["iemocap"] and "iemocap" in front["tags"] and training_corpus(full)["iemocap"]
    generated = {**full, "corpus": {"utterances": 193, "matches_full_release": False}}
    front = yaml.safe_load(front_matter({**model, "metrics": generated}, None).split("---\n")[1])
    assert "datasets" not in front and "iemocap" not in front["tags"]
    assert front["model-index"][0]["results"][0]["dataset"]["name"] == "IEMOCAP-format corpus, session 1 held out"
