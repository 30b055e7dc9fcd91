//! kcp-go's packet ciphers: key derivation, CFB with a fixed IV over the whole datagram, and the
//! `xor`/`none` pseudo-ciphers.
//!
//! kcp-go encrypts every datagram, nonce included, with full-block CFB and a constant IV; the random
//! 16-byte nonce in the first block is what makes ciphertexts differ. Output is byte-identical to Go's
//! `cipher.NewCFBEncrypter(block, iv)`.

use std::fmt;
use std::sync::Arc;

use aes::{Aes128, Aes192, Aes256};
use cfb_mode::cipher::{AsyncStreamCipher, BlockCipher, BlockEncrypt, InnerIvInit, KeyInit};
use sha1::Sha1;

use crate::error::ConfigError;

/// kcp-go's fixed CFB IV (the first 8 bytes for 64-bit block ciphers).
pub const IV: [u8; 16] = [
    0xa7, 0x73, 0x4f, 0x9c, 0x12, 0xac, 0x1b, 0x01, 0xa4, 0x15, 0xf2, 0xc1, 0xfc, 0x78, 0xe6, 0x6b,
];
/// Salt of the password-to-key derivation.
pub const KEY_SALT: &[u8] = b"kcp-go";
/// PBKDF2 rounds of the password-to-key derivation.
pub const KEY_ROUNDS: u32 = 4096;
const XOR_SALT: &[u8] = b"sH3CIVoF#rWLtJo6";
const XOR_TABLE_LEN: usize = 1500;

/// The cipher names upstream accepts, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptMethod {
    /// `aes-128`: first 16 key bytes.
    Aes128,
    /// `aes-192`: first 24 key bytes.
    Aes192,
    /// `aes`, empty or any unknown name: all 32 key bytes.
    Aes256,
    /// `xor`: XOR with a 1500-byte table derived from the key (obfuscation, not encryption).
    Xor,
    /// `none`: no transformation; the nonce/CRC header is still sent.
    None,
}

impl CryptMethod {
    /// Resolves an upstream cipher name. Names upstream supports but gost-rs does not (salsa20,
    /// blowfish, twofish, cast5, 3des, xtea, tea, sm4) are an error rather than a silent AES
    /// fallback, because the peer would use that cipher and nothing would decrypt.
    pub fn from_name(name: &str) -> Result<Self, ConfigError> {
        Ok(match name {
            "aes-128" => CryptMethod::Aes128,
            "aes-192" => CryptMethod::Aes192,
            "xor" => CryptMethod::Xor,
            "none" => CryptMethod::None,
            "salsa20" | "blowfish" | "twofish" | "cast5" | "3des" | "xtea" | "tea" | "sm4" => {
                return Err(ConfigError::Unsupported(format!("crypt `{name}`")));
            }
            _ => CryptMethod::Aes256,
        })
    }
}

/// Derives kcp-go's 32-byte key: PBKDF2-HMAC-SHA1(password, "kcp-go", 4096 rounds).
pub fn derive_key(password: &str) -> [u8; 32] {
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha1>(password.as_bytes(), KEY_SALT, KEY_ROUNDS, &mut key);
    key
}

#[derive(Clone)]
enum Inner {
    Aes128(Aes128),
    Aes192(Aes192),
    Aes256(Aes256),
    Xor(Arc<[u8; XOR_TABLE_LEN]>),
    None,
}

/// A ready packet cipher (key schedule done). Cheap to clone.
#[derive(Clone)]
pub struct BlockCrypt {
    method: CryptMethod,
    inner: Inner,
}

impl fmt::Debug for BlockCrypt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlockCrypt")
            .field("method", &self.method)
            .finish_non_exhaustive()
    }
}

impl BlockCrypt {
    /// Builds the cipher for `method` from the password (runs the PBKDF2 derivation).
    pub fn new(method: CryptMethod, password: &str) -> Self {
        Self::with_key(method, &derive_key(password))
    }

