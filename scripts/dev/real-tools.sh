#!/usr/bin/env bash
# Builds the real tools the test suite runs, from the Go module proxy, at pinned
# versions, and caches them by version outside the clone:
#   - terraform-provider-hcloud, laid out as a Terraform filesystem mirror;
#   - OpenTofu (tofu), a second Terraform-compatible engine;
#   - sops, for the secrets round trip.
# Then it writes a CLI configuration under which `terraform init` and `tofu init`
# install providers from that mirror only (no registry is ever asked).
#
# Usage: scripts/dev/real-tools.sh [--print-env]
#   --print-env  print `export NAME=value` lines for the tools (eval-able).
# The cache lives in $NIXOS_FLEET_TOOLS (default ~/.cache/nixos-fleet-tools);
# a second run with the same pins takes seconds.
#
# Why not the DigitalOcean provider: its module path has no /v2 suffix, so its
# v2.x releases exist on the Go module proxy only as pseudo-versions, and the
# proxy this project's machines reach refuses those. See docs/REAL-PROVIDERS.md.
set -euo pipefail

# Pins. The provider versions are the ones cdktf writes into cdk.tf.json
# (cdktf.json's constraints resolve to these exact versions).
HCLOUD_VERSION=1.68.0
TOFU_VERSION=1.12.6
SOPS_VERSION=3.13.3

# A CI environment may come without HOME; the user's home from the passwd database then.
export HOME=${HOME:-$(getent passwd "$(id -u)" | cut -d: -f6)}
root=${NIXOS_FLEET_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/nixos-fleet-tools}
bin="$root/bin"
mirror="$root/mirror"
mkdir -p "$bin" "$mirror"
# Module and build caches live beside the binaries, so one folder holds it all.
export GOPATH="$root/gopath" GOMODCACHE="$root/gomod" GOCACHE="$root/gocache" GOFLAGS=-mod=mod CGO_ENABLED=0
export GOTOOLCHAIN=local

print_env=false
[ "${1:-}" = --print-env ] && print_env=true
log() { $print_env && echo "$*" >&2 || echo "$*"; }

# Go's default install location, for shells whose PATH does not have it.
command -v go >/dev/null || { [ -x /usr/local/go/bin/go ] && PATH="$PATH:/usr/local/go/bin"; }
command -v go >/dev/null || { echo "real-tools: go is not on PATH (this machine kind must have Go >= 1.26.4)" >&2; exit 1; }

timed() { # timed NAME TARGET-FILE BUILD-FUNCTION
  # A binary is reused while its recipe (version and build commands, kept in
  # recipes/) is unchanged; a changed recipe rebuilds it. Stamps and partial
  # builds stay out of the mirror, which takes any terraform-provider-* file
  # there for a plugin.
  local name=$1 target=$2 fn=$3 start recipe stamp partial
  recipe="$name; $(declare -f "$fn" build_from_module | tr -s ' \n' ' ')"
  stamp="$root/recipes/$(basename "$target")"
  partial="$root/building/$(basename "$target")"
  mkdir -p "$root/recipes" "$root/building"
  if [ -x "$target" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$recipe" ]; then
    log "real-tools: $name cached ($target)"; return
  fi
  log "real-tools: building $name (first build takes minutes) ..."
  start=$(date +%s)
  "$fn" "$partial" >&2
  mv "$partial" "$target"
  printf '%s' "$recipe" >"$stamp"
  log "real-tools: built $name in $(( $(date +%s) - start )) s"
}

# Every tool is built the same way: download the module at its pinned version,
# copy it somewhere writable and `go build` there. `go install module@version`
# would refuse OpenTofu (its go.mod has replace directives) and asks the proxy
# for the module's version list, which the proxy here refuses.
build_from_module() { # build_from_module MODULE@VERSION PACKAGE OUT [LDFLAGS]
  local mod=$1 pkg=$2 out=$3 ldflags=${4:-} dir work
  dir=$(go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "real-tools: go mod download $mod gave no directory" >&2; return 1; }
  work=$(mktemp -d)
  cp -r "$dir/." "$work/"
  chmod -R u+w "$work"
  (cd "$work" && go build -trimpath -ldflags "-s -w $ldflags" -o "$out" "$pkg")
  rm -rf "$work"
}

build_hcloud() {
  # The version the release build stamps in (it shows in the provider's User-Agent).
  build_from_module "github.com/hetznercloud/terraform-provider-hcloud@v$HCLOUD_VERSION" . "$1" \
    "-X github.com/hetznercloud/terraform-provider-hcloud/hcloud.Version=$HCLOUD_VERSION"
}
build_tofu() {
  build_from_module "github.com/opentofu/opentofu@v$TOFU_VERSION" ./cmd/tofu "$1" \
    "-X github.com/opentofu/opentofu/version.dev=no"
}
build_sops() {
  build_from_module "github.com/getsops/sops/v3@v$SOPS_VERSION" ./cmd/sops "$1"
}

hcloud_dir="$mirror/registry.terraform.io/hetznercloud/hcloud/$HCLOUD_VERSION/linux_amd64"
mkdir -p "$hcloud_dir"
timed "terraform-provider-hcloud $HCLOUD_VERSION" "$hcloud_dir/terraform-provider-hcloud_v$HCLOUD_VERSION" build_hcloud
# The same binary under OpenTofu's default registry host too: the JSON names
# providers by their short source (hetznercloud/hcloud), which Terraform
# resolves to its registry host and OpenTofu to its own.
tofu_dir="$mirror/registry.opentofu.org/hetznercloud/hcloud/$HCLOUD_VERSION/linux_amd64"
mkdir -p "$tofu_dir"
ln -f "$hcloud_dir/terraform-provider-hcloud_v$HCLOUD_VERSION" "$tofu_dir/"
timed "OpenTofu $TOFU_VERSION" "$bin/tofu-$TOFU_VERSION" build_tofu
timed "sops $SOPS_VERSION" "$bin/sops-$SOPS_VERSION" build_sops
ln -sf "tofu-$TOFU_VERSION" "$bin/tofu"
ln -sf "sops-$SOPS_VERSION" "$bin/sops"

# The CLI configuration: the mirror is the only installation method, so an
# init that needs anything else fails at once instead of reaching for a registry.
cli_config="$root/terraformrc"
cat > "$cli_config.partial" <<CONF
provider_installation {
  filesystem_mirror {
    path = "$mirror"
  }
}
CONF
mv "$cli_config.partial" "$cli_config"

if $print_env; then
  echo "export PATH=\"$bin:\$PATH\""
  echo "export TF_CLI_CONFIG_FILE=\"$cli_config\""
  echo "export NIXOS_FLEET_TOOLS=\"$root\""
else
  export TF_CLI_CONFIG_FILE="$cli_config"
  # The whole output is read before its first line is taken: a `| head -1`
  # that closes early would kill the tool with SIGPIPE under pipefail.
  first_line() { local out; out=$("$@" 2>/dev/null) || true; printf '%s' "${out%%$'\n'*}"; }
  echo "real-tools: $(first_line "$bin/tofu" version), $(first_line "$bin/sops" --version --disable-version-check)"
  if command -v terraform >/dev/null; then echo "real-tools: terraform found: $(first_line terraform version)"
  else echo "real-tools: terraform not on PATH; the real-provider suites run with OpenTofu only"; fi
  echo "real-tools: TF_CLI_CONFIG_FILE=$cli_config PATH=$bin:\$PATH"
fi
