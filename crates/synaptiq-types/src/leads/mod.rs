//! The Leads resource.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::time::Timestamp;
use crate::validate::{self, FieldError};

mod query;
pub use query::*;

/// Longest `name`, `company` and `title`, in characters.
pub const TEXT_MAX: usize = 200;
/// Longest `phone`, in characters.
pub const PHONE_MAX: usize = 50;
/// Most tags on a lead.
pub const TAGS_MAX: usize = 50;
/// Longest tag, in characters.
pub const TAG_MAX: usize = 64;
/// Most custom fields on a lead.
pub const CUSTOM_FIELDS_MAX: usize = 50;
/// Longest custom field name, in characters.
pub const CUSTOM_NAME_MAX: usize = 64;
/// Longest custom field value, in characters.
pub const CUSTOM_VALUE_MAX: usize = 1000;
/// Highest score.
pub const SCORE_MAX: u8 = 100;
/// Longest search text, in characters.
pub const SEARCH_MAX: usize = 200;

/// Where a lead is in the funnel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LeadStatus {
    /// Just captured.
    New,
    /// Qualified by the agent or a person.
    Qualified,
    /// Contacted by sales.
    Contacted,
    /// Became a customer.
    Converted,
    /// Lost.
    Lost,
}

/// How a lead was captured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LeadSource {
    /// Captured by the chat agent.
    Chat,
    /// Created through the API.
    Api,
    /// Imported.
    Import,
    /// From a web form.
    Form,
}

macro_rules! wire_names {
    ($t:ty { $($v:ident = $s:literal),* $(,)? }) => {
        impl $t {
            /// The wire and storage name.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
            /// Parses the wire name.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(Self::$v),)* _ => None }
            }
        }
    };
}
wire_names!(LeadStatus { New = "new", Qualified = "qualified", Contacted = "contacted", Converted = "converted", Lost = "lost" });
wire_names!(LeadSource { Chat = "chat", Api = "api", Import = "import", Form = "form" });
wire_names!(LeadSortBy { CreatedAt = "createdAt", UpdatedAt = "updatedAt", Score = "score" });
wire_names!(SortOrder { Asc = "asc", Desc = "desc" });

/// A lead, as returned by the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({
    "id": "lead_01HQ3VXK9BWMN4F6T2P8R5GYSC", "email": "jane@acme.io", "name": "Jane Doe",
    "company": "Acme", "title": "CTO", "phone": "+1 555 0100", "status": "new", "score": 42,
    "source": "api", "tags": ["inbound"], "customFields": {"crmId": "123"},
    "firstSeenAt": "2026-04-01T09:15:00.000Z", "lastActiveAt": "2026-04-01T09:15:00.000Z",
    "createdAt": "2026-04-01T09:15:00.000Z", "updatedAt": "2026-04-01T09:15:00.000Z"}))]
pub struct Lead {
    /// `lead_` + ULID.
    pub id: String,
    /// Unique per organization and environment.
    pub email: String,
    /// Full name.
    pub name: Option<String>,
    /// Company name.
    pub company: Option<String>,
    /// Job title.
    pub title: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Funnel status.
    pub status: LeadStatus,
    /// Qualification score, 0–100.
    pub score: u8,
    /// How the lead was captured.
    pub source: LeadSource,
    /// Free-form tags.
    pub tags: Vec<String>,
    /// Free-form string fields.
    pub custom_fields: BTreeMap<String, String>,
    /// First contact.
    #[schema(value_type = String, format = DateTime)]
    pub first_seen_at: Timestamp,
    /// Last activity.
    #[schema(value_type = String, format = DateTime)]
    pub last_active_at: Timestamp,
    /// Creation time.
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    /// Last change.
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

/// `POST /api/v1/leads`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"email": "jane@acme.io", "name": "Jane Doe", "company": "Acme", "score": 42, "tags": ["inbound"]}))]
pub struct CreateLead {
    /// Required; a valid email address, unique per organization and environment.
    pub email: String,
    /// Full name (≤ 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Company (≤ 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    /// Job title (≤ 200 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Phone (≤ 50 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Up to 50 tags of ≤ 64 characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Up to 50 string fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<BTreeMap<String, String>>,
    /// Defaults to `new`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LeadStatus>,
    /// 0–100, defaults to 0.
    #[serde(
        default,
        deserialize_with = "validate::optional_integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub score: Option<u8>,
}

/// `PATCH /api/v1/leads/{id}`: only the fields present change; `null` clears an optional
/// text field.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"status": "qualified", "score": 80}))]
pub struct UpdateLead {
    /// New email (must stay unique).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// New name, or `null` to clear.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// New company, or `null` to clear.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub company: Option<Option<String>>,
    /// New title, or `null` to clear.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub title: Option<Option<String>>,
    /// New phone, or `null` to clear.
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// Replaces the tags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    /// Replaces the custom fields.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_fields: Option<BTreeMap<String, String>>,
    /// New status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<LeadStatus>,
    /// New score, 0–100.
    #[serde(
        default,
        deserialize_with = "validate::optional_integer",
        skip_serializing_if = "Option::is_none"
    )]
    pub score: Option<u8>,
}

