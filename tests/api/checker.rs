//! The interleaving checker: many misbehaving clients against two server replicas, every
//! hand-out and acknowledged change logged with its time, then the dialer's promises
//! checked over the whole log.
//!
//! Clients, all at once, each driven by its own seeded generator: unary dialers that claim
//! in two campaigns and then record a call (sometimes twice, sometimes late, sometimes one
//! asking for a callback a few seconds later, which the claims then deliver), give the
//! lease back, or let it run out; streaming dialers that read slowly, give leases back
//! over the stream, and sometimes vanish; a DNC desk that marks and clears; a list desk
//! that puts numbers on named DNC lists (a mark) and deletes lists (a clear); a Call Now
//! desk with its telephony worker; a mailman that delivers call reports late and out of
//! order. Afterwards the log must show:
//!
//! 1. no contact handed out by a claim that began after a DNC mark of it returned (unless
//!    a clear may have come between), and none labelled other than ACTIVE;
//! 2. never two live leases on one person: a hand-out while an earlier one was live only
//!    after that one's holder recorded its call or gave it back, or a DNC mark revoked it;
//! 3. the frequency rules: per person, the dials not given back are spaced by the
//!    campaign's minimum and never exceed the claiming campaign's daily limit;
//! 4. no stream sent more than its dialer had asked for;
//! 5. no INTERNAL or UNKNOWN answer to anything.
//!
//! Used by the test suite (`interleavings`, a bounded run per backend) and by the bench's
//! `safety` suite (longer runs); the seed is printed so a failing run can be replayed
//! (`CONTACTD_CHECKER_SEED`), though thread timing makes no two runs identical.

#![allow(dead_code)]

use contactd::pb::{self, contact_service_client::ContactServiceClient};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// Campaign A's daily limit (overriding the account's); B allows the maximum.
const DAILY_A: usize = 3;
const DAILY_B: usize = 50;
/// Least seconds between two dials of a person (both campaigns).
const SPACING_S: i64 = 2;
/// People; the first `NEVER_CLEARED` are marked DNC at most once and never cleared.
const PEOPLE: usize = 12;
const NEVER_CLEARED: usize = 3;

/// What a run found.
#[derive(Debug, Default)]
pub struct Outcome {
    pub seed: u64,
    /// RPCs sent.
    pub ops: u64,
    /// Contacts handed out (claims, streams, call requests).
    pub handouts: u64,
    /// Of those, callbacks delivered (a person who had asked to be called back).
    pub callbacks: u64,
    /// DNC marks acknowledged, and of those by a named list's import.
    pub marks: u64,
    pub list_marks: u64,
    /// Each broken promise, in words.
    pub violations: Vec<String>,
    /// The whole history of each person a promise broke for.
    pub timelines: Vec<String>,
}

/// A run's shape.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    pub seed: u64,
    pub duration: Duration,
    pub unary_dialers: usize,
    pub stream_dialers: usize,
}

