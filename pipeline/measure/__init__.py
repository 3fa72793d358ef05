"""Measurement: energy (CodeCarbon sessions, idle baseline, per-answer shares) and statistics (intervals,
tests, corrections).

May import: the top-level modules only; no stage module (questions, answers, verdicts, report). ``stats``
imports nothing of the project.
"""
