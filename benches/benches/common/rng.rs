//! The benches' one random generator: xorshift64*, seeded, so every run
//! builds the same tables. Included with `#[path = "common/rng.rs"] mod rng;`.

/// xorshift64*: deterministic, no dependencies.
pub struct Rng(pub u64);

impl Rng {
    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}
