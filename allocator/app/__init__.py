"""The web app: a thin Streamlit layer over the same API as the command line.

``allocator app [SCENARIO]`` runs ``streamlit run allocator/app/main.py -- --scenario PATH``.
The app holds no allocation logic: it turns form controls into ``[[option]]`` blocks, checks
and applies them as `allocator compare` does (`allocator.scenario.options`), solves with
`allocator.analysis.compare` and shows what `allocator.reports` makes of the answer.

``logic``   rules as form values and as ``[[option]]`` blocks; solving; the state in the URL
            and in a settings file (no Streamlit)
``uploads`` an uploaded workbook or zip, checked and unpacked inside a per-session temporary
            folder (no Streamlit)
``export``  the downloads: the scenario folder with the options as ``[[option]]`` blocks, the
            brief as text, the settings file (no Streamlit)
``main``    the Streamlit script; ``sidebar`` (the scenario and the rules), ``views`` (the answer,
            the options compared) and ``tools`` (the sweep, the downloads) draw its parts;
            ``cache`` keeps solved answers by their inputs

Only this package imports Streamlit, and nothing else of allocator imports this package.
"""
