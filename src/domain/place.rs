//! Where a number is, for calling rules that differ by place: its country (ISO 3166,
//! `DE`) and, for US and Canadian numbers, its state or province (ISO 3166-2, `US-CA`)
//! by area code ([`NANP_SUBDIVISIONS`], the one table of it).
//!
//! An area code tells where a number was assigned, not where its owner is now (a
//! number keeps its area code when its owner moves): the account's rules by state are
//! applied by that, as the US state rules on calling hours are commonly applied.

use super::region::Region;
use super::timezone;

/// A number's place: its country, and its state/province when the area code names one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    /// ISO 3166 country code (`US`, `DE`); `None` when the number cannot be placed.
    pub country: Option<String>,
    /// ISO 3166-2 subdivision (`US-CA`), for US/Canadian area codes of one state/province.
    pub subdivision: Option<&'static str>,
}

/// The place of an E.164 number.
pub fn of_number(e164: &str) -> Place {
    let Some(digits) = e164.strip_prefix('+') else {
        return Place::default();
    };
    if let Some(national) = digits.strip_prefix('1') {
        let area = national.get(..3).and_then(|a| a.parse::<u16>().ok());
        if let Some(sub) = area.and_then(subdivision_of_area_code) {
            return Place {
                country: sub.split('-').next().map(str::to_string),
                subdivision: Some(sub),
            };
        }
    }
    Place {
        country: timezone::country_of_number(e164),
        subdivision: None,
    }
}

/// The state/province of a US or Canadian area code, when it lies in one.
pub fn subdivision_of_area_code(area: u16) -> Option<&'static str> {
    NANP_SUBDIVISIONS
        .iter()
        .find(|(_, codes)| codes.contains(&area))
        .map(|(sub, _)| *sub)
}

/// A region a calling rule may name: an ISO country (`DE`, any the phone library knows)
/// or a US state / Canadian province of [`NANP_SUBDIVISIONS`] (`US-CA`, `CA-ON`). Returns
/// the canonical (upper-case) code.
pub fn parse_region(code: &str) -> Result<String, String> {
    let upper = code.trim().to_ascii_uppercase();
    if upper.contains('-') {
        return NANP_SUBDIVISIONS
            .iter()
            .find(|(sub, _)| *sub == upper)
            .map(|(sub, _)| sub.to_string())
            .ok_or_else(|| {
                format!(
                    "{code:?} is not a region the service can tell from a number: a country \
                     (\"DE\") or a US state or Canadian province (\"US-CA\", \"CA-ON\")"
                )
            });
    }
    Region::parse(&upper).map(|r| r.code().to_string())
}

