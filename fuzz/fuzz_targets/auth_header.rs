#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| synaptiq_fuzz::auth_header(data));
