"""Hugging Face masked DNA language models from a local folder, as one-hot masked LMs.

A folder written by ``model.save_pretrained(folder)`` and ``tokenizer.save_pretrained(folder)``
(``config.json``, the weights, the tokenizer files) loads with
``AutoModelForMaskedLM.from_pretrained(folder, local_files_only=True)`` and
``AutoTokenizer.from_pretrained(folder, local_files_only=True)``: nothing is fetched from the
hub, and no code from the folder runs (``trust_remote_code`` stays False, so models that need
their own modelling code are refused with a message).

:class:`HFMaskedLM` gives it the explorer's masked-LM face: one-hot ``(N, 4, L)`` in (a
masked base is an all-zero column, which becomes the tokenizer's mask token), logits
``(N, 4, L)`` over the tokens ``A, C, G, T`` out (the other tokens' logits are dropped, so a
softmax over the four is ``p(base | base is a nucleotide)``). The tokenizer's special tokens
(e.g. ``<cls>`` ... ``<eos>``) frame every input as the tokenizer itself would.

Only single-nucleotide tokenizers are supported: a k-mer tokenizer (DNABERT's overlapping
6-mers, the Nucleotide Transformer's 6-mers, BPE) is refused with a message, since one
masked base does not map onto one token there.

Needs the optional extra ``hf`` (``pip install 'attribution-explorer[hf]'``: transformers).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

__all__ = ["HFMaskedLM", "is_hf_folder", "load_hf_masked_lm"]

BASES = "ACGT"


def is_hf_folder(path: str | Path) -> bool:
    """True for a folder holding a Hugging Face ``config.json``."""
    return Path(path).is_dir() and (Path(path) / "config.json").is_file()


class HFMaskedLM(nn.Module):
    """A Hugging Face masked LM called on one-hot ``(N, 4, L)``, returning logits ``(N, 4, L)``.

    Parameters
    ----------
    model : nn.Module
        An ``AutoModelForMaskedLM`` (returns ``.logits`` ``(N, T, vocab)``).
    base_ids : sequence of 4 int
        Token ids of ``A, C, G, T``.
    mask_id : int
        Token id of the mask token (what an all-zero column becomes).
    prefix, suffix : sequence of int
        Special tokens the tokenizer puts before and after a sequence.
    """

    def __init__(self, model: nn.Module, base_ids, mask_id: int, prefix=(), suffix=()):
        super().__init__()
        self.model = model
        self.register_buffer("base_ids", torch.tensor(list(base_ids), dtype=torch.long), persistent=True)
        self.register_buffer("prefix", torch.tensor(list(prefix), dtype=torch.long), persistent=True)
        self.register_buffer("suffix", torch.tensor(list(suffix), dtype=torch.long), persistent=True)
        self.mask_id = int(mask_id)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 4, L)`` one-hot -> ``(N, len(prefix) + L + len(suffix))`` token ids."""
        n = x.shape[0]
        ids = self.base_ids[x.argmax(1)]
        ids = torch.where(x.sum(1) > 0.5, ids, torch.full_like(ids, self.mask_id))
        return torch.cat([self.prefix.expand(n, -1), ids, self.suffix.expand(n, -1)], 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(N, 4, L)`` one-hot (masked = zero column) -> ``(N, 4, L)`` logits over A, C, G, T."""
        ids = self.tokens(x)
        logits = self.model(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        k = int(self.prefix.numel())
        return logits[:, k:k + x.shape[2], :][..., self.base_ids].permute(0, 2, 1).float()


def _framing(tokenizer, base_ids: list[int], name: str) -> tuple[list[int], list[int]]:
    """``(prefix, suffix)`` special tokens, after checking that the tokenizer reads one base per token."""
    probe = "ACGTTGCA"
    ids = list(tokenizer(probe, add_special_tokens=True)["input_ids"])
    want = [base_ids[BASES.index(b)] for b in probe]
    for k in range(len(ids) - len(want) + 1):
        if ids[k:k + len(want)] == want:
            return ids[:k], ids[k + len(want):]
    raise ValueError(f"{name}: its tokenizer does not read one nucleotide per token ('{probe}' became the tokens "
                     f"{tokenizer.convert_ids_to_tokens(ids)}); only single-nucleotide tokenizers are supported "
                     f"(k-mer tokenizers such as DNABERT's or the Nucleotide Transformer's are not yet)")


def load_hf_masked_lm(folder: str | Path) -> tuple[HFMaskedLM, dict]:
    """``(net, card)`` of a local Hugging Face masked-LM folder (module docstring).

    Returns
    -------
    (HFMaskedLM, dict)
        The card: ``kind`` ``"masked_lm"``, ``tasks`` ``A, C, G, T``, ``max_length`` (the
        longest sequence in bases, from the position embeddings less the special tokens),
        ``name`` (the folder's), ``model_type``, ``tokenizer``, ``format`` ``"huggingface"``.

    Raises
    ------
    ImportError
        transformers is not installed (the message names the extra).
    ValueError
        The folder does not load, is not a masked LM, or its tokenizer is not single-nucleotide.
    """
    folder = Path(folder)
    name = folder.name
    try:
        import transformers
    except ImportError:
        raise ImportError(f"{name} is a Hugging Face model folder; loading it needs the transformers package: "
                          f"pip install 'attribution-explorer[hf]'") from None
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
        model = transformers.AutoModelForMaskedLM.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:  # noqa: BLE001 - transformers raises many kinds; say which in words
        first = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"{name}: the Hugging Face folder could not be loaded as a masked language model with its "
                         f"tokenizer (AutoModelForMaskedLM, AutoTokenizer, local files only, no remote code): "
                         f"{first}") from None
    vocab = tokenizer.get_vocab()
    missing = [b for b in BASES if b not in vocab]
    if missing:
        raise ValueError(f"{name}: its tokenizer has no single-nucleotide tokens {missing} (its vocabulary starts "
                         f"{list(vocab)[:8]}); only single-nucleotide tokenizers are supported (k-mer "
                         f"tokenizers are not yet)")
    if tokenizer.mask_token_id is None:
        raise ValueError(f"{name}: its tokenizer has no mask token, so it is not a masked language model")
    base_ids = [int(vocab[b]) for b in BASES]
    prefix, suffix = _framing(tokenizer, base_ids, name)
    config = model.config
    positions = getattr(config, "max_position_embeddings", None)
    max_length = None
    if positions:
        offset = 2 if "roberta" in str(getattr(config, "model_type", "")) else 0  # RoBERTa skips padding_idx + 1
        max_length = int(positions) - offset - len(prefix) - len(suffix)
    model.eval()
    card = {"kind": "masked_lm", "tasks": list(BASES), "name": name, "format": "huggingface",
            "model_type": str(getattr(config, "model_type", "")), "tokenizer": type(tokenizer).__name__,
            "min_length": 1, "max_length": max_length,
            "description": (f"Hugging Face {type(model).__name__} from the local folder {name}; single-nucleotide "
                            f"tokens, a masked base is the tokenizer's {tokenizer.mask_token} token")}
    return HFMaskedLM(model, base_ids, tokenizer.mask_token_id, prefix, suffix), card
