"""Reports: everything a person reads or a spreadsheet opens, written atomically.

`files` (the one output layer every write passes: a locked folder, written all at
once, never over an input, safe names from the input, an OS error as one line),
`outputs` (the tables of a run as CSV with JSON or, for the big ones, Parquet; the
terminal summary; formula neutralisation), `results` (saved result folders, read back
exactly for `allocator report`), `documents` (the reports of a comparison or a saved
folder), `brief` (what each option does, in words and numbers: the page read first),
`html` and `html_parts` (the page: brief, charts, maps, find-your-area, tables),
`markdown`, `maps` and `maps_draw` (choropleths by district, from the boundaries in
`data/`), `workbook` and `workbook_sheets` (the finance workbook, XLSX), `frontier`
(its chart), `sweep`, `sweep_plots` and `sweep_report` (a sweep's tables, plots and
page), `monitor_tables`, `monitor_html`, `monitor_charts`, `monitor_sheets` and
`monitor_workbook` (monitoring: its words, tables, page, charts and workbook). Every number goes
through `allocator.format`.
"""
