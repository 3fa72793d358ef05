"""Answer-first generation: the answers are chosen in code, verbatim from the excerpt; the generator writes
the question for each.

A 1.5B generator asked for "questions and their answers" picks its own answers, and they are where the
unsound questions came from (issue 32): a section heading, a web address cut after its host name, a run of
figure labels, an answer the document does not give, "the name of the organization". Here the answers are
spans of the excerpt's own sentences, proposed by rules before any model call:

* ``figure``: a number with what it counts or measures ("944 millimetres", "3.1 million euros", "22 %",
  "2 400 m²", "USD 4.2 billion"), or a range ("1.5–2 °C");
* ``date``: a day, a month and year, or a year after a preposition ("12 March 2024", "avril 2025",
  "in 2019" -> "2019");
* ``name``: a proper name of two or more capitalised words inside a sentence ("World Health Organization",
  "Val d'Orbe");
* ``reason``: what follows "because", "due to", "en raison de", ... up to the clause's end (2 to 14 words).

Only sentences of prose are read (:mod:`pipeline.questions.prose`): a heading, a caption, a table row, a
reference, a line of a table of contents, a sentence with a web address or an e-mail address gives no answer. A
chunk whose excerpt gives none is never sent to the generator (:func:`pipeline.questions.selection.plan`).

Each span keeps the sentence it comes from: the generator sees it beside the answer, and it is the question's
citation. Everything here is pure (text in, spans out) and deterministic, so the spans a call was given can be
recomputed from its excerpt.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from pipeline.questions.prose import prose, sentences

KINDS = ("figure", "date", "name", "reason", "obligation")

_MONTHS_EN = ("January|February|March|April|May|June|July|August|September|October|November|December|"
              "Jan\\.|Feb\\.|Aug\\.|Sept?\\.|Oct\\.|Nov\\.|Dec\\.")
_MONTHS_FR = "janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre"
_MONTHS = f"(?:{_MONTHS_EN}|{_MONTHS_FR})"
_DAYS = ("Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|lundi|mardi|mercredi|jeudi|vendredi|samedi|"
         "dimanche")
_NUM = r"\d{1,3}(?:(?:[,\u00a0\u202f ]|\.(?=\d{3}\b))\d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?"
_SCALE = r"(?:million|billion|trillion|thousand|millions|billions|milliards?|mille|bn|m)\b"
_CURRENCY = r"(?:[$€£¥]|USD|EUR|GBP|US\$|CHF)"
# What a figure counts or measures: a unit symbol, or one word that is not a function word ("households",
# "millimetres", "personnes"), possibly "per"/"par"/"a" and a second one ("litres per day", "km/h").
_SYMBOL = r"(?:%|‰|°C|°F|°|m²|m³|km²|km|cm|mm|kg|mg|µg|g|t|ha|l|L|ml|mL|kW|MW|GW|TW|kWh|MWh|GWh|TWh|Wh|W|V|Hz|dB)"
# A per cent sign run into the next word by the PDF's text ("a 50%increase", a real report held out for the eighth
# generation, seen since: "50" was offered and asked as a count) is still the figure's unit.
_FIGURE = re.compile(
    rf"(?<![\w.,/-])(?:{_CURRENCY}\s?)?(?P<number>{_NUM})(?:\s?[–-]\s?(?:{_NUM}))?(?:\s{_SCALE})?"
    rf"(?:\s?{_CURRENCY}(?![\w]))?(?:\s?[%‰](?=[^\W\d_])|\s?{_SYMBOL}(?:/[\w²³]+)?(?![\w])|"
    rf"\s(?:per\s?cent|percent|pour\s?cent)\b|-[a-zà-ÿ]+(?:-[a-zà-ÿ]+)*)?"
    rf"(?:(?<=[%‰])|(?![\w/]|[.,]\d))")
# Words that say what a figure counts or measures when they follow it ("812 millimetres", "96 planning
# applications", "4,200 square kilometres", "312 personnes"): a known unit, or a plural noun; a modifier first.
_UNIT_WORDS = frozenset((
    "metres meters metre meter kilometres kilometers kilometre kilometer millimetres millimeters centimetres "
    "litres liters litre liter hectares hectare tonnes tons tonne ton grams kilograms euros euro dollars dollar "
    "pounds francs people persons person households homes jobs employees staff workers patients children adults "
    "students cases deaths beds sites days day weeks week months month years year hours hour minutes minute "
    "seconds times fois mètres kilomètres millimètres litres tonnes personnes habitants ménages logements emplois "
    "salariés patients élèves jours semaines mois ans années heures minutes lits communes degrees degrés").split())
_MODIFIERS = frozenset("square cubic metric full-time part-time additional new more carrés cubes nouveaux".split())
_VERBS_S = frozenset("is was has does goes remains seems means makes takes gives shows covers represents includes "
                     "contains exceeds reaches falls rises grows plus".split())
_DATE = re.compile(
    rf"\b(?:(?:from|between|du|entre)\s+(?:\d{{1,2}}(?:st|nd|rd|th|er)?|{_MONTHS})\s+(?:to|and|au|et)\s+)?"
    rf"(?:(?:{_DAYS})\s+)?(?:\d{{1,2}}(?:st|nd|rd|th|er)?\s+{_MONTHS}(?:\s+\d{{4}})?|{_MONTHS}\s+\d{{1,2}},\s+\d{{4}}|"
    rf"{_MONTHS}\s+\d{{4}})\b")
# A year alone is a date after a preposition ("in 2019", "depuis 2015"); the span is the year.
_YEAR = re.compile(r"\b(?:in|since|by|until|from|before|after|during|en|depuis|dès|avant|après|jusqu['’]en)\s+"
                   r"((?:19|20)\d{2})\b(?![–-]\d)", re.IGNORECASE)
# Words that end a unit: a figure's next word is its unit only if it is not one of these.
_NOT_UNIT = frozenset((
    "a an the of in on at to for by with from and or but is are was were be been has have had will would shall "
    "should can could may might must not no than that which who this these those it its as so if per also only "
    "more less over under about around between up down out into onto within without during after before since "
    "until while when where each every all any some such other both either neither le la les de du des et ou "
    "un une en dans sur pour par avec sans sous entre est sont été était ont a au aux ce ces cette se sa son ses "
    "leur leurs qui que dont où plus moins contre vers chez").split())
_SKIP_BEFORE = re.compile(r"(?:figure|fig\.|table|tableau|section|article|art\.|chapter|chapitre|annex|annexe|"
                          r"appendix|page|p\.|pp\.|no\.|n°|§|box|encadré|graphique|step|étape|part|partie|"
                          r"paragraph|paragraphe|line|ligne|version|v\.|ISBN|ISSN|doi)\s*$", re.IGNORECASE)
# A number that names a text, not a quantity: "Special Publication 800-53", "(SP 800-53)", "ISO 27001", "Executive
# Order 14028" (a real guideline held out for the eighth generation, seen since: "What is the name of the standard
# …?" -> "800-53"). Capitalised, as a title's word is: "the standard 40 hours" is a figure. A name that ends in
# one keeps it (:data:`_TITLE_NUMBER`): "Which Executive Order defines significant rules?" -> "Executive Order 12866".
_DESIGNATOR = re.compile(r"\b(?:Publication|SP|Standard|Revision|Rev\.|Form|ISO|IEC|RFC|Memorandum|Circular|"
                         r"Circulaire|Décret|Decree|Order|Act|Law|Loi|Bill|Rule|Directive|Regulation|Règlement)"
                         r"(?:\s+\d+)?\s*$")  # "SP 800 53": the PDF lost the hyphen
_TITLE_NUMBER = re.compile(r"\s\d+(?:[–./-]\d+)*(?![\w,.]\d|\s?%)")
_NAME_WORD = r"[A-ZÀ-ÖØ-Þ][\w'’-]*[a-zà-ÿ][\w'’-]*"
_NAME = re.compile(rf"(?:[A-Z]{{2,}}\s)?{_NAME_WORD}(?:\s(?:(?:of|for|the|de|du|des|la|le|d['’]|l['’]|&)\s?)*{_NAME_WORD})+"
                   rf"|{_NAME_WORD}(?:-{_NAME_WORD})+")
_COMMON_CAPITALISED = frozenset((
    "The A An In On At For By With From And Or But This That These Those It Its Our We They He She I "
    "Le La Les Un Une Des Du De En Dans Sur Pour Par Avec Ce Cette Ces Il Elle Ils Elles Nous On Au Aux "
    "January February March April May June July August September October November December Monday Tuesday "
    "Wednesday Thursday Friday Saturday Sunday Janvier Février Mars Avril Mai Juin Juillet Août Septembre "
    "Octobre Novembre Décembre Figure Table Section Article Chapter Annex Appendix Box Note Source Tableau "
    "Graphique Encadré Chapitre Annexe However Therefore Also Cependant Ainsi").split())
_REASON = re.compile(r"\b(?:because(?:\s+of)?|due\s+to|owing\s+to|as\s+a\s+result\s+of|in\s+order\s+to|"
                     r"so\s+as\s+to|en\s+raison\s+d['’]|en\s+raison\s+de|à\s+cause\s+d['’]|à\s+cause\s+de|"
                     r"grâce\s+à|afin\s+d['’]|afin\s+de|parce\s+qu['’]|parce\s+que|car)\s+", re.IGNORECASE)
# What a rule requires: the clause after "must", "shall", "is required to", "doit" ("MUST sign and return the
# Memorandum of Agreement" -> "sign and return the Memorandum of Agreement"). Procedural documents state their facts
# this way, with few figures or dates.
_OBLIGATION = re.compile(r"\b(?:must|shall|should|(?:is|are)\s+required\s+to|(?:has|have|need|needs)\s+to|"
                         r"doit|doivent|devra|devront|est\s+tenue?\s+de|sont\s+tenue?s\s+de)\s+(?:not\s+|pas\s+)?",
                         re.IGNORECASE)
_OBLIGATION_END = re.compile(r"[,.](?!\d)|[;:!?()]|\s(?:if|unless|when|where|which|who|while|so\s+that|si|lorsque|quand|qui|dont|"
                             r"afin)\s", re.IGNORECASE)
# An obligation that says nothing by itself: "what the Applicant will need to do in order for …" gave "do in order
# for its proposed remediation actions to be acceptable", "what a person must do to comply" gave "do to comply" (two
# real dev documents, 2026-12-07: 6 of 48 questions of one restated their own question this way).
_EMPTY_OBLIGATION = re.compile(r"(?:do|does|doing|take|takes)(?:\s+(?:so|this|that|it))?(?:\s+(?:in\s+order|to)\b|\s*$)",
                               re.IGNORECASE)
# An obligation in the passive ("encryption should be implemented", "the dependency should be considered") is about
# its subject, not its clause: offered, "be implemented" made golds that restate nothing ("What should be done to
# implement a robust certificate revocation system?" -> "be implemented"). On the labelled answer-first questions
# (2026-12-07, in-sample: a real guideline held out for the fourth generation, seen since, and three dev documents)
# the rule no longer offers the gold of 18 labelled rows: 13 unsound, 5 sound.
_PASSIVE_OBLIGATION = re.compile(r"(?:be|been|being|not\s+be|être|été)\b", re.IGNORECASE)
# What others said a body should do is not what the document says it does: "a number of comments suggested that OMB
# should repropose this standard" (a real guideline held out for the fourth and fifth generations, seen since; OMB
# did not).
_REPORTED = re.compile(r"\b(?:suggest|argu|recommend|propos|urg|request|suggér|recommand)\w*\s+(?:that|que|qu['’])"
                       r"[^.;:]*$", re.IGNORECASE)


# An abbreviation's expansion that goes on: "conduct a contingency plan" of "must conduct a contingency plan (CP)
# functional test" (a real guideline held out for the eighth generation, seen since; asked twice, both unsound).
_EXPANSION_GOES_ON = re.compile(r"\(([A-Z][\w&/.-]{0,11})\)\s+([a-zà-ÿ][\w'’-]*)")
_CONNECTORS = frozenset("of and for the on in to de du des et la le les pour".split())


def _expansion_goes_on(clause: str, after: str) -> bool:
    """Whether ``after`` opens with an abbreviation of the clause's last words ("contingency plan (CP)") and the
    phrase goes on after it ("functional test")."""
    found = _EXPANSION_GOES_ON.match(after)
    if not found or found.group(2).lower() in _NOT_UNIT:  # "(CDO) who leads …": the phrase ended
        return False
    letters = [c for c in found.group(1) if c.isupper()]
    initials = [w[0].upper() for w in re.findall(r"[^\W\d_][\w'’-]*", clause) if w.lower() not in _CONNECTORS]
    return bool(letters) and initials[-len(letters):] == letters


# "the need to improve …" is a noun's complement, not an obligation (a real survey report held out for the eighth
# generation, seen since: "several useful remarks about the need to improve the endorsement system …").
_NEED_NOUN = re.compile(r"\b(?:the|a|an|no|any|this|that|its|their|our|his|her|le|la|un|ce|leur|son|sa)\s+$",
                        re.IGNORECASE)


def _cut(rest: str, end: re.Match | None, clause: str) -> bool:
    """An obligation's clause that is cut, not ended: at a sentence that stops without punctuation (a page's last
    line: "establish administrative mechanisms allowing affected"), at a comma before another clause of the same
    obligation ("publicly document their processes, and have a … process"), at a "that"-clause of two words or
    fewer ("certify to OMB that the agency, …"), or after three words or fewer at a relative ("make it clear which
    artifacts …"). Real documents held out for the third to fifth generations, seen since: 5 kept golds, all
    unsound."""
    if end is None:
        return not re.search(r"[.!?;:]\W*$", rest)
    after = rest[end.start():]
    if re.match(r",\s*(?:and|or|et|ou)\s", after, re.IGNORECASE) or _expansion_goes_on(clause, after):
        return True
    if re.search(r"\b(?:that|que|qu['’])\s+(?:\S+\s+){0,1}\S+$", clause, re.IGNORECASE):
        return True
    return len(clause.split()) <= 3 and bool(re.match(r"\s(?:which|who|where|when|qui|dont|où)\s", after,
                                                      re.IGNORECASE))


_CLAUSE_END = re.compile(r"[,.](?!\d)|[;:!?()]|\s(?:and|but|while|whereas|which|et|mais|alors|tandis)\s")


@dataclass(frozen=True)
class Span:
    """An answer the generator is asked to write a question for: ``text`` is verbatim in ``sentence``."""

    text: str
    kind: str
    sentence: str


def _clean(span: str) -> str:
    return span.strip().rstrip(",;:")


def _countable(word: str) -> bool:
    w = word.lower()
    return (w in _UNIT_WORDS or (len(w) > 3 and w[-1] in "sx" and w not in _VERBS_S and w not in _NOT_UNIT
                                 and word[:1].islower() and w.replace("-", "").isalpha()))


def _unit(rest: str) -> str:
    """The words after a figure that say what it counts: "" or one or two words (:data:`_UNIT_WORDS`)."""
    of = re.match(r"\s(?:d['’]|de\s|of\s)([a-zà-ÿ]+)", rest)  # "38 millions d'euros", "2 billion of debt"
    if of and _countable(of.group(1)):
        return of.group(0)
    words = re.match(r"\s([\w'’²³-]+)(?:\s([\w'’²³-]+))?", rest)
    if not words:
        return ""
    first, second = words.group(1), words.group(2) or ""
    if first.lower() in _NOT_UNIT or not first[:1].islower():
        return ""
    if second and second.lower() not in _NOT_UNIT and second[:1].islower() and (
            first.lower() in _MODIFIERS or (not _countable(first) and _countable(second))):
        return f" {first} {second}"
    return f" {first}" if _countable(first) else ""


def _figures(sentence: str) -> list[str]:
    found = []
    for match in _FIGURE.finditer(sentence):
        text = match.group(0).rstrip()
        if _SKIP_BEFORE.search(sentence[:match.start()]) or _DESIGNATOR.search(sentence[:match.start()]):
            continue
        number = match.group("number")
        if text == number and re.fullmatch(r"(?:19|20)\d{2}", number):  # a year: a date
            continue
        if re.fullmatch(r"(?:19|20)\d{2}\s?[–-]\s?(?:19|20)?\d{2}", text):  # a period of years
            continue
        if match.start() == 0 or re.search(r"(?:^|\n)\s*[-•*–(]?\s*$", sentence[:match.start()]):
            if re.fullmatch(r"\d{1,2}", number):  # a list marker
                continue
        if text[-1:].isdigit() or text.endswith(("million", "billion", "thousand", "millions", "milliards")):
            text += _unit(sentence[match.start() + len(text):])
        # "a year" of "9,000 packages a year ago" is no rate (a real report held out for the eighth generation)
        rate = re.match(r"\s(?:per|par)\s[a-zà-ÿ]+|/[a-zà-ÿ]+\b|"
                        r"\s(?:a|an)\s(?:day|week|month|year|hour|minute|second)\b(?!\s+ago\b)",
                        sentence[match.start() + len(text):])
        if rate and not text[-1:].isdigit():  # "118 litres per day", "50 mg/l"
            text += rate.group(0)
        if re.fullmatch(r"\d", text):  # a lone digit says nothing by itself
            continue
        if _CODE.match(sentence[match.start() + len(text):]):
            continue
        if qualifier := _QUALIFIER.search(sentence[:match.start()]):  # "over 12 million passengers", not "12 million"
            text = qualifier.group(0) + text
        found.append(text)
    return found


# A figure's qualifier belongs to it: "over 12 million passengers", "up to 40 epochs", "près de 2 000 repas" (three
# kept golds of real dev documents, 2026-12-07, dropped it and were labelled wrong).
# A bound is one too: "inférieur à 5 %", "below 2 °C", "<1,5" (a real French checklist, 2026-12-07: "20 %" for
# "supérieur à 20 %" and "5 %" for "inférieur à 5 %", both labelled unsound).
_QUALIFIER = re.compile(r"(?:\b(?:over|more\s+than|less\s+than|fewer\s+than|nearly|almost|about|around|approximately|"
                        r"roughly|up\s+to|at\s+least|at\s+most|below|above|under|exceeding|greater\s+than|"
                        r"lower\s+than|higher\s+than|plus\s+de|moins\s+de|près\s+de|environ|jusqu['’]à|au\s+moins|"
                        r"au\s+plus|(?:inférieur|supérieur)e?s?\s+(?:ou\s+égale?s?\s+)?à)\s+|"
                        r"(?:[<>≤≥]=?|\bpas\s+plus\s+de\s)\s*)$", re.IGNORECASE)
# A figure that is a code, not a quantity: "201 = Group homes for juveniles" (a real specification's list of type
# codes: "the number of group homes" -> "201"; "ε = 4.0" before it is a value).
_CODE = re.compile(r"^\s*=")
# A name that goes on before an "and": "Gordon and Betty Moore Foundation" is one name, "Betty Moore Foundation" a
# piece of it.
_JOINED_NAME = re.compile(r"\b[A-ZÀ-ÖØ-Þ][\w'’-]*\s+(?:and|et)\s+$")
# A name that came before a parenthesis: "Template Completion Guide" of "FedRAMP Plan of Action and Milestones (POA&M)
# Template Completion Guide" (a real guideline held out for the eighth generation, seen since).
_NAME_CAME_BEFORE = re.compile(r"[A-ZÀ-ÖØ-Þ][\w'’&-]*\s+\([^)]{1,20}\)\s+$")
# A name that may go on after an "and" or a parenthesis: "National Oceanic [and Atmospheric Administration]",
# "Administrator of the Office of Information [and Regulatory Affairs]", "CNCF Technical Advisory Group [(TAG) for
# Security]" (real documents held out for the third to fifth generations, seen since: 4 kept golds cut this way, all
# unsound). Where one name ends and the next begins cannot be told: neither piece is offered.
_NAME_GOES_ON = re.compile(r"\s+(?:(?:and|et|&)\s+|\([^)]{1,20}\)\s+(?:of|for|on|de|du|des|pour)\s+)[A-ZÀ-ÖØ-Þ]")
# An item of an enumeration: "developers, Chief Information Security Officers (CISOs), and operations teams"; the
# quoted themes '"Not knowing how," "Communicating value," "Data Concerns," and "Lack of consistency."' (two kept golds
# of real documents held out for the third and fourth generations, seen since, both unsound: asked for "the key
# players" or "the four main challenges", the generator got one of them). Parentheses and quotes are left out first.
_ITEM_BEFORE = re.compile(r"(?:,|\b(?:and|or|et|ou))\s+(?:(?:the|les?|la|des)\s+)?$", re.IGNORECASE)
_ITEM_AFTER = re.compile(r"^\s*(?:,|(?:and|or|et|ou)\b)", re.IGNORECASE)
_ITEM = r"(?!(?:and|or|et|ou)\b)(?:[^\s,;:.]+\s+){0,4}[^\s,;:.]+"  # another item: one to five words
_LIST_BEFORE = re.compile(rf",\s*{_ITEM},?\s+(?:and|or|et|ou)\s+(?:(?:the|les?|la|des)\s+)?$", re.IGNORECASE)
_LIST_AFTER = re.compile(rf"^\s*,\s*{_ITEM}(?:,|\s+(?:and|or|et|ou)\s)", re.IGNORECASE)


def _enumerated(sentence: str, text: str) -> bool:
    """Whether ``text`` is one item of a list in ``sentence``: an item on both sides of it, or the last item after
    an earlier comma, or the first before a comma and another item."""
    plain = re.sub(r"\s*\([^()]*\)", "", re.sub(r"[\"“”«»]", "", sentence))
    start = plain.find(text)
    if start < 0:
        return False
    before, after = plain[:start], plain[start + len(text):]
    return bool((_ITEM_BEFORE.search(before) and _ITEM_AFTER.match(after)) or _LIST_BEFORE.search(before)
                or _LIST_AFTER.match(after))


# Two answers of a kind joined as a list or a comparison ("4% and 20%", "(69.9/86.3 vs.", "Chan Zuckerberg
# Initiative and the Gordon …"): a question for one of them gets half an answer.
_LIST_JOIN = re.compile(r"\s*(?:,|;|/|\band\b|\bor\b|\bet\b|\bou\b|\bvs\.?|\bversus\b|\bcontre\b)\s*"
                        r"(?:(?:the|la|le|les|l['’])\s+)?", re.IGNORECASE)


# Figures of one unit a few words apart are a list, a range or a comparison even without a bare "and" between them:
# "Cyprus (87 %), Malta (86 %) and Luxembourg (60 %)", "de 3,4 % en 2017 à 5,6 % en 2019"; two dates are a range when
# "to", "until", "à" joins them ("from 2010 until 2014"; "on 2 August and lifted it on 20 October" are two events).
# Asked for one of them, the generator named the others too ("What share … in Cyprus, Malta, and Luxembourg?" ->
# "87 %"). On the labelled answer-first questions of the dev documents (2026-12-07, in-sample) the rule no longer
# offers the gold of 21 labelled rows: 19 unsound, 2 sound (2, 4, 6 and 8 words were compared on those labels: 4 is
# the number chosen on them).
NEAR_WORDS = 4
_RANGE_JOIN = re.compile(r"\s*(?:[–-]|\bto\b|\buntil\b|\btill\b|\bthrough\b|\bà\b|\bau\b|"
                         r"\bjusqu['’](?:en|à|au)\b)\s*", re.IGNORECASE)


def _figure_unit(text: str) -> str:
    """What a figure counts: its text after the number ("%", "million tonnes", "states"), currency signs and
    qualifiers left out."""
    unit = re.sub(rf"^\D*?{_NUM}", "", text)
    unit = re.sub(rf"^\s?[–-]\s?(?:{_NUM})", "", unit)
    return " ".join(unit.replace("$", "").replace("€", "").replace("£", "").split()).casefold()


def _listed(sentence: str, text: str, others: list[str], kind: str = "") -> bool:
    """Whether ``text`` stands in a list or comparison with one of ``others`` (the sentence's answers of its
    kind): joined by a comma, "and", "or", "vs."; a figure :data:`NEAR_WORDS` words or fewer from another of its
    unit; a date joined to another as a range."""
    start = sentence.find(text)
    end = start + len(text)
    for other in others:
        if other == text:
            continue
        near = kind == "figure" and _figure_unit(other) == _figure_unit(text)
        for match in re.finditer(re.escape(other), sentence):
            if not (match.end() <= start or match.start() >= end):
                continue
            between = sentence[match.end():start] if match.end() <= start else sentence[end:match.start()]
            if (_LIST_JOIN.fullmatch(between) or (near and len(between.split()) <= NEAR_WORDS)
                    or (kind == "date" and _RANGE_JOIN.fullmatch(between))):
                return True
    return False


def _glyph(text: str) -> bool:
    """A symbol that is no word, number or unit: a checklist's box ("provide ☐ documentation of the reasons", two kept
    golds of a real dev procedure, 2026-12-07, both labelled unsound), an icon font's private-use character."""
    return any(unicodedata.category(c) in ("So", "Co") and c not in "°©®" for c in text)


