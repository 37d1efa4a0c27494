#!/usr/bin/env python3
"""Stage 2: adapt the frozen stage-1 encoder with LoRA and bottleneck adapters for emotion, gender and style.

The stage-1 encoder selected by validation UA is loaded bit for bit and frozen; LoRA (q/k/v projections)
and bottleneck adapters (after each feed-forward output projection) are inserted in every Transformer layer,
and a bottleneck adapter per task after mean pooling gives x_emo, x_gender, x_style. The emotion classifier
reads concat(x_emo, x_gender, x_style) (feature fusion) and a self-contrastive loss pulls the three latents
together: ``(1 - 2b) L_emo + b L_gender + b L_style + g SCL``. Overrides give Table 2 and Table 3's rows
(see hparams/stage2.yaml).

To run::

    python train_stage2.py hparams/stage2.yaml --data_folder /path/to/IEMOCAP_full_release \
        --test_session 1 --stage1_folder results/stage1/fold1 --output_folder results/stage2/fold1

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
from custom_modules.handoff import check_same_fold, check_stage1_split, load_stage1_encoder
from custom_modules.losses import multitask_loss, self_contrastive_loss
from custom_modules.settings import checked_settings


class Stage2Brain(MultiTaskSERBrain):
    """Stage 2 (Tables 2 and 3): the stage-1 model, frozen, with new adapters; emotion, gender and style heads,
    feature fusion and the self-contrastive loss (SCL).

    What trains is ``finetune``'s choice (adapters by default); the forward pass, the per-task losses and the
    bookkeeping are the shared Brain's.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.hparams.scl != "none" and len(self.hparams.heads.utterance_tasks) < 2:
            raise ValueError(
                f"scl: {self.hparams.scl} aligns the emotion latent with the gender and style latents: add gender "
                "or style (the paper: both) to aux_tasks."
            )

    def compute_objectives(self, predictions, batch, stage):
        """``(1 - 2b) L_emo + b L_gender + b L_style + g SCL`` (b = 0.1, g = 1): the multi-task loss of the
        heads plus the SCL on the latents of each utterance (x_emo, x_gender, x_style; two of them in the
        ablations that keep one auxiliary task)."""
        losses = self.task_losses(predictions, batch, stage)
        loss = multitask_loss(losses, self.hparams.aux_weight)
        if self.hparams.scl != "none":
            latents = predictions["latents"]
            losses["scl"] = self_contrastive_loss(list(latents.values()), self.hparams.scl)
            loss = loss + self.hparams.scl_weight * losses["scl"]
        return self.record_objective(loss, losses, batch, predictions, stage)


if __name__ == "__main__":
    # Input the recipe cannot use (corpus, folders, checkpoints) ends the run with its message; bugs keep their
    # traceback.
    with input_errors_end_the_run():
        # Command line, DDP, hyperparameters (the yaml checks --stage1_folder and builds stage 1's backbone
        # from what it saved) and the experiment folder
        hparams_file, run_opts, overrides = sb.parse_arguments(sys.argv[1:])
        overrides = with_test_fold(overrides)
        # Every setting, then the corpus, is checked first, before the yaml builds anything expensive (the backbone)
        settings = checked_settings(hparams_file, overrides, run_opts)
        check_run_corpus(settings)
        # Stage 2 is tested and validated on stage 1's utterances: checked before anything is written
        check_stage1_split(settings["stage1_folder"], settings)
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

        # The same test and validation utterances as stage 1, now that this run's manifests exist
        check_same_fold(hparams["stage1_folder"], hparams["manifest_folder"])

        # Datasets, label encoders and tokenizer; utterances that cannot be used are left out by name
        datasets, label_encoders, tokenizer = dataio_prepare(hparams)
        datasets, left_out = leave_out_unusable(datasets, hparams)

        # The hand-off: stage 1's encoder of best validation UA, bit for bit, then the adapters on top of it
        load_stage1_encoder(hparams["encoder"], hparams["stage1_folder"])

        brain = Stage2Brain(
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
