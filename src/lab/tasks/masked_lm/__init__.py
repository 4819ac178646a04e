"""Masked language modelling (BERT-style): domain adaptation of an encoder on any text data.

    python -m lab.train task=masked_lm data=imdb model=roberta          # then:
    python -m lab.train data=imdb model=roberta model.pretrained=<run dir>/model

**Any text data.** A data config picks its own head's data module (`data=imdb` a
classification one, `data=wikitext2` a causal-LM one). Masked-LM training needs only the text
of those rows, so the task YAML declares `task.data_module._target_`, which
`lab.build.build_datamodule` puts in place of the data config's: the data keys stay as they
are (path, Hub id, splits, subsampling, batch sizes, text columns) and `MaskedLMDataModule`
takes what it uses and ignores the head-specific rest (labels, tags). The task YAML also
includes `conf/data/base/masked_lm.yaml` into `data`, which adds `data.mlm_probability` and
`data.whole_word_mask` to whichever data config is chosen: no `+data...` is needed, and struct
mode still refuses a misspelt key. One data config per dataset, every head.

**Rows to blocks.** Each row (`text_column`, with `text_pair_column` as its pair when set) is
tokenized with its special tokens; rows are joined and cut into blocks of `data.block_size`
tokens (or `data.max_length` for datasets that have no block size), as Hugging Face's
`run_mlm` does; the tail of each tokenization batch is kept as a shorter block.

**Masking** (`mask_tokens`, BERT's recipe, the same as `DataCollatorForLanguageModeling`): each
non-special token is a target with probability `data.mlm_probability`; a target is replaced by
the mask token 80% of the time, by a random token 10%, and kept 10%. With
`data.whole_word_mask=true` words (the fast tokenizer's `word_ids`, so any tokenizer family)
are picked instead, all their pieces together. Training masks are drawn anew for every batch
(dynamic masking) from a generator seeded with (seed, rank, batches drawn so far), the count
kept in checkpoints: two runs with one seed see the same masks, and a resumed run continues
the sequence. Validation and test masks are drawn per block from (seed, block index), so
`val/loss` compares across epochs, batch sizes and ranks. Masking happens in the module (on
the batch) rather than in the collate function, where worker processes would each hold a copy
of the generator and a resume could not restore it.

Metrics: `loss` (mean cross-entropy over the split's target tokens), `perplexity` (its
exponential, optimized) and `accuracy` (top-1 on targets). `FillMaskPredictor` serves the
exported model for `lab.predict` / `lab.serve`.

One job per module:

- `data`: `MaskedLMDataModule` (rows to blocks, whole-word numbering) and `collate_blocks`.
- `masking`: BERT's masking of a batch (`mask_tokens`), its random draws (`draw`) and the
  seeded generators they come from (`seeded_generator`).
- `module`: `MaskedLMModule`, the LightningModule (dynamic and fixed masks, metrics).
- `predictor`: `FillMaskPredictor`, what `lab.predict` / `lab.serve` run.
- `card`: the model card's usage code (`task.card_usage`: the `fill-mask` pipeline).

This file stays light: importing the package (or `masking` / `predictor`) does not import
Lightning. Every name of the single-file head resolves lazily under its old path
(`lab.tasks.masked_lm.MaskedLMModule`), which run directories written before the package
existed name in their `config.yaml`.
"""

from __future__ import annotations

from lab.tasks.lazy import lazy_exports

# Old dotted names -> the module that now holds them (imported on first use only).
_LAZY = {
    "MaskedLMDataModule": "lab.tasks.masked_lm.data",
    "collate_blocks": "lab.tasks.masked_lm.data",
    "IGNORE": "lab.tasks.masked_lm.masking",
    "MASK_SHARE": "lab.tasks.masked_lm.masking",
    "RANDOM_SHARE": "lab.tasks.masked_lm.masking",
    "draw": "lab.tasks.masked_lm.masking",
    "mask_tokens": "lab.tasks.masked_lm.masking",
    "seeded_generator": "lab.tasks.masked_lm.masking",
    "MaskedLMModule": "lab.tasks.masked_lm.module",
    "FillMaskPredictor": "lab.tasks.masked_lm.predictor",
}

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals)
