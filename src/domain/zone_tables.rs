//! The zone tables [`super::timezone`] resolves with: US and Canadian area codes that
//! lie wholly in one zone, and countries' zones. Data only (one table each); the rule
//! that reads them is in `timezone`.

/// US and Canadian area codes that lie wholly in one zone, by zone. Codes that straddle a
/// zone line (e.g. 208, 270, 306, 423, 541, 605, 701, 807, 850, 867, 907) are absent on
/// purpose: they fall back to "every zone of the country".
pub const NANP_AREA_CODES: &[(&str, &[u16])] = &[
    (
        "America/New_York",
        &[
            // CT DE DC
            203, 475, 860, 959, 302, 202, 771, //
            // FL (peninsula)
            239, 305, 321, 352, 386, 407, 561, 656, 689, 727, 754, 772, 786, 813, 863, 904, 941,
            954, //
            // GA ME MD MA NH
            229, 404, 470, 478, 678, 706, 762, 770, 912, 943, 207, 227, 240, 301, 410, 443, 667,
            339, 351, 413, 508, 617, 774, 781, 857, 978, 603, //
            // NJ
            201, 551, 609, 640, 732, 848, 856, 862, 908, 973, //
            // NY
            212, 315, 332, 347, 363, 516, 518, 585, 607, 631, 646, 680, 716, 718, 838, 845, 914,
            917, 929, 934, //
            // NC OH
            252, 336, 472, 704, 743, 828, 910, 919, 980, 984, 216, 220, 234, 283, 326, 330, 380,
            419, 436, 440, 513, 567, 614, 740, 937, //
            // PA RI SC VT
            215, 223, 267, 272, 412, 445, 484, 570, 582, 610, 717, 724, 814, 835, 878, 401, 803,
            839, 843, 854, 864, 802, //
            // VA WV MI(lower) IN(central/east) KY(east) TN(east)
            276, 434, 540, 571, 703, 757, 804, 826, 948, 304, 681, 231, 248, 269, 313, 517, 586,
            616, 679, 734, 810, 947, 989, 260, 317, 463, 765, 502, 606, 859, 865,
        ],
    ),
    (
        "America/Toronto",
        &[
            // ON (south) QC (south-west)
            226, 249, 289, 343, 365, 382, 416, 437, 519, 548, 613, 647, 683, 705, 742, 753, 905,
            263, 354, 438, 450, 468, 514, 579, 819, 873,
        ],
    ),
    (
        "America/Chicago",
        &[
            // AL AR IL
            205, 251, 256, 334, 659, 938, 327, 479, 501, 870, 217, 224, 309, 312, 331, 447, 464,
            618, 630, 708, 730, 773, 779, 815, 847, 872, //
            // IA KS(east) LA MN MS MO NE(east)
            319, 515, 563, 641, 712, 316, 913, 225, 318, 337, 504, 985, 218, 320, 507, 612, 651,
            763, 952, 228, 601, 662, 769, 314, 417, 557, 573, 636, 660, 816, 975, 402, 531, //
            // OK TX(east/central) WI TN(west)
            405, 539, 572, 580, 918, 210, 214, 254, 281, 325, 346, 361, 409, 430, 469, 512, 682,
            713, 726, 737, 806, 817, 830, 832, 903, 936, 940, 945, 956, 972, 979, 262, 274, 414,
            534, 608, 715, 920, 615, 629, 731, 901,
        ],
    ),
    ("America/Winnipeg", &[204, 431, 584]),
    (
        "America/Denver",
        &[
            303, 719, 720, 970, 983, 406, 505, 575, 385, 435, 801, 307, 915,
        ],
    ),
    ("America/Edmonton", &[403, 587, 780, 825, 368]),
    ("America/Phoenix", &[480, 520, 602, 623, 928]),
    (
        "America/Los_Angeles",
        &[
            209, 213, 279, 310, 323, 341, 350, 408, 415, 424, 442, 510, 530, 559, 562, 619, 626,
            628, 650, 657, 661, 669, 707, 714, 747, 760, 805, 818, 820, 831, 840, 858, 909, 916,
            925, 949, 951, 702, 725, 775, 503, 971, 206, 253, 360, 425, 509, 564,
        ],
    ),
    ("America/Vancouver", &[604]),
    ("America/Halifax", &[902, 782, 506, 428]),
    ("Pacific/Honolulu", &[808]),
];

