"""Questions: from the document to ``questions.parquet`` (the ``locate`` checks and the ``generate`` stage).

``document`` checks and stages the input; ``generate`` (the stage, one ``run()``) drives YourBench with
``selection`` (which chunks are read), ``call_cache`` (every generator call recorded and replayed),
``validate`` (the checks a question must pass) and ``validation_rates`` (those checks measured on the
labelled sets in ``labelled/``).

May import: the top-level modules, ``serving``, ``measure``, and ``verdicts.grading`` /
``verdicts.calibration`` (the gold-answer check is a judge's verdict). Imported by ``report`` and the
command line; never by ``answers`` or ``verdicts``.
"""
