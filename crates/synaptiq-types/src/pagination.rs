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
    use proptest::prelude::*;

    proptest! {
        /// `new` accepts exactly page 1–1000000 and limit 1–100 (absent: 1 and 25), and names
        /// the first offending parameter.
        #[test]
        fn new_accepts_exactly_the_documented_ranges(
            page in proptest::option::of(any::<u32>()),
            limit in proptest::option::of(any::<u32>()),
        ) {
            let (p, l) = (page.unwrap_or(1), limit.unwrap_or(DEFAULT_LIMIT));
            match PageRequest::new(page, limit) {
                Ok(r) => {
                    prop_assert!((1..=1_000_000).contains(&p) && (1..=MAX_LIMIT).contains(&l));
                    prop_assert_eq!((r.page, r.limit), (p, l));
                }
                Err(e) if !(1..=1_000_000).contains(&p) => prop_assert_eq!(e.param, "page"),
                Err(e) => {
                    prop_assert!(!(1..=MAX_LIMIT).contains(&l));
                    prop_assert_eq!(e.param, "limit");
                }
            }
        }

        /// For any valid page, limit and total: the offset skips the earlier pages, the page
        /// count covers every item without an empty last page, and `hasMore` says whether
        /// items remain after this page.
        #[test]
        fn describe_and_offset_agree(
            page in 1u32..=1_000_000,
            limit in 1u32..=MAX_LIMIT,
            total in prop_oneof![0u64..1_000, 0u64..u64::MAX / 200],
        ) {
            let r = PageRequest::new(Some(page), Some(limit)).expect("valid");
            let (p, l) = (u64::from(page), u64::from(limit));
            prop_assert_eq!(r.offset(), (p - 1) * l);
            let d = r.describe(total);
            prop_assert_eq!((d.page, d.limit, d.total), (page, limit, total));
            prop_assert!(d.total_pages * l >= total);
            if total > 0 {
                prop_assert!((d.total_pages - 1) * l < total);
            } else {
                prop_assert_eq!(d.total_pages, 0);
            }
            prop_assert_eq!(d.has_more, r.offset() + l < total);
            prop_assert_eq!(d.has_more, p < d.total_pages);
            // Items on this page: a full page before the last, the rest on it, none after.
            let on_page = total.saturating_sub(r.offset()).min(l);
            if d.has_more {
                prop_assert_eq!(on_page, l);
            }
            prop_assert_eq!(on_page > 0, p <= d.total_pages);
        }
    }

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
