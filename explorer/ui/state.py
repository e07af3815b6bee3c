"""The explorer's one state object: inputs as ``param`` parameters, results, messages.

The views in :mod:`explorer.ui.app` render this state; tests drive it directly. Every
action that can fail (:meth:`ExplorerState.load_model`, :meth:`~ExplorerState.load_locus`,
:meth:`~ExplorerState.set_region`, :meth:`~ExplorerState.compute`) reports the problem in
``message`` and leaves the previous model, locus and results in place.
"""

from __future__ import annotations

import re
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

import pandas as pd
import param
import torch

import explorer as ex
from explorer.io.samples import SAMPLE_BOOKMARKS, SAMPLE_DATA, SAMPLE_LOCUS, SAMPLE_MODEL, YEAST_BOOKMARKS
from explorer.plots.transforms import visible_indices
from explorer.ui.files import UPLOAD_WHAT, checked_path, default_roots, pickles_allowed, write_upload
from explorer.ui.files import upload_limits as default_upload_limits
from explorer.variants import variant_at

#: method name of :func:`explorer.attribute` -> label shown to people (the methods themselves,
#: and their options' defaults, come from the engine's table :data:`explorer.METHODS`)
METHOD_LABELS = {
    "ig": "Integrated gradients",
    "ism": "ISM (in-silico mutagenesis)",
    "deeplift_shap": "DeepLIFT/SHAP",
    "saliency": "Saliency (gradient x input)",
    "masked_distribution": "Expected bases when masked (logo, bits)",
}
#: label -> method, for the method selector: every method of the engine, labelled ones first
METHOD_CHOICES = {METHOD_LABELS.get(m, m): m
                  for m in [m for m in METHOD_LABELS if m in ex.METHODS] + [m for m in ex.METHODS if m not in METHOD_LABELS]}
#: the method selector for a masked language model (card kind ``masked_lm``): label -> method
LM_METHOD_CHOICES = {"ISM (masked log-likelihood ratio)": "ism",
                     METHOD_LABELS["masked_distribution"]: "masked_distribution"}
#: the one "target" of a masked language model (its methods explain every base)
LM_TARGET = "masked LM"


def method_choices(model) -> dict[str, str]:
    """The method selector's choices (label -> method) for ``model``: its card's kind decides."""
    return dict(LM_METHOD_CHOICES) if model is not None and ex.methods_for(model) == list(ex.LM_METHODS) \
        else dict(METHOD_CHOICES)
#: the ISM engine choice shown to people -> the ``fast`` option of :func:`explorer.attribute`
ISM_ENGINES = {"auto": "auto", "fast": True, "plain": False}
#: the most targets the task selector lists at once (a model with more, like an Enformer's 5,313
#: tracks, is searched with the target search box)
MAX_TASK_CHOICES = 50
#: how many predicted tracks the overview of a binned model shows at first
DEFAULT_TRACKS = 3
#: the overview of a binned model predicts at most this many inputs each side of the window's
#: (their bins joined end to end: an Enformer's whole 250 kb overview, a tiny model's neighbourhood)
TRACK_INPUTS_EACH_SIDE = 12
#: the largest context shown in the overview around the window, in bp
MAX_OVERVIEW = 250_000
#: the largest window the app explains at once, in bp, per method (CPU-friendly)
MAX_WINDOW = {"ism": 5_000, "ig": 20_000, "deeplift_shap": 20_000, "saliency": 50_000, "masked_distribution": 5_000}
#: JASPAR releases offered: those pyjaspar ships, newest first
JASPAR_RELEASES = ex.jaspar_releases()
JASPAR_COLLECTIONS = ["CORE", "UNVALIDATED", "CNE", "PHYLOFACTS", "SPLICE", "POLII", "FAM", "PBM", "PBM_HOMEO", "PBM_HLH"]
#: the seqlet caller's background: label -> choice (see :meth:`ExplorerState.motif_report`)
SEQLET_NULLS = {"the map itself": "map", "shuffled copies through the model (slower)": "model"}
#: p-value thresholds whose seqlet counts are shown beside the chosen one
SEQLET_THRESHOLDS = (0.001, 0.01, 0.05)
#: the inputs that decide which result is shown (see ExplorerState.back_to_shown)
SHOWN_INPUTS = ("region", "task", "method", "ig_baseline", "ig_steps", "n_shuffles", "dls_shuffles", "ism_fast")
#: the longest default window of a model that takes any length, in bp
DEFAULT_WINDOW = 2000
#: messages of the layers below, put in the app's words: (pattern, replacement)
APP_WORDS = [
    (r"load it with trusted=True;", "tick 'I trust this file' and load it again;"),
    (r"\(torch\.load with weights_only=True refused it\)", "(the safe reader refused it)"),
    (r"Save it with explorer\.save_checkpoint\([^)]*\) from a registered architecture, or export "
     r"TorchScript with explorer\.export_torchscript\([^)]*\)\.?",
     "Export the model as TorchScript (torch.jit.script or torch.jit.trace, then torch.jit.save) and load that file."),
    (r"Expected TorchScript \(torch\.jit\.save\) or a checkpoint written by explorer\.save_checkpoint\.?",
     "The app reads TorchScript files (torch.jit.save), explorer checkpoints and bpnet-lite models."),
    (r"Import the module that defines it \(decorated with @explorer\.register_architecture\([^)]*\)\) "
     r"before loading\.?", "The app does not know this network: export the model as TorchScript and load that file."),
    (r"(?:[Pp]ass|[Gg]ive) tasks=\[[^\]]*\]", "type the task names under Model: what was found"),
    (r"(?:[Pp]ass|[Gg]ive) heads=\[[^\]]*\]", "type the head names under Model: what was found"),
    (r"(?:[Pp]ass|[Gg]ive) input_length=\S+", "type the input length under Model: what was found"),
    (r"\(check_output=False\)", ""),
    (r"declares no structure \(model card 'structure', see explorer\.attribution\.structure\), so "
     r"receptive-field-local ISM cannot be used; plain ISM works for any model",
     "declares no layer structure, so the fast ISM engine does not apply: plain ISM was used (exact, slower)"),
    (r"use method='ig'", "use Integrated gradients"),
    (r"head_rule='ig' needs", "the integrated-gradients head rule needs"),
    (r"raise max_steps", "use more IG steps"),
    (r"n_steps=(\d+)", r"\1 IG steps"),
    (r"trusted=True", "'I trust this file'"),
    (r"\boutput=(\d+)", r"output \1"),
    (r"\bwindow=(\d+)", r"a window of \1 bp"),
]


def app_words(text: str) -> str:
    """A message of the layers below with Python's words (``tasks=[...]``, ``max_steps``)
    replaced by the app's."""
    for pattern, replacement in APP_WORDS:
        text = re.sub(pattern, replacement, text)
    return re.sub(r"\s{2,}", " ", text).strip()


JASPAR_TAXA = ["vertebrates", "plants", "insects", "nematodes", "fungi", "urochordates", "diatoms", "trematodes", "cnidaria", "all"]


