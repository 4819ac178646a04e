"""Build the tiny tokenizer and chat template of `model=tiny_llama` (src/lab/assets/tiny_llama).

Llama 3's scheme at toy size: byte-level BPE (every byte is a token, so any text tokenizes),
Llama 3's header tokens, and a Llama-3-style chat template whose assistant turns sit inside
`{% generation %}` markers (so `apply_chat_template(return_assistant_tokens_mask=True)` works
too). The training text is authored below, so the result depends on nothing else:

    python scripts/make_tiny_llama_tokenizer.py
"""

from __future__ import annotations

import itertools
from pathlib import Path

from tokenizers import ByteLevelBPETokenizer
from transformers import PreTrainedTokenizerFast

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src/lab/assets/tiny_llama"
VOCAB_SIZE = 1000  # model=tiny_llama's embedding table has 1024 rows
BOS, EOS, EOT, PAD = "<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|pad|>"
HEADER_START, HEADER_END = "<|start_header_id|>", "<|end_header_id|>"
SPECIAL = [BOS, EOS, HEADER_START, HEADER_END, EOT, PAD]

# Each turn: a header naming the role, a blank line, the text, <|eot_id|>. The assistant's text
# and its <|eot_id|> are the generation (what the model learns to write, stop token included).
CHAT_TEMPLATE = (
    "{{- bos_token }}"
    "{%- for message in messages %}"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}"
    "{%- if message['role'] == 'assistant' %}"
    "{% generation %}{{- message['content'] + '<|eot_id|>' }}{% endgeneration %}"
    "{%- else %}"
    "{{- message['content'] + '<|eot_id|>' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}"
    "{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{%- endif %}"
)

PARAGRAPHS = """\
You are a helpful assistant. Answer the question in one short sentence.
What is the capital of France? The capital of France is Paris.
Write a short poem about the sea. The sea is wide and blue, it sings all night to you.
Translate the sentence into French. The cat sleeps on the mat.
Summarize the following text in a few words. The meeting was moved to Monday morning.
Give three reasons to learn a new language: travel, work and friends.
Explain why the sky is blue. Sunlight is scattered by the air, and blue light scatters most.
Please list the days of the week: Monday, Tuesday, Wednesday, Thursday, Friday, Saturday, Sunday.
Name the months: January, February, March, April, May, June, July, August, September,
October, November, December.
How many legs does a spider have? A spider has eight legs.
Is this review positive or negative? I loved the film, the acting was great. Positive.
Rewrite the text so that it is more formal. Hey, can you send me the report today?
Could you please send me the report today? Thank you for your help.
Sort the numbers from smallest to largest: 7, 2, 9, 4. The answer is 2, 4, 7, 9.
Add 12 and 30. 12 + 30 = 42. Multiply 6 by 7: 6 * 7 = 42. Divide 10 by 2: 10 / 2 = 5.
Convert the word to upper case: hello -> HELLO. Reverse the word: stop -> pots.
Which planet is the largest? Jupiter is the largest planet in our solar system.
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a step.
Science, history, music, art, sports, food, health, weather, computers and code.
def add(a, b): return a + b  # Python code; {"key": "value"}; [1, 2, 3]; x = y * 2.
Instruction: classify the sentiment. Input: The food was cold. Output: negative.
User: hi! Assistant: Hello! How can I help you today? User: thanks, bye. Assistant: Goodbye!
"""
COLORS = ["red", "green", "blue", "yellow", "black", "white", "orange", "purple"]
ANIMALS = ["cat", "dog", "bird", "fish", "horse", "mouse", "lion", "bear"]
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
VERBS = ["sees", "likes", "chases", "finds", "helps", "follows", "watches", "answers"]
WORDS_TEXT = """
about above across after again against already always another answer around because before
begin between both bring build called came carry change children city close country could
different during early earth enough every example family father feel first follow food found
friend from give good great group grow hand happy hard head hear help here high home house
however important idea into just keep kind know language large last learn leave letter life
light line little live long look made make many mean might mother move much must name near
need never next night number often only open order other over own page paper part people
place plant play point question quickly read really right river room round said same school
second sentence should show side small something sometimes sound spell stand start still
story study system take tell than that their them then there these thing think those thought
three through together took toward tree under until upon usually very walk want water well
went were what when where which while white whole without word work world would write year
young assistant user system model token train learning instruction response prompt chat
message reply helpful correct wrong simple short long explain describe compare summary list
"""
ROLES = ["system", "user", "assistant"]


def corpus() -> list[str]:
    """The training text: the paragraphs above plus simple generated sentences."""
    texts = PARAGRAPHS.splitlines()
    for color, animal, verb in itertools.product(COLORS, ANIMALS, VERBS):
        texts.append(f"The {color} {animal} {verb} the other {animal}.")
    for i, word in enumerate(NUMBERS):
        texts.append(f"What is {i} plus {i}? {word.capitalize()} plus {word} is {2 * i}.")
        texts.append(f"Question: how do you write {i} in words? Answer: {word}.")
    words = WORDS_TEXT.split()
    for i in range(0, len(words) - 5, 3):
        texts.append(" ".join(words[i : i + 6]).capitalize() + ".")
        texts.append(f"The {words[i]} and the {words[i + 1]} {words[i + 2]}s {words[i + 3]}.")
    for role, word in itertools.product(ROLES, words):
        texts.append(f"{role}: {word} {role}")
    return texts


def main() -> None:
    trainer = ByteLevelBPETokenizer()
    trainer.train_from_iterator(corpus(), vocab_size=VOCAB_SIZE, special_tokens=SPECIAL)
    OUT.mkdir(parents=True, exist_ok=True)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=trainer._tokenizer,
        bos_token=BOS,
        eos_token=EOT,  # chat models stop at the end of the assistant's turn
        pad_token=PAD,
        unk_token=EOS,
        additional_special_tokens=[EOS, HEADER_START, HEADER_END],
        model_max_length=1024,
        chat_template=CHAT_TEMPLATE,
    )
    tokenizer.save_pretrained(OUT)
    print(f"{len(tokenizer)} tokens -> {OUT}")


if __name__ == "__main__":
    main()
