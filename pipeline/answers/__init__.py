"""Answers: each candidate answers the questions through Lighteval, under CodeCarbon (the ``answer`` stage).

``answer`` (the stage, one ``run()``), ``qa_prompt`` (the candidates' prompt, shared with the Lighteval task
in ``tasks/``) and ``lighteval_shims`` (every Lighteval 0.13 workaround, in one place).

May import: the top-level modules, ``serving`` and ``measure``. Imported by ``verdicts`` (a copy of the
prompt frame is a non-answer), ``report`` and the command line.
"""
