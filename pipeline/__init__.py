"""Document-grounded model evaluation: accuracy and energy, one stage per module.

Stages (each exposes ``run(...)``), in the order the Makefile calls them:
``models`` (materialise embedded weights) -> ``generate`` (YourBench) ->
``answer`` (Lighteval + CodeCarbon, one candidate at a time) -> ``judge`` ->
``report``.
"""
