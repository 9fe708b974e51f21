"""Language identification (platform language first, then lingua) and `luister_language`."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from functools import cache, lru_cache

from lingua import ConfidenceValue, IsoCode639_1, LanguageDetector, LanguageDetectorBuilder
from spacy.language import Language
from spacy.tokens import Doc

from listener.nlp.extensions import luister_data
from listener.nlp.tokens import DEFAULT_BATCH_SIZE, pipe_in_batches

DEFAULT_LANGUAGES = ("en", "nl", "de", "fr", "es")
DEFAULT_THRESHOLD = 0.5
UNDETERMINED = "und"
MIN_LETTERS = 3
# Below the threshold, a best guess is still given when it is this many times an even spread
# over the configured languages and leads the runner-up by this much.
PLAUSIBLE_OVER_EVEN = 1.5
PLAUSIBLE_LEAD = 0.05
# Mentions, links and hashtag signs say nothing about the language and mislead lingua.
NOISE = re.compile(r"https?://\S+|www\.\S+|\S+\.\S+/\S*|[@#]\w+|[^\w\s'’-]", re.UNICODE)
ENOUGH_LETTERS = re.compile(rf"(?:[^\W\d_][\W\d_]*){{{MIN_LETTERS}}}", re.UNICODE)


@lru_cache(maxsize=1024)
def normalize_language_code(code: str | None) -> str | None:
    """Reduce a platform language tag ("en-US", "nl_NL", "NL") to its primary subtag."""
    if not code or not code.strip():
        return None
    primary = re.split(r"[-_]", code.strip().lower(), maxsplit=1)[0]
    return primary or None


@cache
def build_detector(
    languages: tuple[str, ...], preload: bool = True, low_accuracy: bool = False
) -> LanguageDetector:
    """Build the lingua detector for these languages once per process.

    `low_accuracy` is lingua's low accuracy mode: trigram models only, so a handful of
    languages takes about 20 MiB instead of about 35 MiB each, at some cost on texts under
    120 characters (docs/NLP.md, "Language detection and memory", has the figures).
    """
    iso_codes = [getattr(IsoCode639_1, code.upper()) for code in languages]
    builder = LanguageDetectorBuilder.from_iso_codes_639_1(*iso_codes)
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    if preload:
        builder = builder.with_preloaded_language_models()
    return builder.build()


def detection_text(text: str) -> str:
    """Strip links, mentions, hashtag signs and symbols before detection."""
    return " ".join(NOISE.sub(" ", text).split())


class LanguageGuesser:
    """Detect a text's language among configured languages, with a confidence."""

    def __init__(
        self,
        languages: Iterable[str] = DEFAULT_LANGUAGES,
        threshold: float = DEFAULT_THRESHOLD,
        preload: bool = True,
        low_accuracy: bool = False,
    ) -> None:
        self.languages = tuple(sorted({code.lower() for code in languages}))
        self.threshold = threshold
        self.preload = preload
        self.low_accuracy = low_accuracy

    @property
    def detector(self) -> LanguageDetector:
        """Return the shared lingua detector (built on first use)."""
        return build_detector(self.languages, self.preload, self.low_accuracy)

    def detect(self, text: str) -> tuple[str, float]:
        """Return (language code, confidence); "und" when too short or too unsure."""
        return self.detect_many([text])[0]

    def detect_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """Detect the language of many texts, using lingua's threads for the batch."""
        cleaned = [detection_text(text) for text in texts]
        results: list[tuple[str, float]] = [(UNDETERMINED, 0.0)] * len(cleaned)
        wordy = [index for index, text in enumerate(cleaned) if ENOUGH_LETTERS.search(text)]
        if len(wordy) == 1:
            found = [self.detector.compute_language_confidence_values(cleaned[wordy[0]])]
        else:
            found = self.detector.compute_language_confidence_values_in_parallel(
                [cleaned[index] for index in wordy]
            )
        for index, values in zip(wordy, found, strict=True):
            results[index] = self._decide(values)
        return results

    def _decide(self, values: list[ConfidenceValue]) -> tuple[str, float]:
        """Best guess with its confidence; "und" only when no language is plausible.

        Below the threshold (short texts: "dank je" is nl 0.47, de 0.37) the best language is
        still given, with its low confidence, when it is plausible: clearly above an even
        spread over the configured languages and ahead of the runner-up.
        """
        if not values:
            return UNDETERMINED, 0.0
        best = values[0]
        confidence = round(best.value, 4)
        if confidence < self.threshold and not self._plausible(values):
            return UNDETERMINED, confidence
        return best.language.iso_code_639_1.name.lower(), confidence

    def _plausible(self, values: list[ConfidenceValue]) -> bool:
        best = values[0].value
        runner_up = values[1].value if len(values) > 1 else 0.0
        even = 1.0 / max(len(self.languages), 1)
        return best >= PLAUSIBLE_OVER_EVEN * even and best - runner_up >= PLAUSIBLE_LEAD


class LanguageComponent:
    """spaCy component: the platform's language wins, else lingua, else "und"."""

    def __init__(self, guesser: LanguageGuesser) -> None:
        self.guesser = guesser

    def __call__(self, doc: Doc) -> Doc:
        data = luister_data(doc)
        platform = normalize_language_code(data.get("platform_language"))
        if platform:
            data["language"], data["language_confidence"] = platform, 1.0
        elif data.get("language") is None:
            data["language"], data["language_confidence"] = self.guesser.detect(doc.text)
        return doc

    def pipe(self, stream: Iterable[Doc], batch_size: int = DEFAULT_BATCH_SIZE) -> Iterator[Doc]:
        """Process a stream of Docs batch by batch (used by nlp.pipe)."""
        return pipe_in_batches(self, stream, batch_size)


@Language.factory(
    "luister_language",
    default_config={
        "languages": list(DEFAULT_LANGUAGES),
        "threshold": DEFAULT_THRESHOLD,
        "preload": True,
        "low_accuracy": False,
    },
)
def make_language_component(
    nlp: Language,
    name: str,
    languages: list[str],
    threshold: float,
    preload: bool,
    low_accuracy: bool,
) -> LanguageComponent:
    """Create the language component restricted to the configured languages."""
    return LanguageComponent(LanguageGuesser(languages, threshold, preload, low_accuracy))
