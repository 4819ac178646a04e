"""Multiple choice (SWAG, HellaSwag): a context and N endings, pick the one that follows.

Each example becomes N pairs `(context, prefix + " " + ending)`, as Hugging Face's `run_swag`
builds them (SWAG's `sent2` and HellaSwag's `ctx_b` are the prefix: the start of the next
sentence, shared by every ending). `AutoModelForMultipleChoice` scores each pair with one
number; the loss is cross entropy over the N scores, the metric accuracy.

One job per module:

- `inputs`: `Choice` (one question) and the pairing, tokenization and padding of its endings,
  shared by training, the test report and the predictor, so what is served is paired exactly
  as it was trained (torch + tokenizer only).
- `data`: `MultipleChoiceDataModule`: the columns (endings as several columns or one list
  column; labels as integers or digit strings), row checks, tokenization, batches.
- `module`: `MultipleChoiceModule`, the LightningModule (loss, accuracy, test report), and
  `plot_choice_positions`, the report's figure.
- `predictor`: `MultipleChoicePredictor`, what `lab.predict` / `lab.serve` run.
- `card`: the model card's usage code (`task.card_usage`: the endings paired and scored).

This file imports nothing: loading the predictor does not load Lightning.
"""
