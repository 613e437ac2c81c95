//! Pepper versions, for both backends (see the module docs of `crate::store`).

/// `PepperStore` for `$store`.
macro_rules! impl_pepper_store {
    ($store:ty) => {
        const _: () = {
            use async_trait::async_trait;
            use synaptiq_core::hash::KeyHash;
            use synaptiq_core::ids::KeyId;
            use synaptiq_types::time::Timestamp;

            use $crate::error::Result;
            use $crate::peppers::sql::{
                INSERT_PEPPER, PEPPER_FINGERPRINT, PEPPER_VERSIONS, REHASH_KEY, pepper_from_row,
            };
            use $crate::peppers::{PepperStore, PepperVersion};

            #[async_trait]
            impl PepperStore for $store {
                async fn record_pepper(&self, version: u16, fingerprint: &str) -> Result<String> {
                    sqlx::query(INSERT_PEPPER)
                        .bind(i32::from(version))
                        .bind(fingerprint)
                        .bind(Timestamp::now().millis())
                        .execute(self.writer())
                        .await?;
                    Ok(sqlx::query_scalar(PEPPER_FINGERPRINT)
                        .bind(i32::from(version))
                        .fetch_one(self.writer())
                        .await?)
                }

                async fn rehash_key(
                    &self,
                    id: &KeyId,
                    old: &KeyHash,
                    new: &KeyHash,
                    version: u16,
                ) -> Result<bool> {
                    Ok(sqlx::query(REHASH_KEY)
                        .bind(new.0.as_slice())
                        .bind(i32::from(version))
                        .bind(id.as_str())
                        .bind(old.0.as_slice())
                        .execute(self.writer())
                        .await?
                        .rows_affected()
                        == 1)
                }

                async fn pepper_versions(&self) -> Result<Vec<PepperVersion>> {
                    sqlx::query(PEPPER_VERSIONS)
                        .fetch_all(self.pool())
                        .await?
                        .iter()
                        .map(pepper_from_row)
                        .collect()
                }
            }
        };
    };
}
pub(crate) use impl_pepper_store;
