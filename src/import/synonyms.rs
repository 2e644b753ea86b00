//! The one table of header names an import recognizes, in the languages customers' files
//! come in (English, German, French, Spanish, Portuguese, Italian, Dutch) and in the exact
//! spellings of the exports people have (Google Contacts, Outlook in English, German and
//! French, HubSpot, Salesforce reports and data exports, Zoho CRM, Pipedrive,
//! iPhone/vCard-to-CSV converters).
//!
//! Headers are compared after [`normalize`]: lowercase letters and digits only, accents
//! taken off, `ß` as `ss` — so `E-Mail-Adresse`, `e_mail adresse` and `EMAILADRESSE`
//! are one name, as are `Téléphone` and `telephone`. A `Person - ` prefix (Pipedrive) is
//! ignored. Within a field, a lower rank wins; every phone-like column is kept, best
//! first (mobile, then phone, then work/home/other numbers), and a row takes the first
//! one that is not empty.
//!
//! Some names mean different things by file: German `Name` beside `Vorname` is the
//! family name, English `Name` alone is the full name, Spanish `Nombre` beside
//! `Apellidos` is the given name. Those are [`Sense::NameOrLast`] and
//! [`Sense::GivenOrFull`], settled by the other columns of the header.
//!
//! The file is long because it is one data table ([`KNOWN`], ~520 lines of names); the
//! code beside it is [`normalize`] and [`detect`].

use super::mapping::Field;
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// What a recognized header means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sense {
    Field(Field),
    /// `Name`, `Nom`, `Naam`: the family name when the file has a given-name column but
    /// no family-name one, else the full name (ignored when both split columns exist).
    NameOrLast,
    /// `Nombre`, `Nome`: the given name when the file has a family-name column, else
    /// the full name.
    GivenOrFull,
}

use Field::*;
use Sense::{Field as F, GivenOrFull, NameOrLast};

