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

from custom_modules.errors import input_errors_end_the_run
from custom_modules.experiment import (
    fit_and_evaluate,
    load_stage1_encoder,
    prepare_fold_data,
    setup_experiment,
)

if __name__ == "__main__":
    # Input the recipe cannot use (corpus, folders, checkpoints) ends the run with its message; bugs keep their
    # traceback.
    with input_errors_end_the_run():
        hparams, run_opts = setup_experiment(sys.argv[1:])
        datasets, label_encoders, tokenizer = prepare_fold_data(hparams)

        # The stage-1 encoder is loaded first and the adapters go on top of it: inserted before loading, LoRA
        # would rename the q/k/v weights and the stage-1 values would not reach them.
        load_stage1_encoder(hparams)
        hparams["encoder"].insert_adapters()

        fit_and_evaluate(hparams, run_opts, datasets, label_encoders, tokenizer)
