//! A country column's value as the region of a row's local phone number.
//!
//! Accepted: any two-letter ISO 3166 code the phone library knows (`DE`, `fr`), the
//! three-letter codes and `UK`, and country names in English, German, French, Spanish,
//! Portuguese, Italian and Dutch, compared like headers (case, accents and punctuation
//! ignored: `Deutschland`, `États-Unis`, `United States of America`).

use super::synonyms::normalize;
use crate::domain::Region;

/// Normalized names (and three-letter codes) by ISO code.
const NAMES: &[(&str, &[&str])] = &[
    (
        "US",
        &[
            "usa",
            "us",
            "unitedstates",
            "unitedstatesofamerica",
            "america",
            "vereinigtestaaten",
            "vereinigtestaatenvonamerika",
            "etatsunis",
            "etatsunisdamerique",
            "estadosunidos",
            "estadosunidosdeamerica",
            "eeuu",
            "eua",
            "statiuniti",
            "statiunitidamerica",
            "verenigdestaten",
            "verenigdestatenvanamerika",
        ],
    ),
    ("CA", &["can", "canada", "kanada"]),
    (
        "GB",
        &[
            "gbr",
            "uk",
            "unitedkingdom",
            "greatbritain",
            "england",
            "scotland",
            "wales",
            "northernireland",
            "vereinigteskonigreich",
            "grossbritannien",
            "royaumeuni",
            "grandebretagne",
            "angleterre",
            "reinounido",
            "granbretana",
            "inglaterra",
            "granbretanha",
            "regnounito",
            "granbretagna",
            "inghilterra",
            "verenigdkoninkrijk",
            "grootbrittannie",
            "engeland",
        ],
    ),
    (
        "IE",
        &["irl", "ireland", "irland", "irlande", "irlanda", "ierland"],
    ),
    (
        "DE",
        &[
            "deu",
            "germany",
            "deutschland",
            "allemagne",
            "alemania",
            "alemanha",
            "germania",
            "duitsland",
            "brd",
        ],
    ),
    (
        "AT",
        &[
            "aut",
            "austria",
            "osterreich",
            "oesterreich",
            "autriche",
            "oostenrijk",
        ],
    ),
    (
        "CH",
        &[
            "che",
            "switzerland",
            "schweiz",
            "suisse",
            "suiza",
            "suica",
            "svizzera",
            "zwitserland",
        ],
    ),
    (
        "FR",
        &[
            "fra",
            "france",
            "frankreich",
            "francia",
            "franca",
            "frankrijk",
        ],
    ),
    (
        "BE",
        &[
            "bel", "belgium", "belgien", "belgique", "belgica", "belgio", "belgie",
        ],
    ),
    (
        "NL",
        &[
            "nld",
            "netherlands",
            "thenetherlands",
            "holland",
            "niederlande",
            "paysbas",
            "paisesbajos",
            "paisesbaixos",
            "holanda",
            "paesibassi",
            "olanda",
            "nederland",
        ],
    ),
    (
        "LU",
        &[
            "lux",
            "luxembourg",
            "luxemburg",
            "luxemburgo",
            "lussemburgo",
        ],
    ),
    (
        "ES",
        &[
            "esp", "spain", "spanien", "espagne", "espana", "espanha", "spagna", "spanje",
        ],
    ),
    ("PT", &["prt", "portugal", "portogallo"]),
    ("IT", &["ita", "italy", "italien", "italie", "italia"]),
    (
        "DK",
        &[
            "dnk",
            "denmark",
            "danemark",
            "dinamarca",
            "danimarca",
            "denemarken",
        ],
    ),
    (
        "SE",
        &[
            "swe", "sweden", "schweden", "suede", "suecia", "svezia", "zweden",
        ],
    ),
    (
        "NO",
        &[
            "nor",
            "norway",
            "norwegen",
            "norvege",
            "noruega",
            "norvegia",
            "noorwegen",
        ],
    ),
    (
        "FI",
        &["fin", "finland", "finnland", "finlande", "finlandia"],
    ),
    ("PL", &["pol", "poland", "polen", "pologne", "polonia"]),
    (
        "CZ",
        &[
            "cze",
            "czechia",
            "czechrepublic",
            "tschechien",
            "tchequie",
            "republiquetcheque",
            "chequia",
            "republicacheca",
            "tchequia",
            "repubblicaceca",
            "tsjechie",
        ],
    ),
    (
        "GR",
        &[
            "grc",
            "greece",
            "griechenland",
            "grece",
            "grecia",
            "griekenland",
        ],
    ),
    (
        "TR",
        &[
            "tur", "turkey", "turkiye", "turkei", "turquie", "turquia", "turchia", "turkije",
        ],
    ),
    (
        "RO",
        &[
            "rou", "romania", "rumanien", "roumanie", "rumania", "romenia", "roemenie",
        ],
    ),
    (
        "HU",
        &[
            "hun",
            "hungary",
            "ungarn",
            "hongrie",
            "hungria",
            "ungheria",
            "hongarije",
        ],
    ),
    ("MX", &["mex", "mexico", "mexiko", "mexique", "messico"]),
    (
        "BR",
        &[
            "bra",
            "brazil",
            "brasilien",
            "bresil",
            "brasil",
            "brasile",
            "brazilie",
        ],
    ),
    (
        "AR",
        &["arg", "argentina", "argentinien", "argentine", "argentinie"],
    ),
    ("CL", &["chl", "chile", "chili", "cile"]),
    ("CO", &["col", "colombia", "kolumbien", "colombie"]),
    ("PE", &["per", "peru", "perou"]),
    ("AU", &["aus", "australia", "australien", "australie"]),
    (
        "NZ",
        &[
            "nzl",
            "newzealand",
            "neuseeland",
            "nouvellezelande",
            "nuevazelanda",
            "novazelandia",
            "nuovazelanda",
            "nieuwzeeland",
        ],
    ),
    ("IN", &["ind", "india", "indien", "inde"]),
    ("CN", &["chn", "china", "chine", "cina"]),
    ("JP", &["jpn", "japan", "japon", "japao", "giappone"]),
    (
        "ZA",
        &[
            "zaf",
            "southafrica",
            "sudafrika",
            "afriquedusud",
            "sudafrica",
            "africadosul",
            "zuidafrika",
        ],
    ),
    ("IL", &["isr", "israel", "israele"]),
    (
        "AE",
        &[
            "are",
            "uae",
            "unitedarabemirates",
            "vereinigtearabischeemirate",
            "emiratsarabesunis",
            "emiratosarabesunidos",
            "emiratiarabiuniti",
            "verenigdearabischeemiraten",
        ],
    ),
    ("SG", &["sgp", "singapore", "singapur", "singapour"]),
];

