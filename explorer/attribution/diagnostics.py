"""Typed diagnostics of an attribution run: what was checked, which path ran, warnings.

The engine sets and reads the fields by name. For scripts, the UI and the on-disk cache a
:class:`Diagnostics` is also a read-only mapping: ``d["reference_score"]``, ``d.get(...)``,
``"completeness_error" in d`` and ``d.to_dict()`` see every field that is set (not None)
plus the method-specific facts in ``extra``. :meth:`Diagnostics.from_dict` reads that
mapping back, so a JSON round trip gives an equal object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Iterator


@dataclass(eq=True)
class Diagnostics(Mapping):
    """Checks and facts of one attribution run (every method; ISM fields for ISM).

    Attributes
    ----------
    warnings : list of str
        Things a person should know (a fallback, a failed check); always present.
    target : dict or None
        The target explained (:meth:`~explorer.attribution.targets.Target.to_dict`).
    cache_hit : bool or None
        True when the result came from the on-disk cache.
    reference_score : float or None
        ``f(reference)``: the target's value on the unmutated input.
    ism_path : str or None
        ISM only: ``"plain"`` (full model per mutant), ``"fast"`` (:func:`fast_ism` was used,
        see ``fast_ism_path`` for what it ran), or ``"progressive <fast_ism_path>"``.
    n_mutants : int or None
        ISM: number of substitutions scored.
    batch_size : int or None
        ISM: the batch size that worked last (after out-of-memory halving).
    fast_ism : bool or None
        Fast ISM: True when its values were kept, False when plain ISM replaced them.
    fast_ism_path : str or None
        Fast ISM: ``"stages"`` (layer by layer), ``"window"`` (black-box trunk on a window),
        both from a declared structure; ``"graph"`` (the structure read from the model's
        captured graph); or ``"plain"`` (fell back to plain ISM).
    fast_ism_fallback : bool or None
        Fast ISM: True when plain ISM replaced it (a failed self-check or a structure
        that does not reproduce the model's output).
    fast_ism_reason : str or None
        Why fast ISM did not apply (an operation of the graph it cannot localise, a graph
        that could not be captured); None when it ran.
    receptive_field : int or None
        Fast ISM: the trunk's receptive field used, in bases (odd).
    fast_ism_max_abs_diff : float or None
        Fast ISM self-check: the largest ``|fast - plain|`` over the checked positions.
    fast_ism_verified_positions : list of int or None
        Fast ISM self-check: the checked positions, 0-based in the whole sequence.
    fast_ism_tolerance : float or None
        Fast ISM self-check: the largest accepted difference,
        ``TOLERANCE * max(1, |reference_score|)``.
    completeness_error : float or None
        Integrated gradients: mean relative completeness error over the baselines.
    convergence_delta_max : float or None
        DeepLIFT/SHAP: largest ``|sum(attributions) - (f(x) - f(ref))|`` over references.
    extra : dict
        Other method-specific facts (``n_steps``, ``n_references``, ...), by name.
    """

    warnings: list[str] = field(default_factory=list)
    target: dict | None = None
    cache_hit: bool | None = None
    reference_score: float | None = None
    ism_path: str | None = None
    n_mutants: int | None = None
    batch_size: int | None = None
    fast_ism: bool | None = None
    fast_ism_path: str | None = None
    fast_ism_fallback: bool | None = None
    fast_ism_reason: str | None = None
    receptive_field: int | None = None
    fast_ism_max_abs_diff: float | None = None
    fast_ism_verified_positions: list[int] | None = None
    fast_ism_tolerance: float | None = None
    completeness_error: float | None = None
    convergence_delta_max: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    # -- building ----------------------------------------------------------------------
    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any] | None) -> "Diagnostics":
        """A Diagnostics from a mapping of names (known names fill fields, others ``extra``)."""
        if isinstance(mapping, Diagnostics):
            return mapping
        out = cls()
        out.update(mapping or {})
        return out

    def update(self, other: Mapping[str, Any]) -> None:
        """Take every entry of ``other``; its ``warnings`` are appended, not replaced."""
        names = _FIELDS
        for key, value in dict(other).items():
            if key == "warnings":
                self.warnings.extend(value or [])
            elif key == "extra":
                self.extra.update(value or {})
            elif key in names:
                setattr(self, key, value)
            else:
                self.extra[key] = value

    def to_dict(self) -> dict[str, Any]:
        """Every set field and every ``extra`` entry, by name (None fields left out)."""
        return dict(self.items())

    # -- read-only mapping view ----------------------------------------------------------
    def __getitem__(self, key: str) -> Any:
        if key in _FIELDS:
            value = getattr(self, key)
            if value is not None:
                return value
        elif key in self.extra:
            return self.extra[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        for name in _FIELDS:
            if getattr(self, name) is not None:
                yield name
        yield from (k for k in self.extra if k not in _FIELDS)

    def __len__(self) -> int:
        return sum(1 for _ in self)


_FIELDS = tuple(f.name for f in fields(Diagnostics) if f.name != "extra")
