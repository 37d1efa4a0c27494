"""The multi-task Brain that stage 1 and stage 2 share.

Both stages run the same computation: SSL encoder -> ``MultiTaskHeads`` -> a loss per task (cross-entropy for
emotion, gender and style, 1 - CCC for the dimension tasks, CTC for ASR), with metrics over whole sets, model
selection by the validation ``selection_metric`` (UA; or the dimensions' mean CCC), early stopping on it
(``patience``), safe checkpoints and the test outputs. Each train script subclasses it with the objective of its stage
(``compute_objectives``): ``train_stage1.Stage1Brain`` and ``train_stage2.Stage2Brain``.

Authors
 * SER two-stage adapters recipe contributors, 2026
"""

import dataclasses
import json
import os
import time
from collections import defaultdict

import speechbrain as sb
import torch
import torch.nn.functional as F
from speechbrain.utils.distributed import ddp_barrier, if_main_process
from speechbrain.utils.logger import get_logger
from speechbrain.utils.run_opts import RunOptions
from torch.nn import SyncBatchNorm
from torch.nn.parallel import DistributedDataParallel as DDP

from custom_modules.constants import BLANK_INDEX, PREPARATION_RECORD
from custom_modules.ctc_units import decode_units
from custom_modules.early_stopping import shortfall, training_end
from custom_modules.handoff import read_model_config, write_model_config
from custom_modules.losses import asr_ctc_loss, ccc_loss, emotion_class_weights
from custom_modules.metrics import ClassificationMetrics, DimensionMetrics
from custom_modules.metrics_log import append_record

logger = get_logger(__name__)


