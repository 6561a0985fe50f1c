//! Fuzz target: see `mailprobe::fuzz::pop3_server`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailprobe::fuzz::pop3_server(data));
