"""DeepLIFT/SHAP with dinucleotide-shuffled references, via tangermeme's ``deep_lift_shap``.

What is computed: for each of ``n_shuffles`` seeded dinucleotide shuffles ``r`` of the
sequence, DeepLIFT multipliers ``m`` (rescale rule on the model's ``nn.ReLU``-style
modules, tangermeme's rules); the contributions ``(x - r) * m`` are projected onto the
observed base (tangermeme's hypothetical-attribution correction, then times ``x``) and
averaged over the references. ``values`` is ``(4, L)``, non-zero only at observed bases.

Convergence deltas ``|f(x) - f(r) - sum((x - r) * m)|`` are computed per reference and
reported in ``diagnostics`` (``convergence_delta_max``, ``convergence_delta_mean``,
``convergence_delta_relative`` = mean delta / mean ``|f(x) - f(r)|``). They are 0 up to
rounding when every non-linearity has a DeepLIFT rule; a large value means some operation
was treated as linear and the map does not add up: a warning says so.

Known limits, handled here:

* Rules attach to ``nn.Module`` instances (``nn.ReLU``, ``nn.MaxPool1d``, ...).
  Functional calls inside ``forward`` (``torch.relu``, ``x.amax(-1)``) are treated as
  linear. The sample CNN's head takes a global max with ``amax``; when a network exposes
  ``trunk`` (a module) and ``head`` (a callable), the head is wrapped in a module and given
  tangermeme's integrated-gradients rule (``head_rule="ig"``, ``head_steps`` points), which
  makes the deltas small again (checked: the split network must reproduce the model's
  output).
* Non-linear target reductions (``max``, ``logsumexp``, ``log_counts``) get the same
  integrated-gradients rule; ``sum``/``mean`` are linear and exact.
* TorchScript modules cannot carry the hooks: the result is then
  gradient x (input - reference), not DeepLIFT; a warning says so.
"""

from __future__ import annotations

import warnings as _warnings

import torch
from torch import nn

from explorer.attribution.device import default_batch_size
from explorer.attribution.diagnostics import Diagnostics
from explorer.attribution.progress import ProgressCallback, report
from explorer.attribution.runtime import model_device
from explorer.attribution.targets import Target, reduce_window

#: module types that are linear (or identity in eval mode): no DeepLIFT rule is needed
LINEAR_MODULES = (nn.Conv1d, nn.Conv2d, nn.ConvTranspose1d, nn.Linear, nn.Dropout, nn.Identity,
                  nn.Flatten, nn.Unflatten, nn.BatchNorm1d, nn.BatchNorm2d, nn.AvgPool1d,
                  nn.AdaptiveAvgPool1d, nn.ConstantPad1d, nn.ZeroPad2d, nn.Embedding)


class _Reduce(nn.Module):
    """The target's window reduction as a module, so a DeepLIFT rule can attach to it."""

    def __init__(self, reduce: str):
        super().__init__()
        self.reduce = reduce

    def forward(self, values: torch.Tensor) -> torch.Tensor:  # (N, w) -> (N, 1)
        return reduce_window(values, self.reduce).unsqueeze(1)


class _Head(nn.Module):
    """A network's ``head`` callable as a module (for the integrated-gradients rule)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, hidden: torch.Tensor):
        return self.net.head(hidden)


class _Split(nn.Module):
    """``head(trunk(x))`` of a network that exposes both, with the head as its own module."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.trunk = net.trunk
        self.head_module = _Head(net)

    def forward(self, x):
        return self.head_module(self.trunk(x))


class _Explained(nn.Module):
    """``x -> (N, 1)``: the target's value, as a module tangermeme can attribute."""

    def __init__(self, body: nn.Module, target: Target):
        super().__init__()
        self.body = body
        self.target = target
        self.reduction = _Reduce(target.reduce) if target.reduce is not None else None

    def forward(self, x):
        if not isinstance(self.target, Target):  # a TargetSum (contrast, gene bins): linear in its terms
            return self.target(self.body(x)).unsqueeze(1)
        head = self.target.select(self.body(x))
        if head.ndim == 2:
            return head[:, self.target.task_index].unsqueeze(1)
        return self.reduction(self.target.window_of(head))


