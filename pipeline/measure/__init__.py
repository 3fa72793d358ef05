"""Measurement: energy (CodeCarbon sessions, idle baseline, per-answer shares) and statistics (intervals,
tests, corrections).

``stats`` (intervals, tests, efficiency figures, agreement), ``correction`` (an accuracy corrected for a judge's
error rates, measured on documents that differ), ``labelled`` (accuracy anchored on a person's labels: PPI++) and
``energy``.

May import: the top-level modules only; no stage module (questions, answers, verdicts, report). ``stats``
imports nothing of the project; ``correction`` and ``labelled`` import ``stats`` only.
"""
