"""The label id every head's loss and metrics skip.

-100 is `torch.nn.functional.cross_entropy`'s default `ignore_index`, which the Hugging Face
heads' own losses use: sub-word tokens after a word's first, padding, prompt tokens of SFT and
DPO, masked LM's unmasked tokens. One constant, so that a head's labels, its loss and the
token counts that weigh ranks under DDP (`lab.training.rank_weights`) agree on it.
"""

IGNORE = -100
