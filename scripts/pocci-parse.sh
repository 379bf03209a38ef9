#!/bin/sh
# Checks our text/plain and text/occi renderings with pOCCI's own parser
# (pOCCI-parse): installs pOCCI into target/pocci-venv if needed, then runs
# tests/occi_pocci.rs with SNF_OCCI_REQUIRE_POCCI=1 so that it cannot skip.
set -e
cd "$(dirname "$0")/.."
# CI lays shared/ beside the clone; POCCI_TOOLS overrides.
sh "${POCCI_TOOLS:-../shared/tools/pocci}/install.sh" target/pocci-venv
SNF_OCCI_REQUIRE_POCCI=1 cargo test --test occi_pocci -- --nocapture
