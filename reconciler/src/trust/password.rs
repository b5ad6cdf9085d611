//! Passwords: hashed with argon2id (the `argon2` crate's defaults, which
//! follow OWASP's recommendation: 19 MiB, 2 passes, 1 lane) as PHC strings.
//! Hashing takes tens of milliseconds on purpose, so it runs off the async
//! threads.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// Longest password accepted, in characters: hashing is slow on purpose,
/// and a megabyte "password" should not get to make it slower.
pub const MAX_LEN: usize = 1024;
pub const MIN_LEN: usize = 8;

/// Why a new password is refused, as a message with its fix. (Only length:
/// composition rules make passwords worse, per NIST SP 800-63B.)
pub fn check_new(password: &str) -> Result<(), String> {
    if password.chars().count() < MIN_LEN {
        return Err(format!(
            "the password is shorter than {MIN_LEN} characters (hint: use a longer one, a passphrase works well)"
        ));
    }
    if password.chars().count() > MAX_LEN {
        return Err(format!("the password is longer than {MAX_LEN} characters"));
    }
    Ok(())
}

pub async fn hash(password: &str) -> String {
    let password = password.to_string();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).expect("16 bytes make a valid salt");
        Argon2::default().hash_password(password.as_bytes(), &salt).expect("argon2 hashes any password").to_string()
    })
    .await
    .expect("the hashing task")
}

/// Whether `password` matches `stored` (a PHC string); `None` checks
/// against a hash of nothing, so an unknown user costs as long as a known one.
pub async fn verify(password: &str, stored: Option<&str>) -> bool {
    let (password, stored) = (password.to_string(), stored.map(String::from));
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| DUMMY.to_string());
        let Ok(parsed) = PasswordHash::new(&phc) else { return false };
        Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok() && known
    })
    .await
    .unwrap_or(false)
}

/// An argon2id hash with the default parameters, of no password anyone has.
const DUMMY: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$JDrk1EJV4CRf9vbf3QY1P7VDCr6cLg10kXVSjETQc6Y";

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse battery").await;
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify("correct horse battery", Some(&h)).await);
        assert!(!verify("wrong horse battery", Some(&h)).await);
        assert!(!verify("correct horse battery", None).await);
    }

    #[test]
    fn the_dummy_hash_has_the_parameters_of_real_ones() {
        let real =
            Argon2::default().hash_password(b"x", &SaltString::encode_b64(&[1; 16]).unwrap()).unwrap().to_string();
        let params = |s: &str| s.split('$').nth(3).unwrap().to_string();
        assert_eq!(params(DUMMY), params(&real));
    }

    #[test]
    fn short_and_huge_passwords_are_refused_with_a_reason() {
        assert!(check_new("short").unwrap_err().contains("shorter than 8"));
        assert!(check_new(&"x".repeat(1025)).unwrap_err().contains("longer than 1024"));
        assert!(check_new("a fine passphrase").is_ok());
    }
}
