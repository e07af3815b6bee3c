"""Motifs: databases (JASPAR offline, MEME files), seqlets, TOMTOM matching, FIMO scanning.

No UI imports. memelite's TOMTOM and FIMO are numba-compiled; the compiled code is cached
in ``NUMBA_CACHE_DIR`` and warmed by ``python -m explorer.warmup`` (run by ``make install``).

=====================  ==========================================================
:func:`jaspar`         a JASPAR release from pyjaspar, offline (cached in-process)
:func:`read_meme`      any MEME-format motif file
:class:`MotifDatabase` PWMs ``(4, W)`` + metadata table
:func:`call_seqlets`   high-attribution stretches of an Attribution
:func:`match_motifs`   TOMTOM of every seqlet against a database
:func:`scan_motifs`    FIMO of a locus/sequence against a database
:func:`agreement`      seqlets vs. matched motifs vs. FIMO hits, in words and numbers
=====================  ==========================================================
"""

from explorer.motifs.agreement import Agreement, agreement
from explorer.motifs.databases import MotifDatabase, jaspar, jaspar_releases, read_meme
from explorer.motifs.matching import match_motifs
from explorer.motifs.scanning import scan_motifs
from explorer.motifs.seqlets import call_seqlets

__all__ = ["Agreement", "MotifDatabase", "agreement", "call_seqlets", "jaspar", "jaspar_releases",
           "match_motifs", "read_meme", "scan_motifs"]