/// Countries by ISO code and their zones (the common ones; a country missing here is
/// "unknown" and never dialed by window). Several zones = the window must hold in all.
pub const COUNTRY_ZONES: &[(&str, &[&str])] = &[
    (
        "US",
        &[
            "America/New_York",
            "America/Chicago",
            "America/Denver",
            "America/Phoenix",
            "America/Los_Angeles",
            "America/Anchorage",
            "America/Adak",
            "Pacific/Honolulu",
        ],
    ),
    (
        "CA",
        &[
            "America/St_Johns",
            "America/Halifax",
            "America/Goose_Bay",
            "America/Toronto",
            "America/Winnipeg",
            "America/Regina",
            "America/Edmonton",
            "America/Whitehorse",
            "America/Vancouver",
        ],
    ),
    (
        "MX",
        &[
            "America/Mexico_City",
            "America/Cancun",
            "America/Chihuahua",
            "America/Hermosillo",
            "America/Mazatlan",
            "America/Tijuana",
        ],
    ),
    (
        "BR",
        &[
            "America/Noronha",
            "America/Sao_Paulo",
            "America/Manaus",
            "America/Cuiaba",
            "America/Rio_Branco",
        ],
    ),
    (
        "AU",
        &[
            "Australia/Sydney",
            "Australia/Brisbane",
            "Australia/Adelaide",
            "Australia/Darwin",
            "Australia/Perth",
            "Australia/Lord_Howe",
        ],
    ),
    (
        "RU",
        &[
            "Europe/Kaliningrad",
            "Europe/Moscow",
            "Europe/Samara",
            "Asia/Yekaterinburg",
            "Asia/Omsk",
            "Asia/Novosibirsk",
            "Asia/Krasnoyarsk",
            "Asia/Irkutsk",
            "Asia/Yakutsk",
            "Asia/Vladivostok",
            "Asia/Magadan",
            "Asia/Kamchatka",
        ],
    ),
    ("ID", &["Asia/Jakarta", "Asia/Makassar", "Asia/Jayapura"]),
    ("NZ", &["Pacific/Auckland", "Pacific/Chatham"]),
    ("PT", &["Europe/Lisbon", "Atlantic/Azores"]),
    ("ES", &["Europe/Madrid", "Atlantic/Canary"]),
    ("CL", &["America/Santiago", "Pacific/Easter"]),
    ("EC", &["America/Guayaquil", "Pacific/Galapagos"]),
    ("KZ", &["Asia/Almaty", "Asia/Aqtobe"]),
    ("GB", &["Europe/London"]),
    ("IE", &["Europe/Dublin"]),
    ("FR", &["Europe/Paris"]),
    ("DE", &["Europe/Berlin"]),
    ("IT", &["Europe/Rome"]),
    ("NL", &["Europe/Amsterdam"]),
    ("BE", &["Europe/Brussels"]),
    ("LU", &["Europe/Luxembourg"]),
    ("CH", &["Europe/Zurich"]),
    ("AT", &["Europe/Vienna"]),
    ("DK", &["Europe/Copenhagen"]),
    ("NO", &["Europe/Oslo"]),
    ("SE", &["Europe/Stockholm"]),
    ("FI", &["Europe/Helsinki"]),
    ("IS", &["Atlantic/Reykjavik"]),
    ("PL", &["Europe/Warsaw"]),
    ("CZ", &["Europe/Prague"]),
    ("SK", &["Europe/Bratislava"]),
    ("HU", &["Europe/Budapest"]),
    ("RO", &["Europe/Bucharest"]),
    ("BG", &["Europe/Sofia"]),
    ("GR", &["Europe/Athens"]),
    ("HR", &["Europe/Zagreb"]),
    ("SI", &["Europe/Ljubljana"]),
    ("RS", &["Europe/Belgrade"]),
    ("UA", &["Europe/Kyiv"]),
    ("EE", &["Europe/Tallinn"]),
    ("LV", &["Europe/Riga"]),
    ("LT", &["Europe/Vilnius"]),
    ("MT", &["Europe/Malta"]),
    ("CY", &["Asia/Nicosia"]),
    ("TR", &["Europe/Istanbul"]),
    ("IL", &["Asia/Jerusalem"]),
    ("AE", &["Asia/Dubai"]),
    ("SA", &["Asia/Riyadh"]),
    ("QA", &["Asia/Qatar"]),
    ("EG", &["Africa/Cairo"]),
    ("ZA", &["Africa/Johannesburg"]),
    ("NG", &["Africa/Lagos"]),
    ("KE", &["Africa/Nairobi"]),
    ("MA", &["Africa/Casablanca"]),
    ("IN", &["Asia/Kolkata"]),
    ("PK", &["Asia/Karachi"]),
    ("BD", &["Asia/Dhaka"]),
    ("LK", &["Asia/Colombo"]),
    ("CN", &["Asia/Shanghai"]),
    ("HK", &["Asia/Hong_Kong"]),
    ("TW", &["Asia/Taipei"]),
    ("JP", &["Asia/Tokyo"]),
    ("KR", &["Asia/Seoul"]),
    ("SG", &["Asia/Singapore"]),
    ("MY", &["Asia/Kuala_Lumpur"]),
    ("TH", &["Asia/Bangkok"]),
    ("VN", &["Asia/Ho_Chi_Minh"]),
    ("PH", &["Asia/Manila"]),
    ("AR", &["America/Argentina/Buenos_Aires"]),
    ("CO", &["America/Bogota"]),
    ("PE", &["America/Lima"]),
    ("VE", &["America/Caracas"]),
    ("UY", &["America/Montevideo"]),
    ("CR", &["America/Costa_Rica"]),
    ("PA", &["America/Panama"]),
    ("GT", &["America/Guatemala"]),
    ("PR", &["America/Puerto_Rico"]),
    ("DO", &["America/Santo_Domingo"]),
    ("JM", &["America/Jamaica"]),
    ("BS", &["America/Nassau"]),
    ("BB", &["America/Barbados"]),
    ("TT", &["America/Port_of_Spain"]),
    ("BM", &["Atlantic/Bermuda"]),
    ("KY", &["America/Cayman"]),
    ("VI", &["America/St_Thomas"]),
    ("GU", &["Pacific/Guam"]),
];
