"""What an attribution explains: one scalar per sequence, chosen explicitly.

A model returns one of

* a tensor ``(N, T)``: one score per task (e.g. the sample CNN's logits);
* a tensor ``(N, T, L_out)``: a profile per task (per-position outputs);
* a tuple/list of such tensors, e.g. BPNet's ``(profile (N, T, L_out), counts (N, T))``.

A :class:`Target` picks the output head (tuple outputs), the task, and for profiles a
reduction over a window of output positions, and maps the model output to a ``(N,)``
tensor. :func:`resolve_target` builds one from what a person types and checks it against
the model, so a mistake is reported before any long computation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import torch
from torch import nn

from explorer.attribution.runtime import model_device, running_on

#: reductions over a window of a per-position output
REDUCTIONS = ("sum", "mean", "max", "logsumexp", "log_counts")


@dataclass(frozen=True)
class Target:
    """One scalar per sequence from a model output: head, task, window reduction.

    Call it on a model output (a tensor ``(N, T)`` or ``(N, T, L_out)``, or a tuple/list of
    them) to get a ``(N,)`` tensor.

    Attributes
    ----------
    name : str
        In words, for people: ``"CTCF"``, ``"task 0 sum[400:600]"``, ``"output 1: CTCF"``.
    task_index : int
        The channel (axis 1) of the chosen output.
    reduce : str or None
        For per-position outputs: ``"sum"``, ``"mean"``, ``"max"``, ``"logsumexp"`` (log of
        the summed ``exp`` of the window: log of the total counts when the profile holds
        logits or log counts) or ``"log_counts"`` (``log(1 + sum)``: for profiles of
        non-negative counts). None for one-score-per-task outputs.
    window : tuple of int or None
        ``(start, end)``, 0-based half-open output positions reduced over; None for
        one-score-per-task outputs (the whole profile is stored as ``(0, L_out)``).
    output : int or None
        Index into a tuple/list output; None for single-tensor models.
    tasks : tuple of str
        The names of the chosen output's channels (for messages).
    """

    name: str
    task_index: int
    reduce: str | None = None
    window: tuple[int, int] | None = None
    output: int | None = None
    tasks: tuple[str, ...] = field(default=(), compare=False)

    # -- evaluation -------------------------------------------------------------------
    def select(self, y: Any) -> torch.Tensor:
        """The chosen output head: ``(N, T)`` or ``(N, T, L_out)``."""
        if isinstance(y, dict):
            y = list(y.values())
        if isinstance(y, (tuple, list)):
            k = 0 if self.output is None else self.output
            if not 0 <= k < len(y):
                raise ValueError(
                    f"target {self.name!r} reads output {k}, but the model returned {len(y)} outputs "
                    f"(shapes {describe_output(y)})"
                )
            y = y[k]
        elif self.output not in (None, 0):
            raise ValueError(
                f"target {self.name!r} reads output {self.output}, but the model returned a single "
                f"tensor of shape {describe_output(y)}"
            )
        if not isinstance(y, torch.Tensor) or y.ndim not in (2, 3):
            raise ValueError(
                f"target {self.name!r}: the model output has shape {describe_output(y)}; expected "
                f"(N, n_tasks) or (N, n_tasks, L_out)"
            )
        if not 0 <= self.task_index < y.shape[1]:
            raise ValueError(
                f"target {self.name!r} is channel {self.task_index}, but the output has "
                f"{y.shape[1]} channels (shape {tuple(y.shape)})"
            )
        return y

    def window_of(self, head: torch.Tensor) -> torch.Tensor:
        """``(N, w)``: the chosen task's window of a per-position head (checked)."""
        start, end = self.window if self.window is not None else (0, head.shape[-1])
        if not 0 <= start < end <= head.shape[-1]:
            raise ValueError(
                f"target {self.name!r}: window [{start}, {end}) does not fit the output's "
                f"{head.shape[-1]} positions (shape {tuple(head.shape)}); use 0 <= start < end <= "
                f"{head.shape[-1]}"
            )
        return head[:, self.task_index, start:end]

    def __call__(self, y: Any) -> torch.Tensor:
        """Model output -> ``(N,)`` tensor of the target's value per sequence."""
        head = self.select(y)
        if head.ndim == 2:
            if self.reduce is not None and self.window is not None:
                raise ValueError(
                    f"target {self.name!r} reduces over a window, but the output has one score per "
                    f"task (shape {tuple(head.shape)})"
                )
            return head[:, self.task_index]
        return reduce_window(self.window_of(head), self.reduce or "sum")

    @property
    def per_position(self) -> bool:
        """True when the target reduces a per-position output."""
        return self.reduce is not None

    def to_dict(self) -> dict:
        """JSON-friendly description (cache keys, result records)."""
        return {"name": self.name, "task_index": self.task_index, "reduce": self.reduce,
                "window": list(self.window) if self.window is not None else None,
                "output": self.output}


