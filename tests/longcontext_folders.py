"""Tiny Enformer folders as users hold them (Hugging Face ``save_pretrained`` + a basenji
``targets.txt``), shared by the long-context test modules. Needs enformer-pytorch (the test
modules skip without it)."""

from __future__ import annotations

import pandas as pd
import torch


def write_targets(path, rows):
    """A basenji targets table at ``path`` for ``rows`` of (identifier, description)."""
    table = pd.DataFrame({"identifier": [i for i, _d in rows], "file": "x.w5", "clip": 32, "scale": 2,
                          "sum_stat": "sum", "description": [d for _i, d in rows]})
    table.to_csv(path, sep="\t", index=True)  # basenji: the first, unnamed column is the index
    return path


def tiny_enformer_folder(folder, rows):
    """A random-init Enformer (64 bp input, 4 bins of 8 bp from base 16, one track per row) saved
    in ``folder`` with its targets table; returns ``folder``."""
    import enformer_pytorch

    torch.manual_seed(0)
    net = enformer_pytorch.Enformer.from_hparams(dim=48, depth=1, heads=2, attn_dim_key=8,
                                                 output_heads=dict(human=len(rows)), target_length=4,
                                                 num_downsamples=3, dim_divisible_by=8).eval()
    # safe_serialization=False: Enformer's trunk shares its blocks' tensors, which safetensors refuses
    net.save_pretrained(folder, safe_serialization=False)
    write_targets(folder / "targets.txt", rows)
    return folder
