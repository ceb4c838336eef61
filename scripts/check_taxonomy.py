#!/usr/bin/env python3
# Checks the triage taxonomy in config/taxonomy/ (regions.toml, outlets.toml, topics.toml,
# languages.toml): every file parses as TOML and uses only the known keys; ids are unique; every parent / region / neighbour id exists; the region tree
# has no cycles and every place sits under one of the 14 region-level entries; all 18 topic ids
# exist; every term (alias, keyword) follows the term syntax of docs/TRIAGE.md (lowercase words
# of [a-z0-9£&] separated by single spaces, a trailing * after at least 3 characters); no name
# or alias is claimed by two entries of the same file; no email domain by two outlets.
#
# Usage: scripts/check_taxonomy.py [taxonomy_dir] [--partial]
#   taxonomy_dir defaults to config/taxonomy next to this script; --partial checks only the
#   files present (otherwise all four are required). Exits 1 on any problem, printing each one.
# Run after every edit of the taxonomy; the test suite runs it too.
import os
import re
import sys
import tomllib
import unicodedata

REGION_LEVEL_IDS = {
    "north_east", "north_west", "yorkshire_humber", "east_midlands", "west_midlands",
    "east_of_england", "london", "south_east", "south_west", "wales", "scotland",
    "northern_ireland", "france", "greece",
}
CONTAINER_IDS = {"uk", "england"}
TOPIC_IDS = {
    "asylum_process", "channel_crossings", "detention", "deportation", "eu_settlement", "windrush",
    "nrpf", "health", "housing", "trafficking", "employment", "family_reunion", "children",
    "destitution", "community", "hate_crime", "resettlement", "covid",
}
LEVELS = {"country", "region", "county", "city", "town", "area"}
SCOPES = {"national", "local", "international"}
MEDIA = {"tv", "radio", "print", "online", "podcast"}

WORD = r"[a-z0-9£&]+"
TERM_RE = re.compile(rf"^{WORD}\*?( {WORD}\*?)*$")
ID_RE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
LANG_ID_RE = re.compile(r"^[a-z]{2,3}$")
DOMAIN_RE = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$")

problems = []
warnings = []


def problem(where, msg):
    problems.append(f"{where}: {msg}")


