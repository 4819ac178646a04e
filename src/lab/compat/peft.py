"""peft's question-answering wrapper, made to pass every input on (s22d H1).

`PeftModelForQuestionAnswering.forward` (peft 0.21) takes `token_type_ids` and `position_ids`
and does not hand them to the model it wraps: a BERT-family QA run with `peft=lora` trained
and tested every token as segment 0, while its merged export, `lab.eval`, `lab.predict` and
`lab.serve` read the real segments (the question's 0, the context's 1), so the recorded
metrics were not the exported model's. `pass_every_input` gives such a model a forward that
hands every input to the adapted model, as peft's other task wrappers do; prompt-learning
adapters keep peft's own forward (they rewrite the inputs). A peft that passes them already
is left as it is (`tests/test_peft_qa_inputs.py` checks the behaviour, not the version).
"""

from __future__ import annotations

import types
from typing import Any


def pass_every_input(model: Any) -> Any:
    """`model`, a peft QA model's forward handing every input on (see the module)."""
    from peft import PeftModelForQuestionAnswering

    if not isinstance(model, PeftModelForQuestionAnswering):
        return model
    if model.active_peft_config.is_prompt_learning:
        return model

    def forward(self: Any, *args: Any, **inputs: Any) -> Any:
        return self.base_model(*args, **inputs)  # the adapted model, LoRA layers active

    model.forward = types.MethodType(forward, model)  # type: ignore[method-assign]
    return model
