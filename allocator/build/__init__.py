"""Building scenarios from data: the bundled scenarios and models from the national
public data in ``../shared/data``, and seeded synthetic scenarios of any size for tests
and benchmarks (`synthetic`).

The bundled scenarios, by pipeline stage: `assumptions` (every assumed number),
`sources` (the only code that reads the shared data), `areas`, `services`, `models`
(need and response models), `writers` (TOML and CSV), `readmes`, and `scenarios`,
which puts them together; ``python -m allocator.build --shared ../shared/data`` runs it.
"""
