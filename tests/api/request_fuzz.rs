//! A property test over every RPC's request message, generated from the service
//! descriptor (so an RPC added later is covered without touching this file): random
//! values for each field from its type — strings from a hostile pool, numbers at and past
//! every boundary, enum values the API defines and ones it does not, nested messages,
//! repeated and map fields, oneofs — sent with an account's key and with an internal key.
//!
//! For every call: the answer is never INTERNAL or UNKNOWN (a bad input is the client's
//! error, and says so), and when a unary call is refused, nothing stored changed (a
//! fingerprint of every table is the same before and after). The seed is printed and can
//! be set with `REQUEST_FUZZ_SEED`, so a failure replays.

use crate::bounds::{Keyed, keyed, with_key};
use crate::helpers::{RawCodec, Rng, TestApp};
use contactd::pb;
use prost::Message;
use prost::encoding::{self, WireType};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, EnumDescriptorProto, FileDescriptorSet};
use std::collections::HashMap;
use std::time::Duration;
use tonic::Code;

both!(random_requests_to_every_rpc_are_never_internal_and_change_nothing_when_refused);

/// Calls per RPC and key.
const ROUNDS: usize = 40;
/// Deepest nesting of generated messages.
const MAX_DEPTH: usize = 4;

/// Messages and enums of the descriptor set by full name (`.contacts.v1.Contact`).
struct Schema {
    messages: HashMap<String, DescriptorProto>,
    enums: HashMap<String, EnumDescriptorProto>,
}

impl Schema {
    fn new(fds: &FileDescriptorSet) -> Schema {
        let mut s = Schema {
            messages: HashMap::new(),
            enums: HashMap::new(),
        };
        for file in &fds.file {
            let prefix = format!(".{}", file.package());
            for m in &file.message_type {
                s.add_message(&prefix, m);
            }
            for e in &file.enum_type {
                s.enums.insert(format!("{prefix}.{}", e.name()), e.clone());
            }
        }
        s
    }

    fn add_message(&mut self, prefix: &str, m: &DescriptorProto) {
        let name = format!("{prefix}.{}", m.name());
        for nested in &m.nested_type {
            self.add_message(&name, nested);
        }
        for e in &m.enum_type {
            self.enums.insert(format!("{name}.{}", e.name()), e.clone());
        }
        self.messages.insert(name, m.clone());
    }
}

/// What generated values aim at: the stored rows, so requests reach past the first checks.
struct Targets {
    account: String,
    contact_ids: Vec<i64>,
}

impl Targets {
    fn text(&self, rng: &mut Rng, field: &str) -> String {
        if field == "account_id" && rng.chance(85) {
            return self.account.clone();
        }
        let pool: &[&str] = &[
            "",
            "x",
            "+14155550101",
            "+14155550102",
            "4155550103",
            "US",
            "ZZ",
            "camp",
            "dialer-1",
            "phone",
            "first_name",
            "plan",
            "contact_limit",
            "name",
            "status",
            "custom.Notes",
            "America/New_York",
            "Not/A_Zone",
            "a\u{0}b",
            "\u{0}",
            "tab\there",
            "line\nbreak",
            "Zoë 日本 😀",
            "{{first_name}} {{unknown}",
            "acc_nope",
            "imp_nope",
            "  padded  ",
            "ann@example.com",
            "not-an-email",
            "-1",
            "99999999999999999999",
        ];
        match rng.below(10) {
            0 => "a".repeat(1 + rng.below(3000)),
            1 => (0..1 + rng.below(20))
                .map(|_| char::from_u32(rng.below(0x3000) as u32).unwrap_or('?'))
                .collect(),
            _ => pool[rng.below(pool.len())].to_string(),
        }
    }

    fn bytes(&self, rng: &mut Rng) -> Vec<u8> {
        match rng.below(5) {
            0 => Vec::new(),
            1 => b"phone,first_name\n+14155550104,Fuzz\nx,y\n".to_vec(),
            2 => b"p\0h\0o\0n\0e\0\n\0".to_vec(),
            3 => (0..rng.below(200)).map(|_| rng.next() as u8).collect(),
            _ => b"\xff\xfe\x00\x00,;\t\"\"\"\n".to_vec(),
        }
    }

    fn int(&self, rng: &mut Rng, wide: bool) -> i64 {
        let pool = [
            0, 1, -1, 2, 5, 10, 60, 99, 100, 101, 480, 1000, 1001, 1260, 1440, 1441,
        ];
        match rng.below(6) {
            0 if !self.contact_ids.is_empty() => {
                self.contact_ids[rng.below(self.contact_ids.len())]
            }
            1 if wide => [i64::MAX, i64::MIN, 1 << 40, -(1 << 40)][rng.below(4)],
            1 => [i32::MAX as i64, i32::MIN as i64][rng.below(2)],
            _ => pool[rng.below(pool.len())],
        }
    }
}