impl Config {
    /// A seed from `CONTACTD_CHECKER_SEED`, else from the clock.
    pub fn seed_from_env() -> u64 {
        std::env::var("CONTACTD_CHECKER_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| now_ms() as u64 ^ 0x9E37_79B9_7F4A_7C15)
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default()
}

/// xorshift64*: small and seedable.
#[derive(Clone)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.max(1))
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn ms(&mut self, max: u64) -> Duration {
        Duration::from_millis(self.below(max + 1))
    }
}

#[derive(Debug, Clone)]
struct HandOut {
    person: i64,
    dialer: String,
    /// "A", "B", or "" for a Call Now request.
    campaign: String,
    /// The server's lease start (its expiry less the lease length), ms.
    start: i64,
    expire: i64,
    /// When the client had it.
    received: i64,
    status_active: bool,
    /// The lease's id, by which the dialer gives it back.
    lease_id: String,
}

#[derive(Debug, Clone, Copy)]
enum Ack {
    /// DNC mark of a person: sent, returned.
    Mark(i64, i64, i64),
    Clear(i64, i64, i64),
    /// A lease given back: person, dialer's index in `dialers`, sent.
    Release(i64, usize, i64),
    /// A call recorded by a dialer for a person: dialer index, call start, RPC sent.
    Call(i64, usize, i64, i64),
}

#[derive(Default)]
struct Log {
    handouts: Vec<HandOut>,
    callbacks: u64,
    list_marks: u64,
    acks: Vec<Ack>,
    dialers: Vec<String>,
    violations: Vec<String>,
    ops: u64,
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Log>>);

impl Shared {
    fn with<R>(&self, f: impl FnOnce(&mut Log) -> R) -> R {
        f(&mut self.0.lock().unwrap_or_else(|e| e.into_inner()))
    }
    fn dialer(&self, name: &str) -> usize {
        self.with(|l| match l.dialers.iter().position(|d| d == name) {
            Some(i) => i,
            None => {
                l.dialers.push(name.to_string());
                l.dialers.len() - 1
            }
        })
    }
    /// Counts an RPC; an INTERNAL or UNKNOWN answer is a violation.
    fn answered<T>(&self, what: &str, r: &Result<T, Status>) {
        self.with(|l| {
            l.ops += 1;
            if let Err(s) = r
                && matches!(s.code(), Code::Internal | Code::Unknown)
            {
                l.violations
                    .push(format!("{what}: {:?} {}", s.code(), s.message()));
            }
        });
    }
    fn handout(&self, h: HandOut) {
        self.with(|l| l.handouts.push(h));
    }
    fn ack(&self, a: Ack) {
        self.with(|l| l.acks.push(a));
    }
}

fn ts_ms(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref()
        .map(|t| t.seconds * 1000 + i64::from(t.nanos) / 1_000_000)
        .unwrap_or_default()
}

fn dial_rules() -> pb::DialRules {
    // Any hour: the widest window accepted that is open now where the (+1 212) people are.
    let now = chrono::Utc::now().timestamp_millis();
    let window =
        contactd::domain::timezone::Window::widest_open_at(&[chrono_tz::America::New_York], now);
    pb::DialRules {
        max_attempts: 1000,
        retry_interval_seconds: 1,
        window: Some(pb::CallingWindow {
            start_minute: window.start_minute as i32,
            end_minute: window.end_minute as i32,
        }),
        max_calls_per_day: None,
        max_calls_per_week: Some(50),
        min_call_spacing_seconds: Some(SPACING_S),
        ..Default::default()
    }
}

fn rules_for(campaign: &str) -> pb::DialRules {
    pb::DialRules {
        max_calls_per_day: Some(if campaign == "A" { DAILY_A } else { DAILY_B } as i32),
        ..dial_rules()
    }
}

/// Unix ms as a protobuf timestamp.
fn timestamp(ms: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: ms.div_euclid(1000),
        nanos: (ms.rem_euclid(1000) * 1_000_000) as i32,
    }
}

/// A call report: placed by `dialer` for `person`, started at `start`.
fn call(external_id: String, person: i64, campaign: &str, dialer: &str, start: i64) -> pb::Call {
    pb::Call {
        external_id,
        contact_id: person,
        direction: pb::CallDirection::Outbound as i32,
        campaign_id: campaign.into(),
        start_time: Some(timestamp(start)),
        duration_seconds: 20,
        outcome: pb::CallOutcome::NoAnswer as i32,
        dialer_id: dialer.into(),
        ..Default::default()
    }
}

/// Everything the actors share.
#[derive(Clone)]
struct World {
    replicas: Vec<ContactServiceClient<Channel>>,
    account: String,
    people: Vec<i64>,
    log: Shared,
    deadline: Instant,
    /// Call reports to deliver late: (not before, report).
    mail: Arc<Mutex<Vec<(Instant, pb::Call)>>>,
    next_call: Arc<Mutex<u64>>,
}

impl World {
    fn client(&self, rng: &mut Rng) -> ContactServiceClient<Channel> {
        self.replicas[rng.below(self.replicas.len() as u64) as usize].clone()
    }
    fn live(&self) -> bool {
        Instant::now() < self.deadline
    }
    fn call_id(&self) -> String {
        let mut n = self.next_call.lock().unwrap();
        *n += 1;
        format!("call-{n}")
    }