def _dates(sentence: str) -> list[str]:
    found = [re.sub(r"^(?:from|du)\s+", "", _clean(m.group(0)), flags=re.IGNORECASE) for m in _DATE.finditer(sentence)]
    return found + [m.group(1) for m in _YEAR.finditer(sentence)]


def _names(sentence: str) -> list[str]:
    found = []
    for match in _NAME.finditer(sentence):
        words = match.group(0).split()
        while words and (words[0] in _COMMON_CAPITALISED or words[0].lower() in _NOT_UNIT):
            words = words[1:]
        while words and words[-1].lower() in _NOT_UNIT:
            words = words[:-1]
        if len(words) < 2 and "-" not in "".join(words):
            continue
        if any(word in _COMMON_CAPITALISED for word in words[1:]):  # "Contexte Le Programme": a heading run in
            continue
        text = " ".join(words)
        start = match.start() + match.group(0).find(text)
        number = _TITLE_NUMBER.match(sentence[start + len(text):])
        if number and start + len(text) == match.end() and _DESIGNATOR.search(text):
            text += number.group(0)  # "Executive Order 12866", not "Executive Order"
        if sentence.startswith(text) and len(words) < 3:  # a sentence's first word is capitalised anyway
            continue
        if _JOINED_NAME.search(sentence[:match.start()]):  # "Betty Moore Foundation" of "Gordon and Betty Moore …"
            continue
        if _NAME_CAME_BEFORE.search(sentence[:start]):
            continue
        if _NAME_GOES_ON.match(sentence[sentence.find(text) + len(text):]):  # "National Oceanic" of "… and …"
            continue
        if _enumerated(sentence, text):
            continue
        found.append(text)
    return found


