//! Fuzz target: see `mailprobe::fuzz::probe`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailprobe::fuzz::probe(data));