    /// Builds the cipher from an already derived 32-byte key.
    pub fn with_key(method: CryptMethod, key: &[u8; 32]) -> Self {
        let inner = match method {
            CryptMethod::Aes128 => Inner::Aes128(Aes128::new(key[..16].into())),
            CryptMethod::Aes192 => Inner::Aes192(Aes192::new(key[..24].into())),
            CryptMethod::Aes256 => Inner::Aes256(Aes256::new(key.into())),
            CryptMethod::Xor => {
                let mut table = [0u8; XOR_TABLE_LEN];
                pbkdf2::pbkdf2_hmac::<Sha1>(key, XOR_SALT, 32, &mut table);
                Inner::Xor(Arc::new(table))
            }
            CryptMethod::None => Inner::None,
        };
        BlockCrypt { method, inner }
    }

    /// The method this cipher implements.
    pub fn method(&self) -> CryptMethod {
        self.method
    }

    /// Encrypts a whole datagram in place.
    pub fn encrypt(&self, buf: &mut [u8]) {
        self.apply(buf, true)
    }

    /// Decrypts a whole datagram in place.
    pub fn decrypt(&self, buf: &mut [u8]) {
        self.apply(buf, false)
    }

    fn apply(&self, buf: &mut [u8], encrypt: bool) {
        match &self.inner {
            Inner::Aes128(c) => cfb::<Aes128>(c, buf, encrypt),
            Inner::Aes192(c) => cfb::<Aes192>(c, buf, encrypt),
            Inner::Aes256(c) => cfb::<Aes256>(c, buf, encrypt),
            // XOR is its own inverse.
            Inner::Xor(t) => xor(t, buf),
            Inner::None => {}
        }
    }
}

fn cfb<C: BlockEncrypt + BlockCipher + Clone>(cipher: &C, buf: &mut [u8], encrypt: bool) {
    let iv = cfb_mode::cipher::generic_array::GenericArray::from_slice(&IV[..C::block_size()]);
    if encrypt {
        cfb_mode::Encryptor::<C>::inner_iv_init(cipher.clone(), iv).encrypt(buf);
    } else {
        cfb_mode::Decryptor::<C>::inner_iv_init(cipher.clone(), iv).decrypt(buf);
    }
}

// kcp-go XORs min(len, table) bytes; MTU validation keeps datagrams within the table.
fn xor(table: &[u8; XOR_TABLE_LEN], buf: &mut [u8]) {
    for (b, t) in buf.iter_mut().zip(table.iter()) {
        *b ^= t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_password_derives_the_key_seen_on_the_wire() {
        assert_eq!(
            hex::encode(derive_key("")),
            "b23383c32eefa3753ab6db6e639a0ddc3b50ec6b6c623c9171a15ba0879945cd"
        );
    }

    #[test]
    fn unknown_names_fall_back_to_aes256_but_known_unsupported_ones_fail() {
        assert_eq!(CryptMethod::from_name("").unwrap(), CryptMethod::Aes256);
        assert_eq!(
            CryptMethod::from_name("chacha").unwrap(),
            CryptMethod::Aes256
        );
        let e = CryptMethod::from_name("salsa20").unwrap_err();
        assert!(e.to_string().contains("salsa20"));
    }

    #[test]
    fn every_method_round_trips_odd_lengths() {
        let key = derive_key("k");
        for m in [
            CryptMethod::Aes128,
            CryptMethod::Aes192,
            CryptMethod::Aes256,
            CryptMethod::Xor,
            CryptMethod::None,
        ] {
            let c = BlockCrypt::with_key(m, &key);
            for len in [0usize, 1, 15, 16, 17, 33, 1400] {
                let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut buf = plain.clone();
                c.encrypt(&mut buf);
                if len >= 16 && m != CryptMethod::None {
                    assert_ne!(buf, plain, "{m:?} {len}");
                }
                c.decrypt(&mut buf);
                assert_eq!(buf, plain, "{m:?} {len}");
            }
        }
    }
}
