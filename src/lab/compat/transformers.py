"""Hugging Face transformers internals lab depends on: the token-classification pipeline's
choice of the tokens that start a word.

With `aggregation_strategy="first"` the pipeline tags a word by its first token, and
`TokenClassificationPipeline.gather_pre_entities` decides which tokens continue a word: for a
tokenizer whose model marks continuing tokens with a prefix (WordPiece's `##`) it compares
the token's length with the length of the text its offsets cover, which differ by the prefix
only where normalising kept the text's length. An accent-stripping tokenizer (BERT uncased,
the default MiniLM) reads NFD text shorter: `Ñan` (N, U+0303, a, n) is the token `nan`, so
the first token of the word `Ñandú` counted as continuing the word before it, and `Café
Ñandú` came back as one entity. The prefix itself says whether a token continues a word;
`WordStartPipeline` reads it. No public option of the pipeline sets this, and the per-token
dicts it edits (`index`, `word`, `is_subword`) are the pipeline's own;
`tests/test_unicode_text.py` checks they are still there.
"""

from __future__ import annotations

from typing import Any

from transformers import TokenClassificationPipeline


def subword_prefix(tokenizer: Any) -> str | None:
    """The prefix that marks a token continuing a word (`##` for WordPiece), or None for a
    tokenizer without one (byte-level BPE, SentencePiece, a slow tokenizer)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    prefix = getattr(getattr(backend, "model", None), "continuing_subword_prefix", None)
    return str(prefix) if prefix else None


class WordStartPipeline(TokenClassificationPipeline):
    """The token-classification pipeline, with a token continuing a word exactly when it
    starts with the tokenizer's continuing-subword prefix (see the module); tokenizers
    without one keep the pipeline's own rule."""

    def gather_pre_entities(  # type: ignore[override]
        self,
        sentence: str,
        input_ids: Any,
        scores: Any,
        offset_mapping: Any,
        special_tokens_mask: Any,
        aggregation_strategy: Any,
        **kwargs: Any,
    ) -> list[dict[str, Any]]:
        """The pipeline's per-token dicts, with `is_subword` read from the prefix."""
        found: list[dict[str, Any]] = super().gather_pre_entities(
            sentence,
            input_ids,
            scores,
            offset_mapping,
            special_tokens_mask,
            aggregation_strategy,
            **kwargs,
        )
        prefix = subword_prefix(self.tokenizer)
        if prefix is None or offset_mapping is None:
            return found
        unknown = getattr(self.tokenizer, "unk_token_id", None)
        for token in found:
            # The unknown token starts a word, as the pipeline has it (its `word` is the text).
            if int(input_ids[token["index"]]) != unknown:
                token["is_subword"] = str(token["word"]).startswith(prefix)
        return found
