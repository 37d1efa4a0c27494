"""Generates small synthetic corpora described by manifests: one of the recipe's own manifest format, and one in
EmoBox's layout (https://github.com/emo-box/EmoBox).

``generate_manifest_corpus`` writes ``audio/<speaker>/<id>.wav`` at mixed rates (16 kHz for odd speakers,
22.05 kHz for even ones, so that resampling is exercised), then ``manifest.csv`` and ``manifest.jsonl`` with the
same rows: ``id,wav,emotion,speaker,gender,transcript,fold,style,arousal``. Emotions neu, hap, ang, sad by
prosody; gender by voice; ``style`` impro or script by delivery (``synthetic.corpus.STYLE_DELIVERY``);
``arousal`` a float near IEMOCAP's mean activation of the emotion; folds of two speakers each.

``generate_emobox_corpus`` writes what EmoBox's ``data/<dataset>/`` holds, for a dataset of its own:
``<dataset>.jsonl`` (keys key, dataset, wav, type, sample_rate, num_frame, task, length, emo, channel),
``label_map.json`` (raw labels neu, hap, exc, ang, sad onto Neutral, Happy, Angry, Sad: exc merged into Happy as
in EmoBox's IEMOCAP), ``data.seg.wrd.stm`` (the speakers) and ``fold_N/<dataset>_{train,test}_fold_N.jsonl``
(leave-two-speakers-out), with the wavs under ``downloads/<dataset>/`` as EmoBox's README asks.

Command line::

    python -m synthetic.manifest_corpus --out_dir /tmp/manifest_corpus --seed 0

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import csv
import json
import os

from custom_modules.constants import SAMPLE_RATE
from synthetic.acted import command_line, refuse_existing, speak, stream, write_wav
from synthetic.corpus import STYLE_DELIVERY, VAD_MEANS, VOCABULARY, speaker_voice

MANIFEST_COLUMNS = ("id", "wav", "emotion", "speaker", "gender", "transcript", "fold", "style", "arousal")
EMOTIONS = ("neu", "hap", "ang", "sad")
OTHER_SAMPLE_RATE = 22050
SPEAKERS_PER_FOLD = 2
EMOBOX_DATASET = "toyemo"
EMOBOX_RAW_LABELS = ("neu", "hap", "exc", "ang", "sad")
EMOBOX_LABEL_MAP = {"neu": "Neutral", "hap": "Happy", "exc": "Happy", "ang": "Angry", "sad": "Sad"}
_VOICE, _CLIP, _TEXT = range(3)
_CORPUS, _EMOBOX_CORPUS = 13, 14


def generate_manifest_corpus(out_dir, seed=0, speakers=10, clips_per_speaker=8):
    """Writes wavs with ``manifest.csv`` and ``manifest.jsonl`` describing them; returns the truth.

    Arguments
    ---------
    out_dir : str
        Must not hold ``audio`` or a manifest yet.
    seed : int
        The same seed gives byte-identical files.
    speakers : int
        spk01, spk02 ... (odd ones female); a multiple of 2 gives whole folds.
    clips_per_speaker : int
        Utterances per speaker; emotions and styles rotate over them.

    Returns
    -------
    dict
        ``{utt_id: row}`` with the manifest's columns (``wav`` absolute, ``arousal`` a float) and ``duration``.

    Example
    -------
    >>> import tempfile
    >>> truth = generate_manifest_corpus(tempfile.mkdtemp(), speakers=2, clips_per_speaker=2)
    >>> sorted(truth), truth["spk01_000"]["gender"], truth["spk02_001"]["fold"]
    (['spk01_000', 'spk01_001', 'spk02_000', 'spk02_001'], 'F', '1')
    """
    refuse_existing(out_dir, "audio", "manifest.csv", "manifest.jsonl")
    truth, rows = {}, []
    for speaker_index in range(speakers):
        speaker = f"spk{speaker_index + 1:02d}"
        gender = "F" if speaker_index % 2 == 0 else "M"
        sample_rate = SAMPLE_RATE if speaker_index % 2 == 0 else OTHER_SAMPLE_RATE
        voice = speaker_voice(gender, stream(seed, _CORPUS, _VOICE, speaker_index))
        for clip in range(clips_per_speaker):
            rng = stream(seed, _CORPUS, _CLIP, speaker_index, clip)
            label = EMOTIONS[(clip + speaker_index) % len(EMOTIONS)]
            style = tuple(STYLE_DELIVERY)[(clip // len(EMOTIONS) + speaker_index) % len(STYLE_DELIVERY)]
            text = _sentence(rng)
            utt_id = f"{speaker}_{clip:03d}"
            relative = f"audio/{speaker}/{utt_id}.wav"
            samples = speak(text, label, voice, rng, style=style, sample_rate=sample_rate)
            duration = write_wav(os.path.join(out_dir, relative), samples, sample_rate)
            row = {
                "id": utt_id,
                "wav": relative,
                "emotion": label,
                "speaker": speaker,
                "gender": gender,
                "transcript": text,
                "fold": str(speaker_index // SPEAKERS_PER_FOLD + 1),
                "style": style,
                # Activation near IEMOCAP's mean for the emotion, on its 1-5 scale.
                "arousal": round(float(VAD_MEANS[label][1] + rng.normal(0.0, 0.3)), 2),
            }
            rows.append(row)
            truth[utt_id] = {**row, "wav": os.path.abspath(os.path.join(out_dir, relative)), "duration": duration}
    with open(os.path.join(out_dir, "manifest.csv"), "w", newline="", encoding="utf-8") as table:
        writer = csv.DictWriter(table, MANIFEST_COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    _write_jsonl(os.path.join(out_dir, "manifest.jsonl"), rows)
    return truth


def generate_emobox_corpus(out_dir, seed=0, speakers=10, clips_per_speaker=6):
    """Writes a dataset in EmoBox's layout (``data/<dataset>/`` and ``downloads/<dataset>/``); returns the truth.

    Arguments
    ---------
    out_dir : str
        Plays the role of the EmoBox folder; must not hold ``data`` or ``downloads`` yet.
    seed : int
        The same seed gives byte-identical files.
    speakers : int
        Speakers 1 ... (odd ones female); folds of two speakers each.
    clips_per_speaker : int
        Utterances per speaker; the raw labels neu, hap, exc, ang, sad rotate over them.

    Returns
    -------
    dict
        ``{key: {"wav", "emo" (raw), "speaker", "gender", "fold", "duration"}}``.

    Example
    -------
    >>> import tempfile
    >>> out_dir = tempfile.mkdtemp()
    >>> truth = generate_emobox_corpus(out_dir, speakers=4, clips_per_speaker=1)
    >>> sorted(os.listdir(os.path.join(out_dir, "data", "toyemo")))
    ['data.seg.wrd.stm', 'fold_1', 'fold_2', 'label_map.json', 'toyemo.jsonl']
    """
    refuse_existing(out_dir, "data", "downloads")
    dataset_folder = os.path.join(out_dir, "data", EMOBOX_DATASET)
    truth, rows, stm_lines = {}, [], []
    for speaker_index in range(speakers):
        speaker = str(speaker_index + 1)
        gender = "F" if speaker_index % 2 == 0 else "M"
        voice = speaker_voice(gender, stream(seed, _EMOBOX_CORPUS, _VOICE, speaker_index))
        for clip in range(clips_per_speaker):
            rng = stream(seed, _EMOBOX_CORPUS, _CLIP, speaker_index, clip)
            raw_label = EMOBOX_RAW_LABELS[(clip + speaker_index) % len(EMOBOX_RAW_LABELS)]
            prosody = raw_label if raw_label != "exc" else "hap"
            key = f"{EMOBOX_DATASET}-{speaker}-{clip:03d}"
            relative = f"downloads/{EMOBOX_DATASET}/wav/{speaker}_{clip:03d}.wav"
            samples = speak(_sentence(rng), prosody, voice, rng)
            duration = write_wav(os.path.join(out_dir, relative), samples, SAMPLE_RATE)
            rows.append(
                {
                    "key": key,
                    "dataset": EMOBOX_DATASET,
                    "wav": relative,
                    "type": "raw",
                    "sample_rate": SAMPLE_RATE,
                    "num_frame": float(len(samples)),
                    "task": "category",
                    "length": duration,
                    "emo": raw_label,
                    "channel": 1,
                }
            )
            fold = speaker_index // SPEAKERS_PER_FOLD + 1
            stm_lines.append(
                f"{key} 1 {speaker} 0 {duration} <id={key},lang=en,spk={speaker},emotion={raw_label}> {raw_label}\n"
            )
            wav = os.path.abspath(os.path.join(out_dir, relative))
            truth[key] = {"wav": wav, "emo": raw_label, "speaker": speaker, "gender": gender, "fold": str(fold)}
            truth[key]["duration"] = duration
    _write_jsonl(os.path.join(dataset_folder, f"{EMOBOX_DATASET}.jsonl"), rows)
    with open(os.path.join(dataset_folder, "label_map.json"), "w", encoding="utf-8") as label_map:
        json.dump(EMOBOX_LABEL_MAP, label_map, indent=4)
    with open(os.path.join(dataset_folder, "data.seg.wrd.stm"), "w", encoding="utf-8") as stm:
        stm.writelines(stm_lines)
    for fold in sorted({entry["fold"] for entry in truth.values()}, key=int):
        for split, in_split in (("train", False), ("test", True)):
            chosen = [row for row in rows if (truth[row["key"]]["fold"] == fold) == in_split]
            path = os.path.join(dataset_folder, f"fold_{fold}", f"{EMOBOX_DATASET}_{split}_fold_{fold}.jsonl")
            _write_jsonl(path, chosen)
    return truth


def _sentence(rng):
    return " ".join(str(word) for word in rng.choice(VOCABULARY, size=int(rng.integers(2, 5))))


def _write_jsonl(path, rows):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as jsonl:
        jsonl.writelines(json.dumps(row) + "\n" for row in rows)


# Command line: generates a corpus and prints a short summary.
main = command_line(
    __doc__.split("\n\n")[0], "the folder to create", generate_manifest_corpus, speakers=10, clips_per_speaker=8
)


if __name__ == "__main__":
    main()