    /// Records `c` now; logs it as the dialer's call when it went through.
    async fn report(&self, rng: &mut Rng, c: pb::Call) {
        self.report_with(rng, c, None).await
    }

    /// [`Self::report`], with the callback a CALLBACK_REQUESTED call asks for.
    async fn report_with(&self, rng: &mut Rng, c: pb::Call, callback: Option<pb::CallbackTime>) {
        let sent = now_ms();
        let r = self
            .client(rng)
            .record_call(pb::RecordCallRequest {
                account_id: self.account.clone(),
                call: Some(c.clone()),
                region: String::new(),
                callback,
            })
            .await;
        self.log.answered("RecordCall", &r);
        if r.is_ok() {
            let d = self.log.dialer(&c.dialer_id);
            self.log
                .ack(Ack::Call(c.contact_id, d, ts_ms(&c.start_time), sent));
        }
    }

    /// What a dialer does with a contact it was handed: call (report now, twice, or
    /// late), give it back (`release` sends that), or nothing (the lease runs out).
    async fn settle(&self, rng: &mut Rng, h: &HandOut, release: impl AsyncFnOnce(String)) {
        tokio::time::sleep(rng.ms(400)).await;
        match rng.below(100) {
            0..=54 => {
                let start = (h.start + rng.below(300) as i64).min(now_ms());
                let mut c = call(self.call_id(), h.person, &h.campaign, &h.dialer, start);
                if !h.campaign.is_empty() && rng.chance(15) {
                    // "Call me back in a moment": the claims deliver it when due, within
                    // the same DNC, lease and frequency rules as any claim.
                    c.outcome = pb::CallOutcome::CallbackRequested as i32;
                    let at = now_ms() + 1000 + rng.below(3000) as i64;
                    let callback = pb::CallbackTime {
                        time: Some(pb::callback_time::Time::CallbackTime(timestamp(at))),
                        time_zone: String::new(),
                    };
                    self.report_with(rng, c, Some(callback)).await;
                    return;
                }
                if rng.chance(20) {
                    let at = Instant::now() + rng.ms(3000);
                    self.mail.lock().unwrap().push((at, c.clone()));
                } else {
                    self.report(rng, c.clone()).await;
                }
                if rng.chance(15) {
                    let at = Instant::now() + rng.ms(2000);
                    self.mail.lock().unwrap().push((at, c));
                }
            }
            55..=79 => {
                let d = self.log.dialer(&h.dialer);
                self.log.ack(Ack::Release(h.person, d, now_ms()));
                release(h.lease_id.clone()).await;
            }
            _ => {}
        }
    }

    fn handed(
        &self,
        d: &pb::DialableContact,
        dialer: &str,
        campaign: &str,
        lease_ms: i64,
    ) -> HandOut {
        let c = d.contact.as_ref();
        if d.callback.is_some() {
            self.log.with(|l| l.callbacks += 1);
        }
        let expire = ts_ms(&d.lease_expire_time);
        HandOut {
            person: c.map(|c| c.id).unwrap_or_default(),
            dialer: dialer.to_string(),
            campaign: campaign.to_string(),
            start: expire - lease_ms,
            expire,
            received: now_ms(),
            status_active: c.is_some_and(|c| c.status() == pb::ContactStatus::Active),
            lease_id: d.lease_id.clone(),
        }
    }
}

