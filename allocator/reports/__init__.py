"""Reports: everything a person reads or a spreadsheet opens, written atomically.

`outputs` (the tables of a run as CSV and JSON, the terminal summary, atomic writes
and formula neutralisation), `results` (saved result folders, read back for
`allocator report`), `html`, `markdown`, `workbook` (XLSX), `frontier` (its chart),
`sweep` and `sweep_plots` (a sweep's tables and plots). Every number goes through
`allocator.format`.
"""
