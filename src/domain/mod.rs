//! Domain values parsed once at the edge: a [`Phone`] is always E.164, an [`Email`] is
//! always well-formed, a [`Plan`] always has its limit. Code past the edge never re-checks.

pub mod account;
pub mod apikey;
pub mod batch;
pub mod bulk;
pub mod call;
pub mod callback;
pub mod calling_hours;
pub mod clock;
pub mod consent;
pub mod contact;
pub mod dialing;
pub mod dnc;
pub mod email;
pub mod filter;
pub mod phone;
pub mod place;
pub mod plan;
pub mod region;
pub mod template;
pub mod timezone;
pub mod zone_tables;

pub use account::Account;
pub use clock::{Clock, SystemClock};
pub use contact::{Contact, ContactDraft, NewContact};
pub use email::Email;
pub use filter::{ContactFilter, ContactStatus, SearchQuery, Selection};
pub use phone::{Phone, PhoneError, Validation};
pub use plan::Plan;
pub use region::Region;
