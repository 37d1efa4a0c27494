"""Reads a labelled corpus from a manifest: a CSV or JSON-lines file written by hand, or EmoBox's metadata as
it is (https://github.com/emo-box/EmoBox, ``data/<dataset>/``).

**A manifest of your own** (``.csv`` with a header row, or ``.jsonl``/``.json`` with one object per line; a
``.json`` holding one ``{id: {column: value}}`` object, SpeechBrain's manifest format, is read too):

- ``wav``: the audio file, absolute or relative to the manifest's folder; ``emotion`` and ``speaker``: required.
- ``id``: optional, else the wav's file stem; two rows with one id are an error.
- ``gender``: optional, F or M (``female``/``male`` and the like are mapped onto them).
- ``transcript``: optional, mapped onto the CTC character set like IEMOCAP's.
- ``fold`` (any values: the fold ids of a cross-validation) or ``split`` (``train``, ``valid``, ``test``):
  optional, not both.
- any other column: a categorical label (an auxiliary task) or, when its values are numbers and not all of them
  whole (``arousal`` 3.5), a numeric one (``numeric_columns``, later regression tasks). A column of whole numbers
  (a session 1-5) stays categorical; write 3.0 to make it numeric.
- ``label_map.json`` beside the manifest (EmoBox's file), if there is one, maps each raw emotion onto the
  model's label; an emotion it does not name is an error.

Classifier order: the order of the first appearance of each label among ``label_map.json``'s values (EmoBox
writes IEMOCAP's as Neutral, Happy, Angry, Sad), else the labels sorted. Auxiliary labels are sorted.

**EmoBox** (keys ``key``, ``dataset``, ``wav``, ``type``, ``sample_rate``, ``num_frame``, ``task``, ``length``,
``emo``, ``channel``; no speaker): pass its ``data/<dataset>/`` folder. All utterances come from
``<dataset>.jsonl``, speakers from ``data.seg.wrd.stm`` beside it (its third column, as EmoBox writes them),
labels through ``label_map.json``, and the folds from ``fold_N/<dataset>_test_fold_N.jsonl``: an utterance's
fold is the N of the test set that holds it (``fold``), or, for a dataset with a single fold (CREMA-D),
``train``/``test`` from its two files (``split``). Passing one ``fold_N/`` folder gives that fold's
train/test(/valid) as ``split``. Wav paths (``downloads/<dataset>/...``) are relative to the EmoBox folder
(the one above ``data/``), where EmoBox's README tells you to put the downloads; ``wav_root`` changes that.
EmoBox's bookkeeping keys (``dataset`` ... ``channel``) are not labels and are left out of the entries.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import csv
import json
import os
import re
from dataclasses import dataclass

from corpora import CorpusError
from corpora.transcripts import normalize_transcript

NAME = "manifest"
TITLE = "manifest"
# A manifest names files of any rate: they are resampled to the recipe's 16 kHz.
NEEDS_RESAMPLING = True
REQUIRED_COLUMNS = ("wav", "emotion", "speaker")
RESERVED_COLUMNS = ("id", "wav", "emotion", "speaker", "gender", "transcript", "fold", "split")
SPLIT_VALUES = ("train", "valid", "test")
GENDER_VALUES = {"f": "F", "female": "F", "woman": "F", "w": "F", "m": "M", "male": "M", "man": "M"}
LABEL_MAP_FILE = "label_map.json"
# EmoBox's names for the id and the raw emotion, and its keys that describe the file rather than label it.
EMOBOX_KEYS = {"key": "id", "emo": "emotion"}
EMOBOX_BOOKKEEPING = ("dataset", "type", "sample_rate", "num_frame", "task", "length", "channel")
EMOBOX_SPEAKERS_FILE = "data.seg.wrd.stm"
EMOBOX_FOLD_FOLDER = re.compile(r"^fold_(\d+)$")


@dataclass
class ManifestCorpus:
    """A corpus read from a manifest: its utterances, label sets and, if it brings them, its folds.

    Arguments
    ---------
    utterances : dict
        ``{utt_id: {"wav", "emo", "speaker", "transcript" (str or None), optional "gender", other columns}}``.
    emotions : tuple
        The emotion labels in classifier order.
    aux_labels : dict
        ``{column: sorted tuple of values}`` for every categorical column with at least two values, gender
        included when present.
    numeric_columns : tuple
        Columns kept as float fields (``None`` where a row leaves them empty).
    folds : dict or None
        ``{utt_id: fold id or split}`` when the manifest has a fold or split column.
    fold_column : str or None
        ``"fold"``, ``"split"`` or ``None``.
    has_transcripts : bool
        Every utterance has a non-empty transcript.
    source : str
        The manifest or EmoBox folder read.
    """

    utterances: dict
    emotions: tuple
    aux_labels: dict
    numeric_columns: tuple
    folds: dict | None
    fold_column: str | None
    has_transcripts: bool
    source: str


def read_manifest(path, wav_root=None):
    """Reads a CSV or JSON-lines manifest, or EmoBox's ``data/<dataset>/`` (or ``fold_N/``) folder.

    Arguments
    ---------
    path : str
        The manifest file or EmoBox folder.
    wav_root : str, optional
        Resolves relative wav paths instead of the manifest's folder (EmoBox: the folder above ``data/``).

    Returns
    -------
    ManifestCorpus

    Example
    -------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> with open(os.path.join(folder, "corpus.csv"), "w") as out:
    ...     _ = out.write("wav,emotion,speaker,gender,arousal\\na.wav,sad,s1,female,1.5\\nb.wav,hap,s2,M,4\\n")
    >>> corpus = read_manifest(os.path.join(folder, "corpus.csv"))
    >>> corpus.emotions, corpus.aux_labels, corpus.numeric_columns, corpus.utterances["a"]["arousal"]
    (('hap', 'sad'), {'gender': ('F', 'M')}, ('arousal',), 1.5)
    """
    if path is None or not os.path.exists(path):
        raise CorpusError(
            f"--manifest {path!r} does not exist: pass a .csv or .jsonl manifest or EmoBox's data/<dataset>/."
        )
    if os.path.isdir(path):
        return _read_emobox_folder(os.path.abspath(path), wav_root)
    path = os.path.abspath(path)
    rows = read_rows(path)
    emobox = _is_emobox(rows)
    dataset_folder = _emobox_dataset_folder(os.path.dirname(path)) if emobox else None
    if dataset_folder and os.path.basename(path) == f"{os.path.basename(dataset_folder)}.jsonl":
        # The dataset's whole jsonl: the same as passing its folder (folds included).
        return _read_emobox_folder(dataset_folder, wav_root)
    if emobox:
        rows = _emobox_rows(rows, dataset_folder, path)
        label_map_folder = dataset_folder or os.path.dirname(path)
        wav_root = wav_root or (_emobox_root(dataset_folder) if dataset_folder else os.path.dirname(path))
    else:
        label_map_folder = os.path.dirname(path)
    return build_corpus(rows, path, wav_root or os.path.dirname(path), read_label_map(label_map_folder))


def read_rows(path):
    """Returns ``[(where, row)]`` from a manifest file: ``where`` names the file and line (or entry) in errors.

    Arguments
    ---------
    path : str
        ``.csv``, ``.jsonl`` or ``.json``.

    Returns
    -------
    list of (str, dict)
    """
    extension = os.path.splitext(path)[1].lower()
    if extension not in (".csv", ".jsonl", ".json"):
        raise CorpusError(f"{path}: a manifest is a .csv, .jsonl or .json file (got {extension or 'no extension'}).")
    try:
        with open(path, newline="", encoding="utf-8-sig") as manifest:
            text = manifest.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CorpusError(f"{path}: cannot be read as UTF-8 text ({error}).") from error
    if extension == ".csv":
        reader = csv.DictReader(text.splitlines())
        header = reader.fieldnames or []
        missing = [column for column in REQUIRED_COLUMNS if column not in header]
        if missing:
            raise CorpusError(f"{path}: no column {', '.join(missing)} (its header is {','.join(header) or 'empty'}).")
        return [(f"{path}, line {reader.line_num}", row) for row in reader]
    whole = _whole_json(text)
    if isinstance(whole, dict) and whole and all(isinstance(value, dict) for value in whole.values()):
        # SpeechBrain's manifest format (and EmoBox's .json): one object keyed by the utterance id.
        return [(f"{path}, entry {key!r}", {"id": key, **value}) for key, value in whole.items()]
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise CorpusError(f"{path}, line {number}: not a JSON object ({error.msg}).") from error
        if not isinstance(row, dict):
            raise CorpusError(f"{path}, line {number}: not a JSON object (one object per line expected).")
        rows.append((f"{path}, line {number}", row))
    return rows


def read_label_map(folder):
    """Returns ``label_map.json`` of a folder as a dict, or ``None`` when there is none.

    Arguments
    ---------
    folder : str

    Returns
    -------
    dict or None
    """
    path = os.path.join(folder, LABEL_MAP_FILE)
    if not os.path.isfile(path):
        return None
    try:
        with open(path, encoding="utf-8") as label_map:
            mapping = json.load(label_map)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CorpusError(f"{path}: cannot be read as JSON ({error}).") from error
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        raise CorpusError(f"{path}: expected one object mapping each raw emotion onto a label.")
    return mapping


def build_corpus(rows, source, wav_root, label_map=None, folds=None, fold_column=None):
    """Turns manifest rows into a ``ManifestCorpus``.

    Arguments
    ---------
    rows : list of (str, dict)
        From ``read_rows`` (``where`` names the row in errors).
    source : str
        What was read, for the corpus's ``source``.
    wav_root : str
        Relative wav paths are relative to it.
    label_map : dict, optional
        Raw emotion -> label.
    folds : dict, optional
        ``{utt_id: fold}`` from elsewhere (EmoBox's fold files), used when the rows have no fold or split.
    fold_column : str, optional
        ``"fold"`` or ``"split"``: what ``folds`` holds.

    Returns
    -------
    ManifestCorpus
    """
    if not rows:
        raise CorpusError(f"{source}: holds no utterance.")
    columns = list(dict.fromkeys(column for _, row in rows for column in row))
    if "fold" in columns and "split" in columns:
        raise CorpusError(f"{source}: has both a fold and a split column; keep one.")
    missing = [column for column in REQUIRED_COLUMNS if column not in columns]
    if missing:
        raise CorpusError(f"{source}: no column {', '.join(missing)} (its columns are {', '.join(columns)}).")
    own_fold_column = "fold" if "fold" in columns else "split" if "split" in columns else None
    extra = [column for column in columns if column not in RESERVED_COLUMNS]
    numeric = tuple(column for column in extra if _is_numeric_column(row.get(column) for _, row in rows))
    utterances, first_row, row_folds = {}, {}, {}
    for where, row in rows:
        cells = {column: _cell(row.get(column)) for column in columns}
        for column in REQUIRED_COLUMNS:
            if not cells.get(column):
                raise CorpusError(f"{where}: the {column} cell is empty or missing.")
        utt_id = cells.get("id") or os.path.splitext(os.path.basename(cells["wav"]))[0]
        if utt_id in utterances:
            raise CorpusError(f"{where}: id {utt_id!r} is already the id of {first_row[utt_id]}.")
        first_row[utt_id] = where
        entry = {
            "wav": os.path.abspath(os.path.join(wav_root, os.path.expanduser(cells["wav"]))),
            "emo": _map_emotion(cells["emotion"], label_map, where),
            "speaker": cells["speaker"],
            "transcript": normalize_transcript(cells["transcript"]) if cells.get("transcript") else None,
        }
        if "gender" in columns:
            entry["gender"] = _gender(cells["gender"], where)
        for column in extra:
            entry[column] = (
                (float(cells[column]) if cells[column] else None) if column in numeric else cells[column] or None
            )
        if own_fold_column:
            row_folds[utt_id] = _fold(cells[own_fold_column], own_fold_column, where)
        utterances[utt_id] = entry
    categorical = (["gender"] if "gender" in columns else []) + [c for c in extra if c not in numeric]
    aux_labels = {}
    for column in categorical:
        values = sorted({entry[column] for entry in utterances.values() if entry[column] is not None})
        if len(values) >= 2:
            aux_labels[column] = tuple(values)
    emotions = {entry["emo"] for entry in utterances.values()}
    if label_map:
        order = tuple(dict.fromkeys(label_map.values()))
    else:
        order = tuple(sorted(emotions))
    return ManifestCorpus(
        utterances=utterances,
        emotions=order,
        aux_labels=aux_labels,
        numeric_columns=numeric,
        folds=row_folds if own_fold_column else folds,
        fold_column=own_fold_column or (fold_column if folds else None),
        has_transcripts=all(entry["transcript"] for entry in utterances.values()),
        source=source,
    )


def _read_emobox_folder(folder, wav_root):
    fold_match = EMOBOX_FOLD_FOLDER.match(os.path.basename(folder))
    dataset_folder = os.path.dirname(folder) if fold_match else folder
    dataset = os.path.basename(dataset_folder)
    if read_label_map(dataset_folder) is None and not os.path.isfile(os.path.join(folder, f"{dataset}.jsonl")):
        raise CorpusError(
            f"{folder} is a folder but not EmoBox's data/<dataset>/ nor one of its fold_N/ "
            f"(no {LABEL_MAP_FILE}, no {dataset}.jsonl): pass a .csv or .jsonl manifest, or that folder."
        )
    wav_root = wav_root or _emobox_root(dataset_folder)
    if fold_match:
        rows, folds = [], {}
        for split in SPLIT_VALUES:
            path = os.path.join(folder, f"{dataset}_{split}_fold_{fold_match.group(1)}.jsonl")
            if os.path.isfile(path):
                split_rows = _emobox_rows(read_rows(path), dataset_folder, path)
                rows += split_rows
                folds.update({row["id"]: split for _, row in split_rows})
        fold_column = "split"
    else:
        whole = os.path.join(dataset_folder, f"{dataset}.jsonl")
        if not os.path.isfile(whole):
            raise CorpusError(f"{dataset_folder}: no {dataset}.jsonl, the list of EmoBox's {dataset} utterances.")
        rows = _emobox_rows(read_rows(whole), dataset_folder, whole)
        folds, fold_column = _emobox_folds(dataset_folder, dataset, [row["id"] for _, row in rows])
    return build_corpus(rows, folder, wav_root, read_label_map(dataset_folder), folds, fold_column)


def _emobox_folds(dataset_folder, dataset, ids):
    """Each utterance's fold: the N of the fold_N test set holding it (train/test where there is one fold)."""
    numbers = sorted(
        int(match.group(1))
        for match in (EMOBOX_FOLD_FOLDER.match(name) for name in os.listdir(dataset_folder))
        if match and os.path.isdir(os.path.join(dataset_folder, match.group(0)))
    )
    if not numbers:
        return None, None
    test_folds = {}
    for number in numbers:
        path = os.path.join(dataset_folder, f"fold_{number}", f"{dataset}_test_fold_{number}.jsonl")
        if not os.path.isfile(path):
            raise CorpusError(f"{path}: missing; every EmoBox fold_N folder holds its test set.")
        for where, row in read_rows(path):
            key = _cell(row.get("key"))
            if key in test_folds:
                raise CorpusError(f"{where}: {key!r} is also in the test set of fold {test_folds[key]}.")
            test_folds[key] = str(number)
    if len(numbers) == 1:
        return {utt_id: "test" if utt_id in test_folds else "train" for utt_id in ids}, "split"
    outside = [utt_id for utt_id in ids if utt_id not in test_folds]
    if outside:
        raise CorpusError(
            f"{dataset_folder}: {len(outside)} utterances (first {outside[0]!r}) are in no fold_N test set, "
            "so they have no fold."
        )
    return {utt_id: test_folds[utt_id] for utt_id in ids}, "fold"


def _emobox_rows(rows, dataset_folder, path):
    """EmoBox's rows under the manifest's column names, with speakers from its stm file."""
    speakers = _emobox_speakers(dataset_folder) if dataset_folder else {}
    renamed = []
    for where, row in rows:
        row = {EMOBOX_KEYS.get(key, key): value for key, value in row.items() if key not in EMOBOX_BOOKKEEPING}
        if "speaker" not in row:
            if not speakers:
                raise CorpusError(
                    f"{path}: EmoBox rows have no speaker and no {EMOBOX_SPEAKERS_FILE} was found beside its "
                    "label_map.json: pass the EmoBox data/<dataset>/ folder with its files."
                )
            if row.get("id") not in speakers:
                raise CorpusError(f"{where}: {row.get('id')!r} has no speaker in {EMOBOX_SPEAKERS_FILE}.")
            row["speaker"] = speakers[row["id"]]
        renamed.append((where, row))
    return renamed


def _emobox_speakers(dataset_folder):
    path = os.path.join(dataset_folder, EMOBOX_SPEAKERS_FILE)
    if not os.path.isfile(path):
        return {}
    speakers = {}
    with open(path, encoding="utf-8") as stm:
        for number, line in enumerate(stm, start=1):
            # <key> <channel> <speaker> <start> <end> <tags> <label>: the NIST stm layout.
            fields = line.split()
            if not fields or line.startswith(";;"):
                continue
            if len(fields) < 3:
                raise CorpusError(f"{path}, line {number}: expected '<key> <channel> <speaker> ...'.")
            speakers[fields[0]] = fields[2]
    return speakers


def _is_emobox(rows):
    first = rows[0][1] if rows else {}
    return "key" in first and "emo" in first and "emotion" not in first


def _emobox_dataset_folder(folder):
    for candidate in (folder, os.path.dirname(folder)):
        if os.path.isfile(os.path.join(candidate, LABEL_MAP_FILE)):
            return candidate
    return None


def _emobox_root(dataset_folder):
    # data/<dataset>/ sits two levels below the EmoBox folder, which its wav paths are relative to.
    return os.path.dirname(os.path.dirname(dataset_folder))


def _whole_json(text):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None


def _cell(value):
    if value is None:
        return ""
    return value.strip() if isinstance(value, str) else str(value)


def _is_numeric_column(values):
    present = [_cell(value) for value in values if _cell(value)]
    numbers = [_as_float(value) for value in present]
    return bool(present) and None not in numbers and any(not number.is_integer() for number in numbers)


def _as_float(text):
    try:
        return float(text)
    except ValueError:
        return None


def _map_emotion(raw, label_map, where):
    if label_map is None:
        return raw
    if raw not in label_map:
        raise CorpusError(f"{where}: emotion {raw!r} is not in label_map.json (it maps {', '.join(label_map)}).")
    return label_map[raw]


def _gender(text, where):
    if not text:
        return None
    if text.lower() not in GENDER_VALUES:
        raise CorpusError(f"{where}: gender {text!r} is neither F nor M (female/male are read too).")
    return GENDER_VALUES[text.lower()]


def _fold(text, column, where):
    if not text:
        raise CorpusError(f"{where}: the {column} cell is empty.")
    if column == "split" and text not in SPLIT_VALUES:
        raise CorpusError(f"{where}: split {text!r} is not one of {', '.join(SPLIT_VALUES)}.")
    return text
