//! The files people really have: the export layouts of Google Contacts, Outlook (English,
//! German, French), HubSpot, Salesforce, Zoho, Pipedrive and iPhone/vCard converters,
//! spreadsheets typed in seven languages, contacts of many countries in one file, and
//! Excel workbooks.

use crate::helpers::TestApp;
use crate::import::import;
use contactd::pb;

both!(
    every_products_export_layout_maps_every_field_without_a_mapping,
    a_country_column_places_each_rows_local_number,
    an_unknown_country_rejects_only_a_local_number,
    an_ambiguous_name_column_is_read_by_its_neighbours,
    a_full_name_keeps_middle_names_with_the_first_name,
    an_xlsx_workbook_imports_like_its_csv_twin,
    an_ods_workbook_imports_like_its_csv_twin,
    a_workbook_over_the_size_cap_is_refused_naming_the_cap,
    a_zip_that_is_no_workbook_is_refused_before_anything_is_stored,
    preview_counts_rows_by_region_and_names_empty_mapped_columns,
    a_file_shorter_than_a_workbook_signature_is_read_as_csv,
    a_foreign_local_number_is_explained_by_its_region_not_by_lenient,
);

/// One export layout and what its one data row must become.
struct Layout {
    product: &'static str,
    delimiter: char,
    header: &'static str,
    /// (column, value) of the data row; other columns are empty.
    values: &'static [(&'static str, &'static str)],
    /// Expected phone, first, last, email, company, title.
    expect: [&'static str; 6],
}

/// A CSV line of `header`'s columns, filled from `values`.
fn data_row(header: &str, delimiter: char, values: &[(&str, &str)]) -> String {
    header
        .split(delimiter)
        .map(|col| {
            let v = values
                .iter()
                .find(|(c, _)| *c == col)
                .map(|(_, v)| *v)
                .unwrap_or("");
            if v.contains(delimiter) || v.contains('"') {
                format!("\"{}\"", v.replace('"', "\"\""))
            } else {
                v.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(&delimiter.to_string())
}

const LAYOUTS: &[Layout] = &[
    Layout {
        product: "Google Contacts",
        delimiter: ',',
        header: "First Name,Middle Name,Last Name,Phonetic First Name,Phonetic Middle Name,Phonetic Last Name,Name Prefix,Name Suffix,Nickname,File As,Organization Name,Organization Title,Organization Department,Birthday,Notes,Photo,Labels,E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,Address 1 - Label,Address 1 - Formatted,Address 1 - Street,Address 1 - City,Address 1 - PO Box,Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,Address 1 - Extended Address",
        values: &[
            ("First Name", "Ida"),
            ("Middle Name", "B."),
            ("Last Name", "Wells"),
            ("Organization Name", "Acme"),
            ("Organization Title", "CTO"),
            ("Organization Department", "Engineering"),
            ("Labels", "* myContacts"),
            ("E-mail 1 - Label", "* Work"),
            ("E-mail 1 - Value", "ida@acme.com"),
            ("Phone 1 - Label", "Mobile"),
            ("Phone 1 - Value", "0151 23456789"),
            ("Address 1 - Region", "CA"),
            ("Address 1 - Country", "Germany"),
        ],
        expect: [
            "+4915123456789",
            "Ida B.",
            "Wells",
            "ida@acme.com",
            "Acme",
            "CTO",
        ],
    },
    Layout {
        product: "Google Contacts (legacy)",
        delimiter: ',',
        header: "Name,Given Name,Additional Name,Family Name,Yomi Name,Given Name Yomi,Additional Name Yomi,Family Name Yomi,Name Prefix,Name Suffix,Initials,Nickname,Short Name,Maiden Name,Birthday,Gender,Location,Billing Information,Directory Server,Mileage,Occupation,Hobby,Sensitivity,Priority,Subject,Notes,Language,Photo,Group Membership,E-mail 1 - Type,E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value,Phone 2 - Type,Phone 2 - Value,Address 1 - Type,Address 1 - Formatted,Address 1 - Street,Address 1 - City,Address 1 - PO Box,Address 1 - Region,Address 1 - Postal Code,Address 1 - Country,Address 1 - Extended Address,Organization 1 - Type,Organization 1 - Name,Organization 1 - Yomi Name,Organization 1 - Title,Organization 1 - Department,Organization 1 - Symbol,Organization 1 - Location,Organization 1 - Job Description",
        values: &[
            ("Name", "Ann Lee"),
            ("Given Name", "Ann"),
            ("Family Name", "Lee"),
            ("E-mail 1 - Type", "* Work"),
            ("E-mail 1 - Value", "ann@acme.com"),
            ("Phone 1 - Type", "Work"),
            ("Phone 1 - Value", "(415) 555-0100"),
            ("Address 1 - Country", "United States"),
            ("Organization 1 - Name", "Acme"),
            ("Organization 1 - Title", "CEO"),
        ],
        expect: ["+14155550100", "Ann", "Lee", "ann@acme.com", "Acme", "CEO"],
    },
    Layout {
        product: "Outlook",
        delimiter: ',',
        header: "Title,First Name,Middle Name,Last Name,Suffix,Company,Department,Job Title,Business Street,Business City,Business State,Business Postal Code,Business Country/Region,Home Street,Home City,Home State,Home Postal Code,Home Country/Region,Business Fax,Business Phone,Business Phone 2,Callback,Car Phone,Company Main Phone,Home Fax,Home Phone,Home Phone 2,ISDN,Mobile Phone,Other Fax,Other Phone,Pager,Primary Phone,Radio Phone,TTY/TDD Phone,Telex,Account,Anniversary,Assistant's Name,Assistant's Phone,Birthday,Categories,E-mail Address,E-mail Type,E-mail Display Name,E-mail 2 Address,Gender,Initials,Keywords,Language,Location,Manager's Name,Notes,Office Location,Profession,Referred By,Spouse,Web Page",
        values: &[
            ("Title", "Mme"),
            ("First Name", "Claire"),
            ("Last Name", "Dubois"),
            ("Company", "Société Générale"),
            ("Job Title", "Directrice"),
            ("Business Country/Region", "France"),
            ("Home Country/Region", "United States"),
            ("Business Phone", "01 23 45 67 89"),
            ("Assistant's Phone", "(415) 555-0199"),
            ("E-mail Address", "claire@sg.fr"),
            ("E-mail Display Name", "Claire Dubois (claire@sg.fr)"),
            ("Profession", "Banker"),
        ],
        expect: [
            "+33123456789",
            "Claire",
            "Dubois",
            "claire@sg.fr",
            "Société Générale",
            "Directrice",
        ],
    },
    Layout {
        product: "Outlook (German)",
        delimiter: ';',
        header: "Anrede;Vorname;Weitere Vornamen;Nachname;Suffix;Firma;Abteilung;Position;Straße geschäftlich;Ort geschäftlich;Region geschäftlich;Postleitzahl geschäftlich;Land/Region geschäftlich;Straße privat;Ort privat;Land/Region privat;Fax geschäftlich;Telefon geschäftlich;Telefon geschäftlich 2;Rückmeldung;Autotelefon;Telefon Firma;Fax privat;Telefon privat;ISDN;Mobiltelefon;Weiteres Fax;Weiteres Telefon;Pager;Haupttelefon;Telefon für Hörbehinderte;E-Mail-Adresse;E-Mail-Typ;E-Mail: Angezeigter Name;E-Mail 2: Adresse;Notizen",
        values: &[
            ("Anrede", "Herr"),
            ("Vorname", "Jürgen"),
            ("Nachname", "Müller"),
            ("Firma", "Müller & Söhne GmbH"),
            ("Position", "Geschäftsführer"),
            ("Land/Region geschäftlich", "Deutschland"),
            ("Telefon geschäftlich", "030 12345678"),
            ("Mobiltelefon", "0151 23456789"),
            ("E-Mail-Adresse", "j.mueller@example.de"),
        ],
        expect: [
            "+4915123456789",
            "Jürgen",
            "Müller",
            "j.mueller@example.de",
            "Müller & Söhne GmbH",
            "Geschäftsführer",
        ],
    },
    Layout {
        product: "Outlook (French)",
        delimiter: ';',
        header: "Titre;Prénom;Deuxième prénom;Nom;Suffixe;Société;Service;Fonction;Rue (bureau);Ville (bureau);Code postal (bureau);Pays/Région (bureau);Téléphone bureau;Téléphone bureau 2;Tél. mobile;Téléphone domicile;Autre téléphone;Adresse de messagerie;Notes",
        values: &[
            ("Titre", "M."),
            ("Prénom", "Luc"),
            ("Nom", "Martin"),
            ("Société", "Renault"),
            ("Fonction", "Acheteur"),
            ("Pays/Région (bureau)", "France"),
            ("Tél. mobile", "06 12 34 56 78"),
            ("Adresse de messagerie", "luc@renault.fr"),
        ],
        expect: [
            "+33612345678",
            "Luc",
            "Martin",
            "luc@renault.fr",
            "Renault",
            "Acheteur",
        ],
    },
    Layout {
        product: "HubSpot",
        delimiter: ',',
        header: "Record ID,First Name,Last Name,Email,Phone Number,Mobile Phone Number,Company Name,Job Title,Street Address,City,State/Region,Postal Code,Country/Region,Contact owner,Lifecycle Stage,Lead Status,Create Date",
        values: &[
            ("Record ID", "501"),
            ("First Name", "Tom"),
            ("Last Name", "Jones"),
            ("Email", "tom@example.co.uk"),
            ("Phone Number", "020 7946 0018"),
            ("Company Name", "Jones Ltd"),
            ("Job Title", "Owner"),
            ("State/Region", "London"),
            ("Country/Region", "United Kingdom"),
            ("Lifecycle Stage", "lead"),
        ],
        expect: [
            "+442079460018",
            "Tom",
            "Jones",
            "tom@example.co.uk",
            "Jones Ltd",
            "Owner",
        ],
    },
    Layout {
        product: "Salesforce (report)",
        delimiter: ',',
        header: "Salutation,First Name,Last Name,Title,Account Name,Mailing Street,Mailing City,Mailing State/Province,Mailing Zip/Postal Code,Mailing Country,Phone,Mobile,Fax,Email,Contact Owner",
        values: &[
            ("Salutation", "Ms."),
            ("First Name", "Ana"),
            ("Last Name", "Ruiz"),
            ("Title", "VP Sales"),
            ("Account Name", "Iberia SA"),
            ("Mailing Country", "Spain"),
            ("Mobile", "612 34 56 78"),
            ("Email", "ana@iberia.es"),
            ("Contact Owner", "Sam Admin"),
        ],
        expect: [
            "+34612345678",
            "Ana",
            "Ruiz",
            "ana@iberia.es",
            "Iberia SA",
            "VP Sales",
        ],
    },
    Layout {
        product: "Salesforce (lead data export)",
        delimiter: ',',
        header: "Id,LastName,FirstName,Salutation,Name,Title,Company,Street,City,State,PostalCode,Country,Phone,MobilePhone,Fax,Email,LeadSource,Status,OwnerId",
        values: &[
            ("Id", "00Q5g00000AbCdE"),
            ("LastName", "Silva"),
            ("FirstName", "João"),
            ("Name", "João Silva"),
            ("Title", "Gerente"),
            ("Company", "Exemplo Lda"),
            ("State", "Lisboa"),
            ("Country", "Portugal"),
            ("MobilePhone", "912 345 678"),
            ("Email", "joao@exemplo.pt"),
            ("LeadSource", "Web"),
        ],
        expect: [
            "+351912345678",
            "João",
            "Silva",
            "joao@exemplo.pt",
            "Exemplo Lda",
            "Gerente",
        ],
    },
    Layout {
        product: "Zoho CRM",
        delimiter: ',',
        header: "Record Id,Contact Owner,Salutation,First Name,Last Name,Account Name,Vendor Name,Email,Title,Department,Phone,Home Phone,Other Phone,Fax,Mobile,Date of Birth,Assistant,Asst Phone,Email Opt Out,Skype ID,Secondary Email,Mailing Street,Mailing City,Mailing State,Mailing Zip,Mailing Country,Description,Full Name",
        values: &[
            ("Record Id", "zcrm_1"),
            ("Contact Owner", "Sam Admin"),
            ("First Name", "Marco"),
            ("Last Name", "Rossi"),
            ("Full Name", "Marco Rossi"),
            ("Account Name", "Rossi Srl"),
            ("Email", "marco@rossi.it"),
            ("Title", "Titolare"),
            ("Mobile", "312 345 6789"),
            ("Asst Phone", "(415) 555-0199"),
            ("Mailing Country", "Italia"),
        ],
        expect: [
            "+393123456789",
            "Marco",
            "Rossi",
            "marco@rossi.it",
            "Rossi Srl",
            "Titolare",
        ],
    },
    Layout {
        product: "Pipedrive",
        delimiter: ',',
        header: "Person - ID,Person - Name,Person - First name,Person - Last name,Person - Label,Person - Organization,Person - Email - Work,Person - Email - Home,Person - Phone - Work,Person - Phone - Mobile,Person - Job title,Person - Owner,Person - Postal address - Country",
        values: &[
            ("Person - ID", "17"),
            ("Person - Name", "Sanne de Vries"),
            ("Person - First name", "Sanne"),
            ("Person - Last name", "de Vries"),
            ("Person - Label", "Hot lead"),
            ("Person - Organization", "Bakker BV"),
            ("Person - Email - Work", "sanne@bakker.nl"),
            ("Person - Phone - Mobile", "06 12345678"),
            ("Person - Job title", "Inkoper"),
            ("Person - Postal address - Country", "Nederland"),
        ],
        expect: [
            "+31612345678",
            "Sanne",
            "de Vries",
            "sanne@bakker.nl",
            "Bakker BV",
            "Inkoper",
        ],
    },
    Layout {
        product: "iPhone (vCard to CSV)",
        delimiter: ',',
        header: "First name,Last name,Middle name,Prefix,Suffix,Nickname,Company,Department,Job title,Phone : mobile,Phone : iPhone,Phone : home,Phone : work,E-mail : home,E-mail : work,Address : home : street,Address : home : city,Address : home : country,Note",
        values: &[
            ("First name", "Ann"),
            ("Last name", "Ng"),
            ("Company", "Beta"),
            ("Job title", "CFO"),
            ("Phone : iPhone", "(415) 555-0101"),
            ("E-mail : work", "ann@beta.com"),
            ("Address : home : country", "USA"),
        ],
        expect: ["+14155550101", "Ann", "Ng", "ann@beta.com", "Beta", "CFO"],
    },
    Layout {
        product: "German Excel",
        delimiter: ';',
        header: "Telefon;Vorname;Nachname;E-Mail;Firma;Position;Land",
        values: &[
            ("Telefon", "0151 23456780"),
            ("Vorname", "Günter"),
            ("Nachname", "Weiß"),
            ("E-Mail", "g.weiss@example.de"),
            ("Firma", "Weiß KG"),
            ("Position", "Prokurist"),
            ("Land", "DE"),
        ],
        expect: [
            "+4915123456780",
            "Günter",
            "Weiß",
            "g.weiss@example.de",
            "Weiß KG",
            "Prokurist",
        ],
    },
    Layout {
        product: "French Excel",
        delimiter: ';',
        header: "Prénom;Nom;Société;Fonction;Téléphone;Courriel;Pays",
        values: &[
            ("Prénom", "Élodie"),
            ("Nom", "Lefèvre"),
            ("Société", "Atelier Lefèvre"),
            ("Fonction", "Gérante"),
            ("Téléphone", "06 12 34 56 79"),
            ("Courriel", "elodie@atelier.fr"),
            ("Pays", "France"),
        ],
        expect: [
            "+33612345679",
            "Élodie",
            "Lefèvre",
            "elodie@atelier.fr",
            "Atelier Lefèvre",
            "Gérante",
        ],
    },
    Layout {
        product: "Spanish Excel",
        delimiter: ';',
        header: "Nombre;Apellidos;Empresa;Cargo;Teléfono móvil;Correo electrónico;País;Zona horaria",
        values: &[
            ("Nombre", "José"),
            ("Apellidos", "García López"),
            ("Empresa", "Construcciones García"),
            ("Cargo", "Director"),
            ("Teléfono móvil", "612 34 56 79"),
            ("Correo electrónico", "jose@garcia.es"),
            ("País", "España"),
            ("Zona horaria", "Europe/Madrid"),
        ],
        expect: [
            "+34612345679",
            "José",
            "García López",
            "jose@garcia.es",
            "Construcciones García",
            "Director",
        ],
    },
    Layout {
        product: "Portuguese Excel",
        delimiter: ';',
        header: "Nome;Sobrenome;Empresa;Cargo;Celular;E-mail;País",
        values: &[
            ("Nome", "Maria"),
            ("Sobrenome", "Santos"),
            ("Empresa", "Santos & Filhos"),
            ("Cargo", "Sócia"),
            ("Celular", "912 345 679"),
            ("E-mail", "maria@santos.pt"),
            ("País", "Portugal"),
        ],
        expect: [
            "+351912345679",
            "Maria",
            "Santos",
            "maria@santos.pt",
            "Santos & Filhos",
            "Sócia",
        ],
    },
    Layout {
        product: "Italian Excel",
        delimiter: ';',
        header: "Nome;Cognome;Azienda;Ruolo;Cellulare;Email;Paese",
        values: &[
            ("Nome", "Giulia"),
            ("Cognome", "Bianchi"),
            ("Azienda", "Bianchi SpA"),
            ("Ruolo", "Responsabile"),
            ("Cellulare", "312 345 6780"),
            ("Email", "giulia@bianchi.it"),
            ("Paese", "Italia"),
        ],
        expect: [
            "+393123456780",
            "Giulia",
            "Bianchi",
            "giulia@bianchi.it",
            "Bianchi SpA",
            "Responsabile",
        ],
    },
    Layout {
        product: "Dutch Excel",
        delimiter: ';',
        header: "Voornaam;Achternaam;Bedrijf;Functie;Mobiel;E-mailadres;Land",
        values: &[
            ("Voornaam", "Pieter"),
            ("Achternaam", "Jansen"),
            ("Bedrijf", "Jansen BV"),
            ("Functie", "Eigenaar"),
            ("Mobiel", "06 12345679"),
            ("E-mailadres", "pieter@jansen.nl"),
            ("Land", "Nederland"),
        ],
        expect: [
            "+31612345679",
            "Pieter",
            "Jansen",
            "pieter@jansen.nl",
            "Jansen BV",
            "Eigenaar",
        ],
    },
];

fn options(account: &str) -> pb::ImportOptions {
    pb::ImportOptions {
        account_id: account.into(),
        ..Default::default()
    }
}

fn fields(c: &pb::Contact) -> [&str; 6] {
    [
        c.phone.as_str(),
        c.first_name.as_str(),
        c.last_name.as_str(),
        c.email.as_str(),
        c.company.as_str(),
        c.title.as_str(),
    ]
}

/// Each layout's row, in a US account with no `--map` and no region: every field lands
/// where it belongs, the number read in the row's own country. The German, French and
/// Spanish spreadsheets come as Excel writes them: Windows-1252 with semicolons.
async fn every_products_export_layout_maps_every_field_without_a_mapping(app: TestApp) {
    for layout in LAYOUTS {
        let acc = app.account(pb::Plan::Professional).await;
        let text = format!(
            "{}\r\n{}\r\n",
            layout.header,
            data_row(layout.header, layout.delimiter, layout.values)
        );
        let bytes = if layout.product.ends_with("Excel") {
            let (b, _, unmappable) = encoding_rs::WINDOWS_1252.encode(&text);
            assert!(!unmappable, "{}", layout.product);
            b.into_owned()
        } else {
            text.into_bytes()
        };
        let b = import(&app, options(&acc), &bytes).await;
        let c = b.counts.unwrap();
        assert_eq!(
            (c.imported, c.invalid),
            (1, 0),
            "{}: {:?}",
            layout.product,
            crate::import::errors(&app, &acc, &b.id).await
        );
        let stored = app.list_all(&acc, Default::default()).await;
        assert_eq!(fields(&stored[0]), layout.expect, "{}", layout.product);
        if layout.product == "Spanish Excel" {
            assert_eq!(stored[0].time_zone, "Europe/Madrid");
        }
    }
}

/// A US account imports a list of five countries with no region given: each local
/// number is read in its row's country; a row without one falls back to the import's
/// region (then the account's).
async fn a_country_column_places_each_rows_local_number(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await; // region US
    let file = "phone,name,country\n\
0151 23456789,Anna Schmidt,Deutschland\n\
06 12 34 56 78,Luc Martin,FR\n\
020 7946 0018,Tom Jones,UK\n\
612 34 56 78,Eva Sanz,España\n\
+39 312 345 6789,Marco Rossi,\n\
(415) 555-0100,Ann Lee,\n";
    let b = import(&app, options(&acc), file.as_bytes()).await;
    let c = b.counts.unwrap();
    assert_eq!((c.rows, c.imported, c.invalid), (6, 6, 0));
    let mut phones: Vec<String> = app
        .list_all(&acc, Default::default())
        .await
        .into_iter()
        .map(|c| c.phone)
        .collect();
    phones.sort();
    assert_eq!(
        phones,
        [
            "+14155550100",
            "+33612345678",
            "+34612345678",
            "+393123456789",
            "+442079460018",
            "+4915123456789",
        ]
    );
    // The import's region is the fallback for rows without a country.
    let acc = app.account(pb::Plan::Professional).await;
    let mut gb = options(&acc);
    gb.default_region = "GB".into();
    let b = import(
        &app,
        gb,
        b"phone,country\n020 7946 0019,\n0151 23456789,DE\n",
    )
    .await;
    assert_eq!(b.counts.unwrap().imported, 2);
}

async fn an_unknown_country_rejects_only_a_local_number(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "phone,country\n0151 23456789,Narnia\n+49 151 23456781,Narnia\n";
    let b = import(&app, options(&acc), file.as_bytes()).await;
    let c = b.counts.unwrap();
    assert_eq!((c.imported, c.invalid), (1, 1));
    let errs = crate::import::errors(&app, &acc, &b.id).await;
    assert_eq!(
        (errs[0].line, errs[0].kind.as_str(), errs[0].column.as_str()),
        (2, "invalid_country", "country")
    );
    assert!(errs[0].reason.contains("Narnia"), "{}", errs[0].reason);
}

/// `Name` is the family name beside `Vorname` (German), the full name alone (English);
/// `Nombre` is the given name beside `Apellidos`, the full name alone.
async fn an_ambiguous_name_column_is_read_by_its_neighbours(app: TestApp) {
    let cases: [(&str, &str, [&str; 2]); 4] = [
        (
            "Vorname;Name;Telefon",
            "Karl;Weber;(415) 555-0100",
            ["Karl", "Weber"],
        ),
        ("Name,Phone", "Ann Lee,(415) 555-0100", ["Ann", "Lee"]),
        (
            "Nombre;Apellidos;Teléfono",
            "Ana;Ruiz;(415) 555-0100",
            ["Ana", "Ruiz"],
        ),
        (
            "Nombre;Teléfono",
            "Ana Ruiz;(415) 555-0100",
            ["Ana", "Ruiz"],
        ),
    ];
    for (header, row, expect) in cases {
        let acc = app.account(pb::Plan::Professional).await;
        let b = import(&app, options(&acc), format!("{header}\n{row}\n").as_bytes()).await;
        assert_eq!(b.counts.unwrap().imported, 1, "{header}");
        let c = &app.list_all(&acc, Default::default()).await[0];
        assert_eq!(
            [c.first_name.as_str(), c.last_name.as_str()],
            expect,
            "{header}"
        );
    }
}

/// "Ida B. Wells" is Ida B. Wells, not Ida "B. Wells": a search for her family name
/// finds her.
async fn a_full_name_keeps_middle_names_with_the_first_name(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "Full Name,Phone\nIda B. Wells,(415) 555-0100\n\"Wells, Ida B.\",(415) 555-0101\n";
    import(&app, options(&acc), file.as_bytes()).await;
    let found = app
        .list_all(
            &acc,
            pb::ContactFilter {
                query: "wells".into(),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(found.len(), 2);
    for c in found {
        assert_eq!(
            (c.first_name.as_str(), c.last_name.as_str()),
            ("Ida B.", "Wells")
        );
    }
}

/// The rows of the workbook twin tests: text cells, and numbers a spreadsheet stores
/// as floats.
enum Cell {
    Text(&'static str),
    Number(f64),
}

/// A sheet whose phone column holds numbers stored as floats (`14155550101`, shown as
/// `1.41556E+10`), a German local number with its country, and empty trailing cells.
const TWIN: [[Cell; 5]; 4] = {
    use Cell::*;
    [
        [
            Text("Telefon"),
            Text("Vorname"),
            Text("Nachname"),
            Text("Land"),
            Text("Firma"),
        ],
        [
            Number(14155550101.0),
            Text("Ann"),
            Text("Lee"),
            Text("USA"),
            Text("Acme"),
        ],
        [
            Text("0151 23456789"),
            Text("Jürgen"),
            Text("Müller"),
            Text("Deutschland"),
            Text(""),
        ],
        [
            Number(4155550102.0),
            Text("Bo"),
            Text("Ng"),
            Text(""),
            Text(""),
        ],
    ]
};

/// What "Save as CSV" of [`TWIN`] gives.
fn twin_csv() -> String {
    let mut csv = String::new();
    for row in &TWIN {
        let cells: Vec<String> = row
            .iter()
            .map(|c| match c {
                Cell::Text(t) => t.to_string(),
                Cell::Number(n) => format!("{n}"),
            })
            .collect();
        csv.push_str(&cells.join(","));
        csv.push('\n');
    }
    csv
}

/// [`TWIN`] as an .xlsx workbook.
fn twin_xlsx() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, row) in TWIN.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            match cell {
                Cell::Text("") => {}
                Cell::Text(t) => {
                    sheet.write_string(r as u32, c as u16, *t).unwrap();
                }
                Cell::Number(n) => {
                    sheet.write_number(r as u32, c as u16, *n).unwrap();
                }
            }
        }
    }
    book.save_to_buffer().unwrap()
}

/// [`TWIN`] as an OpenDocument spreadsheet (.ods), written part by part.
fn twin_ods() -> Vec<u8> {
    use std::io::Write;
    use zip::write::SimpleFileOptions;
    let mut rows = String::new();
    for row in &TWIN {
        rows.push_str("<table:table-row>");
        for cell in row {
            match cell {
                Cell::Text("") => rows.push_str("<table:table-cell/>"),
                Cell::Text(t) => rows.push_str(&format!(
                    "<table:table-cell office:value-type=\"string\"><text:p>{t}</text:p></table:table-cell>"
                )),
                Cell::Number(n) => rows.push_str(&format!(
                    "<table:table-cell office:value-type=\"float\" office:value=\"{n}\"><text:p>{n:e}</text:p></table:table-cell>"
                )),
            }
        }
        rows.push_str("</table:table-row>");
    }
    let ns = "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" \
              xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\" \
              xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\"";
    let content = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content {ns} office:version=\"1.2\">\
         <office:body><office:spreadsheet><table:table table:name=\"Kontakte\">{rows}</table:table>\
         </office:spreadsheet></office:body></office:document-content>"
    );
    let manifest = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
        <manifest:manifest xmlns:manifest=\"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0\" manifest:version=\"1.2\">\
        <manifest:file-entry manifest:full-path=\"/\" manifest:media-type=\"application/vnd.oasis.opendocument.spreadsheet\"/>\
        <manifest:file-entry manifest:full-path=\"content.xml\" manifest:media-type=\"text/xml\"/>\
        </manifest:manifest>";
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    for (name, body) in [
        ("mimetype", "application/vnd.oasis.opendocument.spreadsheet"),
        ("META-INF/manifest.xml", manifest),
        ("content.xml", content.as_str()),
    ] {
        zip.start_file(name, stored).unwrap();
        zip.write_all(body.as_bytes()).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// Imports `workbook` and its CSV twin into two accounts: the same counts, mapping and
/// contacts.
async fn imports_like_its_csv_twin(app: &TestApp, workbook: &[u8], format: &str) {
    let from_csv = app.account(pb::Plan::Professional).await;
    let from_book = app.account(pb::Plan::Professional).await;
    let b_csv = import(app, options(&from_csv), twin_csv().as_bytes()).await;
    let b_book = import(app, options(&from_book), workbook).await;
    assert_eq!(b_book.counts, b_csv.counts, "{format}");
    assert_eq!(b_book.counts.unwrap().imported, 3, "{format}");
    assert_eq!(b_book.encoding, format);
    assert_eq!(b_book.mapping, b_csv.mapping, "{format}");
    let contacts = async |acc: &str| {
        let mut v: Vec<[String; 5]> = app
            .list_all(acc, Default::default())
            .await
            .into_iter()
            .map(|c| [c.phone, c.first_name, c.last_name, c.company, c.email])
            .collect();
        v.sort();
        v
    };
    let stored = contacts(&from_book).await;
    assert_eq!(stored, contacts(&from_csv).await, "{format}");
    assert_eq!(stored[0][0], "+14155550101", "{format}");
}

/// An .xlsx workbook imports like the CSV "Save as CSV" of it would.
async fn an_xlsx_workbook_imports_like_its_csv_twin(app: TestApp) {
    imports_like_its_csv_twin(&app, &twin_xlsx(), "xlsx").await;
}

/// An OpenDocument spreadsheet imports like its CSV twin.
async fn an_ods_workbook_imports_like_its_csv_twin(app: TestApp) {
    imports_like_its_csv_twin(&app, &twin_ods(), "ods").await;
}

async fn preview_counts_rows_by_region_and_names_empty_mapped_columns(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "Telefon;Vorname;Nachname;Land\n\
0151 23456789;;;DE\n\
0151 23456781;;;Deutschland\n\
(415) 555-0100;;;\n\
+33 6 12 34 56 78;;;\n";
    let mut msgs = vec![pb::PreviewImportRequest {
        payload: Some(pb::preview_import_request::Payload::Options(options(&acc))),
        sample_rows: 10,
    }];
    msgs.push(pb::PreviewImportRequest {
        payload: Some(pb::preview_import_request::Payload::Chunk(
            file.as_bytes().to_vec(),
        )),
        sample_rows: 0,
    });
    let p = app
        .client
        .clone()
        .preview_import(tokio_stream::iter(msgs))
        .await
        .unwrap()
        .into_inner();
    let regions: Vec<(&str, i64)> = p
        .regions
        .iter()
        .map(|r| (r.region.as_str(), r.rows))
        .collect();
    assert_eq!(regions, [("DE", 2), ("US", 1)]);
    assert_eq!(p.empty_columns, ["Vorname", "Nachname"]);
}

/// A file shorter than a workbook's signature is still read as CSV to its end.
async fn a_file_shorter_than_a_workbook_signature_is_read_as_csv(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let b = import(&app, options(&acc), b"phone").await;
    assert_eq!(b.status(), pb::ImportStatus::Completed);
    assert_eq!(b.counts.unwrap().rows, 0);
}

/// A German mobile number in a US import is not "a fictional +1 555 number that
/// LENIENT accepts": the reason says it was read as a US number and where to give its
/// country.
async fn a_foreign_local_number_is_explained_by_its_region_not_by_lenient(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await; // region US
    let b = import(&app, options(&acc), b"phone\n0151 23456789\n+15551234567\n").await;
    let errs = crate::import::errors(&app, &acc, &b.id).await;
    assert_eq!(errs.len(), 2);
    let foreign = &errs[0].reason;
    assert!(
        !foreign.contains("LENIENT") && foreign.contains("local number of US"),
        "{foreign}"
    );
    assert!(foreign.contains("country column"), "{foreign}");
    assert!(errs[1].reason.contains("LENIENT"), "{}", errs[1].reason);
}

/// A workbook is spooled to a temporary file before its first sheet can be read; the
/// import's byte cap holds while it arrives: over it, RESOURCE_EXHAUSTED naming the cap,
/// and nothing stored. The CSV twin, under the cap, imports.
async fn a_workbook_over_the_size_cap_is_refused_naming_the_cap(app: TestApp) {
    let capped = TestApp::spawn_configured(
        app.db.clone(),
        std::sync::Arc::new(contactd::domain::SystemClock),
        |s| s.max_import_bytes = 3_000,
    )
    .await;
    let acc = capped.account(pb::Plan::Professional).await;
    let book = twin_xlsx();
    assert!(book.len() > 3_000, "{} bytes", book.len());
    let err = crate::import::try_import(&capped, options(&acc), &book)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::ResourceExhausted, "{err:?}");
    assert!(err.message().contains("3000"), "{}", err.message());
    assert!(capped.list_all(&acc, Default::default()).await.is_empty());
    let b = import(&capped, options(&acc), twin_csv().as_bytes()).await;
    assert_eq!(b.counts.unwrap().imported, 3);
}

/// A zipped CSV is not a workbook: refused with INVALID_ARGUMENT saying so, no batch.
async fn a_zip_that_is_no_workbook_is_refused_before_anything_is_stored(app: TestApp) {
    use std::io::Write;
    let acc = app.account(pb::Plan::Professional).await;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    zip.start_file("leads.csv", stored).unwrap();
    zip.write_all(b"phone\n(415) 555-0100\n").unwrap();
    let bytes = zip.finish().unwrap().into_inner();
    let err = crate::import::try_import(&app, options(&acc), &bytes)
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::InvalidArgument);
    assert!(err.message().contains("not an Excel"), "{}", err.message());
    assert!(app.list_all(&acc, Default::default()).await.is_empty());
}
