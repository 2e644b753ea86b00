//! How an import reads a CSV file: the header layouts of common exports, encodings,
//! delimiters, quoting, ragged and oversized rows, strict and lenient validation, and the
//! region of local numbers.

use crate::helpers::TestApp;
use crate::import::{
    SEED_EXAMPLE, by_phone, counts, errors, field_of, import, import_events, options,
};
use contactd::pb::{self, import_contacts_response::Event};

both!(
    outlook_export_headers_are_mapped,
    google_contacts_export_headers_are_mapped,
    hubspot_export_headers_are_mapped,
    every_encoding_imports_the_same_names,
    semicolon_and_tab_delimiters_are_detected,
    quoted_newlines_stay_in_the_field_and_lines_count_physically,
    quotes_backslashes_and_emoji_are_stored_verbatim_and_tabs_refused,
    ragged_rows_are_rejected_per_line,
    oversized_fields_are_rejected_per_row,
    strict_flags_the_example_file_and_lenient_imports_it,
    spreadsheet_scientific_notation_is_rejected,
    local_numbers_use_the_given_region,
);

async fn outlook_export_headers_are_mapped(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "\"Title\",\"First Name\",\"Last Name\",\"Company\",\"Job Title\",\"Business Phone\",\"Mobile Phone\",\"E-mail Address\"\r\n\
\"Dr.\",\"Ann\",\"Lee\",\"Acme\",\"CTO\",\"(415) 555-0100\",\"\",\"ann@acme.com\"\r\n\
\"\",\"Bo\",\"Ng\",\"Beta\",\"CEO\",\"(415) 555-0101\",\"+1 415 555 0102\",\"\"\r\n";
    let b = import(&app, options(&acc), file.as_bytes()).await;
    assert_eq!(counts(&b).imported, 2);
    assert_eq!(field_of(&b, "Job Title"), pb::ContactField::Title);
    assert_eq!(field_of(&b, "Title"), pb::ContactField::Unspecified);
    let ann = by_phone(&app, &acc, "+14155550100").await;
    assert_eq!(
        (ann.first_name.as_str(), ann.last_name.as_str()),
        ("Ann", "Lee")
    );
    assert_eq!(
        (ann.title.as_str(), ann.email.as_str()),
        ("CTO", "ann@acme.com")
    );
    // The mobile number wins over the business one when both are there.
    let bo = by_phone(&app, &acc, "+14155550102").await;
    assert_eq!(bo.company, "Beta");
}

async fn google_contacts_export_headers_are_mapped(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "Name,Given Name,Family Name,E-mail 1 - Type,E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value,Organization 1 - Name,Organization 1 - Title\n\
Ann Lee,Ann,Lee,* Work,ann@acme.com,Mobile,+1 415-555-0100,Acme,CTO\n";
    let b = import(&app, options(&acc), file.as_bytes()).await;
    assert_eq!(counts(&b).imported, 1);
    assert_eq!(field_of(&b, "Phone 1 - Value"), pb::ContactField::Phone);
    assert_eq!(
        field_of(&b, "Phone 1 - Type"),
        pb::ContactField::Unspecified
    );
    let c = by_phone(&app, &acc, "+14155550100").await;
    assert_eq!(
        (
            c.first_name.as_str(),
            c.last_name.as_str(),
            c.email.as_str(),
            c.company.as_str(),
            c.title.as_str()
        ),
        ("Ann", "Lee", "ann@acme.com", "Acme", "CTO")
    );
}

async fn hubspot_export_headers_are_mapped(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "Record ID,First Name,Last Name,Email,Phone Number,Company Name,Job Title,Lifecycle Stage\n\
501,Ann,Lee,ann@acme.com,4155550100,Acme,CTO,lead\n";
    let mut opts = options(&acc);
    opts.unmapped_as_custom_fields = true;
    let b = import(&app, opts, file.as_bytes()).await;
    assert_eq!(counts(&b).imported, 1);
    let c = by_phone(&app, &acc, "+14155550100").await;
    assert_eq!((c.company.as_str(), c.title.as_str()), ("Acme", "CTO"));
    assert_eq!(
        c.custom_fields.get("Lifecycle Stage").map(String::as_str),
        Some("lead"),
        "unmapped columns kept as custom fields when asked"
    );
    assert_eq!(
        c.custom_fields.get("Record ID").map(String::as_str),
        Some("501")
    );
}

fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
    let mut out = if big_endian {
        vec![0xFE, 0xFF]
    } else {
        vec![0xFF, 0xFE]
    };
    for u in text.encode_utf16() {
        out.extend_from_slice(&if big_endian {
            u.to_be_bytes()
        } else {
            u.to_le_bytes()
        });
    }
    out
}

async fn every_encoding_imports_the_same_names(app: TestApp) {
    let text = "phone,first_name,last_name\n+14155550100,José,Müller\n";
    let mut bom = vec![0xEF, 0xBB, 0xBF];
    bom.extend_from_slice(text.as_bytes());
    let latin: Vec<u8> = text
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1"))
        .collect();
    let cases = [
        ("UTF-8", text.as_bytes().to_vec()),
        ("UTF-8 (BOM)", bom),
        ("UTF-16LE", utf16(text, false)),
        ("UTF-16BE", utf16(text, true)),
        ("windows-1252", latin),
    ];
    for (encoding, bytes) in cases {
        let acc = app.account(pb::Plan::Professional).await;
        // Odd chunk sizes split multi-byte characters across messages.
        let events = import_events(&app, options(&acc), &bytes, 3).await.unwrap();
        let Some(Event::Finished(b)) = events.last() else {
            panic!("{encoding}: not finished");
        };
        assert_eq!(b.encoding, encoding);
        assert_eq!(counts(b).imported, 1, "{encoding}");
        let c = by_phone(&app, &acc, "+14155550100").await;
        assert_eq!(
            (c.first_name.as_str(), c.last_name.as_str()),
            ("José", "Müller"),
            "{encoding}"
        );
    }
}

async fn semicolon_and_tab_delimiters_are_detected(app: TestApp) {
    for (delimiter, file) in [
        (
            ";",
            "phone;first_name;company\n+14155550100;Ann;Acme, Inc.\n",
        ),
        (
            "\t",
            "phone\tfirst_name\tcompany\n+14155550100\tAnn\tAcme, Inc.\n",
        ),
    ] {
        let acc = app.account(pb::Plan::Professional).await;
        let b = import(&app, options(&acc), file.as_bytes()).await;
        assert_eq!(b.delimiter, delimiter);
        let c = by_phone(&app, &acc, "+14155550100").await;
        assert_eq!(
            (c.first_name.as_str(), c.company.as_str()),
            ("Ann", "Acme, Inc.")
        );
    }
}

async fn quoted_newlines_stay_in_the_field_and_lines_count_physically(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "phone,first_name,Notes\n\
+14155550100,Ann,\"line one\nline two, with \"\"quotes\"\"\"\n\
\n\
not-a-phone,Bo,x\n";
    let mut opts = options(&acc);
    opts.unmapped_as_custom_fields = true;
    let b = import(&app, opts, file.as_bytes()).await;
    assert_eq!(
        (counts(&b).rows, counts(&b).imported, counts(&b).invalid),
        (2, 1, 1)
    );
    let c = by_phone(&app, &acc, "+14155550100").await;
    assert_eq!(
        c.custom_fields.get("Notes").map(String::as_str),
        Some("line one\nline two, with \"quotes\"")
    );
    let errs = errors(&app, &acc, &b.id).await;
    assert_eq!(errs.len(), 1);
    assert_eq!(
        errs[0].line, 5,
        "the physical line, after a 2-line record and a blank line"
    );
    assert_eq!(errs[0].column, "phone");
    assert_eq!(errs[0].raw_value, "not-a-phone");
}

