"""T5's translation prefix from a data config's languages: `${lab.translate_prefix:...}`.

T5 was trained with a task prefix naming both languages in English (`translate English to
German: `). A data config that wrote its prefix out in full kept it when the user swapped a
language: `data=wmt16_ro_en data.target_lang=de` trained English -> German sources prefixed
`translate English to Romanian: `, without a word. The translation data configs now build the
prefix from `data.source_lang` / `data.target_lang` with this resolver, so it follows them; a
`data.source_prefix=` given on the command line replaces the interpolation and wins.

A code with no English name here is written as given (`translate English to xx: `), not
refused: T5's pretraining taught it English to German, French and Romanian only, so for any
other pair the prefix is a prompt the model learns in fine-tuning whatever words name the
languages; a refusal would stop a run over a matter of wording. Codes are ISO 639-1 (the
keys of WMT's `translation` dictionaries); a region or script tag (`pt-BR`, `zh_Hans`) is read
by its language (`Portuguese`).
"""

from __future__ import annotations

#: ISO 639-1 code -> the language's English name: the WMT news-task languages, then others
#: common in translation corpora (OPUS, FLORES). One source: add a language here.
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "de": "German",
    "fr": "French",
    "ro": "Romanian",
    "cs": "Czech",
    "fi": "Finnish",
    "ru": "Russian",
    "tr": "Turkish",
    "et": "Estonian",
    "lv": "Latvian",
    "lt": "Lithuanian",
    "zh": "Chinese",
    "ja": "Japanese",
    "kk": "Kazakh",
    "gu": "Gujarati",
    "hi": "Hindi",
    "ps": "Pashto",
    "km": "Khmer",
    "pl": "Polish",
    "ta": "Tamil",
    "uk": "Ukrainian",
    "hr": "Croatian",
    "is": "Icelandic",
    "ha": "Hausa",
    "es": "Spanish",
    "it": "Italian",
    "pt": "Portuguese",
    "nl": "Dutch",
    "sv": "Swedish",
    "da": "Danish",
    "no": "Norwegian",
    "el": "Greek",
    "hu": "Hungarian",
    "bg": "Bulgarian",
    "ar": "Arabic",
    "he": "Hebrew",
    "ko": "Korean",
    "vi": "Vietnamese",
    "id": "Indonesian",
}


def language_name(code: str) -> str:
    """The English name of language `code` (`de` -> `German`; `pt-BR` -> `Portuguese`), or
    `code` itself where this table has none (module doc)."""
    text = str(code)
    language = text.replace("_", "-").split("-", 1)[0].lower()
    return LANGUAGE_NAMES.get(language, text)


def translate_prefix(source_lang: str | None, target_lang: str | None) -> str:
    """T5's prefix for translating `source_lang` into `target_lang` (ISO 639-1 codes):
    `translate English to German: `; none where either language is unset (a plain text
    column is not a language pair)."""
    if source_lang is None or target_lang is None:
        return ""
    return f"translate {language_name(source_lang)} to {language_name(target_lang)}: "
