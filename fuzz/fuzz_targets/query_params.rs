#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| synaptiq_fuzz::query_params(data));
