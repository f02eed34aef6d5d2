//! Secrets stored for tenants (Twilio auth tokens, later bot tokens), encrypted at rest with
//! XChaCha20-Poly1305 under one 32-byte server key (`HEIMDELL_SECRET_KEY`, hex or base64).
//!
//! A sealed secret is text: `sealed:v1:` followed by the URL-safe base64 (no padding) of the
//! 24-byte random nonce and the ciphertext with its tag. Every seal is bound to associated data
//! (see [`secret_aad`]): the tenant and what the secret is for, so a sealed value copied to
//! another tenant or another purpose does not open.
//!
//! Plaintext secrets only ever live in [`SecretString`]s (redacted in `Debug`); the key itself
//! is never printed either.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, Generate, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use secrecy::SecretString;
use serde_json::Value;
use uuid::Uuid;

/// What every sealed value starts with.
pub const SEALED_PREFIX: &str = "sealed:v1:";

/// What callers see instead of a sealed value.
pub const REDACTED: &str = "[encrypted]";

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// `HEIMDELL_SECRET_KEY` is not 32 bytes of hex or base64.
    #[error(
        "the secret key must be 32 bytes written as 64 hex digits or in base64 ({0}); generate one with `openssl rand -hex 32`"
    )]
    BadKey(String),
    /// The value is not a `sealed:v1:` string.
    #[error("the value is not a sealed secret")]
    NotSealed,
    /// The sealed value was cut short or altered, sealed under another key, or sealed for
    /// another tenant or purpose.
    #[error(
        "the sealed secret does not open with this key (wrong key, tenant or purpose, or altered)"
    )]
    Inauthentic,
    /// The random number generator failed (practically never).
    #[error("no randomness available for a nonce")]
    Random,
}

/// The server's key for secrets at rest.
#[derive(Clone)]
pub struct SecretKey(Key);

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}

impl SecretKey {
    /// Reads a key written as 64 hex digits or as base64 (standard or URL-safe, padded or
    /// not) of exactly 32 bytes. Surrounding whitespace is ignored.
    pub fn parse(text: &str) -> Result<SecretKey, CryptoError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(CryptoError::BadKey("it is empty".into()));
        }
        let bytes = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            hex::decode(t).map_err(|e| CryptoError::BadKey(e.to_string()))?
        } else {
            [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD]
                .iter()
                .find_map(|engine| engine.decode(t).ok())
                .ok_or_else(|| CryptoError::BadKey("it is neither hex nor base64".into()))?
        };
        let array: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            CryptoError::BadKey(format!("it decodes to {} bytes, not 32", bytes.len()))
        })?;
        Ok(SecretKey::from_bytes(array))
    }

    pub fn from_bytes(bytes: [u8; 32]) -> SecretKey {
        SecretKey(Key::from(bytes))
    }

    /// A fresh random key (tests, and `openssl rand -hex 32` without openssl).
    pub fn generate() -> SecretKey {
        SecretKey(Key::generate())
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0)
    }

    /// Encrypts `plaintext` bound to `aad`; a fresh random nonce each time.
    pub fn seal(&self, plaintext: &str, aad: &[u8]) -> Result<String, CryptoError> {
        let nonce = XNonce::try_generate().map_err(|_| CryptoError::Random)?;
        let sealed = self
            .cipher()
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext.as_bytes(),
                    aad,
                },
            )
            .map_err(|_| CryptoError::Random)?;
        let mut raw = Vec::with_capacity(NONCE_LEN + sealed.len());
        raw.extend_from_slice(nonce.as_slice());
        raw.extend_from_slice(&sealed);
        Ok(format!("{SEALED_PREFIX}{}", URL_SAFE_NO_PAD.encode(raw)))
    }

    /// Decrypts a value made by [`Self::seal`] with the same `aad`.
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<SecretString, CryptoError> {
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(CryptoError::NotSealed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(encoded)
            .map_err(|_| CryptoError::Inauthentic)?;
        if raw.len() < NONCE_LEN + TAG_LEN {
            return Err(CryptoError::Inauthentic);
        }
        let (nonce, body) = raw.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| CryptoError::Inauthentic)?;
        let plain = self
            .cipher()
            .decrypt(&nonce, Payload { msg: body, aad })
            .map_err(|_| CryptoError::Inauthentic)?;
        String::from_utf8(plain)
            .map(SecretString::from)
            .map_err(|_| CryptoError::Inauthentic)
    }
}

