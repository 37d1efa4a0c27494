#!/usr/bin/env python3
"""Stage 1: finetune a wav2vec 2.0 for speech emotion recognition with an auxiliary CTC (ASR) task.

The whole SSL model trains (CNN feature encoder frozen) with ``(1 - l) L_emo + l L_asr``, l = 0.1, on one
IEMOCAP leave-one-session-out fold: mean pooling and a linear classifier (cross-entropy) for emotion, a linear
layer over characters (CTC) for ASR. The checkpoint with the best validation UA is kept, evaluated on the
held-out session (``<output_folder>/test_metrics.json``: WA, UA, WER, per-class recall, confusion matrix) and
is what stage 2 starts from. Overrides give Table 1's single-stage rows (see hparams/stage1.yaml).

To run::

    python train_stage1.py hparams/stage1.yaml --data_folder /path/to/IEMOCAP_full_release \
        --test_session 1 --output_folder results/stage1/fold1

Running the same command again resumes from the last checkpoint.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import sys

import speechbrain as sb
from hyperpyyaml import load_hyperpyyaml
from speechbrain.utils.distributed import run_on_main

from corpora.folds import check_run_corpus, prepare_run_fold, with_task_classes, with_test_fold
from custom_modules.brain import MultiTaskSERBrain, leave_process_group
from custom_modules.data import dataio_prepare, leave_out_unusable, train_loader_kwargs
from custom_modules.errors import input_errors_end_the_run
from custom_modules.losses import multitask_loss
from custom_modules.settings import checked_settings


class Stage1Brain(MultiTaskSERBrain):
    """Stage 1 (and Table 1's single-stage rows): the pretrained model, trained as ``finetune`` says (fully by
    default), for emotion and the auxiliary tasks of ``aux_tasks`` (ASR by default).

    The forward pass, the per-task losses (cross-entropy, CTC) and the bookkeeping are the shared Brain's.
    """

    def compute_objectives(self, predictions, batch, stage):
        """``(1 - k a) L_emo + a sum(L_aux)`` with the k auxiliary tasks (a = l = 0.1; stage 1: ``0.9 L_emo +
        0.1 L_asr``)."""
        losses = self.task_losses(predictions, batch, stage)
        loss = multitask_loss(losses, self.hparams.aux_weight)
        return self.record_objective(loss, losses, batch, predictions, stage)


if __name__ == "__main__":
    # Input the recipe cannot use (corpus, folders, checkpoints) ends the run with its message; bugs keep their
    # traceback.
    with input_errors_end_the_run():
        # Command line, DDP, hyperparameters and the experiment folder
        hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
        overrides = with_test_fold(overrides)
        # Every setting, then the corpus, is checked first, before the yaml builds anything expensive (the backbone)
        settings = checked_settings(hparams_file, overrides, run_opts)
        check_run_corpus(settings)
        sb.utils.distributed.ddp_init_group(run_opts)
        # The experiment folder and its log, then the fold's manifests, written once (main process; unchanged options
        # skip the work), before the yaml builds the model: its heads have the corpus's classes and scales
        sb.create_experiment_directory(experiment_directory=settings["output_folder"])
        run_on_main(prepare_run_fold, args=[settings, sys.argv])
        overrides = with_task_classes(overrides, settings["manifest_folder"])
        with open(hparams_file, encoding="utf-8") as fin:
            hparams = load_hyperpyyaml(fin, overrides)
        # The run's hyperparameters as built, the corpus's classes included
        sb.create_experiment_directory(
            experiment_directory=hparams["output_folder"],
            hyperparams_to_save=hparams_file,
            overrides=overrides,
            save_env_desc=False,
        )

        # Datasets, label encoders and tokenizer; utterances that cannot be used are left out by name
        datasets, label_encoders, tokenizer = dataio_prepare(hparams)
        datasets, left_out = leave_out_unusable(datasets, hparams)

        brain = Stage1Brain(
            modules=hparams["modules"],
            opt_class=hparams["opt_class"],
            hparams=hparams,
            run_opts=run_opts,
            checkpointer=hparams["checkpointer"],
        )
        brain.label_encoders, brain.tokenizer, brain.left_out_utterances = label_encoders, tokenizer, left_out

        # Training with model selection by the validation selection_metric (UA) and early stopping on it if
        # --patience is given, then the test of the selected checkpoint
        brain.fit(
            brain.hparams.epoch_counter,
            datasets["train"],
            datasets["valid"],
            train_loader_kwargs=train_loader_kwargs(datasets["train"], hparams),
            valid_loader_kwargs=hparams["test_dataloader_opts"],
        )
        brain.evaluate(
            datasets["test"], max_key=hparams["selection_metric"], test_loader_kwargs=hparams["test_dataloader_opts"]
        )
        leave_process_group()
