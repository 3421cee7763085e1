"""Building scenarios from data: the bundled scenarios and models from the national
public data in ``../shared/data`` (`scenarios`), and seeded synthetic scenarios of any
size for tests and benchmarks (`synthetic`).
"""
