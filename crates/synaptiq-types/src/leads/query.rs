//! Listing and searching leads: sort keys, query parameters and the page of leads.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Lead, LeadSource, LeadStatus, SEARCH_MAX};
use crate::pagination::Pagination;
use crate::time::Timestamp;
use crate::validate::{self, FieldError};

/// Sort key for lead lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum LeadSortBy {
    /// Creation time (default).
    #[serde(rename = "createdAt")]
    CreatedAt,
    /// Last change.
    #[serde(rename = "updatedAt")]
    UpdatedAt,
    /// Score.
    #[serde(rename = "score")]
    Score,
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SortOrder {
    /// Ascending.
    Asc,
    /// Descending (default).
    Desc,
}

/// Query parameters of `GET /api/v1/leads`. `Serialize`: the server's page cache keys a page
/// by the whole query, so every field (a future filter too) is part of the key.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeadListQuery {
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u32>,
    /// Page size, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// Only leads with this status.
    pub status: Option<LeadStatus>,
    /// Only leads from this source.
    pub source: Option<LeadSource>,
    /// Sort key (default `createdAt`).
    pub sort_by: Option<LeadSortBy>,
    /// Sort direction (default `desc`).
    pub sort_order: Option<SortOrder>,
    /// Only leads created at or after this instant.
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_after: Option<Timestamp>,
    /// Only leads created before this instant.
    #[param(value_type = Option<String>, format = DateTime)]
    pub created_before: Option<Timestamp>,
}

/// Query parameters of `GET /api/v1/leads/search` (`Serialize`: see [`LeadListQuery`]).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeadSearchQuery {
    /// Text to find in name, email or company (1–200 characters).
    #[param(min_length = 1, max_length = 200)]
    pub q: String,
    /// Page number, from 1.
    #[param(minimum = 1, maximum = 1000000)]
    pub page: Option<u32>,
    /// Page size, 1–100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

impl LeadSearchQuery {
    /// The text to search for, trimmed: 1–200 characters, not blank, without U+0000.
    pub fn needle(&self) -> Result<&str, FieldError> {
        let needle = self.q.trim();
        if needle.is_empty() || self.q.chars().count() > SEARCH_MAX {
            return Err(FieldError::new("q", "q must be 1 to 200 characters."));
        }
        validate::no_nul("q", needle)?;
        Ok(needle)
    }
}

/// Query parameters this module validates beyond their type: (parameter, JSON Schema keywords).
pub fn query_constraints() -> Vec<(&'static str, serde_json::Value)> {
    vec![(
        "q",
        serde_json::json!({"pattern": validate::NOT_BLANK_TEXT_PATTERN}),
    )]
}

/// A page of leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LeadList {
    /// The leads on this page.
    pub data: Vec<Lead>,
    /// Where this page sits.
    pub pagination: Pagination,
}
