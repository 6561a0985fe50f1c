//! Fuzz target: see `mailprobe::fuzz::replies`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailprobe::fuzz::replies(data));
