"""Generate lab's built-in `demo` sentiment set (src/lab/data/demo/*.jsonl).

Short English reviews of films, books, restaurants, hotels, phones, laptops, apps and video
games, authored for this project from hand-written templates and vocabulary (nothing is copied
from an existing dataset). Labels: 0 = negative, 1 = positive.

The set is built so that a bag of words does *not* solve it: about 56% of the examples need word
order or composition to label (negation, contrast where the final clause decides, fixed costs
that "make up for" a flaw, quantities of good or bad things, mixed reviews with an explicit
overall verdict). Every adjective, aspect and negation word occurs with both labels, while the
rule that decides each label stays one a careful reader would apply without hesitation.

Pure standard library and a fixed seed, so two runs write byte-identical files:

    python scripts/make_demo_data.py             # write train/validation/test.jsonl
    python scripts/make_demo_data.py --baseline  # also print bag-of-words baselines
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "src/lab/data/demo"
SEED = 20240611
NEG, POS = 0, 1
MIN_WORDS, MAX_WORDS = 6, 30  # short texts keep the CPU quickstart at about two minutes

# Examples per label of each category are a multiple of 11, so every (category, label) group
# splits exactly 8:1:2 into train/validation/test (1,600 / 200 / 400 in all).
UNIT = 11
SPLIT_SHARES = (("train", 8), ("validation", 1), ("test", 2))


# ---------------------------------------------------------------------------------------------
# Vocabulary
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Aspect:
    """Something a review can praise or criticise, with adjectives that fit it.

    `kind` drives agreement: "count" (a plot), "mass" (service) or "plural" (the prices).
    """

    noun: str
    kind: str
    pos: tuple[str, ...]
    neg: tuple[str, ...]

    @property
    def plural(self) -> bool:
        """Whether the noun takes plural verbs (are/were, they)."""
        return self.kind == "plural"


@dataclass(frozen=True)
class Stuff:
    """A quantity noun for "plenty of ..." / "hardly any ..." sentences.

    `count` nouns are plural ("ads"), others are mass nouns ("lag"); `where` says where the
    stuff is ("in the shower"); None means the domain's default ("in this app").
    """

    noun: str
    count: bool
    where: str | None = None


@dataclass(frozen=True)
class Domain:
    """A kind of thing reviewed, with its aspects and its own ways of saying yes or no."""

    name: str
    objects: tuple[str, ...]
    past: bool  # visits (restaurants, hotels) are told in the past tense, products in present
    where: str  # default place of Stuff, with {obj} for the object noun
    aspects: tuple[Aspect, ...]
    goods: tuple[Stuff, ...]
    bads: tuple[Stuff, ...]
    pos_verdicts: tuple[str, ...]
    neg_verdicts: tuple[str, ...]
    pos_idioms: tuple[str, ...]  # positive sentences that contain a negation word
    neg_idioms: tuple[str, ...]


# The vocabulary is written as small text tables so that it reads like a word list, not code.


def words(text: str) -> tuple[str, ...]:
    """Split a space-separated word list."""
    return tuple(text.split())


def phrases(text: str) -> tuple[str, ...]:
    """Split a semicolon-separated list of phrases."""
    return tuple(part.strip() for part in text.split(";") if part.strip())


def aspect_table(table: str) -> tuple[Aspect, ...]:
    """Parse lines of `noun | kind | positive adjectives | negative adjectives`."""
    rows = []
    for line in table.strip().splitlines():
        noun, kind, pos, neg = (cell.strip() for cell in line.split("|"))
        assert kind in ("count", "mass", "plural"), line
        # Equal counts keep either label from owning more of an aspect's vocabulary.
        assert len(pos.split()) == len(neg.split()), line
        rows.append(Aspect(noun, kind, words(pos), words(neg)))
    return tuple(rows)


def stuff_list(text: str) -> tuple[Stuff, ...]:
    """Parse `noun[*] [@ where]; ...`; a star marks a plural count noun."""
    items = []
    for part in phrases(text):
        noun, _, where = (x.strip() for x in part.partition("@"))
        items.append(Stuff(noun.rstrip("*").strip(), noun.endswith("*"), where or None))
    return tuple(items)


# Adjectives that fit nearly any aspect; equal in number so neither label owns more words.
GENERIC_POS = words(
    "great excellent superb wonderful fantastic terrific outstanding impressive first-rate "
    "top-notch brilliant lovely good"
)
GENERIC_NEG = words(
    "awful terrible dreadful poor disappointing mediocre lousy subpar horrible dismal "
    "underwhelming atrocious bad"
)

# noun | kind | positive adjectives | negative adjectives (as many of each)
MOVIE_ASPECTS = """
acting | mass | convincing natural moving nuanced | wooden stiff hammy flat
plot | count | gripping clever tight original | predictable muddled silly thin
dialogue | mass | witty sharp natural clever | clunky stilted cheesy awkward
soundtrack | count | stirring memorable haunting lovely | grating forgettable intrusive shrill
pacing | mass | brisk tight confident lively | sluggish uneven plodding slow
ending | count | satisfying moving powerful perfect | rushed confusing limp abrupt
visuals | plural | stunning gorgeous striking beautiful | murky cheap ugly dated
cast | count | charming talented likable magnetic | miscast bland lifeless unconvincing
special effects | plural | seamless convincing dazzling polished | cheap fake dated cartoonish
humor | mass | sharp fresh clever warm | crude stale lame forced
"""
BOOK_ASPECTS = """
writing | mass | elegant vivid crisp graceful | clumsy flat overwrought lifeless
characters | plural | vivid believable complex memorable | flat shallow one-dimensional lifeless
story | count | gripping absorbing original compelling | predictable aimless muddled tedious
ending | count | satisfying moving powerful fitting | rushed abrupt limp unearned
prose | mass | lyrical clear precise graceful | purple clunky bloated stiff
translation | count | fluent faithful smooth careful | awkward stiff clumsy careless
middle chapters | plural | gripping tense absorbing lively | tedious sluggish repetitive bloated
dialogue | mass | witty sharp natural lively | stilted wooden clunky awkward
"""
RESTAURANT_ASPECTS = """
food | mass | delicious fresh tasty flavorful | bland greasy stale tasteless
service | mass | friendly attentive quick warm | rude slow careless sloppy
waiters | plural | friendly attentive helpful cheerful | rude inattentive grumpy dismissive
dessert | count | heavenly rich delicious perfect | soggy stale bland cloying
portions | plural | generous hearty ample filling | tiny stingy meager skimpy
prices | plural | fair reasonable honest modest | outrageous steep inflated absurd
atmosphere | count | cozy relaxed lively inviting | stuffy gloomy chaotic cold
coffee | mass | rich smooth strong perfect | bitter weak burnt lukewarm
pasta | mass | fresh delicious silky perfect | mushy overcooked bland gluey
steak | count | tender juicy perfect flavorful | tough dry chewy overcooked
"""
HOTEL_ASPECTS = """
room | count | spotless spacious comfortable bright | filthy cramped musty shabby
bed | count | comfortable soft huge cozy | lumpy hard creaky saggy
breakfast | count | generous fresh varied delicious | meager stale cold sad
receptionists | plural | welcoming helpful friendly gracious | rude unhelpful curt indifferent
location | count | central convenient perfect peaceful | remote noisy inconvenient isolated
shower | count | powerful hot spotless roomy | weak lukewarm leaky moldy
pool | count | sparkling clean inviting warm | dirty murky crowded freezing
view | count | stunning breathtaking lovely gorgeous | bleak dreary depressing ugly
check-in | mass | quick smooth painless efficient | slow chaotic confusing endless
wifi | mass | fast reliable stable speedy | patchy slow unreliable useless
"""
PHONE_ASPECTS = """
battery | count | long-lasting dependable strong reliable | weak feeble short-lived unreliable
screen | count | bright sharp vivid crisp | dim grainy washed-out blurry
camera | count | sharp fast versatile reliable | blurry grainy slow sluggish
speaker | count | loud clear rich crisp | tinny muffled quiet harsh
build quality | mass | sturdy solid premium robust | flimsy cheap fragile creaky
charging | mass | fast quick reliable convenient | slow unreliable sluggish finicky
price | count | fair reasonable modest attractive | steep absurd outrageous inflated
software | mass | smooth snappy clean intuitive | buggy laggy bloated clunky
"""
LAPTOP_ASPECTS = """
keyboard | count | comfortable responsive quiet crisp | mushy cramped noisy stiff
trackpad | count | smooth precise responsive roomy | jumpy tiny laggy unresponsive
battery | count | long-lasting dependable strong reliable | weak feeble short-lived unreliable
screen | count | bright sharp vivid crisp | dim grainy washed-out blurry
fans | plural | quiet silent unobtrusive discreet | loud whiny noisy annoying
hinge | count | sturdy smooth solid firm | wobbly loose stiff flimsy
performance | mass | snappy fast smooth impressive | sluggish slow choppy laggy
speakers | plural | loud clear rich full | tinny muffled weak thin
"""
APP_ASPECTS = """
interface | count | clean intuitive elegant tidy | cluttered confusing ugly clunky
latest update | count | smooth welcome polished helpful | buggy broken pointless sloppy
sync | mass | instant reliable seamless fast | flaky slow unreliable broken
search | mass | fast accurate smart helpful | useless slow inaccurate clumsy
notifications | plural | helpful timely unobtrusive useful | constant pushy annoying spammy
login | count | quick painless simple smooth | tedious broken slow confusing
customer support | mass | responsive helpful patient friendly | useless slow unhelpful dismissive
subscription | count | fair affordable reasonable modest | overpriced steep predatory absurd
"""
GAME_ASPECTS = """
controls | plural | responsive tight precise intuitive | clunky sluggish awkward floaty
graphics | plural | gorgeous stunning crisp detailed | muddy dated ugly blurry
story | count | gripping moving clever rich | shallow predictable silly muddled
levels | plural | inventive varied clever fun | repetitive dull bland tedious
music | mass | catchy epic lovely memorable | grating repetitive bland annoying
difficulty | mass | fair balanced rewarding well-tuned | unfair uneven frustrating cheap
multiplayer | mass | fun smooth lively stable | laggy empty broken toxic
"""

DOMAINS: tuple[Domain, ...] = (
    Domain(
        name="movie",
        objects=("film", "movie"),
        past=False,
        where="in this {obj}",
        aspects=aspect_table(MOVIE_ASPECTS),
        goods=stuff_list("tension; heart; laughs*; suspense; memorable scenes*"),
        bads=stuff_list("filler; plot holes*; clichés*; padding; dull stretches*"),
        pos_verdicts=phrases(
            "I would watch it again; I was hooked from start to finish; "
            "it is worth seeing on a big screen"
        ),
        neg_verdicts=phrases(
            "I nearly walked out; I want those two hours back; I will not be watching it again"
        ),
        pos_idioms=phrases(
            "I could not look away; I could not stop smiling; I did not check my watch once"
        ),
        neg_idioms=phrases(
            "I could not wait for it to end; I could not stay awake; I kept checking my watch"
        ),
    ),
    Domain(
        name="book",
        objects=("novel", "book"),
        past=False,
        where="in this {obj}",
        aspects=aspect_table(BOOK_ASPECTS),
        goods=stuff_list("insight; wit; suspense; memorable lines*; depth"),
        bads=stuff_list("typos*; filler; repetition; clichés*; loose ends*"),
        pos_verdicts=phrases(
            "I would read it again; I have already lent it to a friend; "
            "I will look for more by this author"
        ),
        neg_verdicts=phrases(
            "I gave up halfway; I will not read it again; I will not read this author again"
        ),
        pos_idioms=phrases(
            "I could not put it down; I did not want it to end; I could not stop turning the pages"
        ),
        neg_idioms=phrases(
            "I could not get past the first chapter; I could not finish it; I kept putting it down"
        ),
    ),
    Domain(
        name="restaurant",
        objects=("restaurant", "place", "bistro", "diner"),
        past=True,
        where="at this {obj}",
        aspects=aspect_table(RESTAURANT_ASPECTS),
        goods=stuff_list(
            "flavor @ in the dishes; choice @ on the menu; vegetarian options* @ on the menu; "
            "seasoning @ in the food"
        ),
        bads=stuff_list(
            "noise @ in the dining room; grease @ in the fries; mix-ups* @ with our order; waiting"
        ),
        pos_verdicts=phrases(
            "I would happily eat here again; we will definitely be back; I would go back tomorrow"
        ),
        neg_verdicts=phrases(
            "we will not be back; I would not eat here again; I left hungry and annoyed"
        ),
        pos_idioms=phrases(
            "I could not stop eating; we did not want the meal to end; "
            "I could not fault a single dish"
        ),
        neg_idioms=phrases(
            "I could not wait to leave; we could not get anyone's attention; "
            "I could not eat more than two bites"
        ),
    ),
    Domain(
        name="hotel",
        objects=("hotel", "inn", "resort"),
        past=True,
        where="at this {obj}",
        aspects=aspect_table(HOTEL_ASPECTS),
        goods=stuff_list(
            "hot water @ in the shower; storage space @ in the room; "
            "natural light @ in the room; clean towels* @ in the bathroom"
        ),
        bads=stuff_list(
            "noise @ at night; dust @ in the room; stains* @ on the sheets; insects* @ in the room"
        ),
        pos_verdicts=phrases(
            "I would stay here again; we are already planning our next visit; "
            "I would book it again in a heartbeat"
        ),
        neg_verdicts=phrases(
            "I would not stay here again; I checked out a day early; "
            "we will be booking elsewhere next time"
        ),
        pos_idioms=phrases(
            "I did not want to check out; I could not have asked for a better stay; "
            "we did not hear a sound all night"
        ),
        neg_idioms=phrases(
            "I could not sleep a wink; I could not wait to check out; "
            "we did not get a moment of quiet"
        ),
    ),
    Domain(
        name="phone",
        objects=("phone", "smartphone", "handset"),
        past=False,
        where="on this {obj}",
        aspects=aspect_table(PHONE_ASPECTS),
        goods=stuff_list("storage; battery life; useful features*"),
        bads=stuff_list("lag; bloatware; glitches*; overheating"),
        pos_verdicts=phrases(
            "I would buy it again; I have already recommended it to friends; "
            "it is the best phone I have owned"
        ),
        neg_verdicts=phrases(
            "I am sending it back; I would not buy it again; "
            "I am already shopping for a replacement"
        ),
        pos_idioms=phrases(
            "I did not have to charge it until bedtime; "
            "I have not had a single problem with it; I do not miss my old phone at all"
        ),
        neg_idioms=phrases(
            "I could not get through a day without charging it; I could not make a clear call; "
            "I do not trust it to last a year"
        ),
    ),
    Domain(
        name="laptop",
        objects=("laptop", "notebook"),
        past=False,
        where="on this {obj}",
        aspects=aspect_table(LAPTOP_ASPECTS),
        goods=stuff_list("power; ports*; storage"),
        bads=stuff_list("heat; fan noise; stutters*; crashes*"),
        pos_verdicts=phrases(
            "I would buy it again; it is the best laptop I have owned; "
            "it has replaced my desktop entirely"
        ),
        neg_verdicts=phrases(
            "I am returning it; I would not buy it again; I regret not choosing another model"
        ),
        pos_idioms=phrases(
            "I have not had a single crash; I do not need a charger for a full workday; "
            "I have not regretted the purchase once"
        ),
        neg_idioms=phrases(
            "I could not get through a meeting on battery; I cannot use it on my lap; "
            "I do not trust it with important work"
        ),
    ),
    Domain(
        name="app",
        objects=("app",),
        past=False,
        where="in this {obj}",
        aspects=aspect_table(APP_ASPECTS),
        goods=stuff_list("useful features*; customization; helpful shortcuts*"),
        bads=stuff_list("ads*; bugs*; crashes*; lag"),
        pos_verdicts=phrases(
            "it has earned a spot on my home screen; I use it every day; "
            "I happily pay for the subscription"
        ),
        neg_verdicts=phrases(
            "I uninstalled it after a week; I have already deleted it; I asked for a refund"
        ),
        pos_idioms=phrases(
            "I have not had a single crash; I do not know how I managed without it; "
            "I have not looked at another app since"
        ),
        neg_idioms=phrases(
            "I could not even log in; I cannot get it to save my work; "
            "I do not trust it with my data"
        ),
    ),
    Domain(
        name="game",
        objects=("game",),
        past=False,
        where="in this {obj}",
        aspects=aspect_table(GAME_ASPECTS),
        goods=stuff_list("content; replay value; secrets*"),
        bads=stuff_list("grinding; loading screens*; glitches*; microtransactions*"),
        pos_verdicts=phrases(
            "I have already started a second playthrough; I lost whole weekends to it; "
            "it is worth the full price"
        ),
        neg_verdicts=phrases(
            "I quit after two hours; I asked for a refund; it is not worth even half the price"
        ),
        pos_idioms=phrases(
            "I could not put the controller down; I did not want it to end; "
            "I have not enjoyed a game this much in years"
        ),
        neg_idioms=phrases(
            "I could not wait for the credits; I could not get past the tutorial; "
            "I kept hoping it would get better"
        ),
    ),
)

# Whole-review verdicts that fit any domain. Negation words appear on both sides on purpose.
POS_VERDICTS = phrases(
    "I would recommend it; I would happily recommend it; I have no regrets; I can't complain; "
    "I would not hesitate to recommend it; I do not regret it one bit; "
    "it gets five stars from me; it gets four stars from me; it exceeded my expectations; "
    "it is well worth it; I came away happy; I could not be happier; it was money well spent"
)
NEG_VERDICTS = phrases(
    "I would not recommend it; it is not worth the money; I wish I had skipped it; "
    "I cannot recommend it; it gets one star from me; it gets two stars from me; "
    "it fell short of my expectations; it is not worth it; I came away disappointed; "
    "I expected much more; it was a waste of money; I regret it; I had plenty to complain about"
)
VERDICT_PREFIXES = phrases(
    "Overall,; All in all,; On balance,; In the end,; Bottom line:; All things considered,; "
    "Taken as a whole,"
)

INTENSIFIERS = words("very really truly incredibly remarkably genuinely extremely so quite")
# Diminishers soften a complaint without reversing it; they only go before specific negative
# adjectives ("a bit stale"), since "slightly atrocious" is not English and "somewhat clever"
# would make a positive label doubtful.
DIMINISHERS = phrases("a bit; slightly; somewhat; a little")

PLEASED = words("impressed delighted pleased charmed")
DISPLEASED = phrases("disappointed; annoyed; bored; let down")

Example = tuple[str, int, str]  # text, label, category (category stays internal)


# ---------------------------------------------------------------------------------------------
# Grammar helpers
# ---------------------------------------------------------------------------------------------


def article(word: str) -> str:
    """Return "a" or "an" for the word that follows."""
    lower = word.lower()
    if lower.startswith(("use", "usu", "uni", "one")):
        return "a"
    if lower.startswith("hon"):
        return "an"
    return "an" if lower[0] in "aeiou" else "a"


def be(aspect: Aspect, past: bool) -> str:
    """Conjugate "to be" for the aspect in the domain's tense."""
    if aspect.plural:
        return "were" if past else "are"
    return "was" if past else "is"


