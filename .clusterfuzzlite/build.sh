#!/bin/bash -eu
# ClusterFuzzLite build: every cargo-fuzz target of fuzz/, with the sanitizer
# ClusterFuzzLite asks for ($SANITIZER, through cargo fuzz build's defaults in
# the OSS-Fuzz Rust image), plus seed corpora and the dictionary.
cd "$SRC/authproof"
targets="credentials snapshot_json request_json policy_toml commands_jsonl decide differential"

cargo fuzz build -O --debug-assertions

out_dir="fuzz/target/x86_64-unknown-linux-gnu/release"
for t in $targets; do
    cp "$out_dir/$t" "$OUT/"
    cp fuzz/authproof.dict "$OUT/$t.dict"
    if [ -d "fuzz/corpus-seed/$t" ]; then
        (cd "fuzz/corpus-seed/$t" && zip -q -r "$OUT/${t}_seed_corpus.zip" .)
    fi
done
