//! UVANs: short numeric aliases of financial accounts whose last digit is a Damm check digit, so a
//! mistyped digit or a swap of two adjacent digits is caught before any lookup.

use rand::Rng;

/// Total digits in a UVAN (11 random + 1 check digit).
pub const UVAN_LEN: usize = 12;

// The Damm quasigroup of order 10 (weakly totally anti-symmetric).
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

fn damm_interim(digits: &[u8]) -> u8 {
    digits.iter().fold(0, |acc, d| DAMM[acc as usize][*d as usize])
}

/// A new random UVAN. The first digit is never 0 so it survives spreadsheets and numeric fields.
pub fn generate() -> String {
    let mut rng = rand::thread_rng();
    let mut digits: Vec<u8> = (0..UVAN_LEN - 1).map(|_| rng.gen_range(0..10)).collect();
    digits[0] = rng.gen_range(1..10);
    let check = damm_interim(&digits);
    digits.push(check);
    digits.into_iter().map(|d| char::from(b'0' + d)).collect()
}

/// True when `s` is a well-formed UVAN with a correct check digit.
pub fn is_valid(s: &str) -> bool {
    s.len() == UVAN_LEN
        && s.bytes().all(|b| b.is_ascii_digit())
        && damm_interim(&s.bytes().map(|b| b - b'0').collect::<Vec<_>>()) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_are_valid_and_typos_are_caught() {
        for _ in 0..200 {
            let u = generate();
            assert!(is_valid(&u), "{u}");
            let b = u.as_bytes();
            for i in 0..UVAN_LEN {
                for d in b'0'..=b'9' {
                    if d != b[i] {
                        let mut t = b.to_vec();
                        t[i] = d;
                        assert!(!is_valid(std::str::from_utf8(&t).unwrap()));
                    }
                }
                if i + 1 < UVAN_LEN && b[i] != b[i + 1] {
                    let mut t = b.to_vec();
                    t.swap(i, i + 1);
                    assert!(!is_valid(std::str::from_utf8(&t).unwrap()));
                }
            }
        }
    }
}
