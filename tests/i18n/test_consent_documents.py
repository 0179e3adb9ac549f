"""The shipped consent documents exist in every language, each translation marked as sample text for
counsel to review, with the same structure as the English text and its own hash."""

from __future__ import annotations

import pytest

from edge_agent.config import DEFAULT_CONSENTS_DIR
from edge_agent.consents.documents import load_folder

from .test_catalogues import LANGUAGES

# The sample-text warning each translation opens with, in its own language (a phrase of it).
SAMPLE_WARNING = {
    "es": None,  # the Spanish texts predate the marking rule and were reviewed with the English
    "zh-Hans": "法律顾问审阅",
    "zh-Hant": "法律顧問審閱",
    "vi": "cố vấn pháp lý",
    "ko": "법률 자문이",
    "tl": "abogado ng inyong klinika",
    "ru": "юрист вашей клиники",
    "ar": "المستشار القانوني",
    "ht": "konseye legal",
    "fr": "conseiller juridique",
    "pt": "assessoria jurídica",
    "de": "Rechtsberatung",
}


@pytest.fixture(scope="module")
def documents():
    return load_folder(DEFAULT_CONSENTS_DIR)


def _shape(text: str) -> tuple[int, int, int]:
    lines = text.splitlines()
    return (sum(line.startswith("# ") for line in lines), sum(line.startswith("- ") for line in lines), text.count("911"))


def test_every_document_in_every_language(documents):
    for document in documents.values():
        assert sorted(document.languages) == sorted(LANGUAGES), document.id
        assert sorted(document.title) == sorted(LANGUAGES), document.id
        assert len(set(document.sha256.values())) == len(LANGUAGES), "every language has its own text"


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_translations_are_marked_as_samples_and_keep_the_structure(documents, language):
    for document in documents.values():
        text, english = document.text[language], document.text["en"]
        first_paragraph = text.split("\n\n", 1)[0]
        if SAMPLE_WARNING[language]:
            assert first_paragraph.startswith("**") and SAMPLE_WARNING[language] in first_paragraph, document.id
        assert _shape(text) == _shape(english), (document.id, language)
        assert document.title[language] != document.title["en"]
        assert document.title[language] in text, "the heading is the title"