@dataclass
class Job:
    """A finished computation, made in a worker thread and applied on the UI thread."""

    key: tuple
    method: str
    attribution: Any
    motifs: "MotifReport | None"
    seconds: float


@dataclass
class MotifReport:
    """Everything the motif views show for one attribution."""

    seqlets: pd.DataFrame
    matches: pd.DataFrame
    hits: pd.DataFrame
    agreement: Any
    database_name: str
    null: str = "map"
    threshold: float = 0.01
    counts: dict | None = None

    @property
    def seqlet_words(self) -> str:
        """How many seqlets the chosen setting and its neighbours give, in words."""
        against = "the model's background" if self.null == "model" else "the map itself"
        others = ", ".join(f"{n} at p < {t:g}" for t, n in sorted((self.counts or {}).items()) if t != self.threshold)
        return (f"**{len(self.seqlets)} seqlet{'s' if len(self.seqlets) != 1 else ''}** at p < {self.threshold:g} "
                f"against {against}" + (f" ({others})" if others else "") + ".")


@dataclass
class VariantView:
    """What the variant panel shows for one variant: its ref/alt maps, words and effect row."""

    refalt: Any
    words: str
    effect: pd.DataFrame


class JobState(param.Parameterized):
    """The computation under way: its generation (a newer one supersedes it), its progress and
    the part of an ISM map that has arrived."""

    generation = param.Integer(default=0, doc="incremented by every start and cancel")
    fraction = param.Number(default=0.0, bounds=(0, 1), doc="progress of the running job")
    chunks = param.List(default=[], doc="(lo, hi, values) ISM chunks from the worker thread")
    chunks_seen = param.Integer(default=0, doc="how many of ``chunks`` are in ``partial``")
    partial = param.Parameter(default=None, doc="the incomplete ISM Attribution shown meanwhile")

    def start(self) -> int:
        """A new job: reset progress and chunks; return its generation."""
        self.param.update(generation=self.generation + 1, fraction=0.0, chunks=[], chunks_seen=0, partial=None)
        return self.generation

    def cancel(self) -> None:
        """Supersede the running job (its result will be dropped)."""
        self.generation += 1

    def current(self, generation: int) -> bool:
        return generation == self.generation


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(SAMPLE_DATA))
    except ValueError:
        return str(path)


def method_options(params, method: str) -> dict:
    """Options for :func:`explorer.attribute` from an object with ExplorerState's inputs.

    ``params`` may be an :class:`ExplorerState` or the class itself (its defaults: what the
    app computes first, and what ``python -m explorer.warmup`` puts in the cache).
    """
    if method == "ig":
        return {"baseline": params.ig_baseline, "n_steps": params.ig_steps, "n_shuffles": params.n_shuffles}
    if method == "deeplift_shap":
        return {"n_shuffles": params.dls_shuffles}
    if method in ("ism", "masked_distribution"):
        return {"fast": ISM_ENGINES[params.ism_fast]}
    return {}


@lru_cache(maxsize=32)
def _cached_locus(path: str, mtime: float, region: str | None):
    """Loci read by the sessions of one server process (files keyed by their mtime), with the
    annotation file beside a FASTA when there is one (:func:`annotation_beside`)."""
    return ex.load_locus(path, region=region, annotations=annotation_beside(Path(path)))


#: names of an annotation file beside a FASTA ``<stem>.fa[.gz]``, tried in order
ANNOTATION_SUFFIXES = (".annotation.gtf.gz", ".gtf.gz", ".gtf", ".gff3.gz", ".gff3", ".gff", ".bed")


def annotation_beside(path: Path) -> Path | None:
    """``<stem><suffix>`` beside a FASTA file (e.g. ``sacCer3_chrIV.annotation.gtf.gz`` beside
    ``sacCer3_chrIV.fa.gz``), or None; other files carry their own annotation."""
    name = path.name[:-3] if path.name.endswith(".gz") else path.name
    stem, dot, ext = name.rpartition(".")
    if not dot or f".{ext}" not in (".fa", ".fasta", ".fna", ".fas"):
        return None
    return next((path.with_name(stem + s) for s in ANNOTATION_SUFFIXES if path.with_name(stem + s).is_file()), None)


def _read_locus(path: Path, region) -> "ex.Locus":
    return _cached_locus(str(path), path.stat().st_mtime, None if region is None else str(ex.parse_region(region)))


#: model scores along loci, shared by the sessions of one server process
_PREDICTIONS: dict[tuple, pd.DataFrame] = {}


def _predictions(model, locus, size: int, step: int, output: int | None = None) -> pd.DataFrame:
    hash_of = getattr(model, "content_hash", None)
    key = (hash_of() if hash_of else id(model), str(locus.region), hash(locus.sequence), size, step, output)
    if key not in _PREDICTIONS:
        if len(_PREDICTIONS) >= 32:
            _PREDICTIONS.clear()
        _PREDICTIONS[key] = ex.predict(model, locus, window=size, step=step, output=output)
    return _PREDICTIONS[key]


#: binned models' predicted tracks along loci (:func:`explorer.predict_tracks`), per process
_TRACKS: dict[tuple, pd.DataFrame] = {}


def _track_predictions(model, locus, tracks: tuple[str, ...], anchor: int) -> pd.DataFrame:
    hash_of = getattr(model, "content_hash", None)
    key = (hash_of() if hash_of else id(model), str(locus.region), hash(locus.sequence), tracks, anchor)
    if key not in _TRACKS:
        if len(_TRACKS) >= 32:
            _TRACKS.clear()
        _TRACKS[key] = ex.predict_tracks(model, locus, tracks=list(tracks), anchor=anchor)
    return _TRACKS[key]


def binned(model) -> bool:
    """Whether ``model``'s outputs are bins along its input (an Enformer or Borzoi)."""
    return model is not None and bool((getattr(model, "card", None) or {}).get("output_bins"))


def _shipped_bookmarks(locus) -> dict[str, str]:
    """The bookmarks shipped for ``locus``'s sequence (the sample's, the yeast demo's), or ``{}``."""
    for marks in (SAMPLE_BOOKMARKS, YEAST_BOOKMARKS):
        if locus.chrom == ex.parse_region(next(iter(marks.values()))).chrom and locus.source != "<pasted>":
            return dict(marks)
    return {}