@dataclass(frozen=True)
class TargetSum:
    """A weighted sum of :class:`Target` values: a contrast or a gene's bins.

    * a **contrast**, ``"CAGE:HepG2 - CAGE:K562"``: one output minus another, ``terms``
      ``((1, a), (-1, b))``; which bases make a region specific to one cell type;
    * a **gene target** (:func:`explorer.attribution.genes.gene_target`): a track summed over
      the output bins of a gene's exons, one term per run of adjacent bins.

    Called on a model output it returns ``sum(weight * target(y))``, shape ``(N,)``.

    Attributes
    ----------
    name : str
        In words (how it was typed, for a contrast).
    terms : tuple of (float, Target)
    """

    name: str
    terms: tuple[tuple[float, Target], ...]

    def __call__(self, y: Any) -> torch.Tensor:
        """Model output -> ``(N,)``."""
        total = None
        for weight, target in self.terms:
            value = target(y) * weight
            total = value if total is None else total + value
        return total

    @property
    def reduce(self) -> str | None:
        """The first non-linear reduction of the terms (DeepLIFT needs a rule for it), else
        ``"sum"`` when a term reduces a window, else None."""
        reductions = [t.reduce for _w, t in self.terms if t.reduce is not None]
        return next((r for r in reductions if r != "sum"), "sum" if reductions else None)

    @property
    def per_position(self) -> bool:
        return any(t.per_position for _w, t in self.terms)

    def to_dict(self) -> dict:
        """JSON-friendly description (cache keys, result records)."""
        return {"name": self.name, "terms": [[float(w), t.to_dict()] for w, t in self.terms]}


#: `` - `` between two targets makes a contrast (spaces required: names may hold ``-``)
CONTRAST = " - "
_SUFFIX = re.compile(r"^(?P<label>.*\S)\s+(?P<reduce>" + "|".join(REDUCTIONS) + r")\[(?P<start>\d+):(?P<end>\d+)\]$")


def _split_suffix(text: str) -> tuple[str, str | None, tuple[int, int] | None]:
    """``"CAGE:HepG2 sum[3:5]"`` -> ``("CAGE:HepG2", "sum", (3, 5))``: a target's own name
    (:attr:`Target.name`) resolves back to it."""
    match = _SUFFIX.match(text.strip())
    if match is None:
        return text, None, None
    return match["label"], match["reduce"], (int(match["start"]), int(match["end"]))


