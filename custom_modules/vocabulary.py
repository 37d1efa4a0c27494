"""Label sets and the CTC character set, defined once for preparation, training and inference.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

# The paper's 4 classes (hap and exc merged into hap by iemocap_prepare.py), in classifier index order.
EMOTIONS = ("neu", "hap", "ang", "sad")
GENDERS = ("F", "M")
STYLES = ("impro", "script")
TASK_LABELS = {"emo": EMOTIONS, "gender": GENDERS, "style": STYLES}
# Characters of the ASR head (the CTC blank is added by the tokenizer).
CHARACTERS = " '" + "abcdefghijklmnopqrstuvwxyz"
CTC_VOCAB_SIZE = len(CHARACTERS) + 1
