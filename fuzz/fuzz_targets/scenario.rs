//! Fuzz target: see `mailprobe::fuzz::scenario`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailprobe::fuzz::scenario(data));