async fn unary_dialer(w: World, name: String, mut rng: Rng) {
    while w.live() {
        let campaign = if rng.chance(50) { "A" } else { "B" };
        let lease_s = 1 + rng.below(3) as i64;
        let r = w
            .client(&mut rng)
            .claim_dialable_contacts(pb::ClaimDialableContactsRequest {
                account_id: w.account.clone(),
                campaign_id: campaign.into(),
                dialer_id: name.clone(),
                max_contacts: 1 + rng.below(4) as i32,
                lease_seconds: lease_s,
                rules: Some(rules_for(campaign)),
            })
            .await;
        w.log.answered("ClaimDialableContacts", &r);
        let Ok(r) = r else { continue };
        let got: Vec<HandOut> = r
            .into_inner()
            .contacts
            .iter()
            .map(|d| w.handed(d, &name, campaign, lease_s * 1000))
            .collect();
        if got.is_empty() {
            tokio::time::sleep(rng.ms(150)).await;
        }
        for h in got {
            w.log.handout(h.clone());
            let mut rng2 = rng.clone();
            rng.next();
            let replica = w.replicas[h.person as usize % w.replicas.len()].clone();
            w.settle(&mut rng2, &h, async |lease| {
                let r = replica
                    .clone()
                    .release_leases(pb::ReleaseLeasesRequest {
                        account_id: w.account.clone(),
                        campaign_id: campaign.into(),
                        dialer_id: name.clone(),
                        contact_ids: vec![],
                        lease_ids: vec![lease],
                    })
                    .await;
                w.log.answered("ReleaseLeases", &r);
            })
            .await;
        }
    }
}

async fn stream_dialer(w: World, name: String, mut rng: Rng) {
    while w.live() {
        let campaign = if rng.chance(50) { "A" } else { "B" };
        let lease_s = 1 + rng.below(3) as i64;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut demanded = 1 + rng.below(3);
        let first = pb::StreamDialableContactsRequest {
            claim: Some(pb::ClaimDialableContactsRequest {
                account_id: w.account.clone(),
                campaign_id: campaign.into(),
                dialer_id: name.clone(),
                max_contacts: 1 + rng.below(3) as i32,
                lease_seconds: lease_s,
                rules: Some(rules_for(campaign)),
            }),
            poll_interval_ms: 50,
            demand: demanded as i32,
            release_contact_ids: vec![],
            release_lease_ids: vec![],
        };
        let _ = tx.send(first);
        let opened = w
            .client(&mut rng)
            .stream_dialable_contacts(tokio_stream::wrappers::UnboundedReceiverStream::new(rx))
            .await;
        w.log.answered("StreamDialableContacts", &opened);
        let Ok(opened) = opened else { continue };
        let mut stream = opened.into_inner();
        let mut received = 0u64;
        // A stream lives a few seconds, then its dialer vanishes without a word.
        let until = Instant::now() + rng.ms(6000);
        while w.live() && Instant::now() < until {
            let next = tokio::time::timeout(Duration::from_millis(300), stream.message()).await;
            let batch = match next {
                Err(_) => continue,
                Ok(r) => {
                    w.log.answered("StreamDialableContacts message", &r);
                    match r {
                        Ok(Some(b)) => b.contacts,
                        _ => break,
                    }
                }
            };
            received += batch.len() as u64;
            if received > demanded {
                w.log.with(|l| {
                    l.violations.push(format!(
                        "stream of {name} sent {received} contacts, {demanded} asked for"
                    ))
                });
            }
            // The dialer is busy with its calls before it reads on.
            tokio::time::sleep(rng.ms(600)).await;
            for d in &batch {
                let h = w.handed(d, &name, campaign, lease_s * 1000);
                w.log.handout(h.clone());
                let mut rng2 = rng.clone();
                rng.next();
                w.settle(&mut rng2, &h, async |lease| {
                    let _ = tx.send(pb::StreamDialableContactsRequest {
                        release_lease_ids: vec![lease],
                        ..Default::default()
                    });
                })
                .await;
            }
            let more = rng.below(3);
            demanded += more;
            let _ = tx.send(pb::StreamDialableContactsRequest {
                demand: more as i32,
                ..Default::default()
            });
        }
    }
}

