#!/usr/bin/env python3
"""Generates tests/data/phone_corpus.tsv: what Google's libphonenumber (its Python port,
`phonenumbers`) makes of phone numbers written the ways people write them.

    pip install phonenumbers==9.0.42
    python3 tests/data/gen_phone_corpus.py > tests/data/phone_corpus.tsv

The version is pinned to the metadata of the Rust crate contactd ships (rlibphonenumber
2.2.15 uses libphonenumber metadata 9.0.42); the script refuses any other. The output is
deterministic (seeded), so a re-run changes the file only if the inputs here change.

Rows: `region <TAB> input <TAB> outcome`, where region is the default region ("" for none)
and outcome is either `ERR <reason>` (libphonenumber does not parse it) or
`<E.164> <TAB> <valid 0/1> <TAB> <possible 0/1> <TAB> <extension>`.
The Rust test `tests/api/phone_corpus.rs` requires contactd's parser to agree on every row.
"""

import random
import sys

import phonenumbers as pn
from phonenumbers import PhoneNumberFormat as F
from phonenumbers import PhoneNumberType as T

METADATA = "9.0.42"
SEED = 20261206

# Default regions other than a number's own that each spelling is also parsed under:
# big import markets, and ones whose national prefix or IDD differ (8 in RU, 0 in DE…).
OTHER_REGIONS = ["US", "GB", "DE", "FR", "RU", "IN", "BR", "CN", "JP", "AU", "MX", "NG", "IT", "KZ"]

TYPES = [
    T.FIXED_LINE, T.MOBILE, T.TOLL_FREE, T.PREMIUM_RATE, T.SHARED_COST, T.VOIP,
    T.PERSONAL_NUMBER, T.PAGER, T.UAN, T.VOICEMAIL,
]

EXTENSIONS = [" ext. 22", " x22", ";ext=22", " ext 4567", " extension 301", " #9", " x 12"]


def outcome(raw, region):
    try:
        n = pn.parse(raw, region or None)
    except pn.NumberParseException as e:
        return "ERR %d" % e.error_type
    return "%s\t%d\t%d\t%s" % (
        pn.format_number(n, F.E164),
        pn.is_valid_number(n),
        pn.is_possible_number(n),
        n.extension or "",
    )


def spellings(n, region):
    """(spelling, international?) pairs: how people paste this number into forms and sheets."""
    e164 = pn.format_number(n, F.E164)
    intl = pn.format_number(n, F.INTERNATIONAL)
    national = pn.format_number(n, F.NATIONAL)
    cc = str(n.country_code)
    nsn = pn.national_significant_number(n)
    out = [
        (e164, True),
        (intl, True),
        (pn.format_number(n, F.RFC3966), True),
        (pn.format_out_of_country_calling_number(n, "US"), True),
        (pn.format_out_of_country_calling_number(n, "GB"), True),
        ("00" + cc + nsn, True),
        (cc + " " + nsn, True),  # the + dropped by a spreadsheet
        ("'" + e164, True),  # a text-forcing apostrophe
        (" " + intl.replace(" ", "\u00a0") + " ", True),  # non-breaking spaces
        (intl.translate({ord(c): ord(c) + 0xFEE0 for c in "+0123456789"}), True),  # full width
        (intl.replace(" ", "-"), True),
        (intl.replace(" ", "."), True),
        (national, False),
        (pn.normalize_digits_only(national), False),
        (national.replace(" ", "."), False),
        (national.replace(" ", "-"), False),
        (national.replace(" ", "/", 1), False),
    ]
    prefix = pn.ndd_prefix_for_region(region, True) if region != "001" else None
    if prefix and national.startswith(prefix):
        rest = national[len(prefix):].lstrip()
        out.append(("+%s (%s)%s" % (cc, prefix, rest), True))  # +44 (0)20 …
        out.append(("(%s%s" % (prefix, rest.replace(" ", ") ", 1)), False))  # (030) 1234567
    return out


