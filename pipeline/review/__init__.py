"""Review: people check the judge's verdicts on their own document (``make review``).

The judge is lenient, so a person labels a sample of the answers blind (neither the verdict nor the model's
name is shown), and the report anchors each model's accuracy on those labels. ``labels`` holds the store
(``<run>/labels.jsonl``, one line per label, written at once), the sample to label (seeded, stratified by
model), which labels form the random sample the estimate uses, and the CSV export (blind: opaque row ids) and
strict import for labelling in a spreadsheet; ``app`` is the terminal app that shows one answer at a time
(Textual), its "what your labels bought" line masked by letters drawn again for each question.

May import: the top-level modules, ``measure``, ``verdicts`` and ``questions``. Imported by ``report`` and the
command line only.
"""
