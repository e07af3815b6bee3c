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

    Every submodule's training flag is restored after.
    """
    length = int(length or probe_length(model))
    with running_on(model), torch.no_grad():
        return model(torch.zeros(1, 4, length, device=model_device(model)))


def resolve_target(model: nn.Module, target: str | int | Target | None = None, *,
                   reduce: str = "sum", window: Sequence[int] | None = None,
                   output: int | None = None, length: int | None = None,
                   example_output: Any = None) -> Target:
    """Build the :class:`Target` a person asked for and check it against the model.

    Parameters
    ----------
    model : nn.Module
        An :class:`~explorer.io.models.ExplorerModel` (task names from its card) or any
        module taking one-hot ``(N, 4, L)`` input (tasks are then ``"task 0"``, ...).
    target : str, int, Target or None
        A task name (case-insensitive), a channel index (negative counts from the end),
        an existing :class:`Target` (checked and returned), or None when the chosen output
        has exactly one channel.
    reduce : str
        For per-position outputs, one of :data:`REDUCTIONS`; ignored for one score per task.
    window : (int, int), optional
        ``(start, end)`` output positions (0-based, half-open) to reduce over; default the
        whole profile. Only for per-position outputs.
    output : int, optional
        Which element of a tuple/list output (e.g. ``1`` for BPNet's counts head); default 0.
    length : int, optional
        Input length used to run the model once for the check (default: the model's
        ``input_length`` or max(``min_length``, 200)); pass the real sequence length so the
        window is checked against the real ``L_out``.
    example_output : optional
        An output of the model already at hand (skips running it).

    Returns
    -------
    Target

    Raises
    ------
    ValueError
        Unknown task name, index out of range, no target for a multi-task output, a window
        for a one-score output, a window out of range or empty, an unknown reduction, an
        output index out of range. Messages list the model's tasks and output shape.
    """
    y = example_output if example_output is not None else probe_output(model, length)
    shapes = describe_output(y)
    if isinstance(y, (tuple, list)):
        k = 0 if output is None else int(output)
        if not -len(y) <= k < len(y):
            raise ValueError(f"output={output} is out of range: the model returns {len(y)} outputs "
                             f"with shapes {shapes}; use 0..{len(y) - 1}")
        k %= len(y)
        head = y[k]
        out_index: int | None = k
    else:
        if output not in (None, 0):
            raise ValueError(f"output={output} picks an element of a tuple output, but the model "
                             f"returns a single tensor of shape {shapes}")
        head, out_index = y, None
    if not isinstance(head, torch.Tensor) or head.ndim not in (2, 3):
        raise ValueError(f"the model's output has shape {shapes}; a target needs (N, n_tasks) or "
                         f"(N, n_tasks, L_out){' (pick a head with output=...)' if out_index is not None else ''}")
    n_channels = int(head.shape[1])
    names = model_tasks(model)
    if names is None or len(names) != n_channels:
        names = [f"task {i}" for i in range(n_channels)]
    listing = f"tasks {names} (output shape {shapes})"

    if isinstance(target, Target):
        index = target.task_index
        reduce = target.reduce or reduce
        window = target.window if window is None else window
        out_index = target.output if output is None else out_index
        target = index
    if target is None:
        if n_channels != 1:
            raise ValueError(f"the model has {n_channels} outputs; choose a target: one of {listing}")
        index = 0
    elif isinstance(target, bool):
        raise ValueError(f"target must be a task name or index; got {target!r}. The model has {listing}")
    elif isinstance(target, int) or (hasattr(target, "__index__") and not isinstance(target, str)):
        index = int(target)
        if not -n_channels <= index < n_channels:
            raise ValueError(f"target index {index} is out of range for {n_channels} outputs; the "
                             f"model has {listing}")
        index %= n_channels
    elif isinstance(target, str):
        lowered = [n.lower() for n in names]
        if target.lower() in lowered:
            index = lowered.index(target.lower())
        elif target.strip().isdigit() and int(target) < n_channels:
            index = int(target)
        else:
            raise ValueError(f"unknown target {target!r}; the model has {listing}")
    else:
        raise ValueError(f"target must be a task name, an index or None; got {type(target).__name__}")

    prefix = f"output {out_index}: " if out_index not in (None, 0) else ""
    if head.ndim == 2:
        if window is not None:
            raise ValueError(f"window={tuple(window)} applies to per-position (profile) outputs, but "
                             f"the chosen output has one score per task; the model has {listing}")
        return Target(name=prefix + names[index], task_index=index, reduce=None, window=None,
                      output=out_index, tasks=tuple(names))

    if reduce not in REDUCTIONS:
        raise ValueError(f"reduce must be one of {REDUCTIONS}; got {reduce!r}")
    l_out = int(head.shape[-1])
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
    name = f"{prefix}{names[index]} {reduce}[{start}:{end}]"
    return Target(name=name, task_index=index, reduce=reduce, window=(start, end), output=out_index,
                  tasks=tuple(names))