def _reasons(sentence: str) -> list[str]:
    found = []
    for match in _REASON.finditer(sentence):
        if re.search(r"\b(?:is|are|was|were|be|been)\s+$", sentence[:match.start()]):  # "is due to finish"
            continue
        rest = sentence[match.end():]
        end = _CLAUSE_END.search(rest)
        clause = _clean(rest[:end.start()] if end else rest)
        if 2 <= len(clause.split()) <= 14:
            found.append(clause)
    return found


def _obligations(sentence: str) -> list[str]:
    found = []
    for match in _OBLIGATION.finditer(sentence):
        if re.search(r"\bnot\s+$|\bpas\s+$", match.group(0)):  # "must not": what is forbidden, a clause of its own
            continue
        if match.group(0).lower().startswith("need") and _NEED_NOUN.search(sentence[:match.start()]):
            continue
        rest = sentence[match.end():]
        end = _OBLIGATION_END.search(rest)
        clause = _clean(rest[:end.start()] if end else rest)
        if _EMPTY_OBLIGATION.match(clause) or _PASSIVE_OBLIGATION.match(clause):
            continue
        if _REPORTED.search(sentence[:match.start()]) or _cut(rest, end, clause):
            continue
        if 2 <= len(clause.split()) <= 14:
            found.append(clause)
    return found


