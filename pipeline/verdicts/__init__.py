"""Verdicts: every answer graded (the ``judge`` stage), and how far a judge can be trusted.

``judge`` (the stage, one ``run()``), ``grading`` (asking a judge model: prompt, constraint, parsed verdict),
``non_answers`` (answers wrong by rule, never sent to a judge), ``controls`` (control answers of known truth
built from the run) and ``calibration`` (the hand-labelled calibration set).

May import: the top-level modules, ``serving``, ``measure`` and ``answers.qa_prompt``. Imported by
``questions`` (the gold-answer check), ``report`` and the command line.
"""
