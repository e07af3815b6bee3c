"""Panel views of the explorer (state + layout; no science here)."""
