"""The extractor: rules that read French and English news as vendorwatch events, offline.

No statistical model runs here (docs/feeds.md, "Extraction", says why): organisations come from
the gazetteer (the policy's and the registry's names), amounts and dates from the normalisers,
and each event type has trigger words in both languages. A rule reads one sentence (sometimes
with the next, for a share stated after a count); what it proposes carries the sentence as its
quote, with the exact character span, so the reviewer sees what was read.

Confidence starts from the rule and drops, with a stated reason, for hedging and reported speech
("auraient", "selon", "rumeurs", "réfuté", "reportedly", "denied"), for a subject carried over
from the previous sentence or not registered, and for a source that says it is machine-written.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from vendorwatch.feeds.candidates import (
    EXTRACTOR_ID,
    KEY_FIELDS,
    Candidate,
    Evidence,
    candidate_id,
    cluster,
)
from vendorwatch.feeds.documents import Document
from vendorwatch.feeds.gazetteer import (
    COMPETITOR,
    ORGANISATION,
    VENDOR,
    Entity,
    Gazetteer,
    Mention,
    capitalised_names,
    slug,
)
from vendorwatch.feeds.normalise import (
    ResolvedTime,
    find_money,
    is_historical,
    parse_count,
    parse_factor,
    parse_number,
    parse_percent,
    resolve_time,
)
from vendorwatch.schemas.codec import EVENT_ADAPTER

HEDGES: dict[str, str] = {
    r"\b(?:aurai(?:en)?t|serai(?:en)?t|pourrai(?:en)?t)\b": "conditional (unconfirmed)",
    r"\bselon\b|\bd['’]après\b|\baccording to\b": "reported speech",
    r"\brumeurs?\b|\brumou?rs?\b": "rumour",
    r"\bréfut\w*|\bdément\w*|\bdémenti\w*|\bdenie[sd]?\b|\bdeny\b|\brefute[sd]?\b": "denied",
    r"\breportedly\b|\ballegedly\b|\bis said to\b|\bsources? (?:close|familiar)\b": "reported",
}
"""Words that make a sentence less than a statement of fact, and what they say."""
HEDGE_FACTOR = 0.75

MACHINE_WRITTEN = re.compile(
    r"écrits? par des intelligences? artificielles?|produits? à l['’]aide d['’]outils d['’]IA|"
    r"généré(?:e|s)? par (?:une |l['’])?(?:IA|intelligence artificielle)|"
    r"(?:written|generated|produced) (?:\w+ )?(?:by|with|using) (?:an? )?(?:AI|artificial intell)",
    re.IGNORECASE,
)
"""A source saying it is machine-written: its candidates are low-trust."""
MACHINE_FACTOR = 0.5

_SENTENCE_END = re.compile(r"(?<=[.!?…»”])\s+(?=[«“\"A-ZÀ-ÖØ-Þ0-9-])|\n+")


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    start: int
    end: int


def sentences(text: str) -> list[Sentence]:
    """The text cut at sentence ends and line breaks, with offsets into it."""
    found: list[Sentence] = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        found.extend(_trimmed(text, start, m.start()))
        start = m.end()
    found.extend(_trimmed(text, start, len(text)))
    return found


def _trimmed(text: str, start: int, end: int) -> list[Sentence]:
    chunk = text[start:end]
    stripped = chunk.strip()
    if not stripped:
        return []
    s = start + chunk.index(stripped)
    return [Sentence(stripped, s, s + len(stripped))]


@dataclass(slots=True)
class Proposal:
    """What a rule read, before it becomes a candidate."""

    type: str
    subject: Entity | str
    """The entity, or a name the gazetteer does not know."""
    data: dict[str, Any]
    start: int
    end: int
    confidence: float
    reasons: list[str] = field(default_factory=list)
    time: datetime | None = None
    """When a structured source states it (a filing's date): used as given, not estimated."""


@dataclass(slots=True)
class Context:
    """What rules may look at beyond the current sentence."""

    document: Document
    all_sentences: list[Sentence]
    index: int
    mentions: list[Mention]
    previous_vendor: Entity | None
    main_org: Entity | None

    @property
    def sentence(self) -> Sentence:
        return self.all_sentences[self.index]


_COMPLEMENT = re.compile(r"(?:\bde|\bd['’]|\bdu|\bof|\bchez|\bcomme|\blike)\s*$", re.IGNORECASE)


def _is_complement(text: str, mention: Mention, offset: int) -> bool:
    """Whether a name follows "de"/"of"/"chez"...: a complement, rarely the sentence's subject."""
    return bool(_COMPLEMENT.search(text[: mention.start - offset]))


def _vendors(ctx: Context) -> list[Mention]:
    return [m for m in ctx.mentions if m.entity.kind == VENDOR]


def _orgs(ctx: Context, *kinds: str) -> list[Mention]:
    return [m for m in ctx.mentions if m.entity.kind in kinds]


def _subject_vendor(ctx: Context) -> Mention | None:
    """The vendor a sentence is about: the first one named that is not a complement."""
    vendors = _vendors(ctx)
    s = ctx.sentence
    for m in vendors:
        if not _is_complement(s.text, m, s.start):
            return m
    return vendors[0] if vendors else None


# ---- rules -------------------------------------------------------------------------------

FUNDING = re.compile(
    r"lev[ée]e de fonds|tour de (?:table|financement)|financement|invest\w*|participation|"
    r"funding|raised|round|stake|backed",
    re.IGNORECASE,
)
STAKE = re.compile(r"participation|stake|détient|holds?|prise de contrôle", re.IGNORECASE)


def rule_funding(ctx: Context) -> Iterator[Proposal]:
    """A competitor puts money into a vendor: a funding round (or a stake, when a share of the
    company is given)."""
    s = ctx.sentence
    trigger = FUNDING.search(s.text)
    money = [m for m in find_money(s.text) if m.currency == "USD" and m.amount >= 1e6]
    if not trigger or not money:
        return
    subject = _subject_vendor(ctx)
    investors = [
        m
        for m in _orgs(ctx, COMPETITOR, ORGANISATION, VENDOR)
        if subject is None or m.entity != subject.entity
    ]
    if subject is None or not investors:
        return
    investor = investors[-1]
    share = parse_percent(s.text)
    reasons = [f'"{trigger.group(0)}" with {money[0].amount / 1e9:g} billion USD']
    if share is not None and STAKE.search(s.text):
        data = {"investor": investor.entity.name, "stake_pct": share, "amount_usd": money[0].amount}
        yield Proposal(
            "ownership.stake_acquired", subject.entity, data, s.start, s.end, 0.8, reasons
        )
        return
    data = {
        "round": trigger.group(0)[:200],
        "amount_usd": money[0].amount,
        "investors": [investor.entity.name],
    }
    reasons.append("no share of the company stated: a stake is possible, the reviewer decides")
    yield Proposal("funding.round", subject.entity, data, s.start, s.end, 0.8, reasons)


PAUSE = re.compile(
    r"suspend\w*|mis(?:e|es)? en pause|met(?:tent)? en pause|interromp\w*|gel[ée]\w*|"
    r"\bpaus(?:e|ed|es|ing)\b|\bhalt\w*|\bfroze\b|\bfrozen\b",
    re.IGNORECASE,
)
TERMINATE = re.compile(
    r"mis fin|rompu|résili\w*|ended (?:its|their) (?:work|contract)|terminat\w*|cut ties",
    re.IGNORECASE,
)


def rule_client_change(ctx: Context) -> Iterator[Proposal]:
    """Other clients pause or end their work with a vendor: one event per client named."""
    s = ctx.sentence
    paused = PAUSE.search(s.text)
    ended = TERMINATE.search(s.text)
    trigger = paused or ended
    if not trigger:
        return
    type_ = "client.paused" if paused else "client.terminated"
    clients = _orgs(ctx, COMPETITOR, ORGANISATION)
    if not clients:
        return
    vendor_mentions = _vendors(ctx)
    reasons = [f'"{trigger.group(0)}"']
    confidence = 0.8
    if vendor_mentions:
        vendor: Entity = vendor_mentions[-1].entity
    elif ctx.previous_vendor is not None:
        vendor = ctx.previous_vendor
        reasons.append(f"vendor {vendor.name} named in the previous sentence")
        confidence *= 0.85
    else:
        return
    for client in dict.fromkeys(m.entity for m in clients):
        data = {"client": client.name, "reason": s.text[:300]}
        yield Proposal(type_, vendor, data, s.start, s.end, confidence, list(reasons))


DEMAND = re.compile(r"\bdemande\b|\bdemand\b", re.IGNORECASE)
GROWTH = re.compile(
    r"augment\w*|tripl\w*|doubl\w*|quadrupl\w*|explos\w*|bond\w*|hausse|exponenti\w*|"
    r"surg\w*|soar\w*|grew|rose|jump\w*|spik\w*",
    re.IGNORECASE,
)
NEW_CLIENTS = re.compile(
    r"davantage de clients|nouveaux clients|afflux de clients|gagn\w* des clients|"
    r"(?:won|gained|attract\w*) (?:new |more )?(?:clients|customers)",
    re.IGNORECASE,
)


def rule_demand(ctx: Context) -> Iterator[Proposal]:
    """A vendor's demand surges (a factor when the text gives one), or it gains clients."""
    s = ctx.sentence
    growth = GROWTH.search(s.text) if DEMAND.search(s.text) else None
    clients = NEW_CLIENTS.search(s.text)
    if not (growth or clients):
        return
    vendors = _vendors(ctx)
    if not vendors:
        return
    factor = parse_factor(s.text) if growth else None
    if growth and factor is not None:
        trigger_at = growth.start() + s.start
        before = [m for m in vendors if m.start < trigger_at]
        chosen = [before[-1] if before else vendors[0]]
    else:
        chosen = vendors
    reason = f'"{(growth or clients).group(0)}"'  # type: ignore[union-attr]
    for vendor in dict.fromkeys(m.entity for m in chosen):
        data: dict[str, Any] = {"description": s.text[:500]}
        if factor is not None:
            data["factor"] = factor
        yield Proposal("demand.changed", vendor, data, s.start, s.end, 0.75, [reason])


STATEMENT = re.compile(
    r"^\W*(?:\S+\s+){0,1}(?P<verb>affirme|assure|déclare|indique|précise|soutient|a déclaré|"
    r"a affirmé|says|said|states|stated|maintains|insists)\b",
    re.IGNORECASE,
)
SAFEGUARD = re.compile(
    r"données|sécurité|protection|confidentialit\w*|clients|data|security|privacy|customers",
    re.IGNORECASE,
)


def rule_statement(ctx: Context) -> Iterator[Proposal]:
    """A vendor says its safeguards hold: a mitigating statement, in its own words."""
    s = ctx.sentence
    subject = _subject_vendor(ctx)
    if subject is None or subject.start - s.start > 40:
        return
    rest = s.text[subject.end - s.start :]
    verb = STATEMENT.search(rest)
    if not verb or not SAFEGUARD.search(rest):
        return
    data = {"kind": "statement", "text": s.text[:4000]}
    yield Proposal(
        "vendor.statement",
        subject.entity,
        data,
        s.start,
        s.end,
        0.75,
        [f'{subject.surface} "{verb.group("verb")}"'],
    )


ROLES: dict[str, tuple[str, str]] = {
    r"PDG|CEO|chief executive|directeur général|directrice générale": ("CEO", "executive"),
    r"CTO|directeur de la technologie|chief technology officer": ("CTO", "executive"),
    r"fondat\w+|co-?fondat\w+|founder|co-?founder": ("founder", "executive"),
    r"président\w*|president|chair\w*": ("president", "executive"),
    r"directeur de la recherche|chief research officer|head of research": (
        "research lead", "executive"),
    r"vice-président\w*|vice president|VP": ("vice president", "senior"),
    r"chercheu\w+|researchers?": ("researcher", "senior"),
    r"ingénieu\w+|engineers?": ("engineer", "senior"),
    r"employés?|salariés?|employees?|staff": ("employee", "staff"),
}  # fmt: skip
_ROLE = "|".join(ROLES)
_PERSON = r"[A-Z][\w’'-]+(?:\s+[A-Z][\w’'-]+){1,2}"
FORMER = re.compile(
    r"(?:l['’]\s*)?(?:ancien(?:ne)?|ex-|former)\s*(?P<role>" + _ROLE + r")\s+(?:de|d['’]|du|of)\s*"
    r"(?P<org>[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*|\s+AI)*),\s+(?P<person>" + _PERSON + ")"
)
GROUP_MOVE = re.compile(
    r"(?P<role>" + _ROLE + r")\s+(?:de|d['’]|of|from)\s*(?P<org>[A-Z][\w.&-]*(?:\s+AI)?),\s*"
    r"(?P<people>" + _PERSON + r"(?:,\s*" + _PERSON + r")*\s+(?:et|and)\s+" + _PERSON + r")"
    r",?\s+(?:qui\s+(?:sont|ont)\s+)?(?:récemment\s+|recently\s+)?"
    r"(?P<verb>passés? chez|partis? chez|rejoint|moved to|joined|left for)\s+(?P<to>[A-Z][\w.&-]*)"
)
COUNT_MOVE = re.compile(
    r"(?P<count>\d+|un|deux|trois|quatre|cinq|six|sept|huit|neuf|dix|two|three|four|five|six|"
    r"seven|eight|nine|ten)\s+(?P<role>" + _ROLE + r")\s+(?:\w+\s+){0,2}"
    r"(?P<verb>troqué|quitté|rejoint|left|joined|défect\w*|partis?)\b(?P<between>.{0,60}?)"
    r"\b(?P<from>[A-Z][\w.&-]*)\b.{0,40}?\b(?:pour|for|to|chez)\b.{0,30}?\b(?P<to>[A-Z][\w.&-]*)",
)


def _role(text: str) -> tuple[str, str]:
    for pattern, found in ROLES.items():
        if re.fullmatch(pattern, text, re.IGNORECASE):
            return found
    return text, "senior"


def _org(gazetteer: Gazetteer, name: str) -> Entity | str:
    entity = gazetteer.resolve(name)
    return entity if entity is not None else name


def rule_person_moved(ctx: Context, gazetteer: Gazetteer) -> Iterator[Proposal]:
    """A person leaves an organisation for another: "l'ancien PDG de X, Nom" in a sentence
    naming a competitor, "les ingénieurs de X, A, B et C, qui sont passés chez Y", "huit
    chercheurs auraient troqué leur badge X pour ... Y"."""
    s = ctx.sentence
    competitors = _orgs(ctx, COMPETITOR)
    for m in FORMER.finditer(s.text):
        role, seniority = _role(m.group("role"))
        origin = _org(gazetteer, m.group("org"))
        targets = [c for c in competitors if c.entity != origin and c.start - s.start < m.start()]
        if not targets:
            continue
        data = {
            "person": m.group("person"),
            "role": role,
            "from_org": m.group("org"),
            "to_org": targets[-1].surface,
            "seniority": seniority,
        }
        yield Proposal(
            "person.moved",
            origin,
            data,
            s.start,
            s.end,
            0.7,
            [f'"{m.group(0)}" with {targets[-1].surface} named before'],
        )
    for m in GROUP_MOVE.finditer(s.text):
        role, seniority = _role(m.group("role"))
        origin = _org(gazetteer, m.group("org"))
        people = re.split(r",\s*|\s+(?:et|and)\s+", m.group("people"))
        for person in people:
            data = {
                "person": person.strip(),
                "role": role,
                "from_org": m.group("org"),
                "to_org": m.group("to"),
                "seniority": seniority,
            }
            yield Proposal(
                "person.moved",
                origin,
                data,
                s.start,
                s.end,
                0.8,
                [f'"{m.group("verb")} {m.group("to")}"'],
            )
    for m in COUNT_MOVE.finditer(s.text):
        role, seniority = _role(m.group("role"))
        origin = _org(gazetteer, m.group("from"))
        target = gazetteer.resolve(m.group("to"))
        if target is None or target.kind != COMPETITOR:
            continue
        data = {
            "person": f"{m.group('count')} {m.group('role')} (unnamed)",
            "role": role,
            "from_org": m.group("from"),
            "to_org": m.group("to"),
            "seniority": seniority,
        }
        yield Proposal(
            "person.moved",
            origin,
            data,
            s.start,
            s.end,
            0.6,
            [f'"{m.group("verb")}": people not named'],
        )


ACQUIRED = re.compile(
    r"(?P<verb>acquise?s?|rachetée?s?|achetée?s?|acquired|bought)\b(?P<middle>[^.]{0,80}?)"
    r"\b(?:par|by)\s+(?P<acquirer>[A-Z][\w.&-]*(?:\s+[A-Z][\w.&-]*)?)"
)


def rule_acquired(ctx: Context, gazetteer: Gazetteer) -> Iterator[Proposal]:
    """Someone buys an organisation outright: "X ... acquise pour 7,5 milliards $ par Y"."""
    s = ctx.sentence
    m = ACQUIRED.search(s.text)
    if not m:
        return
    names = [n for n in capitalised_names(s.text[: m.start()]) if n[0] != m.group("acquirer")]
    vendors = [v for v in _vendors(ctx) if v.start - s.start < m.start()]
    if vendors:
        target: Entity | str = vendors[0].entity
    elif names:
        target = _org(gazetteer, names[0][0])
    else:
        return
    money = [x for x in find_money(s.text) if x.currency == "USD"]
    acquirer = m.group("acquirer").rstrip(".-&")
    known = gazetteer.resolve(acquirer)
    data: dict[str, Any] = {"acquirer": known.name if known else acquirer}
    if money:
        data["amount_usd"] = money[0].amount
    yield Proposal(
        "ownership.acquired",
        target,
        data,
        s.start,
        s.end,
        0.8,
        [f'"{m.group("verb")} ... par {acquirer}"'],
    )


HIRING = re.compile(
    r"recrut\w*|embauch\w*|engag[ée]s?|hired|recruited|employs?|utilise|uses", re.IGNORECASE
)
WORKERS = re.compile(
    r"professionnels|sous-traitants|contractuels|travailleurs|prestataires|annotateurs|"
    r"étiqueteurs|contractors|workers|annotators|labell?ers|freelancers",
    re.IGNORECASE,
)
REMOTE = re.compile(r"à distance|remote|indépendants|freelance|independent", re.IGNORECASE)
PERIOD = re.compile(
    r"\b(?:en|sur|in|over)\s+(?P<n>\d+|\w+)\s+(?P<unit>mois|months?|semaines?|weeks?|ans?|years?)",
    re.IGNORECASE,
)
_UNIT_DAYS = {
    "mois": 30.4,
    "month": 30.4,
    "months": 30.4,
    "semaine": 7,
    "semaines": 7,
    "week": 7,
    "weeks": 7,
    "an": 365,
    "ans": 365,
    "year": 365,
    "years": 365,
}


def rule_workforce(ctx: Context) -> Iterator[Proposal]:
    """A contractor pool grows: a head count of workers hired, with a period and a remote share
    when the sentence or the next gives them."""
    s = ctx.sentence
    hiring, workers = HIRING.search(s.text), WORKERS.search(s.text)
    if not hiring or not workers:
        return
    count = parse_count(s.text[: workers.start()][-40:], last=True)
    if count is None or count < 50:
        return
    end = s.end
    share = parse_percent(s.text) if REMOTE.search(s.text) else None
    reasons = [f'"{hiring.group(0)}" {count} "{workers.group(0)}"']
    if share is None and ctx.index + 1 < len(ctx.all_sentences):
        following = ctx.all_sentences[ctx.index + 1]
        if REMOTE.search(following.text):
            share = parse_percent(following.text)
            if share is not None:
                end = following.end
                reasons.append("remote share from the next sentence")
    vendors = _vendors(ctx)
    confidence = 0.75
    subject: Entity | str
    if vendors:
        subject = vendors[0].entity
    else:
        orgs = _orgs(ctx, COMPETITOR, ORGANISATION)
        if orgs:
            subject = orgs[0].entity
        elif ctx.main_org is not None:
            subject = ctx.main_org
            reasons.append(f"employer not named in the sentence: {subject.name}, the article's")
            confidence *= 0.85
        else:
            return
    data: dict[str, Any] = {"contractors": count, "contractors_added": count}
    period = PERIOD.search(s.text)
    if period:
        n = parse_number(period.group("n"))
        if n:
            data["period_days"] = max(
                1, min(3650, round(n * _UNIT_DAYS[period.group("unit").casefold()]))
            )
    if share is not None:
        data["remote_share_pct"] = share
    data["description"] = ctx.document.text[s.start : end][:4000]
    yield Proposal("workforce.changed", subject, data, s.start, end, confidence, reasons)


# ---- the extractor -----------------------------------------------------------------------


def _hedges(text: str) -> list[str]:
    return [label for pattern, label in HEDGES.items() if re.search(pattern, text, re.I)]


def _main_org(gazetteer: Gazetteer, document: Document) -> Entity | None:
    counts: dict[Entity, int] = {}
    for m in gazetteer.mentions(document.text):
        counts[m.entity] = counts.get(m.entity, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None


def propose(document: Document, gazetteer: Gazetteer) -> list[Proposal]:
    """Every proposal of every rule on every sentence of a document, with hedging applied."""
    found: list[Proposal] = []
    all_sentences = sentences(document.text)
    previous: Entity | None = None
    main_org = _main_org(gazetteer, document)
    machine = MACHINE_WRITTEN.search(document.text)
    for i, sentence in enumerate(all_sentences):
        mentions = gazetteer.mentions(sentence.text, sentence.start)
        ctx = Context(document, all_sentences, i, mentions, previous, main_org)
        proposals = [
            *rule_funding(ctx),
            *rule_client_change(ctx),
            *rule_demand(ctx),
            *rule_statement(ctx),
            *rule_person_moved(ctx, gazetteer),
            *rule_acquired(ctx, gazetteer),
            *rule_workforce(ctx),
        ]
        hedges = _hedges(sentence.text)
        for p in proposals:
            for label in hedges:
                if p.type == "vendor.statement":
                    break  # the vendor's own words: attribution is what it is
                p.confidence *= HEDGE_FACTOR
                p.reasons.append(f"hedged: {label}")
            if machine:
                p.confidence *= MACHINE_FACTOR
                p.reasons.append(f'low trust: the source says "{machine.group(0)}"')
        found.extend(proposals)
        vendors = [m.entity for m in mentions if m.entity.kind == VENDOR]
        if vendors:
            previous = vendors[-1]
    return found


def to_candidate(document: Document, p: Proposal) -> Candidate | None:
    """A proposal as a candidate whose event validates, or None if the event would not."""
    reasons = list(p.reasons)
    confidence = p.confidence
    if isinstance(p.subject, Entity) and p.subject.vendor_id:
        subject, registered = p.subject.vendor_id, True
    else:
        name = p.subject.name if isinstance(p.subject, Entity) else p.subject
        subject, registered = slug(name), False
        reasons.append(f"{name} is not a registered vendor")
        confidence *= 0.7
    reference = document.reference_time
    resolved = (
        ResolvedTime(p.time, "day", None)
        if p.time is not None
        else resolve_time(document.text[p.start : p.end], reference)
    )
    historical = is_historical(resolved, reference)
    if historical:
        reasons.append(f"historical: {resolved.expression}, well before the article")
    if resolved.precision != "day":
        basis = resolved.expression or (
            "the publication date" if document.published else "the fetch time"
        )
        reasons.append(f"time estimated from {basis}")
    if document.published_estimated:
        reasons.append("publication date estimated from the page's dateline")
    span = (p.start, p.end)
    key_field = KEY_FIELDS.get(p.type)
    key = str(p.data.get(key_field, "")) if key_field else ""
    ident = candidate_id(document.content_hash, p.type, subject, key, span)
    try:
        EVENT_ADAPTER.validate_python(
            {
                "id": ident,
                "source": "urn:vendorwatch:feeds",
                "type": p.type,
                "time": resolved.time,
                "subject": subject,
                "data": p.data,
            }
        )
    except ValidationError:
        return None
    return Candidate(
        id=ident,
        type=p.type,
        subject=subject,
        time=resolved.time,
        time_precision=resolved.precision,
        data=p.data,
        registered=registered,
        historical=historical,
        kind=document.kind,
        provenance=Evidence(
            source=document.source,
            publisher=document.publisher,
            published=document.published,
            document=document.content_hash,
            quote=document.text[p.start : p.end],
            span=span,
            extractor=EXTRACTOR_ID,
            confidence=round(min(1.0, max(0.0, confidence)), 3),
            reasons=reasons,
        ),
    )


def extract(document: Document, gazetteer: Gazetteer) -> list[Candidate]:
    """The candidates of one document, one per fact it reports (repeats within it merged)."""
    candidates = [c for p in propose(document, gazetteer) if (c := to_candidate(document, p))]
    return cluster(candidates)
