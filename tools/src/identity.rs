//! Secrets people hold: passwords (argon2id) and API tokens (random, stored as SHA-256 only).

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// The prefix every API token carries, so leaked tokens are easy to recognise in scanners.
pub const TOKEN_PREFIX: &str = "hmd_";

/// Hashes a password with argon2id and a fresh salt.
pub fn hash_password(password: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .unwrap_or_default()
}

/// Checks a password against a stored argon2 hash; a malformed hash never verifies.
pub fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// The working memory of one argon2 hash (about 19 MiB with the default parameters), allocated
/// once and reused. Argon2 otherwise allocates it afresh for every check, and the allocator keeps
/// the freed areas: a burst of failed sign-ins left a server at over a gigabyte. A fixed set of
/// these, one per hash allowed at a time, bounds the memory sign-in can ever take.
pub struct Argon2Memory(Vec<Block>);

impl Argon2Memory {
    /// Enough memory for hashes made with this crate's parameters (Argon2's defaults).
    pub fn new() -> Self {
        Argon2Memory(vec![Block::new(); Params::DEFAULT.block_count()])
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.0.len() * Block::SIZE
    }
}

impl Default for Argon2Memory {
    fn default() -> Self {
        Self::new()
    }
}

/// [`verify_password`] in reused memory. A stored hash with larger parameters than the memory
/// holds grows it once (hashes are made here with the defaults, so that does not happen in use).
pub fn verify_password_in(memory: &mut Argon2Memory, password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::try_from(parsed.algorithm),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(v)) => v,
        Some(Err(_)) => return false,
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    let blocks = params.block_count();
    if memory.0.len() < blocks {
        memory.0.resize(blocks, Block::new());
    }
    let mut out = vec![0u8; expected.len()];
    let hasher = Argon2::new(algorithm, version, params);
    if hasher
        .hash_password_into_with_memory(
            password.as_bytes(),
            salt,
            &mut out,
            &mut memory.0[..blocks],
        )
        .is_err()
    {
        return false;
    }
    // `Output`'s equality is constant-time.
    argon2::password_hash::Output::new(&out).is_ok_and(|o| o == expected)
}

/// A new random secret with the given prefix: 32 random bytes, hex-encoded.
pub fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// What the database stores for a token or session secret: its SHA-256.
pub fn secret_hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_round_trip_and_mismatch() {
        let h = hash_password("correct horse");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not-a-hash"));
    }

    #[test]
    fn reused_memory_verifies_like_argon2_itself() {
        let mut memory = Argon2Memory::new();
        assert_eq!(memory.bytes(), 19 * 1024 * 1024);
        let h = hash_password("correct horse");
        for _ in 0..2 {
            assert!(verify_password_in(&mut memory, "correct horse", &h));
            assert!(!verify_password_in(&mut memory, "wrong horse", &h));
        }
        assert!(!verify_password_in(&mut memory, "x", "not-a-hash"));
        // Hashes with other parameters (a smaller or a larger memory cost) still verify.
        for m in [64, 20 * 1024] {
            let params = Params::new(m, 1, 1, None).unwrap();
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(b"pw", &salt)
                .unwrap()
                .to_string();
            assert!(verify_password_in(&mut memory, "pw", &other), "m={m}");
            assert!(!verify_password_in(&mut memory, "pw2", &other), "m={m}");
        }
    }

    #[test]
    fn secrets_are_unique_and_hash_stably() {
        let a = new_secret(TOKEN_PREFIX);
        let b = new_secret(TOKEN_PREFIX);
        assert_ne!(a, b);
        assert!(a.starts_with("hmd_") && a.len() == 4 + 64);
        assert_eq!(secret_hash(&a), secret_hash(&a));
        assert_ne!(secret_hash(&a), secret_hash(&b));
    }
}
