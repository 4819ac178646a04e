"""BERT's masking of a batch (`mask_tokens`), the random draws it is made from (`draw`), and
the seeded generators that make those draws reproducible (`seeded_generator`). Torch and numpy
only: no Lightning, no data module.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from lab.tasks.ignore import IGNORE

MASK_SHARE, RANDOM_SHARE = 0.8, 0.1  # of targets: mask token, random token; the rest kept


def mask_tokens(
    input_ids: torch.Tensor,
    special_tokens_mask: torch.Tensor,
    probability: float,
    mask_token_id: int,
    draws: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    word_ids: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masking of a batch: (masked inputs, labels with -100 where not a target).

    `draws` (from `draw`) holds the randomness: uniforms that pick targets, uniforms that
    choose mask token / random token / keep, and the random tokens. With `word_ids` (each
    token's word number, -1 for special tokens) words are picked, all their pieces together;
    the 80/10/10 choice is still made per token, as `DataCollatorForWholeWordMask` does.
    """
    pick, how, random_ids = (d.to(input_ids.device) for d in draws)
    if word_ids is not None:
        # Each token takes the draw of its word's first token (a word's pieces are adjacent).
        previous = torch.nn.functional.pad(word_ids[:, :-1], (1, 0), value=-2)
        positions = torch.arange(word_ids.shape[1], device=word_ids.device).expand_as(word_ids)
        first = torch.cummax(torch.where(word_ids != previous, positions, 0), dim=1).values
        pick = pick.gather(1, first)
    targets = (special_tokens_mask == 0) & (pick < probability)
    labels = torch.where(targets, input_ids, IGNORE)
    masked = input_ids.clone()
    masked[targets & (how < MASK_SHARE)] = mask_token_id
    swap = targets & (how >= MASK_SHARE) & (how < MASK_SHARE + RANDOM_SHARE)
    masked[swap] = random_ids[swap]
    return masked, labels


def draw(
    generators: Sequence[torch.Generator],
    lengths: Sequence[int],
    vocab_size: int,
    width: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The randomness of `mask_tokens` for rows of `lengths` tokens, padded to `width` (the
    batch's padded width, at least the longest; default the longest) with zeros.

    One generator draws for the whole batch; one per row draws each row at its own length,
    so a row's masks do not depend on the rows batched with it. Draws are made at the longest
    row's length, so masks do not depend on how far the batch was padded past it
    (`data.pad_to_multiple_of`) either.
    """
    longest = max(lengths)
    if len(generators) == 1:
        draws = _uniform_draws(generators[0], len(lengths), longest, vocab_size)
    else:
        parts = [
            _uniform_draws(g, 1, n, vocab_size) for g, n in zip(generators, lengths, strict=True)
        ]
        draws = tuple(  # type: ignore[assignment]
            torch.cat([torch.nn.functional.pad(p[i], (0, longest - p[i].shape[1])) for p in parts])
            for i in range(3)
        )
    extra = (width or longest) - longest
    if extra <= 0:
        return draws
    return tuple(torch.nn.functional.pad(d, (0, extra)) for d in draws)  # type: ignore[return-value]


def _uniform_draws(
    generator: torch.Generator, rows: int, length: int, vocab_size: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    pick = torch.rand((rows, length), generator=generator)
    how = torch.rand((rows, length), generator=generator)
    random_ids = torch.randint(vocab_size, (rows, length), generator=generator)
    return pick, how, random_ids


def seeded_generator(*key: int) -> torch.Generator:
    """A CPU generator seeded from a tuple of integers (numpy's `SeedSequence` mixes them, so
    nearby keys give unrelated streams)."""
    state = np.random.SeedSequence([int(k) for k in key]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) & (2**63 - 1))
