"""Rule-based intents (question, complaint, praise, help_request, spam): `luister_intent`."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator

from spacy.language import Language
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc
from spacy.vocab import Vocab

from listener.nlp.extensions import luister_data
from listener.nlp.intent_rules import (
    SPAM_DOMAIN,
    SPAM_LINK,
    SPAM_LINK_FARM,
    SPAM_MONEY_OR_PHONE,
    SPAM_SHORTENERS,
    SPAM_TEXT_TO,
    SPAM_WALLET,
    IntentRules,
    expand_pattern,
    intent_rules_for,
)
from listener.nlp.labels import INTENTS as INTENTS  # re-exported here for older imports
from listener.nlp.tokens import DEFAULT_BATCH_SIZE, pipe_in_batches, token_strings

DIGIT = re.compile(r"\d")
CLAUSE_END = frozenset({".", "!", "?", ",", ":", ";", "…", "...", "..", "?!", "!?"})
SPAM_THRESHOLD = 2
SPAM_CUE_PILE = 3
MIN_COMPOUND_HEAD = 3
MAX_CACHED_WORDS = 200_000


def clause_starts(words: list[str]) -> list[int]:
    """Return indices of words that begin a clause, skipping leading @mentions and '#'."""
    starts: list[int] = []
    candidates = [0, *(index + 1 for index, word in enumerate(words) if word in CLAUSE_END)]
    count = len(words)
    for start in candidates:
        while start < count and (words[start][:1] in ("@", "#") or words[start] in CLAUSE_END):
            start += 1
        if start < count and (not starts or start > starts[-1]):
            starts.append(start)
    return starts


def make_target_test(rules: IntentRules) -> Callable[[str], bool]:
    """Build a cached test for "you", service nouns and compounds such as "parkeerapp"."""
    heads = tuple(word for word in rules.service_words if len(word) >= MIN_COMPOUND_HEAD)
    known: dict[str, bool] = {}

    def is_target_word(word: str) -> bool:
        """Tell whether a lowercase word addresses the organisation."""
        found = known.get(word)
        if found is None:
            found = (
                word in rules.second_person or word in rules.service_words or word.endswith(heads)
            )
            if len(known) < MAX_CACHED_WORDS:
                known[word] = found
        return found

    return is_target_word


def is_spam(keys: Counter[str], text: str) -> bool:
    """Tell spam by positive evidence, never by prices or cue words alone.

    Strong evidence (2 points each): promotion phrases ("dm for", "promo code", "link in bio",
    "follow back", "you have won"), "text WIN to 80086", a wallet address, a link farm.
    Link evidence (1 each): a link shortener, a spammy top-level domain, a second link.
    Weak cue words ("free", "win", "prize") and "!!!" count only beside link evidence, or when
    three pile up, or two stand beside a money amount or a phone number.
    """
    strong = 2 * keys["SPAM_STRONG"]
    links = weak = 0
    if "." in text:
        lowered = text.lower()
        strong += 2 * len(SPAM_TEXT_TO.findall(text)) if DIGIT.search(text) else 0
        strong += 2 * len(SPAM_WALLET.findall(text))
        link_count = len(SPAM_LINK.findall(text))
        strong += 2 if link_count >= SPAM_LINK_FARM else 0
        links += sum(lowered.count(shortener) for shortener in SPAM_SHORTENERS)
        links += len(SPAM_DOMAIN.findall(text)) + (1 if link_count == SPAM_LINK_FARM - 1 else 0)
    elif DIGIT.search(text):
        strong += 2 * len(SPAM_TEXT_TO.findall(text))
    weak = keys["SPAM_WEAK"] + text.count("!!!")
    if strong >= SPAM_THRESHOLD or (links >= 1 and links + weak >= SPAM_THRESHOLD):
        return True
    # Promotion cue words piling up: three of them, or two beside an amount or a phone number.
    if weak >= SPAM_CUE_PILE:
        return True
    return weak >= SPAM_THRESHOLD and bool(links or SPAM_MONEY_OR_PHONE.search(text))


class IntentMatcher:
    """Find intents in a Doc of one language with spaCy's PhraseMatcher and cue words."""

    def __init__(self, vocab: Vocab, rules: IntentRules) -> None:
        self.rules = rules
        self.matcher = PhraseMatcher(vocab, attr="LOWER")
        for key, patterns in rules.phrases.items():
            phrases = [phrase for pattern in patterns for phrase in expand_pattern(pattern)]
            self.matcher.add(key, [Doc(vocab, words=list(phrase)) for phrase in phrases])
        self.near_prefixes = PhraseMatcher(vocab, attr="LOWER")
        for position, rule in enumerate(rules.near_rules):
            self.near_prefixes.add(
                str(position),
                [Doc(vocab, words=list(phrase)) for phrase in expand_pattern(rule.prefix)],
            )
        self.is_target_word = make_target_test(rules)
        self._key_names = {vocab.strings.add(key): key for key in rules.phrases}

    def intents(self, doc: Doc, sentiment: str | None) -> list[str]:
        """Return the sorted intents found in the Doc."""
        _, lowers, text = token_strings(doc)
        keys = self._matched_keys(doc, lowers)
        found: set[str] = set()
        if "QUESTION" in keys or "?" in text or self._opens_question(lowers):
            found.add("question")
        if "HELP" in keys or (lowers and lowers[0] in ("help", "hulp")):
            found.add("help_request")
        if is_spam(keys, text):
            found.add("spam")
        targeted = "@" in text or any(map(self.is_target_word, lowers))
        # Asking for help with a problem is not by itself a complaint about the organisation.
        negative_about_us = sentiment == "negative" and targeted and "help_request" not in found
        if "COMPLAINT_CUE" in keys or negative_about_us:
            found.add("complaint")
        praised = "PRAISE_CUE" in keys or (targeted and "question" not in found)
        if sentiment == "positive" and praised:
            found.add("praise")
        return sorted(self._resolve(found, lowers, targeted))

    def _matched_keys(self, doc: Doc, lowers: list[str]) -> Counter[str]:
        names = self._key_names
        keys: Counter[str] = Counter(names[match_id] for match_id, _, _ in self.matcher(doc))
        if not self.rules.near_rules:
            return keys
        for match_id, _, end in self.near_prefixes(doc):
            rule = self.rules.near_rules[int(doc.vocab.strings[match_id])]
            if any(word in rule.followers for word in lowers[end : end + rule.window]):
                keys[rule.key] += 1
        return keys

    def _opens_question(self, lowers: list[str]) -> bool:
        rules = self.rules
        for start in clause_starts(lowers):
            first = lowers[start]
            second = lowers[start + 1] if start + 1 < len(lowers) else ""
            if (first, second) in rules.not_question_starts:
                continue
            if first in rules.wh_words:
                return True
            if first in rules.aux_words and second in rules.aux_subjects:
                return True
            excluded = rules.verb_first_excluded
            if (
                excluded is not None
                and second in rules.subjects
                and first.isalpha()
                and first not in excluded
                and first not in rules.subjects
            ):
                return True
        return False

    def _resolve(self, found: set[str], lowers: list[str], targeted: bool) -> set[str]:
        if "spam" in found:
            found -= {"praise", "complaint", "help_request", "question"}
        # A request for help phrased as a question is a help request, not a question.
        if "help_request" in found and "question" in found:
            found.discard("question")
        asks_why = any(word in self.rules.why_words for word in lowers[:3])
        if "question" in found and "praise" not in found and asks_why and targeted:
            found.add("complaint")
        return found


class IntentComponent:
    """spaCy component writing the sorted list of intents to doc._.intents."""

    def __init__(self, nlp: Language) -> None:
        self.default_language: str = nlp.lang or "xx"
        self.vocab = nlp.vocab
        self._matchers: dict[str, IntentMatcher | None] = {}

    def matcher_for(self, language: str) -> IntentMatcher | None:
        """Return the matcher for a language, built on first use."""
        if language not in self._matchers:
            rules = intent_rules_for(language)
            self._matchers[language] = IntentMatcher(self.vocab, rules) if rules else None
        return self._matchers[language]

    def __call__(self, doc: Doc) -> Doc:
        data = luister_data(doc)
        matcher = self.matcher_for(data.get("language") or self.default_language)
        sentiment = data.get("sentiment_label")
        data["intents"] = matcher.intents(doc, sentiment) if matcher else []
        return doc

    def pipe(self, stream: Iterable[Doc], batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Doc]:
        """Process a stream of Docs batch by batch (used by nlp.pipe)."""
        return pipe_in_batches(self, stream, batch_size)


@Language.factory("luister_intent")
def make_intent_component(nlp: Language, name: str) -> IntentComponent:
    """Create the rule-based intent component (English and Dutch)."""
    return IntentComponent(nlp)