class MultiTaskSERBrain(sb.Brain):
    """Emotion recognition with optional ASR, gender, style and dimension tasks: what both stages share.

    Expects in ``modules``: ``encoder`` (``SSLEncoder``) and ``heads`` (``MultiTaskHeads``); in ``hparams``:
    ``aux_weight``, ``lr``, ``head_lr``, ``opt_class``, ``train_logger``, ``output_folder``, ``epoch_counter``,
    ``error_rate_computer``, ``wav2vec2_hub``, ``class_weights``, ``selection_metric``, ``metrics_log``. Set
    ``label_encoders``, ``tokenizer`` and ``left_out_utterances`` (``custom_modules.data.leave_out_unusable``) after
    construction, as SpeechBrain recipes set a tokenizer.
    Subclasses define ``compute_objectives`` from ``task_losses`` and end it with ``record_objective``.
    """

    def __init__(self, modules=None, opt_class=None, hparams=None, run_opts=None, checkpointer=None):
        run_opts = with_layerdrop_under_ddp(modules["encoder"], run_opts or {})
        super().__init__(modules, opt_class, hparams, run_opts, checkpointer)
        self.nonfinite_batches = []
        self.left_out_utterances = {}
        # The emotion cross-entropy's class weights (label -> weight; None: unweighted), and as a tensor
        self.emotion_class_weights = None
        self.emotion_weights = None
        # How training ended (custom_modules.early_stopping.training_end), known once fit is over
        self.training_end = None

    def compute_forward(self, batch, stage):
        """Waveforms -> encoder frames -> every head's log-probabilities and latents."""
        batch = batch.to(self.device)
        wavs, wav_lens = batch.sig
        return self.modules.heads(*self.modules.encoder(wavs, wav_lens, utterance_ids=batch.id))

    def task_losses(self, predictions, batch, stage):
        """One loss per task: cross-entropy of each label task (emotion's weighted by ``class_weights``), 1 - CCC
        of each dimension task, CTC of ASR. Records the predictions for the stage's metrics (and the transcripts
        outside training).

        Returns
        -------
        dict
            Task -> scalar loss.
        """
        losses = {}
        for task in self.hparams.heads.utterance_tasks:
            if task in self.hparams.heads.dimension_tasks:
                targets = getattr(batch, f"{task}_value").data.squeeze(-1)
                losses[task] = ccc_loss(predictions[task], targets)
                self.dimension_metrics[task].append(batch.id, predictions[task], targets)
                continue
            targets = getattr(batch, f"{task}_encoded").data.squeeze(-1)
            weight = self.emotion_weights if task == "emo" and self.emotion_weights is not None else None
            losses[task] = F.nll_loss(predictions[task], targets, weight=weight)
            self.task_metrics[task].append(batch.id, predictions[task].argmax(dim=-1), targets)
        if "asr" in predictions:
            tokens, token_lens = batch.tokens
            frame_lens = predictions["frame_lens"]
            losses["asr"] = asr_ctc_loss(predictions["asr"], tokens, frame_lens, token_lens, self.hparams.ctc_reduction)
            if stage != sb.Stage.TRAIN:
                self._record_transcripts(batch, predictions["asr"], frame_lens, tokens, token_lens)
        return losses

    def record_objective(self, loss, losses, batch, predictions, stage):
        """Books a batch's objective: per-loss averages for the log, the test predictions, and a non-finite loss
        named by its utterances (SpeechBrain then skips the step). Returns ``loss``."""
        if not torch.isfinite(loss):
            self.nonfinite_batches.append(
                {"ids": list(batch.id), "losses": {k: float(v.detach()) for k, v in losses.items()}}
            )
            logger.warning(
                "Non-finite loss %s on the batch of %s: it does not update the model.",
                self.nonfinite_batches[-1]["losses"],
                list(batch.id),
            )
            return loss
        for name, value in losses.items():
            self.loss_sums[name] += float(value.detach())
        self.loss_batches += 1
        if stage == sb.Stage.TEST:
            self._record_predictions(batch, predictions)
        return loss

    def compute_objectives(self, predictions, batch, stage):
        """Each stage's objective, defined by its train script."""
        raise NotImplementedError("Use the Brain of train_stage1.py or train_stage2.py, which define the objective.")

    def on_fit_start(self):
        """Recovers the latest checkpoint, then drops the metric records of epochs that checkpoint does not hold
        (logged by a run killed before it could checkpoint them), so a resumed run records every epoch once
        (``custom_modules.train_logging``). Saves the model's settings beside its checkpoints
        (``custom_modules.handoff``)."""
        super().on_fit_start()
        self._set_class_weights()
        # A train_logger without records by epoch (any SpeechBrain TrainLogger) has nothing to drop.
        if hasattr(self.hparams.train_logger, "forget_epochs_after"):
            self.hparams.train_logger.forget_epochs_after(self.hparams.epoch_counter.current)
        if if_main_process():
            write_model_config(
                self.hparams.output_folder,
                self.hparams.encoder,
                self.hparams.heads,
                self.hparams.wav2vec2_hub,
                getattr(self.hparams, "stage1_folder", None),
                ctc_units=self.hparams.ctc_units,
                bpe_vocab_size=self.hparams.bpe_vocab_size,
                selection_metric=self.hparams.selection_metric,
            )

    def _set_class_weights(self):
        """The emotion cross-entropy's class weights (``class_weights``) from the training split's counts, logged
        with the counts of every split."""
        counts = self._corpus_record()["split_counts"]
        weights = emotion_class_weights(counts["train"], self.hparams.class_weights)
        logger.info(
            "Emotion classes per split: %s; class weights: %s",
            "; ".join(f"{split} {split_counts}" for split, split_counts in counts.items()),
            "none (every utterance counts the same)" if weights is None else weights,
        )
        self.emotion_class_weights = weights
        if weights is not None:
            labels = self.task_labels("emo")
            self.emotion_weights = torch.tensor([weights[label] for label in labels], device=self.device)

    def on_evaluate_start(self, max_key=None, min_key=None):
        """Records how training ended (early stopping, or every epoch) from the counter of the last checkpoint,
        before SpeechBrain loads the best one for the test."""
        self.training_end = training_end(self.hparams.epoch_counter, self.hparams.selection_metric)
        if if_main_process():
            append_record(self.hparams.metrics_log, {"training_end": self.training_end})
        logger.info("Training ended: %s.", self.training_end["reason"])
        super().on_evaluate_start(max_key=max_key, min_key=min_key)

    def make_dataloader(self, dataset, stage, ckpt_prefix="dataloader-", **loader_kwargs):
        """SpeechBrain's dataloader; a training ``batch_sampler`` given in the options is seeded every epoch.

        SpeechBrain calls ``set_epoch()`` only on samplers it builds itself. Without it ``DynamicBatchSampler``
        re-permutes its previous order after every epoch, so the batches of epoch N would depend on the history
        of the process and a resumed run would see other batches than an uninterrupted one; with it they depend
        on (seed, N) only.
        """
        loader = super().make_dataloader(dataset, stage, ckpt_prefix, **loader_kwargs)
        if stage == sb.Stage.TRAIN and loader_kwargs.get("batch_sampler") is not None:
            self.train_sampler = loader_kwargs["batch_sampler"]
        return loader

    def check_loss_isfinite(self, loss):
        """SpeechBrain's check (skip the batch, stop after ``nonfinite_patience``) with the utterances named."""
        try:
            super().check_loss_isfinite(loss)
        except ValueError as error:
            batches = "; ".join(", ".join(b["ids"]) for b in self.nonfinite_batches[-3:])
            raise ValueError(
                f"The loss was not finite on {self.nonfinite_count} batches (more than nonfinite_patience="
                f"{self.nonfinite_patience}); the last ones held {batches}. Check these utterances' audio and "
                "transcripts, or lower the learning rate."
            ) from error

    def on_stage_start(self, stage, epoch=None):
        """Fresh accumulators: metrics are computed over the whole set, not averaged over batches."""
        dimension_tasks = self.hparams.heads.dimension_tasks
        self.task_metrics = {
            task: ClassificationMetrics(self.task_labels(task))
            for task in self.hparams.heads.utterance_tasks
            if task not in dimension_tasks
        }
        self.dimension_metrics = {task: DimensionMetrics() for task in dimension_tasks}
        self.wer_metrics = self.hparams.error_rate_computer()
        self.loss_sums = defaultdict(float)
        self.loss_batches = 0
        self.test_records = []
        self.hypotheses = {}
        self.stage_start_time = time.time()

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Logs the stage, tells the early stopper the validation metric, keeps the checkpoint with the best
        validation ``selection_metric``, writes the test metrics."""
        stats = self._stage_stats(stage_loss)
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
        elif stage == sb.Stage.VALID:
            lrs = {f"lr_{name.split('_')[0]}": opt.param_groups[0]["lr"] for name, opt in self.optimizers_dict.items()}
            self.hparams.train_logger.log_stats(
                stats_meta={"epoch": epoch, **lrs},
                train_stats=self.train_stats,
                valid_stats=stats,
            )
            selection = self.hparams.selection_metric
            if hasattr(self.hparams.epoch_counter, "update_metric"):
                # Before the checkpoint is saved: the counter's state (stopped or not) is part of it.
                self.hparams.epoch_counter.update_metric(shortfall(selection, stats.get(selection, 0.0)))
            self.checkpointer.save_and_keep_only(
                meta={key: stats[key] for key in ("UA", "WA", "CCC") if key in stats} | {"epoch": epoch},
                max_keys=[selection],
                num_to_keep=1,
            )
        else:
            epoch_loaded = self.hparams.epoch_counter.current
            self.hparams.train_logger.log_stats(stats_meta={"epoch loaded": epoch_loaded}, test_stats=stats)
            if if_main_process():
                self._write_test_outputs(stats, epoch_loaded)

    def init_optimizers(self):
        """One optimizer per trained module: encoder (``lr``) and heads (``head_lr``).

        Two optimizers rather than two parameter groups of one, because SpeechBrain clips the gradient norm
        of each optimizer's first parameter group only: with groups, the heads would never be clipped.
        """
        self.optimizers_dict = {}
        for name, module, lr in (
            ("encoder", self.modules.encoder, self.hparams.lr),
            ("heads", self.modules.heads, self.hparams.head_lr),
        ):
            parameters = [p for p in module.parameters() if p.requires_grad]
            if parameters:  # a frozen encoder has nothing to optimize
                self.optimizers_dict[f"{name}_optimizer"] = self.hparams.opt_class(parameters, lr=lr)
        self.optimizer = next(iter(self.optimizers_dict.values()))
        if self.checkpointer is not None:
            for name, optimizer in self.optimizers_dict.items():
                self.checkpointer.add_recoverable(name, optimizer)

    def _wrap_distributed(self):
        """SpeechBrain's DDP wrapping, with ``find_unused_parameters`` for the encoder only.

        It is on because of LayerDrop (``with_layerdrop_under_ddp``), which skips encoder layers only;
        every parameter of the heads gets a gradient at every step, and searching them would cost a traversal of
        the autograd graph per step and a PyTorch warning that nothing was found.
        """
        if not (self.distributed_launch and self.find_unused_parameters):
            return super()._wrap_distributed()
        for name, module in self.modules.items():
            if any(p.requires_grad for p in module.parameters()):
                self.modules[name] = DDP(
                    SyncBatchNorm.convert_sync_batchnorm(module),
                    device_ids=None if self.distributed_backend == "gloo" else [self.device],
                    find_unused_parameters=name == "encoder",
                )

    def check_gradients(self):
        """Drops every gradient of a step if any is not finite, with one fused check.

        SpeechBrain's version tests each parameter separately (a device sync per tensor, about 5% of a tiny
        model's step); dropping the whole step is also safer than updating with part of the gradients.
        """
        gradients = [p.grad for p in self.modules.parameters() if p.requires_grad and p.grad is not None]
        if gradients and not torch.isfinite(torch.nn.utils.get_total_norm(gradients)):
            logger.warning("Non-finite gradients: this step does not update the model.")
            for parameter in self.modules.parameters():
                parameter.grad = None

    def _stage_stats(self, stage_loss):
        stats = {"loss": stage_loss}
        stats.update({f"loss_{k}": v / max(self.loss_batches, 1) for k, v in self.loss_sums.items()})
        for task, metrics in self.task_metrics.items():
            summary = metrics.summarize()
            prefix = "" if task == "emo" else f"{task}_"
            stats[f"{prefix}UA"] = summary["UA"]
            stats[f"{prefix}WA"] = summary["WA"]
        values = []
        for task, metrics in self.dimension_metrics.items():
            ccc = metrics.summarize()["CCC"]
            if ccc is not None:
                stats[f"{task}_CCC"] = ccc
                values.append(ccc)
        if values:
            # The mean CCC of the dimension tasks (selection_metric: CCC).
            stats["CCC"] = sum(values) / len(values)
        if self.wer_metrics.scores:
            stats["WER"] = self.wer_metrics.summarize("error_rate")
        return stats

    def _record_transcripts(self, batch, log_probs, frame_lens, tokens, token_lens):
        hypotheses = sb.decoders.ctc_greedy_decode(log_probs, frame_lens, blank_id=BLANK_INDEX)
        # Words, whatever the units: WER compares the same thing under ctc_units char and bpe.
        predicted = [decode_units(self.tokenizer, h).split() for h in hypotheses]
        targets = sb.utils.data_utils.undo_padding(tokens, token_lens)
        references = [decode_units(self.tokenizer, t).split() for t in targets]
        self.wer_metrics.append(batch.id, predicted, references)
        self.hypotheses.update((utt_id, " ".join(words)) for utt_id, words in zip(batch.id, predicted))

    def _record_predictions(self, batch, predictions):
        for i, utt_id in enumerate(batch.id):
            record = {"id": utt_id}
            for task in self.hparams.heads.dimension_tasks:
                value = float(getattr(batch, f"{task}_value").data[i])
                record[task] = None if value != value else value
                record[f"{task}_pred"] = round(float(predictions[task][i]), 6)
            for task in self.task_metrics:
                labels = self.task_labels(task)
                record[task] = labels[int(getattr(batch, f"{task}_encoded").data[i])]
                record[f"{task}_pred"] = labels[int(predictions[task][i].argmax())]
                record[f"{task}_prob"] = [round(p, 6) for p in predictions[task][i].exp().tolist()]
            self.test_records.append(record)

    def task_labels(self, task):
        """A task's labels in the model's order (its classifier's outputs), as the fold's data gave them."""
        encoder = self.label_encoders[task]
        return tuple(encoder.ind2lab[index] for index in range(len(encoder)))

    def _corpus_record(self):
        """What this fold was prepared from and how (``corpora/folds.py``'s record): the corpus, its protocol and
        held-out fold, the 4-class (or the corpus's) counts of all splits and of each split, and the leakage guard's
        findings."""
        with open(os.path.join(self.hparams.manifest_folder, PREPARATION_RECORD), encoding="utf-8") as handle:
            record = json.load(handle)
        options, summary = record["options"], record["summary"]
        return {
            "name": summary.get("corpus", "iemocap"),
            **summary["total"],
            "matches_full_release": summary["matches_full_release"],
            "protocol": options.get("protocol", "sessions"),
            "held_out": summary.get("held_out"),
            "split_counts": {split: stats["emo"] for split, stats in summary["splits"].items()},
            "leakage_guard": {k: v for k, v in summary.get("leakage_guard", {}).items() if k != "speakers"},
        }

    def _write_test_outputs(self, stats, epoch_loaded):
        summaries = {task: metrics.summarize() for task, metrics in self.task_metrics.items()}
        dimensions = {task: metrics.summarize() for task, metrics in self.dimension_metrics.items()}
        skipped = self.left_out_utterances
        corpus = self._corpus_record()
        metrics = {
            **summaries["emo"],
            "epoch": epoch_loaded,
            "test_fold": self.hparams.test_fold,
            "loss": stats["loss"],
            "parameters": parameter_counts([self.hparams.encoder, self.hparams.heads]),
            # Every utterance the splits lost, at preparation or before training (a test set of `count`
            # utterances is complete only if left_out_utterances["test"] is 0), and why.
            "left_out_utterances": {split: len(items) for split, items in skipped.items()},
            "left_out_reasons": {split: items for split, items in skipped.items() if items},
            "settings": {
                "wav2vec2_hub": read_model_config(self.hparams.output_folder)["backbone"]["source"],
                **{
                    key: self.hparams.__dict__.get(key)
                    for key in (
                        "finetune",
                        "aux_tasks",
                        "aux_weight",
                        "task_adapters",
                        "task_adapter_residual",
                        "fusion",
                        "scl",
                        "scl_weight",
                        "ctc_reduction",
                        "spec_augment",
                        "class_weights",
                        "patience",
                        "selection_metric",
                        "seed",
                        # what a comparison with the paper needs to know (recipes/reports/paper_comparison.py)
                        "number_of_epochs",
                        "batch_size",
                        "grad_accumulation_factor",
                        "lr",
                    )
                },
            },
            "corpus": corpus,
            # The emotion cross-entropy's weights, label -> weight (None: unweighted, the paper's).
            "class_weights": self.emotion_class_weights,
            "training_end": self.training_end,
        }
        if corpus["protocol"] == "sessions":
            metrics["test_session"] = self.hparams.test_fold
        for task in summaries:
            if task != "emo":
                metrics[f"{task}_UA"] = summaries[task]["UA"]
                metrics[f"{task}_WA"] = summaries[task]["WA"]
                metrics[task] = summaries[task]
        for task, summary in dimensions.items():
            metrics[f"{task}_CCC"] = summary["CCC"]
            metrics[task] = summary
        if "CCC" in stats:
            metrics["CCC"] = stats["CCC"]
        if "WER" in stats:
            metrics["WER"] = stats["WER"]
        for record in self.test_records:
            if record["id"] in self.hypotheses:
                record["hypothesis"] = self.hypotheses[record["id"]]
        output_folder = self.hparams.output_folder
        with open(os.path.join(output_folder, "test_metrics.json"), "w", encoding="utf-8") as handle:
            json.dump(metrics, handle, indent=2)
        with open(os.path.join(output_folder, "test_predictions.json"), "w", encoding="utf-8") as handle:
            json.dump(self.test_records, handle, indent=1)


def with_layerdrop_under_ddp(encoder, run_opts):
    """The run options, with DDP told to look for unused parameters when the encoder uses LayerDrop.

    LayerDrop skips Transformer layers at random, and each DDP process draws its own: a layer one process skips
    has no gradient there (nor have its adapters in stage 2), and DDP, by default, waits for every gradient
    before it averages them, so the processes wait for each other forever at the first step. With
    ``find_unused_parameters`` DDP counts the skipped parameters as done, the recipe's regularisation stays the
    one a single-process run gets, at the cost of a search through the autograd graph every step. (DDP still
    cannot cope with a step in which one process skips every layer holding trainable parameters, as stage 2's
    adapters are: with 12 or 24 layers at 0.1 that happens with probability 1e-12 or less.)

    Only ``find_unused_parameters`` is added to the options given on the command line. SpeechBrain takes every
    key of a plain dict as given on the command line, so returning one (``{**run_opts, ...}``) would replace the
    yaml's run options (``skip_nonfinite_grads``, ``ckpt_interval_minutes``, ``max_grad_norm``, ...) with
    SpeechBrain's defaults.

    Arguments
    ---------
    encoder : custom_modules.encoder.SSLEncoder
    run_opts : speechbrain.utils.run_opts.RunOptions or dict
        As ``sb.parse_arguments`` returns them (a dict counts as given on the command line, key by key).

    Returns
    -------
    The same type as ``run_opts``.

    Example
    -------
    >>> class Encoder:
    ...     layerdrop = 0.1
    >>> with_layerdrop_under_ddp(Encoder(), {"device": "cpu"})  # one process (no RANK): nothing to change
    {'device': 'cpu'}
    """
    if os.environ.get("RANK") is None or encoder.layerdrop == 0 or run_opts.get("find_unused_parameters"):
        return run_opts
    logger.info(
        "LayerDrop %.2f skips layers at random: DDP runs with find_unused_parameters for the encoder, since each "
        "process skips its own layers (PyTorch's warning that it found no unused parameters comes from a step "
        "that skipped none).",
        encoder.layerdrop,
    )
    if isinstance(run_opts, RunOptions):
        return dataclasses.replace(
            run_opts,
            find_unused_parameters=True,
            overridden_args=set(run_opts.overridden_args) | {"find_unused_parameters"},
        )
    return {**run_opts, "find_unused_parameters": True}


def leave_process_group(grace_seconds=1.0):
    """Ends this process's part in DDP (nothing without DDP), as PyTorch asks of every process before it exits.

    A gloo worker thread releases the tensors of a finished collective a moment after the collective returns,
    and it needs the GIL to do so; if the interpreter is shutting down by then, the thread is stopped inside
    C++ code and the whole process aborts ("terminate called without an active exception", SIGABRT) after a
    run that finished. ``destroy_process_group`` cannot stop those threads (the DDP wrapper keeps its process
    group alive until the process ends), so this waits, with the GIL released, for them to finish: once per
    run, ``grace_seconds`` after the last barrier. (Measured: a 2-process broadcast-then-barrier script aborted
    at exit 6 times in 20 without the wait, 0 in 30 with one second.)

    Arguments
    ---------
    grace_seconds : float
        How long the gloo threads get to drop what they hold once every process has reached the end.
    """
    if not torch.distributed.is_initialized():
        return
    ddp_barrier()
    torch.distributed.destroy_process_group()
    time.sleep(grace_seconds)


def parameter_counts(modules):
    """Trainable and total parameters of the given modules (a parameter shared between them counts once).

    Arguments
    ---------
    modules : list of torch.nn.Module

    Returns
    -------
    dict
        ``trainable``, ``total``, ``trainable_share``.

    Example
    -------
    >>> frozen, trained = torch.nn.Linear(2, 2), torch.nn.Linear(2, 1)
    >>> frozen.requires_grad_(False)
    Linear(in_features=2, out_features=2, bias=True)
    >>> parameter_counts([frozen, trained])
    {'trainable': 3, 'total': 9, 'trainable_share': 0.3333333333333333}
    """
    parameters = {id(p): p for module in modules for p in module.parameters()}.values()
    trainable = sum(p.numel() for p in parameters if p.requires_grad)
    total = sum(p.numel() for p in parameters)
    return {"trainable": trainable, "total": total, "trainable_share": trainable / total}
