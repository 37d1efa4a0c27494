#!/usr/bin/env python3
"""Stage 1: finetune a wav2vec 2.0 for speech emotion recognition with an auxiliary CTC (ASR) task.

The whole SSL model trains (CNN feature encoder frozen) with ``(1 - l) L_emo + l L_asr``, l = 0.1, on one
IEMOCAP leave-one-session-out fold. The checkpoint with the best validation UA is kept, evaluated on the
held-out session (``<output_folder>/test_metrics.json``: WA, UA, WER, per-class recall, confusion matrix)
and is what stage 2 starts from. Overrides give Table 1's single-stage rows (see hparams/stage1.yaml).

To run::

    python train_stage1.py hparams/stage1.yaml --data_folder /path/to/IEMOCAP_full_release \
        --test_session 1 --output_folder results/stage1/fold1

Running the same command again resumes from the last checkpoint.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import sys

from custom_modules.errors import input_errors_end_the_run
from custom_modules.experiment import fit_and_evaluate, prepare_fold_data, setup_experiment

if __name__ == "__main__":
    # Input the recipe cannot use (corpus, folders, checkpoints) ends the run with its message; bugs keep their
    # traceback.
    with input_errors_end_the_run():
        hparams, run_opts = setup_experiment(sys.argv[1:])
        datasets, label_encoders, tokenizer = prepare_fold_data(hparams)

        # Stage 1 starts from the pretrained backbone; `finetune` (full by default) decides what trains.
        fit_and_evaluate(hparams, run_opts, datasets, label_encoders, tokenizer)
