"""Data pipeline shared by both stages: manifests -> DynamicItemDatasets, label encoders, CTC tokenizer.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import os

import torch

import speechbrain as sb
from speechbrain.dataio.dataset import DynamicItemDataset
from speechbrain.dataio.encoder import CategoricalEncoder, CTCTextEncoder
from speechbrain.dataio.sampler import DynamicBatchSampler
from speechbrain.utils.distributed import if_main_process, run_on_main

from custom_modules.vocabulary import CHARACTERS, CTC_VOCAB_SIZE, TASK_LABELS

SPLITS = ("train", "valid", "test")


def prepare_manifests(hparams):
    """Runs ``iemocap_prepare.prepare_iemocap`` once (main process) for the fold in ``hparams``.

    Arguments
    ---------
    hparams : dict
        Needs ``data_folder``, ``manifest_folder``, ``test_session``, ``valid_ratio``, ``seed`` and
        ``skip_bad_wavs``.
    """
    from iemocap_prepare import prepare_iemocap

    run_on_main(
        prepare_iemocap,
        kwargs={
            "data_folder": hparams["data_folder"],
            "save_folder": hparams["manifest_folder"],
            "test_session": hparams["test_session"],
            "valid_ratio": hparams["valid_ratio"],
            "seed": hparams["seed"],
            "skip_bad_wavs": hparams["skip_bad_wavs"],
        },
    )


def build_label_encoders(save_folder):
    """One ``CategoricalEncoder`` per utterance task, with the fixed label order of ``TASK_LABELS``.

    The order is fixed in code (not learned from data) so class indices are the same in every fold and run.

    Arguments
    ---------
    save_folder : str
        Where ``label_encoder_<task>.txt`` files are written (inference reads them back).

    Returns
    -------
    dict
        Task -> encoder.
    """
    encoders = {}
    for task, labels in TASK_LABELS.items():
        encoder = CategoricalEncoder()
        encoder.update_from_iterable(labels)
        encoder.expect_len(len(labels))
        encoders[task] = encoder
        _save_on_main(encoder, os.path.join(save_folder, f"label_encoder_{task}.txt"))
    return encoders


def build_tokenizer(save_folder):
    """The character CTC tokenizer (blank at index 0, then ``CHARACTERS``), saved as ``tokenizer.txt``.

    Arguments
    ---------
    save_folder : str

    Returns
    -------
    speechbrain.dataio.encoder.CTCTextEncoder
    """
    tokenizer = CTCTextEncoder()
    tokenizer.insert_blank(index=0)
    tokenizer.update_from_iterable(list(CHARACTERS), sequence_input=False)
    tokenizer.expect_len(CTC_VOCAB_SIZE)
    _save_on_main(tokenizer, os.path.join(save_folder, "tokenizer.txt"))
    return tokenizer


def _save_on_main(encoder, path):
    if if_main_process():
        os.makedirs(os.path.dirname(path), exist_ok=True)
        encoder.save(path)


def dataio_prepare(hparams):
    """Builds the train / valid / test ``DynamicItemDataset``s of one fold, with their encoders.

    Arguments
    ---------
    hparams : dict
        Needs ``manifest_folder`` and ``save_folder`` (where the label encoders and tokenizer are saved).

    Returns
    -------
    datasets : dict
        Split -> dataset; valid and test are sorted by duration to keep padding small.
    label_encoders : dict
        Task -> ``CategoricalEncoder`` (``build_label_encoders``).
    tokenizer : CTCTextEncoder
        The character tokenizer (``build_tokenizer``).
    """
    label_encoders = build_label_encoders(hparams["save_folder"])
    tokenizer = build_tokenizer(hparams["save_folder"])

    @sb.utils.data_pipeline.takes("id", "wav")
    @sb.utils.data_pipeline.provides("sig")
    def audio_pipeline(utt_id, wav):
        return read_mono_audio(utt_id, wav)

    @sb.utils.data_pipeline.takes("emo", "gender", "style")
    @sb.utils.data_pipeline.provides("emo_encoded", "gender_encoded", "style_encoded")
    def label_pipeline(emo, gender, style):
        for task, label in (("emo", emo), ("gender", gender), ("style", style)):
            yield label_encoders[task].encode_label_torch(label)

    @sb.utils.data_pipeline.takes("id", "transcript")
    @sb.utils.data_pipeline.provides("tokens")
    def text_pipeline(utt_id, transcript):
        unknown = set(transcript) - set(CHARACTERS)
        if unknown:
            raise ValueError(
                f"Transcript of {utt_id} has characters outside the CTC vocabulary: {sorted(unknown)}. "
                "Manifests from iemocap_prepare.py are normalised; re-create this one with it."
            )
        return torch.LongTensor(tokenizer.encode_sequence(list(transcript)))

    datasets = {}
    for split in SPLITS:
        dataset = DynamicItemDataset.from_json(
            json_path=os.path.join(hparams["manifest_folder"], f"{split}.json"),
            dynamic_items=[audio_pipeline, label_pipeline, text_pipeline],
            output_keys=["id", "sig", "emo_encoded", "gender_encoded", "style_encoded", "tokens"],
        )
        datasets[split] = dataset if split == "train" else dataset.filtered_sorted(sort_key="duration")
    return datasets, label_encoders, tokenizer


def read_mono_audio(utt_id, path):
    """Reads a mono waveform; a file that cannot be used raises an error naming the utterance.

    Arguments
    ---------
    utt_id : str
    path : str

    Returns
    -------
    torch.Tensor
        ``[samples]``.
    """
    try:
        signal = sb.dataio.dataio.read_audio(path)
    except Exception as error:  # soundfile raises several types for unreadable files
        raise RuntimeError(f"Cannot read the audio of {utt_id} ({path}): {error}") from error
    if signal.dim() != 1:
        raise ValueError(f"{utt_id}: {path} has {signal.shape[-1]} channels; the recipe trains on mono 16 kHz audio.")
    return signal


def train_loader_kwargs(train_set, hparams):
    """DataLoader options for training: length-bucketed batches (``DynamicBatchSampler``) or plain shuffling.

    Bucketing keeps padding small while the batch order is still shuffled every epoch; ``max_batch_ex``
    caps a batch at ``batch_size`` utterances, the paper's batch.

    Arguments
    ---------
    train_set : DynamicItemDataset
    hparams : dict
        ``dynamic_batching``, ``dynamic_batch_sampler`` (kwargs of ``DynamicBatchSampler``),
        ``train_dataloader_opts`` and ``seed``.

    Returns
    -------
    dict
    """
    options = dict(hparams["train_dataloader_opts"])
    if hparams["dynamic_batching"]:
        options.pop("batch_size", None)
        options.pop("shuffle", None)
        options["batch_sampler"] = DynamicBatchSampler(
            train_set, seed=hparams["seed"], **hparams["dynamic_batch_sampler"]
        )
    return options