/// Normalized header names by meaning and rank (lower rank wins).
pub const KNOWN: &[(Sense, u8, &[&str])] = &[
    // Mobile numbers first: the number a voice call reaches best.
    (
        F(Phone),
        0,
        &[
            // English, Outlook, HubSpot, Salesforce, Zoho, iPhone/vCard converters
            "mobile",
            "mobilephone",
            "mobilenumber",
            "mobilephonenumber",
            "mobileno",
            "cell",
            "cellphone",
            "cellnumber",
            "cellular",
            "phonemobile",
            "phoneiphone",
            "iphone",
            "telmobile",
            "telcell",
            "teltypecell",
            // German
            "mobil",
            "mobiltelefon",
            "mobilnummer",
            "mobilfunk",
            "mobilfunknummer",
            "mobiltelefonnummer",
            "handy",
            "handynummer",
            "telefonmobil",
            // French
            "portable",
            "telephoneportable",
            "telephonemobile",
            "numerodeportable",
            "numeroportable",
            "numerodemobile",
            "numeromobile",
            "telportable",
            "cellulaire",
            // Spanish
            "movil",
            "telefonomovil",
            "numeromovil",
            "numerodemovil",
            "celular",
            "telefonocelular",
            "numerodecelular",
            "numerocelular",
            // Portuguese
            "telemovel",
            "telefonecelular",
            "telefonemovel",
            "movel",
            // Italian
            "cellulare",
            "telefonocellulare",
            "numerodicellulare",
            "numerocellulare",
            // Dutch
            "mobiel",
            "mobielnummer",
            "mobieletelefoon",
            "mobieltelefoonnummer",
            "telefoonmobiel",
            "gsm",
            "gsmnummer",
        ],
    ),
    (
        F(Phone),
        1,
        &[
            "phone",
            "phonenumber",
            "phoneno",
            "telephone",
            "telephonenumber",
            "tel",
            "contactnumber",
            "primaryphone",
            "phone1value",
            "phone1",
            "e164",
            "msisdn",
            "number",
            "phonemain",
            "mainphone",
            // German
            "telefon",
            "telefonnummer",
            "rufnummer",
            "telnr",
            "telefonnr",
            "haupttelefon",
            // French
            "numerodetelephone",
            "numerotelephone",
            "numerodetel",
            "telephoneprincipal",
            // Spanish
            "telefono",
            "numerodetelefono",
            "numerotelefono",
            "telefonoprincipal",
            // Portuguese
            "telefone",
            "numerodetelefone",
            "numerotelefone",
            "telefoneprincipal",
            // Italian
            "numeroditelefono",
            "telefonoprincipale",
            // Dutch
            "telefoon",
            "telefoonnummer",
            "telefoonnr",
        ],
    ),
    (
        F(Phone),
        2,
        &[
            "businessphone",
            "workphone",
            "officephone",
            "directphone",
            "homephone",
            "phone2value",
            "phone2",
            "businessphone2",
            "homephone2",
            "otherphone",
            "companymainphone",
            "phone3value",
            "phonework",
            "phonehome",
            "phoneother",
            "landline",
            "teltypework",
            "teltypehome",
            "telwork",
            "telhome",
            // German (Outlook: "Telefon geschäftlich", "Telefon privat", "Weiteres Telefon")
            "telefongeschaftlich",
            "telefongeschaftlich2",
            "telefonprivat",
            "telefonprivat2",
            "weiterestelefon",
            "telefonfirma",
            "geschaftstelefon",
            "festnetz",
            "festnetznummer",
            "telefonarbeit",
            "burotelefon",
            // French (Outlook: "Téléphone bureau", "Téléphone domicile", "Autre téléphone")
            "telephonebureau",
            "telephonebureau2",
            "telephonedomicile",
            "telephonedomicile2",
            "autretelephone",
            "telephoneprofessionnel",
            "telephonepersonnel",
            "telephonetravail",
            "telephonefixe",
            "fixe",
            // Spanish
            "telefonodeltrabajo",
            "telefonotrabajo",
            "telefonodelaoficina",
            "telefonooficina",
            "telefonoparticular",
            "telefonofijo",
            "telefonocasa",
            "telefonodecasa",
            "otrotelefono",
            // Portuguese
            "telefonecomercial",
            "telefoneresidencial",
            "telefonefixo",
            "telefonedotrabalho",
            "telefonetrabalho",
            "outrotelefone",
            // Italian
            "telefonoufficio",
            "telefonolavoro",
            "telefonoabitazione",
            "telefonofisso",
            "altrotelefono",
            // Dutch
            "telefoonwerk",
            "telefoonthuis",
            "vastetelefoon",
            "vastnummer",
            "telefoonkantoor",
            "anderetelefoon",
            "zakelijketelefoon",
            // Ambiguous single words: only when nothing better is there.
            "numero",
            "nummer",
        ],
    ),
    (
        F(FirstName),
        0,
        &[
            "firstname",
            "givenname",
            "first",
            "fname",
            "forename",
            "vorname",
            "prenom",
            "primernombre",
            "primeironome",
            "voornaam",
            "roepnaam",
        ],
    ),
    (
        F(MiddleName),
        0,
        &[
            "middlename",
            "additionalname",
            "middleinitial",
            "weiterevornamen",
            "zweitervorname",
            "deuxiemeprenom",
            "autresprenoms",
            "segundonombre",
            "nomedomeio",
            "secondonome",
            "tussenvoegsel",
        ],
    ),
    (
        F(LastName),
        0,
        &[
            "lastname",
            "surname",
            "familyname",
            "last",
            "lname",
            "nachname",
            "familienname",
            "zuname",
            "nomdefamille",
            "nomfamille",
            "apellido",
            "apellidos",
            "primerapellido",
            "sobrenome",
            "apelido",
            "ultimonome",
            "cognome",
            "achternaam",
            "familienaam",
        ],
    ),
    (
        F(FullName),
        0,
        &[
            "fullname",
            "contactname",
            "displayname",
            "contact",
            "fn",
            "personname",
            "vollstandigername",
            "kontaktname",
            "anzeigename",
            "nomcomplet",
            "nometprenom",
            "prenometnom",
            "nombrecompleto",
            "nombreyapellidos",
            "nomecompleto",
            "nominativo",
            "nomeecognome",
            "volledigenaam",
            "weergavenaam",
        ],
    ),
    (NameOrLast, 0, &["name", "nom", "naam"]),
    (GivenOrFull, 0, &["nombre", "nome"]),
    (
        F(Email),
        0,
        &[
            "email",
            "emailaddress",
            "email1value",
            "mail",
            "primaryemail",
            "email1",
            "emailwork",
            "workemail",
            "emailhome",
            "emailother",
            // German
            "emailadresse",
            "mailadresse",
            "emailadresse1",
            // French
            "courriel",
            "adresseemail",
            "adressemail",
            "adressedecourriel",
            "adresseelectronique",
            "adressedemessagerie",
            // Spanish
            "correo",
            "correoelectronico",
            "direcciondecorreo",
            "direcciondecorreoelectronico",
            "direcciondeemail",
            // Portuguese
            "enderecodeemail",
            "enderecodeemail1",
            "correioeletronico",
            "enderecoeletronico",
            // Italian
            "postaelettronica",
            "indirizzoemail",
            "indirizzodipostaelettronica",
            // Dutch
            "emailadres",
            "mailadres",
        ],
    ),
    (
        F(Email),
        1,
        &[
            "email2address",
            "secondaryemail",
            "email2value",
            "email2",
            "emailadresse2",
            "email2adresse",
        ],
    ),
    (
        F(Company),
        0,
        &[
            "company",
            "companyname",
            "organization",
            "organisation",
            "organizationname",
            "organization1name",
            "org",
            "employer",
            "accountname",
            // German
            "firma",
            "firmenname",
            "unternehmen",
            "arbeitgeber",
            // French
            "entreprise",
            "societe",
            "nomdelentreprise",
            "nomdelasociete",
            "employeur",
            // Spanish
            "empresa",
            "compania",
            "nombredelaempresa",
            "organizacion",
            // Portuguese
            "companhia",
            "organizacao",
            "nomedaempresa",
            // Italian
            "azienda",
            "societa",
            "ditta",
            "organizzazione",
            "nomeazienda",
            // Dutch
            "bedrijf",
            "bedrijfsnaam",
            "organisatie",
            "werkgever",
        ],
    ),
    (
        F(Title),
        0,
        &[
            "jobtitle",
            "position",
            "role",
            "organizationtitle",
            "organization1title",
            "designation",
            // German
            "berufsbezeichnung",
            "funktion",
            "stellung",
            "jobtitel",
            "stellenbezeichnung",
            // French
            "poste",
            "fonction",
            "titreduposte",
            "intituledeposte",
            "intituleduposte",
            // Spanish
            "cargo",
            "puesto",
            "puestodetrabajo",
            "titulodelpuesto",
            // Portuguese
            "funcao",
            "titulodocargo",
            // Italian
            "posizione",
            "ruolo",
            "qualifica",
            "mansione",
            // Dutch
            "functie",
            "functietitel",
            "rol",
            "positie",
        ],
    ),
    // Outlook's "Title" is the courtesy title (Mr., Dr.): only when no job title exists.
    (F(Title), 1, &["title"]),
    (
        F(Country),
        0,
        &[
            "country",
            "countryregion",
            "countrycode",
            "land",
            "landregion",
            "pays",
            "paysregion",
            "pais",
            "paisregion",
            "paese",
            "nazione",
            "landregio",
        ],
    ),
    (
        F(Country),
        1,
        &[
            // Outlook (English, German, French), Google, Salesforce, Zoho, vCard converters
            "businesscountryregion",
            "businesscountry",
            "mailingcountry",
            "address1country",
            "addressworkcountry",
            "workcountry",
            "landregiongeschaftlich",
            "paysregionbureau",
            "paisregiondeltrabajo",
            "organizationaddresscountry",
        ],
    ),
    (
        F(Country),
        2,
        &[
            "homecountryregion",
            "homecountry",
            "othercountryregion",
            "othercountry",
            "address2country",
            "addresshomecountry",
            "landregionprivat",
            "landregionweitere",
            "paysregiondomicile",
            "postaladdresscountry",
        ],
    ),
    (
        F(TimeZone),
        0,
        &[
            "timezone",
            "tz",
            "zeitzone",
            "fuseauhoraire",
            "zonahoraria",
            "fusohorario",
            "fusoorario",
            "tijdzone",
        ],
    ),
    (
        F(PhoneExtension),
        0,
        &[
            "extension",
            "ext",
            "extn",
            "phoneextension",
            "phoneext",
            "durchwahl",
            "toestel",
            "ramal",
        ],
    ),
];

