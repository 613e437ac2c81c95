//! Pepper SQL and rows.

use super::PepperVersion;
use crate::db::{Cols, corrupt};
use crate::error::Result;

/// `record_pepper`'s insert: `$1` version, `$2` fingerprint, `$3` now. The first node wins.
pub(crate) const INSERT_PEPPER: &str = "INSERT INTO pepper_versions (version, fingerprint, \
    created_at) VALUES ($1, $2, $3) ON CONFLICT (version) DO NOTHING";

/// `rehash_key`: `$1` new hash, `$2` its pepper version, `$3` id, `$4` old hash.
pub(crate) const REHASH_KEY: &str =
    "UPDATE api_keys SET key_hash = $1, pepper_version = $2 WHERE id = $3 AND key_hash = $4";

/// The fingerprint recorded for `$1`.
pub(crate) const PEPPER_FINGERPRINT: &str =
    "SELECT fingerprint FROM pepper_versions WHERE version = $1";

/// Every version recorded or used by a key, with its fingerprint and usable keys.
pub(crate) const PEPPER_VERSIONS: &str = "SELECT v.version AS version, p.fingerprint AS \
    fingerprint, COALESCE(k.n, 0) AS keys \
    FROM (SELECT version FROM pepper_versions UNION SELECT pepper_version FROM api_keys) v \
    LEFT JOIN pepper_versions p ON p.version = v.version \
    LEFT JOIN (SELECT pepper_version, COUNT(*) AS n FROM api_keys \
               WHERE deleted_at IS NULL AND revoked_at IS NULL GROUP BY pepper_version) k \
      ON k.pepper_version = v.version \
    ORDER BY v.version";

/// A row of [`PEPPER_VERSIONS`].
pub(crate) fn pepper_from_row(row: &impl Cols) -> Result<PepperVersion> {
    Ok(PepperVersion {
        version: u16::try_from(row.int4("version")?).map_err(|_| corrupt("pepper version"))?,
        fingerprint: row.opt_text("fingerprint")?,
        keys: u64::try_from(row.int("keys")?).map_err(|_| corrupt("pepper key count"))?,
    })
}
