"""Input/output: sequences, loci, models and variants. Imports no UI library."""