def resolve_contrast(model: nn.Module, text: str, **options) -> TargetSum:
    """``"A - B"`` -> the contrast ``A`` minus ``B``, each side resolved by :func:`resolve_target`
    with the same ``options`` (window, reduce, output, length, example_output).

    Raises
    ------
    ValueError
        Not two sides, the same target twice, or a side the model does not have (its own message).
    """
    sides = [p.strip() for p in text.split(CONTRAST)]
    if len(sides) != 2 or not all(sides):
        raise ValueError(f"a contrast is two targets with ' - ' between them, e.g. 'CAGE:HepG2 - CAGE:K562'; got "
                         f"{text!r}")
    a, b = (resolve_target(model, side, **options) for side in sides)
    if a == b:
        raise ValueError(f"the contrast {text!r} subtracts a target from itself (always 0); choose two outputs")
    return TargetSum(name=f"{a.name}{CONTRAST}{b.name}", terms=((1.0, a), (-1.0, b)))


def reduce_window(values: torch.Tensor, reduce: str) -> torch.Tensor:
    """Reduce ``(N, w)`` to ``(N,)`` with one of :data:`REDUCTIONS`."""
    if reduce == "sum":
        return values.sum(-1)
    if reduce == "mean":
        return values.mean(-1)
    if reduce == "max":
        return values.amax(-1)
    if reduce == "logsumexp":
        return torch.logsumexp(values, -1)
    if reduce == "log_counts":
        return torch.log1p(values.sum(-1))
    raise ValueError(f"reduce must be one of {REDUCTIONS}; got {reduce!r}")


def describe_output(y: Any) -> str:
    """Shapes of a model output, for messages: ``(1, 2)`` or ``[(1, 2, 1000), (1, 2)]``."""
    if isinstance(y, torch.Tensor):
        return str(tuple(y.shape))
    if isinstance(y, (tuple, list)):
        return "[" + ", ".join(describe_output(v) for v in y) + "]"
    if isinstance(y, dict):
        return "{" + ", ".join(f"{k!r}: {describe_output(v)}" for k, v in y.items()) + "}"
    return type(y).__name__


def model_tasks(model: nn.Module) -> list[str] | None:
    """The model's task names (``ExplorerModel.tasks``, or a ``tasks`` attribute), else None."""
    tasks = getattr(model, "tasks", None)
    if isinstance(tasks, (list, tuple)) and tasks and all(isinstance(t, str) for t in tasks):
        return list(tasks)
    return None


def probe_length(model: nn.Module) -> int:
    """An input length the model accepts: its ``input_length``, else max(min_length, 200)."""
    input_length = getattr(model, "input_length", None)
    if input_length:
        return int(input_length)
    return max(int(getattr(model, "min_length", 1) or 1), 200)


def probe_output(model: nn.Module, length: int | None = None) -> Any:
    """Run the model once on an all-zero ``(1, 4, length)`` input (eval mode, no gradients).

    Every submodule's training flag is restored after. A model whose card declares its
    binned output (``output_bins`` and ``tasks``: an Enformer or Borzoi, where one run takes
    seconds) is not run: the result is zeros of the declared shape ``(1, tasks, bins)``.
    """
    length = int(length or probe_length(model))
    card = getattr(model, "card", None) or {}
    tasks = model_tasks(model)
    if card.get("output_bins") and tasks and length == int(card.get("input_length") or length):
        return torch.zeros(1, len(tasks), int(card["output_bins"]["count"]))
    with running_on(model), torch.no_grad():
        return model(torch.zeros(1, 4, length, device=model_device(model)))


@dataclass(frozen=True)
class Head:
    """One element of a model's output, as targets name it.

    Attributes
    ----------
    name : str
        ``"profile"``, ``"counts"`` (declared by the card or a dict key), else
        ``"output k"`` for element ``k`` of a tuple, or ``""`` for a single-tensor output.
    output : int or None
        Position in the tuple (or dict, in key order); None for a single tensor.
    channels : tuple of str
        Names of the channels (axis 1).
    per_position : bool
        True for a profile ``(N, T, L_out)``, False for one score per channel ``(N, T)``.
    shape : tuple of int
        The head's shape on the probe input.
    """

    name: str
    output: int | None
    channels: tuple[str, ...]
    per_position: bool
    shape: tuple[int, ...]

    @property
    def generic(self) -> bool:
        """True when the name is only the position (``"output k"``) or empty."""
        return not self.name or self.name == f"output {self.output}"


