"""Questions in Chinese, Japanese, Hebrew, Arabic, German and French through the real ``Assistant``.

Real MiniLM, embedded Chroma, the default extractive answerer and heuristic judge, over the short
documents of ``tests/corpus/multilingual`` (written for these tests). MiniLM is English-only, so
these answers rest on BM25 and the lexical checks (``rag.words``): each answerable question is
answered with the sentence that holds its answer, supported, at exact offsets into the file; a
question none of whose words any document holds is refused.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.assistant import Assistant
from rag.settings import Settings

CORPUS = Path(__file__).resolve().parents[1] / "corpus" / "multilingual"

# (question, file, the sentence of the file that answers it)
ANSWERED = [
    ("茶园几点开门？", "zh-tea-garden.txt", "茶园每天早上八点开门，下午五点关门。"),
    ("品尝绿茶每杯多少钱？", "zh-tea-garden.txt", "参观者可以在茶室品尝绿茶，每杯收费三十元。"),
    ("図書館の開館時間は何時から何時までですか？", "ja-library.txt", "開館時間は午前九時から午後七時までです。"),
    ("本は何冊まで借りられますか？", "ja-library.txt", "本は一度に十冊まで借りることができます。"),
    ("כמה עולה תיקון של פנצ'ר?", "he-bicycle-shop.txt", "תיקון של פנצ'ר עולה חמישים שקלים."),
    ("מה האחריות על אופניים חדשים?", "he-bicycle-shop.txt", "כל אופניים חדשים מגיעים עם אחריות לשנתיים."),
    ("متى يفتح المخبز أبوابه؟", "ar-bakery.txt", "يفتح المخبز أبوابه في الساعة السادسة صباحاً."),
    ("ما هو أشهر منتج في المخبز؟", "ar-bakery.txt", "أشهر منتج في المخبز هو خبز الزعتر."),
    ("Wie lange gilt die Garantie für die Kaffeemaschine?", "de-garantie.md",
     "Die Garantie für die Kaffeemaschine gilt drei Jahre ab dem Kaufdatum."),
    ("Wo erfolgt die Reparatur?", "de-garantie.md",
     "Die Reparatur erfolgt in der Werkstatt in Köln und dauert höchstens zehn Tage."),
    ("Combien coûte l'entrée du musée?", "fr-musee.txt",
     "L'entrée coûte douze euros pour les adultes et elle est gratuite pour les enfants de moins de dix ans."),
    ("Quel jour le musée est-il fermé?", "fr-musee.txt", "Le musée est fermé le mardi."),
]
# Questions whose subject no document mentions: a train station, a car park, parking, chocolate
# cakes, a bicycle in German, and a Chinese question about a library documented only in Japanese.
REFUSED = ["火车站在哪里？", "駐車場はありますか？", "האם יש חניה ליד החנות?", "هل يبيع المخبز الكعك بالشوكولاتة؟",
           "Wie viel kostet ein Fahrrad?", "图书馆的开馆时间是几点？"]


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Assistant:
    base = tmp_path_factory.mktemp("multilingual")
    docs = base / "docs"
    docs.mkdir()
    for path in CORPUS.iterdir():
        if path.name != "README.md":
            shutil.copy(path, docs / path.name)
    a = Assistant(base / "index", settings=Settings.load(env={}))
    report = a.add([docs])
    assert report.ok and report.files_added == 6
    return a


def test_every_chunk_is_an_exact_span_of_its_file(assistant: Assistant) -> None:
    chunks = list(assistant.chunks())
    assert {Path(c.source).name for c in chunks} == {p.name for p in CORPUS.iterdir() if p.name != "README.md"}
    for chunk in chunks:
        assert Path(chunk.source).read_text(encoding="utf-8")[chunk.start:chunk.end] == chunk.text


@pytest.mark.parametrize(("question", "file", "sentence"), ANSWERED, ids=[f"{f}:{q}" for q, f, _ in ANSWERED])
def test_keyword_search_finds_the_file_first(assistant: Assistant, question: str, file: str, sentence: str) -> None:
    found = assistant.retriever.keyword.search(question, 3)
    assert found and Path(found[0][0].source).name == file


@pytest.mark.parametrize(("question", "file", "sentence"), ANSWERED, ids=[f"{f}:{q}" for q, f, _ in ANSWERED])
def test_the_answer_quotes_the_sentence_at_its_exact_offsets(assistant: Assistant, question: str, file: str,
                                                             sentence: str) -> None:
    answer = assistant.ask(question)
    assert not answer.refused, answer.refusal_reason
    for citation in answer.citations:
        text = Path(citation.source).read_text(encoding="utf-8")
        assert text[citation.start:citation.end] == citation.quote
    quoting = [c for c in answer.citations if sentence in c.quote]
    assert quoting, [c.quote for c in answer.citations]
    assert Path(quoting[0].source).name == file and quoting[0].support == "supported"
    assert answer.sentences[quoting[0].sentence_index].support == "supported"


@pytest.mark.parametrize("question", REFUSED)
def test_a_question_no_document_speaks_of_is_refused(assistant: Assistant, question: str) -> None:
    answer = assistant.ask(question)
    assert answer.refused and "never mention" in answer.refusal_reason