def main():
    if pn.__version__ != METADATA:
        sys.exit("phonenumbers %s installed; this corpus pins %s" % (pn.__version__, METADATA))
    rng = random.Random(SEED)
    rows = []

    def add(raw, region):
        rows.append((region, raw, outcome(raw, region)))

    examples = []
    for region in sorted(pn.SUPPORTED_REGIONS):
        for t in TYPES:
            n = pn.example_number_for_type(region, t)
            if n is not None:
                examples.append((region, n))
    for cc in sorted(pn.COUNTRY_CODES_FOR_NON_GEO_REGIONS):
        n = pn.example_number_for_non_geo_entity(cc)
        if n is not None:
            examples.append(("001", n))

    for i, (region, n) in enumerate(examples):
        own = "" if region == "001" else region
        others = rng.sample([r for r in OTHER_REGIONS if r != own], 3)
        for raw, international in spellings(n, region):
            add(raw, own)
            if international:
                add(raw, others[0])
                add(raw, others[1])
            else:
                add(raw, others[2])
        intl = pn.format_number(n, F.INTERNATIONAL)
        add(intl + EXTENSIONS[i % len(EXTENSIONS)], own or "US")
        add(pn.format_number(n, F.NATIONAL) + EXTENSIONS[(i + 3) % len(EXTENSIONS)], own or "US")
        add(intl, "")

    # Random digit strings per calling code: example numbers with their last digits
    # replaced (often valid), and arbitrary digits of plausible lengths (mostly invalid).
    by_code = {}
    for region, n in examples:
        by_code.setdefault(n.country_code, []).append((region, pn.national_significant_number(n)))
    for cc in sorted(by_code):
        for _ in range(12):
            region, nsn = rng.choice(by_code[cc])
            k = rng.randint(1, min(5, len(nsn)))
            varied = nsn[:-k] + "".join(rng.choice("0123456789") for _ in range(k))
            add("+%d %s" % (cc, varied), "")
            add("+%d%s" % (cc, varied), rng.choice(OTHER_REGIONS))
            if region != "001":
                add(varied, region)
            length = rng.randint(max(2, len(nsn) - 2), len(nsn) + 2)
            digits = "".join(rng.choice("0123456789") for _ in range(length))
            add("+%d%s" % (cc, digits), "US")
            if region != "001":
                add(digits, region)

    # The defects reported in issue #20, and inputs refused by contactd's policy.
    for raw, region in [
        ("+49 1512 3456789", "US"), ("+86 131 2345 6789", "US"), ("+880 1812-345678", "US"),
        ("+44 121 234 5678", "US"), ("+33 1 23 45 67 89", "US"), ("+55 11 2345-6789", "US"),
        ("+4989123456", "RU"), ("262161234", "RE"), ("250 123 456", "RW"),
        ("7710009998", "KZ"), ("8 (800) 123-45-67", "RU"), ("8 801 123 4567", "BY"),
        ("80012345", "LT"), ("+376536336395", "US"), ("+4915123456789", "US"),
        ("+1 212 736 5000 ext. 22", "US"), ("+1 212 736 5000 x22", "US"),
        ("+1 212 736 5000;ext=22", "US"),
        ("1-800-FLOWERS", "US"), ("+44 20 7946 0018 Bob", "GB"), ("1.41555E+10", "US"),
        ("2.12736500e9", "US"), ("+1" + " " * 30 + "212" + " " * 30 + "736 5000", "US"),
    ]:
        add(raw, region)

    seen = set()
    out = sys.stdout
    out.write("# What Google's libphonenumber makes of phone numbers as people write them.\n")
    out.write("# Generated by tests/data/gen_phone_corpus.py with phonenumbers %s (metadata %s, "
              "the metadata of rlibphonenumber 2.2.15), seed %d.\n" % (pn.__version__, METADATA, SEED))
    out.write("# region\tinput\tE.164\tvalid\tpossible\textension   (or: region\tinput\tERR code)\n")
    for region, raw, result in rows:
        if (region, raw) in seen:
            continue
        seen.add((region, raw))
        out.write("%s\t%s\t%s\n" % (region, raw, result))


if __name__ == "__main__":
    main()
