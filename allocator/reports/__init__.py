"""Reports: everything a person reads or a spreadsheet opens, written atomically.

`files` (the one output layer every write passes: a locked folder, written all at
once, never over an input, safe names from the input, an OS error as one line),
`outputs` (the tables of a run as CSV and JSON, the terminal summary, formula
neutralisation), `results` (saved result folders, read back exactly for
`allocator report`), `documents` (the reports of a comparison or a saved folder),
`html`, `markdown`, `workbook` (XLSX), `frontier` (its chart), `sweep` and
`sweep_plots` (a sweep's tables and plots). Every number goes through
`allocator.format`.
"""