_FINDERS = {"figure": _figures, "date": _dates, "name": _names, "reason": _reasons, "obligation": _obligations}


COMMON_NAME = 3  # a name the document gives this many times or more is its subject, not an answer


def common_names(document: str) -> frozenset[str]:
    """The names a document gives :data:`COMMON_NAME` times or more (casefolded): "Trust Framework Accreditation
    Authority" in a framework that it runs. As answers they make "Who must advise the Applicant?" questions that
    a dozen sentences answer alike (a real dev document, 2026-12-07: 20 of 36 questions)."""
    counts: dict[str, int] = {}
    for match in _NAME.finditer(" ".join(document.split())):
        words = match.group(0).split()
        while words and words[0] in _COMMON_CAPITALISED:  # "The Trust Framework ..." is "Trust Framework ..."
            words = words[1:]
        if len(words) >= 2:
            name = " ".join(words).casefold()
            counts[name] = counts.get(name, 0) + 1
    return frozenset(name for name, n in counts.items() if n >= COMMON_NAME)


def spans(excerpt: str, common: frozenset[str] = frozenset()) -> list[Span]:
    """Every answer span of the excerpt's prose sentences, in reading order, without repeats or overlaps (a
    figure inside a name or a reason is left to the longer span); names in ``common`` (:func:`common_names`) are
    not answers."""
    found: list[Span] = []
    seen: set[str] = set()
    for sentence in sentences(excerpt):
        if not prose(sentence):
            continue
        taken: list[tuple[int, int]] = []
        candidates = [(kind, text) for kind in ("obligation", "reason", "name", "date", "figure")
                      for text in _FINDERS[kind](sentence)]
        for kind, text in candidates:
            start = sentence.find(text)
            if start < 0:
                continue
            end = start + len(text)
            if any(start < b and a < end for a, b in taken):
                continue
            taken.append((start, end))  # a span already offered still covers its words ("30" of its date)
            if kind == "name" and any(text.casefold() in name or name in text.casefold() for name in common):
                continue
            if _glyph(text):
                continue
            if kind in ("figure", "date", "name") and _listed(sentence, text,
                                                             [t for k, t in candidates if k == kind], kind):
                continue
            if text.casefold() not in seen:
                seen.add(text.casefold())
                found.append(Span(text, kind, sentence))
    order = {s.sentence: i for i, s in enumerate(found)}
    return sorted(found, key=lambda s: (order[s.sentence], s.sentence.find(s.text)))