def output_heads(model: nn.Module, y: Any) -> list[Head]:
    """The heads of a model output, named from the model's declarations.

    Names come from, in order: ``model.heads`` (a list of head names, or of dicts with
    ``name`` and optionally ``channels``; the card's ``heads`` for an ExplorerModel); the
    keys of a dict output; else ``"output k"``. Channel names come from the declared
    head's ``channels``, else ``model.tasks`` when their number fits the head (for a tuple
    output whose number of heads equals ``len(model.tasks)`` the tasks name the heads
    instead), else ``"task i"``.

    Parameters
    ----------
    model : nn.Module
    y : torch.Tensor, tuple/list of tensors, or dict of tensors
        An output of the model.

    Raises
    ------
    ValueError
        A head that is not a tensor of 2 or 3 dimensions (named, with the shapes), or
        declared heads whose number does not fit the output.
    """
    shapes = describe_output(y)
    if isinstance(y, dict):
        keys, tensors, single = [str(k) for k in y], list(y.values()), False
    elif isinstance(y, (tuple, list)):
        keys, tensors, single = [f"output {k}" for k in range(len(y))], list(y), False
    else:
        keys, tensors, single = [""], [y], True
    for key, t in zip(keys, tensors):
        if not isinstance(t, torch.Tensor) or t.ndim not in (2, 3):
            where = f" (head {key!r})" if key else ""
            raise ValueError(f"the model's output{where} has shape {describe_output(t)} (all: {shapes}); a "
                             f"target needs (N, n_tasks) or (N, n_tasks, L_out)")
    declared = getattr(model, "heads", None)
    channel_names: list[list[str] | None] = [None] * len(tensors)
    if declared and not single:
        if len(declared) != len(tensors):
            raise ValueError(f"the model declares {len(declared)} heads ({[_head_name(d) for d in declared]}) "
                             f"but returns {len(tensors)} outputs with shapes {shapes}; fix the card's heads")
        for k, d in enumerate(declared):
            keys[k] = _head_name(d) or keys[k]
            if isinstance(d, dict) and isinstance(d.get("channels"), (list, tuple)):
                channel_names[k] = [str(c) for c in d["channels"]]
    tasks = model_tasks(model)
    if tasks and not single and not declared and not isinstance(y, dict) and len(tasks) == len(tensors):
        keys = list(tasks)  # the tasks name the heads of a tuple (e.g. ["profile", "counts"])
    heads = []
    for k, (key, t) in enumerate(zip(keys, tensors)):
        n = int(t.shape[1])
        names = channel_names[k]
        if names is None or len(names) != n:
            names = tasks if tasks and len(tasks) == n else [f"task {i}" for i in range(n)]
        heads.append(Head(name=key, output=None if single else k, channels=tuple(names),
                          per_position=t.ndim == 3, shape=tuple(t.shape)))
    return heads


def _head_name(declared: Any) -> str:
    return str(declared.get("name", "")) if isinstance(declared, dict) else str(declared)


def _default_head(heads: list[Head], window) -> Head:
    """The head a target without ``output`` reads: a profile when a window is given, else
    the first one-score-per-channel head (BPNet's counts), else the first head."""
    if window is not None:
        return next((h for h in heads if h.per_position), heads[0])
    return next((h for h in heads if not h.per_position), heads[0])