/// US states (and DC) and Canadian provinces by their area codes. Codes shared by
/// several of them (Canada's 902/782 for Nova Scotia and Prince Edward Island, 867 for
/// the three territories) are absent: such numbers are placed by country only. The US
/// territories (PR, GU, VI, …) are countries of their own in ISO 3166 and the numbering
/// plan, so they are named by country.
pub const NANP_SUBDIVISIONS: &[(&str, &[u16])] = &[
    ("US-AL", &[205, 251, 256, 334, 659, 938]),
    ("US-AK", &[907]),
    ("US-AZ", &[480, 520, 602, 623, 928]),
    ("US-AR", &[327, 479, 501, 870]),
    (
        "US-CA",
        &[
            209, 213, 279, 310, 323, 341, 350, 408, 415, 424, 442, 510, 530, 559, 562, 619, 626,
            628, 650, 657, 661, 669, 707, 714, 747, 760, 805, 818, 820, 831, 840, 858, 909, 916,
            925, 949, 951,
        ],
    ),
    ("US-CO", &[303, 719, 720, 970, 983]),
    ("US-CT", &[203, 475, 860, 959]),
    ("US-DE", &[302]),
    ("US-DC", &[202, 771]),
    (
        "US-FL",
        &[
            239, 305, 321, 352, 386, 407, 448, 561, 656, 689, 727, 754, 772, 786, 813, 850, 863,
            904, 941, 954,
        ],
    ),
    ("US-GA", &[229, 404, 470, 478, 678, 706, 762, 770, 912, 943]),
    ("US-HI", &[808]),
    ("US-ID", &[208, 986]),
    (
        "US-IL",
        &[
            217, 224, 309, 312, 331, 447, 464, 618, 630, 708, 730, 773, 779, 815, 847, 872,
        ],
    ),
    ("US-IN", &[219, 260, 317, 463, 574, 765, 812, 930]),
    ("US-IA", &[319, 515, 563, 641, 712]),
    ("US-KS", &[316, 620, 785, 913]),
    ("US-KY", &[270, 364, 502, 606, 859]),
    ("US-LA", &[225, 318, 337, 504, 985]),
    ("US-ME", &[207]),
    ("US-MD", &[227, 240, 301, 410, 443, 667]),
    ("US-MA", &[339, 351, 413, 508, 617, 774, 781, 857, 978]),
    (
        "US-MI",
        &[
            231, 248, 269, 313, 517, 586, 616, 679, 734, 810, 906, 947, 989,
        ],
    ),
    ("US-MN", &[218, 320, 507, 612, 651, 763, 952]),
    ("US-MS", &[228, 601, 662, 769]),
    ("US-MO", &[314, 417, 557, 573, 636, 660, 816, 975]),
    ("US-MT", &[406]),
    ("US-NE", &[308, 402, 531]),
    ("US-NV", &[702, 725, 775]),
    ("US-NH", &[603]),
    ("US-NJ", &[201, 551, 609, 640, 732, 848, 856, 862, 908, 973]),
    ("US-NM", &[505, 575]),
    (
        "US-NY",
        &[
            212, 315, 332, 347, 363, 516, 518, 585, 607, 631, 646, 680, 716, 718, 838, 845, 914,
            917, 929, 934,
        ],
    ),
    ("US-NC", &[252, 336, 472, 704, 743, 828, 910, 919, 980, 984]),
    ("US-ND", &[701]),
    (
        "US-OH",
        &[
            216, 220, 234, 283, 326, 330, 380, 419, 436, 440, 513, 567, 614, 740, 937,
        ],
    ),
    ("US-OK", &[405, 539, 572, 580, 918]),
    ("US-OR", &[458, 503, 541, 971]),
    (
        "US-PA",
        &[
            215, 223, 267, 272, 412, 445, 484, 570, 582, 610, 717, 724, 814, 835, 878,
        ],
    ),
    ("US-RI", &[401]),
    ("US-SC", &[803, 839, 843, 854, 864]),
    ("US-SD", &[605]),
    ("US-TN", &[423, 615, 629, 731, 865, 901, 931]),
    (
        "US-TX",
        &[
            210, 214, 254, 281, 325, 346, 361, 409, 430, 432, 469, 512, 682, 713, 726, 737, 806,
            817, 830, 832, 903, 915, 936, 940, 945, 956, 972, 979,
        ],
    ),
    ("US-UT", &[385, 435, 801]),
    ("US-VT", &[802]),
    ("US-VA", &[276, 434, 540, 571, 703, 757, 804, 826, 948]),
    ("US-WA", &[206, 253, 360, 425, 509, 564]),
    ("US-WV", &[304, 681]),
    ("US-WI", &[262, 274, 414, 534, 608, 715, 920]),
    ("US-WY", &[307]),
    ("CA-AB", &[368, 403, 587, 780, 825]),
    ("CA-BC", &[236, 250, 604, 672, 778]),
    ("CA-MB", &[204, 431, 584]),
    ("CA-NB", &[428, 506]),
    ("CA-NL", &[709, 879]),
    (
        "CA-ON",
        &[
            226, 249, 289, 343, 365, 382, 416, 437, 519, 548, 613, 647, 683, 705, 742, 753, 807,
            905,
        ],
    ),
    (
        "CA-QC",
        &[263, 354, 367, 418, 438, 450, 468, 514, 579, 581, 819, 873],
    ),
    ("CA-SK", &[306, 474, 639]),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_area_codes_name_their_state_or_province() {
        for (area, sub) in [
            (212, "US-NY"),
            (718, "US-NY"),
            (415, "US-CA"),
            (213, "US-CA"),
            (305, "US-FL"),
            (512, "US-TX"),
            (312, "US-IL"),
            (907, "US-AK"),
            (808, "US-HI"),
            (202, "US-DC"),
            (416, "CA-ON"),
            (514, "CA-QC"),
            (604, "CA-BC"),
        ] {
            assert_eq!(subdivision_of_area_code(area), Some(sub), "{area}");
        }
        // Shared by several provinces/territories, or not a US/Canadian code.
        for area in [902, 867, 787, 876] {
            assert_eq!(subdivision_of_area_code(area), None, "{area}");
        }
    }

    #[test]
    fn no_area_code_is_listed_twice_and_every_code_is_one_the_zone_table_agrees_with() {
        let mut seen = std::collections::HashSet::new();
        for (sub, codes) in NANP_SUBDIVISIONS {
            assert!(sub.starts_with("US-") || sub.starts_with("CA-"), "{sub}");
            for code in *codes {
                assert!(seen.insert(*code), "area code {code} listed twice");
                // The zone table's Canadian zones hold Canadian codes only, and so on.
                let canadian = sub.starts_with("CA-");
                for (zone, zone_codes) in timezone::NANP_AREA_CODES {
                    if zone_codes.contains(code) {
                        let zone_canadian = timezone::CANADIAN_ZONES.contains(zone);
                        assert_eq!(canadian, zone_canadian, "{code} in {sub} and {zone}");
                    }
                }
            }
        }
    }

    #[test]
    fn numbers_are_placed_by_area_code_then_country() {
        let ny = of_number("+12125550100");
        assert_eq!(ny.country.as_deref(), Some("US"));
        assert_eq!(ny.subdivision, Some("US-NY"));
        assert_eq!(of_number("+14155552671").subdivision, Some("US-CA"));
        assert_eq!(of_number("+14165550100").subdivision, Some("CA-ON"));
        let ns = of_number("+19025550100");
        assert_eq!((ns.country.as_deref(), ns.subdivision), (Some("CA"), None));
        let jm = of_number("+18765550100");
        assert_eq!((jm.country.as_deref(), jm.subdivision), (Some("JM"), None));
        assert_eq!(of_number("+4930901820").country.as_deref(), Some("DE"));
        assert_eq!(of_number("+442079460018").country.as_deref(), Some("GB"));
        assert_eq!(of_number("garbage"), Place::default());
    }

    #[test]
    fn rule_regions_are_countries_or_known_states() {
        assert_eq!(parse_region("de").unwrap(), "DE");
        assert_eq!(parse_region("us-ca").unwrap(), "US-CA");
        assert_eq!(parse_region("CA-ON").unwrap(), "CA-ON");
        for bad in ["", "XX", "US-ZZ", "DE-BY", "USA", "US-"] {
            assert!(parse_region(bad).is_err(), "{bad:?}");
        }
    }
}
