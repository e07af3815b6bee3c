"""The command line: ``python -m explorer attribute ...`` and ``python -m explorer variants ...``.

Both run on a local Dask cluster (``--workers N``, default the machine's cores; 1 runs in
this process) or on a running scheduler (``--scheduler tcp://host:8786``), show a progress
bar and the Dask dashboard link, and can be rerun with the same ``--out`` to finish a killed
run. A bad argument or input file ends with one line saying what to change (exit status 2),
not a traceback.
"""

from __future__ import annotations

import argparse
import sys

#: exit status of a run refused for bad input (argparse's own)
BAD_INPUT = 2


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model file (TorchScript or checkpoint with card)")
    p.add_argument("--genome", required=True, help="FASTA (indexed or bgzip) or GenBank file holding the regions")
    p.add_argument("--target", default=None, help="task name or index (default: a one-task model's task)")
    p.add_argument("--out", required=True, help="output folder; rerun with the same folder to resume")
    p.add_argument("--workers", type=int, default=None,
                   help="local Dask cluster of N worker processes (default: the machine's cores; 1: no Dask)")
    p.add_argument("--scheduler", default=None, help="address of a running Dask scheduler (tcp://host:8786)")
    p.add_argument("--shard-size", type=int, default=None, help="regions (variants) per shard")
    p.add_argument("--trusted", action="store_true", help="allow a full-pickle model file (runs its code)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def _value(text: str):
    """An option value from the command line: a number, true/false/none, else the text."""
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low == "none":
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def parser() -> argparse.ArgumentParser:
    """The argument parser of both commands."""
    top = argparse.ArgumentParser(prog="python -m explorer",
                                  description="Batch attribution and variant effects with a sequence model.")
    sub = top.add_subparsers(dest="command", required=True)
    a = sub.add_parser("attribute", help="attribution maps of every region of a BED file")
    _common(a)
    a.add_argument("--regions", required=True, help="BED file of regions (0-based, half-open)")
    a.add_argument("--method", default="ism", choices=["ism", "ig", "deeplift_shap", "saliency"])
    a.add_argument("--width", type=int, default=None, help="centre every region on this many bases")
    a.add_argument("--motifs", default="jaspar",
                   help="database for each seqlet's best match: 'jaspar' (default), a MEME file, or 'none'")
    a.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="a method or target option of explorer.attribute, e.g. n_shuffles=10 (repeatable)")
    v = sub.add_parser("variants", help="predicted effect of every variant of a VCF")
    _common(v)
    v.add_argument("--vcf", required=True, help="VCF (or variant table) file; positions 1-based")
    v.add_argument("--window", type=int, default=2000, help="scoring window in bases, centred on each variant")
    return top


def main(argv=None) -> int:
    """Run a command; returns the exit status (0, or :data:`BAD_INPUT` with a one-line reason)."""
    args = parser().parse_args(argv)
    common = dict(workers=args.workers, scheduler=args.scheduler, trusted=args.trusted,
                  progress=not args.no_progress)
    if args.shard_size is not None:
        common["shard_size"] = args.shard_size
    try:
        if args.command == "attribute":
            from explorer.batch.run import run_attribution

            options = {}
            for item in args.option:
                key, sep, value = item.partition("=")
                if not sep or not key:
                    raise ValueError(f"--option takes KEY=VALUE (e.g. n_shuffles=10); got {item!r}")
                options[key.strip()] = _value(value.strip())
            run_attribution(args.model, args.genome, args.regions, args.out, args.method, _target(args.target),
                            width=args.width, motifs=args.motifs, **common, **options)
        else:
            from explorer.batch.variants import run_variants

            run_variants(args.model, args.genome, args.vcf, args.out, _target(args.target), window=args.window,
                         **common)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return BAD_INPUT
    return 0


def _target(text: str | None):
    return int(text) if text is not None and text.isdigit() else text