def _lookup(heads: list[Head], text: str, listing: str) -> tuple[Head, int | None]:
    """``(head, channel or None)`` named by ``text``: ``"head:channel"``, a head name,
    ``"output k"``, or a channel name; ambiguous names are refused."""
    lowered = text.strip().lower()

    def head_named(name: str) -> Head | None:
        for h in heads:
            if h.name.lower() == name or (h.output is not None and name == f"output {h.output}"):
                return h
        return None

    def channel_of(h: Head, name: str) -> int | None:
        names = [c.lower() for c in h.channels]
        if name in names:
            return names.index(name)
        if name.isdigit() and int(name) < len(h.channels):
            return int(name)
        return None

    if ":" in lowered:
        head_part, channel_part = (v.strip() for v in lowered.rsplit(":", 1))
        h = head_named(head_part)
        if h is not None:
            c = channel_of(h, channel_part)
            if c is None:
                raise ValueError(f"head {h.name!r} has no channel {channel_part!r}; its channels are "
                                 f"{list(h.channels)} (or 0..{len(h.channels) - 1})")
            return h, c
    candidates: list[tuple[Head, int | None]] = []
    h = head_named(lowered)
    if h is not None:
        candidates.append((h, None))
    for h in heads:
        names = [c.lower() for c in h.channels]
        if lowered in names and not (candidates and candidates[0][0] is h):
            candidates.append((h, names.index(lowered)))
    if not candidates:
        raise ValueError(f"unknown target {text!r}; the model has {listing}")
    if len(candidates) > 1:
        choices = [_spelling(h, c) for h, c in candidates]
        raise ValueError(f"target {text!r} is ambiguous: it names {' and '.join(choices)}; type one of "
                         f"{choices}")
    return candidates[0]


def _spelling(head: Head, channel: int | None) -> str:
    """How a person types a head (and channel) as a target."""
    if channel is None:
        return head.name
    return f"{head.name}:{head.channels[channel]}" if head.name else head.channels[channel]


def _listing(heads: list[Head], shapes: str) -> str:
    if len(heads) == 1 and not heads[0].name:
        return f"tasks {list(heads[0].channels)} (output shape {shapes})"
    parts = [f"{h.name} {list(h.channels)}" for h in heads]
    return f"heads {'; '.join(parts)} (output shapes {shapes})"


