"""Document-grounded model evaluation: accuracy and energy, one stage per package.

Stages (each exposes one ``run(...)``), in the order the Makefile calls them:
``serving.models`` (materialise embedded weights) -> ``questions.generate`` (YourBench) ->
``answers.answer`` (Lighteval + CodeCarbon, one candidate at a time) -> ``verdicts.judge`` ->
``report.report``.

Packages, each with what it may import in its docstring: ``questions``, ``answers``, ``verdicts``,
``report`` (the stages), ``serving`` and ``measure`` (used by every stage, importing none). At the top:
the command line (``__main__``, ``cli``), the profile (``config``, ``keys``), the run folders
(``runs``), the document's language (``language``, read by the questions' and the candidates' prompts)
and small shared helpers (``io``, ``errors``, ``progress``). No import runs back up this order:
report -> questions -> verdicts -> answers -> serving, measure -> top level.
"""