async fn dnc_desk(w: World, mut rng: Rng) {
    let mut marked_once = [false; NEVER_CLEARED];
    while w.live() {
        tokio::time::sleep(rng.ms(250)).await;
        let i = rng.below(w.people.len() as u64) as usize;
        let person = w.people[i];
        let clear = i >= NEVER_CLEARED && rng.chance(50);
        if i < NEVER_CLEARED {
            if marked_once[i] {
                continue;
            }
            marked_once[i] = true;
        }
        let targets = Some(pb::DncTargets {
            selection: Some(pb::ContactSelection {
                selection: Some(pb::contact_selection::Selection::Ids(pb::ContactIds {
                    ids: vec![person],
                })),
            }),
            ..Default::default()
        });
        let sent = now_ms();
        let ok = if clear {
            let r = w
                .client(&mut rng)
                .clear_dnc(pb::ClearDncRequest {
                    account_id: w.account.clone(),
                    targets,
                    reason: "checker".into(),
                    actor: "desk".into(),
                })
                .await;
            w.log.answered("ClearDnc", &r);
            r.is_ok()
        } else {
            let r = w
                .client(&mut rng)
                .mark_dnc(pb::MarkDncRequest {
                    account_id: w.account.clone(),
                    targets,
                    source: pb::DncSource::Manual as i32,
                    reason: "checker".into(),
                    actor: "desk".into(),
                })
                .await;
            w.log.answered("MarkDnc", &r);
            r.is_ok()
        };
        let returned = now_ms();
        if ok {
            w.log.ack(if clear {
                Ack::Clear(person, sent, returned)
            } else {
                Ack::Mark(person, sent, returned)
            });
        }
    }
}

/// Named DNC lists as marks: imports a one-number file into one of two lists (an
/// acknowledged mark of that person when the import returns completed), and now and
/// then deletes a list (a clear of everyone it held). Only people that may be cleared.
async fn list_desk(w: World, mut rng: Rng) {
    use pb::import_dnc_list_request::Payload;
    let mut held: [Vec<i64>; 2] = Default::default();
    let mut ids: [Option<i64>; 2] = [None, None];
    while w.live() {
        // Half the DNC desk's pace, and lists emptied often: people must stay callable
        // long enough for the other promises to be tried too.
        tokio::time::sleep(rng.ms(500)).await;
        let k = rng.below(2) as usize;
        if let Some(list_id) = ids[k].filter(|_| rng.chance(40)) {
            let sent = now_ms();
            let r = w
                .client(&mut rng)
                .delete_dnc_list(pb::DeleteDncListRequest {
                    account_id: w.account.clone(),
                    list_id,
                })
                .await;
            w.log.answered("DeleteDncList", &r);
            refused(&w, "DeleteDncList", &r);
            let returned = now_ms();
            if r.is_ok() {
                ids[k] = None;
                for person in held[k].drain(..) {
                    w.log.ack(Ack::Clear(person, sent, returned));
                }
            }
            continue;
        }
        let i = NEVER_CLEARED + rng.below((PEOPLE - NEVER_CLEARED) as u64) as usize;
        let person = w.people[i];
        let options = pb::ImportDncListOptions {
            account_id: w.account.clone(),
            list_name: format!("checker-{k}"),
            format: pb::DncFileFormat::Plain as i32,
            ..Default::default()
        };
        let messages = vec![
            pb::ImportDncListRequest {
                payload: Some(Payload::Options(options)),
            },
            pb::ImportDncListRequest {
                payload: Some(Payload::Chunk(phone_of(i).into_bytes())),
            },
        ];
        let sent = now_ms();
        let r = w
            .client(&mut rng)
            .import_dnc_list(tokio_stream::iter(messages))
            .await;
        w.log.answered("ImportDncList", &r);
        refused(&w, "ImportDncList", &r);
        let returned = now_ms();
        let Some(done) = r.ok().and_then(|r| r.into_inner().result) else {
            continue;
        };
        if done.status == "completed" && done.added + done.already_listed == 1 {
            ids[k] = Some(done.list_id);
            held[k].push(person);
            w.log.ack(Ack::Mark(person, sent, returned));
            w.log.with(|l| l.list_marks += 1);
        } else {
            w.log.with(|l| {
                l.violations
                    .push(format!("ImportDncList of {person}'s number: {done:?}"))
            });
        }
    }
}

