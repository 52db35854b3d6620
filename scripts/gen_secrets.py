#!/usr/bin/env python3
"""gen_secrets.py: converts gitleaks' default rule set (gitleaks.toml) into data/secrets.json.

keel's `secrets` guard scanner (src/guard/secrets.c) embeds data/secrets.json and turns each rule
into one guard rule.  Doing the conversion here, once, keeps the C side small: it gets rules that
PCRE2 accepts, without the lazy identifier prefix Hyperscan and PCRE2 need not see, with a window
size (max_len) computed from the expression.

Per rule we keep: id, the expression (Go RE2 -> PCRE2), caseless, secret_group, entropy,
keywords, score (1.0 for rules anchored on a distinctive literal, 0.8 for "keyword = value"
rules), max_len and the rule's allow-lists; plus the global allow-list.  What cannot apply to a
text (no file path, no commit) is dropped: path-only rules, "keyword = value" rules gated by a
file path (the gate is what keeps them precise), path-only allow-lists, and AND allow-lists that
need a path.  Other rules with a path condition keep their expression: specific enough alone.

Go RE2 and PCRE2 agree on almost everything gitleaks uses ((?i) anywhere, (?-i:...), (?s:.),
[[:alnum:]], \\z, (?P<n>...), lazy quantifiers); the script checks every expression compiles with
PCRE2 (through ctypes, the same libpcre2-8 keel links) and reports which ones Hyperscan needs to
run in PREFILTER mode.  Usage:

    python3 scripts/gen_secrets.py /work/shared/data/secrets/gitleaks.toml data/secrets.json
"""
import ctypes
import ctypes.util
import json
import re
import re._parser as sre_parse  # Python 3.11: width of a parsed expression
import sys
import tomllib

# gitleaks' "semi-generic" rules: [\w.-]{0,50}?(?:keyword)...(?:=|>|...) value
# The lazy identifier prefix of those rules only moves where a match starts (to the start of the
# identifier holding the keyword, at most 50 bytes back).  It is cut from the expression, so that
# Hyperscan and PCRE2 start on the keyword literal (PCRE2 otherwise tries up to 50 prefix lengths
# at every byte of a window); the scanner walks back over [\w.-] itself ("prefix": 50 or 100).
GENERIC_PREFIX = r"[\w.-]{0,50}?"
ASSIGN_OP = r"(?:=|>|:{1,3}=|\|\||:|=>|\?=|,)"
# Expressions changed on purpose: (rule, before, after, why).
REWRITES = {
    "sourcegraph-access-token": (
        r"|sgp_[a-fA-F0-9]{40}|[a-fA-F0-9]{40})\b)", r"|sgp_[a-fA-F0-9]{40})\b)",
        "bare 40-hex alternative removed: every git commit SHA matches it, it costs Hyperscan ~5 us per "
        "4 KiB, and it only fired with 'sourcegraph' nearby (current tokens start with sgp_)"),
}
UNBOUNDED_SLACK = 1024   # window for expressions without an upper bound (the engine merges windows)
PRIVATE_KEY_WINDOW = 8192


def go2pcre(rx: str) -> str:
    """Go RE2 -> PCRE2.  The constructs gitleaks uses mean the same in both; refuse the few that
    would not (checked so a future gitleaks.toml cannot slip one through)."""
    if re.search(r"\{,\d", rx):
        raise ValueError("{,n} is a literal in RE2 and PCRE2 < 10.43 but not in newer PCRE2")
    if "(?U" in rx:
        raise ValueError("(?U) means ungreedy in RE2 only")
    return rx


def width(rx: str):
    """(min, max) match length in bytes, through Python's parser (max None: unbounded)."""
    py = rx.replace("(?i)", "").replace("(?-i:", "(?:").replace(r"\z", r"\Z")
    py = py.replace("[[:alnum:]]", "[a-zA-Z0-9]")
    lo, hi = sre_parse.parse(py).getwidth()
    return lo, (None if hi >= 65535 else hi)


class Pcre2:
    def __init__(self):
        path = ctypes.util.find_library("pcre2-8")
        self.lib = ctypes.CDLL(path) if path else None
        if self.lib:
            self.lib.pcre2_compile_8.restype = ctypes.c_void_p
            self.lib.pcre2_compile_8.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint32,
                                                 ctypes.POINTER(ctypes.c_int), ctypes.POINTER(ctypes.c_size_t),
                                                 ctypes.c_void_p]
            self.lib.pcre2_code_free_8.argtypes = [ctypes.c_void_p]

    def check(self, rx: str, caseless: bool):
        if not self.lib:
            return None
        ec, eo = ctypes.c_int(), ctypes.c_size_t()
        b = rx.encode()
        code = self.lib.pcre2_compile_8(b, len(b), 0x00000008 if caseless else 0, ctypes.byref(ec),
                                        ctypes.byref(eo), None)
        if not code:
            return f"pcre2 error {ec.value} at {eo.value}"
        self.lib.pcre2_code_free_8(code)
        return None


