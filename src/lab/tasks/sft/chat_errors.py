"""The errors of chat rows (`lab.tasks.sft.chat` and its readers): a row that is no usable
chat, and an empty assistant turn (dropped or refused per `data.on_empty`)."""

from __future__ import annotations


class ChatError(ValueError):
    """A row that is not a usable chat. `column` is the column at fault; the data module adds
    the file and line (`DataModule.where`)."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class EmptyAnswer(ChatError):
    """An empty assistant turn (real data has them: 28 of Alpaca's 52,002 outputs are empty);
    the data module drops or refuses such a row per `data.on_empty`."""
