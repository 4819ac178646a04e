"""Sequence classification (single text or text pair): data preparation, module, metrics.

`data.problem_type` picks the label kind: `single_label` (one class per row, this package's
module), `multi_label` (a list of classes per row; `lab.tasks.multi_label`) or `regression`
(one number per row; `lab.tasks.regression`). The data side is shared and lives here.

Labels may be stored as integers (`0..num_labels-1`) or as strings; names come from, in order:
`data.label_names`, the dataset's `ClassLabel` feature, or the sorted distinct values of the
train split. They reach the exported model as `id2label` / `label2id`.

One job per module:

- `data`: `TextClassificationDataModule`: columns, label names and ids, the checks of each
  split (text cells, labels, the hidden label -1), tokenization (multi-hot targets too).
- `module`: `TextClassificationModule`, the LightningModule (cross entropy with class weights
  and label smoothing, accuracy, macro F1 / precision / recall, Matthews correlation, with two
  classes label id 1's F1, the test confusion matrix and per-class scores); it names
  `plot_confusion_matrix` too (the task YAML's `report_plots` target).
- `confusion_plot`: `plot_confusion_matrix`, the test report's figure, of a bounded size
  whatever the number of classes.
- `predictor`: `SequenceClassificationPredictor`, what `lab.predict` / `lab.serve` run, for
  all three problem types.
- `card`: the model card's usage code (`task.card_usage`: the `text-classification`
  pipeline; `task.card_onnx_usage`: the ONNX graph with onnxruntime), for all three.

This file stays light: importing the package (or `predictor`) does not import Lightning.
Every name of the single-file head resolves lazily under its old path
(`lab.tasks.text_classification.TextClassificationModule`), which run directories written
before the package existed name in their `config.yaml`.
"""

from __future__ import annotations

from lab.tasks.lazy import lazy_exports

# Old dotted names -> the module that now holds them (imported on first use only).
_LAZY = {
    "PROBLEM_TYPES": "lab.tasks.text_classification.data",
    "TextClassificationDataModule": "lab.tasks.text_classification.data",
    "TextClassificationModule": "lab.tasks.text_classification.module",
    "plot_confusion_matrix": "lab.tasks.text_classification.module",
    "SequenceClassificationPredictor": "lab.tasks.text_classification.predictor",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals)