/// The associated data a tenant's secret is sealed with: the tenant and what it is for
/// (e.g. `connect_twilio.auth_token`).
pub fn secret_aad(tenant_id: Uuid, purpose: &str) -> Vec<u8> {
    format!("heimdell:{tenant_id}:{purpose}").into_bytes()
}

/// Whether a JSON string is a sealed secret.
pub fn is_sealed(text: &str) -> bool {
    text.starts_with(SEALED_PREFIX)
}

/// Replaces every sealed string inside `value` (at any depth) with [`REDACTED`], for showing
/// stored arguments to people and models.
pub fn redact_sealed(value: &mut Value) {
    match value {
        Value::String(s) if is_sealed(s) => *s = REDACTED.to_string(),
        Value::Array(items) => items.iter_mut().for_each(redact_sealed),
        Value::Object(map) => map.values_mut().for_each(redact_sealed),
        _ => {}
    }
}

/// A copy of `value` with sealed strings redacted.
pub fn redacted(value: &Value) -> Value {
    let mut v = value.clone();
    redact_sealed(&mut v);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn seal_and_open_round_trip_bound_to_the_aad() {
        let key = SecretKey::generate();
        let tenant = Uuid::now_v7();
        let aad = secret_aad(tenant, "connect_twilio.auth_token");
        let sealed = key.seal("tok-123", &aad).unwrap();
        assert!(sealed.starts_with(SEALED_PREFIX));
        assert!(!sealed.contains("tok-123"));
        assert_ne!(sealed, key.seal("tok-123", &aad).unwrap(), "fresh nonce");
        assert_eq!(key.open(&sealed, &aad).unwrap().expose_secret(), "tok-123");
        // Another tenant, another purpose, another key, or a flipped bit: nothing opens.
        let other = secret_aad(Uuid::now_v7(), "connect_twilio.auth_token");
        assert_eq!(
            key.open(&sealed, &other).err(),
            Some(CryptoError::Inauthentic)
        );
        assert_eq!(
            key.open(&sealed, &secret_aad(tenant, "other")).err(),
            Some(CryptoError::Inauthentic)
        );
        assert_eq!(
            SecretKey::generate().open(&sealed, &aad).err(),
            Some(CryptoError::Inauthentic)
        );
        let mut altered = sealed.clone().into_bytes();
        let last = altered.len() - 3;
        altered[last] = if altered[last] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(altered).unwrap();
        assert_eq!(
            key.open(&altered, &aad).err(),
            Some(CryptoError::Inauthentic)
        );
        assert_eq!(key.open("plain", &aad).err(), Some(CryptoError::NotSealed));
        assert_eq!(
            key.open("sealed:v1:AAAA", &aad).err(),
            Some(CryptoError::Inauthentic)
        );
    }

    #[test]
    fn keys_parse_from_hex_or_base64_of_32_bytes() {
        let hex_key = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
        let a = SecretKey::parse(hex_key).unwrap();
        let b64 = STANDARD.encode(hex::decode(hex_key).unwrap());
        let b = SecretKey::parse(&format!("  {b64}\n")).unwrap();
        let sealed = a.seal("x", b"aad").unwrap();
        assert_eq!(b.open(&sealed, b"aad").unwrap().expose_secret(), "x");
        for bad in ["", "abc", "00112233", &STANDARD.encode([1u8; 16])] {
            assert!(
                matches!(SecretKey::parse(bad), Err(CryptoError::BadKey(_))),
                "{bad}"
            );
        }
        assert_eq!(format!("{a:?}"), "SecretKey([redacted])");
    }

    #[test]
    fn redaction_reaches_nested_values() {
        let key = SecretKey::generate();
        let sealed = key.seal("t", b"a").unwrap();
        let v = serde_json::json!({"auth_token": sealed, "list": [sealed], "sid": "AC1"});
        let r = redacted(&v);
        assert_eq!(r["auth_token"], REDACTED);
        assert_eq!(r["list"][0], REDACTED);
        assert_eq!(r["sid"], "AC1");
    }
}
