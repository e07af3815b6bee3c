"""Networks with seeded random weights, wrapped with their model cards (tests, benchmarks)."""

from __future__ import annotations

import torch

from explorer.io.models import ExplorerModel
from explorer.nets.bpnet import BPNet


def random_bpnet(seed: int = 0, tasks: list[str] | None = None, **config) -> ExplorerModel:
    """A BPNet with seeded random weights, wrapped with its model card (for tests/benchmarks).

    Parameters
    ----------
    seed : int
        ``torch.manual_seed`` for the weights (the global RNG state is restored after).
    tasks : list of str, optional
        Task names; defaults to ``task0, task1, ...`` (``config["n_tasks"]`` of them).
    **config
        :class:`BPNet` constructor arguments.
    """
    state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        net = BPNet(**config).eval()
    finally:
        torch.random.set_rng_state(state)
    n_tasks = net.config["n_tasks"]
    tasks = list(tasks) if tasks is not None else [f"task{i}" for i in range(n_tasks)]
    card = {
        "name": f"bpnet_random_seed{seed}",
        "tasks": tasks,
        "min_length": net.min_length,
        "input_length": None,
        "receptive_field": net.receptive_field,
        "structure": net.structure(),
        "outputs": ["profile (N, T, L - 2 trimming)", "counts (N, T)"],
        "weights": f"random (torch.manual_seed({seed})), untrained",
    }
    return ExplorerModel(net, card, source="<random bpnet>", kind="module")
