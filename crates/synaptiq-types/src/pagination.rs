//! Pagination: `page` from 1, `limit` 1–100 (default 25), and the list envelope.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::FieldError;

/// Default page size.
pub const DEFAULT_LIMIT: u32 = 25;
/// Largest page size.
pub const MAX_LIMIT: u32 = 100;

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: u32,
    /// Items per page.
    pub limit: u32,
}

impl PageRequest {
    /// Validates raw `page`/`limit` query values.
    pub fn new(page: Option<u32>, limit: Option<u32>) -> Result<Self, FieldError> {
        let page = page.unwrap_or(1);
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=1_000_000).contains(&page) {
            return Err(FieldError::new(
                "page",
                "page must be between 1 and 1000000",
            ));
        }
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(FieldError::new("limit", "limit must be between 1 and 100"));
        }
        Ok(Self { page, limit })
    }

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        u64::from(self.page - 1) * u64::from(self.limit)
    }

    /// The pagination block for a result of `total` items.
    pub fn describe(&self, total: u64) -> Pagination {
        let limit = u64::from(self.limit);
        let total_pages = total.div_ceil(limit);
        Pagination {
            page: self.page,
            limit: self.limit,
            total,
            total_pages,
            has_more: u64::from(self.page) < total_pages,
        }
    }
}

/// Where a page sits in the whole list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Pagination {
    /// This page (from 1).
    pub page: u32,
    /// Page size.
    pub limit: u32,
    /// Items in the whole list.
    pub total: u64,
    /// Pages in the whole list.
    pub total_pages: u64,
    /// Whether a later page exists.
    pub has_more: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic() {
        let p = PageRequest::new(Some(2), Some(10)).expect("valid");
        assert_eq!(p.offset(), 10);
        let d = p.describe(25);
        assert_eq!((d.total_pages, d.has_more), (3, true));
        assert!(
            !PageRequest::new(Some(3), Some(10))
                .expect("valid")
                .describe(25)
                .has_more
        );
        assert_eq!(
            PageRequest::new(None, None)
                .expect("valid")
                .describe(0)
                .total_pages,
            0
        );
        assert_eq!(
            PageRequest::new(Some(0), None).map_err(|e| e.param),
            Err("page".into())
        );
        assert_eq!(
            PageRequest::new(None, Some(101)).map_err(|e| e.param),
            Err("limit".into())
        );
        assert_eq!(
            PageRequest::new(None, Some(0)).map_err(|e| e.param),
            Err("limit".into())
        );
    }
}
