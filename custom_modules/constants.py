"""The recipe's fixed facts, each defined once for preparation, training, inference and the tools: the label
sets, the CTC character set, units and blank, the sample rate and the split names.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

# The paper's 4 classes (hap and exc merged into hap by corpora/iemocap.py), in classifier index order.
EMOTIONS = ("neu", "hap", "ang", "sad")
# What the labels stand for (hap covers IEMOCAP's happy and excited).
# The three-letter codes every corpus reader uses (corpora/), so that same-named classes mean the same in
# cross-corpus evaluation (recipes/evaluate.py).
EMOTION_NAMES = {
    "neu": "neutral",
    "hap": "happy",
    "ang": "angry",
    "sad": "sad",
    "fea": "fearful",
    "dis": "disgusted",
    "sur": "surprised",
    "cal": "calm",
}
GENDERS = ("F", "M")
STYLES = ("impro", "script")
TASK_LABELS = {"emo": EMOTIONS, "gender": GENDERS, "style": STYLES}
# Classes of each utterance-level head.
N_CLASSES = {task: len(labels) for task, labels in TASK_LABELS.items()}
# Characters of the ASR head; the CTC blank comes first, then these.
CHARACTERS = " '" + "abcdefghijklmnopqrstuvwxyz"
BLANK_INDEX = 0
CTC_VOCAB_SIZE = len(CHARACTERS) + 1
# What the CTC head predicts (``ctc_units`` in the yaml; custom_modules/ctc_units.py): characters, the default, or
# SentencePiece pieces learned from the training transcripts.
CTC_UNITS = ("char", "bpe")
# IEMOCAP's rate and the rate of every wav2vec 2.0 / HuBERT / WavLM checkpoint.
SAMPLE_RATE = 16000
# A fold's manifests (corpora/folds.py) and the datasets built from them.
SPLITS = ("train", "valid", "test")
# Written last by corpora/folds.py beside a fold's manifests: its options and summary (what it left out, and why).
PREPARATION_RECORD = "prepare_options.json"
# The seed of hparams/stage1.yaml and stage2.yaml: also iemocap_prepare.py's and run_folds.py's default.
DEFAULT_SEED = 1986
