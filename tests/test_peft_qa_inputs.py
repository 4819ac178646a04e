"""A LoRA extractive-QA model reads the segment ids (s22d H1): peft's question-answering
wrapper took `token_type_ids` and did not pass them on, so training and the test at the end of
a run saw every token as segment 0 while the merged export read the real segments."""

from __future__ import annotations

import copy

import torch
from transformers import BertConfig, BertForQuestionAnswering

from lab.training.adapters import apply_peft


def test_the_adapted_qa_model_gives_the_merged_models_logits_with_segments() -> None:
    from peft import LoraConfig

    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, type_vocab_size=2,
    )  # fmt: skip
    lora = LoraConfig(task_type="QUESTION_ANS", r=4, target_modules=["query", "value"])
    adapted = apply_peft(BertForQuestionAnswering(config).eval(), lora)
    for name, weight in adapted.named_parameters():
        if "lora_B" in name:  # a trained adapter: B is zero at the start
            torch.nn.init.normal_(weight, std=0.5)
    ids = torch.randint(5, 64, (2, 12))
    segments = torch.tensor([[0] * 5 + [1] * 7] * 2)
    inputs = {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": segments}
    merged = copy.deepcopy(adapted).merge_and_unload()
    with torch.no_grad():
        got, expected = adapted(**inputs), merged(**inputs)
        segment_zero = merged(**{**inputs, "token_type_ids": torch.zeros_like(segments)})
    assert not torch.allclose(expected.start_logits, segment_zero.start_logits)  # they matter
    torch.testing.assert_close(got.start_logits, expected.start_logits)
    torch.testing.assert_close(got.end_logits, expected.end_logits)
    positions = torch.tensor([1, 2])  # labels reach the model too: a loss
    assert adapted(**inputs, start_positions=positions, end_positions=positions).loss is not None


def test_all_linear_leaves_the_head_peft_trains_whole_out_of_the_adapter() -> None:
    """s22d H2: `model.lora_target_modules=all-linear` put LoRA on token classification's and
    QA's heads too, and peft refused the head it trains whole with a TypeError."""
    from peft import LoraConfig
    from transformers import BertForTokenClassification

    config = BertConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, num_labels=3,
    )  # fmt: skip
    for head, task_type, name in (
        (BertForTokenClassification, "TOKEN_CLS", "classifier"),
        (BertForQuestionAnswering, "QUESTION_ANS", "qa_outputs"),
    ):
        lora = LoraConfig(task_type=task_type, r=4, target_modules="all-linear")
        adapted = apply_peft(head(config), lora)
        trained = {n for n, p in adapted.named_parameters() if p.requires_grad}
        assert any("lora_A" in n and "attention" in n for n in trained)  # every linear layer
        assert f"base_model.model.{name}.modules_to_save.default.weight" in trained  # whole
        assert not any("lora" in n and name in n for n in trained)


def test_the_parameter_total_counts_a_head_peft_trains_whole_once() -> None:
    """s22d L2: peft keeps a frozen original beside the trained copy of such a head; the total
    is the model that trains and merges into the export (base + adapter), not the head twice."""
    from peft import LoraConfig
    from transformers import BertForTokenClassification

    from lab.training.adapters import parameter_counts

    config = BertConfig(
        vocab_size=64, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, num_labels=3,
    )  # fmt: skip
    base = BertForTokenClassification(config)
    base_total = sum(p.numel() for p in base.parameters())
    lora = LoraConfig(task_type="TOKEN_CLS", r=4, target_modules=["query", "value"])
    counts = parameter_counts(apply_peft(base, lora))
    adapter = 2 * (4 * 16 + 16 * 4)  # query and value: A (4 x 16) and B (16 x 4) each
    head = 16 * 3 + 3  # the classifier's weight and bias, trained whole
    assert counts["total"] == base_total + adapter
    assert counts["trainable"] == adapter + head