def resolve_target(model: nn.Module, target: str | int | Target | TargetSum | None = None, *,
                   reduce: str = "sum", window: Sequence[int] | None = None,
                   output: int | str | None = None, length: int | None = None,
                   example_output: Any = None) -> Target:
    """Build the :class:`Target` a person asked for and check it against the model.

    Parameters
    ----------
    model : nn.Module
        An :class:`~explorer.io.models.ExplorerModel` (task and head names from its card) or
        any module taking one-hot ``(N, 4, L)`` input (tasks are then ``"task 0"``, ...).
    target : str, int, Target, TargetSum or None
        Two targets with ``" - "`` between them make a contrast (``"CAGE:HepG2 - CAGE:K562"``,
        ``"CTCF - SPI1"``: :func:`resolve_contrast`); a target's own name
        (``"profile:0 sum[400:600]"``) resolves back to it; an alias from the card's
        ``track_aliases`` (an ENCODE identifier) names its track. Otherwise:
        a task (channel) name (case-insensitive); a head name (``"counts"``), which needs
        no channel when the head has one; ``"head:channel"`` (``"profile:1"``,
        ``"output 1:0"``); a channel index of the default head (negative counts from the
        end); an existing :class:`Target` (checked and returned); or None when the default
        head has one channel. A name that fits two things (a head and a channel of
        another head) is refused with the spellings to choose from.
    reduce : str
        For per-position outputs, one of :data:`REDUCTIONS`; ignored for one score per task.
    window : (int, int), optional
        ``(start, end)`` output positions (0-based, half-open) to reduce over; default the
        whole profile. Only for per-position outputs.
    output : int or str, optional
        Which head of a tuple/dict output, by position or name. Default: the head the
        target names; else, with ``window``, the first profile head; else the first head
        with one score per channel (BPNet's counts); else the first head.
    length : int, optional
        Input length used to run the model once for the check (default: the model's
        ``input_length`` or max(``min_length``, 200)); pass the real sequence length so the
        window is checked against the real ``L_out``.
    example_output : optional
        An output of the model already at hand (skips running it).

    Returns
    -------
    Target or TargetSum
        Per-position heads without ``window``: the card's ``default_window`` (an Enformer's or
        Borzoi's central bins) where it has one, else the whole profile.

    Raises
    ------
    ValueError
        Unknown or ambiguous name, index out of range, no target for a multi-task output, a
        window for a one-score output, a window out of range or empty, an unknown reduction,
        an output index out of range. Messages list the model's heads, tasks and shapes.
    """
    y = example_output if example_output is not None else probe_output(model, length)
    if isinstance(target, TargetSum):
        target(y)  # checked against the output: raises with the term's own message
        return target
    if isinstance(target, str) and CONTRAST in target:
        return resolve_contrast(model, target, reduce=reduce, window=window, output=output, example_output=y)
    if isinstance(target, str):
        target, found_reduce, found_window = _split_suffix(target)
        reduce, window = found_reduce or reduce, window if window is not None else found_window
    shapes = describe_output(y)
    heads = output_heads(model, y)
    listing = _listing(heads, shapes)
    single = heads[0].output is None

    if isinstance(target, Target):
        window = target.window if window is None else window
        reduce = target.reduce or reduce
        output = target.output if output is None else output
        target = target.task_index

    head: Head | None = None
    if output is not None:
        if single:
            if output not in (0, "0"):
                raise ValueError(f"output={output} picks an element of a tuple output, but the model "
                                 f"returns a single tensor of shape {shapes}")
        elif isinstance(output, str) and not output.strip().lstrip("-").isdigit():
            found = [h for h in heads if h.name.lower() == output.strip().lower()]
            if not found:
                raise ValueError(f"output={output!r} names no head; the model has {listing}")
            head = found[0]
        else:
            k = int(output)
            if not -len(heads) <= k < len(heads):
                raise ValueError(f"output={output} is out of range: the model returns {len(heads)} outputs "
                                 f"with shapes {shapes}; use 0..{len(heads) - 1}")
            head = heads[k % len(heads)]
    if single:
        head = heads[0]

    index: int | None = None
    if target is None:
        head = head or _default_head(heads, window)
        if len(head.channels) != 1:
            raise ValueError(f"the model has {len(head.channels)} outputs; choose a target: one of {listing}")
        index = 0
    elif isinstance(target, bool):
        raise ValueError(f"target must be a task name or index; got {target!r}. The model has {listing}")
    elif isinstance(target, int) or (hasattr(target, "__index__") and not isinstance(target, str)):
        head = head or _default_head(heads, window)
        n = len(head.channels)
        index = int(target)
        if not -n <= index < n:
            raise ValueError(f"target index {index} is out of range for {n} outputs; the model has {listing}")
        index %= n
    elif isinstance(target, str):
        target = track_alias(model, target)
        if head is not None:  # the head is chosen: the target names a channel of it
            names = [c.lower() for c in head.channels]
            key = target.strip().lower()
            if key in names:
                index = names.index(key)
            elif key.isdigit() and int(key) < len(names):
                index = int(key)
            else:
                raise ValueError(f"unknown target {target!r}; the model has {listing}")
        else:
            head, index = _lookup(heads, target, listing)
            if index is None:
                if len(head.channels) != 1:
                    choices = [_spelling(head, c) for c in range(len(head.channels))]
                    raise ValueError(f"head {head.name!r} has {len(head.channels)} channels; name one: "
                                     f"{choices}")
                index = 0
    else:
        raise ValueError(f"target must be a task name, an index or None; got {type(target).__name__}")

    names = list(head.channels)
    out_index = head.output
    if single or (head.generic and out_index == 0):
        label = names[index]
    elif head.generic:
        label = f"{head.name}: {names[index]}"
    elif len(names) == 1:
        label = head.name
    else:
        label = f"{head.name}:{names[index]}"
    if not head.per_position:
        if window is not None:
            raise ValueError(f"window={tuple(window)} applies to per-position (profile) outputs, but "
                             f"the chosen output has one score per task; the model has {listing}")
        return Target(name=label, task_index=index, reduce=None, window=None,
                      output=out_index, tasks=tuple(names))

    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}; got {reduce!r}")
    l_out = int(head.shape[-1])
    if window is None:
        window = card_window(model, l_out)
    if window is None:
        start, end = 0, l_out
    else:
        try:
            start, end = (int(v) for v in window)
        except (TypeError, ValueError):
            raise ValueError(f"window must be (start, end) output positions; got {window!r}") from None
        if start >= end:
            raise ValueError(f"window [{start}, {end}) is empty; need start < end (0-based, half-open "
                             f"output positions)")
        if start < 0 or end > l_out:
            raise ValueError(f"window [{start}, {end}) is out of range: the output has {l_out} "
                             f"positions (shape {shapes}); use 0 <= start < end <= {l_out}")
    return Target(name=f"{label} {reduce}[{start}:{end}]", task_index=index, reduce=reduce,
                  window=(start, end), output=out_index, tasks=tuple(names))


