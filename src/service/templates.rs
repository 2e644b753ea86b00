//! Agent scripts rendered with a contact's fields ([`crate::domain::template`]).

use super::Services;
use crate::domain::template;
use crate::error::{Error, Result};
use crate::store;

impl Services {
    /// Renders an agent script with a contact's fields; see [`template`].
    pub async fn render_template(
        &self,
        account_id: &str,
        contact_id: i64,
        text: &str,
    ) -> Result<String> {
        let c = store::contacts::find(self.store.conn(), account_id, contact_id).await?;
        let custom = &c.custom_fields;
        let lookup = |name: &str| -> Option<String> {
            Some(match name {
                "phone" => c.phone.clone(),
                "first_name" => c.first_name.clone(),
                "last_name" => c.last_name.clone(),
                "email" => c.email.clone(),
                "company" => c.company.clone(),
                "title" => c.title.clone(),
                "time_zone" => c.time_zone.clone(),
                key => custom.get(key)?.clone(),
            })
        };
        template::render(text, lookup).map_err(|unknown| {
            let names: Vec<String> = unknown.iter().map(|n| format!("[{n}]")).collect();
            Error::invalid(
                "template",
                format!(
                    "unknown placeholder(s) {} (fields: phone, first_name, last_name, email, \
                     company, title, time_zone, or one of the contact's custom field keys; \
                     give a fallback as [name|text])",
                    names.join(", ")
                ),
            )
        })
    }
}
