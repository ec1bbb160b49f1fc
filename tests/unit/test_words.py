"""Words of any script (rag.words, rag.text): folding, CJK bigrams, sentence ends, and English unchanged."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from index.records import Chunk
from rag.records import Hit
from rag.retrieve.question_words import absent_words, unknown_terms
from rag.retrieve.refusal_gate import names_a_match
from rag.text import STOPWORDS, content_words, names_in, numbers_in, split_sentences, stem
from rag.words import clitic_bases, fold, index_terms, telling_grams, word_count, words

ASCII_TEXT = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=200)


# ---- English behaves exactly as before ------------------------------------------------------------

@given(ASCII_TEXT)
def test_bm25_terms_of_ascii_text_are_bm25s_defaults(text: str) -> None:
    # bm25s's own splitter on lower-cased text, which the keyword index used before format 2.
    assert index_terms(text) == re.findall(r"(?u)\b\w\w+\b", text.lower())


@given(ASCII_TEXT)
def test_content_words_of_ascii_text_are_unchanged(text: str) -> None:
    # The ASCII-only definition content_words had before it read every script (a word now ends
    # in a letter: see the quoted-word test below).
    cleaned = re.sub(r"\[\d[\d,\s-]*\]", " ", text)
    old = {stem(w) for w in re.findall(r"[A-Za-z](?:[A-Za-z'’-]*[A-Za-z])?|\d+(?:[.,]\d+)*%?", cleaned)
           if w.lower() not in STOPWORDS and not w[0].isdigit()}
    assert content_words(text) == old


# ---- folding ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "folded"), [
    ("Straße", "strasse"),  # case folding, not just lower()
    ("ＡＢＣ１２３", "abc123"),  # full-width forms (NFKC)
    ("ﬁle", "file"),  # ligature
    ("שָׁלוֹם", "שלום"),  # Hebrew points dropped
    ("عَمَّان", "عمان"),  # Arabic harakat and shadda dropped
    ("أحمد إلى آخر", "احمد الي اخر"),  # alef forms and alef maqsura unified
    ("مدرسة", "مدرسه"),  # ta marbuta
    ("كتـــاب", "كتاب"),  # tatweel
    ("٢٠٢١ ۲۰۲۱", "2021 2021"),  # Arabic-Indic and Persian digits
    ("Éé", "éé"),
])
def test_fold(raw: str, folded: str) -> None:
    assert fold(raw) == folded


def test_decomposed_and_composed_accents_are_the_same_word() -> None:
    assert content_words("Cafe\u0301 ouvert") == content_words("Café ouvert")


# ---- words of each script --------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("茶园八点开门", ["茶园", "园八", "八点", "点开", "开门"]),
    ("図書館は九時から", ["図書", "書館", "館は", "は九", "九時", "時か", "から"]),
    ("보증 기간", ["보증", "기간"]),
    ("書", ["書"]),  # a lone character is its own word
    ("תיקון של פנצ'ר", ["תיקון", "של", "פנצ'ר"]),
    ("يفتح المخبز أبوابه", ["يفتح", "المخبز", "ابوابه"]),
    ("Die Kaffeemaschine für Köln", ["die", "kaffeemaschine", "für", "köln"]),
    ("l'entrée coûte douze euros", ["l'entrée", "coûte", "douze", "euros"]),
    ("iPhone的价格是999元", ["iphone", "的价", "价格", "格是", "999", "元"]),
])
def test_words_of_every_script(text: str, expected: list[str]) -> None:
    assert words(text) == expected


@pytest.mark.parametrize(("text", "bare"), [("('France', 'Paris')", "France Paris"),
                                           ("(‘Frânce’, ‘Paris’)", "Frânce Paris")])
def test_a_closing_quote_is_not_part_of_the_word(text: str, bare: str) -> None:
    # Code and prose quote names: 'France' in a passage is the word a question's "France" is.
    assert content_words(text) == content_words(bare)
    assert words(text) == words(bare)


def test_inner_apostrophes_and_hyphens_stay_and_trailing_ones_go() -> None:
    assert words("don't rock'n'roll sixty-five the users' files well- L'été") == [
        "don't", "rock'n'roll", "sixty-five", "the", "users", "files", "well", "l'été"]


def test_bm25_terms_split_cjk_runs_from_latin_and_keep_lone_characters() -> None:
    assert index_terms("iPhone的价格 书 Köln") == ["iphone", "的价", "价格", "书", "köln"]


def test_content_words_of_a_reworded_chinese_sentence_overlap_its_source() -> None:
    source = content_words("茶园每天早上八点开门，下午五点关门。")
    reworded = content_words("茶园八点开门。")
    assert reworded <= source | {"园八"} and len(reworded & source) >= 3


def test_word_count_counts_cjk_by_pairs_of_characters() -> None:
    assert word_count("one two three") == 3
    assert word_count("開館時間は午前九時から午後七時までです。") == 10
    assert word_count("iPhone的价格") == 3


def test_clitic_bases_of_hebrew_and_arabic_words() -> None:
    assert clitic_bases("והאופניים") == ["האופניים", "אופניים"]
    assert "مخبز" in clitic_bases("المخبز")
    assert clitic_bases("בית") == []  # too short to be a particle plus a word
    assert clitic_bases("bakery") == []


def test_hiragana_bigrams_are_grammar_not_terms() -> None:
    assert telling_grams("本はありますか") == ["本は"]


# ---- numbers and names -----------------------------------------------------------------------------

def test_numbers_in_any_digits() -> None:
    assert numbers_in("سنة ٢٠٢١") == numbers_in("year 2021") == numbers_in("２０２１年") == {"2021"}


def test_names_in_accented_words_and_uncased_scripts() -> None:
    assert names_in("The museum in Saint-Malo was founded by Émile Zoé.") == ["saint-malo", "émile", "zoé"]
    assert names_in("茶园位于杭州。חנות האופניים בחיפה. يقع المخبز في عمان.") == []  # no case: nothing to go on


def test_question_words_of_other_languages_open_questions_without_being_names() -> None:
    assert names_in("Combien coûte l'entrée du musée?") == []
    assert names_in("Wie lange gilt die Garantie?") == ["garantie"]  # a German noun is capitalised
    assert names_in("¿Cuánto cuesta la entrada?") == []


# ---- sentences -------------------------------------------------------------------------------------

def test_cjk_full_stops_end_sentences_without_a_space() -> None:
    text = "茶园八点开门。真的吗？是的！開館は九時です｡終わり"
    assert split_sentences(text) == [(0, 7, "茶园八点开门。"), (7, 11, "真的吗？"), (11, 14, "是的！"),
                                     (14, 22, "開館は九時です｡"), (22, 25, "終わり")]


def test_arabic_question_mark_and_closing_quote_marks() -> None:
    text = "ما هي مدة الضمان؟ الضمان خمس سنوات. 「茶园开门了。」他说。"
    sentences = split_sentences(text)
    assert [s for _, _, s in sentences] == ["ما هي مدة الضمان؟", "الضمان خمس سنوات.", "「茶园开门了。」", "他说。"]
    assert all(text[a:b] == s for a, b, s in sentences)


def test_citation_markers_stay_with_a_cjk_sentence() -> None:
    sentences = [s for _, _, s in split_sentences("茶园八点开门。[1] 参观免费。[2]")]
    assert sentences == ["茶园八点开门。[1]", "参观免费。[2]"]


# ---- the refusal gate's words ----------------------------------------------------------------------

KNOWN = {"茶园", "点开", "开门", "אחריות", "אופניים", "مخبز", "garantie", "musée"}


def test_a_cjk_question_whose_bigrams_the_documents_hold_is_not_unknown() -> None:
    assert unknown_terms("茶园几点开门？", KNOWN.__contains__, lambda w: False) == []


def test_a_cjk_question_none_of_whose_bigrams_any_document_holds_is_unknown() -> None:
    assert unknown_terms("火车站在哪里？", KNOWN.__contains__, lambda w: False) == ["火车站在哪里"]


def test_joined_particles_do_not_make_a_hebrew_or_arabic_word_unknown() -> None:
    assert unknown_terms("מה האחריות על האופניים?", KNOWN.__contains__, lambda w: False) == []
    assert unknown_terms("متى يفتح المخبز؟", KNOWN.__contains__, lambda w: w == "يفتح") == []


def test_question_words_of_other_languages_are_not_unknown_terms() -> None:
    assert unknown_terms("Combien coûte le musée?", {"coûte", "musée"}.__contains__, lambda w: False) == []
    assert absent_words("Quelle est la garantie?", KNOWN.__contains__) == []


def _top_keyword_hit(text: str) -> Hit:
    chunk = Chunk(chunk_id="c", doc_id="d", source="d.txt", text=text, start=0, end=len(text), index=0)
    return Hit(chunk, score=1.0, rank=1, dense_score=0.25, dense_rank=1, keyword_score=2.0, keyword_rank=1)


def test_a_cjk_bigram_or_a_hebrew_word_the_top_keyword_hit_holds_names_a_match() -> None:
    assert names_a_match("茶园几点开门？", [_top_keyword_hit("茶园每天早上八点开门。")])
    assert not names_a_match("火车站在哪里？", [_top_keyword_hit("茶园每天早上八点开门。")])
    assert names_a_match("כמה עולה תיקון?", [_top_keyword_hit("תיקון של פנצ'ר עולה חמישים שקלים.")])


def test_refusal_words_are_shown_as_the_user_wrote_them() -> None:
    # Matched folded (ta marbuta as ha, points dropped), quoted back as typed.
    assert unknown_terms("هل يبيع المخبز الكعك بالشوكولاتة؟", KNOWN.__contains__, lambda w: False) == \
        ["يبيع", "الكعك", "بالشوكولاتة"]
    assert absent_words("Wo ist der Bahnhof?", KNOWN.__contains__) == ["bahnhof"]