/// A desk's well-formed request refused as malformed or naming nothing: the checker,
/// not the server, would be wrong, and its marks would silently not happen.
fn refused<T>(w: &World, what: &str, r: &Result<T, Status>) {
    if let Err(s) = r
        && matches!(s.code(), Code::InvalidArgument | Code::NotFound)
    {
        let msg = format!("{what} refused: {:?} {}", s.code(), s.message());
        w.log.with(|l| l.violations.push(msg));
    }
}

/// The phone number of the `i`-th person.
fn phone_of(i: usize) -> String {
    format!("+1212{:07}", 4_000_000 + i)
}

async fn call_now_desk(w: World, mut rng: Rng) {
    let worker = "telephony".to_string();
    while w.live() {
        tokio::time::sleep(rng.ms(500)).await;
        let person = w.people[rng.below(w.people.len() as u64) as usize];
        let r = w
            .client(&mut rng)
            .call_now(pb::CallNowRequest {
                account_id: w.account.clone(),
                contact_id: person,
                requested_by: "agent".into(),
                override_calling_window: true,
                rules: None,
            })
            .await;
        // DNC contacts are refused (FAILED_PRECONDITION): that is the point.
        w.log.answered("CallNow", &r);
        let lease_s = 2;
        let r = w
            .client(&mut rng)
            .claim_call_requests(pb::ClaimCallRequestsRequest {
                account_id: w.account.clone(),
                worker_id: worker.clone(),
                max_requests: 3,
                lease_seconds: lease_s,
                wait_ms: 0,
            })
            .await;
        w.log.answered("ClaimCallRequests", &r);
        let Ok(r) = r else { continue };
        for req in r.into_inner().requests {
            let expire = ts_ms(&req.lease_expire_time);
            let h = HandOut {
                person: req.contact_id,
                dialer: worker.clone(),
                campaign: String::new(),
                start: expire - lease_s * 1000,
                expire,
                received: now_ms(),
                status_active: true,
                lease_id: String::new(),
            };
            w.log.handout(h.clone());
            if rng.chance(70) {
                let start = (h.start + rng.below(200) as i64).min(now_ms());
                let c = call(w.call_id(), h.person, "", &worker, start);
                w.report(&mut rng, c).await;
            }
        }
    }
}

/// Delivers call reports whose time has come, in random order.
async fn mailman(w: World, mut rng: Rng) {
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let due: Vec<pb::Call> = {
            let mut mail = w.mail.lock().unwrap();
            let now = Instant::now();
            let (due, keep): (Vec<_>, Vec<_>) =
                mail.drain(..).partition(|(at, _)| *at <= now || !w.live());
            *mail = keep;
            due.into_iter().map(|(_, c)| c).collect()
        };
        let mut due = due;
        for i in (1..due.len()).rev() {
            due.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for c in due {
            w.report(&mut rng, c).await;
        }
        if !w.live() && w.mail.lock().unwrap().is_empty() {
            return;
        }
    }
}

