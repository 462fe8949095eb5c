from qa.index.spelling import correct, vocabulary

VOCAB = vocabulary([
    "Doorvoelde kennis ontstaat in het gesprek. Kennis is meer dan informatie.",
    "Jongerenwerkers bereiken jongeren. Jongerenwerkers werken in de wijk met kennis.",
])


def test_unknown_word_one_edit_from_a_corpus_word_is_corrected():
    assert correct("wat is doorvoelde kenis", VOCAB) == "wat is doorvoelde kennis"
    assert correct("wat doen jongerewerkers", VOCAB) == "wat doen jongerenwerkers"


def test_known_words_names_short_words_and_far_words_are_left_alone():
    assert correct("Wat is kennis?", VOCAB) == "Wat is kennis?"
    assert correct("Wat zegt Kenis?", VOCAB) == "Wat zegt Kenis?"          # capitalised: a name
    assert correct("wat is kens", VOCAB) == "wat is kens"                   # too short to correct
    assert correct("wat is kermis", VOCAB) == "wat is kermis"               # two edits away


def test_unknown_compound_is_split_into_its_corpus_words():
    vocab = vocabulary(["De sleutel zet je met clef. Een sleutel staat voor de muziek. Muziek met noten."])
    assert correct("welke muzieksleutel", vocab) == "welke muziek sleutel"
    # the second part may itself hold a typo ("sleutl": one edit from "sleutel")
    assert correct("welke muzieksleutl", vocab) == "welke muziek sleutel"
    # no split without two known parts
    assert correct("welke muziekbalkje", vocab) == "welke muziekbalkje"


def test_compound_split_keeps_a_linking_s_with_the_first_part():
    vocab = vocabulary(["De verzekering betaalt. Elke verzekering kent een arts. De arts beslist."])
    assert correct("wat doet de verzekeringsarts", vocab) == "wat doet de verzekering arts"


def test_real_words_the_corpus_does_not_use_are_not_corrected():
    vocab = vocabulary(["Deze functie berekent de som. De functie berekent ook het gemiddelde."])
    # "betekent" is one edit from the corpus's "berekent", but it is a Dutch word, not a typo
    assert correct("wat betekent foutcode 504", vocab) == "wat betekent foutcode 504"
    assert correct("wat bereknt de functie", vocab) == "wat berekent de functie"    # not a word: a typo
    assert correct("which texts does it compute", vocab) == "which texts does it compute"  # English words stay


def test_a_long_capitalised_typo_of_a_frequent_corpus_word_is_corrected():
    often = vocabulary(["In Writer werkt het. Writer kan het. Met Writer. Writer opent. Writer sluit."])
    assert correct("Wat doet Shift+Enter in Wrtier?", often) == "Wat doet Shift+Enter in Writer?"
    rare = vocabulary(["In Writer werkt het. Writer kan het. Met Writer. Writer opent."])   # 4 times
    assert correct("Wat doet Shift+Enter in Wrtier?", rare) == "Wat doet Shift+Enter in Wrtier?"
    # a short capitalised word, and one in capitals, are names or abbreviations: left alone
    assert correct("Wat doet Wrter?", often) == "Wat doet Wrter?"
    assert correct("Wat doet WRTIER?", often) == "Wat doet WRTIER?"
