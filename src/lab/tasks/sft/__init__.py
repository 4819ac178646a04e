"""Supervised fine-tuning of a causal LM on instructions and chats (`task=sft`).

Rows come as chat `messages`, `prompt`/`completion` pairs or Alpaca `instruction`/`input`/
`output`; all become messages, rendered by the tokenizer's own chat template, and the loss
covers the assistant's tokens only (every assistant turn), unless
`task.module.train_on_prompt=true`.

One job per module:

- `chat`: row formats -> messages, rendering with the chat template, the assistant token mask,
  generation prompts (pure functions; shared with the DPO head and the predictor).
- `history`: `data.history_cut=oldest_turns`, a long chat's oldest turns left out until it
  fits `data.max_length` (the data module, the predictor and `lab.inspect` share it).
- `packing`: several examples per training row without attention across them (position ids
  restart per example).
- `data`: `SFTDataModule`: formats, checks, tokenization, overlong rows, batches.
- `module`: `SFTModule`, the LightningModule (completion-token loss, perplexity, generations
  scored by exact match and ROUGE-L).
- `predictor`: what `lab.predict` / `lab.serve` run.
- `card`: the model card's usage code (`task.card_usage`: the `text-generation` pipeline on
  chat messages; the DPO head's too).

This file imports nothing: loading the predictor does not load Lightning.
"""
