//! Fuzz target: see `mailprobe::fuzz::smtp_server`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailprobe::fuzz::smtp_server(data));
