//! Secrets: random tokens, their hashes, password hashing, join codes.

use anyhow::{anyhow, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// Unambiguous upper-case letters and digits (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
pub const CODE_LEN: usize = 6;

pub fn random_bytes<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| anyhow!("the system random source failed: {e}"))?;
    Ok(out)
}

/// A fresh 256-bit secret, base64url without padding (cookie- and header-safe).
pub fn new_token() -> Result<String> {
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// What the database stores of a token: tokens are 256-bit random, so a
/// plain SHA-256 is enough (no salt or stretching needed) and lookups stay
/// indexable.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Compares secrets without an early exit.
pub fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Argon2id with the crate's default (OWASP) parameters. Slow on purpose:
/// call it off the async executor.
pub fn hash_password(password: &str) -> Result<String> {
    let salt = SaltString::encode_b64(&random_bytes::<16>()?).map_err(|e| anyhow!("salt: {e}"))?;
    Ok(Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| anyhow!("argon2: {e}"))?
        .to_string())
}

pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random join code of [`CODE_LEN`] characters from [`CODE_ALPHABET`]
/// (31^6 ≈ 8.9e8 codes; guessing is further limited per address).
pub fn new_join_code() -> Result<String> {
    let mut code = String::with_capacity(CODE_LEN);
    while code.len() < CODE_LEN {
        for b in random_bytes::<16>()? {
            // Rejection sampling keeps every character equally likely.
            let limit = 256 - 256 % CODE_ALPHABET.len();
            if (b as usize) < limit && code.len() < CODE_LEN {
                code.push(CODE_ALPHABET[b as usize % CODE_ALPHABET.len()] as char);
            }
        }
    }
    Ok(code)
}

/// What a student types, made comparable: case, spaces and dashes ignored.
pub fn normalize_join_code(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_uppercase)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_codes_use_the_alphabet_and_differ() {
        let a = new_join_code().expect("system randomness");
        let b = new_join_code().expect("system randomness");
        assert_eq!(a.len(), CODE_LEN);
        assert!(a.bytes().all(|c| CODE_ALPHABET.contains(&c)));
        assert_ne!(a, b);
        assert_eq!(normalize_join_code(" abc-23x "), "ABC23X");
    }

    #[test]
    fn passwords_verify_only_with_the_right_password() {
        let h = hash_password("correct horse").expect("argon2");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("correct hors", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn tokens_are_256_bit_and_hashes_hex() {
        let t = new_token().expect("system randomness");
        assert_eq!(t.len(), 43);
        assert_eq!(token_hash(&t).len(), 64);
        assert!(ct_eq(&t, &t.clone()));
        assert!(!ct_eq(&t, &new_token().expect("system randomness")));
    }
}
