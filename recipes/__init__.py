"""The recipe's programs (the files here) and their parts (the sub-packages). See README, "Layout"."""

import os

# The repository's root: the train scripts, hparams/, experiments.yaml and the requirements files are read from it,
# and the stages run from it, wherever a program is started.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
