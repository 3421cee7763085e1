"""The names a setting can take, in one light module: the command line offers them as choices
without importing numpy, pandas or a solver (so ``allocator --help`` answers at once)."""

OBJECTIVES = ("health-gain", "fair-share", "equity-weighted", "level-up", "maximin")
PROPORTIONALITY = ("monotone", "proportional", "none")
SLOPE_ONLY = ("a minimum slope (min_slope) applies in proportionality mode 'monotone' only, where intensity rises "
              "with need")  # (any other mode would ignore it: refused)
BUDGET_MODES = ("exact", "at-most")
SOLVERS = ("highs", "cbc")
METHODS = ("auto", "simplex", "ipm", "pdlp")