def _inner(model: nn.Module) -> nn.Module:
    return getattr(model, "net", model)


def is_torchscript(model: nn.Module) -> bool:
    """True if the model (or the network an ExplorerModel wraps) is TorchScript."""
    return isinstance(model, torch.jit.ScriptModule) or isinstance(_inner(model), torch.jit.ScriptModule)


def unsupported_modules(model: nn.Module, rules: dict) -> list[str]:
    """Names of leaf module types with neither a DeepLIFT rule nor a linear action."""
    found = set()
    for module in model.modules():
        if next(module.children(), None) is not None:
            continue
        if isinstance(module, tuple(rules)) or isinstance(module, LINEAR_MODULES):
            continue
        if isinstance(module, (_Reduce, _Head)):
            continue
        found.add(type(module).__name__)
    return sorted(found)


def deeplift_shap(model: nn.Module, one_hot: torch.Tensor, target: Target, *, n_shuffles: int = 20,
                  random_state: int = 0, batch_size: int | None = None, head_rule: str = "auto",
                  head_steps: int = 32, warning_threshold: float = 0.01,
                  progress: ProgressCallback = None) -> tuple[torch.Tensor, dict]:
    """DeepLIFT/SHAP attributions of one sequence against shuffled references.

    Parameters
    ----------
    model : nn.Module
        Takes ``(N, 4, L)``; runs where its weights are (in eval mode).
    one_hot : torch.Tensor, shape ``(4, L)``
        The whole sequence.
    target : Target
        What is explained.
    n_shuffles, random_state : int
        Number of dinucleotide-shuffled references and their seed.
    batch_size : int, optional
        Sequence-reference pairs per pass (default from device and length).
    head_rule : {"auto", "ig", "linear"}
        How a network's ``head`` (when it exposes ``trunk`` and ``head``) is treated:
        ``"ig"`` wraps it with tangermeme's integrated-gradients rule, ``"linear"`` leaves
        it to plain gradients, ``"auto"`` uses ``"ig"`` where possible.
    head_steps : int
        Quadrature points of the integrated-gradients rules.
    warning_threshold : float
        Relative convergence delta above which a warning is added.
    progress : callable, optional
        Called with the fraction done (per batch of references); False cancels.

    Returns
    -------
    (values, diagnostics)
        ``values``: ``(4, L)`` float32 CPU. ``diagnostics``, a
        :class:`~explorer.attribution.diagnostics.Diagnostics`: ``convergence_delta_max``,
        ``convergence_delta_mean``, ``convergence_delta_relative``, ``reference_score``,
        ``n_references``, ``head_rule`` (as applied), ``unsupported_modules``,
        ``warnings`` (tangermeme's warnings are caught and surfaced here).
    """
    from tangermeme.deep_lift_shap import (_build_nonlinear_ops, deep_lift_shap,
                                           hypothetical_attributions, integrated_gradients_op)
    from explorer.io.sequences import dinucleotide_shuffle

    if head_rule not in ("auto", "ig", "linear"):
        raise ValueError(f"head_rule must be 'auto', 'ig' or 'linear'; got {head_rule!r}")
    if int(n_shuffles) < 1:
        raise ValueError(f"n_shuffles must be >= 1; got {n_shuffles}")
    device = model_device(model)
    warnings: list[str] = []
    x = one_hot.to(torch.float32).cpu()
    scripted = is_torchscript(model)
    net = _inner(model)

    body: nn.Module = model
    applied = "linear"
    extra_ops: dict = {}
    if head_rule != "linear" and not scripted and isinstance(getattr(net, "trunk", None), nn.Module) \
            and callable(getattr(net, "head", None)):
        split = _Split(net)
        with torch.no_grad():
            probe = x.unsqueeze(0).to(device)
            same = _same_output(split(probe), model(probe))
        if same:
            body, applied = split, "ig"
            extra_ops[_Head] = integrated_gradients_op(K=int(head_steps), name="head")
        else:
            warnings.append("the network's head(trunk(x)) does not reproduce its output; its head is "
                            "treated as linear (plain gradients)")
    elif head_rule == "ig" and not scripted:
        warnings.append("head_rule='ig' needs a network exposing `trunk` and `head`; this one does not")
    if target.reduce in ("max", "logsumexp", "log_counts"):
        extra_ops[_Reduce] = integrated_gradients_op(K=int(head_steps), name="reduce")
    # a fresh module is in training mode, and tangermeme restores the mode it finds: eval first
    explained = _Explained(body, target).to(device).eval()

    rules = _build_nonlinear_ops(extra_ops)
    missing = [] if scripted else unsupported_modules(body, rules)
    if scripted:
        warnings.append("TorchScript model: DeepLIFT rules cannot attach to scripted modules, so this "
                        "map is gradient x (input - reference) averaged over references, not "
                        "DeepLIFT/SHAP (see the convergence deltas). Load the checkpoint instead of the "
                        "TorchScript file for DeepLIFT, or use method='ig'.")
    elif missing:
        warnings.append(f"modules without a DeepLIFT rule, treated as linear: {', '.join(missing)}")

    references = dinucleotide_shuffle(x, n=int(n_shuffles), random_state=int(random_state))  # (k, 4, L)
    k = references.shape[0]
    has_n = bool((x.sum(0) == 0).any())
    per_batch = max(1, min(k, batch_size or default_batch_size(device, x.shape[1], per_item=4)))
    multipliers = []
    caught: list[str] = []
    report(progress, 0.0)
    for i in range(0, k, per_batch):
        refs = references[i:i + per_batch]
        with _warnings.catch_warnings(record=True) as record:
            _warnings.simplefilter("always")
            m = deep_lift_shap(explained, x.unsqueeze(0), target=0, references=refs.unsqueeze(0),
                               batch_size=per_batch, raw_outputs=True, device=device,
                               additional_nonlinear_ops=extra_ops or None, only_warn=has_n,
                               warning_threshold=float("inf"), random_state=int(random_state))
        for w in record:
            text = str(w.message)
            if "Convergence deltas" in text or "one-hot" in text.lower() or "ohe" in text.lower():
                continue  # deltas are computed and reported below; N columns are allowed
            caught.append(f"tangermeme: {text.splitlines()[0][:300]}")
        multipliers.append(m[0].detach().to(torch.float64).cpu())
        report(progress, min(k, i + per_batch) / k)
    mult = torch.cat(multipliers)  # (k, 4, L)

    # convergence: f(x) - f(r) against the summed contributions, per reference
    with torch.no_grad():
        fx = float(explained(x.unsqueeze(0).to(device))[0, 0])
        fr = explained(references.to(device))[:, 0].double().cpu()
    contrib = ((x.double().unsqueeze(0) - references.double()) * mult).sum((1, 2))
    gap = fx - fr
    deltas = (gap - contrib).abs()
    relative = float(deltas.mean() / gap.abs().mean().clamp_min(1e-12))
    if relative > warning_threshold:
        warnings.append(
            f"DeepLIFT convergence deltas are large: mean {float(deltas.mean()):.3g} is {relative:.1%} "
            f"of the mean |f(x) - f(reference)| ({float(gap.abs().mean()):.3g}); some operation has no "
            f"DeepLIFT rule and was treated as linear, so the map does not add up to the output "
            f"difference. Compare with method='ig'.")
    warnings.extend(dict.fromkeys(caught))

    hyp = hypothetical_attributions((mult.float(),), (x.unsqueeze(0).expand_as(references).contiguous(),),
                                    (references,))[0]  # (k, 4, L)
    values = (hyp.mean(0) * x).float()
    diagnostics = Diagnostics(
        convergence_delta_max=float(deltas.max()), reference_score=fx, warnings=warnings,
        extra={"convergence_delta_mean": float(deltas.mean()), "convergence_delta_relative": relative,
               "n_references": k, "head_rule": applied, "torchscript": scripted,
               "unsupported_modules": missing})
    return values, diagnostics


def _same_output(a, b) -> bool:
    if isinstance(a, (tuple, list)) != isinstance(b, (tuple, list)):
        return False
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_same_output(u, v) for u, v in zip(a, b))
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-6)