def fold(text):
    """Text as triage sees it: lowercase, no accents, no apostrophes, punctuation as spaces."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.lower().replace("'", "").replace("\u2019", "")
    text = re.sub(r"[^a-z0-9£]+", " ", text)
    return " ".join(text.split())


def check_term(where, term):
    if not isinstance(term, str):
        problem(where, f"term {term!r} is not a string")
        return False
    if not TERM_RE.match(term):
        problem(where, f"term {term!r} breaks the term syntax (lowercase [a-z0-9£&] words, "
                       "single spaces, no apostrophes, hyphens or accents)")
        return False
    for word in term.split(" "):
        if word.endswith("*") and len(word) - 1 < 3:
            problem(where, f"term {term!r}: a prefix needs at least 3 characters before the *")
            return False
    return True


def check_keys(where, entry, allowed, required):
    for key in entry:
        if key not in allowed:
            problem(where, f"unknown key {key!r}")
    for key in required:
        if key not in entry:
            problem(where, f"missing key {key!r}")


def check_type(where, entry, key, kind):
    if key in entry and not isinstance(entry[key], kind):
        problem(where, f"{key} must be a {kind.__name__}")
        return False
    return True


def check_string_list(where, entry, key):
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problem(where, f"{key} must be a list of strings")
        return []
    if len(set(value)) != len(value):
        problem(where, f"{key} repeats an item")
    return value


class Claims:
    """Which entry claims each folded name / alias, to find collisions within one file."""

    def __init__(self, what):
        self.what = what
        self.owner = {}

    def claim(self, where, term, owner):
        previous = self.owner.get(term)
        if previous is None:
            self.owner[term] = owner
        elif previous != owner:
            problem(where, f"{self.what} {term!r} is also claimed by {previous}")


def load(path, table):
    where = os.path.basename(path)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        problem(where, f"cannot read: {e}")
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        problem(where, f"not valid TOML: {e}")
        return None
    for key in data:
        if key != table:
            problem(where, f"unknown top-level key {key!r} (only [[{table}]] tables)")
    entries = data.get(table, [])
    if not isinstance(entries, list) or not entries:
        problem(where, f"no [[{table}]] entries")
        return []
    return entries


def check_regions(path):
    entries = load(path, "region")
    if entries is None:
        return None
    file = os.path.basename(path)
    by_id = {}
    claims = Claims("name/alias")
    for i, e in enumerate(entries):
        where = f"{file} [[region]] #{i + 1} ({e.get('id', '?')})"
        check_keys(where, e, {"id", "name", "level", "parent", "aliases", "case_sensitive",
                              "neighbours"}, {"id", "name", "level"})
        rid = e.get("id")
        if not isinstance(rid, str) or not ID_RE.match(rid):
            problem(where, f"id {rid!r} is not lowercase snake_case")
            continue
        if rid in by_id:
            problem(where, f"duplicate id {rid!r}")
            continue
        by_id[rid] = e
        name = e.get("name")
        if not isinstance(name, str) or not fold(name):
            problem(where, "name must be a non-empty string")
        else:
            claims.claim(where, fold(name), rid)
            if e.get("case_sensitive") and not all(w[:1].isupper() or not w[:1].isalpha() or len(w) == 1 for w in name.split()):
                warnings.append(f"{where}: case_sensitive but the name {name!r} has a lowercase word")
        if e.get("level") not in LEVELS:
            problem(where, f"level {e.get('level')!r} is not one of {sorted(LEVELS)}")
        check_type(where, e, "case_sensitive", bool)
        for alias in check_string_list(where, e, "aliases"):
            if check_term(where, alias):
                claims.claim(where, alias, rid)
        if "neighbours" in e:
            check_string_list(where, e, "neighbours")
            if e.get("level") != "region":
                problem(where, "neighbours are allowed only on level = \"region\" entries")
        if "parent" in e and not isinstance(e["parent"], str):
            problem(where, "parent must be a string")

    region_level = {rid for rid, e in by_id.items() if e.get("level") == "region"}
    if region_level != REGION_LEVEL_IDS:
        missing = sorted(REGION_LEVEL_IDS - region_level)
        extra = sorted(region_level - REGION_LEVEL_IDS)
        problem(file, f"the level = \"region\" entries must be exactly the 14 region-level ids "
                      f"(missing {missing}, unexpected {extra})")
    for cid in CONTAINER_IDS:
        if cid not in by_id:
            problem(file, f"missing container {cid!r}")
        elif by_id[cid].get("level") != "country":
            problem(file, f"{cid!r} must have level = \"country\"")

    for rid, e in by_id.items():
        where = f"{file} region {rid!r}"
        parent = e.get("parent")
        if parent is None:
            if e.get("level") not in ("country", "region"):
                problem(where, "only country- or region-level entries may omit parent")
        elif parent not in by_id:
            problem(where, f"parent {parent!r} does not exist")
        for n in e.get("neighbours", []) if isinstance(e.get("neighbours"), list) else []:
            if n not in by_id:
                problem(where, f"neighbour {n!r} does not exist")
            elif by_id[n].get("level") != "region":
                problem(where, f"neighbour {n!r} is not a region-level entry")
            elif n == rid:
                problem(where, "lists itself as a neighbour")
            elif rid not in by_id[n].get("neighbours", []):
                problem(where, f"neighbour {n!r} does not list {rid!r} back")

    for rid, e in by_id.items():
        where = f"{file} region {rid!r}"
        seen = [rid]
        cur = e
        region_ancestor = rid if e.get("level") == "region" else None
        while isinstance(cur.get("parent"), str) and cur["parent"] in by_id:
            nxt = cur["parent"]
            if nxt in seen:
                problem(where, f"parent cycle: {' -> '.join(seen + [nxt])}")
                break
            seen.append(nxt)
            cur = by_id[nxt]
            if region_ancestor is None and cur.get("level") == "region":
                region_ancestor = nxt
        if rid in CONTAINER_IDS:
            continue
        if e.get("level") == "country":
            problem(where, "level = \"country\" is reserved for the containers uk and england")
        if region_ancestor is None:
            problem(where, "has no region-level ancestor (one of the 14)")
    return by_id


def check_outlets(path, region_ids):
    entries = load(path, "outlet")
    if entries is None:
        return
    file = os.path.basename(path)
    claims = Claims("name/alias")
    domains = {}
    names = set()
    for i, e in enumerate(entries):
        where = f"{file} [[outlet]] #{i + 1} ({e.get('name', '?')})"
        check_keys(where, e, {"name", "aliases", "domains", "scope", "medium", "region",
                              "case_sensitive", "part_of"}, {"name", "scope", "medium"})
        name = e.get("name")
        if not isinstance(name, str) or not fold(name):
            problem(where, "name must be a non-empty string")
            continue
        if name in names:
            problem(where, f"duplicate name {name!r}")
        names.add(name)
        claims.claim(where, fold(name), name)
        if e.get("case_sensitive") and not all(w[:1].isupper() or not w[:1].isalpha() or len(w) == 1 for w in name.split()):
            warnings.append(f"{where}: case_sensitive but the name {name!r} has a lowercase word")
        check_type(where, e, "case_sensitive", bool)
        for alias in check_string_list(where, e, "aliases"):
            if check_term(where, alias):
                claims.claim(where, alias, name)
        for d in check_string_list(where, e, "domains"):
            if not DOMAIN_RE.match(d):
                problem(where, f"domain {d!r} is not a lowercase host name")
            elif d in domains and domains[d] != name:
                problem(where, f"domain {d!r} also belongs to {domains[d]!r}")
            domains[d] = name
        if e.get("scope") not in SCOPES:
            problem(where, f"scope {e.get('scope')!r} is not one of {sorted(SCOPES)}")
        if e.get("medium") not in MEDIA:
            problem(where, f"medium {e.get('medium')!r} is not one of {sorted(MEDIA)}")
        if "region" in e:
            if region_ids is not None and e["region"] not in region_ids:
                problem(where, f"region {e['region']!r} does not exist in regions.toml")
            if region_ids is not None and e["region"] in CONTAINER_IDS:
                problem(where, f"region {e['region']!r} is a container, not a place")
    for i, e in enumerate(entries):
        if "part_of" in e and e["part_of"] not in names:
            problem(f"{file} [[outlet]] #{i + 1} ({e.get('name', '?')})", f"part_of {e['part_of']!r} names no outlet")


def check_topics(path):
    entries = load(path, "topic")
    if entries is None:
        return
    file = os.path.basename(path)
    ids = set()
    claims = Claims("term")
    for i, e in enumerate(entries):
        where = f"{file} [[topic]] #{i + 1} ({e.get('id', '?')})"
        check_keys(where, e, {"id", "label", "weight", "strong", "keywords"},
                   {"id", "label", "weight", "strong"})
        tid = e.get("id")
        if tid in ids:
            problem(where, f"duplicate id {tid!r}")
        ids.add(tid)
        if tid not in TOPIC_IDS:
            problem(where, f"id {tid!r} is not one of the 18 topic ids")
        if not isinstance(e.get("label"), str) or not e.get("label"):
            problem(where, "label must be a non-empty string")
        w = e.get("weight")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or not 0 <= w <= 1:
            problem(where, f"weight {w!r} must be a number from 0 to 1")
        strong = check_string_list(where, e, "strong")
        if not strong:
            problem(where, "needs at least one strong term")
        for term in strong + check_string_list(where, e, "keywords"):
            if check_term(where, term):
                claims.claim(where, term, tid)
    for tid in sorted(TOPIC_IDS - ids):
        problem(file, f"missing topic {tid!r}")


def check_languages(path):
    entries = load(path, "language")
    if entries is None:
        return
    file = os.path.basename(path)
    ids = set()
    claims = Claims("label/alias")
    for i, e in enumerate(entries):
        where = f"{file} [[language]] #{i + 1} ({e.get('id', '?')})"
        check_keys(where, e, {"id", "label", "aliases"}, {"id", "label"})
        lid = e.get("id")
        if not isinstance(lid, str) or not LANG_ID_RE.match(lid):
            problem(where, f"id {lid!r} is not an ISO 639-1/639-3 code")
        if lid in ids:
            problem(where, f"duplicate id {lid!r}")
        ids.add(lid)
        label = e.get("label")
        if not isinstance(label, str) or not fold(label):
            problem(where, "label must be a non-empty string")
        else:
            claims.claim(where, fold(label), lid)
        for alias in check_string_list(where, e, "aliases"):
            if check_term(where, alias):
                claims.claim(where, alias, lid)
    if "en" not in ids:
        problem(file, "missing English (en)")


def main(argv):
    partial = "--partial" in argv
    args = [a for a in argv if a != "--partial"]
    here = os.path.dirname(os.path.abspath(__file__))
    directory = args[0] if args else os.path.join(here, "..", "config", "taxonomy")
    files = {name: os.path.join(directory, name + ".toml")
             for name in ("regions", "outlets", "topics", "languages")}
    present = {n: p for n, p in files.items() if os.path.exists(p)}
    if not partial:
        for n, p in files.items():
            if n not in present:
                problem(p, "missing")
    region_ids = None
    if "regions" in present:
        by_id = check_regions(present["regions"])
        region_ids = set(by_id) if by_id is not None else None
    if "outlets" in present:
        check_outlets(present["outlets"], region_ids)
    if "topics" in present:
        check_topics(present["topics"])
    if "languages" in present:
        check_languages(present["languages"])
    for w in warnings:
        print("warning:", w)
    for p in problems:
        print("problem:", p)
    if problems:
        print(f"check_taxonomy: {len(problems)} problem(s)")
        return 1
    print(f"check_taxonomy: OK ({', '.join(sorted(present))})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