class ExplorerState(param.Parameterized):
    """Inputs, results and messages of one explorer session."""

    # -- inputs (sidebar widgets are made from these) ----------------------------------
    model_path = param.String(default=_relative(SAMPLE_MODEL), label="Model file or folder",
                              doc="TorchScript file or checkpoint, or an Enformer/Borzoi folder (config.json and "
                                  "weights), relative to the data folders")
    targets_path = param.String(default="", label="Targets table of a model folder (blank: targets.txt in it)",
                                doc="the basenji targets.txt naming an Enformer's or Borzoi's tracks")
    trust_model = param.Boolean(default=False, label="I trust this file (allow a full pickle)",
                                doc="A full pickle can run arbitrary code when loaded")
    locus_path = param.String(default=_relative(SAMPLE_LOCUS), label="Locus file (FASTA or GenBank)")
    bookmark = param.Selector(default=next(iter(SAMPLE_BOOKMARKS)), objects=list(SAMPLE_BOOKMARKS),
                              label="Bookmarks", check_on_set=False)
    region = param.String(default=next(iter(SAMPLE_BOOKMARKS.values())),
                          label="Window to explain (chrom:start-end, 1-based)")
    pasted_sequence = param.String(default="", label="...or paste a sequence (FASTA or bases)")
    task = param.Selector(default=None, objects=[], label="Task (model output)", check_on_set=False,
                          doc="checked by _on_task: a typed or linked target is spelled or refused there")
    task_search = param.String(default="", label="Search targets (e.g. CAGE:HepG2, or A - B)",
                               doc="filters the task list (at most 50 shown); a whole target or contrast chooses it")
    shown_tracks = param.ListSelector(default=[], objects=[], label="Predicted tracks shown")
    method = param.Selector(default="ig", objects=METHOD_CHOICES, label="Attribution method")
    ig_baseline = param.Selector(default=ex.METHODS["ig"]["baseline"], objects=["shuffle", "zeros", "uniform"],
                                 label="IG baseline")
    ig_steps = param.Integer(default=ex.METHODS["ig"]["n_steps"], bounds=(8, 512), label="IG steps")
    n_shuffles = param.Integer(default=ex.METHODS["ig"]["n_shuffles"], bounds=(1, 100), label="IG: shuffled baselines")
    dls_shuffles = param.Integer(default=ex.METHODS["deeplift_shap"]["n_shuffles"], bounds=(1, 200),
                                 label="DeepLIFT/SHAP: shuffled references")
    ism_fast = param.Selector(default={v: k for k, v in ISM_ENGINES.items()}[ex.METHODS["ism"]["fast"]],
                              objects=list(ISM_ENGINES), label="ISM engine")
    jaspar_release = param.Selector(default="JASPAR2026" if "JASPAR2026" in JASPAR_RELEASES else JASPAR_RELEASES[0],
                                    objects=JASPAR_RELEASES, label="JASPAR release")
    jaspar_collection = param.Selector(default="CORE", objects=JASPAR_COLLECTIONS, label="Collection")
    jaspar_tax_group = param.Selector(default="vertebrates", objects=JASPAR_TAXA, label="Taxon")
    meme_path = param.String(default="", label="...or a MEME motif file")
    seqlet_null = param.Selector(default="map", objects=SEQLET_NULLS, label="Seqlet background")
    seqlet_threshold = param.Number(default=0.01, bounds=(1e-6, 1.0), label="Seqlet p-value threshold",
                                    doc="lower calls fewer, stronger seqlets")
    # -- corrections to what the loader found (the model panel) ------------------------------
    fix_tasks = param.String(default="", label="Task names (comma-separated)",
                             doc="one per output channel; for several outputs, one per head or per channel")
    fix_heads = param.String(default="", label="Head names (comma-separated, several outputs only)")
    fix_input_length = param.Integer(default=0, bounds=(0, None), label="Input length in bp (0: as found)")

    # -- state (no widgets) ------------------------------------------------------------
    model = param.Parameter(default=None, precedence=-1)
    locus = param.Parameter(default=None, precedence=-1, doc="context shown in the overview")
    window = param.Parameter(default=None, precedence=-1, doc="the Locus being explained")
    predictions = param.DataFrame(default=None, allow_None=True, precedence=-1)
    attribution = param.Parameter(default=None, precedence=-1, doc="result of the current method")
    ism = param.Parameter(default=None, precedence=-1, doc="ISM result of the current window/task")
    motifs = param.Parameter(default=None, precedence=-1, doc="MotifReport of the current result")
    model_summary = param.String(default="", precedence=-1, doc="what the loader found, in words (Markdown)")
    message = param.String(default="", precedence=-1)
    region_problem = param.String(default="", precedence=-1,
                                  doc="why the typed or linked region is not shown (until a valid one is)")
    task_problem = param.String(default="", precedence=-1,
                                doc="why the typed or linked target is not used (until a valid one is)")
    many_targets = param.Boolean(default=False, precedence=-1, doc="the model has more targets than a list shows")
    track_predictions = param.DataFrame(default=None, allow_None=True, precedence=-1,
                                        doc="a binned model's predicted tracks along the locus (predict_tracks)")
    message_kind = param.Selector(default="info", objects=["info", "success", "warning", "danger"], precedence=-1)
    diagnostics = param.String(default="", precedence=-1)
    busy = param.Boolean(default=False, precedence=-1)
    x_range = param.Tuple(default=None, length=2, allow_None=True, precedence=-1,
                          doc="1-based positions shown in the attribution tracks (None before the first draw)")
    substitution = param.String(default="", precedence=-1, doc="words on the clicked ISM cell")
    # -- variants -----------------------------------------------------------------------
    measured = param.DataFrame(default=None, allow_None=True, precedence=-1,
                               doc="measured variant effects placed on the locus")
    measured_name = param.String(default="", precedence=-1, doc="file name of the measured table")
    variant = param.Dict(default=None, allow_None=True, precedence=-1, doc="the variant shown (chrom, pos, ref, alt)")
    refalt = param.Parameter(default=None, precedence=-1,
                             doc="VariantView of the shown variant: maps, words and effect")
    job = param.ClassSelector(class_=JobState, precedence=-1, doc="the running computation")

    def __init__(self, model=None, locus=None, roots: list[Path] | None = None,
                 upload_limits: dict[str, int] | None = None, allow_pickles: bool | None = None, **params):
        params.setdefault("job", JobState())
        super().__init__(**params)
        #: full pickles may be opened (with 'I trust this file'): the operator's choice, read
        #: at start from $EXPLORER_ALLOW_PICKLES, or the notebook user's own ``allow_pickles``
        self.allow_pickles = pickles_allowed() if allow_pickles is None else bool(allow_pickles)
        self.roots = [Path(r).resolve() for r in roots] if roots is not None else default_roots()
        #: largest upload per kind, in bytes (see :data:`explorer.ui.files.UPLOAD_LIMITS`)
        self.upload_limits = {**default_upload_limits(), **(upload_limits or {})}
        #: this session's upload folder (made on the first upload; readable by this session only)
        self.upload_dir = ex.cache_root() / "uploads" / uuid.uuid4().hex
        self.bookmarks: dict[str, str] = dict(SAMPLE_BOOKMARKS)
        # runs after the URL sync's watcher (precedence 0): see _box_shows_the_window
        self.param.watch(self._box_shows_the_window, "region", precedence=100)
        self.param.watch(self._on_task, "task", precedence=100)  # after the URL's watcher, as above
        #: every target of the loaded model (the task list shows at most MAX_TASK_CHOICES of them)
        self._choices: list[str] = []
        self._contrasts: list[str] = []
        self._loading = False
        #: the spellings the task list offered or the checks accepted (others go to _on_task's check)
        self._accepted: set[str] = set()
        self._last_task = None
        self._results: dict[tuple, Any] = {}
        #: the inputs of the complete result on screen (put back when a job is cancelled)
        self._shown: dict[str, Any] | None = None
        self.load_model(model)
        self.load_locus(locus)

    # -- reactions to inputs ------------------------------------------------------------
    @param.depends("bookmark", watch=True)
    def _on_bookmark(self):
        region = self.bookmarks.get(self.bookmark)
        if region and self.locus is not None and self.locus.chrom == ex.parse_region(region).chrom:
            self.region = region

    @param.depends("region", watch=True)
    def _on_region(self):
        if self.window is None or str(self.window.region) != self.region:
            self.set_region(from_box=True)

    def _box_shows_the_window(self, event=None):
        """After every other watcher of ``region`` (the URL's included) has seen a bad value,
        put the box back to the window still shown, so box, URL and plots agree again."""
        if self.window is not None and self.region != str(self.window.region):
            self.region = str(self.window.region)

    @param.depends("task", "method", "ig_baseline", "ig_steps", "n_shuffles", "dls_shuffles", "ism_fast",
                   watch=True)
    def _on_inputs(self):
        self._restore_results()

    @param.depends("ism", watch=True)
    def _on_ism(self):
        self.substitution = ""

    # -- messages --------------------------------------------------------------------
    def say(self, text: str, kind: str = "info") -> None:
        self.param.update(message=text, message_kind=kind)

    def _fail(self, action: str, exc: Exception) -> None:
        self.say(self._failure_words(action, exc), "danger")

    def _failure_words(self, action: str, exc: Exception) -> str:
        text = str(exc) if str(exc) else type(exc).__name__
        if not self.allow_pickles:  # a visitor is never told to trust a pickle
            text = re.sub(r"If you trust where it came from, load it with trusted=True; better, export it as "
                          r"TorchScript\.",
                          "This server does not open full pickles, since reading one could run code on it. "
                          "Export the model as TorchScript (torch.jit.script or torch.jit.trace, then "
                          "torch.jit.save) and load that file.", text)
        if isinstance(exc, FileNotFoundError) and exc.filename:
            text = f"no such file: {Path(exc.filename).name}"
        return f"**Could not {action}.** {app_words(text)}"

    # -- loading -----------------------------------------------------------------------
    def load_model(self, model=None, corrections: bool = False) -> bool:
        """Load ``model`` (an ExplorerModel or a path) or the file in ``model_path``.

        ``corrections``: reload with the task names, head names and input length typed in
        the model panel (``fix_tasks``, ``fix_heads``, ``fix_input_length``). On error the
        message says why and the previous model, window and results stay.
        """
        try:
            if model is None or isinstance(model, (str, Path)):
                path = checked_path(self.model_path if model is None else model, self.roots, "model file",
                                    folders=True)
                overrides = self._corrections() if corrections else {}
                if path.is_dir():
                    overrides["targets"] = self._targets_table(path)
                model = ex.load_model(path, trusted=self.trust_model and self.allow_pickles, **overrides)
                self._check_targets_file(model)
            is_lm = ex.methods_for(model) == list(ex.LM_METHODS)
            targets = [LM_TARGET] if is_lm else ex.target_choices(model)
            if not targets:
                raise ValueError("the model returns no output to explain")
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message
            self._fail("load the model", exc)
            return False
        region, note = self._window_for_model(model)
        task = self.task if self.task in targets else targets[0]
        self._choices = list(targets)
        # contrasts ("CTCF - SPI1") beside the single tasks, for heads with a few channels
        self._contrasts = [] if is_lm else ex.contrast_choices(model)
        listed = list(targets[:MAX_TASK_CHOICES]) + self._contrasts
        self._accepted = set(listed)
        if task not in listed:
            listed.append(task)
        self._last_task = None
        with param.discard_events(self):
            self.param.update(task_search="", task_problem="", many_targets=len(targets) > MAX_TASK_CHOICES)
        self.param.task.objects = listed
        tracks = list(model.tasks) if binned(model) else []
        self.param.shown_tracks.objects = tracks
        self._loading = True  # the tracks are predicted once, for the new window (below)
        try:
            self.shown_tracks = ([task] if task in tracks else []) + [t for t in tracks if t != task][
                :DEFAULT_TRACKS - (task in tracks)]
        finally:
            self._loading = False
        choices = method_choices(model)
        self.param.method.objects = choices
        if self.method not in choices.values():
            self.method = next(iter(choices.values()))
        self._results.clear()
        heads = getattr(model, "heads", None) or []
        self.param.update(model=model, task=task, attribution=None, ism=None, motifs=None,
                          model_summary=self.describe_model(model, targets),
                          fix_tasks=", ".join(model.tasks),
                          fix_heads=", ".join(h["name"] if isinstance(h, dict) else str(h) for h in heads),
                          fix_input_length=int(model.input_length or 0))
        if region is not None:
            self.set_region(region)
        self.say(f"Loaded model **{model.name}**. {getattr(model, 'report', '') or ''} "
                 f"Targets: {self._targets_words(targets)}.{note}", "warning" if note else "success")
        self._last_task = self.task
        self._predict()
        return True

    @staticmethod
    def _targets_words(targets: list[str]) -> str:
        if len(targets) <= MAX_TASK_CHOICES:
            return ", ".join(targets)
        return (f"{len(targets):,} tracks ({', '.join(targets[:3])}, ...; type in *Search targets* to find one, "
                f"or a contrast A - B)")

    def _targets_table(self, folder: Path) -> Path | None:
        """The targets table of a model folder: the typed path, else a ``targets.txt`` (or
        ``targets_human.txt``) in the folder or beside it, if it lies under the data folders."""
        from explorer.io.longcontext import TARGET_FILES

        if self.targets_path.strip():
            return checked_path(self.targets_path, self.roots, "targets table")
        for where in (folder, folder.parent):
            for name in TARGET_FILES:
                try:
                    return checked_path(str(where / name), self.roots, "targets table")
                except (PermissionError, FileNotFoundError, IsADirectoryError):
                    continue
        return None

    def _check_targets_file(self, model) -> None:
        """Refuse a model whose loader found a targets table out of the data folders."""
        found = (getattr(model, "card", None) or {}).get("targets_file")
        if found and not any(Path(found).resolve().is_relative_to(r) for r in self.roots):
            raise PermissionError("the targets table beside this model folder is not under the folders this app may "
                                  "read; put targets.txt in the model folder, or type the table's path")

    # -- the target: typed, searched or linked ----------------------------------------------
    def _on_task(self, event=None) -> None:
        """A task set from the list, the search box or the URL: spell it, or refuse it and put
        back the last valid one (so the box, the URL and the plots agree)."""
        task = self.task
        if task is None or self.model is None:
            return
        listed = list(self.param.task.objects)
        if task in self._accepted or task in self._choices:
            self._last_task = task
            if self.task_problem:
                self.task_problem = ""
            return
        try:
            spelled = ex.target_spelling(self.model, task, self._choices)
        except Exception as exc:  # noqa: BLE001
            kept = f" Still explaining {self._last_task}." if self._last_task is not None else ""
            self.param.task.objects = [t for t in listed if t != task] or [self._last_task]
            self.task = self._last_task
            self.task_problem = self._failure_words(f"use the target {task!r}", exc) + kept
            return
        self._accepted.add(spelled)
        if spelled not in self.param.task.objects:
            self.param.task.objects = [t for t in listed if t != task] + [spelled]
        self._last_task = spelled
        self.task_problem = ""
        if spelled != task:
            self.task = spelled
            self.param.task.objects = [t for t in self.param.task.objects if t != task]

    @param.depends("task_search", watch=True)
    def _on_task_search(self) -> None:
        """The search box: list the matching targets (at most MAX_TASK_CHOICES); a whole target
        or contrast, or the one match, is chosen; text that matches nothing says why and changes
        nothing."""
        if self.model is None or not self._choices:
            return
        text = self.task_search.strip()
        if not text:
            listed = list(self._choices[:MAX_TASK_CHOICES]) + self._contrasts
            self.param.task.objects = listed + ([self.task] if self.task not in listed else [])
            self.task_problem = ""
            return
        matches = ex.search_targets(self.model, text, self._choices, MAX_TASK_CHOICES)
        if not matches:
            try:
                ex.target_spelling(self.model, text, self._choices)
                words = ""
            except Exception as exc:  # noqa: BLE001
                words = app_words(str(exc))
            if words.startswith(f"no target is called {text!r}"):  # the heading says it already
                words = words[len(f"no target is called {text!r}"):].lstrip("; ")
            words = words[:1].upper() + words[1:] + ("." if words and not words.endswith(".") else "")
            self.task_problem = (f"**No target matches {text!r}.** {words} "
                                 f"Still explaining {self.task}.").replace("  ", " ").strip()
            return
        try:
            spelled = ex.target_spelling(self.model, text, self._choices)
        except ValueError:
            spelled = matches[0] if len(matches) == 1 else None  # the one match is what was meant
        self._accepted.update(matches)
        self.param.task.objects = matches + ([self.task] if spelled is None and self.task not in matches else [])
        self.task_problem = ""
        if spelled is not None and spelled != self.task:
            self.task = spelled

    @param.depends("shown_tracks", watch=True)
    def _on_shown_tracks(self) -> None:
        if not self._loading:
            self._predict_tracks()

    def _predict_tracks(self) -> None:
        """A binned model's chosen tracks along the locus, the window's input among the inputs."""
        if not binned(self.model) or self.locus is None or self.window is None:
            self.track_predictions = None
            return
        try:
            bins = ex.OutputBins(**self.model.card["output_bins"])
            reach = TRACK_INPUTS_EACH_SIDE * bins.count * bins.size  # inputs each side of the window's
            span = self.locus.subregion(max(self.locus.start, self.window.start - reach),
                                        min(self.locus.end, self.window.end + reach))
            anchor = int(self.window.start - span.start)
            self.track_predictions = _track_predictions(self.model, span, tuple(self.shown_tracks), anchor)
        except Exception as exc:  # noqa: BLE001
            self.track_predictions = None
            self._fail("predict the tracks for the overview", exc)

    def _corrections(self) -> dict:
        """The model panel's corrections as :func:`explorer.load_model` overrides."""
        def names(text):
            return [t.strip() for t in text.split(",") if t.strip()]
        out: dict = {}
        if names(self.fix_tasks):
            out["tasks"] = names(self.fix_tasks)
        if names(self.fix_heads):
            out["heads"] = names(self.fix_heads)
        if self.fix_input_length:
            out["input_length"] = int(self.fix_input_length)
        return out

    def save_card(self) -> Path | None:
        """Save the loaded model's card beside its file (or in the cache); say where."""
        try:
            if self.model is None:
                raise ValueError("no model is loaded")
            where = self.model.save_card()
        except Exception as exc:  # noqa: BLE001
            self._fail("save the model card", exc)
            return None
        self.say(f"Saved the card of **{self.model.name}** to `{where}`: the next load of "
                 f"{Path(self.model.source).name} reads it.", "success")
        return where

    @staticmethod
    def describe_model(model, targets: list[str]) -> str:
        """What the loader found about ``model`` (Markdown for the model panel)."""
        facts = getattr(model, "facts", None)
        if model.input_length:
            lengths = f"exactly {int(model.input_length):,} bp (longer windows: the model is slid across them)"
        else:
            lengths = f"any length from {int(model.min_length):,} bp"
        lines = [f"**{model.name}** ({model.kind}, file {Path(model.source).name})", "",
                 f"- Input: {lengths}"]
        if facts is not None:
            for head in facts.heads:
                shape = " x ".join(str(v) for v in head["shape"][1:])
                kind = "a profile per channel" if head["per_position"] else "one score per channel"
                lines.append(f"- Output {head['name'] or ''}: {shape} ({kind})".replace("Output : ", "Output: "))
        if model.tasks:
            lines.append(f"- Task names: {', '.join(model.tasks)}")
        if model.heads:
            lines.append("- Head names: " + ", ".join(h["name"] if isinstance(h, dict) else str(h)
                                                     for h in model.heads))
        lines.append(f"- Targets: {', '.join(targets)}")
        if getattr(model, "report", ""):
            lines += ["", f"*{model.report}*"]
        return "\n".join(lines)

    def _window_for_model(self, model) -> tuple[str | None, str]:
        """``(region, note)``: the current window resized to fit ``model`` (None: keep it),
        and a sentence when the locus is too short for the model.

        A fixed-length model gets a multiple of its input length (at least one) centred where
        the window was; any other model a window of at least its minimum length."""
        w, locus = self.window, self.locus
        if w is None or locus is None:
            return None, ""
        need = int(model.input_length or model.min_length or 1)
        if need > len(locus):
            return None, (f" The loaded locus is {len(locus):,} bp, shorter than the {need:,} bp the model "
                          f"needs: load a longer locus.")
        if model.input_length:
            size = need * max(1, len(w) // need)
        else:
            size = max(len(w), need)
        if size == len(w):
            return None, ""
        centre = (w.start + w.end) // 2
        start = min(max(locus.start, centre - size // 2), locus.end - size)
        return str(locus.subregion(start, start + size).region), ""

    def default_region(self, locus) -> str:
        """A sensible first window of ``locus``: centred; the model's input length when it
        takes one length, else up to 2 kb."""
        model = self.model
        n = len(locus)
        first = next((ex.parse_region(r) for r in _shipped_bookmarks(locus).values()), None)
        if first is not None and model is not None and not model.input_length and \
                locus.start <= first.start and first.end <= locus.end:
            return str(first)  # a shipped locus opens at its first bookmark
        if model is not None and model.input_length:
            size = int(model.input_length)
        else:
            size = max(min(DEFAULT_WINDOW, n), int(getattr(model, "min_length", 1) or 1))
        size = min(size, n)
        start = locus.start + (n - size) // 2
        return str(ex.Region(locus.chrom, start, start + size))

    def _bookmarks_for(self, locus) -> dict[str, str]:
        """Bookmarks of ``locus``: the sample's on the sample record, else its centre and genes."""
        known = _shipped_bookmarks(locus)
        if known:
            return known
        marks = {f"Centre of {locus.chrom}": self.default_region(locus)}
        ann = locus.annotations
        if ann is not None and len(ann):
            genes = ann[(ann["type"] == "gene") & (ann["chrom"] == locus.chrom)]
            size = len(ex.parse_region(marks[f"Centre of {locus.chrom}"]))
            for row in genes.head(20).itertuples():
                tss = int(row.end) - 1 if row.strand == "-" else int(row.start)
                start = min(max(locus.start, tss - size // 2), locus.end - size)
                if start >= locus.start:
                    marks.setdefault(f"{row.name} start", str(ex.Region(locus.chrom, start, start + size)))
        return marks

    def _set_bookmarks(self, marks: dict[str, str], region: str) -> None:
        self.bookmarks = marks
        chosen = next((k for k, v in marks.items() if str(ex.parse_region(v)) == str(ex.parse_region(region))),
                      None)
        self.param.bookmark.objects = list(marks)
        with param.discard_events(self):
            self.bookmark = chosen if chosen is not None else next(iter(marks))

    def load_locus(self, locus=None) -> bool:
        """Load ``locus`` (a Locus), the pasted sequence, or ``locus_path`` + ``region``.

        A locus file of another record (or another file whose region names the old record)
        opens at :meth:`default_region` of its first record, with that record's bookmarks.
        """
        try:
            if locus is None and self.pasted_sequence.strip():
                locus = ex.locus_from_sequence(self.pasted_sequence)
                region = self.default_region(locus)
            elif locus is None:
                path = checked_path(self.locus_path, self.roots, "locus file")
                region = self._region_in_file(path)
                if region is None:
                    whole = _read_locus(path, None)
                    region = self.default_region(whole)
                window = _read_locus(path, region)
                context = ex.parse_region((window.chrom, max(0, window.start - MAX_OVERVIEW // 2),
                                           window.end + MAX_OVERVIEW // 2))
                if window.chrom_length is not None:
                    context = ex.Region(context.chrom, context.start, min(context.end, window.chrom_length))
                if window.chrom_length is not None and window.chrom_length <= MAX_OVERVIEW:
                    context = ex.Region(window.chrom, 0, window.chrom_length)
                locus = _read_locus(path, context)
            else:
                region = self.default_region(locus)
        except Exception as exc:  # noqa: BLE001
            self._fail("load the locus", exc)
            return False
        old = (self.locus, self.window, self.region)
        self.locus = locus
        if not self.set_region(region):
            self.locus, self.window = old[0], old[1]
            self.param.update(region=old[2])
            return False
        self._set_bookmarks(self._bookmarks_for(locus), self.region)
        if _shipped_bookmarks(locus) == YEAST_BOOKMARKS:
            self.jaspar_tax_group = "fungi"  # the yeast demo's motifs: JASPAR CORE fungi
        self._predict()
        return True

    def _region_in_file(self, path: Path) -> str | None:
        """The typed region, when it is meant for the file at ``path``: the first load, the
        file already loaded, or a record other than the loaded one. None: open the file at
        its default window."""
        try:
            reg = ex.parse_region(self.region)
        except ValueError:
            return None
        if self.locus is None or reg.chrom != self.locus.chrom:
            return self.region
        same = self.locus.source not in ("", "<pasted>") and Path(self.locus.source).resolve() == path
        return self.region if same else None

    def set_region(self, region: str | None = None, from_box: bool = False) -> bool:
        """Explain ``region`` (1-based inclusive ``chrom:start-end``) of the loaded locus.

        ``from_box``: the region was typed, linked (URL) or bookmarked; a problem with it goes
        to ``region_problem`` (shown until a valid region is set), not to ``message`` (which
        jobs overwrite).
        """
        region = self.region if region is None else region
        try:
            if self.locus is None:
                raise ValueError("no locus is loaded")
            reg = ex.parse_region(region)
            if reg.chrom != self.locus.chrom:
                raise ValueError(f"the locus is {self.locus.chrom}, not {reg.chrom}; write {self.locus.chrom}:start-end")
            if not (self.locus.start <= reg.start and reg.end <= self.locus.end):
                raise ValueError(
                    f"{reg} is outside the loaded locus {self.locus} "
                    f"(1-based positions {self.locus.start + 1:,}-{self.locus.end:,})"
                )
            window = self.locus.subregion(reg.start, reg.end)
            self._check_window_length(len(window))
        except Exception as exc:  # noqa: BLE001
            words = self._failure_words(f"use the window {region!r}", exc)
            if not from_box:
                self.say(words, "danger")
                return False
            kept = f" Still showing {self.window.region}." if self.window is not None else ""
            self.region_problem = words + kept
            return False
        self.param.update(window=window, region=str(window.region), attribution=None, ism=None, motifs=None,
                          region_problem="")
        self._restore_results()
        if binned(self.model):  # the tracks come from inputs placed at the window
            self._predict_tracks()
        return True

    def _check_window_length(self, n: int) -> None:
        """Refuse a window the model cannot explain (shorter than its input), in the app's words."""
        model = self.model
        if model is None:
            return
        need = int(model.input_length or model.min_length or 1)
        if n < need:
            what = (f"takes inputs of exactly {need:,} bp (longer windows are explained by sliding it)"
                    if model.input_length else f"needs at least {need:,} bp")
            raise ValueError(f"the model {what}; this window is {n:,} bp: choose a window of at least {need:,} bp")

    def _predict(self) -> None:
        if self.model is None or self.locus is None:
            return
        if binned(self.model):  # its own tracks along the locus, not a score in sliding windows
            self.predictions = None
            self._predict_tracks()
            return
        self.track_predictions = None
        if ex.methods_for(self.model) == list(ex.LM_METHODS):  # a masked LM has no score per window
            self.predictions = None
            return
        try:
            size = int(self.model.input_length or max(self.model.min_length, 200))
            step = max(size // 4, (len(self.locus) - size) // 1500 + 1)
            # the overview scores the head of the default target (for (profile, counts): counts)
            default = self.param.task.objects[0] if self.param.task.objects else None
            output = ex.resolve_target(self.model, default).output if default is not None else None
            frame = _predictions(self.model, self.locus, size, step, output)
            scores = [c for c in frame.columns if c not in ("start", "end", "genome_start")]
            if output is not None and len(scores) == 1:
                frame = frame.rename(columns={scores[0]: default})
            self.predictions = frame
        except Exception as exc:  # noqa: BLE001
            self.predictions = None
            self._fail("score the locus for the overview", exc)

    # -- computing ---------------------------------------------------------------------
    def options(self, method: str | None = None) -> dict:
        """Options passed to :func:`explorer.attribute` for ``method``."""
        return method_options(self, method or self.method)

    def _key(self, method: str) -> tuple:
        return (method, self.task, str(self.window.region) if self.window else None,
                tuple(sorted(self.options(method).items())), id(self.model))

    def _restore_results(self) -> None:
        att = self._results.get(self._key(self.method))
        ism = self._results.get(self._key("ism"))
        if att:
            self._shown = self._inputs_now()
        self.param.update(attribution=att[0] if att else None, motifs=att[1] if att else None,
                          ism=ism[0] if ism else None, diagnostics=self.describe(att[0]) if att else "")

    def _inputs_now(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in SHOWN_INPUTS}

    def back_to_shown(self) -> None:
        """After a cancelled job: show the last complete result again, with the inputs (window,
        task, method, options) it was computed with, so the boxes and the plots agree."""
        self.job.param.update(partial=None, chunks=[], chunks_seen=0, fraction=0.0)
        shown = self._shown or {}
        if shown.get("region") and shown["region"] != self.region:
            self.region = shown["region"]
        self.param.update(**{k: v for k, v in shown.items() if k != "region" and getattr(self, k) != v})
        self._restore_results()

    def check_ready(self, method: str | None = None) -> None:
        """Raise ``ValueError`` (with what to do) when the inputs cannot be computed."""
        method = method or self.method
        if self.model is None:
            raise ValueError("no model is loaded: give a model file in the sidebar")
        if self.window is None:
            raise ValueError("no window is chosen: give a region like chr:start-end")
        limit = MAX_WINDOW[method]
        if len(self.window) > limit:
            raise ValueError(
                f"the window is {len(self.window):,} bp; {METHOD_LABELS[method]} explains at most "
                f"{limit:,} bp at once in the app. Choose a smaller window (drag on the overview, "
                f"or type a shorter region)"
            )

    def compute(self, method: str | None = None, progress: Callable[[float], Any] | None = None,
                with_motifs: bool = True):
        """Compute ``method`` on the current window and task (blocking) and show it.

        Returns the :class:`~explorer.Attribution`; raises on error (scripts and tests).
        The app runs :meth:`run_job` and :meth:`run_motifs` in a worker thread and
        :meth:`apply` on the UI thread, so the map shows before the motif search ends.
        """
        job = self.run_job(method, progress)
        self.apply(job)
        if with_motifs:
            self.apply(self.run_motifs(job))
        return job.attribution

    def run_job(self, method: str | None = None, progress: Callable[[float], Any] | None = None,
                on_chunk: Callable | None = None, view: tuple[int, int] | None = None) -> "Job":
        """Compute the attribution without touching any parameter (thread-safe).

        ``on_chunk`` and ``view`` (ISM only) report the map chunk by chunk, ``view`` first
        (0-based half-open indices in the window); see :func:`explorer.attribute`.
        """
        method = method or self.method
        self.check_ready(method)
        key = self._key(method)
        t0 = time.perf_counter()
        chunked = {"on_chunk": on_chunk, "view": view} if method == "ism" and on_chunk is not None else {}
        res = ex.attribute(self.model, self.window, method=method, target=self.task,
                           progress=progress, **chunked, **self.options(method))
        return Job(key, method, res, None, time.perf_counter() - t0)

    def shown_job(self) -> "Job":
        """The shown attribution as a :class:`Job` without motifs (to call its seqlets again)."""
        return Job(self._key(self.method), self.method, self.attribution, None, 0.0)

    def run_motifs(self, job: "Job") -> "Job":
        """Add seqlets, motif matches, hits and agreement to ``job`` (thread-safe)."""
        return Job(job.key, job.method, job.attribution, self.motif_report(job.attribution), job.seconds)

    def apply(self, job: "Job") -> None:
        """Store a finished job and show it if it still matches the inputs."""
        self._results[job.key] = (job.attribution, job.motifs)
        updates = {}
        if job.key == self._key(self.method):  # the diagnostics line describes what is shown
            updates.update(attribution=job.attribution, motifs=job.motifs, diagnostics=self.describe(job.attribution))
            self._shown = self._inputs_now()
        if job.method == "ism" and job.key == self._key("ism"):
            updates["ism"] = job.attribution
        self.param.update(**updates)

    def show_partial(self, attribution) -> None:
        """Show an incomplete ISM map while it is being computed (not stored)."""
        self.param.update(attribution=attribution, ism=attribution, motifs=None)

    def cached(self, method: str | None = None) -> bool:
        """Whether the current inputs' result for ``method`` is already held in the session."""
        return self._key(method or self.method) in self._results

    def database(self):
        """The motif database chosen in the sidebar (JASPAR, or a MEME file)."""
        if self.meme_path.strip():
            return ex.read_meme(checked_path(self.meme_path, self.roots, "MEME file"))
        return ex.jaspar(release=self.jaspar_release, collection=self.jaspar_collection,
                         tax_group=self.jaspar_tax_group)

    def motif_action(self) -> str:
        """What the motif step does, in words for a message that it failed."""
        if self.meme_path.strip():
            return (f"use the motif file {Path(self.meme_path).name} (the map is shown; check that the file is in "
                    f"MEME format, or clear it under Motif database to use JASPAR)")
        return "call the seqlets and match them with JASPAR (the map is shown)"

    def motif_report(self, attribution) -> MotifReport:
        """Seqlets, their TOMTOM matches, FIMO hits of the matched motifs, and agreement."""
        db = self.database()
        null_kind, threshold = self.seqlet_null, float(self.seqlet_threshold)
        null = (ex.shuffled_null(self.model, attribution, sequence=self.window)
                if null_kind == "model" else None)
        seqlets = ex.call_seqlets(attribution, threshold=threshold, null=null)
        counts = {t: len(ex.call_seqlets(attribution, threshold=t, null=null))
                  for t in SEQLET_THRESHOLDS if t != threshold}
        counts[threshold] = len(seqlets)
        matches = ex.match_motifs(attribution, seqlets, db) if len(seqlets) else pd.DataFrame()
        ids = sorted(set(matches.loc[matches["rank"] == 1, "matrix_id"])) if len(matches) else []
        hits = ex.scan_motifs(self.window, db, motifs=ids) if ids else pd.DataFrame()
        agreement = ex.agreement(attribution, seqlets, matches, hits)
        return MotifReport(seqlets, matches, hits, agreement, getattr(db, "name", "motifs"),
                           null=null_kind, threshold=threshold, counts=counts)

    def describe(self, res) -> str:
        """One diagnostics line: method, device, seconds, cache, checks."""
        d = res.diagnostics if res.diagnostics is not None else {}
        parts = [METHOD_LABELS.get(res.method, res.method), f"target {res.target}", f"device {res.device}",
                 (f"served from cache (computed in {res.seconds:.1f} s)" if d.get("cache_hit") else f"{res.seconds:.2f} s")]
        if d.get("completeness_error") is not None:
            parts.append(f"completeness error {100 * d.get('completeness_error'):.2f} %")
        if d.get("convergence_delta_max") is not None:
            parts.append(f"max convergence delta {d.get('convergence_delta_max'):.2e}")
        if d.get("fast_ism_max_abs_diff") is not None:
            found = " (its layer structure read from the model)" if d.get("fast_ism_path") == "graph" else ""
            n = len(d.get("fast_ism_verified_positions") or [])
            where = f"at {n} position{'s' if n != 1 else ''}" if n else "at sampled positions"
            parts.append(f"fast ISM{found}, checked against plain ISM {where}: they agree within "
                         f"{d.get('fast_ism_max_abs_diff'):.1e}")
        elif d.get("fast_ism_reason"):
            parts.append(f"plain ISM (exact; the fast engine does not apply: {app_words(str(d.get('fast_ism_reason')))})")
        if d.get("reference_score") is not None:
            parts.append(f"model output for the reference window {d.get('reference_score'):.3f}")
        if d.get("sliding"):
            parts.append(str(d.get("sliding")))
        for w in d.get("warnings") or []:
            parts.append(f"warning: {app_words(str(w))}")
        return " · ".join(parts)

    # -- the visible range and progressive ISM ---------------------------------------------
    def visible_indices(self, genome_start: int, length: int) -> tuple[int, int] | None:
        """The part of a map (0-based half-open indices) shown in the tracks, or None before the
        first draw. ``genome_start``: 0-based genome coordinate of the map's first base."""
        return visible_indices(self.x_range, genome_start + 1, length)

    def view_indices(self) -> tuple[int, int] | None:
        """The visible part of the window (0-based indices), computed first by progressive ISM;
        400 bp around the centre when nothing narrower is shown."""
        w = self.window
        if w is None:
            return None
        shown = self.visible_indices(w.start, len(w))
        if shown is not None and 10 <= shown[1] - shown[0] < len(w):
            return shown
        centre = len(w) // 2
        return max(0, centre - 200), min(len(w), centre + 200)

    def show_chunks(self) -> None:
        """Show the ISM chunks in ``job.chunks`` that arrived so far (the rest of the map stays 0)."""
        job, w = self.job, self.window
        chunks = job.chunks
        new = chunks[job.chunks_seen:len(chunks)]
        if not new or w is None:
            return
        base = job.partial if job.partial is not None and len(job.partial) == len(w) else None
        values = base.values.clone() if base is not None else torch.zeros(4, len(w))
        for a, b, v in new:
            values[:, a:b] = v
        partial = ex.Attribution(values=values, one_hot=w.one_hot, method="ism", target=self.task,
                                 chrom=w.chrom, genome_start=w.start, diagnostics={"partial": True, "warnings": []})
        job.param.update(chunks_seen=job.chunks_seen + len(new), partial=partial)
        self.show_partial(partial)

    # -- ISM cells and variants --------------------------------------------------------------
    def describe_cell(self, row: int, col: int) -> dict | None:
        """Put words on ISM cell (``row``: substituted base 0-3, ``col``: window index) in
        ``substitution``; return the variant it is (None for the reference base)."""
        ism = self.ism
        ref, alt = ism.sequence[col], "ACGT"[row]
        pos = ism.genome_start + col + 1
        value = float(ism.values[row, col])
        if ref == alt:
            self.substitution = f"**{ism.chrom}:{pos:,}** is {ref} in the reference (no change)."
            return None
        verb = "raises" if value > 0 else "lowers"
        self.substitution = (f"**{ref}>{alt} at {ism.chrom}:{pos:,}** {verb} the {ism.target} "
                             f"output by {abs(value):.4f} (ISM: f(mutant) - f(reference)). "
                             f"Its reference and alternative maps are shown under *Variants* below.")
        try:
            return variant_at(ism, int(row), int(col))
        except ValueError as exc:
            self.report_error("open that cell as a variant", exc)
            return None

    def parse_variant(self, text: str) -> dict | None:
        """The variant typed as ``chrom:pos:ref>alt`` (1-based), checked against the window."""
        try:
            return ex.parse_variants([text.replace(",", "")], locus=self.window).iloc[0].to_dict()
        except Exception as exc:  # noqa: BLE001
            self.report_error("read the variant", exc)
            return None

    def compute_variant(self, variant: dict) -> VariantView:
        """Ref/alt maps, motif words and effect of ``variant`` (thread-safe; raises on error)."""
        method = self.method
        ra = ex.ref_alt_attributions(self.model, self.window, variant, method, self.task, **self.options(method))
        try:
            _, words = ex.variant_motif_report(ra, database=self.database())
        except Exception as exc:  # noqa: BLE001 - the maps still show
            words = f"(motif comparison unavailable: {exc})"
        effect = ex.variant_effect(self.model, self.window, [variant], target=self.task)
        return VariantView(ra, words, effect)

    def load_measured(self, choice: str) -> bool:
        """Read a measured-effects table (a path under the data folders) and place it on the locus."""
        if not choice or choice == "other file...":
            self.say("Choose a measured-effects table (or type its path) first.", "warning")
            return False
        try:
            path = checked_path(choice, self.roots, "measured-effects table")
            measured = ex.load_measured_effects(path, locus=self.locus)
        except Exception as exc:  # noqa: BLE001
            self.report_error("load the measured effects", exc)
            return False
        self.param.update(measured=measured, measured_name=Path(str(choice)).name)
        return True

    # -- uploads ------------------------------------------------------------------------------
    def upload(self, kind: str, filename: str, data: bytes) -> bool:
        """Take an uploaded file (``kind``: ``"model"``, ``"locus"``, ``"meme"`` or
        ``"measured"``) into this session's upload folder and load it the normal way.

        A file over the size limit is refused before it is written; on any error the message
        says why and the previous model, locus, motif file and results stay.
        """
        what = UPLOAD_WHAT[kind]
        try:
            path = write_upload(self.upload_dir, filename, data, self.upload_limits[kind], what)
        except Exception as exc:  # noqa: BLE001
            self._fail(f"take the {what}", exc)
            return False
        if self.upload_dir.resolve() not in self.roots:
            self.roots.append(self.upload_dir.resolve())
        if kind == "model":
            old = self.model_path
            self.model_path = str(path)
            if not self.load_model():
                self.model_path = old
                return False
            return True
        if kind == "locus":
            old = (self.locus_path, self.pasted_sequence)
            self.param.update(locus_path=str(path), pasted_sequence="")
            if not self.load_locus():
                self.param.update(locus_path=old[0], pasted_sequence=old[1])
                return False
            self.say(f"Loaded **{path.name}**: {self.locus.chrom}, explaining {self.region}.", "success")
            return True
        if kind == "meme":
            try:
                db = ex.read_meme(path)
            except Exception as exc:  # noqa: BLE001
                self._fail(f"read the {what}", exc)
                return False
            self.meme_path = str(path)
            notes = " ".join(getattr(db, "notes", None) or [])  # e.g. counts read as probabilities
            self.say(f"Motif database **{path.name}** ({len(db)} motifs): used from the next Compute."
                     + (f" {notes}" if notes else ""), "warning" if notes else "success")
            return True
        return self.load_measured(str(path))

    def release(self) -> None:
        """Drop this session's model, loci and results (its page closed), redrawing nothing."""
        self._results.clear()
        with param.discard_events(self), param.discard_events(self.job):
            self.job.param.update(chunks=[], partial=None)
            self.param.update(attribution=None, ism=None, motifs=None, refalt=None, predictions=None,
                              measured=None, window=None, locus=None, model=None)

    def report_error(self, action: str, exc: Exception) -> None:
        """Show ``exc`` as a message (the app calls this for errors from worker threads)."""
        self._fail(action, exc)
