"""The model card (``README.md``) of an exported model: Hugging Face front matter, then what SpeechBrain's own
cards say (what the model does, its labels, how it was trained, its results, how to load it, limitations,
citations).

The front matter is written by ``huggingface_hub.ModelCardData`` (``library_name: speechbrain``,
``pipeline_tag: audio-classification``, the dataset, metrics and a ``model-index`` with the fold's WA and UA),
so the Hub shows it as it shows SpeechBrain's cards. Nothing of the training machine appears: paths are
removed before the card is written (``recipes/export.py``), and a local backbone folder is named by its last
component only.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import speechbrain
from huggingface_hub import EvalResult, ModelCardData

from corpora.folds import corpus_title
from custom_modules.constants import EMOTION_NAMES, EMOTIONS, STYLES

TASK_NAMES = {"emo": "emotion", "asr": "CTC character ASR", "gender": "gender", "style": "speaking style"}
# Used in the card's code when the export is not given the repository it will be uploaded to.
REPO_PLACEHOLDER = "<hub-user>/<model-name>"
DEFAULT_LICENSE = "apache-2.0"

GAO_2024 = """@inproceedings{gao2024enhancing,
  title     = {Enhancing Two-Stage Finetuning for Speech Emotion Recognition Using Adapters},
  author    = {Gao, Yuan and Shi, Hao and Chu, Chenhui and Kawahara, Tatsuya},
  booktitle = {ICASSP 2024 - 2024 IEEE International Conference on Acoustics, Speech and Signal Processing (ICASSP)},
  pages     = {11316--11320},
  year      = {2024}
}"""
SPEECHBRAIN = """@misc{speechbrainV1,
  title         = {Open-Source Conversational AI with {SpeechBrain} 1.0},
  author        = {Mirco Ravanelli and Titouan Parcollet and Adel Moumen and Sylvain de Langen and Cem Subakan and
                   Peter Plantinga and others},
  year          = {2024},
  eprint        = {2407.00463},
  archivePrefix = {arXiv},
  primaryClass  = {cs.LG},
  url           = {https://arxiv.org/abs/2407.00463}
}
@misc{speechbrain,
  title         = {{SpeechBrain}: A General-Purpose Speech Toolkit},
  author        = {Mirco Ravanelli and Titouan Parcollet and Peter Plantinga and Aku Rouhe and Samuele Cornell and
                   Loren Lugosch and Cem Subakan and Nauman Dawalatabad and Abdelwahab Heba and Jianyuan Zhong and
                   Ju-Chieh Chou and Sung-Lin Yeh and Szu-Wei Fu and Chien-Feng Liao and Elena Rastorgueva and
                   François Grondin and William Aris and Hwidong Na and Yan Gao and Renato De Mori and Yoshua Bengio},
  year          = {2021},
  eprint        = {2106.04624},
  archivePrefix = {arXiv},
  primaryClass  = {eess.AS}
}"""


def training_corpus(metrics):
    """What the model was trained on, as preparation recorded it (``test_metrics.json``'s ``corpus``): IEMOCAP
    only when its 4-class counts match the full release; a generated or partial corpus must not be published as
    IEMOCAP.

    Arguments
    ---------
    metrics : dict
        The run's ``test_metrics.json`` (empty for an unfinished run).

    Returns
    -------
    dict
        ``iemocap`` (True, False, or None when not recorded), ``name`` (for the card's text) and ``dataset``
        (the Hub dataset id, or None).

    Example
    -------
    >>> training_corpus({"corpus": {"utterances": 5531, "matches_full_release": True}})["name"]
    'IEMOCAP'
    >>> training_corpus({"corpus": {"utterances": 193, "matches_full_release": False}})["name"]
    "a corpus in IEMOCAP's format that is not the full release (193 4-class utterances, not 5,531; ...)"
    """
    corpus = (metrics or {}).get("corpus") or {}
    matches = corpus.get("matches_full_release")
    if corpus.get("name", "iemocap") != "iemocap":
        title = corpus_title(corpus["name"])
        if matches:
            return {"iemocap": False, "name": title, "dataset": None}
        layout = "given as a manifest" if corpus["name"] == "manifest" else f"in {title}'s layout"
        return {
            "iemocap": False,
            "name": f"a corpus {layout} ({corpus.get('utterances', '?')} utterances)",
            "dataset": None,
        }
    if matches:
        return {"iemocap": True, "name": "IEMOCAP", "dataset": "iemocap"}
    if matches is None:
        name = "a corpus in IEMOCAP's format (whether it is the full release was not recorded: no test results)"
        return {"iemocap": None, "name": name, "dataset": None}
    name = (
        f"a corpus in IEMOCAP's format that is not the full release ({corpus.get('utterances', '?')} 4-class "
        "utterances, not 5,531; e.g. the recipe's generated corpus)"
    )
    return {"iemocap": False, "name": name, "dataset": None}


def _corpus_kind(metrics):
    """How the front matter names a corpus that is not IEMOCAP's full release."""
    name = ((metrics or {}).get("corpus") or {}).get("name", "iemocap")
    return "IEMOCAP-format corpus" if name == "iemocap" else corpus_title(name)


def front_matter(model, repo_id, license_id=DEFAULT_LICENSE):
    """The card's YAML front matter (between ``---`` lines), from ``huggingface_hub.ModelCardData``.

    Arguments
    ---------
    model : dict
        ``describe_run``'s description of the exported model.
    repo_id : str or None
        The Hub repository the card is for (the model-index's name).
    license_id : str

    Returns
    -------
    str
    """
    metrics = model["metrics"]
    corpus = training_corpus(metrics)
    results = []
    if metrics:
        session = metrics.get("test_session")
        fold = metrics.get("test_fold", session)
        held_out = (metrics.get("corpus") or {}).get("held_out") or f"session {session}"
        common = {
            "task_type": "audio-classification",
            "task_name": f"Speech emotion recognition ({len(metrics.get('labels', EMOTIONS))} classes)",
            "dataset_type": corpus["dataset"] or ("iemocap-format" if corpus["iemocap"] is not False else "custom"),
            "dataset_name": f"{'IEMOCAP' if corpus['iemocap'] else _corpus_kind(metrics)}, {held_out} held out",
            "dataset_split": f"session{session}" if session else f"fold{fold}",
        }
        results = [
            EvalResult(**common, metric_type="accuracy", metric_value=round(metrics["WA"], 2), metric_name="WA"),
            EvalResult(
                **common,
                metric_type="recall",
                metric_config="macro",
                metric_value=round(metrics["UA"], 2),
                metric_name="UA (unweighted accuracy, mean per-class recall)",
            ),
        ]
    tags = ["speechbrain", "audio-classification", "emotion-recognition", "speech-emotion-recognition"]
    tags += [model["backbone"]["model_type"], "adapters"] + ["iemocap"] * bool(corpus["iemocap"]) + ["pytorch"]
    if model["encoder"].get("finetune") == "adapters":
        tags.insert(-2, "lora")
    data = ModelCardData(
        language="en",
        license=license_id,
        library_name="speechbrain",
        pipeline_tag="audio-classification",
        tags=tags,
        datasets=[corpus["dataset"]] if corpus["dataset"] else None,
        metrics=["accuracy", "recall"],
        base_model=model["backbone"]["hub_id"],
        model_name=repo_id or model["title"],
        eval_results=results or None,
    )
    return f"---\n{data.to_yaml()}\n---\n"


def model_card(model, repo_id=None, license_id=DEFAULT_LICENSE):
    """The whole card (``README.md``) of an exported model.

    Arguments
    ---------
    model : dict
        ``describe_run``'s description (no machine paths in it).
    repo_id : str or None
        The Hub repository the card's code loads from (None: a placeholder).
    license_id : str

    Returns
    -------
    str
    """
    repo = repo_id or REPO_PLACEHOLDER
    savedir = "pretrained_models/" + repo.replace("/", "--").replace("<", "").replace(">", "")
    heads, metrics = model["heads"], model["metrics"]
    labels = model.get("labels") or {"emo": list(EMOTIONS)}
    auxiliary = [task for task in heads["aux_tasks"] if task != "asr"]
    has_gender_style = auxiliary == ["gender", "style"] and labels.get("style") == list(STYLES)
    has_asr = "asr" in heads["aux_tasks"]
    extras = []
    if has_gender_style:
        extras.append("the speaker's gender (F, M) and speaking style (improvised, scripted)")
    elif auxiliary:
        extras.append(" and ".join(f"{task} ({', '.join(labels.get(task, []))})" for task in auxiliary))
    if has_asr:
        extras.append(f"a {_units_name(model.get('ctc'))} transcript (CTC, greedy)")
    lines = [
        front_matter(model, repo_id, license_id),
        f"# {model['title']}",
        "",
        f"This model recognises **emotion in English speech** as one of {len(labels['emo'])} classes "
        f"({', '.join(EMOTION_NAMES.get(label, label) for label in labels['emo'])})"
        + (f", and also gives {' and '.join(extras)}" if extras else "")
        + f". It was trained with the SpeechBrain recipe of *Enhancing Two-stage Finetuning for Speech Emotion "
        f"Recognition Using Adapters* (Gao, Shi, Chu, Kawahara, ICASSP 2024) on {training_corpus(metrics)['name']}, "
        f"{model['summary']}",
        "",
        "Audio of any sample rate is resampled to 16 kHz and several channels are averaged to mono.",
        "",
        "## Labels",
        "",
        "| index | label | emotion |",
        "|---|---|---|",
    ]
    iemocap = (metrics.get("corpus") or {}).get("name", "iemocap") == "iemocap"
    for index, label in enumerate(labels["emo"]):
        merged = " (IEMOCAP's happy and excited, merged)" if label == "hap" and iemocap else ""
        lines.append(f"| {index} | `{label}` | {EMOTION_NAMES.get(label, label)}{merged} |")
    if has_gender_style:
        lines += [
            "",
            f"Gender: `{'`, `'.join(labels['gender'])}`. Speaking style: `{'`, `'.join(STYLES)}` (improvised, "
            "scripted dialogues).",
        ]
    elif auxiliary:
        lines += ["", " ".join(f"{task.capitalize()}: `{'`, `'.join(labels.get(task, []))}`." for task in auxiliary)]
    lines += ["", "## Results", ""]
    lines += _results(metrics)
    lines += ["", "## Training", ""]
    lines += _training(model)
    lines += ["", "## How to use", ""]
    lines += [
        f"Tested with SpeechBrain {speechbrain.__version__} (`pip install speechbrain=={speechbrain.__version__}`). "
        "SpeechBrain fetches `custom_interface.py`, `hyperparams.yaml` and the `.ckpt` files, from the Hub or a "
        "local folder; nothing else is needed.",
        "",
        "```python",
        "from speechbrain.inference.interfaces import foreign_class",
        "",
        "model = foreign_class(",
        f'    source="{repo}",',
        '    pymodule_file="custom_interface.py",',
        '    classname="EmotionRecognizer",',
        f'    savedir="{savedir}",  # optional: keep the files there',
        ")",
        'out_prob, score, index, text_lab = model.classify_file("speech.wav")',
        "print(text_lab[0], float(score[0]))  # e.g. ang 0.93",
        "```",
        "",
        "`out_prob` holds the four class **probabilities** (they sum to 1) and `score` the best one, as in "
        "SpeechBrain's `emotion-recognition-wav2vec2-IEMOCAP`: code written for that card (`if score > 0.5`) "
        "keeps its meaning. `classify_file(path, log_probs=True)` and `classify_batch(wavs, wav_lens, "
        'log_probs=True)` return log-probabilities instead. On a GPU add `run_opts={"device": "cuda"}`.',
        "",
        "Without `foreign_class`, run `custom_interface.py` first: `hyperparams.yaml` names classes that it provides.",
        "",
        "```python",
        "from speechbrain.utils.fetching import fetch",
        "from speechbrain.utils.superpowers import import_from_path",
        "",
        f'interface = import_from_path(fetch("custom_interface.py", source="{repo}", savedir="{savedir}"))',
        f'model = interface.EmotionRecognizer.from_hparams(source="{repo}", savedir="{savedir}")',
        "```",
        "",
        "`source` may also be a local copy of this folder. All predictions, and many files at once:",
        "",
        "```python",
        'model.predict_files(["a.wav", "b.flac"])',
        "# [{'file': 'a.wav', 'emotion': 'hap', 'emotion_probs': {'neu': 0.02, 'hap': 0.95, ...}, "
        + ", ".join(f"'{task}': '{labels.get(task, ['?'])[0]}', '{task}_probs': {{...}}" for task in auxiliary)
        + (", " if auxiliary and has_asr else "")
        + ("'transcript': '...'" if has_asr else "")
        + "}, ...]",
        "for result in model.iter_predictions(thousands_of_paths, batch_size=16, max_batch_seconds=60, progress=True):",
        "    ...  # in input order, as they come; files are read when their batch runs",
        'for window in model.emotion_timeline("meeting.wav", window_s=3.0, hop_s=1.0):',
        '    print(window["start_s"], window["emotion"], window["emotion_probs"])',
        "```",
        "",
        "`iter_predictions` batches files by duration under a cap on padded seconds and holds one batch of audio "
        "at a time; a file that cannot be used gets an `error` entry and the others go on. `emotion_timeline` "
        "classifies sliding windows of a recording of any length, reading only the windows of one batch at a "
        "time. It is the simple windowed form, not SpeechBrain's emotion-diarization model.",
        "",
        "`hyperparams.yaml` and `custom_interface.py` are code: load models only from sources you trust.",
    ]
    if model.get("onnx"):
        lines += ["", *onnx_section(model["onnx"])]
    lines += [
        "",
        "## Limitations",
        "",
        *_corpus_limitations(metrics, labels["emo"]),
        "- Emotion recognition from voice can be wrong and is sensitive to context: do not use it alone for "
        "decisions about people.",
        "",
        "## Citation",
        "",
        "```bibtex",
        GAO_2024,
        "```",
        "",
        "Please also cite SpeechBrain:",
        "",
        "```bibtex",
        SPEECHBRAIN,
        "```",
        "",
        "## About SpeechBrain",
        "",
        "- Website: https://speechbrain.github.io/",
        "- Code: https://github.com/speechbrain/speechbrain/",
        "- Hugging Face: https://huggingface.co/speechbrain/",
    ]
    return "\n".join(lines) + "\n"


# The card's ONNX example (tests run it where torch cannot be imported): onnxruntime, numpy and soundfile only.
ONNX_EXAMPLE = """import json

import numpy as np
import onnxruntime
import soundfile

session = onnxruntime.InferenceSession("{file}")
labels = json.loads(session.get_modelmeta().custom_metadata_map["{key}"])["labels"]
wav, rate = soundfile.read("speech.wav", dtype="float32")  # 16 kHz mono
(probs,) = session.run(["emotion_probs"], {{"waveforms": wav[np.newaxis], "lengths": np.array([len(wav)])}})
print(labels["emotion"][probs[0].argmax()], probs[0].max())"""


def onnx_section(onnx):
    """The card's section on the ONNX files: inputs, outputs and labels, and code that runs them without torch.

    Arguments
    ---------
    onnx : dict
        ``recipes.hub.onnx_export.add_onnx_files``'s record (``files``, ``description``).

    Returns
    -------
    list of str
    """
    from custom_modules.onnx_interface import METADATA_KEY

    description = onnx["description"]
    files = " and ".join(f"`{name}`" for name in onnx["files"])
    lines = [
        "## ONNX (without PyTorch)",
        "",
        f"{files} hold the whole inference graph, from waveforms to probabilities (the normalisation of each "
        "waveform and the padding masks are inside it; batch and time are dynamic), for ONNX Runtime alone"
        + (
            "; `model.int8.onnx` has the weights of its matrix products and convolutions (but the first, on the "
            "waveform) in 8 bits (smaller and "
            f"faster on CPUs, predictions close to the fp32 ones; form `{onnx.get('int8_form')}`: "
            + (
                "for CPUs with VNNI, most x86 CPUs since 2019)."
                if onnx.get("int8_form") == "int8"
                else "for AVX2 CPUs without VNNI)."
            )
            if len(onnx["files"]) > 1
            else "."
        ),
        "",
        "| | name | type and shape | |",
        "|---|---|---|---|",
        "| input | `waveforms` | float32 `[batch, samples]` | 16 kHz mono, zero-padded to the longest |",
        "| input | `lengths` | int64 `[batch]` | each waveform's own number of samples |",
        "| output | `embedding` | float32 `[batch, dim]` | the emotion classifier's input |",
    ]
    for name, labels in description["labels"].items():
        order = ", ".join(f"{index} `{label}`" for index, label in enumerate(labels))
        lines.append(f"| output | `{name}_probs` | float32 `[batch, {len(labels)}]` | probabilities: {order} |")
    if description["ctc"]:
        lines += [
            "| output | `ctc_log_probs` | float32 `[batch, frames, units]` | CTC log-probabilities per frame "
            f"(blank: unit {description['ctc']['blank_index']}) |",
            "| output | `ctc_frame_lengths` | int64 `[batch]` | each utterance's own frames |",
        ]
    lines += [
        "",
        f"The labels, the sample rate and the CTC units are in the file's metadata (`{METADATA_KEY}`). With "
        "`onnxruntime`, `numpy` and `soundfile` only:",
        "",
        "```python",
        ONNX_EXAMPLE.format(file=onnx["files"][0], key=METADATA_KEY),
        "```",
        "",
        "`onnx_interface.py` has the same methods as `EmotionRecognizer` (`classify_file`, `predict_files`, "
        "`iter_predictions`, `emotion_timeline`, ...) on ONNX Runtime, with any sample rate and channel count "
        "(resampled with SciPy), and needs none of torch, torchaudio, SpeechBrain or transformers:",
        "",
        "```python",
        "import importlib.util",
        "",
        'spec = importlib.util.spec_from_file_location("onnx_interface", "onnx_interface.py")',
        "onnx_interface = importlib.util.module_from_spec(spec)",
        "spec.loader.exec_module(onnx_interface)",
        'model = onnx_interface.OnnxEmotionRecognizer(".")  # precision="int8": model.int8.onnx',
        'model.predict_files(["a.wav", "b.flac"])',
        "```",
    ]
    return lines


def _corpus_limitations(metrics, emotions):
    """The card's limitations that depend on the training corpus: IEMOCAP's as the paper's setting has them, or
    those of another corpus's classes and fold."""
    classes = f"{len(emotions)} classes only ({', '.join(emotions)})"
    if ((metrics or {}).get("corpus") or {}).get("name", "iemocap") == "iemocap":
        return [
            "- IEMOCAP is acted and improvised dialogue by 10 North American English speakers recorded in a studio: "
            "expect lower accuracy on other languages, accents, spontaneous speech, noise or far-field audio.",
            "- Four classes only: other emotions (frustration, surprise, fear, ...) are mapped to the closest of "
            "the four, with no 'other' class. Probabilities are the model's, not calibrated confidences.",
            "- The figures above come from one held-out session (two speakers) of one fold; the paper reports the "
            "mean over five folds.",
        ]
    held_out = ((metrics or {}).get("corpus") or {}).get("held_out", "one fold")
    return [
        "- Trained on one corpus: expect lower accuracy on other speakers, languages, recording conditions, "
        "spontaneous speech or noise.",
        f"- {classes}: other emotions are mapped to the closest of them, with no 'other' class. Probabilities are "
        "the model's, not calibrated confidences.",
        f"- The figures above come from one held-out fold ({held_out}); the mean over every fold says more.",
    ]


def _results(metrics):
    if not metrics:
        return ["The run was exported before its test evaluation (`--allow_unfinished`): no test results."]
    session = metrics.get("test_session")
    corpus = training_corpus(metrics)
    if session:
        where = (
            f"{'IEMOCAP' if corpus['iemocap'] else 'The corpus'}'s session {session} held out (leave-one-session-out "
            f"fold {session}{'' if corpus['iemocap'] else ', ' + corpus['name']})"
        )
    else:
        record = metrics.get("corpus") or {}
        where = f"{corpus['name']}, fold {metrics.get('test_fold')} held out ({record.get('held_out')})"
    lines = [
        f"{where}, "
        f"{metrics.get('count', '?')} test utterances, checkpoint of best validation UA (epoch "
        f"{metrics.get('epoch', '?')}):",
        "",
        "| metric | value (%) |",
        "|---|---|",
        f"| UA (unweighted accuracy: mean per-class recall) | {metrics['UA']:.2f} |",
        f"| WA (weighted accuracy) | {metrics['WA']:.2f} |",
    ]
    for label, recall in metrics.get("per_class_recall", {}).items():
        lines.append(f"| recall `{label}` ({EMOTION_NAMES.get(label, label)}) | {recall:.2f} |")
    for task in sorted(k[: -len("_UA")] for k in metrics if k.endswith("_UA") and k != "UA"):
        if f"{task}_UA" in metrics:
            lines.append(f"| {task} UA | {metrics[f'{task}_UA']:.2f} |")
    if "WER" in metrics:
        lines.append(f"| WER of the transcript | {metrics['WER']:.2f} |")
    lines += [
        "",
        "`test_metrics.json` holds every figure of this evaluation (confusion matrices included). The paper's "
        "best system reaches UA 78.49 / WA 77.85 averaged over the five folds with XLS-R-300m.",
    ]
    return lines


def _units_name(ctc):
    """What a CTC head predicts, for the card: ``character`` (also for runs that did not record their units),
    or ``<n>-piece BPE`` (``ctc_units: bpe``).

    Example
    -------
    >>> _units_name(None), _units_name({"units": "bpe", "vocab_size": 100})
    ('character', '100-piece BPE')
    """
    if not ctc or ctc["units"] == "char":
        return "character"
    return f"{ctc['vocab_size']}-piece BPE"


def _training(model):
    backbone, encoder, heads, settings = model["backbone"], model["encoder"], model["heads"], model["settings"]
    lines = [
        f"- Backbone: {backbone['name']} ({backbone['model_type']}, {backbone['layers']} Transformer layers, "
        f"hidden size {backbone['hidden_size']}).",
    ]
    if model["stage1"]:
        stage1 = model["stage1"]
        tested = stage1["metrics"]
        lines.append(
            f"- Stage 1: all parameters but the CNN finetuned for emotion and CTC {_units_name(stage1.get('ctc'))} ASR "
            f"(0.9 L_emo + 0.1 L_asr){_run_settings(stage1['settings'])}"
            + (f"; test UA {tested['UA']:.2f}, WA {tested['WA']:.2f}" if tested else "")
            + "."
        )
    names = {**TASK_NAMES, "asr": f"CTC {_units_name(model.get('ctc'))} ASR"}
    tasks = ", ".join(names.get(task, task) for task in ["emo", *heads["aux_tasks"]])
    if encoder["finetune"] == "adapters":
        how = (
            f"{'stage 1 frozen; ' if model['stage1'] else 'backbone frozen; '}LoRA (rank {encoder['lora_rank']}, "
            f"alpha {encoder['lora_alpha']:g}) on the attention q/k/v of every layer"
            + (
                " (folded into the q/k/v weights in this export: same predictions, no extra cost)"
                if encoder.get("lora_folded")
                else ""
            )
            + f", a bottleneck adapter ({encoder['bottleneck_dim']} wide) after every feed-forward block"
        )
    else:
        how = {"full": "all parameters but the CNN finetuned", "frozen": "backbone frozen"}[encoder["finetune"]]
    if heads.get("task_adapters"):
        how += f", one bottleneck adapter per task after mean pooling ({heads['task_adapter_dim']} wide)"
    step = "Stage 2" if model["stage1"] else "Training"
    lines.append(
        f"- {step}: {how}; tasks {tasks}"
        + ("; the emotion classifier reads the three task latents (feature fusion)" if heads.get("fusion") else "")
        + (f"; self-contrastive loss SCL_{settings['scl']}" if settings.get("scl") not in (None, "none") else "")
        + f"{_run_settings(model['run'])}."
    )
    if settings.get("trainable_parameters"):
        lines.append(f"- Trainable parameters: {settings['trainable_parameters']:,}.")
    lines.append(
        "- Model selection: the checkpoint of best UA on a validation set of 10% of each class of the four "
        "training sessions (the test session is never seen)."
        if model["run"].get("valid_ratio") in (None, 0.1)
        else f"- Model selection: best UA on a validation share of {model['run']['valid_ratio']} of the training "
        "sessions."
    )
    lines.append(
        "- Recipe: `train_stage1.py hparams/stage1.yaml`"
        + (", then `train_stage2.py hparams/stage2.yaml`" if model["stage1"] else "")
        + ", exported with `recipes/export.py`."
    )
    return lines


def _run_settings(run):
    parts = [f"{run['number_of_epochs']} epochs"] if run.get("number_of_epochs") is not None else []
    parts += [
        f"{label} {run[key]}" for key, label in (("batch_size", "batch"), ("lr", "lr"), ("seed", "seed")) if key in run
    ]
    return f" ({', '.join(parts)})" if parts else ""
