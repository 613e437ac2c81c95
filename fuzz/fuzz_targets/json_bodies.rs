#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| synaptiq_fuzz::json_bodies(data));
