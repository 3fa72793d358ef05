"""Report: per-question details to the decision card, tables, plot, page and Hub dataset (the ``report``
stage), and ``make compare`` across documents.

``report`` (the stage, one ``run()``: puts the report together), ``aggregation`` (details -> results table),
``decision`` (the scale the pick rests on, the pick, what would tell two models apart), ``costs`` (what the
evaluation itself cost, and the payback), ``notes`` (how every figure was obtained), ``trust`` (how far the
verdicts can be trusted; when they cannot support a pick), ``flags`` (questions a human should look at),
``formatting``, ``figures`` (the bubble plot), ``html_report`` (the page), ``hub`` (the dataset folder ``make push``
uploads) and ``compare`` (every finished report side by side). Within the package: ``report`` imports the others;
``decision``, ``costs`` and ``notes`` import ``aggregation``, ``trust`` and ``formatting``, never ``report``.

May import: everything. Imported by nothing but the command line.
"""
