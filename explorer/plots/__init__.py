"""Pure figure builders: arrays and DataFrames in, HoloViews elements or matplotlib Figures out.

Nothing here runs a model. Positions on every x axis are 1-based genome coordinates, like a
genome browser.
"""

BASE_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}