/// Characters that need escaping on their way to the database (PostgreSQL receives a
/// chunk's rows as JSON) come back exactly as written.
async fn quotes_backslashes_and_emoji_are_stored_verbatim_and_tabs_refused(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "phone,first_name,last_name,company,Note\n\
+14155550101,\"Zoë \"\"Z\"\"\",O\\Brien,\"Co 😀, Inc\",\"{\"\"a\"\": \\u0041}\"\n\
+14155550102,Al,Bo,\"Tab\tCo\",x\n";
    let mut opts = options(&acc);
    opts.unmapped_as_custom_fields = true;
    let b = import(&app, opts, file.as_bytes()).await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (1, 1));
    let c = by_phone(&app, &acc, "+14155550101").await;
    assert_eq!(
        (
            c.first_name.as_str(),
            c.last_name.as_str(),
            c.company.as_str()
        ),
        ("Zoë \"Z\"", "O\\Brien", "Co 😀, Inc")
    );
    assert_eq!(
        c.custom_fields.get("Note").map(String::as_str),
        Some("{\"a\": \\u0041}")
    );
    // A tab is a control character: the agent would read it aloud wrongly, so the row is
    // refused with the column named rather than stored.
    let errs = errors(&app, &acc, &b.id).await;
    assert_eq!((errs[0].line, errs[0].column.as_str()), (3, "company"));
    assert!(errs[0].reason.contains("control"), "{}", errs[0].reason);
}

async fn ragged_rows_are_rejected_per_line(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = "phone,first_name,last_name\n\
+14155550100,Ann\n\
+14155550101,Bo,Ng,extra\n\
+14155550102,Cy,Li,\n\
+14155550103,Di,Wu\n";
    let b = import(&app, options(&acc), file.as_bytes()).await;
    let c = counts(&b);
    assert_eq!((c.rows, c.imported, c.invalid), (4, 2, 2));
    let errs = errors(&app, &acc, &b.id).await;
    let got: Vec<(i64, &str)> = errs.iter().map(|e| (e.line, e.kind.as_str())).collect();
    assert_eq!(got, [(2, "ragged_row"), (3, "ragged_row")]);
    assert!(errs[0].reason.contains("2 fields"), "{}", errs[0].reason);
}

async fn oversized_fields_are_rejected_per_row(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let file = format!(
        "phone,Notes\n+14155550100,{}\n+14155550101,short\n",
        "x".repeat(9000)
    );
    let mut opts = options(&acc);
    opts.unmapped_as_custom_fields = true;
    let b = import(&app, opts, file.as_bytes()).await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (1, 1));
    let errs = errors(&app, &acc, &b.id).await;
    assert_eq!(
        (errs[0].line, errs[0].kind.as_str(), errs[0].column.as_str()),
        (2, "field_too_long", "Notes")
    );
}

async fn strict_flags_the_example_file_and_lenient_imports_it(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let b = import(&app, options(&acc), SEED_EXAMPLE.as_bytes()).await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (0, 2));
    let errs = errors(&app, &acc, &b.id).await;
    assert_eq!(errs.len(), 2);
    for e in &errs {
        assert_eq!(e.kind, "invalid_phone");
        assert!(
            e.reason.contains("not a valid phone number") && e.reason.contains("LENIENT"),
            "a reason a person understands: {}",
            e.reason
        );
    }
    let mut lenient = options(&acc);
    lenient.validation_mode = pb::ValidationMode::Lenient as i32;
    let b = import(&app, lenient, SEED_EXAMPLE.as_bytes()).await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (2, 0));
    let john = by_phone(&app, &acc, "+15551234567").await;
    assert_eq!(
        (john.first_name.as_str(), john.company.as_str()),
        ("John", "Acme Corp")
    );
}

async fn spreadsheet_scientific_notation_is_rejected(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await;
    let mut opts = options(&acc);
    opts.validation_mode = pb::ValidationMode::Lenient as i32;
    let b = import(&app, opts, b"phone\n1.41555E+10\n").await;
    assert_eq!((counts(&b).imported, counts(&b).invalid), (0, 1));
    let errs = errors(&app, &acc, &b.id).await;
    assert!(
        errs[0].reason.contains("scientific notation"),
        "{}",
        errs[0].reason
    );
}

async fn local_numbers_use_the_given_region(app: TestApp) {
    let acc = app.account(pb::Plan::Professional).await; // region US
    let file = "phone\n020 7946 0018\n";
    let mut gb = options(&acc);
    gb.default_region = "GB".into();
    let b = import(&app, gb, file.as_bytes()).await;
    assert_eq!(counts(&b).imported, 1);
    by_phone(&app, &acc, "+442079460018").await;
    // Without the option, the account's region (US) reads local numbers.
    let b = import(&app, options(&acc), b"phone\n(415) 555-0100\n").await;
    assert_eq!(counts(&b).imported, 1);
    by_phone(&app, &acc, "+14155550100").await;
}
