#!/usr/bin/env bash
# Regenerates .gen/providers/hcloud with the real `cdktf get` against the real
# terraform-provider-hcloud in the filesystem mirror (scripts/dev/real-tools.sh),
# so the bindings are the provider's own schema, never a transcription.
#
# Usage: scripts/dev/gen-bindings.sh [OUT_DIR]
#   OUT_DIR  where the hcloud bindings go (default: .gen/providers/hcloud).
#            The test suite passes a temp dir and compares it with the committed
#            files byte for byte.
#
# Only hcloud is generated here: DigitalOcean comes prebuilt from
# @cdktf/provider-digitalocean, and `cdktf get` 0.21 crashes on the built-in
# terraform.io/builtin/terraform provider (its provider block has no
# attributes), so .gen/providers/terraform is checked against the real schema
# by the tests instead.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/.gen/providers/hcloud}
# Two steps: `eval "$(...)"` would hide a failure of real-tools.sh (an empty eval succeeds).
tools_env=$(bash "$repo/scripts/dev/real-tools.sh" --print-env)
eval "$tools_env"

# The hcloud entry of the project's own cdktf.json, so the constraint has one home.
spec=$(node -e '
  const c = require(process.argv[1]);
  const s = c.terraformProviders.find((p) => /^hetznercloud\/hcloud@/.test(p));
  if (!s) { console.error("cdktf.json has no hetznercloud/hcloud provider"); process.exit(1); }
  console.log(s);' "$repo/cdktf.json")

# cdktf get runs the engine TERRAFORM_BINARY_NAME names. Under OpenTofu, cdktf 0.21's get
# fails with "Could not find provider with constraint" (it looks the provider up by its
# registry.terraform.io address, and OpenTofu reports registry.opentofu.org): terraform only.
unset TERRAFORM_BINARY_NAME
command -v terraform >/dev/null || { echo "gen-bindings: needs terraform on PATH (cdktf get does not work with OpenTofu)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ln -s "$repo/node_modules" "$work/node_modules"
printf '{"name":"nixos-fleet-bindings","version":"0.0.0","private":true}\n' >"$work/package.json"
node -e '
  const base = require(process.argv[1]);
  const conf = { ...base, app: "true", terraformProviders: [process.argv[2]], terraformModules: [] };
  require("fs").writeFileSync(process.argv[3], JSON.stringify(conf, null, 2) + "\n");' \
  "$repo/cdktf.json" "$spec" "$work/cdktf.json"

# CI=true: no spinner; CHECKPOINT_DISABLE: no version check against the internet.
if ! (cd "$work" && CI=true CHECKPOINT_DISABLE=1 DISABLE_VERSION_CHECK=1 npx --no-install cdktf get >"$work/get.log" 2>&1); then
  cat "$work/get.log" >&2
  echo "gen-bindings: cdktf get failed" >&2
  exit 1
fi
[ -f "$work/.gen/providers/hcloud/index.ts" ] || { cat "$work/get.log" >&2; echo "gen-bindings: cdktf get wrote no hcloud bindings" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$(dirname "$out")"
cp -r "$work/.gen/providers/hcloud" "$out"
echo "gen-bindings: $spec -> $out ($(find "$out" -name '*.ts' | wc -l) files)"