/// Sets up an account with `PEOPLE` contacts in campaigns A (all) and B (two in three),
/// runs the actors against `replicas` for the configured time, and checks the log.
pub async fn run(replicas: Vec<ContactServiceClient<Channel>>, cfg: Config) -> Outcome {
    let mut setup = replicas[0].clone();
    let account = setup
        .create_account(pb::CreateAccountRequest {
            name: "checker".into(),
            plan: pb::Plan::Professional as i32,
            contact_limit: 0,
            default_region: "US".into(),
        })
        .await
        .expect("create account")
        .into_inner()
        .account
        .unwrap()
        .id;
    let mut people = Vec::new();
    for i in 0..PEOPLE {
        let c = setup
            .create_contact(pb::CreateContactRequest {
                account_id: account.clone(),
                contact: Some(pb::ContactInput {
                    phone: phone_of(i),
                    ..Default::default()
                }),
            })
            .await
            .expect("create contact")
            .into_inner()
            .contact
            .unwrap();
        people.push(c.id);
    }
    for (campaign, members) in [
        ("A", people.clone()),
        (
            "B",
            people.iter().copied().filter(|id| id % 3 != 0).collect(),
        ),
    ] {
        setup
            .add_to_campaign(pb::AddToCampaignRequest {
                account_id: account.clone(),
                campaign_id: campaign.into(),
                selection: Some(pb::ContactSelection {
                    selection: Some(pb::contact_selection::Selection::Ids(pb::ContactIds {
                        ids: members,
                    })),
                }),
            })
            .await
            .expect("add to campaign");
    }
    let w = World {
        replicas,
        account,
        people,
        log: Shared::default(),
        deadline: Instant::now() + cfg.duration,
        mail: Arc::default(),
        next_call: Arc::default(),
    };
    let mut rng = Rng::new(cfg.seed);
    let mut tasks = Vec::new();
    for i in 0..cfg.unary_dialers {
        let seed = rng.next();
        tasks.push(tokio::spawn(unary_dialer(
            w.clone(),
            format!("u{i}"),
            Rng::new(seed),
        )));
    }
    for i in 0..cfg.stream_dialers {
        let seed = rng.next();
        tasks.push(tokio::spawn(stream_dialer(
            w.clone(),
            format!("s{i}"),
            Rng::new(seed),
        )));
    }
    tasks.push(tokio::spawn(dnc_desk(w.clone(), Rng::new(rng.next()))));
    tasks.push(tokio::spawn(list_desk(w.clone(), Rng::new(rng.next()))));
    tasks.push(tokio::spawn(call_now_desk(w.clone(), Rng::new(rng.next()))));
    tasks.push(tokio::spawn(mailman(w.clone(), Rng::new(rng.next()))));
    for t in tasks {
        if let Err(e) = t.await {
            w.log
                .with(|l| l.violations.push(format!("an actor panicked: {e}")));
        }
    }
    let log = std::mem::take(&mut *w.log.0.lock().unwrap());
    let mut violations = log.violations.clone();
    let (broken, timelines) = check(&log);
    violations.extend(broken);
    Outcome {
        seed: cfg.seed,
        ops: log.ops,
        handouts: log.handouts.len() as u64,
        callbacks: log.callbacks,
        marks: log
            .acks
            .iter()
            .filter(|a| matches!(a, Ack::Mark(..)))
            .count() as u64,
        list_marks: log.list_marks,
        violations,
        timelines,
    }
}