/// A random encoding of message `name`.
fn message(schema: &Schema, t: &Targets, rng: &mut Rng, name: &str, depth: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let Some(desc) = schema.messages.get(name) else {
        return out; // a well-known type outside the set: left empty
    };
    let mut oneof_set = std::collections::HashSet::new();
    for f in &desc.field {
        if let Some(i) = f.oneof_index
            && !f.proto3_optional()
        {
            if oneof_set.contains(&i) || !rng.chance(50) {
                continue;
            }
            oneof_set.insert(i);
        } else if !rng.chance(60) {
            continue;
        }
        let n = if f.label() == Label::Repeated {
            rng.below(4)
        } else {
            1
        };
        for _ in 0..n {
            value(schema, t, rng, f, depth, &mut out);
        }
    }
    out
}

fn value(
    schema: &Schema,
    t: &Targets,
    rng: &mut Rng,
    f: &prost_types::FieldDescriptorProto,
    depth: usize,
    out: &mut Vec<u8>,
) {
    let tag = f.number() as u32;
    match f.r#type() {
        Type::String => encoding::string::encode(tag, &t.text(rng, f.name()), out),
        Type::Bytes => encoding::bytes::encode(tag, &t.bytes(rng), out),
        Type::Bool => encoding::bool::encode(tag, &rng.chance(50), out),
        Type::Int32 => encoding::int32::encode(tag, &(t.int(rng, false) as i32), out),
        Type::Sint32 => encoding::sint32::encode(tag, &(t.int(rng, false) as i32), out),
        Type::Sfixed32 => encoding::sfixed32::encode(tag, &(t.int(rng, false) as i32), out),
        Type::Uint32 => encoding::uint32::encode(tag, &(t.int(rng, false) as u32), out),
        Type::Fixed32 => encoding::fixed32::encode(tag, &(t.int(rng, false) as u32), out),
        Type::Int64 => encoding::int64::encode(tag, &t.int(rng, true), out),
        Type::Sint64 => encoding::sint64::encode(tag, &t.int(rng, true), out),
        Type::Sfixed64 => encoding::sfixed64::encode(tag, &t.int(rng, true), out),
        Type::Uint64 => encoding::uint64::encode(tag, &(t.int(rng, true) as u64), out),
        Type::Fixed64 => encoding::fixed64::encode(tag, &(t.int(rng, true) as u64), out),
        Type::Double => encoding::double::encode(tag, &(t.int(rng, true) as f64 / 7.0), out),
        Type::Float => encoding::float::encode(tag, &(t.int(rng, false) as f32 / 7.0), out),
        Type::Enum => {
            let defined: Vec<i32> = schema
                .enums
                .get(f.type_name())
                .map(|e| e.value.iter().map(|v| v.number()).collect())
                .unwrap_or_default();
            let v = if defined.is_empty() || rng.chance(15) {
                [99, -1, 1000][rng.below(3)]
            } else {
                defined[rng.below(defined.len())]
            };
            encoding::int32::encode(tag, &v, out);
        }
        Type::Message | Type::Group => {
            if depth >= MAX_DEPTH {
                return;
            }
            let inner = message(schema, t, rng, f.type_name(), depth + 1);
            encoding::encode_key(tag, WireType::LengthDelimited, out);
            encoding::encode_varint(inner.len() as u64, out);
            out.extend_from_slice(&inner);
        }
    }
}

/// What is stored, summarised: row counts of every table and sums over the columns a
/// request can change. Equal before and after a refused request.
async fn fingerprint(db: &sea_orm::DatabaseConnection) -> Vec<i64> {
    use sea_orm::{ConnectionTrait, Statement};
    let sql = "SELECT \
        (SELECT COUNT(*) FROM accounts), \
        (SELECT CAST(COALESCE(SUM(contact_limit + contact_count + LENGTH(name) + LENGTH(plan) \
            + LENGTH(default_region)), 0) AS BIGINT) FROM accounts), \
        (SELECT COUNT(*) FROM contacts), \
        (SELECT CAST(COALESCE(SUM(LENGTH(phone) + LENGTH(first_name) + LENGTH(last_name) \
            + LENGTH(email) + LENGTH(company) + LENGTH(title) + LENGTH(custom_fields) \
            + LENGTH(status) + LENGTH(time_zone)), 0) AS BIGINT) FROM contacts), \
        (SELECT COUNT(*) FROM campaign_members), \
        (SELECT COUNT(*) FROM dnc_entries), \
        (SELECT COUNT(*) FROM dnc_events), \
        (SELECT COUNT(*) FROM calls), \
        (SELECT COUNT(*) FROM call_requests), \
        (SELECT COUNT(*) FROM import_batches), \
        (SELECT COUNT(*) FROM import_errors), \
        (SELECT COUNT(*) FROM api_keys)";
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_string(),
        ))
        .await
        .expect("fingerprint query")
        .expect("a row");
    (0..12)
        .map(|i| row.try_get_by_index::<i64>(i).expect("an integer"))
        .collect()
}

