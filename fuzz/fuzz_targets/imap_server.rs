//! Fuzz target: see `mailprobe::fuzz::imap_server`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| mailprobe::fuzz::imap_server(data));