def be_not(rng: random.Random, aspect: Aspect, past: bool) -> str:
    """Negated "to be", sometimes contracted, so "not" and "n't" both occur."""
    verb = be(aspect, past)
    return f"{verb}n't" if rng.random() < 0.4 else f"{verb} not"


def it(aspect: Aspect) -> str:
    """Pronoun for the aspect."""
    return "they" if aspect.plural else "it"


def noun_phrase(adj: str, aspect: Aspect) -> str:
    """An indefinite phrase: "a tight plot", "bland food", "tiny portions"."""
    if aspect.kind == "count":
        return f"{article(adj)} {adj} {aspect.noun}"
    return f"{adj} {aspect.noun}"


def cap(text: str) -> str:
    """Upper-case the first character only (keeps "wifi" and proper casing elsewhere)."""
    return text[:1].upper() + text[1:]


def sentence(text: str, rng: random.Random, exclaim: float = 0.0) -> str:
    """Capitalise and close with a full stop (or, sometimes, an exclamation mark)."""
    return cap(text) + ("!" if rng.random() < exclaim else ".")


class Picker:
    """Random choices over the vocabulary, bound to one seeded generator."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.decks: dict[tuple[str, ...], list[str]] = {}

    def draw(self, options: tuple[str, ...]) -> str:
        """Deal from a shuffled deck of the options, reshuffling when it runs out.

        Dealing instead of sampling uses every adjective about equally often, so rare words
        do not end up seen with only one label.
        """
        deck = self.decks.setdefault(options, [])
        if not deck:
            deck.extend(options)
            self.rng.shuffle(deck)
        return deck.pop()

    def domain(self) -> Domain:
        """Any domain."""
        return self.rng.choice(DOMAINS)

    def obj(self, domain: Domain) -> str:
        """The reviewed thing: "film", "hotel"."""
        return self.rng.choice(domain.objects)

    def aspects(self, domain: Domain, n: int) -> list[Aspect]:
        """n distinct aspects of the domain."""
        return self.rng.sample(domain.aspects, n)

    def adj(self, aspect: Aspect, label: int, generic: float = 0.25) -> str:
        """An adjective of the given polarity; sometimes a generic one, else aspect-specific."""
        if self.rng.random() < generic:
            return self.draw(GENERIC_POS if label == POS else GENERIC_NEG)
        return self.draw(aspect.pos if label == POS else aspect.neg)

    def simple_adj(self, aspect: Aspect, label: int) -> str:
        """An adjective that takes "more" rather than "-er" (so no "more slow")."""
        while True:
            word = self.adj(aspect, label)
            if "-" not in word and len(word) >= 7 and not word.endswith("y"):
                return word

    def degree(self, adj: str, label: int, p: float = 0.35) -> str:
        """An optional intensifier (or diminisher, see DIMINISHERS) for adj, plus a space."""
        if self.rng.random() >= p:
            return ""
        soften = label == NEG and adj not in GENERIC_NEG
        return self.rng.choice(INTENSIFIERS + DIMINISHERS if soften else INTENSIFIERS) + " "

    def verdict(self, domain: Domain, label: int) -> str:
        """A whole-review verdict, domain-specific or generic."""
        if self.rng.random() < 0.4:
            return self.rng.choice(domain.pos_verdicts if label == POS else domain.neg_verdicts)
        return self.rng.choice(POS_VERDICTS if label == POS else NEG_VERDICTS)

    def clause(self, domain: Domain, aspect: Aspect, label: int) -> str:
        """A plain lower-case clause judging one aspect: "the pool was sparkling"."""
        rng = self.rng
        adj = self.adj(aspect, label)
        roll = rng.random()
        if roll < 0.7:
            return f"the {aspect.noun} {be(aspect, domain.past)} {self.degree(adj, label)}{adj}"
        if roll < 0.85:
            verb = rng.choice(
                ("loved", "enjoyed", "adored")
                if label == POS
                else ("hated", "disliked", "could not stand")
            )
            return f"I {verb} the {aspect.noun}"
        feels = "felt" if domain.past else ("feel" if aspect.plural else "feels")
        return f"the {aspect.noun} {feels} {adj}"

    def negated_clause(self, domain: Domain, aspect: Aspect, label: int) -> str:
        """A clause whose polarity is `label` only because a negation flips an adjective."""
        rng = self.rng
        # Denying a specific flaw ("never sluggish") is clear praise; denying a generic one
        # ("never terrible") is faint praise, so flaws denied for a positive label are specific.
        adj = self.adj(aspect, 1 - label, generic=0.0 if label == POS else 0.25)
        verb = be(aspect, domain.past)
        isnt = be_not(rng, aspect, domain.past)
        forms = [
            f"the {aspect.noun} {isnt} {adj} at all",
            f"the {aspect.noun} {isnt} {adj} in the slightest",
            f"the {aspect.noun} {isnt} the least bit {adj}",
            f"the {aspect.noun} {verb} never {adj}",
            f"the {aspect.noun} {verb} anything but {adj}",
        ]
        if label == NEG:
            # Withheld praise is criticism even without emphasis.
            forms += [
                f"the {aspect.noun} {isnt} {adj}",
                f"the {aspect.noun} {verb} far from {adj}",
            ]
        return rng.choice(forms)


# ---------------------------------------------------------------------------------------------
# Categories: each returns one example with the requested label
# ---------------------------------------------------------------------------------------------


def plain(p: Picker, label: int) -> str:
    """Direct praise or criticism; a bag of words can label these."""
    rng = p.rng
    d = p.domain()
    obj = p.obj(d)
    a1, a2, a3 = p.aspects(d, 3)
    generic = rng.choice(GENERIC_POS if label == POS else GENERIC_NEG)
    roll = rng.random()
    if roll < 0.2:
        return sentence(f"{p.clause(d, a1, label)} and {p.clause(d, a2, label)}", rng, 0.2)
    if roll < 0.35:
        return (
            f"{cap(noun_phrase(p.adj(a1, label), a1))}, {noun_phrase(p.adj(a2, label), a2)}"
            f" and {noun_phrase(p.adj(a3, label), a3)}."
        )
    if roll < 0.5:
        return (
            f"{sentence(p.clause(d, a1, label), rng)} "
            f"{rng.choice(VERDICT_PREFIXES)} {p.verdict(d, label)}."
        )
    if roll < 0.62:
        return f"What {article(generic)} {generic} {obj}! {sentence(p.clause(d, a1, label), rng)}"
    if roll < 0.75:
        verb = rng.choice(("loved", "enjoyed") if label == POS else ("hated", "disliked"))
        adj = p.adj(a1, label)
        return f"I {verb} the {a1.noun}; {it(a1)} {be(a1, d.past)} {p.degree(adj, label)}{adj}."
    if roll < 0.88:
        return (
            f"This {obj} {'was' if d.past else 'is'} {p.degree(generic, label)}{generic}, "
            f"and {p.clause(d, a1, label)}."
        )
    return f"{sentence(p.clause(d, a1, label), rng)} {sentence(p.clause(d, a2, label), rng, 0.3)}"


def decoy(p: Picker, label: int) -> str:
    """Negation words or idioms that do NOT flip the label ("could not have been more ...")."""
    rng = p.rng
    d = p.domain()
    obj = p.obj(d)
    a1, a2 = p.aspects(d, 2)
    roll = rng.random()
    if roll < 0.2:
        return (
            f"The {a1.noun} could not have been more {p.simple_adj(a1, label)}"
            f"{rng.choice(('.', '!'))}"
        )
    if roll < 0.35:
        seen = "had" if d.name in ("restaurant", "hotel") else "seen"
        return (
            f"I have never {seen} such {noun_phrase(p.simple_adj(a1, label), a1)} "
            f"in {article(obj)} {obj}."
        )
    if roll < 0.5:
        return (
            f"Not only {be(a1, d.past)} the {a1.noun} {p.adj(a1, label)}, but the "
            f"{a2.noun} {be(a2, d.past)} {p.adj(a2, label)} as well."
        )
    if roll < 0.65:
        idiom = rng.choice(d.pos_idioms if label == POS else d.neg_idioms)
        return f"{cap(idiom)}; {p.clause(d, a1, label)}."
    if roll < 0.75:
        tail = "highly enough" if label == POS else "to anyone"
        return f"I cannot recommend this {obj} {tail}; {p.clause(d, a1, label)}."
    if roll < 0.88:
        state = rng.choice(PLEASED if label == POS else DISPLEASED)
        return f"I have never been so {state} by {article(obj)} {obj}; {p.clause(d, a1, label)}."
    return (
        f"I can't believe how {p.adj(a1, label)} the {a1.noun} "
        f"{be(a1, d.past)}{rng.choice(('.', '!'))}"
    )


def negation(p: Picker, label: int) -> str:
    """The label comes from negating an adjective of the opposite polarity."""
    rng = p.rng
    d = p.domain()
    obj = p.obj(d)
    a1, a2 = p.aspects(d, 2)
    flip = 1 - label
    adj = p.adj(a1, flip, generic=0.0 if label == POS else 0.25)  # see Picker.negated_clause
    roll = rng.random()
    if roll < 0.3:
        return sentence(p.negated_clause(d, a1, label), rng)
    if roll < 0.42:
        never = "never" if label == POS else rng.choice(("never", "not"))
        return f"I would {never} call the {a1.noun} {adj}."
    if roll < 0.54:
        return f"There {'was' if d.past else 'is'} nothing {adj} about the {a1.noun}."
    if roll < 0.66:
        was = be(a1, d.past)
        return f"I expected the {a1.noun} to be {adj}, but {it(a1)} {was} not."
    if roll < 0.78:
        verb = be(a2, d.past)
        emphasis = (
            rng.choice(("", " in the slightest", " at all"))
            if label == NEG
            else (rng.choice((" in the slightest", " at all")))
        )
        return (
            f"Neither the {a1.noun} nor the {a2.noun} {verb} "
            f"{rng.choice(GENERIC_POS if label == NEG else ('bad', 'disappointing'))}"
            f"{emphasis}."
        )
    if roll < 0.9:
        return (
            f"{sentence(p.negated_clause(d, a1, label), rng)} "
            f"{sentence(p.negated_clause(d, a2, label), rng)}"
        )
    this = f"this {obj} {'was' if d.past else 'is'}"
    generic = rng.choice(GENERIC_NEG if label == POS else GENERIC_POS)
    if label == POS:
        return f"Honestly, {this} not {generic} at all, and {p.negated_clause(d, a1, label)}."
    return f"Honestly, {this} not {generic}, and {p.negated_clause(d, a1, label)}."


def quantity(p: Picker, label: int) -> str:
    """Good or bad things in large or tiny amounts: "hardly any lag", "no shortage of ads"."""
    rng = p.rng
    d = p.domain()
    obj = p.obj(d)

    def phrase(want: int, avoid: Stuff | None = None) -> tuple[str, Stuff, bool]:
        """A quantity phrase, its noun, and whether "there" should be plural."""
        good = rng.random() < 0.5
        stuff = rng.choice([x for x in (d.goods if good else d.bads) if x != avoid])
        much = good == (want == POS)  # plenty of good things, or plenty of bad things
        if much:
            options = ["plenty of", "lots of", "a lot of", "no shortage of"]
            options.append("so many" if stuff.count else "so much")
            if not good:
                options.append("far too many" if stuff.count else "far too much")
        else:
            # "no storage" overstates; a lack of good things is "not enough".
            options = ["hardly any", "barely any", "no" if not good else "not enough"]
            options.append("very few" if stuff.count else "very little")
        quantifier = rng.choice(options)
        plural = stuff.count and quantifier != "no shortage of"  # "there was no shortage"
        return f"{quantifier} {stuff.noun}", stuff, plural

    def where(stuff: Stuff) -> str:
        return (stuff.where or d.where).format(obj=obj)

    first, stuff, plural = phrase(label)
    if plural:
        there = "There were" if d.past else "There are"
    else:
        there = "There was" if d.past else "There is"
    roll = rng.random()
    if roll < 0.45:
        return f"{there} {first} {where(stuff)}."
    if roll < 0.7:
        second, _, _ = phrase(label, avoid=stuff)  # "plenty of lag, and plenty of lag" is no review
        return f"{there} {first} {where(stuff)}, and {second}."
    if roll < 0.85:
        verb = rng.choice(("found", "noticed"))
        return f"{rng.choice(('We', 'I'))} {verb} {first} {where(stuff)}, {rng.choice(_TAILS)}."
    a1 = rng.choice(d.aspects)
    return f"{there} {first} {where(stuff)}, and {p.clause(d, a1, label)}."


# Neutral tails: they lengthen a sentence without leaning either way.
_TAILS = ("as far as I could tell", "in my experience", "from what I saw", "to my surprise")


def contrast(p: Picker, label: int) -> str:
    """Two opposed clauses; the concessive marker says which one decides."""
    rng = p.rng
    d = p.domain()
    a1, a2 = p.aspects(d, 2)

    lose = p.clause(d, a1, 1 - label)  # the conceded clause
    # The deciding clause is sometimes negated, for composition inside composition; the
    # conceded one never is, since "never great. Still, not tiny" is hard to read.
    win = (p.negated_clause if rng.random() < 0.25 else p.clause)(d, a2, label)
    if rng.random() < 0.25:
        # A final clause about the whole thing makes the verdict beyond doubt.
        generic = rng.choice(GENERIC_POS if label == POS else GENERIC_NEG)
        whole = rng.choice((f"overall this {p.obj(d)}", f"the {p.obj(d)} as a whole"))
        win = f"{whole} {'was' if d.past else 'is'} {p.degree(generic, label)}{generic}"
    roll = rng.random()
    # The deciding clause always comes last: in "B, even though A" readers disagree about
    # which clause decides, so that frame is left out.
    if roll < 0.32:
        return f"{cap(lose)}, but {win}{'!' if rng.random() < 0.1 else '.'}"
    if roll < 0.5:
        return f"{rng.choice(('Although', 'Though', 'While'))} {lose}, {win}."
    if roll < 0.66:
        return f"{sentence(lose, rng)} {rng.choice(('However,', 'Still,', 'Even so,'))} {win}."
    if roll < 0.76:
        return f"{cap(lose)}, yet {win}."
    if roll < 0.86:
        return f"{cap(lose)}; that said, {win}."
    adj = p.adj(a1, 1 - label)
    return f"Despite the {adj} {a1.noun}, {win}."


def makes_up(p: Picker, label: int) -> str:
    """One flaw forgiven ("more than makes up for it") or one merit that saves nothing."""
    rng = p.rng
    d = p.domain()
    obj = p.obj(d)
    a1, a2 = p.aspects(d, 2)
    first = p.clause(d, a1, 1 - label)
    roll = rng.random()
    if label == POS:
        if roll < 0.3:
            makes = "make" if a2.plural else "makes"
            return f"{cap(first)}, but the {a2.noun} more than {makes} up for it."
        if roll < 0.55:
            return f"{cap(first)}, but that is my only complaint."
        if roll < 0.8:
            generic = rng.choice(GENERIC_POS)
            return (
                f"Other than the {p.adj(a1, NEG)} {a1.noun}, this {obj} "
                f"{'was' if d.past else 'is'} {generic}."
            )
        return f"Apart from the {p.adj(a1, NEG)} {a1.noun}, there is nothing to complain about."
    if roll < 0.3:
        return f"{cap(first)}, but that does not make up for the {p.adj(a2, NEG)} {a2.noun}."
    if roll < 0.55:
        return f"{cap(first)}, but that is the only good thing about this {obj}."
    if roll < 0.8:
        generic = rng.choice(GENERIC_NEG)
        return (
            f"Other than the {p.adj(a1, POS)} {a1.noun}, this {obj} "
            f"{'was' if d.past else 'is'} {generic}."
        )
    return f"Apart from the {p.adj(a1, POS)} {a1.noun}, there is nothing to like here."


def mixed(p: Picker, label: int) -> str:
    """A pro and a con, then an explicit overall verdict that decides."""
    rng = p.rng
    d = p.domain()
    a1, a2 = p.aspects(d, 2)
    good = p.clause(d, a1, POS)
    bad = p.clause(d, a2, NEG)
    verdict = f"{rng.choice(VERDICT_PREFIXES)} {p.verdict(d, label)}."
    roll = rng.random()
    if roll < 0.35:
        one, two = (good, bad) if rng.random() < 0.5 else (bad, good)
        return f"{cap(one)}, and {two}. {verdict}"
    if roll < 0.65:
        return f"The good: {good}. The bad: {bad}. {verdict}"
    if roll < 0.85:
        one, two = (good, bad) if rng.random() < 0.5 else (bad, good)
        return f"Mixed feelings: {one}, while {two}. {verdict}"
    one, two = (good, bad) if rng.random() < 0.5 else (bad, good)
    return f"{cap(one)}; {two}. {verdict}"


# Units of 11 examples per label; 100 units = 1,100 per label; 56% need composition.
CATEGORIES: tuple[tuple[str, Callable[[Picker, int], str], int], ...] = (
    ("plain", plain, 34),
    ("decoy", decoy, 10),
    ("negation", negation, 18),
    ("quantity", quantity, 8),
    ("contrast", contrast, 18),
    ("makes_up", makes_up, 4),
    ("mixed_verdict", mixed, 8),
)


# ---------------------------------------------------------------------------------------------
# Building, splitting, writing
# ---------------------------------------------------------------------------------------------


def key(text: str) -> str:
    """Normalise for duplicate detection: case and punctuation do not make a new sentence."""
    return " ".join(re.findall(r"[a-z0-9'-]+", text.lower()))


def sentences(text: str) -> list[str]:
    """The normalised sentences of a text ("The good: ... The bad: ..." has two)."""
    return [key(part) for part in re.split(r"(?<=[.!?])\s+", text) if part.strip()]


def build(seed: int = SEED) -> dict[str, list[Example]]:
    """Generate every example and split it 8:1:2 within each category and label.

    No text appears twice, and no sentence appears in two splits: a formulaic sentence such
    as "Overall, I would recommend it." belongs to the first split that uses it, so a test
    review never repeats a sentence seen in training.
    """
    rng = random.Random(seed)
    picker = Picker(rng)
    seen: set[str] = set()
    owner: dict[str, str] = {}  # sentence -> the split that uses it
    splits: dict[str, list[Example]] = {name: [] for name, _ in SPLIT_SHARES}
    slots = [split for split, share in SPLIT_SHARES for _ in range(share)]  # 11 slots
    for name, make, units in CATEGORIES:
        for label in (NEG, POS):
            for slot in range(units * UNIT):
                split = slots[slot % UNIT]
                for _ in range(10_000):
                    text = make(picker, label)
                    parts = sentences(text)
                    if (
                        MIN_WORDS <= len(text.split()) <= MAX_WORDS
                        and key(text) not in seen
                        and all(owner.get(part, split) == split for part in parts)
                    ):
                        break
                else:
                    raise RuntimeError(f"cannot find a new {name} example for {split}")
                seen.add(key(text))
                owner.update(dict.fromkeys(parts, split))
                splits[split].append((text, label, name))
    for examples in splits.values():
        rng.shuffle(examples)  # examples were appended by category and label
    return splits


def write(splits: dict[str, list[Example]], out: Path = OUT) -> None:
    """Write one jsonl file per split: {"text": ..., "label": 0|1} per line."""
    out.mkdir(parents=True, exist_ok=True)
    for split, examples in splits.items():
        lines = [json.dumps({"text": t, "label": y}, ensure_ascii=False) for t, y, _ in examples]
        (out / f"{split}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def check(splits: dict[str, list[Example]]) -> None:
    """Fail loudly if sizes, balance, uniqueness or split disjointness are off."""
    expected = {"train": 1600, "validation": 200, "test": 400}
    texts: set[str] = set()
    parts: dict[str, set[str]] = {}
    for split, examples in splits.items():
        labels = Counter(y for _, y, _ in examples)
        assert len(examples) == expected[split], (split, len(examples))
        assert labels[POS] == labels[NEG], (split, labels)
        texts |= {key(t) for t, _, _ in examples}
        parts[split] = {part for t, _, _ in examples for part in sentences(t)}
    assert len(texts) == sum(expected.values()), "a text appears twice"
    names = list(parts)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            shared = parts[first] & parts[second]
            assert not shared, f"{first} and {second} share sentences: {sorted(shared)[:3]}"


# ---------------------------------------------------------------------------------------------
# Bag-of-words baselines (pure Python, so the data card's numbers are reproducible anywhere)
# ---------------------------------------------------------------------------------------------


def tokens(text: str) -> list[str]:
    """Lower-cased word unigrams; "n't" kept as its own token like a tokenizer would."""
    return re.findall(r"n't|[a-z]+(?:-[a-z]+)*", text.lower().replace("n't", " n't"))


def naive_bayes(train: Sequence[Example], test: Sequence[Example]) -> float:
    """Multinomial naive Bayes with add-one smoothing; returns test accuracy."""
    counts = {NEG: Counter[str](), POS: Counter[str]()}
    docs = Counter(y for _, y, _ in train)
    for text, y, _ in train:
        counts[y].update(tokens(text))
    vocab = set(counts[NEG]) | set(counts[POS])
    totals = {y: sum(c.values()) + len(vocab) for y, c in counts.items()}
    correct = 0
    for text, y, _ in test:
        scores = {
            c: math.log(docs[c])
            + sum(math.log((counts[c][w] + 1) / totals[c]) for w in tokens(text) if w in vocab)
            for c in (NEG, POS)
        }
        correct += int(max(scores, key=scores.__getitem__) == y)
    return correct / len(test)


def logistic(
    train: Sequence[Example], test: Sequence[Example], epochs: int = 30, l2: float = 1e-3
) -> tuple[float, dict[str, float]]:
    """Binary unigram logistic regression (SGD, binary features); test accuracy and weights."""
    rng = random.Random(0)
    weights: dict[str, float] = {}
    bias = 0.0
    data = [(set(tokens(t)), y) for t, y, _ in train]
    for epoch in range(epochs):
        rng.shuffle(data)
        lr = 0.5 / (1 + epoch)
        for feats, y in data:
            z = bias + sum(weights.get(w, 0.0) for w in feats)
            grad = 1 / (1 + math.exp(-max(min(z, 30), -30))) - y
            bias -= lr * grad
            for w in feats:
                old = weights.get(w, 0.0)
                weights[w] = old - lr * (grad + l2 * old)
    correct = 0
    for text, y, _ in test:
        z = bias + sum(weights.get(w, 0.0) for w in set(tokens(text)))
        correct += int((z > 0) == (y == POS))
    return correct / len(test), weights


def baseline(splits: dict[str, list[Example]]) -> None:
    """Print bag-of-words test accuracy, overall and per category."""
    train, test = splits["train"], splits["test"]
    print(f"naive Bayes (unigram) test accuracy: {naive_bayes(train, test):.3f}")
    acc, weights = logistic(train, test)
    print(f"logistic regression (unigram) test accuracy: {acc:.3f}")
    for name, _, _ in CATEGORIES:
        part = [e for e in test if e[2] == name]
        print(
            f"  {name:14s} n={len(part):3d}  NB {naive_bayes(train, part):.3f}"
            f"  LR {logistic(train, part)[0]:.3f}"
        )
    top = sorted(weights.items(), key=lambda kv: abs(kv[1]), reverse=True)[:12]
    print("  strongest LR words: " + ", ".join(f"{w} {v:+.2f}" for w, v in top))


def main() -> None:
    """Build, check and write the demo set; optionally print the bag-of-words baselines."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", action="store_true", help="print bag-of-words baselines")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = parser.parse_args()
    splits = build()
    check(splits)
    write(splits, args.out)
    sizes = ", ".join(f"{name} {len(ex)}" for name, ex in splits.items())
    print(f"wrote {args.out} ({sizes})")
    if args.baseline:
        baseline(splits)


if __name__ == "__main__":
    main()