def contrast_choices(model: nn.Module, length: int | None = None, most: int = 4) -> list[str]:
    """Contrasts ``"A - B"`` between the channels of each head that has 2 to ``most`` of them
    (both orders), for a menu beside the single targets; a model with more channels (an
    Enformer's 5,313 tracks) gets none here: type the contrast instead.

    Parameters
    ----------
    model : nn.Module
    length : int, optional
        Input length for the one probe run.
    most : int
        The most channels a head may have for its contrasts to be listed.

    Returns
    -------
    list of str
        Each resolves with :func:`resolve_target`.
    """
    heads = output_heads(model, probe_output(model, length))
    out = []
    for h in heads:
        if 2 <= len(h.channels) <= most:
            names = [_spelling(h, c) for c in range(len(h.channels))]
            out.extend(f"{a}{CONTRAST}{b}" for a in names for b in names if a != b)
    return out


def card_window(model: nn.Module, l_out: int) -> tuple[int, int] | None:
    """The card's ``default_window`` (output bins, e.g. an Enformer's central bins) when it fits
    an output of ``l_out`` positions, else None (the whole profile)."""
    window = (getattr(model, "card", None) or {}).get("default_window")
    if window and 0 <= int(window[0]) < int(window[1]) <= l_out:
        return int(window[0]), int(window[1])
    return None


def track_alias(model: nn.Module, text: str) -> str:
    """The task name that ``text`` is an alias of (the card's ``track_aliases``, e.g. an
    ENCODE identifier for a track named by its description), else ``text``."""
    aliases = (getattr(model, "card", None) or {}).get("track_aliases") or {}
    key = text.strip()
    return str(aliases.get(key, aliases.get(key.upper(), text)))


def target_choices(model: nn.Module, length: int | None = None) -> list[str]:
    """Every target of a model as a person types it, default first.

    One-tensor outputs: the task names. Tuple/dict outputs: each head by name when it has
    one channel (``"counts"``), else ``"head:channel"`` per channel (``"profile:plus"``);
    the head a target without ``output`` reads (:func:`resolve_target`) comes first.

    Parameters
    ----------
    model : nn.Module
    length : int, optional
        Input length for the one probe run (default as :func:`probe_length`).

    Returns
    -------
    list of str
        Each resolves with :func:`resolve_target` (profile heads with the default
        reduction over the whole profile).
    """
    heads = output_heads(model, probe_output(model, length))
    if heads[0].output is None:
        return list(heads[0].channels)
    first = _default_head(heads, None)
    ordered = [first] + [h for h in heads if h is not first]
    out: list[str] = []
    for h in ordered:
        if len(h.channels) == 1:
            out.append(h.name)
        else:
            out.extend(_spelling(h, c) for c in range(len(h.channels)))
    return out
