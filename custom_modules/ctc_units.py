"""The units of the ASR (CTC) head: characters (the default) or subword pieces (``ctc_units: bpe``).

The paper's lineage predicts characters; ``bpe`` predicts SentencePiece pieces learned from the fold's training
transcripts (``custom_modules.data.ctc_tokenizer`` trains them). Both put the CTC blank at ``BLANK_INDEX`` (0):

- ``char``: SpeechBrain's ``CTCTextEncoder`` over ``CHARACTERS``, the blank inserted first;
- ``bpe``: a ``sentencepiece.SentencePieceProcessor`` whose id 0 is its padding piece, which encoding never emits,
  and whose unknown piece (id 1) is a unit like any other. SpeechBrain's LibriSpeech CTC recipe uses the unknown
  id 0 as the blank instead; then a character the training transcripts lack would be encoded as the blank, which
  a CTC target cannot hold, and a valid or test transcript holding one would have to be left out. Here it stays
  (its word is then mostly an error of the WER), so no transcript is unusable under ``bpe``.

Training (the data pipeline, the Brain's WER) and the exported model's inference (``EmotionRecognizer``) encode
and decode through the functions below, whichever of the two tokenizers they hold.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

from speechbrain.dataio.encoder import CTCTextEncoder

from custom_modules.constants import BLANK_INDEX, CTC_UNITS, CTC_VOCAB_SIZE
from custom_modules.errors import RecipeInputError

# SentencePiece's ids under ``bpe``: its padding piece is the CTC blank (see the module's docstring).
BPE_PAD_INDEX = BLANK_INDEX
BPE_UNK_INDEX = 1
# SentencePiece's model type: byte-pair merges, as the option's name says.
BPE_MODEL_TYPE = "bpe"


class CTCUnitsError(RecipeInputError, ValueError):
    """A ``ctc_units`` or ``bpe_vocab_size`` the recipe cannot use; the message names the option and the fix."""


def ctc_vocab_size(ctc_units, bpe_vocab_size):
    """The output size of the CTC head (blank included) for the chosen units; checks the two options.

    The yaml calls it before it builds the backbone, so a wrong value stops the run before anything is loaded.
    Whether SentencePiece can learn ``bpe_vocab_size`` pieces from a fold's transcripts is known only when it
    tries (``custom_modules.data.ctc_tokenizer``, before training starts).

    Arguments
    ---------
    ctc_units : str
        ``char`` or ``bpe`` (``CTC_UNITS``).
    bpe_vocab_size : int
        The SentencePiece vocabulary (padding = blank and unknown included); used with ``bpe`` only.

    Returns
    -------
    int

    Example
    -------
    >>> ctc_vocab_size("char", 100), ctc_vocab_size("bpe", 100)
    (29, 100)
    >>> ctc_vocab_size("word", 100)
    Traceback (most recent call last):
    ...
    custom_modules.ctc_units.CTCUnitsError: --ctc_units word is not one of char, bpe.
    """
    if ctc_units not in CTC_UNITS:
        raise CTCUnitsError(f"--ctc_units {ctc_units} is not one of {', '.join(CTC_UNITS)}.")
    if ctc_units == "char":
        return CTC_VOCAB_SIZE
    # bool is an int to Python, but True is no vocabulary size.
    if not isinstance(bpe_vocab_size, int) or isinstance(bpe_vocab_size, bool) or bpe_vocab_size < 3:
        raise CTCUnitsError(
            f"--bpe_vocab_size {bpe_vocab_size!r} is not a vocabulary size: give an integer of at least 3 (the blank, "
            "the unknown piece and one character)."
        )
    return bpe_vocab_size


def tokenizer_file(ctc_units, bpe_vocab_size):
    """Where a run keeps its CTC tokenizer, relative to its ``save_folder``.

    Example
    -------
    >>> tokenizer_file("char", 100), tokenizer_file("bpe", 100)
    ('tokenizer.txt', 'tokenizer/100_bpe.model')
    """
    if ctc_units == "char":
        return "tokenizer.txt"
    # The name SpeechBrain's SentencePiece gives the model it trains in <save_folder>/tokenizer.
    return f"tokenizer/{bpe_vocab_size}_{BPE_MODEL_TYPE}.model"


def ctc_record(ctc_units, bpe_vocab_size):
    """What rebuilds a run's CTC units without its yaml: saved in its ``model_config.json`` (``ctc``).

    Example
    -------
    >>> ctc_record("bpe", 100)
    {'units': 'bpe', 'vocab_size': 100, 'tokenizer': 'tokenizer/100_bpe.model'}
    """
    return {
        "units": ctc_units,
        "vocab_size": ctc_vocab_size(ctc_units, bpe_vocab_size),
        "tokenizer": tokenizer_file(ctc_units, bpe_vocab_size),
    }


def encode_transcript(tokenizer, transcript):
    """The unit ids of a transcript, blank excluded.

    Arguments
    ---------
    tokenizer : CTCTextEncoder or sentencepiece.SentencePieceProcessor
    transcript : str

    Returns
    -------
    list of int

    Example
    -------
    >>> from custom_modules.constants import CHARACTERS
    >>> chars = CTCTextEncoder()
    >>> chars.insert_blank(index=BLANK_INDEX)
    >>> chars.update_from_iterable(list(CHARACTERS), sequence_input=False)
    >>> encode_transcript(chars, "hi you")
    [10, 11, 1, 27, 17, 23]
    """
    if isinstance(tokenizer, CTCTextEncoder):
        return tokenizer.encode_sequence(list(transcript))
    return tokenizer.encode_as_ids(transcript)


def decode_units(tokenizer, ids):
    """The text of a sequence of unit ids (a CTC hypothesis without its blanks, or a target).

    Arguments
    ---------
    tokenizer : CTCTextEncoder or sentencepiece.SentencePieceProcessor
    ids : list of int

    Returns
    -------
    str

    Example
    -------
    >>> from custom_modules.constants import CHARACTERS
    >>> chars = CTCTextEncoder()
    >>> chars.insert_blank(index=BLANK_INDEX)
    >>> chars.update_from_iterable(list(CHARACTERS), sequence_input=False)
    >>> decode_units(chars, [10, 11, 1, 27, 17, 23])
    'hi you'
    """
    if isinstance(tokenizer, CTCTextEncoder):
        return "".join(tokenizer.decode_ndim(ids))
    return tokenizer.decode_ids([int(i) for i in ids])


def tokenizer_size(tokenizer):
    """The number of units of a tokenizer, blank included.

    Example
    -------
    >>> from custom_modules.constants import CHARACTERS
    >>> chars = CTCTextEncoder()
    >>> chars.insert_blank(index=BLANK_INDEX)
    >>> chars.update_from_iterable(list(CHARACTERS), sequence_input=False)
    >>> tokenizer_size(chars)
    29
    """
    if isinstance(tokenizer, CTCTextEncoder):
        return len(tokenizer)
    return tokenizer.vocab_size()