class Hyperscan:
    """Only to report which rules Hyperscan rejects (the engine then uses PREFILTER)."""
    def __init__(self):
        path = ctypes.util.find_library("hs")
        self.lib = ctypes.CDLL(path) if path else None

    def ok(self, rx: str, caseless: bool):
        if not self.lib:
            return None
        db, err = ctypes.c_void_p(), ctypes.c_void_p()
        rc = self.lib.hs_compile(rx.encode(), ctypes.c_uint(1 if caseless else 0), ctypes.c_uint(1), None,
                                 ctypes.byref(db), ctypes.byref(err))
        if rc == 0:
            self.lib.hs_free_database(db)
            return True
        self.lib.hs_free_compile_error(err)
        return False


def convert_allowlist(al, pcre):
    """One gitleaks allow-list -> {target, regexes, stopwords}, or None when it cannot apply."""
    has_path = bool(al.get("paths"))
    cond = al.get("condition", "OR").upper()
    if al.get("commits"):
        has_path = True  # no commits either: same treatment as paths
    if cond == "AND" and has_path:
        return None, "AND with a path/commit condition"
    regexes = [go2pcre(x) for x in al.get("regexes", [])]
    stopwords = [s.lower() for s in al.get("stopwords", [])]
    if not regexes and not stopwords:
        return None, "paths only"
    for x in regexes:
        e = pcre.check(x, False)
        if e:
            raise SystemExit(f"allow-list regex {x!r}: {e}")
    out = {"target": al.get("regexTarget", "secret"), "regexes": regexes, "stopwords": stopwords}
    if cond == "AND":
        out["and"] = True
    return out, None


def main(src, dst):
    with open(src, "rb") as f:
        cfg = tomllib.load(f)
    pcre, hs = Pcre2(), Hyperscan()
    rules, dropped, prefilter, notes = [], [], [], []
    for r in cfg["rules"]:
        rid = r["id"]
        if "regex" not in r:
            dropped.append((rid, "path-only rule"))
            continue
        rx = go2pcre(r["regex"])
        if "path" in r and ASSIGN_OP in rx:
            # A "keyword = value" rule that gitleaks only runs on some file types (.tf, ...): without
            # its file-type gate it would flag every `password = "changeme"` in a prompt.
            dropped.append((rid, f"generic rule gated by a file path ({r['path']})"))
            continue
        if rid in REWRITES:
            before, after, why = REWRITES[rid]
            if before not in rx:
                raise SystemExit(f"rule {rid}: the rewrite no longer applies; check it against gitleaks")
            rx = rx.replace(before, after)
            notes.append(f"{rid}: {why}")
        caseless = rx.startswith("(?i)")
        core = rx[4:] if caseless else rx
        prefix = 0
        while True:  # a few rules have two: [\w.-]{0,50}?(?i:[\w.-]{0,50}?(?:meraki)...)
            if core.startswith(GENERIC_PREFIX):
                prefix, core = prefix + 50, core[len(GENERIC_PREFIX):]
            elif core.startswith("(?i:" + GENERIC_PREFIX):
                prefix, core = prefix + 50, "(?i:" + core[4 + len(GENERIC_PREFIX):]
            else:
                break
        lo, hi = width(core)
        if rid == "private-key":
            max_len = PRIVATE_KEY_WINDOW
        elif hi is None:
            max_len = lo + UNBOUNDED_SLACK
        else:
            max_len = hi
        err = pcre.check(core, caseless)
        if err:
            raise SystemExit(f"rule {rid}: {err}: {core}")
        if hs.ok(core, caseless) is False:
            prefilter.append(rid)
        generic = rid.startswith("generic") or ASSIGN_OP in rx
        out = {"id": rid, "regex": core}
        if prefix:
            out["prefix"] = prefix
        if caseless:
            out["caseless"] = True
        out["max_len"] = max_len
        out["score"] = 0.8 if generic else 1.0
        if r.get("secretGroup"):
            out["secret_group"] = r["secretGroup"]
        if r.get("entropy"):
            out["entropy"] = r["entropy"]
        out["keywords"] = [k.lower() for k in r.get("keywords", [])]
        if "path" in r:
            notes.append(f"{rid}: path condition {r['path']!r} ignored (no file paths in a prompt)")
        als = []
        for al in r.get("allowlists", []):
            a, why = convert_allowlist(al, pcre)
            if a:
                als.append(a)
            else:
                notes.append(f"{rid}: allow-list dropped ({why})")
        if als:
            out["allowlists"] = als
        rules.append(out)
    g, why = convert_allowlist(cfg.get("allowlist", {}), pcre)
    doc = {
        "source": "gitleaks default config (gitleaks.toml, minVersion %s), MIT licence: see secrets.LICENSE"
                  % cfg.get("minVersion", "?"),
        "generator": "scripts/gen_secrets.py",
        "allowlist": {"regexes": g["regexes"], "stopwords": g["stopwords"]} if g else {"regexes": [], "stopwords": []},
        "rules": rules,
    }
    with open(dst, "w") as f:
        json.dump(doc, f, indent=0, ensure_ascii=True)
        f.write("\n")
    print(f"{len(rules)} rules converted, {len(dropped)} dropped", file=sys.stderr)
    for rid, why in dropped:
        print(f"  dropped {rid}: {why}", file=sys.stderr)
    for n in notes:
        print(f"  note {n}", file=sys.stderr)
    if prefilter:
        print(f"  {len(prefilter)} rules need Hyperscan PREFILTER: {', '.join(prefilter)}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: gen_secrets.py gitleaks.toml secrets.json")
    main(sys.argv[1], sys.argv[2])