/// A header reduced to lowercase letters and digits, accents taken off (`Téléphone` →
/// `telephone`, `Straße` → `strasse`).
pub fn normalize(header: &str) -> String {
    header
        .nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(|c| match c {
            'ß' => ['s', 's'].into_iter().take(2),
            c => [c, c].into_iter().take(1),
        })
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// What a header means and its rank, if it is one the table knows.
pub fn detect(header: &str) -> Option<(Sense, u8)> {
    let n = normalize(header);
    let lookup = |n: &str| {
        KNOWN
            .iter()
            .find(|(_, _, names)| names.contains(&n))
            .map(|(s, r, _)| (*s, *r))
    };
    lookup(&n).or_else(|| {
        // Pipedrive: "Person - Phone - Mobile", "Person - Organization".
        n.strip_prefix("person")
            .filter(|rest| !rest.is_empty())
            .and_then(lookup)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_compare_without_case_accents_or_punctuation() {
        assert_eq!(normalize("E-Mail-Adresse"), "emailadresse");
        assert_eq!(normalize("Téléphone portable"), "telephoneportable");
        assert_eq!(normalize("Straße"), "strasse");
        assert_eq!(
            normalize("Land/Region geschäftlich"),
            "landregiongeschaftlich"
        );
        assert_eq!(detect("TELÉFONO MÓVIL"), Some((F(Phone), 0)));
        assert_eq!(detect("Person - Phone - Work"), Some((F(Phone), 2)));
        assert_eq!(
            detect("Address 1 - Region"),
            None,
            "a state is not a country"
        );
    }

    #[test]
    fn no_name_is_listed_twice() {
        let mut seen = std::collections::HashSet::new();
        for (_, _, names) in KNOWN {
            for n in *names {
                assert_eq!(normalize(n), *n, "{n} is not normalized");
                assert!(seen.insert(*n), "{n} is listed twice");
            }
        }
    }
}