/// The region a country cell names, or `None` if it names no country this table knows.
pub fn region_of(value: &str) -> Option<Region> {
    let v = value.trim();
    if v.len() == 2 && v.chars().all(|c| c.is_ascii_alphabetic()) {
        if v.eq_ignore_ascii_case("uk") {
            return Region::parse("GB").ok();
        }
        return Region::parse(v).ok();
    }
    let n = normalize(v);
    NAMES
        .iter()
        .find(|(_, names)| names.contains(&n.as_str()))
        .and_then(|(code, _)| Region::parse(code).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(v: &str) -> Option<String> {
        region_of(v).map(|r| r.code().to_string())
    }

    #[test]
    fn codes_and_names_in_every_language_give_the_region() {
        for v in [
            "DE",
            "de",
            "DEU",
            "Germany",
            "Deutschland",
            "Allemagne",
            "Alemania",
        ] {
            assert_eq!(code(v).as_deref(), Some("DE"), "{v}");
        }
        for v in [
            "États-Unis",
            "United States of America",
            "U.S.A.",
            "Stati Uniti",
        ] {
            assert_eq!(code(v).as_deref(), Some("US"), "{v}");
        }
        assert_eq!(code("UK").as_deref(), Some("GB"));
        assert_eq!(code("Österreich").as_deref(), Some("AT"));
        assert_eq!(code("Narnia"), None);
        assert_eq!(code("XX"), None);
    }

    #[test]
    fn every_listed_code_is_a_region_and_names_are_normalized() {
        for (code, names) in NAMES {
            assert!(Region::parse(code).is_ok(), "{code}");
            for n in *names {
                assert_eq!(normalize(n), *n);
            }
        }
    }
}
