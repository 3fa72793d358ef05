"""Report: per-question details to the decision card, tables, plot, page and Hub dataset (the ``report``
stage), and ``make compare`` across documents.

``report`` (the stage, one ``run()``: what the report says), ``aggregation`` (details -> results table),
``trust`` (how far the verdicts can be trusted; when they cannot support a pick), ``flags`` (questions a
human should look at), ``formatting``, ``figures`` (the bubble plot), ``html_report`` (the page), ``hub``
(the dataset folder ``make push`` uploads) and ``compare`` (every finished report side by side).

May import: everything. Imported by nothing but the command line.
"""
