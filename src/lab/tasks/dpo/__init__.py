"""Preference tuning of a causal LM (`task=dpo`): DPO, conservative DPO, IPO and SimPO.

One job per module:

- `losses`: sequence log-probs of completion tokens, the losses and rewards (pure torch).
- `pairs`: one preference row read (strings or message lists), rendered with the chat
  template and tokenized; shared by the data module and the tests.
- `data`: `PreferenceDataModule`: row checks, tokenization (labels on completions only),
  batches of chosen then rejected sequences.
- `module`: `DPOModule`, the LightningModule: reference handling (disabled adapters, frozen
  copy or precomputed log-probs), loss, reward metrics.
- `reference`: `StartModel`, which rebuilds the model a run started from, the reference
  when `lab.eval` hands the module a run's trained export.

Generation for `lab.predict` / `lab.serve` is the SFT head's `ChatPredictor` (a DPO run's
export is a chat model like an SFT run's). This file imports nothing.
"""