/// The promises 1–3 over the log (4 and 5 are checked as the run goes); with the
/// timeline of each person a promise broke for.
fn check(log: &Log) -> (Vec<String>, Vec<String>) {
    let mut out = Vec::new();
    let mut timelines = Vec::new();
    let mut by_person: HashMap<i64, Vec<&HandOut>> = HashMap::new();
    for h in &log.handouts {
        by_person.entry(h.person).or_default().push(h);
    }
    let acks_of = |person: i64| log.acks.iter().filter(move |a| ack_person(a) == person);
    let mut people: Vec<i64> = by_person.keys().copied().collect();
    people.sort_unstable();
    for person in people {
        let found = out.len();
        let hs = by_person.get_mut(&person).expect("a person of the log");
        let person = &person;
        hs.sort_by_key(|h| h.start);
        let acks: Vec<&Ack> = acks_of(*person).collect();
        for h in hs.iter() {
            if !h.status_active {
                out.push(format!(
                    "{person} handed to {} labelled not ACTIVE",
                    h.dialer
                ));
            }
            // 1. DNC: a mark that returned before the claim began, with no clear that
            // may have come after it and before the claim.
            for a in &acks {
                if let Ack::Mark(_, m_sent, m_ret) = a
                    && *m_ret < h.start
                    && !acks.iter().any(|c| {
                        matches!(c, Ack::Clear(_, c_sent, c_ret)
                        if *c_ret > *m_sent && *c_sent < h.received)
                    })
                {
                    out.push(format!(
                        "{person} handed to {} (lease from {}) after a DNC mark returned at {m_ret}",
                        h.dialer, h.start
                    ));
                }
            }
        }
        // 2. One live lease per person.
        for (i, h2) in hs.iter().enumerate() {
            for h1 in &hs[..i] {
                if h2.start >= h1.expire || std::ptr::eq(*h1, *h2) {
                    continue;
                }
                let d1 = log.dialers.iter().position(|d| *d == h1.dialer);
                let ended = acks.iter().any(|a| match a {
                    Ack::Release(_, d, sent) => {
                        Some(*d) == d1 && *sent >= h1.received - 1 && *sent < h2.received
                    }
                    Ack::Call(_, d, start, sent) => {
                        Some(*d) == d1 && *start >= h1.start && *sent < h2.received
                    }
                    Ack::Mark(_, sent, _) => *sent >= h1.start - 1 && *sent < h2.received,
                    Ack::Clear(..) => false,
                });
                if !ended {
                    out.push(format!(
                        "{person} leased to {} ({}) from {} while {}'s lease ({}) ran until {}",
                        h2.dialer, h2.campaign, h2.start, h1.dialer, h1.campaign, h1.expire
                    ));
                }
            }
        }
        // 3. Frequency: the dials not given back. A give-back uncounts the dial unless
        // another lease of the person was certainly granted before it was sent (then it
        // names a lease that is over): a lease's start is its grant, so one that began
        // before the give-back was sent (in an earlier millisecond: the log is in ms)
        // was granted before it.
        let released = |h: &HandOut| {
            let d = log.dialers.iter().position(|x| *x == h.dialer);
            acks.iter().any(|a| {
                matches!(a, Ack::Release(_, dd, sent) if Some(*dd) == d && *sent >= h.received - 1
                    && hs.iter().all(|o| o.start <= h.start || o.start >= *sent))
            })
        };
        let counted: Vec<&&HandOut> = hs.iter().filter(|h| !released(h)).collect();
        for (i, h) in counted.iter().enumerate() {
            if h.campaign.is_empty() {
                continue; // Call Now: a person's decision, counted but not limited.
            }
            if i > 0 && h.start - counted[i - 1].start < SPACING_S * 1000 {
                out.push(format!(
                    "{person} dialed at {} by {} only {} ms after the dial at {}",
                    h.start,
                    h.dialer,
                    h.start - counted[i - 1].start,
                    counted[i - 1].start
                ));
            }
            let limit = if h.campaign == "A" { DAILY_A } else { DAILY_B };
            if i >= limit {
                out.push(format!(
                    "{person} dialed a {}th time in a day by {} in campaign {} (limit {limit})",
                    i + 1,
                    h.dialer,
                    h.campaign
                ));
            }
        }
        if out.len() > found {
            timelines.push(timeline(log, *person, hs, &acks));
        }
    }
    (out, timelines)
}

/// A person's whole history, in time order: what to read when a promise broke.
fn timeline(log: &Log, person: i64, hs: &[&HandOut], acks: &[&Ack]) -> String {
    let name = |d: &usize| log.dialers.get(*d).cloned().unwrap_or_default();
    let mut events: Vec<(i64, String)> = Vec::new();
    for h in hs {
        events.push((
            h.start,
            format!(
                "lease to {} in {:?} until {} (received {}, id {})",
                h.dialer, h.campaign, h.expire, h.received, h.lease_id
            ),
        ));
    }
    for a in acks {
        events.push(match a {
            Ack::Mark(_, sent, ret) => (*sent, format!("DNC mark sent, returned {ret}")),
            Ack::Clear(_, sent, ret) => (*sent, format!("DNC clear sent, returned {ret}")),
            Ack::Release(_, d, sent) => (*sent, format!("release sent by {}", name(d))),
            Ack::Call(_, d, start, sent) => (
                *sent,
                format!("call by {} recorded (started {start})", name(d)),
            ),
        });
    }
    events.sort_by_key(|e| e.0);
    let mut out = format!("  timeline of {person}:");
    for (at, what) in events {
        out.push_str(&format!("\n    {at} {what}"));
    }
    out
}

fn ack_person(a: &Ack) -> i64 {
    match a {
        Ack::Mark(p, ..) | Ack::Clear(p, ..) | Ack::Release(p, ..) | Ack::Call(p, ..) => *p,
    }
}