# within a sentence, the span of highest priority is offered; an obligation or a reason only where the sentence
# has nothing else
PRIORITY = {"figure": 0, "date": 1, "name": 2, "obligation": 3, "reason": 4}
# A sentence whose subject is a pronoun ("It was last declared in 2022.") does not say what it is about: its
# spans are offered only when no other sentence has one.
PRONOUN_START = re.compile(r"^\W*(?:it|its|they|their|this|these|that|those|he|she|we|there|il|elle|ils|elles|"
                           r"cela|ce|ceci|celui|celle|ceux|on|nous)\b", re.IGNORECASE)


def choose(excerpt: str, count: int, common: frozenset[str] = frozenset()) -> list[Span]:
    """At most ``count`` spans to ask about: one per sentence, kinds alternating (figures first; a reason only when
    no sentence has anything else: the 1.5B generator's "why" questions were the vaguest, on the dev documents),
    spread over the excerpt; the same excerpt always gives the same spans."""
    pool = spans(excerpt, common)
    by_sentence: dict[str, list[Span]] = {}
    for span in pool:
        by_sentence.setdefault(span.sentence, []).append(span)
    # each sentence's best span: the kind of highest priority, then the first in the sentence
    best = [min(group, key=lambda s: (PRIORITY[s.kind], s.sentence.find(s.text))) for group in by_sentence.values()]
    named = [s for s in best if not PRONOUN_START.match(s.sentence)]
    best = named + [s for s in best if PRONOUN_START.match(s.sentence)][:max(0, count - len(named))]
    chosen: list[Span] = []
    kinds_used: dict[str, int] = {}
    while best and len(chosen) < count:
        # the least used kind first (figures before dates, names and reasons at a tie), then reading order
        pick = min(best, key=lambda s: (s.kind in ("reason", "obligation"), kinds_used.get(s.kind, 0),
                                        PRIORITY[s.kind], best.index(s)))
        chosen.append(pick)
        kinds_used[pick.kind] = kinds_used.get(pick.kind, 0) + 1
        best.remove(pick)
    order = {id(s): i for i, s in enumerate(pool)}
    return sorted(chosen, key=lambda s: order[id(s)])


def answers_in(sentence: str, kind: str) -> list[str]:
    """The spans of ``kind`` (one of :data:`KINDS`) that ``sentence`` holds, as :func:`spans` would find them."""
    return _FINDERS[kind](sentence)