/// Calls `method` with `messages`; the final status (OK when the call succeeded).
async fn call(
    k: &Keyed,
    method: &prost_types::MethodDescriptorProto,
    messages: Vec<Vec<u8>>,
    key: &str,
) -> tonic::Status {
    let path: http::uri::PathAndQuery = format!("/contacts.v1.ContactService/{}", method.name())
        .parse()
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(k.app.channel.clone());
    let mut request = with_key(tokio_stream::iter(messages), key);
    // Long polls and endless streams end at the deadline; that answer is allowed.
    request.set_timeout(Duration::from_secs(3));
    grpc.ready().await.unwrap();
    let mut stream = match grpc.streaming(request, path, RawCodec).await {
        Err(status) => return status,
        Ok(response) => response.into_inner(),
    };
    // A server stream is read for a few messages or seconds at most
    // (StreamDialableContacts never ends by itself, and may have nothing to send).
    let read = async {
        for _ in 0..5 {
            match stream.message().await {
                Ok(Some(_)) => {}
                Ok(None) => return tonic::Status::ok(""),
                Err(status) => return status,
            }
        }
        tonic::Status::ok("")
    };
    tokio::time::timeout(Duration::from_secs(5), read)
        .await
        .unwrap_or_else(|_| tonic::Status::ok("still streaming"))
}

async fn random_requests_to_every_rpc_are_never_internal_and_change_nothing_when_refused(
    app: TestApp,
) {
    let seed = std::env::var("REQUEST_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5EED_CAFE_u64);
    println!("request fuzz seed: {seed} (set REQUEST_FUZZ_SEED to replay)");
    let mut rng = Rng(seed.max(1));
    let k = keyed(app).await;
    // Something to aim at: contacts, one in a campaign, one on the DNC list.
    let mut contact_ids = Vec::new();
    for (i, phone) in ["+14155550101", "+14155550102", "+14155550105"]
        .iter()
        .enumerate()
    {
        let c = k
            .app
            .client
            .clone()
            .create_contact(with_key(
                pb::CreateContactRequest {
                    account_id: k.account.clone(),
                    contact: Some(pb::ContactInput {
                        phone: phone.to_string(),
                        first_name: format!("Seed{i}"),
                        ..Default::default()
                    }),
                },
                &k.internal_key,
            ))
            .await
            .unwrap()
            .into_inner()
            .contact
            .unwrap();
        contact_ids.push(c.id);
    }
    let targets = Targets {
        account: k.account.clone(),
        contact_ids,
    };
    let fds = FileDescriptorSet::decode(pb::FILE_DESCRIPTOR_SET).unwrap();
    let schema = Schema::new(&fds);
    let service = fds
        .file
        .iter()
        .flat_map(|f| &f.service)
        .find(|s| s.name() == "ContactService")
        .unwrap();
    let db = contactd::store::connect(&k.app.db.url, 1).await.unwrap();
    let mut calls = 0;
    let mut codes: HashMap<Code, usize> = HashMap::new();
    for method in &service.method {
        for round in 0..ROUNDS {
            let key = if round % 2 == 0 {
                &k.account_key
            } else {
                &k.internal_key
            };
            let count = if method.client_streaming() {
                1 + rng.below(3)
            } else {
                1
            };
            let messages: Vec<Vec<u8>> = (0..count)
                .map(|_| message(&schema, &targets, &mut rng, method.input_type(), 0))
                .collect();
            let before = fingerprint(&db).await;
            let status = call(&k, method, messages.clone(), key).await;
            calls += 1;
            *codes.entry(status.code()).or_default() += 1;
            // A handler that panics shows as CANCELLED: no request here is cancelled.
            assert!(
                !matches!(
                    status.code(),
                    Code::Internal | Code::Unknown | Code::Cancelled
                ),
                "{} (seed {seed}, round {round}) answered {status:?} to {messages:?}",
                method.name()
            );
            let streaming = method.client_streaming() || method.server_streaming();
            if status.code() != Code::Ok && !streaming {
                let after = fingerprint(&db).await;
                assert_eq!(
                    before,
                    after,
                    "{} (seed {seed}, round {round}) was refused with {status:?} yet changed \
                     what is stored; request {messages:?}",
                    method.name()
                );
            }
        }
    }
    println!(
        "request fuzz: {calls} calls over {} RPCs: {codes:?}",
        service.method.len()
    );
}
