"""The model: the linear program of DESIGN's contract, its solution and its checks.

`lp` builds the LP as arrays with stable, readable names; `solver` hands it to
HiGHS (or CBC through PuLP) and re-solves warm; `fairshare` solves the fair-share
objective in closed form where it can prove optimality; `evaluate` turns a solution
into an allocation and re-checks every rule from the allocation alone; `equity`
holds the deprivation groups and weights the equity objectives use; `diagnose`
explains an infeasible scenario in money and rules.
"""
