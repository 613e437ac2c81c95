//! Dashboard sign-in and sessions: a random 256-bit token the browser keeps, and a stored
//! row holding only the token's SHA-256 (a database leak yields no usable cookie).
//!
//! A sign-in checks the password (argon2id, off the async threads; an unknown email costs the
//! same dummy verification, so timing tells nothing), ends the session the browser presented
//! (no fixation), sweeps expired sessions and starts a new one of [`LIFETIME_SECS`].

use sha2::{Digest, Sha256};
use synaptiq_store::{NewSession, SessionHash, StoreError, UserRecord};
use synaptiq_types::time::Timestamp;

use crate::Services;

/// How long a session lasts after sign-in (absolute, not sliding).
pub const LIFETIME_SECS: i64 = 7 * 24 * 3600;

/// A freshly generated session token: the cookie value, shown to the browser only. `Debug`
/// is redacted.
pub struct SessionToken(String);

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

impl SessionToken {
    /// 32 bytes from the OS CSPRNG, hex-encoded.
    pub fn generate() -> Result<Self, StoreError> {
        let mut raw = [0u8; 32];
        getrandom::fill(&mut raw)
            .map_err(|e| StoreError::Internal(format!("OS random generator failed: {e}")))?;
        Ok(Self(hex::encode(raw)))
    }

    /// The cookie value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether `s` has the shape of a token (64 lowercase hex characters); anything else is
/// never looked up.
pub fn well_formed(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// What the session table stores instead of the token.
pub fn hash_token(token: &str) -> SessionHash {
    SessionHash(Sha256::digest(token.as_bytes()).into())
}

/// An email as sign-in compares it (and as its throttle counts it).
pub fn normalize_email(typed: &str) -> String {
    typed.trim().to_lowercase()
}

/// A sign-in attempt.
pub struct SignIn<'a> {
    /// The email, normalized ([`normalize_email`]).
    pub email: &'a str,
    /// The password typed.
    pub password: &'a str,
    /// The session token this browser presented, if any: it ends.
    pub previous: Option<&'a str>,
    /// The client address, kept with the session.
    pub ip: String,
    /// The user agent (at most 256 characters are kept).
    pub user_agent: Option<&'a str>,
}

/// Why a sign-in did not happen.
#[derive(Debug)]
pub enum SignInError {
    /// Unknown email or wrong password (one answer for both).
    Incorrect,
    /// Storage failed.
    Store(StoreError),
}

impl From<StoreError> for SignInError {
    fn from(e: StoreError) -> Self {
        SignInError::Store(e)
    }
}

impl Services {
    /// Signs a dashboard user in: their record and the new session's token.
    pub async fn sign_in(
        &self,
        attempt: SignIn<'_>,
    ) -> Result<(UserRecord, SessionToken), SignInError> {
        // No account's email holds U+0000 (PostgreSQL cannot even compare with it): such an
        // address is answered like any unknown one, the same dummy verification included.
        let user = if attempt.email.contains('\0') {
            None
        } else {
            self.store.find_user_by_email(attempt.email).await?
        };
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let password = attempt.password.to_owned();
        let ok = tokio::task::spawn_blocking(move || match stored {
            Some(h) => synaptiq_core::password::verify(&password, &h),
            None => synaptiq_core::password::verify_dummy(&password),
        })
        .await
        .unwrap_or(false);
        let Some(user) = user.filter(|_| ok) else {
            return Err(SignInError::Incorrect);
        };
        let now = Timestamp::now();
        // Rotation: whatever session this browser had ends; the new one gets a new id.
        if let Some(old) = attempt.previous.filter(|t| well_formed(t)) {
            self.store.delete_session(&hash_token(old)).await?;
        }
        if let Err(e) = self.store.delete_expired_sessions(now).await {
            tracing::debug!(error = %e, "could not sweep expired sessions");
        }
        let token = SessionToken::generate()?;
        self.store
            .create_session(NewSession {
                id_hash: hash_token(token.expose()),
                user_id: user.id.clone(),
                created_at: now,
                expires_at: now.plus_seconds(LIFETIME_SECS),
                ip: Some(attempt.ip),
                user_agent: attempt.user_agent.map(|s| s.chars().take(256).collect()),
            })
            .await?;
        tracing::info!(user_id = %user.id, "dashboard sign-in");
        Ok((user, token))
    }

    /// Ends a session: the row is deleted, so the cookie is worthless even if a copy
    /// survives.
    pub async fn sign_out(&self, session: &SessionHash) -> Result<(), StoreError> {
        self.store.delete_session(session).await?;
        Ok(())
    }
}
