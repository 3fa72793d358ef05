"""Review: people check the judge's verdicts on their own document (``make review``).

The judge is lenient, so a person labels a sample of the answers blind (neither the verdict nor the model's
name is shown), and the report anchors each model's accuracy on those labels. ``labels`` holds the store
(``<run>/labels.jsonl``, one line per label, written at once), the sample to label (seeded, stratified by
model) and the CSV export/import for labelling in a spreadsheet; ``app`` is the terminal app that shows one
answer at a time (Textual).

May import: the top-level modules, ``measure``, ``verdicts`` and ``questions``. Imported by ``report`` and the
command line only.
"""