/// Distinguishes an absent field (`None`) from an explicit `null` (`Some(None)`).
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

fn check_text(param: &str, v: Option<&String>, max: usize) -> Result<(), FieldError> {
    v.map_or(Ok(()), |s| validate::text(param, s, max))
}

fn check_tags(tags: Option<&Vec<String>>) -> Result<(), FieldError> {
    let Some(tags) = tags else { return Ok(()) };
    if tags.len() > TAGS_MAX {
        return Err(FieldError::new("tags", "at most 50 tags"));
    }
    for t in tags {
        if t.is_empty() {
            return Err(FieldError::new("tags", "tags must not be empty"));
        }
        validate::text("tags", t, TAG_MAX)?;
    }
    Ok(())
}

fn check_custom(fields: Option<&BTreeMap<String, String>>) -> Result<(), FieldError> {
    let Some(fields) = fields else { return Ok(()) };
    if fields.len() > CUSTOM_FIELDS_MAX {
        return Err(FieldError::new("customFields", "at most 50 custom fields"));
    }
    for (k, v) in fields {
        if k.is_empty() {
            return Err(FieldError::new(
                "customFields",
                "custom field names must not be empty",
            ));
        }
        validate::text("customFields", k, CUSTOM_NAME_MAX)?;
        validate::text("customFields", v, CUSTOM_VALUE_MAX)?;
    }
    Ok(())
}

fn check_score(score: Option<u8>) -> Result<(), FieldError> {
    match score {
        Some(s) if s > SCORE_MAX => {
            Err(FieldError::new("score", "score must be between 0 and 100"))
        }
        _ => Ok(()),
    }
}

impl CreateLead {
    /// Checks every field; the first failure names its field.
    pub fn validate(&self) -> Result<(), FieldError> {
        validate::email("email", &self.email)?;
        check_text("name", self.name.as_ref(), TEXT_MAX)?;
        check_text("company", self.company.as_ref(), TEXT_MAX)?;
        check_text("title", self.title.as_ref(), TEXT_MAX)?;
        check_text("phone", self.phone.as_ref(), PHONE_MAX)?;
        check_tags(self.tags.as_ref())?;
        check_custom(self.custom_fields.as_ref())?;
        check_score(self.score)
    }
}

impl UpdateLead {
    /// Checks every present field.
    pub fn validate(&self) -> Result<(), FieldError> {
        if let Some(e) = &self.email {
            validate::email("email", e)?;
        }
        check_text(
            "name",
            self.name.as_ref().and_then(Option::as_ref),
            TEXT_MAX,
        )?;
        check_text(
            "company",
            self.company.as_ref().and_then(Option::as_ref),
            TEXT_MAX,
        )?;
        check_text(
            "title",
            self.title.as_ref().and_then(Option::as_ref),
            TEXT_MAX,
        )?;
        check_text(
            "phone",
            self.phone.as_ref().and_then(Option::as_ref),
            PHONE_MAX,
        )?;
        check_tags(self.tags.as_ref())?;
        check_custom(self.custom_fields.as_ref())?;
        check_score(self.score)
    }
}

/// What the validators of this module enforce, as JSON Schema keywords for the OpenAPI
/// document: (component schema, property, keywords). The derive cannot say these.
pub fn schema_constraints() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    use serde_json::json;
    let mut out = Vec::new();
    let text = |max: usize| json!({"maxLength": max, "pattern": validate::NO_NUL_PATTERN});
    for schema in ["CreateLead", "UpdateLead"] {
        out.extend([
            (
                schema,
                "email",
                json!({"pattern": validate::EMAIL_PATTERN, "maxLength": 254}),
            ),
            (schema, "name", text(TEXT_MAX)),
            (schema, "company", text(TEXT_MAX)),
            (schema, "title", text(TEXT_MAX)),
            (schema, "phone", text(PHONE_MAX)),
            (
                schema,
                "tags",
                json!({"maxItems": TAGS_MAX,
                       "items": {"minLength": 1, "maxLength": TAG_MAX,
                                 "pattern": validate::NO_NUL_PATTERN}}),
            ),
            (
                schema,
                "customFields",
                json!({"maxProperties": CUSTOM_FIELDS_MAX,
                       "propertyNames": {"minLength": 1, "maxLength": CUSTOM_NAME_MAX,
                                         "pattern": validate::NO_NUL_PATTERN},
                       "additionalProperties": text(CUSTOM_VALUE_MAX)}),
            ),
            (schema, "score", json!({"minimum": 0, "maximum": SCORE_MAX})),
        ]);
    }
    out
}
